//! A person's consent, kept with its time and the version of the text she agreed to: the privacy
//! notice at sign-up (and each new version since), and the processing of sensitive data with a
//! violence report she submits signed in. Withdrawal is recorded, never a deletion.

use crate::ids::{PersonId, ReportId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: PersonId,
    pub kind: ConsentKind,
    /// The version of the text she was shown (`APP_PRIVACY_NOTICE_VERSION`,
    /// `APP_SENSITIVE_DATA_NOTICE_VERSION`).
    pub version: String,
    /// The report a sensitive-data consent was given with.
    pub report_id: Option<ReportId>,
    pub given_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// What she consented to.
    pub enum ConsentKind {
        /// The privacy notice (the processing of her account's personal data).
        PrivacyNotice = "PRIVACY_NOTICE",
        /// The processing of sensitive personal data (health, family violence) with a report.
        SensitiveData = "SENSITIVE_DATA",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
