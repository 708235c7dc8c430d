//! `-j SYNPROXY`: answers a TCP SYN with a SYN cookie itself and opens the connection to the server only
//! once the client has completed the handshake (`libxt_SYNPROXY`, the kernel's `ipt_SYNPROXY.c`,
//! `ip6t_SYNPROXY.c`).

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Protocol;
use crate::values::opt_number;
use serde::{Deserialize, Serialize};

/// The options of `-j SYNPROXY`: the TCP options the proxy's SYN-ACK offers, which should be those of the
/// server behind it.
///
/// The kernel allows SYNPROXY only in the INPUT and FORWARD hooks, in every table that has them, and only
/// for rules that say `-p tcp` (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synproxy {
    /// `--sack-perm`: offer selective acknowledgements.
    pub sack_perm: bool,
    /// `--timestamp`: offer timestamps.
    pub timestamp: bool,
    /// `--wscale N`: offer window scaling by N.
    pub wscale: Option<u8>,
    /// `--mss N`: the MSS offered.
    pub mss: Option<u16>,
    /// `--ecn`: offer explicit congestion notification.
    pub ecn: bool,
}

/// Reads a 32-bit number that `libxt_SYNPROXY` then stores in a smaller field, keeping its low bits.
fn cut(o: &Opt<'_>, bits: u32, warnings: &mut Vec<Diagnostic>) -> Result<u32, Diagnostic> {
    let n = opt_number(o, 0, u32::MAX as u64)? as u32;
    let kept = n & ((1u32 << bits) - 1);
    if kept != n {
        warnings.push(Diagnostic::warning(
            o.arg_span(),
            format!("iptables keeps only the low {bits} bits of this number: {kept}"),
        ));
    }
    Ok(kept)
}

impl Extension for Synproxy {
    const OPTIONS: &'static [OptSpec] = &[
        opt("sack-perm", Args::Zero),
        opt("timestamp", Args::Zero),
        opt("wscale", Args::One),
        opt("mss", Args::One),
        opt("ecn", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Synproxy, Diagnostic> {
        refuse_negation(opts)?;
        let wscale = find(opts, "wscale")?.map(|o| cut(o, 8, warnings)).transpose()?.map(|n| n as u8);
        let mss = find(opts, "mss")?.map(|o| cut(o, 16, warnings)).transpose()?.map(|n| n as u16);
        if ctx.proto() != Some(Protocol::TCP) {
            return Err(ctx.error("SYNPROXY needs the rule to say `-p tcp`; the kernel refuses it otherwise"));
        }
        Ok(Synproxy {
            sack_perm: flag(opts, "sack-perm")?,
            timestamp: flag(opts, "timestamp")?,
            wscale,
            mss,
            ecn: flag(opts, "ecn")?,
        })
    }

    fn save(&self, out: &mut String) {
        if self.sack_perm {
            save_opt(out, false, "sack-perm");
        }
        if self.timestamp {
            save_opt(out, false, "timestamp");
        }
        if let Some(w) = self.wscale {
            save_opt_value(out, false, "wscale", w);
        }
        if let Some(m) = self.mss {
            save_opt_value(out, false, "mss", m);
        }
        if self.ecn {
            save_opt(out, false, "ecn");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;

    fn dump(rule: &str) -> crate::Parsed {
        parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n{rule}\nCOMMIT\n"), None)
    }

    fn saved(rule: &str) -> String {
        let p = dump(rule);
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        crate::canonical(&p).lines().find(|l| l.starts_with("-A")).unwrap_or_default().to_string()
    }

    fn error(rule: &str) -> (u32, u32, String) {
        let p = dump(rule);
        let e = p.errors().next().unwrap_or_else(|| panic!("{rule} should fail"));
        (e.span.line, e.span.col, e.message.clone())
    }

    /// Rules and what `iptables-save` 1.8.9 printed for them (an empty expectation: printed as given).
    #[test]
    fn save_forms() {
        for (args, want) in [
            ("--sack-perm --timestamp --wscale 7 --mss 1460", ""),
            ("", ""),
            ("--wscale 0", ""),
            ("--mss 0", ""),
            ("--mss 65535", ""),
            ("--ecn --timestamp --sack-perm", "--sack-perm --timestamp --ecn"),
            (
                "--mss 1460 --wscale 7 --timestamp --sack-perm --ecn",
                "--sack-perm --timestamp --wscale 7 --mss 1460 --ecn",
            ),
            ("--wscale 256", "--wscale 0"),
            ("--mss 65536", "--mss 0"),
            ("--mss 0x10", "--mss 16"),
        ] {
            let want = if want.is_empty() { args } else { want };
            let rule = format!("-A INPUT -p tcp -j SYNPROXY {args}");
            assert_eq!(saved(rule.trim_end()), format!("-A INPUT -p tcp -j SYNPROXY {want}").trim_end(), "{args}");
        }
        let p = dump("-A INPUT -p tcp -j SYNPROXY --wscale 256");
        assert!(p.warnings().any(|w| w.message.contains("low 8 bits")));
    }

    #[test]
    fn wrong_input() {
        let (line, col, msg) = error("-A INPUT -j SYNPROXY --mss 1460");
        assert_eq!((line, col), (3, 10));
        assert!(msg.contains("`-p tcp`"), "{msg}");
        assert!(error("-A INPUT -p udp -j SYNPROXY --mss 1460").2.contains("`-p tcp`"));
        let (_, col, msg) = error("-A INPUT -p tcp -j SYNPROXY --wscale 4294967296");
        assert_eq!(col, 38);
        assert!(msg.contains("from 0 to 4294967295"), "{msg}");
        assert!(error("-A INPUT -p tcp -j SYNPROXY --mss -1").2.contains("from 0 to 4294967295"));
        assert!(error("-A INPUT -p tcp -j SYNPROXY --ecn --ecn").2.contains("more than once"));
        assert!(error("-A INPUT -p tcp -j SYNPROXY ! --ecn").2.contains("cannot be negated"));
    }
}
