//! The routes this function serves, by API Gateway route key, and what each
//! needs of the caller: the role, and whether it mutates (and so runs once
//! per `Idempotency-Key`).

use billing_domain::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Checkout,
    Portal,
    Preview,
    Change,
    Cancel,
    Resume,
    ListPaymentMethods,
    SetupPaymentMethod,
    DefaultPaymentMethod,
    RemovePaymentMethod,
    GetProfile,
    PutProfile,
}

impl Route {
    pub const ALL: [Route; 12] = [
        Route::Checkout,
        Route::Portal,
        Route::Preview,
        Route::Change,
        Route::Cancel,
        Route::Resume,
        Route::ListPaymentMethods,
        Route::SetupPaymentMethod,
        Route::DefaultPaymentMethod,
        Route::RemovePaymentMethod,
        Route::GetProfile,
        Route::PutProfile,
    ];

    /// API Gateway's route key, exactly as `template.yaml` declares it.
    pub fn key(self) -> &'static str {
        match self {
            Route::Checkout => "POST /billing/session",
            Route::Portal => "POST /billing/portal",
            Route::Preview => "POST /billing/subscription/preview",
            Route::Change => "POST /billing/subscription/change",
            Route::Cancel => "POST /billing/subscription/cancel",
            Route::Resume => "POST /billing/subscription/resume",
            Route::ListPaymentMethods => "GET /billing/payment-methods",
            Route::SetupPaymentMethod => "POST /billing/payment-methods/setup",
            Route::DefaultPaymentMethod => "POST /billing/payment-methods/{id}/default",
            Route::RemovePaymentMethod => "DELETE /billing/payment-methods/{id}",
            Route::GetProfile => "GET /billing/profile",
            Route::PutProfile => "PUT /billing/profile",
        }
    }

    pub fn from_key(key: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|route| route.key() == key)
    }

    /// What the caller's role must permit; cancelling at once needs more,
    /// which the cancel handler checks once it has read the body.
    pub fn action(self) -> Action {
        match self {
            Route::Preview | Route::ListPaymentMethods | Route::GetProfile => Action::Read,
            _ => Action::Manage,
        }
    }

    /// Mutating routes run once per `Idempotency-Key`; reads just run.
    pub fn is_mutating(self) -> bool {
        self.action() != Action::Read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_key_resolves_to_its_route_and_reads_are_not_mutating() {
        for route in Route::ALL {
            assert_eq!(Route::from_key(route.key()), Some(route));
        }
        assert_eq!(Route::from_key("GET /billing/status"), None);
        let reads: Vec<_> = Route::ALL
            .into_iter()
            .filter(|r| !r.is_mutating())
            .collect();
        assert_eq!(
            reads,
            [Route::Preview, Route::ListPaymentMethods, Route::GetProfile]
        );
    }
}
