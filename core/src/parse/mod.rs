//! Reading an `iptables-save` dump the way `iptables-restore` reads it, line by line.
//!
//! The line structure (`*table`, `:CHAIN POLICY [p:b]`, `COMMIT`, comments) follows `ios_restore` in
//! iptables' `iptables-restore.c`; a rule line is split into arguments ([`token`]) and read as
//! `do_command4` reads its argument vector ([`rule`]). Every finding is collected with its position; one
//! bad line does not stop the reading of the rest.

pub mod rule;
pub mod token;

use crate::diag::{Diagnostic, MAX_DIAGNOSTICS};
use crate::ruleset::{Chain, Counters, Family, Policy, Ruleset, Table, TableName};
use crate::span::Span;
use nom::bytes::complete::{tag, take_while1};
use nom::combinator::{all_consuming, map_res};
use nom::sequence::{delimited, separated_pair};
use nom::{IResult, Parser};

/// A dump as read: the ruleset as far as it could be built, and every finding.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Parsed {
    /// The tables, chains and rules. Lines with errors are left out.
    pub ruleset: Ruleset,
    /// Errors and warnings in the order of the lines they are about.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Whether any finding is an error (`iptables-restore` would refuse the dump).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Reads `input` as a dump of `family`, or of the family it looks like when `family` is `None`.
pub fn parse(input: &str, family: Option<Family>) -> Parsed {
    read(input, family, workers(input))
}

/// [`parse`] with `workers` threads for the `-A` lines.
fn read(input: &str, family: Option<Family>, workers: usize) -> Parsed {
    let family = family.unwrap_or_else(|| detect_family(input));
    let mut reader = Reader {
        input,
        ruleset: Ruleset { family, tables: Vec::new() },
        diags: Vec::new(),
        current: None,
        scratch: rule::Scratch::default(),
        pending: Vec::new(),
        workers,
        worker_scratch: Vec::new(),
        foreign_hinted: false,
    };
    let mut line_start = 0;
    let mut last_line = 0;
    let mut ended_with_newline = true;
    let bytes = input.as_bytes();
    let mut index = 0;
    let mut crlf_warned = false;
    while line_start < bytes.len() {
        // The line with its newline, if it has one: what `split_inclusive('\n')` gives, found faster.
        let end = (token::find_any(bytes, line_start, [b'\n'; 3]) + 1).min(bytes.len());
        let raw = &input[line_start..end];
        index += 1;
        let line_no = index as u32;
        last_line = line_no;
        ended_with_newline = raw.ends_with('\n');
        let mut text = raw.strip_suffix('\n').unwrap_or(raw);
        if let Some(stripped) = text.strip_suffix('\r') {
            text = stripped;
            if !crlf_warned {
                crlf_warned = true;
                reader.flush();
                let span = Span::within_line(line_no, line_start, text, text.len(), text.len() + 1);
                reader.diags.push(
                    Diagnostic::warning(
                        span,
                        "this dump has Windows line endings (\\r\\n); iptables-restore would refuse them",
                    )
                    .with_hint(
                        "chainwalk reads them as plain newlines; convert the file with `dos2unix` before loading it",
                    ),
                );
            }
        }
        reader.line(line_no, line_start, text, ended_with_newline);
        line_start += raw.len();
    }
    reader.flush();
    if let Some(t) = reader.current {
        let span = Span {
            start: input.len() as u32,
            end: input.len() as u32,
            line: last_line + u32::from(ended_with_newline),
            col: 1,
        };
        let table = reader.ruleset.tables[t].name;
        reader.diags.push(
            Diagnostic::error(span, format!("the {table} table is not finished: `COMMIT` expected at the end"))
                .with_hint("iptables-restore applies a table only at its `COMMIT` line"),
        );
    }
    let mut diags = reader.diags;
    crate::validate::fragment_warnings(&reader.ruleset, &mut diags);
    cap(&mut diags);
    Parsed { ruleset: reader.ruleset, diagnostics: diags }
}

/// Keeps at most [`MAX_DIAGNOSTICS`] errors and as many warnings, with a last note on what was left out.
fn cap(diags: &mut Vec<Diagnostic>) {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if errors <= MAX_DIAGNOSTICS && warnings <= MAX_DIAGNOSTICS {
        return;
    }
    let (mut e, mut w) = (0, 0);
    diags.retain(|d| {
        let n = if d.is_error() { &mut e } else { &mut w };
        *n += 1;
        *n <= MAX_DIAGNOSTICS
    });
    let last = diags.last().map(|d| d.span).unwrap_or_default();
    let dropped = errors.saturating_sub(MAX_DIAGNOSTICS) + warnings.saturating_sub(MAX_DIAGNOSTICS);
    diags.push(Diagnostic::warning(last, format!("{dropped} more findings are not shown")));
}

/// Guesses the family of a dump: from the first address in a rule (only the tool of that family loads
/// the dump, whatever its comments say), else from its header (`# Generated by ip6tables-save`; other
/// comments are not read), else from IPv6-only protocols and modules.
pub fn detect_family(input: &str) -> Family {
    let mut v6_hint = false;
    let mut header = None;
    for line in input.lines() {
        if first_byte_is(line, b'#') {
            // Only the tool's own header names the family; other comments may mention either tool.
            if !line.contains("Generated by") {
                continue;
            }
            if header.is_none() && line.contains("ip6tables") {
                header = Some(Family::Ipv6);
            } else if header.is_none() && line.contains("iptables") {
                header = Some(Family::Ipv4);
            }
            continue;
        }
        if !(first_byte_is(line, b'-') || first_byte_is(line, b'[')) {
            continue;
        }
        let mut words = line.split_ascii_whitespace().peekable();
        while let Some(w) = words.next() {
            match w {
                "-s" | "-d" | "--source" | "--destination" | "--src-range" | "--dst-range" | "--to-destination"
                | "--to-source" => {
                    let Some(a) = words.peek() else { continue };
                    if a.contains("::") || a.matches(':').count() >= 2 {
                        return Family::Ipv6;
                    }
                    if a.starts_with(|c: char| c.is_ascii_digit()) && a.contains('.') {
                        return Family::Ipv4;
                    }
                }
                "ipv6-icmp" | "icmpv6" | "icmp6" | "hl" | "--icmpv6-type" | "rt" | "frag" | "ipv6header" => {
                    v6_hint = true
                }
                _ => v6_hint |= w.starts_with("icmp6-"),
            }
        }
    }
    match header {
        Some(family) => family,
        None if v6_hint => Family::Ipv6,
        None => Family::Ipv4,
    }
}

/// From how many bytes of input on a dump's `-A` lines are read on several threads.
const PARALLEL_FROM: usize = 256 * 1024;

/// How many `-A` lines are read together, on the threads, before they are applied.
const BATCH: usize = 2048;

/// How many `-A` lines a thread takes at a time from a batch: the threads take pieces until none is
/// left, so that a thread the machine runs late gets fewer of them.
const PIECE: usize = 128;

/// How many threads read a dump's `-A` lines: one for small dumps and where there are no threads (the
/// browser), else as many as the machine has cores, up to 4.
fn workers(input: &str) -> usize {
    crate::pieces::workers(input.len(), PARALLEL_FROM)
}

/// The state of reading: the ruleset so far and the table being filled.
struct Reader<'a> {
    /// The whole dump.
    input: &'a str,
    ruleset: Ruleset,
    diags: Vec<Diagnostic>,
    current: Option<usize>,
    /// The buffers for reading a rule line, kept from line to line to save allocations on each.
    scratch: rule::Scratch<'a>,
    /// `-A` lines (number, first byte, text) not read yet. Appending changes no chain that another
    /// `-A` line could refer to, so a run of them can be read on several threads against the table as it
    /// stands, then applied in order: the result and the order of findings are those of reading them one
    /// by one. Any other line applies the pending ones first.
    pending: Vec<(u32, usize, &'a str)>,
    /// How many threads read pending lines; with one, lines are read as they come.
    workers: usize,
    /// The buffers of the threads that read pending lines, this one's first.
    worker_scratch: Vec<rule::Scratch<'a>>,
    /// Whether a line outside any table was looked at for the output of another tool.
    foreign_hinted: bool,
}

/// What a line outside any table says about the text, when it is the output of another tool than
/// `iptables-save` that people paste by mistake: `iptables -L`, `iptables -S`, `nft list ruleset`, or
/// iptables commands.
fn foreign_format_hint(line: &str) -> Option<&'static str> {
    let words: Vec<&str> = line.split_whitespace().take(4).collect();
    let first = words.first().copied().unwrap_or("");
    let list = first == "Chain" && words.get(2).is_some_and(|w| first_byte_is(w, b'('));
    let nft = matches!(first, "table" | "flush" | "add")
        && words.get(1).is_some_and(|f| matches!(*f, "ip" | "ip6" | "inet" | "arp" | "bridge" | "netdev" | "table"));
    let command = |w: &str| {
        let tool = w.rsplit('/').next().unwrap_or(w);
        matches!(
            tool,
            "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft" | "ip6tables-legacy" | "ip6tables-nft"
        )
    };
    if list {
        Some(
            "this looks like the output of `iptables -L`, which leaves out much of each rule; paste the output of \
             `iptables-save` (or `ip6tables-save`) instead",
        )
    } else if nft {
        Some(
            "this looks like an nftables ruleset (`nft list ruleset`); chainwalk reads `iptables-save` dumps, and \
             `iptables-save` prints the rules that iptables-nft made in that form",
        )
    } else if command(first) || (first == "sudo" && words.get(1).is_some_and(|w| command(w))) {
        Some(
            "these look like iptables commands, not a dump: load them on a test machine or in a network namespace \
             and paste `iptables-save`, or write them as a dump (each table's lines without `iptables` under \
             `*filter` or `*nat`, then `COMMIT`)",
        )
    } else if matches!(first, "-P" | "-N" | "-A") {
        Some(
            "this looks like the output of `iptables -S`, which names no table: put `*filter` (or the table it \
             lists, as in `iptables -t nat -S`) before it and `COMMIT` after it, or paste `iptables-save`",
        )
    } else {
        None
    }
}

impl<'a> Reader<'a> {
    fn line(&mut self, line: u32, start: usize, text: &'a str, has_newline: bool) {
        if text.is_empty() || first_byte_is(text, b'#') {
            return;
        }
        if self.workers > 1 && self.current.is_some() && text.starts_with("-A ") {
            self.pending.push((line, start, text));
            if self.pending.len() == BATCH {
                self.flush();
            }
            return;
        }
        self.flush();
        let whole = Span::within_line(line, start, text, 0, text.len());
        if self.current.is_some() && (text == "COMMIT" || (text.trim_end() == "COMMIT" && !first_byte_is(text, b' '))) {
            if text != "COMMIT" {
                self.diags.push(Diagnostic::error(
                    whole,
                    "`COMMIT` must stand alone on its line: iptables-restore refuses trailing blanks after it",
                ));
            } else if !has_newline {
                self.diags.push(
                    Diagnostic::warning(
                        whole,
                        "the last `COMMIT` has no newline after it; iptables-legacy-restore refuses that",
                    )
                    .with_hint("add a newline at the end of the file (iptables-nft-restore does not care)"),
                );
            }
            let t = self.current.take().unwrap_or_default();
            self.ruleset.tables[t].commit = Some(whole);
            self.ruleset.tables[t].shrink();
            crate::validate::table_on(&self.ruleset, t, self.input, self.workers, &mut self.diags);
            return;
        }
        if let Some(rest) = text.strip_prefix('*') {
            if self.current.is_none() {
                self.table(line, start, text, rest);
                return;
            }
        }
        if let Some(rest) = text.strip_prefix(':') {
            if let Some(t) = self.current {
                self.chain(t, line, start, text, rest);
                return;
            }
        }
        match self.current {
            Some(t) => {
                rule::command_line_with(&mut self.ruleset, t, line, start, text, &mut self.diags, &mut self.scratch)
            }
            None => {
                let message = if text.trim().is_empty() {
                    "a line of only blanks: iptables-restore reads it as a command and refuses it".to_string()
                } else if first_byte_is(text, b'-') || first_byte_is(text, b'[') {
                    "this rule comes before any `*table` line".to_string()
                } else if first_byte_is(text, b' ') || first_byte_is(text, b'\t') {
                    "iptables-restore does not allow blanks at the start of a line".to_string()
                } else {
                    format!(
                        "`{}` is not a table header, a chain, a rule or a comment",
                        text.split_whitespace().next().unwrap_or(text)
                    )
                };
                let mut d = Diagnostic::error(whole, message);
                // Said once, at the first line: what the text looks like, if it is another tool's output.
                if !self.foreign_hinted {
                    self.foreign_hinted = true;
                    if let Some(hint) = foreign_format_hint(text) {
                        d = d.with_hint(hint);
                    }
                }
                self.diags.push(d);
            }
        }
    }

    /// Reads the pending `-A` lines, in pieces taken by this thread and the others, and applies them in
    /// order.
    fn flush(&mut self) {
        let (Some(t), false) = (self.current, self.pending.is_empty()) else {
            return;
        };
        let family = self.ruleset.family;
        let table = &self.ruleset.tables[t];
        let lines = &self.pending[..];
        if self.worker_scratch.len() < self.workers {
            self.worker_scratch.resize_with(self.workers, rule::Scratch::default);
        }
        let pieces = crate::pieces::run(lines.len().div_ceil(PIECE), &mut self.worker_scratch, |scratch, piece| {
            let lines = &lines[piece * PIECE..lines.len().min((piece + 1) * PIECE)];
            let mut diags = Vec::new();
            let mut built = Vec::with_capacity(lines.len());
            for &(line, start, text) in lines {
                if let Some(b) = rule::read_append(table, family, line, start, text, &mut diags, scratch) {
                    built.push(b);
                }
            }
            (diags, built)
        });
        self.pending.clear();
        let chains = &mut self.ruleset.tables[t].chains;
        for (mut diags, built) in pieces {
            self.diags.append(&mut diags);
            for (c, b) in built {
                rule::push_rules(&mut chains[c].rules, b);
            }
        }
    }

    fn table(&mut self, line: u32, start: usize, text: &str, rest: &str) {
        // iptables-restore takes the first word after `*` (`strtok`), so blanks before it are allowed.
        let lead = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let name = rest[lead..].split([' ', '\t']).next().unwrap_or("");
        let span = Span::within_line(line, start, text, 1 + lead, 1 + lead + name.len());
        let Some(table) = TableName::from_name(name) else {
            let message = if name.is_empty() {
                "the table name is missing after `*`".to_string()
            } else {
                format!("there is no table called `{name}`")
            };
            self.diags.push(
                Diagnostic::error(span, message).with_hint("the tables are raw, mangle, nat, filter and security"),
            );
            // Read the block anyway, as a table of its own, so its lines are still checked.
            self.open_table(TableName::Filter, span, true);
            return;
        };
        self.open_table(table, span, false);
    }

    fn open_table(&mut self, name: TableName, span: Span, invalid: bool) {
        let table = Table::new(name, span);
        if invalid {
            self.ruleset.tables.push(table);
            self.current = Some(self.ruleset.tables.len() - 1);
            return;
        }
        if let Some(i) = self.ruleset.tables.iter().position(|t| t.name == name && t.commit.is_some()) {
            // A second block for the same table flushes it and starts over, as iptables-restore does.
            let policies: Vec<_> = self.ruleset.tables[i]
                .chains
                .iter()
                .filter(|c| c.hook.is_some())
                .map(|c| (c.name.clone(), c.policy))
                .collect();
            let mut table = table;
            for c in &mut table.chains {
                if let Some((_, p)) = policies.iter().find(|(n, _)| *n == c.name) {
                    c.policy = *p;
                }
            }
            self.diags.push(Diagnostic::warning(
                span,
                format!("a second `*{name}` block: iptables-restore flushes the table and the earlier block is lost"),
            ));
            self.ruleset.tables[i] = table;
            self.current = Some(i);
        } else {
            self.ruleset.tables.push(table);
            self.current = Some(self.ruleset.tables.len() - 1);
        }
    }

    fn chain(&mut self, t: usize, line: u32, start: usize, text: &str, rest: &str) {
        let mut words = Vec::new();
        let mut pos = 1;
        for w in split_blanks(rest) {
            if !w.is_empty() {
                words.push((w, Span::within_line(line, start, text, pos, pos + w.len())));
            }
            pos += w.len() + 1;
        }
        let whole = Span::within_line(line, start, text, 0, text.len());
        let Some(&(name, name_span)) = words.first() else {
            self.diags.push(Diagnostic::error(whole, "the chain name is missing after `:`"));
            return;
        };
        if name.len() > crate::validate::MAX_CHAIN_NAME_LEN {
            self.diags.push(Diagnostic::error(
                name_span,
                format!(
                    "chain name `{name}` is {} characters long; the kernel allows at most {}",
                    name.len(),
                    crate::validate::MAX_CHAIN_NAME_LEN
                ),
            ));
            return;
        }
        let Some(&(policy_text, policy_span)) = words.get(1) else {
            self.diags.push(Diagnostic::error(
                whole,
                format!(
                    "chain `{name}` has no policy: write `ACCEPT` or `DROP` for a built-in chain, `-` for a user chain"
                ),
            ));
            return;
        };
        let counters = words.get(2).and_then(|(w, _)| parse_counters(w));
        let table = &mut self.ruleset.tables[t];
        let table_name = table.name;
        let policy = match policy_text {
            "-" => None,
            "ACCEPT" => Some(Policy::Accept),
            "DROP" => Some(Policy::Drop),
            other => {
                self.diags.push(
                    Diagnostic::error(policy_span, format!("`{other}` is not a policy"))
                        .with_hint("a built-in chain's policy is ACCEPT or DROP; a user chain has `-`"),
                );
                return;
            }
        };
        if let Some(existing) = table.chain_index(name).map(|i| &mut table.chains[i]) {
            if existing.hook.is_some() {
                if let Some(p) = policy {
                    existing.policy = Some(p);
                }
                existing.counters = counters.or(existing.counters);
                existing.span = whole;
                existing.declared = true;
            } else {
                self.diags.push(Diagnostic::error(
                    name_span,
                    format!("chain `{name}` is declared twice in the {table_name} table"),
                ));
            }
            return;
        }
        if crate::targets::Verdict::from_name(name).is_some() {
            self.diags
                .push(Diagnostic::error(name_span, format!("`{name}` is a verdict and cannot be the name of a chain")));
            return;
        }
        if let Some(p) = policy {
            let message = if crate::ruleset::Hook::from_chain_name(name).is_some() {
                format!("the {table_name} table has no built-in {name} chain, so it cannot have a policy")
            } else {
                format!("`{name}` is a user chain, which cannot have a policy ({})", p.as_str())
            };
            self.diags.push(
                Diagnostic::error(policy_span, message).with_hint("write `-` instead of the policy for a user chain"),
            );
            return;
        }
        table.push_chain(Chain {
            name: name.to_string(),
            hook: None,
            policy: None,
            counters,
            span: whole,
            declared: true,
            rules: Vec::new(),
        });
    }
}

/// A counter as iptables reads it with `sscanf("%llu")`: after blanks, an optional sign, decimal digits
/// (what follows them is ignored); a number too big is the largest, a negative one wraps. `None` without
/// a digit.
pub fn scan_counter(text: &str) -> Option<u64> {
    crate::matches::u32::c_strtoul(text, 10).map(|(n, _)| n.unwrap_or(u64::MAX))
}

/// Reads `[packets:bytes]`.
pub fn parse_counters(text: &str) -> Option<Counters> {
    fn number(i: &str) -> IResult<&str, u64> {
        map_res(take_while1(|c: char| c.is_ascii_digit()), str::parse).parse(i)
    }
    all_consuming(delimited(tag("["), separated_pair(number, tag(":"), number), tag("]")))
        .parse(text)
        .ok()
        .map(|(_, (packets, bytes))| Counters { packets, bytes })
}

/// Whether `text` starts with the ASCII byte `b`: `starts_with` with a `char`, which the browser's wasm
/// (built for size) does not inline but calls, encoding the char and comparing through `memcmp`, on
/// every word of a dump.
#[inline(always)]
pub(crate) fn first_byte_is(text: &str, b: u8) -> bool {
    text.as_bytes().first() == Some(&b)
}

/// `text` split at each blank and tab: `split([' ', '\t'])`, by bytes rather than by chars (see
/// [`first_byte_is`]).
fn split_blanks(text: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    text.as_bytes().split(|&b| b == b' ' || b == b'\t').map(move |w| {
        let word = &text[from..from + w.len()];
        from += w.len() + 1;
        word
    })
}

/// Whether `text` starts with one of the ASCII bytes `any` (see [`first_byte_is`]).
#[inline(always)]
pub(crate) fn first_byte_in(text: &str, any: &[u8]) -> bool {
    text.as_bytes().first().is_some_and(|b| any.contains(b))
}

#[cfg(test)]
mod tests;
