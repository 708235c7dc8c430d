//! The command-line program as a user runs it: `check`, `save` and `trace` on the Docker 7788 story.

use std::process::Command;

fn chainwalk(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chainwalk")).args(args).output().expect("the chainwalk binary runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn example(name: &str) -> String {
    format!("{}/static/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn write(name: &str, text: &str) -> String {
    // Under the folder cargo gives integration tests (not the system's temporary one), written over each run.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("chainwalk-cli");
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("a temp file");
    path.to_string_lossy().into_owned()
}

#[test]
fn check_reports_ok_or_positioned_errors() {
    let (code, out) = chainwalk(&["check", &example("docker-7788.rules")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK: 4 tables, 19 chains, 30 rules"), "{out}");
    let bad = write("bad.rules", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 99999 -j ACCEPT\n");
    let (code, out) = chainwalk(&["check", &bad]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("{bad}:3:25: error: port `99999` is out of range")), "{out}");
    assert!(out.contains(&format!("{bad}:4:1: error:")), "{out}");
}

#[test]
fn trace_json_holds_the_kernel_lines_and_the_fate() {
    let packet = "@".to_string()
        + &write("p", "IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 PROTO=TCP SPT=19327 DPT=7788 SYN\n");
    let host = write("h", "ppp0 UP 198.51.100.2/24\np1p1 UP 192.168.200.1/30\ndocker0 UP 172.17.0.1/16\ndefault via 198.51.100.1 dev ppp0\nnet.ipv4.ip_forward = 1\n");
    let (code, out) =
        chainwalk(&["trace", &example("docker-7788.rules"), "--packet", &packet, "--host", &host, "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let trace: Vec<&str> = v["trace"].as_array().expect("trace").iter().filter_map(|t| t.as_str()).collect();
    assert_eq!(
        &trace[..4],
        ["raw:PREROUTING:rule:1", "raw:PREROUTING:policy:2", "mangle:PREROUTING:policy:1", "nat:PREROUTING:rule:1"]
    );
    assert_eq!(v["fate"]["verdict"], "accept");
    assert_eq!(v["fate"]["path"], "input");
    assert_eq!(v["fate"]["dst"], "198.51.100.2:7788");
    let (_, fixed) = chainwalk(&[
        "trace",
        &example("docker-7788-fixed.rules"),
        "--packet",
        &packet,
        "--host",
        &host,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&fixed).expect("json");
    assert_eq!(v["fate"]["path"], "forward");
    assert_eq!(v["fate"]["out"], "docker0");
    assert_eq!(v["fate"]["dst"], "172.17.0.2:7788");
}

#[test]
fn trace_reports_bad_packets_with_their_column() {
    let (code, out) =
        chainwalk(&["trace", &example("docker-7788.rules"), "--packet", "tcp 192.0.2.1:1 -> 192.0.2.2:2 sideways"]);
    assert_eq!(code, 1);
    assert!(out.contains("packet:1:32: error:"), "{out}");
}

#[test]
fn trace_takes_the_packet_as_arriving_now_unless_told_when() {
    let rules = write(
        "time.rules",
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m time --datestop 2020-01-01T00:00:00 -j DROP\nCOMMIT\n",
    );
    let trace = |extra: &[&str]| {
        let mut args = vec!["trace", rules.as_str(), "--packet", "tcp 192.0.2.7:40000 -> 192.0.2.2:22 in eth0 syn"];
        args.extend_from_slice(extra);
        args.extend(["--format", "log"]);
        chainwalk(&args)
    };
    // As the kernel does, by its clock: 2020 is over, the window is behind us.
    let (code, out) = trace(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("TRACE: filter:INPUT:policy:2 "), "{out}");
    let (_, out) = trace(&["--at", "2019-06-01T12:00"]);
    assert!(out.starts_with("TRACE: filter:INPUT:rule:1 "), "{out}");
    // The window ends with its last second.
    let (_, out) = trace(&["--at", "@1577836800"]);
    assert!(out.starts_with("TRACE: filter:INPUT:rule:1 "), "{out}");
    let (_, out) = trace(&["--at", "@1577836801"]);
    assert!(out.starts_with("TRACE: filter:INPUT:policy:2 "), "{out}");
    let (code, _) = trace(&["--at", "yesterday"]);
    assert_eq!(code, 2);
}
