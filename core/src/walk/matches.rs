//! Which match module evaluates a `-m` match.

use super::eval::{EvalCtx, Evaluate, Outcome};
use crate::matches::{Match, MatchKind};

/// Evaluates one match of a rule. The match is exhaustive, so a module added to `modules!` must get an arm
/// here (and an [`Evaluate`] implementation) before the crate compiles.
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
        MatchKind::TcpMss(x) => x.eval(ctx),
        MatchKind::RpFilter(x) => x.eval(ctx),
        MatchKind::Physdev(x) => x.eval(ctx),
        MatchKind::Owner(x) => x.eval(ctx),
        MatchKind::U32(x) => x.eval(ctx),
        MatchKind::Limit(x) => x.eval(ctx),
        MatchKind::Hashlimit(x) => x.eval(ctx),
        MatchKind::Statistic(x) => x.eval(ctx),
        MatchKind::Recent(x) => x.eval(ctx),
        MatchKind::Connlimit(x) => x.eval(ctx),
        MatchKind::Set(x) => x.eval(ctx),
        MatchKind::Policy(x) => x.eval(ctx),
        MatchKind::Sctp(x) => x.eval(ctx),
        MatchKind::Rt(x) => x.eval(ctx),
        MatchKind::Frag(x) => x.eval(ctx),
        MatchKind::Time(x) => x.eval(ctx),
        MatchKind::StringMatch(x) => x.eval(ctx),
        MatchKind::Cgroup(x) => x.eval(ctx),
        MatchKind::Connbytes(x) => x.eval(ctx),
        MatchKind::Connlabel(x) => x.eval(ctx),
        MatchKind::Cpu(x) => x.eval(ctx),
        MatchKind::Devgroup(x) => x.eval(ctx),
        MatchKind::Ecn(x) => x.eval(ctx),
        MatchKind::Helper(x) => x.eval(ctx),
        MatchKind::Nfacct(x) => x.eval(ctx),
        MatchKind::Quota(x) => x.eval(ctx),
        MatchKind::Realm(x) => x.eval(ctx),
        MatchKind::Socket(x) => x.eval(ctx),
        MatchKind::Cluster(x) => x.eval(ctx),
        MatchKind::Dccp(x) => x.eval(ctx),
        MatchKind::Esp(x) => x.eval(ctx),
        MatchKind::Ah(x) => x.eval(ctx),
        MatchKind::Ipv6header(x) => x.eval(ctx),
        MatchKind::Ipvs(x) => x.eval(ctx),
        MatchKind::Mh(x) => x.eval(ctx),
        MatchKind::Osf(x) => x.eval(ctx),
        MatchKind::Rateest(x) => x.eval(ctx),
        MatchKind::Srh(x) => x.eval(ctx),
        MatchKind::Ipcomp(x) => x.eval(ctx),
        MatchKind::Hbh(x) => x.eval(ctx),
        MatchKind::Dst(x) => x.eval(ctx),
        MatchKind::Unmodelled(_) => {
            Outcome::assumed(true, format!("chainwalk does not model the {} match; it is assumed to match", m.name()))
        }
    }
}
