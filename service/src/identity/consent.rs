//! Consent records (Law 91/2025 on personal data protection, Decree 356/2025): what she agreed
//! to, which version of the text, and when; withdrawable where the law allows.
//!
//! - **The privacy notice.** `register` takes the version she was shown and refuses one that is
//!   not the current (`APP_PRIVACY_NOTICE_VERSION`); a new version is accepted with
//!   `acceptPrivacyNotice`. It cannot be withdrawn while the account exists: withdrawing it is
//!   deleting the account.
//! - **Sensitive data with a violence report.** A report submitted signed in links her account to
//!   what it says, which is sensitive data: it needs her explicit consent, recorded with the
//!   report (`APP_SENSITIVE_DATA_NOTICE_VERSION`). Withdrawing it unlinks the report from her
//!   account; the report stays with the case officers (it may be evidence, and protecting her
//!   life and health needs no consent), but she no longer follows it in the app.

use chrono::Utc;
use entities::{
    consent::{self, ConsentKind},
    ids::{PersonId, ReportId},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use uuid::Uuid;

use crate::{
    Call,
    error::{ApiError, ConflictKind, InputProblem},
    state::AppState,
};

/// The privacy notice in force.
pub struct Notice<'a> {
    pub version: &'a str,
    pub url: Option<&'a str>,
}

pub fn current_notice(state: &AppState) -> Notice<'_> {
    Notice {
        version: &state.settings.privacy_notice_version,
        url: state.settings.privacy_notice_url.as_deref(),
    }
}

/// Checks that `version` is the privacy notice in force (`BAD_USER_INPUT` `OUTDATED` on `field`).
pub(crate) fn check_notice(state: &AppState, version: &str, field: &'static str) -> Result<(), ApiError> {
    match version.trim() {
        "" => Err(ApiError::bad_input(field, InputProblem::Required)),
        v if v == state.settings.privacy_notice_version => Ok(()),
        _ => Err(ApiError::bad_input(field, InputProblem::Outdated)),
    }
}

/// Records a consent inside the caller's transaction.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    person: PersonId,
    kind: ConsentKind,
    version: &str,
    report: Option<ReportId>,
) -> Result<(), ApiError> {
    consent::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(person),
        kind: Set(kind),
        version: Set(version.to_owned()),
        report_id: Set(report),
        given_at: Set(Utc::now()),
        withdrawn_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The caller's consents, newest first (withdrawn ones included).
pub async fn my_consents(call: Call<'_>) -> Result<Vec<consent::Model>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    Ok(consent::Entity::find()
        .filter(consent::Column::PersonId.eq(viewer.person_id))
        .order_by_desc(consent::Column::GivenAt)
        .order_by_desc(consent::Column::Id)
        .all(&state.db)
        .await?)
}

/// The version of the privacy notice she last accepted (and has not withdrawn), if any.
pub async fn accepted_notice(
    conn: &impl ConnectionTrait,
    person: PersonId,
) -> Result<Option<String>, ApiError> {
    Ok(consent::Entity::find()
        .filter(consent::Column::PersonId.eq(person))
        .filter(consent::Column::Kind.eq(ConsentKind::PrivacyNotice))
        .filter(consent::Column::WithdrawnAt.is_null())
        .order_by_desc(consent::Column::GivenAt)
        .one(conn)
        .await?
        .map(|c| c.version))
}

/// Accepts the privacy notice in force (after a new version; accepting it again is a no-op).
pub async fn accept_notice(call: Call<'_>, version: &str) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    check_notice(state, version, "version")?;
    if accepted_notice(&state.db, viewer.person_id).await?.as_deref() == Some(version.trim()) {
        return Ok(());
    }
    record(&state.db, viewer.person_id, ConsentKind::PrivacyNotice, version.trim(), None).await
}

/// Withdraws one of the caller's consents (see module docs for what it does); `NOT_FOUND` for
/// one that is not hers, `CONFLICT` `ALREADY_REVOKED` when withdrawn already, `CONFLICT`
/// `NEEDED_FOR_ACCOUNT` for the privacy notice.
pub async fn withdraw(call: Call<'_>, id: Uuid) -> Result<consent::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    let found = consent::Entity::find_by_id(id)
        .filter(consent::Column::PersonId.eq(viewer.person_id))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    if found.withdrawn_at.is_some() {
        return Err(ApiError::Conflict(ConflictKind::AlreadyRevoked));
    }
    if found.kind == ConsentKind::PrivacyNotice {
        return Err(ApiError::Conflict(ConflictKind::NeededForAccount));
    }
    let mut am: consent::ActiveModel = found.clone().into();
    am.withdrawn_at = Set(Some(Utc::now()));
    let withdrawn = am.update(&txn).await?;
    if let Some(report) = found.report_id {
        crate::violence::unlink_reporter(&txn, &[report], viewer.person_id).await?;
    }
    txn.commit().await?;
    tracing::info!(event = "consent_withdrawn", person_id = %viewer.person_id, consent_id = %id, "consent withdrawn");
    Ok(withdrawn)
}
