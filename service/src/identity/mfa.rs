//! A second factor for the officers who see the most sensitive data: TOTP (RFC 6238: HMAC-SHA1,
//! 30-second steps, six digits — what every authenticator app implements) with single-use
//! recovery codes, required at sign-in and for a step-up before the most sensitive actions.
//!
//! - **Enrolment.** `startTotpEnrolment` makes a 160-bit secret (stored sealed with the report
//!   keys) and answers it with its `otpauth://` URI; `confirmTotpEnrolment(code)` turns it on and
//!   answers ten recovery codes, shown once and stored as keyed hashes. A second factor already
//!   on is replaced only from a session that stepped up (a lost phone: sign in with a recovery
//!   code, then enrol the new one).
//! - **Sign-in.** An account with TOTP on signs in with its password *and* a code (`login`'s
//!   `otp`: a TOTP code or a recovery code); the password alone answers `UNAUTHENTICATED`
//!   `OTP_REQUIRED`. A holder of a role in `APP_MFA_REQUIRED_ROLES` without TOTP signs in to a
//!   session that can only enrol (`Auth::Pending`: everything else is `FORBIDDEN`
//!   `MFA_REQUIRED`), so the requirement cannot be skipped. So does any session of an account
//!   with TOTP on that has not proved it (a password reset by SMS signs her in to one: a stolen
//!   SIM does not get past her authenticator); `stepUp` with a code gives it its rights.
//! - **Codes.** A code is accepted for the current step and one step either side (clock drift);
//!   each step's code works once (the last step used is kept, raised by a conditional update);
//!   guesses are counted with the password's, before each check, and throttled the same way.
//! - **Step-up.** `stepUp` with a TOTP or recovery code (or, without TOTP, the verification of
//!   a `STEP_UP` code sent to her phone) marks the session for `APP_STEP_UP_TTL_SECS`; the most
//!   sensitive actions ([`require_step_up`]) need it when `APP_STEP_UP` is on.

use chrono::{DateTime, Duration, Utc};
use data_encoding::BASE32_NOPAD;
use entities::{auth_session, ids::PersonId, officer_role, person, recovery_code};
use hmac::{Hmac, Mac};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait,
    sea_query::Expr,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{Attempt, me, phone};
use crate::{
    Call,
    auth::TokenFlags,
    config::Settings,
    domain::PhoneNumber,
    error::{ApiError, ConflictKind, InputProblem},
    state::AppState,
};

/// Seconds per TOTP step.
const STEP: i64 = 30;
/// Steps either side of now still accepted.
const DRIFT: i64 = 1;
const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Phu nu Thu do";

/// A secret to put in an authenticator.
pub struct Enrolment {
    /// Base32, no padding (what apps take when typed).
    pub secret: String,
    /// `otpauth://totp/…` (what apps take from a QR code).
    pub uri: String,
}

/// The second factor turned on: the recovery codes (shown once) and the session's new access
/// token, which carries the proof.
pub struct Enabled {
    pub recovery_codes: Vec<String>,
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
}

/// What a step-up proves the person with.
pub enum StepUpProof {
    /// A TOTP code or a recovery code.
    SecondFactor(SecretString),
    /// The verification token of a `STEP_UP` code sent to her phone (accounts without TOTP).
    Phone(SecretString),
}

/// A session that stepped up: until when, and its new access token.
pub struct SteppedUp {
    pub until: DateTime<Utc>,
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
}

/// The TOTP code of `secret` at time step `step` (RFC 6238 §4 with RFC 4226's truncation).
pub fn totp(secret: &[u8], step: i64) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}

/// The TOTP time step of `at`.
pub fn step_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP)
}

fn secret_context(person: PersonId) -> Vec<u8> {
    format!("person:{person}:totp_secret").into_bytes()
}

/// Starts (or, from a stepped-up session, restarts) the caller's TOTP enrolment.
pub async fn start_enrolment(call: Call<'_>) -> Result<Enrolment, ApiError> {
    let (state, viewer) = (call.state, call.viewer_before_mfa()?);
    let current = me(call).await?;
    if current.totp_enabled_at.is_some() && !marks(state, viewer.session_id).await?.stepped_up {
        return Err(ApiError::Conflict(ConflictKind::AlreadyEnrolled));
    }
    let mut secret = [0u8; 20];
    getrandom::fill(&mut secret).map_err(|e| ApiError::internal(format_args!("rng: {e}")))?;
    let sealed = state
        .report_keys
        .seal(&secret, &secret_context(current.id))
        .map_err(|e| ApiError::internal(format_args!("seal totp secret: {e}")))?;
    person::Entity::update_many()
        .col_expr(person::Column::TotpSecret, Expr::value(sealed))
        .col_expr(person::Column::TotpEnabledAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(person::Column::TotpLastStep, Expr::value(Option::<i64>::None))
        .col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(person::Column::Id.eq(current.id))
        .exec(&state.db)
        .await?;
    let encoded = BASE32_NOPAD.encode(&secret);
    let label = format!("{ISSUER}:{}", current.phone).replace(' ', "%20").replace('+', "%2B");
    let uri = format!(
        "otpauth://totp/{label}?secret={encoded}&issuer={}&algorithm=SHA1&digits=6&period={STEP}",
        ISSUER.replace(' ', "%20")
    );
    tracing::info!(event = "totp_enrolment_started", person_id = %current.id, "TOTP enrolment started");
    Ok(Enrolment { secret: encoded, uri })
}

/// Turns the caller's TOTP on with a first code; answers her recovery codes and a new access
/// token for this session (which has now proved the factor).
pub async fn confirm_enrolment(call: Call<'_>, code: &SecretString) -> Result<Enabled, ApiError> {
    let (state, viewer) = (call.state, call.viewer_before_mfa()?);
    let current = me(call).await?;
    if current.totp_enabled_at.is_some() || current.totp_secret.is_none() {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let attempt = begin(call, &current).await?;
    let Some(step) = matching_step(state, &current, code.expose_secret())? else {
        return Err(ApiError::bad_input("code", InputProblem::WrongCode));
    };
    attempt.succeeded(state).await;
    let now = Utc::now();
    let (codes, hashes) = new_recovery_codes(state)?;
    let txn = state.db.begin().await?;
    let enabled = person::Entity::update_many()
        .col_expr(person::Column::TotpEnabledAt, Expr::value(now))
        .col_expr(person::Column::TotpLastStep, Expr::value(step))
        .filter(person::Column::Id.eq(current.id))
        .filter(person::Column::TotpEnabledAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if enabled == 0 {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::PersonId.eq(current.id))
        .exec(&txn)
        .await?;
    recovery_code::Entity::insert_many(hashes.into_iter().map(|hash| recovery_code::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(current.id),
        code_hash: Set(hash),
        created_at: Set(now),
        used_at: Set(None),
    }))
    .exec_without_returning(&txn)
    .await?;
    mark_session(&txn, viewer.session_id, true, now).await?;
    txn.commit().await?;
    let (access_token, access_token_expires_at) =
        state.tokens.issue_access(current.id, viewer.session_id, TokenFlags { mfa: true, pending: false })?;
    tracing::info!(event = "totp_enabled", person_id = %current.id, "TOTP turned on");
    Ok(Enabled { recovery_codes: codes, access_token, access_token_expires_at })
}

/// Steps the caller's session up (see module docs).
pub async fn step_up(call: Call<'_>, proof: StepUpProof) -> Result<SteppedUp, ApiError> {
    let (state, viewer) = (call.state, call.viewer_before_mfa()?);
    let now = Utc::now();
    let mfa = match proof {
        StepUpProof::SecondFactor(code) => {
            let current = me(call).await?;
            if current.totp_enabled_at.is_none() {
                return Err(ApiError::bad_input("code", InputProblem::InvalidFormat));
            }
            let attempt = begin(call, &current).await?;
            if !check_second_factor(state, &current, code.expose_secret()).await? {
                return Err(ApiError::bad_input("code", InputProblem::WrongCode));
            }
            attempt.succeeded(state).await;
            mark_session(&state.db, viewer.session_id, true, now).await?;
            true
        }
        StepUpProof::Phone(token) => {
            const FIELD: &str = "verification_token";
            let code_id = phone::check_token(state, &token, FIELD)?;
            let txn = state.db.begin().await?;
            phone::spend(&txn, code_id, &[phone::CodePurpose::StepUp], Some(viewer.person_id), FIELD).await?;
            mark_session(&txn, viewer.session_id, false, now).await?;
            txn.commit().await?;
            marks(state, viewer.session_id).await?.mfa
        }
    };
    let flags = token_flags(&state.db, &state.settings, viewer.person_id, mfa).await?;
    let (access_token, access_token_expires_at) =
        state.tokens.issue_access(viewer.person_id, viewer.session_id, flags)?;
    tracing::info!(event = "stepped_up", person_id = %viewer.person_id, "session stepped up");
    Ok(SteppedUp { until: now + state.settings.step_up_ttl, access_token, access_token_expires_at })
}

/// Succeeds when the caller's session stepped up recently enough (or step-up is off):
/// `FORBIDDEN` `STEP_UP_REQUIRED` otherwise.
pub async fn require_step_up(call: Call<'_>) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    if !state.settings.step_up_required || marks(state, viewer.session_id).await?.stepped_up {
        return Ok(());
    }
    Err(ApiError::StepUpRequired)
}

/// What a session has proved: a second factor, and a step-up that still lasts.
struct Marks {
    mfa: bool,
    stepped_up: bool,
}

async fn marks(state: &AppState, session: Uuid) -> Result<Marks, ApiError> {
    type When = Option<DateTime<Utc>>;
    let at: Option<(When, When)> = auth_session::Entity::find_by_id(session)
        .select_only()
        .column(auth_session::Column::MfaAt)
        .column(auth_session::Column::SteppedUpAt)
        .into_tuple()
        .one(&state.db)
        .await?;
    let (mfa_at, stepped_up_at) = at.unwrap_or_default();
    let ttl = Duration::from_std(state.settings.step_up_ttl).unwrap_or_default();
    Ok(Marks { mfa: mfa_at.is_some(), stepped_up: stepped_up_at.is_some_and(|at| Utc::now() - at < ttl) })
}

/// Records on the session that it stepped up now (and proved the second factor, when `mfa`).
pub(crate) async fn mark_session(
    conn: &impl ConnectionTrait,
    session: Uuid,
    mfa: bool,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut update =
        auth_session::Entity::update_many().col_expr(auth_session::Column::SteppedUpAt, Expr::value(now));
    if mfa {
        update = update.col_expr(auth_session::Column::MfaAt, Expr::value(now));
    }
    update.filter(auth_session::Column::Id.eq(session)).exec(conn).await?;
    Ok(())
}

/// What a session's access tokens say: whether it proved a second factor, and whether one is
/// owed — she turned TOTP on (a session made without it, by a password reset or before she
/// enrolled, must prove it), or she holds a role (or is a system administrator) that
/// `APP_MFA_REQUIRED_ROLES` names.
pub(crate) async fn token_flags(
    conn: &impl ConnectionTrait,
    settings: &Settings,
    person: PersonId,
    mfa: bool,
) -> Result<TokenFlags, ApiError> {
    if mfa {
        return Ok(TokenFlags { mfa, pending: false });
    }
    let row = person::Entity::find_by_id(person).one(conn).await?.ok_or(ApiError::Unauthenticated)?;
    if row.totp_enabled_at.is_some() {
        return Ok(TokenFlags { mfa, pending: true });
    }
    if settings.mfa_required_for_system_admins && row.is_system_admin {
        return Ok(TokenFlags { mfa, pending: true });
    }
    if settings.mfa_required_roles.is_empty() {
        return Ok(TokenFlags { mfa, pending: false });
    }
    let held: Vec<officer_role::Role> = officer_role::Entity::find()
        .select_only()
        .column(officer_role::Column::Role)
        .filter(officer_role::Column::PersonId.eq(person))
        .filter(officer_role::Column::RevokedAt.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    Ok(TokenFlags { mfa, pending: held.iter().any(|r| settings.mfa_required_roles.contains(r)) })
}

/// A second-factor attempt, counted like a password attempt before the check.
async fn begin(call: Call<'_>, person: &person::Model) -> Result<Attempt, ApiError> {
    let phone = PhoneNumber::parse(&person.phone, "phone")?;
    Attempt::begin(call.state, &phone, call.meta, None).await
}

/// Checks a TOTP code or a recovery code of `person` and spends it (a TOTP step, or the
/// recovery code). Not throttled here: callers count the attempt first.
pub(crate) async fn check_second_factor(
    state: &AppState,
    person: &person::Model,
    code: &str,
) -> Result<bool, ApiError> {
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(step) = matching_step(state, person, code)? else { return Ok(false) };
        // Each step's code works once: the last step used only goes up.
        let spent = person::Entity::update_many()
            .col_expr(person::Column::TotpLastStep, Expr::value(step))
            .filter(person::Column::Id.eq(person.id))
            .filter(
                sea_orm::Condition::any()
                    .add(person::Column::TotpLastStep.is_null())
                    .add(person::Column::TotpLastStep.lt(step)),
            )
            .exec(&state.db)
            .await?
            .rows_affected;
        return Ok(spent == 1);
    }
    let used = recovery_code::Entity::update_many()
        .col_expr(recovery_code::Column::UsedAt, Expr::value(Utc::now()))
        .filter(recovery_code::Column::PersonId.eq(person.id))
        .filter(recovery_code::Column::CodeHash.eq(state.tokens.recovery_code_hash(code)))
        .filter(recovery_code::Column::UsedAt.is_null())
        .exec(&state.db)
        .await?
        .rows_affected;
    Ok(used == 1)
}

/// The time step `code` matches, around the clock's now, among those not used yet.
fn matching_step(state: &AppState, person: &person::Model, code: &str) -> Result<Option<i64>, ApiError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let Some(sealed) = person.totp_secret.as_deref() else { return Ok(None) };
    let secret = state
        .report_keys
        .open(sealed, &secret_context(person.id))
        .map_err(|e| ApiError::internal(format_args!("open totp secret: {e}")))?;
    let now = step_of(state.clock.now());
    let last = person.totp_last_step.unwrap_or(i64::MIN);
    Ok((now - DRIFT..=now + DRIFT).filter(|&s| s > last).find(|&s| totp(&secret, s) == code))
}

/// Ten recovery codes (`XXXX-XXXX`, 40 random bits each) and their stored hashes.
fn new_recovery_codes(state: &AppState) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut bytes = [0u8; 5];
        getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format_args!("rng: {e}")))?;
        let raw = BASE32_NOPAD.encode(&bytes);
        codes.push(format!("{}-{}", &raw[..4], &raw[4..]));
    }
    let hashes = codes.iter().map(|c| state.tokens.recovery_code_hash(c)).collect();
    Ok((codes, hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, six digits of its eight.
    #[test]
    fn totp_matches_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp(secret, time / 30), expected[2..], "T = {time}");
        }
    }
}
