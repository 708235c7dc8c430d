//! Evaluating a rule's conditions against a packet: the generic part (`ip_packet_match` in the kernel's
//! `ip_tables.c`) here, each match module in its own file through [`Evaluate`].

use crate::host::Host;
use crate::packet::{CtDir, CtState, Packet};
use crate::ruleset::{Family, Generic, Hook, TableName};
use crate::trace::Condition;
use std::net::IpAddr;

/// What a match module may look at: the packet as it is now, its connection, the host, and where in
/// netfilter the rule is.
#[derive(Clone, Copy, Debug)]
pub struct EvalCtx<'a> {
    /// The packet, with the changes made so far (NAT, marks).
    pub pkt: &'a Packet,
    /// Its connection as conntrack sees it at this point.
    pub ct: &'a ConnState,
    /// The host.
    pub host: &'a Host,
    /// The hook the rule runs at.
    pub hook: Hook,
    /// The table the rule is in.
    pub table: TableName,
    /// The input interface (none for a locally generated packet).
    pub in_iface: Option<&'a str>,
    /// The output interface (none before routing).
    pub out_iface: Option<&'a str>,
    /// The addresses `-m recent` rules put in their lists during this walk (and took out).
    pub recent: &'a std::cell::RefCell<Vec<crate::matches::recent::RecentEntry>>,
    /// Whether what a match does to the walk's state (a recent list) takes hold: not when a rule the packet
    /// never reached is only looked at.
    pub effects: bool,
    /// The ipsets as the walk has them now (the host's, with what `-j SET` rules and counters changed).
    pub ipsets: &'a [crate::ipset::IpSet],
    /// Where `-m set` lookups count the packet in the elements they meet: (set, element, bytes).
    pub set_counts: Option<&'a std::cell::RefCell<Vec<SetCount>>>,
    /// When the packet arrives, in seconds since 1970 (UTC), if the walk was given a clock.
    pub now: Option<u64>,
    /// Whether the packet belongs to a socket a process owns: sent by a program of this host, not forwarded
    /// and not an answer the kernel makes itself (a REJECT's reset or error, a redirect).
    pub socket: bool,
    /// Whether the packet is an ICMP or ICMPv6 message the kernel sends from its own control socket (an
    /// error a REJECT or routing sends): a socket exists, but no process's file owns it.
    pub kernel_socket: bool,
    /// Which backend the dump was loaded with (iptables-nft turns some matches into expressions that
    /// behave otherwise).
    pub backend: super::Backend,
}

impl EvalCtx<'_> {
    /// IPv4 or IPv6.
    pub fn family(&self) -> Family {
        self.pkt.family()
    }

    /// Whether this is a second or later fragment, which carries no transport header: port and flag
    /// matches do not match it.
    pub fn is_later_fragment(&self) -> bool {
        self.pkt.fragment_offset != 0
    }
}

/// A packet counted in an ipset element by a lookup: the set's index, the element's, and the bytes.
pub type SetCount = (usize, usize, u64);

/// A connection as conntrack knows it when a rule runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnState {
    /// The state rules see (`INVALID` in the raw table, where conntrack has not run yet).
    pub state: CtState,
    /// The direction of this packet.
    pub dir: CtDir,
    /// The connection mark.
    pub mark: u32,
    /// Whether the connection's source is translated (`--ctstate SNAT`).
    pub snat: bool,
    /// Whether the connection's destination is translated (`--ctstate DNAT`).
    pub dnat: bool,
    /// The original direction's tuple: (source, destination, source port, destination port).
    pub original: Tuple,
    /// The reply direction's tuple, after translation.
    pub reply: Tuple,
    /// Whether the connection has seen a reply (`--ctstatus SEEN_REPLY`); true when ESTABLISHED.
    pub seen_reply: bool,
    /// Whether the connection is assured (`--ctstatus ASSURED`).
    pub assured: bool,
    /// Whether the connection is in the conntrack table already (`--ctstatus CONFIRMED`).
    pub confirmed: bool,
    /// For a packet with no connection of its own (a TEE copy: UNTRACKED): whether its addresses and ports
    /// are those of a connection in the table, which connlimit finds by them (`get_ct_or_tuple_from_skb`)
    /// and does not count again.
    pub tuple_in_table: bool,
}

/// Addresses and ports of one direction of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 for protocols without ports).
    pub sport: u16,
    /// Destination port (for ICMP echo, the identifier).
    pub dport: u16,
}

/// The answer of one condition: whether it held, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the condition held.
    pub holds: bool,
    /// Why, as a sentence about the packet.
    pub why: String,
    /// Whether the answer was assumed rather than computed.
    pub assumed: bool,
}

impl Outcome {
    /// A condition that holds, because `why`.
    pub fn yes(why: impl Into<String>) -> Outcome {
        Outcome { holds: true, why: why.into(), assumed: false }
    }

    /// A condition that does not hold, because `why`.
    pub fn no(why: impl Into<String>) -> Outcome {
        Outcome { holds: false, why: why.into(), assumed: false }
    }

    /// `holds`, with `why` saying both cases.
    pub fn when(holds: bool, why: impl Into<String>) -> Outcome {
        Outcome { holds, why: why.into(), assumed: false }
    }

    /// An answer chainwalk cannot compute from one packet, assumed to be `holds`.
    pub fn assumed(holds: bool, why: impl Into<String>) -> Outcome {
        Outcome { holds, why: why.into(), assumed: true }
    }

    /// The same outcome for a negated condition (`!`): it holds when the plain one does not.
    pub fn negate(self, negated: bool) -> Outcome {
        if negated {
            Outcome { holds: !self.holds, ..self }
        } else {
            self
        }
    }
}

/// A match module that can say whether a packet matches it.
pub trait Evaluate {
    /// Evaluates the module against the packet.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome;
}

/// A "holds" sentence for an outcome of a possibly negated test: `plain` says what is true of the packet,
/// e.g. "IN=ppp0 is not p1p1"; the result adds ", so this holds" or ", so this does not hold".
pub fn conclude(fact_true: bool, negated: bool, fact: String) -> Outcome {
    let holds = fact_true != negated;
    let tail = if holds { "so this holds" } else { "so this does not hold" };
    Outcome::when(holds, format!("{fact}, {tail}"))
}

/// Whether the generic part of a rule matches, without explaining why: the fast path for rules nobody
/// will read about (`ip_packet_match`).
pub fn generic_matches(g: &Generic, ctx: &EvalCtx<'_>) -> bool {
    let pkt = ctx.pkt;
    let holds = |negated: bool, fact: bool| fact != negated;
    // Decoded once: the rule keeps its generic part packed.
    let g = g.parts();
    g.source.is_none_or(|s| holds(s.negated, s.value.contains(pkt.src)))
        && g.destination.is_none_or(|d| holds(d.negated, d.value.contains(pkt.dst)))
        && g.in_interface.is_none_or(|i| holds(i.negated, i.value.matches(ctx.in_iface.unwrap_or(""))))
        && g.out_interface.is_none_or(|o| holds(o.negated, o.value.matches(ctx.out_iface.unwrap_or(""))))
        && g.protocol.is_none_or(|p| p.value.is_all() || holds(p.negated, pkt.l4.proto() == p.value.0))
        && g.fragment.is_none_or(|f| holds(f.negated, ctx.is_later_fragment()))
}

/// Evaluates the generic part of a rule, one condition per option given, in the kernel's order
/// (addresses, interfaces, protocol, fragment), stopping at the first that fails.
pub fn generic(g: &Generic, ctx: &EvalCtx<'_>, out: &mut Vec<Condition>) -> bool {
    let pkt = ctx.pkt;
    let neg = |n: bool| if n { "! " } else { "" };
    let mut push = |text: String, span, o: Outcome| -> bool {
        let holds = o.holds;
        out.push(Condition { text, holds, why: o.why, assumed: o.assumed, span: Some(span) });
        holds
    };
    if let Some(s) = g.source() {
        let inside = s.value.contains(pkt.src);
        let fact = format!("SRC={} is {}in {}", pkt.src, if inside { "" } else { "not " }, s.value);
        if !push(format!("{}-s {}", neg(s.negated), s.value), s.span, conclude(inside, s.negated, fact)) {
            return false;
        }
    }
    if let Some(d) = g.destination() {
        let inside = d.value.contains(pkt.dst);
        let fact = format!("DST={} is {}in {}", pkt.dst, if inside { "" } else { "not " }, d.value);
        if !push(format!("{}-d {}", neg(d.negated), d.value), d.span, conclude(inside, d.negated, fact)) {
            return false;
        }
    }
    for (flag, name, iface, actual) in
        [("-i", "IN", g.in_interface(), ctx.in_iface), ("-o", "OUT", g.out_interface(), ctx.out_iface)]
    {
        if let Some(i) = iface {
            let actual = actual.unwrap_or("");
            let is = i.value.matches(actual);
            let fact = if i.value.is_wildcard() {
                let prefix = i.value.name().trim_end_matches('+');
                format!("{name}={actual} {} with {prefix}", if is { "starts" } else { "does not start" })
            } else {
                format!("{name}={actual} {} {}", if is { "is" } else { "is not" }, i.value)
            };
            if !push(format!("{}{flag} {}", neg(i.negated), i.value), i.span, conclude(is, i.negated, fact)) {
                return false;
            }
        }
    }
    if let Some(p) = g.protocol() {
        if !p.value.is_all() {
            let actual = pkt.l4.proto();
            let is = actual == p.value.0;
            let fact = format!(
                "the protocol is {}, {}{}",
                crate::ruleset::Protocol(actual),
                if is { "which is " } else { "not " },
                p.value
            );
            if !push(format!("{}-p {}", neg(p.negated), p.value), p.span, conclude(is, p.negated, fact)) {
                return false;
            }
        }
    }
    if let Some(f) = g.fragment() {
        let later = ctx.is_later_fragment();
        let fact = if later {
            format!("the packet is a later fragment (offset {})", pkt.fragment_offset)
        } else {
            "the packet is not a later fragment".to_string()
        };
        if !push(format!("{}-f", neg(f.negated)), f.span, conclude(later, f.negated, fact)) {
            return false;
        }
    }
    true
}
