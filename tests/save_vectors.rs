//! Conformance with the real `iptables-restore`/`iptables-save` 1.8.9, rule by rule: every vector in
//! `tests/data/save-vectors/*.out` was recorded by `tests/record/save-vectors.sh` from the real tools
//! (`ok` with what `iptables-save` printed back, or `err` with what the tool said). chainwalk must accept
//! exactly the `ok` rules and print them back the same, and refuse the `err` ones. Deliberate differences
//! are listed, with their reasons, in `tests/data/save-vectors/differences.txt`; a listed difference that
//! no longer differs fails too, so the list stays true.
//!
//! The whole-dump vectors in `tables/` (kernel checks at COMMIT) are checked the same way, and so are the
//! dumps of `tests/data/nft-nesting`, whose chains nest too deep for the nf_tables backend. The dumps of
//! `tests/data/fragments` hold the kernel's rule counters after fragments were sent through them.

use chainwalk_core::{parse, render::save, Family};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/save-vectors")
}

/// `input<TAB>reason` lines: rules where chainwalk deliberately differs from iptables.
fn differences() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(data_dir().join("differences.txt")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

struct Header {
    family: Family,
    table: String,
    chains: Vec<String>,
}

fn header(input: &str) -> Header {
    let mut h = Header { family: Family::Ipv4, table: "filter".into(), chains: Vec::new() };
    for line in input.lines() {
        if let Some(v) = line.strip_prefix("# family:") {
            h.family = if v.trim() == "ipv6" { Family::Ipv6 } else { Family::Ipv4 };
        } else if let Some(v) = line.strip_prefix("# table:") {
            h.table = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("# chains:") {
            h.chains = v.split_whitespace().map(str::to_string).collect();
        }
    }
    h
}

/// What chainwalk makes of one rule: `Ok(saved lines joined by " ;; ")` or `Err(first error)`.
fn chainwalk(h: &Header, rule: &str) -> Result<String, String> {
    let mut dump = format!("*{}\n", h.table);
    for c in &h.chains {
        dump.push_str(&format!(":{c} - [0:0]\n"));
    }
    dump.push_str(rule);
    dump.push_str("\nCOMMIT\n");
    let p = parse(&dump, Some(h.family));
    if let Some(e) = p.errors().next() {
        return Err(e.message.clone());
    }
    let mut lines = Vec::new();
    for t in &p.ruleset.tables {
        for c in &t.chains {
            for r in &c.rules {
                let mut s = String::new();
                save::rule(&c.name, r, save::SaveOptions::default(), &mut s);
                lines.push(s);
            }
        }
    }
    Ok(lines.join(" ;; "))
}

#[test]
fn rules_load_and_print_back_as_iptables_does() {
    let known = differences();
    let mut used = std::collections::BTreeSet::new();
    let mut agreed_listed = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    let (mut total, mut agree) = (0, 0);
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/save-vectors")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .collect();
    files.sort();
    for out in &files {
        let input = std::fs::read_to_string(out.with_extension("in")).expect("the .in beside the .out");
        let h = header(&input);
        let text = std::fs::read_to_string(out).expect("readable .out");
        for line in text.lines() {
            let mut f = line.splitn(3, '\t');
            let (Some(kind), Some(rule), Some(what)) = (f.next(), f.next(), f.next()) else { continue };
            total += 1;
            let ours = chainwalk(&h, rule);
            let same = match (kind, &ours) {
                ("ok", Ok(saved)) => saved == what,
                ("err", Err(_)) => true,
                _ => false,
            };
            if same {
                agree += 1;
                if known.contains_key(rule) {
                    // The same rule may be recorded in several tables; it is stale only if it differs in none.
                    agreed_listed.insert(rule.to_string());
                }
                continue;
            }
            if known.contains_key(rule) {
                used.insert(rule.to_string());
                continue;
            }
            let name = out.file_name().unwrap_or_default().to_string_lossy();
            failures.push(format!("{name}: {rule}\n    iptables:  {kind} {what}\n    chainwalk: {ours:?}"));
        }
    }
    for rule in agreed_listed.difference(&used) {
        failures.push(format!("listed as a difference but now agrees: {rule}"));
    }
    eprintln!("{agree} of {total} recorded rules agree with iptables 1.8.9; {} deliberate differences", used.len());
    assert!(failures.is_empty(), "{} disagreements with the real iptables:\n{}", failures.len(), failures.join("\n"));
}

/// The dumps (`*.rules`) of `dir`, each with its `.result` beside it, in name order.
fn dumps_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    files.sort();
    files
}

/// The whole dumps of `tables/`.
fn table_dumps() -> Vec<PathBuf> {
    dumps_in(&data_dir().join("tables"))
}

#[test]
fn whole_dumps_load_or_fail_as_iptables_restore_does() {
    let files = table_dumps();
    let known = differences();
    let mut failures = Vec::new();
    for rules in &files {
        let name = rules.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let result = std::fs::read_to_string(rules.with_extension("result")).expect("a .result beside the .rules");
        // The real load (without --test) is the second `exit:` in the file.
        let exits: Vec<&str> = result.lines().filter_map(|l| l.strip_prefix("exit: ")).collect();
        let Some(real) = exits.get(1) else { continue };
        let accepted = *real == "0";
        let text = std::fs::read_to_string(rules).expect("readable dump");
        // The recorder's `# family: ipv6` line chose ip6tables-restore; without it, chainwalk tells.
        let family = text.lines().any(|l| l.trim() == "# family: ipv6").then_some(Family::Ipv6);
        let p = parse(&text, family);
        let ours = !p.has_errors();
        if ours != accepted && !known.contains_key(&format!("tables/{name}")) {
            failures.push(format!(
                "{name}: iptables-restore {}, chainwalk {} ({:?})",
                if accepted { "accepts" } else { "refuses" },
                if ours { "accepts" } else { "refuses" },
                p.errors().next().map(|d| format!("{}:{} {}", d.span.line, d.span.col, d.message))
            ));
        }
    }
    assert!(failures.is_empty(), "{} dumps judged differently:\n{}", failures.len(), failures.join("\n"));
}

/// What `iptables-legacy-save` printed after each whole dump of `tables/` that loaded is what chainwalk prints
/// back for it: the same chains in the same order (built-in ones in hook order, then the user chains by
/// name, as libiptc keeps them) and the same rules, table by table.
#[test]
fn whole_dumps_print_back_as_iptables_save_does() {
    let files = table_dumps();
    let (mut failures, mut compared) = (Vec::new(), 0);
    for rules in &files {
        let name = rules.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let result = std::fs::read_to_string(rules.with_extension("result")).expect("a .result beside the .rules");
        let exits: Vec<&str> = result.lines().filter_map(|l| l.strip_prefix("exit: ")).collect();
        if exits.get(1) != Some(&"0") {
            continue;
        }
        let theirs: Vec<&str> =
            result.lines().skip_while(|l| *l != "save:").skip(1).filter_map(|l| l.strip_prefix("  ")).collect();
        let text = std::fs::read_to_string(rules).expect("readable dump");
        let family = text.lines().any(|l| l.trim() == "# family: ipv6").then_some(Family::Ipv6);
        let p = parse(&text, family);
        if p.has_errors() {
            continue;
        }
        let ours = save::ruleset(&p.ruleset, Default::default());
        // Table by table (the recorder asks for each table the file names, in an order of its own), and
        // without the chains' counters (restored only with `-c`; chainwalk prints back those the dump gave).
        let tables = |lines: Vec<&str>| -> BTreeMap<String, Vec<String>> {
            let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut current = String::new();
            for l in lines {
                if let Some(t) = l.strip_prefix('*') {
                    current = t.to_string();
                }
                let l = match l.strip_prefix(':').and_then(|c| c.rsplit_once(' ')) {
                    Some((head, _counters)) => format!(":{head}"),
                    None => l.to_string(),
                };
                map.entry(current.clone()).or_default().push(l);
            }
            map
        };
        if theirs.iter().all(|l| l.trim().is_empty()) {
            continue;
        }
        let (theirs, ours) = (tables(theirs), tables(ours.lines().collect()));
        compared += 1;
        if ours != theirs {
            failures.push(format!("{name}:\n  iptables-save: {theirs:?}\n  chainwalk: {ours:?}"));
        }
    }
    assert!(compared >= 10, "only {compared} dumps compared");
    assert!(failures.is_empty(), "{} dumps print back differently:\n{}", failures.len(), failures.join("\n"));
}

/// `tests/data/nft-nesting`: dumps whose chains nest about as deep as nf_tables allows, each with what
/// `iptables-nft-restore` (loading for real) and `iptables-legacy-restore` did with it
/// (`tests/record/nft-nesting.sh`). chainwalk warns at the first line the nf_tables backend refuses, and
/// only there; no such dump has an error, since the legacy backend loads them all.
#[test]
fn chains_nested_too_deep_for_nf_tables_are_warned_about_where_it_refuses_them() {
    let files = dumps_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nft-nesting"));
    assert!(files.len() >= 10, "the recorded nesting dumps are missing");
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read_to_string(&path).unwrap();
        let result = std::fs::read_to_string(path.with_extension("result")).expect("a .result next to each dump");
        let mut tools = result.lines().filter(|l| l.contains("-restore: exit "));
        let (nft, legacy) = (tools.next().unwrap(), tools.next().unwrap());
        assert!(legacy.ends_with("exit 0"), "{name}: legacy refused it: {legacy}");
        // "line N: RULE_APPEND failed (Too many links): ..." for the first rule refused, if any.
        let refused: Option<u32> = result
            .lines()
            .find_map(|l| l.strip_prefix("line ")?.split_once(':').filter(|(_, m)| m.contains("Too many links")))
            .map(|(n, _)| n.parse().unwrap());
        assert_eq!(refused.is_some(), !nft.ends_with("exit 0"), "{name}: {nft} without a line");
        let family = if input.contains("# family: ipv6") { Family::Ipv6 } else { Family::Ipv4 };
        let parsed = parse(&input, Some(family));
        assert!(!parsed.has_errors(), "{name}: {:?}", parsed.errors().collect::<Vec<_>>());
        let warned: Vec<u32> = parsed
            .warnings()
            .filter(|d| d.message.contains("iptables-nft-restore refuses"))
            .map(|d| d.span.line)
            .collect();
        assert_eq!(warned, Vec::from_iter(refused), "{name}");
    }
}

/// `tests/data/fragments`: dumps loaded into a namespace that was then sent a first and a later fragment of
/// packets to itself and through it (`tests/record/fragments.sh`), with each rule's packet counter
/// afterwards. chainwalk warns that a `-f` rule never matches exactly where the kernel counted none.
#[test]
fn f_rules_are_warned_about_where_the_kernel_showed_them_no_fragment() {
    let files = dumps_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fragments"));
    assert!(files.len() >= 5, "the recorded fragment dumps are missing");
    let mut checked = 0;
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let result = std::fs::read_to_string(path.with_extension("result")).expect("a .result next to each dump");
        // (table, rule as saved) -> packets the kernel counted.
        let mut counted: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut table = String::new();
        for line in result.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.to_string();
            } else if let Some((counters, rule)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
                let packets = counters.split(':').next().unwrap().parse().unwrap();
                counted.insert((table.clone(), rule.to_string()), packets);
            }
        }
        let parsed = parse(&std::fs::read_to_string(&path).unwrap(), None);
        assert!(!parsed.has_errors(), "{name}");
        let warned: Vec<u32> =
            parsed.warnings().filter(|d| d.message.contains("`-f` never matches")).map(|d| d.span.line).collect();
        for t in &parsed.ruleset.tables {
            for c in &t.chains {
                for r in c.rules.iter().filter(|r| r.generic.fragment().is_some_and(|f| !f.negated)) {
                    let mut text = String::new();
                    save::rule(&c.name, r, Default::default(), &mut text);
                    let packets = counted[&(t.name.to_string(), text.clone())];
                    let never = warned.contains(&r.span.line);
                    assert_eq!(never, packets == 0, "{name}: {} {text}: the kernel counted {packets}", t.name);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 40, "only {checked} rules checked");
}
