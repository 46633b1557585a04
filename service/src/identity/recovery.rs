//! A forgotten password and a new phone number, both proved by a code sent by SMS.
//!
//! - **Reset**: a code to the account's number (`RESET_PASSWORD`) sets a new password; every
//!   session ends at once (revoked and flagged as logout does), her remembered devices are
//!   forgotten, she is told in her inbox (and by push on her devices), and she is signed in anew.
//! - **New number**: the password and a code to the new number (`CHANGE_PHONE`, asked while
//!   signed in, so only she can spend it); the old number gets an SMS saying so, in case it was
//!   not her.

use chrono::Utc;
use entities::{auth_session, known_device, person};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait, sea_query::Expr};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use super::{
    AuthPayload, DeviceInfo, DeviceInput, flag_revoked, me,
    phone::{self, CodePurpose},
    remember_device, revoke_sessions, start_session, verify_own_password,
};
use crate::{
    Call,
    domain::{Password, PhoneNumber},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    notifications::{self, NewNotification, NotificationKind},
    sms::{self, NewSms},
};

/// Sets a new password with a verified `RESET_PASSWORD` code; ends every session and signs in
/// anew.
pub async fn reset_password(
    call: Call<'_>,
    verification_token: &SecretString,
    new_password: &SecretString,
    device: DeviceInput,
) -> Result<AuthPayload, ApiError> {
    let (state, meta) = (call.state, call.meta);
    const FIELD: &str = "verification_token";
    let device = DeviceInfo::parse(device)?;
    let code_id = phone::check_token(state, verification_token, FIELD)?;
    let purposes = [CodePurpose::ResetPassword];
    let phone = phone::proven_number(&state.db, code_id, &purposes, None, FIELD).await?;
    let password = Password::parse(new_password, Some(&phone), "new_password")?;
    let hash = super::auth::hash_password(password.expose().to_owned()).await?;

    let now = Utc::now();
    let txn = state.db.begin().await?;
    phone::spend(&txn, code_id, &purposes, None, FIELD).await?;
    let found = person::Entity::find()
        .filter(person::Column::Phone.eq(phone.as_str()))
        .filter(person::Column::PasswordHash.is_not_null())
        .one(&txn)
        .await?;
    // The account was deleted (or its number changed) since the code was sent.
    let Some(person) = found else { return Err(ApiError::bad_input(FIELD, InputProblem::Expired)) };
    person::Entity::update_many()
        .col_expr(person::Column::PasswordHash, Expr::value(hash))
        .col_expr(person::Column::PasswordChangedAt, Expr::value(now))
        .col_expr(person::Column::PhoneVerifiedAt, Expr::value(now))
        .col_expr(person::Column::UpdatedAt, Expr::value(now))
        .filter(person::Column::Id.eq(person.id))
        .exec(&txn)
        .await?;
    let sessions: Vec<Uuid> = auth_session::Entity::find()
        .select_only()
        .column(auth_session::Column::Id)
        .filter(auth_session::Column::PersonId.eq(person.id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&txn)
        .await?;
    revoke_sessions(&txn, &sessions, "PASSWORD_RESET").await?;
    known_device::Entity::delete_many()
        .filter(known_device::Column::PersonId.eq(person.id))
        .exec(&txn)
        .await?;
    let told = notifications::enqueue(
        &txn,
        vec![NewNotification {
            person_id: person.id,
            kind: NotificationKind::PasswordReset,
            params: json!({}),
            link: None,
            duty: false,
        }],
    )
    .await?;
    let person = person::Entity::find_by_id(person.id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let mut payload = start_session(state, &txn, person, meta, &device, false).await?;
    payload.device_token = Some(remember_device(&txn, payload.person.id).await?);
    txn.commit().await?;
    flag_revoked(state, &sessions, "PASSWORD_RESET").await?;
    notifications::announce(state, &told).await;
    tracing::info!(event = "password_reset", person_id = %payload.person.id, sessions_ended = sessions.len(), "password reset");
    Ok(payload)
}

/// Moves the caller's account to the number a `CHANGE_PHONE` code proved; needs her password.
/// The old number is told by SMS.
pub async fn change_phone(
    call: Call<'_>,
    password: &SecretString,
    verification_token: &SecretString,
) -> Result<person::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    const FIELD: &str = "verification_token";
    let code_id = phone::check_token(state, verification_token, FIELD)?;
    let current = me(call).await?;
    let old = PhoneNumber::parse(&current.phone, "phone")?;
    verify_own_password(call, &current, password, "password").await?;

    let now = Utc::now();
    let txn = state.db.begin().await?;
    let purposes = [CodePurpose::ChangePhone];
    let new = phone::spend(&txn, code_id, &purposes, Some(viewer.person_id), FIELD).await?;
    if new == old {
        return Err(ApiError::bad_input(FIELD, InputProblem::SameNumber));
    }
    person::Entity::update_many()
        .col_expr(person::Column::Phone, Expr::value(new.as_str()))
        .col_expr(person::Column::PhoneVerifiedAt, Expr::value(now))
        .col_expr(person::Column::UpdatedAt, Expr::value(now))
        .filter(person::Column::Id.eq(viewer.person_id))
        .exec(&txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::PhoneTaken) } else { e.into() }
        })?;
    let ending = &new.as_str()[new.as_str().len() - 3..];
    sms::enqueue(
        &txn,
        &state.report_keys,
        NewSms {
            to: old.as_str().to_owned(),
            kind: "PHONE_CHANGED",
            text: old_number_notice(ending, &current.language),
            code: None,
            expires_at: now + chrono::Duration::days(1),
        },
    )
    .await?;
    let told = notifications::enqueue(
        &txn,
        vec![NewNotification {
            person_id: viewer.person_id,
            kind: NotificationKind::PhoneChanged,
            params: json!({ "ending": ending }),
            link: None,
            duty: false,
        }],
    )
    .await?;
    let person = person::Entity::find_by_id(viewer.person_id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    state.sms_queued.notify_one();
    notifications::announce(state, &told).await;
    tracing::info!(event = "phone_changed", person_id = %viewer.person_id, "phone number changed");
    Ok(person)
}

/// What the old number is told (without diacritics, as every SMS; see `phone`).
fn old_number_notice(ending: &str, language: &str) -> String {
    if language == "en" {
        format!(
            "Phu nu Thu do: your account now uses the number ending in {ending}. If this was not \
             you, contact your union branch at once."
        )
    } else {
        format!(
            "Phu nu Thu do: tai khoan cua ban da doi sang so dien thoai co duoi {ending}. Neu khong \
             phai ban, hay lien he chi hoi ngay."
        )
    }
}
