//! `-m connbytes`: how many packets or bytes a connection has carried so far, or their average size
//! (`libxt_connbytes`, the kernel's `xt_connbytes.c`, which turns on conntrack accounting when loaded).

use super::length::parse_uint_range;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The options of `-m connbytes`; all three are required.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connbytes {
    /// `[!] --connbytes FROM[:TO]`, as the kernel holds it.
    pub count: CountRange,
    /// `--connbytes-mode`: what is counted.
    pub mode: ConnbytesMode,
    /// `--connbytes-dir`: which direction's counters.
    pub dir: ConnbytesDir,
}

/// The range of `--connbytes` as `struct xt_connbytes_info` holds it: `!` swaps the two ends, and a `from`
/// above `to` means "outside `to..=from`". A plain `--connbytes N` has `to` = `u64::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountRange {
    /// The lower end (the upper one when negated).
    pub from: u64,
    /// The upper end (the lower one when negated).
    pub to: u64,
}

impl CountRange {
    /// Whether a count of `what` matches, as `connbytes_mt` decides it.
    pub fn matches(self, what: u64) -> bool {
        if self.to >= self.from {
            (self.from..=self.to).contains(&what)
        } else {
            what < self.to || what > self.from
        }
    }

    /// Whether the range is the negated form (which `iptables-save` prints with `!`).
    pub fn negated(self) -> bool {
        self.from > self.to
    }

    /// `LOW[:HIGH]` as `iptables-save` prints it: the high end only when it is neither 0 nor `u64::MAX`.
    fn text(self) -> String {
        let (low, high) = if self.negated() { (self.to, self.from) } else { (self.from, self.to) };
        let mut s = low.to_string();
        if high != 0 && high < u64::MAX {
            let _ = write!(s, ":{high}");
        }
        s
    }
}

/// What `--connbytes-mode` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnbytesMode {
    /// `packets`.
    Packets,
    /// `bytes`.
    Bytes,
    /// `avgpkt`: bytes divided by packets.
    Avgpkt,
}

impl ConnbytesMode {
    /// The mode's name as written and printed.
    pub fn name(self) -> &'static str {
        match self {
            ConnbytesMode::Packets => "packets",
            ConnbytesMode::Bytes => "bytes",
            ConnbytesMode::Avgpkt => "avgpkt",
        }
    }
}

/// Which direction's counters `--connbytes-dir` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnbytesDir {
    /// `original`: from the side that opened the connection.
    Original,
    /// `reply`: from the side that answered.
    Reply,
    /// `both`: the sum of the two.
    Both,
}

impl ConnbytesDir {
    /// The direction's name as written and printed.
    pub fn name(self) -> &'static str {
        match self {
            ConnbytesDir::Original => "original",
            ConnbytesDir::Reply => "reply",
            ConnbytesDir::Both => "both",
        }
    }
}

/// Reads a word of `choices` exactly (case matters, as `strcmp` compares), or says which are allowed.
pub(crate) fn word<T: Copy>(o: &Opt<'_>, choices: &[(&str, T)]) -> Result<T, Diagnostic> {
    choices.iter().find(|(n, _)| *n == o.arg()).map(|&(_, v)| v).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        o.bad_arg(format!("`{}` is not a value of `--{}` (one of {})", o.arg(), o.name, names.join(", ")))
    })
}

impl Extension for Connbytes {
    const OPTIONS: &'static [OptSpec] =
        &[opt("connbytes", Args::One), opt("connbytes-dir", Args::One), opt("connbytes-mode", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Connbytes, Diagnostic> {
        let required = |name: &str, what: &str| {
            ctx.error(format!("the connbytes match needs `--{name} {what}` (with `--connbytes`, `--connbytes-dir` and `--connbytes-mode`)"))
        };
        let o = find(opts, "connbytes")?.ok_or_else(|| required("connbytes", "FROM[:TO]"))?;
        // A number too big for 64 bits is refused, not saturated.
        let too_big = |p: &&str| {
            crate::ruleset::addr::parse_uint(p).is_none()
                && super::icmp::number_prefix(p).is_some_and(|(_, rest)| rest.is_empty())
        };
        if let Some(p) = o.arg().split(':').find(too_big) {
            return Err(o.bad_arg(format!("`{p}` is not a number from 0 to {}", u64::MAX)));
        }
        let (from, to) = o.parse_arg(|t| parse_uint_range(t, u64::MAX))?;
        if from > to {
            return Err(o.bad_arg(format!("in `{}` the first count must not be more than the second", o.arg())));
        }
        // A single count means "at least"; `!` swaps the ends.
        let to = if o.arg().contains(':') { to } else { u64::MAX };
        let count = if o.negated { CountRange { from: to, to: from } } else { CountRange { from, to } };
        let dir = find(opts, "connbytes-dir")?.ok_or_else(|| required("connbytes-dir", "original|reply|both"))?;
        dir.no_negation()?;
        let dir = word(
            dir,
            &[("original", ConnbytesDir::Original), ("reply", ConnbytesDir::Reply), ("both", ConnbytesDir::Both)],
        )?;
        let mode = find(opts, "connbytes-mode")?.ok_or_else(|| required("connbytes-mode", "packets|bytes|avgpkt"))?;
        mode.no_negation()?;
        let mode = word(
            mode,
            &[("packets", ConnbytesMode::Packets), ("bytes", ConnbytesMode::Bytes), ("avgpkt", ConnbytesMode::Avgpkt)],
        )?;
        Ok(Connbytes { count, mode, dir })
    }

    fn save(&self, out: &mut String) {
        if self.count.negated() {
            out.push_str(" !");
        }
        let _ = write!(
            out,
            " --connbytes {} --connbytes-mode {} --connbytes-dir {}",
            self.count.text(),
            self.mode.name(),
            self.dir.name()
        );
    }
}

impl Evaluate for Connbytes {
    /// `connbytes_mt` in `xt_connbytes.c` reads the connection's accounting counters, which already count the
    /// packet (conntrack ran before any table but raw). A new connection's first packet is its only one: one
    /// packet of LEN bytes in the original direction, none in reply. For older connections chainwalk does
    /// not know the counters and assumes the count is in the range.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if !super::conntrack::has_connection(ctx.ct) {
            return Outcome::no(format!("{}, so connbytes does not match", super::conntrack::no_connection(ctx)));
        }
        let range = self.count.text();
        let wanted = if self.count.negated() { format!("outside {range}") } else { format!("in {range}") };
        let first = ctx.ct.state == crate::packet::CtState::New && ctx.ct.dir == crate::packet::CtDir::Original;
        if !first {
            let holds = !self.count.negated();
            return Outcome::assumed(
                holds,
                format!(
                    "chainwalk does not know how many {} the connection has carried ({}) and assumes the count is \
                     {range}, so this {}",
                    self.mode.name(),
                    self.dir.name(),
                    if holds { "holds" } else { "does not hold" }
                ),
            );
        }
        let len = u64::from(ctx.pkt.len);
        let (packets, bytes) = match self.dir {
            ConnbytesDir::Reply => (0, 0),
            ConnbytesDir::Original | ConnbytesDir::Both => (1, len),
        };
        let (what, unit) = match self.mode {
            ConnbytesMode::Packets => (packets, "packets"),
            ConnbytesMode::Bytes => (bytes, "bytes"),
            ConnbytesMode::Avgpkt => (bytes.checked_div(packets).unwrap_or(0), "bytes per packet on average"),
        };
        let fact = format!(
            "this is the connection's first packet, so its {} counters show {what} {unit}, which is {}{wanted}",
            self.dir.name(),
            if self.count.matches(what) { "" } else { "not " }
        );
        conclude(self.count.matches(what), false, fact)
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::Ipv4;

    fn rule(options: &str) -> String {
        format!("-A INPUT -m connbytes {options} -j ACCEPT")
    }

    #[test]
    fn prints_back_as_iptables_save() {
        // What iptables-save 1.8.9 printed for each rule.
        for (given, printed) in [
            (
                "--connbytes 10000: --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 10000 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes-mode packets --connbytes-dir original --connbytes 10",
                "--connbytes 10 --connbytes-mode packets --connbytes-dir original",
            ),
            (
                "--connbytes 10:20 --connbytes-dir reply --connbytes-mode avgpkt",
                "--connbytes 10:20 --connbytes-mode avgpkt --connbytes-dir reply",
            ),
            (
                "! --connbytes 10 --connbytes-dir both --connbytes-mode bytes",
                "! --connbytes 10 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes :5 --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 0:5 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes 0:0 --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 0 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes 5:5 --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 5:5 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "! --connbytes 5:7 --connbytes-dir both --connbytes-mode bytes",
                "! --connbytes 5:7 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes 0x10 --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 16 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes 010 --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 8 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes 5:18446744073709551615 --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 5 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "! --connbytes 0 --connbytes-dir both --connbytes-mode bytes",
                "! --connbytes 0 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes : --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 0 --connbytes-mode bytes --connbytes-dir both",
            ),
            (
                "--connbytes \"\" --connbytes-dir both --connbytes-mode bytes",
                "--connbytes 0 --connbytes-mode bytes --connbytes-dir both",
            ),
        ] {
            assert_eq!(saved(Ipv4, "filter", &rule(given)), rule(printed), "{given}");
        }
    }

    #[test]
    fn negating_an_empty_range_loses_the_negation_as_in_the_kernel() {
        // `! --connbytes 5:5` swaps two equal ends: the kernel then holds the plain range.
        assert_eq!(
            saved(Ipv4, "filter", &rule("! --connbytes 5:5 --connbytes-dir both --connbytes-mode bytes")),
            rule("--connbytes 5:5 --connbytes-mode bytes --connbytes-dir both")
        );
    }

    #[test]
    fn errors() {
        let e = |options: &str| error(Ipv4, "filter", &rule(options));
        assert_eq!(
            e("--connbytes 10"),
            (10, "the connbytes match needs `--connbytes-dir original|reply|both` (with `--connbytes`, `--connbytes-dir` and `--connbytes-mode`)".into())
        );
        assert_eq!(
            e("--connbytes 10 --connbytes-dir sideways --connbytes-mode bytes"),
            (54, "`sideways` is not a value of `--connbytes-dir` (one of original, reply, both)".into())
        );
        assert_eq!(
            e("--connbytes 1 --connbytes-dir Both --connbytes-mode bytes").1,
            "`Both` is not a value of `--connbytes-dir` (one of original, reply, both)"
        );
        assert_eq!(
            e("--connbytes 10:5 --connbytes-dir both --connbytes-mode bytes"),
            (35, "in `10:5` the first count must not be more than the second".into())
        );
        assert_eq!(
            e("--connbytes 1:2:3 --connbytes-dir both --connbytes-mode bytes").1,
            "`1:2:3` has more than two numbers; a range is written `MIN:MAX`"
        );
        assert_eq!(
            e("--connbytes 18446744073709551616 --connbytes-dir both --connbytes-mode bytes").1,
            "`18446744073709551616` is not a number from 0 to 18446744073709551615"
        );
        assert_eq!(
            e("--connbytes 1 ! --connbytes-dir both --connbytes-mode bytes"),
            (37, "`--connbytes-dir` cannot be negated with `!`".into())
        );
        assert_eq!(
            e("--connbytes 1 --connbytes-dir both --connbytes-dir reply --connbytes-mode bytes").1,
            "`--connbytes-dir` is given more than once"
        );
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::{Family, Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(scene: &Scene, options: &str) -> Outcome {
            match first_match(Family::Ipv4, &format!("-m connbytes {options}")) {
                MatchKind::Connbytes(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn a_first_packet_is_the_connections_only_one() {
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn len 60");
            let o = eval(&s, "--connbytes 0:100 --connbytes-dir original --connbytes-mode bytes");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "this is the connection's first packet, so its original counters show 60 bytes, which is in 0:100, so this holds");
            assert!(!eval(&s, "--connbytes 2 --connbytes-dir both --connbytes-mode packets").holds);
            assert!(eval(&s, "! --connbytes 2 --connbytes-dir both --connbytes-mode packets").holds);
            assert!(!eval(&s, "--connbytes 1 --connbytes-dir reply --connbytes-mode packets").holds);
            assert!(eval(&s, "--connbytes 60:60 --connbytes-dir both --connbytes-mode avgpkt").holds);
        }

        #[test]
        fn older_connections_are_assumed_in_range() {
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ack state established");
            let o = eval(&s, "--connbytes 1000 --connbytes-dir both --connbytes-mode bytes");
            assert!(o.holds && o.assumed);
            let o = eval(&s, "! --connbytes 1000 --connbytes-dir both --connbytes-mode bytes");
            assert!(!o.holds && o.assumed);
        }

        #[test]
        fn no_connection_no_match() {
            let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn").at(Hook::Prerouting, TableName::Raw);
            let mut s = s;
            s.ct.state = crate::packet::CtState::Invalid;
            let o = eval(&s, "! --connbytes 1 --connbytes-dir both --connbytes-mode packets");
            assert!(!o.holds);
        }
    }
}
