//! Policy routing: the rules `ip rule` lists, which decide the routing table a packet's route is looked up
//! in (`fib_rules_lookup` with `fib4_rule_match` and `fib6_rule_match` in the kernel), and the lookup that
//! follows them.
//!
//! Rules are tried by priority. A rule matches on the packet's source and destination prefixes, its mark
//! (`fwmark VALUE/MASK`), its input interface (`iif`; a packet of this host has `lo`), its output interface
//! (`oif`: only lookups made with one have it, those of `-m addrtype --limit-iface-*` and of IPv6's
//! `-m rpfilter`), its protocol and ports, its TOS and its owner's uid, or on none of them (`not` inverts
//! the test). A matching rule looks the
//! destination up in a table (`lookup`; a table with no route for it, or a `throw` route, or a route whose
//! prefix is no longer than `suppress_prefixlength`, sends the search on to the next rule), jumps ahead
//! (`goto`), does nothing (`nop`), or refuses the packet (`blackhole`, `unreachable`, `prohibit`). When the
//! host lists no rule, the kernel's own are used: `0: lookup local`, `32766: lookup main`, `32767: lookup
//! default`.

use crate::host::{prefix_contains, Host, Route, RouteDecision, RouteKind};
use crate::ruleset::Family;
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The table `ip route` lists without `table`.
pub const MAIN_TABLE: u32 = 254;
/// The table of local and broadcast routes.
pub const LOCAL_TABLE: u32 = 255;
/// The table the kernel's last rule looks in.
pub const DEFAULT_TABLE: u32 = 253;

/// One rule of the routing policy, as `ip rule` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    /// Its priority: rules are tried from the lowest.
    pub priority: u32,
    /// The family of the listing it came from (`ip rule` or `ip -6 rule`); `None` when that was not said
    /// and its addresses do not say it either: it then stands in both.
    pub family: Option<Family>,
    /// `not`: the rule applies to the packets its selectors do not match.
    pub not: bool,
    /// `from PREFIX` (`from all`: none).
    pub from: Option<(IpAddr, u8)>,
    /// `to PREFIX`.
    pub to: Option<(IpAddr, u8)>,
    /// `tos VALUE`.
    pub tos: Option<u8>,
    /// `fwmark VALUE[/MASK]` (the mask is all ones when not given).
    pub fwmark: Option<(u32, u32)>,
    /// `iif NAME`: the interface the packet came in on (`lo` for packets of this host).
    pub iif: Option<String>,
    /// `oif NAME`: the interface a socket of this host is bound to.
    pub oif: Option<String>,
    /// `ipproto PROTO`.
    pub ipproto: Option<u8>,
    /// `sport A[-B]`.
    pub sport: Option<(u16, u16)>,
    /// `dport A[-B]`.
    pub dport: Option<(u16, u16)>,
    /// `uidrange A-B`: the uid of the socket that sent the packet (0 for forwarded packets).
    pub uidrange: Option<(u32, u32)>,
    /// What the rule does with a packet it matches.
    pub action: RuleAction,
    /// `suppress_prefixlength N`: a route this rule's table finds is refused when its prefix is N bits or
    /// shorter.
    pub suppress_prefixlength: Option<u8>,
    /// Where it was written, if it was (the kernel's default rules have none).
    pub span: Option<Span>,
}

/// What a policy rule does with a packet it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// `lookup TABLE`.
    Lookup(u32),
    /// `goto PRIORITY`: on with the first rule of that priority or later.
    Goto(u32),
    /// `nop`.
    Nop,
    /// `blackhole`: dropped silently.
    Blackhole,
    /// `unreachable`: refused with "network unreachable".
    Unreachable,
    /// `prohibit`: refused with "administratively prohibited".
    Prohibit,
}

/// What a route is looked up with (the kernel's `flowi4`/`flowi6`): the packet as it is when routing
/// decides, and where it came from.
#[derive(Clone, Debug)]
pub struct Flow<'a> {
    /// The destination.
    pub dst: IpAddr,
    /// The source, when known.
    pub src: Option<IpAddr>,
    /// The packet's mark.
    pub mark: u32,
    /// The interface it came in on; `None` for a packet of this host (the kernel's `iif` is then `lo`).
    pub iif: Option<&'a str>,
    /// The protocol and ports.
    pub proto: Option<u8>,
    /// The source port.
    pub sport: Option<u16>,
    /// The destination port.
    pub dport: Option<u16>,
    /// The TOS byte.
    pub tos: u8,
    /// The uid of the sending socket (0 for packets that are not this host's).
    pub uid: u32,
    /// The output interface of the lookup, if any, which `oif` selectors of the policy compare with.
    pub oif: Option<&'a str>,
    /// Whether the lookup takes only routes through `oif`: an IPv6 output lookup with an interface and no
    /// source (`RT6_LOOKUP_F_IFACE`), an IPv4 one with `flowi4_oif` (`fib_table_lookup` skips next hops
    /// elsewhere, though a refusing route still refuses).
    pub strict_oif: bool,
}

impl Flow<'_> {
    /// A flow to `dst` that says nothing more: a packet of this host, unmarked.
    pub fn to(dst: IpAddr) -> Flow<'static> {
        Flow {
            dst,
            src: None,
            mark: 0,
            iif: None,
            proto: None,
            sport: None,
            dport: None,
            tos: 0,
            uid: 0,
            oif: None,
            strict_oif: false,
        }
    }
}

/// Whether `rules` give `family` a routing policy other than the kernel's own (none given, or just the
/// kernel's rules listed as `ip rule` prints them).
pub fn custom_rules(rules: &[PolicyRule], family: Family) -> bool {
    let given: Vec<&PolicyRule> = rules.iter().filter(|r| r.family.is_none_or(|f| f == family)).collect();
    let own = default_rules(family);
    !given.is_empty()
        && (given.len() != own.len()
            || given.iter().zip(&own).any(|(g, o)| PolicyRule { span: None, family: o.family, ..(*g).clone() } != *o))
}

/// The kernel's own rules, which stand where the host lists none.
fn default_rules(family: Family) -> Vec<PolicyRule> {
    let rule = |priority, table| PolicyRule::new(priority, Some(family), RuleAction::Lookup(table), None);
    let mut rules = vec![rule(0, LOCAL_TABLE), rule(32766, MAIN_TABLE)];
    if family == Family::Ipv4 {
        rules.push(rule(32767, DEFAULT_TABLE));
    }
    rules
}

impl PolicyRule {
    /// A rule with no selector: it takes every packet.
    pub fn new(priority: u32, family: Option<Family>, action: RuleAction, span: Option<Span>) -> PolicyRule {
        PolicyRule {
            priority,
            family,
            not: false,
            from: None,
            to: None,
            tos: None,
            fwmark: None,
            iif: None,
            oif: None,
            ipproto: None,
            sport: None,
            dport: None,
            uidrange: None,
            action,
            suppress_prefixlength: None,
            span,
        }
    }

    /// Whether the rule's selectors (and `not`) take `flow` (`fib_rule_match`).
    pub fn matches(&self, flow: &Flow<'_>) -> bool {
        let prefix = |p: Option<(IpAddr, u8)>, a: Option<IpAddr>| match (p, a) {
            (None, _) => true,
            // A flow without a source is looked up with the unspecified address.
            (Some((net, len)), a) => {
                let a = a.unwrap_or(if net.is_ipv4() {
                    IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                });
                prefix_contains(net, len, a)
            }
        };
        let range = |r: Option<(u16, u16)>, p: Option<u16>| r.is_none_or(|(a, b)| p.is_some_and(|p| a <= p && p <= b));
        let held = self.iif.as_deref().is_none_or(|i| i == flow.iif.unwrap_or("lo"))
            // A packet's route is looked up with no output interface unless its socket is bound to one,
            // which chainwalk does not model; `-m addrtype --limit-iface-*` and IPv6's `-m rpfilter`
            // look up with one.
            && self.oif.as_deref().is_none_or(|o| flow.oif == Some(o))
            && self.fwmark.is_none_or(|(v, m)| (v ^ flow.mark) & m == 0)
            && self.uidrange.is_none_or(|(a, b)| a <= flow.uid && flow.uid <= b)
            && prefix(self.from, flow.src)
            && prefix(self.to, Some(flow.dst))
            // A `tos` selector is compared with an IPv4 packet's TOS bits 0x1c only (`fib_dscp_masked_match`,
            // `IPTOS_RT_MASK` before it: TOS 0x30 meets `tos 0x10`), with an IPv6 packet's whole DSCP
            // (`fib6_rule_match`). Recorded.
            && self.tos.is_none_or(|t| t == flow.tos & if flow.dst.is_ipv4() { 0x1c } else { 0xfc })
            && self.ipproto.is_none_or(|p| Some(p) == flow.proto)
            && range(self.sport, flow.sport)
            && range(self.dport, flow.dport);
        held != self.not
    }

    /// The rule as `ip rule` prints it, without its priority.
    pub fn text(&self, host: &Host) -> String {
        let mut t = String::new();
        if self.not {
            t.push_str("not ");
        }
        match self.from {
            Some((a, l)) => t += &format!("from {a}/{l}"),
            None => t.push_str("from all"),
        }
        if let Some((a, l)) = self.to {
            t += &format!(" to {a}/{l}");
        }
        if let Some(tos) = self.tos {
            t += &format!(" tos {tos:#x}");
        }
        match self.fwmark {
            Some((v, u32::MAX)) => t += &format!(" fwmark {v:#x}"),
            Some((v, m)) => t += &format!(" fwmark {v:#x}/{m:#x}"),
            None => {}
        }
        for (k, v) in [("iif", &self.iif), ("oif", &self.oif)] {
            if let Some(v) = v {
                t += &format!(" {k} {v}");
            }
        }
        if let Some(p) = self.ipproto {
            t += &format!(
                " ipproto {}",
                crate::ruleset::Protocol(p).name().map_or_else(|| p.to_string(), str::to_string)
            );
        }
        for (k, r) in [("sport", self.sport), ("dport", self.dport)] {
            match r {
                Some((a, b)) if a == b => t += &format!(" {k} {a}"),
                Some((a, b)) => t += &format!(" {k} {a}-{b}"),
                None => {}
            }
        }
        if let Some((a, b)) = self.uidrange {
            t += &format!(" uidrange {a}-{b}");
        }
        match self.action {
            RuleAction::Lookup(table) => t += &format!(" lookup {}", host.table_name(table)),
            RuleAction::Goto(p) => t += &format!(" goto {p}"),
            RuleAction::Nop => t.push_str(" nop"),
            RuleAction::Blackhole => t.push_str(" blackhole"),
            RuleAction::Unreachable => t.push_str(" unreachable"),
            RuleAction::Prohibit => t.push_str(" prohibit"),
        }
        if let Some(n) = self.suppress_prefixlength {
            t += &format!(" suppress_prefixlength {n}");
        }
        t
    }
}

/// What the policy rules found for a flow.
pub(crate) enum Resolved<'h> {
    /// An address of this host (the local table, through the host's addresses).
    Local(RouteDecision),
    /// A route of a table (the table's number).
    Route(&'h Route, u32),
    /// A refusal: a refusing rule or route, or no route at all.
    Refused(RouteDecision),
}

/// How routing decided: the decision, and the policy rule that gave it when the host has a policy of its
/// own (its index in [`Host::rules`]).
pub type Routed = (RouteDecision, Option<usize>);

impl Host {
    /// The name of routing table `id`, as `ip` prints it.
    pub fn table_name(&self, id: u32) -> String {
        match id {
            MAIN_TABLE => "main".into(),
            LOCAL_TABLE => "local".into(),
            DEFAULT_TABLE => "default".into(),
            _ => self.table_names.iter().find(|(_, i)| *i == id).map_or_else(|| id.to_string(), |(n, _)| n.clone()),
        }
    }

    /// The number of the table called `name` (a number, `main`, `local`, `default`, or a name of the
    /// host's own, which gets a number of its own the first time).
    pub fn table_id(&mut self, name: &str) -> u32 {
        match name {
            "main" => MAIN_TABLE,
            "local" => LOCAL_TABLE,
            "default" => DEFAULT_TABLE,
            _ => match name.parse::<u32>() {
                Ok(n) => n,
                Err(_) => match self.table_names.iter().find(|(n, _)| n == name) {
                    Some((_, id)) => *id,
                    None => {
                        // Numbers past those people write: a name of the host's own stands for them.
                        let id = 0x1000_0000 + self.table_names.len() as u32;
                        self.table_names.push((name.to_string(), id));
                        id
                    }
                },
            },
        }
    }

    /// The route of table `table` for `ip`: longest prefix first, then lowest metric.
    pub fn lookup_in(&self, table: u32, ip: IpAddr) -> Option<&Route> {
        self.lookup_through(table, ip, None)
    }

    /// The kernel's routing decision for `flow` (`fib_lookup` through the policy rules), and the rule that
    /// decided when the host gives a policy of its own.
    pub fn route_flow(&self, flow: &Flow<'_>) -> Routed {
        let (found, index) = self.resolve(flow);
        let decision = match found {
            Resolved::Local(d) => d,
            Resolved::Route(route, table) => self.decision(route, table, flow.dst),
            Resolved::Refused(d) => d,
        };
        (decision, index)
    }

    /// What the policy rules find for `flow`: this host's address, a route of a table, or a refusal; and
    /// the rule that decided when the host gives a policy of its own.
    pub(crate) fn resolve(&self, flow: &Flow<'_>) -> (Resolved<'_>, Option<usize>) {
        let family = if flow.dst.is_ipv4() { Family::Ipv4 } else { Family::Ipv6 };
        let mut rules: Vec<(Option<usize>, &PolicyRule)> = (self.rules.iter().enumerate())
            .filter(|(_, r)| r.family.is_none_or(|f| f == family))
            .map(|(i, r)| (Some(i), r))
            .collect();
        let defaults = if rules.is_empty() { default_rules(family) } else { Vec::new() };
        rules.extend(defaults.iter().map(|r| (None, r)));
        rules.sort_by_key(|(_, r)| r.priority);
        let dst = flow.dst;
        // A lookup held to its interface finds only what goes through it, in the local table as in the
        // others (`rt6_score_route`, `fib_table_lookup`).
        let strict = flow.oif.filter(|_| flow.strict_oif);
        let mut at = 0;
        while let Some(&(index, rule)) = rules.get(at) {
            at += 1;
            if !rule.matches(flow) {
                continue;
            }
            let refused = |kind: Option<RouteKind>, what: &str| {
                let reason = format!("ip rule {} ({}) refuses it: {what}", rule.priority, rule.text(self));
                (Resolved::Refused(RouteDecision::Unroutable { reason, route: kind }), index)
            };
            match rule.action {
                RuleAction::Lookup(LOCAL_TABLE) => {
                    if let Some(d) = self.local_decision(dst) {
                        let through = |dev: &str| strict.is_none_or(|o| o == dev);
                        if matches!(&d, RouteDecision::Local { dev } if through(dev)) {
                            return (Resolved::Local(d), index);
                        }
                    }
                }
                RuleAction::Lookup(table) => {
                    let Some(route) = self.lookup_through(table, dst, strict) else { continue };
                    if route.kind == RouteKind::Throw {
                        continue;
                    }
                    if rule.suppress_prefixlength.is_some_and(|n| route.prefix <= n) {
                        continue;
                    }
                    return (Resolved::Route(route, table), index);
                }
                RuleAction::Goto(priority) => {
                    // The kernel only lets a rule go forward, to a later priority.
                    at = rules
                        .iter()
                        .position(|(_, r)| r.priority >= priority && r.priority > rule.priority)
                        .unwrap_or(rules.len());
                }
                RuleAction::Nop => {}
                RuleAction::Blackhole => return refused(Some(RouteKind::Blackhole), "blackhole"),
                RuleAction::Unreachable => return refused(None, "network unreachable"),
                RuleAction::Prohibit => return refused(Some(RouteKind::Prohibit), "prohibited"),
            }
        }
        let reason = format!("no route to {dst}");
        (Resolved::Refused(RouteDecision::Unroutable { reason, route: None }), None)
    }

    /// [`Host::lookup_in`], held to the routes through `oif` when there is one (an IPv6 refusing route goes
    /// through `lo`; an IPv4 one refuses whatever the interface, as `fib_table_lookup` returns its error
    /// before it looks at next hops).
    fn lookup_through(&self, table: u32, ip: IpAddr, oif: Option<&str>) -> Option<&Route> {
        let through = |r: &&Route| {
            oif.is_none_or(|oif| match r.kind {
                RouteKind::Unicast | RouteKind::Local | RouteKind::Broadcast => {
                    r.dev.as_deref() == Some(oif) || r.nexthops.iter().any(|n| n.dev.as_deref() == Some(oif))
                }
                _ => oif == "lo" || ip.is_ipv4(),
            })
        };
        self.routes
            .iter()
            .filter(|r| r.table == table && r.dst.is_ipv4() == ip.is_ipv4())
            // The local table is asked through the host's addresses (`local_decision`).
            .filter(|r| table != LOCAL_TABLE || !matches!(r.kind, RouteKind::Local | RouteKind::Broadcast))
            .filter(|r| prefix_contains(r.dst, r.prefix, ip))
            .filter(through)
            .min_by_key(|r| (std::cmp::Reverse(r.prefix), r.metric))
    }

    /// Whether the route `flow` takes has a next hop through `dev`, any of a multipath route's
    /// (`fib_info_nh_uses_dev`, which the reverse-path checks ask).
    pub fn route_uses_dev(&self, flow: &Flow<'_>, dev: &str) -> bool {
        let (RouteDecision::Forward { dev: chosen, .. }, rule) = self.route_flow(flow) else { return false };
        if chosen == dev {
            return true;
        }
        let usable = |r: &&Route| r.kind != RouteKind::Throw;
        let route = match rule.map(|i| &self.rules[i].action) {
            Some(&RuleAction::Lookup(table)) => self.lookup_in(table, flow.dst),
            _ => (self.lookup_in(MAIN_TABLE, flow.dst).filter(usable))
                .or_else(|| self.lookup_in(DEFAULT_TABLE, flow.dst)),
        };
        route.is_some_and(|r| r.nexthops.iter().any(|n| n.dev.as_deref() == Some(dev)))
    }

    /// What a route found in `table` does with a packet to `dst`.
    fn decision(&self, r: &Route, table: u32, dst: IpAddr) -> RouteDecision {
        let live = r.nexthops.iter().filter(|n| !n.dead).count() as u32;
        let multipath = if live > 1 { live } else { 0 };
        match r.kind {
            RouteKind::Unicast => match &r.dev {
                Some(dev) => RouteDecision::Forward {
                    dev: dev.clone(),
                    via: r.via,
                    src: r.src,
                    multipath,
                    mtu: r.mtu,
                    mtu_locked: r.mtu_locked,
                },
                // A gateway without an interface is reached as routing in its table, else in main, reaches it.
                None => match r
                    .via
                    .and_then(|gw| self.lookup_in(table, gw).or_else(|| self.lookup_in(MAIN_TABLE, gw)))
                    .and_then(|g| g.dev.clone())
                {
                    Some(dev) => RouteDecision::Forward {
                        dev,
                        via: r.via,
                        src: r.src,
                        multipath,
                        mtu: r.mtu,
                        mtu_locked: r.mtu_locked,
                    },
                    None => RouteDecision::Unroutable {
                        reason: format!("the route to {dst} names no interface"),
                        route: None,
                    },
                },
            },
            // A `local` route of a table of the host's own (`local default dev lo table 100`, as transparent
            // proxies set up) makes the packet this host's.
            RouteKind::Local | RouteKind::Broadcast => {
                RouteDecision::Local { dev: r.dev.clone().unwrap_or_else(|| "lo".into()) }
            }
            kind => {
                let name = kind.name();
                let article = if name.starts_with('u') { "an" } else { "a" };
                RouteDecision::Unroutable { reason: format!("{article} {name} route covers {dst}"), route: Some(kind) }
            }
        }
    }
}

/// Reads an `ip rule` line (`32765: from all fwmark 0x1 lookup 100`), of the listing of `family` when that
/// is known.
pub(crate) fn read_rule(host: &mut Host, words: &[&str], family: Option<Family>, span: Span) -> Result<(), String> {
    let priority =
        words[0].trim_end_matches(':').parse::<u32>().map_err(|_| format!("`{}` is not a rule priority", words[0]))?;
    let mut rule = PolicyRule::new(priority, family, RuleAction::Nop, Some(span));
    let mut action = None;
    let mut i = 1;
    let prefix = |text: &str, family: &mut Option<Family>| -> Result<Option<(IpAddr, u8)>, String> {
        if text == "all" {
            return Ok(None);
        }
        let a = crate::host::parse_ifaddr(text)?;
        let f = if a.addr.is_ipv4() { Family::Ipv4 } else { Family::Ipv6 };
        if family.is_some_and(|g| g != f) {
            return Err(format!("`{text}` is not an address of the rule's family"));
        }
        *family = Some(f);
        Ok(Some((a.addr, a.prefix)))
    };
    let number = |v: Option<&&str>, what: &str| -> Result<u32, String> {
        let v = v.ok_or_else(|| format!("`{what}` needs a value"))?;
        let n = match v.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => v.parse::<u32>(),
        };
        n.map_err(|_| format!("`{v}` is not a number for `{what}`"))
    };
    let ports = |v: Option<&&str>, what: &str| -> Result<(u16, u16), String> {
        let v = v.ok_or_else(|| format!("`{what}` needs a port or a range"))?;
        let (a, b) = v.split_once('-').unwrap_or((v, v));
        match (a.parse::<u16>(), b.parse::<u16>()) {
            // `fib_rule_port_range_valid`: the kernel refuses port 0 and 65535 at either end (seen on 6.18).
            (Ok(0), Ok(_)) | (Ok(_), Ok(65535)) => {
                Err(format!("the kernel refuses `{what} {v}`: a port range of a rule must lie within 1-65534"))
            }
            (Ok(a), Ok(b)) if a <= b => Ok((a, b)),
            _ => Err(format!("`{v}` is not a port or a range of ports")),
        }
    };
    while i < words.len() {
        let key = words[i];
        let value = words.get(i + 1);
        let mut took = 2;
        match key {
            "not" => {
                rule.not = true;
                took = 1;
            }
            "from" => rule.from = prefix(value.ok_or("`from` needs a prefix or `all`")?, &mut rule.family)?,
            "to" => rule.to = prefix(value.ok_or("`to` needs a prefix or `all`")?, &mut rule.family)?,
            "tos" | "dsfield" => rule.tos = Some(number(value, key)?.try_into().map_err(|_| "a TOS is one byte")?),
            "fwmark" => {
                let v = value.ok_or("`fwmark` needs a value")?;
                let (m, mask) = v.split_once('/').map_or((*v, None), |(m, k)| (m, Some(k)));
                let mask = match mask {
                    Some(k) => number(Some(&k), "fwmark")?,
                    None => u32::MAX,
                };
                rule.fwmark = Some((number(Some(&m), "fwmark")?, mask));
            }
            "iif" => rule.iif = Some(value.ok_or("`iif` needs an interface")?.to_string()),
            "oif" => rule.oif = Some(value.ok_or("`oif` needs an interface")?.to_string()),
            "ipproto" => {
                let v = value.ok_or("`ipproto` needs a protocol")?;
                let p = crate::ruleset::Protocol::parse(v).map_err(|_| format!("`{v}` is not a protocol"))?;
                rule.ipproto = Some(p.0);
            }
            "sport" => rule.sport = Some(ports(value, key)?),
            "dport" => rule.dport = Some(ports(value, key)?),
            "uidrange" => {
                let v = value.ok_or("`uidrange` needs a range")?;
                let (a, b) = v.split_once('-').unwrap_or((v, v));
                match (a.parse::<u32>(), b.parse::<u32>()) {
                    (Ok(a), Ok(b)) => rule.uidrange = Some((a, b)),
                    _ => return Err(format!("`{v}` is not a range of uids")),
                }
            }
            "lookup" | "table" => {
                let name = value.ok_or("`lookup` needs a table")?;
                action = Some(RuleAction::Lookup(host.table_id(name)));
            }
            "goto" => action = Some(RuleAction::Goto(number(value, key)?)),
            "suppress_prefixlength" => {
                let n = number(value, key)?;
                // `ip rule` shows -1 (none) as nothing; anything past a prefix length suppresses nothing.
                rule.suppress_prefixlength = u8::try_from(n).ok();
            }
            "blackhole" | "unreachable" | "prohibit" | "nop" => {
                action = Some(match key {
                    "blackhole" => RuleAction::Blackhole,
                    "unreachable" => RuleAction::Unreachable,
                    "prohibit" => RuleAction::Prohibit,
                    _ => RuleAction::Nop,
                });
                took = 1;
            }
            // What `ip rule` may print that changes nothing chainwalk models.
            "proto" | "realms" | "protocol" | "suppress_ifgroup" | "l3mdev" | "tun_id" | "pref" | "priority" => {
                if key == "l3mdev" {
                    took = 1;
                }
            }
            "[detached]" | "[unresolved]" => took = 1,
            other => return Err(format!("`{other}` is not an `ip rule` selector or action chainwalk knows")),
        }
        i += took;
    }
    rule.action =
        action.ok_or("the rule says neither `lookup TABLE` nor blackhole, unreachable, prohibit, goto or nop")?;
    host.rules.push(rule);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::host::{parse, RouteDecision};
    use crate::policy::Flow;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    const MULTI_WAN: &str = "# ip -br addr\nlo UNKNOWN 127.0.0.1/8\neth0 UP 198.51.100.2/24\neth1 UP 203.0.113.2/24\n\
        eth2 UP 192.0.2.1/24\n# ip rule\n0:\tfrom all lookup local\n100:\tfrom all fwmark 0x2/0xff lookup wan2\n\
        200:\tfrom 192.0.2.128/25 lookup wan2\n300:\tfrom all to 198.18.0.0/15 prohibit\n32766:\tfrom all lookup main\n\
        32767:\tfrom all lookup default\n# ip route\ndefault via 198.51.100.1 dev eth0\n\
        # ip route show table wan2\ndefault via 203.0.113.1 dev eth1\n";

    fn forward_dev(d: &RouteDecision) -> Option<&str> {
        match d {
            RouteDecision::Forward { dev, .. } => Some(dev),
            _ => None,
        }
    }

    #[test]
    fn marks_and_sources_pick_the_table() {
        let h = parse(MULTI_WAN).unwrap();
        let mut f = Flow::to(ip("8.8.8.8"));
        f.iif = Some("eth2");
        f.src = Some(ip("192.0.2.10"));
        assert_eq!(forward_dev(&h.route_flow(&f).0), Some("eth0"));
        f.mark = 0x102;
        let (d, rule) = h.route_flow(&f);
        assert_eq!((forward_dev(&d), rule.map(|r| h.rules[r].priority)), (Some("eth1"), Some(100)));
        f.mark = 0x101;
        f.src = Some(ip("192.0.2.200"));
        assert_eq!(forward_dev(&h.route_flow(&f).0), Some("eth1"));
        // The local table comes first: the host's own address stays local whatever the mark.
        f.dst = ip("203.0.113.2");
        assert!(matches!(h.route_flow(&f).0, RouteDecision::Local { .. }));
        f.dst = ip("198.18.0.1");
        f.src = Some(ip("192.0.2.10"));
        assert!(matches!(
            h.route_flow(&f).0,
            RouteDecision::Unroutable { route: Some(crate::host::RouteKind::Prohibit), .. }
        ));
    }

    #[test]
    fn port_ranges_end_before_65535() {
        let rule =
            |r: &str| parse(&format!("eth0 UP 198.51.100.2/24\n# ip rule\n100:\tfrom all ipproto udp {r} lookup 7\n"));
        assert!(rule("sport 1024-65534").is_ok());
        for bad in ["sport 1024-65535", "dport 65535", "sport 0-5"] {
            let e = format!("{:?}", rule(bad).unwrap_err());
            assert!(e.contains("a port range of a rule must lie within 1-65534"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_table_without_a_route_sends_the_search_on() {
        let text = MULTI_WAN.replace("default via 203.0.113.1 dev eth1", "10.0.0.0/8 via 203.0.113.1 dev eth1");
        let h = parse(&text).unwrap();
        let mut f = Flow::to(ip("8.8.8.8"));
        f.mark = 2;
        let (d, rule) = h.route_flow(&f);
        assert_eq!((forward_dev(&d), rule.map(|r| h.rules[r].priority)), (Some("eth0"), Some(32766)));
    }

    #[test]
    fn suppress_prefixlength_and_not_as_wg_quick_sets_them() {
        let text =
            "# ip -br addr\neth0 UP 198.51.100.2/24\nwg0 UNKNOWN 10.8.0.2/24\n# ip rule\n0:\tfrom all lookup local\n\
            32764:\tfrom all lookup main suppress_prefixlength 0\n32765:\tnot from all fwmark 0xca6c lookup 51820\n\
            32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n# ip route\n\
            default via 198.51.100.1 dev eth0\n# ip route show table 51820\ndefault dev wg0 scope link\n";
        let h = parse(text).unwrap();
        // Unmarked traffic goes into the tunnel; the tunnel's own packets (marked) take the main default route.
        assert_eq!(forward_dev(&h.route_flow(&Flow::to(ip("8.8.8.8"))).0), Some("wg0"));
        let mut f = Flow::to(ip("8.8.8.8"));
        f.mark = 0xca6c;
        assert_eq!(forward_dev(&h.route_flow(&f).0), Some("eth0"));
        // A more specific route of main still wins.
        assert_eq!(forward_dev(&h.route_flow(&Flow::to(ip("198.51.100.7"))).0), Some("eth0"));
    }

    #[test]
    fn iif_lo_is_this_hosts_own_traffic_and_goto_skips_ahead() {
        let text = "eth0 UP 198.51.100.2/24\neth1 UP 203.0.113.2/24\n# ip rule\n0:\tfrom all lookup local\n\
            10:\tfrom all iif lo goto 50\n20:\tfrom all lookup 7\n50:\tfrom all lookup main\n\
            # ip route\ndefault via 198.51.100.1 dev eth0\n# ip route show table 7\ndefault via 203.0.113.1 dev eth1\n";
        let h = parse(text).unwrap();
        assert_eq!(forward_dev(&h.route_flow(&Flow::to(ip("8.8.8.8"))).0), Some("eth0"));
        let mut f = Flow::to(ip("8.8.8.8"));
        f.iif = Some("eth0");
        assert_eq!(forward_dev(&h.route_flow(&f).0), Some("eth1"));
    }

    #[test]
    fn a_local_route_of_a_table_makes_marked_packets_local_as_tproxy_needs() {
        let text =
            "eth0 UP 198.51.100.2/24\n# ip rule\n0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup 100\n\
            32766:\tfrom all lookup main\n# ip route\ndefault via 198.51.100.1 dev eth0\n\
            # ip route show table 100\nlocal default dev lo scope host\n";
        let h = parse(text).unwrap();
        let mut f = Flow::to(ip("203.0.113.9"));
        f.iif = Some("eth0");
        assert_eq!(forward_dev(&h.route_flow(&f).0), Some("eth0"));
        f.mark = 1;
        assert_eq!(h.route_flow(&f).0, RouteDecision::Local { dev: "lo".into() });
        // It is not an address of the host for anything else.
        assert!(!h.is_local(ip("203.0.113.9")));
    }

    #[test]
    fn rule_lines_are_not_interfaces_and_bad_ones_are_refused() {
        let defaults = "eth0 UP 192.0.2.1/24\n# ip rule\n0:\tfrom all lookup local\n32766:\tfrom all lookup main\n\
            32767:\tfrom all lookup default\n";
        let h = parse(defaults).unwrap();
        assert!(h.interface("from").is_none());
        assert_eq!(h.rules.len(), 3);
        let e = parse("eth0 UP 192.0.2.1/24\n100: from all fwmark zz lookup 5\n").unwrap_err();
        assert!(e[0].message.contains("`zz`"), "{e:?}");
        let e = parse("eth0 UP 192.0.2.1/24\n100: from all fwmark 1\n").unwrap_err();
        assert!(e[0].message.contains("lookup"), "{e:?}");
    }
}
