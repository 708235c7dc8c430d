//! `-m dscp`: the DSCP field, the upper six bits of the IPv4 TOS byte or IPv6 traffic class (`libxt_dscp`,
//! the kernel's `xt_dscp.c`).

use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::values::opt_number;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m dscp`; `--dscp-class` is another way to write `--dscp`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dscp {
    /// `--dscp` (or the class's value): the DSCP value, from 0 to 63.
    pub dscp: Negatable<u8>,
}

/// The DiffServ class names `--dscp-class` knows, with their DSCP values.
const CLASSES: [(&str, u8); 22] = [
    ("CS0", 0x00),
    ("CS1", 0x08),
    ("CS2", 0x10),
    ("CS3", 0x18),
    ("CS4", 0x20),
    ("CS5", 0x28),
    ("CS6", 0x30),
    ("CS7", 0x38),
    ("BE", 0x00),
    ("AF11", 0x0a),
    ("AF12", 0x0c),
    ("AF13", 0x0e),
    ("AF21", 0x12),
    ("AF22", 0x14),
    ("AF23", 0x16),
    ("AF31", 0x1a),
    ("AF32", 0x1c),
    ("AF33", 0x1e),
    ("AF41", 0x22),
    ("AF42", 0x24),
    ("AF43", 0x26),
    ("EF", 0x2e),
];

/// Reads a class name as `iptables` does: any case, and only the name's own length is compared, so
/// `EFX` is `EF`.
pub(crate) fn class(text: &str) -> Result<u8, String> {
    CLASSES
        .iter()
        .find(|(name, _)| {
            text.len() >= name.len() && text.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        })
        .map(|&(_, value)| value)
        .ok_or_else(|| format!("`{text}` is not a DiffServ class (CS0 to CS7, BE, AF11 to AF43, EF)"))
}

impl Extension for Dscp {
    const OPTIONS: &'static [OptSpec] = &[opt("dscp", Args::One), opt("dscp-class", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Dscp, Diagnostic> {
        let mut found: Option<(Negatable<u8>, &str)> = None;
        for o in opts {
            if let Some((_, first)) = found {
                let message = if first == o.name {
                    format!("`--{first}` is given more than once")
                } else {
                    "only one of `--dscp` and `--dscp-class` may be given".to_string()
                };
                return Err(Diagnostic::error(o.span, message));
            }
            let value = if o.name == "dscp" { opt_number(o, 0, 63)? as u8 } else { o.parse_arg(class)? };
            found = Some((Negatable { value, negated: o.negated, span: o.span }, o.name));
        }
        let (dscp, _) =
            found.ok_or_else(|| ctx.error("the dscp match needs `--dscp VALUE` or `--dscp-class CLASS`"))?;
        Ok(Dscp { dscp })
    }

    fn save(&self, out: &mut String) {
        save_opt(out, self.dscp.negated, "dscp");
        out.push_str(&format!(" 0x{:02x}", self.dscp.value));
    }
}

impl Evaluate for Dscp {
    /// `dscp_mt`/`dscp_mt6` in `xt_dscp.c`: the upper six bits of the IPv4 TOS byte or IPv6 traffic class
    /// equal the value.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let dscp = ctx.pkt.tos >> 2;
        let want = self.dscp.value;
        let is = dscp == want;
        let fact = format!(
            "the packet's DSCP is {dscp:#04x} ({} {:#04x}), {} {want:#04x}",
            if ctx.pkt.family() == crate::ruleset::Family::Ipv6 { "TC" } else { "TOS" },
            ctx.pkt.tos,
            if is { "which is" } else { "not" }
        );
        conclude(is, self.dscp.negated, fact)
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
        // What iptables-save 1.8.9 printed after `-m dscp GIVEN`.
        let cases = [
            ("--dscp 10", "--dscp 0x0a"),
            ("--dscp 0x0a", "--dscp 0x0a"),
            ("--dscp 0", "--dscp 0x00"),
            ("--dscp 63", "--dscp 0x3f"),
            ("--dscp 010", "--dscp 0x08"),
            ("! --dscp 10", "! --dscp 0x0a"),
            ("--dscp-class AF11", "--dscp 0x0a"),
            ("--dscp-class AF12", "--dscp 0x0c"),
            ("--dscp-class AF43", "--dscp 0x26"),
            ("--dscp-class EF", "--dscp 0x2e"),
            ("--dscp-class CS0", "--dscp 0x00"),
            ("--dscp-class CS7", "--dscp 0x38"),
            ("--dscp-class BE", "--dscp 0x00"),
            ("! --dscp-class EF", "! --dscp 0x2e"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(Family::Ipv4, &format!("-A INPUT -m dscp {given}")),
                format!("-A INPUT -m dscp {printed}")
            );
        }
        assert_eq!(saved(Family::Ipv6, "-A INPUT -m dscp --dscp-class EF"), "-A INPUT -m dscp --dscp 0x2e");
    }

    #[test]
    fn non_canonical_forms() {
        // Class names in any case and with trailing characters, which iptables ignores.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m dscp --dscp-class af21 -j ACCEPT"),
            "-A INPUT -m dscp --dscp 0x12 -j ACCEPT"
        );
        assert_eq!(saved(Family::Ipv4, "-A INPUT -m dscp --dscp-class EFX"), "-A INPUT -m dscp --dscp 0x2e");
    }

    #[test]
    fn errors() {
        assert_eq!(error("-A INPUT -m dscp --dscp 64"), (25, "`--dscp` takes a number from 0 to 63, not `64`".into()));
        assert_eq!(
            error("-A INPUT -m dscp --dscp-class AF44"),
            (31, "`AF44` is not a DiffServ class (CS0 to CS7, BE, AF11 to AF43, EF)".into())
        );
        assert!(error("-A INPUT -m dscp --dscp-class AF1").1.starts_with("`AF1` is not a DiffServ class"));
        assert!(error("-A INPUT -m dscp --dscp-class cs8").1.starts_with("`cs8` is not a DiffServ class"));
        assert_eq!(
            error("-A INPUT -m dscp --dscp 10 --dscp-class EF"),
            (28, "only one of `--dscp` and `--dscp-class` may be given".into())
        );
        assert_eq!(
            error("-A INPUT -m dscp --dscp-class AF11 --dscp-class EF"),
            (36, "`--dscp-class` is given more than once".into())
        );
        assert_eq!(
            error("-A INPUT -m dscp"),
            (10, "the dscp match needs `--dscp VALUE` or `--dscp-class CLASS`".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-m dscp {options}")) {
                MatchKind::Dscp(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn upper_six_bits() {
            // TOS 0xb9: DSCP EF (0x2e) with an ECN bit set, which the match ignores.
            let s = Scene::new("udp 192.0.2.1:1 -> 192.0.2.2:5004 in eth0 tos 0xb9");
            let o = eval(&s, "--dscp-class EF");
            assert!(o.holds);
            assert_eq!(o.why, "the packet's DSCP is 0x2e (TOS 0xb9), which is 0x2e, so this holds");
            let o = eval(&s, "--dscp 10");
            assert!(!o.holds);
            assert_eq!(o.why, "the packet's DSCP is 0x2e (TOS 0xb9), not 0x0a, so this does not hold");
            assert!(eval(&s, "! --dscp 10").holds);
            let v6 = Scene::new("IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 TC=184 PROTO=UDP SPT=1 DPT=2");
            assert!(eval(&v6, "--dscp 0x2e").holds);
        }
    }
}
