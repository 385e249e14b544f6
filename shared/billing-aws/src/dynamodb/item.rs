//! Item encoding: the subscription record as one packed JSON attribute plus
//! its readable projections, and reading it back (a corrupt item is an error
//! that is not retried). Packed means deflated JSON in a binary attribute:
//! a record's JSON repeats its field names in every facet and deflates to
//! about a third, which keeps the record, and so each event's commit, under
//! the 1 KB that one write unit covers.

use super::keys::{tenant_pk, SUBSCRIPTION_SK};
use aws_sdk_dynamodb::types::AttributeValue;
use billing_domain::ports::{StoreError, StoredSubscription};
use billing_domain::{Subscription, TenantId};
use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::decompress_to_vec_with_limit;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

/// The attribute holding a packed record (earlier versions wrote `record`, plain JSON).
const PACKED_RECORD: &str = "record_z";
/// DynamoDB's item limit bounds any packed document; inflating more is corruption.
const MAX_UNPACKED_BYTES: usize = 4 * 400 * 1024;
/// miniz's best compression: items are small, and every byte saved is write capacity.
const DEFLATE_LEVEL: u8 = 10;

/// `value` as deflated JSON in a binary attribute.
pub(super) fn packed<T: Serialize>(what: &str, value: &T) -> Result<AttributeValue, StoreError> {
    let json = serde_json::to_vec(value)
        .map_err(|e| StoreError::Permanent(format!("{what} does not serialize: {e}")))?;
    Ok(AttributeValue::B(
        compress_to_vec(&json, DEFLATE_LEVEL).into(),
    ))
}

/// Reads a packed attribute back; `Err` holds what is wrong, for the caller's message.
pub(super) fn unpacked<T: DeserializeOwned>(item: &Item, name: &str) -> Result<Option<T>, String> {
    let Some(value) = item.get(name) else {
        return Ok(None);
    };
    let AttributeValue::B(bytes) = value else {
        return Err(format!("{name} is not binary"));
    };
    let json = decompress_to_vec_with_limit(bytes.as_ref(), MAX_UNPACKED_BYTES)
        .map_err(|_| format!("{name} does not inflate"))?;
    // serde's message names the field or position, never the stored values.
    serde_json::from_slice(&json)
        .map(Some)
        .map_err(|e| format!("{name} is not the expected document: {e}"))
}

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
    let mut item = Item::from([
        ("pk".into(), s(tenant_pk(&subscription.tenant_id))),
        ("sk".into(), s(SUBSCRIPTION_SK)),
        ("revision".into(), n(revision)),
        (
            PACKED_RECORD.into(),
            packed("subscription record", subscription)?,
        ),
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
    let subscription: Subscription = match unpacked(item, PACKED_RECORD).map_err(|e| corrupt(&e))? {
        Some(subscription) => subscription,
        None => {
            let record = string_attribute(item, "record")
                .ok_or_else(|| corrupt("record is missing or not a string"))?;
            // serde's message names the field or position, never the stored values.
            serde_json::from_str(record)
                .map_err(|e| corrupt(&format!("record is not a subscription: {e}")))?
        }
    };
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
    fn records_written_as_plain_json_by_earlier_versions_still_read() {
        let tenant = TenantId::parse("org_1").unwrap();
        let subscription = Subscription::new(tenant.clone(), Provider::Stripe, UnixTime(7));
        let mut item = subscription_item(&subscription, 2).unwrap();
        item.remove(PACKED_RECORD);
        item.insert(
            "record".into(),
            s(serde_json::to_string(&subscription).unwrap()),
        );
        assert_eq!(
            read_subscription(&tenant, &item).unwrap().subscription,
            subscription
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
        item.insert(
            PACKED_RECORD.into(),
            AttributeValue::B(b"not deflate".to_vec().into()),
        );
        assert!(matches!(
            read_subscription(&tenant, &item),
            Err(StoreError::Corrupt(_))
        ));
        item.remove(PACKED_RECORD);
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
