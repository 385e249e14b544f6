//! Which adapters a deployment runs, decided by its secret: a checkout
//! gateway for every provider that has credentials in it, and the webhook
//! verifier of every provider. Adding a provider means adding its arm here;
//! the template and the functions stay as they are.

use crate::http::ApiClient;
use crate::{
    CashfreeGateway, CashfreeWebhooks, PaddleGateway, PaddleWebhooks, PaypalGateway,
    PaypalWebhooks, RazorpayGateway, RazorpayWebhooks, SandboxGateway, SandboxWebhooks,
    StripeGateway, StripeWebhooks,
};
use billing_domain::ports::{BillingGateway, SecretError, WebhookVerifier};
use billing_domain::secrets::{ProviderCredentials, ProviderSecrets};
use billing_domain::{Catalog, Provider};

/// Where gateways send their calls, beyond each provider's default.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Stripe's API base (tests point it at a local stub).
    pub stripe_api_base: Option<String>,
    /// The sandbox provider's base URL; the sandbox is enabled only when set.
    pub sandbox_api_base: Option<String>,
}

/// The gateway of `provider`, built from its credentials (each adapter
/// reads its own fields, an optional `apiBase` included); `Ok(None)` when the
/// provider is not enabled (the sandbox without a base URL).
pub fn gateway(
    provider: Provider,
    credentials: &ProviderCredentials,
    http: ApiClient,
    endpoints: &Endpoints,
    catalog: &Catalog,
) -> Result<Option<Box<dyn BillingGateway>>, SecretError> {
    Ok(match provider {
        Provider::Stripe => {
            let mut gateway = StripeGateway::from_credentials(credentials, http)?;
            if let Some(base) = &endpoints.stripe_api_base {
                gateway = gateway.with_base_url(base);
            }
            Some(Box::new(gateway))
        }
        Provider::Sandbox => match &endpoints.sandbox_api_base {
            Some(base) => Some(Box::new(SandboxGateway::from_credentials(
                credentials,
                http,
                base,
            )?)),
            None => None,
        },
        // Razorpay needs each plan's interval to size the billing cycles.
        Provider::Razorpay => Some(Box::new(
            RazorpayGateway::from_credentials(credentials, http)?.with_catalog(catalog),
        )),
        Provider::Paypal => Some(Box::new(PaypalGateway::from_credentials(
            credentials,
            http,
        )?)),
        Provider::Cashfree => Some(Box::new(CashfreeGateway::from_credentials(
            credentials,
            http,
        )?)),
        Provider::Paddle => Some(Box::new(PaddleGateway::from_credentials(
            credentials,
            http,
        )?)),
    })
}

/// A gateway for every enabled provider with credentials in `secrets`,
/// `default` first (the provider of a checkout that names none).
pub fn gateways(
    secrets: &ProviderSecrets,
    default: Provider,
    http: &ApiClient,
    endpoints: &Endpoints,
    catalog: &Catalog,
) -> Result<Vec<Box<dyn BillingGateway>>, SecretError> {
    let mut order: Vec<Provider> = vec![default];
    order.extend(Provider::ALL.iter().copied().filter(|p| *p != default));
    let mut built = Vec::new();
    for provider in order {
        let Some(credentials) = secrets.provider(provider) else {
            continue;
        };
        if let Some(gateway) = gateway(provider, credentials, http.clone(), endpoints, catalog)? {
            built.push(gateway);
        }
    }
    if built.first().map(|g| g.provider()) != Some(default) {
        return Err(SecretError::Malformed(format!(
            "the default provider {default} has no usable entry in the secret"
        )));
    }
    Ok(built)
}

/// The verifier of every provider (the sandbox's only when enabled).
/// `tolerance_seconds` is the window of the schemes that sign their
/// delivery time (Stripe, PayPal, Standard Webhooks); Paddle (60 s, it signs
/// each retry afresh) and Cashfree (3 days, it may not) keep their own.
/// `http` carries PayPal's verification calls.
pub fn verifiers(
    tolerance_seconds: i64,
    sandbox_enabled: bool,
    http: &ApiClient,
) -> Vec<Box<dyn WebhookVerifier>> {
    let mut verifiers: Vec<Box<dyn WebhookVerifier>> = vec![
        Box::new(StripeWebhooks::with_tolerance_seconds(tolerance_seconds)),
        Box::new(RazorpayWebhooks::new()),
        Box::new(PaypalWebhooks::new(http.clone()).with_tolerance_seconds(tolerance_seconds)),
        Box::new(CashfreeWebhooks::new()),
        Box::new(PaddleWebhooks::new()),
    ];
    if sandbox_enabled {
        verifiers.push(Box::new(SandboxWebhooks::with_tolerance_seconds(
            tolerance_seconds,
        )));
    }
    verifiers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HttpConfig;

    fn catalog() -> Catalog {
        Catalog::from_json(include_str!("../../../infra/plans.json")).unwrap()
    }

    fn secrets(json: &str) -> ProviderSecrets {
        crate::credentials::parse(json).unwrap()
    }

    fn http() -> ApiClient {
        ApiClient::new(HttpConfig::default()).unwrap()
    }

    #[test]
    fn one_gateway_per_provider_in_the_secret_with_the_default_first() {
        let secrets = secrets(
            r#"{"stripe": {"apiKey": "sk_test_1"}, "sandbox": {"apiKey": "sk_sandbox_1"}}"#,
        );
        let enabled = Endpoints {
            sandbox_api_base: Some("http://127.0.0.1:3000".into()),
            ..Endpoints::default()
        };
        let built = gateways(&secrets, Provider::Sandbox, &http(), &enabled, &catalog()).unwrap();
        let providers: Vec<Provider> = built.iter().map(|g| g.provider()).collect();
        assert_eq!(providers, [Provider::Sandbox, Provider::Stripe]);

        // Without its base URL the sandbox stays off, whatever the secret says.
        let built = gateways(
            &secrets,
            Provider::Stripe,
            &http(),
            &Endpoints::default(),
            &catalog(),
        )
        .unwrap();
        assert_eq!(built.len(), 1);
    }

    #[test]
    fn a_default_provider_without_credentials_is_a_configuration_error() {
        let none = Endpoints::default();
        let secrets = secrets(r#"{"sandbox": {"apiKey": "k"}}"#);
        assert!(gateways(&secrets, Provider::Stripe, &http(), &none, &catalog()).is_err());
        let incomplete = secrets_without_key();
        assert!(gateways(&incomplete, Provider::Stripe, &http(), &none, &catalog()).is_err());
    }

    fn secrets_without_key() -> ProviderSecrets {
        secrets(r#"{"stripe": {"webhookSecrets": ["whsec_x"]}}"#)
    }

    #[test]
    fn the_sandbox_verifier_exists_only_where_enabled() {
        let providers = |enabled| -> Vec<Provider> {
            verifiers(300, enabled, &http())
                .iter()
                .map(|v| v.provider())
                .collect()
        };
        assert!(!providers(false).contains(&Provider::Sandbox));
        assert!(providers(true).contains(&Provider::Sandbox));
        assert!(providers(false).contains(&Provider::Stripe));
        // Every real provider has a verifier, whatever the secret holds.
        for provider in Provider::ALL.iter().filter(|p| **p != Provider::Sandbox) {
            assert!(providers(false).contains(provider), "{provider}");
        }
    }

    #[test]
    fn every_provider_in_the_secret_gets_a_gateway() {
        let secrets = secrets(
            r#"{"stripe": {"apiKey": "sk_test_1"},
                "razorpay": {"keyId": "rzp_test_1", "keySecret": "s"},
                "paypal": {"clientId": "c", "clientSecret": "s", "webhookId": "w"},
                "cashfree": {"clientId": "c", "clientSecret": "s"},
                "paddle": {"apiKey": "pdl_test_1"}}"#,
        );
        let built = gateways(
            &secrets,
            Provider::Razorpay,
            &http(),
            &Endpoints::default(),
            &catalog(),
        )
        .unwrap();
        let providers: Vec<Provider> = built.iter().map(|g| g.provider()).collect();
        assert_eq!(
            providers,
            [
                Provider::Razorpay,
                Provider::Stripe,
                Provider::Paypal,
                Provider::Cashfree,
                Provider::Paddle
            ]
        );
    }
}
