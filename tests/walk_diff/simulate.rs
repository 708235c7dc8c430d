//! chainwalk's side of a comparison with the kernel, shared by `tests/cases.rs` and `tests/walk_diff.rs`:
//! the walk of a case's texts, printed as the recorder writes what the kernel did (the legacy TRACE lines,
//! then the FATE line), so that a difference `walk_diff` finds is one `tests/cases.rs` would report.

use chainwalk_core::trace::{FateVerdict, Path, Trace};
use chainwalk_core::walk::{Backend, Simulation, WalkOptions};
use chainwalk_core::Family;

/// The lines of an `expected` text that chainwalk must reproduce: TRACE lines and the FATE line.
pub fn expected_lines(text: &str) -> Vec<String> {
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
        FateVerdict::Undecided => "undecided",
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

/// chainwalk's walk of a case (its texts; the host may be absent) with the dump loaded on `backend`, and
/// the dump's family.
pub fn walk_case(
    rules: &str,
    host: Option<&str>,
    packet: &str,
    assume: &[(String, bool)],
    backend: Backend,
) -> Result<(Trace, Family), String> {
    let parsed = chainwalk_core::parse(rules, None);
    if parsed.has_errors() {
        return Err(format!("rules do not parse: {:?}", parsed.errors().next()));
    }
    let host = host.map(|h| chainwalk_core::host::parse(h).map_err(|e| format!("host: {e:?}"))).transpose()?;
    let line = packet.lines().find(|l| !l.trim().is_empty() && !l.starts_with('#')).unwrap_or("");
    let packet = chainwalk_core::packet::parse(line).map_err(|e| format!("packet: {e}"))?;
    let sim = Simulation::new(&parsed.ruleset);
    // The kernel's clock when it recorded the case was a day like today; the cases' `-m time` windows are
    // years wide, so the walk's clock is now.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).ok();
    let overrides = assume.iter().cloned().collect();
    let trace = sim.walk(host.as_ref(), &packet, &WalkOptions { now, backend, overrides, ..WalkOptions::default() });
    Ok((trace, parsed.ruleset.family))
}

/// chainwalk's TRACE lines (legacy) and FATE line for a dump, a host and a packet.
pub fn legacy_lines(trace: &Trace) -> Vec<String> {
    let mut got: Vec<String> = chainwalk_core::render::log::legacy(trace).lines().map(str::to_string).collect();
    got.push(fate_line(trace));
    got
}

/// chainwalk's TRACE lines and FATE line for a dump, a host and a packet (all as text).
#[allow(dead_code)] // walk_diff's
pub fn walk(rules: &str, host: &str, packet: &str) -> Result<Vec<String>, String> {
    walk_case(rules, Some(host), packet, &[], Backend::Legacy).map(|(trace, _)| legacy_lines(&trace))
}

/// The kernel's lines and chainwalk's side by side, each pair marked `!` where they differ.
pub fn side_by_side(kernel: &[String], chainwalk: &[String]) -> String {
    let mut d = String::new();
    for k in 0..kernel.len().max(chainwalk.len()) {
        let w = kernel.get(k).map(String::as_str).unwrap_or("(none)");
        let g = chainwalk.get(k).map(String::as_str).unwrap_or("(none)");
        let mark = if w == g { " " } else { "!" };
        d += &format!("{mark} kernel:    {w}\n{mark} chainwalk: {g}\n");
    }
    d
}

/// A line of `xtables-monitor --trace` without its packet id (random in the kernel), as `expected-nft`
/// keeps it.
#[allow(dead_code)] // cases' and match_diff's
pub fn without_packet_id(line: &str) -> String {
    let (lead, rest) = line.split_at(line.len() - line.trim_start().len());
    let mut words = rest.splitn(4, ' ');
    let (kind, family, _id, tail) = (words.next(), words.next(), words.next(), words.next());
    format!("{lead}{} {} {}", kind.unwrap_or(""), family.unwrap_or(""), tail.unwrap_or("")).trim_end().to_string()
}

/// chainwalk's `xtables-monitor --trace` lines for a dump, a host and a packet (all as text), as
/// `expected-nft` keeps them.
#[allow(dead_code)] // match_diff's
pub fn walk_nft(rules: &str, host: &str, packet: &str) -> Result<Vec<String>, String> {
    let (trace, family) = walk_case(rules, Some(host), packet, &[], Backend::Nft)?;
    Ok(chainwalk_core::render::log::nft(&trace, family).lines().map(without_packet_id).collect())
}
