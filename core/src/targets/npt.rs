//! IPv6 network prefix translation (RFC 6296): `-j SNPT` rewrites the source address's prefix, `-j DNPT` the
//! destination's, without state and without changing the transport checksum (`libip6t_SNPT`,
//! `libip6t_DNPT`, the kernel's `ip6t_NPT.c`). The kernel allows them in the mangle table only: SNPT from
//! INPUT and POSTROUTING, DNPT from PREROUTING and OUTPUT.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::matches::ipvs::HostPrefix;
use crate::ruleset::Family;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr};

/// The two prefixes of a translation: addresses under `src` become addresses under `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NptPrefixes {
    /// `--src-pfx`: the prefix translated from (at most /64, no bits past the length).
    pub src: HostPrefix,
    /// `--dst-pfx`: the prefix translated to.
    pub dst: HostPrefix,
}

/// `-j SNPT`: translates the source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snpt(pub NptPrefixes);

/// `-j DNPT`: translates the destination address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dnpt(pub NptPrefixes);

/// The 16-bit one's complement sum of an address's words (the Internet checksum's arithmetic).
fn ones_sum(addr: Ipv6Addr) -> u16 {
    addr.segments().iter().fold(0u16, |acc, &w| ones_add(acc, w))
}

/// One's complement addition of 16-bit numbers.
fn ones_add(a: u16, b: u16) -> u16 {
    let s = u32::from(a) + u32::from(b);
    ((s & 0xffff) + (s >> 16)) as u16
}

fn v6(p: HostPrefix) -> Ipv6Addr {
    match p.addr {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => a.to_ipv6_mapped(),
    }
}

impl NptPrefixes {
    /// Maps `addr` as `ip6t_npt_map_pfx` does: the prefix bits (the longer of the two lengths) come from
    /// the destination prefix, and one 16-bit word after the prefix is adjusted so the address's checksum
    /// stays the same (word 3 for prefixes up to /48, else the first of words 4 to 7 that is not 0xffff).
    /// `None` when no word can be adjusted: the kernel then drops the packet with a parameter problem.
    pub fn map(&self, addr: Ipv6Addr) -> Option<Ipv6Addr> {
        let len = u32::from(self.src.len.max(self.dst.len));
        let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
        let mapped = (u128::from(addr) & !mask) | (u128::from(v6(self.dst)) & mask);
        let mut words = Ipv6Addr::from(mapped).segments();
        let idx = if len <= 48 { 3 } else { (4..8).find(|&i| words[i] != 0xffff)? };
        let adjustment = ones_add(ones_sum(v6(self.src)), !ones_sum(v6(self.dst)));
        let word = ones_add(words[idx], adjustment);
        words[idx] = if word == 0xffff { 0 } else { word };
        Some(Ipv6Addr::from(words))
    }
}

fn prefix(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, name: &str, target: &str) -> Result<HostPrefix, Diagnostic> {
    let o = find(opts, name)?
        .ok_or_else(|| ctx.error(format!("{target} needs `--src-pfx PREFIX/LEN` and `--dst-pfx PREFIX/LEN`")))?;
    let p = o.parse_arg(|t| HostPrefix::parse(t, Family::Ipv6))?;
    // What `ip6t_npt_checkentry` refuses.
    if p.len > 64 {
        return Err(o.bad_arg(format!("the kernel takes prefixes up to /64, not /{}", p.len)));
    }
    let host_bits = u128::from(v6(p)) & !u128::MAX.checked_shl(128 - u32::from(p.len)).unwrap_or(0);
    if host_bits != 0 {
        return Err(o.bad_arg(format!(
            "`{}` has bits set past its /{} prefix, which the kernel refuses",
            o.arg(),
            p.len
        )));
    }
    Ok(p)
}

fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, target: &str) -> Result<NptPrefixes, Diagnostic> {
    if ctx.family == Family::Ipv4 {
        return Err(ctx.error(format!("iptables has no {target} target: it is for IPv6 only")));
    }
    refuse_negation(opts)?;
    Ok(NptPrefixes { src: prefix(opts, ctx, "src-pfx", target)?, dst: prefix(opts, ctx, "dst-pfx", target)? })
}

/// A prefix is printed unless it is `::/0`.
fn save(p: &NptPrefixes, out: &mut String) {
    for (name, pfx) in [("src-pfx", p.src), ("dst-pfx", p.dst)] {
        if !(v6(pfx).is_unspecified() && pfx.len == 0) {
            let _ = write!(out, " --{name} {pfx}");
        }
    }
}

const OPTIONS: &[OptSpec] = &[opt("src-pfx", Args::One), opt("dst-pfx", Args::One)];

impl Extension for Snpt {
    const OPTIONS: &'static [OptSpec] = OPTIONS;

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Snpt, Diagnostic> {
        build(opts, ctx, "SNPT").map(Snpt)
    }

    fn save(&self, out: &mut String) {
        save(&self.0, out);
    }
}

impl Extension for Dnpt {
    const OPTIONS: &'static [OptSpec] = OPTIONS;

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Dnpt, Diagnostic> {
        build(opts, ctx, "DNPT").map(Dnpt)
    }

    fn save(&self, out: &mut String) {
        save(&self.0, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matches::testing::{error, load, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for rule in [
            "-A POSTROUTING -j SNPT --src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64",
            "-A PREROUTING -j DNPT --src-pfx 2001:db9::/64 --dst-pfx 2001:db8::/64",
            "-A PREROUTING -j DNPT --src-pfx 2001:db9::/64 --dst-pfx 2001:db8::/48",
            "-A INPUT -j SNPT --src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64",
            "-A OUTPUT -j DNPT --src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64",
        ] {
            assert_eq!(saved(Ipv6, "mangle", rule), rule);
        }
        assert_eq!(
            saved(Ipv6, "mangle", "-A POSTROUTING -j SNPT --src-pfx ::/0 --dst-pfx ::/0"),
            "-A POSTROUTING -j SNPT"
        );
        assert_eq!(
            saved(
                Ipv6,
                "mangle",
                "-A POSTROUTING -j SNPT --src-pfx 2001:db8::/ffff:ffff:ffff:ffff:: --dst-pfx 2001:db9::/64"
            ),
            "-A POSTROUTING -j SNPT --src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv6, "mangle", &format!("-A POSTROUTING -j SNPT {o}"));
        assert_eq!(
            e("--src-pfx 2001:db8::/65 --dst-pfx 2001:db9::/65"),
            (34, "the kernel takes prefixes up to /64, not /65".into())
        );
        assert_eq!(
            e("--src-pfx 2001:db8::1/64 --dst-pfx 2001:db9::/64").1,
            "`2001:db8::1/64` has bits set past its /64 prefix, which the kernel refuses"
        );
        assert_eq!(
            e("--src-pfx 2001:db8:: --dst-pfx 2001:db9::/64").1,
            "the kernel takes prefixes up to /64, not /128"
        );
        assert_eq!(
            e("--src-pfx 2001:db8::/0 --dst-pfx 2001:db9::/0").1,
            "`2001:db8::/0` has bits set past its /0 prefix, which the kernel refuses"
        );
        assert_eq!(e("--src-pfx 2001:db8::/64").1, "SNPT needs `--src-pfx PREFIX/LEN` and `--dst-pfx PREFIX/LEN`");
        assert_eq!(e("! --src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64").1, "`--src-pfx` cannot be negated with `!`");
        assert_eq!(
            e("--src-pfx 2001:db8::/129 --dst-pfx 2001:db9::/64").1,
            "`129` is neither a network mask nor a prefix length (0 to 128)"
        );
        assert_eq!(
            e("--src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64 --src-pfx 2001:db7::/64").1,
            "`--src-pfx` is given more than once"
        );
        assert_eq!(
            error(Ipv4, "mangle", "-A POSTROUTING -j SNPT --src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64").1,
            "iptables has no SNPT target: it is for IPv6 only"
        );
        // The kernel's hook checks.
        assert!(
            load(Ipv6, "mangle", "-A PREROUTING -j SNPT --src-pfx 2001:db8::/64 --dst-pfx 2001:db9::/64").has_errors()
        );
        assert!(
            load(Ipv6, "mangle", "-A POSTROUTING -j DNPT --src-pfx 2001:db9::/64 --dst-pfx 2001:db8::/64").has_errors()
        );
    }

    #[test]
    fn rfc_6296_mapping_keeps_the_checksum() {
        // The example of RFC 6296 section 3.6: fd01:0203:0405:/48 to 2001:0db8:0001:/48.
        let npt = NptPrefixes {
            src: HostPrefix { addr: "fd01:203:405::".parse().unwrap(), len: 48 },
            dst: HostPrefix { addr: "2001:db8:1::".parse().unwrap(), len: 48 },
        };
        let inside: Ipv6Addr = "fd01:203:405:1::1234".parse().unwrap();
        assert_eq!(npt.map(inside), Some("2001:db8:1:d550::1234".parse().unwrap()));
        let back = NptPrefixes { src: npt.dst, dst: npt.src };
        assert_eq!(back.map("2001:db8:1:d550::1234".parse().unwrap()), Some(inside));
        assert_eq!(ones_sum(inside), ones_sum("2001:db8:1:d550::1234".parse().unwrap()));
    }

    /// Recorded on Linux 6.18: `-j DNPT --src-pfx 2001:db8:1::/48 --dst-pfx fd00:ab:cd::/48` in PREROUTING,
    /// and which rewritten destination a filter rule counted.
    #[test]
    fn mapping_is_the_kernels() {
        let npt = NptPrefixes {
            src: HostPrefix { addr: "2001:db8:1::".parse().unwrap(), len: 48 },
            dst: HostPrefix { addr: "fd00:ab:cd::".parse().unwrap(), len: 48 },
        };
        let map = |a: &str| npt.map(a.parse().unwrap()).map(|a| a.to_string());
        assert_eq!(map("2001:db8:1::5").as_deref(), Some("fd00:ab:cd:2f41::5"));
        assert_eq!(map("2001:db8:1:abcd::1234").as_deref(), Some("fd00:ab:cd:db0e::1234"));
    }

    #[test]
    fn snpt_rewrites_the_source() {
        let t = walk(
            "*mangle\n-A INPUT -j SNPT --src-pfx fd00:1::/64 --dst-pfx 2001:db8:1::/64\nCOMMIT\n",
            "lo UP ::1/128\neth0 UP 2001:db8:9::1/64\n",
            "tcp [fd00:1::5]:40000 -> [2001:db8:9::1]:443 in eth0 syn",
        );
        let change = t.changes.iter().find(|c| c.what == "source").expect("a source change");
        assert_eq!(change.from, "fd00:1::5");
        assert!(change.to.starts_with("2001:db8:1:0:"), "{}", change.to);
    }
}
