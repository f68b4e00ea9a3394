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

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::blocking::{Client, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tessera_api::{
    CreateTokenRequest, CreatedToken, ListParams, RateLimitBody, TokenList, TokenView,
    UpdateTokenRequest,
};

#[derive(Args)]
pub struct TokenArgs {
    /// The tessera server.
    #[arg(
        long,
        env = "TESSERA_URL",
        default_value = "http://127.0.0.1:7900",
        global = true
    )]
    url: String,
    /// The token to act with (the admin token or a manager's).
    #[arg(
        long = "auth",
        env = "TESSERA_TOKEN",
        hide_env_values = true,
        global = true
    )]
    auth: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; its text is printed once.
    Create {
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
    Show { id: String },
    /// Change a token's settings; only the options given change.
    Update {
        id: String,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Remove the expiry.
        #[arg(long, conflicts_with_all = ["expires_in", "expires_at"])]
        never_expires: bool,
        /// Remove the resource restriction.
        #[arg(long, conflicts_with = "resources")]
        all_resources: bool,
        /// Make it valid at once (remove its not-before time).
        #[arg(long, conflicts_with = "not_before")]
        valid_now: bool,
    },
    /// Revoke a token and every token created through it.
    Revoke { id: String },
}

/// `tessera token list`'s filters, sent as they are.
#[derive(Args)]
struct ListArgs {
    /// active, pending, expired or revoked.
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    owner: Option<String>,
    /// type:id
    #[arg(long)]
    resource: Option<String>,
    /// Part of the name.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    limit: Option<u32>,
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
            limit: args.limit,
            cursor: args.cursor,
        }
    }
}

#[derive(Args)]
struct SettingsArgs {
    #[arg(long)]
    name: Option<String>,
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
    /// Seconds from now.
    #[arg(long, conflicts_with = "expires_at")]
    expires_in: Option<i64>,
    /// RFC 3339, e.g. 2030-01-01T00:00:00Z.
    #[arg(long)]
    expires_at: Option<String>,
    /// RFC 3339: not valid before this.
    #[arg(long)]
    not_before: Option<String>,
    /// A rate-limit profile: burst_friendly, steady_stream, api_heavy, restricted.
    #[arg(long, conflicts_with_all = ["per_minute", "burst"])]
    rate_limit: Option<String>,
    #[arg(long, requires = "burst")]
    per_minute: Option<u64>,
    #[arg(long, requires = "per_minute")]
    burst: Option<u64>,
    #[arg(long)]
    owner: Option<String>,
    /// A JSON object returned on verify.
    #[arg(long)]
    meta: Option<String>,
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

    /// The request creating a token with these settings.
    fn create_request(&self) -> Result<CreateTokenRequest, String> {
        Ok(CreateTokenRequest {
            name: self.name.clone(),
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
        })
    }

    /// The request changing what these settings give, and clearing what the flags say.
    fn update_request(
        &self,
        never_expires: bool,
        all_resources: bool,
        valid_now: bool,
    ) -> Result<UpdateTokenRequest, String> {
        let update = UpdateTokenRequest {
            name: self.name.clone(),
            description: self.description.clone().map(Some),
            scopes: non_empty(&self.scopes),
            access: self.access.clone(),
            resources: if all_resources {
                Some(None)
            } else {
                non_empty(&self.resources).map(Some)
            },
            rate_limit: self.rate_limit().map(Some),
            expires_at: if never_expires {
                Some(None)
            } else {
                self.expires_at.clone().map(Some)
            },
            expires_in: self.expires_in,
            not_before: if valid_now {
                Some(None)
            } else {
                self.not_before.clone().map(Some)
            },
            owner: self.owner.clone().map(Some),
            meta: self.meta()?.map(Some),
        };
        if update == UpdateTokenRequest::default() {
            return Err("nothing to change: give at least one option".into());
        }
        Ok(update)
    }
}

fn non_empty(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

/// A failure, with the exit code that tells scripts what kind.
struct Failure {
    code: u8,
    message: String,
}

fn failure(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub fn run(args: TokenArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("tessera: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn execute(args: TokenArgs) -> Result<(), Failure> {
    let auth = args
        .auth
        .clone()
        .ok_or_else(|| failure(2, "no token to act with: set TESSERA_TOKEN or pass --auth"))?;
    let base = args.url.trim_end_matches('/').to_owned();
    let client = Client::new();
    let authed = |request: RequestBuilder| request.bearer_auth(&auth);
    match args.command {
        TokenCommand::Create { settings, quiet } => {
            let body = settings.create_request().map_err(|m| failure(2, m))?;
            let created: CreatedToken =
                send(authed(client.post(format!("{base}/v1/tokens")).json(&body)))?;
            if quiet {
                println!("{}", created.token);
            } else if args.json {
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
            let page: TokenList = send(authed(
                client.get(format!("{base}/v1/tokens")).query(&query),
            ))?;
            if args.json {
                print_json(&page);
            } else {
                print_table(&page.tokens);
                if let Some(next) = &page.next_cursor {
                    println!("\nmore: --cursor {next}");
                }
            }
        }
        TokenCommand::Show { id } => {
            let token: TokenView = send(authed(client.get(format!("{base}/v1/tokens/{id}"))))?;
            output(&token, args.json);
        }
        TokenCommand::Update {
            id,
            settings,
            never_expires,
            all_resources,
            valid_now,
        } => {
            let body = settings
                .update_request(never_expires, all_resources, valid_now)
                .map_err(|m| failure(2, m))?;
            let token: TokenView = send(authed(
                client.patch(format!("{base}/v1/tokens/{id}")).json(&body),
            ))?;
            output(&token, args.json);
        }
        TokenCommand::Revoke { id } => {
            let token: TokenView = send(authed(client.delete(format!("{base}/v1/tokens/{id}"))))?;
            if args.json {
                print_json(&token);
            } else {
                println!("revoked {id}, and every token created through it");
            }
        }
    }
    Ok(())
}

/// Sends a call and reads its answer as `T`, or the problem the server answered
/// with as a failure.
fn send<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, Failure> {
    let response = request
        .send()
        .map_err(|e| failure(1, format!("cannot reach the server: {}", e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        return response
            .json()
            .map_err(|e| failure(1, format!("the server's answer does not read: {e}")));
    }
    let body: Value = response.json().unwrap_or(Value::Null);
    let detail = body["detail"].as_str().unwrap_or("no details").to_owned();
    let code = match status.as_u16() {
        401 | 403 => 3,
        404 => 4,
        400 | 409 | 413 | 415 | 422 => 5,
        429 => 6,
        _ => 1,
    };
    Err(failure(
        code,
        format!(
            "{} {}: {detail}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ),
    ))
}

fn output(token: &TokenView, json: bool) {
    if json {
        print_json(token);
    } else {
        print_details(token);
    }
}

fn print_json(value: &impl Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A text that may be missing, as a table cell.
fn text(value: Option<&str>) -> String {
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
        ("rate_limit", text(rate_limit.as_deref())),
        ("expires_at", text(token.expires_at.as_deref())),
        ("not_before", text(token.not_before.as_deref())),
        ("owner", text(token.owner.as_deref())),
        ("meta", text(meta.as_deref())),
        ("parent_id", text(token.parent_id.as_deref())),
        ("created_at", token.created_at.clone()),
        ("last_used_at", text(token.last_used_at.as_deref())),
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
