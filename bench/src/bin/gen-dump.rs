//! `gen-dump KIND RULES [SEED]`: writes a generated `iptables-save` dump of `KIND` (`kube` or `docker`) with
//! `RULES` rules to standard output, for tests that need big realistic input.

use chainwalk_bench::gen::{self, Kind};
use std::io::Write;

const USAGE: &str = "usage: gen-dump kube|docker RULES [SEED]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().and_then(|k| Kind::from_name(k));
    let rules = args.get(1).and_then(|n| n.replace('_', "").parse::<usize>().ok());
    let seed = match args.get(2) {
        None => Some(gen::DEFAULT_SEED),
        Some(s) => s.parse::<u64>().ok(),
    };
    let (Some(kind), Some(rules), Some(seed), true) = (kind, rules, seed, args.len() <= 3) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let dump = gen::generate_seeded(kind, rules, seed);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(dump.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("gen-dump: {e}");
        std::process::exit(1);
    }
}
