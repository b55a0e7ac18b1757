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
        let envs = [
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
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("backend reachable");
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
        )
        .expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default()
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

/// A headless Chromium driven through chromedriver.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _driver: Service,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium profile.
    pub async fn start() -> Self {
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
        Self {
            client,
            _driver: driver,
        }
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
