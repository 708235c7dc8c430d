//! The root component: it owns the state, runs the debounce and wires the components together.

use crate::components::diagnostics::Diagnostics;
use crate::components::editor::{self, Editor};
use crate::components::header::Header;
use crate::components::ruleset::RulesetView;
use crate::components::summary::Summary;
use crate::state::{Action, Playground, Reading, EXAMPLE};
use crate::storage;
use chainwalk_core::Span;
use gloo::events::EventListener;
use gloo::timers::callback::Timeout;
use std::rc::Rc;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// How long the text must stay unchanged before the core reads it again, in milliseconds.
const DEBOUNCE_MS: u32 = 150;

/// The whole page.
#[function_component]
pub fn App() -> Html {
    let state = use_reducer(|| Playground::new(storage::load().unwrap_or_else(|| EXAMPLE.to_string())));
    let textarea = use_node_ref();

    // The debounce: every edit restarts this effect, whose teardown cancels the previous timer. When the
    // timer fires, the core reads the text and the text is stored; leaving the page before that stores it
    // too. The text as loaded (no edit yet) needs neither.
    {
        let dispatcher = state.dispatcher();
        let text = state.text.clone();
        use_effect_with(state.edits, move |&edits| {
            let pending = (edits > 0).then(|| {
                let saved = text.clone();
                let timer = Timeout::new(DEBOUNCE_MS, move || {
                    dispatcher.dispatch(Action::Read);
                    storage::save(&saved);
                });
                let on_leave = web_sys::window()
                    .map(|window| EventListener::new(&window, "pagehide", move |_| storage::save(&text)));
                (timer, on_leave)
            });
            move || drop(pending)
        });
    }

    let oninput = {
        let dispatcher = state.dispatcher();
        Callback::from(move |text: String| dispatcher.dispatch(Action::Edit(text)))
    };
    let onexample = {
        let dispatcher = state.dispatcher();
        Callback::from(move |()| dispatcher.dispatch(Action::Edit(EXAMPLE.to_string())))
    };
    let onselect = {
        let textarea = textarea.clone();
        use_callback(state.reading.clone(), move |span: Span, reading: &Rc<Reading>| {
            if let Some(element) = textarea.cast::<HtmlTextAreaElement>() {
                editor::reveal(&element, &reading.source, span);
            }
        })
    };

    html! {
        <>
            <Header />
            <main class="page">
                <Editor value={state.text.clone()} {oninput} {onexample} node_ref={textarea} />
                <Summary reading={state.reading.clone()} reading_current={state.is_current()} />
                <Diagnostics reading={state.reading.clone()} onselect={onselect.clone()} />
                <RulesetView reading={state.reading.clone()} {onselect} />
            </main>
        </>
    }
}
