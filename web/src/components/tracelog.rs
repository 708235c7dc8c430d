//! The kernel's TRACE log of the walk, as the legacy `ip_tables` TRACE target writes it to the kernel log
//! or as `xtables-monitor --trace` prints it for the nf_tables backend, with a button that copies it.
//! The line of the player's step is marked. Where the dump has its own `-j TRACE` rule for the packet, the
//! log starts where the kernel's would, after that rule; the lines before it can be shown too.

use crate::protocol::{Entry, LogEntry, Walk};
use crate::state::{LogStyle, Shown};
use crate::timeline::{moment_of_step, Moment};
use gloo::timers::callback::Timeout;
use std::rc::Rc;
use yew::prelude::*;

/// Properties of [`TraceLog`].
#[derive(Properties, PartialEq)]
pub struct TraceLogProps {
    /// The answer whose log is shown.
    pub shown: Rc<Shown>,
    /// The player's moment.
    pub cursor: Option<usize>,
    /// Which style is shown.
    pub style: LogStyle,
    /// Called with the style the user picks.
    pub onstyle: Callback<LogStyle>,
    /// Called with the moment of a line the user clicks.
    pub onselect: Callback<usize>,
}

/// The log panel.
#[function_component]
pub fn TraceLog(props: &TraceLogProps) -> Html {
    let copied = use_state_eq(|| false);
    let from_start = use_state_eq(|| false);
    let Some(walk) = props.shown.walk() else { return Html::default() };
    let current = props.cursor.and_then(|c| props.shown.moments.get(c)).and_then(|&m| step_range(walk, m));
    let legacy = props.style == LogStyle::Legacy;
    // With a TRACE rule of its own, the dump decides where the kernel starts logging; the walk can also
    // show the lines before it, as if the packet were marked before the raw table.
    let marked = walk.marked.filter(|&(m, _)| m > 0);
    let (log, nft) = match marked {
        Some((m, n)) if !*from_start => (&walk.log[m.min(walk.log.len())..], &walk.nft[n.min(walk.nft.len())..]),
        _ => (&walk.log[..], &walk.nft[..]),
    };
    let marker = marked.and_then(|(m, _)| walk.log[m - 1].text.split(' ').nth(1)).unwrap_or_default().to_string();
    let text = |lines: &[LogEntry]| lines.iter().map(|l| format!("{}\n", l.text)).collect::<String>();
    let oncopy = {
        let (copied, text) = (copied.clone(), if legacy { text(log) } else { text(nft) });
        Callback::from(move |_: MouseEvent| {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&text);
                copied.set(true);
                let copied = copied.clone();
                Timeout::new(1500, move || copied.set(false)).forget();
            }
        })
    };
    let lines = |lines: &[LogEntry]| {
        lines
            .iter()
            .map(|l| {
                let here = current.is_some_and(|(a, b)| (a..=b).contains(&l.step));
                let onclick = moment_of_step(walk, &props.shown.moments, l.step)
                    .map(|m| props.onselect.reform(move |_: MouseEvent| m));
                let title = l.copy.then_some("The copy the TEE rule made, which the kernel traces as it walks it");
                html! {
                    <span class={classes!("log-line", here.then_some("current"), l.copy.then_some("copy"))} {title} {onclick}>
                        {l.text.clone()}{"\n"}
                    </span>
                }
            })
            .collect::<Html>()
    };
    let tab = |style: LogStyle, label: &'static str| {
        let selected = props.style == style;
        html! {
            <button type="button" role="tab" class={classes!("tab", selected.then_some("selected"))}
                aria-selected={selected.to_string()} aria-controls={if style == LogStyle::Legacy { "log-legacy" } else { "log-nft" }}
                onclick={props.onstyle.reform(move |_: MouseEvent| style)}>{label}</button>
        }
    };
    html! {
        <section class="panel log" aria-labelledby="log-title">
            <div class="panel-head">
                <h2 id="log-title">{"TRACE log"}</h2>
                <div class="tabs" role="tablist" aria-label="Log style">
                    { tab(LogStyle::Legacy, "legacy") }
                    { tab(LogStyle::Nft, "nf_tables") }
                </div>
                <button type="button" class="button" onclick={oncopy} data-testid="copy-log">
                    { if *copied { "Copied" } else { "Copy" } }
                </button>
            </div>
            if log.is_empty() {
                <p class="empty">{"The kernel prints no TRACE line for this packet."}</p>
            }
            <pre id="log-legacy" class="log-text" role="tabpanel" data-testid="trace-log" hidden={!legacy}>{ lines(log) }</pre>
            <pre id="log-nft" class="log-text" role="tabpanel" data-testid="trace-log-nft" hidden={legacy}>{ lines(nft) }</pre>
            <p class="help">
                if marked.is_some() && !*from_start {
                    {"What the kernel logs with this dump as it is: its own "}<code>{"-j TRACE"}</code>
                    {format!(" rule ({marker}) marks the packet, and every rule and chain end after it is logged. ")}
                } else {
                    {"What the kernel logs when the packet is marked for tracing before the raw table, as an nftables chain at priority -400 with "}
                    <code>{"meta nftrace set 1"}</code>{" does. "}
                    if walk.marked.is_none() {
                        {"No "}<code>{"-j TRACE"}</code>{" rule of this dump marks this packet, so with the dump as it is the kernel logs nothing for it. "}
                    }
                }
                if marked.is_some() {
                    <button type="button" class="link" data-testid="trace-from"
                        onclick={{ let f = from_start.clone(); Callback::from(move |_: MouseEvent| f.set(!*f)) }}>
                        { if *from_start { "Show the kernel's log from the dump's TRACE rule" } else { "Show the lines before it too" } }
                    </button>
                }
            </p>
        </section>
    }
}

/// The steps a moment covers.
fn step_range(walk: &Walk, moment: Moment) -> Option<(usize, usize)> {
    match moment {
        Moment::Entry(e) => match walk.entries.get(e)? {
            Entry::Step { index, .. } => Some((*index, *index)),
            Entry::Run(run) => Some((run.first, run.last)),
        },
        Moment::Stage(_) => None,
    }
}
