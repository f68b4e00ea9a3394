//! Reading whole token records: the store's, with this node's live usage counts.

use serde_json::value::RawValue;
use tessera_core::record::TokenRecord;
use tessera_store::{ListPage, ListQuery};

use crate::error::EngineError;
use crate::index::{Slot, SlotRef};

use super::Engine;
use super::authority::Caller;

impl Engine {
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<TokenRecord, EngineError> {
        let slot = self.visible_to(&caller.slot, id)?;
        self.record(&slot).await
    }
    /// A token's whole record: the store's (the index keeps only what verification
    /// needs), with this node's live usage counts.
    pub async fn record(&self, slot: &Slot) -> Result<TokenRecord, EngineError> {
        let _settled = self.usage.read().await;
        let mut record = self.stored_record(slot).await?;
        slot.overlay_usage(&mut record);
        Ok(record)
    }

    /// The store's record of `slot`'s token, as it is there.
    async fn stored_record(&self, slot: &Slot) -> Result<TokenRecord, EngineError> {
        self.store
            .get(slot.id())
            .await?
            .ok_or_else(|| EngineError::NotFound {
                what: format!("token {:?}", slot.id()),
            })
    }
    /// The `meta` of `slot`'s token as JSON, read from the store: for the tokens
    /// whose `meta` the index does not keep ([`crate::index::IndexedMeta::InStore`]).
    pub async fn stored_meta(&self, slot: &Slot) -> Result<Option<Box<RawValue>>, EngineError> {
        self.stored_record(slot)
            .await?
            .settings
            .meta
            .map(|meta| serde_json::value::to_raw_value(&meta))
            .transpose()
            .map_err(|error| EngineError::Internal(format!("meta as JSON: {error}")))
    }

    /// Finds a token by its text, for adapters whose API names tokens that way.
    pub async fn find_by_secret(
        &self,
        caller: &Caller,
        secret: &str,
    ) -> Result<TokenRecord, EngineError> {
        let slot = self.find_visible_by_secret(caller, secret)?;
        self.record(&slot).await
    }
    /// The token whose text is `secret`, if the caller may see it.
    pub fn find_visible_by_secret(
        &self,
        caller: &Caller,
        secret: &str,
    ) -> Result<SlotRef, EngineError> {
        let not_found = || EngineError::NotFound {
            what: "token".into(),
        };
        let slot = self.lookup(secret, None).map_err(|_| not_found())?;
        self.visible_to(&caller.slot, slot.id())
            .map_err(|_| not_found())
    }
    /// Lists the tokens the caller may see, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        mut query: ListQuery,
    ) -> Result<ListPage, EngineError> {
        if !caller.is_admin() {
            query.descendants_of = Some(caller.id().to_owned());
        }
        query.now_ms = self.clock.now_ms();
        let _settled = self.usage.read().await;
        let mut page = self.store.list(&query).await?;
        for record in &mut page.tokens {
            if let Some(slot) = self.index().by_id(&record.id) {
                slot.overlay_usage(record);
            }
        }
        Ok(page)
    }
}
