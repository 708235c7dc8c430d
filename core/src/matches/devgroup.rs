//! `-m devgroup`: the device group of the input or output interface, as `ip link set dev X group N` sets
//! it (`libxt_devgroup`, the kernel's `xt_devgroup.c`). Groups may be named in `/etc/iproute2/group`.
//!
//! The kernel allows `--src-group` from PREROUTING, INPUT and FORWARD and `--dst-group` from FORWARD,
//! OUTPUT and POSTROUTING (checked with the other hook restrictions in `validate.rs`).

use super::icmp::number_prefix;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::values::MarkMask;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The names iproute2 ships in `/etc/iproute2/group`; a machine may add its own, which chainwalk cannot see.
pub const GROUP_NAMES: &[(&str, u32)] = &[("default", 0)];

/// The options of `-m devgroup`; at least one is required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Devgroup {
    /// `[!] --src-group VALUE[/MASK]`: the input interface's group.
    pub src: Option<Negatable<MarkMask>>,
    /// `[!] --dst-group VALUE[/MASK]`: the output interface's group.
    pub dst: Option<Negatable<MarkMask>>,
}

/// Reads `VALUE[/MASK]` or a name of `names` as `xtables_parse_val_mask` does: numbers in C notation up to
/// 32 bits; anything that is not such a number (or a number followed by other than `/`) is looked up whole
/// as a name.
pub(crate) fn parse_val_mask(text: &str, names: &[(&str, u32)], file: &str) -> Result<MarkMask, String> {
    let by_name = || {
        names.iter().find(|(n, _)| *n == text).map(|&(_, v)| MarkMask { value: v, mask: u32::MAX }).ok_or_else(|| {
            format!(
                "`{text}` is neither a number nor a name chainwalk knows from {file} (it knows only the default names)"
            )
        })
    };
    let Some((value, rest)) = number_prefix(text).filter(|&(v, _)| v <= u64::from(u32::MAX)) else {
        return by_name();
    };
    let value = value as u32;
    if rest.is_empty() {
        return Ok(MarkMask { value, mask: u32::MAX });
    }
    let Some(mask_text) = rest.strip_prefix('/') else { return by_name() };
    match number_prefix(mask_text).filter(|&(m, _)| m <= u64::from(u32::MAX)) {
        Some((mask, "")) => Ok(MarkMask { value, mask: mask as u32 }),
        Some((_, garbage)) => Err(format!("unexpected `{garbage}` after the mask in `{text}`")),
        None => Err(format!("`{mask_text}` is not a 32-bit mask")),
    }
}

/// `VALUE[/MASK]` as `iptables-save` prints these: `0xV/0xM`, or with an all-ones mask the name of `names`
/// for the value if it has one, else `0xV`.
pub(crate) fn val_mask_text(v: MarkMask, names: &[(&str, u32)]) -> String {
    if v.mask != u32::MAX {
        return format!("{:#x}/{:#x}", v.value, v.mask);
    }
    match names.iter().find(|&&(_, n)| n == v.value) {
        Some((name, _)) => (*name).to_string(),
        None => format!("{:#x}", v.value),
    }
}

fn group_opt(o: Option<&Opt<'_>>) -> Result<Option<Negatable<MarkMask>>, Diagnostic> {
    let Some(o) = o else { return Ok(None) };
    let value = o.parse_arg(|t| parse_val_mask(t, GROUP_NAMES, "/etc/iproute2/group"))?;
    Ok(Some(Negatable { value, negated: o.negated, span: o.span }))
}

impl Extension for Devgroup {
    const OPTIONS: &'static [OptSpec] = &[opt("src-group", Args::One), opt("dst-group", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Devgroup, Diagnostic> {
        let m = Devgroup { src: group_opt(find(opts, "src-group")?)?, dst: group_opt(find(opts, "dst-group")?)? };
        if m.src.is_none() && m.dst.is_none() {
            return Err(ctx.error("the devgroup match needs `--src-group` or `--dst-group` (or both)"));
        }
        Ok(m)
    }

    fn save(&self, out: &mut String) {
        for (name, g) in [("src-group", &self.src), ("dst-group", &self.dst)] {
            if let Some(g) = g {
                save_opt(out, g.negated, name);
                out.push(' ');
                out.push_str(&val_mask_text(g.value, GROUP_NAMES));
            }
        }
    }
}

impl Evaluate for Devgroup {
    /// `devgroup_mt` in `xt_devgroup.c`: the interface's group, under the mask, equals the value. chainwalk's
    /// interfaces carry no group, so each is assumed in group 0 (`default`), where every device starts.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let mut why = Vec::new();
        for (g, key, iface) in [(&self.src, "IN", ctx.in_iface), (&self.dst, "OUT", ctx.out_iface)] {
            let Some(g) = g else { continue };
            let t = g.value;
            let is = t.value & t.mask == 0;
            let fact = format!(
                "chainwalk assumes {key}={} is in device group 0 (default), which is {}{}",
                iface.unwrap_or(""),
                if is { "" } else { "not " },
                val_mask_text(t, GROUP_NAMES)
            );
            let o = conclude(is, g.negated, fact);
            if !o.holds {
                return Outcome::assumed(false, o.why);
            }
            why.push(o.why);
        }
        Outcome::assumed(true, why.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (chain, given, printed) in [
            ("INPUT", "--src-group 1", "--src-group 0x1"),
            ("INPUT", "! --src-group 3", "! --src-group 0x3"),
            ("INPUT", "--src-group default", "--src-group default"),
            ("INPUT", "--src-group 0x2/0xff", "--src-group 0x2/0xff"),
            ("INPUT", "--src-group 0/0", "--src-group 0x0/0x0"),
            ("INPUT", "--src-group 0", "--src-group default"),
            ("INPUT", "--src-group 0/0xffffffff", "--src-group default"),
            ("INPUT", "--src-group 010", "--src-group 0x8"),
            ("FORWARD", "! --dst-group 2 --src-group 1", "--src-group 0x1 ! --dst-group 0x2"),
        ] {
            let rule = format!("-A {chain} -m devgroup {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A {chain} -m devgroup {printed} -j ACCEPT"));
        }
        assert_eq!(
            saved(Ipv6, "filter", "-A OUTPUT -m devgroup --dst-group 1"),
            "-A OUTPUT -m devgroup --dst-group 0x1"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m devgroup {o} -j ACCEPT"));
        assert_eq!(e(""), (10, "the devgroup match needs `--src-group` or `--dst-group` (or both)".into()));
        let unknown = |t: &str| {
            format!("`{t}` is neither a number nor a name chainwalk knows from /etc/iproute2/group (it knows only the default names)")
        };
        assert_eq!(e("--src-group foo"), (34, unknown("foo")));
        assert_eq!(e("--src-group default/0xff").1, unknown("default/0xff"));
        assert_eq!(e("--src-group 4294967296").1, unknown("4294967296"));
        assert_eq!(e("--src-group -1").1, unknown("-1"));
        assert_eq!(e("--src-group DEFAULT").1, unknown("DEFAULT"));
        assert_eq!(e("--src-group 1/2/3").1, "unexpected `/3` after the mask in `1/2/3`");
        assert_eq!(e("--src-group 1/").1, "`` is not a 32-bit mask");
        assert_eq!(e("--src-group 1 --src-group 2").1, "`--src-group` is given more than once");
        // The kernel's hook check: --src-group only where there is an input interface.
        let p = crate::matches::testing::load(Ipv4, "filter", "-A OUTPUT -m devgroup --src-group 1");
        assert!(p.has_errors());
        let p = crate::matches::testing::load(Ipv4, "filter", "-A INPUT -m devgroup --src-group 1 --dst-group 2");
        assert!(p.has_errors());
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m devgroup {options}")) {
                MatchKind::Devgroup(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn interfaces_are_assumed_in_the_default_group() {
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
            let o = eval(&s, "--src-group default");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk assumes IN=eth0 is in device group 0 (default), which is default, so this holds"
            );
            assert!(!eval(&s, "--src-group 1").holds);
            assert!(eval(&s, "! --src-group 1").holds);
            assert!(eval(&s, "--src-group 0x10/0x0").holds);
        }
    }
}
