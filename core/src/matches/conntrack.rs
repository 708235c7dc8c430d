//! `-m conntrack`: what connection tracking knows about the packet's connection: its state, status,
//! original and reply tuples, remaining lifetime and the packet's direction (`libxt_conntrack`, revision 3
//! of the kernel's `xt_conntrack.c`). Also the connection states that `-m state` ([`super::state`]) shares.

use super::length::parse_uint_range;
use super::udp::{parse_port_rc, wrapped_port};
use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::{CtDir, CtState as PacketState, L4};
use crate::ruleset::addr::{inet_aton, parse_uint, prefix_mask_v4, prefix_mask_v6};
use crate::ruleset::{Family, Negatable, Protocol, TableName};
use crate::values::{abbreviates, NumRange, PortRange};
use crate::walk::eval::{conclude, ConnState, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The options of `-m conntrack`; at least one is given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conntrack {
    /// `--ctstate`: the connection is in one of these states.
    pub state: Option<Negatable<CtStates>>,
    /// `--ctproto`: the layer-4 protocol of the connection.
    pub proto: Option<Negatable<Protocol>>,
    /// `--ctorigsrc` to `--ctrepldstport`: tests of the connection's addresses and ports, boxed because
    /// most rules have none.
    pub tuple: Option<Box<CtTuple>>,
    /// `--ctstatus`: the connection has one of these status bits.
    pub status: Option<Negatable<CtStatuses>>,
    /// `--ctexpire`: the connection's remaining lifetime, in seconds, is in this range.
    pub expire: Option<Negatable<NumRange>>,
    /// `--ctdir`: the packet travels in this direction of its connection.
    pub direction: Option<CtDirection>,
}

/// Tests of the addresses and ports of a connection's two directions (its original and reply tuples).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CtTuple {
    /// `--ctorigsrc`: the source address of the original direction.
    pub orig_src: Option<Negatable<HostMask>>,
    /// `--ctorigdst`: the destination address of the original direction.
    pub orig_dst: Option<Negatable<HostMask>>,
    /// `--ctreplsrc`: the source address of the reply direction.
    pub repl_src: Option<Negatable<HostMask>>,
    /// `--ctrepldst`: the destination address of the reply direction.
    pub repl_dst: Option<Negatable<HostMask>>,
    /// `--ctorigsrcport`: the source port of the original direction.
    pub orig_src_port: Option<Negatable<PortRange>>,
    /// `--ctorigdstport`: the destination port of the original direction.
    pub orig_dst_port: Option<Negatable<PortRange>>,
    /// `--ctreplsrcport`: the source port of the reply direction.
    pub repl_src_port: Option<Negatable<PortRange>>,
    /// `--ctrepldstport`: the destination port of the reply direction.
    pub repl_dst_port: Option<Negatable<PortRange>>,
}

/// A connection state as `--ctstate` and `--state` name it (`man iptables-extensions`, conntrack).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CtState {
    /// The packet belongs to no known connection.
    Invalid,
    /// The packet starts a new connection.
    New,
    /// The packet starts a connection related to an existing one (an FTP data channel, an ICMP error).
    Related,
    /// The packet belongs to a connection that has seen packets both ways.
    Established,
    /// The packet is not tracked (`-j NOTRACK` / `-j CT --notrack` in the raw table).
    Untracked,
    /// The connection's original source differs from its reply destination: it is source-NATed
    /// (conntrack only).
    Snat,
    /// The connection's original destination differs from its reply source: it is destination-NATed
    /// (conntrack only).
    Dnat,
}

impl CtState {
    /// All states, in the order `iptables-save` lists them.
    pub const ALL: [CtState; 7] = [
        CtState::Invalid,
        CtState::New,
        CtState::Related,
        CtState::Established,
        CtState::Untracked,
        CtState::Snat,
        CtState::Dnat,
    ];

    /// The name `iptables` reads (in any case) and prints.
    pub fn name(self) -> &'static str {
        match self {
            CtState::Invalid => "INVALID",
            CtState::New => "NEW",
            CtState::Related => "RELATED",
            CtState::Established => "ESTABLISHED",
            CtState::Untracked => "UNTRACKED",
            CtState::Snat => "SNAT",
            CtState::Dnat => "DNAT",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of connection states; a packet matches when its state is in the set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CtStates(pub u8);

impl CtStates {
    /// Reads a comma-separated list of the state names in `allowed`, in any case and each maybe cut short
    /// (`est` is ESTABLISHED), as `libxt_conntrack` and `libxt_state` read them.
    pub fn parse(text: &str, allowed: &[CtState]) -> Result<CtStates, String> {
        let mut set = CtStates(0);
        for item in text.split(',') {
            let s = allowed.iter().find(|s| abbreviates(item, s.name())).ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|s| s.name()).collect();
                if item.is_empty() {
                    format!(
                        "`{text}` has an empty item; the states ({}) are separated by single commas",
                        names.join(", ")
                    )
                } else {
                    format!("`{item}` is not a connection state ({})", names.join(", "))
                }
            })?;
            set.0 |= s.bit();
        }
        Ok(set)
    }

    /// Whether `s` is in the set.
    pub fn contains(self, s: CtState) -> bool {
        self.0 & s.bit() != 0
    }
}

impl fmt::Display for CtStates {
    /// The names joined by commas, in `iptables-save` order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = CtState::ALL.iter().filter(|s| self.contains(**s)).map(|s| s.name()).collect();
        f.write_str(&names.join(","))
    }
}

/// A status bit of a connection (`IPS_*` in `linux/netfilter/nf_conntrack_common.h`) as `--ctstatus`
/// names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CtStatus {
    /// The connection was expected by a helper.
    Expected,
    /// A packet has been seen in the reply direction.
    SeenReply,
    /// The connection will not be dropped early when the table is full.
    Assured,
    /// The connection is in the conntrack table: its first packet has made it through the host.
    Confirmed,
}

impl CtStatus {
    /// All statuses, in bit order, which is `iptables-save`'s order.
    pub const ALL: [CtStatus; 4] = [CtStatus::Expected, CtStatus::SeenReply, CtStatus::Assured, CtStatus::Confirmed];

    /// The name `iptables` reads (in any case) and prints.
    pub fn name(self) -> &'static str {
        match self {
            CtStatus::Expected => "EXPECTED",
            CtStatus::SeenReply => "SEEN_REPLY",
            CtStatus::Assured => "ASSURED",
            CtStatus::Confirmed => "CONFIRMED",
        }
    }

    /// The bit in the kernel's status word (`IPS_EXPECTED` is bit 0).
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of status bits; a connection matches when it has any of them. The empty set is written `NONE`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CtStatuses(pub u8);

impl CtStatuses {
    /// Reads a comma-separated list of status names (and `NONE`, which adds nothing), in any case and each
    /// maybe cut short (`ass` is ASSURED, `n` NONE), as `libxt_conntrack` reads them.
    pub fn parse(text: &str) -> Result<CtStatuses, String> {
        let mut set = CtStatuses(0);
        for item in text.split(',') {
            if abbreviates(item, "NONE") {
                continue;
            }
            let s = CtStatus::ALL.into_iter().find(|s| abbreviates(item, s.name())).ok_or_else(|| {
                format!("`{item}` is not a connection status (NONE, EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED)")
            })?;
            set.0 |= s.bit();
        }
        Ok(set)
    }

    /// Whether `s` is in the set.
    pub fn contains(self, s: CtStatus) -> bool {
        self.0 & s.bit() != 0
    }
}

impl fmt::Display for CtStatuses {
    /// The names joined by commas in bit order, or `NONE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = CtStatus::ALL.iter().filter(|s| self.contains(**s)).map(|s| s.name()).collect();
        if names.is_empty() {
            f.write_str("NONE")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// The direction of a packet within its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CtDirection {
    /// The direction of the connection's first packet.
    Original,
    /// The other direction.
    Reply,
}

impl CtDirection {
    /// The name `iptables-save` prints.
    pub fn name(self) -> &'static str {
        match self {
            CtDirection::Original => "ORIGINAL",
            CtDirection::Reply => "REPLY",
        }
    }
}

/// An address with a mask as conntrack's address options keep it: the address is kept as written (not
/// masked), and an address matches when it agrees with it on the bits of the mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostMask {
    /// The address as written.
    pub addr: IpAddr,
    /// The mask; it need not be contiguous.
    pub mask: IpAddr,
}

impl HostMask {
    /// Reads `ADDR[/MASK]` for `family` as `iptables` reads conntrack addresses: the address as
    /// `getaddrinfo` reads numbers (for IPv4 `inet_aton`, where `10.1` is 10.0.0.1), the mask as a
    /// prefix length in C notation or else as an address (so `/100` is the mask 0.0.0.100).
    pub fn parse(text: &str, family: Family) -> Result<HostMask, String> {
        let (addr_text, mask_text) = match text.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (text, None),
        };
        let bad_mask = |m: &str| {
            let width = if family == Family::Ipv4 { 32 } else { 128 };
            format!("`{m}` is neither a network mask nor a prefix length (0 to {width})")
        };
        match family {
            Family::Ipv4 => {
                // The one host name every system resolves the same way, from /etc/hosts.
                let addr_text = if addr_text == "localhost" { "127.0.0.1" } else { addr_text };
                let addr = inet_aton(addr_text).ok_or_else(|| not_an_address(addr_text, "IPv4"))?;
                let mask = match mask_text {
                    None => u32::MAX,
                    Some(m) => match parse_uint(m).filter(|&n| n <= 32) {
                        Some(n) => prefix_mask_v4(n as u32),
                        None => u32::from(inet_aton(m).ok_or_else(|| bad_mask(m))?),
                    },
                };
                Ok(HostMask { addr: IpAddr::V4(addr), mask: IpAddr::V4(Ipv4Addr::from(mask)) })
            }
            Family::Ipv6 => {
                let addr: Ipv6Addr = addr_text.parse().map_err(|_| not_an_address(addr_text, "IPv6"))?;
                let mask = match mask_text {
                    None => u128::MAX,
                    Some(m) => match parse_uint(m).filter(|&n| n <= 128) {
                        Some(n) => prefix_mask_v6(n as u32),
                        None => u128::from(m.parse::<Ipv6Addr>().map_err(|_| bad_mask(m))?),
                    },
                };
                Ok(HostMask { addr: IpAddr::V6(addr), mask: IpAddr::V6(Ipv6Addr::from(mask)) })
            }
        }
    }

    /// Whether `ip` agrees with the address on every bit of the mask.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, self.mask, ip) {
            (IpAddr::V4(a), IpAddr::V4(m), IpAddr::V4(i)) => (u32::from(i) ^ u32::from(a)) & u32::from(m) == 0,
            (IpAddr::V6(a), IpAddr::V6(m), IpAddr::V6(i)) => (u128::from(i) ^ u128::from(a)) & u128::from(m) == 0,
            _ => false,
        }
    }

    /// The length of the mask if it is contiguous.
    fn prefix_len(&self) -> Option<u32> {
        let (bits, width) = match self.mask {
            IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32),
            IpAddr::V6(m) => (u128::from(m), 128),
        };
        let ones = bits.leading_ones();
        (bits.count_ones() == ones && ones <= width).then_some(ones)
    }
}

impl fmt::Display for HostMask {
    /// The address, then `/LEN` for a contiguous mask shorter than the address. `iptables-save` prints a
    /// mask that is not contiguous not at all (so what it prints does not read back the same).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        match self.prefix_len() {
            Some(len) if len < width => write!(f, "{}/{len}", self.addr),
            _ => write!(f, "{}", self.addr),
        }
    }
}

fn not_an_address(text: &str, kind: &str) -> String {
    format!("`{text}` is not an {kind} address; iptables would look it up as a host name, which chainwalk does not do")
}

/// Fills `slot` from option `o` with its argument read by `f`, refusing a second occurrence (which
/// `iptables` refuses before it reads the argument).
fn set<T>(
    slot: &mut Option<Negatable<T>>,
    o: &Opt<'_>,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<(), Diagnostic> {
    if slot.is_some() {
        return Err(Diagnostic::error(o.span, format!("`--{}` is given more than once", o.name)));
    }
    *slot = Some(Negatable { value: o.parse_arg(f)?, negated: o.negated, span: o.span });
    Ok(())
}

fn parse_expire(text: &str) -> Result<NumRange, String> {
    parse_uint_range(text, u64::from(u32::MAX)).map(|(min, max)| NumRange { min: min as u32, max: max as u32 })
}

fn parse_direction(text: &str) -> Result<CtDirection, String> {
    [CtDirection::Original, CtDirection::Reply]
        .into_iter()
        .find(|d| d.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| format!("`{text}` is not a direction (ORIGINAL or REPLY)"))
}

impl Extension for Conntrack {
    const OPTIONS: &'static [OptSpec] = &[
        opt("ctstate", Args::One),
        opt("ctproto", Args::One),
        opt("ctorigsrc", Args::One),
        opt("ctorigdst", Args::One),
        opt("ctreplsrc", Args::One),
        opt("ctrepldst", Args::One),
        opt("ctorigsrcport", Args::One),
        opt("ctorigdstport", Args::One),
        opt("ctreplsrcport", Args::One),
        opt("ctrepldstport", Args::One),
        opt("ctstatus", Args::One),
        opt("ctexpire", Args::One),
        opt("ctdir", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Conntrack, Diagnostic> {
        let family = ctx.family;
        let host = |t: &str| HostMask::parse(t, family);
        let mut ct = Conntrack::default();
        for o in opts {
            match o.name {
                "ctstate" => set(&mut ct.state, o, |t| CtStates::parse(t, &CtState::ALL))?,
                "ctproto" => set(&mut ct.proto, o, Protocol::lookup)?,
                "ctorigsrc" | "ctorigdst" | "ctreplsrc" | "ctrepldst" => {
                    let tuple = ct.tuple.get_or_insert_with(Box::default);
                    let slot = match o.name {
                        "ctorigsrc" => &mut tuple.orig_src,
                        "ctorigdst" => &mut tuple.orig_dst,
                        "ctreplsrc" => &mut tuple.repl_src,
                        _ => &mut tuple.repl_dst,
                    };
                    set(slot, o, host)?;
                }
                "ctorigsrcport" | "ctorigdstport" | "ctreplsrcport" | "ctrepldstport" => {
                    let tuple = ct.tuple.get_or_insert_with(Box::default);
                    let slot = match o.name {
                        "ctorigsrcport" => &mut tuple.orig_src_port,
                        "ctorigdstport" => &mut tuple.orig_dst_port,
                        "ctreplsrcport" => &mut tuple.repl_src_port,
                        _ => &mut tuple.repl_dst_port,
                    };
                    set(slot, o, parse_port_rc)?;
                    warnings.extend(wrapped_port(o));
                }
                "ctstatus" => set(&mut ct.status, o, CtStatuses::parse)?,
                "ctexpire" => set(&mut ct.expire, o, parse_expire)?,
                _ => {
                    if ct.direction.is_some() {
                        return Err(Diagnostic::error(o.span, "`--ctdir` is given more than once"));
                    }
                    o.no_negation()?;
                    ct.direction = Some(o.parse_arg(parse_direction)?);
                }
            }
        }
        if opts.is_empty() {
            return Err(ctx.error("the conntrack match needs at least one option (`--ctstate STATES`, ...)"));
        }
        Ok(ct)
    }

    fn save(&self, out: &mut String) {
        fn value<T: fmt::Display>(out: &mut String, name: &str, v: &Option<Negatable<T>>) {
            if let Some(v) = v {
                save_opt_value(out, v.negated, name, &v.value);
            }
        }
        value(out, "ctstate", &self.state);
        if let Some(p) = &self.proto {
            save_opt_value(out, p.negated, "ctproto", p.value.0);
        }
        if let Some(t) = &self.tuple {
            value(out, "ctorigsrc", &t.orig_src);
            value(out, "ctorigdst", &t.orig_dst);
            value(out, "ctreplsrc", &t.repl_src);
            value(out, "ctrepldst", &t.repl_dst);
            value(out, "ctorigsrcport", &t.orig_src_port);
            value(out, "ctorigdstport", &t.orig_dst_port);
            value(out, "ctreplsrcport", &t.repl_src_port);
            value(out, "ctrepldstport", &t.repl_dst_port);
        }
        value(out, "ctstatus", &self.status);
        value(out, "ctexpire", &self.expire);
        if let Some(d) = self.direction {
            save_opt(out, false, "ctdir");
            out.push(' ');
            out.push_str(d.name());
        }
    }
}

/// The outcome of a match with several options, evaluated in the kernel's order: the first option that does
/// not hold decides; when all hold, their reasons are joined (`none` when there are none). An answer that
/// rests on an assumption anywhere is marked assumed.
pub(crate) fn all_of(outcomes: Vec<Outcome>, none: &str) -> Outcome {
    let mut why = Vec::with_capacity(outcomes.len());
    let mut assumed = false;
    for o in outcomes {
        if !o.holds {
            return o;
        }
        assumed |= o.assumed;
        why.push(o.why);
    }
    if why.is_empty() {
        return Outcome::yes(none);
    }
    Outcome { holds: true, why: why.join("; "), assumed }
}

/// `is in LIST` / `is not in LIST`, or `is ITEM` / `is not ITEM` when the list has one item.
pub(crate) fn in_list(inside: bool, list: impl fmt::Display, one: bool) -> String {
    match (inside, one) {
        (true, true) => format!("is {list}"),
        (true, false) => format!("is in {list}"),
        (false, true) => format!("is not {list}"),
        (false, false) => format!("is not in {list}"),
    }
}

/// Whether the packet has a connection (`nf_ct_get` returns one): an INVALID packet, every packet in the raw
/// table (before conntrack has run) and an UNTRACKED one have none.
pub(crate) fn has_connection(ct: &ConnState) -> bool {
    !matches!(ct.state, PacketState::Invalid | PacketState::Untracked)
}

/// Why the packet has no connection, as a clause.
pub(crate) fn no_connection(ctx: &EvalCtx<'_>) -> &'static str {
    match ctx.ct.state {
        PacketState::Untracked => "the packet is UNTRACKED, so it has no connection",
        _ if ctx.table == TableName::Raw => "conntrack has not seen the packet yet in the raw table, so it has none",
        _ => "the packet is INVALID, so it has no connection",
    }
}

impl From<PacketState> for CtState {
    fn from(s: PacketState) -> CtState {
        match s {
            PacketState::New => CtState::New,
            PacketState::Established => CtState::Established,
            PacketState::Related => CtState::Related,
            PacketState::Invalid => CtState::Invalid,
            PacketState::Untracked => CtState::Untracked,
        }
    }
}

/// The state bits the packet has for `--ctstate` (`with_nat`: SNAT and DNAT of a translated connection too)
/// or `--state`.
fn packet_states(ctx: &EvalCtx<'_>, with_nat: bool) -> Vec<CtState> {
    let mut states = vec![CtState::from(ctx.ct.state)];
    if with_nat && has_connection(ctx.ct) {
        if ctx.ct.snat {
            states.push(CtState::Snat);
        }
        if ctx.ct.dnat {
            states.push(CtState::Dnat);
        }
    }
    states
}

/// Tests the packet's states against a `--ctstate` or `--state` list; `label` names the option.
pub(crate) fn eval_states(label: &str, test: &Negatable<CtStates>, ctx: &EvalCtx<'_>, with_nat: bool) -> Outcome {
    let have = packet_states(ctx, with_nat);
    let set = test.value;
    let one = set.0.count_ones() == 1;
    let first_in = have.iter().copied().find(|s| set.contains(*s));
    let names: Vec<&str> = have.iter().map(|s| s.name()).collect();
    let before_ct = if ctx.table == TableName::Raw && ctx.ct.state == PacketState::Invalid {
        " (conntrack has not seen the packet yet in the raw table)"
    } else {
        ""
    };
    let fact = match (have.len(), first_in) {
        (1, _) => format!("{label} is {}{before_ct}, which {}", names[0], in_list(first_in.is_some(), set, one)),
        (_, Some(s)) => format!("{label} is {}, and {} {}", names.join(" with "), s.name(), in_list(true, set, one)),
        (_, None) => format!("{label} is {}, none of which {}", names.join(" with "), in_list(true, set, one)),
    };
    conclude(first_in.is_some(), test.negated, fact)
}

/// How a conntrack address test reads: `ADDR` (one address), `ADDR/LEN` or `ADDR/MASK`, and whether it is one
/// address.
fn host_mask_text(h: &HostMask) -> (String, bool) {
    let width = if h.addr.is_ipv4() { 32 } else { 128 };
    match h.prefix_len() {
        Some(len) if len == width => (h.addr.to_string(), true),
        Some(len) => (format!("{}/{len}", h.addr), false),
        None => (format!("{}/{}", h.addr, h.mask), false),
    }
}

fn eval_addr(label: &str, actual: IpAddr, test: &Negatable<HostMask>) -> Outcome {
    let inside = test.value.contains(actual);
    let (text, one) = host_mask_text(&test.value);
    conclude(inside, test.negated, format!("the {label} {actual} {}", in_list(inside, text, one)))
}

fn eval_port(label: &str, actual: u16, test: &Negatable<PortRange>) -> Outcome {
    let inside = test.value.contains(actual);
    let one = test.value.min == test.value.max;
    conclude(inside, test.negated, format!("the {label} {actual} {}", in_list(inside, test.value, one)))
}

fn eval_status(test: &Negatable<CtStatuses>, ctx: &EvalCtx<'_>, icmp: bool) -> Outcome {
    let ct = ctx.ct;
    // A RELATED packet other than an ICMP error starts a connection a helper expected.
    let expected = ct.state == PacketState::Related && !icmp;
    let have = [
        (expected, CtStatus::Expected),
        (ct.seen_reply, CtStatus::SeenReply),
        (ct.assured, CtStatus::Assured),
        (ct.confirmed, CtStatus::Confirmed),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .fold(CtStatuses(0), |set, (_, s)| CtStatuses(set.0 | s.bit()));
    let common = CtStatuses(have.0 & test.value.0);
    let inside = common.0 != 0;
    let fact = if inside {
        format!("the connection's status is {have}, which includes {common}")
    } else {
        format!("the connection's status is {have}, which has none of {}", test.value)
    };
    let mut o = conclude(inside, test.negated, fact);
    if !inside && test.value.contains(CtStatus::Expected) && ct.state == PacketState::Established {
        o.assumed = true;
        o.why.push_str(" (chainwalk assumes the connection was not set up through a helper's expectation)");
    }
    let datagrams = matches!(ctx.pkt.l4, L4::Udp { .. } | L4::Udplite { .. });
    if datagrams && ct.seen_reply && test.value.contains(CtStatus::Assured) && !ct.assured {
        o.assumed = true;
        o.why.push_str(
            " (the kernel marks a UDP exchange ASSURED only when it is still active two seconds after its reply; \
             chainwalk assumes this one is younger)",
        );
    }
    o
}

fn eval_expire(test: &Negatable<NumRange>) -> Outcome {
    if test.value.min == 0 && test.value.max == u32::MAX {
        return conclude(true, test.negated, format!("every remaining lifetime is in {}", test.value));
    }
    let holds = !test.negated;
    Outcome::assumed(
        holds,
        format!(
            "chainwalk does not know how many seconds the connection has left before it expires and assumes it is \
             within {}, so this {}",
            test.value,
            if holds { "holds" } else { "does not hold" }
        ),
    )
}

impl Conntrack {
    /// Whether any option other than `--ctstate` is given.
    fn has_more_than_state(&self) -> bool {
        self.proto.is_some()
            || self.tuple.is_some()
            || self.status.is_some()
            || self.expire.is_some()
            || self.direction.is_some()
    }
}

impl Evaluate for Conntrack {
    /// `conntrack_mt` in `xt_conntrack.c`: the state first (SNAT and DNAT count only here); a packet without
    /// a connection then matches exactly when `--ctstate` was given, whatever the other options say; then the
    /// direction, the four addresses, the protocol, the four ports, the status and the remaining lifetime.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let mut outcomes = Vec::new();
        if let Some(s) = &self.state {
            let o = eval_states("ctstate", s, ctx, true);
            if !o.holds {
                return o;
            }
            outcomes.push(o);
        }
        if !has_connection(ctx.ct) {
            let why = no_connection(ctx);
            return match outcomes.pop() {
                Some(state) if self.has_more_than_state() => {
                    Outcome::yes(format!("{}; {why}, and then the kernel checks no other option", state.why))
                }
                Some(state) => state,
                None => Outcome::no(format!(
                    "{why}, and without --ctstate the conntrack match does not match such a packet, `!` or not"
                )),
            };
        }
        let ct = ctx.ct;
        if let Some(want) = self.direction {
            let actual = match ct.dir {
                CtDir::Original => CtDirection::Original,
                CtDir::Reply => CtDirection::Reply,
            };
            let is = actual == want;
            outcomes.push(Outcome::when(
                is,
                format!(
                    "the packet travels in the {} direction, {} {}, so this {}",
                    actual.name(),
                    if is { "which is" } else { "not" },
                    want.name(),
                    if is { "holds" } else { "does not hold" }
                ),
            ));
        }
        // The connection of a RELATED ICMP error is the one the error is about: the connection of the packet
        // it quotes, when the packet says which; else chainwalk knows only the error's own addresses.
        let icmp = matches!(ctx.pkt.l4, L4::Icmp { .. } | L4::Icmpv6 { .. });
        let related_icmp = icmp && ct.state == PacketState::Related;
        let quoted = ctx.pkt.quoted.filter(|_| related_icmp);
        let about_ct = |mut o: Outcome| {
            if related_icmp && quoted.is_none() {
                o.assumed = true;
                o.why.push_str(
                    " (for a RELATED ICMP error chainwalk takes the error's own addresses, ports and protocol; the \
                     kernel looks at the connection the error is about)",
                );
            }
            o
        };
        if let Some(t) = &self.tuple {
            let addrs = [
                ("original source", ct.original.src, &t.orig_src),
                ("original destination", ct.original.dst, &t.orig_dst),
                ("reply source", ct.reply.src, &t.repl_src),
                ("reply destination", ct.reply.dst, &t.repl_dst),
            ];
            for (label, actual, test) in addrs {
                if let Some(test) = test {
                    outcomes.push(about_ct(eval_addr(label, actual, test)));
                }
            }
        }
        if let Some(p) = &self.proto {
            let actual = Protocol(quoted.map_or(ctx.pkt.l4.proto(), |q| q.proto));
            let is = actual == p.value;
            let fact =
                format!("the connection's protocol is {actual}, {} {}", if is { "which is" } else { "not" }, p.value);
            outcomes.push(about_ct(conclude(is, p.negated, fact)));
        }
        if let Some(t) = &self.tuple {
            let ports = [
                ("original source port", ct.original.sport, &t.orig_src_port),
                ("original destination port", ct.original.dport, &t.orig_dst_port),
                ("reply source port", ct.reply.sport, &t.repl_src_port),
                ("reply destination port", ct.reply.dport, &t.repl_dst_port),
            ];
            for (label, actual, test) in ports {
                if let Some(test) = test {
                    outcomes.push(about_ct(eval_port(label, actual, test)));
                }
            }
        }
        if let Some(s) = &self.status {
            outcomes.push(eval_status(s, ctx, icmp));
        }
        if let Some(e) = &self.expire {
            outcomes.push(eval_expire(e));
        }
        all_of(outcomes, "the packet has a connection")
    }
}

/// A hand-made [`EvalCtx`] for the match modules' tests: a packet at a hook, with its connection and the host.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::host::Host;
    use crate::matches::MatchKind;
    use crate::packet::{CtDir, CtState, Packet};
    use crate::ruleset::{Family, Hook, TableName};
    use crate::walk::eval::{ConnState, EvalCtx, Tuple};

    /// A packet where a rule sees it.
    pub(crate) struct Scene {
        pub pkt: Packet,
        pub ct: ConnState,
        pub host: Host,
        pub hook: Hook,
        pub table: TableName,
        /// The walk's recent lists, which `-m recent` changes.
        pub recent: std::cell::RefCell<Vec<crate::matches::recent::RecentEntry>>,
    }

    impl Scene {
        /// `packet` (short form or log line) at INPUT in the filter table, with the connection state and
        /// direction it gives (`seen_reply`, `assured` and `confirmed` as an ESTABLISHED one has them), on a
        /// host with only a loopback interface.
        pub(crate) fn new(packet: &str) -> Scene {
            let pkt = crate::packet::parse(packet).unwrap_or_else(|e| panic!("{packet}: {e:?}"));
            let (sport, dport) = pkt.l4.ports().unwrap_or((0, 0));
            let this = Tuple { src: pkt.src, dst: pkt.dst, sport, dport };
            let back = Tuple { src: pkt.dst, dst: pkt.src, sport: dport, dport: sport };
            let (original, reply) = if pkt.ct_dir == CtDir::Reply { (back, this) } else { (this, back) };
            let established = pkt.ct_state == CtState::Established;
            let ct = ConnState {
                state: pkt.ct_state,
                dir: pkt.ct_dir,
                mark: pkt.ct_mark,
                snat: false,
                dnat: false,
                original,
                reply,
                seen_reply: established,
                assured: established,
                confirmed: established || pkt.ct_state == CtState::Related,
                tuple_in_table: false,
            };
            Scene {
                pkt,
                ct,
                host: Host::loopback_only(),
                hook: Hook::Input,
                table: TableName::Filter,
                recent: Default::default(),
            }
        }

        /// The same scene on `host` (written as `ip` prints it).
        pub(crate) fn on(mut self, host: &str) -> Scene {
            self.host = crate::host::parse(host).unwrap_or_else(|e| panic!("{host}: {e:?}"));
            self
        }

        /// The same scene at `hook` in `table`.
        pub(crate) fn at(mut self, hook: Hook, table: TableName) -> Scene {
            self.hook = hook;
            self.table = table;
            self
        }

        /// What a match sees.
        pub(crate) fn ctx(&self) -> EvalCtx<'_> {
            EvalCtx {
                pkt: &self.pkt,
                ct: &self.ct,
                host: &self.host,
                hook: self.hook,
                table: self.table,
                in_iface: self.pkt.in_iface.as_deref(),
                out_iface: self.pkt.out_iface.as_deref(),
                recent: &self.recent,
                effects: true,
                ipsets: &self.host.ipsets,
                set_counts: None,
                now: None,
                socket: self.pkt.is_local_out(),
                kernel_socket: false,
                backend: crate::walk::Backend::Legacy,
            }
        }
    }

    /// The first match of the rule `-A INPUT RULE`, loaded for `family`.
    pub(crate) fn first_match(family: Family, rule: &str) -> MatchKind {
        let p = crate::parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT {rule}\nCOMMIT\n"), Some(family));
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        p.ruleset.tables[0].chains[0].rules[0].matches[0].kind.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matches::MatchKind;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::matches::testing::input_rule(family, line)
    }

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        crate::matches::testing::input_saved(family, line)
    }

    /// `-A INPUT -m conntrack GIVEN` printed back, without the `-A INPUT -m conntrack` part.
    fn options(family: Family, given: &str) -> String {
        let line = saved(family, &format!("-A INPUT -m conntrack {given}"));
        line.strip_prefix("-A INPUT -m conntrack ").unwrap_or(&line).to_string()
    }

    /// The first error's column (on line 3) and message.
    fn error(family: Family, line: &str) -> (u32, String) {
        crate::matches::testing::input_error(family, line)
    }

    #[test]
    fn every_option_in_save_order() {
        let all = "--ctstate NEW --ctproto 6 --ctorigsrc 10.0.0.0/8 --ctorigdst 10.0.0.1 --ctreplsrc 10.0.0.2 \
                   --ctrepldst 10.0.0.3 --ctorigsrcport 1 --ctorigdstport 2 --ctreplsrcport 3 --ctrepldstport 4 \
                   --ctstatus ASSURED --ctexpire 5 --ctdir ORIGINAL";
        assert_eq!(options(Family::Ipv4, all), all);
        let reversed = "--ctdir ORIGINAL --ctexpire 5 --ctstatus ASSURED --ctrepldstport 4 --ctreplsrcport 3 \
                        --ctorigdstport 2 --ctorigsrcport 1 --ctrepldst 10.0.0.3 --ctreplsrc 10.0.0.2 --ctorigdst \
                        10.0.0.1 --ctorigsrc 10.0.0.0/8 --ctproto tcp --ctstate NEW";
        assert_eq!(options(Family::Ipv4, reversed), all);
        let negated = "! --ctstate NEW ! --ctproto 6 ! --ctorigsrc 1.2.3.4 ! --ctorigdst 1.2.3.4 ! --ctreplsrc \
                       1.2.3.4 ! --ctrepldst 1.2.3.4 ! --ctorigsrcport 1 ! --ctorigdstport 2 ! --ctreplsrcport 3 ! \
                       --ctrepldstport 4 ! --ctstatus ASSURED ! --ctexpire 5 --ctdir REPLY";
        assert_eq!(options(Family::Ipv4, negated), negated);
    }

    #[test]
    fn values_print_as_iptables_save_prints_them() {
        // What iptables-save 1.8.9 printed after `-m conntrack GIVEN`.
        let v4 = [
            ("--ctstate ESTABLISHED,RELATED", "--ctstate RELATED,ESTABLISHED"),
            (
                "--ctstate DNAT,SNAT,UNTRACKED,ESTABLISHED,RELATED,NEW,INVALID",
                "--ctstate INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT",
            ),
            // Names cut short, in any case (libxt_conntrack compares an item's length).
            ("--ctstate n,e", "--ctstate NEW,ESTABLISHED"),
            ("--ctstate est,REL", "--ctstate RELATED,ESTABLISHED"),
            ("--ctstatus n,ass", "--ctstatus ASSURED"),
            ("--ctproto all", "--ctproto 0"),
            ("--ctproto 47", "--ctproto 47"),
            ("--ctorigsrc 10.1.2.3/8", "--ctorigsrc 10.1.2.3/8"),
            ("--ctorigsrc 10.0.0.0/255.255.0.0", "--ctorigsrc 10.0.0.0/16"),
            ("--ctorigsrc 10.0.0.0/255.0.255.0", "--ctorigsrc 10.0.0.0"),
            ("--ctorigsrc 10.0.0.0/33", "--ctorigsrc 10.0.0.0"),
            ("--ctorigsrc 10.0.0.0/32", "--ctorigsrc 10.0.0.0"),
            ("--ctorigsrc 10.0.0.0/0", "--ctorigsrc 10.0.0.0/0"),
            ("--ctorigsrc 0.0.0.0", "--ctorigsrc 0.0.0.0"),
            ("--ctorigsrc 10.0.0.0/024", "--ctorigsrc 10.0.0.0/20"),
            ("--ctorigsrc 10.0.0.0/0x18", "--ctorigsrc 10.0.0.0/24"),
            ("--ctorigsrc 10.1", "--ctorigsrc 10.0.0.1"),
            ("--ctstatus NONE", "--ctstatus NONE"),
            ("--ctstatus NONE,ASSURED", "--ctstatus ASSURED"),
            ("--ctstatus CONFIRMED,ASSURED,SEEN_REPLY,EXPECTED", "--ctstatus EXPECTED,SEEN_REPLY,ASSURED,CONFIRMED"),
            ("--ctorigsrcport 1024:", "--ctorigsrcport 1024:65535"),
            ("--ctorigsrcport :", "--ctorigsrcport 0:65535"),
            ("--ctorigsrcport 0:0", "--ctorigsrcport 0"),
            ("--ctorigsrcport 80:22", "--ctorigsrcport 80:22"),
            ("--ctorigsrcport 010", "--ctorigsrcport 10"),
            ("--ctorigdstport 70000", "--ctorigdstport 4464"),
            ("--ctorigsrcport 131072", "--ctorigsrcport 0"),
            ("--ctorigsrcport \"\"", "--ctorigsrcport 0"),
            ("! --ctorigsrcport 0:65535", "! --ctorigsrcport 0:65535"),
            ("--ctexpire 10:100", "--ctexpire 10:100"),
            ("--ctexpire 100:10", "--ctexpire 100:10"),
            ("--ctexpire 10:", "--ctexpire 10:4294967295"),
            ("--ctexpire 0x10", "--ctexpire 16"),
        ];
        for (given, printed) in v4 {
            assert_eq!(options(Family::Ipv4, given), printed, "{given}");
        }
        let v6 = [
            ("--ctorigsrc 2001:DB8::1/64", "--ctorigsrc 2001:db8::1/64"),
            ("--ctorigsrc 2001:db8::1/128", "--ctorigsrc 2001:db8::1"),
            ("--ctorigsrc 2001:db8::1/ffff:ffff::", "--ctorigsrc 2001:db8::1/32"),
            ("--ctorigsrc 2001:db8::1/ffff:0:ffff::", "--ctorigsrc 2001:db8::1"),
            ("--ctorigsrc 2001:db8::1/0x40", "--ctorigsrc 2001:db8::1/64"),
            ("--ctorigsrc ::/0", "--ctorigsrc ::/0"),
            ("--ctproto ipv6-icmp", "--ctproto 58"),
        ];
        for (given, printed) in v6 {
            assert_eq!(options(Family::Ipv6, given), printed, "{given}");
        }
    }

    #[test]
    fn non_canonical_forms() {
        // Names in any case, a protocol name, a service name, abbreviated options.
        assert_eq!(
            saved(
                Family::Ipv4,
                "-A INPUT -m conntrack --ctstate new,established --ctproto TCP --ctorigdstp ssh --ctdi reply -j ACCEPT"
            ),
            "-A INPUT -m conntrack --ctstate NEW,ESTABLISHED --ctproto 6 --ctorigdstport 22 --ctdir REPLY -j ACCEPT"
        );
        assert_eq!(options(Family::Ipv4, "--ctstatu assured --ctex 5"), "--ctstatus ASSURED --ctexpire 5");
    }

    #[test]
    fn the_walk_gets_typed_values() {
        let p = parsed(Family::Ipv4, "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED --ctorigsrc 10.1.2.3/8");
        let MatchKind::Conntrack(ct) = &p.ruleset.tables[0].chains[0].rules[0].matches[0].kind else {
            panic!("not a conntrack match");
        };
        let states = ct.state.as_ref().map(|s| s.value).unwrap_or_default();
        assert!(states.contains(CtState::Established) && states.contains(CtState::Related));
        assert!(!states.contains(CtState::New));
        let src = ct.tuple.as_ref().and_then(|t| t.orig_src.as_ref()).map(|s| s.value).expect("ctorigsrc");
        assert!(src.contains("10.200.0.1".parse().unwrap()));
        assert!(!src.contains("11.0.0.1".parse().unwrap()));
    }

    #[test]
    fn ports_above_65535_wrap_with_a_warning() {
        let p = parsed(Family::Ipv4, "-A INPUT -m conntrack --ctorigdstport 1:70000");
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        let w = p.warnings().next().expect("a warning");
        assert_eq!((w.span.line, w.span.col), (3, 39));
        assert_eq!(w.message, "port 70000 is above 65535; iptables takes it modulo 65536, as port 4464");
    }

    #[test]
    fn inet_aton_reads_short_forms() {
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("10.1.2"), Some(Ipv4Addr::new(10, 1, 0, 2)));
        assert_eq!(inet_aton("167772161"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("100"), Some(Ipv4Addr::new(0, 0, 0, 100)));
        assert_eq!(inet_aton("1.256"), Some(Ipv4Addr::new(1, 0, 1, 0)));
        assert_eq!(inet_aton("1.2.256"), Some(Ipv4Addr::new(1, 2, 1, 0)));
        assert_eq!(inet_aton("1.2.3.256"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton(""), None);
    }

    #[test]
    fn errors() {
        let v4 = Family::Ipv4;
        assert_eq!(
            error(v4, "-A INPUT -m conntrack --ctstate BOGUS"),
            (
                33,
                "`BOGUS` is not a connection state (INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT, DNAT)".into()
            )
        );
        assert!(error(v4, "-A INPUT -m conntrack --ctstate NEW,").1.starts_with("`NEW,` has an empty item"));
        assert!(error(v4, "-A INPUT -m conntrack --ctstate \"NEW ESTABLISHED\"")
            .1
            .starts_with("`NEW ESTABLISHED` is not"));
        assert_eq!(
            error(v4, "-A INPUT -m conntrack --ctstate NEW --ctstate ESTABLISHED"),
            (37, "`--ctstate` is given more than once".into())
        );
        assert_eq!(error(v4, "-A INPUT -m conntrack --ctproto bogus").1, "unknown protocol `bogus`");
        assert!(error(v4, "-A INPUT -m conntrack --ctorigsrc 2001:db8::1")
            .1
            .starts_with("`2001:db8::1` is not an IPv4"));
        assert!(error(Family::Ipv6, "-A INPUT -m conntrack --ctorigsrc 10.0.0.1")
            .1
            .starts_with("`10.0.0.1` is not an IPv6"));
        assert_eq!(
            error(v4, "-A INPUT -m conntrack --ctorigsrc 10.0.0.0/x").1,
            "`x` is neither a network mask nor a prefix length (0 to 32)"
        );
        assert!(error(v4, "-A INPUT -m conntrack --ctorigsrc 10.0.0.0/").1.starts_with("`` is neither"));
        assert_eq!(
            error(Family::Ipv6, "-A INPUT -m conntrack --ctorigsrc ::1/129").1,
            "`129` is neither a network mask nor a prefix length (0 to 128)"
        );
        assert_eq!(
            error(v4, "-A INPUT -m conntrack --ctstatus DYING").1,
            "`DYING` is not a connection status (NONE, EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED)"
        );
        assert_eq!(
            error(v4, "-A INPUT -m conntrack --ctdir BOTH"),
            (31, "`BOTH` is not a direction (ORIGINAL or REPLY)".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -m conntrack ! --ctdir REPLY"),
            (23, "`--ctdir` cannot be negated with `!`".into())
        );
        assert!(error(v4, "-A INPUT -m conntrack --ctorigdstport 22,23").1.contains("22,23"));
        assert_eq!(
            error(v4, "-A INPUT -m conntrack --ctorigsrcport 0x10"),
            (39, "`0x10` is not a port: ports are read here as decimal numbers or service names".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -m conntrack --ctexpire 4294967296").1,
            "`4294967296` is not a number from 0 to 4294967295"
        );
        assert_eq!(
            error(v4, "-A INPUT -m conntrack -j ACCEPT"),
            (10, "the conntrack match needs at least one option (`--ctstate STATES`, ...)".into())
        );
    }

    mod eval {
        use super::super::fixture::{first_match, Scene};
        use super::*;
        use crate::ruleset::{Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        const ESTABLISHED: &str = "tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 ack state established";
        const REPLY: &str = "tcp 192.0.2.2:22 -> 203.0.113.7:40000 in eth0 ack state established dir reply";

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m conntrack {options}")) {
                MatchKind::Conntrack(c) => c.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn state() {
            let est = Scene::new(ESTABLISHED);
            let o = eval(&est, "--ctstate RELATED,ESTABLISHED");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "ctstate is ESTABLISHED, which is in RELATED,ESTABLISHED, so this holds");
            let new = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let o = eval(&new, "--ctstate RELATED,ESTABLISHED");
            assert!(!o.holds);
            assert_eq!(o.why, "ctstate is NEW, which is not in RELATED,ESTABLISHED, so this does not hold");
            let o = eval(&new, "! --ctstate NEW");
            assert!(!o.holds);
            assert_eq!(o.why, "ctstate is NEW, which is NEW, so this does not hold");
        }

        #[test]
        fn nat_states_come_from_the_connection() {
            let mut s = Scene::new("tcp 203.0.113.7:40000 -> 10.0.0.5:80 in eth0 syn");
            s.ct.dnat = true;
            let o = eval(&s, "--ctstate DNAT");
            assert!(o.holds);
            assert_eq!(o.why, "ctstate is NEW with DNAT, and DNAT is DNAT, so this holds");
            let o = eval(&s, "--ctstate SNAT,ESTABLISHED");
            assert!(!o.holds);
            assert!(o.why.contains("none of which is in ESTABLISHED,SNAT"), "{}", o.why);
        }

        #[test]
        fn without_a_connection_only_ctstate_counts() {
            let raw = Scene::new(ESTABLISHED).at(Hook::Prerouting, TableName::Raw);
            let mut raw = raw;
            raw.ct.state = crate::packet::CtState::Invalid;
            let o = eval(&raw, "--ctstate INVALID --ctdir REPLY");
            assert!(o.holds, "{}", o.why);
            assert!(o.why.starts_with("ctstate is INVALID (conntrack has not seen the packet yet in the raw table)"));
            assert!(o.why.ends_with("and then the kernel checks no other option"), "{}", o.why);
            let o = eval(&raw, "! --ctstatus ASSURED");
            assert!(!o.holds);
            assert!(o.why.contains("without --ctstate the conntrack match does not match such a packet, `!` or not"));
            let untracked = Scene::new("udp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 state untracked");
            let o = eval(&untracked, "--ctstate UNTRACKED");
            assert!(o.holds);
            assert!(eval(&untracked, "--ctstate SNAT,DNAT")
                .why
                .contains("ctstate is UNTRACKED, which is not in SNAT,DNAT"));
        }

        #[test]
        fn direction() {
            let o = eval(&Scene::new(REPLY), "--ctdir ORIGINAL");
            assert!(!o.holds);
            assert_eq!(o.why, "the packet travels in the REPLY direction, not ORIGINAL, so this does not hold");
            assert!(eval(&Scene::new(REPLY), "--ctdir REPLY").holds);
        }

        #[test]
        fn tuples() {
            let s = Scene::new(REPLY);
            let o = eval(&s, "--ctorigsrc 203.0.113.7 --ctorigdstport 22");
            assert!(o.holds);
            assert_eq!(
                o.why,
                "the original source 203.0.113.7 is 203.0.113.7, so this holds; the original destination port 22 is \
                 22, so this holds"
            );
            let o = eval(&s, "--ctorigsrc 203.0.113.0/24 --ctreplsrc 10.0.0.0/8");
            assert!(!o.holds);
            assert_eq!(o.why, "the reply source 192.0.2.2 is not in 10.0.0.0/8, so this does not hold");
            let o = eval(&s, "! --ctorigsrc 203.0.113.0/24");
            assert!(!o.holds);
            assert_eq!(o.why, "the original source 203.0.113.7 is in 203.0.113.0/24, so this does not hold");
            let o = eval(&s, "--ctreplsrcport 1000:2000");
            assert_eq!(o.why, "the reply source port 22 is not in 1000:2000, so this does not hold");
            let o = eval(&s, "--ctproto udp");
            assert!(!o.holds);
            assert_eq!(o.why, "the connection's protocol is tcp, not udp, so this does not hold");
        }

        #[test]
        fn related_icmp_errors_are_about_another_connection() {
            let s = Scene::new("icmp 192.0.2.9 -> 203.0.113.7 in eth0 type 3 code 3 state related");
            let o = eval(&s, "--ctproto icmp");
            assert!(o.holds && o.assumed);
            assert!(o.why.contains("the kernel looks at the connection the error is about"));
        }

        #[test]
        fn status() {
            let o = eval(&Scene::new(ESTABLISHED), "--ctstatus ASSURED");
            assert!(o.holds);
            assert_eq!(
                o.why,
                "the connection's status is SEEN_REPLY,ASSURED,CONFIRMED, which includes ASSURED, so this holds"
            );
            let o = eval(&Scene::new("udp 192.0.2.1:5 -> 192.0.2.2:53 in eth0"), "--ctstatus CONFIRMED");
            assert!(!o.holds);
            assert_eq!(o.why, "the connection's status is NONE, which has none of CONFIRMED, so this does not hold");
            let o = eval(
                &Scene::new("tcp 192.0.2.1:20 -> 192.0.2.2:4000 in eth0 syn state related"),
                "--ctstatus EXPECTED",
            );
            assert!(o.holds && !o.assumed);
            let o = eval(&Scene::new(ESTABLISHED), "--ctstatus EXPECTED");
            assert!(!o.holds && o.assumed);
        }

        #[test]
        fn expire_is_assumed() {
            let o = eval(&Scene::new(ESTABLISHED), "--ctexpire 10:60");
            assert!(o.holds && o.assumed);
            assert!(o.why.contains("assumes it is within 10:60"), "{}", o.why);
            let o = eval(&Scene::new(ESTABLISHED), "! --ctexpire 10:60");
            assert!(!o.holds && o.assumed);
            let o = eval(&Scene::new(ESTABLISHED), "--ctstate ESTABLISHED --ctexpire 10:60");
            assert!(o.holds && o.assumed, "an assumption anywhere makes the answer assumed");
        }
    }
}
