//! Reading one command line of a table (`-A CHAIN ...`, `-I`, `-N`, `-P`, ...) as `do_command4` in
//! iptables reads its arguments: generic options, `-m` matches with their options, the target and its
//! options, in any order, with options found in the extensions loaded so far (the newest first) and
//! abbreviated long options accepted when they are unambiguous, as `getopt_long` does.

use super::token::{tokenize_into, Token};
use super::{first_byte_in, first_byte_is, parse_counters};
use crate::diag::Diagnostic;
use crate::ext::{Args, ExtCtx, Opt, OptSpec};
use crate::ruleset::{
    Counters, Family, Generic, GenericParts, Interface, Negatable, Network, Policy, Protocol, Rule, Ruleset, Table,
};
use crate::span::Span;
use crate::targets::{Target, TargetKind, Verdict};
use crate::{matches, targets, verbatim};

/// A command of a restore line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Append,
    Insert,
    Delete,
    Replace,
    NewChain,
    Policy,
    Flush,
    DeleteChain,
    Zero,
    Rename,
    /// `-C`: fails the line unless the chain has the same rule.
    Check,
    /// `-L`: lists a chain (to standard output); changes nothing.
    List,
    /// `-S`: prints a chain's rules (to standard output); changes nothing.
    ListRules,
}

/// The command a generic option's letter names (`A` of `-A` and `--append`), if it names one.
fn command_of(letter: u8) -> Option<Command> {
    Some(match letter {
        b'A' => Command::Append,
        b'I' => Command::Insert,
        b'D' => Command::Delete,
        b'R' => Command::Replace,
        b'N' => Command::NewChain,
        b'P' => Command::Policy,
        b'F' => Command::Flush,
        b'X' => Command::DeleteChain,
        b'Z' => Command::Zero,
        b'E' => Command::Rename,
        b'C' => Command::Check,
        b'L' => Command::List,
        b'S' => Command::ListRules,
        _ => return None,
    })
}

/// The long names of the generic options, for abbreviations (`--dest`, `--proto`), in alphabetical order
/// so that a name and the names it abbreviates are found by binary search.
const GENERIC_LONG: &[(&str, &str)] = &[
    ("append", "-A"),
    ("check", "-C"),
    ("delete", "-D"),
    ("delete-chain", "-X"),
    ("destination", "-d"),
    ("dst", "-d"),
    ("exact", "-x"),
    ("flush", "-F"),
    ("fragment", "-f"),
    ("goto", "-g"),
    ("in-interface", "-i"),
    ("insert", "-I"),
    ("ipv4", "-4"),
    ("ipv6", "-6"),
    ("jump", "-j"),
    ("list", "-L"),
    ("list-rules", "-S"),
    ("match", "-m"),
    ("new-chain", "-N"),
    ("numeric", "-n"),
    ("out-interface", "-o"),
    ("policy", "-P"),
    ("protocol", "-p"),
    ("rename-chain", "-E"),
    ("replace", "-R"),
    ("set-counters", "-c"),
    ("source", "-s"),
    ("src", "-s"),
    ("table", "-t"),
    ("verbose", "-v"),
    ("wait", "-w"),
    ("zero", "-Z"),
];

/// An extension loaded by the arguments: its name, where it was loaded, its option table. Its options are
/// in [`Line::opts`].
struct Loaded<'a> {
    name: std::borrow::Cow<'a, str>,
    span: Span,
    implicit: bool,
    spec: Option<&'static [OptSpec]>,
    /// For a target, the index of the table's chain of that name, if there is one.
    chain: Option<usize>,
}

/// The addresses of a `-s` or `-d` list (`-s a,b` makes one rule per address), the first kept inline:
/// nearly every rule gives one address or none.
#[derive(Default)]
struct AddrList {
    first: Option<Negatable<Network>>,
    rest: Vec<Negatable<Network>>,
}

impl AddrList {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    /// Each address, or one `None` when there is none.
    fn choices(self) -> Vec<Option<Negatable<Network>>> {
        match self.first {
            None => vec![None],
            Some(f) => std::iter::once(f).chain(self.rest).map(Some).collect(),
        }
    }
}

/// What reading one rule line needs, kept from line to line by the reader so that its buffers are
/// allocated once rather than for every line.
#[derive(Default)]
pub(super) struct Scratch<'a> {
    tokens: Vec<Token<'a>>,
    line: Line<'a>,
}

/// Everything a line said, before it is applied to the table.
#[derive(Default)]
struct Line<'a> {
    command: Option<(Command, Span)>,
    /// Where the command's own arguments (chain name, rule number, policy, new name) are among the tokens.
    command_args: std::ops::Range<usize>,
    generic: GenericParts,
    matches: Vec<Loaded<'a>>,
    target: Option<(Loaded<'a>, bool)>,
    counters: Option<Counters>,
    skip: bool,
    /// Whether `-p all` was given (stored as no protocol).
    protocol_all: bool,
    /// Whether `-p` was spelled `mh`: iptables loads a protocol's match by the name as written (or, for a
    /// number, by its `/etc/protocols` name), and only `mh` names the mh match (135 is `mobility-header`).
    protocol_mh: bool,
    /// Every address of a `-s` list (`-s a,b` makes one rule per address).
    sources: AddrList,
    /// Every address of a `-d` list.
    destinations: AddrList,
    /// Where `-i` and `-o` were given, even as `+` (which the rule does not keep).
    interfaces_given: [Option<Span>; 2],
    /// Whether the line says it is for the other family (`-6` in an IPv4 dump), so it is skipped.
    other_family: bool,
    /// The options of the extensions, in the order given.
    opts: Vec<Opt<'a>>,
    /// For each of `opts`, the extension it belongs to: its index in `matches`, or `usize::MAX` for the
    /// target.
    slots: Vec<usize>,
    /// The chain the last `-A` line appended to: (where its table's `*` line starts, name, index). Kept
    /// from line to line, since a dump appends to one chain many lines in a row; forgotten when chains
    /// are deleted or renamed.
    last_chain: Option<(u32, &'a str, usize)>,
}

impl<'a> Line<'a> {
    /// Empties the line for the next one, keeping the room its lists have.
    fn reset(&mut self) {
        let mut matches = std::mem::take(&mut self.matches);
        let mut opts = std::mem::take(&mut self.opts);
        let mut slots = std::mem::take(&mut self.slots);
        matches.clear();
        opts.clear();
        slots.clear();
        let last_chain = self.last_chain;
        *self = Line { matches, opts, slots, last_chain, ..Line::default() };
    }

    /// The options of the extension in `slot`. They nearly always stand together after it; when other
    /// options came between them, they are gathered in a list of their own.
    fn opts_of(&self, slot: usize) -> std::borrow::Cow<'_, [Opt<'a>]> {
        let first = self.slots.iter().position(|&s| s == slot);
        let last = self.slots.iter().rposition(|&s| s == slot);
        match (first, last) {
            (Some(f), Some(l)) if self.slots[f..=l].iter().all(|&s| s == slot) => {
                std::borrow::Cow::Borrowed(&self.opts[f..=l])
            }
            (Some(_), Some(_)) => std::borrow::Cow::Owned(
                self.slots.iter().zip(&self.opts).filter(|(s, _)| **s == slot).map(|(_, o)| o.clone()).collect(),
            ),
            _ => std::borrow::Cow::Borrowed(&[]),
        }
    }
}

/// Reads line `line` (text `text`, starting at byte `start`) of table `t` and applies it.
pub fn command_line(ruleset: &mut Ruleset, t: usize, line: u32, start: usize, text: &str, diags: &mut Vec<Diagnostic>) {
    command_line_with(ruleset, t, line, start, text, diags, &mut Scratch::default());
}

/// [`command_line`] with the buffers the reader keeps from line to line.
pub(super) fn command_line_with<'a>(
    ruleset: &mut Ruleset,
    t: usize,
    line: u32,
    start: usize,
    text: &'a str,
    diags: &mut Vec<Diagnostic>,
    scratch: &mut Scratch<'a>,
) {
    let family = ruleset.family;
    let Some((whole, tokens, parsed)) = read(&ruleset.tables[t], family, line, start, text, diags, scratch) else {
        return;
    };
    if let Err(d) = apply(parsed, tokens, &mut ruleset.tables[t], whole, family, diags) {
        diags.push(d);
    }
}

/// Reads an `-A CHAIN ...` line of `table` without changing the table: the chain's index and the rule
/// (several, for address lists) to append to it, or `None` when the line has an error (in `diags`) or is
/// for the other family. Lines of appends can so be read on several threads and applied in order.
pub(super) fn read_append<'a>(
    table: &Table,
    family: Family,
    line: u32,
    start: usize,
    text: &'a str,
    diags: &mut Vec<Diagnostic>,
    scratch: &mut Scratch<'a>,
) -> Option<(usize, Built)> {
    let (whole, tokens, parsed) = read(table, family, line, start, text, diags, scratch)?;
    // A line that starts with `-A ` has that command, or read_line has refused it already.
    let Some((Command::Append, cmd_span)) = parsed.command else {
        return None;
    };
    match append(parsed, tokens, table, cmd_span, whole, family, diags) {
        Ok(appended) => Some(appended),
        Err(d) => {
            diags.push(d);
            None
        }
    }
}

/// How `strtok` splits a counters prefix `[PACKETS:BYTES]` in iptables-restore: `None` when it finds no
/// second part (the line is refused), else where the first NUL it writes past the first `]` lands, if it
/// writes one there (at the `:` that ends the first part, or at the `]` that ends the second).
fn counter_parts(text: &str) -> Option<Option<usize>> {
    let b = text.as_bytes();
    let mut i = 1;
    while b.get(i) == Some(&b':') {
        i += 1;
    }
    let colon = i + b.get(i..)?.iter().position(|&c| c == b':')?;
    let mut j = colon + 1;
    while b.get(j) == Some(&b']') {
        j += 1;
    }
    if j >= b.len() {
        return None;
    }
    let bracket = b[j..].iter().position(|&c| c == b']').map(|p| j + p);
    // The rule's text starts after the first `]`; a NUL past it cuts the rule.
    let close = text.find(']').unwrap_or(0);
    Some([Some(colon), bracket].into_iter().flatten().filter(|&c| c > close).min())
}

/// A line read up to where it would be applied: the whole line's span, its arguments, what they say.
type ReadLine<'s, 'a> = (Span, &'s [Token<'a>], &'s mut Line<'a>);

/// Reads a line up to where it would be applied: its counters, its arguments and what they say. `None`
/// when it has an error (pushed to `diags`) or is for the other family (`-4`/`-6`).
fn read<'a, 's>(
    table: &Table,
    family: Family,
    line: u32,
    start: usize,
    text: &'a str,
    diags: &mut Vec<Diagnostic>,
    scratch: &'s mut Scratch<'a>,
) -> Option<ReadLine<'s, 'a>> {
    // iptables-restore handles each line as a C string, so a NUL byte ends the line.
    let mut text = match text.find('\0') {
        Some(at) => {
            let span = Span::within_line(line, start, text, at, at + 1);
            diags.push(
                Diagnostic::warning(span, "a NUL byte: iptables-restore reads the line only up to it")
                    .with_hint("what follows the NUL byte is ignored"),
            );
            &text[..at]
        }
        None => text,
    };
    let whole = Span::within_line(line, start, text, 0, text.len());
    let mut counters = None;
    let mut offset = 0;
    if first_byte_is(text, b'[') {
        let Some(close) = text.find(']') else {
            diags.push(Diagnostic::error(whole, "the counters at the start of this line have no closing `]`"));
            return None;
        };
        // iptables-restore splits the counters with `strtok` (up to the first `:`, then up to a `]`) and reads
        // each part with `strtoull`: counters that are not numbers load (as garbage) as long as both parts
        // are there, and a `:` or `]` that strtok finds past the first `]` ends the rule there.
        let Some(cut) = counter_parts(text) else {
            let span = Span::within_line(line, start, text, 0, close + 1);
            diags.push(Diagnostic::error(span, "counters must be written `[PACKETS:BYTES]`"));
            return None;
        };
        // Not in the canonical form: what `iptables-restore -c` makes of the parts, if they are numbers.
        let scanned = || {
            let (packets, bytes) = text[1..close].trim_start_matches(':').split_once(':')?;
            Some(Counters { packets: super::scan_counter(packets)?, bytes: super::scan_counter(bytes)? })
        };
        match parse_counters(&text[..=close]).map(|c| (c, true)).or_else(|| scanned().map(|c| (c, false))) {
            Some((c, canonical)) => {
                counters = Some(c);
                if !canonical {
                    let span = Span::within_line(line, start, text, 0, close + 1);
                    diags.push(Diagnostic::warning(
                        span,
                        format!("iptables-restore -c reads these counters as [{}:{}]", c.packets, c.bytes),
                    ));
                }
            }
            None => {
                let span = Span::within_line(line, start, text, 0, close + 1);
                diags.push(Diagnostic::warning(
                    span,
                    "these counters are not numbers: iptables-restore loads the rule with whatever it makes of them",
                ));
            }
        }
        if let Some(cut) = cut {
            let span = Span::within_line(line, start, text, cut, text.len());
            diags.push(
                Diagnostic::warning(
                    span,
                    "iptables-restore reads these counters up to this character, so the rule ends before it",
                )
                .with_hint("write the counters as `[PACKETS:BYTES]`"),
            );
            text = &text[..cut];
        }
        offset = close + 1;
    }
    let Scratch { tokens, line: parsed } = scratch;
    if let Err(d) = tokenize_into(line, start, text, offset, tokens) {
        diags.push(d);
        return None;
    }
    // Warnings go straight to `diags`: they come before any error of the same line, as they were found.
    if let Err(d) = read_line(tokens, family, table, diags, parsed) {
        diags.push(d);
        return None;
    }
    if parsed.skip {
        return None;
    }
    if parsed.counters.is_none() {
        parsed.counters = counters;
    }
    Some((whole, &tokens[..], parsed))
}

fn read_line<'a>(
    tokens: &[Token<'a>],
    family: Family,
    table: &Table,
    warnings: &mut Vec<Diagnostic>,
    line: &mut Line<'a>,
) -> Result<(), Diagnostic> {
    line.reset();
    let other = if family == Family::Ipv6 { b'4' } else { b'6' };
    line.other_family = tokens.iter().any(|t| names_family(&t.text, other));
    let mut i = 0;
    let mut negate: Option<Span> = None;
    while i < tokens.len() {
        let tok = &tokens[i];
        let word: &str = &tok.text;
        // `--` ends the options, as getopt reads it; iptables refuses any word after it.
        let bytes = word.as_bytes();
        if matches!(bytes, [b'-', b'-']) {
            if let Some(next) = tokens.get(i + 1) {
                return Err(Diagnostic::error(
                    next.span,
                    format!(
                        "`{}` follows `--`, which ends the options (iptables says \"unknown arguments found on \
                         commandline\")",
                        next.text
                    ),
                ));
            }
            break;
        }
        // Quotes only group: a quoted word is read as the same word without them (`"!"` negates,
        // `"--dport"` is the option), as iptables-restore hands getopt the words unquoted.
        if !matches!(bytes, [b'-', _, ..]) {
            if matches!(bytes, [b'!']) {
                if negate.is_some() {
                    return Err(Diagnostic::error(tok.span, "two `!` in a row"));
                }
                negate = Some(tok.span);
                i += 1;
                continue;
            }
            let hint = if word == "[unsupported" {
                // iptables-nft-save prints this for an extension revision it cannot show.
                "iptables-nft-save writes `[unsupported revision]` where it cannot print a match or target of \
                 the kernel's ruleset: the rule's real options are lost; see them with `nft list ruleset`"
            } else {
                "an argument that contains blanks must be in double quotes"
            };
            return Err(Diagnostic::error(
                tok.span,
                format!("`{word}` is not an option here (iptables says \"Bad argument `{word}'\")"),
            )
            .with_hint(hint));
        }
        // Long options may carry their argument after `=`.
        // Of the short options, only `-m` and `-g` may carry their value attached (`-mtcp`): iptables
        // reads the others' values from the next word.
        let (name, inline_arg): (std::borrow::Cow<'_, str>, _) = match bytes {
            [b'-', b'-', ..] => match crate::ruleset::addr::split_at_byte(&word[2..], b'=') {
                Some((n, a)) => (format!("--{n}").into(), Some(a)),
                None => (word.into(), None),
            },
            [b'-', b'm' | b'g', _, ..] => (word[..2].into(), Some(&word[2..])),
            _ => (word.into(), None),
        };
        let short = canonical_generic(&name, line).map_err(|mut d| {
            d.span = tok.span;
            d
        })?;
        let neg_span = negate.take();
        let negated = neg_span.is_some();
        let start_span = neg_span.unwrap_or(tok.span);
        // Options are told apart by their letter: comparing bytes rather than strings keeps the reader fast
        // in the browser, whose wasm is built for size.
        let letter = short.map(|s| s.as_bytes()[1]);
        if let Some(cmd) = letter.and_then(command_of) {
            if negated {
                return Err(Diagnostic::error(start_span, "a command cannot be negated with `!`"));
            }
            if let Some((_, prev)) = line.command {
                return Err(Diagnostic::error(tok.span, "a line can have only one command")
                    .with_hint(format!("the command was already given at column {}", prev.col)));
            }
            line.command = Some((cmd, tok.span));
            i += 1;
            // The command's arguments: everything up to the next option. The first of a command that
            // requires one (getopt's `A:`) is the next word, whatever it is: `-A -6` names a chain `-6`.
            let first = i;
            let required = !matches!(
                cmd,
                Command::Flush | Command::DeleteChain | Command::Zero | Command::List | Command::ListRules
            );
            if required && i < tokens.len() {
                i += 1;
            }
            while i < tokens.len() && !first_byte_is(&tokens[i].text, b'-') && tokens[i].text != "!" {
                i += 1;
            }
            line.command_args = first..i;
            continue;
        }
        match letter {
            Some(b'c') if negated => {
                return Err(Diagnostic::error(start_span, "`!` cannot come before `-c`"));
            }
            Some(b'c') => {
                // As iptables reads `-c PACKETS BYTES` (or `-c PACKETS,BYTES`): each with `sscanf("%llu")`.
                if line.counters.is_some() {
                    return Err(Diagnostic::error(tok.span, "`-c` may be given only once"));
                }
                let needs = || Diagnostic::error(tok.span, "`-c` needs two numbers: packets and bytes");
                let packets = tokens.get(i + 1).ok_or_else(needs)?;
                let (bytes, used) = match packets.text.get(1..).and_then(|t| t.find(',')) {
                    Some(at) => (&packets.text[at + 2..], 2),
                    None => match tokens.get(i + 2) {
                        Some(t) if !first_byte_in(&t.text, b"-!") => (t.text.as_ref(), 3),
                        _ => return Err(needs()),
                    },
                };
                let number = |text: &str, what: &str| {
                    super::scan_counter(text).ok_or_else(|| {
                        Diagnostic::error(tok.span, format!("`-c`: the {what} counter `{text}` is not a number"))
                    })
                };
                line.counters =
                    Some(Counters { packets: number(&packets.text, "packet")?, bytes: number(bytes, "byte")? });
                i += used;
            }
            Some(b's' | b'd' | b'i' | b'o' | b'p' | b'j') if inline_arg.is_some() => {
                let flag = short.unwrap_or_default();
                // iptables reads these options' values as the word the option ended in (`argv[optind - 1]`):
                // for `--source=X`, the whole word, which is rarely a value it takes (`--source=any/0` is:
                // a zero mask makes any address text 0.0.0.0; `--out=eth0` names an interface `--out=eth0`).
                let hint = format!(
                    "iptables takes the whole word `{word}` as the value of `{flag}`; write `{} {}`",
                    name,
                    inline_arg.unwrap_or_default()
                );
                let span = start_span.to(tok.span);
                generic_option(flag, tok, negated, span, family, table, line, warnings).map_err(|d| {
                    if d.hint.is_none() {
                        d.with_hint(hint)
                    } else {
                        d
                    }
                })?;
                i += 1;
            }
            Some(b's' | b'd' | b'i' | b'o' | b'p' | b'm' | b'j' | b'g') => {
                let (value, old_neg, next) = take_value(tokens, i, inline_arg, &name)?;
                let negated = negated || old_neg.is_some();
                if let Some(s) = old_neg {
                    warnings.push(old_negation_warning(s, &name, &value.text));
                }
                let span = start_span.to(value.span);
                i = next;
                let flag = short.unwrap_or_default();
                generic_option(flag, &value, negated, span, family, table, line, warnings)?;
            }
            Some(b'f') => {
                if family == Family::Ipv6 {
                    return Err(
                        Diagnostic::error(tok.span, "`-f` is not supported in IPv6").with_hint("use `-m frag` instead")
                    );
                }
                if line.generic.fragment.is_some() {
                    return Err(Diagnostic::error(tok.span, "`-f` is given more than once"));
                }
                line.generic.fragment = Some(Negatable { value: (), negated, span: start_span.to(tok.span) });
                i += 1;
            }
            Some(b't') => {
                return Err(Diagnostic::error(
                    tok.span,
                    "`-t` cannot be used in a restore file: the table is the one of the `*table` line above",
                ));
            }
            Some(b'4' | b'6') => {
                // A line for the other family is skipped, as iptables-restore does.
                let for_v6 = letter == Some(b'6');
                if for_v6 != (family == Family::Ipv6) {
                    // iptables stops reading the line right there: what follows may be of the other family.
                    // The extension options before it were parsed as they came, so iptables refuses a bad
                    // value among them; chainwalk does not build them (a listed difference: building them
                    // here made the browser's reader a fifth slower, and no dump iptables-save writes has a
                    // `-4` or `-6` in it).
                    line.skip = true;
                    return Ok(());
                }
                i += 1;
            }
            Some(b'v') => i += 1,
            Some(b'w') => {
                return Err(Diagnostic::error(
                    tok.span,
                    "`-w` (wait for the xtables lock) cannot be used in a restore file",
                )
                .with_hint("iptables-restore takes `-w` on its own command line, not in the file"));
            }
            Some(b'n' | b'x') => {
                let flag = short.unwrap_or_default();
                return Err(Diagnostic::error(
                    tok.span,
                    format!("`{flag}` is an option for listing rules; iptables-restore refuses it here"),
                ));
            }
            Some(_) => unreachable_generic(tok.span)?,
            None => {
                i = extension_option(tokens, i, &name, inline_arg, negated, start_span, family, line, warnings)?;
            }
        }
    }
    if let Some(s) = negate {
        return Err(Diagnostic::error(s, "`!` at the end of the line negates nothing"));
    }
    let negated_addr = [&line.sources.first, &line.destinations.first].into_iter().flatten().find(|n| n.negated);
    if let Some(n) = negated_addr.filter(|_| line.sources.len() > 1 || line.destinations.len() > 1) {
        // iptables expands a list into one rule per address, which a negation would turn into an OR.
        return Err(Diagnostic::error(n.span, "`!` cannot be used when `-s` or `-d` lists several addresses")
            .with_hint("negate each address in a rule of its own, or use an ipset"));
    }
    Ok(())
}

/// Whether `word` is `-4` or `--ipv4` (for `digit` `4`), or `-6` or `--ipv6` (for `6`).
fn names_family(word: &str, digit: u8) -> bool {
    match word.as_bytes() {
        [b'-', d] | [b'-', b'-', b'i', b'p', b'v', d] => *d == digit,
        _ => false,
    }
}

fn unreachable_generic(span: Span) -> Result<(), Diagnostic> {
    Err(Diagnostic::error(span, "this option is not supported in a restore file"))
}

fn old_negation_warning(span: Span, option: &str, value: &str) -> Diagnostic {
    Diagnostic::warning(span, format!("old negation syntax `{option} ! {value}`; iptables 1.8 refuses it"))
        .with_hint(format!("write `! {option} {value}`"))
}

/// The short form of a generic option (`--source` is `-s`), or `None` if `word` is not one.
fn canonical_generic(word: &str, line: &Line<'_>) -> Result<Option<&'static str>, Diagnostic> {
    let Some(long) = word.strip_prefix("--") else {
        return Ok(short_generic(word));
    };
    // The names `long` abbreviates (itself included) stand together from where it would be inserted.
    let from = GENERIC_LONG.partition_point(|(l, _)| *l < long);
    let abbreviated = GENERIC_LONG[from..].iter().take_while(|(l, _)| l.starts_with(long));
    if let Some((_, s)) = GENERIC_LONG.get(from).filter(|(l, _)| *l == long) {
        return Ok(Some(s));
    }
    // An exact option of a loaded extension wins over any abbreviation (and is what most long options are).
    if loaded_exts(line).any(|(spec, _)| spec.iter().any(|o| o.name == long)) {
        return Ok(None);
    }
    // An abbreviation of a generic option counts only if no loaded extension has an option it abbreviates.
    let mut generic = abbreviated.map(|(_, s)| *s);
    let Some(first) = generic.next().filter(|_| !long.is_empty()) else {
        return Ok(None);
    };
    let one_generic = generic.all(|s| s == first);
    // An extension kept verbatim may have any option, so it takes what only abbreviates a generic one.
    let verbatim_last = match (&line.target, line.matches.last()) {
        (Some((t, _)), _) => t.spec.is_none() && crate::targets::exists(&t.name),
        (None, Some(m)) => m.spec.is_none(),
        (None, None) => false,
    };
    let ext_prefix = loaded_exts(line).any(|(spec, _)| spec.iter().any(|o| o.name.starts_with(long)));
    if ext_prefix && !verbatim_last {
        // getopt_long refuses a prefix that fits options of both the command and an extension.
        return Err(Diagnostic::error(
            Span::default(),
            format!("`--{long}` is ambiguous: it abbreviates a generic option and an option of a loaded module"),
        ));
    }
    if !(verbatim_last || ext_prefix) && one_generic {
        return Ok(Some(first));
    }
    Ok(None)
}

/// The short generic option `word` is, if it is one.
fn short_generic(word: &str) -> Option<&'static str> {
    const SHORT: &[&str] = &[
        "-s", "-d", "-i", "-o", "-p", "-f", "-m", "-j", "-g", "-c", "-t", "-4", "-6", "-v", "-n", "-x", "-w", "-A",
        "-I", "-D", "-R", "-N", "-P", "-F", "-X", "-Z", "-E", "-C", "-L", "-S",
    ];
    match word.as_bytes() {
        [b'-', letter] => SHORT.iter().copied().find(|s| s.as_bytes()[1] == *letter),
        _ => None,
    }
}

/// The loaded extensions with known option tables, newest first, with their index (`usize::MAX` for the target).
fn loaded_exts<'l>(line: &'l Line<'_>) -> impl Iterator<Item = (&'static [OptSpec], usize)> + 'l {
    let target = line.target.as_ref().and_then(|(t, _)| t.spec.map(|s| (s, usize::MAX)));
    target.into_iter().chain(line.matches.iter().enumerate().rev().filter_map(|(i, m)| m.spec.map(|s| (s, i))))
}

/// Takes the value of an option with one argument, which `getopt` takes whatever it looks like. An
/// `!` in its place is the old negation form, and the value is the argument after it.
fn take_value<'a>(
    tokens: &[Token<'a>],
    i: usize,
    inline: Option<&str>,
    name: &str,
) -> Result<(Token<'a>, Option<Span>, usize), Diagnostic> {
    if let Some(a) = inline {
        let mut t = tokens[i].clone();
        t.text = a.to_string().into();
        return Ok((t, None, i + 1));
    }
    let Some(v) = tokens.get(i + 1) else {
        return Err(Diagnostic::error(tokens[i].span, format!("`{name}` needs an argument")));
    };
    // Before another option or at the end of the line, `!` is the value itself (an interface may be
    // called `!`), as iptables 1.8 reads it.
    let option_follows = tokens.get(i + 2).is_none_or(|t| first_byte_is(&t.text, b'-') && t.text.len() > 1);
    if v.text == "!" && !option_follows {
        let Some(v2) = tokens.get(i + 2) else {
            return Err(Diagnostic::error(v.span, "no argument follows `!`"));
        };
        return Ok((v2.clone(), Some(v.span.to(v2.span)), i + 3));
    }
    Ok((v.clone(), None, i + 2))
}

#[allow(clippy::too_many_arguments)]
fn generic_option<'a>(
    flag: &str,
    value: &Token<'a>,
    negated: bool,
    span: Span,
    family: Family,
    table: &Table,
    line: &mut Line<'a>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    let text: &str = &value.text;
    let err = |m: String| Diagnostic::error(value.span, m);
    let dup = |what: &str| Diagnostic::error(span, format!("`{what}` is given more than once"));
    let letter = flag.as_bytes().get(1).copied().unwrap_or_default();
    match letter {
        // iptables reads addresses after the whole line; a line it skips (`-6` in an IPv4 dump) never
        // gets there, so its addresses are not checked (recorded).
        b's' | b'd' if line.other_family => {}
        b's' | b'd' => {
            // A comma-separated list makes one rule per address (sources first, then destinations).
            let mut nets = AddrList::default();
            for part in text.split(',') {
                let net = Negatable { value: Network::parse(part, family).map_err(err)?, negated, span };
                if nets.first.is_none() {
                    nets.first = Some(net);
                } else {
                    nets.rest.push(net);
                }
            }
            let (slot, list) = if letter == b's' {
                (&mut line.generic.source, &mut line.sources)
            } else {
                (&mut line.generic.destination, &mut line.destinations)
            };
            if slot.is_some() {
                return Err(dup(flag));
            }
            // The whole address space, not negated, is what the kernel stores for no address at all.
            *slot = nets.first.clone().filter(|n| n.negated || !n.value.is_any());
            *list = nets;
        }
        b'i' | b'o' => {
            if text.is_empty() {
                return Err(Diagnostic::error(
                    span,
                    "an empty interface name: iptables refuses it (\"Empty interface is likely to be undesired\")",
                )
                .with_hint(format!("leave `{flag}` out to match every interface, or write `{flag} +`")));
            }
            let iface = Interface::parse(text).map_err(err)?;
            let slot = if letter == b'i' { &mut line.generic.in_interface } else { &mut line.generic.out_interface };
            if slot.is_some() {
                return Err(dup(flag));
            }
            // `+` alone matches every interface, but the rule keeps it (libxtables keeps the `+` in the entry,
            // so the kernel's TRACE calls a plain verdict with it `rule`, not `policy`; iptables-save prints
            // none).
            *slot = Some(Negatable { value: iface, negated, span });
            line.interfaces_given[usize::from(letter == b'o')] = Some(span);
        }
        b'p' => {
            if line.generic.protocol.is_some() || line.protocol_all {
                return Err(dup(flag));
            }
            let proto = Protocol::parse(text).map_err(err)?;
            if proto.is_all() && negated {
                return Err(Diagnostic::error(span, "`! -p all` would match nothing; iptables refuses it"));
            }
            line.generic.protocol = Some(Negatable { value: proto, negated, span });
            line.protocol_mh = text.eq_ignore_ascii_case("mh");
            if proto.is_all() {
                // `-p all` is no protocol test; keep it only for the duplicate check above.
                line.generic.protocol = None;
                line.protocol_all = true;
            }
        }
        b'm' => {
            if negated {
                return Err(Diagnostic::error(
                    span,
                    "a match cannot be negated as a whole; negate its options instead",
                ));
            }
            if text.is_empty() {
                return Err(err("`-m` needs a module name".into()));
            }
            let spec = matches::options(text);
            let known = matches::unmodelled_options(text);
            if spec.is_none() {
                if matches::exists(text) {
                    warnings.push(verbatim::unmodelled(span, "match", text));
                } else {
                    return Err(err(format!("there is no match module called `{text}`"))
                        .with_hint("iptables says \"Couldn't load match\"; check the spelling"));
                }
            }
            line.matches.push(Loaded {
                name: value.text.clone(),
                span,
                implicit: false,
                spec: spec.or(known),
                chain: None,
            });
        }
        b'j' | b'g' => {
            if negated {
                return Err(Diagnostic::error(span, "a target cannot be negated"));
            }
            if line.target.is_some() {
                return Err(Diagnostic::error(span, "a rule can have only one target (`-j` or `-g`)"));
            }
            let goto = letter == b'g';
            if text.is_empty() {
                return Err(err(format!("`{flag}` needs a target name")));
            }
            if text == "DROP" && table.name == crate::ruleset::TableName::Nat {
                return Err(err("the nat table is not for filtering, so iptables refuses DROP in it".into())
                    .with_hint("drop packets in the filter table (or mangle/raw)"));
            }
            let chain = table.chain_index(text);
            let is_chain = chain.is_some();
            // A user chain of this name wins over a target extension of the same name (`:MARK - [0:0]` then
            // `-j MARK` jumps to the chain), and the extension's options are then unknown, as in iptables.
            let spec = if goto || is_chain { None } else { targets::options(text) };
            if goto && !is_chain {
                return Err(err(format!(
                    "`-g {text}`: goto needs a user chain of this table, and there is no chain `{text}`"
                )));
            }
            if !goto && Verdict::from_name(text).is_none() && spec.is_none() {
                if is_chain {
                } else if targets::exists(text) {
                    warnings.push(verbatim::unmodelled(span, "target", text));
                } else {
                    return Err(err(format!(
                        "there is no chain or target called `{text}` in the {} table",
                        table.name
                    ))
                    .with_hint(format!(
                        "declare the chain with `:{text} - [0:0]` before this line, or check the spelling"
                    )));
                }
            }
            line.target = Some((Loaded { name: value.text.clone(), span, implicit: false, spec, chain }, goto));
        }
        b'c' => {
            return Err(Diagnostic::error(
                span,
                "`-c` takes two arguments; write counters as `[PACKETS:BYTES]` at the start of the line",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Reads an option that belongs to an extension, with its arguments, and returns the index after it.
#[allow(clippy::too_many_arguments)]
fn extension_option<'a>(
    tokens: &[Token<'a>],
    i: usize,
    name: &str,
    inline: Option<&str>,
    negated: bool,
    start_span: Span,
    family: Family,
    line: &mut Line<'a>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<usize, Diagnostic> {
    let tok = &tokens[i];
    let Some(long) = name.strip_prefix("--") else {
        return Err(Diagnostic::error(tok.span, format!("unknown option `{name}`")));
    };
    let mut resolved = resolve(line, long, tok.span)?;
    if resolved.is_none() {
        // iptables loads the match of the rule's protocol when an option is unknown (`-p tcp --dport 22`).
        if let Some(p) = &line.generic.protocol {
            if let Some(m) = matches::implicit_for(p.value, family).filter(|&m| m != "mh" || line.protocol_mh) {
                if !line.matches.iter().any(|l| l.name == m) {
                    line.matches.push(Loaded {
                        name: m.into(),
                        span: start_span,
                        implicit: true,
                        spec: matches::options(m),
                        chain: None,
                    });
                    resolved = resolve(line, long, tok.span)?;
                    // Keep the implicit match only if the option is one of its own.
                    let in_implicit = matches!(resolved, Some((slot, _, _)) if slot == line.matches.len() - 1);
                    if !in_implicit {
                        line.matches.pop();
                        resolved = resolve(line, long, tok.span)?;
                    }
                }
            }
        }
    }
    let (slot, spec_name, args) = match resolved {
        Some(r) => r,
        None => {
            // An extension kept verbatim takes any option given right after it.
            let last_unmodelled = match (&line.target, line.matches.last()) {
                (Some((t, _)), _)
                    if t.spec.is_none()
                        && targets::options(&t.name).is_none()
                        && Verdict::from_name(&t.name).is_none()
                        && t.chain.is_none() =>
                {
                    Some(usize::MAX)
                }
                (None, Some(m)) if m.spec.is_none() => Some(line.matches.len() - 1),
                _ => None,
            };
            match last_unmodelled {
                Some(s) => (s, None, None),
                None => {
                    let mut d = Diagnostic::error(tok.span, format!("unknown option `{name}`"));
                    if let Some(hint) = option_hint(line) {
                        d = d.with_hint(hint);
                    }
                    return Err(d);
                }
            }
        }
    };
    let mut next = i + 1;
    let mut args_taken = crate::ext::ArgList::default();
    let mut old_neg = None;
    if let Some(a) = inline {
        let mut t = tok.clone();
        t.text = a.to_string().into();
        args_taken.push(t);
    }
    let wanted = match args {
        Some(Args::Zero) => 0,
        Some(Args::One) => 1,
        Some(Args::Two) => 2,
        Some(Args::Optional) => {
            usize::from(inline.is_some() || tokens.get(i + 1).is_some_and(|v| !first_byte_in(&v.text, b"-!")))
        }
        None => usize::MAX,
    };
    while args_taken.len() < wanted {
        let Some(v) = tokens.get(next) else {
            if wanted == usize::MAX {
                break;
            }
            let what = if wanted == 2 { "two arguments" } else { "an argument" };
            return Err(Diagnostic::error(tok.span, format!("`{name}` needs {what}")));
        };
        let bang = v.text == "!";
        // At the end of the line or before another option, `!` is the value itself (`--log-prefix !`), as
        // getopt hands it over; before a value, it is the old form `--option ! value`. For an option of
        // unknown arity, a `!` before another option negates that option instead.
        let after = tokens.get(next + 1);
        let option_after = after.is_none_or(|t| first_byte_is(&t.text, b'-') && t.text.len() > 1);
        if bang && args_taken.is_empty() && old_neg.is_none() && (wanted == usize::MAX || !option_after) {
            if wanted == usize::MAX && after.is_none_or(|t| first_byte_is(&t.text, b'-')) {
                break;
            }
            let Some(v2) = after else {
                return Err(Diagnostic::error(v.span, "no argument follows `!`"));
            };
            old_neg = Some(v.span);
            args_taken.push(v2.clone());
            next += 2;
            continue;
        }
        let value_like = !first_byte_is(&v.text, b'-') || v.text == "-";
        // An option chainwalk does not know the arguments of takes a quoted word as its value.
        if wanted == usize::MAX && (bang || !(value_like || v.quoted)) {
            break;
        }
        if wanted == 2 && args_taken.len() == 1 && !value_like {
            return Err(Diagnostic::error(tok.span, format!("`{name}` needs two arguments")));
        }
        args_taken.push(v.clone());
        next += 1;
    }
    if let Some(s) = old_neg {
        warnings.push(old_negation_warning(s, name, args_taken.first().map(|t| t.text.as_ref()).unwrap_or("")));
    }
    let end = args_taken.last().map(|t| t.span).unwrap_or(tok.span);
    let spec_name: &'a str = match spec_name {
        Some(n) => n,
        None => match &tok.text {
            std::borrow::Cow::Borrowed(b) => {
                let w: &'a str = b;
                let w = w.strip_prefix("--").unwrap_or(w);
                w.split('=').next().unwrap_or(w)
            }
            std::borrow::Cow::Owned(_) => return Err(Diagnostic::error(tok.span, "an option name cannot be quoted")),
        },
    };
    let opt =
        Opt { name: spec_name, negated: negated || old_neg.is_some(), args: args_taken, span: start_span.to(end) };
    if slot != usize::MAX || line.target.is_some() {
        line.opts.push(opt);
        line.slots.push(slot);
    }
    Ok(next)
}

/// Where an option goes: the extension's slot (`usize::MAX` for the target), the option's full name when
/// the extension's table knows it, and how many arguments it takes.
type Resolved = (usize, Option<&'static str>, Option<Args>);

/// Finds which loaded extension an option belongs to: an exact name first (the newest extension wins, as
/// in iptables' merged option table), then an unambiguous abbreviation.
fn resolve(line: &Line<'_>, long: &str, span: Span) -> Result<Option<Resolved>, Diagnostic> {
    for (spec, slot) in loaded_exts(line) {
        if let Some(o) = spec.iter().find(|o| o.name == long) {
            return Ok(Some((slot, Some(o.name), Some(o.args))));
        }
    }
    if long.is_empty() {
        return Ok(None);
    }
    let mut found: Vec<(usize, &'static OptSpec)> = Vec::new();
    for (spec, slot) in loaded_exts(line) {
        for o in spec.iter().filter(|o| o.name.starts_with(long)) {
            if !found.iter().any(|(_, f)| f.name == o.name) {
                found.push((slot, o));
            }
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [(slot, o)] => Ok(Some((*slot, Some(o.name), Some(o.args)))),
        many => {
            let names: Vec<String> = many.iter().map(|(_, o)| format!("--{}", o.name)).collect();
            Err(Diagnostic::error(span, format!("`--{long}` is ambiguous: it could be {}", names.join(", "))))
        }
    }
}

fn option_hint(line: &Line<'_>) -> Option<String> {
    let (name, spec) = match (&line.target, line.matches.last()) {
        (Some((t, _)), _) => (format!("the {} target", t.name), t.spec),
        (None, Some(m)) => (format!("the {} match", m.name), m.spec),
        (None, None) => return Some("an option of a match needs its `-m MODULE` (or `-p PROTOCOL`) before it".into()),
    };
    let spec = spec?;
    let names: Vec<String> = spec.iter().map(|o| format!("--{}", o.name)).collect();
    if names.is_empty() {
        return Some(format!("{name} takes no options"));
    }
    Some(format!("{name} takes {}", names.join(", ")))
}

/// The command's argument `n`, which says `what`.
fn command_arg<'t, 'a>(
    args: &'t [Token<'a>],
    n: usize,
    what: &str,
    cmd_span: Span,
) -> Result<&'t Token<'a>, Diagnostic> {
    args.get(n).ok_or_else(|| Diagnostic::error(cmd_span, format!("this command needs {what}")))
}

/// The index of the chain that `tok` names.
fn find_chain(table: &Table, tok: &Token<'_>) -> Result<usize, Diagnostic> {
    table.chain_index(&tok.text).ok_or_else(|| {
        let d = Diagnostic::error(tok.span, format!("there is no chain `{}` in the {} table", tok.text, table.name));
        if first_byte_is(&tok.text, b'-') {
            // `-A -j ACCEPT`: the command takes the next word as its chain, whatever it is.
            d.with_hint("the chain's name is missing: the command took the option after it as the name")
        } else {
            d.with_hint(format!("declare it with `:{} - [0:0]` after the `*{}` line", tok.text, table.name))
        }
    })
}

/// Fails on a command argument from `from` on, which the command does not take.
fn no_more(args: &[Token<'_>], from: usize) -> Result<(), Diagnostic> {
    match args.get(from) {
        Some(extra) => Err(Diagnostic::error(extra.span, format!("unexpected argument `{}`", extra.text))),
        None => Ok(()),
    }
}

/// Builds what an `-A CHAIN` line appends: the chain's index and the rule, without changing the table.
fn append<'a>(
    line: &mut Line<'a>,
    tokens: &[Token<'a>],
    table: &Table,
    cmd_span: Span,
    whole: Span,
    family: Family,
    diags: &mut Vec<Diagnostic>,
) -> Result<(usize, Built), Diagnostic> {
    let args = &tokens[line.command_args.clone()];
    let name = command_arg(args, 0, "a chain name", cmd_span)?;
    let c = match (line.last_chain, &name.text) {
        (Some((table_at, last, c)), text) if table_at == table.span.start && last == &**text => c,
        (_, text) => {
            let c = find_chain(table, name)?;
            if let std::borrow::Cow::Borrowed(text) = text {
                line.last_chain = Some((table.span.start, text, c));
            }
            c
        }
    };
    no_more(args, 1)?;
    Ok((c, build_rules(line, table, c, whole, family, diags)?))
}

/// Makes room for `more` rules at the end of `rules`, growing by a quarter rather than doubling, from
/// nothing: most chains of a big dump hold a rule or two, and a doubling vector would reserve room for four;
/// a chain of a hundred thousand rules would hold room for up to a hundred thousand more at the peak (a
/// quarter keeps the spare room under a fifth of the chain, for at most four copies of it in all).
fn reserve(rules: &mut Vec<Rule>, more: usize) {
    if rules.len() + more > rules.capacity() {
        rules.reserve_exact(more.max(rules.len() / 4));
    }
}

/// Appends what [`read_append`] built to the chain's `rules`.
pub(super) fn push_rules(rules: &mut Vec<Rule>, built: Built) {
    match built {
        Built::One(rule) => {
            reserve(rules, 1);
            rules.push(rule);
        }
        Built::Many(many) => {
            reserve(rules, many.len());
            rules.extend(many);
        }
    }
}

/// Builds the rule (or runs the command) and applies it to the table.
fn apply<'a>(
    line: &mut Line<'a>,
    tokens: &[Token<'a>],
    table: &mut Table,
    whole: Span,
    family: Family,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    let Some((command, cmd_span)) = line.command else {
        return Err(
            Diagnostic::error(whole, "this line gives no command").with_hint("a rule line starts with `-A CHAIN`")
        );
    };
    if command == Command::Append {
        let (c, built) = append(line, tokens, table, cmd_span, whole, family, diags)?;
        push_rules(&mut table.chains[c].rules, built);
        return Ok(());
    }
    let args = &tokens[line.command_args.clone()];
    let arg = |n: usize, what: &str| command_arg(args, n, what, cmd_span);
    // A rule number as iptables reads it (`xtables_strtoui` from 1 to INT_MAX: C notation, `+`, blanks),
    // and then checked against the chain's `max`.
    let rule_number = |tok: &Token<'_>, max: usize| -> Result<usize, Diagnostic> {
        match crate::matches::u32::xt_strtoul(&tok.text, 0) {
            Some((Some(n), used)) if used == tok.text.len() && (1..=i32::MAX as u64).contains(&n) => {
                let n = n as usize;
                if n <= max {
                    Ok(n)
                } else {
                    Err(Diagnostic::error(
                        tok.span,
                        format!(
                            "rule number {} is out of range: the chain has {} rules",
                            tok.text,
                            max.saturating_sub(1)
                        ),
                    ))
                }
            }
            _ => Err(Diagnostic::error(tok.span, format!("`{}` is not a rule number", tok.text))),
        }
    };
    let too_many = |from: usize| no_more(args, from);
    let has_spec = line.generic != GenericParts::default() || !line.matches.is_empty() || line.target.is_some();
    match command {
        Command::Append | Command::Insert | Command::Replace | Command::Delete | Command::Check => {
            let c = find_chain(table, arg(0, "a chain name")?)?;
            let len = table.chains[c].rules.len();
            let pos = match (command, args.get(1)) {
                (Command::Insert, None) => 0,
                (Command::Insert, Some(n)) => {
                    too_many(2)?;
                    rule_number(n, len + 1)? - 1
                }
                (Command::Replace, Some(n)) => {
                    too_many(2)?;
                    rule_number(n, len)? - 1
                }
                (Command::Replace, None) => return Err(Diagnostic::error(cmd_span, "`-R` needs a rule number")),
                (Command::Delete, Some(n)) if !has_spec => {
                    too_many(2)?;
                    let n = rule_number(n, len)?;
                    table.chains[c].rules.remove(n - 1);
                    return Ok(());
                }
                (Command::Delete | Command::Check, _) => {
                    too_many(1)?;
                    usize::MAX
                }
                _ => len,
            };
            let mut built = build_rules(line, table, c, whole, family, diags)?.into_vec();
            let rules = &mut table.chains[c].rules;
            match command {
                Command::Replace => {
                    if built.len() != 1 {
                        return Err(Diagnostic::error(
                            whole,
                            "`-R` replaces one rule; an address list would make several",
                        ));
                    }
                    rules[pos] = built.remove(0);
                }
                Command::Delete | Command::Check => {
                    let rule = built.remove(0);
                    let mut wanted = String::new();
                    crate::render::save::rule_spec(&rule, &mut wanted);
                    let found = rules.iter().position(|r| {
                        let mut s = String::new();
                        crate::render::save::rule_spec(r, &mut s);
                        s == wanted
                    });
                    let flag = if command == Command::Check { "-C" } else { "-D" };
                    match found {
                        Some(i) if command == Command::Delete => {
                            rules.remove(i);
                        }
                        Some(_) => {}
                        None => {
                            return Err(Diagnostic::error(
                                whole,
                                format!("`{flag}`: no rule in the chain is the same as this one"),
                            ))
                        }
                    }
                }
                _ => {
                    reserve(rules, built.len());
                    let tail = rules.split_off(pos);
                    rules.extend(built);
                    rules.extend(tail);
                }
            }
        }
        Command::NewChain => {
            let name = arg(0, "a chain name")?;
            too_many(1)?;
            if table.chain(&name.text).is_some() || Verdict::from_name(&name.text).is_some() {
                return Err(Diagnostic::error(name.span, format!("chain `{}` already exists", name.text)));
            }
            if name.text.len() > crate::validate::MAX_CHAIN_NAME_LEN {
                return Err(Diagnostic::error(
                    name.span,
                    format!(
                        "chain name `{}` is too long (at most {} characters)",
                        name.text,
                        crate::validate::MAX_CHAIN_NAME_LEN
                    ),
                ));
            }
            table.push_chain(crate::ruleset::Chain {
                name: name.text.to_string(),
                hook: None,
                policy: None,
                counters: None,
                span: whole,
                declared: true,
                rules: Vec::new(),
            });
        }
        Command::Policy => {
            let c = find_chain(table, arg(0, "a chain name")?)?;
            let p = arg(1, "a policy")?;
            too_many(2)?;
            let policy = match p.text.as_ref() {
                "ACCEPT" => Policy::Accept,
                "DROP" => Policy::Drop,
                other => return Err(Diagnostic::error(p.span, format!("`{other}` is not a policy (ACCEPT or DROP)"))),
            };
            let chain = &mut table.chains[c];
            if chain.hook.is_none() {
                return Err(Diagnostic::error(
                    p.span,
                    format!("`{}` is a user chain, which cannot have a policy", chain.name),
                ));
            }
            chain.policy = Some(policy);
        }
        Command::Flush | Command::Zero | Command::List | Command::ListRules => {
            // `-Z`, `-L` and `-S` take a rule number after the chain: `-Z`'s must be a rule of the chain.
            too_many(if command == Command::Flush { 1 } else { 2 })?;
            let which = match args.first() {
                Some(n) => vec![find_chain(table, n)?],
                None => (0..table.chains.len()).collect(),
            };
            if let Some(n) = args.get(1) {
                let max = if command == Command::Zero { table.chains[which[0]].rules.len() } else { usize::MAX };
                rule_number(n, max)?;
            }
            match command {
                Command::Flush => {
                    for c in which {
                        table.chains[c].rules.clear();
                    }
                }
                Command::List | Command::ListRules => {
                    let flag = if command == Command::List { "-L" } else { "-S" };
                    diags.push(Diagnostic::warning(
                        cmd_span,
                        format!("`{flag}` lists chains; in a restore file it prints them and changes nothing"),
                    ));
                }
                _ => {}
            }
        }
        Command::DeleteChain => {
            too_many(1)?;
            let doomed: Vec<String> = match args.first() {
                Some(n) => {
                    let c = find_chain(table, n)?;
                    if table.chains[c].hook.is_some() {
                        return Err(Diagnostic::error(n.span, "a built-in chain cannot be deleted"));
                    }
                    vec![n.text.to_string()]
                }
                None => table.chains.iter().filter(|c| c.hook.is_none()).map(|c| c.name.clone()).collect(),
            };
            for name in &doomed {
                let referenced = table
                    .chains
                    .iter()
                    .flat_map(|c| &c.rules)
                    .any(|r| r.target.as_ref().and_then(Target::chain) == Some(name));
                if referenced {
                    return Err(Diagnostic::error(
                        whole,
                        format!("chain `{name}` cannot be deleted: a rule still jumps to it"),
                    ));
                }
                // `-X` alone deletes every user chain, one by one, and fails as `-X NAME` does on one
                // that still has rules (iptables-restore 1.8.9: "line N failed").
                if table.chain(name).is_some_and(|c| !c.rules.is_empty()) {
                    return Err(Diagnostic::error(
                        whole,
                        format!("chain `{name}` cannot be deleted: it still has rules"),
                    ));
                }
            }
            table.chains.retain(|c| !doomed.contains(&c.name));
            table.reindex();
            line.last_chain = None;
        }
        Command::Rename => {
            let c = find_chain(table, arg(0, "the chain's old name")?)?;
            let new = arg(1, "the chain's new name")?;
            too_many(2)?;
            if table.chains[c].hook.is_some() {
                return Err(Diagnostic::error(cmd_span, "a built-in chain cannot be renamed"));
            }
            if table.chain(&new.text).is_some() {
                return Err(Diagnostic::error(new.span, format!("chain `{}` already exists", new.text)));
            }
            let old = std::mem::replace(&mut table.chains[c].name, new.text.to_string());
            table.reindex();
            line.last_chain = None;
            for r in table.chains.iter_mut().flat_map(|c| c.rules.iter_mut()) {
                if let Some(t) = r.target.as_mut().filter(|t| matches!(t.kind, TargetKind::Chain) && t.name == old) {
                    t.name = new.text.to_string().into();
                }
            }
        }
    }
    let takes_rule =
        matches!(command, Command::Append | Command::Insert | Command::Replace | Command::Delete | Command::Check);
    if !takes_rule && has_spec {
        diags.push(Diagnostic::warning(whole, "this command takes no rule; the options after it are ignored"));
    }
    Ok(())
}

/// The rule a command line describes, or the rules of its address lists.
pub(super) enum Built {
    One(Rule),
    Many(Vec<Rule>),
}

impl Built {
    fn into_vec(self) -> Vec<Rule> {
        match self {
            Built::One(r) => vec![r],
            Built::Many(v) => v,
        }
    }
}

/// Builds the rule (several, for address lists) that a command line describes, for chain `chain` of
/// `table`.
fn build_rules(
    line: &mut Line<'_>,
    table: &Table,
    chain: usize,
    whole: Span,
    family: Family,
    diags: &mut Vec<Diagnostic>,
) -> Result<Built, Diagnostic> {
    if line.sources.len() <= 1 && line.destinations.len() <= 1 {
        return Ok(Built::One(build_rule(line, table, chain, whole, family, diags)?));
    }
    let srcs = std::mem::take(&mut line.sources).choices();
    let dsts = std::mem::take(&mut line.destinations).choices();
    let rule = build_rule(line, table, chain, whole, family, diags)?;
    let parts = &line.generic;
    let mut rules = Vec::with_capacity(srcs.len() * dsts.len());
    for s in &srcs {
        for d in &dsts {
            let mut r = rule.clone();
            let mut p = parts.clone();
            p.source = s.clone();
            p.destination = d.clone();
            r.generic = Generic::from(p);
            rules.push(r);
        }
    }
    Ok(Built::Many(rules))
}

fn build_rule(
    line: &Line<'_>,
    table: &Table,
    chain: usize,
    whole: Span,
    family: Family,
    diags: &mut Vec<Diagnostic>,
) -> Result<Rule, Diagnostic> {
    let Line { generic, matches: loaded, target, counters, interfaces_given, .. } = line;
    let counters = *counters;
    // iptables refuses an interface a built-in chain never has.
    let chain = &table.chains[chain];
    if let Some(hook) = chain.hook {
        let chain = &chain.name;
        use crate::ruleset::Hook;
        if let (Some(i), Hook::Output | Hook::Postrouting) = (interfaces_given[0], hook) {
            return Err(Diagnostic::error(
                i,
                format!("`-i` cannot be used in {chain}: packets there have no input interface"),
            ));
        }
        if let (Some(o), Hook::Prerouting | Hook::Input) = (interfaces_given[1], hook) {
            return Err(Diagnostic::error(
                o,
                format!("`-o` cannot be used in {chain}: packets there have no output interface yet"),
            ));
        }
    }
    let mut warnings = Vec::new();
    let mut built = Vec::with_capacity(loaded.len());
    for (slot, m) in loaded.iter().enumerate() {
        let opts = line.opts_of(slot);
        let span = opts.iter().fold(m.span, |s, o| s.to(o.span));
        let ctx = ExtCtx { family, table: table.name, protocol: generic.protocol.as_ref(), span: m.span };
        let kind = matches::build(&m.name, &opts, &ctx, &mut warnings)?;
        built.push(matches::Match { span, implicit: m.implicit, kind });
    }
    let target = match target {
        None => None,
        Some((t, goto)) => {
            let goto = *goto;
            let opts = line.opts_of(usize::MAX);
            let span = opts.iter().fold(t.span, |s, o| s.to(o.span));
            let kind = if let Some(v) = Verdict::from_name(&t.name).filter(|_| !goto) {
                if let Some(o) = opts.first() {
                    return Err(Diagnostic::error(o.span, format!("{} takes no options", t.name)));
                }
                TargetKind::Standard(v)
            } else if let Some(c) = t.chain.filter(|_| t.spec.is_none()) {
                if let Some(o) = opts.first() {
                    return Err(Diagnostic::error(o.span, format!("a jump to chain `{}` takes no options", t.name)));
                }
                if table.chains[c].hook.is_some() {
                    return Err(Diagnostic::error(
                        t.span,
                        format!("`{}` is a built-in chain; rules cannot jump to it", t.name),
                    ));
                }
                TargetKind::Chain
            } else {
                let ctx = ExtCtx { family, table: table.name, protocol: generic.protocol.as_ref(), span: t.span };
                targets::build(&t.name, &opts, &ctx, &mut warnings)?
            };
            let name = match targets::static_name(&t.name) {
                Some(n) => n.into(),
                None => t.name.to_string().into(),
            };
            let chain_hint = t.chain.map_or_else(Default::default, crate::targets::ChainHint::at);
            Some(Target { name, span, goto, kind, chain_hint })
        }
    };
    diags.append(&mut warnings);
    Ok(Rule {
        span: whole,
        counters: counters.map(Box::new),
        generic: generic.into(),
        matches: built.into_boxed_slice(),
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::GENERIC_LONG;

    #[test]
    fn generic_long_names_are_sorted_for_binary_search() {
        assert!(GENERIC_LONG.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
