//! `-m osf --genre NAME`: passive OS fingerprinting of a TCP SYN against the fingerprints loaded into the
//! kernel with `nfnl_osf` (`libxt_osf`, the kernel's `xt_osf.c` and `nfnetlink_osf.c`). IPv4 only; the kernel
//! refuses it without `-p tcp` and outside PREROUTING, INPUT and FORWARD.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Protocol};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The longest genre the kernel stores (`MAXGENRELEN` - 1).
pub const MAX_GENRE_LEN: usize = 31;

/// The options of `-m osf`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Osf {
    /// `[!] --genre NAME`: the OS genre (`Linux`, `Windows`, ...) the fingerprint must name.
    pub genre: Box<str>,
    /// Whether `!` came before `--genre`.
    pub negated: bool,
    /// `--ttl LEVEL`: how the packet's TTL is compared with the fingerprint's.
    pub ttl: Option<OsfTtl>,
    /// `--log LEVEL` (0 to 2): which fingerprints the kernel logs, matching or not.
    pub log: Option<u8>,
}

/// How `--ttl` compares the packet's TTL with the fingerprint's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OsfTtl {
    /// `0`: equal (works on a LAN).
    True,
    /// `1`: the packet's TTL is at most the fingerprint's (works across routers).
    Less,
    /// `2`: the TTL is not compared.
    NoCheck,
}

impl Extension for Osf {
    const OPTIONS: &'static [OptSpec] = &[opt("genre", Args::One), opt("ttl", Args::One), opt("log", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Osf, Diagnostic> {
        if ctx.family == Family::Ipv6 {
            return Err(ctx.error("ip6tables has no osf match: it is for IPv4 only"));
        }
        let g = find(opts, "genre")?.ok_or_else(|| ctx.error("the osf match needs `--genre NAME`"))?;
        let genre = super::nfacct::cut_to(g, g.arg(), MAX_GENRE_LEN, warnings);
        let level = |name: &str| -> Result<Option<u8>, Diagnostic> {
            let Some(o) = find(opts, name)? else { return Ok(None) };
            o.no_negation()?;
            Ok(Some(crate::values::opt_number(o, 0, 2)? as u8))
        };
        let ttl = level("ttl")?.map(|l| match l {
            0 => OsfTtl::True,
            1 => OsfTtl::Less,
            _ => OsfTtl::NoCheck,
        });
        let log = level("log")?;
        ctx.require_proto("the osf match", &[Protocol::TCP])?;
        Ok(Osf { genre: genre.into(), negated: g.negated, ttl, log })
    }

    /// The genre is printed as given, unquoted.
    fn save(&self, out: &mut String) {
        save_opt(out, self.negated, "genre");
        out.push(' ');
        out.push_str(&self.genre);
        if let Some(t) = self.ttl {
            let level = match t {
                OsfTtl::True => 0,
                OsfTtl::Less => 1,
                OsfTtl::NoCheck => 2,
            };
            let _ = write!(out, " --ttl {level}");
        }
        if let Some(l) = self.log {
            let _ = write!(out, " --log {l}");
        }
    }
}

impl Evaluate for Osf {
    /// `xt_osf_match_packet` in `xt_osf.c`: only a TCP SYN is fingerprinted; anything else never matches (not
    /// even with `!`). Fingerprints come from user space (`nfnl_osf -f pf.os`); chainwalk does not have them
    /// and assumes the SYN matches no fingerprint of the genre.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let syn = matches!(ctx.pkt.l4, crate::packet::L4::Tcp { flags, .. } if flags.0 & 0x02 != 0);
        if !syn {
            return Outcome::no(
                "osf fingerprints TCP SYNs only, and this packet is none, so it does not match, `!` or not",
            );
        }
        Outcome::assumed(
            self.negated,
            format!(
                "chainwalk does not know the fingerprints loaded into the kernel and assumes the SYN is not \
                 recognised as `{}`, so this {}",
                self.genre,
                if self.negated { "holds" } else { "does not hold" }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, load, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--genre Linux", "--genre Linux"),
            ("! --genre Linux --ttl 2 --log 1", "! --genre Linux --ttl 2 --log 1"),
            ("--genre Linux --log 0", "--genre Linux --log 0"),
            ("--genre \"a b\"", "--genre a b"),
            ("--genre abcdefghijklmnopqrstuvwxyz0123456789abcdefg", "--genre abcdefghijklmnopqrstuvwxyz01234"),
        ] {
            let rule = format!("-A INPUT -p tcp -m osf {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -p tcp -m osf {printed} -j ACCEPT"));
        }
    }

    #[test]
    fn errors() {
        let e = |r: &str| error(Ipv4, "filter", &format!("-A INPUT {r} -j ACCEPT"));
        assert_eq!(
            e("-p tcp -m osf --genre Linux --ttl 3"),
            (44, "`--ttl` takes a number from 0 to 2, not `3`".into())
        );
        assert_eq!(e("-p tcp -m osf --ttl 1"), (17, "the osf match needs `--genre NAME`".into()));
        assert_eq!(e("-m osf --genre Linux"), (10, "the osf match needs the rule to say -p tcp".into()));
        assert_eq!(e("-p tcp -m osf --genre Linux ! --log 1").1, "`--log` cannot be negated with `!`");
        assert_eq!(
            error(Ipv6, "filter", "-A INPUT -p tcp -m osf --genre Linux"),
            (17, "ip6tables has no osf match: it is for IPv4 only".into())
        );
        assert!(load(Ipv4, "filter", "-A OUTPUT -p tcp -m osf --genre Linux").has_errors());
        assert!(!load(Ipv4, "filter", "-A FORWARD -p tcp -m osf --genre Linux").has_errors());
    }

    #[test]
    fn only_syns_are_fingerprinted() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let eval = |s: &Scene, o: &str| match first_match(Ipv4, &format!("-p tcp -m osf {o}")) {
            MatchKind::Osf(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let syn = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        let o = eval(&syn, "--genre Linux");
        assert!(!o.holds && o.assumed);
        assert!(eval(&syn, "! --genre Linux").holds);
        let ack = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ack state established");
        let o = eval(&ack, "! --genre Linux");
        assert!(!o.holds && !o.assumed);
    }
}
