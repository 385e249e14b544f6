//! Write units a transaction consumes, counted by DynamoDB's documented
//! rules, so the cost of each event's commit is a figure a test pins
//! rather than a guess:
//!
//! - an item's size is the sum over its attributes of the name's UTF-8
//!   length plus the value's size: a string its UTF-8 length, a binary its
//!   byte length, a number 1 byte per two significant digits plus 1, a
//!   boolean or null 1 byte;
//! - a write of an item up to 1 KB is one write unit, each further KB
//!   (or part) one more, on the larger of the item before and after;
//! - in `TransactWriteItems` every write counts twice (prepare and commit).
//!
//! A `ConditionCheck` writes nothing; it is reported apart.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use std::collections::HashMap;

/// What one transaction costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionCost {
    /// Each written item's size in bytes, in transaction order.
    pub item_bytes: Vec<usize>,
    pub write_units: u32,
    pub condition_checks: usize,
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::N(n) => {
            let digits = n.trim_start_matches('-').replace('.', "");
            let significant = digits
                .trim_start_matches('0')
                .trim_end_matches('0')
                .len()
                .max(1);
            significant.div_ceil(2) + 1
        }
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set
            .iter()
            .map(|n| value_size(&AttributeValue::N(n.clone())))
            .sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of an `Update`'s item afterwards, for items whose every
/// attribute the update sets (the series counter): the key plus each
/// `SET #name = :value`.
fn updated_size(update: &aws_sdk_dynamodb::types::Update) -> usize {
    let names = update
        .expression_attribute_names()
        .cloned()
        .unwrap_or_default();
    let values = update
        .expression_attribute_values()
        .cloned()
        .unwrap_or_default();
    let set = update
        .update_expression()
        .trim_start_matches("SET ")
        .split(',')
        .filter_map(|assignment| {
            let (name, value) = assignment.split_once('=')?;
            let name = names.get(name.trim())?;
            Some(name.len() + value_size(values.get(value.trim())?))
        })
        .sum::<usize>();
    item_size(update.key()) + set
}

pub fn transaction_cost(items: &[TransactWriteItem]) -> TransactionCost {
    let mut cost = TransactionCost {
        item_bytes: Vec::new(),
        write_units: 0,
        condition_checks: 0,
    };
    for item in items {
        let bytes = if let Some(put) = item.put() {
            item_size(put.item())
        } else if let Some(update) = item.update() {
            updated_size(update)
        } else if let Some(delete) = item.delete() {
            item_size(delete.key())
        } else {
            cost.condition_checks += 1;
            continue;
        };
        cost.item_bytes.push(bytes);
        cost.write_units += 2 * (bytes.div_ceil(1024).max(1) as u32);
    }
    cost
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
