//! A host and packets made up from a dump: the interfaces its rules name, on test subnets, with one uplink
//! that has the default route, and packets aimed at its rules (their protocols, ports, addresses and
//! interfaces) in each direction. Only the documentation ranges (RFC 5737, RFC 3849) are made up here; the
//! dump's own addresses are used as it gives them.
//!
//! The dump is read as words, not parsed: this only looks for hints (`-i eth0`, `--dport 22`), and a hint
//! that does not fit (a wildcard interface, a range, a negation) is made concrete or left out.

use chainwalk_core::host::{Host, RouteDecision};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The uplink the made-up host always has: its default route goes out there.
pub const UPLINK: &str = "up0";

/// The most interfaces of a dump the host gets (beside the uplink): one /28 each from two /24s.
const MAX_IFACES: usize = 31;

/// The most addresses of the dump's INPUT rules the host takes as its own.
const MAX_LOCAL: usize = 8;

/// The most routes to the dump's own networks the host gets.
const MAX_ROUTES: usize = 32;

/// What one rule of the dump says about the packets it is for.
#[derive(Clone, Debug, Default)]
pub struct RuleHint {
    /// `-p`, as a protocol number (`None`: any).
    pub proto: Option<u8>,
    /// `-p` when it names another protocol than TCP, UDP and ICMP (ESP, AH, GRE, SCTP, UDP-Lite, DCCP).
    pub other: Option<u8>,
    /// Destination ports (`--dport`, `--dports`; the first port of a range).
    pub dports: Vec<u16>,
    /// Source ports.
    pub sports: Vec<u16>,
    /// `-i`, made concrete.
    pub in_if: Option<String>,
    /// `-o`, made concrete.
    pub out_if: Option<String>,
    /// `-s`, a network.
    pub src: Option<(IpAddr, u8)>,
    /// `-d`, a network.
    pub dst: Option<(IpAddr, u8)>,
}

/// The hints of a whole dump.
#[derive(Debug)]
pub struct Hints {
    /// Whether it is an ip6tables dump.
    pub v6: bool,
    /// Every interface its rules name (`-i`, `-o`, `--physdev-in`, `--physdev-out`), made concrete.
    pub ifaces: Vec<String>,
    /// One per rule line.
    pub rules: Vec<RuleHint>,
    /// Single addresses the INPUT chain's rules are for (`-A INPUT ... -d ADDR`), with the interface the
    /// rule names: the host gets them as its own.
    pub local: Vec<(Option<String>, IpAddr)>,
}

/// An interface name as a concrete interface: a `+` wildcard becomes `0`; `None` for `lo`, names the kernel
/// would refuse, and names that a word split out of a quoted comment.
fn concrete_iface(word: &str) -> Option<String> {
    let name = match word.strip_suffix('+') {
        Some(stem) => format!("{stem}0"),
        None => word.to_string(),
    };
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "lo"
        && name != UPLINK
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    ok.then_some(name)
}

/// The protocols of [`Kind::Other`] packets, by the names `-p` gives them.
fn other_proto_number(word: &str) -> Option<u8> {
    match word.to_ascii_lowercase().as_str() {
        "esp" | "50" => Some(50),
        "ah" | "51" => Some(51),
        "gre" | "47" => Some(47),
        "sctp" | "132" => Some(132),
        "udplite" | "136" => Some(136),
        "dccp" | "33" => Some(33),
        _ => None,
    }
}

fn proto_number(word: &str) -> Option<u8> {
    match word.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Some(6),
        "udp" | "17" => Some(17),
        "icmp" | "1" => Some(1),
        "icmpv6" | "ipv6-icmp" | "58" => Some(58),
        _ => None,
    }
}

/// `22`, `1024:65535`, `22,80,443`, `ssh`: the ports a value names (the first of each range).
fn ports(value: &str) -> Vec<u16> {
    value.split(',').filter_map(|p| p.split(':').next().and_then(|p| p.parse().ok())).collect()
}

fn network(value: &str, v6: bool) -> Option<(IpAddr, u8)> {
    let (addr, len) = value.split_once('/').unwrap_or((value, if v6 { "128" } else { "32" }));
    let addr: IpAddr = addr.parse().ok()?;
    let len = match len.parse::<u8>() {
        Ok(l) => l,
        // A dotted mask (`255.255.255.0`).
        Err(_) => len.parse::<Ipv4Addr>().ok().map(|m| u32::from(m).count_ones() as u8)?,
    };
    (addr.is_ipv6() == v6 && len <= if v6 { 128 } else { 32 }).then_some((addr, len))
}

/// The words of a rule line, with quoted text (comments, log prefixes) left out.
fn words(line: &str) -> Vec<&str> {
    line.split('"').step_by(2).flat_map(str::split_whitespace).collect()
}

impl Hints {
    /// Reads the hints of `dump`, an `iptables-save` (or `ip6tables-save`) text.
    pub fn read(dump: &str, v6: bool) -> Hints {
        let mut ifaces: Vec<String> = Vec::new();
        let mut rules = Vec::new();
        let mut local = Vec::new();
        for line in dump.lines().filter(|l| l.starts_with("-A ") || l.starts_with("-I ")) {
            let w = words(line);
            let mut hint = RuleHint::default();
            for (i, pair) in w.windows(2).enumerate() {
                let negated = i > 0 && w[i - 1] == "!";
                let (opt, value) = (pair[0], pair[1]);
                match opt {
                    "-i" | "--in-interface" | "-o" | "--out-interface" | "--physdev-in" | "--physdev-out" => {
                        if let Some(name) = concrete_iface(value) {
                            if !ifaces.contains(&name) {
                                ifaces.push(name.clone());
                            }
                            if !negated && matches!(opt, "-i" | "--in-interface") {
                                hint.in_if = Some(name);
                            } else if !negated && matches!(opt, "-o" | "--out-interface") {
                                hint.out_if = Some(name);
                            }
                        }
                    }
                    _ if negated => {}
                    "-p" | "--protocol" => {
                        hint.proto = proto_number(value);
                        hint.other = other_proto_number(value);
                    }
                    "--dport" | "--dports" | "--destination-port" | "--destination-ports" => {
                        hint.dports.extend(ports(value))
                    }
                    "--sport" | "--sports" | "--source-port" | "--source-ports" => hint.sports.extend(ports(value)),
                    "-s" | "--source" => hint.src = network(value, v6),
                    "-d" | "--destination" => hint.dst = network(value, v6),
                    _ => {}
                }
            }
            let single = hint.dst.filter(|d| d.1 == if v6 { 128 } else { 32 } && usable(d.0)).map(|d| d.0);
            if let Some(a) = single.filter(|_| line.starts_with("-A INPUT ")) {
                if local.len() < MAX_LOCAL && !local.iter().any(|(_, l)| *l == a) {
                    local.push((hint.in_if.clone(), a));
                }
            }
            rules.push(hint);
        }
        ifaces.truncate(MAX_IFACES);
        local.retain(|(i, _)| i.as_ref().is_none_or(|i| ifaces.contains(i)));
        Hints { v6, ifaces, rules, local }
    }
}

/// The test subnet of the `n`th interface (the uplink is 0): a /28 of 192.0.2.0/24 or 198.51.100.0/24, or
/// `2001:db8:N::/64`; the host has its first address.
fn subnet(v6: bool, n: usize) -> (IpAddr, u8) {
    if v6 {
        (IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, n as u16 + 1, 0, 0, 0, 0, 0)), 64)
    } else {
        let base = if n < 16 { Ipv4Addr::new(192, 0, 2, 0) } else { Ipv4Addr::new(198, 51, 100, 0) };
        (IpAddr::V4(Ipv4Addr::from(u32::from(base) + 16 * (n as u32 % 16))), 28)
    }
}

/// The `k`th address of a subnet (1: the host's own).
fn nth(net: (IpAddr, u8), k: u32) -> IpAddr {
    match net.0 {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) + k)),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) + u128::from(k))),
    }
}

/// An address beyond the uplink: in 203.0.113.0/24, or in `2001:db8:ffff::/48`.
fn remote(v6: bool, k: u32) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1 + (k % 200) as u16))
    } else {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1 + (k % 200) as u8))
    }
}

/// Whether `a` is an address a packet can really come from or go to across a link: not loopback,
/// multicast, broadcast, unspecified or link-local, and not in a documentation range this module hands out.
fn usable(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            !(v.is_loopback()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_unspecified()
                || v.is_link_local()
                || o[0] == 0
                || o[0] >= 240
                || o[3] == 0
                || o[3] == 255
                || (o[0], o[1], o[2]) == (192, 0, 2)
                || (o[0], o[1], o[2]) == (198, 51, 100)
                || (o[0], o[1], o[2]) == (203, 0, 113))
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            !(v.is_loopback()
                || v.is_multicast()
                || v.is_unspecified()
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0], s[1]) == (0x2001, 0xdb8)
                || s[..6] == [0, 0, 0, 0, 0, 0xffff]
                || s[..6] == [0; 6])
        }
    }
}

/// The made-up host for a dump.
pub struct MadeHost {
    /// In chainwalk's host format (what the recorder builds, too).
    pub text: String,
    /// The same, read.
    pub host: Host,
    /// Interface names with their subnet, the uplink first.
    pub links: Vec<(String, (IpAddr, u8))>,
}

/// Builds the host: every interface of the hints on its own test subnet, the uplink with the default route,
/// and a route out of an interface to each network a rule ties to it (`-o IF -d NET`, `-i IF -s NET`).
pub fn make_host(h: &Hints) -> MadeHost {
    let links: Vec<(String, (IpAddr, u8))> = std::iter::once(UPLINK.to_string())
        .chain(h.ifaces.iter().cloned())
        .enumerate()
        .map(|(n, name)| (name, subnet(h.v6, n)))
        .collect();
    let mut text = String::from("# ip -br addr\nlo               UNKNOWN        127.0.0.1/8 ::1/128\n");
    let single = if h.v6 { 128 } else { 32 };
    for (name, net) in &links {
        let own = h.local.iter().filter(|(i, _)| i.as_deref().unwrap_or(UPLINK) == name);
        let extra: String = own.map(|(_, a)| format!(" {a}/{single}")).collect();
        text += &format!("{name:<16} UP             {}/{}{extra}\n", nth(*net, 1), net.1);
    }
    text += if h.v6 { "# ip -6 route\n" } else { "# ip route\n" };
    text += &format!("default via {} dev {UPLINK}\n", nth(links[0].1, 2));
    let mut routed: Vec<(IpAddr, u8)> = Vec::new();
    for r in &h.rules {
        let tied = [(r.out_if.as_ref(), r.dst), (r.in_if.as_ref(), r.src)];
        for (iface, net) in tied {
            let (Some(iface), Some(net)) = (iface, net) else { continue };
            let min = if h.v6 { 16 } else { 8 };
            let exact = nth((net.0, net.1), 0);
            let overlaps = routed.iter().any(|n| {
                chainwalk_core::host::prefix_contains(n.0, n.1, net.0)
                    || chainwalk_core::host::prefix_contains(net.0, net.1, n.0)
            });
            if routed.len() < MAX_ROUTES
                && net.1 >= min
                && usable(exact)
                && !overlaps
                && links.iter().any(|l| &l.0 == iface)
            {
                text += &format!("{}/{} dev {iface} scope link\n", net.0, net.1);
                routed.push(net);
            }
        }
    }
    text += "# sysctl\n";
    text += if h.v6 { "net.ipv6.conf.all.forwarding = 1\n" } else { "net.ipv4.ip_forward = 1\n" };
    let host =
        chainwalk_core::host::parse(&text).unwrap_or_else(|e| panic!("made-up host does not read: {e:?}\n{text}"));
    MadeHost { text, host, links }
}

/// The ipsets the dump's rules name (`--match-set`, `--add-set`, `--del-set`, the old `--set`), as `ipset
/// save` lines for the made-up host: `hash:net` holding some of the host's subnets and the remote range, chosen
/// by the set's name (`hash:net,port` with those and the dump's ports when every rule that names it gives two
/// directions, `hash:ip,port,net`, empty, for three);
/// Docker's bridges set (`docker-ext-bridges-v4`, `-v6`) holds the subnets of its bridges, as Docker fills it.
pub fn make_sets(rules: &str, hints: &Hints, host: &MadeHost) -> String {
    let v6 = hints.v6;
    let mut sets: Vec<(String, usize)> = Vec::new();
    for line in rules.lines().filter(|l| l.starts_with("-A ") || l.starts_with("-I ")) {
        let w = words(line);
        for (k, word) in w.iter().enumerate() {
            if !matches!(*word, "--match-set" | "--add-set" | "--del-set" | "--set") {
                continue;
            }
            let (Some(name), Some(flags)) = (w.get(k + 1), w.get(k + 2)) else { continue };
            if name.starts_with('-') || flags.starts_with('-') {
                continue;
            }
            let dims = flags.split(',').count();
            match sets.iter_mut().find(|(n, _)| n == name) {
                Some((_, d)) => *d = (*d).min(dims),
                None => sets.push((name.to_string(), dims)),
            }
        }
    }
    let family = if v6 { "inet6" } else { "inet" };
    let far = if v6 { "2001:db8:ffff::/48" } else { "203.0.113.0/24" };
    let mut out = String::new();
    for (name, dims) in &sets {
        let h = name.bytes().fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        let docker = name.starts_with("docker-ext-bridges");
        let nets: Vec<String> = host
            .links
            .iter()
            .enumerate()
            .filter(
                |(i, (iface, _))| {
                    if docker {
                        iface == "docker0" || iface.starts_with("br-")
                    } else {
                        (h + i) % 3 != 0
                    }
                },
            )
            .map(|(_, (_, net))| format!("{}/{}", net.0, net.1))
            .chain((!docker && h % 2 == 0).then(|| far.to_string()))
            .collect();
        // (This kernel has no hash:net,net; hash:ip,port,net is left empty.)
        let (kind, elements): (&str, Vec<String>) = match *dims {
            _ if docker => ("hash:net", nets),
            1 => ("hash:net", nets),
            2 => {
                let mut ports: Vec<u16> = hints.rules.iter().flat_map(|r| r.dports.iter().copied()).take(4).collect();
                ports.extend([22, 53]);
                let pairs = nets
                    .iter()
                    .enumerate()
                    .flat_map(|(i, n)| ports.iter().map(move |p| format!("{n},{}:{p}", ["tcp", "udp"][i % 2])))
                    .collect();
                ("hash:net,port", pairs)
            }
            _ => ("hash:ip,port,net", Vec::new()),
        };
        out += &format!("create {name} {kind} family {family} hashsize 1024 maxelem 65536\n");
        let mut seen = std::collections::HashSet::new();
        for e in elements.into_iter().filter(|e| seen.insert(e.clone())) {
            out += &format!("add {name} {e}\n");
        }
    }
    out
}

/// A small deterministic random number generator (splitmix64), so that a seed gives the same packets.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// Where a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From a neighbour to the host.
    Input,
    /// From one neighbour through the host to another.
    Forward,
    /// From the host out.
    Output,
}

/// What kind of packet it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A TCP connection's first segment.
    Syn,
    /// A segment of an established TCP connection (the recorder opens it first).
    Established,
    /// A UDP datagram.
    Udp,
    /// An ICMP or ICMPv6 echo request.
    Echo,
    /// A packet of another protocol (by number: SCTP, UDP-Lite or DCCP with ports, ESP or AH with an SPI,
    /// GRE or any other), the first of its connection.
    Other(u8),
}

impl Hints {
    /// The other protocols (see [`Kind::Other`]) the dump's rules name, each once.
    pub fn other_protocols(&self) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for p in self.rules.iter().filter_map(|r| r.other) {
            // (IPv6's AH is an extension header, which chainwalk's packets do not have.)
            let ah6 = self.v6 && p == 51;
            if !ah6 && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// The `j`th combination of direction and kind: every one of the twelve in twelve steps.
pub fn combination(j: usize) -> (Direction, Kind) {
    let dir = [Direction::Input, Direction::Forward, Direction::Output][j % 3];
    let kind = [Kind::Syn, Kind::Established, Kind::Udp, Kind::Echo][j % 4];
    (dir, kind)
}

/// A host address in a dump's network (not its network address), if it is one a packet can use.
fn address_in(net: (IpAddr, u8), rng: &mut Rng) -> Option<IpAddr> {
    let bits = if net.0.is_ipv4() { 32 } else { 128 };
    let room = u32::from(bits - net.1).min(8);
    let k = if room == 0 { 0 } else { 1 + (rng.next() as u32 % ((1u32 << room) - 1).max(1)) };
    let a = if room == 0 { net.0 } else { nth((nth(net, 0), net.1), k) };
    // The network address itself, masked (the dump may give `10.1.2.3/8`).
    let a = match (a, net.0) {
        (IpAddr::V4(_), IpAddr::V4(n)) if room > 0 => {
            let mask = u32::MAX.checked_shl(u32::from(32 - net.1)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from((u32::from(n) & mask) + k))
        }
        (IpAddr::V6(_), IpAddr::V6(n)) if room > 0 => {
            let mask = u128::MAX.checked_shl(u32::from(128 - net.1)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from((u128::from(n) & mask) + u128::from(k)))
        }
        _ => a,
    };
    usable(a).then_some(a)
}

/// Makes one packet of `kind` going `dir`, aimed at a rule of the dump; `None` when the dump and host give
/// nothing that fits (the caller moves on).
pub fn make_packet(h: &Hints, host: &MadeHost, dir: Direction, kind: Kind, rng: &mut Rng) -> Option<String> {
    let want = match kind {
        Kind::Syn | Kind::Established => 6,
        Kind::Udp => 17,
        Kind::Echo => {
            if h.v6 {
                58
            } else {
                1
            }
        }
        // (IPv6's AH is an extension header, which chainwalk's packets do not have.)
        Kind::Other(51) if h.v6 => return None,
        Kind::Other(p) => p,
    };
    let other = matches!(kind, Kind::Other(_));
    let fitting: Vec<&RuleHint> =
        h.rules.iter().filter(|r| if other { r.other == Some(want) } else { r.proto == Some(want) }).collect();
    let any: Vec<&RuleHint> = h.rules.iter().collect();
    let fallback = RuleHint::default();
    let hint = rng.pick(&fitting).or_else(|| rng.pick(&any)).copied().unwrap_or(&fallback);
    let hint_proto_fits = if other {
        hint.other == Some(want) || (hint.proto.is_none() && hint.other.is_none())
    } else {
        hint.proto.is_none_or(|p| p == want)
    };
    let link_of = |name: &str| host.links.iter().find(|l| l.0 == name).map(|l| l.1);
    let random_link = |rng: &mut Rng| host.links[rng.below(host.links.len())].clone();
    let v6 = h.v6;
    // A neighbour's address on a link: the uplink's neighbours are the Internet.
    let neighbour = |name: &str, net: (IpAddr, u8), rng: &mut Rng| {
        if name == UPLINK {
            remote(v6, rng.next() as u32)
        } else {
            nth(net, 3 + (rng.next() % 10) as u32)
        }
    };
    // Where a packet from outside comes in, and from which address: the rule's source where the host routes
    // it back out of the rule's interface (or of any, when the rule names none), so that the host's answers
    // (a REJECT's error, a SYN-ACK) go back to the sender; else a neighbour behind the interface.
    let inbound = |rng: &mut Rng| -> (String, (IpAddr, u8), IpAddr) {
        let named = hint.in_if.as_deref().and_then(|i| link_of(i).map(|n| (i.to_string(), n)));
        let src = hint.src.and_then(|n| address_in(n, rng));
        let back = src.and_then(|s| match host.host.route(s) {
            RouteDecision::Forward { dev, .. } => link_of(&dev).map(|n| (dev, n)),
            _ => None,
        });
        match (named, back, src) {
            (Some(l), Some(b), Some(s)) if l.0 == b.0 => (l.0, l.1, s),
            (None, Some(b), Some(s)) => (b.0, b.1, s),
            (Some(l), _, _) => {
                let s = neighbour(&l.0, l.1, rng);
                (l.0, l.1, s)
            }
            (None, _, _) => {
                let l = random_link(rng);
                let s = neighbour(&l.0, l.1, rng);
                (l.0, l.1, s)
            }
        }
    };
    let (in_if, src, dst) = match dir {
        Direction::Input => {
            let (name, net, src) = inbound(rng);
            // Mostly an address of the interface it comes in on, sometimes another of the host's, or for a
            // datagram or echo request the subnet's broadcast.
            let own: Vec<IpAddr> = std::iter::once(nth(net, 1))
                .chain(h.local.iter().filter(|(i, _)| i.as_deref().unwrap_or(UPLINK) == name).map(|(_, a)| *a))
                .collect();
            let dst = match rng.below(8) {
                0 | 1 => nth(random_link(rng).1, 1),
                2 if !v6 && matches!(kind, Kind::Udp | Kind::Echo) => nth(net, 15),
                _ => own[rng.below(own.len())],
            };
            (Some(name), src, dst)
        }
        Direction::Forward => {
            let (name, _, src) = inbound(rng);
            let dst = match hint.dst.and_then(|n| address_in(n, rng)) {
                Some(d) => d,
                None => {
                    let out = hint
                        .out_if
                        .as_deref()
                        .and_then(|o| link_of(o).map(|n| (o.to_string(), n)))
                        .filter(|o| o.0 != name)
                        .unwrap_or_else(|| random_link(rng));
                    if out.0 == name {
                        // Not on the sender's own link: that the sender would reach without the host.
                        remote(v6, rng.next() as u32)
                    } else {
                        neighbour(&out.0, out.1, rng)
                    }
                }
            };
            (Some(name), src, dst)
        }
        Direction::Output => {
            let dst = hint.dst.and_then(|n| address_in(n, rng)).unwrap_or_else(|| {
                let (name, net) = hint
                    .out_if
                    .as_deref()
                    .and_then(|o| link_of(o).map(|n| (o.to_string(), n)))
                    .unwrap_or_else(|| random_link(rng));
                neighbour(&name, net, rng)
            });
            (None, IpAddr::V4(Ipv4Addr::UNSPECIFIED), dst)
        }
    };
    // Checks the packet against the host: a forwarded packet must really be routed on, and not to the
    // sender's own link; a sent one needs the address of the interface it leaves by.
    let (src, out_text) = match (dir, host.host.route(dst)) {
        (Direction::Input, RouteDecision::Local { .. }) => (src, String::new()),
        (Direction::Forward, RouteDecision::Forward { .. }) => {
            let on_link = in_if
                .as_deref()
                .and_then(link_of)
                .is_some_and(|n| chainwalk_core::host::prefix_contains(n.0, n.1, dst));
            if on_link || host.host.is_local(src) || src == dst {
                return None;
            }
            (src, String::new())
        }
        (Direction::Output, RouteDecision::Forward { dev, .. }) => {
            let net = link_of(&dev)?;
            (nth(net, 1), dev)
        }
        _ => return None,
    };
    if in_if.is_some() && host.host.is_local(src) {
        return None;
    }
    let pick_port = |list: &[u16], rng: &mut Rng, default: &[u16]| -> u16 {
        let list: Vec<u16> = list.iter().copied().filter(|p| *p != 0).collect();
        *rng.pick(&list).or_else(|| rng.pick(default)).unwrap_or(&80)
    };
    let (dports, sports) = if hint_proto_fits { (&hint.dports[..], &hint.sports[..]) } else { (&[][..], &[][..]) };
    let dport =
        pick_port(dports, rng, if want == 17 { &[53, 123, 500, 1194, 51820] } else { &[22, 25, 80, 443, 8080] });
    let sport = if sports.is_empty() { 40000 + (rng.next() % 20000) as u16 } else { pick_port(sports, rng, &[]) };
    let ip = if v6 { "TC=0 HOPLIMIT=64 FLOWLBL=0" } else { "TTL=64" };
    let head = format!("IN={} OUT={out_text} SRC={src} DST={dst}", in_if.as_deref().unwrap_or(""));
    let extra = if v6 { 20 } else { 0 };
    Some(match kind {
        Kind::Syn => format!("{head} LEN={} {ip} PROTO=TCP SPT={sport} DPT={dport} SYN", 60 + extra),
        // The segment a socket sends after the handshake: timestamps and one byte of data, DF (IPv4).
        Kind::Established => {
            let df = if v6 { "" } else { " DF" };
            format!("{head} LEN={} {ip}{df} PROTO=TCP SPT={sport} DPT={dport} ACK PSH CTSTATE=ESTABLISHED", 53 + extra)
        }
        Kind::Udp => format!("{head} LEN={} {ip} PROTO=UDP SPT={sport} DPT={dport}", 60 + extra),
        Kind::Echo if v6 => format!("{head} LEN=104 {ip} PROTO=ICMPv6 TYPE=128 CODE=0"),
        Kind::Echo => format!("{head} LEN=84 {ip} PROTO=ICMP TYPE=8 CODE=0"),
        Kind::Other(p) => {
            let len = 60 + extra;
            match p {
                132 => format!("{head} LEN={len} {ip} PROTO=SCTP SPT={sport} DPT={dport}"),
                136 => format!("{head} LEN={len} {ip} PROTO=UDPLITE SPT={sport} DPT={dport}"),
                33 => format!("{head} LEN={len} {ip} PROTO=DCCP SPT={sport} DPT={dport}"),
                50 => format!("{head} LEN={len} {ip} PROTO=ESP SPI=0x{:x}", 0x100 + rng.next() % 0x1000),
                51 => format!("{head} LEN={len} {ip} PROTO=AH SPI=0x{:x}", 0x100 + rng.next() % 0x1000),
                _ => format!("{head} LEN={len} {ip} PROTO={p}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_read_from_rule_words() {
        let dump = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i tun+ -s 10.8.0.0/24 -p tcp -m multiport --dports 22,80 \
                    -m comment --comment \"-i eth9\" -j ACCEPT\n-A FORWARD ! -o ppp0 -d 10.0.0.0/255.0.0.0 -j DROP\nCOMMIT\n";
        let h = Hints::read(dump, false);
        assert_eq!(h.ifaces, ["tun0", "ppp0"]);
        assert_eq!(h.rules[0].in_if.as_deref(), Some("tun0"));
        assert_eq!(h.rules[0].dports, [22, 80]);
        assert_eq!(h.rules[1].out_if, None);
        assert_eq!(h.rules[1].dst, Some(("10.0.0.0".parse().unwrap(), 8)));
    }

    #[test]
    fn sets_are_made_for_the_names_rules_give() {
        let dump =
            "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -o docker0 -m set --match-set docker-ext-bridges-v4 dst \
                    -j ACCEPT\n-A FORWARD -i eth1 -m set ! --match-set pair src,dst -j SET --add-set pair src,dst\n\
                    -A FORWARD -m recent --set --name x\nCOMMIT\n";
        let hints = Hints::read(dump, false);
        let host = make_host(&hints);
        let sets = make_sets(dump, &hints, &host);
        let creates: Vec<&str> = sets.lines().filter(|l| l.starts_with("create")).collect();
        assert_eq!(
            creates,
            [
                "create docker-ext-bridges-v4 hash:net family inet hashsize 1024 maxelem 65536",
                "create pair hash:net,port family inet hashsize 1024 maxelem 65536"
            ]
        );
        let docker0 = host.links.iter().find(|l| l.0 == "docker0").unwrap().1;
        assert!(sets.contains(&format!("add docker-ext-bridges-v4 {}/{}\n", docker0.0, docker0.1)), "{sets}");
        chainwalk_core::host::parse(&format!("{}# ipset save\n{sets}", host.text)).unwrap();
    }

    #[test]
    fn every_combination_is_reached_in_twelve_steps() {
        let mut all: Vec<_> = (0..12).map(combination).collect();
        all.sort_by_key(|(d, k)| (*d as u8, format!("{k:?}")));
        all.dedup();
        assert_eq!(all.len(), 12);
    }
}
