//! The real-world corpus: chainwalk must accept exactly the dumps the real `iptables-restore` accepts (run
//! in a throwaway network namespace), and print every accepted dump back as `iptables-save` does.
//!
//! The dumps live in `../shared/corpus/{real,synthetic}` (third-party data, never copied into this repo).
//! Without the folder the test says so and passes; without root it checks only what needs no kernel.

mod support;

use chainwalk_core::{parse, render::save, Family, Parsed};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::Netns;

fn corpus_files() -> Option<Vec<PathBuf>> {
    let root = support::shared_dir().join("corpus");
    if !root.is_dir() {
        eprintln!("\n*** SKIPPED: no corpus folder at {} (set CHAINWALK_SHARED) ***\n", root.display());
        return None;
    }
    let mut files = Vec::new();
    for sub in ["real", "synthetic"] {
        if let Ok(dir) = std::fs::read_dir(root.join(sub)) {
            files.extend(dir.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "rules")));
        }
    }
    files.sort();
    Some(files)
}

fn read(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The rule lines of each chain, keyed by `table/chain`, as printed by `print`.
fn rules_by_chain(p: &Parsed) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    for t in &p.ruleset.tables {
        for c in &t.chains {
            let lines = c
                .rules
                .iter()
                .map(|r| {
                    let mut s = String::new();
                    save::rule(&c.name, r, save::SaveOptions::default(), &mut s);
                    s
                })
                .collect();
            map.insert(format!("{}/{}", t.name, c.name), lines);
        }
    }
    map
}

/// The `-A` lines of an `iptables-save` output, keyed by `table/chain`.
fn saved_rules(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut table = String::new();
    for line in text.lines() {
        // iptables-restore reads a rule line's words, whatever the space before them.
        let line = line.trim_start();
        let line = match line.strip_prefix('[') {
            Some(rest) => rest.split_once("] ").map(|(_, r)| r).unwrap_or(line),
            None => line,
        };
        if let Some(t) = line.strip_prefix('*') {
            table = t.trim().to_string();
        } else if let Some(c) = line.strip_prefix(':') {
            let name = c.split_whitespace().next().unwrap_or_default();
            map.entry(format!("{table}/{name}")).or_default();
        } else if let Some(rest) = line.strip_prefix("-A ") {
            let chain = rest.split_whitespace().next().unwrap_or_default();
            map.entry(format!("{table}/{chain}")).or_default().push(line.trim_end().to_string());
        }
    }
    map
}

/// What the real tool said about a dump.
#[derive(Debug)]
struct ToolVerdict {
    accepted: bool,
    /// The input line it blamed, if it said.
    line: Option<u32>,
    /// Its first line of complaint.
    message: String,
    /// Whether the failure is the machine's (a missing module or ipset), not the dump's.
    environment: bool,
}

fn error_line(stderr: &str) -> Option<u32> {
    for l in stderr.lines() {
        let num = |s: &str| s.trim().trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok();
        if let Some(rest) = l.strip_prefix("Error occurred at line:") {
            return num(rest);
        }
        if let Some(i) = l.find(": line ") {
            return num(l[i + 7..].split_whitespace().next().unwrap_or(""));
        }
        if let Some(i) = l.find("COMMIT expected at line ") {
            return num(&l[i + 24..]);
        }
    }
    None
}

fn run_tool(ns: &Netns, family: Family, text: &str) -> ToolVerdict {
    // Sets the dump refers to must exist before iptables-restore accepts it; they are the machine's part.
    for line in text.lines() {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == "--match-set" || w == "--add-set" || w == "--del-set" {
                if let Some(set) = words.next() {
                    let fam = if family == Family::Ipv6 { "inet6" } else { "inet" };
                    let _ = ns.run("ipset", &["-exist", "create", set, "hash:net", "family", fam], b"");
                }
            }
        }
    }
    // So must the nfacct objects.
    for line in text.lines() {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == "--nfacct-name" {
                if let Some(obj) = words.next() {
                    let _ = ns.run("nfacct", &["add", obj], b"");
                }
            }
        }
    }
    let tool = if family == Family::Ipv6 { "ip6tables-legacy-restore" } else { "iptables-legacy-restore" };
    let out = ns.run(tool, &[], text.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let message = stderr.lines().next().unwrap_or_default().to_string();
    let environment = !out.status.success()
        && (stderr.contains("doesn't exist") && stderr.contains("Set ")
            || stderr.contains("Couldn't load") && known_extension_in(&stderr)
            || stderr.contains("No chain/target/match by that name") && !stderr.contains("Couldn't load target"));
    ToolVerdict { accepted: out.status.success(), line: error_line(&stderr), message, environment }
}

fn known_extension_in(stderr: &str) -> bool {
    let name = stderr.split('`').nth(1).and_then(|s| s.split('\'').next()).unwrap_or_default();
    chainwalk_core::matches::exists(name) || chainwalk_core::targets::exists(name)
}

/// Whether chainwalk deliberately accepts, with a warning on `line`, what iptables-legacy-restore refuses.
fn deliberate_difference(p: &Parsed, line: Option<u32>) -> bool {
    p.warnings().any(|w| {
        (w.message.contains("no newline after it") || w.message.contains("old negation syntax"))
            && line.is_none_or(|l| l == w.span.line || l == w.span.line + 1)
    })
}

#[test]
fn corpus_agrees_with_iptables_restore() {
    let Some(files) = corpus_files() else { return };
    let kernel = support::kernel_unavailable();
    if let Some(why) = &kernel {
        eprintln!(
            "\n*** iptables-restore comparison SKIPPED: {why}; only parsing and round trips of 1.8 dumps run ***\n"
        );
    }
    let mut report = Vec::new();
    let mut mismatches = Vec::new();
    let (mut agree, mut env, mut deliberate) = (0, 0, 0);
    for path in &files {
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text = read(path);
        let parsed = parse(&text, None);
        let ours = !parsed.has_errors();
        let first_error = parsed.errors().next().map(|d| format!("{}:{}: {}", d.span.line, d.span.col, d.message));
        // Dumps written by iptables-save 1.8 print back byte for byte, with no kernel needed.
        if ours && text.lines().any(|l| l.starts_with("# Generated by") && l.contains(" v1.8")) {
            let theirs = saved_rules(&text);
            let mine = rules_by_chain(&parsed);
            for (chain, lines) in &theirs {
                if mine.get(chain) != Some(lines) {
                    mismatches.push(format!(
                        "{name}: rules of {chain} do not print back as written:\n    written:   {}\n    chainwalk: {}",
                        lines.join("\n               "),
                        mine.get(chain).map(|l| l.join("\n               ")).unwrap_or_default()
                    ));
                }
            }
        }
        if kernel.is_some() {
            continue;
        }
        let ns = Netns::new("cwcorpus");
        let family = parsed.ruleset.family;
        let tool = run_tool(&ns, family, &text);
        let status = if tool.accepted == ours {
            agree += 1;
            "agree"
        } else if !tool.accepted && tool.environment {
            env += 1;
            "machine"
        } else if !tool.accepted && ours && deliberate_difference(&parsed, tool.line) {
            deliberate += 1;
            "deliberate"
        } else {
            mismatches.push(format!(
                "{name}: iptables-restore {} (line {:?}: {}), chainwalk {} ({})",
                if tool.accepted { "accepts" } else { "refuses" },
                tool.line,
                tool.message,
                if ours { "accepts" } else { "refuses" },
                first_error.clone().unwrap_or_default()
            ));
            "MISMATCH"
        };
        if !tool.accepted && !ours && tool.line.is_some() {
            let our_line = parsed.errors().next().map(|d| d.span.line);
            if our_line != tool.line {
                report.push(format!(
                    "  note: {name}: both refuse, iptables at line {:?}, chainwalk at {:?}",
                    tool.line, our_line
                ));
            }
        }
        report.push(format!(
            "{status:>10}  {name}  (iptables: {})",
            if tool.accepted { "ok".into() } else { tool.message.clone() }
        ));
        // Whatever iptables accepted must print back as iptables-save prints it.
        if tool.accepted && ours {
            let save_tool = if family == Family::Ipv6 { "ip6tables-legacy-save" } else { "iptables-legacy-save" };
            let saved = String::from_utf8_lossy(&ns.run(save_tool, &[], b"").stdout).into_owned();
            let theirs = saved_rules(&saved);
            let mine = rules_by_chain(&parsed);
            for (chain, lines) in &theirs {
                let empty = Vec::new();
                let ours_lines = mine.get(chain).unwrap_or(&empty);
                for (i, line) in lines.iter().enumerate() {
                    if ours_lines.get(i) != Some(line) {
                        mismatches.push(format!(
                            "{name}: {chain} rule {} prints back differently:\n    iptables-save: {line}\n    chainwalk:     {}",
                            i + 1,
                            ours_lines.get(i).map(String::as_str).unwrap_or("(missing)")
                        ));
                        break;
                    }
                }
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    if kernel.is_none() {
        eprintln!(
            "\ncorpus: {} files; {agree} agree with iptables-legacy-restore, {deliberate} deliberate differences, {env} refused for the machine's reasons, {} mismatches",
            files.len(),
            mismatches.len()
        );
    }
    assert!(mismatches.is_empty(), "disagreements with the real iptables:\n{}", mismatches.join("\n"));
}
