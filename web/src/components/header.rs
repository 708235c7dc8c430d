//! The page header: the name and what the page is for.

use yew::prelude::*;

/// The top bar.
#[function_component]
pub fn Header() -> Html {
    html! {
        <header class="site-header">
            <div class="site-header-inner">
                <h1 class="brand">
                    <img class="brand-mark" src="static/favicon.svg" alt="" width="28" height="28" />
                    {"chainwalk"}
                </h1>
                <p class="tagline">
                    {"Paste an iptables-save dump and see the tables, chains and rules netfilter would load, \
                      and what iptables-restore would refuse."}
                </p>
            </div>
        </header>
    }
}
