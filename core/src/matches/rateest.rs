//! `-m rateest`: compares the rate a rate estimator measured (made by `-j RATEEST`) with a fixed rate or
//! with another estimator's rate (`libxt_rateest`, the kernel's `xt_rateest.c`).
//!
//! The kernel looks the estimators up by name when the rule is loaded and refuses the rule if one does not
//! exist yet; a `-j RATEEST` rule loaded before (in this table or an earlier one) makes it. chainwalk cannot
//! see the order in which the kernel checks rules, so it warns instead.

use crate::decimal::fixed;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The longest estimator name the kernel stores (`IFNAMSIZ` - 1); iptables cuts longer ones.
pub const MAX_NAME_LEN: usize = 15;

/// The options of `-m rateest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateestMatch {
    /// `--rateest-delta`: compare how far each rate is below the given one instead of the rate itself.
    pub delta: bool,
    /// `--rateest NAME` / `--rateest1 NAME`: the estimator measured.
    pub est1: Box<str>,
    /// `--rateest2 NAME`: the estimator compared with (relative mode); `None` compares with fixed rates.
    pub est2: Option<Box<str>>,
    /// Compare bytes per second (`--rateest-bps[1|2]`): the rates given for the first and second side, in
    /// bytes per second (0 when not given).
    pub bps: Option<[u32; 2]>,
    /// Compare packets per second (`--rateest-pps[1|2]`): the rates given for each side.
    pub pps: Option<[u32; 2]>,
    /// `--rateest-lt`, `-gt`, `-eq`: how the sides compare; the kernel refuses a rule without one.
    pub mode: RateestMode,
    /// Whether `!` came before the comparison.
    pub negated: bool,
}

/// How the two sides of a rateest test compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateestMode {
    /// `--rateest-lt`: the first is less.
    Lt,
    /// `--rateest-gt`: the first is greater.
    Gt,
    /// `--rateest-eq`: they are equal.
    Eq,
}

impl RateestMode {
    fn name(self) -> &'static str {
        match self {
            RateestMode::Lt => "lt",
            RateestMode::Gt => "gt",
            RateestMode::Eq => "eq",
        }
    }
}

/// Reads a floating-point number from the start of `text` as C's `strtod` does for decimal numbers (blanks,
/// a sign, digits with a point, an exponent), and returns it with the rest. `None` when no number starts it.
pub(crate) fn strtod_prefix(text: &str) -> Option<(f64, &str)> {
    let t = text.trim_start_matches(crate::values::C_SPACE);
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(i);
    i += int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        frac = digits(i + 1);
        if int + frac > 0 {
            i += 1 + frac;
        }
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        let exp = digits(i + 1 + sign);
        if exp > 0 {
            i += 1 + sign + exp;
        }
    }
    Some((crate::decimal::parse(&t[..i])?, &t[i..]))
}

/// The rate units `iptables` takes (from iproute2), in bits per second, compared without regard to case.
const RATE_UNITS: &[(&str, f64)] = &[
    ("bit", 1.0),
    ("kibit", 1024.0),
    ("kbit", 1000.0),
    ("mibit", 1024.0 * 1024.0),
    ("mbit", 1_000_000.0),
    ("gibit", 1024.0 * 1024.0 * 1024.0),
    ("gbit", 1_000_000_000.0),
    ("tibit", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("tbit", 1_000_000_000_000.0),
    ("bps", 8.0),
    ("kibps", 8.0 * 1024.0),
    ("kbps", 8000.0),
    ("mibps", 8.0 * 1024.0 * 1024.0),
    ("mbps", 8_000_000.0),
    ("gibps", 8.0 * 1024.0 * 1024.0 * 1024.0),
    ("gbps", 8_000_000_000.0),
    ("tibps", 8.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("tbps", 8_000_000_000_000.0),
];

/// Reads a rate as `rateest_get_rate` does: a number of bits per second with an optional unit, stored as
/// bytes per second (cut to a whole number).
fn parse_rate(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a rate (a number of bits per second, with a unit like `kbit` or `MBps`)");
    let (n, unit) = strtod_prefix(text).ok_or_else(bad)?;
    let scale = if unit.is_empty() {
        1.0
    } else {
        RATE_UNITS.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit)).map(|&(_, s)| s).ok_or_else(bad)?
    };
    let bytes = n * scale / 8.0;
    if !(0.0..=f64::from(u32::MAX)).contains(&bytes) {
        return Err(format!("the rate `{text}` is out of range"));
    }
    Ok(bytes as u32)
}

/// A rate in bytes per second as `iptables-save` prints it: in bits, as `NMbit` from a billion bits up,
/// `NKbit` from a million, else `Nbit`.
fn rate_text(bytes: u32) -> String {
    let bits = f64::from(bytes) * 8.0;
    if bits >= 1e9 {
        format!("{}Mbit", fixed(bits / 1e6, 0))
    } else if bits >= 1e6 {
        format!("{}Kbit", fixed(bits / 1e3, 0))
    } else {
        format!("{}bit", fixed(bits, 0))
    }
}

/// The one occurrence of an option that `names` spell (aliases count as the same option).
fn once<'o, 'a>(opts: &'o [Opt<'a>], names: &[&str]) -> Result<Option<&'o Opt<'a>>, Diagnostic> {
    let mut found: Option<&Opt<'_>> = None;
    for o in opts.iter().filter(|o| names.contains(&o.name)) {
        if found.is_some() {
            return Err(Diagnostic::error(o.span, format!("`--{}` is given more than once", names[0])));
        }
        found = Some(o);
    }
    Ok(found)
}

impl Extension for RateestMatch {
    const OPTIONS: &'static [OptSpec] = &[
        opt("rateest1", Args::One),
        opt("rateest", Args::One),
        opt("rateest2", Args::One),
        opt("rateest-bps1", Args::Optional),
        opt("rateest-pps1", Args::Optional),
        opt("rateest-bps2", Args::Optional),
        opt("rateest-pps2", Args::Optional),
        opt("rateest-bps", Args::Optional),
        opt("rateest-pps", Args::Optional),
        opt("rateest-delta", Args::Zero),
        opt("rateest-lt", Args::Zero),
        opt("rateest-gt", Args::Zero),
        opt("rateest-eq", Args::Zero),
    ];

    /// Options are read in order, as `rateest_parse` reads them: of `--rateest-lt`, `-gt` and `-eq` the last
    /// one given decides, and `!` before any of them negates the test.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<RateestMatch, Diagnostic> {
        for o in opts.iter().filter(|o| !matches!(o.name, "rateest-lt" | "rateest-gt" | "rateest-eq")) {
            o.no_negation()?;
        }
        let name = |names: &[&str], warnings: &mut Vec<Diagnostic>| -> Result<Option<Box<str>>, Diagnostic> {
            let Some(o) = once(opts, names)? else { return Ok(None) };
            let n = super::nfacct::cut_to(o, o.arg(), MAX_NAME_LEN, warnings);
            warnings.push(Diagnostic::warning(
                o.arg_span(),
                format!(
                    "the kernel refuses this rule unless the rate estimator `{n}` exists when it is loaded (made by a \
                     `-j RATEEST --rateest-name {n}` rule loaded before it); chainwalk does not check that"
                ),
            ));
            Ok(Some(n.into()))
        };
        let est1 = name(&["rateest1", "rateest"], warnings)?;
        let est2 = name(&["rateest2"], warnings)?;
        let rate = |names: &[&str], pps: bool| -> Result<Option<u32>, Diagnostic> {
            let Some(o) = once(opts, names)? else { return Ok(None) };
            if o.args.is_empty() {
                return Ok(Some(0));
            }
            if pps {
                return crate::values::opt_number(o, 0, u64::from(u32::MAX)).map(|n| Some(n as u32));
            }
            o.parse_arg(parse_rate).map(Some)
        };
        let side = |one: Option<u32>, two: Option<u32>| match (one, two) {
            (None, None) => None,
            (a, b) => Some([a.unwrap_or(0), b.unwrap_or(0)]),
        };
        let bps = side(rate(&["rateest-bps1"], false)?, rate(&["rateest-bps2", "rateest-bps"], false)?);
        let pps = side(rate(&["rateest-pps1"], true)?, rate(&["rateest-pps2", "rateest-pps"], true)?);
        let mut mode = None;
        for name in ["rateest-lt", "rateest-gt", "rateest-eq"] {
            find(opts, name)?;
        }
        let mut negated = false;
        for o in opts.iter().filter(|o| matches!(o.name, "rateest-lt" | "rateest-gt" | "rateest-eq")) {
            mode = Some(match o.name {
                "rateest-lt" => RateestMode::Lt,
                "rateest-gt" => RateestMode::Gt,
                _ => RateestMode::Eq,
            });
            negated |= o.negated;
        }
        // What the kernel's `xt_rateest_mt_checkentry` refuses.
        let est1 = est1.ok_or_else(|| ctx.error("the rateest match needs `--rateest NAME` (the estimator to test)"))?;
        if bps.is_none() && pps.is_none() {
            return Err(ctx.error("the rateest match needs a rate to compare: `--rateest-bps` or `--rateest-pps`"));
        }
        let mode = mode.ok_or_else(|| {
            ctx.error("the rateest match needs a comparison: `--rateest-lt`, `--rateest-gt` or `--rateest-eq`")
        })?;
        Ok(RateestMatch { delta: flag(opts, "rateest-delta")?, est1, est2, bps, pps, mode, negated })
    }

    /// As `rateest_save` prints it: delta first, then the estimator(s) around the rates, each rate with the
    /// comparison before it (between the two rates in delta mode).
    fn save(&self, out: &mut String) {
        if self.delta {
            out.push_str(" --rateest-delta");
        }
        let _ = write!(out, " {} {}", if self.est2.is_some() { "--rateest1" } else { "--rateest" }, self.est1);
        let mode = format!("{} --rateest-{}", if self.negated { " !" } else { "" }, self.mode.name());
        let rates = [("bps", self.bps, false), ("pps", self.pps, true)];
        for (name, values, numeric) in rates {
            let Some([one, two]) = values else { continue };
            let text = |v: u32| if numeric { v.to_string() } else { rate_text(v) };
            if self.delta {
                let _ = write!(out, " --rateest-{name}1 {}{mode} --rateest-{name}2", text(one));
            } else {
                let _ = write!(out, "{mode} --rateest-{name}");
            }
            if self.delta || self.est2.is_none() {
                let _ = write!(out, " {}", text(two));
            }
        }
        if let Some(e) = &self.est2 {
            let _ = write!(out, " --rateest2 {e}");
        }
    }
}

impl Evaluate for RateestMatch {
    /// `xt_rateest_mt` in `xt_rateest.c`: each side is the estimator's rate, or in delta mode how far it is
    /// below the given rate (0 when above), or in absolute mode the given rate; every unit asked for must
    /// compare as the mode says. chainwalk has no traffic history and assumes every estimator measures 0.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let measured = 0u32;
        let side = |given: u32, est: bool| -> u32 {
            match (self.delta, est) {
                (true, _) => given.saturating_sub(measured),
                (false, true) => measured,
                (false, false) => given,
            }
        };
        let mut ok = true;
        let mut facts = Vec::new();
        for (unit, values) in [("bytes/s", self.bps), ("packets/s", self.pps)] {
            let Some([g1, g2]) = values else { continue };
            let (a, b) = (side(g1, true), side(g2, self.est2.is_some()));
            let holds = match self.mode {
                RateestMode::Lt => a < b,
                RateestMode::Gt => a > b,
                RateestMode::Eq => a == b,
            };
            ok &= holds;
            facts.push(format!(
                "{a} {unit} is {}{} {b}",
                if holds { "" } else { "not " },
                match self.mode {
                    RateestMode::Lt => "less than",
                    RateestMode::Gt => "more than",
                    RateestMode::Eq => "equal to",
                }
            ));
        }
        let holds = ok != self.negated;
        Outcome::assumed(
            holds,
            format!(
                "chainwalk keeps no traffic history and assumes the estimators measure 0, so {}; this {}",
                facts.join(" and "),
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
    fn prints_back_as_iptables_save() {
        // What iptables-save 1.8.9 printed, with estimators RE1 and RE2 made by RATEEST rules before.
        for (given, printed) in [
            ("--rateest RE1 --rateest-lt --rateest-bps 8bit", "--rateest RE1 --rateest-lt --rateest-bps 8bit"),
            ("--rateest RE1 --rateest-eq --rateest-pps 5", "--rateest RE1 --rateest-eq --rateest-pps 5"),
            ("--rateest RE1 --rateest-gt --rateest-bps 5kbit", "--rateest RE1 --rateest-gt --rateest-bps 5000bit"),
            (
                "--rateest-delta --rateest RE1 --rateest-bps1 8bit --rateest-lt --rateest-bps2 16bit",
                "--rateest-delta --rateest RE1 --rateest-bps1 8bit --rateest-lt --rateest-bps2 16bit",
            ),
            ("--rateest1 RE1 --rateest-lt --rateest-bps --rateest2 RE2", "--rateest1 RE1 --rateest-lt --rateest-bps --rateest2 RE2"),
            (
                "--rateest-delta --rateest1 RE1 --rateest-pps1 0 --rateest-lt --rateest-pps2 42 --rateest2 RE2",
                "--rateest-delta --rateest1 RE1 --rateest-pps1 0 --rateest-lt --rateest-pps2 42 --rateest2 RE2",
            ),
            ("--rateest RE1 --rateest-bps1 0 --rateest-gt", "--rateest RE1 --rateest-gt --rateest-bps 0bit"),
            ("--rateest RE1 ! --rateest-gt --rateest-bps 1mbit", "--rateest RE1 ! --rateest-gt --rateest-bps 1000Kbit"),
            ("--rateest RE1 --rateest-gt --rateest-bps 2000000000", "--rateest RE1 --rateest-gt --rateest-bps 2000Mbit"),
            ("--rateest RE1 --rateest-gt --rateest-bps 1.5Kibit", "--rateest RE1 --rateest-gt --rateest-bps 1536bit"),
            ("--rateest RE1 --rateest-gt --rateest-bps 1GBps", "--rateest RE1 --rateest-gt --rateest-bps 8000Mbit"),
            (
                "--rateest RE1 --rateest-gt --rateest-bps 8bit --rateest-pps 3",
                "--rateest RE1 --rateest-gt --rateest-bps 8bit --rateest-gt --rateest-pps 3",
            ),
            ("--rateest RE1 --rateest-gt --rateest-bps", "--rateest RE1 --rateest-gt --rateest-bps 0bit"),
            ("--rateest RE1 --rateest-gt --rateest-lt --rateest-bps 8", "--rateest RE1 --rateest-lt --rateest-bps 8bit"),
            ("--rateest1 RE1 --rateest-lt --rateest-pps --rateest2 RE2", "--rateest1 RE1 --rateest-lt --rateest-pps --rateest2 RE2"),
            (
                "--rateest-delta --rateest1 RE1 --rateest-bps1 1kbit --rateest-gt --rateest-bps2 2kbit --rateest2 RE2",
                "--rateest-delta --rateest1 RE1 --rateest-bps1 1000bit --rateest-gt --rateest-bps2 2000bit --rateest2 RE2",
            ),
        ] {
            let rule = format!("-A INPUT -m rateest {given}");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m rateest {printed}"), "{given}");
        }
        assert_eq!(
            saved(Ipv6, "filter", "-A INPUT -m rateest --rateest RE1 --rateest-eq --rateest-pps 5 -j ACCEPT"),
            "-A INPUT -m rateest --rateest RE1 --rateest-eq --rateest-pps 5 -j ACCEPT"
        );
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("8"), Ok(1));
        assert_eq!(parse_rate("1e3kbit"), Ok(125_000));
        assert!(parse_rate("x").is_err());
        assert!(parse_rate("5furlongs").is_err());
        assert_eq!(rate_text(125_062_500), "1000Mbit");
        assert_eq!(strtod_prefix(" -1.5e2x"), Some((-150.0, "x")));
        assert_eq!(strtod_prefix(".5"), Some((0.5, "")));
        assert_eq!(strtod_prefix("."), None);
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m rateest {o}"));
        assert_eq!(
            e("--rateest RE1 --rateest-gt"),
            (10, "the rateest match needs a rate to compare: `--rateest-bps` or `--rateest-pps`".into())
        );
        assert_eq!(
            e("--rateest RE1 --rateest-bps 8bit"),
            (10, "the rateest match needs a comparison: `--rateest-lt`, `--rateest-gt` or `--rateest-eq`".into())
        );
        assert_eq!(
            e("--rateest-gt --rateest-bps 8"),
            (10, "the rateest match needs `--rateest NAME` (the estimator to test)".into())
        );
        assert_eq!(
            e("--rateest RE1 --rateest-gt --rateest-bps x"),
            (62, "`x` is not a rate (a number of bits per second, with a unit like `kbit` or `MBps`)".into())
        );
        assert_eq!(e("! --rateest RE1 --rateest-gt --rateest-bps 8").1, "`--rateest` cannot be negated with `!`");
        assert_eq!(
            e("--rateest RE1 --rateest-gt --rateest-pps 5 --rateest-pps 6").1,
            "`--rateest-pps2` is given more than once"
        );
        assert_eq!(
            e("--rateest RE1 --rateest-gt --rateest-gt --rateest-pps 5").1,
            "`--rateest-gt` is given more than once"
        );
        assert_eq!(
            e("--rateest RE1 --rateest1 RE2 --rateest-gt --rateest-pps 5").1,
            "`--rateest1` is given more than once"
        );
    }

    #[test]
    fn estimators_are_assumed_idle() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        let eval = |o: &str| match first_match(Ipv4, &format!("-m rateest {o}")) {
            MatchKind::Rateest(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let o = eval("--rateest RE1 --rateest-lt --rateest-bps 8bit");
        assert!(o.holds && o.assumed);
        assert_eq!(o.why, "chainwalk keeps no traffic history and assumes the estimators measure 0, so 0 bytes/s is less than 1; this holds");
        assert!(!eval("--rateest RE1 --rateest-gt --rateest-pps 5").holds);
        assert!(eval("--rateest RE1 ! --rateest-gt --rateest-pps 5").holds);
        assert!(eval("--rateest1 RE1 --rateest-eq --rateest-pps --rateest2 RE2").holds);
        assert!(eval("--rateest-delta --rateest RE1 --rateest-bps1 16bit --rateest-gt --rateest-bps2 8bit").holds);
    }
}
