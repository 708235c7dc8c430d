//! The player: it moves a cursor over the walk's moments, so that a class can watch the packet go hook by
//! hook. Space plays and pauses, the arrow keys step (the app listens for them).

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
        Some(c) => format!("step {} of {}", c + 1, props.count),
        None => format!("{} steps", props.count),
    };
    html! {
        <div class="player" role="group" aria-label="Player">
            <button type="button" class="icon-button" onclick={send(|| Action::Restart)} {disabled} title="Restart" aria-label="Restart">{"⏮"}</button>
            <button type="button" class="icon-button" onclick={send(|| Action::Step(-1))} {disabled} title="Step back (←)" aria-label="Step back">{"◀"}</button>
            <button type="button" class="icon-button play" onclick={send(|| Action::PlayPause)} {disabled} data-testid="play"
                title={if props.playing { "Pause (space)" } else { "Play (space)" }}
                aria-label={if props.playing { "Pause" } else { "Play" }}>
                { if props.playing { "⏸" } else { "▶" } }
            </button>
            <button type="button" class="icon-button" onclick={send(|| Action::Step(1))} {disabled} title="Step forward (→)" aria-label="Step forward">{"▶|"}</button>
            <label class="speed">
                <span class="visually-hidden">{"Speed"}</span>
                <select onchange={onspeed} aria-label="Speed">
                    { for SPEEDS.iter().enumerate().map(|(i, s)| html! { <option value={i.to_string()} selected={i == props.speed}>{format!("{s}×")}</option> }) }
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
