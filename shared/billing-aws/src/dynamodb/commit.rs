//! The conditional writes: `commit` as ONE `TransactWriteItems` (dedupe key
//! or payment, record, invoice and its number, claims), the customer claim,
//! and what a cancelled transaction's reasons mean.

use super::item::{n, s, subscription_item, Item};
use super::keys::{customer_sk, event_pk, ref_pk, tenant_pk, EVENT_SK, REF_SK, TTL_ATTRIBUTE};
use super::{store_error, DynamoStore};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, TransactWriteItem,
};
use billing_domain::ports::{
    CommitOutcome, CustomerRegistry, EventCommit, ProviderRef, RefKind, Saved, StoreError,
    SubscriptionWrite,
};
use billing_domain::{Provider, TenantId};
use std::collections::{HashMap, HashSet};

/// The cancellation-reason code of a failed condition.
pub(super) const CONDITION_FAILED: &str = "ConditionalCheckFailed";

// Conditions go through placeholders so no attribute name can collide with
// DynamoDB's reserved words.
pub(super) const ITEM_IS_NEW: &str = "attribute_not_exists(#pk)";
pub(super) const REVISION_IS_EXPECTED: &str = "#revision = :expected";
pub(super) const UNCLAIMED_OR_OURS: &str = "attribute_not_exists(#pk) OR #tenant = :tenant";

/// The `#name` placeholders a condition uses, mapped to attribute names.
pub(super) fn names_in(condition: &str) -> HashMap<String, String> {
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

impl DynamoStore {
    pub(super) fn put(
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

    pub(super) async fn claim_customer_transaction(
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

    /// The record's write at the next revision, conditional on the one it
    /// was computed from (or on there being no record yet).
    fn record_put(&self, write: &SubscriptionWrite) -> Result<Put, StoreError> {
        let revision = write.expected_revision.map_or(1, |r| r + 1);
        let item = subscription_item(&write.subscription, revision)?;
        match write.expected_revision {
            None => self.put(item, ITEM_IS_NEW, &[]),
            Some(expected) => self.put(item, REVISION_IS_EXPECTED, &[(":expected", n(expected))]),
        }
    }

    /// Our API's write of a record (its intent): the record alone, one
    /// conditional `PutItem`.
    pub(super) async fn save_record(&self, write: &SubscriptionWrite) -> Result<Saved, StoreError> {
        let put = self.record_put(write)?;
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .condition_expression(put.condition_expression().unwrap_or_default())
            .set_expression_attribute_names(put.expression_attribute_names().cloned())
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Saved::Written),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(Saved::RevisionConflict)
            }
            Err(err) => Err(store_error("PutItem subscription record", &err)),
        }
    }

    /// The commit's items, and where each kind sits in the transaction.
    pub(super) fn commit_items(
        &self,
        commit: &EventCommit,
    ) -> Result<(Vec<TransactWriteItem>, Layout), StoreError> {
        let claims: Vec<ProviderRef> = unique_claims(&commit.claims).into_iter().cloned().collect();
        let ledger = commit
            .ledger
            .as_ref()
            .map(|l| self.ledger_items(&commit.tenant, l))
            .transpose()?;
        let mut items = Vec::with_capacity(4 + claims.len());

        // Index 0: the dedupe key. A payment event's log entry is its key
        // (`ledger.rs`); any other event writes an `EVENT#` item with a TTL.
        match &ledger {
            Some(ledger) => items.push(ledger.payment.clone()),
            None => {
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
            }
        }

        // Then the record, if the event changed it.
        let subscription_index = match &commit.write {
            None => None,
            Some(write) => {
                if write.subscription.tenant_id != commit.tenant {
                    return Err(StoreError::Permanent(format!(
                        "commit for tenant {} carries the record of tenant {}",
                        commit.tenant, write.subscription.tenant_id
                    )));
                }
                let put = self.record_put(write)?;
                items.push(TransactWriteItem::builder().put(put).build());
                Some(items.len() - 1)
            }
        };

        // Then the invoice and its counter.
        let numbering = match ledger.and_then(|l| l.invoice) {
            None => None,
            Some((invoice, counter)) => {
                items.push(invoice);
                items.push(counter);
                Some((items.len() - 2, items.len() - 1))
            }
        };

        // Then the claims, in the commit's order.
        let first_claim = items.len();
        for reference in &claims {
            items.push(self.claim_write(reference, &commit.tenant, commit.write.is_some())?);
        }
        Ok((
            items,
            Layout {
                subscription_index,
                numbering,
                first_claim,
                claims,
            },
        ))
    }

    /// What `commit`'s transaction costs, by DynamoDB's documented rules
    /// (`capacity.rs`): the figure behind the write-unit budget.
    pub fn commit_cost(
        &self,
        commit: &EventCommit,
    ) -> Result<super::capacity::TransactionCost, StoreError> {
        let (items, _) = self.commit_items(commit)?;
        Ok(super::capacity::transaction_cost(&items))
    }

    pub(super) async fn commit_transaction(
        &self,
        commit: &EventCommit,
    ) -> Result<CommitOutcome, StoreError> {
        let (items, layout) = self.commit_items(commit)?;
        let Some(reasons) = self.transact("TransactWriteItems commit", items).await? else {
            return Ok(CommitOutcome::Committed);
        };
        commit_cancellation(&reasons, &layout)
    }
}

/// Where a commit's items sit in its transaction: the dedupe key at 0, the
/// record at `subscription_index`, the invoice and its counter at
/// `numbering`, the claims from `first_claim`.
pub(super) struct Layout {
    subscription_index: Option<usize>,
    numbering: Option<(usize, usize)>,
    first_claim: usize,
    claims: Vec<ProviderRef>,
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

/// What a cancelled commit transaction means (see [`Layout`]). Nothing was
/// written.
fn commit_cancellation(
    reasons: &[CancellationReason],
    layout: &Layout,
) -> Result<CommitOutcome, StoreError> {
    // When several conditions failed, the event having been seen wins:
    // re-reading and retrying cannot change that. An SDK retry of a
    // transaction that did commit (its response lost) lands here too, as
    // Duplicate, which is what it is.
    if condition_failed_at(reasons, 0) {
        return Ok(CommitOutcome::Duplicate);
    }
    if layout
        .subscription_index
        .is_some_and(|i| condition_failed_at(reasons, i))
    {
        return Ok(CommitOutcome::RevisionConflict);
    }
    // The number was taken, or another commit is taking one right now:
    // read the next one and retry.
    if let Some((invoice, counter)) = layout.numbering {
        if condition_failed_at(reasons, invoice)
            || condition_failed_at(reasons, counter)
            || reasons.get(counter).and_then(|r| r.code()) == Some("TransactionConflict")
        {
            return Ok(CommitOutcome::SequenceConflict);
        }
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
    if let Some(k) =
        (0..layout.claims.len()).find(|k| condition_failed_at(reasons, layout.first_claim + k))
    {
        return Ok(CommitOutcome::ClaimedByOtherTenant {
            reference: layout.claims[k].clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
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
        let layout = Layout {
            subscription_index: Some(1),
            numbering: None,
            first_claim: 2,
            claims: vec![claim.clone()],
        };
        let outcome = |codes: &[&str]| {
            let reasons: Vec<_> = codes.iter().map(|c| reason(c)).collect();
            commit_cancellation(&reasons, &layout)
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
    fn a_taken_number_or_a_busy_counter_is_a_sequence_conflict() {
        let layout = Layout {
            subscription_index: Some(1),
            numbering: Some((2, 3)),
            first_claim: 4,
            claims: Vec::new(),
        };
        let outcome = |codes: &[&str]| {
            let reasons: Vec<_> = codes.iter().map(|c| reason(c)).collect();
            commit_cancellation(&reasons, &layout)
        };
        let failed = CONDITION_FAILED;
        assert_eq!(
            outcome(&["None", "None", "None", failed]),
            Ok(CommitOutcome::SequenceConflict)
        );
        assert_eq!(
            outcome(&["None", "None", failed, "None"]),
            Ok(CommitOutcome::SequenceConflict)
        );
        assert_eq!(
            outcome(&["None", "None", "None", "TransactionConflict"]),
            Ok(CommitOutcome::SequenceConflict)
        );
        assert_eq!(
            outcome(&[failed, "None", "None", failed]),
            Ok(CommitOutcome::Duplicate)
        );
        assert_eq!(
            outcome(&["None", failed, "None", failed]),
            Ok(CommitOutcome::RevisionConflict)
        );
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
