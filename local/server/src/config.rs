//! The local server's settings, read once from the environment that
//! `scripts/dev` sets up, with defaults that run the whole system from a
//! fresh clone: embedded store and queue under `.local/`, the committed
//! development secrets, the sandbox provider for checkout.

use billing_domain::Provider;
use billing_lambda::{ConfigError, Env};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where subscriptions and queued events live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// One redb file, `billing.redb`, plus `sandbox.json` for the sandbox
    /// provider's own state, in `data_dir`.
    Embedded { data_dir: PathBuf },
    /// The real adapters (DynamoDB, SQS, Secrets Manager) against
    /// `AWS_ENDPOINT_URL`, or AWS itself when that is unset.
    Aws {
        table: String,
        queue_url: String,
        secret_id: String,
    },
}

#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub bind: SocketAddr,
    pub backend: Backend,
    /// Provider credentials in the Secrets Manager secret's shape (embedded
    /// mode; AWS mode reads the secret).
    pub secrets_file: PathBuf,
    /// Providers offered at checkout, the first being the default. Stripe
    /// needs a real test key and internet access, so locally it is opt-in.
    pub checkout_providers: Vec<Provider>,
    /// Origins besides the server's own that checkout may redirect to.
    pub extra_origins: Vec<String>,
    /// How long after "pay" the sandbox fails the first renewal.
    pub sandbox_renewal_delay: Duration,
    /// How long a message the processor failed stays hidden before a retry.
    pub visibility_timeout: Duration,
    pub past_due_grace_days: String,
}

impl LocalConfig {
    /// Reads `PORT`, `BILLING_MODE` (`embedded` or `aws`), `BILLING_DATA_DIR`,
    /// `BILLING_TABLE`/`BILLING_QUEUE_URL`/`BILLING_SECRET_ID` (aws mode),
    /// `BILLING_SECRETS_FILE`, `BILLING_CHECKOUT_PROVIDERS`,
    /// `ALLOWED_REDIRECT_ORIGINS` (extra), `SANDBOX_RENEWAL_DELAY_SECONDS`,
    /// `LOCAL_VISIBILITY_TIMEOUT_SECONDS`, `PAST_DUE_GRACE_DAYS`.
    pub fn from_env(env: &Env, repo_root: &std::path::Path) -> Result<Self, ConfigError> {
        let port: u16 = env.parsed_or("PORT", 3000)?;
        let backend = match env.optional("BILLING_MODE").as_deref() {
            None | Some("embedded") => Backend::Embedded {
                data_dir: env
                    .optional("BILLING_DATA_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| repo_root.join(".local")),
            },
            Some("aws") => Backend::Aws {
                table: env.required("BILLING_TABLE")?,
                queue_url: env.required("BILLING_QUEUE_URL")?,
                secret_id: env.required("BILLING_SECRET_ID")?,
            },
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "BILLING_MODE",
                    reason: format!("{other:?} is neither \"embedded\" nor \"aws\""),
                })
            }
        };
        let checkout_providers = env
            .optional("BILLING_CHECKOUT_PROVIDERS")
            .unwrap_or_else(|| "sandbox".into())
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<Provider>()
                    .map_err(|e| ConfigError::Invalid {
                        name: "BILLING_CHECKOUT_PROVIDERS",
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if checkout_providers.is_empty() {
            return Err(ConfigError::Invalid {
                name: "BILLING_CHECKOUT_PROVIDERS",
                reason: "name at least one provider".into(),
            });
        }
        Ok(Self {
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            backend,
            secrets_file: env
                .optional("BILLING_SECRETS_FILE")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo_root.join("infra/dev-secrets.json")),
            checkout_providers,
            extra_origins: env
                .optional("ALLOWED_REDIRECT_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_owned()).collect())
                .unwrap_or_default(),
            sandbox_renewal_delay: Duration::from_secs(
                env.parsed_or("SANDBOX_RENEWAL_DELAY_SECONDS", 3)?,
            ),
            visibility_timeout: Duration::from_secs(
                env.parsed_or("LOCAL_VISIBILITY_TIMEOUT_SECONDS", 5)?,
            ),
            past_due_grace_days: env
                .optional("PAST_DUE_GRACE_DAYS")
                .unwrap_or_else(|| "7".into()),
        })
    }

    /// Settings for tests: embedded in `data_dir`, any free port.
    pub fn embedded_for_tests(data_dir: PathBuf, repo_root: &std::path::Path) -> Self {
        let mut config = Self::from_env(&Env::default(), repo_root)
            .unwrap_or_else(|e| unreachable!("the defaults are valid: {e}"));
        config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.backend = Backend::Embedded { data_dir };
        config.sandbox_renewal_delay = Duration::from_secs(1);
        config.visibility_timeout = Duration::from_secs(1);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn defaults_run_embedded_with_the_sandbox_on_port_3000() {
        let config = LocalConfig::from_env(&Env::default(), Path::new("/repo")).unwrap();
        assert_eq!(config.bind.port(), 3000);
        assert_eq!(
            config.backend,
            Backend::Embedded {
                data_dir: PathBuf::from("/repo/.local")
            }
        );
        assert_eq!(config.checkout_providers, [Provider::Sandbox]);
        assert_eq!(
            config.secrets_file,
            PathBuf::from("/repo/infra/dev-secrets.json")
        );
    }

    #[test]
    fn aws_mode_needs_its_three_resources_and_bad_values_are_named() {
        let err =
            LocalConfig::from_env(&Env::from_pairs([("BILLING_MODE", "aws")]), Path::new("/"))
                .unwrap_err();
        assert_eq!(err, ConfigError::Missing("BILLING_TABLE"));
        let aws = LocalConfig::from_env(
            &Env::from_pairs([
                ("BILLING_MODE", "aws"),
                ("BILLING_TABLE", "t"),
                ("BILLING_QUEUE_URL", "q"),
                ("BILLING_SECRET_ID", "s"),
            ]),
            Path::new("/"),
        )
        .unwrap();
        assert!(matches!(aws.backend, Backend::Aws { .. }));
        for (name, value) in [
            ("BILLING_MODE", "cloud"),
            ("PORT", "http"),
            ("BILLING_CHECKOUT_PROVIDERS", "stripe,paypal2"),
        ] {
            let err = LocalConfig::from_env(&Env::from_pairs([(name, value)]), Path::new("/"))
                .unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
