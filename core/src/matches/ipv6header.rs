//! `-m ipv6header --header LIST [--soft]`: which IPv6 extension headers (and whether an upper-layer
//! header) the packet has (`libip6t_ipv6header`, the kernel's `ip6t_ipv6header.c`). IPv6 only.

use crate::diag::Diagnostic;
use crate::ext::{find, flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Family;
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// A set of header kinds, bit for bit as the kernel's `MASK_*` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Headers(pub u8);

/// The header kinds: the protocol number, the name `iptables-save` prints, and the kernel's mask bit, in
/// the order `iptables-save` prints them.
const KINDS: [(u8, &str, u8); 8] = [
    (0, "hop-by-hop", 0x80),
    (60, "ipv6-opts", 0x40),
    (43, "ipv6-route", 0x20),
    (44, "ipv6-frag", 0x10),
    (51, "ah", 0x08),
    (50, "esp", 0x04),
    (59, "ipv6-nonxt", 0x02),
    (255, "protocol", 0x01),
];

/// The spellings `libip6t_ipv6header` takes for each protocol number: the names and aliases of
/// `/etc/protocols` (case matters) first, then its own short names and the numbers.
const SPELLINGS: &[(&str, u8)] = &[
    ("ip", 0),
    ("IP", 0),
    ("hopopt", 0),
    ("HOPOPT", 0),
    ("ipv6-route", 43),
    ("IPv6-Route", 43),
    ("ipv6-frag", 44),
    ("IPv6-Frag", 44),
    ("esp", 50),
    ("IPSEC-ESP", 50),
    ("ah", 51),
    ("IPSEC-AH", 51),
    ("ipv6-nonxt", 59),
    ("IPv6-NoNxt", 59),
    ("ipv6-opts", 60),
    ("IPv6-Opts", 60),
    ("hop-by-hop", 0),
    ("protocol", 255),
    ("hop", 0),
    ("dst", 60),
    ("route", 43),
    ("frag", 44),
    ("auth", 51),
    ("none", 59),
    ("prot", 255),
    ("0", 0),
    ("60", 60),
    ("43", 43),
    ("44", 44),
    ("51", 51),
    ("50", 50),
    ("59", 59),
    ("255", 255),
];

impl Headers {
    /// Reads a comma-separated list of header names (empty items are skipped, as `strtok` skips them).
    pub fn parse(text: &str) -> Result<Headers, String> {
        let mut bits = 0;
        for item in text.split(',').filter(|i| !i.is_empty()) {
            let proto = SPELLINGS.iter().find(|(s, _)| *s == item).map(|&(_, p)| p);
            let proto = match proto {
                Some(p) => p,
                // Another protocol's name is read, then refused as no extension header.
                None => {
                    if let Some((s, _)) = SPELLINGS.iter().find(|(s, _)| s.eq_ignore_ascii_case(item)) {
                        return Err(format!(
                            "`{item}` is not a header name here: the names are case-sensitive (`{s}`)"
                        ));
                    }
                    return Err(match crate::ruleset::Protocol::parse(item) {
                        Ok(p) if !item.bytes().all(|b| b.is_ascii_digit()) => {
                            format!("`{item}` (protocol {}) is not an IPv6 extension header", p.0)
                        }
                        _ => format!(
                            "`{item}` is not an IPv6 header name (hop, dst, route, frag, auth, esp, none, prot)"
                        ),
                    });
                }
            };
            bits |= KINDS.iter().find(|(p, _, _)| *p == proto).map(|&(_, _, b)| b).unwrap_or(0);
        }
        if bits == 0 {
            return Err("`--header` needs at least one header name".into());
        }
        Ok(Headers(bits))
    }

    fn names(self) -> String {
        let names: Vec<&str> = KINDS.iter().filter(|(_, _, b)| self.0 & b != 0).map(|&(_, n, _)| n).collect();
        names.join(",")
    }
}

/// The options of `-m ipv6header`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6header {
    /// `[!] --header LIST`: the headers.
    pub headers: Headers,
    /// Whether `!` came before `--header`.
    pub negated: bool,
    /// `--soft`: the packet has (at least) these headers, instead of exactly these.
    pub soft: bool,
}

impl Extension for Ipv6header {
    const OPTIONS: &'static [OptSpec] = &[opt("header", Args::One), opt("soft", Args::Zero)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Ipv6header, Diagnostic> {
        if ctx.family == Family::Ipv4 {
            return Err(ctx.error("the ipv6header match exists only for IPv6 (ip6tables)"));
        }
        if let Some(s) = find(opts, "soft")? {
            s.no_negation()?;
        }
        let o = find(opts, "header")?.ok_or_else(|| ctx.error("the ipv6header match needs `--header LIST`"))?;
        let headers = o.parse_arg(Headers::parse)?;
        Ok(Ipv6header { headers, negated: o.negated, soft: flag(opts, "soft")? })
    }

    fn save(&self, out: &mut String) {
        if self.negated {
            out.push_str(" !");
        }
        out.push_str(" --header ");
        out.push_str(&self.headers.names());
        if self.soft {
            out.push_str(" --soft");
        }
    }
}

impl Evaluate for Ipv6header {
    /// `ipv6header_mt6` in `ip6t_ipv6header.c` collects the kinds of header the packet has (the chain of
    /// extension headers, then "protocol" unless it ends in ESP or no-next-header) and compares: exactly the
    /// set given, or with `--soft` at least it; `!` inverts. chainwalk's packets have no extension headers
    /// but a fragment header (when fragmented) and their transport header.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let pkt = ctx.pkt;
        let mut have = 0u8;
        if pkt.fragment_offset != 0 || pkt.more_fragments {
            have |= 0x10;
        }
        have |= match pkt.l4.proto() {
            0 => 0x80,
            60 => 0x40,
            43 => 0x20,
            51 => 0x08 | 0x01,
            50 => 0x04,
            59 => 0x02,
            _ => 0x01,
        };
        let flags = self.headers.0;
        let holds = if self.soft {
            let inv = if self.negated { 0xff } else { 0 };
            (have ^ flags ^ inv) & flags == 0
        } else {
            (have == flags) != self.negated
        };
        let asked = Headers(flags).names();
        let has = Headers(have).names();
        let why = format!(
            "the packet has {has}; {} {asked}{}, so this {}",
            if self.soft { "the test asks for at least" } else { "the test asks for exactly" },
            if self.negated { " (negated)" } else { "" },
            if holds { "holds" } else { "does not hold" }
        );
        // Hop-by-hop, destination options and routing headers are what chainwalk's packets cannot have.
        if flags & 0xe0 != 0 {
            return Outcome::assumed(
                holds,
                format!(
                    "{why} (chainwalk assumes the packet has no hop-by-hop, destination-options or routing header)"
                ),
            );
        }
        Outcome::when(holds, why)
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--header frag", "--header ipv6-frag"),
            (
                "--header hop,dst,route,frag,auth,esp,none,prot",
                "--header hop-by-hop,ipv6-opts,ipv6-route,ipv6-frag,ah,esp,ipv6-nonxt,protocol",
            ),
            (
                "--header hop-by-hop,ipv6-opts,ipv6-route,ipv6-frag,ah,esp,ipv6-nonxt,protocol",
                "--header hop-by-hop,ipv6-opts,ipv6-route,ipv6-frag,ah,esp,ipv6-nonxt,protocol",
            ),
            ("--header 44", "--header ipv6-frag"),
            ("--header frag --soft", "--header ipv6-frag --soft"),
            ("--soft --header route,frag", "--header ipv6-route,ipv6-frag --soft"),
            ("! --header frag", "! --header ipv6-frag"),
            ("--header 255", "--header protocol"),
            ("--header hop,hop", "--header hop-by-hop"),
            ("--header 0", "--header hop-by-hop"),
            ("--header esp,ipv6-nonxt,ipv6-opts", "--header ipv6-opts,esp,ipv6-nonxt"),
            ("--header HOPOPT,IPv6-Frag,IPSEC-AH", "--header hop-by-hop,ipv6-frag,ah"),
            ("--header ip,IP", "--header hop-by-hop"),
        ] {
            let rule = format!("-A INPUT -m ipv6header {given} -j DROP");
            assert_eq!(saved(Ipv6, "filter", &rule), format!("-A INPUT -m ipv6header {printed} -j DROP"));
        }
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv6, "filter", &format!("-A INPUT -m ipv6header {o} -j DROP"));
        assert_eq!(e(""), (10, "the ipv6header match needs `--header LIST`".into()));
        assert_eq!(
            e("--header bogus"),
            (33, "`bogus` is not an IPv6 header name (hop, dst, route, frag, auth, esp, none, prot)".into())
        );
        assert_eq!(e("--header tcp").1, "`tcp` (protocol 6) is not an IPv6 extension header");
        assert_eq!(e("--header HOP").1, "`HOP` is not a header name here: the names are case-sensitive (`hop`)");
        assert_eq!(
            e("--header hopopt,Ipv6-frag").1,
            "`Ipv6-frag` is not a header name here: the names are case-sensitive (`ipv6-frag`)"
        );
        assert_eq!(e("--header ,").1, "`--header` needs at least one header name");
        assert_eq!(e("! --soft --header ah").1, "`--soft` cannot be negated with `!`");
        assert_eq!(e("--header ah --header esp").1, "`--header` is given more than once");
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m ipv6header --header frag"),
            (10, "the ipv6header match exists only for IPv6 (ip6tables)".into())
        );
    }

    #[test]
    fn exact_and_soft_tests() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let eval = |s: &Scene, o: &str| match first_match(Ipv6, &format!("-m ipv6header {o}")) {
            MatchKind::Ipv6header(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let tcp = Scene::new("tcp [2001:db8::1]:1 -> [2001:db8::2]:2 in eth0 syn");
        let o = eval(&tcp, "--header prot");
        assert!(o.holds && !o.assumed);
        assert_eq!(o.why, "the packet has protocol; the test asks for exactly protocol, so this holds");
        assert!(!eval(&tcp, "--header frag --soft").holds);
        assert!(eval(&tcp, "! --header frag --soft").holds);
        assert!(!eval(&tcp, "! --header prot").holds);
        let o = eval(&tcp, "--header hop,prot");
        assert!(!o.holds && o.assumed);
        let esp = Scene::new("50 2001:db8::1 -> 2001:db8::2 in eth0");
        assert!(eval(&esp, "--header esp").holds);
    }
}
