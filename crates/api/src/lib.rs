//! The request and response types of tessera's token API and verify call, as they travel: the
//! server reads and writes them, the CLI and Rust clients write and read them, so
//! the two sides cannot drift apart. Plain serde types, and beside each the
//! mapping to and from the domain's types (`tessera-core`), so that a token
//! field's wire shape and its meaning are written in one file.
//!
//! The `openapi` feature derives their schemas for `/openapi.json`.

mod audit;
mod changes;
mod compat;
mod leaks;
mod meta;
mod problem;
mod tokens;
mod usage;
mod verify;
mod webhooks;

mod number;
pub use audit::{
    AuditActor, AuditBreak, AuditEntryView, AuditList, AuditParams, AuditVerification,
};
pub use changes::{
    ChangesParams, EVENT_CHANGE, EVENT_READY, EVENT_RESET, StreamReset, TokenChange,
};
#[cfg(feature = "openapi")]
pub use compat::{AccessType, RepoId};
pub use compat::{
    RepoKeyCreated, RepoKeyRequest, RepoTokenCreated, RepoTokenInfo, RepoTokenRequest,
};
#[cfg(feature = "openapi")]
pub use leaks::LeakLabel;
pub use leaks::{LeakReport, LeakVerdict};
pub use meta::{Catalogue, Introspection, PresentedTokenForm, ProfileInfo, ScopeInfo};
pub use problem::{PROBLEM_CODES, Problem};

pub use tokens::{
    CreateTokenRequest, CreatedToken, CreditsBody, CreditsView, ListParams, RateLimitBody,
    RateLimitView, RefillBody, RefillView, RotateRequest, TokenList, TokenView, UpdateTokenRequest,
};
#[cfg(feature = "openapi")]
pub use tokens::{RefillEvery, ResourcePattern, ScopePattern, TokenNameText};
pub use usage::{UsageBucketView, UsageParams, UsageReport};
pub use verify::{MissingPowers, RateLimitState, UsageLeft, VerifyAnswer, VerifyRequest};
pub use webhooks::{
    CreateWebhookRequest, CreatedWebhook, DeliveriesParams, DeliveryList, DeliveryView,
    UpdateWebhookRequest, WebhookList, WebhookView,
};
