//! The ledger behaviours of the store contract: a payment is logged once
//! and its invoice takes the next number of its series in the same commit,
//! a taken number is refused with nothing written, pages run newest first,
//! profiles are per tenant, a refund is credited in the credit-note series,
//! and 200 payments delivered three times each,
//! shuffled and concurrently, end with numbers 1 to 200 exactly.

use super::{envelope, Seed, Shuffler, NOW};
use billing_domain::event::{EventKind, InvoiceDetails, ProviderEvent};
use billing_domain::ledger::{
    draft_invoice, validate_profile, DocumentKind, Invoice, Invoicing, PaymentFacts, PaymentRecord,
    PaymentStatus, ProfileInput, RatesInput, Seller, SellerInput, TaxRates,
};
use billing_domain::ports::{
    CommitOutcome, EventCommit, EventLedger, LedgerReader, LedgerWrite, PageRequest,
};
use billing_domain::processing::{process_envelope, ProcessOutcome, ProcessingPolicy};
use billing_domain::{Money, Provider, TenantId, UnixTime};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shipped seller and rates (`infra/`), numbering its invoices in a
/// series of its own for this seed: stores that outlive a test (moto, a
/// file) share counters across tests, and a contract test needs its series
/// to start at 1.
pub fn invoicing(seed: &Seed) -> Invoicing {
    let mut seller: SellerInput =
        serde_json::from_str(include_str!("../../../../infra/seller.json")).expect("seller.json");
    let digits = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut n = seed.number();
    seller.invoice_series = (0..5)
        .map(|_| {
            let c = digits[(n % 36) as usize] as char;
            n /= 36;
            c
        })
        .collect();
    let first = if seller.invoice_series.starts_with('C') {
        'D'
    } else {
        'C'
    };
    seller.credit_note_series = format!("{first}{}", &seller.invoice_series[1..]);
    let rates: RatesInput = serde_json::from_str(include_str!("../../../../infra/tax-rates.json"))
        .expect("tax-rates.json");
    Invoicing {
        seller: Seller::new(seller).expect("the shipped seller is valid"),
        rates: TaxRates::new(rates).expect("the shipped rates are valid"),
    }
}

/// Facts of a successful Stripe payment of `amount` paise at `at`.
pub fn paid(payment_id: &str, amount: i64, at: i64) -> PaymentFacts {
    PaymentFacts {
        source_id: Some(payment_id.to_owned()),
        ..PaymentFacts::new(
            payment_id,
            PaymentStatus::Success,
            Money::new(amount, "inr"),
            UnixTime(at),
        )
    }
}

/// A commit of `facts` alone (no record change), its invoice numbered
/// `sequence` when it is a success.
fn ledger_commit(
    invoicing: &Invoicing,
    tenant: &TenantId,
    event_id: &str,
    facts: &PaymentFacts,
    sequence: u64,
) -> (EventCommit, Option<Invoice>) {
    let invoice = (facts.status == PaymentStatus::Success).then(|| {
        draft_invoice(
            tenant,
            Provider::Stripe,
            facts,
            None,
            &invoicing.seller,
            &invoicing.rates,
            NOW,
        )
        .expect("drafts")
        .issue(sequence)
        .expect("numbers")
    });
    let payment = PaymentRecord::new(
        tenant,
        Provider::Stripe,
        event_id,
        facts,
        invoice.as_ref().map(|i| i.id.clone()),
    );
    let commit = EventCommit {
        provider: Provider::Stripe,
        event_id: event_id.to_owned(),
        tenant: tenant.clone(),
        dedupe_expires_at: super::DEDUPE_EXPIRES_AT,
        write: None,
        claims: Vec::new(),
        ledger: Some(LedgerWrite {
            payment,
            invoice: invoice.clone(),
        }),
    };
    (commit, invoice)
}

fn page(cursor: Option<String>, limit: u32) -> PageRequest {
    PageRequest { cursor, limit }
}

fn paid_event(seed: &Seed, tenant: &TenantId, name: &str, facts: PaymentFacts) -> ProviderEvent {
    ProviderEvent {
        provider: Provider::Stripe,
        event_id: seed.id("evt", name),
        event_type: "invoice.paid".into(),
        occurred_at: facts.at,
        tenant_hint: Some(tenant.clone()),
        kind: EventKind::InvoicePaid(InvoiceDetails {
            invoice_id: facts.payment_id.clone(),
            customer_id: Some(seed.id("cus", tenant.as_str())),
            subscription_id: Some(seed.id("sub", tenant.as_str())),
            created: facts.at,
            amount_due: facts.amount.clone(),
            amount_paid: facts.amount.clone(),
            attempt_count: 1,
        }),
        payment: Some(facts),
    }
}

pub async fn a_payment_is_logged_once_and_invoiced_with_the_next_number<S>(store: &S, seed: &Seed)
where
    S: EventLedger + LedgerReader,
{
    let invoicing = invoicing(seed);
    let tenant = seed.tenant("ledger");
    let series = draft_invoice(
        &tenant,
        Provider::Stripe,
        &paid("x", 1, 1),
        None,
        &invoicing.seller,
        &invoicing.rates,
        NOW,
    )
    .unwrap()
    .series()
    .clone();
    assert_eq!(
        store.next_sequence(&series).await.unwrap(),
        1,
        "GIVEN a new series"
    );

    // WHEN a payment is committed with the series' first number.
    let first = paid(&seed.id("in", "1"), 118_000, 1_750_000_100);
    let (commit, invoice) = ledger_commit(&invoicing, &tenant, &seed.id("evt", "1"), &first, 1);
    assert_eq!(
        store.commit(&commit).await.unwrap(),
        CommitOutcome::Committed
    );
    assert_eq!(store.next_sequence(&series).await.unwrap(), 2);
    let invoice = invoice.unwrap();
    assert_eq!(
        store.get_invoice(&tenant, &invoice.id).await.unwrap(),
        Some(invoice.clone())
    );

    // THEN another event about the same payment is a duplicate, whatever number it carries.
    let (again, _) = ledger_commit(&invoicing, &tenant, &seed.id("evt", "1-sibling"), &first, 2);
    assert_eq!(
        store.commit(&again).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let event = paid_event(seed, &tenant, "1-sibling", first.clone());
    assert!(store.already_committed(&tenant, &event).await.unwrap());

    // AND a second payment carrying the taken number is refused, nothing written.
    let second = paid(&seed.id("in", "2"), 59_000, 1_750_000_200);
    let (taken, _) = ledger_commit(&invoicing, &tenant, &seed.id("evt", "2"), &second, 1);
    assert_eq!(
        store.commit(&taken).await.unwrap(),
        CommitOutcome::SequenceConflict
    );
    let payments = store.list_payments(&tenant, &page(None, 10)).await.unwrap();
    assert_eq!(
        payments.items.len(),
        1,
        "the refused payment was not logged"
    );
    assert!(!store
        .already_committed(&tenant, &paid_event(seed, &tenant, "2", second.clone()))
        .await
        .unwrap());

    // AND with the next number it is committed.
    let (next, _) = ledger_commit(&invoicing, &tenant, &seed.id("evt", "2"), &second, 2);
    assert_eq!(store.commit(&next).await.unwrap(), CommitOutcome::Committed);
    let invoices = store.list_invoices(&tenant, &page(None, 10)).await.unwrap();
    let sequences: Vec<u64> = invoices.items.iter().map(|i| i.sequence).collect();
    assert_eq!(sequences, [2, 1], "newest first");
    assert_eq!(invoices.next_cursor, None);

    // AND another tenant sees none of it.
    let other = seed.tenant("other");
    assert_eq!(store.get_invoice(&other, &invoice.id).await.unwrap(), None);
    assert!(store
        .list_invoices(&other, &page(None, 10))
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(store
        .list_payments(&other, &page(None, 10))
        .await
        .unwrap()
        .items
        .is_empty());
}

/// A refund is credited by a credit note in its own series, referencing the
/// invoice of the payment it refunds; one that arrives first is parked.
pub async fn a_refund_is_credited_in_its_own_series<S>(store: &S, seed: &Seed)
where
    S: EventLedger + LedgerReader,
{
    let invoicing = invoicing(seed);
    let tenant = seed.tenant("refund");
    let deliver = |event: ProviderEvent| {
        let envelope = envelope(event);
        let invoicing = &invoicing;
        async move {
            process_envelope(
                store,
                &envelope,
                NOW,
                &ProcessingPolicy::default(),
                invoicing,
            )
            .await
        }
    };
    let refund = |name: &str, of: &str, amount: i64| {
        let mut facts = paid(&seed.id("re", name), amount, 1_750_000_500);
        facts.status = PaymentStatus::Refunded;
        facts.refund_of = Some(of.to_owned());
        let mut event = paid_event(seed, &tenant, name, facts);
        event.kind = EventKind::PaymentReported {
            customer_id: None,
            subscription_id: None,
        };
        event
    };

    // GIVEN a refund of a payment not invoiced yet: parked for replay.
    let paid_id = seed.id("in", "refunded");
    let early = deliver(refund("early", &paid_id, 59_000)).await.unwrap();
    assert!(matches!(early, ProcessOutcome::Parked { .. }), "{early:?}");

    // WHEN the payment is invoiced, then refunded in part.
    deliver(paid_event(
        seed,
        &tenant,
        "refunded",
        paid(&paid_id, 118_000, 1_750_000_400),
    ))
    .await
    .unwrap();
    let outcome = deliver(refund("early", &paid_id, 59_000)).await.unwrap();
    let number = outcome
        .logged()
        .and_then(|l| l.invoice_number.clone())
        .expect("a credit note");

    // THEN the credit note is number 1 of the credit series, half the
    // invoice, negative; the invoice list shows invoices only, and the
    // refund in the payments log names the credit note.
    let invoices = store
        .list_invoices(&tenant, &page(None, 10))
        .await
        .unwrap()
        .items;
    assert_eq!(invoices.len(), 1);
    let invoice = &invoices[0];
    assert_eq!(invoice.kind, DocumentKind::Invoice);
    let payments = store
        .list_payments(&tenant, &page(None, 10))
        .await
        .unwrap()
        .items;
    let refunded = payments
        .iter()
        .find(|p| p.status == PaymentStatus::Refunded)
        .expect("the refund is logged");
    let note_id = refunded
        .invoice_id
        .clone()
        .expect("the refund names its credit note");
    let note = store
        .get_invoice(&tenant, &note_id)
        .await
        .unwrap()
        .expect("the credit note by id");
    assert_eq!(note.kind, DocumentKind::CreditNote);
    assert_eq!(note.number, number);
    assert!(
        note.number
            .starts_with(&invoicing.seller.credit_note_series),
        "{}",
        note.number
    );
    assert_eq!(note.sequence, 1);
    assert_eq!(note.credit_of.as_deref(), Some(invoice.number.as_str()));
    assert_eq!(note.total_minor, -59_000);
    assert_eq!(note.subtotal_minor + note.tax_minor, -59_000);
    // AND a redelivery credits nothing more.
    assert!(matches!(
        deliver(refund("early", &paid_id, 59_000)).await.unwrap(),
        ProcessOutcome::Duplicate { .. }
    ));
    let payments = store
        .list_payments(&tenant, &page(None, 10))
        .await
        .unwrap()
        .items;
    let refunds = payments
        .iter()
        .filter(|p| p.status == PaymentStatus::Refunded);
    assert_eq!(refunds.count(), 1);
}

pub async fn a_failed_payment_is_logged_without_an_invoice<S>(store: &S, seed: &Seed)
where
    S: EventLedger + LedgerReader,
{
    let invoicing = invoicing(seed);
    let tenant = seed.tenant("failed");
    let mut failed = paid(&seed.id("in", "f"), 118_000, 1_750_000_300);
    failed.status = PaymentStatus::Failed;
    failed.failure_code = Some("card_declined".into());
    let (commit, invoice) = ledger_commit(&invoicing, &tenant, &seed.id("evt", "f"), &failed, 1);
    assert!(invoice.is_none());
    assert_eq!(
        store.commit(&commit).await.unwrap(),
        CommitOutcome::Committed
    );
    let payments = store.list_payments(&tenant, &page(None, 10)).await.unwrap();
    assert_eq!(payments.items.len(), 1);
    let logged = &payments.items[0];
    assert_eq!(
        (
            logged.status,
            logged.failure_code.as_deref(),
            logged.invoice_id.as_deref()
        ),
        (PaymentStatus::Failed, Some("card_declined"), None)
    );
    assert!(store
        .list_invoices(&tenant, &page(None, 10))
        .await
        .unwrap()
        .items
        .is_empty());
}

pub async fn ledger_pages_run_newest_first<S>(store: &S, seed: &Seed)
where
    S: EventLedger + LedgerReader,
{
    let invoicing = invoicing(seed);
    let tenant = seed.tenant("pages");
    for k in 1..=5u64 {
        let facts = paid(
            &seed.id("in", &k.to_string()),
            1_000 * k as i64,
            1_750_000_000 + k as i64,
        );
        let (commit, _) = ledger_commit(
            &invoicing,
            &tenant,
            &seed.id("evt", &k.to_string()),
            &facts,
            k,
        );
        assert_eq!(
            store.commit(&commit).await.unwrap(),
            CommitOutcome::Committed
        );
    }
    let mut cursor = None;
    let (mut invoices, mut payments) = (Vec::new(), Vec::new());
    loop {
        let p = store
            .list_invoices(&tenant, &page(cursor, 2))
            .await
            .unwrap();
        assert!(p.items.len() <= 2);
        invoices.extend(p.items.iter().map(|i| i.sequence));
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    loop {
        let p = store
            .list_payments(&tenant, &page(cursor, 2))
            .await
            .unwrap();
        payments.extend(p.items.iter().map(|p| p.amount.amount_minor));
        cursor = p.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(invoices, [5, 4, 3, 2, 1]);
    assert_eq!(payments, [5_000, 4_000, 3_000, 2_000, 1_000]);
}

pub async fn profiles_are_kept_per_tenant<S>(store: &S, seed: &Seed)
where
    S: EventLedger,
{
    let tenant = seed.tenant("profile");
    assert_eq!(store.get_profile(&tenant).await.unwrap(), None);
    let input: ProfileInput = serde_json::from_str(
        r#"{"legalName": "Buyer Ltd", "email": "ap@buyer.example",
            "address": {"line1": "1 Main St", "city": "Bengaluru", "region": "29",
                        "postalCode": "560103", "country": "IN"},
            "taxId": "29AABCB1234C1ZA"}"#,
    )
    .unwrap();
    let profile = validate_profile(&input, NOW).unwrap();
    store.put_profile(&tenant, &profile).await.unwrap();
    assert_eq!(
        store.get_profile(&tenant).await.unwrap(),
        Some(profile.clone())
    );
    let mut edited = profile.clone();
    edited.legal_name = "Buyer Private Limited".into();
    store.put_profile(&tenant, &edited).await.unwrap();
    assert_eq!(store.get_profile(&tenant).await.unwrap(), Some(edited));
    assert_eq!(
        store.get_profile(&seed.tenant("nobody")).await.unwrap(),
        None
    );
}

/// 200 payments across 20 tenants, each delivered three times, shuffled,
/// 16 at a time, each delivery retried like SQS while it fails retryably:
/// the invoices are numbered exactly 1..=200, one per payment.
pub async fn concurrent_payments_take_gapless_numbers<S>(store: Arc<S>, seed: &Seed)
where
    S: EventLedger + LedgerReader + 'static,
{
    const PAYMENTS: usize = 200;
    const TENANTS: usize = 20;
    const IN_FLIGHT: usize = 16;
    let invoicing = Arc::new(invoicing(seed));
    let tenants: Vec<TenantId> = (0..TENANTS)
        .map(|t| seed.tenant(&format!("burst{t}")))
        .collect();
    let mut deliveries = Vec::new();
    for k in 0..PAYMENTS {
        let tenant = &tenants[k % TENANTS];
        let facts = paid(
            &seed.id("in", &format!("burst{k}")),
            50_000 + k as i64,
            1_750_000_000 + k as i64,
        );
        let event = paid_event(seed, tenant, &format!("burst{k}"), facts);
        deliveries.extend([event.clone(), event.clone(), event]);
    }
    Shuffler(seed.number()).shuffle(&mut deliveries);

    let started = Instant::now();
    let queue = Arc::new(std::sync::Mutex::new(deliveries));
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (store, queue, invoicing) = (
            Arc::clone(&store),
            Arc::clone(&queue),
            Arc::clone(&invoicing),
        );
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let Some(event) = queue.lock().unwrap().pop() else {
                    return outcomes;
                };
                let envelope = envelope(event);
                let policy = ProcessingPolicy::default();
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match process_envelope(&*store, &envelope, NOW, &policy, &invoicing).await {
                        Ok(outcome) => {
                            outcomes.push(outcome);
                            break;
                        }
                        Err(e) if e.is_retryable() && attempts < 50 => {
                            tokio::time::sleep(Duration::from_millis(2 * attempts)).await
                        }
                        Err(e) => panic!(
                            "{} failed after {attempts} attempts: {e}",
                            envelope.event_id
                        ),
                    }
                }
            }
        }));
    }
    let mut invoiced = 0;
    for worker in workers {
        for outcome in worker.await.expect("worker panicked") {
            assert!(
                !matches!(outcome, ProcessOutcome::Parked { .. }),
                "{outcome:?}"
            );
            if outcome.logged().is_some_and(|l| l.invoice_number.is_some()) {
                invoiced += 1;
            }
        }
    }
    let elapsed = started.elapsed();

    let mut by_payment: HashMap<String, Vec<u64>> = HashMap::new();
    let mut sequences = BTreeSet::new();
    let mut total = 0;
    for tenant in &tenants {
        let mut cursor = None;
        loop {
            let p = store
                .list_invoices(tenant, &page(cursor, 100))
                .await
                .unwrap();
            for invoice in p.items {
                assert_eq!(&invoice.tenant_id, tenant);
                total += 1;
                sequences.insert(invoice.sequence);
                by_payment
                    .entry(invoice.payment_id.clone())
                    .or_default()
                    .push(invoice.sequence);
            }
            cursor = p.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
    }
    let mut logged = 0;
    for tenant in &tenants {
        logged += store
            .list_payments(tenant, &page(None, 100))
            .await
            .unwrap()
            .items
            .len();
    }
    assert_eq!(
        (total, logged),
        (PAYMENTS, PAYMENTS),
        "one invoice and one log entry per payment ({} distinct numbers)",
        sequences.len()
    );
    assert_eq!(by_payment.len(), PAYMENTS);
    assert!(by_payment.values().all(|numbers| numbers.len() == 1));
    assert_eq!(
        sequences,
        (1..=PAYMENTS as u64).collect::<BTreeSet<_>>(),
        "numbers 1..=200, no gap, no repeat"
    );
    // A delivery whose commit landed but whose answer was lost (the SDK
    // retried it) reports a duplicate; no delivery reports more invoices
    // than there are.
    assert!(
        invoiced <= PAYMENTS && invoiced > 0,
        "{invoiced} deliveries reported an invoice"
    );
    println!(
        "{PAYMENTS} payments × 3 deliveries, shuffled, {IN_FLIGHT} in flight: numbered 1..={PAYMENTS} in {:.2} s ({invoiced} deliveries reported their invoice)",
        elapsed.as_secs_f64()
    );
}
