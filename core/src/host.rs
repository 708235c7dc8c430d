//! The host a packet passes: its interfaces and addresses, its routes and the sysctls that change what
//! netfilter sees. Routing decides between INPUT and FORWARD and picks the output interface; `addrtype`,
//! MASQUERADE and `rpfilter` need the host's addresses.
//!
//! A host is written the way a person copies it from a shell: `ip -br addr` (or `ip addr`), `ip route` (and
//! `ip -6 route`, `ip route show table local`), `bridge link` and `sysctl` lines, in any order, with `#`
//! comments. Each line is recognised by its shape.
//!
//! Bridges. An interface is a bridge port when a `bridge link` line (`7: veth1@if6: <BROADCAST,UP> mtu 1500
//! master docker0 state forwarding priority 32 cost 2`) or an `ip link`/`ip addr` line (`... master docker0
//! state UP ...`) names its bridge; a bridge is an interface that has ports. With `br_netfilter`, bridged
//! IPv4 and IPv6 traffic meets iptables as `net.bridge.bridge-nf-call-iptables` and `-ip6tables` say.

use crate::diag::Diagnostic;
use crate::ruleset::addr::parse_ipv4;
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host: interfaces, routes and the sysctls chainwalk models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// The interfaces, `lo` included.
    pub interfaces: Vec<HostInterface>,
    /// The routes of the main table (as given, plus the kernel's prefix routes for each address), and any
    /// `local`/`broadcast` routes given explicitly.
    pub routes: Vec<Route>,
    /// `net.ipv4.ip_forward`: whether IPv4 packets not for this host are forwarded.
    pub ip_forward: bool,
    /// `net.ipv6.conf.all.forwarding`.
    pub ipv6_forward: bool,
    /// Whether the host text set IPv4's and IPv6's forwarding (else they are the kernel's default, off).
    #[serde(default)]
    pub forwarding_given: [bool; 2],
    /// `net.ipv4.conf.IFACE.forwarding` given after the last `net.ipv4.ip_forward` (which sets every
    /// interface's): whether IPv4 packets that come in on that interface are forwarded.
    #[serde(default)]
    pub ip_forward_dev: Vec<(String, bool)>,
    /// `net.ipv4.conf.all.route_localnet` and `net.ipv4.conf.IFACE.route_localnet` as given (`all` under the
    /// name `all`): whether packets to or from 127.0.0.0/8 that come in on an interface are routed.
    #[serde(default)]
    pub route_localnet: Vec<(String, bool)>,
    /// `net.ipv4.conf.all.accept_local` and `net.ipv4.conf.IFACE.accept_local` as given (`all` under the
    /// name `all`): whether a packet that comes in with a source address of this host is taken.
    #[serde(default)]
    pub accept_local: Vec<(String, bool)>,
    /// `net.ipv4.conf.all.rp_filter` and `net.ipv4.conf.IFACE.rp_filter` (`all` under the name `all`):
    /// reverse-path filtering, 0 off, 1 strict, 2 loose; an interface filters by the larger of its own and
    /// `all`.
    #[serde(default)]
    pub rp_filter: Vec<(String, u8)>,
    /// `net.ipv4.conf.all.src_valid_mark` and `net.ipv4.conf.IFACE.src_valid_mark` as given (`all` under
    /// the name `all`): whether routing's reverse-path check looks the way back up with the packet's mark
    /// (either of them on, as wg-quick sets `all`).
    #[serde(default)]
    pub src_valid_mark: Vec<(String, bool)>,
    /// `net.ipv4.conf.all.send_redirects` and `net.ipv4.conf.IFACE.send_redirects` as given (`all` under the
    /// name `all`); the kernel's default for both is 1.
    #[serde(default)]
    pub send_redirects: Vec<(String, bool)>,
    /// `net.ipv4.conf.all.shared_media` and `net.ipv4.conf.IFACE.shared_media` as given; the kernel's default
    /// for both is 1. With both off, a redirect needs the source (and the gateway) in one subnet of the way out.
    #[serde(default)]
    pub shared_media: Vec<(String, bool)>,
    /// `net.bridge.bridge-nf-call-iptables`: whether `br_netfilter` passes bridged IPv4 traffic through
    /// iptables; `None` when not given (the kernel's default, 1, once `br_netfilter` is loaded).
    #[serde(default)]
    pub bridge_nf_call_iptables: Option<bool>,
    /// `net.netfilter.nf_conntrack_checksum`: whether conntrack checks the checksum of what comes in at
    /// PREROUTING; `None` when not given (the kernel's default, 1).
    #[serde(default)]
    pub conntrack_checksum: Option<bool>,
    /// `net.ipv6.conf.IFACE.disable_ipv6` as given, in order, `all` under the name `all` (writing `all` sets
    /// every interface's, so it clears what came before it): whether IPv6 is off on an interface.
    #[serde(default)]
    pub disable_ipv6: Vec<(String, bool)>,
    /// `net.ipv6.conf.IFACE.force_forwarding` as given, in order, `all` under the name `all` (writing `all`
    /// sets every interface's; writing `net.ipv6.conf.all.forwarding` sets every interface's to 0): whether
    /// IPv6 packets that come in on an interface are forwarded while `all.forwarding` is off (Linux 6.17).
    #[serde(default)]
    pub ipv6_force_forwarding: Vec<(String, bool)>,
    /// `net.ipv6.conf.IFACE.forwarding` given after the last `net.ipv6.conf.all.forwarding` (which sets every
    /// interface's): whether an interface acts as a router, joining the Subnet-Router anycast address of
    /// its prefixes and the all-routers group. Forwarding itself follows `all`'s alone.
    #[serde(default)]
    pub ipv6_forwarding_dev: Vec<(String, bool)>,
    /// `net.netfilter.nf_conntrack_tcp_loose`: whether conntrack takes a TCP packet without SYN as the start
    /// of a connection it picks up midstream; `None` when not given (the kernel's default, 1).
    #[serde(default)]
    pub conntrack_tcp_loose: Option<bool>,
    /// `net.bridge.bridge-nf-call-ip6tables`, likewise for IPv6 and ip6tables.
    #[serde(default)]
    pub bridge_nf_call_ip6tables: Option<bool>,
    /// The contents of ipsets, from `ipset save` lines (`create` and `add`).
    pub ipsets: Vec<crate::ipset::IpSet>,
    /// The routing policy (`ip rule`, `ip -6 rule` lines), in the order given; none given means the
    /// kernel's own (see [`crate::policy`]).
    #[serde(default)]
    pub rules: Vec<crate::policy::PolicyRule>,
    /// Routing tables given by name (`lookup vpn`, `table vpn`), with the number chainwalk gave each.
    #[serde(default)]
    pub table_names: Vec<(String, u32)>,
    /// Whether chainwalk made this host up because none was given (and so every answer that depends on
    /// it rests on that assumption).
    pub assumed: bool,
}

/// One interface with its addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInterface {
    /// Its name (`eth0`; an `@peer` suffix from `ip` output is removed).
    pub name: String,
    /// Whether it is up (`UP` or `UNKNOWN` in `ip` output).
    pub up: bool,
    /// Its addresses with their prefix lengths.
    pub addrs: Vec<IfAddr>,
    /// Its MAC address, when given.
    pub mac: Option<[u8; 6]>,
    /// The bridge it is a port of (`master docker0` in `bridge link` or `ip link` output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// Its MTU (`mtu 1420` in `ip addr` or `ip link` output), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// An address of an interface, with its prefix length (`192.0.2.1/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfAddr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length of its subnet.
    pub prefix: u8,
}

impl IfAddr {
    /// Whether `ip` is in this address's subnet.
    pub fn subnet_contains(&self, ip: IpAddr) -> bool {
        prefix_contains(self.addr, self.prefix, ip)
    }

    /// The subnet's broadcast address (IPv4 with a prefix shorter than 31 only).
    pub fn broadcast(&self) -> Option<Ipv4Addr> {
        match self.addr {
            IpAddr::V4(a) if self.prefix < 31 => Some(Ipv4Addr::from(u32::from(a) | (u32::MAX >> self.prefix))),
            _ => None,
        }
    }
}

/// Whether `ip` is inside `net/prefix`.
pub fn prefix_contains(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix.min(32))) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix.min(128))) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// What a route does with the packets it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// Send it on, directly or through a gateway.
    Unicast,
    /// It is for this host.
    Local,
    /// It is a broadcast for a subnet of this host.
    Broadcast,
    /// Drop it silently.
    Blackhole,
    /// Drop it with "host unreachable".
    Unreachable,
    /// Drop it with "administratively prohibited".
    Prohibit,
    /// Give up on this table.
    Throw,
}

/// One route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The destination prefix's address (`0.0.0.0` for `default`).
    pub dst: IpAddr,
    /// The destination prefix's length.
    pub prefix: u8,
    /// What the route does.
    pub kind: RouteKind,
    /// The gateway (`via`).
    pub via: Option<IpAddr>,
    /// The output interface (`dev`).
    pub dev: Option<String>,
    /// The preferred source address (`src`).
    pub src: Option<IpAddr>,
    /// The metric; lower wins among routes of the same prefix.
    pub metric: u32,
    /// Where it was written, if it was (prefix routes the kernel adds for addresses have none).
    pub span: Option<Span>,
    /// The routing table it is in (`table N`; main when not said).
    #[serde(default = "main_table")]
    pub table: u32,
    /// The next hops of a multipath route (`nexthop via A dev X weight 1`, one per line under the route in
    /// `ip route` output); empty for a route with a single one. `via` and `dev` then hold the first live one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<Nexthop>,
    /// The route's MTU (`mtu 1400` or `mtu lock 1400`), which a forwarded packet must fit before the
    /// interface's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Whether its MTU is locked (`mtu lock 1400`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mtu_locked: bool,
}

/// One next hop of a multipath route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nexthop {
    /// The gateway (`via`).
    pub via: Option<IpAddr>,
    /// The output interface (`dev`).
    pub dev: Option<String>,
    /// Its share of the flows (`weight`, 1 when not said).
    pub weight: u32,
    /// Whether the kernel marks it `dead` (its interface is down): never chosen.
    pub dead: bool,
}

/// Whether a per-interface sysctl of the kind the kernel reads as "`all`'s or the interface's"
/// (`IN_DEV_ORCONF`) is on for `dev`.
fn either_on(settings: &[(String, bool)], dev: &str) -> bool {
    settings.iter().any(|(d, on)| *on && (d == "all" || d == dev))
}

/// A setting that is on by default, for `all` and for each interface, and counts as on when either is
/// (`IN_DEV_ORCONF`).
fn on_unless_both_off(settings: &[(String, bool)], dev: &str) -> bool {
    let get = |d: &str| settings.iter().rev().find(|(x, _)| x == d).is_none_or(|(_, on)| *on);
    get("all") || get(dev)
}

/// Gives `dev` the setting `value`, in place of any it had.
fn set_on<T>(settings: &mut Vec<(String, T)>, dev: &str, value: T) {
    settings.retain(|(d, _)| d != dev);
    settings.push((dev.to_string(), value));
}

/// A per-interface sysctl that writing `all` sets on every interface: the interface's own setting, or the
/// last `all` written before it (off when neither was).
fn own_or_all(settings: &[(String, bool)], dev: &str) -> bool {
    let own = settings.iter().find(|(d, _)| d == dev);
    own.or_else(|| settings.iter().find(|(d, _)| d == "all")).is_some_and(|(_, on)| *on)
}

/// Whether a count is zero, for serde's `skip_serializing_if` (a route's paths, a log line's copy depth).
pub(crate) fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}

fn main_table() -> u32 {
    crate::policy::MAIN_TABLE
}

/// Where the routing decision sends a packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RouteDecision {
    /// To this host (INPUT).
    Local {
        /// The interface that has the address (`lo` for loopback addresses).
        dev: String,
    },
    /// Out of an interface (FORWARD, or out for a locally generated packet).
    Forward {
        /// The output interface.
        dev: String,
        /// The next hop, if it goes through a gateway.
        via: Option<IpAddr>,
        /// The source address the route prefers.
        src: Option<IpAddr>,
        /// How many live next hops a multipath route offered (0 for a route with one): the kernel picks one
        /// per flow by a hash with a seed drawn at boot, so which one cannot be known; this is the first.
        #[serde(default, skip_serializing_if = "is_zero")]
        multipath: u32,
        /// The route's own MTU (`mtu 1400`), which comes before the interface's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
        /// Whether that MTU is locked (`mtu lock 1400`), as IPv6 forwarding heeds it only then.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        mtu_locked: bool,
    },
    /// Dropped by routing: no route, or a blackhole/unreachable/prohibit route.
    Unroutable {
        /// Why, in words.
        reason: String,
        /// The kind of route that refused it (`None`: no route at all).
        route: Option<RouteKind>,
    },
}

/// The address types `-m addrtype` knows (`RTN_*` in the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddrType {
    /// `0.0.0.0` or `::`.
    Unspec,
    /// An address reached through a unicast route.
    Unicast,
    /// An address of this host.
    Local,
    /// A broadcast address of a subnet of this host, or `255.255.255.255`.
    Broadcast,
    /// A multicast address.
    Multicast,
    /// An address a blackhole route covers.
    Blackhole,
    /// An address an unreachable route covers.
    Unreachable,
    /// An address a prohibit route covers.
    Prohibit,
    /// An address a throw route covers.
    Throw,
}

impl Host {
    /// A host with only a loopback interface.
    pub fn loopback_only() -> Host {
        Host {
            interfaces: vec![HostInterface {
                name: "lo".into(),
                up: true,
                addrs: vec![
                    IfAddr { addr: IpAddr::V4(Ipv4Addr::LOCALHOST), prefix: 8 },
                    IfAddr { addr: IpAddr::V6(Ipv6Addr::LOCALHOST), prefix: 128 },
                ],
                mac: None,
                master: None,
                mtu: None,
            }],
            routes: Vec::new(),
            ip_forward: false,
            ipv6_forward: false,
            forwarding_given: [false; 2],
            route_localnet: Vec::new(),
            accept_local: Vec::new(),
            rp_filter: Vec::new(),
            src_valid_mark: Vec::new(),
            send_redirects: Vec::new(),
            shared_media: Vec::new(),
            ip_forward_dev: Vec::new(),
            bridge_nf_call_iptables: None,
            bridge_nf_call_ip6tables: None,
            conntrack_checksum: None,
            conntrack_tcp_loose: None,
            disable_ipv6: Vec::new(),
            ipv6_force_forwarding: Vec::new(),
            ipv6_forwarding_dev: Vec::new(),
            ipsets: Vec::new(),
            rules: Vec::new(),
            table_names: Vec::new(),
            assumed: false,
        }
    }

    /// The ipset called `name`, when its contents were given.
    pub fn ipset(&self, name: &str) -> Option<&crate::ipset::IpSet> {
        self.ipsets.iter().find(|s| s.name == name)
    }

    /// The interface called `name`.
    pub fn interface(&self, name: &str) -> Option<&HostInterface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// The ports of bridge `bridge`, in the order they were given (none for an interface that is no bridge).
    pub fn ports<'a>(&'a self, bridge: &'a str) -> impl Iterator<Item = &'a HostInterface> + 'a {
        self.interfaces.iter().filter(move |i| i.master.as_deref() == Some(bridge))
    }

    /// Whether `name` is a bridge with at least one port.
    pub fn is_bridge(&self, name: &str) -> bool {
        self.ports(name).next().is_some()
    }

    /// The bridge `port` belongs to, if it is a bridge port.
    pub fn bridge_of(&self, port: &str) -> Option<&str> {
        self.interface(port).and_then(|i| i.master.as_deref())
    }

    /// Whether `br_netfilter` passes bridged traffic of `family` through iptables
    /// (`net.bridge.bridge-nf-call-iptables`, `-ip6tables`), and whether the host said so (when it did not,
    /// the kernel's default once the module is loaded, 1, is taken).
    pub fn bridge_nf_calls(&self, family: crate::ruleset::Family) -> (bool, bool) {
        let given = match family {
            crate::ruleset::Family::Ipv4 => self.bridge_nf_call_iptables,
            crate::ruleset::Family::Ipv6 => self.bridge_nf_call_ip6tables,
        };
        (given.unwrap_or(true), given.is_some())
    }

    /// Whether `ip` is an address of any interface of this host (Linux answers for all its addresses on
    /// every interface).
    pub fn is_local(&self, ip: IpAddr) -> bool {
        self.local_dev(ip).is_some()
    }

    /// The interface a local address belongs to (`lo` for 127.0.0.0/8, the route's for an address of a
    /// `local` route), or `None` when `ip` is not local.
    pub fn local_dev(&self, ip: IpAddr) -> Option<&str> {
        if let IpAddr::V4(v4) = ip {
            if v4.is_loopback() {
                return Some("lo");
            }
        }
        if ip == IpAddr::V6(Ipv6Addr::LOCALHOST) {
            return Some("lo");
        }
        self.interface_with(ip).or_else(|| {
            self.routes
                .iter()
                .find(|r| {
                    r.kind == RouteKind::Local
                        && r.table == crate::policy::LOCAL_TABLE
                        && prefix_contains(r.dst, r.prefix, ip)
                })
                .map(|r| r.dev.as_deref().unwrap_or("lo"))
        })
    }

    /// The interface whose prefix has `ip` as its Subnet-Router anycast address (RFC 4291 2.6.1: the prefix
    /// with the rest zero), which IPv6 joins for every address of a prefix shorter than /127 while it
    /// acts as a router (`addrconf_join_anycast`, on an interface whose own `forwarding` is on): a packet to
    /// it is delivered here, not forwarded (recorded). An
    /// anycast address is no address of the host's to `addrtype` or to the sockets it binds, so it is not
    /// [`Host::is_local`].
    pub fn subnet_router_anycast_dev(&self, ip: IpAddr) -> Option<&str> {
        let IpAddr::V6(v6) = ip else { return None };
        if v6.is_unspecified() {
            return None;
        }
        self.interfaces
            .iter()
            .filter(|i| self.ipv6_router_on(&i.name))
            .find(|i| i.addrs.iter().any(|a| a.addr.is_ipv6() && a.prefix < 127 && network_of(a.addr, a.prefix) == ip))
            .map(|i| i.name.as_str())
    }

    /// The link-local IPv6 address of `dev`, and whether it is assumed: the first the host gives it, else the
    /// one Linux makes from its MAC address (EUI-64), else `fe80::1`, as Linux gives one to every interface
    /// but `lo` (whose addresses are listed without it).
    pub fn link_local_address(&self, dev: &str) -> Option<(Ipv6Addr, bool)> {
        if dev == "lo" {
            return None;
        }
        let iface = self.interface(dev);
        let listed = iface.into_iter().flat_map(|i| &i.addrs).find_map(|a| match a.addr {
            IpAddr::V6(v) if v.is_unicast_link_local() => Some(v),
            _ => None,
        });
        if let Some(v) = listed {
            return Some((v, false));
        }
        let made = match iface.and_then(|i| i.mac) {
            Some(m) => {
                Ipv6Addr::from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, m[0] ^ 2, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
            }
            None => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        };
        Some((made, true))
    }

    /// Whether `ip` is a broadcast address for this host.
    pub fn is_broadcast(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => {
                v4.is_broadcast()
                    || self.interfaces.iter().flat_map(|i| &i.addrs).any(|a| a.broadcast() == Some(v4))
                    || self.routes.iter().any(|r| {
                        r.kind == RouteKind::Broadcast
                            && r.table == crate::policy::LOCAL_TABLE
                            && prefix_contains(r.dst, r.prefix, ip)
                    })
            }
            IpAddr::V6(_) => false,
        }
    }

    /// The main-table route for `ip`: longest prefix first, then lowest metric.
    pub fn lookup(&self, ip: IpAddr) -> Option<&Route> {
        self.lookup_in(crate::policy::MAIN_TABLE, ip)
    }

    /// What the local table says of `dst`: this host's (`Local`, with the interface that has the address,
    /// `lo` for broadcasts and loopback addresses), or nothing.
    pub(crate) fn local_decision(&self, dst: IpAddr) -> Option<RouteDecision> {
        if let Some(dev) = self.local_dev(dst).or_else(|| self.subnet_router_anycast_dev(dst)) {
            return Some(RouteDecision::Local { dev: dev.to_string() });
        }
        self.is_broadcast(dst).then(|| RouteDecision::Local { dev: "lo".into() })
    }

    /// The kernel's routing decision for a packet of this host to `dst`, unmarked
    /// (`ip_route_input`/`ip_route_output`); [`Host::route_flow`] for a packet with more to it.
    pub fn route(&self, dst: IpAddr) -> RouteDecision {
        self.route_flow(&crate::policy::Flow::to(dst)).0
    }

    /// The type of `ip` as `-m addrtype` sees it (`inet_addr_type` in the kernel).
    pub fn addr_type(&self, ip: IpAddr) -> AddrType {
        match ip {
            // IPv4's zero network and limited broadcast are broadcasts to the kernel (`__inet_dev_addr_type`).
            IpAddr::V4(v4) if v4.octets()[0] == 0 || v4.is_broadcast() => return AddrType::Broadcast,
            IpAddr::V6(v6) if v6.is_unspecified() => return AddrType::Unspec,
            _ => {}
        }
        if ip.is_multicast() {
            return AddrType::Multicast;
        }
        if self.is_local(ip) {
            return AddrType::Local;
        }
        if self.is_broadcast(ip) {
            return AddrType::Broadcast;
        }
        // The kernel asks the local table (`__inet_dev_addr_type`), whose lookup fails on a blackhole,
        // unreachable, prohibit or throw route: those leave the address UNICAST, in main or in local
        // (recorded).
        AddrType::Unicast
    }

    /// Whether IPv4 packets that come in on `dev` are forwarded (`IN_DEV_FORWARD` of the input device).
    pub fn ipv4_forwards_from(&self, dev: &str) -> bool {
        self.ip_forward_dev.iter().rev().find(|(d, _)| d == dev).map_or(self.ip_forward, |(_, on)| *on)
    }

    /// Whether the host sends an ICMP redirect for a packet it routes back out of `dev`, where it came in
    /// (`IN_DEV_TX_REDIRECTS`: `all`'s setting or the interface's own; `default` only seeds interfaces made
    /// later, so it is not read).
    pub fn sends_redirects(&self, dev: &str) -> bool {
        on_unless_both_off(&self.send_redirects, dev)
    }

    /// Whether `dev`'s link is taken as shared by every subnet (`IN_DEV_SHARED_MEDIA`: `all`'s setting or the
    /// interface's own), so that a redirect need not find the source and the gateway in one subnet of it.
    pub fn shared_media(&self, dev: &str) -> bool {
        on_unless_both_off(&self.shared_media, dev)
    }

    /// Whether `a`, and `b` if given, are in one subnet of an address of `dev` (`inet_addr_onlink`).
    pub fn on_link_together(&self, dev: &str, a: IpAddr, b: Option<IpAddr>) -> bool {
        self.interface(dev).is_some_and(|i| {
            i.addrs.iter().any(|x| {
                x.addr.is_ipv4() == a.is_ipv4() && x.subnet_contains(a) && b.is_none_or(|b| x.subnet_contains(b))
            })
        })
    }

    /// Whether the reverse-path check of packets coming in on `dev` looks up with their mark
    /// (`IN_DEV_SRC_VMARK`: `all`'s or the interface's `src_valid_mark`).
    pub fn src_valid_mark(&self, dev: &str) -> bool {
        either_on(&self.src_valid_mark, dev)
    }

    /// Whether IPv6 is off on `dev` (`idev->cnf.disable_ipv6`: its own setting, or the last `all` written).
    pub fn ipv6_disabled(&self, dev: &str) -> bool {
        own_or_all(&self.disable_ipv6, dev)
    }

    /// Whether `dev` acts as an IPv6 router (`idev->cnf.forwarding`: its own setting, or `all`'s written
    /// after it).
    pub fn ipv6_router_on(&self, dev: &str) -> bool {
        self.ipv6_forwarding_dev.iter().rev().find(|(d, _)| d == dev).map_or(self.ipv6_forward, |(_, on)| *on)
    }

    /// Whether IPv6 packets that come in on `dev` are forwarded (`ip6_forward`: `all.forwarding`, or the
    /// interface's `force_forwarding`).
    pub fn ipv6_forwards_from(&self, dev: &str) -> bool {
        self.ipv6_forward || own_or_all(&self.ipv6_force_forwarding, dev)
    }

    /// Whether packets to or from 127.0.0.0/8 that come in on `dev` are routed (`IN_DEV_NET_ROUTE_LOCALNET`:
    /// `all`'s or the interface's `route_localnet`).
    pub fn route_localnet(&self, dev: &str) -> bool {
        either_on(&self.route_localnet, dev)
    }

    /// Whether a packet that comes in on `dev` may have a source address of this host (`IN_DEV_ACCEPT_LOCAL`:
    /// `all`'s or the interface's `accept_local`).
    pub fn accept_local(&self, dev: &str) -> bool {
        either_on(&self.accept_local, dev)
    }

    /// Whether `ip` is an address given to one of the interfaces (`inet_lookup_ifaddr_rcu`): not any address
    /// of a local route, as 127.0.0.5 or one of an AnyIP range are.
    pub fn is_interface_address(&self, ip: IpAddr) -> bool {
        self.interface_with(ip).is_some()
    }

    /// The interface that has `ip` as one of its addresses.
    fn interface_with(&self, ip: IpAddr) -> Option<&str> {
        self.interfaces.iter().find(|i| i.addrs.iter().any(|a| a.addr == ip)).map(|i| i.name.as_str())
    }

    /// Whether routing has routes or rules of the user's that make `fib_validate_source` look the source up
    /// in full even with the reverse-path filter off (`fib_has_custom_local_routes`, set by a `local` route
    /// added by hand, and `fib4_has_custom_rules`, by a rule): a local route other than the kernel's own for
    /// an address or for 127.0.0.0/8, or IPv4 rules other than the kernel's three.
    pub fn has_custom_ipv4_routing(&self) -> bool {
        let kernels_own = |r: &Route| {
            (r.table == crate::policy::LOCAL_TABLE)
                && ((r.dst == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)) && r.prefix == 8)
                    || (r.prefix == 32 && self.is_interface_address(r.dst)))
        };
        let custom_local = self.routes.iter().any(|r| r.kind == RouteKind::Local && r.dst.is_ipv4() && !kernels_own(r));
        custom_local || crate::policy::custom_rules(&self.rules, crate::ruleset::Family::Ipv4)
    }

    /// The reverse-path filter mode for packets coming in on `dev`: the larger of `all`'s and its own
    /// (`IN_DEV_RPFILTER`; `default` only seeds interfaces made later, so it is not read).
    pub fn rp_filter_mode(&self, dev: &str) -> u8 {
        self.rp_filter.iter().filter(|(d, _)| d == "all" || d == dev).map(|(_, m)| *m).max().unwrap_or(0)
    }

    /// The address MASQUERADE gives a packet to `dst` leaving through `dev` towards `next_hop`.
    /// IPv4 (`inet_select_addr`, which `nf_nat_masquerade_ipv4` asks): the first address of `dev` in the
    /// next hop's subnet, else its first; when `dev` has none (`lo`, or an interface without an IPv4
    /// address), the first of all interfaces' in their order. A route's preferred source `src` plays no
    /// part. IPv6 (`ipv6_dev_get_saddr` with the destination): [`Host::ipv6_source`]. Recorded.
    pub fn masquerade_addr(&self, dev: &str, next_hop: IpAddr, dst: IpAddr) -> Option<IpAddr> {
        if let IpAddr::V6(d) = dst {
            return self.ipv6_source(dev, d).map(IpAddr::V6);
        }
        // Addresses of host scope (127.0.0.0/8) are never chosen for a destination beyond them.
        let usable = |a: &&IfAddr| matches!(a.addr, IpAddr::V4(x) if !x.is_loopback());
        let iface = self.interface(dev);
        let own = iface.and_then(|i| {
            let usable_here = || i.addrs.iter().filter(usable);
            usable_here().find(|a| a.subnet_contains(next_hop)).or_else(|| usable_here().next())
        });
        if let Some(a) = own {
            return Some(a.addr);
        }
        if iface.is_none() && dev != "lo" {
            return None;
        }
        self.interfaces.iter().flat_map(|i| i.addrs.iter().filter(usable)).map(|a| a.addr).next()
    }

    /// The source address Linux picks for a packet to `dst` leaving through `dev` (`ipv6_dev_get_saddr`,
    /// RFC 6724's rules as the kernel keeps them): among the addresses of every interface (only `dev`'s
    /// for a link-local or multicast destination), the destination itself (rule 1), then an address of a
    /// scope no smaller than the destination's, the smallest such (rule 2), one of `dev` (rule 5), one
    /// whose label in the default policy table is the destination's (rule 6), the longest prefix shared
    /// with the destination, counted up to the address's own prefix length (rule 8); on a tie, the first
    /// in the interfaces' order.
    pub fn ipv6_source(&self, dev: &str, dst: Ipv6Addr) -> Option<Ipv6Addr> {
        let dst_scope = v6_scope(dst);
        let dev_only = dst.is_multicast() || dst_scope <= 2;
        let dst_label = v6_label(dst);
        let scored = self.interfaces.iter().filter(|i| !dev_only || i.name == dev).flat_map(|i| {
            i.addrs.iter().filter_map(move |a| {
                let IpAddr::V6(x) = a.addr else { return None };
                if x.is_unspecified() || x.is_multicast() {
                    return None;
                }
                let scope = i32::from(v6_scope(x));
                let fits = if scope >= i32::from(dst_scope) { -scope } else { scope - 128 };
                let common = (u128::from(x) ^ u128::from(dst)).leading_zeros().min(u32::from(a.prefix));
                Some(((x == dst, fits, i.name == dev, v6_label(x) == dst_label, common), x))
            })
        });
        // The first of the best: a later address replaces it only when it scores higher.
        scored.reduce(|best, next| if next.0 > best.0 { next } else { best }).map(|(_, x)| x)
    }
}

/// An IPv6 address's scope as source selection counts it (`__ipv6_addr_src_scope`): 1 loopback, 2
/// link-local, 5 site-local, 14 global (unique local addresses included); a multicast address's own.
fn v6_scope(a: Ipv6Addr) -> u8 {
    let s = a.segments();
    if a.is_multicast() {
        (s[0] & 0xf) as u8
    } else if a.is_loopback() {
        1
    } else if s[0] & 0xffc0 == 0xfe80 {
        2
    } else if s[0] & 0xffc0 == 0xfec0 {
        5
    } else {
        14
    }
}

/// An IPv6 address's label in the kernel's default address label table (`ip addrlabel`): the label of
/// the longest prefix there that holds it.
fn v6_label(a: Ipv6Addr) -> u8 {
    const TABLE: [(u128, u8, u8); 10] = [
        (1, 128, 0),                // ::1/128
        (0xffff_0000_0000, 96, 4),  // ::ffff:0:0/96
        (0, 96, 3),                 // ::/96
        (0x2001_0010 << 96, 28, 7), // 2001:10::/28
        (0x2001_0000 << 96, 32, 6), // 2001::/32
        (0x2002 << 112, 16, 2),     // 2002::/16
        (0x3ffe << 112, 16, 12),    // 3ffe::/16
        (0xfec0 << 112, 10, 11),    // fec0::/10
        (0xfc00 << 112, 7, 5),      // fc00::/7
        (0, 0, 1),                  // ::/0
    ];
    let x = u128::from(a);
    TABLE
        .iter()
        .find(|&&(net, len, _)| len == 0 || (x ^ net) >> (128 - u32::from(len)) == 0)
        .map_or(1, |&(_, _, label)| label)
}

/// Reads a host description; every line it does not understand is an error at that line.
pub fn parse(text: &str) -> Result<Host, Vec<Diagnostic>> {
    let mut host = Host::loopback_only();
    host.interfaces.clear();
    let mut errors = Vec::new();
    let mut line_start = 0;
    let mut current_iface: Option<usize> = None;
    let mut section = Section::default();
    let mut listing = IpsetListing::default();
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = index as u32 + 1;
        let line = raw.trim_end_matches(['\n', '\r']);
        let start = line_start;
        line_start += raw.len();
        let span = Span::within_line(line_no, start, line, 0, line.len());
        // Output of `ip -c` (or `ip` with colour forced) as saved from a terminal: read without its colours.
        let uncoloured = line.contains('\x1b').then(|| without_colours(line));
        let coloured = uncoloured.is_some();
        let line = uncoloured.as_deref().unwrap_or(line);
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with('$') {
            section = Section::of_header(&mut host, &trimmed[1..]);
            listing = IpsetListing::default();
            continue;
        }
        match listing.read(&mut host, trimmed) {
            Some(Ok(())) => continue,
            Some(Err(e)) => {
                errors.push(Diagnostic::error(span, e));
                continue;
            }
            None => {}
        }
        if trimmed.is_empty() || section.skip {
            continue;
        }
        let indented = line.starts_with(char::is_whitespace);
        if let Err(e) = read_line(&mut host, trimmed, indented, &mut current_iface, &section, span) {
            let indent = line.len() - line.trim_start().len();
            let span = match e.at {
                // Columns of a line read without its colours are not those of the text: the whole line.
                Some((from, to)) if !coloured => Span::within_line(line_no, start, line, indent + from, indent + to),
                _ => span,
            };
            errors.push(Diagnostic::error(span, e.message));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    finish(&mut host);
    Ok(host)
}

/// Where the reader is in the output of `ipset list`: a set's `Name:`, `Type:` and `Header:` lines make
/// it, its `Members:` line starts its elements, one a line, until a blank line or the next set.
#[derive(Default)]
struct IpsetListing {
    name: Option<String>,
    kind: Option<String>,
    created: bool,
    members: bool,
}

impl IpsetListing {
    /// Reads `line` if it belongs to an `ipset list` listing (`None` if not).
    fn read(&mut self, host: &mut Host, line: &str) -> Option<Result<(), String>> {
        if line.is_empty() {
            self.members = false;
            return None;
        }
        if let Some(name) = line.strip_prefix("Name: ") {
            *self = IpsetListing { name: Some(name.trim().to_string()), ..IpsetListing::default() };
            return Some(Ok(()));
        }
        let name = self.name.clone()?;
        let field = |prefix: &str| line.strip_prefix(prefix).map(str::trim);
        if let Some(kind) = field("Type:") {
            self.kind = Some(kind.to_string());
            return Some(Ok(()));
        }
        if let Some(header) = field("Header:") {
            return Some(self.create(host, &name, &header.split_whitespace().collect::<Vec<_>>()));
        }
        if line.trim() == "Members:" {
            self.members = true;
            return Some(if self.created { Ok(()) } else { self.create(host, &name, &[]) });
        }
        if ["Revision:", "Size in memory:", "References:", "Number of entries:"].iter().any(|f| line.starts_with(f)) {
            return Some(Ok(()));
        }
        if !self.members {
            return None;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let set = host.ipsets.iter_mut().find(|s| s.name == name)?;
        Some(set.add(words[0], &words[1..]))
    }

    fn create(&mut self, host: &mut Host, name: &str, options: &[&str]) -> Result<(), String> {
        let kind = self.kind.as_deref().ok_or_else(|| format!("ipset {name} is listed without its `Type:`"))?;
        let set = crate::ipset::IpSet::create(name, kind, options)?;
        host.ipsets.retain(|s| s.name != name);
        host.ipsets.push(set);
        self.created = true;
        Ok(())
    }
}

/// `line` without the terminal colour sequences (`ESC [ ... m`) that `ip -c` writes.
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let seq = &rest[at + 1..];
        // `[`, the parameters, and the character that ends the sequence (whatever it is, however long).
        let body = seq.strip_prefix('[').map_or(0, |b| {
            let params = b.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(b.len());
            1 + params + b[params..].chars().next().map_or(0, char::len_utf8)
        });
        rest = &seq[body..];
    }
    out.push_str(rest);
    out
}

/// The `ip` objects whose listings say nothing chainwalk reads of a host (neighbours, multicast
/// memberships, tunnels, ...): lines under a header naming one (`# ip neigh`) are passed over.
const UNREAD_IP_OBJECTS: &[&str] = &[
    "neighbour",
    "neighbor",
    "ntable",
    "maddress",
    "mroute",
    "mrule",
    "xfrm",
    "tunnel",
    "tuntap",
    "netconf",
    "tcp_metrics",
    "tcpmetrics",
    "token",
    "monitor",
    "nexthop",
    "l2tp",
    "fou",
    "macsec",
    "mptcp",
    "ioam",
    "stats",
    "sr",
    "netns",
    "vrf",
    "ila",
];

/// An `ip` command line in a header: the family its options ask for (`-6`, `-f inet6`), its object as
/// written (`r`, `route`, `neigh`), and the words after it.
struct IpCommand<'h> {
    v6: Option<bool>,
    object: &'h str,
    rest: Vec<&'h str>,
}

impl<'h> IpCommand<'h> {
    fn of(header: &'h str) -> Option<IpCommand<'h>> {
        let words: Vec<&str> = header.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "ip")?;
        let mut v6 = None;
        let mut i = at + 1;
        while let Some(w) = words.get(i).filter(|w| w.starts_with('-')) {
            match *w {
                "-6" => v6 = Some(true),
                "-4" => v6 = Some(false),
                "-f" | "-family" => v6 = words.get(i + 1).map(|f| *f == "inet6"),
                _ => {}
            }
            // The options that take a value: the family, a namespace, a batch file, a buffer size.
            let takes_value = matches!(*w, "-f" | "-family" | "-n" | "-netns" | "-b" | "-batch" | "-rc" | "-rcvbuf");
            i += if takes_value { 2 } else { 1 };
        }
        let object = words.get(i)?;
        Some(IpCommand { v6, object, rest: words[i + 1..].to_vec() })
    }

    /// Whether the object is `name` or a prefix of it `ip` takes for it (at least `shortest` letters).
    fn is(&self, name: &str, shortest: usize) -> bool {
        self.object.len() >= shortest && name.starts_with(self.object)
    }
}

/// Whether a header (`ip neigh`, `$ ip -s maddr show`, `bridge fdb`) lists something the host reader has no
/// use for: one of [`UNREAD_IP_OBJECTS`], or a bridge's fdb, vlans or multicast groups.
pub(crate) fn names_unread_listing(header: &str) -> bool {
    let words: Vec<&str> = header.split_whitespace().collect();
    // `bridge fdb`, `bridge vlan`, `bridge mdb`: all but `bridge link`.
    if let Some(at) = words.iter().position(|w| *w == "bridge") {
        let object = words[at + 1..].iter().find(|w| !w.starts_with('-'));
        return object.is_some_and(|o| ["fdb", "vlan", "mdb", "monitor"].iter().any(|name| name.starts_with(*o)));
    }
    // `ip` takes any unambiguous prefix of an object's name (`ip n`, `ip neigh`, `ip maddr`).
    IpCommand::of(header).is_some_and(|c| {
        !(c.is("route", 1) || c.is("rule", 2) || c.is("address", 1) || c.is("link", 1))
            && UNREAD_IP_OBJECTS.iter().any(|name| c.is(name, 1))
    })
}

/// Whether `words` are a line of `ip neigh` (`192.0.2.1 dev eth0 lladdr 02:42:ac:11:00:02 REACHABLE`).
pub(crate) fn is_neighbour_line(words: &[&str]) -> bool {
    const STATES: &[&str] =
        &["REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "INCOMPLETE", "NOARP", "PERMANENT", "NONE"];
    words.len() >= 3
        && parse_ip(words[0]).is_ok()
        && (words.contains(&"lladdr") || words.last().is_some_and(|w| w.split(',').all(|s| STATES.contains(&s))))
}

/// What the comment or prompt line above a host line says of it: an `ip rule` listing of one family, the
/// routes of a table other than main (`# ip route show table 100`), or a listing chainwalk does not read.
#[derive(Clone, Copy, Debug)]
struct Section {
    rule_family: Option<crate::ruleset::Family>,
    table: u32,
    skip: bool,
}

impl Default for Section {
    fn default() -> Section {
        Section { rule_family: None, table: crate::policy::MAIN_TABLE, skip: false }
    }
}

impl Section {
    /// The section a header (`ip -6 rule`, `ip route show table vpn`, anything else) starts.
    fn of_header(host: &mut Host, header: &str) -> Section {
        let mut section = Section { skip: names_unread_listing(header), ..Section::default() };
        let Some(command) = IpCommand::of(header) else { return section };
        if command.is("rule", 2) {
            let v6 = command.v6.unwrap_or(false);
            section.rule_family = Some(if v6 { crate::ruleset::Family::Ipv6 } else { crate::ruleset::Family::Ipv4 });
        } else if command.is("route", 1) {
            let rest = &command.rest;
            if let Some(t) = rest.iter().position(|w| *w == "table").and_then(|t| rest.get(t + 1)) {
                if *t != "all" {
                    section.table = host.table_id(t);
                }
            }
        }
        section
    }
}

/// Adds what the kernel adds by itself: `lo`, and a prefix route for each address; gives a multipath
/// route its first live next hop.
fn finish(host: &mut Host) {
    for r in host.routes.iter_mut().filter(|r| r.dev.is_none() && r.via.is_none()) {
        if let Some(first) = r.nexthops.iter().find(|n| !n.dead) {
            r.via = first.via;
            r.dev = first.dev.clone();
        }
    }
    if host.interface("lo").is_none() {
        host.interfaces.insert(0, Host::loopback_only().interfaces.remove(0));
    }
    let mut prefix_routes = Vec::new();
    for iface in host.interfaces.iter().filter(|i| i.up && i.name != "lo") {
        for a in &iface.addrs {
            let net = network_of(a.addr, a.prefix);
            let exists = host.routes.iter().any(|r| {
                r.table == crate::policy::MAIN_TABLE
                    && r.dst == net
                    && r.prefix == a.prefix
                    && r.dev.as_deref() == Some(&iface.name)
            });
            if !exists {
                prefix_routes.push(Route {
                    dst: net,
                    prefix: a.prefix,
                    kind: RouteKind::Unicast,
                    via: None,
                    dev: Some(iface.name.clone()),
                    src: Some(a.addr),
                    metric: if a.addr.is_ipv6() { 256 } else { 0 },
                    span: None,
                    table: crate::policy::MAIN_TABLE,
                    nexthops: Vec::new(),
                    mtu: None,
                    mtu_locked: false,
                });
            }
        }
    }
    host.routes.extend(prefix_routes);
}

fn network_of(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

impl RouteKind {
    /// The route type's name, as `ip route` writes it.
    pub fn name(self) -> &'static str {
        ROUTE_TYPES.iter().find(|&&(_, k)| k == self).map_or("unicast", |&(n, _)| n)
    }
}

pub(crate) const ROUTE_TYPES: &[(&str, RouteKind)] = &[
    ("unicast", RouteKind::Unicast),
    ("local", RouteKind::Local),
    ("broadcast", RouteKind::Broadcast),
    ("blackhole", RouteKind::Blackhole),
    ("unreachable", RouteKind::Unreachable),
    ("prohibit", RouteKind::Prohibit),
    ("throw", RouteKind::Throw),
];

pub(crate) const LINK_STATES: &[&str] =
    &["UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN", "DORMANT", "NOTPRESENT", "TESTING"];

/// Why a host line was refused, and where in the (trimmed) line, when that is narrower than the whole line.
struct LineError {
    message: String,
    /// Byte range within the trimmed line.
    at: Option<(usize, usize)>,
}

impl From<String> for LineError {
    fn from(message: String) -> LineError {
        LineError { message, at: None }
    }
}

impl From<&str> for LineError {
    fn from(message: &str) -> LineError {
        LineError { message: message.to_string(), at: None }
    }
}

/// An error about the `index`th word of `line` (or the end of the line, for a word that is missing).
fn located(line: &str, index: usize, message: &str) -> LineError {
    let mut words = line.split_whitespace().map(|w| {
        let from = w.as_ptr() as usize - line.as_ptr() as usize;
        (from, from + w.len())
    });
    let at = words.nth(index).unwrap_or((line.len(), line.len()));
    LineError { message: message.to_string(), at: Some(at) }
}

fn read_line(
    host: &mut Host,
    line: &str,
    indented: bool,
    current: &mut Option<usize>,
    section: &Section,
    span: Span,
) -> Result<(), LineError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    // `ip rule`: `32765: from all fwmark 0x1 lookup 100` (`not from ...`).
    if words.len() >= 2
        && words[0].strip_suffix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && matches!(words[1], "from" | "not")
    {
        return Ok(crate::policy::read_rule(host, &words, section.rule_family, span)?);
    }
    // `ip neigh` lines say nothing chainwalk reads.
    if is_neighbour_line(&words) {
        return Ok(());
    }
    // `ipset save`: `create NAME TYPE ...` and `add NAME ELEMENT ...`.
    match words.as_slice() {
        ["create", name, kind, options @ ..] => {
            let set = crate::ipset::IpSet::create(name, kind, options)?;
            host.ipsets.retain(|s| s.name != *name);
            host.ipsets.push(set);
            return Ok(());
        }
        ["add", name, element, options @ ..] => {
            let set = host
                .ipsets
                .iter_mut()
                .find(|s| s.name == *name)
                .ok_or_else(|| format!("`add` to set {name} before its `create` line"))?;
            return Ok(set.add(element, options)?);
        }
        _ => {}
    }
    // sysctl: `net.ipv4.ip_forward = 1` or `net.ipv4.ip_forward=1`.
    if words[0].starts_with("net.") {
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => return Err(format!("`{}` needs `= VALUE`", words[0]).into()),
        };
        if let Some(dev) = key.strip_prefix("net.ipv4.conf.").and_then(|k| k.strip_suffix(".rp_filter")) {
            let mode = match value {
                "0" => 0,
                "1" => 1,
                "2" => 2,
                other => return Err(format!("`{other}` is not 0 (off), 1 (strict) or 2 (loose)").into()),
            };
            set_on(&mut host.rp_filter, dev, mode);
            return Ok(());
        }
        let on = match value {
            "1" => true,
            "0" => false,
            other => {
                let from = other.as_ptr() as usize - line.as_ptr() as usize;
                return Err(LineError {
                    message: format!("`{other}` is not 0 or 1"),
                    at: Some((from, from + other.len())),
                });
            }
        };
        let per_device = [
            (".src_valid_mark", &mut host.src_valid_mark),
            (".send_redirects", &mut host.send_redirects),
            (".shared_media", &mut host.shared_media),
            (".route_localnet", &mut host.route_localnet),
            (".accept_local", &mut host.accept_local),
        ];
        for (suffix, settings) in per_device {
            if let Some(dev) = key.strip_prefix("net.ipv4.conf.").and_then(|k| k.strip_suffix(suffix)) {
                set_on(settings, dev, on);
                return Ok(());
            }
        }
        // Per interface, where writing `all` writes every interface's (`default` only seeds interfaces made
        // later).
        let all_sets_every =
            [(".disable_ipv6", &mut host.disable_ipv6), (".force_forwarding", &mut host.ipv6_force_forwarding)];
        for (suffix, settings) in all_sets_every {
            if let Some(dev) = key.strip_prefix("net.ipv6.conf.").and_then(|k| k.strip_suffix(suffix)) {
                if dev == "all" {
                    settings.clear();
                }
                if dev != "default" {
                    set_on(settings, dev, on);
                }
                return Ok(());
            }
        }
        if let Some(dev) = key.strip_prefix("net.ipv4.conf.").and_then(|k| k.strip_suffix(".forwarding")) {
            if dev != "all" && dev != "default" {
                host.forwarding_given[0] = true;
                set_on(&mut host.ip_forward_dev, dev, on);
                return Ok(());
            }
        }
        if let Some(dev) = key.strip_prefix("net.ipv6.conf.").and_then(|k| k.strip_suffix(".forwarding")) {
            if dev != "all" && dev != "default" {
                set_on(&mut host.ipv6_forwarding_dev, dev, on);
                return Ok(());
            }
        }
        match key {
            "net.ipv4.ip_forward" | "net.ipv4.conf.all.forwarding" => {
                // Writing it sets every interface's forwarding too (`inet_forward_change`).
                host.ip_forward = on;
                host.forwarding_given[0] = true;
                host.ip_forward_dev.clear();
            }
            "net.ipv6.conf.all.forwarding" => {
                host.ipv6_forward = on;
                host.forwarding_given[1] = true;
                host.ipv6_forwarding_dev.clear();
                // Writing 0 sets every interface's force_forwarding to 0 too (`addrconf_forward_change`).
                if !on && !host.ipv6_force_forwarding.is_empty() {
                    host.ipv6_force_forwarding = vec![("all".into(), false)];
                }
            }
            "net.bridge.bridge-nf-call-iptables" => host.bridge_nf_call_iptables = Some(on),
            "net.bridge.bridge-nf-call-ip6tables" => host.bridge_nf_call_ip6tables = Some(on),
            "net.netfilter.nf_conntrack_checksum" => host.conntrack_checksum = Some(on),
            "net.netfilter.nf_conntrack_tcp_loose" => host.conntrack_tcp_loose = Some(on),
            // Other sysctls are accepted and do not change what chainwalk models.
            _ => {}
        }
        return Ok(());
    }
    // `ip addr`/`ip link` long form: `2: eth0@if5: <BROADCAST,UP> mtu 1500 ... state UP ...`, and `bridge
    // link`: `7: veth1@if6: <BROADCAST,UP> mtu 1500 master docker0 state forwarding priority 32 cost 2`.
    if words[0].ends_with(':') && words[0][..words[0].len() - 1].bytes().all(|b| b.is_ascii_digit()) && words.len() >= 2
    {
        let name = words[1].trim_end_matches(':');
        let name = name.split('@').next().unwrap_or(name);
        let flags_up = words.get(2).is_some_and(|f| f.trim_matches(['<', '>']).split(',').any(|f| f == "UP"));
        let state = words.windows(2).find(|w| w[0] == "state").map(|w| w[1]);
        // A `bridge link` line gives the port's spanning-tree state: only a forwarding port passes frames.
        let state_up = state.is_none_or(|s| matches!(s, "UP" | "UNKNOWN" | "forwarding"));
        let master = match words.iter().position(|w| *w == "master") {
            Some(at) => {
                let bridge = words.get(at + 1).ok_or_else(|| {
                    located(line, at, "`master` needs the name of the bridge this interface is a port of")
                })?;
                if *bridge == name {
                    return Err(located(line, at + 1, &format!("{name} cannot be a port of itself")));
                }
                Some(bridge.to_string())
            }
            None => None,
        };
        let mtu = match words.iter().position(|w| *w == "mtu") {
            Some(at) => Some(
                words
                    .get(at + 1)
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| located(line, at, "`mtu` needs a number of bytes"))?,
            ),
            None => None,
        };
        let i = add_interface(host, name, flags_up && state_up);
        if master.is_some() {
            host.interfaces[i].master = master;
        }
        if mtu.is_some() {
            host.interfaces[i].mtu = mtu;
        }
        *current = Some(i);
        return Ok(());
    }
    // A next hop of the multipath route above it (`ip route` prints each on an indented line of its own).
    if words[0] == "nexthop" {
        let route = host
            .routes
            .last_mut()
            .filter(|r| r.span.is_some_and(|s| s.line + 1 + r.nexthops.len() as u32 == span.line))
            .filter(|r| r.dev.is_none() && r.via.is_none())
            .ok_or("a `nexthop` line belongs under a multipath route (a route line without `via` or `dev`)")?;
        let (hop, used) = read_nexthop(&words[1..])?;
        if let Some(w) = words.get(1 + used) {
            return Err(format!("`{w}` is not a next hop attribute chainwalk knows").into());
        }
        route.nexthops.push(hop);
        return Ok(());
    }
    if indented
        || matches!(words[0], "inet" | "inet6" | "link/ether" | "link/loopback" | "link/none" | "valid_lft" | "altname")
    {
        let Some(i) = *current else {
            return Err("an address line before any interface line (`2: eth0: <...>`)".into());
        };
        match words[0] {
            "inet" | "inet6" => {
                let a = words.get(1).ok_or("an address is missing")?;
                let mut ifaddr = parse_ifaddr(a)?;
                // `ip maddr` lists the groups an interface joined in the same shape: not its addresses.
                if ifaddr.addr.is_multicast() {
                    return Ok(());
                }
                if words.get(2) == Some(&"peer") && !a.contains('/') {
                    ifaddr.prefix = if ifaddr.addr.is_ipv4() { 32 } else { 128 };
                }
                host.interfaces[i].addrs.push(ifaddr);
            }
            "link/ether" => host.interfaces[i].mac = words.get(1).and_then(|m| parse_mac(m)),
            _ => {}
        }
        return Ok(());
    }
    // `ip -br addr`: `eth0  UP  192.0.2.1/24 fe80::1/64`, or `ip -br link`: `eth0 UP 52:54:00:12:34:56 <...>`.
    if words.len() >= 2 && LINK_STATES.contains(&words[1]) {
        let name = words[0].split('@').next().unwrap_or(words[0]);
        let up = words[1] == "UP" || words[1] == "UNKNOWN";
        let i = add_interface(host, name, up);
        for w in &words[2..] {
            if w.starts_with('<') {
                break;
            }
            if let Some(mac) = parse_mac(w) {
                host.interfaces[i].mac = Some(mac);
            } else {
                let a = parse_ifaddr(w)?;
                if !host.interfaces[i].addrs.contains(&a) {
                    host.interfaces[i].addrs.push(a);
                }
            }
        }
        *current = None;
        return Ok(());
    }
    Ok(read_route_in(host, &words, span, section.table)?)
}

fn add_interface(host: &mut Host, name: &str, up: bool) -> usize {
    match host.interfaces.iter().position(|i| i.name == name) {
        Some(i) => {
            host.interfaces[i].up = up;
            i
        }
        None => {
            host.interfaces.push(HostInterface {
                name: name.to_string(),
                up,
                addrs: Vec::new(),
                mac: None,
                master: None,
                mtu: None,
            });
            host.interfaces.len() - 1
        }
    }
}

pub(crate) fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        mac[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

pub(crate) fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| parse_ipv4(text, false).filter(|_| text.contains('.')).map(IpAddr::V4))
        .ok_or_else(|| format!("`{text}` is not an IP address"))
}

pub(crate) fn parse_ifaddr(text: &str) -> Result<IfAddr, String> {
    let (a, p) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let addr = parse_ip(a)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| format!("`/{p}` is not a prefix length from 0 to {max}"))?,
        None => max,
    };
    Ok(IfAddr { addr, prefix })
}

/// Reads the attributes of a next hop (`via A dev X weight 2 onlink`) from the start of `words`, up to
/// the next `nexthop` or a word that is not one of them; returns the next hop and how many words it took.
fn read_nexthop(words: &[&str]) -> Result<(Nexthop, usize), String> {
    let mut hop = Nexthop { via: None, dev: None, weight: 1, dead: false };
    let mut i = 0;
    while let Some(&key) = words.get(i) {
        let value = words.get(i + 1).copied();
        match key {
            "via" => {
                let v = value.ok_or("`via` needs an address")?;
                // `via inet6 fe80::1` names the family first.
                let (v, skip) = match v {
                    "inet" | "inet6" => (words.get(i + 2).copied().ok_or("`via` needs an address")?, 1),
                    _ => (v, 0),
                };
                hop.via = Some(parse_ip(v)?);
                i += skip;
            }
            "dev" => hop.dev = Some(value.ok_or("`dev` needs an interface")?.to_string()),
            "weight" => {
                hop.weight = value
                    .and_then(|v| v.parse().ok())
                    .filter(|w| (1..=256).contains(w))
                    .ok_or("`weight` needs a number from 1 to 256")?
            }
            "dead" | "onlink" | "linkdown" | "pervasive" | "offload" | "trap" | "rt_offload" | "rt_trap" => {
                hop.dead |= key == "dead";
                i += 1;
                continue;
            }
            "realms" | "encap" | "as" => {}
            _ => break,
        }
        i += 2;
    }
    if hop.dev.is_none() && hop.via.is_none() {
        return Err("a `nexthop` needs `via` or `dev`".into());
    }
    Ok((hop, i))
}

pub(crate) fn read_route(host: &mut Host, words: &[&str], span: Span) -> Result<(), String> {
    read_route_in(host, words, span, crate::policy::MAIN_TABLE)
}

/// Reads an `ip route` line listed under table `table` (a `table` in the line says otherwise).
fn read_route_in(host: &mut Host, words: &[&str], span: Span, table: u32) -> Result<(), String> {
    let mut i = 0;
    let mut kind = RouteKind::Unicast;
    if let Some(&(_, k)) = ROUTE_TYPES.iter().find(|(n, _)| *n == words[0]) {
        kind = k;
        i += 1;
    }
    // The local table's `anycast` (IPv6 subnet-router anycast) and `multicast` routes, which
    // `ip route show table all` lists, are the kernel's own: read, checked, and left to the model.
    let kernel_own = matches!(words[0], "anycast" | "multicast");
    if kernel_own {
        i += 1;
    }
    let dst_text = *words.get(i).ok_or("a route needs a destination")?;
    i += 1;
    let family_v6 =
        words.iter().any(|w| w.contains(':') && parse_ip(w.split('/').next().unwrap_or(w)).is_ok_and(|a| a.is_ipv6()));
    let (dst, prefix) = if dst_text == "default" {
        if family_v6 {
            (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
        } else {
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
        }
    } else {
        let a = parse_ifaddr(dst_text).map_err(|_| {
            format!(
                "`{}` is not a host line chainwalk understands (an `ip addr`, `ip route` or `sysctl` line)",
                words.join(" ")
            )
        })?;
        (network_of(a.addr, a.prefix), a.prefix)
    };
    let mut route = Route {
        dst,
        prefix,
        kind,
        via: None,
        dev: None,
        src: None,
        metric: if dst.is_ipv6() { 1024 } else { 0 },
        span: Some(span),
        nexthops: Vec::new(),
        mtu: None,
        mtu_locked: false,
        // Local and broadcast routes are the local table's, unless listed under another table's header.
        table: match kind {
            RouteKind::Local | RouteKind::Broadcast if table == crate::policy::MAIN_TABLE => crate::policy::LOCAL_TABLE,
            _ => table,
        },
    };
    while i < words.len() {
        let key = words[i];
        let value = words.get(i + 1).copied();
        match key {
            "via" => {
                // `via inet6 fe80::1`: an IPv4 route through an IPv6 gateway names the family first.
                if matches!(value, Some("inet" | "inet6")) {
                    i += 1;
                }
                route.via = Some(parse_ip(words.get(i + 1).copied().ok_or("`via` needs an address")?)?)
            }
            "dev" => route.dev = Some(value.ok_or("`dev` needs an interface")?.to_string()),
            "src" => route.src = Some(parse_ip(value.ok_or("`src` needs an address")?)?),
            "metric" => route.metric = value.and_then(|v| v.parse().ok()).ok_or("`metric` needs a number")?,
            "table" => route.table = host.table_id(value.ok_or("`table` needs a table")?),
            // `ip route add ... nexthop via A dev X nexthop via B dev Y`: the next hops on the route's line.
            "nexthop" => {
                let (hop, used) = read_nexthop(&words[i + 1..])?;
                route.nexthops.push(hop);
                i += 1 + used;
                continue;
            }
            "mtu" => {
                // `mtu lock 1400`: locked, so path MTU discovery does not lower it; the same for forwarding.
                if value == Some("lock") {
                    route.mtu_locked = true;
                    i += 1;
                }
                let n = words.get(i + 1).and_then(|v| v.parse().ok()).ok_or("`mtu` needs a number of bytes")?;
                route.mtu = Some(n);
            }
            "proto" | "scope" | "pref" | "advmss" | "realm" | "expires" | "weight" | "onlink" | "linkdown" | "dead"
            | "offload" | "trap" | "hoplimit" | "rtt" | "rttvar" | "window" | "cwnd" | "initcwnd" | "initrwnd"
            | "congctl" | "features" | "quickack" | "fastopen_no_cookie" | "ttl-propagate" | "uid" | "tos"
            | "dsfield" | "from" | "nhid" | "error" => {
                if matches!(key, "onlink" | "linkdown" | "dead" | "offload" | "trap") {
                    i += 1;
                    continue;
                }
                // A locked metric: `advmss lock 1360`, `hoplimit lock 64`, ...
                if value == Some("lock") {
                    i += 1;
                }
            }
            other => return Err(format!("`{other}` is not a route attribute chainwalk knows")),
        }
        i += 2;
    }
    if !kernel_own {
        host.routes.push(route);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER_HOST: &str = "# ip -br addr\nlo        UNKNOWN  127.0.0.1/8\nppp0      UP       198.51.100.2/24\np1p1      UP       192.168.200.1/30\ndocker0   UP       172.17.0.1/16\n# ip route\ndefault via 198.51.100.1 dev ppp0\n192.168.200.0/30 dev p1p1 proto kernel scope link src 192.168.200.1\n172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1\n# sysctl\nnet.ipv4.ip_forward = 1\n";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn reads_brief_addresses_routes_and_sysctls() {
        let h = parse(DOCKER_HOST).unwrap();
        assert_eq!(h.interfaces.len(), 4);
        assert!(h.ip_forward);
        assert_eq!(h.route(ip("198.51.100.2")), RouteDecision::Local { dev: "ppp0".into() });
        assert_eq!(
            h.route(ip("172.17.0.2")),
            RouteDecision::Forward {
                dev: "docker0".into(),
                via: None,
                src: Some(ip("172.17.0.1")),
                multipath: 0,
                mtu: None,
                mtu_locked: false
            }
        );
        assert_eq!(
            h.route(ip("203.0.113.7")),
            RouteDecision::Forward {
                dev: "ppp0".into(),
                via: Some(ip("198.51.100.1")),
                src: None,
                multipath: 0,
                mtu: None,
                mtu_locked: false
            }
        );
        assert_eq!(h.addr_type(ip("172.17.0.1")), AddrType::Local);
        assert_eq!(h.addr_type(ip("172.17.255.255")), AddrType::Broadcast);
        assert_eq!(h.addr_type(ip("203.0.113.7")), AddrType::Unicast);
        assert_eq!(h.masquerade_addr("docker0", ip("172.17.0.2"), ip("172.17.0.2")), Some(ip("172.17.0.1")));
    }

    #[test]
    fn reads_ip_route_show_table_all() {
        let h = parse(
            "eth0 UP 192.0.2.10/24 2001:db8::10/64\ndefault via 192.0.2.1 dev eth0 table 100\n\
             default via 192.0.2.1 dev eth0 proto dhcp src 192.0.2.10 metric 100\n\
             local 192.0.2.10 dev eth0 table local proto kernel scope host src 192.0.2.10\n\
             broadcast 192.0.2.255 dev eth0 table local proto kernel scope link src 192.0.2.10\n\
             anycast 2001:db8:: dev eth0 table local proto kernel metric 0 pref medium\n\
             multicast ff00::/8 dev eth0 table local proto kernel metric 256 pref medium\n",
        )
        .unwrap();
        assert_eq!(h.lookup(ip("203.0.113.7")).and_then(|r| r.via), Some(ip("192.0.2.1")));
        assert_eq!(h.lookup_in(100, ip("203.0.113.7")).map(|r| r.table), Some(100));
        assert!(h.is_local(ip("192.0.2.10")) && h.is_broadcast(ip("192.0.2.255")));
        assert!(h.routes.iter().all(|r| !r.dst.is_multicast()));
    }

    #[test]
    fn reads_long_ip_addr_output() {
        let h = parse("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000\n    link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff link-netnsid 0\n    inet 192.0.2.10/24 brd 192.0.2.255 scope global eth0\n       valid_lft forever preferred_lft forever\n    inet6 2001:db8::10/64 scope global\n       valid_lft forever preferred_lft forever\ndefault via 192.0.2.1 dev eth0\n2001:db8::/64 dev eth0 proto kernel metric 256 pref medium\nblackhole 198.51.100.0/24\n").unwrap();
        let eth0 = h.interface("eth0").unwrap();
        assert_eq!(eth0.addrs.len(), 2);
        assert_eq!(eth0.mac, Some([2, 0x42, 0xac, 0x11, 0, 2]));
        assert_eq!(
            h.route(ip("2001:db8::99")),
            RouteDecision::Forward {
                dev: "eth0".into(),
                via: None,
                src: None,
                multipath: 0,
                mtu: None,
                mtu_locked: false,
            }
        );
        assert!(matches!(h.route(ip("198.51.100.7")), RouteDecision::Unroutable { .. }));
        // The kernel's lookup in the local table fails on a blackhole route: the address is UNICAST.
        assert_eq!(h.addr_type(ip("198.51.100.7")), AddrType::Unicast);
    }

    #[test]
    fn reads_the_mtus_of_interfaces_and_routes() {
        let h = parse(
            "3: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN group default qlen 1000\n\
             \x20   inet 192.0.2.1/24 scope global wg0\n\
             2: eth0: <BROADCAST,UP> mtu 9000 state UP\n    inet 198.51.100.2/24 scope global eth0\n\
             203.0.113.0/24 via 198.51.100.1 dev eth0 mtu lock 1280 advmss lock 1240\n\
             198.51.100.128/25 via 198.51.100.1 dev eth0 proto static mtu 1400\n",
        )
        .unwrap();
        assert_eq!(h.interface("wg0").and_then(|i| i.mtu), Some(1420));
        assert_eq!(h.interface("eth0").and_then(|i| i.mtu), Some(9000));
        let mtu_to = |d: &str| match h.route(ip(d)) {
            RouteDecision::Forward { mtu, mtu_locked, .. } => (mtu, mtu_locked),
            other => panic!("{other:?}"),
        };
        assert_eq!(mtu_to("203.0.113.9"), (Some(1280), true));
        assert_eq!(mtu_to("198.51.100.200"), (Some(1400), false));
        assert_eq!(mtu_to("198.51.100.20"), (None, false));
        assert!(parse("2: eth0: <UP> mtu big state UP\n").is_err());
        assert!(parse("203.0.113.0/24 dev eth0 mtu lock\n").is_err());
    }

    #[test]
    fn reads_multipath_routes_and_takes_the_first_live_next_hop() {
        // As `ip route` and `ip -6 route` print them (trailing blanks included), then on one line.
        let h = parse(
            "eth0 UP 192.0.2.2/24 2001:db8::2/64\neth1 UP 198.51.100.2/24\n\
             10.0.0.0/8 proto static \n\tnexthop via 192.0.2.1 dev eth0 weight 1 \n\
             \tnexthop via 198.51.100.1 dev eth1 weight 2 \n\
             2001:db8:5::/48 metric 1024 pref medium\n\tnexthop via 2001:db8::1 dev eth0 weight 1 \n\
             \tnexthop via inet6 2001:db8::9 dev eth0 weight 1 \n\
             172.16.0.0/12 nexthop via 192.0.2.7 dev eth0 dead linkdown nexthop via 198.51.100.7 dev eth1\n",
        )
        .unwrap();
        let forward = |dst: &str| match h.route(ip(dst)) {
            RouteDecision::Forward { dev, via, multipath, .. } => (dev, via, multipath),
            other => panic!("{other:?}"),
        };
        assert_eq!(forward("10.1.2.3"), ("eth0".into(), Some(ip("192.0.2.1")), 2));
        let r = h.lookup(ip("10.1.2.3")).unwrap();
        assert_eq!(r.nexthops.iter().map(|n| n.weight).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(forward("2001:db8:5::3"), ("eth0".into(), Some(ip("2001:db8::1")), 2));
        assert_eq!(h.lookup(ip("2001:db8:5::3")).unwrap().nexthops[1].via, Some(ip("2001:db8::9")));
        // A dead next hop is never chosen; with one live one left, the route is a plain one.
        assert_eq!(forward("172.16.0.1"), ("eth1".into(), Some(ip("198.51.100.7")), 0));
        // An IPv4 route through an IPv6 gateway (RFC 5549) names the gateway's family.
        let h = parse("eth0 UP 192.0.2.2/24 fe80::2/64\n10.0.0.0/8 via inet6 fe80::1 dev eth0\n").unwrap();
        assert_eq!(h.lookup(ip("10.0.0.1")).unwrap().via, Some(ip("fe80::1")));
    }

    #[test]
    fn a_next_hop_out_of_place_or_malformed_is_an_error_at_its_line() {
        let e = parse("eth0 UP 192.0.2.2/24\n\tnexthop via 192.0.2.1 dev eth0\n").unwrap_err();
        assert_eq!(e[0].span.line, 2);
        assert!(e[0].message.contains("belongs under a multipath route"), "{}", e[0].message);
        let e = parse("eth0 UP 192.0.2.2/24\ndefault via 192.0.2.1 dev eth0\n\tnexthop via 192.0.2.9 dev eth0\n")
            .unwrap_err();
        assert_eq!(e[0].span.line, 3);
        let e = parse("eth0 UP 192.0.2.2/24\n10.0.0.0/8\n\tnexthop via 192.0.2.1 dev eth0 weight 0\n").unwrap_err();
        assert!(e[0].message.contains("weight"), "{}", e[0].message);
        let e = parse("eth0 UP 192.0.2.2/24\n10.0.0.0/8\n\tnexthop via 192.0.2.1 dev eth0 bogus 1\n").unwrap_err();
        assert!(e[0].message.contains("`bogus`"), "{}", e[0].message);
        let e = parse("10.0.0.0/8 nexthop weight 2\n").unwrap_err();
        assert!(e[0].message.contains("needs `via` or `dev`"), "{}", e[0].message);
    }

    #[test]
    fn listings_the_host_does_not_read_are_passed_over() {
        // Under their headers: neighbours, multicast groups (which look like addresses), the bridge's fdb.
        let h = parse(
            "# ip addr\n2: eth0: <BROADCAST,UP> mtu 1500 state UP\n    inet 192.0.2.2/24 scope global eth0\n\
             # ip neigh\n192.0.2.1 dev eth0 lladdr 02:fc:00:00:00:05 STALE \nfd00::1 dev eth0 FAILED \n\
             # ip maddr\n1:\tlo\n\tinet  224.0.0.1\n2:\teth0\n\tlink  33:33:00:00:00:01\n\
             # bridge fdb show\n33:33:00:00:00:01 dev eth0 self permanent\n\
             # ip route\ndefault via 192.0.2.1 dev eth0\n",
        )
        .unwrap();
        assert_eq!(h.interface("eth0").unwrap().addrs, [parse_ifaddr("192.0.2.2/24").unwrap()]);
        assert!(h.interface("lo").unwrap().addrs.iter().all(|a| !a.addr.is_multicast()));
        assert_eq!(h.lookup(ip("203.0.113.1")).and_then(|r| r.via), Some(ip("192.0.2.1")));
        // Without headers: neighbour lines by their shape, multicast groups by their addresses.
        let h = parse(
            "eth0 UP 192.0.2.2/24\n192.0.2.1 dev eth0 lladdr 02:fc:00:00:00:05 REACHABLE\n\
                       192.0.2.9 dev eth0 INCOMPLETE\n2: eth0\n    inet 224.0.0.1\n",
        )
        .unwrap();
        assert_eq!(h.interface("eth0").unwrap().addrs.len(), 1);
        assert!(h.routes.iter().all(|r| r.dst != ip("192.0.2.1") && r.dst != ip("192.0.2.9")));
        for header in
            ["ip neigh", "ip -6 n show", "$ ip -s maddr", "ip xfrm state", "bridge -d vlan", "ip -n ns1 neigh"]
        {
            assert!(names_unread_listing(header), "{header}");
        }
        for header in ["ip r", "ip -6 route show table all", "ip a", "ip -br link", "ip rule", "bridge link", "sysctl"]
        {
            assert!(!names_unread_listing(header), "{header}");
        }
    }

    #[test]
    fn coloured_output_reads_as_plain() {
        let h = parse(
            "\x1b[36meth0             \x1b[0m\x1b[32mUP             \x1b[0m\x1b[35m192.0.2.2\x1b[0m/24 \x1b[34mfd00::2\x1b[0m/64\n\
             default via \x1b[35m192.0.2.1 \x1b[0mdev \x1b[36meth0 \x1b[0m\n",
        )
        .unwrap();
        assert_eq!(h.interface("eth0").unwrap().addrs.len(), 2);
        assert_eq!(h.lookup(ip("203.0.113.1")).and_then(|r| r.dev.clone()), Some("eth0".into()));
        let e = parse("\x1b[36meth0 \x1b[0m\x1b[32mUP \x1b[0m192.0.2.300/24\n").unwrap_err();
        assert_eq!((e[0].span.line, e[0].span.col), (1, 1));
        // A sequence cut off, or ended by a character of more than one byte (found by fuzzing).
        assert_eq!(without_colours("eth0\x1b[1;\u{fffd}UP\x1b[0"), "eth0UP");
        assert_eq!(without_colours("\x1b\x1b[é\x1b"), "");
        assert!(parse("\u{fffd}\x1b\x1b\u{fffd}\x1b[\u{fffd}-\x1b[\x1b\x1b[\u{a0}\n").is_err());
    }

    const BRIDGED_HOST: &str =
        "# ip -br addr\nlo UNKNOWN 127.0.0.1/8\neth0 UP 198.51.100.2/24\ndocker0 UP 172.17.0.1/16\n\
        veth1@if6 UP fe80::1/64\n# bridge link\n\
        7: veth1@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master docker0 state forwarding priority 32 cost 2\n\
        9: veth2@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master docker0 state forwarding priority 32 cost 2\n\
        11: veth3@if10: <BROADCAST,MULTICAST> mtu 1500 master docker0 state disabled priority 32 cost 2\n\
        # sysctl\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables=0\n";

    #[test]
    fn reads_the_source_checks_sysctls_of_all_and_of_an_interface() {
        let text = format!(
            "{DOCKER_HOST}net.ipv4.conf.ppp0.accept_local = 1\nnet.ipv4.conf.all.route_localnet = 0\n\
             net.ipv4.conf.p1p1.route_localnet = 1\nnet.ipv4.conf.default.accept_local = 1\n"
        );
        let h = parse(&text).unwrap();
        assert!(h.accept_local("ppp0") && !h.accept_local("p1p1") && !h.accept_local("docker0"));
        assert!(h.route_localnet("p1p1") && !h.route_localnet("ppp0"));
        let h =
            parse(&format!("{text}net.ipv4.conf.all.route_localnet = 1\nnet.ipv4.conf.ppp0.accept_local=0\n")).unwrap();
        assert!(h.route_localnet("ppp0") && h.route_localnet("docker0"));
        assert!(!h.accept_local("ppp0"), "the last setting of an interface counts");
        assert!(parse(&format!("{DOCKER_HOST}net.ipv4.conf.all.accept_local = 2\n")).is_err());
    }

    #[test]
    fn disable_ipv6_of_all_sets_every_interface_and_one_of_its_own_comes_after() {
        let read = |lines: &str| parse(&format!("{DOCKER_HOST}{lines}")).unwrap();
        let h = read("net.ipv6.conf.ppp0.disable_ipv6 = 1\n");
        assert!(h.ipv6_disabled("ppp0") && !h.ipv6_disabled("docker0"));
        let h = read("net.ipv6.conf.ppp0.disable_ipv6 = 1\nnet.ipv6.conf.all.disable_ipv6 = 0\n");
        assert!(!h.ipv6_disabled("ppp0"), "writing all sets every interface's");
        let h = read("net.ipv6.conf.all.disable_ipv6 = 1\nnet.ipv6.conf.docker0.disable_ipv6 = 0\n");
        assert!(h.ipv6_disabled("ppp0") && !h.ipv6_disabled("docker0"));
        assert!(!read("net.ipv6.conf.default.disable_ipv6 = 1\n").ipv6_disabled("ppp0"));
        assert_eq!(read("net.netfilter.nf_conntrack_tcp_loose = 0\n").conntrack_tcp_loose, Some(false));
    }

    #[test]
    fn force_forwarding_forwards_ipv6_from_its_interface_until_all_forwarding_is_written_0() {
        let read = |lines: &str| parse(&format!("{DOCKER_HOST}{lines}")).unwrap();
        let h = read("net.ipv6.conf.ppp0.force_forwarding = 1\n");
        assert!(h.ipv6_forwards_from("ppp0") && !h.ipv6_forwards_from("docker0"));
        let h = read("net.ipv6.conf.all.force_forwarding = 1\nnet.ipv6.conf.docker0.force_forwarding = 0\n");
        assert!(h.ipv6_forwards_from("ppp0") && !h.ipv6_forwards_from("docker0"));
        let h = read("net.ipv6.conf.ppp0.force_forwarding = 1\nnet.ipv6.conf.all.forwarding = 0\n");
        assert!(!h.ipv6_forwards_from("ppp0"), "writing all.forwarding 0 clears every interface's");
        let h = read("net.ipv6.conf.ppp0.force_forwarding = 1\nnet.ipv6.conf.all.forwarding = 1\n");
        assert!(h.ipv6_forwards_from("docker0"));
        assert!(!read("net.ipv6.conf.default.force_forwarding = 1\n").ipv6_forwards_from("ppp0"));
    }

    #[test]
    fn an_interface_acts_as_an_ipv6_router_by_its_own_forwarding_or_all_s_written_after_it() {
        let read = |lines: &str| parse(&format!("{DOCKER_HOST}{lines}")).unwrap();
        let h = read("net.ipv6.conf.all.forwarding = 1\nnet.ipv6.conf.ppp0.forwarding = 0\n");
        assert!(!h.ipv6_router_on("ppp0") && h.ipv6_router_on("docker0"));
        assert!(h.ipv6_forwards_from("ppp0"), "forwarding itself follows all's alone");
        let h = read("net.ipv6.conf.ppp0.forwarding = 1\n");
        assert!(h.ipv6_router_on("ppp0") && !h.ipv6_router_on("docker0") && !h.ipv6_forwards_from("ppp0"));
        assert!(!read("net.ipv6.conf.ppp0.forwarding = 1\nnet.ipv6.conf.all.forwarding = 0\n").ipv6_router_on("ppp0"));
    }

    #[test]
    fn tells_the_kernels_own_routing_from_the_users() {
        let own = parse(DOCKER_HOST).unwrap();
        assert!(!own.has_custom_ipv4_routing());
        assert!(own.is_interface_address(ip("172.17.0.1")) && !own.is_interface_address(ip("127.0.0.5")));
        assert!(own.is_local(ip("127.0.0.5")));
        let listed =
            "# ip rule\n0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n";
        assert!(!parse(&format!("{DOCKER_HOST}{listed}")).unwrap().has_custom_ipv4_routing());
        let ruled = "# ip rule\n0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup 100\n32766:\tfrom all lookup main\n";
        assert!(parse(&format!("{DOCKER_HOST}{ruled}")).unwrap().has_custom_ipv4_routing());
        let kernels_local =
            "# ip route show table local\nlocal 172.17.0.1 dev docker0 proto kernel scope host src 172.17.0.1\n";
        assert!(!parse(&format!("{DOCKER_HOST}{kernels_local}")).unwrap().has_custom_ipv4_routing());
        let anyip = "# ip route show table local\nlocal 10.99.0.0/16 dev lo scope host\n";
        let h = parse(&format!("{DOCKER_HOST}{anyip}")).unwrap();
        assert!(h.has_custom_ipv4_routing());
        assert_eq!(h.local_dev(ip("10.99.3.4")), Some("lo"));
    }

    #[test]
    fn reads_bridge_ports_and_the_bridge_nf_sysctls() {
        use crate::ruleset::Family;
        let h = parse(BRIDGED_HOST).unwrap();
        let ports: Vec<&str> = h.ports("docker0").map(|i| i.name.as_str()).collect();
        assert_eq!(ports, ["veth1", "veth2", "veth3"]);
        assert!(h.is_bridge("docker0") && !h.is_bridge("eth0") && !h.is_bridge("veth1"));
        assert_eq!(h.bridge_of("veth2"), Some("docker0"));
        assert_eq!(h.bridge_of("eth0"), None);
        // The `bridge link` line keeps the address `ip -br addr` gave; a disabled port passes nothing.
        assert_eq!(h.interface("veth1").unwrap().addrs.len(), 1);
        assert!(h.interface("veth1").unwrap().up && !h.interface("veth3").unwrap().up);
        assert_eq!(h.bridge_nf_calls(Family::Ipv4), (true, true));
        assert_eq!(h.bridge_nf_calls(Family::Ipv6), (false, true));
        // Not given: the kernel's default once br_netfilter is loaded.
        assert_eq!(parse(DOCKER_HOST).unwrap().bridge_nf_calls(Family::Ipv4), (true, false));
        assert!(!parse(DOCKER_HOST).unwrap().is_bridge("docker0"));
    }

    #[test]
    fn reads_master_from_ip_link_output() {
        let h = parse("5: vethab12@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master cni0 state UP mode DEFAULT group default\n    link/ether 7a:1b:2c:3d:4e:5f brd ff:ff:ff:ff:ff:ff link-netns cni-1\n").unwrap();
        assert_eq!(h.bridge_of("vethab12"), Some("cni0"));
        assert_eq!(h.interface("vethab12").unwrap().mac, Some([0x7a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f]));
    }

    #[test]
    fn link_local_address_is_the_listed_one_else_made_from_the_mac() {
        let h = parse(
            "eth0 UP 2001:db8::1/64 fe80::2/64\n\
             3: eth1: <UP> mtu 1500 state UP\n    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff\n\
             eth2 UP 2001:db8:2::1/64\n",
        )
        .unwrap();
        let ll = |dev| h.link_local_address(dev).map(|(a, assumed)| (a.to_string(), assumed));
        assert_eq!(ll("eth0"), Some(("fe80::2".into(), false)));
        assert_eq!(ll("eth1"), Some(("fe80::5054:ff:fe12:3456".into(), true)));
        assert_eq!(ll("eth2"), Some(("fe80::1".into(), true)));
        assert_eq!(ll("lo"), None);
    }

    #[test]
    fn bridge_errors_point_at_the_word() {
        let e = parse("eth0 UP 192.0.2.1/24\n7: veth1@if6: <UP> mtu 1500 master\n").unwrap_err();
        assert_eq!((e[0].span.line, e[0].span.col), (2, 29));
        assert!(e[0].message.contains("`master` needs"), "{}", e[0].message);
        let e = parse("  7: br0: <UP> mtu 1500 master br0 state forwarding\n").unwrap_err();
        assert_eq!((e[0].span.line, e[0].span.col), (1, 32));
        let e = parse("net.bridge.bridge-nf-call-iptables = yes\n").unwrap_err();
        assert_eq!((e[0].span.col, e[0].span.end - e[0].span.start), (38, 3));
    }

    #[test]
    fn positions_errors() {
        let e = parse("eth0 UP 192.0.2.1/24\nthis is nonsense\n").unwrap_err();
        assert_eq!(e[0].span.line, 2);
    }
}
