//! Who read or changed a report, in which role, and when. Append-only: the database refuses
//! UPDATE and DELETE on this table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "violence_access_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub report_id: Uuid,
    /// `None` for an anonymous reporter (who proved the PIN) or the system.
    pub person_id: Option<Uuid>,
    pub role: String,
    pub action: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
