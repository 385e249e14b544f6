//! Response bodies more than one function answers with, so the shapes in
//! `infra/openapi.json` have one definition: `pendingChange` appears in
//! `GET /billing/status` and in the answer to a plan change; an address
//! and a tax id in the billing profile and in an invoice's parties.

use crate::clock::rfc3339;
use billing_domain::ledger::tax_id::Validation;
use billing_domain::ledger::{Address, TaxId, TaxIdKind};
use billing_domain::PendingChange;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressBody {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

impl From<&Address> for AddressBody {
    fn from(a: &Address) -> Self {
        AddressBody {
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }
    }
}

/// A tax id as validated: `validated: "format"` says no registry (VIES,
/// the GST portal) was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxIdBody {
    pub value: String,
    pub kind: TaxIdKind,
    pub country: String,
    pub validated: Validation,
}

impl From<&TaxId> for TaxIdBody {
    fn from(t: &TaxId) -> Self {
        TaxIdBody {
            value: t.value.clone(),
            kind: t.kind,
            country: t.country.clone(),
            validated: t.validated,
        }
    }
}

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
