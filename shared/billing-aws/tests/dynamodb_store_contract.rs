//! The store contract (billing_testkit::store_contract), the same list the
//! memory store passes, run against DynamoStore over moto: real SDK calls
//! over HTTP, one fresh table per test.

mod common;

billing_testkit::store_contract_tests!(common::fresh_store);
