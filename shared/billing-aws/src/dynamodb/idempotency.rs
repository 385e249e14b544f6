//! Idempotency records of our own API: item `TENANT#{tenant}` /
//! `IDEMPOTENCY#{key}` with `fingerprint`, `locked_until` (N, while in
//! progress) or `status` (N) and `body` (S) once completed, and
//! `expires_at` (N), the table's TTL attribute, so DynamoDB deletes records
//! a day after they begin. Beginning is one conditional `PutItem`: of two
//! concurrent requests with one key exactly one starts, and the other reads
//! the record that held it from the failed condition. Completing and
//! releasing are conditional on the record still being the one the request
//! began, so a request that outlived its lock cannot clobber its successor.

use super::item::{n, s, string_attribute, Item};
use super::keys::{idempotency_sk, tenant_pk, TTL_ATTRIBUTE};
use super::{store_error, DynamoStore};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use billing_domain::idempotency::{IdempotencyKey, IdempotencyRecord, RecordState};
use billing_domain::ports::{Begun, Settled, StoreError};
use billing_domain::{TenantId, UnixTime};
use std::collections::HashMap;

/// Free when no record holds the key, or the one there is no longer live
/// (`IdempotencyRecord::is_live`): expired (the TTL sweep lags), or in
/// progress with its lock ended. A completed record has no `locked_until`.
const KEY_IS_FREE: &str = "attribute_not_exists(#pk) OR #expires <= :now OR #locked <= :now";

fn record_item(tenant: &TenantId, key: &IdempotencyKey, record: &IdempotencyRecord) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(tenant_pk(tenant))),
        ("sk".into(), s(idempotency_sk(key.as_str()))),
        ("fingerprint".into(), s(record.fingerprint.as_str())),
        (TTL_ATTRIBUTE.into(), n(record.expires_at.seconds())),
    ]);
    match &record.state {
        RecordState::InProgress { locked_until } => {
            item.insert("locked_until".into(), n(locked_until.seconds()));
        }
        RecordState::Completed { status, body } => {
            item.insert("status".into(), n(status));
            item.insert("body".into(), s(body.as_str()));
        }
    }
    item
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

fn read_record(item: &Item) -> Result<IdempotencyRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("idempotency record: {what}"));
    let fingerprint =
        string_attribute(item, "fingerprint").ok_or_else(|| corrupt("no fingerprint"))?;
    let expires_at = number(item, TTL_ATTRIBUTE).ok_or_else(|| corrupt("no expires_at"))?;
    let state = match (
        number(item, "locked_until"),
        number(item, "status"),
        string_attribute(item, "body"),
    ) {
        (Some(locked_until), None, None) => RecordState::InProgress {
            locked_until: UnixTime(locked_until),
        },
        (None, Some(status), Some(body)) => RecordState::Completed {
            status: u16::try_from(status).map_err(|_| corrupt("status out of range"))?,
            body: body.to_owned(),
        },
        _ => return Err(corrupt("neither in progress nor completed")),
    };
    Ok(IdempotencyRecord {
        fingerprint: fingerprint.to_owned(),
        state,
        expires_at: UnixTime(expires_at),
    })
}

impl DynamoStore {
    pub(super) async fn begin_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        record: &IdempotencyRecord,
        now: UnixTime,
    ) -> Result<Begun, StoreError> {
        let names = HashMap::from([
            ("#pk".to_owned(), "pk".to_owned()),
            ("#expires".to_owned(), TTL_ATTRIBUTE.to_owned()),
            ("#locked".to_owned(), "locked_until".to_owned()),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(tenant, key, record)))
            .condition_expression(KEY_IS_FREE)
            .set_expression_attribute_names(Some(names))
            .expression_attribute_values(":now", n(now.seconds()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Begun::Started),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let item = failed.item().ok_or_else(|| {
                        StoreError::Transient(
                            "idempotency record held the key but was not returned".into(),
                        )
                    })?;
                    Ok(Begun::Existing(read_record(item)?))
                }
                _ => Err(store_error("PutItem idempotency record", &err)),
            },
        }
    }

    pub(super) async fn complete_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
        completed: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        let (names, values) = still_held(begun);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(tenant, key, completed)))
            .condition_expression(STILL_HELD)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        settled(result, "PutItem completed idempotency record", |e| {
            matches!(e, PutItemError::ConditionalCheckFailedException(_))
        })
    }

    pub(super) async fn release_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        begun: &IdempotencyRecord,
    ) -> Result<Settled, StoreError> {
        let (names, values) = still_held(begun);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(tenant_pk(tenant)))
            .key("sk", s(idempotency_sk(key.as_str())))
            .condition_expression(STILL_HELD)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        settled(result, "DeleteItem idempotency record", |e| {
            matches!(e, DeleteItemError::ConditionalCheckFailedException(_))
        })
    }
}

/// A write conditioned on [`STILL_HELD`]: done, or refused because another
/// request holds the key now (`condition_failed` recognises the refusal).
fn settled<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    operation: &str,
    condition_failed: impl Fn(&E) -> bool,
) -> Result<Settled, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(Settled::Held),
        Err(err) if err.as_service_error().is_some_and(&condition_failed) => Ok(Settled::Lost),
        Err(err) => Err(store_error(operation, &err)),
    }
}

/// The record a request began still holds the key: the same fingerprint and
/// the same lock. A later request can only take a key once the earlier
/// lock has ended, so its `locked_until` is later: the lock is the owner's
/// mark.
const STILL_HELD: &str = "#fingerprint = :fingerprint AND #locked = :locked";

fn still_held(
    begun: &IdempotencyRecord,
) -> (HashMap<String, String>, HashMap<String, AttributeValue>) {
    let locked_until = match begun.state {
        RecordState::InProgress { locked_until } => locked_until.seconds(),
        // Never begun in this state; a condition no item meets.
        RecordState::Completed { .. } => i64::MIN,
    };
    (
        HashMap::from([
            ("#fingerprint".to_owned(), "fingerprint".to_owned()),
            ("#locked".to_owned(), "locked_until".to_owned()),
        ]),
        HashMap::from([
            (":fingerprint".to_owned(), s(begun.fingerprint.as_str())),
            (":locked".to_owned(), n(locked_until)),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_their_item_in_both_states() {
        let tenant = TenantId::parse("org_1").unwrap();
        let key = IdempotencyKey::parse("k-1").unwrap();
        let begun = IdempotencyRecord::begin("fp".into(), UnixTime(100), 30);
        let item = record_item(&tenant, &key, &begun);
        assert_eq!(item.get("sk"), Some(&s("IDEMPOTENCY#k-1")));
        assert_eq!(read_record(&item).unwrap(), begun);
        let done = begun.completed(202, r#"{"a":1}"#.into());
        let item = record_item(&tenant, &key, &done);
        assert!(!item.contains_key("locked_until"));
        assert_eq!(read_record(&item).unwrap(), done);
    }

    #[test]
    fn a_record_in_neither_state_is_corrupt() {
        let tenant = TenantId::parse("org_1").unwrap();
        let key = IdempotencyKey::parse("k-1").unwrap();
        let mut item = record_item(
            &tenant,
            &key,
            &IdempotencyRecord::begin("fp".into(), UnixTime(1), 30),
        );
        item.insert("status".into(), n(200));
        assert!(matches!(read_record(&item), Err(StoreError::Corrupt(_))));
        item.remove("fingerprint");
        assert!(matches!(read_record(&item), Err(StoreError::Corrupt(_))));
    }
}
