//! The DynamoDB store: subscription records, event dedupe keys, provider-id
//! claims, tenants' provider customers and parked events, all in ONE table.
//! It implements the storage ports with the semantics of
//! `billing_testkit::memory::MemoryStore`, and passes the same contract suite
//! (`billing_testkit::store_contract`).
//!
//! # Item layout
//!
//! Key: `pk` (S, partition) + `sk` (S, sort). TTL attribute: `expires_at`
//! (N, epoch seconds), set on dedupe items only.
//!
//! | item                        | `pk`                                   | `sk`                  | other attributes |
//! |-----------------------------|----------------------------------------|-----------------------|------------------|
//! | subscription record         | `TENANT#{tenant}`                      | `SUBSCRIPTION`        | `revision` (N), `record` (S, JSON), projections (below) |
//! | tenant's provider customer  | `TENANT#{tenant}`                      | `CUSTOMER#{provider}` | `customer_id`, `provider`, `tenant_id` |
//! | provider id → tenant        | `REF#{provider}#{customer\|subscription}#{id}` | `REF`         | `tenant_id` |
//! | dedupe key (seen event)     | `EVENT#{provider}#{event_id}`          | `EVENT`               | `tenant_id`, `expires_at` (N, TTL) |
//! | parked event                | `PARKED#{provider}`                    | `{event_id}`          | `envelope` (S, JSON), `reason`, `parked_at` (N), `event_type` |
//!
//! The subscription item's projections are top-level copies of the record's
//! readable fields, for the console, ad-hoc queries and exports: `tenant_id`,
//! `provider`, `status`, `plan`, `provider_customer_id`,
//! `provider_subscription_id`, `current_period_end`, `cancel_at_period_end`,
//! `seats`, `updated_at` (absent when the field is `None`). They are written,
//! never read back.
//!
//! **Why the record is one JSON attribute and not mapped attribute by
//! attribute (serde_dynamo):** the record is read and written whole, never
//! partially updated or filtered on its nested facets, so a JSON string
//! round-trips it exactly (`None` vs absent, nested facets, integers) with
//! the domain's own serde derives, adds no dependency pinned to the SDK's
//! version, and evolves with the domain type. The `revision` attribute,
//! outside the JSON, carries the optimistic-concurrency condition.
//!
//! # Every write is conditional
//!
//! `commit` is ONE `TransactWriteItems`, so the dedupe key, the record and
//! the claims land together or not at all: dedupe `attribute_not_exists`,
//! record `attribute_not_exists` (first write) or `revision = :expected`,
//! claims `attribute_not_exists OR tenant_id = :tenant`. The cancellation
//! reasons say which condition failed.

use crate::aws_error::{classify, describe, Retry};
use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, ConditionCheck,
    KeySchemaElement, KeyType, Put, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use billing_domain::ports::{
    CommitOutcome, CustomerRegistry, EventCommit, EventLedger, ParkedEvent, ProviderRef, RefKind,
    StoreError, StoredSubscription, SubscriptionReader, TenantDirectory,
};
use billing_domain::{Provider, Subscription, TenantId};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The TTL attribute DynamoDB expires dedupe items by. The SAM template
/// enables TTL on the same name.
pub const TTL_ATTRIBUTE: &str = "expires_at";

const SUBSCRIPTION_SK: &str = "SUBSCRIPTION";
const REF_SK: &str = "REF";
const EVENT_SK: &str = "EVENT";

/// The cancellation-reason code of a failed condition.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

// Conditions go through placeholders so no attribute name can collide with
// DynamoDB's reserved words.
const ITEM_IS_NEW: &str = "attribute_not_exists(#pk)";
const REVISION_IS_EXPECTED: &str = "#revision = :expected";
const UNCLAIMED_OR_OURS: &str = "attribute_not_exists(#pk) OR #tenant = :tenant";

type Item = HashMap<String, AttributeValue>;

/// The storage ports over one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// `client` is built once per cold start and shared; `table` is the
    /// table's name (from the function's environment).
    /// A store with its own client, built from the shared SDK configuration.
    pub fn from_config(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get_item(
        &self,
        operation: &str,
        pk: String,
        sk: String,
    ) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            // Reads follow writes made a moment ago by another invocation
            // (the revision check, a claim just committed): never stale.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(operation, &e))?;
        Ok(output.item)
    }

    fn put(
        &self,
        item: Item,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Put, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names_in(condition)));
        for (name, value) in values {
            put = put.expression_attribute_values(*name, value.clone());
        }
        put.build()
            .map_err(|e| StoreError::Permanent(format!("building a Put: {e}")))
    }

    fn claim_write(
        &self,
        reference: &ProviderRef,
        tenant: &TenantId,
        write: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let tenant_value = s(tenant.as_str());
        if write {
            let item = Item::from([
                ("pk".into(), s(ref_pk(reference))),
                ("sk".into(), s(REF_SK)),
                ("tenant_id".into(), tenant_value.clone()),
            ]);
            let put = self.put(item, UNCLAIMED_OR_OURS, &[(":tenant", tenant_value)])?;
            Ok(TransactWriteItem::builder().put(put).build())
        } else {
            // An event that changed nothing writes no claim, but a claim owned
            // by another tenant is still refused, as in the memory store.
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .key("pk", s(ref_pk(reference)))
                .key("sk", s(REF_SK))
                .condition_expression(UNCLAIMED_OR_OURS)
                .set_expression_attribute_names(Some(names_in(UNCLAIMED_OR_OURS)))
                .expression_attribute_values(":tenant", tenant_value)
                .build()
                .map_err(|e| StoreError::Permanent(format!("building a ConditionCheck: {e}")))?;
            Ok(TransactWriteItem::builder().condition_check(check).build())
        }
    }
}

// ---------- Keys and attributes ----------

fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

fn customer_sk(provider: Provider) -> String {
    format!("CUSTOMER#{provider}")
}

fn ref_pk(reference: &ProviderRef) -> String {
    format!(
        "REF#{}#{}#{}",
        reference.provider,
        reference.kind.as_str(),
        reference.id
    )
}

fn event_pk(provider: Provider, event_id: &str) -> String {
    format!("EVENT#{provider}#{event_id}")
}

fn parked_pk(provider: Provider) -> String {
    format!("PARKED#{provider}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The `#name` placeholders a condition uses, mapped to attribute names.
fn names_in(condition: &str) -> HashMap<String, String> {
    [
        ("#pk", "pk"),
        ("#revision", "revision"),
        ("#tenant", "tenant_id"),
    ]
    .into_iter()
    .filter(|(placeholder, _)| condition.contains(placeholder))
    .map(|(placeholder, name)| (placeholder.to_owned(), name.to_owned()))
    .collect()
}

fn subscription_item(subscription: &Subscription, revision: u64) -> Result<Item, StoreError> {
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

fn read_subscription(tenant: &TenantId, item: &Item) -> Result<StoredSubscription, StoreError> {
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

fn string_attribute<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

// ---------- Errors ----------

fn store_error<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = describe(operation, err);
    match classify(err) {
        Retry::Transient => StoreError::Transient(message),
        Retry::Permanent => StoreError::Permanent(message),
    }
}

/// Cancellation reasons that say "the same request may succeed later".
fn is_transient_reason(code: &str) -> bool {
    matches!(
        code,
        "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
    )
}

/// The error for a canceled transaction whose reasons name no failed
/// condition: a conflict with a concurrent transaction or throttling is
/// transient, anything else (validation, item too large) is permanent.
impl DynamoStore {
    /// Sends one transaction. `Ok(None)` when it committed; `Ok(Some(reasons))`
    /// when it was cancelled (nothing written), for the caller to map each
    /// item's reason to its meaning; `Err` for any other failure.
    async fn transact(
        &self,
        operation: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<CancellationReason>>, StoreError> {
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => return Ok(None),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => {
                Ok(Some(canceled.cancellation_reasons().to_vec()))
            }
            _ => Err(store_error(operation, &err)),
        }
    }
}

fn cancellation_error(operation: &str, reasons: &[CancellationReason]) -> StoreError {
    let codes: Vec<&str> = reasons
        .iter()
        .filter_map(|r| r.code())
        .filter(|c| *c != "None")
        .collect();
    let message = format!("{operation} canceled: [{}]", codes.join(", "));
    // No reason at all says nothing about the cause: retry, and let the
    // queue's redrive limit end it if it persists.
    if codes.is_empty() || codes.iter().any(|c| is_transient_reason(c)) {
        StoreError::Transient(message)
    } else {
        StoreError::Permanent(message)
    }
}

/// What a cancelled commit transaction means. Items are: the dedupe key at
/// 0, the record at `subscription_index` (if written), then the claims from
/// `first_claim`. Nothing was written.
fn commit_cancellation(
    reasons: &[CancellationReason],
    subscription_index: Option<usize>,
    first_claim: usize,
    claims: &[&ProviderRef],
) -> Result<CommitOutcome, StoreError> {
    // When several conditions failed, the event having been seen wins:
    // re-reading and retrying cannot change that. An SDK retry of a
    // transaction that did commit (its response lost) lands here too, as
    // Duplicate, which is what it is.
    if condition_failed_at(reasons, 0) {
        return Ok(CommitOutcome::Duplicate);
    }
    if subscription_index.is_some_and(|i| condition_failed_at(reasons, i)) {
        return Ok(CommitOutcome::RevisionConflict);
    }
    // Another transaction was writing the same items: like a revision
    // conflict, re-reading and re-applying now beats a trip through the
    // queue's visibility timeout.
    if reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
    {
        return Ok(CommitOutcome::RevisionConflict);
    }
    if let Some(k) = (0..claims.len()).find(|k| condition_failed_at(reasons, first_claim + k)) {
        return Ok(CommitOutcome::ClaimedByOtherTenant {
            reference: claims[k].clone(),
        });
    }
    Err(cancellation_error("TransactWriteItems commit", reasons))
}

fn condition_failed_at(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.code()) == Some(CONDITION_FAILED)
}

/// The claims of a commit without repeats: one transaction may not touch the
/// same item twice.
fn unique_claims(claims: &[ProviderRef]) -> Vec<&ProviderRef> {
    let mut seen = HashSet::new();
    claims.iter().filter(|r| seen.insert(*r)).collect()
}

// ---------- Ports ----------

#[async_trait]
impl SubscriptionReader for DynamoStore {
    async fn get_subscription(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<StoredSubscription>, StoreError> {
        let item = self
            .get_item(
                "GetItem subscription",
                tenant_pk(tenant),
                SUBSCRIPTION_SK.into(),
            )
            .await?;
        item.map(|item| read_subscription(tenant, &item))
            .transpose()
    }
}

#[async_trait]
impl TenantDirectory for DynamoStore {
    async fn tenant_for(&self, reference: &ProviderRef) -> Result<Option<TenantId>, StoreError> {
        let Some(item) = self
            .get_item(
                "GetItem provider reference",
                ref_pk(reference),
                REF_SK.into(),
            )
            .await?
        else {
            return Ok(None);
        };
        let tenant = string_attribute(&item, "tenant_id")
            .and_then(|t| TenantId::parse(t).ok())
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "mapping of {reference}: tenant_id is missing or invalid"
                ))
            })?;
        Ok(Some(tenant))
    }
}

#[async_trait]
impl CustomerRegistry for DynamoStore {
    async fn customer_id(
        &self,
        tenant: &TenantId,
        provider: Provider,
    ) -> Result<Option<String>, StoreError> {
        let Some(item) = self
            .get_item("GetItem customer", tenant_pk(tenant), customer_sk(provider))
            .await?
        else {
            return Ok(None);
        };
        let id = string_attribute(&item, "customer_id").ok_or_else(|| {
            StoreError::Corrupt(format!(
                "{provider} customer of tenant {tenant}: customer_id is missing"
            ))
        })?;
        Ok(Some(id.to_owned()))
    }

    async fn claim_customer(
        &self,
        tenant: &TenantId,
        provider: Provider,
        customer_id: &str,
    ) -> Result<String, StoreError> {
        let reference = ProviderRef {
            provider,
            kind: RefKind::Customer,
            id: customer_id.to_owned(),
        };
        let customer = Item::from([
            ("pk".into(), s(tenant_pk(tenant))),
            ("sk".into(), s(customer_sk(provider))),
            ("customer_id".into(), s(customer_id)),
            ("provider".into(), s(provider.as_str())),
            ("tenant_id".into(), s(tenant.as_str())),
        ]);
        let items = vec![
            TransactWriteItem::builder()
                .put(self.put(customer, ITEM_IS_NEW, &[])?)
                .build(),
            self.claim_write(&reference, tenant, true)?,
        ];
        let Some(reasons) = self
            .transact("TransactWriteItems claim customer", items)
            .await?
        else {
            return Ok(customer_id.to_owned());
        };
        let reasons = reasons.as_slice();
        if condition_failed_at(reasons, 0) {
            // First writer won: answer with its id. Customer items are never
            // deleted, so it is there to read.
            return self.customer_id(tenant, provider).await?.ok_or_else(|| {
                StoreError::Transient(format!(
                    "{provider} customer of tenant {tenant} was claimed but is not readable yet"
                ))
            });
        }
        if condition_failed_at(reasons, 1) {
            return Err(StoreError::Permanent(format!(
                "{reference} already belongs to another tenant"
            )));
        }
        Err(cancellation_error(
            "TransactWriteItems claim customer",
            reasons,
        ))
    }
}

#[async_trait]
impl EventLedger for DynamoStore {
    async fn commit(&self, commit: &EventCommit) -> Result<CommitOutcome, StoreError> {
        let claims = unique_claims(&commit.claims);
        let mut items = Vec::with_capacity(2 + claims.len());

        // Index 0: the dedupe key.
        let dedupe = Item::from([
            ("pk".into(), s(event_pk(commit.provider, &commit.event_id))),
            ("sk".into(), s(EVENT_SK)),
            ("tenant_id".into(), s(commit.tenant.as_str())),
            (TTL_ATTRIBUTE.into(), n(commit.dedupe_expires_at.seconds())),
        ]);
        items.push(
            TransactWriteItem::builder()
                .put(self.put(dedupe, ITEM_IS_NEW, &[])?)
                .build(),
        );

        // Index 1, if the event changed the record: the record.
        let subscription_index = match &commit.write {
            None => None,
            Some(write) => {
                if write.subscription.tenant_id != commit.tenant {
                    return Err(StoreError::Permanent(format!(
                        "commit for tenant {} carries the record of tenant {}",
                        commit.tenant, write.subscription.tenant_id
                    )));
                }
                let revision = write.expected_revision.map_or(1, |r| r + 1);
                let item = subscription_item(&write.subscription, revision)?;
                let put = match write.expected_revision {
                    None => self.put(item, ITEM_IS_NEW, &[])?,
                    Some(expected) => {
                        self.put(item, REVISION_IS_EXPECTED, &[(":expected", n(expected))])?
                    }
                };
                items.push(TransactWriteItem::builder().put(put).build());
                Some(items.len() - 1)
            }
        };

        // Then the claims, in the commit's order.
        let first_claim = items.len();
        for reference in &claims {
            items.push(self.claim_write(reference, &commit.tenant, commit.write.is_some())?);
        }

        let Some(reasons) = self.transact("TransactWriteItems commit", items).await? else {
            return Ok(CommitOutcome::Committed);
        };
        commit_cancellation(&reasons, subscription_index, first_claim, &claims)
    }

    async fn park(&self, parked: &ParkedEvent) -> Result<(), StoreError> {
        let envelope = &parked.envelope;
        let json = serde_json::to_string(envelope)
            .map_err(|e| StoreError::Permanent(format!("envelope does not serialize: {e}")))?;
        let item = Item::from([
            ("pk".into(), s(parked_pk(envelope.provider))),
            ("sk".into(), s(envelope.event_id.as_str())),
            ("envelope".into(), s(json)),
            ("reason".into(), s(parked.reason.as_str())),
            ("parked_at".into(), n(parked.parked_at.seconds())),
            ("event_type".into(), s(envelope.event.event_type.as_str())),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(ITEM_IS_NEW)
            .set_expression_attribute_names(Some(names_in(ITEM_IS_NEW)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Parked by an earlier delivery: the first reason is kept.
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(store_error("PutItem parked event", &err)),
        }
    }
}

// ---------- Table ----------

/// Creates the table with the store's key schema (`pk`/`sk`, strings),
/// on-demand billing and TTL on [`TTL_ATTRIBUTE`], and waits until it is
/// active. For tests and local runs; deployed stages get the same schema
/// from the SAM template.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let key = |attribute: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(key_type)
            .build()
            .map_err(|e| StoreError::Permanent(format!("building the key schema: {e}")))
    };
    let string_attribute = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| StoreError::Permanent(format!("building the attribute definitions: {e}")))
    };
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(string_attribute("pk")?)
        .attribute_definitions(string_attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| store_error("CreateTable", &e))?;

    // TTL can only be enabled once the table is active.
    let mut active = false;
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| store_error("DescribeTable", &e))?;
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !active {
        return Err(StoreError::Transient(format!(
            "table {name} did not become active within a minute"
        )));
    }

    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .map_err(|e| StoreError::Permanent(format!("building the TTL specification: {e}")))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| store_error("UpdateTimeToLive", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_domain::UnixTime;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

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

    #[test]
    fn transaction_conflicts_and_throttling_are_transient_validation_is_permanent() {
        let conflict = [reason("None"), reason("TransactionConflict")];
        assert!(cancellation_error("op", &conflict).is_retryable());
        assert!(cancellation_error("op", &[reason("ThrottlingError")]).is_retryable());
        assert!(cancellation_error("op", &[]).is_retryable());
        let invalid = [reason("ValidationError"), reason("None")];
        assert!(matches!(
            cancellation_error("op", &invalid),
            StoreError::Permanent(_)
        ));
    }

    #[test]
    fn cancelled_commits_map_to_duplicate_conflict_or_claim_in_that_order() {
        let claim = ProviderRef {
            provider: Provider::Stripe,
            kind: RefKind::Customer,
            id: "cus_1".into(),
        };
        let claims = [&claim];
        let outcome = |codes: &[&str]| {
            let reasons: Vec<_> = codes.iter().map(|c| reason(c)).collect();
            commit_cancellation(&reasons, Some(1), 2, &claims)
        };
        let failed = CONDITION_FAILED;
        assert_eq!(
            outcome(&[failed, failed, failed]),
            Ok(CommitOutcome::Duplicate)
        );
        assert_eq!(
            outcome(&["None", failed, failed]),
            Ok(CommitOutcome::RevisionConflict)
        );
        assert_eq!(
            outcome(&["None", "TransactionConflict", "None"]),
            Ok(CommitOutcome::RevisionConflict)
        );
        assert_eq!(
            outcome(&["None", "None", failed]),
            Ok(CommitOutcome::ClaimedByOtherTenant {
                reference: claim.clone()
            })
        );
        assert!(outcome(&["None", "ThrottlingError", "None"])
            .unwrap_err()
            .is_retryable());
    }

    #[test]
    fn repeated_claims_are_written_once() {
        let r = ProviderRef {
            provider: Provider::Stripe,
            kind: RefKind::Customer,
            id: "cus_1".into(),
        };
        let claims = [r.clone(), r.clone()];
        assert_eq!(unique_claims(&claims), vec![&r]);
    }

    #[test]
    fn condition_placeholders_name_only_what_the_condition_uses() {
        assert_eq!(names_in(ITEM_IS_NEW).len(), 1);
        assert_eq!(names_in(UNCLAIMED_OR_OURS).len(), 2);
        assert_eq!(
            names_in(REVISION_IS_EXPECTED)
                .get("#revision")
                .map(String::as_str),
            Some("revision")
        );
    }
}
