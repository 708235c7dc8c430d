//! `chainwalk`: the command-line front end of chainwalk-core.
//!
//! `chainwalk check FILE...` reads dumps as `iptables-restore` would and reports what it would refuse;
//! `chainwalk save FILE` prints a dump back in canonical `iptables-save` form.

use chainwalk_core::{parse, Family, Parsed};
use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str = "\
usage: chainwalk check [-4|-6] FILE...   report what iptables-restore would refuse (FILE `-` is stdin)
       chainwalk save [-4|-6] FILE       print FILE back in canonical iptables-save form
       chainwalk trace [-4|-6] RULES --packet SPEC [--host FILE] [--format text|json|log|nft]
                       [--trace-from-dump] [--assume TABLE:CHAIN:N=match|nomatch]... [--at TIME]
                                         walk a packet through the rules as the kernel would
options:
  -4, -6             read the dump as IPv4 (iptables-save) or IPv6 (ip6tables-save); default: guess
  --packet SPEC      the packet: a kernel log line (`IN=eth0 OUT= SRC=... DST=... PROTO=TCP SPT=.. DPT=.. SYN`)
                     or the short form (`tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn`);
                     `@FILE` reads it from a file
  --host FILE        the host: `ip -br addr`, `ip route` and `sysctl` lines; without it one is assumed
  --format F         text (default), json (the trace), log (the kernel's TRACE lines), nft (xtables-monitor)
  --trace-from-dump  start the TRACE lines at the dump's own TRACE rule, as the user's log shows them
  --assume K=V       decide a nondeterministic match of rule K (e.g. nat:KUBE-SVC-X:1) by hand; for an
                     NFQUEUE or QUEUE rule, `match` means a program listens on its queue (default: none)
  --at TIME          when the packet arrives, for `-m time`: YYYY-MM-DDThh:mm:ss (UTC) or @SECONDS since
                     1970; default: now";

/// Writes to standard output; a reader that went away (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("chainwalk: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let (command, rest) = args.split_first().ok_or("no command given")?;
    let mut family = None;
    let mut files = Vec::new();
    for a in rest {
        match a.as_str() {
            "-4" => family = Some(Family::Ipv4),
            "-6" => family = Some(Family::Ipv6),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            _ => files.push(a.as_str()),
        }
    }
    match command.as_str() {
        "check" => check(&files, family),
        "save" => save(&files, family),
        "trace" => trace(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command `{other}`")),
    }
}

fn read(file: &str) -> Result<String, String> {
    let mut bytes = Vec::new();
    let result = if file == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes)).map(|_| ())
    };
    result.map_err(|e| format!("{file}: {e}"))?;
    // A dump with bytes that are not UTF-8 (a Latin-1 comment) is read with those bytes replaced.
    Ok(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn display_name(file: &str) -> &str {
    if file == "-" {
        "<stdin>"
    } else {
        file
    }
}

fn check(files: &[&str], family: Option<Family>) -> Result<ExitCode, String> {
    if files.is_empty() {
        return Err("check needs at least one FILE".into());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = false;
    for file in files {
        let name = display_name(file);
        let text = match read(file) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(out, "{e}");
                failed = true;
                continue;
            }
        };
        let parsed = parse(&text, family);
        for d in &parsed.diagnostics {
            let _ = writeln!(out, "{name}:{d}");
        }
        if parsed.has_errors() {
            failed = true;
        } else {
            let _ = writeln!(out, "{name}: {}", summary(&parsed));
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `OK: N tables, N chains, N rules`.
fn summary(parsed: &Parsed) -> String {
    let rs = &parsed.ruleset;
    format!("OK: {} tables, {} chains, {} rules", rs.tables.len(), rs.chain_count(), rs.rule_count())
}

fn save(files: &[&str], family: Option<Family>) -> Result<ExitCode, String> {
    let [file] = files else {
        return Err("save takes exactly one FILE".into());
    };
    let parsed = parse(&read(file)?, family);
    let name = display_name(file);
    if parsed.has_errors() {
        for d in parsed.errors() {
            eprintln!("{name}:{d}");
        }
        return Ok(ExitCode::from(1));
    }
    emit(&chainwalk_core::canonical(&parsed));
    Ok(ExitCode::SUCCESS)
}

/// `chainwalk trace`.
fn trace(args: &[String]) -> Result<ExitCode, String> {
    use chainwalk_core::walk::{Simulation, WalkOptions};
    let mut family = None;
    let mut rules = None;
    let mut packet = None;
    let mut host_file = None;
    let mut format = "text".to_string();
    // The packet arrives now, as the kernel's clock would have it, unless `--at` says when.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).ok();
    let mut opts = WalkOptions { now, ..WalkOptions::default() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().cloned().ok_or(format!("{a} needs {what}"));
        match a.as_str() {
            "-4" => family = Some(Family::Ipv4),
            "-6" => family = Some(Family::Ipv6),
            "--packet" | "-p" => packet = Some(value("a packet")?),
            "--host" => host_file = Some(value("a file")?),
            "--format" | "-f" => format = value("a format")?,
            "--trace-from-dump" => opts.trace_from_dump = true,
            "--at" => {
                let v = value("a time")?;
                opts.now = Some(chainwalk_core::matches::time::parse_arrival(&v).map_err(|e| format!("--at: {e}"))?);
            }
            "--assume" => {
                let v = value("TABLE:CHAIN:N=match|nomatch")?;
                let (key, answer) = chainwalk_core::walk::read_override(&v).map_err(|e| format!("--assume: {e}"))?;
                opts.overrides.insert(key, answer);
            }
            other if other.starts_with('-') && other != "-" => return Err(format!("unknown option `{other}`")),
            other => {
                if rules.replace(other.to_string()).is_some() {
                    return Err("trace takes one RULES file".into());
                }
            }
        }
    }
    let rules = rules.ok_or("trace needs a RULES file")?;
    let packet = packet.ok_or("trace needs --packet")?;
    let packet_text = match packet.strip_prefix('@') {
        Some(file) => read(file)?,
        None => packet,
    };
    let mut bad = false;
    let parsed = parse(&read(&rules)?, family);
    let rules_name = display_name(&rules);
    for d in parsed.errors() {
        emit(&format!("{rules_name}:{d}\n"));
        bad = true;
    }
    let packet = match chainwalk_core::packet::parse(
        packet_text.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap_or(""),
    ) {
        Ok(p) => Some(p),
        Err(d) => {
            emit(&format!("packet:{d}\n"));
            bad = true;
            None
        }
    };
    let host = match &host_file {
        None => None,
        Some(f) => match chainwalk_core::host::parse(&read(f)?) {
            Ok(h) => Some(h),
            Err(errors) => {
                for d in errors {
                    emit(&format!("{}:{d}\n", display_name(f)));
                }
                bad = true;
                None
            }
        },
    };
    let (false, Some(packet)) = (bad, packet) else {
        return Ok(ExitCode::from(1));
    };
    if packet.family() != parsed.ruleset.family {
        emit(&format!("packet: the packet is {:?} but the rules are {:?}\n", packet.family(), parsed.ruleset.family));
        return Ok(ExitCode::from(1));
    }
    let sim = Simulation::new(&parsed.ruleset);
    if format == "nft" {
        opts.backend = chainwalk_core::walk::Backend::Nft;
    }
    let trace = sim.walk(host.as_ref(), &packet, &opts);
    let out = match format.as_str() {
        "json" => serde_json::to_string_pretty(&trace).map_err(|e| e.to_string())? + "\n",
        "log" => chainwalk_core::render::log::legacy(&trace),
        "nft" => chainwalk_core::render::log::nft(&trace, parsed.ruleset.family),
        "text" => {
            let colour = std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none();
            chainwalk_core::render::text::walk(&trace, chainwalk_core::render::text::Style { colour })
        }
        other => return Err(format!("unknown format `{other}` (text, json, log or nft)")),
    };
    emit(&out);
    Ok(ExitCode::SUCCESS)
}
