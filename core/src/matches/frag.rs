//! `-m frag`: the IPv6 Fragment extension header (`libip6t_frag`, the kernel's `ip6t_frag.c`);
//! `ip6tables` only.

use super::conntrack::all_of;
use super::rt::{ipv6_only, number, range, save_range, U32Range};
use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, flag, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m frag`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Frag {
    /// `--fragid`: the range the Identification field must be in. `iptables-save` leaves out the full
    /// range, even negated (which then matches nothing).
    pub id: Option<Negatable<U32Range>>,
    /// `--fraglen`: the header's length field.
    pub len: Option<Negatable<u32>>,
    /// `--fragres`: the reserved fields must be zero.
    pub reserved: bool,
    /// `--fragfirst`: the fragment offset is zero.
    pub first: bool,
    /// `--fragmore`: more fragments follow (the M flag is set).
    pub more: bool,
    /// `--fraglast`: this is the last fragment (the M flag is clear).
    pub last: bool,
}

impl Extension for Frag {
    const OPTIONS: &'static [OptSpec] = &[
        opt("fragid", Args::One),
        opt("fraglen", Args::One),
        opt("fragres", Args::Zero),
        opt("fragfirst", Args::Zero),
        opt("fragmore", Args::Zero),
        opt("fraglast", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Frag, Diagnostic> {
        ipv6_only(ctx, "frag")?;
        for o in opts.iter().filter(|o| o.name != "fragid" && o.name != "fraglen") {
            o.no_negation()?;
        }
        let m = Frag {
            id: range(find(opts, "fragid")?)?,
            len: number(find(opts, "fraglen")?)?,
            reserved: flag(opts, "fragres")?,
            first: flag(opts, "fragfirst")?,
            more: flag(opts, "fragmore")?,
            last: flag(opts, "fraglast")?,
        };
        exclusive(opts, &["fragmore", "fraglast"])?;
        Ok(m)
    }

    /// `frag_save`: id, length, then the flags.
    fn save(&self, out: &mut String) {
        save_range(out, "fragid", &self.id);
        if let Some(l) = &self.len {
            save_opt_value(out, l.negated, "fraglen", l.value);
        }
        for (on, name) in [
            (self.reserved, " --fragres"),
            (self.first, " --fragfirst"),
            (self.more, " --fragmore"),
            (self.last, " --fraglast"),
        ] {
            if on {
                out.push_str(name);
            }
        }
    }
}

impl Evaluate for Frag {
    /// `frag_mt6` in `ip6t_frag.c`: a packet without a fragment header fails, `!` or not; otherwise the
    /// identification range, the reserved fields, and the first/more/last tests (the kernel ignores
    /// `--fraglen`). chainwalk takes a packet to have a fragment header when it has a fragment offset or the
    /// more-fragments flag; it does not know the identification, which is assumed outside the range, and
    /// assumes the reserved fields are zero.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let pkt = ctx.pkt;
        let (offset, more) = (pkt.fragment_offset, pkt.more_fragments);
        if offset == 0 && !more {
            return Outcome::no(
                "the packet has no fragment offset and no more-fragments flag, so it has no fragment header, and the \
                 frag match does not match it, `!` or not",
            );
        }
        let mut outcomes = Vec::new();
        if let Some(id) = &self.id {
            outcomes.push(if id.value == U32Range::ALL {
                conclude(true, id.negated, format!("every identification is in {}", id.value))
            } else {
                let fact = format!(
                    "the packet model has no fragment identification, and chainwalk assumes it is not in {} (set it \
                     by hand if it is)",
                    id.value
                );
                let o = conclude(false, id.negated, fact);
                Outcome::assumed(o.holds, o.why)
            });
        }
        if let Some(len) = &self.len {
            outcomes.push(Outcome::yes(format!("the kernel ignores --fraglen {}, so this holds", len.value)));
        }
        if self.reserved {
            outcomes.push(Outcome::assumed(
                true,
                "chainwalk assumes the fragment header's reserved fields are zero, as senders set them, so this holds",
            ));
        }
        if self.first {
            let fact = format!(
                "the fragment offset is {offset}, so this is {}the first fragment",
                if offset == 0 { "" } else { "not " }
            );
            outcomes.push(conclude(offset == 0, false, fact));
        }
        let flag =
            if more { "the packet has the more-fragments flag" } else { "the packet has no more-fragments flag" };
        if self.more {
            outcomes.push(conclude(more, false, flag.to_string()));
        }
        if self.last {
            outcomes.push(conclude(
                !more,
                false,
                format!("{flag}, so it is {}the last fragment", if more { "not " } else { "" }),
            ));
        }
        all_of(outcomes, "the packet has a fragment header")
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(family))
    }

    /// `-m frag OPTIONS` printed back, without the `-A INPUT -m frag` before it.
    fn saved(options: &str) -> String {
        let line = format!("-A INPUT -m frag {options} -j DROP");
        let p = parsed(Family::Ipv6, &line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m frag").trim_end_matches(" -j DROP").trim_start().to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(family: Family, options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m frag {options} -j DROP");
        let p = parsed(family, &line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_ip6tables_save() {
        for same in [
            "--fragid 5",
            "--fragid 5:10",
            "! --fragid 5:10",
            "--fragid 10:5",
            "--fraglen 8",
            "! --fraglen 8",
            "--fragres",
            "--fragfirst",
            "--fragmore",
            "--fraglast",
            "--fragfirst --fragmore",
            "--fragfirst --fraglast",
            "--fragid 0",
            "--fraglen 0",
            "--fraglen 65536",
            "",
        ] {
            assert_eq!(saved(same), same);
        }
        // As ip6tables-save 1.8.9 printed them.
        for (input, out) in [
            ("--fragid :5", "--fragid 0:5"),
            ("--fragid 5:", "--fragid 5:4294967295"),
            ("--fragid 0:4294967295", ""),
            ("! --fragid 0:4294967295", ""),
            ("--fragid 0x10", "--fragid 16"),
            ("--fragid 5:5", "--fragid 5"),
            ("--fragid 0:0", "--fragid 0"),
            (
                "--fraglast --fragfirst --fragres --fraglen 8 --fragid 1:2",
                "--fragid 1:2 --fraglen 8 --fragres --fragfirst --fraglast",
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn errors() {
        let v6 = Family::Ipv6;
        assert_eq!(error(Family::Ipv4, "--fragid 1"), (10, "the frag match exists only for IPv6 (ip6tables)".into()));
        assert_eq!(
            error(v6, "--fragmore --fraglast"),
            (29, "only one of `--fragmore`, `--fraglast` may be given".into())
        );
        assert_eq!(error(v6, "! --fragfirst").1, "`--fragfirst` cannot be negated with `!`");
        assert_eq!(error(v6, "--fragid 5 --fragid 6"), (29, "`--fragid` is given more than once".into()));
        assert_eq!(error(v6, "--fragres --fragres").0, 28);
        assert_eq!(error(v6, "--fragid 5:a"), (27, "`a` is not a number from 0 to 4294967295".into()));
        assert_eq!(error(v6, "--fragid -5").1, "`-5` is not a number from 0 to 4294967295");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv6, &format!("-m frag {options}")) {
                MatchKind::Frag(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        /// A UDP packet; with `offset` and `more`, a fragment of one.
        fn packet(offset: u16, more: bool) -> Scene {
            let mut s = Scene::new("udp [2001:db8::7]:5000 -> [2001:db8::2]:53 in eth0 len 1280");
            s.pkt.fragment_offset = offset;
            s.pkt.more_fragments = more;
            s
        }

        #[test]
        fn first_more_last() {
            let first = packet(0, true);
            let o = eval(&first, "--fragfirst --fragmore");
            assert!(o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "the fragment offset is 0, so this is the first fragment, so this holds; the packet has the \
                 more-fragments flag, so this holds"
            );
            let o = eval(&first, "--fraglast");
            assert!(!o.holds);
            assert_eq!(
                o.why,
                "the packet has the more-fragments flag, so it is not the last fragment, so this does not hold"
            );
            let last = packet(185, false);
            assert!(eval(&last, "--fraglast").holds);
            assert!(!eval(&last, "--fragfirst").holds);
        }

        #[test]
        fn no_fragment_header() {
            let o = eval(&packet(0, false), "--fragfirst");
            assert!(!o.holds && !o.assumed);
            assert!(o.why.ends_with("the frag match does not match it, `!` or not"), "{}", o.why);
            assert!(!eval(&packet(0, false), "! --fragid 5").holds);
        }

        #[test]
        fn identification_and_reserved_are_assumed() {
            let frag = packet(185, false);
            let o = eval(&frag, "--fragid 100:200");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "the packet model has no fragment identification, and chainwalk assumes it is not in 100:200 (set it \
                 by hand if it is), so this does not hold"
            );
            let o = eval(&frag, "! --fragid 100:200 --fragres");
            assert!(o.holds && o.assumed);
            assert!(o.why.contains("reserved fields are zero"), "{}", o.why);
            let o = eval(&frag, "--fraglen 8");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "the kernel ignores --fraglen 8, so this holds");
        }
    }
}
