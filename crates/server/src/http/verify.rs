//! `POST /v1/verify`: may this token do this? Always 200; `code` says why not.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use tessera_core::resource::Resource;
use tessera_core::scope::TOKENS_VERIFY;
use tessera_core::verify::Code;

use crate::http::credentials::{self, CredentialHeaders};
use crate::http::dto::{Missing, RateLimitState, UsageLeft, VerifyRequest, VerifyResponse, Words};
use crate::http::hot::{self, HotPath};
use crate::http::problem::{self, Problem};
use tessera_engine::index::IndexedMeta;
use tessera_engine::{CheckOutcome, Engine};

#[utoipa::path(post, path = "/v1/verify", operation_id = "verify", tag = "verify", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResponse), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn verify(State(engine): State<Arc<Engine>>, request: Request) -> Response {
    hot::answer_routed(&engine, HotPath::Verify, request).await
}

/// The answer to a verify call ([`hot::answer`] calls it for both transports): its
/// header fields (names in any case) and body. `Ok` is the JSON body of a 200.
/// Plain code rather than axum extractors: this runs on every request of the API
/// tessera guards, and the extractors' boxing and layering cost about as much as the
/// two token checks. The caller is judged first: nothing of the body is looked at
/// for a caller that may not verify.
pub async fn answer<'a>(
    engine: &Engine,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    peer: Option<IpAddr>,
    body: Result<&[u8], Response>,
) -> Result<(Vec<u8>, Code), Response> {
    let content_type = verifier(engine, headers, peer).await?;
    if !problem::is_json(content_type) {
        return Err(problem::unsupported_media_type());
    }
    checked(engine, body?).await
}

/// Refuses a caller that may not verify, read from the call's header fields in one
/// pass, which also finds the `Content-Type` value, returned.
async fn verifier<'a>(
    engine: &Engine,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    peer: Option<IpAddr>,
) -> Result<Option<&'a [u8]>, Response> {
    let mut credentials = CredentialHeaders::default();
    let mut content_type = None;
    for (name, value) in headers {
        if !credentials.note(name, value)
            && name.eq_ignore_ascii_case(header::CONTENT_TYPE.as_str())
        {
            content_type.get_or_insert(value);
        }
    }
    let client = credentials::client_of(engine, peer, &credentials);
    let credential = credentials::from_found(&credentials).map_err(problem::error_response)?;
    engine
        .authenticate(&credential, Some(TOKENS_VERIFY), client)
        .await
        .map_err(problem::error_response)?;
    Ok(content_type)
}

/// The JSON answer to a verify request's body, from a caller that may verify, and
/// its code.
async fn checked(engine: &Engine, body: &[u8]) -> Result<(Vec<u8>, Code), Response> {
    let asked: VerifyRequest<'_> = problem::parse_json(body).map_err(problem::error_response)?;
    let resource = asked.resource.as_ref().map(AsRef::as_ref);
    let client_ip = asked.client_ip.as_ref().map(AsRef::as_ref);
    let need = engine
        .requirement(asked.scopes.as_deref(), resource, client_ip, asked.cost)
        .map_err(problem::error_response)?;
    let outcome = engine.check(asked.token.as_ref(), &need).await;
    // A long `meta` is in the store only: read once the decision is made.
    let stored_meta = match &outcome.checked {
        Some(checked) if matches!(checked.slot.meta(), Some(IndexedMeta::InStore)) => engine
            .stored_meta(&checked.slot)
            .await
            .map_err(problem::error_response)?,
        _ => None,
    };
    let mut answer = response(&outcome);
    if let Some(meta) = &stored_meta {
        answer.meta = Some(meta);
    }
    if let (Code::Forbidden, Some(checked)) = (outcome.code, &outcome.checked) {
        let shortfall = need.shortfall(checked.slot.powers());
        answer.missing = Some(Missing {
            scopes: shortfall
                .scopes
                .map(|scopes| engine.index().catalogue().names_in(&scopes))
                .unwrap_or_default(),
            resource: shortfall.resource.map(Resource::as_str),
            network: shortfall.network,
        });
    }
    let mut json = Vec::with_capacity(512);
    // Only a broken `Serialize` could fail: answer as the panic guard would.
    write_json(&answer, &mut json).map_err(|_| super::panic_response())?;
    Ok((json, outcome.code))
}

/// The verify answer for an outcome; identity details only when the token exists.
pub fn response(outcome: &CheckOutcome) -> VerifyResponse<'_> {
    let mut answer = VerifyResponse {
        valid: outcome.code == Code::Valid,
        code: outcome.code.as_str(),
        token_id: None,
        name: None,
        owner: None,
        meta: None,
        scopes: None,
        access: None,
        resources: None,
        expires_at: None,
        rate_limit: None,
        missing: None,
        usage: None,
    };
    if let Some(checked) = &outcome.checked {
        let slot = &checked.slot;
        let powers = slot.powers();
        let (scopes, access) = slot.granted_scopes().fields();
        answer.token_id = Some(slot.id());
        answer.name = Some(slot.name());
        answer.owner = slot.owner();
        answer.meta = match slot.meta() {
            Some(IndexedMeta::Inline(meta)) => Some(meta),
            Some(IndexedMeta::InStore) | None => None,
        };
        answer.scopes = scopes.map(Words);
        answer.access = access;
        answer.resources = powers.resources.joined().map(Words);
        // A secret a rotation retired stops at its grace end: an answer kept by a client
        // (the guard's cache) must not outlive it.
        let expires_at = match (powers.expires_at, outcome.credential_until) {
            (Some(token), Some(credential)) => Some(token.min(credential)),
            (token, credential) => token.or(credential),
        };
        answer.expires_at = expires_at.map(tessera_core::timefmt::format_rfc3339);
        answer.usage = checked.left.map(|left| UsageLeft {
            uses_remaining: left.uses,
            credits_remaining: left.credits,
        });
        answer.rate_limit = checked.verdict.rate.map(|rate| RateLimitState {
            limit: rate.limit,
            remaining: rate.remaining,
            // Rate limited: when the next request would pass. Otherwise: when the bucket is full.
            reset_ms: if outcome.code == Code::RateLimited {
                rate.retry_after_ms
            } else {
                rate.reset_ms
            },
        });
    }
    answer
}

/// Writes what `serde_json::to_writer(answer)` writes, by hand: the derive spends
/// more on the eleven field names and their separators than on the values, and this
/// answers every verify. Field names are written as they are; text goes through
/// serde_json unless it needs no escaping. `hand_written_json_is_serdes` checks that
/// the two agree.
fn write_json(answer: &VerifyResponse<'_>, out: &mut Vec<u8>) -> serde_json::Result<()> {
    out.extend_from_slice(if answer.valid {
        b"{\"valid\":true"
    } else {
        b"{\"valid\":false"
    });
    key(out, "code");
    text(out, answer.code)?;
    for (name, value) in [
        ("token_id", answer.token_id),
        ("name", answer.name),
        ("owner", answer.owner),
    ] {
        key(out, name);
        optional(out, value, text)?;
    }
    key(out, "meta");
    optional(out, answer.meta, |out, meta| {
        out.extend_from_slice(meta.get().as_bytes());
        Ok(())
    })?;
    key(out, "scopes");
    optional(out, answer.scopes, words)?;
    key(out, "access");
    optional(out, answer.access, text)?;
    key(out, "resources");
    optional(out, answer.resources, words)?;
    key(out, "expires_at");
    optional(out, answer.expires_at.as_deref(), text)?;
    key(out, "rate_limit");
    optional(out, answer.rate_limit.as_ref(), |out, rate| {
        serde_json::to_writer(out, rate)
    })?;
    if let Some(missing) = &answer.missing {
        key(out, "missing");
        serde_json::to_writer(&mut *out, missing)?;
    }
    if let Some(usage) = &answer.usage {
        key(out, "usage");
        serde_json::to_writer(&mut *out, usage)?;
    }
    out.push(b'}');
    Ok(())
}

/// `,"name":` for a field name that needs no escaping.
fn key(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn optional<T>(
    out: &mut Vec<u8>,
    value: Option<T>,
    write: impl FnOnce(&mut Vec<u8>, T) -> serde_json::Result<()>,
) -> serde_json::Result<()> {
    match value {
        Some(value) => write(out, value),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// A JSON string: copied as it is when nothing in it needs escaping, as in ids,
/// names and scopes; else written by serde_json.
fn text(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, text)
    }
}

fn words(out: &mut Vec<u8>, words: Words<'_>) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text(out, word)?;
    }
    out.push(b']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn optional_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(any::<String>())
    }

    proptest! {
        #[test]
        fn hand_written_json_is_serdes(
            valid: bool,
            id in optional_text(),
            name in optional_text(),
            owner in optional_text(),
            meta in proptest::option::of(proptest::collection::btree_map(any::<String>(), any::<String>(), 0..3)),
            scopes in proptest::option::of("[a-z:* \"\\\\\u{1}é]{0,30}"),
            access in proptest::option::of(prop_oneof![Just("read"), Just("write"), Just("admin")]),
            resources in proptest::option::of("[a-z:* /\"é]{0,30}"),
            expires_at in optional_text(),
            rate in proptest::option::of((any::<u32>(), any::<u32>(), any::<u64>())),
            missing in proptest::option::of((proptest::collection::vec("[a-z:\"é]{1,12}", 0..3), optional_text(), any::<bool>())),
            usage in proptest::option::of((proptest::option::of(any::<u64>()), proptest::option::of(any::<u64>()))),
        ) {
            let meta: Option<Map<String, Value>> = meta.map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
            let meta = meta.map(|m| serde_json::value::to_raw_value(&m).unwrap());
            let answer = VerifyResponse {
                valid,
                code: if valid { "VALID" } else { "NOT_FOUND" },
                token_id: id.as_deref(),
                name: name.as_deref(),
                owner: owner.as_deref(),
                meta: meta.as_deref(),
                scopes: scopes.as_deref().map(Words),
                access,
                resources: resources.as_deref().map(Words),
                expires_at,
                rate_limit: rate.map(|(limit, remaining, reset_ms)| RateLimitState { limit, remaining, reset_ms }),
                missing: missing.as_ref().map(|(scopes, resource, network)| Missing {
                    scopes: scopes.iter().map(String::as_str).collect(),
                    resource: resource.as_deref(),
                    network: *network,
                }),
                usage: usage.map(|(uses_remaining, credits_remaining)| UsageLeft { uses_remaining, credits_remaining }),
            };
            let mut hand = Vec::new();
            write_json(&answer, &mut hand).unwrap();
            // What a client reads with tessera-api's owned answer is what was written.
            let read: tessera_api::VerifyAnswer = serde_json::from_slice(&hand).unwrap();
            prop_assert_eq!(serde_json::to_vec(&read).unwrap(), hand.clone());
            prop_assert_eq!(String::from_utf8(hand).unwrap(), serde_json::to_string(&answer).unwrap());
        }
    }
}
