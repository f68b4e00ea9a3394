//! Tokens a secret scanner reports found in public (GitHub's secret scanning, or
//! `tessera scan --report`): a live one is revoked at once, or flagged, as
//! `leak_action` says.

use std::sync::Arc;

use crate::config::LeakAction;
use crate::error::EngineError;

use super::Engine;

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
    /// the token's id, never its text.
    pub async fn report_leak(self: &Arc<Self>, text: &str) -> Result<LeakLabel, EngineError> {
        let Ok(slot) = self.lookup(text, None) else {
            return Ok(LeakLabel::FalsePositive);
        };
        let Ok(live) = self.live_caller(slot) else {
            return Ok(LeakLabel::FalsePositive);
        };
        let id = live.slot.id().to_owned();
        if live.slot.is_admin() {
            // The admin token cannot be revoked through the API; its holder must
            // replace it, and must hear of it at once.
            tracing::error!(token_id = %id, "the admin token was reported leaked: replace it now with `tessera admin reset-token`");
            return Ok(LeakLabel::TruePositive);
        }
        match self.config.leak_action {
            LeakAction::Revoke => {
                self.revoke_own(live.slot).await?;
                tracing::warn!(token_id = %id, "revoked: reported leaked");
            }
            LeakAction::Flag => {
                tracing::warn!(token_id = %id, "reported leaked; flagged, not revoked (leak_action = \"flag\")");
            }
        }
        Ok(LeakLabel::TruePositive)
    }
}
