//! Printing a ruleset back in the canonical `iptables-save` form (as `print_rule4` in iptables'
//! `iptables.c` prints it): chain declarations (user chains sorted by name), then each chain's rules,
//! the generic part in the order `-s -d -i -o -p -f`, then the matches in their order, then the target.

use crate::ruleset::{Generic, Negatable, Rule, Ruleset, Table};
use std::fmt::{Display, Write};

/// How to print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// Print `[packets:bytes]` before each rule, as `iptables-save -c` does.
    pub counters: bool,
}

/// The whole ruleset as `iptables-save` prints it (without the dated comment lines).
pub fn ruleset(rs: &Ruleset, opts: SaveOptions) -> String {
    let mut out = String::with_capacity(rs.rule_count() * 96);
    for t in &rs.tables {
        table(t, opts, &mut out);
    }
    out
}

/// One `*table` ... `COMMIT` block.
pub fn table(t: &Table, opts: SaveOptions, out: &mut String) {
    let _ = writeln!(out, "*{}", t.name);
    // The built-in chains in hook order, then the user chains by name, byte by byte: libiptc keeps a
    // table's user chains sorted (`iptc_insert_chain`), so iptables-save lists them so whatever order the
    // dump declared them in.
    let mut chains: Vec<&crate::ruleset::Chain> = t.chains.iter().collect();
    // `None` (a built-in chain) sorts first, and the sort is stable.
    chains.sort_by(|a, b| a.hook.is_none().then_some(&a.name).cmp(&b.hook.is_none().then_some(&b.name)));
    for c in chains.iter().filter(|c| c.declared || c.hook.is_some()) {
        let policy = c.policy.map(|p| p.as_str()).unwrap_or("-");
        let counters = c.counters.unwrap_or_default();
        let _ = writeln!(out, ":{} {} [{}:{}]", c.name, policy, counters.packets, counters.bytes);
    }
    for c in chains {
        for r in &c.rules {
            rule(&c.name, r, opts, out);
            out.push('\n');
        }
    }
    out.push_str("COMMIT\n");
}

/// One rule line, without its newline: `[p:b] -A CHAIN SPEC`.
pub fn rule(chain: &str, r: &Rule, opts: SaveOptions, out: &mut String) {
    if opts.counters {
        let c = r.counters.as_deref().copied().unwrap_or_default();
        let _ = write!(out, "[{}:{}] ", c.packets, c.bytes);
    }
    out.push_str("-A ");
    out.push_str(chain);
    rule_spec(r, out);
}

/// The part of a rule after `-A CHAIN`, each piece preceded by a space.
pub fn rule_spec(r: &Rule, out: &mut String) {
    generic(&r.generic, out);
    for m in &r.matches {
        m.save(out);
    }
    if let Some(t) = &r.target {
        t.save(out);
    }
}

fn generic(g: &Generic, out: &mut String) {
    let mut item = |flag: &str, v: &Option<Negatable<String>>| {
        if let Some(v) = v {
            if v.negated {
                out.push_str(" !");
            }
            let _ = write!(out, " {flag} {}", v.value);
        }
    };
    fn shown<T: Display>(v: Option<&Negatable<T>>, skip: impl Fn(&T) -> bool) -> Option<Negatable<String>> {
        v.filter(|v| v.negated || !skip(&v.value)).map(|v| Negatable {
            value: v.value.to_string(),
            negated: v.negated,
            span: v.span,
        })
    }
    item("-s", &shown(g.source().as_ref(), |n| n.is_any()));
    item("-d", &shown(g.destination().as_ref(), |n| n.is_any()));
    // iptables-save prints no `+` interface, negated or not (`print_iface` skips an empty mask), though
    // the kernel never matches `! -i +`.
    let iface = |i: Option<Negatable<crate::ruleset::Interface>>| {
        shown(i.as_ref().filter(|i| i.value.name() != "+"), |_| false)
    };
    item("-i", &iface(g.in_interface()));
    item("-o", &iface(g.out_interface()));
    item("-p", &shown(g.protocol().as_ref(), |p| p.is_all()));
    if let Some(f) = g.fragment() {
        out.push_str(if f.negated { " ! -f" } else { " -f" });
    }
}
