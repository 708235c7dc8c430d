//! `-m connlabel --label NAME [--set]`: one of the 128 label bits of a connection, tested or set
//! (`libxt_connlabel`, the kernel's `xt_connlabel.c`).
//!
//! Label names come from the machine's `/etc/xtables/connlabel.conf`; without that file (the usual case,
//! and the case on the machine the vectors were recorded on) iptables takes numbers only. chainwalk reads
//! numbers as iptables does and accepts a name with a warning, since the name may be in the machine's file.

use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The highest label bit the kernel has (`XT_CONNLABEL_MAXBIT`).
pub const MAX_BIT: u16 = 127;

/// The options of `-m connlabel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connlabel {
    /// `[!] --label`: which label.
    pub label: Label,
    /// Whether `!` came before `--label`.
    pub negated: bool,
    /// `--set`: the match sets the label on the connection (and then matches).
    pub set: bool,
}

/// A connection label as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A label bit by number.
    Bit(u16),
    /// A name from the machine's `connlabel.conf`, which chainwalk does not have.
    Name(Box<str>),
}

/// Reads a label number as `connlabel_value_parse` does: `strtoul` in C notation, then the `int` it returns,
/// then the 16-bit field it is stored in (so 65536 is bit 0). `None` when it is no number.
fn label_number(text: &str) -> Option<u16> {
    let n = crate::ruleset::addr::parse_uint(text)?;
    let as_int = n as u32 as i32;
    (as_int >= 0).then_some(as_int as u16)
}

impl Extension for Connlabel {
    const OPTIONS: &'static [OptSpec] = &[opt("label", Args::One), opt("set", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Connlabel, Diagnostic> {
        let o = find(opts, "label")?.ok_or_else(|| ctx.error("the connlabel match needs `--label LABEL`"))?;
        if let Some(s) = find(opts, "set")? {
            s.no_negation()?;
        }
        let text = o.arg();
        if text.is_empty() {
            return Err(o.bad_arg("`--label` needs a label number (or a name from connlabel.conf)"));
        }
        let label = match label_number(text) {
            Some(bit) if bit > MAX_BIT => {
                return Err(o.bad_arg(format!("the kernel has connection labels 0 to {MAX_BIT} only, not {bit}")))
            }
            Some(bit) => Label::Bit(bit),
            None if text.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c.is_whitespace()) => {
                return Err(o.bad_arg(format!("`{text}` is not a label number from 0 to {MAX_BIT}")))
            }
            None => {
                warnings.push(
                    Diagnostic::warning(
                        o.arg_span(),
                        format!(
                            "`{text}` must be a label name in the machine's /etc/xtables/connlabel.conf; without \
                             that file iptables takes label numbers only, and chainwalk cannot check it"
                        ),
                    )
                    .with_hint("write the label's number (0 to 127) instead"),
                );
                Label::Name(text.into())
            }
        };
        Ok(Connlabel { label, negated: o.negated, set: flag(opts, "set")? })
    }

    /// The label is always quoted, by number when the machine has no name for it.
    fn save(&self, out: &mut String) {
        if self.negated {
            out.push_str(" !");
        }
        out.push_str(" --label \"");
        match &self.label {
            Label::Bit(b) => out.push_str(&b.to_string()),
            Label::Name(n) => out.push_str(n),
        }
        out.push('"');
        if self.set {
            out.push_str(" --set");
        }
    }
}

impl Evaluate for Connlabel {
    /// `connlabel_mt` in `xt_connlabel.c`: without a connection the answer is `!`'s; with `--set` the label is
    /// set and the match holds (negated: fails); otherwise it holds when the connection has the label.
    /// chainwalk does not keep labels and assumes a connection has none until a rule sets it.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let label = match &self.label {
            Label::Bit(b) => b.to_string(),
            Label::Name(n) => format!("`{n}`"),
        };
        if !super::conntrack::has_connection(ctx.ct) {
            let why = super::conntrack::no_connection(ctx);
            return Outcome::when(
                self.negated,
                format!("{why}, so connlabel {}", if self.negated { "holds (negated)" } else { "does not match" }),
            );
        }
        if self.set {
            return Outcome::when(
                !self.negated,
                format!(
                    "the match sets label {label} on the connection and then {}",
                    if self.negated { "fails (negated)" } else { "holds" }
                ),
            );
        }
        Outcome::assumed(
            self.negated,
            format!(
                "chainwalk does not keep connection labels and assumes label {label} is not set, so this {}",
                if self.negated { "holds" } else { "does not hold" }
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
        for (given, printed) in [
            ("--label 1", "--label \"1\""),
            ("! --label 127 --set", "! --label \"127\" --set"),
            ("--label 0x10", "--label \"16\""),
            ("--set --label 3", "--label \"3\" --set"),
            ("--label 65536", "--label \"0\""),
        ] {
            let rule = format!("-A INPUT -m connlabel {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m connlabel {printed} -j ACCEPT"));
        }
        assert_eq!(saved(Ipv6, "filter", "-A INPUT -m connlabel --label 2"), "-A INPUT -m connlabel --label \"2\"");
    }

    #[test]
    fn a_name_needs_the_machines_label_file() {
        let w = warnings(Ipv4, "filter", "-A INPUT -m connlabel --label foo -j ACCEPT");
        assert_eq!(w, ["`foo` must be a label name in the machine's /etc/xtables/connlabel.conf; without that file iptables takes label numbers only, and chainwalk cannot check it"]);
        assert_eq!(saved(Ipv4, "filter", "-A INPUT -m connlabel --label foo"), "-A INPUT -m connlabel --label \"foo\"");
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m connlabel {o}"));
        assert_eq!(e("--label 128"), (31, "the kernel has connection labels 0 to 127 only, not 128".into()));
        assert_eq!(e("--set"), (10, "the connlabel match needs `--label LABEL`".into()));
        assert_eq!(e("--label 1 ! --set"), (33, "`--set` cannot be negated with `!`".into()));
        assert_eq!(e("--label \"\"").1, "`--label` needs a label number (or a name from connlabel.conf)");
        assert_eq!(e("--label -1").1, "`-1` is not a label number from 0 to 127");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m connlabel {options}")) {
                MatchKind::Connlabel(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn labels_are_assumed_unset_and_set_matches() {
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ack state established");
            let o = eval(&s, "--label 3");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk does not keep connection labels and assumes label 3 is not set, so this does not hold"
            );
            assert!(eval(&s, "! --label 3").holds);
            let o = eval(&s, "--label 3 --set");
            assert!(o.holds && !o.assumed);
            assert!(!eval(&s, "! --label 3 --set").holds);
            let mut none = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ack state invalid");
            none.ct.state = crate::packet::CtState::Invalid;
            assert!(!eval(&none, "--label 3 --set").holds);
            assert!(eval(&none, "! --label 3").holds);
        }
    }
}
