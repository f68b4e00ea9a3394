//! The Webhooks tab (the admin token's): the endpoints, and each one's delivery
//! log. Endpoints are made and changed through the API or `tessera webhook`: the
//! secret a creation shows is for a program to keep, not a page.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use tessera_api::{DeliveryView, WebhookView};

use crate::http::webhooks::{delivery_view, view};
use crate::ui::signed::Signed;
use crate::ui::views::{Viewer, page};
use crate::ui::{PAGE_SIZE, UiState};

pub async fn list(State(ui): UiState, signed: Signed) -> Response {
    match ui.engine.endpoints(&signed.caller).await {
        Ok(endpoints) => {
            let endpoints: Vec<WebhookView> = endpoints.iter().map(view).collect();
            endpoints_page(&signed.viewer(), &endpoints).into_response()
        }
        Err(error) => signed.failure(&error),
    }
}

/// `?cursor=`: the page of the log to show.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct LogQuery {
    cursor: String,
}

pub async fn deliveries(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Response {
    let before = query.cursor.parse::<i64>().ok();
    match ui
        .engine
        .endpoint_deliveries(&signed.caller, &id, before, PAGE_SIZE)
        .await
    {
        Ok((endpoint, page)) => {
            let deliveries: Vec<DeliveryView> = page.deliveries.iter().map(delivery_view).collect();
            let next = page.next_cursor.map(|seq| seq.to_string());
            log_page(&signed.viewer(), &view(&endpoint), &deliveries, next).into_response()
        }
        Err(error) => signed.failure(&error),
    }
}

fn endpoints_page(viewer: &Viewer<'_>, endpoints: &[WebhookView]) -> Markup {
    let body = html! {
        h1 { "Webhooks" }
        p.note { "Endpoints are added and changed with " code { "POST /v1/webhooks" } " or "
            code { "tessera webhook create" } ", which show the signing secret once." }
        @if endpoints.is_empty() {
            p.empty { "No endpoints yet." }
        } @else {
            div.table-wrap {
                table.tokens.webhooks {
                    caption.visually-hidden { "Webhook endpoints" }
                    thead { tr {
                        th scope="col" { "URL" } th scope="col" { "Events" }
                        th scope="col" { "State" } th scope="col" { "Created" }
                    } }
                    tbody {
                        @for endpoint in endpoints {
                            tr {
                                th scope="row" data-label="URL" {
                                    a href={ "/ui/webhooks/" (endpoint.id) } { code { (endpoint.url) } }
                                    @if let Some(description) = &endpoint.description { br; small { (description) } }
                                }
                                td data-label="Events" { (endpoint.events.join(", ")) }
                                td data-label="State" { @if endpoint.disabled { "disabled" } @else { "enabled" } }
                                td data-label="Created" { (endpoint.created_at) }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Webhooks", Some(viewer), None, body)
}

fn log_page(
    viewer: &Viewer<'_>,
    endpoint: &WebhookView,
    deliveries: &[DeliveryView],
    next_cursor: Option<String>,
) -> Markup {
    let body = html! {
        p.back { a href="/ui/webhooks" { "← Webhooks" } }
        h1 { "Deliveries" }
        dl.details {
            dt { "URL" } dd { code { (endpoint.url) } }
            dt { "Events" } dd { (endpoint.events.join(", ")) }
            dt { "State" } dd { @if endpoint.disabled { "disabled: deliveries wait" } @else { "enabled" } }
        }
        @if deliveries.is_empty() {
            p.empty { "Nothing sent yet." }
        } @else {
            div.table-wrap {
                table.tokens.deliveries {
                    caption.visually-hidden { "Deliveries, newest first" }
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "Attempts" }
                        th scope="col" { "Last answer" } th scope="col" { "Created" } th scope="col" { "Payload" }
                    } }
                    tbody {
                        @for delivery in deliveries {
                            tr class={ "delivery-" (delivery.status) } {
                                th scope="row" data-label="Event" { code { (delivery.event_type) } br; small { (delivery.id) } }
                                td data-label="Status" {
                                    (delivery.status)
                                    @if let Some(next) = &delivery.next_attempt_at { br; small { "next " (next) } }
                                }
                                td data-label="Attempts" { (delivery.attempts) }
                                td data-label="Last answer" {
                                    @match (delivery.last_status, &delivery.last_error) {
                                        (Some(status), _) => { (status) }
                                        (None, Some(error)) => { small { (error) } }
                                        (None, None) => { "—" }
                                    }
                                }
                                td data-label="Created" { (delivery.created_at) }
                                td data-label="Payload" {
                                    details {
                                        summary { "Body" }
                                        pre { (serde_json::to_string_pretty(&delivery.payload).unwrap_or_default()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if let Some(cursor) = next_cursor {
                a rel="next" href={ "/ui/webhooks/" (endpoint.id) "?cursor=" (cursor) } { "Older →" }
            }
        }
    };
    page("Webhooks", Some(viewer), None, body)
}
