//! `-m realm --realm VALUE[/MASK]`: the routing realm of the route the packet took, as `ip route ... realm N`
//! sets it (`libipt_realm`, the kernel's `xt_realm.c`). IPv4 only; realms may be named in
//! `/etc/iproute2/rt_realms`. The kernel allows it from INPUT, FORWARD, OUTPUT and POSTROUTING (after
//! routing).

use super::devgroup::{parse_val_mask, val_mask_text};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Negatable};
use crate::values::MarkMask;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The names iproute2 ships in `/etc/iproute2/rt_realms`; a machine may add its own.
pub const REALM_NAMES: &[(&str, u32)] = &[("cosmos", 0)];

/// The options of `-m realm`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Realm {
    /// `[!] --realm VALUE[/MASK]`: the route's realm under the mask equals the value.
    pub realm: Negatable<MarkMask>,
}

impl Extension for Realm {
    const OPTIONS: &'static [OptSpec] = &[opt("realm", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Realm, Diagnostic> {
        if ctx.family == Family::Ipv6 {
            return Err(ctx.error("ip6tables has no realm match: it is for IPv4 only"));
        }
        let o = find(opts, "realm")?.ok_or_else(|| ctx.error("the realm match needs `--realm VALUE[/MASK]`"))?;
        let value = o.parse_arg(|t| parse_val_mask(t, REALM_NAMES, "/etc/iproute2/rt_realms"))?;
        Ok(Realm { realm: Negatable { value, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt(out, self.realm.negated, "realm");
        out.push(' ');
        out.push_str(&val_mask_text(self.realm.value, REALM_NAMES));
    }
}

impl Evaluate for Realm {
    /// `realm_mt` in `xt_realm.c`: the route's class id (its realm) under the mask equals the value. chainwalk's
    /// routes carry no realm, so the realm is assumed 0 (`cosmos`), which a route has unless it says `realm`.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let t = self.realm.value;
        let is = t.value == 0;
        let fact = format!(
            "chainwalk assumes the route has realm 0 (cosmos, as routes have unless they say `realm`), which is {}{}",
            if is { "" } else { "not " },
            val_mask_text(t, REALM_NAMES)
        );
        let o = conclude(is, self.realm.negated, fact);
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, load, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--realm 1", "--realm 0x1"),
            ("--realm 0x10/0xff", "--realm 0x10/0xff"),
            ("--realm 16/255", "--realm 0x10/0xff"),
            ("! --realm 2", "! --realm 0x2"),
            ("--realm cosmos", "--realm cosmos"),
            ("--realm 0", "--realm cosmos"),
            ("--realm 0/0xff", "--realm 0x0/0xff"),
            ("--realm 0xffffffff/0xffffffff", "--realm 0xffffffff"),
        ] {
            let rule = format!("-A INPUT -m realm {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m realm {printed} -j ACCEPT"));
        }
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m realm {o} -j ACCEPT"));
        assert_eq!(e(""), (10, "the realm match needs `--realm VALUE[/MASK]`".into()));
        assert_eq!(
            e("--realm foo"),
            (
                27,
                "`foo` is neither a number nor a name chainwalk knows from /etc/iproute2/rt_realms (it knows only the default names)".into()
            )
        );
        assert_eq!(e("--realm 1 --realm 2").1, "`--realm` is given more than once");
        assert_eq!(
            error(Ipv6, "filter", "-A INPUT -m realm --realm 1"),
            (10, "ip6tables has no realm match: it is for IPv4 only".into())
        );
        // The kernel allows realm only after routing.
        assert!(load(Ipv4, "mangle", "-A PREROUTING -m realm --realm 1").has_errors());
        assert!(!load(Ipv4, "mangle", "-A POSTROUTING -m realm --realm 1").has_errors());
    }

    #[test]
    fn routes_are_assumed_in_realm_zero() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        let eval = |o: &str| match first_match(Ipv4, &format!("-m realm {o}")) {
            MatchKind::Realm(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let o = eval("--realm cosmos");
        assert!(o.holds && o.assumed);
        assert_eq!(o.why, "chainwalk assumes the route has realm 0 (cosmos, as routes have unless they say `realm`), which is cosmos, so this holds");
        assert!(!eval("--realm 1").holds);
        assert!(eval("! --realm 1").holds);
    }
}
