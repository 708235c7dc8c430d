//! `-m state --state`: the older form of `-m conntrack --ctstate`, without SNAT and DNAT (`libxt_state`,
//! the kernel's `xt_state.c`).

use super::conntrack::{CtState, CtStates};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The states `--state` takes.
const STATES: [CtState; 5] =
    [CtState::Invalid, CtState::New, CtState::Related, CtState::Established, CtState::Untracked];

/// The options of `-m state`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// `--state`: the connection is in one of these states.
    pub states: Negatable<CtStates>,
}

impl Extension for State {
    const OPTIONS: &'static [OptSpec] = &[opt("state", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<State, Diagnostic> {
        let o = find(opts, "state")?.ok_or_else(|| ctx.error("the state match needs `--state STATES`"))?;
        let states = o.parse_arg(|t| CtStates::parse(t, &STATES))?;
        Ok(State { states: Negatable { value: states, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.states.negated, "state", self.states.value);
    }
}

impl Evaluate for State {
    /// `state_mt` in `xt_state.c`: the packet's state bit (INVALID when it has no connection, UNTRACKED when
    /// it is not tracked) is in the list; SNAT and DNAT do not exist here.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        super::conntrack::eval_states("state", &self.states, ctx, false)
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
        let v4 = Family::Ipv4;
        for same in [
            "-A INPUT -m state --state NEW -j ACCEPT",
            "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT",
            "-A INPUT -m state ! --state NEW -j ACCEPT",
            "-A INPUT -m state --state INVALID,UNTRACKED",
            "-A INPUT -m state --state NEW -m state --state ESTABLISHED -j ACCEPT",
            "-A INPUT -m state --state NEW -m conntrack --ctstate NEW -j ACCEPT",
        ] {
            assert_eq!(saved(v4, same), same);
        }
        assert_eq!(
            saved(v4, "-A INPUT -m state --state INVALID,NEW,ESTABLISHED,RELATED,UNTRACKED"),
            "-A INPUT -m state --state INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED"
        );
        assert_eq!(saved(Family::Ipv6, "-A INPUT -m state --state NEW"), "-A INPUT -m state --state NEW");
    }

    #[test]
    fn non_canonical_forms() {
        // Names in any case and order, an abbreviated option.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m state --sta established,related -j ACCEPT"),
            "-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A INPUT -m state --state SNAT"),
            (27, "`SNAT` is not a connection state (INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED)".into())
        );
        assert!(error("-A INPUT -m state --state NEW,").1.starts_with("`NEW,` has an empty item"));
        assert_eq!(error("-A INPUT -m state -j ACCEPT"), (10, "the state match needs `--state STATES`".into()));
        assert_eq!(error("-A INPUT -m state --state NEW --state ESTABLISHED").0, 31);
        assert_eq!(error("-A INPUT -m state --ctstate NEW").1, "unknown option `--ctstate`");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::{Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m state {options}")) {
                MatchKind::State(s) => s.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn state_bits() {
            let est = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 ack state established");
            let o = eval(&est, "--state RELATED,ESTABLISHED");
            assert!(o.holds);
            assert_eq!(o.why, "state is ESTABLISHED, which is in RELATED,ESTABLISHED, so this holds");
            let o = eval(&est, "! --state RELATED,ESTABLISHED");
            assert!(!o.holds);
            let mut dnat = Scene::new("tcp 203.0.113.7:40000 -> 10.0.0.5:80 in eth0 syn");
            dnat.ct.dnat = true;
            let o = eval(&dnat, "--state ESTABLISHED");
            assert_eq!(o.why, "state is NEW, which is not ESTABLISHED, so this does not hold");
        }

        #[test]
        fn before_conntrack_every_packet_is_invalid() {
            let mut raw = Scene::new("udp 192.0.2.1:5 -> 192.0.2.2:53 in eth0").at(Hook::Prerouting, TableName::Raw);
            raw.ct.state = crate::packet::CtState::Invalid;
            let o = eval(&raw, "--state INVALID");
            assert!(o.holds);
            assert_eq!(
                o.why,
                "state is INVALID (conntrack has not seen the packet yet in the raw table), which is INVALID, so this \
                 holds"
            );
        }
    }
}
