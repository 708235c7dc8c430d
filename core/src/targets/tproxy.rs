//! `-j TPROXY`: transparent proxying, delivering the packet to a local socket without changing its
//! destination (`libxt_TPROXY`, the kernel's `xt_TPROXY.c`).

use super::common::{parse_host, refuse_negation};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::matches::udp::{service_port, wrapped_port};
use crate::ruleset::{Family, Protocol};
use crate::values::MarkMask;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The options of `-j TPROXY`: the packet is given to the socket listening on `port` (and `addr`), and
/// its mark is changed so that a routing rule can deliver it locally.
///
/// The kernel allows TPROXY only in the mangle table's PREROUTING hook, and only for rules that say
/// `-p tcp` or `-p udp` (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tproxy {
    /// `--on-port`: the port of the proxy's socket; 0 keeps the packet's destination port.
    pub port: u16,
    /// `--on-ip`: the address of the proxy's socket; the unspecified address keeps the packet's destination.
    pub addr: IpAddr,
    /// `--tproxy-mark VALUE[/MASK]`: the packet's mark becomes `(mark & !mask) ^ value`; 0/0 when not
    /// given.
    pub mark: MarkMask,
}

/// Reads `--on-port` as `libxt_TPROXY` does, through the C library's service lookup: as `-m udp` reads a
/// port (a decimal number modulo 65536 after blanks and a sign, or a service name); empty is port 0.
fn on_port(o: &Opt<'_>, warnings: &mut Vec<Diagnostic>) -> Result<u16, Diagnostic> {
    let text = o.arg();
    if text.is_empty() {
        return Ok(0);
    }
    let port = service_port(text)
        .map_err(|_| o.bad_arg(format!("`{text}` is not a decimal port number or a service name chainwalk knows")))?;
    warnings.extend(wrapped_port(o));
    Ok(port)
}

impl Extension for Tproxy {
    const OPTIONS: &'static [OptSpec] =
        &[opt("on-port", Args::One), opt("on-ip", Args::One), opt("tproxy-mark", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Tproxy, Diagnostic> {
        refuse_negation(opts)?;
        let port = match find(opts, "on-port")? {
            Some(o) => on_port(o, warnings)?,
            None => return Err(ctx.error("TPROXY needs `--on-port PORT`")),
        };
        let addr = match find(opts, "on-ip")? {
            Some(o) => parse_host(o.arg(), ctx.family).ok_or_else(|| {
                o.bad_arg(format!(
                    "`{}` is not an address; iptables would look it up as a host name, which chainwalk does not do",
                    o.arg()
                ))
            })?,
            None if ctx.family == Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let mark = match find(opts, "tproxy-mark")? {
            Some(o) => o.parse_arg(MarkMask::parse)?,
            None => MarkMask { value: 0, mask: 0 },
        };
        if !matches!(ctx.proto(), Some(Protocol::TCP | Protocol::UDP)) {
            return Err(ctx.error("TPROXY needs the rule to say `-p tcp` or `-p udp`; the kernel refuses it otherwise"));
        }
        Ok(Tproxy { port, addr, mark })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, false, "on-port", self.port);
        save_opt_value(out, false, "on-ip", self.addr);
        save_opt(out, false, "tproxy-mark");
        let _ = write!(out, " {:#x}/{:#x}", self.mark.value, self.mark.mask);
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::ruleset::Family;

    fn dump(family: Family, rule: &str) -> crate::Parsed {
        parse(&format!("*mangle\n:PREROUTING ACCEPT [0:0]\n{rule}\nCOMMIT\n"), Some(family))
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

    /// Rules and what `iptables-save` 1.8.9 printed for them.
    #[test]
    fn save_forms() {
        for (args, want) in [
            ("--on-port 8080", "--on-port 8080 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port 8080 --on-ip 127.0.0.1", "--on-port 8080 --on-ip 127.0.0.1 --tproxy-mark 0x0/0x0"),
            ("--on-port 8080 --tproxy-mark 0x1", "--on-port 8080 --on-ip 0.0.0.0 --tproxy-mark 0x1/0xffffffff"),
            ("--on-port 8080 --tproxy-mark 1/255", "--on-port 8080 --on-ip 0.0.0.0 --tproxy-mark 0x1/0xff"),
            ("--on-port 0", "--on-port 0 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port http", "--on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port 65536", "--on-port 0 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port 70000", "--on-port 4464 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port 4294967296", "--on-port 0 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port 80 --on-ip 10.1", "--on-port 80 --on-ip 10.0.0.1 --tproxy-mark 0x0/0x0"),
            // The service lookup's reading: a sign, blanks, a leading zero that is still decimal.
            ("--on-port -0", "--on-port 0 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port -4294967295", "--on-port 1 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port \" +53\"", "--on-port 53 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port 010", "--on-port 10 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            ("--on-port \"\"", "--on-port 0 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"),
            (
                "--tproxy-mark 0x10/0xff --on-ip 127.0.0.1 --on-port 80",
                "--on-port 80 --on-ip 127.0.0.1 --tproxy-mark 0x10/0xff",
            ),
        ] {
            let rule = format!("-A PREROUTING -p tcp -j TPROXY {args}");
            assert_eq!(saved(Family::Ipv4, &rule), format!("-A PREROUTING -p tcp -j TPROXY {want}"), "{args}");
        }
        assert_eq!(
            saved(Family::Ipv4, "-A PREROUTING -p udp -j TPROXY --on-port 53"),
            "-A PREROUTING -p udp -j TPROXY --on-port 53 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0"
        );
        assert_eq!(
            saved(Family::Ipv6, "-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip 2001:DB8::1 --tproxy-mark 1"),
            "-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip 2001:db8::1 --tproxy-mark 0x1/0xffffffff"
        );
        assert_eq!(
            saved(Family::Ipv6, "-A PREROUTING -p tcp -j TPROXY --on-port 80"),
            "-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip :: --tproxy-mark 0x0/0x0"
        );
        for refused in ["+0x1", "0x10", "2147483648", "99999999999999999999", "--on-ip +1", "--on-ip \" 1\""] {
            let rule = format!("-A PREROUTING -p tcp -j TPROXY --on-port {refused}");
            let rule = rule.replace("--on-port --on-ip", "--on-port 1 --on-ip");
            assert!(dump(Family::Ipv4, &rule).has_errors(), "{rule}");
        }
        let p = dump(Family::Ipv4, "-A PREROUTING -p tcp -j TPROXY --on-port 70000");
        assert!(p.warnings().any(|w| w.message.contains("port 4464")));
    }

    #[test]
    fn wrong_input() {
        let v4 = |r: &str| error(Family::Ipv4, r);
        let (line, col, msg) = v4("-A PREROUTING -p tcp -j TPROXY --on-ip 127.0.0.1");
        assert_eq!((line, col), (3, 22));
        assert!(msg.contains("needs `--on-port"), "{msg}");
        for bad in ["-1", "abc", "0x50"] {
            let (_, col, msg) = v4(&format!("-A PREROUTING -p tcp -j TPROXY --on-port {bad}"));
            assert_eq!(col, 42, "{bad}");
            assert!(msg.contains("is not a decimal port"), "{bad}: {msg}");
        }
        assert!(v4("-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip 127.0.0.1/8").2.contains("is not an address"));
        assert!(v4("-A PREROUTING -p tcp -j TPROXY --on-port 80 --tproxy-mark 0x1/").2.contains("32-bit mask"));
        assert!(error(Family::Ipv6, "-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip 127.0.0.1")
            .2
            .contains("not an address"));
        for rule in ["-A PREROUTING -j TPROXY --on-port 53", "-A PREROUTING -p icmp -j TPROXY --on-port 53"] {
            assert!(v4(rule).2.contains("`-p tcp` or `-p udp`"), "{rule}");
        }
        assert!(v4("-A PREROUTING -p tcp -j TPROXY --on-port 1 --on-port 2").2.contains("more than once"));
        assert!(v4("-A PREROUTING -p tcp -j TPROXY ! --on-port 1").2.contains("cannot be negated"));
    }
}
