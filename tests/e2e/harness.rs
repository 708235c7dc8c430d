//! Running a scenario in headless Chromium: a static server over `dist/`, chromedriver on a free port, a
//! fresh browser profile, and the helpers the scenarios share.
//!
//! The tests need a built app (`trunk build --release`), Chromium and chromedriver. When one is missing they
//! print why and pass, unless `CHAINWALK_E2E_REQUIRED=1`, which turns the skip into a failure (for CI).

use crate::server::Server;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::future::Future;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// How long the app may take to load and render.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// One browser on one page of the app.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    /// The server the page comes from (with its request log).
    pub server: Server,
    /// What [`Browser::fresh`] needs to start another browser.
    context: Context,
}

/// The chromedriver and Chromium a run uses, and the profiles it made (removed when the run ends).
#[derive(Clone)]
struct Context {
    driver: String,
    chromium: PathBuf,
    profiles: std::sync::Arc<Mutex<Vec<PathBuf>>>,
}

/// What the tests run with.
struct Tools {
    dist: PathBuf,
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// Browser tests run one at a time: each starts a browser, and the machines have few cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `scenario` against a fresh browser on the built app, or skips (see the module docs).
pub fn run<F, Fut>(scenario: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tools = match tools() {
        Ok(tools) => tools,
        Err(reason) => return skip(&reason),
    };
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Chromium puts its scratch folders (`org.chromium.Chromium.scoped_dir.*`) under TMPDIR and leaves some
    // behind when chromedriver stops it: they go to a folder of this run, removed with the profiles.
    let scratch = std::env::temp_dir().join(format!("chainwalk-e2e-tmp-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let mut driver = ChromeDriver::start(&tools.chromedriver, &scratch);
    let context =
        Context { driver: driver.url.clone(), chromium: tools.chromium.clone(), profiles: Default::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let outcome = runtime.block_on(async {
        let client = context.connect().await;
        let server = Server::start(&tools.dist);
        // The scenario runs as its own task so that a failed assertion still lets the session close.
        let browser = Browser { client: client.clone(), server, context: context.clone() };
        let outcome = tokio::spawn(scenario(browser)).await;
        let _ = client.close().await;
        outcome
    });
    driver.stop();
    let _ = std::fs::remove_dir_all(&scratch);
    for profile in context.profiles.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = std::fs::remove_dir_all(profile);
    }
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

fn tools() -> Result<Tools, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dist = root.join("dist");
    if !dist.join("index.html").is_file() {
        return Err(format!("{} does not exist; build the app with `trunk build --release`", dist.display()));
    }
    let chromium = find("CHAINWALK_CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        .ok_or("Chromium is not installed (apt-get install chromium, or set CHAINWALK_CHROMIUM)")?;
    let chromedriver = find("CHAINWALK_CHROMEDRIVER", &["/usr/bin/chromedriver"])
        .ok_or("chromedriver is not installed (apt-get install chromium-driver, or set CHAINWALK_CHROMEDRIVER)")?;
    Ok(Tools { dist, chromium, chromedriver })
}

fn find(variable: &str, candidates: &[&str]) -> Option<PathBuf> {
    match std::env::var_os(variable) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => candidates.iter().map(PathBuf::from).find(|p| p.is_file()),
    }
}

fn skip(reason: &str) {
    if std::env::var("CHAINWALK_E2E_REQUIRED").as_deref() == Ok("1") {
        panic!("CHAINWALK_E2E_REQUIRED=1 but the browser tests cannot run: {reason}");
    }
    // Written to the real stderr (not the captured test output) so that the skip is seen, once per run.
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "\nSKIPPING the e2e browser tests: {reason}\n");
    });
}

/// A chromedriver process we started, on a port of its own.
struct ChromeDriver {
    process: Child,
    url: String,
}

impl ChromeDriver {
    fn start(binary: &Path, scratch: &Path) -> ChromeDriver {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let process = Command::new(binary)
            .arg(format!("--port={port}"))
            .env("TMPDIR", scratch)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start listening on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        ChromeDriver { process, url: format!("http://127.0.0.1:{port}") }
    }

    fn stop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Context {
    /// A new WebDriver session in a Chromium with a fresh profile (its own storage, cookies and cache).
    async fn connect(&self) -> Client {
        let profile = std::env::temp_dir().join(format!("chainwalk-e2e-{}-{:?}", std::process::id(), Instant::now()));
        self.profiles.lock().unwrap_or_else(|e| e.into_inner()).push(profile.clone());
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": self.chromium, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!("a JSON object literal") };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.driver)
            .await
            .expect("a WebDriver session in Chromium")
    }
}

/// A command chromedriver understands beyond the W3C set: `POST /session/{id}/{path}` with a JSON body.
#[derive(Debug)]
struct ChromeCommand {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for ChromeCommand {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/{}", session.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

impl Browser {
    /// Another browser, with a profile of its own (no shared storage), on the same server. The caller
    /// closes its session (`client.close()`).
    pub async fn fresh(&self) -> Browser {
        let client = self.context.connect().await;
        Browser { client, server: self.server.clone(), context: self.context.clone() }
    }

    /// The app's URL for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.origin)
    }

    /// Loads the app and waits until it has rendered its first reading.
    pub async fn open(&self) {
        self.client.goto(&self.url("/")).await.expect("load the page");
        self.wait_for_app().await;
    }

    /// Loads `url` (a full address of the app) and waits for it.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("load the page");
        self.wait_for_app().await;
    }

    /// Reloads the page and waits for the app.
    pub async fn reload(&self) {
        self.client.refresh().await.expect("reload the page");
        self.wait_for_app().await;
    }

    async fn wait_for_app(&self) {
        self.client
            .wait()
            .at_most(LOAD_TIMEOUT)
            .for_element(Locator::Css("[data-testid=verdict]"))
            .await
            .expect("the app renders its verdict (did the wasm load?)");
    }

    /// Runs `script` (a function body; its arguments are `arguments[0..]`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The text of the element `selector`.
    pub async fn text(&self, selector: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e && e.textContent;";
        self.js(script, vec![json!(selector)]).await.as_str().unwrap_or_default().to_string()
    }

    /// The summary of the reading (`4 tables, 19 chains, 30 rules`, or `1 error`).
    pub async fn summary(&self) -> String {
        self.text("[data-testid=summary]").await
    }

    /// The verdict sentence.
    pub async fn verdict(&self) -> String {
        self.text("[data-testid=verdict]").await
    }

    /// Waits until the worker has answered for the inputs as they are now (the debounce has fired and no
    /// request is pending) and `ready` holds for the verdict; returns the verdict.
    pub async fn wait_for_verdict(&self, ready: impl Fn(&str) -> bool) -> String {
        self.wait_for_verdict_within(Duration::from_secs(10), ready).await
    }

    /// [`Browser::wait_for_verdict`] with a deadline of `limit`.
    pub async fn wait_for_verdict_within(&self, limit: Duration, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let verdict = self.verdict().await;
            if self.settled().await && ready(&verdict) {
                return verdict;
            }
            assert!(Instant::now() < deadline, "the verdict stayed {verdict:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the page shows the answer for its inputs as they are now (`data-settled` on `main`).
    pub async fn settled(&self) -> bool {
        let script = "return document.querySelector('main').dataset.settled === 'true';";
        self.js(script, vec![]).await == json!(true)
    }

    /// Waits until the page has settled and the summary of the reading satisfies `ready`, and returns it.
    pub async fn wait_for_summary(&self, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let summary = self.summary().await;
            if self.settled().await && ready(&summary) {
                return summary;
            }
            assert!(Instant::now() < deadline, "the summary stayed {summary:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value of the input `testid` (`rules-input`, `host-input`, `packet-input`).
    pub async fn input(&self, testid: &str) -> String {
        let script = "return document.querySelector(`[data-testid=${arguments[0]}]`).value;";
        self.js(script, vec![json!(testid)]).await.as_str().unwrap_or_default().to_string()
    }

    /// Replaces the value of the input `testid` the way a paste does: the new value, then an `input` event.
    pub async fn paste(&self, testid: &str, text: &str) {
        let script = "const t = document.querySelector(`[data-testid=${arguments[0]}]`);
                      t.value = arguments[1];
                      t.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));";
        self.js(script, vec![json!(testid), json!(text)]).await;
    }

    /// Picks the example `id` from the menu.
    pub async fn example(&self, id: &str) {
        let script = "const s = document.querySelector('[data-testid=examples]');
                      s.value = arguments[0];
                      s.dispatchEvent(new Event('change', { bubbles: true }));";
        self.js(script, vec![json!(id)]).await;
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver.
    pub async fn cdp(&self, method: &str, params: Value) -> Value {
        let command = ChromeCommand { path: "goog/cdp/execute", body: json!({ "cmd": method, "params": params }) };
        self.client.issue_cmd(command).await.unwrap_or_else(|e| panic!("CDP {method} failed: {e}"))
    }

    /// The browser console's messages since the last call (`level` and `message` of each).
    pub async fn console(&self) -> Vec<Value> {
        let command = ChromeCommand { path: "se/log", body: json!({ "type": "browser" }) };
        let log = self.client.issue_cmd(command).await.expect("the browser log");
        log.as_array().cloned().unwrap_or_default()
    }

    /// Makes the page see `prefers-color-scheme: light` or `dark`.
    pub async fn color_scheme(&self, scheme: &str) {
        let features = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
        self.cdp("Emulation.setEmulatedMedia", features).await;
        // Let the colour transitions finish before anything is looked at.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }

    /// Saves a screenshot of the whole page, 1280 pixels wide, to `tests/output/NAME.png`.
    pub async fn screenshot(&self, name: &str) {
        self.screenshot_at(name, 1280, None).await;
    }

    /// Saves a screenshot `width` pixels wide to `tests/output/NAME.png`: of the whole page, or of its top
    /// `height` pixels (as a screen of that size shows it).
    pub async fn screenshot_at(&self, name: &str, width: u64, height: Option<u64>) {
        let metrics =
            json!({ "width": width, "height": height.unwrap_or(900), "deviceScaleFactor": 1, "mobile": false });
        self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
        let height = match height {
            Some(h) => h,
            None => {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let h = self.js("return document.documentElement.scrollHeight;", vec![]).await;
                h.as_u64().unwrap_or(900).clamp(600, 6000)
            }
        };
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = self.client.screenshot().await.expect("a screenshot");
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/output");
        std::fs::create_dir_all(&dir).expect("create tests/output");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    /// Screenshots of the page as it is now in the light and the dark theme (`NAME-light`, `NAME-dark`).
    pub async fn screenshots(&self, name: &str) {
        self.color_scheme("light").await;
        self.screenshot(&format!("{name}-light")).await;
        self.color_scheme("dark").await;
        self.screenshot(&format!("{name}-dark")).await;
        self.color_scheme("light").await;
    }
}
