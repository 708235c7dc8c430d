//! Packets that cross a Linux bridge (`net/bridge/br_netfilter_hooks.c`). A frame that comes in on a bridge
//! port is either bridged to another port (its destination MAC address is another host's on the bridge) or
//! passed up to IP (it is addressed to the bridge itself: for this host, or to be routed on). With
//! `br_netfilter` and `net.bridge.bridge-nf-call-iptables = 1` (`-ip6tables` for IPv6) both meet iptables
//! from PREROUTING on with `IN=br0 PHYSIN=port`; a bridged packet then meets FORWARD (`IN=br0 OUT=br0 PHYSIN=
//! PHYSOUT=`) and POSTROUTING (printed with `IN=` empty), with no routing decision, no `ip_forward` and no
//! TTL decrement. A routed one keeps `PHYSIN=` on every line. A destination NAT in PREROUTING to another
//! address that is routed to the same bridge keeps the packet bridged, out of the port of the new
//! destination (`br_nf_pre_routing_finish`), but only where the bridge forwards IPv4 (`ip_route_input` must
//! accept the new destination; recorded: with `ip_forward = 0` the packet is dropped, silently); to an
//! address routed elsewhere the packet is routed; to this host it is delivered. With the sysctl at 0, a bridged packet meets no iptables
//! hook at all, and one for the bridge itself goes up to IP as if it had come in on the bridge.
//!
//! chainwalk does not read the bridge's forwarding database: a sender on the bridge is taken to address a
//! destination in the bridge's own subnet directly (so the frame is bridged), and the port it leaves by is
//! the packet's `PHYSOUT=`, else the first other port of the bridge, which the walk reports as an
//! assumption. Broadcast and multicast frames, which a bridge floods and also passes up, are walked as the
//! copy that goes up to IP.

use super::Walker;
use crate::host::{Host, RouteDecision};
use crate::packet::Packet;
use crate::ruleset::Family;
use crate::trace::{Assumption, Path, StageKind, StageStatus};
use std::net::IpAddr;

/// A packet that came in on a bridge port.
#[derive(Clone, Debug)]
pub(super) struct Crossing {
    /// The bridge (the packet's `IN=`).
    pub bridge: String,
    /// The port it came in on (`PHYSIN=`).
    pub port_in: String,
    /// The port the packet's `PHYSOUT=` names: the one its destination is behind.
    pub asked_out: Option<String>,
    /// Whether `br_netfilter` passes the bridge's traffic of the packet's family through iptables.
    pub nf_call: bool,
}

/// The sysctl that decides whether bridged traffic of `family` meets iptables.
fn sysctl(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "net.bridge.bridge-nf-call-iptables",
        Family::Ipv6 => "net.bridge.bridge-nf-call-ip6tables",
    }
}

/// Whether `pkt` came in on a bridge port, and which: `IN=` a port of a bridge the host declares (the
/// kernel's `IN=` is then the bridge), `IN=` a declared bridge (its `PHYSIN=`, else its first port), or any
/// `IN=` with a `PHYSIN=`. Rewrites the packet's `IN=` to the bridge; assumptions go to `notes`.
pub(super) fn arrival(host: &Host, pkt: &mut Packet, notes: &mut Vec<String>) -> Option<Crossing> {
    let in_iface = pkt.in_iface.clone()?;
    let (bridge, port) = match host.bridge_of(&in_iface) {
        Some(b) => (b.to_string(), in_iface),
        None if host.is_bridge(&in_iface) => {
            let port = match &pkt.physin {
                Some(p) => p.clone(),
                None => {
                    let first = host.ports(&in_iface).next()?.name.clone();
                    notes.push(format!(
                        "The packet comes in on the bridge {in_iface} without PHYSIN=: chainwalk took its first port, \
                         {first}."
                    ));
                    first
                }
            };
            (in_iface, port)
        }
        None => (in_iface, pkt.physin.clone()?),
    };
    let family = pkt.family();
    let (nf_call, given) = host.bridge_nf_calls(family);
    if !given && !host.assumed {
        notes.push(format!(
            "The host does not give {}: chainwalk takes the kernel's default once br_netfilter is loaded (as \
             Docker and Kubernetes load it), 1.",
            sysctl(family)
        ));
    }
    pkt.in_iface = Some(bridge.clone());
    pkt.physin = Some(port.clone());
    Some(Crossing { bridge, port_in: port, asked_out: pkt.physout.clone(), nf_call })
}

impl Walker<'_, '_> {
    /// Whether the frame is addressed to another host on the bridge it came in on: its destination is in
    /// the bridge's own subnet (the sender reaches it directly) and is no address of this host.
    pub(super) fn frame_is_bridged(&self) -> bool {
        let Some(c) = &self.crossing else { return false };
        let dst = self.pkt.dst;
        if dst.is_multicast() || self.host.is_local(dst) || self.host.is_broadcast(dst) {
            return false;
        }
        matches!(self.host.route(dst), RouteDecision::Forward { dev, via: None, .. } if dev == c.bridge)
    }

    /// Whether, after PREROUTING, the packet is bridged: as the frame was addressed when nothing changed its
    /// destination, else whether routing accepts its new destination out of the same bridge
    /// (`br_nf_pre_routing_finish`). Where the bridge does not forward, the input route of the new destination
    /// is an error route and the packet goes up to IP, which drops it as any packet it may not forward.
    pub(super) fn still_bridged(&self, dst_before: IpAddr, bridged_before: bool) -> bool {
        let Some(c) = &self.crossing else { return false };
        if self.pkt.dst == dst_before {
            return bridged_before;
        }
        self.forwarding()
            && matches!(self.host.route(self.pkt.dst), RouteDecision::Forward { dev, .. } if dev == c.bridge)
    }

    /// The port of the bridge the packet leaves by: its `PHYSOUT=` for the destination it was sent to, else
    /// (none given, or a DNAT changed the destination) the first port that is neither the one it came in on
    /// nor, after a DNAT, its `PHYSOUT=`, reported as an assumption. `None` when the bridge has no other port.
    pub(super) fn choose_port_out(&mut self, translated: bool) -> Option<String> {
        let c = self.crossing.clone()?;
        if !translated {
            if let Some(p) = &c.asked_out {
                return Some(p.clone());
            }
        }
        let ports: Vec<&str> = self.host.ports(&c.bridge).map(|i| i.name.as_str()).collect();
        let chosen = ports
            .iter()
            .find(|p| **p != c.port_in && Some(**p) != c.asked_out.as_deref())
            .or_else(|| ports.iter().find(|p| **p != c.port_in))
            .map(|p| p.to_string())?;
        if !self.probe {
            let why = if translated { " after the DNAT" } else { "" };
            self.trace.assumptions.push(Assumption {
                step: None,
                key: None,
                text: format!(
                    "Which port of {} leads to {}{why} depends on the bridge's forwarding database, which the host \
                     does not give: chainwalk took {chosen}. Give PHYSOUT= to say.",
                    c.bridge, self.pkt.dst
                ),
                matched: None,
                question: None,
            });
        }
        Some(chosen)
    }

    /// The port a packet routed out of a bridge the host declares leaves by (for the fate only: iptables
    /// does not see it): the packet's `PHYSOUT=` when it is a port of that bridge, else its first port.
    pub(super) fn routed_port_out(&mut self, bridge: &str) -> Option<String> {
        let asked = self.first.physout.clone().filter(|p| self.host.bridge_of(p) == Some(bridge));
        if asked.is_some() {
            return asked;
        }
        let first = self.host.ports(bridge).next()?.name.clone();
        if !self.probe {
            self.trace.assumptions.push(Assumption {
                step: None,
                key: None,
                text: format!(
                    "Which port of {bridge} leads to {} depends on the bridge's forwarding database, which the host \
                     does not give: chainwalk took {first}. Give PHYSOUT= to say.",
                    self.pkt.dst
                ),
                matched: None,
                question: None,
            });
        }
        Some(first)
    }

    /// The bridge's own decision for a bridged packet: FORWARD and POSTROUTING when `br_netfilter` passes it
    /// through iptables, nothing otherwise; then out of `port`.
    pub(super) fn bridge_forward(&mut self, port: Option<String>, translated: bool) {
        let Some(c) = self.crossing.clone() else { return };
        self.out_iface = Some(c.bridge.clone());
        let Some(port) = port else {
            let why = format!(
                "the bridge {} has no port other than {}, and does not send a frame back out of the port it came \
                 in on",
                c.bridge, c.port_in
            );
            self.stage(None, StageKind::Bridge, StageStatus::Stopped, why.clone());
            self.stop_by_routing(Path::Forward, why, None);
            return;
        };
        self.port_out = Some(port.clone());
        self.pkt.physout = Some(port.clone());
        let knob = sysctl(self.family());
        let after_dnat = if translated {
            format!("the DNAT's new destination {} is on {} too, so it is ", self.pkt.dst, c.bridge)
        } else {
            String::new()
        };
        let note = if c.nf_call {
            format!(
                "{after_dnat}bridged by {} from {} to {port}, not routed (no ip_forward, no TTL decrement); \
                 br_netfilter passes it through iptables because {knob} = 1",
                c.bridge, c.port_in
            )
        } else {
            format!(
                "bridged by {} from {} to {port}, not routed; br_netfilter does not pass it through iptables because \
                 {knob} = 0, so no chain sees it",
                c.bridge, c.port_in
            )
        };
        self.stage(None, StageKind::Bridge, StageStatus::Passed, note);
        if c.nf_call && !(self.hook(crate::ruleset::Hook::Forward) && self.hook(crate::ruleset::Hook::Postrouting)) {
            return;
        }
        self.egress(Path::Forward, None);
    }
}

/// The fate's sentence for a packet that left through a bridge port.
pub(super) fn bridged_summary(bridge: &str, port_in: &str, port_out: &str, src: &str, dst: &str) -> String {
    format!("Bridged by {bridge} from {port_in} out of {port_out} to {dst} (from {src}).")
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::walk;
    use crate::trace::{FateVerdict, Path};

    const HOST: &str = "docker0 UP 172.17.0.1/16\neth0 UP 198.51.100.2/24\ndefault via 198.51.100.1 dev eth0\n\
                        7: veth1@if6: <BROADCAST,UP,LOWER_UP> mtu 1500 master docker0 state forwarding\n\
                        9: veth2@if8: <BROADCAST,UP,LOWER_UP> mtu 1500 master docker0 state forwarding\n";
    const DUMP: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
                        -A FORWARD -m physdev --physdev-is-bridged -j ACCEPT\nCOMMIT\n";

    #[test]
    fn a_port_given_as_in_is_read_as_its_bridge_and_the_port_out_is_assumed() {
        // IN= the port, no PHYSOUT=: the kernel's IN= is the bridge; the other port is taken, and said so.
        let t = walk(DUMP, HOST, "tcp 172.17.0.2:40000 -> 172.17.0.3:80 in veth1 syn");
        assert_eq!(t.log[0].packet, "IN=docker0 OUT=docker0 PHYSIN=veth1 PHYSOUT=veth2 SRC=172.17.0.2 DST=172.17.0.3 LEN=60 TOS=0x00 PREC=0x00 TTL=64 PROTO=TCP SPT=40000 DPT=80 SYN");
        assert_eq!((t.fate.verdict, t.fate.path), (FateVerdict::Accept, Path::Forward));
        assert_eq!((t.fate.out.as_deref(), t.fate.physout.as_deref()), (Some("docker0"), Some("veth2")));
        assert!(t.assumptions.iter().any(|a| a.text.contains("chainwalk took veth2")), "{:?}", t.assumptions);
        assert!(t.assumptions.iter().any(|a| a.text.contains("bridge-nf-call-iptables")), "{:?}", t.assumptions);
    }

    #[test]
    fn a_bridged_packet_keeps_its_ttl_and_needs_no_forwarding() {
        let host = format!("{HOST}net.ipv4.ip_forward = 0\nnet.bridge.bridge-nf-call-iptables = 1\n");
        let t = walk(
            DUMP,
            &host,
            "IN=docker0 OUT= PHYSIN=veth1 SRC=172.17.0.2 DST=172.17.0.3 TTL=1 PROTO=UDP SPT=1 DPT=53",
        );
        // Routed, TTL=1 would have been refused with a time exceeded, and forwarding off would have stopped it.
        assert_eq!(t.fate.verdict, FateVerdict::Accept, "{}", t.fate.summary);
        assert!(!t.assumptions.iter().any(|a| a.text.contains("bridge-nf-call")), "{:?}", t.assumptions);
    }

    #[test]
    fn without_bridge_nf_call_no_chain_sees_a_bridged_packet_but_the_host_s_own_goes_up_plain() {
        let host = format!("{HOST}net.bridge.bridge-nf-call-iptables = 0\n");
        let t = walk(DUMP, &host, "IN=docker0 OUT= PHYSIN=veth1 SRC=172.17.0.2 DST=172.17.0.3 PROTO=UDP SPT=1 DPT=53");
        assert!(t.log.is_empty());
        assert_eq!(t.fate.physout.as_deref(), Some("veth2"));
        let dump = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m physdev --physdev-is-in -j DROP\nCOMMIT\n";
        let t = walk(dump, &host, "IN=docker0 OUT= PHYSIN=veth1 SRC=172.17.0.2 DST=172.17.0.1 PROTO=UDP SPT=1 DPT=53");
        assert_eq!(t.log[0].packet, "IN=docker0 OUT= SRC=172.17.0.2 DST=172.17.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 PROTO=UDP SPT=1 DPT=53 LEN=40");
        assert_eq!(t.fate.verdict, FateVerdict::Accept);
    }
}
