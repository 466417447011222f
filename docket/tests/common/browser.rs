//! The browser harness of the web app's tests: `docket serve` on free ports, chromedriver, and a
//! headless Chromium driven over WebDriver with axe-core and screenshots.
//!
//! Chromium and chromedriver come from the OS packages (`scripts/test.sh` installs them when
//! absent); without them these tests fail, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::DOCKET;

pub const WAIT: Duration = Duration::from_secs(15);

/// One browser test at a time: two Chromiums and two servers on two cores would time each other.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("docket-console-{what}-{}-{}", std::process::id(), ulid()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn ulid() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos:x}")
}

/// Kills a child process when dropped, so a failing test leaves nothing running.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `docket serve` on free ports: its base URL, the first admin's printed sign-in link, its data.
pub struct Server {
    _process: Running,
    pub base: String,
    pub link: String,
    pub data: PathBuf,
}

pub fn serve() -> Server {
    let data = temp_dir("data");
    let started = super::start_serve(&data);
    Server { _process: Running(started.child), base: format!("http://{}", started.http), link: started.signin_link, data }
}

impl Server {
    /// A bearer token from the CLI, for setting up data over the API.
    pub fn token(&self, who: Option<&str>) -> String {
        let mut command = Command::new(DOCKET);
        command.args(["--data", self.data.to_str().unwrap(), "token"]);
        if let Some(who) = who {
            command.arg(who);
        }
        let output = command.output().expect("docket token");
        assert!(output.status.success(), "docket token failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    pub async fn post(&self, http: &reqwest::Client, token: &str, path: &str, body: Value) -> Value {
        let reply = http.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send().await.expect("API reachable");
        let status = reply.status();
        let body: Value = reply.json().await.expect("JSON reply");
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    /// The sign-in link mailed to `email` (read from the outbox), waiting for it to be sent.
    pub async fn mailed_link(&self, email: &str) -> String {
        let outbox = self.data.join("outbox");
        let deadline = Instant::now() + WAIT;
        loop {
            for entry in std::fs::read_dir(&outbox).into_iter().flatten().flatten() {
                let raw = std::fs::read_to_string(entry.path()).unwrap_or_default().replace("=\r\n", "").replace("=3D", "=");
                if raw.contains("sign-in link") && raw.contains(email) {
                    let start = raw.find("http").expect("a link in the mail");
                    return raw[start..].split_whitespace().next().unwrap().to_owned();
                }
            }
            assert!(Instant::now() < deadline, "no sign-in mail reached {email}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub fn find_program(env: &str, names: &[&str]) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/lib/chromium")]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "{} not found: install Chromium and its WebDriver (Debian: `apt-get install chromium chromium-driver`; scripts/test.sh does) or set {env}",
        names[0]
    );
}

/// chromedriver on a free port.
pub struct Driver {
    _process: Running,
    pub url: String,
}

pub async fn chromedriver() -> Driver {
    let program = find_program("CHROMEDRIVER", &["chromedriver"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(program).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let ready = http.get(format!("{url}/status")).send().await.ok().map(|r| r.status().is_success()).unwrap_or(false);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { _process: Running(child), url }
}

/// A headless Chromium window of 1280×800 (a laptop screen) driven by `driver`.
pub async fn browser(driver: &Driver) -> Browser {
    let chromium = find_program("CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800", "--lang=en-US"],
        }),
    );
    let client = ClientBuilder::rustls().expect("TLS roots").capabilities(capabilities).connect(&driver.url).await.expect("a Chromium session");
    Browser { client }
}

pub struct Browser {
    pub client: Client,
}

impl Browser {
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn wait(&self, css: &str) -> Element {
        self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
    }

    /// Waits until `css` matches an element whose text contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            for element in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
                if element.text().await.unwrap_or_default().contains(text) {
                    return element;
                }
            }
            assert!(Instant::now() < deadline, "no {css} showing {text:?}; page: {}", self.body_text().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the page says, for a failure message: its alerts first, then its text.
    pub async fn body_text(&self) -> String {
        let mut text = String::new();
        for alert in self.client.find_all(Locator::Css("[role=alert], [role=status]")).await.unwrap_or_default() {
            text.push_str(&format!("[alert] {}\n", alert.text().await.unwrap_or_default()));
        }
        if let Ok(body) = self.client.find(Locator::Css("main, body")).await {
            text.extend(body.text().await.unwrap_or_default().chars().take(3000));
        }
        text
    }

    /// Clicks `css` as a person would: scrolled to the middle of the window first, clear of the
    /// sticky top bar.
    pub async fn click(&self, css: &str) {
        let element = self.wait(css).await;
        let argument = serde_json::to_value(&element).expect("an element reference");
        self.client.execute("arguments[0].scrollIntoView({ block: 'center' });", vec![argument]).await.expect("scroll into view");
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait(css).await;
        field.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        field.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.wait(css).await.select_by_value(value).await.unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.map(|all| all.len()).unwrap_or(0)
    }

    pub async fn script(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Runs axe-core on the page and fails on any serious or critical violation.
    pub async fn axe(&self, screen: &str) {
        let source = std::fs::read_to_string(workspace().join("web/node_modules/axe-core/axe.min.js"))
            .expect("web/node_modules/axe-core (npm ci in web/ installs it; building docket runs it)");
        self.client.execute(&source, Vec::new()).await.expect("inject axe-core");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\
                 axe.run(document, { resultTypes: ['violations'] })\
                   .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }))))\
                   .catch(e => done({ error: String(e) }));",
                Vec::new(),
            )
            .await
            .expect("axe.run");
        let violations = result.as_array().unwrap_or_else(|| panic!("axe failed on {screen}: {result}"));
        let serious: Vec<&Value> = violations.iter().filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical"))).collect();
        assert!(serious.is_empty(), "axe-core: serious or critical violations on {screen}: {}", serde_json::to_string_pretty(&serious).unwrap());
        for minor in violations {
            eprintln!("axe-core ({screen}): {} {} — {}", minor["impact"], minor["id"], minor["help"]);
        }
    }

    pub async fn screenshot(&self, name: &str) {
        // The top of the screen, as someone arriving on it sees it.
        self.script("window.scrollTo(0, 0); document.activeElement?.blur?.();").await;
        let png = self.client.screenshot().await.expect("screenshot");
        let folder = workspace().join("docs/screenshots");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{name}.png")), png).unwrap();
    }

    /// A screen checked and pictured: axe-core, then a screenshot when `shot` names one.
    pub async fn check(&self, screen: &str, shot: Option<&str>) {
        self.axe(screen).await;
        if let Some(name) = shot {
            self.screenshot(name).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
