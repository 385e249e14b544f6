//! Webhook deliveries: one background task takes queued events in order and
//! POSTs each to the webhook URL with Standard Webhooks headers
//! (`webhook-id` = event id, `webhook-timestamp` = send time,
//! `webhook-signature`), one at a time. A non-2xx answer or a connection
//! failure is retried with doubling pauses; after the last attempt the event
//! is logged and dropped, as a real provider eventually gives up.
//!
//! `PendingWork` counts what is still to be delivered (and simulated
//! renewals still to happen), so tests can wait until the sandbox is idle.
//! Payloads and the secret are never logged; event ids and types are.

use crate::SandboxError;
use billing_domain::secrets::WebhookSecret;
use billing_providers::standard_webhooks::{self, ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Attempts per event, the first included.
pub const DELIVERY_ATTEMPTS: u32 = 8;
/// The pause before the first retry; it doubles for each further one
/// (0.5 s, 1 s, 2 s … about a minute in all).
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

/// A queued event, encoded once so every attempt sends the same bytes.
pub(crate) struct Outgoing {
    pub event_id: String,
    pub event_type: String,
    pub body: Vec<u8>,
    /// Counts the event as pending until it is delivered or dropped.
    pub _pending: PendingGuard,
}

/// The number of queued-or-in-flight deliveries and scheduled renewals.
#[derive(Clone, Default)]
pub(crate) struct PendingWork(watch::Sender<usize>);

impl PendingWork {
    /// Counts one more piece of work until the guard is dropped; dropping
    /// covers every way the work can end (done, given up, task aborted).
    pub fn begin(&self) -> PendingGuard {
        self.0.send_modify(|n| *n += 1);
        PendingGuard(self.clone())
    }

    pub async fn idle(&self) {
        let mut count = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = count.wait_for(|n| *n == 0).await;
    }
}

pub(crate) struct PendingGuard(PendingWork);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.0 .0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The client deliveries go through.
pub(crate) fn client() -> Result<reqwest::Client, SandboxError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        // A receiver answers; it does not send us elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("billing-sandbox")
        .build()
        .map_err(|e| SandboxError::HttpClient(e.to_string()))
}

/// Delivers queued events until the provider (the only sender) is dropped.
pub(crate) async fn run(
    mut inbox: mpsc::UnboundedReceiver<Outgoing>,
    client: reqwest::Client,
    webhook_url: String,
    secret: WebhookSecret,
) {
    while let Some(outgoing) = inbox.recv().await {
        deliver(&client, &webhook_url, &secret, &outgoing).await;
    }
}

async fn deliver(client: &reqwest::Client, url: &str, secret: &WebhookSecret, event: &Outgoing) {
    let mut pause = FIRST_RETRY_DELAY;
    for attempt in 1..=DELIVERY_ATTEMPTS {
        match attempt_once(client, url, secret, event).await {
            Ok(()) => {
                tracing::info!(event_id = %event.event_id, event_type = %event.event_type, attempt, "sandbox webhook delivered");
                return;
            }
            Err(Failure::Permanent(problem)) => {
                tracing::error!(event_id = %event.event_id, event_type = %event.event_type, problem, "sandbox webhook cannot be sent; dropped");
                return;
            }
            Err(Failure::Retryable(problem)) => {
                if attempt == DELIVERY_ATTEMPTS {
                    tracing::error!(event_id = %event.event_id, event_type = %event.event_type, attempt, problem = %problem, "sandbox webhook failed on every attempt; dropped");
                    return;
                }
                tracing::warn!(event_id = %event.event_id, event_type = %event.event_type, attempt, problem = %problem, pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX), "sandbox webhook failed; retrying");
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
        }
    }
}

enum Failure {
    Retryable(String),
    Permanent(&'static str),
}

async fn attempt_once(
    client: &reqwest::Client,
    url: &str,
    secret: &WebhookSecret,
    event: &Outgoing,
) -> Result<(), Failure> {
    // Signed afresh per attempt, so a retry after a long pause is not stale.
    let timestamp = crate::unix_now();
    let signature = standard_webhooks::sign(secret, &event.event_id, timestamp, &event.body)
        .map_err(|_| Failure::Permanent("webhook secret is not whsec_<base64>"))?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(ID_HEADER, &event.event_id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(event.body.clone())
        .send()
        .await
        // reqwest's message carries the URL, which is ours and harmless.
        .map_err(|e| Failure::Retryable(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::Retryable(format!("HTTP {}", status.as_u16())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_until_every_guard_is_dropped() {
        let pending = PendingWork::default();
        pending.idle().await;
        let first = pending.begin();
        let second = pending.begin();
        let waiter = tokio::spawn({
            let pending = pending.clone();
            async move { pending.idle().await }
        });
        drop(first);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("idle after the last guard")
            .unwrap();
    }
}
