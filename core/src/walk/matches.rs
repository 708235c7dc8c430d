//! Which match module evaluates a `-m` match.

use super::eval::{EvalCtx, Evaluate, Outcome};
use crate::matches::{Match, MatchKind};

/// Evaluates one match of a rule.
pub(super) fn eval(m: &Match, ctx: &EvalCtx<'_>) -> Outcome {
    match &m.kind {
        MatchKind::Tcp(t) => t.eval(ctx),
        MatchKind::Comment(c) => c.eval(ctx),
        MatchKind::Udp(x) => x.eval(ctx),
        MatchKind::Icmp(x) => x.eval(ctx),
        MatchKind::Icmp6(x) => x.eval(ctx),
        MatchKind::Multiport(x) => x.eval(ctx),
        MatchKind::Iprange(x) => x.eval(ctx),
        MatchKind::Addrtype(x) => x.eval(ctx),
        MatchKind::Conntrack(x) => x.eval(ctx),
        MatchKind::State(x) => x.eval(ctx),
        MatchKind::Mark(x) => x.eval(ctx),
        MatchKind::Connmark(x) => x.eval(ctx),
        MatchKind::Mac(x) => x.eval(ctx),
        MatchKind::Pkttype(x) => x.eval(ctx),
        MatchKind::Length(x) => x.eval(ctx),
        MatchKind::Ttl(x) => x.eval(ctx),
        MatchKind::Hl(x) => x.eval(ctx),
        MatchKind::Tos(x) => x.eval(ctx),
        MatchKind::Dscp(x) => x.eval(ctx),
        MatchKind::Unmodelled(_) => {
            Outcome::assumed(true, format!("chainwalk does not model the {} match; it is assumed to match", m.name()))
        }
        #[allow(unreachable_patterns)]
        _ => Outcome::assumed(
            true,
            format!("chainwalk does not evaluate the {} match yet; it is assumed to match", m.name()),
        ),
    }
}
