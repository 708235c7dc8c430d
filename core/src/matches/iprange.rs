//! `-m iprange`: source or destination address within an inclusive range (`libxt_iprange`, revision 1 of
//! the kernel's `xt_iprange.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::parse_ipv4;
use crate::ruleset::{Family, Negatable};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The options of `-m iprange`; at least one is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Iprange {
    /// `--src-range`.
    pub src: Option<Negatable<AddrRange>>,
    /// `--dst-range`.
    pub dst: Option<Negatable<AddrRange>>,
}

/// An inclusive range of addresses of one family. A range whose first address is above its last is
/// accepted by `iptables` and matches nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrRange {
    /// The first address.
    pub first: IpAddr,
    /// The last address.
    pub last: IpAddr,
}

impl AddrRange {
    /// Reads `ADDR[-ADDR]` (one address is a range of one) for `family`.
    pub fn parse(text: &str, family: Family) -> Result<AddrRange, String> {
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        Ok(AddrRange { first: address(a, family)?, last: address(b, family)? })
    }

    /// Whether `ip` is in the range, comparing addresses as numbers as the kernel does.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.first, self.last, ip) {
            (IpAddr::V4(f), IpAddr::V4(l), IpAddr::V4(i)) => (f..=l).contains(&i),
            (IpAddr::V6(f), IpAddr::V6(l), IpAddr::V6(i)) => (f..=l).contains(&i),
            _ => false,
        }
    }
}

impl fmt::Display for AddrRange {
    /// `FIRST-LAST`, even when both are the same address, as `iptables-save` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// One address in numeric form; `iptables` looks no names up here.
fn address(text: &str, family: Family) -> Result<IpAddr, String> {
    let parsed = match family {
        Family::Ipv4 => parse_ipv4(text, false).map(IpAddr::V4),
        Family::Ipv6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    };
    let kind = if family == Family::Ipv4 { "IPv4" } else { "IPv6" };
    parsed.ok_or_else(|| format!("`{text}` is not an {kind} address (a range is written `FIRST-LAST`, without masks)"))
}

fn range_opt(opts: &[Opt<'_>], name: &str, family: Family) -> Result<Option<Negatable<AddrRange>>, Diagnostic> {
    match find(opts, name)? {
        None => Ok(None),
        Some(o) => {
            let range = o.parse_arg(|t| AddrRange::parse(t, family))?;
            Ok(Some(Negatable { value: range, negated: o.negated, span: o.span }))
        }
    }
}

impl Extension for Iprange {
    const OPTIONS: &'static [OptSpec] = &[opt("src-range", Args::One), opt("dst-range", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Iprange, Diagnostic> {
        let src = range_opt(opts, "src-range", ctx.family)?;
        let dst = range_opt(opts, "dst-range", ctx.family)?;
        if src.is_none() && dst.is_none() {
            return Err(ctx.error("the iprange match needs `--src-range` or `--dst-range`"));
        }
        Ok(Iprange { src, dst })
    }

    fn save(&self, out: &mut String) {
        for (name, range) in [("src-range", &self.src), ("dst-range", &self.dst)] {
            if let Some(r) = range {
                save_opt_value(out, r.negated, name, r.value);
            }
        }
    }
}

impl Evaluate for Iprange {
    /// `iprange_mt4`/`iprange_mt6` in `xt_iprange.c`: the source range, then the destination range, each
    /// compared as numbers and each with its own `!`.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let tests = [("SRC", ctx.pkt.src, &self.src), ("DST", ctx.pkt.dst, &self.dst)];
        let outcomes = tests.into_iter().filter_map(|(key, ip, range)| {
            let r = range.as_ref()?;
            let inside = r.value.contains(ip);
            let fact = format!("{key}={ip} is {}in {}", if inside { "" } else { "not " }, r.value);
            Some(conclude(inside, r.negated, fact))
        });
        super::conntrack::all_of(outcomes.collect(), "the packet's addresses are in range")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        crate::matches::testing::input_saved(family, line)
    }

    /// The first error's column (on line 3) and message.
    fn error(family: Family, line: &str) -> (u32, String) {
        crate::matches::testing::input_error(family, line)
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let v4 = Family::Ipv4;
        for same in [
            "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.10 -j ACCEPT",
            "-A INPUT -m iprange ! --src-range 10.0.0.1-10.0.0.10 ! --dst-range 10.0.0.1-10.0.0.2 -j ACCEPT",
            "-A INPUT -m iprange --src-range 10.0.0.10-10.0.0.1 -j ACCEPT",
        ] {
            assert_eq!(saved(v4, same), same);
        }
        assert_eq!(
            saved(v4, "-A INPUT -m iprange --dst-range 192.168.0.1-192.168.0.5 --src-range 10.0.0.1-10.0.0.10"),
            "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.10 --dst-range 192.168.0.1-192.168.0.5"
        );
        let v6 = Family::Ipv6;
        assert_eq!(
            saved(v6, "-A INPUT -m iprange --src-range 2001:DB8::1-2001:db8::0:10"),
            "-A INPUT -m iprange --src-range 2001:db8::1-2001:db8::10"
        );
        assert_eq!(
            saved(v6, "-A INPUT -m iprange --src-range ::ffff:10.0.0.1-::ffff:10.0.0.2"),
            "-A INPUT -m iprange --src-range ::ffff:10.0.0.1-::ffff:10.0.0.2"
        );
    }

    #[test]
    fn non_canonical_forms() {
        // One address for a range, short and C-notation IPv4 addresses, an abbreviated option.
        let v4 = Family::Ipv4;
        assert_eq!(
            saved(v4, "-A INPUT -m iprange --src-r 10.0.0.5"),
            "-A INPUT -m iprange --src-range 10.0.0.5-10.0.0.5"
        );
        assert_eq!(
            saved(v4, "-A INPUT -m iprange --dst-range 10.1-0x0b"),
            "-A INPUT -m iprange --dst-range 10.1.0.0-11.0.0.0"
        );
        assert_eq!(
            saved(Family::Ipv6, "-A INPUT -m iprange --dst-range ::1"),
            "-A INPUT -m iprange --dst-range ::1-::1"
        );
    }

    #[test]
    fn errors() {
        let v4 = Family::Ipv4;
        assert_eq!(
            error(v4, "-A INPUT -m iprange --src-range 10.0.0.0/24"),
            (33, "`10.0.0.0/24` is not an IPv4 address (a range is written `FIRST-LAST`, without masks)".into())
        );
        assert!(error(v4, "-A INPUT -m iprange --src-range 10.0.0.1-10.0.0.300").1.starts_with("`10.0.0.300` is not"));
        assert!(error(v4, "-A INPUT -m iprange --src-range 10.0.0.1-").1.starts_with("`` is not an IPv4 address"));
        assert!(error(v4, "-A INPUT -m iprange --src-range 1-2-3").1.starts_with("`2-3` is not an IPv4 address"));
        assert!(error(v4, "-A INPUT -m iprange --src-range ::1-::2").1.starts_with("`::1` is not an IPv4 address"));
        assert!(error(Family::Ipv6, "-A INPUT -m iprange --src-range 10.0.0.1")
            .1
            .starts_with("`10.0.0.1` is not an IPv6"));
        assert_eq!(
            error(v4, "-A INPUT -m iprange -j ACCEPT"),
            (10, "the iprange match needs `--src-range` or `--dst-range`".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -m iprange --src-range 1.0.0.1 --src-range 1.0.0.2"),
            (41, "`--src-range` is given more than once".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, rule: &str) -> Outcome {
            match first_match(scene.pkt.family(), rule) {
                MatchKind::Iprange(r) => r.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn ranges() {
            let s = Scene::new("tcp 192.168.1.50:40000 -> 10.0.0.1:22 in eth0 syn");
            let o = eval(&s, "-m iprange --src-range 192.168.1.10-192.168.1.99");
            assert!(o.holds);
            assert_eq!(o.why, "SRC=192.168.1.50 is in 192.168.1.10-192.168.1.99, so this holds");
            let o = eval(&s, "-m iprange --src-range 192.168.1.10-192.168.1.99 --dst-range 10.0.0.2-10.0.0.9");
            assert!(!o.holds);
            assert_eq!(o.why, "DST=10.0.0.1 is not in 10.0.0.2-10.0.0.9, so this does not hold");
            let o = eval(&s, "-m iprange ! --dst-range 10.0.0.2-10.0.0.9");
            assert!(o.holds);
            assert_eq!(o.why, "DST=10.0.0.1 is not in 10.0.0.2-10.0.0.9, so this holds");
            // A reversed range matches nothing.
            assert!(!eval(&s, "-m iprange --dst-range 10.0.0.9-10.0.0.0").holds);
            let v6 = Scene::new("udp [2001:db8::5]:1 -> [2001:db8::1]:2 in eth0");
            assert!(eval(&v6, "-m iprange --src-range 2001:db8::1-2001:db8::ff").holds);
        }
    }
}
