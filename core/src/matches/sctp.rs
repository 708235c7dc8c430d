//! `-m sctp`: ports and chunk types of SCTP packets (`libxt_sctp`, the kernel's `xt_sctp.c`).

use super::conntrack::all_of;
use super::tcp::eval_ports;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::parse_uint;
use crate::ruleset::{Negatable, Protocol};
use crate::values::PortRange;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The options of `-m sctp`. The kernel refuses the match unless the rule says `-p sctp` (not negated).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sctp {
    /// `--sport` (`--source-port`).
    pub sport: Option<Negatable<PortRange>>,
    /// `--dport` (`--destination-port`).
    pub dport: Option<Negatable<PortRange>>,
    /// `--chunk-types`: which chunk types the packet carries.
    pub chunks: Option<Negatable<ChunkTest>>,
}

/// A test of the chunks of an SCTP packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkTest {
    /// How the listed types are compared with the packet's.
    pub how: ChunkMatch,
    /// The chunk types listed, as a 256-bit map (bit N of word N / 32 for type N).
    pub types: [u32; 8],
    /// Flag tests, at most four (`XT_NUM_SCTP_FLAGS`).
    pub flags: Vec<ChunkFlags>,
}

/// How `--chunk-types` compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChunkMatch {
    /// `any`: at least one of the listed types is present.
    Any,
    /// `all`: all of the listed types are present.
    All,
    /// `only`: no type other than the listed ones is present.
    Only,
}

/// A test of the flags of one chunk type: the bits in `mask` must equal those in `flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkFlags {
    /// The chunk type the kernel applies the test to. `iptables` stores the position of the name in its
    /// table rather than the type, which differs for `I_DATA` (position 18, type 64): its flag test is
    /// then about type 18, and `iptables-save` does not print it.
    pub chunk_type: u8,
    /// The flag values wanted.
    pub flags: u8,
    /// The flags looked at.
    pub mask: u8,
}

/// The chunk types `iptables` knows: name, type, and the flag letters from bit 7 down to bit 0.
const CHUNKS: [(&str, u8, &str); 22] = [
    ("DATA", 0, "----IUBE"),
    ("INIT", 1, "--------"),
    ("INIT_ACK", 2, "--------"),
    ("SACK", 3, "--------"),
    ("HEARTBEAT", 4, "--------"),
    ("HEARTBEAT_ACK", 5, "--------"),
    ("ABORT", 6, "-------T"),
    ("SHUTDOWN", 7, "--------"),
    ("SHUTDOWN_ACK", 8, "--------"),
    ("ERROR", 9, "--------"),
    ("COOKIE_ECHO", 10, "--------"),
    ("COOKIE_ACK", 11, "--------"),
    ("ECN_ECNE", 12, "--------"),
    ("ECN_CWR", 13, "--------"),
    ("SHUTDOWN_COMPLETE", 14, "-------T"),
    ("ASCONF", 193, "--------"),
    ("ASCONF_ACK", 128, "--------"),
    ("FORWARD_TSN", 192, "--------"),
    ("I_DATA", 64, "----IUBE"),
    ("RE_CONFIG", 130, "--------"),
    ("PAD", 132, "--------"),
    ("I_FORWARD_TSN", 194, "--------"),
];

/// The most chunk types with flag tests (`XT_NUM_SCTP_FLAGS`).
pub const MAX_FLAG_TESTS: usize = 4;

impl ChunkTest {
    /// Whether chunk type `t` is listed.
    pub fn has(&self, t: u8) -> bool {
        self.types[usize::from(t / 32)] & (1 << (t % 32)) != 0
    }

    /// Reads `any|all|only` and `ALL`, `NONE` or `TYPE[:FLAGS],...` (names in any case).
    fn parse(how: &str, list: &str) -> Result<ChunkTest, (bool, String)> {
        let how = match how.to_ascii_lowercase().as_str() {
            "any" => ChunkMatch::Any,
            "all" => ChunkMatch::All,
            "only" => ChunkMatch::Only,
            _ => return Err((false, format!("`{how}` is not a chunk match (any, all or only)"))),
        };
        let mut test = ChunkTest { how, types: [0; 8], flags: Vec::new() };
        if list.eq_ignore_ascii_case("ALL") {
            test.types = [u32::MAX; 8];
            return Ok(test);
        }
        if list.eq_ignore_ascii_case("NONE") {
            return Ok(test);
        }
        for item in list.split(',').filter(|i| !i.is_empty()) {
            let (name, flags) = match item.split_once(':') {
                Some((n, f)) => (n, f),
                None => (item, ""),
            };
            let Some((index, &(_, t, letters))) =
                CHUNKS.iter().enumerate().find(|(_, (n, _, _))| n.eq_ignore_ascii_case(name))
            else {
                return Err((true, format!("`{name}` is not an SCTP chunk type")));
            };
            test.types[usize::from(t / 32)] |= 1 << (t % 32);
            for c in flags.chars() {
                let Some(pos) = letters.find(c.to_ascii_uppercase()) else {
                    let known = letters.replace('-', "");
                    let msg = if known.is_empty() {
                        format!("{name} chunks have no flags to test")
                    } else {
                        format!("`{c}` is not a flag of {name} chunks (they have {known})")
                    };
                    return Err((true, msg));
                };
                let bit = 1u8 << (7 - pos);
                let index = index as u8;
                let entry = match test.flags.iter_mut().position(|f| f.chunk_type == index) {
                    Some(i) => &mut test.flags[i],
                    None => {
                        if test.flags.len() == MAX_FLAG_TESTS {
                            return Err((
                                true,
                                format!("flags can be tested for at most {MAX_FLAG_TESTS} chunk types"),
                            ));
                        }
                        test.flags.push(ChunkFlags { chunk_type: index, flags: 0, mask: 0 });
                        let last = test.flags.len() - 1;
                        &mut test.flags[last]
                    }
                };
                entry.mask |= bit;
                if c.is_ascii_uppercase() {
                    entry.flags |= bit;
                }
            }
        }
        Ok(test)
    }

    /// `print_chunks`: the match type in lower case, then `NONE`, `ALL` or the types in numeric order.
    fn push(&self, out: &mut String) {
        out.push_str(match self.how {
            ChunkMatch::Any => " any",
            ChunkMatch::All => " all",
            ChunkMatch::Only => " only",
        });
        if self.types == [0; 8] {
            out.push_str(" NONE");
            return;
        }
        if self.types == [u32::MAX; 8] {
            out.push_str(" ALL");
            return;
        }
        let mut first = true;
        for t in (0..=255u8).filter(|&t| self.has(t)) {
            out.push(if first { ' ' } else { ',' });
            first = false;
            match CHUNKS.iter().find(|(_, ct, _)| *ct == t) {
                Some((name, _, _)) => out.push_str(name),
                None => {
                    let _ = write!(out, "{t}");
                }
            }
            for f in self.flags.iter().filter(|f| f.chunk_type == t) {
                let letters = CHUNKS.iter().find(|(_, ct, _)| *ct == t).map_or("--------", |c| c.2);
                out.push(':');
                for (pos, letter) in letters.chars().enumerate() {
                    let bit = 1u8 << (7 - pos);
                    if f.mask & bit != 0 {
                        out.push(if f.flags & bit != 0 { letter } else { letter.to_ascii_lowercase() });
                    }
                }
            }
        }
    }
}

/// Reads `--sport`/`--dport` for SCTP: numbers only, since `/etc/services` names hardly any SCTP service.
fn ports(opts: &[Opt<'_>], short: &str, long: &str) -> Result<Option<Negatable<PortRange>>, Diagnostic> {
    let mut found = None;
    for o in opts.iter().filter(|o| o.name == short || o.name == long) {
        if found.is_some() {
            return Err(Diagnostic::error(o.span, format!("`--{short}` is given more than once")));
        }
        let range = o.parse_arg(|t| {
            if t.split(':').any(|p| !p.is_empty() && parse_uint(p).is_none()) {
                return Err(format!("`{t}` is not a port or port range; iptables finds no SCTP service by that name"));
            }
            PortRange::parse(t)
        })?;
        found = Some(Negatable { value: range, negated: o.negated, span: o.span });
    }
    Ok(found)
}

fn save_ports(out: &mut String, name: &str, ports: &Option<Negatable<PortRange>>) {
    if let Some(p) = ports {
        save_opt(out, p.negated, name);
        let _ = write!(out, " {}", p.value);
    }
}

impl Extension for Sctp {
    const OPTIONS: &'static [OptSpec] = &[
        opt("source-port", Args::One),
        opt("sport", Args::One),
        opt("destination-port", Args::One),
        opt("dport", Args::One),
        opt("chunk-types", Args::Two),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Sctp, Diagnostic> {
        let sport = ports(opts, "sport", "source-port")?;
        let dport = ports(opts, "dport", "destination-port")?;
        let chunks = match find(opts, "chunk-types")? {
            Some(o) => {
                let test = ChunkTest::parse(o.arg(), o.arg2())
                    .map_err(|(second, m)| Diagnostic::error(if second { o.arg2_span() } else { o.arg_span() }, m))?;
                Some(Negatable { value: test, negated: o.negated, span: o.span })
            }
            None => None,
        };
        ctx.require_proto("the sctp match", &[Protocol::SCTP])?;
        Ok(Sctp { sport, dport, chunks })
    }

    /// `sctp_save`: ports whenever given (even `0:65535`), then the chunk test.
    fn save(&self, out: &mut String) {
        save_ports(out, "sport", &self.sport);
        save_ports(out, "dport", &self.dport);
        if let Some(c) = &self.chunks {
            save_opt(out, c.negated, "chunk-types");
            c.value.push(out);
        }
    }
}

impl ChunkTest {
    /// The answer the test gives whatever chunks a packet carries, if it has one: `any` of no type never
    /// holds, `all` of no type always does, and so does `only` of every type without flag tests.
    fn certain(&self) -> Option<bool> {
        let none = self.types.iter().all(|&w| w == 0);
        let every = self.types.iter().all(|&w| w == u32::MAX);
        match self.how {
            ChunkMatch::Any if none => Some(false),
            ChunkMatch::All if none => Some(true),
            ChunkMatch::Only if every && self.flags.is_empty() => Some(true),
            _ => None,
        }
    }
}

impl Evaluate for Sctp {
    /// `sctp_mt` in `xt_sctp.c`: no match for later fragments; the ports, then the chunk types. The packet
    /// model has no chunk list, so a chunk test is assumed not to hold unless its answer does not depend on
    /// the chunks.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if ctx.is_later_fragment() {
            return Outcome::no("a later fragment has no SCTP header, so the sctp match does not match it");
        }
        let tests_ports = self.sport.is_some() || self.dport.is_some();
        let (sport, dport) = match super::tcp::ports_for(ctx.pkt.l4, 132, tests_ports, "SCTP") {
            Ok(ports) => ports,
            Err(o) => return o,
        };
        let mut outcomes: Vec<Outcome> = [("SPT", sport, &self.sport), ("DPT", dport, &self.dport)]
            .into_iter()
            .filter_map(|(key, port, test)| eval_ports("sctp", key, port, test))
            .collect();
        if let Some(c) = &self.chunks {
            let mut test = String::new();
            c.value.push(&mut test);
            outcomes.push(match c.value.certain() {
                Some(holds) => conclude(
                    holds,
                    c.negated,
                    format!(
                        "--chunk-types{test} {} whatever chunks a packet carries",
                        if holds { "holds" } else { "fails" }
                    ),
                ),
                None => {
                    let fact = format!(
                        "the packet model has no SCTP chunk list, and chainwalk assumes the packet's chunks fail \
                         --chunk-types{test} (set it by hand if they pass)"
                    );
                    let o = conclude(false, c.negated, fact);
                    Outcome::assumed(o.holds, o.why)
                }
            });
        }
        all_of(outcomes, "the packet is SCTP")
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A INPUT");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
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
            "-A INPUT -p sctp -m sctp --sport 1:100 --dport 2905 -j ACCEPT",
            "-A INPUT -p sctp -m sctp --chunk-types any INIT -j ACCEPT",
            "-A INPUT -p sctp -m sctp --chunk-types all INIT,SACK -j ACCEPT",
            "-A INPUT -p sctp -m sctp --chunk-types only DATA:Be -j ACCEPT",
            "-A INPUT -p sctp -m sctp --chunk-types any ALL -j ACCEPT",
            "-A INPUT -p sctp -m sctp --chunk-types only NONE -j ACCEPT",
            "-A INPUT -p sctp -m sctp ! --chunk-types any INIT -j ACCEPT",
            "-A INPUT -p sctp -m sctp ! --dport 1 -j ACCEPT",
            "-A INPUT -p sctp -m sctp --sport 0:65535 --dport 0:65535 -j ACCEPT",
            "-A INPUT -p sctp -m sctp ! --sport 0:65535 -j ACCEPT",
            "-A INPUT -p sctp -m sctp -j ACCEPT",
            "-A INPUT -p sctp -m sctp --chunk-types only ABORT:t -j ACCEPT",
            "-A INPUT -p sctp -m sctp --chunk-types only SHUTDOWN_COMPLETE:T -j ACCEPT",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them.
        for (input, out) in [
            ("--dport 2905 --sport 1:100", "--sport 1:100 --dport 2905"),
            ("--source-port 5 --destination-port 6", "--sport 5 --dport 6"),
            ("--dport 0x10", "--dport 16"),
            ("--dport :5", "--dport 0:5"),
            ("--dport 5:", "--dport 5:65535"),
            ("--chunk-types ANY init", "--chunk-types any INIT"),
            ("--chunk-types any SACK,INIT", "--chunk-types any INIT,SACK"),
            ("--chunk-types only DATA:ubei", "--chunk-types only DATA:iube"),
            ("--chunk-types any DATA:B,DATA:E", "--chunk-types any DATA:BE"),
            ("--chunk-types only DATA:Bb", "--chunk-types only DATA:B"),
            ("--chunk-types any DATA,DATA", "--chunk-types any DATA"),
            ("--chunk-types any DATA:,INIT", "--chunk-types any DATA,INIT"),
            ("--chunk-types any \"\"", "--chunk-types any NONE"),
            ("--chunk-types any none", "--chunk-types any NONE"),
            ("--chunk-types all ALL", "--chunk-types all ALL"),
            (
                "--chunk-types any I_DATA,RE_CONFIG,I_FORWARD_TSN,PAD",
                "--chunk-types any I_DATA,RE_CONFIG,PAD,I_FORWARD_TSN",
            ),
            (
                "--chunk-types any COOKIE_ECHO,COOKIE_ACK,ECN_ECNE,ECN_CWR,ASCONF,ASCONF_ACK,FORWARD_TSN,HEARTBEAT_ACK",
                "--chunk-types any HEARTBEAT_ACK,COOKIE_ECHO,COOKIE_ACK,ECN_ECNE,ECN_CWR,ASCONF_ACK,FORWARD_TSN,ASCONF",
            ),
            // iptables files I_DATA's flags under the wrong type, so they do not print.
            ("--chunk-types any I_DATA:U", "--chunk-types any I_DATA"),
            ("--chunk-types any I_DATA:U,DATA:I", "--chunk-types any DATA:I,I_DATA"),
            (
                "--chunk-types any DATA:B,ABORT:T,SHUTDOWN_COMPLETE:t,I_DATA:E,DATA:U",
                "--chunk-types any DATA:UB,ABORT:T,SHUTDOWN_COMPLETE:t,I_DATA",
            ),
            ("--dport 5 --chunk-types all INIT,DATA:U", "--dport 5 --chunk-types all DATA:U,INIT"),
        ] {
            assert_eq!(
                saved(&format!("-A INPUT -p sctp {input} -j ACCEPT")),
                format!("-A INPUT -p sctp -m sctp {out} -j ACCEPT"),
                "{input}"
            );
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("-A INPUT -p sctp --chunk-types any BOGUS -j ACCEPT"),
            (36, "`BOGUS` is not an SCTP chunk type".into())
        );
        assert_eq!(error("-A INPUT -p sctp --chunk-types any ALL,INIT").1, "`ALL` is not an SCTP chunk type");
        assert_eq!(
            error("-A INPUT -p sctp --chunk-types bogus INIT"),
            (32, "`bogus` is not a chunk match (any, all or only)".into())
        );
        assert_eq!(
            error("-A INPUT -p sctp --chunk-types only DATA:x").1,
            "`x` is not a flag of DATA chunks (they have IUBE)"
        );
        assert_eq!(error("-A INPUT -p sctp --chunk-types only INIT:T").1, "INIT chunks have no flags to test");
        assert_eq!(error("-A INPUT -p sctp --chunk-types any -j ACCEPT").1, "`--chunk-types` needs two arguments");
        assert_eq!(
            error("-A INPUT -p sctp --sport ssh"),
            (26, "`ssh` is not a port or port range; iptables finds no SCTP service by that name".into())
        );
        assert_eq!(error("-A INPUT -p sctp --dport 70000").0, 26);
        assert_eq!(error("-A INPUT -p sctp --dport 10:5").1, "port range `10:5` is reversed: 10 is more than 5");
        assert_eq!(error("-A INPUT -p sctp --sport 5 --source-port 6").0, 28);
        assert_eq!(error("-A INPUT -p sctp --chunk-types any INIT --chunk-types any SACK").0, 41);
        assert_eq!(error("-A INPUT -p tcp -m sctp --dport 1").1, "the sctp match needs the rule to say -p sctp");
        assert_eq!(error("-A INPUT -m sctp --dport 1").0, 10);
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(options: &str) -> Outcome {
            let s = Scene::new("sctp 203.0.113.7:40000 -> 192.0.2.2:3868 in eth0");
            match first_match(Family::Ipv4, &format!("-p sctp -m sctp {options}")) {
                MatchKind::Sctp(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn ports() {
            let o = eval("--dport 3868");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "DPT=3868 is 3868, so this holds");
            let o = eval("--sport 1:1024 --dport 3868");
            assert!(!o.holds);
            assert_eq!(o.why, "SPT=40000 is not in 1:1024, so this does not hold");
            assert!(eval("! --sport 1:1024").holds);
        }

        #[test]
        fn chunks_are_assumed_to_fail() {
            let o = eval("--dport 3868 --chunk-types any INIT");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "the packet model has no SCTP chunk list, and chainwalk assumes the packet's chunks fail --chunk-types \
                 any INIT (set it by hand if they pass), so this does not hold"
            );
            let o = eval("! --chunk-types all DATA,SACK");
            assert!(o.holds && o.assumed);
            let o = eval("--chunk-types only ALL");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "--chunk-types only ALL holds whatever chunks a packet carries, so this holds");
            assert!(!eval("--chunk-types any NONE").holds);
        }

        #[test]
        fn a_packet_from_the_kernels_log_has_no_ports() {
            // The kernel logs SCTP as `PROTO=132`, without ports.
            let s = Scene::new("IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.2 PROTO=132");
            let eval = |options: &str| match first_match(Family::Ipv4, &format!("-p sctp -m sctp {options}")) {
                MatchKind::Sctp(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            };
            let o = eval("--dport 3868");
            assert!(!o.holds && o.assumed);
            assert!(o.why.starts_with("the kernel's log prints no ports for SCTP and DCCP"), "{}", o.why);
            let o = eval("--chunk-types only ALL");
            assert!(o.holds && !o.assumed);
            let multiport = match first_match(Family::Ipv4, "-p sctp -m multiport --dports 3868,3869") {
                MatchKind::Multiport(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            };
            assert!(!multiport.holds && multiport.assumed);
        }
    }
}
