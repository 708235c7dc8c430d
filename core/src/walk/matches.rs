//! Which match module evaluates a `-m` match.

use super::eval::{EvalCtx, Evaluate, Outcome};
use crate::matches::{Match, MatchKind};

/// Evaluates one match of a rule.
pub(super) fn eval(m: &Match, ctx: &EvalCtx<'_>) -> Outcome {
    match &m.kind {
        MatchKind::Tcp(t) => t.eval(ctx),
        MatchKind::Comment(c) => c.eval(ctx),
        MatchKind::Unmodelled(_) => {
            Outcome::assumed(true, format!("chainwalk does not model the {} match; it is assumed to match", m.name))
        }
        #[allow(unreachable_patterns)]
        _ => Outcome::assumed(
            true,
            format!("chainwalk does not evaluate the {} match yet; it is assumed to match", m.name),
        ),
    }
}
