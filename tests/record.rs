//! The packet-walk cases in `tests/cases/` against the real kernel: every case is recorded again (see
//! `support/recorder.rs`) and must give exactly its committed `expected`, so the fixtures cannot drift
//! from what Linux does. The comment lines at the top (which kernel recorded it) are not compared; a
//! recording that differs is shown as a diff and kept in `$TMPDIR/chainwalk-record/NAME/expected`.
//!
//! - `CHAINWALK_RECORD=1` writes `expected` instead of comparing, after recording each case twice and
//!   checking that both recordings agree.
//! - `CHAINWALK_CASE=name[,name...]` picks cases (`prefix*` picks every case whose name starts so).
//! - `CHAINWALK_BACKEND=legacy` or `nft` records on one backend only (`expected` or `expected-nft`).
//!
//! Without root (or the tools) it says SKIPPED and passes; with `CI=true` that is a failure.

mod support;

use std::path::{Path, PathBuf};
use support::recorder::nft::Outcome;
use support::recorder::{self, Case};

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("cases")
}

/// Whether `CHAINWALK_CASE` selects `name` (everything when it is unset).
fn selected(name: &str) -> bool {
    support::selected_by("CHAINWALK_CASE", name)
}

/// Whether `CHAINWALK_BACKEND` (`legacy` or `nft`) selects the backend `name` (both when it is unset).
fn backend_selected(name: &str) -> bool {
    std::env::var("CHAINWALK_BACKEND").map_or(true, |b| b.trim().is_empty() || b.trim() == name)
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.join("packet").is_file()).collect())
        .unwrap_or_default();
    dirs.retain(|d| d.file_name().is_some_and(|n| selected(&n.to_string_lossy())));
    dirs.sort();
    dirs
}

/// The lines that are compared: everything but comments.
fn body(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// A line diff of two short texts (`-` committed, `+` recorded).
fn diff(old: &[&str], new: &[&str]) -> String {
    let (n, m) = (old.len(), new.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out += &format!("    {}\n", old[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j]) {
            out += &format!("  + {}\n", new[j]);
            j += 1;
        } else {
            out += &format!("  - {}\n", old[i]);
            i += 1;
        }
    }
    out
}

/// Writes a recording that differs from the committed one to a temporary folder, for a closer look; the
/// file's path.
fn keep_recording(name: &str, file: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join("chainwalk-record").join(name);
    let path = dir.join(file);
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, text)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("nowhere ({e})"),
    }
}

/// One recording of a case: the file it is kept in and the recorder that makes it.
struct Backend {
    /// Its name for `CHAINWALK_BACKEND`.
    name: &'static str,
    file: &'static str,
    record: fn(&Case) -> Result<Outcome, String>,
}

/// The legacy backend's TRACE lines and fate, and the nf_tables backend's `xtables-monitor --trace` lines.
const BACKENDS: [Backend; 2] = [
    Backend { name: "legacy", file: "expected", record: |case| recorder::record(case).map(Outcome::Recorded) },
    Backend { name: "nft", file: "expected-nft", record: recorder::nft::record },
];

/// Records one case on one backend and writes or compares its file; a failure says why. A case the
/// backend's tools cannot show has no file, and must stay so.
fn check(dir: &Path, name: &str, backend: &Backend, rewrite: bool) -> Result<(), String> {
    let file = backend.file;
    let path = dir.join(file);
    let record = || match Case::load(dir).and_then(|case| (backend.record)(&case)) {
        Ok(Outcome::Recorded(text)) => Ok(Ok(text)),
        Ok(Outcome::Impossible(why)) => Ok(Err(why)),
        Err(e) => Err(e),
    };
    let recorded = match record().map_err(|e| format!("{name} ({file}): could not record: {e}"))? {
        Ok(text) => text,
        Err(why) if rewrite => {
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| format!("{name}: remove {file}: {e}"))?;
            }
            eprintln!("cannot record {name} ({file}): {why}");
            return Ok(());
        }
        Err(why) if path.exists() => return Err(format!("{name} ({file}): can no longer be recorded: {why}")),
        Err(why) => {
            eprintln!("ok {name} (no {file}: {why})");
            return Ok(());
        }
    };
    if rewrite {
        return match record() {
            Ok(Ok(again)) if body(&again) == body(&recorded) => {
                std::fs::write(&path, &recorded).map_err(|e| format!("{name}: write {file}: {e}"))?;
                eprintln!("recorded {name} ({file})");
                Ok(())
            }
            Ok(Ok(again)) => Err(format!(
                "{name} ({file}): two recordings differ, so the case is not deterministic:\n{}",
                diff(&body(&recorded), &body(&again))
            )),
            Ok(Err(why)) => Err(format!("{name} ({file}): recorded once, then not: {why}")),
            Err(e) => Err(format!("{name} ({file}): could not record a second time: {e}")),
        };
    }
    let committed = std::fs::read_to_string(&path)
        .map_err(|_| format!("{name}: no `{file}` yet: record it with CHAINWALK_RECORD=1 CHAINWALK_CASE={name}"))?;
    if body(&committed) != body(&recorded) {
        // A few walks hang on the kernel's clock (connlimit counts a connection twice within one jiffy, 4 ms
        // at HZ=250, and once across a tick): a case fails only when two more recordings differ too.
        for attempt in 2..=3 {
            if let Ok(Ok(again)) = record() {
                if body(&again) == body(&committed) {
                    eprintln!(
                        "ok {name} ({file}) on recording {attempt}; the first differed:\n{}",
                        diff(&body(&committed), &body(&recorded))
                    );
                    return Ok(());
                }
            }
        }
        let header = |t: &str| t.lines().find(|l| l.starts_with('#')).unwrap_or("").to_string();
        let kept = keep_recording(name, file, &recorded);
        return Err(format!(
            "{name} ({file}): the kernel now does something else (- committed, + recorded, kept in {kept})\n  \
             committed {}\n  recorded  {}\n{}",
            header(&committed),
            header(&recorded),
            diff(&body(&committed), &body(&recorded))
        ));
    }
    eprintln!("ok {name} ({file})");
    Ok(())
}

#[test]
fn cases_agree_with_the_kernel() {
    if let Some(why) = support::kernel_unavailable().or_else(recorder::unavailable) {
        eprintln!("\n*** SKIPPED: the kernel recorder cannot run: {why} ***\n");
        return;
    }
    let rewrite = std::env::var("CHAINWALK_RECORD").is_ok_and(|v| v == "1");
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "no case in {} matches CHAINWALK_CASE", cases_dir().display());
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        for backend in BACKENDS.iter().filter(|b| backend_selected(b.name)) {
            if let Err(e) = check(dir, &name, backend, rewrite) {
                failures.push(e);
            }
        }
    }
    eprintln!("{} cases on {} backends, {} failed", dirs.len(), BACKENDS.len(), failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn trace_lines_keep_only_the_walk() {
    let line = "TRACE: filter:DOCKER-USER:return:1 IN=ppp0 OUT=docker0 MAC=e2:bd:6d:a6:46:d4:6e:28:61:49:0a:a6:08:00 \
                SRC=203.0.113.7 DST=172.17.0.2 LEN=52 TOS=0x00 PREC=0x00 TTL=63 ID=56885 DF PROTO=TCP SPT=41001 \
                DPT=7788 SEQ=1419335596 ACK=3212023375 WINDOW=63 RES=0x00 ACK URGP=0 OPT (0101080AC5678583BE45E0FC) ";
    assert_eq!(
        recorder::normalize(line),
        "TRACE: filter:DOCKER-USER:return:1 IN=ppp0 OUT=docker0 SRC=203.0.113.7 DST=172.17.0.2 LEN=52 TOS=0x00 \
         PREC=0x00 TTL=63 DF PROTO=TCP SPT=41001 DPT=7788 ACK"
    );
    let udp6 = "TRACE: mangle:FORWARD:rule:2 IN=v0 OUT=v1 MAC=02:63:77:00:00:02:02:63:77:00:00:01:86:dd \
                SRC=2001:0db8:0001:0000:0000:0000:0000:0007 DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=88 \
                TC=16 HOPLIMIT=63 FLOWLBL=4711 OPT ( FRAG:0 INCOMPLETE ID:0000abcd ) PROTO=UDP SPT=5353 DPT=53 \
                LEN=40 MARK=0x2a ";
    assert_eq!(
        recorder::normalize(udp6),
        "TRACE: mangle:FORWARD:rule:2 IN=v0 OUT=v1 SRC=2001:0db8:0001:0000:0000:0000:0000:0007 \
         DST=2001:0db8:0002:0000:0000:0000:0000:0002 LEN=88 TC=16 HOPLIMIT=63 PROTO=UDP SPT=5353 DPT=53 LEN=40 \
         MARK=0x2a"
    );
    let frag = "TRACE: raw:OUTPUT:policy:1 IN= OUT=eth0 SRC=192.0.2.1 DST=192.0.2.2 LEN=548 TOS=0x10 PREC=0x20 \
                TTL=64 ID=7 MF FRAG:185 PROTO=UDPLITE UID=0 GID=0 MARK=0x1 ";
    assert_eq!(
        recorder::normalize(frag),
        "TRACE: raw:OUTPUT:policy:1 IN= OUT=eth0 SRC=192.0.2.1 DST=192.0.2.2 LEN=548 TOS=0x10 PREC=0x20 TTL=64 MF \
         FRAG:185 PROTO=UDPLITE MARK=0x1"
    );
    let icmp = "TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= MAC=02:63:77:00:00:02:02:63:77:00:00:01:08:00 \
                SRC=198.51.100.9 DST=192.0.2.10 LEN=56 TOS=0x00 PREC=0x00 TTL=64 ID=41 PROTO=ICMP TYPE=3 CODE=3 \
                [SRC=192.0.2.10 DST=198.51.100.9 LEN=38 TOS=0x00 PREC=0x00 TTL=63 ID=7 PROTO=UDP SPT=41234 DPT=33434 LEN=18 ] ";
    assert_eq!(
        recorder::normalize(icmp),
        "TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= SRC=198.51.100.9 DST=192.0.2.10 LEN=56 TOS=0x00 PREC=0x00 \
         TTL=64 PROTO=ICMP TYPE=3 CODE=3"
    );
    // The mark comes after the quoted packet (and after a short header's `INCOMPLETE`).
    let marked = "TRACE: mangle:POSTROUTING:rule:3 IN=eth0 OUT=eth1 SRC=192.0.2.9 DST=198.51.100.7 LEN=56 \
                  TOS=0x00 PREC=0xC0 TTL=63 ID=9 PROTO=ICMP TYPE=3 CODE=3 [SRC=198.51.100.7 DST=192.0.2.9 LEN=28 \
                  TOS=0x00 PREC=0x00 TTL=63 ID=7 PROTO=UDP INCOMPLETE [8 bytes] ] MARK=0x2 ";
    assert_eq!(
        recorder::normalize(marked),
        "TRACE: mangle:POSTROUTING:rule:3 IN=eth0 OUT=eth1 SRC=192.0.2.9 DST=198.51.100.7 LEN=56 TOS=0x00 \
         PREC=0xC0 TTL=63 PROTO=ICMP TYPE=3 CODE=3 MARK=0x2"
    );
    assert_eq!(recorder::field(icmp, "DPT"), None);
    assert_eq!(recorder::field(icmp, "ID"), Some("41"));
}

#[test]
fn monitor_lines_keep_only_the_packets_walk() {
    let printed = "PACKET: 2 5cd8ea78 IN=ppp0 MACSRC=2:63:77:0:0:2 MACDST=2:63:77:0:0:1 MACPROTO=0800 \
                   SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x0 TTL=41 ID=59755 DF SPORT=19327 DPORT=7788 SYN \n\
                   \x20TRACE: 2 5cd8ea78 nat:PREROUTING:rule:0x6:JUMP:DOCKER  -4 -t nat -A PREROUTING -m addrtype \
                   --dst-type LOCAL -j DOCKER\n\
                   PACKET: 2 6602fe4c OUT=ppp0 SRC=198.51.100.2 DST=203.0.113.7 LEN=40 TOS=0x0 TTL=64 ID=0 DF \
                   SPORT=7788 DPORT=19327 ACK RST \n\
                   \x20TRACE: 2 6602fe4c filter:OUTPUT:policy:ACCEPT \n\
                   PACKET: 2 2893e55f IN=lo LOOPBACK SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x0 TTL=41 \
                   ID=59755 DF SPORT=19327 DPORT=7788 SYN MARK=0x7 \n\
                   \x20TRACE: 2 2893e55f filter:INPUT:policy:DROP \n";
    let pkt =
        chainwalk_core::packet::parse("IN=ppp0 SRC=203.0.113.7 DST=198.51.100.2 PROTO=TCP SPT=19327 DPT=7788 SYN")
            .unwrap();
    assert_eq!(
        recorder::nft::packet_lines(printed, &pkt, 59755),
        [
            "PACKET: 2 IN=ppp0 SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x0 TTL=41 DF SPORT=19327 DPORT=7788 SYN",
            " TRACE: 2 nat:PREROUTING:rule:0x6:JUMP:DOCKER  -4 -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
            "PACKET: 2 IN=lo SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x0 TTL=41 DF SPORT=19327 DPORT=7788 SYN \
             MARK=0x7",
            " TRACE: 2 filter:INPUT:policy:DROP",
        ]
    );
}

#[test]
fn a_segments_timestamp_is_read_from_its_log_line() {
    // What tells a segment from the same one sent again: its TCP timestamp value (here 0xabcd), after
    // two NOPs; an option without one gives none.
    let line = |opt: &str| {
        format!(
            "TRACE: raw:PREROUTING:policy:1 IN=eth1 OUT= SRC=192.0.2.7 DST=198.51.100.2 LEN=64 TTL=64 ID=77 DF \
             PROTO=TCP SPT=40000 DPT=53 SEQ=1000 ACK=1 WINDOW=502 RES=0x00 ACK PSH URGP=0 OPT ({opt}) "
        )
    };
    assert_eq!(recorder::tsval_of(&line("0101080A0000ABCD00000001")), Some(0xabcd));
    assert_eq!(recorder::tsval_of(&line("020405B40402080A0000ABCD00000000")), Some(0xabcd));
    assert_eq!(recorder::tsval_of(&line("020405B4")), None);
    assert_eq!(recorder::tsval_of("TRACE: raw:PREROUTING:policy:1 PROTO=UDP SPT=1 DPT=2"), None);
}

#[test]
fn packets_are_built_with_valid_checksums() {
    use chainwalk_core::packet::parse;
    let stamp = recorder::Stamp { ip: 0x1234, seq: 1000, ack: 1, tsval: None };
    for text in [
        "IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TTL=41 DF PROTO=TCP SPT=19327 DPT=7788 SYN",
        "IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.2 PROTO=UDP SPT=5353 DPT=53",
        "IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.2 PROTO=ICMP TYPE=8 CODE=0",
        "IN=eth0 OUT= SRC=2001:db8::7 DST=2001:db8:1::2 PROTO=ICMPv6 TYPE=128 CODE=0",
        "IN=eth0 OUT= SRC=2001:db8::7 DST=2001:db8:1::2 LEN=80 PROTO=TCP SPT=40000 DPT=443 ACK PSH",
        "IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.2 LEN=48 PROTO=UDPLITE SPT=1234 DPT=6002",
        "IN=eth0 OUT= SRC=2001:db8::7 DST=2001:db8:1::2 LEN=90 PROTO=DCCP SPT=1111 DPT=5000",
        "IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.2 LEN=60 PROTO=SCTP SPT=40000 DPT=5000",
        "IN=eth0 OUT= SRC=2001:db8::7 DST=2001:db8:1::2 LEN=100 PROTO=SCTP SPT=40000 DPT=38412",
        "IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.2 LEN=120 PROTO=ESP SPI=0x164",
        "IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.2 LEN=60 PROTO=AH SPI=0x65",
        "IN=eth0 OUT= SRC=192.0.2.7 DST=198.51.100.2 LEN=100 PROTO=47",
    ] {
        let pkt = parse(text).unwrap();
        let bytes = recorder::build_packet(&pkt, &stamp, None);
        let wire = recorder::Wire::parse(&bytes).unwrap();
        assert_eq!((wire.src, wire.dst, wire.proto, wire.stamp), (pkt.src, pkt.dst, pkt.l4.proto(), 0x1234), "{text}");
        assert_eq!(bytes.len(), usize::from(pkt.len), "{text}");
        if let Some((s, d)) = pkt.l4.ports() {
            assert_eq!((wire.sport, wire.dport), (s, d), "{text}");
        }
        // A correct checksum sums (with the pseudo-header where there is one) to all ones.
        let (ip_len, v6) = if pkt.dst.is_ipv6() { (40, true) } else { (20, false) };
        if !v6 {
            assert_eq!(recorder::checksum(&[&bytes[..20]]), 0, "{text}: IPv4 header");
        }
        let l4 = &bytes[ip_len..];
        match pkt.l4.proto() {
            // SCTP: CRC32c over the packet with the checksum field zero, stored little-endian.
            132 => {
                let mut zeroed = l4.to_vec();
                zeroed[8..12].fill(0);
                assert_eq!(!recorder::crc32c(&zeroed), u32::from_le_bytes(l4[8..12].try_into().unwrap()), "{text}");
                continue;
            }
            // ESP, AH, GRE: no checksum; the SPI is the packet's.
            50 | 51 | 47 => {
                let at = if pkt.l4.proto() == 51 { 4 } else { 0 };
                if let Some(spi) = pkt.spi {
                    assert_eq!(u32::from_be_bytes(l4[at..at + 4].try_into().unwrap()), spi, "{text}");
                }
                continue;
            }
            _ => {}
        }
        let sum = if pkt.l4.proto() == 1 {
            recorder::checksum(&[l4])
        } else {
            let mut pseudo = Vec::new();
            if v6 {
                pseudo.extend_from_slice(&bytes[8..40]);
                pseudo.extend((l4.len() as u32).to_be_bytes());
                pseudo.extend([0, 0, 0, pkt.l4.proto()]);
            } else {
                pseudo.extend_from_slice(&bytes[12..20]);
                pseudo.extend([0, pkt.l4.proto()]);
                pseudo.extend((l4.len() as u16).to_be_bytes());
            }
            recorder::checksum(&[&pseudo, l4])
        };
        assert_eq!(sum, 0, "{text}: transport checksum");
    }
}

#[test]
fn crc32c_is_castagnolis() {
    // The check value of CRC-32C (RFC 3720's CRC, SCTP's checksum) over the nine digits.
    assert_eq!(!recorder::crc32c(b"123456789"), 0xe306_9283);
}

#[test]
fn nat_targets_are_read_from_the_dump() {
    let t = recorder::DumpTargets::read(
        "*nat\n-A DOCKER -p tcp -m tcp --dport 7788 -j DNAT --to-destination 172.17.0.2:7788\n\
         -A P -j DNAT --to-destination 10.0.0.1-10.0.0.9:80-90\n-A P -j REDIRECT --to-ports 3128\n\
         -A P -j DNAT --to-destination [2001:db8::5]:8443\nCOMMIT\n",
    );
    let addrs: Vec<String> = t.addrs.iter().map(|a| a.to_string()).collect();
    let range: Vec<String> = (1..=9).map(|n| format!("10.0.0.{n}")).collect();
    let want: Vec<String> =
        std::iter::once("172.17.0.2".to_string()).chain(range).chain(["2001:db8::5".to_string()]).collect();
    assert_eq!(addrs, want);
    assert_eq!(t.ports, [80, 3128, 7788, 8443]);
}

/// Lines as the kernel printed them for `target-tee-in-postrouting-copy-keeps-its-ttl` (shortened), and for
/// match_diff seed 53753, where only the copy left.
#[test]
fn tee_copies_are_told_from_the_packet() {
    let pkt = chainwalk_core::packet::parse("IN=eth0 OUT= SRC=203.0.113.7 DST=192.0.2.10 PROTO=TCP SPT=1 DPT=80 SYN")
        .expect("a packet");
    let kept_ttl = [
        "TRACE: mangle:FORWARD:policy:1 IN=eth0 OUT=eth1 SRC=203.0.113.7",
        "TRACE: mangle:POSTROUTING:rule:1 IN=eth0 OUT=eth1 SRC=203.0.113.7",
        "TRACE: raw:OUTPUT:rule:1 IN= OUT=eth0 SRC=203.0.113.7",
        "TRACE: filter:OUTPUT:rule:1 IN= OUT=eth0 SRC=203.0.113.7",
        "TRACE: mangle:POSTROUTING:rule:2 IN=eth0 OUT=eth0 SRC=203.0.113.7",
        "TRACE: mangle:POSTROUTING:policy:3 IN=eth0 OUT=eth0 SRC=203.0.113.7",
        "TRACE: mangle:POSTROUTING:rule:2 IN=eth0 OUT=eth1 SRC=203.0.113.7",
        "TRACE: nat:POSTROUTING:rule:1 IN=eth0 OUT=eth1 SRC=203.0.113.7",
    ];
    assert_eq!(recorder::tee_copies_out(&pkt, &kept_ttl), ["eth0"]);
    let only_the_copy = [
        "TRACE: mangle:PREROUTING:rule:1 IN=eth0 OUT= SRC=192.0.2.1",
        "TRACE: raw:OUTPUT:policy:1 IN= OUT=eth0 SRC=192.0.2.1",
        "TRACE: mangle:POSTROUTING:policy:1 IN=eth0 OUT=eth0 SRC=192.0.2.1",
        "TRACE: mangle:PREROUTING:policy:2 IN=eth0 OUT= SRC=192.0.2.1",
    ];
    assert_eq!(recorder::tee_copies_out(&pkt, &only_the_copy), ["eth0"]);
    // A copy that leaves where the packet does is not in the way: the packet is there too.
    let both = [
        "TRACE: mangle:POSTROUTING:policy:1 IN=eth1 OUT=eth1 SRC=1",
        "TRACE: mangle:POSTROUTING:policy:1 IN=eth0 OUT=eth1 SRC=1",
    ];
    assert!(recorder::tee_copies_out(&pkt, &both).is_empty());
    let own = chainwalk_core::packet::parse("IN= OUT=eth0 SRC=198.51.100.2 DST=203.0.113.7 PROTO=UDP SPT=1 DPT=53")
        .expect("a packet");
    let output = [
        "TRACE: mangle:POSTROUTING:policy:1 IN=eth1 OUT=eth0 SRC=1",
        "TRACE: mangle:POSTROUTING:policy:1 IN= OUT=eth0 SRC=1",
    ];
    assert!(recorder::tee_copies_out(&own, &output).is_empty());
}
