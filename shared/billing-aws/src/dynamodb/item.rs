//! Item encoding: the subscription record as one JSON attribute plus its
//! readable projections, and reading it back (a corrupt item is an error that
//! is not retried).

use super::keys::{tenant_pk, SUBSCRIPTION_SK};
use aws_sdk_dynamodb::types::AttributeValue;
use billing_domain::ports::{StoreError, StoredSubscription};
use billing_domain::{Subscription, TenantId};
use std::collections::HashMap;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn subscription_item(
    subscription: &Subscription,
    revision: u64,
) -> Result<Item, StoreError> {
    let record = serde_json::to_string(subscription).map_err(|e| {
        StoreError::Permanent(format!("subscription record does not serialize: {e}"))
    })?;
    let mut item = Item::from([
        ("pk".into(), s(tenant_pk(&subscription.tenant_id))),
        ("sk".into(), s(SUBSCRIPTION_SK)),
        ("revision".into(), n(revision)),
        ("record".into(), s(record)),
        ("tenant_id".into(), s(subscription.tenant_id.as_str())),
        ("provider".into(), s(subscription.provider.as_str())),
        ("status".into(), s(subscription.status.as_str())),
        (
            "cancel_at_period_end".into(),
            AttributeValue::Bool(subscription.cancel_at_period_end),
        ),
        ("seats".into(), n(subscription.seats)),
        ("updated_at".into(), n(subscription.updated_at.seconds())),
    ]);
    let optional = [
        ("plan", subscription.plan.as_ref().map(|p| s(p.as_str()))),
        (
            "provider_customer_id",
            subscription.provider_customer_id.clone().map(s),
        ),
        (
            "provider_subscription_id",
            subscription.provider_subscription_id.clone().map(s),
        ),
        (
            "current_period_end",
            subscription.current_period_end.map(|t| n(t.seconds())),
        ),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            item.insert(name.into(), value);
        }
    }
    Ok(item)
}

pub(super) fn read_subscription(
    tenant: &TenantId,
    item: &Item,
) -> Result<StoredSubscription, StoreError> {
    let corrupt =
        |what: &str| StoreError::Corrupt(format!("subscription item of tenant {tenant}: {what}"));
    let revision = match item.get("revision") {
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map_err(|_| corrupt("revision is not an unsigned integer"))?,
        _ => return Err(corrupt("revision is missing or not a number")),
    };
    let record = string_attribute(item, "record")
        .ok_or_else(|| corrupt("record is missing or not a string"))?;
    // serde's message names the field or position, never the stored values.
    let subscription: Subscription = serde_json::from_str(record)
        .map_err(|e| corrupt(&format!("record is not a subscription: {e}")))?;
    if &subscription.tenant_id != tenant {
        return Err(corrupt("record belongs to another tenant"));
    }
    Ok(StoredSubscription {
        subscription,
        revision,
    })
}

pub(super) fn string_attribute<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_domain::{Provider, UnixTime};

    #[test]
    fn record_round_trips_through_its_item_and_projections_are_written() {
        let tenant = TenantId::parse("org_1").unwrap();
        let subscription = Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(7));
        let item = subscription_item(&subscription, 3).unwrap();
        assert_eq!(item.get("status"), Some(&s("none")));
        assert!(!item.contains_key("plan"), "None fields are left out");
        let stored = read_subscription(&tenant, &item).unwrap();
        assert_eq!(
            stored,
            StoredSubscription {
                subscription,
                revision: 3
            }
        );
    }

    #[test]
    fn unreadable_items_are_corrupt_not_retryable() {
        let tenant = TenantId::parse("org_1").unwrap();
        let mut item = subscription_item(
            &Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(7)),
            1,
        )
        .unwrap();
        item.insert("record".into(), s("{not json"));
        assert!(matches!(
            read_subscription(&tenant, &item),
            Err(StoreError::Corrupt(_))
        ));
        item.remove("revision");
        assert!(matches!(
            read_subscription(&tenant, &item),
            Err(StoreError::Corrupt(_))
        ));
        let other = TenantId::parse("org_2").unwrap();
        let item = subscription_item(&Subscription::new(tenant, Provider::Stripe, UnixTime(7)), 1)
            .unwrap();
        assert!(matches!(
            read_subscription(&other, &item),
            Err(StoreError::Corrupt(_))
        ));
    }
}
