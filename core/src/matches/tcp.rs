//! `-m tcp`: ports, flags and options of TCP segments (`libxt_tcp`, the kernel's `xt_tcpudp.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Negatable, Protocol};
use crate::values::{opt_number, PortRange};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The options of `-m tcp`. A port range of `0:65535` is the same as none.
///
/// Nearly every tcp match of a big dump gives `--dport` and nothing else, so the other options live in
/// their own allocation ([`TcpMore`]) that such a match does not pay for: 32 bytes instead of 88. The
/// serialized form is the four options side by side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "TcpFields", into = "TcpFields")]
pub struct Tcp {
    dport: Option<Negatable<PortRange>>,
    more: Option<Box<TcpMore>>,
}

/// The options of `-m tcp` other than `--dport`, which few rules give.
#[derive(Clone, Debug, Default, PartialEq)]
struct TcpMore {
    sport: Option<Negatable<PortRange>>,
    flags: Option<Negatable<TcpFlagsTest>>,
    option: Option<Negatable<u8>>,
}

/// The options of `-m tcp` as they serialize.
#[derive(Serialize, Deserialize)]
struct TcpFields {
    sport: Option<Negatable<PortRange>>,
    dport: Option<Negatable<PortRange>>,
    flags: Option<Negatable<TcpFlagsTest>>,
    option: Option<Negatable<u8>>,
}

impl From<TcpFields> for Tcp {
    fn from(f: TcpFields) -> Tcp {
        Tcp::new(f.sport, f.dport, f.flags, f.option)
    }
}

impl From<Tcp> for TcpFields {
    fn from(t: Tcp) -> TcpFields {
        let more = t.more.map(|m| *m).unwrap_or_default();
        TcpFields { sport: more.sport, dport: t.dport, flags: more.flags, option: more.option }
    }
}

impl Tcp {
    /// The match of `--sport`, `--dport`, `--tcp-flags` (or `--syn`) and `--tcp-option`, each if given.
    pub fn new(
        sport: Option<Negatable<PortRange>>,
        dport: Option<Negatable<PortRange>>,
        flags: Option<Negatable<TcpFlagsTest>>,
        option: Option<Negatable<u8>>,
    ) -> Tcp {
        let more = (sport.is_some() || flags.is_some() || option.is_some())
            .then(|| Box::new(TcpMore { sport, flags, option }));
        Tcp { dport, more }
    }

    /// `--sport`.
    pub fn sport(&self) -> &Option<Negatable<PortRange>> {
        self.more.as_ref().map_or(&None, |m| &m.sport)
    }

    /// `--dport`.
    pub fn dport(&self) -> &Option<Negatable<PortRange>> {
        &self.dport
    }

    /// `--tcp-flags MASK COMP` (`--syn` is `FIN,SYN,RST,ACK SYN`).
    pub fn flags(&self) -> &Option<Negatable<TcpFlagsTest>> {
        self.more.as_ref().map_or(&None, |m| &m.flags)
    }

    /// `--tcp-option N`: the segment carries TCP option kind N.
    pub fn option(&self) -> &Option<Negatable<u8>> {
        self.more.as_ref().map_or(&None, |m| &m.option)
    }
}

/// A test of TCP flags: of the flags in `mask`, exactly those in `comp` are set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TcpFlagsTest {
    /// The flags looked at.
    pub mask: TcpFlags,
    /// The flags among them that must be set.
    pub comp: TcpFlags,
}

impl TcpFlagsTest {
    /// What `--syn` means.
    pub const SYN: TcpFlagsTest = TcpFlagsTest { mask: TcpFlags(0x17), comp: TcpFlags(0x02) };

    /// Whether a segment with `flags` passes the test.
    pub fn matches(&self, flags: TcpFlags) -> bool {
        flags.0 & self.mask.0 == self.comp.0
    }
}

/// A set of TCP flags, bit for bit as in the TCP header (FIN is bit 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TcpFlags(pub u8);

/// The flag names `iptables` knows, in the order it prints them.
pub const FLAG_NAMES: [(&str, u8); 8] = [
    ("FIN", 0x01),
    ("SYN", 0x02),
    ("RST", 0x04),
    ("PSH", 0x08),
    ("ACK", 0x10),
    ("URG", 0x20),
    ("ECE", 0x40),
    ("CWR", 0x80),
];

impl TcpFlags {
    /// Reads a comma-separated list of flag names (any case), `ALL` or `NONE`.
    pub fn parse(text: &str) -> Result<TcpFlags, String> {
        let mut bits = 0u8;
        // Empty names are passed over, as `strtok` passes them (`SYN,,ACK`; `""` is no flag at all).
        for name in text.split(',').filter(|n| !n.is_empty()) {
            bits |= match name.to_ascii_uppercase().as_str() {
                "ALL" => 0x3f,
                "NONE" => 0,
                // iptables knows the six classic flags only; ECE and CWR cannot be tested.
                upper => FLAG_NAMES[..6].iter().find(|(n, _)| *n == upper).map(|&(_, b)| b).ok_or_else(|| {
                    format!("`{name}` is not a TCP flag iptables knows (FIN, SYN, RST, PSH, ACK, URG, ALL, NONE)")
                })?,
            };
        }
        Ok(TcpFlags(bits))
    }

    /// Whether every flag of `other` is set here.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl fmt::Display for TcpFlags {
    /// The names joined by commas, or `NONE`, as `iptables-save` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("NONE");
        }
        let mut first = true;
        for (name, bit) in FLAG_NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Reads `--sport`/`--dport` (and their long names) for the port matches of several protocols.
pub(crate) fn port_opt(opts: &[Opt<'_>], short: &str, long: &str) -> Result<Option<Negatable<PortRange>>, Diagnostic> {
    let mut found = None;
    for o in opts.iter().filter(|o| o.name == short || o.name == long) {
        if found.is_some() {
            return Err(Diagnostic::error(o.span, format!("`--{short}` is given more than once")));
        }
        // libxt_tcp reads service names of TCP only (`-p tcp --dport ntp` is refused; recorded).
        let range = o.parse_arg(|t| PortRange::parse_of(t, Some("tcp")))?;
        found = Some(Negatable { value: range, negated: o.negated, span: o.span });
    }
    Ok(found)
}

/// Prints a port option unless it covers every port.
pub(crate) fn save_ports(out: &mut String, name: &str, ports: &Option<Negatable<PortRange>>) {
    if let Some(p) = ports {
        // A range of every port prints nothing, negated or not.
        if p.value != (PortRange { min: 0, max: u16::MAX }) {
            save_opt_value(out, p.negated, name, p.value);
        }
    }
}

impl Extension for Tcp {
    const OPTIONS: &'static [OptSpec] = &[
        opt("sport", Args::One),
        opt("source-port", Args::One),
        opt("dport", Args::One),
        opt("destination-port", Args::One),
        opt("tcp-flags", Args::Two),
        opt("syn", Args::Zero),
        opt("tcp-option", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Tcp, Diagnostic> {
        ctx.require_proto("the tcp match", &[Protocol::TCP])?;
        let mut flags = None;
        for o in opts.iter().filter(|o| o.name == "tcp-flags" || o.name == "syn") {
            if flags.is_some() {
                return Err(Diagnostic::error(o.span, "only one of `--tcp-flags` and `--syn` may be given"));
            }
            let test = if o.name == "syn" {
                TcpFlagsTest::SYN
            } else {
                let mask = o.parse_arg(TcpFlags::parse)?;
                let comp = TcpFlags::parse(o.arg2()).map_err(|m| Diagnostic::error(o.arg2_span(), m))?;
                if let Some(w) = impossible_flags(mask, comp, o.negated, o.span) {
                    warnings.push(w);
                }
                TcpFlagsTest { mask, comp }
            };
            flags = Some(Negatable { value: test, negated: o.negated, span: o.span });
        }
        let option = match find(opts, "tcp-option")? {
            Some(o) => Some(Negatable { value: opt_number(o, 1, 255)? as u8, negated: o.negated, span: o.span }),
            None => None,
        };
        Ok(Tcp::new(
            port_opt(opts, "sport", "source-port")?,
            port_opt(opts, "dport", "destination-port")?,
            flags,
            option,
        ))
    }

    fn save(&self, out: &mut String) {
        save_ports(out, "sport", self.sport());
        save_ports(out, "dport", &self.dport);
        if let Some(o) = self.option() {
            save_opt_value(out, o.negated, "tcp-option", o.value);
        }
        if let Some(f) = self.flags().as_ref().filter(|f| f.negated || f.value.mask.0 != 0) {
            save_opt(out, f.negated, "tcp-flags");
            out.push_str(&format!(" {} {}", f.value.mask, f.value.comp));
        }
    }
}

/// What a test of the ports of a packet whose ports are unknown ([`crate::packet::ports_unknown`]) says:
/// it is assumed not to hold.
pub fn unknown_ports_outcome() -> crate::walk::eval::Outcome {
    crate::walk::eval::Outcome::assumed(
        false,
        "the kernel's log prints no ports for SCTP and DCCP (`PROTO=132`, `PROTO=33`), so chainwalk does not know \
         this packet's and assumes this does not hold (give it `SPT=` and `DPT=`)",
    )
}

/// The ports of a packet for the match of port protocol `proto` (SCTP, DCCP): those it has; none when it was
/// given by number without them (as the kernel's log prints it) and the match tests none; otherwise the
/// match's answer.
pub(crate) fn ports_for(
    l4: crate::packet::L4,
    proto: u8,
    tests_ports: bool,
    name: &str,
) -> Result<(u16, u16), crate::walk::eval::Outcome> {
    match (l4.proto() == proto, l4.ports()) {
        (true, Some(ports)) => Ok(ports),
        (true, None) if tests_ports => Err(unknown_ports_outcome()),
        (true, None) => Ok((0, 0)),
        (false, _) => Err(crate::walk::eval::Outcome::no(format!("the packet is not {name}"))),
    }
}

/// Says whether `port` is in a port option's range (for the port matches of several protocols).
pub(crate) fn eval_ports(
    name: &str,
    key: &str,
    port: u16,
    opt: &Option<Negatable<PortRange>>,
) -> Option<crate::walk::eval::Outcome> {
    let p = opt.as_ref()?;
    let inside = p.value.contains(port);
    let fact = if p.value.min == p.value.max {
        format!("{key}={port} {} {}", if inside { "is" } else { "is not" }, p.value)
    } else {
        format!("{key}={port} is {}in {}", if inside { "" } else { "not " }, p.value)
    };
    let _ = name;
    Some(crate::walk::eval::conclude(inside, p.negated, fact))
}

/// How far the kernel steps from the TCP option at `i` to the next (`optlen` in `xt_TCPMSS.c`, the same
/// step in `tcp_find_option` and `tcpmss_mt`): one byte for end of list, no-operation and a zero or missing
/// length, else the option's length byte.
pub(crate) fn option_len(opts: &[u8], i: usize) -> usize {
    match opts.get(i + 1) {
        Some(&len) if opts[i] >= 2 && len > 0 => usize::from(len),
        _ => 1,
    }
}

/// Whether TCP options `opts` hold one of `kind`, read as `tcp_find_option` in `xt_tcpudp.c` reads them:
/// from the start, every byte below 2 (end of list, no-operation) one byte long, any other option as long as
/// its length byte says (at least one byte); an end-of-list byte does not stop the search.
pub(crate) fn has_option(opts: &[u8], kind: u8) -> bool {
    let mut i = 0;
    while i < opts.len() {
        if opts[i] == kind {
            return true;
        }
        i += option_len(opts, i);
    }
    false
}

/// A warning for `--tcp-flags MASK COMP` that wants a flag set which it does not test: the kernel compares
/// `flags & MASK` with `COMP`, so such a test never holds (and its negation always does).
fn impossible_flags(mask: TcpFlags, comp: TcpFlags, negated: bool, span: crate::span::Span) -> Option<Diagnostic> {
    let extra = TcpFlags(comp.0 & !mask.0);
    if extra.0 == 0 {
        return None;
    }
    let outcome = if negated { "always holds" } else { "never holds" };
    let backend = if mask.0 == 0 { "on the legacy backend " } else { "" };
    let d = Diagnostic::warning(
        span,
        format!("`--tcp-flags {mask} {comp}` wants {extra} set but does not test it, so {backend}it {outcome}"),
    );
    Some(if mask.0 == 0 {
        d.with_hint(
            "with no flag tested, iptables-nft leaves the test out (the rule holds for every TCP packet) and \
             iptables-save prints a bare `-m tcp`; name the flags to test first, as in `--tcp-flags SYN,ACK SYN`",
        )
    } else {
        d.with_hint(format!("add {extra} to the flags tested (the first list)"))
    })
}

/// Whether iptables-nft leaves `--tcp-flags` out of the rule it loads: a test of no flags at all
/// (`--tcp-flags NONE ...`, `!` or not) in a tcp match it turns into expressions (one without
/// `--tcp-option`), as `add_nft_tcp` skips a zero mask; the rule then holds whatever the flags (recorded).
pub(crate) fn nft_drops_flags(t: &Tcp, flags: TcpFlagsTest, backend: crate::walk::Backend) -> bool {
    backend == crate::walk::Backend::Nft && flags.mask.0 == 0 && t.option().is_none()
}

#[cfg(test)]
mod impossible_flags_tests {
    use crate::ruleset::Family;

    #[test]
    fn a_flag_wanted_but_not_tested_is_pointed_out() {
        let warned = |rule: &str| {
            let text = format!("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp {rule}\nCOMMIT\n");
            let p = crate::parse(&text, Some(Family::Ipv4));
            assert!(!p.has_errors(), "{:?}", p.errors().next());
            let found = p.warnings().map(|w| w.message.clone()).find(|m| m.starts_with("`--tcp-flags"));
            found
        };
        assert_eq!(
            warned("--tcp-flags SYN SYN,ACK").as_deref(),
            Some("`--tcp-flags SYN SYN,ACK` wants ACK set but does not test it, so it never holds")
        );
        assert!(warned("! --tcp-flags SYN SYN,ACK").is_some_and(|m| m.ends_with("so it always holds")));
        assert!(warned("--tcp-flags NONE SYN").is_some_and(|m| m.ends_with("on the legacy backend it never holds")));
        assert_eq!(warned("--tcp-flags SYN,ACK SYN"), None);
        assert_eq!(warned("--tcp-flags NONE NONE"), None);
        assert_eq!(warned("--syn"), None);
    }
}

impl crate::walk::eval::Evaluate for Tcp {
    /// `tcp_mt` in `xt_tcpudp.c`: no match for later fragments; ports, then options, then flags.
    fn eval(&self, ctx: &crate::walk::eval::EvalCtx<'_>) -> crate::walk::eval::Outcome {
        use crate::walk::eval::{conclude, Outcome};
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no TCP header, so the tcp match does not match it");
        }
        let crate::packet::L4::Tcp { sport, dport, flags } = ctx.pkt.l4 else {
            return Outcome::no("the packet is not TCP");
        };
        let mut why = Vec::new();
        for (key, port, opt) in [("SPT", sport, self.sport()), ("DPT", dport, &self.dport)] {
            if let Some(o) = eval_ports("tcp", key, port, opt) {
                if !o.holds {
                    return o;
                }
                why.push(o.why);
            }
        }
        if let Some(o) = self.option() {
            let o = match ctx.pkt.known_tcp_options() {
                Some(opts) => {
                    let has = has_option(opts, o.value);
                    let fact = if has {
                        format!("the segment's options include kind {}", o.value)
                    } else if opts.is_empty() {
                        "the segment has no options".to_string()
                    } else {
                        format!("the segment's options have no kind {}", o.value)
                    };
                    conclude(has, o.negated, fact)
                }
                None => Outcome::assumed(
                    o.negated,
                    format!(
                        "chainwalk does not know the packet's TCP options (the log's `OPT (...)`); it assumes option \
                         {} is absent",
                        o.value
                    ),
                ),
            };
            if !o.holds {
                return o;
            }
            why.push(o.why);
        }
        if let Some(f) = self.flags().as_ref().filter(|f| !nft_drops_flags(self, f.value, ctx.backend)) {
            let test = f.value;
            let set = TcpFlags(flags.0 & test.mask.0);
            let ok = test.matches(flags);
            let fact = format!(
                "of {} the packet has {} set, {} {}",
                test.mask,
                set,
                if ok { "which is" } else { "not" },
                test.comp
            );
            let o = conclude(ok, f.negated, fact);
            if !o.holds {
                return o;
            }
            why.push(o.why);
        }
        if why.is_empty() {
            return Outcome::yes("the packet is TCP");
        }
        Outcome::yes(why.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matches::testing::load;
    use crate::matches::MatchKind;
    use crate::ruleset::Family;

    fn tcp_of(rule: &str) -> Tcp {
        let p = load(Family::Ipv4, "filter", rule);
        assert!(!p.has_errors(), "{rule}: {:?}", p.diagnostics);
        match &p.ruleset.tables[0].chains[0].rules[0].matches[0].kind {
            MatchKind::Tcp(t) => (**t).clone(),
            other => panic!("{rule}: {other:?}"),
        }
    }

    #[test]
    fn options_beside_the_destination_port_are_kept_apart() {
        let t = tcp_of("-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT");
        assert_eq!(t.dport().as_ref().map(|p| p.value), Some(PortRange { min: 80, max: 80 }));
        assert!(t.more.is_none() && t.sport().is_none() && t.flags().is_none() && t.option().is_none());

        let t = tcp_of("-A INPUT -p tcp -m tcp ! --sport 1024:2048 --tcp-option 2 --syn -j ACCEPT");
        assert!(t.dport().is_none());
        assert_eq!(t.sport().as_ref().map(|p| (p.value, p.negated)), Some((PortRange { min: 1024, max: 2048 }, true)));
        assert_eq!(t.flags().as_ref().map(|f| f.value), Some(TcpFlagsTest::SYN));
        assert_eq!(t.option().as_ref().map(|o| o.value), Some(2));
    }

    #[test]
    fn serializes_as_four_options_and_reads_back() {
        for rule in [
            "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT",
            "-A INPUT -p tcp -m tcp --sport 53 --dport 80 --tcp-flags SYN,ACK SYN -j ACCEPT",
        ] {
            let t = tcp_of(rule);
            let json = serde_json::to_value(&t).expect("json");
            let keys: Vec<&str> = json.as_object().expect("an object").keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 4, "{json}");
            for key in ["sport", "dport", "flags", "option"] {
                assert!(keys.contains(&key), "{key} in {json}");
            }
            assert_eq!(serde_json::from_value::<Tcp>(json).expect("reads back"), t);
        }
    }

    #[test]
    fn options_are_stepped_over_as_the_kernel_steps_over_them() {
        use super::has_option;
        let linux_syn = [2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        assert!(has_option(&linux_syn, 2) && has_option(&linux_syn, 4) && has_option(&linux_syn, 3));
        assert!(!has_option(&linux_syn, 5));
        // The timestamp's bytes are not read as options of their own.
        assert!(!has_option(&[8, 10, 5, 5, 5, 5, 5, 5, 5, 5], 5));
        // An end-of-list byte does not end the search; a zero length counts as one byte.
        assert!(has_option(&[0, 5, 2, 0], 5));
        assert!(has_option(&[6, 0, 7], 0) && has_option(&[6, 0, 7], 7));
        assert!(!has_option(&[], 1));
    }
}
