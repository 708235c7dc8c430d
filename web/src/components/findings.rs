//! What deserves a second look, apart from the walk: the dump's errors and warnings (each a button that
//! shows its place in the editor), and what the walk assumed, each assumption about a rule with a switch
//! that walks the packet again with the opposite answer.

use crate::components::prose;
use crate::state::Shown;
use chainwalk_core::{Diagnostic, Severity, Span};
use std::rc::Rc;
use yew::prelude::*;

/// Properties of [`Findings`].
#[derive(Properties, PartialEq)]
pub struct FindingsProps {
    /// The last answer.
    pub shown: Rc<Shown>,
    /// Called with a finding's place in the dump.
    pub onselect: Callback<Span>,
    /// Called with a rule's key and the answer to assume for it.
    pub onoverride: Callback<(String, bool)>,
}

/// The findings panel.
#[function_component]
pub fn Findings(props: &FindingsProps) -> Html {
    let dump = &props.shown.outcome.dump;
    let assumptions = props.shown.outcome.walk.as_ref().map(|w| w.assumptions.as_slice()).unwrap_or_default();
    let errors: Vec<&Diagnostic> = dump.diagnostics.iter().filter(|d| d.is_error()).collect();
    let warnings: Vec<&Diagnostic> = dump.diagnostics.iter().filter(|d| !d.is_error()).collect();
    let more = dump.errors + dump.warnings - dump.diagnostics.len();
    html! {
        <section class="panel findings" aria-labelledby="findings-title">
            <div class="panel-head">
                <h2 id="findings-title">{"Findings"}</h2>
                <span class="meta">{format!("{}, {}, {}", count(dump.errors, "error"), count(dump.warnings, "warning"), count(assumptions.len(), "assumption"))}</span>
            </div>
            if errors.is_empty() && warnings.is_empty() && assumptions.is_empty() {
                <p class="empty">{"No errors, no warnings, nothing assumed."}</p>
            }
            if !errors.is_empty() {
                <h3 class="findings-kind">{"Errors"}</h3>
                <ul class="diagnostics" data-testid="errors">
                    { for errors.iter().enumerate().map(|(i, d)| item(i, d, &props.onselect)) }
                </ul>
            }
            if !assumptions.is_empty() {
                <h3 class="findings-kind">{"Assumptions"}</h3>
                <ul class="assumptions" data-testid="assumptions">
                    { for assumptions.iter().enumerate().map(|(i, a)| {
                        let toggle = a.key.clone().zip(a.matched).map(|(key, matched)| {
                            let onchange = props.onoverride.reform({ let key = key.clone(); move |_: Event| (key.clone(), !matched) });
                            let id = format!("assume-{i}");
                            html! {
                                <label class="switch" for={id.clone()}>
                                    <input type="checkbox" role="switch" id={id} checked={matched} {onchange} data-key={key} />
                                    <span class="switch-track" aria-hidden="true"></span>
                                    <span>{ a.question.as_deref().map_or_else(|| "assume it matches".to_string(), |q| format!("assume {q}")) }</span>
                                </label>
                            }
                        });
                        html! {
                            <li key={i} class="assumption" data-testid="assumption">
                                <span class="assumption-text">{prose(&a.text)}</span>
                                { for toggle }
                            </li>
                        }
                    }) }
                </ul>
            }
            if !warnings.is_empty() {
                <h3 class="findings-kind">{"Warnings"}</h3>
                <ul class="diagnostics" data-testid="warnings">
                    { for warnings.iter().enumerate().map(|(i, d)| item(i, d, &props.onselect)) }
                </ul>
            }
            if more > 0 {
                <p class="help">{format!("… and {more} more, not listed here.")}</p>
            }
        </section>
    }
}

/// "1 error", "2 errors".
fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{} {noun}s", crate::components::walk::thousands(n)),
    }
}

/// One finding: `LINE:COL error: message`, and the hint under it.
fn item(index: usize, d: &Diagnostic, onselect: &Callback<Span>) -> Html {
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let span = d.span;
    let onclick = onselect.reform(move |_: MouseEvent| span);
    html! {
        <li key={index} class={classes!("diagnostic", severity)} data-testid="diagnostic"
            data-line={span.line.to_string()} data-col={span.col.to_string()}>
            <button type="button" {onclick} title={format!("Show line {} in the rules", span.line)}>
                <span class="diagnostic-head">
                    <span class="position">{format!("{}:{}", span.line, span.col)}</span>
                    {" "}<span class="severity">{severity}</span>{": "}
                    <span class="message">{prose(&d.message)}</span>
                </span>
                if let Some(hint) = &d.hint {
                    <span class="hint">{"hint: "}{prose(hint)}</span>
                }
            </button>
        </li>
    }
}
