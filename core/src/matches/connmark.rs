//! `-m connmark --mark VALUE[/MASK]`: the mark of the packet's connection (`ct->mark`), as set by
//! `-j CONNMARK` (`libxt_connmark`, revision 1 of the kernel's `xt_connmark.c`).

use super::mark::mark_opt;
use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::values::MarkMask;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m connmark`. A packet without a connection does not match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connmark {
    /// `--mark`: the connection matches when `ctmark & mask == value`.
    pub mark: Negatable<MarkMask>,
}

impl Extension for Connmark {
    const OPTIONS: &'static [OptSpec] = &[opt("mark", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Connmark, Diagnostic> {
        Ok(Connmark { mark: mark_opt(opts, ctx, "connmark")? })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.mark.negated, "mark", self.mark.value);
    }
}

impl Evaluate for Connmark {
    /// `connmark_mt` in `xt_connmark.c`: a packet without a connection never matches (not even with `!`);
    /// otherwise the connection's mark under the mask equals the value.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if !super::conntrack::has_connection(ctx.ct) {
            return Outcome::no(format!(
                "{}, and the connmark match does not match a packet without one, `!` or not",
                super::conntrack::no_connection(ctx)
            ));
        }
        super::mark::eval_mark("CTMARK", ctx.ct.mark, &self.mark)
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::matches::testing::input_rule(family, line)
    }

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        crate::matches::testing::input_saved(family, line)
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let v4 = Family::Ipv4;
        for same in [
            "-A INPUT -m connmark --mark 0x10/0xff",
            "-A INPUT -m connmark ! --mark 0x10/0xff",
            "-A INPUT -m connmark --mark 0x0/0x0",
            "-A INPUT -m connmark --mark 0x1 -m mark --mark 0x2",
        ] {
            assert_eq!(saved(v4, same), same);
        }
        assert_eq!(
            saved(v4, "-A INPUT -m connmark --mark 0xffffffff/0xffffffff"),
            "-A INPUT -m connmark --mark 0xffffffff"
        );
        assert_eq!(saved(Family::Ipv6, "-A INPUT -m connmark --mark 1"), "-A INPUT -m connmark --mark 0x1");
    }

    #[test]
    fn non_canonical_forms() {
        // A decimal value and mask.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m connmark --mark 1/3 -j ACCEPT"),
            "-A INPUT -m connmark --mark 0x1/0x3 -j ACCEPT"
        );
    }

    #[test]
    fn errors() {
        let p = parsed(Family::Ipv4, "-A INPUT -m connmark -j ACCEPT");
        let e = p.errors().next().expect("an error");
        assert_eq!((e.span.line, e.span.col), (3, 10));
        assert_eq!(e.message, "the connmark match needs `--mark VALUE[/MASK]`");
        let p = parsed(Family::Ipv4, "-A INPUT -m connmark --mark 0x1x");
        let e = p.errors().next().expect("an error");
        assert_eq!((e.span.col, e.message.as_str()), (29, "`0x1x` is not a 32-bit number"));
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::{Family, Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m connmark {options}")) {
                MatchKind::Connmark(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn connection_mark() {
            let mut s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ack state established");
            s.ct.mark = 0x200;
            let o = eval(&s, "--mark 0x200/0xf00");
            assert!(o.holds);
            assert_eq!(o.why, "CTMARK=0x200 masked with 0xf00 is 0x200, which is 0x200, so this holds");
            let o = eval(&s, "--mark 0x1");
            assert!(!o.holds);
            assert_eq!(o.why, "CTMARK=0x200, not 0x1, so this does not hold");
            assert!(eval(&s, "! --mark 0x1").holds);
        }

        #[test]
        fn no_connection_never_matches() {
            let mut raw = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn").at(Hook::Prerouting, TableName::Raw);
            raw.ct.state = crate::packet::CtState::Invalid;
            let o = eval(&raw, "! --mark 0x1");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "conntrack has not seen the packet yet in the raw table, so it has none, and the connmark match does \
                 not match a packet without one, `!` or not"
            );
        }
    }
}
