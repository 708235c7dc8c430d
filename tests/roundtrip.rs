//! Property test: random rulesets (in the forms people and tools write) read without errors, print back in
//! canonical form, and that form reads back to the same ruleset and prints identically.

use chainwalk_core::{canonical, parse};
use proptest::prelude::*;

fn ipv4() -> impl Strategy<Value = String> {
    (any::<[u8; 4]>(), 0u8..=32).prop_map(|(o, len)| format!("{}.{}.{}.{}/{len}", o[0], o[1], o[2], o[3]))
}

fn neg() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => Just(""), 1 => Just("! ")]
}

fn port_range() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u16>().prop_map(|p| p.to_string()),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("{}:{}", a.min(b), a.max(b))),
        Just("ssh".to_string()),
    ]
}

/// Free text for comments and log prefixes: letters, blanks, quotes, backslashes, punctuation.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('a'),
            Just('Z'),
            Just('0'),
            Just(' '),
            Just('"'),
            Just('\\'),
            Just('\''),
            Just('/'),
            Just(':'),
            Just('-')
        ],
        1..max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The protocol part and the matches that go with it.
fn proto_and_matches() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (neg(), port_range(), proptest::option::of(port_range())).prop_map(|(n, d, s)| {
            let sport = s.map(|s| format!(" --sport {s}")).unwrap_or_default();
            format!(" -p tcp -m tcp {n}--dport {d}{sport}")
        }),
        Just(" -p tcp --syn".to_string()),
        (port_range()).prop_map(|d| format!(" -p udp --dport {d}")),
        proptest::collection::vec(any::<u16>(), 1..5).prop_map(|ports| {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            format!(" -p tcp -m multiport --dports {}", list.join(","))
        }),
        (0u8..=18).prop_map(|t| format!(" -p icmp --icmp-type {t}")),
        Just(" ! -p udp".to_string()),
    ]
}

fn other_match() -> impl Strategy<Value = String> {
    prop_oneof![
        text(30).prop_map(|t| format!(" -m comment --comment {}", quoted(&t))),
        proptest::sample::subsequence(vec!["INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED"], 1..4)
            .prop_map(|s| format!(" -m conntrack --ctstate {}", s.join(","))),
        (neg(), any::<u32>(), proptest::option::of(any::<u32>())).prop_map(|(n, v, m)| match m {
            Some(m) => format!(" -m mark {n}--mark {v:#x}/{m:#x}"),
            None => format!(" -m mark {n}--mark {v}"),
        }),
        (1u32..100, prop_oneof![Just("sec"), Just("min"), Just("hour")])
            .prop_map(|(n, u)| format!(" -m limit --limit {n}/{u}")),
        Just(" -m addrtype --dst-type LOCAL".to_string()),
        (any::<[u8; 4]>(), any::<[u8; 4]>()).prop_map(|(a, b)| {
            let (a, b) =
                (u32::from_be_bytes(a).min(u32::from_be_bytes(b)), u32::from_be_bytes(a).max(u32::from_be_bytes(b)));
            format!(" -m iprange --src-range {}-{}", std::net::Ipv4Addr::from(a), std::net::Ipv4Addr::from(b))
        }),
    ]
}

fn generic(allow_in: bool) -> impl Strategy<Value = String> {
    (
        proptest::option::of((neg(), ipv4())),
        proptest::option::of((neg(), ipv4())),
        proptest::option::of((neg(), prop_oneof![Just("eth0"), Just("ppp+"), Just("docker0"), Just("br-1a2b3c")])),
    )
        .prop_map(move |(s, d, i)| {
            let mut out = String::new();
            if let Some((n, a)) = s {
                out.push_str(&format!(" {n}-s {a}"));
            }
            if let Some((n, a)) = d {
                out.push_str(&format!(" {n}-d {a}"));
            }
            if let Some((n, a)) = i.filter(|_| allow_in) {
                out.push_str(&format!(" {n}-i {a}"));
            }
            out
        })
}

/// A target for a rule in `chain` of the filter table, which may jump to the user chains after it.
fn target(later_chains: Vec<&'static str>) -> impl Strategy<Value = String> {
    let jumps: Vec<String> = later_chains.iter().map(|c| format!(" -j {c}")).collect();
    let gotos: Vec<String> = later_chains.iter().map(|c| format!(" -g {c}")).collect();
    let mut options = vec![
        Just(String::new()).boxed(),
        Just(" -j ACCEPT".to_string()).boxed(),
        Just(" -j DROP".to_string()).boxed(),
        Just(" -j RETURN".to_string()).boxed(),
        text(20)
            .prop_map(|t| format!(" -j LOG --log-prefix {}", quoted(&t.chars().take(29).collect::<String>())))
            .boxed(),
        (any::<u32>(), any::<u32>()).prop_map(|(v, m)| format!(" -j MARK --set-xmark {v:#x}/{m:#x}")).boxed(),
    ];
    if !jumps.is_empty() {
        options.push(proptest::sample::select(jumps).boxed());
        options.push(proptest::sample::select(gotos).boxed());
    }
    proptest::strategy::Union::new(options)
}

fn rule(chain: &'static str, later: Vec<&'static str>) -> impl Strategy<Value = String> {
    (generic(chain != "OUTPUT"), proto_and_matches(), proptest::collection::vec(other_match(), 0..3), target(later))
        .prop_map(move |(g, p, m, t)| format!("-A {chain}{g}{p}{}{t}", m.concat()))
}

fn dump() -> impl Strategy<Value = String> {
    const CHAINS: [&str; 5] = ["INPUT", "FORWARD", "OUTPUT", "USER-A", "user_b"];
    let rules = proptest::collection::vec(
        (0usize..5).prop_flat_map(|c| rule(CHAINS[c], CHAINS[c.max(2) + 1..].to_vec())),
        0..25,
    );
    (rules, any::<bool>(), any::<bool>()).prop_map(|(rules, drop_policy, counters)| {
        let mut out = String::from("# Generated by a property test\n*filter\n");
        out.push_str(&format!(
            ":INPUT {} [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
            if drop_policy { "DROP" } else { "ACCEPT" }
        ));
        out.push_str(":USER-A - [0:0]\n:user_b - [0:0]\n");
        for (i, r) in rules.iter().enumerate() {
            if counters {
                out.push_str(&format!("[{i}:{}] ", i * 60));
            }
            out.push_str(r);
            out.push('\n');
        }
        out.push_str("COMMIT\n");
        out
    })
}

/// The ruleset as JSON without positions, which legitimately differ between the two texts.
fn shape(text: &str) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("span");
                map.remove("commit");
                map.remove("implicit");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(parse(text, None).ruleset).expect("a ruleset serializes");
    strip(&mut v);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_rulesets_print_and_read_back_the_same(text in dump()) {
        let first = parse(&text, None);
        let errors: Vec<String> = first.errors().map(|d| d.to_string()).collect();
        prop_assert!(errors.is_empty(), "{}\n{}", text, errors.join("\n"));
        let printed = canonical(&first);
        let second = parse(&printed, None);
        prop_assert!(!second.has_errors(), "canonical form does not read back:\n{printed}");
        prop_assert_eq!(canonical(&second), printed.clone());
        prop_assert_eq!(shape(&printed), shape(&text));
    }
}
