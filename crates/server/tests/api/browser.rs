//! The Tokens page in a real browser: Debian's headless Chromium, driven through
//! ChromeDriver (WebDriver), against the real server. Each page is photographed into
//! `target/ui-screenshots/` as a test artifact.

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tessera_testkit::{CHROMIUM, ChromeDriver};

use crate::helpers::TestApp;

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// A browser session on a running server, with a place to put screenshots.
struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
    _driver: ChromeDriver,
}

impl Browser {
    async fn open(app: &TestApp) -> Self {
        let driver = ChromeDriver::start();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": driver.chromium_args(DESKTOP.0, DESKTOP.1),
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .expect("ChromeDriver opens a Chromium session");
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
        std::fs::create_dir_all(&shots).expect("the screenshot folder");
        Self {
            client,
            base: app.base.clone(),
            shots,
            _driver: driver,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("the page loads");
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("a URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// A screenshot of what the window shows.
    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!("no {css} on {}: {error}", self.path().await),
        }
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    async fn fill(&self, css: &str, value: &str) {
        let input = self.find(css).await;
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    async fn choose(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .expect("choose an option");
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks what leads to another page (a link, a submit button) and waits until
    /// that page has loaded.
    async fn click_and_load(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.wait_for_new_page(css).await;
    }

    /// Marks the page shown now, for [`Browser::wait_for_new_page`].
    async fn mark_page(&self) {
        self.script("window.tesseraOldPage = true; return null")
            .await;
    }

    /// Waits until the page marked `tesseraOldPage` has been replaced and loaded.
    async fn wait_for_new_page(&self, after: &str) {
        self.wait_for_script(
            "return window.tesseraOldPage === undefined && document.readyState === 'complete'",
            Value::Bool(true),
            &format!("{after} loaded no page"),
        )
        .await;
    }

    /// Waits until the element with this id has the focus: Chromium applies
    /// `autofocus` at its next rendering update, which may come after the load event.
    async fn wait_for_focus(&self, id: &str) {
        self.wait_for_script(
            "return document.activeElement.id",
            Value::String(id.to_owned()),
            &format!("#{id} never got the focus"),
        )
        .await;
    }

    /// Runs `script` until it returns `wanted`, for at most 10 s.
    async fn wait_for_script(&self, script: &str, wanted: Value, failure: &str) {
        let started = std::time::Instant::now();
        loop {
            let found = self.script(script).await;
            if found == wanted {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{failure} on {} (the page says {found})",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn script(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("the script runs")
    }

    async fn sign_in(&self, token: &str) {
        self.goto("/ui").await;
        self.fill("#token", token).await;
        self.click_and_load("form[action='/ui/sign-in'] button[type=submit]")
            .await;
        assert_eq!(self.path().await, "/ui/tokens", "signed in");
    }

    async fn sign_out(&self) {
        self.click_and_load("form[action='/ui/sign-out'] button")
            .await;
        assert_eq!(self.path().await, "/ui/sign-in?ended=signed_out");
    }

    /// The ids of the tokens the list shows.
    async fn listed_names(&self) -> Vec<String> {
        let rows = self
            .client
            .find_all(Locator::Css("table.tokens tbody th a"))
            .await
            .expect("rows");
        let mut names = Vec::new();
        for row in rows {
            names.push(row.text().await.expect("a name"));
        }
        names
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_creates_edits_and_revokes_a_token_in_the_browser() {
    let app = TestApp::spawn().await;
    let browser = Browser::open(&app).await;

    // Signing in: a wrong token is refused next to the field, the admin's is taken.
    browser.goto("/ui").await;
    assert_eq!(browser.path().await, "/ui/sign-in");
    browser.shot("01-sign-in").await;
    browser.fill("#token", "tsr_not-a-token").await;
    browser.click_and_load("form button[type=submit]").await;
    assert!(
        browser
            .text("#token-error")
            .await
            .contains("cannot sign in")
    );
    browser.shot("02-sign-in-refused").await;
    browser.sign_in(&app.admin).await;
    assert_eq!(browser.listed_names().await, ["admin"]);
    browser.shot("03-tokens").await;

    // A bad input: its error is next to its field, focus goes to the summary of
    // errors, and what was typed is still there.
    browser.click_and_load("a[href='/ui/tokens/new']").await;
    browser.shot("04-create").await;
    browser
        .fill("#description", "deploys from CI; kept on a failed submit")
        .await;
    browser.choose("#access", "").await;
    browser
        .click_and_load("form.token-form button[type=submit]")
        .await;
    assert!(
        browser
            .text("#name-error")
            .await
            .contains("1 to 100 characters")
    );
    assert!(
        browser
            .text("#scopes-error")
            .await
            .contains("at least one scope")
    );
    assert_eq!(
        browser
            .find("#description")
            .await
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("deploys from CI; kept on a failed submit")
    );
    browser.wait_for_focus("error-summary").await;
    browser.shot("05-create-refused").await;

    // Create: scopes by category (a whole category, and one scope), a resource, a
    // preset expiry. The token is shown once, with a copy button.
    browser.fill("#name", "ci deploy").await;
    browser.click("input[value='events:*']").await;
    browser.click("input[value='channels:read']").await;
    assert!(
        !browser
            .find("input[value='events:publish']")
            .await
            .is_enabled()
            .await
            .expect("enabled"),
        "a whole category covers its scopes"
    );
    browser.fill("#resources", "channel:alpha").await;
    browser.choose("#expiry", "7d").await;
    browser
        .click_and_load("form.token-form button[type=submit]")
        .await;
    let token = browser
        .find("#new-token")
        .await
        .prop("value")
        .await
        .expect("value")
        .expect("the token is shown");
    assert!(token.starts_with("tsr_"));
    assert!(browser.text(".reveal .warning").await.contains("only time"));
    browser.click("button[data-copy]").await;
    // The clipboard answers asynchronously: wait for the button's report.
    browser
        .wait_for_script(
            "return document.querySelector('.copied').textContent !== ''",
            Value::Bool(true),
            "the copy button reported nothing",
        )
        .await;
    let report = browser.text(".copied").await;
    assert!(
        report.contains("op"),
        "the copy button says what it did: {report:?}"
    );
    browser.shot("06-created").await;
    let created_at = browser.path().await;

    // A reload shows it no more.
    browser.client.refresh().await.expect("reload");
    assert!(browser.has("#token-gone").await);
    assert!(!browser.has("#new-token").await);
    assert!(
        !browser
            .client
            .source()
            .await
            .expect("source")
            .contains(&token)
    );
    browser.shot("07-created-reloaded").await;

    // The created token works through the API, within what was picked.
    let verdict = app
        .verify(
            &token,
            &["events:publish", "channels:read"],
            Some("channel:alpha"),
        )
        .await;
    assert_eq!(verdict["code"], "VALID", "{verdict}");
    let verdict = app
        .verify(&token, &["channels:manage"], Some("channel:alpha"))
        .await;
    assert_eq!(verdict["code"], "FORBIDDEN", "{verdict}");
    let id = created_at
        .trim_start_matches("/ui/tokens/")
        .trim_end_matches("/created")
        .to_owned();

    // Edit: a bad resource is refused next to its field and nothing changes; then a
    // new name and rate limit hold at once.
    browser.goto(&format!("/ui/tokens/{id}")).await;
    browser.fill("#resources", "not a resource").await;
    browser
        .click_and_load("form.token-form button[type=submit]")
        .await;
    assert!(browser.has("#resources-error").await);
    browser.shot("08-edit-refused").await;
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(stored.body["resources"], json!(["channel:alpha"]));
    browser.fill("#resources", "channel:alpha").await;
    browser.fill("#name", "ci deploy (edited)").await;
    browser.choose("#rate", "restricted").await;
    browser
        .click_and_load("form.token-form button[type=submit]")
        .await;
    assert!(browser.text(".flash").await.contains("Saved"));
    browser.shot("09-edited").await;
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(stored.body["name"], "ci deploy (edited)");
    assert_eq!(stored.body["rate_limit"]["profile"], "restricted");

    // Revoke: the confirmation names the token; afterwards the token fails at once.
    browser.click_and_load("a.danger").await;
    assert!(browser.text("h1").await.contains("ci deploy (edited)"));
    browser.shot("10-revoke-confirm").await;
    browser.click_and_load("form button.danger").await;
    assert!(browser.text(".flash").await.contains("Revoked"));
    assert!(browser.text("h1 .badge").await.contains("revoked"));
    let verdict = app
        .verify(&token, &["events:publish"], Some("channel:alpha"))
        .await;
    assert_eq!(verdict["code"], "REVOKED", "{verdict}");
    browser.shot("11-revoked").await;

    // The list: statuses, search and filters.
    browser.goto("/ui/tokens?status=revoked").await;
    assert_eq!(browser.listed_names().await, ["ci deploy (edited)"]);
    browser.goto("/ui/tokens?name=DEPLOY").await;
    assert_eq!(browser.listed_names().await, ["ci deploy (edited)"]);
    browser.goto("/ui/tokens?status=active").await;
    assert_eq!(browser.listed_names().await, ["admin"]);

    // At a phone's width the list fits the screen, one card per token.
    browser
        .client
        .set_window_size(PHONE.0, PHONE.1)
        .await
        .expect("resize");
    browser.goto("/ui/tokens").await;
    let overflow = browser
        .script("return document.documentElement.scrollWidth - window.innerWidth")
        .await;
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "no sideways scrolling: {overflow}"
    );
    browser.shot("12-tokens-phone").await;
    browser.goto("/ui/tokens/new").await;
    browser.shot("13-create-phone").await;
    browser
        .client
        .set_window_size(DESKTOP.0, DESKTOP.1)
        .await
        .expect("resize");

    // Sign out; the pages then ask to sign in again.
    browser.goto("/ui/tokens").await;
    browser.sign_out().await;
    assert!(browser.text(".flash").await.contains("signed out"));
    browser.shot("14-signed-out").await;
    browser.goto("/ui/tokens").await;
    assert_eq!(browser.path().await, "/ui/sign-in");

    browser.client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sees_only_its_own_subtree_and_an_idle_session_ends() {
    let app = TestApp::spawn().await;
    let manager = json!({"scopes": ["tokens:*", "events:*"], "name": "team a"});
    let (_, team_a, _) = app.create(&app.admin, manager.clone()).await;
    let (_, team_b, _) = app
        .create(
            &app.admin,
            json!({"scopes": ["tokens:*", "events:*"], "name": "team b"}),
        )
        .await;
    app.create(
        &team_a,
        json!({"name": "a child", "scopes": ["events:publish"]}),
    )
    .await;
    let (b_child, _, _) = app
        .create(
            &team_b,
            json!({"name": "b child", "scopes": ["events:publish"]}),
        )
        .await;

    // Signing in by keyboard alone: the token field has the focus, Enter submits.
    let browser = Browser::open(&app).await;
    browser.goto("/ui").await;
    browser.wait_for_focus("token").await;
    let focused = browser
        .client
        .active_element()
        .await
        .expect("a focused element");
    focused.send_keys(&team_a).await.expect("type");
    browser.mark_page().await;
    focused.send_keys("\u{e007}").await.expect("Enter");
    browser.wait_for_new_page("Enter").await;
    assert_eq!(browser.path().await, "/ui/tokens");
    assert_eq!(browser.listed_names().await, ["a child"]);
    browser.shot("20-manager-tokens").await;
    browser.goto(&format!("/ui/tokens/{b_child}")).await;
    assert_eq!(browser.text("h1").await, "Token not found");
    browser.shot("21-manager-other-subtree").await;

    // A manager cannot create beyond itself: the refusal is on the form, not a crash.
    browser.goto("/ui/tokens/new").await;
    browser.fill("#name", "too much").await;
    browser.choose("#access", "ADMIN").await;
    browser.choose("#expiry", "never").await;
    browser
        .click_and_load("form.token-form button[type=submit]")
        .await;
    assert!(browser.has(".error-summary").await);
    browser.shot("22-manager-escalation-refused").await;

    // Half an hour without a request ends the session.
    app.advance_secs(31 * 60);
    browser.goto("/ui/tokens").await;
    assert_eq!(browser.path().await, "/ui/sign-in?ended=idle");
    assert!(browser.text(".flash").await.contains("without use"));
    browser.shot("23-session-idle").await;

    browser.client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_page_charts_its_usage_and_the_audit_tab_lists_what_happened() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app
        .create(
            &app.admin,
            json!({"name": "charted", "scopes": ["repo:read"]}),
        )
        .await;
    for scopes in [["repo:read"], ["repo:read"], ["repo:read"], ["repo:write"]] {
        app.verify(&token, &scopes, None).await;
    }
    // Counted to the hour they are written in: read (which writes them) before
    // the clock moves. An hour later, one more: two bars.
    app.get(&format!("/v1/tokens/{id}/usage"), &app.admin).await;
    app.advance_secs(3600);
    app.verify(&token, &["repo:read"], None).await;

    let browser = Browser::open(&app).await;
    browser.sign_in(&app.admin).await;
    browser.goto(&format!("/ui/tokens/{id}")).await;
    let bars = "return Array.from(document.querySelectorAll('svg.chart g.bucket'))\
                .map(g => [g.dataset.total, g.querySelectorAll('rect').length])";
    let drawn = browser.script(bars).await;
    let drawn = drawn.as_array().expect("the buckets");
    assert_eq!(drawn.len(), 25, "a day of hours and the current one");
    assert_eq!(drawn[23], json!(["4", 2]), "allowed and forbidden, stacked");
    assert_eq!(drawn[24], json!(["1", 1]));
    assert!(drawn[..23].iter().all(|bar| bar == &json!(["0", 0])));
    // Coloured by the stylesheet: the CSP allows no inline style.
    let fill = browser
        .script("return getComputedStyle(document.querySelector('svg.chart rect.forbidden')).fill")
        .await;
    assert_eq!(fill, json!("rgb(198, 40, 40)"));
    let tall = browser
        .script("return document.querySelector('svg.chart').getBoundingClientRect().height > 100")
        .await;
    assert_eq!(tall, json!(true), "the chart is drawn at a readable size");
    assert_eq!(
        browser
            .text("section.usage figcaption")
            .await
            .replace('\n', " "),
        "4 allowed 1 forbidden 0 rate limited 0 usage exhausted"
    );
    browser.shot("30-token-usage-chart").await;
    browser.click_and_load("nav.spans a").await;
    let days = browser
        .script("return document.querySelectorAll('svg.chart g.bucket').length")
        .await;
    assert_eq!(days, json!(31), "30 days and today");
    browser.shot("31-token-usage-days").await;

    browser
        .click_and_load("nav[aria-label=Main] a[href='/ui/audit']")
        .await;
    assert_eq!(browser.path().await, "/ui/audit");
    let actions = browser
        .script("return Array.from(document.querySelectorAll('table.audit tbody th')).map(th => th.textContent)")
        .await;
    assert_eq!(
        actions,
        json!(["session.signed_in", "token.created", "admin.created"])
    );
    browser.shot("32-audit").await;
    browser.client.close().await.expect("close the browser");
}
