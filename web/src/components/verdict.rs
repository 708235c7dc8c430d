//! The answer in plain words at the top of the page: what happened to the packet and, when a rule skipped
//! something the user probably expected, what it skipped; the packet's changes; or, when an input cannot be
//! read, where the first error is.

use crate::components::prose;
use crate::examples::Example;
use crate::state::Shown;
use chainwalk_core::trace::FateVerdict;
use chainwalk_core::Span;
use std::rc::Rc;
use yew::prelude::*;

/// Properties of [`Verdict`].
#[derive(Properties, PartialEq)]
pub struct VerdictProps {
    /// The last answer.
    pub shown: Option<Rc<Shown>>,
    /// The example the inputs are, if they are one.
    pub example: Option<Example>,
    /// A note about the inputs the page started with.
    pub notice: Option<String>,
    /// Called with a position in the dump to show.
    pub onjump: Callback<Span>,
}

/// The verdict banner.
#[function_component]
pub fn Verdict(props: &VerdictProps) -> Html {
    let (tone, icon, body) = match &props.shown {
        None => ("pending", "…", html! { <p class="verdict-text" data-testid="verdict">{"Reading the rules…"}</p> }),
        Some(shown) => banner(shown, &props.onjump),
    };
    html! {
        <section class={classes!("verdict", tone)} aria-labelledby="verdict-title" aria-live="polite">
            <h2 id="verdict-title" class="visually-hidden">{"Verdict"}</h2>
            <div class="verdict-icon" aria-hidden="true">{icon}</div>
            <div class="verdict-body">
                { body }
                if let Some(notice) = &props.notice {
                    <p class="verdict-about">{notice.clone()}</p>
                }
                if let Some(e) = &props.example {
                    <p class="verdict-about"><strong>{e.title}{". "}</strong>{prose(e.about)}</p>
                }
            </div>
        </section>
    }
}

/// The tone (CSS class), icon and text for an answer.
fn banner(shown: &Shown, onjump: &Callback<Span>) -> (&'static str, &'static str, Html) {
    let outcome = &shown.outcome;
    if let Some(failure) = &outcome.failure {
        return ("blocked", "!", html! { <p class="verdict-text" data-testid="verdict">{failure.clone()}</p> });
    }
    if let Some(first) = outcome.dump.diagnostics.iter().find(|d| d.is_error()) {
        let span = first.span;
        let count = match outcome.dump.errors {
            1 => "an error".to_string(),
            n => format!("{n} errors"),
        };
        let text = html! {
            <p class="verdict-text" data-testid="verdict">
                {format!("The rules have {count}, so there is no walk. ")}
                <button type="button" class="link" onclick={onjump.reform(move |_: MouseEvent| span)}>
                    {format!("Line {}, column {}", span.line, span.col)}
                </button>
                {": "}{prose(&first.message)}
            </p>
        };
        return ("blocked", "!", text);
    }
    if let Some(e) = outcome.host.errors.first() {
        let text = format!("The host text has an error at line {}: {}", e.span.line, e.message);
        return ("blocked", "!", html! { <p class="verdict-text" data-testid="verdict">{text}</p> });
    }
    if let Some(e) = &outcome.packet_error {
        let text = format!("The packet cannot be read (column {}): {}", e.span.col, e.message);
        return ("blocked", "!", html! { <p class="verdict-text" data-testid="verdict">{text}</p> });
    }
    let Some(walk) = &outcome.walk else {
        return ("pending", "…", html! { <p class="verdict-text" data-testid="verdict">{"No walk."}</p> });
    };
    let skipped = walk.insights.iter().any(|i| Some(i.step) == walk.deciding);
    let (tone, icon) = match walk.fate.verdict {
        FateVerdict::Drop | FateVerdict::Reject => ("denied", "✕"),
        _ if skipped => ("skipped", "!"),
        FateVerdict::Accept => ("accepted", "✓"),
        FateVerdict::Queue => ("accepted", "⇢"),
        FateVerdict::Undecided => ("skipped", "?"),
    };
    let text = html! {
        <>
            <p class="verdict-text" data-testid="verdict">
                <span class="verdict-fate">{walk.fate.summary.clone()}</span>
                { for walk.insights.iter().map(|i| html! { <>{" "}<span class="verdict-insight">{prose(&i.text)}</span></> }) }
            </p>
            if !walk.changes.is_empty() {
                <ul class="changes" aria-label="Changes to the packet" data-testid="changes">
                    { for walk.changes.iter().map(|c| html! {
                        <li class="change" title={c.note.clone()}>
                            <span class="change-what">{c.what.clone()}</span>
                            <code>{c.from.clone()}</code><span aria-label="becomes">{" → "}</span><code>{c.to.clone()}</code>
                        </li>
                    }) }
                </ul>
            }
        </>
    };
    (tone, icon, text)
}
