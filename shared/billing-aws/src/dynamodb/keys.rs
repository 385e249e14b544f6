//! The table's key layout (documented in the module above): which `pk`/`sk`
//! each item kind lives under.

use billing_domain::ledger::Series;
use billing_domain::ports::{payment_sort_key, ProviderRef};
use billing_domain::{Provider, TenantId, UnixTime};

/// The TTL attribute DynamoDB expires dedupe items and idempotency records
/// by. The SAM template enables TTL on the same name.
pub const TTL_ATTRIBUTE: &str = "expires_at";

pub(super) const SUBSCRIPTION_SK: &str = "SUBSCRIPTION";
pub(super) const REF_SK: &str = "REF";
pub(super) const EVENT_SK: &str = "EVENT";
pub(super) const PROFILE_SK: &str = "PROFILE";
pub(super) const SERIES_SK: &str = "SERIES";
pub(super) const INVOICE_PREFIX: &str = "INVOICE#";
pub(super) const CREDIT_PREFIX: &str = "CREDIT#";
pub(super) const PAYMENT_PREFIX: &str = "PAYMENT#";

pub(super) fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

pub(super) fn customer_sk(provider: Provider) -> String {
    format!("CUSTOMER#{provider}")
}

pub(super) fn ref_pk(reference: &ProviderRef) -> String {
    format!(
        "REF#{}#{}#{}",
        reference.provider,
        reference.kind.as_str(),
        reference.id
    )
}

pub(super) fn event_pk(provider: Provider, event_id: &str) -> String {
    format!("EVENT#{provider}#{event_id}")
}

/// A payment's log entry: in its tenant's partition, sorted by time.
pub(super) fn payment_sk(at: UnixTime, provider: Provider, payment_id: &str) -> String {
    format!(
        "{PAYMENT_PREFIX}{}",
        payment_sort_key(at, provider, payment_id)
    )
}

pub(super) fn invoice_sk(id: &str) -> String {
    format!("{INVOICE_PREFIX}{id}")
}

/// Credit notes sit apart from invoices, so a tenant's invoices page newest
/// first by number whatever the credit-note series' prefix.
pub(super) fn credit_note_sk(id: &str) -> String {
    format!("{CREDIT_PREFIX}{id}")
}

/// A series' counter: one item per series, shared by every tenant.
pub(super) fn series_pk(series: &Series) -> String {
    format!("SERIES#{}", series.as_str())
}

pub(super) fn idempotency_sk(key: &str) -> String {
    format!("IDEMPOTENCY#{key}")
}

pub(super) fn parked_pk(provider: Provider) -> String {
    format!("PARKED#{provider}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_domain::ports::RefKind;

    #[test]
    fn keys_follow_the_documented_layout() {
        let tenant = TenantId::parse("org_1").unwrap();
        let reference = ProviderRef {
            provider: Provider::Stripe,
            kind: RefKind::Subscription,
            id: "sub_9".into(),
        };
        assert_eq!(tenant_pk(&tenant), "TENANT#org_1");
        assert_eq!(customer_sk(Provider::Stripe), "CUSTOMER#stripe");
        assert_eq!(ref_pk(&reference), "REF#stripe#subscription#sub_9");
        assert_eq!(event_pk(Provider::Stripe, "evt_1"), "EVENT#stripe#evt_1");
        assert_eq!(parked_pk(Provider::Stripe), "PARKED#stripe");
    }
}
