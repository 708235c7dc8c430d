//! `-m ipvs`: the packet belongs to an IPVS (the kernel's layer-4 load balancer) connection, with its
//! virtual service's protocol, address and port, direction and forwarding method (`libxt_ipvs`, the
//! kernel's `xt_ipvs.c`, which needs the IPVS module).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::Ip;
use crate::ruleset::{Family, Negatable, Protocol};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};
use std::net::{IpAddr, Ipv6Addr};

/// An address with a prefix length as `iptables` reads `ADDR[/MASK]` options of type host-and-mask
/// (`XTTYPE_HOSTMASK`): the address is kept as written; the mask is a prefix length or a mask address, and
/// a mask that is not contiguous counts as the whole address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostPrefix {
    /// The address as written.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl HostPrefix {
    /// Reads `ADDR[/MASK]` for `family`. IPv4 addresses are read as `inet_aton` reads them (`10.1` is
    /// 10.0.0.1), and `localhost` is 127.0.0.1; IPv6 addresses in their usual form.
    pub fn parse(text: &str, family: Family) -> Result<HostPrefix, String> {
        let (addr_text, mask_text) = match text.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (text, None),
        };
        let width: u8 = if family == Family::Ipv4 { 32 } else { 128 };
        let bad_mask = |m: &str| format!("`{m}` is neither a network mask nor a prefix length (0 to {width})");
        let addr = match family {
            Family::Ipv4 => {
                let t = if addr_text == "localhost" { "127.0.0.1" } else { addr_text };
                let v4 = crate::matches::conntrack::HostMask::parse(t, Family::Ipv4)
                    .map_err(|_| format!("`{addr_text}` is not an IPv4 address"))?;
                v4.addr
            }
            Family::Ipv6 => {
                IpAddr::V6(addr_text.parse::<Ipv6Addr>().map_err(|_| format!("`{addr_text}` is not an IPv6 address"))?)
            }
        };
        let len = match mask_text {
            None => width,
            Some(m) => match crate::ruleset::addr::parse_uint(m).filter(|&n| n <= u64::from(width)) {
                Some(n) => n as u8,
                None => {
                    let bits: u128 = match family {
                        Family::Ipv4 => {
                            let mask = crate::matches::conntrack::HostMask::parse(&format!("0.0.0.0/{m}"), family)
                                .map_err(|_| bad_mask(m))?;
                            match mask.mask {
                                IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
                                IpAddr::V6(_) => return Err(bad_mask(m)),
                            }
                        }
                        Family::Ipv6 => u128::from(m.parse::<Ipv6Addr>().map_err(|_| bad_mask(m))?),
                    };
                    let ones = bits.leading_ones();
                    let contiguous = bits.checked_shl(ones).unwrap_or(0) == 0;
                    if contiguous {
                        ones.min(u32::from(width)) as u8
                    } else {
                        width
                    }
                }
            },
        };
        Ok(HostPrefix { addr, len })
    }

    /// Whether `ip` agrees with the address on the prefix's bits.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(i)) => {
                let mask = if self.len == 0 { 0 } else { u32::MAX << (32 - u32::from(self.len.min(32))) };
                (u32::from(a) ^ u32::from(i)) & mask == 0
            }
            (IpAddr::V6(a), IpAddr::V6(i)) => {
                let mask = if self.len == 0 { 0 } else { u128::MAX << (128 - u32::from(self.len.min(128))) };
                (u128::from(a) ^ u128::from(i)) & mask == 0
            }
            _ => false,
        }
    }

    /// The full length for the address's family.
    pub fn width(&self) -> u8 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }
}

impl fmt::Display for HostPrefix {
    /// `ADDR/LEN`, always with the length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ip(self.addr), self.len)
    }
}

/// The options of `-m ipvs`; each option but `--ipvs` also requires an IPVS connection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ipvs {
    /// `[!] --ipvs`: the packet belongs to an IPVS connection.
    pub ipvs: Option<Negatable<()>>,
    /// `[!] --vproto PROTO`: the virtual service's protocol.
    pub vproto: Option<Negatable<Protocol>>,
    /// `[!] --vaddr ADDR[/MASK]`: the virtual service's address.
    pub vaddr: Option<Negatable<HostPrefix>>,
    /// `[!] --vport PORT`: the virtual service's port.
    pub vport: Option<Negatable<u16>>,
    /// `--vdir ORIGINAL|REPLY`: the direction of the packet in its connection.
    pub vdir: Option<crate::packet::CtDir>,
    /// `[!] --vmethod GATE|IPIP|MASQ`: how IPVS forwards to the real server.
    pub vmethod: Option<Negatable<IpvsMethod>>,
    /// `[!] --vportctl PORT`: the virtual port of the controlling connection (21 for FTP data).
    pub vportctl: Option<Negatable<u16>>,
}

/// How IPVS forwards a connection to its real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IpvsMethod {
    /// `GATE`: direct routing.
    Gate,
    /// `IPIP`: tunnelling.
    Ipip,
    /// `MASQ`: NAT.
    Masq,
}

impl IpvsMethod {
    fn name(self) -> &'static str {
        match self {
            IpvsMethod::Gate => "GATE",
            IpvsMethod::Ipip => "IPIP",
            IpvsMethod::Masq => "MASQ",
        }
    }
}

fn negatable<T>(o: &Opt<'_>, value: T) -> Negatable<T> {
    Negatable { value, negated: o.negated, span: o.span }
}

fn port(o: &Opt<'_>) -> Result<Negatable<u16>, Diagnostic> {
    Ok(negatable(o, o.parse_arg(crate::values::parse_port)?))
}

impl Extension for Ipvs {
    const OPTIONS: &'static [OptSpec] = &[
        opt("ipvs", Args::Zero),
        opt("vproto", Args::One),
        opt("vaddr", Args::One),
        opt("vport", Args::One),
        opt("vdir", Args::One),
        opt("vmethod", Args::One),
        opt("vportctl", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ipvs, Diagnostic> {
        let mut m = Ipvs { ipvs: find(opts, "ipvs")?.map(|o| negatable(o, ())), ..Ipvs::default() };
        if let Some(o) = find(opts, "vproto")? {
            m.vproto = Some(negatable(o, o.parse_arg(Protocol::parse)?));
        }
        if let Some(o) = find(opts, "vaddr")? {
            m.vaddr = Some(negatable(o, o.parse_arg(|t| HostPrefix::parse(t, ctx.family))?));
        }
        m.vport = find(opts, "vport")?.map(port).transpose()?;
        m.vportctl = find(opts, "vportctl")?.map(port).transpose()?;
        if let Some(o) = find(opts, "vdir")? {
            o.no_negation()?;
            m.vdir = Some(match o.arg().to_ascii_uppercase().as_str() {
                "ORIGINAL" => crate::packet::CtDir::Original,
                "REPLY" => crate::packet::CtDir::Reply,
                _ => return Err(o.bad_arg(format!("`{}` is not a direction: write ORIGINAL or REPLY", o.arg()))),
            });
        }
        if let Some(o) = find(opts, "vmethod")? {
            let method = match o.arg().to_ascii_uppercase().as_str() {
                "GATE" => IpvsMethod::Gate,
                "IPIP" => IpvsMethod::Ipip,
                "MASQ" => IpvsMethod::Masq,
                _ => {
                    return Err(o.bad_arg(format!("`{}` is not a forwarding method: write GATE, IPIP or MASQ", o.arg())))
                }
            };
            m.vmethod = Some(negatable(o, method));
        }
        let others = m.vproto.is_some()
            || m.vaddr.is_some()
            || m.vport.is_some()
            || m.vdir.is_some()
            || m.vmethod.is_some()
            || m.vportctl.is_some();
        match &m.ipvs {
            None if !others => {
                return Err(ctx.error("the ipvs match needs at least one option (`--ipvs`, `--vaddr`, ...)"))
            }
            Some(i) if i.negated && others => {
                return Err(Diagnostic::error(i.span, "`! --ipvs` cannot be used together with the other ipvs options"))
            }
            _ => {}
        }
        Ok(m)
    }

    /// `--ipvs` is printed only when it is the only option (every other option implies it).
    fn save(&self, out: &mut String) {
        let others = self.vproto.is_some()
            || self.vaddr.is_some()
            || self.vport.is_some()
            || self.vdir.is_some()
            || self.vmethod.is_some()
            || self.vportctl.is_some();
        if let (Some(i), false) = (&self.ipvs, others) {
            save_opt(out, i.negated, "ipvs");
        }
        if let Some(p) = &self.vproto {
            save_opt(out, p.negated, "vproto");
            let _ = write!(out, " {}", p.value.0);
        }
        if let Some(a) = &self.vaddr {
            save_opt(out, a.negated, "vaddr");
            let _ = write!(out, " {}", Ip(a.value.addr));
            if a.value.len != a.value.width() {
                let _ = write!(out, "/{}", a.value.len);
            }
        }
        if let Some(p) = &self.vport {
            save_opt(out, p.negated, "vport");
            let _ = write!(out, " {}", p.value);
        }
        if let Some(d) = self.vdir {
            let dir = if d == crate::packet::CtDir::Reply { "REPLY" } else { "ORIGINAL" };
            let _ = write!(out, " --vdir {dir}");
        }
        if let Some(m) = &self.vmethod {
            save_opt(out, m.negated, "vmethod");
            let _ = write!(out, " {}", m.value.name());
        }
        if let Some(p) = &self.vportctl {
            save_opt(out, p.negated, "vportctl");
            let _ = write!(out, " {}", p.value);
        }
    }
}

impl Evaluate for Ipvs {
    /// `ipvs_mt` in `xt_ipvs.c`: `--ipvs` alone tests whether IPVS handled the packet; any other option needs
    /// an IPVS connection first. chainwalk does not model IPVS and assumes the packet is not IPVS traffic.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let only_ipvs = self.vproto.is_none()
            && self.vaddr.is_none()
            && self.vport.is_none()
            && self.vdir.is_none()
            && self.vmethod.is_none()
            && self.vportctl.is_none();
        let holds = only_ipvs && self.ipvs.as_ref().is_some_and(|i| i.negated);
        Outcome::assumed(
            holds,
            format!(
                "chainwalk does not model IPVS and assumes the packet does not belong to an IPVS connection, so this {}",
                if holds { "holds" } else { "does not hold" }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn host_prefixes() {
        let p = |t: &str, f| HostPrefix::parse(t, f).map(|h| h.to_string());
        assert_eq!(p("10.1.2.3/8", Ipv4), Ok("10.1.2.3/8".into()));
        assert_eq!(p("10.1", Ipv4), Ok("10.0.0.1/32".into()));
        assert_eq!(p("10.0.0.0/255.255.0.0", Ipv4), Ok("10.0.0.0/16".into()));
        assert_eq!(p("10.0.0.0/255.0.255.0", Ipv4), Ok("10.0.0.0/32".into()));
        assert_eq!(p("10.0.0.0/33", Ipv4), Ok("10.0.0.0/32".into()));
        assert_eq!(p("2001:db8::1/64", Ipv6), Ok("2001:db8::1/64".into()));
        assert_eq!(p("2001:db8::/ffff::", Ipv6), Ok("2001:db8::/16".into()));
        assert_eq!(p("2001:db8::/ffff:0:ffff::", Ipv6), Ok("2001:db8::/128".into()));
        assert!(p("2001:db8::/129", Ipv6).is_err());
        assert!(p("localhost", Ipv6).is_err());
        assert_eq!(p("localhost", Ipv4), Ok("127.0.0.1/32".into()));
        assert!(HostPrefix::parse("10.1.2.3/8", Ipv4).unwrap().contains("10.9.9.9".parse().unwrap()));
    }

    #[test]
    fn prints_back_as_libxt_ipvs_saves() {
        // The kernel where the vectors were recorded has no IPVS, so these follow libxt_ipvs's save function.
        for (given, printed) in [
            ("--ipvs", "--ipvs"),
            ("! --ipvs", "! --ipvs"),
            ("--ipvs --vproto tcp", "--vproto 6"),
            ("--vaddr 10.0.0.1 --vport http", "--vaddr 10.0.0.1 --vport 80"),
            ("! --vaddr 10.0.0.0/8 --vdir reply --vmethod masq", "! --vaddr 10.0.0.0/8 --vdir REPLY --vmethod MASQ"),
            ("--vportctl 21 --vdir ORIGINAL", "--vdir ORIGINAL --vportctl 21"),
        ] {
            let rule = format!("-A INPUT -m ipvs {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m ipvs {printed} -j ACCEPT"));
        }
        assert_eq!(
            saved(Ipv6, "filter", "-A INPUT -m ipvs --vaddr 2001:db8::/64"),
            "-A INPUT -m ipvs --vaddr 2001:db8::/64"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m ipvs {o} -j ACCEPT"));
        assert_eq!(e(""), (10, "the ipvs match needs at least one option (`--ipvs`, `--vaddr`, ...)".into()));
        assert_eq!(
            e("! --ipvs --vport 80"),
            (18, "`! --ipvs` cannot be used together with the other ipvs options".into())
        );
        assert_eq!(e("--vdir up").1, "`up` is not a direction: write ORIGINAL or REPLY");
        assert_eq!(e("--vmethod nat").1, "`nat` is not a forwarding method: write GATE, IPIP or MASQ");
        assert_eq!(e("! --vdir REPLY").1, "`--vdir` cannot be negated with `!`");
    }

    #[test]
    fn packets_are_assumed_not_ipvs() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        let eval = |o: &str| match first_match(Ipv4, &format!("-m ipvs {o}")) {
            MatchKind::Ipvs(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        assert!(!eval("--ipvs").holds);
        assert!(eval("! --ipvs").holds);
        assert!(!eval("! --vport 80").holds);
    }
}
