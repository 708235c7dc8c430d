//! `-m recent`: a list of recently seen addresses, kept per `--name`, that rules add to, check and remove
//! from (`libxt_recent` revision 1, the kernel's `xt_recent.c`). Whether a packet matches depends on the
//! packets before it, so a packet walk states an assumption about it; this module stores the settings.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::addr::inet_aton;
use crate::ruleset::{Family, Negatable};
use crate::values::opt_number;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The list used when no `--name` is given.
pub const DEFAULT_NAME: &str = "DEFAULT";

/// The longest list name the kernel stores (`XT_RECENT_NAME_LEN` - 1); longer names are cut.
pub const MAX_NAME_LEN: usize = 199;

/// The largest `--hitcount` the kernel takes (it keeps at most 65535 timestamps per address).
pub const MAX_HITCOUNT: u32 = 65_535;

/// The options of `-m recent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    /// What the rule does with the list, and whether the match is negated.
    pub command: Negatable<RecentCommand>,
    /// `--seconds`: only entries seen within this many seconds count (0 when not given).
    pub seconds: u32,
    /// `--reap`: drop entries older than `--seconds` while checking.
    pub reap: bool,
    /// `--hitcount`: the address must have been seen at least this many times (0 when not given).
    pub hitcount: u32,
    /// `--rttl`: the packet's TTL must also equal the one recorded.
    pub rttl: bool,
    /// `--name`: the list.
    pub name: String,
    /// `--mask`: applied to the address before it is looked up or stored (all ones when not given).
    pub mask: IpAddr,
    /// `--rsource` or `--rdest`: which address of the packet is used.
    pub side: RecentSide,
}

/// What a `-m recent` rule does with its list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecentCommand {
    /// `--set`: add the address (or refresh it); always matches.
    Set,
    /// `--rcheck`: match if the address is in the list.
    Rcheck,
    /// `--update`: like `--rcheck`, and refresh the address's last-seen time.
    Update,
    /// `--remove`: match if the address is in the list, and remove it.
    Remove,
}

impl RecentCommand {
    const ALL: [(RecentCommand, &'static str); 4] = [
        (RecentCommand::Set, "set"),
        (RecentCommand::Rcheck, "rcheck"),
        (RecentCommand::Update, "update"),
        (RecentCommand::Remove, "remove"),
    ];

    /// The option's name.
    pub fn as_str(self) -> &'static str {
        RecentCommand::ALL.iter().find(|(c, _)| *c == self).map_or("set", |(_, n)| n)
    }
}

/// Which address of a packet `-m recent` uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecentSide {
    /// `--rsource` (the default): the source address.
    #[default]
    Source,
    /// `--rdest`: the destination address.
    Dest,
}

/// Reads an address of the rule's family as `XTTYPE_HOST` does for a literal (names are not resolved).
pub(crate) fn host_address(text: &str, family: Family) -> Result<IpAddr, String> {
    let parsed = match family {
        Family::Ipv4 => inet_aton(text).map(IpAddr::V4),
        Family::Ipv6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    };
    parsed.ok_or_else(|| {
        format!("`{text}` is not an address; iptables would look it up as a host name, which chainwalk does not do")
    })
}

impl Extension for Recent {
    const OPTIONS: &'static [OptSpec] = &[
        opt("set", Args::Zero),
        opt("rcheck", Args::Zero),
        opt("update", Args::Zero),
        opt("remove", Args::Zero),
        opt("seconds", Args::One),
        opt("reap", Args::Zero),
        opt("hitcount", Args::One),
        opt("rttl", Args::Zero),
        opt("name", Args::One),
        opt("rsource", Args::Zero),
        opt("rdest", Args::Zero),
        opt("mask", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Recent, Diagnostic> {
        let mut command: Option<(Negatable<RecentCommand>, &Opt<'_>)> = None;
        for o in opts {
            match RecentCommand::ALL.iter().find(|(_, n)| *n == o.name) {
                Some(&(c, _)) => {
                    find(opts, o.name)?;
                    if let Some((_, first)) = command {
                        return Err(Diagnostic::error(
                            o.span,
                            format!("`--{}` cannot be used together with `--{}`", o.name, first.name),
                        ));
                    }
                    command = Some((Negatable { value: c, negated: o.negated, span: o.span }, o));
                }
                None => o.no_negation()?,
            }
        }
        let seconds = match find(opts, "seconds")? {
            Some(o) => {
                let seconds = opt_number(o, 1, u64::from(u32::MAX))? as u32;
                if seconds > i32::MAX as u32 {
                    warnings.push(
                        Diagnostic::warning(
                            o.arg_span(),
                            format!(
                                "iptables-save prints `--seconds {seconds}` as `--seconds {}`, which iptables-restore refuses",
                                seconds as i32
                            ),
                        )
                        .with_hint("a dump saved from this rule cannot be restored; 2147483647 seconds is the most that prints back"),
                    );
                }
                seconds
            }
            None => 0,
        };
        let hitcount_opt = find(opts, "hitcount")?;
        let hitcount = match hitcount_opt {
            Some(o) => opt_number(o, 0, u64::from(u32::MAX))? as u32,
            None => 0,
        };
        let reap = find(opts, "reap")?;
        let rttl = find(opts, "rttl")?;
        let name = match find(opts, "name")? {
            Some(o) => {
                let mut name = o.arg().to_string();
                if name.len() > MAX_NAME_LEN {
                    let mut cut = MAX_NAME_LEN;
                    while !name.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    name.truncate(cut);
                    warnings.push(Diagnostic::warning(
                        o.arg_span(),
                        format!("the name is longer than {MAX_NAME_LEN} bytes; iptables keeps only the first {MAX_NAME_LEN}"),
                    ));
                }
                if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                    return Err(o.bad_arg(format!(
                        "the kernel refuses `{name}` as a list name: it names a file in /proc/net/xt_recent/"
                    )));
                }
                name
            }
            None => DEFAULT_NAME.to_string(),
        };
        let side = match opts.iter().rev().find(|o| o.name == "rsource" || o.name == "rdest") {
            Some(o) if o.name == "rdest" => RecentSide::Dest,
            _ => RecentSide::Source,
        };
        for n in ["rsource", "rdest"] {
            find(opts, n)?;
        }
        let mask = match find(opts, "mask")? {
            Some(o) => o.parse_arg(|t| host_address(t, ctx.family))?,
            None => match ctx.family {
                Family::Ipv4 => IpAddr::V4(Ipv4Addr::BROADCAST),
                Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            },
        };
        let Some((command, command_opt)) = command else {
            return Err(ctx.error("the recent match needs one of `--set`, `--rcheck`, `--update`, `--remove`"));
        };
        if let Some(o) = reap.filter(|_| seconds == 0) {
            return Err(Diagnostic::error(o.span, "`--reap` also needs `--seconds`"));
        }
        if let (Some(o), RecentCommand::Set | RecentCommand::Remove) = (rttl, command.value) {
            return Err(Diagnostic::error(
                o.span,
                format!("`--rttl` cannot be used together with `--{}`", command_opt.name),
            ));
        }
        if matches!(command.value, RecentCommand::Set | RecentCommand::Remove) && (seconds != 0 || hitcount != 0) {
            let o = find(opts, "seconds")?.or(hitcount_opt).map_or(command.span, |o| o.span);
            return Err(Diagnostic::error(
                o,
                format!(
                    "the kernel refuses `--seconds` and `--hitcount` with `--{}`; they belong to `--rcheck` and `--update`",
                    command_opt.name
                ),
            ));
        }
        if hitcount > MAX_HITCOUNT {
            let at = hitcount_opt.map_or(ctx.span, |o| o.arg_span());
            return Err(Diagnostic::error(at, format!("the kernel refuses a hit count above {MAX_HITCOUNT}")));
        }
        Ok(Recent { command, seconds, reap: reap.is_some(), hitcount, rttl: rttl.is_some(), name, mask, side })
    }

    /// `recent_save`: the command, then seconds, reap, hitcount, rttl, and always the name, the mask and
    /// the side.
    fn save(&self, out: &mut String) {
        save_opt(out, self.command.negated, self.command.value.as_str());
        if self.seconds != 0 {
            // Printed with `%d`: from 2^31 on, as a negative number.
            let _ = write!(out, " --seconds {}", self.seconds as i32);
        }
        if self.reap {
            out.push_str(" --reap");
        }
        if self.hitcount != 0 {
            let _ = write!(out, " --hitcount {}", self.hitcount);
        }
        if self.rttl {
            out.push_str(" --rttl");
        }
        let _ = write!(out, " --name {} --mask {}", self.name, self.mask);
        out.push_str(match self.side {
            RecentSide::Source => " --rsource",
            RecentSide::Dest => " --rdest",
        });
    }
}

/// `addr` under `mask` (both of one family; `addr` unchanged otherwise).
fn masked(addr: IpAddr, mask: IpAddr) -> IpAddr {
    match (addr, mask) {
        (IpAddr::V4(a), IpAddr::V4(m)) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & u32::from(m))),
        (IpAddr::V6(a), IpAddr::V6(m)) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & u128::from(m))),
        _ => addr,
    }
}

/// An address a `-m recent` rule put in a list during this walk (`struct recent_entry` in `xt_recent.c`):
/// the list, the address as stored (under `--mask`), the TTL (hop limit) it was last seen with, and how many
/// times it was seen since; 0 once a `--remove` took it out, so it is known not to be there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentEntry {
    /// The list (`--name`).
    pub list: String,
    /// The address as stored.
    pub addr: IpAddr,
    /// The TTL of the packet that last set or updated it.
    pub ttl: u8,
    /// The packets it was seen with in this walk (0: removed).
    pub hits: u32,
}

impl Evaluate for Recent {
    /// `recent_mt` in `xt_recent.c`, the list changed as the match runs: `--set` adds the address (or sees
    /// it once more) and always matches; `--rcheck` matches when the address (under `--mask`) is in the list,
    /// with `--hitcount` of its sightings (all of this walk's are within any `--seconds`) and with `--rttl`
    /// the TTL of the last one equal to the packet's; `--update` does the same and, when it matches, counts
    /// the packet as another sighting; `--remove` takes the address out and matches when it was there. The
    /// TTL is the one before forwarding: one more after routing for a packet no socket sent. What earlier
    /// packets put in the list chainwalk does not have, so an address this walk did not add is assumed
    /// absent.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let (key, addr) = match self.side {
            RecentSide::Source => ("SRC", ctx.pkt.src),
            RecentSide::Dest => ("DST", ctx.pkt.dst),
        };
        let stored = masked(addr, self.mask);
        let shown = if stored == addr { format!("{key}={addr}") } else { format!("{key}={addr} (as {stored})") };
        let mut ttl = ctx.pkt.ttl;
        if ctx.out_iface.is_some() && !ctx.socket && !ctx.kernel_socket {
            ttl = ttl.wrapping_add(1);
        }
        let name = &self.name;
        let command = self.command.value;
        let negated = self.command.negated;
        let mut lists = ctx.recent.borrow_mut();
        let at = lists.iter().position(|e| e.list == *name && e.addr == stored);
        let same_ttl = |e: &RecentEntry| !self.rttl || ttl == 0 || e.ttl == 0 || e.ttl == ttl;
        let found = at.filter(|&i| lists[i].hits > 0 && same_ttl(&lists[i]));
        let effects = ctx.effects;
        if command == RecentCommand::Set {
            if effects {
                match found {
                    Some(i) => {
                        lists[i].hits += 1;
                        lists[i].ttl = ttl;
                    }
                    None => match at {
                        Some(i) => lists[i] = RecentEntry { list: name.clone(), addr: stored, ttl, hits: 1 },
                        None => lists.push(RecentEntry { list: name.clone(), addr: stored, ttl, hits: 1 }),
                    },
                }
            }
            return conclude(
                true,
                negated,
                format!("--set adds {shown} to recent list `{name}` (or sees it once more) and always matches"),
            );
        }
        let Some(i) = found else {
            if let Some(i) = at {
                let e = &lists[i];
                let fact = if e.hits == 0 {
                    format!("a --remove earlier in this walk took {shown} out of recent list `{name}`")
                } else {
                    format!(
                        "recent list `{name}` has {shown} from earlier in this walk, last seen with TTL {}, but --rttl \
                         wants this packet's TTL {ttl}",
                        e.ttl
                    )
                };
                return conclude(false, negated, fact);
            }
            let o = conclude(
                false,
                negated,
                format!(
                    "chainwalk does not know recent list `{name}` (earlier packets fill it) and assumes {shown} is not \
                     in it, so --{} finds no entry (set it by hand if it is there)",
                    command.as_str()
                ),
            );
            return Outcome::assumed(o.holds, o.why);
        };
        let hits = lists[i].hits;
        let seen = format!(
            "a --set earlier in this walk put {shown} in recent list `{name}` (seen {hits} time{})",
            if hits == 1 { "" } else { "s" }
        );
        if command == RecentCommand::Remove {
            if effects {
                lists[i].hits = 0;
            }
            return conclude(true, negated, format!("{seen}, and --remove takes it out"));
        }
        let enough = self.hitcount == 0 || hits >= self.hitcount;
        let holds = enough != negated;
        if command == RecentCommand::Update && holds && effects {
            lists[i].hits += 1;
            lists[i].ttl = ttl;
        }
        if enough {
            let needs =
                if self.hitcount > 0 { format!(", --hitcount {} is met", self.hitcount) } else { String::new() };
            return conclude(true, negated, format!("{seen}{needs}"));
        }
        // Too few sightings in this walk: how many earlier packets added is not known.
        let o = conclude(
            false,
            negated,
            format!(
                "{seen}; --hitcount {} needs more, and chainwalk assumes earlier packets added none (set it by hand \
                 if they did)",
                self.hitcount
            ),
        );
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(family: Family, line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(family))
    }

    /// `-m recent OPTIONS` printed back, without the `-A INPUT -m recent` before it.
    fn saved_in(family: Family, options: &str) -> String {
        let line = format!("-A INPUT -m recent {options} -j ACCEPT");
        let p = parsed(family, &line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_start_matches(" -m recent ").trim_end_matches(" -j ACCEPT").to_string()
    }

    fn saved(options: &str) -> String {
        saved_in(Family::Ipv4, options)
    }

    /// The first error's column (on line 2) and message.
    fn error(options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m recent {options} -j ACCEPT");
        let p = parsed(Family::Ipv4, &line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let tail = "--mask 255.255.255.255 --rsource";
        // Options and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            ("--set", format!("--set --name DEFAULT {tail}")),
            ("--set --name SSH --rsource", format!("--set --name SSH {tail}")),
            ("--set --name SSH --rdest", "--set --name SSH --mask 255.255.255.255 --rdest".into()),
            (
                "--rcheck --seconds 60 --hitcount 4 --name SSH",
                format!("--rcheck --seconds 60 --hitcount 4 --name SSH {tail}"),
            ),
            (
                "--name SSH --update --seconds 60 --hitcount 4",
                format!("--update --seconds 60 --hitcount 4 --name SSH {tail}"),
            ),
            ("--hitcount 4 --seconds 60 --update", format!("--update --seconds 60 --hitcount 4 --name DEFAULT {tail}")),
            ("--remove --name SSH", format!("--remove --name SSH {tail}")),
            ("--rcheck --seconds 60 --reap --name SSH", format!("--rcheck --seconds 60 --reap --name SSH {tail}")),
            ("--set --mask 255.255.255.0 --name SSH", "--set --name SSH --mask 255.255.255.0 --rsource".into()),
            ("--set --mask 255.0.255.0 --name SSH", "--set --name SSH --mask 255.0.255.0 --rsource".into()),
            ("--set --mask 24 --name SSH", "--set --name SSH --mask 0.0.0.24 --rsource".into()),
            ("--set --mask 1.2.3", "--set --name DEFAULT --mask 1.2.0.3 --rsource".into()),
            ("! --rcheck --name SSH", format!("! --rcheck --name SSH {tail}")),
            ("! --remove", format!("! --remove --name DEFAULT {tail}")),
            ("--rcheck --hitcount 0", format!("--rcheck --name DEFAULT {tail}")),
            ("--rcheck --seconds 2147483647", format!("--rcheck --seconds 2147483647 --name DEFAULT {tail}")),
            ("--rcheck --seconds +4294967295", format!("--rcheck --seconds -1 --name DEFAULT {tail}")),
            ("--rcheck --hitcount 65535", format!("--rcheck --hitcount 65535 --name DEFAULT {tail}")),
            ("--rcheck --seconds 0x10", format!("--rcheck --seconds 16 --name DEFAULT {tail}")),
            ("--set --name \"a b\"", format!("--set --name a b {tail}")),
            ("--set --rsource --rdest", "--set --name DEFAULT --mask 255.255.255.255 --rdest".into()),
            ("--set --rdest --rsource", format!("--set --name DEFAULT {tail}")),
            (
                "--rcheck --seconds 60 --hitcount 4 --rttl --name SSH --rdest --mask 255.255.255.0 --reap",
                "--rcheck --seconds 60 --reap --hitcount 4 --rttl --name SSH --mask 255.255.255.0 --rdest".into(),
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
        let v6 = Family::Ipv6;
        assert_eq!(
            saved_in(v6, "--set"),
            "--set --name DEFAULT --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource"
        );
        assert_eq!(saved_in(v6, "--set --mask ffff::"), "--set --name DEFAULT --mask ffff:: --rsource");
        assert_eq!(
            saved_in(v6, "--set --mask ::ffff:255.0.0.0"),
            "--set --name DEFAULT --mask ::ffff:255.0.0.0 --rsource"
        );
    }

    #[test]
    fn seconds_that_print_back_negative_are_pointed_out() {
        let p = parsed(Family::Ipv4, "-A INPUT -m recent --rcheck --seconds 2147483648");
        let w: Vec<_> = p.warnings().map(|w| (w.span.col, w.message.as_str())).collect();
        assert_eq!(
            w,
            [(39, "iptables-save prints `--seconds 2147483648` as `--seconds -2147483648`, which iptables-restore refuses")]
        );
        assert_eq!(parsed(Family::Ipv4, "-A INPUT -m recent --rcheck --seconds 2147483647").warnings().count(), 0);
    }

    #[test]
    fn long_names_are_cut() {
        let p = parsed(Family::Ipv4, &format!("-A INPUT -m recent --set --name {}", "c".repeat(300)));
        assert!(!p.has_errors());
        assert_eq!(p.warnings().count(), 1);
        assert!(crate::canonical(&p).contains(&format!("--name {} --mask", "c".repeat(199))));
    }

    #[test]
    fn errors() {
        assert_eq!(error("--set --rcheck"), (26, "`--rcheck` cannot be used together with `--set`".into()));
        assert_eq!(
            error("--seconds 60"),
            (10, "the recent match needs one of `--set`, `--rcheck`, `--update`, `--remove`".into())
        );
        assert_eq!(error("").1, "the recent match needs one of `--set`, `--rcheck`, `--update`, `--remove`");
        assert_eq!(error("--rcheck --reap --name SSH"), (29, "`--reap` also needs `--seconds`".into()));
        assert_eq!(error("--rcheck ! --name SSH").1, "`--name` cannot be negated with `!`");
        assert_eq!(error("--rcheck --seconds 0").0, 39);
        assert_eq!(error("--rcheck --seconds -1").0, 39);
        assert_eq!(error("--set --rttl").1, "`--rttl` cannot be used together with `--set`");
        assert_eq!(error("--rcheck --name a --name b").0, 38);
        assert_eq!(error("--set --set").0, 26);
        // What the kernel refuses at COMMIT.
        assert!(error("--set --name a/b").1.starts_with("the kernel refuses `a/b` as a list name"));
        assert!(error("--set --name \"\"").1.starts_with("the kernel refuses `` as a list name"));
        assert!(error("--set --name ..").1.starts_with("the kernel refuses `..`"));
        assert_eq!(error("--set --seconds 5").0, 26);
        assert!(error("--remove --hitcount 5")
            .1
            .starts_with("the kernel refuses `--seconds` and `--hitcount` with `--remove`"));
        assert_eq!(error("--rcheck --hitcount 65536"), (40, "the kernel refuses a hit count above 65535".into()));
        // Host names are not resolved.
        assert_eq!(error("--set --mask foo").0, 33);
        assert_eq!(error("--set --mask 255.255.255.0/24").0, 33);
    }

    #[test]
    fn reads_addresses_as_inet_aton() {
        assert_eq!(inet_aton("24"), Some(Ipv4Addr::new(0, 0, 0, 24)));
        assert_eq!(inet_aton("1.2.3"), Some(Ipv4Addr::new(1, 2, 0, 3)));
        assert_eq!(inet_aton("10.0x100"), Some(Ipv4Addr::new(10, 0, 1, 0)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("256.1.1.1"), None);
        assert_eq!(inet_aton("1..1"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::recent::RecentEntry;
        use crate::matches::MatchKind;
        use crate::ruleset::{Family, Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(options: &str) -> Outcome {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            match first_match(Family::Ipv4, &format!("-m recent {options}")) {
                MatchKind::Recent(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn set_always_matches() {
            let o = eval("--set --name ssh");
            assert!(o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "--set adds SRC=203.0.113.7 to recent list `ssh` (or sees it once more) and always matches, so this holds"
            );
            let o = eval("! --set --rdest --mask 255.255.0.0");
            assert!(!o.holds && !o.assumed);
            assert!(o.why.starts_with("--set adds DST=192.0.2.2 (as 192.0.0.0) to recent list `DEFAULT`"), "{}", o.why);
        }

        #[test]
        fn checks_assume_an_empty_list() {
            let o = eval("--rcheck --seconds 60 --hitcount 2 --name ssh");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "chainwalk does not know recent list `ssh` (earlier packets fill it) and assumes SRC=203.0.113.7 is \
                 not in it, so --rcheck finds no entry (set it by hand if it is there), so this does not hold"
            );
            let o = eval("! --update --name ssh");
            assert!(o.holds && o.assumed);
            assert!(o.why.contains("so --update finds no entry"));
            assert!(!eval("--remove --name ssh").holds);
        }

        /// The matches of `options` (one `-m recent ...` each) run in turn on one scene, as rules of one walk.
        fn in_turn(scene: &Scene, options: &[&str]) -> Vec<Outcome> {
            options
                .iter()
                .map(|o| match first_match(Family::Ipv4, &format!("-m recent {o}")) {
                    MatchKind::Recent(m) => m.eval(&scene.ctx()),
                    other => panic!("{other:?}"),
                })
                .collect()
        }

        #[test]
        fn the_walk_sees_what_it_put_in_a_list() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let o = in_turn(
                &s,
                &[
                    "--set --name a",
                    "--rcheck --name a",
                    "--rcheck --hitcount 2 --name a",
                    "--update --seconds 60 --name a",
                    "--rcheck --hitcount 2 --name a",
                    "--rcheck --name b",
                ],
            );
            let holds: Vec<(bool, bool)> = o.iter().map(|o| (o.holds, o.assumed)).collect();
            // The update that matched is a second sighting; another list is not known.
            assert_eq!(
                holds,
                [(true, false), (true, false), (false, true), (true, false), (true, false), (false, true)]
            );
            assert!(o[2].why.contains("(seen 1 time); --hitcount 2 needs more"), "{}", o[2].why);
            assert!(o[4].why.contains("(seen 2 times), --hitcount 2 is met"), "{}", o[4].why);
            // A negated update that holds counts too (the kernel updates when the match's answer is true).
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let o =
                in_turn(&s, &["--set --name a", "! --update --hitcount 3 --name a", "--rcheck --hitcount 2 --name a"]);
            assert!(o[1].holds && o[2].holds);
        }

        #[test]
        fn remove_takes_the_address_out_for_good() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 syn");
            let o = in_turn(
                &s,
                &["--set --name a", "--remove --name a", "--rcheck --name a", "--set --name a", "--rcheck --name a"],
            );
            let holds: Vec<(bool, bool)> = o.iter().map(|o| (o.holds, o.assumed)).collect();
            assert_eq!(holds, [(true, false), (true, false), (false, false), (true, false), (true, false)]);
            assert!(o[2]
                .why
                .starts_with("a --remove earlier in this walk took SRC=203.0.113.7 out of recent list `a`"));
        }

        #[test]
        fn rttl_compares_the_ttl_before_forwarding() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 ttl 64 syn");
            let o = in_turn(&s, &["--set --name a", "--rcheck --rttl --name a"]);
            assert!(o[1].holds);
            // Forwarded, the packet's TTL is one less after routing; the kernel adds it back.
            let mut s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:22 in eth0 ttl 63 syn")
                .at(Hook::Forward, TableName::Filter);
            s.pkt.out_iface = Some("eth1".into());
            s.recent.borrow_mut().push(RecentEntry {
                list: "a".into(),
                addr: "203.0.113.7".parse().unwrap(),
                ttl: 64,
                hits: 1,
            });
            assert!(in_turn(&s, &["--rcheck --rttl --name a"])[0].holds);
            s.recent.borrow_mut()[0].ttl = 63;
            let o = &in_turn(&s, &["--rcheck --rttl --name a"])[0];
            assert!(!o.holds && !o.assumed);
            assert!(o.why.contains("last seen with TTL 63, but --rttl wants this packet's TTL 64"), "{}", o.why);
        }
    }
}
