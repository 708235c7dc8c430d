//! What the real `iptables-restore` refuses, against chainwalk, on rules of the real corpus changed at
//! random: a word left out, given twice, moved, negated, or its value replaced by an odd one (a port past
//! 65535, a mask of 33 bits, a range backwards, an empty word) or spelt another way (a number in hex, a
//! port by name, a mask dotted, a list reversed), an option of another module put in, or another module or
//! target named; or one of the table's own lines changed (an odd policy, counters or
//! chain name, a line doubled or left out, `COMMIT` misspelt or missing).
//! Each changed rule goes alone, with its table's chain lines, to `iptables-legacy-restore` (`ip6tables-`
//! for IPv6 dumps) in a throwaway network namespace, first with `--test`, then loaded for real for the
//! kernel's own checks, and to chainwalk's reader; every rule one accepts and the other refuses is
//! reported, and so is every rule both accept that chainwalk prints back otherwise than `iptables-save`
//! prints it after the real load (a value read otherwise: a number's base, a default, a mask). A refusal that is not the dump's fault (an extension or ipset this machine lacks, a user-space
//! conntrack helper, timeout policy or accounting object not made, which chainwalk warns about) and
//! chainwalk's deliberate difference (the old `-s ! x` negation, accepted with a warning) are left out.
//!
//! On demand, as root: `CHAINWALK_ACCEPT_DIFF=1 cargo test --test accept_diff -- --nocapture`, with
//! `CHAINWALK_ACCEPT_DIFF_SEED=N` (default 1) and `CHAINWALK_ACCEPT_DIFF_COUNT=N` changed rules (default
//! 300); in CI (`CI=true`) 300 always run. The dumps are third-party data: they are read where they are.

mod support;

#[path = "walk_diff/synth.rs"]
#[allow(dead_code)] // only its random numbers
mod synth;

use chainwalk_core::parse::{detect_family, token};
use chainwalk_core::render::save;
use chainwalk_core::Family;
use synth::Rng;

/// A rule line of a real dump, with what it needs around it to be restored alone.
struct Source {
    family: Family,
    /// `*table` and the table's chain lines.
    head: String,
    rule: String,
}

/// The rule lines of the real corpus (not those that use ipsets, which live outside the dump).
fn sources() -> Vec<Source> {
    let dir = support::shared_dir().join("corpus").join("real");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "rules")).collect())
        .unwrap_or_default();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()).into_owned();
        let family = detect_family(&text);
        let mut head = String::new();
        for line in text.lines() {
            if line.starts_with('*') {
                head = format!("{line}\n");
            } else if line.starts_with(':') {
                head += line;
                head.push('\n');
            } else if line.starts_with("-A ") && !line.contains("-set") && !line.contains("SET") {
                out.push(Source { family, head: head.clone(), rule: line.to_string() });
            }
        }
    }
    out
}

/// Odd values, each of which some option takes or refuses.
const VALUES: &[&str] = &[
    "",
    "0",
    "-1",
    "1",
    "65535",
    "65536",
    "1:",
    ":2",
    "2:1",
    "1:65536",
    "300.1.1.1",
    "10.0.0.0/33",
    "10.0.0.1/0",
    "10.0.0.0/255.255.0.255",
    "::1",
    "fe80::/129",
    "abc",
    "0x",
    "0xffffffff",
    "0x1/0x100000000",
    "!",
    "1,2,3",
    "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16",
    "tcp",
    "udp",
    "icmp",
    "ALL",
    "NONE",
    "SYN,ACK",
    "SYN,BOGUS",
    "eth0+",
    "eth0.100",
    "an-interface-name-too-long",
    "1/sec",
    "1/fortnight",
    "5/minute",
    "--",
    "-",
    "NEW,ESTABLISHED",
    "NEW,BOGUS",
    "LOCAL",
    "BOGUS",
    "echo-request",
    "255/255",
    "3/256",
    "DROP",
    "ACCEPT",
    "10.0.0.1-10.0.0.0",
    "10.0.0.1:80",
    "10.0.0.1:80-79",
    "10.0.0.1-10.0.0.2:1-2",
    "[::1]:80",
];

/// `rule` changed once, at random; `options` are option words and module and target names seen anywhere
/// in the corpus.
fn mutate(rule: &str, options: &[String], rng: &mut Rng) -> Option<String> {
    let mut words: Vec<String> =
        token::tokenize(1, 0, rule, 0).ok()?.into_iter().map(|t| t.text.into_owned()).collect();
    // Not the `-A CHAIN` at the front.
    if words.len() < 3 {
        return None;
    }
    let at = 2 + rng.below(words.len() - 2);
    match rng.below(10) {
        // The same value spelt another way (most such rules are accepted, and then printed back).
        8 | 9 => {
            let values: Vec<usize> = (2..words.len()).filter(|&k| !words[k].starts_with('-')).collect();
            let &k = values.get(rng.below(values.len().max(1)))?;
            words[k] = respell(&words[k], rng)?;
        }
        // Another module or target: its options then belong to no loaded extension, or to the wrong one.
        7 => {
            let names: Vec<usize> = (2..words.len() - 1).filter(|&k| words[k] == "-m" || words[k] == "-j").collect();
            let &k = names.get(rng.below(names.len().max(1)))?;
            let pool: Vec<&String> = options.iter().filter(|o| !o.starts_with('-')).collect();
            words[k + 1] = pool.get(rng.below(pool.len().max(1)))?.to_string();
        }
        0 => {
            words.remove(at);
        }
        1 => {
            let w = words[at].clone();
            words.insert(at, w);
        }
        2 if at + 1 < words.len() => words.swap(at, at + 1),
        3 => words.insert(at, "!".into()),
        4 => {
            let at = 2 + rng.below(words.len() - 1);
            let flags: Vec<&String> = options.iter().filter(|o| o.starts_with("--")).collect();
            let option = flags[rng.below(flags.len())].clone();
            let value = VALUES[rng.below(VALUES.len())].to_string();
            words.splice(at..at, [option, value]);
        }
        5 => words.truncate(at),
        _ => words[at] = VALUES[rng.below(VALUES.len())].to_string(),
    }
    let mut line = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        token::push_quoted(&mut line, w);
    }
    Some(line)
}

/// Port numbers and their names in `/etc/services`.
const SERVICES: &[(&str, &str)] = &[
    ("21", "ftp"),
    ("22", "ssh"),
    ("25", "smtp"),
    ("53", "domain"),
    ("80", "http"),
    ("123", "ntp"),
    ("443", "https"),
    ("3306", "mysql"),
];

/// Protocol names and their numbers in `/etc/protocols`.
const PROTOCOLS: &[(&str, &str)] = &[("tcp", "6"), ("udp", "17"), ("icmp", "1"), ("ipv6-icmp", "58"), ("gre", "47")];

/// Names that stand for numbers elsewhere: ICMP types, log levels, rate units.
const SYNONYMS: &[(&str, &str)] = &[
    ("echo-request", "8"),
    ("echo-reply", "0/0"),
    ("port-unreachable", "3/3"),
    ("4", "warning"),
    ("6", "info"),
    ("7", "debug"),
    ("/sec", "/second"),
    ("/min", "/m"),
    ("/minute", "/min"),
    ("/hour", "/h"),
];

/// `word` written another way that may mean the same (or may be refused): a number in hex or with a
/// leading zero, a port or protocol by name or number, an address with its mask dotted or its host bits
/// set, a list reversed, a word in the other case, a range with an end left open.
fn respell(word: &str, rng: &mut Rng) -> Option<String> {
    let mut ways: Vec<String> = Vec::new();
    if let Ok(n) = word.parse::<u64>() {
        ways.push(format!("0x{n:x}"));
        ways.push(format!("0{word}"));
        ways.push(format!("+{word}"));
    }
    if let Some(hex) = word.strip_prefix("0x") {
        if let Ok(n) = u64::from_str_radix(hex.split('/').next().unwrap_or(hex), 16) {
            ways.push(match hex.split_once('/') {
                Some((_, mask)) => format!("{n}/0x{}", mask.to_uppercase()),
                None => n.to_string(),
            });
            ways.push(format!("0X{}", hex.to_uppercase()));
        }
    }
    for table in [SERVICES, PROTOCOLS, SYNONYMS] {
        for (a, b) in table {
            if word == *a {
                ways.push(b.to_string());
            } else if word == *b {
                ways.push(a.to_string());
            } else if let Some(rest) = word.strip_suffix(a).filter(|_| a.starts_with('/')) {
                ways.push(format!("{rest}{b}"));
            }
        }
    }
    if let Some((lo, hi)) = word.split_once(':') {
        if lo.parse::<u16>().is_ok() && hi.parse::<u16>().is_ok() {
            ways.push(format!("{lo}:"));
            ways.push(format!(":{hi}"));
            ways.push(format!("{hi}:{lo}"));
        }
    }
    let (addr, len) = word.split_once('/').unwrap_or((word, ""));
    if let Ok(ip) = addr.parse::<std::net::Ipv4Addr>() {
        let o = ip.octets();
        match len.parse::<u32>() {
            Ok(len) if len <= 32 => {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                ways.push(format!("{addr}/{}", std::net::Ipv4Addr::from(mask)));
                ways.push(format!("{}/{len}", std::net::Ipv4Addr::from(u32::from(ip) | 1)));
            }
            _ => {
                ways.push(format!("{addr}/32"));
                ways.push(format!("{addr}/255.255.255.255"));
                ways.push(format!("{}.{}.{}.0{}", o[0], o[1], o[2], o[3]));
            }
        }
    } else if let Ok(ip) = addr.parse::<std::net::Ipv6Addr>() {
        let full = ip.segments().iter().map(|s| format!("{s:04x}")).collect::<Vec<_>>().join(":");
        ways.push(if len.is_empty() { format!("{full}/128") } else { format!("{full}/{len}") });
        ways.push(word.to_uppercase());
    }
    if word.contains(',') {
        ways.push(word.split(',').rev().collect::<Vec<_>>().join(","));
        ways.push(format!("{word},{}", word.split(',').next().unwrap_or_default()));
    }
    if word.chars().any(|c| c.is_ascii_alphabetic()) {
        ways.push(if word.chars().any(|c| c.is_ascii_lowercase()) { word.to_uppercase() } else { word.to_lowercase() });
    }
    ways.retain(|w| w != word);
    if ways.is_empty() {
        return None;
    }
    Some(ways.swap_remove(rng.below(ways.len())))
}

/// Odd chain lines and table headers.
const HEAD_LINES: &[&str] = &[
    ":INPUT FOO [0:0]",
    ":INPUT - [0:0]",
    ":INPUT ACCEPT",
    ":INPUT ACCEPT [0:]",
    ":INPUT ACCEPT [a:b]",
    ":INPUT ACCEPT [1:2:3]",
    ":INPUT RETURN [0:0]",
    ":input ACCEPT [0:0]",
    ":FORWARD DROP [0:0]",
    ":NEW - [0:0]",
    ":NEW ACCEPT [0:0]",
    ":-X - [0:0]",
    ":A-CHAIN-NAME-OF-MORE-THAN-28-CHARS - [0:0]",
    ":",
    ": - [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    ":PREROUTING ACCEPT [0:0]",
    "*nat",
    "*filter",
    "*bogus",
    "*",
    "# a comment",
    "",
    " :INPUT ACCEPT [0:0]",
];

/// `head` (a `*table` line and chain lines) with one line changed, added, doubled or left out.
fn mutate_head(head: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = head.lines().map(str::to_string).collect();
    let at = rng.below(lines.len());
    match rng.below(4) {
        0 if lines.len() > 1 => {
            lines.remove(at);
        }
        1 => {
            let line = lines[at].clone();
            lines.insert(at, line);
        }
        2 => lines.insert(1 + rng.below(lines.len()), HEAD_LINES[rng.below(HEAD_LINES.len())].to_string()),
        _ => lines[at] = HEAD_LINES[rng.below(HEAD_LINES.len())].to_string(),
    }
    lines.into_iter().map(|l| l + "\n").collect()
}

/// A rule both accept is read the same way: what `iptables-save` prints after the real load is what
/// chainwalk prints back. `None` when they agree, else both.
fn printed_otherwise(ns: &support::Netns, family: Family, ruleset: &chainwalk_core::Ruleset) -> Option<String> {
    let tool = if family == Family::Ipv6 { "ip6tables-legacy-save" } else { "iptables-legacy-save" };
    for table in &ruleset.tables {
        let out = ns.run(tool, &["-t", &table.name.to_string()], b"");
        let theirs: Vec<&str> =
            std::str::from_utf8(&out.stdout).ok()?.lines().filter(|l| l.starts_with("-A ")).collect();
        let mut ours = String::new();
        save::table(table, Default::default(), &mut ours);
        let ours: Vec<&str> = ours.lines().filter(|l| l.starts_with("-A ")).collect();
        if ours != theirs {
            return Some(format!(
                "iptables-save prints:\n    {}\n  chainwalk prints:\n    {}",
                theirs.join("\n    "),
                ours.join("\n    ")
            ));
        }
    }
    None
}

#[test]
fn changed_rules_are_refused_as_iptables_restore_refuses_them() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if std::env::var("CHAINWALK_ACCEPT_DIFF").as_deref() != Ok("1") && !ci {
        eprintln!(
            "\n*** SKIPPED: set CHAINWALK_ACCEPT_DIFF=1 (as root) to compare changed rules with iptables-restore ***\n"
        );
        return;
    }
    if let Some(why) = support::kernel_unavailable() {
        eprintln!("\n*** SKIPPED: {why} ***\n");
        return;
    }
    let sources = sources();
    if sources.is_empty() {
        eprintln!("\n*** SKIPPED: no real corpus at {} ***\n", support::shared_dir().display());
        return;
    }
    let number = |key: &str, default: u64| std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let seed = number("CHAINWALK_ACCEPT_DIFF_SEED", 1);
    let count = number("CHAINWALK_ACCEPT_DIFF_COUNT", 300);
    // Option words, and the names of modules and targets (after `-m` and `-j`).
    let mut options: Vec<String> = sources
        .iter()
        .flat_map(|s| {
            let words: Vec<&str> = s.rule.split(' ').collect();
            let names = words.windows(2).filter(|w| w[0] == "-m" || w[0] == "-j").map(|w| w[1].to_string());
            words
                .iter()
                .filter(|w| w.starts_with("--") && w.len() > 2)
                .map(|w| w.to_string())
                .chain(names)
                .collect::<Vec<_>>()
        })
        .collect();
    options.sort();
    options.dedup();
    let ns = support::Netns::new("cwacc");
    let mut rng = Rng::new(seed);
    let (mut agree, mut skipped, mut differ) = (0, 0, Vec::new());
    let mut made = 0;
    // Rules both accept whose real `iptables-save` print chainwalk prints the same.
    let mut printed = 0;
    while made < count {
        let source = &sources[rng.below(sources.len())];
        // One change in four is to the table's lines instead: its header, a chain line, the COMMIT.
        let (head, rule) = if rng.below(4) == 0 {
            (mutate_head(&source.head, &mut rng), source.rule.clone())
        } else {
            let Some(rule) = mutate(&source.rule, &options, &mut rng) else { continue };
            (source.head.clone(), rule)
        };
        made += 1;
        let commit = ["COMMIT\n", "COMMIT\n", "COMMIT\n", "COMMIT \n", "commit\n", "", "COMMIT\nCOMMIT\n"];
        let commit = if head == source.head { commit[0] } else { commit[rng.below(commit.len())] };
        let dump = format!("{head}{rule}\n{commit}");
        let tool = if source.family == Family::Ipv6 { "ip6tables-legacy-restore" } else { "iptables-legacy-restore" };
        // `--test` stops before the kernel, whose own checks (a tcp match under `! -p tcp`, a target
        // outside its hooks) refuse more: the dump is loaded for real, in the throwaway namespace, when
        // iptables-restore itself takes it.
        let mut out = ns.run(tool, &["--test"], dump.as_bytes());
        if out.status.success() {
            out = ns.run(tool, &[], dump.as_bytes());
        }
        let refusal = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let rule = if head == source.head { rule } else { format!("{head}{rule}\n{commit}") };
        let parsed = chainwalk_core::parse(&dump, Some(source.family));
        let ours = parsed.errors().next().map(|d| format!("{}:{}: {}", d.span.line, d.span.col, d.message));
        // Not the dump's fault: an extension or a set this machine lacks.
        let missing =
            ["Couldn't load", "doesn't exist", "Could not open", "Extension"].iter().any(|m| refusal.contains(m));
        let old_negation = parsed.warnings().any(|w| w.message.starts_with("old negation syntax"));
        // What lives outside the dump, which chainwalk warns about: a user-space conntrack helper, a
        // timeout policy or an accounting object of that name.
        let outside = parsed.warnings().any(|w| {
            w.hint.as_deref().is_some_and(|h| {
                ["the load fails", "loading fails unless", "create it before restoring", "fails if the name is unknown"]
                    .iter()
                    .any(|m| h.contains(m))
            })
        });
        match (out.status.success(), ours) {
            (true, None) => match printed_otherwise(&ns, source.family, &parsed.ruleset) {
                None => {
                    agree += 1;
                    printed += 1;
                }
                Some(why) => differ.push(format!("{rule}\n  {why}")),
            },
            (false, Some(_)) => agree += 1,
            (false, None) if missing || old_negation || outside => {
                skipped += 1;
                if std::env::var("CHAINWALK_ACCEPT_DIFF_VERBOSE").is_ok() {
                    eprintln!("left out: {rule}\n  iptables-restore: {refusal}\n");
                }
            }
            (kernel, ours) => differ.push(format!(
                "{rule}\n  iptables-restore: {}\n  chainwalk: {}",
                if kernel { "accepts".to_string() } else { refusal },
                ours.unwrap_or_else(|| "accepts".into())
            )),
        }
    }
    eprintln!(
        "accept_diff seed {seed}: {made} changed rules, {agree} agree ({printed} accepted and printed back alike), \
         {skipped} left out (not the dump's fault), {} differ",
        differ.len()
    );
    for d in &differ {
        eprintln!("{d}\n");
    }
    assert!(differ.is_empty(), "{} changed rules are read otherwise than iptables-restore reads them", differ.len());
}
