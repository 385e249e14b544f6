//! In-memory adapters of the domain's ports, and the store contract suite.
//! The memory adapters define the semantics the real adapters must match;
//! `store_contract` checks any store against them.

pub mod memory;
pub mod store_contract;
