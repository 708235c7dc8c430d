//! `-m set --match-set NAME FLAGS`: membership of the packet's addresses and ports in an ipset
//! (`libxt_set` revision 4, the kernel's `xt_set.c`). The set's contents live outside the ruleset, so a
//! packet walk states an assumption about them; this module stores the options as the kernel does.
//!
//! `iptables-restore` refuses a rule whose set does not exist (it asks the kernel for the set's index).
//! chainwalk cannot know which sets exist, so it accepts the rule with a warning.

use super::u32::xt_strtoul;
use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};

/// The longest set name (`IPSET_MAXNAMELEN` - 1).
pub const MAX_NAME_LEN: usize = 31;

/// The most `src`/`dst` flags a set lookup takes (`IPSET_DIM_MAX`).
pub const MAX_DIM: usize = 6;

/// The options of `-m set`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Set {
    /// `--match-set NAME FLAGS`: the set and which packet fields make up the lookup key.
    pub lookup: Negatable<SetLookup>,
    /// `--return-nomatch`: for sets with `nomatch` entries, such an entry makes the match succeed.
    pub return_nomatch: bool,
    /// False with `! --update-counters`: a match does not count the packet in the set's counters.
    pub update_counters: bool,
    /// False with `! --update-subcounters`: a match does not count the packet in a list:set member's counters.
    pub update_subcounters: bool,
    /// `--packets-eq|lt|gt N`: a test of the matching element's packet counter.
    pub packets: Option<Negatable<CounterTest>>,
    /// `--bytes-eq|lt|gt N`: a test of the matching element's byte counter.
    pub bytes: Option<Negatable<CounterTest>>,
}

/// A set lookup: the set's name and, for each dimension of its type, which address or port to use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetLookup {
    /// The set's name.
    pub name: String,
    /// One direction per dimension (`src,dst` for a `hash:ip,port` set keyed by source address and
    /// destination port).
    pub dirs: Vec<SetDir>,
}

/// Which side of the packet a set dimension is taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SetDir {
    /// `src`: the source address or port.
    Src,
    /// `dst`: the destination address or port.
    Dst,
}

/// A test of an element's counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CounterTest {
    /// `-eq N`: equal to N.
    Eq(u64),
    /// `-lt N`: less than N.
    Lt(u64),
    /// `-gt N`: greater than N.
    Gt(u64),
}

impl fmt::Display for SetLookup {
    /// `NAME src,dst`, as `iptables-save` prints it (the name unquoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dirs: Vec<&str> = self
            .dirs
            .iter()
            .map(|d| match d {
                SetDir::Src => "src",
                SetDir::Dst => "dst",
            })
            .collect();
        write!(f, "{} {}", self.name, dirs.join(","))
    }
}

/// Reads `src,dst,...`.
fn dirs(text: &str) -> Result<Vec<SetDir>, String> {
    let dirs = text
        .split(',')
        .map(|w| match w {
            "src" => Ok(SetDir::Src),
            "dst" => Ok(SetDir::Dst),
            _ => Err(format!("`{text}` is not a list of `src` and `dst` separated by commas")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if dirs.len() > MAX_DIM {
        return Err(format!("a set lookup takes at most {MAX_DIM} `src`/`dst` flags; this one has {}", dirs.len()));
    }
    Ok(dirs)
}

/// Reads a counter value (`strtoull` in full, C notation, no sign).
fn counter(o: &Opt<'_>) -> Result<u64, Diagnostic> {
    let t = o.arg();
    match xt_strtoul(t, 0) {
        Some((Some(n), used)) if used == t.len() => Ok(n),
        _ => Err(o.bad_arg(format!("`{t}` is not a counter value (a number from 0 to {})", u64::MAX))),
    }
}

/// Reads one of `--packets-eq`, `--packets-lt`, `--packets-gt` (or the `bytes` ones).
fn counter_test(opts: &[Opt<'_>], what: &str) -> Result<Option<Negatable<CounterTest>>, Diagnostic> {
    let mut found: Option<Negatable<CounterTest>> = None;
    for o in opts.iter().filter(|o| o.name.strip_prefix(what).is_some_and(|r| r.starts_with('-'))) {
        if found.is_some() {
            return Err(Diagnostic::error(
                o.span,
                format!("only one of `--{what}-eq`, `--{what}-lt`, `--{what}-gt` may be given"),
            ));
        }
        let n = counter(o)?;
        let test = match &o.name[what.len()..] {
            "-eq" => CounterTest::Eq(n),
            "-lt" => CounterTest::Lt(n),
            _ => CounterTest::Gt(n),
        };
        if o.negated && !matches!(test, CounterTest::Eq(_)) {
            return Err(Diagnostic::error(o.span, format!("`--{}` cannot be negated with `!`", o.name)));
        }
        found = Some(Negatable { value: test, negated: o.negated, span: o.span });
    }
    Ok(found)
}

fn save_counter(out: &mut String, what: &str, test: &Option<Negatable<CounterTest>>) {
    if let Some(t) = test {
        let (cmp, n) = match t.value {
            CounterTest::Eq(n) => ("eq", n),
            CounterTest::Lt(n) => ("lt", n),
            CounterTest::Gt(n) => ("gt", n),
        };
        save_opt(out, t.negated, &format!("{what}-{cmp}"));
        let _ = write!(out, " {n}");
    }
}

impl Extension for Set {
    const OPTIONS: &'static [OptSpec] = &[
        opt("match-set", Args::Two),
        opt("set", Args::Two),
        opt("return-nomatch", Args::Zero),
        opt("update-counters", Args::Zero),
        opt("update-subcounters", Args::Zero),
        opt("packets-eq", Args::One),
        opt("packets-lt", Args::One),
        opt("packets-gt", Args::One),
        opt("bytes-eq", Args::One),
        opt("bytes-lt", Args::One),
        opt("bytes-gt", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Set, Diagnostic> {
        let mut lookup: Option<Negatable<SetLookup>> = None;
        for o in opts.iter().filter(|o| o.name == "match-set" || o.name == "set") {
            if lookup.is_some() {
                return Err(Diagnostic::error(o.span, "`--match-set` may be given only once"));
            }
            let name = o.arg();
            if name.len() > MAX_NAME_LEN {
                return Err(o.bad_arg(format!("set name `{name}` is longer than {MAX_NAME_LEN} characters")));
            }
            let dirs = dirs(o.arg2()).map_err(|m| Diagnostic::error(o.arg2_span(), m))?;
            warnings.push(
                Diagnostic::warning(
                    o.arg_span(),
                    format!("iptables-restore needs the ipset `{name}` to exist (of this family); chainwalk cannot check that"),
                )
                .with_hint(format!("create it before restoring, e.g. `ipset create {name} hash:ip`")),
            );
            lookup =
                Some(Negatable { value: SetLookup { name: name.to_string(), dirs }, negated: o.negated, span: o.span });
        }
        // The flags may be repeated, as iptables allows.
        for o in opts.iter().filter(|o| o.name == "return-nomatch") {
            o.no_negation()?;
        }
        let given = |name: &str, negated: bool| opts.iter().any(|o| o.name == name && o.negated == negated);
        let packets = counter_test(opts, "packets")?;
        let bytes = counter_test(opts, "bytes")?;
        let Some(lookup) = lookup else {
            return Err(ctx.error("the set match needs `--match-set NAME src|dst[,...]`"));
        };
        Ok(Set {
            lookup,
            return_nomatch: given("return-nomatch", false),
            update_counters: !given("update-counters", true),
            update_subcounters: !given("update-subcounters", true),
            packets,
            bytes,
        })
    }

    /// `set_save_v4`: the lookup, the flags, then the counter tests.
    fn save(&self, out: &mut String) {
        save_opt(out, self.lookup.negated, "match-set");
        let _ = write!(out, " {}", self.lookup.value);
        if self.return_nomatch {
            out.push_str(" --return-nomatch");
        }
        if !self.update_counters {
            out.push_str(" ! --update-counters");
        }
        if !self.update_subcounters {
            out.push_str(" ! --update-subcounters");
        }
        save_counter(out, "packets", &self.packets);
        save_counter(out, "bytes", &self.bytes);
    }
}

impl Evaluate for Set {
    /// `set_match_v4` in `xt_set.c`: the packet matches when its key is in the set (or, negated, is not);
    /// the counter tests apply only to an element that was found. chainwalk does not know the sets' contents
    /// and assumes the key is not in the set.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let lookup = &self.lookup.value;
        let first = match lookup.dirs.first() {
            Some(SetDir::Dst) => format!("DST={}", ctx.pkt.dst),
            _ => format!("SRC={}", ctx.pkt.src),
        };
        let shown = lookup.to_string();
        let dirs = shown.rsplit_once(' ').map_or("src", |(_, dirs)| dirs);
        if let Some(set) = ctx.host.ipset(&lookup.name) {
            if set.dims.len() > lookup.dirs.len() {
                return conclude(
                    false,
                    self.lookup.negated,
                    format!(
                        "set {} has {} dimensions but the rule looks up {}",
                        set.name,
                        set.dims.len(),
                        lookup.dirs.len()
                    ),
                );
            }
            let key: Vec<crate::ipset::Key> =
                set.dims.iter().zip(&lookup.dirs).map(|(d, dir)| key(*d, *dir, ctx)).collect();
            let found = set.contains(&key);
            return conclude(
                found,
                self.lookup.negated,
                format!(
                    "the packet's key ({first}, looked up as {dirs}) is {}in set {}",
                    if found { "" } else { "not " },
                    set.name
                ),
            );
        }
        let o = conclude(
            false,
            self.lookup.negated,
            format!(
                "chainwalk does not know what ipset `{}` holds (no `ipset save` output is given with the host) and \
                 assumes the packet's key ({first}, looked up as {}) is not in it",
                lookup.name, dirs
            ),
        );
        Outcome::assumed(o.holds, o.why)
    }
}

/// The packet's value for one dimension of a set, from its source or destination side.
fn key(dim: crate::ipset::Dim, dir: SetDir, ctx: &EvalCtx<'_>) -> crate::ipset::Key {
    use crate::ipset::{Dim, Key};
    let src = dir == SetDir::Src;
    match dim {
        Dim::Net | Dim::Set => Key::Addr(if src { ctx.pkt.src } else { ctx.pkt.dst }),
        Dim::Port => {
            let (s, d) = ctx.pkt.l4.ports().unwrap_or((0, 0));
            Key::Port(ctx.pkt.l4.proto(), if src { s } else { d })
        }
        Dim::Iface => Key::Iface(if src { ctx.in_iface } else { ctx.out_iface }.unwrap_or("").to_string()),
        Dim::Mac => Key::Mac(ctx.pkt.mac_src.filter(|_| src)),
        Dim::Mark => Key::Mark(ctx.pkt.mark),
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// `-m set OPTIONS` printed back, without the `-A INPUT -m set` before it.
    fn saved(options: &str) -> String {
        let line = format!("-A INPUT -m set {options} -j ACCEPT");
        let p = parsed(&line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m set ").trim_end_matches(" -j ACCEPT").to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m set {options} -j ACCEPT");
        let p = parsed(&line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "--match-set foo src",
            "! --match-set foo src",
            "--match-set bar src,dst",
            "--match-set foo src,dst,src,dst,src,dst",
            "--match-set foo src --return-nomatch",
            "--match-set foo src ! --update-counters",
            "--match-set foo src ! --update-subcounters",
            "--match-set foo src --packets-eq 5",
            "--match-set foo src ! --packets-eq 5",
            "--match-set foo src --packets-lt 5",
            "--match-set foo src --packets-gt 5",
            "--match-set foo src ! --bytes-eq 100",
            "--match-set foo src --bytes-lt 100",
            "--match-set foo src --packets-eq 5 --bytes-gt 2",
            "--match-set foo src --packets-eq 18446744073709551615",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them.
        for (input, out) in [
            ("--set foo src", "--match-set foo src"),
            ("--match-set foo src --update-counters", "--match-set foo src"),
            ("--match-set foo src --update-counters --update-counters", "--match-set foo src"),
            ("--match-set foo src ! --update-counters ! --update-counters", "--match-set foo src ! --update-counters"),
            ("--match-set foo src --return-nomatch --return-nomatch", "--match-set foo src --return-nomatch"),
            ("! --update-counters --match-set foo src", "--match-set foo src ! --update-counters"),
            ("--match-set foo src --packets-eq 0x10", "--match-set foo src --packets-eq 16"),
            (
                "--match-set foo src --bytes-gt 100 --packets-eq 5 --return-nomatch ! --update-counters ! --update-subcounters",
                "--match-set foo src --return-nomatch ! --update-counters ! --update-subcounters --packets-eq 5 --bytes-gt 100",
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn warns_that_the_set_must_exist() {
        let p = parsed("-A INPUT -m set --match-set foo src -m set --match-set bar dst,src -j ACCEPT");
        assert!(!p.has_errors());
        let w: Vec<_> = p.warnings().map(|w| (w.span.col, w.message.clone())).collect();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, 29);
        assert_eq!(
            w[0].1,
            "iptables-restore needs the ipset `foo` to exist (of this family); chainwalk cannot check that"
        );
    }

    #[test]
    fn errors() {
        let flags = "is not a list of `src` and `dst` separated by commas";
        for bad in ["SRC", "src,", "\"\"", "bogus"] {
            let (col, msg) = error(&format!("--match-set foo {bad}"));
            assert_eq!(col, 33, "{bad}");
            assert!(msg.ends_with(flags), "{msg}");
        }
        assert_eq!(
            error("--match-set foo src,dst,src,dst,src,dst,src").1,
            "a set lookup takes at most 6 `src`/`dst` flags; this one has 7"
        );
        assert_eq!(error("--match-set foo -j ACCEPT").1, "`--match-set` needs two arguments");
        assert_eq!(error(""), (10, "the set match needs `--match-set NAME src|dst[,...]`".into()));
        assert_eq!(error("--return-nomatch").1, "the set match needs `--match-set NAME src|dst[,...]`");
        assert_eq!(error("! --return-nomatch --match-set foo src").1, "`--return-nomatch` cannot be negated with `!`");
        assert_eq!(error("--match-set foo src ! --packets-lt 5").1, "`--packets-lt` cannot be negated with `!`");
        assert_eq!(
            error("--match-set foo src --packets-lt 5 --packets-gt 2"),
            (52, "only one of `--packets-eq`, `--packets-lt`, `--packets-gt` may be given".into())
        );
        assert_eq!(
            error("--match-set foo src --bytes-lt 5 --bytes-gt 6").1,
            "only one of `--bytes-eq`, `--bytes-lt`, `--bytes-gt` may be given"
        );
        assert_eq!(error("--match-set foo src --match-set bar dst").1, "`--match-set` may be given only once");
        for bad in ["18446744073709551616", "-1", "5x"] {
            assert_eq!(error(&format!("--match-set foo src --packets-eq {bad}")).0, 50, "{bad}");
        }
        assert_eq!(
            error("--match-set averyveryveryveryveryverylongsetname src"),
            (29, "set name `averyveryveryveryveryverylongsetname` is longer than 31 characters".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m set {options}")) {
                MatchKind::Set(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn contents_are_unknown_so_not_in_the_set() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let o = eval(&s, "--match-set blocklist src");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk does not know what ipset `blocklist` holds (no `ipset save` output is given with the host) and assumes \
                 the packet's key (SRC=203.0.113.7, looked up as src) is not in it, so this does not hold"
            );
            let o = eval(&s, "! --match-set allowed dst,dst --packets-gt 5");
            assert!(o.holds && o.assumed);
            assert!(o.why.contains("(DST=192.0.2.2, looked up as dst,dst) is not in it, so this holds"), "{}", o.why);
        }
    }
}
