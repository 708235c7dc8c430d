//! `-j LED --led-trigger-id ID`: blinks the LED bound to the kernel LED trigger `netfilter-ID` for each
//! packet (`libxt_LED`, the kernel's `xt_LED.c`). The packet goes on.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The longest ID: the kernel's 27-byte trigger name less `netfilter-` and the final NUL.
pub const MAX_ID_LEN: usize = 16;

/// The options of `-j LED`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Led {
    /// `--led-trigger-id`: the trigger is called `netfilter-ID`.
    pub id: Box<str>,
    /// `--led-delay MS`: how long the LED stays on after a packet; 0 (the default) blinks, `inf`
    /// (`u32::MAX`) leaves it on.
    pub delay: u32,
    /// `--led-always-blink`: blink even when the LED is already on.
    pub always_blink: bool,
}

impl Extension for Led {
    const OPTIONS: &'static [OptSpec] =
        &[opt("led-trigger-id", Args::One), opt("led-delay", Args::One), opt("led-always-blink", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Led, Diagnostic> {
        refuse_negation(opts)?;
        let o = find(opts, "led-trigger-id")?.ok_or_else(|| ctx.error("LED needs `--led-trigger-id ID`"))?;
        if o.arg().len() > MAX_ID_LEN {
            return Err(o.bad_arg(format!("the trigger ID can be at most {MAX_ID_LEN} bytes long")));
        }
        let delay = match find(opts, "led-delay")? {
            Some(d) if d.arg().len() >= 3 && d.arg()[..3].eq_ignore_ascii_case("inf") => u32::MAX,
            Some(d) => {
                crate::ruleset::addr::parse_uint(d.arg()).and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
                    d.bad_arg(format!("`{}` is not a delay: give milliseconds (0 to {}) or `inf`", d.arg(), u32::MAX))
                })?
            }
            None => 0,
        };
        Ok(Led { id: o.arg().into(), delay, always_blink: flag(opts, "led-always-blink")? })
    }

    /// As `LED_save` prints it: the ID always quoted (escaping `"` and `\`); the delay as a signed number
    /// when not 0 (so `inf` prints as `-1`); the flag.
    fn save(&self, out: &mut String) {
        out.push_str(" --led-trigger-id \"");
        for c in self.id.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        if self.delay > 0 {
            let _ = write!(out, " --led-delay {}", self.delay as i32);
        }
        if self.always_blink {
            out.push_str(" --led-always-blink");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    // The recording machine's kernel has no LED target, so these follow libxt_LED's save function.
    #[test]
    fn prints_back_as_libxt_led_saves() {
        for (given, printed) in [
            ("--led-trigger-id foo", "--led-trigger-id \"foo\""),
            (
                "--led-trigger-id foo --led-delay 5 --led-always-blink",
                "--led-trigger-id \"foo\" --led-delay 5 --led-always-blink",
            ),
            ("--led-trigger-id \"a\\\"b\" --led-delay 0", "--led-trigger-id \"a\\\"b\""),
            ("--led-trigger-id foo --led-delay infinity", "--led-trigger-id \"foo\" --led-delay -1"),
        ] {
            assert_eq!(
                saved(Ipv4, "filter", &format!("-A INPUT -j LED {given}")),
                format!("-A INPUT -j LED {printed}")
            );
        }
        assert_eq!(
            saved(Ipv6, "filter", "-A INPUT -j LED --led-trigger-id x"),
            "-A INPUT -j LED --led-trigger-id \"x\""
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -j LED {o}"));
        assert_eq!(
            e("--led-trigger-id abcdefghijklmnopqrstuvwxyz"),
            (34, "the trigger ID can be at most 16 bytes long".into())
        );
        assert_eq!(e("--led-delay 5").1, "LED needs `--led-trigger-id ID`");
        assert_eq!(
            e("--led-trigger-id x --led-delay -1").1,
            "`-1` is not a delay: give milliseconds (0 to 4294967295) or `inf`"
        );
    }

    #[test]
    fn the_packet_goes_on() {
        let t = walk(
            "*filter\n-A INPUT -j LED --led-trigger-id ssh\nCOMMIT\n",
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn",
        );
        let step = t.steps.iter().find(|s| s.target.as_deref() == Some("LED")).expect("the rule's step");
        assert_eq!(step.effect.as_deref(), Some("LED: the LED trigger netfilter-ssh fires; the packet goes on"));
    }
}
