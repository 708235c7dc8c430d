//! What the core read: the tables, their chains, and each chain's rules in the kernel's numbering.

use crate::state::Reading;
use chainwalk_core::render::save;
use chainwalk_core::ruleset::{Chain, Rule, Table};
use chainwalk_core::Span;
use std::rc::Rc;
use yew::prelude::*;

/// Properties of [`RulesetView`].
#[derive(Properties, PartialEq)]
pub struct RulesetProps {
    /// The core's last reading.
    pub reading: Rc<Reading>,
    /// Called with a rule's span when the user picks it.
    pub onselect: Callback<Span>,
}

/// The tables → chains → rules of the reading. Lines with errors are not in it (the core leaves them out).
#[function_component]
pub fn RulesetView(props: &RulesetProps) -> Html {
    let tables = &props.reading.parsed.ruleset.tables;
    html! {
        <section class="panel ruleset" aria-labelledby="ruleset-title">
            <div class="panel-head">
                <h2 id="ruleset-title">{"Tables, chains and rules"}</h2>
            </div>
            if tables.is_empty() {
                <p class="empty">{"No tables yet: a dump has blocks that start with a line like "}
                    <code>{"*filter"}</code>{" and end with "}<code>{"COMMIT"}</code>{"."}</p>
            }
            { for tables.iter().map(|t| table(t, &props.onselect)) }
        </section>
    }
}

fn table(t: &Table, onselect: &Callback<Span>) -> Html {
    let name = t.name.as_str();
    html! {
        <section key={name} class="table" data-testid="table" data-table={name} aria-label={format!("table {name}")}>
            <h3 class="table-title">
                <span class="table-name">{name}</span>
                <span class="meta">{format!("line {}", t.span.line)}</span>
            </h3>
            { for t.chains.iter().map(|c| chain(c, onselect)) }
        </section>
    }
}

fn chain(c: &Chain, onselect: &Callback<Span>) -> Html {
    let rules = match c.rules.len() {
        1 => "1 rule".to_string(),
        n => format!("{n} rules"),
    };
    html! {
        <details key={c.name.clone()} class="chain" data-testid="chain" data-chain={c.name.clone()} open=true>
            <summary>
                <span class="chain-name">{c.name.clone()}</span>
                if let Some(policy) = c.policy {
                    <span class={classes!("policy", policy.as_str().to_ascii_lowercase())}>
                        {"policy "}{policy.as_str()}
                    </span>
                } else {
                    <span class="policy user">{"user-defined"}</span>
                }
                if !c.declared {
                    <span class="meta" title="a built-in chain the dump does not declare">{"not in the dump"}</span>
                }
                <span class="meta">{rules}</span>
            </summary>
            if !c.rules.is_empty() {
                <ol class="rules">
                    { for c.rules.iter().enumerate().map(|(i, r)| rule(&c.name, i + 1, r, onselect)) }
                </ol>
            }
        </details>
    }
}

/// One rule as `iptables-save` prints it, with its number in the chain and its line in the dump.
fn rule(chain: &str, number: usize, r: &Rule, onselect: &Callback<Span>) -> Html {
    let mut text = String::new();
    save::rule(chain, r, Default::default(), &mut text);
    let span = r.span;
    let onclick = onselect.reform(move |_: MouseEvent| span);
    html! {
        <li key={number} class="rule" data-testid="rule" data-line={span.line.to_string()}>
            <button type="button" {onclick} title={format!("rule {number} of {chain}; show line {} in the dump", span.line)}>
                <span class="rule-number">{number}</span>
                <code class="rule-text">{text}</code>
                <span class="rule-line">{format!("line {}", span.line)}</span>
            </button>
        </li>
    }
}
