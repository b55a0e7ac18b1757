//! Harness for the end-to-end tests: the reference Django backend (serving the release
//! build of the app), chromedriver and a headless Chromium session.
//!
//! Nothing here is mocked: the app talks to a real djangorestframework-simplejwt server,
//! and the tests count what that server saw through its test-only counters.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// The demo user every test signs in as.
pub const DEMO_USER: &str = "demo";
/// The demo user's password.
pub const DEMO_PASSWORD: &str = "demo-password";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed when dropped.
struct Service(Child);
impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Token lifetimes for one backend, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// ACCESS_TOKEN_LIFETIME
    pub access: u32,
    /// REFRESH_TOKEN_LIFETIME
    pub refresh: u32,
}

/// The reference backend on a port of its own, with its own SQLite database.
pub struct Backend {
    /// `http://127.0.0.1:<port>`
    pub origin: String,
    port: u16,
    _server: Service,
    _db_dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Backend {
    /// Migrates a fresh database, creates the demo user and starts the server.
    pub fn start(lifetimes: Lifetimes) -> Self {
        Self::start_with(lifetimes, &[])
    }

    /// Like [`Backend::start`], with extra settings from the environment (see
    /// `backend/config/settings.py`), e.g. `SESSION_AUTH_FIRST=1`.
    pub fn start_with(lifetimes: Lifetimes, settings: &[(&str, &str)]) -> Self {
        let root = repo_root();
        let python = std::env::var("E2E_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("backend/.venv/bin/python"));
        assert!(
            python.exists(),
            "no Python at {} (run scripts/setup)",
            python.display()
        );
        let dist = std::env::var("E2E_DIST")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("dist"));
        assert!(
            dist.join("index.html").exists(),
            "no release build in {} (run trunk build --release)",
            dist.display()
        );
        let port = free_port();
        let db_dir = TempDir(std::env::temp_dir().join(format!("yew-simplejwt-e2e-{port}")));
        std::fs::create_dir_all(&db_dir.0).expect("temporary database directory");
        let mut envs = vec![
            (
                "BACKEND_DB",
                db_dir.0.join("db.sqlite3").display().to_string(),
            ),
            ("BACKEND_TEST_HOOKS", "1".into()),
            ("SPA_DIST_DIR", dist.display().to_string()),
            ("ACCESS_TOKEN_LIFETIME", lifetimes.access.to_string()),
            ("REFRESH_TOKEN_LIFETIME", lifetimes.refresh.to_string()),
            ("DJANGO_DEBUG", "0".into()),
        ];
        envs.extend(
            settings
                .iter()
                .map(|(key, value)| (*key, value.to_string())),
        );
        let manage = |args: &[&str]| {
            let mut command = Command::new(&python);
            command
                .current_dir(root.join("backend"))
                .arg("manage.py")
                .args(args);
            for (key, value) in &envs {
                command.env(key, value);
            }
            command
        };
        for args in [
            &["migrate", "-v0"][..],
            &[
                "ensure_demo_user",
                "--username",
                DEMO_USER,
                "--password",
                DEMO_PASSWORD,
            ],
        ] {
            let status = manage(args)
                .stdout(Stdio::null())
                .status()
                .expect("manage.py runs");
            assert!(status.success(), "manage.py {args:?} failed");
        }
        let address = format!("127.0.0.1:{port}");
        let server = manage(&["runserver", &address, "--noreload"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("backend starts");
        let server = Service(server);
        wait_for_port(port, "the backend");
        Self {
            origin: format!("http://{address}"),
            port,
            _server: server,
            _db_dir: db_dir,
        }
    }

    fn raw_request(&self, method: &str, path: &str) -> String {
        self.raw_request_with(method, path, "").1
    }

    /// Sends a request straight to the backend (not through the browser) and returns
    /// the status and body.
    pub fn raw_request_with(&self, method: &str, path: &str, json_body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("backend reachable");
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json_body}",
            json_body.len()
        )
        .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Makes the next `times` requests to `path` fail with `mode` (see backend/demo/testhooks.py).
    pub fn fault(&self, path: &str, mode: &str, times: u32) {
        let body = json!({ "path": path, "mode": mode, "times": times, "seconds": 10 }).to_string();
        assert_eq!(
            self.raw_request_with("POST", "/__test__/fault/", &body).0,
            200
        );
    }

    /// Makes the next request to `path` answer normally, but only after `seconds`.
    pub fn slow_down(&self, path: &str, seconds: f64) {
        let body =
            json!({ "path": path, "mode": "hang", "times": 1, "seconds": seconds }).to_string();
        assert_eq!(
            self.raw_request_with("POST", "/__test__/fault/", &body).0,
            200
        );
    }

    /// Makes /api/ reject access tokens: "issued-before-now", "all" or "off".
    pub fn reject_access(&self, mode: &str) {
        let body = json!({ "mode": mode }).to_string();
        assert_eq!(
            self.raw_request_with("POST", "/__test__/reject-access/", &body)
                .0,
            200
        );
    }

    /// Every request the server answered: `(unix time, "METHOD path status")`.
    pub fn events(&self) -> Vec<(f64, String)> {
        let events: Value = serde_json::from_str(&self.raw_request("GET", "/__test__/events/"))
            .expect("events are JSON");
        events
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|event| Some((event[0].as_f64()?, event[1].as_str()?.to_owned())))
            .collect()
    }

    /// Forgets every request counted so far.
    pub fn reset_counts(&self) {
        self.raw_request("POST", "/__test__/reset/");
    }

    /// How many requests the server answered, by "METHOD path status".
    pub fn counts(&self) -> Value {
        serde_json::from_str(&self.raw_request("GET", "/__test__/counts/"))
            .expect("counts are JSON")
    }

    /// How many requests matched `METHOD path` with any status, per the server.
    pub fn count(&self, method_and_path: &str) -> u64 {
        let counts = self.counts();
        let prefix = format!("{method_and_path} ");
        counts
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| key.starts_with(&prefix))
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    }

    /// How many requests matched `METHOD path status` exactly.
    pub fn count_with_status(&self, method_and_path: &str, status: u16) -> u64 {
        self.counts()[format!("{method_and_path} {status}")]
            .as_u64()
            .unwrap_or(0)
    }

    /// How many requests to paths starting with `prefix` got `status`.
    pub fn count_status_under(&self, prefix: &str, status: u16) -> u64 {
        let suffix = format!(" {status}");
        self.counts()
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| {
                key.split(' ')
                    .nth(1)
                    .is_some_and(|path| path.starts_with(prefix))
                    && key.ends_with(&suffix)
            })
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    }
}

/// Installed in every page before the app runs (through the DevTools protocol, not in
/// the app): records console output and uncaught errors, can shift `Date` (a skewed
/// client clock) and can hold back long timers (a background tab or a sleeping laptop,
/// whose timers fire late).
const INIT_SCRIPT: &str = r#"
(() => {
  const shift = __CLOCK_SHIFT_MS__;
  if (shift !== 0) {
    const RealDate = Date;
    class ShiftedDate extends RealDate {
      constructor(...args) { if (args.length === 0) { super(RealDate.now() + shift); } else { super(...args); } }
      static now() { return RealDate.now() + shift; }
    }
    globalThis.Date = ShiftedDate;
  }
  window.__consoleLines = [];
  for (const level of ["log", "info", "warn", "error", "debug"]) {
    const original = console[level].bind(console);
    console[level] = (...args) => { window.__consoleLines.push(level + ": " + args.map(String).join(" ")); original(...args); };
  }
  window.addEventListener("error", (e) => window.__consoleLines.push("uncaught: " + e.message));
  window.addEventListener("unhandledrejection", (e) => window.__consoleLines.push("unhandled rejection: " + String(e.reason)));
  const realSetTimeout = window.setTimeout.bind(window);
  window.__heldTimers = [];
  window.__holdTimers = false;
  window.setTimeout = (fn, ms, ...args) => {
    const run = () => fn(...args);
    if (!(ms >= 300)) { return realSetTimeout(run, ms); }
    // Decided when the timer fires, so timers set before holding are held too.
    return realSetTimeout(() => { if (window.__holdTimers) { window.__heldTimers.push(run); } else { run(); } }, ms);
  };
  window.__releaseTimers = () => {
    window.__holdTimers = false;
    const held = window.__heldTimers; window.__heldTimers = [];
    held.forEach((fn) => realSetTimeout(fn, 0));
  };
})();
"#;

/// A DevTools protocol command sent through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

/// A headless Chromium driven through chromedriver.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    clock_shift_ms: i64,
    _driver: Service,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium profile.
    pub async fn start() -> Self {
        Self::start_with_clock_shift(0).await
    }

    /// Like [`Browser::start`], with the page's clock (`Date`) shifted by `shift_ms`.
    pub async fn start_with_clock_shift(shift_ms: i64) -> Self {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let driver = Service(driver);
        wait_for_port(port, "chromedriver");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1200,900"
                ]
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("WebDriver session");
        let browser = Self {
            client,
            clock_shift_ms: shift_ms,
            _driver: driver,
        };
        browser.install_init_script().await;
        browser
    }

    /// Installs [`INIT_SCRIPT`] in the current tab (each tab is its own DevTools target).
    async fn install_init_script(&self) {
        let script = INIT_SCRIPT.replace("__CLOCK_SHIFT_MS__", &self.clock_shift_ms.to_string());
        self.cdp("Page.enable", json!({})).await;
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": script }),
        )
        .await;
    }

    /// Opens a new tab in the same browser (same storage), switches to it and returns it.
    pub async fn open_tab(&self) -> fantoccini::wd::WindowHandle {
        let tab = self.client.new_window(true).await.expect("new tab").handle;
        self.client
            .switch_to_window(tab.clone())
            .await
            .expect("switch to the new tab");
        self.install_init_script().await;
        tab
    }

    /// Loads `path` (with its query) of the app served by `backend`.
    pub async fn open(&self, backend: &Backend, path: &str) {
        let url = format!("{}{path}", backend.origin);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
    }

    /// Sends a DevTools protocol command.
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    /// Takes the browser off the network (or back on).
    pub async fn set_offline(&self, offline: bool) {
        self.cdp("Network.enable", json!({})).await;
        let conditions = json!({ "offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1 });
        self.cdp("Network.emulateNetworkConditions", conditions)
            .await;
    }

    /// From now on, timers of 300 ms or more that come due do not fire (as in a background tab).
    pub async fn hold_timers(&self) {
        self.client
            .execute("window.__holdTimers = true", vec![])
            .await
            .expect("hold timers");
    }

    /// Fires the held timers, late, and lets later timers run normally.
    pub async fn release_timers(&self) {
        self.client
            .execute("window.__releaseTimers()", vec![])
            .await
            .expect("release timers");
    }

    /// Everything the page wrote to the console, and its uncaught errors, so far.
    pub async fn console_lines(&self) -> Vec<String> {
        let lines = self
            .client
            .execute("return window.__consoleLines || []", vec![])
            .await
            .expect("console lines");
        lines
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect()
    }

    /// A localStorage value of the app's origin.
    pub async fn local_storage(&self, key: &str) -> Option<String> {
        let value = self
            .client
            .execute(
                "return localStorage.getItem(arguments[0])",
                vec![json!(key)],
            )
            .await
            .expect("localStorage readable");
        value.as_str().map(str::to_owned)
    }

    /// Sets (or with `None`, removes) a localStorage value of the app's origin.
    pub async fn set_local_storage(&self, key: &str, value: Option<&str>) {
        let script = "if (arguments[1] === null) { localStorage.removeItem(arguments[0]) } else { localStorage.setItem(arguments[0], arguments[1]) }";
        self.client
            .execute(script, vec![json!(key), json!(value)])
            .await
            .expect("localStorage writable");
    }

    /// Waits (up to 10 s) for an element matching an XPath expression.
    pub async fn wait_xpath(&self, xpath: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("no element {xpath}: {e}"))
    }

    /// Waits for an element whose trimmed text is exactly `text`.
    pub async fn wait_text(&self, tag: &str, text: &str) -> fantoccini::elements::Element {
        self.wait_xpath(&format!("//{tag}[normalize-space()='{text}']"))
            .await
    }

    /// The input labelled `label`.
    pub async fn input_labelled(&self, label: &str) -> fantoccini::elements::Element {
        self.wait_xpath(&format!(
            "//input[@id=//label[normalize-space()='{label}']/@for]"
        ))
        .await
    }

    /// Fills the sign-in form and presses Enter in the password field (keyboard submit).
    pub async fn sign_in(&self, username: &str, password: &str) {
        let user = self.input_labelled("Username").await;
        user.clear().await.expect("clear username");
        user.send_keys(username).await.expect("type username");
        let secret = self.input_labelled("Password").await;
        secret.clear().await.expect("clear password");
        secret
            .send_keys(&format!("{password}\u{E007}"))
            .await
            .expect("type password + Enter");
    }

    /// Presses "Sign out" and waits for the sign-in page (without `next`).
    pub async fn sign_out(&self) {
        self.wait_text("button", "Sign out")
            .await
            .click()
            .await
            .expect("click Sign out");
        self.wait_for_location("/signin").await;
    }

    /// The current URL's path and query, e.g. `/signin?next=%2Fitems`.
    pub async fn path_and_query(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the URL's path and query equal `expected`.
    pub async fn wait_for_location(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.path_and_query().await;
            if now == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "location stayed {now:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the navigation link with this text (client-side navigation, no reload).
    pub async fn click_link(&self, text: &str) {
        self.wait_text("a", text)
            .await
            .click()
            .await
            .expect("click link");
    }

    /// Ends the WebDriver session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
