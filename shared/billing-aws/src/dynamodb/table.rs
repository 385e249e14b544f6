//! Table set-up for tests and local runs: the store's key schema, on-demand
//! billing and TTL. Deployed stages get the same schema from the SAM template.

use super::keys::TTL_ATTRIBUTE;
use super::store_error;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use billing_domain::ports::StoreError;
use std::time::Duration;

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
