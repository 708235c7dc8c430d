//! Browser tests of the web playground: the built app (`dist/`) in headless Chromium through chromedriver.
//!
//! Run: `trunk build --release && cargo test --test e2e`. Without `dist/`, Chromium or chromedriver the
//! tests print why and pass; `CHAINWALK_E2E_REQUIRED=1` makes that a failure. Screenshots go to
//! `tests/output/`.

mod harness;
mod server;

use fantoccini::Locator;
use harness::{run, Browser};
use serde_json::{json, Value};

/// The dump every first visit shows.
const EXAMPLE: &str = include_str!("../../static/examples/docker-7788.rules");

/// A dump with a port out of range on line 4, column 25, after a comment with characters that take more
/// bytes in UTF-8 than units in UTF-16 (so a byte offset used as a DOM index would land elsewhere).
const BROKEN_HEAD: &str = "# é🔥 a comment\n*filter\n:INPUT ACCEPT [0:0]\n";
const BROKEN_TAIL: &str = "-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n";

/// Markup in every place a dump can carry free text: a comment line, a comment match, a log prefix.
const HOSTILE: &str = r#"*filter
:INPUT ACCEPT [0:0]
# <script>alert(1)</script> <img src=x onerror=alert(1)>
-A INPUT -m comment --comment "<script>alert(1)</script>" -j ACCEPT
-A INPUT -m comment --comment "<img src=x onerror=alert(1)>" -j ACCEPT
-A INPUT -p tcp -j LOG --log-prefix "<img src=x onerror=alert(1)>"
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

/// `selectionStart`, `selectionEnd` of the editor, and whether it has the focus.
async fn selection(browser: &Browser) -> (u64, u64, bool) {
    let script = "const t = document.querySelector('[data-testid=rules-input]');
                  return [t.selectionStart, t.selectionEnd, document.activeElement === t];";
    let v = browser.js(script, vec![]).await;
    (v[0].as_u64().unwrap_or(0), v[1].as_u64().unwrap_or(0), v[2].as_bool().unwrap_or(false))
}

/// The UTF-16 index of `needle` in the editor's text, as the DOM counts.
async fn index_in_dump(browser: &Browser, needle: &str) -> u64 {
    let script = "return document.querySelector('[data-testid=rules-input]').value.indexOf(arguments[0]);";
    browser.js(script, vec![json!(needle)]).await.as_u64().expect("the text is in the dump")
}

#[test]
fn the_example_loads_and_reads_without_errors() {
    run(|browser| async move {
        browser.open().await;
        assert_eq!(browser.dump().await, EXAMPLE);
        browser.screenshot("example-light").await;
        browser.color_scheme("dark").await;
        browser.screenshot("example-dark").await;
        browser.color_scheme("light").await;

        let errors: Vec<String> = browser
            .js(
                "return [...document.querySelectorAll('[data-testid=diagnostic].error')].map(e => e.textContent);",
                vec![],
            )
            .await
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        assert_eq!(errors, Vec::<String>::new(), "the core reports errors in the example");
        assert_eq!(browser.summary().await, "4 tables, 19 chains, 30 rules");
        assert_eq!(count(&browser, "[data-testid=table]").await, 4);
        assert_eq!(count(&browser, "[data-testid=rule]").await, 30);

        // Each rule shows its kernel number and its line; the first is raw PREROUTING rule 1, on line 5.
        let first = "[data-testid=rule]";
        assert_eq!(attr(&browser, first, "data-line").await.as_deref(), Some("5"));
        let text = browser.text(first).await;
        assert!(text.starts_with('1'), "{text:?}");
        assert!(text.contains("-A PREROUTING -p tcp -m tcp --dport 7788 -j TRACE"), "{text:?}");
        assert!(text.ends_with("line 5"), "{text:?}");

        // Picking a rule selects its line in the dump.
        let multiport = "[data-testid=table][data-table=nat] [data-testid=rule]";
        browser.client.find(Locator::Css(multiport)).await.expect("nat's first rule").click().await.unwrap();
        let line_start = index_in_dump(&browser, "-A PREROUTING ! -i p1p1 -p tcp -m multiport").await;
        let (start, _, focused) = selection(&browser).await;
        assert_eq!((start, focused), (line_start, true));
    });
}

#[test]
fn the_page_runs_under_its_content_security_policy() {
    run(|browser| async move {
        browser.open().await;
        let policy = attr(&browser, "meta[http-equiv=Content-Security-Policy]", "content").await.unwrap_or_default();
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(count(&browser, "script:not([src])").await, 0, "an inline script would need 'unsafe-inline'");
        // The app is running (it rendered rules), and the console has no errors or warnings: a CSP violation
        // would be an error ("Refused to ... because it violates the following Content Security Policy").
        assert!(count(&browser, "[data-testid=rule]").await > 0);
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
fn a_broken_rule_is_reported_at_its_line_and_column() {
    run(|browser| async move {
        browser.open().await;
        browser.set_dump(BROKEN_HEAD).await;
        // Type the rule for real, so the debounce sees keystrokes.
        let editor = browser.client.find(Locator::Css("[data-testid=rules-input]")).await.expect("the editor");
        editor.send_keys(BROKEN_TAIL).await.expect("type into the editor");
        assert_eq!(browser.dump().await, format!("{BROKEN_HEAD}{BROKEN_TAIL}"));
        assert_eq!(browser.wait_for_summary(|s| s.ends_with("error")).await, "1 error");

        assert_eq!(count(&browser, "[data-testid=diagnostics] [data-testid=diagnostic]").await, 1);
        let item = "[data-testid=diagnostic]";
        assert_eq!(attr(&browser, item, "data-line").await.as_deref(), Some("4"));
        assert_eq!(attr(&browser, item, "data-col").await.as_deref(), Some("25"));
        let text = browser.text(item).await;
        assert!(text.starts_with("4:25 error: "), "{text:?}");
        assert!(text.contains("99999"), "{text:?}");
        browser.screenshot("error-light").await;
        browser.color_scheme("dark").await;
        browser.screenshot("error-dark").await;

        // Picking the finding selects the bad argument in the editor, counted in UTF-16 units.
        browser.client.find(Locator::Css(item)).await.unwrap().click().await.expect("click the finding");
        let (start, end, focused) = selection(&browser).await;
        let port = index_in_dump(&browser, "99999").await;
        assert!(focused, "the editor has the focus");
        assert_eq!(start, port);
        assert!(end >= start + 5, "the selection covers the port: {start}..{end}");
    });
}

#[test]
fn the_dump_survives_a_reload() {
    run(|browser| async move {
        browser.open().await;
        let dump = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n";
        browser.set_dump(dump).await;
        browser.wait_for_summary(|s| s == "1 table, 3 chains, 1 rule").await;
        browser.reload().await;
        assert_eq!(browser.dump().await, dump);
        assert_eq!(browser.summary().await, "1 table, 3 chains, 1 rule");

        // The example button brings the example back, and that survives a reload too.
        browser.client.find(Locator::Css(".editor .button")).await.unwrap().click().await.unwrap();
        browser.wait_for_summary(|s| s != "1 table, 3 chains, 1 rule").await;
        browser.reload().await;
        assert_eq!(browser.dump().await, EXAMPLE);
    });
}

#[test]
fn hostile_text_stays_text() {
    run(|browser| async move {
        browser.open().await;
        browser.js("window.alert = () => { window.alerted = true; };", vec![]).await;
        let scripts = count(&browser, "script").await;
        let images = count(&browser, "img").await;
        browser.set_dump(HOSTILE).await;
        browser.wait_for_summary(|s| !s.starts_with("4 tables")).await;
        // Let anything that could run, run.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;

        assert_eq!(count(&browser, "script").await, scripts, "no script element was created");
        assert_eq!(count(&browser, "img").await, images, "no img element was created");
        assert_eq!(count(&browser, "[onerror]").await, 0);
        assert_eq!(browser.js("return window.alerted === undefined;", vec![]).await, json!(true));
        assert!(browser.client.get_alert_text().await.is_err(), "no alert is open");
        assert_eq!(browser.dump().await, HOSTILE);

        // The comments are shown, as text, in the rules the core read.
        let rules = browser
            .js(
                "return [...document.querySelectorAll('[data-testid=rule]')].map(r => r.textContent).join('\\n');",
                vec![],
            )
            .await;
        let rules = rules.as_str().unwrap_or_default();
        assert!(rules.contains(r#"--comment "<script>alert(1)</script>""#), "{rules}");
        assert!(rules.contains(r#"--comment "<img src=x onerror=alert(1)>""#), "{rules}");
        browser.screenshot("hostile").await;
    });
}

#[test]
fn the_page_asks_only_its_own_origin() {
    run(|browser| async move {
        browser.open().await;
        browser.set_dump(HOSTILE).await;
        browser.wait_for_summary(|s| !s.starts_with("4 tables")).await;
        browser.reload().await;

        let script = "return performance.getEntriesByType('resource').map(e => e.name);";
        let resources = browser.js(script, vec![]).await;
        let resources: Vec<&str> = resources.as_array().expect("a list").iter().filter_map(Value::as_str).collect();
        assert!(!resources.is_empty());
        for url in &resources {
            assert!(url.starts_with(&format!("{}/", browser.server.origin)), "{url} is not on the page's origin");
        }

        let requests = browser.server.requests();
        let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist");
        for request in &requests {
            assert_eq!(request.status, 200, "{request:?}");
            let file = if request.path == "/" { "index.html" } else { &request.path[1..] };
            assert!(dist.join(file).is_file(), "{request:?} is not a file of dist/");
        }
        let asked = |suffix: &str| requests.iter().any(|r| r.path.ends_with(suffix));
        assert!(asked("/") && asked(".wasm") && asked(".js") && asked(".css"), "{requests:#?}");
    });
}

#[test]
fn zz_debug() {
    run(|browser| async move {
        browser.open().await;
        tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
        eprintln!("VERDICT {}", browser.text("[data-testid=verdict]").await);
        eprintln!("CONSOLE {:#?}", browser.console().await);
        eprintln!("REQUESTS {:#?}", browser.server.requests());
    });
}
