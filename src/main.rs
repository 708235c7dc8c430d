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
options:
  -4, -6   read the dump as IPv4 (iptables-save) or IPv6 (ip6tables-save); default: guess from the dump";

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
    print!("{}", chainwalk_core::canonical(&parsed));
    Ok(ExitCode::SUCCESS)
}
