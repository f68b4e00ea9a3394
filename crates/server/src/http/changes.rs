//! `GET /v1/changes`: the index's changes as Server-Sent Events (see
//! `tessera_api::changes` for the events, `tessera_engine::changes` for the cursor).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use tessera_api::{
    ChangesParams, EVENT_CHANGE, EVENT_READY, EVENT_RESET, StreamReset, TokenChange,
};
use tessera_engine::changes::{ChangeEvent, ChangeStream, Cursor};
use tessera_engine::{Engine, EngineError};
use tokio::sync::{broadcast, watch};

use crate::http::auth::{Authed, VerifyTokens};
use crate::http::problem::{ApiError, ApiQuery};

/// Turns true when the server stops: open streams end then, so that stopping does
/// not wait for clients that never hang up.
#[derive(Clone)]
pub struct Stopping(pub watch::Receiver<bool>);

/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The tokens that change from now on (or after the cursor in `Last-Event-ID` or
/// `after`): for caches of verify answers, which drop a token's entries when it
/// changes. Needs `tokens:verify`, as verifying does.
#[utoipa::path(get, path = "/v1/changes", operation_id = "changes", tag = "verify", params(ChangesParams,
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event seen, as EventSource sends it on reconnecting.",
            pattern = "^[0-9a-f]{1,16}-[0-9]{1,20}$")),
    responses((status = 200, content_type = "text/event-stream", body = TokenChange,
        description = "A stream of events: `token` (data: a TokenChange; its id is the cursor), `ready` (caught up), `reset` (data: a StreamReset: drop what you keep)")),
    security(("token" = [])))]
pub async fn changes(
    State(engine): State<Arc<Engine>>,
    Extension(Stopping(stopping)): Extension<Stopping>,
    _caller: Authed<VerifyTokens>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<ChangesParams>,
) -> Result<Response, ApiError> {
    let invalid_cursor = || EngineError::BadRequest {
        code: "invalid_cursor",
        detail: "the cursor is not one this stream wrote (`<hex>-<number>`): resume with the \
                 `id` of the last event seen, or leave it out to start now"
            .to_owned(),
    };
    let given = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().map_err(|_| invalid_cursor())?),
        None => params.after.as_deref(),
    };
    let after = match given {
        Some(text) => Some(Cursor::parse(text).ok_or_else(invalid_cursor)?),
        None => None,
    };
    let events = events(engine, after);
    let until_stopped = events.take_until(async move {
        let mut stopping = stopping;
        let _ = stopping.wait_for(|stopped| *stopped).await;
    });
    Ok(Sse::new(until_stopped.map(Ok::<_, Infallible>))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// The events for a client starting after `after`: those it missed, then `ready` (or
/// `reset`), then the live ones.
fn events(engine: Arc<Engine>, after: Option<Cursor>) -> impl Stream<Item = Event> {
    let subscription = engine.changes().subscribe(after);
    let stream = engine.changes();
    let missed: Vec<Event> = subscription
        .missed
        .iter()
        .map(|event| change_event(stream, event))
        .collect();
    let start = if subscription.resumed {
        Event::default().event(EVENT_READY).data("{}")
    } else {
        reset_event("the events since this cursor are not kept here (another node, a restart, or too long ago)")
    }
    .id(subscription.cursor.to_string());
    let live = stream::unfold(
        (engine, subscription.live),
        |(engine, mut live)| async move {
            let event = match live.recv().await {
                Ok(event) => change_event(engine.changes(), &event),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    reset_event("this client fell behind the changes")
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((event, (engine, live)))
        },
    );
    stream::iter(missed)
        .chain(stream::once(async move { start }))
        .chain(live)
}

fn change_event(stream: &ChangeStream, event: &ChangeEvent) -> Event {
    let data = TokenChange {
        token_id: event.token_id.clone(),
        change: event.kind.as_str().to_owned(),
        seq: event.seq,
    };
    Event::default()
        .event(EVENT_CHANGE)
        .id(stream.cursor_of(event).to_string())
        .json_data(data)
        .unwrap_or_else(|_| reset_event("an event could not be written"))
}

fn reset_event(reason: &str) -> Event {
    let data = StreamReset {
        reason: reason.to_owned(),
    };
    Event::default()
        .event(EVENT_RESET)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(EVENT_RESET).data("{}"))
}
