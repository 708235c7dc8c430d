//! How long walking one packet takes on kube-proxy-style dumps of growing size, and how long building the
//! simulation's indexes takes (which must grow linearly).
//!
//! `cargo run --release -p chainwalk-bench --bin walk-bench -- [--sizes 10000,100000,300000] [--runs 21]`
//!
//! The packet goes to the last ClusterIP service of KUBE-SERVICES, the longest walk such a dump has: every
//! service rule before it is met and does not match. Times are medians.

use chainwalk_bench::gen::{generate, Kind};
use chainwalk_core::walk::{Simulation, WalkOptions};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut sizes = vec![10_000, 100_000, 300_000];
    let mut runs = 21;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sizes" => {
                sizes = args.next().unwrap_or_default().split(',').filter_map(|s| s.trim().parse().ok()).collect();
            }
            "--runs" => runs = args.next().and_then(|s| s.parse().ok()).unwrap_or(runs),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    println!("| rules | index build ms | index ns/rule | steps | walk ms (every rule explained) | walk ms (explain_unmatched off) | TRACE lines |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let dump = generate(Kind::Kube, n);
        let parsed = chainwalk_core::parse(&dump, None);
        assert!(!parsed.has_errors(), "the generated dump must read without errors");
        let builds: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let sim = Simulation::new(&parsed.ruleset);
                let e = t.elapsed();
                drop(sim);
                e
            })
            .collect();
        let build = median(builds);
        let sim = Simulation::new(&parsed.ruleset);
        let last = dump
            .lines()
            .rfind(|l| l.starts_with("-A KUBE-SERVICES") && l.contains("cluster IP") && l.contains(" -d "))
            .expect("a ClusterIP service");
        let field = |after: &str| last.split(after).nth(1).and_then(|r| r.split([' ', '/']).next()).unwrap_or("");
        let proto = field(" -p ");
        let spec = format!("{proto} 10.244.1.5:40000 -> {}:{} in cni0 syn", field(" -d "), field("--dport "));
        let packet = chainwalk_core::packet::parse(&spec).expect("a packet");
        let mut row = Vec::new();
        let mut steps = 0;
        let mut lines = 0;
        for explain in [true, false] {
            let opts = WalkOptions { explain_unmatched: explain, ..WalkOptions::default() };
            let times: Vec<Duration> = (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    let trace = sim.walk(None, &packet, &opts);
                    let e = t.elapsed();
                    steps = trace.steps.len();
                    lines = trace.log.len();
                    e
                })
                .collect();
            row.push(median(times));
        }
        println!(
            "| {} | {:.2} | {:.0} | {} | {:.3} | {:.3} | {} |",
            parsed.ruleset.rule_count(),
            build.as_secs_f64() * 1e3,
            build.as_nanos() as f64 / parsed.ruleset.rule_count() as f64,
            steps,
            row[0].as_secs_f64() * 1e3,
            row[1].as_secs_f64() * 1e3,
            lines
        );
    }
}
