//! `-m ecn`: the Explicit Congestion Notification bits, the ECN field of the IP header and TCP's ECE and
//! CWR flags (`libxt_ecn`, the kernel's `xt_ecn.c`). The kernel refuses the TCP tests unless the rule says
//! `-p tcp`.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Negatable, Protocol};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The options of `-m ecn`; at least one is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ecn {
    /// `[!] --ecn-tcp-ece`: TCP's ECN-Echo flag is set.
    pub ece: Option<Negatable<()>>,
    /// `[!] --ecn-tcp-cwr`: TCP's Congestion Window Reduced flag is set.
    pub cwr: Option<Negatable<()>>,
    /// `[!] --ecn-ip-ect N`: the IP header's ECN field (the TOS byte's two low bits) is N, from 0 to 3.
    pub ip_ect: Option<Negatable<u8>>,
}

/// A flag option with its `!`, if it is given.
pub(crate) fn flag_opt(opts: &[Opt<'_>], name: &str) -> Result<Option<Negatable<()>>, Diagnostic> {
    Ok(find(opts, name)?.map(|o| Negatable { value: (), negated: o.negated, span: o.span }))
}

/// The TCP flag bits ECE and CWR.
const ECE: u8 = 0x40;
const CWR: u8 = 0x80;

impl Extension for Ecn {
    const OPTIONS: &'static [OptSpec] =
        &[opt("ecn-tcp-cwr", Args::Zero), opt("ecn-tcp-ece", Args::Zero), opt("ecn-ip-ect", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ecn, Diagnostic> {
        let ip_ect = match find(opts, "ecn-ip-ect")? {
            Some(o) => {
                let v = crate::values::opt_number(o, 0, 3)? as u8;
                Some(Negatable { value: v, negated: o.negated, span: o.span })
            }
            None => None,
        };
        let ecn = Ecn { ece: flag_opt(opts, "ecn-tcp-ece")?, cwr: flag_opt(opts, "ecn-tcp-cwr")?, ip_ect };
        if ecn.ece.is_none() && ecn.cwr.is_none() && ecn.ip_ect.is_none() {
            return Err(ctx.error("the ecn match needs `--ecn-tcp-ece`, `--ecn-tcp-cwr` or `--ecn-ip-ect N`"));
        }
        if ecn.ece.is_some() || ecn.cwr.is_some() {
            ctx.require_proto("the ecn match's TCP tests (`--ecn-tcp-ece`, `--ecn-tcp-cwr`)", &[Protocol::TCP])?;
        }
        Ok(ecn)
    }

    fn save(&self, out: &mut String) {
        if let Some(e) = &self.ece {
            save_opt(out, e.negated, "ecn-tcp-ece");
        }
        if let Some(c) = &self.cwr {
            save_opt(out, c.negated, "ecn-tcp-cwr");
        }
        if let Some(i) = &self.ip_ect {
            save_opt(out, i.negated, "ecn-ip-ect");
            let _ = write!(out, " {}", i.value);
        }
    }
}

impl Evaluate for Ecn {
    /// `ecn_mt4`/`ecn_mt6` in `xt_ecn.c`: the IP test first, then each TCP flag asked for.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let mut why = Vec::new();
        if let Some(t) = &self.ip_ect {
            let field = ctx.pkt.tos & 0x03;
            let o = conclude(
                field == t.value,
                t.negated,
                format!("the ECN field is {field}, {}{}", if field == t.value { "which is " } else { "not " }, t.value),
            );
            if !o.holds {
                return o;
            }
            why.push(o.why);
        }
        if self.ece.is_some() || self.cwr.is_some() {
            let crate::packet::L4::Tcp { flags, .. } = ctx.pkt.l4 else {
                return Outcome::no("the packet has no TCP header, so the TCP tests fail");
            };
            for (test, bit, name) in [(&self.ece, ECE, "ECE"), (&self.cwr, CWR, "CWR")] {
                if let Some(t) = test {
                    let set = flags.0 & bit != 0;
                    let o = conclude(set, t.negated, format!("{name} is {}", if set { "set" } else { "not set" }));
                    if !o.holds {
                        return o;
                    }
                    why.push(o.why);
                }
            }
        }
        Outcome::yes(why.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("-m ecn --ecn-ip-ect 1", "-m ecn --ecn-ip-ect 1"),
            ("-m ecn ! --ecn-ip-ect 0", "-m ecn ! --ecn-ip-ect 0"),
            ("-m ecn --ecn-ip-ect 0x2", "-m ecn --ecn-ip-ect 2"),
            ("-p tcp -m ecn --ecn-tcp-cwr", "-p tcp -m ecn --ecn-tcp-cwr"),
            (
                "-p tcp -m ecn ! --ecn-tcp-ece --ecn-tcp-cwr --ecn-ip-ect 2",
                "-p tcp -m ecn ! --ecn-tcp-ece --ecn-tcp-cwr --ecn-ip-ect 2",
            ),
            ("-p tcp -m ecn --ecn-ip-ect 3 ! --ecn-tcp-cwr", "-p tcp -m ecn ! --ecn-tcp-cwr --ecn-ip-ect 3"),
            ("-p tcp -m ecn --ecn-tcp-cwr --ecn-tcp-ece", "-p tcp -m ecn --ecn-tcp-ece --ecn-tcp-cwr"),
            ("! -p tcp -m ecn --ecn-ip-ect 1", "! -p tcp -m ecn --ecn-ip-ect 1"),
        ] {
            assert_eq!(
                saved(Ipv4, "filter", &format!("-A INPUT {given} -j ACCEPT")),
                format!("-A INPUT {printed} -j ACCEPT")
            );
        }
        assert_eq!(saved(Ipv6, "filter", "-A INPUT -m ecn --ecn-ip-ect 3"), "-A INPUT -m ecn --ecn-ip-ect 3");
    }

    #[test]
    fn errors() {
        let e = |r: &str| error(Ipv4, "filter", &format!("-A INPUT {r} -j ACCEPT"));
        assert_eq!(e("-m ecn --ecn-ip-ect 4"), (30, "`--ecn-ip-ect` takes a number from 0 to 3, not `4`".into()));
        assert_eq!(
            e("-m ecn --ecn-tcp-ece"),
            (10, "the ecn match's TCP tests (`--ecn-tcp-ece`, `--ecn-tcp-cwr`) needs the rule to say -p tcp".into())
        );
        assert_eq!(
            e("-p udp -m ecn --ecn-tcp-ece").1,
            "the ecn match's TCP tests (`--ecn-tcp-ece`, `--ecn-tcp-cwr`) needs the rule to say -p tcp"
        );
        assert_eq!(
            e("-m ecn"),
            (10, "the ecn match needs `--ecn-tcp-ece`, `--ecn-tcp-cwr` or `--ecn-ip-ect N`".into())
        );
        assert_eq!(e("-m ecn --ecn-ip-ect 3 --ecn-ip-ect 2").1, "`--ecn-ip-ect` is given more than once");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, rule: &str) -> Outcome {
            match first_match(Family::Ipv4, rule) {
                MatchKind::Ecn(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn ip_field_and_tcp_flags() {
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ece syn tos 0x02");
            let o = eval(&s, "-m ecn --ecn-ip-ect 2");
            assert!(o.holds);
            assert_eq!(o.why, "the ECN field is 2, which is 2, so this holds");
            assert!(!eval(&s, "-m ecn --ecn-ip-ect 1").holds);
            let o = eval(&s, "-p tcp -m ecn --ecn-tcp-ece ! --ecn-tcp-cwr");
            assert!(o.holds);
            assert_eq!(o.why, "ECE is set, so this holds; CWR is not set, so this holds");
            assert!(!eval(&s, "-p tcp -m ecn --ecn-tcp-cwr").holds);
        }
    }
}
