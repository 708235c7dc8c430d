//! Targets of the raw table that steer connection tracking before it runs: `-j CT` (`libxt_CT`, the
//! kernel's `xt_CT.c`), its old alias `-j NOTRACK`, and `-j TRACE` (`libxt_TRACE`, `xt_TRACE.c`), which
//! marks the packet so that every rule it meets afterwards logs a `TRACE:` line.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Protocol};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The options of `-j CT`: settings for the connection the packet starts, or no tracking at all.
///
/// The kernel allows CT only in the raw table (PREROUTING, OUTPUT), for both families (observed on Linux
/// 6.18).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ct {
    /// `--notrack`: the packet is not tracked (its conntrack state is UNTRACKED); the kernel then ignores
    /// every other option.
    pub notrack: bool,
    /// `--helper NAME`: the conntrack helper (ftp, sip, ...) assigned to the connection.
    pub helper: Option<String>,
    /// `--ctevents`: the conntrack events reported for the connection (all when empty).
    pub ct_events: CtEvents,
    /// `--expevents`: the expectation events reported (only `new` exists).
    pub exp_events: CtEvents,
    /// `--zone`, `--zone-orig`, `--zone-reply`: the conntrack zone; `None` is zone 0.
    pub zone: Option<Zone>,
    /// `--timeout NAME`: a timeout policy made beforehand with `nfct add timeout`.
    pub timeout: Option<String>,
}

/// A set of conntrack events, bit N for event N of the kernel's `enum ip_conntrack_events`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CtEvents(pub u16);

/// The event names `--ctevents` knows, by bit, in the order `iptables-save` prints them.
const CT_EVENTS: &[&str] =
    &["new", "related", "destroy", "reply", "assured", "protoinfo", "helper", "mark", "natseqinfo", "secmark"];

/// The event names `--expevents` knows.
const EXP_EVENTS: &[&str] = &["new"];

impl CtEvents {
    /// Reads a comma-separated list of the names in `known` (case matters; repeats are fine).
    fn parse(text: &str, known: &[&str]) -> Result<CtEvents, String> {
        let mut bits = 0u16;
        for name in text.split(',') {
            let bit = known
                .iter()
                .position(|k| *k == name)
                .ok_or_else(|| format!("`{name}` is not an event here (known: {})", known.join(", ")))?;
            bits |= 1 << bit;
        }
        Ok(CtEvents(bits))
    }

    /// Whether no event is chosen.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for CtEvents {
    /// The names joined by commas, in bit order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            CT_EVENTS.iter().enumerate().filter(|(i, _)| self.0 & 1 << i != 0).map(|(_, n)| *n).collect();
        f.write_str(&names.join(","))
    }
}

/// The conntrack zone a connection is looked up and created in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// Which zone.
    pub id: ZoneId,
    /// Which direction of the connection it applies to.
    pub dir: ZoneDir,
}

/// The zone number, fixed or taken from the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneId {
    /// A zone number (not 0, which is the default zone).
    Id(u16),
    /// `mark`: the packet's mark is the zone number.
    Mark,
}

/// The direction a zone applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneDir {
    /// `--zone` (or both `--zone-orig` and `--zone-reply`).
    Both,
    /// `--zone-orig`: the original direction only.
    Orig,
    /// `--zone-reply`: the reply direction only.
    Reply,
}

/// The conntrack helpers of the kernel, with the protocols and families they register for.
const HELPERS: &[(&str, &[Protocol], bool)] = &[
    ("amanda", &[Protocol::UDP], true),
    ("ftp", &[Protocol::TCP], true),
    ("irc", &[Protocol::TCP], false),
    ("netbios-ns", &[Protocol::UDP], false),
    ("pptp", &[Protocol::TCP], false),
    ("Q.931", &[Protocol::TCP], true),
    ("RAS", &[Protocol::UDP], true),
    ("sane", &[Protocol::TCP], true),
    ("sip", &[Protocol::TCP, Protocol::UDP], true),
    ("snmp", &[Protocol::UDP], false),
    ("snmp_trap", &[Protocol::UDP], false),
    ("tftp", &[Protocol::UDP], true),
];

/// Checks `--helper` as the kernel does when the rule is loaded: it looks the helper up by name, family and
/// the rule's protocol. A name the kernel does not know may still be a user-space helper (`nfct add helper`).
fn check_helper(o: &Opt<'_>, name: &str, ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<(), Diagnostic> {
    let proto = l4_protocol(o, ctx, "a conntrack helper")?;
    match HELPERS.iter().find(|(n, _, _)| *n == name) {
        None => {
            // Helper names are compared exactly, and nobody registers a user-space `FTP`.
            if let Some((kernel, _, _)) = HELPERS.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
                return Err(o.bad_arg(format!(
                    "the kernel has no conntrack helper `{name}`: helper names are case-sensitive, write `{kernel}`"
                )));
            }
            warnings.push(
                Diagnostic::warning(o.arg_span(), format!("the kernel has no conntrack helper called `{name}`"))
                    .with_hint("loading fails unless a user-space helper of that name is registered"),
            );
        }
        Some((_, protos, v6)) => {
            if !protos.contains(&proto) {
                let names: Vec<String> = protos.iter().map(|p| format!("-p {p}")).collect();
                return Err(o.bad_arg(format!("the `{name}` helper works with {} only", names.join(" or "))));
            }
            if ctx.family == Family::Ipv6 && !v6 {
                return Err(o.bad_arg(format!("the `{name}` helper exists for IPv4 only")));
            }
        }
    }
    Ok(())
}

/// The rule's protocol, which the kernel needs (given and not negated) to find a helper or a timeout policy.
fn l4_protocol(o: &Opt<'_>, ctx: &ExtCtx<'_>, what: &str) -> Result<Protocol, Diagnostic> {
    ctx.proto()
        .filter(|p| !p.is_all())
        .ok_or_else(|| o.bad_arg(format!("{what} needs the rule to say its protocol (`-p tcp` or `-p udp`)")))
}

/// Reads the argument of a zone option: a number from 0 to 65535 or `mark` (any case).
fn zone_arg(o: &Opt<'_>) -> Result<Option<u16>, Diagnostic> {
    if o.arg().eq_ignore_ascii_case("mark") {
        return Ok(None);
    }
    crate::ruleset::addr::parse_uint(o.arg())
        .and_then(|n| u16::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| o.bad_arg(format!("`{}` is not a zone: give a number from 0 to 65535 or `mark`", o.arg())))
}

/// The longest timeout policy name the kernel's field holds.
const TIMEOUT_NAME_MAX: usize = 31;

impl Extension for Ct {
    const OPTIONS: &'static [OptSpec] = &[
        opt("notrack", Args::Zero),
        opt("helper", Args::One),
        opt("ctevents", Args::One),
        opt("expevents", Args::One),
        opt("zone", Args::One),
        opt("zone-orig", Args::One),
        opt("zone-reply", Args::One),
        opt("timeout", Args::One),
    ];

    /// The zone options write into the same fields in order, as `libxt_CT` does: each one sets the number,
    /// `mark` stays once given, and the directions add up (`--zone-orig` then `--zone-reply` is `--zone`).
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Ct, Diagnostic> {
        refuse_negation(opts)?;
        let notrack = flag(opts, "notrack")?;
        let helper = match find(opts, "helper")? {
            Some(o) if !o.arg().is_empty() => {
                if !notrack {
                    check_helper(o, o.arg(), ctx, warnings)?;
                }
                Some(o.arg().to_string())
            }
            _ => None,
        };
        let events = |name: &str, known: &[&str]| -> Result<CtEvents, Diagnostic> {
            find(opts, name)?
                .map(|o| o.parse_arg(|t| CtEvents::parse(t, known)))
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let (ct_events, exp_events) = (events("ctevents", CT_EVENTS)?, events("expevents", EXP_EVENTS)?);
        let (mut id, mut mark, mut orig, mut reply) = (0u16, false, false, false);
        for name in ["zone", "zone-orig", "zone-reply"] {
            find(opts, name)?;
        }
        for o in opts.iter().filter(|o| o.name.starts_with("zone")) {
            orig |= o.name == "zone-orig";
            reply |= o.name == "zone-reply";
            match zone_arg(o)? {
                Some(n) => id = n,
                None => {
                    id = 0;
                    mark = true;
                }
            }
        }
        let zone = (mark || id != 0).then_some(Zone {
            id: if mark { ZoneId::Mark } else { ZoneId::Id(id) },
            dir: match (orig, reply) {
                (true, false) => ZoneDir::Orig,
                (false, true) => ZoneDir::Reply,
                _ => ZoneDir::Both,
            },
        });
        let timeout = match find(opts, "timeout")? {
            Some(o) => {
                let mut name = o.arg().to_string();
                if name.len() > TIMEOUT_NAME_MAX {
                    let mut end = TIMEOUT_NAME_MAX;
                    while !name.is_char_boundary(end) {
                        end -= 1;
                    }
                    name.truncate(end);
                }
                if !notrack && !name.is_empty() {
                    let proto = l4_protocol(o, ctx, "a timeout policy")?;
                    warnings.push(
                        Diagnostic::warning(
                            o.arg_span(),
                            format!("the timeout policy `{name}` for {proto} must exist when this rule is loaded"),
                        )
                        .with_hint(
                            "it is made with `nfct add timeout NAME inet PROTOCOL ...`; without it the load fails",
                        ),
                    );
                }
                (!name.is_empty()).then_some(name)
            }
            None => None,
        };
        Ok(Ct { notrack, helper, ct_events, exp_events, zone, timeout })
    }

    fn save(&self, out: &mut String) {
        if self.notrack {
            save_opt(out, false, "notrack");
        }
        if let Some(h) = &self.helper {
            save_opt_value(out, false, "helper", h);
        }
        if let Some(t) = &self.timeout {
            save_opt_value(out, false, "timeout", t);
        }
        if !self.ct_events.is_empty() {
            save_opt_value(out, false, "ctevents", self.ct_events);
        }
        if !self.exp_events.is_empty() {
            save_opt_value(out, false, "expevents", self.exp_events);
        }
        if let Some(z) = self.zone {
            let name = match z.dir {
                ZoneDir::Both => "zone",
                ZoneDir::Orig => "zone-orig",
                ZoneDir::Reply => "zone-reply",
            };
            match z.id {
                ZoneId::Mark => save_opt_value(out, false, name, "mark"),
                ZoneId::Id(n) => save_opt_value(out, false, name, n),
            }
        }
    }
}

/// `-j NOTRACK`: the old spelling of `-j CT --notrack`; `iptables-save` prints it back as `NOTRACK`.
///
/// The kernel allows it only in the raw table (PREROUTING, OUTPUT), as CT (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notrack;

impl Extension for Notrack {
    const OPTIONS: &'static [OptSpec] = &[];

    fn build(_opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Notrack, Diagnostic> {
        Ok(Notrack)
    }

    fn save(&self, _out: &mut String) {}
}

/// `-j TRACE`: every rule the packet meets from here on logs a `TRACE: table:chain:type:number` line.
///
/// The kernel allows it only in the raw table (PREROUTING, OUTPUT) (observed on Linux 6.18).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace;

impl Extension for Trace {
    const OPTIONS: &'static [OptSpec] = &[];

    fn build(_opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Trace, Diagnostic> {
        Ok(Trace)
    }

    fn save(&self, _out: &mut String) {}
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;
    use crate::ruleset::Family;

    fn dump(family: Family, rule: &str) -> crate::Parsed {
        parse(&format!("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{rule}\nCOMMIT\n"), Some(family))
    }

    fn saved(family: Family, rule: &str) -> String {
        let p = dump(family, rule);
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        crate::canonical(&p).lines().find(|l| l.starts_with("-A")).unwrap_or_default().to_string()
    }

    fn error(rule: &str) -> (u32, u32, String) {
        let p = dump(Family::Ipv4, rule);
        let e = p.errors().next().unwrap_or_else(|| panic!("{rule} should fail"));
        (e.span.line, e.span.col, e.message.clone())
    }

    /// Rules and what `iptables-save` 1.8.9 printed for them (an empty expectation: printed as given).
    #[test]
    fn save_forms() {
        for (rule, want) in [
            ("-A PREROUTING -j CT --notrack", ""),
            ("-A PREROUTING -j CT", ""),
            ("-A PREROUTING -p tcp -j CT --helper ftp", ""),
            ("-A PREROUTING -p udp -j CT --helper tftp", ""),
            ("-A PREROUTING -p udp -j CT --helper RAS", ""),
            ("-A PREROUTING -p tcp -j CT --helper Q.931", ""),
            ("-A PREROUTING -j CT --ctevents new", ""),
            (
                "-A PREROUTING -j CT --ctevents \
                 new,related,destroy,reply,assured,protoinfo,helper,mark,natseqinfo,secmark",
                "",
            ),
            ("-A PREROUTING -j CT --ctevents destroy,new", "-A PREROUTING -j CT --ctevents new,destroy"),
            ("-A PREROUTING -j CT --ctevents new,new", "-A PREROUTING -j CT --ctevents new"),
            ("-A PREROUTING -j CT --expevents new", ""),
            ("-A PREROUTING -j CT --zone 1", ""),
            ("-A PREROUTING -j CT --zone 0", "-A PREROUTING -j CT"),
            ("-A PREROUTING -j CT --zone 65535", ""),
            ("-A PREROUTING -j CT --zone 0x10", "-A PREROUTING -j CT --zone 16"),
            ("-A PREROUTING -j CT --zone mark", ""),
            ("-A PREROUTING -j CT --zone MARK", "-A PREROUTING -j CT --zone mark"),
            ("-A PREROUTING -j CT --zone-orig 1", ""),
            ("-A PREROUTING -j CT --zone-reply mark", ""),
            ("-A PREROUTING -j CT --zone-orig 0", "-A PREROUTING -j CT"),
            ("-A PREROUTING -j CT --zone-orig 1 --zone-reply 2", "-A PREROUTING -j CT --zone 2"),
            ("-A PREROUTING -j CT --zone 1 --zone-orig 2", "-A PREROUTING -j CT --zone-orig 2"),
            ("-A PREROUTING -j CT --zone-orig 2 --zone 1", "-A PREROUTING -j CT --zone-orig 1"),
            ("-A PREROUTING -j CT --zone-orig 1 --zone-reply mark", "-A PREROUTING -j CT --zone mark"),
            ("-A PREROUTING -j CT --zone mark --zone-orig 5", "-A PREROUTING -j CT --zone-orig mark"),
            ("-A PREROUTING -j CT --zone-orig mark --zone 5", "-A PREROUTING -j CT --zone-orig mark"),
            ("-A PREROUTING -j CT --notrack --zone 1", ""),
            ("-A PREROUTING -j CT --helper \"\"", "-A PREROUTING -j CT"),
            (
                "-A PREROUTING -p tcp -j CT --expevents new --ctevents new --zone 3 --helper ftp",
                "-A PREROUTING -p tcp -j CT --helper ftp --ctevents new --expevents new --zone 3",
            ),
            ("-A PREROUTING -j NOTRACK", ""),
            ("-A OUTPUT -j NOTRACK", ""),
            ("-A PREROUTING -j TRACE", ""),
            ("-A OUTPUT -j TRACE", ""),
        ] {
            let want = if want.is_empty() { rule } else { want };
            assert_eq!(saved(Family::Ipv4, rule), want, "{rule}");
        }
        assert_eq!(
            saved(Family::Ipv6, "-A PREROUTING -j CT --zone mark --ctevents new"),
            "-A PREROUTING -j CT --ctevents new --zone mark"
        );
        assert_eq!(
            saved(Family::Ipv6, "-A PREROUTING -p tcp -j CT --helper ftp"),
            "-A PREROUTING -p tcp -j CT --helper ftp"
        );
    }

    /// With `--notrack` the kernel ignores the other options, so a helper needs no protocol (loaded on
    /// Linux 6.18 and saved back as given).
    #[test]
    fn notrack_ignores_the_helper() {
        let rule = "-A PREROUTING -j CT --notrack --helper ftp";
        assert_eq!(saved(Family::Ipv4, rule), rule);
    }

    /// Loaded on Linux 6.18 with a policy made by `nfct add timeout slow inet tcp established 100`.
    #[test]
    fn timeout_policy() {
        let p = dump(Family::Ipv4, "-A PREROUTING -p tcp -j CT --timeout slow --zone 2 --helper ftp --ctevents new");
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
        assert!(p.warnings().any(|w| w.message.contains("timeout policy `slow` for tcp must exist")));
        let want = "-A PREROUTING -p tcp -j CT --helper ftp --timeout slow --ctevents new --zone 2";
        assert!(crate::canonical(&p).contains(want), "{}", crate::canonical(&p));
        let rule = "-A PREROUTING -p tcp -j CT --notrack --timeout slow";
        assert_eq!(saved(Family::Ipv4, rule), rule);
        let (_, col, msg) = error("-A PREROUTING -j CT --timeout slow");
        assert_eq!(col, 31);
        assert!(msg.contains("a timeout policy needs the rule to say its protocol"), "{msg}");
        assert!(error("-A PREROUTING ! -p tcp -j CT --timeout slow").2.contains("its protocol"));
    }

    #[test]
    fn helpers_are_checked_as_the_kernel_does() {
        let (line, col, msg) = error("-A PREROUTING -j CT --helper ftp");
        assert_eq!((line, col), (4, 30));
        assert!(msg.contains("needs the rule to say its protocol"), "{msg}");
        assert!(error("-A PREROUTING -p udp -j CT --helper ftp").2.contains("works with -p tcp only"));
        assert_eq!(
            error("-A PREROUTING -p tcp --dport 21 -j CT --helper FTP").2,
            "the kernel has no conntrack helper `FTP`: helper names are case-sensitive, write `ftp`"
        );
        assert!(error("-A PREROUTING ! -p tcp -j CT --helper ftp").2.contains("its protocol"));
        let p = dump(Family::Ipv6, "-A PREROUTING -p tcp -j CT --helper irc");
        assert!(p.errors().any(|e| e.message.contains("IPv4 only")), "{:?}", p.diagnostics);
        // The kernel refuses an unknown name unless a user-space helper has it.
        let p = dump(Family::Ipv4, "-A PREROUTING -p tcp -j CT --helper bogus");
        assert!(p.diagnostics.iter().any(|d| d.message.contains("`bogus`")), "{:?}", p.diagnostics);
    }

    #[test]
    fn wrong_input() {
        let (_, col, msg) = error("-A PREROUTING -j CT --ctevents label");
        assert_eq!(col, 32);
        assert!(msg.contains("`label` is not an event"), "{msg}");
        assert!(error("-A PREROUTING -j CT --ctevents NEW").2.contains("`NEW` is not an event"));
        assert!(error("-A PREROUTING -j CT --ctevents new,").2.contains("`` is not an event"));
        assert!(error("-A PREROUTING -j CT --expevents new,destroy").2.contains("`destroy` is not an event"));
        assert!(error("-A PREROUTING -j CT --zone 65536").2.contains("`65536` is not a zone"));
        assert!(error("-A PREROUTING -j CT --zone 1 --zone 2").2.contains("more than once"));
        assert!(error("-A PREROUTING -j CT --notrack --notrack").2.contains("more than once"));
        assert!(error("-A PREROUTING -j CT ! --notrack").2.contains("cannot be negated"));
        assert!(error("-A PREROUTING -j NOTRACK --foo").2.contains("unknown option"));
        assert!(error("-A PREROUTING -j TRACE --foo").2.contains("unknown option"));
    }
}
