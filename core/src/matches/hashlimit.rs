//! `-m hashlimit`: token buckets kept per address or port group, in a table named by `--hashlimit-name`
//! (`libxt_hashlimit` revision 3, the kernel's `xt_hashlimit.c`). Whether a packet matches depends on the
//! packets before it, so a packet walk states an assumption about it; this module stores every setting as
//! the kernel receives it, so that it prints back exactly as `iptables-save` prints it.

use super::connlimit::plen_or_mask;
use super::limit::{atoll, parse_rate, push_rate, rate_parts, RateError};
use super::u32::xt_strtoul;
use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Family;
use crate::values::opt_number;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The kernel's unit for packet rates of revisions 2 and 3: periods in 1/1000000 s (`XT_HASHLIMIT_SCALE_v2`).
pub const SCALE: u64 = 1_000_000;

/// The burst when `--hashlimit-burst` is not given.
pub const DEFAULT_BURST: u64 = 5;

/// The largest packet burst `iptables` takes (`XT_HASHLIMIT_BURST_MAX`).
pub const MAX_BURST: u64 = 1_000_000;

/// The garbage collection interval when none is given, in milliseconds.
pub const DEFAULT_GC_INTERVAL: u32 = 1000;

/// The most buckets and entries the kernel allows; larger values are cut down to it (`HASHLIMIT_MAX_SIZE`).
pub const MAX_SIZE: u32 = 1 << 20;

/// The longest table name the kernel stores (`NAME_MAX` - 1 of revision 3); longer names are cut.
pub const MAX_NAME_LEN: usize = 255;

/// Byte rates are counted in 16-byte steps (`XT_HASHLIMIT_BYTE_SHIFT`).
const BYTE_SHIFT: u32 = 4;

/// The options of `-m hashlimit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashlimit {
    /// The rate and burst, in packets or in bytes.
    pub rate: HashRate,
    /// `--hashlimit-above` (or `! --hashlimit-upto`): match when the rate is exceeded, not while it holds.
    pub above: bool,
    /// `--hashlimit-mode`: what a bucket is kept for; with nothing chosen, one bucket for all packets.
    pub mode: HashMode,
    /// `--hashlimit-name`: the table's name (and its file in `/proc/net/ipt_hashlimit/`).
    pub name: String,
    /// `--hashlimit-htable-size`: the number of hash buckets; 0 lets the kernel choose.
    pub size: u32,
    /// `--hashlimit-htable-max`: the most entries; 0 lets the kernel choose.
    pub max: u32,
    /// `--hashlimit-htable-gcinterval`: milliseconds between garbage collections.
    pub gc_interval: u32,
    /// `--hashlimit-htable-expire`: milliseconds after which an idle entry is dropped.
    pub expire: u32,
    /// `--hashlimit-srcmask`: the prefix length source addresses are grouped by.
    pub src_mask: u8,
    /// `--hashlimit-dstmask`: the prefix length destination addresses are grouped by.
    pub dst_mask: u8,
    /// `--hashlimit-rate-match`: match on the measured rate instead of limiting it.
    pub rate_match: bool,
    /// `--hashlimit-rate-interval`: seconds over which `--hashlimit-rate-match` measures.
    pub interval: u32,
    /// The rule's address family, which decides the default masks (32 or 128).
    pub family: Family,
}

/// A hashlimit rate as the kernel stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HashRate {
    /// A packet rate: one packet every `avg` microseconds on average, bursts of up to `burst` packets.
    Packets {
        /// The average time between packets, in 1/1000000 s.
        avg: u64,
        /// The burst, in packets.
        burst: u64,
    },
    /// A byte rate (`100kb/s`): the cost of a 16-byte step, and the burst in multiples of the bytes a
    /// second allows (0 when no burst was given).
    Bytes {
        /// The cost of 16 bytes in the kernel's credits (`bytes_to_cost`).
        cost: u64,
        /// The burst in multiples of the rate's bytes per second.
        burst: u64,
    },
}

/// What `--hashlimit-mode` keeps buckets for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HashMode {
    /// `srcip`: the source address (grouped by `--hashlimit-srcmask`).
    pub src_ip: bool,
    /// `srcport`: the source port.
    pub src_port: bool,
    /// `dstip`: the destination address (grouped by `--hashlimit-dstmask`).
    pub dst_ip: bool,
    /// `dstport`: the destination port.
    pub dst_port: bool,
}

impl HashMode {
    /// Reads a list of `srcip`, `srcport`, `dstip`, `dstport` separated by `,` or `|` (empty is allowed).
    fn parse(text: &str) -> Result<HashMode, String> {
        let mut m = HashMode::default();
        for word in text.split([',', '|']).filter(|w| !w.is_empty()) {
            match word {
                "srcip" => m.src_ip = true,
                "srcport" => m.src_port = true,
                "dstip" => m.dst_ip = true,
                "dstport" => m.dst_port = true,
                _ => {
                    return Err(format!(
                        "`{word}` is not a hashlimit mode; use srcip, srcport, dstip, dstport joined by commas"
                    ))
                }
            }
        }
        Ok(m)
    }

    fn is_empty(&self) -> bool {
        *self == HashMode::default()
    }
}

/// `bytes_to_cost`: the credits 16 bytes cost at a rate of `bytes` per second (`None` where the C code
/// would divide by zero).
fn bytes_to_cost(bytes: u64) -> Option<u64> {
    let r = (bytes >> BYTE_SHIFT) as u32;
    r.checked_add(1).map(|d| u64::from(u32::MAX) / u64::from(d))
}

/// `cost_to_bytes`: the bytes per second a cost stands for, as `iptables` computes it back.
fn cost_to_bytes(cost: u64) -> u64 {
    let r = u64::from(u32::MAX).checked_div(cost).unwrap_or(u64::from(u32::MAX));
    r.wrapping_sub(1) << BYTE_SHIFT
}

/// The byte units `iptables` prints, largest first.
const BYTE_UNITS: [(&str, u64); 3] = [("m", 1 << 20), ("k", 1 << 10), ("", 1)];

/// A suffix's factor (`k`, `m`), as `get_factor` reads it.
fn factor(c: Option<&u8>) -> u64 {
    match c {
        Some(b'm') => 1 << 20,
        Some(b'k') => 1 << 10,
        _ => 1,
    }
}

/// `parse_bytes`: `N[k|m]b/s` gives a cost, or `None` when the text is not a byte rate.
fn parse_bytes(text: &str) -> Option<Result<u64, String>> {
    let at = text.find("b/s").filter(|&at| at > 0)?;
    let r = atoll(text);
    if r == 0 {
        return None;
    }
    let bytes = (r as u64).wrapping_mul(factor(text.as_bytes().get(at - 1)));
    Some(bytes_to_cost(bytes).ok_or_else(|| format!("byte rate `{text}` is too high")))
}

impl HashRate {
    /// The milliseconds `iptables-save` takes as the default expiry for this rate (`print_rate`'s and
    /// `print_bytes`'s return value): an expiry equal to it is not printed.
    fn quantum(&self) -> u64 {
        match *self {
            HashRate::Packets { avg, .. } => rate_parts(avg, SCALE).2 * 1000,
            HashRate::Bytes { burst: 0, .. } => 15_000,
            HashRate::Bytes { .. } => 60_000,
        }
    }
}

/// `user2credits` of `xt_hashlimit.c` for revision 3 with HZ 250 or 1000 (both give the factor
/// 137438953), in the kernel's wrapping 64-bit arithmetic.
fn user2credits(user: u64) -> u64 {
    user.wrapping_mul(137_438_953)
}

/// Reads a prefix length of `--hashlimit-srcmask`/`--hashlimit-dstmask` as iptables 1.8.9 does
/// ([`plen_or_mask`]); a mask that is not contiguous gives a length the kernel refuses.
fn prefix(o: &Opt<'_>, family: Family) -> Result<u32, Diagnostic> {
    let t = o.arg();
    match plen_or_mask(t, family) {
        Ok(Some(len)) => Ok(len),
        Ok(None) => Err(o.bad_arg(format!(
            "`{t}` is not a contiguous mask, so iptables passes no prefix length the kernel accepts"
        ))),
        Err(e) => Err(o.bad_arg(e)),
    }
}

impl Extension for Hashlimit {
    const OPTIONS: &'static [OptSpec] = &[
        opt("hashlimit-upto", Args::One),
        opt("hashlimit-above", Args::One),
        opt("hashlimit", Args::One),
        opt("hashlimit-srcmask", Args::One),
        opt("hashlimit-dstmask", Args::One),
        opt("hashlimit-burst", Args::One),
        opt("hashlimit-htable-size", Args::One),
        opt("hashlimit-htable-max", Args::One),
        opt("hashlimit-htable-gcinterval", Args::One),
        opt("hashlimit-htable-expire", Args::One),
        opt("hashlimit-mode", Args::One),
        opt("hashlimit-name", Args::One),
        opt("hashlimit-rate-match", Args::Zero),
        opt("hashlimit-rate-interval", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Hashlimit, Diagnostic> {
        let rates = ["hashlimit-upto", "hashlimit-above", "hashlimit"];
        for o in opts.iter().filter(|o| !rates.contains(&o.name)) {
            o.no_negation()?;
        }
        exclusive(opts, &rates)?;
        let rate_opt = opts.iter().find(|o| rates.contains(&o.name));
        let width: u8 = if ctx.family == Family::Ipv4 { 32 } else { 128 };
        let number = |name: &str| -> Result<Option<(u32, &Opt<'_>)>, Diagnostic> {
            match find(opts, name)? {
                Some(o) => Ok(Some((opt_number(o, 0, u64::from(u32::MAX))? as u32, o))),
                None => Ok(None),
            }
        };

        // The rate, in packets or bytes, and the unit it was written in (for the default expiry).
        let Some(r) = rate_opt else {
            return Err(ctx.error("the hashlimit match needs `--hashlimit-upto RATE` or `--hashlimit-above RATE`"));
        };
        let above = (r.name == "hashlimit-above") != r.negated;
        let (mut avg_or_cost, bytes, unit_seconds) = match parse_bytes(r.arg()) {
            Some(cost) => (r.parse_arg(|_| cost)?, true, 15),
            None => {
                let p = r.parse_arg(|t| {
                    parse_rate(t, SCALE, true).map_err(|e| match e {
                        RateError::Bad => {
                            format!("`{t}` is not a rate; write N/second, N/minute, N/hour, N/day, or bytes as Nkb/s")
                        }
                        RateError::TooFast => {
                            format!("rate `{t}` is too fast: hashlimit counts at most 1000000/second")
                        }
                    })
                })?;
                (p.period, false, p.unit_seconds)
            }
        };

        let burst_opt = find(opts, "hashlimit-burst")?;
        let burst_error = |o: &Opt<'_>| {
            o.bad_arg(format!("`--hashlimit-burst` takes a number from 1 to {MAX_BURST}, not `{}`", o.arg()))
        };
        let burst_given = match burst_opt {
            Some(o) => {
                let (v, used) = match xt_strtoul(o.arg(), 0) {
                    Some((Some(v), used)) if v >= 1 => (v, used),
                    _ => return Err(burst_error(o)),
                };
                let suffix = o.arg().as_bytes().get(used);
                if suffix.is_none() && v > MAX_BURST {
                    return Err(burst_error(o));
                }
                Some((v.wrapping_mul(factor(suffix)), o))
            }
            None => None,
        };

        let expire_opt = number("hashlimit-htable-expire")?;
        let mut expire = unit_seconds * 1000;
        let rate = if bytes {
            let mut burst = 0;
            if let Some((b, o)) = burst_given {
                let per_second = cost_to_bytes(avg_or_cost);
                if per_second == 0 || b < per_second {
                    return Err(o.bad_arg(format!("the burst cannot be smaller than the rate: {per_second}b")));
                }
                burst = u64::from(b as u32 / per_second as u32) + u64::from(b % per_second != 0);
                expire = 60_000;
            }
            HashRate::Bytes { cost: avg_or_cost, burst }
        } else {
            let burst = match burst_given {
                Some((b, o)) if b > MAX_BURST => return Err(burst_error(o)),
                Some((b, _)) => b,
                None => DEFAULT_BURST,
            };
            HashRate::Packets { avg: avg_or_cost, burst }
        };
        if let Some((e, _)) = expire_opt {
            expire = u64::from(e);
        }

        let mode = match find(opts, "hashlimit-mode")? {
            Some(o) => o.parse_arg(HashMode::parse)?,
            None => HashMode::default(),
        };
        let mut masks = [width, width];
        for (i, name) in ["hashlimit-srcmask", "hashlimit-dstmask"].into_iter().enumerate() {
            if let Some(o) = find(opts, name)? {
                masks[i] = prefix(o, ctx.family)? as u8;
            }
        }

        let rate_match = find(opts, "hashlimit-rate-match")?.is_some();
        let interval_opt = find(opts, "hashlimit-rate-interval")?;
        let mut interval = match interval_opt {
            Some(o) => o.parse_arg(|t| {
                t.parse::<u32>().ok().filter(|&n| n >= 1 && t.bytes().all(|b| b.is_ascii_digit())).ok_or_else(|| {
                    format!("`--hashlimit-rate-interval` takes seconds from 1 to {}, not `{t}`", u32::MAX)
                })
            })?,
            None => 1,
        };
        // In rate-match mode `iptables` turns N/unit into N/second measured over an interval of one unit.
        if rate_match && !bytes {
            avg_or_cost /= unit_seconds;
            if interval_opt.is_none() {
                interval = unit_seconds as u32;
            }
        }
        let rate = match rate {
            HashRate::Packets { burst, .. } => HashRate::Packets { avg: avg_or_cost, burst },
            bytes => bytes,
        };

        let Some(name_opt) = find(opts, "hashlimit-name")? else {
            return Err(ctx.error("the hashlimit match needs `--hashlimit-name NAME`"));
        };
        let mut name = name_opt.arg().to_string();
        if name.is_empty() {
            return Err(name_opt.bad_arg("`--hashlimit-name` needs a name of at least one character"));
        }
        if name.len() > MAX_NAME_LEN {
            let mut cut = MAX_NAME_LEN;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name.truncate(cut);
            warnings.push(Diagnostic::warning(
                name_opt.arg_span(),
                format!("the name is longer than {MAX_NAME_LEN} bytes; iptables keeps only the first {MAX_NAME_LEN}"),
            ));
        }
        if name == "." || name == ".." || name.contains('/') {
            return Err(name_opt.bad_arg(format!(
                "the kernel refuses `{name}` as a table name: it names a file in /proc/net/ipt_hashlimit/"
            )));
        }

        let mut sizes = [0u32; 2];
        for (i, n) in ["hashlimit-htable-size", "hashlimit-htable-max"].into_iter().enumerate() {
            if let Some((v, o)) = number(n)? {
                sizes[i] = v;
                if v > MAX_SIZE {
                    sizes[i] = MAX_SIZE;
                    warnings.push(Diagnostic::warning(
                        o.span,
                        format!("the kernel cuts `--{n}` down to {MAX_SIZE}, and iptables-save prints that"),
                    ));
                }
            }
        }
        let gc_interval = match number("hashlimit-htable-gcinterval")? {
            Some((0, o)) => return Err(o.bad_arg("the kernel refuses a garbage collection interval of 0")),
            Some((v, _)) => v,
            None => DEFAULT_GC_INTERVAL,
        };
        let expire = expire as u32;
        if expire == 0 {
            let at = expire_opt.map(|(_, o)| o.span).unwrap_or(ctx.span);
            return Err(Diagnostic::error(at, "the kernel refuses an expiry of 0 milliseconds"));
        }
        if let HashRate::Packets { avg, burst } = rate {
            if !rate_match && user2credits(avg.wrapping_mul(burst)) < user2credits(avg) {
                let mut shown = String::new();
                push_rate(&mut shown, avg, SCALE);
                return Err(Diagnostic::error(
                    burst_opt.map(|o| o.span).unwrap_or(r.span),
                    format!("the kernel refuses a rate of{shown} with a burst of {burst}: its credit counter would overflow"),
                )
                .with_hint("use a faster rate or a smaller burst"));
            }
        }
        Ok(Hashlimit {
            rate,
            above,
            mode,
            name,
            size: sizes[0],
            max: sizes[1],
            gc_interval,
            expire,
            src_mask: masks[0],
            dst_mask: masks[1],
            rate_match,
            interval,
            family: ctx.family,
        })
    }

    /// `hashlimit_mt_save` of revision 3.
    fn save(&self, out: &mut String) {
        out.push_str(if self.above { " --hashlimit-above" } else { " --hashlimit-upto" });
        match self.rate {
            HashRate::Packets { avg, burst } => {
                push_rate(out, avg, SCALE);
                let _ = write!(out, " --hashlimit-burst {burst}");
            }
            HashRate::Bytes { cost, burst } => {
                let r = cost_to_bytes(cost);
                let (unit, thresh) = BYTE_UNITS
                    .iter()
                    .take(2)
                    .find(|(_, t)| r >= *t && bytes_to_cost(r & u64::from(!(*t as u32 - 1))) == Some(cost))
                    .copied()
                    .unwrap_or(BYTE_UNITS[2]);
                let _ = write!(out, " {}{unit}b/s", r / thresh);
                if burst != 0 {
                    let total = r.wrapping_mul(burst);
                    let (unit, thresh) =
                        BYTE_UNITS.iter().take(2).find(|(_, t)| total >= *t).copied().unwrap_or(BYTE_UNITS[2]);
                    let _ = write!(out, " --hashlimit-burst {}{unit}b", total / thresh);
                }
            }
        }
        if !self.mode.is_empty() {
            let names = [
                (self.mode.src_ip, "srcip"),
                (self.mode.src_port, "srcport"),
                (self.mode.dst_ip, "dstip"),
                (self.mode.dst_port, "dstport"),
            ];
            let chosen: Vec<&str> = names.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
            let _ = write!(out, " --hashlimit-mode {}", chosen.join(","));
        }
        let _ = write!(out, " --hashlimit-name {}", self.name);
        if self.size != 0 {
            let _ = write!(out, " --hashlimit-htable-size {}", self.size);
        }
        if self.max != 0 {
            let _ = write!(out, " --hashlimit-htable-max {}", self.max);
        }
        if self.gc_interval != DEFAULT_GC_INTERVAL {
            let _ = write!(out, " --hashlimit-htable-gcinterval {}", self.gc_interval);
        }
        if u64::from(self.expire) != self.rate.quantum() {
            let _ = write!(out, " --hashlimit-htable-expire {}", self.expire);
        }
        let full = self.full_mask();
        if self.src_mask != full {
            let _ = write!(out, " --hashlimit-srcmask {}", self.src_mask);
        }
        if self.dst_mask != full {
            let _ = write!(out, " --hashlimit-dstmask {}", self.dst_mask);
        }
        if self.rate_match {
            out.push_str(" --hashlimit-rate-match");
            if self.interval != 1 {
                let _ = write!(out, " --hashlimit-rate-interval {}", self.interval);
            }
        }
    }
}

impl Hashlimit {
    /// The full prefix length of the rule's family, which `iptables-save` leaves out.
    fn full_mask(&self) -> u8 {
        if self.family == Family::Ipv4 {
            32
        } else {
            128
        }
    }
}

impl Hashlimit {
    /// For a packet rate that already took a credit from the packet's bucket `runs` times in this walk
    /// (a user chain entered again, microseconds later), what it says now: a new bucket holds
    /// `--hashlimit-burst` credits and does not refill in that time, so the run after the burst is over
    /// the rate (as for the limit match). `None` while credits are left, and for byte rates and
    /// `--hashlimit-rate-match`, whose costs chainwalk does not follow.
    /// Which bucket of its table a packet takes (`hashlimit_init_dst`): its fields of `--hashlimit-mode`,
    /// addresses cut to `--hashlimit-srcmask`/`--hashlimit-dstmask`; one for all with no mode. Rules of one
    /// `--hashlimit-name` share their table.
    pub(crate) fn bucket(&self, pkt: &crate::packet::Packet) -> u64 {
        use crate::ruleset::addr::{prefix_mask_v4, prefix_mask_v6};
        use std::hash::{Hash, Hasher};
        let cut = |a: std::net::IpAddr, len: u8| match a {
            std::net::IpAddr::V4(v) => u128::from(u32::from(v) & prefix_mask_v4(u32::from(len.min(32)))),
            std::net::IpAddr::V6(v) => u128::from(v) & prefix_mask_v6(u32::from(len.min(128))),
        };
        let ports = pkt.l4.ports();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.name.as_str(), self.family == Family::Ipv6).hash(&mut h);
        (self.mode.src_ip.then(|| cut(pkt.src, self.src_mask))).hash(&mut h);
        (self.mode.dst_ip.then(|| cut(pkt.dst, self.dst_mask))).hash(&mut h);
        (self.mode.src_port.then(|| ports.map(|p| p.0))).hash(&mut h);
        (self.mode.dst_port.then(|| ports.map(|p| p.1))).hash(&mut h);
        h.finish()
    }

    pub(crate) fn again(&self, runs: u32) -> Option<Outcome> {
        let HashRate::Packets { burst, .. } = self.rate else { return None };
        if self.rate_match || u64::from(runs) < burst {
            return None;
        }
        let o = conclude(
            false,
            self.above,
            format!(
                "this packet already took {runs} credit{} from its bucket in hashlimit table `{}` in this walk (a \
                 chain it entered again), which spent the burst of {burst}, so it is over the rate",
                if runs == 1 { "" } else { "s" },
                self.name
            ),
        );
        Some(Outcome::assumed(o.holds, o.why))
    }
}

impl Evaluate for Hashlimit {
    /// `hashlimit_mt` in `xt_hashlimit.c` keeps a bucket per key (`--hashlimit-mode`) that refills at the rate;
    /// it depends on the packets before this one, which chainwalk does not have, so the packet's bucket is
    /// assumed within the rate (as a new bucket is): `--hashlimit-upto` matches, `--hashlimit-above` does not.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let mut rule = String::new();
        self.save(&mut rule);
        let rate = rule.split(" --hashlimit-mode").next().unwrap_or_default();
        let rate = rate.split(" --hashlimit-name").next().unwrap_or_default().trim_start();
        let bucket = match rule.split(" --hashlimit-mode ").nth(1).and_then(|r| r.split(' ').next()) {
            Some(mode) => format!("the packet's bucket ({mode})"),
            None => "the one bucket of all packets".to_string(),
        };
        let o = conclude(
            true,
            self.above,
            format!(
                "chainwalk keeps no packet counts and assumes {bucket} in hashlimit table `{}` is within `{rate}`, \
                 as a new bucket is (set it by hand to see one over the rate)",
                self.name
            ),
        );
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(family))
    }

    /// The rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved_in(family: Family, line: &str) -> String {
        let p = parsed(family, line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A INPUT");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out
    }

    /// `-m hashlimit OPTIONS` of an IPv4 rule, printed back without the `-A INPUT -m hashlimit` before it.
    fn saved(options: &str) -> String {
        let out = saved_in(Family::Ipv4, &format!("-A INPUT -m hashlimit {options} -j ACCEPT"));
        out.trim_start_matches("-A INPUT -m hashlimit ").trim_end_matches(" -j ACCEPT").to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(line: &str) -> (u32, String) {
        let p = parsed(Family::Ipv4, line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn packet_rates_print_back_as_iptables_save() {
        // Options and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            ("--hashlimit-upto 10/sec --hashlimit-name h1", "--hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name h1"),
            ("--hashlimit 10/sec --hashlimit-name h1", "--hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name h1"),
            ("! --hashlimit-upto 10/sec --hashlimit-name h", "--hashlimit-above 10/sec --hashlimit-burst 5 --hashlimit-name h"),
            ("! --hashlimit-above 1/s --hashlimit-name x", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name x"),
            ("! --hashlimit 1/s --hashlimit-name x", "--hashlimit-above 1/sec --hashlimit-burst 5 --hashlimit-name x"),
            (
                "--hashlimit-above 10/min --hashlimit-mode srcip --hashlimit-name h2",
                "--hashlimit-above 10/min --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name h2",
            ),
            (
                "--hashlimit-name h3 --hashlimit-htable-gcinterval 1000 --hashlimit-htable-expire 30000 --hashlimit-htable-max 2048 --hashlimit-htable-size 1024 --hashlimit-mode dstport,srcip --hashlimit-burst 20 --hashlimit-upto 50/min",
                "--hashlimit-upto 50/min --hashlimit-burst 20 --hashlimit-mode srcip,dstport --hashlimit-name h3 --hashlimit-htable-size 1024 --hashlimit-htable-max 2048 --hashlimit-htable-expire 30000",
            ),
            (
                "--hashlimit-name h4 --hashlimit-mode dstip,srcip,srcport,dstport --hashlimit-upto 1/s",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-mode srcip,srcport,dstip,dstport --hashlimit-name h4",
            ),
            (
                "--hashlimit-upto 1/s --hashlimit-mode srcip --hashlimit-srcmask 24 --hashlimit-dstmask 32 --hashlimit-name h5",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name h5 --hashlimit-srcmask 24",
            ),
            ("--hashlimit-upto 10/minute --hashlimit-name h9", "--hashlimit-upto 10/min --hashlimit-burst 5 --hashlimit-name h9"),
            ("--hashlimit-upto 10/day --hashlimit-name h9", "--hashlimit-upto 10/day --hashlimit-burst 5 --hashlimit-name h9"),
            ("--hashlimit-upto 10 --hashlimit-name h9", "--hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name h9"),
            ("--hashlimit-upto 2/d --hashlimit-name x", "--hashlimit-upto 2/day --hashlimit-burst 5 --hashlimit-name x"),
            ("--hashlimit-upto 1000000/s --hashlimit-name x", "--hashlimit-upto 1000000/sec --hashlimit-burst 5 --hashlimit-name x"),
            (
                "--hashlimit-upto 10/sec --hashlimit-htable-size 0 --hashlimit-name h9",
                "--hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name h9",
            ),
            // The default expiry follows the unit written, the printed one the unit shown.
            (
                "--hashlimit-upto 60/min --hashlimit-name x",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name x --hashlimit-htable-expire 60000",
            ),
            ("--hashlimit-upto 1/min --hashlimit-name x --hashlimit-htable-expire 60000", "--hashlimit-upto 1/min --hashlimit-burst 5 --hashlimit-name x"),
            ("--hashlimit-upto 1/day --hashlimit-burst 1 --hashlimit-name u3", "--hashlimit-upto 1/day --hashlimit-burst 1 --hashlimit-name u3"),
            ("--hashlimit-upto 1/s --hashlimit-name x --hashlimit-burst 10k", "--hashlimit-upto 1/sec --hashlimit-burst 10240 --hashlimit-name x"),
            ("--hashlimit-upto 1/s --hashlimit-burst 5x --hashlimit-name x", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name x"),
            ("--hashlimit-upto 1/s --hashlimit-name r6 --hashlimit-burst 0x10", "--hashlimit-upto 1/sec --hashlimit-burst 16 --hashlimit-name r6"),
            (
                "--hashlimit-upto 1/s --hashlimit-name x --hashlimit-htable-gcinterval 500",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name x --hashlimit-htable-gcinterval 500",
            ),
            ("--hashlimit-upto 1/s --hashlimit-name x --hashlimit-mode srcip|dstip", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-mode srcip,dstip --hashlimit-name x"),
            ("--hashlimit-upto 1/s --hashlimit-name x --hashlimit-mode \"\"", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name x"),
            ("--hashlimit-upto 1/s --hashlimit-name r15 --hashlimit-srcmask 0x8", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name r15 --hashlimit-srcmask 8"),
            // Past 32, an IPv4 number is a mask, read as `inet_aton` reads it (iptables 1.8.9, recorded).
            ("--hashlimit-upto 1/s --hashlimit-name m --hashlimit-srcmask 0xffffff00", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name m --hashlimit-srcmask 24"),
            ("--hashlimit-upto 1/s --hashlimit-name m --hashlimit-dstmask 4294967295", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name m"),
            ("--hashlimit-upto 1/s --hashlimit-name m --hashlimit-srcmask 017", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name m --hashlimit-srcmask 15"),
            (
                "--hashlimit-upto 1/s --hashlimit-name q9 --hashlimit-srcmask 255.255.0.0",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name q9 --hashlimit-srcmask 16",
            ),
            // The kernel cuts table sizes down to 2^20, and iptables-save prints what it kept.
            ("--hashlimit-upto 1/s --hashlimit-name r5 --hashlimit-htable-max 4294967295", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name r5 --hashlimit-htable-max 1048576"),
            // A name prints as it is, unquoted.
            ("--hashlimit-upto 1/s --hashlimit-name \"a b\"", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name a b"),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn byte_rates_print_back_as_iptables_save() {
        for (input, out) in [
            ("--hashlimit-upto 1kb/s --hashlimit-name h6", "--hashlimit-upto 1kb/s --hashlimit-name h6"),
            (
                "--hashlimit-upto 1mb/s --hashlimit-burst 2mb --hashlimit-name h7",
                "--hashlimit-upto 1mb/s --hashlimit-burst 2mb --hashlimit-name h7",
            ),
            ("--hashlimit-upto 512b/s --hashlimit-name h7", "--hashlimit-upto 512b/s --hashlimit-name h7"),
            (
                "--hashlimit-above 100kb/s --hashlimit-mode srcip --hashlimit-name h7",
                "--hashlimit-above 100kb/s --hashlimit-mode srcip --hashlimit-name h7",
            ),
            (
                "--hashlimit-upto 1kb/s --hashlimit-name x --hashlimit-burst 1024",
                "--hashlimit-upto 1kb/s --hashlimit-burst 1kb --hashlimit-name x",
            ),
            (
                "--hashlimit-upto 1kb/s --hashlimit-name x --hashlimit-burst 3000",
                "--hashlimit-upto 1kb/s --hashlimit-burst 3kb --hashlimit-name x",
            ),
            (
                "--hashlimit-upto 1kb/s --hashlimit-name x --hashlimit-htable-expire 15000",
                "--hashlimit-upto 1kb/s --hashlimit-name x",
            ),
            (
                "--hashlimit-upto 1kb/s --hashlimit-name x --hashlimit-burst 10kb --hashlimit-htable-expire 15000",
                "--hashlimit-upto 1kb/s --hashlimit-burst 10kb --hashlimit-name x --hashlimit-htable-expire 15000",
            ),
            ("--hashlimit-upto 1500kb/s --hashlimit-name x", "--hashlimit-upto 1500kb/s --hashlimit-name x"),
            ("--hashlimit-upto 1000b/s --hashlimit-name x", "--hashlimit-upto 992b/s --hashlimit-name x"),
            ("--hashlimit-upto 1000000b/s --hashlimit-name x", "--hashlimit-upto 1000000b/s --hashlimit-name x"),
            ("--hashlimit-upto 3000mb/s --hashlimit-name x", "--hashlimit-upto 3120mb/s --hashlimit-name x"),
            ("--hashlimit-upto 20000kb/s --hashlimit-name x", "--hashlimit-upto 20002kb/s --hashlimit-name x"),
            ("--hashlimit-upto 5000000mb/s --hashlimit-name x", "--hashlimit-upto 22906492224b/s --hashlimit-name x"),
            ("--hashlimit-upto 1gb/s --hashlimit-name x", "--hashlimit-upto 0b/s --hashlimit-name x"),
            ("--hashlimit-upto 1xb/s --hashlimit-name x", "--hashlimit-upto 0b/s --hashlimit-name x"),
            (
                "--hashlimit-upto 1kb/s --hashlimit-name r11 --hashlimit-burst 5m",
                "--hashlimit-upto 1kb/s --hashlimit-burst 5mb --hashlimit-name r11",
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn rate_match_measures_per_second_over_the_unit() {
        for (input, out) in [
            (
                "--hashlimit-upto 10/sec --hashlimit-rate-match --hashlimit-rate-interval 5 --hashlimit-name h8",
                "--hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name h8 --hashlimit-rate-match --hashlimit-rate-interval 5",
            ),
            ("--hashlimit-upto 10/sec --hashlimit-rate-match --hashlimit-name h8", "--hashlimit-upto 10/sec --hashlimit-burst 5 --hashlimit-name h8 --hashlimit-rate-match"),
            (
                "--hashlimit-upto 1/hour --hashlimit-name r1 --hashlimit-rate-match",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name r1 --hashlimit-htable-expire 3600000 --hashlimit-rate-match --hashlimit-rate-interval 3600",
            ),
            (
                "--hashlimit-upto 1/hour --hashlimit-rate-match --hashlimit-rate-interval 5 --hashlimit-name q1",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name q1 --hashlimit-htable-expire 3600000 --hashlimit-rate-match --hashlimit-rate-interval 5",
            ),
            (
                "--hashlimit-upto 7/min --hashlimit-rate-match --hashlimit-name q3",
                "--hashlimit-upto 7/sec --hashlimit-burst 5 --hashlimit-name q3 --hashlimit-htable-expire 60000 --hashlimit-rate-match --hashlimit-rate-interval 60",
            ),
            (
                "--hashlimit-upto 1/hour --hashlimit-rate-match --hashlimit-htable-expire 1000 --hashlimit-name q5",
                "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name q5 --hashlimit-rate-match --hashlimit-rate-interval 3600",
            ),
            (
                "--hashlimit-upto 1kb/s --hashlimit-rate-match --hashlimit-rate-interval 3 --hashlimit-name q4",
                "--hashlimit-upto 1kb/s --hashlimit-name q4 --hashlimit-rate-match --hashlimit-rate-interval 3",
            ),
            ("--hashlimit-upto 1/s --hashlimit-rate-interval 5 --hashlimit-name q6", "--hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name q6"),
            (
                "--hashlimit-above 1/s --hashlimit-name r16 --hashlimit-rate-match --hashlimit-rate-interval 1",
                "--hashlimit-above 1/sec --hashlimit-burst 5 --hashlimit-name r16 --hashlimit-rate-match",
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn ipv6_masks() {
        let v6 = Family::Ipv6;
        for same in [
            "-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name r17 --hashlimit-srcmask 64 -j ACCEPT",
            "-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name r17 --hashlimit-dstmask 32 -j ACCEPT",
        ] {
            assert_eq!(saved_in(v6, same), same);
        }
        assert_eq!(
            saved_in(v6, "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-name r19 --hashlimit-srcmask 128"),
            "-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 5 --hashlimit-name r19"
        );
        let p = parsed(v6, "-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-name r --hashlimit-srcmask 129");
        assert_eq!(p.errors().next().map(|d| d.span.col), Some(83));
    }

    #[test]
    fn errors() {
        let e = |opts: &str| error(&format!("-A INPUT -m hashlimit {opts} -j ACCEPT"));
        assert_eq!(e("--hashlimit-upto 10/sec"), (10, "the hashlimit match needs `--hashlimit-name NAME`".into()));
        assert_eq!(
            e("--hashlimit-name h10"),
            (10, "the hashlimit match needs `--hashlimit-upto RATE` or `--hashlimit-above RATE`".into())
        );
        assert_eq!(
            e("--hashlimit-upto 10/sec --hashlimit-mode bogus --hashlimit-name h"),
            (64, "`bogus` is not a hashlimit mode; use srcip, srcport, dstip, dstport joined by commas".into())
        );
        assert_eq!(e("--hashlimit-upto 1/s --hashlimit-name x --hashlimit-mode none").0, 80);
        assert_eq!(
            e("--hashlimit-upto 10/sec --hashlimit-above 5/sec --hashlimit-name h"),
            (47, "only one of `--hashlimit-upto`, `--hashlimit-above`, `--hashlimit` may be given".into())
        );
        for bad in ["0/s", "1/week", "0kb/s", "kb/s"] {
            let (col, msg) = e(&format!("--hashlimit-upto {bad} --hashlimit-name x"));
            assert_eq!(col, 40, "{bad}");
            assert!(msg.starts_with(&format!("`{bad}` is not a rate")), "{msg}");
        }
        assert_eq!(
            e("--hashlimit-upto 1000001/s --hashlimit-name x").1,
            "rate `1000001/s` is too fast: hashlimit counts at most 1000000/second"
        );
        for bad in ["0", "1000001", "1mb", "1000001k"] {
            let (col, msg) = e(&format!("--hashlimit-upto 1/s --hashlimit-burst {bad} --hashlimit-name x"));
            assert_eq!((col, msg), (62, format!("`--hashlimit-burst` takes a number from 1 to 1000000, not `{bad}`")));
        }
        assert_eq!(
            e("--hashlimit-upto 1kb/s --hashlimit-name x --hashlimit-burst 512").1,
            "the burst cannot be smaller than the rate: 1024b"
        );
        assert_eq!(
            e("--hashlimit-upto 1/s --hashlimit-name x --hashlimit-rate-interval 0x10").1,
            "`--hashlimit-rate-interval` takes seconds from 1 to 4294967295, not `0x10`"
        );
        assert_eq!(
            e("--hashlimit-upto 1/s --hashlimit-name \"\"").1,
            "`--hashlimit-name` needs a name of at least one character"
        );
        // What the kernel refuses when the table is committed.
        assert!(e("--hashlimit-upto 1/s --hashlimit-name a/b").1.starts_with("the kernel refuses `a/b`"));
        assert!(e("--hashlimit-upto 1/s --hashlimit-name ..").1.starts_with("the kernel refuses `..`"));
        assert_eq!(
            e("--hashlimit-upto 10/sec --hashlimit-srcmask 33 --hashlimit-name h").1,
            "`33` is not a contiguous mask, so iptables passes no prefix length the kernel accepts"
        );
        assert_eq!(
            e("--hashlimit-upto 10/sec --hashlimit-srcmask 4294967296 --hashlimit-name h").1,
            "`4294967296` is neither a prefix length from 0 to 32 nor a mask"
        );
        assert_eq!(
            e("--hashlimit-upto 1/s --hashlimit-name x --hashlimit-htable-gcinterval 0").1,
            "the kernel refuses a garbage collection interval of 0"
        );
        assert_eq!(e("--hashlimit-upto 10/sec --hashlimit-htable-expire 0 --hashlimit-name h").0, 47);
        for over in ["1/day", "3/day", "1/day --hashlimit-htable-expire 86400000"] {
            let (col, msg) = e(&format!("--hashlimit-upto {over} --hashlimit-name u"));
            assert_eq!(col, 23, "{over}");
            assert!(msg.ends_with("with a burst of 5: its credit counter would overflow"), "{msg}");
        }
        assert_eq!(e("--hashlimit-upto 1/s ! --hashlimit-name x").1, "`--hashlimit-name` cannot be negated with `!`");
    }

    #[test]
    fn long_names_are_cut() {
        let long = "b".repeat(300);
        let p = parsed(Family::Ipv4, &format!("-A INPUT -m hashlimit --hashlimit-upto 1/s --hashlimit-name {long}"));
        assert!(!p.has_errors());
        assert_eq!(p.warnings().count(), 1);
        let out = crate::canonical(&p);
        assert!(out.contains(&format!("--hashlimit-name {}\n", "b".repeat(255))), "{out}");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(options: &str) -> Outcome {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            match first_match(Family::Ipv4, &format!("-m hashlimit {options}")) {
                MatchKind::Hashlimit(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn assumed_within_the_rate() {
            let o = eval("--hashlimit-upto 5/sec --hashlimit-mode srcip,dstport --hashlimit-name ssh");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk keeps no packet counts and assumes the packet's bucket (srcip,dstport) in hashlimit table \
                 `ssh` is within `--hashlimit-upto 5/sec --hashlimit-burst 5`, as a new bucket is (set it by hand to \
                 see one over the rate), so this holds"
            );
            let o = eval("--hashlimit-above 1kb/s --hashlimit-name bytes");
            assert!(!o.holds && o.assumed);
            assert!(o.why.starts_with("chainwalk keeps no packet counts and assumes the one bucket of all packets"));
            assert!(o.why.ends_with("so this does not hold"), "{}", o.why);
        }
    }
}
