//! Deterministic generators of large `iptables-save` dumps shaped like the ones real hosts have: a
//! Kubernetes node running kube-proxy in iptables mode, and a Docker host with many published ports.
//!
//! The dumps are printed the way `iptables-legacy-save` 1.8.9 prints them after the tools' own rules were
//! restored: built-in chains first, then user chains in byte order, rules grouped by chain, generic options
//! before matches, `/32` on host addresses, `--comment` always quoted, `MARK --or-mark` shown as
//! `--set-xmark`, and `statistic` probabilities with the 11 decimals of the 31-bit value the kernel keeps.
//! So the same file can be given to chainwalk and to `iptables-restore`.
//!
//! Addresses come from private (RFC 1918), documentation (RFC 5737) and loopback ranges only. The same
//! kind, rule count and seed always give the same bytes; no `rand` crate is needed.

use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::net::Ipv4Addr;

/// Which host a dump looks like it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A Kubernetes node: kube-proxy's `KUBE-*` chains in `nat` and `filter`, plus the kubelet's canaries.
    Kube,
    /// A Docker host: the `DOCKER*` chains, one DNAT/ACCEPT/MASQUERADE triple per published port.
    Docker,
}

impl Kind {
    /// Every kind, in the order benchmarks report them.
    pub const ALL: [Kind; 2] = [Kind::Kube, Kind::Docker];

    /// The short name used on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kube => "kube",
            Kind::Docker => "docker",
        }
    }

    /// The kind called `name` (`kube`, `kube-proxy`, `k8s` or `docker`).
    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "kube" | "kube-proxy" | "k8s" => Some(Kind::Kube),
            "docker" => Some(Kind::Docker),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The seed [`generate`] uses.
pub const DEFAULT_SEED: u64 = 0x0000_c4a1_2b0a_11ed;

/// A dump of `kind` with `target_rules` rules (`-A` lines); exactly that many once the fixed rules of the
/// kind fit (23 for kube, 15 for docker), fewer below that.
pub fn generate(kind: Kind, target_rules: usize) -> String {
    generate_seeded(kind, target_rules, DEFAULT_SEED)
}

/// Like [`generate`], with another seed: other names, sizes and addresses, the same shape.
pub fn generate_seeded(kind: Kind, target_rules: usize, seed: u64) -> String {
    match kind {
        Kind::Kube => kube::generate(target_rules, seed),
        Kind::Docker => docker::generate(target_rules, seed),
    }
}

/// The number of rules in a dump: its `-A` lines.
pub fn rule_count(dump: &str) -> usize {
    dump.lines().filter(|l| l.starts_with("-A ")).count()
}

/// The `--probability` that `iptables-save` prints for a rule that kube-proxy wrote for the `i`-th of `n`
/// remaining endpoints: kube-proxy writes `1/n` with 10 decimals, `libxt_statistic` keeps
/// `lround(2^31 * p)` and prints that value over 2^31 with 11 decimals.
pub fn saved_probability(n: usize) -> String {
    let written: f64 = format!("{:.10}", 1.0 / n as f64).parse().unwrap_or(0.0);
    let stored = (written * 2_147_483_648.0).round();
    format!("{:.11}", stored / 2_147_483_648.0)
}

/// The date line of the dumps: fixed, so that a dump depends on nothing but its arguments.
const DATE: &str = "Tue Nov 14 22:13:20 2023";

/// A small xorshift64* generator: enough to pick names, sizes and addresses reproducibly.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix64(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The splitmix64 finaliser: a bijection on `u64` that spreads every input bit over the output.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 16 characters of the RFC 4648 base32 alphabet derived from `input`, the form of kube-proxy's chain
/// hashes (which are the first 16 base32 characters of a SHA-256).
fn chain_hash(input: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let fnv = input.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let bits = (u128::from(mix64(fnv)) << 64) | u128::from(mix64(fnv ^ 0x6b75_6265));
    (0..16).map(|i| ALPHABET[((bits >> (123 - 5 * i)) & 31) as usize] as char).collect()
}

/// One table of a dump being written: built-in chains with their policies, user chains, rules by chain.
struct TableOut {
    name: &'static str,
    builtins: Vec<(&'static str, &'static str, String)>,
    user: BTreeMap<String, String>,
}

impl TableOut {
    fn new(name: &'static str, builtins: &[(&'static str, &'static str)]) -> TableOut {
        TableOut {
            name,
            builtins: builtins.iter().map(|&(c, p)| (c, p, String::new())).collect(),
            user: BTreeMap::new(),
        }
    }

    /// Declares user chain `name` (it may stay empty).
    fn declare(&mut self, name: &str) {
        if !self.user.contains_key(name) {
            self.user.insert(name.to_string(), String::new());
        }
    }

    /// Appends `-A CHAIN SPEC` to `chain`, declaring it if it is a user chain not declared yet.
    fn add(&mut self, chain: &str, spec: fmt::Arguments<'_>) {
        let out = match self.builtins.iter_mut().find(|(c, _, _)| *c == chain) {
            Some((_, _, rules)) => rules,
            None => {
                self.declare(chain);
                match self.user.get_mut(chain) {
                    Some(rules) => rules,
                    None => return,
                }
            }
        };
        let _ = writeln!(out, "-A {chain} {spec}");
    }

    /// Prints the table as `iptables-legacy-save` does.
    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# Generated by iptables-save v1.8.9 on {DATE}\n*{}", self.name);
        for (chain, policy, _) in &self.builtins {
            let _ = writeln!(out, ":{chain} {policy} [0:0]");
        }
        for chain in self.user.keys() {
            let _ = writeln!(out, ":{chain} - [0:0]");
        }
        for (_, _, rules) in &self.builtins {
            out.push_str(rules);
        }
        for rules in self.user.values() {
            out.push_str(rules);
        }
        let _ = writeln!(out, "COMMIT\n# Completed on {DATE}");
    }

    fn len(&self) -> usize {
        self.builtins.iter().map(|(_, _, r)| r.len()).sum::<usize>()
            + self.user.iter().map(|(c, r)| c.len() + r.len() + 10).sum::<usize>()
            + 200
    }
}

/// Prints `tables` in order into one dump.
fn write_dump(tables: &[&TableOut]) -> String {
    let mut out = String::with_capacity(tables.iter().map(|t| t.len()).sum());
    for t in tables {
        t.write(&mut out);
    }
    out
}

/// The transport protocols the generated services use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// `base` plus `offset` as an address.
fn ip_plus(base: Ipv4Addr, offset: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base).wrapping_add(offset))
}

/// kube-proxy's chains, as `proxier.go` of Kubernetes 1.28 writes them in iptables mode.
mod kube {
    use super::*;

    /// The pod network (`--cluster-cidr`), from which endpoints get their addresses.
    const CLUSTER_CIDR: &str = "10.244.0.0/14";
    /// The service network: cluster IPs.
    const SERVICE_BASE: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 0);
    /// Addresses in the service network (a /12).
    const SERVICE_SPACE: u32 = 1 << 20;
    /// The `--service-node-port-range`.
    const NODE_PORT_FIRST: u16 = 30000;
    const NODE_PORT_COUNT: u32 = 2768;
    /// `loadBalancerSourceRanges` of the services that have them.
    const LB_SOURCE_RANGE: &str = "192.0.2.0/24";
    /// Rules that do not depend on the services: 8 in nat, 15 in filter.
    pub(super) const FIXED_RULES: usize = 23;

    const NAMESPACES: &[&str] = &[
        "default",
        "payments",
        "billing",
        "orders",
        "catalog",
        "auth",
        "ingress",
        "infra",
        "data",
        "ml",
        "edge",
        "cart",
        "search",
        "logging",
        "mesh",
        "monitoring",
        "checkout",
        "team-a",
        "team-b",
        "kube-system",
    ];
    const APPS: &[&str] = &[
        "api", "web", "frontend", "backend", "worker", "cache", "redis", "postgres", "kafka", "gateway", "proxy",
        "session", "metrics", "store", "queue", "router", "search", "grafana", "cdn", "db", "notifier", "ledger",
    ];
    /// Port name, protocol, service port, target port.
    const PORTS: &[(&str, Proto, u16, u16)] = &[
        ("http", Proto::Tcp, 80, 8080),
        ("http", Proto::Tcp, 80, 8080),
        ("https", Proto::Tcp, 443, 8443),
        ("grpc", Proto::Tcp, 9090, 9090),
        ("redis", Proto::Tcp, 6379, 6379),
        ("pg", Proto::Tcp, 5432, 5432),
        ("kafka", Proto::Tcp, 9092, 9092),
        ("dns", Proto::Udp, 53, 53),
        ("syslog", Proto::Udp, 514, 5514),
    ];

    /// How a service port is reachable from outside the cluster.
    #[derive(Clone, Debug)]
    enum Exposure {
        ClusterIp,
        NodePort { node_port: u16 },
        LoadBalancer { node_port: u16, ip: Ipv4Addr, source_ranges: bool, local: Option<u16> },
    }

    /// One port of a service: what kube-proxy calls a `ServicePortName` with its endpoints.
    #[derive(Clone, Debug)]
    struct SvcPort {
        /// `namespace/name:port`.
        name: String,
        proto: Proto,
        port: u16,
        target_port: u16,
        cluster_ip: Ipv4Addr,
        exposure: Exposure,
        affinity: bool,
        endpoints: Vec<Ipv4Addr>,
    }

    impl SvcPort {
        /// The rules kube-proxy writes for this port (see [`emit`]).
        fn cost(&self) -> usize {
            let e = self.endpoints.len();
            if e == 0 {
                return 1;
            }
            let mut n = 2 + e * if self.affinity { 4 } else { 3 };
            match self.exposure {
                Exposure::ClusterIp => {}
                Exposure::NodePort { .. } => n += 3,
                Exposure::LoadBalancer { source_ranges, local, .. } => {
                    n += 4;
                    if source_ranges {
                        n += 3;
                    }
                    if local.is_some() {
                        n += 3 + local_endpoints(e);
                    }
                }
            }
            n
        }

        fn hash(&self) -> String {
            chain_hash(&format!("{}{}", self.name, self.proto))
        }

        fn sep_chain(&self, ip: Ipv4Addr) -> String {
            format!("KUBE-SEP-{}", chain_hash(&format!("{}{}{}:{}", self.name, self.proto, ip, self.target_port)))
        }
    }

    /// How many of `e` endpoints run on this node, for a service with `externalTrafficPolicy: Local`.
    fn local_endpoints(e: usize) -> usize {
        e.div_ceil(3)
    }

    /// Hands out cluster IPs, node ports, load-balancer IPs and pod addresses without repeating them.
    struct Alloc {
        rng: Rng,
        services: u32,
        node_ports: u32,
        lb_ips: u32,
        /// Pods placed so far on each node.
        nodes: Vec<u8>,
    }

    impl Alloc {
        fn cluster_ip(&mut self) -> Ipv4Addr {
            loop {
                self.services += 1;
                // 7919 is prime to 2^20 - 2, so this walks the /12 without repeating.
                let offset = 16 + (self.services * 7919) % (SERVICE_SPACE - 18);
                if offset != 10 {
                    return ip_plus(SERVICE_BASE, offset);
                }
            }
        }

        fn node_port(&mut self) -> Option<u16> {
            if self.node_ports >= NODE_PORT_COUNT {
                return None;
            }
            // 1021 is prime to 2768: the range is walked without repeating.
            let port = NODE_PORT_FIRST + ((self.node_ports * 1021) % NODE_PORT_COUNT) as u16;
            self.node_ports += 1;
            Some(port)
        }

        fn lb_ip(&mut self) -> Ipv4Addr {
            let n = self.lb_ips;
            self.lb_ips += 1;
            match n {
                0..254 => Ipv4Addr::new(198, 51, 100, 1 + n as u8),
                254..508 => Ipv4Addr::new(203, 0, 113, (n - 253) as u8),
                _ => ip_plus(Ipv4Addr::new(172, 20, 0, 1), n - 508),
            }
        }

        /// A pod address on a random node with room (each node has a /24 of the cluster CIDR).
        fn pod_ip(&mut self) -> Ipv4Addr {
            let count = self.nodes.len();
            let mut node = self.rng.below(count as u64) as usize;
            for _ in 0..count {
                if self.nodes[node] < 250 {
                    break;
                }
                node = (node + 1) % count;
            }
            let host = self.nodes[node];
            self.nodes[node] = host.wrapping_add(1);
            Ipv4Addr::new(10, 244 + (node / 256) as u8, (node % 256) as u8, 2 + host % 250)
        }
    }

    /// The endpoint count of a generated service: mostly a few, sometimes dozens.
    fn endpoint_count(rng: &mut Rng) -> usize {
        match rng.below(100) {
            0..30 => 1,
            30..55 => 2,
            55..75 => 3,
            75..88 => rng.range(4, 5) as usize,
            88..97 => rng.range(6, 10) as usize,
            _ => rng.range(11, 25) as usize,
        }
    }

    /// The ports of service number `index`: the API server and cluster DNS first, then made-up ones.
    fn service(index: usize, a: &mut Alloc) -> Vec<SvcPort> {
        let port = |ns: &str, svc: &str, pn: &str, proto, port, target_port, ip, eps: &[Ipv4Addr]| SvcPort {
            name: format!("{ns}/{svc}:{pn}"),
            proto,
            port,
            target_port,
            cluster_ip: ip,
            exposure: Exposure::ClusterIp,
            affinity: false,
            endpoints: eps.to_vec(),
        };
        match index {
            0 => {
                let masters =
                    [Ipv4Addr::new(192, 168, 0, 10), Ipv4Addr::new(192, 168, 0, 11), Ipv4Addr::new(192, 168, 0, 12)];
                return vec![port(
                    "default",
                    "kubernetes",
                    "https",
                    Proto::Tcp,
                    443,
                    6443,
                    ip_plus(SERVICE_BASE, 1),
                    &masters,
                )];
            }
            1 => {
                let pods = [a.pod_ip(), a.pod_ip()];
                let ip = ip_plus(SERVICE_BASE, 10);
                return vec![
                    port("kube-system", "kube-dns", "dns", Proto::Udp, 53, 53, ip, &pods),
                    port("kube-system", "kube-dns", "dns-tcp", Proto::Tcp, 53, 53, ip, &pods),
                    port("kube-system", "kube-dns", "metrics", Proto::Tcp, 9153, 9153, ip, &pods),
                ];
            }
            _ => {}
        }
        let ns = *a.rng.pick(NAMESPACES);
        let svc = format!("{}-{index}", a.rng.pick(APPS));
        let cluster_ip = a.cluster_ip();
        let &(pn, proto, sp, tp) = a.rng.pick(PORTS);
        let mut ports = vec![(pn, proto, sp, tp)];
        if a.rng.chance(20) {
            ports.push(("metrics", Proto::Tcp, 9100, 9100));
        }
        let roll = a.rng.below(100);
        let endpoints: Vec<Ipv4Addr> =
            if roll < 3 { Vec::new() } else { (0..endpoint_count(&mut a.rng)).map(|_| a.pod_ip()).collect() };
        let affinity = !endpoints.is_empty() && a.rng.chance(5);
        let exposure_roll = if endpoints.is_empty() { 0 } else { roll };
        let lb = exposure_roll >= 92;
        let source_ranges = lb && a.rng.chance(40);
        let wants_local = lb && a.rng.chance(30);
        let health = if wants_local { a.node_port() } else { None };
        let lb_ip = if lb { Some(a.lb_ip()) } else { None };
        ports
            .into_iter()
            .map(|(pn, proto, port, target_port)| {
                let node_port = if exposure_roll >= 80 { a.node_port() } else { None };
                let exposure = match (node_port, lb_ip) {
                    (Some(node_port), Some(ip)) => {
                        Exposure::LoadBalancer { node_port, ip, source_ranges, local: health }
                    }
                    (Some(node_port), None) => Exposure::NodePort { node_port },
                    (None, _) => Exposure::ClusterIp,
                };
                SvcPort {
                    name: format!("{ns}/{svc}:{pn}"),
                    proto,
                    port,
                    target_port,
                    cluster_ip,
                    exposure,
                    affinity,
                    endpoints: endpoints.clone(),
                }
            })
            .collect()
    }

    pub(super) fn generate(target: usize, seed: u64) -> String {
        let expected_endpoints = target / 4 + 1;
        let nodes = (expected_endpoints / 120).clamp(3, 1024);
        let mut a = Alloc { rng: Rng::new(seed), services: 0, node_ports: 0, lb_ips: 0, nodes: vec![0; nodes] };
        let budget = target.saturating_sub(FIXED_RULES);
        let mut ports: Vec<SvcPort> = Vec::new();
        let mut used = 0;
        for index in 0.. {
            let next = service(index, &mut a);
            let cost: usize = next.iter().map(SvcPort::cost).sum();
            if used + cost > budget {
                break;
            }
            used += cost;
            ports.extend(next);
        }
        // Fill the rest exactly: one more endpoint costs 3 rules, a service without endpoints 1.
        let mut left = budget - used;
        let growable: Vec<usize> = (0..ports.len())
            .rev()
            .filter(|&i| {
                let p = &ports[i];
                !p.endpoints.is_empty()
                    && !p.affinity
                    && !matches!(p.exposure, Exposure::LoadBalancer { local: Some(_), .. })
            })
            .collect();
        let mut turn = 0;
        while left >= 3 && !growable.is_empty() {
            let i = growable[turn % growable.len()];
            let ip = a.pod_ip();
            ports[i].endpoints.push(ip);
            left -= 3;
            turn += 1;
        }
        for n in 0..left {
            let cluster_ip = a.cluster_ip();
            let name = format!("{}/{}-idle-{n}:http", a.rng.pick(NAMESPACES), a.rng.pick(APPS));
            ports.push(SvcPort {
                name,
                proto: Proto::Tcp,
                port: 80,
                target_port: 8080,
                cluster_ip,
                exposure: Exposure::ClusterIp,
                affinity: false,
                endpoints: Vec::new(),
            });
        }
        emit(&ports)
    }

    /// Writes the dump: the canaries in `mangle`, the service rules in `nat`, the firewall in `filter`.
    fn emit(ports: &[SvcPort]) -> String {
        let mut mangle = TableOut::new(
            "mangle",
            &[
                ("PREROUTING", "ACCEPT"),
                ("INPUT", "ACCEPT"),
                ("FORWARD", "ACCEPT"),
                ("OUTPUT", "ACCEPT"),
                ("POSTROUTING", "ACCEPT"),
            ],
        );
        let mut nat = TableOut::new(
            "nat",
            &[("PREROUTING", "ACCEPT"), ("INPUT", "ACCEPT"), ("OUTPUT", "ACCEPT"), ("POSTROUTING", "ACCEPT")],
        );
        let mut filter = TableOut::new("filter", &[("INPUT", "ACCEPT"), ("FORWARD", "ACCEPT"), ("OUTPUT", "ACCEPT")]);
        for t in [&mut mangle, &mut nat, &mut filter] {
            t.declare("KUBE-KUBELET-CANARY");
            t.declare("KUBE-PROXY-CANARY");
        }
        for c in ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"] {
            nat.declare(c);
        }
        for c in [
            "KUBE-EXTERNAL-SERVICES",
            "KUBE-FIREWALL",
            "KUBE-FORWARD",
            "KUBE-NODEPORTS",
            "KUBE-PROXY-FIREWALL",
            "KUBE-SERVICES",
        ] {
            filter.declare(c);
        }

        nat.add("PREROUTING", format_args!("-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"));
        nat.add("OUTPUT", format_args!("-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"));
        nat.add(
            "POSTROUTING",
            format_args!("-m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"),
        );
        nat.add("KUBE-MARK-MASQ", format_args!("-j MARK --set-xmark 0x4000/0x4000"));
        nat.add("KUBE-POSTROUTING", format_args!("-m mark ! --mark 0x4000/0x4000 -j RETURN"));
        nat.add("KUBE-POSTROUTING", format_args!("-j MARK --set-xmark 0x4000/0x0"));
        nat.add(
            "KUBE-POSTROUTING",
            format_args!(
                "-m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
            ),
        );

        let lb_fw = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL";
        let portals = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES";
        let external = "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES";
        filter.add("INPUT", format_args!("{lb_fw}"));
        filter.add(
            "INPUT",
            format_args!("-m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS"),
        );
        filter.add("INPUT", format_args!("{external}"));
        filter.add("INPUT", format_args!("-j KUBE-FIREWALL"));
        filter.add("FORWARD", format_args!("{lb_fw}"));
        filter.add("FORWARD", format_args!("-m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"));
        filter.add("FORWARD", format_args!("{portals}"));
        filter.add("FORWARD", format_args!("{external}"));
        filter.add("OUTPUT", format_args!("{lb_fw}"));
        filter.add("OUTPUT", format_args!("{portals}"));
        filter.add("OUTPUT", format_args!("-j KUBE-FIREWALL"));
        filter.add(
            "KUBE-FIREWALL",
            format_args!("! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"),
        );
        filter.add("KUBE-FORWARD", format_args!("-m conntrack --ctstate INVALID -j DROP"));
        filter.add(
            "KUBE-FORWARD",
            format_args!("-m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT"),
        );
        filter.add(
            "KUBE-FORWARD",
            format_args!("-m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        );

        for p in ports {
            emit_port(p, &mut nat, &mut filter);
        }
        nat.add(
            "KUBE-SERVICES",
            format_args!("-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"),
        );
        write_dump(&[&mangle, &nat, &filter])
    }

    /// The rules of one service port, in the chains where kube-proxy puts them.
    fn emit_port(p: &SvcPort, nat: &mut TableOut, filter: &mut TableOut) {
        let (name, proto, port, cip) = (&p.name, p.proto, p.port, p.cluster_ip);
        if p.endpoints.is_empty() {
            filter.add(
                "KUBE-SERVICES",
                format_args!("-d {cip}/32 -p {proto} -m comment --comment \"{name} has no endpoints\" -m {proto} --dport {port} -j REJECT --reject-with icmp-port-unreachable"),
            );
            return;
        }
        let hash = p.hash();
        let svc = format!("KUBE-SVC-{hash}");
        let ext = format!("KUBE-EXT-{hash}");
        nat.add(
            "KUBE-SERVICES",
            format_args!(
                "-d {cip}/32 -p {proto} -m comment --comment \"{name} cluster IP\" -m {proto} --dport {port} -j {svc}"
            ),
        );
        nat.add(
            &svc,
            format_args!("! -s {CLUSTER_CIDR} -d {cip}/32 -p {proto} -m comment --comment \"{name} cluster IP\" -m {proto} --dport {port} -j KUBE-MARK-MASQ"),
        );
        let seps: Vec<(Ipv4Addr, String)> = p.endpoints.iter().map(|&ip| (ip, p.sep_chain(ip))).collect();
        spread(nat, &svc, p, &seps);
        let tp = p.target_port;
        for (ip, sep) in &seps {
            nat.add(sep, format_args!("-s {ip}/32 -m comment --comment \"{name}\" -j KUBE-MARK-MASQ"));
            if p.affinity {
                nat.add(
                    sep,
                    format_args!("-p {proto} -m comment --comment \"{name}\" -m recent --set --name {sep} --mask 255.255.255.255 --rsource -m {proto} -j DNAT --to-destination {ip}:{tp}"),
                );
            } else {
                nat.add(
                    sep,
                    format_args!(
                        "-p {proto} -m comment --comment \"{name}\" -m {proto} -j DNAT --to-destination {ip}:{tp}"
                    ),
                );
            }
        }
        let (node_port, lb) = match p.exposure {
            Exposure::ClusterIp => return,
            Exposure::NodePort { node_port } => (node_port, None),
            Exposure::LoadBalancer { node_port, ip, source_ranges, local } => {
                (node_port, Some((ip, source_ranges, local)))
            }
        };
        nat.add(
            "KUBE-NODEPORTS",
            format_args!("-p {proto} -m comment --comment \"{name}\" -m {proto} --dport {node_port} -j {ext}"),
        );
        let local = lb.and_then(|(_, _, local)| local);
        match local {
            None => {
                nat.add(
                    &ext,
                    format_args!("-m comment --comment \"masquerade traffic for {name} external destinations\" -j KUBE-MARK-MASQ"),
                );
                nat.add(&ext, format_args!("-j {svc}"));
            }
            Some(health) => {
                let svl = format!("KUBE-SVL-{hash}");
                nat.add(
                    &ext,
                    format_args!("-s {CLUSTER_CIDR} -m comment --comment \"pod traffic for {name} external destinations\" -j {svc}"),
                );
                nat.add(
                    &ext,
                    format_args!("-m comment --comment \"masquerade LOCAL traffic for {name} external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ"),
                );
                nat.add(
                    &ext,
                    format_args!("-m comment --comment \"route LOCAL traffic for {name} external destinations\" -m addrtype --src-type LOCAL -j {svc}"),
                );
                nat.add(&ext, format_args!("-j {svl}"));
                let here = &seps[..local_endpoints(seps.len())];
                spread_plain(nat, &svl, name, tp, here);
                filter.add(
                    "KUBE-NODEPORTS",
                    format_args!("-p tcp -m comment --comment \"{name} health check node port\" -m tcp --dport {health} -j ACCEPT"),
                );
            }
        }
        let Some((lb_ip, source_ranges, _)) = lb else { return };
        if source_ranges {
            let fw = format!("KUBE-FW-{hash}");
            nat.add(
                "KUBE-SERVICES",
                format_args!("-d {lb_ip}/32 -p {proto} -m comment --comment \"{name} loadbalancer IP\" -m {proto} --dport {port} -j {fw}"),
            );
            nat.add(&fw, format_args!("-s {LB_SOURCE_RANGE} -m comment --comment \"{name} loadbalancer IP\" -j {ext}"));
            nat.add(
                &fw,
                format_args!("-m comment --comment \"other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL\""),
            );
            filter.add(
                "KUBE-PROXY-FIREWALL",
                format_args!("-d {lb_ip}/32 -p {proto} -m comment --comment \"{name} traffic not accepted by {fw}\" -m {proto} --dport {port} -j DROP"),
            );
        } else {
            nat.add(
                "KUBE-SERVICES",
                format_args!("-d {lb_ip}/32 -p {proto} -m comment --comment \"{name} loadbalancer IP\" -m {proto} --dport {port} -j {ext}"),
            );
        }
    }

    /// The rules of a `KUBE-SVC-*` chain that pick an endpoint: the affinity checks first, then one
    /// `statistic` rule per endpoint but the last.
    fn spread(nat: &mut TableOut, chain: &str, p: &SvcPort, seps: &[(Ipv4Addr, String)]) {
        let (name, tp) = (&p.name, p.target_port);
        if p.affinity {
            for (ip, sep) in seps {
                nat.add(
                    chain,
                    format_args!("-m comment --comment \"{name} -> {ip}:{tp}\" -m recent --rcheck --seconds 10800 --reap --name {sep} --mask 255.255.255.255 --rsource -j {sep}"),
                );
            }
        }
        spread_plain(nat, chain, name, tp, seps);
    }

    fn spread_plain(nat: &mut TableOut, chain: &str, name: &str, tp: u16, seps: &[(Ipv4Addr, String)]) {
        let n = seps.len();
        for (i, (ip, sep)) in seps.iter().enumerate() {
            if i + 1 < n {
                let prob = saved_probability(n - i);
                nat.add(
                    chain,
                    format_args!("-m comment --comment \"{name} -> {ip}:{tp}\" -m statistic --mode random --probability {prob} -j {sep}"),
                );
            } else {
                nat.add(chain, format_args!("-m comment --comment \"{name} -> {ip}:{tp}\" -j {sep}"));
            }
        }
    }
}

/// Docker's chains, as the bridge driver of Docker 24–26 writes them with the userland proxy off.
mod docker {
    use super::*;

    /// Rules that do not depend on networks or containers: 2 in nat, 5 in filter.
    pub(super) const FIXED_RULES: usize = 7;
    /// Rules per network: 4 in `FORWARD`, one in each isolation stage, the subnet's MASQUERADE, the
    /// bridge's RETURN in nat `DOCKER`.
    const NETWORK_RULES: usize = 8;
    /// Docker's default address pools give 31 bridges: 172.17–31.0.0/16 and 192.168.0.0/16 in /20s.
    const MAX_NETWORKS: usize = 31;
    /// Protocol and container port of the published ports.
    const PORTS: &[(Proto, u16)] = &[
        (Proto::Tcp, 80),
        (Proto::Tcp, 443),
        (Proto::Tcp, 8080),
        (Proto::Tcp, 3000),
        (Proto::Tcp, 5432),
        (Proto::Tcp, 6379),
        (Proto::Tcp, 9000),
        (Proto::Tcp, 27017),
        (Proto::Tcp, 9200),
        (Proto::Udp, 53),
        (Proto::Udp, 514),
    ];

    /// A bridge network: its interface, subnet, and the next free host number.
    struct Network {
        bridge: String,
        base: Ipv4Addr,
        prefix: u8,
        next_host: u32,
    }

    impl Network {
        fn capacity(&self) -> u32 {
            (1 << (32 - self.prefix)) - 2
        }
    }

    /// The network count: more networks for bigger hosts, chosen so that the port rules (3 each) fill the
    /// rest exactly.
    fn network_count(target: usize) -> usize {
        let want = (target / 4000 + 1).clamp(1, MAX_NETWORKS);
        let fits = |n: usize| target.checked_sub(FIXED_RULES + NETWORK_RULES * n).is_some_and(|rest| rest % 3 == 0);
        [want, want + 1, want + 2, want.saturating_sub(1), want.saturating_sub(2)]
            .into_iter()
            .find(|&n| (1..=MAX_NETWORKS).contains(&n) && fits(n))
            .unwrap_or(1)
    }

    pub(super) fn generate(target: usize, seed: u64) -> String {
        let mut rng = Rng::new(seed ^ 0xd0c4e4);
        let n = network_count(target);
        let mut networks: Vec<Network> = (0..n)
            .map(|i| {
                let bridge = if i == 0 { "docker0".to_string() } else { format!("br-{:012x}", rng.next() >> 16) };
                let (base, prefix) = if i < 15 {
                    (Ipv4Addr::new(172, 17 + i as u8, 0, 0), 16)
                } else {
                    (Ipv4Addr::new(192, 168, (16 * (i - 15)) as u8, 0), 20)
                };
                Network { bridge, base, prefix, next_host: 2 }
            })
            .collect();
        let mut ports_left = target.saturating_sub(FIXED_RULES + NETWORK_RULES * n) / 3;

        let mut nat = TableOut::new(
            "nat",
            &[("PREROUTING", "ACCEPT"), ("INPUT", "ACCEPT"), ("OUTPUT", "ACCEPT"), ("POSTROUTING", "ACCEPT")],
        );
        let mut filter = TableOut::new("filter", &[("INPUT", "ACCEPT"), ("FORWARD", "DROP"), ("OUTPUT", "ACCEPT")]);
        for c in ["DOCKER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER-USER"] {
            filter.declare(c);
        }
        nat.declare("DOCKER");
        nat.add("PREROUTING", format_args!("-m addrtype --dst-type LOCAL -j DOCKER"));
        nat.add("OUTPUT", format_args!("! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER"));
        filter.add("FORWARD", format_args!("-j DOCKER-USER"));
        filter.add("FORWARD", format_args!("-j DOCKER-ISOLATION-STAGE-1"));
        // Docker inserts a network's rules at the top when it creates the network: the newest comes first.
        for net in networks.iter().rev() {
            let br = &net.bridge;
            filter.add("FORWARD", format_args!("-o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"));
            filter.add("FORWARD", format_args!("-o {br} -j DOCKER"));
            filter.add("FORWARD", format_args!("-i {br} ! -o {br} -j ACCEPT"));
            filter.add("FORWARD", format_args!("-i {br} -o {br} -j ACCEPT"));
        }
        for net in networks.iter().rev() {
            filter.add(
                "DOCKER-ISOLATION-STAGE-1",
                format_args!("-i {0} ! -o {0} -j DOCKER-ISOLATION-STAGE-2", net.bridge),
            );
        }
        filter.add("DOCKER-ISOLATION-STAGE-1", format_args!("-j RETURN"));
        for net in networks.iter().rev() {
            filter.add("DOCKER-ISOLATION-STAGE-2", format_args!("-o {} -j DROP", net.bridge));
        }
        filter.add("DOCKER-ISOLATION-STAGE-2", format_args!("-j RETURN"));
        filter.add("DOCKER-USER", format_args!("-j RETURN"));
        for net in networks.iter().rev() {
            nat.add("POSTROUTING", format_args!("-s {}/{} ! -o {} -j MASQUERADE", net.base, net.prefix, net.bridge));
            nat.add("DOCKER", format_args!("-i {} -j RETURN", net.bridge));
        }

        // Containers, in the order they were started, each with one to four published ports.
        let mut host_ports = 0u32;
        while ports_left > 0 {
            let count = match rng.below(100) {
                0..60 => 1,
                60..85 => 2,
                _ => rng.range(3, 4) as usize,
            }
            .min(ports_left);
            ports_left -= count;
            let mut at = rng.below(networks.len() as u64) as usize;
            while networks[at].next_host > networks[at].capacity()
                && networks.iter().any(|n| n.next_host <= n.capacity())
            {
                at = (at + 1) % networks.len();
            }
            let net = &mut networks[at];
            let ip = ip_plus(net.base, net.next_host);
            net.next_host += 1;
            let br = &net.bridge;
            let first = rng.below(PORTS.len() as u64) as usize;
            for k in 0..count {
                let (proto, cport) = PORTS[(first + k) % PORTS.len()];
                // Host ports 10000–59999; when they run out, ports are published on further host addresses.
                let (round, hport) = (host_ports / 50_000, 10_000 + host_ports % 50_000);
                host_ports += 1;
                let dest = match round {
                    0 => String::new(),
                    r @ 1..=254 => format!("-d 192.0.2.{r}/32 "),
                    r => format!("-d 198.51.100.{}/32 ", (r - 254) % 254 + 1),
                };
                nat.add(
                    "DOCKER",
                    format_args!(
                        "{dest}! -i {br} -p {proto} -m {proto} --dport {hport} -j DNAT --to-destination {ip}:{cport}"
                    ),
                );
                filter.add(
                    "DOCKER",
                    format_args!("-d {ip}/32 ! -i {br} -o {br} -p {proto} -m {proto} --dport {cport} -j ACCEPT"),
                );
                nat.add(
                    "POSTROUTING",
                    format_args!("-s {ip}/32 -d {ip}/32 -p {proto} -m {proto} --dport {cport} -j MASQUERADE"),
                );
            }
        }
        write_dump(&[&nat, &filter])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn rule_counts_are_exact() {
        for kind in Kind::ALL {
            for target in [100, 997, 1000, 1001, 1002, 4321, 10_000, 25_003] {
                let dump = generate(kind, target);
                assert_eq!(rule_count(&dump), target, "{kind} {target}");
            }
        }
    }

    #[test]
    fn small_targets_give_what_fits() {
        assert_eq!(rule_count(&generate(Kind::Kube, 0)), kube::FIXED_RULES);
        assert_eq!(rule_count(&generate(Kind::Kube, 24)), 24);
        assert_eq!(rule_count(&generate(Kind::Docker, 15)), docker::FIXED_RULES + 8);
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(generate(Kind::Kube, 2000), generate(Kind::Kube, 2000));
        assert_eq!(generate(Kind::Docker, 2000), generate(Kind::Docker, 2000));
        assert_ne!(generate_seeded(Kind::Kube, 2000, 1), generate_seeded(Kind::Kube, 2000, 2));
        assert_ne!(generate_seeded(Kind::Docker, 2000, 1), generate_seeded(Kind::Docker, 2000, 2));
    }

    #[test]
    fn probabilities_print_as_iptables_save_prints_them() {
        // Values read back with `iptables-legacy-save` 1.8.9 after restoring kube-proxy's `%0.10f` forms.
        assert_eq!(saved_probability(2), "0.50000000000");
        assert_eq!(saved_probability(3), "0.33333333349");
        assert_eq!(saved_probability(4), "0.25000000000");
        assert_eq!(saved_probability(5), "0.20000000019");
        assert_eq!(saved_probability(7), "0.14285714272");
    }

    #[test]
    fn chain_hashes_look_like_kube_proxys() {
        let h = chain_hash("default/kubernetes:httpstcp");
        assert_eq!(h.len(), 16);
        assert!(h.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{h}");
        assert_ne!(h, chain_hash("default/kubernetes:httpsudp"));
    }

    #[test]
    fn kube_dump_has_kube_proxys_chains_and_unique_names() {
        let dump = generate(Kind::Kube, 20_000);
        for table in dump.split("\n*").skip(1) {
            let names: Vec<&str> =
                table.lines().filter_map(|l| l.strip_prefix(':')).map(|c| c.split(' ').next().unwrap_or("")).collect();
            let unique: HashSet<&str> = names.iter().copied().collect();
            assert_eq!(unique.len(), names.len(), "a chain is declared twice in one table");
        }
        for needle in [
            "*nat\n",
            "*filter\n",
            ":KUBE-SERVICES - [0:0]",
            ":KUBE-NODEPORTS - [0:0]",
            ":KUBE-POSTROUTING - [0:0]",
            ":KUBE-EXTERNAL-SERVICES - [0:0]",
            "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n",
            "-m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-",
            "-j DNAT --to-destination 192.168.0.10:6443\n",
            "cluster IP\" -m tcp --dport 443 -j KUBE-SVC-",
            "loadbalancer IP\" -m tcp --dport",
            "health check node port",
            "has no endpoints",
            "-m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-",
        ] {
            assert!(dump.contains(needle), "no `{needle}` in the dump");
        }
        let svc_chains = dump.lines().filter(|l| l.starts_with(":KUBE-SVC-")).count();
        let sep_chains = dump.lines().filter(|l| l.starts_with(":KUBE-SEP-")).count();
        assert!(svc_chains > 1000 && sep_chains > 2 * svc_chains, "{svc_chains} services, {sep_chains} endpoints");
    }

    #[test]
    fn docker_dump_has_dockers_chains() {
        let dump = generate(Kind::Docker, 5000);
        for needle in [
            ":DOCKER-ISOLATION-STAGE-1 - [0:0]",
            ":DOCKER-ISOLATION-STAGE-2 - [0:0]",
            ":DOCKER-USER - [0:0]",
            "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n",
            "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE\n",
            "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
            "-A DOCKER-USER -j RETURN\n",
        ] {
            assert!(dump.contains(needle), "no `{needle}` in the dump");
        }
        let dnat = dump.lines().filter(|l| l.contains(" -j DNAT --to-destination 172.")).count();
        let accept = dump.lines().filter(|l| l.starts_with("-A DOCKER -d 172.") && l.ends_with("-j ACCEPT")).count();
        assert_eq!(dnat, accept);
        assert!(dnat > 1500, "{dnat} published ports");
    }

    #[test]
    fn docker_host_ports_never_repeat_on_one_address() {
        let dump = generate(Kind::Docker, 200_000);
        let mut seen = HashSet::new();
        for l in dump.lines().filter(|l| l.contains("-j DNAT")) {
            let dest = l.split(" ! -i").next().unwrap_or("");
            let port = l.split("--dport ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("");
            assert!(seen.insert((dest.to_string(), port.to_string())), "published twice: {l}");
        }
    }
}
