//! `-m mh --mh-type TYPE[:TYPE]`: the type of a Mobile IPv6 mobility header (`libip6t_mh`, the kernel's
//! `ip6t_mh.c`). IPv6 only; the kernel refuses it without `-p mh` (`-p mobility-header`, protocol 135).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Negatable, Protocol};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The mobility header's IP protocol number.
pub const MH: Protocol = Protocol(135);

/// The type names `libip6t_mh` knows, in its order (which decides what an abbreviation means).
const MH_TYPES: &[(&str, u8)] = &[
    ("binding-refresh-request", 0),
    ("brr", 0),
    ("home-test-init", 1),
    ("hoti", 1),
    ("careof-test-init", 2),
    ("coti", 2),
    ("home-test", 3),
    ("hot", 3),
    ("careof-test", 4),
    ("cot", 4),
    ("binding-update", 5),
    ("bu", 5),
    ("binding-acknowledgement", 6),
    ("ba", 6),
    ("binding-error", 7),
    ("be", 7),
];

/// The options of `-m mh`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mh {
    /// `[!] --mh-type MIN[:MAX]`: the header's type is in the range (0 to 255 when not given).
    pub types: Negatable<(u8, u8)>,
}

/// Reads one type as `name_to_type` does: a name or any beginning of one (any case; the first name it
/// begins wins unless a later name is exactly it), else a number in C notation up to 255.
fn mh_type(text: &str) -> Result<u8, String> {
    let mut found = None;
    for (name, t) in MH_TYPES {
        if name.len() >= text.len()
            && name[..text.len()].eq_ignore_ascii_case(text)
            && (found.is_none() || name.len() == text.len())
        {
            found = Some(*t);
        }
    }
    if let Some(t) = found {
        return Ok(t);
    }
    crate::ruleset::addr::parse_uint(text)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| format!("`{text}` is not a mobility header type (a name like binding-update, or 0 to 255)"))
}

/// Reads `TYPE[:TYPE]`; an empty end of a range is 0 or 255.
fn mh_types(text: &str) -> Result<(u8, u8), String> {
    match text.split_once(':') {
        None => mh_type(text).map(|t| (t, t)),
        Some((a, b)) => {
            let min = if a.is_empty() { 0 } else { mh_type(a)? };
            let max = if b.is_empty() { 255 } else { mh_type(b)? };
            if min > max {
                return Err(format!("the type range `{text}` is reversed"));
            }
            Ok((min, max))
        }
    }
}

impl Extension for Mh {
    const OPTIONS: &'static [OptSpec] = &[opt("mh-type", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Mh, Diagnostic> {
        if ctx.family == Family::Ipv4 {
            return Err(ctx.error("the mh match exists only for IPv6 (ip6tables)"));
        }
        let types = match find(opts, "mh-type")? {
            Some(o) => Negatable { value: o.parse_arg(mh_types)?, negated: o.negated, span: o.span },
            None => Negatable { value: (0, 255), negated: false, span: crate::span::Span::default() },
        };
        ctx.require_proto("the mh match", &[MH])?;
        Ok(Mh { types })
    }

    /// Types print as numbers; the full range prints nothing, `!` or not.
    fn save(&self, out: &mut String) {
        let (min, max) = self.types.value;
        if (min, max) == (0, 255) {
            return;
        }
        save_opt(out, self.types.negated, "mh-type");
        if min == max {
            let _ = write!(out, " {min}");
        } else {
            let _ = write!(out, " {min}:{max}");
        }
    }
}

impl Evaluate for Mh {
    /// `mh_mt6` in `ip6t_mh.c`: later fragments never match; the header's type must be in the range.
    /// chainwalk's packets carry no mobility header type, so one inside the range is assumed.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no mobility header, so the mh match does not match it");
        }
        if ctx.pkt.l4.proto() != MH.0 {
            return Outcome::no("the packet has no mobility header");
        }
        let (min, max) = self.types.value;
        if (min, max) == (0, 255) {
            return conclude(true, self.types.negated, "every type is in 0:255".into());
        }
        let holds = !self.types.negated;
        Outcome::assumed(
            holds,
            format!(
                "chainwalk does not know the mobility header's type and assumes it is in {min}:{max}, so this {}",
                if holds { "holds" } else { "does not hold" }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("-p mh -m mh --mh-type binding-update", "-p mobility-header -m mh --mh-type 5"),
            ("-p mh --mh-type binding-update", "-p mobility-header -m mh --mh-type 5"),
            ("-p mh -m mh --mh-type 1:5", "-p mobility-header -m mh --mh-type 1:5"),
            ("-p mh -m mh ! --mh-type 1", "-p mobility-header -m mh ! --mh-type 1"),
            ("-p 135 -m mh --mh-type 1", "-p mobility-header -m mh --mh-type 1"),
            ("-p ipv6-mh -m mh --mh-type 1", "-p mobility-header -m mh --mh-type 1"),
            ("-p mh -m mh --mh-type binding-refresh-request", "-p mobility-header -m mh --mh-type 0"),
            ("-p mh -m mh --mh-type home-test-init", "-p mobility-header -m mh --mh-type 1"),
            ("-p mh -m mh --mh-type careof-test-init", "-p mobility-header -m mh --mh-type 2"),
            ("-p mh -m mh --mh-type home-test", "-p mobility-header -m mh --mh-type 3"),
            ("-p mh -m mh --mh-type careof-test", "-p mobility-header -m mh --mh-type 4"),
            ("-p mh -m mh --mh-type binding-acknowledgement", "-p mobility-header -m mh --mh-type 6"),
            ("-p mh -m mh --mh-type binding-error", "-p mobility-header -m mh --mh-type 7"),
            ("-p mh -m mh", "-p mobility-header -m mh"),
            ("-p mh -m mh --mh-type :5", "-p mobility-header -m mh --mh-type 0:5"),
            ("-p mh -m mh --mh-type 5:", "-p mobility-header -m mh --mh-type 5:255"),
            ("-p mh -m mh --mh-type 0:255", "-p mobility-header -m mh"),
            ("-p mh -m mh ! --mh-type 0:255", "-p mobility-header -m mh"),
            ("-p mh -m mh --mh-type b", "-p mobility-header -m mh --mh-type 0"),
            ("-p mh -m mh --mh-type BINDING-UPDATE", "-p mobility-header -m mh --mh-type 5"),
            ("-p mh -m mh --mh-type bu", "-p mobility-header -m mh --mh-type 5"),
            ("-p mh -m mh --mh-type binding", "-p mobility-header -m mh --mh-type 0"),
            ("-p mh -m mh --mh-type home", "-p mobility-header -m mh --mh-type 1"),
            ("-p mh -m mh --mh-type 0x10", "-p mobility-header -m mh --mh-type 16"),
            ("-p mh -m mh --mh-type h", "-p mobility-header -m mh --mh-type 1"),
            ("-p mh -m mh --mh-type c", "-p mobility-header -m mh --mh-type 2"),
        ] {
            assert_eq!(
                saved(Ipv6, "filter", &format!("-A INPUT {given} -j DROP")),
                format!("-A INPUT {printed} -j DROP"),
                "{given}"
            );
        }
    }

    #[test]
    fn errors() {
        let e = |r: &str| error(Ipv6, "filter", &format!("-A INPUT {r} -j DROP"));
        assert_eq!(
            e("-p mh -m mh --mh-type bogus"),
            (32, "`bogus` is not a mobility header type (a name like binding-update, or 0 to 255)".into())
        );
        assert_eq!(
            e("-p mh -m mh --mh-type 256").1,
            "`256` is not a mobility header type (a name like binding-update, or 0 to 255)"
        );
        assert_eq!(e("-p mh -m mh --mh-type 6:5").1, "the type range `6:5` is reversed");
        assert_eq!(e("-m mh --mh-type 1"), (10, "the mh match needs the rule to say -p mobility-header".into()));
        assert_eq!(e("-p tcp -m mh --mh-type 1").1, "the mh match needs the rule to say -p mobility-header");
        assert_eq!(e("-p mh -m mh --mh-type 1 --mh-type 2").1, "`--mh-type` is given more than once");
        // iptables loads the mh match by the protocol's name as written: only `-p mh` does.
        assert_eq!(e("-p 135 --mh-type 4").1, "unknown option `--mh-type`");
        assert_eq!(e("-p ipv6-mh --mh-type 4").1, "unknown option `--mh-type`");
        assert_eq!(
            saved(Ipv6, "filter", "-A INPUT -p MH --mh-type 4"),
            "-A INPUT -p mobility-header -m mh --mh-type 4"
        );
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m mh"),
            (10, "the mh match exists only for IPv6 (ip6tables)".into())
        );
    }

    #[test]
    fn types_are_assumed_in_range() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("135 2001:db8::1 -> 2001:db8::2 in eth0");
        let eval = |o: &str| match first_match(Ipv6, &format!("-p mh -m mh {o}")) {
            MatchKind::Mh(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let o = eval("--mh-type 5");
        assert!(o.holds && o.assumed);
        assert!(!eval("! --mh-type 5").holds);
        let o = eval("");
        assert!(o.holds && !o.assumed);
    }
}
