//! The packet walk: the hooks a packet passes, the tables registered at each in the kernel's priority
//! order, connection tracking, routing and NAT, modelled on `net/ipv4/ip_input.c`, `ip_forward.c`,
//! `ip_output.c`, `net/netfilter/nf_nat_core.c` and `ip_tables.c`.
//!
//! [`Simulation::new`] indexes a ruleset once; [`Simulation::walk`] walks one packet and returns its
//! [`Trace`]. The ruleset is never copied per packet.

mod bridge;
pub mod eval;
mod matches;
mod nat;
mod table;
mod target;

use crate::host::{Host, HostInterface, IfAddr, RouteDecision, RouteKind};
use crate::matches::MatchKind;
use crate::packet::{CtDir, CtState, Packet, L4};
use crate::ruleset::{Family, Hook, Ruleset, TableName};
use crate::targets::TargetKind;
use crate::trace::{Assumption, Change, Fate, FateVerdict, LogLine, Path, Stage, StageKind, StageStatus, Trace};
use eval::{ConnState, Tuple};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

pub use table::TableVerdict;

/// Choices the caller makes about a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkOptions {
    /// Start the TRACE lines where the dump's own matching `-j TRACE` rule marks the packet (as the user's
    /// log shows them), instead of marking the packet before the raw table (which shows every line).
    pub trace_from_dump: bool,
    /// Answers for matches chainwalk cannot decide from one packet, by rule (`table:chain:number`): true
    /// makes the rule's assumed conditions hold, false makes them fail.
    pub overrides: HashMap<String, bool>,
    /// Explain every rule that did not match (true), or only those whose generic part (addresses,
    /// interfaces, protocol) matched (false): the fast setting for chains of thousands of rules, where a
    /// viewer asks for the rest on demand.
    pub explain_unmatched: bool,
    /// When the packet arrives, in seconds since 1970 (UTC), for `-m time`; without it a time window is
    /// assumed to hold.
    pub now: Option<u64>,
    /// Which kernel side the dump was loaded into: the order of the tables at a hook depends on it.
    pub backend: Backend,
}

/// Reads an answer for [`WalkOptions::overrides`] as the command line and the test cases write it:
/// `TABLE:CHAIN:N=match` or `=nomatch` (also `true`/`yes`, `false`/`no`/`no-match`).
pub fn read_override(text: &str) -> Result<(String, bool), String> {
    let (key, answer) =
        text.trim().rsplit_once('=').ok_or_else(|| format!("`{text}` is not TABLE:CHAIN:N=match|nomatch"))?;
    let answer = match answer {
        "match" | "true" | "yes" => true,
        "nomatch" | "no-match" | "false" | "no" => false,
        other => return Err(format!("`{other}` is neither match nor nomatch")),
    };
    let parts: Vec<&str> = key.split(':').collect();
    if parts.len() < 3 || parts.iter().any(|p| p.is_empty()) || parts[parts.len() - 1].parse::<u32>().is_err() {
        return Err(format!("`{key}` is not TABLE:CHAIN:N (a rule's table, chain and number)"));
    }
    Ok((key.to_string(), answer))
}

/// [`read_override`] for each line of `text` but blank ones and `#` comments (a test case's `assume` file).
pub fn read_overrides(text: &str) -> Result<Vec<(String, bool)>, String> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).map(read_override).collect()
}

impl Default for WalkOptions {
    fn default() -> WalkOptions {
        WalkOptions {
            trace_from_dump: false,
            overrides: HashMap::new(),
            explain_unmatched: true,
            now: None,
            backend: Backend::Legacy,
        }
    }
}

/// The two ways a dump reaches the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// `iptables-legacy-restore`: the `ip_tables` module's tables, at their fixed priorities.
    #[default]
    Legacy,
    /// `iptables-nft-restore`: nf_tables chains that iptables-nft registers for the same tables, at the
    /// same priorities but the security table's, which it puts at 150 (after nat's 100 at INPUT).
    Nft,
}

/// A ruleset indexed for walking packets through it.
#[derive(Debug)]
pub struct Simulation<'r> {
    ruleset: &'r Ruleset,
    /// What was looked up once for the whole ruleset: made here, or kept from an earlier simulation of
    /// the same ruleset (see [`Simulation::with_index`]).
    index: Cow<'r, Index>,
}

/// What a [`Simulation`] looks up once for its ruleset, before any walk. It owns everything, so that a
/// program which walks many packets through one ruleset (the page, as the user edits the packet) keeps it
/// next to the ruleset and makes it once.
#[derive(Clone, Debug)]
pub struct Index {
    /// For each table name, its index in the ruleset.
    tables: [Option<usize>; 5],
    /// For each table (by ruleset index), the chain index of each chain name.
    chains: Vec<HashMap<Arc<str>, usize, BuildHasherDefault<NameHasher>>>,
    /// For each table and chain, its name, shared by every step in it (and by every jump to it).
    chain_names: Vec<Vec<Arc<str>>>,
    /// Every target name in the ruleset that is not a chain's, shared by every step that shows it.
    target_names: HashSet<Arc<str>, BuildHasherDefault<NameHasher>>,
    /// For each table, the handles `iptables-nft-restore` gives its rules.
    handles: Vec<Handles>,
    /// Whether a rule of the dump makes the kernel track connections (a conntrack match or a NAT target);
    /// without one, a fresh kernel would not track them.
    uses_conntrack: bool,
    /// Docker's ipset of its bridge networks (`docker-ext-bridges-v4`, `-v6`) as guessed from the dump,
    /// when the dump looks it up: see [`docker_bridges_guess`].
    docker_bridges: Option<crate::ipset::IpSet>,
    /// Each table's name and how many chains and rules it had, to catch an index given with another
    /// ruleset.
    shape: Vec<(TableName, usize, usize)>,
}

impl Index {
    /// Indexes `ruleset`; linear in its size.
    pub fn new(ruleset: &Ruleset) -> Index {
        let mut tables = [None; 5];
        let mut chains = Vec::with_capacity(ruleset.tables.len());
        let mut chain_names = Vec::with_capacity(ruleset.tables.len());
        let mut target_names: HashSet<Arc<str>, _> = HashSet::default();
        for (i, t) in ruleset.tables.iter().enumerate() {
            tables[t.name as usize] = Some(i);
            let names: Vec<Arc<str>> = t.chains.iter().map(|ch| Arc::from(ch.name.as_str())).collect();
            chains.push(names.iter().enumerate().map(|(c, name)| (name.clone(), c)).collect());
            chain_names.push(names);
            // Jumps share their chain's name; the other targets are a few names over many rules, often the
            // same one rule after rule.
            let mut last = "";
            for r in t.chains.iter().flat_map(|c| &c.rules) {
                let Some(tg) = r.target.as_ref().filter(|tg| !matches!(tg.kind, TargetKind::Chain)) else {
                    continue;
                };
                if *tg.name != *last {
                    last = &tg.name;
                    if !target_names.contains(last) {
                        target_names.insert(Arc::from(last));
                    }
                }
            }
        }
        const CT_MATCHES: &[&str] =
            &["conntrack", "state", "connmark", "connlimit", "connbytes", "connlabel", "helper", "cluster"];
        const CT_TARGETS: &[&str] =
            &["DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP", "CONNMARK", "CT", "NOTRACK", "SYNPROXY"];
        // One pass over the rules: whether any needs conntrack, and whether any looks Docker's ipset up.
        let docker_set = docker_bridges_name(ruleset.family);
        let (mut uses_conntrack, mut docker_named) = (false, false);
        for r in ruleset.tables.iter().flat_map(|t| &t.chains).flat_map(|c| &c.rules) {
            for m in &r.matches {
                uses_conntrack |= CT_MATCHES.contains(&m.name());
                docker_named |= matches!(&m.kind, MatchKind::Set(s) if s.lookup.value.name == docker_set);
            }
            uses_conntrack |= r.target.as_ref().is_some_and(|t| CT_TARGETS.contains(&&*t.name));
            if uses_conntrack && docker_named {
                break;
            }
        }
        let docker_bridges = if docker_named { docker_bridges_guess(ruleset) } else { None };
        let handles = ruleset.tables.iter().map(nft_handles).collect();
        let shape = shape(ruleset);
        Index { tables, chains, chain_names, target_names, handles, uses_conntrack, docker_bridges, shape }
    }

    /// Whether this index could be `ruleset`'s: the one it was made of had the same tables, each with as
    /// many chains and rules. (It says nothing of the names and rules themselves: keep an index with the
    /// ruleset it was made of.)
    pub fn fits(&self, ruleset: &Ruleset) -> bool {
        // Compared table by table, without building the ruleset's shape: the page asks at every walk.
        self.shape.len() == ruleset.tables.len()
            && self
                .shape
                .iter()
                .zip(&ruleset.tables)
                .all(|(&(name, chains, rules), t)| (name, chains, rules) == (t.name, t.chains.len(), t.rule_count()))
    }
}

/// Each table of `ruleset` with its number of chains and of rules.
fn shape(ruleset: &Ruleset) -> Vec<(TableName, usize, usize)> {
    ruleset.tables.iter().map(|t| (t.name, t.chains.len(), t.rule_count())).collect()
}

impl<'r> Simulation<'r> {
    /// Indexes `ruleset`; linear in its size.
    pub fn new(ruleset: &'r Ruleset) -> Simulation<'r> {
        Simulation { ruleset, index: Cow::Owned(Index::new(ruleset)) }
    }

    /// A simulation of `ruleset` with an index made of it before ([`Index::new`]), so that walking one
    /// more packet costs only the walk. An index that cannot be `ruleset`'s (see [`Index::fits`]) is not
    /// used: a new one is made, so that a mistaken index costs time, never a walk out of bounds.
    pub fn with_index(ruleset: &'r Ruleset, index: &'r Index) -> Simulation<'r> {
        if index.fits(ruleset) {
            Simulation { ruleset, index: Cow::Borrowed(index) }
        } else {
            Simulation::new(ruleset)
        }
    }

    /// The ruleset.
    pub fn ruleset(&self) -> &'r Ruleset {
        self.ruleset
    }

    /// The shared name of chain `chain` of table `table`.
    fn chain_name(&self, table: TableName, chain: &str) -> Arc<str> {
        self.index.tables[table as usize]
            .and_then(|t| self.index.chains[t].get(chain).map(|&c| self.index.chain_names[t][c].clone()))
            .unwrap_or_else(|| Arc::from(chain))
    }

    /// The shared name of a target of a rule in table `table`.
    fn target_name(&self, table: TableName, target: &crate::targets::Target) -> Arc<str> {
        match target.kind {
            TargetKind::Chain => self.chain_name(table, &target.name),
            _ => self.index.target_names.get(&*target.name).cloned().unwrap_or_else(|| Arc::from(&*target.name)),
        }
    }

    /// Whether a walk for one backend cannot stand for the other: the dump's tables run in another order on
    /// the nf_tables backend than on the legacy one (it has both a nat and a security table, which swap
    /// places at INPUT), or it has a TEE rule, whose copy, looped back through `lo`, comes in at another
    /// point of the walk.
    pub fn backend_matters(&self) -> bool {
        let both = self.index.tables[TableName::Nat as usize].is_some()
            && self.index.tables[TableName::Security as usize].is_some();
        both || self.index.target_names.contains("TEE")
    }

    /// The handle `iptables-nft-restore` gives rule `rule` of chain `chain` of table `table` (ruleset
    /// indexes); 0 for one there is not.
    fn handle(&self, table: usize, chain: usize, rule: usize) -> u32 {
        let Some(handles) = self.index.handles.get(table) else { return 0 };
        handles.first.get(chain).and_then(|&first| handles.handles.get(first as usize + rule)).copied().unwrap_or(0)
    }

    /// Walks `packet` through the host's netfilter and returns what happened. With no host, one is
    /// assumed (see [`assumed_host`]).
    pub fn walk(&self, host: Option<&Host>, packet: &Packet, opts: &WalkOptions) -> Trace {
        let assumed;
        let host = match host {
            Some(h) => h,
            None => {
                assumed = assumed_host(packet);
                &assumed
            }
        };
        let mut w = Walker::new(self, host, packet, opts);
        if host.assumed {
            w.trace.assumptions.push(Assumption {
                step: None,
                key: None,
                text: assumed_host_text(packet),
                matched: None,
                question: None,
            });
        }
        if !host.assumed {
            if let Some(text) = unknown_interface_text(host, packet) {
                w.trace.assumptions.push(Assumption { step: None, key: None, text, matched: None, question: None });
            }
        }
        if !self.index.uses_conntrack && self.index.tables[TableName::Nat as usize].is_some() {
            w.trace.assumptions.push(Assumption {
                step: None,
                key: None,
                text: "No rule of this dump needs connection tracking; chainwalk assumes it is on, as it is on hosts that run Docker, Kubernetes, ufw or firewalld. On a kernel where nothing else turned it on, the nat chains would not run at all.".into(),
                matched: None,
                question: None,
            });
        }
        w.run();
        w.finish()
    }
}

/// What to say when the packet comes in on (or, sent by the host, is said to leave by) an interface the
/// given host does not have: most likely a name mistyped in one of the two.
fn unknown_interface_text(host: &Host, packet: &Packet) -> Option<String> {
    let (name, how) = match (&packet.in_iface, &packet.out_iface) {
        (Some(name), _) => (name, "comes in on"),
        (None, Some(name)) => (name, "is sent out of"),
        (None, None) => return None,
    };
    if host.interface(name).is_some() {
        return None;
    }
    let known: Vec<&str> = host.interfaces.iter().map(|i| i.name.as_str()).collect();
    Some(format!(
        "The packet {how} {name}, which the host does not have (its interfaces: {}); chainwalk walks it as if \
         {name} existed, with no address or route of its own. Check the packet's interface or add {name} to the host.",
        known.join(", ")
    ))
}

/// The hash of chain and target names in the simulation's indexes: FNV-1a, which is fast on short names
/// (the default hasher made indexing a 100k-rule dump twice as slow).
struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> NameHasher {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    }
}

/// One table's rule handles under `iptables-nft-restore`, in one vector: chain by chain, rule by rule.
#[derive(Clone, Debug)]
struct Handles {
    /// Where each chain's rules start in `handles`.
    first: Vec<u32>,
    /// The handles.
    handles: Vec<u32>,
}

/// Docker (since 28.0) looks the destination of forwarded packets up in an ipset of the subnets of its
/// bridge networks that are not `--internal` (`docker-ext-bridges-v4`, `-v6`), which lives outside the
/// dump. When the dump looks it up (see [`Simulation::new`]), its contents are guessed from Docker's own
/// rules: each such network with masquerading has `-A POSTROUTING -s SUBNET ! -o BRIDGE -j MASQUERADE` in
/// the nat table. The walk uses the guess, as an assumption, only when the host's `ipset` output does not
/// give the set.
fn docker_bridges_guess(ruleset: &Ruleset) -> Option<crate::ipset::IpSet> {
    let mut set = crate::ipset::IpSet::create(docker_bridges_name(ruleset.family), "hash:net", &[]).ok()?;
    set.family = Some(ruleset.family);
    set.guessed = Some(
        "guessed from Docker's masquerading rules (`-s SUBNET ! -o BRIDGE -j MASQUERADE`): give `ipset list` \
         with the host for the real contents"
            .into(),
    );
    let nat = ruleset.tables.iter().filter(|t| t.name == TableName::Nat);
    for r in nat.flat_map(|t| &t.chains).filter(|c| c.name == "POSTROUTING").flat_map(|c| &c.rules) {
        let masquerades = r.target.as_ref().is_some_and(|t| &*t.name == "MASQUERADE");
        let (Some(src), Some(out)) = (r.generic.source(), r.generic.out_interface()) else { continue };
        if !masquerades || src.negated || !out.negated {
            continue;
        }
        if let Some(prefix) = src.value.prefix_len() {
            let value = crate::ipset::Value::Net { addr: src.value.addr, prefix };
            set.insert(vec![value]);
        }
    }
    Some(set)
}

/// The name of Docker's ipset of its bridge networks in a dump of `family`.
fn docker_bridges_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "docker-ext-bridges-v4",
        Family::Ipv6 => "docker-ext-bridges-v6",
    }
}

/// The handles `iptables-nft-restore` gives a table's rules: its declared chains take the first ones, then
/// the rules in the order the dump lists them. Linear: rules are ordered by their line through a table of
/// lines.
fn nft_handles(table: &crate::ruleset::Table) -> Handles {
    // A counting sort of the rules by line: count per line, then hand out handles line by line.
    let last_line = table.chains.iter().flat_map(|c| &c.rules).map(|r| r.span.line).max().unwrap_or(0) as usize;
    let mut first_of_line = vec![0u32; last_line + 2];
    for rule in table.chains.iter().flat_map(|c| &c.rules) {
        first_of_line[rule.span.line as usize] += 1;
    }
    let before = table.chains.iter().filter(|c| c.declared).count() as u32 + 1;
    let mut next = before;
    for slot in first_of_line.iter_mut() {
        let count = *slot;
        *slot = next;
        next += count;
    }
    let mut first = Vec::with_capacity(table.chains.len());
    let mut handles = Vec::with_capacity(table.rule_count());
    for chain in &table.chains {
        first.push(handles.len() as u32);
        handles.extend(chain.rules.iter().map(|r| {
            let slot = &mut first_of_line[r.span.line as usize];
            *slot += 1;
            *slot - 1
        }));
    }
    Handles { first, handles }
}

/// The host chainwalk assumes when none is given: the packet's destination is an address of its input
/// interface (so it is delivered locally), or for a locally generated packet its source is an address of
/// its output interface and everything else is reached through a default route there.
pub fn assumed_host(packet: &Packet) -> Host {
    let mut host = Host::loopback_only();
    host.assumed = true;
    let v6 = packet.family() == Family::Ipv6;
    let prefix = if v6 { 64 } else { 24 };
    let (iface, addr) = match &packet.in_iface {
        Some(i) => (i.clone(), packet.dst),
        None => (packet.out_iface.clone().unwrap_or_else(|| "eth0".into()), packet.src),
    };
    let is_loopback = match addr {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback(),
    };
    if iface != "lo" {
        let mut addrs = Vec::new();
        if !is_loopback {
            addrs.push(IfAddr { addr, prefix });
        }
        host.interfaces.push(HostInterface {
            name: iface.clone(),
            up: true,
            addrs,
            mac: None,
            master: None,
            mtu: None,
        });
        let any =
            if v6 { IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED) };
        host.routes.push(crate::host::Route {
            dst: any,
            prefix: 0,
            kind: crate::host::RouteKind::Unicast,
            via: None,
            dev: Some(iface),
            src: None,
            metric: 0,
            span: None,
            table: crate::policy::MAIN_TABLE,
            nexthops: Vec::new(),
            mtu: None,
            mtu_locked: false,
        });
    }
    host
}

fn assumed_host_text(packet: &Packet) -> String {
    match &packet.in_iface {
        Some(i) => format!(
            "No host was given: chainwalk assumed {} is an address of {i}, so the packet is for this host.",
            packet.dst
        ),
        None => format!(
            "No host was given: chainwalk assumed {} is an address of {} and that everything else is reached through it.",
            packet.src,
            packet.out_iface.as_deref().unwrap_or("eth0")
        ),
    }
}

/// The state conntrack gives a packet on its own, whatever state the user gave, and why: INVALID for TCP
/// flag combinations `tcp_error` refuses, a first TCP packet that cannot open a connection (`tcp_new`), an
/// ICMP message that cannot start one and is not an error about a known connection (`icmp_new`,
/// `icmp_error`), a first TCP packet without SYN when conntrack does not pick connections up midstream
/// (`nf_conntrack_tcp_loose` 0, `loose`), and a UDP-Lite packet that comes in while conntrack checks
/// checksums (`checked`); UNTRACKED for ICMPv6 neighbour discovery and multicast listener messages.
fn conntrack_verdict(p: &Packet, checked: bool, loose: bool) -> Option<(CtState, String)> {
    match p.l4 {
        // `udplite_error` checks the checksum with UDP's pseudo-header (protocol 17) where UDP-Lite's has
        // 136, so a packet with a correct checksum fails (recorded on Linux 6.18, from a UDP-Lite socket too).
        L4::Udplite { .. } if checked => Some((
            CtState::Invalid,
            "conntrack checks a UDP-Lite checksum as UDP's (net.netfilter.nf_conntrack_checksum is 1), and a \
             correct one fails that check"
                .into(),
        )),
        L4::Tcp { flags, .. } => {
            // Valid combinations, ignoring PSH, ECE and CWR (`tcp_valid_flags`).
            let f = flags.0 & !(0x08 | 0x40 | 0x80);
            const VALID: [u8; 9] = [0x02, 0x22, 0x12, 0x04, 0x14, 0x11, 0x31, 0x10, 0x30];
            if !VALID.contains(&f) {
                let flags = crate::matches::tcp::TcpFlags(flags.0);
                return Some((CtState::Invalid, format!("the TCP flags {flags} are not a valid combination")));
            }
            if p.ct_state == CtState::New && f & 0x05 != 0 && f & 0x02 == 0 {
                return Some((CtState::Invalid, "a FIN or RST cannot open a new connection".into()));
            }
            // `tcp_conntracks` sends a SYN ACK with no connection to sIV: "too late" to pick one up.
            if p.ct_state == CtState::New && f & 0x12 == 0x12 {
                return Some((CtState::Invalid, "a SYN ACK cannot open a new connection".into()));
            }
            if p.ct_state == CtState::New && f & 0x02 == 0 && !loose {
                return Some((
                    CtState::Invalid,
                    "without a SYN, a packet cannot open a new connection when conntrack does not pick connections \
                     up midstream (net.netfilter.nf_conntrack_tcp_loose is 0)"
                        .into(),
                ));
            }
            None
        }
        L4::Icmp { icmp_type, .. } if p.ct_state == CtState::New => {
            let new_ok = matches!(icmp_type, 8 | 13 | 15 | 17);
            (!new_ok).then(|| {
                (
                    CtState::Invalid,
                    format!("ICMP type {icmp_type} cannot start a connection and belongs to none conntrack knows"),
                )
            })
        }
        L4::Icmpv6 { icmp_type, .. } if matches!(icmp_type, 130..=136 | 143) => Some((
            CtState::Untracked,
            format!("conntrack does not track ICMPv6 type {icmp_type} (neighbour discovery, multicast listeners)"),
        )),
        L4::Icmpv6 { icmp_type, .. } if p.ct_state == CtState::New => (!matches!(icmp_type, 128 | 139)).then(|| {
            (
                CtState::Invalid,
                format!("ICMPv6 type {icmp_type} cannot start a connection and belongs to none conntrack knows"),
            )
        }),
        _ => None,
    }
}

/// The order in which tables run at each hook (their priorities: raw -300, conntrack -200, mangle -150,
/// nat -100 for destination NAT, filter 0, security 50 (150 on nf_tables), nat 100 for source NAT).
fn tables_at(hook: Hook, backend: Backend) -> &'static [TableName] {
    use TableName::*;
    match hook {
        Hook::Prerouting => &[Raw, Mangle, Nat],
        Hook::Input if backend == Backend::Nft => &[Mangle, Filter, Nat, Security],
        Hook::Input => &[Mangle, Filter, Security, Nat],
        Hook::Forward => &[Mangle, Filter, Security],
        Hook::Output => &[Raw, Mangle, Nat, Filter, Security],
        Hook::Postrouting => &[Mangle, Nat],
    }
}

/// The state of one walk.
struct Walker<'s, 'r> {
    sim: &'s Simulation<'r>,
    host: &'s Host,
    opts: &'s WalkOptions,
    /// The packet as it is now.
    pkt: Packet,
    /// The packet as it arrived (for the fate's and the NAT probe's sake).
    first: Packet,
    ct: ConnState,
    /// Whether conntrack has looked at the packet yet (rules before it see no connection).
    ct_seen: bool,
    /// Whether NAT has been decided for each manip type (destination, source) on this connection.
    nat_dst_done: bool,
    nat_src_done: bool,
    /// Whether the kernel would print TRACE lines now (`skb->nf_trace`).
    traced: bool,
    /// A NAT binding found for an ESTABLISHED or RELATED packet: (destination rewrite, source rewrite).
    binding: Option<nat::Binding>,
    /// Whether this walk only probes a first packet for its NAT binding (nothing is recorded).
    probe: bool,
    /// Whether this is the walk of a connection's first packet for its NAT binding ([`nat::find_binding`]),
    /// which keeps what it assumed in its nat chains (the endpoint a kube-proxy rule picked by chance, a
    /// port out of a range) in `binding_assumed`, for the walk it serves to show.
    binding_probe: bool,
    binding_assumed: Vec<Assumption>,
    /// Whether the packet is one the kernel makes itself (a REJECT's answer, a redirect), with no socket.
    kernel_made: bool,
    /// Whether the packet is the copy a TEE rule made (`nf_skb_duplicated`), which TEE does not copy again.
    duplicate: bool,
    /// The lines of a TEE copy that came back in through `lo`, with their names, waiting for the kernel to
    /// get to them: at the end of the table that made the copy (`at_table_end`), or once the packet is done.
    looped_copies: LoopedCopies,
    /// Whether the packet is such a copy on its way back in: a copy it makes that loops back too is not
    /// followed (the kernel would go on copying, each copy queued behind the last).
    looped_back: bool,
    /// Whether routing tried to send the IPv4 packet's source a redirect (`ip_rt_send_redirect`), which
    /// leaves that peer no allowance for an ICMP error for a second, whatever became of the redirect.
    redirect_tried: bool,
    /// The first ICMP message the kernel sent the packet's sender about it while it was walked, before its
    /// fate (a redirect, the fragmentation needed about a TEE copy too big for its route): its name as
    /// `--reject-with` gives it, and in words. A packet stopped later got that first.
    early_answer: Option<(&'static str, &'static str)>,
    /// Whether its first route is looked up without its source address (an IPv4 ICMP error about a packet
    /// that was not for this host).
    unspecified_source: bool,
    in_iface: Option<String>,
    out_iface: Option<String>,
    /// What the last routing decision looked at (source, destination, mark, TOS), and, for a packet of this
    /// host, the route it took.
    routed_with: (IpAddr, IpAddr, u32, u8),
    route_now: Option<RouteDecision>,
    /// The bridge port the packet came in on, when it did.
    crossing: Option<bridge::Crossing>,
    /// Whether the packet is being bridged between two ports rather than routed: its TRACE lines show
    /// `PHYSOUT=` from FORWARD on, and POSTROUTING's no `IN=`.
    bridged: bool,
    /// The bridge port the packet leaves by (bridged, or routed out of a bridge whose ports are known).
    port_out: Option<String>,
    /// The addresses `-m recent` rules put in their lists (or took out) during this walk, which later rules see.
    recent: std::cell::RefCell<Vec<crate::matches::recent::RecentEntry>>,
    /// The host's ipsets as this walk changed them (`-j SET`, element counters); `None` while unchanged.
    ipsets: Option<Vec<crate::ipset::IpSet>>,
    /// The elements `-m set` lookups counted the packet in while a rule was being evaluated (set, element,
    /// bytes), counted into `ipsets` after it.
    set_counts: std::cell::RefCell<Vec<eval::SetCount>>,
    /// How many times each match that keeps a count (statistic nth, limit, hashlimit, quota, connlimit) has
    /// run in this walk and in the answers the kernel made to it: its counter goes on, its bucket empties,
    /// when a user chain brings the packet (or its answer) to it again. Keyed by the match's address in
    /// the ruleset and, for hashlimit and connlimit, the bucket the packet takes (a hashlimit's by its
    /// table's name instead of the address: rules of one name share it).
    nth_seen: std::cell::RefCell<std::collections::HashMap<(usize, u64), u32>>,
    /// How many rules the walk has evaluated, and how many of them matched; past `budget` or
    /// [`MAX_MATCHED`] it stops undecided.
    evaluated: usize,
    matched: usize,
    /// [`evaluation_budget`] of the dump.
    budget: usize,
    trace: Trace,
    fate: Option<Fate>,
}

/// How many rules one walk evaluates at most: [`MIN_EVALUATIONS`], or eight times as many as the dump has
/// rules if that is more. Chains that jump to one another more than once can make a packet meet
/// exponentially many rules (a legal dump of 22 chains, each jumping twice to the next, makes four
/// million); the kernel would walk them all, slowly, but a walk that records each would exhaust the page's
/// memory. Without such repeated calls a packet meets each rule at most once per table it crosses: a
/// 300k-rule blocklist in INPUT makes 300,000, the 300k kube-proxy benchmark dump 8,440.
pub fn evaluation_budget(rules: usize) -> usize {
    MIN_EVALUATIONS.max(rules.saturating_mul(8))
}

/// The redirects routing sends, as [`Walker::answer_early`] takes them.
const REDIRECT: (&str, &str) = ("icmp-type-5-code-1", "an ICMP redirect (type 5, code 1)");
const REDIRECT6: (&str, &str) = ("icmp6-type-137-code-0", "an ICMPv6 redirect (type 137)");

/// The smallest budget of [`evaluation_budget`].
pub const MIN_EVALUATIONS: usize = 250_000;

/// How many rules that matched one walk follows at most. Each is a line of the walk and of its TRACE log
/// that a person reads (real walks have tens); calls that repeat exponentially make them all match.
pub const MAX_MATCHED: usize = 2_000;

impl<'s, 'r> Walker<'s, 'r> {
    fn new(sim: &'s Simulation<'r>, host: &'s Host, packet: &Packet, opts: &'s WalkOptions) -> Walker<'s, 'r> {
        let mut first = packet.clone();
        let mut notes = Vec::new();
        let crossing = bridge::arrival(host, &mut first, &mut notes);
        let mut pkt = first.clone();
        // Bridged traffic that br_netfilter keeps from iptables goes up to IP, if at all, from the bridge itself;
        // a packet that did not come in on a port meets iptables with no port at all (its PHYSOUT= only says
        // which port it leaves by).
        if crossing.as_ref().is_none_or(|c| !c.nf_call) {
            pkt.physin = None;
            pkt.physout = None;
        }
        let mut trace = Trace::default();
        trace.assumptions.extend(notes.into_iter().map(|text| Assumption {
            step: None,
            key: None,
            text,
            matched: None,
            question: None,
        }));
        let packet = &first;
        let tuple = tuple_of(packet);
        let ct = ConnState {
            state: CtState::Invalid,
            dir: packet.ct_dir,
            mark: packet.ct_mark,
            snat: false,
            dnat: false,
            original: tuple,
            reply: reply_tuple(packet),
            seen_reply: false,
            assured: false,
            confirmed: false,
            tuple_in_table: false,
        };
        Walker {
            sim,
            host,
            opts,
            pkt,
            first: packet.clone(),
            ct,
            ct_seen: false,
            nat_dst_done: false,
            nat_src_done: false,
            traced: !opts.trace_from_dump,
            binding: None,
            probe: false,
            binding_probe: false,
            binding_assumed: Vec::new(),
            kernel_made: false,
            duplicate: false,
            looped_copies: LoopedCopies::default(),
            looped_back: false,
            redirect_tried: false,
            early_answer: None,
            unspecified_source: false,
            in_iface: packet.in_iface.clone(),
            out_iface: None,
            routed_with: (packet.src, packet.dst, packet.mark, packet.tos),
            route_now: None,
            crossing,
            bridged: false,
            port_out: None,
            recent: Default::default(),
            ipsets: sim
                .index
                .docker_bridges
                .as_ref()
                .filter(|guess| host.ipset(&guess.name).is_none())
                .map(|guess| host.ipsets.iter().cloned().chain([guess.clone()]).collect()),
            set_counts: Default::default(),
            nth_seen: Default::default(),
            evaluated: 0,
            matched: 0,
            budget: evaluation_budget(sim.ruleset.rule_count()),
            trace,
            fate: None,
        }
    }

    fn family(&self) -> Family {
        self.pkt.family()
    }

    /// Whether the packet came from outside in a frame to a broadcast or multicast link address (its
    /// `pkt_type`, which a DNAT does not change).
    fn came_in_frame_to_all(&self) -> bool {
        let first = &self.first;
        first.in_iface.is_some()
            && !first.is_local_out()
            && (first.dst.is_multicast()
                || crate::matches::pkttype::came_in_broadcast_frame(self.host, first.in_iface.as_deref(), first.dst))
    }

    /// The ipsets as the walk has them now.
    fn ipsets(&self) -> &[crate::ipset::IpSet] {
        self.ipsets.as_deref().unwrap_or(&self.host.ipsets)
    }

    /// The ipsets, to change.
    fn ipsets_mut(&mut self) -> &mut Vec<crate::ipset::IpSet> {
        self.ipsets.get_or_insert_with(|| self.host.ipsets.clone())
    }

    fn forwarding(&self) -> bool {
        match self.family() {
            Family::Ipv4 => match self.in_iface.as_deref() {
                Some(dev) => self.host.ipv4_forwards_from(dev),
                None => self.host.ip_forward,
            },
            Family::Ipv6 => match self.in_iface.as_deref() {
                Some(dev) => self.host.ipv6_forwards_from(dev),
                None => self.host.ipv6_forward,
            },
        }
    }

    fn run(&mut self) {
        if !(self.refused_on_arrival() || self.held_for_reassembly()) {
            if self.pkt.in_iface.is_some() {
                self.incoming();
            } else {
                self.outgoing();
            }
        }
        self.take_looped_copies(true);
        self.report_early_answer();
    }

    /// Puts the lines of the TEE copies that came back in through `lo` into the log where the kernel
    /// prints them: at the end of a table (`ipt_do_table` runs the softirqs its copy raised when it lets
    /// them run again), or, with `all`, once the packet's walk is over.
    fn take_looped_copies(&mut self, all: bool) {
        let mut waiting = std::mem::take(&mut self.looped_copies.at_table_end);
        if all {
            waiting.append(&mut self.looped_copies.at_walk_end);
        }
        for (log, names) in waiting {
            self.trace.log.extend(log);
            self.trace.trace.extend(names);
        }
    }

    /// What IPv6's receive path (`ip6_rcv_core`) drops before PREROUTING, silently, for a packet that came
    /// in on an interface other than `lo`: any, where `disable_ipv6` turned IPv6 off; a loopback source or destination (RFC 4291 2.5.3), an
    /// interface-local multicast destination (scope 1, RFC 4291 errata 3480), a multicast destination of the
    /// reserved scope 0, and a multicast source (RFC 4291 2.7). Recorded. A frame crossing a bridge meets
    /// br_netfilter's PREROUTING first, which chainwalk does not take apart here.
    fn refused_on_arrival(&mut self) -> bool {
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (self.pkt.src, self.pkt.dst) else { return false };
        let Some(dev) = self.pkt.in_iface.as_deref().filter(|dev| *dev != "lo") else { return false };
        if self.crossing.is_some() {
            return false;
        }
        let scope = |a: std::net::Ipv6Addr| a.segments()[0] & 0x000f;
        let why = if self.host.ipv6_disabled(dev) {
            format!("IPv6 is off on {dev} (net.ipv6.conf.{dev}.disable_ipv6 or all's is 1)")
        } else if src.is_loopback() || dst.is_loopback() {
            let which = if src.is_loopback() { "source" } else { "destination" };
            format!("the {which} is the loopback address ::1, which never comes from another node")
        } else if dst.is_multicast() && scope(dst) == 1 {
            format!("the destination {dst} is an interface-local multicast group, which never comes from another node")
        } else if dst.is_multicast() && scope(dst) == 0 {
            format!("the destination {dst} is a multicast group of the reserved scope 0")
        } else if src.is_multicast() {
            format!("the source {src} is a multicast address")
        } else {
            return false;
        };
        let why = format!("{why}, so IPv6 drops the packet as it arrives, before PREROUTING");
        let path = if self.for_this_host() { Path::Input } else { Path::Forward };
        self.stage(None, StageKind::Arrival, StageStatus::Stopped, why.clone());
        self.stop_by_routing(path, why, None);
        true
    }

    /// A fragment (MF set, or an offset) never meets a chain alone: connection tracking, which chainwalk takes
    /// as on (as on most hosts, and in the recorder's lab), reassembles packets first, at priority -400 on
    /// PREROUTING and OUTPUT, before the raw table (`nf_defrag_ipv4`, `nf_defrag_ipv6`). A lone fragment
    /// waits for the rest and is dropped, silently, when reassembly times out. Recorded from the kernel.
    fn held_for_reassembly(&mut self) -> bool {
        if !self.pkt.more_fragments && self.pkt.fragment_offset == 0 {
            return false;
        }
        // A frame the bridge forwards without passing it to iptables never meets the IP hooks at all.
        if self.frame_is_bridged() && !self.crossing.as_ref().is_some_and(|c| c.nf_call) {
            return false;
        }
        let (hook, path) = match self.pkt.in_iface {
            None => (Hook::Output, Path::Output),
            Some(_) if self.for_this_host() => (Hook::Prerouting, Path::Input),
            Some(_) => (Hook::Prerouting, Path::Forward),
        };
        let which = if self.pkt.fragment_offset == 0 {
            "a first fragment (MF set)".to_string()
        } else {
            format!("a later fragment (offset {} bytes)", u32::from(self.pkt.fragment_offset) * 8)
        };
        let why = format!(
            "the packet is {which}: connection tracking reassembles fragments before the raw table, so no chain \
             sees it alone; it waits for the rest of the packet and is dropped when they do not come (the chains \
             see the whole packet: describe that one instead, and note that `-f` then never matches)"
        );
        self.stage(Some(hook), StageKind::Conntrack, StageStatus::Stopped, why.clone());
        self.stop_by_routing(path, why, None);
        true
    }

    /// PREROUTING, the routing decision, then INPUT or FORWARD and POSTROUTING.
    fn incoming(&mut self) {
        let bridged = self.frame_is_bridged();
        let nf_call = self.crossing.as_ref().is_some_and(|c| c.nf_call);
        if bridged {
            let port = self.choose_port_out(false);
            if !nf_call {
                self.bridged = true;
                self.bridge_forward(port, false);
                return;
            }
            // The bridge has not picked the port yet: PREROUTING's physdev match sees it as not known.
            self.pkt.physout = port;
        } else if self.crossing.is_some() {
            self.pkt.physout = None;
        }
        let dst_before = self.pkt.dst;
        if !self.hook(Hook::Prerouting) {
            return;
        }
        if nf_call {
            if self.still_bridged(dst_before, bridged) {
                self.bridged = true;
                let translated = self.pkt.dst != dst_before;
                let port = if translated { self.choose_port_out(true) } else { self.pkt.physout.clone() };
                self.bridge_forward(port, translated);
                return;
            }
            self.pkt.physout = None;
        }
        if let Some(why) = self.martian() {
            let path = if self.for_this_host() { Path::Input } else { Path::Forward };
            self.stage(None, StageKind::Routing, StageStatus::Stopped, why.clone());
            self.stop_by_routing(path, why, None);
            return;
        }
        let decision = match self.group_or_broadcast() {
            Some(d) => d,
            None => self.route_decision(),
        };
        match decision {
            RouteDecision::Local { .. } => {
                if self.hook(Hook::Input) {
                    self.deliver();
                }
            }
            RouteDecision::Forward { dev, via, mtu, mtu_locked, .. } => {
                if !self.forwarding() {
                    let dev = self.in_iface.clone().unwrap_or_default();
                    let knob = if self.family() == Family::Ipv6 {
                        "net.ipv6.conf.all.forwarding".to_string()
                    } else if self.host.ip_forward_dev.iter().any(|(d, _)| *d == dev) {
                        format!("net.ipv4.conf.{dev}.forwarding")
                    } else {
                        "net.ipv4.ip_forward".to_string()
                    };
                    let given = self.host.forwarding_given[usize::from(self.family() == Family::Ipv6)];
                    if !given && !self.host.assumed {
                        self.trace.assumptions.push(Assumption {
                            step: None,
                            key: None,
                            text: format!(
                                "The host does not give {knob}: chainwalk takes the kernel's default, 0, so the host \
                                 does not forward. Routers, Docker and Kubernetes hosts turn it on; add `{knob} = 1` \
                                 to the host if this one does."
                            ),
                            matched: None,
                            question: None,
                        });
                    }
                    let mut default = if given { "" } else { " (the kernel's default)" }.to_string();
                    if self.family() == Family::Ipv6 && !self.host.ipv6_force_forwarding.is_empty() {
                        default += &format!(", and so is net.ipv6.conf.{dev}.force_forwarding");
                    }
                    self.stop_by_routing(
                        Path::Forward,
                        format!("the packet is not for this host and {knob} is 0{default}, so it is not forwarded"),
                        None,
                    );
                    return;
                }
                // `ip_forward` forwards only what came in a frame to this host's own link address: a packet
                // that came to a broadcast or multicast address and that a DNAT sent elsewhere is dropped
                // there, before FORWARD, silently.
                let frame = if dst_before.is_multicast() {
                    Some("multicast")
                } else if crate::matches::pkttype::came_in_broadcast_frame(
                    self.host,
                    self.in_iface.as_deref(),
                    dst_before,
                ) {
                    Some("broadcast")
                } else {
                    None
                };
                if let Some(frame) = frame {
                    self.stop_by_routing(
                        Path::Forward,
                        format!(
                            "the packet came in a {frame} frame (to {dst_before}), and the kernel forwards only packets \
                             that came to this host's own link address, so it drops this one before FORWARD"
                        ),
                        None,
                    );
                    return;
                }
                if self.pkt.ttl <= 1 {
                    let (what, icmp) = match self.family() {
                        Family::Ipv4 => ("TTL", "icmp-time-exceeded"),
                        Family::Ipv6 => ("hop limit", "icmp6-time-exceeded"),
                    };
                    self.stop_by_routing(
                        Path::Forward,
                        format!("the packet's {what} ran out, so it is not forwarded"),
                        Some(icmp.into()),
                    );
                    return;
                }
                if let Some((why, icmp)) = self.ipv6_source_out_of_scope(&dev) {
                    self.stop_by_routing(Path::Forward, why, icmp);
                    return;
                }
                // IPv6 sends its redirect before it checks the size, IPv4 after.
                if self.ipv6_redirect_sent(&dev, via) {
                    self.answer_early(REDIRECT6);
                }
                // IPv6 checks a forwarded packet against its route's MTU here only when that MTU is locked
                // (`ip6_dst_mtu_maybe_forward`), and against it after POSTROUTING otherwise.
                let v6 = self.family() == Family::Ipv6;
                let (mtu_now, mtu_later) = if v6 && !mtu_locked { (None, mtu) } else { (mtu, None) };
                if let Some((why, icmp)) = self.too_big(&dev, mtu_now, "before FORWARD") {
                    self.stop_by_routing(Path::Forward, why, Some(icmp.into()));
                    return;
                }
                if self.redirect_sent(&dev, via) {
                    self.answer_early(REDIRECT);
                }
                self.pkt.ttl -= 1;
                self.out_iface = Some(dev.clone());
                if self.hook(Hook::Forward) && self.hook(Hook::Postrouting) {
                    // `ip6_fragment` checks an unlocked route MTU (and does not fragment what it forwards).
                    let when = "after POSTROUTING (an unlocked route MTU is not checked before FORWARD)";
                    match mtu_later.and_then(|m| self.too_big(&dev, Some(m), when)) {
                        Some((why, icmp)) => self.stop_by_routing(Path::Forward, why, Some(icmp.into())),
                        None => self.egress(Path::Forward, via),
                    }
                }
            }
            RouteDecision::Unroutable { reason, route: kind } => {
                // `ip_error`: an IPv4 packet that came in on an interface that does not forward gets no ICMP
                // error when routing refuses it (recorded).
                if self.family() == Family::Ipv4 && !self.forwarding() {
                    let dev = self.in_iface.clone().unwrap_or_default();
                    self.stop_by_routing(
                        Path::Forward,
                        format!(
                            "routing drops the packet: {reason}; {dev} does not forward, so the kernel sends no \
                             ICMP error"
                        ),
                        None,
                    );
                    return;
                }
                self.stop_by_routing(
                    Path::Forward,
                    format!("routing drops the packet: {reason}"),
                    route_error(self.family(), kind),
                );
            }
        }
    }

    /// Why the packet is too big to be forwarded out of `out`, and the ICMP error the sender gets, if it is:
    /// `ip_forward` and `ip6_forward` check it after the TTL (and, for IPv6, the source's scope), before
    /// FORWARD, against the route's MTU (`route_mtu`: IPv6 passes it only when it is locked, and checks an
    /// unlocked one after POSTROUTING, in `ip6_fragment`; recorded) or else the interface's (1500 when the
    /// host does not say, as for an Ethernet or veth link; 65536 for `lo`). An IPv4 packet may be fragmented instead
    /// unless it has DF set; an IPv6 router never fragments, and takes at least 1280 as the MTU. `when` says
    /// where the kernel drops it.
    fn too_big(&self, out: &str, route_mtu: Option<u32>, when: &str) -> Option<(String, &'static str)> {
        let v6 = self.family() == Family::Ipv6;
        let len = u32::from(self.pkt.len);
        let (given, whose) = match (route_mtu, self.host.interface(out).and_then(|i| i.mtu)) {
            (Some(m), _) => (m, format!("the MTU of the route out of {out}")),
            (None, Some(m)) => (m, format!("the MTU of {out}")),
            (None, None) => {
                let m = if out == "lo" { 65536 } else { 1500 };
                (m, format!("the MTU of {out} (the host does not give it; {m} is assumed)"))
            }
        };
        let mtu = if v6 { given.max(1280) } else { given };
        if len <= mtu || !(v6 || self.pkt.dont_fragment) {
            return None;
        }
        Some(if v6 {
            (
                format!(
                    "the packet (LEN={len}) is bigger than {whose}, {mtu}, and an IPv6 router never fragments, so \
                     the kernel drops it {when} and tells the sender the MTU (ICMPv6 packet too big)"
                ),
                "icmp6-packet-too-big",
            )
        } else {
            (
                format!(
                    "the packet (LEN={len}) is bigger than {whose}, {mtu}, and may not be fragmented (DF), so the \
                     kernel drops it {when} and tells the sender the MTU (ICMP fragmentation needed)"
                ),
                "icmp-frag-needed",
            )
        })
    }

    /// Whether routing tells the sender of an IPv4 packet it forwards back out of `out`, the interface it came
    /// in on, of a better first hop: an ICMP redirect (type 5, code 1), sent before FORWARD (`__mkroute_input`
    /// sets `IPSKB_DOREDIRECT` when the source is directly on that interface's link, `send_redirects` is on
    /// and the link is shared or the source shares a subnet with the gateway `via`; `ip_forward` sends it),
    /// unless NAT drops it. The redirect is the host's own packet, RELATED to the forwarded one's
    /// connection, so it must get through OUTPUT and back to the sender like a REJECT's answer.
    fn redirect_sent(&mut self, out: &str, via: Option<IpAddr>) -> bool {
        let Some(came_in) = self.in_iface.clone() else { return false };
        if self.family() != Family::Ipv4 || came_in != out || !self.host.sends_redirects(out) {
            return false;
        }
        // `fib_validate_source` answers 1 only when the way back to the source (looked up through the
        // routing policy as for the reverse-path filter) is a route through `out` with no gateway (a next hop
        // of host scope); when the best way back goes elsewhere and the filter is not strict, the best way
        // through `out` (`flowi4_oif`) decides (recorded: match_diff seed 54665, where `iif` of the way back
        // picked a table whose route to the source has a gateway).
        let IpAddr::V4(src) = self.pkt.src else { return false };
        let mut flow = self.way_back(&came_in, src, Some(out));
        let direct = |decision: RouteDecision| matches!(decision, RouteDecision::Forward { via: None, .. });
        let sends = if self.host.route_uses_dev(&flow, out) {
            direct(self.host.route_flow(&flow).0)
        } else if self.host.rp_filter_mode(&came_in) == 1 {
            false
        } else {
            flow.oif = Some(out);
            flow.strict_oif = true;
            direct(self.host.route_flow(&flow).0)
        };
        // Unless the link is taken as shared, the source and the gateway must be in one subnet of it.
        if !sends || !(self.host.shared_media(out) || self.host.on_link_together(out, IpAddr::V4(src), via)) {
            return false;
        }
        // `ip_rt_send_redirect` empties the source's token bucket before `icmp_send` decides anything.
        self.redirect_tried = true;
        // `icmp_send` sends a redirect as it sends any error: not about an ICMP error or a type it takes
        // for one (a router advertisement, match_diff seed 25054), nor about a packet to many.
        if target::nothing_sent_back(&self.pkt, self.host, false, self.came_in_frame_to_all()).is_some() {
            return false;
        }
        // Where the nat table is loaded, NAT drops a redirect about a connection whose translation is not
        // settled both ways yet (a first packet's source NAT comes in POSTROUTING) or that is translated
        // (`nf_nat_icmp_reply_translation`).
        // (A packet without a connection, INVALID or UNTRACKED, gives its redirect none, which NAT leaves alone.)
        if self.sim.index.tables[TableName::Nat as usize].is_some()
            && !matches!(self.ct.state, CtState::Untracked | CtState::Invalid)
        {
            let settled = matches!(self.ct.state, CtState::Established | CtState::Related)
                && self.binding.as_ref().is_none_or(|b| b.dst.is_none() && b.src.is_none());
            if !settled {
                return false;
            }
        }
        let redirect = L4::Icmp { icmp_type: 5, code: 1 };
        let sent = target::answer_lost(self, redirect).is_none();
        if sent && !self.probe {
            let note = format!(
                "routing sends the packet back out of {out}, where it came in, and {src} is on {out}'s link: \
                 the host sends {src} an ICMP redirect (type 5, code 1) before FORWARD"
            );
            self.stage(None, StageKind::Routing, StageStatus::Passed, note);
        }
        sent
    }

    /// Whether routing tells the sender of an IPv6 packet it forwards back out of `out`, the interface it came
    /// in on, of a better first hop (`ip6_forward`, before the size check and FORWARD; `ndisc_send_redirect`):
    /// an ICMPv6 redirect (type 137) from `out`'s link-local address, about the next hop `via` when it is
    /// link-local, else the destination itself when it is on the link, sent only when the route back to the
    /// source has no gateway. Unlike IPv4's, it is sent whatever the packet is, and is no ICMP error:
    /// conntrack gives it no connection (INVALID), and it must get through OUTPUT and POSTROUTING.
    fn ipv6_redirect_sent(&mut self, out: &str, via: Option<IpAddr>) -> bool {
        let (Some(came_in), IpAddr::V6(src)) = (self.in_iface.clone(), self.pkt.src) else { return false };
        if came_in != out || self.probe {
            return false;
        }
        let link_local = |a: IpAddr| matches!(a, IpAddr::V6(v) if v.is_unicast_link_local());
        // The target must be the destination or a link-local next hop.
        if via.is_some_and(|g| g != self.pkt.dst && !link_local(g)) {
            return false;
        }
        let Some((from, assumed)) = self.host.link_local_address(out) else { return false };
        let flow = crate::policy::Flow {
            src: Some(IpAddr::V6(from)),
            proto: Some(58),
            oif: Some(out),
            ..crate::policy::Flow::to(IpAddr::V6(src))
        };
        // (A link-local source is on the link by definition: every interface routes `fe80::/64`.)
        if !link_local(IpAddr::V6(src))
            && !matches!(self.host.route_flow(&flow).0, RouteDecision::Forward { via: None, .. })
        {
            return false;
        }
        let mut redirect =
            crate::packet::Packet::new(IpAddr::V6(from), IpAddr::V6(src), L4::Icmpv6 { icmp_type: 137, code: 0 });
        redirect.ttl = 255;
        // The message (40 bytes with its target and destination), the target's link address (8 bytes on
        // Ethernet, for a neighbour it knows) and as much of the packet as fits in 1280 bytes, in eights.
        let quoted = (u32::from(self.pkt.len) + 8).min(1280 - 40 - 40 - 8) & !7;
        redirect.len = (40 + 40 + 8 + quoted) as u16;
        redirect.out_iface = Some(out.to_string());
        let sent = target::kernel_packet_lost(self, redirect, false, false).is_none();
        if sent {
            let assumed = if assumed { ", assumed as the host lists none" } else { "" };
            let note = format!(
                "routing sends the packet back out of {out}, where it came in, and {src} is on {out}'s link: the \
                 host sends {src} an ICMPv6 redirect (type 137) from {out}'s link-local address ({from}{assumed}) \
                 before FORWARD"
            );
            self.stage(None, StageKind::Routing, StageStatus::Passed, note);
        }
        sent
    }

    /// Notes that the kernel sent the packet's sender `answer` (its `--reject-with` name, and in words) about
    /// it now, unless it had sent it something else first.
    fn answer_early(&mut self, answer: (&'static str, &'static str)) {
        if !self.probe && self.early_answer.is_none() {
            self.early_answer = Some(answer);
        }
    }

    /// A packet stopped after the kernel had sent its sender something about it (a redirect, an error about a
    /// TEE copy): what came back to the sender first is that, before any answer of a REJECT.
    fn report_early_answer(&mut self) {
        let Some((name, what)) = self.early_answer else { return };
        let stopped = |f: &&mut Fate| !matches!(f.verdict, FateVerdict::Accept | FateVerdict::Undecided);
        if let Some(f) = self.fate.as_mut().filter(stopped) {
            f.verdict = FateVerdict::Reject;
            f.reject_with = Some(name.into());
            f.summary.push_str(&format!(" Its sender had already been sent {what}."));
        }
    }

    /// Takes `decision` as the route of a packet of this host: its output interface, or, with no route, the
    /// end of its walk (`when` says after what, for a route taken again). Returns whether it goes on.
    fn take_route(&mut self, decision: RouteDecision, when: &str) -> bool {
        match &decision {
            RouteDecision::Local { .. } => self.out_iface = Some("lo".into()),
            // `__mkroute_output`: a loopback source leaves by no interface but `lo` unless the interface has
            // `route_localnet` (its own or all's); the sender's call fails with EINVAL, and a packet NAT or
            // mangle OUTPUT routes again is dropped there (recorded).
            RouteDecision::Forward { dev, .. }
                if matches!(self.pkt.src, IpAddr::V4(s) if s.is_loopback()) && !self.host.route_localnet(dev) =>
            {
                let src = self.pkt.src;
                let why = format!(
                    "{}routing does not send a packet from {src}, a loopback address, out of {dev} \
                     (route_localnet is 0 for {dev} and for all): the sender's call fails with EINVAL",
                    if when.is_empty() { String::new() } else { format!("{when}, ") }
                );
                if let Some(stage) = self.trace.stages.last_mut().filter(|s| s.kind == StageKind::Routing) {
                    stage.status = StageStatus::Stopped;
                    stage.note = format!("{}, but {why}", stage.note);
                }
                self.stop_by_routing(Path::Output, why, None);
                self.route_now = Some(decision.clone());
                return false;
            }
            RouteDecision::Forward { dev, .. } => self.out_iface = Some(dev.clone()),
            RouteDecision::Unroutable { reason, route: kind } => {
                let why = if when.is_empty() {
                    format!("the host has no route for it: {reason}")
                } else {
                    format!("{when}, {reason}")
                };
                // No ICMP error is made for a packet of this host: the sender's own call fails with
                // routing's error (recorded: `sendto` returns it, and nothing leaves).
                let errno = match kind {
                    Some(RouteKind::Blackhole) => "EINVAL",
                    Some(RouteKind::Unreachable) => "EHOSTUNREACH",
                    Some(RouteKind::Prohibit) => "EACCES",
                    _ => "ENETUNREACH",
                };
                let why = format!("{why}; the sending program's call fails with {errno}");
                self.stop_by_routing(Path::Output, why, None);
                // Kept for whoever asks why the packet went no further (a REJECT's lost answer).
                self.route_now = Some(decision.clone());
                return false;
            }
        }
        self.route_now = Some(decision);
        true
    }

    /// The routing decision for a locally generated packet, OUTPUT, POSTROUTING, and for a packet to this
    /// host the way back in through `lo`.
    fn outgoing(&mut self) {
        let decision = self.route_decision();
        if !self.take_route(decision, "") {
            return;
        }
        if !self.hook(Hook::Output) {
            return;
        }
        if let Some(RouteDecision::Forward { dev, .. }) = &self.route_now {
            // Taken again in mangle or nat OUTPUT: POSTROUTING sees where it goes now.
            self.out_iface = Some(dev.clone());
        } else if let Some(RouteDecision::Local { .. }) = &self.route_now {
            self.out_iface = Some("lo".into());
        }
        if !self.hook(Hook::Postrouting) {
            return;
        }
        let Some(decision) = self.route_now.clone() else { return };
        match decision {
            // The kernel's answer to a packet of this host is back with its sender once it is sent on lo,
            // whatever PREROUTING and INPUT then do with it (a capture on lo sees it).
            RouteDecision::Local { .. } if self.kernel_made => self.deliver(),
            RouteDecision::Local { .. } => {
                // Out through lo and back in: the connection is tracked and NATed already.
                self.in_iface = Some("lo".into());
                self.out_iface = None;
                self.pkt.in_iface = Some("lo".into());
                if self.hook(Hook::Prerouting) && self.hook(Hook::Input) {
                    self.deliver();
                }
            }
            RouteDecision::Forward { via, .. } => self.egress(Path::Output, via),
            RouteDecision::Unroutable { .. } => {}
        }
    }

    /// The copy a TEE rule at `hook` makes of the packet (`nf_dup_ipv4`, `nf_dup_ipv6`), walked at once,
    /// while the rule runs, as the kernel sends it: routed to `gateway` (through `oif` when the rule names
    /// one) with no mark, then out through OUTPUT and POSTROUTING by `ip_local_out`, with no socket and no
    /// connection (UNTRACKED, so no nat chain), the original's mark, one hop less when it was copied in
    /// PREROUTING or INPUT, and DF set. It keeps the original's mark for tracing, so its TRACE lines come
    /// right after the TEE rule's own (recorded), marked [`LogLine::copy`]; POSTROUTING's show the
    /// interface the copy was first routed out of as `IN=` too. What it changes of the walk's state (counters,
    /// recent lists, ipsets) the original sees after it. Returns what became of the copy.
    ///
    /// [`LogLine::copy`]: crate::trace::LogLine::copy
    fn tee_copy(&mut self, gateway: IpAddr, oif: Option<&str>, hook: Hook, step: Option<usize>) -> String {
        if self.duplicate {
            return "this packet is itself a copy TEE made, and the kernel does not copy a copy".to_string();
        }
        let to =
            format!("{}{}", crate::ruleset::addr::Ip(gateway), oif.map(|o| format!(" out of {o}")).unwrap_or_default());
        if self.probe {
            return format!("a copy of the packet is routed to {to}");
        }
        // A named interface the host does not have leaves the target without one (`tee_netdev_event`).
        if let Some(o) = oif.filter(|o| !self.host.assumed && self.host.interface(o).is_none()) {
            return format!("no copy is made: the host has no interface {o}");
        }
        let v4 = gateway.is_ipv4();
        let flow = crate::policy::Flow {
            tos: if v4 { self.pkt.tos } else { 0 },
            oif,
            strict_oif: oif.is_some(),
            ..crate::policy::Flow::to(gateway)
        };
        let decision = match (self.host.route_flow(&flow).0, oif) {
            (RouteDecision::Local { dev }, Some(o)) if v4 && dev == o => RouteDecision::Local { dev },
            // An IPv4 lookup through a named interface takes only routes through it, and when it finds none
            // (or an unreachable one), takes the gateway as on its link (`fib_table_lookup`,
            // `ip_route_output_key_hash_rcu`): the copy leaves by that interface.
            (_, Some(o)) if v4 => RouteDecision::Forward {
                dev: o.to_string(),
                via: None,
                src: None,
                multipath: 0,
                mtu: None,
                mtu_locked: false,
            },
            (RouteDecision::Unroutable { reason, .. }, _) => {
                return format!("no copy is made for {to}: {reason}");
            }
            (d, _) => d,
        };
        let dev = match &decision {
            RouteDecision::Forward { dev, .. } => dev.clone(),
            _ => "lo".to_string(),
        };
        let mut copy = self.pkt.clone();
        copy.in_iface = None;
        copy.out_iface = Some(dev.clone());
        copy.physin = None;
        copy.physout = None;
        copy.ct_state = CtState::Untracked;
        copy.ct_mark = 0;
        copy.uid = None;
        copy.gid = None;
        if matches!(hook, Hook::Prerouting | Hook::Input) {
            copy.ttl = copy.ttl.wrapping_sub(1);
        }
        if v4 {
            copy.dont_fragment = true;
        }
        let mut c = Walker::new(self.sim, self.host, &copy, self.opts);
        c.duplicate = true;
        c.kernel_made = true;
        c.traced = self.traced;
        c.ct.state = CtState::Untracked;
        c.ct.mark = 0;
        // The copy's headers are the packet's as they are now: the connection's own tuple, when no NAT has
        // changed them halfway (after DNAT in PREROUTING the packet matches neither direction).
        let tuple = tuple_of(&c.pkt);
        // (An INVALID packet has no connection to find: match_diff seed 56701.)
        c.ct.tuple_in_table = crate::matches::conntrack::has_connection(&self.ct)
            && self.ct.confirmed
            && (tuple == self.ct.original || tuple == self.ct.reply);
        c.nth_seen = self.nth_seen.clone();
        c.recent = self.recent.clone();
        c.ipsets = self.ipsets.clone();
        // The copies share the walk's budget: chains that call a TEE rule over and over make many.
        (c.evaluated, c.matched, c.budget) = (self.evaluated, self.matched, self.budget);
        c.out_iface = Some(dev.clone());
        c.routed_with = c.route_key();
        c.route_now = Some(decision);
        let first_out = dev.clone();
        let mut passed = c.hook(Hook::Output);
        if passed {
            c.out_iface = match &c.route_now {
                Some(RouteDecision::Forward { dev, .. }) => Some(dev.clone()),
                _ => Some("lo".into()),
            };
            // `ip_output` passes the device the copy was routed to first (`skb->dev`) as POSTROUTING's input.
            c.in_iface = Some(dev.clone());
            passed = c.hook(Hook::Postrouting);
        }
        // A copy routed to an address of this host comes back in through `lo` with the local route it took
        // (so INPUT, whatever its destination), still UNTRACKED (no nat chain) (recorded: match_diff seeds
        // 55732 and 55964).
        let (sent_log, sent_names) = (c.trace.log.len(), c.trace.trace.len());
        let to_this_host = passed && matches!(c.route_now, Some(RouteDecision::Local { .. }));
        let too_big = self.tee_copy_too_big(&c, passed && !to_this_host);
        let looped = to_this_host && !self.looped_back;
        let mut delivered = false;
        if looped {
            // Back in, it is a packet like any other to TEE (`nf_skb_duplicated` held only while it was sent).
            c.duplicate = false;
            c.looped_back = true;
            c.in_iface = Some("lo".into());
            c.out_iface = None;
            c.pkt.in_iface = Some("lo".into());
            delivered = c.hook(Hook::Prerouting) && c.hook(Hook::Input);
        }
        (self.evaluated, self.matched) = (c.evaluated, c.matched);
        self.nth_seen = c.nth_seen;
        self.recent = c.recent;
        if c.ipsets.is_some() {
            self.ipsets = c.ipsets;
        }
        if let Some(s) = step {
            let mut log = c.trace.log;
            for l in &mut log {
                l.step = s;
                l.copy = l.copy.saturating_add(1);
            }
            let mut names = c.trace.trace;
            let (back_log, back_names) = (log.split_off(sent_log), names.split_off(sent_names));
            self.trace.log.extend(log);
            self.trace.trace.extend(names);
            // The copy's way back in waits in lo's queue for the softirq: a packet of a program (OUTPUT, or
            // POSTROUTING before it loops back itself) runs it when the legacy table that made the copy
            // ends, or, on nf_tables (no such table lock), as soon as TEE is done; a packet that came in is
            // in the softirq already, and the copy's turn comes once it is done (recorded).
            if !back_log.is_empty() {
                let from_program = self.in_iface.is_none();
                if from_program && self.opts.backend == Backend::Nft {
                    // Walked while TEE runs: the nf_tables trace puts it before the rule's line too.
                    self.trace.log.extend(back_log);
                    self.trace.trace.extend(back_names);
                } else {
                    let later = (back_log.into_iter().map(|l| LogLine { later: true, ..l }).collect(), back_names);
                    match from_program {
                        true => self.looped_copies.at_table_end.push(later),
                        false => self.looped_copies.at_walk_end.push(later),
                    }
                }
            }
        }
        let ttl = if v4 { "TTL" } else { "hop limit" };
        let gw = crate::ruleset::addr::Ip(gateway);
        let what = format!("a copy of the packet (UNTRACKED, {ttl} {}) is routed to {gw} out of {first_out}", copy.ttl);
        let leaves = if too_big.is_some() { "gets through" } else { "leaves after" };
        let done = match (passed, c.out_iface, c.fate) {
            (true, _, _) if to_this_host && !looped => format!(
                "{what}, an address of this host: it goes out through lo and comes back in, a copy of a copy that \
                 came back the same way (chainwalk follows one such loop; the kernel goes on copying)"
            ),
            (true, _, _) if looped && delivered => format!(
                "{what}, an address of this host: after OUTPUT and POSTROUTING it goes out through lo and comes back \
                 in through PREROUTING and INPUT, to this host"
            ),
            (true, _, Some(f)) if looped => {
                let mut why = f.summary;
                if let Some(first) = why.get_mut(..1) {
                    first.make_ascii_lowercase();
                }
                format!(
                    "{what}, an address of this host: it comes back in through lo, and is {}",
                    why.trim_end_matches('.')
                )
            }
            (true, Some(out), _) if out == first_out => format!("{what} and {leaves} OUTPUT and POSTROUTING"),
            (true, Some(out), _) if too_big.is_some() => format!("{what}, routed again in OUTPUT, out of {out}"),
            (true, Some(out), _) => format!("{what}, routed again in OUTPUT, and leaves out of {out}"),
            (_, _, Some(f)) => {
                let mut why = f.summary;
                if let Some(first) = why.get_mut(..1) {
                    first.make_ascii_lowercase();
                }
                format!("{what}, and is {}", why.trim_end_matches('.'))
            }
            _ => format!("{what}; it does not get out"),
        };
        match too_big {
            Some(why) => format!("{done}, {why}"),
            None => done,
        }
    }

    /// What becomes of the copy `c` a TEE rule made of this packet once it has left POSTROUTING (`leaves`) by
    /// its route, if it is bigger than that route's MTU (or its interface's): `nf_dup_ipv4` sets DF on the
    /// copy so that the packet's sender hears of a smaller MTU on the copy's way, so the kernel drops it
    /// there (`ip_fragment`; `ip6_fragment` for IPv6, which never fragments it either) and sends the
    /// sender an ICMP fragmentation needed (ICMPv6 packet too big) about it, at once, ahead of anything it
    /// sends about the packet itself later (recorded).
    fn tee_copy_too_big(&mut self, c: &Walker<'_, '_>, leaves: bool) -> Option<String> {
        let Some(RouteDecision::Forward { dev, mtu, .. }) = c.route_now.as_ref().filter(|_| leaves) else {
            return None;
        };
        let (_, name) = c.too_big(dev, *mtu, "")?;
        let (l4, what, early, why) = match self.family() {
            Family::Ipv4 => (
                L4::Icmp { icmp_type: 3, code: 4 },
                "an ICMP fragmentation needed",
                "an ICMP fragmentation needed about a TEE rule's copy of it",
                "may not be fragmented (TEE sets DF on its copies)",
            ),
            Family::Ipv6 => (
                L4::Icmpv6 { icmp_type: 2, code: 0 },
                "an ICMPv6 packet too big",
                "an ICMPv6 packet too big about a TEE rule's copy of it",
                "IPv6 fragments only what a socket sends",
            ),
        };
        let src = self.pkt.src;
        let given = mtu.or_else(|| self.host.interface(dev).and_then(|i| i.mtu));
        let mtu = given.map_or_else(|| format!("{dev}'s"), |m| m.to_string());
        let dropped =
            format!("but it is bigger than the MTU of its way out ({mtu}) and {why}, so the kernel drops it there");
        let lost = target::nothing_sent_back(&c.pkt, self.host, false, self.came_in_frame_to_all())
            .map(str::to_string)
            .or_else(|| target::answer_lost(c, l4));
        if let Some(why) = lost {
            return Some(format!("{dropped}; {what} about it does not reach {src}: {why}"));
        }
        self.answer_early((name, early));
        Some(format!("{dropped} and sends {src} {what} about it"))
    }

    /// Why routing drops an IPv4 packet that came in from outside for its addresses, without an ICMP error
    /// (`ip_route_input_slow` and `fib_validate_source` in `route.c`/`fib_frontend.c`): a destination in
    /// 0.0.0.0/8 or, unless `route_localnet`, in 127.0.0.0/8 (a DNAT to 127.0.0.1 included); a multicast,
    /// limited broadcast or zero source, a loopback source (unless `route_localnet`), an address of this host
    /// (unless `accept_local`), or one the reverse-path filter refuses.
    fn martian(&self) -> Option<String> {
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (self.pkt.src, self.pkt.dst) else { return None };
        let dev = self.in_iface.as_deref()?;
        if dev == "lo" {
            return None;
        }
        let localnet = self.host.route_localnet(dev);
        let to = if dst.octets()[0] == 0 && src.octets()[0] != 0 {
            Some("in 0.0.0.0/8".to_string())
        } else if dst.is_loopback() && !localnet {
            Some(format!("a loopback address (and route_localnet is 0 for {dev} and for all)"))
        } else {
            None
        };
        if let Some(what) = to {
            return Some(format!("the destination {dst} is {what}, so routing drops the packet as a martian"));
        }
        let what = if src.is_multicast() {
            "a multicast address"
        } else if src.is_broadcast() {
            "the limited broadcast address"
        } else if src.octets()[0] == 0 && !dst.is_broadcast() && !(src.is_unspecified() && dst.is_unspecified()) {
            "in 0.0.0.0/8"
        } else if src.is_loopback() && !localnet {
            "a loopback address"
        } else {
            // The source's checks (`fib_validate_source`) come after a lookup that found a way: a packet the
            // lookup refuses gets routing's answer without them (recorded).
            let forward = self.host.route_flow(&self.flow()).0;
            if matches!(forward, RouteDecision::Unroutable { .. }) {
                return None;
            }
            return self.source_refused(src, dev, &forward);
        };
        Some(format!("the source {src} is {what}, so routing drops the packet as a martian"))
    }

    /// `fib_validate_source` for a packet from `src` that came in on `dev`. With the reverse-path filter
    /// off, no routes or rules of the user's that could make a source local, and the packet not routed back
    /// out of `dev` with redirects on, it only refuses an address given to one of the interfaces (none with
    /// `accept_local`); else it looks the way back up in full ([`Walker::reverse_path_fails`]), where a
    /// source that routing takes as local (127.0.0.5 too) is refused without `accept_local`, and with it
    /// passes when its local route is on `dev`, or the filter is not strict (recorded).
    fn source_refused(&self, src: std::net::Ipv4Addr, dev: &str, forward: &RouteDecision) -> Option<String> {
        let mode = self.host.rp_filter_mode(dev);
        let accept_local = self.host.accept_local(dev);
        let hairpin =
            matches!(forward, RouteDecision::Forward { dev: out, .. } if out == dev) && self.host.sends_redirects(dev);
        let local = if mode == 0 && !hairpin && !self.host.has_custom_ipv4_routing() {
            self.host.is_interface_address(IpAddr::V4(src))
        } else {
            self.host.is_local(IpAddr::V4(src))
        };
        if !local {
            return self.reverse_path_fails(src, forward);
        }
        let why = if !accept_local {
            format!("the source {src} is an address of this host (and accept_local is 0 for {dev} and for all)")
        } else if let Some(on) = self.host.local_dev(IpAddr::V4(src)).filter(|on| mode == 1 && *on != dev) {
            format!(
                "the source {src} is an address of this host on {on}, and strict reverse-path filtering \
                 (rp_filter = 1) wants it on {dev}"
            )
        } else {
            return None;
        };
        Some(format!("{why}, so routing drops the packet as a martian"))
    }

    /// Why IPv6 does not forward a packet out of `out` for its source address (`ip6_forward`, after the
    /// hop limit check, before FORWARD): the unspecified, a multicast or a loopback source is dropped, and a
    /// link-local one gets a destination unreachable, beyond the scope of the source address. A packet sent
    /// back out of the interface it came in on takes the redirect branch instead and skips this check.
    fn ipv6_source_out_of_scope(&self, out: &str) -> Option<(String, Option<String>)> {
        let IpAddr::V6(src) = self.pkt.src else { return None };
        if self.in_iface.as_deref() == Some(out) {
            return None;
        }
        let what = if src.is_unspecified() {
            "the unspecified address"
        } else if src.is_multicast() {
            "a multicast address"
        } else if src.is_loopback() {
            "the loopback address"
        } else if src.is_unicast_link_local() {
            let why = format!(
                "the source {src} is link-local, so IPv6 does not forward the packet beyond its link and \
                 answers with a destination unreachable (beyond scope)"
            );
            return Some((why, Some("icmp6-beyond-scope".into())));
        } else {
            return None;
        };
        Some((format!("the source {src} is {what}, so IPv6 does not forward the packet"), None))
    }

    /// The reverse-path filter (`rp_filter`, `fib_validate_source`): strict (1) drops a packet whose source
    /// is not routed out of the interface it came in on, loose (2) one whose source has no route at all.
    /// The way back is looked up as `__fib_validate_source` asks: to the source, from the destination, as
    /// a packet that came in on the interface `forward` (the packet's own route) leaves by, or `lo` for one
    /// delivered here, with the packet's TOS, its protocol and its ports swapped, and its mark only with
    /// `src_valid_mark`; through the routing policy (recorded).
    fn reverse_path_fails(&self, src: std::net::Ipv4Addr, forward: &RouteDecision) -> Option<String> {
        let dev = self.in_iface.as_deref()?;
        let mode = self.host.rp_filter_mode(dev);
        if mode == 0 {
            return None;
        }
        let out = match forward {
            RouteDecision::Forward { dev, .. } => Some(dev.as_str()),
            _ => None,
        };
        let flow = self.way_back(dev, src, out);
        let back = self.host.route_flow(&flow).0;
        let why = match (&back, mode) {
            (RouteDecision::Unroutable { reason, .. }, _) => format!("the way back to {src} is refused ({reason})"),
            (RouteDecision::Forward { dev: out, .. }, 1) if !self.host.route_uses_dev(&flow, dev) => {
                format!("strict reverse-path filtering (rp_filter = 1) wants {src} routed out of {dev}, not {out}")
            }
            _ => return None,
        };
        Some(format!("{why}, so routing drops the packet as a martian"))
    }

    /// The lookup `__fib_validate_source` makes of the way back to `src` from a packet that came in on `dev`
    /// and is routed out of `forward` (`None`: delivered here): to the source, from the destination, as a
    /// packet that came in on `forward` (`fib_validate_source` gets the forward route's device as `oif`,
    /// which the way back takes as its `iif`), or from `lo` for one delivered here (recorded), with the
    /// packet's TOS, its protocol and its ports swapped, and its mark only with `src_valid_mark`. A
    /// broadcast or multicast destination is asked from 0.0.0.0 (`ip_route_input_mc`, `brd_input`).
    fn way_back<'a>(&self, dev: &str, src: std::net::Ipv4Addr, forward: Option<&'a str>) -> crate::policy::Flow<'a> {
        let ports = self.pkt.l4.ports();
        let to_group = matches!(self.pkt.dst, IpAddr::V4(d) if d.is_multicast() || d.is_broadcast())
            || self.host.is_broadcast(self.pkt.dst);
        let forward_dev = forward.filter(|_| !to_group);
        crate::policy::Flow {
            src: (!to_group).then_some(self.pkt.dst),
            iif: forward_dev,
            mark: if self.host.src_valid_mark(dev) { self.pkt.mark } else { 0 },
            proto: Some(self.pkt.l4.proto()),
            sport: ports.map(|p| p.1),
            dport: ports.map(|p| p.0),
            tos: self.pkt.tos,
            ..crate::policy::Flow::to(IpAddr::V4(src))
        }
    }

    /// The routing decision for a packet that came in to a multicast or broadcast address, which the
    /// routing table does not decide (`ip_route_input_rcu`, `ip6_rcv_finish`): a broadcast (limited, or of a
    /// subnet of the host) and a group the host has joined on the input interface go to INPUT; any other group
    /// is dropped, as multicast routing (which chainwalk does not model) is what would forward it. The groups
    /// taken as joined: IPv4 all-hosts (224.0.0.1); IPv6 all-nodes (ff01::1, ff02::1), all-routers (ff02::2)
    /// where the interface acts as a router, and the solicited-node group of each of the interface's addresses.
    fn group_or_broadcast(&mut self) -> Option<RouteDecision> {
        let dev = self.in_iface.clone()?;
        let dst = self.pkt.dst;
        let joined = match dst {
            IpAddr::V4(v4) if v4.is_broadcast() || self.host.addr_type(dst) == crate::host::AddrType::Broadcast => true,
            IpAddr::V4(v4) if v4.is_multicast() => v4 == std::net::Ipv4Addr::new(224, 0, 0, 1),
            IpAddr::V6(v6) if v6.is_multicast() => {
                let s = v6.segments();
                let all_nodes = (s[0] == 0xff01 || s[0] == 0xff02) && s[1..7] == [0; 6] && s[7] == 1;
                let all_routers = s[0] == 0xff02 && s[1..7] == [0; 6] && s[7] == 2 && self.host.ipv6_router_on(&dev);
                let solicited = s[0] == 0xff02 && s[1..5] == [0; 4] && s[5] == 1 && s[6] >> 8 == 0xff && {
                    let iface = self.host.interface(&dev);
                    iface.is_some_and(|i| {
                        i.addrs.iter().any(|a| match a.addr {
                            IpAddr::V6(mine) => {
                                let m = mine.octets();
                                let d = v6.octets();
                                m[13..] == d[13..]
                            }
                            _ => false,
                        })
                    })
                };
                all_nodes || all_routers || solicited
            }
            _ => return None,
        };
        let note = if joined {
            format!("{dst} is a broadcast or a group this host listens to on {dev}: the packet goes to INPUT")
        } else {
            format!("{dst} is a multicast group this host has not joined on {dev}, and it does not route multicast")
        };
        let status = if joined { StageStatus::Passed } else { StageStatus::Stopped };
        self.stage(None, StageKind::Routing, status, note.clone());
        Some(if joined {
            RouteDecision::Local { dev }
        } else {
            RouteDecision::Unroutable { reason: note, route: Some(RouteKind::Blackhole) }
        })
    }

    /// What routing looks the packet up with now: its addresses, mark, TOS, protocol and ports, where it
    /// came in (nowhere, for a packet of this host: `iif lo` to the routing policy) and its owner's uid.
    fn flow(&self) -> crate::policy::Flow<'_> {
        let ports = self.pkt.l4.ports();
        // IPv6 looks a link-local destination up held to the interface the packet came in on
        // (`ip6_route_input`: `rt6_need_strict`): another interface's link-local address is not this host's
        // there, and the link's own prefix route sends the packet back out (recorded).
        let held = self.in_iface.as_deref().filter(|_| self.dst_is_link_local());
        crate::policy::Flow {
            dst: self.pkt.dst,
            src: (!self.unspecified_source).then_some(self.pkt.src),
            mark: self.pkt.mark,
            iif: self.in_iface.as_deref(),
            proto: Some(self.pkt.l4.proto()),
            sport: ports.map(|p| p.0),
            dport: ports.map(|p| p.1),
            tos: self.pkt.tos,
            uid: if self.in_iface.is_none() { self.pkt.uid.unwrap_or(0) } else { 0 },
            oif: held,
            strict_oif: held.is_some(),
        }
    }

    /// What a new routing decision depends on that the tables may change: after mangle OUTPUT, a change
    /// of any of them routes a packet of this host again (`ip_route_me_harder`).
    fn route_key(&self) -> (IpAddr, IpAddr, u32, u8) {
        (self.pkt.src, self.pkt.dst, self.pkt.mark, self.pkt.tos)
    }

    /// Whether the packet goes to an IPv6 link-local address (fe80::/10), which only has a meaning with
    /// the interface it is on.
    fn dst_is_link_local(&self) -> bool {
        matches!(self.pkt.dst, IpAddr::V6(v6) if v6.is_unicast_link_local())
    }

    fn route_decision(&mut self) -> RouteDecision {
        // A link-local IPv6 destination needs its interface (a scope id): a packet this host sends there
        // leaves by the interface it names (`OUT=`), whatever interface routes the prefix.
        let link_local = self.dst_is_link_local();
        let scoped = self
            .pkt
            .out_iface
            .clone()
            .filter(|_| link_local && self.pkt.in_iface.is_none() && !self.host.is_local(self.pkt.dst));
        let (d, rule) = match scoped {
            Some(dev) => {
                (RouteDecision::Forward { dev, via: None, src: None, multipath: 0, mtu: None, mtu_locked: false }, None)
            }
            None => self.host.route_flow(&self.flow()),
        };
        // A route looked up again (`ip_route_me_harder`) has the source address the packet now has.
        self.unspecified_source = false;
        self.routed_with = self.route_key();
        let mut note = match &d {
            RouteDecision::Local { dev }
                if self.host.is_local(self.pkt.dst) || self.host.is_broadcast(self.pkt.dst) =>
            {
                format!("{} is an address of this host ({dev}): the packet goes to INPUT", self.pkt.dst)
            }
            RouteDecision::Local { dev } if self.host.subnet_router_anycast_dev(self.pkt.dst).is_some() => format!(
                "{} is the Subnet-Router anycast address of {dev}'s prefix, which the host joins as it forwards \
                 IPv6: the packet goes to INPUT",
                self.pkt.dst
            ),
            // A `local` route of a table of the host's own (a transparent proxy's `local default dev lo
            // table 100`) takes in a packet for any address.
            RouteDecision::Local { .. } => format!(
                "{} is not an address of this host, but a `local` route of the routing policy takes it in: \
                 the packet goes to INPUT",
                self.pkt.dst
            ),
            RouteDecision::Forward { dev, via, multipath, .. } => {
                let mut note = match via {
                    Some(gw) => format!("{} is routed out of {dev} via {gw}", self.pkt.dst),
                    None => format!("{} is routed out of {dev}", self.pkt.dst),
                };
                if *multipath > 1 {
                    note += &format!(
                        ", the first of the {multipath} next hops of a multipath route (the kernel spreads flows over \
                         them by a hash with a seed drawn at boot, so another flow may leave by another)"
                    );
                }
                note
            }
            RouteDecision::Unroutable { reason, .. } => format!("no usable route: {reason}"),
        };
        // With a routing policy of the host's own, say which rule chose the table.
        if let Some(r) = rule.map(|r| &self.host.rules[r]) {
            if !matches!(d, RouteDecision::Unroutable { .. }) {
                note += &format!(" (ip rule {}: {})", r.priority, r.text(self.host));
            }
        }
        let status =
            if matches!(d, RouteDecision::Unroutable { .. }) { StageStatus::Stopped } else { StageStatus::Passed };
        self.stage(None, StageKind::Routing, status, note);
        d
    }

    /// Whether something the dump cannot show holds (a program on an NFQUEUE queue, a proxy behind TPROXY):
    /// the user's answer for rule `key`, else no. The assumption is recorded as a switch the user can flip;
    /// `text` says what follows from the answer.
    fn switch(&mut self, key: &str, step: Option<usize>, question: String, text: impl FnOnce(bool) -> String) -> bool {
        let holds = self.opts.overrides.get(key).copied().unwrap_or(false);
        if !self.probe {
            let text = text(holds);
            let (key, question) = (Some(key.to_string()), Some(question));
            self.trace.assumptions.push(crate::trace::Assumption { step, key, text, matched: Some(holds), question });
        }
        holds
    }

    fn stage(&mut self, hook: Option<Hook>, kind: StageKind, status: StageStatus, note: String) -> usize {
        if self.probe {
            return 0;
        }
        self.trace.stages.push(Stage { hook, kind, status, note });
        self.trace.stages.len() - 1
    }

    /// Runs every table at `hook` in order. Returns whether the packet goes on.
    fn hook(&mut self, hook: Hook) -> bool {
        for &table in tables_at(hook, self.opts.backend) {
            if table == TableName::Mangle && matches!(hook, Hook::Prerouting | Hook::Output) {
                self.conntrack(hook);
            }
            if table == TableName::Nat {
                let before_nat = (hook == Hook::Output).then(|| (self.pkt.src, self.pkt.dst, self.pkt.l4.ports()));
                let goes_on = self.nat_stage(hook);
                self.take_looped_copies(false);
                if !goes_on {
                    return false;
                }
                // `ip_route_me_harder` in nat OUTPUT (`nf_nat_ipv4_local_fn`, `nf_nat_ipv6_local_fn`): a new
                // destination is routed at once, with the mark as it is there; a mark filter OUTPUT sets later
                // does not route it again (recorded: match_diff seed 24082).
                if hook == Hook::Output && self.pkt.dst != self.routed_with.1 {
                    let decision = self.route_decision();
                    let shown = self.out_iface.clone();
                    if !self.take_route(decision, "after NAT") {
                        // The nat hook drops it there, after the rewrite (`nf_nat_ipv4_local_fn`): the last
                        // any log or hook shows of it is the DNAT rule's own TRACE line, with the addresses of
                        // before; the fate gives those (the changes keep the rewrite).
                        if let (Some(f), Some((src, dst, ports))) = (self.fate.as_mut(), before_nat) {
                            f.src = endpoint(src, ports.map(|p| p.0));
                            f.dst = endpoint(dst, ports.map(|p| p.1));
                        }
                        return false;
                    }
                    self.out_iface = shown;
                }
                continue;
            }
            // iptable_mangle routes a packet of this host again when its rules changed what routing
            // looks at (a mark set in raw OUTPUT before it changes nothing there, recorded); a packet that
            // now has no route is dropped there.
            let before = self.route_key();
            let goes_on = self.table(hook, table);
            self.take_looped_copies(false);
            if !goes_on {
                return false;
            }
            if hook == Hook::Output && table == TableName::Mangle && self.route_key() != before {
                let decision = self.route_decision();
                // The hook's tables go on seeing the output interface it started with (`state->out`).
                let shown = self.out_iface.clone();
                if !self.take_route(decision, "after mangle OUTPUT changed it") {
                    return false;
                }
                self.out_iface = shown;
            }
        }
        // Conntrack confirms a new connection after the last table of POSTROUTING and INPUT
        // (`nf_confirm`): a packet that goes on (back in through `lo`) has a confirmed one (recorded).
        if matches!(hook, Hook::Postrouting | Hook::Input) && crate::matches::conntrack::has_connection(&self.ct) {
            self.ct.confirmed = true;
        }
        true
    }

    /// A packet that comes with its connection (an answer the kernel made): conntrack leaves it as it
    /// is, and NAT is the connection's, decided already.
    fn attach_connection(&mut self) {
        self.ct_seen = true;
        self.nat_dst_done = true;
        self.nat_src_done = true;
    }

    /// Connection tracking at PREROUTING or OUTPUT (priority -200): from here on rules see the state.
    fn conntrack(&mut self, hook: Hook) {
        if self.ct_seen {
            return;
        }
        self.ct_seen = true;
        if self.ct.state == CtState::Untracked {
            self.stage(
                Some(hook),
                StageKind::Conntrack,
                StageStatus::Skipped,
                if self.duplicate {
                    "a copy TEE made has no connection: conntrack leaves it UNTRACKED".into()
                } else {
                    "the packet was marked NOTRACK in raw: conntrack leaves it UNTRACKED".into()
                },
            );
            return;
        }
        // The checksums of what comes in are checked at PREROUTING (`nf_conntrack_checksum`); what the host
        // sends, at OUTPUT, is not.
        let checked = hook == Hook::Prerouting && self.host.conntrack_checksum != Some(false);
        let (given, why_invalid) =
            match conntrack_verdict(&self.first, checked, self.host.conntrack_tcp_loose != Some(false)) {
                Some((state, why)) => (state, Some(why)),
                None => (self.first.ct_state, None),
            };
        self.ct.state = given;
        // (An ICMP error is no reply: it joins its connection as RELATED, whatever that has seen.)
        self.ct.seen_reply =
            matches!(given, CtState::Established) || (self.ct.dir == CtDir::Reply && given != CtState::Related);
        // ASSURED: TCP once its handshake is done (an ESTABLISHED packet), SCTP and GRE once a reply was seen;
        // UDP only when its exchange is still active two seconds after the reply (chainwalk takes it as
        // younger, see the ctstatus match), ICMP and the rest never (DCCP among them since Linux 6.16 tracks
        // it as a protocol it does not know).
        self.ct.assured =
            self.ct.seen_reply && matches!(self.first.l4, L4::Tcp { .. } | L4::Sctp { .. } | L4::Other { proto: 47 });
        self.ct.confirmed = given != CtState::New;
        if matches!(given, CtState::Established | CtState::Related) {
            self.nat_dst_done = true;
            self.nat_src_done = true;
            self.binding = if self.probe { None } else { Some(nat::find_binding(self)) };
        }
        if given == CtState::Invalid {
            self.nat_dst_done = true;
            self.nat_src_done = true;
        }
        let note = match (given, why_invalid) {
            (state, Some(why)) => format!("conntrack finds the packet {}: {why}", state.as_str()),
            (CtState::New, _) => "conntrack sees the first packet of a new connection (NEW)".to_string(),
            (other, _) => format!("conntrack finds the packet's connection: {}", other.as_str()),
        };
        self.stage(Some(hook), StageKind::Conntrack, StageStatus::Passed, note);
    }

    /// The nat table at `hook`: consulted only for the first packet of a connection; later packets get
    /// the binding the first one got.
    fn nat_stage(&mut self, hook: Hook) -> bool {
        let is_dst = matches!(hook, Hook::Prerouting | Hook::Output);
        let done = if is_dst { self.nat_dst_done } else { self.nat_src_done };
        let has_table = self.sim.index.tables[TableName::Nat as usize].is_some();
        if self.ct.state == CtState::Untracked {
            if has_table {
                self.stage(
                    Some(hook),
                    StageKind::Table { table: TableName::Nat },
                    StageStatus::Skipped,
                    "the packet is not tracked, so there is no NAT for it".into(),
                );
            }
            return true;
        }
        if done {
            if has_table {
                let note = match self.ct.state {
                    CtState::Established | CtState::Related => format!(
                        "the nat table is consulted only for the first packet of a connection; this one is {}",
                        self.ct.state.as_str()
                    ),
                    CtState::Invalid => {
                        "the packet is INVALID: conntrack has no connection for it, so there is no NAT".into()
                    }
                    _ => "NAT for this connection was already decided".into(),
                };
                self.stage(Some(hook), StageKind::Table { table: TableName::Nat }, StageStatus::Skipped, note);
            }
            nat::apply_binding(self, is_dst);
            return true;
        }
        if is_dst {
            self.nat_dst_done = true;
        } else {
            self.nat_src_done = true;
        }
        if !has_table {
            return true;
        }
        let before = self.pkt.clone();
        if !self.table(hook, TableName::Nat) {
            return false;
        }
        // `gre_manip_pkt` needs 8 bytes of GRE header to rewrite (a PPTP header's first words); with fewer,
        // the translation fails and `nf_nat_packet` drops the packet as it was (recorded).
        let gre_bytes = self.pkt.len.saturating_sub(self.pkt.ip_header_len());
        let translated = (self.pkt.src, self.pkt.dst) != (before.src, before.dst);
        if translated && matches!(self.pkt.l4, L4::Other { proto: 47 }) && gre_bytes < 8 {
            self.pkt = before;
            let why = format!(
                "NAT cannot rewrite this GRE packet: the kernel needs 8 bytes of GRE header to do it and the packet \
                 has {gre_bytes} (LEN={}), so it drops the packet in nat {}",
                self.pkt.len,
                hook.chain_name()
            );
            if let Some(last) = self.trace.stages.last_mut().filter(|_| !self.probe) {
                last.status = StageStatus::Stopped;
                last.note = why.clone();
            }
            let path = self.path_for(hook);
            self.set_fate(FateVerdict::Drop, path, None, None, format!("{}.", capitalise(&why)));
            return false;
        }
        true
    }

    /// Runs one table's chain at `hook`. Returns whether the packet goes on.
    fn table(&mut self, hook: Hook, table: TableName) -> bool {
        let Some(t) = self.sim.index.tables[table as usize] else {
            return true;
        };
        let stage = self.stage(Some(hook), StageKind::Table { table }, StageStatus::Passed, String::new());
        let verdict = table::run(self, t, hook, stage);
        let (status, note, goes_on) = match &verdict {
            TableVerdict::Accept => {
                (StageStatus::Passed, format!("{table} {} let the packet through", hook.chain_name()), true)
            }
            TableVerdict::Drop { .. } if self.stopped() => (
                StageStatus::Stopped,
                format!("chainwalk stopped in {table} {}: the walk met more rules than it follows", hook.chain_name()),
                false,
            ),
            TableVerdict::Drop { .. } => {
                (StageStatus::Stopped, format!("{table} {} dropped the packet", hook.chain_name()), false)
            }
            TableVerdict::Reject { with, .. } => {
                (StageStatus::Stopped, format!("{table} {} rejected the packet ({with})", hook.chain_name()), false)
            }
            TableVerdict::Queue { num, .. } => (
                StageStatus::Stopped,
                format!("{table} {} queued the packet to user space (queue {num})", hook.chain_name()),
                false,
            ),
        };
        if !self.probe {
            self.trace.stages[stage].status = status;
            self.trace.stages[stage].note = note;
        }
        if !goes_on {
            let path = self.path_for(hook);
            let (verdict_kind, reject_with, queue, step) = match verdict {
                TableVerdict::Drop { step } => (FateVerdict::Drop, None, None, step),
                TableVerdict::Reject { with, step } => (FateVerdict::Reject, Some(with), None, step),
                TableVerdict::Queue { num, step } => (FateVerdict::Queue, None, Some(num), step),
                TableVerdict::Accept => unreachable_accept(),
            };
            self.trace.deciding = step;
            let what = match verdict_kind {
                FateVerdict::Drop => "dropped".to_string(),
                FateVerdict::Reject => format!("rejected ({})", reject_with.as_deref().unwrap_or("")),
                FateVerdict::Queue => format!("queued to user space (queue {})", queue.unwrap_or(0)),
                FateVerdict::Accept | FateVerdict::Undecided => String::new(),
            };
            let by = step.map(|s| self.describe_step(s)).unwrap_or_else(|| format!("{table} {}", hook.chain_name()));
            let summary = format!("{} in {table} {} by {by}.", capitalise(&what), hook.chain_name());
            self.set_fate(verdict_kind, path, reject_with, queue, summary);
        }
        goes_on
    }

    fn path_for(&self, hook: Hook) -> Path {
        match hook {
            Hook::Input => Path::Input,
            Hook::Forward => Path::Forward,
            Hook::Output => Path::Output,
            Hook::Prerouting | Hook::Postrouting => {
                if self.first.in_iface.is_none() {
                    Path::Output
                } else if hook == Hook::Postrouting || !self.for_this_host() {
                    Path::Forward
                } else {
                    Path::Input
                }
            }
        }
    }

    /// Whether the packet's destination, as it is now, is this host's: one of its addresses or a broadcast
    /// address it receives (the local routing table's `local` and `broadcast` routes).
    fn for_this_host(&self) -> bool {
        self.host.is_local(self.pkt.dst) || self.host.is_broadcast(self.pkt.dst)
    }

    fn describe_step(&self, s: usize) -> String {
        let step = &self.trace.steps[s];
        let line = step.span.map(|sp| format!(" (line {})", sp.line)).unwrap_or_default();
        match step.kind {
            crate::trace::StepKind::Rule => format!("rule {} of {} {}{line}", step.number, step.table, step.chain),
            crate::trace::StepKind::Policy => format!("the policy of {} {}{line}", step.table, step.chain),
            crate::trace::StepKind::Return => format!("the end of {} {}{line}", step.table, step.chain),
        }
    }

    /// Whether the walk has used up its budget (see [`evaluation_budget`] and [`MAX_MATCHED`]).
    fn stopped(&self) -> bool {
        self.evaluated > self.budget || self.matched > MAX_MATCHED
    }

    fn set_fate(
        &mut self,
        verdict: FateVerdict,
        path: Path,
        reject_with: Option<String>,
        queue: Option<u16>,
        summary: String,
    ) {
        if self.fate.is_some() {
            return;
        }
        let (verdict, summary) = if self.stopped() {
            let what = if self.matched > MAX_MATCHED {
                format!("following {MAX_MATCHED} rules that matched")
            } else {
                format!("evaluating {} rules", self.budget)
            };
            (
                FateVerdict::Undecided,
                format!(
                    "Undecided: chainwalk stopped after {what}. This dump's chains jump to one another so often \
                     that one packet meets more rules than chainwalk follows (the kernel would go on, slowly); the \
                     walk below shows where it stopped."
                ),
            )
        } else {
            (verdict, summary)
        };
        // Once routing has chosen an output interface, the fate names it, whatever the verdict.
        let out = match path {
            Path::Forward | Path::Output => self.out_iface.clone(),
            Path::Input => None,
        };
        let physout = out.as_ref().and(self.port_out.clone());
        self.fate = Some(Fate {
            verdict,
            path,
            out,
            src: endpoint(self.pkt.src, self.pkt.l4.ports().map(|p| p.0)),
            dst: endpoint(self.pkt.dst, self.pkt.l4.ports().map(|p| p.1)),
            reject_with,
            queue,
            summary,
            physout,
        });
    }

    /// Ends the walk where routing drops the packet, with the ICMP error it sends back, if any. For a packet
    /// from outside, that error is the host's own packet and must get back to the sender (see
    /// `target::answer_lost`); when it does not, the sender sees nothing.
    fn stop_by_routing(&mut self, path: Path, why: String, icmp: Option<String>) {
        let mut summary = format!("{}.", capitalise(&why));
        // `icmp_send` and `icmp6_send` answer routing's errors as they answer a REJECT (recorded).
        let icmp = match icmp
            .as_ref()
            .and_then(|_| target::nothing_sent_back(&self.pkt, self.host, false, self.came_in_frame_to_all()))
        {
            Some(unanswered) => {
                summary.push_str(&format!(" No ICMP error goes back: {unanswered}."));
                None
            }
            None => icmp,
        };
        let lost = icmp
            .as_deref()
            .filter(|_| self.first.in_iface.is_some())
            .and_then(target::icmp_named)
            .and_then(|answer| target::answer_lost(self, answer));
        let icmp = match lost {
            Some(how) => {
                summary.push_str(&format!(" The ICMP error it sends does not reach the sender: {how}."));
                None
            }
            None => icmp,
        };
        let verdict = if icmp.is_some() { FateVerdict::Reject } else { FateVerdict::Drop };
        self.set_fate(verdict, path, icmp, None, summary);
    }

    fn deliver(&mut self) {
        let iface = self.first.in_iface.clone().unwrap_or_else(|| "lo".into());
        let note =
            format!("delivered to a local socket for {}", endpoint(self.pkt.dst, self.pkt.l4.ports().map(|p| p.1)));
        self.stage(Some(Hook::Input), StageKind::Deliver, StageStatus::Passed, note.clone());
        let path = if self.first.in_iface.is_none() { Path::Output } else { Path::Input };
        let summary = format!(
            "Delivered locally through INPUT ({} arrived on {iface}).",
            endpoint(self.pkt.dst, self.pkt.l4.ports().map(|p| p.1))
        );
        let _ = note;
        self.set_fate(FateVerdict::Accept, if path == Path::Output { Path::Input } else { path }, None, None, summary);
    }

    fn egress(&mut self, path: Path, via: Option<IpAddr>) {
        let dev = self.out_iface.clone().unwrap_or_default();
        if self.port_out.is_none() && self.host.is_bridge(&dev) {
            self.port_out = self.routed_port_out(&dev);
        }
        let hop = via.map(|v| format!(" via {v}")).unwrap_or_default();
        let dst = endpoint(self.pkt.dst, self.pkt.l4.ports().map(|p| p.1));
        let src = endpoint(self.pkt.src, self.pkt.l4.ports().map(|p| p.0));
        let port = self.port_out.as_ref().map(|p| format!(" (bridge port {p})")).unwrap_or_default();
        let note = format!("leaves through {dev}{port}{hop} as {src} -> {dst}");
        self.stage(Some(Hook::Postrouting), StageKind::Egress, StageStatus::Passed, note);
        let summary = match (path, &self.crossing, &self.port_out) {
            (Path::Forward, Some(c), Some(port)) if self.bridged => {
                bridge::bridged_summary(&c.bridge, &c.port_in, port, &src, &dst)
            }
            (Path::Forward, ..) => format!("Forwarded out {dev}{hop} to {dst} (from {src})."),
            _ => format!("Sent out {dev}{hop} to {dst} (from {src})."),
        };
        self.set_fate(FateVerdict::Accept, path, None, None, summary);
    }

    fn change(&mut self, step: Option<usize>, what: &str, from: String, to: String, note: String) {
        if self.probe {
            return;
        }
        self.trace.changes.push(Change { step, what: what.into(), from, to, note });
    }

    fn finish(mut self) -> Trace {
        self.trace.fate = self.fate.take().unwrap_or_default();
        table::analyse(&mut self);
        if self.trace.deciding.is_none() {
            self.trace.deciding = table::accepting_step(&self.trace);
        }
        self.trace
    }
}

fn unreachable_accept() -> (FateVerdict, Option<String>, Option<u16>, Option<usize>) {
    (FateVerdict::Accept, None, None, None)
}

/// `s` with its first letter in upper case. Only an ASCII letter is changed: the sentences are chainwalk's
/// own, and Unicode's case tables would cost the web app tens of kilobytes.
fn capitalise(s: &str) -> String {
    let mut s = s.to_string();
    if let Some(first) = s.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// The ICMP error routing sends back for a packet it cannot route (`ip_error` in `route.c`,
/// `ip6_pkt_discard`/`ip6_pkt_prohibit` in `ip6/route.c`): none for a blackhole.
fn route_error(family: Family, kind: Option<RouteKind>) -> Option<String> {
    let name = match (family, kind) {
        (_, Some(RouteKind::Blackhole)) => return None,
        (Family::Ipv4, Some(RouteKind::Unreachable)) => "icmp-host-unreachable",
        (Family::Ipv4, Some(RouteKind::Prohibit)) => "icmp-admin-prohibited",
        (Family::Ipv4, _) => "icmp-net-unreachable",
        (Family::Ipv6, Some(RouteKind::Prohibit)) => "icmp6-adm-prohibited",
        (Family::Ipv6, _) => "icmp6-no-route",
    };
    Some(name.into())
}

/// `ADDR[:PORT]`, with IPv6 addresses in brackets when a port follows.
pub fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
    match (addr, port) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

/// The conntrack tuple of `p` as it travels. For ICMP and ICMPv6 the "ports" `xt_conntrack` compares are
/// the tuple's words in their place: the echo identifier as the source (not in the packet model: 0) and
/// the type and code as the destination (recorded: `--ctorigdstport` sees 2048 for an echo request). DCCP
/// is tracked as a protocol without ports since Linux 6.16 dropped its conntrack (recorded on 6.18:
/// `! --ctorigdstport 53` holds for a DCCP packet to port 53).
/// The TRACE lines (and their names) of TEE copies that came back in through `lo`, each copy's in one piece,
/// not yet in the log.
#[derive(Default)]
struct LoopedCopies {
    /// Those the kernel walks when the legacy table that made them ends.
    at_table_end: Vec<(Vec<LogLine>, Vec<String>)>,
    /// Those it walks once the packet is done.
    at_walk_end: Vec<(Vec<LogLine>, Vec<String>)>,
}

pub(super) fn tuple_of(p: &Packet) -> Tuple {
    let (sport, dport) = match p.l4 {
        L4::Icmp { icmp_type, code } | L4::Icmpv6 { icmp_type, code } => (0, u16::from_be_bytes([icmp_type, code])),
        L4::Dccp { .. } => (0, 0),
        l4 => l4.ports().unwrap_or((0, 0)),
    };
    Tuple { src: p.src, dst: p.dst, sport, dport }
}

/// The reply tuple of a connection whose first packet left as `p`: the reverse of its tuple, where an ICMP
/// query's reply is of the answering type (`invmap` in `nf_conntrack_proto_icmp.c` and `icmpv6.c`).
pub(super) fn reply_tuple(p: &Packet) -> Tuple {
    let t = tuple_of(p);
    let answer = match p.l4 {
        L4::Icmp { icmp_type: t @ (8 | 13 | 15 | 17), code } => Some((if t == 8 { 0 } else { t + 1 }, code)),
        L4::Icmpv6 { icmp_type: t @ (128 | 139), code } => Some((t + 1, code)),
        _ => None,
    };
    match answer {
        Some((icmp_type, code)) => {
            Tuple { src: t.dst, dst: t.src, sport: t.sport, dport: u16::from_be_bytes([icmp_type, code]) }
        }
        None => reverse(t),
    }
}

pub(super) fn reverse(t: Tuple) -> Tuple {
    Tuple { src: t.dst, dst: t.src, sport: t.dport, dport: t.sport }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_index_is_used_only_with_a_ruleset_it_can_be_of() {
        let docker = crate::parse(include_str!("../../../static/examples/docker-7788.rules"), None);
        let other = crate::parse("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n", None);
        let index = super::Index::new(&docker.ruleset);
        assert!(index.fits(&docker.ruleset) && !index.fits(&other.ruleset));
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn").unwrap();
        let opts = super::WalkOptions::default();
        for ruleset in [&docker.ruleset, &other.ruleset] {
            let kept = super::Simulation::with_index(ruleset, &index).walk(None, &packet, &opts);
            assert_eq!(kept, super::Simulation::new(ruleset).walk(None, &packet, &opts));
        }
    }

    #[test]
    fn a_tee_copy_to_this_host_is_followed_back_in_once() {
        // Every copy that comes back in through lo meets the TEE rule again and is copied again, for ever in
        // the kernel (each copy queued behind the last); chainwalk follows the first loop and says so of the
        // copy's copy, instead of walking copies inside copies until the stack runs out.
        for gateway in ["192.0.2.1", "198.51.100.2"] {
            let rules =
                format!("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j TEE --gateway {gateway}\nCOMMIT\n");
            let host = "eth0 UP 198.51.100.2/24\neth1 UP 192.0.2.1/24\ndefault via 198.51.100.1 dev eth0\n";
            let t = crate::matches::testing::walk(&rules, host, "udp 203.0.113.7:1 -> 198.51.100.2:2 in eth0");
            let rule = "mangle:PREROUTING:rule:1";
            assert_eq!(t.trace.iter().filter(|l| *l == rule).count(), 2, "{:?}", t.trace);
            let copied: Vec<&str> = t.steps.iter().filter_map(|s| s.effect.as_deref()).collect();
            assert!(copied.iter().any(|e| e.contains("comes back in through PREROUTING and INPUT")), "{copied:?}");
            assert!(t.log.iter().skip_while(|l| l.packet.starts_with("IN=eth0")).any(|l| l.later));
        }
    }

    #[test]
    fn a_plain_verdict_with_any_interface_is_logged_as_a_rule() {
        // libxtables keeps `-i +` in the entry, so the kernel's `unconditional()` is false for it.
        let host = "eth0 UP 198.51.100.2/24\n";
        let packet = "tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn";
        let with = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i + -j ACCEPT\nCOMMIT\n";
        assert_eq!(crate::matches::testing::walk(with, host, packet).trace, ["filter:INPUT:rule:1"]);
        let without = "*filter\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n";
        assert_eq!(crate::matches::testing::walk(without, host, packet).trace, ["filter:INPUT:policy:1"]);
    }

    #[test]
    fn a_loopback_source_leaves_only_by_an_interface_with_route_localnet() {
        // Recorded (`tests/cases/host-loopback-source-sent-*`, `nat-output-dnat-from-loopback-*`):
        // `mangle:OUTPUT:policy:1`, then `nat:OUTPUT:rule:1`, the DNAT's, and nothing more, the sender's
        // call failing with EINVAL; the fate has the addresses that rule's line shows.
        let rules = "*mangle\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n*nat\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
                     -A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 203.0.113.9:80\n\
                     -A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n*filter\n:OUTPUT ACCEPT [0:0]\n\
                     -A OUTPUT -j LOG --log-prefix \"out \"\nCOMMIT\n";
        let host = "eth0 UP 198.51.100.2/24\ndefault via 198.51.100.1 dev eth0\n";
        let packet = "tcp 127.0.0.1:40000 -> 127.0.0.1:8080 syn";
        let t = crate::matches::testing::walk(rules, host, packet);
        assert_eq!(t.trace, ["mangle:OUTPUT:policy:1", "nat:OUTPUT:rule:1"]);
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Drop);
        assert!(
            t.fate.summary.starts_with("After NAT, routing does not send a packet from 127.0.0.1"),
            "{}",
            t.fate.summary
        );
        assert_eq!((t.fate.src.as_str(), t.fate.dst.as_str()), ("127.0.0.1:40000", "127.0.0.1:8080"));
        let on = format!("{host}net.ipv4.conf.eth0.route_localnet = 1\n");
        let t = crate::matches::testing::walk(rules, &on, packet);
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Accept);
        assert_eq!(t.trace.last().map(String::as_str), Some("nat:POSTROUTING:rule:1"));
        let sent = crate::matches::testing::walk(rules, host, "tcp 127.0.0.1:40000 -> 203.0.113.9:80 syn");
        assert!(sent.trace.is_empty() && sent.fate.summary.contains("EINVAL"), "{:?}", sent.fate);
    }

    #[test]
    fn forwarding_off_by_default_is_an_assumption() {
        let rules = "*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n";
        let packet = "tcp 192.0.2.9:1000 -> 203.0.113.5:80 in eth0 syn";
        let host = "# ip -br addr\neth0 UP 192.0.2.1/24\neth1 UP 198.51.100.1/24\n# ip route\ndefault via 198.51.100.254 dev eth1\n";
        let silent = crate::matches::testing::walk(rules, host, packet);
        assert_eq!(silent.fate.verdict, crate::trace::FateVerdict::Drop, "{:?}", silent.fate);
        assert!(silent.assumptions.iter().any(|a| a.text.starts_with("The host does not give net.ipv4.ip_forward")));
        // Said off, it is a fact; said on, the packet is forwarded.
        let off = crate::matches::testing::walk(rules, &format!("{host}net.ipv4.ip_forward = 0\n"), packet);
        assert_eq!(off.fate.verdict, crate::trace::FateVerdict::Drop);
        assert!(off.assumptions.is_empty(), "{:?}", off.assumptions);
        let on = crate::matches::testing::walk(rules, &format!("{host}net.ipv4.ip_forward = 1\n"), packet);
        assert_eq!(on.fate.verdict, crate::trace::FateVerdict::Accept);
        // A packet routing refuses gets an ICMP error only when its interface forwards (`ip_error`).
        let refused = format!("{host}prohibit 203.0.113.0/24\nnet.ipv4.ip_forward = 1\n");
        let t = crate::matches::testing::walk(rules, &refused, packet);
        assert_eq!(t.fate.reject_with.as_deref(), Some("icmp-admin-prohibited"));
        let t = crate::matches::testing::walk(rules, &format!("{refused}net.ipv4.conf.eth0.forwarding = 0\n"), packet);
        assert_eq!((t.fate.verdict, t.fate.reject_with), (crate::trace::FateVerdict::Drop, None));
    }

    #[test]
    fn the_dump_s_own_trace_rule_says_where_the_kernel_starts_logging() {
        // The Docker story: raw PREROUTING rule 1 is `-j TRACE` for port 7788. Marked before raw, the
        // walk logs that rule too; the kernel with the dump as it is starts one line later.
        let trace = crate::matches::testing::walk(
            include_str!("../../../static/examples/docker-7788.rules"),
            include_str!("../../../static/examples/docker-7788.host"),
            include_str!("../../../static/examples/docker-7788.packet").trim(),
        );
        assert_eq!(trace.trace[0], "raw:PREROUTING:rule:1");
        assert_eq!(trace.marked_by_dump, Some(1));
        assert_eq!(trace.trace[1], "raw:PREROUTING:policy:2");
        let opts = super::WalkOptions { trace_from_dump: true, ..Default::default() };
        let packet = crate::packet::parse(include_str!("../../../static/examples/docker-7788.packet").trim()).unwrap();
        let host = crate::host::parse(include_str!("../../../static/examples/docker-7788.host")).unwrap();
        let parsed = crate::parse(include_str!("../../../static/examples/docker-7788.rules"), None);
        let from_dump = super::Simulation::new(&parsed.ruleset).walk(Some(&host), &packet, &opts);
        assert_eq!(from_dump.marked_by_dump, Some(0));
        assert_eq!(from_dump.trace, trace.trace[1..]);

        // No TRACE rule: the kernel would log nothing with the dump as it is.
        let plain = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
        let host = include_str!("../../../static/examples/docker-7788.host");
        let trace = crate::matches::testing::walk(plain, host, "tcp 203.0.113.7:40000 -> 198.51.100.2:22 in ppp0 syn");
        assert_eq!(trace.trace, ["filter:INPUT:rule:1"]);
        assert_eq!(trace.marked_by_dump, None);
    }

    #[test]
    fn a_random_source_nat_without_ports_says_the_port_is_drawn_from_its_class() {
        // Recorded on Linux 6.18 (match_diff seeds 6063, 6125, 6210, 6287): two recordings of the same
        // packet leave with two different source ports, in the class of the packet's own.
        let host = "# ip -br addr\neth0 UP 198.51.100.2/24\neth1 UP 192.0.2.1/24\n# ip route\n\
                    default via 198.51.100.1 dev eth0\n# sysctl\nnet.ipv4.ip_forward = 1\n";
        let rules =
            |target: &str| format!("*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth0 {target}\nCOMMIT\n");
        for (target, sport, class) in [
            ("-j MASQUERADE --random", 5353, Some("1024-65535")),
            ("-j SNAT --to-source 198.51.100.2 --random-fully", 53, Some("1-511")),
            ("-j SNAT --to-source 198.51.100.2 --random", 700, Some("600-1023")),
            ("-j SNAT --to-source 198.51.100.2", 5353, None),
        ] {
            let packet = format!("udp 192.0.2.9:{sport} -> 203.0.113.7:53 in eth1");
            let trace = crate::matches::testing::walk(&rules(target), host, &packet);
            let said = trace.assumptions.iter().find(|a| a.text.contains("random source port"));
            match class {
                Some(class) => {
                    let said = said.unwrap_or_else(|| panic!("{target}: no assumption"));
                    assert!(said.text.contains(class) && said.text.ends_with(&sport.to_string()), "{}", said.text);
                }
                None => assert!(said.is_none(), "{target}: {:?}", said),
            }
        }
    }

    #[test]
    fn an_established_packet_shows_what_its_bindings_first_packet_assumed_and_the_switch_flips_it() {
        let host = "# ip -br addr\neth0 UP 198.51.100.2/24\ncni0 UP 10.244.0.1/24\n# ip route\n\
                    default via 198.51.100.1 dev eth0\n# sysctl\nnet.ipv4.ip_forward = 1\n";
        let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:SVC - [0:0]\n\
                     -A PREROUTING -d 10.96.0.80/32 -p tcp --dport 80 -j SVC\n\
                     -A SVC -p tcp -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.244.0.6:8080\n\
                     -A SVC -p tcp -j DNAT --to-destination 10.244.0.8:8080-8090 --random\n\
                     COMMIT\n";
        let parsed = crate::parse(rules, None);
        assert!(!parsed.has_errors(), "{:?}", parsed.errors().next());
        let host = crate::host::parse(host).unwrap();
        let packet =
            crate::packet::parse("tcp 10.244.0.7:40000 -> 10.96.0.80:80 in cni0 ack ctstate established").unwrap();
        let sim = super::Simulation::new(&parsed.ruleset);
        let mut opts = super::WalkOptions::default();
        let trace = sim.walk(Some(&host), &packet, &opts);
        let carried: Vec<_> = trace.assumptions.iter().filter(|a| a.text.starts_with("For the binding")).collect();
        assert_eq!(carried.len(), 2, "{:#?}", trace.assumptions);
        assert_eq!(
            (carried[0].key.as_deref(), carried[0].matched, carried[0].step),
            (Some("nat:SVC:1"), Some(false), None)
        );
        assert!(
            carried[1].text.contains("picks a port from 8080-8090") && carried[1].key.is_none(),
            "{}",
            carried[1].text
        );
        assert!(trace.fate.summary.contains("10.244.0.8:8080"), "{}", trace.fate.summary);
        // Flipped by its key, the binding's first packet takes the other endpoint.
        opts.overrides.insert("nat:SVC:1".into(), true);
        let trace = sim.walk(Some(&host), &packet, &opts);
        assert!(trace.fate.summary.contains("10.244.0.6:8080"), "{}", trace.fate.summary);
        let carried: Vec<_> = trace.assumptions.iter().filter(|a| a.text.starts_with("For the binding")).collect();
        assert_eq!((carried.len(), carried[0].matched), (1, Some(true)));
    }

    #[test]
    fn a_packet_on_an_interface_the_host_lacks_is_pointed_out() {
        let host = "# ip -br addr\nppp0 UP 198.51.100.2/24\n# ip route\ndefault via 198.51.100.1 dev ppp0\n";
        let rules = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
        let said = |packet: &str| {
            let trace = crate::matches::testing::walk(rules, host, packet);
            trace.assumptions.into_iter().map(|a| a.text).find(|t| t.contains("which the host does not have"))
        };
        let text = said("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn").unwrap();
        assert!(
            text.starts_with("The packet comes in on eth0") && text.contains("(its interfaces: lo, ppp0)"),
            "{text}"
        );
        assert!(said("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in ppp0 syn").is_none());
        assert!(said("tcp 198.51.100.2:40000 -> 203.0.113.7:22 syn").is_none());
        let text = said("tcp 198.51.100.2:40000 -> 203.0.113.7:22 out wlan0 syn").unwrap();
        assert!(text.starts_with("The packet is sent out of wlan0"), "{text}");
    }

    #[test]
    fn a_walk_that_would_meet_exponentially_many_rules_stops_undecided() {
        use crate::trace::FateVerdict;
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:80 in eth0 syn").unwrap();
        let walk = |rules: &str| {
            let parsed = crate::parse(rules, None);
            assert!(!parsed.has_errors(), "{:?}", parsed.errors().next());
            super::Simulation::new(&parsed.ruleset).walk(None, &packet, &Default::default())
        };
        // 22 chains, each jumping twice to the next: four million rules for one packet.
        let mut rules = String::from("*filter\n");
        rules += &(0..22).map(|i| format!(":C{i} - [0:0]\n")).collect::<String>();
        rules += "-A INPUT -j C0\n";
        rules += &(0..21).map(|i| format!("-A C{i} -j C{0}\n-A C{i} -j C{0}\n", i + 1)).collect::<String>();
        rules += "COMMIT\n";
        let trace = walk(&rules);
        assert_eq!(trace.fate.verdict, FateVerdict::Undecided);
        assert!(trace.fate.summary.contains("2000 rules that matched"), "{}", trace.fate.summary);
        assert!(trace.steps.len() < 3 * super::MAX_MATCHED + 100, "{} steps", trace.steps.len());
        let last = trace.stages.last().expect("stages");
        assert!(last.note.starts_with("chainwalk stopped in filter INPUT"), "{}", last.note);
        // A long list of rules that do not match is walked to its end, however long.
        let mut rules = String::from("*filter\n:INPUT DROP [0:0]\n");
        rules += &(0..300_000u32)
            .map(|i| format!("-A INPUT -s 10.{}.{}.{}/32 -j DROP\n", i >> 16, (i >> 8) & 255, i & 255))
            .collect::<String>();
        rules += "-A INPUT -p tcp -j ACCEPT\nCOMMIT\n";
        let trace = walk(&rules);
        assert_eq!(trace.fate.verdict, FateVerdict::Accept, "{}", trace.fate.summary);
        assert_eq!(trace.deciding, Some(300_000));
    }

    #[test]
    fn a_queue_without_a_listener_drops_unless_told_one_listens() {
        // Recorded (tests/cases/target-nfqueue-*): with nobody on the queue the kernel drops the packet,
        // and --queue-bypass makes the rule act as ACCEPT. Saying that a program listens hands it over.
        use crate::trace::FateVerdict;
        let rules = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j NFQUEUE --queue-num 5\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:80 in eth0 syn").unwrap();
        let sim = super::Simulation::new(&parsed.ruleset);
        let trace = sim.walk(None, &packet, &Default::default());
        assert_eq!(trace.fate.verdict, FateVerdict::Drop);
        assert_eq!(trace.deciding, Some(0));
        let a = trace.assumptions.iter().find(|a| a.key.as_deref() == Some("filter:INPUT:1")).expect("assumption");
        assert_eq!(a.matched, Some(false));
        let mut opts = super::WalkOptions::default();
        opts.overrides.insert("filter:INPUT:1".into(), true);
        let trace = sim.walk(None, &packet, &opts);
        assert_eq!(trace.fate.verdict, FateVerdict::Queue);
        assert_eq!(trace.fate.queue, Some(5));

        let bypass = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j NFQUEUE --queue-num 5 --queue-bypass\n-A INPUT -j DROP\nCOMMIT\n";
        let parsed = crate::parse(bypass, None);
        let trace = super::Simulation::new(&parsed.ruleset).walk(None, &packet, &Default::default());
        assert_eq!(trace.fate.verdict, FateVerdict::Accept);
        assert_eq!(trace.trace, ["filter:INPUT:rule:1"]);
    }

    #[test]
    fn a_recent_set_is_seen_by_a_later_rcheck_in_the_same_walk() {
        let rules = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m recent --set --name ssh --rsource\n-A INPUT -p tcp -m recent --rcheck --name ssh --rsource -j DROP\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn").unwrap();
        let trace = super::Simulation::new(&parsed.ruleset).walk(None, &packet, &Default::default());
        assert_eq!(trace.fate.verdict, crate::trace::FateVerdict::Drop);
        let why = &trace.steps[1].conditions.last().unwrap().why;
        assert!(why.contains("earlier in this walk"), "{why}");
        assert!(!trace.steps[1].conditions.iter().any(|c| c.assumed));
    }

    #[test]
    fn dockers_bridges_ipset_is_guessed_from_its_masquerading_rules() {
        let rules = "*nat\n:POSTROUTING ACCEPT [0:0]\n\
                     -A POSTROUTING -s 172.18.0.0/16 ! -o br-0123456789ab -j MASQUERADE\n\
                     -A POSTROUTING -s 10.9.0.0/24 -o eth0 -j MASQUERADE\nCOMMIT\n\
                     *filter\n:FORWARD DROP [0:0]\n:DOCKER - [0:0]\n\
                     -A FORWARD -m set --match-set docker-ext-bridges-v4 dst -j DOCKER\n\
                     -A DOCKER -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        let sim = super::Simulation::new(&parsed.ruleset);
        let guess = sim.index.docker_bridges.as_ref().unwrap();
        let members: Vec<String> = guess.members.iter().map(|m| m.values[0].to_string()).collect();
        assert_eq!(members, ["172.18.0.0/16"]);
        let host = crate::host::parse(
            "eth0 UP 198.51.100.2/24\nbr-0123456789ab UP 172.18.0.1/16\ndefault via 198.51.100.1 dev eth0\n\
             net.ipv4.ip_forward = 1\n",
        )
        .unwrap();
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 172.18.0.2:80 in eth0 syn").unwrap();
        let trace = sim.walk(Some(&host), &packet, &Default::default());
        assert_eq!(trace.fate.verdict, crate::trace::FateVerdict::Accept);
        let a = trace.assumptions.iter().find(|a| a.key.as_deref() == Some("filter:FORWARD:1")).unwrap();
        assert!(a.text.contains("guessed from Docker's masquerading rules"), "{}", a.text);
        // The user can say otherwise, and a set the host gives wins over the guess.
        let mut opts = super::WalkOptions::default();
        opts.overrides.insert("filter:FORWARD:1".into(), false);
        assert_eq!(sim.walk(Some(&host), &packet, &opts).fate.verdict, crate::trace::FateVerdict::Drop);
        let mut given = host.clone();
        given.ipsets.push(crate::ipset::IpSet::create("docker-ext-bridges-v4", "hash:net", &[]).unwrap());
        let trace = sim.walk(Some(&given), &packet, &Default::default());
        assert_eq!(trace.fate.verdict, crate::trace::FateVerdict::Drop);
        assert!(trace.assumptions.iter().all(|a| a.key.as_deref() != Some("filter:FORWARD:1")));
    }

    #[test]
    fn synproxy_drops_a_bare_ack_unless_told_its_cookie_is_valid() {
        let rules = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j SYNPROXY --mss 1460\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        let sim = super::Simulation::new(&parsed.ruleset);
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 ack").unwrap();
        let trace = sim.walk(None, &packet, &Default::default());
        assert_eq!(trace.fate.verdict, crate::trace::FateVerdict::Drop);
        let asked = trace.assumptions.iter().find(|a| a.key.as_deref() == Some("filter:INPUT:1")).unwrap();
        assert_eq!(asked.matched, Some(false));
        let mut opts = super::WalkOptions::default();
        opts.overrides.insert("filter:INPUT:1".into(), true);
        let trace = sim.walk(None, &packet, &opts);
        let effect = trace.steps.iter().find_map(|s| s.effect.clone()).unwrap();
        assert!(effect.contains("STOLEN"), "{effect}");
        assert_eq!(trace.log.last().unwrap().verdict, "STOLEN");
    }

    #[test]
    fn a_translation_for_other_packets_is_not_reported_as_missed() {
        // An endpoint chain's DNAT tests no destination: it is not what this packet was meant to get.
        let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:SEP - [0:0]\n-A SEP -p tcp -j DNAT --to-destination 10.244.1.1:8080\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn").unwrap();
        let trace = super::Simulation::new(&parsed.ruleset).walk(None, &packet, &Default::default());
        assert!(trace.insights.is_empty(), "{:?}", trace.insights);
        // One that tests this packet's port is.
        let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:D - [0:0]\n-A D -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.244.1.1:22\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        let trace = super::Simulation::new(&parsed.ruleset).walk(None, &packet, &Default::default());
        assert_eq!(trace.insights.len(), 1, "{:?}", trace.insights);
        assert!(trace.insights[0].text.contains("before any rule jumped to D"), "{}", trace.insights[0].text);
    }

    #[test]
    fn a_comment_that_mentions_a_port_does_not_aim_a_translation() {
        let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:SEP - [0:0]\n\
                     -A SEP -p tcp -m comment --comment \"--dport 22\" -j DNAT --to-destination 10.244.1.1:8080\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn").unwrap();
        let trace = super::Simulation::new(&parsed.ruleset).walk(None, &packet, &Default::default());
        assert!(trace.insights.is_empty(), "{:?}", trace.insights);
    }

    #[test]
    fn a_chain_the_packet_entered_is_not_said_to_be_one_it_never_reached() {
        // The packet enters D and returns before D's DNAT: no rule kept it from jumping to D.
        let rules = "*nat\n:PREROUTING ACCEPT [0:0]\n:D - [0:0]\n-A PREROUTING -j D\n\
                     -A D -p tcp -m tcp --dport 22 -j RETURN\n-A D -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.244.1.1:22\nCOMMIT\n";
        let parsed = crate::parse(rules, None);
        let packet = crate::packet::parse("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn").unwrap();
        let trace = super::Simulation::new(&parsed.ruleset).walk(None, &packet, &Default::default());
        assert!(trace.steps.iter().any(|s| &*s.chain == "D"));
        assert!(trace.insights.is_empty(), "{:?}", trace.insights);
    }
}
