//! `-m multiport`: a list of up to 15 ports and port ranges (`libxt_multiport`, revision 1 of the kernel's
//! `xt_multiport.c`).

use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Negatable, Protocol};
use crate::values::{parse_port_of, PortRange};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The most ports a list may hold (`XT_MULTI_PORTS`); a range takes two.
pub const MAX_PORTS: usize = 15;

/// The options of `-m multiport`: which port of the packet is looked at, and the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Multiport {
    /// `--sports`, `--dports` or `--ports`.
    pub direction: PortDirection,
    /// The ports and ranges in the order given; `!` means the port is in none of them.
    pub ports: Negatable<Vec<PortRange>>,
}

/// Which port of a packet a multiport list is tested against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortDirection {
    /// `--sports`: the source port.
    Source,
    /// `--dports`: the destination port.
    Destination,
    /// `--ports`: either port.
    Either,
}

impl PortDirection {
    /// The option's name as `iptables-save` prints it.
    pub fn option(self) -> &'static str {
        match self {
            PortDirection::Source => "sports",
            PortDirection::Destination => "dports",
            PortDirection::Either => "ports",
        }
    }
}

/// The protocols whose ports the kernel's multiport match can read.
const PROTOCOLS: [Protocol; 5] = [Protocol::TCP, Protocol::UDP, Protocol::UDPLITE, Protocol::SCTP, Protocol::DCCP];

/// Reads `PORT[:PORT],...` as `iptables` does: numbers or service names, a range's first port below its
/// last, at most [`MAX_PORTS`] ports with a range counting two.
/// Service names are those of `proto`, the rule's protocol.
fn parse_list(text: &str, proto: Option<&str>) -> Result<Vec<PortRange>, String> {
    let port = |p: &str| {
        // `strtoul` skips blanks before a number ("22, 80" is read).
        let p = if p.trim_start().starts_with(|c: char| c.is_ascii_digit()) { p.trim_start() } else { p };
        parse_port_of(p, proto).map_err(|_| {
            format!("`{p}` is not a port number (0 to 65535) or a service name of {}", proto.unwrap_or("its protocol"))
        })
    };
    let mut list = Vec::new();
    let mut used = 0;
    for item in text.split(',') {
        let range = match item.split_once(':') {
            None => {
                let p = port(item)?;
                PortRange { min: p, max: p }
            }
            Some((a, b)) => {
                let (min, max) = (port(a)?, port(b)?);
                if min >= max {
                    return Err(format!(
                        "in the port range `{item}` the first port must be lower than the last (write a single port \
                         without `:`)"
                    ));
                }
                PortRange { min, max }
            }
        };
        used += if range.min == range.max { 1 } else { 2 };
        if used > MAX_PORTS {
            return Err(format!("too many ports: a multiport list holds at most {MAX_PORTS}, and a range counts two"));
        }
        list.push(range);
    }
    Ok(list)
}

impl Extension for Multiport {
    const OPTIONS: &'static [OptSpec] = &[
        opt("source-ports", Args::One),
        opt("sports", Args::One),
        opt("destination-ports", Args::One),
        opt("dports", Args::One),
        opt("ports", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Multiport, Diagnostic> {
        let mut found: Option<(PortDirection, &Opt<'_>)> = None;
        for o in opts {
            let direction = match o.name {
                "source-ports" | "sports" => PortDirection::Source,
                "destination-ports" | "dports" => PortDirection::Destination,
                _ => PortDirection::Either,
            };
            if let Some((first, _)) = found {
                let message = if first == direction {
                    format!("`--{}` is given more than once", direction.option())
                } else {
                    "only one of `--sports`, `--dports` and `--ports` may be given".to_string()
                };
                return Err(Diagnostic::error(o.span, message));
            }
            found = Some((direction, o));
        }
        let (direction, o) =
            found.ok_or_else(|| ctx.error("the multiport match needs one of `--sports`, `--dports` or `--ports`"))?;
        let proto = ctx.protocol.and_then(|p| p.value.name());
        let list = o.parse_arg(|t| parse_list(t, proto))?;
        ctx.require_proto("the multiport match", &PROTOCOLS)?;
        Ok(Multiport { direction, ports: Negatable { value: list, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt(out, self.ports.negated, self.direction.option());
        out.push(' ');
        for (i, range) in self.ports.value.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&range.to_string());
        }
    }
}

impl Evaluate for Multiport {
    /// `multiport_mt` in `xt_multiport.c` (revision 1): a later fragment never matches (not even with `!`);
    /// otherwise the packet matches when the chosen port (or either port) is in any item of the list.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no(
                "a later fragment has no transport header, so the multiport match does not match it, `!` or not",
            );
        }
        if crate::packet::ports_unknown(ctx.pkt.l4) {
            return crate::matches::tcp::unknown_ports_outcome();
        }
        let Some((sport, dport)) = ctx.pkt.l4.ports() else {
            return Outcome::no("the packet has no ports");
        };
        let list: Vec<String> = self.ports.value.iter().map(|r| r.to_string()).collect();
        let list = list.join(",");
        let one = self.ports.value.len() == 1 && self.ports.value[0].min == self.ports.value[0].max;
        let listed = |p: u16| self.ports.value.iter().any(|r| r.contains(p));
        let in_list = |key: &str, p: u16| {
            let inside = listed(p);
            (inside, format!("{key}={p} {}", super::conntrack::in_list(inside, &list, one)))
        };
        let (inside, fact) = match self.direction {
            PortDirection::Source => in_list("SPT", sport),
            PortDirection::Destination => in_list("DPT", dport),
            PortDirection::Either => match (listed(sport), listed(dport)) {
                (true, _) => in_list("SPT", sport),
                (false, true) => in_list("DPT", dport),
                (false, false) => (false, format!("neither SPT={sport} nor DPT={dport} is in {list}")),
            },
        };
        conclude(inside, self.ports.negated, fact)
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(family: Family, line: &str) -> String {
        crate::matches::testing::input_saved(family, line)
    }

    /// The first error's column (on line 3) and message.
    fn error(line: &str) -> (u32, String) {
        crate::matches::testing::input_error(Family::Ipv4, line)
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let v4 = Family::Ipv4;
        for same in [
            "-A INPUT -p tcp -m multiport --dports 22,80,443 -j ACCEPT",
            "-A INPUT -p tcp -m multiport --dports 443,80,22,22 -j ACCEPT",
            "-A INPUT -p tcp -m multiport --sports 1024:2048,3000 -j ACCEPT",
            "-A INPUT -p tcp -m multiport ! --ports 22 -j ACCEPT",
            "-A INPUT -p udp -m multiport ! --sports 53",
            "-A INPUT -p sctp -m multiport --dports 2905",
            "-A INPUT -p dccp -m multiport --dports 1,2",
            "-A INPUT -p udplite -m multiport --dports 1",
            "-A INPUT -p tcp -m multiport --dports 0:65535",
            "-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
            "-A INPUT -p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15",
            "-A INPUT -p tcp -m tcp --dport 80 -m multiport --sports 1,2 -j ACCEPT",
            "-A INPUT -p tcp -m multiport --dports 22 -m multiport --sports 80 -j ACCEPT",
        ] {
            assert_eq!(saved(v4, same), same);
        }
        assert_eq!(
            saved(Family::Ipv6, "-A INPUT -p tcp -m multiport --dports 22,80"),
            "-A INPUT -p tcp -m multiport --dports 22,80"
        );
    }

    #[test]
    fn non_canonical_forms() {
        let v4 = Family::Ipv4;
        // Service names, long option names, abbreviations, C numbers, a protocol number.
        assert_eq!(
            saved(v4, "-A INPUT -p 6 -m multiport --destination-ports ssh,http,ftp-data:ssh -j ACCEPT"),
            "-A INPUT -p tcp -m multiport --dports 22,80,20:22 -j ACCEPT"
        );
        assert_eq!(
            saved(v4, "-A INPUT -p tcp -m multiport --source-ports 010,0x10"),
            "-A INPUT -p tcp -m multiport --sports 8,16"
        );
        assert_eq!(
            saved(v4, "-A INPUT -p tcp -m multiport --dport 22,80"),
            "-A INPUT -p tcp -m multiport --dports 22,80"
        );
        assert_eq!(saved(v4, "-A INPUT -p tcp -m multiport --port 22"), "-A INPUT -p tcp -m multiport --ports 22");
        assert_eq!(
            saved(v4, "-A INPUT -p tcp -m multiport --dports \"22, 80\""),
            "-A INPUT -p tcp -m multiport --dports 22,80"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A INPUT -p tcp -m multiport --dports 1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16"),
            (39, "too many ports: a multiport list holds at most 15, and a range counts two".into())
        );
        assert_eq!(
            error("-A INPUT -p tcp -m multiport --dports 80:22").1,
            "in the port range `80:22` the first port must be lower than the last (write a single port without `:`)"
        );
        assert!(error("-A INPUT -p tcp -m multiport --dports 22:22").1.starts_with("in the port range `22:22`"));
        assert_eq!(
            error("-A INPUT -p tcp -m multiport --dports 22,"),
            (39, "`` is not a port number (0 to 65535) or a service name of tcp".into())
        );
        assert_eq!(
            error("-A INPUT -p tcp -m multiport --dports :1024").1,
            error("-A INPUT -p tcp -m multiport --dports 22,").1
        );
        assert!(error("-A INPUT -p tcp -m multiport --dports 70000").1.starts_with("`70000` is not a port number"));
        assert!(error("-A INPUT -p tcp -m multiport --dports SSH").1.starts_with("`SSH` is not a port number"));
        assert!(error("-A INPUT -p tcp -m multiport --dports 1:2:3").1.starts_with("`2:3` is not a port number"));
        assert_eq!(
            error("-A INPUT -p tcp -m multiport --dports 22 --sports 80"),
            (42, "only one of `--sports`, `--dports` and `--ports` may be given".into())
        );
        assert_eq!(
            error("-A INPUT -p tcp -m multiport --dports 22 --destination-ports 80"),
            (42, "`--dports` is given more than once".into())
        );
        assert_eq!(
            error("-A INPUT -p tcp -m multiport -j ACCEPT"),
            (17, "the multiport match needs one of `--sports`, `--dports` or `--ports`".into())
        );
        assert_eq!(
            error("-A INPUT -m multiport --dports 22"),
            (
                10,
                "the multiport match needs the rule to say -p tcp or -p udp or -p udplite or -p sctp or -p dccp".into()
            )
        );
        assert_eq!(error("-A INPUT ! -p tcp -m multiport --dports 22").0, 19);
        assert_eq!(error("-A INPUT -p icmp -m multiport --dports 22").0, 18);
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        const WEB: &str = "tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn";

        fn eval(scene: &Scene, rule: &str) -> Outcome {
            match first_match(Family::Ipv4, rule) {
                MatchKind::Multiport(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn destination_ports() {
            let s = Scene::new(WEB);
            let o = eval(&s, "-p tcp -m multiport --dports 22,80,443");
            assert!(!o.holds);
            assert_eq!(o.why, "DPT=7788 is not in 22,80,443, so this does not hold");
            let o = eval(&s, "-p tcp -m multiport ! --dports 22,80,443");
            assert!(o.holds);
            let o = eval(&s, "-p tcp -m multiport --dports 22,7000:8000");
            assert!(o.holds);
            assert_eq!(o.why, "DPT=7788 is in 22,7000:8000, so this holds");
            assert!(!eval(&s, "-p tcp -m multiport --sports 7788").holds);
        }

        #[test]
        fn either_port() {
            let s = Scene::new(WEB);
            let o = eval(&s, "-p tcp -m multiport --ports 40000,22");
            assert!(o.holds);
            assert_eq!(o.why, "SPT=40000 is in 40000,22, so this holds");
            let o = eval(&s, "-p tcp -m multiport --ports 22,80");
            assert_eq!(o.why, "neither SPT=40000 nor DPT=7788 is in 22,80, so this does not hold");
            assert!(eval(&s, "-p tcp -m multiport ! --ports 22,80").holds);
        }

        #[test]
        fn later_fragments_never_match() {
            let mut frag = Scene::new(WEB);
            frag.pkt.fragment_offset = 3;
            let o = eval(&frag, "-p tcp -m multiport ! --dports 22");
            assert!(!o.holds);
            assert!(o.why.contains("`!` or not"));
        }
    }
}
