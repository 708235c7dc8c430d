//! `-m dccp`: ports, packet types and options of DCCP packets (`libxt_dccp`, the kernel's `xt_dccp.c`).
//! The kernel refuses it without `-p dccp`; `-p dccp --dport N` loads it implicitly.

use super::udp::{parse_port_rc, wrapped_port};
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::{CtDir, CtState};
use crate::ruleset::{Negatable, Protocol};
use crate::values::PortRange;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m dccp`. Port ranges are kept as written, a reversed one matching nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dccp {
    /// `[!] --sport` (`--source-port`).
    pub sport: Option<Negatable<PortRange>>,
    /// `[!] --dport` (`--destination-port`).
    pub dport: Option<Negatable<PortRange>>,
    /// `[!] --dccp-types LIST`: the packet's type is one of these.
    pub types: Option<Negatable<DccpTypes>>,
    /// `[!] --dccp-option N`: the packet carries DCCP option N (1 to 255).
    pub option: Option<Negatable<u8>>,
}

/// A set of DCCP packet types, bit N for type N; `INVALID` is bit 10 and brings the reserved types 11 to 15.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DccpTypes(pub u16);

/// The type names, by number.
const TYPE_NAMES: [&str; 11] =
    ["REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC", "SYNCACK", "INVALID"];

/// The reserved types 11 to 15, which `INVALID` also means.
const OTHER_TYPES: u16 = 0xf800;

impl DccpTypes {
    /// Reads a comma-separated list of type names in any case (empty items are skipped).
    pub fn parse(text: &str) -> Result<DccpTypes, String> {
        let mut bits = 0u16;
        for item in text.split(',').filter(|i| !i.is_empty()) {
            let i = TYPE_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(item))
                .ok_or_else(|| format!("`{item}` is not a DCCP packet type ({})", TYPE_NAMES.join(", ")))?;
            bits |= 1 << i;
        }
        if bits & 1 << 10 != 0 {
            bits |= OTHER_TYPES;
        }
        Ok(DccpTypes(bits))
    }

    /// The names in type order, as `iptables-save` prints them (the reserved types are not printed).
    fn names(self) -> String {
        let names: Vec<&str> =
            TYPE_NAMES.iter().enumerate().filter(|(i, _)| self.0 & 1 << i != 0).map(|(_, n)| *n).collect();
        names.join(",")
    }
}

fn ports(
    opts: &[Opt<'_>],
    short: &str,
    long: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Negatable<PortRange>>, Diagnostic> {
    let mut found = None;
    for o in opts.iter().filter(|o| o.name == short || o.name == long) {
        if found.is_some() {
            return Err(Diagnostic::error(o.span, format!("`--{short}` is given more than once")));
        }
        let range = o.parse_arg(parse_port_rc)?;
        warnings.extend(wrapped_port(o));
        found = Some(Negatable { value: range, negated: o.negated, span: o.span });
    }
    Ok(found)
}

impl Extension for Dccp {
    const OPTIONS: &'static [OptSpec] = &[
        opt("source-port", Args::One),
        opt("sport", Args::One),
        opt("destination-port", Args::One),
        opt("dport", Args::One),
        opt("dccp-types", Args::One),
        opt("dccp-option", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Dccp, Diagnostic> {
        let sport = ports(opts, "sport", "source-port", warnings)?;
        let dport = ports(opts, "dport", "destination-port", warnings)?;
        let types = match find(opts, "dccp-types")? {
            Some(o) => Some(Negatable { value: o.parse_arg(DccpTypes::parse)?, negated: o.negated, span: o.span }),
            None => None,
        };
        let option = match find(opts, "dccp-option")? {
            Some(o) => {
                Some(Negatable { value: crate::values::opt_number(o, 1, 255)? as u8, negated: o.negated, span: o.span })
            }
            None => None,
        };
        ctx.require_proto("the dccp match", &[Protocol::DCCP])?;
        Ok(Dccp { sport, dport, types, option })
    }

    fn save(&self, out: &mut String) {
        for (name, p) in [("sport", &self.sport), ("dport", &self.dport)] {
            if let Some(p) = p {
                save_opt_value(out, p.negated, name, p.value);
            }
        }
        if let Some(t) = &self.types {
            save_opt(out, t.negated, "dccp-types");
            out.push(' ');
            out.push_str(&t.value.names());
        }
        if let Some(o) = &self.option {
            save_opt_value(out, o.negated, "dccp-option", o.value);
        }
    }
}

impl Evaluate for Dccp {
    /// `dccp_mt` in `xt_dccp.c`: later fragments never match; then ports, type and option in turn. The type
    /// of a new connection's first packet is assumed to be REQUEST; other packets' types are unknown to
    /// chainwalk (assumed in the list), as are DCCP options (assumed absent).
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no DCCP header, so the dccp match does not match it");
        }
        let tests_ports = self.sport.is_some() || self.dport.is_some();
        let (sport, dport) = match super::tcp::ports_for(ctx.pkt.l4, 33, tests_ports, "DCCP") {
            Ok(ports) => ports,
            Err(o) => return o,
        };
        let mut why = Vec::new();
        let mut assumed = false;
        for (key, port, range) in [("SPT", sport, &self.sport), ("DPT", dport, &self.dport)] {
            if let Some(r) = range {
                let inside = r.value.contains(port);
                let o = conclude(
                    inside,
                    r.negated,
                    format!("{key}={port} is {}in {}", if inside { "" } else { "not " }, r.value),
                );
                if !o.holds {
                    return o;
                }
                why.push(o.why);
            }
        }
        if let Some(t) = &self.types {
            let first = ctx.ct.state == CtState::New && ctx.ct.dir == CtDir::Original;
            let o = if first {
                // (Conntrack does not check it: since Linux 6.16 it tracks DCCP as a protocol it does not
                // know, and any packet opens a connection.)
                assumed = true;
                let has = t.value.0 & 1 != 0;
                conclude(
                    has,
                    t.negated,
                    format!(
                        "chainwalk assumes the first packet of a new connection is a REQUEST, which is {}in {}",
                        if has { "" } else { "not " },
                        t.value.names()
                    ),
                )
            } else {
                assumed = true;
                Outcome::when(!t.negated, format!("chainwalk assumes the packet's type is in {}", t.value.names()))
            };
            if !o.holds {
                return Outcome { assumed: o.assumed || assumed, ..o };
            }
            why.push(o.why);
        }
        if let Some(opt) = &self.option {
            assumed = true;
            let o = conclude(
                false,
                opt.negated,
                format!("chainwalk assumes the packet carries no DCCP option {}", opt.value),
            );
            if !o.holds {
                return Outcome::assumed(false, o.why);
            }
            why.push(o.why);
        }
        if why.is_empty() {
            why.push("the packet is DCCP".into());
        }
        Outcome { holds: true, why: why.join("; "), assumed }
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("-p dccp --dport 1", "-p dccp -m dccp --dport 1"),
            ("-p dccp --sport 1:2", "-p dccp -m dccp --sport 1:2"),
            ("-p dccp --dccp-types REQUEST,RESPONSE", "-p dccp -m dccp --dccp-types REQUEST,RESPONSE"),
            (
                "-p dccp --dccp-types REQUEST,RESPONSE,DATA,ACK,DATAACK,CLOSEREQ,CLOSE,RESET,SYNC,SYNCACK,INVALID",
                "-p dccp -m dccp --dccp-types REQUEST,RESPONSE,DATA,ACK,DATAACK,CLOSEREQ,CLOSE,RESET,SYNC,SYNCACK,INVALID",
            ),
            ("-p dccp ! --dccp-types RESET", "-p dccp -m dccp ! --dccp-types RESET"),
            ("-p dccp --dccp-option 2", "-p dccp -m dccp --dccp-option 2"),
            ("-p dccp -m dccp", "-p dccp -m dccp"),
            ("-p dccp --dport 0:65535", "-p dccp -m dccp --dport 0:65535"),
            ("-p dccp --dport :10", "-p dccp -m dccp --dport 0:10"),
            ("-p dccp --dport 10:", "-p dccp -m dccp --dport 10:65535"),
            ("-p dccp --dport 20:10", "-p dccp -m dccp --dport 20:10"),
            ("-p dccp --dport ssh", "-p dccp -m dccp --dport 22"),
            ("-p dccp --dport 70000", "-p dccp -m dccp --dport 4464"),
            (
                "-p dccp ! --sport 5 --dccp-types invalid,request --dccp-option 255",
                "-p dccp -m dccp ! --sport 5 --dccp-types REQUEST,INVALID --dccp-option 255",
            ),
            ("-p dccp --dccp-types REQUEST,REQUEST,ack", "-p dccp -m dccp --dccp-types REQUEST,ACK"),
            ("-p dccp --source-port 1", "-p dccp -m dccp --sport 1"),
        ] {
            assert_eq!(saved(Ipv4, "filter", &format!("-A INPUT {given} -j ACCEPT")), format!("-A INPUT {printed} -j ACCEPT"), "{given}");
        }
        // An empty list prints the option with nothing after it.
        assert_eq!(saved(Ipv4, "filter", "-A INPUT -p dccp --dccp-types ,"), "-A INPUT -p dccp -m dccp --dccp-types ");
        assert_eq!(
            saved(Ipv6, "filter", "-A INPUT -p dccp --dport 1 -j ACCEPT"),
            "-A INPUT -p dccp -m dccp --dport 1 -j ACCEPT"
        );
    }

    #[test]
    fn errors() {
        let e = |r: &str| error(Ipv4, "filter", &format!("-A INPUT {r} -j ACCEPT"));
        assert_eq!(
            e("-p dccp --dccp-types BOGUS"),
            (
                31,
                "`BOGUS` is not a DCCP packet type (REQUEST, RESPONSE, DATA, ACK, DATAACK, CLOSEREQ, CLOSE, RESET, SYNC, SYNCACK, INVALID)".into()
            )
        );
        assert_eq!(e("-p dccp --dccp-option 0").1, "`--dccp-option` takes a number from 1 to 255, not `0`");
        assert_eq!(e("-p dccp --dccp-option 256").1, "`--dccp-option` takes a number from 1 to 255, not `256`");
        assert_eq!(e("-m dccp --dport 1"), (10, "the dccp match needs the rule to say -p dccp".into()));
        assert_eq!(e("-p tcp -m dccp --dport 1").1, "the dccp match needs the rule to say -p dccp");
        assert_eq!(e("-p dccp --dport 1 --destination-port 2").1, "`--dport` is given more than once");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-p dccp -m dccp {options}")) {
                MatchKind::Dccp(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn ports_types_options() {
            let s = Scene::new("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=60 PROTO=DCCP SPT=1000 DPT=5001");
            let o = eval(&s, "--dport 5000:5010");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "DPT=5001 is in 5000:5010, so this holds");
            assert!(!eval(&s, "--dport 20:10").holds);
            let o = eval(&s, "--dccp-types REQUEST");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk assumes the first packet of a new connection is a REQUEST, which is in REQUEST, so this holds"
            );
            assert!(!eval(&s, "--dccp-types DATA").holds);
            let o = eval(&s, "--dccp-option 2");
            assert!(!o.holds && o.assumed);
            assert!(eval(&s, "! --dccp-option 2").holds);
        }
    }
}
