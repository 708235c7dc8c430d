//! `-m rpfilter`: reverse path filtering, a route lookup for the packet's source address that must lead
//! back out of the interface the packet came in on (`libxt_rpfilter`, the kernel's `ipt_rpfilter.c` and
//! `ip6t_rpfilter.c`). The kernel allows it only in the raw and mangle tables, reached from PREROUTING.

use crate::diag::Diagnostic;
use crate::ext::{flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::TableName;
use serde::{Deserialize, Serialize};

/// The options of `-m rpfilter`, each a flag of the kernel's `xt_rpfilter_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpFilter {
    /// `--loose`: the route back may leave through any interface, not only the one the packet came in on.
    pub loose: bool,
    /// `--validmark`: the lookup uses the packet's firewall mark.
    pub validmark: bool,
    /// `--accept-local`: a packet with a local source address passes instead of failing.
    pub accept_local: bool,
    /// `--invert`: match the packets that fail the test instead of those that pass it.
    pub invert: bool,
}

impl Extension for RpFilter {
    const OPTIONS: &'static [OptSpec] = &[
        opt("loose", Args::Zero),
        opt("validmark", Args::Zero),
        opt("accept-local", Args::Zero),
        opt("invert", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<RpFilter, Diagnostic> {
        for o in opts {
            o.no_negation()?;
        }
        // `rpfilter_check` refuses other tables for every rule, reachable or not.
        if !matches!(ctx.table, TableName::Raw | TableName::Mangle) {
            return Err(ctx.error(format!(
                "the kernel allows the rpfilter match only in the raw and mangle tables, not in {}",
                ctx.table
            )));
        }
        Ok(RpFilter {
            loose: flag(opts, "loose")?,
            validmark: flag(opts, "validmark")?,
            accept_local: flag(opts, "accept-local")?,
            invert: flag(opts, "invert")?,
        })
    }

    fn save(&self, out: &mut String) {
        for (on, name) in [
            (self.loose, " --loose"),
            (self.validmark, " --validmark"),
            (self.accept_local, " --accept-local"),
            (self.invert, " --invert"),
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

    fn parsed(family: Family, table: &str, line: &str) -> crate::Parsed {
        crate::parse(&format!("*{table}\n:FOO - [0:0]\n{line}\nCOMMIT\n"), Some(family))
    }

    /// The PREROUTING rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        let p = parsed(family, "raw", line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A PREROUTING");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("PREROUTING").unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 3) and message.
    fn error(table: &str, line: &str) -> (u32, String) {
        let p = parsed(Family::Ipv4, table, line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 3);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let v4 = Family::Ipv4;
        for same in [
            "-A PREROUTING -m rpfilter -j DROP",
            "-A PREROUTING -m rpfilter --invert -j DROP",
            "-A PREROUTING -m rpfilter --loose --validmark --accept-local --invert -j DROP",
        ] {
            assert_eq!(saved(v4, same), same);
        }
        // iptables-save prints the flags in a fixed order.
        assert_eq!(
            saved(v4, "-A PREROUTING -m rpfilter --invert --accept-local --validmark --loose -j DROP"),
            "-A PREROUTING -m rpfilter --loose --validmark --accept-local --invert -j DROP"
        );
        assert_eq!(
            saved(Family::Ipv6, "-A PREROUTING -m rpfilter --loose -j DROP"),
            "-A PREROUTING -m rpfilter --loose -j DROP"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("raw", "-A PREROUTING -m rpfilter ! --loose -j DROP"),
            (27, "`--loose` cannot be negated with `!`".into())
        );
        assert_eq!(
            error("raw", "-A PREROUTING -m rpfilter --loose --loose -j DROP"),
            (35, "`--loose` is given more than once".into())
        );
        assert_eq!(
            error("filter", "-A FOO -m rpfilter -j DROP"),
            (8, "the kernel allows the rpfilter match only in the raw and mangle tables, not in filter".into())
        );
        assert_eq!(error("nat", "-A PREROUTING -m rpfilter -j ACCEPT").0, 15);
        let p = parsed(Family::Ipv4, "mangle", "-A FOO -m rpfilter");
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
    }
}
