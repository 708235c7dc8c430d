//! `-j SET`: adds the packet's addresses or ports to an ipset, deletes them from one, or takes the packet's
//! mark, priority and queue from the matching entry of one (`libxt_SET`, the kernel's `xt_set.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
pub use crate::matches::set::SetDir;
use crate::values::opt_number;
use serde::{Deserialize, Serialize};

/// The options of `-j SET`.
///
/// Allowed in every table and hook, but `--map-set` only in the mangle table, and `--map-prio` and
/// `--map-queue` only in its FORWARD, OUTPUT and POSTROUTING hooks (observed on Linux 6.18). The sets must
/// exist (`ipset create`) when the rules are loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetTarget {
    /// `--add-set NAME FLAGS [--exist] [--timeout N]`.
    pub add: Option<SetAdd>,
    /// `--del-set NAME FLAGS`.
    pub del: Option<SetRef>,
    /// `--map-set NAME FLAGS` with what to take from the entry.
    pub map: Option<SetMap>,
}

/// A set and how to build the entry from the packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRef {
    /// The set's name (at most 31 characters).
    pub name: String,
    /// For each dimension of the set's type, whether it takes the packet's source or destination.
    pub dirs: Vec<SetDir>,
}

/// How `--add-set` adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAdd {
    /// The set and the entry.
    pub set: SetRef,
    /// `--exist`: an entry already there gets its timeout reset.
    pub exist: bool,
    /// `--timeout N`: the entry's timeout in seconds instead of the set's default.
    pub timeout: Option<u32>,
}

/// What `--map-set` takes from the matching entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMap {
    /// The set and the entry looked up.
    pub set: SetRef,
    /// `--map-mark`: the packet's mark.
    pub mark: bool,
    /// `--map-prio`: the packet's priority (traffic-control class).
    pub prio: bool,
    /// `--map-queue`: the packet's transmit queue.
    pub queue: bool,
}

/// The longest set name (`IPSET_MAXNAMELEN` - 1).
pub const SET_NAME_MAX: usize = 31;

impl SetRef {
    /// Reads `NAME FLAGS`, where FLAGS is a comma-separated list of `src` and `dst`.
    fn parse(o: &Opt<'_>) -> Result<SetRef, Diagnostic> {
        let name = o.arg();
        if name.len() > SET_NAME_MAX {
            return Err(o.bad_arg(format!("set name `{name}` is longer than {SET_NAME_MAX} characters")));
        }
        // Read as the set match reads them (only each flag's first three letters count).
        let dirs = crate::matches::set::dirs(o.arg2()).map_err(|m| Diagnostic::error(o.arg2_span(), m))?;
        Ok(SetRef { name: name.to_string(), dirs })
    }

    fn save(&self, out: &mut String, option: &str) {
        save_opt(out, false, option);
        out.push(' ');
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(&crate::matches::set::dirs_text(&self.dirs));
    }
}

/// The last occurrence of flag `name`, which `libxt_SET` lets repeat.
fn last<'o, 'a>(opts: &'o [Opt<'a>], name: &str) -> Option<&'o Opt<'a>> {
    opts.iter().rev().find(|o| o.name == name)
}

/// Fails when `option` is given without `needs`.
fn only_with(opts: &[Opt<'_>], option: &str, needs: &str, given: bool) -> Result<(), Diagnostic> {
    match last(opts, option) {
        Some(o) if !given => Err(Diagnostic::error(o.span, format!("`--{option}` goes with `--{needs}` only"))),
        _ => Ok(()),
    }
}

impl Extension for SetTarget {
    const OPTIONS: &'static [OptSpec] = &[
        opt("add-set", Args::Two),
        opt("del-set", Args::Two),
        opt("map-set", Args::Two),
        opt("exist", Args::Zero),
        opt("timeout", Args::One),
        opt("map-mark", Args::Zero),
        opt("map-prio", Args::Zero),
        opt("map-queue", Args::Zero),
    ];

    /// `libxt_SET` ignores a `!` before its options, and lets `--exist`, `--timeout` and the `--map-*`
    /// flags repeat (the last `--timeout` wins).
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<SetTarget, Diagnostic> {
        if let Some(o) = opts.iter().find(|o| o.negated) {
            warnings.push(Diagnostic::warning(o.span, "iptables ignores `!` before the options of SET"));
        }
        let set = |name: &str| find(opts, name)?.map(SetRef::parse).transpose();
        let (add, del, map) = (set("add-set")?, set("del-set")?, set("map-set")?);
        if add.is_none() && del.is_none() && map.is_none() {
            return Err(ctx.error("SET needs `--add-set`, `--del-set` or `--map-set` with a set name and flags"));
        }
        only_with(opts, "exist", "add-set", add.is_some())?;
        only_with(opts, "timeout", "add-set", add.is_some())?;
        for flag in ["map-mark", "map-prio", "map-queue"] {
            only_with(opts, flag, "map-set", map.is_some())?;
        }
        let timeout = match last(opts, "timeout") {
            Some(o) => Some(opt_number(o, 0, u32::MAX as u64 - 1)? as u32),
            None => None,
        };
        let map = match map {
            Some(set) => {
                let map = SetMap {
                    set,
                    mark: last(opts, "map-mark").is_some(),
                    prio: last(opts, "map-prio").is_some(),
                    queue: last(opts, "map-queue").is_some(),
                };
                if !(map.mark || map.prio || map.queue) {
                    let at = find(opts, "map-set")?.map(|o| o.span).unwrap_or(ctx.span);
                    return Err(Diagnostic::error(at, "`--map-set` needs `--map-mark`, `--map-prio` or `--map-queue`"));
                }
                Some(map)
            }
            None => None,
        };
        let add = add.map(|set| SetAdd { set, exist: last(opts, "exist").is_some(), timeout });
        for o in ["add-set", "del-set", "map-set"].iter().filter_map(|n| opts.iter().find(|o| o.name == *n)) {
            warnings.push(crate::matches::set::set_must_exist(o.arg(), o.arg_span()));
        }
        Ok(SetTarget { add, del, map })
    }

    fn save(&self, out: &mut String) {
        if let Some(a) = &self.add {
            a.set.save(out, "add-set");
            if a.exist {
                save_opt(out, false, "exist");
            }
            if let Some(t) = a.timeout {
                save_opt_value(out, false, "timeout", t);
            }
        }
        if let Some(d) = &self.del {
            d.save(out, "del-set");
        }
        if let Some(m) = &self.map {
            m.set.save(out, "map-set");
            for (on, name) in [(m.mark, "map-mark"), (m.prio, "map-prio"), (m.queue, "map-queue")] {
                if on {
                    save_opt(out, false, name);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse;

    fn dump(rule: &str) -> crate::Parsed {
        let chains = ":PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]";
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

    /// Rules and what `iptables-save` 1.8.9 printed for them (with the sets created beforehand).
    #[test]
    fn save_forms() {
        for (args, want) in [
            ("--add-set foo src", ""),
            ("--del-set foo src", ""),
            ("--add-set foo src,dst", ""),
            ("--add-set bar src,src --exist", ""),
            ("--add-set bar src,dst --timeout 100 --exist", "--add-set bar src,dst --exist --timeout 100"),
            ("--add-set foo src --timeout 0", ""),
            ("--add-set foo src --timeout 0x10", "--add-set foo src --timeout 16"),
            ("--add-set foo src,dst,src,dst,src,dst", ""),
            // Only each flag's first three letters count (iptables 1.8.9, with a set `x`).
            ("--add-set foo srcip,dstport", "--add-set foo src,dst"),
            ("--del-set foo src --add-set foo dst", "--add-set foo dst --del-set foo src"),
            ("--add-set foo src --exist --exist", "--add-set foo src --exist"),
            ("--add-set bar src --timeout 7 --timeout 8", "--add-set bar src --timeout 8"),
            ("! --add-set foo src", "--add-set foo src"),
            ("--map-set m src --map-mark", ""),
            ("--map-set m src --map-mark --map-mark", "--map-set m src --map-mark"),
            ("--map-set m src --map-queue --map-prio --map-mark", "--map-set m src --map-mark --map-prio --map-queue"),
            (
                "--map-set m src --map-mark --del-set foo dst --add-set foo src --exist --timeout 5",
                "--add-set foo src --exist --timeout 5 --del-set foo dst --map-set m src --map-mark",
            ),
        ] {
            let want = if want.is_empty() { args } else { want };
            assert_eq!(
                saved(&format!("-A POSTROUTING -j SET {args}")),
                format!("-A POSTROUTING -j SET {want}"),
                "{args}"
            );
        }
    }

    #[test]
    fn warns_that_the_set_must_exist() {
        let p = dump("-A PREROUTING -j SET --add-set foo src --del-set bar dst");
        let w: Vec<_> = p.warnings().map(|w| (w.span.col, w.message.clone())).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[0],
            (
                32,
                "iptables-restore needs the ipset `foo` to exist (of this family); chainwalk cannot check that"
                    .to_string()
            )
        );
        assert!(w[1].1.contains("`bar`"));
    }

    #[test]
    fn wrong_input() {
        let (line, col, msg) = error("-A PREROUTING -j SET");
        assert_eq!((line, col), (4, 15));
        assert!(msg.contains("SET needs"), "{msg}");
        assert!(error("-A PREROUTING -j SET --add-set foo").2.contains("needs two arguments"));
        let (_, col, msg) = error("-A PREROUTING -j SET --add-set foo bogus");
        assert_eq!(col, 36);
        assert!(msg.contains("`bogus` is not a list of `src` and `dst`"), "{msg}");
        for bad in ["SRC", "src,", ",src"] {
            assert!(error(&format!("-A PREROUTING -j SET --add-set foo {bad}")).2.contains("is not a list"), "{bad}");
        }
        assert!(error("-A PREROUTING -j SET --add-set foo src,dst,src,dst,src,dst,src").2.contains("at most 6"));
        assert!(error("-A PREROUTING -j SET --add-set 12345678901234567890123456789012 src")
            .2
            .contains("longer than 31"));
        assert!(error("-A PREROUTING -j SET --add-set foo src --add-set foo dst").2.contains("more than once"));
        let (_, col, msg) = error("-A PREROUTING -j SET --del-set foo src --exist");
        assert_eq!(col, 40);
        assert!(msg.contains("`--exist` goes with `--add-set` only"), "{msg}");
        assert!(error("-A PREROUTING -j SET --del-set foo src --timeout 5").2.contains("`--timeout` goes with"));
        assert!(error("-A PREROUTING -j SET --add-set foo src --map-mark")
            .2
            .contains("`--map-mark` goes with `--map-set`"));
        assert!(error("-A PREROUTING -j SET --map-set m src").2.contains("needs `--map-mark`"));
        assert!(error("-A PREROUTING -j SET --add-set foo src --timeout 4294967295")
            .2
            .contains("from 0 to 4294967294"));
        assert!(error("-A PREROUTING -j SET --add-set foo src --timeout -1").2.contains("from 0 to 4294967294"));
    }
}
