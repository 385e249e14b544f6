//! Response bodies more than one function answers with, so the shapes in
//! `infra/openapi.json` have one definition: `pendingChange` appears in
//! `GET /billing/status` and in the answer to a plan change.

use crate::clock::rfc3339;
use billing_domain::PendingChange;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingChangeBody {
    pub plan: String,
    pub seats: u32,
    pub effective_at: Option<String>,
}

impl From<&PendingChange> for PendingChangeBody {
    fn from(pending: &PendingChange) -> Self {
        Self {
            plan: pending.plan.to_string(),
            seats: pending.seats,
            effective_at: rfc3339(pending.effective_at),
        }
    }
}
