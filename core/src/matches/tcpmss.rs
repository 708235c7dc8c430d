//! `-m tcpmss --mss N[:M]`: the Maximum Segment Size option of TCP SYN segments (`libxt_tcpmss`, the
//! kernel's `xt_tcpmss.c`). A segment without the option does not match.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::L4;
use crate::ruleset::{Negatable, Protocol};
use crate::values::NumRange;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m tcpmss`. The kernel refuses the match unless the rule says `-p tcp` (not negated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TcpMss {
    /// `--mss`: the range the MSS value must be in.
    pub mss: Negatable<NumRange>,
}

impl Extension for TcpMss {
    const OPTIONS: &'static [OptSpec] = &[opt("mss", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<TcpMss, Diagnostic> {
        let o = find(opts, "mss")?.ok_or_else(|| ctx.error("the tcpmss match needs `--mss VALUE[:VALUE]`"))?;
        let range = o.parse_arg(|t| {
            if t.split(':').count() > 2 {
                return Err(format!("`{t}` has more than two parts; write `MIN:MAX`"));
            }
            NumRange::parse(t, u32::from(u16::MAX)).map_err(|m| format!("`--mss`: {m}"))
        })?;
        ctx.require_proto("the tcpmss match", &[Protocol::TCP])?;
        Ok(TcpMss { mss: Negatable { value: range, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.mss.negated, "mss", self.mss.value);
    }
}

/// The MSS a sender usually writes in its SYN, and the MTU it comes from: an Ethernet MTU of 1500, or
/// the loopback's 65536 (where Linux writes one less for IPv4).
/// The value of the MSS option in TCP options `opts`, read as `tcpmss_mt` in `xt_tcpmss.c` reads them: the
/// first option of kind 2 and length 4 that fits, the others stepped over as `tcp_find_option` does.
pub(crate) fn mss_option(opts: &[u8]) -> Option<u16> {
    let mut i = 0;
    while i < opts.len() {
        if opts[i] == 2 && opts.len() - i >= 4 && opts[i + 1] == 4 {
            return Some(u16::from_be_bytes([opts[i + 2], opts[i + 3]]));
        }
        i += super::tcp::option_len(opts, i);
    }
    None
}

pub(crate) fn usual_mss(v6: bool, lo: bool) -> (u16, u32) {
    match (lo, v6) {
        (false, false) => (1460, 1500),
        (false, true) => (1440, 1500),
        (true, false) => (65495, 65536),
        (true, true) => (65476, 65536),
    }
}

/// The largest MSS that fits `mtu`: less 40 bytes of IPv4 and TCP headers, or 60 of IPv6 and TCP.
pub(crate) fn mss_for_mtu(v6: bool, mtu: u32) -> u16 {
    (mtu - if v6 { 60 } else { 40 }).min(u32::from(u16::MAX)) as u16
}

impl Evaluate for TcpMss {
    /// `tcpmss_mt` in `xt_tcpmss.c` reads the MSS option of the TCP header; a segment without it matches only
    /// negated. Only SYNs carry the option, and the packet model does not have its value: chainwalk assumes a
    /// SYN's MSS is what Linux sends for a 1500-byte MTU (1460 for IPv4, 1440 for IPv6), or for the loopback
    /// interface's 65536 (65495, 65476).
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let test = &self.mss;
        let L4::Tcp { flags, .. } = ctx.pkt.l4 else {
            return Outcome::no("the packet is not TCP, so it has no MSS option");
        };
        if ctx.is_later_fragment() {
            let fact = "a later fragment has no TCP header, and chainwalk assumes the bytes the kernel reads as one \
                        carry no MSS option";
            let o = conclude(false, test.negated, fact.to_string());
            return Outcome::assumed(o.holds, o.why);
        }
        if let Some(mss) = ctx.pkt.mss {
            let inside = test.value.contains(u32::from(mss));
            let fact = format!(
                "TCPMSS set the SYN's MSS to {mss} earlier in this walk, which {} --mss {}",
                if inside { "is in" } else { "is not in" },
                test.value
            );
            return conclude(inside, test.negated, fact);
        }
        if let Some(opts) = ctx.pkt.known_tcp_options() {
            let fact = match mss_option(opts) {
                Some(mss) => {
                    let inside = test.value.contains(u32::from(mss));
                    let verdict = if inside { "is in" } else { "is not in" };
                    return conclude(
                        inside,
                        test.negated,
                        format!("the MSS option is {mss}, which {verdict} --mss {}", test.value),
                    );
                }
                None if opts.is_empty() => "the segment has no TCP options, so no MSS option".to_string(),
                None => "the segment's TCP options have no MSS option".to_string(),
            };
            return conclude(false, test.negated, fact);
        }
        if flags.0 & 0x02 == 0 {
            let fact = "the packet is not a SYN, so it carries no MSS option".to_string();
            return conclude(false, test.negated, fact);
        }
        let lo = ctx.in_iface == Some("lo") || ctx.out_iface == Some("lo");
        let (mss, mtu) = usual_mss(ctx.pkt.dst.is_ipv6(), lo);
        let inside = test.value.contains(u32::from(mss));
        let fact = format!(
            "the packet model has no TCP options, and chainwalk assumes the SYN's MSS is {mss} (an MTU of {mtu}; set \
             it by hand for another), which {} --mss {}",
            if inside { "is in" } else { "is not in" },
            test.value
        );
        let o = conclude(inside, test.negated, fact);
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*mangle\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A FORWARD");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("FORWARD").unwrap().rules[0], &mut out);
        out
    }

    /// The first error's column (on line 2) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "-A FORWARD -p tcp -m tcpmss --mss 1400 -j DROP",
            "-A FORWARD -p tcp -m tcpmss --mss 1000:1500 -j DROP",
            "-A FORWARD -p tcp -m tcpmss ! --mss 1000:1500 -j DROP",
            "-A FORWARD -p tcp -m tcpmss --mss 65535 -j DROP",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them.
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss :1500"), "-A FORWARD -p tcp -m tcpmss --mss 0:1500");
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss 1000:"), "-A FORWARD -p tcp -m tcpmss --mss 1000:65535");
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss 0x10"), "-A FORWARD -p tcp -m tcpmss --mss 16");
        assert_eq!(saved("-A FORWARD -p tcp -m tcpmss --mss 5:5"), "-A FORWARD -p tcp -m tcpmss --mss 5");
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A FORWARD -p tcp -m tcpmss --mss 1500:1000 -j DROP"),
            (35, "`--mss`: range `1500:1000` is reversed".into())
        );
        assert_eq!(error("-A FORWARD -p tcp -m tcpmss --mss 65536").0, 35);
        assert_eq!(
            error("-A FORWARD -p tcp -m tcpmss --mss 1:2:3").1,
            "`1:2:3` has more than two parts; write `MIN:MAX`"
        );
        assert_eq!(
            error("-A FORWARD -p tcp -m tcpmss -j DROP"),
            (19, "the tcpmss match needs `--mss VALUE[:VALUE]`".into())
        );
        // The kernel refuses it without `-p tcp`.
        assert_eq!(error("-A FORWARD -m tcpmss --mss 1400").1, "the tcpmss match needs the rule to say -p tcp");
        assert_eq!(error("-A FORWARD ! -p tcp -m tcpmss --mss 1400").0, 21);
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(scene.pkt.family(), &format!("-p tcp -m tcpmss {options}")) {
                MatchKind::TcpMss(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn a_syn_is_assumed_to_carry_the_usual_mss() {
            let syn = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:80 in eth0 syn");
            let o = eval(&syn, "--mss 1400:1500");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "the packet model has no TCP options, and chainwalk assumes the SYN's MSS is 1460 (an MTU of 1500; \
                 set it by hand for another), which is in --mss 1400:1500, so this holds"
            );
            let o = eval(&syn, "! --mss 1460");
            assert!(!o.holds && o.assumed);
            let v6 = Scene::new("tcp [2001:db8::7]:40000 -> [2001:db8::2]:80 in eth0 syn");
            let o = eval(&v6, "--mss 1441:65535");
            assert!(!o.holds && o.assumed);
            assert!(o.why.contains("the SYN's MSS is 1440"), "{}", o.why);
            let lo = Scene::new("tcp 127.0.0.1:40000 -> 127.0.0.1:80 in lo syn");
            assert!(eval(&lo, "--mss 65495").holds);
        }

        #[test]
        fn other_segments_have_no_mss() {
            let ack = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:80 in eth0 ack");
            let o = eval(&ack, "--mss 1:65535");
            assert!(!o.holds && !o.assumed);
            assert_eq!(o.why, "the packet is not a SYN, so it carries no MSS option, so this does not hold");
            assert!(eval(&ack, "! --mss 1460").holds);
        }
    }

    #[test]
    fn the_mss_option_is_found_as_tcpmss_mt_finds_it() {
        use super::mss_option;
        assert_eq!(mss_option(&[1, 1, 2, 4, 2, 0x18]), Some(536));
        assert_eq!(mss_option(&[2, 4, 5]), None);
        // A kind 2 of length 3 is stepped over by its length, and what follows is then misread, as the
        // kernel misreads it.
        assert_eq!(mss_option(&[2, 3, 5, 0xb4, 2, 4, 5, 0xb4]), None);
        assert_eq!(mss_option(&[2, 3, 5, 2, 4, 5, 0xb4]), Some(1460));
        assert_eq!(mss_option(&[8, 10, 2, 4, 5, 0xb4, 0, 0, 0, 0]), None);
    }
}
