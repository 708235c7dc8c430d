//! The top bar: the name, the examples menu, the permalink button and the progress indicator.

use crate::examples::EXAMPLES;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// Properties of [`Header`].
#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// The example the inputs are, if they are one.
    pub example: Option<&'static str>,
    /// Called with the id of the example the user picks.
    pub onexample: Callback<String>,
    /// Called when the user asks for a permalink.
    pub onpermalink: Callback<()>,
    /// What became of the last permalink ("Link copied").
    pub permalink_note: Option<String>,
    /// Whether work has been going on for a while.
    pub busy: bool,
}

/// The top bar.
#[function_component]
pub fn Header(props: &HeaderProps) -> Html {
    let onchange = props.onexample.reform(|e: Event| e.target_unchecked_into::<HtmlSelectElement>().value());
    let onpermalink = props.onpermalink.reform(|_: MouseEvent| ());
    html! {
        <header class="site-header">
            <div class="site-header-inner">
                <h1 class="brand">
                    <img class="brand-mark" src="static/favicon.svg" alt="" width="28" height="28" />
                    {"chainwalk"}
                </h1>
                <p class="tagline">{"Which netfilter rule decided this packet's fate, and why."}</p>
                <div class="header-tools">
                    <span class={classes!("busy", props.busy.then_some("on"))} role="status" data-testid="busy"
                        aria-live="polite" aria-busy={props.busy.to_string()}>
                        if props.busy { <span class="spinner" aria-hidden="true"></span>{"Working…"} }
                    </span>
                    <label class="examples">
                        <span class="examples-label">{"Example"}</span>
                        <select {onchange} data-testid="examples">
                            <option value="" selected={props.example.is_none()} disabled=true>{"Your own input"}</option>
                            { for EXAMPLES.iter().map(|e| html! {
                                <option value={e.id} selected={props.example == Some(e.id)}>{e.title}</option>
                            }) }
                        </select>
                    </label>
                    <button type="button" class="button primary" onclick={onpermalink} data-testid="permalink"
                        title="Put the rules, host and packet in this page's address (after #, which is never sent to a server) and copy it">
                        {"Copy link"}
                    </button>
                    <span class="permalink-note" role="status" aria-live="polite">{props.permalink_note.clone().unwrap_or_default()}</span>
                </div>
            </div>
        </header>
    }
}
