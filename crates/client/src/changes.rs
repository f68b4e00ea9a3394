//! `GET /v1/changes` read as events: which tokens changed, as they change.

use std::pin::Pin;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use tessera_api::{EVENT_CHANGE, EVENT_READY, EVENT_RESET, StreamReset, TokenChange};

use crate::error::Error;

/// One event of the change stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// A token changed. `cursor` resumes after it.
    Change { cursor: String, change: TokenChange },
    /// Caught up: what follows is live.
    Ready { cursor: String },
    /// What happened since the cursor given cannot be told: drop everything kept.
    Reset {
        cursor: Option<String>,
        reason: String,
    },
}

type Events = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, Error>> + Send>>;

/// The open stream ([`crate::Client::changes`]).
pub struct ChangeStream {
    events: Events,
}

impl ChangeStream {
    pub(crate) fn new(response: reqwest::Response) -> Self {
        let events = response.bytes_stream().eventsource().map(|item| {
            item.map_err(|error| match error {
                EventStreamError::Transport(error) => Error::Transport(error),
                other => Error::UnexpectedAnswer {
                    status: 200,
                    detail: other.to_string(),
                },
            })
        });
        Self {
            events: Box::pin(events),
        }
    }

    /// The next event; `None` when the server ended the stream (it stops).
    pub async fn next(&mut self) -> Option<Result<StreamEvent, Error>> {
        loop {
            let event = match self.events.next().await? {
                Ok(event) => event,
                Err(error) => return Some(Err(error)),
            };
            let cursor = (!event.id.is_empty()).then_some(event.id);
            let read = match event.event.as_str() {
                EVENT_CHANGE => serde_json::from_str::<TokenChange>(&event.data).map(|change| {
                    StreamEvent::Change {
                        cursor: cursor.unwrap_or_default(),
                        change,
                    }
                }),
                EVENT_READY => Ok(StreamEvent::Ready {
                    cursor: cursor.unwrap_or_default(),
                }),
                EVENT_RESET => serde_json::from_str::<StreamReset>(&event.data).map(|reset| {
                    StreamEvent::Reset {
                        cursor,
                        reason: reset.reason,
                    }
                }),
                // An event of a kind this client does not know: a newer server's.
                _ => continue,
            };
            return Some(read.map_err(|error| Error::UnexpectedAnswer {
                status: 200,
                detail: format!("a {} event: {error}", event.event),
            }));
        }
    }
}
