//! `-m addrtype`: the routing type of the source or destination address (local, broadcast, ...), as the
//! kernel's routing tables classify it (`libxt_addrtype`, revision 1 of the kernel's `xt_addrtype.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Hook, Negatable};
use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// Reads a comma-separated list of type names, in any case.
    pub fn parse(text: &str) -> Result<AddrTypes, String> {
        let mut set = AddrTypes(0);
        for item in text.split(',') {
            let t = AddrType::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(item)).ok_or_else(|| {
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
        let out = Addrtype { limit: Some(IfaceLimit::Out), ..a.clone() };
        assert_eq!(out.allowed_hooks(), bits(&[Hook::Forward, Hook::Output, Hook::Postrouting]));
        let none = Addrtype { limit: None, ..a.clone() };
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
}
