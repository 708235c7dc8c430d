//! The playground's state: the text in the editor and the core's last reading of it.
//!
//! The text changes on every keystroke; the reading changes only when the debounce timer in [`crate::app`]
//! fires [`Action::Read`]. Components get the reading as an `Rc<Reading>`, whose equality is its
//! generation number, so a keystroke re-renders the editor only and a reading re-renders the views once.

use chainwalk_core::Parsed;
use std::rc::Rc;
use yew::Reducible;

/// The dump shown on a first visit: the Docker 7788 incident (`static/examples/README.md`), where an ACCEPT
/// in nat PREROUTING keeps packets for a published container port from ever reaching the DOCKER chain.
pub const EXAMPLE: &str = include_str!("../../static/examples/docker-7788.rules");

/// What the core read from one version of the text.
#[derive(Debug)]
pub struct Reading {
    /// Counts readings; two readings are the same reading when their generations are equal.
    pub generation: u64,
    /// The text that was read (the spans in `parsed` are byte offsets into it).
    pub source: Rc<str>,
    /// The tables, chains and rules, and the findings.
    pub parsed: Parsed,
}

impl Reading {
    fn of(text: Rc<str>, generation: u64) -> Reading {
        let parsed = chainwalk_core::parse(&text, None);
        Reading { generation, source: text, parsed }
    }
}

impl PartialEq for Reading {
    fn eq(&self, other: &Reading) -> bool {
        self.generation == other.generation
    }
}

/// The whole state of the page.
#[derive(Debug, PartialEq)]
pub struct Playground {
    /// The text in the editor.
    pub text: Rc<str>,
    /// Counts edits, so that an effect keyed on it restarts on every edit (the debounce).
    pub edits: u64,
    /// The last reading of the text; it lags the text by the debounce delay while the user types.
    pub reading: Rc<Reading>,
}

impl Playground {
    /// The state for `text`, read at once (no debounce on load).
    pub fn new(text: String) -> Playground {
        let text: Rc<str> = text.into();
        Playground { reading: Rc::new(Reading::of(text.clone(), 0)), text, edits: 0 }
    }

    /// Whether the reading is of the text currently in the editor.
    pub fn is_current(&self) -> bool {
        Rc::ptr_eq(&self.text, &self.reading.source)
    }
}

/// What can happen to the state.
pub enum Action {
    /// The user changed the text (typing, pasting, loading the example).
    Edit(String),
    /// Read the current text with the core (sent by the debounce timer).
    Read,
}

impl Reducible for Playground {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        match action {
            Action::Edit(text) => {
                if *self.text == *text {
                    return self;
                }
                Rc::new(Playground { text: text.into(), edits: self.edits + 1, reading: self.reading.clone() })
            }
            Action::Read => {
                if self.is_current() {
                    return self;
                }
                let reading = Reading::of(self.text.clone(), self.reading.generation + 1);
                Rc::new(Playground { text: self.text.clone(), edits: self.edits, reading: Rc::new(reading) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_read_on_load() {
        let state = Playground::new(EXAMPLE.to_string());
        assert!(state.is_current());
        assert_eq!(state.reading.generation, 0);
        assert_eq!(state.reading.parsed.ruleset.tables.len(), 4);
    }

    #[test]
    fn an_edit_keeps_the_old_reading_until_read() {
        let state = Rc::new(Playground::new("*filter\nCOMMIT\n".to_string()));
        let edited = state.clone().reduce(Action::Edit("*nat\nCOMMIT\n".to_string()));
        assert_eq!(edited.edits, 1);
        assert!(!edited.is_current());
        assert_eq!(edited.reading, state.reading);
        assert_eq!(edited.reading.parsed.ruleset.tables[0].name.as_str(), "filter");

        let read = edited.reduce(Action::Read);
        assert!(read.is_current());
        assert_eq!(read.reading.generation, 1);
        assert_eq!(read.reading.parsed.ruleset.tables[0].name.as_str(), "nat");
    }

    #[test]
    fn an_edit_to_the_same_text_changes_nothing() {
        let state = Rc::new(Playground::new("*filter\nCOMMIT\n".to_string()));
        let same = state.clone().reduce(Action::Edit("*filter\nCOMMIT\n".to_string()));
        assert!(Rc::ptr_eq(&state, &same));
        let reread = same.clone().reduce(Action::Read);
        assert!(Rc::ptr_eq(&same, &reread));
    }
}
