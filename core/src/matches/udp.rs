//! `-m udp`: source and destination ports of UDP datagrams (`libxt_udp`, the kernel's `xt_tcpudp.c`).
//!
//! Its ports are read differently from `-m tcp`'s: through the C library's service lookup, so only decimal
//! numbers, taken modulo 65536, and a reversed range is kept. Conntrack's port options read ports the same
//! way and use [`parse_port_rc`].

use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::L4;
use crate::ruleset::{Negatable, Protocol};
use crate::values::{parse_port, PortRange};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m udp`. The kernel refuses the match unless the rule says `-p udp` (not negated).
/// A range of `0:65535` is the same as none, and a reversed range matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Udp {
    /// `--sport` (`--source-port`).
    pub sport: Option<Negatable<PortRange>>,
    /// `--dport` (`--destination-port`).
    pub dport: Option<Negatable<PortRange>>,
}

/// Reads one port as the C library's service lookup does: a number as `strtoul` reads it in base 10
/// (after blanks, one `+` or `-`, which negates modulo 2^64; too big is the largest), kept when it is not
/// negative as a C `int`, and taken modulo 65536 (70000 is 4464, -4294967295 is 1); else a service name.
/// `0x10`, `-1` and 3000000000 are neither.
pub(crate) fn service_port(text: &str) -> Result<u16, String> {
    if let Some(n) = strtoul_number(text) {
        let n = n as u32 as i32;
        if n >= 0 {
            return Ok((n & 0xFFFF) as u16);
        }
    }
    if text.trim_start_matches(crate::values::C_SPACE).starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
    {
        return Err(format!("`{text}` is not a port: ports are read here as decimal numbers or service names"));
    }
    parse_port(text)
}

/// `text` as `strtoul` reads all of it in base 10 (blanks, a sign; too big is the largest), or `None`
/// when it is not a number to the end.
fn strtoul_number(text: &str) -> Option<u64> {
    match super::u32::c_strtoul(text, 10)? {
        (n, used) if used == text.len() => Some(n.unwrap_or(u64::MAX)),
        _ => None,
    }
}

/// Reads `PORT[:PORT]` as `iptables` reads its port-range options (`XTTYPE_PORTRC`): a missing first port
/// is 0, a missing last one 65535, an empty text is port 0, and a reversed range is kept.
pub(crate) fn parse_port_rc(text: &str) -> Result<PortRange, String> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 2 {
        return Err(format!("`{text}` has more than two ports; a range is written `FIRST:LAST`"));
    }
    let end = |s: &str, default: u16| if s.is_empty() { Ok(default) } else { service_port(s) };
    let min = end(parts[0], 0)?;
    let max = match parts.get(1) {
        Some(last) => end(last, u16::MAX)?,
        None => min,
    };
    Ok(PortRange { min, max })
}

/// A warning for a port option with a number above 65535, which `iptables` silently takes modulo 65536.
pub(crate) fn wrapped_port(o: &Opt<'_>) -> Option<Diagnostic> {
    let (text, port) = o.arg().split(':').find_map(|p| {
        strtoul_number(p).filter(|&n| n > 0xFFFF)?;
        Some((p.trim(), service_port(p).ok()?))
    })?;
    let why = if text.starts_with('-') { "is negative" } else { "is above 65535" };
    Some(Diagnostic::warning(
        o.arg_span(),
        format!("port {text} {why}; iptables takes it modulo 65536, as port {port}"),
    ))
}

/// Reads `--NAME` or its long form `--LONG`, which are one option.
fn port_opt(
    opts: &[Opt<'_>],
    name: &str,
    long: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Negatable<PortRange>>, Diagnostic> {
    let mut found = None;
    for o in opts.iter().filter(|o| o.name == name || o.name == long) {
        if found.is_some() {
            return Err(Diagnostic::error(o.span, format!("`--{name}` is given more than once")));
        }
        let range = o.parse_arg(parse_port_rc)?;
        warnings.extend(wrapped_port(o));
        found = Some(Negatable { value: range, negated: o.negated, span: o.span });
    }
    Ok(found)
}

/// Appends a port option unless it covers every port (then `iptables-save` leaves it out, `!` or not).
fn save_ports(out: &mut String, name: &str, ports: &Option<Negatable<PortRange>>) {
    if let Some(p) = ports.as_ref().filter(|p| p.value != PortRange { min: 0, max: u16::MAX }) {
        save_opt_value(out, p.negated, name, p.value);
    }
}

impl Extension for Udp {
    const OPTIONS: &'static [OptSpec] = &[
        opt("sport", Args::One),
        opt("source-port", Args::One),
        opt("dport", Args::One),
        opt("destination-port", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Udp, Diagnostic> {
        let sport = port_opt(opts, "sport", "source-port", warnings)?;
        let dport = port_opt(opts, "dport", "destination-port", warnings)?;
        ctx.require_proto("the udp match", &[Protocol::UDP])?;
        Ok(Udp { sport, dport })
    }

    fn save(&self, out: &mut String) {
        save_ports(out, "sport", &self.sport);
        save_ports(out, "dport", &self.dport);
    }
}

impl Evaluate for Udp {
    /// `udp_mt` in `xt_tcpudp.c`: a later fragment never matches (not even with `!`); then the source port,
    /// then the destination port.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no UDP header, so the udp match does not match it, `!` or not");
        }
        let L4::Udp { sport, dport } = ctx.pkt.l4 else {
            return Outcome::no("the packet is not UDP");
        };
        let ports = [("SPT", sport, &self.sport), ("DPT", dport, &self.dport)];
        let outcomes = ports.into_iter().filter_map(|(key, port, opt)| super::tcp::eval_ports("udp", key, port, opt));
        super::conntrack::all_of(outcomes.collect(), "the packet is UDP")
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n:INPUT ACCEPT [0:0]\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule line as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A INPUT");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chains[0].rules[0], &mut out);
        out
    }

    /// The first error's line, column and message.
    fn error(line: &str) -> (u32, u32, String) {
        let d = parsed(line).errors().next().cloned().expect("an error");
        (d.span.line, d.span.col, d.message)
    }

    #[test]
    fn prints_back_as_iptables_save() {
        assert_eq!(saved("-A INPUT -p udp -m udp --dport 53 -j ACCEPT"), "-A INPUT -p udp -m udp --dport 53 -j ACCEPT");
        // What iptables-save 1.8.9 printed after `-p udp --sport GIVEN`.
        let cases = [
            ("2:1", "--sport 2:1"),
            ("010", "--sport 10"),
            ("70000", "--sport 4464"),
            ("1:70000", "--sport 1:4464"),
            ("\"\"", "--sport 0"),
            (":5", "--sport 0:5"),
            ("ssh:", "--sport 22:65535"),
            ("0:0", "--sport 0"),
            ("\" 5\"", "--sport 5"),
            ("+53", "--sport 53"),
            ("\" +70000\"", "--sport 4464"),
            ("+53:+80", "--sport 53:80"),
            ("-0", "--sport 0"),
            ("-4294967295", "--sport 1"),
            ("4294967296", "--sport 0"),
        ];
        for (given, printed) in cases {
            assert_eq!(saved(&format!("-A INPUT -p udp --sport {given}")), format!("-A INPUT -p udp -m udp {printed}"));
        }
        assert_eq!(
            saved("-A INPUT -p udp -m udp ! --sport 53 ! --dport 54"),
            "-A INPUT -p udp -m udp ! --sport 53 ! --dport 54"
        );
        assert_eq!(saved("-A INPUT -p udp --dport 0:65535"), "-A INPUT -p udp -m udp");
        assert_eq!(saved("-A INPUT -p udp ! --dport : --sport 1"), "-A INPUT -p udp -m udp --sport 1");
        assert_eq!(saved("-A INPUT -p udp -m udp"), "-A INPUT -p udp -m udp");
    }

    #[test]
    fn non_canonical_forms() {
        // No `-m udp`, long option names, service names, abbreviations.
        assert_eq!(
            saved("-A INPUT -p UDP --source-port domain --destination-port ntp -j ACCEPT"),
            "-A INPUT -p udp -m udp --sport 53 --dport 123 -j ACCEPT"
        );
        assert_eq!(saved("-A INPUT -p udp --sp 53 --dp 54"), "-A INPUT -p udp -m udp --sport 53 --dport 54");
    }

    #[test]
    fn a_wrapped_port_warns() {
        let p = parsed("-A INPUT -p udp --dport 70000");
        let w = p.warnings().next().expect("a warning");
        assert_eq!((w.span.line, w.span.col), (3, 25));
        assert_eq!(w.message, "port 70000 is above 65535; iptables takes it modulo 65536, as port 4464");
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A INPUT -p tcp -m udp --sport 53"),
            (3, 17, "the udp match needs the rule to say -p udp".into())
        );
        assert_eq!(error("-A INPUT -m udp --sport 53").1, 10);
        assert_eq!(
            error("-A INPUT -p udp --sport 53 --source-port 54"),
            (3, 28, "`--sport` is given more than once".into())
        );
        assert_eq!(
            error("-A INPUT -p udp --sport 0x10"),
            (3, 25, "`0x10` is not a port: ports are read here as decimal numbers or service names".into())
        );
        assert!(error("-A INPUT -p udp --sport -1").2.starts_with("`-1` is not a port"));
        // strtoul takes one `+` (iptables-save then prints the port bare), not two, nor a `+` alone.
        assert!(error("-A INPUT -p udp --sport ++53").2.starts_with("`++53` is not a port"));
        assert!(error("-A INPUT -p udp --sport +").2.starts_with("`+` is not a port"));
        // Numbers negative as a C int are not ports.
        for n in ["2147483648", "3000000000", "-65535", "18446744073709551615"] {
            assert!(
                error(&format!("-A INPUT -p udp --sport {n}")).2.starts_with(&format!("`{n}` is not a port")),
                "{n}"
            );
        }
        assert!(error("-A INPUT -p udp --sport 99999999999999999999")
            .2
            .starts_with("`99999999999999999999` is not a port"));
        assert_eq!(
            error("-A INPUT -p udp --sport 1:2:3").2,
            "`1:2:3` has more than two ports; a range is written `FIRST:LAST`"
        );
        assert_eq!(error("-A INPUT -p udp --dport bogus").1, 25);
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, rule: &str) -> Outcome {
            match first_match(Family::Ipv4, rule) {
                MatchKind::Udp(u) => u.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn ports() {
            let dns = Scene::new("udp 192.0.2.1:40000 -> 192.0.2.2:53 in eth0");
            let o = eval(&dns, "-p udp --dport 53");
            assert!(o.holds);
            assert_eq!(o.why, "DPT=53 is 53, so this holds");
            let o = eval(&dns, "-p udp --sport 1024:65535 --dport 123");
            assert!(!o.holds);
            assert_eq!(o.why, "DPT=53 is not 123, so this does not hold");
            let o = eval(&dns, "-p udp ! --dport 53");
            assert!(!o.holds);
            assert_eq!(o.why, "DPT=53 is 53, so this does not hold");
            let o = eval(&dns, "-p udp --sport 1024:65535 --dport 53");
            assert_eq!(o.why, "SPT=40000 is in 1024:65535, so this holds; DPT=53 is 53, so this holds");
            // A reversed range is kept and matches nothing.
            assert!(!eval(&dns, "-p udp --dport 60:50").holds);
        }

        #[test]
        fn later_fragments_never_match() {
            let mut frag = Scene::new("udp 192.0.2.1:40000 -> 192.0.2.2:53 in eth0");
            frag.pkt.fragment_offset = 185;
            let o = eval(&frag, "-p udp ! --dport 22");
            assert!(!o.holds);
            assert!(o.why.starts_with("a later fragment has no UDP header"));
        }
    }
}
