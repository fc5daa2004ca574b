//! Real Chromium for the widget's tests: headless Debian `chromium` driven through its
//! `chromedriver` (W3C WebDriver, with the `fantoccini` crate), and a host page served from an
//! origin of its own (`http://localhost:PORT`; the service is on `http://127.0.0.1:PORT`), with
//! a strict Content-Security-Policy.
//!
//! Without chromedriver the browser tests skip, saying why; with CI=true they fail instead.
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers running at once: Chromium is heavy on a 2-core machine.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// How long a step may take before the test fails (a deadline for polling, not a wait).
pub const DEADLINE: Duration = Duration::from_secs(15);

pub const TAB: char = '\u{e004}';
pub const ENTER: char = '\u{e007}';
pub const ESCAPE: char = '\u{e00c}';
pub const SPACE: char = ' ';

/// chromedriver's path, or None (skip) outside CI when it is not installed.
pub fn chromedriver() -> Option<String> {
    let candidates = [
        std::env::var("CHROMEDRIVER").ok(),
        Some("/usr/bin/chromedriver".to_owned()),
    ];
    if let Some(found) = candidates
        .into_iter()
        .flatten()
        .find(|p| Path::new(p).exists())
    {
        return Some(found);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "chromedriver is not installed, and CI runs the browser tests: apt-get install chromium chromium-driver"
    );
    eprintln!("skipping: chromedriver not found (apt-get install chromium chromium-driver, or set CHROMEDRIVER)");
    None
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A headless Chromium session. Dropping it ends the browser and its driver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _permit: SemaphorePermit<'static>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver leads its own process group, with Chromium's processes in it. `pkill -g`
        // names the group explicitly (a negative pid on `kill`'s command line is easy to
        // misread as an option).
        let group = self.driver.id().to_string();
        let _ = Command::new("pkill").args(["-KILL", "-g", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    pub async fn start(driver_path: &str) -> Browser {
        let permit = BROWSERS
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let port = free_port();
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new(driver_path)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("chromedriver starts")
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                         "--disable-background-networking", "--lang=en-US"],
            }),
        );
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "chromedriver did not start a session: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        Browser {
            client,
            driver,
            _permit: permit,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigates");
    }

    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` (which returns a value) until it answers something other than null or
    /// false, or fails at the deadline.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.run(script).await;
            if !(value.is_null() || value == Value::Bool(false)) {
                return value;
            }
            assert!(started.elapsed() < DEADLINE, "never happened: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the page has loaded (the widget binds once the document is parsed).
    pub async fn until_loaded(&self) {
        self.until(
            "the page loaded",
            "return document.readyState === 'complete'",
        )
        .await;
    }

    /// The element of the flow (inside its shadow root) that `css` names, once it exists.
    pub async fn flow(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Ok(host) = self.client.find(Locator::Css("saveloops-flow")).await {
                if let Ok(root) = host.shadow_root().await {
                    if let Ok(element) = root.find(Locator::Css(css)).await {
                        return element;
                    }
                }
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the flow never showed {css}; the flow says: {}",
                self.run("const f = document.querySelector('saveloops-flow'); return f ? f.shadowRoot.textContent : 'nothing (closed)'").await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every element of the flow that `css` names (now).
    pub async fn flow_all(&self, css: &str) -> Vec<Element> {
        let host = self
            .client
            .find(Locator::Css("saveloops-flow"))
            .await
            .expect("the flow is open");
        let root = host.shadow_root().await.expect("an open shadow root");
        root.find_all(Locator::Css(css)).await.expect("finds")
    }

    pub async fn click_flow(&self, css: &str) {
        self.flow(css).await.click().await.expect("clicks");
    }

    pub async fn flow_is_open(&self) -> bool {
        self.run("return !!document.querySelector('saveloops-flow')")
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// The `data-saveloops` name (or tag) of the focused element inside the flow, or null when
    /// focus is outside it.
    pub async fn focused_in_flow(&self) -> Value {
        self.run(
            "const f = document.querySelector('saveloops-flow');
             if (!f || document.activeElement !== f) return null;
             const a = f.shadowRoot.activeElement;
             return a ? (a.getAttribute('data-saveloops') || a.tagName.toLowerCase()) : null;",
        )
        .await
    }

    /// A key pressed and released, sent to whatever has focus (a real key event).
    pub async fn press(&self, key: char) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client
            .perform_actions(keys)
            .await
            .expect("key pressed");
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("a URL")
            .path()
            .to_owned()
    }

    /// Waits until the page's path is `path`.
    pub async fn until_path(&self, path: &str) {
        let started = Instant::now();
        loop {
            if self.path().await == path {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "never reached {path} (at {})",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the host page's callbacks received.
    pub async fn events(&self) -> Value {
        self.run("return window.saveloopsEvents || []").await
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// A company's page on its own origin: the account page with its cancel link, the widget
/// loaded with Subresource Integrity, and a strict Content-Security-Policy.
pub struct HostPage {
    pub origin: String,
    config: Arc<Mutex<Value>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for HostPage {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const HOST_SCRIPT: &str = r#"
// What the page saw: the widget's calls to the service, and the pointer entering the link.
window.apiCalls = [];
const realFetch = window.fetch;
window.fetch = (url, init) => { apiCalls.push(String(url).replace(/^https?:\/\/[^/]+/, '')); return realFetch(url, init); };
window.enters = [];
document.addEventListener('mouseover', (e) => { if (e.target.id === 'cancel') enters.push(performance.now()); });
window.saveloopsEvents = [];
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
const config = JSON.parse(document.getElementById('saveloops-config').textContent);
const options = Object.assign({}, config, {
  onSaved: (detail) => saveloopsEvents.push({ kind: 'saved', offer: detail.offer.id, type: detail.offer.type, status: detail.status })
});
if (config.hostOnCancel) options.onCancel = (detail) => saveloopsEvents.push({ kind: 'cancel', reason: detail.reason, trigger: detail.trigger });
window.saveloopsFlow = Saveloops.mount(options);
"#;

/// The host's own styles, which must not reach into the widget.
const HOST_STYLES: &str =
    "button, p, h2 { color: rgb(255, 0, 0) !important; font-size: 40px !important; }";

impl HostPage {
    /// Serves the page for the service at `service` (its origin), mounting the widget with
    /// `config` (apiBase, session, targetId, triggers, …).
    pub async fn start(service: &str, config: Value) -> HostPage {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let origin = format!("http://localhost:{port}");
        let config = Arc::new(Mutex::new(config));
        let shared = Arc::clone(&config);
        let service = service.to_owned();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, service.clone(), Arc::clone(&shared)));
            }
        });
        HostPage {
            origin,
            config,
            server,
        }
    }

    /// Changes what the next page load mounts.
    pub fn configure(&self, change: impl FnOnce(&mut Value)) {
        change(&mut self.config.lock().unwrap());
    }

    pub fn url(&self) -> String {
        format!("{}/", self.origin)
    }
}

async fn answer(mut stream: TcpStream, service: String, config: Arc<Mutex<Value>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    // Read when the request arrives, not when the connection opened: Chromium opens
    // connections ahead of the requests it expects.
    let config = config.lock().unwrap().clone();
    let request = String::from_utf8_lossy(&buffer);
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let path = path.split('?').next().unwrap_or("/");
    // The widget may be pointed at another API address (a down or hanging one): the page lets
    // it connect there, so that what the test sees is the widget's behaviour, not the CSP's.
    let api = config["apiBase"].as_str().unwrap_or(&service);
    let csp = format!(
        "default-src 'none'; script-src 'self' {service}; connect-src {service} {api}; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    let (status, kind, body) = match path {
        "/" => ("200 OK", "text/html; charset=utf-8", host_html(&service, &config)),
        "/host.js" => ("200 OK", "text/javascript", HOST_SCRIPT.to_owned()),
        "/host.css" => ("200 OK", "text/css", HOST_STYLES.to_owned()),
        "/cancelled" => (
            "200 OK",
            "text/html; charset=utf-8",
            "<!doctype html><html lang=\"en\"><title>Cancelled</title><h1>Your subscription is cancelled</h1></html>".to_owned(),
        ),
        _ => ("404 Not Found", "text/plain", "not found".to_owned()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nContent-Security-Policy: {csp}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn host_html(service: &str, config: &Value) -> String {
    let lang = config["pageLang"].as_str().unwrap_or("en");
    // A JSON data block is not run, so the CSP allows it; `</` cannot close it early.
    let data = config.to_string().replace("</", "<\\/");
    format!(
        r#"<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>Account settings</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/host.css">
<script id="saveloops-config" type="application/json">{data}</script>
<script src="{service}/embed/v1/saveloops.js" integrity="{sri}" crossorigin="anonymous"></script>
<script src="/host.js"></script>
</head><body><main><h1>Account settings</h1><p>Your plan: Pro, 49 a month.</p>
<p><a id="cancel" href="/cancelled">Cancel subscription</a></p>
<p><button id="other" type="button">Something else</button></p></main></body></html>"#,
        sri = saveloops::http::embed::integrity(),
    )
}
