//! Targets that set packet and connection metadata: `-j MARK` (the packet's mark, `libxt_MARK`, the kernel's
//! `xt_mark.c`), `-j CONNMARK` (the connection's mark, `libxt_CONNMARK`, `xt_connmark.c`) and `-j CLASSIFY`
//! (the packet's priority, which picks a traffic-control class; `libxt_CLASSIFY`, `xt_CLASSIFY.c`).
//!
//! Every way of changing a mark comes down to "clear the bits of a mask, then XOR a value" ([`xmark`]),
//! which is also how `iptables-save` prints them: `--set-xmark VALUE/MASK`.

use super::common::{one_of, refuse_negation};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::values::{opt_number, parse_u32, MarkMask};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The kernel's mark update: clear the bits of `change.mask` in `old`, then XOR `change.value` into it.
pub fn xmark(old: u32, change: MarkMask) -> u32 {
    (old & !change.mask) ^ change.value
}

/// The five ways to give a mark change, read into its `VALUE/MASK` form as `libxt_MARK` and
/// `libxt_CONNMARK` do.
fn mark_change(o: &Opt<'_>) -> Result<Option<MarkMask>, Diagnostic> {
    let bits = || {
        parse_u32(o.arg()).ok_or_else(|| o.bad_arg(format!("`--{}` takes a 32-bit number, not `{}`", o.name, o.arg())))
    };
    Ok(Some(match o.name {
        "set-xmark" => o.parse_arg(MarkMask::parse)?,
        "set-mark" => {
            let m = o.parse_arg(MarkMask::parse)?;
            MarkMask { value: m.value, mask: m.value | m.mask }
        }
        "and-mark" => MarkMask { value: 0, mask: !bits()? },
        "or-mark" => {
            let b = bits()?;
            MarkMask { value: b, mask: b }
        }
        "xor-mark" => MarkMask { value: bits()?, mask: 0 },
        _ => return Ok(None),
    }))
}

/// Appends ` --NAME 0xVALUE/0xMASK`, the form both targets print.
fn save_xmark(out: &mut String, name: &str, m: MarkMask) {
    save_opt(out, false, name);
    let _ = write!(out, " {:#x}/{:#x}", m.value, m.mask);
}

/// The options of `-j MARK`: changes the packet's mark (`skb->mark`), which later rules, routing rules
/// (`ip rule fwmark`) and traffic control can look at.
///
/// Allowed in every table and hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The change, applied with [`xmark`].
    pub change: MarkMask,
}

const MARK_ACTIONS: &[&str] = &["set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark"];

impl Extension for Mark {
    const OPTIONS: &'static [OptSpec] = &[
        opt("set-xmark", Args::One),
        opt("set-mark", Args::One),
        opt("and-mark", Args::One),
        opt("or-mark", Args::One),
        opt("xor-mark", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Mark, Diagnostic> {
        refuse_negation(opts)?;
        let o = one_of(opts, MARK_ACTIONS)?.ok_or_else(|| {
            ctx.error("MARK needs one of `--set-xmark`, `--set-mark`, `--and-mark`, `--or-mark`, `--xor-mark`")
        })?;
        let change = mark_change(o)?.unwrap_or(MarkMask { value: 0, mask: 0 });
        Ok(Mark { change })
    }

    fn save(&self, out: &mut String) {
        save_xmark(out, "set-xmark", self.change);
    }
}

/// The options of `-j CONNMARK`: changes the connection's mark (`ct->mark`), or copies between it and the
/// packet's mark.
///
/// Allowed in every table and hook (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connmark {
    /// What it does.
    pub action: ConnmarkAction,
    /// `--left-shift-mark N` / `--right-shift-mark N`: shift the copied or new mark; `None` for no shift.
    pub shift: Option<MarkShift>,
}

/// What CONNMARK does with the marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnmarkAction {
    /// `--set-xmark` and friends: `ct->mark = shift((ct->mark & !mask) ^ value)`.
    Set(MarkMask),
    /// `--save-mark`: `ct->mark = (ct->mark & !ctmask) ^ shift(skb->mark & nfmask)`.
    Save(CopyMasks),
    /// `--restore-mark`: `skb->mark = (skb->mark & !nfmask) ^ shift(ct->mark & ctmask)`.
    Restore(CopyMasks),
}

/// The masks of a copy between the packet's and the connection's mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyMasks {
    /// `--nfmask`: the bits of the packet's mark involved.
    pub nfmask: u32,
    /// `--ctmask`: the bits of the connection's mark involved.
    pub ctmask: u32,
}

/// A shift of the mark CONNMARK writes (revision 2 of the target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkShift {
    /// Which way.
    pub dir: ShiftDir,
    /// How many bits, 1 to 31.
    pub bits: u8,
}

/// The direction of a [`MarkShift`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShiftDir {
    /// `--left-shift-mark`.
    Left,
    /// `--right-shift-mark`.
    Right,
}

const CONNMARK_ACTIONS: &[&str] =
    &["set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark", "save-mark", "restore-mark"];

impl Extension for Connmark {
    const OPTIONS: &'static [OptSpec] = &[
        opt("set-xmark", Args::One),
        opt("set-mark", Args::One),
        opt("and-mark", Args::One),
        opt("or-mark", Args::One),
        opt("xor-mark", Args::One),
        opt("save-mark", Args::Zero),
        opt("restore-mark", Args::Zero),
        opt("mask", Args::One),
        opt("ctmask", Args::One),
        opt("nfmask", Args::One),
        opt("left-shift-mark", Args::One),
        opt("right-shift-mark", Args::One),
    ];

    /// The options write into the same fields in the order given, as `libxt_CONNMARK` does: `--mask` sets
    /// both masks, and a later `--set-mark` replaces the mask an earlier `--mask` gave (and the other way
    /// round).
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Connmark, Diagnostic> {
        refuse_negation(opts)?;
        let action = one_of(opts, CONNMARK_ACTIONS)?.ok_or_else(|| {
            ctx.error(
                "CONNMARK needs `--set-xmark`, `--set-mark`, `--and-mark`, `--or-mark`, `--xor-mark`, \
                 `--save-mark` or `--restore-mark`",
            )
        })?;
        for name in ["mask", "ctmask", "nfmask", "left-shift-mark", "right-shift-mark"] {
            find(opts, name)?;
        }
        let mask_opt = find(opts, "mask")?;
        if let (Some(m), Some(other)) = (mask_opt, opts.iter().find(|o| o.name == "ctmask" || o.name == "nfmask")) {
            let second = if m.span.start < other.span.start { other } else { m };
            return Err(Diagnostic::error(
                second.span,
                "`--mask` sets both masks; it cannot be used with `--ctmask` or `--nfmask`",
            ));
        }
        let (mut ct, mut nfmask) = (MarkMask { value: 0, mask: u32::MAX }, u32::MAX);
        let mut shift = None;
        for o in opts {
            if let Some(change) = mark_change(o)? {
                ct = change;
                continue;
            }
            let mask = || opt_number(o, 0, u32::MAX as u64).map(|n| n as u32);
            match o.name {
                "mask" => {
                    let m = mask()?;
                    ct.mask = m;
                    nfmask = m;
                }
                "ctmask" => ct.mask = mask()?,
                "nfmask" => nfmask = mask()?,
                "left-shift-mark" | "right-shift-mark" => {
                    let bits = opt_number(o, 0, 32)? as u8;
                    if bits == 32 {
                        return Err(o.bad_arg("the kernel refuses a shift by 32 bits; shift by 0 to 31"));
                    }
                    let dir = if o.name == "left-shift-mark" { ShiftDir::Left } else { ShiftDir::Right };
                    shift = (bits != 0).then_some(MarkShift { dir, bits });
                }
                _ => {}
            }
        }
        let masks = CopyMasks { nfmask, ctmask: ct.mask };
        let action = match action.name {
            "save-mark" => ConnmarkAction::Save(masks),
            "restore-mark" => ConnmarkAction::Restore(masks),
            _ => ConnmarkAction::Set(ct),
        };
        Ok(Connmark { action, shift })
    }

    fn save(&self, out: &mut String) {
        let (name, masks) = match self.action {
            ConnmarkAction::Set(m) => {
                save_xmark(out, "set-xmark", m);
                ("", None)
            }
            ConnmarkAction::Save(m) => ("save-mark", Some(m)),
            ConnmarkAction::Restore(m) => ("restore-mark", Some(m)),
        };
        if let Some(m) = masks {
            save_opt(out, false, name);
            let _ = write!(out, " --nfmask {:#x} --ctmask {:#x}", m.nfmask, m.ctmask);
        }
        if let Some(s) = self.shift {
            let dir = match s.dir {
                ShiftDir::Left => "left-shift-mark",
                ShiftDir::Right => "right-shift-mark",
            };
            save_opt(out, false, dir);
            let _ = write!(out, " {}", s.bits);
        }
    }
}

/// The options of `-j CLASSIFY`: sets the packet's priority (`skb->priority`) to a traffic-control class
/// `MAJOR:MINOR`, which a classful qdisc on the way out uses.
///
/// The kernel allows CLASSIFY only in the OUTPUT, FORWARD and POSTROUTING hooks, in every table that has
/// them (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classify {
    /// The class's major number (the qdisc handle).
    pub major: u16,
    /// The class's minor number.
    pub minor: u16,
}

impl Classify {
    /// The value written to `skb->priority`.
    pub fn priority(self) -> u32 {
        u32::from(self.major) << 16 | u32::from(self.minor)
    }
}

/// Reads one hex number as `sscanf("%x")` does: blanks, a sign, an optional `0x`, hex digits. The result is
/// cut to 32 bits as C's `unsigned int` is, and a `-` negates it.
fn scan_hex(text: &str) -> Option<(u32, &str)> {
    let t = text.trim_start_matches(crate::values::C_SPACE);
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let t = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) if hex.starts_with(|c: char| c.is_ascii_hexdigit()) => hex,
        _ => t,
    };
    let len = t.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(t.len());
    if len == 0 {
        return None;
    }
    let value = u64::from_str_radix(&t[..len], 16).unwrap_or(u64::MAX) as u32;
    Some((if negative { value.wrapping_neg() } else { value }, &t[len..]))
}

impl Extension for Classify {
    const OPTIONS: &'static [OptSpec] = &[opt("set-class", Args::One)];

    /// Reads `--set-class MAJOR:MINOR` in hex as `libxt_CLASSIFY` does with `sscanf("%x:%x")`: each part is
    /// cut to 16 bits, and text after the minor number is ignored.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Classify, Diagnostic> {
        refuse_negation(opts)?;
        let o = find(opts, "set-class")?.ok_or_else(|| ctx.error("CLASSIFY needs `--set-class MAJOR:MINOR`"))?;
        let bad = || o.bad_arg(format!("`{}` is not a class: write MAJOR:MINOR in hex, like 1:10", o.arg()));
        let (major, rest) = scan_hex(o.arg()).ok_or_else(bad)?;
        let rest = rest.strip_prefix(':').ok_or_else(bad)?;
        let (minor, rest) = scan_hex(rest).ok_or_else(bad)?;
        let class = Classify { major: major as u16, minor: minor as u16 };
        if !rest.is_empty() || major > 0xffff || minor > 0xffff {
            warnings.push(Diagnostic::warning(
                o.arg_span(),
                format!("iptables reads `{}` as class {:04x}:{:04x}", o.arg(), class.major, class.minor),
            ));
        }
        Ok(class)
    }

    fn save(&self, out: &mut String) {
        save_opt(out, false, "set-class");
        let _ = write!(out, " {:04x}:{:04x}", self.major, self.minor);
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;

    fn dump(rule: &str) -> crate::Parsed {
        let chains = ":PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]";
        parse(&format!("*mangle\n{chains}\n{rule}\nCOMMIT\n"), None)
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
    fn mark_save_forms() {
        for (rule, want) in [
            ("-j MARK --set-mark 1", "0x1/0xffffffff"),
            ("-j MARK --set-mark 0x10/0xff", "0x10/0xff"),
            ("-j MARK --set-mark 0x10/0x0f", "0x10/0x1f"),
            ("-j MARK --set-mark 0", "0x0/0xffffffff"),
            ("-j MARK --set-mark 0/0", "0x0/0x0"),
            ("-j MARK --set-mark 010", "0x8/0xffffffff"),
            ("-j MARK --set-xmark 0x10/0x0f", "0x10/0xf"),
            ("-j MARK --set-xmark 0x10/0x0", "0x10/0x0"),
            ("-j MARK --and-mark 0xff", "0x0/0xffffff00"),
            ("-j MARK --and-mark 0xffffffff", "0x0/0x0"),
            ("-j MARK --or-mark 0x4", "0x4/0x4"),
            ("-j MARK --xor-mark 0x4", "0x4/0x0"),
            ("-j MARK --set-x 5", "0x5/0xffffffff"),
        ] {
            let want = format!("-A PREROUTING -j MARK --set-xmark {want}");
            assert_eq!(saved(&format!("-A PREROUTING {rule}")), want, "{rule}");
        }
        assert_eq!(super::xmark(0xf0f0, super::MarkMask { value: 0x4, mask: 0xff }), 0xf004);
    }

    #[test]
    fn mark_wrong_input() {
        let (line, col, msg) = error("-A PREROUTING -j MARK");
        assert_eq!((line, col), (5, 15));
        assert!(msg.contains("MARK needs one of"), "{msg}");
        let (_, col, msg) = error("-A PREROUTING -j MARK --set-mark 1 --or-mark 2");
        assert_eq!(col, 36);
        assert!(msg.contains("cannot be used together"), "{msg}");
        assert!(error("-A PREROUTING -j MARK --set-mark 1 --set-mark 2").2.contains("more than once"));
        assert!(error("-A PREROUTING -j MARK ! --set-mark 1").2.contains("cannot be negated"));
        for bad in ["abc", "1/", "/1", "-1", "0x100000000", "1/0x100000000"] {
            let (_, col, _) = error(&format!("-A PREROUTING -j MARK --set-mark {bad}"));
            assert_eq!(col, 34, "{bad}");
        }
        assert!(error("-A PREROUTING -j MARK --or-mark 0x4/0xff").2.contains("32-bit number"));
    }

    #[test]
    fn connmark_save_forms() {
        for (rule, want) in [
            ("--set-mark 1", "--set-xmark 0x1/0xffffffff"),
            ("--set-mark 0x10/0x0f", "--set-xmark 0x10/0x1f"),
            ("--set-xmark 1/0xff", "--set-xmark 0x1/0xff"),
            ("--and-mark 0xff", "--set-xmark 0x0/0xffffff00"),
            ("--or-mark 0xff", "--set-xmark 0xff/0xff"),
            ("--xor-mark 0xff", "--set-xmark 0xff/0x0"),
            ("--save-mark", "--save-mark --nfmask 0xffffffff --ctmask 0xffffffff"),
            ("--save-mark --mask 0xff", "--save-mark --nfmask 0xff --ctmask 0xff"),
            ("--save-mark --nfmask 0xff", "--save-mark --nfmask 0xff --ctmask 0xffffffff"),
            ("--save-mark --ctmask 0xff", "--save-mark --nfmask 0xffffffff --ctmask 0xff"),
            ("--save-mark --mask 0", "--save-mark --nfmask 0x0 --ctmask 0x0"),
            ("--restore-mark", "--restore-mark --nfmask 0xffffffff --ctmask 0xffffffff"),
            ("--restore-mark --nfmask 0xff --ctmask 0xf0", "--restore-mark --nfmask 0xff --ctmask 0xf0"),
            ("--save --mask 1", "--save-mark --nfmask 0x1 --ctmask 0x1"),
            ("--restore --mask 1", "--restore-mark --nfmask 0x1 --ctmask 0x1"),
            // The options fill the same fields in order.
            ("--set-mark 1 --mask 0xff", "--set-xmark 0x1/0xff"),
            ("--set-mark 1/0xf0 --mask 0xff", "--set-xmark 0x1/0xff"),
            ("--mask 0xff --set-mark 1/0xf0", "--set-xmark 0x1/0xf1"),
            ("--set-xmark 1 --mask 0xff", "--set-xmark 0x1/0xff"),
            ("--and-mark 1 --mask 0xff", "--set-xmark 0x0/0xff"),
            ("--set-mark 1 --nfmask 0xff", "--set-xmark 0x1/0xffffffff"),
            ("--set-mark 1 --ctmask 0xff", "--set-xmark 0x1/0xff"),
            ("--set-mark 1 --mask 0", "--set-xmark 0x1/0x0"),
            // Revision 2: shifts, the last one given wins, 0 is no shift.
            (
                "--save-mark --left-shift-mark 2",
                "--save-mark --nfmask 0xffffffff --ctmask 0xffffffff --left-shift-mark 2",
            ),
            (
                "--restore-mark --right-shift-mark 2",
                "--restore-mark --nfmask 0xffffffff --ctmask 0xffffffff --right-shift-mark 2",
            ),
            (
                "--save-mark --nfmask 0xff --left-shift-mark 3",
                "--save-mark --nfmask 0xff --ctmask 0xffffffff --left-shift-mark 3",
            ),
            ("--save-mark --left-shift-mark 0", "--save-mark --nfmask 0xffffffff --ctmask 0xffffffff"),
            (
                "--save-mark --left-shift-mark 2 --right-shift-mark 3",
                "--save-mark --nfmask 0xffffffff --ctmask 0xffffffff --right-shift-mark 3",
            ),
            ("--set-mark 1 --left-shift-mark 2", "--set-xmark 0x1/0xffffffff --left-shift-mark 2"),
            ("--and-mark 1 --right-shift-mark 1", "--set-xmark 0x0/0xfffffffe --right-shift-mark 1"),
        ] {
            let want = format!("-A PREROUTING -j CONNMARK {want}");
            assert_eq!(saved(&format!("-A PREROUTING -j CONNMARK {rule}")), want, "{rule}");
        }
    }

    #[test]
    fn connmark_wrong_input() {
        let (_, col, msg) = error("-A PREROUTING -j CONNMARK --mask 0xff");
        assert_eq!(col, 15);
        assert!(msg.contains("CONNMARK needs"), "{msg}");
        assert!(error("-A PREROUTING -j CONNMARK --left-shift-mark 2").2.contains("CONNMARK needs"));
        let (_, col, msg) = error("-A PREROUTING -j CONNMARK --set-mark 1 --save-mark");
        assert_eq!(col, 40);
        assert!(msg.contains("cannot be used together"), "{msg}");
        assert!(error("-A PREROUTING -j CONNMARK --save-mark --restore-mark").2.contains("cannot be used together"));
        let (_, col, msg) = error("-A PREROUTING -j CONNMARK --save-mark --mask 0xff --ctmask 0xf0");
        assert_eq!(col, 51);
        assert!(msg.contains("`--mask` sets both masks"), "{msg}");
        assert_eq!(error("-A PREROUTING -j CONNMARK --save-mark --ctmask 0xf0 --mask 0xff").1, 53);
        assert!(error("-A PREROUTING -j CONNMARK --save-mark --mask 0xff --mask 0xf").2.contains("more than once"));
        let (_, col, msg) = error("-A PREROUTING -j CONNMARK --save-mark --right-shift-mark 32");
        assert_eq!(col, 58);
        assert!(msg.contains("kernel refuses a shift by 32"), "{msg}");
        assert!(error("-A PREROUTING -j CONNMARK --save-mark --left-shift-mark 33").2.contains("from 0 to 32"));
        assert!(error("-A PREROUTING -j CONNMARK ! --save-mark").2.contains("cannot be negated"));
        assert!(error("-A PREROUTING -j CONNMARK --and-mark 0xff/0xf").2.contains("32-bit number"));
    }

    #[test]
    fn classify() {
        for (arg, want) in [
            ("1:10", "0001:0010"),
            ("0:0", "0000:0000"),
            ("ffff:ffff", "ffff:ffff"),
            ("0x1:0x10", "0001:0010"),
            ("A:b", "000a:000b"),
            ("01:010", "0001:0010"),
            ("10000:1", "0000:0001"),
            ("ffffffff:1", "ffff:0001"),
            ("100000000:1", "0000:0001"),
            ("1:1:1", "0001:0001"),
            ("1:1x", "0001:0001"),
            ("1:-1", "0001:ffff"),
            ("-1:1", "ffff:0001"),
            ("\"1: 2\"", "0001:0002"),
            ("1:+2", "0001:0002"),
        ] {
            let want = format!("-A POSTROUTING -j CLASSIFY --set-class {want}");
            assert_eq!(saved(&format!("-A POSTROUTING -j CLASSIFY --set-class {arg}")), want, "{arg}");
        }
        let p = dump("-A POSTROUTING -j CLASSIFY --set-class 10000:1");
        assert!(p.warnings().any(|w| w.message.contains("as class 0000:0001")));
        for bad in [":1", "1:", "g:1", "1"] {
            let (_, col, msg) = error(&format!("-A POSTROUTING -j CLASSIFY --set-class {bad}"));
            assert_eq!(col, 40, "{bad}");
            assert!(msg.contains("is not a class"), "{msg}");
        }
        let (_, col, msg) = error("-A POSTROUTING -j CLASSIFY");
        assert_eq!(col, 16);
        assert!(msg.contains("needs `--set-class"), "{msg}");
    }
}
