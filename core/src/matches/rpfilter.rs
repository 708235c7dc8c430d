//! `-m rpfilter`: reverse path filtering, a route lookup for the packet's source address that must lead
//! back out of the interface the packet came in on (`libxt_rpfilter`, the kernel's `ipt_rpfilter.c` and
//! `ip6t_rpfilter.c`). The kernel allows it only in the raw and mangle tables, reached from PREROUTING.

use crate::diag::Diagnostic;
use crate::ext::{flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::host::{Host, Route, RouteDecision, RouteKind};
use crate::policy::{RuleAction, MAIN_TABLE};
use crate::ruleset::TableName;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The options of `-m rpfilter`, each a flag of the kernel's `xt_rpfilter_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpFilter {
    /// `--loose`: the route back may leave through any interface, not only the one the packet came in on.
    pub loose: bool,
    /// `--validmark`: the lookup uses the packet's firewall mark.
    pub validmark: bool,
    /// `--accept-local`: a packet with a local source address passes instead of failing.
    pub accept_local: bool,
    /// `--invert`: match the packets that fail the test instead of those that pass it.
    pub invert: bool,
}

impl Extension for RpFilter {
    const OPTIONS: &'static [OptSpec] = &[
        opt("loose", Args::Zero),
        opt("validmark", Args::Zero),
        opt("accept-local", Args::Zero),
        opt("invert", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<RpFilter, Diagnostic> {
        for o in opts {
            o.no_negation()?;
        }
        // `rpfilter_check` refuses other tables for every rule, reachable or not.
        if !matches!(ctx.table, TableName::Raw | TableName::Mangle) {
            return Err(ctx.error(format!(
                "the kernel allows the rpfilter match only in the raw and mangle tables, not in {}",
                ctx.table
            )));
        }
        Ok(RpFilter {
            loose: flag(opts, "loose")?,
            validmark: flag(opts, "validmark")?,
            accept_local: flag(opts, "accept-local")?,
            invert: flag(opts, "invert")?,
        })
    }

    fn save(&self, out: &mut String) {
        for (on, name) in [
            (self.loose, " --loose"),
            (self.validmark, " --validmark"),
            (self.accept_local, " --accept-local"),
            (self.invert, " --invert"),
        ] {
            if on {
                out.push_str(name);
            }
        }
    }
}

/// What the reverse-path lookup found: whether the check passes, and why, as a clause.
struct Check {
    passes: bool,
    fact: String,
}

impl RpFilter {
    /// `rpfilter_lookup_reverse` (IPv4) and `rpfilter_lookup_reverse6`: the route to the source address must
    /// be a unicast route (a local one only with `--accept-local`) through the input interface (any with
    /// `--loose`). A local source passes IPv6's check with `--accept-local` whatever its interface.
    fn lookup(&self, host: &Host, back: &crate::policy::Flow<'_>, iface: &str) -> Check {
        let src = back.dst;
        let fail = |fact: String| Check { passes: false, fact: format!("{fact}, so the reverse-path check fails") };
        let by_dev = |dev: &str, route: String| {
            let passes = dev == iface || self.loose;
            let fact = if dev == iface {
                format!("the route back to SRC={src} {route} leaves through {dev}, the interface the packet came in on")
            } else if self.loose {
                format!(
                    "the route back to SRC={src} {route} leaves through {dev}, not IN={iface}, which --loose allows"
                )
            } else {
                format!("the route back to SRC={src} {route} leaves through {dev}, not IN={iface}")
            };
            let verdict = if passes { "passes" } else { "fails" };
            Check { passes, fact: format!("{fact}, so the reverse-path check {verdict}") }
        };
        if host.is_local(src) {
            if !self.accept_local {
                return fail(format!("SRC={src} is an address of this host, which needs --accept-local"));
            }
            let dev = match host.route(src) {
                RouteDecision::Local { dev } => dev,
                _ => "lo".to_string(),
            };
            if src.is_ipv6() {
                return Check {
                    passes: true,
                    fact: format!("SRC={src} is an address of this host, which --accept-local lets pass"),
                };
            }
            return by_dev(&dev, "(an address of this host, allowed by --accept-local)".to_string());
        }
        if host.is_broadcast(src) {
            return fail(format!("SRC={src} is a broadcast address, which has no unicast route back"));
        }
        // The anycast route of a Subnet-Router address the host joined (RTF_ANYCAST) fails IPv6's check.
        if let Some(dev) = host.subnet_router_anycast_dev(src) {
            return fail(format!("SRC={src} is the Subnet-Router anycast address the host joined on {dev}"));
        }
        let (decision, rule) = host.route_flow(back);
        match decision {
            RouteDecision::Forward { dev, via, .. } => {
                let route = match via {
                    Some(gw) => format!("(via {gw})"),
                    None => "(on the link)".to_string(),
                };
                // IPv6 prefers, among the routes of the longest prefix in the table the lookup took, one
                // through the input interface.
                let table = match rule.map(|i| &host.rules[i].action) {
                    Some(&RuleAction::Lookup(t)) => t,
                    _ => MAIN_TABLE,
                };
                let dev = match host.lookup_in(table, src) {
                    // IPv4 passes when any next hop of a multipath route goes through the input interface.
                    _ if src.is_ipv4() && dev != iface && host.route_uses_dev(back, iface) => iface.to_string(),
                    Some(best) if src.is_ipv6() && dev != iface => {
                        let same = |r: &&Route| {
                            r.table == table
                                && r.dst == best.dst
                                && r.prefix == best.prefix
                                && r.kind == RouteKind::Unicast
                        };
                        if host.routes.iter().filter(same).any(|r| r.dev.as_deref() == Some(iface)) {
                            iface.to_string()
                        } else {
                            dev
                        }
                    }
                    _ => dev,
                };
                by_dev(&dev, route)
            }
            RouteDecision::Local { dev } => by_dev(&dev, "(a local route)".to_string()),
            RouteDecision::Unroutable { reason, .. } => {
                fail(format!("looking up the route back to SRC={src}: {reason}"))
            }
        }
    }
}

impl Evaluate for RpFilter {
    /// `rpfilter_mt` (`ipt_rpfilter.c`, `ip6t_rpfilter.c`): a packet that came in on the loopback interface
    /// passes; so does one from the unspecified address (IPv4: to the limited broadcast or a link-local
    /// multicast address, as DHCP sends; IPv6: any); IPv6 link-local sources are looked up on the input
    /// interface itself; otherwise the route to the source decides. `--invert` matches the packets that fail.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let pkt = ctx.pkt;
        let check = match ctx.in_iface {
            None | Some("lo") => Check {
                passes: true,
                fact: "the packet came in on lo, which the reverse-path check always lets pass".to_string(),
            },
            Some(iface) => match (pkt.src, pkt.dst) {
                (IpAddr::V4(src), IpAddr::V4(dst))
                    if src.octets()[0] == 0 && (dst.is_broadcast() || dst.octets()[..3] == [224, 0, 0]) =>
                {
                    Check {
                        passes: true,
                        fact: format!(
                            "SRC={src} to DST={dst} is how a host without an address asks (DHCP), which the \
                             reverse-path check lets pass"
                        ),
                    }
                }
                (IpAddr::V6(src), _) if src.is_unspecified() => Check {
                    passes: true,
                    fact: "SRC=:: has no route back, and the reverse-path check lets it pass (the kernel drops it \
                           later if it is forwarded)"
                        .to_string(),
                },
                (IpAddr::V6(src), _) if src.segments()[0] & 0xffc0 == 0xfe80 && !ctx.host.is_local(pkt.src) => Check {
                    passes: true,
                    fact: format!(
                        "SRC={src} is link-local, which the kernel looks up on IN={iface} itself, where fe80::/64 is, \
                         so the reverse-path check passes"
                    ),
                },
                (src, dst) => {
                    // The way back as `rpfilter_mt` asks for it: to the source, from the destination (unless it
                    // is a broadcast or multicast one; IPv6: any unicast one, `RT6_LOOKUP_F_HAS_SADDR`, so `from`
                    // selectors see it, match_diff seed 30468), as a packet of this host (`iif lo`), with the
                    // packet's mark only with --validmark, and its DSCP (IPv6: the flow information, traffic
                    // class included; recorded with a routing policy, match_diff seed 21738).
                    let from = match dst {
                        IpAddr::V4(d) if d.is_multicast() || d.is_broadcast() || d.octets()[0] == 0 => None,
                        IpAddr::V6(d) if d.is_multicast() || d.is_unspecified() => None,
                        _ => Some(dst),
                    };
                    let back = crate::policy::Flow {
                        src: from,
                        mark: if self.validmark { pkt.mark } else { 0 },
                        tos: pkt.tos & 0xfc,
                        proto: (!dst.is_ipv4()).then(|| pkt.l4.proto()),
                        // IPv6 looks the way back up out of the input interface unless --loose
                        // (`flowi6_oif`), which `oif` selectors of the policy see (recorded).
                        oif: (!dst.is_ipv4() && !self.loose).then_some(iface),
                        ..crate::policy::Flow::to(src)
                    };
                    self.lookup(ctx.host, &back, iface)
                }
            },
        };
        let mut fact = check.fact;
        if self.validmark {
            fact.push_str(&format!(" (--validmark: the lookup used the packet's mark, 0x{:x})", pkt.mark));
        }
        conclude(check.passes, self.invert, fact)
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(family: Family, table: &str, line: &str) -> crate::Parsed {
        crate::parse(&format!("*{table}\n:FOO - [0:0]\n{line}\nCOMMIT\n"), Some(family))
    }

    /// The PREROUTING rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        let p = parsed(family, "raw", line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A PREROUTING");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("PREROUTING").unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 3) and message.
    fn error(table: &str, line: &str) -> (u32, String) {
        let p = parsed(Family::Ipv4, table, line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 3);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let v4 = Family::Ipv4;
        for same in [
            "-A PREROUTING -m rpfilter -j DROP",
            "-A PREROUTING -m rpfilter --invert -j DROP",
            "-A PREROUTING -m rpfilter --loose --validmark --accept-local --invert -j DROP",
        ] {
            assert_eq!(saved(v4, same), same);
        }
        // iptables-save prints the flags in a fixed order.
        assert_eq!(
            saved(v4, "-A PREROUTING -m rpfilter --invert --accept-local --validmark --loose -j DROP"),
            "-A PREROUTING -m rpfilter --loose --validmark --accept-local --invert -j DROP"
        );
        assert_eq!(
            saved(Family::Ipv6, "-A PREROUTING -m rpfilter --loose -j DROP"),
            "-A PREROUTING -m rpfilter --loose -j DROP"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("raw", "-A PREROUTING -m rpfilter ! --loose -j DROP"),
            (27, "`--loose` cannot be negated with `!`".into())
        );
        assert_eq!(
            error("raw", "-A PREROUTING -m rpfilter --loose --loose -j DROP"),
            (35, "`--loose` is given more than once".into())
        );
        assert_eq!(
            error("filter", "-A FOO -m rpfilter -j DROP"),
            (8, "the kernel allows the rpfilter match only in the raw and mangle tables, not in filter".into())
        );
        assert_eq!(error("nat", "-A PREROUTING -m rpfilter -j ACCEPT").0, 15);
        let p = parsed(Family::Ipv4, "mangle", "-A FOO -m rpfilter");
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
    }

    mod eval {
        use crate::matches::conntrack::fixture::Scene;
        use crate::matches::MatchKind;
        use crate::ruleset::{Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        const HOST: &str = "eth0 UP 198.51.100.2/24 2001:db8:1::2/64\neth1 UP 192.0.2.1/24 2001:db8:2::1/64\n\
                            default via 198.51.100.1 dev eth0\nblackhole 10.66.0.0/16\n\
                            default via 2001:db8:1::1 dev eth0\n";

        /// Evaluates `-m rpfilter OPTIONS`, loaded in raw PREROUTING (the only table and hook it may be in).
        fn eval(scene: &Scene, options: &str) -> Outcome {
            let text = format!("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m rpfilter {options}\nCOMMIT\n");
            let p = crate::parse(&text, Some(scene.pkt.family()));
            assert!(!p.has_errors(), "{options}: {:?}", p.diagnostics);
            match &p.ruleset.tables[0].chain("PREROUTING").expect("PREROUTING").rules[0].matches[0].kind {
                MatchKind::RpFilter(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        fn arriving(packet: &str) -> Scene {
            Scene::new(packet).on(HOST).at(Hook::Prerouting, TableName::Raw)
        }

        #[test]
        fn the_route_back_leaves_through_the_input_interface() {
            let s = arriving("tcp 203.0.113.7:40000 -> 198.51.100.2:80 in eth0 syn");
            let o = eval(&s, "");
            assert!(o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "the route back to SRC=203.0.113.7 (via 198.51.100.1) leaves through eth0, the interface the packet \
                 came in on, so the reverse-path check passes, so this holds"
            );
            let o = eval(&s, "--invert");
            assert!(!o.holds);
            assert!(o.why.ends_with("so the reverse-path check passes, so this does not hold"), "{}", o.why);
        }

        #[test]
        fn spoofed_sources_fail() {
            let s = arriving("tcp 192.0.2.50:40000 -> 198.51.100.2:80 in eth0 syn");
            let o = eval(&s, "--invert");
            assert!(o.holds);
            assert_eq!(
                o.why,
                "the route back to SRC=192.0.2.50 (on the link) leaves through eth1, not IN=eth0, so the reverse-path \
                 check fails, so this holds"
            );
            let o = eval(&s, "--loose");
            assert!(o.holds);
            assert!(o.why.contains("not IN=eth0, which --loose allows, so the reverse-path check passes"), "{}", o.why);
            let hole = arriving("udp 10.66.0.9:5 -> 198.51.100.2:53 in eth0");
            let o = eval(&hole, "--loose");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "looking up the route back to SRC=10.66.0.9: a blackhole route covers 10.66.0.9, so the reverse-path \
                 check fails, so this does not hold"
            );
        }

        #[test]
        fn local_and_special_sources() {
            let own = arriving("tcp 198.51.100.2:40000 -> 198.51.100.2:80 in eth0 syn");
            let o = eval(&own, "");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "SRC=198.51.100.2 is an address of this host, which needs --accept-local, so the reverse-path check \
                 fails, so this does not hold"
            );
            assert!(eval(&own, "--accept-local").holds);
            let other_iface = arriving("tcp 192.0.2.1:40000 -> 198.51.100.2:80 in eth0 syn");
            assert!(!eval(&other_iface, "--accept-local").holds);
            let lo = arriving("tcp 127.0.0.1:40000 -> 127.0.0.1:80 in lo syn");
            assert_eq!(
                eval(&lo, "").why,
                "the packet came in on lo, which the reverse-path check always lets pass, so this holds"
            );
            let dhcp = arriving("udp 0.0.0.0:68 -> 255.255.255.255:67 in eth1");
            assert!(eval(&dhcp, "").holds);
            let bcast = arriving("udp 192.0.2.255:68 -> 198.51.100.2:67 in eth1");
            let o = eval(&bcast, "");
            assert!(!o.holds);
            assert!(o.why.starts_with("SRC=192.0.2.255 is a broadcast address"), "{}", o.why);
        }

        #[test]
        fn ipv6() {
            let s = arriving("tcp [2001:db8:2::9]:40000 -> [2001:db8:1::2]:80 in eth1 syn");
            assert!(eval(&s, "").holds);
            let spoofed = arriving("tcp [2001:db8:2::9]:40000 -> [2001:db8:1::2]:80 in eth0 syn");
            assert!(!eval(&spoofed, "").holds);
            let link_local = arriving("icmpv6 fe80::1 -> 2001:db8:1::2 in eth1");
            let o = eval(&link_local, "");
            assert!(o.holds);
            assert!(o.why.starts_with("SRC=fe80::1 is link-local"), "{}", o.why);
            let own = arriving("tcp [2001:db8:2::1]:40000 -> [2001:db8:1::2]:80 in eth0 syn");
            assert!(eval(&own, "--accept-local").holds, "IPv6 does not check the interface of a local source");
        }

        #[test]
        fn validmark_is_noted() {
            let s = arriving("tcp 203.0.113.7:40000 -> 198.51.100.2:80 in eth0 syn");
            let o = eval(&s, "--validmark");
            assert!(o.holds);
            assert!(o.why.contains("--validmark: the lookup used the packet's mark, 0x0"), "{}", o.why);
        }
    }
}
