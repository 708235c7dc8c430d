//! The playground's state: the three inputs, the last answer from the worker, and the player.
//!
//! The dump's textarea is not re-rendered on every keystroke (a 100k-rule dump is 15 MB of text): typing
//! only marks it changed ([`Action::RulesTyped`]), and the text is read once the typing pauses
//! ([`Action::Settle`]). The host and packet are small and follow every keystroke. Every settled change
//! bumps [`Playground::job`], which the app turns into a request to the worker; the answer comes back as
//! [`Action::Result`].

use crate::bridge::Delivery;
use crate::examples::Example;
use crate::protocol::{Entry, Outcome, Walk};
use crate::timeline::{self, Moment};
use std::rc::Rc;
use yew::Reducible;

/// The player's speeds, as multiples of the normal pace.
pub const SPEEDS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];

/// How long the player stays on one moment at speed 1, in milliseconds.
pub const PACE_MS: f64 = 700.0;

/// Which TRACE log the page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStyle {
    /// The legacy `ip_tables` TRACE target's lines.
    Legacy,
    /// `xtables-monitor --trace` for the nf_tables backend.
    Nft,
}

/// An answer from the worker, with what the page needs to show it.
#[derive(Debug)]
pub struct Shown {
    /// The request it answers.
    pub seq: u64,
    /// The dump it is about.
    pub rules: Rc<str>,
    /// The answer.
    pub outcome: Outcome,
    /// The player's moments of its walk.
    pub moments: Vec<Moment>,
}

impl PartialEq for Shown {
    fn eq(&self, other: &Shown) -> bool {
        self.seq == other.seq
    }
}

impl Shown {
    /// The walk, if there is one.
    pub fn walk(&self) -> Option<&Walk> {
        self.outcome.walk.as_ref()
    }

    /// The text of the dump in the byte range `range`, if it is in it.
    pub fn source(&self, range: std::ops::Range<usize>) -> Option<&str> {
        self.rules.get(range)
    }
}

/// The dump as the page last read it, with where its lines start.
#[derive(Debug)]
pub struct Dump {
    /// Changes whenever the text does.
    pub version: u64,
    /// The text.
    pub text: Rc<str>,
    /// The byte offset where each line starts.
    pub lines: Vec<usize>,
}

impl Dump {
    fn new(version: u64, text: Rc<str>) -> Dump {
        let lines = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Dump { version, text, lines }
    }

    /// The text of line `number` (from 1), without its line end.
    pub fn line(&self, number: usize) -> &str {
        let Some(&start) = self.lines.get(number.wrapping_sub(1)) else { return "" };
        let end = self.lines.get(number).map_or(self.text.len(), |&next| next - 1);
        self.text[start..end].trim_end_matches('\r')
    }
}

impl PartialEq for Dump {
    fn eq(&self, other: &Dump) -> bool {
        self.version == other.version
    }
}

/// The whole state of the page.
#[derive(Debug, PartialEq)]
pub struct Playground {
    /// The dump as last read from the editor (or loaded into it).
    pub dump: Rc<Dump>,
    /// Changes when the editor must be given [`Playground::dump`]'s text (an example, a permalink); the
    /// editor keeps its own text otherwise.
    pub loaded: u64,
    /// Whether the editor was typed in since its text was last read.
    pub rules_dirty: bool,
    /// The host text.
    pub host: Rc<str>,
    /// The packet line.
    pub packet: Rc<str>,
    /// Counts keystrokes in any input; an effect keyed on it is the debounce.
    pub edits: u64,
    /// Counts settled changes; an effect keyed on it sends the worker a request (numbered `job`).
    pub job: u64,
    /// The value of `edits` when the inputs last settled.
    pub settled_edits: u64,
    /// Assumptions the user flipped.
    pub overrides: Rc<Vec<(String, bool)>>,
    /// Folded runs the user opened, by first step.
    pub expand: Rc<Vec<usize>>,
    /// The example the inputs are, until the user changes them.
    pub example: Option<&'static str>,
    /// A note about the inputs the page started with (a dump that was too big to keep).
    pub notice: Option<String>,
    /// The last answer.
    pub shown: Option<Rc<Shown>>,
    /// Whether work has been going on for long enough to say so.
    pub busy: bool,
    /// The player's moment; `None` shows the whole walk at once.
    pub cursor: Option<usize>,
    /// Whether the player is playing.
    pub playing: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// Which TRACE log is shown.
    pub log_style: LogStyle,
}

/// The three inputs, as an example, a permalink or storage gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs {
    /// The dump.
    pub rules: String,
    /// The host text.
    pub host: String,
    /// The packet line.
    pub packet: String,
}

impl From<Example> for Inputs {
    fn from(e: Example) -> Inputs {
        Inputs { rules: e.rules.into(), host: e.host.into(), packet: e.packet.trim_end().into() }
    }
}

impl Playground {
    /// The state for `inputs`; `example` names the example they are.
    pub fn new(inputs: Inputs, example: Option<&'static str>, notice: Option<String>) -> Playground {
        Playground {
            dump: Rc::new(Dump::new(1, inputs.rules.into())),
            loaded: 1,
            rules_dirty: false,
            host: inputs.host.into(),
            packet: inputs.packet.into(),
            edits: 0,
            job: 1,
            settled_edits: 0,
            overrides: Rc::default(),
            expand: Rc::default(),
            example,
            notice,
            shown: None,
            busy: false,
            cursor: None,
            playing: false,
            speed: 1,
            log_style: LogStyle::Legacy,
        }
    }

    /// Whether the page shows the answer to its inputs as they are now: no edit waits for the debounce,
    /// and the last request has been answered.
    pub fn settled(&self) -> bool {
        self.edits == self.settled_edits && self.shown.as_ref().is_some_and(|s| s.seq == self.job)
    }

    /// How many moments the player has.
    pub fn moments(&self) -> usize {
        self.shown.as_ref().map_or(0, |s| s.moments.len())
    }
}

/// What can happen to the state.
#[derive(Debug)]
pub enum Action {
    /// The user typed in the dump's editor.
    RulesTyped,
    /// The user changed the host text.
    Host(String),
    /// The user changed the packet line (or the packet form wrote it).
    Packet(String),
    /// Typing paused: the editor's text, if it was read (it is read only when it was typed in).
    Settle(Option<Rc<str>>),
    /// An edit replaced the whole dump (after select-all in a big one): the editor is given the new text.
    ReplaceRules(String),
    /// New inputs for all three (an example, a permalink); the example's id, if one.
    Load(Inputs, Option<&'static str>),
    /// The user flipped an assumption: the rule's key and the answer to assume.
    Override(String, bool),
    /// The user opened a folded run, by its first step.
    Expand(usize),
    /// An answer from the worker.
    Result(Box<Delivery>),
    /// Work has taken long enough to say so (true), or is done (false).
    Busy(bool),
    /// Play, or pause when playing.
    PlayPause,
    /// One moment forward (+1) or back (-1).
    Step(isize),
    /// Back to the first moment.
    Restart,
    /// The player's clock: the next moment.
    Tick,
    /// Show moment `n` (the user picked it).
    Select(usize),
    /// Show the whole walk at once.
    ShowAll,
    /// The player's speed (index into [`SPEEDS`]).
    Speed(usize),
    /// Which TRACE log to show.
    LogStyle(LogStyle),
}

impl Reducible for Playground {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = Playground {
            dump: self.dump.clone(),
            host: self.host.clone(),
            packet: self.packet.clone(),
            overrides: self.overrides.clone(),
            expand: self.expand.clone(),
            notice: self.notice.clone(),
            shown: self.shown.clone(),
            ..*self
        };
        match action {
            Action::RulesTyped => {
                next.rules_dirty = true;
                next.edits += 1;
                next.example = None;
            }
            Action::Host(text) => {
                if *self.host == *text {
                    return self;
                }
                next.host = text.into();
                next.edits += 1;
                next.example = None;
            }
            Action::Packet(text) => {
                if *self.packet == *text {
                    return self;
                }
                next.packet = text.into();
                next.edits += 1;
                next.example = None;
            }
            Action::Settle(text) => {
                if let Some(text) = text.filter(|t| **t != *self.dump.text) {
                    next.dump = Rc::new(Dump::new(self.dump.version + 1, text));
                    next.notice = None;
                }
                next.rules_dirty = false;
                next.expand = Rc::default();
                next.job += 1;
                next.settled_edits = self.edits;
            }
            Action::ReplaceRules(text) => {
                next.dump = Rc::new(Dump::new(self.dump.version + 1, text.into()));
                next.loaded += 1;
                next.rules_dirty = false;
                next.job += 1;
                next.settled_edits = self.edits;
                next.expand = Rc::default();
                next.example = None;
                next.notice = None;
            }
            Action::Load(inputs, example) => {
                next.dump = Rc::new(Dump::new(self.dump.version + 1, inputs.rules.into()));
                next.host = inputs.host.into();
                next.packet = inputs.packet.into();
                next.loaded += 1;
                next.rules_dirty = false;
                next.job += 1;
                next.settled_edits = self.edits;
                next.overrides = Rc::default();
                next.expand = Rc::default();
                next.example = example;
                next.notice = None;
            }
            Action::Override(key, value) => {
                let mut overrides: Vec<(String, bool)> =
                    self.overrides.iter().filter(|(k, _)| *k != key).cloned().collect();
                overrides.push((key, value));
                next.overrides = Rc::new(overrides);
                next.expand = Rc::default();
                next.job += 1;
            }
            Action::Expand(first) => {
                let mut expand = (*self.expand).clone();
                expand.push(first);
                next.expand = Rc::new(expand);
                next.job += 1;
            }
            Action::Result(delivery) => {
                let moments = delivery.outcome.walk.as_ref().map(timeline::moments).unwrap_or_default();
                let same_walk = self.shown.as_ref().is_some_and(|s| s.moments.len() == moments.len());
                next.shown = Some(Rc::new(Shown {
                    seq: delivery.seq,
                    rules: delivery.rules,
                    outcome: delivery.outcome,
                    moments,
                }));
                if !same_walk {
                    next.cursor = None;
                    next.playing = false;
                }
            }
            Action::Busy(busy) => next.busy = busy,
            Action::PlayPause => {
                let count = self.moments();
                if self.playing {
                    next.playing = false;
                } else if count > 0 {
                    next.playing = true;
                    // Playing from the end (or the whole walk) starts again at the beginning.
                    next.cursor = match self.cursor {
                        Some(c) if c + 1 < count => Some(c),
                        _ => Some(0),
                    };
                }
            }
            Action::Step(delta) => {
                let count = self.moments();
                next.playing = false;
                if count > 0 {
                    next.cursor = Some(match (self.cursor, delta >= 0) {
                        (None, true) => 0,
                        (None, false) => count - 1,
                        (Some(c), _) => c.saturating_add_signed(delta).min(count - 1),
                    });
                }
            }
            Action::Restart => {
                next.cursor = (self.moments() > 0).then_some(0);
            }
            Action::Tick => {
                let count = self.moments();
                match self.cursor {
                    Some(c) if c + 1 < count => next.cursor = Some(c + 1),
                    _ => next.playing = false,
                }
            }
            Action::Select(n) => {
                next.playing = false;
                next.cursor = (n < self.moments()).then_some(n);
            }
            Action::ShowAll => {
                next.playing = false;
                next.cursor = None;
            }
            Action::Speed(speed) => next.speed = speed.min(SPEEDS.len() - 1),
            Action::LogStyle(style) => next.log_style = style,
        }
        Rc::new(next)
    }
}

/// The entry a moment shows, if it shows one.
pub fn entry_at(walk: &Walk, moment: Moment) -> Option<&Entry> {
    match moment {
        Moment::Entry(e) => walk.entries.get(e),
        Moment::Stage(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{run, Inputs as Work};
    use crate::examples::FIRST;

    fn answered(state: Rc<Playground>) -> Rc<Playground> {
        let parsed = chainwalk_core::parse(&state.dump.text, None);
        let work = Work { host: &state.host, packet: &state.packet, overrides: &[], expand: &[] };
        let outcome = run(&parsed, work);
        state.reduce(Action::Result(Box::new(Delivery { rules: Rc::from(""), seq: 1, outcome })))
    }

    fn first_visit() -> Rc<Playground> {
        Rc::new(Playground::new(FIRST.into(), Some(FIRST.id), None))
    }

    #[test]
    fn typing_marks_the_dump_and_settling_reads_it() {
        let state = first_visit();
        let typed = state.clone().reduce(Action::RulesTyped);
        assert!(typed.rules_dirty);
        assert_eq!((typed.edits, typed.job, typed.example), (1, 1, None));
        let settled = typed.reduce(Action::Settle(Some(Rc::from("*filter\nCOMMIT\n"))));
        assert!(!settled.rules_dirty);
        assert_eq!((settled.dump.version, settled.job), (2, 2));
        assert_eq!(settled.dump.line(1), "*filter");
        // Settling on the same text keeps the version (the worker keeps its reading).
        let again = settled.reduce(Action::Settle(Some(Rc::from("*filter\nCOMMIT\n"))));
        assert_eq!((again.dump.version, again.job), (2, 3));
    }

    #[test]
    fn the_player_walks_the_moments_and_stops_at_the_end() {
        let state = answered(first_visit());
        let count = state.moments();
        assert_eq!(count, 10);
        let playing = state.reduce(Action::PlayPause);
        assert_eq!((playing.playing, playing.cursor), (true, Some(0)));
        let mut s = playing;
        for _ in 0..count + 3 {
            s = s.reduce(Action::Tick);
        }
        assert_eq!((s.playing, s.cursor), (false, Some(count - 1)));
        let back = s.reduce(Action::Step(-1));
        assert_eq!(back.cursor, Some(count - 2));
        let restarted = back.reduce(Action::Restart);
        assert_eq!(restarted.cursor, Some(0));
        let all = restarted.reduce(Action::ShowAll);
        assert_eq!(all.cursor, None);
        assert_eq!(all.clone().reduce(Action::Step(-1)).cursor, Some(count - 1));
        assert_eq!(all.reduce(Action::Step(1)).cursor, Some(0));
    }

    #[test]
    fn flipping_an_assumption_replaces_the_previous_answer_for_that_rule() {
        let state = first_visit();
        let s = state.reduce(Action::Override("nat:KUBE-SVC-X:1".into(), true));
        let s = s.reduce(Action::Override("nat:KUBE-SVC-X:1".into(), false));
        assert_eq!(*s.overrides, vec![("nat:KUBE-SVC-X:1".to_string(), false)]);
        assert_eq!(s.job, 3);
    }

    #[test]
    fn line_text_ignores_line_ends() {
        let dump = Dump::new(1, "a\r\nbb\n\nccc".into());
        assert_eq!([dump.line(1), dump.line(2), dump.line(3), dump.line(4), dump.line(5)], ["a", "bb", "", "ccc", ""]);
        assert_eq!(dump.line(0), "");
    }
}
