//! A readable walk for a terminal: the stages in order, each rule the packet met with whether it matched
//! and why not, the changes, assumptions and the fate.

use crate::trace::{StageKind, StageStatus, StepKind, Trace};

/// Colours for a terminal, or none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// Whether to use ANSI colours.
    pub colour: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The walk as text.
pub fn walk(trace: &Trace, style: Style) -> String {
    let mut out = String::new();
    let fate = &trace.fate;
    let verdict_colour = match fate.verdict {
        crate::trace::FateVerdict::Accept => "32;1",
        _ => "31;1",
    };
    out.push_str(&style.paint(verdict_colour, &fate.summary));
    out.push('\n');
    for i in &trace.insights {
        out.push_str(&style.paint("33", &format!("! {}", i.text)));
        out.push('\n');
    }
    out.push('\n');
    for (si, stage) in trace.stages.iter().enumerate() {
        let title = match &stage.kind {
            StageKind::Table { table } => format!("{} {}", table, stage.hook.map(|h| h.chain_name()).unwrap_or("")),
            StageKind::Conntrack => "conntrack".to_string(),
            StageKind::Routing => "routing decision".to_string(),
            StageKind::Deliver => "local delivery".to_string(),
            StageKind::Egress => "egress".to_string(),
            StageKind::Bridge => "bridge".to_string(),
            StageKind::Arrival => "arrival".to_string(),
        };
        let mark = match stage.status {
            StageStatus::Passed => style.paint("32", "▶"),
            StageStatus::Skipped => style.paint("2", "·"),
            StageStatus::Stopped => style.paint("31", "■"),
            StageStatus::Absent => style.paint("2", " "),
        };
        let note = if stage.note.is_empty() { String::new() } else { format!(" — {}", stage.note) };
        out.push_str(&format!("{mark} {}{}\n", style.paint("1", &title), style.paint("2", &note)));
        for (step_index, step) in trace.steps.iter().enumerate().filter(|(_, s)| s.stage == si) {
            let indent = "    ".repeat(step.depth as usize + 1);
            let line = step.span.map(|s| format!("line {}", s.line)).unwrap_or_default();
            let deciding = trace.deciding == Some(step_index);
            let head = match step.kind {
                StepKind::Rule => format!("{}:{} rule {}", step.table, step.chain, step.number),
                StepKind::Policy => format!("{}:{} policy", step.table, step.chain),
                StepKind::Return => format!("{}:{} end of chain", step.table, step.chain),
            };
            let status = if step.matched { style.paint("32", "match") } else { style.paint("2", "no match") };
            let target = step.target.as_deref().map(|t| format!(" -j {t}")).unwrap_or_default();
            let star = if deciding { style.paint("31;1", " ◀ decided") } else { String::new() };
            out.push_str(&format!("{indent}{head} ({line}){target}: {status}{star}\n"));
            if !step.matched {
                if let Some(c) = step.conditions.iter().find(|c| !c.holds) {
                    out.push_str(&format!("{indent}    {}: {}\n", c.text, style.paint("2", &c.why)));
                }
            } else if let Some(e) = &step.effect {
                out.push_str(&format!("{indent}    {}\n", style.paint("2", e)));
            }
        }
    }
    if !trace.changes.is_empty() {
        out.push_str("\nchanges:\n");
        for c in &trace.changes {
            out.push_str(&format!("  {}: {} -> {} ({})\n", c.what, c.from, c.to, c.note));
        }
    }
    if !trace.assumptions.is_empty() {
        out.push_str("\nassumptions:\n");
        for a in &trace.assumptions {
            let key = a.key.as_deref().map(|k| format!("[{k}] ")).unwrap_or_default();
            out.push_str(&format!("  {key}{}\n", a.text));
        }
    }
    out
}
