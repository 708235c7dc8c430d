//! The same case recorded on the nf_tables backend, as a user of `iptables-nft` sees it: the host built as
//! for the legacy recording, the dump loaded with `iptables-nft-restore` (or `ip6tables-nft-restore`)
//! instead, the packet marked and sent the same way, and the lines `xtables-monitor --trace`, running in H,
//! printed for it.
//!
//! The monitor prints a `PACKET:` line each time the packet enters a base chain (one per table and hook),
//! then a ` TRACE:` line per rule that decided something and for a base chain's policy. Its packet id is
//! random and changes when the packet is looped back, so the packet's lines are told by the IPv4 ID or IPv6
//! flow label of their `PACKET:` line, which the recorder stamped (or learnt). The recorder's own table
//! `cwrec` is traced too, but it is of family `inet` and the monitor watches only `ip` (`-4`) or `ip6`
//! (`-6`), the families iptables-nft's tables have, so none of its lines are printed.

use super::{header_for, lab_for, run_with_input, Case, Lab, MachineLock, Res, FLAGS, ONE_AT_A_TIME};
use chainwalk_core::packet::Packet;
use chainwalk_core::parse::detect_family;
use chainwalk_core::Family;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The fields of a `PACKET:` line that `expected-nft` keeps (the interfaces, addresses, the IP header's
/// length, TOS or traffic class and TTL or hop limit, the ports and the packet mark); the others (MACSRC,
/// MACDST, MACPROTO, ID, FLOWLBL) change from run to run (the recorder stamps its packets with them) or are
/// not modelled.
const KEEP: [&str; 12] = ["IN", "OUT", "SRC", "DST", "LEN", "TOS", "TTL", "TC", "HOPLIMIT", "SPORT", "DPORT", "MARK"];

/// What recording a case on the nf_tables backend gave.
pub enum Outcome {
    /// The text of its `expected-nft` file.
    Recorded(String),
    /// Why the tools cannot show this case's walk faithfully (the case is then listed in
    /// `tests/cases/README.md` and has no `expected-nft`).
    Impossible(String),
}

/// Records `case` on the nf_tables backend.
pub fn record(case: &Case) -> Res<Outcome> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let _machine = MachineLock::take()?;
    let (lab, pkt, targets) = lab_for(case)?;
    if let Err(refused) = lab.restore_nft(&case.rules) {
        return Ok(Outcome::Impossible(refused));
    }
    lab.check_legacy_empty(&case.rules)?;
    let monitor = Monitor::start(&lab, pkt.family())?;
    let sent = lab.send(&pkt, &targets);
    let printed = monitor.stop()?;
    let seen = sent?;
    if std::env::var_os("CHAINWALK_RECORD_DEBUG").is_some() {
        eprintln!("xtables-monitor:\n{}{}", printed.out, printed.err);
    }
    if let Some(why) = printed.failure() {
        return Ok(Outcome::Impossible(why));
    }
    // No line at all is a recording too: the packet met no chain of the dump (as in `expected`).
    let lines = packet_lines(&printed.out, &pkt, seen.stamp.ip);
    if let Some(why) = lab.misprinted(&case.rules, &lines)? {
        return Ok(Outcome::Impossible(why));
    }
    let mut text = header_for("iptables-nft")?;
    text.push('\n');
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    Ok(Outcome::Recorded(text))
}

impl Lab {
    /// Loads the dump into H with the nf_tables tools; why they refused it.
    fn restore_nft(&self, rules: &str) -> Res<()> {
        let tool = tool(rules, "restore");
        self.run_in_h(tool, rules.as_bytes()).map(|_| ()).map_err(|e| format!("{tool} refuses the rules: {e}"))
    }

    /// Checks that loading the dump with the nf_tables tools left the legacy tables empty.
    fn check_legacy_empty(&self, rules: &str) -> Res<()> {
        let legacy =
            if detect_family(rules) == Family::Ipv6 { "ip6tables-legacy-save" } else { "iptables-legacy-save" };
        let left = self.run_in_h(legacy, b"").map_err(|e| format!("{legacy}: {e}"))?;
        if left.lines().any(|l| l.starts_with("-A ")) {
            return Err(format!("the legacy tables are not empty after loading the dump on nf_tables:\n{left}"));
        }
        Ok(())
    }

    fn run_in_h(&self, tool: &str, input: &[u8]) -> Res<String> {
        run_with_input(Command::new("ip").args(["netns", "exec", &self.h.name, tool]), input)
    }

    /// A rule the monitor printed otherwise than `iptables-nft-save` prints it from the same kernel
    /// (xtables-monitor 1.8.9 reads some IPv6 targets with the IPv4 extension), or `None`.
    fn misprinted(&self, rules: &str, lines: &[String]) -> Res<Option<String>> {
        let save = tool(rules, "save");
        let saved = self.run_in_h(save, b"").map_err(|e| format!("{save}: {e}"))?;
        let saved: Vec<&str> = saved.lines().collect();
        for line in lines.iter().filter(|l| l.starts_with(" TRACE: ")) {
            let Some((_, rule)) = line.split_once(" -t ") else { continue };
            let Some((_, rule)) = rule.split_once(' ') else { continue };
            if !saved.contains(&rule) {
                return Ok(Some(format!("xtables-monitor printed `{rule}`, which {save} does not print")));
            }
        }
        Ok(None)
    }
}

/// `iptables-nft-restore`, `ip6tables-nft-save`, ...: the nf_tables tool `what` for the dump's family.
fn tool(rules: &str, what: &str) -> &'static str {
    match (detect_family(rules) == Family::Ipv6, what) {
        (false, "restore") => "iptables-nft-restore",
        (true, "restore") => "ip6tables-nft-restore",
        (false, _) => "iptables-nft-save",
        (true, _) => "ip6tables-nft-save",
    }
}

/// `xtables-monitor --trace` running in H.
struct Monitor {
    child: Child,
}

impl Monitor {
    /// Starts the monitor for the packet's family and waits until it listens to the kernel's trace
    /// messages (its netlink socket has joined the trace group), so that it misses none of the packet's.
    fn start(lab: &Lab, family: Family) -> Res<Monitor> {
        let flag = if family == Family::Ipv6 { "-6" } else { "-4" };
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.h.name, "xtables-monitor", "--trace", flag])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run xtables-monitor: {e}"))?;
        let monitor = Monitor { child };
        let start = Instant::now();
        while !monitor.listening() {
            if start.elapsed() > Duration::from_secs(3) {
                return Err("xtables-monitor did not start listening".into());
            }
            sleep(Duration::from_millis(5));
        }
        Ok(monitor)
    }

    /// The bytes waiting in each netfilter netlink socket in H that listens to the trace group
    /// (`NFNLGRP_NFTRACE`, group 9): the monitor's, as nothing else in H listens there.
    fn trace_sockets(&self) -> Vec<u64> {
        const NETLINK_NETFILTER: &str = "12";
        const NFTRACE_GROUP_BIT: u64 = 1 << (9 - 1);
        let table = std::fs::read_to_string(format!("/proc/{}/net/netlink", self.child.id())).unwrap_or_default();
        table
            .lines()
            .skip(1)
            .filter_map(|l| {
                // sk, Eth, Pid, Groups, Rmem, ...
                let cols: Vec<&str> = l.split_whitespace().collect();
                let listens = cols.len() > 4
                    && cols[1] == NETLINK_NETFILTER
                    && u64::from_str_radix(cols[3], 16).is_ok_and(|g| g & NFTRACE_GROUP_BIT != 0);
                listens.then(|| cols[4].parse().unwrap_or(u64::MAX))
            })
            .collect()
    }

    fn listening(&self) -> bool {
        !self.trace_sockets().is_empty()
    }

    /// Stops the monitor (it prints each line as it comes) and returns what it printed.
    fn stop(mut self) -> Res<Printed> {
        // The walk's messages reached the monitor's socket as the packet went (the recorder has waited for
        // the kernel's log to go quiet); wait until the monitor has read them all, then give it a moment
        // to print the last.
        let start = Instant::now();
        while self.trace_sockets().iter().any(|&queued| queued > 0) && start.elapsed() < Duration::from_secs(3) {
            sleep(Duration::from_millis(5));
        }
        sleep(Duration::from_millis(30));
        let exited = self.child.try_wait().ok().flatten();
        // SAFETY: kill on the id of a child this value owns and has not waited for.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let mut printed = Printed { out: String::new(), err: String::new(), exited: exited.map(|s| s.to_string()) };
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_string(&mut printed.out).map_err(|e| format!("xtables-monitor: {e}"))?;
        }
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut printed.err).map_err(|e| format!("xtables-monitor: {e}"))?;
        }
        Ok(printed)
    }
}

/// What the monitor printed, and whether it had stopped by itself.
struct Printed {
    out: String,
    err: String,
    /// How it exited before it was stopped, if it did.
    exited: Option<String>,
}

impl Printed {
    /// Why the monitor could not print the whole walk (it gives up on a rule it cannot read), or `None`.
    fn failure(&self) -> Option<String> {
        let err = self.err.trim();
        match &self.exited {
            Some(status) => Some(format!("xtables-monitor stopped ({status}): {}", err.replace('\n', " "))),
            None if !err.is_empty() => Some(format!("xtables-monitor: {}", err.replace('\n', " "))),
            None => None,
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The monitor's lines for the packet, normalized: the blocks (a `PACKET:` line and the ` TRACE:` lines
/// after it) whose `PACKET:` line shows the stamp.
pub fn packet_lines(printed: &str, pkt: &Packet, stamp: u32) -> Vec<String> {
    let key = if pkt.dst.is_ipv6() { "FLOWLBL" } else { "ID" };
    let mut out = Vec::new();
    let mut keep = false;
    for line in printed.lines() {
        if line.starts_with("PACKET: ") {
            keep = super::field(line, key).and_then(|v| v.parse::<u32>().ok()) == Some(stamp);
        }
        if keep && (line.starts_with("PACKET: ") || line.starts_with(" TRACE: ")) {
            out.push(normalize(line));
        }
    }
    out
}

/// A monitor line as `expected-nft` keeps it: without the packet id, a `PACKET:` line with only the fields
/// in [`KEEP`], IPv4's `DF`, `MF` and `FRAG:N` and the TCP flags, a ` TRACE:` line as printed; no trailing
/// space.
pub fn normalize(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("PACKET: ") {
        let mut words = rest.split_whitespace();
        let family = words.next().unwrap_or("");
        let _id = words.next();
        let mut out = vec!["PACKET:", family];
        out.extend(words.filter(|w| match w.split_once('=') {
            Some((k, _)) => KEEP.contains(&k),
            None => FLAGS.iter().any(|(n, _)| n == w) || matches!(*w, "DF" | "MF") || w.starts_with("FRAG:"),
        }));
        return out.join(" ");
    }
    if let Some(rest) = line.strip_prefix(" TRACE: ") {
        let mut parts = rest.splitn(3, ' ');
        let (family, _id, tail) = (parts.next().unwrap_or(""), parts.next(), parts.next().unwrap_or(""));
        return format!(" TRACE: {family} {}", tail.trim_end());
    }
    line.trim_end().to_string()
}
