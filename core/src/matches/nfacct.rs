//! `-m nfacct --nfacct-name NAME`: counts the packet in an extended accounting object made beforehand with
//! `nfacct add NAME` (`libxt_nfacct`, the kernel's `xt_nfacct.c`).
//!
//! The kernel looks the object up when the rule is loaded and refuses the rule if there is none. Objects are
//! the machine's, like ipsets: chainwalk cannot know them, so it accepts the rule with a warning.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The longest name the kernel stores (`NFACCT_NAME_MAX` - 1); iptables cuts longer ones.
pub const MAX_NAME_LEN: usize = 31;

/// The options of `-m nfacct`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nfacct {
    /// `--nfacct-name`: the accounting object the packet is counted in.
    pub name: Box<str>,
}

/// Cuts `text` to at most `max` bytes as iptables' fixed-size string fields do, warning at `o` when it does.
pub(crate) fn cut_to<'t>(o: &Opt<'_>, text: &'t str, max: usize, warnings: &mut Vec<Diagnostic>) -> &'t str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    warnings.push(Diagnostic::warning(
        o.arg_span(),
        format!("`--{}` takes at most {max} bytes; iptables keeps `{}`", o.name, &text[..end]),
    ));
    &text[..end]
}

impl Extension for Nfacct {
    const OPTIONS: &'static [OptSpec] = &[opt("nfacct-name", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Nfacct, Diagnostic> {
        let o = find(opts, "nfacct-name")?.ok_or_else(|| ctx.error("the nfacct match needs `--nfacct-name NAME`"))?;
        o.no_negation()?;
        if o.arg().is_empty() {
            return Err(o.bad_arg("the accounting object's name must not be empty"));
        }
        let name = cut_to(o, o.arg(), MAX_NAME_LEN, warnings);
        warnings.push(
            Diagnostic::warning(
                o.arg_span(),
                format!(
                    "iptables-restore needs the accounting object `{name}` to exist on the machine; chainwalk cannot \
                     check that"
                ),
            )
            .with_hint(format!("create it before restoring: `nfacct add {name}`")),
        );
        Ok(Nfacct { name: name.into() })
    }

    /// `libxt_nfacct` prints the option with a trailing space and then the quoted name with its own leading
    /// space, so two spaces separate them.
    fn save(&self, out: &mut String) {
        out.push_str(" --nfacct-name  ");
        crate::parse::token::push_quoted(out, &self.name);
    }
}

impl Evaluate for Nfacct {
    /// `nfacct_mt` in `xt_nfacct.c` adds the packet to the object's counters and matches unless the object has a
    /// quota it has not used up yet; an object made with a plain `nfacct add` has no quota.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        Outcome::assumed(
            true,
            format!(
                "the packet is counted in accounting object `{}`; chainwalk assumes the object has no quota (as \
                 `nfacct add` makes it), and such an object matches every packet, so this holds",
                self.name
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved, warnings};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        // What iptables-save 1.8.9 printed (with the objects made by `nfacct add`).
        for (given, printed) in [
            ("--nfacct-name foo", "--nfacct-name  foo"),
            ("--nfacct-name \"a b\"", "--nfacct-name  \"a b\""),
            ("--nfacct-name \"a\\\"b\"", "--nfacct-name  \"a\\\"b\""),
            ("--nfacct-name abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "--nfacct-name  abcdefghijklmnopqrstuvwxyzABCDE"),
        ] {
            let rule = format!("-A INPUT -m nfacct {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m nfacct {printed} -j ACCEPT"));
        }
        assert_eq!(
            saved(Ipv6, "filter", "-A INPUT -m nfacct --nfacct-name x -m nfacct --nfacct-name y"),
            "-A INPUT -m nfacct --nfacct-name  x -m nfacct --nfacct-name  y"
        );
    }

    #[test]
    fn warns_that_the_object_must_exist() {
        let w = warnings(Ipv4, "filter", "-A INPUT -m nfacct --nfacct-name foo");
        assert_eq!(
            w,
            ["iptables-restore needs the accounting object `foo` to exist on the machine; chainwalk cannot check that"]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m nfacct"),
            (10, "the nfacct match needs `--nfacct-name NAME`".into())
        );
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m nfacct ! --nfacct-name foo"),
            (20, "`--nfacct-name` cannot be negated with `!`".into())
        );
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m nfacct --nfacct-name x --nfacct-name y"),
            (36, "`--nfacct-name` is given more than once".into())
        );
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m nfacct --nfacct-name \"\""),
            (34, "the accounting object's name must not be empty".into())
        );
    }

    #[test]
    fn matches_every_packet_of_an_object_without_quota() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        let MatchKind::Nfacct(m) = first_match(Ipv4, "-m nfacct --nfacct-name foo") else { panic!() };
        let o = m.eval(&s.ctx());
        assert!(o.holds && o.assumed);
        assert!(o.why.starts_with("the packet is counted in accounting object `foo`"), "{}", o.why);
    }
}
