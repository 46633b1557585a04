//! A sign-in session: the family of refresh tokens issued from one login. Access tokens carry
//! its id (`sid`), so revoking the session revokes every token of the family at once.

use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: PersonId,
    pub created_at: DateTimeUtc,
    pub last_used_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// `LOGOUT`, `PASSWORD_CHANGED`, `PASSWORD_RESET`, `REFRESH_REUSE`, `ENDED` (from another
    /// session), `SIGNED_OUT_EVERYWHERE`, `ACCOUNT_DELETED`.
    pub revoked_reason: Option<String>,
    pub user_agent: Option<String>,
    /// What the app calls the device ("iPhone của Lan"), as it sent it at sign-in.
    pub device_label: Option<String>,
    pub platform: Option<DevicePlatform>,
    /// A coarse place (a city or a country) from the client address at sign-in, when a
    /// GeoIP database is configured.
    pub place: Option<String>,
    /// When the session proved a second factor (at sign-in, enrolment or a step-up).
    pub mfa_at: Option<DateTimeUtc>,
    /// When it last stepped up for a sensitive action.
    pub stepped_up_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// The kind of device a session signed in from.
    pub enum DevicePlatform {
        Android = "ANDROID",
        Ios = "IOS",
        Web = "WEB",
        Other = "OTHER",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
