//! The kernel recorder behind `tests/cases/`: it builds a case's host in network namespaces, loads the
//! case's dump with `iptables-legacy-restore` exactly as given, sends the case's packet, and writes down
//! the kernel's TRACE lines for that packet and what really became of it.
//!
//! The network. A namespace H is the host. Each of its interfaces other than `lo` is one end of a veth
//! pair named as the interface; the other end, `eth0`, lives in a peer namespace that plays the rest of the
//! world on that side. A peer owns the gateways H routes through on that link (or another address of the
//! link's subnet), a default route back through H, and the addresses H sends there: the packet's
//! destination and the DNAT targets the dump names (where H's kernel routes them). The peer behind the
//! packet's `IN=` interface is the sender and also owns the packet's source address (but for an IPv6
//! source no interface may have, the unspecified, loopback or a multicast address, or a source that is also
//! the destination, which it puts on its raw packet all the same). Neighbour entries are fixed on both sides of every link, so that a dump that drops
//! ICMPv6 neighbour discovery still lets the packet cross (ARP, which iptables does not see, would need no
//! help), and the sender knows H's link address for a destination of H's on another interface (H answers
//! neighbour solicitations only for the link's own addresses; a link-local one is on-link to the sender).
//! The host's `ip rule` lines replace the kernel's rules only when they are not just the kernel's own: rules
//! added by hand make routing check sources in full (`fib4_has_custom_rules`).
//!
//! The host's ipsets (`ipset save` lines) are restored in H before the rules are loaded.
//!
//! A packet of the host itself (no `IN=`) is sent from a raw socket in H bound to the packet's source, as
//! an application's bound or connected socket has it, so `from` selectors of the routing policy see it. A
//! raw socket's packet meets the routing policy with no protocol or ports, so where the host's rules select
//! by `ipproto`, `sport` or `dport` a new UDP datagram, or a TCP SYN as `connect` writes it (`LEN=60`, 80 in
//! IPv6), goes from a socket of its protocol bound to its source and port and connected to its destination
//! (the packet's TTL, TOS, DF and mark set on it; its identity learnt from its first TRACE line), and any
//! other packet is not recorded (chainwalk takes an application's
//! socket of the packet's protocol, which has them).
//!
//! Bridges. An interface of the host that has ports (`bridge link` lines) is a real bridge in H with the
//! host's addresses and no peer of its own; each port is a veth end enslaved to it, with a peer namespace
//! behind it that takes an address of the bridge's subnet and routes through the bridge's address, as a
//! container on `docker0` does. Every peer of a bridge knows the others' addresses and link addresses, and
//! the bridge's forwarding database knows every peer's port (static entries), so a frame is never flooded.
//! A packet that comes in on a bridge (`IN=docker0`) is sent by the peer behind its `PHYSIN=` port; an
//! address H routes to a bridge is owned by the peer behind the packet's `PHYSOUT=` port when it is the
//! packet's destination, by another port's peer otherwise (a DNAT target: the first port that is neither
//! `PHYSIN=` nor `PHYSOUT=`). The `net.bridge.bridge-nf-call-*` sysctls are set as the host gives them
//! (per network namespace; 1 by default).
//!
//! Tracing. An `inet` table `cwrec` of nftables in H marks exactly the case's packet with `meta nftrace set 1` in
//! chains at priority -400 on prerouting and output, before iptables' raw table, so the dump is loaded
//! untouched and keeps its rule numbers; legacy iptables then prints a TRACE line for every rule and chain
//! end the packet meets. The same table holds a `ct state` expression, which makes the kernel track
//! connections in H whatever the dump holds (a NAT target or a conntrack match in the dump does so by
//! itself; a nat table with only its policies does not, and its chains would then never run), and two
//! chains at priority 500 on input and postrouting, after every iptables table, that log the case's
//! protocol: they show how the packet was delivered to H. Two more at priority -99 on prerouting and
//! output, just after destination NAT, log the packet as that left it: a packet that a DNAT sends where
//! routing then refuses it (forwarding off, no route) prints no TRACE line after the DNAT rule's, which
//! shows the packet before the rewrite.
//! The kernel's log is read from `/dev/kmsg`, from its end when the packet is sent, and the packet's lines
//! are told from any other by the IPv4 ID or IPv6 flow label the recorder stamped on it (and the TCP
//! sequence and acknowledgement numbers, and for a segment a socket sent, its timestamp value: a socket
//! sends a segment the rules dropped again, with the same numbers, a fifth of a second later).
//!
//! The same case on the nf_tables backend (`recorder/nft.rs`): the dump loaded with `iptables-nft-restore`
//! instead, the same marking, and what `xtables-monitor --trace` prints in H kept instead of the kernel log
//! (the table is of family `inet` so that the monitor, which watches `ip` or `ip6`, leaves it out).
//!
//! The fate. Delivered to H (the input log shows it, with its addresses after any NAT), sent on (a packet
//! socket on a peer's `eth0` caught it on the wire, with its addresses as they left H), rejected (a TCP reset
//! or an ICMP error about it came back to the sender), or dropped (none of these). A dropped or rejected
//! packet is described as last seen: by its last TRACE line, or by the log after destination NAT when that
//! came later.
//!
//! Connection states. `CTSTATE=ESTABLISHED` on a TCP packet makes the recorder do a real handshake first
//! (a listener in H and every peer, a client socket bound to the source address and port in the sender)
//! and trace the next segment with the packet's flags: a pure ACK (the server sends a byte, the client
//! acknowledges it), or PSH ACK (the client sends a byte), or FIN ACK (the client closes). On a UDP packet
//! it exchanges a datagram each way first. With `CTDIR=REPLY` the traced packet goes the other way: the
//! connection is opened from its original source (`ORIGSRC=`/`ORIGSPT=`, by default the reply's destination
//! and port) to its original destination (`ORIGDST=`/`ORIGDPT=`, by default the reply's source and port) by
//! whoever owns that source (H, or the peer H routes it to), and the server, behind the packet's `IN=` (or
//! H), sends the traced segment or datagram back, as it leaves the server (before H undoes any NAT).
//! `CTSTATE=ESTABLISHED` on an ICMP echo reply (write `CTDIR=REPLY`, which it is) makes the original source
//! send an echo request to the original destination, whose kernel sends the traced reply.
//! `CTSTATE=RELATED` on an ICMP error makes it send a UDP datagram
//! from the packet's destination to its source first and then the error about that datagram; an error that
//! quotes its datagram (`[SRC=... ]`) is about one from `ORIGSRC:ORIGSPT` to `ORIGDST:ORIGDPT` (by default
//! the quoted addresses and ports), through H's NAT.

pub mod nft;

use super::Netns;
use chainwalk_core::host::{self, Host, HostInterface, IfAddr, RouteKind};
use chainwalk_core::packet::{self, CtDir, CtState, Packet, L4};
use chainwalk_core::parse::detect_family;
use chainwalk_core::Family;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

/// How long the recorder waits for the kernel after sending before it reads the log, and then how long the
/// log must stay quiet before the recording ends. A packet's walk, its answers (a reset, an ICMP error, a
/// TEE copy) and its frames on the links all happen within a millisecond of the send (measured over every
/// case in `tests/cases`: the last of a packet's lines came at most 5 ms after it was sent, under a
/// compile on both cores); what comes later is the links' own chatter (IPv6 MLD reports, hundreds of
/// milliseconds later), which the stamp leaves out anyway.
const SETTLE: Duration = Duration::from_millis(100);
const QUIET_FOR: Duration = Duration::from_millis(50);

/// What the tracing chains log of the packet they mark: its identity, for a packet the kernel sends
/// (`Stamp::learn`) when no legacy TRACE line shows it (the nf_tables backend traces to netlink instead).
const MARK_LOG: &str = "log prefix \"cwrec-mark \" flags tcp sequence,options";

/// The source port of the UDP datagram a `CTSTATE=RELATED` ICMP error is about.
const RELATED_FLOW_SPORT: u16 = 41234;
/// Its destination port.
const RELATED_FLOW_DPORT: u16 = 33434;

/// The files of one case folder that the recorder reads.
pub struct Case {
    /// The `iptables-save` dump, loaded as given.
    pub rules: String,
    /// The host, in chainwalk's host format.
    pub host: String,
    /// The packet, in chainwalk's packet syntax.
    pub packet: String,
    /// What the case makes true of the world beyond the dump (its optional `assume` file: `KEY=match`
    /// lines, as chainwalk's `--assume` takes them); the recorder sets each up for real.
    pub assume: String,
}

impl Case {
    /// Writes `dir/{rules,host,packet}` (not `assume`), to look at or to load again; errors are ignored.
    pub fn write_to(&self, dir: &Path) {
        for (name, text) in [("rules", &self.rules), ("host", &self.host), ("packet", &self.packet)] {
            let _ = std::fs::write(dir.join(name), text);
        }
    }

    /// Reads `dir/{rules,host,packet}` and `dir/assume` if there is one.
    pub fn load(dir: &Path) -> Res<Case> {
        let read =
            |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| format!("{}: {e}", dir.join(f).display()));
        let assume = if dir.join("assume").exists() { read("assume")? } else { String::new() };
        Ok(Case { rules: read("rules")?, host: read("host")?, packet: read("packet")?, assume })
    }
}

/// A program the recorder started in H for the case; stopped when the lab goes.
struct Helper(std::process::Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts in H what the case's `assume` lines say holds: for a TPROXY rule, a transparent socket
/// (IP_TRANSPARENT) listening where the rule sends packets. Anything else cannot be made true here.
fn start_helpers(lab: &mut Lab, case: &Case, pkt: &Packet) -> Res<()> {
    use chainwalk_core::targets::TargetKind;
    let parsed = chainwalk_core::parse(&case.rules, None);
    for (key, holds) in chainwalk_core::walk::read_overrides(&case.assume)? {
        let rule = key.split(':').collect::<Vec<_>>();
        let [table, chain, number] = rule[..] else { return Err(format!("assume: `{key}` is not TABLE:CHAIN:N")) };
        let target = parsed
            .ruleset
            .tables
            .iter()
            .filter(|t| t.name.as_str() == table)
            .flat_map(|t| t.chains.iter().filter(|c| c.name == chain))
            .find_map(|c| number.parse::<usize>().ok().and_then(|n| c.rules.get(n.wrapping_sub(1))))
            .and_then(|r| r.target.as_ref())
            .ok_or_else(|| format!("assume: the dump has no rule {key}"))?;
        let TargetKind::Tproxy(x) = &target.kind else {
            return Err(format!("assume: the recorder can only make a TPROXY rule's listener exist, not {key}'s"));
        };
        if !holds {
            continue;
        }
        let port = if x.port == 0 { pkt.l4.ports().map_or(0, |p| p.1) } else { x.port };
        let (tcp, v6) = (matches!(pkt.l4, L4::Tcp { .. }), pkt.family() == Family::Ipv6);
        let script = format!(
            "import socket, sys\n\
             s = socket.socket(socket.AF_INET{six}, socket.SOCK_{kind})\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.setsockopt(socket.{level}, {transparent}, 1)\n\
             s.bind(('{addr}', {port}))\n\
             {listen}\n\
             print('ready', flush=True)\n\
             sys.stdin.read()\n",
            six = if v6 { "6" } else { "" },
            kind = if tcp { "STREAM" } else { "DGRAM" },
            level = if v6 { "IPPROTO_IPV6" } else { "SOL_IP" },
            transparent = if v6 { 75 } else { 19 },
            addr = x.addr,
            listen = if tcp { "s.listen(16)" } else { "" },
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.h.name, "python3", "-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let mut ready = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let mut byte = [0u8; 1];
            while out.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
                ready.push(byte[0] as char);
            }
        }
        let mut helper = Helper(child);
        if ready != "ready" {
            let _ = helper.0.kill();
            let mut err = String::new();
            if let Some(e) = helper.0.stderr.as_mut() {
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!("the transparent listener for {key} did not start: {}", err.trim()));
        }
        lab.helpers.push(helper);
    }
    Ok(())
}

/// Why the recorder cannot run here beyond what `kernel_unavailable()` checks, or `None`. In CI
/// (`CI=true`) that is a failure, not a skip.
pub fn unavailable() -> Option<String> {
    let tools = ["nft", "iptables-nft-restore", "ip6tables-nft-restore", "xtables-monitor"];
    let why = if let Some(t) = tools.iter().find(|t| !super::have(t)) {
        Some(format!("`{t}` is not installed"))
    } else if File::open("/dev/kmsg").is_err() {
        Some("/dev/kmsg cannot be read".to_string())
    } else {
        None
    };
    if let Some(w) = &why {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("kernel tests must run in CI, but {w}");
        }
    }
    why
}

/// The comment line that starts every `expected` file: which kernel and iptables recorded it.
pub fn header() -> Res<String> {
    header_for("iptables-legacy")
}

/// The header line, naming the version `iptables` (`iptables-legacy` or `iptables-nft`) reports.
fn header_for(iptables: &str) -> Res<String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").map_err(|e| format!("osrelease: {e}"))?;
    let out = Command::new(iptables).arg("--version").output().map_err(|e| format!("{iptables}: {e}"))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(format!("# recorded by tests/record from Linux {}, {version}", release.trim()))
}

/// Cases run one at a time: the kernel log is one for the whole machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Records `case` from the kernel and returns the text of its `expected` file.
pub fn record(case: &Case) -> Res<String> {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let _machine = MachineLock::take()?;
    let (lab, pkt, targets) = lab_for(case)?;
    lab.load_rules(&case.rules)?;
    let observed = lab.walk(&pkt, &targets)?;
    let mut text = header()?;
    text.push('\n');
    for line in &observed.trace {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&observed.fate);
    text.push('\n');
    Ok(text)
}

/// Checks what the recorder needs of the case and builds its host with no rules loaded yet; also returns
/// the packet and the dump's NAT targets.
fn lab_for(case: &Case) -> Res<(Lab, Packet, DumpTargets)> {
    let host = host::parse(&case.host).map_err(|errs| {
        let list: Vec<String> = errs.iter().map(|d| format!("line {}: {}", d.span.line, d.message)).collect();
        format!("host: {}", list.join("; "))
    })?;
    let pkt = packet::parse(case.packet.trim()).map_err(|d| format!("packet: {}", d.message))?;
    let family = pkt.family();
    if detect_family(&case.rules) != family {
        return Err(format!(
            "the packet is {family:?} but chainwalk reads the rules as {:?}: give the dump its \
             `# Generated by ip6tables-save` header (or an address of the right family)",
            detect_family(&case.rules)
        ));
    }
    if (pkt.fragment_offset != 0 || pkt.more_fragments) && family == Family::Ipv6 {
        return Err("the recorder does not send IPv6 fragments (they need a fragment header)".into());
    }
    if pkt.in_iface.is_some() && pkt.dst.is_loopback() {
        return Err("a sender cannot put a packet to a loopback address on the wire: it keeps it".into());
    }
    let bridged_in = pkt.in_iface.as_deref().is_some_and(|i| host.is_bridge(i));
    if bridged_in {
        let bridge = pkt.in_iface.as_deref().unwrap_or_default();
        match pkt.physin.as_deref() {
            Some(port) if host.bridge_of(port) == Some(bridge) => {}
            Some(port) => return Err(format!("PHYSIN={port} is not a port of {bridge} in the host")),
            None => return Err(format!("the packet comes in on the bridge {bridge}: give PHYSIN= (the port)")),
        }
    }
    // On a bridge, a destination on the sender's link is what the bridge carries between its ports.
    let on_senders_link =
        pkt.in_iface.as_deref().and_then(|i| host.interface(i)).filter(|_| !bridged_in).is_some_and(|i| {
            i.addrs.iter().any(|a| a.addr.is_ipv4() == pkt.dst.is_ipv4() && a.prefix > 0 && a.subnet_contains(pkt.dst))
        });
    if on_senders_link && !host.is_local(pkt.dst) && !host.is_broadcast(pkt.dst) {
        return Err(format!("{} is on the sender's own link, so the sender would deliver it there without H", pkt.dst));
    }
    prepare_kernel();
    let targets = DumpTargets::read(&case.rules);
    let mut lab = Lab::build(&host, &case.host, &pkt, &targets)?;
    start_helpers(&mut lab, case, &pkt)?;
    Ok((lab, pkt, targets))
}

/// Lets the kernel's TRACE lines from any namespace reach the log, and binds the loggers.
fn prepare_kernel() {
    let _ = Command::new("modprobe").arg("nf_log_syslog").stderr(Stdio::null()).stdout(Stdio::null()).status();
    let _ = std::fs::write("/proc/sys/net/netfilter/nf_log_all_netns", "1");
}

/// A lock on a file that keeps two test processes from recording at the same time.
struct MachineLock(File);

impl MachineLock {
    fn take() -> Res<MachineLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/run/chainwalk-record.lock")
            .map_err(|e| format!("lock file: {e}"))?;
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!("lock file: {}", io::Error::last_os_error()));
        }
        Ok(MachineLock(file))
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor locked in `take`.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Runs `f` on a thread that has entered the network namespace `ns`; sockets it creates stay in `ns`.
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> io::Result<T> + Send) -> Res<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = File::open(&path)?;
            // SAFETY: setns on an open namespace file; it changes only this thread's network namespace.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
    .map_err(|e| format!("in namespace {ns}: {e}"))
}

/// Sets sysctls (`net.ipv4.ip_forward`, ...) inside `ns`.
fn sysctls<K: AsRef<str>, V: AsRef<str>>(ns: &str, settings: &[(K, V)]) -> Res<()> {
    let settings: Vec<(String, String)> =
        settings.iter().map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string())).collect();
    in_netns(ns, move || {
        for (key, value) in &settings {
            let path = format!("/proc/sys/{}", key.replace('.', "/"));
            std::fs::write(&path, value)
                .map_err(|e| io::Error::new(e.kind(), format!("sysctl {key} = {value}: {e}")))?;
        }
        Ok(())
    })
}

/// Runs `ip [-n ns] -batch -` with `lines`.
fn ip_batch(ns: Option<&str>, lines: &[String]) -> Res<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    run_with_input(cmd.args(["-batch", "-"]), lines.join("\n").as_bytes())
        .map(|_| ())
        .map_err(|e| format!("ip {}: {e}\n  commands:\n    {}", ns.unwrap_or(""), lines.join("\n    ")))
}

/// Runs a command with `input` on its standard input; its standard output, or its error output.
fn run_with_input(cmd: &mut Command, input: &[u8]) -> Res<String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// The addresses and ports a dump's NAT rules send packets to, so that someone is there to receive them.
pub struct DumpTargets {
    /// Addresses from `--to-destination` and `--to` (a NETMAP to a single address).
    pub addrs: Vec<IpAddr>,
    /// Ports from `--to-destination ADDR:PORT` and `--to-ports`.
    pub ports: Vec<u16>,
    /// Whether a source NAT target picks ports at random (`--random`, `--random-fully`).
    pub random: bool,
    /// Whether the dump has a `-j TEE` rule, whose copies of the packet may leave by an interface too.
    pub tee: bool,
}

impl DumpTargets {
    /// Reads them from the text of a dump.
    pub fn read(rules: &str) -> DumpTargets {
        let mut t = DumpTargets { addrs: Vec::new(), ports: Vec::new(), random: false, tee: false };
        for line in rules.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            // (A destination's port is drawn at random only from ports the rule names, which the recorder
            // sees; a source's is drawn from its whole class.)
            t.tee |= words.windows(2).any(|w| w == ["-j", "TEE"]);
            t.random |= words.iter().any(|w| w.starts_with("--random"))
                && words.iter().any(|w| *w == "SNAT" || *w == "MASQUERADE");
            for pair in words.windows(2) {
                match pair[0] {
                    "--to-destination" | "--to" => {
                        let (addrs, port) = split_nat_target(pair[1]);
                        for a in addrs {
                            if !t.addrs.contains(&a) {
                                t.addrs.push(a);
                            }
                        }
                        t.ports.extend(port);
                    }
                    "--to-ports" => t.ports.extend(pair[1].split('-').next().and_then(|p| p.parse::<u16>().ok())),
                    _ => {}
                }
            }
        }
        t.ports.sort_unstable();
        t.ports.dedup();
        t
    }
}

/// The most addresses of a `--to-destination` range the recorder gives an owner.
const MAX_RANGE: u128 = 16;

/// `192.0.2.1-192.0.2.9:80-90`, `[2001:db8::1]:80`, `2001:db8::1`, `192.0.2.0/32`: the addresses (every one of
/// a range of up to 16, the kernel may pick any; else the first) and the first port.
fn split_nat_target(text: &str) -> (Vec<IpAddr>, Option<u16>) {
    let first_port = |p: &str| p.split('-').next().and_then(|p| p.parse().ok());
    let (addr, port) = if let Some(rest) = text.strip_prefix('[') {
        match rest.split_once(']') {
            Some((a, p)) => (a, p.strip_prefix(':').and_then(first_port)),
            None => (rest, None),
        }
    } else if text.matches(':').count() == 1 {
        let (a, p) = text.split_once(':').unwrap_or((text, ""));
        (a, first_port(p))
    } else {
        (text, None)
    };
    let (first, last) = addr.split_once('-').unwrap_or((addr, addr));
    let first = match first.split_once('/') {
        Some((a, "32" | "128")) => a,
        Some(_) => "",
        None => first,
    };
    let number = |a: IpAddr| match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    };
    let addrs = match (first.parse::<IpAddr>(), last.parse::<IpAddr>()) {
        (Ok(lo), Ok(hi)) if lo.is_ipv4() == hi.is_ipv4() && number(hi) >= number(lo) => {
            let count = (number(hi) - number(lo) + 1).min(MAX_RANGE);
            (0..count)
                .map(|i| match lo {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from((number(lo) + i) as u32)),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(number(lo) + i)),
                })
                .collect()
        }
        (Ok(lo), _) => vec![lo],
        _ => Vec::new(),
    };
    (addrs, port)
}

/// One peer namespace: the far end of one of H's interfaces.
struct Peer {
    /// H's name for the link (`ppp0`); the peer's end is `eth0`.
    iface: String,
    ns: Netns,
    /// The addresses it owns.
    addrs: Vec<IpAddr>,
    /// The MAC address of its `eth0`.
    mac: [u8; 6],
    /// The MAC address of H's end of the link.
    h_mac: [u8; 6],
    /// H's addresses on the link.
    h_addrs: Vec<IpAddr>,
    /// The device of H that holds the peer's neighbour entries: the link, or the bridge it is a port of.
    h_dev: String,
    /// The bridge the link is a port of.
    bridge: Option<String>,
}

/// The host H and its peers; dropping it deletes every namespace.
struct Lab {
    h: Netns,
    peers: Vec<Peer>,
    /// The link whose peer sends the case's packet (see [`sender_link`]); `None` when H sends it.
    sender: Option<String>,
    /// Programs started in H for the case's `assume` lines.
    helpers: Vec<Helper>,
    /// Whether H sends the packet from a socket of its protocol rather than a raw one, so that the routing
    /// policy's protocol and port selectors see it (a new UDP datagram, where the host's rules have them).
    app_socket: bool,
}

/// The link whose peer sends the case's packet: the `PHYSIN=` port for a packet that comes in on a bridge,
/// else its `IN=` interface; `None` when H sends it.
fn sender_link<'p>(host: &Host, pkt: &'p Packet) -> Option<&'p str> {
    if pkt.in_iface.as_deref().is_some_and(|i| host.is_bridge(i)) {
        pkt.physin.as_deref()
    } else {
        pkt.in_iface.as_deref()
    }
}

/// The MAC address H gives bridge `bridge`: the host's, else one made up from its place among the interfaces.
fn bridge_mac(host: &Host, bridge: &HostInterface) -> [u8; 6] {
    let n = host.interfaces.iter().filter(|i| i.name != "lo").position(|i| i.name == bridge.name).unwrap_or(0);
    bridge.mac.unwrap_or([2, 0x63, 0x77, 0, n as u8, 1])
}

/// The commands that make `bridge` in H: the bridge with its addresses (its ports are enslaved as their
/// links are made). Spanning tree is off, as on a Docker or CNI bridge: a port forwards as soon as it is up.
fn bridge_commands(host: &Host, bridge: &HostInterface) -> Vec<String> {
    let mac = bridge_mac(host, bridge);
    let mut lines = vec![format!("link add name {} address {} type bridge stp_state 0", bridge.name, mac_text(mac))];
    let ordered =
        bridge.addrs.iter().filter(|a| a.addr.is_ipv4()).chain(bridge.addrs.iter().rev().filter(|a| a.addr.is_ipv6()));
    for a in ordered {
        lines.push(format!("address add {}/{} dev {}{}", a.addr, a.prefix, bridge.name, nodad(a.addr)));
    }
    if bridge.up {
        lines.push(format!("link set {} up", bridge.name));
    }
    lines
}

/// Where H's kernel sends a packet for an address.
enum RouteGet {
    Local,
    Dev(String),
    Nowhere,
}

/// The host's ipsets as `ipset restore` lines: its `ipset save` lines as they are, and the sets of
/// `ipset list` output (`Name:`, `Type:`, `Header:`, then the elements after `Members:`) made into them.
pub fn ipset_restore_lines(host_text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut name, mut kind, mut members) = (String::new(), String::new(), false);
    for line in host_text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            members = false;
        } else if line.starts_with("create ") || line.starts_with("add ") {
            out.push(line.to_string());
        } else if let Some(n) = line.strip_prefix("Name:") {
            (name, kind, members) = (n.trim().to_string(), String::new(), false);
        } else if let Some(t) = line.strip_prefix("Type:").filter(|_| !name.is_empty()) {
            kind = t.trim().to_string();
        } else if let Some(h) = line.strip_prefix("Header:").filter(|_| !name.is_empty()) {
            out.push(format!("create {name} {kind} {}", h.trim()));
        } else if line == "Members:" && !name.is_empty() {
            if !out.iter().any(|l| l.starts_with(&format!("create {name} "))) {
                out.push(format!("create {name} {kind}"));
            }
            members = true;
        } else if members {
            out.push(format!("add {name} {line}"));
        }
    }
    out
}

/// Sysctls every namespace gets first: no reverse-path filter (a case's dump may test that with
/// `rpfilter`), no duplicate address detection or router advertisements (they only add delay and noise).
const QUIET: [(&str, &str); 5] = [
    ("net.ipv4.conf.all.rp_filter", "0"),
    ("net.ipv4.conf.default.rp_filter", "0"),
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_ra", "0"),
];

/// The `ip route` commands for the routes the host file gives (the kernel adds the prefix routes of
/// addresses by itself), routes through a gateway after the ones that make the gateway reachable.
fn route_commands(host: &Host) -> Vec<String> {
    let mut given: Vec<_> = host.routes.iter().filter(|r| r.span.is_some()).collect();
    given.sort_by_key(|r| r.via.is_some());
    given
        .iter()
        .map(|r| {
            let kind = match r.kind {
                RouteKind::Unicast => "",
                RouteKind::Local => "local ",
                RouteKind::Broadcast => "broadcast ",
                RouteKind::Blackhole => "blackhole ",
                RouteKind::Unreachable => "unreachable ",
                RouteKind::Prohibit => "prohibit ",
                RouteKind::Throw => "throw ",
            };
            let mut line = format!("route replace {kind}{}/{}", r.dst, r.prefix);
            if r.nexthops.is_empty() {
                if let Some(v) = r.via {
                    line += &format!(" via {v}");
                }
                if let Some(d) = &r.dev {
                    line += &format!(" dev {d}");
                }
            }
            // `ip route` takes the next hops last.
            let mut hops = String::new();
            for n in &r.nexthops {
                let line = &mut hops;
                *line += " nexthop";
                if let Some(v) = n.via {
                    *line += &format!(" via {v}");
                }
                if let Some(d) = &n.dev {
                    *line += &format!(" dev {d}");
                }
                *line += &format!(" weight {}", n.weight);
            }
            if let Some(s) = r.src {
                line += &format!(" src {s}");
            }
            if r.metric != 0 {
                line += &format!(" metric {}", r.metric);
            }
            // Local and broadcast routes are in the local table unless the host put them in another.
            if r.table != chainwalk_core::policy::MAIN_TABLE {
                line += &format!(" table {}", r.table);
            }
            if let Some(mtu) = r.mtu {
                line += &format!(" mtu {}{mtu}", if r.mtu_locked { "lock " } else { "" });
            }
            line + &hops
        })
        .collect()
}

/// The `ip rule` commands for the routing policy the host file gives, if it gives one: the kernel's rules
/// go (`flush` keeps only priority 0, the local table's), the host's come in their place.
fn rule_commands(host: &Host, family: Family) -> Vec<String> {
    use chainwalk_core::policy::RuleAction;
    let mut lines = Vec::new();
    {
        let rules: Vec<_> = host.rules.iter().filter(|r| r.family.is_none_or(|f| f == family)).collect();
        // The kernel's own rules, listed as `ip rule` prints them, are left as they are: flushed and added
        // again they would be rules of the user's to the kernel (`fib4_has_custom_rules`), which makes
        // routing check a packet's source in full (recorded).
        if !chainwalk_core::policy::custom_rules(&host.rules, family) {
            return lines;
        }
        lines.push("rule flush".to_string());
        for r in rules {
            if r.priority == 0 && r.action == RuleAction::Lookup(chainwalk_core::policy::LOCAL_TABLE) {
                continue;
            }
            let text = r.text(host);
            // Tables named by the host file have numbers of chainwalk's own, which `ip` takes as they are.
            let text = match r.action {
                RuleAction::Lookup(t) => match text.rsplit_once(" lookup ") {
                    Some((head, tail)) => {
                        let rest = tail.split_once(' ').map_or(String::new(), |(_, r)| format!(" {r}"));
                        format!("{head} lookup {t}{rest}")
                    }
                    None => text,
                },
                _ => text,
            };
            lines.push(format!("rule add priority {} {text}", r.priority));
        }
    }
    lines
}

impl Lab {
    /// Builds H and its peers for the case: links, addresses, routes, sysctls, the owners of the packet's
    /// addresses, fixed neighbours.
    fn build(host: &Host, host_text: &str, pkt: &Packet, targets: &DumpTargets) -> Res<Lab> {
        let ifaces: Vec<&HostInterface> = host.interfaces.iter().filter(|i| i.name != "lo").collect();
        if let Some(inn) = &pkt.in_iface {
            if !ifaces.iter().any(|i| &i.name == inn) {
                return Err(format!("the packet comes in on {inn}, which the host does not have"));
            }
        }
        // A raw socket's packet meets the routing policy with the raw protocol and no ports (`raw_sendmsg`),
        // where an application's socket of the packet's protocol has both.
        let selects_ports = host.rules.iter().any(|r| r.ipproto.is_some() || r.sport.is_some() || r.dport.is_some());
        // A new UDP datagram, or a TCP SYN as `connect` writes it, goes from a socket of its protocol instead,
        // which the kernel routes with its protocol and ports.
        let socket_writes_it = match pkt.l4 {
            L4::Udp { .. } => true,
            L4::Tcp { flags, .. } => {
                flags.0 == 0x02
                    && pkt.tcp_options.is_none()
                    && pkt.len == if pkt.dst.is_ipv6() { 80 } else { 60 }
                    && pkt.tos & 0x03 == 0
            }
            _ => false,
        };
        let app_socket = pkt.in_iface.is_none()
            && selects_ports
            && socket_writes_it
            && pkt.ct_state == CtState::New
            && !pkt.more_fragments
            && pkt.fragment_offset == 0;
        if pkt.in_iface.is_none() && selects_ports && !app_socket {
            return Err("the recorder sends a packet of H from a raw socket, which the routing policy sees with no \
                        protocol or ports: it cannot show rules that select them (ipproto, sport, dport)"
                .into());
        }
        let h = Netns::new("cwrec");
        sysctls(&h.name, &QUIET)?;
        let mut lab = Lab {
            h,
            peers: Vec::new(),
            sender: sender_link(host, pkt).map(str::to_string),
            helpers: Vec::new(),
            app_socket,
        };
        let mut h_lines = vec!["link set lo up".to_string()];
        // Bridges first, so that their ports can be enslaved to them in the same batch.
        let (bridges, links): (Vec<_>, Vec<_>) = ifaces.iter().enumerate().partition(|(_, i)| host.is_bridge(&i.name));
        for (_, iface) in bridges {
            h_lines.extend(bridge_commands(host, iface));
        }
        for (n, iface) in links {
            h_lines.extend(lab.add_link(n, host, iface, pkt)?);
        }
        if let Some(lo) = host.interface("lo") {
            for a in lo.addrs.iter().filter(|a| !(a.addr.is_loopback() && (a.prefix == 8 || a.prefix == 128))) {
                h_lines.push(format!("address add {}/{} dev lo{}", a.addr, a.prefix, nodad(a.addr)));
            }
        }
        ip_batch(Some(&lab.h.name), &h_lines)?;
        ip_batch(Some(&lab.h.name), &route_commands(host))?;
        for (family, flag) in [(Family::Ipv4, "-4"), (Family::Ipv6, "-6")] {
            let rules = rule_commands(host, family);
            if !rules.is_empty() {
                run_with_input(
                    Command::new("ip").args(["-n", &lab.h.name, flag, "-batch", "-"]),
                    rules.join("\n").as_bytes(),
                )
                .map_err(|e| format!("ip {flag} rule: {e}\n    {}", rules.join("\n    ")))?;
            }
        }
        let given_sysctls: Vec<(String, String)> = host_text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("net."))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        sysctls(&lab.h.name, &given_sysctls)?;
        // The host's ipsets (`ipset save` lines), before the rules that name them: ipsets belong to a
        // network namespace, and iptables-restore refuses a rule whose set does not exist. (`-exist`: an
        // element given twice, as the random hosts of `tests/match_diff.rs` may, is not an error.)
        let ipsets = ipset_restore_lines(host_text);
        if !ipsets.is_empty() {
            let script = ipsets.join("\n") + "\n";
            run_with_input(
                Command::new("ip").args(["netns", "exec", &lab.h.name, "ipset", "restore", "-exist"]),
                script.as_bytes(),
            )
            .map_err(|e| format!("ipset restore: {e}\n    {}", ipsets.join("\n    ")))?;
        }
        sysctls(&lab.h.name, &[("net.netfilter.nf_log.2", "nf_log_ipv4"), ("net.netfilter.nf_log.10", "nf_log_ipv6")])?;
        lab.place_owners(pkt, targets)?;
        lab.fix_neighbours(host, pkt)?;
        Ok(lab)
    }

    /// Creates the veth pair for `iface` and its peer namespace (its address on the link and its default
    /// route back through H), and returns the commands that configure H's end.
    /// For a bridge port, the peer takes its addresses in the bridge's subnets and H's end has none.
    fn add_link(&mut self, n: usize, host: &Host, iface: &HostInterface, pkt: &Packet) -> Res<Vec<String>> {
        let ns = Netns::new("cwrec");
        sysctls(&ns.name, &QUIET)?;
        let sender = sender_link(host, pkt) == Some(iface.name.as_str());
        let bridge = iface.master.as_deref().and_then(|b| host.interface(b).map(|i| (b, i)));
        let h_mac = iface.mac.unwrap_or([2, 0x63, 0x77, 0, n as u8, 1]);
        let mac = match pkt.mac_src {
            Some(m) if sender => m,
            _ => [2, 0x63, 0x77, 0, n as u8, 2],
        };
        ip_batch(
            None,
            &[format!(
                "link add name {} netns {} address {} type veth peer name eth0 netns {} address {}",
                iface.name,
                self.h.name,
                mac_text(h_mac),
                ns.name,
                mac_text(mac)
            )],
        )?;
        let mut h_lines = Vec::new();
        if let Some((b, _)) = bridge {
            h_lines.push(format!("link set {} master {b}", iface.name));
        }
        if let Some(mtu) = iface.mtu {
            h_lines.push(format!("link set {} mtu {mtu}", iface.name));
        }
        if iface.up {
            h_lines.push(format!("link set {} up", iface.name));
        }
        let mut p_lines = vec!["link set lo up".to_string(), "link set eth0 up".to_string()];
        let mut addrs = Vec::new();
        let mut gateways: Vec<IpAddr> = Vec::new();
        // A port's peer is on the bridge's link; two ports' peers must not take the same address there.
        let link = bridge.map_or(iface, |(_, b)| b);
        let mut avoid = vec![pkt.src, pkt.dst];
        if bridge.is_some() {
            avoid.extend(self.peers.iter().flat_map(|p| p.addrs.iter().copied()));
        }
        // The kernel lists an interface's IPv4 addresses in the order they were added, but puts a new IPv6
        // address before the others of its scope (`ipv6_link_dev_addr`): IPv6 addresses are added last
        // first, so that H's lists (and `ip addr`) read as the host file does.
        let ordered =
            link.addrs.iter().filter(|a| a.addr.is_ipv4()).chain(link.addrs.iter().rev().filter(|a| a.addr.is_ipv6()));
        for a in ordered {
            if bridge.is_none() {
                h_lines.push(format!("address add {}/{} dev {}{}", a.addr, a.prefix, iface.name, nodad(a.addr)));
            }
            // The peer also owns every other gateway H routes through on this subnet.
            let others = other_gateways(host, link, a);
            for p in peer_address(host, link, a, &avoid).into_iter().chain(others) {
                if !addrs.contains(&p) {
                    let len = if a.subnet_contains(p) { a.prefix } else { 64 };
                    p_lines.push(format!("address add {p}/{len} dev eth0{}", nodad(p)));
                    addrs.push(p);
                }
            }
            if !gateways.iter().any(|g| g.is_ipv4() == a.addr.is_ipv4()) {
                gateways.push(a.addr);
            }
        }
        for g in gateways {
            let default = if g.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
            p_lines.push(format!("route replace {default} via {g} dev eth0 onlink"));
        }
        ip_batch(Some(&ns.name), &p_lines)?;
        let h_addrs = link.addrs.iter().map(|a| a.addr).collect();
        let h_mac = match bridge {
            Some((_, b)) => bridge_mac(host, b),
            None => h_mac,
        };
        self.peers.push(Peer {
            iface: iface.name.clone(),
            ns,
            addrs,
            mac,
            h_mac,
            h_addrs,
            h_dev: link.name.clone(),
            bridge: bridge.map(|(b, _)| b.to_string()),
        });
        Ok(h_lines)
    }

    /// Gives the packet's source to the sender, and its destination and the dump's DNAT targets to the
    /// peers H routes them to.
    fn place_owners(&mut self, pkt: &Packet, targets: &DumpTargets) -> Res<()> {
        let sender = self.sender.as_deref().and_then(|i| self.peers.iter().position(|p| p.iface == i));
        // IPv6 refuses to give an interface the unspecified, the loopback or a multicast address: a sender
        // puts such a source on its raw packet without owning it.
        // Nor does it own a source that is also the destination: it would deliver the packet to itself.
        let ownable = pkt.src != pkt.dst
            && match pkt.src {
                IpAddr::V6(a) => !(a.is_unspecified() || a.is_loopback() || a.is_multicast()),
                IpAddr::V4(_) => true,
            };
        let mut owners: Vec<(usize, IpAddr)> = sender.filter(|_| ownable).map(|s| (s, pkt.src)).into_iter().collect();
        let orig = pkt.orig.unwrap_or_default();
        let quoted = pkt.quoted.filter(|_| pkt.ct_state == CtState::Related).map(|q| [q.src, q.dst]);
        let originals = [orig.src, orig.dst]
            .into_iter()
            .flatten()
            .filter(|_| pkt.ct_dir == CtDir::Reply)
            .chain(quoted.into_iter().flatten());
        for a in std::iter::once(pkt.dst).chain(targets.addrs.iter().copied()).chain(originals) {
            if a.is_ipv4() != pkt.dst.is_ipv4() {
                continue;
            }
            // H's own way there; for the packet's destination, failing that, the way a packet coming in
            // takes (a routing policy may refuse H's own packets and not the ones it forwards).
            let mut found = self.route_get(a, None);
            if let (RouteGet::Nowhere, true, Some(iif)) = (&found, a == pkt.dst, self.sender.as_deref()) {
                found = self.route_get(a, Some((pkt.src, iif)));
            }
            if let RouteGet::Dev(dev) = found {
                let dev = self.port_for(&dev, a == pkt.dst, pkt).unwrap_or(dev);
                if let Some(i) = self.peers.iter().position(|p| p.iface == dev) {
                    // The sender cannot own the packet's destination: it would deliver the packet to itself.
                    if Some(i) != sender || a != pkt.dst {
                        owners.push((i, a));
                    }
                }
            }
        }
        for (i, a) in owners {
            let peer = &mut self.peers[i];
            if !peer.addrs.contains(&a) {
                let len = if a.is_ipv4() { 32 } else { 128 };
                ip_batch(Some(&peer.ns.name), &[format!("address add {a}/{len} dev eth0{}", nodad(a))])?;
                peer.addrs.push(a);
            }
        }
        Ok(())
    }

    /// The port of `bridge` behind which an address H routes there lives: for the packet's destination
    /// (`is_dst`) the packet's `PHYSOUT=`, for another address the first port that is neither `PHYSIN=` nor
    /// `PHYSOUT=`; else the first port that is not `PHYSIN=`. `None` for a device that is no bridge.
    fn port_for(&self, bridge: &str, is_dst: bool, pkt: &Packet) -> Option<String> {
        let ports: Vec<&Peer> = self.peers.iter().filter(|p| p.bridge.as_deref() == Some(bridge)).collect();
        let is = |p: &Peer, name: &Option<String>| name.as_deref() == Some(p.iface.as_str());
        let chosen = ports
            .iter()
            .find(|p| is_dst && is(p, &pkt.physout))
            .or_else(|| ports.iter().find(|p| !is_dst && !is(p, &pkt.physin) && !is(p, &pkt.physout)))
            .or_else(|| ports.iter().find(|p| !is(p, &pkt.physin)))
            .or(ports.first());
        chosen.map(|p| p.iface.clone())
    }

    /// Fixes the neighbours on both sides of every link, so that a dump that filters neighbour discovery
    /// (ICMPv6, which INPUT and OUTPUT see, unlike ARP) still lets the case's packet cross; on a bridge,
    /// also between the peers of its ports, and its forwarding database for every peer. The sender also
    /// knows H's link address for the packet's destination when that is an address of H on another of its
    /// interfaces: a link-local one is on-link to the sender, which would ask for it and get no answer (H
    /// answers neighbour solicitations only for the link's own addresses), so the packet would never leave.
    fn fix_neighbours(&self, host: &Host, pkt: &Packet) -> Res<()> {
        let mut h_neigh = Vec::new();
        let mut fdb = Vec::new();
        for p in &self.peers {
            // An interface with IPv6 off (`disable_ipv6`) takes no IPv6 neighbour.
            for a in p.addrs.iter().filter(|a| a.is_ipv4() || !host.ipv6_disabled(&p.h_dev)) {
                h_neigh.push(format!("neigh replace {a} lladdr {} dev {} nud permanent", mac_text(p.mac), p.h_dev));
            }
            let mut p_neigh: Vec<String> = p
                .h_addrs
                .iter()
                .chain(
                    (self.sender.as_deref() == Some(p.iface.as_str())
                        && host.is_local(pkt.dst)
                        && !p.h_addrs.contains(&pkt.dst)
                        && !pkt.dst.is_loopback())
                    .then_some(&pkt.dst),
                )
                .map(|a| format!("neigh replace {a} lladdr {} dev eth0 nud permanent", mac_text(p.h_mac)))
                .collect();
            if let Some(b) = &p.bridge {
                fdb.push(format!("fdb replace {} dev {} master static", mac_text(p.mac), p.iface));
                for q in self.peers.iter().filter(|q| q.iface != p.iface && q.bridge.as_ref() == Some(b)) {
                    let mac = mac_text(q.mac);
                    p_neigh.extend(
                        q.addrs.iter().map(|a| format!("neigh replace {a} lladdr {mac} dev eth0 nud permanent")),
                    );
                }
            }
            ip_batch(Some(&p.ns.name), &p_neigh)?;
        }
        ip_batch(Some(&self.h.name), &h_neigh)?;
        if fdb.is_empty() {
            return Ok(());
        }
        run_with_input(Command::new("bridge").args(["-n", &self.h.name, "-batch", "-"]), fdb.join("\n").as_bytes())
            .map(|_| ())
            .map_err(|e| format!("bridge: {e}\n  commands:\n    {}", fdb.join("\n    ")))
    }

    /// Loads the dump into H as it is.
    fn load_rules(&self, rules: &str) -> Res<()> {
        let tool =
            if detect_family(rules) == Family::Ipv6 { "ip6tables-legacy-restore" } else { "iptables-legacy-restore" };
        run_with_input(Command::new("ip").args(["netns", "exec", &self.h.name, tool, "-w", "10"]), rules.as_bytes())
            .map(|_| ())
            .map_err(|e| format!("{tool} refused the rules: {e}"))
    }

    /// Runs an nftables script in H.
    fn nft(&self, script: &str) -> Res<()> {
        run_with_input(Command::new("ip").args(["netns", "exec", &self.h.name, "nft", "-f", "-"]), script.as_bytes())
            .map(|_| ())
            .map_err(|e| format!("nft: {e}\n{script}"))
    }

    /// `ip route get ADDR [from SRC iif IFACE]` in H.
    fn route_get(&self, addr: IpAddr, from: Option<(IpAddr, &str)>) -> RouteGet {
        let mut args = vec!["-n".to_string(), self.h.name.clone(), "-o".into(), "route".into(), "get".into()];
        args.push(addr.to_string());
        if let Some((src, iif)) = from {
            args.extend(["from".into(), src.to_string(), "iif".into(), iif.to_string()]);
        }
        let Ok(out) = Command::new("ip").args(&args).stderr(Stdio::null()).output() else { return RouteGet::Nowhere };
        let text = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        if !out.status.success() || words.is_empty() {
            RouteGet::Nowhere
        } else if matches!(words[0], "local" | "broadcast") {
            RouteGet::Local
        } else {
            match words.windows(2).find(|w| w[0] == "dev") {
                Some(w) if !matches!(words[0], "blackhole" | "unreachable" | "prohibit") => RouteGet::Dev(w[1].into()),
                _ => RouteGet::Nowhere,
            }
        }
    }

    /// The next hop of H's route to `dst` out of `dev`, if H tried to reach it there and nobody answered
    /// (its neighbour entry is INCOMPLETE or FAILED): what H sent that way never left.
    fn unanswered_next_hop(&self, dst: IpAddr, dev: &str) -> Option<IpAddr> {
        let h = self.h.name.as_str();
        let route = Command::new("ip").args(["-n", h, "-o", "route", "get", &dst.to_string(), "oif", dev]).output();
        let route = String::from_utf8_lossy(&route.ok()?.stdout).into_owned();
        let words: Vec<&str> = route.split_whitespace().collect();
        let hop = words.windows(2).find(|w| w[0] == "via").and_then(|w| w[1].parse().ok()).unwrap_or(dst);
        let neigh = Command::new("ip").args(["-n", h, "neigh", "show", &hop.to_string(), "dev", dev]).output();
        let neigh = String::from_utf8_lossy(&neigh.ok()?.stdout).into_owned();
        (neigh.contains("INCOMPLETE") || neigh.contains("FAILED")).then_some(hop)
    }

    fn peer(&self, iface: &str) -> Option<&Peer> {
        self.peers.iter().find(|p| p.iface == iface)
    }

    /// The namespace that owns `addr`: H for one of its addresses, else the peer H routes it to (on a
    /// bridge, the port's peer that owns it).
    fn owner_of(&self, addr: IpAddr) -> Res<&str> {
        match self.route_get(addr, None) {
            RouteGet::Local => Ok(&self.h.name),
            RouteGet::Dev(d) if self.peers.iter().any(|p| p.bridge.as_deref() == Some(d.as_str())) => self
                .peers
                .iter()
                .find(|p| p.bridge.as_deref() == Some(d.as_str()) && p.addrs.contains(&addr))
                .map(|p| p.ns.name.as_str())
                .ok_or(format!("no port's peer of {d} owns {addr}")),
            RouteGet::Dev(d) => self.peer(&d).map(|p| p.ns.name.as_str()).ok_or(format!("{addr} is routed to {d}")),
            RouteGet::Nowhere => Err(format!("H has no route to {addr}")),
        }
    }

    /// Sends the case's packet (after whatever its connection state needs first), and returns its TRACE
    /// lines and its fate.
    fn walk(&self, pkt: &Packet, targets: &DumpTargets) -> Res<Observed> {
        let seen = self.send(pkt, targets)?;
        if std::env::var_os("CHAINWALK_RECORD_DEBUG").is_some() {
            eprintln!("kernel log:\n  {}", seen.logs.join("\n  "));
        }
        let ours = |m: &&String| seen.stamp.matches_log(m, pkt);
        let trace: Vec<&str> =
            seen.logs.iter().filter(|m| m.starts_with("TRACE: ")).filter(ours).map(String::as_str).collect();
        let delivered = seen.logs.iter().filter(|m| m.starts_with("cwrec-in ")).find(ours);
        let posted = seen.logs.iter().filter(|m| m.starts_with("cwrec-post ")).find(ours);
        // The packet as last seen: its last TRACE line, or the recorder's own log just after destination NAT
        // when that came later (a packet that a DNAT sent where routing then refused it).
        let last_seen = seen
            .logs
            .iter()
            .filter(|m| m.starts_with("TRACE: ") || m.starts_with("cwrec-nat "))
            .rfind(ours)
            .map(String::as_str);
        // The log prints no ports for SCTP (nor DCCP, whose ports NAT no longer changes since Linux 6.16,
        // as packets caught on the wire show): a packet sent on or delivered to H is seen with its ports
        // (on the wire, by a raw socket in H), one that died is not, and random ports are never known.
        let nat_ports = !targets.ports.is_empty() || targets.random;
        if matches!(pkt.l4, L4::Sctp { .. }) && targets.random {
            return Err(
                "the kernel's log shows no ports for SCTP, and the dump's source NAT picks them at random".into()
            );
        }
        let copies_out = if targets.tee { tee_copies_out(pkt, &trace) } else { Vec::new() };
        let fate =
            self.fate(pkt, &seen, last_seen, delivered.map(String::as_str), posted.map(String::as_str), &copies_out)?;
        let ports_seen = fate.starts_with("FATE: verdict=accept")
            && (!fate.contains("path=input") || seen.delivered_ports.is_some());
        if matches!(pkt.l4, L4::Sctp { .. }) && nat_ports && !ports_seen {
            return Err("the kernel's log shows no ports for SCTP, the dump's NAT names ports, and the packet was \
                        neither sent on nor delivered"
                .into());
        }
        Ok(Observed { trace: trace.iter().map(|m| normalize(m)).collect(), fate })
    }

    /// Sets up the tracing table and the taps, does what the packet's connection state needs, sends the
    /// packet and collects what the kernel logged and what crossed the links.
    fn send(&self, pkt: &Packet, targets: &DumpTargets) -> Res<Sighting> {
        let sender_ns = match self.sender.as_deref() {
            Some(i) => self.peer(i).map(|p| p.ns.name.clone()).ok_or("no sender")?,
            None => self.h.name.clone(),
        };
        let v6 = pkt.dst.is_ipv6();
        let bind = self.sender.is_none().then_some(pkt.src);
        let l4proto = pkt.l4.proto();
        self.nft(&format!(
            "table inet cwrec {{\n\
             \tchain pre {{ type filter hook prerouting priority -400; policy accept; }}\n\
             \tchain out {{ type filter hook output priority -400; policy accept; }}\n\
             \tchain nat_pre {{ type filter hook prerouting priority -99; policy accept;\n\
             \t\tmeta l4proto {l4proto} log prefix \"cwrec-nat \" flags tcp sequence,options\n\
             \t}}\n\
             \tchain nat_out {{ type filter hook output priority -99; policy accept;\n\
             \t\tmeta l4proto {l4proto} log prefix \"cwrec-nat \" flags tcp sequence,options\n\
             \t}}\n\
             \tchain delivered {{ type filter hook input priority 500; policy accept;\n\
             \t\tmeta l4proto {l4proto} log prefix \"cwrec-in \" flags tcp sequence,options\n\
             \t\tct state invalid counter\n\
             \t}}\n\
             \tchain sent {{ type filter hook postrouting priority 500; policy accept;\n\
             \t\tmeta l4proto {l4proto} log prefix \"cwrec-post \" flags tcp sequence,options\n\
             \t}}\n\
             }}\n"
        ))?;
        let mut taps = Vec::new();
        for p in &self.peers {
            taps.push(Tap::open(&p.ns.name, "eth0", &p.iface)?);
        }
        // H's loopback: where what OUTPUT rejects comes back to a locally generated packet's sender.
        taps.push(Tap::open(&self.h.name, "lo", "lo")?);
        // SCTP and DCCP delivered to H: a raw socket of the protocol gets a copy after INPUT (H has no SCTP
        // or DCCP stack), with the ports the kernel's log does not print.
        let listener = match pkt.l4 {
            L4::Sctp { .. } | L4::Dccp { .. } => {
                let (domain, proto) = (if v6 { Domain::IPV6 } else { Domain::IPV4 }, i32::from(pkt.l4.proto()));
                Some(in_netns(&self.h.name, move || {
                    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(proto)))?;
                    s.set_nonblocking(true)?;
                    Ok(s)
                })?)
            }
            _ => None,
        };
        let back = self.sender.as_deref().unwrap_or("lo");
        let back_tap = taps.iter().find(|t| t.label == back).ok_or("no tap on the sender's link")?;
        let mark_packet = |stamp: Option<u32>| -> Res<()> {
            let m = nft_match(pkt, stamp);
            self.nft(&format!(
                "add rule inet cwrec pre {m} meta nftrace set 1 {MARK_LOG}\n\
                 add rule inet cwrec out {m} meta nftrace set 1 {MARK_LOG}\n"
            ))
        };
        let start = |stamp: Option<u32>| -> Res<Kmsg> {
            mark_packet(stamp)?;
            for t in &taps {
                t.drain();
            }
            Kmsg::open_at_end()
        };
        // (An ICMP error that quotes its packet goes the reply way of that packet's connection.)
        let quoting_error = pkt.ct_state == CtState::Related && pkt.quoted.is_some();
        if pkt.ct_dir == CtDir::Reply && pkt.ct_state != CtState::Established && !quoting_error {
            return Err("the recorder sends a reply (CTDIR=REPLY) only with CTSTATE=ESTABLISHED, or an ICMP error \
                        that quotes its packet"
                .into());
        }
        let stamp = Stamp::fresh(pkt);
        // A packet the kernel itself sends (after a handshake, or an echo reply): its stamp is learnt from
        // its first TRACE line.
        let mut connection = None;
        let mut handshake = None;
        let mut app_socket = None;
        let mut kmsg = match (pkt.ct_state, pkt.l4) {
            (CtState::Established, L4::Tcp { .. }) => {
                let conn = Handshake::open(self, pkt, &sender_ns, targets)?;
                let kmsg = start(None)?;
                conn.next_segment(pkt)?;
                handshake = Some(conn);
                connection = Some(());
                kmsg
            }
            (CtState::Established, L4::Udp { .. }) => {
                udp_exchange(self, pkt, &sender_ns, targets)?;
                let kmsg = start(Some(stamp.ip))?;
                send_raw(&sender_ns, &build_packet(pkt, &stamp, None), pkt.dst, pkt.mark, bind)?;
                kmsg
            }
            (CtState::Established, L4::Icmp { icmp_type: 0, code: 0 } | L4::Icmpv6 { icmp_type: 129, code: 0 }) => {
                let kmsg = start(None)?;
                echo_request(self, pkt, &sender_ns, &stamp)?;
                connection = Some(());
                kmsg
            }
            (CtState::Related, L4::Icmp { icmp_type, .. } | L4::Icmpv6 { icmp_type, .. })
                if is_icmp_error(v6, icmp_type) =>
            {
                let quoted = related_flow(self, pkt, &sender_ns, back_tap)?;
                let kmsg = start(Some(stamp.ip))?;
                send_raw(&sender_ns, &build_packet(pkt, &stamp, Some(&quoted)), pkt.dst, pkt.mark, bind)?;
                kmsg
            }
            (CtState::Established | CtState::Related, _) => {
                return Err(format!(
                    "the recorder can set up CTSTATE=ESTABLISHED for TCP, UDP and ICMP echo replies, and \
                     CTSTATE=RELATED for ICMP errors, not CTSTATE={} for this packet",
                    pkt.ct_state.as_str()
                ))
            }
            _ if self.app_socket => {
                let kmsg = start(None)?;
                app_socket = send_from_socket(&sender_ns, pkt)?;
                connection = Some(());
                kmsg
            }
            _ => {
                let kmsg = start(Some(stamp.ip))?;
                send_raw(&sender_ns, &build_packet(pkt, &stamp, None), pkt.dst, pkt.mark, bind)?;
                kmsg
            }
        };
        let logs = kmsg.settle()?;
        drop(handshake);
        let caught = taps
            .iter()
            .map(|t| {
                let came_in = t.drain().into_iter().filter(|(incoming, _)| *incoming);
                (t.label.clone(), came_in.filter_map(|(_, bytes)| Wire::parse(&bytes)).collect())
            })
            .collect();
        // A packet an application's socket could not send (routing refused it, or OUTPUT dropped it) may
        // have left no line at all: then there is nothing to tell apart.
        let unsent = self.app_socket && app_socket.is_none();
        let stamp = match connection {
            None => stamp,
            Some(()) => Stamp::learn(pkt, &logs).or(unsent.then_some(stamp)).ok_or(
                "the packet the kernel sent left no TRACE line to learn its identity from (does the dump have a \
                 table on its path?)",
            )?,
        };
        drop(app_socket);
        let delivered_ports = listener.and_then(|l| delivered_ports(&l, pkt, &stamp));
        Ok(Sighting { logs, caught, stamp, delivered_ports })
    }

    /// What became of the packet: delivered to H, sent on out of a link, rejected, or dropped.
    fn fate(
        &self,
        pkt: &Packet,
        seen: &Sighting,
        last_seen: Option<&str>,
        delivered: Option<&str>,
        posted: Option<&str>,
        copies_out: &[&str],
    ) -> Res<String> {
        let local = pkt.in_iface.is_none();
        let proto = pkt.l4.proto();
        let ports = pkt.l4.ports().is_some();
        let (sport, dport) = pkt.l4.ports().map(|(s, d)| (s.to_string(), d.to_string())).unzip();
        if let Some(line) = delivered {
            let f = |k: &str| field(line, k).unwrap_or("");
            let seen_ports = seen.delivered_ports.map(|(s, d)| (s.to_string(), d.to_string()));
            let (sp, dp) = match (field(line, "SPT"), field(line, "DPT"), &seen_ports) {
                (Some(s), Some(d), _) => (Some(s), Some(d)),
                (_, _, Some((s, d))) => (Some(s.as_str()), Some(d.as_str())),
                _ => (sport.as_deref(), dport.as_deref()),
            };
            let (src, dst) =
                (endpoint_text(f("SRC"), sp.filter(|_| ports)), endpoint_text(f("DST"), dp.filter(|_| ports)));
            return Ok(format!("FATE: verdict=accept path=input out=- src={src} dst={dst}"));
        }
        // A packet of H's own that went out through `lo` and came back in (its last TRACE line has an IN=)
        // ended on the input path, as it does when it is delivered.
        let looped = last_seen.and_then(|m| field(m, "IN")).is_some_and(|i| !i.is_empty());
        let path = match (local, looped) {
            (true, false) => "output",
            (true, true) => "input",
            (false, _) => "forward",
        };
        let back = self.sender.clone().unwrap_or_else(|| "lo".into());
        // Sent on: caught coming in on a peer's side of a link (the sender's own link too, for a hairpin).
        let sent = seen
            .caught
            .iter()
            .filter(|(label, _)| label != "lo")
            .filter_map(|(label, ws)| ws.iter().find(|w| seen.stamp.matches_wire(w, proto)).map(|w| (label, w)))
            .min_by_key(|(label, _)| **label == back);
        if let Some((label, _)) = sent.filter(|(label, _)| copies_out.contains(&label.as_str())) {
            return Err(format!(
                "a copy a TEE rule made left by {label} too, and the recorder cannot tell it from the packet there"
            ));
        }
        if let Some((label, w)) = sent {
            let port = |p: u16| ports.then(|| p.to_string());
            let src = endpoint_text(&w.src.to_string(), port(w.sport).as_deref());
            let dst = endpoint_text(&w.dst.to_string(), port(w.dport).as_deref());
            // Behind a bridge's port: out of the bridge, through that port.
            let out = match self.peer(label).and_then(|p| p.bridge.as_ref()) {
                Some(bridge) => format!("{bridge} physout={label}"),
                None => label.clone(),
            };
            return Ok(format!("FATE: verdict=accept path={path} out={out} src={src} dst={dst}"));
        }
        let came_back = seen.caught.iter().find(|(l, _)| *l == back).map(|(_, ws)| ws.as_slice()).unwrap_or(&[]);
        let reject = came_back.iter().find_map(|w| w.rejection_of(pkt, &seen.stamp));
        if let (Some(p), None) = (posted, &reject) {
            let out = field(p, "OUT").unwrap_or("");
            if out != "lo" {
                return Err(format!(
                    "the packet passed POSTROUTING out of {out} but never arrived: the recorder's network has no \
                     host for it there\n  {p}"
                ));
            }
        }
        // A packet on its way out that no table after FORWARD traced (an INVALID one skips nat POSTROUTING)
        // may have been lost for want of a host on its link: H then asked for its next hop in vain.
        let out_dev = last_seen.and_then(|m| field(m, "OUT")).filter(|o| !o.is_empty() && *o != "lo");
        let dst_seen = last_seen.and_then(|m| field(m, "DST")).and_then(|d| d.parse().ok());
        if let Some(hop) = out_dev.zip(dst_seen).and_then(|(out, dst)| self.unanswered_next_hop(dst, out)) {
            return Err(format!(
                "the packet went out of {} towards {hop}, for which no host of the recorder's network answers",
                out_dev.unwrap_or_default()
            ));
        }
        // Dropped or rejected: the packet as the last TRACE line shows it.
        let last = |k: &str| last_seen.and_then(|m| field(m, k)).map(str::to_string);
        let src = last("SRC").unwrap_or_else(|| pkt.src.to_string());
        let dst = last("DST").unwrap_or_else(|| pkt.dst.to_string());
        let (sport, dport) = (last("SPT").or(sport), last("DPT").or(dport));
        let out = last("OUT").unwrap_or_default();
        let path = if local || !out.is_empty() {
            path
        } else {
            let dst_ip = dst.parse().unwrap_or(pkt.dst);
            // Where routing sends it from its sender; when that lookup refuses the packet itself (a martian
            // source), where its destination is.
            let iif = pkt.in_iface.as_deref().unwrap_or("lo");
            match self.route_get(dst_ip, Some((pkt.src, iif))) {
                RouteGet::Local => "input",
                RouteGet::Nowhere if matches!(self.route_get(dst_ip, None), RouteGet::Local) => "input",
                _ => "forward",
            }
        };
        let physout = last("PHYSOUT").map(|p| format!(" physout={p}")).unwrap_or_default();
        let mut line = format!(
            "FATE: verdict={} path={path} out={}{physout} src={} dst={}",
            if reject.is_some() { "reject" } else { "drop" },
            if out.is_empty() { "-" } else { &out },
            endpoint_text(&src, sport.as_deref().filter(|_| ports)),
            endpoint_text(&dst, dport.as_deref().filter(|_| ports))
        );
        if let Some(what) = reject {
            line += &format!(" reject={what}");
        }
        Ok(line)
    }
}

/// What the recorder caught after sending the case's packet.
struct Sighting {
    /// Every kernel log message from the moment the packet was sent.
    logs: Vec<String>,
    /// For each link (by H's name for it, or `lo`), the IP packets that came in on the far side.
    caught: Vec<(String, Vec<Wire>)>,
    /// What identifies the case's packet.
    stamp: Stamp,
    /// The ports of an SCTP or DCCP packet delivered to H, as a raw socket there got it.
    delivered_ports: Option<(u16, u16)>,
}

/// What the recorder saw for one packet.
struct Observed {
    /// The normalized TRACE lines.
    trace: Vec<String>,
    /// The `FATE:` line.
    fate: String,
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn nodad(a: IpAddr) -> &'static str {
    if a.is_ipv6() {
        " nodad"
    } else {
        ""
    }
}

/// Every gateway H routes through on `iface` within `a`'s subnet (the first is also `peer_address`).
fn other_gateways(host: &Host, iface: &HostInterface, a: &IfAddr) -> Vec<IpAddr> {
    host.routes
        .iter()
        .flat_map(|r| {
            let hops = r.nexthops.iter().map(|n| (n.via, n.dev.as_deref()));
            std::iter::once((r.via, r.dev.as_deref())).chain(hops)
        })
        .filter_map(|(via, dev)| via.filter(|_| dev.is_none_or(|d| d == iface.name)))
        // (A link-local gateway is on every link it is routed through: with the interface's first IPv6 subnet.)
        .filter(|v| {
            let link_local = matches!(v, IpAddr::V6(x) if x.is_unicast_link_local());
            let first_v6 = iface.addrs.iter().find(|x| x.addr.is_ipv6()) == Some(a);
            v.is_ipv4() == a.addr.is_ipv4() && (a.subnet_contains(*v) || link_local && first_v6) && !host.is_local(*v)
        })
        .collect()
}

/// The address a peer takes on its link to H's `iface`: the gateway H routes through there, or else the first
/// free address of the subnet.
fn peer_address(host: &Host, iface: &HostInterface, a: &IfAddr, avoid: &[IpAddr]) -> Option<IpAddr> {
    let gateway = host.routes.iter().filter_map(|r| r.via.map(|v| (r, v))).find(|(r, v)| {
        v.is_ipv4() == a.addr.is_ipv4() && a.subnet_contains(*v) && r.dev.as_deref().is_none_or(|d| d == iface.name)
    });
    if let Some((_, v)) = gateway {
        return Some(v);
    }
    let bits = if a.addr.is_ipv4() { 32 } else { 128 };
    if a.prefix >= bits {
        return None;
    }
    (1u32..256)
        .map(|offset| match a.addr {
            IpAddr::V4(v) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(a.prefix)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from((u32::from(v) & mask).wrapping_add(offset)))
            }
            IpAddr::V6(v) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(a.prefix)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from((u128::from(v) & mask).wrapping_add(u128::from(offset))))
            }
        })
        .take_while(|c| a.subnet_contains(*c))
        .find(|c| {
            !host.is_local(*c) && !avoid.contains(c) && !matches!(c, IpAddr::V4(v4) if a.broadcast() == Some(*v4))
        })
}

/// The nftables match for exactly the case's packet: addresses, protocol header and, when the recorder
/// builds the packet itself, the IPv4 ID or IPv6 flow label it stamped on it.
fn nft_match(pkt: &Packet, stamp: Option<u32>) -> String {
    let ip = if pkt.dst.is_ipv6() { "ip6" } else { "ip" };
    let mut m = format!("{ip} saddr {} {ip} daddr {} ", pkt.src, pkt.dst);
    if let Some(s) = stamp {
        m += &if pkt.dst.is_ipv6() { format!("ip6 flowlabel {s} ") } else { format!("ip id {s} ") };
    }
    m += &match pkt.l4 {
        L4::Tcp { sport, dport, flags } => {
            format!("tcp sport {sport} tcp dport {dport} tcp flags == 0x{:02x}", flags.0)
        }
        L4::Udp { sport, dport } => format!("udp sport {sport} udp dport {dport}"),
        L4::Icmp { icmp_type, code } => format!("icmp type {icmp_type} icmp code {code}"),
        L4::Icmpv6 { icmp_type, code } => format!("icmpv6 type {icmp_type} icmpv6 code {code}"),
        other => format!("meta l4proto {}", other.proto()),
    };
    m
}

fn is_icmp_error(v6: bool, icmp_type: u8) -> bool {
    if v6 {
        (1..=4).contains(&icmp_type)
    } else {
        matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
    }
}

/// What identifies the case's packet through NAT: the IPv4 ID or IPv6 flow label, and for TCP the
/// sequence and acknowledgement numbers.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    /// The IPv4 ID or IPv6 flow label.
    pub ip: u32,
    /// The TCP sequence number.
    pub seq: u32,
    /// The TCP acknowledgement number.
    pub ack: u32,
    /// The timestamp value of a segment the kernel sent with a timestamp option: the same segment sent
    /// again (a socket retransmits what the rules dropped) has the same numbers but a later one.
    pub tsval: Option<u32>,
}

/// The packet's `PROTO=` in the kernel's log: SCTP and DCCP by number, ESP and AH by name in IPv4; none for
/// IPv6's ESP, which the log shows as an extension header (`OPT ( ESP SPI=0x64 )`).
fn logged_proto(pkt: &Packet) -> Option<String> {
    let v6 = pkt.dst.is_ipv6();
    Some(match pkt.l4 {
        L4::Tcp { .. } => "TCP".into(),
        L4::Udp { .. } => "UDP".into(),
        L4::Udplite { .. } => "UDPLITE".into(),
        L4::Icmp { .. } => "ICMP".into(),
        L4::Icmpv6 { .. } => "ICMPv6".into(),
        L4::Other { proto: 50 } if v6 => return None,
        L4::Other { proto: 50 } => "ESP".into(),
        L4::Other { proto: 51 } if !v6 => "AH".into(),
        other => other.proto().to_string(),
    })
}

impl Stamp {
    /// A stamp unlikely to be on any other packet on this machine right now.
    pub fn fresh(pkt: &Packet) -> Stamp {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let mix = std::process::id().wrapping_mul(2_654_435_761).wrapping_add(n.wrapping_mul(40_503));
        let ip = if pkt.dst.is_ipv6() { (mix & 0xf_ffff).max(1) } else { (mix & 0xffff).max(1) };
        let ack = matches!(pkt.l4, L4::Tcp { flags, .. } if flags.0 & 0x10 != 0);
        Stamp { ip, seq: mix.rotate_left(13) | 1, ack: u32::from(ack), tsval: None }
    }

    /// The stamp of a segment the kernel sent (after a handshake): from its first TRACE line, or the
    /// tracing chain's log of it (by source address and port and flags: a DNAT before that line may have
    /// changed its destination).
    fn learn(pkt: &Packet, logs: &[String]) -> Option<Stamp> {
        let key = if pkt.dst.is_ipv6() { "FLOWLBL" } else { "ID" };
        if let L4::Icmp { icmp_type, .. } | L4::Icmpv6 { icmp_type, .. } = pkt.l4 {
            let proto = if pkt.dst.is_ipv6() { "ICMPv6" } else { "ICMP" };
            return marked(logs).find_map(|m| {
                let same = field(m, "SRC").and_then(|a| a.parse::<IpAddr>().ok()) == Some(pkt.src)
                    && field(m, "PROTO") == Some(proto)
                    && field(m, "TYPE") == Some(&icmp_type.to_string());
                same.then(|| Some(Stamp { ip: field(m, key)?.parse().ok()?, seq: 0, ack: 0, tsval: None })).flatten()
            });
        }
        if let L4::Udp { sport, .. } = pkt.l4 {
            return marked(logs).find_map(|m| {
                let same = field(m, "SRC").and_then(|a| a.parse::<IpAddr>().ok()) == Some(pkt.src)
                    && field(m, "PROTO") == Some("UDP")
                    && field(m, "SPT") == Some(&sport.to_string());
                same.then(|| Some(Stamp { ip: field(m, key)?.parse().ok()?, seq: 0, ack: 0, tsval: None })).flatten()
            });
        }
        let L4::Tcp { sport, flags, .. } = pkt.l4 else { return None };
        marked(logs).find_map(|m| {
            let same = field(m, "SRC").and_then(|a| a.parse::<IpAddr>().ok()) == Some(pkt.src)
                && field(m, "PROTO") == Some("TCP")
                && field(m, "SPT") == Some(&sport.to_string())
                && tcp_flags_of(m) == flags.0;
            if !same {
                return None;
            }
            Some(Stamp {
                ip: field(m, key)?.parse().ok()?,
                seq: field(m, "SEQ")?.parse().ok()?,
                ack: field(m, "ACK")?.parse().ok()?,
                tsval: tsval_of(m),
            })
        })
    }

    /// Whether a kernel log line (TRACE or the recorder's own) is about the stamped packet.
    fn matches_log(&self, msg: &str, pkt: &Packet) -> bool {
        let key = if pkt.dst.is_ipv6() { "FLOWLBL" } else { "ID" };
        if field(msg, key).and_then(|v| v.parse::<u32>().ok()) != Some(self.ip) {
            return false;
        }
        if field(msg, "PROTO") != logged_proto(pkt).as_deref() {
            return false;
        }
        !matches!(pkt.l4, L4::Tcp { .. })
            || (field(msg, "SEQ").and_then(|v| v.parse().ok()) == Some(self.seq)
                && field(msg, "ACK").and_then(|v| v.parse().ok()) == Some(self.ack)
                && (self.tsval.zip(tsval_of(msg)).is_none_or(|(a, b)| a == b)))
    }

    /// Whether a packet caught on the wire is the stamped one.
    fn matches_wire(&self, w: &Wire, proto: u8) -> bool {
        w.proto == proto && w.stamp == self.ip && (proto != 6 || (w.seq == self.seq && w.ack == self.ack))
    }
}

/// The timestamp value of the TCP timestamp option a log line prints (`OPT (0101080A...)`), if any.
pub fn tsval_of(msg: &str) -> Option<u32> {
    let hex = msg.split_once("OPT (")?.1.split(')').next()?;
    let bytes: Vec<u8> =
        (0..hex.len() / 2).map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()).collect::<Option<_>>()?;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            0 => return None,
            1 => at += 1,
            8 if at + 6 <= bytes.len() => {
                return Some(u32::from_be_bytes([bytes[at + 2], bytes[at + 3], bytes[at + 4], bytes[at + 5]]))
            }
            _ => at += usize::from(*bytes.get(at + 1)?).max(2),
        }
    }
    None
}

/// The log lines that show a marked packet: the legacy backend's TRACE lines, then the tracing chains' own.
fn marked(logs: &[String]) -> impl Iterator<Item = &String> {
    let trace = logs.iter().filter(|m| m.starts_with("TRACE: "));
    trace.chain(logs.iter().filter(|m| m.starts_with("cwrec-mark ")))
}

/// The interfaces TEE's copies of the packet left by and the packet did not, from the TRACE lines (which
/// the copies inherit). A copy's POSTROUTING lines show as `IN=` the device it was routed to: for one of
/// H's own packets, any `IN=` is a copy's; for a packet that came in, an `IN=` other than its own is, and
/// so is one equal to `OUT=` right after OUTPUT lines (only a copy walks OUTPUT then; the packet itself
/// is routed back out where it came in only by a hairpin).
pub fn tee_copies_out<'a>(pkt: &Packet, trace: &[&'a str]) -> Vec<&'a str> {
    let chain = |line: &str| line.split(' ').nth(1).and_then(|t| t.split(':').nth(1)).map(str::to_string);
    let (mut copies, mut own) = (Vec::new(), Vec::new());
    let mut after_output = false;
    for line in trace {
        let (inn, out) = (field(line, "IN").unwrap_or(""), field(line, "OUT").unwrap_or(""));
        match chain(line).as_deref() {
            Some("OUTPUT") => after_output = true,
            Some("POSTROUTING") => {
                let copy = match pkt.in_iface.as_deref() {
                    None => !inn.is_empty(),
                    Some(came_in) => inn != came_in || (after_output && inn == out),
                };
                after_output &= inn == out;
                let list = if copy { &mut copies } else { &mut own };
                if !out.is_empty() && !list.contains(&out) {
                    list.push(out);
                }
            }
            Some("PREROUTING" | "INPUT" | "FORWARD") => after_output = false,
            _ => {}
        }
    }
    copies.retain(|c| !own.contains(c));
    copies
}

/// The value of `KEY=` in a log line (its first occurrence, before any quoted packet in brackets).
pub fn field<'a>(msg: &'a str, key: &str) -> Option<&'a str> {
    msg.split_whitespace()
        .take_while(|w| !w.starts_with('['))
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// The TCP flags a log line shows.
fn tcp_flags_of(msg: &str) -> u8 {
    msg.split_whitespace()
        .take_while(|w| !w.starts_with('['))
        .filter_map(|w| FLAGS.iter().find(|(n, _)| *n == w).map(|&(_, b)| b))
        .fold(0, |a, b| a | b)
}

const FLAGS: [(&str, u8); 8] = [
    ("CWR", 0x80),
    ("ECE", 0x40),
    ("URG", 0x20),
    ("ACK", 0x10),
    ("PSH", 0x08),
    ("RST", 0x04),
    ("SYN", 0x02),
    ("FIN", 0x01),
];

/// The fields of a TRACE line that `expected` keeps; the rest (MAC, ID, FLOWLBL, SEQ, ACK, WINDOW, OPT, the
/// socket's UID and GID, an ICMP echo's ID and SEQ) changes from run to run (the recorder stamps its
/// packets with them) or is not in chainwalk's packet model.
const KEEP: [&str; 18] = [
    "IN", "OUT", "PHYSIN", "PHYSOUT", "SRC", "DST", "LEN", "TOS", "PREC", "TTL", "TC", "HOPLIMIT", "PROTO", "SPT",
    "DPT", "TYPE", "CODE", "MARK",
];

/// A kernel TRACE line as `expected` keeps it: `TRACE: table:chain:type:num IN=.. OUT=.. SRC=.. DST=..
/// LEN=.. TOS=.. PREC=.. TTL=.. [DF] [MF] [FRAG:..] PROTO=.. SPT=.. DPT=.. FLAGS [MARK=..]` (IPv6: `TC=..
/// HOPLIMIT=..` after `LEN=`; UDP: its `LEN=` after the ports; ICMP: `TYPE=.. CODE=..`), in the kernel's
/// order. A UDP-Lite header's `LEN=` (its checksum coverage, which the packet model does not carry), an
/// ICMP error's quoted packet and a short header's `INCOMPLETE [N bytes]` are left out.
pub fn normalize(msg: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut proto = "";
    // How deep in brackets the word is: an ICMP error's quoted packet (`[SRC=... ]`, which may hold an
    // `INCOMPLETE [8 bytes]` of its own) or a short header's `INCOMPLETE [8 bytes]`; the packet's `MARK=`
    // comes after them.
    let mut depth = 0usize;
    let mut v6 = false;
    for (i, w) in msg.split_whitespace().enumerate() {
        if i < 2 {
            out.push(w);
            continue;
        }
        if depth > 0 || w.starts_with('[') {
            depth += w.matches('[').count();
            depth = depth.saturating_sub(w.matches(']').count());
            continue;
        }
        let keep = match w.split_once('=') {
            Some(("PROTO", p)) => {
                proto = p;
                true
            }
            Some(("LEN", _)) => proto.is_empty() || proto == "UDP",
            Some(("TC", _)) => {
                v6 = true;
                true
            }
            Some((k, _)) => KEEP.contains(&k),
            // The IPv4 header's flags and fragment offset (before `PROTO=`).
            // (IPv6 has neither: its fragment header shows as `OPT ( FRAG:N ... )`, which is left out.)
            None if proto.is_empty() => !v6 && (matches!(w, "DF" | "MF") || w.starts_with("FRAG:")),
            None => FLAGS.iter().any(|(n, _)| *n == w),
        };
        if keep {
            out.push(w);
        }
    }
    out.join(" ")
}

/// `192.0.2.1:80`, `[2001:db8::1]:80`, or the address alone.
fn endpoint_text(addr: &str, port: Option<&str>) -> String {
    // The kernel's log writes IPv6 addresses in full (`2001:0db8:0000:...`); the fate line uses the short form.
    let addr = addr.parse::<IpAddr>().map(|a| a.to_string()).unwrap_or_else(|_| addr.to_string());
    match port {
        Some(p) if addr.contains(':') => format!("[{addr}]:{p}"),
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_string(),
    }
}

/// The kernel log, read from `/dev/kmsg`.
struct Kmsg {
    file: File,
    /// Whether the ring buffer overran this reader: records it had not read yet were lost.
    overran: bool,
}

impl Kmsg {
    /// Opens the log positioned after its last record.
    fn open_at_end() -> Res<Kmsg> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        file.seek(SeekFrom::End(0)).map_err(|e| format!("/dev/kmsg: {e}"))?;
        Ok(Kmsg { file, overran: false })
    }

    /// The messages logged since the last read.
    fn read_new(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16384];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    if let Some((_, msg)) = rec.split_once(';') {
                        out.push(msg.lines().next().unwrap_or("").to_string());
                    }
                }
                // The ring buffer overran this reader: it continues with the oldest record still there.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    self.overran = true;
                    continue;
                }
                Err(_) => break,
            }
        }
        out
    }

    /// Waits until the kernel has been quiet for a while, and returns everything it logged; an error when
    /// some of it was lost (a packet that loops for ever, as a TEE copy that comes back in and is copied
    /// again does, floods the log).
    fn settle(&mut self) -> Res<Vec<String>> {
        sleep(SETTLE);
        let mut all = self.read_new();
        let start = Instant::now();
        loop {
            sleep(QUIET_FOR);
            let more = self.read_new();
            if more.is_empty() {
                break;
            }
            if start.elapsed() > Duration::from_secs(3) {
                return Err("the kernel was still logging the walk 3 s after the packet was sent: it loops".into());
            }
            all.extend(more);
        }
        if self.overran {
            return Err("the kernel's log overflowed while the packet was walked (it loops): lines were lost".into());
        }
        Ok(all)
    }
}

/// A packet socket on one interface of one namespace, catching every IP packet that crosses it.
struct Tap {
    fd: OwnedFd,
    /// H's name for the link (or `lo` for H's loopback).
    label: String,
}

impl Tap {
    fn open(ns: &str, dev: &str, label: &str) -> Res<Tap> {
        let dev = dev.to_string();
        let fd = in_netns(ns, move || {
            let name = std::ffi::CString::new(dev.clone()).map_err(|_| io::ErrorKind::InvalidInput)?;
            // SAFETY: plain libc calls on a socket this closure creates and hands to an OwnedFd.
            unsafe {
                let index = libc::if_nametoindex(name.as_ptr());
                if index == 0 {
                    return Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface {dev}")));
                }
                let all = (libc::ETH_P_ALL as u16).to_be();
                let raw = libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, i32::from(all));
                if raw < 0 {
                    return Err(io::Error::last_os_error());
                }
                let fd = OwnedFd::from_raw_fd(raw);
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                sll.sll_family = libc::AF_PACKET as u16;
                sll.sll_protocol = all;
                sll.sll_ifindex = index as i32;
                let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                if libc::bind(fd.as_raw_fd(), &sll as *const _ as *const libc::sockaddr, len) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(fd)
            }
        })?;
        Ok(Tap { fd, label: label.to_string() })
    }

    /// Every IP packet caught since the last drain: whether it came in (not sent by this side), and its bytes.
    fn drain(&self) -> Vec<(bool, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            // SAFETY: recvfrom into buffers of the given sizes on a socket this Tap owns.
            let (n, sll) = unsafe {
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                let n = libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    &mut sll as *mut _ as *mut libc::sockaddr,
                    &mut len,
                );
                (n, sll)
            };
            if n <= 0 {
                break;
            }
            let ethertype = u16::from_be(sll.sll_protocol);
            if ethertype == 0x0800 || ethertype == 0x86dd {
                out.push((sll.sll_pkttype != libc::PACKET_OUTGOING, buf[..n as usize].to_vec()));
            }
        }
        out
    }
}

/// An IP packet as read off the wire.
#[derive(Clone, Debug)]
pub struct Wire {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The IP protocol (next header, for IPv6 without extension headers).
    pub proto: u8,
    /// The IPv4 ID or the IPv6 flow label.
    pub stamp: u32,
    /// Source port (TCP, UDP, UDP-Lite, SCTP, DCCP).
    pub sport: u16,
    /// Destination port (TCP, UDP, UDP-Lite, SCTP, DCCP).
    pub dport: u16,
    /// TCP sequence number.
    pub seq: u32,
    /// TCP acknowledgement number.
    pub ack: u32,
    /// TCP flags.
    pub flags: u8,
    /// ICMP or ICMPv6 type and code.
    pub icmp: (u8, u8),
    /// The transport header and payload.
    pub l4: Vec<u8>,
}

impl Wire {
    /// Reads an IPv4 or IPv6 packet; a truncated one (a packet quoted in an ICMP error) as far as it goes.
    pub fn parse(b: &[u8]) -> Option<Wire> {
        let (src, dst, proto, stamp, l4) = match b.first()? >> 4 {
            4 if b.len() >= 20 => {
                let ihl = usize::from(b[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([b[2], b[3]])).min(b.len());
                let src = IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15]));
                let dst = IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19]));
                (src, dst, b[9], u32::from(u16::from_be_bytes([b[4], b[5]])), b.get(ihl..total.max(ihl))?)
            }
            6 if b.len() >= 40 => {
                let total = (40 + usize::from(u16::from_be_bytes([b[4], b[5]]))).min(b.len());
                let src = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[8..24]).ok()?));
                let dst = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[24..40]).ok()?));
                let flow = u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]]);
                (src, dst, b[6], flow, &b[40..total])
            }
            _ => return None,
        };
        let be16 = |i: usize| l4.get(i..i + 2).map(|s| u16::from_be_bytes([s[0], s[1]])).unwrap_or(0);
        let be32 = |i: usize| l4.get(i..i + 4).map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]])).unwrap_or(0);
        let mut w = Wire {
            src,
            dst,
            proto,
            stamp,
            sport: 0,
            dport: 0,
            seq: 0,
            ack: 0,
            flags: 0,
            icmp: (0, 0),
            l4: l4.to_vec(),
        };
        match proto {
            6 | 17 | 33 | 132 | 136 => {
                w.sport = be16(0);
                w.dport = be16(2);
                if proto == 6 {
                    w.seq = be32(4);
                    w.ack = be32(8);
                    w.flags = l4.get(13).copied().unwrap_or(0);
                }
            }
            1 | 58 => w.icmp = (l4.first().copied().unwrap_or(0), l4.get(1).copied().unwrap_or(0)),
            _ => {}
        }
        Some(w)
    }

    /// Whether this ICMPv6 redirect is about the stamped packet: sent to its source, with the packet in its
    /// redirected header option (type 4, after the 40 bytes of the message and any other option).
    fn redirected(&self, pkt: &Packet, stamp: &Stamp) -> bool {
        let mut at = 40;
        while let (Some(&kind), Some(&eights)) = (self.l4.get(at), self.l4.get(at + 1)) {
            let end = at + usize::from(eights) * 8;
            if eights == 0 || end > self.l4.len() {
                return false;
            }
            if kind == 4 {
                let inner = self.l4.get(at + 8..end).and_then(Wire::parse);
                return self.dst == pkt.src
                    && inner.is_some_and(|i| i.proto == pkt.l4.proto() && i.stamp == stamp.ip && i.src == pkt.src);
            }
            at = end;
        }
        false
    }

    /// If this packet is a TCP reset or an ICMP error about the stamped packet, what it is, as
    /// `--reject-with` names it.
    fn rejection_of(&self, pkt: &Packet, stamp: &Stamp) -> Option<String> {
        let our_proto = pkt.l4.proto();
        if self.proto == 6 && self.flags & 0x04 != 0 {
            let (sport, _) = pkt.l4.ports()?;
            return (our_proto == 6 && self.dst == pkt.src && self.dport == sport).then(|| "tcp-reset".into());
        }
        let v6 = self.proto == 58;
        if v6 && self.icmp.0 == 137 {
            return self.redirected(pkt, stamp).then(|| "icmp6-type-137-code-0".into());
        }
        if !(self.proto == 1 || v6) || !is_icmp_error(v6, self.icmp.0) {
            return None;
        }
        let inner = Wire::parse(self.l4.get(8..)?)?;
        if inner.proto != our_proto || inner.stamp != stamp.ip || inner.src != pkt.src {
            return None;
        }
        let (t, c) = self.icmp;
        Some(
            match (v6, t, c) {
                (false, 3, 0) => "icmp-net-unreachable",
                (false, 3, 1) => "icmp-host-unreachable",
                (false, 3, 2) => "icmp-proto-unreachable",
                (false, 3, 3) => "icmp-port-unreachable",
                (false, 3, 9) => "icmp-net-prohibited",
                (false, 3, 10) => "icmp-host-prohibited",
                (false, 3, 13) => "icmp-admin-prohibited",
                (false, 3, 4) => "icmp-frag-needed",
                (false, 11, _) => "icmp-time-exceeded",
                (true, 1, 0) => "icmp6-no-route",
                (true, 1, 1) => "icmp6-adm-prohibited",
                (true, 1, 2) => "icmp6-beyond-scope",
                (true, 1, 3) => "icmp6-addr-unreachable",
                (true, 1, 4) => "icmp6-port-unreachable",
                (true, 2, 0) => "icmp6-packet-too-big",
                (true, 3, _) => "icmp6-time-exceeded",
                _ => return Some(format!("icmp{}-type-{t}-code-{c}", if v6 { "6" } else { "" })),
            }
            .to_string(),
        )
    }
}

/// The Internet checksum of `parts` concatenated (each part of even length but the last).
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for chunk in part.chunks(2) {
            let word = u16::from_be_bytes([chunk[0], chunk.get(1).copied().unwrap_or(0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The pseudo-header TCP, UDP, UDP-Lite, DCCP and ICMPv6 checksums cover.
fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend(s.octets());
            p.extend(d.octets());
            p.extend([0, proto]);
            p.extend((len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend(s.octets());
            p.extend(d.octets());
            p.extend((len as u32).to_be_bytes());
            p.extend([0, 0, 0, proto]);
        }
        _ => {}
    }
    p
}

/// The case's packet, byte by byte: IP header (with the stamp as IPv4 ID or IPv6 flow label, and the
/// packet's TTL, TOS and DF), then its transport header, padded to the packet's `LEN=` (TCP with options,
/// others with payload): TCP, UDP, UDP-Lite, DCCP (a REQUEST), ICMP and ICMPv6 with a correct checksum, SCTP
/// (an INIT chunk alone, as a new association starts) with its CRC32c, ESP and AH with the packet's `SPI=`
/// (AH followed by no next header), GRE version 0. `quoted` is the packet an ICMP error is about.
pub fn build_packet(pkt: &Packet, stamp: &Stamp, quoted: Option<&[u8]>) -> Vec<u8> {
    let v6 = pkt.dst.is_ipv6();
    let ip_len = if v6 { 40 } else { 20 };
    let want = usize::from(pkt.len);
    let fill = |n: usize| -> Vec<u8> { b"cwrec".iter().copied().cycle().take(n).collect() };
    let mut l4 = match pkt.l4 {
        L4::Tcp { sport, dport, flags } => {
            let extra = want.saturating_sub(ip_len + 20);
            // The options the packet gives (`OPT (...)`), padded with end-of-list bytes to a whole number
            // of words; else as many as LEN leaves room for: no-operations, after an MSS of 1460 in a SYN.
            let options = match &pkt.tcp_options {
                Some(o) => {
                    let mut o = o.clone();
                    o.resize(o.len().div_ceil(4) * 4, 0);
                    o
                }
                None => {
                    let mut o = vec![1u8; (extra / 4 * 4).min(40)];
                    if flags.0 & 0x02 != 0 && o.len() >= 4 {
                        o[..4].copy_from_slice(&[2, 4, 0x05, 0xb4]);
                    }
                    o
                }
            };
            let opt_len = options.len();
            let extra = extra.max(opt_len);
            let mut h = Vec::new();
            h.extend(sport.to_be_bytes());
            h.extend(dport.to_be_bytes());
            h.extend(stamp.seq.to_be_bytes());
            h.extend(stamp.ack.to_be_bytes());
            h.push((((20 + opt_len) / 4) as u8) << 4);
            h.push(flags.0);
            h.extend(64240u16.to_be_bytes());
            h.extend([0, 0, 0, 0]);
            h.extend(options);
            h.extend(fill(extra - opt_len));
            h
        }
        L4::Udp { sport, dport } => {
            let payload = want.saturating_sub(ip_len + 8);
            let mut h = Vec::new();
            h.extend(sport.to_be_bytes());
            h.extend(dport.to_be_bytes());
            h.extend(((8 + payload) as u16).to_be_bytes());
            h.extend([0, 0]);
            h.extend(fill(payload));
            h
        }
        L4::Icmp { icmp_type, code } | L4::Icmpv6 { icmp_type, code } => {
            let mut h = vec![icmp_type, code, 0, 0];
            let echo = matches!((v6, icmp_type), (false, 0 | 8) | (true, 128 | 129));
            if echo {
                h.extend((stamp.ip as u16).to_be_bytes());
                h.extend(1u16.to_be_bytes());
            } else if !v6 && icmp_type == 3 && code == 4 {
                h.extend([0, 0, 0x05, 0x78]);
            } else if v6 && icmp_type == 2 {
                h.extend(1280u32.to_be_bytes());
            } else {
                h.extend([0, 0, 0, 0]);
            }
            match quoted {
                Some(q) => h.extend(q),
                None => h.extend(fill(want.saturating_sub(ip_len + 8))),
            }
            h
        }
        L4::Udplite { sport, dport } => {
            // Checksum coverage 0: the whole datagram, as the checksum below is.
            let mut h = Vec::new();
            h.extend(sport.to_be_bytes());
            h.extend(dport.to_be_bytes());
            h.extend([0, 0, 0, 0]);
            h.extend(fill(want.saturating_sub(ip_len + 8)));
            h
        }
        L4::Sctp { sport, dport } => {
            // An INIT chunk (verification tag 0, as conntrack wants of a new association), with a padding
            // parameter taking the room LEN leaves, and the CRC32c checksum.
            let pad = want.saturating_sub(ip_len + 12 + 20) / 4 * 4;
            let mut h = Vec::new();
            h.extend(sport.to_be_bytes());
            h.extend(dport.to_be_bytes());
            h.extend([0; 8]);
            h.extend([1, 0]);
            h.extend(((20 + pad) as u16).to_be_bytes());
            h.extend(stamp.seq.to_be_bytes());
            h.extend(65535u32.to_be_bytes());
            h.extend(10u16.to_be_bytes());
            h.extend(10u16.to_be_bytes());
            h.extend(stamp.seq.rotate_left(7).to_be_bytes());
            if pad >= 4 {
                h.extend(0x8005u16.to_be_bytes());
                h.extend((pad as u16).to_be_bytes());
                h.extend(vec![0; pad - 4]);
            }
            let crc = !crc32c(&h);
            h[8..12].copy_from_slice(&crc.to_le_bytes());
            h
        }
        L4::Dccp { sport, dport } => {
            // A REQUEST (the first packet of a connection) with a 48-bit sequence number and a service code.
            let mut h = Vec::new();
            h.extend(sport.to_be_bytes());
            h.extend(dport.to_be_bytes());
            h.extend([5, 0, 0, 0, 0x01, 0]);
            h.extend((stamp.seq as u16).to_be_bytes());
            h.extend(stamp.seq.to_be_bytes());
            h.extend(0u32.to_be_bytes());
            h.extend(fill(want.saturating_sub(ip_len + 20)));
            h
        }
        L4::Other { proto: proto @ (50 | 51) } => {
            let spi = pkt.spi.unwrap_or(0x100);
            let mut h = Vec::new();
            if proto == 51 {
                // Next header: none; the header's length in 32-bit words less 2 (with a 12-byte ICV).
                h.extend([59, 4, 0, 0]);
            }
            h.extend(spi.to_be_bytes());
            h.extend(1u32.to_be_bytes());
            if proto == 51 {
                h.extend([0; 12]);
            }
            let room = want.saturating_sub(ip_len + h.len());
            h.extend(fill(room));
            h
        }
        L4::Other { proto: 47 } => {
            // GRE version 0 carrying IPv4, no options.
            let mut h = vec![0, 0, 0x08, 0x00];
            h.extend(fill(want.saturating_sub(ip_len + 4)));
            h
        }
        L4::Other { .. } => fill(want.saturating_sub(ip_len)),
    };
    let proto = pkt.l4.proto();
    let csum_at = match pkt.l4 {
        L4::Tcp { .. } => Some(16),
        L4::Udp { .. } | L4::Udplite { .. } => Some(6),
        L4::Dccp { .. } => Some(6),
        L4::Icmp { .. } | L4::Icmpv6 { .. } => Some(2),
        _ => None,
    };
    if let Some(at) = csum_at {
        let sum = if matches!(pkt.l4, L4::Icmp { .. }) {
            checksum(&[&l4])
        } else {
            checksum(&[&pseudo_header(pkt.src, pkt.dst, proto, l4.len()), &l4])
        };
        // A UDP checksum that comes out as zero is sent as all ones.
        let sum = if sum == 0 && proto == 17 { 0xffff } else { sum };
        l4[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    }
    let mut out = Vec::with_capacity(ip_len + l4.len());
    match (pkt.src, pkt.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + l4.len()) as u16;
            // DF, MF and the fragment offset (in 8-byte units): a fragment is sent as the case gives it,
            // alone, its bytes after the IP header those the whole packet would have had there.
            let frag: u16 = if pkt.dont_fragment { 0x4000 } else { 0 }
                | if pkt.more_fragments { 0x2000 } else { 0 }
                | (pkt.fragment_offset & 0x1fff);
            out.extend([0x45, pkt.tos]);
            out.extend(total.to_be_bytes());
            out.extend((stamp.ip as u16).to_be_bytes());
            out.extend(frag.to_be_bytes());
            out.extend([pkt.ttl, proto, 0, 0]);
            out.extend(s.octets());
            out.extend(d.octets());
            let sum = checksum(&[&out]);
            out[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let flow = stamp.ip & 0xf_ffff;
            out.push(0x60 | (pkt.tos >> 4));
            out.push(((pkt.tos & 0x0f) << 4) | (flow >> 16) as u8);
            out.extend([(flow >> 8) as u8, flow as u8]);
            out.extend((l4.len() as u16).to_be_bytes());
            out.extend([proto, pkt.ttl]);
            out.extend(s.octets());
            out.extend(d.octets());
        }
        _ => {}
    }
    out.extend(l4);
    out
}

/// The ports of the case's SCTP or DCCP packet among what `listener` (a raw socket of its protocol in H)
/// got: told by the IPv4 ID, or in IPv6 (whose raw sockets get no IP header) by the SCTP INIT's tag or the
/// DCCP sequence number the recorder wrote.
fn delivered_ports(listener: &Socket, pkt: &Packet, stamp: &Stamp) -> Option<(u16, u16)> {
    let mut buf = [0u8; 2048];
    let mut reader = listener;
    while let Ok(n) = reader.read(&mut buf) {
        let got = &buf[..n];
        let l4 = if pkt.dst.is_ipv6() {
            let at = if matches!(pkt.l4, L4::Sctp { .. }) { 16 } else { 12 };
            if got.get(at..at + 4) != Some(&stamp.seq.to_be_bytes()[..]) {
                continue;
            }
            got
        } else {
            let ihl = usize::from(got.first()? & 0x0f) * 4;
            if got.get(4..6) != Some(&(stamp.ip as u16).to_be_bytes()[..]) {
                continue;
            }
            got.get(ihl..)?
        };
        let port = |i: usize| l4.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        return Some((port(0)?, port(2)?));
    }
    None
}

/// CRC32c (Castagnoli), as SCTP's checksum, before its final inversion.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    crc
}

/// Sends `bytes` (a whole IP packet) from a raw socket in `ns`. A packet that OUTPUT drops makes `sendto`
/// fail with EPERM; that is a fate, not an error. So are routing's refusals, before OUTPUT or when NAT
/// routes the packet again: EINVAL (a loopback source out of an interface without `route_localnet`, a
/// blackhole route), ENETUNREACH (no route), EHOSTUNREACH (an unreachable route) and EACCES (a prohibit
/// route).
/// A packet of H itself goes from a socket bound to its source address (`bind`), as an application's
/// socket has it (bound, or connected: `ip_route_connect` looks the route up again with the source it
/// picked), so that `from` selectors of the routing policy see it.
fn send_raw(ns: &str, bytes: &[u8], dst: IpAddr, mark: u32, bind: Option<IpAddr>) -> Res<()> {
    let bytes = bytes.to_vec();
    in_netns(ns, move || {
        let domain = if dst.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
        let s = Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))?;
        if let Some(src) = bind {
            if src.is_ipv6() {
                s.set_freebind_v6(true)?;
            } else {
                s.set_freebind_v4(true)?;
            }
            s.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
        }
        if dst.is_ipv6() {
            s.set_header_included_v6(true)?;
        } else {
            // A packet to a broadcast address is refused with EACCES without it.
            s.set_broadcast(true)?;
        }
        if mark != 0 {
            s.set_mark(mark)?;
        }
        // Routing looks a raw socket's packet up with the socket's TOS (`get_rttos`), not its header's: the
        // socket gets the header's, as an application that sets IP_TOS (IPV6_TCLASS) has it.
        if dst.is_ipv6() {
            s.set_tclass_v6(u32::from(((bytes[0] & 0x0f) << 4) | (bytes[1] >> 4)))?;
        } else {
            s.set_tos_v4(u32::from(bytes[1]))?;
        }
        match s.send_to(&bytes, &SockAddr::from(SocketAddr::new(dst, 0))) {
            Err(e) if is_a_fate(&e) => Ok(()),
            other => other.map(|_| ()),
        }
    })
}

/// Whether a send's error is the packet's fate (OUTPUT's drop, routing's refusal; see [`send_raw`]).
fn is_a_fate(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM | libc::EINVAL | libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EACCES))
}

/// Sends a new packet of H from a socket of its protocol bound to its source and port and connected to its
/// destination, as an application's socket has it, so that the routing policy sees its protocol and ports:
/// a UDP datagram with the payload its length leaves, or a TCP SYN (`connect`, which the kernel writes with
/// its usual options: 40 bytes of header, 60 in IPv6). The packet's TTL (hop limit), TOS (traffic class),
/// DF and mark are set on the socket. Routing's refusal (at `connect`, or when NAT routes the packet again)
/// and OUTPUT's drop are fates, as for a raw socket. The socket is returned to be kept open while the
/// kernel logs.
fn send_from_socket(ns: &str, pkt: &Packet) -> Res<Option<Socket>> {
    let (ty, sport, dport) = match pkt.l4 {
        L4::Udp { sport, dport } => (Type::DGRAM, sport, dport),
        L4::Tcp { sport, dport, .. } => (Type::STREAM, sport, dport),
        _ => return Err("only UDP and TCP go from a socket of their protocol".into()),
    };
    let v6 = pkt.dst.is_ipv6();
    let s = bound_socket(ns, ty, SockAddr::from(SocketAddr::new(pkt.src, sport)))?;
    // The socket belongs to H's namespace from here on: routing and sending happen there.
    let set_up = || -> io::Result<()> {
        if v6 {
            s.set_unicast_hops_v6(u32::from(pkt.ttl))?;
            s.set_tclass_v6(u32::from(pkt.tos))?;
        } else {
            s.set_ttl_v4(u32::from(pkt.ttl))?;
            s.set_tos_v4(u32::from(pkt.tos))?;
            if ty == Type::DGRAM {
                s.set_broadcast(true)?;
            }
        }
        if pkt.mark != 0 {
            s.set_mark(pkt.mark)?;
        }
        s.set_nonblocking(ty == Type::STREAM)
    };
    set_up().map_err(|e| e.to_string())?;
    if !v6 {
        dont_fragment(&s, pkt.dont_fragment)?;
    }
    match s.connect(&SockAddr::from(SocketAddr::new(pkt.dst, dport))) {
        Err(e) if is_a_fate(&e) => return Ok(None),
        // The SYN is on its way.
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => return Ok(Some(s)),
        other => other.map_err(|e| e.to_string())?,
    }
    if ty == Type::STREAM {
        return Ok(Some(s));
    }
    let headers = if v6 { 48 } else { 28 };
    let payload = vec![b'x'; usize::from(pkt.len).saturating_sub(headers)];
    match s.send(&payload) {
        Err(e) if is_a_fate(&e) => Ok(None),
        other => other.map(|_| Some(s)).map_err(|e| e.to_string()),
    }
}

/// Every namespace a reply can come from: H and the peers, less the sender.
fn other_namespaces<'a>(lab: &'a Lab, sender_ns: &str) -> Vec<&'a str> {
    std::iter::once(lab.h.name.as_str())
        .chain(lab.peers.iter().map(|p| p.ns.name.as_str()))
        .filter(|n| *n != sender_ns)
        .collect()
}

/// The ports someone must listen on for the case's packet: its destination port and the NAT targets'.
fn listen_ports(dport: u16, targets: &DumpTargets) -> Vec<u16> {
    let mut ports = vec![dport];
    ports.extend(targets.ports.iter().copied().filter(|p| *p != dport));
    ports
}

fn wildcard(v6: bool, port: u16) -> SockAddr {
    let ip = if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    SockAddr::from(SocketAddr::new(ip, port))
}

/// A socket in `ns` bound to `addr` (an address of the namespace or the wildcard).
/// Makes an IPv4 socket set DF on everything it sends, or on nothing (`IP_MTU_DISCOVER`).
fn dont_fragment(s: &Socket, on: bool) -> Res<()> {
    use std::os::fd::AsRawFd;
    let mode: libc::c_int = if on { libc::IP_PMTUDISC_DO } else { libc::IP_PMTUDISC_DONT };
    // SAFETY: the option's value is a c_int that lives for the call, and its size is given.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            (&mode as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(format!("IP_MTU_DISCOVER: {}", io::Error::last_os_error()));
    }
    Ok(())
}

fn bound_socket(ns: &str, ty: Type, addr: SockAddr) -> Res<Socket> {
    in_netns(ns, move || {
        let domain = if addr.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
        let s = Socket::new(domain, ty, None)?;
        s.set_reuse_address(true)?;
        if addr.is_ipv6() {
            s.set_only_v6(true)?;
            s.set_freebind_v6(true)?;
        } else {
            s.set_freebind_v4(true)?;
        }
        s.bind(&addr)?;
        Ok(s)
    })
}

/// The connection a `CTSTATE=ESTABLISHED` packet belongs to, in its original direction: the namespace that
/// opened it, and the addresses and ports its first packet left with (before any NAT).
struct Flow {
    client_ns: String,
    src: SocketAddr,
    dst: SocketAddr,
    /// Whether the traced packet goes the other way (`CTDIR=REPLY`): from the server back to the client.
    reply: bool,
}

impl Flow {
    /// For a packet in the original direction, its sender opened the connection to the packet's
    /// destination. For a reply, the connection ran from `ORIGSRC:ORIGSPT` (by default the reply's
    /// destination and port) to `ORIGDST:ORIGDPT` (by default its source and port), opened by whoever owns
    /// `ORIGSRC` (H, or the peer H routes it to).
    fn of(lab: &Lab, pkt: &Packet, sender_ns: &str) -> Res<Flow> {
        let (sport, dport) = pkt.l4.ports().ok_or("no ports")?;
        if pkt.ct_dir == CtDir::Original {
            return Ok(Flow {
                client_ns: sender_ns.to_string(),
                src: SocketAddr::new(pkt.src, sport),
                dst: SocketAddr::new(pkt.dst, dport),
                reply: false,
            });
        }
        let o = pkt.orig.unwrap_or_default();
        let src = SocketAddr::new(o.src.unwrap_or(pkt.dst), o.sport.unwrap_or(dport));
        let dst = SocketAddr::new(o.dst.unwrap_or(pkt.src), o.dport.unwrap_or(sport));
        let client_ns = lab.owner_of(src.ip())?.to_string();
        if client_ns == sender_ns {
            return Err(format!(
                "the reply's sender also owns the connection's original source {}: give ORIGSRC= an address \
                 on another side of H",
                src.ip()
            ));
        }
        Ok(Flow { client_ns, src, dst, reply: true })
    }
}

/// A TCP connection set up before the traced segment of a `CTSTATE=ESTABLISHED` packet.
struct Handshake {
    client: Socket,
    server: Socket,
    /// Whether the traced segment is the server's (a reply).
    reply: bool,
    _listeners: Vec<Socket>,
}

impl Handshake {
    fn open(lab: &Lab, pkt: &Packet, sender_ns: &str, targets: &DumpTargets) -> Res<Handshake> {
        let flow = Flow::of(lab, pkt, sender_ns)?;
        let v6 = pkt.dst.is_ipv6();
        let mut listeners = Vec::new();
        for ns in other_namespaces(lab, &flow.client_ns) {
            for port in listen_ports(flow.dst.port(), targets) {
                let l = bound_socket(ns, Type::STREAM, wildcard(v6, port))?;
                l.listen(8).map_err(|e| e.to_string())?;
                l.set_nonblocking(true).map_err(|e| e.to_string())?;
                listeners.push(l);
            }
        }
        let client = bound_socket(&flow.client_ns, Type::STREAM, SockAddr::from(flow.src))?;
        if !v6 {
            // The traced segment carries DF as the packet says: a socket's default sets it only where the
            // route's MTU is not locked (`ip_dont_fragment`). Accepted sockets take the listener's setting.
            for s in listeners.iter().chain([&client]) {
                dont_fragment(s, pkt.dont_fragment)?;
            }
        }
        client.connect_timeout(&SockAddr::from(flow.dst), Duration::from_secs(3)).map_err(|e| {
            format!("the handshake before the ESTABLISHED packet failed ({e}): the rules must let the connection open")
        })?;
        let start = Instant::now();
        let server = loop {
            if let Some(s) = listeners.iter().find_map(|l| l.accept().ok()) {
                break s.0;
            }
            if start.elapsed() > Duration::from_secs(2) {
                return Err("the handshake completed but no listener accepted the connection".into());
            }
            sleep(Duration::from_millis(10));
        };
        let (sender, _) = if flow.reply { (&server, &client) } else { (&client, &server) };
        sender.set_tcp_quickack(true).map_err(|e| e.to_string())?;
        sleep(Duration::from_millis(50));
        Ok(Handshake { client, server, reply: flow.reply, _listeners: listeners })
    }

    /// Makes the packet's sender (the client, or the server for a reply) send the segment the packet
    /// describes: PSH ACK (data), FIN ACK (close), or a pure ACK (of a byte the other side sends).
    fn next_segment(&self, pkt: &Packet) -> Res<()> {
        let L4::Tcp { flags, .. } = pkt.l4 else { return Err("not TCP".into()) };
        let (us, them) = if self.reply { (&self.server, &self.client) } else { (&self.client, &self.server) };
        let r = if flags.0 & 0x08 != 0 {
            us.send(b"x").map(|_| ())
        } else if flags.0 & 0x01 != 0 {
            us.shutdown(std::net::Shutdown::Write)
        } else if flags.0 == 0x10 {
            us.set_tcp_quickack(true).and_then(|_| them.send(b"y")).map(|_| ())
        } else {
            return Err(format!(
                "after a handshake the recorder sends ACK, PSH ACK or FIN ACK, not flags {:#04x}",
                flags.0
            ));
        };
        r.map_err(|e| e.to_string())
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        // Reset rather than close, so that no FIN exchange follows the traced segment.
        let _ = self.client.set_linger(Some(Duration::ZERO));
        let _ = self.server.set_linger(Some(Duration::ZERO));
    }
}

/// Sends the echo request an ESTABLISHED echo reply answers: from the connection's original source (by
/// default the reply's destination) to its original destination (by default the reply's source), with the
/// stamp as its identifier; the kernel of whoever owns that destination sends the reply.
fn echo_request(lab: &Lab, pkt: &Packet, sender_ns: &str, stamp: &Stamp) -> Res<()> {
    let o = pkt.orig.unwrap_or_default();
    let (src, dst) = (o.src.unwrap_or(pkt.dst), o.dst.unwrap_or(pkt.src));
    let client = lab.owner_of(src)?.to_string();
    if client == sender_ns {
        return Err("the echo reply's sender also owns the request's source: give ORIGSRC= another address".into());
    }
    let l4 = if dst.is_ipv6() { L4::Icmpv6 { icmp_type: 128, code: 0 } } else { L4::Icmp { icmp_type: 8, code: 0 } };
    let mut request = Packet::new(src, dst, l4);
    request.len = pkt.len;
    send_raw(&client, &build_packet(&request, stamp, None), dst, 0, None)
}

/// Exchanges a datagram each way between the packet's source and whoever answers at its destination, so
/// that the packet that follows is ESTABLISHED.
fn udp_exchange(lab: &Lab, pkt: &Packet, sender_ns: &str, targets: &DumpTargets) -> Res<()> {
    let flow = Flow::of(lab, pkt, sender_ns)?;
    let v6 = pkt.dst.is_ipv6();
    let mut servers = Vec::new();
    if flow.reply {
        // The server is the reply's sender, and answers from the reply's source address and port (a socket
        // bound to the wildcard would answer from its namespace's first address, outside the connection).
        let (sport, _) = pkt.l4.ports().ok_or("no ports")?;
        servers.push(bound_socket(sender_ns, Type::DGRAM, SockAddr::from(SocketAddr::new(pkt.src, sport)))?);
    } else {
        for ns in other_namespaces(lab, &flow.client_ns) {
            for port in listen_ports(flow.dst.port(), targets) {
                servers.push(bound_socket(ns, Type::DGRAM, wildcard(v6, port))?);
            }
        }
    }
    for s in &servers {
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
    }
    let client = bound_socket(&flow.client_ns, Type::DGRAM, SockAddr::from(flow.src))?;
    client.set_nonblocking(true).map_err(|e| e.to_string())?;
    client.send_to(b"cwrec-setup", &SockAddr::from(flow.dst)).map_err(|e| e.to_string())?;
    let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
    let start = Instant::now();
    let mut answered = false;
    while start.elapsed() < Duration::from_secs(2) {
        if !answered {
            for s in &servers {
                if let Ok((_, from)) = s.recv_from(&mut buf) {
                    s.send_to(b"cwrec-reply", &from).map_err(|e| e.to_string())?;
                    answered = true;
                }
            }
        } else if client.recv_from(&mut buf).is_ok() {
            return Ok(());
        }
        sleep(Duration::from_millis(10));
    }
    Err(format!(
        "the UDP exchange before the ESTABLISHED packet failed ({}): the rules must let a datagram through each way",
        if answered { "no answer came back" } else { "the first datagram never arrived" }
    ))
}

/// Sends the UDP datagram a `CTSTATE=RELATED` ICMP error is about, and returns it as the error's sender
/// received it (after any NAT), ready to be quoted. By default it goes from the error's destination to its
/// source; an error that quotes its packet (`[SRC=... ]`) is about a datagram from the connection's original
/// source (`ORIGSRC=`, else the quoted source) to its original destination, with the quoted ports, which must
/// arrive as quoted.
fn related_flow(lab: &Lab, pkt: &Packet, sender_ns: &str, sender_tap: &Tap) -> Res<Vec<u8>> {
    let v6 = pkt.dst.is_ipv6();
    let orig = pkt.orig.unwrap_or_default();
    let (from, to) = match pkt.quoted {
        None => (SocketAddr::new(pkt.dst, RELATED_FLOW_SPORT), SocketAddr::new(pkt.src, RELATED_FLOW_DPORT)),
        Some(q) => {
            if q.proto != 17 || pkt.ct_dir != CtDir::Reply {
                return Err("the recorder makes RELATED errors about a UDP datagram of the original direction only \
                            (PROTO=UDP in the brackets, no CTDIR=ORIGINAL)"
                    .into());
            }
            let (sport, dport) = q.ports.unwrap_or((RELATED_FLOW_SPORT, RELATED_FLOW_DPORT));
            (
                SocketAddr::new(orig.src.unwrap_or(q.src), orig.sport.unwrap_or(sport)),
                SocketAddr::new(orig.dst.unwrap_or(q.dst), orig.dport.unwrap_or(dport)),
            )
        }
    };
    let origin = lab.owner_of(from.ip())?.to_string();
    let _sink = bound_socket(sender_ns, Type::DGRAM, wildcard(v6, to.port()))?;
    let first = bound_socket(&origin, Type::DGRAM, SockAddr::from(from))?;
    sender_tap.drain();
    first.send_to(b"cwrec-flow", &SockAddr::from(to)).map_err(|e| e.to_string())?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        sleep(Duration::from_millis(20));
        for (incoming, bytes) in sender_tap.drain() {
            let Some(w) = Wire::parse(&bytes) else { continue };
            if !(incoming && w.proto == 17 && w.l4.ends_with(b"cwrec-flow")) {
                continue;
            }
            if let Some(q) = pkt.quoted {
                let (sport, dport) = q.ports.unwrap_or((w.sport, w.dport));
                if (w.src, w.dst, w.sport, w.dport) != (q.src, q.dst, sport, dport) {
                    return Err(format!(
                        "the datagram the error is about reached its sender as {}:{} -> {}:{}, not as quoted",
                        w.src, w.sport, w.dst, w.dport
                    ));
                }
            }
            return Ok(bytes);
        }
    }
    Err("the UDP datagram a RELATED ICMP error is about never reached the error's sender".into())
}
