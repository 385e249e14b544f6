//! End-to-end tests of the billing backend live in `tests/`: the four
//! function handlers wired to the real AWS adapters on moto and to the real
//! Stripe client against a local Stripe API stub. The library holds what
//! several of those test files read: `template.yaml` as SAM reads it.

pub mod sam_template;
