//! The write units of a paid invoice's commit, built by the adapter from a
//! realistic event (Stripe-length ids, a full buyer profile, the shipped
//! seller and rates), so a change that grows an item past 1 KB fails here.

use super::*;
use crate::dynamodb::DynamoStore;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
use billing_domain::event::{
    CheckoutDetails, EventKind, InvoiceDetails, ProviderEvent, SnapshotChange, SubscriptionSnapshot,
};
use billing_domain::ledger::{
    draft_invoice, validate_profile, ChargeLine, MethodKind, MethodSummary, PaymentFacts,
    PaymentRecord, PaymentStatus, ProfileInput, RatesInput, Seller, SellerInput, TaxRates,
};
use billing_domain::ports::{EventCommit, LedgerWrite, SubscriptionWrite};
use billing_domain::{
    apply_event, record_intent, ChangeIntent, ChangeTiming, Money, PlanCode, Provider,
    Subscription, SubscriptionStatus, TenantId, Transition, UnixTime,
};

const NOW: UnixTime = UnixTime(1_780_000_000);
const SUB: &str = "sub_1PqR8sLkdIwHu7ixVw3kQ9Zt";
const CUS: &str = "cus_QhX2mN8pL4kR7t";

fn store() -> DynamoStore {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("ap-south-1"))
        .build();
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), "billing-prod")
}

fn tenant() -> TenantId {
    TenantId::parse("org_2f9c1e7a-5b3d-4e8f-9a1c-6d2b8e4f0a7c").unwrap()
}

fn event(id: &str, at: i64, kind: EventKind) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Stripe,
        event_id: id.into(),
        event_type: "test".into(),
        occurred_at: UnixTime(at),
        tenant_hint: Some(tenant()),
        payment: None,
        kind,
    }
}

/// A record with every facet filled: checkout, snapshot, invoice, intent.
fn full_record() -> Subscription {
    let snapshot = SubscriptionSnapshot {
        subscription_id: SUB.into(),
        customer_id: CUS.into(),
        status: SubscriptionStatus::Active,
        provider_status: "active".into(),
        plan: Some(PlanCode::new("team")),
        price_id: Some("price_1PqR7aLkdIwHu7ixTeamMonthly".into()),
        current_period_start: Some(UnixTime(1_777_000_000)),
        current_period_end: Some(UnixTime(1_779_592_000)),
        cancel_at_period_end: false,
        cancel_at: None,
        canceled_at: None,
        trial_end: None,
        seats: 12,
    };
    let events = [
        event(
            "evt_1PqR8tLkdIwHu7ixa1B2c3D4",
            1_777_000_000,
            EventKind::CheckoutCompleted(CheckoutDetails {
                session_id: "cs_live_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6".into(),
                customer_id: Some(CUS.into()),
                subscription_id: Some(SUB.into()),
                plan: Some(PlanCode::new("team")),
            }),
        ),
        event(
            "evt_1PqR8uLkdIwHu7ixE5f6G7h8",
            1_777_000_001,
            EventKind::SubscriptionSnapshot {
                change: SnapshotChange::Updated,
                snapshot,
            },
        ),
        event(
            "evt_1PqR8vLkdIwHu7ixI9j0K1l2",
            1_777_000_002,
            EventKind::InvoicePaid(InvoiceDetails {
                invoice_id: "in_1PqR8vLkdIwHu7ixM3n4O5p6".into(),
                customer_id: Some(CUS.into()),
                subscription_id: Some(SUB.into()),
                created: UnixTime(1_777_000_000),
                amount_due: Money::new(1_416_000, "inr"),
                amount_paid: Money::new(1_416_000, "inr"),
                attempt_count: 1,
            }),
        ),
    ];
    let mut record = None;
    for e in &events {
        if let Transition::Applied(next) = apply_event(record.as_ref(), &tenant(), e, NOW) {
            record = Some(*next);
        }
    }
    let record = record.unwrap();
    let intent = ChangeIntent {
        subscription_id: SUB.into(),
        plan: PlanCode::new("pro"),
        seats: 10,
        timing: ChangeTiming::PeriodEnd,
        requested_at: UnixTime(1_778_000_000),
        effective_at: UnixTime(1_779_592_000),
    };
    match record_intent(&record, Some(intent), NOW) {
        Transition::Applied(next) => *next,
        Transition::Unchanged(_) => record,
    }
}

fn seller() -> Seller {
    let input: SellerInput =
        serde_json::from_str(include_str!("../../../../infra/seller.json")).unwrap();
    Seller::new(input).unwrap()
}

fn rates() -> TaxRates {
    let input: RatesInput =
        serde_json::from_str(include_str!("../../../../infra/tax-rates.json")).unwrap();
    TaxRates::new(input).unwrap()
}

fn paid_facts() -> PaymentFacts {
    PaymentFacts {
        payment_id: "in_1PqR9aLkdIwHu7ixQ7r8S9t0".into(),
        refund_of: None,
        status: PaymentStatus::Success,
        amount: Money::new(1_416_000, "inr"),
        tax_minor: Some(216_000),
        source_id: Some("in_1PqR9aLkdIwHu7ixQ7r8S9t0".into()),
        at: NOW,
        method: Some(MethodSummary {
            kind: MethodKind::Card,
            brand: Some("mastercard".into()),
            last4: Some("4444".into()),
        }),
        failure_code: None,
        period_start: Some(UnixTime(1_779_592_000)),
        period_end: Some(UnixTime(1_782_184_000)),
        plan: Some(PlanCode::new("team")),
        seats: Some(12),
        lines: vec![ChargeLine {
            description: "Team × 12 (1 Jun – 1 Jul 2026)".into(),
            quantity: 12,
            amount_minor: 1_200_000,
            proration: false,
            period_start: Some(UnixTime(1_779_592_000)),
            period_end: Some(UnixTime(1_782_184_000)),
        }],
    }
}

fn commit_for(facts: PaymentFacts, with_record: bool) -> EventCommit {
    let buyer = validate_profile(
        &serde_json::from_str::<ProfileInput>(
            r#"{"legalName": "Bharat Analytics Solutions Private Limited",
                "email": "accounts.payable@bharat-analytics.example.in",
                "address": {"line1": "Unit 1204, 12th Floor, Prestige Tech Park, Marathahalli",
                            "line2": "Outer Ring Road, Kadubeesanahalli",
                            "city": "Bengaluru", "region": "29", "postalCode": "560103",
                            "country": "IN"},
                "taxId": "29AABCB1234C1ZA"}"#,
        )
        .unwrap(),
        NOW,
    )
    .unwrap();
    let invoice = (facts.status == PaymentStatus::Success).then(|| {
        draft_invoice(
            &tenant(),
            Provider::Stripe,
            &facts,
            Some(&buyer),
            &seller(),
            &rates(),
            NOW,
        )
        .unwrap()
        .issue(123_456)
        .unwrap()
    });
    let payment = PaymentRecord::new(
        &tenant(),
        Provider::Stripe,
        "evt_1PqR9bLkdIwHu7ixU1v2W3x4",
        &facts,
        invoice.as_ref().map(|i| i.id.clone()),
    );
    EventCommit {
        provider: Provider::Stripe,
        event_id: "evt_1PqR9bLkdIwHu7ixU1v2W3x4".into(),
        tenant: tenant(),
        dedupe_expires_at: NOW.plus_seconds(35 * 86_400),
        write: with_record.then(|| SubscriptionWrite {
            expected_revision: Some(41),
            subscription: full_record(),
        }),
        // A renewal's ids are the record's own: proven, not written again.
        claims: Vec::new(),
        ledger: Some(LedgerWrite { payment, invoice }),
    }
}

#[test]
fn a_paid_invoice_costs_at_most_eight_write_units() {
    let (items, _) = store()
        .commit_items(&commit_for(paid_facts(), true))
        .unwrap();
    let cost = transaction_cost(&items);
    println!(
        "paid invoice commit: item bytes {:?} (payment, record, invoice, counter), {} write units",
        cost.item_bytes, cost.write_units
    );
    assert_eq!(cost.item_bytes.len(), 4);
    assert!(cost.item_bytes.iter().all(|b| *b <= 1024), "{cost:?}");
    assert_eq!(cost.write_units, 8);
    assert_eq!(cost.condition_checks, 0);
}

#[test]
fn a_failed_payment_costs_four_and_a_plain_event_two_plus_its_record() {
    let mut failed = paid_facts();
    failed.status = PaymentStatus::Failed;
    failed.failure_code = Some("card_declined".into());
    let (items, _) = store().commit_items(&commit_for(failed, true)).unwrap();
    let cost = transaction_cost(&items);
    println!(
        "failed payment commit: item bytes {:?}, {} write units",
        cost.item_bytes, cost.write_units
    );
    assert_eq!(cost.write_units, 4);

    let mut plain = commit_for(paid_facts(), true);
    plain.ledger = None;
    let (items, _) = store().commit_items(&plain).unwrap();
    let cost = transaction_cost(&items);
    println!(
        "subscription event commit: item bytes {:?}, {} write units",
        cost.item_bytes, cost.write_units
    );
    assert_eq!(cost.write_units, 4);
}

#[test]
fn sizes_follow_the_documented_rules() {
    let item = HashMap::from([
        ("pk".to_owned(), AttributeValue::S("TENANT#a".into())),
        ("n".to_owned(), AttributeValue::N("12345".into())),
        ("b".to_owned(), AttributeValue::Bool(true)),
    ]);
    // 2 + 8, 1 + (3 digit pairs + 1), 1 + 1
    assert_eq!(item_size(&item), 10 + 5 + 2);
    assert_eq!(value_size(&AttributeValue::N("1000".into())), 2);
    assert_eq!(value_size(&AttributeValue::N("-0.25".into())), 2);
}
#[test]
fn a_profile_at_every_field_limit_costs_ten() {
    // The largest buyer the profile validation accepts, with text that
    // deflates poorly: its invoice passes 1 KB, the one case above budget.
    let mut state = 0x2545_f491_u64;
    let mut long = |n: usize| {
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                char::from(b'a' + ((state >> 33) % 26) as u8)
            })
            .collect::<String>()
    };
    let mut commit = commit_for(paid_facts(), true);
    let ledger = commit.ledger.as_mut().unwrap();
    let invoice = ledger.invoice.as_mut().unwrap();
    let buyer = invoice.buyer.as_mut().unwrap();
    buyer.legal_name = long(200);
    buyer.address.line1 = long(200);
    buyer.address.line2 = Some(long(200));
    buyer.address.city = long(100);
    let cost = store().commit_cost(&commit).unwrap();
    println!(
        "paid invoice, buyer at every limit: item bytes {:?}, {} write units",
        cost.item_bytes, cost.write_units
    );
    assert_eq!(cost.write_units, 10);
}
