//! Matches and targets against the kernel on made-up rules: for each seed, a packet (IPv6 for one seed in
//! three; SCTP, UDP-Lite, DCCP, ESP or GRE for one in seven, or every one with
//! `CHAINWALK_MATCH_DIFF_OTHER=1`) of a random kind, direction and header, and a dump whose chains on its path hold random rules
//! of many match modules and targets (marks, connection marks, header rewrites, NAT, NOTRACK)
//! (`match_diff/gen.rs`) are recorded from the kernel with the recorder `tests/record.rs` uses and walked
//! by chainwalk as `tests/cases.rs` walks a case. Since most rules only log (`NFLOG`) and go on, the
//! kernel's TRACE lines say which of them matched: every condition chainwalk evaluates differently shows.
//! A case that agrees on the legacy backend is recorded again on nf_tables (`xtables-monitor --trace`).
//!
//! The host is one of four fixed ones (with a routing policy for one seed in four), or for one seed in
//! eight (every one with `CHAINWALK_MATCH_DIFF_HOSTS=1`) one with random routes, rules and reverse-path
//! filters around the same addresses (`gen::random_host`). With `CHAINWALK_MATCH_DIFF_SOURCES=1`, two
//! packets in three that come in have a source routing checks twice (an address of the host, a loopback,
//! v4-mapped, anycast or multicast one: `Pkt::spoof_source`), and the host `accept_local`,
//! `route_localnet` and `nf_conntrack_tcp_loose` settings drawn for it (`gen::source_sysctls`).
//!
//! On demand, as root: `CHAINWALK_MATCH_DIFF=1 cargo test --release --test match_diff -- --nocapture`, with
//! `CHAINWALK_MATCH_DIFF_SEED=N` (default 1, the first case's seed) and `CHAINWALK_MATCH_DIFF_COUNT=N`
//! (default 40 cases); in CI (`CI=true`) 60 cases always run. Each case's files are written to `$TMPDIR/chainwalk-match-diff/N/`, the summary
//! to `$TMPDIR/chainwalk-match-diff/report`; a difference is reported only when three more recordings agree
//! with the first. A dump both iptables and chainwalk refuse is counted; one only one of them refuses is
//! a difference. The test fails when there is a difference.

mod support;

#[path = "match_diff/gen.rs"]
mod gen;
#[path = "walk_diff/legacy.rs"]
mod legacy;
#[path = "walk_diff/simulate.rs"]
mod simulate;
#[allow(dead_code)] // only its random numbers
#[path = "walk_diff/synth.rs"]
mod synth;

use legacy::Legacy;
use std::path::Path;
use support::recorder::{self, Case};
use synth::Rng;

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// Whether the real `iptables-legacy-restore --test` accepts the dump, in a throwaway namespace that has
/// the host's ipsets.
fn iptables_accepts(rules: &str, host: &str, v6: bool) -> Result<(), String> {
    let ns = support::Netns::new("cwmatch");
    let sets: String = recorder::ipset_restore_lines(host).into_iter().map(|l| l + "\n").collect();
    let out = ns.run("ipset", &["restore", "-exist"], sets.as_bytes());
    if !out.status.success() {
        return Err(format!("ipset restore: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let tool = if v6 { "ip6tables-legacy-restore" } else { "iptables-legacy-restore" };
    let out = ns.run(tool, &["--test"], rules.as_bytes());
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

enum Outcome {
    Agrees,
    /// Agrees on the legacy backend; on nf_tables the tools cannot show the walk (why).
    AgreesOnLegacy(String),
    BothRefuse,
    Differs(String),
    Unstable,
    NotRecorded(String),
}

fn compare(case: &Case, dir: &Path) -> Outcome {
    case.write_to(dir);
    let parsed = chainwalk_core::parse(&case.rules, None);
    // (The host's ipset lines are restored with the dump: an element ipset refuses fails the load.)
    let host_refused = chainwalk_core::host::parse(&case.host)
        .err()
        .and_then(|e| e.into_iter().next())
        .map(|e| format!("host line {}: {}", e.span.line, e.message));
    let ours_refuses = parsed.errors().next().map(|e| format!("line {}: {}", e.span.line, e.message)).or(host_refused);
    let v6 = parsed.ruleset.family == chainwalk_core::Family::Ipv6;
    match (ours_refuses, iptables_accepts(&case.rules, &case.host, v6)) {
        (None, Ok(())) => {}
        (Some(_), Err(_)) => return Outcome::BothRefuse,
        (Some(ours), Ok(())) => return Outcome::Differs(format!("chainwalk refuses ({ours}), iptables accepts")),
        (None, Err(theirs)) => return Outcome::Differs(format!("iptables refuses ({theirs}), chainwalk accepts")),
    }
    match legacy::compare(case, dir) {
        Legacy::Agrees => compare_nft(case, dir),
        Legacy::Differs { kernel, chainwalk } => Outcome::Differs(simulate::side_by_side(&kernel, &chainwalk)),
        Legacy::Unstable => Outcome::Unstable,
        Legacy::NotRecorded(e) => Outcome::NotRecorded(e),
        Legacy::NotWalked(e) => Outcome::Differs(format!("chainwalk cannot walk it: {e}")),
    }
}

/// The same case loaded with iptables-nft-restore, as `xtables-monitor --trace` shows it.
fn compare_nft(case: &Case, dir: &Path) -> Outcome {
    let kernel = match recorder::nft::record(case) {
        Ok(recorder::nft::Outcome::Recorded(t)) => t,
        Ok(recorder::nft::Outcome::Impossible(why)) => return Outcome::AgreesOnLegacy(why),
        Err(e) => return Outcome::NotRecorded(format!("nf_tables: {e}")),
    };
    let _ = std::fs::write(dir.join("expected-nft"), &kernel);
    let ours = match simulate::walk_nft(&case.rules, &case.host, &case.packet) {
        Ok(lines) => lines,
        Err(e) => return Outcome::Differs(format!("chainwalk cannot walk it on nf_tables: {e}")),
    };
    let _ = std::fs::write(dir.join("chainwalk-nft"), ours.join("\n") + "\n");
    let kernel: Vec<String> =
        kernel.lines().filter(|l| !l.starts_with('#')).map(|l| l.trim_end().to_string()).collect();
    if kernel == ours {
        Outcome::Agrees
    } else {
        Outcome::Differs(format!("on nf_tables:\n{}", simulate::side_by_side(&kernel, &ours)))
    }
}

#[test]
fn random_rules_match_as_in_the_kernel() {
    // In CI (as root) a short run of the first seeds always runs, so that what they once found stays fixed.
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if std::env::var("CHAINWALK_MATCH_DIFF").as_deref() != Ok("1") && !ci {
        eprintln!("\n*** SKIPPED: set CHAINWALK_MATCH_DIFF=1 (as root) to compare random rules with the kernel ***\n");
        return;
    }
    if let Some(why) = support::kernel_unavailable().or_else(recorder::unavailable) {
        eprintln!("\n*** SKIPPED: the kernel recorder cannot run: {why} ***\n");
        return;
    }
    if let Ok(dir) = std::env::var("CHAINWALK_MATCH_DIFF_CASE") {
        // One folder (rules, host, packet), to narrow a difference down by hand.
        let dir = Path::new(&dir);
        let case = Case::load(dir).unwrap_or_else(|e| panic!("{e}"));
        match compare(&case, dir) {
            Outcome::Differs(d) => panic!("{}: differs\n{d}", dir.display()),
            Outcome::NotRecorded(e) => panic!("{}: not recorded: {e}", dir.display()),
            Outcome::Unstable => panic!("{}: two recordings differ", dir.display()),
            Outcome::BothRefuse => eprintln!("{}: iptables and chainwalk refuse it", dir.display()),
            Outcome::Agrees => eprintln!("{}: chainwalk agrees with the kernel", dir.display()),
            Outcome::AgreesOnLegacy(why) => {
                eprintln!("{}: chainwalk agrees with the kernel on legacy; nf_tables: {why}", dir.display())
            }
        }
        return;
    }
    let other_only = std::env::var("CHAINWALK_MATCH_DIFF_OTHER").is_ok_and(|v| v == "1");
    let random_hosts = std::env::var("CHAINWALK_MATCH_DIFF_HOSTS").is_ok_and(|v| v == "1");
    let sources = std::env::var("CHAINWALK_MATCH_DIFF_SOURCES").is_ok_and(|v| v == "1");
    let first = env_number("CHAINWALK_MATCH_DIFF_SEED", 1);
    let count = env_number("CHAINWALK_MATCH_DIFF_COUNT", if ci { 60 } else { 40 });
    let out = std::env::temp_dir().join("chainwalk-match-diff");
    let _ = std::fs::remove_dir_all(&out);
    let started = std::time::Instant::now();
    let (mut agreed, mut refused, mut legacy_only) = (0, 0, 0);
    let mut unstable = Vec::new();
    let mut differences = Vec::new();
    let mut not_recorded = Vec::new();
    for seed in first..first + count {
        let mut rng = Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        // One case in three is IPv6; one in seven of another protocol than TCP, UDP and ICMP (every one
        // with CHAINWALK_MATCH_DIFF_OTHER=1).
        let mut pkt = gen::Pkt::make(&mut rng, seed % 3 == 0, seed % 7 == 3 || other_only);
        if sources {
            pkt.spoof_source(&mut rng);
        }
        let packet = pkt.text(&mut rng);
        let rules = gen::dump(&pkt, &mut rng);
        let dir = out.join(seed.to_string());
        let _ = std::fs::create_dir_all(&dir);
        let host = gen::host(&pkt, seed, random_hosts, &mut rng);
        let host = if sources { format!("{host}{}", gen::source_sysctls(&pkt, &mut rng)) } else { host };
        let host = format!("{host}# ipset save\n{}", gen::sets(&pkt, &mut rng));
        let case = Case { rules, host, packet: packet.clone(), assume: String::new() };
        match compare(&case, &dir) {
            Outcome::Agrees => agreed += 1,
            Outcome::AgreesOnLegacy(_) => legacy_only += 1,
            Outcome::BothRefuse => refused += 1,
            Outcome::Unstable => unstable.push(seed.to_string()),
            Outcome::NotRecorded(e) => not_recorded.push(format!("{seed}: {}", e.lines().next().unwrap_or(""))),
            Outcome::Differs(d) => {
                let d = format!("seed {seed} ({}): {packet}\n{d}", dir.display());
                eprintln!("DIFFERENCE {d}");
                differences.push(d);
            }
        }
    }
    let mut report = format!(
        "match_diff seeds {first}..{}: {agreed} agree, {legacy_only} agree on legacy (not recordable on nf_tables), \
         {} differ, {refused} refused by both, {} unstable, {} not recorded ({:.0?})\n",
        first + count,
        differences.len(),
        unstable.len(),
        not_recorded.len(),
        started.elapsed()
    );
    if !unstable.is_empty() {
        report += &format!("unstable (two recordings differ): {}\n", unstable.join(", "));
    }
    for n in &not_recorded {
        report += &format!("not recorded: {n}\n");
    }
    for d in &differences {
        report += &format!("\n{d}");
    }
    let _ = std::fs::write(out.join("report"), &report);
    eprintln!("\n{report}");
    assert!(differences.is_empty(), "{} cases differ from the kernel (see above)", differences.len());
}
