//! A kind of award a unit's officers decide (a district's Giấy khen, the city's Bằng khen, the
//! central union's Bằng khen that the city records), for collectives, individuals or both.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "award_kind")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The unit whose officers approve or decline its nominations (the awarding level here).
    pub unit_id: UnitId,
    /// "Bằng khen", "Giấy khen", …
    pub name: String,
    /// Who grants it, as the certificate says ("Ban Chấp hành Hội LHPN Thành phố Hà Nội").
    pub issuer: String,
    pub recipients: Recipients,
    /// Nominations are taken while it is active.
    pub active: bool,
    pub created_by: PersonId,
    pub created_at: DateTimeUtc,
}

crate::stored_enum! {
    /// Who an award kind is for.
    pub enum Recipients {
        /// Units (tập thể).
        Collective = "COLLECTIVE",
        /// People (cá nhân).
        Individual = "INDIVIDUAL",
        Both = "BOTH",
    }
}

impl Recipients {
    /// Whether a nominee that is a unit (`collective`) or a person may receive it.
    pub fn admits(self, collective: bool) -> bool {
        match self {
            Recipients::Both => true,
            Recipients::Collective => collective,
            Recipients::Individual => !collective,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
