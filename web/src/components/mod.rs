//! The pieces of the page, each a function component with plain properties.

pub mod diagram;
pub mod editor;
pub mod findings;
pub mod header;
pub mod host;
pub mod packet;
pub mod player;
pub mod tracelog;
pub mod verdict;
pub mod walk;

use yew::prelude::*;

/// `v` as `v.to_string()` writes it, for the coordinates and sizes the views set. In the page, JavaScript
/// prints it (the same shortest digits for every value a view sets), so that the wasm carries no float
/// printing of its own; on the host, where the unit tests run, the standard library does.
pub fn number(v: f64) -> String {
    #[cfg(target_arch = "wasm32")]
    let text = js_sys::Number::from(v).to_string_with_radix(10).map(String::from).unwrap_or_default();
    #[cfg(not(target_arch = "wasm32"))]
    let text = v.to_string();
    text
}

/// A sentence from the core with its `quoted` parts (names, values, options) set as code. The parts stay
/// text nodes; a sentence with an odd number of backticks is shown as it is.
pub fn prose(text: &str) -> Html {
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
