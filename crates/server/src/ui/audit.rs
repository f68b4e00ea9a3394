//! The Audit tab: the audit log as the signed-in token may see it (everything for
//! the admin token, its own subtree for a manager), filtered and paged like the
//! tokens, and for the admin token a check of the whole chain.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use tessera_api::{AuditEntryView, AuditParams};
use tessera_engine::{AuditQuery, ChainReport};

use crate::http::audit::query_of;
use crate::http::problem::HttpStatus;
use crate::ui::form::non_empty;
use crate::ui::hardening::views_response;
use crate::ui::signed::Signed;
use crate::ui::views::{Viewer, page};
use crate::ui::{PAGE_SIZE, UiState};

/// The filter form's fields, as the query string carries them.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct AuditFilters {
    pub action: String,
    pub actor: String,
    pub target: String,
    pub cursor: String,
}

impl AuditFilters {
    fn any(&self) -> bool {
        !(self.action.is_empty() && self.actor.is_empty() && self.target.is_empty())
    }

    fn query_with_cursor(&self, cursor: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("action", &self.action)
            .append_pair("actor", &self.actor)
            .append_pair("target", &self.target)
            .append_pair("cursor", cursor)
            .finish()
    }

    fn query(&self) -> Result<AuditQuery, tessera_engine::EngineError> {
        query_of(AuditParams {
            action: non_empty(&self.action),
            actor: non_empty(&self.actor),
            target: non_empty(&self.target),
            cursor: non_empty(&self.cursor),
            limit: Some(PAGE_SIZE),
            ..AuditParams::default()
        })
    }
}

pub async fn list(
    State(ui): UiState,
    signed: Signed,
    Query(filters): Query<AuditFilters>,
) -> Response {
    if let Err(refusal) = signed.must_manage() {
        return signed.refuse(refusal);
    }
    let viewer = signed.viewer();
    let listed = match filters.query() {
        Ok(query) => ui.engine.audit_log(&signed.caller, query).await,
        Err(error) => Err(error),
    };
    match listed {
        Ok(listing) => {
            let entries: Vec<AuditEntryView> =
                listing.entries.iter().map(AuditEntryView::of).collect();
            let next = listing.next_cursor.map(|seq| seq.to_string());
            view(&viewer, &filters, None, &entries, next).into_response()
        }
        Err(error) => views_response(
            error.status(),
            view(&viewer, &filters, Some(&error.to_string()), &[], None),
        ),
    }
}

/// The whole chain checked, for the admin token.
pub async fn verify(State(ui): UiState, signed: Signed) -> Response {
    let viewer = signed.viewer();
    match ui.engine.verify_audit(&signed.caller).await {
        Ok(report) => verdict(&viewer, &report).into_response(),
        Err(error) => signed.failure(&error),
    }
}

fn view(
    viewer: &Viewer<'_>,
    filters: &AuditFilters,
    error: Option<&str>,
    entries: &[AuditEntryView],
    next_cursor: Option<String>,
) -> Markup {
    let body = html! {
        div.heading {
            h1 { "Audit" }
            a.button href="/ui/audit/verify" { "Check the chain" }
        }
        form.filters method="get" action="/ui/audit" role="search" aria-label="Filter the audit log" {
            div.field {
                label for="a-action" { "Action" }
                select #a-action name="action" {
                    option value="" selected[filters.action.is_empty()] { "Any" }
                    @for action in tessera_core::audit::Action::ALL {
                        option value=(action.as_str()) selected[filters.action == action.as_str()] { (action.as_str()) }
                    }
                }
            }
            div.field {
                label for="a-actor" { "Actor (token id)" }
                input #a-actor type="search" name="actor" value=(filters.actor);
            }
            div.field {
                label for="a-target" { "Target (token id)" }
                input #a-target type="search" name="target" value=(filters.target);
            }
            div.actions {
                button type="submit" { "Filter" }
                @if filters.any() { a href="/ui/audit" { "Clear" } }
            }
        }
        @if let Some(error) = error { p.error-summary role="alert" { (error) } }
        @if entries.is_empty() {
            p.empty { @if filters.any() { "No entries match these filters." } @else { "No entries yet." } }
        } @else {
            div.table-wrap {
                table.tokens.audit {
                    caption.visually-hidden { "Audit log, newest first" }
                    thead { tr {
                        th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Action" }
                        th scope="col" { "By" } th scope="col" { "Target" } th scope="col" { "From" }
                        th scope="col" { "Details" }
                    } }
                    tbody {
                        @for entry in entries {
                            tr {
                                td data-label="#" { (entry.seq) }
                                td data-label="When" { (entry.at.replacen('T', " ", 1).replace('Z', " UTC")) }
                                th scope="row" data-label="Action" { code { (entry.action) } }
                                td data-label="By" { (actor(entry)) }
                                td data-label="Target" { (token_link(entry.target_id.as_deref())) }
                                td data-label="From" {
                                    (entry.client_ip.as_deref().unwrap_or("—"))
                                    @if let Some(request) = &entry.request_id { br; small { "request " code { (request) } } }
                                }
                                td data-label="Details" { (details(entry)) }
                            }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if !filters.cursor.is_empty() { a href={ "/ui/audit?" (filters.query_with_cursor("")) } { "← Newest" } }
            @if let Some(cursor) = next_cursor { a rel="next" href={ "/ui/audit?" (filters.query_with_cursor(&cursor)) } { "Older →" } }
        }
    };
    page("Audit", Some(viewer), None, body)
}

fn actor(entry: &AuditEntryView) -> Markup {
    let name = entry.actor.name.as_deref().unwrap_or("—");
    html! {
        @match &entry.actor.id {
            Some(id) => { a href={ "/ui/tokens/" (id) } { (name) } }
            None => { em { (name) } }
        }
    }
}

fn token_link(id: Option<&str>) -> Markup {
    html! {
        @match id {
            Some(id) => { a href={ "/ui/tokens/" (id) } { code { (id) } } }
            None => { "—" }
        }
    }
}

/// What changed, and what a revocation took down with it.
fn details(entry: &AuditEntryView) -> Markup {
    let shown = entry
        .details
        .as_object()
        .is_some_and(|fields| !fields.is_empty());
    html! {
        @if !entry.cascade.is_empty() {
            p { "With " (entry.cascade.len()) " token(s) made through it." }
        }
        @if shown {
            details {
                summary { "Fields" }
                pre { (serde_json::to_string_pretty(&entry.details).unwrap_or_default()) }
            }
        }
    }
}

fn verdict(viewer: &Viewer<'_>, report: &ChainReport) -> Markup {
    let body = html! {
        p.back { a href="/ui/audit" { "← Audit" } }
        h1 { "The audit chain" }
        @match &report.broken {
            None => {
                p.flash role="status" {
                    "Intact: " (report.checked) " entries, each as it was written, in order."
                }
            }
            Some(broken) => {
                p.error-summary role="alert" { "Broken: " (broken.to_string()) }
            }
        }
        dl.details {
            dt { "Newest entry" } dd { "#" (report.head.seq) }
            dt { "Its hash" } dd { code { (hex::encode(report.head.hash)) } }
        }
        p.note { "Keep the newest hash somewhere else now and then: a later check that "
            "finds it still in the chain shows the log was not cut back past it." }
    };
    page("Audit chain", Some(viewer), None, body)
}
