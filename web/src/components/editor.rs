//! The rules editor: a plain textarea (so that typing, selecting, undo and pasting are the browser's own),
//! a gutter of line numbers, and behind the text a layer that underlines findings at their line and column
//! and colours whole lines (the deciding rule, the player's rule).
//!
//! A browser's textarea gets slow with big text: with a 15 MB kube-proxy dump in one, Chromium spends a
//! quarter of a second on each keystroke. So the textarea holds at most a window of the dump: all of it
//! when it is small, and for a big dump the few hundred lines around the view. The editor scrolls a
//! container as tall as the whole dump, with the textarea placed at its window's lines; scrolling away
//! moves the window (edits in it are first put back into the dump). Select-all, copy, cut and paste over
//! everything still act on the whole dump. The gutter and the layer draw only the lines in view.
//!
//! The model ([`EditorModel`]) is shared by the component and the app, which reads the text from it when
//! typing pauses and gives it new text (an example, a permalink).

use crate::components::number;
use crate::state::Dump;
use chainwalk_core::{Severity, Span};
use gloo::events::{EventListener, EventListenerOptions};
use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlTextAreaElement};
use yew::prelude::*;

/// The height of one line in CSS pixels; `static/style.css` sets the same.
pub const LINE_HEIGHT: f64 = 20.0;

/// The space above the first line and left of every line, in CSS pixels; `static/style.css` agrees.
const PAD_TOP: f64 = 10.0;

/// Lines drawn above and below the ones in view, so that a fast scroll shows no gap.
const OVERSCAN: usize = 4;

/// Dumps bigger than this many bytes are edited through a window.
const WINDOWED_FROM: usize = 512 * 1024;

/// How many lines a window holds above and below the lines in view.
const WINDOW_MARGIN: usize = 300;

/// The dump and which part of it the textarea holds.
pub struct EditorModel {
    /// The textarea.
    pub textarea: NodeRef,
    scroller: NodeRef,
    sizer: NodeRef,
    /// The dump as last read from the textarea or given to it.
    base: Rc<str>,
    /// Where each line of `base` starts.
    lines: Vec<usize>,
    /// The bytes of `base` the textarea holds (all of them when it is small).
    window: Range<usize>,
    /// The line of `base` the window starts at (from 0).
    window_line: usize,
    /// How many lines the window had in `base`.
    window_lines: usize,
    /// How many lines the textarea holds now, and its longest line in characters.
    value_lines: usize,
    value_width: usize,
    /// Whether the textarea was edited since `base` was read from it.
    dirty: bool,
    /// Whether the user selected everything (Ctrl+A) in a windowed dump: the next edit, copy or cut acts
    /// on the whole dump.
    all_selected: bool,
}

/// The editor's model, shared by the app and the component.
#[derive(Clone)]
pub struct EditorHandle(pub Rc<RefCell<EditorModel>>);

impl PartialEq for EditorHandle {
    fn eq(&self, other: &EditorHandle) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl EditorHandle {
    /// A model for an editor not yet on the page.
    pub fn new() -> EditorHandle {
        EditorHandle(Rc::new(RefCell::new(EditorModel {
            textarea: NodeRef::default(),
            scroller: NodeRef::default(),
            sizer: NodeRef::default(),
            base: Rc::from(""),
            lines: vec![0],
            window: 0..0,
            window_line: 0,
            window_lines: 1,
            value_lines: 1,
            value_width: 0,
            dirty: false,
            all_selected: false,
        })))
    }

    /// Gives the editor `text` (an example, a permalink, a paste over everything), scrolled to the top.
    pub fn load(&self, text: Rc<str>) {
        let mut m = self.0.borrow_mut();
        m.set_base(text);
        m.dirty = false;
        m.all_selected = false;
        m.fill(0);
        if let Some(s) = m.scroller.cast::<HtmlElement>() {
            s.set_scroll_top(0);
        }
    }

    /// The whole text, with the textarea's edits put back into the dump. A dump that became big (a paste)
    /// is then edited through a window.
    pub fn read(&self) -> Rc<str> {
        let mut m = self.0.borrow_mut();
        let text = m.commit();
        if m.windowed() && m.window_lines > 2 * WINDOW_MARGIN + 1 {
            m.rewindow();
        }
        text
    }

    /// Selects the bytes `span` of the text and scrolls them into view, a third of the way down. With
    /// `focus`, the textarea also takes the keyboard (a click on a finding); without, the keyboard stays
    /// where it is (the player's arrow keys).
    pub fn reveal(&self, span: Span, focus: bool) {
        let mut m = self.0.borrow_mut();
        m.commit();
        let line = (span.line as usize).saturating_sub(1);
        let range = span.range();
        if !(m.window.start <= range.start && range.end <= m.window.end) {
            m.fill(line);
        }
        let (Some(t), Some(s)) = (m.textarea.cast::<HtmlTextAreaElement>(), m.scroller.cast::<HtmlElement>()) else {
            return;
        };
        let value = &m.base[m.window.clone()];
        let start = utf16_index(value, range.start.saturating_sub(m.window.start));
        let end = utf16_index(value, range.end.saturating_sub(m.window.start)).max(start);
        if focus {
            let options = web_sys::FocusOptions::new();
            options.set_prevent_scroll(true);
            let _ = t.focus_with_options(&options);
        }
        let _ = t.set_selection_range(start, end);
        let top = PAD_TOP + line as f64 * LINE_HEIGHT - f64::from(s.client_height()) / 3.0;
        s.set_scroll_top(top.max(0.0) as i32);
        s.set_scroll_left(0);
        // Bring the editor itself into view only when it is off screen.
        let rect = s.get_bounding_client_rect();
        let height = web_sys::window().and_then(|w| w.inner_height().ok()).and_then(|h| h.as_f64()).unwrap_or(0.0);
        if rect.bottom() < 0.0 || rect.top() > height {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            s.scroll_into_view_with_scroll_into_view_options(&options);
        }
    }
}

impl EditorModel {
    fn windowed(&self) -> bool {
        self.base.len() > WINDOWED_FROM
    }

    fn set_base(&mut self, text: Rc<str>) {
        self.lines = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        self.base = text;
    }

    /// The byte where line `line` (from 0) starts; the end of the text past the last line.
    fn line_start(&self, line: usize) -> usize {
        self.lines.get(line).copied().unwrap_or(self.base.len())
    }

    /// Puts the textarea's edits back into the dump.
    fn commit(&mut self) -> Rc<str> {
        if self.dirty {
            if let Some(t) = self.textarea.cast::<HtmlTextAreaElement>() {
                let value = t.value();
                let text = if self.window == (0..self.base.len()) {
                    value.clone()
                } else {
                    let (before, after) = (&self.base[..self.window.start], &self.base[self.window.end..]);
                    let mut text = String::with_capacity(before.len() + value.len() + after.len());
                    text.push_str(before);
                    text.push_str(&value);
                    text.push_str(after);
                    text
                };
                let start = self.window.start;
                self.set_base(text.into());
                self.window = start..start + value.len();
                self.window_lines = count_lines(&value).0;
            }
            self.dirty = false;
        }
        self.base.clone()
    }

    /// Gives the textarea the window of lines around `line` (or the whole text when it is small).
    fn fill(&mut self, line: usize) {
        let total = self.lines.len();
        let (first, last) = if self.windowed() {
            let first = line.saturating_sub(WINDOW_MARGIN);
            (first, (line + WINDOW_MARGIN).min(total))
        } else {
            (0, total)
        };
        self.window = self.line_start(first)..if last >= total { self.base.len() } else { self.line_start(last) };
        self.window_line = first;
        let value = &self.base[self.window.clone()];
        (self.window_lines, self.value_width) = count_lines(value);
        self.value_lines = self.window_lines;
        if let Some(t) = self.textarea.cast::<HtmlTextAreaElement>() {
            t.set_value(value);
        }
        self.layout();
    }

    /// After an edit: the textarea's new size.
    fn edited(&mut self) {
        self.dirty = true;
        if let Some(t) = self.textarea.cast::<HtmlTextAreaElement>() {
            (self.value_lines, self.value_width) = count_lines(&t.value());
        }
        self.layout();
    }

    /// After a scroll: a new window when the view left the old one (for a windowed dump).
    fn scrolled(&mut self) {
        if !self.windowed() {
            return;
        }
        let (top, bottom) = self.in_view();
        let (first, last) = (self.window_line, self.window_line + self.value_lines);
        let near_start = top < first + WINDOW_MARGIN / 3 && first > 0;
        let near_end = bottom + WINDOW_MARGIN / 3 > last && last < self.total_lines();
        if near_start || near_end {
            self.rewindow();
        }
    }

    /// The first and last line in view.
    fn in_view(&self) -> (usize, usize) {
        let Some(s) = self.scroller.cast::<HtmlElement>() else { return (0, 0) };
        let top = ((f64::from(s.scroll_top()) - PAD_TOP) / LINE_HEIGHT).max(0.0) as usize;
        (top, top + (f64::from(s.client_height()) / LINE_HEIGHT) as usize + 1)
    }

    /// Puts the textarea's edits back into the dump and gives it the window around the lines in view,
    /// keeping the caret where it was if the new window holds it.
    fn rewindow(&mut self) {
        let t = self.textarea.cast::<HtmlTextAreaElement>();
        let focused = t.as_ref().is_some_and(is_focused);
        // The caret, as a byte of the dump, to put back where it was if the new window holds it.
        let caret = t.as_ref().filter(|_| focused).and_then(|t| {
            let value = t.value();
            let (from, to) = (t.selection_start().ok()??, t.selection_end().ok()??);
            Some((byte_index(&value, from), byte_index(&value, to)))
        });
        self.commit();
        let caret = caret.map(|(a, b)| (self.window.start + a, self.window.start + b));
        let (top, bottom) = self.in_view();
        self.fill((top + bottom) / 2);
        if let (Some(t), Some((a, b))) = (t, caret) {
            if self.window.start <= a && b <= self.window.end {
                let value = &self.base[self.window.clone()];
                let _ = t.set_selection_range(
                    utf16_index(value, a - self.window.start),
                    utf16_index(value, b - self.window.start),
                );
            } else {
                // The caret's line is no longer in the textarea: the keyboard leaves it rather than type
                // into the wrong place.
                let _ = t.blur();
            }
        }
    }

    /// How many lines the text has now (the dump's, with the window's edits).
    fn total_lines(&self) -> usize {
        (self.lines.len() + self.value_lines).saturating_sub(self.window_lines)
    }

    /// Sizes the scrolled area to the whole text and puts the textarea at its window's lines.
    fn layout(&self) {
        let (Some(t), Some(sizer), Some(s)) = (
            self.textarea.cast::<HtmlElement>(),
            self.sizer.cast::<HtmlElement>(),
            self.scroller.cast::<HtmlElement>(),
        ) else {
            return;
        };
        let total = self.total_lines() as f64;
        let view = f64::from(s.client_height());
        let _ = sizer
            .style()
            .set_property("height", &format!("{}px", number((total * LINE_HEIGHT + 2.0 * PAD_TOP).max(view))));
        let width = format!("calc({}ch + 40px)", self.value_width);
        let _ = sizer.style().set_property("width", &width);
        let style = t.style();
        let _ = style.set_property("top", &format!("{}px", number(PAD_TOP + self.window_line as f64 * LINE_HEIGHT)));
        // The textarea reaches at least the bottom of the view, so that a click under the text lands in it.
        let below = view - PAD_TOP - self.window_line as f64 * LINE_HEIGHT;
        let height = (self.value_lines as f64 * LINE_HEIGHT).max(below);
        let _ = style.set_property("height", &format!("{}px", number(height)));
    }
}

impl Default for EditorHandle {
    fn default() -> EditorHandle {
        EditorHandle::new()
    }
}

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
    /// The CSS class that colours it (`band-current`, `band-denied`, ...).
    pub class: &'static str,
}

/// Properties of [`Editor`].
#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The model.
    pub handle: EditorHandle,
    /// The text as last read, for the underlines' positions.
    pub dump: Rc<Dump>,
    /// Findings to underline (positions in `dump`).
    pub marks: Rc<Vec<Mark>>,
    /// Lines to colour.
    pub bands: Rc<Vec<Band>>,
    /// Called on every edit.
    pub oninput: Callback<()>,
    /// Called with the new text when an edit replaces everything of a windowed dump.
    pub onreplace: Callback<String>,
    /// What the core read, in a few words (`4 tables, 9 chains, 25 rules`), and whether it has errors.
    pub summary: (String, bool),
}

/// The editor with its label and the reading's summary.
#[function_component]
pub fn Editor(props: &EditorProps) -> Html {
    let first = use_state_eq(|| 0usize);
    let rows = use_state_eq(|| 40usize);
    let gutter = use_node_ref();
    let all_selected = use_state_eq(|| false);
    let model = props.handle.0.clone();
    let (textarea, scroller, sizer) = {
        let m = model.borrow();
        (m.textarea.clone(), m.scroller.clone(), m.sizer.clone())
    };

    // Keep the gutter in step with the scroll, and the window of lines drawn, after every render too.
    let sync = {
        let (scroller, gutter, first, rows) = (scroller.clone(), gutter.clone(), first.clone(), rows.clone());
        move || {
            let Some(s) = scroller.cast::<HtmlElement>() else { return };
            let top = f64::from(s.scroll_top());
            let line = ((top - PAD_TOP).max(0.0) / LINE_HEIGHT) as usize;
            first.set(line.saturating_sub(OVERSCAN));
            rows.set((f64::from(s.client_height()) / LINE_HEIGHT) as usize + 2 * OVERSCAN + 1);
            translate(&gutter, 0.0, (*first as f64) * LINE_HEIGHT - top);
        }
    };
    {
        let sync = sync.clone();
        use_effect(sync);
    }
    // The first layout, once the elements exist.
    {
        let model = model.clone();
        use_effect_with((), move |_| model.borrow().layout());
    }
    // Edits over everything of a windowed dump (after Ctrl+A) replace the whole dump.
    {
        let (model, onreplace, all_selected) = (model.clone(), props.onreplace.clone(), all_selected.clone());
        let textarea = textarea.clone();
        use_effect_with((), move |_| {
            let listener = textarea.cast::<HtmlTextAreaElement>().map(|t| {
                let options = EventListenerOptions::enable_prevent_default();
                EventListener::new_with_options(&t, "beforeinput", options, move |event| {
                    let Some(event) = event.dyn_ref::<web_sys::InputEvent>() else { return };
                    if !model.borrow().all_selected {
                        return;
                    }
                    let kind = event.input_type();
                    let text = match kind.as_str() {
                        "insertText" | "insertReplacementText" => event.data().unwrap_or_default(),
                        "insertLineBreak" | "insertParagraph" => "\n".into(),
                        k if k.starts_with("delete") => String::new(),
                        // Pastes and drops come through their own events.
                        _ => return,
                    };
                    event.prevent_default();
                    model.borrow_mut().all_selected = false;
                    all_selected.set(false);
                    onreplace.emit(text);
                })
            });
            move || drop(listener)
        });
    }

    let onscroll = {
        let (model, sync) = (model.clone(), sync.clone());
        Callback::from(move |_: Event| {
            model.borrow_mut().scrolled();
            sync();
        })
    };
    let oninput = {
        let (model, oninput) = (model.clone(), props.oninput.clone());
        Callback::from(move |_: InputEvent| {
            model.borrow_mut().edited();
            oninput.emit(());
        })
    };
    let onkeydown = {
        let (model, all_selected) = (model.clone(), all_selected.clone());
        Callback::from(move |e: KeyboardEvent| {
            let select_all = (e.ctrl_key() || e.meta_key()) && e.key().eq_ignore_ascii_case("a");
            let mut m = model.borrow_mut();
            if select_all && m.windowed() {
                e.prevent_default();
                if let Some(t) = m.textarea.cast::<HtmlTextAreaElement>() {
                    t.select();
                }
                m.all_selected = true;
                all_selected.set(true);
            } else if m.all_selected && !matches!(e.key().as_str(), "Control" | "Meta" | "Shift" | "Alt") {
                // Moving the caret ends the select-all; an edit key is handled by `beforeinput` first.
                let edits =
                    e.key().chars().count() == 1 || matches!(e.key().as_str(), "Backspace" | "Delete" | "Enter");
                let copies =
                    (e.ctrl_key() || e.meta_key()) && matches!(e.key().to_ascii_lowercase().as_str(), "c" | "x" | "v");
                if !edits && !copies {
                    m.all_selected = false;
                    all_selected.set(false);
                }
            }
        })
    };
    let onmousedown = {
        let (model, all_selected) = (model.clone(), all_selected.clone());
        Callback::from(move |_: MouseEvent| {
            model.borrow_mut().all_selected = false;
            all_selected.set(false);
        })
    };
    let onclipboard = |cut: bool| {
        let (model, onreplace, all_selected) = (model.clone(), props.onreplace.clone(), all_selected.clone());
        Callback::from(move |e: Event| {
            let Some(e) = e.dyn_ref::<web_sys::ClipboardEvent>() else { return };
            let text = {
                let mut m = model.borrow_mut();
                if !m.all_selected {
                    return;
                }
                m.commit()
            };
            if let Some(data) = e.clipboard_data() {
                let _ = data.set_data("text/plain", &text);
                e.prevent_default();
            }
            if cut {
                model.borrow_mut().all_selected = false;
                all_selected.set(false);
                onreplace.emit(String::new());
            }
        })
    };
    let onpaste = {
        let (model, onreplace, all_selected) = (model.clone(), props.onreplace.clone(), all_selected.clone());
        Callback::from(move |e: Event| {
            let Some(e) = e.dyn_ref::<web_sys::ClipboardEvent>() else { return };
            if !model.borrow().all_selected {
                return;
            }
            let text = e.clipboard_data().and_then(|d| d.get_data("text/plain").ok()).unwrap_or_default();
            e.prevent_default();
            model.borrow_mut().all_selected = false;
            all_selected.set(false);
            onreplace.emit(text);
        })
    };

    let dump = &props.dump;
    let count = model.borrow().total_lines();
    let shown = *first..(*first + *rows).min(count);
    let error_lines: Vec<u32> =
        props.marks.iter().filter(|m| m.severity == Severity::Error).map(|m| m.span.line).collect();
    let band = |line: u32| props.bands.iter().rev().find(|b| b.line == line).map(|b| b.class);
    let numbers = shown.clone().map(|i| {
        let line = (i + 1) as u32;
        let class = classes!("ln", error_lines.contains(&line).then_some("ln-error"), band(line));
        html! { <div key={i} {class}>{line}</div> }
    });
    let layer_lines = shown.clone().map(|i| {
        let line = (i + 1) as u32;
        let marks: Vec<&Mark> = props.marks.iter().filter(|m| m.span.line == line).collect();
        html! {
            <div key={i} class={classes!("ml", band(line))}>
                { underlined(dump, i, &marks) }
            </div>
        }
    });
    // The layer's lines start at the first line drawn.
    {
        let layer_top = PAD_TOP + shown.start as f64 * LINE_HEIGHT;
        let sizer = sizer.clone();
        use_effect_with(layer_top as i64, move |&top| {
            if let Some(layer) = sizer
                .cast::<HtmlElement>()
                .and_then(|s| s.first_element_child())
                .and_then(|e| e.dyn_into::<HtmlElement>().ok())
            {
                let _ = layer.style().set_property("top", &format!("{top}px"));
            }
        });
    }
    let (summary, has_errors) = &props.summary;
    html! {
        <section class="panel rules" aria-labelledby="rules-label">
            <div class="panel-head">
                <label id="rules-label" for="rules-input">{"Rules"}</label>
                <span data-testid="summary" class={classes!("summary", if *has_errors { "has-errors" } else { "ok" })}>
                    {summary.clone()}
                </span>
            </div>
            <div class={classes!("code", (*all_selected).then_some("all-selected"))}>
                <div class="gutter" aria-hidden="true">
                    // Sizes the gutter to the widest number; the numbers themselves are out of the flow.
                    <div class="gutter-sizer">{count}</div>
                    <div class="gutter-lines" ref={gutter}>{ for numbers }</div>
                </div>
                <div class="scroller" ref={scroller} {onscroll}>
                    <div class="sizer" ref={sizer}>
                        <div class="layer-lines" aria-hidden="true">{ for layer_lines }</div>
                        <textarea
                            id="rules-input"
                            data-testid="rules-input"
                            ref={textarea}
                            {oninput}
                            {onkeydown}
                            {onmousedown}
                            oncopy={onclipboard(false)}
                            oncut={onclipboard(true)}
                            {onpaste}
                            wrap="off"
                            spellcheck="false"
                            autocomplete="off"
                            autocapitalize="off"
                            aria-describedby="rules-help"
                        />
                    </div>
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
    if marks.is_empty() || index >= dump.lines.len() {
        return Html::default();
    }
    let start = dump.lines[index];
    let text = dump.line(index + 1);
    let end = start + text.len();
    let mut pieces = Vec::new();
    let mut at = start;
    // By where they start, ties in the order given: sorted as keys (start, index), so that the binary
    // needs no stable sort of its own for this.
    let mut order: Vec<u64> = marks.iter().enumerate().map(|(i, m)| u64::from(m.span.start) << 32 | i as u64).collect();
    order.sort_unstable();
    for m in order.iter().map(|&k| marks[k as u32 as usize]) {
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
        let _ = element.style().set_property("transform", &format!("translate({}px, {}px)", number(x), number(y)));
    }
}

fn is_focused(element: &HtmlTextAreaElement) -> bool {
    let active = web_sys::window().and_then(|w| w.document()).and_then(|d| d.active_element());
    active.is_some_and(|a| a == ***element)
}

/// How many lines `text` has, and its longest line in characters (a tab counts to the next multiple of 8).
fn count_lines(text: &str) -> (usize, usize) {
    let (mut lines, mut widest, mut width) = (1, 0, 0);
    for c in text.chars() {
        match c {
            '\n' => {
                lines += 1;
                widest = widest.max(width);
                width = 0;
            }
            '\t' => width = (width / 8 + 1) * 8,
            _ => width += 1,
        }
    }
    (lines, widest.max(width))
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

/// The byte offset of the DOM's UTF-16 index `index` in `text`.
fn byte_index(text: &str, index: u32) -> usize {
    let mut units = 0;
    for (i, c) in text.char_indices() {
        if units >= index as usize {
            return i;
        }
        units += c.len_utf16();
    }
    text.len()
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
    use super::*;

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
        assert_eq!(byte_index(text, 7), text.find('x').unwrap());
        assert_eq!(byte_index(text, 4), text.find('🔥').unwrap());
        assert_eq!(byte_index(text, 99), text.len());
    }

    #[test]
    fn offsets_inside_a_character_or_past_the_end_are_clamped() {
        let text = "aé";
        assert_eq!(utf16_index(text, 2), 1);
        assert_eq!(utf16_index(text, 99), 2);
    }

    #[test]
    fn lines_and_width_are_counted_as_the_textarea_shows_them() {
        assert_eq!(count_lines(""), (1, 0));
        assert_eq!(count_lines("ab\nabcd\n"), (3, 4));
        assert_eq!(count_lines("a\tb"), (1, 9));
        assert_eq!(count_lines("é🔥"), (1, 2));
    }

    /// A model with `text`, windowed around `line` as the editor would be (no DOM on the host).
    fn model(text: &str, line: usize) -> EditorModel {
        let handle = EditorHandle::new();
        let mut m = Rc::try_unwrap(handle.0).ok().expect("one owner").into_inner();
        m.set_base(text.into());
        m.fill(line);
        m
    }

    #[test]
    fn a_big_dump_is_edited_through_a_window_of_whole_lines() {
        let text: String = (0..40_000).map(|i| format!("-A INPUT -p tcp --dport {i} -j ACCEPT\n")).collect();
        assert!(text.len() > WINDOWED_FROM);
        let m = model(&text, 20_000);
        assert_eq!(m.window_line, 20_000 - WINDOW_MARGIN);
        assert_eq!(m.window_lines, 2 * WINDOW_MARGIN + 1);
        let window = &text[m.window.clone()];
        assert!(window.starts_with(&format!("-A INPUT -p tcp --dport {} ", 20_000 - WINDOW_MARGIN)));
        assert!(window.ends_with(&format!("--dport {} -j ACCEPT\n", 20_000 + WINDOW_MARGIN - 1)));
        assert_eq!(m.total_lines(), 40_001);

        let small = model("*filter\nCOMMIT\n", 0);
        assert_eq!((small.window.clone(), small.window_lines), (0..15, 3));
    }
}
