//! The store contract run against the in-memory store, the reference the
//! DynamoDB store (and any later store) is held to.

use billing_testkit::memory::MemoryStore;

billing_testkit::store_contract_tests!(|| async { MemoryStore::new() });
