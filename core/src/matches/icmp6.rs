//! `-m icmp6 --icmpv6-type`: the type and code of ICMPv6 messages (`libip6t_icmp6`, `icmp6_match` in the
//! kernel's `net/ipv6/netfilter/ip6_tables.c`).

use super::icmp::{parse_type, IcmpTypeTest, ICMPV6_NAMES};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::L4;
use crate::ruleset::{Family, Negatable, Protocol};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m icmp6`. The kernel refuses the match unless the rule says `-p ipv6-icmp` (not
/// negated). Unlike IPv4, type 255 is an ordinary type here, not "any".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Icmp6 {
    /// `--icmpv6-type`: the type and the codes it covers.
    pub test: Negatable<IcmpTypeTest>,
}

impl Extension for Icmp6 {
    const OPTIONS: &'static [OptSpec] = &[opt("icmpv6-type", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Icmp6, Diagnostic> {
        if ctx.family != Family::Ipv6 {
            return Err(ctx
                .error("iptables has no icmp6 match: it is for IPv6 only")
                .with_hint("for IPv4 ICMP write `-p icmp -m icmp --icmp-type TYPE`"));
        }
        let o = find(opts, "icmpv6-type")?.ok_or_else(|| ctx.error("the icmp6 match needs `--icmpv6-type TYPE`"))?;
        let test = o.parse_arg(|t| parse_type(t, ICMPV6_NAMES, "ICMPv6"))?;
        ctx.require_proto("the icmp6 match", &[Protocol::ICMPV6])?;
        Ok(Icmp6 { test: Negatable { value: test, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.test.negated, "icmpv6-type", self.test.value);
    }
}

impl Evaluate for Icmp6 {
    /// `icmp6_match` in `ip6_tables.c`: a later fragment never matches (not even with `!`); there is no "any"
    /// type.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no(
                "a later fragment has no ICMPv6 header, so the icmp6 match does not match it, `!` or not",
            );
        }
        let L4::Icmpv6 { icmp_type, code } = ctx.pkt.l4 else {
            return Outcome::no("the packet is not ICMPv6");
        };
        super::icmp::eval_type(&self.test, ICMPV6_NAMES, false, icmp_type, code)
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
    fn names_and_numbers_print_as_ip6tables_save_prints_them() {
        // What ip6tables-save 1.8.9 printed after `--icmpv6-type GIVEN`.
        let cases = [
            ("echo-request", "128"),
            ("ping", "128"),
            ("echo-reply", "129"),
            ("destination-unreachable", "1"),
            ("no-route", "1/0"),
            ("reject-route", "1/6"),
            ("ttl-zero-during-transit", "3/0"),
            ("neighbor-solicitation", "135"),
            ("neighbour-advertisement", "136"),
            ("redirect", "137"),
            ("1/3", "1/3"),
            ("1/255", "1/255"),
            ("255", "255"),
            ("255/3", "255/3"),
            ("0x80", "128"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(&format!("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type {given}")),
                format!("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type {printed}"),
            );
        }
        assert_eq!(
            saved("-A INPUT -p ipv6-icmp -m icmp6 ! --icmpv6-type 128"),
            "-A INPUT -p ipv6-icmp -m icmp6 ! --icmpv6-type 128"
        );
    }

    #[test]
    fn non_canonical_forms() {
        // No `-m icmp6`, a protocol number, an abbreviated option.
        assert_eq!(
            saved("-A INPUT -p 58 --icmpv6 PING -j ACCEPT"),
            "-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT"
        );
    }

    #[test]
    fn errors() {
        let v6 = Family::Ipv6;
        assert_eq!(
            error(v6, "-A INPUT -p ipv6-icmp --icmpv6-type any"),
            (
                37,
                "`any` is not an ICMPv6 type: give a type name, or a number from 0 to 255 with an optional `/CODE`"
                    .into()
            )
        );
        assert_eq!(
            error(v6, "-A INPUT -p ipv6-icmp --icmpv6-type pa").1,
            "ICMPv6 type `pa` is ambiguous: it could be `packet-too-big` or `parameter-problem`"
        );
        assert_eq!(
            error(v6, "-A INPUT -p ipv6-icmp -m icmp6"),
            (23, "the icmp6 match needs `--icmpv6-type TYPE`".into())
        );
        assert_eq!(
            error(v6, "-A INPUT -p tcp -m icmp6 --icmpv6-type 128"),
            (17, "the icmp6 match needs the rule to say -p ipv6-icmp".into())
        );
        assert_eq!(
            error(Family::Ipv4, "-A INPUT -p icmp -m icmp6 --icmpv6-type 128"),
            (18, "iptables has no icmp6 match: it is for IPv6 only".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, rule: &str) -> Outcome {
            match first_match(Family::Ipv6, rule) {
                MatchKind::Icmp6(i) => i.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn type_and_code() {
            let ns = Scene::new("icmpv6 fe80::1 -> ff02::1:ff00:2 in eth0 type 135 code 0");
            let o = eval(&ns, "-p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation");
            assert!(o.holds);
            assert_eq!(o.why, "TYPE=135 is type 135 (neighbour-solicitation), so this holds");
            let o = eval(&ns, "-p ipv6-icmp -m icmp6 ! --icmpv6-type echo-request");
            assert!(o.holds);
            assert_eq!(o.why, "TYPE=135 is not type 128 (echo-request), so this holds");
            let o = eval(&ns, "-p ipv6-icmp -m icmp6 --icmpv6-type 1/4");
            assert_eq!(o.why, "TYPE=135 CODE=0 is not type 1/4 (port-unreachable), so this does not hold");
            // 255 is an ordinary type for ICMPv6.
            assert!(!eval(&ns, "-p ipv6-icmp -m icmp6 --icmpv6-type 255").holds);
        }

        #[test]
        fn later_fragments_never_match() {
            let mut frag = Scene::new("icmpv6 2001:db8::1 -> 2001:db8::2 in eth0");
            frag.pkt.fragment_offset = 1;
            assert!(!eval(&frag, "-p ipv6-icmp -m icmp6 ! --icmpv6-type 1").holds);
        }
    }
}
