//! `-j REJECT`: drop the packet and answer it with an ICMP error or a TCP reset (`libipt_REJECT`,
//! `libip6t_REJECT`; the kernel's `ipt_REJECT.c`, `ip6t_REJECT.c`).

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Protocol};
use serde::{Deserialize, Serialize};

/// The options of `-j REJECT`.
///
/// The kernel allows REJECT only in the filter table (INPUT, FORWARD, OUTPUT and user chains called from
/// them), for both families (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// What the sender gets back.
    pub with: RejectWith,
}

/// The answer REJECT sends (`--reject-with`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectWith {
    /// IPv4: ICMP destination unreachable, network unreachable (3/0).
    IcmpNetUnreachable,
    /// IPv4: ICMP destination unreachable, host unreachable (3/1).
    IcmpHostUnreachable,
    /// IPv4: ICMP destination unreachable, protocol unreachable (3/2).
    IcmpProtoUnreachable,
    /// IPv4: ICMP destination unreachable, port unreachable (3/3); the IPv4 default.
    IcmpPortUnreachable,
    /// IPv4: ICMP destination unreachable, network administratively prohibited (3/9).
    IcmpNetProhibited,
    /// IPv4: ICMP destination unreachable, host administratively prohibited (3/10).
    IcmpHostProhibited,
    /// IPv4: ICMP destination unreachable, communication administratively prohibited (3/13).
    IcmpAdminProhibited,
    /// Either family: a TCP RST (the rule must say `-p tcp`).
    TcpReset,
    /// IPv6: ICMPv6 destination unreachable, no route (1/0).
    Icmp6NoRoute,
    /// IPv6: ICMPv6 destination unreachable, administratively prohibited (1/1).
    Icmp6AdmProhibited,
    /// IPv6: ICMPv6 destination unreachable, address unreachable (1/3).
    Icmp6AddrUnreachable,
    /// IPv6: ICMPv6 destination unreachable, port unreachable (1/4); the IPv6 default.
    Icmp6PortUnreachable,
    /// IPv6: ICMPv6 destination unreachable, source address failed ingress/egress policy (1/5).
    Icmp6PolicyFail,
    /// IPv6: ICMPv6 destination unreachable, reject route to destination (1/6).
    Icmp6RejectRoute,
}

/// The IPv4 reject types, in the order `iptables` looks them up: name, alias, value.
const V4: &[(&str, &str, RejectWith)] = &[
    ("icmp-net-unreachable", "net-unreach", RejectWith::IcmpNetUnreachable),
    ("icmp-host-unreachable", "host-unreach", RejectWith::IcmpHostUnreachable),
    ("icmp-proto-unreachable", "proto-unreach", RejectWith::IcmpProtoUnreachable),
    ("icmp-port-unreachable", "port-unreach", RejectWith::IcmpPortUnreachable),
    ("icmp-net-prohibited", "net-prohib", RejectWith::IcmpNetProhibited),
    ("icmp-host-prohibited", "host-prohib", RejectWith::IcmpHostProhibited),
    ("tcp-reset", "tcp-rst", RejectWith::TcpReset),
    ("icmp-admin-prohibited", "admin-prohib", RejectWith::IcmpAdminProhibited),
];

/// The IPv6 reject types, in the order `ip6tables` looks them up (`tcp-rst` is not an alias here).
const V6: &[(&str, &str, RejectWith)] = &[
    ("icmp6-no-route", "no-route", RejectWith::Icmp6NoRoute),
    ("icmp6-adm-prohibited", "adm-prohibited", RejectWith::Icmp6AdmProhibited),
    ("icmp6-addr-unreachable", "addr-unreach", RejectWith::Icmp6AddrUnreachable),
    ("icmp6-port-unreachable", "port-unreach", RejectWith::Icmp6PortUnreachable),
    ("tcp-reset", "tcp-reset", RejectWith::TcpReset),
    ("icmp6-policy-fail", "policy-fail", RejectWith::Icmp6PolicyFail),
    ("icmp6-reject-route", "reject-route", RejectWith::Icmp6RejectRoute),
];

fn table(family: Family) -> &'static [(&'static str, &'static str, RejectWith)] {
    match family {
        Family::Ipv4 => V4,
        Family::Ipv6 => V6,
    }
}

impl RejectWith {
    /// The default answer of the family: ICMP port unreachable.
    pub fn default_for(family: Family) -> RejectWith {
        match family {
            Family::Ipv4 => RejectWith::IcmpPortUnreachable,
            Family::Ipv6 => RejectWith::Icmp6PortUnreachable,
        }
    }

    /// Reads a `--reject-with` argument as `iptables` does: the first type (in table order) whose name or
    /// alias starts with `text`, ignoring case, so `icmp` is `icmp-net-unreachable`.
    pub fn parse(text: &str, family: Family) -> Result<RejectWith, String> {
        let starts = |name: &str| name.len() >= text.len() && name[..text.len()].eq_ignore_ascii_case(text);
        if let Some(&(_, _, with)) = table(family).iter().find(|(name, alias, _)| starts(name) || starts(alias)) {
            return Ok(with);
        }
        if family == Family::Ipv4 && (starts("echo-reply") || starts("echoreply")) {
            return Err("`--reject-with echo-reply` is no longer supported".into());
        }
        let names: Vec<&str> = table(family).iter().map(|(name, _, _)| *name).collect();
        let fam = if family == Family::Ipv4 { "IPv4" } else { "IPv6" };
        Err(format!("`{text}` is not a reject type for {fam} (known: {})", names.join(", ")))
    }

    /// The name `iptables-save` prints.
    pub fn name(self) -> &'static str {
        V4.iter().chain(V6).find(|(_, _, w)| *w == self).map(|(name, _, _)| *name).unwrap_or("")
    }

    /// The ICMP (IPv4) or ICMPv6 (IPv6) type and code of the answer, or `None` for a TCP reset.
    pub fn icmp(self) -> Option<(u8, u8)> {
        use RejectWith::*;
        Some(match self {
            IcmpNetUnreachable => (3, 0),
            IcmpHostUnreachable => (3, 1),
            IcmpProtoUnreachable => (3, 2),
            IcmpPortUnreachable => (3, 3),
            IcmpNetProhibited => (3, 9),
            IcmpHostProhibited => (3, 10),
            IcmpAdminProhibited => (3, 13),
            Icmp6NoRoute => (1, 0),
            Icmp6AdmProhibited => (1, 1),
            Icmp6AddrUnreachable => (1, 3),
            Icmp6PortUnreachable => (1, 4),
            Icmp6PolicyFail => (1, 5),
            Icmp6RejectRoute => (1, 6),
            TcpReset => return None,
        })
    }
}

impl Extension for Reject {
    const OPTIONS: &'static [OptSpec] = &[opt("reject-with", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Reject, Diagnostic> {
        refuse_negation(opts)?;
        let with = match find(opts, "reject-with")? {
            None => RejectWith::default_for(ctx.family),
            Some(o) => {
                let with = o.parse_arg(|t| RejectWith::parse(t, ctx.family))?;
                if with == RejectWith::TcpReset && ctx.proto() != Some(Protocol::TCP) {
                    return Err(
                        o.bad_arg("a TCP reset needs the rule to say `-p tcp`; the kernel refuses it otherwise")
                    );
                }
                with
            }
        };
        Ok(Reject { with })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, false, "reject-with", self.with.name());
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::ruleset::Family;

    fn saved(family: Family, rule: &str) -> String {
        let p = parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n{rule}\nCOMMIT\n"), Some(family));
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        let out = crate::canonical(&p);
        out.lines().find(|l| l.starts_with("-A")).unwrap_or_default().to_string()
    }

    fn error(family: Family, rule: &str) -> (u32, u32, String) {
        let p = parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n{rule}\nCOMMIT\n"), Some(family));
        let e = p.errors().next().unwrap_or_else(|| panic!("{rule} should fail"));
        (e.span.line, e.span.col, e.message.clone())
    }

    /// Rules and what `iptables-save` 1.8.9 printed for them.
    #[test]
    fn ipv4_save_forms() {
        for (rule, want) in [
            ("-A INPUT -j REJECT", "-A INPUT -j REJECT --reject-with icmp-port-unreachable"),
            ("-A INPUT -j REJECT --reject-with net-unreach", "-A INPUT -j REJECT --reject-with icmp-net-unreachable"),
            ("-A INPUT -j REJECT --reject-with host-unreach", "-A INPUT -j REJECT --reject-with icmp-host-unreachable"),
            (
                "-A INPUT -j REJECT --reject-with proto-unreach",
                "-A INPUT -j REJECT --reject-with icmp-proto-unreachable",
            ),
            ("-A INPUT -j REJECT --reject-with port-unreach", "-A INPUT -j REJECT --reject-with icmp-port-unreachable"),
            ("-A INPUT -j REJECT --reject-with net-prohib", "-A INPUT -j REJECT --reject-with icmp-net-prohibited"),
            ("-A INPUT -j REJECT --reject-with host-prohib", "-A INPUT -j REJECT --reject-with icmp-host-prohibited"),
            ("-A INPUT -j REJECT --reject-with admin-prohib", "-A INPUT -j REJECT --reject-with icmp-admin-prohibited"),
            ("-A INPUT -p tcp -j REJECT --reject-with tcp-rst", "-A INPUT -p tcp -j REJECT --reject-with tcp-reset"),
            ("-A INPUT -p 6 -j REJECT --reject-with tcp-reset", "-A INPUT -p tcp -j REJECT --reject-with tcp-reset"),
            ("-A INPUT -j REJECT --reject-with icmp-port", "-A INPUT -j REJECT --reject-with icmp-port-unreachable"),
            (
                "-A INPUT -j REJECT --reject-with ICMP-HOST-PROHIBITED",
                "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
            ),
            ("-A INPUT -j REJECT --reject-with icmp", "-A INPUT -j REJECT --reject-with icmp-net-unreachable"),
            ("-A INPUT -j REJECT --reject-with \"\"", "-A INPUT -j REJECT --reject-with icmp-net-unreachable"),
            ("-A INPUT -j REJECT --reject-with host", "-A INPUT -j REJECT --reject-with icmp-host-unreachable"),
            ("-A INPUT -j REJECT --rej net-prohib", "-A INPUT -j REJECT --reject-with icmp-net-prohibited"),
        ] {
            assert_eq!(saved(Family::Ipv4, rule), want, "{rule}");
        }
    }

    #[test]
    fn ipv6_save_forms() {
        for (rule, want) in [
            ("-A INPUT -j REJECT", "-A INPUT -j REJECT --reject-with icmp6-port-unreachable"),
            (
                "-A INPUT -j REJECT --reject-with port-unreach",
                "-A INPUT -j REJECT --reject-with icmp6-port-unreachable",
            ),
            ("-A INPUT -j REJECT --reject-with no-route", "-A INPUT -j REJECT --reject-with icmp6-no-route"),
            (
                "-A INPUT -j REJECT --reject-with adm-prohibited",
                "-A INPUT -j REJECT --reject-with icmp6-adm-prohibited",
            ),
            (
                "-A INPUT -j REJECT --reject-with addr-unreach",
                "-A INPUT -j REJECT --reject-with icmp6-addr-unreachable",
            ),
            ("-A INPUT -j REJECT --reject-with policy-fail", "-A INPUT -j REJECT --reject-with icmp6-policy-fail"),
            ("-A INPUT -j REJECT --reject-with reject-route", "-A INPUT -j REJECT --reject-with icmp6-reject-route"),
            ("-A INPUT -p tcp -j REJECT --reject-with tcp-reset", "-A INPUT -p tcp -j REJECT --reject-with tcp-reset"),
            ("-A INPUT -j REJECT --reject-with icmp6", "-A INPUT -j REJECT --reject-with icmp6-no-route"),
            ("-A INPUT -j REJECT --reject-with ICMP6-NO-ROUTE", "-A INPUT -j REJECT --reject-with icmp6-no-route"),
        ] {
            assert_eq!(saved(Family::Ipv6, rule), want, "{rule}");
        }
    }

    #[test]
    fn answers_are_typed() {
        let p = parse("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT --reject-with admin-prohib\nCOMMIT\n", None);
        let t = p.ruleset.tables[0].chains[0].rules[0].target.as_ref().unwrap();
        let crate::targets::TargetKind::Reject(r) = &t.kind else { panic!("{:?}", t.kind) };
        assert_eq!(r.with.icmp(), Some((3, 13)));
        assert_eq!(super::RejectWith::TcpReset.icmp(), None);
    }

    #[test]
    fn wrong_input() {
        let (line, col, msg) = error(Family::Ipv4, "-A INPUT -j REJECT --reject-with bogus");
        assert_eq!((line, col), (3, 34));
        assert!(msg.contains("`bogus` is not a reject type for IPv4"), "{msg}");
        assert!(error(Family::Ipv4, "-A INPUT -j REJECT --reject-with echo-reply").2.contains("no longer supported"));
        assert!(error(Family::Ipv4, "-A INPUT -j REJECT --reject-with icmp6-no-route").2.contains("IPv4"));
        assert!(error(Family::Ipv6, "-A INPUT -j REJECT --reject-with icmp-host-prohibited").2.contains("IPv6"));
        // `tcp-rst` is an alias only in iptables, not in ip6tables.
        assert!(error(Family::Ipv6, "-A INPUT -p tcp -j REJECT --reject-with tcp-rst").2.contains("IPv6"));
        // The kernel refuses a TCP reset unless the rule is for TCP (iptables: "line 6 failed").
        for rule in [
            "-A INPUT -j REJECT --reject-with tcp-reset",
            "-A INPUT -p udp -j REJECT --reject-with tcp-reset",
            "-A INPUT ! -p tcp -j REJECT --reject-with tcp-reset",
            "-A INPUT -j REJECT --reject-with tcp",
        ] {
            let (_, col, msg) = error(Family::Ipv4, rule);
            assert!(msg.contains("`-p tcp`"), "{rule}: {msg}");
            assert!(col > 30, "{rule}: {col}");
        }
        assert!(error(Family::Ipv6, "-A INPUT -j REJECT --reject-with tcp-reset").2.contains("`-p tcp`"));
        let (_, col, msg) =
            error(Family::Ipv4, "-A INPUT -j REJECT --reject-with net-unreach --reject-with host-unreach");
        assert_eq!(col, 46);
        assert!(msg.contains("more than once"), "{msg}");
        assert!(error(Family::Ipv4, "-A INPUT -j REJECT ! --reject-with net-unreach").2.contains("negated"));
        assert!(error(Family::Ipv4, "-A INPUT -j REJECT --reject-with").2.contains("needs an argument"));
    }
}
