//! The root component: it owns the state and the worker, runs the debounce, the player's clock and the
//! keyboard shortcuts, and wires the components together.

use crate::bridge::{Bridge, Job};
use crate::components::diagram::Diagram;
use crate::components::editor::{self, Band, Editor, EditorHandle, Mark};
use crate::components::findings::Findings;
use crate::components::header::Header;
use crate::components::host::HostInput;
use crate::components::packet::PacketInput;
use crate::components::player::Player;
use crate::components::tracelog::TraceLog;
use crate::components::verdict::Verdict;
use crate::components::walk::WalkView;
use crate::examples::{self, EXAMPLES, FIRST};
use crate::permalink::{self, Shared};
use crate::protocol::{Entry, Request};
use crate::state::{self, Action, Inputs, Playground, Shown, PACE_MS, SPEEDS};
use crate::storage;
use chainwalk_core::decimal::fixed;
use chainwalk_core::trace::FateVerdict;
use chainwalk_core::Span;
use gloo::events::EventListener;
use gloo::timers::callback::{Interval, Timeout};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::prelude::*;

/// How long the inputs must stay unchanged before they are read again, in milliseconds.
const DEBOUNCE_MS: u32 = 150;

/// The properties of [`App`].
#[derive(Clone, Debug, PartialEq, Properties)]
pub struct AppProps {
    /// The inputs of the permalink the page was opened with, if it was.
    pub opened: Option<Shared>,
    /// The last visit's dump, when storage kept it deflated (it was too big to keep as it is), inflated.
    pub kept_rules: Option<String>,
}

/// The whole page.
#[function_component]
pub fn App(props: &AppProps) -> Html {
    let (opened, kept_rules) = (props.opened.clone(), props.kept_rules.clone());
    let state = use_reducer(move || initial_state(opened, kept_rules));
    let editor = use_memo((), |_| EditorHandle::new());
    let editor = (*editor).clone();
    let permalink_note = use_state_eq(|| None::<String>);
    let bridge = {
        let (results, busy) = (state.dispatcher(), state.dispatcher());
        use_memo((), move |_| {
            Bridge::start(
                Callback::from(move |delivery| results.dispatch(Action::Result(Box::new(delivery)))),
                Callback::from(move |on| busy.dispatch(Action::Busy(on))),
            )
        })
    };

    // An example or a permalink gives the editor its text; otherwise the editor keeps its own.
    {
        let (editor, text) = (editor.clone(), state.dump.text.clone());
        use_effect_with(state.loaded, move |_| editor.load(text));
    }

    // The debounce: every edit restarts this effect, whose teardown cancels the previous timer. When the
    // timer fires, the editor's text is read (if it was typed in) and the inputs settle.
    {
        let (dispatcher, editor, dirty) = (state.dispatcher(), editor.clone(), state.rules_dirty);
        use_effect_with(state.edits, move |&edits| {
            let timer = (edits > 0).then(|| {
                forget_permalink();
                Timeout::new(DEBOUNCE_MS, move || {
                    let text = dirty.then(|| editor.read());
                    dispatcher.dispatch(Action::Settle(text));
                })
            });
            move || drop(timer)
        });
    }

    // Settled inputs go to the worker, and into storage.
    {
        let saved = use_mut_ref(|| 0u64);
        let job = Job {
            rules: state.dump.text.clone(),
            rules_version: state.dump.version,
            request: Request {
                seq: state.job,
                host: state.host.to_string(),
                packet: state.packet.to_string(),
                overrides: (*state.overrides).clone(),
                expand: (*state.expand).clone(),
            },
        };
        let bridge = bridge.clone();
        use_effect_with(state.job, move |_| {
            if *saved.borrow() != job.rules_version {
                *saved.borrow_mut() = job.rules_version;
                storage::save_rules(&job.rules);
            }
            storage::save_host_and_packet(&job.request.host, &job.request.packet);
            bridge.submit(job);
        });
    }

    // Typing the dump and leaving within the debounce still keeps what was typed.
    {
        let (editor, dirty) = (editor.clone(), state.rules_dirty);
        use_effect_with(dirty, move |&dirty| {
            let listener = dirty.then(|| {
                let window = web_sys::window()?;
                Some(EventListener::new(&window, "pagehide", move |_| storage::save_rules(&editor.read())))
            });
            move || drop(listener)
        });
    }

    // The player's clock.
    {
        let dispatcher = state.dispatcher();
        use_effect_with((state.playing, state.speed), move |&(playing, speed)| {
            let pace = (PACE_MS / SPEEDS[speed]) as u32;
            let clock = playing.then(|| Interval::new(pace, move || dispatcher.dispatch(Action::Tick)));
            move || drop(clock)
        });
    }

    // Space plays and pauses, the arrow keys step, except where the user types or a component already
    // used the key (the diagram's nodes move the focus with the arrows).
    {
        let dispatcher = state.dispatcher();
        use_effect_with((), move |_| {
            let listener = web_sys::window().and_then(|w| w.document()).map(|document| {
                EventListener::new(&document, "keydown", move |event| {
                    let Some(event) = event.dyn_ref::<KeyboardEvent>() else { return };
                    if event.ctrl_key() || event.meta_key() || event.alt_key() || event.default_prevented() {
                        return;
                    }
                    let target = event.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok());
                    if target.as_ref().is_some_and(editor::is_text_entry) {
                        return;
                    }
                    let on_control = target
                        .as_ref()
                        .is_some_and(|t| matches!(t.tag_name().as_str(), "BUTTON" | "SUMMARY" | "A" | "INPUT"));
                    let action = match event.key().as_str() {
                        " " if !on_control => Action::PlayPause,
                        "ArrowRight" => Action::Step(1),
                        "ArrowLeft" => Action::Step(-1),
                        _ => return,
                    };
                    event.prevent_default();
                    dispatcher.dispatch(action);
                })
            });
            move || drop(listener)
        });
    }

    // The player's step shows its rule in the editor (without taking the keyboard). Only a move of the
    // player does: a new answer while the user types leaves the caret alone.
    {
        let (editor, dump, shown) = (editor.clone(), state.dump.clone(), state.shown.clone());
        use_effect_with(state.cursor, move |cursor| {
            let span = cursor.zip(shown.as_ref()).and_then(|(c, s)| span_at(s, c));
            if let (Some(span), Some(s)) = (span, &shown) {
                if Rc::ptr_eq(&s.rules, &dump.text) {
                    editor.reveal(span, false);
                }
            }
        });
    }

    // The first walk on screen, for the browser tests' first-render measurement.
    {
        let walked = state.shown.as_ref().is_some_and(|s| s.walk().is_some());
        use_effect_with(walked, |&walked| {
            if walked {
                crate::clock::mark("chainwalk:first-walk");
            }
        });
    }

    // An answer on screen, for the browser tests' measurements: the render, and the whole trip from the
    // page's request (the marks are the bridge's).
    {
        let seq = state.shown.as_ref().map(|s| s.seq);
        use_effect_with(seq, |&seq| {
            if let Some(seq) = seq {
                crate::clock::measure("chainwalk:render", &format!("chainwalk:answer:{seq}"));
                crate::clock::measure("chainwalk:on-screen", &format!("chainwalk:post:{seq}"));
            }
        });
    }

    // The callbacks are made once, so that a keystroke re-renders only what its state change touches
    // (a new callback would make every component's properties differ).
    let callbacks = {
        let (dispatcher, editor) = (state.dispatcher(), editor.clone());
        use_memo((), move |_| Callbacks::new(dispatcher, editor))
    };
    let Callbacks {
        dispatch,
        onjump,
        onexample,
        onrules,
        onreplace,
        onhost,
        onpacket,
        onselect,
        onexpand,
        onoverride,
        onstyle,
    } = (*callbacks).clone();
    let onpermalink = {
        let (editor, host, packet, note) =
            (editor.clone(), state.host.clone(), state.packet.clone(), permalink_note.clone());
        use_callback((host, packet), move |(), (host, packet)| {
            let shared =
                Shared { rules: editor.read().to_string(), host: host.to_string(), packet: packet.to_string() };
            let note = note.clone();
            js_sys::futures::spawn_local(async move {
                if let Some(fragment) = permalink::encode(&shared).await {
                    note.set(Some(share(&fragment)));
                }
            });
        })
    };

    let shown = state.shown.clone();
    let current = shown.as_ref().filter(|s| Rc::ptr_eq(&s.rules, &state.dump.text));
    let marks = Rc::new(current.map(|s| marks_of(s)).unwrap_or_default());
    let bands = Rc::new(current.map(|s| bands_of(s, state.cursor)).unwrap_or_default());
    let summary = summary_of(shown.as_deref());
    let example = state.example.and_then(examples::by_id);
    let outcome = shown.as_ref().map(|s| &s.outcome);
    let assumed_host = outcome
        .and_then(|o| o.walk.as_ref())
        .and_then(|w| w.assumptions.iter().find(|a| a.key.is_none() && a.text.starts_with("No host")))
        .map(|a| a.text.clone());

    html! {
        <>
            <Header example={state.example} {onexample} {onpermalink} permalink_note={(*permalink_note).clone()} busy={state.busy} />
            <main class="page" data-settled={state.settled().to_string()}>
                <Verdict shown={shown.clone()} {example} notice={state.notice.clone()} onjump={onjump.clone()} />
                if let Some(s) = shown.as_ref().filter(|s| s.walk().is_some()) {
                    <section class="panel flow" aria-labelledby="flow-title">
                        <h2 id="flow-title" class="visually-hidden">{"The packet's path through netfilter"}</h2>
                        <Diagram shown={s.clone()} cursor={state.cursor} onselect={onselect.clone()} />
                        <Player cursor={state.cursor} count={state.moments()} playing={state.playing} speed={state.speed} dispatch={dispatch.clone()} />
                    </section>
                }
                <div class="columns">
                    <div class="column inputs">
                        <PacketInput line={state.packet.clone()} onchange={onpacket} error={outcome.and_then(|o| o.packet_error.clone())} />
                        <Editor handle={editor.clone()} dump={state.dump.clone()} {marks} {bands} oninput={onrules} {onreplace} {summary} />
                        <HostInput text={state.host.clone()} onchange={onhost} reading={outcome.map(|o| o.host.clone())} assumed={assumed_host} />
                    </div>
                    <div class="column results">
                        if let Some(s) = shown.as_ref().filter(|s| s.walk().is_some()) {
                            <WalkView shown={s.clone()} cursor={state.cursor} onselect={onselect.clone()} {onexpand} />
                        }
                        if let Some(s) = shown.as_ref() {
                            <Findings shown={s.clone()} onselect={onjump} {onoverride} />
                        }
                        if let Some(s) = shown.as_ref().filter(|s| s.walk().is_some()) {
                            <TraceLog shown={s.clone()} cursor={state.cursor} style={state.log_style} {onstyle} onselect={onselect.clone()} />
                        }
                    </div>
                </div>
            </main>
            if let Some(o) = outcome {
                // How long the worker took, for the browser tests and the budgets script.
                <div hidden=true data-testid="timing" data-seq={shown.as_ref().map(|s| s.seq.to_string())}
                    data-receive-ms={fixed(o.timing.receive_ms, 1)} data-parse-ms={fixed(o.timing.parse_ms, 1)}
                    data-index-ms={fixed(o.timing.index_ms, 1)} data-walk-ms={fixed(o.timing.walk_ms, 1)}
                    data-shape-ms={fixed(o.timing.shape_ms, 1)}></div>
            }
        </>
    }
}

/// The callbacks the components get, made once.
#[derive(Clone)]
struct Callbacks {
    dispatch: Callback<Action>,
    onjump: Callback<Span>,
    onexample: Callback<String>,
    onrules: Callback<()>,
    onreplace: Callback<String>,
    onhost: Callback<String>,
    onpacket: Callback<String>,
    onselect: Callback<usize>,
    onexpand: Callback<usize>,
    onoverride: Callback<(String, bool)>,
    onstyle: Callback<crate::state::LogStyle>,
}

impl Callbacks {
    fn new(dispatcher: UseReducerDispatcher<Playground>, editor: EditorHandle) -> Callbacks {
        let dispatch = Callback::from(move |action| dispatcher.dispatch(action));
        Callbacks {
            onjump: Callback::from(move |span: Span| editor.reveal(span, true)),
            onexample: dispatch.reform(|id: String| {
                let example = examples::by_id(&id).unwrap_or(FIRST);
                Action::Load(example.into(), Some(example.id))
            }),
            onrules: dispatch.reform(|()| Action::RulesTyped),
            onreplace: dispatch.reform(Action::ReplaceRules),
            onhost: dispatch.reform(Action::Host),
            onpacket: dispatch.reform(Action::Packet),
            onselect: dispatch.reform(Action::Select),
            onexpand: dispatch.reform(Action::Expand),
            onoverride: dispatch.reform(|(key, value)| Action::Override(key, value)),
            onstyle: dispatch.reform(Action::LogStyle),
            dispatch,
        }
    }
}

/// The state a visit starts with: the permalink's inputs (`opened`), else the last visit's (with its dump
/// from storage as it is, or `kept_rules`, inflated), else the first example.
fn initial_state(opened: Option<Shared>, kept_rules: Option<String>) -> Playground {
    if let Some(shared) = opened {
        let inputs = Inputs { rules: shared.rules, host: shared.host, packet: shared.packet };
        let example = example_of(&inputs);
        return Playground::new(inputs, example, None);
    }
    let kept = storage::load();
    if let Some(rules) = kept.rules.or(kept_rules) {
        let inputs = Inputs {
            rules,
            host: kept.host.unwrap_or_default(),
            packet: kept.packet.unwrap_or_else(|| FIRST.packet.trim_end().into()),
        };
        let example = example_of(&inputs);
        return Playground::new(inputs, example, None);
    }
    let notice = kept.too_big.map(|size| {
        format!(
            "Your last rules ({} MB) were too big for this browser's storage, so the first example is shown instead; paste them again.",
            fixed(size as f64 / 1e6, 1)
        )
    });
    Playground::new(FIRST.into(), if notice.is_none() { Some(FIRST.id) } else { None }, notice)
}

/// The example `inputs` are, if they are one.
fn example_of(inputs: &Inputs) -> Option<&'static str> {
    EXAMPLES.iter().find(|&&e| Inputs::from(e) == *inputs).map(|e| e.id)
}

/// Puts `fragment` in the page's address without reloading, copies the address, and says so.
fn share(fragment: &str) -> String {
    let Some(window) = web_sys::window() else { return String::new() };
    let location = window.location();
    let base = format!("{}{}", location.pathname().unwrap_or_default(), location.search().unwrap_or_default());
    let url = format!("{base}#{fragment}");
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
    let href = location.href().unwrap_or(url);
    let _ = window.navigator().clipboard().write_text(&href);
    let size = href.len();
    if size > 2_000_000 {
        format!("Link copied, but at {} MB it is longer than some browsers accept", fixed(size as f64 / 1e6, 1))
    } else {
        format!("Link copied ({} KB)", size.div_ceil(1000))
    }
}

/// Once the user changes an input, the address no longer holds the permalink they opened (a reload shows
/// what they typed, from storage).
fn forget_permalink() {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    if location.hash().is_ok_and(|h| h.starts_with("#s=")) {
        let url = format!("{}{}", location.pathname().unwrap_or_default(), location.search().unwrap_or_default());
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    }
}

/// The rule line a moment shows: its step's rule, or a run's first rule.
fn span_at(shown: &Shown, cursor: usize) -> Option<Span> {
    let walk = shown.walk()?;
    match state::entry_at(walk, *shown.moments.get(cursor)?)? {
        Entry::Step { step, .. } => step.span,
        Entry::Run(run) => run.span,
    }
}

/// The dump's findings as underlines.
fn marks_of(shown: &Shown) -> Vec<Mark> {
    shown
        .outcome
        .dump
        .diagnostics
        .iter()
        .map(|d| Mark { span: d.span, severity: d.severity, message: d.message.clone() })
        .collect()
}

/// The lines to colour: the deciding rule's, and the player's step's.
fn bands_of(shown: &Shown, cursor: Option<usize>) -> Vec<Band> {
    let Some(walk) = shown.walk() else { return Vec::new() };
    let mut bands = Vec::new();
    let deciding = walk.deciding.and_then(|d| {
        walk.entries.iter().find_map(|e| match e {
            Entry::Step { index, step } if *index == d => step.span,
            _ => None,
        })
    });
    if let Some(span) = deciding {
        let class = match walk.fate.verdict {
            FateVerdict::Drop | FateVerdict::Reject => "band-denied",
            _ if walk.insights.iter().any(|i| Some(i.step) == walk.deciding) => "band-skipped",
            _ => "band-accepted",
        };
        bands.push(Band { line: span.line, class });
    }
    if let Some(span) = cursor.and_then(|c| span_at(shown, c)) {
        bands.push(Band { line: span.line, class: "band-current" });
    }
    bands
}

/// The editor's summary of the reading: counts, or the number of errors.
fn summary_of(shown: Option<&Shown>) -> (String, bool) {
    let Some(dump) = shown.map(|s| &s.outcome.dump) else { return ("reading…".into(), false) };
    let count = |n: usize, noun: &str| match n {
        1 => format!("1 {noun}"),
        n => format!("{} {noun}s", crate::components::walk::thousands(n)),
    };
    if dump.errors > 0 {
        return (count(dump.errors, "error"), true);
    }
    (format!("{}, {}, {}", count(dump.tables, "table"), count(dump.chains, "chain"), count(dump.rules, "rule")), false)
}
