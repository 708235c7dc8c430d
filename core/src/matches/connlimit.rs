//! `-m connlimit`: the number of tracked connections from (or to) an address group (`libxt_connlimit`,
//! the kernel's `xt_connlimit.c`). The answer depends on the connections open at the time, so a packet
//! walk states an assumption about it; this module stores the settings as the kernel does.

use super::u32::xt_strtoul;
use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::inet_aton;
use crate::ruleset::Family;
use crate::values::opt_number;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The options of `-m connlimit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connlimit {
    /// The connection count compared against.
    pub limit: u32,
    /// `--connlimit-above` (or `! --connlimit-upto`): match when more than `limit` connections exist;
    /// otherwise (`--connlimit-upto`) when at most `limit` do.
    pub above: bool,
    /// `--connlimit-mask`: addresses are grouped by this mask (all ones when not given).
    pub mask: IpAddr,
    /// `--connlimit-saddr` (the default) or `--connlimit-daddr`: which address is grouped.
    pub side: ConnlimitSide,
}

/// Which address of a connection `-m connlimit` groups by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConnlimitSide {
    /// `--connlimit-saddr`: the source address.
    #[default]
    Source,
    /// `--connlimit-daddr`: the destination address.
    Dest,
}

/// The prefix length `iptables-save` prints for a mask: its length when it is contiguous, otherwise the
/// family's full length (as `iptables` 1.8.9 prints a mask that is not).
pub(crate) fn printed_prefix(mask: IpAddr) -> u8 {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) == 0 {
        ones as u8
    } else {
        width
    }
}

/// Reads a prefix length or a mask as iptables 1.8.9's `XTTYPE_PLEN` does: a number up to the family's
/// width is a length; anything else is read as a mask (an IPv4 one as `inet_aton` reads an address, so
/// `0xffffff00` is 24 and `33` is the odd mask 0.0.0.33). The length, or `None` for a mask that is not
/// contiguous (which iptables 1.8.9 passes on as the length 255).
pub(crate) fn plen_or_mask(text: &str, family: Family) -> Result<Option<u32>, String> {
    let width: u32 = if family == Family::Ipv4 { 32 } else { 128 };
    if let Some((Some(n), used)) = xt_strtoul(text, 0) {
        if used == text.len() && n <= u64::from(width) && !text.contains('.') {
            return Ok(Some(n as u32));
        }
    }
    let mask = match family {
        Family::Ipv4 => inet_aton(text).map(|m| u128::from(u32::from(m)) << 96),
        Family::Ipv6 if text.contains(':') => text.parse::<Ipv6Addr>().ok().map(u128::from),
        Family::Ipv6 => None,
    }
    .ok_or_else(|| format!("`{text}` is neither a prefix length from 0 to {width} nor a mask"))?;
    let ones = mask.leading_ones();
    Ok((mask.checked_shl(ones).unwrap_or(0) == 0).then_some(ones))
}

/// Reads a prefix length or a mask as `XTTYPE_PLENMASK` does in iptables 1.8.9 (`--connlimit-mask`, the
/// mask part of `--tunnel-src`): the mask of the length [`plen_or_mask`] reads, all ones for a mask that
/// is not contiguous (1.8.9 builds the mask from the length, and 255 leaves it full).
pub(crate) fn plen_mask(text: &str, family: Family) -> Result<IpAddr, String> {
    let width = if family == Family::Ipv4 { 32 } else { 128 };
    let len = plen_or_mask(text, family)?.unwrap_or(width);
    let bits = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    Ok(match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::from((bits >> 96) as u32)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(bits)),
    })
}

impl Extension for Connlimit {
    const OPTIONS: &'static [OptSpec] = &[
        opt("connlimit-upto", Args::One),
        opt("connlimit-above", Args::One),
        opt("connlimit-mask", Args::One),
        opt("connlimit-saddr", Args::Zero),
        opt("connlimit-daddr", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Connlimit, Diagnostic> {
        for o in opts.iter().filter(|o| o.name != "connlimit-upto" && o.name != "connlimit-above") {
            o.no_negation()?;
        }
        let mut limit = None;
        for name in ["connlimit-upto", "connlimit-above"] {
            if let Some(o) = find(opts, name)? {
                let n = opt_number(o, 0, u64::from(u32::MAX))? as u32;
                limit = Some((n, (name == "connlimit-above") != o.negated));
            }
        }
        exclusive(opts, &["connlimit-upto", "connlimit-above"])?;
        let mask = match find(opts, "connlimit-mask")? {
            Some(o) => o.parse_arg(|t| plen_mask(t, ctx.family))?,
            None => match ctx.family {
                Family::Ipv4 => IpAddr::V4(Ipv4Addr::BROADCAST),
                Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            },
        };
        find(opts, "connlimit-saddr")?;
        let side = if find(opts, "connlimit-daddr")?.is_some() { ConnlimitSide::Dest } else { ConnlimitSide::Source };
        exclusive(opts, &["connlimit-saddr", "connlimit-daddr"])?;
        let Some((limit, above)) = limit else {
            return Err(ctx.error("the connlimit match needs `--connlimit-above N` or `--connlimit-upto N`"));
        };
        Ok(Connlimit { limit, above, mask, side })
    }

    /// `connlimit_save`: the comparison, the mask as a prefix length, and always the side.
    fn save(&self, out: &mut String) {
        let cmp = if self.above { "above" } else { "upto" };
        let side = match self.side {
            ConnlimitSide::Source => "saddr",
            ConnlimitSide::Dest => "daddr",
        };
        let _ = write!(
            out,
            " --connlimit-{cmp} {} --connlimit-mask {} --connlimit-{side}",
            self.limit,
            printed_prefix(self.mask)
        );
    }
}

impl Connlimit {
    /// The count after `runs` earlier runs of this rule in one walk (a user chain entered again): each run
    /// adds the packet's connection to the rule's list once more, since `__nf_conncount_add` skips its
    /// duplicate check within the jiffy of the list's last collection (recorded: `--connlimit-upto 1`
    /// holds once, not twice). `None` on the first run.
    /// Which count a packet joins (`connlimit_mt`): its source (or with `--connlimit-daddr` destination)
    /// address under the mask.
    pub(crate) fn bucket(&self, pkt: &crate::packet::Packet) -> u64 {
        let addr = match self.side {
            ConnlimitSide::Source => pkt.src,
            ConnlimitSide::Dest => pkt.dst,
        };
        match (addr, self.mask) {
            (IpAddr::V4(a), IpAddr::V4(m)) => u64::from(u32::from(a) & u32::from(m)),
            (IpAddr::V6(a), IpAddr::V6(m)) => {
                let x = u128::from(a) & u128::from(m);
                (x as u64) ^ ((x >> 64) as u64).rotate_left(1)
            }
            _ => 0,
        }
    }

    pub(crate) fn again(&self, ctx: &EvalCtx<'_>, runs: u32) -> Option<Outcome> {
        // A confirmed connection is not added again (`__nf_conncount_add` returns early for it): a packet
        // that came back in through `lo` after its connection was confirmed counts it once (recorded). An
        // INVALID packet has no connection: its tuple is added each run, as an unconfirmed one's (recorded).
        // A TEE copy has none either, but connlimit looks its tuple up: that of a confirmed connection is not
        // added (recorded: a copy made in INPUT after the packet came back through `lo`).
        let connection = (ctx.ct.confirmed && ctx.ct.state != crate::packet::CtState::Invalid) || ctx.ct.tuple_in_table;
        (runs > 0 && !connection).then(|| self.counted(ctx, runs + 1))
    }

    fn counted(&self, ctx: &EvalCtx<'_>, count: u32) -> Outcome {
        let (key, addr) = match self.side {
            ConnlimitSide::Source => ("SRC", ctx.pkt.src),
            ConnlimitSide::Dest => ("DST", ctx.pkt.dst),
        };
        let (word, fits) = if self.above { ("above", count > self.limit) } else { ("at most", count <= self.limit) };
        let counted = if count == 1 {
            String::new()
        } else {
            format!(", counted {count} times as this walk met the rule {count} times")
        };
        let fact = format!(
            "chainwalk does not count connections and assumes the packet's own is the only one for {key}={addr}/{} \
             (set it by hand for more){counted}, and {count} is {}{word} {}",
            printed_prefix(self.mask),
            if fits { "" } else { "not " },
            self.limit
        );
        let o = conclude(fits, false, fact);
        Outcome::assumed(o.holds, o.why)
    }
}

impl Evaluate for Connlimit {
    /// `connlimit_mt` in `xt_connlimit.c` counts the tracked connections whose address (under the mask) is the
    /// packet's, its own included, and compares the count with the limit. chainwalk does not know the other
    /// connections and assumes there are none, so the count is 1.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        self.counted(ctx, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(family))
    }

    /// `-m connlimit OPTIONS` printed back, without the `-A INPUT -m connlimit` before it.
    fn saved_in(family: Family, options: &str) -> String {
        let line = format!("-A INPUT -m connlimit {options} -j DROP");
        let p = parsed(family, &line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m connlimit ").trim_end_matches(" -j DROP").to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(family: Family, options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m connlimit {options} -j DROP");
        let p = parsed(family, &line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let v4 = Family::Ipv4;
        // Options and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            ("--connlimit-above 3", "--connlimit-above 3 --connlimit-mask 32 --connlimit-saddr"),
            ("--connlimit-upto 3", "--connlimit-upto 3 --connlimit-mask 32 --connlimit-saddr"),
            ("--connlimit-above 3 --connlimit-mask 24", "--connlimit-above 3 --connlimit-mask 24 --connlimit-saddr"),
            ("--connlimit-above 3 --connlimit-mask 0", "--connlimit-above 3 --connlimit-mask 0 --connlimit-saddr"),
            ("--connlimit-above 3 --connlimit-mask 33", "--connlimit-above 3 --connlimit-mask 32 --connlimit-saddr"),
            (
                "--connlimit-above 3 --connlimit-mask 4294967295",
                "--connlimit-above 3 --connlimit-mask 32 --connlimit-saddr",
            ),
            ("--connlimit-above 3 --connlimit-mask 0x10", "--connlimit-above 3 --connlimit-mask 16 --connlimit-saddr"),
            (
                "--connlimit-above 3 --connlimit-mask 0xffffff00",
                "--connlimit-above 3 --connlimit-mask 24 --connlimit-saddr",
            ),
            (
                "--connlimit-above 3 --connlimit-mask 255.255.0.0",
                "--connlimit-above 3 --connlimit-mask 16 --connlimit-saddr",
            ),
            (
                "--connlimit-above 3 --connlimit-mask 255.0.255.0",
                "--connlimit-above 3 --connlimit-mask 32 --connlimit-saddr",
            ),
            (
                "--connlimit-above 3 --connlimit-mask 128.0.0.0",
                "--connlimit-above 3 --connlimit-mask 1 --connlimit-saddr",
            ),
            ("--connlimit-above 3 --connlimit-daddr", "--connlimit-above 3 --connlimit-mask 32 --connlimit-daddr"),
            (
                "--connlimit-mask 24 --connlimit-above 3 --connlimit-daddr",
                "--connlimit-above 3 --connlimit-mask 24 --connlimit-daddr",
            ),
            ("! --connlimit-above 3", "--connlimit-upto 3 --connlimit-mask 32 --connlimit-saddr"),
            ("! --connlimit-upto 3", "--connlimit-above 3 --connlimit-mask 32 --connlimit-saddr"),
            ("--connlimit-above 0", "--connlimit-above 0 --connlimit-mask 32 --connlimit-saddr"),
            ("--connlimit-above 0x10", "--connlimit-above 16 --connlimit-mask 32 --connlimit-saddr"),
            ("--connlimit-above 4294967295", "--connlimit-above 4294967295 --connlimit-mask 32 --connlimit-saddr"),
        ] {
            assert_eq!(saved_in(v4, input), out, "{input}");
        }
        let v6 = Family::Ipv6;
        for (input, out) in [
            ("--connlimit-above 3", "--connlimit-above 3 --connlimit-mask 128 --connlimit-saddr"),
            ("--connlimit-above 3 --connlimit-mask 64", "--connlimit-above 3 --connlimit-mask 64 --connlimit-saddr"),
            (
                "--connlimit-above 3 --connlimit-mask 0 --connlimit-daddr",
                "--connlimit-above 3 --connlimit-mask 0 --connlimit-daddr",
            ),
            (
                "--connlimit-above 3 --connlimit-mask ffff::",
                "--connlimit-above 3 --connlimit-mask 16 --connlimit-saddr",
            ),
            (
                "--connlimit-above 3 --connlimit-mask ffff:0:ffff::",
                "--connlimit-above 3 --connlimit-mask 128 --connlimit-saddr",
            ),
        ] {
            assert_eq!(saved_in(v6, input), out, "{input}");
        }
    }

    #[test]
    fn masks_are_built_from_the_length_as_iptables_1_8_9_builds_them() {
        let v4 = |t| plen_mask(t, Family::Ipv4).map(|m| m.to_string());
        assert_eq!(v4("24").as_deref(), Ok("255.255.255.0"));
        assert_eq!(v4("017").as_deref(), Ok("255.254.0.0"));
        // Past 32 a number is a mask: a contiguous one gives its length, any other all ones.
        assert_eq!(v4("0xffffff00").as_deref(), Ok("255.255.255.0"));
        assert_eq!(v4("33").as_deref(), Ok("255.255.255.255"));
        assert_eq!(v4("255.0.255.0").as_deref(), Ok("255.255.255.255"));
        assert!(v4("4294967296").is_err());
        let v6 = |t| plen_mask(t, Family::Ipv6).map(|m| m.to_string());
        assert_eq!(v6("ffff:ffff::").as_deref(), Ok("ffff:ffff::"));
        assert_eq!(v6("ffff:0:ffff::").as_deref(), Ok("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_eq!(v6("200").unwrap_err(), "`200` is neither a prefix length from 0 to 128 nor a mask");
    }

    #[test]
    fn errors() {
        let v4 = Family::Ipv4;
        assert_eq!(
            error(v4, ""),
            (10, "the connlimit match needs `--connlimit-above N` or `--connlimit-upto N`".into())
        );
        assert_eq!(
            error(v4, "--connlimit-above 3 --connlimit-upto 4"),
            (43, "only one of `--connlimit-upto`, `--connlimit-above` may be given".into())
        );
        assert_eq!(error(v4, "--connlimit-above -1").0, 41);
        assert_eq!(
            error(v4, "--connlimit-above 3 --connlimit-mask -1"),
            (60, "`-1` is neither a prefix length from 0 to 32 nor a mask".into())
        );
        assert_eq!(error(v4, "--connlimit-above 3 --connlimit-mask 24x").0, 60);
        assert_eq!(error(v4, "--connlimit-above 3 --connlimit-mask 255.255.0.0/8").0, 60);
        assert_eq!(
            error(Family::Ipv6, "--connlimit-above 3 --connlimit-mask 129").1,
            "`129` is neither a prefix length from 0 to 128 nor a mask"
        );
        assert_eq!(
            error(v4, "--connlimit-saddr --connlimit-daddr --connlimit-above 1").1,
            "only one of `--connlimit-saddr`, `--connlimit-daddr` may be given"
        );
        assert_eq!(error(v4, "--connlimit-above 3 --connlimit-saddr --connlimit-saddr").0, 61);
        assert_eq!(
            error(v4, "! --connlimit-saddr --connlimit-above 3").1,
            "`--connlimit-saddr` cannot be negated with `!`"
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(options: &str) -> Outcome {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:80 in eth0 syn");
            match first_match(Family::Ipv4, &format!("-m connlimit {options}")) {
                MatchKind::Connlimit(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn one_connection_is_assumed() {
            let o = eval("--connlimit-above 10 --connlimit-mask 24");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk does not count connections and assumes the packet's own is the only one for \
                 SRC=203.0.113.7/24 (set it by hand for more), and 1 is not above 10, so this does not hold"
            );
            let o = eval("--connlimit-above 0 --connlimit-daddr");
            assert!(o.holds && o.assumed);
            assert!(o.why.contains("for DST=192.0.2.2/32"), "{}", o.why);
            assert!(o.why.ends_with("and 1 is above 0, so this holds"), "{}", o.why);
            let o = eval("--connlimit-upto 2");
            assert!(o.holds && o.assumed);
            assert!(o.why.ends_with("and 1 is at most 2, so this holds"), "{}", o.why);
            assert!(!eval("--connlimit-upto 0").holds);
            assert!(!eval("! --connlimit-upto 2").holds);
        }
    }
}
