//! The sandbox's records (customers, checkout and portal sessions,
//! subscriptions, and the answers it gave per idempotency key) and their
//! JSON state file: loaded at start, saved after each change by writing a
//! temporary file beside it and renaming it over the old one, so a crash
//! mid-write never leaves half a file.

use crate::SandboxError;
use billing_domain::Interval;
use billing_providers::sandbox::wire::SandboxStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped when the file's shape changes incompatibly.
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SandboxState {
    #[serde(default)]
    pub customers: BTreeMap<String, CustomerRecord>,
    #[serde(default)]
    pub checkout_sessions: BTreeMap<String, CheckoutSessionRecord>,
    #[serde(default)]
    pub portal_sessions: BTreeMap<String, PortalSessionRecord>,
    #[serde(default)]
    pub subscriptions: BTreeMap<String, SubscriptionRecord>,
    #[serde(default)]
    pub setup_sessions: BTreeMap<String, SetupSessionRecord>,
    /// Idempotency key → the answer given, replayed for the same request.
    #[serde(default)]
    pub idempotency: BTreeMap<String, IdempotentAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CustomerRecord {
    pub id: String,
    pub tenant_id: String,
    pub created: i64,
    /// The second of this customer's latest event; the next action's events
    /// fall strictly after it.
    #[serde(default)]
    pub last_event_at: Option<i64>,
    /// Saved cards, oldest first.
    #[serde(default)]
    pub payment_methods: Vec<CardRecord>,
    /// The card future invoices are charged to.
    #[serde(default)]
    pub default_payment_method: Option<String>,
}

/// A saved test card: brand, last four digits and expiry, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CardRecord {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SetupSessionRecord {
    pub id: String,
    pub customer_id: String,
    pub return_url: String,
    pub created: i64,
    /// The card saved through this page; a page saves one card.
    #[serde(default)]
    pub saved: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CheckoutSessionRecord {
    pub id: String,
    pub customer_id: String,
    pub tenant_id: String,
    pub plan_code: String,
    pub price_id: String,
    /// The plan's price when the session was created: what the page shows
    /// and the invoices bill, whatever the catalog says later.
    pub amount_minor: i64,
    pub currency: String,
    pub interval: Interval,
    pub success_url: String,
    pub cancel_url: String,
    pub created: i64,
    /// Set once the page was submitted; a session completes only once.
    #[serde(default)]
    pub completion: Option<Completion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Completion {
    pub outcome: Outcome,
    pub subscription_id: String,
    pub at: i64,
}

/// What the customer chose on the hosted checkout page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The card is charged: the subscription starts active.
    Pay,
    /// The card is declined: the subscription stays incomplete.
    Decline,
    /// As `Pay`, then the first renewal's charge fails.
    PayFailRenewal,
}

impl Outcome {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pay" => Some(Outcome::Pay),
            "decline" => Some(Outcome::Decline),
            "pay_fail_renewal" => Some(Outcome::PayFailRenewal),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Pay => "paid",
            Outcome::Decline => "card declined",
            Outcome::PayFailRenewal => "paid (first renewal will fail)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PortalSessionRecord {
    pub id: String,
    pub customer_id: String,
    pub return_url: String,
    pub created: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubscriptionRecord {
    pub id: String,
    pub customer_id: String,
    pub tenant_id: String,
    pub status: SandboxStatus,
    pub plan_code: String,
    pub price_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub interval: Interval,
    pub current_period_start: i64,
    pub current_period_end: i64,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub quantity: u32,
    pub created: i64,
    /// A plan or seat change waiting for the end of the period.
    #[serde(default)]
    pub scheduled_change: Option<ScheduledChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ScheduledChange {
    pub plan_code: String,
    pub price_id: String,
    pub amount_minor: i64,
    pub interval: Interval,
    pub quantity: u32,
}

impl SubscriptionRecord {
    /// A subscription the customer can still cancel or resume.
    pub fn is_live(&self) -> bool {
        matches!(
            self.status,
            SandboxStatus::Active | SandboxStatus::PastDue | SandboxStatus::Unpaid
        )
    }
}

/// An API answer kept for its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IdempotentAnswer {
    /// The request's path and body: the same key with another request is
    /// refused rather than answered with an unrelated object.
    pub fingerprint: String,
    pub status: u16,
    pub body: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    state: SandboxState,
}

/// The state in `path`, or an empty state if there is no file yet.
pub(crate) fn load(path: &Path) -> Result<SandboxState, SandboxError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SandboxState::default())
        }
        Err(source) => {
            return Err(SandboxError::StateFileUnreadable {
                path: path.to_owned(),
                source,
            })
        }
    };
    let file: StateFile =
        serde_json::from_slice(&bytes).map_err(|e| SandboxError::StateFileCorrupt {
            path: path.to_owned(),
            problem: billing_providers::http::json_problem(&e),
        })?;
    if file.version != FORMAT_VERSION {
        return Err(SandboxError::StateFileCorrupt {
            path: path.to_owned(),
            problem: format!(
                "format version {} (this sandbox reads {FORMAT_VERSION})",
                file.version
            ),
        });
    }
    Ok(file.state)
}

/// Writes `state` to `path` atomically (temporary file, then rename).
pub(crate) fn save(path: &Path, state: &SandboxState) -> std::io::Result<()> {
    let file = StateFile {
        version: FORMAT_VERSION,
        state: state.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    let temporary = temporary_path(path);
    {
        let mut out = std::fs::File::create(&temporary)?;
        out.write_all(&bytes)?;
        out.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}

/// `state.json` → `state.json.tmp`, in the same directory so the rename
/// stays on one file system.
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SandboxState {
        let mut state = SandboxState::default();
        state.customers.insert(
            "cus_1".into(),
            CustomerRecord {
                id: "cus_1".into(),
                tenant_id: "org_1".into(),
                created: 1,
                last_event_at: Some(2),
                payment_methods: vec![CardRecord {
                    id: "pm_1".into(),
                    brand: "visa".into(),
                    last4: "4242".into(),
                    exp_month: 12,
                    exp_year: 2030,
                }],
                default_payment_method: Some("pm_1".into()),
            },
        );
        state
    }

    #[test]
    fn saved_state_loads_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.json");
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
        assert!(
            !temporary_path(&path).exists(),
            "temporary file renamed away"
        );
    }

    #[test]
    fn missing_file_is_an_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            load(&dir.path().join("none.json")).unwrap(),
            SandboxState::default()
        );
    }

    #[test]
    fn corrupt_or_foreign_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            load(&path),
            Err(SandboxError::StateFileCorrupt { .. })
        ));
        std::fs::write(&path, br#"{"version":99,"state":{}}"#).unwrap();
        assert!(matches!(
            load(&path),
            Err(SandboxError::StateFileCorrupt { .. })
        ));
    }

    #[test]
    fn outcomes_parse_from_their_form_values() {
        assert_eq!(Outcome::parse("pay"), Some(Outcome::Pay));
        assert_eq!(Outcome::parse("decline"), Some(Outcome::Decline));
        assert_eq!(
            Outcome::parse("pay_fail_renewal"),
            Some(Outcome::PayFailRenewal)
        );
        assert_eq!(Outcome::parse("refund"), None);
    }
}
