//! Packets that cross a Linux bridge (`net/bridge/br_netfilter_hooks.c`). A frame that comes in on a bridge
//! port is either bridged to another port (its destination MAC address is another host's on the bridge) or
//! passed up to IP (it is addressed to the bridge itself: for this host, or to be routed on). With
//! `br_netfilter` and `net.bridge.bridge-nf-call-iptables = 1` (`-ip6tables` for IPv6) both meet iptables
//! from PREROUTING on with `IN=br0 PHYSIN=port`; a bridged packet then meets FORWARD (`IN=br0 OUT=br0 PHYSIN=
//! PHYSOUT=`) and POSTROUTING (printed with `IN=` empty), with no routing decision, no `ip_forward` and no
//! TTL decrement. A routed one keeps `PHYSIN=` on every line. A destination NAT in PREROUTING to another
//! address that is routed to the same bridge keeps the packet bridged, out of the port of the new
//! destination, even with forwarding off (`br_nf_pre_routing_finish`); to an address routed elsewhere the
//! packet is routed; to this host it is delivered. With the sysctl at 0, a bridged packet meets no iptables
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
    /// destination, else whether its new destination is routed to the same bridge (`br_nf_pre_routing_finish`).
    pub(super) fn still_bridged(&self, dst_before: IpAddr, bridged_before: bool) -> bool {
        let Some(c) = &self.crossing else { return false };
        if self.pkt.dst == dst_before {
            return bridged_before;
        }
        matches!(self.host.route(self.pkt.dst), RouteDecision::Forward { dev, .. } if dev == c.bridge)
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
