//! `-m set --match-set NAME FLAGS`: membership of the packet's addresses and ports in an ipset
//! (`libxt_set` revision 4, the kernel's `xt_set.c`). The set's contents live outside the ruleset, so a
//! packet walk states an assumption about them; this module stores the options as the kernel does.
//!
//! `iptables-restore` refuses a rule whose set does not exist (it asks the kernel for the set's index).
//! chainwalk cannot know which sets exist, so it accepts the rule with a warning.

use super::u32::xt_strtoul;
use crate::diag::Diagnostic;
use crate::ext::{opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ipset::{Dim, IpSet, Key, Value};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write};

/// The longest set name (`IPSET_MAXNAMELEN` - 1).
pub const MAX_NAME_LEN: usize = 31;

/// The most `src`/`dst` flags a set lookup takes (`IPSET_DIM_MAX`).
pub const MAX_DIM: usize = 6;

/// The options of `-m set`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Set {
    /// `--match-set NAME FLAGS`: the set and which packet fields make up the lookup key.
    pub lookup: Negatable<SetLookup>,
    /// `--return-nomatch`: for sets with `nomatch` entries, such an entry makes the match succeed.
    pub return_nomatch: bool,
    /// False with `! --update-counters`: a match does not count the packet in the set's counters.
    pub update_counters: bool,
    /// False with `! --update-subcounters`: a match does not count the packet in a list:set member's counters.
    pub update_subcounters: bool,
    /// `--packets-eq|lt|gt N`: a test of the matching element's packet counter.
    pub packets: Option<Negatable<CounterTest>>,
    /// `--bytes-eq|lt|gt N`: a test of the matching element's byte counter.
    pub bytes: Option<Negatable<CounterTest>>,
}

/// A set lookup: the set's name and, for each dimension of its type, which address or port to use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetLookup {
    /// The set's name.
    pub name: String,
    /// One direction per dimension (`src,dst` for a `hash:ip,port` set keyed by source address and
    /// destination port).
    pub dirs: Vec<SetDir>,
}

/// Which side of the packet a set dimension is taken from (in `-m set` and `-j SET` alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetDir {
    /// `src`: the source address or port.
    Src,
    /// `dst`: the destination address or port.
    Dst,
}

/// A test of an element's counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CounterTest {
    /// `-eq N`: equal to N.
    Eq(u64),
    /// `-lt N`: less than N.
    Lt(u64),
    /// `-gt N`: greater than N.
    Gt(u64),
}

/// `src,dst,...`, as `iptables-save` prints a set's flags.
pub(crate) fn dirs_text(dirs: &[SetDir]) -> String {
    let words: Vec<&str> = dirs
        .iter()
        .map(|d| match d {
            SetDir::Src => "src",
            SetDir::Dst => "dst",
        })
        .collect();
    words.join(",")
}

impl fmt::Display for SetLookup {
    /// `NAME src,dst`, as `iptables-save` prints it (the name unquoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, dirs_text(&self.dirs))
    }
}

/// Reads `src,dst,...`.
/// The warning for a rule that names an ipset (`--match-set`, `-j SET --add-set`, ...): iptables-restore
/// refuses the rule when the machine lacks the set, which the dump cannot show.
pub(crate) fn set_must_exist(name: &str, span: crate::span::Span) -> Diagnostic {
    Diagnostic::warning(
        span,
        format!("iptables-restore needs the ipset `{name}` to exist (of this family); chainwalk cannot check that"),
    )
    .with_hint(format!("create it before restoring, e.g. `ipset create {name} hash:ip`"))
}

/// Reads a lookup's `src`/`dst` flags, as `libxt_set` reads them for the match and the SET target.
pub(crate) fn dirs(text: &str) -> Result<Vec<SetDir>, String> {
    let dirs = text
        .split(',')
        // libxt_set compares only an item's first three letters (`srcip` is `src`).
        .map(|w| match w.get(..3) {
            Some("src") => Ok(SetDir::Src),
            Some("dst") => Ok(SetDir::Dst),
            _ => Err(format!("`{text}` is not a list of `src` and `dst` separated by commas")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if dirs.len() > MAX_DIM {
        return Err(format!("a set lookup takes at most {MAX_DIM} `src`/`dst` flags; this one has {}", dirs.len()));
    }
    Ok(dirs)
}

/// Reads a counter value (`strtoull` in full, C notation, no sign).
fn counter(o: &Opt<'_>) -> Result<u64, Diagnostic> {
    let t = o.arg();
    match xt_strtoul(t, 0) {
        Some((Some(n), used)) if used == t.len() => Ok(n),
        _ => Err(o.bad_arg(format!("`{t}` is not a counter value (a number from 0 to {})", u64::MAX))),
    }
}

/// Reads one of `--packets-eq`, `--packets-lt`, `--packets-gt` (or the `bytes` ones).
fn counter_test(opts: &[Opt<'_>], what: &str) -> Result<Option<Negatable<CounterTest>>, Diagnostic> {
    let mut found: Option<Negatable<CounterTest>> = None;
    for o in opts.iter().filter(|o| o.name.strip_prefix(what).is_some_and(|r| r.starts_with('-'))) {
        if found.is_some() {
            return Err(Diagnostic::error(
                o.span,
                format!("only one of `--{what}-eq`, `--{what}-lt`, `--{what}-gt` may be given"),
            ));
        }
        let n = counter(o)?;
        let test = match &o.name[what.len()..] {
            "-eq" => CounterTest::Eq(n),
            "-lt" => CounterTest::Lt(n),
            _ => CounterTest::Gt(n),
        };
        if o.negated && !matches!(test, CounterTest::Eq(_)) {
            return Err(Diagnostic::error(o.span, format!("`--{}` cannot be negated with `!`", o.name)));
        }
        found = Some(Negatable { value: test, negated: o.negated, span: o.span });
    }
    Ok(found)
}

fn save_counter(out: &mut String, what: &str, test: &Option<Negatable<CounterTest>>) {
    if let Some(t) = test {
        let (cmp, n) = match t.value {
            CounterTest::Eq(n) => ("eq", n),
            CounterTest::Lt(n) => ("lt", n),
            CounterTest::Gt(n) => ("gt", n),
        };
        save_opt(out, t.negated, &format!("{what}-{cmp}"));
        let _ = write!(out, " {n}");
    }
}

impl Extension for Set {
    const OPTIONS: &'static [OptSpec] = &[
        opt("match-set", Args::Two),
        opt("set", Args::Two),
        opt("return-nomatch", Args::Zero),
        opt("update-counters", Args::Zero),
        opt("update-subcounters", Args::Zero),
        opt("packets-eq", Args::One),
        opt("packets-lt", Args::One),
        opt("packets-gt", Args::One),
        opt("bytes-eq", Args::One),
        opt("bytes-lt", Args::One),
        opt("bytes-gt", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Set, Diagnostic> {
        let mut lookup: Option<Negatable<SetLookup>> = None;
        for o in opts.iter().filter(|o| o.name == "match-set" || o.name == "set") {
            if lookup.is_some() {
                return Err(Diagnostic::error(o.span, "`--match-set` may be given only once"));
            }
            let name = o.arg();
            if name.len() > MAX_NAME_LEN {
                return Err(o.bad_arg(format!("set name `{name}` is longer than {MAX_NAME_LEN} characters")));
            }
            let dirs = dirs(o.arg2()).map_err(|m| Diagnostic::error(o.arg2_span(), m))?;
            warnings.push(set_must_exist(name, o.arg_span()));
            lookup =
                Some(Negatable { value: SetLookup { name: name.to_string(), dirs }, negated: o.negated, span: o.span });
        }
        // The flags may be repeated, as iptables allows.
        for o in opts.iter().filter(|o| o.name == "return-nomatch") {
            o.no_negation()?;
        }
        let given = |name: &str, negated: bool| opts.iter().any(|o| o.name == name && o.negated == negated);
        let packets = counter_test(opts, "packets")?;
        let bytes = counter_test(opts, "bytes")?;
        let Some(lookup) = lookup else {
            return Err(ctx.error("the set match needs `--match-set NAME src|dst[,...]`"));
        };
        Ok(Set {
            lookup,
            return_nomatch: given("return-nomatch", false),
            update_counters: !given("update-counters", true),
            update_subcounters: !given("update-subcounters", true),
            packets,
            bytes,
        })
    }

    /// `set_save_v4`: the lookup, the flags, then the counter tests.
    fn save(&self, out: &mut String) {
        save_opt(out, self.lookup.negated, "match-set");
        let _ = write!(out, " {}", self.lookup.value);
        if self.return_nomatch {
            out.push_str(" --return-nomatch");
        }
        if !self.update_counters {
            out.push_str(" ! --update-counters");
        }
        if !self.update_subcounters {
            out.push_str(" ! --update-subcounters");
        }
        save_counter(out, "packets", &self.packets);
        save_counter(out, "bytes", &self.bytes);
    }
}

impl Evaluate for Set {
    /// `set_match_v4` in `xt_set.c`: the packet matches when its key is in the set (or, negated, is not);
    /// the counter tests apply only to an element that was found. Without the set's contents (`ipset save`
    /// lines with the host) chainwalk assumes the key is not in it.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let lookup = &self.lookup.value;
        let first = match lookup.dirs.first() {
            Some(SetDir::Dst) => format!("DST={}", ctx.pkt.dst),
            _ => format!("SRC={}", ctx.pkt.src),
        };
        let shown = lookup.to_string();
        let dirs = shown.rsplit_once(' ').map_or("src", |(_, dirs)| dirs);
        let Some(index) = ctx.ipsets.iter().position(|s| s.name == lookup.name) else {
            let o = conclude(
                false,
                self.lookup.negated,
                format!(
                    "chainwalk does not know what ipset `{}` holds (the host gives no `ipset save` or `ipset list` output for it) \
                     and assumes the packet's key ({first}, looked up as {}) is not in it",
                    lookup.name, dirs
                ),
            );
            return Outcome::assumed(o.holds, o.why);
        };
        let (found, why) = match self.test(index, ctx) {
            Ok(found) => {
                let set = &ctx.ipsets[found.set];
                let member = &set.members[found.member];
                let text = member_text(member);
                let nomatch_type = set.dims.contains(&Dim::Net);
                let holds = found.positive;
                let how = match (member.nomatch, self.return_nomatch && nomatch_type) {
                    (true, true) => " (a `nomatch` element, which `--return-nomatch` counts as found)",
                    (true, false) => " (a `nomatch` element: the key counts as not in the set)",
                    (false, true) => {
                        " (which `--return-nomatch` counts as not found: it matches only `nomatch` elements)"
                    }
                    (false, false) => "",
                };
                let mut within =
                    if found.set == index { String::new() } else { format!(" (member of {})", lookup.name) };
                if set.counters && (self.packets.is_some() || self.bytes.is_some()) {
                    let (p, b) = (member.packets, member.bytes);
                    let (p, b) = if self.update_counters { (p + 1, b + u64::from(ctx.pkt.len)) } else { (p, b) };
                    within.push_str(&format!(" whose counters, at {p} packets and {b} bytes, pass the test"));
                }
                (
                    holds,
                    format!(
                        "the packet's key ({first}, looked up as {dirs}) finds {text} in set {}{within}{how}",
                        set.name
                    ),
                )
            }
            Err(why) => {
                (false, format!("the packet's key ({first}, looked up as {dirs}) is not in set {}: {why}", lookup.name))
            }
        };
        let o = conclude(found, self.lookup.negated, why);
        match &ctx.ipsets[index].guessed {
            Some(how) => Outcome::assumed(o.holds, format!("{} (the set's contents are {how})", o.why)),
            None => o,
        }
    }
}

/// A lookup's answer: the set (its index among the walk's sets; a member set's for a `list:set`) and the
/// element that answered.
pub struct Found {
    /// The set the element is in.
    pub set: usize,
    /// The element.
    pub member: usize,
    /// Whether the lookup counts as a hit: `ip_set_test` with `--return-nomatch` answers the other way
    /// round for a type that has `nomatch` elements (a `nomatch` element is a hit, any other is not);
    /// without it a `nomatch` element is no hit.
    pub positive: bool,
}

impl Set {
    /// Looks the packet up in the set at `index` (a `list:set`: in each member set in turn, the first that
    /// answers deciding) as the kernel does; the counters of the elements it meets on the way are counted
    /// in `ctx.set_counts` (`--update-counters`, the default). Err says why nothing was found.
    pub fn test(&self, index: usize, ctx: &EvalCtx<'_>) -> Result<Found, String> {
        let set = &ctx.ipsets[index];
        if set.dims == [Dim::Set] {
            // `list_set_ktest`: the member sets are looked up without the counter tests (their elements
            // counted unless `! --update-subcounters`); the tests and the count apply to the list's own
            // entry, and the first member whose answer is a hit and whose entry passes decides.
            // (`! --update-counters` keeps the members uncounted too: its flag goes down to them as it is.)
            let update_counters = self.update_counters && self.update_subcounters;
            let sub = Set { packets: None, bytes: None, update_counters, ..self.clone() };
            let mut why = Vec::new();
            for (entry, m) in set.members.iter().enumerate() {
                let Some(Value::Set(name)) = m.values.first() else { continue };
                match ctx.ipsets.iter().position(|s| s.name == *name && s.dims != [Dim::Set]) {
                    Some(j) => match sub.test(j, ctx) {
                        Ok(found) if found.positive && self.counters_hold(set, index, entry, ctx) => return Ok(found),
                        Ok(found) if found.positive => {
                            why.push(format!("the list's counters for {name} fail the test"))
                        }
                        Ok(_) => why.push(format!("{name} holds it as `nomatch`")),
                        Err(w) => why.push(format!("{name}: {w}")),
                    },
                    None => why.push(format!("{name} is not given")),
                }
            }
            return Err(if why.is_empty() { "the list has no member sets".into() } else { why.join("; ") });
        }
        let nomatch_type = set.dims.contains(&Dim::Net);
        test_in(set, index, &self.lookup.value.dirs, ctx, |m| self.counters_hold(set, index, m, ctx)).map(|mut f| {
            let nomatch = set.members[f.member].nomatch;
            f.positive = if self.return_nomatch && nomatch_type { nomatch } else { !nomatch };
            f
        })
    }

    /// Whether the element's counters, with this packet counted, pass `--packets-*` and `--bytes-*`
    /// (always, in a set without counters); records the count.
    fn counters_hold(&self, set: &IpSet, index: usize, member: usize, ctx: &EvalCtx<'_>) -> bool {
        if !set.counters {
            return true;
        }
        let m = &set.members[member];
        let (mut packets, mut bytes) = (m.packets, m.bytes);
        // Counted by an earlier lookup of the same rule (the walk adds them in after the rule).
        if let Some(counts) = ctx.set_counts {
            for &(_, _, b) in counts.borrow().iter().filter(|(s, e, _)| (*s, *e) == (index, member)) {
                packets += 1;
                bytes += b;
            }
        }
        if self.update_counters {
            // `ip_set_match_extensions` counts the packet before it compares.
            packets += 1;
            bytes += u64::from(ctx.pkt.len);
            if let Some(counts) = ctx.set_counts {
                counts.borrow_mut().push((index, member, u64::from(ctx.pkt.len)));
            }
        }
        let pass = |t: &Option<Negatable<CounterTest>>, n: u64| {
            t.as_ref().is_none_or(|t| {
                let r = match t.value {
                    CounterTest::Eq(v) => n == v,
                    CounterTest::Lt(v) => n < v,
                    CounterTest::Gt(v) => n > v,
                };
                r != t.negated
            })
        };
        pass(&self.packets, packets) && pass(&self.bytes, bytes)
    }
}

/// The element of `set` that answers the packet's key made with `dirs`: the kernel tries the elements that
/// cover the key from the longest prefix down and the first whose extensions pass (`pass`: its counters)
/// answers. Err says why none does.
fn test_in(
    set: &IpSet,
    index: usize,
    dirs: &[SetDir],
    ctx: &EvalCtx<'_>,
    pass: impl Fn(usize) -> bool,
) -> Result<Found, String> {
    if set.family.is_some_and(|f| f != ctx.family()) {
        return Err(format!("it is a set of the other family ({})", set.kind));
    }
    if dirs.len() < set.dims.len() {
        return Err(format!("the set has {} dimensions but the rule looks up {}", set.dims.len(), dirs.len()));
    }
    let key = packet_key(set, dirs, ctx.pkt, ctx.in_iface, ctx.out_iface)?;
    if set.dims == [Dim::Net, Dim::Iface] {
        return set.find_net_iface(&key, pass).map(|member| Found { set: index, member, positive: true });
    }
    let candidates = set.candidates(&key);
    for &member in &candidates {
        if pass(member) {
            return Ok(Found { set: index, member, positive: true });
        }
    }
    Err(if candidates.is_empty() {
        "no element covers it"
    } else {
        "no element that covers it passes the counter test"
    }
    .into())
}

/// The key a packet offers a set: for each dimension its source or destination value. Err where the
/// kernel's lookup fails (`-EINVAL`): no ports in a later fragment, no interface on that side at this hook,
/// no link-layer header.
pub fn packet_key(
    set: &IpSet,
    dirs: &[SetDir],
    pkt: &crate::packet::Packet,
    in_iface: Option<&str>,
    out_iface: Option<&str>,
) -> Result<Vec<Key>, String> {
    use crate::packet::L4;
    set.dims
        .iter()
        .zip(dirs)
        .map(|(dim, dir)| {
            let src = *dir == SetDir::Src;
            Ok(match dim {
                Dim::Ip | Dim::Net | Dim::Set => Key::Addr(if src { pkt.src } else { pkt.dst }),
                Dim::Port | Dim::BarePort => {
                    let proto = pkt.l4.proto();
                    // `ip_set_get_ip4_port`: a later IPv4 fragment of a protocol with ports has none (other
                    // protocols are looked up with port 0); an IPv6 one has no transport header at all.
                    let ported = matches!(proto, 6 | 17 | 132 | 136 | 1);
                    if pkt.fragment_offset != 0 && (ported || pkt.src.is_ipv6()) {
                        return Err("a later fragment carries no ports".into());
                    }
                    let port = match pkt.l4 {
                        L4::Icmp { icmp_type, code } | L4::Icmpv6 { icmp_type, code } => {
                            u16::from(icmp_type) << 8 | u16::from(code)
                        }
                        L4::Tcp { sport, dport, .. }
                        | L4::Udp { sport, dport }
                        | L4::Udplite { sport, dport }
                        | L4::Sctp { sport, dport } => {
                            if src {
                                sport
                            } else {
                                dport
                            }
                        }
                        _ => 0,
                    };
                    Key::Port(proto, port)
                }
                Dim::Iface => match if src { in_iface } else { out_iface } {
                    Some(name) if !name.is_empty() => Key::Iface(name.to_string()),
                    _ => {
                        return Err(format!(
                            "the packet has no {} interface at this hook",
                            if src { "input" } else { "output" }
                        ))
                    }
                },
                Dim::Mac => match pkt.mac_src {
                    Some(mac) if src => Key::Mac(mac),
                    _ => return Err("the packet's link-layer address on that side is not known".into()),
                },
                Dim::Mark => Key::Mark(pkt.mark),
            })
        })
        .collect()
}

/// An element as `ipset save` writes it.
fn member_text(m: &crate::ipset::Member) -> String {
    let parts: Vec<String> = m.values.iter().map(crate::ipset::Value::to_string).collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// `-m set OPTIONS` printed back, without the `-A INPUT -m set` before it.
    fn saved(options: &str) -> String {
        let line = format!("-A INPUT -m set {options} -j ACCEPT");
        let p = parsed(&line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m set ").trim_end_matches(" -j ACCEPT").to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m set {options} -j ACCEPT");
        let p = parsed(&line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        for same in [
            "--match-set foo src",
            "! --match-set foo src",
            "--match-set bar src,dst",
            "--match-set foo src,dst,src,dst,src,dst",
            "--match-set foo src --return-nomatch",
            "--match-set foo src ! --update-counters",
            "--match-set foo src ! --update-subcounters",
            "--match-set foo src --packets-eq 5",
            "--match-set foo src ! --packets-eq 5",
            "--match-set foo src --packets-lt 5",
            "--match-set foo src --packets-gt 5",
            "--match-set foo src ! --bytes-eq 100",
            "--match-set foo src --bytes-lt 100",
            "--match-set foo src --packets-eq 5 --bytes-gt 2",
            "--match-set foo src --packets-eq 18446744073709551615",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them.
        for (input, out) in [
            ("--set foo src", "--match-set foo src"),
            ("--match-set foo src --update-counters", "--match-set foo src"),
            ("--match-set foo src --update-counters --update-counters", "--match-set foo src"),
            ("--match-set foo src ! --update-counters ! --update-counters", "--match-set foo src ! --update-counters"),
            ("--match-set foo src --return-nomatch --return-nomatch", "--match-set foo src --return-nomatch"),
            ("! --update-counters --match-set foo src", "--match-set foo src ! --update-counters"),
            ("--match-set foo src --packets-eq 0x10", "--match-set foo src --packets-eq 16"),
            // Only an item's first three letters count (checked with iptables 1.8.9 and a set `x`).
            ("--match-set foo srcip,dstport", "--match-set foo src,dst"),
            ("--match-set foo \"src \"", "--match-set foo src"),
            (
                "--match-set foo src --bytes-gt 100 --packets-eq 5 --return-nomatch ! --update-counters ! --update-subcounters",
                "--match-set foo src --return-nomatch ! --update-counters ! --update-subcounters --packets-eq 5 --bytes-gt 100",
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn warns_that_the_set_must_exist() {
        let p = parsed("-A INPUT -m set --match-set foo src -m set --match-set bar dst,src -j ACCEPT");
        assert!(!p.has_errors());
        let w: Vec<_> = p.warnings().map(|w| (w.span.col, w.message.clone())).collect();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, 29);
        assert_eq!(
            w[0].1,
            "iptables-restore needs the ipset `foo` to exist (of this family); chainwalk cannot check that"
        );
    }

    #[test]
    fn errors() {
        let flags = "is not a list of `src` and `dst` separated by commas";
        for bad in ["SRC", "src,", "\"\"", "bogus"] {
            let (col, msg) = error(&format!("--match-set foo {bad}"));
            assert_eq!(col, 33, "{bad}");
            assert!(msg.ends_with(flags), "{msg}");
        }
        assert_eq!(
            error("--match-set foo src,dst,src,dst,src,dst,src").1,
            "a set lookup takes at most 6 `src`/`dst` flags; this one has 7"
        );
        assert_eq!(error("--match-set foo -j ACCEPT").1, "`--match-set` needs two arguments");
        assert_eq!(error(""), (10, "the set match needs `--match-set NAME src|dst[,...]`".into()));
        assert_eq!(error("--return-nomatch").1, "the set match needs `--match-set NAME src|dst[,...]`");
        assert_eq!(error("! --return-nomatch --match-set foo src").1, "`--return-nomatch` cannot be negated with `!`");
        assert_eq!(error("--match-set foo src ! --packets-lt 5").1, "`--packets-lt` cannot be negated with `!`");
        assert_eq!(
            error("--match-set foo src --packets-lt 5 --packets-gt 2"),
            (52, "only one of `--packets-eq`, `--packets-lt`, `--packets-gt` may be given".into())
        );
        assert_eq!(
            error("--match-set foo src --bytes-lt 5 --bytes-gt 6").1,
            "only one of `--bytes-eq`, `--bytes-lt`, `--bytes-gt` may be given"
        );
        assert_eq!(error("--match-set foo src --match-set bar dst").1, "`--match-set` may be given only once");
        for bad in ["18446744073709551616", "-1", "5x"] {
            assert_eq!(error(&format!("--match-set foo src --packets-eq {bad}")).0, 50, "{bad}");
        }
        assert_eq!(
            error("--match-set averyveryveryveryveryverylongsetname src"),
            (29, "set name `averyveryveryveryveryverylongsetname` is longer than 31 characters".into())
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m set {options}")) {
                MatchKind::Set(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn contents_are_unknown_so_not_in_the_set() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let o = eval(&s, "--match-set blocklist src");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk does not know what ipset `blocklist` holds (the host gives no `ipset save` or `ipset list` output for it) and assumes \
                 the packet's key (SRC=203.0.113.7, looked up as src) is not in it, so this does not hold"
            );
            let o = eval(&s, "! --match-set allowed dst,dst --packets-gt 5");
            assert!(o.holds && o.assumed);
            assert!(o.why.contains("(DST=192.0.2.2, looked up as dst,dst) is not in it, so this holds"), "{}", o.why);
        }
    }
}
