//! The walk against the kernel on real-world dumps: for each dump of `../shared/corpus/real` that
//! `iptables-legacy-restore` accepts, a host made up from the interfaces and ipsets its rules name and packets aimed
//! at its rules (`walk_diff/synth.rs`) are recorded from the kernel with the recorder `tests/record.rs`
//! uses, walked by chainwalk as `tests/cases.rs` walks a case, and every difference is reported. The dumps
//! are third-party data: they are read where they are and copied only to a temporary folder.
//!
//! On demand, as root: `CHAINWALK_WALK_DIFF=1 cargo test --test walk_diff -- --nocapture`, with
//! - `CHAINWALK_WALK_DIFF_SEED=N` (default 1): which packets are made; the same seed makes the same ones;
//! - `CHAINWALK_WALK_DIFF_COUNT=N` (default 6): packets per dump (12 cover every direction and kind once);
//! - `CHAINWALK_WALK_DIFF_DUMP=name[,name...]` (`prefix*` too): which dumps (by file name without `.rules`);
//! - `CHAINWALK_WALK_DIFF_DIR=DIR`: the `*.rules` dumps of DIR instead of the shared corpus (read in place);
//! - `CHAINWALK_WALK_DIFF_OTHER=1`: packets of the other protocols the dump's rules name (ESP, AH, GRE,
//!   SCTP, UDP-Lite, DCCP; ESP, GRE, SCTP and UDP-Lite in turn where it names none) instead;
//! - `CHAINWALK_WALK_DIFF_REPLY=1`: the answers instead (`CTDIR=REPLY`): each packet made is walked by
//!   chainwalk as the first of its connection, and where it gets through, the other side's answer to it
//!   (a TCP segment, a datagram, an echo reply) is sent back to where it came from, addressed as the
//!   first packet left (after its NAT), so that the kernel undoes the connection's NAT on the way back;
//! - `CHAINWALK_WALK_DIFF_RELATED=1`: likewise, but for each UDP datagram the receiver's ICMP port
//!   unreachable, quoting the datagram as it arrived (`CTSTATE=RELATED`).
//!
//! Every packet's files (`rules`, `host`, `packet`, the kernel's `expected`, chainwalk's `chainwalk`) are
//! written to `$TMPDIR/chainwalk-walk-diff/DUMP-N/`, and the summary to `$TMPDIR/chainwalk-walk-diff/report`.
//! A difference is reported only when three more recordings agree with the first (else it is counted as
//! unstable); a packet the recorder cannot set up (a handshake the dump blocks, ...) is counted, with why,
//! and not compared. The test fails when there is a difference.

mod support;

#[path = "walk_diff/legacy.rs"]
mod legacy;
#[path = "walk_diff/simulate.rs"]
mod simulate;
#[path = "walk_diff/synth.rs"]
mod synth;

use chainwalk_core::parse::detect_family;
use chainwalk_core::Family;
use legacy::Legacy;
use std::collections::BTreeMap;
use std::path::PathBuf;
use support::recorder::{self, Case};
use synth::{Hints, Rng};

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// Whether `CHAINWALK_WALK_DIFF_DUMP` selects the dump `name` (every dump when it is unset).
fn selected(name: &str) -> bool {
    support::selected_by("CHAINWALK_WALK_DIFF_DUMP", name)
}

/// The folder of dumps: `CHAINWALK_WALK_DIFF_DIR`, else the shared real-world corpus.
fn dumps_dir() -> PathBuf {
    match std::env::var_os("CHAINWALK_WALK_DIFF_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => support::shared_dir().join("corpus").join("real"),
    }
}

fn dumps() -> Vec<PathBuf> {
    let dir = dumps_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "rules")).collect())
        .unwrap_or_default();
    files.retain(|p| p.file_stem().is_some_and(|s| selected(&s.to_string_lossy())));
    files.sort();
    files
}

/// Whether the real `iptables-legacy-restore` (or ip6tables') accepts the dump, tried in a throwaway namespace
/// that has the made-up host's ipsets.
fn kernel_accepts(rules: &str, host: &str, family: Family) -> bool {
    let tool = if family == Family::Ipv6 { "ip6tables-legacy-restore" } else { "iptables-legacy-restore" };
    let ns = support::Netns::new("cwdiff");
    let sets: String = recorder::ipset_restore_lines(host).into_iter().map(|l| l + "\n").collect();
    if !sets.is_empty() && !ns.run("ipset", &["restore", "-exist"], sets.as_bytes()).status.success() {
        return false;
    }
    ns.run(tool, &["--test"], rules.as_bytes()).status.success()
}

/// Why the kernel would not give the same answer twice for packets through this dump, if it would not.
fn chancy(rules: &str) -> Option<&'static str> {
    if rules.contains("--random-fully") {
        Some("--random-fully picks ports by chance")
    } else if rules.contains("--mode random") && !rules.contains("--probability 1.0") {
        Some("statistic --mode random")
    } else {
        None
    }
}

/// The first line of a message, shortened, to group reasons by.
fn reason(e: &str) -> String {
    let first = e.lines().next().unwrap_or("");
    let mut short: String = first.chars().take(110).collect();
    if short.len() < first.len() {
        short.push('…');
    }
    short
}

#[test]
fn walks_agree_with_the_kernel_on_real_dumps() {
    if std::env::var("CHAINWALK_WALK_DIFF").as_deref() != Ok("1") {
        eprintln!("\n*** SKIPPED: set CHAINWALK_WALK_DIFF=1 (as root) to compare walks on the real-world corpus ***\n");
        return;
    }
    if let Some(why) = support::kernel_unavailable().or_else(recorder::unavailable) {
        eprintln!("\n*** SKIPPED: the kernel recorder cannot run: {why} ***\n");
        return;
    }
    let files = dumps();
    if files.is_empty() {
        eprintln!("\n*** SKIPPED: no dump in {} ***\n", dumps_dir().display());
        return;
    }
    let seed = env_number("CHAINWALK_WALK_DIFF_SEED", 1);
    let other_only = std::env::var("CHAINWALK_WALK_DIFF_OTHER").is_ok_and(|v| v == "1");
    let related = std::env::var("CHAINWALK_WALK_DIFF_RELATED").is_ok_and(|v| v == "1");
    let replies = related || std::env::var("CHAINWALK_WALK_DIFF_REPLY").is_ok_and(|v| v == "1");
    let count = env_number("CHAINWALK_WALK_DIFF_COUNT", 6) as usize;
    let out = std::env::temp_dir().join("chainwalk-walk-diff");
    let _ = std::fs::remove_dir_all(&out);
    let started = std::time::Instant::now();
    let mut report = String::new();
    let mut differences = Vec::new();
    let (mut compared_dumps, mut packets, mut agreed, mut unstable) = (0, 0, 0, 0);
    let mut skipped_dumps: Vec<String> = Vec::new();
    let mut not_recorded: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let name = file.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let rules = String::from_utf8_lossy(&std::fs::read(file).unwrap_or_default()).into_owned();
        let family = detect_family(&rules);
        let hints = Hints::read(&rules, family == Family::Ipv6);
        let mut host = synth::make_host(&hints);
        let sets = synth::make_sets(&rules, &hints, &host);
        if !sets.is_empty() {
            host.text += "# ipset save\n";
            host.text += &sets;
            host.host = chainwalk_core::host::parse(&host.text)
                .unwrap_or_else(|e| panic!("made-up host does not read: {e:?}\n{}", host.text));
        }
        if !kernel_accepts(&rules, &host.text, family) {
            skipped_dumps.push(format!("{name}: iptables-legacy-restore refuses it"));
            continue;
        }
        if let Some(why) = chancy(&rules) {
            skipped_dumps.push(format!("{name}: {why}"));
            continue;
        }
        compared_dumps += 1;
        let name_hash = name.bytes().fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
        let others = hints.other_protocols();
        for i in 0..count {
            let (dir, kind) = synth::combination(seed as usize + i);
            // With CHAINWALK_WALK_DIFF_OTHER=1, packets of the other protocols the dump names (or, when it
            // names none, ESP, GRE, SCTP and UDP-Lite in turn).
            // (With CHAINWALK_WALK_DIFF_RELATED=1, UDP datagrams, whose errors the recorder can make.)
            let kind = match (other_only, others.is_empty()) {
                _ if related => synth::Kind::Udp,
                (false, _) => kind,
                (true, false) => synth::Kind::Other(others[i % others.len()]),
                (true, true) => synth::Kind::Other([50, 47, 132, 136][i % 4]),
            };
            let mut rng = Rng::new(seed ^ name_hash ^ ((i as u64) << 32));
            // In reply mode, up to 64 first packets are tried for one that gets through.
            let mut why_not = None;
            let tries = if replies { 64 } else { 8 };
            let packet = (0..tries).find_map(|_| {
                let packet = synth::make_packet(&hints, &host, dir, kind, &mut rng)?;
                if !replies {
                    return Some(packet);
                }
                match reply_to(&rules, &host, &packet, related) {
                    Ok(reply) => Some(reply),
                    Err(why) => {
                        why_not = Some(why);
                        None
                    }
                }
            });
            let Some(packet) = packet else {
                let why = why_not.unwrap_or_else(|| format!("no {kind:?} {dir:?} packet fits the made-up host"));
                *not_recorded.entry(why).or_default() += 1;
                continue;
            };
            let dir_path = out.join(format!("{name}-{i}"));
            let _ = std::fs::create_dir_all(&dir_path);
            let case =
                Case { rules: rules.clone(), host: host.text.clone(), packet: packet.clone(), assume: String::new() };
            packets += 1;
            match legacy::compare(&case, &dir_path) {
                Legacy::Agrees => agreed += 1,
                Legacy::Unstable => unstable += 1,
                Legacy::NotRecorded(e) => *not_recorded.entry(reason(&e)).or_default() += 1,
                Legacy::NotWalked(e) => differences.push(format!("{name} #{i}: chainwalk cannot walk it: {e}")),
                Legacy::Differs { kernel, chainwalk } => {
                    let mut d = format!(
                        "{name} #{i} ({}): {packet}\n  host: {}\n",
                        dir_path.display(),
                        host.text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join(" | ")
                    );
                    d += &simulate::side_by_side(&kernel, &chainwalk);
                    eprintln!("DIFFERENCE {d}");
                    differences.push(d);
                }
            }
        }
        eprintln!("{name}: done ({:.0?} so far)", started.elapsed());
    }
    report += &format!(
        "walk_diff seed={seed} count={count}: {compared_dumps} dumps, {packets} packets made, {agreed} agree, {} \
         differ, {unstable} unstable, {} not recorded ({:.0?})\n",
        differences.len(),
        not_recorded.values().sum::<usize>(),
        started.elapsed()
    );
    for s in &skipped_dumps {
        report += &format!("skipped {s}\n");
    }
    for (why, n) in &not_recorded {
        report += &format!("not recorded ({n}): {why}\n");
    }
    for d in &differences {
        report += &format!("\n{d}");
    }
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("report"), &report);
    eprintln!("\n{report}");
    assert!(differences.is_empty(), "{} walks differ from the kernel (see above)", differences.len());
}

/// An address as a FATE line gives it (`ADDR`, `ADDR:PORT`, `[ADDR]:PORT`), with its port if it has one.
fn fate_address(text: &str) -> Option<(std::net::IpAddr, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (addr, port) = rest.split_once("]:")?;
        return Some((addr.parse().ok()?, Some(port.parse().ok()?)));
    }
    if let Ok(addr) = text.parse() {
        return Some((addr, None));
    }
    let (addr, port) = text.rsplit_once(':')?;
    Some((addr.parse().ok()?, Some(port.parse().ok()?)))
}

/// The answer to `packet` (see `CHAINWALK_WALK_DIFF_REPLY`): chainwalk walks the first packet of its
/// connection (a SYN for TCP) through `rules`; where that gets through, the answer goes from where it
/// arrived, as it arrived, back to where it came from, written as the reply of that connection (`CTDIR=REPLY`
/// with the original tuple); `Err` says why there is none.
fn reply_to(rules: &str, host: &synth::MadeHost, packet: &str, error: bool) -> Result<String, String> {
    use chainwalk_core::host::RouteDecision;
    use chainwalk_core::packet::L4;
    use chainwalk_core::trace::{FateVerdict, Path};
    let p = chainwalk_core::packet::parse(packet).map_err(|e| format!("packet: {e}"))?;
    let v6 = p.src.is_ipv6() || p.dst.is_ipv6();
    // The connection's first packet: an established segment's SYN.
    let first = if matches!(p.l4, L4::Tcp { .. }) && packet.contains("CTSTATE=ESTABLISHED") {
        let len = if v6 { 80 } else { 60 };
        packet
            .replace(" ACK PSH CTSTATE=ESTABLISHED", " SYN")
            .replace(" LEN=53 ", " LEN=60 ")
            .replace(" LEN=73 ", &format!(" LEN={len} "))
    } else {
        packet.to_string()
    };
    let (trace, _) = simulate::walk_case(rules, Some(&host.text), &first, &[], chainwalk_core::walk::Backend::Legacy)?;
    let fate = &trace.fate;
    if fate.verdict != FateVerdict::Accept {
        return Err("the connection's first packet does not get through (chainwalk)".into());
    }
    let (Some((src, sport)), Some((dst, dport))) = (fate_address(&fate.src), fate_address(&fate.dst)) else {
        return Err(format!("unread addresses in chainwalk's fate: {} {}", fate.src, fate.dst));
    };
    if dst.is_multicast() || host.host.addr_type(dst) == chainwalk_core::host::AddrType::Broadcast {
        return Err("the first packet went to a broadcast or multicast address".into());
    }
    // The answer comes back in where the first packet left, or the host sends it when it took it in.
    let (in_if, out_if) = match fate.path {
        Path::Input => match host.host.route(src) {
            RouteDecision::Forward { dev, .. } => (String::new(), dev),
            _ => return Err("the host has no route back to the first packet's source".into()),
        },
        Path::Forward | Path::Output => (fate.out.clone().unwrap_or_default(), String::new()),
    };
    let (ip, extra) = if v6 { ("TC=0 HOPLIMIT=64 FLOWLBL=0", 20) } else { ("TTL=64", 0) };
    if error {
        // The receiver's port unreachable, quoting the datagram as it arrived (a ten-byte payload).
        let L4::Udp { sport: os, dport: od } = p.l4 else {
            return Err("the recorder makes RELATED errors about UDP datagrams only".into());
        };
        let (Some(sp), Some(dp)) = (sport, dport) else {
            return Err(format!("no ports in chainwalk's fate: {} {}", fate.src, fate.dst));
        };
        let (kind, len) = if v6 { ("ICMPv6 TYPE=1 CODE=4", 106) } else { ("ICMP TYPE=3 CODE=3", 66) };
        return Ok(format!(
            "IN={in_if} OUT={out_if} SRC={dst} DST={src} LEN={len} {ip} PROTO={kind} [SRC={src} DST={dst} PROTO=UDP \
             SPT={sp} DPT={dp} ] CTSTATE=RELATED ORIGSRC={} ORIGDST={} ORIGSPT={os} ORIGDPT={od}",
            p.src, p.dst
        ));
    }
    let head = format!("IN={in_if} OUT={out_if} SRC={dst} DST={src}");
    let original = format!("ORIGSRC={} ORIGDST={}", p.src, p.dst);
    Ok(match p.l4 {
        L4::Tcp { sport: os, dport: od, .. } => {
            let df = if v6 { "" } else { " DF" };
            format!(
                "{head} LEN={} {ip}{df} PROTO=TCP SPT={} DPT={} ACK PSH CTSTATE=ESTABLISHED CTDIR=REPLY {original} \
                 ORIGSPT={os} ORIGDPT={od}",
                53 + extra,
                dport.unwrap_or(od),
                sport.unwrap_or(os)
            )
        }
        L4::Udp { sport: os, dport: od } => format!(
            "{head} LEN={} {ip} PROTO=UDP SPT={} DPT={} CTSTATE=ESTABLISHED CTDIR=REPLY {original} ORIGSPT={os} \
             ORIGDPT={od}",
            60 + extra,
            dport.unwrap_or(od),
            sport.unwrap_or(os)
        ),
        L4::Icmpv6 { .. } => {
            format!("{head} LEN=104 {ip} PROTO=ICMPv6 TYPE=129 CODE=0 CTSTATE=ESTABLISHED CTDIR=REPLY {original}")
        }
        L4::Icmp { .. } => {
            format!("{head} LEN=84 {ip} PROTO=ICMP TYPE=0 CODE=0 CTSTATE=ESTABLISHED CTDIR=REPLY {original}")
        }
        _ => return Err("no answer made for this protocol".into()),
    })
}
