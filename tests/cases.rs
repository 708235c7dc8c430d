//! Every case in `tests/cases/` (rules, host, packet, and the `expected` trace recorded from the kernel by
//! `tests/record.rs`): chainwalk's walk must print the same TRACE lines and reach the same fate. Needs no
//! root: the recording is committed.

use chainwalk_core::trace::{FateVerdict, Path, Trace};
use chainwalk_core::walk::{Simulation, WalkOptions};
use std::path::{Path as FsPath, PathBuf};

fn case_dirs() -> Vec<PathBuf> {
    let root = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.join("expected").is_file()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The lines of `expected` that chainwalk must reproduce: TRACE lines and the FATE line.
fn expected_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("TRACE:") || l.starts_with("FATE:"))
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// The FATE line for a trace, in the recorder's format.
pub fn fate_line(trace: &Trace) -> String {
    let f = &trace.fate;
    let verdict = match f.verdict {
        FateVerdict::Accept => "accept",
        FateVerdict::Drop => "drop",
        FateVerdict::Reject => "reject",
        FateVerdict::Queue => "queue",
    };
    let path = match f.path {
        Path::Input => "input",
        Path::Forward => "forward",
        Path::Output => "output",
    };
    let physout = f.physout.as_ref().map(|p| format!(" physout={p}")).unwrap_or_default();
    let mut line = format!(
        "FATE: verdict={verdict} path={path} out={}{physout} src={} dst={}",
        f.out.as_deref().unwrap_or("-"),
        f.src,
        f.dst
    );
    if let Some(r) = &f.reject_with {
        line.push_str(&format!(" reject={r}"));
    }
    line
}

fn run_case(dir: &FsPath) -> Result<(), String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let rules = read("rules")?;
    let parsed = chainwalk_core::parse(&rules, None);
    if parsed.has_errors() {
        return Err(format!("rules do not parse: {:?}", parsed.errors().next()));
    }
    let host = match read("host") {
        Ok(text) => Some(chainwalk_core::host::parse(&text).map_err(|e| format!("host: {e:?}"))?),
        Err(_) => None,
    };
    let packet_text = read("packet")?;
    let line = packet_text.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap_or("");
    let packet = chainwalk_core::packet::parse(line).map_err(|e| format!("packet: {e}"))?;
    let sim = Simulation::new(&parsed.ruleset);
    // The kernel's clock when it recorded the case was a day like today; the cases' `-m time` windows are
    // years wide, so the walk's clock is now.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).ok();
    let trace = sim.walk(host.as_ref(), &packet, &WalkOptions { now, ..WalkOptions::default() });
    let mut got: Vec<String> = chainwalk_core::render::log::legacy(&trace).lines().map(str::to_string).collect();
    got.push(fate_line(&trace));
    let want = expected_lines(&read("expected")?);
    if got != want {
        let mut diff = String::new();
        for i in 0..got.len().max(want.len()) {
            let (g, w) = (
                got.get(i).map(String::as_str).unwrap_or("(none)"),
                want.get(i).map(String::as_str).unwrap_or("(none)"),
            );
            let mark = if g == w { " " } else { "!" };
            diff.push_str(&format!("{mark} kernel:    {w}\n{mark} chainwalk: {g}\n"));
        }
        return Err(diff);
    }
    Ok(())
}

#[test]
fn every_case_agrees_with_the_kernel_recording() {
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "no cases in tests/cases");
    let mut failures = Vec::new();
    for dir in &dirs {
        if let Err(e) = run_case(dir) {
            failures.push(format!("{}:\n{e}", dir.file_name().unwrap_or_default().to_string_lossy()));
        }
    }
    eprintln!("{} cases, {} agree with the kernel", dirs.len(), dirs.len() - failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from the kernel:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}
