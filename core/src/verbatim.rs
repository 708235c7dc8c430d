//! Options kept as they were written: the form of an extension chainwalk recognises but does not model,
//! and of one it does not know at all.

use crate::diag::Diagnostic;
use crate::ext::Opt;
use crate::parse::token::push_quoted;
use serde::{Deserialize, Serialize};

/// One option as written: its name, whether it was negated, its arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawOpt {
    /// The name without `--`.
    pub name: String,
    /// Whether `!` came before it.
    pub negated: bool,
    /// Its arguments, unquoted.
    pub args: Vec<String>,
}

/// An extension's options kept verbatim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verbatim {
    /// The extension's name as written.
    pub name: String,
    /// The options in the order given.
    pub opts: Vec<RawOpt>,
}

impl Verbatim {
    /// Keeps `opts` as they are.
    pub fn from_opts(name: &str, opts: &[Opt<'_>]) -> Verbatim {
        Verbatim {
            name: name.to_string(),
            opts: opts
                .iter()
                .map(|o| RawOpt {
                    name: o.name.to_string(),
                    negated: o.negated,
                    args: o.args.iter().map(|t| t.text.to_string()).collect(),
                })
                .collect(),
        }
    }

    /// Prints the options back, quoting arguments that need it.
    pub fn save(&self, out: &mut String) {
        for o in &self.opts {
            if o.negated {
                out.push_str(" !");
            }
            out.push_str(" --");
            out.push_str(&o.name);
            for a in &o.args {
                out.push(' ');
                // Modules print their own values, mostly bare; quote only what would not read back.
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
                    push_quoted(out, a);
                } else {
                    out.push_str(a);
                }
            }
        }
    }

    /// The arguments of option `name`, if given.
    pub fn get(&self, name: &str) -> Option<&RawOpt> {
        self.opts.iter().find(|o| o.name == name)
    }
}

/// A warning that an extension is kept as written because chainwalk does not model it.
pub fn unmodelled(span: crate::span::Span, kind: &str, name: &str) -> Diagnostic {
    Diagnostic::warning(span, format!("chainwalk does not model the {name} {kind}; its options are kept as written"))
        .with_hint("a packet walk treats it according to the assumption it states")
}
