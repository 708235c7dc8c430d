//! `-m rt`: the IPv6 Routing extension header (`libip6t_rt`, the kernel's `ip6t_rt.c`); `ip6tables` only.

use super::u32::xt_strtoul;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Negatable};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};
use std::net::Ipv6Addr;

/// The most addresses `--rt-0-addrs` takes (`IP6T_RT_HOPS`).
pub const MAX_ADDRS: usize = 16;

/// The options of `-m rt`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rt {
    /// `--rt-type`: the routing type.
    pub rt_type: Option<Negatable<u32>>,
    /// `--rt-segsleft`: the range the Segments Left field must be in. `iptables-save` leaves out the full
    /// range, even negated (which then matches nothing).
    pub segs_left: Option<Negatable<U32Range>>,
    /// `--rt-len`: the header's length.
    pub len: Option<Negatable<u32>>,
    /// `--rt-0-res`: the reserved field of a type 0 header must be zero.
    pub reserved: bool,
    /// `--rt-0-addrs`: the addresses of a type 0 header, in order.
    pub addrs: Vec<Ipv6Addr>,
    /// `--rt-0-not-strict`: the listed addresses need only appear, not make up the whole list.
    pub not_strict: bool,
}

/// An inclusive range of 32-bit values as `XTTYPE_UINT32RC` reads it (`N`, `N:M`, `:M`, `N:`); the
/// kernel does not require `min <= max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct U32Range {
    /// The lowest value.
    pub min: u32,
    /// The highest value.
    pub max: u32,
}

impl U32Range {
    /// Every value, the default that `iptables-save` does not print.
    pub const ALL: U32Range = U32Range { min: 0, max: u32::MAX };

    /// Reads the range (numbers in C notation).
    pub(crate) fn parse(text: &str) -> Result<U32Range, String> {
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() > 2 {
            return Err(format!("`{text}` has more than two parts; write `MIN:MAX`"));
        }
        let num = |p: &str, default: u32| -> Result<u32, String> {
            if p.is_empty() && parts.len() == 2 {
                return Ok(default);
            }
            match xt_strtoul(p, 0) {
                Some((Some(n), used)) if used == p.len() && n <= u64::from(u32::MAX) => Ok(n as u32),
                _ => Err(format!("`{p}` is not a number from 0 to {}", u32::MAX)),
            }
        };
        let min = num(parts[0], 0)?;
        let max = match parts.get(1) {
            Some(p) => num(p, u32::MAX)?,
            None => min,
        };
        Ok(U32Range { min, max })
    }
}

impl fmt::Display for U32Range {
    /// `N` or `MIN:MAX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}:{}", self.min, self.max)
        }
    }
}

/// Fails unless the rule is IPv6: `iptables` has no such match and says "Couldn't load match".
pub(crate) fn ipv6_only(ctx: &ExtCtx<'_>, name: &str) -> Result<(), Diagnostic> {
    if ctx.family == Family::Ipv4 {
        return Err(ctx.error(format!("the {name} match exists only for IPv6 (ip6tables)")));
    }
    Ok(())
}

/// A `u32` option with its negation.
pub(crate) fn number(o: Option<&Opt<'_>>) -> Result<Option<Negatable<u32>>, Diagnostic> {
    let Some(o) = o else { return Ok(None) };
    let n = crate::values::opt_number(o, 0, u64::from(u32::MAX))? as u32;
    Ok(Some(Negatable { value: n, negated: o.negated, span: o.span }))
}

/// A range option with its negation.
pub(crate) fn range(o: Option<&Opt<'_>>) -> Result<Option<Negatable<U32Range>>, Diagnostic> {
    let Some(o) = o else { return Ok(None) };
    let r = o.parse_arg(U32Range::parse)?;
    Ok(Some(Negatable { value: r, negated: o.negated, span: o.span }))
}

/// Prints a range option unless it covers every value.
pub(crate) fn save_range(out: &mut String, name: &str, r: &Option<Negatable<U32Range>>) {
    if let Some(r) = r.as_ref().filter(|r| r.value != U32Range::ALL) {
        save_opt_value(out, r.negated, name, r.value);
    }
}

impl Extension for Rt {
    const OPTIONS: &'static [OptSpec] = &[
        opt("rt-type", Args::One),
        opt("rt-segsleft", Args::One),
        opt("rt-len", Args::One),
        opt("rt-0-res", Args::Zero),
        opt("rt-0-addrs", Args::One),
        opt("rt-0-not-strict", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Rt, Diagnostic> {
        ipv6_only(ctx, "rt")?;
        let mut m = Rt::default();
        // Read in order: the type 0 options are checked against what came before them.
        for o in opts {
            find(opts, o.name)?;
            match o.name {
                "rt-type" => m.rt_type = number(Some(o))?,
                "rt-segsleft" => m.segs_left = range(Some(o))?,
                "rt-len" => m.len = number(Some(o))?,
                "rt-0-res" | "rt-0-addrs" | "rt-0-not-strict" => {
                    o.no_negation()?;
                    if o.name == "rt-0-not-strict" {
                        if m.addrs.is_empty() {
                            return Err(Diagnostic::error(
                                o.span,
                                "`--rt-0-not-strict` needs `--rt-0-addrs` before it",
                            ));
                        }
                        m.not_strict = true;
                        continue;
                    }
                    if !m.rt_type.as_ref().is_some_and(|t| t.value == 0 && !t.negated) {
                        return Err(Diagnostic::error(o.span, format!("`--{}` needs `--rt-type 0` before it", o.name)));
                    }
                    if o.name == "rt-0-res" {
                        m.reserved = true;
                        continue;
                    }
                    let list: Vec<&str> = o.arg().split(',').collect();
                    if list.len() > MAX_ADDRS {
                        return Err(o.bad_arg(format!("`--rt-0-addrs` takes at most {MAX_ADDRS} addresses")));
                    }
                    for a in list {
                        m.addrs.push(a.parse().map_err(|_| o.bad_arg(format!("`{a}` is not an IPv6 address")))?);
                    }
                }
                _ => {}
            }
        }
        Ok(m)
    }

    /// `rt_save`: type, segments left, length, then the type 0 options.
    fn save(&self, out: &mut String) {
        if let Some(t) = &self.rt_type {
            save_opt_value(out, t.negated, "rt-type", t.value);
        }
        save_range(out, "rt-segsleft", &self.segs_left);
        if let Some(l) = &self.len {
            save_opt_value(out, l.negated, "rt-len", l.value);
        }
        if self.reserved {
            out.push_str(" --rt-0-res");
        }
        if !self.addrs.is_empty() {
            save_opt(out, false, "rt-0-addrs");
            for (i, a) in self.addrs.iter().enumerate() {
                let _ = write!(out, "{}{a}", if i == 0 { ' ' } else { ',' });
            }
        }
        if self.not_strict {
            out.push_str(" --rt-0-not-strict");
        }
    }
}

impl Evaluate for Rt {
    /// `rt_mt6` in `ip6t_rt.c` finds the routing header among the packet's extension headers; without one
    /// the match fails, `!` or not. The packet model has no extension headers, so the packet is assumed to
    /// have no routing header.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        Outcome::assumed(
            false,
            "the packet model has no IPv6 extension headers, and chainwalk assumes the packet has no routing header \
             (set it by hand if it has), so the rt match does not match it, `!` or not",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(family))
    }

    /// `-m rt OPTIONS` printed back, without the `-A INPUT -m rt` before it.
    fn saved(options: &str) -> String {
        let line = format!("-A INPUT -m rt {options} -j DROP");
        let p = parsed(Family::Ipv6, &line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m rt").trim_end_matches(" -j DROP").trim_start().to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(family: Family, options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m rt {options} -j DROP");
        let p = parsed(family, &line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_ip6tables_save() {
        for same in [
            "--rt-type 0",
            "! --rt-type 2",
            "--rt-type 256",
            "--rt-segsleft 5",
            "! --rt-segsleft 5:10",
            "--rt-segsleft 10:5",
            "--rt-len 8",
            "! --rt-len 8",
            "--rt-type 0 --rt-0-res",
            "--rt-type 0 --rt-0-addrs ::1,::2",
            "--rt-type 0 --rt-0-addrs 2001:db8::1 --rt-0-not-strict",
            "--rt-type 0 --rt-0-addrs 1::,2::,3::,4::,5::,6::,7::,8::,9::,10::,11::,12::,13::,14::,15::,16::",
            "! --rt-type 0 ! --rt-segsleft 3 ! --rt-len 16",
            "--rt-type 0 --rt-0-addrs ::ffff:1.2.3.4",
            "",
        ] {
            assert_eq!(saved(same), same);
        }
        // As ip6tables-save 1.8.9 printed them.
        for (input, out) in [
            ("--rt-segsleft :5", "--rt-segsleft 0:5"),
            ("--rt-segsleft 5:", "--rt-segsleft 5:4294967295"),
            ("--rt-segsleft 0:4294967295", ""),
            ("! --rt-segsleft 0:4294967295", ""),
            ("--rt-segsleft 0:0", "--rt-segsleft 0"),
            ("--rt-segsleft 0x10", "--rt-segsleft 16"),
            ("--rt-type 0x2", "--rt-type 2"),
            ("--rt-len 0x10", "--rt-len 16"),
            ("--rt-type 00 --rt-0-res", "--rt-type 0 --rt-0-res"),
            ("--rt-type 0 --rt-0-addrs 2001:0db8:0000::0001", "--rt-type 0 --rt-0-addrs 2001:db8::1"),
            (
                "--rt-type 0 --rt-0-addrs ::1 --rt-0-not-strict --rt-len 16 --rt-0-res --rt-segsleft 3",
                "--rt-type 0 --rt-segsleft 3 --rt-len 16 --rt-0-res --rt-0-addrs ::1 --rt-0-not-strict",
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn errors() {
        let v6 = Family::Ipv6;
        assert_eq!(error(Family::Ipv4, "--rt-type 0"), (10, "the rt match exists only for IPv6 (ip6tables)".into()));
        assert_eq!(error(v6, "--rt-0-res"), (16, "`--rt-0-res` needs `--rt-type 0` before it".into()));
        assert_eq!(error(v6, "--rt-0-res --rt-type 0").1, "`--rt-0-res` needs `--rt-type 0` before it");
        assert_eq!(error(v6, "! --rt-type 0 --rt-0-res").1, "`--rt-0-res` needs `--rt-type 0` before it");
        assert_eq!(error(v6, "--rt-type 2 --rt-0-addrs ::1").1, "`--rt-0-addrs` needs `--rt-type 0` before it");
        assert_eq!(error(v6, "--rt-type 0 --rt-0-not-strict").1, "`--rt-0-not-strict` needs `--rt-0-addrs` before it");
        assert_eq!(error(v6, "--rt-type 0 --rt-0-addrs ::1/64"), (41, "`::1/64` is not an IPv6 address".into()));
        assert_eq!(error(v6, "--rt-type 0 --rt-0-addrs ::1,").1, "`` is not an IPv6 address");
        assert_eq!(error(v6, "--rt-type 0 --rt-0-addrs 1.2.3.4").1, "`1.2.3.4` is not an IPv6 address");
        let seventeen: Vec<String> = (1..=17).map(|i| format!("{i}::")).collect();
        assert_eq!(
            error(v6, &format!("--rt-type 0 --rt-0-addrs {}", seventeen.join(","))).1,
            "`--rt-0-addrs` takes at most 16 addresses"
        );
        assert_eq!(error(v6, "! --rt-0-res").1, "`--rt-0-res` cannot be negated with `!`");
        assert_eq!(error(v6, "--rt-segsleft 5:6:7").1, "`5:6:7` has more than two parts; write `MIN:MAX`");
        assert_eq!(
            error(v6, "--rt-segsleft 4294967296"),
            (30, "`4294967296` is not a number from 0 to 4294967295".into())
        );
        assert_eq!(error(v6, "--rt-segsleft a").1, "`a` is not a number from 0 to 4294967295");
        assert_eq!(error(v6, "--rt-type 4294967296").0, 26);
        assert_eq!(error(v6, "--rt-type 0 --rt-0-addrs ::1 --rt-0-addrs ::2").0, 45);
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::Evaluate;

        #[test]
        fn no_routing_header_is_assumed() {
            let s = Scene::new("tcp [2001:db8::7]:40000 -> [2001:db8::2]:80 in eth0 syn");
            for options in ["--rt-type 0", "! --rt-segsleft 0:2"] {
                let MatchKind::Rt(m) = first_match(Family::Ipv6, &format!("-m rt {options}")) else {
                    panic!("not an rt match");
                };
                let o = m.eval(&s.ctx());
                assert!(!o.holds && o.assumed, "{options}");
                assert_eq!(
                    o.why,
                    "the packet model has no IPv6 extension headers, and chainwalk assumes the packet has no routing \
                     header (set it by hand if it has), so the rt match does not match it, `!` or not"
                );
            }
        }
    }
}
