//! A real headless Chromium driven through WebDriver (`chromedriver` + `fantoccini`).
//!
//! One `chromedriver` per test binary, on a free port, shared by the binary's tests and killed
//! when the last of them is done. Each test gets its own browser session with a fresh profile
//! folder. When `chromedriver` or Chromium is not installed, [`with_browser`] says that the test
//! is skipped and returns, except under `CI=true`, where a missing browser fails the test.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use test_support::TempDir;
use tokio::sync::Mutex;

use crate::PATIENCE;
use crate::system::artifacts_dir;

/// Programs that can be the browser, in order of preference.
const BROWSERS: &[&str] = &["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

/// Width of the browser window (and of the screenshots).
const WINDOW_WIDTH: u32 = 1280;

/// Tallest screenshot: a page longer than this is cut.
const MAX_SHOT_HEIGHT: u32 = 4000;

/// Runs `body` with a browser session, which is closed afterwards even when `body` panics (the
/// panic is then passed on). When no browser is installed the test is reported as skipped and
/// passes, except under `CI=true`.
pub async fn with_browser<F, Fut>(body: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let programs = match Programs::find() {
        Ok(programs) => programs,
        Err(missing) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true and {missing}: the browser tests must run in CI (install chromium and chromium-driver)"
            )
        }
        Err(missing) => {
            // Straight to stderr: the test harness would swallow eprintln! of a passing test.
            let test = std::thread::current().name().unwrap_or("browser test").to_string();
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped, {missing} (install chromium and chromium-driver)"
            );
            return;
        }
    };
    let driver = Driver::shared(&programs).await;
    let profile = TempDir::new("system-test-chromium");
    let client = connect(&driver, &programs.browser, profile.path()).await;
    let outcome = tokio::spawn(body(client.clone())).await;
    let closed = client.close().await;
    drop(profile);
    drop(driver);
    match outcome {
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the browser test was cancelled: {e}"),
        Ok(()) => {
            if let Err(e) = closed {
                panic!("closing the browser session failed: {e}");
            }
        }
    }
}

/// Where `chromedriver` and the browser are.
#[derive(Debug)]
struct Programs {
    driver: PathBuf,
    browser: PathBuf,
}

impl Programs {
    fn find() -> Result<Self, String> {
        let driver = find_program("chromedriver").ok_or("chromedriver is not installed")?;
        let browser =
            BROWSERS.iter().find_map(|name| find_program(name)).ok_or("Chromium is not installed")?;
        Ok(Self { driver, browser })
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// A running `chromedriver`, killed on drop.
#[derive(Debug)]
struct Driver {
    child: std::sync::Mutex<Child>,
    url: String,
}

static DRIVER: Mutex<Weak<Driver>> = Mutex::const_new(Weak::new());

impl Driver {
    /// The binary's `chromedriver`, started if no test holds one now.
    async fn shared(programs: &Programs) -> Arc<Self> {
        let mut shared = DRIVER.lock().await;
        if let Some(driver) = shared.upgrade() {
            return driver;
        }
        let driver = Arc::new(Self::start(&programs.driver).await);
        *shared = Arc::downgrade(&driver);
        driver
    }

    async fn start(program: &Path) -> Self {
        let mut last_error = String::new();
        // The port is free when chosen but could be taken before chromedriver binds it: retry.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(program)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
            let driver =
                Self { child: std::sync::Mutex::new(child), url: format!("http://127.0.0.1:{port}") };
            match driver.wait_until_ready().await {
                Ok(()) => return driver,
                Err(e) => last_error = e,
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }

    async fn wait_until_ready(&self) -> Result<(), String> {
        let http = test_support::http_client();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) =
                self.child.lock().map_err(|_| ()).and_then(|mut c| c.try_wait().map_err(|_| ()))
            {
                return Err(format!("chromedriver exited at start ({status})"));
            }
            if let Ok(response) = http.get(format!("{}/status", self.url)).send().await
                && let Ok(status) = response.json::<serde_json::Value>().await
                && status["value"]["ready"] == true
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready within {PATIENCE:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

async fn connect(driver: &Driver, browser: &Path, profile: &Path) -> Client {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--hide-scrollbars".into(),
        format!("--window-size={WINDOW_WIDTH},900"),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), json!({"binary": browser, "args": args}));
    // Leave any alert open, so a test can see that one appeared.
    capabilities.insert("unhandledPromptBehavior".into(), json!("ignore"));
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a browser session at {}: {e}", driver.url))
}

/// Saves a PNG of the whole current page (up to 4000 pixels high) as
/// `target/artifacts/screenshots/<name>.png` and returns its path.
pub async fn screenshot(browser: &Client, name: &str) -> PathBuf {
    // The window's height includes the browser's own frame; the page gets what is left.
    let sizes = browser
        .execute(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];",
            vec![],
        )
        .await
        .expect("measure the page");
    let measure = |i: usize| sizes[i].as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    let height = (measure(0) + measure(1)).clamp(600, MAX_SHOT_HEIGHT);
    browser.set_window_size(WINDOW_WIDTH, height).await.expect("resize the window");
    let png = browser.screenshot().await.expect("take a screenshot");
    let dir = artifacts_dir().join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/artifacts/screenshots");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("write the screenshot");
    browser.set_window_size(WINDOW_WIDTH, 900).await.expect("resize the window back");
    path
}

/// The visible text of the first element matching `css`.
pub async fn text_of(browser: &Client, css: &str) -> String {
    let element =
        browser.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
    element.text().await.expect("element text")
}

/// Reloads `url` until the page's body text contains `wanted` (for pages that show what other
/// processes do in the background); panics after [`PATIENCE`].
pub async fn open_until_shown(browser: &Client, url: &str, wanted: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        browser.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
        let body = text_of(browser, "body").await;
        if body.contains(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not show {wanted:?} within {PATIENCE:?}; it shows:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reloads `url` until an element matches `css`, and returns it; panics after [`PATIENCE`].
pub async fn open_until_found(browser: &Client, url: &str, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + PATIENCE;
    loop {
        browser.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
        if let Some(element) =
            browser.find_all(Locator::Css(css)).await.expect("find elements").into_iter().next()
        {
            return element;
        }
        let body = text_of(browser, "body").await;
        assert!(Instant::now() < deadline, "{url} did not show {css} within {PATIENCE:?}; it shows:\n{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Logs the browser in to all three services, at their public address (`localhost`) and at
/// 127.0.0.1 (browsers keep cookies per host name), with the system's admin login.
pub async fn log_in_everywhere(browser: &Client, system: &crate::TestSystem) {
    for service in [&system.contacts, &system.calendar, &system.notifications] {
        for base in [system.public_url(service, "login"), service.url("login")] {
            browser.goto(&base).await.unwrap_or_else(|e| panic!("open {base}: {e}"));
            let form = "form[action='/login']";
            fill(browser, form, "user", &system.admin_user).await;
            fill(browser, form, "password", &system.admin_password).await;
            submit(browser, form).await;
            let url = browser.current_url().await.expect("the page after logging in");
            assert_ne!(url.path(), "/login", "logging in to {} at {base} failed", service.name());
        }
    }
}

/// Types `value` into the field `name` of the form matching `form_css`, as a person would
/// (the field is emptied first).
pub async fn fill(browser: &Client, form_css: &str, name: &str, value: &str) {
    let css = format!("{form_css} [name='{name}']");
    let field = browser.find(Locator::Css(&css)).await.unwrap_or_else(|e| panic!("no field {css}: {e}"));
    field.clear().await.expect("clear the field");
    field.send_keys(value).await.expect("type into the field");
}

/// Clicks the submit button of the form matching `form_css` and waits until the browser shows
/// the next page (every form here answers with a new page or a redirect).
pub async fn submit(browser: &Client, form_css: &str) {
    let css = format!("{form_css} button[type=submit]");
    let button = browser.find(Locator::Css(&css)).await.unwrap_or_else(|e| panic!("no {css}: {e}"));
    click_and_wait(browser, &button).await;
}

/// Clicks `element` and waits until the page it was on has been replaced by the next one. Fails
/// at once if the browser refuses to go on because of the page's Content-Security-Policy.
pub async fn click_and_wait(browser: &Client, element: &fantoccini::elements::Element) {
    let old_page = browser.find(Locator::Css("html")).await.expect("the current page");
    // Scripts run through WebDriver are not subject to the page's CSP, so this listener can
    // record what the policy blocks (the pages themselves have no scripts).
    browser
        .execute(
            "window.__violations = []; document.addEventListener('securitypolicyviolation', \
             e => window.__violations.push(e.violatedDirective + ' blocked ' + e.blockedURI));",
            vec![],
        )
        .await
        .expect("listen for CSP violations");
    element.click().await.expect("click");
    let deadline = Instant::now() + PATIENCE;
    // An element of the old document goes stale once the new document has replaced it.
    while old_page.tag_name().await.is_ok() {
        if let Ok(violations) = browser.execute("return window.__violations;", vec![]).await
            && violations.as_array().is_some_and(|v| !v.is_empty())
        {
            let at = browser.current_url().await.map(String::from).unwrap_or_default();
            panic!("the browser refused to leave {at}: Content-Security-Policy {violations}");
        }
        assert!(Instant::now() < deadline, "no new page within {PATIENCE:?} of the click");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    browser.wait().at_most(PATIENCE).for_element(Locator::Css("body")).await.expect("the new page");
}

/// Follows the link with exactly the text `text` and waits for its page.
pub async fn follow_link(browser: &Client, text: &str) {
    let link =
        browser.find(Locator::LinkText(text)).await.unwrap_or_else(|e| panic!("no link {text:?}: {e}"));
    click_and_wait(browser, &link).await;
}
