//! webhook-process: consumes batches of verified webhook envelopes from SQS
//! and applies each to the store exactly once. Failures are reported per
//! message (`ReportBatchItemFailures`), so one poison message never holds
//! back the rest; after the queue's redrive limit it lands in the DLQ.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use billing_aws::envelope_from_message_body;
use billing_domain::ledger::Invoicing;
use billing_domain::ports::EventLedger;
use billing_domain::processing::{process_envelope, ProcessOutcome, ProcessingPolicy};
use billing_domain::UnixTime;
use billing_lambda::{config, ConfigError, Env};
use tracing::Instrument;

pub struct EventProcessor<L> {
    ledger: L,
    policy: ProcessingPolicy,
    invoicing: Invoicing,
}

impl<L: EventLedger> EventProcessor<L> {
    pub fn new(ledger: L, policy: ProcessingPolicy, invoicing: Invoicing) -> Self {
        Self {
            ledger,
            policy,
            invoicing,
        }
    }

    /// Reads `DEDUPE_TTL_DAYS` (default 35), and the seller and tax rates
    /// compiled in from `infra/`.
    pub fn from_env(env: &Env, ledger: L) -> Result<Self, ConfigError> {
        let days: i64 = env.parsed_or("DEDUPE_TTL_DAYS", 35)?;
        if !(4..=365).contains(&days) {
            // Stripe retries for up to 3 days; a shorter memory could apply a retry twice.
            return Err(ConfigError::Invalid {
                name: "DEDUPE_TTL_DAYS",
                reason: "must be 4 to 365".into(),
            });
        }
        Ok(Self::new(
            ledger,
            ProcessingPolicy {
                dedupe_ttl_seconds: days * 86_400,
                ..ProcessingPolicy::default()
            },
            config::invoicing()?,
        ))
    }

    /// Processes the batch in order and lists the messages to retry.
    pub async fn handle(&self, event: SqsEvent, now: UnixTime) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in &event.records {
            if let Err(()) = self.process_message(message, now).await {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone().unwrap_or_default();
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    async fn process_message(&self, message: &SqsMessage, now: UnixTime) -> Result<(), ()> {
        let message_id = message.message_id.as_deref().unwrap_or_default();
        let receive_count = message
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str)
            .unwrap_or("?");
        let Some(body) = message.body.as_deref() else {
            tracing::error!(
                message_id,
                receive_count,
                "message has no body; leaving it for the DLQ"
            );
            return Err(());
        };
        let envelope = match envelope_from_message_body(body) {
            Ok(envelope) => envelope,
            Err(e) => {
                tracing::error!(message_id, receive_count, error = %e, "message is not a webhook envelope; leaving it for the DLQ");
                return Err(());
            }
        };
        let span = tracing::info_span!(
            "event",
            request_id = %envelope.request_id,
            provider = %envelope.provider,
            event_id = %envelope.event_id,
            event_type = %envelope.event.event_type,
            message_id,
        );
        let result = process_envelope(&self.ledger, &envelope, now, &self.policy, &self.invoicing)
            .instrument(span.clone())
            .await;
        let _in_span = span.enter();
        match result {
            Ok(outcome) => {
                let tenant = outcome.tenant().map(|t| t.as_str().to_owned());
                let logged = outcome.logged();
                let payment = logged.map(|l| l.status.as_str());
                let invoice = logged.and_then(|l| l.invoice_number.as_deref());
                match &outcome {
                    ProcessOutcome::Parked { reason } => {
                        tracing::warn!(outcome = outcome.as_str(), reason = %reason, "event parked for review")
                    }
                    ProcessOutcome::Unchanged { reason, .. } => {
                        tracing::info!(
                            outcome = outcome.as_str(),
                            tenant,
                            reason = reason.as_str(),
                            payment,
                            invoice,
                            "event recorded"
                        )
                    }
                    _ => tracing::info!(
                        outcome = outcome.as_str(),
                        tenant,
                        payment,
                        invoice,
                        "event processed"
                    ),
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, retryable = e.is_retryable(), receive_count, "event processing failed; will be retried");
                Err(())
            }
        }
    }
}
