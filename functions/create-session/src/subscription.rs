//! `POST /billing/subscription/{preview,change,cancel,resume}`: plan and
//! seat changes with their preview, cancelling and resuming. Dates go out
//! and come back in RFC 3339; money is integer minor units.

use crate::checkout::{body, provider_key};
use crate::errors::command_error;
use crate::SessionApi;
use billing_domain::commands::{self, ChangeRequest};
use billing_domain::ports::{ChangePreview, CustomerRegistry, IntentRecorder};
use billing_domain::{Action, ChangeTiming, TenantId, UnixTime};
use billing_lambda::bodies::PendingChangeBody;
use billing_lambda::clock::{parse_rfc3339, rfc3339};
use billing_lambda::{request, ApiError};
use lambda_http::Request;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PreviewBody {
    plan: String,
    seats: Option<u32>,
    timing: ChangeTiming,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangeBody {
    plan: String,
    seats: Option<u32>,
    timing: ChangeTiming,
    /// The preview's `prorationDate`, so the charge equals the preview.
    proration_date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CancelBody {
    #[serde(default = "yes")]
    pub at_period_end: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewResponse {
    pub currency: String,
    pub amount_due_now_minor: i64,
    pub proration_date: Option<String>,
    pub lines: Vec<PreviewLineBody>,
    pub next_invoice: NextInvoiceBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_minor: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewLineBody {
    pub description: String,
    pub amount_minor: i64,
    pub proration: bool,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NextInvoiceBody {
    pub amount_minor: i64,
    pub date: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeResponse {
    pub pending_change: PendingChangeBody,
    /// A page the customer must visit to approve the change (PayPal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_url: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub accepted: bool,
}

fn preview_response(preview: ChangePreview) -> PreviewResponse {
    PreviewResponse {
        currency: preview.currency,
        amount_due_now_minor: preview.amount_due_now_minor,
        proration_date: preview.proration_date.and_then(rfc3339),
        lines: preview
            .lines
            .into_iter()
            .map(|line| PreviewLineBody {
                description: line.description,
                amount_minor: line.amount_minor,
                proration: line.proration,
                period_start: rfc3339(line.period_start),
                period_end: rfc3339(line.period_end),
            })
            .collect(),
        next_invoice: NextInvoiceBody {
            amount_minor: preview.next_invoice_amount_minor,
            date: rfc3339(preview.next_invoice_date),
        },
        tax_minor: preview.tax_minor,
    }
}

const CHANGE_SHAPE: &str =
    "{\"plan\", \"seats\"?, \"timing\": \"now\"|\"period_end\", \"prorationDate\"?}";

impl<S: CustomerRegistry + IntentRecorder> SessionApi<S> {
    pub(crate) async fn preview(
        &self,
        request: &Request,
        tenant: &TenantId,
        now: UnixTime,
    ) -> Result<PreviewResponse, ApiError> {
        let body: PreviewBody = body(
            request,
            "{\"plan\", \"seats\"?, \"timing\": \"now\"|\"period_end\"}",
        )?;
        let change = ChangeRequest {
            plan: body.plan,
            seats: body.seats,
            timing: body.timing,
            proration_date: None,
        };
        let preview = commands::preview_change(
            &self.store,
            &self.catalog,
            &self.gateways,
            tenant,
            &change,
            now,
        )
        .await
        .map_err(|e| command_error(e, tenant))?;
        Ok(preview_response(preview))
    }

    pub(crate) async fn change(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
        now: UnixTime,
    ) -> Result<ChangeResponse, ApiError> {
        let body: ChangeBody = body(request, CHANGE_SHAPE)?;
        let proration_date = match body.proration_date.as_deref() {
            None => None,
            Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_request",
                    "prorationDate must be an RFC 3339 time, as the preview gave it",
                )
            })?),
        };
        let change = ChangeRequest {
            plan: body.plan,
            seats: body.seats,
            timing: body.timing,
            proration_date,
        };
        let started = commands::change_plan(
            &self.store,
            &self.catalog,
            &self.gateways,
            tenant,
            &change,
            provider_key("change", request, tenant),
            now,
        )
        .await
        .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, plan = %started.pending.plan, seats = started.pending.seats, timing = %change.timing, "plan change accepted");
        Ok(ChangeResponse {
            pending_change: PendingChangeBody::from(&started.pending),
            approval_url: started.accepted.approval_url,
        })
    }

    pub(crate) async fn cancel(
        &self,
        request: &Request,
        tenant: &TenantId,
        request_id: &str,
        now: UnixTime,
    ) -> Result<Accepted, ApiError> {
        let body = cancel_body(request)?;
        commands::cancel(&self.store, &self.gateways, tenant, body.at_period_end, now)
            .await
            .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, at_period_end = body.at_period_end, "cancellation accepted");
        Ok(Accepted { accepted: true })
    }

    pub(crate) async fn resume(
        &self,
        tenant: &TenantId,
        request_id: &str,
    ) -> Result<Accepted, ApiError> {
        commands::resume(&self.store, &self.gateways, tenant)
            .await
            .map_err(|e| command_error(e, tenant))?;
        tracing::info!(request_id, tenant = %tenant, "resumption accepted");
        Ok(Accepted { accepted: true })
    }
}

/// The cancel body; an empty body cancels at period end.
pub(crate) fn cancel_body(request: &Request) -> Result<CancelBody, ApiError> {
    if request::raw_body(request).is_empty() {
        return Ok(CancelBody {
            at_period_end: true,
        });
    }
    body(request, "{\"atPeriodEnd\"?: boolean}")
}

/// What cancelling needs of the role: at once is the owner's alone.
pub(crate) fn cancel_action(body: &CancelBody) -> Action {
    if body.at_period_end {
        Action::Manage
    } else {
        Action::CancelNow
    }
}
