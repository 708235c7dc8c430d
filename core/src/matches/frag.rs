//! `-m frag`: the IPv6 Fragment extension header (`libip6t_frag`, the kernel's `ip6t_frag.c`);
//! `ip6tables` only.

use super::rt::{ipv6_only, number, range, save_range, U32Range};
use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, flag, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
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
}
