//! Sends webhook deliveries, signed as Standard Webhooks says (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), with the
//! standard's own Rust implementation, so that its verifiers in every language
//! accept them. What to send and when to try again is the engine's; this module
//! turns audit entries into deliveries, sends what is due, and records answers,
//! until the server stops. Also announces expiries (each minute) and tokens out
//! of uses or credits (as checks find them).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tessera_engine::Engine;
use tessera_engine::lifecycle::Sent;
use tessera_store::{Delivery, Endpoint};
use tokio::sync::watch;

/// How often due deliveries are looked for (writes also wake the sender).
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// Deliveries sent at once.
const AT_ONCE: u32 = 32;
/// How long an endpoint has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Runs the webhook tasks until `stop` turns true.
pub async fn run(engine: Arc<Engine>, stop: watch::Receiver<bool>, expiries_every: Duration) {
    let exhausted = engine
        .take_exhausted_queue()
        .map(|queue| tokio::spawn(announce_exhausted(Arc::clone(&engine), queue, stop.clone())));
    let expiries = tokio::spawn(announce_expiries(
        Arc::clone(&engine),
        stop.clone(),
        expiries_every,
    ));
    deliver(engine, stop).await;
    let _ = expiries.await;
    if let Some(exhausted) = exhausted {
        let _ = exhausted.await;
    }
}

async fn deliver(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tessera-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot make the webhook client: no webhook will be sent");
            return;
        }
    };
    let mut ticker = tokio::time::interval(LOOK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticker.tick() => {}
        }
        // A stop is heard between batches and during one: deliveries under way are
        // dropped, and their leases run out (they are sent again by the next start:
        // at least once). Without it a stop waited for every delivery due, a batch
        // of 32 at up to 10 s each: minutes after a burst of events to endpoints
        // that do not answer (seen after the OpenAPI contract run).
        while !*stop.borrow() {
            // Until caught up: looping while any entry came, it read a few new
            // ones at a time all through a write load.
            match engine.fan_out().await {
                Ok(false) => break,
                Ok(true) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot turn audit entries into webhook deliveries");
                    break;
                }
            }
        }
        while !*stop.borrow() {
            let due = match engine.claim_deliveries(AT_ONCE).await {
                Ok(due) if due.is_empty() => break,
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the webhook deliveries due");
                    break;
                }
            };
            let sends = due.iter().map(|(delivery, endpoint)| async {
                let sent = send(&client, delivery, endpoint).await;
                if let Err(error) = engine.settle_delivery(delivery, sent).await {
                    // Its lease runs out and it is sent again: at least once.
                    tracing::warn!(%error, delivery = %delivery.id, "cannot record a webhook attempt");
                }
            });
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                _ = futures_util::future::join_all(sends) => {}
            }
        }
    }
}

/// One attempt: the payload as stored, signed now with the endpoint's secret.
async fn send(client: &reqwest::Client, delivery: &Delivery, endpoint: &Endpoint) -> Sent {
    let webhook = match standardwebhooks::Webhook::new(&endpoint.secret) {
        Ok(webhook) => webhook,
        Err(_) => return Sent::Unreachable("the endpoint's secret does not read".into()),
    };
    // The receiver compares the timestamp with its own clock: the wall clock.
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature = match webhook.sign(&delivery.id, timestamp, delivery.payload.as_bytes()) {
        Ok(signature) => signature,
        Err(error) => return Sent::Unreachable(format!("cannot sign: {error}")),
    };
    let answer = client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => {
            Sent::Delivered(response.status().as_u16())
        }
        Ok(response) => Sent::Refused(response.status().as_u16()),
        Err(error) => Sent::Unreachable(describe(&error)),
    }
}

/// A send error in words, without the URL (it may hold a secret path).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    let mut words = what.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        words.push_str(": ");
        words.push_str(&cause.to_string());
        source = cause.source();
    }
    words
}

async fn announce_expiries(engine: Arc<Engine>, mut stop: watch::Receiver<bool>, every: Duration) {
    let mut noticed = HashSet::new();
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = engine.announce_expiries(&mut noticed).await {
            tracing::warn!(%error, "cannot record expiry notices");
        }
    }
}

async fn announce_exhausted(
    engine: Arc<Engine>,
    mut queue: tokio::sync::mpsc::Receiver<tessera_engine::index::SlotRef>,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen = HashSet::new();
    loop {
        let slot = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            next = queue.recv() => match next {
                Some(slot) => slot,
                None => return,
            },
        };
        // Forgotten now and then, so that the set stays small; a notice already
        // recorded is refused by the store anyway.
        if seen.len() > 100_000 {
            seen.clear();
        }
        if let Err(error) = engine.announce_exhausted(slot, &mut seen).await {
            tracing::warn!(%error, "cannot record a usage-exhausted notice");
        }
    }
}
