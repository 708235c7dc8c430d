//! One line that says what the core read: how many tables, chains and rules, or how many errors.

use crate::state::Reading;
use std::rc::Rc;
use yew::prelude::*;

/// Properties of [`Summary`].
#[derive(Properties, PartialEq)]
pub struct SummaryProps {
    /// The core's last reading.
    pub reading: Rc<Reading>,
    /// Whether the reading is of the text now in the editor (false while the debounce waits).
    pub reading_current: bool,
}

/// "3 tables, 12 chains, 25 rules", or "2 errors", with the number of warnings beside it.
#[function_component]
pub fn Summary(props: &SummaryProps) -> Html {
    let parsed = &props.reading.parsed;
    let errors = parsed.errors().count();
    let warnings = parsed.warnings().count();
    let (text, class) = if errors > 0 {
        (count(errors, "error"), "summary has-errors")
    } else {
        let rs = &parsed.ruleset;
        let text = format!(
            "{}, {}, {}",
            count(rs.tables.len(), "table"),
            count(rs.chain_count(), "chain"),
            count(rs.rule_count(), "rule")
        );
        (text, "summary ok")
    };
    html! {
        <div class="status" role="status" aria-live="polite" aria-busy={(!props.reading_current).to_string()}>
            <p data-testid="summary" class={class}>{text}</p>
            if warnings > 0 {
                <p class="summary-warnings">{count(warnings, "warning")}</p>
            }
        </div>
    }
}

/// "1 rule", "2 rules".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_are_pluralised() {
        assert_eq!(count(0, "table"), "0 tables");
        assert_eq!(count(1, "chain"), "1 chain");
        assert_eq!(count(25, "rule"), "25 rules");
    }
}
