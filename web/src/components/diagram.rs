//! The netfilter diagram: the hooks with their tables in the kernel's order, the two routing decisions,
//! the local process and the wire, drawn in SVG the way the well-known packet-flow picture draws them.
//! The packet's path lights up as the player moves along it; a skipped stage is drawn dashed and its title
//! says why; the stage where the packet's walk ended is red.
//!
//! The nodes the packet visited are one tab stop (a roving tabindex): the arrow keys, Home and End move
//! between them in the walk's order, and Enter or Space selects a node's first step, as a click does.

use crate::components::number;
use crate::protocol::{Entry, Walk};
use crate::state::Shown;
use crate::timeline::{node_of, stage_of, visits, Moment, Node};
use chainwalk_core::ruleset::{Hook, TableName};
use chainwalk_core::trace::{FateVerdict, StageKind, StageStatus, StepKind};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::prelude::*;

/// Properties of [`Diagram`].
#[derive(Properties, PartialEq)]
pub struct DiagramProps {
    /// The answer whose walk is drawn.
    pub shown: Rc<Shown>,
    /// The player's moment, or `None` for the whole walk.
    pub cursor: Option<usize>,
    /// Called with the first moment of a stage the user clicked.
    pub onselect: Callback<usize>,
}

/// A box in the diagram.
struct Place {
    node: Node,
    label: &'static str,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Place {
    fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Where the packet sits when it is here: at the left end, clear of the label.
    fn dot(&self) -> (f64, f64) {
        let inset = match self.node {
            Node::Table(..) | Node::Conntrack(_) => 12.0,
            // On the left edge of a diamond or an end, whose labels fill them.
            _ => 0.0,
        };
        (self.x + inset, self.y + self.h / 2.0)
    }
}

/// A hook's frame and its tables, top to bottom.
struct Frame {
    hook: Hook,
    x: f64,
    y: f64,
    tables: &'static [Option<TableName>],
}

const PILL_W: f64 = 134.0;
const PILL_H: f64 = 20.0;
const PILL_STEP: f64 = 24.0;
const FRAME_W: f64 = 150.0;
const FRAME_HEAD: f64 = 30.0;

/// `None` in a frame's tables is connection tracking.
const FRAMES: [Frame; 5] = [
    Frame {
        hook: Hook::Prerouting,
        x: 84.0,
        y: 14.0,
        tables: &[Some(TableName::Raw), None, Some(TableName::Mangle), Some(TableName::Nat)],
    },
    Frame {
        hook: Hook::Forward,
        x: 350.0,
        y: 14.0,
        tables: &[Some(TableName::Mangle), Some(TableName::Filter), Some(TableName::Security)],
    },
    Frame { hook: Hook::Postrouting, x: 690.0, y: 14.0, tables: &[Some(TableName::Mangle), Some(TableName::Nat)] },
    Frame {
        hook: Hook::Input,
        x: 215.0,
        y: 186.0,
        tables: &[Some(TableName::Mangle), Some(TableName::Filter), Some(TableName::Security), Some(TableName::Nat)],
    },
    Frame {
        hook: Hook::Output,
        x: 690.0,
        y: 150.0,
        tables: &[
            Some(TableName::Raw),
            None,
            Some(TableName::Mangle),
            Some(TableName::Nat),
            Some(TableName::Filter),
            Some(TableName::Security),
        ],
    },
];

fn frame_height(f: &Frame) -> f64 {
    FRAME_HEAD + f.tables.len() as f64 * PILL_STEP + 4.0
}

/// Every place a stage can be drawn at.
fn places() -> Vec<Place> {
    let mut out = vec![
        Place { node: Node::Ingress, label: "in", x: 2.0, y: 54.0, w: 70.0, h: 50.0 },
        Place { node: Node::RouteIn, label: "routing", x: 264.0, y: 53.0, w: 52.0, h: 52.0 },
        Place { node: Node::Egress, label: "out", x: 880.0, y: 54.0, w: 112.0, h: 50.0 },
        Place { node: Node::Local, label: "local process", x: 410.0, y: 226.0, w: 140.0, h: 50.0 },
        Place { node: Node::RouteOut, label: "routing", x: 574.0, y: 225.0, w: 52.0, h: 52.0 },
    ];
    for f in &FRAMES {
        for (i, table) in f.tables.iter().enumerate() {
            let (node, label) = match table {
                Some(t) => (Node::Table(f.hook, *t), t.as_str()),
                None => (Node::Conntrack(f.hook), "conntrack"),
            };
            let x = f.x + (FRAME_W - PILL_W) / 2.0;
            out.push(Place { node, label, x, y: f.y + FRAME_HEAD + i as f64 * PILL_STEP, w: PILL_W, h: PILL_H });
        }
    }
    out
}

/// The group a node belongs to, for the arrows between groups.
fn group(node: Node) -> &'static str {
    match node {
        Node::Ingress => "in",
        Node::Table(Hook::Prerouting, _) | Node::Conntrack(Hook::Prerouting) => "pre",
        Node::RouteIn => "rin",
        Node::Table(Hook::Forward, _) => "fwd",
        Node::Table(Hook::Postrouting, _) => "post",
        Node::Egress => "out",
        Node::Table(Hook::Input, _) => "input",
        Node::Local => "local",
        Node::RouteOut => "rout",
        Node::Table(Hook::Output, _) | Node::Conntrack(_) => "output",
    }
}

/// An arrow between two groups of places, and the line it is drawn as (`x1 y1 x2 y2`).
struct Arrow {
    from: &'static str,
    to: &'static str,
    line: [f64; 4],
}

const ARROWS: [Arrow; 10] = [
    Arrow { from: "in", to: "pre", line: [72.0, 79.0, 83.0, 79.0] },
    Arrow { from: "pre", to: "rin", line: [234.0, 79.0, 263.0, 79.0] },
    Arrow { from: "rin", to: "fwd", line: [316.0, 79.0, 349.0, 79.0] },
    Arrow { from: "fwd", to: "post", line: [500.0, 79.0, 689.0, 79.0] },
    Arrow { from: "post", to: "out", line: [840.0, 79.0, 879.0, 79.0] },
    Arrow { from: "rin", to: "input", line: [290.0, 105.0, 290.0, 185.0] },
    Arrow { from: "input", to: "local", line: [365.0, 251.0, 409.0, 251.0] },
    Arrow { from: "local", to: "rout", line: [550.0, 251.0, 573.0, 251.0] },
    Arrow { from: "rout", to: "output", line: [626.0, 251.0, 689.0, 251.0] },
    Arrow { from: "output", to: "post", line: [765.0, 150.0, 765.0, 97.0] },
];

/// The diagram with the packet on its path.
#[function_component]
pub fn Diagram(props: &DiagramProps) -> Html {
    let dot = use_node_ref();
    let focused = use_state_eq(|| None::<Node>);
    let places = places();
    let place_of = |node: Node| places.iter().find(|p| p.node == node);
    let walk = props.shown.walk();
    let moments = &props.shown.moments;
    // The stages reached so far: all of them, or up to the player's moment.
    let current_stage = walk.and_then(|w| props.cursor.and_then(|c| moments.get(c)).map(|&m| stage_of(w, m)));
    let nodes: Vec<Node> = walk.map(|w| (0..w.stages.len()).map(|s| node_of(w, s)).collect()).unwrap_or_default();
    let reached = current_stage.map_or(nodes.len(), |s| s + 1);
    // Where the packet is: the current stage's place, or the last stage reached.
    let here = current_stage.or(nodes.len().checked_sub(1)).and_then(|s| place_of(nodes[s]));
    {
        let dot = dot.clone();
        let at = here.map(Place::dot);
        use_effect_with(at.map(|(x, y)| (x as i64, y as i64)), move |_| {
            if let (Some(g), Some((x, y))) = (dot.cast::<web_sys::SvgElement>(), at) {
                // Through the CSS object model, so that the move is a transition (and the page's
                // Content-Security-Policy, which refuses style attributes, allows it).
                let _ = g.style().set_property("transform", &format!("translate({}px, {}px)", number(x), number(y)));
            }
        });
    }
    let Some(walk) = walk else { return Html::default() };

    // The groups the packet passed, in order, for the arrows.
    let mut groups: Vec<&str> = Vec::new();
    match nodes.first().map(|&n| group(n)) {
        Some("rout" | "output" | "local") => groups.push("local"),
        Some(_) => groups.push("in"),
        None => {}
    }
    for &n in &nodes[..reached] {
        if groups.last() != Some(&group(n)) {
            groups.push(group(n));
        }
    }
    let lit = |from: &str, to: &str| groups.windows(2).any(|w| w[0] == from && w[1] == to);

    // The nodes the packet visited, in the walk's order, each with the first moment it shows; the tab stop
    // is the one last focused, else the player's, else the first.
    let visited = visits(walk, moments);
    let stop = focused
        .filter(|n| visited.iter().any(|v| v.0 == *n))
        .or(current_stage.map(|s| nodes[s]))
        .or(visited.first().map(|v| v.0));
    let order: Rc<Vec<String>> = Rc::new(visited.iter().map(|v| node_id(v.0)).collect());

    let deciding_stage = walk.deciding.and_then(|d| {
        walk.entries.iter().find_map(|e| match e {
            crate::protocol::Entry::Step { index, step } if *index == d => Some(step.stage),
            _ => None,
        })
    });
    let deciding_tone = match walk.fate.verdict {
        FateVerdict::Drop | FateVerdict::Reject => "deciding-denied",
        _ if walk.insights.iter().any(|i| Some(i.step) == walk.deciding) => "deciding-skipped",
        _ => "deciding-accepted",
    };

    let frames = FRAMES.iter().map(|f| {
        let h = frame_height(f);
        let on_path = nodes[..reached].iter().any(|n| matches!(n, Node::Table(hook, _) | Node::Conntrack(hook) if *hook == f.hook));
        html! {
            <g class={classes!("frame", on_path.then_some("on-path"))}>
                <rect x={number(f.x)} y={number(f.y)} width={number(FRAME_W)} height={number(h)} rx="10" />
                <text class="frame-title" x={number(f.x + FRAME_W / 2.0)} y={number(f.y + 19.0)}>{f.hook.chain_name()}</text>
            </g>
        }
    });
    let arrows = ARROWS.iter().map(|Arrow { from, to, line: [x1, y1, x2, y2] }| {
        html! {
            <line class={classes!("arrow", lit(from, to).then_some("lit"))}
                x1={number(*x1)} y1={number(*y1)} x2={number(*x2)} y2={number(*y2)}
                marker-end={if lit(from, to) { "url(#arrowhead-lit)" } else { "url(#arrowhead)" }} />
        }
    });
    let boxes = places.iter().map(|p| {
        // The stages drawn at this place (a node can be met twice: e.g. OUTPUT's rerouting).
        let stages: Vec<usize> = (0..walk.stages.len()).filter(|&s| nodes[s] == p.node).collect();
        let mut class = classes!("node", node_kind(p.node));
        let mut title = describe(p.node);
        if let Some(&s) = stages.iter().rev().find(|&&s| s < reached).or(stages.first()) {
            let stage = &walk.stages[s];
            if s >= reached {
                class.push("ahead");
            } else {
                class.push(match stage.status {
                    StageStatus::Passed => "passed",
                    StageStatus::Skipped => "skipped",
                    StageStatus::Stopped => "stopped",
                    StageStatus::Absent => "absent",
                });
            }
            if Some(s) == current_stage {
                class.push("current");
            }
            if Some(s) == deciding_stage {
                class.push(deciding_tone);
            }
            title = format!("{title}: {}", stage.note);
        } else if matches!(p.node, Node::Ingress | Node::Local) && groups.first() == Some(&group(p.node)) {
            // Where the packet comes from: the network, or a local process that sends it.
            class.push("passed");
        } else {
            class.push("idle");
        }
        let first_moment = stages.first().and_then(|&s| moments.iter().position(|&m| stage_of(walk, m) == s));
        let onclick = first_moment.map(|m| props.onselect.reform(move |_: MouseEvent| m));
        let stop_here = visited.iter().position(|v| v.0 == p.node).map(|k| {
            let (order, onselect, first, focused, node) =
                (order.clone(), props.onselect.clone(), visited[k].1, focused.clone(), p.node);
            let onkeydown = Callback::from(move |e: KeyboardEvent| {
                let to = match e.key().as_str() {
                    "ArrowRight" | "ArrowDown" => (k + 1).min(order.len() - 1),
                    "ArrowLeft" | "ArrowUp" => k.saturating_sub(1),
                    "Home" => 0,
                    "End" => order.len() - 1,
                    "Enter" | " " => {
                        e.prevent_default();
                        return onselect.emit(first);
                    }
                    _ => return,
                };
                e.prevent_default();
                let selector = format!("[data-node='{}']", order[to]);
                let target = web_sys::window().and_then(|w| w.document()?.query_selector(&selector).ok()?);
                if let Some(g) = target.and_then(|t| t.dyn_into::<web_sys::SvgElement>().ok()) {
                    let _ = g.focus();
                }
            });
            let label = format!(
                "{}, step {} of {}: {}",
                describe(node),
                first + 1,
                moments.len(),
                moment_words(walk, moments[first])
            );
            let onfocus = Callback::from(move |_: FocusEvent| focused.set(Some(node)));
            (if stop == Some(node) { "0" } else { "-1" }, label, onkeydown, onfocus)
        });
        let (tabindex, label_for, onkeydown, onfocus) = match stop_here {
            Some((t, l, k, f)) => (Some(t), Some(l), Some(k), Some(f)),
            None => (None, None, None, None),
        };
        let label = match p.node {
            Node::Egress => walk.fate.out.as_deref().map_or("out".to_string(), |o| format!("out {o}")),
            Node::Ingress => walk.in_iface.as_deref().map_or("in".to_string(), |i| format!("in {i}")),
            // A bridged packet meets the bridge's decision where a routed one meets routing.
            Node::RouteIn if stages.iter().any(|&s| walk.stages[s].kind == StageKind::Bridge) => "bridge".to_string(),
            _ => p.label.to_string(),
        };
        let (cx, cy) = p.center();
        let shape = match p.node {
            Node::RouteIn | Node::RouteOut => html! {
                <polygon points={{
                    let (cx, cy) = (number(cx), number(cy));
                    format!("{cx},{} {},{cy} {cx},{} {},{cy}", number(p.y), number(p.x + p.w), number(p.y + p.h), number(p.x))
                }} />
            },
            _ => {
                let r = if matches!(p.node, Node::Table(..) | Node::Conntrack(_)) { 6 } else { 12 };
                html! { <rect x={number(p.x)} y={number(p.y)} width={number(p.w)} height={number(p.h)} rx={r.to_string()} /> }
            }
        };
        let text_y = if matches!(p.node, Node::RouteIn | Node::RouteOut) { cy + 3.5 } else { cy + 4.5 };
        html! {
            <g {class} {onclick} {onkeydown} {onfocus} {tabindex} role={label_for.as_ref().map(|_| "button")}
                aria-label={label_for} data-node={node_id(p.node)}>
                <title>{title}</title>
                { shape }
                <text x={number(cx)} y={number(text_y)}>{label}</text>
            </g>
        }
    });
    let path_words: Vec<String> = nodes[..reached].iter().map(|&n| describe(n)).collect();
    let aria = format!("The packet's path: {}.", path_words.join(", then "));
    html! {
        <svg class="diagram" viewBox="0 0 1000 334" role="group" aria-label={aria} data-testid="diagram">
            <defs>
                <marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                    <path class="arrowhead" d="M0,0 L10,5 L0,10 z" />
                </marker>
                <marker id="arrowhead-lit" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                    <path class="arrowhead lit" d="M0,0 L10,5 L0,10 z" />
                </marker>
            </defs>
            { for frames }
            { for arrows }
            { for boxes }
            if here.is_some() {
                <g class="packet-dot" ref={dot} aria-hidden="true"
                    transform={here.map(|p| { let (x, y) = p.dot(); format!("translate({} {})", number(x), number(y)) })}>
                    <circle r="7" />
                </g>
            }
        </svg>
    }
}

fn node_kind(node: Node) -> &'static str {
    match node {
        Node::Table(..) => "table",
        Node::Conntrack(_) => "conntrack",
        Node::RouteIn | Node::RouteOut => "routing",
        Node::Ingress | Node::Egress | Node::Local => "end",
    }
}

/// A stable name for a node, for tests and styles (`nat-PREROUTING`, `routing-in`).
fn node_id(node: Node) -> String {
    match node {
        Node::Ingress => "ingress".into(),
        Node::Table(hook, table) => format!("{table}-{}", hook.chain_name()),
        Node::Conntrack(hook) => format!("conntrack-{}", hook.chain_name()),
        Node::RouteIn => "routing-in".into(),
        Node::RouteOut => "routing-out".into(),
        Node::Local => "local".into(),
        Node::Egress => "egress".into(),
    }
}

/// A node in words.
fn describe(node: Node) -> String {
    match node {
        Node::Ingress => "arrives from the network".into(),
        Node::Table(hook, table) => format!("{table} {}", hook.chain_name()),
        Node::Conntrack(_) => "connection tracking".into(),
        Node::RouteIn => "routing decision".into(),
        Node::RouteOut => "routing decision (local output)".into(),
        Node::Local => "local process".into(),
        Node::Egress => "leaves to the network".into(),
    }
}

/// The first step a node shows, in words: `rule 1 ACCEPT`, `policy ACCEPT`, or what the stage did.
fn moment_words(walk: &Walk, moment: Moment) -> String {
    match moment {
        Moment::Entry(e) => match &walk.entries[e] {
            Entry::Step { step, .. } => {
                let chain = if step.depth > 0 { format!("{} ", step.chain) } else { String::new() };
                match step.kind {
                    StepKind::Rule => format!(
                        "{chain}rule {} {}{}",
                        step.number,
                        step.target.as_deref().unwrap_or("without a target"),
                        if step.matched { "" } else { ", no match" }
                    ),
                    _ => format!("{chain}{}", step.effect.as_deref().unwrap_or("end of the chain")),
                }
            }
            Entry::Run(run) => format!("rules {} to {} of {} did not match", run.numbers.0, run.numbers.1, run.chain),
        },
        Moment::Stage(s) => walk.stages[s].note.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{run, Inputs};
    use crate::examples::FIRST;
    use crate::timeline::moments;

    #[test]
    fn each_visited_node_says_its_first_step() {
        let parsed = chainwalk_core::parse(FIRST.rules, None);
        let inputs = Inputs { host: FIRST.host, packet: FIRST.packet, overrides: &[], expand: &[] };
        let walk = run(&parsed, inputs).walk.expect("a walk");
        let moments = moments(&walk);
        let words: Vec<String> = visits(&walk, &moments).iter().map(|v| moment_words(&walk, moments[v.1])).collect();
        assert_eq!(words[0], "rule 1 TRACE");
        assert_eq!(words[3], "rule 1 ACCEPT", "nat PREROUTING's deciding rule");
        assert_eq!(words[5], "policy ACCEPT", "mangle INPUT");
        // Stages without rules say what happened there, as the walk's stage notes do.
        assert_eq!(words[1], walk.stages[stage_of(&walk, moments[2])].note);
        assert!(words[4].contains("address of this host"), "{}", words[4]);
    }
}
