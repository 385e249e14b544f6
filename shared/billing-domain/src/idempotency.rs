//! Idempotency of our own mutating API: a client sends an `Idempotency-Key`
//! with a request, and a repeat with the same key and body gets the first
//! answer without a second provider call. The rules are here; where records
//! live is the `IdempotencyStore` port's business.
//!
//! A record is begun before the request runs (in progress, locked for a
//! while so a crashed request does not block its key forever), completed
//! with the answer when the request ends in a final answer, and released
//! when it ends in a failure worth retrying. It lives 24 hours.

use crate::ids::UnixTime;

/// How long a key is remembered.
pub const RECORD_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The longest key accepted (Stripe's limit too).
pub const MAX_KEY_LEN: usize = 255;

/// A validated `Idempotency-Key` value: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, InvalidKey> {
        if raw.is_empty() || raw.len() > MAX_KEY_LEN {
            return Err(InvalidKey::Length);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidKey::Characters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKey {
    #[error("an Idempotency-Key is 1 to {MAX_KEY_LEN} characters")]
    Length,
    #[error("an Idempotency-Key is visible ASCII characters only (no spaces)")]
    Characters,
}

/// Where a record stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordState {
    /// The first request is running; others wait until `locked_until`.
    InProgress { locked_until: UnixTime },
    /// The first request's answer, to be replayed.
    Completed { status: u16, body: String },
}

/// One key's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// What identifies the request: the same key with another fingerprint is
    /// a different request reusing the key.
    pub fingerprint: String,
    pub state: RecordState,
    /// When the key may be forgotten.
    pub expires_at: UnixTime,
}

impl IdempotencyRecord {
    /// A record for a request starting `now`, locked for `lock_seconds`.
    pub fn begin(fingerprint: String, now: UnixTime, lock_seconds: i64) -> Self {
        Self {
            fingerprint,
            state: RecordState::InProgress {
                locked_until: UnixTime(now.0 + lock_seconds),
            },
            expires_at: UnixTime(now.0 + RECORD_TTL_SECONDS),
        }
    }

    /// The same record holding the request's answer.
    pub fn completed(&self, status: u16, body: String) -> Self {
        Self {
            state: RecordState::Completed { status, body },
            ..self.clone()
        }
    }

    /// Whether the record still holds its key at `now`: not expired, and if
    /// in progress, still locked. A record that is not live may be replaced.
    pub fn is_live(&self, now: UnixTime) -> bool {
        if now >= self.expires_at {
            return false;
        }
        match self.state {
            RecordState::InProgress { locked_until } => now < locked_until,
            RecordState::Completed { .. } => true,
        }
    }
}

/// What to do with a request whose key already has a live record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    /// The same request again: answer what the first one answered.
    Replay { status: u16, body: String },
    /// The same request while the first is still running.
    InProgress,
    /// Another request under a key already used.
    KeyReused,
}

/// Decides a repeat against the live record of its key.
pub fn repeat(existing: &IdempotencyRecord, fingerprint: &str) -> Repeat {
    if existing.fingerprint != fingerprint {
        return Repeat::KeyReused;
    }
    match &existing.state {
        RecordState::InProgress { .. } => Repeat::InProgress,
        RecordState::Completed { status, body } => Repeat::Replay {
            status: *status,
            body: body.clone(),
        },
    }
}

/// Whether an answer is final, so a repeat gets it again: success and the
/// client's own errors are; a 5xx is released so a retry runs afresh (the
/// provider or the store may answer next time).
pub fn is_final(status: u16) -> bool {
    status < 500
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(InvalidKey::Length));
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)),
            Err(InvalidKey::Length)
        );
        for bad in ["a b", "tab\there", "é", "new\nline"] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(InvalidKey::Characters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_in_progress_record_is_live_until_its_lock_ends_a_completed_one_until_it_expires() {
        let record = IdempotencyRecord::begin("fp".into(), UnixTime(1_000), 30);
        assert!(record.is_live(UnixTime(1_029)));
        assert!(!record.is_live(UnixTime(1_030)));
        let done = record.completed(200, "{}".into());
        assert!(done.is_live(UnixTime(1_030)));
        assert!(done.is_live(UnixTime(1_000 + RECORD_TTL_SECONDS - 1)));
        assert!(!done.is_live(UnixTime(1_000 + RECORD_TTL_SECONDS)));
    }

    #[test]
    fn a_repeat_replays_waits_or_is_refused_by_fingerprint_and_state() {
        let record = IdempotencyRecord::begin("fp".into(), UnixTime(0), 30);
        assert_eq!(repeat(&record, "fp"), Repeat::InProgress);
        assert_eq!(repeat(&record, "other"), Repeat::KeyReused);
        let done = record.completed(202, r#"{"ok":true}"#.into());
        assert_eq!(
            repeat(&done, "fp"),
            Repeat::Replay {
                status: 202,
                body: r#"{"ok":true}"#.into()
            }
        );
        assert_eq!(repeat(&done, "other"), Repeat::KeyReused);
    }

    proptest! {
        #[test]
        fn only_answers_below_500_are_kept(status in 100u16..600) {
            prop_assert_eq!(is_final(status), status < 500);
        }

        #[test]
        fn liveness_never_outlasts_the_ttl(start in 0i64..1_000_000, lock in 1i64..600, at in 0i64..200_000) {
            let record = IdempotencyRecord::begin("fp".into(), UnixTime(start), lock);
            let now = UnixTime(start + at);
            prop_assert_eq!(record.is_live(now), at < lock.min(RECORD_TTL_SECONDS));
            prop_assert_eq!(record.completed(200, String::new()).is_live(now), at < RECORD_TTL_SECONDS);
        }
    }
}
