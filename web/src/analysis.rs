//! The work the worker does: read the host and the packet, walk the packet through the dump the core read,
//! and shape the result into an [`Outcome`]. Pure and synchronous, so it is tested on the host and can run
//! on the page's own thread when no worker can be started.

use crate::clock::now;
use crate::protocol::{DumpReading, Entry, HostReading, LogEntry, Outcome, Run, Walk, MAX_FINDINGS};
use chainwalk_core::host::Host;
use chainwalk_core::render::log;
use chainwalk_core::trace::{StepKind, Trace};
use chainwalk_core::walk::{Backend, Index, Simulation, WalkOptions};
use chainwalk_core::{Diagnostic, Family, Parsed, Span};
use std::collections::HashSet;

/// Dumps with at most this many rules have every rule that did not match explained; bigger ones explain
/// only the rules whose addresses, interfaces and protocol fit the packet, unless the user opens a run.
pub const EXPLAIN_ALL_UP_TO: usize = 5_000;

/// Runs of at least this many rules that did not match are folded into one line.
pub const FOLD_FROM: usize = 25;

/// How many steps of a run the user opened are shown at once; the rest stays folded (and can be opened
/// in turn).
pub const OPEN_AT_ONCE: usize = 1_000;

/// The inputs besides the dump.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The host text; blank when none is given.
    pub host: &'a str,
    /// The packet line.
    pub packet: &'a str,
    /// Assumptions the user flipped, by rule key.
    pub overrides: &'a [(String, bool)],
    /// Runs the user opened, by first step.
    pub expand: &'a [usize],
}

/// Reads the host and the packet and walks the packet through `parsed`, when all three can be read.
#[cfg(test)]
pub fn run(parsed: &Parsed, inputs: Inputs<'_>) -> Outcome {
    run_indexed(parsed, &mut None, inputs)
}

/// [`run`] with the index of `parsed`'s rules kept in `index` between calls: made there by the first walk
/// (and counted in its [`Timing`](crate::protocol::Timing)), used as it is by the next ones. `index` must be
/// emptied when `parsed` changes.
pub fn run_indexed(parsed: &Parsed, index: &mut Option<Index>, inputs: Inputs<'_>) -> Outcome {
    let dump = dump_reading(parsed);
    let (host, host_reading) = read_host(inputs.host);
    let packet = chainwalk_core::packet::parse(inputs.packet).and_then(|p| {
        if dump.tables > 0 && p.family() != dump.family {
            let (dump_is, packet_is) = match dump.family {
                Family::Ipv4 => ("IPv4 (iptables-save)", "IPv6"),
                Family::Ipv6 => ("IPv6 (ip6tables-save)", "IPv4"),
            };
            let whole = Span { start: 0, end: inputs.packet.len() as u32, line: 1, col: 1 };
            return Err(Diagnostic::error(whole, format!("the dump is {dump_is} but this packet is {packet_is}")));
        }
        Ok(p)
    });
    let mut outcome = Outcome { dump, host: host_reading, ..Outcome::default() };
    let packet = match packet {
        Ok(p) => p,
        Err(e) => {
            outcome.packet_error = Some(e);
            return outcome;
        }
    };
    outcome.host.forwarding = match (&host, packet.family()) {
        (Some(h), Family::Ipv4) => h.ip_forward,
        (Some(h), Family::Ipv6) => h.ipv6_forward,
        (None, _) => false,
    };
    if outcome.dump.errors > 0 || !outcome.host.errors.is_empty() {
        return outcome;
    }
    let opts = WalkOptions {
        trace_from_dump: false,
        overrides: inputs.overrides.iter().cloned().collect(),
        explain_unmatched: outcome.dump.rules <= EXPLAIN_ALL_UP_TO || !inputs.expand.is_empty(),
        // The packet arrives now, as the kernel's clock would have it when it is sent.
        now: crate::clock::seconds_since_1970(),
        backend: Backend::Legacy,
    };
    let start = now();
    let index = &*index.get_or_insert_with(|| Index::new(&parsed.ruleset));
    let simulation = Simulation::with_index(&parsed.ruleset, index);
    let indexed = now();
    let trace = simulation.walk(host.as_ref(), &packet, &opts);
    // The nf_tables log needs a walk of its own only where the backends differ (table order, TEE copies).
    let nft_trace = simulation
        .backend_matters()
        .then(|| simulation.walk(host.as_ref(), &packet, &WalkOptions { backend: Backend::Nft, ..opts.clone() }));
    let walked = now();
    let mut walk = shape(trace, nft_trace, packet.family(), inputs.expand, opts.explain_unmatched);
    walk.in_iface = packet.in_iface.clone();
    outcome.walk = Some(walk);
    outcome.timing.index_ms = indexed - start;
    outcome.timing.walk_ms = walked - indexed;
    outcome.timing.shape_ms = now() - walked;
    outcome
}

fn dump_reading(parsed: &Parsed) -> DumpReading {
    let rs = &parsed.ruleset;
    DumpReading {
        family: rs.family,
        tables: rs.tables.len(),
        chains: rs.chain_count(),
        rules: rs.rule_count(),
        errors: parsed.errors().count(),
        warnings: parsed.warnings().count(),
        diagnostics: parsed.diagnostics.iter().take(MAX_FINDINGS).cloned().collect(),
    }
}

/// The host, if one is given and reads, and what to say about it.
fn read_host(text: &str) -> (Option<Host>, HostReading) {
    let given = text.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#')
    });
    if !given {
        return (None, HostReading::default());
    }
    match chainwalk_core::host::parse(text) {
        Ok(host) => {
            let interfaces = host
                .interfaces
                .iter()
                .filter(|i| i.name != "lo")
                .map(|i| {
                    let addrs: Vec<String> = i.addrs.iter().map(|a| format!("{}/{}", a.addr, a.prefix)).collect();
                    format!("{} {}", i.name, addrs.join(" ")).trim_end().to_string()
                })
                .collect();
            let reading = HostReading {
                given: true,
                errors: Vec::new(),
                interfaces,
                routes: host.routes.iter().filter(|r| r.span.is_some()).count(),
                forwarding: false,
            };
            (Some(host), reading)
        }
        Err(mut errors) => {
            errors.truncate(MAX_FINDINGS);
            (None, HostReading { given: true, errors, ..HostReading::default() })
        }
    }
}

/// The trace as the page shows it: runs folded, the log in both styles.
fn shape(trace: Trace, nft_trace: Option<Trace>, family: Family, expand: &[usize], explained: bool) -> Walk {
    let legacy = log::legacy(&trace);
    let log = trace
        .log
        .iter()
        .zip(legacy.lines())
        .map(|(l, text)| LogEntry { step: l.step, text: text.to_string(), copy: l.copy > 0 })
        .collect();
    // A line of the nf_tables walk points at the step of the same table, chain and rule in the walk the
    // page shows (the two walks differ only in the order of tables at INPUT).
    let nft_source = nft_trace.as_ref().unwrap_or(&trace);
    let step_of = |i: usize| {
        let Some(l) = nft_source.log.get(i) else { return 0 };
        let same = |t: &&chainwalk_core::trace::LogLine| {
            (t.table, &t.chain, t.number, t.kind, t.copy) == (l.table, &l.chain, l.number, l.kind, l.copy)
        };
        match &nft_trace {
            Some(_) => trace.log.iter().find(same).map_or(l.step, |t| t.step),
            None => l.step,
        }
    };
    let nft: Vec<LogEntry> = log::nft_trace(nft_source, family)
        .into_iter()
        .map(|l| LogEntry {
            step: step_of(l.log),
            text: l.text,
            copy: nft_source.log.get(l.log).is_some_and(|t| t.copy > 0),
        })
        .collect();
    // xtables-monitor shows the marking rule itself (with the `PACKET:` line before it); the legacy target
    // starts with the line after it.
    let marked = trace.marked_by_dump.map(|m| {
        let rule = m.checked_sub(1).and_then(|r| trace.log.get(r)).map_or(0, |l| l.step);
        (m, nft.iter().position(|e| e.step >= rule).unwrap_or(nft.len()))
    });
    // Steps the page points at on their own are never folded away.
    let mut pinned: HashSet<usize> = trace.assumptions.iter().filter_map(|a| a.step).collect();
    pinned.extend(trace.insights.iter().map(|i| i.step));
    pinned.extend(trace.changes.iter().filter_map(|c| c.step));
    pinned.extend(trace.deciding);
    let steps = trace.steps.len();
    Walk {
        entries: fold(trace.steps, &pinned, expand),
        stages: trace.stages,
        steps,
        deciding: trace.deciding,
        fate: trace.fate,
        changes: trace.changes,
        assumptions: trace.assumptions,
        insights: trace.insights,
        log,
        nft,
        marked,
        in_iface: None,
        explained,
    }
}

/// The steps with every run of at least [`FOLD_FROM`] rules of one chain that did not match folded into a
/// [`Run`]; a run whose first step is in `expand` shows its first [`OPEN_AT_ONCE`] steps and folds the rest.
fn fold(steps: Vec<chainwalk_core::trace::Step>, pinned: &HashSet<usize>, expand: &[usize]) -> Vec<Entry> {
    let foldable =
        |i: usize, s: &chainwalk_core::trace::Step| s.kind == StepKind::Rule && !s.matched && !pinned.contains(&i);
    let mut entries = Vec::new();
    let mut steps = steps.into_iter().enumerate().peekable();
    while let Some((index, step)) = steps.next() {
        if !foldable(index, &step) {
            entries.push(Entry::Step { index, step });
            continue;
        }
        // Gather the run that starts here: same stage, chain and depth, consecutive.
        let mut run = vec![(index, step)];
        while let Some((i, s)) = steps.peek() {
            let first = &run[0].1;
            let same =
                s.stage == first.stage && s.depth == first.depth && s.chain == first.chain && s.table == first.table;
            if !same || !foldable(*i, s) {
                break;
            }
            run.push(steps.next().expect("peeked"));
        }
        push_run(&mut entries, run, expand);
    }
    entries
}

fn push_run(entries: &mut Vec<Entry>, mut run: Vec<(usize, chainwalk_core::trace::Step)>, expand: &[usize]) {
    while !run.is_empty() {
        if run.len() < FOLD_FROM {
            entries.extend(run.drain(..).map(|(index, step)| Entry::Step { index, step }));
            return;
        }
        if expand.contains(&run[0].0) {
            let shown = run.len().min(OPEN_AT_ONCE);
            entries.extend(run.drain(..shown).map(|(index, step)| Entry::Step { index, step }));
            continue;
        }
        let (first, last) = (&run[0], &run[run.len() - 1]);
        let line = |s: &chainwalk_core::trace::Step| s.span.map_or(0, |s| s.line);
        entries.push(Entry::Run(Run {
            first: first.0,
            last: last.0,
            stage: first.1.stage,
            table: first.1.table,
            chain: first.1.chain.clone(),
            depth: first.1.depth,
            numbers: (first.1.number, last.1.number),
            lines: (line(&first.1), line(&last.1)),
            span: first.1.span,
        }));
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainwalk_core::trace::FateVerdict;

    const DOCKER: &str = include_str!("../../static/examples/docker-7788.rules");
    const HOST: &str = include_str!("../../static/examples/docker-7788.host");
    const PACKET: &str = include_str!("../../static/examples/docker-7788.packet");

    fn walk(rules: &str, host: &str, packet: &str) -> Outcome {
        let parsed = chainwalk_core::parse(rules, None);
        run(&parsed, Inputs { host, packet, overrides: &[], expand: &[] })
    }

    /// An outcome without its timing, which differs from run to run.
    fn untimed(mut outcome: Outcome) -> Outcome {
        outcome.timing = Default::default();
        outcome
    }

    #[test]
    fn an_index_kept_between_walks_gives_the_walks_a_fresh_one_gives() {
        let parsed = chainwalk_core::parse(DOCKER, None);
        let mut index = None;
        let packets = [
            PACKET.trim(),
            "tcp 203.0.113.7:40000 -> 198.51.100.2:22 in ppp0 syn",
            "udp 172.17.0.2:53 -> 8.8.8.8:53 in docker0",
        ];
        for packet in packets {
            let inputs = Inputs { host: HOST, packet, overrides: &[], expand: &[] };
            let kept = untimed(run_indexed(&parsed, &mut index, inputs));
            assert!(index.is_some(), "the first walk leaves its index");
            assert_eq!(kept, untimed(run(&parsed, inputs)), "{packet}");
        }
        // A walk that cannot happen (the packet does not read) makes no index.
        let mut none = None;
        let inputs = Inputs { host: HOST, packet: "tcp nowhere", overrides: &[], expand: &[] };
        assert!(run_indexed(&parsed, &mut none, inputs).walk.is_none());
        assert!(none.is_none());
    }

    #[test]
    fn the_docker_story_is_delivered_locally_because_of_nat_prerouting_rule_1() {
        let outcome = walk(DOCKER, HOST, PACKET);
        assert_eq!((outcome.dump.tables, outcome.dump.errors), (4, 0));
        let walk = outcome.walk.expect("a walk");
        assert_eq!(walk.fate.verdict, FateVerdict::Accept);
        assert!(walk.fate.summary.starts_with("Delivered locally through INPUT"), "{}", walk.fate.summary);
        let deciding = walk.deciding.expect("a deciding step");
        let step = walk
            .entries
            .iter()
            .find_map(|e| match e {
                Entry::Step { index, step } if *index == deciding => Some(step),
                _ => None,
            })
            .expect("the deciding step is shown");
        assert_eq!((step.table.as_str(), &*step.chain, step.number), ("nat", "PREROUTING", 1));
        assert_eq!(step.span.map(|s| s.line), Some(17));
        assert!(walk.insights.iter().any(|i| i.step == deciding && i.text.contains("DNAT to 172.17.0.2:7788")));
        assert_eq!(
            walk.log[0].text,
            "TRACE: raw:PREROUTING:rule:1 IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x00 PREC=0x00 TTL=41 DF \
             PROTO=TCP SPT=19327 DPT=7788 SYN"
        );
        assert_eq!(walk.log.len(), 7);
        // The nf_tables trace: each TRACE line with its step, the PACKET line before it with the same step.
        let nft: Vec<(usize, bool)> =
            walk.nft.iter().map(|l| (l.step, l.text.trim_start().starts_with("TRACE:"))).collect();
        let traces: Vec<usize> = nft.iter().filter(|(_, t)| *t).map(|(s, _)| *s).collect();
        assert_eq!(traces, walk.log.iter().map(|l| l.step).collect::<Vec<_>>());
        assert!(nft.windows(2).all(|w| w[0].0 <= w[1].0), "{nft:?}");
        // The dump's raw PREROUTING rule 1 marks the packet: the kernel's legacy log starts after it, the
        // nf_tables trace with it (and the PACKET line before it).
        let (m, n) = walk.marked.expect("the dump's TRACE rule marks the packet");
        assert!(walk.log[m].text.starts_with("TRACE: raw:PREROUTING:policy:2 "), "{}", walk.log[m].text);
        assert!(walk.nft[n].text.starts_with("PACKET:"), "{}", walk.nft[n].text);
        assert!(walk.nft[n + 1].text.contains("raw:PREROUTING:rule:"), "{}", walk.nft[n + 1].text);
    }

    #[test]
    fn without_a_host_the_walk_says_it_assumed_one() {
        let outcome = walk(DOCKER, "# no host\n\n", PACKET);
        assert!(!outcome.host.given);
        let walk = outcome.walk.expect("a walk");
        assert!(walk.assumptions.iter().any(|a| a.text.starts_with("No host was given")), "{:?}", walk.assumptions);
    }

    #[test]
    fn errors_in_any_input_stop_the_walk_and_say_where() {
        let outcome =
            walk("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n", "", PACKET);
        assert_eq!(outcome.dump.errors, 1);
        assert_eq!(outcome.dump.diagnostics[0].span.line, 3);
        assert!(outcome.walk.is_none());

        let outcome = walk(DOCKER, HOST, "tcp 203.0.113.7:1 -> nowhere:2");
        assert_eq!(outcome.packet_error.map(|e| e.span.col), Some(22));

        let outcome = walk(DOCKER, "ppp0 UP 198.51.100.2/99\n", PACKET);
        assert!(!outcome.host.errors.is_empty());
        assert!(outcome.walk.is_none());
    }

    #[test]
    fn a_packet_of_the_other_family_is_refused() {
        let outcome = walk(DOCKER, "", "tcp [2001:db8::1]:1 -> [2001:db8::2]:2 in eth0 syn");
        let error = outcome.packet_error.expect("an error");
        assert_eq!(error.message, "the dump is IPv4 (iptables-save) but this packet is IPv6");
    }

    /// A filter INPUT chain of `n` rules for other ports, then an ACCEPT for port 22.
    fn long_chain(n: usize) -> String {
        let mut dump = String::from("*filter\n:INPUT DROP [0:0]\n");
        for i in 0..n {
            dump.push_str(&format!("-A INPUT -p tcp -m tcp --dport {} -j ACCEPT\n", 1000 + i));
        }
        dump.push_str("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n");
        dump
    }

    #[test]
    fn long_runs_of_rules_that_did_not_match_are_folded() {
        let dump = long_chain(1500);
        let packet = "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn";
        let walk = walk(&dump, "", packet).walk.expect("a walk");
        let [Entry::Run(folded), Entry::Step { index: 1500, step }] = &walk.entries[..] else {
            panic!("{:#?}", walk.entries);
        };
        assert_eq!((folded.first, folded.last, folded.len()), (0, 1499, 1500));
        assert_eq!((folded.numbers, folded.lines), ((1, 1500), (3, 1502)));
        assert_eq!((step.number, step.matched), (1501, true));
        assert_eq!(walk.steps, 1501);

        // Opening the run shows its first OPEN_AT_ONCE rules and folds the rest.
        let parsed = chainwalk_core::parse(&dump, None);
        let inputs = Inputs { host: "", packet, overrides: &[], expand: &[0] };
        let walk = run(&parsed, inputs).walk.expect("a walk");
        assert_eq!(walk.entries.len(), OPEN_AT_ONCE + 2);
        let Entry::Run(rest) = &walk.entries[OPEN_AT_ONCE] else { panic!("the rest stays folded") };
        assert_eq!((rest.first, rest.last), (OPEN_AT_ONCE, 1499));
    }

    #[test]
    fn short_runs_stay_open() {
        let walk = walk(&long_chain(FOLD_FROM - 1), "", "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn");
        let walk = walk.walk.expect("a walk");
        assert_eq!(walk.entries.len(), FOLD_FROM);
        assert!(walk.entries.iter().all(|e| matches!(e, Entry::Step { .. })));
    }

    #[test]
    fn big_dumps_explain_only_the_rules_that_fit_the_packet() {
        let dump = long_chain(EXPLAIN_ALL_UP_TO + 1);
        let walk = walk(&dump, "", "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn").walk.expect("a walk");
        assert!(!walk.explained);
        assert_eq!(walk.entries.len(), 2);
    }
}
