//! chainwalk's web playground: paste an `iptables-save` dump, describe a packet and a host, and watch the
//! packet's walk through netfilter with the rule that decided its fate.
//!
//! The page is a thin view over the core, in the manner of the Rust and ruff playgrounds: the core parses
//! and walks, this crate keeps the inputs, asks a worker to run the core on them and renders what comes
//! back. There is no netfilter knowledge here.
//!
//! Map: [`app`] is the root component and owns the state ([`state`]); [`components`] are the pieces of the
//! page; [`bridge`] talks to the worker, which is this same binary started in a dedicated worker
//! ([`worker`]) running [`analysis`]; [`protocol`] is what they say to each other and [`wire`] how it is
//! encoded; [`timeline`] turns a walk into the player's moments and diagram places; [`storage`] and
//! [`permalink`] keep and share the inputs, in the little JSON of [`json`]; [`examples`] is the examples
//! menu; the core's `packet_text` writes the packet form back as a line.

mod analysis;
mod app;
mod bridge;
mod clock;
mod components;
mod examples;
mod json;
mod permalink;
mod protocol;
mod state;
mod storage;
mod timeline;
mod wire;
mod worker;

fn main() {
    // The page and its worker run the same wasm: with a window this is the page, without one the worker.
    if let Some(window) = web_sys::window() {
        // A permalink, or a dump storage kept deflated, is inflated first (the browser's inflater answers
        // asynchronously), so that the page starts with its inputs.
        let hash = window.location().hash().unwrap_or_default();
        js_sys::futures::spawn_local(async move {
            let opened = permalink::decode(&hash).await;
            let kept_rules = if opened.is_none() { storage::deflated_rules().await } else { None };
            yew::Renderer::<app::App>::with_props(app::AppProps { opened, kept_rules }).render();
        });
    } else {
        worker::serve();
    }
}
