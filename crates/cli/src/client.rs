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
use serde_json::{Map, Value, json};

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
        /// active, expired or revoked.
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
    },
    /// Revoke a token and every token created through it.
    Revoke { id: String },
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
    fn to_json(&self) -> Result<Map<String, Value>, String> {
        let mut body = Map::new();
        let mut put = |key: &str, value: Value| {
            body.insert(key.to_owned(), value);
        };
        if let Some(v) = &self.name {
            put("name", json!(v));
        }
        if let Some(v) = &self.description {
            put("description", json!(v));
        }
        if !self.scopes.is_empty() {
            put("scopes", json!(self.scopes));
        }
        if let Some(v) = &self.access {
            put("access", json!(v));
        }
        if !self.resources.is_empty() {
            put("resources", json!(self.resources));
        }
        if let Some(v) = self.expires_in {
            put("expires_in", json!(v));
        }
        if let Some(v) = &self.expires_at {
            put("expires_at", json!(v));
        }
        if let Some(profile) = &self.rate_limit {
            put("rate_limit", json!({ "profile": profile }));
        }
        if let (Some(per_minute), Some(burst)) = (self.per_minute, self.burst) {
            put(
                "rate_limit",
                json!({ "per_minute": per_minute, "burst": burst }),
            );
        }
        if let Some(v) = &self.owner {
            put("owner", json!(v));
        }
        if let Some(text) = &self.meta {
            let meta: Value =
                serde_json::from_str(text).map_err(|e| format!("--meta is not JSON: {e}"))?;
            put("meta", meta);
        }
        Ok(body)
    }
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
    let call = |request: RequestBuilder| send(request.bearer_auth(&auth));
    match args.command {
        TokenCommand::Create { settings, quiet } => {
            let body = settings.to_json().map_err(|m| failure(2, m))?;
            let created = call(client.post(format!("{base}/v1/tokens")).json(&body))?;
            let token = created["token"].as_str().unwrap_or_default();
            if quiet {
                println!("{token}");
            } else if args.json {
                print_json(&created);
            } else {
                println!("Token (shown this once; store it now):\n{token}\n");
                print_details(&created);
            }
        }
        TokenCommand::List {
            status,
            owner,
            resource,
            name,
            limit,
            cursor,
        } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            let mut add = |key, value: Option<String>| {
                if let Some(value) = value {
                    query.push((key, value));
                }
            };
            add("status", status);
            add("owner", owner);
            add("resource", resource);
            add("name", name);
            add("limit", limit.map(|l| l.to_string()));
            add("cursor", cursor);
            let page = call(client.get(format!("{base}/v1/tokens")).query(&query))?;
            if args.json {
                print_json(&page);
            } else {
                print_table(
                    page["tokens"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default(),
                );
                if let Some(next) = page["next_cursor"].as_str() {
                    println!("\nmore: --cursor {next}");
                }
            }
        }
        TokenCommand::Show { id } => {
            let token = call(client.get(format!("{base}/v1/tokens/{id}")))?;
            output(&token, args.json);
        }
        TokenCommand::Update {
            id,
            settings,
            never_expires,
            all_resources,
        } => {
            let mut body = settings.to_json().map_err(|m| failure(2, m))?;
            if never_expires {
                body.insert("expires_at".into(), Value::Null);
            }
            if all_resources {
                body.insert("resources".into(), Value::Null);
            }
            if body.is_empty() {
                return Err(failure(2, "nothing to change: give at least one option"));
            }
            let token = call(client.patch(format!("{base}/v1/tokens/{id}")).json(&body))?;
            output(&token, args.json);
        }
        TokenCommand::Revoke { id } => {
            let token = call(client.delete(format!("{base}/v1/tokens/{id}")))?;
            if args.json {
                print_json(&token);
            } else {
                println!("revoked {id}, and every token created through it");
            }
        }
    }
    Ok(())
}

fn send(request: RequestBuilder) -> Result<Value, Failure> {
    let response = request
        .send()
        .map_err(|e| failure(1, format!("cannot reach the server: {}", e.without_url())))?;
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
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

fn output(token: &Value, json: bool) {
    if json {
        print_json(token);
    } else {
        print_details(token);
    }
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// A value as one table cell: lists joined by commas, null as `-`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Object(map) if map.contains_key("per_minute") => {
            format!("{}/min burst {}", map["per_minute"], map["burst"])
        }
        other => other.to_string(),
    }
}

fn print_details(token: &Value) {
    let fields = [
        "id",
        "name",
        "description",
        "start",
        "status",
        "scopes",
        "access",
        "resources",
        "rate_limit",
        "expires_at",
        "owner",
        "meta",
        "parent_id",
        "created_at",
        "last_used_at",
        "use_count",
    ];
    for field in fields {
        println!("{field:<13}{}", cell(&token[field]));
    }
}

fn print_table(tokens: &[Value]) {
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
    let fields = [
        "id",
        "name",
        "start",
        "status",
        "scopes",
        "resources",
        "expires_at",
        "last_used_at",
        "use_count",
    ];
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|token| {
            fields
                .iter()
                .map(|f| {
                    let text = if *f == "scopes" && token[*f].is_null() {
                        cell(&token["access"])
                    } else {
                        cell(&token[*f])
                    };
                    text.chars().take(40).collect()
                })
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
