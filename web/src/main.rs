//! chainwalk's web playground: paste an `iptables-save` dump and see what chainwalk-core reads from it.
//!
//! The page is a thin view over the core, in the manner of the Rust and ruff playgrounds: the core parses,
//! this crate only keeps the text, asks the core to read it (debounced while typing) and renders what comes
//! back. There is no netfilter knowledge here.
//!
//! Map: [`app`] is the root component and owns the state ([`state`]); [`components`] are the pieces of the
//! page; [`storage`] keeps the text across reloads.

mod app;
mod components;
mod state;
mod storage;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
