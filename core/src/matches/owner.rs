//! `-m owner`: the user, group and socket of locally generated packets (`libxt_owner` revision 1, the
//! kernel's `xt_owner.c`). The kernel allows it only on the OUTPUT and POSTROUTING hooks, where a packet
//! still carries its socket.

use super::conntrack::{all_of, in_list};
use super::u32::xt_strtoul;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The options of `-m owner`; at least one of `--uid-owner`, `--gid-owner` and `--socket-exists` is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    /// `--socket-exists`: the packet has a socket (a packet sent by the kernel itself does not).
    pub socket_exists: Option<Negatable<()>>,
    /// `--uid-owner`: the socket's file belongs to one of these users.
    pub uid: Option<Negatable<UidSpec>>,
    /// `--gid-owner`: the socket's file belongs to one of these groups.
    pub gid: Option<Negatable<UidSpec>>,
    /// `--suppl-groups`: `--gid-owner` also matches the supplementary groups of the socket's owner.
    pub suppl_groups: bool,
}

/// Who `--uid-owner` or `--gid-owner` names: a range of numeric ids, or a name that `iptables` would
/// look up in `/etc/passwd` or `/etc/group` of the machine it runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UidSpec {
    /// `N` or `MIN-MAX` (also written `MIN:MAX`).
    Range {
        /// The lowest id.
        min: u32,
        /// The highest id.
        max: u32,
    },
    /// A user or group name chainwalk cannot resolve; `iptables-save` would print its number.
    Name(String),
}

/// The highest id `--uid-owner` takes: `(uid_t)-1` means "no id" to the kernel.
const MAX_ID: u64 = u32::MAX as u64 - 1;

impl UidSpec {
    /// Reads `N`, `MIN-MAX`, `MIN:MAX` (numbers in C notation) or a name. `root` is id 0 on every Linux
    /// system, so it is resolved; other names are kept with `Name`.
    fn parse(text: &str) -> Result<UidSpec, String> {
        if text == "root" {
            return Ok(UidSpec::Range { min: 0, max: 0 });
        }
        if let Some((min, max)) = parse_range(text) {
            if min > max {
                return Err(format!(
                    "range `{text}` is reversed; the kernel refuses a range whose start is past its end"
                ));
            }
            return Ok(UidSpec::Range { min, max });
        }
        let name_like = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && text.len() <= 32
            && text.trim_end_matches('$').chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if name_like {
            return Ok(UidSpec::Name(text.to_string()));
        }
        Err(format!("`{text}` is neither an id (`N` or `MIN-MAX`, up to {MAX_ID}) nor a user or group name"))
    }

    /// Whether numeric id `id` is in the range (a name is never known to match).
    pub fn contains(&self, id: u32) -> Option<bool> {
        match self {
            UidSpec::Range { min, max } => Some((*min..=*max).contains(&id)),
            UidSpec::Name(_) => None,
        }
    }
}

/// `owner_parse_range`: a number, optionally followed by `-` or `:` and a second number, nothing after.
fn parse_range(text: &str) -> Option<(u32, u32)> {
    let (min, used) = xt_strtoul(text, 0)?;
    let min = min.filter(|&n| n <= MAX_ID)? as u32;
    let rest = &text[used..];
    let Some(second) = rest.strip_prefix(['-', ':']) else {
        return rest.is_empty().then_some((min, min));
    };
    let (max, used) = xt_strtoul(second, 0)?;
    let max = max.filter(|&n| n <= MAX_ID)? as u32;
    second[used..].is_empty().then_some((min, max))
}

impl fmt::Display for UidSpec {
    /// `N` for one id, otherwise `MIN-MAX`, as `iptables-save` prints it; a name as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UidSpec::Range { min, max } if min == max => write!(f, "{min}"),
            UidSpec::Range { min, max } => write!(f, "{min}-{max}"),
            UidSpec::Name(name) => f.write_str(name),
        }
    }
}

fn id_opt(o: Option<&Opt<'_>>, warnings: &mut Vec<Diagnostic>) -> Result<Option<Negatable<UidSpec>>, Diagnostic> {
    let Some(o) = o else { return Ok(None) };
    let spec = o.parse_arg(UidSpec::parse)?;
    if let UidSpec::Name(name) = &spec {
        let db = if o.name == "uid-owner" { "/etc/passwd" } else { "/etc/group" };
        warnings.push(
            Diagnostic::warning(
                o.arg_span(),
                format!("`{name}` is a name that iptables looks up in {db} of the machine it runs on; chainwalk cannot look it up"),
            )
            .with_hint("write the numeric id; iptables-save prints the number, and iptables-restore fails if the name is unknown there"),
        );
    }
    Ok(Some(Negatable { value: spec, negated: o.negated, span: o.span }))
}

impl Extension for Owner {
    const OPTIONS: &'static [OptSpec] = &[
        opt("uid-owner", Args::One),
        opt("gid-owner", Args::One),
        opt("socket-exists", Args::Zero),
        opt("suppl-groups", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Owner, Diagnostic> {
        // `--suppl-groups` is checked when it is read, so `--gid-owner` must come before it.
        for (i, o) in opts.iter().enumerate().filter(|(_, o)| o.name == "suppl-groups") {
            o.no_negation()?;
            if !opts[..i].iter().any(|p| p.name == "gid-owner") {
                return Err(Diagnostic::error(o.span, "`--suppl-groups` needs `--gid-owner` before it"));
            }
        }
        let m = Owner {
            socket_exists: find(opts, "socket-exists")?.map(|o| Negatable {
                value: (),
                negated: o.negated,
                span: o.span,
            }),
            uid: id_opt(find(opts, "uid-owner")?, warnings)?,
            gid: id_opt(find(opts, "gid-owner")?, warnings)?,
            suppl_groups: find(opts, "suppl-groups")?.is_some(),
        };
        if m.socket_exists.is_none() && m.uid.is_none() && m.gid.is_none() {
            return Err(
                ctx.error("the owner match needs at least one of `--uid-owner`, `--gid-owner`, `--socket-exists`")
            );
        }
        Ok(m)
    }

    /// The order of `owner_mt_save`: socket-exists, uid, gid, suppl-groups.
    fn save(&self, out: &mut String) {
        if let Some(s) = &self.socket_exists {
            save_opt(out, s.negated, "socket-exists");
        }
        if let Some(u) = &self.uid {
            save_opt_value(out, u.negated, "uid-owner", &u.value);
        }
        if let Some(g) = &self.gid {
            save_opt_value(out, g.negated, "gid-owner", &g.value);
        }
        if self.suppl_groups {
            out.push_str(" --suppl-groups");
        }
    }
}

/// The user and group chainwalk takes a locally generated packet to be sent by when it gives no `UID=`/`GID=`:
/// root, as for a packet sent by a process run as root (the kernel-recorded cases are).
const ASSUMED_ID: u32 = 0;

/// `--uid-owner` or `--gid-owner` against the packet's id (`key` is `UID` or `GID`), assumed root's when the
/// packet gives none; with `groups` (`--suppl-groups`), supplementary groups, which chainwalk does not know,
/// are assumed not to be in the range.
fn eval_id(key: &str, given: Option<u32>, test: &Negatable<UidSpec>, groups: bool) -> Outcome {
    let id = given.unwrap_or(ASSUMED_ID);
    let unknown = if given.is_some() {
        String::new()
    } else {
        format!(" (the packet gives no {key}=, so chainwalk assumes root's; give {key}=N in the packet to change it)")
    };
    let (inside, mut fact) = match (test.value.contains(id), &test.value) {
        (Some(inside), UidSpec::Range { min, max }) => {
            (inside, format!("{key}={id}{unknown} {}", in_list(inside, &test.value, min == max)))
        }
        _ => (
            false,
            format!("{key}={id}{unknown} is assumed not to be `{}`, a name chainwalk cannot look up", test.value),
        ),
    };
    let named = matches!(test.value, UidSpec::Name(_));
    let by_groups = groups && !inside;
    if by_groups {
        fact.push_str(
            " and the owner's supplementary groups, which chainwalk does not know, are assumed not to be either",
        );
    }
    let o = conclude(inside, test.negated, fact);
    if given.is_none() || named || by_groups {
        Outcome::assumed(o.holds, o.why)
    } else {
        o
    }
}

impl Evaluate for Owner {
    /// `owner_mt` in `xt_owner.c`: a packet without a socket (one this host forwards, or an answer the kernel
    /// makes itself) matches only when every option given is negated; otherwise the socket exists, then the
    /// file owner's user and group are compared.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let pkt = ctx.pkt;
        if ctx.kernel_socket {
            // `owner_mt`: the socket exists, and without a file the user and group tests hold only negated.
            let whence = "the kernel sends the packet from its own ICMP socket";
            if self.socket_exists.as_ref().is_some_and(|s| s.negated) {
                return Outcome::no(format!("{whence}, so a socket exists and `! --socket-exists` does not hold"));
            }
            let ids_negated = [self.uid.as_ref().map(|u| u.negated), self.gid.as_ref().map(|g| g.negated)]
                .into_iter()
                .flatten()
                .all(|n| n);
            return Outcome::when(
                ids_negated,
                format!(
                    "{whence}, which no process's file owns, so the owner match {}",
                    if ids_negated {
                        "matches (the socket exists, and every user or group test given is negated)"
                    } else {
                        "does not match a user or group test"
                    }
                ),
            );
        }
        if !ctx.socket {
            let all_negated = [
                self.socket_exists.as_ref().map(|s| s.negated),
                self.uid.as_ref().map(|u| u.negated),
                self.gid.as_ref().map(|g| g.negated),
            ]
            .into_iter()
            .flatten()
            .all(|n| n);
            let whence = match pkt.in_iface.as_deref() {
                Some(iface) => format!("the packet came in on {iface}"),
                None => "the kernel itself sends the packet".to_string(),
            };
            return Outcome::when(
                all_negated,
                format!(
                    "{whence}, so it has no socket, and the owner match then {}",
                    if all_negated { "matches, as every option given is negated" } else { "does not match" }
                ),
            );
        }
        let mut outcomes = Vec::new();
        if let Some(s) = &self.socket_exists {
            outcomes.push(conclude(true, s.negated, "the packet is sent by this host, so it has a socket".to_string()));
        }
        if let Some(u) = &self.uid {
            outcomes.push(eval_id("UID", pkt.uid, u, false));
        }
        if let Some(g) = &self.gid {
            outcomes.push(eval_id("GID", pkt.gid, g, self.suppl_groups));
        }
        all_of(outcomes, "the packet has a socket")
    }
}

#[cfg(test)]
mod tests {
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// The OUTPUT rule as chainwalk prints it back, after checking that it loaded without errors.
    fn saved(line: &str) -> String {
        let p = parsed(line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::from("-A OUTPUT");
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("OUTPUT").unwrap().rules[0], &mut out);
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
            "-A OUTPUT -m owner --uid-owner 0 -j ACCEPT",
            "-A OUTPUT -m owner --uid-owner 1000-2000 -j ACCEPT",
            "-A OUTPUT -m owner ! --uid-owner 0 -j ACCEPT",
            "-A OUTPUT -m owner --gid-owner 100-200 --suppl-groups -j ACCEPT",
            "-A OUTPUT -m owner ! --socket-exists -j ACCEPT",
            "-A OUTPUT -m owner ! --uid-owner 0 ! --gid-owner 0 -j ACCEPT",
            "-A OUTPUT -m owner --uid-owner 4294967294 -j ACCEPT",
        ] {
            assert_eq!(saved(same), same);
        }
        // As iptables-save 1.8.9 printed them.
        for (input, out) in [
            ("--uid-owner root", "--uid-owner 0"),
            ("--uid-owner 1000:2000", "--uid-owner 1000-2000"),
            ("--uid-owner 5-5", "--uid-owner 5"),
            ("--uid-owner 0x10", "--uid-owner 16"),
            ("--uid-owner 010", "--uid-owner 8"),
            ("--uid-owner \" 5\"", "--uid-owner 5"),
            ("--gid-owner 0 --uid-owner 0", "--uid-owner 0 --gid-owner 0"),
            ("--socket-exists --gid-owner 0 --uid-owner 0", "--socket-exists --uid-owner 0 --gid-owner 0"),
        ] {
            assert_eq!(
                saved(&format!("-A OUTPUT -m owner {input} -j ACCEPT")),
                format!("-A OUTPUT -m owner {out} -j ACCEPT")
            );
        }
    }

    #[test]
    fn names_are_kept_with_a_warning() {
        let p = parsed("-A OUTPUT -m owner --uid-owner daemon -j ACCEPT");
        assert!(!p.has_errors());
        let w = p.warnings().next().expect("a warning");
        assert_eq!((w.span.line, w.span.col), (2, 32));
        assert!(w.message.contains("/etc/passwd"), "{}", w.message);
        assert_eq!(crate::canonical(&p).lines().nth(4), Some("-A OUTPUT -m owner --uid-owner daemon -j ACCEPT"));
    }

    #[test]
    fn errors() {
        for bad in ["-1", "4294967295", "5-", "1-2-3", "\"\"", "5-5000000000"] {
            let (col, msg) = error(&format!("-A OUTPUT -m owner --uid-owner {bad} -j ACCEPT"));
            assert_eq!(col, 32, "{bad}");
            assert!(msg.contains("neither an id"), "{bad}: {msg}");
        }
        assert_eq!(
            error("-A OUTPUT -m owner --uid-owner 2000-1000"),
            (32, "range `2000-1000` is reversed; the kernel refuses a range whose start is past its end".into())
        );
        assert_eq!(
            error("-A OUTPUT -m owner --suppl-groups --gid-owner 100 -j ACCEPT"),
            (20, "`--suppl-groups` needs `--gid-owner` before it".into())
        );
        assert_eq!(
            error("-A OUTPUT -m owner --gid-owner 5 ! --suppl-groups").1,
            "`--suppl-groups` cannot be negated with `!`"
        );
        assert_eq!(error("-A OUTPUT -m owner --uid-owner 5 --uid-owner 6").0, 34);
        assert_eq!(
            error("-A OUTPUT -m owner -j ACCEPT"),
            (11, "the owner match needs at least one of `--uid-owner`, `--gid-owner`, `--socket-exists`".into())
        );
        assert_eq!(error("-A OUTPUT -m owner --pid-owner 1").1, "unknown option `--pid-owner`");
    }

    mod eval {
        use crate::matches::conntrack::fixture::Scene;
        use crate::matches::MatchKind;
        use crate::ruleset::{Family, Hook, TableName};
        use crate::walk::eval::{Evaluate, Outcome};

        /// Evaluates `-m owner OPTIONS`, loaded in OUTPUT (the kernel refuses it in INPUT).
        fn eval(scene: &Scene, options: &str) -> Outcome {
            let text = format!("*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m owner {options}\nCOMMIT\n");
            let p = crate::parse(&text, Some(Family::Ipv4));
            assert!(!p.has_errors(), "{options}: {:?}", p.diagnostics);
            match &p.ruleset.tables[0].chain("OUTPUT").expect("OUTPUT").rules[0].matches[0].kind {
                MatchKind::Owner(m) => m.eval(&scene.ctx()),
                other => panic!("{other:?}"),
            }
        }

        fn sent(packet: &str) -> Scene {
            Scene::new(packet).at(Hook::Output, TableName::Filter)
        }

        #[test]
        fn user_and_group_of_the_packet() {
            let s = sent("tcp 198.51.100.2:40000 -> 203.0.113.9:443 out eth0 syn uid 1000 gid 100");
            let o = eval(&s, "--uid-owner 1000");
            assert!(o.holds && !o.assumed);
            assert_eq!(o.why, "UID=1000 is 1000, so this holds");
            let o = eval(&s, "--uid-owner 0");
            assert!(!o.holds && !o.assumed);
            assert_eq!(o.why, "UID=1000 is not 0, so this does not hold");
            let o = eval(&s, "! --uid-owner 0 --gid-owner 50-150");
            assert!(o.holds);
            assert_eq!(o.why, "UID=1000 is not 0, so this holds; GID=100 is in 50-150, so this holds");
            assert!(!eval(&s, "! --gid-owner 100").holds);
        }

        #[test]
        fn without_uid_root_is_assumed() {
            let s = sent("tcp 198.51.100.2:40000 -> 203.0.113.9:443 out eth0 syn");
            let o = eval(&s, "--uid-owner 0");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "UID=0 (the packet gives no UID=, so chainwalk assumes root's; give UID=N in the packet to change it) \
                 is 0, so this holds"
            );
            let o = eval(&s, "--uid-owner 1000-2000");
            assert!(!o.holds && o.assumed);
            assert!(o.why.ends_with("is not in 1000-2000, so this does not hold"), "{}", o.why);
        }

        #[test]
        fn names_and_supplementary_groups_are_assumed() {
            let s = sent("tcp 198.51.100.2:40000 -> 203.0.113.9:443 out eth0 syn uid 1000 gid 100");
            let o = eval(&s, "--uid-owner daemon");
            assert!(!o.holds && o.assumed);
            assert_eq!(
                o.why,
                "UID=1000 is assumed not to be `daemon`, a name chainwalk cannot look up, so this does not hold"
            );
            let o = eval(&s, "--gid-owner 10 --suppl-groups");
            assert!(!o.holds && o.assumed);
            assert!(o.why.contains("supplementary groups, which chainwalk does not know"), "{}", o.why);
            let o = eval(&s, "--gid-owner 100 --suppl-groups");
            assert!(o.holds && !o.assumed);
        }

        #[test]
        fn socket() {
            let s = sent("udp 198.51.100.2:5353 -> 203.0.113.9:53 out eth0");
            let o = eval(&s, "--socket-exists");
            assert!(o.holds);
            assert_eq!(o.why, "the packet is sent by this host, so it has a socket, so this holds");
            assert!(!eval(&s, "! --socket-exists").holds);
        }

        #[test]
        fn forwarded_packets_have_no_socket() {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 10.0.0.5:80 in eth0 out eth1 syn")
                .at(Hook::Postrouting, TableName::Mangle);
            let o = eval(&s, "--uid-owner 0");
            assert!(!o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "the packet came in on eth0, so it has no socket, and the owner match then does not match"
            );
            let o = eval(&s, "! --uid-owner 0 ! --socket-exists");
            assert!(o.holds);
            assert_eq!(
                o.why,
                "the packet came in on eth0, so it has no socket, and the owner match then matches, as every option \
                 given is negated"
            );
            assert!(!eval(&s, "! --uid-owner 0 --socket-exists").holds);
        }
    }
}
