//! `-j RATEEST`: feeds the packet into a named rate estimator, which measures bytes and packets per second
//! for `-m rateest` to compare (`libxt_RATEEST`, the kernel's `xt_RATEEST.c`). The packet goes on.

use super::common::refuse_negation;
use crate::decimal::fixed;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::matches::rateest::strtod_prefix;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The options of `-j RATEEST`, as the kernel holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rateest {
    /// `--rateest-name`: the estimator.
    pub name: Box<str>,
    /// The measuring interval as a power of two of seconds, from -2 (250 ms) to 3 (8 s), chosen from
    /// `--rateest-interval` as the shortest of these at least as long as asked.
    pub interval: i8,
    /// The averaging constant's logarithm (1 to 30), chosen from `--rateest-ewmalog`.
    pub ewma_log: u8,
}

/// Microseconds per second, the unit `libxt_RATEEST` computes in.
const US: f64 = 1_000_000.0;

/// Reads a time as `RATEEST_get_time` does: a number with `s`, `ms`, `us` (or `sec(s)`, `msec(s)`,
/// `usec(s)`, any case), or microseconds without a unit; the result in whole microseconds.
fn parse_time(text: &str) -> Option<u32> {
    let (t, unit) = strtod_prefix(text)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" => 1.0,
        "s" | "sec" | "secs" => US,
        "ms" | "msec" | "msecs" => US / 1000.0,
        "us" | "usec" | "usecs" => 1.0,
        _ => return None,
    };
    // The C code converts the double to `unsigned int` through a 64-bit integer, so a time over 2^32 µs
    // wraps (10000s is read as 1410 s) and a negative one becomes huge.
    Some((t * scale) as i64 as u32)
}

/// A time in microseconds as `RATEEST_print_time` prints it: `N.Ns` from a second, `N.Nms` from a
/// millisecond, else `Nus`.
fn time_text(us: u32) -> String {
    let t = f64::from(us);
    if t >= US {
        format!("{}s", fixed(t / US, 1))
    } else if t >= US / 1000.0 {
        format!("{}ms", fixed(t / 1000.0, 1))
    } else {
        format!("{us}us")
    }
}

impl Rateest {
    /// The interval in microseconds, as the kernel uses it (and `iptables-save` prints it).
    pub fn interval_us(&self) -> u32 {
        (1_000_000u32 << (self.interval + 2)) / 4
    }

    /// The averaging time constant in microseconds (the interval times 2 to the `ewma_log`), wrapping as
    /// the 32-bit C code does.
    pub fn ewma_us(&self) -> u32 {
        self.interval_us().wrapping_mul(1u32.wrapping_shl(u32::from(self.ewma_log)))
    }
}

fn time_opt(o: Option<&Opt<'_>>) -> Result<u32, Diagnostic> {
    let Some(o) = o else { return Ok(0) };
    parse_time(o.arg()).ok_or_else(|| o.bad_arg(format!("`{}` is not a time (like `250ms` or `1s`)", o.arg())))
}

impl Extension for Rateest {
    const OPTIONS: &'static [OptSpec] =
        &[opt("rateest-name", Args::One), opt("rateest-interval", Args::One), opt("rateest-ewmalog", Args::One)];

    /// Turns the times into the kernel's exponents as `RATEEST_final_check` does.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Rateest, Diagnostic> {
        refuse_negation(opts)?;
        let n = find(opts, "rateest-name")?.ok_or_else(|| ctx.error("RATEEST needs `--rateest-name NAME`"))?;
        let name = crate::matches::nfacct::cut_to(n, n.arg(), crate::matches::rateest::MAX_NAME_LEN, warnings);
        let interval_opt = find(opts, "rateest-interval")?;
        let ewma_opt = find(opts, "rateest-ewmalog")?;
        let interval = time_opt(interval_opt)?;
        let ewma = time_opt(ewma_opt)?;
        let at = |o: Option<&Opt<'_>>, m: String| match o {
            Some(o) => o.bad_arg(m),
            None => ctx.error(m),
        };
        let Some(exp) = (0..=5u32).find(|&e| u64::from(interval) <= (1u64 << e) * 250_000) else {
            return Err(at(interval_opt, "the rate estimator's interval can be at most 8 seconds".into()));
        };
        let mut log = 1u32;
        while log < 32 {
            let w = 1.0 - 1.0 / f64::from(1u32 << log);
            if f64::from(interval) / -w.ln() > f64::from(ewma) {
                break;
            }
            log += 1;
        }
        let log = log - 1;
        if log == 0 || log >= 31 {
            return Err(at(
                ewma_opt,
                "the averaging time (`--rateest-ewmalog`) must be more than the interval and not more than 2^30 intervals".into(),
            ));
        }
        Ok(Rateest { name: name.into(), interval: exp as i8 - 2, ewma_log: log as u8 })
    }

    fn save(&self, out: &mut String) {
        let _ = write!(
            out,
            " --rateest-name {} --rateest-interval {} --rateest-ewmalog {}",
            self.name,
            time_text(self.interval_us()),
            time_text(self.ewma_us())
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            (
                "--rateest-name x --rateest-interval 250ms --rateest-ewmalog 1s",
                "--rateest-name x --rateest-interval 250.0ms --rateest-ewmalog 1.0s",
            ),
            (
                "--rateest-name x --rateest-interval 1s --rateest-ewmalog 8s",
                "--rateest-name x --rateest-interval 1.0s --rateest-ewmalog 8.0s",
            ),
            (
                "--rateest-name x --rateest-interval 250000us --rateest-ewmalog 0.5s",
                "--rateest-name x --rateest-interval 250.0ms --rateest-ewmalog 500.0ms",
            ),
            (
                "--rateest-name x --rateest-interval 8s --rateest-ewmalog 100s",
                "--rateest-name x --rateest-interval 8.0s --rateest-ewmalog 64.0s",
            ),
            (
                "--rateest-name x --rateest-interval 1s --rateest-ewmalog 1.5s",
                "--rateest-name x --rateest-interval 1.0s --rateest-ewmalog 2.0s",
            ),
            (
                "--rateest-name x --rateest-interval 100ms --rateest-ewmalog 10s",
                "--rateest-name x --rateest-interval 250.0ms --rateest-ewmalog 16.0s",
            ),
            (
                "--rateest-name x --rateest-interval 1S --rateest-ewmalog 10SECS",
                "--rateest-name x --rateest-interval 1.0s --rateest-ewmalog 8.0s",
            ),
            (
                "--rateest-name abcdefghijklmnopqrst --rateest-interval 1s --rateest-ewmalog 10s",
                "--rateest-name abcdefghijklmno --rateest-interval 1.0s --rateest-ewmalog 8.0s",
            ),
            (
                "--rateest-name \"a b\" --rateest-interval 1s --rateest-ewmalog 10s",
                "--rateest-name a b --rateest-interval 1.0s --rateest-ewmalog 8.0s",
            ),
            (
                "--rateest-name x --rateest-interval 1s --rateest-ewmalog 10000s",
                "--rateest-name x --rateest-interval 1.0s --rateest-ewmalog 1024.0s",
            ),
        ] {
            let rule = format!("-A INPUT -j RATEEST {given}");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -j RATEEST {printed}"), "{given}");
        }
        assert_eq!(
            saved(Ipv6, "filter", "-A OUTPUT -j RATEEST --rateest-name x --rateest-interval 1s --rateest-ewmalog 4s"),
            "-A OUTPUT -j RATEEST --rateest-name x --rateest-interval 1.0s --rateest-ewmalog 4.0s"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -j RATEEST {o}"));
        let range =
            "the averaging time (`--rateest-ewmalog`) must be more than the interval and not more than 2^30 intervals";
        assert_eq!(e("--rateest-name x --rateest-interval 0.25 --rateest-ewmalog 1"), (80, range.into()));
        assert_eq!(
            e("--rateest-name x --rateest-interval 9s --rateest-ewmalog 100s"),
            (57, "the rate estimator's interval can be at most 8 seconds".into())
        );
        assert_eq!(e("--rateest-name x --rateest-interval 1s --rateest-ewmalog 1s").1, range);
        assert_eq!(
            e("--rateest-name x --rateest-interval 1x --rateest-ewmalog 10s").1,
            "`1x` is not a time (like `250ms` or `1s`)"
        );
        assert_eq!(
            e("--rateest-interval 1s --rateest-ewmalog 10s"),
            (10, "RATEEST needs `--rateest-name NAME`".into())
        );
        assert_eq!(e("--rateest-name x --rateest-ewmalog 10s").1, range);
        assert_eq!(
            e("--rateest-name x --rateest-interval -1s --rateest-ewmalog 1s").1,
            "the rate estimator's interval can be at most 8 seconds"
        );
    }

    #[test]
    fn the_packet_goes_on() {
        let t = walk(
            "*filter\n-A INPUT -j RATEEST --rateest-name x --rateest-interval 1s --rateest-ewmalog 4s\nCOMMIT\n",
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn",
        );
        let step = t.steps.iter().find(|s| s.target.as_deref() == Some("RATEEST")).expect("the rule's step");
        assert_eq!(step.effect.as_deref(), Some("RATEEST: the packet is counted in rate estimator x; it goes on"));
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Accept);
    }
}
