//! The host: its interfaces, addresses, routes and forwarding, pasted from `ip -br addr`, `ip route` and
//! `sysctl`, or edited as a small table. Both views edit the same text; the core's `host_text` reads it
//! into rows and writes edited rows back. Without a host, chainwalk assumes one and the page says so.

use crate::components::prose;
use crate::protocol::HostReading;
use chainwalk_core::host_text::{HostTable, RowKind};
use chainwalk_core::Family;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement, HtmlTextAreaElement, KeyboardEvent};
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

/// The host as text or as a table, with what was read from it or what was assumed.
#[function_component]
pub fn HostInput(props: &HostProps) -> Html {
    let table = use_state_eq(|| false);
    let model = use_mut_ref(Model::default);
    let redraw = use_force_update();
    {
        let model = model.clone();
        use_effect(move || {
            let id = model.borrow_mut().focus.take();
            let element = id.and_then(|id| web_sys::window()?.document()?.get_element_by_id(&id));
            if let Some(e) = element.and_then(|e| e.dyn_into::<HtmlElement>().ok()) {
                let _ = e.focus();
            }
        });
    }
    let view = |as_table: bool, label: &'static str| {
        let table = table.clone();
        html! {
            <button type="button" class={classes!("tab", (*table == as_table).then_some("selected"))}
                aria-pressed={(*table == as_table).to_string()} onclick={move |_: MouseEvent| table.set(as_table)}>{label}</button>
        }
    };
    let oninput = props.onchange.reform(|e: InputEvent| e.target_unchecked_into::<HtmlTextAreaElement>().value());
    let rows = props.text.lines().count().clamp(4, 14).to_string();
    html! {
        <section class="panel host" aria-labelledby="host-label">
            <div class="panel-head">
                <label id="host-label" for="host-input">{"Host"}</label>
                <div class="tabs" role="group" aria-label="Edit the host as">
                    { view(true, "Table") }
                    { view(false, "Text") }
                </div>
            </div>
            if *table {
                { host_table(props, &model, redraw) }
            }
            <textarea
                hidden={*table}
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
                {" Paste "}<code>{"ip -br addr"}</code>{", "}<code>{"ip route"}</code>{" (and "}<code>{"ip rule"}</code>{") and "}<code>{"sysctl net.ipv4.ip_forward"}</code>
                {" from the host for routing, forwarding and MASQUERADE as it really does them, and "}
                <code>{"ipset list"}</code>{" for the sets its rules look up."}
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

/// A value the table refused for a cell: what was typed and why.
struct Refusal {
    row: usize,
    col: usize,
    value: String,
    why: String,
}

/// What the table view keeps between renders: the table, the text it was read from or last wrote, the
/// last refusal, and the cell or button to focus after the next render.
#[derive(Default)]
struct Model {
    text: Option<Rc<str>>,
    table: HostTable,
    refused: Option<Refusal>,
    focus: Option<String>,
}

/// The host as tables of interfaces and routes and two forwarding switches. A cell commits on Enter, Tab or
/// leaving it, and Escape puts back what it held; a value the core refuses stays in its cell with the
/// reason. A text changed elsewhere is read again; rows added and not yet named live only here.
///
/// The table's controls say what they are by their ids (`hc-ROW-COL` a cell, `hr-ROW` a row's remove
/// button, `ha-KIND` an add button, `hf-4`/`hf-6` a forwarding switch), so that one handler serves them all.
fn host_table(props: &HostProps, model: &Rc<RefCell<Model>>, redraw: UseForceUpdateHandle) -> Html {
    {
        let mut m = model.borrow_mut();
        if m.text.as_deref() != Some(&*props.text) {
            *m = Model { text: Some(props.text.clone()), table: HostTable::read(&props.text), ..Model::default() };
        }
    }
    let handle = {
        let (model, onchange) = (model.clone(), props.onchange.clone());
        Rc::new(move |e: &Event| {
            let Some(target) = e.target().and_then(|t| t.dyn_into::<HtmlElement>().ok()) else { return };
            let (id, kind) = (target.id(), e.type_());
            let key = e.dyn_ref::<KeyboardEvent>().map(KeyboardEvent::key);
            let input = target.unchecked_ref::<HtmlInputElement>();
            let (what, rest) = id.split_at(id.len().min(3));
            let numbers: Vec<usize> = rest.split('-').filter_map(|n| n.parse().ok()).collect();
            let mut m = model.borrow_mut();
            match (what, kind.as_str(), key.as_deref(), numbers.as_slice()) {
                ("hc-", "change", _, &[row, col]) | ("hc-", "keydown", Some("Enter"), &[row, col]) => {
                    let value = input.value();
                    m.refused =
                        m.table.set(row, col, &value).err().map(|why| Refusal { row, col, value: value.clone(), why });
                }
                ("hc-", "keydown", Some("Escape"), &[row, col]) => {
                    input.set_value(m.table.rows().get(row).and_then(|r| r.cells().get(col)).map_or("", |c| c));
                    m.refused = None;
                }
                ("hr-", "click", _, &[row]) if row < m.table.rows().len() => {
                    let kind = m.table.rows()[row].kind();
                    m.table.remove(row);
                    m.refused = None;
                    // The focus stays in the list: on the row that took this one's place, else on "add".
                    let next = m.table.rows().get(row).is_some_and(|r| r.kind() == kind);
                    m.focus = Some(if next { id } else { add_id(kind).into() });
                }
                ("ha-", "click", _, _) => {
                    let row = m.table.add(if rest == "route" { RowKind::Route } else { RowKind::Interface });
                    m.focus = Some(format!("hc-{row}-0"));
                }
                ("hf-", "change", _, &[family]) => {
                    let family = if family == 6 { Family::Ipv6 } else { Family::Ipv4 };
                    m.table.set_forwarding(family, input.checked());
                }
                _ => return,
            }
            if key.is_some() {
                e.prevent_default();
            }
            let text = m.table.write();
            if m.text.as_deref() != Some(text.as_str()) {
                m.text = Some(text.as_str().into());
                onchange.emit(text);
            }
            drop(m);
            redraw.force_update();
        })
    };
    let m = model.borrow();
    let cell = |row: usize, col: usize, value: &str, name: &str| {
        let refused = m.refused.as_ref().filter(|r| r.row == row && r.col == col);
        let error = refused.map(|r| r.why.clone()).or_else(|| m.table.error(row, col));
        let id = format!("hc-{row}-{col}");
        let why = error.as_ref().map(|_| format!("{id}-why"));
        let column = m.table.rows()[row].kind().columns()[col];
        let value = refused.map_or(value, |r| r.value.as_str());
        html! {
            <td colspan={(column == "other attributes").then_some("3")}>
                <input {id} class="cell" value={value.to_string()} placeholder={column} size={(value.len() + 1).clamp(6, 40).to_string()}
                    aria-label={format!("{column} of {name}")} aria-invalid={error.as_ref().map(|_| "true")}
                    aria-describedby={why.clone()} spellcheck="false" autocomplete="off" />
                if let Some(error) = error {
                    <span id={why} class="cell-error">{prose(&error)}</span>
                }
            </td>
        }
    };
    let group = |kind: RowKind, title: &'static str| {
        let rows = m.table.rows().iter().enumerate().filter(|(_, r)| r.kind() == kind).map(|(i, r)| {
            let cells = r.cells();
            let name = if cells[0].is_empty() { format!("the new {}", &add_id(kind)[3..]) } else { cells[0].clone() };
            html! {
                // A route's other attributes are long: they get a line of their own under the rest.
                <>
                    <tr class={classes!((kind == RowKind::Route).then_some("has-more"))}>
                        { for cells.iter().take(3).enumerate().map(|(c, v)| cell(i, c, v, &name)) }
                        <td rowspan={(kind == RowKind::Route).then_some("2")}><button type="button" id={format!("hr-{i}")}
                            class="icon-button remove" aria-label={format!("Remove {name}")}>{"✕"}</button></td>
                    </tr>
                    if let Some(other) = cells.get(3) {
                        <tr class="more">{ cell(i, 3, other, &name) }</tr>
                    }
                </>
            }
        });
        html! {
            <>
                <table class="host-rows">
                    <caption>{title}</caption>
                    <thead><tr>
                        { for kind.columns().iter().take(3).map(|c| html! { <th scope="col">{*c}</th> }) }
                        <th><span class="visually-hidden">{"Remove"}</span></th>
                    </tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
                <button type="button" id={add_id(kind)} class="button small">{format!("Add {}", &add_id(kind)[3..])}</button>
            </>
        }
    };
    let switch = |family: Family| {
        let v = if family == Family::Ipv4 { "4" } else { "6" };
        html! {
            <label class="switch">
                <input type="checkbox" id={format!("hf-{v}")} checked={m.table.forwarding(family)} />
                <span class="switch-track" aria-hidden="true"></span>{format!("IPv{v} forwarding")}
            </label>
        }
    };
    let kept: Vec<(usize, &str)> = m.table.kept().collect();
    let (h1, h2, h3) = (handle.clone(), handle.clone(), handle);
    html! {
        <div class="host-table" data-testid="host-table" onchange={move |e: Event| h1(&e)}
            onkeydown={move |e: KeyboardEvent| h2(&e)} onclick={move |e: MouseEvent| h3(&e)}>
            { group(RowKind::Interface, "Interfaces") }
            { group(RowKind::Route, "Routes") }
            <div class="forwarding">{ switch(Family::Ipv4) }{ switch(Family::Ipv6) }</div>
            if !kept.is_empty() {
                <div class="kept" data-testid="host-kept">
                    <p class="help">{format!("Kept as written (the table cannot show {}):", if kept.len() == 1 { "it" } else { "them" })}</p>
                    <ul>
                        { for kept.iter().take(KEPT_SHOWN).map(|(line, text)| html! {
                            <li><span class="position">{format!("line {line}")}</span>{" "}<code>{text.to_string()}</code></li>
                        }) }
                    </ul>
                    if kept.len() > KEPT_SHOWN {
                        <p class="help">{format!("and {} more lines; see Text.", kept.len() - KEPT_SHOWN)}</p>
                    }
                </div>
            }
        </div>
    }
}

/// The id of the button that adds a row of `kind`.
fn add_id(kind: RowKind) -> &'static str {
    if kind == RowKind::Route {
        "ha-route"
    } else {
        "ha-interface"
    }
}

/// How many kept lines the table lists (a host with ipsets can have thousands).
const KEPT_SHOWN: usize = 8;
