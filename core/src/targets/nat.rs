//! Address translation targets of the nat table: `-j DNAT`, `-j SNAT`, `-j MASQUERADE`, `-j REDIRECT`
//! (`libxt_NAT`, the kernel's `xt_nat.c`, `xt_MASQUERADE.c`, `xt_REDIRECT.c`) and `-j NETMAP`
//! (`libxt_NETMAP`/`libipt_NETMAP`, `xt_NETMAP.c`).
//!
//! They act on the first packet of a connection only: the mapping they choose is stored in the connection
//! and applied to every later packet of it in both directions.

use super::common::{number_prefix, parse_host, prefix_of, refuse_negation};
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::{find_byte, prefix_mask_v4, prefix_mask_v6, split_at_byte};
use crate::ruleset::{Family, Network, Protocol};
use crate::span::Span;
use crate::values::parse_port;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where a NAT target maps to (`nf_nat_range2`): addresses, ports, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatRange {
    /// The addresses to pick from; `None` keeps the packet's address.
    pub addrs: Option<AddrRange>,
    /// The ports to pick from; `None` keeps the port if it can.
    pub ports: Option<NatPorts>,
}

/// An inclusive range of addresses, `MIN-MAX` (a single address has `min == max`). `iptables` does not
/// check that `min` comes before `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrRange {
    /// The first address.
    pub min: IpAddr,
    /// The last address.
    pub max: IpAddr,
}

/// An inclusive range of ports, `MIN-MAX`, with an optional base port (`/BASE`, DNAT only): with a base,
/// the new port is `min + (old port - base)` instead of a free port of the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatPorts {
    /// The first port.
    pub min: u16,
    /// The last port.
    pub max: u16,
    /// The base port of a shifted mapping.
    pub base: Option<u16>,
}

impl fmt::Display for NatPorts {
    /// `MIN[-MAX][/BASE]`, as `iptables-save` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.min)?;
        if self.max != self.min {
            write!(f, "-{}", self.max)?;
        }
        if let Some(base) = self.base {
            write!(f, "/{base}")?;
        }
        Ok(())
    }
}

impl fmt::Display for NatRange {
    /// `[ADDR[-ADDR]][:PORTS]`, with the IPv6 addresses in brackets when ports follow.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(a) = self.addrs {
            let brackets = a.min.is_ipv6() && self.ports.is_some();
            if brackets {
                f.write_str("[")?;
            }
            write!(f, "{}", a.min)?;
            if a.max != a.min {
                write!(f, "-{}", a.max)?;
            }
            if brackets {
                f.write_str("]")?;
            }
        }
        if let Some(p) = self.ports {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Whether the rule's protocol lets option `o` of a NAT target map ports. `iptables` checks when it reads
/// the option, so a `-p` written after it does not count; it looks at the number given with `-p` and
/// ignores a `!` before it; ICMP passes too (its id is the "port").
fn ports_allowed(ctx: &ExtCtx<'_>, o: &Opt<'_>) -> bool {
    const WITH_PORTS: [Protocol; 5] = [Protocol::TCP, Protocol::UDP, Protocol::SCTP, Protocol::DCCP, Protocol::ICMP];
    ctx.protocol.is_some_and(|p| p.span.start < o.span.start && WITH_PORTS.contains(&p.value))
}

fn need_ports_protocol(o: &Opt<'_>) -> Diagnostic {
    o.bad_arg("a port needs the rule to say `-p tcp`, `-p udp`, `-p sctp` or `-p dccp`")
        .with_hint("iptables says \"Need TCP, UDP, SCTP or DCCP with port specification\"")
}

/// A service name from the list chainwalk knows; numbers are not names.
fn service(name: &str) -> Option<u16> {
    if name.is_empty() || name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    parse_port(name).ok()
}

fn not_a_port(text: &str) -> String {
    format!("`{text}` is not a port: give a number from 0 to 65535 or a service name")
}

/// Reads `MIN[-MAX[/BASE]]` as `libxt_NAT` does: numbers in C notation (`080` is octal, so "garbage"), a
/// service name only for the first port and the base, a dash between the ends.
pub fn parse_ports(text: &str) -> Result<NatPorts, String> {
    let (min, rest) = match number_prefix(text) {
        Some((n, rest)) if n <= u16::MAX as u64 => (n as u16, rest),
        _ => (service(text).ok_or_else(|| not_a_port(text))?, ""),
    };
    let max_text = match rest.chars().next() {
        None => return Ok(NatPorts { min, max: min, base: None }),
        Some('-') => &rest[1..],
        Some(':') => return Err("a port range is written with a dash here (MIN-MAX), not a colon".into()),
        Some(_) => return Err(format!("unexpected `{rest}` after the port; a range is written MIN-MAX")),
    };
    let (max, rest) = match number_prefix(max_text) {
        Some((n, rest)) if n <= u16::MAX as u64 => (n as u16, rest),
        _ => return Err(not_a_port(max_text)),
    };
    if max < min {
        return Err(format!("the port range ends ({max}) before it starts ({min})"));
    }
    let base_text = match rest.chars().next() {
        None => return Ok(NatPorts { min, max, base: None }),
        Some('/') => &rest[1..],
        Some(_) => return Err(format!("unexpected `{rest}` after the port range")),
    };
    let base = match number_prefix(base_text) {
        Some((n, _)) if (1..=u16::MAX as u64).contains(&n) => n as u16,
        _ => service(base_text)
            .ok_or_else(|| format!("`{base_text}` is not a base port: give a number from 1 to 65535"))?,
    };
    Ok(NatPorts { min, max, base: Some(base) })
}

/// Reads one address of a `--to-destination`/`--to-source` range: numeric only, in the strict form.
fn nat_addr(text: &str, family: Family) -> Result<IpAddr, String> {
    let parsed = match family {
        Family::Ipv4 => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        Family::Ipv6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    };
    parsed.ok_or_else(|| {
        let fam = if family == Family::Ipv4 { "IPv4" } else { "IPv6" };
        if text.is_empty() {
            "an address is missing here".to_string()
        } else {
            format!("`{text}` is not an {fam} address")
        }
    })
}

/// Reads `--to-destination`/`--to-source`: `[ADDR[-ADDR]][:PORTS]`, for IPv6 `[ADDR[-ADDR]]:PORTS` or a
/// bare address. Without brackets, a colon starts the ports only if it is the only colon, as in `libxt_NAT`.
fn parse_to(o: &Opt<'_>, ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<NatRange, Diagnostic> {
    let text = o.arg();
    let (addr_text, port_text) = match find_byte(text, b'[') {
        Some(open) if ctx.family == Family::Ipv6 => {
            let inner = &text[open + 1..];
            let close = inner.find(']').ok_or_else(|| o.bad_arg("an IPv6 address opened with `[` has no `]`"))?;
            let after = &inner[close + 1..];
            let colon = after.find(':');
            if colon != Some(0) && !after.is_empty() {
                let ignored = &after[..colon.unwrap_or(after.len())];
                warnings.push(Diagnostic::warning(o.arg_span(), format!("iptables ignores `{ignored}` after `]`")));
            }
            (&inner[..close], colon.map(|c| &after[c + 1..]))
        }
        Some(_) => return Err(o.bad_arg("an IPv4 address is written without brackets")),
        None => match find_byte(text, b':') {
            Some(c) if find_byte(&text[c + 1..], b':').is_none() => (&text[..c], Some(&text[c + 1..])),
            _ => (text, None),
        },
    };
    let ports = match port_text {
        None => None,
        Some(_) if !ports_allowed(ctx, o) => return Err(need_ports_protocol(o)),
        Some(p) => Some(parse_ports(p).map_err(|m| o.bad_arg(m))?),
    };
    let addrs = if addr_text.is_empty() && ports.is_some() {
        None
    } else {
        let (min, max) = split_at_byte(addr_text, b'-').unwrap_or((addr_text, addr_text));
        let min = nat_addr(min, ctx.family).map_err(|m| o.bad_arg(m))?;
        let max = nat_addr(max, ctx.family).map_err(|m| o.bad_arg(m))?;
        Some(AddrRange { min, max })
    };
    Ok(NatRange { addrs, ports })
}

/// Reads `--to-ports` of MASQUERADE and REDIRECT.
fn to_ports(opts: &[Opt<'_>], ctx: &ExtCtx<'_>) -> Result<Option<(NatPorts, Span)>, Diagnostic> {
    let Some(o) = find(opts, "to-ports")? else { return Ok(None) };
    if !ports_allowed(ctx, o) {
        return Err(need_ports_protocol(o));
    }
    Ok(Some((o.parse_arg(parse_ports)?, o.arg_span())))
}

/// `iptables` 1.8.9 reads a base port for SNAT and MASQUERADE but does not store it: the kernel gets base 0
/// (still a shifted mapping), and `iptables-save` prints `/0`, which `iptables-restore` refuses.
fn drop_base(mut ports: NatPorts, at: Span, warnings: &mut Vec<Diagnostic>) -> NatPorts {
    if ports.base.is_some() {
        ports.base = Some(0);
        warnings.push(
            Diagnostic::warning(at, "iptables drops this base port: the kernel gets base 0 instead")
                .with_hint("iptables-save then prints `/0`, which iptables-restore refuses; leave the base out"),
        );
    }
    ports
}

/// The options of `-j DNAT`: the connection's destination becomes an address and/or port of the range.
///
/// The kernel allows DNAT only in the nat table's PREROUTING and OUTPUT hooks (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dnat {
    /// `--to-destination`.
    pub to: NatRange,
    /// `--random`: pick the port of the range at random.
    pub random: bool,
    /// `--persistent`: give a client the same address of the range each time.
    pub persistent: bool,
}

impl Extension for Dnat {
    const OPTIONS: &'static [OptSpec] =
        &[opt("to-destination", Args::One), opt("random", Args::Zero), opt("persistent", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Dnat, Diagnostic> {
        refuse_negation(opts)?;
        let o =
            find(opts, "to-destination")?.ok_or_else(|| ctx.error("DNAT needs `--to-destination ADDRESS[:PORT]`"))?;
        let to = parse_to(o, ctx, warnings)?;
        Ok(Dnat { to, random: flag(opts, "random")?, persistent: flag(opts, "persistent")? })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, false, "to-destination", self.to);
        if self.random {
            save_opt(out, false, "random");
        }
        if self.persistent {
            save_opt(out, false, "persistent");
        }
    }
}

/// The options of `-j SNAT`: the connection's source becomes an address and/or port of the range.
///
/// The kernel allows SNAT only in the nat table's POSTROUTING and INPUT hooks (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snat {
    /// `--to-source`.
    pub to: NatRange,
    /// `--random`: pick the port of the range at random.
    pub random: bool,
    /// `--random-fully`: pick the port at random for every connection (no search for the old port).
    pub random_fully: bool,
    /// `--persistent`: give a client the same address of the range each time.
    pub persistent: bool,
}

impl Extension for Snat {
    const OPTIONS: &'static [OptSpec] = &[
        opt("to-source", Args::One),
        opt("random", Args::Zero),
        opt("random-fully", Args::Zero),
        opt("persistent", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Snat, Diagnostic> {
        refuse_negation(opts)?;
        let o = find(opts, "to-source")?.ok_or_else(|| ctx.error("SNAT needs `--to-source ADDRESS[:PORT]`"))?;
        let mut to = parse_to(o, ctx, warnings)?;
        to.ports = to.ports.map(|p| drop_base(p, o.arg_span(), warnings));
        Ok(Snat {
            to,
            random: flag(opts, "random")?,
            random_fully: flag(opts, "random-fully")?,
            persistent: flag(opts, "persistent")?,
        })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, false, "to-source", self.to);
        for (on, name) in
            [(self.random, "random"), (self.random_fully, "random-fully"), (self.persistent, "persistent")]
        {
            if on {
                save_opt(out, false, name);
            }
        }
    }
}

/// The options of `-j MASQUERADE`: SNAT to the address of the interface the packet leaves by, forgotten
/// when that interface goes down.
///
/// The kernel allows MASQUERADE only in the nat table's POSTROUTING hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Masquerade {
    /// `--to-ports`: the source ports to pick from.
    pub ports: Option<NatPorts>,
    /// `--random`.
    pub random: bool,
    /// `--random-fully`.
    pub random_fully: bool,
}

impl Extension for Masquerade {
    const OPTIONS: &'static [OptSpec] =
        &[opt("to-ports", Args::One), opt("random", Args::Zero), opt("random-fully", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Masquerade, Diagnostic> {
        refuse_negation(opts)?;
        let ports = to_ports(opts, ctx)?.map(|(p, at)| drop_base(p, at, warnings));
        Ok(Masquerade { ports, random: flag(opts, "random")?, random_fully: flag(opts, "random-fully")? })
    }

    fn save(&self, out: &mut String) {
        if let Some(p) = self.ports {
            save_opt_value(out, false, "to-ports", p);
        }
        if self.random {
            save_opt(out, false, "random");
        }
        if self.random_fully {
            save_opt(out, false, "random-fully");
        }
    }
}

/// The options of `-j REDIRECT`: DNAT to this host (the address of the incoming interface, or loopback for
/// locally made packets), optionally to other ports.
///
/// The kernel allows REDIRECT only in the nat table's PREROUTING and OUTPUT hooks (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// `--to-ports`: the destination ports to pick from.
    pub ports: Option<NatPorts>,
    /// `--random`.
    pub random: bool,
}

impl Extension for Redirect {
    const OPTIONS: &'static [OptSpec] = &[opt("to-ports", Args::One), opt("random", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Redirect, Diagnostic> {
        refuse_negation(opts)?;
        let ports = match to_ports(opts, ctx)? {
            Some((p, at)) if p.base.is_some() => {
                return Err(Diagnostic::error(at, "REDIRECT cannot shift ports with a base port (`/BASE`)")
                    .with_hint("iptables says \"Shifted portmap ranges not supported with this kernel\""));
            }
            p => p.map(|(p, _)| p),
        };
        Ok(Redirect { ports, random: flag(opts, "random")? })
    }

    fn save(&self, out: &mut String) {
        if let Some(p) = self.ports {
            save_opt_value(out, false, "to-ports", p);
        }
        if self.random {
            save_opt(out, false, "random");
        }
    }
}

/// The options of `-j NETMAP`: maps a whole network onto another one of the same size, keeping the host
/// part (destinations in PREROUTING and OUTPUT, sources in POSTROUTING and INPUT).
///
/// The kernel allows NETMAP in all four hooks of the nat table (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Netmap {
    /// `--to`: the network mapped to (its address has the mask applied).
    pub to: Network,
}

/// Reads the mask of `--to`: a prefix length, or a mask in address form. A mask whose one bits are not
/// all in front counts as a full-length prefix, as in `iptables` (which then prints `/32`).
fn netmap_prefix(text: &str, family: Family) -> Result<(u32, bool), String> {
    let width = if family == Family::Ipv4 { 32 } else { 128 };
    if let Some((n, "")) = number_prefix(text) {
        if n <= width as u64 {
            return Ok((n as u32, true));
        }
    }
    let mask = parse_host(text, family)
        .ok_or_else(|| format!("`{text}` is neither a mask nor a prefix length from 0 to {width}"))?;
    Ok(match prefix_of(mask) {
        Some(len) => (u32::from(len), true),
        None => (width, false),
    })
}

impl Extension for Netmap {
    const OPTIONS: &'static [OptSpec] = &[opt("to", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Netmap, Diagnostic> {
        refuse_negation(opts)?;
        let o = find(opts, "to")?.ok_or_else(|| ctx.error("NETMAP needs `--to ADDRESS/MASK`"))?;
        let (host, mask) = match o.arg().split_once('/') {
            Some((h, m)) => (h, Some(m)),
            None => (o.arg(), None),
        };
        let addr = parse_host(host, ctx.family).ok_or_else(|| {
            o.bad_arg(format!(
                "`{host}` is not an address; iptables would look it up as a host name, which chainwalk does not do"
            ))
        })?;
        let (len, contiguous) = match mask {
            Some(m) => o.parse_arg(|_| netmap_prefix(m, ctx.family))?,
            None => (if ctx.family == Family::Ipv4 { 32 } else { 128 }, true),
        };
        if !contiguous {
            warnings.push(Diagnostic::warning(
                o.arg_span(),
                format!(
                    "`{}` is not a contiguous mask; iptables maps the single address {addr} instead",
                    mask.unwrap_or("")
                ),
            ));
        }
        let to = match addr {
            IpAddr::V4(a) => {
                let m = prefix_mask_v4(len);
                Network { addr: IpAddr::V4(Ipv4Addr::from(u32::from(a) & m)), mask: IpAddr::V4(Ipv4Addr::from(m)) }
            }
            IpAddr::V6(a) => {
                let m = prefix_mask_v6(len);
                Network { addr: IpAddr::V6(Ipv6Addr::from(u128::from(a) & m)), mask: IpAddr::V6(Ipv6Addr::from(m)) }
            }
        };
        Ok(Netmap { to })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, false, "to", self.to);
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::ruleset::Family;

    fn dump(family: Family, rule: &str) -> crate::Parsed {
        let chains = ":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]";
        parse(&format!("*nat\n{chains}\n{rule}\nCOMMIT\n"), Some(family))
    }

    fn saved(family: Family, rule: &str) -> String {
        let p = dump(family, rule);
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        crate::canonical(&p).lines().find(|l| l.starts_with("-A")).unwrap_or_default().to_string()
    }

    fn error(family: Family, rule: &str) -> (u32, u32, String) {
        let p = dump(family, rule);
        let e = p.errors().next().unwrap_or_else(|| panic!("{rule} should fail"));
        (e.span.line, e.span.col, e.message.clone())
    }

    /// Checks that each rule saves as its expectation, or as itself where the expectation is empty.
    fn check(family: Family, cases: &[(&str, &str)]) {
        for (rule, want) in cases {
            let want = if want.is_empty() { rule } else { want };
            assert_eq!(saved(family, rule), *want, "{rule}");
        }
    }

    /// Rules and what `iptables-save` 1.8.9 printed for them (an empty expectation: printed as given).
    #[test]
    fn dnat_save_forms_v4() {
        check(
            Family::Ipv4,
            &[
                ("-A PREROUTING -j DNAT --to-destination 10.0.0.1", ""),
                ("-A PREROUTING -j DNAT --to-destination 10.0.0.1-10.0.0.5", ""),
                ("-A PREROUTING -j DNAT --to-destination 10.0.0.5-10.0.0.1", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/100", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.3:80-90", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination :80-81", ""),
                ("-A PREROUTING -p icmp -j DNAT --to-destination 10.0.0.1:53", ""),
                ("-A PREROUTING ! -p tcp -j DNAT --to-destination 10.0.0.1:53", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:0", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination 0.0.0.0:80", ""),
                ("-A PREROUTING -j DNAT --to-destination 10.0.0.1 --random --persistent", ""),
                (
                    "-A PREROUTING -j DNAT --to-destination 10.0.0.1 --persistent --random",
                    "-A PREROUTING -j DNAT --to-destination 10.0.0.1 --random --persistent",
                ),
                ("-A PREROUTING -j DNAT --to 10.0.0.1", "-A PREROUTING -j DNAT --to-destination 10.0.0.1"),
                (
                    "-A PREROUTING -p 6 -j DNAT --to-destination 10.0.0.1:80",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80",
                ),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:http",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80",
                ),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:0x50",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80",
                ),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-80",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80",
                ),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.1",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1",
                ),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/0x10",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/16",
                ),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/http",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/80",
                ),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/100x",
                    "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80-90/100",
                ),
            ],
        );
    }

    #[test]
    fn dnat_save_forms_v6() {
        check(
            Family::Ipv6,
            &[
                ("-A PREROUTING -j DNAT --to-destination 2001:db8::1", ""),
                (
                    "-A PREROUTING -j DNAT --to-destination [2001:db8::1]",
                    "-A PREROUTING -j DNAT --to-destination 2001:db8::1",
                ),
                ("-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1]:80-90", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1-2001:db8::5]:80-90", ""),
                ("-A PREROUTING -j DNAT --to-destination 2001:db8::1-2001:db8::5", ""),
                // Without brackets, more than one colon means no port.
                ("-A PREROUTING -p tcp -j DNAT --to-destination 2001:db8::1:80", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination :80", ""),
                (
                    "-A PREROUTING -p tcp -j DNAT --to-destination []:80",
                    "-A PREROUTING -p tcp -j DNAT --to-destination :80",
                ),
                ("-A PREROUTING -p tcp -j DNAT --to-destination [::]:80", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination ::", ""),
                ("-A PREROUTING -j DNAT --to-destination ::ffff:10.0.0.1", ""),
                ("-A PREROUTING -p icmp -j DNAT --to-destination [2001:db8::1]:80", ""),
                ("-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1]:80-90/100", ""),
                (
                    "-A PREROUTING -j DNAT --to-destination 2001:DB8::A",
                    "-A PREROUTING -j DNAT --to-destination 2001:db8::a",
                ),
            ],
        );
        let p = dump(Family::Ipv6, "-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1]80");
        assert!(p.warnings().any(|w| w.message.contains("ignores `80` after `]`")), "{:?}", p.diagnostics);
        assert!(crate::canonical(&p).contains("--to-destination 2001:db8::1\n"));
    }

    #[test]
    fn dnat_typed_values() {
        let p = dump(Family::Ipv4, "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.3:80-90/100");
        let t = p.ruleset.tables[0].chains[0].rules[0].target.as_ref().unwrap();
        let crate::targets::TargetKind::Dnat(d) = &t.kind else { panic!("{:?}", t.kind) };
        let a = d.to.addrs.unwrap();
        assert_eq!((a.min.to_string(), a.max.to_string()), ("10.0.0.1".into(), "10.0.0.3".into()));
        assert_eq!(d.to.ports, Some(super::NatPorts { min: 80, max: 90, base: Some(100) }));
    }

    #[test]
    fn dnat_wrong_input() {
        let v4 = |r: &str| error(Family::Ipv4, r);
        let (line, col, msg) = v4("-A PREROUTING -j DNAT --to-destination 10.0.0.1:80");
        assert_eq!((line, col), (6, 40));
        assert!(msg.contains("needs the rule to say `-p tcp`"), "{msg}");
        assert!(v4("-A PREROUTING -p udplite -j DNAT --to-destination 10.0.0.1:53").2.contains("`-p tcp`"));
        assert!(v4("-A PREROUTING -p all -j DNAT --to-destination 10.0.0.1:80").2.contains("`-p tcp`"));
        // iptables checks the protocol when it reads the option: a later `-p` is too late.
        assert!(v4("-A PREROUTING -j DNAT --to-destination 10.0.0.1:80 -p tcp").2.contains("`-p tcp`"));
        assert!(v4("-A POSTROUTING -j MASQUERADE --to-ports 1024 -p tcp").2.contains("`-p tcp`"));
        assert_eq!(
            saved(Family::Ipv4, "-A PREROUTING -j DNAT -p tcp --to-destination 10.0.0.1:80"),
            "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.1:80"
        );
        assert!(error(Family::Ipv6, "-A PREROUTING -p icmpv6 -j DNAT --to-destination [::1]:80")
            .2
            .contains("`-p tcp`"));
        for (arg, want) in [
            ("10.0.0.1:90-80", "ends (80) before it starts (90)"),
            ("10.0.0.1:65536", "`65536` is not a port"),
            ("10.0.0.1:", "`` is not a port"),
            ("10.0.0.1:-90", "`-90` is not a port"),
            ("10.0.0.1:80-", "`` is not a port"),
            ("10.0.0.1:ssh-http", "`ssh-http` is not a port"),
            ("10.0.0.1:80-http", "`http` is not a port"),
            ("10.0.0.1:080", "unexpected `80` after the port"),
            ("10.0.0.1:80/100", "unexpected `/100` after the port"),
            ("10.0.0.1:80,90", "unexpected `,90` after the port"),
            ("10.0.0.1:80-90-100", "unexpected `-100` after the port range"),
            ("10.0.0.1:80-90/0", "`0` is not a base port"),
            ("10.0.0.1:80-90/65536", "`65536` is not a base port"),
            ("10.0.0.1:80-90/", "`` is not a base port"),
            ("10.0.0.1:80:90", "`10.0.0.1:80:90` is not an IPv4 address"),
            ("10.0.0", "`10.0.0` is not an IPv4 address"),
            ("010.0.0.1", "`010.0.0.1` is not an IPv4 address"),
            ("10.0.0.01", "`10.0.0.01` is not an IPv4 address"),
            ("0x0a000001", "is not an IPv4 address"),
            ("10.0.0.1/24", "is not an IPv4 address"),
            ("host.example", "is not an IPv4 address"),
            ("10.0.0.1-", "an address is missing"),
            ("-10.0.0.1", "an address is missing"),
            ("10.0.0.1-10.0.0.2-10.0.0.3", "`10.0.0.2-10.0.0.3` is not an IPv4 address"),
            ("\"\"", "an address is missing"),
            ("[10.0.0.1]:80", "without brackets"),
        ] {
            let (_, col, msg) = v4(&format!("-A PREROUTING -p tcp -j DNAT --to-destination {arg}"));
            assert_eq!(col, 47, "{arg}");
            assert!(msg.contains(want), "{arg}: {msg}");
        }
        let v6 = |r: &str| error(Family::Ipv6, r);
        assert!(v6("-A PREROUTING -j DNAT --to-destination 10.0.0.1").2.contains("not an IPv6 address"));
        assert!(v6("-A PREROUTING -j DNAT --to-destination [2001:db8::1").2.contains("no `]`"));
        assert!(v6("-A PREROUTING -j DNAT --to-destination fe80::1%eth0").2.contains("not an IPv6 address"));
        assert!(v6("-A PREROUTING -p tcp -j DNAT --to-destination [2001:db8::1]:80/90").2.contains("after the port"));
        let (_, col, msg) = v4("-A PREROUTING -j DNAT");
        assert_eq!(col, 15);
        assert!(msg.contains("DNAT needs `--to-destination"), "{msg}");
        assert!(v4("-A PREROUTING -j DNAT --random").2.contains("DNAT needs"));
        assert!(v4("-A PREROUTING -j DNAT --to-destination 10.0.0.1 --to-destination 10.0.0.2")
            .2
            .contains("more than once"));
        assert!(v4("-A PREROUTING -j DNAT --to-destination 10.0.0.1 --random --random").2.contains("more than once"));
        assert!(v4("-A PREROUTING -j DNAT ! --to-destination 10.0.0.1").2.contains("cannot be negated"));
        assert!(v4("-A PREROUTING -j DNAT --to-destination 10.0.0.1 --random-fully").2.contains("unknown option"));
    }

    #[test]
    fn snat_save_forms() {
        check(
            Family::Ipv4,
            &[
                ("-A POSTROUTING -j SNAT --to-source 10.0.0.1", ""),
                ("-A POSTROUTING -j SNAT --to-source 10.0.0.1-10.0.0.9", ""),
                ("-A POSTROUTING -p tcp -j SNAT --to-source 10.0.0.1:1024-2048", ""),
                ("-A POSTROUTING -p tcp -j SNAT --to-source :1000", ""),
                ("-A POSTROUTING -j SNAT --to-source 10.0.0.1 --random --random-fully --persistent", ""),
                (
                    "-A POSTROUTING -j SNAT --to-source 10.0.0.1 --random-fully --random",
                    "-A POSTROUTING -j SNAT --to-source 10.0.0.1 --random --random-fully",
                ),
                // iptables 1.8.9 loses the base port of SNAT and prints `/0`.
                (
                    "-A POSTROUTING -p tcp -j SNAT --to-source 10.0.0.1:1024-2048/100",
                    "-A POSTROUTING -p tcp -j SNAT --to-source 10.0.0.1:1024-2048/0",
                ),
            ],
        );
        check(
            Family::Ipv6,
            &[
                ("-A POSTROUTING -p tcp -j SNAT --to-source [2001:db8::1]:1024-2048", ""),
                ("-A POSTROUTING -j SNAT --to-source 2001:db8::1 --random-fully", ""),
                (
                    "-A POSTROUTING -p tcp -j SNAT --to-source [2001:db8::1]:1024-2048/7",
                    "-A POSTROUTING -p tcp -j SNAT --to-source [2001:db8::1]:1024-2048/0",
                ),
            ],
        );
        let p = dump(Family::Ipv4, "-A POSTROUTING -p tcp -j SNAT --to-source 10.0.0.1:1024-2048/100");
        let w = p.warnings().next().expect("a warning about the base port");
        assert_eq!(w.span.col, 43);
        let (_, col, msg) = error(Family::Ipv4, "-A POSTROUTING -j SNAT --to-source 10.0.0.1:1024");
        assert_eq!(col, 36);
        assert!(msg.contains("`-p tcp`"), "{msg}");
        assert!(error(Family::Ipv4, "-A POSTROUTING -j SNAT").2.contains("SNAT needs `--to-source"));
        assert!(error(Family::Ipv4, "-A POSTROUTING -j SNAT --to-source 10.0.0.1 --persistent --persistent")
            .2
            .contains("more than once"));
    }

    #[test]
    fn masquerade_and_redirect() {
        check(
            Family::Ipv4,
            &[
                ("-A POSTROUTING -j MASQUERADE", ""),
                ("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024", ""),
                ("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-2048", ""),
                ("-A POSTROUTING -j MASQUERADE --random --random-fully", ""),
                ("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024 --random", ""),
                ("-A POSTROUTING -p icmp -j MASQUERADE --to-ports 1000", ""),
                ("-A POSTROUTING ! -p tcp -j MASQUERADE --to-ports 1000", ""),
                ("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 0", ""),
                (
                    "-A POSTROUTING -p tcp -j MASQUERADE --to-ports http",
                    "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 80",
                ),
                (
                    "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-1024",
                    "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024",
                ),
                (
                    "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-2048/5",
                    "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024-2048/0",
                ),
                ("-A PREROUTING -j REDIRECT", ""),
                ("-A PREROUTING -j REDIRECT --random", ""),
                ("-A PREROUTING -p tcp -j REDIRECT --to-ports 8080-8090", ""),
                ("-A PREROUTING -p tcp -j REDIRECT --to-ports 8080 --random", ""),
                ("-A PREROUTING -p tcp -j REDIRECT --to-ports 0", ""),
                ("-A PREROUTING -p tcp -j REDIRECT --to-port 8080", "-A PREROUTING -p tcp -j REDIRECT --to-ports 8080"),
                ("-A PREROUTING -p tcp -j REDIRECT --to-ports 0x50", "-A PREROUTING -p tcp -j REDIRECT --to-ports 80"),
            ],
        );
        check(Family::Ipv6, &[("-A PREROUTING -p tcp -j REDIRECT --to-ports 80-90 --random", "")]);
        let v4 = |r: &str| error(Family::Ipv4, r);
        let (_, col, msg) = v4("-A POSTROUTING -j MASQUERADE --to-ports 1024");
        assert_eq!(col, 41);
        assert!(msg.contains("`-p tcp`"), "{msg}");
        assert!(v4("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1024:2048").2.contains("with a dash"));
        assert!(v4("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 2048-1024").2.contains("before it starts"));
        assert!(v4("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 65536").2.contains("is not a port"));
        assert!(v4("-A POSTROUTING -j MASQUERADE --persistent").2.contains("unknown option"));
        let (_, col, msg) = v4("-A PREROUTING -p tcp -j REDIRECT --to-ports 1024-2048/5");
        assert_eq!(col, 45);
        assert!(msg.contains("base port"), "{msg}");
        assert!(v4("-A PREROUTING -j REDIRECT --to-ports 8080").2.contains("`-p tcp`"));
        assert!(v4("-A PREROUTING -p tcp -j REDIRECT --to-ports 80-90x").2.contains("after the port range"));
        assert!(v4("-A PREROUTING -p tcp -j REDIRECT --random --random").2.contains("more than once"));
        assert!(v4("-A PREROUTING -p tcp -j REDIRECT --random-fully").2.contains("unknown option"));
    }

    #[test]
    fn netmap() {
        check(
            Family::Ipv4,
            &[
                ("-A PREROUTING -j NETMAP --to 10.0.0.0/24", ""),
                ("-A PREROUTING -j NETMAP --to 10.0.0.5/24", "-A PREROUTING -j NETMAP --to 10.0.0.0/24"),
                ("-A PREROUTING -j NETMAP --to 10.0.0.5", "-A PREROUTING -j NETMAP --to 10.0.0.5/32"),
                ("-A PREROUTING -j NETMAP --to 10.0.0.0/255.255.255.0", "-A PREROUTING -j NETMAP --to 10.0.0.0/24"),
                ("-A PREROUTING -j NETMAP --to 10.0.0.0/0", "-A PREROUTING -j NETMAP --to 0.0.0.0/0"),
                ("-A PREROUTING -j NETMAP --to 10.1.2.3/255.0.255.0", "-A PREROUTING -j NETMAP --to 10.1.2.3/32"),
                ("-A PREROUTING -j NETMAP --to 10.1.2.3/40", "-A PREROUTING -j NETMAP --to 10.1.2.3/32"),
                ("-A PREROUTING -j NETMAP --to 10.1.2.3/255.255", "-A PREROUTING -j NETMAP --to 10.1.2.3/32"),
                ("-A PREROUTING -j NETMAP --to 10.1", "-A PREROUTING -j NETMAP --to 10.0.0.1/32"),
                ("-A PREROUTING -j NETMAP --to 10.1/16", "-A PREROUTING -j NETMAP --to 10.0.0.0/16"),
                ("-A PREROUTING -j NETMAP --to 10.1.2.3/31", "-A PREROUTING -j NETMAP --to 10.1.2.2/31"),
                ("-A PREROUTING -j NETMAP --to 10.1.2.3/0x10", "-A PREROUTING -j NETMAP --to 10.1.0.0/16"),
                ("-A PREROUTING -j NETMAP --to 10.1.2.3/010", "-A PREROUTING -j NETMAP --to 10.0.0.0/8"),
                ("-A PREROUTING -j NETMAP --to 10.1.2.3/4294967040", "-A PREROUTING -j NETMAP --to 10.1.2.0/24"),
                ("-A PREROUTING -j NETMAP --to 0x0a000001/24", "-A PREROUTING -j NETMAP --to 10.0.0.0/24"),
                ("-A PREROUTING -j NETMAP --to 010.0.0.1", "-A PREROUTING -j NETMAP --to 8.0.0.1/32"),
                ("-A POSTROUTING -j NETMAP --to 10.0.0.0/24", ""),
            ],
        );
        check(
            Family::Ipv6,
            &[
                ("-A PREROUTING -j NETMAP --to 2001:db8::/64", ""),
                ("-A PREROUTING -j NETMAP --to 2001:db8::5/64", "-A PREROUTING -j NETMAP --to 2001:db8::/64"),
                ("-A PREROUTING -j NETMAP --to 2001:db8::5", "-A PREROUTING -j NETMAP --to 2001:db8::5/128"),
                ("-A PREROUTING -j NETMAP --to 2001:db8::5/ffff:ffff::", "-A PREROUTING -j NETMAP --to 2001:db8::/32"),
                (
                    "-A PREROUTING -j NETMAP --to 2001:db8::5/ffff:0:ffff::",
                    "-A PREROUTING -j NETMAP --to 2001:db8::5/128",
                ),
                ("-A PREROUTING -j NETMAP --to 2001:db8::5/0", "-A PREROUTING -j NETMAP --to ::/0"),
            ],
        );
        let p = dump(Family::Ipv4, "-A PREROUTING -j NETMAP --to 10.1.2.3/255.0.255.0");
        assert!(p.warnings().any(|w| w.message.contains("not a contiguous mask")));
        let v4 = |r: &str| error(Family::Ipv4, r);
        for arg in ["10.1.2.3/-1", "10.1.2.3/abc", "10.1.2.3/", "10.1.2.3/8/8"] {
            let (_, col, msg) = v4(&format!("-A PREROUTING -j NETMAP --to {arg}"));
            assert_eq!(col, 30, "{arg}");
            assert!(msg.contains("neither a mask nor a prefix length from 0 to 32"), "{arg}: {msg}");
        }
        assert!(v4("-A PREROUTING -j NETMAP --to 10.0.0.256").2.contains("is not an address"));
        assert!(v4("-A PREROUTING -j NETMAP --to host.example/24").2.contains("is not an address"));
        assert!(v4("-A PREROUTING -j NETMAP").2.contains("NETMAP needs `--to"));
        assert!(v4("-A PREROUTING -j NETMAP --to 10.0.0.0/24 --to 10.0.0.0/24").2.contains("more than once"));
        assert!(v4("-A PREROUTING -j NETMAP ! --to 10.0.0.0/24").2.contains("cannot be negated"));
        let v6 = |r: &str| error(Family::Ipv6, r);
        assert!(v6("-A PREROUTING -j NETMAP --to 2001:db8::5/129").2.contains("from 0 to 128"));
        assert!(v6("-A PREROUTING -j NETMAP --to 10.0.0.0/8").2.contains("is not an address"));
    }
}
