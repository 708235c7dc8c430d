//! chainwalk's side of a comparison: the walk of a case's files printed as `tests/cases.rs` prints it (the
//! kernel's TRACE lines in the legacy form, then the recorder's FATE line), so that a difference found here
//! is one `tests/cases.rs` would report for the same case.

use chainwalk_core::trace::{FateVerdict, Path, Trace};
use chainwalk_core::walk::{Simulation, WalkOptions};

/// The lines of an `expected` text that chainwalk must reproduce: TRACE lines and the FATE line.
pub fn expected_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("TRACE:") || l.starts_with("FATE:"))
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// The FATE line for a trace, in the recorder's format.
fn fate_line(trace: &Trace) -> String {
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

/// chainwalk's TRACE lines and FATE line for a dump, a host and a packet (all as text).
pub fn walk(rules: &str, host: &str, packet: &str) -> Result<Vec<String>, String> {
    let parsed = chainwalk_core::parse(rules, None);
    if parsed.has_errors() {
        return Err(format!("rules do not parse: {:?}", parsed.errors().next()));
    }
    let host = chainwalk_core::host::parse(host).map_err(|e| format!("host: {e:?}"))?;
    let line = packet.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap_or("");
    let packet = chainwalk_core::packet::parse(line).map_err(|e| format!("packet: {e}"))?;
    let sim = Simulation::new(&parsed.ruleset);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).ok();
    let trace = sim.walk(Some(&host), &packet, &WalkOptions { now, ..WalkOptions::default() });
    let mut got: Vec<String> = chainwalk_core::render::log::legacy(&trace).lines().map(str::to_string).collect();
    got.push(fate_line(&trace));
    Ok(got)
}
