//! `-m tcpmss --mss N[:M]`: the Maximum Segment Size option of TCP SYN segments (`libxt_tcpmss`, the
//! kernel's `xt_tcpmss.c`). A segment without the option does not match.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Negatable, Protocol};
use crate::values::NumRange;
use serde::{Deserialize, Serialize};

/// The options of `-m tcpmss`. The kernel refuses the match unless the rule says `-p tcp` (not negated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TcpMss {
    /// `--mss`: the range the MSS value must be in.
    pub mss: Negatable<NumRange>,
}

impl Extension for TcpMss {
    const OPTIONS: &'static [OptSpec] = &[opt("mss", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<TcpMss, Diagnostic> {
        let o = find(opts, "mss")?.ok_or_else(|| ctx.error("the tcpmss match needs `--mss VALUE[:VALUE]`"))?;
        let range = o.parse_arg(|t| {
            if t.split(':').count() > 2 {
                return Err(format!("`{t}` has more than two parts; write `MIN:MAX`"));
            }
            NumRange::parse(t, u32::from(u16::MAX)).map_err(|m| format!("`--mss`: {m}"))
        })?;
        ctx.require_proto("the tcpmss match", &[Protocol::TCP])?;
        Ok(TcpMss { mss: Negatable { value: range, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.mss.negated, "mss", self.mss.value);
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*mangle\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A FORWARD");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("FORWARD").unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 2) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "-A FORWARD -p tcp -m tcpmss --mss 1400 -j DROP",
            "-A FORWARD -p tcp -m tcpmss --mss 1000:1500 -j DROP",
            "-A FORWARD -p tcp -m tcpmss ! --mss 1000:1500 -j DROP",
            "-A FORWARD -p tcp -m tcpmss --mss 65535 -j DROP",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them.
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss :1500"), "-A FORWARD -p tcp -m tcpmss --mss 0:1500");
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss 1000:"), "-A FORWARD -p tcp -m tcpmss --mss 1000:65535");
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss 0x10"), "-A FORWARD -p tcp -m tcpmss --mss 16");
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss 5:5"), "-A FORWARD -p tcp -m tcpmss --mss 5");
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A FORWARD -p tcp -m tcpmss --mss 1500:1000 -j DROP"),
            (35, "`--mss`: range `1500:1000` is reversed".into())
        );
        assert_eq!(error("-A FORWARD -p tcp -m tcpmss --mss 65536").0, 35);
        assert_eq!(
            error("-A FORWARD -p tcp -m tcpmss --mss 1:2:3").1,
            "`1:2:3` has more than two parts; write `MIN:MAX`"
        );
        assert_eq!(
            error("-A FORWARD -p tcp -m tcpmss -j DROP"),
            (19, "the tcpmss match needs `--mss VALUE[:VALUE]`".into())
        );
        // The kernel refuses it without `-p tcp`.
        assert_eq!(error("-A FORWARD -m tcpmss --mss 1400").1, "the tcpmss match needs the rule to say -p tcp");
        assert_eq!(error("-A FORWARD ! -p tcp -m tcpmss --mss 1400").0, 21);
    }
}
