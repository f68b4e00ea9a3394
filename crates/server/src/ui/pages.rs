//! The Tokens pages: list, create (and the one page that shows a new token), show and
//! edit, revoke. Each parses its input, calls the [`Engine`], and renders a view.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_core::record::TokenDraft;

use crate::http::dto::query_of;
use crate::http::problem::HttpStatus;
use crate::ui::chart;
use crate::ui::form::{FieldError, Fields, TokenForm, non_empty};
use crate::ui::hardening::{see_other, views_response};
use crate::ui::signed::Signed;
use crate::ui::views::{self, Choices, FormPage};
use crate::ui::{PAGE_SIZE, Ui, UiState};
use tessera_api::ListParams;
use tessera_engine::Engine;
use tessera_engine::EngineError;
use tessera_engine::lifecycle::Granularity;

pub async fn list(
    State(ui): UiState,
    signed: Signed,
    Query(filters): Query<views::Filters>,
) -> Response {
    let flash = signed.flash(&ui);
    let viewer = signed.viewer();
    let now = ui.engine.now_ms();
    let refused = |status: StatusCode, error: &str| {
        let markup = views::list(
            &viewer,
            flash.as_deref(),
            &filters,
            Some(error),
            &[],
            None,
            now,
        );
        views_response(status, markup)
    };
    let params = ListParams {
        status: non_empty(&filters.status),
        owner: non_empty(&filters.owner),
        resource: non_empty(&filters.resource),
        name: non_empty(&filters.name),
        expiring_within: None,
        limit: Some(PAGE_SIZE),
        cursor: non_empty(&filters.cursor),
    };
    let query = match query_of(params) {
        Ok(query) => query,
        Err(error) => return refused(error.status(), &error.to_string()),
    };
    match ui.engine.list(&signed.caller, query).await {
        Ok(listing) => {
            let next = listing.next_cursor.map(|c| c.to_string());
            views::list(
                &viewer,
                flash.as_deref(),
                &filters,
                None,
                &listing.tokens,
                next,
                now,
            )
            .into_response()
        }
        Err(error) => refused(error.status(), &error.to_string()),
    }
}

fn choices(engine: &Engine) -> Choices<'_> {
    Choices {
        default_rate: engine
            .config()
            .default_rate_limit
            .as_ref()
            .map(|limit| (limit.per_minute, limit.burst)),
        scopes: engine.index().catalogue().defs(),
        profiles: engine
            .config()
            .rate_limit_profiles()
            .into_iter()
            .map(|(name, limit)| (name, limit.per_minute, limit.burst))
            .collect(),
    }
}

pub async fn new_token_page(State(ui): UiState, signed: Signed) -> Response {
    if let Err(refusal) = signed.must_manage() {
        return signed.refuse(refusal);
    }
    let flash = signed.flash(&ui);
    views::token_page(
        &signed.viewer(),
        flash.as_deref(),
        &choices(&ui.engine),
        FormPage::Create,
        &TokenForm::blank(),
        &[],
    )
    .into_response()
}

/// The form again, as typed, with what is wrong next to each field.
fn form_again(
    ui: &Ui,
    signed: &Signed,
    which: FormPage<'_>,
    form: &TokenForm,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let markup = views::token_page(
        &signed.viewer(),
        None,
        &choices(&ui.engine),
        which,
        form,
        errors,
    );
    views_response(status, markup)
}

/// Client mistakes on a form are 422 (the form is shown again); refusals keep theirs.
fn form_status(error: &EngineError) -> StatusCode {
    match error.status() {
        StatusCode::BAD_REQUEST => StatusCode::UNPROCESSABLE_ENTITY,
        other => other,
    }
}

pub async fn create(State(ui): UiState, signed: Signed, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    if let Err(refused) = signed.admit_write(&ui, &fields).await {
        return refused;
    }
    let form = TokenForm::parse(&fields);
    let draft = match form.check(None) {
        Ok(changes) => changes.into_new_draft(),
        Err(errors) => {
            return form_again(
                &ui,
                &signed,
                FormPage::Create,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match ui.engine.create(&signed.caller, draft).await {
        Ok((record, secret)) => {
            ui.sessions
                .keep_for_reveal(&signed.session.cookie, &record.id, secret);
            see_other(&format!("/ui/tokens/{}/created", record.id))
        }
        Err(error) => {
            let status = form_status(&error);
            form_again(
                &ui,
                &signed,
                FormPage::Create,
                &form,
                &[FieldError::from_engine(&error)],
                status,
            )
        }
    }
}

pub async fn created(State(ui): UiState, signed: Signed, Path(id): Path<String>) -> Response {
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let secret = ui.sessions.take_reveal(&signed.session.cookie, &id);
    let reveal = if record.previous_secrets.is_empty() {
        views::Reveal::Created
    } else {
        views::Reveal::Rotated
    };
    views::created(
        &signed.viewer(),
        &record,
        secret.as_ref().map(|s| s.expose()),
        reveal,
    )
    .into_response()
}

pub async fn confirm_rotate(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = signed.must_manage() {
        return signed.refuse(refusal);
    }
    match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => views::confirm_rotate(&signed.viewer(), &record).into_response(),
        Err(error) => signed.failure(&error),
    }
}

/// Rotates, then shows the new secret once, as a creation does.
pub async fn rotate(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if let Err(refused) = signed.admit_write(&ui, &fields).await {
        return refused;
    }
    let grace = fields.get("grace_seconds").parse().ok();
    let grace_ms = match tessera_core::record::grace_ms(grace) {
        Ok(ms) if grace.is_some() => ms,
        _ => {
            let error = EngineError::Input(tessera_core::record::InputError::new(
                "grace_seconds",
                "invalid_grace",
                "pick how long the current secret keeps working",
            ));
            return signed.failure(&error);
        }
    };
    match ui.engine.rotate(&signed.caller, &id, grace_ms).await {
        Ok((record, secret)) => {
            ui.sessions
                .keep_for_reveal(&signed.session.cookie, &record.id, secret);
            see_other(&format!("/ui/tokens/{}/created", record.id))
        }
        Err(error) => signed.failure(&error),
    }
}

/// `?usage=day`: the token page's chart shows 30 days by the day, not 24 hours.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct TokenPageQuery {
    usage: String,
}

pub async fn token_page(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<TokenPageQuery>,
) -> Response {
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let flash = signed.flash(&ui);
    let now = ui.engine.now_ms();
    let granularity = match query.usage.as_str() {
        "day" => Granularity::Day,
        _ => Granularity::Hour,
    };
    let from = now - granularity.default_span_ms();
    // A page without its chart is better than no page: the store may be down.
    let usage = match ui
        .engine
        .usage(&signed.caller, &id, from, now, granularity)
        .await
    {
        Ok(buckets) => Some((chart::usage_chart(&buckets, granularity), granularity)),
        Err(error) => {
            tracing::warn!(%error, "cannot read a token's usage for its page");
            None
        }
    };
    let which = FormPage::Edit {
        record: &record,
        now_ms: now,
        usage,
    };
    views::token_page(
        &signed.viewer(),
        flash.as_deref(),
        &choices(&ui.engine),
        which,
        &TokenForm::of(&record),
        &[],
    )
    .into_response()
}

pub async fn update(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if let Err(refused) = signed.admit_write(&ui, &fields).await {
        return refused;
    }
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let form = TokenForm::parse(&fields);
    let edit_page = || FormPage::Edit {
        record: &record,
        now_ms: ui.engine.now_ms(),
        usage: None,
    };
    // The form's own mistakes first, all at once; then the core's rules.
    let changes = match form.check(Some(&TokenForm::of(&record))) {
        Ok(changes) => changes,
        Err(errors) => {
            return form_again(
                &ui,
                &signed,
                edit_page(),
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let change = move |draft: &mut TokenDraft| {
        changes.apply(draft);
        Ok(())
    };
    match ui.engine.update(&signed.caller, &id, change).await {
        Ok(updated) => {
            ui.sessions.set_flash(
                &signed.session.cookie,
                format!(
                    "Saved “{}”. The change holds from the next request.",
                    updated.settings.name
                ),
            );
            see_other(&format!("/ui/tokens/{id}"))
        }
        Err(error) => form_again(
            &ui,
            &signed,
            edit_page(),
            &form,
            &[FieldError::from_engine(&error)],
            form_status(&error),
        ),
    }
}

pub async fn confirm_revoke(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(refusal) = signed.must_manage() {
        return signed.refuse(refusal);
    }
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let live_descendants = ui
        .engine
        .index()
        .descendants(&id)
        .iter()
        .filter(|slot| !slot.is_revoked())
        .count();
    views::confirm_revoke(&signed.viewer(), &record, live_descendants).into_response()
}

pub async fn revoke(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(refused) = signed.admit_write(&ui, &Fields::parse(&body)).await {
        return refused;
    }
    match ui.engine.revoke(&signed.caller, &id).await {
        Ok(record) => {
            ui.sessions.set_flash(
                &signed.session.cookie,
                format!(
                    "Revoked “{}”: it stopped working at once.",
                    record.settings.name
                ),
            );
            see_other(&format!("/ui/tokens/{id}"))
        }
        Err(error) => signed.failure(&error),
    }
}
