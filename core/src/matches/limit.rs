//! `-m limit`: a token bucket shared by every packet that reaches the rule (`libxt_limit`, the kernel's
//! `xt_limit.c`). Whether a packet matches depends on the packets before it, so a packet walk states an
//! assumption about it; this module stores the bucket's settings as the kernel does.
//!
//! The rate reading and printing here is shared with `-m hashlimit`, which uses a finer scale.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::values::opt_number;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The kernel's unit for `--limit`: periods are stored in 1/10000 s (`XT_LIMIT_SCALE`).
pub const LIMIT_SCALE: u64 = 10_000;

/// The burst when `--limit-burst` is not given (`XT_LIMIT_BURST`).
pub const DEFAULT_BURST: u32 = 5;

/// The largest `--limit-burst` `iptables` takes.
pub const MAX_BURST: u64 = 10_000;

/// The rate when `--limit` is not given: 3/hour.
pub const DEFAULT_AVG: u32 = (LIMIT_SCALE * 3600 / 3) as u32;

/// The options of `-m limit`: at most one packet every `avg` on average, with bursts of up to `burst`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// The average time between matching packets, in 1/10000 s (`--limit 5/sec` is 2000).
    pub avg: u32,
    /// How many packets may match in a row before the rate applies (`--limit-burst`).
    pub burst: u32,
}

/// The units a rate may be given in, their length in seconds, and the names `iptables-save` prints.
const UNITS: [(&str, &str, u64); 4] =
    [("day", "day", 86_400), ("hour", "hour", 3_600), ("minute", "min", 60), ("second", "sec", 1)];

/// A rate as read from `N[/UNIT]`: the period in 1/`scale` s, and the length of the unit written, in
/// seconds (hashlimit derives a default from it).
pub(crate) struct ParsedRate {
    pub period: u64,
    pub unit_seconds: u64,
}

/// What is wrong with a rate.
pub(crate) enum RateError {
    /// Not `N[/second|minute|hour|day]` with N > 0 (`bad rate`).
    Bad,
    /// So fast that the period is 0 in the kernel's unit (`Rate too fast`).
    TooFast,
}

/// C's `atoll`: optional blanks and sign, then decimal digits; whatever follows is ignored.
pub(crate) fn atoll(text: &str) -> i64 {
    let t = text.trim_start_matches(crate::values::C_SPACE);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for d in digits.bytes().take_while(u8::is_ascii_digit) {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    if negative {
        -v
    } else {
        v
    }
}

/// Reads `N[/UNIT]` as `parse_rate` of `libxt_limit` and `libxt_hashlimit` do: the unit is any
/// case-insensitive prefix of `second`, `minute`, `hour` or `day` (seconds when absent); N is read with
/// `atoi` (32 bits, for `-m limit`) or `atoll` (64 bits, for hashlimit) and must not be 0.
pub(crate) fn parse_rate(text: &str, scale: u64, wide: bool) -> Result<ParsedRate, RateError> {
    let unit_seconds = match text.split_once('/') {
        None => 1,
        Some((_, unit)) => {
            if unit.is_empty() {
                return Err(RateError::Bad);
            }
            let order = [("second", 1), ("minute", 60), ("hour", 3_600), ("day", 86_400)];
            order
                .iter()
                .find(|(word, _)| unit.len() <= word.len() && word[..unit.len()].eq_ignore_ascii_case(unit))
                .map(|&(_, s)| s)
                .ok_or(RateError::Bad)?
        }
    };
    let n = atoll(text);
    let r = if wide { n as u64 } else { u64::from(n as i32 as u32) };
    if r == 0 {
        return Err(RateError::Bad);
    }
    let period = scale * unit_seconds / r;
    if period == 0 {
        return Err(RateError::TooFast);
    }
    Ok(ParsedRate { period, unit_seconds })
}

/// How `print_rate` shows a period of 1/`scale` s: the count per unit and the unit's name and length in
/// seconds, choosing the largest unit that still shows the rate well.
pub(crate) fn rate_parts(period: u64, scale: u64) -> (u64, &'static str, u64) {
    let mult = |i: usize| UNITS[i].2 * scale;
    let mut chosen = UNITS.len() - 1;
    for i in 1..UNITS.len() {
        if period > mult(i) || mult(i) / period < mult(i) % period {
            chosen = i - 1;
            break;
        }
    }
    (mult(chosen) / period.max(1), UNITS[chosen].1, UNITS[chosen].2)
}

/// Appends ` N/UNIT` for a period, as `iptables-save` prints a rate.
pub(crate) fn push_rate(out: &mut String, period: u64, scale: u64) {
    let (count, unit, _) = rate_parts(period, scale);
    let _ = write!(out, " {count}/{unit}");
}

/// `user2credits` of `xt_limit.c` for HZ 250 or 1000 (both give `HZ * CREDITS_PER_JIFFY` = 32000), in the
/// kernel's 32-bit arithmetic.
fn user2credits(user: u32) -> u32 {
    const HZ_CPJ: u32 = 32_000;
    if user > u32::MAX / HZ_CPJ {
        (user / LIMIT_SCALE as u32).wrapping_mul(HZ_CPJ)
    } else {
        user * HZ_CPJ / LIMIT_SCALE as u32
    }
}

impl Limit {
    /// Whether the kernel's `limit_mt_check` takes the settings: a burst of at least 1, and `avg * burst`
    /// that does not overflow its 32-bit credit counter.
    fn kernel_accepts(&self) -> bool {
        self.burst != 0 && user2credits(self.avg.wrapping_mul(self.burst)) >= user2credits(self.avg)
    }
}

impl Extension for Limit {
    const OPTIONS: &'static [OptSpec] = &[opt("limit", Args::One), opt("limit-burst", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Limit, Diagnostic> {
        let mut m = Limit { avg: DEFAULT_AVG, burst: DEFAULT_BURST };
        for o in opts {
            o.no_negation()?;
        }
        if let Some(o) = find(opts, "limit")? {
            let rate = o.parse_arg(|t| {
                parse_rate(t, LIMIT_SCALE, false).map_err(|e| match e {
                    RateError::Bad => format!("`{t}` is not a rate; write N/second, N/minute, N/hour or N/day"),
                    RateError::TooFast => {
                        format!("rate `{t}` is too fast: the limit match counts at most 10000/second")
                    }
                })
            })?;
            m.avg = rate.period as u32;
        }
        if let Some(o) = find(opts, "limit-burst")? {
            m.burst = opt_number(o, 0, MAX_BURST)? as u32;
        }
        if !m.kernel_accepts() {
            let at = find(opts, "limit-burst")?.or(find(opts, "limit")?).map(|o| o.span).unwrap_or(ctx.span);
            let mut rate = String::new();
            push_rate(&mut rate, u64::from(m.avg), LIMIT_SCALE);
            return Err(Diagnostic::error(
                at,
                format!(
                    "the kernel refuses a limit of{rate} with a burst of {}: its credit counter would overflow",
                    m.burst
                ),
            )
            .with_hint("use a faster rate or a smaller (non-zero) burst"));
        }
        Ok(m)
    }

    /// `limit_save`: the rate always, the burst only when it is not the default 5.
    fn save(&self, out: &mut String) {
        out.push_str(" --limit");
        push_rate(out, u64::from(self.avg), LIMIT_SCALE);
        if self.burst != DEFAULT_BURST {
            let _ = write!(out, " --limit-burst {}", self.burst);
        }
    }
}

impl Limit {
    /// For a limit that already let the packet through `runs` times in this walk (a user chain entered
    /// again, microseconds later), what it says now: the bucket holds `--limit-burst` credits and does not
    /// refill in that time, so the run after the burst is over the limit (recorded). `None` while credits
    /// are left.
    pub(crate) fn again(&self, runs: u32) -> Option<Outcome> {
        (runs >= self.burst).then(|| {
            Outcome::assumed(
                false,
                format!(
                    "this limit already let the packet through {runs} time{} in this walk (a chain it entered \
                     again), which spent its burst of {}, so this does not hold",
                    if runs == 1 { "" } else { "s" },
                    self.burst
                ),
            )
        })
    }
}

impl Evaluate for Limit {
    /// `limit_mt` in `xt_limit.c` takes a credit per packet from a bucket that refills at the rate; it depends
    /// on the packets before this one, which chainwalk does not have, so the packet is assumed within the limit
    /// (as the first `burst` packets are).
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let mut rule = String::new();
        self.save(&mut rule);
        Outcome::assumed(
            true,
            format!(
                "chainwalk keeps no packet counts and assumes the packet is within `{}`, as the first packets are \
                 (set it by hand to see one over the limit), so this holds",
                rule.trim_start()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A INPUT");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 2) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // Options and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            ("--limit 5/min", "--limit 5/min"),
            ("--limit 5/minute", "--limit 5/min"),
            ("--limit 5/m", "--limit 5/min"),
            ("--limit 5/MIN", "--limit 5/min"),
            ("--limit 3/s", "--limit 3/sec"),
            ("--limit 3/se", "--limit 3/sec"),
            ("--limit 3/second", "--limit 3/sec"),
            ("--limit 2/h", "--limit 2/hour"),
            ("--limit 100/day", "--limit 100/day"),
            ("--limit 7/day", "--limit 7/day"),
            ("--limit 5", "--limit 5/sec"),
            ("--limit 5x/s", "--limit 5/sec"),
            ("--limit 1.5/s", "--limit 1/sec"),
            ("--limit 60/min", "--limit 1/sec"),
            ("--limit 3600/hour", "--limit 1/sec"),
            ("--limit 3000/min", "--limit 50/sec"),
            ("--limit 333/hour", "--limit 333/hour"),
            ("--limit 13/min", "--limit 13/min"),
            ("--limit 9999/sec", "--limit 10000/sec"),
            ("--limit 10000/s", "--limit 10000/sec"),
            ("", "--limit 3/hour"),
            ("--limit-burst 5", "--limit 3/hour"),
            ("--limit 3/hour --limit-burst 5", "--limit 3/hour"),
            ("--limit-burst 0x10", "--limit 3/hour --limit-burst 16"),
            ("--limit-burst 10 --limit 5/min", "--limit 5/min --limit-burst 10"),
            ("--limit 1/day --limit-burst 1", "--limit 1/day --limit-burst 1"),
            ("--limit 50/day --limit-burst 100", "--limit 50/day --limit-burst 100"),
            ("--limit 1/s --limit-burst 10000", "--limit 1/sec --limit-burst 10000"),
        ] {
            let line = format!("-A INPUT -m limit {input} -j ACCEPT").replace("  ", " ");
            assert_eq!(saved(&line), format!("-A INPUT -m limit {out} -j ACCEPT"), "{input}");
        }
        assert_eq!(
            saved("-A INPUT -m limit --limit 5/min -m limit --limit 10/s"),
            "-A INPUT -m limit --limit 5/min -m limit --limit 10/sec"
        );
    }

    #[test]
    fn errors() {
        let bad = "is not a rate; write N/second, N/minute, N/hour or N/day";
        for rate in ["0/s", "5/week", "abc", "3/", "/s", "3/hours", "4294967296/s"] {
            let (col, msg) = error(&format!("-A INPUT -m limit --limit {rate} -j ACCEPT"));
            assert_eq!((col, msg), (27, format!("`{rate}` {bad}")));
        }
        assert_eq!(
            error("-A INPUT -m limit --limit 20000/s"),
            (27, "rate `20000/s` is too fast: the limit match counts at most 10000/second".into())
        );
        assert!(error("-A INPUT -m limit --limit -5/s").1.contains("too fast"));
        assert_eq!(error("-A INPUT -m limit ! --limit 5/s").1, "`--limit` cannot be negated with `!`");
        assert_eq!(error("-A INPUT -m limit --limit-burst 10001").0, 33);
        assert_eq!(error("-A INPUT -m limit --limit 5/s --limit 6/s").0, 31);
        // The kernel's overflow check (the line fails at COMMIT in iptables-restore).
        assert_eq!(
            error("-A INPUT -m limit --limit 1/d -j ACCEPT"),
            (19, "the kernel refuses a limit of 1/day with a burst of 5: its credit counter would overflow".into())
        );
        assert_eq!(error("-A INPUT -m limit --limit-burst 10000").0, 19);
        assert_eq!(error("-A INPUT -m limit --limit 1/s --limit-burst 0").0, 31);
        assert_eq!(error("-A INPUT --limit 5/min").1, "unknown option `--limit`");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::Evaluate;

        #[test]
        fn assumed_within_the_limit() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let MatchKind::Limit(m) = first_match(Family::Ipv4, "-m limit --limit 1/min --limit-burst 1") else {
                panic!("not a limit match");
            };
            let o = m.eval(&s.ctx());
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk keeps no packet counts and assumes the packet is within `--limit 1/min --limit-burst 1`, \
                 as the first packets are (set it by hand to see one over the limit), so this holds"
            );
        }
    }
}
