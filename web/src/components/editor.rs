//! The dump editor: a plain textarea, and the function that shows a span of the dump in it.

use chainwalk_core::Span;
use std::rc::Rc;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// Properties of [`Editor`].
#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The text to show.
    pub value: Rc<str>,
    /// Called with the whole new text on every edit.
    pub oninput: Callback<String>,
    /// Called when the user asks for the example dump.
    pub onexample: Callback<()>,
    /// The textarea, for [`reveal`].
    pub node_ref: NodeRef,
}

/// The textarea holding the dump, with its label and a button that loads the example.
#[function_component]
pub fn Editor(props: &EditorProps) -> Html {
    let oninput = {
        let oninput = props.oninput.clone();
        Callback::from(move |e: InputEvent| {
            let textarea: HtmlTextAreaElement = e.target_unchecked_into();
            oninput.emit(textarea.value());
        })
    };
    let onexample = props.onexample.reform(|_: MouseEvent| ());
    html! {
        <section class="panel editor" aria-labelledby="editor-label">
            <div class="panel-head">
                <label id="editor-label" for="rules-input">{"Dump"}</label>
                <button type="button" class="button" onclick={onexample}>{"Load the Docker 7788 example"}</button>
            </div>
            <textarea
                id="rules-input"
                data-testid="rules-input"
                ref={props.node_ref.clone()}
                value={AttrValue::from(props.value.clone())}
                {oninput}
                rows="18"
                wrap="off"
                spellcheck="false"
                autocomplete="off"
                autocapitalize="off"
                aria-describedby="editor-help"
            />
            <p id="editor-help" class="help">
                {"The output of "}<code>{"iptables-save"}</code>{" or "}<code>{"ip6tables-save"}</code>
                {". It is read in this browser tab and kept in its local storage; nothing is sent anywhere."}
            </p>
        </section>
    }
}

/// Focuses `textarea` and selects the bytes `span` of `source` (the text the span was read from), scrolled
/// into view, so that a click on a finding or a rule shows where it is in the dump.
pub fn reveal(textarea: &HtmlTextAreaElement, source: &str, span: Span) {
    let start = utf16_index(source, span.start as usize);
    let end = utf16_index(source, span.end as usize).max(start);
    let _ = textarea.focus();
    let _ = textarea.set_selection_range(start, end);
    if let Some(line_height) = line_height(textarea) {
        let line_top = f64::from(span.line.saturating_sub(1)) * line_height;
        let top = line_top - f64::from(textarea.client_height()) / 3.0;
        textarea.set_scroll_top(top.max(0.0) as i32);
    }
}

/// The index that the DOM (which counts UTF-16 code units) gives to byte `offset` of `text`. An offset past
/// the end, or inside a character, is moved back to the nearest character boundary.
pub fn utf16_index(text: &str, offset: usize) -> u32 {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    u32::try_from(text[..offset].encode_utf16().count()).unwrap_or(u32::MAX)
}

/// The height of one line of the textarea in CSS pixels, as its computed style says.
fn line_height(textarea: &HtmlTextAreaElement) -> Option<f64> {
    let style = web_sys::window()?.get_computed_style(textarea).ok()??;
    let value = style.get_property_value("line-height").ok()?;
    value.strip_suffix("px")?.parse().ok()
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
