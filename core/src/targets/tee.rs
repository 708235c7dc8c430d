//! `-j TEE --gateway ADDR [--oif DEV]`: sends a copy of the packet to another host (the gateway, as the next
//! hop) and lets the original go on (`libxt_TEE`, the kernel's `xt_TEE.c`).

use super::common::{parse_host, refuse_negation};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::Ip;
use crate::ruleset::Family;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

/// The longest interface name (`IFNAMSIZ` - 1); iptables cuts a longer `--oif`.
pub const MAX_IFNAME_LEN: usize = 15;

/// The options of `-j TEE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tee {
    /// `--gateway ADDR`: the next hop the copy is routed to (required).
    pub gateway: IpAddr,
    /// `--oif DEV`: the interface the copy must leave by, if given.
    pub oif: Option<Box<str>>,
}

impl Extension for Tee {
    const OPTIONS: &'static [OptSpec] = &[opt("gateway", Args::One), opt("oif", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Tee, Diagnostic> {
        refuse_negation(opts)?;
        let g = find(opts, "gateway")?.ok_or_else(|| ctx.error("TEE needs `--gateway ADDRESS`"))?;
        let text = g.arg();
        let gateway = match (ctx.family, text) {
            (Family::Ipv4, "localhost") => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            _ => parse_host(text, ctx.family),
        }
        .ok_or_else(|| {
            let fam = if ctx.family == Family::Ipv4 { "IPv4" } else { "IPv6" };
            g.bad_arg(format!("`{text}` is not an {fam} address (chainwalk does not resolve host names)"))
        })?;
        let oif = match find(opts, "oif")? {
            Some(o) if !o.arg().is_empty() => {
                Some(crate::matches::nfacct::cut_to(o, o.arg(), MAX_IFNAME_LEN, warnings).into())
            }
            _ => None,
        };
        Ok(Tee { gateway, oif })
    }

    fn save(&self, out: &mut String) {
        let _ = write!(out, " --gateway {}", Ip(self.gateway));
        if let Some(o) = &self.oif {
            let _ = write!(out, " --oif {o}");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--gateway 10.0.0.1", "--gateway 10.0.0.1"),
            ("--gateway 10.0.0.1 --oif eth0", "--gateway 10.0.0.1 --oif eth0"),
            ("--gateway 10.0.0.1 --oif abcdefghijklmnopqrstuvwxyz", "--gateway 10.0.0.1 --oif abcdefghijklmno"),
            ("--gateway localhost", "--gateway 127.0.0.1"),
            ("--gateway 10.1", "--gateway 10.0.0.1"),
            ("--gateway 10.0.0.1 --oif \"\"", "--gateway 10.0.0.1"),
        ] {
            let rule = format!("-A PREROUTING -j TEE {given}");
            assert_eq!(saved(Ipv4, "mangle", &rule), format!("-A PREROUTING -j TEE {printed}"));
        }
        assert_eq!(saved(Ipv4, "filter", "-A INPUT -j TEE --gateway 1.2.3.4"), "-A INPUT -j TEE --gateway 1.2.3.4");
        assert_eq!(
            saved(Ipv6, "mangle", "-A PREROUTING -j TEE --gateway 2001:db8::1"),
            "-A PREROUTING -j TEE --gateway 2001:db8::1"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "mangle", &format!("-A PREROUTING -j TEE {o}"));
        assert_eq!(e(""), (15, "TEE needs `--gateway ADDRESS`".into()));
        assert_eq!(e("--oif eth0").1, "TEE needs `--gateway ADDRESS`");
        assert_eq!(
            e("--gateway 10.0.0.1/24"),
            (32, "`10.0.0.1/24` is not an IPv4 address (chainwalk does not resolve host names)".into())
        );
        assert_eq!(e("--gateway ::1").1, "`::1` is not an IPv4 address (chainwalk does not resolve host names)");
        assert_eq!(e("--gateway 10.0.0.1 --gateway 10.0.0.2").1, "`--gateway` is given more than once");
    }

    #[test]
    fn the_copy_walks_output_and_postrouting_while_the_original_goes_on() {
        let t = walk(
            "*mangle\n-A PREROUTING -j TEE --gateway 192.0.2.9\nCOMMIT\n",
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn ttl 64",
        );
        let step = t.steps.iter().position(|s| s.target.as_deref() == Some("TEE")).expect("the rule's step");
        assert_eq!(
            t.steps[step].effect.as_deref(),
            Some(
                "TEE: a copy of the packet (UNTRACKED, TTL 63) is routed to 192.0.2.9 out of eth0 and leaves after \
                 OUTPUT and POSTROUTING; the original goes on"
            )
        );
        // The copy's lines come right after the rule's, and belong to its step.
        assert_eq!(
            t.trace,
            [
                "mangle:PREROUTING:rule:1",
                "mangle:OUTPUT:policy:1",
                "mangle:POSTROUTING:policy:1",
                "mangle:PREROUTING:policy:2",
                "mangle:INPUT:policy:1"
            ]
        );
        let copies: Vec<_> = t.log.iter().filter(|l| l.copy > 0).collect();
        assert_eq!(copies.len(), 2);
        assert!(copies.iter().all(|l| l.step == step && l.packet.contains(" TTL=63 DF ")));
        assert!(copies[0].packet.starts_with("IN= OUT=eth0 "), "{}", copies[0].packet);
        assert!(copies[1].packet.starts_with("IN=eth0 OUT=eth0 "), "{}", copies[1].packet);
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Accept);
        assert_eq!(t.fate.path, crate::trace::Path::Input);
    }

    #[test]
    fn no_copy_without_the_interface_or_a_route() {
        let host = "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n";
        let packet = "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn";
        for (options, effect) in [
            (
                "--gateway 192.0.2.9 --oif eth7",
                "TEE: no copy is made: the host has no interface eth7; the original goes on",
            ),
            ("--gateway 10.9.9.9", "TEE: no copy is made for 10.9.9.9: no route to 10.9.9.9; the original goes on"),
        ] {
            let t = walk(&format!("*mangle\n-A PREROUTING -j TEE {options}\nCOMMIT\n"), host, packet);
            let step = t.steps.iter().find(|s| s.target.as_deref() == Some("TEE")).expect("the rule's step");
            assert_eq!(step.effect.as_deref(), Some(effect));
            assert!(t.log.iter().all(|l| l.copy == 0));
        }
    }

    #[test]
    fn copies_share_the_walks_budget() {
        // 21 chains that each call the next twice: the TEE rule at the bottom runs a million times in the
        // kernel; the walk stops after MAX_MATCHED rules that matched, the copies' among them.
        let mut rules = String::from("*mangle\n-A PREROUTING -j C0\n");
        for i in 0..20 {
            rules += &format!("-A C{i} -j C{}\n-A C{i} -j C{}\n", i + 1, i + 1);
        }
        rules += "-A C20 -j TEE --gateway 192.0.2.9\nCOMMIT\n";
        let decl: String = (0..21).map(|i| format!(":C{i} - [0:0]\n")).collect();
        let rules = rules.replacen("*mangle\n", &format!("*mangle\n:PREROUTING ACCEPT [0:0]\n{decl}"), 1);
        let t = walk(
            &rules,
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn",
        );
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Undecided);
        let copies = t.log.iter().filter(|l| l.copy > 0).count();
        assert!(copies > 0 && t.log.len() < 3 * crate::walk::MAX_MATCHED, "{copies} of {}", t.log.len());
    }
}
