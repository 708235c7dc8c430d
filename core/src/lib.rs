//! chainwalk's core: a model of Linux netfilter that reads `iptables-save` dumps the way
//! `iptables-restore` does, and (in time) walks packets through them the way the kernel does.
//!
//! It does no I/O and knows nothing of browsers; the CLI and the web app both call the functions here.
//! The data flows: dump text → [`parse()`] → [`Ruleset`] (+ [`Diagnostic`]s) → packet walk → trace → view.

pub mod decimal;
pub mod diag;
pub mod ext;
pub mod host;
pub mod host_text;
pub mod ipset;
pub mod matches;
pub mod packet;
pub mod packet_text;
pub mod parse;
mod pieces;
pub mod policy;
pub mod render;
pub mod ruleset;
pub mod span;
pub mod targets;
pub mod trace;
pub mod validate;
pub mod values;
pub mod verbatim;
pub mod walk;

pub use diag::{Diagnostic, Severity};
pub use parse::{parse, Parsed};
pub use ruleset::{Family, Ruleset};
pub use span::Span;

/// Reads a dump and prints it back in canonical `iptables-save` form (counters kept where the dump had them
/// on rules).
pub fn canonical(parsed: &Parsed) -> String {
    let counters =
        parsed.ruleset.tables.iter().flat_map(|t| &t.chains).flat_map(|c| &c.rules).any(|r| r.counters.is_some());
    render::save::ruleset(&parsed.ruleset, render::save::SaveOptions { counters })
}
