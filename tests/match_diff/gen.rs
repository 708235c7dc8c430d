//! Made-up dumps and packets for `tests/match_diff.rs`: one host with two links (for one seed in four
//! with a routing policy by firewall mark and TOS, and strict reverse-path filtering), a packet of a random kind,
//! direction (received, forwarded, sent, or sent to one of the host's own addresses through `lo`) and
//! header, and in each chain the packet passes a few rules of one to three random
//! conditions, drawn half the time from the packet's own values so that about half of them hold. Most
//! rules end in `-j NFLOG` (the walk goes on, and the kernel's TRACE line says the rule matched); some
//! set a mark, a connection mark or the TOS that later conditions test; the nat chains may translate
//! (DNAT, REDIRECT, NETMAP, SNAT, MASQUERADE, with ports, `--random` and `--persistent`), which can
//! change the packet's path; raw may exempt it from tracking (NOTRACK); the filter chain may end in a
//! conditional verdict. The host has ipsets of eight types whose elements are drawn from the packet's
//! values half the time ([`sets`]); conditions look the packet up in them and `-j SET` changes them.

use crate::synth::Rng;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host every IPv4 case runs on: eth0 towards the world, eth1 a LAN, forwarding on.
pub const HOST: &str = "\
# ip -br addr
lo               UNKNOWN        127.0.0.1/8
eth0             UP             198.51.100.2/24
eth1             UP             192.0.2.1/24
# ip route
default via 198.51.100.1 dev eth0
192.0.2.0/24 dev eth1 proto kernel scope link src 192.0.2.1
# sysctl
net.ipv4.ip_forward = 1
";

/// The IPv4 host with a routing policy: packets with mark bit 0x1 (which `MARK` targets of the dumps
/// set) or TOS 0x10 (which a packet may have or a `TOS` target set) are routed by table 100, through a
/// gateway on the LAN; strict reverse-path filtering.
pub const HOST_POLICY: &str = "\
# ip -br addr
lo               UNKNOWN        127.0.0.1/8
eth0             UP             198.51.100.2/24
eth1             UP             192.0.2.1/24
# ip rule
0:	from all lookup local
100:	from all fwmark 0x1/0x1 lookup 100
150:	from all tos 0x10 lookup 100
32766:	from all lookup main
32767:	from all lookup default
# ip route
default via 198.51.100.1 dev eth0
192.0.2.0/24 dev eth1 proto kernel scope link src 192.0.2.1
# ip route show table 100
default via 192.0.2.254 dev eth1
# sysctl
net.ipv4.ip_forward = 1
net.ipv4.conf.all.rp_filter = 1
";

/// The host for the case of `seed` with packet `p`: one case in four has the routing policy, one in eight
/// (every one with `random`) a routing policy, routes and reverse-path filters of its own
/// ([`random_host`]).
pub fn host(p: &Pkt, seed: u64, random: bool, rng: &mut Rng) -> String {
    if random || seed % 8 == 5 {
        return random_host(p, rng);
    }
    match (p.v6, seed % 4) {
        (true, 2) => HOST6_POLICY,
        (true, _) => HOST6,
        (false, 2) => HOST_POLICY,
        _ => HOST,
    }
    .to_string()
}

/// A host with the addresses of [`HOST`] (or [`HOST6`]), so that the packets fit it, and random routing
/// around them: more specific routes that send half of the remote hosts or of the LAN elsewhere, routes that
/// kill some (blackhole, unreachable, prohibit) or throw them to the next rule, a second default route,
/// two more tables, rules that choose them by mark, TOS, source, destination, interfaces, protocol and
/// port (some negated, some with other actions), and reverse-path filters and forwarding per interface.
pub fn random_host(p: &Pkt, rng: &mut Rng) -> String {
    let v6 = p.v6;
    let (wan_gw, lan_gw, remote, remote_lo, remote_hi, lan_hi) = if v6 {
        (
            "2001:db8:1::1",
            "2001:db8:2::fe",
            "2001:db8:ff::/48",
            "2001:db8:ff::/49",
            "2001:db8:ff:8000::/49",
            "2001:db8:2::80/121",
        )
    } else {
        ("198.51.100.1", "192.0.2.254", "203.0.113.0/24", "203.0.113.0/25", "203.0.113.128/25", "192.0.2.128/25")
    };
    let lan_lo = if v6 { "2001:db8:2::/121" } else { "192.0.2.0/25" };
    // Now and then a link-local gateway on the LAN (which IPv6 redirects name), and routes with an MTU
    // below the interfaces' (locked or not: IPv6 forwarding heeds the two apart).
    let lan_gw = if v6 && rng.below(3) == 0 { "fe80::fe" } else { lan_gw };
    let mtu = |rng: &mut Rng| match rng.below(6) {
        0 => format!(" mtu {}", if v6 { 1280 } else { 1000 }),
        1 => format!(" mtu lock {}", if v6 { 1280 } else { 1000 }),
        _ => String::new(),
    };
    let mut t = String::from("# ip -br addr\n");
    if v6 {
        t += "lo               UNKNOWN        127.0.0.1/8 ::1/128\neth0             UP             2001:db8:1::2/64\n\
              eth1             UP             2001:db8:2::1/64\n";
    } else {
        t += "lo               UNKNOWN        127.0.0.1/8\neth0             UP             198.51.100.2/24\n\
              eth1             UP             192.0.2.1/24\n";
    }
    let dead = |rng: &mut Rng| ["blackhole", "unreachable", "prohibit", "throw"][rng.below(4)];
    let mut main = vec![format!("default via {wan_gw} dev eth0{}", mtu(rng))];
    if rng.below(3) == 0 {
        // (Not IPv6's default metric, 1024, which would make one multipath route of the two.)
        let metric = if v6 { [100, 2048][rng.below(2)] } else { [100, 1024][rng.below(2)] };
        main.push(format!("default via {lan_gw} dev eth1 metric {metric}"));
    }
    match rng.below(4) {
        0 => main.push(format!("{remote_lo} via {lan_gw} dev eth1{}", mtu(rng))),
        1 => main.push(format!("{} {remote_hi}", dead(rng))),
        _ => {}
    }
    if rng.below(4) == 0 {
        main.push(format!("{lan_hi} via {wan_gw} dev eth0"));
    }
    let mut t100 = match rng.below(3) {
        0 => vec![format!("default via {lan_gw} dev eth1")],
        1 => vec![format!("{remote} via {lan_gw} dev eth1")],
        _ => vec![format!("{} default", dead(rng))],
    };
    if rng.below(3) == 0 {
        t100.push(format!("{lan_lo} via {wan_gw} dev eth0"));
    }
    let t200 = match rng.below(3) {
        0 => format!("default via {wan_gw} dev eth0"),
        1 => format!("{} {remote_lo}", dead(rng)),
        _ => format!("{remote} via {lan_gw} dev eth1"),
    };
    let selectors = |rng: &mut Rng| -> String {
        let table = [
            " lookup 100",
            " lookup 200",
            " lookup 100",
            " lookup 200",
            " lookup main suppress_prefixlength 0",
            " unreachable",
            " prohibit",
            " blackhole",
        ][rng.below(8)];
        let sel = match rng.below(11) {
            0 | 1 => format!("from all fwmark 0x{:x}{}", 1 << rng.below(3), ["", "/0x1", "/0xff"][rng.below(3)]),
            2 => format!("from all tos 0x{:02x}", [0x10, 0x08, 0x04][rng.below(3)]),
            3 => format!("from {lan_lo}"),
            4 => format!("from all to {remote_lo}"),
            5 => format!("from all iif {}", ["eth0", "eth1", "lo"][rng.below(3)]),
            6 => format!("from all oif {}", ["eth0", "eth1"][rng.below(2)]),
            7 => format!("from all ipproto {}", ["tcp", "udp"][rng.below(2)]),
            8 => format!("from all ipproto tcp dport {}", [22, 80, 443][rng.below(3)]),
            9 => format!("from all ipproto udp sport {}", ["53", "1024-65534"][rng.below(2)]),
            _ => format!("from {remote} to {lan_lo}"),
        };
        let not = if rng.below(6) == 0 { "not " } else { "" };
        format!("{not}{sel}{table}")
    };
    let rules: Vec<String> = (0..1 + rng.below(3)).map(|_| selectors(rng)).collect();
    t += if v6 { "# ip -6 rule\n" } else { "# ip rule\n" };
    t += "0:\tfrom all lookup local\n";
    for (n, r) in rules.iter().enumerate() {
        t += &format!("{}:\t{r}\n", 100 + 50 * n);
    }
    t += "32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n";
    let route = if v6 { "ip -6 route" } else { "ip route" };
    t += &format!("# {route}\n");
    for r in &main {
        t += &format!("{r}\n");
    }
    if !v6 {
        t += "192.0.2.0/24 dev eth1 proto kernel scope link src 192.0.2.1\n";
    }
    t += &format!("# {route} show table 100\n");
    for r in &t100 {
        t += &format!("{r}\n");
    }
    t += &format!("# {route} show table 200\n{t200}\n# sysctl\n");
    if v6 {
        // Forwarding off now and then, with an interface forcing it on (Linux 6.17); an interface that does
        // not act as a router (no Subnet-Router anycast, no ff02::2).
        match rng.below(6) {
            0 => {
                t += &format!(
                    "net.ipv6.conf.all.forwarding = 0\nnet.ipv6.conf.{}.force_forwarding = 1\n",
                    ["eth0", "eth1"][rng.below(2)]
                )
            }
            1 => {
                t += &format!(
                    "net.ipv6.conf.all.forwarding = 1\nnet.ipv6.conf.{}.forwarding = 0\n",
                    ["eth0", "eth1"][rng.below(2)]
                )
            }
            _ => t += "net.ipv6.conf.all.forwarding = 1\n",
        }
    } else {
        t += "net.ipv4.ip_forward = 1\n";
        if rng.below(5) == 0 {
            t += &format!("net.ipv4.conf.{}.forwarding = 0\n", ["eth0", "eth1"][rng.below(2)]);
        }
        t += &format!("net.ipv4.conf.all.rp_filter = {}\n", rng.below(3));
        for iface in ["eth0", "eth1"] {
            if rng.below(2) == 0 {
                t += &format!("net.ipv4.conf.{iface}.rp_filter = {}\n", rng.below(3));
            }
        }
        if rng.below(3) == 0 {
            t += "net.ipv4.conf.all.src_valid_mark = 1\n";
        }
    }
    t
}

/// Sysctls that decide what routing makes of a packet's source (drawn with `CHAINWALK_MATCH_DIFF_SOURCES=1`,
/// after the host): `accept_local` and `route_localnet` for all or one interface, and conntrack's
/// `nf_conntrack_tcp_loose` off.
pub fn source_sysctls(p: &Pkt, rng: &mut Rng) -> String {
    let mut t = String::new();
    let iface = |rng: &mut Rng| ["all", "eth0", "eth1"][rng.below(3)];
    if !p.v6 {
        if rng.below(2) == 0 {
            t += &format!("net.ipv4.conf.{}.accept_local = 1\n", iface(rng));
        }
        if rng.below(2) == 0 {
            t += &format!("net.ipv4.conf.{}.route_localnet = 1\n", iface(rng));
        }
    }
    if rng.below(4) == 0 {
        t += "net.netfilter.nf_conntrack_tcp_loose = 0\n";
    }
    t
}

/// The IPv6 host with a routing policy like [`HOST_POLICY`]'s (mark bit 0x1 or traffic class 0x10: table
/// 100, through a gateway on the LAN), and a second address on the WAN link, in the remote hosts' prefix,
/// which source address selection prefers for them.
pub const HOST6_POLICY: &str = "\
# ip -br addr
lo               UNKNOWN        127.0.0.1/8 ::1/128
eth0             UP             2001:db8:1::2/64 2001:db8:ff:1::2/64
eth1             UP             2001:db8:2::1/64
# ip -6 rule
0:	from all lookup local
100:	from all fwmark 0x1/0x1 lookup 100
150:	from all tos 0x10 lookup 100
32766:	from all lookup main
# ip -6 route
default via 2001:db8:1::1 dev eth0
# ip -6 route show table 100
default via 2001:db8:2::254 dev eth1
# sysctl
net.ipv6.conf.all.forwarding = 1
";

/// The same for IPv6 cases.
pub const HOST6: &str = "\
# ip -br addr
lo               UNKNOWN        127.0.0.1/8 ::1/128
eth0             UP             2001:db8:1::2/64
eth1             UP             2001:db8:2::1/64
# ip -6 route
default via 2001:db8:1::1 dev eth0
# sysctl
net.ipv6.conf.all.forwarding = 1
";

const WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const LAN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const WAN6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const LAN6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);

/// Where the packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Input,
    Forward,
    Output,
    /// Sent by the host to one of its own addresses: out through `lo` and back in.
    Local,
}

/// The packet, as the conditions are drawn from it.
pub struct Pkt {
    pub dir: Dir,
    pub v6: bool,
    in_if: Option<&'static str>,
    out_if: Option<&'static str>,
    src: IpAddr,
    dst: IpAddr,
    /// 6, 17, or 1 (58 for IPv6); for a packet of another protocol, 132 (SCTP), 136 (UDP-Lite), 33
    /// (DCCP), 50 (ESP) or 47 (GRE).
    proto: u8,
    sport: u16,
    dport: u16,
    /// TCP flags, or the ICMP type and code.
    flags: u8,
    icmp: (u8, u8),
    ttl: u8,
    tos: u8,
    len: u16,
    established: bool,
    /// TCP options, when the packet gives them.
    opts: Option<Vec<u8>>,
    /// An ESP packet's SPI.
    spi: u32,
}

impl Pkt {
    /// A packet of TCP, UDP or ICMP, or with `other` (when it is not a broadcast) of SCTP, UDP-Lite,
    /// DCCP, ESP or GRE (the first packet of its connection, which the recorder sends as such). The other
    /// protocol is drawn after everything else, so that the TCP, UDP and ICMP packets of the seeds before
    /// it stay the same.
    pub fn make(rng: &mut Rng, v6: bool, other: bool) -> Pkt {
        let dir = [Dir::Input, Dir::Input, Dir::Forward, Dir::Forward, Dir::Output, Dir::Local][rng.below(6)];
        let (remote, neighbour, wan, lan): (IpAddr, IpAddr, IpAddr, IpAddr) = if v6 {
            let r = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 2 + rng.below(250) as u16);
            let n = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2 + rng.below(250) as u16);
            (r.into(), n.into(), WAN6.into(), LAN6.into())
        } else {
            let r = Ipv4Addr::new(203, 0, 113, 2 + rng.below(250) as u8);
            let n = Ipv4Addr::new(192, 0, 2, 2 + rng.below(250) as u8);
            (r.into(), n.into(), WAN.into(), LAN.into())
        };
        let proto = [6, 6, 6, 17, 17, if v6 { 58 } else { 1 }][rng.below(6)];
        let broadcast = !v6 && dir == Dir::Input && proto == 17 && rng.below(4) == 0;
        let (in_if, out_if, src, dst) = match dir {
            Dir::Input if broadcast => (Some("eth1"), None, neighbour, Ipv4Addr::new(192, 0, 2, 255).into()),
            Dir::Input => match rng.below(4) {
                0 => (Some("eth1"), None, neighbour, lan),
                1 => (Some("eth1"), None, neighbour, wan),
                _ => (Some("eth0"), None, remote, wan),
            },
            Dir::Forward if rng.below(2) == 0 => (Some("eth0"), None, remote, neighbour),
            Dir::Forward => (Some("eth1"), None, neighbour, remote),
            Dir::Output if rng.below(2) == 0 => (None, Some("eth0"), wan, remote),
            Dir::Output => (None, Some("eth1"), lan, neighbour),
            Dir::Local => {
                let lo: IpAddr = if v6 { Ipv6Addr::LOCALHOST.into() } else { Ipv4Addr::LOCALHOST.into() };
                let (src, dst) = [(lo, lo), (wan, wan), (lan, wan), (wan, lan)][rng.below(4)];
                (None, Some("lo"), src, dst)
            }
        };
        let established = proto == 6 && !broadcast && rng.below(4) == 0;
        let flags = if established {
            0x18
        } else {
            // SYN, ACK, SYN+ACK, FIN+ACK, RST, PSH+ACK, SYN+FIN, none, FIN+PSH+URG.
            // (SYN with ECE and CWR asks for ECN; ACK with ECE echoes congestion.)
            [0x02, 0x02, 0x02, 0x10, 0x12, 0x11, 0x04, 0x18, 0x03, 0x00, 0x29, 0xc2, 0x50][rng.below(13)]
        };
        let icmp = if v6 {
            [(128, 0), (128, 0), (129, 0), (1, 4), (139, 0)][rng.below(5)]
        } else {
            [(8, 0), (8, 0), (0, 0), (13, 0), (17, 0), (9, 0)][rng.below(6)]
        };
        let sport = [40000 + rng.below(20000) as u16, 1024, 53, 123][rng.below(4)];
        let dport = [22, 53, 80, 443, 7788, 8080, 1194, 3000 + rng.below(1000) as u16][rng.below(8)];
        // TCP options as a kernel's SYN has them (MSS, SACK permitted, timestamps, window scale), an MSS
        // alone, timestamps after two no-operations, odd ones; or none.
        let opts: Option<Vec<u8>> = match rng.below(7) {
            0 => Some(vec![2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]),
            1 => Some(vec![2, 4, [2, 5, 5][rng.below(3)], [0x18, 0xb4, 0xdc][rng.below(3)]]),
            2 => Some(vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]),
            3 => Some(vec![1, 1, 4, 2, 0, 0, 0, 0]),
            4 => Some(vec![3, 3, 7, 0]),
            _ => None,
        };
        let opts = if proto == 6 && !established { opts } else { None };
        let payload = [0, 0, 0, 12, 500][rng.below(5)];
        let ip = if v6 { 40 } else { 20 };
        let len = ip
            + match proto {
                6 => 20 + opts.as_ref().map_or(0, Vec::len) as u16 + payload,
                17 => [8, 40, 56, 492, 1180, 1400][rng.below(6)],
                _ => [8, 64, 64, 108][rng.below(4)],
            };
        let ttl = [1, 2, 63, 64, 64, 65, 128, 255][rng.below(8)];
        let tos = [0x00, 0x00, 0x10, 0x08, 0x02, 0xb8, 0x20, 0x48, 0x04, 0x30, 0x13][rng.below(11)];
        // A segment of an established connection is the sender's kernel's: one byte of data after a
        // header with timestamps, its usual TTL and TOS.
        let (len, ttl, tos) = if established { (ip + 33, 64, 0) } else { (len, ttl, tos) };
        let mut p = Pkt {
            dir,
            v6,
            in_if,
            out_if,
            src,
            dst,
            proto,
            sport,
            dport,
            flags,
            icmp,
            ttl,
            tos,
            len,
            established,
            opts,
            spi: 0,
        };
        if other && !broadcast {
            p.proto = [132, 132, 136, 33, 50, 47][rng.below(6)];
            p.established = false;
            p.opts = None;
            p.spi = 0x100 + rng.below(0x200) as u32;
            // (An SCTP INIT chunk, with a padding parameter of a whole number of words.)
            p.len = ip
                + match p.proto {
                    132 => [32, 40, 100][rng.below(3)],
                    136 => [8, 40][rng.below(2)],
                    33 => [20, 32][rng.below(2)],
                    50 => [8, 60][rng.below(2)],
                    _ => [4, 80][rng.below(2)],
                };
        }
        p
    }

    /// For a packet that comes in (received or forwarded), now and then a source routing looks at twice:
    /// an address of the host (its other interface's, or the incoming one's), a loopback one; for IPv6 also a
    /// v4-mapped one, the LAN's Subnet-Router anycast address, `::1` and a multicast one. Drawn only with
    /// `CHAINWALK_MATCH_DIFF_SOURCES=1`, before the dump, so that its rules are drawn from it.
    pub fn spoof_source(&mut self, rng: &mut Rng) {
        let Some(in_if) = self.in_if else { return };
        if rng.below(3) == 0 {
            return;
        }
        let (own, other) = match (self.v6, in_if) {
            (false, "eth0") => (IpAddr::V4(WAN), IpAddr::V4(LAN)),
            (false, _) => (IpAddr::V4(LAN), IpAddr::V4(WAN)),
            (true, "eth0") => (IpAddr::V6(WAN6), IpAddr::V6(LAN6)),
            (true, _) => (IpAddr::V6(LAN6), IpAddr::V6(WAN6)),
        };
        self.src = if self.v6 {
            let choices: [IpAddr; 6] = [
                other,
                own,
                "::ffff:198.51.100.9".parse().unwrap(),
                "2001:db8:2::".parse().unwrap(),
                Ipv6Addr::LOCALHOST.into(),
                "ff02::1".parse().unwrap(),
            ];
            choices[rng.below(6)]
        } else {
            let choices: [IpAddr; 4] =
                [other, own, Ipv4Addr::LOCALHOST.into(), Ipv4Addr::new(127, 0, 0, 2 + rng.below(250) as u8).into()];
            choices[rng.below(4)]
        };
    }

    /// In chainwalk's packet syntax (a kernel log line).
    pub fn text(&self, rng: &mut Rng) -> String {
        // (A socket's segment of an established connection always has DF.)
        let roll = rng.below(3) > 0;
        let df = if roll || self.established { " DF" } else { "" };
        let ip = if self.v6 {
            format!("TC={} HOPLIMIT={} FLOWLBL=0", self.tos, self.ttl)
        } else {
            format!("TOS=0x{:02X} TTL={}{df}", self.tos, self.ttl)
        };
        let mut t = format!(
            "IN={} OUT={} SRC={} DST={} LEN={} {ip}",
            self.in_if.unwrap_or(""),
            self.out_if.unwrap_or(""),
            self.src,
            self.dst,
            self.len,
        );
        match self.proto {
            6 => {
                t += &format!(" PROTO=TCP SPT={} DPT={}", self.sport, self.dport);
                for (bit, name) in
                    [(0x20, "URG"), (0x10, "ACK"), (0x08, "PSH"), (0x04, "RST"), (0x02, "SYN"), (0x01, "FIN")]
                {
                    if self.flags & bit != 0 {
                        t += " ";
                        t += name;
                    }
                }
                if let Some(o) = &self.opts {
                    t += " OPT (";
                    t += &o.iter().map(|b| format!("{b:02X}")).collect::<String>();
                    t += ")";
                }
                if self.established {
                    t += " CTSTATE=ESTABLISHED";
                }
            }
            17 => t += &format!(" PROTO=UDP SPT={} DPT={}", self.sport, self.dport),
            132 => t += &format!(" PROTO=SCTP SPT={} DPT={}", self.sport, self.dport),
            136 => t += &format!(" PROTO=UDPLITE SPT={} DPT={}", self.sport, self.dport),
            33 => t += &format!(" PROTO=DCCP SPT={} DPT={}", self.sport, self.dport),
            50 => t += &format!(" PROTO=ESP SPI=0x{:x}", self.spi),
            47 => t += " PROTO=47",
            _ if self.v6 => t += &format!(" PROTO=ICMPv6 TYPE={} CODE={}", self.icmp.0, self.icmp.1),
            _ => t += &format!(" PROTO=ICMP TYPE={} CODE={}", self.icmp.0, self.icmp.1),
        }
        t
    }
}

/// The chains the packet passes through, in tables the dump fills, with the hook each is on.
fn chains(dir: Dir) -> Vec<(&'static str, &'static str)> {
    const OUTPUT: [(&str, &str); 6] = [
        ("raw", "OUTPUT"),
        ("mangle", "OUTPUT"),
        ("nat", "OUTPUT"),
        ("filter", "OUTPUT"),
        ("mangle", "POSTROUTING"),
        ("nat", "POSTROUTING"),
    ];
    match dir {
        Dir::Input => vec![
            ("raw", "PREROUTING"),
            ("mangle", "PREROUTING"),
            ("nat", "PREROUTING"),
            ("mangle", "INPUT"),
            ("filter", "INPUT"),
            ("nat", "INPUT"),
        ],
        Dir::Forward => vec![
            ("raw", "PREROUTING"),
            ("mangle", "PREROUTING"),
            ("mangle", "FORWARD"),
            ("filter", "FORWARD"),
            ("mangle", "POSTROUTING"),
            ("nat", "POSTROUTING"),
        ],
        Dir::Output => OUTPUT.to_vec(),
        // Back in through `lo`, the connection's NAT is decided already: nat PREROUTING and INPUT are not
        // consulted.
        Dir::Local => {
            let back = [("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("mangle", "INPUT"), ("filter", "INPUT")];
            OUTPUT.iter().chain(&back).copied().collect()
        }
    }
}

const TABLES: [(&str, &[&str]); 4] = [
    ("raw", &["PREROUTING", "OUTPUT"]),
    ("mangle", &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]),
    ("nat", &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]),
    ("filter", &["INPUT", "FORWARD", "OUTPUT"]),
];

/// A whole dump for `p`.
pub fn dump(p: &Pkt, rng: &mut Rng) -> String {
    let mut out = format!("# Generated by {}tables-save v1.8.9\n", if p.v6 { "ip6" } else { "ip" });
    let mut seq = 0;
    for (table, builtins) in TABLES {
        out += &format!("*{table}\n");
        for c in builtins {
            out += &format!(":{c} ACCEPT [0:0]\n");
        }
        // User chains: U1 may call U2; the built-in chains may call either.
        let users: &[&str] = [&[][..], &["U1"][..], &["U1", "U2"][..]][rng.below(3)];
        for u in users {
            out += &format!(":{u} - [0:0]\n");
        }
        for (t, chain) in chains(p.dir).into_iter().filter(|(t, _)| *t == table) {
            let n = 1 + rng.below(5);
            for i in 0..n {
                out += &rule(p, t, chain, i + 1 == n, users, rng, &mut seq);
            }
            // A SYN's MSS lowered (or an MSS option added), for later tcpmss matches to see.
            if t == "mangle" && !p.established && rng.below(3) == 0 {
                let how = if chain != "PREROUTING" && chain != "INPUT" && rng.below(3) == 0 {
                    "--clamp-mss-to-pmtu".to_string()
                } else {
                    format!("--set-mss {}", [536, 1200, 1460, 1500][rng.below(4)])
                };
                out += &format!("-A {chain} -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS {how}\n");
            }
            // Options overwritten with no-ops, ECN taken off a segment or set in the IP header (IPv4
            // only), for later tcp, tcpmss, ecn, tos and dscp matches to see (not for an established
            // packet, whose handshake they would have changed: options never agreed on, ECN agreed on).
            if t == "mangle" && !p.established && rng.below(4) == 0 {
                let options = ["mss", "wscale", "sack-permitted", "timestamp", "mss,timestamp"][rng.below(5)];
                out += &match rng.below(4) {
                    0 | 1 if !p.v6 => {
                        let ect = rng.below(4);
                        let how = [
                            "--ecn-tcp-remove".to_string(),
                            format!("--ecn-ip-ect {ect}"),
                            format!("--ecn-tcp-{} {}", ["cwr", "ece"][rng.below(2)], rng.below(2)),
                        ][rng.below(3)]
                        .clone();
                        let proto = if how.contains("tcp") || rng.below(2) == 0 { "-p tcp " } else { "" };
                        format!("-A {chain} {proto}-j ECN {how}\n")
                    }
                    _ => format!("-A {chain} -p tcp -j TCPOPTSTRIP --strip-options {options}\n"),
                };
            }
        }
        for (k, u) in users.iter().enumerate() {
            let n = 1 + rng.below(3);
            for i in 0..n {
                out += &rule(p, table, u, i + 1 == n, &users[k + 1..], rng, &mut seq);
            }
        }
        out += "COMMIT\n";
    }
    out
}

/// One rule of `table chain`, ending in a line break; `users` are the user chains it may call.
fn rule(p: &Pkt, table: &str, chain: &str, last: bool, users: &[&str], rng: &mut Rng, seq: &mut u32) -> String {
    // The protocol the rule's protocol matches are written for: usually the packet's.
    let icmp = if p.v6 { 58 } else { 1 };
    let proto = if rng.below(4) == 0 { [6, 17, icmp][rng.below(3)] } else { p.proto };
    let conds: Vec<Cond> = (0..1 + rng.below(3)).filter_map(|_| condition(p, proto, table, chain, rng)).collect();
    let mut words = Vec::new();
    if conds.iter().any(|c| matches!(c, Cond::OfProto(_))) {
        words.push(format!("-p {}", proto_name(rng, proto)));
    } else if let Some(Cond::Proto(w)) = conds.iter().find(|c| matches!(c, Cond::Proto(_))) {
        words.push(w.clone());
    }
    let mut generic: Vec<&str> = Vec::new();
    // Each module once a rule: iptables resolves an option of a module loaded again (`-m mark ... -m
    // connmark ... -m mark --mark`) to another module's option of that name, which chainwalk does not.
    let mut modules: Vec<String> = Vec::new();
    // One tcp, udp or icmp match a rule: iptables-nft prints only the last of several.
    let mut seen_proto_match = false;
    for c in conds {
        if let Cond::OfProto(w) = &c {
            let own = ["-m tcp ", "-m udp ", "-m icmp ", "-m icmp6 "].iter().any(|m| w.starts_with(m));
            if own && std::mem::replace(&mut seen_proto_match, true) {
                continue;
            }
        }
        if let Cond::Plain(w) | Cond::OfProto(w) = c {
            if let Some(module) = w.strip_prefix("-m ").and_then(|m| m.split(' ').next()) {
                if modules.iter().any(|m| m == module) {
                    continue;
                }
                modules.push(module.to_string());
            }
            // `-s`, `-d`, `-i` and `-o` may each be given once.
            let flag = w.trim_start_matches("! ").split(' ').next().unwrap_or("");
            let flag = ["-s", "-d", "-i", "-o"].into_iter().find(|f| *f == flag);
            if let Some(f) = flag {
                if generic.contains(&f) {
                    continue;
                }
                generic.push(f);
            }
            words.push(w);
        }
    }
    // Now and then a jump or a goto to a user chain; in a user chain, a RETURN.
    words.push(match rng.below(8) {
        0 | 1 if !users.is_empty() => format!("-{} {}", ["j", "g"][rng.below(2)], users[rng.below(users.len())]),
        2 if chain.starts_with('U') => "-j RETURN".to_string(),
        _ => {
            // Port options of a NAT target need the rule to be about TCP or UDP.
            let first_is = |ws: &[&str]| ws.iter().any(|w| words.first().is_some_and(|f| f == w));
            let l4 = first_is(&["-p tcp", "-p 6", "-p udp", "-p 17"]);
            let tcp = first_is(&["-p tcp", "-p 6"]);
            target(table, chain, last, (l4, tcp), p, rng, seq)
        }
    });
    format!("-A {chain} {}\n", words.join(" "))
}

/// A rule's target; no CONNMARK that sets the mark for an `established` packet, whose handshake would
/// have set it. `l4`: the rule is about TCP or UDP, so a NAT target may give ports; `tcp`: about TCP.
fn target(
    table: &str,
    chain: &str,
    last: bool,
    (l4, tcp): (bool, bool),
    p: &Pkt,
    rng: &mut Rng,
    seq: &mut u32,
) -> String {
    *seq += 1;
    let established = p.established;
    // (Not in a user chain, which may be called from hooks the target is not allowed in.)
    if table == "nat" && !chain.starts_with('U') && rng.below(3) == 0 {
        return nat_target(chain, l4, p, rng);
    }
    if last && table == "filter" && rng.below(2) == 0 {
        let reject = if p.v6 { "icmp6-port-unreachable" } else { "icmp-port-unreachable" };
        return ["-j ACCEPT".to_string(), "-j DROP".into(), format!("-j REJECT --reject-with {reject}")][rng.below(3)]
            .clone();
    }
    // Now and then a packet exempted from connection tracking (not an established one, whose handshake
    // the rule would have exempted too).
    if table == "raw" && !established && rng.below(12) == 0 {
        return ["-j CT --notrack", "-j NOTRACK"][rng.below(2)].to_string();
    }
    // A SET target changes what later `-m set` conditions find (not where a handshake or the neighbour
    // discovery before the packet would have changed it already).
    if !established && !p.v6 && rng.below(10) == 0 {
        let (name, dims) = SETS[rng.below(SETS.len())];
        return format!("-j SET --{}-set {name} {}", ["add", "del"][rng.below(2)], set_flags(dims, rng));
    }
    match rng.below(10) {
        0 => format!("-j MARK --set-xmark 0x{:x}/0x{:x}", 1 << rng.below(3), [0xffu32, 0xffff_ffff, 0x3][rng.below(3)]),
        1 if !established => format!("-j CONNMARK --set-xmark 0x{:x}/0xff", 1 << rng.below(3)),
        2 if table == "mangle" => format!("-j TOS --set-tos 0x{:02x}/0x3f", [0x10, 0x08, 0x04][rng.below(3)]),
        3 if table == "mangle" && chain != "POSTROUTING" => {
            let (t, o) = if p.v6 { ("HL", "hl") } else { ("TTL", "ttl") };
            format!("-j {t} --{o}-{} 1", ["inc", "dec"][rng.below(2)])
        }
        4 if table == "mangle" => format!("-j DSCP --set-dscp 0x{:02x}", [0x0a, 0x2e, 0][rng.below(3)]),
        5 => rarer_target(table, chain, tcp, p, rng)
            .unwrap_or_else(|| format!("-j NFLOG --nflog-group {}", 7 + *seq % 3)),
        _ => format!("-j NFLOG --nflog-group {}", 7 + *seq % 3),
    }
}

/// The other ways of the header and mark targets (and CT's helper), if one fits `table chain`.
fn rarer_target(table: &str, chain: &str, tcp: bool, p: &Pkt, rng: &mut Rng) -> Option<String> {
    let mangle = table == "mangle";
    let mask = |rng: &mut Rng| [0xffu32, 0xffff_ffff, 0x0f, 0xf0][rng.below(4)];
    Some(match rng.below(11) {
        0 => {
            let bits = 1u32 << rng.below(3);
            let way = ["--set-mark", "--or-mark", "--xor-mark", "--and-mark"][rng.below(4)];
            let value = if way == "--and-mark" { !bits } else { bits };
            format!("-j MARK {way} 0x{value:x}")
        }
        // Reading the connection's mark is fine for an established packet; writing it is not.
        1 => format!("-j CONNMARK --restore-mark --nfmask 0x{:x} --ctmask 0x{:x}", mask(rng), mask(rng)),
        2 if !p.established => format!("-j CONNMARK --save-mark --nfmask 0x{:x} --ctmask 0x{:x}", mask(rng), mask(rng)),
        3 if mangle => {
            let way = ["--and-tos", "--or-tos", "--xor-tos"][rng.below(3)];
            format!("-j TOS {way} 0x{:02x}", [0x10, 0x08, 0xfc, 0x1c][rng.below(4)])
        }
        4 if mangle && chain != "POSTROUTING" => {
            let (t, o) = if p.v6 { ("HL", "hl") } else { ("TTL", "ttl") };
            format!("-j {t} --{o}-set {}", [1, 33, 64, 255][rng.below(4)])
        }
        5 if mangle => format!("-j DSCP --set-dscp-class {}", ["AF21", "EF", "CS1", "BE"][rng.below(4)]),
        // (IPv4 only: ip6tables has no ECN target.)
        6 if mangle && !p.v6 => match rng.below(2) {
            0 if tcp => "-j ECN --ecn-tcp-remove".to_string(),
            _ => format!("-j ECN --ecn-ip-ect {}", rng.below(4)),
        },
        // A helper given to a new connection: `-m helper` still finds none, as only the connections it
        // expects have a master with one.
        7 if table == "raw" && tcp && !p.established => "-j CT --helper ftp".to_string(),
        // A copy to a neighbour on either side (now and then through its interface by name) or to a remote
        // host. Never to this host: a copy looped back through lo comes in again later. Nor through another
        // interface than the gateway's: IPv4 then takes the gateway as on that link, and the copy may leave
        // for its own destination (a broadcast one reaches the recorder's peers, which would take it for
        // the packet, seed 53329).
        8 if table != "nat" => {
            let (gateway, dev) = match (p.v6, rng.below(3)) {
                (false, 0) => ("198.51.100.9", Some("eth0")),
                (false, 1) => ("192.0.2.9", Some("eth1")),
                (false, _) => ("203.0.113.9", None),
                (true, 0) => ("2001:db8:1::9", Some("eth0")),
                (true, 1) => ("2001:db8:2::9", Some("eth1")),
                (true, _) => ("2001:db8:ff::9", None),
            };
            let oif = dev.filter(|_| rng.below(3) == 0).map(|d| format!(" --oif {d}")).unwrap_or_default();
            format!("-j TEE --gateway {gateway}{oif}")
        }
        // A mark from a hash of parts of the tuple (or of the connection's), under masks, with set ports.
        9 if table != "nat" => {
            let kinds = ["src", "dst", "sport", "dport", "proto", "spi", "ct"];
            let mut tuple: Vec<&str> = kinds.iter().copied().filter(|_| rng.below(2) == 0).collect();
            if tuple.contains(&"spi") {
                tuple.retain(|k| !k.ends_with("port"));
            }
            if tuple.iter().all(|k| *k == "ct") {
                tuple.push("src");
            }
            let mut t = format!("-j HMARK --hmark-tuple {}", tuple.join(","));
            if rng.below(3) == 0 && !tuple.contains(&"src") {
                t += &format!(" --hmark-src-prefix {}", [8, 16, 24][rng.below(3)] * if p.v6 { 4 } else { 1 });
            }
            if rng.below(3) == 0 && !tuple.contains(&"spi") {
                t += &format!(" --hmark-dport 0x{:x}", [0x8000, 0x1, 0xff00][rng.below(3)]);
            }
            let offset = [String::new(), " --hmark-offset 256".into()][rng.below(2)].clone();
            t + &format!(" --hmark-rnd 0x{:x} --hmark-mod {}{offset}", rng.next() as u32, [2, 16, 1000][rng.below(3)])
        }
        _ => return None,
    })
}

/// A NAT target for `nat chain`: DNAT, REDIRECT or NETMAP of the destination in PREROUTING and OUTPUT,
/// SNAT, MASQUERADE or NETMAP of the source in POSTROUTING (and INPUT, without MASQUERADE), to one of
/// the host's addresses, a neighbour, a remote address or an address routed out by default.
fn nat_target(chain: &str, l4: bool, p: &Pkt, rng: &mut Rng) -> String {
    let to: IpAddr = if p.v6 {
        [
            WAN6,
            LAN6,
            Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x50),
            Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0x80),
            Ipv6Addr::new(0x2001, 0xdb8, 0xee, 0, 0, 0, 0, 9),
        ][rng.below(5)]
        .into()
    } else {
        [WAN, LAN, Ipv4Addr::new(192, 0, 2, 50), Ipv4Addr::new(203, 0, 113, 80), Ipv4Addr::new(10, 9, 9, 9)]
            [rng.below(5)]
        .into()
    };
    let host = |a: IpAddr| if p.v6 { format!("[{a}]") } else { a.to_string() };
    let port = |rng: &mut Rng| [80u16, 8080, 2222, 53][rng.below(4)];
    let ports = |rng: &mut Rng| {
        let first = port(rng);
        match rng.below(3) {
            0 => format!("{first}-{}", first + 1 + rng.below(5) as u16),
            _ => first.to_string(),
        }
    };
    let net = |rng: &mut Rng| {
        let prefix = if p.v6 { [112, 120, 128][rng.below(3)] } else { [24, 28, 32][rng.below(3)] };
        let a = match to {
            IpAddr::V4(a) => IpAddr::from(Ipv4Addr::from(u32::from(a) & (u32::MAX << (32 - prefix)))),
            IpAddr::V6(a) => IpAddr::from(Ipv6Addr::from(u128::from(a) & (u128::MAX << (128 - prefix)))),
        };
        format!("-j NETMAP --to {a}/{prefix}")
    };
    let flags = |rng: &mut Rng| ["", "", "", "", " --random", " --persistent"][rng.below(6)];
    match chain {
        "PREROUTING" | "OUTPUT" => match rng.below(4) {
            0 if l4 => format!("-j REDIRECT --to-ports {}", ports(rng)),
            0 => "-j REDIRECT".to_string(),
            1 => net(rng),
            _ if l4 && rng.below(2) == 0 => {
                format!("-j DNAT --to-destination {}:{}{}", host(to), ports(rng), flags(rng))
            }
            _ => format!("-j DNAT --to-destination {}{}", to, flags(rng)),
        },
        _ => match rng.below(4) {
            0 if chain == "POSTROUTING" && l4 && rng.below(2) == 0 => {
                format!("-j MASQUERADE --to-ports {}", ports(rng))
            }
            0 if chain == "POSTROUTING" => "-j MASQUERADE".to_string(),
            1 => net(rng),
            _ if l4 && rng.below(2) == 0 => format!("-j SNAT --to-source {}:{}{}", host(to), ports(rng), flags(rng)),
            _ => format!("-j SNAT --to-source {}{}", to, flags(rng)),
        },
    }
}

fn not(rng: &mut Rng) -> &'static str {
    if rng.below(4) == 0 {
        "! "
    } else {
        ""
    }
}

fn addr(rng: &mut Rng, actual: IpAddr) -> String {
    match actual {
        IpAddr::V4(actual) => {
            let prefix = [8, 16, 24, 24, 28, 32, 32][rng.below(7)];
            let base = if rng.below(2) == 0 {
                actual
            } else {
                [WAN, LAN, Ipv4Addr::new(203, 0, 113, 9), Ipv4Addr::new(192, 0, 2, 77), Ipv4Addr::new(10, 1, 2, 3)]
                    [rng.below(5)]
            };
            format!("{}/{prefix}", Ipv4Addr::from(u32::from(base) & (u32::MAX << (32 - prefix))))
        }
        IpAddr::V6(actual) => {
            let prefix = [16, 32, 48, 64, 64, 120, 128, 128][rng.below(8)];
            let base = if rng.below(2) == 0 {
                actual
            } else {
                let other = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 9);
                [
                    WAN6,
                    LAN6,
                    other,
                    Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x4d),
                    Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1),
                ][rng.below(5)]
            };
            format!("{}/{prefix}", Ipv6Addr::from(u128::from(base) & (u128::MAX << (128 - prefix))))
        }
    }
}

/// An address `delta` after `a` (before, for a negative one).
fn offset(a: IpAddr, delta: i64) -> IpAddr {
    match a {
        IpAddr::V4(a) => Ipv4Addr::from((i64::from(u32::from(a)) + delta).clamp(0, i64::from(u32::MAX)) as u32).into(),
        IpAddr::V6(a) => Ipv6Addr::from(u128::from(a).wrapping_add_signed(i128::from(delta))).into(),
    }
}

fn port_spec(rng: &mut Rng, actual: u16) -> String {
    match rng.below(5) {
        0 => format!("{}:{}", actual.saturating_sub(rng.below(3) as u16), actual + rng.below(3) as u16),
        1 => format!("{}", [22, 80, 53, 443, 1024][rng.below(5)]),
        2 => format!("{}:", actual.saturating_sub(rng.below(2) as u16 * 5)),
        _ => format!("{actual}"),
    }
}

fn port_list(rng: &mut Rng, actual: u16) -> String {
    let mut items: Vec<String> =
        (0..1 + rng.below(3)).map(|_| format!("{}", [22, 80, 443, 53][rng.below(4)])).collect();
    if rng.below(2) == 0 {
        // multiport has no open ranges (`80:`).
        let spec = port_spec(rng, actual);
        let spec = if spec.ends_with(':') { spec + "65535" } else { spec };
        // Nor ranges of one port (`80:80`), which it refuses.
        let spec = match spec.split_once(':') {
            Some((a, b)) if a == b => a.to_string(),
            _ => spec,
        };
        items.insert(rng.below(items.len() + 1), spec);
    }
    items.join(",")
}

fn iface(rng: &mut Rng, actual: Option<&str>) -> String {
    let names = ["eth0", "eth1", "eth+", "e+", "lo", "ppp0", "+"];
    match actual {
        Some(a) if rng.below(2) == 0 => a.to_string(),
        _ => names[rng.below(names.len())].to_string(),
    }
}

/// The hooks a chain of `table` is on, by name.
fn sees_in(chain: &str) -> bool {
    matches!(chain, "PREROUTING" | "INPUT" | "FORWARD")
}

fn sees_out(chain: &str) -> bool {
    matches!(chain, "FORWARD" | "OUTPUT" | "POSTROUTING")
}

/// Protocols by number, as `-p` takes them: the number, and the name.
const PROTO_NAMES: [(u8, &str, &str); 9] = [
    (6, "6", "tcp"),
    (17, "17", "udp"),
    (58, "58", "ipv6-icmp"),
    (132, "132", "sctp"),
    (136, "136", "udplite"),
    (33, "33", "dccp"),
    (50, "50", "esp"),
    (47, "47", "gre"),
    (1, "1", "icmp"),
];

/// `proto` as a rule may write it: by number one time in three, else by name (ICMPv6's two names alike).
fn proto_name(rng: &mut Rng, proto: u8) -> &'static str {
    let (_, number, name) = PROTO_NAMES.iter().find(|(p, _, _)| *p == proto).unwrap_or(&PROTO_NAMES[8]);
    match rng.below(3) {
        0 => number,
        1 if proto == 58 => "icmpv6",
        _ => name,
    }
}

/// A condition of a rule.
enum Cond {
    /// Anything but the protocol.
    Plain(String),
    /// `-p X` alone (the rule keeps one).
    Proto(String),
    /// A match for the rule's protocol (`-m tcp --dport 22`): the rule gets `-p` for it.
    OfProto(String),
}

/// One condition (`-s X`, `-m ttl --ttl-gt 5`, ...) fit for `table chain`, for a rule about `proto`, or
/// `None` when the one drawn does not fit there.
fn condition(p: &Pkt, proto: u8, table: &str, chain: &str, rng: &mut Rng) -> Option<Cond> {
    if rng.below(10) == 0 {
        return Some(Cond::Plain(set_condition(p, rng)));
    }
    if rng.below(16) == 0 {
        // The IP header's ECN field, and TCP's ECE and CWR flags (which need the rule to be about TCP).
        return Some(match rng.below(3) {
            0 if proto == 6 => Cond::OfProto(format!("-m ecn {}--ecn-tcp-ece", not(rng))),
            1 if proto == 6 => Cond::OfProto(format!("-m ecn {}--ecn-tcp-cwr", not(rng))),
            _ => Cond::Plain(format!("-m ecn {}--ecn-ip-ect {}", not(rng), rng.below(4))),
        });
    }
    if proto == p.proto && rng.below(3) == 0 {
        // The other protocols' own matches.
        match proto {
            132 | 33 => {
                let module = if proto == 132 { "sctp" } else { "dccp" };
                let (opt, actual) = if rng.below(2) == 0 { ("--sport", p.sport) } else { ("--dport", p.dport) };
                return Some(Cond::OfProto(format!("-m {module} {}{opt} {}", not(rng), port_spec(rng, actual))));
            }
            50 => {
                let spi = p.spi;
                let range = match rng.below(4) {
                    0 => format!("{spi}"),
                    1 => format!("{}:{}", spi - rng.below(3) as u32, spi + rng.below(3) as u32),
                    2 => format!("{}:", spi + rng.below(2) as u32),
                    _ => format!("{}", [0x100, 0x1ff, 0x2ff][rng.below(3)]),
                };
                return Some(Cond::OfProto(format!("-m esp {}--espspi {range}", not(rng))));
            }
            _ => {}
        }
    }
    let kind = rng.below(if p.v6 { 33 } else { 31 });
    // The handshake before an established packet goes through the rules too, and would count, as would
    // the neighbour discovery an IPv6 lab does before the packet.
    if (p.established || p.v6) && matches!(kind, 23 | 24 | 29 | 30) {
        return None;
    }
    let c = match kind {
        0 => format!("{}-s {}", not(rng), addr(rng, p.src)),
        1 => format!("{}-d {}", not(rng), addr(rng, p.dst)),
        2 if sees_in(chain) => {
            let actual = if p.dir == Dir::Local { Some("lo") } else { p.in_if };
            format!("{}-i {}", not(rng), iface(rng, actual))
        }
        3 if sees_out(chain) => format!("{}-o {}", not(rng), iface(rng, p.out_if)),
        4 => {
            // (Not `-p all` in IPv6: ip6tables flags any `-p` in the rule, so the kernel's TRACE calls an
            // unconditional verdict with it `rule`, where chainwalk, which keeps no `-p all`, says `return`
            // or `policy`; ip6tables-save drops it too.)
            let icmp = if p.v6 { "ipv6-icmp" } else { "icmp" };
            let all = if p.v6 { "6" } else { "all" };
            let name = ["tcp", "udp", icmp, all, "6", "17", "gre", proto_name(rng, p.proto)][rng.below(8)];
            // `! -p all` matches nothing, and iptables refuses it.
            let not = if name == "all" { "" } else { not(rng) };
            return Some(Cond::Proto(format!("{not}-p {name}")));
        }
        5 if proto == 6 => {
            let opt = match rng.below(6) {
                0 => format!("{}--sport {}", not(rng), port_spec(rng, p.sport)),
                1 | 2 => format!("{}--dport {}", not(rng), port_spec(rng, p.dport)),
                3 => format!("{}--syn", not(rng)),
                // The established packet's options are the sender's kernel's, not known here.
                // (Nor those of a packet that does not say: the recorder fills the room LEN leaves.)
                4 if p.established || p.opts.is_none() => return None,
                4 => format!("{}--tcp-option {}", not(rng), [2, 1, 3, 4, 8, 5][rng.below(6)]),
                _ => {
                    // (iptables-nft leaves a test of no flags, NONE, out of the rule altogether.)
                    let mask =
                        ["SYN,RST,ACK,FIN", "SYN,ACK", "ALL", "FIN,SYN", "RST", "NONE", "URG", "ACK,FIN"][rng.below(8)];
                    let comp = ["SYN", "ACK", "NONE", "FIN,ACK", "SYN,ACK", "RST", "FIN,PSH,URG"][rng.below(7)];
                    format!("{}--tcp-flags {mask} {comp}", not(rng))
                }
            };
            return Some(Cond::OfProto(format!("-m tcp {opt}")));
        }
        6 if proto == 17 => {
            let opt = if rng.below(2) == 0 {
                format!("{}--sport {}", not(rng), port_spec(rng, p.sport))
            } else {
                format!("{}--dport {}", not(rng), port_spec(rng, p.dport))
            };
            return Some(Cond::OfProto(format!("-m udp {opt}")));
        }
        7 if proto == 58 => {
            let t = [
                "128",
                "128/0",
                "echo-request",
                "129",
                "echo-reply",
                "1",
                "1/4",
                "destination-unreachable",
                "139",
                "135",
            ][rng.below(10)];
            return Some(Cond::OfProto(format!("-m icmp6 {}--icmpv6-type {t}", not(rng))));
        }
        7 if proto == 1 => {
            let t = ["8", "8/0", "echo-request", "0", "echo-reply", "any", "13", "timestamp-request", "3", "9", "17"]
                [rng.below(11)];
            return Some(Cond::OfProto(format!("-m icmp {}--icmp-type {t}", not(rng))));
        }
        8 if matches!(proto, 6 | 17 | 132 | 136 | 33) => {
            let which = ["--dports", "--sports", "--ports", "--destination-ports"][rng.below(4)];
            let actual = if which == "--sports" { p.sport } else { p.dport };
            return Some(Cond::OfProto(format!("-m multiport {}{which} {}", not(rng), port_list(rng, actual))));
        }
        9 => {
            let (opt, a) = if rng.below(2) == 0 { ("--src-range", p.src) } else { ("--dst-range", p.dst) };
            let lo = offset(a, -(rng.below(3) as i64));
            let hi = offset(a, rng.below(3) as i64 - rng.below(2) as i64 * 2).max(lo);
            format!("-m iprange {}{opt} {lo}-{hi}", not(rng))
        }
        10 => {
            let l = p.len;
            let spec = match rng.below(4) {
                0 => format!("{l}"),
                1 => format!("{}:{}", l.saturating_sub(10), l + 10),
                2 => format!("{}:", l + rng.below(2) as u16),
                _ => format!(":{}", l.saturating_sub(rng.below(2) as u16)),
            };
            format!("-m length {}--length {spec}", not(rng))
        }
        11 => {
            let v = [p.ttl, p.ttl.saturating_sub(1), p.ttl.saturating_add(1), 64, 1][rng.below(5)];
            if p.v6 {
                return Some(Cond::Plain(match rng.below(3) {
                    0 => format!("-m hl {}--hl-eq {v}", not(rng)),
                    1 => format!("-m hl --hl-lt {v}"),
                    _ => format!("-m hl --hl-gt {v}"),
                }));
            }
            match rng.below(3) {
                0 => format!("-m ttl {}--ttl-eq {v}", not(rng)),
                1 => format!("-m ttl --ttl-lt {v}"),
                _ => format!("-m ttl --ttl-gt {v}"),
            }
        }
        12 => {
            let v = [p.tos, 0x10, 0x08, 0x00][rng.below(4)];
            let mask = ["", "/0x3f", "/0xff", "/0x1c"][rng.below(4)];
            format!("-m tos {}--tos 0x{v:02x}{mask}", not(rng))
        }
        13 => match rng.below(3) {
            0 => format!("-m dscp {}--dscp 0x{:02x}", not(rng), [p.tos >> 2, 0x2e, 0, 0x0a][rng.below(4)]),
            _ => {
                format!("-m dscp {}--dscp-class {}", not(rng), ["EF", "AF41", "CS0", "BE", "CS1", "AF12"][rng.below(6)])
            }
        },
        14 => {
            // (IPv6 has no BROADCAST or BLACKHOLE type; iptables refuses them there.)
            let types: &[&str] = if p.v6 {
                &["LOCAL", "UNICAST", "MULTICAST", "UNREACHABLE", "UNSPEC", "ANYCAST", "LOCAL"]
            } else {
                &["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "UNREACHABLE", "BLACKHOLE", "UNSPEC"]
            };
            let mut s =
                format!("-m addrtype {}--{}-type {}", not(rng), ["src", "dst"][rng.below(2)], types[rng.below(7)]);
            match rng.below(4) {
                0 if sees_in(chain) => s += " --limit-iface-in",
                1 if matches!(chain, "OUTPUT" | "POSTROUTING" | "FORWARD") => s += " --limit-iface-out",
                _ => {}
            }
            s
        }
        15 => format!("-m pkttype {}--pkt-type {}", not(rng), ["unicast", "broadcast", "multicast"][rng.below(3)]),
        16 | 17 => {
            let states = [
                "NEW",
                "ESTABLISHED",
                "INVALID",
                "UNTRACKED",
                "RELATED",
                "NEW,ESTABLISHED",
                "RELATED,ESTABLISHED",
                "DNAT",
                "SNAT",
            ];
            match rng.below(8) {
                0 => format!("-m conntrack {}--ctproto {}", not(rng), ["tcp", "udp", "icmp", "6"][rng.below(4)]),
                1 => format!("-m conntrack {}--ctorigsrc {}", not(rng), addr(rng, p.src)),
                2 => format!("-m conntrack {}--ctorigdst {}", not(rng), addr(rng, p.dst)),
                3 if p.proto != 1 => format!("-m conntrack {}--ctorigdstport {}", not(rng), port_spec(rng, p.dport)),
                4 => format!("-m conntrack --ctdir {}", ["ORIGINAL", "REPLY"][rng.below(2)]),
                5 => format!(
                    "-m conntrack {}--ctstatus {}",
                    not(rng),
                    ["NONE", "ASSURED", "SEEN_REPLY", "CONFIRMED", "EXPECTED"][rng.below(5)]
                ),
                _ => format!("-m conntrack {}--ctstate {}", not(rng), states[rng.below(states.len())]),
            }
        }
        18 => {
            let states = ["NEW", "ESTABLISHED", "INVALID", "UNTRACKED", "RELATED,ESTABLISHED", "NEW,INVALID"];
            format!("-m state {}--state {}", not(rng), states[rng.below(states.len())])
        }
        19 => format!(
            "-m mark {}--mark 0x{:x}{}",
            not(rng),
            [0, 1, 2, 4][rng.below(4)],
            ["", "/0xff", "/0x1"][rng.below(3)]
        ),
        20 => {
            format!("-m connmark {}--mark 0x{:x}{}", not(rng), [0, 1, 2, 4][rng.below(4)], ["", "/0xff"][rng.below(2)])
        }
        21 if !p.v6 => {
            let e = match rng.below(5) {
                0 => format!("6&0xFF={}", [p.proto, 6, 17][rng.below(3)]),
                1 => format!("0&0xFFFF={}", [p.len, 60, 84][rng.below(3)]),
                2 if matches!(p.proto, 6 | 17 | 132 | 136 | 33) => {
                    format!("0>>22&0x3C@0&0xFFFF={}", [p.dport, 22, 80][rng.below(3)])
                }
                3 => format!("8&0xFF000000=0x{:x}000000", [p.ttl, 64][rng.below(2)]),
                _ => format!(
                    "12=0x{:x}",
                    u32::from(match p.src {
                        IpAddr::V4(a) if rng.below(2) == 0 => a,
                        _ => WAN,
                    })
                ),
            };
            format!("-m u32 {}--u32 \"{e}\"", not(rng))
        }
        22 if rng.below(2) == 0 => format!("-m helper {}--helper ftp", not(rng)),
        22 => format!("-m comment --comment \"case {}\"", rng.below(100)),
        23 => format!("-m limit --limit {}/sec --limit-burst {}", 1 + rng.below(5), 1 + rng.below(5)),
        24 => {
            let every = 1 + rng.below(3);
            format!("-m statistic --mode nth --every {every} --packet {}", rng.below(every))
        }
        25 if matches!(chain, "PREROUTING" | "INPUT" | "FORWARD") => {
            format!("-m policy --dir in --pol {}", ["none", "ipsec"][rng.below(2)])
        }
        26 if matches!(chain, "OUTPUT" | "POSTROUTING" | "FORWARD") => {
            format!("-m policy --dir out --pol {}", ["none", "ipsec"][rng.below(2)])
        }
        27 if matches!(chain, "OUTPUT" | "POSTROUTING") && matches!(p.dir, Dir::Output | Dir::Local) => {
            match rng.below(3) {
                0 => format!("-m owner {}--uid-owner {}", not(rng), [0, 1000][rng.below(2)]),
                1 => format!("-m owner {}--gid-owner {}", not(rng), [0, 100][rng.below(2)]),
                _ => format!("-m owner {}--socket-exists", not(rng)),
            }
        }
        28 if chain == "PREROUTING" && (table == "raw" || table == "mangle") => {
            let flags = ["", " --loose", " --invert", " --accept-local", " --validmark"][rng.below(5)];
            format!("-m rpfilter{flags}")
        }
        29 => match rng.below(3) {
            0 => format!("-m hashlimit --hashlimit-upto 5/sec --hashlimit-name cw{}", rng.next() % 1_000_000),
            1 => format!(
                "-m hashlimit --hashlimit-above 5/sec --hashlimit-mode srcip --hashlimit-name cw{}",
                rng.next() % 1_000_000
            ),
            _ => {
                // A few lists, so that rules of one walk meet what earlier ones put in them.
                let command = ["rcheck", "set", "update", "remove"][rng.below(4)];
                let mut m = format!("-m recent {}--{command}", not(rng));
                if matches!(command, "rcheck" | "update") {
                    if rng.below(2) == 0 {
                        m += " --seconds 60";
                    }
                    if rng.below(2) == 0 {
                        m += &format!(" --hitcount {}", 1 + rng.below(3));
                    }
                    if rng.below(3) == 0 {
                        m += " --rttl";
                    }
                }
                m += &format!(" --name cw{}", rng.below(3));
                if rng.below(4) == 0 {
                    m += " --rdest";
                }
                m
            }
        },
        30 => match rng.below(4) {
            0 => format!(
                "-m connbytes --connbytes {} --connbytes-dir {} --connbytes-mode {}",
                ["0:1", "1:", "2:", "0:100"][rng.below(4)],
                ["original", "both", "reply"][rng.below(3)],
                ["packets", "bytes", "avgpkt"][rng.below(3)]
            ),
            1 if proto == 6 && p.opts.is_some() => {
                return Some(Cond::OfProto(format!(
                    "-m tcpmss --mss {}",
                    ["1460", "1000:1500", "536", "1:500", "1500"][rng.below(5)]
                )))
            }
            2 | 1 => format!("-m connlimit --connlimit-{} {}", ["above", "upto"][rng.below(2)], rng.below(2)),
            _ => format!("-m quota --quota {}", [10, 100000][rng.below(2)]),
        },
        31 => {
            let h = ["hop", "dst", "route", "frag", "auth", "none", "prot", "hop-by-hop"][rng.below(8)];
            format!("-m ipv6header {}--header {h}{}", not(rng), ["", " --soft"][rng.below(2)])
        }
        32 => match rng.below(4) {
            0 => format!("-m frag --fragid {}", rng.below(5)),
            1 => format!("-m rt --rt-type {}", rng.below(3)),
            2 => "-m hbh".to_string(),
            _ => "-m frag --fragmore".to_string(),
        },
        _ => return None,
    };
    Some(Cond::Plain(c))
}

/// The ipsets of every case's host: name and number of dimensions.
const SETS: &[(&str, usize)] = &[
    ("cwip", 1),
    ("cwnet", 1),
    ("cwipport", 2),
    ("cwnetport", 2),
    ("cwnetiface", 2),
    ("cwport", 1),
    ("cwipportnet", 3),
    ("cwlist", 1),
];

/// `src`/`dst` flags for a set of `dims` dimensions: now and then one too few or one more.
fn set_flags(dims: usize, rng: &mut Rng) -> String {
    let n = match rng.below(8) {
        0 if dims > 1 => dims - 1,
        1 => dims + 1,
        _ => dims,
    };
    (0..n).map(|_| ["src", "dst"][rng.below(2)]).collect::<Vec<_>>().join(",")
}

/// A `-m set` condition on one of [`SETS`], with `--return-nomatch` and counter tests now and then
/// (counters not where a handshake or neighbour discovery before the packet would count too).
fn set_condition(p: &Pkt, rng: &mut Rng) -> String {
    let (name, dims) = SETS[rng.below(SETS.len())];
    let mut c = format!("-m set {}--match-set {name} {}", not(rng), set_flags(dims, rng));
    if rng.below(4) == 0 {
        c.push_str(" --return-nomatch");
    }
    if !p.established && !p.v6 && rng.below(3) == 0 {
        c.push_str(match rng.below(6) {
            0 => " --packets-gt 0",
            1 => " --packets-eq 1",
            2 => " ! --packets-eq 1",
            3 => " --packets-lt 2",
            4 => " --bytes-gt 100",
            _ => " ! --update-counters --packets-eq 0",
        });
    }
    c
}

/// The host's ipsets for packet `p` (`ipset save` lines): each element drawn half the time from the
/// packet's own values, networks of random prefixes, a `nomatch` element now and then, counters on
/// some sets.
pub fn sets(p: &Pkt, rng: &mut Rng) -> String {
    let family = if p.v6 { "inet6" } else { "inet" };
    let mut out = String::new();
    let pick = |rng: &mut Rng| -> IpAddr {
        if rng.below(2) == 0 {
            p.src
        } else {
            p.dst
        }
    };
    let net = |rng: &mut Rng| -> String {
        let actual = pick(rng);
        addr(rng, actual)
    };
    // An address of the packet's or another one of the same family.
    let plain = |rng: &mut Rng| -> String {
        if rng.below(2) == 0 {
            return pick(rng).to_string();
        }
        let others: [IpAddr; 3] = if p.v6 {
            [WAN6.into(), LAN6.into(), Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 9).into()]
        } else {
            [WAN.into(), LAN.into(), Ipv4Addr::new(203, 0, 113, 9).into()]
        };
        others[rng.below(3)].to_string()
    };
    let port = |rng: &mut Rng| -> String {
        let icmp = if p.v6 { 58 } else { 1 };
        let proto = if rng.below(4) == 0 { [6, 17, icmp][rng.below(3)] } else { p.proto };
        match proto {
            1 | 58 => {
                let (t, c) = if rng.below(2) == 0 {
                    p.icmp
                } else if p.v6 {
                    [(128, 0), (129, 0), (1, 4)][rng.below(3)]
                } else {
                    [(8, 0), (0, 0), (3, 3)][rng.below(3)]
                };
                format!("{}:{t}/{c}", if p.v6 { "ipv6-icmp" } else { "icmp" })
            }
            _ => {
                let port = [p.sport, p.dport, 22, 80][rng.below(4)];
                let name = match proto {
                    6 => "tcp",
                    132 => "sctp",
                    136 => "udplite",
                    _ => "udp",
                };
                format!("{name}:{port}")
            }
        }
    };
    let counters = |rng: &mut Rng| if rng.below(2) == 0 { " counters" } else { "" };
    let count = |rng: &mut Rng, with: &str| {
        if with.is_empty() {
            String::new()
        } else {
            format!(" packets {} bytes {}", rng.below(3), rng.below(3) * 60)
        }
    };
    let nomatch = |rng: &mut Rng| if rng.below(4) == 0 { " nomatch" } else { "" };
    let set = |out: &mut String, rng: &mut Rng, name: &str, kind: &str, extra: &str, elements: Vec<String>| {
        let c = counters(rng);
        out.push_str(&format!("create {name} {kind} family {family} hashsize 1024 maxelem 65536{extra}{c}\n"));
        let mut seen = std::collections::HashSet::new();
        for e in elements {
            let (element, flag) = e.split_once(' ').map_or((e.as_str(), ""), |(a, b)| (a, b));
            if seen.insert(element.to_string()) {
                let counted = count(rng, c);
                out.push_str(&format!(
                    "add {name} {element}{counted}{}\n",
                    if flag.is_empty() { String::new() } else { format!(" {flag}") }
                ));
            }
        }
    };
    let n = 1 + rng.below(3);
    let elements = (0..n).map(|_| plain(rng)).collect();
    // (Not `::1` cut to `::`, which ipset refuses as a null element.)
    let loopback = p.src.is_loopback() || p.dst.is_loopback();
    let netmask = match (rng.below(4), p.v6) {
        (0, false) => " netmask 24",
        (0, true) if !loopback => " netmask 64",
        _ => "",
    };
    set(&mut out, rng, "cwip", "hash:ip", netmask, elements);
    let elements = (0..1 + rng.below(3)).map(|_| format!("{}{}", net(rng), nomatch(rng))).collect();
    set(&mut out, rng, "cwnet", "hash:net", "", elements);
    let elements = (0..1 + rng.below(3)).map(|_| format!("{},{}", plain(rng), port(rng))).collect();
    set(&mut out, rng, "cwipport", "hash:ip,port", "", elements);
    let elements = (0..1 + rng.below(3)).map(|_| format!("{},{}{}", net(rng), port(rng), nomatch(rng))).collect();
    set(&mut out, rng, "cwnetport", "hash:net,port", "", elements);
    let elements = (0..1 + rng.below(3))
        .map(|_| format!("{},{}{}", net(rng), ["eth0", "eth1", "lo", "eth+"][rng.below(4)], nomatch(rng)))
        .collect();
    set(&mut out, rng, "cwnetiface", "hash:net,iface", "", elements);
    let elements =
        (0..1 + rng.below(3)).map(|_| format!("{},{},{}{}", plain(rng), port(rng), net(rng), nomatch(rng))).collect();
    set(&mut out, rng, "cwipportnet", "hash:ip,port,net", "", elements);
    out.push_str("create cwport bitmap:port range 0-65535\n");
    let mut ports: Vec<u16> = (0..1 + rng.below(2)).map(|_| [p.sport, p.dport, 53, 2048][rng.below(4)]).collect();
    ports.sort_unstable();
    ports.dedup();
    for port in ports {
        out.push_str(&format!("add cwport {port}\n"));
    }
    out.push_str("create cwlist list:set size 8\n");
    let mut members = ["cwip", "cwnet", "cwipport"];
    if rng.below(2) == 0 {
        members.reverse();
    }
    for m in &members[..1 + rng.below(3)] {
        out.push_str(&format!("add cwlist {m}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_dumps_read_without_errors() {
        for seed in 0..300 {
            let mut rng = Rng::new(seed);
            let p = Pkt::make(&mut rng, seed % 3 == 0, seed % 7 == 3);
            let _ = p.text(&mut rng);
            let d = dump(&p, &mut rng);
            let parsed = chainwalk_core::parse(&d, None);
            assert!(!parsed.has_errors(), "{d}\n{:?}", parsed.errors().next());
            let h = random_host(&p, &mut rng);
            chainwalk_core::host::parse(&h).unwrap_or_else(|e| panic!("{h}\n{e:?}"));
        }
    }
}
