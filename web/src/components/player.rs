//! The player: it moves a cursor over the walk's moments, so that a class can watch the packet go hook by
//! hook. Space plays and pauses, the arrow keys step (the app listens for them).

use crate::components::number;
use crate::state::{Action, SPEEDS};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// Properties of [`Player`].
#[derive(Properties, PartialEq)]
pub struct PlayerProps {
    /// The moment shown, or `None` for the whole walk.
    pub cursor: Option<usize>,
    /// How many moments there are.
    pub count: usize,
    /// Whether it is playing.
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// Where the controls send their actions.
    pub dispatch: Callback<Action>,
}

/// The buttons' icons, as SVG paths on a 24-unit square (fonts differ in which media symbols they have).
const RESTART: &str = "M5 5h2v14H5z M19 5v14l-6-7z M13 5v14l-6-7z";
const BACK: &str = "M17 5h2v14h-2z M15 5v14L6 12z";
const PLAY: &str = "M7 5v14l12-7z";
const PAUSE: &str = "M7 5h3.5v14H7z M13.5 5H17v14h-3.5z";
const FORWARD: &str = "M5 5h2v14H5z M9 5v14l9-7z";

fn icon(path: &'static str) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false"><path d={path} /></svg>
    }
}

/// The controls.
#[function_component]
pub fn Player(props: &PlayerProps) -> Html {
    let send = |make: fn() -> Action| props.dispatch.reform(move |_: MouseEvent| make());
    let onspeed = props.dispatch.reform(|e: Event| {
        let value = e.target_unchecked_into::<HtmlSelectElement>().value();
        Action::Speed(value.parse().unwrap_or(1))
    });
    let disabled = props.count == 0;
    let position = match props.cursor {
        Some(c) => format!("{} / {}", c + 1, props.count),
        None => "the whole walk".to_string(),
    };
    html! {
        <div class="player" role="group" aria-label="Player">
            <button type="button" class="icon-button" onclick={send(|| Action::Restart)} {disabled} title="Restart" aria-label="Restart">{icon(RESTART)}</button>
            <button type="button" class="icon-button" onclick={send(|| Action::Step(-1))} {disabled} title="Step back (←)" aria-label="Step back">{icon(BACK)}</button>
            <button type="button" class="icon-button play" onclick={send(|| Action::PlayPause)} {disabled} data-testid="play"
                title={if props.playing { "Pause (space)" } else { "Play (space)" }}
                aria-label={if props.playing { "Pause" } else { "Play" }}>
                { icon(if props.playing { PAUSE } else { PLAY }) }
            </button>
            <button type="button" class="icon-button" onclick={send(|| Action::Step(1))} {disabled} title="Step forward (→)" aria-label="Step forward">{icon(FORWARD)}</button>
            <label class="speed">
                <span class="visually-hidden">{"Speed"}</span>
                <select onchange={onspeed} aria-label="Speed">
                    { for SPEEDS.iter().enumerate().map(|(i, s)| html! { <option value={i.to_string()} selected={i == props.speed}>{format!("{}×", number(*s))}</option> }) }
                </select>
            </label>
            <span class="position" aria-live="off" data-testid="player-position">{position}</span>
            if props.cursor.is_some() {
                <button type="button" class="button small" onclick={send(|| Action::ShowAll)}>{"Show the whole walk"}</button>
            }
            <span class="keys" aria-hidden="true"><kbd>{"space"}</kbd>{" play · "}<kbd>{"←"}</kbd><kbd>{"→"}</kbd>{" step"}</span>
        </div>
    }
}
