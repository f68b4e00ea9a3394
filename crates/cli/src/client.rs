//! `tessera token ...`: the HTTP API from a shell. Tables for people, `--json` for
//! scripts, and exit codes scripts can branch on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | the server failed or could not be reached |
//! | 2 | the command line is wrong |
//! | 3 | not authenticated or not allowed (401, 403) |
//! | 4 | no such token (404) |
//! | 5 | the request was refused as invalid (400, 409, 413, 415) |
//! | 6 | rate limited (429) |

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tessera_api::{
    CreateTokenRequest, CreatedToken, CreditsBody, ListParams, Problem, RateLimitBody, RefillBody,
    RotateRequest, TokenList, TokenView, UpdateTokenRequest, UsageParams, UsageReport,
    VerifyAnswer, VerifyRequest,
};

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: TokenCommand,
}

/// The server to call and the token to call it with: what `token` and `audit` share.
#[derive(Args)]
pub struct Remote {
    /// The tessera server, e.g. http://127.0.0.1:7900.
    #[arg(
        long,
        env = "TESSERA_URL",
        default_value = "http://127.0.0.1:7900",
        global = true
    )]
    url: String,
    /// Trust only the CA certificates in this PEM file for an https:// server (the
    /// system's roots otherwise).
    #[arg(long, env = "TESSERA_CA_CERT", global = true, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// The token to act with: the admin token, a manager's (tokens:manage), or for
    /// `verify` a backend's (tokens:verify).
    #[arg(
        long = "auth",
        env = "TESSERA_TOKEN",
        hide_env_values = true,
        global = true,
        value_name = "TOKEN"
    )]
    auth: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; its text is printed once.
    Create {
        /// What the token is for, shown in lists (1 to 100 characters).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Print only the token's text (for `TOKEN=$(tessera token create ... -q)`).
        #[arg(short, long)]
        quiet: bool,
    },
    /// List tokens, newest first.
    List {
        #[command(flatten)]
        filters: ListArgs,
    },
    /// Show one token.
    Show {
        /// The token's id (from `create` or `list`), not its text.
        id: String,
    },
    /// Change a token's settings; only the options given change.
    Update {
        /// The token's id (from `create` or `list`), not its text.
        id: String,
        /// A new name (1 to 100 characters).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        clear: ClearArgs,
    },
    /// Give a token a new secret (printed once); the previous one works on for
    /// `--grace` seconds, then is refused, and its reuse revokes the token.
    Rotate {
        /// The token's id (from `create` or `list`), not its text.
        id: String,
        /// How long the previous secret keeps working: 0 (the default) to 604800 (7 days).
        #[arg(long, value_name = "SECONDS")]
        grace: Option<i64>,
        /// Print only the new secret (for scripts).
        #[arg(long, short)]
        quiet: bool,
    },
    /// A token's answers by the hour (or the day): allowed, forbidden, rate
    /// limited, usage exhausted.
    Usage {
        /// The token's id.
        id: String,
        /// From this time, RFC 3339 [default: a day (or 30 days) before --to].
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// To this time, RFC 3339 [default: now].
        #[arg(long, value_name = "TIME")]
        to: Option<String>,
        /// hour or day.
        #[arg(long, default_value = "hour")]
        granularity: String,
    },
    /// Revoke a token and every token created through it.
    Revoke {
        /// The token's id (from `create` or `list`), not its text.
        id: String,
    },
    /// Ask whether a token may act, as a backend does on each request: prints the
    /// answer; exits 0 when the token is valid for it, 3 when not.
    Verify {
        /// The token's text, as its holder presents it.
        token: String,
        /// A scope the request needs (category:action); repeat for more.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The resource the request touches (type:id).
        #[arg(long)]
        resource: Option<String>,
        /// The address the request comes from, for a token bound to networks.
        #[arg(long, value_name = "ADDRESS")]
        client_ip: Option<String>,
        /// The credits the request spends from a token that has them [default: 1].
        #[arg(long, value_name = "N")]
        cost: Option<u64>,
    },
}

/// `tessera token update`'s switches that remove a setting.
#[derive(Args)]
struct ClearArgs {
    /// Remove the expiry.
    #[arg(long, conflicts_with_all = ["expires_in", "expires_at"])]
    never_expires: bool,
    /// Remove the resource restriction.
    #[arg(long, conflicts_with = "resources")]
    all_resources: bool,
    /// Make it valid at once (remove its not-before time).
    #[arg(long, conflicts_with = "not_before")]
    valid_now: bool,
    /// Remove the description.
    #[arg(long, conflicts_with = "description")]
    clear_description: bool,
    /// Remove the owner.
    #[arg(long, conflicts_with = "owner")]
    clear_owner: bool,
    /// Remove the metadata.
    #[arg(long, conflicts_with = "meta")]
    clear_meta: bool,
    /// Remove the token's own bound on the tokens made through it (its maker's
    /// still holds).
    #[arg(long, conflicts_with = "max_descendants")]
    clear_max_descendants: bool,
    /// Let the token be used from anywhere again (within its maker's networks).
    #[arg(long, conflicts_with = "allowed_cidrs")]
    anywhere: bool,
    /// Remove the cap on uses (the uses so far still count if one is set again).
    #[arg(long, conflicts_with = "max_uses")]
    no_max_uses: bool,
    /// Remove the credits.
    #[arg(long, conflicts_with = "credits")]
    no_credits: bool,
}

/// `tessera token list`'s filters, sent as they are.
#[derive(Args)]
struct ListArgs {
    /// Only tokens in this state: active, pending, expired or revoked.
    #[arg(long)]
    status: Option<String>,
    /// Only tokens acting for this owner.
    #[arg(long)]
    owner: Option<String>,
    /// Only tokens that may touch this resource (type:id).
    #[arg(long)]
    resource: Option<String>,
    /// Only tokens whose name contains this.
    #[arg(long)]
    name: Option<String>,
    /// Only live tokens that expire within this long: 90s, 15m, 12h, 7d.
    #[arg(long, value_name = "DURATION")]
    expiring_within: Option<String>,
    /// At most this many tokens (1 to 1000) [default: 100].
    #[arg(long)]
    limit: Option<u32>,
    /// Where the previous page ended (printed under it as "more: --cursor ...").
    #[arg(long)]
    cursor: Option<String>,
}

impl From<ListArgs> for ListParams {
    fn from(args: ListArgs) -> Self {
        ListParams {
            status: args.status,
            owner: args.owner,
            resource: args.resource,
            name: args.name,
            expiring_within: args.expiring_within,
            limit: args.limit,
            cursor: args.cursor,
        }
    }
}

#[derive(Args)]
struct SettingsArgs {
    /// Free text about the token (at most 1000 characters).
    #[arg(long)]
    description: Option<String>,
    /// A scope (category:action, category:*, *); repeat for more.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// READ, WRITE or ADMIN, instead of scopes.
    #[arg(long, conflicts_with = "scopes")]
    access: Option<String>,
    /// A resource (type:id, type:*); repeat for more.
    #[arg(long = "resource", value_name = "RESOURCE")]
    resources: Vec<String>,
    /// Expire this many seconds from now.
    #[arg(
        long,
        conflicts_with = "expires_at",
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    expires_in: Option<i64>,
    /// Expire at this time, RFC 3339, e.g. 2030-01-01T00:00:00Z.
    #[arg(long, value_name = "TIME")]
    expires_at: Option<String>,
    /// Not valid before this time, RFC 3339.
    #[arg(long, value_name = "TIME")]
    not_before: Option<String>,
    /// A rate-limit profile: burst_friendly, steady_stream, api_heavy, restricted, or
    /// one the server's config adds.
    #[arg(long, conflicts_with_all = ["per_minute", "burst"], value_name = "PROFILE")]
    rate_limit: Option<String>,
    /// A custom rate limit: requests per minute (with --burst).
    #[arg(long, requires = "burst", value_name = "N")]
    per_minute: Option<u64>,
    /// A custom rate limit: requests allowed at once (with --per-minute).
    #[arg(long, requires = "per_minute", value_name = "N")]
    burst: Option<u64>,
    /// Whom the token acts for (at most 200 characters).
    #[arg(long)]
    owner: Option<String>,
    /// A JSON object returned on verify.
    #[arg(long, value_name = "JSON")]
    meta: Option<String>,
    /// At most this many live tokens made through this one (its children and
    /// theirs) [default: its maker's bound, or the server's default].
    #[arg(long, value_name = "N")]
    max_descendants: Option<u32>,
    /// A network the token may be used from (a CIDR such as 203.0.113.0/24, or an
    /// address); repeat for more [default: anywhere, or its maker's networks].
    #[arg(long = "allow-cidr", value_name = "CIDR")]
    allowed_cidrs: Vec<String>,
    /// At most this many allowed verifications in the token's life.
    #[arg(long, value_name = "N")]
    max_uses: Option<u64>,
    /// A balance of credits each verification spends its cost from.
    #[arg(long, value_name = "N")]
    credits: Option<u64>,
    /// Set the credits back to this at each --refill-every (with --credits).
    #[arg(long, requires_all = ["credits", "refill_every"], value_name = "N")]
    refill_amount: Option<u64>,
    /// day or month.
    #[arg(long, requires = "refill_amount", value_name = "PERIOD")]
    refill_every: Option<String>,
}

impl SettingsArgs {
    fn rate_limit(&self) -> Option<RateLimitBody> {
        match (&self.rate_limit, self.per_minute, self.burst) {
            (Some(profile), _, _) => Some(RateLimitBody {
                profile: Some(profile.clone()),
                ..RateLimitBody::default()
            }),
            (None, Some(per_minute), Some(burst)) => Some(RateLimitBody {
                per_minute: Some(per_minute),
                burst: Some(burst),
                ..RateLimitBody::default()
            }),
            _ => None,
        }
    }

    fn meta(&self) -> Result<Option<Value>, String> {
        self.meta
            .as_deref()
            .map(|text| serde_json::from_str(text).map_err(|e| format!("--meta is not JSON: {e}")))
            .transpose()
    }

    /// The request creating a token named `name` with these settings.
    fn create_request(&self, name: String) -> Result<CreateTokenRequest, String> {
        Ok(CreateTokenRequest {
            name: Some(name),
            description: self.description.clone(),
            scopes: non_empty(&self.scopes),
            access: self.access.clone(),
            resources: non_empty(&self.resources),
            expires_at: self.expires_at.clone(),
            expires_in: self.expires_in,
            not_before: self.not_before.clone(),
            rate_limit: self.rate_limit(),
            owner: self.owner.clone(),
            meta: self.meta()?,
            max_descendants: self.max_descendants,
            allowed_cidrs: non_empty(&self.allowed_cidrs),
            max_uses: self.max_uses,
            credits: self.credits_body(),
        })
    }

    fn credits_body(&self) -> Option<CreditsBody> {
        self.credits.map(|remaining| CreditsBody {
            remaining,
            refill: self.refill_amount.map(|amount| RefillBody {
                amount: Some(amount),
                every: self.refill_every.clone(),
            }),
        })
    }

    /// The request changing what these settings give, and clearing what the switches say.
    fn update_request(
        &self,
        name: Option<String>,
        clear: &ClearArgs,
    ) -> Result<UpdateTokenRequest, String> {
        /// A setting to change: cleared (`Some(None)`), set, or left alone (`None`).
        fn change<T>(cleared: bool, given: Option<T>) -> Option<Option<T>> {
            if cleared { Some(None) } else { given.map(Some) }
        }
        let update = UpdateTokenRequest {
            name,
            description: change(clear.clear_description, self.description.clone()),
            scopes: non_empty(&self.scopes),
            access: self.access.clone(),
            resources: change(clear.all_resources, non_empty(&self.resources)),
            rate_limit: self.rate_limit().map(Some),
            expires_at: change(clear.never_expires, self.expires_at.clone()),
            expires_in: self.expires_in,
            not_before: change(clear.valid_now, self.not_before.clone()),
            owner: change(clear.clear_owner, self.owner.clone()),
            meta: change(clear.clear_meta, self.meta()?),
            max_descendants: change(clear.clear_max_descendants, self.max_descendants),
            allowed_cidrs: if clear.anywhere {
                Some(Vec::new())
            } else {
                non_empty(&self.allowed_cidrs)
            },
            max_uses: change(clear.no_max_uses, self.max_uses),
            credits: change(clear.no_credits, self.credits_body()),
        };
        if update == UpdateTokenRequest::default() {
            return Err("nothing to change: give at least one option (see --help)".into());
        }
        Ok(update)
    }
}

fn non_empty(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

/// A failure, with the exit code that tells scripts what kind.
pub struct Failure {
    code: u8,
    message: String,
}

pub fn failure(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub fn run(args: TokenArgs) -> ExitCode {
    exit_with(execute(args))
}

/// The exit code of a command's outcome, its failure said on standard error.
pub fn exit_with(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tessera: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// The server's base URL as given, checked: a scheme and a host, nothing after the path.
fn base_url(url: &str) -> Result<String, Failure> {
    let hint = |why: &str| {
        failure(
            2,
            format!("--url {url:?} {why}: give the server's address, e.g. http://127.0.0.1:7900"),
        )
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| {
        if url.contains("://") {
            hint("is not a URL")
        } else {
            hint("must start with http:// or https://")
        }
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(hint("must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(hint("names no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(hint("must not have a query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The CA certificates in a PEM file.
fn trusted_roots(path: &Path) -> Result<Vec<reqwest::Certificate>, Failure> {
    let cannot = |why: String| failure(2, format!("--ca-cert {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| cannot(e.to_string()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| cannot(causes(&e)))?;
    if roots.is_empty() {
        return Err(cannot("holds no PEM certificate".into()));
    }
    Ok(roots)
}

/// A server to call, with the token to call it with.
pub struct Connection {
    base: String,
    client: Client,
    auth: String,
}

impl Connection {
    pub fn open(remote: &Remote) -> Result<Self, Failure> {
        let base = base_url(&remote.url)?;
        let auth = remote
            .auth
            .clone()
            .ok_or_else(|| failure(2, "no token to act with: set TESSERA_TOKEN or pass --auth"))?;
        let mut client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60));
        if let Some(path) = &remote.ca_cert {
            client = client.tls_certs_only(trusted_roots(path)?);
        }
        let client = client
            .build()
            .map_err(|e| failure(1, format!("cannot make an HTTP client: {}", causes(&e))))?;
        Ok(Self { base, client, auth })
    }

    pub fn call(&self) -> Call<'_> {
        Call {
            base: &self.base,
            client: &self.client,
            auth: &self.auth,
        }
    }
}

fn execute(args: TokenArgs) -> Result<(), Failure> {
    let connection = Connection::open(&args.remote)?;
    let call = connection.call();
    let json = args.remote.json;
    match args.command {
        TokenCommand::Create {
            name,
            settings,
            quiet,
        } => {
            let body = settings.create_request(name).map_err(|m| failure(2, m))?;
            let created: CreatedToken = call.send(Method::POST, "/v1/tokens", Some(&body))?;
            if quiet {
                println!("{}", created.token);
            } else if json {
                print_json(&created);
            } else {
                println!(
                    "Token (shown this once; store it now):\n{}\n",
                    created.token
                );
                print_details(&created.details);
            }
        }
        TokenCommand::List { filters } => {
            let query = ListParams::from(filters);
            let page: TokenList = call.get_with_query("/v1/tokens", &query)?;
            if json {
                print_json(&page);
            } else {
                print_table(&page.tokens);
                if let Some(next) = &page.next_cursor {
                    println!("\nmore: --cursor {next}");
                }
            }
        }
        TokenCommand::Usage {
            id,
            from,
            to,
            granularity,
        } => {
            let query = UsageParams {
                from,
                to,
                granularity: Some(granularity),
            };
            let report: UsageReport =
                call.get_with_query(&format!("{}/usage", token_path(&id)), &query)?;
            if json {
                print_json(&report);
            } else {
                println!(
                    "{:<22}{:>10}{:>11}{:>14}{:>17}",
                    "START", "VALID", "FORBIDDEN", "RATE LIMITED", "USAGE EXHAUSTED"
                );
                for bucket in report
                    .buckets
                    .iter()
                    .filter(|b| b.valid + b.forbidden + b.rate_limited + b.usage_exhausted > 0)
                {
                    println!(
                        "{:<22}{:>10}{:>11}{:>14}{:>17}",
                        bucket.start,
                        bucket.valid,
                        bucket.forbidden,
                        bucket.rate_limited,
                        bucket.usage_exhausted
                    );
                }
            }
        }
        TokenCommand::Show { id } => {
            let token: TokenView = call.send(Method::GET, &token_path(&id), None::<&()>)?;
            output(&token, json);
        }
        TokenCommand::Update {
            id,
            name,
            settings,
            clear,
        } => {
            let body = settings
                .update_request(name, &clear)
                .map_err(|m| failure(2, m))?;
            let token: TokenView = call.send(Method::PATCH, &token_path(&id), Some(&body))?;
            output(&token, json);
        }
        TokenCommand::Rotate { id, grace, quiet } => {
            let body = RotateRequest {
                grace_seconds: grace,
            };
            let path = format!("{}/rotate", token_path(&id));
            let rotated: CreatedToken = call.send(Method::POST, &path, Some(&body))?;
            if quiet {
                println!("{}", rotated.token);
            } else if json {
                print_json(&rotated);
            } else {
                println!(
                    "New secret (shown this once; store it now; the previous one works for {} s more):\n{}\n",
                    grace.unwrap_or(0),
                    rotated.token
                );
                print_details(&rotated.details);
            }
        }
        TokenCommand::Revoke { id } => {
            let token: TokenView = call.send(Method::DELETE, &token_path(&id), None::<&()>)?;
            if json {
                print_json(&token);
            } else {
                println!("revoked {id}, and every token created through it");
            }
        }
        TokenCommand::Verify {
            token,
            scopes,
            resource,
            client_ip,
            cost,
        } => {
            let body = VerifyRequest {
                token,
                scopes: non_empty(&scopes),
                resource,
                client_ip,
                cost,
            };
            let answer: VerifyAnswer = call.send(Method::POST, "/v1/verify", Some(&body))?;
            if json {
                print_json(&answer);
            } else {
                print_verdict(&answer);
            }
            if !answer.valid {
                return Err(failure(
                    3,
                    format!("the token is not valid for this: {}", answer.code),
                ));
            }
        }
    }
    Ok(())
}

/// A token's path; the id is one path segment whatever it holds.
fn token_path(id: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/v1/tokens/{}", encoded.replace('+', "%20"))
}

/// Calls on one server with one token.
pub struct Call<'a> {
    base: &'a str,
    client: &'a Client,
    auth: &'a str,
}

impl Call<'_> {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.auth)
    }

    pub fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, Failure> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request)
    }

    /// A call whose answer has no body (204).
    pub fn send_empty(&self, method: Method, path: &str) -> Result<(), Failure> {
        self.send(method, path, None::<&()>)
    }

    pub fn get_with_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &impl Serialize,
    ) -> Result<T, Failure> {
        self.answer(self.request(Method::GET, path).query(query))
    }

    /// Sends a call and reads its answer as `T`, or the problem the server answered
    /// with as a failure.
    fn answer<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, Failure> {
        let response = request.send().map_err(|error| {
            let mut message = format!("cannot reach tessera at {}: {}", self.base, causes(&error));
            if message.contains("certificate") {
                message.push_str(
                    " (the server's certificate is not one this CLI trusts: --ca-cert FILE \
                     names the CA that signed it)",
                );
            } else if error.is_connect() {
                message.push_str(
                    " (is `tessera serve` running there? --url or TESSERA_URL picks the server)",
                );
            }
            failure(1, message)
        })?;
        let status = response.status();
        if status.is_success() {
            let unreadable =
                |why: String| failure(1, format!("the server's answer does not read: {why}"));
            let body = response.bytes().map_err(|e| unreadable(causes(&e)))?;
            // No body (204): read as JSON's null, which `()` is.
            let body: &[u8] = if body.is_empty() { b"null" } else { &body };
            return serde_json::from_slice(body).map_err(|e| unreadable(e.to_string()));
        }
        let problem: Option<Problem> = response.json().ok();
        let code = match status.as_u16() {
            401 | 403 => 3,
            404 => 4,
            400 | 409 | 413 | 415 | 422 => 5,
            429 => 6,
            _ => 1,
        };
        let mut message = format!(
            "{} {}: {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            problem.as_ref().map_or("no details", |p| p.detail.as_str())
        );
        if let Some(valid) = problem.and_then(|p| p.valid) {
            message.push_str("\nvalid values: ");
            message.push_str(&valid.join(", "));
        }
        Err(failure(code, message))
    }
}

/// An error and its causes, innermost last, each said once: "error sending request:
/// client error (Connect): tcp connect error: Connection refused (os error 111)"
/// tells what "error sending request" alone does not. URLs are left out: the
/// message names the server once, and a URL may hold a token.
fn causes(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    if let Some(url) = error.url() {
        parts[0] = parts[0].replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn print_verdict(answer: &VerifyAnswer) {
    let fields = [
        ("valid", answer.valid.to_string()),
        ("code", answer.code.clone()),
        ("token_id", text(answer.token_id.as_deref())),
        ("name", text(answer.name.as_deref())),
        ("owner", text(answer.owner.as_deref())),
        ("scopes", list(answer.scopes.as_deref())),
        ("access", text(answer.access.as_deref())),
        ("resources", list(answer.resources.as_deref())),
        ("expires_at", text(answer.expires_at.as_deref())),
        (
            "rate_limit",
            answer.rate_limit.map_or_else(
                || "-".to_owned(),
                |l| format!("{} of {} left", l.remaining, l.limit),
            ),
        ),
        (
            "missing",
            answer.missing.as_ref().map_or_else(
                || "-".to_owned(),
                |missing| {
                    let mut lacks = missing.scopes.clone();
                    lacks.extend(missing.resource.clone());
                    lacks.join(",")
                },
            ),
        ),
    ];
    for (field, value) in fields {
        println!("{field:<13}{value}");
    }
}

fn output(token: &TokenView, json: bool) {
    if json {
        print_json(token);
    } else {
        print_details(token);
    }
}

pub fn print_json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A text that may be missing, as a table cell.
pub fn text(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

fn list(items: Option<&[String]>) -> String {
    items.map_or_else(|| "-".to_owned(), |items| items.join(","))
}

/// The scopes a token is granted: patterns, or the access level.
fn scopes(token: &TokenView) -> String {
    match (&token.scopes, &token.access) {
        (Some(scopes), _) => scopes.join(","),
        (None, access) => text(access.as_deref()),
    }
}

fn print_details(token: &TokenView) {
    let rate_limit = token
        .rate_limit
        .as_ref()
        .map(|limit| format!("{}/min burst {}", limit.per_minute, limit.burst));
    let meta = token
        .meta
        .as_ref()
        .map(|meta| Value::Object(meta.clone()).to_string());
    let fields = [
        ("id", token.id.clone()),
        ("name", token.name.clone()),
        ("description", text(token.description.as_deref())),
        ("start", token.start.clone()),
        ("status", token.status.clone()),
        ("scopes", list(token.scopes.as_deref())),
        ("access", text(token.access.as_deref())),
        ("resources", list(token.resources.as_deref())),
        (
            "networks",
            if token.allowed_cidrs.is_empty() {
                "anywhere".to_owned()
            } else {
                token.allowed_cidrs.join(", ")
            },
        ),
        ("rate_limit", text(rate_limit.as_deref())),
        (
            "max_uses",
            token.max_uses.map_or_else(
                || "-".to_owned(),
                |most| format!("{most} ({} left)", token.uses_remaining.unwrap_or(0)),
            ),
        ),
        (
            "credits",
            token.credits.as_ref().map_or_else(
                || "-".to_owned(),
                |credits| match &credits.refill {
                    Some(refill) => format!(
                        "{} left, refilled to {} every {}",
                        credits.remaining, refill.amount, refill.every
                    ),
                    None => format!("{} left", credits.remaining),
                },
            ),
        ),
        ("expires_at", text(token.expires_at.as_deref())),
        ("not_before", text(token.not_before.as_deref())),
        ("owner", text(token.owner.as_deref())),
        ("meta", text(meta.as_deref())),
        ("parent_id", text(token.parent_id.as_deref())),
        ("created_at", token.created_at.clone()),
        ("last_used_at", text(token.last_used_at.as_deref())),
        ("last_used_ip", text(token.last_used_ip.as_deref())),
        ("use_count", token.use_count.to_string()),
    ];
    for (field, value) in fields {
        println!("{field:<13}{value}");
    }
}

fn print_table(tokens: &[TokenView]) {
    let headers = [
        "ID",
        "NAME",
        "START",
        "STATUS",
        "SCOPES",
        "RESOURCES",
        "EXPIRES",
        "LAST USED",
        "USES",
    ];
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|token| {
            [
                token.id.clone(),
                token.name.clone(),
                token.start.clone(),
                token.status.clone(),
                scopes(token),
                list(token.resources.as_deref()),
                text(token.expires_at.as_deref()),
                text(token.last_used_at.as_deref()),
                token.use_count.to_string(),
            ]
            .into_iter()
            .map(|cell| cell.chars().take(40).collect())
            .collect()
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row);
    }
}
