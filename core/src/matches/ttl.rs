//! `-m ttl`: the IPv4 time-to-live field compared with a number (`libipt_ttl`, the kernel's `xt_hl.c`).
//! The comparison is shared with `-m hl` ([`super::hl`]), its IPv6 twin.

use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Family;
use crate::values::opt_number;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m ttl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ttl {
    /// The comparison of the packet's TTL.
    pub test: HopTest,
}

/// A comparison of a TTL or hop limit with a number (`IPT_TTL_*` / `IP6T_HL_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopTest {
    /// `--ttl-eq N` / `--hl-eq N`: equal to N.
    Eq(u8),
    /// `! --ttl-eq N` / `! --hl-eq N`: not equal to N.
    Ne(u8),
    /// `--ttl-lt N` / `--hl-lt N`: less than N.
    Lt(u8),
    /// `--ttl-gt N` / `--hl-gt N`: greater than N.
    Gt(u8),
}

/// Reads the one comparison of `-m ttl` or `-m hl`: `PREFIX-eq` (or its old name `PREFIX`, only
/// negatable one), `PREFIX-lt` or `PREFIX-gt`. `what` names the match.
pub(crate) fn hop_test(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, prefix: &str, what: &str) -> Result<HopTest, Diagnostic> {
    let mut test: Option<(HopTest, &str)> = None;
    for o in opts {
        let kind = o.name.strip_prefix(prefix).unwrap_or(o.name);
        let kind = if kind.is_empty() { "-eq" } else { kind };
        if let Some((_, first)) = test {
            let message = if first == kind {
                format!("`--{prefix}{kind}` is given more than once")
            } else {
                format!("only one of `--{prefix}-eq`, `--{prefix}-lt` and `--{prefix}-gt` may be given")
            };
            return Err(Diagnostic::error(o.span, message));
        }
        if kind != "-eq" {
            o.no_negation()?;
        }
        let n = opt_number(o, 0, 255)? as u8;
        let t = match (kind, o.negated) {
            ("-eq", false) => HopTest::Eq(n),
            ("-eq", true) => HopTest::Ne(n),
            ("-lt", _) => HopTest::Lt(n),
            _ => HopTest::Gt(n),
        };
        test = Some((t, kind));
    }
    test.map(|(t, _)| t).ok_or_else(|| {
        ctx.error(format!("the {what} match needs one of `--{prefix}-eq N`, `--{prefix}-lt N` or `--{prefix}-gt N`"))
    })
}

/// Appends the comparison as `iptables-save` prints it, with option names starting `--PREFIX`.
pub(crate) fn save_hop_test(out: &mut String, prefix: &str, test: HopTest) {
    let (negated, kind, n) = match test {
        HopTest::Eq(n) => (false, "eq", n),
        HopTest::Ne(n) => (true, "eq", n),
        HopTest::Lt(n) => (false, "lt", n),
        HopTest::Gt(n) => (false, "gt", n),
    };
    save_opt_value(out, negated, &format!("{prefix}-{kind}"), n);
}

impl Extension for Ttl {
    const OPTIONS: &'static [OptSpec] =
        &[opt("ttl-eq", Args::One), opt("ttl-lt", Args::One), opt("ttl-gt", Args::One), opt("ttl", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ttl, Diagnostic> {
        if ctx.family != Family::Ipv4 {
            return Err(ctx
                .error("ip6tables has no ttl match: it is for IPv4 only")
                .with_hint("IPv6 calls the field hop limit: write `-m hl --hl-eq N`"));
        }
        Ok(Ttl { test: hop_test(opts, ctx, "ttl", "ttl")? })
    }

    fn save(&self, out: &mut String) {
        save_hop_test(out, "ttl", self.test);
    }
}

/// Compares a TTL or hop limit as `ttl_mt`/`hl_mt6` in `xt_hl.c` do; `key` names the field as the log line
/// does (`TTL`, `HOPLIMIT`).
pub(crate) fn eval_hop(key: &str, value: u8, test: HopTest) -> Outcome {
    let (holds, fact) = match test {
        HopTest::Eq(n) => (value == n, format!("{key}={value} {} {n}", if value == n { "is" } else { "is not" })),
        HopTest::Ne(n) => (value != n, format!("{key}={value} {} {n}", if value == n { "is" } else { "is not" })),
        HopTest::Lt(n) => (value < n, format!("{key}={value} is {}less than {n}", if value < n { "" } else { "not " })),
        HopTest::Gt(n) => {
            (value > n, format!("{key}={value} is {}greater than {n}", if value > n { "" } else { "not " }))
        }
    };
    Outcome::when(holds, format!("{fact}, so this {}", if holds { "holds" } else { "does not hold" }))
}

impl Evaluate for Ttl {
    /// `ttl_mt` in `xt_hl.c`: the IPv4 TTL compared with the number.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        eval_hop("TTL", ctx.pkt.ttl, self.test)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        crate::matches::testing::input_saved(Family::Ipv4, line)
    }

    /// The first error's column (on line 3) and message.
    fn error(family: Family, line: &str) -> (u32, String) {
        crate::matches::testing::input_error(family, line)
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "-A INPUT -m ttl --ttl-eq 64",
            "-A INPUT -m ttl ! --ttl-eq 64",
            "-A INPUT -m ttl --ttl-lt 64",
            "-A INPUT -m ttl --ttl-gt 64",
            "-A INPUT -m ttl --ttl-eq 0",
            "-A INPUT -m ttl --ttl-gt 255",
        ] {
            assert_eq!(saved(same), same);
        }
    }

    #[test]
    fn non_canonical_forms() {
        // The old option name `--ttl`, an abbreviation, hex.
        assert_eq!(saved("-A INPUT -m ttl --ttl 64 -j DROP"), "-A INPUT -m ttl --ttl-eq 64 -j DROP");
        assert_eq!(saved("-A INPUT -m ttl ! --ttl 64"), "-A INPUT -m ttl ! --ttl-eq 64");
        assert_eq!(saved("-A INPUT -m ttl --ttl-e 0x40"), "-A INPUT -m ttl --ttl-eq 64");
    }

    #[test]
    fn errors() {
        let v4 = Family::Ipv4;
        assert_eq!(error(v4, "-A INPUT -m ttl ! --ttl-lt 64"), (17, "`--ttl-lt` cannot be negated with `!`".into()));
        assert_eq!(
            error(v4, "-A INPUT -m ttl --ttl-eq 256"),
            (26, "`--ttl-eq` takes a number from 0 to 255, not `256`".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -m ttl --ttl-eq 64 --ttl-gt 3"),
            (29, "only one of `--ttl-eq`, `--ttl-lt` and `--ttl-gt` may be given".into())
        );
        assert_eq!(error(v4, "-A INPUT -m ttl --ttl 64 --ttl-eq 3"), (26, "`--ttl-eq` is given more than once".into()));
        assert_eq!(
            error(v4, "-A INPUT -m ttl"),
            (10, "the ttl match needs one of `--ttl-eq N`, `--ttl-lt N` or `--ttl-gt N`".into())
        );
        assert_eq!(
            error(Family::Ipv6, "-A INPUT -m ttl --ttl-eq 64"),
            (10, "ip6tables has no ttl match: it is for IPv4 only".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m ttl {options}")) {
                MatchKind::Ttl(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn comparisons() {
            let s = Scene::new("udp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ttl 1");
            let o = eval(&s, "--ttl-eq 1");
            assert!(o.holds);
            assert_eq!(o.why, "TTL=1 is 1, so this holds");
            let o = eval(&s, "! --ttl-eq 1");
            assert!(!o.holds);
            assert_eq!(o.why, "TTL=1 is 1, so this does not hold");
            assert_eq!(eval(&s, "--ttl-lt 2").why, "TTL=1 is less than 2, so this holds");
            let o = eval(&s, "--ttl-gt 1");
            assert!(!o.holds);
            assert_eq!(o.why, "TTL=1 is not greater than 1, so this does not hold");
        }
    }
}
