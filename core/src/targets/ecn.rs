//! `-j ECN`: rewrites the Explicit Congestion Notification bits, TCP's ECE and CWR flags and the IP
//! header's ECN field, mostly to strip ECN from connections through broken middleboxes (`libipt_ECN`, the
//! kernel's `ipt_ECN.c`). IPv4 only; the kernel allows it in the mangle table, and the TCP options only for
//! rules that say `-p tcp`.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Family;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The options of `-j ECN`: what each bit is set to, if the target sets it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ecn {
    /// `--ecn-tcp-ece 0|1`: the TCP ECE flag.
    pub ece: Option<bool>,
    /// `--ecn-tcp-cwr 0|1`: the TCP CWR flag.
    pub cwr: Option<bool>,
    /// `--ecn-ip-ect 0..3`: the IP header's ECN field.
    pub ip_ect: Option<u8>,
}

impl Extension for Ecn {
    const OPTIONS: &'static [OptSpec] = &[
        opt("ecn-tcp-remove", Args::Zero),
        opt("ecn-tcp-cwr", Args::One),
        opt("ecn-tcp-ece", Args::One),
        opt("ecn-ip-ect", Args::One),
    ];

    /// Options are applied in order, as `ECN_parse` applies them: `--ecn-tcp-remove` clears ECE and CWR and
    /// drops an `--ecn-ip-ect` given before it.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ecn, Diagnostic> {
        if ctx.family == Family::Ipv6 {
            return Err(ctx.error("ip6tables has no ECN target: it is for IPv4 only"));
        }
        refuse_negation(opts)?;
        for name in ["ecn-tcp-remove", "ecn-tcp-cwr", "ecn-tcp-ece", "ecn-ip-ect"] {
            crate::ext::find(opts, name)?;
        }
        crate::ext::exclusive(opts, &["ecn-tcp-remove", "ecn-tcp-cwr"])?;
        crate::ext::exclusive(opts, &["ecn-tcp-remove", "ecn-tcp-ece"])?;
        let mut e = Ecn::default();
        for o in opts {
            match o.name {
                "ecn-tcp-remove" => e = Ecn { ece: Some(false), cwr: Some(false), ip_ect: None },
                "ecn-tcp-cwr" => e.cwr = Some(crate::values::opt_number(o, 0, 1)? == 1),
                "ecn-tcp-ece" => e.ece = Some(crate::values::opt_number(o, 0, 1)? == 1),
                _ => e.ip_ect = Some(crate::values::opt_number(o, 0, 3)? as u8),
            }
        }
        if e == Ecn::default() {
            return Err(ctx.error("ECN needs `--ecn-tcp-remove`, `--ecn-tcp-ece`, `--ecn-tcp-cwr` or `--ecn-ip-ect`"));
        }
        Ok(e)
    }

    /// Clearing both TCP flags and nothing else prints as `--ecn-tcp-remove`.
    fn save(&self, out: &mut String) {
        if *self == (Ecn { ece: Some(false), cwr: Some(false), ip_ect: None }) {
            out.push_str(" --ecn-tcp-remove");
            return;
        }
        if let Some(b) = self.ece {
            let _ = write!(out, " --ecn-tcp-ece {}", u8::from(b));
        }
        if let Some(b) = self.cwr {
            let _ = write!(out, " --ecn-tcp-cwr {}", u8::from(b));
        }
        if let Some(v) = self.ip_ect {
            let _ = write!(out, " --ecn-ip-ect {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, load, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("-p tcp -j ECN --ecn-tcp-remove", "-p tcp -j ECN --ecn-tcp-remove"),
            ("-p tcp -j ECN --ecn-tcp-cwr 0 --ecn-tcp-ece 0", "-p tcp -j ECN --ecn-tcp-remove"),
            ("-p tcp -j ECN --ecn-tcp-cwr 1", "-p tcp -j ECN --ecn-tcp-cwr 1"),
            ("-j ECN --ecn-ip-ect 2", "-j ECN --ecn-ip-ect 2"),
            ("-p tcp -j ECN --ecn-ip-ect 3 --ecn-tcp-ece 1", "-p tcp -j ECN --ecn-tcp-ece 1 --ecn-ip-ect 3"),
            (
                "-p tcp -j ECN --ecn-tcp-remove --ecn-ip-ect 1",
                "-p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0 --ecn-ip-ect 1",
            ),
            ("-p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-remove", "-p tcp -j ECN --ecn-tcp-remove"),
            ("-p udp -j ECN --ecn-ip-ect 1", "-p udp -j ECN --ecn-ip-ect 1"),
        ] {
            assert_eq!(saved(Ipv4, "mangle", &format!("-A PREROUTING {given}")), format!("-A PREROUTING {printed}"));
        }
    }

    #[test]
    fn errors() {
        let e = |r: &str| error(Ipv4, "mangle", &format!("-A PREROUTING {r}"));
        assert_eq!(
            e("-p tcp -j ECN --ecn-tcp-remove --ecn-tcp-cwr 1"),
            (46, "only one of `--ecn-tcp-remove`, `--ecn-tcp-cwr` may be given".into())
        );
        assert_eq!(e("-p tcp -j ECN --ecn-tcp-cwr 2").1, "`--ecn-tcp-cwr` takes a number from 0 to 1, not `2`");
        assert_eq!(
            e("-p tcp -j ECN").1,
            "ECN needs `--ecn-tcp-remove`, `--ecn-tcp-ece`, `--ecn-tcp-cwr` or `--ecn-ip-ect`"
        );
        assert_eq!(e("-j ECN --ecn-ip-ect 4").1, "`--ecn-ip-ect` takes a number from 0 to 3, not `4`");
        assert_eq!(
            error(Ipv6, "mangle", "-A PREROUTING -p tcp -j ECN --ecn-tcp-remove").1,
            "ip6tables has no ECN target: it is for IPv4 only"
        );
        // The kernel's protocol and table checks.
        assert!(load(Ipv4, "mangle", "-A PREROUTING -p udp -j ECN --ecn-tcp-cwr 0").has_errors());
        assert!(load(Ipv4, "mangle", "-A PREROUTING -j ECN --ecn-tcp-remove").has_errors());
        assert!(load(Ipv4, "filter", "-A INPUT -p tcp -j ECN --ecn-tcp-remove").has_errors());
    }

    #[test]
    fn rewrites_the_bits() {
        let t = walk(
            "*mangle\n-A PREROUTING -p tcp -j ECN --ecn-tcp-remove --ecn-ip-ect 0\nCOMMIT\n",
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn ece cwr tos 0x03",
        );
        let tos = t.changes.iter().find(|c| c.what == "tos").expect("a tos change");
        assert_eq!((tos.from.as_str(), tos.to.as_str()), ("0x03", "0x00"));
        let flags = t.changes.iter().find(|c| c.what == "tcp flags").expect("a flags change");
        assert_eq!((flags.from.as_str(), flags.to.as_str()), ("SYN,ECE,CWR", "SYN"));
    }
}
