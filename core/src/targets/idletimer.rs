//! `-j IDLETIMER --timeout S --label NAME`: restarts a timer with each packet; when it runs out, the kernel
//! notifies user space through sysfs (`/sys/class/xt_idletimer/timers/NAME`) and a uevent, to tell when an
//! interface went idle (`libxt_IDLETIMER`, revision 1 of the kernel's `xt_IDLETIMER.c`). The packet goes on.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The longest label the kernel stores (`MAX_IDLETIMER_LABEL_SIZE` - 1); iptables cuts longer ones.
pub const MAX_LABEL_LEN: usize = 27;

/// The longest timeout the kernel takes, in seconds (below `INT_MAX / 1000`).
pub const MAX_TIMEOUT: u32 = 2_147_482;

/// The options of `-j IDLETIMER`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idletimer {
    /// `--timeout`: the idle time in seconds before the notification.
    pub timeout: u32,
    /// `--label`: the timer's name, shared by every rule that uses it.
    pub label: Box<str>,
    /// `--alarm`: an alarm timer, which also wakes a suspended system.
    pub alarm: bool,
}

impl Extension for Idletimer {
    const OPTIONS: &'static [OptSpec] = &[opt("timeout", Args::One), opt("label", Args::One), opt("alarm", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Idletimer, Diagnostic> {
        refuse_negation(opts)?;
        let t = find(opts, "timeout")?.ok_or_else(|| ctx.error("IDLETIMER needs `--timeout SECONDS`"))?;
        let timeout = crate::values::opt_number(t, 0, u64::from(u32::MAX))? as u32;
        if timeout == 0 || timeout > MAX_TIMEOUT {
            return Err(t.bad_arg(format!("the kernel takes an idle timeout from 1 to {MAX_TIMEOUT} seconds")));
        }
        let l = find(opts, "label")?.ok_or_else(|| ctx.error("IDLETIMER needs `--label NAME`"))?;
        let label = crate::matches::nfacct::cut_to(l, l.arg(), MAX_LABEL_LEN, warnings);
        if label.is_empty() || label == "." || label == ".." || label.contains('/') {
            return Err(l.bad_arg(format!(
                "the kernel refuses the label `{label}`: it names a file in sysfs, so it must not be empty, `.`, `..` or contain `/`"
            )));
        }
        Ok(Idletimer { timeout, label: label.into(), alarm: flag(opts, "alarm")? })
    }

    /// The label printed as given, unquoted.
    fn save(&self, out: &mut String) {
        let _ = write!(out, " --timeout {} --label {}", self.timeout, self.label);
        if self.alarm {
            out.push_str(" --alarm");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--timeout 10 --label foo", "--timeout 10 --label foo"),
            ("--timeout 10 --label foo --alarm", "--timeout 10 --label foo --alarm"),
            ("--timeout 10 --label \"a b\"", "--timeout 10 --label a b"),
            (
                "--timeout 10 --label abcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
                "--timeout 10 --label abcdefghijklmnopqrstuvwxyza",
            ),
            ("--timeout 0x10 --label foo", "--timeout 16 --label foo"),
            ("--timeout 2147482 --label foo", "--timeout 2147482 --label foo"),
            ("--timeout 5 --label a.b", "--timeout 5 --label a.b"),
            ("--timeout 5 --label \"a\\\"b\"", "--timeout 5 --label a\"b"),
        ] {
            assert_eq!(
                saved(Ipv4, "filter", &format!("-A INPUT -j IDLETIMER {given}")),
                format!("-A INPUT -j IDLETIMER {printed}")
            );
        }
        assert_eq!(
            saved(Ipv6, "raw", "-A OUTPUT -j IDLETIMER --timeout 5 --label x"),
            "-A OUTPUT -j IDLETIMER --timeout 5 --label x"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -j IDLETIMER {o}"));
        let range = "the kernel takes an idle timeout from 1 to 2147482 seconds";
        assert_eq!(e("--timeout 0 --label foo"), (33, range.into()));
        assert_eq!(e("--timeout 2147483 --label foo").1, range);
        assert_eq!(e("--timeout 10").1, "IDLETIMER needs `--label NAME`");
        assert_eq!(e("--label foo").1, "IDLETIMER needs `--timeout SECONDS`");
        let label = |l: &str| {
            format!("the kernel refuses the label `{l}`: it names a file in sysfs, so it must not be empty, `.`, `..` or contain `/`")
        };
        assert_eq!(e("--timeout 10 --label \"\"").1, label(""));
        assert_eq!(e("--timeout 10 --label a/b").1, label("a/b"));
        assert_eq!(e("--timeout 5 --label ..").1, label(".."));
        assert_eq!(e("--timeout 10 --label foo --alarm --alarm").1, "`--alarm` is given more than once");
    }

    #[test]
    fn the_packet_goes_on() {
        let t = walk(
            "*filter\n-A INPUT -j IDLETIMER --timeout 60 --label wan\nCOMMIT\n",
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn",
        );
        let step = t.steps.iter().find(|s| s.target.as_deref() == Some("IDLETIMER")).expect("the rule's step");
        assert_eq!(
            step.effect.as_deref(),
            Some("IDLETIMER: the idle timer wan starts again from 60 s; the packet goes on")
        );
    }
}
