//! A one-time code sent by SMS to prove that whoever asks holds a phone number, for one purpose.
//! Only a keyed hash of the code is stored; a right code marks the row verified, and the
//! verification token it answers is spent (`consumed_at`) by the action it allows, once.

use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "phone_code")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The number the code went to (normalised E.164).
    pub phone: String,
    pub purpose: CodePurpose,
    /// The signed-in person who asked, for the purposes that need a session (a new number, a
    /// step-up): only she can verify it.
    pub person_id: Option<PersonId>,
    /// HMAC-SHA256 (hex) of the row id and the code under a key derived from the server secret.
    pub code_hash: String,
    /// Verification attempts, counted before each check.
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub verified_at: Option<DateTimeUtc>,
    /// When the verification token was spent.
    pub consumed_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// What a phone code proves the number for.
    pub enum CodePurpose {
        /// A new account (or the record an officer enrolled under this number).
        Register = "REGISTER",
        /// The same as `Register`, asked by a member who says her branch enrolled her.
        ClaimRecord = "CLAIM_RECORD",
        ResetPassword = "RESET_PASSWORD",
        /// The signed-in person's new number.
        ChangePhone = "CHANGE_PHONE",
        /// A signed-in person re-proving herself before a sensitive action.
        StepUp = "STEP_UP",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
