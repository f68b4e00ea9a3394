//! Every JSON request body, read as the server reads it and checked as the engine
//! checks it: create, update, verify, rotate, the Relace and Flashback compatibility
//! calls, and the list query. A create that validates must validate again from its own
//! settings (what the store keeps reads back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_api::{
    CreateTokenRequest, ListParams, RepoKeyRequest, RepoTokenRequest, RotateRequest,
    UpdateTokenRequest,
};
use tessera_core::record::{Omitted, Policy, Settings};
use tessera_core::resource::Resource;
use tessera_core::scope::ScopeCatalogue;
use tessera_server::http::dto::{self, VerifyRequest};
use tessera_server::http::problem::parse_json;

fuzz_target!(|input: (u8, &[u8])| {
    let (kind, body) = input;
    let catalogue = ScopeCatalogue::default_catalogue();
    let policy = Policy {
        catalogue: &catalogue,
        now_ms: 1_780_000_000_000,
        max_lifetime_ms: None,
        default_rate_limit: None,
        extra_profiles: &[],
    };
    match kind % 7 {
        0 => {
            let Ok(request) = parse_json::<CreateTokenRequest>(body) else {
                return;
            };
            let Ok(draft) = request.into_draft() else {
                return;
            };
            if let Ok(settings) = Settings::validate(draft, &policy, Omitted::Create) {
                let again = Settings::validate(settings.to_draft(), &policy, Omitted::Complete);
                assert!(again.is_ok(), "{again:?}");
            }
        }
        1 => {
            let Ok(update) = parse_json::<UpdateTokenRequest>(body) else {
                return;
            };
            let mut draft = Settings::admin().to_draft();
            if update.apply_to(&mut draft).is_ok() {
                let _ = Settings::validate(draft, &policy, Omitted::Complete);
            }
        }
        2 => {
            let Ok(asked) = parse_json::<VerifyRequest<'_>>(body) else {
                return;
            };
            if let Some(scopes) = &asked.scopes {
                let _ = catalogue.compile_required(scopes);
            }
            if let Some(resource) = &asked.resource {
                let _ = Resource::parse(resource.as_ref());
            }
        }
        3 => {
            let _ = parse_json::<RepoTokenRequest>(body);
        }
        4 => {
            let _ = parse_json::<RepoKeyRequest>(body);
        }
        5 => {
            // A grace period is checked, never trusted: 0 to 7 days, in milliseconds.
            if let Ok(grace) = parse_json::<RotateRequest>(body).map(|r| r.grace_ms())
                && let Ok(ms) = grace
            {
                assert!((0..=tessera_core::record::MAX_GRACE_SECONDS * 1000).contains(&ms));
            }
        }
        _ => {
            // As axum's `Query` reads it.
            if let Ok(params) = serde_urlencoded::from_bytes::<ListParams>(body) {
                let _ = dto::query_of(params);
            }
        }
    }
});
