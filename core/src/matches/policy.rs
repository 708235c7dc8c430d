//! `-m policy`: the IPsec policy a packet was decapsulated with (`--dir in`) or will be encapsulated
//! with (`--dir out`) (`libxt_policy`, the kernel's `xt_policy.c`). A policy is a list of elements, one per
//! transform; `--strict` compares the whole list, otherwise any one element may match.

use super::connlimit::{plen_mask, printed_prefix};
use super::recent::host_address;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Hook, Negatable, Protocol};
use crate::values::opt_number;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// The most elements a policy may have (`XT_POLICY_MAX_ELEM`).
pub const MAX_ELEMENTS: usize = 4;

/// The options of `-m policy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// `--dir`: which policy is looked at.
    pub dir: PolicyDir,
    /// `--pol none`: match packets without an IPsec policy; otherwise (`ipsec`) packets with one.
    pub none: bool,
    /// `--strict`: the elements must match the policy's transforms exactly and in order.
    pub strict: bool,
    /// The elements, separated by `--next`; empty with `--pol none`.
    pub elements: Vec<PolicyElement>,
}

/// Which IPsec policy `-m policy` looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicyDir {
    /// `--dir in`: the policy the packet was decapsulated with.
    In,
    /// `--dir out`: the policy the packet will be encapsulated with.
    Out,
}

/// One element of a policy: a test of one IPsec transform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyElement {
    /// `--reqid`: the policy's request id.
    pub reqid: Option<Negatable<u32>>,
    /// `--spi`: the security parameter index.
    pub spi: Option<Negatable<u32>>,
    /// `--proto`: `ah`, `esp` or `ipcomp`.
    pub proto: Option<Negatable<Protocol>>,
    /// `--mode`: transport or tunnel.
    pub mode: Option<Negatable<IpsecMode>>,
    /// `--tunnel-src`: the tunnel's source address (tunnel mode only).
    pub tunnel_src: Option<Negatable<HostMask>>,
    /// `--tunnel-dst`: the tunnel's destination address (tunnel mode only).
    pub tunnel_dst: Option<Negatable<HostMask>>,
}

/// The IPsec mode of a transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpsecMode {
    /// `transport`.
    Transport,
    /// `tunnel`.
    Tunnel,
}

/// An address with a mask, kept as written: the kernel compares `(packet ^ addr) & mask`, and
/// `iptables-save` prints the address unmasked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostMask {
    /// The address.
    pub addr: IpAddr,
    /// The mask.
    pub mask: IpAddr,
}

impl fmt::Display for HostMask {
    /// `ADDR` for a full mask, otherwise `ADDR/LEN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = printed_prefix(self.mask);
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if len == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{len}", self.addr)
        }
    }
}

impl PolicyElement {
    fn is_empty(&self) -> bool {
        *self == PolicyElement::default()
    }
}

impl Policy {
    /// The hooks (as [`Hook::bit`]s) the kernel lets a rule with this match be reached from
    /// (`policy_mt_check`): an inbound policy is unknown on OUTPUT and POSTROUTING, an outbound one on
    /// PREROUTING and INPUT.
    pub fn hooks(&self) -> u8 {
        let (a, b) = match self.dir {
            PolicyDir::In => (Hook::Output, Hook::Postrouting),
            PolicyDir::Out => (Hook::Prerouting, Hook::Input),
        };
        Hook::ALL.iter().fold(0, |bits, h| bits | h.bit()) & !a.bit() & !b.bit()
    }
}

/// `value` with the negation and span of option `o`.
fn neg<T>(o: &Opt<'_>, value: T) -> Negatable<T> {
    Negatable { value, negated: o.negated, span: o.span }
}

fn tunnel(o: &Opt<'_>, family: Family) -> Result<HostMask, Diagnostic> {
    o.parse_arg(|t| {
        let (addr, mask) = match t.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (t, None),
        };
        let addr = host_address(addr, family)?;
        let full = if family == Family::Ipv4 { "32" } else { "128" };
        let mask = plen_mask(mask.unwrap_or(full), family)?;
        Ok(HostMask { addr, mask })
    })
}

impl Extension for Policy {
    const OPTIONS: &'static [OptSpec] = &[
        opt("dir", Args::One),
        opt("pol", Args::One),
        opt("strict", Args::Zero),
        opt("reqid", Args::One),
        opt("spi", Args::One),
        opt("tunnel-src", Args::One),
        opt("tunnel-dst", Args::One),
        opt("proto", Args::One),
        opt("mode", Args::One),
        opt("next", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Policy, Diagnostic> {
        let mut elements = vec![PolicyElement::default()];
        for o in opts {
            if matches!(o.name, "dir" | "pol" | "strict" | "next") {
                o.no_negation()?;
            }
            if o.name == "next" {
                if elements.len() == MAX_ELEMENTS {
                    return Err(Diagnostic::error(o.span, format!("a policy has at most {MAX_ELEMENTS} elements")));
                }
                elements.push(PolicyElement::default());
                continue;
            }
            let Some(e) = elements.last_mut() else { continue };
            let double = |set: bool| -> Result<(), Diagnostic> {
                if set {
                    return Err(Diagnostic::error(
                        o.span,
                        format!("`--{}` is given twice in one policy element", o.name),
                    )
                    .with_hint("start the next element with `--next`"));
                }
                Ok(())
            };
            match o.name {
                "reqid" | "spi" => {
                    let n = opt_number(o, 0, u64::from(u32::MAX))? as u32;
                    let slot = if o.name == "reqid" { &mut e.reqid } else { &mut e.spi };
                    double(slot.is_some())?;
                    *slot = Some(neg(o, n));
                }
                "proto" => {
                    double(e.proto.is_some())?;
                    let p = o.parse_arg(|t| {
                        // Looked up as it is written (`getprotobyname`).
                        let p = Protocol::lookup(t).ok();
                        match p {
                            Some(p) if [50, 51, 108].contains(&p.0) => Ok(p),
                            _ => Err(format!("`{t}` is not an IPsec protocol (ah, esp or ipcomp)")),
                        }
                    })?;
                    e.proto = Some(neg(o, p));
                }
                "mode" => {
                    double(e.mode.is_some())?;
                    let m = o.parse_arg(|t| match t {
                        "transport" => Ok(IpsecMode::Transport),
                        "tunnel" => Ok(IpsecMode::Tunnel),
                        _ => Err(format!("`{t}` is not an IPsec mode (transport or tunnel)")),
                    })?;
                    e.mode = Some(neg(o, m));
                }
                "tunnel-src" | "tunnel-dst" => {
                    let a = tunnel(o, ctx.family)?;
                    let slot = if o.name == "tunnel-src" { &mut e.tunnel_src } else { &mut e.tunnel_dst };
                    double(slot.is_some())?;
                    *slot = Some(neg(o, a));
                }
                _ => {}
            }
        }
        let dir = match find(opts, "dir")? {
            Some(o) => o.parse_arg(|t| match t {
                "in" => Ok(PolicyDir::In),
                "out" => Ok(PolicyDir::Out),
                _ => Err(format!("`{t}` is not a direction (in or out)")),
            })?,
            None => return Err(ctx.error("the policy match needs `--dir in` or `--dir out`")),
        };
        let none = match find(opts, "pol")? {
            Some(o) => o.parse_arg(|t| match t {
                "none" => Ok(true),
                "ipsec" => Ok(false),
                _ => Err(format!("`{t}` is not a policy (none or ipsec)")),
            })?,
            None => false,
        };
        let strict = find(opts, "strict")?;
        let next = opts.iter().find(|o| o.name == "next");
        if none {
            if let Some(s) = strict {
                return Err(Diagnostic::error(s.span, "`--strict` makes no sense with `--pol none`"));
            }
            if let Some(n) = next {
                return Err(Diagnostic::error(n.span, "`--pol none` takes no policy elements"));
            }
            if !elements[0].is_empty() {
                warnings.push(Diagnostic::warning(
                    ctx.span,
                    "with `--pol none` the element options are ignored; iptables-save leaves them out",
                ));
            }
            elements.clear();
        }
        for (i, e) in elements.iter().enumerate() {
            if strict.is_some() && e.is_empty() {
                return Err(ctx.error(format!(
                    "policy element {i} is empty: with `--strict` each needs one of --reqid, --spi, --tunnel-src, --tunnel-dst, --proto, --mode"
                )));
            }
            let transport = match &e.mode {
                Some(m) => (m.value == IpsecMode::Tunnel) == m.negated,
                None => true,
            };
            if let Some(a) = e.tunnel_src.as_ref().or(e.tunnel_dst.as_ref()).filter(|_| transport) {
                return Err(Diagnostic::error(a.span, "`--tunnel-src` and `--tunnel-dst` need `--mode tunnel`"));
            }
        }
        if let (Some(n), None) = (next, strict) {
            return Err(Diagnostic::error(n.span, "`--next` needs `--strict`"));
        }
        Ok(Policy { dir, none, strict: strict.is_some(), elements })
    }

    /// `policy4_save`/`policy6_save`: direction, policy, strict, then each element, with `--next` between.
    fn save(&self, out: &mut String) {
        out.push_str(match self.dir {
            PolicyDir::In => " --dir in",
            PolicyDir::Out => " --dir out",
        });
        out.push_str(if self.none { " --pol none" } else { " --pol ipsec" });
        if self.strict {
            out.push_str(" --strict");
        }
        for (i, e) in self.elements.iter().enumerate() {
            if i > 0 {
                out.push_str(" --next");
            }
            if let Some(r) = &e.reqid {
                save_opt_value(out, r.negated, "reqid", r.value);
            }
            if let Some(s) = &e.spi {
                save_opt_value(out, s.negated, "spi", format_args!("{:#x}", s.value));
            }
            if let Some(p) = &e.proto {
                save_opt_value(out, p.negated, "proto", p.value);
            }
            if let Some(m) = &e.mode {
                save_opt(out, m.negated, "mode");
                out.push_str(match m.value {
                    IpsecMode::Transport => " transport",
                    IpsecMode::Tunnel => " tunnel",
                });
            }
            if let Some(a) = &e.tunnel_dst {
                save_opt_value(out, a.negated, "tunnel-dst", a.value);
            }
            if let Some(a) = &e.tunnel_src {
                save_opt_value(out, a.negated, "tunnel-src", a.value);
            }
        }
    }
}

impl Evaluate for Policy {
    /// `policy_mt` in `xt_policy.c`: without an IPsec policy (no security path on the way in, no transform
    /// bundle on the way out) `--pol none` matches and `--pol ipsec` does not. chainwalk has no IPsec state
    /// (`ip xfrm`), so it takes every packet to be without one.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let how = match self.dir {
            PolicyDir::In => "was not decapsulated by an IPsec policy",
            PolicyDir::Out => "will not be encapsulated by an IPsec policy",
        };
        let pol = if self.none { "none" } else { "ipsec" };
        Outcome::assumed(
            self.none,
            format!(
                "chainwalk knows no IPsec state (`ip xfrm`) and assumes the packet {how} (set it by hand if it is \
                 IPsec), so --pol {pol} {}",
                if self.none { "holds" } else { "does not hold" }
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(family))
    }

    /// `-m policy OPTIONS` printed back, without the `-A INPUT -m policy` before it.
    fn saved_in(family: Family, options: &str) -> String {
        let line = format!("-A INPUT -m policy {options} -j ACCEPT");
        let p = parsed(family, &line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m policy ").trim_end_matches(" -j ACCEPT").to_string()
    }

    fn saved(options: &str) -> String {
        saved_in(Family::Ipv4, options)
    }

    /// The first error's column (on line 2) and message.
    fn error(options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m policy {options} -j ACCEPT");
        let p = parsed(Family::Ipv4, &line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "--dir in --pol ipsec",
            "--dir in --pol none",
            "--dir in --pol ipsec --strict --reqid 1 --next --reqid 2",
            "--dir in --pol ipsec --strict --reqid 1 --next --reqid 2 --next --reqid 3 --next --reqid 4",
            "--dir in --pol ipsec --proto ah",
            "--dir in --pol ipsec ! --reqid 5",
            "--dir in --pol ipsec --mode tunnel --tunnel-src 10.0.0.1/8",
            "--dir in --pol ipsec ! --mode transport --tunnel-src 1.2.3.4",
            "--dir in --pol ipsec --mode tunnel ! --tunnel-dst 10.0.0.0/8",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them.
        for (input, out) in [
            ("--pol ipsec --dir in", "--dir in --pol ipsec"),
            ("--dir in", "--dir in --pol ipsec"),
            (
                "--dir in --pol ipsec --strict --proto esp --reqid 1 --spi 0x100 --mode tunnel --tunnel-src 10.0.0.1 --tunnel-dst 10.0.0.2",
                "--dir in --pol ipsec --strict --reqid 1 --spi 0x100 --proto esp --mode tunnel --tunnel-dst 10.0.0.2 --tunnel-src 10.0.0.1",
            ),
            (
                "--dir in --pol ipsec --mode tunnel --tunnel-dst 10.0.0.0/24 --tunnel-src 10.0.0.1 --spi 256 --reqid 1 --proto 50 --strict",
                "--dir in --pol ipsec --strict --reqid 1 --spi 0x100 --proto esp --mode tunnel --tunnel-dst 10.0.0.0/24 --tunnel-src 10.0.0.1",
            ),
            ("--dir in --pol ipsec --proto 50", "--dir in --pol ipsec --proto esp"),
            ("--dir in --pol ipsec --proto 108", "--dir in --pol ipsec --proto ipcomp"),
            ("--dir in --pol ipsec --proto IPCOMP", "--dir in --pol ipsec --proto ipcomp"),
            ("--dir in --pol ipsec --proto IPSEC-ESP", "--dir in --pol ipsec --proto esp"),
            ("--dir in --pol ipsec --mode transport --proto ah", "--dir in --pol ipsec --proto ah --mode transport"),
            ("--dir in --pol ipsec ! --proto esp ! --spi 1", "--dir in --pol ipsec ! --spi 0x1 ! --proto esp"),
            ("--dir in --pol ipsec --spi 0", "--dir in --pol ipsec --spi 0x0"),
            ("--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/255.255.0.0", "--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/16"),
            ("--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/255.0.255.0", "--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4"),
            ("--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/32", "--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4"),
            ("--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/33", "--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4"),
            ("--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/0x10", "--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/16"),
            ("--dir in --pol ipsec --mode tunnel --tunnel-src 0/0", "--dir in --pol ipsec --mode tunnel --tunnel-src 0.0.0.0/0"),
            ("--dir in --pol ipsec --mode tunnel --tunnel-src 10.1", "--dir in --pol ipsec --mode tunnel --tunnel-src 10.0.0.1"),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
        let v6 = Family::Ipv6;
        for (input, out) in [
            (
                "--dir in --pol ipsec --mode tunnel --tunnel-src 2001:db8::1/64",
                "--dir in --pol ipsec --mode tunnel --tunnel-src 2001:db8::1/64",
            ),
            (
                "--dir in --pol ipsec --mode tunnel --tunnel-src ::/0 --tunnel-dst ::1/128",
                "--dir in --pol ipsec --mode tunnel --tunnel-dst ::1 --tunnel-src ::/0",
            ),
            (
                "--dir in --pol ipsec --mode tunnel --tunnel-src 2001:db8::1/ffff::",
                "--dir in --pol ipsec --mode tunnel --tunnel-src 2001:db8::1/16",
            ),
        ] {
            assert_eq!(saved_in(v6, input), out, "{input}");
        }
    }

    #[test]
    fn pol_none_drops_the_element() {
        let p = parsed(Family::Ipv4, "-A INPUT -m policy --dir in --pol none --proto esp -j ACCEPT");
        assert!(!p.has_errors());
        assert_eq!(p.warnings().count(), 1);
        assert!(crate::canonical(&p).contains("-A INPUT -m policy --dir in --pol none -j ACCEPT"));
    }

    #[test]
    fn hooks_follow_the_direction() {
        let p = |line: &str| match &parsed(Family::Ipv4, line).ruleset.tables[0].chain("FORWARD").unwrap().rules[0]
            .matches[0]
            .kind
        {
            crate::matches::MatchKind::Policy(m) => m.hooks(),
            other => panic!("{other:?}"),
        };
        let bits = |hooks: &[Hook]| hooks.iter().fold(0, |b, h| b | h.bit());
        assert_eq!(
            p("-A FORWARD -m policy --dir in --pol ipsec"),
            bits(&[Hook::Prerouting, Hook::Input, Hook::Forward])
        );
        assert_eq!(
            p("-A FORWARD -m policy --dir out --pol ipsec"),
            bits(&[Hook::Forward, Hook::Output, Hook::Postrouting])
        );
    }

    #[test]
    fn errors() {
        assert_eq!(error("--pol ipsec"), (10, "the policy match needs `--dir in` or `--dir out`".into()));
        assert_eq!(error(""), (10, "the policy match needs `--dir in` or `--dir out`".into()));
        assert_eq!(error("--dir sideways --pol ipsec"), (26, "`sideways` is not a direction (in or out)".into()));
        assert_eq!(error("--dir IN --pol IPSEC").1, "`IN` is not a direction (in or out)");
        assert_eq!(error("--dir in --pol bogus"), (35, "`bogus` is not a policy (none or ipsec)".into()));
        assert_eq!(error("--dir in --pol ipsec --proto ESP").1, "`ESP` is not an IPsec protocol (ah, esp or ipcomp)");
        assert_eq!(error("--dir in --pol ipsec --mode bogus").1, "`bogus` is not an IPsec mode (transport or tunnel)");
        assert_eq!(error("! --dir in --pol ipsec").1, "`--dir` cannot be negated with `!`");
        assert_eq!(error("--dir in --pol ipsec --next").1, "`--next` needs `--strict`");
        assert_eq!(error("--dir in --pol ipsec --reqid 1 --next --reqid 2").0, 51);
        assert_eq!(error("--dir in --pol ipsec --proto tcp").1, "`tcp` is not an IPsec protocol (ah, esp or ipcomp)");
        assert_eq!(error("--dir in --pol ipsec --proto ESP").0, 49);
        assert_eq!(error("--dir in --pol ipsec --proto 0").0, 49);
        assert_eq!(error("--dir in --pol none --strict --proto esp").1, "`--strict` makes no sense with `--pol none`");
        assert!(error("--dir in --pol ipsec --strict").1.starts_with("policy element 0 is empty"));
        assert!(error("--dir in --pol ipsec --strict --reqid 1 --next").1.starts_with("policy element 1 is empty"));
        assert_eq!(
            error("--dir in --pol ipsec --strict --reqid 1 --next --reqid 2 --next --reqid 3 --next --reqid 4 --next --reqid 5").1,
            "a policy has at most 4 elements"
        );
        assert_eq!(
            error("--dir in --pol ipsec --reqid 1 --reqid 2"),
            (51, "`--reqid` is given twice in one policy element".into())
        );
        assert_eq!(
            error("--dir in --pol ipsec --tunnel-src 10.0.0.0/8"),
            (41, "`--tunnel-src` and `--tunnel-dst` need `--mode tunnel`".into())
        );
        assert_eq!(error("--dir in --pol ipsec ! --mode tunnel --tunnel-src 1.2.3.4").0, 57);
        assert_eq!(error("--dir in --dir out").0, 29);
        assert_eq!(error("--dir in --pol ipsec --spi 4294967296").0, 47);
        assert_eq!(error("--dir in --pol ipsec --reqid -1").0, 49);
        assert_eq!(error("--dir in --pol ipsec --mode tunnel --tunnel-src host.example").0, 68);
        assert_eq!(error("--dir in --pol ipsec --mode tunnel --tunnel-src 1.2.3.4/").0, 68);
    }

    mod eval {
        use crate::matches::conntrack::fixture::Scene;
        use crate::matches::MatchKind;
        use crate::ruleset::{Family, Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        /// Evaluates `-m policy OPTIONS`, loaded in FORWARD (where both directions are allowed).
        fn eval(options: &str) -> Outcome {
            let s = Scene::new("tcp 10.1.0.7:40000 -> 10.2.0.9:80 in eth0 out eth1 syn")
                .at(Hook::Forward, TableName::Filter);
            let text = format!("*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -m policy {options}\nCOMMIT\n");
            let p = crate::parse(&text, Some(Family::Ipv4));
            assert!(!p.has_errors(), "{options}: {:?}", p.diagnostics);
            match &p.ruleset.tables[0].chain("FORWARD").expect("FORWARD").rules[0].matches[0].kind {
                MatchKind::Policy(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn packets_are_not_ipsec() {
            let o = eval("--dir in --pol none");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk knows no IPsec state (`ip xfrm`) and assumes the packet was not decapsulated by an IPsec \
                 policy (set it by hand if it is IPsec), so --pol none holds"
            );
            let o = eval("--dir out --pol ipsec --proto esp --mode tunnel --tunnel-dst 192.0.2.1");
            assert!(!o.holds && o.assumed);
            assert!(o.why.contains("will not be encapsulated by an IPsec policy"), "{}", o.why);
            assert!(o.why.ends_with("so --pol ipsec does not hold"), "{}", o.why);
        }
    }
}
