//! The host: its interfaces, addresses, routes and forwarding, pasted from `ip -br addr`, `ip route` and
//! `sysctl`. Without one, chainwalk assumes a host and the page says so.

use crate::protocol::HostReading;
use std::rc::Rc;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// Properties of [`HostInput`].
#[derive(Properties, PartialEq)]
pub struct HostProps {
    /// The host text.
    pub text: Rc<str>,
    /// Called with the new text on every edit.
    pub onchange: Callback<String>,
    /// What the worker read from it, once it has.
    pub reading: Option<HostReading>,
    /// What the walk assumed instead, when no host is given.
    pub assumed: Option<String>,
}

/// The host textarea, with what was read from it or what was assumed.
#[function_component]
pub fn HostInput(props: &HostProps) -> Html {
    let oninput = props.onchange.reform(|e: InputEvent| e.target_unchecked_into::<HtmlTextAreaElement>().value());
    let rows = props.text.lines().count().clamp(4, 14).to_string();
    html! {
        <section class="panel host" aria-labelledby="host-label">
            <div class="panel-head">
                <label id="host-label" for="host-input">{"Host"}</label>
            </div>
            <textarea
                id="host-input"
                data-testid="host-input"
                class="host-text"
                value={AttrValue::from(props.text.clone())}
                {oninput}
                {rows}
                wrap="off"
                spellcheck="false"
                autocomplete="off"
                autocapitalize="off"
                placeholder={"# ip -br addr\neth0  UP  198.51.100.2/24\n# ip route\ndefault via 198.51.100.1 dev eth0\n# sysctl\nnet.ipv4.ip_forward = 1"}
                aria-describedby="host-note"
            />
            <div id="host-note">{ note(props) }</div>
        </section>
    }
}

fn note(props: &HostProps) -> Html {
    let Some(reading) = &props.reading else { return Html::default() };
    if !reading.given {
        return html! {
            <p class="note assumed" data-testid="host-assumed">
                <strong>{"No host given: "}</strong>
                {
                    props.assumed.as_deref().map(|a| a.trim_start_matches("No host was given: ").to_string())
                        .unwrap_or_else(|| "chainwalk assumes one: the packet's destination is an address of its input interface.".into())
                }
                {" Paste "}<code>{"ip -br addr"}</code>{", "}<code>{"ip route"}</code>{" and "}<code>{"sysctl net.ipv4.ip_forward"}</code>
                {" from the host for routing, forwarding and MASQUERADE as it really does them."}
            </p>
        };
    }
    if !reading.errors.is_empty() {
        return html! {
            <ul class="input-errors" role="alert">
                { for reading.errors.iter().map(|e| html! {
                    <li><span class="position">{format!("line {}", e.span.line)}</span>{" "}{e.message.clone()}</li>
                }) }
            </ul>
        };
    }
    let routes = match reading.routes {
        1 => "1 route".to_string(),
        n => format!("{n} routes"),
    };
    html! {
        <p class="help host-read">
            { for reading.interfaces.iter().map(|i| html! { <code class="chip">{i.clone()}</code> }) }
            <span>{routes}</span>
            <span>{ if reading.forwarding { "forwarding on" } else { "forwarding off" } }</span>
        </p>
    }
}
