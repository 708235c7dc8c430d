//! `-m hl`: the IPv6 hop-limit field compared with a number (`libip6t_hl`, the kernel's `xt_hl.c`).

use super::ttl::{hop_test, save_hop_test, HopTest};
use crate::diag::Diagnostic;
use crate::ext::{opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Family;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m hl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hl {
    /// The comparison of the packet's hop limit.
    pub test: HopTest,
}

impl Extension for Hl {
    const OPTIONS: &'static [OptSpec] =
        &[opt("hl-eq", Args::One), opt("hl-lt", Args::One), opt("hl-gt", Args::One), opt("hl", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Hl, Diagnostic> {
        if ctx.family != Family::Ipv6 {
            return Err(ctx
                .error("iptables has no hl match: it is for IPv6 only")
                .with_hint("IPv4 calls the field TTL: write `-m ttl --ttl-eq N`"));
        }
        Ok(Hl { test: hop_test(opts, ctx, "hl", "hl")? })
    }

    fn save(&self, out: &mut String) {
        save_hop_test(out, "hl", self.test);
    }
}

impl Evaluate for Hl {
    /// `hl_mt6` in `xt_hl.c`: the IPv6 hop limit compared with the number.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        super::ttl::eval_hop("HOPLIMIT", ctx.pkt.ttl, self.test)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        crate::matches::testing::input_saved(Family::Ipv6, line)
    }

    /// The first error's column (on line 3) and message.
    fn error(family: Family, line: &str) -> (u32, String) {
        crate::matches::testing::input_error(family, line)
    }

    #[test]
    fn prints_back_as_ip6tables_save() {
        for same in [
            "-A INPUT -m hl --hl-eq 64",
            "-A INPUT -m hl ! --hl-eq 64",
            "-A INPUT -m hl --hl-lt 64",
            "-A INPUT -m hl --hl-gt 64",
        ] {
            assert_eq!(saved(same), same);
        }
    }

    #[test]
    fn non_canonical_forms() {
        // The old option name `--hl`.
        assert_eq!(saved("-A INPUT -m hl --hl 255 -j DROP"), "-A INPUT -m hl --hl-eq 255 -j DROP");
    }

    #[test]
    fn errors() {
        let v6 = Family::Ipv6;
        assert_eq!(error(v6, "-A INPUT -m hl ! --hl-lt 64"), (16, "`--hl-lt` cannot be negated with `!`".into()));
        assert_eq!(
            error(v6, "-A INPUT -m hl --hl-eq 256"),
            (24, "`--hl-eq` takes a number from 0 to 255, not `256`".into())
        );
        assert_eq!(
            error(v6, "-A INPUT -m hl --hl-eq 1 --hl-lt 2"),
            (26, "only one of `--hl-eq`, `--hl-lt` and `--hl-gt` may be given".into())
        );
        assert_eq!(
            error(v6, "-A INPUT -m hl"),
            (10, "the hl match needs one of `--hl-eq N`, `--hl-lt N` or `--hl-gt N`".into())
        );
        assert_eq!(
            error(Family::Ipv4, "-A INPUT -m hl --hl-eq 64"),
            (10, "iptables has no hl match: it is for IPv6 only".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv6, &format!("-m hl {options}")) {
                MatchKind::Hl(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn comparisons() {
            let s = Scene::new("IN=eth0 OUT= SRC=fe80::1 DST=ff02::1 HOPLIMIT=255 PROTO=ICMPv6 TYPE=134 CODE=0");
            let o = eval(&s, "--hl-eq 255");
            assert!(o.holds);
            assert_eq!(o.why, "HOPLIMIT=255 is 255, so this holds");
            assert!(!eval(&s, "! --hl-eq 255").holds);
            let o = eval(&s, "--hl-lt 255");
            assert!(!o.holds);
            assert_eq!(o.why, "HOPLIMIT=255 is not less than 255, so this does not hold");
            assert!(eval(&s, "--hl-gt 254").holds);
        }
    }
}
