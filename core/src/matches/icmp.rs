//! `-m icmp --icmp-type`: the type and code of IPv4 ICMP messages (`libipt_icmp`, `icmp_match` in the
//! kernel's `net/ipv4/netfilter/ip_tables.c`). The type names and the way a type is read are shared with
//! `-m icmp6` ([`super::icmp6`]).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::L4;
use crate::ruleset::{Family, Negatable, Protocol};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The options of `-m icmp`. The kernel refuses the match unless the rule says `-p icmp` (not negated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Icmp {
    /// `--icmp-type`: the type (255 meaning any type) and the codes it covers.
    pub test: Negatable<IcmpTypeTest>,
}

/// A test of an ICMP or ICMPv6 header: its type is `icmp_type` and its code is within `code_min..=code_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IcmpTypeTest {
    /// The type. For IPv4 ICMP, [`IcmpTypeTest::ANY`] matches every message whatever its code.
    pub icmp_type: u8,
    /// The lowest code.
    pub code_min: u8,
    /// The highest code.
    pub code_max: u8,
}

impl IcmpTypeTest {
    /// The IPv4 type number that stands for "any type" (`--icmp-type any`); ICMPv6 has no such value.
    pub const ANY: u8 = 0xFF;

    /// Whether the test covers every code of its type.
    pub fn all_codes(&self) -> bool {
        self.code_min == 0 && self.code_max == 0xFF
    }
}

impl fmt::Display for IcmpTypeTest {
    /// `TYPE`, or `TYPE/CODE` when the test is about one code, as `iptables-save` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all_codes() {
            write!(f, "{}", self.icmp_type)
        } else {
            write!(f, "{}/{}", self.icmp_type, self.code_min)
        }
    }
}

/// A name `iptables` accepts for an ICMP type, or for one code of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IcmpName {
    /// The name as `iptables -h` lists it.
    pub name: &'static str,
    /// What it stands for.
    pub test: IcmpTypeTest,
}

/// An entry of a name table.
const fn name(name: &'static str, icmp_type: u8, code_min: u8, code_max: u8) -> IcmpName {
    IcmpName { name, test: IcmpTypeTest { icmp_type, code_min, code_max } }
}

/// The IPv4 type names, in `iptables -p icmp -h` order (which decides what an ambiguous prefix names).
pub(crate) const ICMP_NAMES: &[IcmpName] = &[
    name("any", 0xFF, 0, 0xFF),
    name("echo-reply", 0, 0, 0xFF),
    name("pong", 0, 0, 0xFF),
    name("destination-unreachable", 3, 0, 0xFF),
    name("network-unreachable", 3, 0, 0),
    name("host-unreachable", 3, 1, 1),
    name("protocol-unreachable", 3, 2, 2),
    name("port-unreachable", 3, 3, 3),
    name("fragmentation-needed", 3, 4, 4),
    name("source-route-failed", 3, 5, 5),
    name("network-unknown", 3, 6, 6),
    name("host-unknown", 3, 7, 7),
    name("network-prohibited", 3, 9, 9),
    name("host-prohibited", 3, 10, 10),
    name("TOS-network-unreachable", 3, 11, 11),
    name("TOS-host-unreachable", 3, 12, 12),
    name("communication-prohibited", 3, 13, 13),
    name("host-precedence-violation", 3, 14, 14),
    name("precedence-cutoff", 3, 15, 15),
    name("source-quench", 4, 0, 0xFF),
    name("redirect", 5, 0, 0xFF),
    name("network-redirect", 5, 0, 0),
    name("host-redirect", 5, 1, 1),
    name("TOS-network-redirect", 5, 2, 2),
    name("TOS-host-redirect", 5, 3, 3),
    name("echo-request", 8, 0, 0xFF),
    name("ping", 8, 0, 0xFF),
    name("router-advertisement", 9, 0, 0xFF),
    name("router-solicitation", 10, 0, 0xFF),
    name("time-exceeded", 11, 0, 0xFF),
    name("ttl-exceeded", 11, 0, 0xFF),
    name("ttl-zero-during-transit", 11, 0, 0),
    name("ttl-zero-during-reassembly", 11, 1, 1),
    name("parameter-problem", 12, 0, 0xFF),
    name("ip-header-bad", 12, 0, 0),
    name("required-option-missing", 12, 1, 1),
    name("timestamp-request", 13, 0, 0xFF),
    name("timestamp-reply", 14, 0, 0xFF),
    name("address-mask-request", 17, 0, 0xFF),
    name("address-mask-reply", 18, 0, 0xFF),
];

/// The IPv6 type names, in `ip6tables -p ipv6-icmp -h` order.
pub(crate) const ICMPV6_NAMES: &[IcmpName] = &[
    name("destination-unreachable", 1, 0, 0xFF),
    name("no-route", 1, 0, 0),
    name("communication-prohibited", 1, 1, 1),
    name("beyond-scope", 1, 2, 2),
    name("address-unreachable", 1, 3, 3),
    name("port-unreachable", 1, 4, 4),
    name("failed-policy", 1, 5, 5),
    name("reject-route", 1, 6, 6),
    name("packet-too-big", 2, 0, 0xFF),
    name("time-exceeded", 3, 0, 0xFF),
    name("ttl-exceeded", 3, 0, 0xFF),
    name("ttl-zero-during-transit", 3, 0, 0),
    name("ttl-zero-during-reassembly", 3, 1, 1),
    name("parameter-problem", 4, 0, 0xFF),
    name("bad-header", 4, 0, 0),
    name("unknown-header-type", 4, 1, 1),
    name("unknown-option", 4, 2, 2),
    name("echo-request", 128, 0, 0xFF),
    name("ping", 128, 0, 0xFF),
    name("echo-reply", 129, 0, 0xFF),
    name("pong", 129, 0, 0xFF),
    name("router-solicitation", 133, 0, 0xFF),
    name("router-advertisement", 134, 0, 0xFF),
    name("neighbour-solicitation", 135, 0, 0xFF),
    name("neighbor-solicitation", 135, 0, 0xFF),
    name("neighbour-advertisement", 136, 0, 0xFF),
    name("neighbor-advertisement", 136, 0, 0xFF),
    name("redirect", 137, 0, 0xFF),
];

/// Reads a type as `iptables` does: a name or any unambiguous start of one (any case) from `names`, or
/// `TYPE` or `TYPE/CODE` in C notation. `what` is `ICMP` or `ICMPv6`, for the messages.
pub(crate) fn parse_type(text: &str, names: &[IcmpName], what: &str) -> Result<IcmpTypeTest, String> {
    let mut found: Option<&IcmpName> = None;
    for n in names {
        let starts =
            n.name.len() >= text.len() && n.name.as_bytes()[..text.len()].eq_ignore_ascii_case(text.as_bytes());
        if starts {
            if let Some(first) = found {
                return Err(format!("{what} type `{text}` is ambiguous: it could be `{}` or `{}`", first.name, n.name));
            }
            found = Some(n);
        }
    }
    if let Some(n) = found {
        return Ok(n.test);
    }
    let unknown_type = || {
        format!("`{text}` is not an {what} type: give a type name, or a number from 0 to 255 with an optional `/CODE`")
    };
    let (icmp_type, rest) = number_prefix(text).filter(|&(n, _)| n <= 0xFF).ok_or_else(unknown_type)?;
    let (codes, rest) = match rest.strip_prefix('/') {
        None => ((0, 0xFF), rest),
        Some(after) => {
            let (code, rest) = number_prefix(after)
                .filter(|&(n, _)| n <= 0xFF)
                .ok_or_else(|| format!("`{text}`: after the `/` comes the {what} code, a number from 0 to 255"))?;
            ((code, code), rest)
        }
    };
    if let Some(c) = rest.chars().next() {
        return Err(format!("unexpected `{c}` in {what} type `{text}`"));
    }
    Ok(IcmpTypeTest { icmp_type: icmp_type as u8, code_min: codes.0 as u8, code_max: codes.1 as u8 })
}

/// Reads a number in C notation (decimal, `0x` hex, `0` octal) from the start of `text` as `strtoul` with
/// base 0 does (blanks and a sign before it allowed), and returns it with the rest of the text; `None` when
/// no digit comes first. A value too large for 64 bits, or one after a `-` (even `-0`: iptables'
/// `xtables_strtoul` refuses a minus before calling `strtoul`), comes back too large for any use.
pub(crate) fn number_prefix(text: &str) -> Option<(u64, &str)> {
    let t = text.trim_start_matches(crate::values::C_SPACE);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'+') => (false, &t[1..]),
        Some(b'-') => (true, &t[1..]),
        _ => (false, t),
    };
    let hex = t.len() > 2 && (t.starts_with("0x") || t.starts_with("0X")) && t.as_bytes()[2].is_ascii_hexdigit();
    let (radix, digits) = if hex {
        (16, &t[2..])
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let len = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    if len == 0 {
        return None;
    }
    let value = u64::from_str_radix(&digits[..len], radix).unwrap_or(u64::MAX);
    let value = if negative { u64::MAX } else { value };
    Some((value, &digits[len..]))
}

impl Extension for Icmp {
    const OPTIONS: &'static [OptSpec] = &[opt("icmp-type", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Icmp, Diagnostic> {
        if ctx.family != Family::Ipv4 {
            return Err(ctx
                .error("ip6tables has no icmp match: it is for IPv4 only")
                .with_hint("for ICMPv6 write `-p ipv6-icmp -m icmp6 --icmpv6-type TYPE`"));
        }
        let o = find(opts, "icmp-type")?.ok_or_else(|| ctx.error("the icmp match needs `--icmp-type TYPE`"))?;
        let test = o.parse_arg(|t| parse_type(t, ICMP_NAMES, "ICMP"))?;
        ctx.require_proto("the icmp match", &[Protocol::ICMP])?;
        Ok(Icmp { test: Negatable { value: test, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt(out, self.test.negated, "icmp-type");
        if self.test.value.icmp_type == IcmpTypeTest::ANY {
            out.push_str(" any");
        } else {
            out.push_str(&format!(" {}", self.test.value));
        }
    }
}

/// How a type test reads in a sentence: `type 8 (echo-request)`, `type 3/3 (port-unreachable)`.
fn describe(test: IcmpTypeTest, names: &[IcmpName]) -> String {
    match names.iter().find(|n| n.test == test) {
        Some(n) => format!("type {test} ({})", n.name),
        None => format!("type {test}"),
    }
}

/// Tests an ICMP or ICMPv6 header against `--icmp-type` or `--icmpv6-type` (`icmp_type_code_match` in
/// `ip_tables.c`, `icmp6_type_code_match` in `ip6_tables.c`). `any` is [`IcmpTypeTest::ANY`] for IPv4 only.
pub(crate) fn eval_type(
    test: &Negatable<IcmpTypeTest>,
    names: &[IcmpName],
    any: bool,
    icmp_type: u8,
    code: u8,
) -> Outcome {
    let t = test.value;
    if any && t.icmp_type == IcmpTypeTest::ANY {
        return conclude(true, test.negated, format!("TYPE={icmp_type} is an ICMP type, and `any` covers every one"));
    }
    let is = icmp_type == t.icmp_type && (t.code_min..=t.code_max).contains(&code);
    let fact = if t.all_codes() {
        format!("TYPE={icmp_type} {} {}", if is { "is" } else { "is not" }, describe(t, names))
    } else {
        format!("TYPE={icmp_type} CODE={code} {} {}", if is { "is" } else { "is not" }, describe(t, names))
    };
    conclude(is, test.negated, fact)
}

impl Evaluate for Icmp {
    /// `icmp_match` in `ip_tables.c`: a later fragment never matches (not even with `!`); type `any` matches
    /// every ICMP message.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no ICMP header, so the icmp match does not match it, `!` or not");
        }
        let L4::Icmp { icmp_type, code } = ctx.pkt.l4 else {
            return Outcome::no("the packet is not ICMP");
        };
        eval_type(&self.test, ICMP_NAMES, true, icmp_type, code)
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
    fn every_name_prints_as_iptables_save_prints_it() {
        // What iptables-save 1.8.9 printed for `-p icmp --icmp-type NAME`.
        let expected = [
            ("any", "any"),
            ("echo-reply", "0"),
            ("pong", "0"),
            ("destination-unreachable", "3"),
            ("network-unreachable", "3/0"),
            ("host-unreachable", "3/1"),
            ("protocol-unreachable", "3/2"),
            ("port-unreachable", "3/3"),
            ("fragmentation-needed", "3/4"),
            ("source-route-failed", "3/5"),
            ("network-unknown", "3/6"),
            ("host-unknown", "3/7"),
            ("network-prohibited", "3/9"),
            ("host-prohibited", "3/10"),
            ("TOS-network-unreachable", "3/11"),
            ("TOS-host-unreachable", "3/12"),
            ("communication-prohibited", "3/13"),
            ("host-precedence-violation", "3/14"),
            ("precedence-cutoff", "3/15"),
            ("source-quench", "4"),
            ("redirect", "5"),
            ("network-redirect", "5/0"),
            ("host-redirect", "5/1"),
            ("TOS-network-redirect", "5/2"),
            ("TOS-host-redirect", "5/3"),
            ("echo-request", "8"),
            ("ping", "8"),
            ("router-advertisement", "9"),
            ("router-solicitation", "10"),
            ("time-exceeded", "11"),
            ("ttl-exceeded", "11"),
            ("ttl-zero-during-transit", "11/0"),
            ("ttl-zero-during-reassembly", "11/1"),
            ("parameter-problem", "12"),
            ("ip-header-bad", "12/0"),
            ("required-option-missing", "12/1"),
            ("timestamp-request", "13"),
            ("timestamp-reply", "14"),
            ("address-mask-request", "17"),
            ("address-mask-reply", "18"),
        ];
        assert_eq!(expected.len(), ICMP_NAMES.len());
        for (name, number) in expected {
            assert_eq!(
                saved(&format!("-A INPUT -p icmp --icmp-type {name} -j ACCEPT")),
                format!("-A INPUT -p icmp -m icmp --icmp-type {number} -j ACCEPT"),
            );
        }
    }

    #[test]
    fn numbers_and_codes() {
        let cases = [
            ("3/3", "3/3"),
            ("3/255", "3/255"),
            ("8/0", "8/0"),
            ("42", "42"),
            ("255", "any"),
            ("255/0", "any"),
            ("0x08", "8"),
            ("010", "8"),
            ("3/0x3", "3/3"),
            ("3/010", "3/8"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(&format!("-A INPUT -p icmp -m icmp --icmp-type {given}")),
                format!("-A INPUT -p icmp -m icmp --icmp-type {printed}"),
            );
        }
        assert_eq!(saved("-A INPUT -p icmp -m icmp ! --icmp-type any"), "-A INPUT -p icmp -m icmp ! --icmp-type any");
    }

    #[test]
    fn non_canonical_forms() {
        // No `-m icmp`, a protocol number, names in any case, prefixes of names and of the option.
        assert_eq!(
            saved("-A INPUT -p 1 --icmp-type Echo-Request -j ACCEPT"),
            "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT"
        );
        assert_eq!(saved("-A INPUT -p ICMP --icmp echo-rep"), "-A INPUT -p icmp -m icmp --icmp-type 0");
        assert_eq!(saved("-A INPUT -p icmp --icmp-ty tos-host-r"), "-A INPUT -p icmp -m icmp --icmp-type 5/3");
        assert_eq!(saved("-A INPUT -p icmp --icmp-type an"), "-A INPUT -p icmp -m icmp --icmp-type any");
        assert_eq!(saved("-A INPUT -p icmp ! --icmp-type echo-request"), "-A INPUT -p icmp -m icmp ! --icmp-type 8");
    }

    #[test]
    fn bad_types() {
        let v4 = Family::Ipv4;
        assert_eq!(
            error(v4, "-A INPUT -p icmp --icmp-type echo"),
            (30, "ICMP type `echo` is ambiguous: it could be `echo-reply` or `echo-request`".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -p icmp --icmp-type ttl").1,
            "ICMP type `ttl` is ambiguous: it could be `ttl-exceeded` or `ttl-zero-during-transit`"
        );
        assert_eq!(
            error(v4, "-A INPUT -p icmp --icmp-type bogus"),
            (
                30,
                "`bogus` is not an ICMP type: give a type name, or a number from 0 to 255 with an optional `/CODE`"
                    .into()
            )
        );
        assert!(error(v4, "-A INPUT -p icmp --icmp-type 256").1.starts_with("`256` is not an ICMP type"));
        assert!(error(v4, "-A INPUT -p icmp --icmp-type -1").1.starts_with("`-1` is not an ICMP type"));
        assert!(error(v4, "-A INPUT -p icmp --icmp-type /0").1.starts_with("`/0` is not an ICMP type"));
        assert_eq!(
            error(v4, "-A INPUT -p icmp --icmp-type 3/256").1,
            "`3/256`: after the `/` comes the ICMP code, a number from 0 to 255"
        );
        assert_eq!(
            error(v4, "-A INPUT -p icmp --icmp-type 8/").1,
            "`8/`: after the `/` comes the ICMP code, a number from 0 to 255"
        );
        assert_eq!(error(v4, "-A INPUT -p icmp --icmp-type 8x").1, "unexpected `x` in ICMP type `8x`");
        assert_eq!(error(v4, "-A INPUT -p icmp --icmp-type 8/1/2").1, "unexpected `/` in ICMP type `8/1/2`");
    }

    #[test]
    fn misuse() {
        let v4 = Family::Ipv4;
        assert_eq!(
            error(v4, "-A INPUT -p icmp -m icmp -j ACCEPT"),
            (18, "the icmp match needs `--icmp-type TYPE`".into())
        );
        assert_eq!(
            error(v4, "-A INPUT -p tcp -m icmp --icmp-type 8"),
            (17, "the icmp match needs the rule to say -p icmp".into())
        );
        assert_eq!(error(v4, "-A INPUT ! -p icmp -m icmp --icmp-type 8").0, 20);
        assert_eq!(error(v4, "-A INPUT -p icmp --icmp-type 8 --icmp-type 0").0, 32);
        assert_eq!(
            error(Family::Ipv6, "-A INPUT -p icmp -m icmp --icmp-type 8"),
            (18, "ip6tables has no icmp match: it is for IPv4 only".into())
        );
    }

    #[test]
    fn reads_numbers_as_strtoul_does() {
        assert_eq!(number_prefix("0x1fz"), Some((31, "z")));
        assert_eq!(number_prefix(" +8/"), Some((8, "/")));
        assert_eq!(number_prefix("08"), Some((0, "8")));
        assert_eq!(number_prefix("0x"), Some((0, "x")));
        assert_eq!(number_prefix("x"), None);
        assert!(number_prefix("-1").is_some_and(|(n, _)| n > 255));
        assert!(number_prefix(" -0").is_some_and(|(n, _)| n > 255));
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, rule: &str) -> Outcome {
            match first_match(Family::Ipv4, rule) {
                MatchKind::Icmp(i) => i.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn type_and_code() {
            let ping = Scene::new("icmp 192.0.2.1 -> 192.0.2.2 in eth0 type 8 code 0");
            let o = eval(&ping, "-p icmp --icmp-type echo-request");
            assert!(o.holds);
            assert_eq!(o.why, "TYPE=8 is type 8 (echo-request), so this holds");
            let o = eval(&ping, "-p icmp ! --icmp-type echo-request");
            assert!(!o.holds);
            let unreach = Scene::new("icmp 192.0.2.1 -> 192.0.2.2 in eth0 type 3 code 1");
            let o = eval(&unreach, "-p icmp --icmp-type port-unreachable");
            assert!(!o.holds);
            assert_eq!(o.why, "TYPE=3 CODE=1 is not type 3/3 (port-unreachable), so this does not hold");
            assert!(eval(&unreach, "-p icmp --icmp-type 3").holds);
            assert_eq!(
                eval(&unreach, "-p icmp --icmp-type 3/1").why,
                "TYPE=3 CODE=1 is type 3/1 (host-unreachable), so this holds"
            );
        }

        #[test]
        fn any_matches_every_message() {
            let odd = Scene::new("icmp 192.0.2.1 -> 192.0.2.2 in eth0 type 42 code 7");
            let o = eval(&odd, "-p icmp --icmp-type any");
            assert!(o.holds);
            assert!(o.why.contains("`any` covers every one"));
            assert!(!eval(&odd, "-p icmp ! --icmp-type any").holds);
        }

        #[test]
        fn later_fragments_never_match() {
            let mut frag = Scene::new("icmp 192.0.2.1 -> 192.0.2.2 in eth0");
            frag.pkt.fragment_offset = 1;
            let o = eval(&frag, "-p icmp ! --icmp-type echo-reply");
            assert!(!o.holds);
            assert!(o.why.starts_with("a later fragment has no ICMP header"));
        }
    }
}
