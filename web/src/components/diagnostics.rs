//! The findings the core reported, each one a button that shows its place in the dump.

use crate::state::Reading;
use chainwalk_core::{Diagnostic, Severity, Span};
use std::rc::Rc;
use yew::prelude::*;

/// Properties of [`Diagnostics`].
#[derive(Properties, PartialEq)]
pub struct DiagnosticsProps {
    /// The core's last reading.
    pub reading: Rc<Reading>,
    /// Called with a finding's span when the user picks it.
    pub onselect: Callback<Span>,
}

/// The list of errors and warnings, in the order of the lines they are about.
#[function_component]
pub fn Diagnostics(props: &DiagnosticsProps) -> Html {
    let diagnostics = &props.reading.parsed.diagnostics;
    html! {
        <section class="panel findings" aria-labelledby="findings-title">
            <div class="panel-head">
                <h2 id="findings-title">{"Findings"}</h2>
            </div>
            if diagnostics.is_empty() {
                <p class="empty">{"No errors or warnings."}</p>
            }
            <ul class="diagnostics" data-testid="diagnostics">
                { for diagnostics.iter().enumerate().map(|(i, d)| item(i, d, &props.onselect)) }
            </ul>
        </section>
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
        <li
            key={index}
            class={classes!("diagnostic", severity)}
            data-testid="diagnostic"
            data-line={span.line.to_string()}
            data-col={span.col.to_string()}
        >
            <button type="button" {onclick} title={format!("Show line {} in the dump", span.line)}>
                <span class="diagnostic-head">
                    <span class="position">{format!("{}:{}", span.line, span.col)}</span>
                    {" "}
                    <span class="severity">{severity}</span>
                    {": "}
                    <span class="message">{prose(&d.message)}</span>
                </span>
                if let Some(hint) = &d.hint {
                    {" "}
                    <span class="hint">{"hint: "}{prose(hint)}</span>
                }
            </button>
        </li>
    }
}

/// A sentence from the core with its `quoted` parts (names, values, options) set as code. The parts stay
/// text nodes; a sentence with an odd number of backticks is shown as it is.
fn prose(text: &str) -> Html {
    if text.matches('`').count() % 2 == 1 {
        return html! { text.to_string() };
    }
    let parts = text.split('`').enumerate().map(|(i, part)| {
        if i % 2 == 1 {
            html! { <code>{part.to_string()}</code> }
        } else {
            html! { part.to_string() }
        }
    });
    parts.collect()
}
