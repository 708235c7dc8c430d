//! `-m mark --mark VALUE[/MASK]`: the packet's firewall mark (`skb->mark`), as set by `-j MARK` or by
//! `-j CONNMARK --restore-mark` (`libxt_mark`, revision 1 of the kernel's `xt_mark.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::values::MarkMask;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m mark`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    /// `--mark`: the packet matches when `mark & mask == value`.
    pub mark: Negatable<MarkMask>,
}

/// Reads the required `--mark VALUE[/MASK]` of the mark and connmark matches; `what` names the match.
pub(crate) fn mark_opt(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, what: &str) -> Result<Negatable<MarkMask>, Diagnostic> {
    let o = find(opts, "mark")?.ok_or_else(|| ctx.error(format!("the {what} match needs `--mark VALUE[/MASK]`")))?;
    let mark = o.parse_arg(MarkMask::parse)?;
    Ok(Negatable { value: mark, negated: o.negated, span: o.span })
}

impl Extension for Mark {
    const OPTIONS: &'static [OptSpec] = &[opt("mark", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Mark, Diagnostic> {
        Ok(Mark { mark: mark_opt(opts, ctx, "mark")? })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.mark.negated, "mark", self.mark.value);
    }
}

/// Tests a mark against `--mark VALUE[/MASK]`: `mark & mask == value`. `key` names the mark as the kernel's
/// log line does (`MARK`, `CTMARK`).
pub(crate) fn eval_mark(key: &str, mark: u32, test: &Negatable<MarkMask>) -> Outcome {
    let t = test.value;
    let masked = mark & t.mask;
    let is = masked == t.value;
    let verb = if is { "which is" } else { "not" };
    let fact = if t.mask == u32::MAX {
        format!("{key}={mark:#x}, {verb} {:#x}", t.value)
    } else {
        format!("{key}={mark:#x} masked with {:#x} is {masked:#x}, {verb} {:#x}", t.mask, t.value)
    };
    conclude(is, test.negated, fact)
}

impl Evaluate for Mark {
    /// `mark_mt` in `xt_mark.c`: the packet's mark (`skb->mark`) under the mask equals the value.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        eval_mark("MARK", ctx.pkt.mark, &self.mark)
    }
}

#[cfg(test)]
mod tests {
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
        // What iptables-save 1.8.9 printed after `-m mark GIVEN`.
        let cases = [
            ("--mark 0x1", "--mark 0x1"),
            ("--mark 0x10/0xff", "--mark 0x10/0xff"),
            ("--mark 0x10/0xffffffff", "--mark 0x10"),
            ("! --mark 0x10/0xff", "! --mark 0x10/0xff"),
            ("--mark 0", "--mark 0x0"),
            ("--mark 0/0", "--mark 0x0/0x0"),
            ("--mark 4294967295", "--mark 0xffffffff"),
            ("--mark 0x11/0x1", "--mark 0x11/0x1"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(Family::Ipv4, &format!("-A INPUT -m mark {given}")),
                format!("-A INPUT -m mark {printed}")
            );
        }
        assert_eq!(saved(Family::Ipv6, "-A INPUT -m mark --mark 1"), "-A INPUT -m mark --mark 0x1");
    }

    #[test]
    fn non_canonical_forms() {
        // Decimal and octal numbers.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m mark --mark 16/255 -j DROP"),
            "-A INPUT -m mark --mark 0x10/0xff -j DROP"
        );
        assert_eq!(saved(Family::Ipv4, "-A INPUT -m mark --mark 010"), "-A INPUT -m mark --mark 0x8");
    }

    #[test]
    fn errors() {
        assert_eq!(error("-A INPUT -m mark --mark 0x100000000"), (25, "`0x100000000` is not a 32-bit number".into()));
        assert_eq!(error("-A INPUT -m mark --mark 1/").1, "`` is not a 32-bit mask");
        assert_eq!(error("-A INPUT -m mark --mark -1").1, "`-1` is not a 32-bit number");
        assert_eq!(error("-A INPUT -m mark --mark 0x1x").1, "`0x1x` is not a 32-bit number");
        assert_eq!(error("-A INPUT -m mark"), (10, "the mark match needs `--mark VALUE[/MASK]`".into()));
        assert_eq!(error("-A INPUT -m mark --mark 1 --mark 2"), (27, "`--mark` is given more than once".into()));
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m mark {options}")) {
                MatchKind::Mark(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn value_under_mask() {
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 mark 0x11");
            let o = eval(&s, "--mark 0x1/0xf");
            assert!(o.holds);
            assert_eq!(o.why, "MARK=0x11 masked with 0xf is 0x1, which is 0x1, so this holds");
            let o = eval(&s, "--mark 0x10");
            assert!(!o.holds);
            assert_eq!(o.why, "MARK=0x11, not 0x10, so this does not hold");
            let o = eval(&s, "! --mark 0x10");
            assert!(o.holds);
            assert!(eval(&s, "--mark 0x11").holds);
        }
    }
}
