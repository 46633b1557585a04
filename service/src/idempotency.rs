//! Idempotency keys: a mutation sent with an `Idempotency-Key` acts once, however often it is
//! sent. The API layer calls [`begin`] before running the operation and [`finish`] (or
//! [`release`]) after it:
//!
//! - The first request with a key (per caller: a person, an integration client, or anonymous
//!   callers together) inserts a `RUNNING` row leased to it, runs, and stores its response,
//!   sealed, for [`RETENTION`].
//! - A retry with the same request (its document, operation, variables and files; compared by
//!   keyed digest, since the request may hold a password) gets the stored response back.
//! - The same key with another request is `CONFLICT` `IDEMPOTENCY_KEY_REUSED`.
//! - A retry while the first is still running waits for it (polling the row, so it works across
//!   instances) up to [`WAIT`], then answers `CONFLICT` `REQUEST_IN_PROGRESS` (send it again).
//! - A request that ended without acting and may succeed when sent again (the database was
//!   down, a rate limit, credentials to refresh or a step-up to make) is not stored: the row
//!   is deleted and the key is free again.
//! - A running request renews its [`LEASE`] every [`RENEW_EVERY`] (see [`renew`]), however long
//!   it runs. An owner that died holding a key (its instance crashed) loses it when the lease
//!   runs out; a retry then runs the request again. The window between the operation's commit
//!   and the stored response (or a database that fails at that very moment, after the store is
//!   retried) is the one case that can make a retry act twice.
//! - Keys are per caller: a person (`p:`), a session whose second factor is still owed (`m:`,
//!   its own namespace, so nothing is replayed to it before the factor is proved), an
//!   integration client (`c:`), or signed-out callers, who share one namespace and so must send
//!   keys of at least [`MIN_ANONYMOUS_KEY_LEN`] characters (a UUID).
//!
//! Expired keys are deleted by [`spawn_sweeper`]; an expired key met before that is taken over.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entities::idempotency_key::{self as ik, KeyState};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use crate::{
    Call,
    auth::Auth,
    error::{ApiError, ConflictKind, InputProblem},
    state::AppState,
    worker::PollingWorker,
};

/// How long a key and its response are kept.
pub const RETENTION: Duration = Duration::hours(24);
/// How long a running request holds its key before another may take it over.
pub const LEASE: Duration = Duration::minutes(2);
/// How often a running request renews its lease.
pub const RENEW_EVERY: StdDuration = StdDuration::from_secs(30);
/// How long a retry waits for the request holding its key.
pub const WAIT: StdDuration = StdDuration::from_secs(10);
/// The shortest key a signed-out caller may send (signed-out callers share a namespace).
pub const MIN_ANONYMOUS_KEY_LEN: usize = 16;
/// The longest key (the header's value), in bytes.
pub const MAX_KEY_LEN: usize = 255;
/// The name of the key where errors name it.
pub const FIELD: &str = "Idempotency-Key";

/// A key held by this request: run the operation, then [`finish`] or [`release`].
#[derive(Clone, Debug)]
pub struct Claim {
    caller: String,
    key: String,
    owner: Uuid,
}

/// What to do with a request carrying a key.
#[derive(Debug)]
pub enum Begin {
    /// Run it (this request holds the key).
    Run(Claim),
    /// It ran before: this is its stored response.
    Replay(Vec<u8>),
}

/// A key as sent: 1 to 255 visible ASCII characters (a UUID is the usual choice).
pub fn parse_key(raw: &str) -> Result<&str, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::bad_input(FIELD, InputProblem::Required));
    }
    if raw.len() > MAX_KEY_LEN {
        return Err(ApiError::bad_input(FIELD, InputProblem::TooLong));
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_input(FIELD, InputProblem::InvalidCharacters));
    }
    Ok(raw)
}

/// Whose keys these are; `None` for credentials that were refused (the request fails anyway).
fn caller_of(auth: &Auth) -> Option<String> {
    match auth {
        Auth::Signed(v) => Some(format!("p:{}", v.person_id)),
        Auth::Pending(v) => Some(format!("m:{}", v.session_id)),
        Auth::Client(c) => Some(format!("c:{}", c.client_id)),
        Auth::Anonymous => Some("a".to_owned()),
        Auth::Rejected => None,
    }
}

/// Claims `key` for a request whose identity is `request` (its document, operation,
/// variables and files, as bytes the caller makes the same way each time), waiting for a
/// request holding it (see the module docs). `None`: the caller's credentials were refused,
/// so the key is not used.
pub async fn begin(call: Call<'_>, key: &str, request: &[u8]) -> Result<Option<Begin>, ApiError> {
    let key = parse_key(key)?;
    let Some(caller) = caller_of(call.auth) else { return Ok(None) };
    if matches!(call.auth, Auth::Anonymous) && key.len() < MIN_ANONYMOUS_KEY_LEN {
        return Err(ApiError::bad_input(FIELD, InputProblem::TooShort));
    }
    let state = call.state;
    let started = tokio::time::Instant::now();
    let mut pause = StdDuration::from_millis(20);
    loop {
        match attempt(state, &caller, key, request).await? {
            Attempt::Decided(begin) => return Ok(Some(begin)),
            Attempt::Again => continue,
            Attempt::Busy if started.elapsed() + pause > WAIT => {
                return Err(ApiError::Conflict(ConflictKind::RequestInProgress));
            }
            Attempt::Busy => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(StdDuration::from_millis(250));
            }
        }
    }
}

enum Attempt {
    Decided(Begin),
    /// The row changed under this attempt: look again at once.
    Again,
    /// Another request holds the key.
    Busy,
}

async fn attempt(state: &AppState, caller: &str, key: &str, request: &[u8]) -> Result<Attempt, ApiError> {
    let keys = &state.report_keys;
    let now = state.clock.now();
    let owner = Uuid::new_v4();
    let digest_key = keys.current_key_id();
    let fresh = ik::ActiveModel {
        caller: Set(caller.to_owned()),
        key: Set(key.to_owned()),
        fingerprint: Set(keys.digest(request).to_vec()),
        digest_key: Set(i32::from(digest_key)),
        owner: Set(owner),
        state: Set(KeyState::Running),
        lease_until: Set(now + LEASE),
        response: Set(None),
        created_at: Set(now),
        expires_at: Set(now + RETENTION),
    };
    let inserted = ik::Entity::insert(fresh.clone())
        .on_conflict(OnConflict::columns([ik::Column::Caller, ik::Column::Key]).do_nothing().to_owned())
        .exec_without_returning(&state.db)
        .await?;
    let claim = || Claim { caller: caller.to_owned(), key: key.to_owned(), owner };
    if inserted == 1 {
        return Ok(Attempt::Decided(Begin::Run(claim())));
    }
    let Some(row) = ik::Entity::find_by_id((caller.to_owned(), key.to_owned())).one(&state.db).await? else {
        return Ok(Attempt::Again);
    };
    // An expired key is anyone's: the row is started afresh.
    if row.expires_at <= now {
        let taken = ik::Entity::update_many()
            .set(fresh)
            .filter(ik::Column::Caller.eq(caller))
            .filter(ik::Column::Key.eq(key))
            .filter(ik::Column::ExpiresAt.lte(now))
            .exec(&state.db)
            .await?;
        return Ok(if taken.rows_affected == 1 {
            Attempt::Decided(Begin::Run(claim()))
        } else {
            Attempt::Again
        });
    }
    let digest_key = u16::try_from(row.digest_key).ok();
    let Some(ours) = digest_key.and_then(|id| keys.digest_with(id, request)) else {
        return Err(ApiError::internal(format_args!(
            "idempotency key digested with missing key {}",
            row.digest_key
        )));
    };
    if ours[..] != row.fingerprint[..] {
        return Err(ApiError::Conflict(ConflictKind::IdempotencyKeyReused));
    }
    match (row.state, row.response) {
        (KeyState::Done, Some(sealed)) => {
            let response = keys
                .open(&sealed, &seal_context(caller, key))
                .map_err(|e| ApiError::internal(format_args!("opening a stored response: {e}")))?;
            Ok(Attempt::Decided(Begin::Replay(response)))
        }
        // Its owner is gone (the lease ran out): this request takes the key over.
        _ if row.lease_until <= now => {
            let taken = ik::Entity::update_many()
                .col_expr(ik::Column::Owner, Expr::value(owner))
                .col_expr(ik::Column::State, Expr::value(KeyState::Running))
                .col_expr(ik::Column::LeaseUntil, Expr::value(now + LEASE))
                .col_expr(ik::Column::ExpiresAt, Expr::value(now + RETENTION))
                .filter(ik::Column::Caller.eq(caller))
                .filter(ik::Column::Key.eq(key))
                .filter(ik::Column::Owner.eq(row.owner))
                .filter(ik::Column::State.eq(KeyState::Running))
                .exec(&state.db)
                .await?;
            Ok(if taken.rows_affected == 1 { Attempt::Decided(Begin::Run(claim())) } else { Attempt::Again })
        }
        _ => Ok(Attempt::Busy),
    }
}

/// What a stored response is bound to: its caller and key.
fn seal_context(caller: &str, key: &str) -> Vec<u8> {
    format!("idempotency/{caller}/{key}").into_bytes()
}

/// Stores the response of the request holding `claim` (sealed: it may hold tokens or a
/// report's receipt). A request that lost its key (its lease ran out and another took it)
/// stores nothing.
pub async fn finish(call: Call<'_>, claim: Claim, response: &[u8]) -> Result<(), ApiError> {
    let state = call.state;
    let sealed = state
        .report_keys
        .seal(response, &seal_context(&claim.caller, &claim.key))
        .map_err(|e| ApiError::internal(format_args!("sealing a response: {e}")))?;
    // Kept a full day from its answer (a request that ran long, or took over a dead owner's
    // key, is not forgotten early).
    let stored = ik::Entity::update_many()
        .col_expr(ik::Column::State, Expr::value(KeyState::Done))
        .col_expr(ik::Column::Response, Expr::value(sealed))
        .col_expr(ik::Column::ExpiresAt, Expr::value(state.clock.now() + RETENTION))
        .filter(ik::Column::Caller.eq(&claim.caller))
        .filter(ik::Column::Key.eq(&claim.key))
        .filter(ik::Column::Owner.eq(claim.owner))
        .exec(&state.db)
        .await?;
    if stored.rows_affected == 0 {
        tracing::warn!("an idempotency key was taken over while its request ran; its response is not kept");
    }
    Ok(())
}

/// Extends the lease of the request holding `claim` while it runs; `false` when it no longer
/// holds the key.
pub async fn renew(call: Call<'_>, claim: &Claim) -> Result<bool, ApiError> {
    let now = call.state.clock.now();
    let renewed = ik::Entity::update_many()
        .col_expr(ik::Column::LeaseUntil, Expr::value(now + LEASE))
        .filter(ik::Column::Caller.eq(&claim.caller))
        .filter(ik::Column::Key.eq(&claim.key))
        .filter(ik::Column::Owner.eq(claim.owner))
        .filter(ik::Column::State.eq(KeyState::Running))
        .exec(&call.state.db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// Frees the key of a request that did not act (see the module docs): a retry runs afresh.
pub async fn release(call: Call<'_>, claim: Claim) -> Result<(), ApiError> {
    ik::Entity::delete_many()
        .filter(ik::Column::Caller.eq(&claim.caller))
        .filter(ik::Column::Key.eq(&claim.key))
        .filter(ik::Column::Owner.eq(claim.owner))
        .filter(ik::Column::State.eq(KeyState::Running))
        .exec(&call.state.db)
        .await?;
    Ok(())
}

/// Deletes the keys that expired before `now`; how many.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> Result<u64, ApiError> {
    let gone = ik::Entity::delete_many().filter(ik::Column::ExpiresAt.lte(now)).exec(&state.db).await?;
    Ok(gone.rows_affected)
}

/// How often expired keys are deleted.
const SWEEP_INTERVAL: StdDuration = StdDuration::from_secs(600);

/// Deletes expired keys every ten minutes.
pub fn spawn_sweeper(state: AppState) -> PollingWorker {
    PollingWorker::spawn("idempotency-sweep", SWEEP_INTERVAL, move || {
        let state = state.clone();
        async move {
            let now = state.clock.now();
            sweep(&state, now).await.map(|_| false)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(parse_key("7d1f0c1e-8a55-4c38-9a3b-0e7b2a4c9f11").is_ok());
        let code = |raw: &str| parse_key(raw).err().and_then(|e| e.reason());
        assert_eq!(code(""), Some("REQUIRED"));
        assert_eq!(code(&"k".repeat(MAX_KEY_LEN + 1)), Some("TOO_LONG"));
        assert_eq!(code("two words"), Some("INVALID_CHARACTERS"));
        assert_eq!(code("khóa"), Some("INVALID_CHARACTERS"));
    }
}
