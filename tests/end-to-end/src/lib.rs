//! End-to-end tests of the billing backend live in `tests/`: the four
//! function handlers wired to the real AWS adapters on moto and to the real
//! Stripe client against a local Stripe API stub.
