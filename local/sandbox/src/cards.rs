//! Saved cards at the sandbox: the test cards a customer can save (the
//! checkout saves the first as the default), making one the default, and
//! removing one. A card is only ever brand, last four digits and expiry.

use crate::new_id;
use crate::simulation::{stamp, ActionError, Event, EventData};
use crate::state::{CardRecord, CustomerRecord, SandboxState};
use billing_providers::sandbox::wire::{
    InvoiceCard, PaymentMethodListObject, PaymentMethodObject, SandboxEvent, SandboxEventType,
};

/// The cards the hosted pages offer: form value, brand, last four digits.
pub(crate) const TEST_CARDS: [(&str, &str, &str); 3] = [
    ("visa", "visa", "4242"),
    ("mastercard", "mastercard", "4444"),
    ("amex", "amex", "8431"),
];

/// Test cards never expire within a test run.
const EXPIRY: (u8, u16) = (12, 2034);

fn new_card(kind: &str) -> Option<CardRecord> {
    let (_, brand, last4) = TEST_CARDS.iter().find(|(value, _, _)| *value == kind)?;
    Some(CardRecord {
        id: new_id("pm"),
        brand: (*brand).to_owned(),
        last4: (*last4).to_owned(),
        exp_month: EXPIRY.0,
        exp_year: EXPIRY.1,
    })
}

/// The customer's default card as an invoice names it.
pub(crate) fn default_card(
    customers: &std::collections::BTreeMap<String, CustomerRecord>,
    customer_id: &str,
) -> Option<InvoiceCard> {
    let customer = customers.get(customer_id)?;
    let id = customer.default_payment_method.as_deref()?;
    let card = customer.payment_methods.iter().find(|c| c.id == id)?;
    Some(InvoiceCard {
        brand: card.brand.clone(),
        last4: card.last4.clone(),
    })
}

/// The card a paid checkout leaves behind: a Visa, the default if the
/// customer had none.
pub(crate) fn save_checkout_card(customer: &mut CustomerRecord) {
    if let Some(card) = new_card("visa") {
        if customer.default_payment_method.is_none() {
            customer.default_payment_method = Some(card.id.clone());
        }
        customer.payment_methods.push(card);
    }
}

/// Saves a test card of `kind` for the customer at `at`; the first card
/// becomes the default. Sends `payment_method.attached`.
pub(crate) fn save_card(
    state: &mut SandboxState,
    customer_id: &str,
    kind: &str,
    at: i64,
) -> Result<(String, Vec<Event>), ActionError> {
    let customer = state
        .customers
        .get_mut(customer_id)
        .ok_or(ActionError::UnknownCustomer)?;
    let card = new_card(kind).ok_or(ActionError::InvalidChange("no such test card"))?;
    if customer.default_payment_method.is_none() {
        customer.default_payment_method = Some(card.id.clone());
    }
    let event = SandboxEvent::new(
        new_id("evt"),
        SandboxEventType::PaymentMethodAttached,
        at,
        EventData::PaymentMethod(card_object(customer, &card)),
    );
    let id = card.id.clone();
    customer.payment_methods.push(card);
    stamp(Some(customer), at);
    Ok((id, vec![event]))
}

pub(crate) fn set_default(
    state: &mut SandboxState,
    customer_id: &str,
    payment_method_id: &str,
) -> Result<PaymentMethodListObject, ActionError> {
    let customer = state
        .customers
        .get_mut(customer_id)
        .ok_or(ActionError::UnknownCustomer)?;
    if !customer
        .payment_methods
        .iter()
        .any(|card| card.id == payment_method_id)
    {
        return Err(ActionError::UnknownPaymentMethod);
    }
    customer.default_payment_method = Some(payment_method_id.to_owned());
    Ok(list(customer))
}

/// Removes a card wherever it is saved; a removed default leaves the
/// customer without one, as at Stripe.
pub(crate) fn detach(
    state: &mut SandboxState,
    payment_method_id: &str,
) -> Result<PaymentMethodObject, ActionError> {
    for customer in state.customers.values_mut() {
        if let Some(at) = customer
            .payment_methods
            .iter()
            .position(|card| card.id == payment_method_id)
        {
            let card = customer.payment_methods.remove(at);
            if customer.default_payment_method.as_deref() == Some(payment_method_id) {
                customer.default_payment_method = None;
            }
            return Ok(card_object(customer, &card));
        }
    }
    Err(ActionError::UnknownPaymentMethod)
}

pub(crate) fn list(customer: &CustomerRecord) -> PaymentMethodListObject {
    PaymentMethodListObject {
        data: customer
            .payment_methods
            .iter()
            .map(|card| card_object(customer, card))
            .collect(),
        default_payment_method: customer.default_payment_method.clone(),
    }
}

fn card_object(customer: &CustomerRecord, card: &CardRecord) -> PaymentMethodObject {
    PaymentMethodObject {
        id: card.id.clone(),
        customer_id: customer.id.clone(),
        tenant_id: customer.tenant_id.clone(),
        kind: "card".into(),
        brand: card.brand.clone(),
        last4: card.last4.clone(),
        exp_month: card.exp_month,
        exp_year: card.exp_year,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SandboxState {
        let mut state = SandboxState::default();
        state.customers.insert(
            "cus_1".into(),
            CustomerRecord {
                id: "cus_1".into(),
                tenant_id: "org_1".into(),
                created: 1,
                last_event_at: None,
                payment_methods: Vec::new(),
                default_payment_method: None,
            },
        );
        state
    }

    #[test]
    fn the_first_card_is_the_default_and_another_can_take_its_place() {
        let mut state = state();
        let (visa, events) = save_card(&mut state, "cus_1", "visa", 10).unwrap();
        assert_eq!(events[0].event_type, "payment_method.attached");
        let (amex, _) = save_card(&mut state, "cus_1", "amex", 11).unwrap();
        let listed = list(&state.customers["cus_1"]);
        assert_eq!(
            listed.default_payment_method.as_deref(),
            Some(visa.as_str())
        );
        assert_eq!(
            listed
                .data
                .iter()
                .map(|c| c.last4.as_str())
                .collect::<Vec<_>>(),
            ["4242", "8431"]
        );
        set_default(&mut state, "cus_1", &amex).unwrap();
        assert_eq!(
            state.customers["cus_1"].default_payment_method.as_deref(),
            Some(amex.as_str())
        );
        assert_eq!(
            set_default(&mut state, "cus_1", "pm_nope"),
            Err(ActionError::UnknownPaymentMethod)
        );
    }

    #[test]
    fn detaching_the_default_leaves_none_and_unknown_cards_are_refused() {
        let mut state = state();
        let (visa, _) = save_card(&mut state, "cus_1", "visa", 10).unwrap();
        assert_eq!(detach(&mut state, &visa).unwrap().id, visa);
        assert_eq!(state.customers["cus_1"].default_payment_method, None);
        assert_eq!(
            detach(&mut state, &visa),
            Err(ActionError::UnknownPaymentMethod)
        );
        assert!(matches!(
            save_card(&mut state, "cus_1", "diners", 12),
            Err(ActionError::InvalidChange(_))
        ));
        assert_eq!(
            save_card(&mut state, "cus_x", "visa", 12).map(|_| ()),
            Err(ActionError::UnknownCustomer)
        );
    }
}
