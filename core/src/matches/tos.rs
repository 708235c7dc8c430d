//! `-m tos --tos VALUE[/MASK]`: the IPv4 TOS byte or the IPv6 traffic class, under a mask (`libxt_tos`,
//! revision 1 of the kernel's `xt_dscp.c`).

use super::icmp::number_prefix;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Family;
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The options of `-m tos`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tos {
    /// `--tos`: the packet matches when `tos & mask == value`.
    pub tos: Negatable<TosMask>,
}

/// A TOS value with a mask. The value is kept as given, even with bits outside the mask (then nothing
/// matches).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TosMask {
    /// The value.
    pub value: u8,
    /// The mask: 0xff for a number without one, 0x3f (leaving out the two high precedence bits) for a symbolic
    /// name.
    pub mask: u8,
}

/// The symbolic names of RFC 1349 TOS values `iptables` knows (any case).
const NAMES: [(&str, u8); 5] = [
    ("Minimize-Delay", 0x10),
    ("Maximize-Throughput", 0x08),
    ("Maximize-Reliability", 0x04),
    ("Minimize-Cost", 0x02),
    ("Normal-Service", 0x00),
];

impl TosMask {
    /// Reads `VALUE[/MASK]` with numbers in C notation from 0 to 255, or a symbolic name.
    pub fn parse(text: &str) -> Result<TosMask, String> {
        fn number(s: &str) -> Option<(u64, &str)> {
            number_prefix(s).filter(|&(n, _)| n <= 0xFF)
        }
        let Some((value, rest)) = number(text) else {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            return NAMES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(text))
                .map(|&(_, value)| TosMask { value, mask: 0x3F })
                .ok_or_else(|| {
                    format!(
                        "`{text}` is neither a TOS value (0 to 255, with an optional `/MASK`) nor one of {}",
                        names.join(", ")
                    )
                });
        };
        let illegal = || format!("`{text}` is not a TOS value: write VALUE or VALUE/MASK with numbers from 0 to 255");
        let (mask, rest) = match rest.strip_prefix('/') {
            None => (0xFF, rest),
            Some(m) => number(m).ok_or_else(illegal)?,
        };
        if !rest.is_empty() {
            return Err(illegal());
        }
        Ok(TosMask { value: value as u8, mask: mask as u8 })
    }

    /// Whether a TOS byte matches: `tos & mask == value`.
    pub fn matches(&self, tos: u8) -> bool {
        tos & self.mask == self.value
    }
}

impl fmt::Display for TosMask {
    /// `0xVV/0xMM` with two hex digits each, as `iptables-save` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02x}/0x{:02x}", self.value, self.mask)
    }
}

impl Extension for Tos {
    const OPTIONS: &'static [OptSpec] = &[opt("tos", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Tos, Diagnostic> {
        let o = find(opts, "tos")?.ok_or_else(|| ctx.error("the tos match needs `--tos VALUE[/MASK]`"))?;
        let tos = o.parse_arg(TosMask::parse)?;
        Ok(Tos { tos: Negatable { value: tos, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.tos.negated, "tos", self.tos.value);
    }
}

impl Evaluate for Tos {
    /// `tos_mt` in `xt_dscp.c`: the IPv4 TOS byte or IPv6 traffic class under the mask equals the value.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let key = if ctx.family() == Family::Ipv6 { "TC" } else { "TOS" };
        let tos = ctx.pkt.tos;
        let t = self.tos.value;
        let masked = tos & t.mask;
        let is = t.matches(tos);
        let verb = if is { "which is" } else { "not" };
        let fact = if t.mask == 0xFF {
            format!("{key}={tos:#04x}, {verb} {:#04x}", t.value)
        } else {
            format!("{key}={tos:#04x} masked with {:#04x} is {masked:#04x}, {verb} {:#04x}", t.mask, t.value)
        };
        conclude(is, self.tos.negated, fact)
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
        // What iptables-save 1.8.9 printed after `--tos GIVEN`.
        let cases = [
            ("0x10", "0x10/0xff"),
            ("16", "0x10/0xff"),
            ("020", "0x10/0xff"),
            ("0x1", "0x01/0xff"),
            ("0x00", "0x00/0xff"),
            ("0xff", "0xff/0xff"),
            ("0x10/0x3f", "0x10/0x3f"),
            ("0x10/0xf", "0x10/0x0f"),
            ("0x11/0x0f", "0x11/0x0f"),
            ("0x10/0", "0x10/0x00"),
            ("0/0", "0x00/0x00"),
            ("Minimize-Delay", "0x10/0x3f"),
            ("Maximize-Throughput", "0x08/0x3f"),
            ("Maximize-Reliability", "0x04/0x3f"),
            ("Minimize-Cost", "0x02/0x3f"),
            ("Normal-Service", "0x00/0x3f"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(Family::Ipv4, &format!("-A INPUT -m tos --tos {given}")),
                format!("-A INPUT -m tos --tos {printed}")
            );
        }
        assert_eq!(saved(Family::Ipv6, "-A INPUT -m tos ! --tos 0x10"), "-A INPUT -m tos ! --tos 0x10/0xff");
    }

    #[test]
    fn non_canonical_forms() {
        // Names in any case.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m tos --tos minimize-delay -j ACCEPT"),
            "-A INPUT -m tos --tos 0x10/0x3f -j ACCEPT"
        );
        assert_eq!(saved(Family::Ipv4, "-A INPUT -m tos ! --tos MINIMIZE-COST"), "-A INPUT -m tos ! --tos 0x02/0x3f");
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A INPUT -m tos --tos Minimize"),
            (
                23,
                "`Minimize` is neither a TOS value (0 to 255, with an optional `/MASK`) nor one of Minimize-Delay, \
                 Maximize-Throughput, Maximize-Reliability, Minimize-Cost, Normal-Service"
                    .into()
            )
        );
        assert!(error("-A INPUT -m tos --tos 0x100").1.starts_with("`0x100` is neither a TOS value"));
        assert!(error("-A INPUT -m tos --tos Minimize-Delay/0x3f").1.starts_with("`Minimize-Delay/0x3f` is neither"));
        for bad in ["0x10/", "16x", "0x10/0x100", "0x10/0x0fx"] {
            assert_eq!(
                error(&format!("-A INPUT -m tos --tos {bad}")).1,
                format!("`{bad}` is not a TOS value: write VALUE or VALUE/MASK with numbers from 0 to 255")
            );
        }
        assert_eq!(error("-A INPUT -m tos"), (10, "the tos match needs `--tos VALUE[/MASK]`".into()));
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m tos {options}")) {
                MatchKind::Tos(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn value_under_mask() {
            // Precedence 6 with Minimize-Delay: a name's mask 0x3f leaves the precedence's two high bits out.
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:22 in eth0 tos 0xd0");
            let o = eval(&s, "--tos Minimize-Delay");
            assert!(o.holds);
            assert_eq!(o.why, "TOS=0xd0 masked with 0x3f is 0x10, which is 0x10, so this holds");
            let o = eval(&s, "--tos 0x10");
            assert!(!o.holds);
            assert_eq!(o.why, "TOS=0xd0, not 0x10, so this does not hold");
            assert!(eval(&s, "! --tos 0x10").holds);
            assert!(!eval(&s, "! --tos 0x10/0x3f").holds);
            let v6 = Scene::new("IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 TC=184 PROTO=UDP SPT=1 DPT=2");
            assert_eq!(eval(&v6, "--tos 0xb8").why, "TC=0xb8, which is 0xb8, so this holds");
        }
    }
}
