//! `tessera webhook ...`: manage webhook endpoints (the admin token) and read
//! their delivery logs. Exit codes are those of `tessera token` (see `client`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use tessera_api::{
    CreateWebhookRequest, CreatedWebhook, DeliveriesParams, DeliveryList, UpdateWebhookRequest,
    WebhookList, WebhookView,
};

use crate::client::{Connection, Failure, Remote, exit_with, print_json, text};

#[derive(Args)]
pub struct WebhookArgs {
    #[command(flatten)]
    remote: Remote,
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Add an endpoint; its signing secret (whsec_…) is printed once.
    Create {
        /// Where deliveries are POSTed (http or https).
        #[arg(value_name = "URL")]
        endpoint: String,
        /// An event to send (repeat it), or `*` for all: token.created,
        /// token.updated, token.rotated, token.revoked, token.expiring,
        /// token.expired, token.reuse_detected, token.leaked, token.usage_exhausted.
        #[arg(long = "event", required = true, value_name = "EVENT")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the endpoints.
    List,
    /// Change an endpoint; only the options given change.
    Update {
        id: String,
        /// A new address for the deliveries (`--url` names the tessera server).
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
        /// The events to send from now on (repeat it).
        #[arg(long = "event", value_name = "EVENT")]
        events: Vec<String>,
        /// Send nothing until --enable (deliveries wait).
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Remove an endpoint and the deliveries it still had waiting.
    Delete { id: String },
    /// An endpoint's deliveries, newest first.
    Deliveries {
        id: String,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// `more: --cursor N` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
}

pub fn run(args: WebhookArgs) -> ExitCode {
    exit_with(execute(args))
}

fn execute(args: WebhookArgs) -> Result<(), Failure> {
    let connection = Connection::open(&args.remote)?;
    let call = connection.call();
    let json = args.remote.json;
    let path = |id: &str| {
        let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        format!("/v1/webhooks/{}", encoded.replace('+', "%20"))
    };
    match args.command {
        WebhookCommand::Create {
            endpoint,
            events,
            description,
        } => {
            let body = CreateWebhookRequest {
                url: endpoint,
                events,
                description,
            };
            let made: CreatedWebhook = call.send(Method::POST, "/v1/webhooks", Some(&body))?;
            if json {
                print_json(&made);
            } else {
                println!(
                    "Signing secret (shown this once; store it now):\n{}\n",
                    made.secret
                );
                print_table(std::slice::from_ref(&made.details));
            }
        }
        WebhookCommand::List => {
            let list: WebhookList = call.send(Method::GET, "/v1/webhooks", None::<&()>)?;
            if json {
                print_json(&list);
            } else {
                print_table(&list.webhooks);
            }
        }
        WebhookCommand::Update {
            id,
            endpoint_url: url,
            events,
            disable,
            enable,
        } => {
            let body = UpdateWebhookRequest {
                url,
                events: (!events.is_empty()).then_some(events),
                description: None,
                disabled: (disable || enable).then_some(disable),
            };
            let changed: WebhookView = call.send(Method::PATCH, &path(&id), Some(&body))?;
            if json {
                print_json(&changed);
            } else {
                print_table(std::slice::from_ref(&changed));
            }
        }
        WebhookCommand::Delete { id } => {
            call.send_empty(Method::DELETE, &path(&id))?;
            if !json {
                println!("removed {id}");
            }
        }
        WebhookCommand::Deliveries { id, limit, cursor } => {
            let query = DeliveriesParams {
                limit: Some(limit),
                cursor,
            };
            let page: DeliveryList =
                call.get_with_query(&format!("{}/deliveries", path(&id)), &query)?;
            if json {
                print_json(&page);
            } else {
                println!(
                    "{:<24}  {:<22}  {:<9}  {:>8}  {:<6}  {:<24}  ERROR",
                    "ID", "TYPE", "STATUS", "ATTEMPTS", "ANSWER", "CREATED"
                );
                for delivery in &page.deliveries {
                    println!(
                        "{:<24}  {:<22}  {:<9}  {:>8}  {:<6}  {:<24}  {}",
                        delivery.id,
                        delivery.event_type,
                        delivery.status,
                        delivery.attempts,
                        delivery.last_status.map_or("-".into(), |s| s.to_string()),
                        delivery.created_at,
                        text(delivery.last_error.as_deref()),
                    );
                }
                if let Some(next) = &page.next_cursor {
                    println!("\nmore: --cursor {next}");
                }
            }
        }
    }
    Ok(())
}

fn print_table(endpoints: &[WebhookView]) {
    println!("{:<24}  {:<8}  {:<40}  EVENTS", "ID", "STATE", "URL");
    for endpoint in endpoints {
        println!(
            "{:<24}  {:<8}  {:<40}  {}",
            endpoint.id,
            if endpoint.disabled {
                "disabled"
            } else {
                "enabled"
            },
            endpoint.url,
            endpoint.events.join(",")
        );
    }
}
