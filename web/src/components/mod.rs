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
