//! `-m mac --mac-source`: the Ethernet source address of a received frame (`libxt_mac`, the kernel's
//! `xt_mac.c`). The kernel allows it only where a frame was received: PREROUTING, INPUT and FORWARD
//! (checked when the table is complete, by `validate`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The options of `-m mac`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mac {
    /// `--mac-source`.
    pub source: Negatable<MacAddr>,
}

/// An Ethernet (MAC) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Reads six parts separated by `:` as `iptables` does: each part is up to two hex digits, and an
    /// empty part is 0 (`00::22:33:44:55` is read).
    pub fn parse(text: &str) -> Result<MacAddr, String> {
        let bad = || {
            format!("`{text}` is not a MAC address: write six hex bytes separated by colons, like 00:11:22:33:44:55")
        };
        let parts: Vec<&str> = text.split(':').collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut bytes = [0u8; 6];
        for (byte, part) in bytes.iter_mut().zip(&parts) {
            if part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            if !part.is_empty() {
                *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
            }
        }
        Ok(MacAddr(bytes))
    }
}

impl fmt::Display for MacAddr {
    /// Lower-case hex bytes with two digits each, as `iptables-save` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl Extension for Mac {
    const OPTIONS: &'static [OptSpec] = &[opt("mac-source", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Mac, Diagnostic> {
        let o = find(opts, "mac-source")?.ok_or_else(|| ctx.error("the mac match needs `--mac-source ADDRESS`"))?;
        let mac = o.parse_arg(MacAddr::parse)?;
        Ok(Mac { source: Negatable { value: mac, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.source.negated, "mac-source", self.source.value);
    }
}

impl Evaluate for Mac {
    /// `mac_mt` in `xt_mac.c`: a frame that did not come from an Ethernet device (loopback, ppp, tun) never
    /// matches, not even with `!`; otherwise its Ethernet source address is compared.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.in_iface == Some("lo") {
            return Outcome::no("lo is not an Ethernet device, so the mac match does not match, `!` or not");
        }
        let Some(mac) = ctx.pkt.mac_src else {
            return Outcome::assumed(
                false,
                "the packet's source MAC address is unknown, so chainwalk assumes this does not hold; give it as \
                 `MAC=` in the log line",
            );
        };
        let mac = MacAddr(mac);
        let is = mac == self.source.value;
        let fact = format!("the source MAC {mac} {} {}", if is { "is" } else { "is not" }, self.source.value);
        conclude(is, self.source.negated, fact)
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{line}\nCOMMIT\n"), Some(family))
    }

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        let p = parsed(family, line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A INPUT");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chains[0].rules[0], &mut out);
        out
    }

    /// The first error's column (on line 4) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(Family::Ipv4, line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 4);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // What iptables-save 1.8.9 printed after `--mac-source GIVEN`.
        let cases = [
            ("00:11:22:33:44:55", "00:11:22:33:44:55"),
            ("00:11:22:33:44:AA", "00:11:22:33:44:aa"),
            ("Aa:bB:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"),
            ("00:11:22:33:44:5", "00:11:22:33:44:05"),
            ("00:11:22:33:44:", "00:11:22:33:44:00"),
            ("00::22:33:44:55", "00:00:22:33:44:55"),
        ];
        for (given, printed) in cases {
            assert_eq!(
                saved(Family::Ipv4, &format!("-A INPUT -m mac --mac-source {given}")),
                format!("-A INPUT -m mac --mac-source {printed}")
            );
        }
        assert_eq!(
            saved(Family::Ipv6, "-A INPUT -m mac ! --mac-source 00:11:22:33:44:55"),
            "-A INPUT -m mac ! --mac-source 00:11:22:33:44:55"
        );
    }

    #[test]
    fn non_canonical_forms() {
        // One-digit bytes, upper case, an abbreviated option.
        assert_eq!(
            saved(Family::Ipv4, "-A INPUT -m mac --mac 0:1:2:3:4:AB -j DROP"),
            "-A INPUT -m mac --mac-source 00:01:02:03:04:ab -j DROP"
        );
    }

    #[test]
    fn errors() {
        let message = |mac: &str| {
            format!("`{mac}` is not a MAC address: write six hex bytes separated by colons, like 00:11:22:33:44:55")
        };
        assert_eq!(error("-A INPUT -m mac --mac-source XX:XX:XX:XX:XX:XX"), (30, message("XX:XX:XX:XX:XX:XX")));
        for bad in [
            "00:11:22:33:44",
            "00:11:22:33:44:55:66",
            "00-11-22-33-44-55",
            "001:11:22:33:44:55",
            "0x0:11:22:33:44:55",
            "\"\"",
        ] {
            let shown = if bad == "\"\"" { "" } else { bad };
            assert_eq!(error(&format!("-A INPUT -m mac --mac-source {bad}")).1, message(shown));
        }
        assert_eq!(error("-A INPUT -m mac -j ACCEPT"), (10, "the mac match needs `--mac-source ADDRESS`".into()));
    }

    #[test]
    fn refused_in_output_when_the_table_is_checked() {
        let p = parsed(Family::Ipv4, "-A OUTPUT -m mac --mac-source 00:11:22:33:44:55");
        let e = p.errors().next().expect("the kernel refuses mac in OUTPUT");
        assert_eq!((e.span.line, e.span.col), (4, 11));
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m mac {options}")) {
                MatchKind::Mac(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn source_address() {
            let s = Scene::new(
                "IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=192.0.2.1 DST=192.0.2.2 PROTO=UDP \
                 SPT=1 DPT=2",
            );
            let o = eval(&s, "--mac-source 66:77:88:99:AA:BB");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "the source MAC 66:77:88:99:aa:bb is 66:77:88:99:aa:bb, so this holds");
            let o = eval(&s, "--mac-source 00:11:22:33:44:55");
            assert!(!o.holds);
            assert_eq!(o.why, "the source MAC 66:77:88:99:aa:bb is not 00:11:22:33:44:55, so this does not hold");
            assert!(eval(&s, "! --mac-source 00:11:22:33:44:55").holds);
        }

        #[test]
        fn unknown_mac_is_assumed_not_to_match() {
            let s = Scene::new("udp 192.0.2.1:1 -> 192.0.2.2:2 in eth0");
            for options in ["--mac-source 00:11:22:33:44:55", "! --mac-source 00:11:22:33:44:55"] {
                let o = eval(&s, options);
                assert!(!o.holds && o.assumed);
                assert!(o.why.contains("`MAC=` in the log line"));
            }
            let lo = Scene::new("udp 127.0.0.1:1 -> 127.0.0.1:2 in lo");
            let o = eval(&lo, "! --mac-source 00:11:22:33:44:55");
            assert!(!o.holds && !o.assumed);
        }
    }
}
