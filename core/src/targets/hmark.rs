//! `-j HMARK`: sets the packet mark to a hash of chosen parts of the packet's (or its connection's) tuple,
//! modulo a number, plus an offset, to spread flows over marks for policy routing (`libxt_HMARK`, the
//! kernel's `xt_HMARK.c`).

use super::common::{parse_host, prefix_of, refuse_negation};
use crate::diag::Diagnostic;
use crate::ext::{opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Family;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The options of `-j HMARK`: which parts of the tuple go into the hash (each under a mask, or set to a
/// fixed value), the hash's seed, and how it becomes a mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hmark {
    /// `--hmark-src-prefix` (or `--hmark-tuple src`): the mask applied to the source address.
    pub src_mask: Option<IpAddr>,
    /// `--hmark-dst-prefix` (or `--hmark-tuple dst`): the mask applied to the destination address.
    pub dst_mask: Option<IpAddr>,
    /// `--hmark-sport-mask` (or `--hmark-tuple sport`).
    pub sport_mask: Option<u16>,
    /// `--hmark-dport-mask` (or `--hmark-tuple dport`).
    pub dport_mask: Option<u16>,
    /// `--hmark-spi-mask` (or `--hmark-tuple spi`): the mask applied to an ESP or AH SPI.
    pub spi_mask: Option<u32>,
    /// `--hmark-sport`: a value or-ed into the source port.
    pub sport: Option<u16>,
    /// `--hmark-dport`: a value or-ed into the destination port.
    pub dport: Option<u16>,
    /// `--hmark-spi`: a value or-ed into the SPI.
    pub spi: Option<u32>,
    /// `--hmark-proto-mask` (or `--hmark-tuple proto`): the mask applied to the protocol number.
    pub proto_mask: Option<u16>,
    /// `--hmark-rnd`: the hash's seed (required).
    pub rnd: u32,
    /// `--hmark-mod`: the modulus (required, at least 1).
    pub modulus: u32,
    /// `--hmark-offset`: added to the hash after the modulus.
    pub offset: Option<u32>,
    /// `--hmark-tuple ct`: hash the connection's original tuple rather than the packet's.
    pub ct: bool,
}

/// The kinds `--hmark-tuple` lists, in the order `hmark_parse` tries them (which decides abbreviations).
const TUPLE_KINDS: [&str; 7] = ["ct", "src", "dst", "sport", "dport", "proto", "spi"];

/// Reads a prefix option as `XTTYPE_PLENMASK` does: a length up to the family's width, else a mask
/// address (IPv4's in `inet_aton` form, so `33` is the mask 0.0.0.33).
fn mask_arg(text: &str, family: Family) -> Result<IpAddr, String> {
    let width = if family == Family::Ipv4 { 32 } else { 128 };
    let bad = || format!("`{text}` is neither a prefix length (0 to {width}) nor a network mask");
    if let Some(n) = crate::ruleset::addr::parse_uint(text).filter(|&n| n <= width) {
        let ones = u128::MAX.checked_shl(128 - n as u32).unwrap_or(0);
        return Ok(match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::from((ones >> 96) as u32)),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(ones)),
        });
    }
    parse_host(text, family).ok_or_else(bad)
}

/// A mask as `iptables-save` prints it here: its prefix length, or the full width when not contiguous.
fn mask_len(mask: IpAddr) -> u8 {
    prefix_of(mask).unwrap_or(if mask.is_ipv4() { 32 } else { 128 })
}

fn all_ones(family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::BROADCAST),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(u128::MAX)),
    }
}

fn number<T: TryFrom<u64>>(o: &Opt<'_>, min: u64, max: u64) -> Result<T, Diagnostic> {
    let n = crate::values::opt_number(o, min, max)?;
    T::try_from(n).map_err(|_| o.bad_arg("number out of range"))
}

/// What `-j HMARK` hashes (`struct hmark_tuple`, before the masks): the two addresses, the protocol and,
/// for a protocol with ports or an SPI there (`proto_ports_offset`), the two 16-bit words found at them
/// (the ports, or an ESP or AH SPI's halves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HmarkTuple {
    /// The source address (the connection's original source with `--hmark-tuple ct`).
    pub src: IpAddr,
    /// The destination address (the connection's reply source with `ct`: where it really goes).
    pub dst: IpAddr,
    /// The protocol number.
    pub proto: u8,
    /// The two words at the ports' place, when the kernel reads them.
    pub ports: Option<(u16, u16)>,
}

impl Hmark {
    /// A rule with seed `rnd` and modulus `modulus` that hashes no part of the tuple (every mask 0).
    pub fn new(rnd: u32, modulus: u32) -> Hmark {
        Hmark {
            src_mask: None,
            dst_mask: None,
            sport_mask: None,
            dport_mask: None,
            spi_mask: None,
            sport: None,
            dport: None,
            spi: None,
            proto_mask: None,
            rnd,
            modulus,
            offset: None,
            ct: false,
        }
    }

    /// The mark `hmark_tg_v4`/`hmark_tg_v6` set (`hmark_hash`): each address under its mask (IPv6 folded
    /// into one word by XOR), the ports under their masks or'ed with the set values and ordered high word
    /// first, so both directions of a flow hash alike; `jhash_3words` of them with the seed, xor the
    /// protocol under its mask, scaled into `--hmark-mod` (`reciprocal_scale`), plus `--hmark-offset`.
    /// A part the rule does not ask for has a mask of 0.
    pub fn mark(&self, t: &HmarkTuple) -> u32 {
        let fold = |addr: IpAddr, mask: Option<IpAddr>| -> u32 {
            match (addr, mask) {
                (IpAddr::V4(a), Some(IpAddr::V4(m))) => u32::from(a) & u32::from(m),
                (IpAddr::V6(a), Some(IpAddr::V6(m))) => {
                    let x = u128::from(a) & u128::from(m);
                    (x >> 96) as u32 ^ (x >> 64) as u32 ^ (x >> 32) as u32 ^ x as u32
                }
                _ => 0,
            }
        };
        let (src, dst) = (fold(t.src, self.src_mask), fold(t.dst, self.dst_mask));
        let (low, high) = if dst < src { (dst, src) } else { (src, dst) };
        // The masks and set values share the place of the ports (`union hmark_ports`): an SPI's, when
        // given, is the whole word.
        let word = |spi: Option<u32>, s: Option<u16>, d: Option<u16>| {
            spi.unwrap_or((u32::from(s.unwrap_or(0)) << 16) | u32::from(d.unwrap_or(0)))
        };
        let mask = word(self.spi_mask, self.sport_mask, self.dport_mask);
        let set = word(self.spi, self.sport, self.dport);
        let ports = t.ports.map_or(0, |(a, b)| {
            let a = (a & (mask >> 16) as u16) | (set >> 16) as u16;
            let b = (b & mask as u16) | set as u16;
            let (hi, lo) = if b > a { (b, a) } else { (a, b) };
            (u32::from(hi) << 16) | u32::from(lo)
        });
        let hash = crate::matches::cluster::jhash_words([low, high, ports], 3, self.rnd)
            ^ u32::from(u16::from(t.proto) & self.proto_mask.unwrap_or(0));
        (((u64::from(hash) * u64::from(self.modulus)) >> 32) as u32).wrapping_add(self.offset.unwrap_or(0))
    }
}

impl Extension for Hmark {
    const OPTIONS: &'static [OptSpec] = &[
        opt("hmark-tuple", Args::One),
        opt("hmark-src-prefix", Args::One),
        opt("hmark-dst-prefix", Args::One),
        opt("hmark-sport-mask", Args::One),
        opt("hmark-dport-mask", Args::One),
        opt("hmark-spi-mask", Args::One),
        opt("hmark-sport", Args::One),
        opt("hmark-dport", Args::One),
        opt("hmark-spi", Args::One),
        opt("hmark-proto-mask", Args::One),
        opt("hmark-rnd", Args::One),
        opt("hmark-mod", Args::One),
        opt("hmark-offset", Args::One),
    ];

    /// Options are read in order, as `libxt_HMARK` reads them: `--hmark-tuple` sets the masks it names to all
    /// ones and counts as having given those options, so giving one of them after it is giving it twice.
    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Hmark, Diagnostic> {
        refuse_negation(opts)?;
        let mut h = Hmark::new(0, 0);
        let (mut rnd, mut modulus) = (None, None);
        let mut given: Vec<&str> = Vec::new();
        for o in opts {
            let key = o.name.strip_prefix("hmark-").unwrap_or(o.name);
            if given.contains(&key) {
                return Err(Diagnostic::error(o.span, format!("`--{}` is given more than once", o.name)));
            }
            given.push(key);
            match key {
                "tuple" => {
                    let text = o.arg();
                    let items: Vec<&str> = text.split(',').collect();
                    if items.last().is_some_and(|l| l.is_empty()) {
                        return Err(o.bad_arg(
                            "`--hmark-tuple` needs a list of kinds without spaces, like src,dst,sport,dport,proto",
                        ));
                    }
                    for item in items {
                        let kind = TUPLE_KINDS
                            .iter()
                            .find(|k| {
                                !item.is_empty() && k.len() >= item.len() && k[..item.len()].eq_ignore_ascii_case(item)
                            })
                            .ok_or_else(|| {
                                o.bad_arg(format!(
                                    "`{item}` is not a tuple part (ct, src, dst, sport, dport, proto, spi)"
                                ))
                            })?;
                        given.push(match *kind {
                            "ct" => "tuple-ct",
                            "src" => "src-prefix",
                            "dst" => "dst-prefix",
                            "sport" => "sport-mask",
                            "dport" => "dport-mask",
                            "proto" => "proto-mask",
                            _ => "spi-mask",
                        });
                        match *kind {
                            "ct" => h.ct = true,
                            "src" => h.src_mask = Some(all_ones(ctx.family)),
                            "dst" => h.dst_mask = Some(all_ones(ctx.family)),
                            "sport" => h.sport_mask = Some(u16::MAX),
                            "dport" => h.dport_mask = Some(u16::MAX),
                            "proto" => h.proto_mask = Some(u16::MAX),
                            _ => h.spi_mask = Some(u32::MAX),
                        }
                    }
                }
                "src-prefix" => h.src_mask = Some(o.parse_arg(|t| mask_arg(t, ctx.family))?),
                "dst-prefix" => h.dst_mask = Some(o.parse_arg(|t| mask_arg(t, ctx.family))?),
                "sport-mask" => h.sport_mask = Some(number(o, 0, 65535)?),
                "dport-mask" => h.dport_mask = Some(number(o, 0, 65535)?),
                "spi-mask" => h.spi_mask = Some(number(o, 0, u64::from(u32::MAX))?),
                "sport" => h.sport = Some(number(o, 0, 65535)?),
                "dport" => h.dport = Some(number(o, 0, 65535)?),
                "spi" => h.spi = Some(number(o, 0, u64::from(u32::MAX))?),
                "proto-mask" => h.proto_mask = Some(number(o, 0, 65535)?),
                "rnd" => rnd = Some(number(o, 0, u64::from(u32::MAX))?),
                "mod" => modulus = Some(number(o, 1, u64::from(u32::MAX))?),
                _ => h.offset = Some(number(o, 0, u64::from(u32::MAX))?),
            }
        }
        h.modulus = modulus.ok_or_else(|| ctx.error("HMARK needs `--hmark-mod N`"))?;
        h.rnd = rnd.ok_or_else(|| ctx.error("HMARK needs `--hmark-rnd SEED`"))?;
        if h.spi_mask.is_some() && (h.sport_mask.is_some() || h.dport_mask.is_some()) {
            return Err(ctx.error("HMARK cannot mask the SPI and the ports at the same time"));
        }
        let parts = [h.src_mask.is_some(), h.dst_mask.is_some(), h.sport_mask.is_some(), h.dport_mask.is_some()];
        let more =
            [h.spi_mask.is_some(), h.proto_mask.is_some(), h.sport.is_some(), h.dport.is_some(), h.spi.is_some()];
        if !h.ct && !parts.iter().chain(&more).any(|&p| p) {
            return Err(
                ctx.error("HMARK needs to know what to hash: give `--hmark-tuple` (or a prefix or mask option)")
            );
        }
        if h.spi.is_some() && (h.sport.is_some() || h.dport.is_some()) {
            return Err(ctx.error("the kernel refuses `--hmark-spi` together with `--hmark-sport` or `--hmark-dport`"));
        }
        Ok(h)
    }

    fn save(&self, out: &mut String) {
        if let Some(m) = self.src_mask {
            let _ = write!(out, " --hmark-src-prefix {}", mask_len(m));
        }
        if let Some(m) = self.dst_mask {
            let _ = write!(out, " --hmark-dst-prefix {}", mask_len(m));
        }
        if let Some(m) = self.sport_mask {
            let _ = write!(out, " --hmark-sport-mask {m:#06x}");
        }
        if let Some(m) = self.dport_mask {
            let _ = write!(out, " --hmark-dport-mask {m:#06x}");
        }
        if let Some(m) = self.spi_mask {
            let _ = write!(out, " --hmark-spi-mask {m:#010x}");
        }
        if let Some(p) = self.sport {
            let _ = write!(out, " --hmark-sport {p:#06x}");
        }
        if let Some(p) = self.dport {
            let _ = write!(out, " --hmark-dport {p:#06x}");
        }
        if let Some(s) = self.spi {
            let _ = write!(out, " --hmark-spi {s:#010x}");
        }
        if let Some(m) = self.proto_mask {
            let _ = write!(out, " --hmark-proto-mask {m:#04x}");
        }
        let _ = write!(out, " --hmark-rnd {:#010x} --hmark-mod {}", self.rnd, self.modulus);
        if let Some(o) = self.offset {
            let _ = write!(out, " --hmark-offset {o}");
        }
        if self.ct {
            out.push_str(" --hmark-tuple ct");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Hmark, HmarkTuple};

    /// Marks the kernel set (Linux 6.18, recorded in `tests/cases/target-hmark-*` and
    /// `ipv6-hmark-folds-the-addresses`).
    #[test]
    fn marks_are_the_kernels() {
        let hmark = Hmark::new;
        let v4 = |a: &str| std::net::IpAddr::V4(a.parse().unwrap());
        let tuple = |proto: u8, ports: Option<(u16, u16)>| HmarkTuple {
            src: v4("203.0.113.7"),
            dst: v4("198.51.100.2"),
            proto,
            ports,
        };
        let all = |h: Hmark| Hmark {
            src_mask: Some(v4("255.255.255.255")),
            dst_mask: Some(v4("255.255.255.255")),
            sport_mask: Some(0xffff),
            dport_mask: Some(0xffff),
            proto_mask: Some(0xff),
            ..h
        };
        let h = Hmark { offset: Some(256), ..all(hmark(0xcafe, 16)) };
        assert_eq!(h.mark(&tuple(6, Some((40000, 22)))), 0x10f);
        // Both directions of a flow hash alike.
        let back = HmarkTuple { src: v4("198.51.100.2"), dst: v4("203.0.113.7"), ..tuple(6, Some((22, 40000))) };
        assert_eq!(h.mark(&back), 0x10f);
        let h = Hmark {
            src_mask: Some(v4("255.255.255.0")),
            dst_mask: Some(v4("255.255.0.0")),
            sport_mask: Some(0xff00),
            dport: Some(0x8000),
            proto_mask: Some(0x0f),
            ..hmark(0x1234_5678, 1000)
        };
        assert_eq!(h.mark(&tuple(17, Some((5353, 53)))), 0x300);
        let h = Hmark {
            src_mask: Some(v4("255.255.255.255")),
            spi_mask: Some(u32::MAX),
            offset: Some(3),
            ..hmark(0xdead_beef, 7)
        };
        assert_eq!(h.mark(&tuple(50, Some((0x1234, 0xabcd)))), 0x3);
        let h = Hmark { sport: Some(0x8000), sport_mask: None, dport_mask: None, ..all(hmark(0xfeed, 1024)) };
        assert_eq!(h.mark(&tuple(1, None)), 0x11c);
        let ct = HmarkTuple { dst: v4("192.0.2.10"), ..tuple(6, Some((40000, 8080))) };
        assert_eq!(Hmark { proto_mask: None, ..all(hmark(1, 64)) }.mark(&ct), 0x11);
        let v6 = |a: &str| std::net::IpAddr::V6(a.parse().unwrap());
        let h = Hmark {
            src_mask: Some(v6("ffff:ffff:ffff:ffff::")),
            dst_mask: Some(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            sport_mask: Some(0xffff),
            dport_mask: Some(0xffff),
            proto_mask: Some(0xff),
            offset: Some(1000),
            ..hmark(0x1234, 100)
        };
        let t =
            HmarkTuple { src: v6("2001:db8:ff::7"), dst: v6("2001:db8:1::10"), proto: 17, ports: Some((40000, 53)) };
        assert_eq!(h.mark(&t), 0x3f5);
    }

    use crate::matches::testing::{error, load, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            (
                "--hmark-tuple src,dst --hmark-mod 10 --hmark-offset 1 --hmark-rnd 0x1234",
                "--hmark-src-prefix 32 --hmark-dst-prefix 32 --hmark-rnd 0x00001234 --hmark-mod 10 --hmark-offset 1",
            ),
            ("--hmark-tuple ct --hmark-mod 10 --hmark-rnd 5", "--hmark-rnd 0x00000005 --hmark-mod 10 --hmark-tuple ct"),
            (
                "--hmark-src-prefix 24 --hmark-dst-prefix 16 --hmark-sport-mask 0xff --hmark-dport-mask 255 --hmark-proto-mask 3 --hmark-sport 1 --hmark-dport 2 --hmark-mod 10 --hmark-rnd 5",
                "--hmark-src-prefix 24 --hmark-dst-prefix 16 --hmark-sport-mask 0x00ff --hmark-dport-mask 0x00ff --hmark-sport 0x0001 --hmark-dport 0x0002 --hmark-proto-mask 0x03 --hmark-rnd 0x00000005 --hmark-mod 10",
            ),
            (
                "--hmark-spi-mask 0xffff --hmark-spi 7 --hmark-mod 1 --hmark-rnd 5",
                "--hmark-spi-mask 0x0000ffff --hmark-spi 0x00000007 --hmark-rnd 0x00000005 --hmark-mod 1",
            ),
            ("--hmark-tuple s --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1"),
            (
                "--hmark-tuple SRC,d --hmark-mod 1 --hmark-rnd 5",
                "--hmark-src-prefix 32 --hmark-dst-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1",
            ),
            ("--hmark-src-prefix 33 --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1"),
            ("--hmark-src-prefix 0 --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 0 --hmark-rnd 0x00000005 --hmark-mod 1"),
            ("--hmark-src-prefix 255.255.0.0 --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 16 --hmark-rnd 0x00000005 --hmark-mod 1"),
            ("--hmark-src-prefix 255.0.255.0 --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1"),
            ("--hmark-src-prefix 0x10 --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 16 --hmark-rnd 0x00000005 --hmark-mod 1"),
            (
                "--hmark-tuple src --hmark-mod 1 --hmark-rnd 5 --hmark-offset 4294967295",
                "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1 --hmark-offset 4294967295",
            ),
            ("--hmark-proto-mask 65535 --hmark-mod 1 --hmark-rnd 5", "--hmark-proto-mask 0xffff --hmark-rnd 0x00000005 --hmark-mod 1"),
            (
                "--hmark-tuple src --hmark-mod 1 --hmark-rnd 5 --hmark-offset 0",
                "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1 --hmark-offset 0",
            ),
            ("--hmark-tuple src,src --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1"),
            (
                "--hmark-tuple sport,dport,proto --hmark-mod 1 --hmark-rnd 5",
                "--hmark-sport-mask 0xffff --hmark-dport-mask 0xffff --hmark-proto-mask 0xffff --hmark-rnd 0x00000005 --hmark-mod 1",
            ),
            ("--hmark-tuple spi --hmark-mod 1 --hmark-rnd 5", "--hmark-spi-mask 0xffffffff --hmark-rnd 0x00000005 --hmark-mod 1"),
            ("--hmark-src-prefix 8 --hmark-tuple src --hmark-mod 1 --hmark-rnd 5", "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1"),
            (
                "--hmark-tuple ct,src --hmark-mod 1 --hmark-rnd 5",
                "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1 --hmark-tuple ct",
            ),
            ("--hmark-tuple c --hmark-mod 1 --hmark-rnd 5", "--hmark-rnd 0x00000005 --hmark-mod 1 --hmark-tuple ct"),
            ("--hmark-spi-mask 3 --hmark-tuple spi --hmark-mod 1 --hmark-rnd 5", "--hmark-spi-mask 0xffffffff --hmark-rnd 0x00000005 --hmark-mod 1"),
        ] {
            let rule = format!("-A PREROUTING -j HMARK {given}");
            assert_eq!(saved(Ipv4, "mangle", &rule), format!("-A PREROUTING -j HMARK {printed}"), "{given}");
        }
        for (given, printed) in [
            (
                "--hmark-tuple src,dst --hmark-mod 1 --hmark-rnd 5",
                "--hmark-src-prefix 128 --hmark-dst-prefix 128 --hmark-rnd 0x00000005 --hmark-mod 1",
            ),
            (
                "--hmark-src-prefix 64 --hmark-mod 1 --hmark-rnd 5",
                "--hmark-src-prefix 64 --hmark-rnd 0x00000005 --hmark-mod 1",
            ),
            (
                "--hmark-src-prefix ffff:ffff:: --hmark-mod 1 --hmark-rnd 5",
                "--hmark-src-prefix 32 --hmark-rnd 0x00000005 --hmark-mod 1",
            ),
            (
                "--hmark-src-prefix ffff:0:ffff:: --hmark-mod 1 --hmark-rnd 5",
                "--hmark-src-prefix 128 --hmark-rnd 0x00000005 --hmark-mod 1",
            ),
        ] {
            let rule = format!("-A PREROUTING -j HMARK {given}");
            assert_eq!(saved(Ipv6, "mangle", &rule), format!("-A PREROUTING -j HMARK {printed}"), "{given}");
        }
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "mangle", &format!("-A PREROUTING -j HMARK {o}"));
        assert_eq!(
            e("--hmark-tuple src,dst --hmark-mod 10 --hmark-offset 1"),
            (15, "HMARK needs `--hmark-rnd SEED`".into())
        );
        assert_eq!(e("--hmark-tuple src --hmark-rnd 5").1, "HMARK needs `--hmark-mod N`");
        assert_eq!(
            e("--hmark-mod 10 --hmark-rnd 5").1,
            "HMARK needs to know what to hash: give `--hmark-tuple` (or a prefix or mask option)"
        );
        assert_eq!(
            e("--hmark-tuple sport,dport,spi --hmark-mod 10 --hmark-rnd 5").1,
            "HMARK cannot mask the SPI and the ports at the same time"
        );
        assert_eq!(
            e("--hmark-tuple src --hmark-mod 0 --hmark-rnd 5").1,
            "`--hmark-mod` takes a number from 1 to 4294967295, not `0`"
        );
        assert_eq!(
            e("--hmark-tuple src, --hmark-mod 1 --hmark-rnd 5"),
            (38, "`--hmark-tuple` needs a list of kinds without spaces, like src,dst,sport,dport,proto".into())
        );
        assert_eq!(
            e("--hmark-tuple bogus --hmark-mod 1 --hmark-rnd 5").1,
            "`bogus` is not a tuple part (ct, src, dst, sport, dport, proto, spi)"
        );
        assert_eq!(
            e("--hmark-tuple ,src --hmark-mod 1 --hmark-rnd 5").1,
            "`` is not a tuple part (ct, src, dst, sport, dport, proto, spi)"
        );
        assert_eq!(
            e("--hmark-tuple \"\" --hmark-mod 1 --hmark-rnd 5").1,
            "`--hmark-tuple` needs a list of kinds without spaces, like src,dst,sport,dport,proto"
        );
        assert_eq!(
            e("--hmark-tuple src --hmark-src-prefix 8 --hmark-mod 1 --hmark-rnd 5").1,
            "`--hmark-src-prefix` is given more than once"
        );
        assert_eq!(
            e("--hmark-tuple src,spi --hmark-spi-mask 3 --hmark-mod 1 --hmark-rnd 5").1,
            "`--hmark-spi-mask` is given more than once"
        );
        assert_eq!(
            e("--hmark-src-prefix -1 --hmark-mod 1 --hmark-rnd 5").1,
            "`-1` is neither a prefix length (0 to 32) nor a network mask"
        );
        assert_eq!(
            e("--hmark-sport-mask 65536 --hmark-mod 1 --hmark-rnd 5").1,
            "`--hmark-sport-mask` takes a number from 0 to 65535, not `65536`"
        );
        assert_eq!(
            e("--hmark-tuple src --hmark-mod 1 --hmark-rnd 5 ! --hmark-offset 3").1,
            "`--hmark-offset` cannot be negated with `!`"
        );
        assert_eq!(
            e("--hmark-tuple s --hmark-mod 1 --hmark-rnd 5 --hmark-mod 2").1,
            "`--hmark-mod` is given more than once"
        );
        assert!(load(
            Ipv4,
            "mangle",
            "-A PREROUTING -j HMARK --hmark-spi 1 --hmark-sport 2 --hmark-mod 1 --hmark-rnd 5"
        )
        .has_errors());
        assert!(load(Ipv6, "mangle", "-A PREROUTING -j HMARK --hmark-src-prefix 129 --hmark-mod 1 --hmark-rnd 5")
            .has_errors());
    }

    #[test]
    fn the_walk_sets_the_mark_the_hash_gives() {
        let host = "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n";
        let rules = |options: &str| {
            format!(
                "*mangle\n-A PREROUTING -j HMARK {options} --hmark-mod 4 --hmark-offset 100 --hmark-rnd 1\nCOMMIT\n"
            )
        };
        let t = walk(&rules("--hmark-tuple src,dst"), host, "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn");
        let step = t.steps.iter().position(|s| s.target.as_deref() == Some("HMARK")).expect("the rule's step");
        let change = t.changes.iter().find(|c| c.what == "mark").expect("a mark change");
        let h = Hmark {
            src_mask: Some("255.255.255.255".parse().unwrap()),
            dst_mask: Some("255.255.255.255".parse().unwrap()),
            offset: Some(100),
            ..Hmark::new(1, 4)
        };
        let mark = h.mark(&HmarkTuple {
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            proto: 6,
            ports: Some((40000, 22)),
        });
        assert!((100..104).contains(&mark));
        assert_eq!((change.from.as_str(), change.to.clone()), ("0x0", format!("{mark:#x}")));
        assert_eq!(
            t.steps[step].effect.as_deref(),
            Some(format!("HMARK: the hash of the packet's tuple gives mark {mark:#x}; it goes on").as_str())
        );
        assert!(t.assumptions.is_empty());
        // What the packet does not say is assumed: the packet an ICMP error quotes.
        let t = walk(&rules("--hmark-tuple src"), host, "icmp 192.0.2.1 -> 192.0.2.2 type 3 code 1 in eth0");
        assert!(
            t.assumptions.iter().any(|a| a.text.contains("the packet the ICMP error quotes")),
            "{:?}",
            t.assumptions
        );
        // With `ct`, a packet without a connection keeps its mark.
        let t =
            walk(&rules("--hmark-tuple ct,src"), host, "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 ctstate INVALID");
        assert!(t.changes.iter().all(|c| c.what != "mark"), "{:?}", t.changes);
    }
}
