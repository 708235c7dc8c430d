//! The IPsec header matches: `-m esp --espspi` (`libxt_esp`, the kernel's `xt_esp.c`) and `-m ah --ahspi`
//! (`libipt_ah` / `ipt_ah.c` for IPv4; `libip6t_ah` / `ip6t_ah.c` for IPv6, which also has `--ahlen` and
//! `--ahres`), by the Security Parameter Index of the packet's ESP or AH header.
//!
//! The kernel refuses esp without `-p esp`, and IPv4's ah without `-p ah`; IPv6's ah looks for the AH
//! extension header in any packet.

use super::length::parse_uint_range;
use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Negatable, Protocol};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};

/// ESP's IP protocol number.
pub const ESP: Protocol = Protocol(50);
/// AH's IP protocol number.
pub const AH: Protocol = Protocol(51);
/// IPComp's IP protocol number.
pub const IPCOMP: Protocol = Protocol(108);

/// A range of SPIs as the kernel holds it; a reversed range is kept (and matches nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SpiRange {
    /// The first SPI.
    pub min: u32,
    /// The last SPI.
    pub max: u32,
}

impl SpiRange {
    /// Every SPI: what the match tests when no SPI option is given.
    pub const ALL: SpiRange = SpiRange { min: 0, max: u32::MAX };
}

impl fmt::Display for SpiRange {
    /// `SPI` or `MIN:MAX`, decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}:{}", self.min, self.max)
        }
    }
}

/// Reads an SPI option (`XTTYPE_UINT32RC`): `SPI`, `MIN:MAX`, `:MAX`, `MIN:`, numbers in C notation.
fn spi_opt(o: Option<&Opt<'_>>) -> Result<Negatable<SpiRange>, Diagnostic> {
    let Some(o) = o else {
        return Ok(Negatable { value: SpiRange::ALL, negated: false, span: crate::span::Span::default() });
    };
    let (min, max) = o.parse_arg(|t| parse_uint_range(t, u64::from(u32::MAX)))?;
    Ok(Negatable { value: SpiRange { min: min as u32, max: max as u32 }, negated: o.negated, span: o.span })
}

/// Prints an SPI option unless it covers every SPI (which `iptables-save` leaves out, `!` or not).
fn save_spis(out: &mut String, name: &str, spis: &Negatable<SpiRange>) {
    if spis.value != SpiRange::ALL {
        save_opt(out, spis.negated, name);
        let _ = write!(out, " {}", spis.value);
    }
}

/// Tests the header's SPI (`spi_match` in `xt_esp.c` and `ipt_ah.c`): `spi`, the packet's, when the packet
/// gives it (`SPI=`); otherwise a full range holds for any, a reversed one for none, and anything else is
/// assumed to hold.
fn eval_spis(header: &str, spis: &Negatable<SpiRange>, spi: Option<u32>) -> Outcome {
    let r = spis.value;
    if let Some(spi) = spi {
        let inside = (r.min..=r.max).contains(&spi);
        let why = format!("its SPI 0x{spi:x} ({spi}) is {}in {r}", if inside { "" } else { "not " });
        return conclude(inside, spis.negated, why);
    }
    if r == SpiRange::ALL {
        return conclude(true, spis.negated, format!("every SPI is in {r}"));
    }
    if r.min > r.max {
        return conclude(false, spis.negated, format!("no SPI is in the reversed range {r}"));
    }
    let holds = !spis.negated;
    let hint = if header == "IPComp" { "" } else { " (give the packet's `SPI=`)" };
    Outcome::assumed(
        holds,
        format!(
            "chainwalk does not know the {header} header's SPI and assumes it is in {r}, so this {}{hint}",
            if holds { "holds" } else { "does not hold" }
        ),
    )
}

/// The options of `-m esp`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Esp {
    /// `[!] --espspi SPI[:SPI]`.
    pub spis: Negatable<SpiRange>,
}

impl Extension for Esp {
    const OPTIONS: &'static [OptSpec] = &[opt("espspi", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Esp, Diagnostic> {
        let spis = spi_opt(find(opts, "espspi")?)?;
        ctx.require_proto("the esp match", &[ESP])?;
        Ok(Esp { spis })
    }

    fn save(&self, out: &mut String) {
        save_spis(out, "espspi", &self.spis);
    }
}

impl Evaluate for Esp {
    /// `esp_mt` in `xt_esp.c`: later fragments never match; otherwise the SPI is tested.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no ESP header, so the esp match does not match it");
        }
        if ctx.pkt.l4.proto() != ESP.0 {
            return Outcome::no("the packet is not ESP");
        }
        eval_spis("ESP", &self.spis, ctx.pkt.spi)
    }
}

/// The options of `-m ah`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ah {
    /// `[!] --ahspi SPI[:SPI]`.
    pub spis: Negatable<SpiRange>,
    /// `[!] --ahlen N` (IPv6 only): the AH header's length in bytes; 0 means any.
    pub len: Negatable<u32>,
    /// `--ahres` (IPv6 only): the header's reserved field must be zero.
    pub res: bool,
}

impl Extension for Ah {
    const OPTIONS: &'static [OptSpec] = &[opt("ahspi", Args::One), opt("ahlen", Args::One), opt("ahres", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ah, Diagnostic> {
        let spis = spi_opt(find(opts, "ahspi")?)?;
        let (len, res) = (find(opts, "ahlen")?, find(opts, "ahres")?);
        if ctx.family == Family::Ipv4 {
            if let Some(o) = len.or(res) {
                return Err(Diagnostic::error(o.span, format!("unknown option `--{}`: iptables' ah match has only `--ahspi` (ip6tables' has `--ahlen` and `--ahres`)", o.name)));
            }
            ctx.require_proto("the ah match", &[AH])?;
        }
        if let Some(r) = res {
            r.no_negation()?;
        }
        let len = match len {
            Some(o) => Negatable {
                value: crate::values::opt_number(o, 0, u64::from(u32::MAX))? as u32,
                negated: o.negated,
                span: o.span,
            },
            None => Negatable { value: 0, negated: false, span: crate::span::Span::default() },
        };
        Ok(Ah { spis, len, res: flag(opts, "ahres")? })
    }

    fn save(&self, out: &mut String) {
        save_spis(out, "ahspi", &self.spis);
        if self.len.value != 0 || self.len.negated {
            save_opt(out, self.len.negated, "ahlen");
            let _ = write!(out, " {}", self.len.value);
        }
        if self.res {
            out.push_str(" --ahres");
        }
    }
}

impl Evaluate for Ah {
    /// `ah_mt` in `ipt_ah.c` (the packet is AH, not a later fragment) or `ah_mt6` in `ip6t_ah.c` (the packet
    /// has an AH header; chainwalk's IPv6 packets have one when AH is their next header): the SPI, then the
    /// header length, which chainwalk does not know (assumed to be the one asked for), then the reserved field
    /// (assumed zero, as senders set it).
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.family() == Family::Ipv4 && ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no AH header, so the ah match does not match it");
        }
        if ctx.pkt.l4.proto() != AH.0 {
            return Outcome::no("the packet has no AH header");
        }
        let spi = eval_spis("AH", &self.spis, ctx.pkt.spi);
        if !spi.holds || (self.len.value == 0 && !self.len.negated && !self.res) {
            return spi;
        }
        let mut why = vec![spi.why];
        if self.len.value != 0 || self.len.negated {
            let holds = !self.len.negated;
            if !holds {
                return Outcome::assumed(
                    false,
                    format!("chainwalk assumes the AH header is {} bytes long, so this does not hold", self.len.value),
                );
            }
            why.push(format!("chainwalk assumes the AH header is {} bytes long", self.len.value));
        }
        if self.res {
            why.push("chainwalk assumes its reserved field is zero".into());
        }
        Outcome::assumed(true, why.join("; "))
    }
}

/// The options of `-m ipcomp` (`libxt_ipcomp`, the kernel's `xt_ipcomp.c`): the Compression Parameter
/// Index of an IPComp header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ipcomp {
    /// `[!] --ipcompspi SPI[:SPI]`.
    pub spis: Negatable<SpiRange>,
    /// `--compres`: the header's flags must be zero.
    pub res: bool,
}

impl Extension for Ipcomp {
    const OPTIONS: &'static [OptSpec] = &[opt("ipcompspi", Args::One), opt("compres", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ipcomp, Diagnostic> {
        let spis = spi_opt(find(opts, "ipcompspi")?)?;
        if let Some(o) = find(opts, "compres")? {
            o.no_negation()?;
        }
        let res = flag(opts, "compres")?;
        ctx.require_proto("the ipcomp match", &[IPCOMP])?;
        Ok(Ipcomp { spis, res })
    }

    fn save(&self, out: &mut String) {
        save_spis(out, "ipcompspi", &self.spis);
        if self.res {
            out.push_str(" --compres");
        }
    }
}

impl Evaluate for Ipcomp {
    /// `comp_mt` in `xt_ipcomp.c`: later fragments never match; otherwise the CPI is tested, and with
    /// `--compres` the flags (assumed zero, as senders set them).
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no IPComp header, so the ipcomp match does not match it");
        }
        if ctx.pkt.l4.proto() != IPCOMP.0 {
            return Outcome::no("the packet is not IPComp");
        }
        let spi = eval_spis("IPComp", &self.spis, None);
        if self.res && spi.holds {
            return Outcome::assumed(true, format!("{}; chainwalk assumes the header's flags are zero", spi.why));
        }
        spi
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn esp_prints_back_as_iptables_save() {
        for (given, printed) in [
            ("-p esp -m esp --espspi 100", "-p esp -m esp --espspi 100"),
            ("-p esp -m esp --espspi 100:200", "-p esp -m esp --espspi 100:200"),
            ("-p esp -m esp ! --espspi 0x10", "-p esp -m esp ! --espspi 16"),
            ("-p esp --espspi 1", "-p esp -m esp --espspi 1"),
            ("-p 50 --espspi 1", "-p esp -m esp --espspi 1"),
            ("-p esp -m esp --espspi 4294967295", "-p esp -m esp --espspi 4294967295"),
            ("-p esp -m esp --espspi 200:100", "-p esp -m esp --espspi 200:100"),
            ("-p esp -m esp", "-p esp -m esp"),
            ("-p esp -m esp --espspi 0:4294967295", "-p esp -m esp"),
            ("-p esp -m esp ! --espspi 0:4294967295", "-p esp -m esp"),
            ("-p esp -m esp --espspi :5", "-p esp -m esp --espspi 0:5"),
            ("-p esp -m esp --espspi 5:", "-p esp -m esp --espspi 5:4294967295"),
            ("-p esp -m esp --espspi \"\"", "-p esp -m esp --espspi 0"),
        ] {
            assert_eq!(
                saved(Ipv4, "filter", &format!("-A INPUT {given} -j ACCEPT")),
                format!("-A INPUT {printed} -j ACCEPT")
            );
        }
        assert_eq!(saved(Ipv6, "filter", "-A INPUT -p esp --espspi 1"), "-A INPUT -p esp -m esp --espspi 1");
    }

    #[test]
    fn ah_prints_back_as_iptables_save() {
        for (given, printed) in [
            ("-p ah -m ah --ahspi 100", "-p ah -m ah --ahspi 100"),
            ("-p ah -m ah --ahspi 1:2", "-p ah -m ah --ahspi 1:2"),
            ("-p ah -m ah ! --ahspi 5", "-p ah -m ah ! --ahspi 5"),
            ("-p ah --ahspi 5", "-p ah -m ah --ahspi 5"),
            ("-p 51 -m ah --ahspi 5", "-p ah -m ah --ahspi 5"),
            ("-p ah -m ah ! --ahspi 0:4294967295", "-p ah -m ah"),
            ("-p ah -m ah --ahspi 3:1", "-p ah -m ah --ahspi 3:1"),
        ] {
            assert_eq!(
                saved(Ipv4, "filter", &format!("-A INPUT {given} -j ACCEPT")),
                format!("-A INPUT {printed} -j ACCEPT")
            );
        }
        for (given, printed) in [
            ("-m ah --ahspi 1 --ahlen 10 --ahres", "-m ah --ahspi 1 --ahlen 10 --ahres"),
            ("-p ah -m ah --ahspi 1", "-p ah -m ah --ahspi 1"),
            ("-p ah --ahspi 1", "-p ah -m ah --ahspi 1"),
            ("-m ah ! --ahlen 0", "-m ah ! --ahlen 0"),
            ("-m ah --ahlen 0", "-m ah"),
            ("-m ah --ahres --ahspi 5:3", "-m ah --ahspi 5:3 --ahres"),
            ("-m ah --ahlen 0x10", "-m ah --ahlen 16"),
            ("-p tcp -m ah --ahspi 1", "-p tcp -m ah --ahspi 1"),
        ] {
            assert_eq!(
                saved(Ipv6, "filter", &format!("-A INPUT {given} -j DROP")),
                format!("-A INPUT {printed} -j DROP")
            );
        }
    }

    #[test]
    fn errors() {
        let e = |r: &str| error(Ipv4, "filter", &format!("-A INPUT {r} -j ACCEPT"));
        assert_eq!(e("-m esp --espspi 1"), (10, "the esp match needs the rule to say -p esp".into()));
        assert_eq!(
            e("-p esp -m esp --espspi 4294967296"),
            (33, "`4294967296` is not a number from 0 to 4294967295".into())
        );
        assert_eq!(
            e("-p esp -m esp --espspi 1:2:3").1,
            "`1:2:3` has more than two numbers; a range is written `MIN:MAX`"
        );
        assert_eq!(e("-p esp -m esp --espspi -1").1, "`-1` is not a number from 0 to 4294967295");
        assert_eq!(e("-m ah --ahspi 5"), (10, "the ah match needs the rule to say -p ah".into()));
        assert_eq!(
            e("-p ah -m ah --ahlen 5"),
            (22, "unknown option `--ahlen`: iptables' ah match has only `--ahspi` (ip6tables' has `--ahlen` and `--ahres`)".into())
        );
        assert_eq!(
            error(Ipv6, "filter", "-A INPUT -m esp --espspi 1"),
            (10, "the esp match needs the rule to say -p esp".into())
        );
        assert_eq!(error(Ipv6, "filter", "-A INPUT -m ah ! --ahres").1, "`--ahres` cannot be negated with `!`");
        assert_eq!(error(Ipv6, "filter", "-A INPUT -m ah --ahres --ahres").1, "`--ahres` is given more than once");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(family: Family, scene: &Scene, rule: &str) -> Outcome {
            match first_match(family, rule) {
                MatchKind::Esp(m) => m.eval(&scene.ctx()),
                MatchKind::Ah(m) => m.eval(&scene.ctx()),
                MatchKind::Ipcomp(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn spis_are_assumed_in_range() {
            let esp = Scene::new("50 192.0.2.1 -> 192.0.2.2 in eth0");
            let o = eval(Family::Ipv4, &esp, "-p esp -m esp --espspi 100:200");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk does not know the ESP header's SPI and assumes it is in 100:200, so this holds (give the \
                 packet's `SPI=`)"
            );
            assert!(!eval(Family::Ipv4, &esp, "-p esp -m esp ! --espspi 100").holds);
            let o = eval(Family::Ipv4, &esp, "-p esp -m esp --espspi 200:100");
            assert!(!o.holds && !o.assumed);
            assert!(eval(Family::Ipv4, &esp, "-p esp -m esp").holds);
            let tcp = Scene::new("tcp [2001:db8::1]:1 -> [2001:db8::2]:2 in eth0 syn");
            assert!(!eval(Family::Ipv6, &tcp, "-m ah").holds);
            let ah6 = Scene::new("51 2001:db8::1 -> 2001:db8::2 in eth0");
            let o = eval(Family::Ipv6, &ah6, "-m ah --ahlen 24 --ahres");
            assert!(o.holds && o.assumed);
            assert!(!eval(Family::Ipv6, &ah6, "-m ah ! --ahlen 24").holds);
            let comp = Scene::new("108 192.0.2.1 -> 192.0.2.2 in eth0");
            let o = eval(Family::Ipv4, &comp, "-p ipcomp -m ipcomp --ipcompspi 5 --compres");
            assert!(o.holds && o.assumed, "{o:?}");
            assert!(!eval(Family::Ipv4, &esp, "-p ipcomp -m ipcomp").holds);
        }

        #[test]
        fn a_known_spi_is_tested() {
            let esp = Scene::new("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=ESP SPI=0x64");
            let o = eval(Family::Ipv4, &esp, "-p esp -m esp --espspi 100:200");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "its SPI 0x64 (100) is in 100:200, so this holds");
            let o = eval(Family::Ipv4, &esp, "-p esp -m esp ! --espspi 100");
            assert!(!o.holds && !o.assumed);
            assert!(!eval(Family::Ipv4, &esp, "-p esp -m esp --espspi 200:100").holds);
            assert!(eval(Family::Ipv4, &esp, "-p esp -m esp ! --espspi 200:100").holds);
            let ah = Scene::new("ah 192.0.2.1 -> 192.0.2.2 in eth0 spi 7");
            let o = eval(Family::Ipv4, &ah, "-p ah -m ah --ahspi 8:9");
            assert!(!o.holds && !o.assumed);
            let esp6 = Scene::new("IN=eth0 OUT= SRC=2001:db8::1 DST=2001:db8::2 OPT ( ESP SPI=0x5 )");
            assert!(eval(Family::Ipv6, &esp6, "-p esp -m esp --espspi 5").holds);
        }
    }
}
