//! The whole billing system on localhost, for development and end-to-end
//! tests: the Lambda handlers from `functions/` behind the HTTP API's routes
//! (read from `infra/openapi.json`, which a test keeps equal to
//! `template.yaml`), a local JWT authorizer, the store and queue of the
//! chosen backend (embedded redb, or the AWS adapters against moto or AWS),
//! a poller feeding webhook-process as Lambda's SQS trigger would, the
//! sandbox payment provider, and the billing page.

pub mod apigw;
pub mod auth;
pub mod config;
pub mod poller;
pub mod routes;
pub mod secrets_file;
mod stack;
mod web;

pub use auth::DevAuth;
pub use config::{Backend, LocalConfig};
pub use stack::{start, BillingStore, RunningStack, StartError};
