//! A person known to the union. `password_hash` is absent for people enrolled by an officer who
//! have not registered yet; the phone number (normalised E.164) is the natural key.

use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "person")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PersonId,
    #[sea_orm(unique)]
    pub phone: String,
    pub full_name: String,
    /// `full_name` folded to lowercase ASCII (accents and đ removed) for search.
    pub name_search: String,
    pub password_hash: Option<String>,
    pub birth_date: Option<Date>,
    pub email: Option<String>,
    pub is_system_admin: bool,
    /// `vi` or `en`: the language of push texts.
    pub language: String,
    /// `FEMALE`, `MALE` or `OTHER`; optional.
    pub gender: Option<Gender>,
    pub registered_at: Option<DateTimeUtc>,
    /// When she last proved she holds `phone` (a code sent to it by SMS); `None` for records an
    /// officer made and for accounts older than verification.
    pub phone_verified_at: Option<DateTimeUtc>,
    pub password_changed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When she deleted her account: the row stays, anonymous (no name, number, birth date,
    /// email), so the memberships, registrations and pledges it holds keep counting.
    pub deleted_at: Option<DateTimeUtc>,
    /// Her TOTP secret, sealed (see `service::identity::mfa`); set at enrolment.
    pub totp_secret: Option<Vec<u8>>,
    /// When her TOTP was turned on (confirmed with a first code); `None`: off.
    pub totp_enabled_at: Option<DateTimeUtc>,
    /// The last TOTP time step used: a code works once.
    pub totp_last_step: Option<i64>,
}

crate::stored_enum! {
    /// A person's gender, optional on her profile (training statistics count unknowns apart).
    pub enum Gender {
        Female = "FEMALE",
        Male = "MALE",
        Other = "OTHER",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
