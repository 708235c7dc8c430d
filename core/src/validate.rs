//! What `iptables-restore` refuses that no single line shows, found when a table is complete: the
//! kernel's checks at `COMMIT` (`translate_table` in `net/ipv4/netfilter/ip_tables.c`): loops of jumps, and
//! matches and targets used in tables or hooks they do not allow. Also warnings about rules that load but
//! are probably mistakes.

use crate::diag::Diagnostic;
use crate::ruleset::{Family, Hook, Ruleset, Table, TableName};

/// The longest chain name the kernel takes (`XT_EXTENSION_MAXNAMELEN` - 1).
pub const MAX_CHAIN_NAME_LEN: usize = 28;

/// Where the kernel lets an extension be used: a table (if it is bound to one) and a set of hooks.
#[derive(Clone, Copy, Debug)]
pub struct Allowed {
    /// The only table it may be used in, if it is bound to one.
    pub table: Option<&'static [TableName]>,
    /// The hooks it may be reached from, as [`Hook::bit`]s; `ALL_HOOKS` for any.
    pub hooks: u8,
}

const ALL_HOOKS: u8 = 0b11111;
const PRE: u8 = 1;
const IN: u8 = 2;
const FWD: u8 = 4;
const OUT: u8 = 8;
const POST: u8 = 16;

/// Where each target extension is allowed, as its `xt_target` registration in the kernel says.
pub fn target_allowed(target: &crate::targets::Target, family: Family) -> Allowed {
    use TableName::*;
    let name = &*target.name;
    let clamps = matches!(
        &target.kind,
        crate::targets::TargetKind::Tcpmss(t) if t.mss == crate::targets::header::MssAction::ClampToPmtu
    );

    let is_chain = matches!(target.kind, crate::targets::TargetKind::Chain);
    let (table, hooks): (Option<&'static [TableName]>, u8) = match name {
        // A user chain named like a target (`:MASQUERADE - [0:0]`) is a plain jump.
        _ if is_chain => (None, ALL_HOOKS),
        "DNAT" | "REDIRECT" => (Some(&[Nat]), PRE | OUT),
        "SNAT" => (Some(&[Nat]), POST | IN),
        "MASQUERADE" => (Some(&[Nat]), POST),
        "NETMAP" => (Some(&[Nat]), PRE | POST | OUT | IN),
        "REJECT" => (Some(&[Filter]), IN | FWD | OUT),
        "TPROXY" => (Some(&[Mangle]), PRE),
        "CT" | "NOTRACK" | "TRACE" => (Some(&[Raw]), ALL_HOOKS),
        "CHECKSUM" | "TOS" | "DSCP" | "TTL" | "HL" | "ECN" => (Some(&[Mangle]), ALL_HOOKS),
        "CLASSIFY" => (None, OUT | FWD | POST),
        // Only `--clamp-mss-to-pmtu` is bound to hooks; `--set-mss` may be used anywhere.
        "TCPMSS" if clamps => (None, FWD | OUT | POST),
        "SECMARK" | "CONNSECMARK" => (Some(&[Mangle, Security]), ALL_HOOKS),
        "SYNPROXY" => (None, IN | FWD),
        "SNPT" => (Some(&[Mangle]), IN | POST),
        "DNPT" => (Some(&[Mangle]), PRE | OUT),
        "TCPOPTSTRIP" => (Some(&[Mangle]), ALL_HOOKS),
        _ => (None, ALL_HOOKS),
    };
    let _ = family;
    Allowed { table, hooks }
}

/// Where each match module is allowed, as its `xt_match` registration and `checkentry` in the kernel say.
pub fn match_allowed(m: &crate::matches::Match) -> Allowed {
    let name = m.name();
    let mut opts = String::new();
    if matches!(name, "addrtype" | "policy" | "physdev" | "devgroup") {
        m.kind.save(&mut opts);
    }
    let has = |o: &str| opts.contains(o);
    let (table, hooks): (Option<&'static [TableName]>, u8) = match name {
        "addrtype" if has("--limit-iface-in") => (None, PRE | IN | FWD),
        "addrtype" if has("--limit-iface-out") => (None, OUT | FWD | POST),
        "policy" if has("--dir in") => (None, PRE | IN | FWD),
        "policy" if has("--dir out") => (None, OUT | FWD | POST),
        "physdev" if (has("--physdev-out") || has("--physdev-is-out")) && !has("--physdev-is-bridged") => {
            (None, PRE | IN | FWD | POST)
        }
        "devgroup" if has("--src-group") && has("--dst-group") => (None, FWD),
        "devgroup" if has("--src-group") => (None, PRE | IN | FWD),
        "devgroup" => (None, FWD | OUT | POST),
        "realm" => (None, IN | FWD | OUT | POST),
        "cgroup" => (None, IN | OUT | POST),
        "osf" => (None, PRE | IN | FWD),
        "owner" => (None, OUT | POST),
        "mac" | "eui64" => (None, PRE | IN | FWD),
        "socket" => (None, PRE | IN),
        "rpfilter" => (None, PRE),
        _ => (None, ALL_HOOKS),
    };
    Allowed { table, hooks }
}

fn hook_names(bits: u8) -> String {
    let names: Vec<&str> = Hook::ALL.iter().filter(|h| bits & h.bit() != 0).map(|h| h.chain_name()).collect();
    match names.as_slice() {
        [] => "no hook".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// How many rules a piece of the checks covers, when they are done on several threads (few in tests, so
/// that their tables are cut in many pieces).
const PIECE_RULES: usize = if cfg!(test) { 64 } else { 4096 };

/// Checks table `t` of `rs` (read from `input`) as the kernel checks it at `COMMIT`, adding findings to
/// `diags`: the errors, in the order of the chains and rules, then the warnings. A big table's chains are
/// checked in pieces on several threads.
pub fn table(rs: &Ruleset, t: usize, input: &str, diags: &mut Vec<Diagnostic>) {
    let workers = crate::pieces::workers(rs.tables[t].rule_count(), 4 * PIECE_RULES);
    table_on(rs, t, input, workers, diags);
}

/// [`table`] on `workers` threads.
pub(crate) fn table_on(rs: &Ruleset, t: usize, input: &str, workers: usize, diags: &mut Vec<Diagnostic>) {
    let table = &rs.tables[t];
    let edges = Edges::of(table);
    if let Some(d) = find_loop(table, &edges) {
        diags.push(d);
        return;
    }
    let reach = reach(table, &edges);
    let mut states: Vec<(Vec<u64>, Vec<u64>)> = (0..workers).map(|_| Default::default()).collect();

    // The errors, in pieces of PIECE_RULES rules (the last one fewer), each from where it starts: (chain,
    // rule) to as many rules on, across chains.
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let mut left = 0;
    for (c, chain) in table.chains.iter().enumerate() {
        let mut r = 0;
        while r < chain.rules.len() {
            if left == 0 {
                starts.push((c, r));
                left = PIECE_RULES;
            }
            let take = (chain.rules.len() - r).min(left);
            r += take;
            left -= take;
        }
    }
    let errors = crate::pieces::run(starts.len(), &mut states, |_, p| {
        let (mut c, mut r) = starts[p];
        let mut left = PIECE_RULES;
        let mut found = Vec::new();
        while left > 0 && c < table.chains.len() {
            let n = (table.chains[c].rules.len() - r).min(left);
            if n > 0 {
                placement(table, c, r..r + n, reach[c], rs.family, &mut found);
            }
            (left, r) = (left - n, r + n);
            if r == table.chains[c].rules.len() {
                (c, r) = (c + 1, 0);
            }
        }
        found
    });
    diags.extend(errors.into_iter().flatten());
    diags.extend(nft_nesting(table, &edges));

    // The warnings, in pieces of whole chains of about PIECE_RULES rules.
    let mut referenced = vec![false; table.chains.len()];
    for &(to, _) in &edges.to {
        referenced[to as usize] = true;
    }
    let mut chains: Vec<std::ops::Range<usize>> = Vec::new();
    let (mut from, mut size) = (0, 0);
    for (c, chain) in table.chains.iter().enumerate() {
        size += chain.rules.len() + 1;
        if size >= PIECE_RULES || c + 1 == table.chains.len() {
            chains.push(from..c + 1);
            (from, size) = (c + 1, 0);
        }
    }
    let warnings = crate::pieces::run(chains.len(), &mut states, |(keys, same), p| {
        let mut found = Vec::new();
        for c in chains[p].clone() {
            chain_warnings(table, c, reach[c] != 0 || referenced[c], input, keys, same, &mut found);
        }
        found
    });
    diags.extend(warnings.into_iter().flatten());
}

/// The kernel's checks of rules `rules` of chain `c`, which is reached from `hooks`: matches and targets
/// used where they are not allowed, targets that need a protocol or a flag.
fn placement(
    table: &Table,
    c: usize,
    rules: std::ops::Range<usize>,
    hooks: u8,
    family: Family,
    diags: &mut Vec<Diagnostic>,
) {
    let chain = &table.chains[c];
    for rule in &chain.rules[rules] {
        for m in &rule.matches {
            if let Some(d) = misplaced(
                table.name,
                hooks,
                match_allowed(m),
                || format!("the {} match", m.name()),
                m.span,
                &chain.name,
            ) {
                diags.push(d);
            }
        }
        let extension = rule.target.as_ref().filter(|t| !matches!(t.kind, crate::targets::TargetKind::Chain));
        if let Some(target) = extension {
            if let Some(d) = protocol_needed(rule, target) {
                diags.push(d);
            }
            if target.name == "TCPMSS" && !tests_syn(rule) {
                diags.push(
                    Diagnostic::error(
                        target.span,
                        "TCPMSS only works on TCP SYN packets: the rule must test the SYN flag",
                    )
                    .with_hint("add `-m tcp --tcp-flags SYN,RST SYN` (or `--syn`) to the rule"),
                );
            }
            let allowed = target_allowed(target, family);
            if let Some(d) = misplaced(table.name, hooks, allowed, || target.name.to_string(), target.span, &chain.name)
            {
                diags.push(d);
            }
        }
    }
}

/// Targets the kernel lets work on some protocols only (`.proto` in their registration).
fn protocol_needed(rule: &crate::ruleset::Rule, target: &crate::targets::Target) -> Option<Diagnostic> {
    if !matches!(&*target.name, "TCPOPTSTRIP" | "ECN") {
        return None;
    }
    let mut opts = String::new();
    target.kind.save(&mut opts);
    let needs_tcp = match &*target.name {
        "TCPOPTSTRIP" => true,
        "ECN" => opts.contains("--ecn-tcp"),
        _ => false,
    };
    let proto = rule.generic.protocol().filter(|p| !p.negated).map(|p| p.value);
    if needs_tcp && proto != Some(crate::ruleset::Protocol::TCP) {
        return Some(Diagnostic::error(
            target.span,
            format!("{} works on TCP only: the rule must say `-p tcp`", target.name),
        ));
    }
    None
}

/// Whether a rule has a tcp match that requires the SYN flag (`find_syn_match` in the kernel's
/// `xt_TCPMSS.c`).
fn tests_syn(rule: &crate::ruleset::Rule) -> bool {
    rule.matches.iter().any(|m| match &m.kind {
        crate::matches::MatchKind::Tcp(t) => {
            t.flags().as_ref().is_some_and(|f| !f.negated && f.value.comp.0 & 0x02 != 0)
        }
        _ => false,
    })
}

fn misplaced(
    table: TableName,
    hooks: u8,
    allowed: Allowed,
    what: impl FnOnce() -> String,
    span: crate::span::Span,
    chain: &str,
) -> Option<Diagnostic> {
    if let Some(tables) = allowed.table {
        if !tables.contains(&table) {
            let names: Vec<&str> = tables.iter().map(|t| t.as_str()).collect();
            let what = what();
            return Some(
                Diagnostic::error(
                    span,
                    format!("{what} is only valid in the {} table, not in {table}", names.join(" or ")),
                )
                .with_hint("the kernel refuses the table at COMMIT"),
            );
        }
    }
    let bad = hooks & !allowed.hooks;
    if bad != 0 {
        let via = if Hook::from_chain_name(chain).is_some() && hooks.count_ones() == 1 {
            format!("in {chain}")
        } else {
            format!("in chain {chain}, which is reached from {}", hook_names(hooks))
        };
        let what = what();
        return Some(
            Diagnostic::error(span, format!("{what} may only be used from {}, not {via}", hook_names(allowed.hooks)))
                .with_hint("the kernel refuses the table at COMMIT"),
        );
    }
    None
}

/// The jumps and gotos of a table's chains: for each chain (by index), its edges (target chain, rule index)
/// in rule order, all in one list.
struct Edges {
    /// Where each chain's edges start in `to`; one more entry than chains, for the end of the last.
    starts: Vec<u32>,
    /// (target chain, rule index) of every jump and goto, chain after chain.
    to: Vec<(u32, u32)>,
}

impl Edges {
    fn of(table: &Table) -> Edges {
        let mut starts = Vec::with_capacity(table.chains.len() + 1);
        let mut to = Vec::new();
        for c in &table.chains {
            starts.push(to.len() as u32);
            for (ri, r) in c.rules.iter().enumerate() {
                if let Some(i) = r.target.as_ref().and_then(|t| table.jump_index(t)) {
                    to.push((i as u32, ri as u32));
                }
            }
        }
        starts.push(to.len() as u32);
        Edges { starts, to }
    }

    /// The edges of chain `c`.
    fn from(&self, c: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.to[self.starts[c] as usize..self.starts[c + 1] as usize].iter().map(|&(t, r)| (t as usize, r as usize))
    }

    /// Edge `n` of chain `c`, if it has that many.
    fn nth(&self, c: usize, n: usize) -> Option<(usize, usize)> {
        let at = self.starts[c] as usize + n;
        (at < self.starts[c + 1] as usize).then(|| (self.to[at].0 as usize, self.to[at].1 as usize))
    }
}

/// A chain that jumps, through any number of chains, back to itself: the kernel refuses the table.
fn find_loop(table: &Table, edges: &Edges) -> Option<Diagnostic> {
    // Iterative depth-first search with colours: 0 new, 1 on the current path, 2 done.
    let n = table.chains.len();
    let mut colour = vec![0u8; n];
    // Only loops a packet can enter count: the kernel walks the chains from the built-in ones.
    for start in (0..n).filter(|&c| table.chains[c].hook.is_some()) {
        if colour[start] != 0 {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        colour[start] = 1;
        while let Some(&mut (c, ref mut next)) = stack.last_mut() {
            if let Some((to, rule)) = edges.nth(c, *next) {
                *next += 1;
                match colour[to] {
                    0 => {
                        colour[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => {
                        let mut path: Vec<&str> = stack
                            .iter()
                            .skip_while(|(x, _)| *x != to)
                            .map(|(x, _)| table.chains[*x].name.as_str())
                            .collect();
                        path.push(&table.chains[to].name);
                        return Some(
                            Diagnostic::error(
                                table.chains[c].rules[rule].span,
                                format!("this jump makes a loop: {}", path.join(" → ")),
                            )
                            .with_hint("the kernel refuses a table whose chains can jump in a circle"),
                        );
                    }
                    _ => {}
                }
            } else {
                colour[c] = 2;
                stack.pop();
            }
        }
    }
    None
}

/// How many jumps (gotos count too) nf_tables lets a packet make from a built-in chain: its jump stack
/// holds 16 chains (`NFT_JUMP_STACK_SIZE`), and a rule that would enter a chain 16 jumps down is refused
/// with `EMLINK` ("Too many links"), recorded in `tests/data/nft-nesting`.
const NFT_MAX_JUMPS: u32 = 15;

/// For each chain reached from a built-in chain, the most jumps a packet can make from it over the edges
/// `keep` takes (by chain and rule index); 0 for the others. The table has no loop a packet can enter.
fn longest_jumps(table: &Table, edges: &Edges, keep: &dyn Fn(usize, usize) -> bool) -> Vec<u32> {
    let n = table.chains.len();
    let mut jumps = vec![0u32; n];
    let mut done = vec![false; n];
    for start in (0..n).filter(|&c| table.chains[c].hook.is_some()) {
        if done[start] {
            continue;
        }
        let mut stack = vec![(start, 0usize)];
        while let Some(&mut (c, ref mut next)) = stack.last_mut() {
            if let Some((to, rule)) = edges.nth(c, *next) {
                *next += 1;
                if !done[to] && keep(c, rule) {
                    stack.push((to, 0));
                }
            } else {
                jumps[c] =
                    edges.from(c).filter(|&(_, rule)| keep(c, rule)).map(|(to, _)| jumps[to] + 1).max().unwrap_or(0);
                done[c] = true;
                stack.pop();
            }
        }
    }
    jumps
}

/// The rule the nf_tables backend refuses because chains nest too deep, if there is one: `iptables-legacy-
/// restore` loads such a table, `iptables-nft-restore` does not. The kernel checks the table as each rule
/// arrives, so the rule it names is the first, in the dump's order, with which a packet could make more
/// than [`NFT_MAX_JUMPS`] jumps.
fn nft_nesting(table: &Table, edges: &Edges) -> Option<Diagnostic> {
    let bases: Vec<usize> = (0..table.chains.len()).filter(|&c| table.chains[c].hook.is_some()).collect();
    let too_deep = |jumps: &[u32]| bases.iter().copied().find(|&b| jumps[b] > NFT_MAX_JUMPS);
    too_deep(&longest_jumps(table, edges, &|_, _| true))?;
    let at = |c: usize, r: usize| table.chains[c].rules[r].span.start;
    let mut starts: Vec<u32> =
        (0..table.chains.len()).flat_map(|c| edges.from(c).map(move |(_, r)| at(c, r))).collect();
    starts.sort_unstable();
    // Adding rules only makes paths longer: the first prefix of the rules that is too deep ends at the rule.
    let first = starts.partition_point(|&s| too_deep(&longest_jumps(table, edges, &|c, r| at(c, r) <= s)).is_none());
    let last = *starts.get(first)?;
    let keep = |c: usize, r: usize| at(c, r) <= last;
    let jumps = longest_jumps(table, edges, &keep);
    let base = too_deep(&jumps)?;
    let (mut path, mut c, mut culprit) = (vec![table.chains[base].name.as_str()], base, None);
    while let Some((to, r)) = edges.from(c).find(|&(to, r)| keep(c, r) && jumps[to] + 1 == jumps[c]) {
        if at(c, r) == last {
            culprit = Some(table.chains[c].rules[r].span);
        }
        path.push(&table.chains[to].name);
        c = to;
    }
    if path.len() > 8 {
        path.splice(3..path.len() - 2, ["…"]);
    }
    Some(
        Diagnostic::warning(
            culprit?,
            format!(
                "iptables-nft-restore refuses this rule (\"Too many links\"): with it a packet can make {} jumps from a \
                 built-in chain ({}), and nf_tables allows {NFT_MAX_JUMPS}",
                jumps[base],
                path.join(" → ")
            ),
        )
        .with_hint(
            "iptables-legacy-restore loads it; nf_tables keeps 16 chains on its jump stack, counting gotos too, and \
             then refuses every later rule of the table as well. Nest fewer chains to load this with the nf_tables backend",
        ),
    )
}

/// The matches and targets whose kernel modules turn on the reassembly of fragments before the raw table
/// in the network namespace: connection tracking (their checks call `nf_ct_netns_get`), and the
/// transparent proxy's socket lookups (`nf_defrag_ipv4_enable`). `CT --notrack` and `NOTRACK` do not (they
/// return before asking for conntrack), nor does a nat table with only its policies: all recorded in
/// `tests/data/fragments`, as are every name here but cluster, CONNSECMARK and SYNPROXY (from the kernel's
/// source: their checks call `nf_ct_netns_get`).
const DEFRAG_MATCHES: &[&str] =
    &["conntrack", "state", "connmark", "connbytes", "connlimit", "connlabel", "helper", "cluster", "socket"];
const DEFRAG_TARGETS: &[&str] =
    &["CONNMARK", "CT", "SNAT", "DNAT", "MASQUERADE", "REDIRECT", "NETMAP", "CONNSECMARK", "SYNPROXY", "TPROXY"];

/// Warnings about `-f` (second and later fragments) where no chain ever sees such a fragment: anywhere,
/// when the dump uses connection tracking (which reassembles packets at priority -400, before the raw
/// table), and in a chain reached only from INPUT (an IPv4 packet is reassembled before local delivery,
/// `ip_local_deliver`). Both recorded as the kernel's rule counters after fragments were sent through
/// dumps with and without such rules (`tests/data/fragments`). Run once the whole dump is read.
pub(crate) fn fragment_warnings(rs: &Ruleset, diags: &mut Vec<Diagnostic>) {
    let rules = || rs.tables.iter().flat_map(|t| t.chains.iter().flat_map(|c| c.rules.iter()));
    let fragment_rule =
        |r: &&crate::ruleset::Rule| r.generic.has_fragment() && r.generic.fragment().is_some_and(|f| !f.negated);
    if rs.family != Family::Ipv4 || !rules().any(|r| fragment_rule(&r)) {
        return;
    }
    let tracking = rules().find_map(|r| {
        let m = r.matches.iter().find(|m| DEFRAG_MATCHES.contains(&m.kind.name()));
        match (m, &r.target) {
            (Some(m), _) => Some((m.span, format!("-m {}", m.kind.name()))),
            (None, Some(t))
                if DEFRAG_TARGETS.contains(&&*t.name)
                    && !matches!(&t.kind, crate::targets::TargetKind::Ct(ct) if ct.notrack) =>
            {
                Some((r.span, format!("-j {}", t.name)))
            }
            _ => None,
        }
    });
    let mut found = Vec::new();
    for table in &rs.tables {
        let hooks = reachable_hooks(table);
        for (c, chain) in table.chains.iter().enumerate() {
            for r in chain.rules.iter().filter(fragment_rule) {
                let message = match &tracking {
                    Some((at, what)) => format!(
                        "`-f` never matches: this dump's `{what}` (line {}) turns on the reassembly of fragments \
                         before the raw table, so no chain sees a later fragment",
                        at.line
                    ),
                    None if hooks[c] == Hook::Input.bit() => "`-f` never matches in a chain reached only from \
                         INPUT: the kernel reassembles an IPv4 packet before it delivers it locally"
                        .to_string(),
                    None => continue,
                };
                found.push(Diagnostic::warning(r.span, message).with_hint(
                    "the chains see the whole packet once it is reassembled; a rule meant for fragments has \
                     nothing to do here",
                ));
            }
        }
    }
    found.sort_by_key(|d| d.span.start);
    diags.extend(found);
}

/// For each chain of `table` (by index), the hooks from which it can be reached through jumps and gotos,
/// as [`Hook::bit`]s. A user chain nothing reaches has none.
pub fn reachable_hooks(table: &Table) -> Vec<u8> {
    reach(table, &Edges::of(table))
}

fn reach(table: &Table, edges: &Edges) -> Vec<u8> {
    let mut hooks = vec![0u8; table.chains.len()];
    let mut stack: Vec<(usize, u8)> =
        table.chains.iter().enumerate().filter_map(|(i, c)| c.hook.map(|h: Hook| (i, h.bit()))).collect();
    while let Some((c, bits)) = stack.pop() {
        if hooks[c] & bits == bits {
            continue;
        }
        hooks[c] |= bits;
        for (next, _) in edges.from(c) {
            stack.push((next, hooks[c]));
        }
    }
    hooks
}

/// A fast 64-bit hash of a rule's text, for finding duplicates (which are then compared in full): eight
/// bytes at a time, each word mixed in by a multiplication and a rotation.
fn text_hash(text: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, word: [u8; 8]| (h ^ u64::from_le_bytes(word)).wrapping_mul(K).rotate_left(29);
    let mut chunks = text.chunks_exact(8);
    let mut h = (text.len() as u64).wrapping_mul(K);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = mix(h, word);
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    mix(h, last)
}

/// Whether two rules whose lines read the same have the same addresses: a line with lists (`-d A,B`) makes
/// a rule for each address, which are not the same rule.
fn same_addresses(a: &crate::ruleset::Rule, b: &crate::ruleset::Rule) -> bool {
    let value = |n: Option<crate::ruleset::Negatable<crate::ruleset::Network>>| n.map(|n| (n.value, n.negated));
    value(a.generic.source()) == value(b.generic.source())
        && value(a.generic.destination()) == value(b.generic.destination())
}

/// Finds the rules of a chain whose text (`text_of`, compared without surrounding blanks) and addresses are
/// those of an earlier rule: `same` gets `rule << 32 | first rule with that text` in rule order (a pair packed in one
/// number, so that its sort is the one `keys` needs anyway). `keys` is scratch space.
fn duplicates<'a, 't>(
    rules: &'a [crate::ruleset::Rule],
    text_of: impl Fn(&'a crate::ruleset::Rule) -> &'t [u8],
    keys: &mut Vec<u64>,
    same: &mut Vec<u64>,
) {
    same.clear();
    keys.clear();
    // The low bits of a key hold the rule's index, the others the top of its text's hash.
    let index_bits = usize::BITS - rules.len().leading_zeros();
    let index_mask = (1u64 << index_bits) - 1;
    keys.reserve_exact(rules.len());
    keys.extend(rules.iter().enumerate().map(|(i, r)| (text_hash(text_of(r).trim_ascii()) & !index_mask) | i as u64));
    keys.sort_unstable();
    for group in keys.chunk_by(|a, b| a & !index_mask == b & !index_mask).filter(|g| g.len() > 1) {
        // In index order; each rule is compared with the earlier ones until one reads the same.
        for (n, &later) in group.iter().enumerate().skip(1) {
            let later = (later & index_mask) as usize;
            let text = text_of(&rules[later]).trim_ascii();
            let first = group[..n]
                .iter()
                .map(|&k| (k & index_mask) as usize)
                .find(|&i| text_of(&rules[i]).trim_ascii() == text && same_addresses(&rules[i], &rules[later]));
            if let Some(first) = first {
                same.push((later as u64) << 32 | first as u64);
            }
        }
    }
    same.sort_unstable();
}

/// Things in chain `c` that load but are probably mistakes: the chain itself when nothing jumps to it and
/// no hook reaches it (`used` is false), duplicated rules, rules after one that ends the chain for every
/// packet. `input` is the dump, whose text a rule's span points into; `keys` and `same` are scratch space.
fn chain_warnings(
    table: &Table,
    c: usize,
    used: bool,
    input: &str,
    keys: &mut Vec<u64>,
    same: &mut Vec<u64>,
    diags: &mut Vec<Diagnostic>,
) {
    // A rule's text without its counters: two rules that read the same are the same rule.
    let text_of = |r: &crate::ruleset::Rule| -> &[u8] {
        let line = input.as_bytes().get(r.span.range()).unwrap_or_default();
        match line.first() {
            Some(b'[') => line.iter().position(|&b| b == b']').map_or(line, |i| &line[i + 1..]),
            _ => line,
        }
    };
    let chain = &table.chains[c];
    if chain.hook.is_none() && !used && chain.declared {
        diags.push(Diagnostic::warning(
            chain.span,
            format!("no rule jumps to chain {}, so no packet ever reaches it", chain.name),
        ));
    }
    // Each rule's text hash with the rule's index in its low bits, sorted: rules whose texts may be equal
    // sit side by side. Eight bytes a rule, where a hash map would take twenty or more.
    duplicates(&chain.rules, text_of, keys, same);
    let mut same = same.iter().peekable();
    let mut ended_at: Option<usize> = None;
    for (i, rule) in chain.rules.iter().enumerate() {
        if let Some(&pair) = same.next_if(|&&pair| (pair >> 32) as usize == i) {
            let first = pair as u32;
            diags.push(Diagnostic::warning(
                rule.span,
                format!("rule {} of {} is the same as rule {}", i + 1, chain.name, first + 1),
            ));
        }
        if let Some(end) = ended_at {
            if end + 1 == i {
                diags.push(Diagnostic::warning(
                    rule.span,
                    format!(
                        "no packet reaches rule {} of {}: rule {} before it ends the chain for every packet",
                        i + 1,
                        chain.name,
                        end + 1
                    ),
                ));
            }
            continue;
        }
        let unconditional = rule.generic.matches_everything() && rule.matches.iter().all(|m| m.name() == "comment");
        let terminal =
            rule.target.as_ref().is_some_and(|t| t.goto || matches!(t.kind, crate::targets::TargetKind::Standard(_)));
        if unconditional && terminal {
            ended_at = Some(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;

    fn first_error(input: &str) -> Option<(u32, String)> {
        parse(input, None).errors().next().map(|d| (d.span.line, d.message.clone()))
    }

    #[test]
    fn loops_are_refused() {
        let e = first_error("*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -s 192.0.2.1 -j A\nCOMMIT\n");
        let (line, message) = e.expect("a loop error");
        assert_eq!(line, 7);
        assert!(message.contains("A → B → A"), "{message}");
    }

    #[test]
    fn only_reachable_loops_are_refused() {
        assert!(first_error("*filter\n:A - [0:0]\n-A A -j A\nCOMMIT\n").is_none());
        assert!(first_error("*filter\n:A - [0:0]\n-A INPUT -g A\n-A A -j A\nCOMMIT\n").is_some());
    }

    #[test]
    fn targets_and_matches_where_the_kernel_refuses_them() {
        let e = first_error("*nat\n:PREROUTING ACCEPT [0:0]\n:X - [0:0]\n-A INPUT -j X\n-A X -p tcp -j DNAT --to-destination 192.0.2.1\nCOMMIT\n");
        assert_eq!(e.map(|(l, m)| (l, m.contains("PREROUTING and OUTPUT"))), Some((5, true)));
        assert!(first_error("*nat\n:X - [0:0]\n-A X -j MASQUERADE\nCOMMIT\n").is_none());
        assert!(first_error("*filter\n:X - [0:0]\n-A X -j MASQUERADE\nCOMMIT\n").is_some());
        assert!(first_error("*mangle\n-A INPUT -j REJECT\nCOMMIT\n").is_some());
        assert!(first_error("*filter\n-A INPUT -m owner --uid-owner 0 -j ACCEPT\nCOMMIT\n").is_some());
    }

    #[test]
    fn warns_where_f_never_sees_a_fragment() {
        let lines = |input: &str| -> Vec<u32> {
            parse(input, None).warnings().filter(|d| d.message.contains("`-f` never")).map(|d| d.span.line).collect()
        };
        // Connection tracking anywhere in the dump: nowhere (here in mangle, tracked from filter).
        let tracked =
            "*mangle\n-A PREROUTING -f -j DROP\nCOMMIT\n*filter\n-A INPUT -m state --state NEW -j ACCEPT\nCOMMIT\n";
        assert_eq!(lines(tracked), [2]);
        // Without it: not in INPUT (or a chain only INPUT reaches), but in FORWARD a fragment is seen.
        let stateless =
            "*filter\n:X - [0:0]\n-A INPUT -j X\n-A X -f -j DROP\n-A INPUT -f -j DROP\n-A FORWARD -f -j DROP\nCOMMIT\n";
        assert_eq!(lines(stateless), [4, 5]);
        // `! -f` takes every packet that is not a later fragment: nothing to say.
        assert!(lines("*filter\n-A INPUT ! -f -j ACCEPT\nCOMMIT\n").is_empty());
    }

    #[test]
    fn warns_about_duplicates_unused_chains_and_shadowed_rules() {
        let p = parse("*filter\n:INPUT ACCEPT [0:0]\n:UNUSED - [0:0]\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -p tcp -j ACCEPT\n-A INPUT -j DROP\n-A INPUT -s 192.0.2.1 -j ACCEPT\nCOMMIT\n", None);
        assert!(!p.has_errors());
        let w: Vec<(u32, &str)> = p.warnings().map(|d| (d.span.line, d.message.as_str())).collect();
        assert!(w.iter().any(|(l, m)| *l == 3 && m.contains("UNUSED")), "{w:?}");
        assert!(w.iter().any(|(l, m)| *l == 5 && m.contains("same as rule 1")), "{w:?}");
        assert!(w.iter().any(|(l, m)| *l == 7 && m.contains("no packet reaches rule 4")), "{w:?}");
    }

    #[test]
    fn each_duplicate_names_the_first_rule_with_its_text() {
        // Counters and trailing blanks do not make a rule different; the warnings come in line order.
        let p = parse(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp -j ACCEPT\n-A INPUT -p tcp -j ACCEPT\n\
             [3:4] -A INPUT -p udp -j ACCEPT\n-A INPUT -p tcp -j ACCEPT  \n-A INPUT -p udp -j ACCEPT\n\
             -A INPUT -p udp -j DROP\nCOMMIT\n",
            None,
        );
        assert!(!p.has_errors());
        let w: Vec<(u32, &str)> = p.warnings().map(|d| (d.span.line, d.message.as_str())).collect();
        assert_eq!(
            w,
            [
                (5, "rule 3 of INPUT is the same as rule 1"),
                (6, "rule 4 of INPUT is the same as rule 2"),
                (7, "rule 5 of INPUT is the same as rule 1"),
            ]
        );
    }

    #[test]
    fn the_rules_of_an_address_list_are_not_duplicates() {
        // `-d A,B` makes one rule for each address; a second line with the same list repeats both.
        let p = parse(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 192.0.2.1 -d 192.0.2.17,192.0.2.7 -j RETURN\n\
             -A INPUT -s 192.0.2.1 -d 192.0.2.17,192.0.2.7 -j RETURN\n-A INPUT -s 192.0.2.1,192.0.2.1 -j DROP\n\
             COMMIT\n",
            None,
        );
        assert!(!p.has_errors());
        let w: Vec<(u32, &str)> = p.warnings().map(|d| (d.span.line, d.message.as_str())).collect();
        assert_eq!(
            w,
            [
                (4, "rule 3 of INPUT is the same as rule 1"),
                (4, "rule 4 of INPUT is the same as rule 2"),
                (5, "rule 6 of INPUT is the same as rule 5"),
            ]
        );
    }
}
