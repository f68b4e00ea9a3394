//! The pages' markup. maud escapes every value it inserts, so a token's name or owner
//! can hold anything without becoming markup.

use maud::{DOCTYPE, Markup, html};
use tessera_core::record::{Status, TokenRecord};
use tessera_core::scope::ScopeDef;
use tessera_core::timefmt::format_rfc3339;
use tessera_engine::lifecycle::Granularity;

use crate::ui::form::{EXPIRY_PRESETS, FieldError, TokenForm};

/// Who is signed in, for the header and the forms.
pub struct Viewer<'a> {
    pub name: &'a str,
    pub csrf: &'a str,
    pub can_manage: bool,
    /// The admin token: it alone manages webhooks.
    pub is_admin: bool,
}

/// What the create and edit forms offer.
pub struct Choices<'a> {
    pub scopes: &'a [ScopeDef],
    /// `(name, per_minute, burst)`.
    pub profiles: Vec<(String, u32, u32)>,
    /// The deployment's default limit for new tokens, `(per_minute, burst)`.
    pub default_rate: Option<(u32, u32)>,
}

pub fn page(title: &str, viewer: Option<&Viewer<'_>>, flash: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · tessera" }
                link rel="stylesheet" href="/ui/assets/style.css";
                script src="/ui/assets/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/tokens" { "tessera" }
                    @if let Some(viewer) = viewer {
                        nav aria-label="Main" {
                            a href="/ui/tokens" aria-current=[(title == "Tokens").then_some("page")] { "Tokens" }
                            @if viewer.can_manage {
                                a href="/ui/audit" aria-current=[(title == "Audit").then_some("page")] { "Audit" }
                            }
                            @if viewer.is_admin {
                                a href="/ui/webhooks" aria-current=[(title == "Webhooks").then_some("page")] { "Webhooks" }
                            }
                        }
                        div.who {
                            span { "Signed in as " strong { (viewer.name) } }
                            form method="post" action="/ui/sign-out" {
                                (csrf_field(viewer.csrf))
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    @if let Some(message) = flash {
                        p.flash role="status" { (message) }
                    }
                    (body)
                }
            }
        }
    }
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

pub fn sign_in(csrf: &str, error: Option<&str>, notice: Option<&str>) -> Markup {
    let body = html! {
        div.narrow {
            h1 { "Sign in" }
            @if let Some(notice) = notice { p.flash role="status" { (notice) } }
            p { "Sign in with a token that may read or manage tokens: the admin token, or a manager's token. "
                "The token is exchanged for a session; it is not kept in the browser." }
            form method="post" action="/ui/sign-in" novalidate {
                (csrf_field(csrf))
                @if let Some(error) = error {
                    div.error-summary role="alert" tabindex="-1" #error-summary {
                        h2 { "Sign-in failed" }
                        p { a href="#token" { (error) } }
                    }
                }
                div.field.invalid[error.is_some()] {
                    label for="token" { "Token" }
                    @if let Some(error) = error { p.field-error #token-error { (error) } }
                    input #token type="password" name="token" autocomplete="off" spellcheck="false" required
                        autofocus[error.is_none()]
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| "token-error")];
                }
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    page("Sign in", None, None, body)
}

/// The list page's filters, as given in its query string.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Filters {
    pub name: String,
    pub owner: String,
    pub status: String,
    pub resource: String,
    pub cursor: String,
}

impl Filters {
    fn any(&self) -> bool {
        !(self.name.is_empty()
            && self.owner.is_empty()
            && self.status.is_empty()
            && self.resource.is_empty())
    }

    fn query_with_cursor(&self, cursor: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("name", &self.name)
            .append_pair("owner", &self.owner)
            .append_pair("status", &self.status)
            .append_pair("resource", &self.resource)
            .append_pair("cursor", cursor)
            .finish()
    }
}

fn when(ms: Option<i64>, none: &str) -> String {
    match ms {
        // `2026-01-31T18:00:00Z` as `2026-01-31 18:00 UTC`.
        Some(ms) => {
            let text = format_rfc3339(ms);
            format!("{} {} UTC", &text[..10], &text[11..16])
        }
        None => none.to_owned(),
    }
}

fn status_badge(status: Status) -> Markup {
    let (class, symbol) = match status {
        Status::Active => ("active", "●"),
        Status::Pending => ("pending", "◔"),
        Status::Expired => ("expired", "◷"),
        Status::Revoked => ("revoked", "✕"),
    };
    html! { span class={ "badge " (class) } { span aria-hidden="true" { (symbol) " " } (status.as_str()) } }
}

fn scopes_text(record: &TokenRecord) -> String {
    match record.settings.scopes.as_fields() {
        (Some(patterns), _) => patterns.join(" "),
        (None, Some(access)) => format!("{access} (access level)"),
        (None, None) => String::new(),
    }
}

fn resources_text(record: &TokenRecord) -> String {
    record
        .settings
        .resources
        .view()
        .joined()
        .map_or_else(|| "every resource".to_owned(), str::to_owned)
}

pub fn list(
    viewer: &Viewer<'_>,
    flash: Option<&str>,
    filters: &Filters,
    error: Option<&str>,
    tokens: &[TokenRecord],
    next_cursor: Option<String>,
    now_ms: i64,
) -> Markup {
    let body = html! {
        div.heading {
            h1 { "Tokens" }
            @if viewer.can_manage { a.button.primary href="/ui/tokens/new" { "Create token" } }
        }
        form.filters method="get" action="/ui/tokens" role="search" aria-label="Filter tokens" {
            div.field {
                label for="f-name" { "Name contains" }
                input #f-name type="search" name="name" value=(filters.name);
            }
            div.field {
                label for="f-owner" { "Owner" }
                input #f-owner type="search" name="owner" value=(filters.owner);
            }
            div.field {
                label for="f-status" { "Status" }
                select #f-status name="status" {
                    @for (value, label) in [("", "Any"), ("active", "Active"), ("pending", "Not valid yet"), ("expired", "Expired"), ("revoked", "Revoked")] {
                        option value=(value) selected[filters.status == value] { (label) }
                    }
                }
            }
            div.field {
                label for="f-resource" { "Resource" }
                input #f-resource type="search" name="resource" placeholder="repo:123" value=(filters.resource);
            }
            div.actions {
                button type="submit" { "Filter" }
                @if filters.any() { a href="/ui/tokens" { "Clear" } }
            }
        }
        @if let Some(error) = error { p.error-summary role="alert" { (error) } }
        @if tokens.is_empty() {
            p.empty { @if filters.any() { "No tokens match these filters." } @else { "No tokens yet." } }
        } @else {
            div.table-wrap {
                table.tokens {
                    caption.visually-hidden { "Tokens, newest first" }
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Start" } th scope="col" { "Scopes" }
                        th scope="col" { "Resources" } th scope="col" { "Owner" } th scope="col" { "Status" }
                        th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { "Uses" }
                    } }
                    tbody {
                        @for record in tokens {
                            @let status = record.status(now_ms);
                            tr class={ "status-" (status.as_str()) } {
                                th scope="row" data-label="Name" { a href={ "/ui/tokens/" (record.id) } { (record.settings.name) } }
                                td data-label="Start" { code { (record.start) "…" } }
                                td data-label="Scopes" { (scopes_text(record)) }
                                td data-label="Resources" { (resources_text(record)) }
                                td data-label="Owner" { (record.settings.owner.as_deref().unwrap_or("—")) }
                                td data-label="Status" { (status_badge(status)) }
                                td data-label="Expires" { (when(record.settings.expires_at, "never")) }
                                td data-label="Last used" { (when(record.last_used_at, "never")) }
                                td data-label="Uses" { (record.use_count) }
                            }
                        }
                    }
                }
            }
        }
        nav.pages aria-label="Pages" {
            @if !filters.cursor.is_empty() { a href={ "/ui/tokens?" (filters.query_with_cursor("")) } { "← First page" } }
            @if let Some(cursor) = next_cursor { a rel="next" href={ "/ui/tokens?" (filters.query_with_cursor(&cursor)) } { "Next page →" } }
        }
    };
    page("Tokens", Some(viewer), flash, body)
}

/// The create form, or a token's page with its edit form.
pub enum FormPage<'a> {
    Create,
    Edit {
        record: &'a TokenRecord,
        now_ms: i64,
        /// The usage chart and which span it shows (`None` on a form sent back
        /// with errors).
        usage: Option<(Markup, Granularity)>,
    },
}

pub fn token_page(
    viewer: &Viewer<'_>,
    flash: Option<&str>,
    choices: &Choices<'_>,
    which: FormPage<'_>,
    form: &TokenForm,
    errors: &[FieldError],
) -> Markup {
    let (title, action) = match &which {
        FormPage::Create => ("Create a token".to_owned(), "/ui/tokens/new".to_owned()),
        FormPage::Edit { record, .. } => (
            record.settings.name.to_string(),
            format!("/ui/tokens/{}", record.id),
        ),
    };
    let editable = match &which {
        FormPage::Create => viewer.can_manage,
        FormPage::Edit { record, now_ms, .. } => {
            viewer.can_manage && !record.is_admin && record.status(*now_ms) != Status::Revoked
        }
    };
    let body = html! {
        @if let FormPage::Edit { record, now_ms, usage } = &which {
            p.back { a href="/ui/tokens" { "← All tokens" } }
            div.heading {
                h1 { (record.settings.name) " " (status_badge(record.status(*now_ms))) }
                @if editable {
                    a.button href={ "/ui/tokens/" (record.id) "/rotate" } { "Rotate…" }
                    a.button.danger href={ "/ui/tokens/" (record.id) "/revoke" } { "Revoke…" }
                }
            }
            (details(record, *now_ms))
            @if let Some((chart, shown)) = usage { (usage_section(&record.id, chart, *shown)) }
            @if record.is_admin {
                p.note { "This is the admin token. It cannot be edited or revoked here; "
                    "replace it with " code { "tessera admin reset-token" } "." }
            }
        } @else {
            p.back { a href="/ui/tokens" { "← All tokens" } }
            h1 { (title) }
        }
        @if !editable { (error_summary(errors)) }
        @if editable {
            @if matches!(which, FormPage::Edit { .. }) { h2 #edit { "Edit" } }
            form.token-form method="post" action=(action) novalidate {
                (csrf_field(viewer.csrf))
                (error_summary(errors))
                (token_fields(choices, form, errors, match &which {
                    FormPage::Create => None,
                    FormPage::Edit { record, .. } => Some(*record),
                }))
                div.actions {
                    button.primary type="submit" {
                        @if matches!(which, FormPage::Create) { "Create token" } @else { "Save changes" }
                    }
                    a href="/ui/tokens" { "Cancel" }
                }
            }
        }
    };
    page(&title, Some(viewer), flash, body)
}

/// The usage chart, and links to its other span.
fn usage_section(id: &str, chart: &Markup, shown: Granularity) -> Markup {
    html! {
        section.usage aria-labelledby="usage-heading" {
            div.heading {
                h2 #usage-heading { "Usage" }
                nav.spans aria-label="Usage span" {
                    @for (granularity, label, query) in [(Granularity::Hour, "24 hours", ""), (Granularity::Day, "30 days", "?usage=day")] {
                        @if granularity == shown {
                            span aria-current="true" { (label) }
                        } @else {
                            a href={ "/ui/tokens/" (id) (query) "#usage-heading" } { (label) }
                        }
                    }
                }
            }
            (chart)
        }
    }
}

fn details(record: &TokenRecord, now_ms: i64) -> Markup {
    let s = &record.settings;
    let caps = s.caps();
    let left = record.balance().at(&caps, now_ms).left(&caps);
    html! {
        dl.details {
            dt { "ID" } dd { code { (record.id) } }
            dt { "Start" } dd { code { (record.start) "…" } }
            @if let Some(description) = &s.description { dt { "Description" } dd { (description) } }
            dt { "Scopes" } dd { (scopes_text(record)) }
            dt { "Resources" } dd { (resources_text(record)) }
            dt { "Networks" } dd {
                @if s.allowed_cidrs.is_anywhere() { "anywhere" } @else { code { (s.allowed_cidrs.texts().join(", ")) } }
            }
            dt { "Owner" } dd { (s.owner.as_deref().unwrap_or("—")) }
            dt { "Rate limit" } dd {
                @match &s.rate_limit {
                    Some(limit) => {
                        (limit.per_minute) " per minute, burst " (limit.burst)
                        @if let Some(profile) = &limit.profile { " (" (profile) ")" }
                    }
                    None => "none of its own",
                }
            }
            dt { "Expires" } dd { (when(s.expires_at, "never")) }
            @if let Some(at) = s.not_before { dt { "Valid from" } dd { (when(Some(at), "")) } }
            @if let Some(most) = s.max_descendants { dt { "Max descendants" } dd { (most) " live tokens made through it" } }
            @if let Some(most) = s.max_uses {
                dt { "Max uses" } dd { (most) " (" (left.uses.unwrap_or(0)) " left)" }
            }
            @if let Some(credits) = s.credits {
                dt { "Credits" } dd {
                    (left.credits.unwrap_or(0)) " left"
                    @if let Some(refill) = credits.refill { ", refilled to " (refill.amount) " every " (refill.every.as_str()) }
                }
            }
            dt { "Created" } dd { (when(Some(record.created_at), "")) }
            @if let Some(at) = record.revoked_at { dt { "Revoked" } dd { (when(Some(at), "")) } }
            dt { "Last used" } dd {
                (when(record.last_used_at, "never"))
                @if let Some(ip) = record.last_used_ip { " from " code { (ip) } }
            }
            dt { "Uses" } dd { (record.use_count) }
        }
    }
}

fn error_summary(errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error-summary #error-summary role="alert" tabindex="-1" {
                h2 { "Nothing was saved: fix this and submit again" }
                ul { @for error in errors {
                    li {
                        @if error.field == "form" { (error.message) }
                        @else { a href={ "#" (anchor(error.field)) } { (error.message) } }
                    }
                } }
            }
        }
    }
}

/// The input a field's error links to.
fn anchor(field: &str) -> &str {
    match field {
        "scopes" => "access",
        other => other,
    }
}

fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| e.message.as_str())
}

/// A labelled text input with its error, if any, described by it.
fn text_field(
    id: &'static str,
    label: &str,
    hint: Option<&str>,
    value: &str,
    errors: &[FieldError],
    multiline: bool,
) -> Markup {
    let error = error_for(errors, id);
    let described = match (hint.is_some(), error.is_some()) {
        (true, true) => Some(format!("{id}-hint {id}-error")),
        (true, false) => Some(format!("{id}-hint")),
        (false, true) => Some(format!("{id}-error")),
        (false, false) => None,
    };
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (label) }
            @if let Some(hint) = hint { p.hint id={ (id) "-hint" } { (hint) } }
            @if let Some(error) = error { p.field-error id={ (id) "-error" } { (error) } }
            @if multiline {
                textarea id=(id) name=(id) rows="3" aria-invalid=[error.map(|_| "true")] aria-describedby=[described] { (value) }
            } @else {
                input id=(id) name=(id) type="text" value=(value) aria-invalid=[error.map(|_| "true")] aria-describedby=[described];
            }
        }
    }
}

/// A small input inside a fieldset, with its own error.
fn sub_field(
    id: &'static str,
    label: &str,
    value: &str,
    errors: &[FieldError],
    numeric: bool,
) -> Markup {
    let error = error_for(errors, id);
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (label) }
            @if let Some(error) = error { p.field-error id={ (id) "-error" } { (error) } }
            input id=(id) name=(id) type=(if numeric { "text" } else { "datetime-local" })
                inputmode=[numeric.then_some("numeric")] value=(value)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| format!("{id}-error"))];
        }
    }
}

fn token_fields(
    choices: &Choices<'_>,
    form: &TokenForm,
    errors: &[FieldError],
    editing: Option<&TokenRecord>,
) -> Markup {
    let scope_error = error_for(errors, "scopes");
    let rate_error = error_for(errors, "rate");
    let expiry_error = error_for(errors, "expiry");
    let mut categories: Vec<(&str, Vec<&ScopeDef>)> = Vec::new();
    for def in choices.scopes {
        let category = def.name.split(':').next().unwrap_or_default();
        match categories.iter_mut().find(|(c, _)| *c == category) {
            Some((_, defs)) => defs.push(def),
            None => categories.push((category, vec![def])),
        }
    }
    let checked = |scope: &str| form.scopes.iter().any(|s| s == scope);
    // Granted patterns no checkbox stands for (`*`, a scope since removed from the
    // catalogue): shown ticked, so that saving keeps them unless they are unticked.
    let others: Vec<&String> = form
        .scopes
        .iter()
        .filter(|s| {
            !choices.scopes.iter().any(|d| &d.name == *s)
                && !categories
                    .iter()
                    .any(|(c, _)| s.strip_suffix(":*") == Some(*c))
        })
        .collect();
    let profile_listed = |rate: &str| choices.profiles.iter().any(|(name, ..)| name == rate);
    // A stored profile since removed from the config stays selectable as it is.
    let stored_profile = editing
        .and_then(|record| record.settings.rate_limit.as_ref())
        .and_then(|limit| limit.profile.as_deref())
        .filter(|name| !profile_listed(name));
    let stored_expiry = editing.and_then(|record| record.settings.expires_at);
    html! {
        @if let Some(error) = error_for(errors, "form") { p.field-error.form-error { (error) } }
        (text_field("name", "Name", Some("1 to 100 characters, to recognise the token by."), &form.name, errors, false))
        (text_field("description", "Description (optional)", None, &form.description, errors, true))
        (text_field("owner", "Owner (optional)", Some("The user or tenant the token belongs to."), &form.owner, errors, false))

        fieldset.field.scopes.invalid[scope_error.is_some()] aria-describedby=[scope_error.map(|_| "scopes-error")] {
            legend { "Scopes" }
            @if let Some(error) = scope_error { p.field-error #scopes-error { (error) } }
            div.field {
                label for="access" { "Access level" }
                p.hint #access-hint { "A shortcut: READ grants every read scope, WRITE read and write, ADMIN all three. "
                    "Choose “Pick scopes below” to tick them one by one." }
                select #access name="access" aria-describedby="access-hint" {
                    option value="" selected[form.access.is_empty()] { "Pick scopes below" }
                    @for level in ["READ", "WRITE", "ADMIN"] {
                        option value=(level) selected[form.access == level] { (level) }
                    }
                }
            }
            div.categories data-scope-picker {
                @for (category, defs) in &categories {
                    @let whole = format!("{category}:*");
                    fieldset.category {
                        legend { (category) }
                        label.check.whole {
                            input type="checkbox" name="scopes" value=(whole) checked[checked(&whole)] data-whole=(category);
                            span { "whole category (" code { (whole) } ")" }
                        }
                        @for def in defs {
                            label.check {
                                input type="checkbox" name="scopes" value=(def.name) checked[checked(&def.name)] data-category=(category);
                                span { (def.name) }
                            }
                        }
                    }
                }
                @if !others.is_empty() {
                    fieldset.category {
                        legend { "Also granted" }
                        @for pattern in &others {
                            label.check {
                                input type="checkbox" name="scopes" value=(pattern) checked;
                                span { code { (pattern) } @if pattern.as_str() == "*" { " (every scope)" } }
                            }
                        }
                    }
                }
            }
        }

        (text_field("resources", "Resources (optional)", Some("One per line, as type:id or type:* (repo:123, channel:*). Empty: every resource."), &form.resources, errors, true))
        (text_field("allowed_cidrs", "Networks (optional)", Some("One per line, as a CIDR (203.0.113.0/24, 2001:db8::/32) or an address. A request from elsewhere is refused. Empty: anywhere (within its maker's networks)."), &form.allowed_cidrs, errors, true))

        fieldset.field.invalid[rate_error.is_some()] {
            legend { "Rate limit" }
            @if let Some(error) = rate_error { p.field-error #rate-error { (error) } }
            div.field {
                label for="rate" { "Profile" }
                select #rate name="rate" aria-describedby=[rate_error.map(|_| "rate-error")] data-shows="custom:rate-custom" {
                    @if editing.is_some() {
                        option value="none" selected[form.rate == "none"] { "No limit of its own" }
                    } @else {
                        option value="default" selected[form.rate == "default"] {
                            @match choices.default_rate {
                                Some((per_minute, burst)) => { "The deployment's default (" (per_minute) "/min, burst " (burst) ")" }
                                None => "No limit",
                            }
                        }
                    }
                    @if let Some(name) = stored_profile {
                        option value=(name) selected[form.rate == name] { (name) " (as stored; no longer configured)" }
                    }
                    @for (name, per_minute, burst) in &choices.profiles {
                        option value=(name) selected[&form.rate == name] { (name) " (" (per_minute) "/min, burst " (burst) ")" }
                    }
                    option value="custom" selected[form.rate == "custom"] { "Custom…" }
                }
            }
            div.inline #rate-custom {
                (sub_field("per_minute", "Requests per minute (custom)", &form.per_minute, errors, true))
                (sub_field("burst", "Burst (custom)", &form.burst, errors, true))
            }
        }

        fieldset.field.invalid[expiry_error.is_some()] {
            legend { "Expiry" }
            @if let Some(error) = expiry_error { p.field-error #expiry-error { (error) } }
            div.field {
                label for="expiry" { "Expires" }
                select #expiry name="expiry" aria-describedby=[expiry_error.map(|_| "expiry-error")] data-shows="date:expiry-date" {
                    @if let Some(at) = stored_expiry {
                        option value="keep" selected[form.expiry == "keep"] { "As now: " (when(Some(at), "")) }
                    }
                    option value="never" selected[form.expiry == "never"] { "Never" }
                    @for (value, label, _) in EXPIRY_PRESETS {
                        option value=(value) selected[form.expiry == value] { (label) }
                    }
                    option value="date" selected[form.expiry == "date"] { "On a date…" }
                }
            }
            div #expiry-date {
                (sub_field("expires_on", "Date and time (UTC)", &form.expires_on, errors, false))
            }
            (sub_field("not_before", "Valid from (UTC; empty: at once)", &form.not_before, errors, false))
        }

        fieldset.field {
            legend { "Quota" }
            (sub_field("max_descendants", "Most live tokens made through this one (empty: its maker's bound)", &form.max_descendants, errors, true))
        }

        fieldset.field {
            legend { "Usage caps" }
            (sub_field("max_uses", "Most verifications in its life (empty: no cap)", &form.max_uses, errors, true))
            (sub_field("credits", "Credits each verification spends from (empty: none; a new number gives a new balance)", &form.credits, errors, true))
            div.inline {
                (sub_field("refill_amount", "Refilled to (empty: never)", &form.refill_amount, errors, true))
                div.field {
                    label for="refill_every" { "Every" }
                    select #refill_every name="refill_every" {
                        option value="day" selected[form.refill_every == "day"] { "day (UTC)" }
                        option value="month" selected[form.refill_every == "month"] { "month (UTC)" }
                    }
                }
            }
        }
    }
}

/// The page after a create: the token's text, this once.
/// Why a token's secret is shown: it was just made, or just replaced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reveal {
    Created,
    Rotated,
}

pub fn created(
    viewer: &Viewer<'_>,
    record: &TokenRecord,
    secret: Option<&str>,
    reveal: Reveal,
) -> Markup {
    let heading = match reveal {
        Reveal::Created => "Token created: ",
        Reveal::Rotated => "New secret for ",
    };
    let body = html! {
        p.back { a href="/ui/tokens" { "← All tokens" } }
        h1 { (heading) (record.settings.name) }
        @match secret {
            Some(secret) => {
                div.reveal role="region" aria-labelledby="reveal-title" {
                    h2 #reveal-title { "Copy your token now" }
                    p.warning { strong { "This is the only time it is shown." } " tessera keeps only a hash of it: once you leave or reload this page, it cannot be shown again. If you lose it, revoke it and create another." }
                    div.copy-row {
                        label.visually-hidden for="new-token" { "The new token" }
                        input #new-token type="text" readonly value=(secret) spellcheck="false" autocomplete="off";
                        button.primary type="button" data-copy="new-token" { "Copy" }
                    }
                    p.copied role="status" aria-live="polite" {}
                }
            }
            None => {
                p.note #token-gone { "This token's text was shown once, when it was created, and cannot be shown again. "
                    "If it was not copied, revoke the token and create another." }
            }
        }
        p { a.button href={ "/ui/tokens/" (record.id) } { "Go to the token" } }
    };
    let title = match reveal {
        Reveal::Created => "Token created",
        Reveal::Rotated => "Token rotated",
    };
    page(title, Some(viewer), None, body)
}

/// How long a rotated token's previous secret may keep working: `(seconds, label)`.
pub const GRACE_CHOICES: [(i64, &str); 4] = [
    (0, "Stops at once"),
    (3600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "7 days"),
];

pub fn confirm_rotate(viewer: &Viewer<'_>, record: &TokenRecord) -> Markup {
    let body = html! {
        p.back { a href={ "/ui/tokens/" (record.id) } { "← Back to the token" } }
        h1 { "Rotate “" (record.settings.name) "”?" }
        div.narrow {
            p { "The token " code { (record.id) } " gets a new secret, shown once on the next page. "
                "It keeps its id, scopes, resources, limits, usage and the tokens made through it." }
            form method="post" action={ "/ui/tokens/" (record.id) "/rotate" } {
                (csrf_field(viewer.csrf))
                label for="grace_seconds" { "The current secret " code { (record.start) "…" } " keeps working" }
                select #grace_seconds name="grace_seconds" {
                    @for (seconds, label) in GRACE_CHOICES {
                        option value=(seconds) selected[seconds == 3600] { (label) }
                    }
                }
                p.note { "After that it is refused; presented again, it is taken as stolen and the token is revoked." }
                div.actions {
                    button.primary type="submit" { "Rotate “" (record.settings.name) "”" }
                    a href={ "/ui/tokens/" (record.id) } { "Cancel" }
                }
            }
        }
    };
    page("Rotate token", Some(viewer), None, body)
}

pub fn confirm_revoke(viewer: &Viewer<'_>, record: &TokenRecord, descendants: usize) -> Markup {
    let body = html! {
        p.back { a href={ "/ui/tokens/" (record.id) } { "← Back to the token" } }
        h1 { "Revoke “" (record.settings.name) "”?" }
        div.narrow {
            p { "The token " code { (record.start) "…" } " (" code { (record.id) } ") stops working at once, everywhere. This cannot be undone." }
            @if descendants > 0 {
                p.warning { (descendants) " token(s) created through it are revoked with it." }
            }
            form method="post" action={ "/ui/tokens/" (record.id) "/revoke" } {
                (csrf_field(viewer.csrf))
                div.actions {
                    button.danger type="submit" { "Revoke “" (record.settings.name) "”" }
                    a href={ "/ui/tokens/" (record.id) } { "Cancel" }
                }
            }
        }
    };
    page("Revoke token", Some(viewer), None, body)
}

/// A page for what went wrong outside a form: not found, not allowed, unavailable.
pub fn problem(viewer: Option<&Viewer<'_>>, title: &str, detail: &str) -> Markup {
    let body = html! {
        h1 { (title) }
        p { (detail) }
        p { a href="/ui/tokens" { "Back to the tokens" } }
    };
    page(title, viewer, None, body)
}
