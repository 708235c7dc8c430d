//! `-m length --length`: the length of the packet's layer-3 payload plus header, i.e. the whole IP packet
//! (`libxt_length`, the kernel's `xt_length.c`).

use super::icmp::number_prefix;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::values::NumRange;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m length`. A reversed range (`200:100`) is accepted and matches nothing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Length {
    /// `--length MIN[:MAX]`, in bytes, from 0 to 65535.
    pub length: Negatable<NumRange>,
}

/// Reads `N`, `MIN:MAX`, `:MAX`, `MIN:` or `:` with values from 0 to `max` as `iptables` reads its
/// numeric range options (`XTTYPE_UINT*RC`): numbers in C notation, a missing first value is 0, a missing
/// second one is `max`, an empty text is 0, and a reversed range is kept as given.
pub(crate) fn parse_uint_range(text: &str, max: u64) -> Result<(u64, u64), String> {
    let mut values: Vec<u64> = Vec::with_capacity(2);
    let mut rest = text;
    loop {
        if values.len() == 2 {
            return Err(format!("`{text}` has more than two numbers; a range is written `MIN:MAX`"));
        }
        let (value, after) = if rest.is_empty() || rest.starts_with(':') {
            (if values.len() == 1 { max } else { 0 }, rest)
        } else {
            let (value, after) = number_prefix(rest)
                .filter(|&(v, _)| v <= max)
                .ok_or_else(|| format!("`{rest}` is not a number from 0 to {max}"))?;
            if !after.is_empty() && !after.starts_with(':') {
                return Err(format!("unexpected `{after}` in `{text}`; a range is written `MIN:MAX`"));
            }
            (value, after)
        };
        values.push(value);
        match after.strip_prefix(':') {
            Some(next) => rest = next,
            None => break,
        }
    }
    let min = values[0];
    Ok((min, values.get(1).copied().unwrap_or(min)))
}

impl Extension for Length {
    const OPTIONS: &'static [OptSpec] = &[opt("length", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Length, Diagnostic> {
        let o = find(opts, "length")?.ok_or_else(|| ctx.error("the length match needs `--length MIN[:MAX]`"))?;
        let (min, max) = o.parse_arg(|t| parse_uint_range(t, u64::from(u16::MAX)))?;
        let range = NumRange { min: min as u32, max: max as u32 };
        Ok(Length { length: Negatable { value: range, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.length.negated, "length", self.length.value);
    }
}

impl Evaluate for Length {
    /// `length_mt`/`length_mt6` in `xt_length.c`: the IPv4 total length, or the IPv6 payload length plus the
    /// 40-byte header (both what the log line's `LEN=` shows), is in the range.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let len = u32::from(ctx.pkt.len);
        let range = self.length.value;
        let inside = range.contains(len);
        let fact = if range.min == range.max {
            format!("LEN={len} {} {range}", if inside { "is" } else { "is not" })
        } else {
            format!("LEN={len} is {}in {range}", if inside { "" } else { "not " })
        };
        conclude(inside, self.length.negated, fact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::Family;

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        crate::matches::testing::input_saved(family, line)
    }

    /// The first error's column (on line 3) and message.
    fn error(line: &str) -> (u32, String) {
        crate::matches::testing::input_error(Family::Ipv4, line)
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // What iptables-save 1.8.9 printed after `--length GIVEN`.
        let cases = [
            ("100", "100"),
            ("100:200", "100:200"),
            (":200", "0:200"),
            ("100:", "100:65535"),
            ("200:100", "200:100"),
            ("65535", "65535"),
            ("0:65535", "0:65535"),
            (":", "0:65535"),
            ("\"\"", "0"),
            ("5:5", "5"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(Family::Ipv4, &format!("-A INPUT -m length --length {given}")),
                format!("-A INPUT -m length --length {printed}")
            );
        }
        assert_eq!(
            saved(Family::Ipv6, "-A INPUT -m length ! --length 100:200"),
            "-A INPUT -m length ! --length 100:200"
        );
    }

    #[test]
    fn non_canonical_forms() {
        // C-notation numbers and an abbreviated option.
        assert_eq!(saved(Family::Ipv4, "-A INPUT -m length --len 0x10:040"), "-A INPUT -m length --length 16:32");
        assert_eq!(saved(Family::Ipv4, "-A INPUT -m length --length 010"), "-A INPUT -m length --length 8");
    }

    #[test]
    fn errors() {
        assert_eq!(error("-A INPUT -m length --length 65536"), (29, "`65536` is not a number from 0 to 65535".into()));
        assert_eq!(error("-A INPUT -m length --length 5:-1").1, "`-1` is not a number from 0 to 65535");
        assert_eq!(
            error("-A INPUT -m length --length 100-200").1,
            "unexpected `-200` in `100-200`; a range is written `MIN:MAX`"
        );
        assert_eq!(
            error("-A INPUT -m length --length 1:2:3").1,
            "`1:2:3` has more than two numbers; a range is written `MIN:MAX`"
        );
        assert_eq!(error("-A INPUT -m length"), (10, "the length match needs `--length MIN[:MAX]`".into()));
    }

    #[test]
    fn ranges_read_as_xtables_reads_them() {
        assert_eq!(parse_uint_range(" 5", 100), Ok((5, 5)));
        assert_eq!(parse_uint_range("+5:", 100), Ok((5, 100)));
        assert_eq!(parse_uint_range("0x10:0x20", 100), Ok((16, 32)));
        assert!(parse_uint_range("101", 100).is_err());
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m length {options}")) {
                MatchKind::Length(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn total_length() {
            let s = Scene::new("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=1500 PROTO=UDP SPT=1 DPT=2");
            let o = eval(&s, "--length 1000:65535");
            assert!(o.holds);
            assert_eq!(o.why, "LEN=1500 is in 1000:65535, so this holds");
            let o = eval(&s, "--length 0:128");
            assert_eq!(o.why, "LEN=1500 is not in 0:128, so this does not hold");
            let o = eval(&s, "! --length 1500");
            assert!(!o.holds);
            assert_eq!(o.why, "LEN=1500 is 1500, so this does not hold");
            // A reversed range matches nothing.
            assert!(!eval(&s, "--length 2000:1000").holds);
            // For IPv6 `LEN=` already counts the 40-byte header, as the match does.
            let v6 = Scene::new("IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 LEN=80 PROTO=UDP SPT=1 DPT=2");
            assert!(eval(&v6, "--length 80").holds);
        }
    }
}
