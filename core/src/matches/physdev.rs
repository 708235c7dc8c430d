//! `-m physdev`: the bridge ports a bridged packet came in on and goes out of (`libxt_physdev`, the
//! kernel's `xt_physdev.c`). It sees them only when `br_netfilter` passes bridged traffic through iptables.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Hook, Interface, Negatable};
use serde::{Deserialize, Serialize};

/// The options of `-m physdev`; at least one must be given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Physdev {
    /// `--physdev-in NAME[+]`: the bridge port the packet came in on.
    pub physdev_in: Option<Negatable<Interface>>,
    /// `--physdev-out NAME[+]`: the bridge port the packet will leave through.
    pub physdev_out: Option<Negatable<Interface>>,
    /// `--physdev-is-in`: the packet came in on a bridge port.
    pub is_in: Option<Negatable<()>>,
    /// `--physdev-is-out`: the packet will leave through a bridge port.
    pub is_out: Option<Negatable<()>>,
    /// `--physdev-is-bridged`: the packet is being bridged, not routed.
    pub is_bridged: Option<Negatable<()>>,
}

impl Physdev {
    /// The hooks (as [`Hook::bit`]s) the kernel lets a rule with this match be reached from: the output
    /// port of a packet is known in OUTPUT only for bridged traffic, so `--physdev-out` and `--physdev-is-out`
    /// without a plain `--physdev-is-bridged` are refused there (`physdev_mt_check`).
    pub fn hooks(&self) -> u8 {
        let all = Hook::ALL.iter().fold(0, |bits, h| bits | h.bit());
        let about_out = self.physdev_out.is_some() || self.is_out.is_some();
        let bridged = self.is_bridged.as_ref().is_some_and(|b| !b.negated);
        if about_out && !bridged {
            all & !Hook::Output.bit()
        } else {
            all
        }
    }
}

fn device(opts: &[Opt<'_>], name: &str) -> Result<Option<Negatable<Interface>>, Diagnostic> {
    match find(opts, name)? {
        Some(o) => Ok(Some(Negatable { value: o.parse_arg(Interface::parse)?, negated: o.negated, span: o.span })),
        None => Ok(None),
    }
}

fn test(opts: &[Opt<'_>], name: &str) -> Result<Option<Negatable<()>>, Diagnostic> {
    Ok(find(opts, name)?.map(|o| Negatable { value: (), negated: o.negated, span: o.span }))
}

impl Extension for Physdev {
    const OPTIONS: &'static [OptSpec] = &[
        opt("physdev-in", Args::One),
        opt("physdev-out", Args::One),
        opt("physdev-is-in", Args::Zero),
        opt("physdev-is-out", Args::Zero),
        opt("physdev-is-bridged", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Physdev, Diagnostic> {
        let m = Physdev {
            physdev_in: device(opts, "physdev-in")?,
            physdev_out: device(opts, "physdev-out")?,
            is_in: test(opts, "physdev-is-in")?,
            is_out: test(opts, "physdev-is-out")?,
            is_bridged: test(opts, "physdev-is-bridged")?,
        };
        if m == Physdev::default() {
            return Err(ctx
                .error("the physdev match needs at least one of its options")
                .with_hint("--physdev-in, --physdev-out, --physdev-is-in, --physdev-is-out, --physdev-is-bridged"));
        }
        Ok(m)
    }

    /// The order of `physdev_save`: is-in, in, is-out, out, is-bridged. Names print as they are, unquoted.
    fn save(&self, out: &mut String) {
        let flag = |out: &mut String, t: &Option<Negatable<()>>, name: &str| {
            if let Some(t) = t {
                save_opt(out, t.negated, name);
            }
        };
        let dev = |out: &mut String, d: &Option<Negatable<Interface>>, name: &str| {
            if let Some(d) = d {
                save_opt_value(out, d.negated, name, &d.value);
            }
        };
        flag(out, &self.is_in, "physdev-is-in");
        dev(out, &self.physdev_in, "physdev-in");
        flag(out, &self.is_out, "physdev-is-out");
        dev(out, &self.physdev_out, "physdev-out");
        flag(out, &self.is_bridged, "physdev-is-bridged");
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::{Family, Hook};

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule as chainwalk prints it back (chain name included), after checking that it loaded cleanly.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let chain = line.split(' ').nth(1).unwrap_or_default();
        let mut out = format!("-A {chain}");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain(chain).unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 2) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    fn physdev(line: &str) -> super::Physdev {
        let p = parsed(line);
        match &p.ruleset.tables[0].chain("FORWARD").unwrap().rules[0].matches[0].kind {
            crate::matches::MatchKind::Physdev(m) => m.clone(),
            other => panic!("not physdev: {other:?}"),
        }
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "-A FORWARD -m physdev --physdev-in eth0 -j ACCEPT",
            "-A FORWARD -m physdev --physdev-out eth1 -j ACCEPT",
            "-A FORWARD -m physdev ! --physdev-is-bridged -j ACCEPT",
            "-A FORWARD -m physdev ! --physdev-is-in ! --physdev-is-out -j ACCEPT",
            "-A FORWARD -m physdev --physdev-in eth+ --physdev-out eth1 -j ACCEPT",
            "-A FORWARD -m physdev ! --physdev-in eth0 -j ACCEPT",
            "-A FORWARD -m physdev --physdev-in + -j ACCEPT",
            "-A OUTPUT -m physdev --physdev-out eth1 --physdev-is-bridged -j ACCEPT",
            "-A INPUT -m physdev --physdev-out eth0 -j ACCEPT",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them: a fixed order, and names unquoted whatever they hold.
        assert_eq!(
            saved("-A FORWARD -m physdev --physdev-out eth1 --physdev-in eth0 -j ACCEPT"),
            "-A FORWARD -m physdev --physdev-in eth0 --physdev-out eth1 -j ACCEPT"
        );
        assert_eq!(
            saved("-A FORWARD -m physdev --physdev-in eth0 --physdev-is-bridged --physdev-is-out --physdev-out eth1 --physdev-is-in -j ACCEPT"),
            "-A FORWARD -m physdev --physdev-is-in --physdev-in eth0 --physdev-is-out --physdev-out eth1 --physdev-is-bridged -j ACCEPT"
        );
        assert_eq!(
            saved("-A FORWARD -m physdev --physdev-in \"a b\" -j ACCEPT"),
            "-A FORWARD -m physdev --physdev-in a b -j ACCEPT"
        );
    }

    #[test]
    fn hooks_where_the_kernel_allows_it() {
        let all = Hook::ALL.iter().fold(0, |b, h| b | h.bit());
        assert_eq!(physdev("-A FORWARD -m physdev --physdev-in eth0").hooks(), all);
        assert_eq!(physdev("-A FORWARD -m physdev --physdev-out eth0").hooks(), all & !Hook::Output.bit());
        assert_eq!(
            physdev("-A FORWARD -m physdev --physdev-is-out ! --physdev-is-bridged").hooks(),
            all & !Hook::Output.bit()
        );
        assert_eq!(physdev("-A FORWARD -m physdev --physdev-is-out --physdev-is-bridged").hooks(), all);
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A FORWARD -m physdev -j ACCEPT"),
            (12, "the physdev match needs at least one of its options".into())
        );
        assert_eq!(
            error("-A FORWARD -m physdev --physdev-in averylongifname12345 -j ACCEPT"),
            (36, "interface name `averylongifname12345` is longer than 15 characters".into())
        );
        assert_eq!(
            error("-A FORWARD -m physdev --physdev-in eth0 --physdev-in eth1"),
            (41, "`--physdev-in` is given more than once".into())
        );
    }
}
