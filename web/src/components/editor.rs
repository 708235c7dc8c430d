//! The dump editor: a plain textarea (so that typing, selecting, undo and pasting are the browser's own),
//! with a gutter of line numbers and, behind the text, a layer that underlines findings at their line and
//! column and colours whole lines (the deciding rule, the player's rule).
//!
//! Both the gutter and the layer draw only the lines in view, so a 135,000-line dump costs what a short
//! one does. The textarea is not controlled by the state: typing does not re-render anything, and the app
//! reads the text when typing pauses (see `state`).

use crate::state::Dump;
use chainwalk_core::{Severity, Span};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlTextAreaElement};
use yew::prelude::*;

/// The height of one line in CSS pixels; `static/style.css` sets the same for the textarea.
pub const LINE_HEIGHT: f64 = 20.0;

/// Lines drawn above and below the ones in view, so that a fast scroll shows no gap.
const OVERSCAN: usize = 4;

/// A finding to underline.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    /// Where it is.
    pub span: Span,
    /// Error or warning.
    pub severity: Severity,
    /// Its message, for the tooltip.
    pub message: String,
}

/// A whole line to colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// The line, from 1.
    pub line: u32,
    /// The CSS class that colours it (`band-current`, `band-drop`, ...).
    pub class: &'static str,
}

/// Properties of [`Editor`].
#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The text as last read, for the gutter's line count and the underlines' positions.
    pub dump: Rc<Dump>,
    /// Findings to underline (positions in `dump`).
    pub marks: Rc<Vec<Mark>>,
    /// Lines to colour.
    pub bands: Rc<Vec<Band>>,
    /// Called on every edit.
    pub oninput: Callback<()>,
    /// The textarea, for [`reveal`] and for reading its text.
    pub node_ref: NodeRef,
    /// What the core read, in a few words (`4 tables, 9 chains, 25 rules`), and whether it has errors.
    pub summary: (String, bool),
}

/// The editor with its label and the reading's summary.
#[function_component]
pub fn Editor(props: &EditorProps) -> Html {
    let first = use_state_eq(|| 0usize);
    let rows = use_state_eq(|| 40usize);
    let gutter = use_node_ref();
    let layer = use_node_ref();

    // Keep the gutter and the layer in step with the textarea's scroll, after every render too.
    let sync = {
        let (textarea, gutter, layer, first, rows) =
            (props.node_ref.clone(), gutter.clone(), layer.clone(), first.clone(), rows.clone());
        move || {
            let Some(t) = textarea.cast::<HtmlTextAreaElement>() else { return };
            let top = f64::from(t.scroll_top());
            let line = (top / LINE_HEIGHT) as usize;
            first.set(line.saturating_sub(OVERSCAN));
            rows.set((f64::from(t.client_height()) / LINE_HEIGHT) as usize + 2 * OVERSCAN + 1);
            let offset = (*first as f64) * LINE_HEIGHT - top;
            translate(&gutter, 0.0, offset);
            translate(&layer, -f64::from(t.scroll_left()), offset);
        }
    };
    {
        let sync = sync.clone();
        use_effect(move || sync());
    }
    let onscroll = Callback::from(move |_: Event| sync());
    let oninput = props.oninput.reform(|_: InputEvent| ());

    let dump = &props.dump;
    let count = dump.lines.len();
    let shown = *first..(*first + *rows).min(count);
    let error_lines: Vec<u32> =
        props.marks.iter().filter(|m| m.severity == Severity::Error).map(|m| m.span.line).collect();
    let band = |line: u32| props.bands.iter().rev().find(|b| b.line == line).map(|b| b.class);
    let numbers = shown.clone().map(|i| {
        let line = (i + 1) as u32;
        let class = classes!("ln", error_lines.contains(&line).then_some("ln-error"), band(line));
        html! { <div key={i} {class}>{line}</div> }
    });
    let layer_lines = shown.map(|i| {
        let line = (i + 1) as u32;
        let marks: Vec<&Mark> = props.marks.iter().filter(|m| m.span.line == line).collect();
        html! {
            <div key={i} class={classes!("ml", band(line))}>
                { underlined(dump, i, &marks) }
            </div>
        }
    });
    let (summary, has_errors) = &props.summary;
    html! {
        <section class="panel rules" aria-labelledby="rules-label">
            <div class="panel-head">
                <label id="rules-label" for="rules-input">{"Rules"}</label>
                <span data-testid="summary" class={classes!("summary", if *has_errors { "has-errors" } else { "ok" })}>
                    {summary.clone()}
                </span>
            </div>
            <div class="code">
                <div class="gutter" aria-hidden="true"><div class="gutter-lines" ref={gutter}>{ for numbers }</div></div>
                <div class="code-area">
                    <div class="layer" aria-hidden="true"><div class="layer-lines" ref={layer}>{ for layer_lines }</div></div>
                    <textarea
                        id="rules-input"
                        data-testid="rules-input"
                        ref={props.node_ref.clone()}
                        {oninput}
                        {onscroll}
                        wrap="off"
                        spellcheck="false"
                        autocomplete="off"
                        autocapitalize="off"
                        aria-describedby="rules-help"
                    />
                </div>
            </div>
            <p id="rules-help" class="help">
                {"The output of "}<code>{"iptables-save"}</code>{" or "}<code>{"ip6tables-save"}</code>
                {". It is read in this browser tab and kept in its local storage; nothing is sent anywhere."}
            </p>
        </section>
    }
}

/// Line `index` (from 0) of the dump with its findings underlined. The text itself is transparent (the
/// textarea shows it); it is there so that each underline starts and ends where its characters do.
fn underlined(dump: &Dump, index: usize, marks: &[&Mark]) -> Html {
    if marks.is_empty() {
        return Html::default();
    }
    let start = dump.lines[index];
    let text = dump.line(index + 1);
    let end = start + text.len();
    let mut pieces = Vec::new();
    let mut at = start;
    let mut sorted = marks.to_vec();
    sorted.sort_by_key(|m| m.span.start);
    for m in sorted {
        let from = (m.span.start as usize).clamp(at, end);
        let to = (m.span.end as usize).clamp(from, end);
        let (Some(before), Some(marked)) = (dump.text.get(at..from), dump.text.get(from..to)) else { continue };
        pieces.push(html! { {before.to_string()} });
        let class = match m.severity {
            Severity::Error => "mark-error",
            Severity::Warning => "mark-warning",
        };
        // A finding at the end of a line (a missing argument) underlines the place after it.
        let marked = if marked.is_empty() { " ".to_string() } else { marked.to_string() };
        pieces.push(html! { <span class={class} title={m.message.clone()}>{marked}</span> });
        at = to;
    }
    pieces.into_iter().collect()
}

fn translate(node: &NodeRef, x: f64, y: f64) {
    if let Some(element) = node.cast::<HtmlElement>() {
        // Through the CSS object model, which the page's Content-Security-Policy allows (a style attribute
        // it would refuse).
        let _ = element.style().set_property("transform", &format!("translate({x}px, {y}px)"));
    }
}

/// Selects the bytes `span` of `dump` in `textarea` and scrolls them into view, a third of the way down.
/// With `focus`, the textarea also takes the keyboard (a click on a finding); without, the keyboard stays
/// where it is (the player's arrow keys).
pub fn reveal(textarea: &HtmlTextAreaElement, dump: &Dump, span: Span, focus: bool) {
    let start = utf16_index(&dump.text, span.start as usize);
    let end = utf16_index(&dump.text, span.end as usize).max(start);
    if focus {
        let _ = textarea.focus();
    }
    let _ = textarea.set_selection_range(start, end);
    let line_top = f64::from(span.line.saturating_sub(1)) * LINE_HEIGHT;
    let top = line_top - f64::from(textarea.client_height()) / 3.0;
    textarea.set_scroll_top(top.max(0.0) as i32);
    // Bring the editor itself into view only when it is off screen.
    if let Some(area) = textarea.parent_element() {
        let rect = area.get_bounding_client_rect();
        let height = web_sys::window().and_then(|w| w.inner_height().ok()).and_then(|h| h.as_f64()).unwrap_or(0.0);
        if rect.bottom() < 0.0 || rect.top() > height {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            area.scroll_into_view_with_scroll_into_view_options(&options);
        }
    }
}

/// The textarea's text (read once typing pauses).
pub fn text_of(node: &NodeRef) -> Option<String> {
    node.cast::<HtmlTextAreaElement>().map(|t| t.value())
}

/// Gives the textarea `text` (an example or a permalink was loaded).
pub fn set_text(node: &NodeRef, text: &str) {
    if let Some(t) = node.cast::<HtmlTextAreaElement>() {
        t.set_value(text);
        t.set_scroll_top(0);
    }
}

/// The index that the DOM (which counts UTF-16 code units) gives to byte `offset` of `text`. An offset past
/// the end, or inside a character, is moved back to the nearest character boundary.
pub fn utf16_index(text: &str, offset: usize) -> u32 {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let prefix = &text[..offset];
    // ASCII text (nearly every dump) counts the same in both.
    let units = if prefix.is_ascii() { prefix.len() } else { prefix.encode_utf16().count() };
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// Whether `element` is where the user types text (so that the player's keys leave it alone).
pub fn is_text_entry(element: &web_sys::Element) -> bool {
    match element.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => true,
        "INPUT" => element
            .dyn_ref::<web_sys::HtmlInputElement>()
            .is_some_and(|i| !matches!(i.type_().as_str(), "checkbox" | "radio" | "button" | "range")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::utf16_index;

    #[test]
    fn ascii_offsets_are_unchanged() {
        assert_eq!(utf16_index("-A INPUT -j ACCEPT", 3), 3);
        assert_eq!(utf16_index("-A INPUT", 8), 8);
    }

    #[test]
    fn multibyte_characters_count_as_their_utf16_units() {
        // "é" is 2 bytes and 1 UTF-16 unit; "🔥" is 4 bytes and 2 units.
        let text = "# é 🔥 x";
        assert_eq!(utf16_index(text, text.find('x').unwrap()), 7);
        assert_eq!(utf16_index(text, text.find('🔥').unwrap()), 4);
    }

    #[test]
    fn offsets_inside_a_character_or_past_the_end_are_clamped() {
        let text = "aé";
        assert_eq!(utf16_index(text, 2), 1);
        assert_eq!(utf16_index(text, 99), 2);
    }
}
