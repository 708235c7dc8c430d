//! `-m statistic`: match a random share of packets, or every Nth packet (`libxt_statistic`, the kernel's
//! `xt_statistic.c`). The answer depends on chance or on a counter shared by all packets, so a packet walk
//! states an assumption about it; this module stores the settings as the kernel does.

use crate::decimal::fixed;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::values::opt_number;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The kernel's unit for `--probability`: a probability p is stored as round(p * 2^31).
pub const PROBABILITY_ONE: f64 = 2_147_483_648.0;

/// The options of `-m statistic`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statistic {
    /// Random or every Nth.
    pub mode: StatisticMode,
    /// `! --probability` or `! --every`: match the packets the mode would not.
    pub invert: bool,
}

/// How `-m statistic` picks packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StatisticMode {
    /// `--mode random --probability P`: each packet matches with probability `probability / 2^31`.
    Random {
        /// The probability in units of 1/2^31, as the kernel compares it with a random 31-bit number.
        probability: u32,
    },
    /// `--mode nth --every N --packet P`: a counter runs from P up to N - 1 and back to 0; a packet
    /// matches when it wraps.
    Nth {
        /// N, the period.
        every: u32,
        /// P, where the counter starts.
        packet: u32,
    },
}

impl StatisticMode {
    /// The probability a packet matches, from 0 to 1 (for nth mode, 1/N).
    pub fn share(&self) -> f64 {
        match *self {
            StatisticMode::Random { probability } => f64::from(probability) / PROBABILITY_ONE,
            StatisticMode::Nth { every, .. } => 1.0 / f64::from(every),
        }
    }
}

/// Reads a probability the way `strtod` reads it in full (leading blanks and a sign allowed), from 0 to
/// 1. A NaN passes iptables' range check and is stored as 0 (`lround` of it is the lowest `long`).
fn probability(text: &str) -> Result<u32, String> {
    let t = text.trim_start_matches(crate::values::C_SPACE);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    let nan = t.get(..3).is_some_and(|n| n.eq_ignore_ascii_case("nan"))
        && (t.len() == 3
            || t[3..].starts_with('(')
                && t.ends_with(')')
                && t[4..t.len() - 1].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if nan {
        return Ok(0);
    }
    let value = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => hex_float(hex),
        None if t.starts_with(['+', '-']) => None,
        None => crate::decimal::parse(t),
    };
    let value = value.map(|v| if negative { -v } else { v });
    match value {
        Some(p) if (0.0..=1.0).contains(&p) => Ok((p * PROBABILITY_ONE).round() as u32),
        _ => Err(format!("`--probability` takes a number from 0 to 1, not `{text}`")),
    }
}

/// A C99 hexadecimal floating constant without its `0x`: `H[.H][pN]`.
fn hex_float(text: &str) -> Option<f64> {
    let (mantissa, exp) = match text.split_once(['p', 'P']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

impl Extension for Statistic {
    const OPTIONS: &'static [OptSpec] =
        &[opt("mode", Args::One), opt("probability", Args::One), opt("every", Args::One), opt("packet", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Statistic, Diagnostic> {
        let mode = find(opts, "mode")?;
        let prob = find(opts, "probability")?;
        let every = find(opts, "every")?;
        let packet = find(opts, "packet")?;
        for o in [mode, packet].into_iter().flatten() {
            o.no_negation()?;
        }
        let nth = match mode {
            Some(o) => match o.arg() {
                "random" => false,
                "nth" => true,
                other => return Err(o.bad_arg(format!("`{other}` is not a statistic mode (random or nth)"))),
            },
            None => false,
        };
        let probability = match prob {
            Some(o) => Some(o.parse_arg(probability)?),
            None => None,
        };
        let every_n = match every {
            Some(o) => Some(opt_number(o, 1, u64::from(u32::MAX))? as u32),
            None => None,
        };
        let packet_p = match packet {
            Some(o) => Some(opt_number(o, 0, u64::from(u32::MAX))? as u32),
            None => None,
        };
        // The checks of `statistic_check`, then those of the option table, in iptables' order.
        if !nth && probability.is_none() {
            return Err(ctx.error("random mode needs `--probability P`"));
        }
        if nth && every_n.is_none() && packet_p.is_none() {
            return Err(ctx.error("nth mode needs `--every N` and `--packet P`"));
        }
        if let (true, Some(p), Some(o)) = (nth, packet_p, packet) {
            let last = every_n.map_or(0, |n| n - 1);
            if p > last {
                return Err(o.bad_arg(format!("`--packet` must be from 0 to {last}, one less than `--every`")));
            }
        }
        if mode.is_none() {
            return Err(ctx.error("the statistic match needs `--mode random` or `--mode nth`"));
        }
        if let (Some(_), Some(other)) = (prob, every.or(packet)) {
            return Err(Diagnostic::error(
                other.span,
                format!("`--{}` cannot be used together with `--probability`", other.name),
            ));
        }
        let mode = match (probability, every_n, packet_p) {
            (Some(probability), _, _) => StatisticMode::Random { probability },
            (None, Some(every), Some(packet)) => StatisticMode::Nth { every, packet },
            (None, Some(_), None) => return Err(ctx.error("`--every` also needs `--packet`")),
            (None, None, _) => return Err(ctx.error("`--packet` also needs `--every`")),
        };
        let invert = prob.or(every).is_some_and(|o| o.negated);
        Ok(Statistic { mode, invert })
    }

    /// `statistic_save`: the mode, then `--probability` with 11 decimals or `--every` and `--packet`.
    fn save(&self, out: &mut String) {
        match self.mode {
            StatisticMode::Random { probability } => {
                out.push_str(" --mode random");
                save_opt(out, self.invert, "probability");
                out.push(' ');
                out.push_str(&fixed(f64::from(probability) / PROBABILITY_ONE, 11));
            }
            StatisticMode::Nth { every, packet } => {
                out.push_str(" --mode nth");
                save_opt(out, self.invert, "every");
                let _ = write!(out, " {every} --packet {packet}");
            }
        }
    }
}

impl Statistic {
    /// For an nth match that already ran `runs` times in this walk (a user chain the packet enters again),
    /// what it says now: `xt_statistic`'s counter has gone on, and the k-th run (from 0) picks the packet
    /// when k is `--packet` modulo `--every` (recorded). `None` on the first run, or in random mode.
    pub(crate) fn nth_again(&self, runs: u32) -> Option<Outcome> {
        let StatisticMode::Nth { every, packet } = self.mode else { return None };
        if runs == 0 {
            return None;
        }
        let picked = runs % every.max(1) == packet;
        let neg = if self.invert { "! " } else { "" };
        let fact = format!(
            "statistic {neg}--every {every} --packet {packet} already ran {runs} time{} in this walk (a chain the \
             packet entered again), so its counter is at {runs} (taking its first run as number 0), which {} the \
             one --packet {packet} picks",
            if runs == 1 { "" } else { "s" },
            if picked { "is" } else { "is not" }
        );
        let o = conclude(picked, self.invert, fact);
        Some(Outcome::assumed(o.holds, o.why))
    }
}

impl Evaluate for Statistic {
    /// `statistic_mt` in `xt_statistic.c`. Random mode compares a random 31-bit number with the probability:
    /// 1 always matches and 0 never does; anything between is chance, and chainwalk assumes the rule is not
    /// taken, `!` or not, so a walk falls through a kube-proxy style spread (`--probability 1/n, 1/(n-1), ...`)
    /// to its last rule, which has no statistic match. Nth mode counts packets from `--packet`; chainwalk
    /// assumes this is the counter's first packet, which matches when `--packet` is 0.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let neg = if self.invert { "! " } else { "" };
        match self.mode {
            StatisticMode::Random { probability } => {
                let p = format!("{neg}--probability {}", fixed(f64::from(probability) / PROBABILITY_ONE, 11));
                if f64::from(probability) >= PROBABILITY_ONE {
                    return conclude(true, self.invert, "statistic --probability 1 matches every packet".into());
                }
                if probability == 0 {
                    return conclude(false, self.invert, "statistic --probability 0 matches no packet".into());
                }
                Outcome::assumed(
                    false,
                    format!(
                        "statistic {p} takes a packet by chance, and chainwalk assumes this one is not taken (set it \
                         by hand to take this branch), so the walk goes on to the next rule, as a kube-proxy \
                         spread goes on to its last endpoint, which has no statistic match"
                    ),
                )
            }
            StatisticMode::Nth { every: 1, .. } => {
                conclude(true, self.invert, "statistic --every 1 picks every packet".into())
            }
            StatisticMode::Nth { every, packet } => {
                let fact = format!(
                    "statistic {neg}--every {every} --packet {packet} counts packets, and chainwalk assumes this is \
                     the counter's first packet (number 0), which {} the one --packet {packet} picks (set it by hand \
                     for a later packet)",
                    if packet == 0 { "is" } else { "is not" }
                );
                let o = conclude(packet == 0, self.invert, fact);
                Outcome::assumed(o.holds, o.why)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// `-m statistic OPTIONS` printed back, without the `-A INPUT -m statistic` before it.
    fn saved(options: &str) -> String {
        let line = format!("-A INPUT -m statistic {options} -j ACCEPT");
        let p = parsed(&line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m statistic ").trim_end_matches(" -j ACCEPT").to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m statistic {options} -j ACCEPT");
        let p = parsed(&line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // Options and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            ("--mode random --probability 0.33333333349", "--mode random --probability 0.33333333349"),
            ("--mode random --probability 0.5", "--mode random --probability 0.50000000000"),
            ("--mode random --probability +0x1", "--mode random --probability 1.00000000000"),
            ("--mode random --probability nan", "--mode random --probability 0.00000000000"),
            ("--mode random --probability 1", "--mode random --probability 1.00000000000"),
            ("--mode random --probability 0", "--mode random --probability 0.00000000000"),
            ("--mode random --probability 0.1", "--mode random --probability 0.10000000009"),
            ("--mode random --probability 0.01", "--mode random --probability 0.00999999978"),
            ("--mode random --probability 0.999", "--mode random --probability 0.99899999984"),
            ("--mode random --probability .5", "--mode random --probability 0.50000000000"),
            ("--mode random --probability 1e-1", "--mode random --probability 0.10000000009"),
            ("--mode random --probability 0x1p-1", "--mode random --probability 0.50000000000"),
            ("--mode random --probability \" 0.5\"", "--mode random --probability 0.50000000000"),
            // Ties at the 11th decimal round to even, as glibc's printf does.
            ("--mode random --probability 0.000244140625", "--mode random --probability 0.00024414062"),
            ("--mode random --probability 0.000732421875", "--mode random --probability 0.00073242188"),
            ("--mode random --probability 0.9999999999", "--mode random --probability 1.00000000000"),
            ("--mode random --probability 0.0000000001", "--mode random --probability 0.00000000000"),
            ("--probability 0.5 --mode random", "--mode random --probability 0.50000000000"),
            ("--mode random ! --probability 0.5", "--mode random ! --probability 0.50000000000"),
            ("--mode nth --every 3 --packet 0", "--mode nth --every 3 --packet 0"),
            ("--mode nth --packet 2 --every 3", "--mode nth --every 3 --packet 2"),
            ("--mode nth ! --every 2 --packet 1", "--mode nth ! --every 2 --packet 1"),
            ("--mode nth --every 1 --packet 0", "--mode nth --every 1 --packet 0"),
            ("--mode nth --every 4294967295 --packet 4294967294", "--mode nth --every 4294967295 --packet 4294967294"),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn stores_what_the_kernel_compares() {
        let p = parsed("-A INPUT -m statistic --mode random --probability 0.1");
        let m = &p.ruleset.tables[0].chain("INPUT").unwrap().rules[0].matches[0].kind;
        let crate::matches::MatchKind::Statistic(s) = m else { panic!("{m:?}") };
        assert_eq!(s.mode, StatisticMode::Random { probability: 214_748_365 });
        assert!((s.mode.share() - 0.1).abs() < 1e-9);
    }

    #[test]
    fn errors() {
        let range = "`--probability` takes a number from 0 to 1";
        for bad in ["1.5", "-0.1", "0.5x", "inf", "+-0.5"] {
            let (col, msg) = error(&format!("--mode random --probability {bad}"));
            assert_eq!((col, msg), (51, format!("{range}, not `{bad}`")));
        }
        assert_eq!(error("--mode random"), (10, "random mode needs `--probability P`".into()));
        assert_eq!(error(""), (10, "random mode needs `--probability P`".into()));
        assert_eq!(error("--mode random --every 3").1, "random mode needs `--probability P`");
        assert_eq!(error("--probability 0.5").1, "the statistic match needs `--mode random` or `--mode nth`");
        assert_eq!(error("--mode nth --every 3").1, "`--every` also needs `--packet`");
        assert_eq!(error("--mode nth --packet 0").1, "`--packet` also needs `--every`");
        assert_eq!(error("--mode nth").1, "nth mode needs `--every N` and `--packet P`");
        assert_eq!(
            error("--mode nth --every 3 --packet 3"),
            (53, "`--packet` must be from 0 to 2, one less than `--every`".into())
        );
        assert_eq!(error("--mode nth --every 0 --packet 0").0, 42);
        assert_eq!(
            error("--mode nth --every 3 --packet 1 --probability 0.5"),
            (34, "`--every` cannot be used together with `--probability`".into())
        );
        assert_eq!(
            error("--mode random --probability 0.5 --packet 1").1,
            "`--packet` cannot be used together with `--probability`"
        );
        assert_eq!(error("--mode bogus"), (30, "`bogus` is not a statistic mode (random or nth)".into()));
        assert_eq!(error("--mode NTH --every 2 --packet 0").0, 30);
        assert_eq!(error("--mode nth --every 3 --packet 1 --mode random").0, 55);
        assert_eq!(error("--mode nth --every 3 ! --packet 1").1, "`--packet` cannot be negated with `!`");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(options: &str) -> Outcome {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 10.96.0.10:443 in eth0 syn");
            match first_match(Family::Ipv4, &format!("-m statistic {options}")) {
                MatchKind::Statistic(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn chance_is_assumed_not_taken() {
            let o = eval("--mode random --probability 0.33333333349");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "statistic --probability 0.33333333349 takes a packet by chance, and chainwalk assumes this one is not \
                 taken (set it by hand to take this branch), so the walk goes on to the next rule, as a kube-proxy \
                 spread goes on to its last endpoint, which has no statistic match"
            );
            let o = eval("--mode random ! --probability 0.5");
            assert!(!o.holds && o.assumed, "not taken, `!` or not");
            assert!(o.why.starts_with("statistic ! --probability 0.50000000000 takes a packet by chance"));
        }

        #[test]
        fn certain_and_impossible() {
            let o = eval("--mode random --probability 1");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "statistic --probability 1 matches every packet, so this holds");
            let o = eval("--mode random ! --probability 1");
            assert!(!o.holds && !o.assumed);
            let o = eval("--mode random --probability 0");
            assert!(!o.holds && !o.assumed);
            assert_eq!(o.why, "statistic --probability 0 matches no packet, so this does not hold");
        }

        #[test]
        fn nth_assumes_the_first_packet() {
            let o = eval("--mode nth --every 2 --packet 0");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "statistic --every 2 --packet 0 counts packets, and chainwalk assumes this is the counter's first \
                 packet (number 0), which is the one --packet 0 picks (set it by hand for a later packet), so this \
                 holds"
            );
            let o = eval("--mode nth --every 3 --packet 1");
            assert!(!o.holds && o.assumed);
            assert!(o.why.contains("which is not the one --packet 1 picks"));
            assert!(eval("--mode nth ! --every 3 --packet 1").holds);
            let o = eval("--mode nth --every 1 --packet 0");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "statistic --every 1 picks every packet, so this holds");
        }
    }
}
