//! Findings about a dump: errors that `iptables-restore` would refuse, and warnings about input it accepts
//! but that deserves a second look.

use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `iptables-restore` would refuse the dump.
    Error,
    /// The dump loads, but something in it is old syntax, unknown to chainwalk, or suspicious.
    Warning,
}

/// One finding, positioned at the part of the input it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where in the input.
    pub span: Span,
    /// One sentence a person understands.
    pub message: String,
    /// What to do about it, where there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, span, message.into())
    }

    // The constructors' one body, kept out of line: findings are made at hundreds of places in the
    // modules, and a call is smaller than building the struct at each (3 KB gzip of the wasm).
    #[inline(never)]
    fn new(severity: Severity, span: Span, message: String) -> Diagnostic {
        Diagnostic { severity, span, message, hint: None }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, span, message.into())
    }

    /// The same finding with a hint.
    pub fn with_hint(self, hint: impl Into<String>) -> Diagnostic {
        self.hinted(hint.into())
    }

    #[inline(never)]
    fn hinted(mut self, hint: String) -> Diagnostic {
        self.hint = Some(hint);
        self
    }

    /// Whether this finding is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `LINE:COL: error: MESSAGE`, and the hint on its own line after it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {}: {}", self.span.line, self.span.col, kind, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// The most findings a check reports; past it, one last note says how many more there were.
pub const MAX_DIAGNOSTICS: usize = 100;
