//! Deleting an account (Apple 5.1.1(v), Google Play's account-deletion policy; Law 91/2025's
//! erasure): what identifies her goes at once, in one transaction; what the union's figures are
//! made of stays, anonymous.
//!
//! - **Erased**: her name, phone number (a tombstone `~…` takes its place: it can never be typed,
//!   and the number is free for a new account), birth date, email, password, the time she proved
//!   her number, her second factor and its recovery codes; push tokens and their queued pushes,
//!   her notification preferences, her stories and photos, the text of her comments (and her
//!   reactions, both out of every count), notifications, remembered devices, refresh tokens, phone
//!   codes and SMS still queued to her number, invitations to her, the notes of her
//!   membership requests, the household label and notes of her pledges, the label, platform and
//!   user agent of her sessions, the safe contact of her violence reports, her award nominations
//!   still waiting, and the citations of her decided ones.
//! - **Kept, anonymous**: the person row itself (so every membership, registration and pledge it
//!   holds keeps counting in every statistic and target), with `deleted_at`, her gender (training
//!   statistics count women) and language; her memberships and their history, registrations and
//!   attendance, pledges and their review, consents, her awards (counted in the year's figures),
//!   and her sessions (revoked, so a token of hers is refused even after a cache loss).
//! - **Violence reports** she made stay with the case officers (they may be evidence) but no
//!   longer link to her account (see `violence::unlink_reporter`).
//! - Her sessions end at once (revoked and flagged); her officer roles end, and the reports
//!   assigned to her go back to their queues.

use chrono::Utc;
use entities::{
    auth_session, known_device, membership, membership_invitation, membership_request, notification,
    notification_preference, officer_role, person, phone_code, pledge, push_outbox, push_token,
    recovery_code, refresh_token, sms_outbox, violence_report,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, TransactionTrait, sea_query::Expr,
};
use secrecy::SecretString;
use uuid::Uuid;

use super::{flag_revoked, me, revoke_sessions, verify_own_password};
use crate::{Call, error::ApiError, state::AppState, violence};

/// Deletes the caller's account (see module docs); needs her password.
pub async fn delete_my_account(call: Call<'_>, password: &SecretString) -> Result<(), ApiError> {
    call.viewer()?;
    let current = me(call).await?;
    verify_own_password(call, &current, password, "password").await?;
    erase(call.state, current).await
}

/// Erases the account of `current` (see module docs), in one transaction; then flags its
/// sessions revoked and tells the consoles about the reports it released.
pub(crate) async fn erase(state: &AppState, current: person::Model) -> Result<(), ApiError> {
    let person = current.id;
    let now = Utc::now();
    let txn = state.db.begin().await?;

    // Sessions: ended, then stripped of what describes her device; refresh tokens gone.
    let sessions: Vec<Uuid> = auth_session::Entity::find()
        .select_only()
        .column(auth_session::Column::Id)
        .filter(auth_session::Column::PersonId.eq(person))
        .into_tuple()
        .all(&txn)
        .await?;
    revoke_sessions(&txn, &sessions, "ACCOUNT_DELETED").await?;
    auth_session::Entity::update_many()
        .col_expr(auth_session::Column::UserAgent, Expr::value(Option::<String>::None))
        .col_expr(auth_session::Column::DeviceLabel, Expr::value(Option::<String>::None))
        .col_expr(auth_session::Column::Platform, Expr::value(Option::<String>::None))
        .col_expr(auth_session::Column::Place, Expr::value(Option::<String>::None))
        .filter(auth_session::Column::PersonId.eq(person))
        .exec(&txn)
        .await?;
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::SessionId.is_in(sessions.iter().copied()))
        .exec(&txn)
        .await?;
    known_device::Entity::delete_many().filter(known_device::Column::PersonId.eq(person)).exec(&txn).await?;
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::PersonId.eq(person))
        .exec(&txn)
        .await?;

    // Devices and the inbox.
    let tokens: Vec<Uuid> = push_token::Entity::find()
        .select_only()
        .column(push_token::Column::Id)
        .filter(push_token::Column::PersonId.eq(person))
        .into_tuple()
        .all(&txn)
        .await?;
    push_outbox::Entity::delete_many()
        .filter(push_outbox::Column::PushTokenId.is_in(tokens))
        .exec(&txn)
        .await?;
    push_token::Entity::delete_many().filter(push_token::Column::PersonId.eq(person)).exec(&txn).await?;
    notification_preference::Entity::delete_many()
        .filter(notification_preference::Column::PersonId.eq(person))
        .exec(&txn)
        .await?;
    crate::content::forget_person(&txn, person).await?;
    let photos = crate::content::stories::forget_person(&txn, person).await?;
    let inbox = notification::Entity::find()
        .select_only()
        .column(notification::Column::Id)
        .filter(notification::Column::PersonId.eq(person));
    push_outbox::Entity::delete_many()
        .filter(push_outbox::Column::NotificationId.in_subquery(sea_orm::QueryTrait::into_query(inbox)))
        .exec(&txn)
        .await?;
    notification::Entity::delete_many().filter(notification::Column::PersonId.eq(person)).exec(&txn).await?;

    // Her number: codes and what is still queued to it.
    phone_code::Entity::delete_many()
        .filter(
            Condition::any()
                .add(phone_code::Column::Phone.eq(current.phone.as_str()))
                .add(phone_code::Column::PersonId.eq(person)),
        )
        .exec(&txn)
        .await?;
    sms_outbox::Entity::delete_many()
        .filter(sms_outbox::Column::Phone.eq(current.phone.as_str()))
        .exec(&txn)
        .await?;

    // Membership: invitations go; requests lose her note (a pending one is withdrawn); the
    // memberships stay, without the name they were searched by.
    membership_invitation::Entity::delete_many()
        .filter(membership_invitation::Column::PersonId.eq(person))
        .exec(&txn)
        .await?;
    membership_request::Entity::update_many()
        .col_expr(
            membership_request::Column::Status,
            Expr::value(membership_request::RequestStatus::Cancelled.as_str()),
        )
        .filter(membership_request::Column::PersonId.eq(person))
        .filter(membership_request::Column::Status.eq(membership_request::RequestStatus::Pending))
        .exec(&txn)
        .await?;
    membership_request::Entity::update_many()
        .col_expr(membership_request::Column::Note, Expr::value(Option::<String>::None))
        .filter(membership_request::Column::PersonId.eq(person))
        .exec(&txn)
        .await?;
    membership::Entity::update_many()
        .col_expr(membership::Column::NameSearch, Expr::value(""))
        .filter(membership::Column::PersonId.eq(person))
        .exec(&txn)
        .await?;

    // Pledges keep their count, not her household's name.
    pledge::Entity::update_many()
        .col_expr(pledge::Column::HouseholdLabel, Expr::value(Option::<String>::None))
        .col_expr(pledge::Column::HouseholdKey, Expr::value(Option::<String>::None))
        .col_expr(pledge::Column::Note, Expr::value(Option::<String>::None))
        .filter(pledge::Column::PersonId.eq(person))
        .exec(&txn)
        .await?;

    // Her proposed nominations go; her awards stay in the year's figures, without the citation.
    crate::awards::forget_person(&txn, person).await?;

    // Officer roles end; the reports assigned to her go back to their queues.
    let ended = officer_role::Entity::update_many()
        .col_expr(officer_role::Column::RevokedAt, Expr::value(now))
        .col_expr(officer_role::Column::RevokedBy, Expr::value(person))
        .filter(officer_role::Column::PersonId.eq(person))
        .filter(officer_role::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let released = violence::workflow::release_assignments(&txn, &state.report_keys, person).await?;

    // The reports she made stay with the case officers, unlinked from her.
    let reports: Vec<entities::ids::ReportId> = violence_report::Entity::find()
        .select_only()
        .column(violence_report::Column::Id)
        .filter(violence_report::Column::ReporterId.eq(person))
        .into_tuple()
        .all(&txn)
        .await?;
    violence::unlink_reporter(&txn, &reports, person).await?;

    // The person row: anonymous.
    person::Entity::update_many()
        .col_expr(person::Column::Phone, Expr::value(tombstone(person.uuid())))
        .col_expr(person::Column::FullName, Expr::value(""))
        .col_expr(person::Column::NameSearch, Expr::value(""))
        .col_expr(person::Column::PasswordHash, Expr::value(Option::<String>::None))
        .col_expr(person::Column::BirthDate, Expr::value(Option::<chrono::NaiveDate>::None))
        .col_expr(person::Column::Email, Expr::value(Option::<String>::None))
        .col_expr(person::Column::PhoneVerifiedAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .col_expr(person::Column::IsSystemAdmin, Expr::value(false))
        .col_expr(person::Column::TotpSecret, Expr::value(Option::<Vec<u8>>::None))
        .col_expr(person::Column::TotpEnabledAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .col_expr(person::Column::TotpLastStep, Expr::value(Option::<i64>::None))
        .col_expr(person::Column::DeletedAt, Expr::value(now))
        .col_expr(person::Column::UpdatedAt, Expr::value(now))
        .filter(person::Column::Id.eq(person))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    crate::media::forget_bytes(state, &photos).await;
    flag_revoked(state, &sessions, "ACCOUNT_DELETED").await?;
    violence::workflow::announce_released(state, released).await;
    tracing::info!(
        event = "account_deleted",
        person_id = %person,
        sessions = sessions.len(),
        roles_ended = ended,
        reports_unlinked = reports.len(),
        "account deleted"
    );
    Ok(())
}

/// What stands in a deleted account's phone column: unique (from the row's random bits), 16
/// characters, and never a number anyone can type (`PhoneNumber` refuses `~`).
fn tombstone(id: Uuid) -> String {
    let hex = id.simple().to_string();
    format!("~{}", &hex[hex.len() - 15..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tombstone_fits_the_column_and_is_no_phone_number() {
        let t = tombstone(Uuid::now_v7());
        assert_eq!(t.len(), 16);
        assert!(crate::domain::PhoneNumber::parse(&t, "phone").is_err());
        assert_ne!(tombstone(Uuid::now_v7()), tombstone(Uuid::now_v7()));
    }
}
