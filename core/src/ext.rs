//! What matches and targets (iptables calls both "extensions") have in common: options with arguments,
//! how a rule's arguments are handed to them, and how they print back.
//!
//! `iptables` parses a rule with `getopt_long` over the merged option tables of every extension loaded so
//! far. chainwalk collects the options that belong to each extension into a list of [`Opt`]s and lets the
//! extension build its typed value from them, so each extension file only states its options and what they
//! mean.

use crate::diag::Diagnostic;
use crate::parse::token::Token;
use crate::ruleset::{Family, Negatable, Protocol, TableName};
use crate::span::Span;

/// How many arguments an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Args {
    /// A flag, like `--syn`.
    Zero,
    /// One argument, like `--dport 22`.
    One,
    /// Two arguments, like `--tcp-flags SYN,ACK SYN`.
    Two,
    /// One argument if the next word does not start with `-` or `!`, else none, like rateest's
    /// `--rateest-bps1 [RATE]` (an option `iptables` parses by peeking at the next word).
    Optional,
}

/// One option an extension accepts.
#[derive(Clone, Copy, Debug)]
pub struct OptSpec {
    /// The name without its leading `--`.
    pub name: &'static str,
    /// How many arguments follow it.
    pub args: Args,
}

/// Shorthand for an [`OptSpec`] in an extension's option table.
pub const fn opt(name: &'static str, args: Args) -> OptSpec {
    OptSpec { name, args }
}

/// One option as the rule gave it.
#[derive(Clone, Debug)]
pub struct Opt<'a> {
    /// The name without its leading `--`.
    pub name: &'a str,
    /// Whether a `!` came before it (or, in the old form, between it and its argument).
    pub negated: bool,
    /// Its arguments.
    pub args: ArgList<'a>,
    /// The option, its `!` and its arguments.
    pub span: Span,
}

impl<'a> Opt<'a> {
    /// The first argument (options with [`Args::One`] or [`Args::Two`] always have it).
    pub fn arg(&self) -> &str {
        self.args.first().map(|t| t.text.as_ref()).unwrap_or("")
    }

    /// The span of the first argument, or of the option when it has none.
    pub fn arg_span(&self) -> Span {
        self.args.first().map(|t| t.span).unwrap_or(self.span)
    }

    /// The second argument.
    pub fn arg2(&self) -> &str {
        self.args.get(1).map(|t| t.text.as_ref()).unwrap_or("")
    }

    /// The span of the second argument.
    pub fn arg2_span(&self) -> Span {
        self.args.get(1).map(|t| t.span).unwrap_or(self.span)
    }

    /// An error about this option's (first) argument.
    pub fn bad_arg(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.arg_span(), message)
    }

    /// Fails if this option was negated although it cannot be.
    pub fn no_negation(&self) -> Result<(), Diagnostic> {
        if self.negated {
            return Err(Diagnostic::error(self.span, format!("`--{}` cannot be negated with `!`", self.name)));
        }
        Ok(())
    }

    /// Parses the first argument with `f`, turning its message into an error at the argument.
    pub fn parse_arg<T>(&self, f: impl FnOnce(&str) -> Result<T, String>) -> Result<T, Diagnostic> {
        f(self.arg()).map_err(|m| self.bad_arg(m))
    }
}

/// The arguments of one option: nearly always one or two, so they live inline and a rule's options cost
/// no allocations of their own.
#[derive(Clone, Debug, Default)]
pub struct ArgList<'a> {
    inline: [Option<Token<'a>>; 2],
    more: Vec<Token<'a>>,
}

impl<'a> ArgList<'a> {
    /// Adds an argument.
    pub fn push(&mut self, t: Token<'a>) {
        match self.inline.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(t),
            None => self.more.push(t),
        }
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.inline.iter().flatten().count() + self.more.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.inline[0].is_none()
    }

    /// The argument at `i`.
    pub fn get(&self, i: usize) -> Option<&Token<'a>> {
        match i {
            0 | 1 => self.inline[i].as_ref(),
            _ => self.more.get(i - 2),
        }
    }

    /// The first argument.
    pub fn first(&self) -> Option<&Token<'a>> {
        self.get(0)
    }

    /// The last argument.
    pub fn last(&self) -> Option<&Token<'a>> {
        self.more.last().or(self.inline[1].as_ref()).or(self.inline[0].as_ref())
    }

    /// The arguments in order.
    pub fn iter(&self) -> impl Iterator<Item = &Token<'a>> {
        self.inline.iter().flatten().chain(self.more.iter())
    }
}

/// What an extension may need to know about the rule it is in.
#[derive(Clone, Copy, Debug)]
pub struct ExtCtx<'r> {
    /// IPv4 or IPv6.
    pub family: Family,
    /// The table the rule is in.
    pub table: TableName,
    /// The rule's `-p`, if it has one.
    pub protocol: Option<&'r Negatable<Protocol>>,
    /// The span of the `-m NAME` or `-j NAME` that loaded the extension.
    pub span: Span,
}

impl ExtCtx<'_> {
    /// The rule's protocol if it is given and not negated.
    pub fn proto(&self) -> Option<Protocol> {
        self.protocol.filter(|p| !p.negated).map(|p| p.value)
    }

    /// Fails unless the rule says `-p` one of `protos` (as `iptables` does for port matches and some targets).
    pub fn require_proto(&self, what: &str, protos: &[Protocol]) -> Result<(), Diagnostic> {
        match self.proto() {
            Some(p) if protos.contains(&p) => Ok(()),
            _ => {
                let names: Vec<String> = protos.iter().map(|p| format!("-p {p}")).collect();
                Err(Diagnostic::error(self.span, format!("{what} needs the rule to say {}", names.join(" or "))))
            }
        }
    }

    /// An error at the `-m`/`-j` that loaded the extension.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.span, message)
    }
}

/// A match or target with typed options: how it is built from the options given and how it prints back.
pub trait Extension: Sized {
    /// The options it accepts.
    const OPTIONS: &'static [OptSpec];

    /// Builds the value from its options, checking them as the extension's own parser in iptables does.
    /// `warnings` collects findings that do not stop the dump from loading.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Self, Diagnostic>;

    /// Appends the options as `iptables-save` prints them, each preceded by a space.
    fn save(&self, out: &mut String);
}

/// Finds the single occurrence of option `name`, failing if it is given twice.
pub fn find<'o, 'a>(opts: &'o [Opt<'a>], name: &str) -> Result<Option<&'o Opt<'a>>, Diagnostic> {
    let mut found = None;
    for o in opts.iter().filter(|o| o.name == name) {
        if found.is_some() {
            return Err(Diagnostic::error(o.span, format!("`--{name}` is given more than once")));
        }
        found = Some(o);
    }
    Ok(found)
}

/// Whether the flag option `name` is given.
pub fn flag(opts: &[Opt<'_>], name: &str) -> Result<bool, Diagnostic> {
    Ok(find(opts, name)?.is_some())
}

/// Fails if two options that exclude each other are both given.
pub fn exclusive(opts: &[Opt<'_>], names: &[&str]) -> Result<(), Diagnostic> {
    let given: Vec<&Opt<'_>> = opts.iter().filter(|o| names.contains(&o.name)).collect();
    if given.len() > 1 {
        let list: Vec<String> = names.iter().map(|n| format!("`--{n}`")).collect();
        return Err(Diagnostic::error(given[1].span, format!("only one of {} may be given", list.join(", "))));
    }
    Ok(())
}

/// Appends ` !` when `negated`, then ` --NAME`.
pub fn save_opt(out: &mut String, negated: bool, name: &str) {
    if negated {
        out.push_str(" !");
    }
    out.push_str(" --");
    out.push_str(name);
}

/// Appends ` [!] --NAME VALUE`.
pub fn save_opt_value(out: &mut String, negated: bool, name: &str, value: impl std::fmt::Display) {
    use std::fmt::Write;
    save_opt(out, negated, name);
    let _ = write!(out, " {value}");
}

/// Appends ` [!] --NAME "VALUE"`, quoted as `iptables-save` quotes strings.
pub fn save_opt_string(out: &mut String, negated: bool, name: &str, value: &str) {
    save_opt(out, negated, name);
    out.push(' ');
    crate::parse::token::push_quoted(out, value);
}
