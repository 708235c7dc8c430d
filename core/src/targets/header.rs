//! Targets that rewrite header fields: `-j TOS` and `-j DSCP` (`libxt_TOS`, `libxt_DSCP`, the kernel's
//! `xt_DSCP.c`), `-j TTL` and `-j HL` (`libipt_TTL`, `libip6t_HL`, `xt_HL.c`), `-j TCPMSS`
//! (`libxt_TCPMSS`, `xt_TCPMSS.c`) and `-j CHECKSUM` (`libxt_CHECKSUM`, `xt_CHECKSUM.c`).

use super::common::{one_of, refuse_negation};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::parse_uint;
use crate::ruleset::{Family, Protocol};
use crate::values::opt_number;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Fails with a message about the family when a target exists for the other family only (`ip6tables`
/// cannot load `TTL`, `iptables` cannot load `HL`).
fn family_only(ctx: &ExtCtx<'_>, family: Family, target: &str, other: &str) -> Result<(), Diagnostic> {
    if ctx.family == family {
        return Ok(());
    }
    let (this, that) = if family == Family::Ipv4 { ("IPv4", "IPv6") } else { ("IPv6", "IPv4") };
    Err(ctx.error(format!("{target} exists for {this} only; for {that} use {other}")))
}

/// The options of `-j TOS`: changes the IPv4 TOS byte or the IPv6 traffic class, as
/// `tos = (tos & !mask) ^ value`.
///
/// The kernel allows TOS only in the mangle table, in every hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tos {
    /// The bits XORed in.
    pub value: u8,
    /// The bits cleared first.
    pub mask: u8,
}

/// The TOS names `--set-tos` knows (any case); a name leaves the precedence bits alone (mask 0x3f).
const TOS_NAMES: &[(&str, u8)] = &[
    ("Minimize-Delay", 0x10),
    ("Maximize-Throughput", 0x08),
    ("Maximize-Reliability", 0x04),
    ("Minimize-Cost", 0x02),
    ("Normal-Service", 0x00),
];

fn byte(text: &str) -> Option<u8> {
    parse_uint(text).and_then(|n| u8::try_from(n).ok())
}

/// Reads `--set-tos VALUE[/MASK]` (mask 0xff when not given) or a TOS name.
fn set_tos(text: &str) -> Result<Tos, String> {
    if let Some((v, m)) = text.split_once('/') {
        return match (byte(v), byte(m)) {
            (Some(value), Some(mask)) => Ok(Tos { value, mask }),
            _ => Err(format!("`{text}` is not a TOS value: write VALUE/MASK with numbers from 0 to 255")),
        };
    }
    if let Some(value) = byte(text) {
        return Ok(Tos { value, mask: 0xff });
    }
    TOS_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|&(_, value)| Tos { value, mask: 0x3f })
        .ok_or_else(|| {
            format!(
                "`{text}` is not a TOS value: give a number from 0 to 255, VALUE/MASK, or one of Minimize-Delay, \
                 Maximize-Throughput, Maximize-Reliability, Minimize-Cost, Normal-Service"
            )
        })
}

impl Tos {
    /// The new TOS byte for a packet whose TOS byte is `old`.
    pub fn apply(self, old: u8) -> u8 {
        (old & !self.mask) ^ self.value
    }
}

impl Extension for Tos {
    const OPTIONS: &'static [OptSpec] =
        &[opt("set-tos", Args::One), opt("and-tos", Args::One), opt("or-tos", Args::One), opt("xor-tos", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Tos, Diagnostic> {
        refuse_negation(opts)?;
        let o = one_of(opts, &["set-tos", "and-tos", "or-tos", "xor-tos"])?
            .ok_or_else(|| ctx.error("TOS needs one of `--set-tos`, `--and-tos`, `--or-tos`, `--xor-tos`"))?;
        if o.name == "set-tos" {
            return o.parse_arg(set_tos);
        }
        let bits = opt_number(o, 0, 255)? as u8;
        Ok(match o.name {
            "and-tos" => Tos { value: 0, mask: !bits },
            "or-tos" => Tos { value: bits, mask: bits },
            _ => Tos { value: bits, mask: 0 },
        })
    }

    fn save(&self, out: &mut String) {
        save_opt(out, false, "set-tos");
        let _ = write!(out, " {:#04x}/{:#04x}", self.value, self.mask);
    }
}

/// What TTL or HL does to the IPv4 TTL or the IPv6 hop limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopOp {
    /// Set it to the value (0 to 255).
    Set(u8),
    /// Lower it by the value (1 to 255), stopping at 0.
    Dec(u8),
    /// Raise it by the value (1 to 255), stopping at 255.
    Inc(u8),
}

impl HopOp {
    /// Reads the one option of `[set, dec, inc]` (names with their prefix) that the rule gives.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, names: [&str; 3], target: &str) -> Result<HopOp, Diagnostic> {
        refuse_negation(opts)?;
        let o = one_of(opts, &names)?.ok_or_else(|| {
            ctx.error(format!("{target} needs one of `--{}`, `--{}`, `--{}`", names[0], names[1], names[2]))
        })?;
        Ok(if o.name == names[0] {
            HopOp::Set(opt_number(o, 0, 255)? as u8)
        } else if o.name == names[1] {
            HopOp::Dec(opt_number(o, 1, 255)? as u8)
        } else {
            HopOp::Inc(opt_number(o, 1, 255)? as u8)
        })
    }

    /// The new value for a packet whose value is `old`.
    pub fn apply(self, old: u8) -> u8 {
        match self {
            HopOp::Set(n) => n,
            HopOp::Dec(n) => old.saturating_sub(n),
            HopOp::Inc(n) => old.saturating_add(n),
        }
    }

    fn save(self, out: &mut String, names: [&str; 3]) {
        let (name, n) = match self {
            HopOp::Set(n) => (names[0], n),
            HopOp::Dec(n) => (names[1], n),
            HopOp::Inc(n) => (names[2], n),
        };
        save_opt_value(out, false, name, n);
    }
}

const TTL_NAMES: [&str; 3] = ["ttl-set", "ttl-dec", "ttl-inc"];
const HL_NAMES: [&str; 3] = ["hl-set", "hl-dec", "hl-inc"];

/// The options of `-j TTL` (IPv4 only): changes the packet's TTL.
///
/// The kernel allows TTL only in the mangle table, in every hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ttl {
    /// `--ttl-set`, `--ttl-dec` or `--ttl-inc`.
    pub op: HopOp,
}

impl Extension for Ttl {
    const OPTIONS: &'static [OptSpec] =
        &[opt("ttl-set", Args::One), opt("ttl-dec", Args::One), opt("ttl-inc", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ttl, Diagnostic> {
        family_only(ctx, Family::Ipv4, "TTL", "HL")?;
        Ok(Ttl { op: HopOp::build(opts, ctx, TTL_NAMES, "TTL")? })
    }

    fn save(&self, out: &mut String) {
        self.op.save(out, TTL_NAMES);
    }
}

/// The options of `-j HL` (IPv6 only): changes the packet's hop limit.
///
/// The kernel allows HL only in the mangle table, in every hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hl {
    /// `--hl-set`, `--hl-dec` or `--hl-inc`.
    pub op: HopOp,
}

impl Extension for Hl {
    const OPTIONS: &'static [OptSpec] = &[opt("hl-set", Args::One), opt("hl-dec", Args::One), opt("hl-inc", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Hl, Diagnostic> {
        family_only(ctx, Family::Ipv6, "HL", "TTL")?;
        Ok(Hl { op: HopOp::build(opts, ctx, HL_NAMES, "HL")? })
    }

    fn save(&self, out: &mut String) {
        self.op.save(out, HL_NAMES);
    }
}

/// The options of `-j DSCP`: sets the six DSCP bits of the TOS byte or traffic class, leaving the two ECN
/// bits alone.
///
/// The kernel allows DSCP only in the mangle table, in every hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dscp {
    /// The code point, 0 to 63.
    pub value: u8,
}

impl Extension for Dscp {
    const OPTIONS: &'static [OptSpec] = &[opt("set-dscp", Args::One), opt("set-dscp-class", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Dscp, Diagnostic> {
        refuse_negation(opts)?;
        let o = one_of(opts, &["set-dscp", "set-dscp-class"])?
            .ok_or_else(|| ctx.error("DSCP needs `--set-dscp VALUE` or `--set-dscp-class CLASS`"))?;
        let value =
            if o.name == "set-dscp" { opt_number(o, 0, 63)? as u8 } else { o.parse_arg(crate::matches::dscp::class)? };
        Ok(Dscp { value })
    }

    fn save(&self, out: &mut String) {
        save_opt(out, false, "set-dscp");
        let _ = write!(out, " {:#04x}", self.value);
    }
}

/// The options of `-j TCPMSS`: rewrites the MSS option of TCP SYN segments.
///
/// The kernel refuses the rule unless it says `-p tcp` and has a `-m tcp` test that requires SYN
/// (`--syn`, or `--tcp-flags MASK COMP` with SYN in COMP, not negated). `--clamp-mss-to-pmtu` works only in
/// the FORWARD, OUTPUT and POSTROUTING hooks; `--set-mss` in every hook. Both in every table (observed on
/// Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tcpmss {
    /// What MSS the segment gets.
    pub mss: MssAction,
}

/// The MSS TCPMSS writes (only ever lowering the one the segment has).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MssAction {
    /// `--set-mss N`.
    Set(u16),
    /// `--clamp-mss-to-pmtu`: the path MTU of the route minus the IP and TCP headers.
    ClampToPmtu,
}

impl Extension for Tcpmss {
    const OPTIONS: &'static [OptSpec] = &[opt("set-mss", Args::One), opt("clamp-mss-to-pmtu", Args::Zero)];

    /// When both options are given, the later one wins, as in `libxt_TCPMSS`.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Tcpmss, Diagnostic> {
        refuse_negation(opts)?;
        find(opts, "set-mss")?;
        find(opts, "clamp-mss-to-pmtu")?;
        let max = if ctx.family == Family::Ipv4 { 65515 } else { 65495 };
        let mut mss = None;
        for o in opts {
            mss = Some(match o.name {
                "set-mss" => MssAction::Set(opt_number(o, 0, max)? as u16),
                _ => MssAction::ClampToPmtu,
            });
        }
        let mss = mss.ok_or_else(|| ctx.error("TCPMSS needs `--set-mss VALUE` or `--clamp-mss-to-pmtu`"))?;
        if ctx.proto() != Some(Protocol::TCP) {
            return Err(ctx.error("TCPMSS needs the rule to say `-p tcp`; the kernel refuses it otherwise"));
        }
        Ok(Tcpmss { mss })
    }

    fn save(&self, out: &mut String) {
        match self.mss {
            MssAction::Set(n) => save_opt_value(out, false, "set-mss", n),
            MssAction::ClampToPmtu => save_opt(out, false, "clamp-mss-to-pmtu"),
        }
    }
}

/// `-j CHECKSUM --checksum-fill`: computes the checksum of a packet that still lacks it (checksum
/// offloading), for DHCP clients that do not accept such packets.
///
/// The kernel allows CHECKSUM only in the mangle table, in every hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum;

impl Extension for Checksum {
    const OPTIONS: &'static [OptSpec] = &[opt("checksum-fill", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Checksum, Diagnostic> {
        refuse_negation(opts)?;
        find(opts, "checksum-fill")?.ok_or_else(|| ctx.error("CHECKSUM needs `--checksum-fill`"))?;
        Ok(Checksum)
    }

    fn save(&self, out: &mut String) {
        save_opt(out, false, "checksum-fill");
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::ruleset::Family;

    const CHAINS: &str = ":PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]";

    fn dump(family: Family, rule: &str) -> crate::Parsed {
        parse(&format!("*mangle\n{CHAINS}\n{rule}\nCOMMIT\n"), Some(family))
    }

    fn saved(family: Family, rule: &str) -> String {
        let p = dump(family, rule);
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        crate::canonical(&p).lines().find(|l| l.starts_with("-A")).unwrap_or_default().to_string()
    }

    fn error(family: Family, rule: &str) -> (u32, u32, String) {
        let p = dump(family, rule);
        let e = p.errors().next().unwrap_or_else(|| panic!("{rule} should fail"));
        (e.span.line, e.span.col, e.message.clone())
    }

    /// Checks `-A PREROUTING -j TARGET ARGS` against the options `iptables-save` 1.8.9 printed.
    fn check(family: Family, target: &str, cases: &[(&str, &str)]) {
        for (args, want) in cases {
            let rule = format!("-A PREROUTING -j {target} {args}");
            assert_eq!(saved(family, &rule), format!("-A PREROUTING -j {target} {want}"), "{rule}");
        }
    }

    #[test]
    fn tos() {
        let cases = [
            ("--set-tos 0x10", "--set-tos 0x10/0xff"),
            ("--set-tos 16", "--set-tos 0x10/0xff"),
            ("--set-tos 0x10/0x3f", "--set-tos 0x10/0x3f"),
            ("--set-tos 0", "--set-tos 0x00/0xff"),
            ("--set-tos 0/0", "--set-tos 0x00/0x00"),
            ("--set-tos 0xff", "--set-tos 0xff/0xff"),
            ("--set-tos Minimize-Delay", "--set-tos 0x10/0x3f"),
            ("--set-tos minimize-delay", "--set-tos 0x10/0x3f"),
            ("--set-tos Maximize-Throughput", "--set-tos 0x08/0x3f"),
            ("--set-tos Maximize-Reliability", "--set-tos 0x04/0x3f"),
            ("--set-tos minimize-Cost", "--set-tos 0x02/0x3f"),
            ("--set-tos Normal-Service", "--set-tos 0x00/0x3f"),
            ("--and-tos 0x0f", "--set-tos 0x00/0xf0"),
            ("--or-tos 0x0f", "--set-tos 0x0f/0x0f"),
            ("--xor-tos 0x0f", "--set-tos 0x0f/0x00"),
        ];
        check(Family::Ipv4, "TOS", &cases);
        check(Family::Ipv6, "TOS", &cases[..7]);
        assert_eq!(super::Tos { value: 0x10, mask: 0x3f }.apply(0xe4), 0xd0);
        let v4 = |r: &str| error(Family::Ipv4, r);
        let (line, col, msg) = v4("-A PREROUTING -j TOS --set-tos 0x100");
        assert_eq!((line, col), (5, 32));
        assert!(msg.contains("`0x100` is not a TOS value"), "{msg}");
        for bad in ["bogus", "Min", "0x10/0x100", "0x10/", "Minimize-Delay/0xff"] {
            assert!(v4(&format!("-A PREROUTING -j TOS --set-tos {bad}")).2.contains("is not a TOS value"), "{bad}");
        }
        assert!(v4("-A PREROUTING -j TOS --and-tos 0x100").2.contains("from 0 to 255"));
        assert!(v4("-A PREROUTING -j TOS --or-tos Minimize-Delay").2.contains("from 0 to 255"));
        let (_, col, msg) = v4("-A PREROUTING -j TOS");
        assert_eq!(col, 15);
        assert!(msg.contains("TOS needs one of"), "{msg}");
        let (_, col, msg) = v4("-A PREROUTING -j TOS --set-tos 0x10 --and-tos 1");
        assert_eq!(col, 37);
        assert!(msg.contains("cannot be used together"), "{msg}");
    }

    #[test]
    fn ttl_and_hl() {
        check(
            Family::Ipv4,
            "TTL",
            &[
                ("--ttl-set 64", "--ttl-set 64"),
                ("--ttl-set 0", "--ttl-set 0"),
                ("--ttl-set 0x10", "--ttl-set 16"),
                ("--ttl-dec 1", "--ttl-dec 1"),
                ("--ttl-inc 255", "--ttl-inc 255"),
            ],
        );
        check(
            Family::Ipv6,
            "HL",
            &[("--hl-set 64", "--hl-set 64"), ("--hl-dec 1", "--hl-dec 1"), ("--hl-inc 1", "--hl-inc 1")],
        );
        assert_eq!(super::HopOp::Dec(5).apply(3), 0);
        assert_eq!(super::HopOp::Inc(5).apply(254), 255);
        let v4 = |r: &str| error(Family::Ipv4, r);
        let (_, col, msg) = v4("-A PREROUTING -j TTL --ttl-dec 0");
        assert_eq!(col, 32);
        assert!(msg.contains("from 1 to 255"), "{msg}");
        assert!(v4("-A PREROUTING -j TTL --ttl-set 256").2.contains("from 0 to 255"));
        assert!(v4("-A PREROUTING -j TTL --ttl-inc 0").2.contains("from 1 to 255"));
        assert!(v4("-A PREROUTING -j TTL").2.contains("TTL needs one of"));
        assert!(v4("-A PREROUTING -j TTL --ttl-set 1 --ttl-inc 1").2.contains("cannot be used together"));
        assert!(v4("-A PREROUTING -j HL --hl-set 1").2.contains("HL exists for IPv6 only"));
        let v6 = |r: &str| error(Family::Ipv6, r);
        assert!(v6("-A PREROUTING -j TTL --ttl-set 1").2.contains("TTL exists for IPv4 only"));
        assert!(v6("-A PREROUTING -j HL --hl-inc 0").2.contains("from 1 to 255"));
        assert!(v6("-A PREROUTING -j HL --hl-set 1 --hl-dec 1").2.contains("cannot be used together"));
    }

    #[test]
    fn dscp() {
        let cases = [
            ("--set-dscp 10", "--set-dscp 0x0a"),
            ("--set-dscp 0x2e", "--set-dscp 0x2e"),
            ("--set-dscp 63", "--set-dscp 0x3f"),
            ("--set-dscp 0", "--set-dscp 0x00"),
            ("--set-dscp-class EF", "--set-dscp 0x2e"),
            ("--set-dscp-class ef", "--set-dscp 0x2e"),
            ("--set-dscp-class af41", "--set-dscp 0x22"),
            ("--set-dscp-class CS0", "--set-dscp 0x00"),
            ("--set-dscp-class BE", "--set-dscp 0x00"),
            ("--set-dscp-class CS7", "--set-dscp 0x38"),
            ("--set-dscp-class AF11", "--set-dscp 0x0a"),
            ("--set-dscp-class ef", "--set-dscp 0x2e"),
            ("--set-dscp-class CS1x", "--set-dscp 0x08"),
            ("--set-dscp-class AF21", "--set-dscp 0x12"),
            ("--set-dscp-class AF43", "--set-dscp 0x26"),
        ];
        check(Family::Ipv4, "DSCP", &cases);
        check(Family::Ipv6, "DSCP", &cases[..1]);
        let v4 = |r: &str| error(Family::Ipv4, r);
        let (_, col, msg) = v4("-A PREROUTING -j DSCP --set-dscp 64");
        assert_eq!(col, 34);
        assert!(msg.contains("from 0 to 63"), "{msg}");
        for bad in ["VA", "LE", "bogus", "af44", "cs8", "af1"] {
            let (_, col, msg) = v4(&format!("-A PREROUTING -j DSCP --set-dscp-class {bad}"));
            assert_eq!(col, 40, "{bad}");
            assert!(msg.contains("is not a DiffServ class"), "{bad}: {msg}");
        }
        assert!(v4("-A PREROUTING -j DSCP").2.contains("DSCP needs"));
        assert!(v4("-A PREROUTING -j DSCP --set-dscp 1 --set-dscp-class EF").2.contains("cannot be used together"));
    }

    #[test]
    fn tcpmss() {
        for (rule, want) in [
            (
                "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400",
                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400",
            ),
            (
                "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
            ),
            (
                "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 65515",
                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 65515",
            ),
            (
                "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 0x100",
                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 256",
            ),
            // Both given: the later one wins.
            (
                "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400 --clamp-mss-to-pmtu",
                "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
            ),
            (
                "-A FORWARD -p tcp --syn -j TCPMSS --clamp-mss-to-pmtu --set-mss 1400",
                "-A FORWARD -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j TCPMSS --set-mss 1400",
            ),
        ] {
            assert_eq!(saved(Family::Ipv4, rule), want, "{rule}");
        }
        assert_eq!(
            saved(Family::Ipv6, "-A PREROUTING -p tcp --syn -j TCPMSS --set-mss 65495"),
            "-A PREROUTING -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j TCPMSS --set-mss 65495"
        );
        let v4 = |r: &str| error(Family::Ipv4, r);
        let (_, col, msg) = v4("-A FORWARD -j TCPMSS --set-mss 1400");
        assert_eq!(col, 12);
        assert!(msg.contains("`-p tcp`"), "{msg}");
        assert!(v4("-A FORWARD -p udp -j TCPMSS --set-mss 1400").2.contains("`-p tcp`"));
        assert!(v4("-A FORWARD -p tcp --syn -j TCPMSS").2.contains("TCPMSS needs"));
        let (_, col, msg) = v4("-A FORWARD -p tcp --syn -j TCPMSS --set-mss 65516");
        assert_eq!(col, 45);
        assert!(msg.contains("from 0 to 65515"), "{msg}");
        assert!(error(Family::Ipv6, "-A FORWARD -p tcp --syn -j TCPMSS --set-mss 65496").2.contains("from 0 to 65495"));
        assert!(v4("-A FORWARD -p tcp --syn -j TCPMSS --clamp-mss-to-pmtu --clamp-mss-to-pmtu")
            .2
            .contains("more than once"));
    }

    /// Which rules the kernel takes as testing for SYN (loaded with `--set-mss 100` in mangle FORWARD); the
    /// check itself is rule-wide and lives in `validate`.
    #[test]
    fn tcpmss_syn_test() {
        for (matches, kernel_accepts) in [
            ("-p tcp --tcp-flags SYN,RST SYN", true),
            ("-p tcp --syn", true),
            ("-p tcp --tcp-flags SYN,ACK SYN,ACK", true),
            ("-p tcp --tcp-flags ALL SYN", true),
            ("-p tcp --tcp-flags NONE SYN", true),
            ("-p tcp -m tcp --dport 80 --syn", true),
            ("-p tcp --tcp-flags ACK ACK", false),
            ("-p tcp --tcp-flags SYN NONE", false),
            ("-p tcp ! --tcp-flags SYN,RST SYN", false),
            ("-p tcp", false),
        ] {
            let p = dump(Family::Ipv4, &format!("-A FORWARD {matches} -j TCPMSS --set-mss 100"));
            assert_eq!(!p.has_errors(), kernel_accepts, "{matches}: {:?}", p.diagnostics);
        }
    }

    #[test]
    fn checksum() {
        check(Family::Ipv4, "CHECKSUM", &[("--checksum-fill", "--checksum-fill")]);
        check(Family::Ipv6, "CHECKSUM", &[("--checksum-fill", "--checksum-fill")]);
        let (_, col, msg) = error(Family::Ipv4, "-A PREROUTING -j CHECKSUM");
        assert_eq!(col, 15);
        assert!(msg.contains("CHECKSUM needs `--checksum-fill`"), "{msg}");
        assert!(error(Family::Ipv4, "-A PREROUTING -j CHECKSUM --checksum-fill --checksum-fill")
            .2
            .contains("more than once"));
    }
}
