//! The nf_tables rendering of a walk against what `xtables-monitor --trace` really printed
//! (`tests/data/nft-trace/expected`, recorded by `record.sh` beside it): the same TRACE lines, handles and
//! verdicts. Packet ids are random in the kernel, so they are not compared, nor the `PACKET:` lines' header
//! fields chainwalk does not model (LEN, TOS, TTL, ID).

use chainwalk_core::walk::{Simulation, WalkOptions};

fn trace_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.trim_start().starts_with("TRACE:"))
        .map(|l| {
            // ` TRACE: 2 <id> rest` without the id.
            let mut words = l.trim_start().splitn(4, ' ');
            let (_, fam, _, rest) = (words.next(), words.next(), words.next(), words.next());
            format!("TRACE: {} {}", fam.unwrap_or(""), rest.unwrap_or("").trim_end())
        })
        .collect()
}

#[test]
fn nft_lines_match_xtables_monitor() {
    let dir = format!("{}/tests/data/nft-trace", env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).expect("fixture");
    let parsed = chainwalk_core::parse(&read("rules"), None);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let packet = chainwalk_core::packet::parse(read("packet").trim()).expect("packet");
    let trace = Simulation::new(&parsed.ruleset).walk(None, &packet, &WalkOptions::default());
    let ours = chainwalk_core::render::log::nft(&trace, parsed.ruleset.family);
    assert_eq!(trace_lines(&ours), trace_lines(&read("expected")), "ours:\n{ours}");
    assert_eq!(
        ours.lines().filter(|l| l.starts_with("PACKET:")).count(),
        read("expected").lines().filter(|l| l.starts_with("PACKET:")).count()
    );
}
