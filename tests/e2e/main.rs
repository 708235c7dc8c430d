//! Browser tests of the web playground: the built app (`dist/`) in headless Chromium through chromedriver.
//!
//! Run: `trunk build --release && cargo test --test e2e`. Without `dist/`, Chromium or chromedriver the
//! tests print why and pass; `CHAINWALK_E2E_REQUIRED=1` makes that a failure. Screenshots (light and dark)
//! go to `tests/output/`, and the measurements `scripts/budgets` reports to `tests/output/budgets-*.tsv`.

mod harness;
mod server;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::Locator;
use harness::{run, Browser};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The Docker story every first visit shows.
const STORY: &str = include_str!("../../static/examples/docker-7788.rules");
const STORY_HOST: &str = include_str!("../../static/examples/docker-7788.host");
const STORY_PACKET: &str = include_str!("../../static/examples/docker-7788.packet");

/// A dump with a port out of range on line 4, column 25, after a comment with characters that take more
/// bytes in UTF-8 than units in UTF-16 (so a byte offset used as a DOM index would land elsewhere).
const BROKEN_HEAD: &str = "# é🔥 a comment\n*filter\n:INPUT ACCEPT [0:0]\n";
const BROKEN_TAIL: &str = "-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n";

/// Markup in every place a dump can carry free text: a comment line, comment matches, chain names (which
/// the walk, the verdict and the TRACE log all show) and a log prefix. The packet goes through all of them.
const HOSTILE: &str = r#"*filter
:INPUT ACCEPT [0:0]
:<script>alert(1)</script> - [0:0]
:<img/src=x/onerror=alert(1)> - [0:0]
# <script>alert(1)</script> <img src=x onerror=alert(1)>
-A INPUT -m comment --comment "<script>alert(1)</script>" -j <script>alert(1)</script>
-A <script>alert(1)</script> -j <img/src=x/onerror=alert(1)>
-A <img/src=x/onerror=alert(1)> -p tcp -m comment --comment "<img src=x onerror=alert(1)>" -j LOG --log-prefix "<img src=x onerror=alert(1)>"
-A <img/src=x/onerror=alert(1)> -j DROP
COMMIT
"#;

async fn count(browser: &Browser, selector: &str) -> u64 {
    let n = browser.js("return document.querySelectorAll(arguments[0]).length;", vec![json!(selector)]).await;
    n.as_u64().unwrap_or(u64::MAX)
}

async fn attr(browser: &Browser, selector: &str, name: &str) -> Option<String> {
    let element = browser.client.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("{selector}: {e}"));
    element.attr(name).await.expect("read an attribute")
}

async fn click(browser: &Browser, selector: &str) {
    let element = browser.client.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("{selector}: {e}"));
    element.click().await.unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

/// `selectionStart`, `selectionEnd` of the rules editor, and whether it has the focus.
async fn selection(browser: &Browser) -> (u64, u64, bool) {
    let script = "const t = document.querySelector('[data-testid=rules-input]');
                  return [t.selectionStart, t.selectionEnd, document.activeElement === t];";
    let v = browser.js(script, vec![]).await;
    (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0), v[2].as_bool().unwrap_or(false))
}

/// The UTF-16 index of `needle` in the editor's text, as the DOM counts.
async fn index_in_rules(browser: &Browser, needle: &str) -> u64 {
    let script = "return document.querySelector('[data-testid=rules-input]').value.indexOf(arguments[0]);";
    browser.js(script, vec![json!(needle)]).await.as_u64().expect("the text is in the rules")
}

/// The line (from 1) of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).expect("the line is there") + 1
}

/// Presses `key` on whatever has the focus, as a user does (through WebDriver's actions, not a synthetic
/// event).
async fn press(browser: &Browser, key: char) {
    let keys =
        KeyActions::new("keyboard".into()).then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    browser.client.perform_actions(keys).await.expect("press a key");
}

/// Types `text` into whatever has the focus, one key at a time with `gap` between keys, as a person types.
async fn type_slowly(browser: &Browser, text: &str, gap: Duration) {
    let mut keys = KeyActions::new("typist".into());
    for c in text.chars() {
        let c = if c == '\n' { '\u{E007}' } else { c };
        keys = keys
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c })
            .then(KeyAction::Pause { duration: gap });
    }
    browser.client.perform_actions(keys).await.expect("type");
}

/// The class list of the diagram node `name` (`nat-PREROUTING`, `local`, ...).
async fn node_class(browser: &Browser, name: &str) -> String {
    browser
        .js("return document.querySelector(`[data-node='${arguments[0]}']`).getAttribute('class');", vec![json!(name)])
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_docker_story_is_delivered_locally_because_of_nat_prerouting_rule_1() {
    run(|browser| async move {
        browser.open().await;
        let verdict = browser.wait_for_verdict(|v| !v.starts_with("Reading")).await;
        assert_eq!(browser.input("rules-input").await, STORY);
        assert_eq!(browser.input("host-input").await, STORY_HOST);
        assert_eq!(browser.input("packet-input").await, STORY_PACKET.trim_end());

        assert!(
            verdict.starts_with("Delivered locally through INPUT (198.51.100.2:7788 arrived on ppp0)."),
            "{verdict}"
        );
        let line = line_of(STORY, "-A PREROUTING ! -i p1p1 -p tcp -m multiport");
        assert_eq!(line, 17, "the shipped example moved its rule");
        assert!(
            verdict.contains(&format!(
                "nat PREROUTING rule 1 (line {line}) accepted the packet before any rule jumped to DOCKER, so the DNAT to 172.17.0.2:7788"
            )),
            "{verdict}"
        );
        assert!(verdict.contains("never ran"), "{verdict}");

        // The deciding rule, in the walk, amber (it skipped the DNAT), with the sentence saying what.
        let deciding = "[data-testid=deciding-rule]";
        assert_eq!(count(&browser, deciding).await, 1);
        assert_eq!(attr(&browser, deciding, "data-table").await.as_deref(), Some("nat"));
        assert_eq!(attr(&browser, deciding, "data-chain").await.as_deref(), Some("PREROUTING"));
        assert_eq!(attr(&browser, deciding, "data-rule").await.as_deref(), Some("1"));
        assert_eq!(attr(&browser, deciding, "data-line").await, Some(line.to_string()));
        let class = attr(&browser, deciding, "class").await.unwrap_or_default();
        assert!(class.contains("deciding") && class.contains("skipped"), "{class}");
        let text = browser.text(deciding).await;
        assert!(text.contains("-A PREROUTING ! -i p1p1 -p tcp -m multiport"), "{text}");
        assert!(text.contains("IN=ppp0 is not p1p1"), "the conditions say why: {text}");
        assert!(text.contains("never ran"), "{text}");

        // The same rule everywhere: amber in the diagram and on its line in the editor.
        assert!(node_class(&browser, "nat-PREROUTING").await.contains("deciding-skipped"));
        assert!(node_class(&browser, "local").await.contains("passed"));
        assert!(node_class(&browser, "filter-FORWARD").await.contains("idle"));
        let band = browser
            .js("return [...document.querySelectorAll('.ln.band-skipped')].map(e => e.textContent);", vec![])
            .await;
        assert_eq!(band, json!([line.to_string()]));

        // The TRACE log: the kernel's lines, one per line, as the kernel logs them with this dump: its raw
        // PREROUTING rule 1 (`-j TRACE`) marks the packet, so the log starts after it and ends at nat INPUT.
        let names = |log: &str| -> Vec<String> {
            log.lines().map(|l| l.split(' ').nth(1).unwrap_or_default().to_string()).collect()
        };
        let kernel = [
            "raw:PREROUTING:policy:2",
            "mangle:PREROUTING:policy:1",
            "nat:PREROUTING:rule:1",
            "mangle:INPUT:policy:1",
            "filter:INPUT:rule:1",
            "nat:INPUT:policy:1",
        ];
        let log = browser.text("[data-testid=trace-log]").await;
        assert_eq!(names(&log), kernel);
        assert!(
            log.starts_with(
                "TRACE: raw:PREROUTING:policy:2 IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x00 PREC=0x00 \
                 TTL=41 DF PROTO=TCP SPT=19327 DPT=7788 SYN\n"
            ),
            "{log}"
        );
        // Asked for, the lines before it too: the TRACE rule's own line, as when marked before raw.
        click(&browser, "[data-testid=trace-from]").await;
        let all = browser.text("[data-testid=trace-log]").await;
        assert_eq!(names(&all)[0], "raw:PREROUTING:rule:1");
        assert_eq!(names(&all)[1..], kernel);
        click(&browser, "[data-testid=trace-from]").await;
        assert_eq!(names(&browser.text("[data-testid=trace-log]").await), kernel);

        // The first render, for scripts/budgets: from navigation to the walk on screen.
        let first =
            browser.js("return performance.getEntriesByName('chainwalk:first-walk')[0].startTime;", vec![]).await;
        record("first-render", &[("first walk on screen (ms)", first.as_f64().unwrap_or(f64::NAN))]);
        browser.screenshots("docker-story").await;
        browser.screenshot_at("docker-story-1080p", 1920, Some(1080)).await;
        browser.screenshot_at("docker-story-tablet", 820, Some(1180)).await;
    });
}

#[test]
fn the_fix_forwards_the_packet_to_the_container() {
    run(|browser| async move {
        browser.open().await;
        browser.example("docker-7788-fixed").await;
        let verdict = browser.wait_for_verdict(|v| v.starts_with("Forwarded")).await;
        assert!(verdict.starts_with("Forwarded out docker0 to 172.17.0.2:7788"), "{verdict}");
        let rules = browser.input("rules-input").await;
        assert!(rules.contains("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"), "the fix is loaded");
        let changes = browser.text("[data-testid=changes]").await;
        assert!(changes.contains("198.51.100.2:7788 → 172.17.0.2:7788"), "{changes}");
        assert!(node_class(&browser, "egress").await.contains("passed"));
        assert!(node_class(&browser, "filter-FORWARD").await.contains("passed"));
        assert!(node_class(&browser, "local").await.contains("idle"));
        let log = browser.text("[data-testid=trace-log]").await;
        assert!(log.contains("TRACE: nat:DOCKER:rule:1 "), "{log}");
        assert!(log.contains("OUT=docker0 SRC=203.0.113.7 DST=172.17.0.2"), "{log}");
        browser.screenshots("docker-fix").await;
    });
}

#[test]
fn two_containers_on_a_bridge_are_walked_as_br_netfilter_passes_them() {
    run(|browser| async move {
        browser.open().await;
        browser.example("docker-bridge-icc").await;
        let verdict = browser.wait_for_verdict(|v| v.starts_with("Dropped")).await;
        assert!(verdict.contains("rule 1 of filter DOCKER"), "{verdict}");
        let deciding = "[data-testid=deciding-rule]";
        assert_eq!(attr(&browser, deciding, "data-table").await.as_deref(), Some("filter"));
        assert_eq!(attr(&browser, deciding, "data-chain").await.as_deref(), Some("DOCKER"));
        assert_eq!(attr(&browser, deciding, "data-rule").await.as_deref(), Some("1"));
        let log = browser.text("[data-testid=trace-log]").await;
        assert!(log.contains("TRACE: nat:PREROUTING:policy:2 IN=docker0 OUT= PHYSIN=veth1 SRC=172.17.0.2"), "{log}");
        assert!(
            log.contains("TRACE: filter:DOCKER:rule:1 IN=docker0 OUT=docker0 PHYSIN=veth1 PHYSOUT=veth2 "),
            "{log}"
        );
        let diamond = browser.text("[data-node=routing-in] text").await;
        assert_eq!(diamond, "bridge", "the bridge decides where routing would");
        // Bridged, not routed: the packet never reaches the host's own input path.
        assert!(node_class(&browser, "local").await.contains("idle"));
        browser.screenshots("docker-bridge-icc").await;
    });
}

#[test]
fn a_broken_rule_is_shown_at_its_line_and_column() {
    run(|browser| async move {
        browser.open().await;
        browser.paste("rules-input", BROKEN_HEAD).await;
        // Type the rule for real, so the debounce sees keystrokes.
        let editor = browser.client.find(Locator::Css("[data-testid=rules-input]")).await.expect("the editor");
        editor.send_keys(BROKEN_TAIL).await.expect("type into the editor");
        assert_eq!(browser.input("rules-input").await, format!("{BROKEN_HEAD}{BROKEN_TAIL}"));
        assert_eq!(browser.wait_for_summary(|s| s.ends_with("error")).await, "1 error");

        let verdict = browser.verdict().await;
        assert!(verdict.starts_with("The rules have an error, so there is no walk. Line 4, column 25: "), "{verdict}");
        assert!(verdict.contains("99999"), "{verdict}");
        assert_eq!(count(&browser, "[data-testid=errors] [data-testid=diagnostic]").await, 1);
        let item = "[data-testid=errors] [data-testid=diagnostic]";
        assert_eq!(attr(&browser, item, "data-line").await.as_deref(), Some("4"));
        assert_eq!(attr(&browser, item, "data-col").await.as_deref(), Some("25"));
        let text = browser.text(item).await;
        assert!(text.starts_with("4:25 error: "), "{text:?}");

        // In the editor: line 4's number is marked, and the bad port is underlined where it is written.
        assert_eq!(browser.text(".ln-error").await, "4");
        assert_eq!(browser.text(".mark-error").await, "99999");
        let script = "const m = document.querySelector('.mark-error').getBoundingClientRect();
                      const t = document.querySelector('[data-testid=rules-input]').getBoundingClientRect();
                      return [m.top - t.top, m.left - t.left];";
        let at = browser.js(script, vec![]).await;
        let (top, left) = (at[0].as_f64().unwrap_or(0.0), at[1].as_f64().unwrap_or(0.0));
        assert!((60.0..=64.0).contains(&top), "line 4 is 3 lines of 20 px below the first: {top}");
        assert!(left > 150.0, "the underline starts at column 25, not at the line's start: {left}");
        browser.screenshots("broken-rule").await;

        // Picking the finding selects the bad argument in the editor, counted in UTF-16 units.
        click(&browser, &format!("{item} button")).await;
        let (start, end, focused) = selection(&browser).await;
        assert!(focused, "the editor has the focus");
        assert_eq!(start, index_in_rules(&browser, "99999").await);
        assert!(end >= start + 5, "the selection covers the port: {start}..{end}");
    });
}

#[test]
fn a_permalink_restores_the_same_state_in_a_new_browser() {
    run(|browser| async move {
        browser.open().await;
        let rules = format!("{STORY}# a comment é🔥 <b>x</b>\n");
        let host = "# ip -br addr\neth9  UP  198.51.100.2/24\n";
        let packet = "tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in eth9 syn";
        browser.paste("rules-input", &rules).await;
        browser.paste("host-input", host).await;
        browser.paste("packet-input", packet).await;
        let verdict = browser.wait_for_verdict(|v| v.contains("eth9")).await;
        click(&browser, "[data-testid=permalink]").await;
        // The browser deflates the inputs asynchronously; the address changes when it is done.
        let deadline = Instant::now() + Duration::from_secs(5);
        let url = loop {
            let url = browser.js("return location.href;", vec![]).await.as_str().unwrap_or_default().to_string();
            if url.contains("#s=") || Instant::now() > deadline {
                break url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(url.contains("#s="), "{url}");

        let other = browser.fresh().await;
        other.goto(&url).await;
        assert_eq!(other.wait_for_verdict(|v| v.contains("eth9")).await, verdict);
        assert_eq!(other.input("rules-input").await, rules);
        assert_eq!(other.input("host-input").await, host);
        assert_eq!(other.input("packet-input").await, packet);
        let stored = other.js("return localStorage.length;", vec![]).await;
        let _ = other.client.close().await;
        assert!(stored.as_u64().unwrap_or(0) > 0, "the restored inputs are kept like any others");

        // The inputs never reached the server: no request carried more than a file's path.
        for request in browser.server.requests() {
            assert!(!request.path.contains("s=") && request.path.len() < 80, "{request:?}");
        }
    });
}

/// A link the page wrote before the browser's own deflater did the work (with the Rust deflater
/// `miniz_oxide`, at level 6): the format is raw deflate either way, so old links open the same.
const EARLIER_LINK: &str = "s=RY0xC8IwFIT_yiOjmJiGLmYQSnToUBuknYyD1EirNQ1JHET876Yt4lsO3t1990bu2WuPOFpcuz5opwzP97KuYHsoJRwppydlcAbzE1sIjQX8mAVf7OACMAb4BpkQO1kpI8qiyKOiJWoHHyJah5ZCLSFZM0IJI2zF0sm35-aux8RI-7kJT2k8wJt_gceJzsAE8i-DPl8";

#[test]
fn a_link_written_by_an_earlier_version_opens() {
    run(|browser| async move {
        browser.goto(&format!("{}#{EARLIER_LINK}", browser.url("/"))).await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        let rules = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
        assert_eq!(browser.input("rules-input").await, rules);
        assert_eq!(browser.input("host-input").await, "eth0 UP 192.0.2.2/24\n");
        assert_eq!(browser.input("packet-input").await, "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn");
    });
}

#[test]
fn a_reload_keeps_the_inputs() {
    run(|browser| async move {
        browser.open().await;
        let rules = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n";
        browser.paste("rules-input", rules).await;
        browser.paste("host-input", "").await;
        browser.paste("packet-input", "udp 192.0.2.1:5353 -> 192.0.2.2:53 in eth0").await;
        browser.wait_for_verdict(|v| v.starts_with("Dropped")).await;
        browser.reload().await;
        assert_eq!(browser.input("rules-input").await, rules);
        assert_eq!(browser.input("host-input").await, "");
        assert_eq!(browser.input("packet-input").await, "udp 192.0.2.1:5353 -> 192.0.2.2:53 in eth0");
        let verdict = browser.wait_for_verdict(|v| v.starts_with("Dropped")).await;
        assert!(verdict.contains("policy"), "{verdict}");
        // No host: the page says chainwalk assumed one.
        let note = browser.text("[data-testid=host-assumed]").await;
        assert!(note.starts_with("No host given: chainwalk assumed 192.0.2.2 is an address of eth0"), "{note}");
    });
}

#[test]
fn hostile_text_stays_text() {
    run(|browser| async move {
        browser.open().await;
        browser.js("window.alert = () => { window.alerted = true; };", vec![]).await;
        let scripts = count(&browser, "script").await;
        let images = count(&browser, "img").await;
        browser.paste("rules-input", HOSTILE).await;
        browser.paste("host-input", "").await;
        browser.paste("packet-input", "tcp 192.0.2.1:1 -> 192.0.2.2:22 in eth0 syn").await;
        let verdict = browser.wait_for_verdict(|v| v.starts_with("Dropped")).await;
        // Let anything that could run, run.
        tokio::time::sleep(Duration::from_millis(300)).await;

        assert_eq!(count(&browser, "script").await, scripts, "no script element was created");
        assert_eq!(count(&browser, "img").await, images, "no img element was created");
        assert_eq!(count(&browser, "[onerror]").await, 0);
        assert_eq!(browser.js("return window.alerted === undefined;", vec![]).await, json!(true));
        assert!(browser.client.get_alert_text().await.is_err(), "no alert is open");
        assert_eq!(browser.input("rules-input").await, HOSTILE);

        // Shown, as text, where the page shows names, comments and prefixes.
        assert!(verdict.contains("rule 2 of filter <img/src=x/onerror=alert(1)>"), "{verdict}");
        let walk = browser.text("[data-testid=walk]").await;
        assert!(walk.contains(r#"--comment "<script>alert(1)</script>" -j <script>alert(1)</script>"#), "{walk}");
        assert!(walk.contains(r#"--log-prefix "<img src=x onerror=alert(1)>""#), "{walk}");
        let log = browser.text("[data-testid=trace-log]").await;
        assert!(log.contains("TRACE: filter:<script>alert(1)</script>:rule:1 "), "{log}");
        browser.screenshots("hostile").await;
    });
}

#[test]
fn the_page_asks_only_its_own_origin() {
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        let loaded = browser.server.requests().len();

        // Use everything: examples, typing, the player, the permalink, an assumption, the log styles.
        browser.example("kube-clusterip").await;
        browser.wait_for_verdict(|v| v.starts_with("Forwarded")).await;
        click(&browser, "[data-testid=assumption] label").await;
        browser.wait_for_verdict(|v| v.contains("10.244.0.6")).await;
        browser.paste("rules-input", HOSTILE).await;
        browser.wait_for_summary(|s| s.starts_with("1 table")).await;
        click(&browser, "[data-testid=play]").await;
        click(&browser, "[data-testid=permalink]").await;
        click(&browser, "[aria-controls=log-nft]").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = browser.server.requests();
        assert_eq!(after.len(), loaded, "requests after the page loaded: {:#?}", &after[loaded..]);

        // And what it loaded came from its own origin, files of dist/ only.
        let script = "return performance.getEntriesByType('resource').map(e => e.name);";
        let resources = browser.js(script, vec![]).await;
        let resources: Vec<&str> = resources.as_array().expect("a list").iter().filter_map(Value::as_str).collect();
        assert!(!resources.is_empty());
        for url in &resources {
            assert!(url.starts_with(&format!("{}/", browser.server.origin)), "{url} is not on the page's origin");
        }
        let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
        for request in &after {
            assert_eq!(request.status, 200, "{request:?}");
            let file = if request.path == "/" { "index.html" } else { &request.path[1..] };
            assert!(dist.join(file).is_file(), "{request:?} is not a file of dist/");
        }
        let asked = |suffix: &str| after.iter().any(|r| r.path.ends_with(suffix));
        assert!(
            asked("/") && asked(".wasm") && asked(".js") && asked(".css") && asked("/static/worker.js"),
            "{after:#?}"
        );
    });
}

#[test]
fn the_content_security_policy_allows_only_the_pages_own_scripts() {
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        let policy = attr(&browser, "meta[http-equiv=Content-Security-Policy]", "content").await.unwrap_or_default();
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval'"), "{policy}");
        assert!(policy.contains("worker-src 'self'"), "{policy}");
        assert!(policy.contains("style-src 'self'"), "{policy}");
        assert!(!policy.contains("unsafe-inline") && !policy.contains("blob:"), "{policy}");
        assert_eq!(count(&browser, "script:not([src])").await, 0, "an inline script would need 'unsafe-inline'");
        // The walk ran in the worker, and the console has no errors or warnings: a CSP violation would be an
        // error ("Refused to ... because it violates the following Content Security Policy").
        let console = browser.console().await;
        let bad: Vec<&Value> = console
            .iter()
            .filter(|m| {
                let text = m["message"].as_str().unwrap_or_default();
                m["level"] == "SEVERE" || m["level"] == "WARNING" || text.contains("Content Security Policy")
            })
            .collect();
        assert!(bad.is_empty(), "console: {bad:#?}");
    });
}

#[test]
fn the_player_steps_through_the_walk_and_shows_each_rule() {
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        // The keyboard: focus on the page, not in an input.
        click(&browser, ".verdict-about").await;
        press(&browser, '\u{E014}').await; // ArrowRight
        assert_eq!(browser.text("[data-testid=player-position]").await, "1 / 10");
        assert!(node_class(&browser, "raw-PREROUTING").await.contains("current"));
        // The step's rule is selected in the editor (without taking the keyboard) and its line is marked.
        let (start, _, focused) = selection(&browser).await;
        assert!(!focused);
        assert_eq!(start, index_in_rules(&browser, "-A PREROUTING -p tcp -m tcp --dport 7788 -j TRACE").await);
        assert_eq!(browser.text(".ln.band-current").await, "5");
        for _ in 0..3 {
            press(&browser, '\u{E014}').await;
        }
        press(&browser, '\u{E012}').await; // ArrowLeft
        assert_eq!(browser.text("[data-testid=player-position]").await, "3 / 10");
        assert!(node_class(&browser, "conntrack-PREROUTING").await.contains("current"));
        assert!(node_class(&browser, "nat-PREROUTING").await.contains("ahead"));
        browser.screenshots("player").await;

        // Space plays to the end, where it stops on local delivery.
        press(&browser, ' ').await;
        assert_eq!(attr(&browser, "[data-testid=play]", "aria-label").await.as_deref(), Some("Pause"));
        let deadline = Instant::now() + Duration::from_secs(15);
        while browser.text("[data-testid=player-position]").await != "10 / 10" {
            assert!(Instant::now() < deadline, "the player did not reach the end");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(attr(&browser, "[data-testid=play]", "aria-label").await.as_deref(), Some("Play"));
        assert!(node_class(&browser, "local").await.contains("current"));

        // Picking a rule in the walk moves the player there.
        click(&browser, "[data-testid=deciding-rule] summary").await;
        assert_eq!(browser.text("[data-testid=player-position]").await, "5 / 10");
        assert!(node_class(&browser, "nat-PREROUTING").await.contains("current"));
    });
}

#[test]
fn the_packet_form_and_line_stay_in_sync() {
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        browser.paste("packet-input", "tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn").await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        assert_eq!(browser.js("return document.getElementById('pf-dport').value;", vec![]).await, json!("7788"));
        // The form writes the line.
        let script = "const f = document.getElementById('pf-dport'); f.value = '22';
                      f.dispatchEvent(new Event('change', { bubbles: true }));";
        browser.js(script, vec![]).await;
        assert_eq!(browser.input("packet-input").await, "tcp 203.0.113.7:40000 -> 198.51.100.2:22 in ppp0 syn");
        click(&browser, "#pf-flag-ack").await;
        assert_eq!(browser.input("packet-input").await, "tcp 203.0.113.7:40000 -> 198.51.100.2:22 in ppp0 syn ack");
        let script = "const f = document.getElementById('pf-origin'); f.value = 'local';
                      f.dispatchEvent(new Event('change', { bubbles: true }));";
        browser.js(script, vec![]).await;
        assert_eq!(browser.input("packet-input").await, "tcp 203.0.113.7:40000 -> 198.51.100.2:22 syn ack");
        // And the line, the form.
        browser.paste("packet-input", "udp 203.0.113.7:5353 -> 198.51.100.2:53 in ppp0 state established").await;
        assert_eq!(browser.js("return document.getElementById('pf-proto').value;", vec![]).await, json!("udp"));
        assert_eq!(browser.js("return document.getElementById('pf-state').value;", vec![]).await, json!("ESTABLISHED"));
        // A line that cannot be read says where.
        browser.paste("packet-input", "tcp 203.0.113.7:1 -> nowhere:2").await;
        let verdict = browser.wait_for_verdict(|v| v.starts_with("The packet cannot be read")).await;
        assert!(verdict.contains("(column 22)"), "{verdict}");
        assert_eq!(attr(&browser, "[data-testid=packet-input]", "aria-invalid").await.as_deref(), Some("true"));
    });
}

#[test]
fn an_assumption_can_be_flipped() {
    run(|browser| async move {
        browser.open().await;
        browser.example("kube-clusterip").await;
        let before = browser.wait_for_verdict(|v| v.starts_with("Forwarded")).await;
        assert!(before.starts_with("Forwarded out cni0 to 10.244.0.8:8080"), "the second endpoint: {before}");
        let assumption = browser.text("[data-testid=assumption]").await;
        assert!(assumption.contains("statistic --mode random --probability 0.5"), "{assumption}");
        let checked = "return document.querySelector('[data-testid=assumption] input').checked;";
        assert_eq!(browser.js(checked, vec![]).await, json!(false));
        click(&browser, "[data-testid=assumption] label").await;
        let after = browser.wait_for_verdict(|v| v != before).await;
        assert!(after.starts_with("Forwarded out cni0 to 10.244.0.6:8080"), "the first endpoint: {after}");
        assert_eq!(browser.js(checked, vec![]).await, json!(true));
        browser.screenshots("kube-clusterip-flipped").await;
    });
}

/// Generates the 100k-rule kube-proxy dump once (with the bench crate's generator) and returns its path.
fn kube_dump() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("target/e2e-data/kube-100000.rules");
    if !path.is_file() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create target/e2e-data");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .args(["run", "--quiet", "--release", "-p", "chainwalk-bench", "--bin", "gen-dump", "--", "kube", "100000"])
            .current_dir(root)
            .output()
            .expect("run gen-dump");
        assert!(out.status.success(), "gen-dump failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(&path, out.stdout).expect("write the dump");
    }
    path
}

/// Writes measurements for `scripts/budgets` to `tests/output/budgets-NAME.tsv`.
fn record(name: &str, rows: &[(&str, f64)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/output");
    std::fs::create_dir_all(&dir).expect("create tests/output");
    let text: String = rows.iter().map(|(what, value)| format!("{what}\t{value:.1}\n")).collect();
    std::fs::write(dir.join(format!("budgets-{name}.tsv")), text).expect("write the measurements");
}

/// A kube-proxy node: pods on cni0, the rest of the world through eth0, forwarding on.
const KUBE_HOST: &str = "# ip -br addr\nlo UNKNOWN 127.0.0.1/8\neth0 UP 192.168.0.10/24\ncni0 UP 10.244.1.1/24\n\
                         # ip route\ndefault via 192.168.0.1 dev eth0\n# sysctl\nnet.ipv4.ip_forward = 1\n";

/// Starts measuring keystrokes: for each keydown, the time until the frame after it is drawn (a
/// `requestAnimationFrame` callback, then a task after it), in `window.keystrokes`.
const MEASURE_KEYS: &str = "window.keystrokes = [];
    document.addEventListener('keydown', (e) => {
        const t = e.timeStamp;
        requestAnimationFrame(() => {
            const c = new MessageChannel();
            c.port1.onmessage = () => window.keystrokes.push(performance.now() - t);
            c.port2.postMessage(0);
        });
    }, { capture: true });";

/// Scrolls the rules to the top, puts the caret at their start and forgets the keystrokes measured so far.
async fn caret_at_start(browser: &Browser) {
    browser.js("document.querySelector('.scroller').scrollTop = 0;", vec![]).await;
    // The scroll event moves the editor's window (for a big dump) before the caret is placed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let script = "const t = document.querySelector('[data-testid=rules-input]');
                  t.focus({ preventScroll: true }); t.setSelectionRange(0, 0); window.keystrokes = [];";
    browser.js(script, vec![]).await;
}

/// The median and the worst of the keystrokes measured so far.
async fn keystrokes(browser: &Browser) -> (f64, f64, usize) {
    let keys = browser.js("return window.keystrokes;", vec![]).await;
    let mut keys: Vec<f64> = keys.as_array().expect("a list").iter().filter_map(Value::as_f64).collect();
    keys.sort_by(f64::total_cmp);
    assert!(!keys.is_empty(), "no keystroke was measured");
    (keys[keys.len() / 2], keys[keys.len() - 1], keys.len())
}

/// How fast a person types, for the keystroke measurements: a key every 80 ms (150 words a minute).
const TYPING_GAP: Duration = Duration::from_millis(80);

#[test]
fn a_100k_rule_dump_stays_responsive() {
    let dump = std::fs::read_to_string(kube_dump()).expect("the generated dump");
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        browser.js(MEASURE_KEYS, vec![]).await;
        // Typing in the Docker example, for comparison.
        caret_at_start(&browser).await;
        type_slowly(&browser, "# a comment\n", TYPING_GAP).await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        let (small_median, small_worst, _) = keystrokes(&browser).await;

        let script = "window.sawBusy = false;
            new MutationObserver(() => { if (document.querySelector('[data-testid=busy].on')) window.sawBusy = true; })
              .observe(document.body, { subtree: true, attributes: true, childList: true });";
        browser.js(script, vec![]).await;
        // A pod asks a ClusterIP service that has no endpoints: the packet meets all 8,672 rules of nat
        // KUBE-SERVICES, is forwarded, and filter KUBE-SERVICES rejects it with its 240th rule.
        browser.paste("host-input", KUBE_HOST).await;
        browser.paste("packet-input", "tcp 10.244.1.5:40000 -> 10.104.70.99:80 in cni0 syn").await;
        browser.wait_for_verdict(|v| !v.starts_with("Reading")).await;
        let started = Instant::now();
        browser.paste("rules-input", &dump).await;
        let summary = browser.wait_for_summary(|s| s.ends_with("100,000 rules")).await;
        let waited = started.elapsed();
        assert_eq!(summary, "3 tables, 35,115 chains, 100,000 rules");
        let verdict = browser.verdict().await;
        assert!(
            verdict
                .starts_with("Rejected (icmp-port-unreachable) in filter FORWARD by rule 240 of filter KUBE-SERVICES"),
            "{verdict}"
        );
        assert_eq!(
            browser.js("return window.sawBusy;", vec![]).await,
            json!(true),
            "work over 200 ms shows the progress indicator"
        );

        // Where the time went: the worker's phases (its timing, on the page), the page's own (its
        // performance measures), and the whole trip from the page's request to the answer on screen.
        let script = "const t = document.querySelector('[data-testid=timing]').dataset;
            const last = (name) => { const e = performance.getEntriesByName(name); return e[e.length - 1].duration; };
            return [t.receiveMs, t.parseMs, t.indexMs, t.walkMs, t.shapeMs].map(parseFloat)
              .concat(['chainwalk:roundtrip', 'chainwalk:deserialize', 'chainwalk:render', 'chainwalk:on-screen'].map(last));";
        let timing = browser.js(script, vec![]).await;
        let ms = |i: usize| timing[i].as_f64().unwrap_or(f64::NAN);
        let (receive, parse, index, walk, shape) = (ms(0), ms(1), ms(2), ms(3), ms(4));
        let (trip, deserialize, render, on_screen) = (ms(5), ms(6), ms(7), ms(8));
        let analysis = index + walk + shape;
        // What the worker did not count: writing the answer, the two messages, and the page's reading of it.
        let transfer = trip - receive - parse - analysis - deserialize;

        // Thousands of rules of nat KUBE-SERVICES that did not match are one line.
        let run = "[data-testid=run]";
        let folded = browser.text(run).await;
        let folded_count: usize = folded.split(' ').next().unwrap_or_default().replace(',', "").parse().unwrap_or(0);
        assert!(folded_count > 5000 && folded.contains(" rules did not match · rules 1–"), "{folded}");

        // Typing in the editor with the dump loaded; after the pauses the dump is read and walked again,
        // and the last keys come while the worker works.
        caret_at_start(&browser).await;
        type_slowly(&browser, "# typing a comment line at the top\n", TYPING_GAP).await;
        browser.wait_for_summary(|s| s.ends_with("100,000 rules")).await;
        type_slowly(&browser, "# more", TYPING_GAP).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        type_slowly(&browser, " typing while it works\n", TYPING_GAP).await;
        browser.wait_for_summary(|s| s.ends_with("100,000 rules")).await;
        let (median, worst, count) = keystrokes(&browser).await;
        assert!(count >= 60, "{count} keystrokes measured");
        assert_typed_lines_on_top(&browser).await;
        eprintln!(
            "100k dump: request to answer on screen {on_screen:.0} ms (paste to answer {waited:?}): worker took it in \
             {receive:.0} ms, read {parse:.0} ms, indexed {index:.0} ms, walked {walk:.0} ms, shaped {shape:.0} ms; \
             answer written and sent {transfer:.0} ms, read by the page {deserialize:.0} ms, rendered {render:.0} ms; \
             keystrokes median {median:.1} ms, worst {worst:.1} ms (Docker example: {small_median:.1}, {small_worst:.1})"
        );
        record(
            "100k",
            &[
                ("100k dump: page request to answer on screen (ms)", on_screen),
                ("100k dump: worker takes the message in (ms)", receive),
                ("100k dump: worker reads it (ms)", parse),
                ("100k dump: worker walks the packet (ms)", analysis),
                ("100k dump: worker indexes the rules (ms)", index),
                ("100k dump: worker walks (ms)", walk),
                ("100k dump: worker shapes the walk for the view (ms)", shape),
                ("100k dump: answer written, sent and taken back (ms)", transfer),
                ("100k dump: page reads the answer (ms)", deserialize),
                ("100k dump: page renders the answer (ms)", render),
                ("keystroke to next frame, 100k dump, median (ms)", median),
                ("keystroke to next frame, 100k dump, worst (ms)", worst),
                ("keystroke to next frame, Docker example, worst (ms)", small_worst),
            ],
        );
        assert!(worst < 100.0, "a keystroke took {worst:.0} ms with the 100k dump loaded");
        browser.screenshots("kube-100k").await;

        // A folded run opens on demand, its rules explained.
        click(&browser, &format!("{run} .button")).await;
        browser.wait_for_summary(|s| s.ends_with("100,000 rules")).await;
        let walk = browser.text("[data-testid=walk]").await;
        assert!(
            walk.contains("DST=10.104.70.99 is not in 10.96.0.1/32, so this does not hold"),
            "{}",
            &walk[..walk.len().min(3000)]
        );

        // A reload keeps the dump, with what was typed: too big for the browser's storage as it is, it was
        // kept deflated.
        browser.reload().await;
        let summary = browser.wait_for_summary(|s| s.ends_with("100,000 rules")).await;
        assert_eq!(summary, "3 tables, 35,115 chains, 100,000 rules");
        let script = "return [localStorage.getItem('chainwalk.rules') === null,
            (localStorage.getItem('chainwalk.rules-deflated') || '').length];";
        let kept = browser.js(script, vec![]).await;
        let deflated = kept[1].as_u64().unwrap_or(0);
        assert!(kept[0] == json!(true) && deflated > 1_000_000 && deflated < 5_000_000, "{kept}");
        assert_typed_lines_on_top(&browser).await;
        assert!(browser.verdict().await.starts_with("Rejected (icmp-port-unreachable) in filter FORWARD"));

        // Select-all and paste replace the whole dump, not only the lines the editor holds.
        caret_at_start(&browser).await;
        let chord = KeyActions::new("chord".into())
            .then(KeyAction::Down { value: '\u{E009}' })
            .then(KeyAction::Down { value: 'a' })
            .then(KeyAction::Up { value: 'a' })
            .then(KeyAction::Up { value: '\u{E009}' });
        browser.client.perform_actions(chord).await.expect("press Ctrl+A");
        let script = "const data = new DataTransfer(); data.setData('text/plain', arguments[0]);
            document.querySelector('[data-testid=rules-input]')
              .dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));";
        browser.js(script, vec![json!(STORY)]).await;
        assert_eq!(browser.wait_for_summary(|s| !s.ends_with("100,000 rules")).await, "4 tables, 19 chains, 30 rules");
        assert_eq!(browser.input("rules-input").await, STORY);
    });
}

/// Asserts that the editor, scrolled to the top of the 100k dump, shows the two lines typed there (the
/// editor holds a window of the dump).
async fn assert_typed_lines_on_top(browser: &Browser) {
    browser.js("document.querySelector('.scroller').scrollTop = 0;", vec![]).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let text = browser.input("rules-input").await;
    assert!(
        text.starts_with("# typing a comment line at the top\n# more typing while it works\n# Generated by"),
        "{}",
        &text[..200]
    );
}

/// What the core says happened to `packet` through `rules` on `host`: the sentence the verdict starts with.
fn core_fate(rules: &str, host: &str, packet: &str) -> String {
    use chainwalk_core::walk::{Simulation, WalkOptions};
    let parsed = chainwalk_core::parse(rules, None);
    let host = chainwalk_core::host::parse(host).expect("the host reads");
    let packet = chainwalk_core::packet::parse(packet).expect("the packet reads");
    let opts = WalkOptions {
        trace_from_dump: false,
        overrides: Default::default(),
        explain_unmatched: true,
        now: None,
        backend: Default::default(),
    };
    Simulation::new(&parsed.ruleset).walk(Some(&host), &packet, &opts).fate.summary
}

/// Presses `key` with `modifier` held (Ctrl `\u{E009}`, Shift `\u{E008}`).
async fn chord(browser: &Browser, modifier: char, key: char) {
    let keys = KeyActions::new("chord".into())
        .then(KeyAction::Down { value: modifier })
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key })
        .then(KeyAction::Up { value: modifier });
    browser.client.perform_actions(keys).await.expect("press a chord");
}

const TAB: char = '\u{E004}';
const ENTER: char = '\u{E007}';

/// Puts the focus in the host table's cell labelled `label` and replaces its text by typing `text`.
async fn retype(browser: &Browser, label: &str, text: &str) {
    click(browser, &format!("input[aria-label='{label}']")).await;
    chord(browser, '\u{E009}', 'a').await;
    type_slowly(browser, text, Duration::ZERO).await;
}

/// The `data-node` or `aria-label` of the focused element, if it is a node of the diagram.
async fn focused_node(browser: &Browser, what: &str) -> String {
    let script = "const e = document.activeElement;
                  return e && e.closest('[data-testid=diagram]') ? e.getAttribute(arguments[0]) : null;";
    browser.js(script, vec![json!(what)]).await.as_str().unwrap_or_default().to_string()
}

#[test]
fn the_host_edited_as_a_table_changes_the_verdict() {
    run(|browser| async move {
        browser.open().await;
        browser.example("docker-7788-fixed").await;
        let before = browser.wait_for_verdict(|v| v.starts_with("Forwarded out docker0")).await;
        let (rules, packet) = (browser.input("rules-input").await, browser.input("packet-input").await);
        assert_eq!(browser.input("host-input").await, STORY_HOST);
        click(&browser, ".host .tabs button").await;
        assert_eq!(attr(&browser, ".host .tabs button", "aria-pressed").await.as_deref(), Some("true"));
        let display = "return getComputedStyle(document.querySelector('[data-testid=host-input]')).display;";
        assert_eq!(browser.js(display, vec![]).await, json!("none"), "the table replaces the text");
        let cell = |label: &str| format!("input[aria-label='{label}']");
        assert_eq!(
            browser
                .js(&format!("return document.querySelector(\"{}\").value;", cell("dev of 172.17.0.0/16")), vec![])
                .await,
            json!("docker0")
        );

        // The container's route out of p1p1 instead of docker0: only that line changes, and the walk follows.
        retype(&browser, "dev of 172.17.0.0/16", "p1p1\n").await;
        let host = STORY_HOST.replace("172.17.0.0/16 dev docker0 proto", "172.17.0.0/16 dev p1p1 proto");
        assert_ne!(host, STORY_HOST);
        assert_eq!(browser.input("host-input").await, host);
        let expected = core_fate(&rules, &host, &packet);
        assert!(expected.contains("p1p1"), "{expected}");
        let verdict = browser.wait_for_verdict(|v| v != before).await;
        assert!(verdict.starts_with(&expected), "{verdict} / {expected}");

        // A prefix of /99 is refused in its cell, with the reason; the host and the verdict stay.
        retype(&browser, "addresses of docker0", "172.17.0.1/99\n").await;
        let addresses = cell("addresses of docker0");
        assert_eq!(attr(&browser, &addresses, "aria-invalid").await.as_deref(), Some("true"));
        let why = attr(&browser, &addresses, "aria-describedby").await.expect("the reason is linked");
        assert_eq!(browser.text(&format!("#{why}")).await, "/99 is not a prefix length from 0 to 32");
        assert_eq!(browser.input("host-input").await, host);
        assert_eq!(browser.wait_for_verdict(|_| true).await, verdict);
        browser.screenshots("host-table").await;
        // Escape puts back what the cell held.
        press(&browser, '\u{E00C}').await;
        assert_eq!(
            browser.js(&format!("return document.querySelector(\"{addresses}\").value;"), vec![]).await,
            json!("172.17.0.1/16")
        );
        assert_eq!(attr(&browser, &addresses, "aria-invalid").await, None);

        // By keyboard only: from the last route's last cell to "Add route", a route to the container out of
        // ppp0, then its removal (a route's remove button comes before its other attributes, on the line above).
        click(&browser, &cell("other attributes of 172.17.0.0/16")).await;
        press(&browser, TAB).await;
        assert_eq!(browser.js("return document.activeElement.textContent;", vec![]).await, json!("Add route"));
        press(&browser, ENTER).await;
        type_slowly(&browser, "172.17.0.2/32", Duration::ZERO).await;
        press(&browser, TAB).await;
        press(&browser, TAB).await;
        type_slowly(&browser, "ppp0\n", Duration::ZERO).await;
        let added = host.replace("src 172.17.0.1\n", "src 172.17.0.1\n172.17.0.2/32 dev ppp0\n");
        assert_eq!(browser.input("host-input").await, added);
        let expected = core_fate(&rules, &added, &packet);
        assert!(expected.contains("ppp0"), "{expected}");
        assert!(browser.wait_for_verdict(|v| v != verdict).await.starts_with(&expected));
        press(&browser, TAB).await;
        assert_eq!(
            browser.js("return document.activeElement.getAttribute('aria-label');", vec![]).await,
            json!("Remove 172.17.0.2/32")
        );
        press(&browser, ENTER).await;
        assert_eq!(browser.input("host-input").await, host);
        assert_eq!(browser.wait_for_verdict(|v| v == verdict).await, verdict);

        // Forwarding off, by keyboard: the focus went to "Add route"; the switch comes next.
        press(&browser, TAB).await;
        press(&browser, ' ').await;
        let off = host.replace("net.ipv4.ip_forward = 1", "net.ipv4.ip_forward = 0");
        assert_eq!(browser.input("host-input").await, off);
        let expected = core_fate(&rules, &off, &packet);
        assert!(browser.wait_for_verdict(|v| v != verdict).await.starts_with(&expected), "{expected}");

        // The text view shows the same text, and the table reads what is typed there.
        click(&browser, ".host .tabs button + button").await;
        browser.paste("host-input", &format!("{off}create s hash:ip\n")).await;
        click(&browser, ".host .tabs button").await;
        assert!(browser.text("[data-testid=host-kept]").await.contains("line 12 create s hash:ip"));
        assert_eq!(
            browser.js("return document.querySelector('.forwarding input').checked;", vec![]).await,
            json!(false)
        );
    });
}

#[test]
fn the_diagram_is_one_tab_stop_moved_with_the_arrows() {
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        let position = browser.text("[data-testid=player-position]").await;
        // Tab from the top of the page until the diagram has the focus.
        click(&browser, ".verdict-about").await;
        for _ in 0..40 {
            if !focused_node(&browser, "data-node").await.is_empty() {
                break;
            }
            press(&browser, TAB).await;
        }
        assert_eq!(focused_node(&browser, "data-node").await, "raw-PREROUTING");
        assert_eq!(count(&browser, ".diagram [tabindex='0']").await, 1, "one tab stop");
        assert_eq!(count(&browser, ".diagram [tabindex]").await, 9, "every node the packet visited");
        assert_eq!(focused_node(&browser, "aria-label").await, "raw PREROUTING, step 1 of 10: rule 1 TRACE");
        assert_eq!(attr(&browser, "[data-testid=diagram]", "role").await.as_deref(), Some("group"));

        // The arrows move the focus along the walk, not the player.
        for _ in 0..3 {
            press(&browser, '\u{E014}').await; // ArrowRight
        }
        assert_eq!(focused_node(&browser, "data-node").await, "nat-PREROUTING");
        assert_eq!(focused_node(&browser, "aria-label").await, "nat PREROUTING, step 5 of 10: rule 1 ACCEPT");
        assert_eq!(browser.text("[data-testid=player-position]").await, position);
        browser.screenshots("diagram-focus").await;

        // Enter selects that step: the player, the walk and the editor move to nat PREROUTING rule 1.
        press(&browser, ENTER).await;
        assert_eq!(browser.text("[data-testid=player-position]").await, "5 / 10");
        assert!(node_class(&browser, "nat-PREROUTING").await.contains("current"));
        assert_eq!(browser.text(".ln.band-current").await, line_of(STORY, "-A PREROUTING ! -i p1p1").to_string());
        assert!(attr(&browser, "[data-testid=deciding-rule]", "class").await.unwrap_or_default().contains("current"));

        // End and Space: the last node, local delivery; Home: back to the first, which the arrows do not pass.
        press(&browser, '\u{E010}').await; // End
        assert_eq!(focused_node(&browser, "data-node").await, "local");
        press(&browser, ' ').await;
        assert_eq!(browser.text("[data-testid=player-position]").await, "10 / 10");
        assert!(node_class(&browser, "local").await.contains("current"));
        press(&browser, '\u{E011}').await; // Home
        press(&browser, '\u{E012}').await; // ArrowLeft
        assert_eq!(focused_node(&browser, "data-node").await, "raw-PREROUTING");

        // Leaving and coming back lands on the node last focused.
        press(&browser, '\u{E015}').await; // ArrowDown
        chord(&browser, '\u{E008}', TAB).await;
        assert!(focused_node(&browser, "data-node").await.is_empty(), "Shift+Tab leaves the diagram");
        press(&browser, TAB).await;
        assert_eq!(focused_node(&browser, "data-node").await, "conntrack-PREROUTING");
    });
}

/// What a WebDriver test of its own does: clear each input and type into it with `send_keys`, newlines and
/// all (no synthetic events). The walk follows what was typed, and the typed text is kept as typed.
#[test]
fn typing_with_webdriver_into_the_three_inputs_walks_what_was_typed() {
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        let rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
                     -A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
        let host = "eth0 UP 192.0.2.2/24\ndefault via 192.0.2.1 dev eth0\n";
        let packet = "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=TCP SPT=40000 DPT=22 SYN";
        for (testid, text) in [("rules-input", rules), ("host-input", host), ("packet-input", packet)] {
            let css = format!("[data-testid={testid}]");
            let input = browser.client.find(Locator::Css(&css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
            input.clear().await.unwrap_or_else(|e| panic!("clear {testid}: {e}"));
            input.send_keys(text).await.unwrap_or_else(|e| panic!("type into {testid}: {e}"));
        }
        let verdict = browser.wait_for_verdict(|v| v.contains("192.0.2.2:22 arrived on eth0")).await;
        assert!(verdict.starts_with("Delivered locally through INPUT"), "{verdict}");
        while !browser.settled().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(browser.input("rules-input").await, rules);
        assert_eq!(browser.input("host-input").await, host);
        assert_eq!(browser.input("packet-input").await, packet);
        let deciding = "[data-testid=deciding-rule]";
        assert_eq!(attr(&browser, deciding, "data-table").await.as_deref(), Some("filter"));
        assert_eq!(attr(&browser, deciding, "data-chain").await.as_deref(), Some("INPUT"));
        assert_eq!(attr(&browser, deciding, "data-rule").await.as_deref(), Some("2"));
        assert_eq!(attr(&browser, deciding, "data-line").await.as_deref(), Some("6"));
        let log = browser.text("[data-testid=trace-log]").await;
        assert_eq!(
            log.lines().last(),
            Some(
                "TRACE: filter:INPUT:rule:2 IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 \
                 PROTO=TCP SPT=40000 DPT=22 SYN"
            )
        );
    });
}

/// A TPROXY rule sends packets to a proxy the dump cannot show: chainwalk assumes none listens (the
/// kernel then drops the packet, as recorded in `tests/cases/tproxy-*`), and the switch says it does.
#[test]
fn a_transparent_proxy_can_be_switched_on() {
    const CASE: &str = "tproxy-without-a-listener-drops";
    let rules = include_str!("../cases/tproxy-without-a-listener-drops/rules");
    let host = include_str!("../cases/tproxy-without-a-listener-drops/host");
    let packet = include_str!("../cases/tproxy-without-a-listener-drops/packet").trim_end();
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        browser.paste("rules-input", rules).await;
        browser.paste("host-input", host).await;
        browser.paste("packet-input", packet).await;
        let before = browser.wait_for_verdict(|v| v.starts_with("Dropped")).await;
        assert!(before.contains("mangle PREROUTING"), "{CASE}: {before}");
        // The second assumption is the TPROXY rule's (the first, the socket match's).
        let proxy = "[data-testid=assumption]:nth-of-type(2)";
        let assumption = browser.text(proxy).await;
        assert!(assumption.contains("transparent proxy listens on 127.0.0.1:8080"), "{assumption}");
        let checked = format!("return document.querySelector('{proxy} input').checked;");
        assert_eq!(browser.js(&checked, vec![]).await, json!(false));
        click(&browser, &format!("{proxy} label")).await;
        let after = browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        assert!(after.starts_with("Delivered locally through INPUT"), "{after}");
        assert_eq!(browser.js(&checked, vec![]).await, json!(true));
        browser.screenshots("tproxy-listening").await;
    });
}

/// A legal dump of 22 chains, each jumping twice to the next, would make a packet meet four million
/// rules: the walk stops at its budget and says it is undecided, and the page stays usable.
#[test]
fn chains_that_call_each_other_exponentially_leave_the_walk_undecided_not_the_tab_frozen() {
    let mut rules = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for i in 0..22 {
        rules += &format!(":C{i} - [0:0]\n");
    }
    rules += "-A INPUT -j C0\n";
    for i in 0..21 {
        rules += &format!("-A C{i} -j C{}\n-A C{i} -j C{}\n", i + 1, i + 1);
    }
    rules += "-A C21 -s 192.0.2.99/32 -j DROP\nCOMMIT\n";
    run(|browser| async move {
        browser.open().await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        let started = Instant::now();
        browser.paste("rules-input", &rules).await;
        let verdict = browser.wait_for_verdict(|v| v.starts_with("Undecided")).await;
        let took = started.elapsed();
        assert!(verdict.contains("stopped after following 2000 rules that matched"), "{verdict}");
        assert!(took < Duration::from_secs(10), "the walk took {took:?}");
        // The page still answers: an edit walks again, back to the story's verdict.
        browser.paste("rules-input", STORY).await;
        browser.wait_for_verdict(|v| v.starts_with("Delivered")).await;
        eprintln!("exponential dump: undecided on screen after {:.0} ms", took.as_secs_f64() * 1000.0);
        browser.paste("rules-input", &rules).await;
        browser.wait_for_verdict(|v| v.starts_with("Undecided")).await;
        browser.screenshots("undecided").await;
    });
}
