//! `-m helper --helper NAME`: the packet's connection was set up through an expectation of the conntrack
//! helper NAME (`ftp`, `sip`, ...), like an FTP data connection (`libxt_helper`, the kernel's
//! `xt_helper.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_string, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::{CtState, L4};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The longest helper name the match stores (its 30-byte field less the final NUL).
pub const MAX_NAME_LEN: usize = 29;

/// The options of `-m helper`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Helper {
    /// `[!] --helper NAME`: the helper of the connection that expected this one; an empty name means any.
    pub name: Box<str>,
    /// Whether `!` came before `--helper`.
    pub negated: bool,
}

impl Extension for Helper {
    const OPTIONS: &'static [OptSpec] = &[opt("helper", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Helper, Diagnostic> {
        let o = find(opts, "helper")?.ok_or_else(|| ctx.error("the helper match needs `--helper NAME`"))?;
        let name = super::nfacct::cut_to(o, o.arg(), MAX_NAME_LEN, warnings);
        Ok(Helper { name: name.into(), negated: o.negated })
    }

    fn save(&self, out: &mut String) {
        save_opt_string(out, self.negated, "helper", &self.name);
    }
}

impl Evaluate for Helper {
    /// `helper_mt` in `xt_helper.c`: only a connection with a master (one made from a helper's expectation)
    /// can match, when its master's helper has the name (the kernel compares the helper's name as a prefix of
    /// the one given; an empty name takes any helper). Otherwise the answer is `!`'s. chainwalk does not know
    /// which connections came from expectations: it assumes a RELATED packet other than an ICMP error did,
    /// through the helper named here, and that an ESTABLISHED one's did not. A NEW packet's connection has no
    /// master (an expected connection starts RELATED), nor has a packet without a connection.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let icmp_error = matches!(ctx.pkt.l4, L4::Icmp { .. } | L4::Icmpv6 { .. });
        let named = if self.name.is_empty() { "any helper".to_string() } else { format!("helper `{}`", self.name) };
        if ctx.ct.state == CtState::Related && !icmp_error {
            let holds = !self.negated;
            return Outcome::assumed(
                holds,
                format!(
                    "a RELATED connection comes from a helper's expectation; chainwalk assumes it was {named}'s, so \
                     this {}",
                    if holds { "holds" } else { "does not hold" }
                ),
            );
        }
        let holds = self.negated;
        let verdict = if holds { "holds" } else { "does not hold" };
        let certain = match ctx.ct.state {
            // The first packet of an expected connection is RELATED, never NEW; INVALID and UNTRACKED packets (and
            // every packet in the raw table) have no connection at all.
            CtState::New => {
                Some("a NEW connection was not set up by an expectation (its first packet would be RELATED)")
            }
            CtState::Invalid | CtState::Untracked => Some("the packet has no connection"),
            CtState::Established | CtState::Related => None,
        };
        if let Some(why) = certain {
            return Outcome::when(holds, format!("{why}, so {named} cannot match and this {verdict}"));
        }
        Outcome::assumed(
            holds,
            format!(
                "chainwalk assumes this connection was not set up by a helper's expectation, so {named} cannot \
                 match and this {}",
                if holds { "holds" } else { "does not hold" }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--helper ftp", "--helper ftp"),
            ("! --helper sip", "! --helper sip"),
            ("--helper \"\"", "--helper \"\""),
            ("--helper ftp-21", "--helper ftp-21"),
            ("--helper FTP", "--helper FTP"),
            ("--helper \"a b\"", "--helper \"a b\""),
            ("--helper it's", "--helper \"it\\'s\""),
            ("--helper abcdefghijklmnopqrstuvwxyz0123456789", "--helper abcdefghijklmnopqrstuvwxyz012"),
        ] {
            let rule = format!("-A INPUT -m helper {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m helper {printed} -j ACCEPT"));
        }
        assert_eq!(saved(Ipv6, "filter", "-A OUTPUT -m helper --helper ftp"), "-A OUTPUT -m helper --helper ftp");
    }

    #[test]
    fn errors() {
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m helper -j ACCEPT"),
            (10, "the helper match needs `--helper NAME`".into())
        );
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m helper --helper x --helper y").1,
            "`--helper` is given more than once"
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m helper {options}")) {
                MatchKind::Helper(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn only_expected_connections_match() {
            let data = Scene::new("tcp 192.0.2.1:20 -> 192.0.2.2:40000 in eth0 syn state related");
            let o = eval(&data, "--helper ftp");
            assert!(o.holds && o.assumed);
            assert!(!eval(&data, "! --helper ftp").holds);
            let established = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:21 in eth0 ack state established");
            let o = eval(&established, "--helper ftp");
            assert!(!o.holds && o.assumed);
            assert!(eval(&established, "! --helper ftp").holds);
        }

        #[test]
        fn a_new_connection_never_has_a_master() {
            let plain = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:21 in eth0 syn");
            let o = eval(&plain, "--helper ftp");
            assert!(!o.holds && !o.assumed, "{o:?}");
            assert!(o.why.contains("would be RELATED"), "{}", o.why);
            let o = eval(&plain, "! --helper ftp");
            assert!(o.holds && !o.assumed);
        }
    }
}
