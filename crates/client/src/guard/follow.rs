//! Keeps the cache exact: reads tessera's change stream and drops the answers about
//! each token it names; while the stream is down, the cache serves nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::guard::cache::VerifyCache;
use crate::{Client, StreamEvent};

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Follows the stream for ever, reconnecting after the last event seen.
pub async fn follow(client: Client, cache: Arc<VerifyCache>) {
    let mut cursor: Option<String> = None;
    let mut backoff = FIRST_BACKOFF;
    loop {
        if let Ok(mut stream) = client.changes(cursor.as_deref()).await {
            while let Some(Ok(event)) = stream.next().await {
                match event {
                    StreamEvent::Change { cursor: at, change } => {
                        cache.drop_token(&change.token_id);
                        cursor = Some(at);
                    }
                    StreamEvent::Ready { cursor: at } => {
                        cursor = Some(at);
                        cache.set_live(true);
                        backoff = FIRST_BACKOFF;
                    }
                    StreamEvent::Reset { cursor: at, .. } => {
                        cache.clear();
                        if at.is_some() {
                            cursor = at;
                        }
                        cache.set_live(true);
                        backoff = FIRST_BACKOFF;
                    }
                }
            }
        }
        // Changes made while the stream is down are told on reconnecting (after
        // `cursor`), or a reset is: until then, every request asks tessera.
        cache.set_live(false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
