//! What the tests of match and target modules share: loading one rule the way `tests/save_vectors.rs` does
//! (a table, the rule on line 2, `COMMIT`) and reading back what chainwalk printed, refused or warned about,
//! and walking a packet through a small dump.

use crate::ruleset::Family;

/// The dump `*TABLE` / `rule` / `COMMIT`, loaded for `family`.
pub(crate) fn load(family: Family, table: &str, rule: &str) -> crate::Parsed {
    crate::parse(&format!("*{table}\n{rule}\nCOMMIT\n"), Some(family))
}

/// Every rule of the dump as chainwalk prints it back (`-A CHAIN ...`), joined by ` ;; `, after checking
/// that it loaded without errors.
pub(crate) fn saved(family: Family, table: &str, rule: &str) -> String {
    let p = load(family, table, rule);
    assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
    let mut lines = Vec::new();
    for c in p.ruleset.tables.iter().flat_map(|t| &t.chains) {
        for r in &c.rules {
            let mut s = String::new();
            crate::render::save::rule(&c.name, r, crate::render::save::SaveOptions::default(), &mut s);
            lines.push(s);
        }
    }
    lines.join(" ;; ")
}

/// The first error: its column on the rule's line (line 2) and its message.
pub(crate) fn error(family: Family, table: &str, rule: &str) -> (u32, String) {
    let p = load(family, table, rule);
    let d = p.errors().next().unwrap_or_else(|| panic!("no error for {rule}"));
    assert_eq!(d.span.line, 2, "{rule}: {d:?}");
    (d.span.col, d.message.clone())
}

/// The messages of the warnings, after checking that the rule loaded without errors.
pub(crate) fn warnings(family: Family, table: &str, rule: &str) -> Vec<String> {
    let p = load(family, table, rule);
    assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
    p.warnings().map(|w| w.message.clone()).collect()
}

/// The walk of `packet` (short form or log line) through `dump` (read for the packet's family) on `host`
/// (as `ip` prints it).
pub(crate) fn walk(dump: &str, host: &str, packet: &str) -> crate::trace::Trace {
    let packet = crate::packet::parse(packet).unwrap_or_else(|e| panic!("{packet}: {e:?}"));
    let parsed = crate::parse(dump, Some(packet.family()));
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let host = crate::host::parse(host).unwrap_or_else(|e| panic!("{host}: {e:?}"));
    crate::walk::Simulation::new(&parsed.ruleset).walk(Some(&host), &packet, &Default::default())
}

/// The dump `*filter` / `:INPUT ACCEPT` / `line` / `COMMIT` (the rule on line 3), loaded for `family`.
pub(crate) fn input_rule(family: Family, line: &str) -> crate::Parsed {
    crate::parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n{line}\nCOMMIT\n"), Some(family))
}

/// The INPUT rule `line` as chainwalk prints it back (`-A INPUT ...`), after checking that it loaded
/// without errors.
pub(crate) fn input_saved(family: Family, line: &str) -> String {
    let p = input_rule(family, line);
    assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
    let mut out = String::from("-A INPUT");
    crate::render::save::rule_spec(&p.ruleset.tables[0].chains[0].rules[0], &mut out);
    out
}

/// The first error of the INPUT rule `line`: its column on line 3 and its message.
pub(crate) fn input_error(family: Family, line: &str) -> (u32, String) {
    let p = input_rule(family, line);
    let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
    assert_eq!(d.span.line, 3);
    (d.span.col, d.message.clone())
}
