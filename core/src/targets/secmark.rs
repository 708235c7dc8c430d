//! The SELinux packet labels: `-j SECMARK --selctx CONTEXT` sets the packet's security mark to an SELinux
//! context (`libxt_SECMARK`, the kernel's `xt_SECMARK.c`), and `-j CONNSECMARK --save|--restore` copies it
//! between the packet and its connection (`libxt_CONNSECMARK`, `xt_CONNSECMARK.c`). The kernel allows both
//! in the mangle and security tables only. SECMARK needs SELinux on the machine: the kernel turns the context
//! into a security id when the rule is loaded and refuses it without SELinux or with an unknown context.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use serde::{Deserialize, Serialize};

/// The longest context the kernel stores (`SECMARK_SECCTX_MAX` - 1).
pub const MAX_CONTEXT_LEN: usize = 255;

/// The options of `-j SECMARK`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secmark {
    /// `--selctx`: the SELinux security context given to the packet.
    pub context: Box<str>,
}

impl Extension for Secmark {
    const OPTIONS: &'static [OptSpec] = &[opt("selctx", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Secmark, Diagnostic> {
        refuse_negation(opts)?;
        let o = find(opts, "selctx")?.ok_or_else(|| ctx.error("SECMARK needs `--selctx CONTEXT`"))?;
        let context = crate::matches::nfacct::cut_to(o, o.arg(), MAX_CONTEXT_LEN, warnings);
        warnings.push(Diagnostic::warning(
            o.arg_span(),
            "the kernel checks the context against the machine's SELinux policy when it loads the rule and refuses \
             it without SELinux; chainwalk cannot check that",
        ));
        Ok(Secmark { context: context.into() })
    }

    /// The context printed as given, unquoted.
    fn save(&self, out: &mut String) {
        out.push_str(" --selctx ");
        out.push_str(&self.context);
    }
}

/// What `-j CONNSECMARK` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Connsecmark {
    /// `--save`: copy the packet's security mark to its connection (if the connection has none).
    Save,
    /// `--restore`: copy the connection's security mark to the packet (if the packet has none).
    Restore,
}

impl Extension for Connsecmark {
    const OPTIONS: &'static [OptSpec] = &[opt("save", Args::Zero), opt("restore", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Connsecmark, Diagnostic> {
        refuse_negation(opts)?;
        crate::ext::exclusive(opts, &["save", "restore"])?;
        if flag(opts, "save")? {
            Ok(Connsecmark::Save)
        } else if flag(opts, "restore")? {
            Ok(Connsecmark::Restore)
        } else {
            Err(ctx.error("CONNSECMARK needs `--save` or `--restore`"))
        }
    }

    fn save(&self, out: &mut String) {
        out.push_str(match self {
            Connsecmark::Save => " --save",
            Connsecmark::Restore => " --restore",
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, load, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        assert_eq!(saved(Ipv4, "mangle", "-A PREROUTING -j CONNSECMARK --save"), "-A PREROUTING -j CONNSECMARK --save");
        assert_eq!(
            saved(Ipv4, "mangle", "-A PREROUTING -j CONNSECMARK --restore"),
            "-A PREROUTING -j CONNSECMARK --restore"
        );
        assert_eq!(saved(Ipv4, "security", "-A INPUT -j CONNSECMARK --restore"), "-A INPUT -j CONNSECMARK --restore");
        assert_eq!(saved(Ipv6, "security", "-A OUTPUT -j CONNSECMARK --save"), "-A OUTPUT -j CONNSECMARK --save");
        // On a machine without SELinux the kernel refuses every SECMARK rule; this is libxt_SECMARK's form.
        assert_eq!(
            saved(Ipv4, "mangle", "-A PREROUTING -j SECMARK --selctx system_u:object_r:ssh_packet_t:s0"),
            "-A PREROUTING -j SECMARK --selctx system_u:object_r:ssh_packet_t:s0"
        );
    }

    #[test]
    fn errors() {
        let e = |t: &str| error(Ipv4, "mangle", &format!("-A PREROUTING -j {t}"));
        assert_eq!(e("CONNSECMARK"), (15, "CONNSECMARK needs `--save` or `--restore`".into()));
        assert_eq!(e("CONNSECMARK --save --restore").1, "only one of `--save`, `--restore` may be given");
        assert_eq!(e("SECMARK").1, "SECMARK needs `--selctx CONTEXT`");
        assert_eq!(e("CONNSECMARK ! --save").1, "`--save` cannot be negated with `!`");
        // Only the mangle and security tables take them.
        assert!(load(Ipv4, "filter", "-A INPUT -j CONNSECMARK --save").has_errors());
        assert!(load(Ipv4, "raw", "-A PREROUTING -j CONNSECMARK --save").has_errors());
    }

    #[test]
    fn secmark_warns_that_selinux_decides() {
        let p = load(Ipv4, "security", "-A INPUT -j SECMARK --selctx system_u:object_r:ssh_packet_t:s0");
        assert!(!p.has_errors());
        assert!(p
            .warnings()
            .any(|w| w.message.starts_with("the kernel checks the context against the machine's SELinux policy")));
    }

    #[test]
    fn the_packet_goes_on() {
        let t = walk(
            "*mangle\n-A PREROUTING -j SECMARK --selctx system_u:object_r:ssh_packet_t:s0\n-A PREROUTING -j CONNSECMARK --save\nCOMMIT\n",
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn",
        );
        let effects: Vec<&str> = t.steps.iter().filter_map(|s| s.effect.as_deref()).collect();
        assert!(effects.contains(&"SECMARK: the packet's security mark becomes the SELinux context system_u:object_r:ssh_packet_t:s0; it goes on"), "{effects:?}");
        assert!(
            effects.contains(&"CONNSECMARK: the packet's security mark is copied to its connection; it goes on"),
            "{effects:?}"
        );
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Accept);
    }
}
