//! The web UI's guards, over plain HTTP: cookies, CSRF, other origins, read-only
//! sessions, sessions that end with their token, escaping. The browser suite
//! (`browser.rs`) walks the pages themselves.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::TestApp;

/// A browser stand-in: keeps the session cookie, never follows redirects.
struct UiClient<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Vec<String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF secret of the page's forms.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.html.find(marker).expect("a form with a CSRF secret") + marker.len();
        let end = self.html[start..].find('"').expect("the value's end");
        self.html[start..start + end].to_owned()
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

impl<'a> UiClient<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            cookies: Vec::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header("cookie", self.cookies.join("; "))
        };
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = set.split(';').next().unwrap_or_default().to_owned();
            let name = pair.split('=').next().unwrap_or_default().to_owned();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            if !set.contains("Max-Age=0") {
                self.cookies.push(pair);
            }
        }
        let html = response.text().await.unwrap_or_default();
        Page {
            status,
            headers,
            html,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.app.base));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.app.base))
            .form(form);
        self.send(request).await
    }

    async fn sign_in(&mut self, token: &str) -> Page {
        let csrf = self.get("/ui/sign-in").await.csrf();
        self.post("/ui/sign-in", &[("csrf", &csrf), ("token", token)])
            .await
    }

    /// A create form's fields for a read-only token named `name`.
    async fn create(&mut self, name: &str, csrf: &str) -> Page {
        self.post(
            "/ui/tokens/new",
            &[
                ("csrf", csrf),
                ("name", name),
                ("access", "READ"),
                ("rate", "default"),
                ("expiry", "never"),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn a_session_cookie_is_http_only_same_site_strict_and_secure_behind_tls() {
    let app = TestApp::spawn().await;
    let mut ui = UiClient::new(&app);
    let signed_in = ui.sign_in(&app.admin).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), "/ui/tokens");
    let session = signed_in
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("tessera_session="))
        .expect("a session cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    // Sessions hold no token: the cookie is a random id, not the token.
    assert!(!session.contains(&app.admin));

    let page = ui.get("/ui/tokens").await;
    assert_eq!(page.status, StatusCode::OK);
    for (name, value) in [
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(page.headers[name], value);
    }
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("text");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));

    let behind_tls = reqwest::Client::new()
        .get(format!("{}/ui/sign-in", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("answer");
    let cookie = behind_tls.headers()[SET_COOKIE].to_str().expect("text");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn forms_without_the_session_csrf_secret_or_from_another_site_change_nothing() {
    let app = TestApp::spawn().await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let csrf = ui.get("/ui/tokens/new").await.csrf();
    let before = app.token_count().await;

    let forged = ui.create("forged", "not the secret").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.html.contains("Form expired"));

    let cross_site = ui
        .send(
            ui.http
                .post(format!("{}/ui/tokens/new", app.base))
                .header("origin", "http://evil.example")
                .form(&[("csrf", csrf.as_str()), ("name", "x"), ("access", "READ")]),
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert_eq!(app.token_count().await, before, "nothing was created");

    // A sign-in form needs its own secret too (no login CSRF).
    let mut stranger = UiClient::new(&app);
    let refused = stranger
        .post("/ui/sign-in", &[("csrf", "guess"), ("token", &app.admin)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .set_cookies()
            .iter()
            .all(|c| !c.starts_with("tessera_session="))
    );

    // Behind a proxy that rewrites `Host`, the browser's own word (`Sec-Fetch-Site`),
    // or the host it asked for (`X-Forwarded-Host`), tells a page of this site.
    for (name, value) in [
        ("sec-fetch-site", "same-origin"),
        ("x-forwarded-host", "tokens.example.com"),
    ] {
        let proxied = ui
            .send(
                ui.http
                    .post(format!("{}/ui/tokens/new", app.base))
                    .header("origin", "https://tokens.example.com")
                    .header(name, value)
                    .form(&[("csrf", "not the secret")]),
            )
            .await;
        assert!(
            proxied.html.contains("Form expired"),
            "{name}: past the origin check"
        );
    }
    let cross = ui
        .send(
            ui.http
                .post(format!("{}/ui/tokens/new", app.base))
                .header("sec-fetch-site", "cross-site")
                .form(&[("csrf", csrf.as_str())]),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(
        cross.headers["x-frame-options"], "DENY",
        "refusals are pages too"
    );

    // With the secret, the same form works.
    let created = ui.create("real", &csrf).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    assert_eq!(app.token_count().await, before + 1);
}

#[tokio::test]
async fn a_created_token_is_shown_once_and_never_on_other_pages() {
    let app = TestApp::spawn().await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let csrf = ui.get("/ui/tokens/new").await.csrf();
    let created = ui.create("<script>alert(1)</script>", &csrf).await;
    let reveal_path = created.location().to_owned();
    let first = ui.get(&reveal_path).await;
    let start = first
        .html
        .find("id=\"new-token\"")
        .expect("the token's input");
    let value_at = first.html[start..].find("value=\"").expect("a value") + start + 7;
    let token =
        first.html[value_at..value_at + first.html[value_at..].find('"').expect("end")].to_owned();
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");

    let again = ui.get(&reveal_path).await;
    assert!(!again.html.contains(&token));
    assert!(again.html.contains("token-gone"));
    let id = reveal_path
        .trim_start_matches("/ui/tokens/")
        .trim_end_matches("/created");
    for path in ["/ui/tokens".to_owned(), format!("/ui/tokens/{id}")] {
        let page = ui.get(&path).await;
        assert!(!page.html.contains(&token), "{path} shows the token");
        // The name is text, never markup.
        assert!(!page.html.contains("<script>alert(1)</script>"), "{path}");
        assert!(
            page.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn only_tokens_that_may_read_tokens_sign_in_and_read_only_sessions_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, plain, _) = app
        .create(
            &app.admin,
            json!({"scopes": ["events:publish"], "name": "plain"}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    let refused = ui.sign_in(&plain).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.html.contains("tokens:read or tokens:manage"));

    let (_, reader, _) = app
        .create(
            &app.admin,
            json!({"scopes": ["tokens:read"], "name": "auditor"}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    assert_eq!(ui.sign_in(&reader).await.status, StatusCode::SEE_OTHER);
    let list = ui.get("/ui/tokens").await;
    assert_eq!(list.status, StatusCode::OK);
    // Like any non-admin token, it sees only tokens created through it: none.
    assert!(!list.html.contains("plain"));
    assert!(list.html.contains("No tokens yet."));
    assert!(!list.html.contains("Create token"), "no create button");
    let csrf = list.csrf();
    let before = app.token_count().await;
    let create = ui.create("sneaky", &csrf).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
    assert!(create.html.contains("tokens:manage"));
    assert_eq!(app.token_count().await, before);
}

#[tokio::test]
async fn a_session_ends_with_its_token_and_with_sign_out() {
    let app = TestApp::spawn().await;
    let (manager_id, manager, _) = app
        .create(
            &app.admin,
            json!({"scopes": ["tokens:*"], "name": "manager"}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&manager).await;
    assert_eq!(ui.get("/ui/tokens").await.status, StatusCode::OK);
    app.delete(&format!("/v1/tokens/{manager_id}"), &app.admin)
        .await;
    let after = ui.get("/ui/tokens").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/ui/sign-in?ended=token");

    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let kept = ui.cookies.clone();
    let csrf = ui.get("/ui/tokens").await.csrf();
    let out = ui.post("/ui/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.location(), "/ui/sign-in?ended=signed_out");
    // The old cookie, replayed, opens nothing: the session is gone on the server.
    ui.cookies = kept;
    assert_eq!(ui.get("/ui/tokens").await.location(), "/ui/sign-in");
}

#[tokio::test]
async fn a_failed_edit_keeps_what_was_typed_and_the_expiry_it_would_keep() {
    let app = TestApp::spawn().await;
    let (id, _, _) = app
        .create(
            &app.admin,
            json!({"name": "expiring", "scopes": ["*"], "expires_in": 3600}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let page = ui.get(&format!("/ui/tokens/{id}")).await;
    assert!(
        page.html.contains("<option value=\"keep\" selected>"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("value=\"*\" checked"),
        "`*` stays ticked"
    );
    let csrf = page.csrf();
    let path = format!("/ui/tokens/{id}");
    let form = |resources: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "renamed".to_owned()),
            ("scopes", "*".to_owned()),
            ("resources", resources.to_owned()),
            ("rate", "none".to_owned()),
            ("expiry", "keep".to_owned()),
        ]
    };
    let fields = form("not-a-resource");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = ui.post(&path, &pairs).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("resources-error"));
    assert!(
        refused.html.contains("value=\"renamed\""),
        "the typed name is kept"
    );
    assert!(refused.html.contains("<option value=\"keep\" selected>"));
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(stored.body["name"], "expiring", "nothing changed");

    let fields = form("");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = ui.post(&path, &pairs).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(stored.body["name"], "renamed");
    assert_eq!(stored.body["scopes"], json!(["*"]));
    assert_eq!(
        stored.body["expires_at"], "2026-01-01T01:00:00Z",
        "{}",
        stored.body
    );
}

#[tokio::test]
async fn writes_through_the_pages_spend_the_rate_limit_as_the_api_does() {
    let app = TestApp::spawn().await;
    let (_, manager, _) = app
        .create(
            &app.admin,
            json!({"name": "slow manager", "scopes": ["*"],
                   "rate_limit": {"per_minute": 1, "burst": 3}}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    // Signing in presents the token, and spends one request as the API would;
    // reading pages spends nothing.
    ui.sign_in(&manager).await;
    let csrf = ui.get("/ui/tokens/new").await.csrf();
    ui.get("/ui/tokens").await;
    for name in ["first", "second"] {
        assert_eq!(ui.create(name, &csrf).await.status, StatusCode::SEE_OTHER);
    }
    let before = app.token_count().await;
    let refused = ui.create("third", &csrf).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers.contains_key("retry-after"));
    assert!(
        refused.html.contains("Rate limit reached"),
        "{}",
        refused.html
    );
    assert_eq!(app.token_count().await, before, "nothing was made");
    // The API sees the same empty bucket.
    assert_eq!(app.get("/v1/tokens", &manager).await.status, 429);
}

#[tokio::test]
async fn the_edit_page_shows_and_changes_max_descendants() {
    let app = TestApp::spawn().await;
    let (id, _, _) = app
        .create(
            &app.admin,
            json!({"name": "team", "scopes": ["*"], "max_descendants": 3}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let path = format!("/ui/tokens/{id}");
    let page = ui.get(&path).await;
    assert!(page.html.contains("Max descendants"), "{}", page.html);
    assert!(
        page.html
            .contains("name=\"max_descendants\" type=\"text\" inputmode=\"numeric\" value=\"3\""),
        "{}",
        page.html
    );
    let csrf = page.csrf();
    let form = |most: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "team".to_owned()),
            ("scopes", "*".to_owned()),
            ("rate", "none".to_owned()),
            ("expiry", "never".to_owned()),
            ("max_descendants", most.to_owned()),
        ]
    };
    let fields = form("a few");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = ui.post(&path, &pairs).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("max_descendants-error"));
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(stored.body["max_descendants"], 3, "nothing changed");

    let fields = form("5");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = ui.post(&path, &pairs).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(stored.body["max_descendants"], 5);
}

#[tokio::test]
async fn the_edit_page_shows_and_changes_networks_and_a_bound_token_signs_in_only_from_them() {
    let app = TestApp::spawn().await;
    let (id, _, _) = app
        .create(
            &app.admin,
            json!({"name": "office", "scopes": ["*"], "allowed_cidrs": ["10.0.0.0/8"]}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let path = format!("/ui/tokens/{id}");
    let page = ui.get(&path).await;
    assert!(
        page.html.contains("<code>10.0.0.0/8</code>"),
        "{}",
        page.html
    );
    let csrf = page.csrf();
    let form = |networks: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "office".to_owned()),
            ("scopes", "*".to_owned()),
            ("rate", "none".to_owned()),
            ("expiry", "never".to_owned()),
            ("allowed_cidrs", networks.to_owned()),
        ]
    };
    let fields = form("10.0.0.0/8\nthe office");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = ui.post(&path, &pairs).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("allowed_cidrs-error"),
        "{}",
        refused.html
    );
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(
        stored.body["allowed_cidrs"],
        json!(["10.0.0.0/8"]),
        "nothing changed"
    );

    // Bound elsewhere, it cannot sign in from here; bound here, it can.
    let (_, away, _) = app
        .create(
            &app.admin,
            json!({"name": "away", "scopes": ["*"], "allowed_cidrs": ["10.0.0.0/8"]}),
        )
        .await;
    let mut elsewhere = UiClient::new(&app);
    let refused = elsewhere.sign_in(&away).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let fields = form("127.0.0.0/8, 10.0.0.0/8");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = ui.post(&path, &pairs).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let stored = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(
        stored.body["allowed_cidrs"],
        json!(["127.0.0.0/8", "10.0.0.0/8"])
    );
}

#[tokio::test]
async fn the_edit_page_shows_usage_caps_and_keeps_the_balance_unless_given_anew() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app
        .create(
            &app.admin,
            json!({"name": "metered", "scopes": ["*"], "max_uses": 50,
                   "credits": {"remaining": 10, "refill": {"amount": 20, "every": "month"}}}),
        )
        .await;
    let spent = app
        .post("/v1/verify", &app.admin, json!({"token": token, "cost": 4}))
        .await;
    assert_eq!(spent.body["usage"]["credits_remaining"], 6);
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let path = format!("/ui/tokens/{id}");
    let page = ui.get(&path).await;
    assert!(
        page.html.contains("6 left, refilled to 20 every month"),
        "{}",
        page.html
    );
    assert!(page.html.contains("50 (49 left)"), "{}", page.html);
    let csrf = page.csrf();
    let form = |credits: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "renamed".to_owned()),
            ("scopes", "*".to_owned()),
            ("rate", "none".to_owned()),
            ("expiry", "never".to_owned()),
            ("max_uses", "50".to_owned()),
            ("credits", credits.to_owned()),
            ("refill_amount", "20".to_owned()),
            ("refill_every", "month".to_owned()),
        ]
    };
    let fields = form("10");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = ui.post(&path, &pairs).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let shown = app.get(&path.replace("/ui/", "/v1/"), &app.admin).await;
    assert_eq!(shown.body["name"], "renamed");
    assert_eq!(shown.body["credits"]["remaining"], 6, "left as shown: kept");
    let fields = form("a lot");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = ui.post(&path, &pairs).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains("credits-error"), "{}", refused.html);
    let fields = form("30");
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(ui.post(&path, &pairs).await.status, StatusCode::SEE_OTHER);
    let shown = app.get(&path.replace("/ui/", "/v1/"), &app.admin).await;
    assert_eq!(shown.body["credits"]["remaining"], 30, "a new balance");
}

/// The token's text in a reveal page, as the `new-token` input holds it.
fn revealed(page: &Page) -> String {
    let start = page
        .html
        .find("id=\"new-token\"")
        .expect("the token's input");
    let value_at = page.html[start..].find("value=\"").expect("a value") + start + 7;
    page.html[value_at..value_at + page.html[value_at..].find('"').expect("end")].to_owned()
}

#[tokio::test]
async fn rotating_from_the_token_page_shows_the_new_secret_once() {
    let app = TestApp::spawn().await;
    let (id, old, _) = app
        .create(
            &app.admin,
            serde_json::json!({"name": "deploy", "scopes": ["repo:read"]}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&app.admin).await;
    let token_page = ui.get(&format!("/ui/tokens/{id}")).await;
    assert!(token_page.html.contains(&format!("/ui/tokens/{id}/rotate")));
    let confirm = ui.get(&format!("/ui/tokens/{id}/rotate")).await;
    assert_eq!(confirm.status, 200);
    let csrf = confirm.csrf();

    // A grace period that is not one of the choices changes nothing.
    let refused = ui
        .post(
            &format!("/ui/tokens/{id}/rotate"),
            &[("csrf", &csrf), ("grace_seconds", "999999999")],
        )
        .await;
    assert_ne!(refused.status, 303);
    assert_eq!(app.verify(&old, &[], None).await["code"], "VALID");

    let rotated = ui
        .post(
            &format!("/ui/tokens/{id}/rotate"),
            &[("csrf", &csrf), ("grace_seconds", "3600")],
        )
        .await;
    assert_eq!(rotated.status, 303);
    let reveal = ui.get(rotated.location()).await;
    assert!(reveal.html.contains("New secret for"));
    let new = revealed(&reveal);
    assert_ne!(new, old);
    for secret in [&new, &old] {
        assert_eq!(app.verify(secret, &[], None).await["token_id"], id.as_str());
    }
    assert!(
        !ui.get(rotated.location()).await.html.contains(&new),
        "shown once"
    );
}

#[tokio::test]
async fn the_audit_tab_shows_sign_ins_and_writes_as_the_signed_in_token_may_see_them() {
    let app = TestApp::spawn().await;
    let (manager_id, manager, _) = app
        .create(&app.admin, json!({"scopes": ["*"], "name": "manager <b>"}))
        .await;
    let (reader_id, reader, _) = app
        .create(
            &app.admin,
            json!({"scopes": ["tokens:read"], "name": "reader"}),
        )
        .await;
    let mut ui = UiClient::new(&app);
    ui.sign_in(&manager).await;
    let csrf = ui.get("/ui/tokens").await.csrf();
    let created = ui.create("made in the page", &csrf).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let page = ui.get("/ui/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.html
            .contains("href=\"/ui/audit\" aria-current=\"page\""),
        "the tab is marked"
    );
    for seen in [
        "session.signed_in",
        "token.created",
        "made in the page",
        "manager &lt;b&gt;",
    ] {
        assert!(
            page.html.contains(seen),
            "{seen} missing from\n{}",
            page.html
        );
    }
    assert!(
        !page.html.contains(&reader_id),
        "a manager sees only its own subtree"
    );
    assert!(!page.html.contains("manager <b>"), "names are escaped");
    let filtered = ui.get("/ui/audit?action=session.signed_in").await;
    assert!(!filtered.html.contains("<code>token.created</code>"));
    let checked = ui.get("/ui/audit/verify").await;
    assert_eq!(
        checked.status,
        StatusCode::FORBIDDEN,
        "the chain check is the admin's"
    );
    let out = ui.post("/ui/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);

    // A token that may only read has no Audit tab, and no way around it.
    let mut reading = UiClient::new(&app);
    reading.sign_in(&reader).await;
    assert!(!reading.get("/ui/tokens").await.html.contains("/ui/audit"));
    assert_eq!(reading.get("/ui/audit").await.status, StatusCode::FORBIDDEN);

    let mut admin = UiClient::new(&app);
    admin.sign_in(&app.admin).await;
    let everything = admin.get("/ui/audit").await;
    assert!(
        everything.html.contains(&reader_id),
        "the admin sees every entry"
    );
    let checked = admin.get("/ui/audit/verify").await;
    assert!(checked.html.contains("Intact: "), "{}", checked.html);
    let log = app
        .get(&format!("/v1/audit?actor={manager_id}"), &app.admin)
        .await;
    let actions: Vec<&str> = log.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["session.signed_out", "token.created", "session.signed_in"]
    );
}

#[tokio::test]
async fn the_webhooks_tab_shows_each_endpoints_deliveries_to_the_admin_alone() {
    let app = TestApp::spawn().await;
    // Nobody listens there: each delivery waits for its retry, with the reason.
    let made = app
        .post(
            "/v1/webhooks",
            &app.admin,
            json!({"url": "http://127.0.0.1:9/hook?<b>", "events": ["token.created"], "description": "ops <i>"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_owned();
    let (_, manager, _) = app
        .create(&app.admin, json!({"scopes": ["*"], "name": "manager"}))
        .await;
    let mut admin = UiClient::new(&app);
    admin.sign_in(&app.admin).await;
    assert!(
        admin
            .get("/ui/tokens")
            .await
            .html
            .contains("href=\"/ui/webhooks\"")
    );
    let listed = admin.get("/ui/webhooks").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.html.contains(&format!("/ui/webhooks/{id}")));
    assert!(listed.html.contains("ops &lt;i&gt;") && !listed.html.contains("ops <i>"));
    let mut log = String::new();
    for _ in 0..200 {
        log = admin.get(&format!("/ui/webhooks/{id}")).await.html;
        if log.contains("cannot connect") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for seen in ["token.created", "pending", "cannot connect", "next "] {
        assert!(log.contains(seen), "{seen} missing from\n{log}");
    }
    assert!(
        !log.contains(made.body["secret"].as_str().unwrap()),
        "no secret on a page"
    );

    let mut managing = UiClient::new(&app);
    managing.sign_in(&manager).await;
    assert!(
        !managing
            .get("/ui/tokens")
            .await
            .html
            .contains("/ui/webhooks")
    );
    assert_eq!(
        managing.get("/ui/webhooks").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        managing.get(&format!("/ui/webhooks/{id}")).await.status,
        StatusCode::FORBIDDEN
    );
}
