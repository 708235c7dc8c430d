//! `-m string`: a byte pattern searched for in the packet (`libxt_string` revision 1, the kernel's
//! `xt_string.c` with the textsearch algorithms). Whether a packet matches depends on its payload, which a
//! packet given by its headers does not have, so a packet walk states an assumption about it; this
//! module stores the pattern as the bytes the kernel searches for.

use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::values::opt_number;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The longest pattern (`XT_STRING_MAX_PATTERN_SIZE`).
pub const MAX_PATTERN: usize = 128;

/// The options of `-m string`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringMatch {
    /// The bytes searched for (from `--string` or `--hex-string`, which iptables stores alike).
    pub pattern: Vec<u8>,
    /// `! --string`: match packets that do not contain the pattern.
    pub invert: bool,
    /// `--algo`: the search algorithm.
    pub algo: Algo,
    /// `--from`: the first offset searched (0 when not given).
    pub from: u16,
    /// `--to`: the last offset searched (65535 when not given).
    pub to: u16,
    /// `--icase`: ignore the case of letters.
    pub icase: bool,
}

/// The kernel's textsearch algorithms that `-m string` can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algo {
    /// `bm`: Boyer-Moore.
    Bm,
    /// `kmp`: Knuth-Pratt-Morris.
    Kmp,
}

/// What is wrong with a `--hex-string`, at which byte of it.
struct HexError(usize, &'static str);

/// `parse_hex_string`: text with `|hex bytes|` blocks (blanks allowed inside) and `\` escaping the next
/// character outside them, read with the same state machine as iptables so the same odd inputs give the
/// same bytes (`|41||42|` is `A|42`).
fn parse_hex(s: &[u8]) -> Result<Vec<u8>, HexError> {
    if s.is_empty() {
        return Err(HexError(0, "the pattern is empty"));
    }
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let (mut i, mut hex, mut literal) = (0, false, false);
    while i < s.len() {
        if s[i] == b'\\' && !hex {
            literal = true;
        } else if s[i] == b'\\' {
            return Err(HexError(i, "a `\\` cannot stand inside a `|...|` block"));
        } else if s[i] == b'|' {
            if hex {
                hex = false;
            } else {
                hex = true;
                while at(i + 1) == b' ' {
                    i += 1;
                }
            }
            if i + 1 >= s.len() {
                break;
            }
            i += 1;
        }
        if literal {
            if i + 1 >= s.len() {
                return Err(HexError(i, "a `\\` at the end escapes nothing"));
            }
            out.push(s[i + 1]);
            i += 2;
            literal = false;
        } else if hex {
            if i + 2 >= s.len() {
                return Err(HexError(i, "a `|...|` block must hold pairs of hex digits and end with `|`"));
            }
            let digit = |c: u8| char::from(c).to_digit(16);
            let (Some(hi), Some(lo)) = (digit(s[i]), digit(s[i + 1])) else {
                let bad = if digit(s[i]).is_none() { i } else { i + 1 };
                return Err(HexError(bad, "not a hex digit"));
            };
            out.push((hi * 16 + lo) as u8);
            i += if at(i + 2) == b' ' { 3 } else { 2 };
        } else {
            out.push(s[i]);
            i += 1;
        }
        if out.len() > MAX_PATTERN {
            return Err(HexError(i.min(s.len()), "the pattern is longer than 128 bytes"));
        }
    }
    Ok(out)
}

/// `is_hex_string`: a pattern prints as `--hex-string` if it has a byte outside printable ASCII, or ends
/// in a backslash.
fn prints_as_hex(p: &[u8]) -> bool {
    p.iter().any(|b| !(0x20..=0x7e).contains(b)) || p.last() == Some(&b'\\')
}

impl Extension for StringMatch {
    const OPTIONS: &'static [OptSpec] = &[
        opt("from", Args::One),
        opt("to", Args::One),
        opt("algo", Args::One),
        opt("string", Args::One),
        opt("hex-string", Args::One),
        opt("icase", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<StringMatch, Diagnostic> {
        for o in opts.iter().filter(|o| o.name != "string" && o.name != "hex-string") {
            o.no_negation()?;
        }
        let mut pattern = None;
        for o in opts.iter().filter(|o| o.name == "string" || o.name == "hex-string") {
            find(opts, o.name)?;
            let bytes = if o.name == "string" {
                let b = o.arg().as_bytes().to_vec();
                if b.len() > MAX_PATTERN {
                    return Err(
                        o.bad_arg(format!("the pattern is {} bytes long; at most {MAX_PATTERN} are allowed", b.len()))
                    );
                }
                b
            } else {
                parse_hex(o.arg().as_bytes()).map_err(|HexError(at, msg)| {
                    o.bad_arg(format!("`--hex-string`: {msg} (at byte {} of `{}`)", at + 1, o.arg()))
                })?
            };
            pattern = Some((bytes, o));
        }
        exclusive(opts, &["string", "hex-string"])?;
        let from = match find(opts, "from")? {
            Some(o) => opt_number(o, 0, u64::from(u16::MAX))? as u16,
            None => 0,
        };
        let to = match find(opts, "to")? {
            Some(o) => opt_number(o, 0, u64::from(u16::MAX))? as u16,
            None => u16::MAX,
        };
        let icase = find(opts, "icase")?.is_some();
        let Some((pattern, pattern_opt)) = pattern else {
            return Err(ctx.error("the string match needs `--string TEXT` or `--hex-string TEXT`"));
        };
        let Some(a) = find(opts, "algo")? else {
            return Err(ctx.error("the string match needs `--algo bm` or `--algo kmp`"));
        };
        let algo = match a.arg() {
            "bm" => Algo::Bm,
            "kmp" => Algo::Kmp,
            other => {
                return Err(a.bad_arg(format!("the kernel has no search algorithm `{other}`; use bm or kmp")));
            }
        };
        // What the kernel refuses when the table is committed.
        if pattern.is_empty() {
            return Err(pattern_opt.bad_arg("the kernel refuses an empty pattern"));
        }
        if from > to {
            return Err(ctx.error(format!("the kernel refuses `--from {from}` past `--to {to}`")));
        }
        Ok(StringMatch { pattern, invert: pattern_opt.negated, algo, from, to, icase })
    }

    /// `string_save`: the pattern (`--string "..."` unless it needs `--hex-string`), the algorithm, the
    /// offsets unless they are the defaults, `--icase`.
    fn save(&self, out: &mut String) {
        let hex = prints_as_hex(&self.pattern);
        save_opt(out, self.invert, if hex { "hex-string" } else { "string" });
        out.push_str(" \"");
        if hex {
            out.push('|');
            for b in &self.pattern {
                let _ = write!(out, "{b:02x}");
            }
            out.push('|');
        } else {
            for &b in &self.pattern {
                if b == b'"' || b == b'\\' {
                    out.push('\\');
                }
                out.push(char::from(b));
            }
        }
        out.push('"');
        out.push_str(match self.algo {
            Algo::Bm => " --algo bm",
            Algo::Kmp => " --algo kmp",
        });
        if self.from != 0 {
            let _ = write!(out, " --from {}", self.from);
        }
        if self.to != u16::MAX {
            let _ = write!(out, " --to {}", self.to);
        }
        if self.icase {
            out.push_str(" --icase");
        }
    }
}

impl Evaluate for StringMatch {
    /// `string_mt` in `xt_string.c` searches the packet's bytes, from the IP header on, between `--from` and
    /// `--to`. chainwalk knows the packet's length but not its payload: a pattern that cannot fit in the bytes
    /// searched is not found; otherwise it is assumed not to be there.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let mut rule = String::new();
        self.save(&mut rule);
        let pattern = rule.split(" --algo").next().unwrap_or_default().trim_start().trim_start_matches("! ");
        let len = usize::from(ctx.pkt.len);
        let end = len.min(usize::from(self.to));
        let room = end.saturating_sub(usize::from(self.from));
        if self.pattern.len() > room {
            let fact = format!(
                "the {}-byte pattern of {pattern} cannot fit in the {room} bytes searched of this {len}-byte packet \
                 (from {} to {end})",
                self.pattern.len(),
                self.from
            );
            return conclude(false, self.invert, fact);
        }
        let o = conclude(
            false,
            self.invert,
            format!(
                "chainwalk does not know the packet's payload and assumes {pattern} is not in it (set it by hand if \
                 it is)"
            ),
        );
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// `-m string OPTIONS` printed back, without the `-A INPUT -m string` before it.
    fn saved(options: &str) -> String {
        let line = format!("-A INPUT -m string {options} -j DROP");
        let p = parsed(&line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m string ").trim_end_matches(" -j DROP").to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m string {options} -j DROP");
        let p = parsed(&line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // Options and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            (r#"--algo bm --string "GET /""#, r#"--string "GET /" --algo bm"#),
            ("--algo kmp --string foo", r#"--string "foo" --algo kmp"#),
            (r#"--algo bm --hex-string "|47455420|""#, r#"--string "GET " --algo bm"#),
            (r#"--algo bm --hex-string "|00 01 02|""#, r#"--hex-string "|000102|" --algo bm"#),
            (r#"--algo bm --hex-string "GET|20|/""#, r#"--string "GET /" --algo bm"#),
            (r#"--algo bm --hex-string "|0d0a|""#, r#"--hex-string "|0d0a|" --algo bm"#),
            (r#"--algo bm --hex-string "|7c|""#, r#"--string "|" --algo bm"#),
            (r#"--algo bm --hex-string "|22|""#, r#"--string "\"" --algo bm"#),
            (r#"--algo bm --hex-string "|5c|""#, r#"--hex-string "|5c|" --algo bm"#),
            (r#"--algo bm --hex-string "|7e|""#, r#"--string "~" --algo bm"#),
            (r#"--algo bm --hex-string "|7f|""#, r#"--hex-string "|7f|" --algo bm"#),
            ("--algo bm --hex-string abc", r#"--string "abc" --algo bm"#),
            (r#"--algo bm --string "a|b""#, r#"--string "a|b" --algo bm"#),
            (r#"--algo bm --string "with \"quote\"""#, r#"--string "with \"quote\"" --algo bm"#),
            (r#"--algo bm --string "back\\slash""#, r#"--string "back\\slash" --algo bm"#),
            (r#"--algo bm --string "a\\""#, r#"--hex-string "|615c|" --algo bm"#),
            ("--algo bm --string \"ÿé\"", r#"--hex-string "|c3bfc3a9|" --algo bm"#),
            ("--algo bm --string 'x'", r#"--string "'x'" --algo bm"#),
            ("--algo bm --string foo --to 100 --from 10", r#"--string "foo" --algo bm --from 10 --to 100"#),
            ("--algo bm --string foo --to 65535", r#"--string "foo" --algo bm"#),
            ("--algo bm --string foo --from 0 --to 65535", r#"--string "foo" --algo bm"#),
            ("--algo bm --string foo --to 0x10", r#"--string "foo" --algo bm --to 16"#),
            ("--algo bm ! --string foo", r#"! --string "foo" --algo bm"#),
            ("--icase --algo kmp --to 50 --string foo", r#"--string "foo" --algo kmp --to 50 --icase"#),
            // The odd corners of the hex reader.
            ("--algo bm --hex-string |41||42|", r#"--string "A|42" --algo bm"#),
            (r#"--algo bm --hex-string "| 41 42 |""#, r#"--string "AB" --algo bm"#),
            (r#"--algo bm --hex-string "a\\|b""#, r#"--string "a|b" --algo bm"#),
            (r#"--algo bm --hex-string "|4142|x|43|""#, r#"--string "ABxC" --algo bm"#),
            (r#"--algo bm --hex-string "x|""#, r#"--string "x" --algo bm"#),
            (r#"--algo bm --hex-string "|41|\\""#, r#"--hex-string "|415c|" --algo bm"#),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
        let long = "x".repeat(128);
        assert_eq!(saved(&format!("--algo bm --hex-string {long}")), format!("--string \"{long}\" --algo bm"));
    }

    #[test]
    fn errors() {
        assert_eq!(error("--string foo"), (10, "the string match needs `--algo bm` or `--algo kmp`".into()));
        assert_eq!(error("--algo bm"), (10, "the string match needs `--string TEXT` or `--hex-string TEXT`".into()));
        assert_eq!(
            error("--algo BM --string foo"),
            (27, "the kernel has no search algorithm `BM`; use bm or kmp".into())
        );
        assert_eq!(error("--algo fsm --string foo").0, 27);
        assert_eq!(error("--algo \"\" --string foo").0, 27);
        assert_eq!(
            error(r#"--algo bm --hex-string "|zz|""#),
            (43, "`--hex-string`: not a hex digit (at byte 2 of `|zz|`)".into())
        );
        assert!(error(r#"--algo bm --hex-string "|0|""#).1.contains("must hold pairs of hex digits"));
        assert!(error(r#"--algo bm --hex-string "|00""#).1.contains("must hold pairs of hex digits"));
        assert!(error("--algo bm --hex-string a||b").1.contains("must hold pairs of hex digits"));
        assert!(error(r#"--algo bm --hex-string "|41\\42|""#).1.contains("cannot stand inside"));
        assert!(error(r#"--algo bm --hex-string "ab\\""#).1.contains("escapes nothing"));
        assert!(error(r#"--algo bm --hex-string """#).1.contains("the pattern is empty"));
        assert_eq!(error(r#"--algo bm --hex-string "|""#).1, "the kernel refuses an empty pattern");
        assert_eq!(error(r#"--algo kmp --string """#).1, "the kernel refuses an empty pattern");
        assert_eq!(
            error(&format!("--algo bm --string {}", "x".repeat(129))),
            (39, "the pattern is 129 bytes long; at most 128 are allowed".into())
        );
        assert!(error(&format!("--algo bm --hex-string {}", "x".repeat(129))).1.contains("longer than 128 bytes"));
        assert_eq!(
            error("--algo bm --string foo --from 100 --to 10").1,
            "the kernel refuses `--from 100` past `--to 10`"
        );
        assert_eq!(error("--algo bm --string foo --from 65536").0, 50);
        assert_eq!(error("--algo bm --string foo --string bar").1, "`--string` is given more than once");
        assert_eq!(
            error(r#"--algo bm --string foo --hex-string "|00|""#).1,
            "only one of `--string`, `--hex-string` may be given"
        );
        assert_eq!(error("--algo bm --string foo --icase --icase").0, 51);
        assert_eq!(error("--algo bm --string foo ! --icase").1, "`--icase` cannot be negated with `!`");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(options: &str) -> Outcome {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:80 in eth0 ack psh len 100");
            match first_match(Family::Ipv4, &format!("-m string {options}")) {
                MatchKind::StringMatch(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn payload_is_assumed_without_the_pattern() {
            let o = eval("--string \"GET /admin\" --algo bm");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk does not know the packet's payload and assumes --string \"GET /admin\" is not in it (set it \
                 by hand if it is), so this does not hold"
            );
            let o = eval("! --hex-string \"|00ff|\" --algo kmp");
            assert!(o.holds && o.assumed);
            assert!(o
                .why
                .starts_with("chainwalk does not know the packet's payload and assumes --hex-string \"|00ff|\""));
        }

        #[test]
        fn a_pattern_that_cannot_fit_is_not_found() {
            let o = eval("--string \"abcdef\" --algo bm --from 96");
            assert!(!o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "the 6-byte pattern of --string \"abcdef\" cannot fit in the 4 bytes searched of this 100-byte packet \
                 (from 96 to 100), so this does not hold"
            );
            assert!(eval("! --string \"abc\" --algo bm --from 40 --to 41").holds);
        }
    }
}
