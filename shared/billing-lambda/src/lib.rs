//! Lambda glue shared by the four functions: configuration read once at init,
//! the tenant from API Gateway's JWT claims, JSON error responses, raw request
//! bodies and structured JSON logging. Domain rules stay in `billing-domain`.

pub mod bodies;
pub mod clock;
pub mod config;
pub mod idempotency;
pub mod logging;
pub mod request;
pub mod response;

pub use config::{ConfigError, Env, InitError};
pub use response::{json_response, ApiError};
