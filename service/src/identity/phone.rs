//! Proving a phone number: a six-digit code sent by SMS, checked for a verification token that
//! the action it allows (registering, resetting a password, changing the number, a step-up)
//! spends once.
//!
//! - A code is valid for `APP_PHONE_CODE_TTL_SECS` and stored only as a keyed hash; a new code
//!   for the same number and purpose replaces the earlier one.
//! - Each check is counted before the code is compared (a conditional update, so guesses sent
//!   in parallel cannot pass the limit): after `APP_PHONE_CODE_MAX_ATTEMPTS` the code is dead.
//! - Sending is limited per client address and per number per day and by a cooldown per number
//!   and purpose, each counted before anything is sent; checks are limited per address.
//! - A code to reset a password goes only to a number with an account, but the answer is the
//!   same either way, so asking reveals nothing about who has an account.
//! - The codes of a changed number and of a step-up are bound to the signed-in person who asked:
//!   nobody else can verify or spend them.

use chrono::{DateTime, Utc};
use entities::{ids::PersonId, person, phone_code};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

pub use entities::phone_code::CodePurpose;

use crate::{
    Call,
    domain::PhoneNumber,
    error::{ApiError, InputProblem, Lang},
    sms::{self, NewSms},
    state::AppState,
};

/// When a code was asked for: until when it can be checked, and when another may be asked.
pub struct CodeSent {
    pub expires_at: DateTime<Utc>,
    pub resend_after: DateTime<Utc>,
}

/// A verified code: the token the action it allows takes, and its expiry.
pub struct Verification {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Sends a code to `phone` for `purpose` (see module docs for the limits).
pub async fn request_code(call: Call<'_>, phone: &str, purpose: CodePurpose) -> Result<CodeSent, ApiError> {
    let (state, meta) = (call.state, call.meta);
    let s = &state.settings;
    let phone = PhoneNumber::parse(phone, "phone")?;
    let bound = bound_person(call, purpose)?;
    if let Some(person_id) = bound {
        let own = own_phone(&state.db, person_id).await?;
        match purpose {
            CodePurpose::StepUp if own != phone.as_str() => {
                return Err(ApiError::bad_input("phone", InputProblem::NotYourNumber));
            }
            CodePurpose::ChangePhone if own == phone.as_str() => {
                return Err(ApiError::bad_input("phone", InputProblem::SameNumber));
            }
            _ => {}
        }
    }
    // Counted before anything is sent.
    let number = number_key(state, &phone);
    state
        .cache
        .spend(&format!("sms:addr:{}", meta.client_addr), DAY, 1, s.phone_code_max_per_address)
        .await?;
    if !s.phone_code_cooldown.is_zero() {
        state.cache.spend(&format!("sms:cooldown:{purpose}:{number}"), s.phone_code_cooldown, 1, 1).await?;
    }
    state.cache.spend(&format!("sms:number:{number}"), DAY, 1, s.phone_code_max_per_phone).await?;

    let now = Utc::now();
    let sent = CodeSent { expires_at: now + s.phone_code_ttl, resend_after: now + s.phone_code_cooldown };
    if purpose == CodePurpose::ResetPassword && !has_account(&state.db, &phone).await? {
        return Ok(sent);
    }
    let code = six_digits()?;
    let id = Uuid::now_v7();
    let txn = state.db.begin().await?;
    // The new code replaces the earlier ones of this number and purpose.
    phone_code::Entity::update_many()
        .col_expr(phone_code::Column::ExpiresAt, Expr::value(now))
        .filter(phone_code::Column::Phone.eq(phone.as_str()))
        .filter(phone_code::Column::Purpose.eq(purpose))
        .filter(phone_code::Column::VerifiedAt.is_null())
        .filter(phone_code::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    phone_code::ActiveModel {
        id: Set(id),
        phone: Set(phone.as_str().to_owned()),
        purpose: Set(purpose),
        person_id: Set(bound),
        code_hash: Set(state.tokens.phone_code_hash(id, &code)),
        attempts: Set(0),
        created_at: Set(now),
        expires_at: Set(sent.expires_at),
        verified_at: Set(None),
        consumed_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let minutes = s.phone_code_ttl.as_secs().div_ceil(60);
    sms::enqueue(
        &txn,
        &state.report_keys,
        NewSms {
            to: phone.as_str().to_owned(),
            kind: purpose.as_str(),
            text: code_text(purpose, &code, minutes, meta.lang),
            code: Some(code),
            expires_at: sent.expires_at,
        },
    )
    .await?;
    txn.commit().await?;
    state.sms_queued.notify_one();
    Ok(sent)
}

/// Checks a code; answers the verification token (the same token again for the same right code,
/// so a retry after a lost answer works).
pub async fn verify_code(
    call: Call<'_>,
    phone: &str,
    purpose: CodePurpose,
    code: &SecretString,
) -> Result<Verification, ApiError> {
    let (state, meta) = (call.state, call.meta);
    let s = &state.settings;
    let phone = PhoneNumber::parse(phone, "phone")?;
    let code = code.expose_secret().trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_input("code", InputProblem::InvalidFormat));
    }
    let bound = bound_person(call, purpose)?;
    // Counted before the check: guesses spread over many numbers from one address.
    state
        .cache
        .spend(
            &format!("sms-check:addr:{}", meta.client_addr),
            s.login_failure_window,
            1,
            s.phone_code_checks_per_address,
        )
        .await?;
    let now = Utc::now();
    let latest = phone_code::Entity::find()
        .filter(phone_code::Column::Phone.eq(phone.as_str()))
        .filter(phone_code::Column::Purpose.eq(purpose))
        .filter(phone_code::Column::ConsumedAt.is_null())
        .order_by_desc(phone_code::Column::CreatedAt)
        .one(&state.db)
        .await?;
    let expired = ApiError::bad_input("code", InputProblem::Expired);
    let Some(row) = latest.filter(|r| r.person_id == bound) else { return Err(expired) };
    if row.verified_at.is_none() && row.expires_at <= now {
        return Err(expired);
    }
    let max = s.phone_code_max_attempts as i32;
    let counted = phone_code::Entity::update_many()
        .col_expr(phone_code::Column::Attempts, Expr::col(phone_code::Column::Attempts).add(1))
        .filter(phone_code::Column::Id.eq(row.id))
        .filter(phone_code::Column::Attempts.lt(max))
        .exec(&state.db)
        .await?
        .rows_affected;
    if counted == 0 {
        return Err(ApiError::bad_input("code", InputProblem::TooManyAttempts));
    }
    if !state.tokens.phone_code_matches(row.id, code, &row.code_hash) {
        tracing::info!(event = "phone_code_wrong", code_id = %row.id, "wrong phone code");
        return Err(ApiError::bad_input("code", InputProblem::WrongCode));
    }
    phone_code::Entity::update_many()
        .col_expr(phone_code::Column::VerifiedAt, Expr::value(now))
        .filter(phone_code::Column::Id.eq(row.id))
        .filter(phone_code::Column::VerifiedAt.is_null())
        .exec(&state.db)
        .await?;
    let verified_at: Option<Option<DateTime<Utc>>> = phone_code::Entity::find_by_id(row.id)
        .select_only()
        .column(phone_code::Column::VerifiedAt)
        .into_tuple()
        .one(&state.db)
        .await?;
    let verified_at = verified_at.flatten().unwrap_or(now);
    let expires_at = verified_at + s.phone_verification_ttl;
    if expires_at <= now {
        return Err(expired);
    }
    Ok(Verification { token: state.tokens.issue_verification(row.id, expires_at), expires_at })
}

/// A verification token checked for its signature and expiry (cheap: before any password is
/// hashed); the code it names, for [`spend`].
pub(crate) fn check_token(
    state: &AppState,
    token: &SecretString,
    field: &'static str,
) -> Result<Uuid, ApiError> {
    state
        .tokens
        .verify_verification(token.expose_secret(), Utc::now())
        .map_err(|p| ApiError::bad_input(field, p))
}

/// The number a verification of code `code_id` proved, if it is one for one of `purposes` (and,
/// for the bound purposes, by `person`) and unspent; spends nothing (see [`spend`]).
pub(crate) async fn proven_number(
    conn: &impl ConnectionTrait,
    code_id: Uuid,
    purposes: &[CodePurpose],
    person: Option<PersonId>,
    field: &'static str,
) -> Result<PhoneNumber, ApiError> {
    let row = phone_code::Entity::find_by_id(code_id).one(conn).await?;
    let Some(row) = row.filter(|r| purposes.contains(&r.purpose) && r.person_id == person) else {
        return Err(ApiError::bad_input(field, InputProblem::InvalidFormat));
    };
    if row.verified_at.is_none() {
        return Err(ApiError::bad_input(field, InputProblem::InvalidFormat));
    }
    if row.consumed_at.is_some() {
        return Err(ApiError::bad_input(field, InputProblem::AlreadyUsed));
    }
    PhoneNumber::parse(&row.phone, field)
}

/// Spends the verification of code `code_id` inside the caller's transaction (see
/// [`proven_number`]): the number it proved. Of two simultaneous uses exactly one succeeds; the
/// other gets `ALREADY_USED`.
pub(crate) async fn spend(
    conn: &impl ConnectionTrait,
    code_id: Uuid,
    purposes: &[CodePurpose],
    person: Option<PersonId>,
    field: &'static str,
) -> Result<PhoneNumber, ApiError> {
    let phone = proven_number(conn, code_id, purposes, person, field).await?;
    let spent = phone_code::Entity::update_many()
        .col_expr(phone_code::Column::ConsumedAt, Expr::value(Utc::now()))
        .filter(phone_code::Column::Id.eq(code_id))
        .filter(phone_code::Column::ConsumedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    if spent == 0 {
        return Err(ApiError::bad_input(field, InputProblem::AlreadyUsed));
    }
    Ok(phone)
}

/// The signed-in person a purpose's codes are bound to (`UNAUTHENTICATED` without one), or
/// `None` for the purposes anyone may ask.
fn bound_person(call: Call<'_>, purpose: CodePurpose) -> Result<Option<PersonId>, ApiError> {
    match purpose {
        CodePurpose::ChangePhone | CodePurpose::StepUp => Ok(Some(call.viewer()?.person_id)),
        CodePurpose::Register | CodePurpose::ClaimRecord | CodePurpose::ResetPassword => Ok(None),
    }
}

async fn own_phone(conn: &impl ConnectionTrait, person: PersonId) -> Result<String, ApiError> {
    person::Entity::find_by_id(person)
        .select_only()
        .column(person::Column::Phone)
        .into_tuple()
        .one(conn)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

async fn has_account(conn: &impl ConnectionTrait, phone: &PhoneNumber) -> Result<bool, ApiError> {
    let found: Option<PersonId> = person::Entity::find()
        .select_only()
        .column(person::Column::Id)
        .filter(person::Column::Phone.eq(phone.as_str()))
        .filter(person::Column::PasswordHash.is_not_null())
        .into_tuple()
        .one(conn)
        .await?;
    Ok(found.is_some())
}

/// The key a number's counters are kept under: a keyed digest, so the cache holds no numbers.
fn number_key(state: &AppState, phone: &PhoneNumber) -> String {
    let digest = state.report_keys.digest(phone.as_str().as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Six uniformly random digits.
fn six_digits() -> Result<String, ApiError> {
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format_args!("rng: {e}")))?;
        let n = u32::from_be_bytes(bytes);
        // Rejecting the top of the range keeps every code equally likely.
        if n < u32::MAX - u32::MAX % 1_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// The SMS text. Vietnamese SMS are sent without diacritics: brand-name templates are
/// registered that way, and a text with them takes a 70-character Unicode segment.
fn code_text(purpose: CodePurpose, code: &str, minutes: u64, lang: Lang) -> String {
    let (vi, en) = match purpose {
        CodePurpose::Register | CodePurpose::ClaimRecord => ("dang ky tai khoan", "to register"),
        CodePurpose::ResetPassword => ("dat lai mat khau", "to reset your password"),
        CodePurpose::ChangePhone => ("doi so dien thoai", "to change your phone number"),
        CodePurpose::StepUp => ("xac nhan thao tac", "to confirm an action"),
    };
    match lang {
        Lang::Vi => format!(
            "Phu nu Thu do: ma {vi} cua ban la {code}, hieu luc {minutes} phut. \
             Khong chia se ma nay voi bat ky ai, ke ca can bo Hoi."
        ),
        Lang::En => format!(
            "Phu nu Thu do: your code {en} is {code}, valid for {minutes} minutes. \
             Never share it with anyone, union officers included."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let c = six_digits().unwrap();
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
