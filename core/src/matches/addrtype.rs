//! `-m addrtype`: the routing type of the source or destination address (local, broadcast, ...), as the
//! kernel's routing tables classify it (`libxt_addrtype`, revision 1 of the kernel's `xt_addrtype.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::host::{prefix_contains, AddrType as RouteType, Host, RouteKind};
use crate::ruleset::{Family, Hook, Negatable};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The options of `-m addrtype`; at least one of the type lists is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Addrtype {
    /// `--src-type`: the source address has one of these types.
    pub src: Option<Negatable<AddrTypes>>,
    /// `--dst-type`: the destination address has one of these types.
    pub dst: Option<Negatable<AddrTypes>>,
    /// `--limit-iface-in` / `--limit-iface-out`: look the address up for the packet's interface only.
    pub limit: Option<IfaceLimit>,
}

/// Whose interface an address type is looked up for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IfaceLimit {
    /// `--limit-iface-in`: the interface the packet came in on (not from OUTPUT or POSTROUTING).
    In,
    /// `--limit-iface-out`: the interface the packet goes out on (not from PREROUTING or INPUT).
    Out,
}

/// An address type: the route type (`RTN_*` in `linux/rtnetlink.h`) the kernel finds for an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddrType {
    /// No route type.
    Unspec,
    /// A gateway or direct route.
    Unicast,
    /// An address of this host.
    Local,
    /// A broadcast address.
    Broadcast,
    /// An anycast address of this host.
    Anycast,
    /// A multicast address.
    Multicast,
    /// A route that drops silently.
    Blackhole,
    /// A route that answers "unreachable".
    Unreachable,
    /// A route that answers "prohibited".
    Prohibit,
    /// A route that sends the lookup on to the next table.
    Throw,
    /// A NAT route (obsolete).
    Nat,
    /// An external resolver route (obsolete).
    Xresolve,
}

impl AddrType {
    /// All types, in the order of their bits and of `iptables-save`'s lists.
    pub const ALL: [AddrType; 12] = [
        AddrType::Unspec,
        AddrType::Unicast,
        AddrType::Local,
        AddrType::Broadcast,
        AddrType::Anycast,
        AddrType::Multicast,
        AddrType::Blackhole,
        AddrType::Unreachable,
        AddrType::Prohibit,
        AddrType::Throw,
        AddrType::Nat,
        AddrType::Xresolve,
    ];

    /// The name `iptables` reads (in any case) and prints.
    pub fn name(self) -> &'static str {
        match self {
            AddrType::Unspec => "UNSPEC",
            AddrType::Unicast => "UNICAST",
            AddrType::Local => "LOCAL",
            AddrType::Broadcast => "BROADCAST",
            AddrType::Anycast => "ANYCAST",
            AddrType::Multicast => "MULTICAST",
            AddrType::Blackhole => "BLACKHOLE",
            AddrType::Unreachable => "UNREACHABLE",
            AddrType::Prohibit => "PROHIBIT",
            AddrType::Throw => "THROW",
            AddrType::Nat => "NAT",
            AddrType::Xresolve => "XRESOLVE",
        }
    }

    /// The type's bit in an [`AddrTypes`] set (`XT_ADDRTYPE_*`: `1 << RTN_*`).
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Whether the kernel can test IPv6 addresses for this type (it refuses BROADCAST, BLACKHOLE and the
    /// types from PROHIBIT on).
    pub fn ipv6_supported(self) -> bool {
        !matches!(
            self,
            AddrType::Broadcast
                | AddrType::Blackhole
                | AddrType::Prohibit
                | AddrType::Throw
                | AddrType::Nat
                | AddrType::Xresolve
        )
    }
}

/// A set of address types; an address matches when its type is in the set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrTypes(pub u16);

impl AddrTypes {
    /// Reads a comma-separated list of type names as `libxt_addrtype` does: in any case, and each may be
    /// cut short, standing for the first type (in the kernel's order) it begins (`loc` is LOCAL, `b`
    /// BROADCAST, `u` UNSPEC).
    pub fn parse(text: &str) -> Result<AddrTypes, String> {
        let mut set = AddrTypes(0);
        for item in text.split(',') {
            let t =
                AddrType::ALL.into_iter().find(|t| crate::values::abbreviates(item, t.name())).ok_or_else(|| {
                    let names: Vec<&str> = AddrType::ALL.iter().map(|t| t.name()).collect();
                    format!("`{item}` is not an address type ({})", names.join(", "))
                })?;
            set.0 |= t.bit();
        }
        Ok(set)
    }

    /// Whether `t` is in the set.
    pub fn contains(self, t: AddrType) -> bool {
        self.0 & t.bit() != 0
    }

    /// The types in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = AddrType> {
        AddrType::ALL.into_iter().filter(move |t| self.contains(*t))
    }
}

impl fmt::Display for AddrTypes {
    /// The names joined by commas in bit order, as `iptables-save` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(t.name())?;
        }
        Ok(())
    }
}

impl Addrtype {
    /// The hooks (as [`Hook::bit`]s) the kernel lets this match be reached from: all of them, except that
    /// `--limit-iface-in` needs an input interface and `--limit-iface-out` an output interface.
    pub fn allowed_hooks(&self) -> u8 {
        let refused: &[Hook] = match self.limit {
            None => &[],
            Some(IfaceLimit::In) => &[Hook::Output, Hook::Postrouting],
            Some(IfaceLimit::Out) => &[Hook::Prerouting, Hook::Input],
        };
        Hook::ALL.iter().filter(|h| !refused.contains(h)).fold(0, |bits, h| bits | h.bit())
    }
}

fn types_opt(opts: &[Opt<'_>], name: &str, family: Family) -> Result<Option<Negatable<AddrTypes>>, Diagnostic> {
    let Some(o) = find(opts, name)? else {
        return Ok(None);
    };
    let set = o.parse_arg(AddrTypes::parse)?;
    if family == Family::Ipv6 {
        if let Some(t) = set.iter().find(|t| !t.ipv6_supported()) {
            return Err(o.bad_arg(format!("the kernel cannot test IPv6 addresses for type {}", t.name())));
        }
    }
    Ok(Some(Negatable { value: set, negated: o.negated, span: o.span }))
}

impl Extension for Addrtype {
    const OPTIONS: &'static [OptSpec] = &[
        opt("src-type", Args::One),
        opt("dst-type", Args::One),
        opt("limit-iface-in", Args::Zero),
        opt("limit-iface-out", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Addrtype, Diagnostic> {
        let src = types_opt(opts, "src-type", ctx.family)?;
        let dst = types_opt(opts, "dst-type", ctx.family)?;
        let mut limit = None;
        for o in opts.iter().filter(|o| o.name.starts_with("limit-iface-")) {
            o.no_negation()?;
            let this = if o.name == "limit-iface-in" { IfaceLimit::In } else { IfaceLimit::Out };
            match limit {
                Some(l) if l == this => {
                    return Err(Diagnostic::error(o.span, format!("`--{}` is given more than once", o.name)))
                }
                Some(_) => {
                    return Err(Diagnostic::error(
                        o.span,
                        "only one of `--limit-iface-in` and `--limit-iface-out` may be given",
                    ))
                }
                None => limit = Some(this),
            }
        }
        if src.is_none() && dst.is_none() {
            return Err(ctx.error("the addrtype match needs `--src-type` or `--dst-type`"));
        }
        Ok(Addrtype { src, dst, limit })
    }

    fn save(&self, out: &mut String) {
        for (name, types) in [("src-type", &self.src), ("dst-type", &self.dst)] {
            if let Some(t) = types {
                save_opt(out, t.negated, name);
                out.push_str(&format!(" {}", t.value));
            }
        }
        match self.limit {
            Some(IfaceLimit::In) => out.push_str(" --limit-iface-in"),
            Some(IfaceLimit::Out) => out.push_str(" --limit-iface-out"),
            None => {}
        }
    }
}

impl From<RouteType> for AddrType {
    fn from(t: RouteType) -> AddrType {
        match t {
            RouteType::Unspec => AddrType::Unspec,
            RouteType::Unicast => AddrType::Unicast,
            RouteType::Local => AddrType::Local,
            RouteType::Broadcast => AddrType::Broadcast,
            RouteType::Multicast => AddrType::Multicast,
            RouteType::Blackhole => AddrType::Blackhole,
            RouteType::Unreachable => AddrType::Unreachable,
            RouteType::Prohibit => AddrType::Prohibit,
            RouteType::Throw => AddrType::Throw,
        }
    }
}

/// Whether `ip` is an address of `dev`: one of its own, 127.0.0.0/8 or `::1` on `lo`, or one a `local` route
/// through it covers.
fn local_on(host: &Host, dev: &str, ip: IpAddr) -> bool {
    let loopback = match ip {
        IpAddr::V4(a) => a.is_loopback(),
        IpAddr::V6(a) => a.is_loopback(),
    };
    (loopback && dev == "lo")
        || host.interface(dev).is_some_and(|i| i.addrs.iter().any(|a| a.addr == ip))
        || host.routes.iter().any(|r| {
            r.kind == RouteKind::Local
                && r.table == crate::policy::LOCAL_TABLE
                && r.dev.as_deref() == Some(dev)
                && prefix_contains(r.dst, r.prefix, ip)
        })
}

/// Whether `ip` is a broadcast address of one of `dev`'s subnets, or a `broadcast` route through it covers it.
fn broadcast_on(host: &Host, dev: &str, ip: Ipv4Addr) -> bool {
    host.interface(dev).is_some_and(|i| i.addrs.iter().any(|a| a.broadcast() == Some(ip)))
        || host.routes.iter().any(|r| {
            r.kind == RouteKind::Broadcast
                && r.table == crate::policy::LOCAL_TABLE
                && r.dev.as_deref() == Some(dev)
                && prefix_contains(r.dst, r.prefix, IpAddr::V4(ip))
        })
}

/// The type of an IPv4 address (`inet_dev_addr_type` in `fib_frontend.c`): 0.0.0.0/8 and 255.255.255.255
/// are BROADCAST (so UNSPEC never matches), multicast addresses MULTICAST, and any other the type of the route
/// the local table finds: LOCAL or BROADCAST (with `dev`, only when the route goes through `dev`), else
/// UNICAST. A blackhole, unreachable, prohibit or throw route makes that lookup fail, so the address is
/// UNICAST then too (recorded).
fn type_v4(host: &Host, ip: Ipv4Addr, dev: Option<&str>) -> AddrType {
    if ip.octets()[0] == 0 || ip.is_broadcast() {
        return AddrType::Broadcast;
    }
    if ip.is_multicast() {
        return AddrType::Multicast;
    }
    let t = AddrType::from(host.addr_type(IpAddr::V4(ip)));
    match (dev, t) {
        (None, t) => t,
        (Some(d), AddrType::Local) if local_on(host, d, IpAddr::V4(ip)) => t,
        (Some(d), AddrType::Broadcast) if broadcast_on(host, d, ip) => t,
        (Some(_), _) => AddrType::Unicast,
    }
}

/// The route types `match_lookup_rt6` in `xt_addrtype.c` reports for an IPv6 address: UNREACHABLE alone when
/// routing refuses it (no route, a refusing route or rule); otherwise LOCAL for an address of this host
/// (with `dev`, of `dev` only) and ANYCAST for the subnet-router anycast address of a directly connected
/// prefix (joined by the host while it forwards, or not).
///
/// The lookup is an output one (`ip6_route_output`) through the routing policy, with no source, no mark,
/// no protocol, as from `lo`; with `dev` it is held to `dev` (`flowi6_oif` with no source makes it strict
/// about the interface, in the local table as in the others), and `oif` selectors see `dev`: an address no
/// route through `dev` covers, such as another interface's own address, is UNREACHABLE (recorded).
fn route_types_v6(host: &Host, ip: Ipv6Addr, dev: Option<&str>) -> AddrTypes {
    use crate::policy::Resolved;
    let addr = IpAddr::V6(ip);
    let flow = crate::policy::Flow { oif: dev, strict_oif: true, ..crate::policy::Flow::to(addr) };
    let (found, _) = host.resolve(&flow);
    let route = match found {
        Resolved::Route(r, _) => Some(r),
        _ => None,
    };
    // The Subnet-Router anycast address the host joins while it forwards is in the local table as an
    // anycast route (RTF_ANYCAST, not RTF_LOCAL): ANYCAST, not LOCAL (recorded).
    let joined_anycast =
        matches!(found, Resolved::Local(_)) && !host.is_local(addr) && host.subnet_router_anycast_dev(addr).is_some();
    // A `local` route of another table (`local default dev lo table 100`) counts as the local table's.
    let is_local =
        (matches!(found, Resolved::Local(_)) && !joined_anycast) || route.is_some_and(|r| r.kind == RouteKind::Local);
    // Every interface but `lo` has a link-local prefix, which a host's text seldom lists.
    let link_local = dev.is_some_and(|d| d != "lo") && ip.segments()[0] & 0xffc0 == 0xfe80;
    let reachable = is_local || joined_anycast || link_local || route.is_some_and(|r| r.kind == RouteKind::Unicast);
    if !reachable && !ip.is_multicast() {
        return AddrTypes(AddrType::Unreachable.bit());
    }
    let mut types = AddrTypes(0);
    if is_local || dev.is_some_and(|d| local_on(host, d, addr)) {
        types.0 |= AddrType::Local.bit();
    }
    if joined_anycast
        || (!host.is_local(addr) && route.is_some_and(|r| r.via.is_none() && r.prefix < 127 && r.dst == addr))
    {
        types.0 |= AddrType::Anycast.bit();
    }
    types
}

/// How the lookup was limited, as a clause.
fn seen_on(dev: Option<&str>) -> String {
    dev.map(|d| format!(" (counting only {d}'s own addresses)")).unwrap_or_default()
}

/// `match_type` in `xt_addrtype.c`: the address's one type is in the list.
fn eval_v4(host: &Host, key: &str, ip: Ipv4Addr, dev: Option<&str>, test: &Negatable<AddrTypes>) -> Outcome {
    let t = type_v4(host, ip, dev);
    let inside = test.value.contains(t);
    let one = test.value.0.count_ones() == 1;
    let fact = format!(
        "{key}={ip} is {}{}, which {}",
        t.name(),
        seen_on(dev),
        super::conntrack::in_list(inside, test.value, one)
    );
    conclude(inside, test.negated, fact)
}

/// `match_type6` in `xt_addrtype.c`: every one of MULTICAST, UNICAST and UNSPEC in the list must fit the
/// address, and when the list has LOCAL, ANYCAST or UNREACHABLE the address must have one of those.
fn eval_v6(host: &Host, key: &str, ip: Ipv6Addr, dev: Option<&str>, test: &Negatable<AddrTypes>) -> Outcome {
    let set = test.value;
    // `ipv6_addr_type`: a v4-mapped address (::ffff:0:0/96) is none of the three (recorded).
    let class = if ip.is_unspecified() {
        Some(AddrType::Unspec)
    } else if ip.is_multicast() {
        Some(AddrType::Multicast)
    } else if ip.to_ipv4_mapped().is_some() {
        None
    } else {
        Some(AddrType::Unicast)
    };
    let class_name = class.map_or("v4-mapped (neither UNSPEC, UNICAST nor MULTICAST to IPv6)", AddrType::name);
    let classes = [AddrType::Multicast, AddrType::Unicast, AddrType::Unspec];
    let lookup = AddrTypes(set.0 & (AddrType::Local.bit() | AddrType::Anycast.bit() | AddrType::Unreachable.bit()));
    let (holds, fact) = if let Some(t) = classes.into_iter().find(|t| set.contains(*t) && Some(*t) != class) {
        let each = if classes.iter().filter(|t| set.contains(**t)).count() > 1 {
            " (for IPv6 each of UNSPEC, UNICAST and MULTICAST that is listed must fit)"
        } else {
            ""
        };
        (false, format!("{key}={ip} is {class_name}, not {}{each}", t.name()))
    } else if lookup.0 != 0 {
        let found = route_types_v6(host, ip, dev);
        let common = AddrTypes(found.0 & lookup.0);
        let found_text = if found.0 == 0 { class_name.to_string() } else { format!("{class_name} and {found}") };
        if common.0 != 0 {
            (true, format!("{key}={ip} is {found_text}{}, which includes {common}", seen_on(dev)))
        } else {
            let wanted: Vec<&str> = lookup.iter().map(AddrType::name).collect();
            (false, format!("{key}={ip} is {found_text}{}, not {}", seen_on(dev), wanted.join(" or ")))
        }
    } else {
        (true, format!("{key}={ip} is {class_name}, which fits {set}"))
    };
    conclude(holds, test.negated, fact)
}

impl Evaluate for Addrtype {
    /// `addrtype_mt_v1` in `xt_addrtype.c`: the source type, then the destination type, each with its own
    /// `!`; with `--limit-iface-in`/`--limit-iface-out` the types are looked up as the packet's input or
    /// output interface sees them.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let dev = match self.limit {
            Some(IfaceLimit::In) => ctx.in_iface,
            Some(IfaceLimit::Out) => ctx.out_iface,
            None => None,
        };
        let tests = [("SRC", ctx.pkt.src, &self.src), ("DST", ctx.pkt.dst, &self.dst)];
        let outcomes = tests.into_iter().filter_map(|(key, ip, test)| {
            let test = test.as_ref()?;
            Some(match ip {
                IpAddr::V4(a) => eval_v4(ctx.host, key, a, dev, test),
                IpAddr::V6(a) => eval_v6(ctx.host, key, a, dev, test),
            })
        });
        super::conntrack::all_of(outcomes.collect(), "the addresses have the types")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matches::MatchKind;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(
            &format!("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{line}\nCOMMIT\n"),
            Some(family),
        )
    }

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        let p = parsed(family, line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let (chain, rule) =
            p.ruleset.tables[0].chains.iter().find_map(|c| c.rules.first().map(|r| (&c.name, r))).expect("a rule");
        let mut out = format!("-A {chain}");
        crate::render::save::rule_spec(rule, &mut out);
        out
    }

    /// The first error's column (on line 5) and message.
    fn error(family: Family, line: &str) -> (u32, String) {
        let p = parsed(family, line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 5);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let v4 = Family::Ipv4;
        for same in [
            "-A INPUT -m addrtype --dst-type LOCAL -j ACCEPT",
            "-A INPUT -m addrtype ! --src-type UNICAST ! --dst-type LOCAL -j ACCEPT",
            "-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT",
            "-A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-out -j ACCEPT",
            "-A INPUT -m addrtype ! --dst-type LOCAL --limit-iface-in",
            "-A INPUT -m addrtype --dst-type UNSPEC,UNICAST,LOCAL,BROADCAST,ANYCAST,MULTICAST,BLACKHOLE,UNREACHABLE,\
             PROHIBIT,THROW,NAT,XRESOLVE -j DROP",
        ] {
            assert_eq!(saved(v4, same), same);
        }
        assert_eq!(
            saved(v4, "-A INPUT -m addrtype --dst-type BROADCAST,MULTICAST,ANYCAST -j DROP"),
            "-A INPUT -m addrtype --dst-type BROADCAST,ANYCAST,MULTICAST -j DROP"
        );
        assert_eq!(
            saved(v4, "-A INPUT -m addrtype --limit-iface-in --dst-type LOCAL --src-type UNICAST"),
            "-A INPUT -m addrtype --src-type UNICAST --dst-type LOCAL --limit-iface-in"
        );
        assert_eq!(
            saved(Family::Ipv6, "-A INPUT -m addrtype --dst-type UNREACHABLE,ANYCAST"),
            "-A INPUT -m addrtype --dst-type ANYCAST,UNREACHABLE"
        );
    }

    #[test]
    fn non_canonical_forms() {
        // Names in any case, repeated, options abbreviated.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m addrtype --dst-t local,UNICAST,Local --limit-iface-i"),
            "-A INPUT -m addrtype --dst-type UNICAST,LOCAL --limit-iface-in"
        );
    }

    #[test]
    fn hooks_for_the_interface_limits() {
        let p = parsed(Family::Ipv4, "-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in");
        let MatchKind::Addrtype(a) = &p.ruleset.tables[0].chains[0].rules[0].matches[0].kind else {
            panic!("not an addrtype match");
        };
        let bits = |hooks: &[Hook]| hooks.iter().fold(0, |b, h| b | h.bit());
        assert_eq!(a.allowed_hooks(), bits(&[Hook::Prerouting, Hook::Input, Hook::Forward]));
        let out = Addrtype { limit: Some(IfaceLimit::Out), ..(**a).clone() };
        assert_eq!(out.allowed_hooks(), bits(&[Hook::Forward, Hook::Output, Hook::Postrouting]));
        let none = Addrtype { limit: None, ..(**a).clone() };
        assert_eq!(none.allowed_hooks(), bits(&Hook::ALL));
    }

    #[test]
    fn errors() {
        let v4 = Family::Ipv4;
        assert_eq!(
            error(v4, "-A INPUT -m addrtype --dst-type FOO"),
            (
                33,
                "`FOO` is not an address type (UNSPEC, UNICAST, LOCAL, BROADCAST, ANYCAST, MULTICAST, BLACKHOLE, \
                 UNREACHABLE, PROHIBIT, THROW, NAT, XRESOLVE)"
                    .into()
            )
        );
        assert!(error(v4, "-A INPUT -m addrtype --dst-type LOCAL,").1.starts_with("`` is not an address type"));
        assert!(error(v4, "-A INPUT -m addrtype --dst-type LOCALS").1.starts_with("`LOCALS` is not an address type"));
        assert_eq!(
            error(v4, "-A INPUT -m addrtype --limit-iface-in"),
            (10, "the addrtype match needs `--src-type` or `--dst-type`".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in --limit-iface-out"),
            (56, "only one of `--limit-iface-in` and `--limit-iface-out` may be given".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -m addrtype --dst-type LOCAL ! --limit-iface-in"),
            (39, "`--limit-iface-in` cannot be negated with `!`".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -m addrtype --dst-type LOCAL --dst-type UNICAST"),
            (39, "`--dst-type` is given more than once".into())
        );
        assert_eq!(
            error(Family::Ipv6, "-A INPUT -m addrtype ! --src-type LOCAL,BROADCAST"),
            (35, "the kernel cannot test IPv6 addresses for type BROADCAST".into())
        );
        assert_eq!(
            error(Family::Ipv6, "-A INPUT -m addrtype --dst-type THROW").1,
            "the kernel cannot test IPv6 addresses for type THROW"
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::{Evaluate, Outcome};

        const HOST: &str = "eth0 UP 192.0.2.1/24 2001:db8::1/64\nppp0 UP 198.51.100.2/24\n\
                            default via 198.51.100.1 dev ppp0\nblackhole 10.66.0.0/16 table local\n\
                            blackhole 10.77.0.0/16\n";

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m addrtype {options}")) {
                MatchKind::Addrtype(a) => a.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn ipv4_types() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in ppp0 syn").on(HOST);
            let o = eval(&s, "--dst-type LOCAL");
            assert!(o.holds);
            assert_eq!(o.why, "DST=198.51.100.2 is LOCAL, which is LOCAL, so this holds");
            let o = eval(&s, "--src-type LOCAL,BROADCAST");
            assert!(!o.holds);
            assert_eq!(o.why, "SRC=203.0.113.7 is UNICAST, which is not in LOCAL,BROADCAST, so this does not hold");
            assert!(eval(&s, "! --src-type LOCAL --dst-type LOCAL").holds);
            let bcast = Scene::new("udp 192.0.2.9:68 -> 192.0.2.255:67 in eth0").on(HOST);
            assert!(eval(&bcast, "--dst-type BROADCAST").holds);
            // A blackhole route, in main or in local, makes the kernel's lookup fail: the address stays UNICAST.
            let hole = Scene::new("udp 192.0.2.9:5 -> 10.66.1.1:53 in eth0").on(HOST);
            assert!(!eval(&hole, "--dst-type BLACKHOLE").holds);
            assert!(eval(&hole, "--dst-type UNICAST").holds);
            let main_hole = Scene::new("udp 192.0.2.9:5 -> 10.77.1.1:53 in eth0").on(HOST);
            assert!(!eval(&main_hole, "--dst-type BLACKHOLE").holds);
        }

        #[test]
        fn ipv4_zero_network_is_broadcast_not_unspec() {
            let dhcp = Scene::new("udp 0.0.0.0:68 -> 255.255.255.255:67 in eth0").on(HOST);
            let o = eval(&dhcp, "--src-type UNSPEC");
            assert!(!o.holds);
            assert_eq!(o.why, "SRC=0.0.0.0 is BROADCAST, which is not UNSPEC, so this does not hold");
            assert!(eval(&dhcp, "--src-type BROADCAST --dst-type BROADCAST").holds);
        }

        #[test]
        fn limit_iface_counts_only_that_interface() {
            // 198.51.100.2 is ppp0's address; seen from eth0 it is just a unicast address.
            let s = Scene::new("tcp 192.0.2.9:40000 -> 198.51.100.2:22 in eth0 syn").on(HOST);
            assert!(eval(&s, "--dst-type LOCAL").holds);
            let o = eval(&s, "--dst-type LOCAL --limit-iface-in");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "DST=198.51.100.2 is UNICAST (counting only eth0's own addresses), which is not LOCAL, so this does \
                 not hold"
            );
            let own = Scene::new("tcp 192.0.2.9:40000 -> 192.0.2.1:22 in eth0 syn").on(HOST);
            assert!(eval(&own, "--dst-type LOCAL --limit-iface-in").holds);
        }

        #[test]
        fn ipv6_types_are_tested_together() {
            let s = Scene::new("tcp [2001:db8::9]:40000 -> [2001:db8::1]:22 in eth0 syn").on(HOST);
            let o = eval(&s, "--dst-type LOCAL");
            assert!(o.holds);
            assert_eq!(o.why, "DST=2001:db8::1 is UNICAST and LOCAL, which includes LOCAL, so this holds");
            let o = eval(&s, "--dst-type UNICAST,MULTICAST");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "DST=2001:db8::1 is UNICAST, not MULTICAST (for IPv6 each of UNSPEC, UNICAST and MULTICAST that is \
                 listed must fit), so this does not hold"
            );
            let o = eval(&s, "--src-type LOCAL");
            assert_eq!(o.why, "SRC=2001:db8::9 is UNICAST, not LOCAL, so this does not hold");
            let far = Scene::new("tcp [2001:db8:99::9]:40000 -> [2001:db8::1]:22 in eth0 syn").on(HOST);
            let o = eval(&far, "--src-type UNREACHABLE");
            assert!(o.holds, "no IPv6 route covers the source: {}", o.why);
            let anycast = Scene::new("tcp [2001:db8::9]:40000 -> [2001:db8::]:22 in eth0 syn").on(HOST);
            assert!(eval(&anycast, "--dst-type ANYCAST").holds);
        }
    }
}
