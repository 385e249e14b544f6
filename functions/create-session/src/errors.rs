//! How a refused or failed command answers: each `CommandError` and
//! `ProviderError` as its status and stable code (`{"error": {"code",
//! "message"}}`), logged once with the request id.

use billing_domain::commands::CommandError;
use billing_domain::ports::ProviderError;
use billing_domain::TenantId;
use billing_lambda::ApiError;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

/// A refusal, logged and answered.
pub(crate) fn refused(request_id: &str, route: &str, e: ApiError) -> Response<Body> {
    tracing::info!(
        request_id,
        route,
        status = e.status.as_u16(),
        code = e.code,
        "request refused"
    );
    e.into_response()
}

fn conflict(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

/// A refused or failed command as the API's answer.
pub(crate) fn command_error(e: CommandError, tenant: &TenantId) -> ApiError {
    let message = e.to_string();
    match e {
        CommandError::ProviderMismatch { .. } => conflict("provider_mismatch", message),
        CommandError::TenantProviderDisabled(provider) => {
            tracing::error!(tenant = %tenant, provider = %provider, "the tenant's provider is not enabled in this deployment");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "provider_misconfigured",
                "billing is misconfigured",
            )
        }
        CommandError::UnknownProvider(_) | CommandError::ProviderNotEnabled(_) => {
            ApiError::bad_request("unknown_provider", message)
        }
        CommandError::UnknownPlan(_) => ApiError::bad_request("unknown_plan", message),
        CommandError::InactivePlan(_) => ApiError::bad_request("inactive_plan", message),
        CommandError::FreePlan => ApiError::bad_request("free_plan", message),
        CommandError::PlanNotOffered { .. } => ApiError::bad_request("plan_not_offered", message),
        CommandError::SubscriptionExists { .. } => conflict(
            "subscription_exists",
            format!("{message}; change plans with POST /billing/subscription/change"),
        ),
        CommandError::NoBillingAccount => ApiError::new(
            StatusCode::NOT_FOUND,
            "no_billing_account",
            format!("{message}; start a checkout first"),
        ),
        CommandError::NoSubscription => {
            ApiError::new(StatusCode::NOT_FOUND, "no_subscription", message)
        }
        CommandError::SubscriptionNotActive { .. } => conflict("subscription_not_active", message),
        CommandError::SamePlan => conflict("same_plan", message),
        CommandError::ChangePending => conflict("change_pending", message),
        CommandError::NotSupported { .. } => conflict("not_supported_by_provider", message),
        CommandError::SeatsOutOfRange { .. } => conflict("seats_out_of_range", message),
        CommandError::IntervalChangeNotSupported { .. } => {
            ApiError::bad_request("interval_change_not_supported", message)
        }
        CommandError::NoPendingCancellation => conflict("no_pending_cancellation", message),
        CommandError::UnknownPaymentMethod => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_payment_method", message)
        }
        CommandError::LastPaymentMethod => conflict("last_payment_method", message),
        CommandError::InvalidRequest(_) => ApiError::bad_request("invalid_request", message),
        CommandError::Contended(_) => {
            tracing::warn!(tenant = %tenant, error = %message, "record kept changing while recording an intent");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "billing is busy; retry",
            )
        }
        CommandError::Store(e) => ApiError::from_store(e),
        CommandError::Provider(e) => provider_error(e),
    }
}

fn provider_error(e: ProviderError) -> ApiError {
    tracing::error!(error = %e, retryable = e.is_retryable(), "provider call failed");
    match e {
        ProviderError::Transient { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            "the payment provider is unavailable; retry",
        ),
        ProviderError::Rejected { .. } | ProviderError::UnexpectedResponse { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_error",
            "the payment provider refused the request",
        ),
        ProviderError::Configuration { .. } => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "provider_misconfigured",
            "billing is misconfigured",
        ),
        ProviderError::Unsupported {
            provider,
            operation,
        } => conflict(
            "not_supported_by_provider",
            format!("{provider} does not support {operation}"),
        ),
    }
}
