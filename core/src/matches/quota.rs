//! `-m quota --quota BYTES`: matches until the rule has seen that many bytes, then no more (`libxt_quota`,
//! the kernel's `xt_quota.c`). The count belongs to the rule and starts again when the rule is loaded.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m quota`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// `[!] --quota BYTES`: the bytes the rule lets match.
    pub quota: Negatable<u64>,
}

impl Extension for Quota {
    const OPTIONS: &'static [OptSpec] = &[opt("quota", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Quota, Diagnostic> {
        let o = find(opts, "quota")?.ok_or_else(|| ctx.error("the quota match needs `--quota BYTES`"))?;
        let n = crate::values::opt_number(o, 0, u64::MAX)?;
        Ok(Quota { quota: Negatable { value: n, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.quota.negated, "quota", self.quota.value);
    }
}

impl Quota {
    /// For a quota the packet already met `runs` times in this walk (a user chain entered again): each
    /// run that fitted took the packet's length, and one that did not emptied the quota, so it fits now
    /// only if the quota holds `runs + 1` times the length. `None` on the first run.
    pub(crate) fn again(&self, runs: u32, len: u16) -> Option<Outcome> {
        if runs == 0 {
            return None;
        }
        let len = u64::from(len);
        let fits = self.quota.value >= (u64::from(runs) + 1).saturating_mul(len);
        let fact = format!(
            "this packet already met the quota of {} bytes {runs} time{} in this walk (a chain it entered again), \
             taking LEN={len} each time it fitted, and {}",
            self.quota.value,
            if runs == 1 { "" } else { "s" },
            if fits { "what is left still fits it" } else { "what is left is less than LEN" }
        );
        let o = conclude(fits, self.quota.negated, fact);
        Some(Outcome::assumed(o.holds, o.why))
    }
}

impl Evaluate for Quota {
    /// `quota_mt` in `xt_quota.c` takes the packet's length from what is left and matches while that was
    /// enough. chainwalk does not know the packets before this one and assumes none used the quota.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let len = u64::from(ctx.pkt.len);
        let fits = self.quota.value >= len;
        let fact = format!(
            "chainwalk assumes no earlier packet used the quota of {} bytes, and LEN={len} {}",
            self.quota.value,
            if fits { "fits in it" } else { "is more than it" }
        );
        let o = conclude(fits, self.quota.negated, fact);
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--quota 1000", "--quota 1000"),
            ("--quota 1000000000000", "--quota 1000000000000"),
            ("! --quota 10", "! --quota 10"),
            ("--quota 0x10", "--quota 16"),
            ("--quota 0", "--quota 0"),
            ("--quota 18446744073709551615", "--quota 18446744073709551615"),
        ] {
            let rule = format!("-A INPUT -m quota {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m quota {printed} -j ACCEPT"));
        }
        assert_eq!(saved(Ipv6, "filter", "-A INPUT -m quota --quota 1"), "-A INPUT -m quota --quota 1");
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m quota {o} -j ACCEPT"));
        assert_eq!(e(""), (10, "the quota match needs `--quota BYTES`".into()));
        assert_eq!(e("--quota -1"), (27, "`--quota` takes a number from 0 to 18446744073709551615, not `-1`".into()));
        assert_eq!(e("--quota 1k").1, "`--quota` takes a number from 0 to 18446744073709551615, not `1k`");
    }

    #[test]
    fn a_fresh_quota_takes_the_packet() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("udp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 len 100");
        let eval = |o: &str| match first_match(Ipv4, &format!("-m quota {o}")) {
            MatchKind::Quota(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let o = eval("--quota 1000");
        assert!(o.holds && o.assumed);
        assert_eq!(
            o.why,
            "chainwalk assumes no earlier packet used the quota of 1000 bytes, and LEN=100 fits in it, so this holds"
        );
        assert!(!eval("--quota 99").holds);
        assert!(eval("! --quota 99").holds);
    }
}
