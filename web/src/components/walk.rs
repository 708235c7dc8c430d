//! The walk, stage by stage: every rule the packet met, as the dump writes it, matched or not, nested by
//! the jumps and gotos that led to its chain. Opening a rule shows each condition and why it held or not.
//! The deciding rule is marked (red when it dropped or rejected the packet, amber when it skipped something
//! the user probably expected, with the sentence saying what), and long runs of rules that did not match
//! are folded into one line.

use crate::components::prose;
use crate::protocol::{Entry, Run, Walk};
use crate::state::Shown;
use crate::timeline::Moment;
use chainwalk_core::trace::{FateVerdict, StageKind, StageStatus, Step, StepKind};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use yew::prelude::*;

/// Properties of [`WalkView`].
#[derive(Properties, PartialEq)]
pub struct WalkProps {
    /// The answer whose walk is listed.
    pub shown: Rc<Shown>,
    /// The player's moment.
    pub cursor: Option<usize>,
    /// Called with the moment the user picked.
    pub onselect: Callback<usize>,
    /// Called with the first step of a folded run the user opened.
    pub onexpand: Callback<usize>,
}

/// The list of stages and their rules.
#[function_component]
pub fn WalkView(props: &WalkProps) -> Html {
    let list = use_node_ref();
    // Keep the player's moment in view inside the list (without scrolling the page).
    {
        let list = list.clone();
        use_effect_with((props.cursor, props.shown.seq), move |(cursor, _)| {
            if let (Some(cursor), Some(list)) = (cursor, list.cast::<HtmlElement>()) {
                let selector = format!("[data-moment=\"{cursor}\"]");
                if let Some(row) =
                    list.query_selector(&selector).ok().flatten().and_then(|e| e.dyn_into::<HtmlElement>().ok())
                {
                    let (top, height) = (f64::from(row.offset_top()), f64::from(row.offset_height()));
                    let (view, view_height) = (f64::from(list.scroll_top()), f64::from(list.client_height()));
                    if top < view || top + height > view + view_height {
                        list.set_scroll_top((top - view_height / 3.0).max(0.0) as i32);
                    }
                }
            }
        });
    }
    let Some(walk) = props.shown.walk() else { return Html::default() };
    let moments = &props.shown.moments;
    let mut entry_moment = HashMap::new();
    let mut stage_moment = HashMap::new();
    for (i, m) in moments.iter().enumerate() {
        match *m {
            Moment::Entry(e) => entry_moment.insert(e, i),
            Moment::Stage(s) => stage_moment.insert(s, i),
        };
    }
    let ctx =
        Ctx { walk, shown: &props.shown, cursor: props.cursor, onselect: &props.onselect, onexpand: &props.onexpand };

    let mut stages = Vec::new();
    let mut next = 0;
    for (s, stage) in walk.stages.iter().enumerate() {
        let start = next;
        while next < walk.entries.len() && walk.entries[next].stage() == s {
            next += 1;
        }
        let status = match stage.status {
            StageStatus::Passed => "passed",
            StageStatus::Skipped => "skipped",
            StageStatus::Stopped => "stopped",
            StageStatus::Absent => "absent",
        };
        let name = match (&stage.kind, stage.hook) {
            (StageKind::Table { table }, Some(hook)) => format!("{table} {hook}"),
            (StageKind::Table { table }, None) => table.to_string(),
            (StageKind::Conntrack, _) => "conntrack".into(),
            (StageKind::Routing, _) => "routing decision".into(),
            (StageKind::Bridge, _) => "bridge decision".into(),
            (StageKind::Deliver, _) => "local delivery".into(),
            (StageKind::Egress, _) => "leaves the host".into(),
            (StageKind::Arrival, _) => "arrival".into(),
        };
        let own_moment = stage_moment.get(&s).copied();
        let head_class = classes!(
            "stage-head",
            own_moment.is_some().then_some("selectable"),
            (own_moment.is_some() && own_moment == props.cursor).then_some("current")
        );
        let head = match own_moment {
            Some(m) => html! {
                <button type="button" class={head_class} data-moment={m.to_string()} onclick={props.onselect.reform(move |_: MouseEvent| m)}>
                    <span class="stage-name">{name}</span>
                    <span class="stage-note">{prose(&stage.note)}</span>
                </button>
            },
            None => html! {
                <div class={head_class}>
                    <span class="stage-name">{name}</span>
                    <span class="stage-note">{prose(&stage.note)}</span>
                </div>
            },
        };
        let mut rows = Vec::new();
        let mut chain_shown: Option<(chainwalk_core::ruleset::TableName, &str, u32)> = None;
        for e in start..next {
            let entry = &walk.entries[e];
            let (table, chain) = entry.chain();
            if chain_shown != Some((table, chain, entry.depth())) {
                if entry.depth() > 0 {
                    rows.push(html! {
                        <li class="chain-label" data-depth={entry.depth().min(8).to_string()} aria-hidden="true">
                            {"↳ "}<code>{chain.to_string()}</code>
                        </li>
                    });
                }
                chain_shown = Some((table, chain, entry.depth()));
            }
            let moment = entry_moment.get(&e).copied();
            rows.push(match entry {
                Entry::Step { index, step } => ctx.step(*index, step, moment),
                Entry::Run(run) => ctx.run(run, moment),
            });
        }
        stages.push(html! {
            <li class={classes!("stage", status)} data-status={status}>
                { head }
                if !rows.is_empty() {
                    <ol class="steps">{ for rows }</ol>
                }
            </li>
        });
    }
    let note = (!walk.explained).then(|| {
        html! {
            <p class="help">
                {"This dump is big, so only the rules whose addresses, interfaces and protocol fit the packet say why they did not match. Open a folded run to see why each of its rules did not."}
            </p>
        }
    });
    html! {
        <section class="panel walk" aria-labelledby="walk-title">
            <div class="panel-head">
                <h2 id="walk-title">{"The walk"}</h2>
                <span class="meta">{format!("{} steps", thousands(walk.steps))}</span>
            </div>
            { for note }
            <ol class="stages" ref={list} data-testid="walk">{ for stages }</ol>
        </section>
    }
}

struct Ctx<'a> {
    walk: &'a Walk,
    shown: &'a Shown,
    cursor: Option<usize>,
    onselect: &'a Callback<usize>,
    onexpand: &'a Callback<usize>,
}

impl Ctx<'_> {
    fn step(&self, index: usize, step: &Step, moment: Option<usize>) -> Html {
        let deciding = self.walk.deciding == Some(index);
        let insight = self.walk.insights.iter().find(|i| i.step == index);
        let tone = if !deciding {
            None
        } else if matches!(self.walk.fate.verdict, FateVerdict::Drop | FateVerdict::Reject) {
            Some("denied")
        } else if insight.is_some() {
            Some("skipped")
        } else {
            Some("accepted")
        };
        let line = step.span.map(|s| s.line);
        let text = match step.kind {
            StepKind::Rule => step
                .span
                .and_then(|s| self.shown.source(s.range()))
                .map(str::to_string)
                .unwrap_or_else(|| format!("rule {}", step.number)),
            StepKind::Policy => {
                format!("policy {}", step.effect.as_deref().map_or("", |e| e.trim_start_matches("policy ")))
            }
            StepKind::Return => "end of chain: back to the calling chain".into(),
        };
        let number = match step.kind {
            StepKind::Rule => step.number.to_string(),
            StepKind::Policy => "policy".into(),
            StepKind::Return => "end".into(),
        };
        let class = classes!(
            "step",
            if step.matched { "matched" } else { "unmatched" },
            tone.map(|t| format!("deciding {t}")),
            (moment.is_some() && moment == self.cursor).then_some("current")
        );
        let onclick = moment.map(|m| self.onselect.reform(move |_: MouseEvent| m));
        let assumed = step.conditions.iter().any(|c| c.assumed);
        let title = format!(
            "{} {} {}{}",
            step.table,
            step.chain,
            match step.kind {
                StepKind::Rule => format!("rule {}", step.number),
                StepKind::Policy => "policy".into(),
                StepKind::Return => "end".into(),
            },
            line.map_or(String::new(), |l| format!(", line {l}"))
        );
        let (testid, table, chain, rule, data_line) = if deciding {
            (
                Some("deciding-rule"),
                Some(step.table.to_string()),
                Some(step.chain.to_string()),
                Some(step.number.to_string()),
                line.map(|l| l.to_string()),
            )
        } else {
            (None, None, None, None, None)
        };
        html! {
            <li {class} data-moment={moment.map(|m| m.to_string())} data-depth={step.depth.min(8).to_string()}
                data-testid={testid} data-table={table} data-chain={chain} data-rule={rule} data-line={data_line}>
                <details open={deciding}>
                    <summary {onclick} title={title}>
                        <span class="step-number">{number}</span>
                        <code class="step-text">{text}</code>
                        <span class="step-result">
                            if assumed { <span class="badge assumed" title="this answer rests on an assumption">{"assumed"}</span> }
                            { if step.matched { html! { <span class="badge match">{"match"}</span> } } else { html! { <span class="badge nomatch">{"no match"}</span> } } }
                        </span>
                        <span class="step-line">{line.map(|l| format!("line {l}")).unwrap_or_default()}</span>
                    </summary>
                    <div class="step-body">
                        if step.conditions.is_empty() && step.kind == StepKind::Rule && !step.matched {
                            <p class="help">{"Its addresses, interfaces or protocol do not fit the packet."}</p>
                        }
                        if !step.conditions.is_empty() {
                            <ul class="conditions">
                                { for step.conditions.iter().map(|c| html! {
                                    <li class={classes!("condition", if c.holds { "holds" } else { "fails" })}>
                                        <span class="condition-mark" aria-label={if c.holds { "holds" } else { "does not hold" }}>{ if c.holds { "✓" } else { "✗" } }</span>
                                        <code>{c.text.clone()}</code>
                                        <span class="why">{prose(&c.why)}</span>
                                        if c.assumed { <span class="badge assumed">{"assumed"}</span> }
                                    </li>
                                }) }
                            </ul>
                        }
                        if let Some(effect) = &step.effect {
                            <p class="effect">{prose(effect)}</p>
                        }
                    </div>
                </details>
                if let (true, Some(i)) = (deciding, insight) {
                    <p class="insight">{prose(&i.text)}</p>
                }
            </li>
        }
    }

    fn run(&self, run: &Run, moment: Option<usize>) -> Html {
        let first = run.first;
        let onexpand = self.onexpand.reform(move |_: MouseEvent| first);
        let onclick = moment.map(|m| self.onselect.reform(move |_: MouseEvent| m));
        let class = classes!("step", "run", (moment.is_some() && moment == self.cursor).then_some("current"));
        html! {
            <li {class} data-testid="run" data-moment={moment.map(|m| m.to_string())} data-depth={run.depth.min(8).to_string()}>
                <div class="run-body">
                    <button type="button" class="run-text" {onclick}>
                        <strong>{format!("{} rules did not match", thousands(run.len()))}</strong>
                        <span class="meta">
                            {format!(
                                " · rules {}–{} of {}, lines {}–{}",
                                thousands(run.numbers.0 as usize),
                                thousands(run.numbers.1 as usize),
                                run.chain,
                                thousands(run.lines.0 as usize),
                                thousands(run.lines.1 as usize)
                            )}
                        </span>
                    </button>
                    <button type="button" class="button small" onclick={onexpand}>
                        { if run.len() > crate::analysis::OPEN_AT_ONCE { format!("Show the first {}", thousands(crate::analysis::OPEN_AT_ONCE)) } else { "Show them".to_string() } }
                    </button>
                </div>
            </li>
        }
    }
}

/// `8430` as `8,430`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(
            [thousands(0), thousands(999), thousands(1000), thousands(8430), thousands(1234567)],
            ["0", "999", "1,000", "8,430", "1,234,567"]
        );
    }
}
