//! `-m pkttype --pkt-type`: the link-layer class of a packet (`skb->pkt_type`): to this host, broadcast,
//! multicast, or to another host (`libxt_pkttype`, the kernel's `xt_pkttype.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Hook;
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The options of `-m pkttype`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pkttype {
    /// `--pkt-type`.
    pub pkt_type: Negatable<PacketType>,
}

/// A link-layer packet class (`PACKET_*` in `linux/if_packet.h`). For a locally generated packet the
/// kernel's match decides unicast, broadcast or multicast by the destination address instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PacketType {
    /// Addressed to this host (`PACKET_HOST`; also written `host`).
    Unicast,
    /// Link-layer broadcast.
    Broadcast,
    /// Link-layer multicast.
    Multicast,
    /// Addressed to another host, seen in promiscuous mode.
    Otherhost,
}

impl PacketType {
    /// Reads a class name, in any case.
    pub fn parse(text: &str) -> Result<PacketType, String> {
        let t = match text.to_ascii_lowercase().as_str() {
            "unicast" | "host" => PacketType::Unicast,
            "broadcast" => PacketType::Broadcast,
            "multicast" => PacketType::Multicast,
            "otherhost" => PacketType::Otherhost,
            _ => return Err(format!("`{text}` is not a packet type (unicast, broadcast, multicast, otherhost)")),
        };
        Ok(t)
    }

    /// The name `iptables-save` prints.
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Unicast => "unicast",
            PacketType::Broadcast => "broadcast",
            PacketType::Multicast => "multicast",
            PacketType::Otherhost => "otherhost",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Extension for Pkttype {
    const OPTIONS: &'static [OptSpec] = &[opt("pkt-type", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Pkttype, Diagnostic> {
        let o = find(opts, "pkt-type")?.ok_or_else(|| ctx.error("the pkttype match needs `--pkt-type TYPE`"))?;
        let t = o.parse_arg(PacketType::parse)?;
        Ok(Pkttype { pkt_type: Negatable { value: t, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.pkt_type.negated, "pkt-type", self.pkt_type.value);
    }
}

impl Evaluate for Pkttype {
    /// `pkttype_mt` in `xt_pkttype.c` on `skb->pkt_type`, which chainwalk derives from the destination
    /// address: a packet this host sends is PACKET_HOST (unicast) at OUTPUT and POSTROUTING whatever its
    /// destination; a received one (and a looped-back copy, PACKET_LOOPBACK, which the match reads by address)
    /// is broadcast, multicast or unicast as the frame that carried it was: broadcast for the limited
    /// broadcast and a broadcast address of the input interface's subnets, unicast for the broadcast address
    /// of another interface's subnet (routed here like any packet to this host). `otherhost` frames are
    /// dropped before PREROUTING, so it never matches.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        // The frame's type is set when it arrives: a DNAT after that leaves it (recorded: a broadcast
        // DNATed to an address of this host is still broadcast in INPUT). The connection's original
        // tuple keeps the destination it arrived with.
        let dst = match ctx.ct.dir {
            crate::packet::CtDir::Original if ctx.ct.dnat && !ctx.pkt.is_local_out() => ctx.ct.original.dst,
            _ => ctx.pkt.dst,
        };
        let (actual, reason) = if ctx.pkt.is_local_out() && matches!(ctx.hook, Hook::Output | Hook::Postrouting) {
            (PacketType::Unicast, "a packet this host sends is of type host until it leaves".to_string())
        } else if dst.is_multicast() {
            (PacketType::Multicast, format!("DST={dst} is a multicast address"))
        } else if link_broadcast(ctx, dst) {
            (PacketType::Broadcast, format!("DST={dst} is a broadcast address"))
        } else if ctx.host.is_broadcast(dst) {
            let dev = ctx.in_iface.unwrap_or_default();
            let why = format!(
                "DST={dst} is a broadcast address of another subnet than {dev}'s, which came to this host in a \
                 frame to its own link address"
            );
            (PacketType::Unicast, why)
        } else {
            (PacketType::Unicast, format!("DST={dst} is a unicast address"))
        };
        let want = self.pkt_type.value;
        let is = actual == want;
        let fact = format!("{reason}, so the packet type is {actual}, {} {want}", if is { "which is" } else { "not" });
        conclude(is, self.pkt_type.negated, fact)
    }
}

/// Whether a received packet to `dst` came in a link-layer broadcast: `dst` is the limited broadcast, or a
/// broadcast address of the input interface's own subnets (a sender on another link reaches a directed
/// broadcast through a router, in a frame to the router's address). A looped-back packet (`lo`) is read by
/// its address alone.
fn link_broadcast(ctx: &EvalCtx<'_>, dst: std::net::IpAddr) -> bool {
    came_in_broadcast_frame(ctx.host, ctx.in_iface, dst)
}

/// Whether a packet to `dst` that came in on `in_iface` came in a link-layer broadcast frame: the limited
/// broadcast, or a broadcast address of the input interface's own subnets (a sender on that link sends
/// those to the broadcast link address).
pub(crate) fn came_in_broadcast_frame(host: &crate::host::Host, in_iface: Option<&str>, dst: std::net::IpAddr) -> bool {
    let std::net::IpAddr::V4(v4) = dst else { return false };
    let Some(dev) = in_iface.filter(|d| *d != "lo") else { return host.is_broadcast(dst) };
    v4.is_broadcast()
        || host.interface(dev).is_some_and(|i| i.addrs.iter().any(|a| a.broadcast() == Some(v4)))
        || host.routes.iter().any(|r| {
            r.kind == crate::host::RouteKind::Broadcast
                && r.table == crate::policy::LOCAL_TABLE
                && r.dev.as_deref() == Some(dev)
                && r.dst == dst
        })
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        crate::matches::testing::input_saved(family, line)
    }

    /// The first error's column (on line 3) and message.
    fn error(line: &str) -> (u32, String) {
        crate::matches::testing::input_error(Family::Ipv4, line)
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // What iptables-save 1.8.9 printed after `--pkt-type GIVEN`.
        let cases = [
            ("unicast", "unicast"),
            ("broadcast", "broadcast"),
            ("multicast", "multicast"),
            ("otherhost", "otherhost"),
            ("BROADCAST", "broadcast"),
            ("Multicast", "multicast"),
            ("OtherHost", "otherhost"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(Family::Ipv4, &format!("-A INPUT -m pkttype --pkt-type {given}")),
                format!("-A INPUT -m pkttype --pkt-type {printed}")
            );
        }
        assert_eq!(
            saved(Family::Ipv6, "-A INPUT -m pkttype ! --pkt-type unicast"),
            "-A INPUT -m pkttype ! --pkt-type unicast"
        );
    }

    #[test]
    fn non_canonical_forms() {
        // `host` is another name for unicast; the option abbreviated.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m pkttype --pkt HOST -j ACCEPT"),
            "-A INPUT -m pkttype --pkt-type unicast -j ACCEPT"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A INPUT -m pkttype --pkt-type outgoing"),
            (32, "`outgoing` is not a packet type (unicast, broadcast, multicast, otherhost)".into())
        );
        assert!(error("-A INPUT -m pkttype --pkt-type uni").1.starts_with("`uni` is not a packet type"));
        assert!(error("-A INPUT -m pkttype --pkt-type 0").1.starts_with("`0` is not a packet type"));
        assert_eq!(error("-A INPUT -m pkttype"), (10, "the pkttype match needs `--pkt-type TYPE`".into()));
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::{Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m pkttype {options}")) {
                MatchKind::Pkttype(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn received_packets_by_destination() {
            let host = "eth0 UP 192.0.2.1/24\n";
            let bcast = Scene::new("udp 192.0.2.9:138 -> 192.0.2.255:138 in eth0").on(host);
            let o = eval(&bcast, "--pkt-type broadcast");
            assert!(o.holds);
            assert_eq!(
                o.why,
                "DST=192.0.2.255 is a broadcast address, so the packet type is broadcast, which is broadcast, so \
                 this holds"
            );
            let o = eval(&bcast, "! --pkt-type broadcast");
            assert!(!o.holds);
            let mdns = Scene::new("udp [fe80::9]:5353 -> [ff02::fb]:5353 in eth0");
            assert!(eval(&mdns, "--pkt-type multicast").holds);
            let uni = Scene::new("tcp 192.0.2.9:4000 -> 192.0.2.1:22 in eth0 syn").on(host);
            let o = eval(&uni, "--pkt-type multicast");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "DST=192.0.2.1 is a unicast address, so the packet type is unicast, not multicast, so this does not \
                 hold"
            );
            assert!(!eval(&uni, "--pkt-type otherhost").holds);
        }

        #[test]
        fn sent_packets_are_host_until_they_leave() {
            let out = Scene::new("udp 192.0.2.1:68 -> 255.255.255.255:67 out eth0").at(Hook::Output, TableName::Filter);
            let o = eval(&out, "--pkt-type broadcast");
            assert!(!o.holds);
            assert!(o.why.starts_with("a packet this host sends is of type host until it leaves"), "{}", o.why);
            assert!(eval(&out, "--pkt-type unicast").holds);
        }
    }
}
