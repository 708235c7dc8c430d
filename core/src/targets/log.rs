//! Logging targets: `-j LOG` to the kernel log (`libxt_LOG`, the kernel's `xt_LOG.c`), `-j NFLOG` to
//! user space over nfnetlink (`libxt_NFLOG`, `xt_NFLOG.c`) and `-j AUDIT` to the audit subsystem
//! (`libxt_AUDIT`, `xt_AUDIT.c`). None of them decides the packet's fate: the walk goes on with the next rule.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, flag, opt, save_opt, save_opt_string, save_opt_value, Args, ExtCtx, Extension};
use crate::ext::{Opt, OptSpec};
use crate::values::opt_number;
use serde::{Deserialize, Serialize};

/// The longest `--log-prefix` the kernel keeps (its field is 30 bytes with the final NUL).
pub const LOG_PREFIX_MAX: usize = 29;

/// The longest `--nflog-prefix` the kernel keeps (64 bytes with the final NUL).
pub const NFLOG_PREFIX_MAX: usize = 63;

/// The options of `-j LOG`: a kernel log line per packet, `PREFIX IN=... OUT=... SRC=...`.
///
/// Allowed in every table and hook (observed on Linux 6.18).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// `--log-level`: the syslog priority of the line.
    pub level: LogLevel,
    /// `--log-prefix`: text put before the line; empty when not given.
    pub prefix: String,
    /// `--log-tcp-sequence`: log TCP sequence numbers.
    pub tcp_sequence: bool,
    /// `--log-tcp-options`: log the options of the TCP header.
    pub tcp_options: bool,
    /// `--log-ip-options`: log the options of the IPv4/IPv6 header.
    pub ip_options: bool,
    /// `--log-uid`: log the user id of the local socket that owns the packet.
    pub uid: bool,
    /// `--log-macdecode`: decode the MAC header instead of printing it in hex.
    pub macdecode: bool,
}

/// A syslog priority (`--log-level`), from 0 (`emerg`) to 7 (`debug`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogLevel(pub u8);

/// The level names `iptables` knows (case matters), with their numbers.
const LEVEL_NAMES: &[(&str, u8)] = &[
    ("alert", 1),
    ("crit", 2),
    ("debug", 7),
    ("emerg", 0),
    ("error", 3),
    ("info", 6),
    ("notice", 5),
    ("panic", 0),
    ("warning", 4),
];

impl LogLevel {
    /// The level LOG uses when none is given (`warning`).
    pub const DEFAULT: LogLevel = LogLevel(4);

    /// Reads a number from 0 to 7 (C notation) or one of the names `emerg`/`panic`, `alert`, `crit`,
    /// `error`, `warning`, `notice`, `info`, `debug`.
    pub fn parse(text: &str) -> Result<LogLevel, String> {
        if let Some(n) = crate::ruleset::addr::parse_uint(text).filter(|&n| n <= 7) {
            return Ok(LogLevel(n as u8));
        }
        LEVEL_NAMES.iter().find(|(name, _)| *name == text).map(|&(_, n)| LogLevel(n)).ok_or_else(|| {
            format!(
                "log level `{text}` is unknown: give 0 to 7 or emerg, alert, crit, error, warning, notice, info, debug"
            )
        })
    }
}

/// Reads a prefix option: at least one character, cut to `max` bytes as the kernel's field does.
fn prefix(o: &Opt<'_>, max: usize, warnings: &mut Vec<Diagnostic>) -> Result<String, Diagnostic> {
    let text = o.arg();
    if text.is_empty() {
        return Err(o.bad_arg(format!("`--{}` needs at least one character", o.name)));
    }
    if text.len() <= max {
        return Ok(text.to_string());
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    warnings.push(Diagnostic::warning(
        o.arg_span(),
        format!(
            "this prefix is {} bytes long; the kernel keeps only the first {max}: \"{}\"",
            text.len(),
            &text[..end]
        ),
    ));
    Ok(text[..end].to_string())
}

impl Extension for Log {
    const OPTIONS: &'static [OptSpec] = &[
        opt("log-level", Args::One),
        opt("log-prefix", Args::One),
        opt("log-tcp-sequence", Args::Zero),
        opt("log-tcp-options", Args::Zero),
        opt("log-ip-options", Args::Zero),
        opt("log-uid", Args::Zero),
        opt("log-macdecode", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Log, Diagnostic> {
        refuse_negation(opts)?;
        let level = match find(opts, "log-level")? {
            Some(o) => o.parse_arg(LogLevel::parse)?,
            None => LogLevel::DEFAULT,
        };
        let prefix = match find(opts, "log-prefix")? {
            Some(o) => prefix(o, LOG_PREFIX_MAX, warnings)?,
            None => String::new(),
        };
        Ok(Log {
            level,
            prefix,
            tcp_sequence: flag(opts, "log-tcp-sequence")?,
            tcp_options: flag(opts, "log-tcp-options")?,
            ip_options: flag(opts, "log-ip-options")?,
            uid: flag(opts, "log-uid")?,
            macdecode: flag(opts, "log-macdecode")?,
        })
    }

    fn save(&self, out: &mut String) {
        if !self.prefix.is_empty() {
            save_opt_string(out, false, "log-prefix", &self.prefix);
        }
        if self.level != LogLevel::DEFAULT {
            save_opt_value(out, false, "log-level", self.level.0);
        }
        for (on, name) in [
            (self.tcp_sequence, "log-tcp-sequence"),
            (self.tcp_options, "log-tcp-options"),
            (self.ip_options, "log-ip-options"),
            (self.uid, "log-uid"),
            (self.macdecode, "log-macdecode"),
        ] {
            if on {
                save_opt(out, false, name);
            }
        }
    }
}

/// The options of `-j NFLOG`: the packet goes to the nfnetlink log group that a user-space logger
/// (ulogd, tcpdump on `nflog:N`) listens to.
///
/// Allowed in every table and hook (observed on Linux 6.18).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nflog {
    /// `--nflog-group`: the netlink group, 0 when not given.
    pub group: u16,
    /// `--nflog-prefix`: text sent with the packet; empty when not given.
    pub prefix: String,
    /// `--nflog-range`: an old option the kernel never used; 0 when not given.
    pub range: u32,
    /// `--nflog-size`: how many bytes of the packet to copy (`None`: all of it).
    pub size: Option<u32>,
    /// `--nflog-threshold`: how many packets the kernel queues before sending them; 0 when not given.
    pub threshold: u16,
}

impl Extension for Nflog {
    const OPTIONS: &'static [OptSpec] = &[
        opt("nflog-group", Args::One),
        opt("nflog-prefix", Args::One),
        opt("nflog-range", Args::One),
        opt("nflog-size", Args::One),
        opt("nflog-threshold", Args::One),
    ];

    fn build(opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Nflog, Diagnostic> {
        refuse_negation(opts)?;
        exclusive(opts, &["nflog-range", "nflog-size"])?;
        let number = |name: &str, max: u64| -> Result<Option<u64>, Diagnostic> {
            find(opts, name)?.map(|o| opt_number(o, 0, max)).transpose()
        };
        let range = number("nflog-range", u32::MAX as u64)?.unwrap_or(0) as u32;
        if let Some(o) = find(opts, "nflog-range")? {
            warnings.push(
                Diagnostic::warning(o.span, "`--nflog-range` never had an effect and is no longer supported")
                    .with_hint("use `--nflog-size` to limit how much of the packet is copied"),
            );
        }
        Ok(Nflog {
            group: number("nflog-group", u16::MAX as u64)?.unwrap_or(0) as u16,
            prefix: match find(opts, "nflog-prefix")? {
                Some(o) => prefix(o, NFLOG_PREFIX_MAX, warnings)?,
                None => String::new(),
            },
            range,
            size: number("nflog-size", u32::MAX as u64)?.map(|n| n as u32),
            threshold: number("nflog-threshold", u16::MAX as u64)?.unwrap_or(0) as u16,
        })
    }

    fn save(&self, out: &mut String) {
        if !self.prefix.is_empty() {
            save_opt_string(out, false, "nflog-prefix", &self.prefix);
        }
        if self.group != 0 {
            save_opt_value(out, false, "nflog-group", self.group);
        }
        if self.range != 0 {
            save_opt_value(out, false, "nflog-range", self.range);
        }
        if let Some(size) = self.size {
            save_opt_value(out, false, "nflog-size", size);
        }
        if self.threshold != 0 {
            save_opt_value(out, false, "nflog-threshold", self.threshold);
        }
    }
}

/// The options of `-j AUDIT`: an audit record about the packet, typed by the action the ruleset takes.
///
/// Allowed in every table and hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// `--type`: the action recorded.
    pub kind: AuditType,
}

/// The action an AUDIT record names (`--type`, any case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditType {
    /// `accept`.
    Accept,
    /// `drop`.
    Drop,
    /// `reject`.
    Reject,
}

impl AuditType {
    /// The name `iptables-save` prints.
    pub fn name(self) -> &'static str {
        match self {
            AuditType::Accept => "accept",
            AuditType::Drop => "drop",
            AuditType::Reject => "reject",
        }
    }
}

impl Extension for Audit {
    const OPTIONS: &'static [OptSpec] = &[opt("type", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Audit, Diagnostic> {
        refuse_negation(opts)?;
        let o = find(opts, "type")?.ok_or_else(|| ctx.error("AUDIT needs `--type accept`, `drop` or `reject`"))?;
        let kind = [AuditType::Accept, AuditType::Drop, AuditType::Reject]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(o.arg()))
            .ok_or_else(|| o.bad_arg(format!("`{}` is not an audit type (accept, drop or reject)", o.arg())))?;
        Ok(Audit { kind })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, false, "type", self.kind.name());
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::ruleset::Family;

    fn dump(family: Family, rule: &str) -> crate::Parsed {
        parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n{rule}\nCOMMIT\n"), Some(family))
    }

    fn saved(rule: &str) -> String {
        let p = dump(Family::Ipv4, rule);
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        crate::canonical(&p).lines().find(|l| l.starts_with("-A")).unwrap_or_default().to_string()
    }

    fn error(rule: &str) -> (u32, u32, String) {
        let p = dump(Family::Ipv4, rule);
        let e = p.errors().next().unwrap_or_else(|| panic!("{rule} should fail"));
        (e.span.line, e.span.col, e.message.clone())
    }

    /// Rules and what `iptables-save` 1.8.9 printed for them.
    #[test]
    fn log_save_forms() {
        for (rule, want) in [
            ("-A INPUT -j LOG", "-A INPUT -j LOG"),
            ("-A INPUT -j LOG --log-level 4", "-A INPUT -j LOG"),
            ("-A INPUT -j LOG --log-level warning", "-A INPUT -j LOG"),
            ("-A INPUT -j LOG --log-level emerg", "-A INPUT -j LOG --log-level 0"),
            ("-A INPUT -j LOG --log-level panic", "-A INPUT -j LOG --log-level 0"),
            ("-A INPUT -j LOG --log-level alert", "-A INPUT -j LOG --log-level 1"),
            ("-A INPUT -j LOG --log-level crit", "-A INPUT -j LOG --log-level 2"),
            ("-A INPUT -j LOG --log-level error", "-A INPUT -j LOG --log-level 3"),
            ("-A INPUT -j LOG --log-level notice", "-A INPUT -j LOG --log-level 5"),
            ("-A INPUT -j LOG --log-level info", "-A INPUT -j LOG --log-level 6"),
            ("-A INPUT -j LOG --log-level debug", "-A INPUT -j LOG --log-level 7"),
            ("-A INPUT -j LOG --log-level 0x3", "-A INPUT -j LOG --log-level 3"),
            ("-A INPUT -j LOG --log-level 03", "-A INPUT -j LOG --log-level 3"),
            ("-A INPUT -j LOG --log-prefix \"IN: \"", "-A INPUT -j LOG --log-prefix \"IN: \""),
            ("-A INPUT -j LOG --log-prefix abc", "-A INPUT -j LOG --log-prefix abc"),
            ("-A INPUT -j LOG --log-prefix \"a'b\"", "-A INPUT -j LOG --log-prefix \"a\\'b\""),
            ("-A INPUT -j LOG --log-prefix --log-uid", "-A INPUT -j LOG --log-prefix --log-uid"),
            ("-A INPUT -j LOG --log-p x", "-A INPUT -j LOG --log-prefix x"),
            (
                "-A INPUT -j LOG --log-prefix \"123456789012345678901234567890\"",
                "-A INPUT -j LOG --log-prefix 12345678901234567890123456789",
            ),
            (
                "-A INPUT -j LOG --log-macdecode --log-uid --log-ip-options --log-tcp-options --log-tcp-sequence \
                 --log-prefix x --log-level 1",
                "-A INPUT -j LOG --log-prefix x --log-level 1 --log-tcp-sequence --log-tcp-options --log-ip-options \
                 --log-uid --log-macdecode",
            ),
        ] {
            assert_eq!(saved(rule), want, "{rule}");
        }
    }

    #[test]
    fn long_prefix_is_cut_with_a_warning() {
        let p = dump(Family::Ipv4, "-A INPUT -j LOG --log-prefix \"1234567890123456789012345678901\"");
        assert!(!p.has_errors());
        let w = p.warnings().next().expect("a warning");
        assert_eq!((w.span.line, w.span.col), (3, 30));
        assert!(w.message.contains("first 29"), "{}", w.message);
    }

    #[test]
    fn log_wrong_input() {
        let (line, col, msg) = error("-A INPUT -j LOG --log-level warn");
        assert_eq!((line, col), (3, 29));
        assert!(msg.contains("log level `warn` is unknown"), "{msg}");
        for bad in ["err", "8", "DEBUG", "-1", "\"\"", "0x8"] {
            assert!(error(&format!("-A INPUT -j LOG --log-level {bad}")).2.contains("is unknown"), "{bad}");
        }
        assert!(error("-A INPUT -j LOG --log-prefix \"\"").2.contains("at least one character"));
        assert!(error("-A INPUT -j LOG --log-uid --log-uid").2.contains("more than once"));
        assert!(error("-A INPUT -j LOG --log-level 4 --log-level 5").2.contains("more than once"));
        let (_, col, msg) = error("-A INPUT -j LOG ! --log-uid");
        assert_eq!(col, 17);
        assert!(msg.contains("cannot be negated"), "{msg}");
    }

    #[test]
    fn nflog_save_forms() {
        for (rule, want) in [
            ("-A INPUT -j NFLOG", "-A INPUT -j NFLOG"),
            ("-A INPUT -j NFLOG --nflog-group 0", "-A INPUT -j NFLOG"),
            ("-A INPUT -j NFLOG --nflog-group 65535", "-A INPUT -j NFLOG --nflog-group 65535"),
            ("-A INPUT -j NFLOG --nflog-group 0x10", "-A INPUT -j NFLOG --nflog-group 16"),
            ("-A INPUT -j NFLOG --nflog-prefix \"hello there\"", "-A INPUT -j NFLOG --nflog-prefix \"hello there\""),
            ("-A INPUT -j NFLOG --nflog-size 0", "-A INPUT -j NFLOG --nflog-size 0"),
            ("-A INPUT -j NFLOG --nflog-size 4294967295", "-A INPUT -j NFLOG --nflog-size 4294967295"),
            ("-A INPUT -j NFLOG --nflog-range 0", "-A INPUT -j NFLOG"),
            ("-A INPUT -j NFLOG --nflog-threshold 0", "-A INPUT -j NFLOG"),
            ("-A INPUT -j NFLOG --nflog-threshold 1", "-A INPUT -j NFLOG --nflog-threshold 1"),
            (
                "-A INPUT -j NFLOG --nflog-threshold 10 --nflog-size 64 --nflog-prefix p --nflog-group 3",
                "-A INPUT -j NFLOG --nflog-prefix p --nflog-group 3 --nflog-size 64 --nflog-threshold 10",
            ),
            (
                "-A INPUT -j NFLOG --nflog-range 100 --nflog-group 3 --nflog-threshold 2 --nflog-prefix x",
                "-A INPUT -j NFLOG --nflog-prefix x --nflog-group 3 --nflog-range 100 --nflog-threshold 2",
            ),
            (
                "-A INPUT -j NFLOG --nflog-prefix \
                 \"1234567890123456789012345678901234567890123456789012345678901234\"",
                "-A INPUT -j NFLOG --nflog-prefix 123456789012345678901234567890123456789012345678901234567890123",
            ),
        ] {
            assert_eq!(saved(rule), want, "{rule}");
        }
        let p = dump(Family::Ipv4, "-A INPUT -j NFLOG --nflog-range 100");
        assert!(p.warnings().any(|w| w.message.contains("no longer supported")));
    }

    #[test]
    fn nflog_wrong_input() {
        let (_, col, msg) = error("-A INPUT -j NFLOG --nflog-group 65536");
        assert_eq!(col, 33);
        assert!(msg.contains("from 0 to 65535"), "{msg}");
        assert!(error("-A INPUT -j NFLOG --nflog-group -1").2.contains("from 0 to 65535"));
        assert!(error("-A INPUT -j NFLOG --nflog-size 4294967296").2.contains("from 0 to 4294967295"));
        assert!(error("-A INPUT -j NFLOG --nflog-threshold 65536").2.contains("from 0 to 65535"));
        assert!(error("-A INPUT -j NFLOG --nflog-prefix \"\"").2.contains("at least one character"));
        let (_, col, msg) = error("-A INPUT -j NFLOG --nflog-size 5 --nflog-range 5");
        assert_eq!(col, 34);
        assert!(msg.contains("only one of"), "{msg}");
        assert!(error("-A INPUT -j NFLOG ! --nflog-group 1").2.contains("cannot be negated"));
    }

    #[test]
    fn audit() {
        assert_eq!(saved("-A INPUT -j AUDIT --type accept"), "-A INPUT -j AUDIT --type accept");
        assert_eq!(saved("-A INPUT -j AUDIT --type drop"), "-A INPUT -j AUDIT --type drop");
        assert_eq!(saved("-A INPUT -j AUDIT --type ACCEPT"), "-A INPUT -j AUDIT --type accept");
        assert_eq!(saved("-A INPUT -j AUDIT --type reject"), "-A INPUT -j AUDIT --type reject");
        let (_, col, msg) = error("-A INPUT -j AUDIT --type acc");
        assert_eq!(col, 26);
        assert!(msg.contains("`acc` is not an audit type"), "{msg}");
        let (_, col, msg) = error("-A INPUT -j AUDIT");
        assert_eq!(col, 10);
        assert!(msg.contains("needs `--type"), "{msg}");
    }
}
