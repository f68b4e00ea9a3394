//! Tokens a secret scanner reports found in public (GitHub's secret scanning, or
//! `tessera scan --report`): a live one is revoked at once, or flagged, as
//! `leak_action` says.

use std::sync::Arc;

use serde_json::Value;
use tessera_core::audit::Action;

use crate::config::LeakAction;
use crate::error::EngineError;

use super::Engine;
use super::audit::{Actor, Target, reason};
use super::write::Deed;

/// Where a scanner found a reported token, as its report says.
#[derive(Clone, Debug, Default)]
pub struct LeakSource {
    pub url: Option<String>,
    pub source: Option<String>,
}

/// What a reported text turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeakLabel {
    /// A live token of this deployment.
    TruePositive,
    /// Not one: unknown, malformed, or already revoked or expired.
    FalsePositive,
}

impl LeakLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakLabel::TruePositive => "true_positive",
            LeakLabel::FalsePositive => "false_positive",
        }
    }
}

impl Engine {
    /// Acts on one reported text: a live token is revoked with what was made
    /// through it (`leak_action = "revoke"`) or only logged (`"flag"`). Logs name
    /// the token's id, never its text; the audit log records it, by `reporter`.
    pub async fn report_leak(
        self: &Arc<Self>,
        text: &str,
        found: &LeakSource,
        reporter: &Actor,
    ) -> Result<LeakLabel, EngineError> {
        let Ok(slot) = self.lookup(text, None) else {
            return Ok(LeakLabel::FalsePositive);
        };
        let Ok(live) = self.live_caller(slot) else {
            return Ok(LeakLabel::FalsePositive);
        };
        let id = live.slot.id().to_owned();
        let action = self.config.leak_action;
        let text_or_null = |text: &Option<String>| text.clone().map_or(Value::Null, Value::from);
        let details = |action: &str| {
            reason(
                "reported leaked",
                [
                    ("action", action.into()),
                    ("url", text_or_null(&found.url)),
                    ("source", text_or_null(&found.source)),
                ],
            )
        };
        if live.slot.is_admin() {
            // The admin token cannot be revoked through the API; its holder must
            // replace it, and must hear of it at once.
            tracing::error!(token_id = %id, "the admin token was reported leaked: replace it now with `tessera admin reset-token`");
            let event = self
                .event(Action::TokenLeaked, reporter, Target::Slot(&live.slot))
                .with_details(&details("replace"));
            self.record_event(event).await?;
            return Ok(LeakLabel::TruePositive);
        }
        let details = details(action.as_str());
        match action {
            LeakAction::Revoke => {
                let deed = Deed::new(reporter.clone(), Action::TokenLeaked).with(details);
                self.revoke_own(live.slot, deed).await?;
                tracing::warn!(token_id = %id, "revoked: reported leaked");
            }
            LeakAction::Flag => {
                let event = self
                    .event(Action::TokenLeaked, reporter, Target::Slot(&live.slot))
                    .with_details(&details);
                self.record_event(event).await?;
                tracing::warn!(token_id = %id, "reported leaked; flagged, not revoked (leak_action = \"flag\")");
            }
        }
        Ok(LeakLabel::TruePositive)
    }
}
