//! `-m physdev`: the bridge ports a bridged packet came in on and goes out of (`libxt_physdev`, the
//! kernel's `xt_physdev.c`). It sees them only when `br_netfilter` passes bridged traffic through iptables.

use super::conntrack::{all_of, in_list};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Hook, Interface, Negatable};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m physdev`; at least one must be given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Physdev {
    /// `--physdev-in NAME[+]`: the bridge port the packet came in on.
    pub physdev_in: Option<Negatable<Interface>>,
    /// `--physdev-out NAME[+]`: the bridge port the packet will leave through.
    pub physdev_out: Option<Negatable<Interface>>,
    /// `--physdev-is-in`: the packet came in on a bridge port.
    pub is_in: Option<Negatable<()>>,
    /// `--physdev-is-out`: the packet will leave through a bridge port.
    pub is_out: Option<Negatable<()>>,
    /// `--physdev-is-bridged`: the packet is being bridged, not routed.
    pub is_bridged: Option<Negatable<()>>,
}

impl Physdev {
    /// The hooks (as [`Hook::bit`]s) the kernel lets a rule with this match be reached from: the output
    /// port of a packet is known in OUTPUT only for bridged traffic, so `--physdev-out` and `--physdev-is-out`
    /// without a plain `--physdev-is-bridged` are refused there (`physdev_mt_check`).
    pub fn hooks(&self) -> u8 {
        let all = Hook::ALL.iter().fold(0, |bits, h| bits | h.bit());
        let about_out = self.physdev_out.is_some() || self.is_out.is_some();
        let bridged = self.is_bridged.as_ref().is_some_and(|b| !b.negated);
        if about_out && !bridged {
            all & !Hook::Output.bit()
        } else {
            all
        }
    }
}

fn device(opts: &[Opt<'_>], name: &str) -> Result<Option<Negatable<Interface>>, Diagnostic> {
    match find(opts, name)? {
        Some(o) => Ok(Some(Negatable { value: o.parse_arg(Interface::parse)?, negated: o.negated, span: o.span })),
        None => Ok(None),
    }
}

fn test(opts: &[Opt<'_>], name: &str) -> Result<Option<Negatable<()>>, Diagnostic> {
    Ok(find(opts, name)?.map(|o| Negatable { value: (), negated: o.negated, span: o.span }))
}

impl Extension for Physdev {
    const OPTIONS: &'static [OptSpec] = &[
        opt("physdev-in", Args::One),
        opt("physdev-out", Args::One),
        opt("physdev-is-in", Args::Zero),
        opt("physdev-is-out", Args::Zero),
        opt("physdev-is-bridged", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Physdev, Diagnostic> {
        let m = Physdev {
            physdev_in: device(opts, "physdev-in")?,
            physdev_out: device(opts, "physdev-out")?,
            is_in: test(opts, "physdev-is-in")?,
            is_out: test(opts, "physdev-is-out")?,
            is_bridged: test(opts, "physdev-is-bridged")?,
        };
        if m == Physdev::default() {
            return Err(ctx
                .error("the physdev match needs at least one of its options")
                .with_hint("--physdev-in, --physdev-out, --physdev-is-in, --physdev-is-out, --physdev-is-bridged"));
        }
        Ok(m)
    }

    /// The order of `physdev_save`: is-in, in, is-out, out, is-bridged. Names print as they are, unquoted.
    fn save(&self, out: &mut String) {
        let flag = |out: &mut String, t: &Option<Negatable<()>>, name: &str| {
            if let Some(t) = t {
                save_opt(out, t.negated, name);
            }
        };
        let dev = |out: &mut String, d: &Option<Negatable<Interface>>, name: &str| {
            if let Some(d) = d {
                save_opt_value(out, d.negated, name, d.value);
            }
        };
        flag(out, &self.is_in, "physdev-is-in");
        dev(out, &self.physdev_in, "physdev-in");
        flag(out, &self.is_out, "physdev-is-out");
        dev(out, &self.physdev_out, "physdev-out");
        flag(out, &self.is_bridged, "physdev-is-bridged");
    }
}

/// A test of whether the packet has a bridge port (`--physdev-is-in`, `--physdev-is-out`,
/// `--physdev-is-bridged`): `fact` says what the packet has.
fn eval_has(test: &Option<Negatable<()>>, has: bool, fact: String) -> Option<Outcome> {
    test.as_ref().map(|t| conclude(has, t.negated, fact))
}

/// `--physdev-in`/`--physdev-out` against the port the packet has (`key` is `PHYSIN` or `PHYSOUT`).
fn eval_port(key: &str, actual: &str, test: &Negatable<Interface>) -> Outcome {
    let is = test.value.matches(actual);
    let fact = if test.value.is_wildcard() {
        let prefix = test.value.name().trim_end_matches('+');
        format!("{key}={actual} {} with {prefix}", if is { "starts" } else { "does not start" })
    } else {
        format!("{key}={actual} {}", in_list(is, test.value, true))
    };
    conclude(is, test.negated, fact)
}

impl Evaluate for Physdev {
    /// `physdev_mt` in `xt_physdev.c`. A packet that did not cross a bridge (no `PHYSIN=` or `PHYSOUT=`)
    /// matches only when every option given is negated. Otherwise: is-bridged (the output port is known),
    /// is-in, is-out, the input port (skipped when there is none), then the output port (no match without one,
    /// `!` or not). The bridge picks the output port before FORWARD, so before it the port is not known yet.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let pkt = ctx.pkt;
        if pkt.physin.is_none() && pkt.physout.is_none() {
            let tests = [&self.is_bridged, &self.is_in, &self.is_out];
            let all_negated = tests.iter().filter_map(|t| t.as_ref()).all(|t| t.negated)
                && [&self.physdev_in, &self.physdev_out].iter().filter_map(|d| d.as_ref()).all(|d| d.negated);
            return Outcome::when(
                all_negated,
                format!(
                    "the packet has no PHYSIN= or PHYSOUT=, so it did not cross a bridge, and the physdev match then {} \
                     (give PHYSIN=/PHYSOUT= for a bridged packet)",
                    if all_negated { "matches, as every option given is negated" } else { "does not match" }
                ),
            );
        }
        let out_known = matches!(ctx.hook, Hook::Forward | Hook::Postrouting);
        let outdev = pkt.physout.as_deref().filter(|_| out_known);
        let no_out = match &pkt.physout {
            Some(port) => format!(
                "PHYSOUT={port} is not known yet in {} (the bridge picks the output port before FORWARD)",
                ctx.hook.chain_name()
            ),
            None => "the packet has no PHYSOUT=, so it is not bridged".to_string(),
        };
        let out_fact = |what: &str| match outdev {
            Some(port) => format!("PHYSOUT={port}, so the packet {what}"),
            None => no_out.clone(),
        };
        let mut outcomes = Vec::new();
        outcomes.extend(eval_has(&self.is_bridged, outdev.is_some(), out_fact("is bridged")));
        let in_fact = match &pkt.physin {
            Some(port) => format!("PHYSIN={port}, so the packet came in on a bridge port"),
            None => "the packet has no PHYSIN=, so it did not come in on a bridge port".to_string(),
        };
        outcomes.extend(eval_has(&self.is_in, pkt.physin.is_some(), in_fact));
        outcomes.extend(eval_has(&self.is_out, outdev.is_some(), out_fact("leaves through a bridge port")));
        if let Some(test) = &self.physdev_in {
            outcomes.push(match &pkt.physin {
                Some(port) => eval_port("PHYSIN", port, test),
                None => Outcome::yes(
                    "the packet has no PHYSIN=, and the kernel then skips --physdev-in, so this holds".to_string(),
                ),
            });
        }
        if let Some(test) = &self.physdev_out {
            outcomes.push(match outdev {
                Some(port) => eval_port("PHYSOUT", port, test),
                None => Outcome::no(format!("{no_out}, and --physdev-out then does not match, `!` or not")),
            });
        }
        all_of(outcomes, "the packet crossed a bridge")
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::{Family, Hook};

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule as chainwalk prints it back (chain name included), after checking that it loaded cleanly.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let chain = line.split(' ').nth(1).unwrap_or_default();
        let mut out = format!("-A {chain}");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain(chain).unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 2) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    fn physdev(line: &str) -> super::Physdev {
        let p = parsed(line);
        match &p.ruleset.tables[0].chain("FORWARD").unwrap().rules[0].matches[0].kind {
            crate::matches::MatchKind::Physdev(m) => (**m).clone(),
            other => panic!("not physdev: {other:?}"),
        }
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "-A FORWARD -m physdev --physdev-in eth0 -j ACCEPT",
            "-A FORWARD -m physdev --physdev-out eth1 -j ACCEPT",
            "-A FORWARD -m physdev ! --physdev-is-bridged -j ACCEPT",
            "-A FORWARD -m physdev ! --physdev-is-in ! --physdev-is-out -j ACCEPT",
            "-A FORWARD -m physdev --physdev-in eth+ --physdev-out eth1 -j ACCEPT",
            "-A FORWARD -m physdev ! --physdev-in eth0 -j ACCEPT",
            "-A FORWARD -m physdev --physdev-in + -j ACCEPT",
            "-A OUTPUT -m physdev --physdev-out eth1 --physdev-is-bridged -j ACCEPT",
            "-A INPUT -m physdev --physdev-out eth0 -j ACCEPT",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them: a fixed order, and names unquoted whatever they hold.
        assert_eq!(
            saved("-A FORWARD -m physdev --physdev-out eth1 --physdev-in eth0 -j ACCEPT"),
            "-A FORWARD -m physdev --physdev-in eth0 --physdev-out eth1 -j ACCEPT"
        );
        assert_eq!(
            saved("-A FORWARD -m physdev --physdev-in eth0 --physdev-is-bridged --physdev-is-out --physdev-out eth1 --physdev-is-in -j ACCEPT"),
            "-A FORWARD -m physdev --physdev-is-in --physdev-in eth0 --physdev-is-out --physdev-out eth1 --physdev-is-bridged -j ACCEPT"
        );
        assert_eq!(
            saved("-A FORWARD -m physdev --physdev-in \"a b\" -j ACCEPT"),
            "-A FORWARD -m physdev --physdev-in a b -j ACCEPT"
        );
    }

    #[test]
    fn hooks_where_the_kernel_allows_it() {
        let all = Hook::ALL.iter().fold(0, |b, h| b | h.bit());
        assert_eq!(physdev("-A FORWARD -m physdev --physdev-in eth0").hooks(), all);
        assert_eq!(physdev("-A FORWARD -m physdev --physdev-out eth0").hooks(), all & !Hook::Output.bit());
        assert_eq!(
            physdev("-A FORWARD -m physdev --physdev-is-out ! --physdev-is-bridged").hooks(),
            all & !Hook::Output.bit()
        );
        assert_eq!(physdev("-A FORWARD -m physdev --physdev-is-out --physdev-is-bridged").hooks(), all);
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A FORWARD -m physdev -j ACCEPT"),
            (12, "the physdev match needs at least one of its options".into())
        );
        assert_eq!(
            error("-A FORWARD -m physdev --physdev-in averylongifname12345 -j ACCEPT"),
            (36, "interface name `averylongifname12345` is longer than 15 characters".into())
        );
        assert_eq!(
            error("-A FORWARD -m physdev --physdev-in eth0 --physdev-in eth1"),
            (41, "`--physdev-in` is given more than once".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::{Family, Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m physdev {options}")) {
                MatchKind::Physdev(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        const BRIDGED: &str = "tcp 10.0.0.7:40000 -> 10.0.0.9:80 in br0 out br0 physin veth1 physout veth2 syn";

        #[test]
        fn ports_of_a_bridged_packet() {
            let s = Scene::new(BRIDGED).at(Hook::Forward, TableName::Filter);
            let o = eval(&s, "--physdev-in veth1");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "PHYSIN=veth1 is veth1, so this holds");
            let o = eval(&s, "--physdev-out veth+");
            assert_eq!(o.why, "PHYSOUT=veth2 starts with veth, so this holds");
            let o = eval(&s, "! --physdev-in veth1");
            assert!(!o.holds);
            assert_eq!(o.why, "PHYSIN=veth1 is veth1, so this does not hold");
            let o = eval(&s, "--physdev-is-bridged --physdev-out eth0");
            assert!(!o.holds);
            assert_eq!(o.why, "PHYSOUT=veth2 is not eth0, so this does not hold");
            let o = eval(&s, "--physdev-is-bridged");
            assert_eq!(o.why, "PHYSOUT=veth2, so the packet is bridged, so this holds");
        }

        #[test]
        fn the_output_port_is_known_from_forward_on() {
            let s = Scene::new(BRIDGED).at(Hook::Prerouting, TableName::Mangle);
            let o = eval(&s, "--physdev-is-bridged");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "PHYSOUT=veth2 is not known yet in PREROUTING (the bridge picks the output port before FORWARD), so \
                 this does not hold"
            );
            let o = eval(&s, "! --physdev-out veth2");
            assert!(!o.holds);
            assert!(o.why.ends_with("and --physdev-out then does not match, `!` or not"), "{}", o.why);
            assert!(eval(&s, "--physdev-is-in ! --physdev-is-bridged").holds);
        }

        #[test]
        fn routed_from_a_bridge_port() {
            let s = Scene::new("tcp 10.0.0.7:40000 -> 192.0.2.9:80 in br0 physin veth1 syn");
            let o = eval(&s, "--physdev-is-in --physdev-in eth+");
            assert!(!o.holds);
            assert_eq!(o.why, "PHYSIN=veth1 does not start with eth, so this does not hold");
            let o = eval(&s, "--physdev-is-in");
            assert_eq!(o.why, "PHYSIN=veth1, so the packet came in on a bridge port, so this holds");
        }

        #[test]
        fn without_a_bridge_only_negations_match() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let o = eval(&s, "--physdev-is-bridged");
            assert!(!o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "the packet has no PHYSIN= or PHYSOUT=, so it did not cross a bridge, and the physdev match then does \
                 not match (give PHYSIN=/PHYSOUT= for a bridged packet)"
            );
            assert!(eval(&s, "! --physdev-is-bridged").holds);
            assert!(eval(&s, "! --physdev-is-in ! --physdev-in veth1").holds);
            assert!(!eval(&s, "! --physdev-is-in --physdev-in veth1").holds);
        }
    }
}
