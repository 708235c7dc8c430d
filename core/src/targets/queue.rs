//! `-j NFQUEUE`: hand the packet to a user-space program listening on an nfnetlink queue, which gives the
//! verdict (`libxt_NFQUEUE`, the kernel's `xt_NFQUEUE.c`).

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, flag, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::parse_uint;
use crate::values::opt_number;
use serde::{Deserialize, Serialize};

/// The options of `-j NFQUEUE`.
///
/// Allowed in every table and hook (observed on Linux 6.18). Without a listener on the queue the packet is
/// dropped, unless `--queue-bypass` is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nfqueue {
    /// Which queue or queues.
    pub queues: Queues,
    /// `--queue-bypass`: with no program on the queue, the packet goes on as if the rule had not matched.
    pub bypass: bool,
    /// `--queue-cpu-fanout`: with a balanced range, pick the queue by the CPU instead of a flow hash.
    pub cpu_fanout: bool,
}

/// The queue a packet goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queues {
    /// `--queue-num N` (0 when neither option is given).
    Single(u16),
    /// `--queue-balance FIRST:LAST`: one queue of the range per flow (or per CPU).
    Balance {
        /// The first queue.
        first: u16,
        /// The last queue (more than `first`).
        last: u16,
    },
}

/// Reads `FIRST:LAST`, where an empty side is 0 or 65535; the first must be smaller than the last.
fn balance(text: &str) -> Result<Queues, String> {
    let Some((a, b)) = text.split_once(':') else {
        return Err(format!("`{text}` is not a queue range: write FIRST:LAST"));
    };
    let side = |s: &str, default: u16| -> Result<u16, String> {
        if s.is_empty() {
            return Ok(default);
        }
        parse_uint(s)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| format!("`{s}` is not a queue number from 0 to 65535"))
    };
    let (first, last) = (side(a, 0)?, side(b, u16::MAX)?);
    if first >= last {
        return Err(format!("the first queue ({first}) must be smaller than the last ({last})"));
    }
    if first == 0 && last == u16::MAX {
        // The rule stores the number of queues in 16 bits: 65536 wraps to 0, which the kernel refuses.
        return Err("0:65535 is 65536 queues, one more than the kernel can store; the kernel refuses it".into());
    }
    Ok(Queues::Balance { first, last })
}

impl Extension for Nfqueue {
    const OPTIONS: &'static [OptSpec] = &[
        opt("queue-num", Args::One),
        opt("queue-balance", Args::One),
        opt("queue-bypass", Args::Zero),
        opt("queue-cpu-fanout", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Nfqueue, Diagnostic> {
        refuse_negation(opts)?;
        let (num, balance_opt) = (find(opts, "queue-num")?, find(opts, "queue-balance")?);
        exclusive(opts, &["queue-num", "queue-balance"])?;
        let queues = match (num, balance_opt) {
            (Some(o), _) => Queues::Single(opt_number(o, 0, u16::MAX as u64)? as u16),
            (None, Some(o)) => o.parse_arg(balance)?,
            (None, None) => Queues::Single(0),
        };
        let cpu_fanout = flag(opts, "queue-cpu-fanout")?;
        if cpu_fanout && !matches!(queues, Queues::Balance { .. }) {
            let o = find(opts, "queue-cpu-fanout")?.map(|o| o.span).unwrap_or_default();
            return Err(Diagnostic::error(o, "`--queue-cpu-fanout` needs `--queue-balance FIRST:LAST`"));
        }
        Ok(Nfqueue { queues, bypass: flag(opts, "queue-bypass")?, cpu_fanout })
    }

    fn save(&self, out: &mut String) {
        match self.queues {
            Queues::Single(n) => save_opt_value(out, false, "queue-num", n),
            Queues::Balance { first, last } => save_opt_value(out, false, "queue-balance", format!("{first}:{last}")),
        }
        if self.bypass {
            save_opt(out, false, "queue-bypass");
        }
        if self.cpu_fanout {
            save_opt(out, false, "queue-cpu-fanout");
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

    /// Rules and what `iptables-save` 1.8.9 printed for them.
    #[test]
    fn save_forms() {
        for (rule, want) in [
            ("-A INPUT -j NFQUEUE", "-A INPUT -j NFQUEUE --queue-num 0"),
            ("-A INPUT -j NFQUEUE --queue-num 65535", "-A INPUT -j NFQUEUE --queue-num 65535"),
            ("-A INPUT -j NFQUEUE --queue-num 0x10", "-A INPUT -j NFQUEUE --queue-num 16"),
            ("-A INPUT -j NFQUEUE --queue-balance 0:3", "-A INPUT -j NFQUEUE --queue-balance 0:3"),
            ("-A INPUT -j NFQUEUE --queue-balance :4", "-A INPUT -j NFQUEUE --queue-balance 0:4"),
            ("-A INPUT -j NFQUEUE --queue-balance 4:", "-A INPUT -j NFQUEUE --queue-balance 4:65535"),
            ("-A INPUT -j NFQUEUE --queue-bypass", "-A INPUT -j NFQUEUE --queue-num 0 --queue-bypass"),
            ("-A INPUT -j NFQUEUE --queue-bypass --queue-num 4", "-A INPUT -j NFQUEUE --queue-num 4 --queue-bypass"),
            (
                "-A INPUT -j NFQUEUE --queue-balance 0:3 --queue-cpu-fanout --queue-bypass",
                "-A INPUT -j NFQUEUE --queue-balance 0:3 --queue-bypass --queue-cpu-fanout",
            ),
        ] {
            assert_eq!(saved(rule), want, "{rule}");
        }
    }

    #[test]
    fn wrong_input() {
        let (line, col, msg) = error("-A INPUT -j NFQUEUE --queue-num 65536");
        assert_eq!((line, col), (3, 33));
        assert!(msg.contains("from 0 to 65535"), "{msg}");
        assert!(error("-A INPUT -j NFQUEUE --queue-num abc").2.contains("from 0 to 65535"));
        assert!(error("-A INPUT -j NFQUEUE --queue-balance 2:2").2.contains("must be smaller"));
        assert!(error("-A INPUT -j NFQUEUE --queue-balance 3:2").2.contains("must be smaller"));
        assert!(error("-A INPUT -j NFQUEUE --queue-balance 3").2.contains("FIRST:LAST"));
        assert!(error("-A INPUT -j NFQUEUE --queue-balance 1:65536").2.contains("`65536`"));
        assert!(error("-A INPUT -j NFQUEUE --queue-balance 1-4").2.contains("FIRST:LAST"));
        assert!(error("-A INPUT -j NFQUEUE --queue-balance 0:65535").2.contains("65536 queues"));
        let (_, col, msg) = error("-A INPUT -j NFQUEUE --queue-num 3 --queue-balance 1:4");
        assert_eq!(col, 35);
        assert!(msg.contains("only one of"), "{msg}");
        let (_, col, msg) = error("-A INPUT -j NFQUEUE --queue-num 3 --queue-cpu-fanout");
        assert_eq!(col, 35);
        assert!(msg.contains("needs `--queue-balance"), "{msg}");
        assert!(error("-A INPUT -j NFQUEUE --queue-num 1 --queue-num 2").2.contains("more than once"));
        assert!(error("-A INPUT -j NFQUEUE ! --queue-num 1").2.contains("cannot be negated"));
    }
}
