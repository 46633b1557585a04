//! A unit of the union's tree (city, district, base, branch, group). Subtree questions go
//! through `org_unit_closure`, never through `parent_id` recursion.

use crate::ids::UnitId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_unit")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UnitId,
    pub parent_id: Option<UnitId>,
    /// `CITY`, `DISTRICT`, `BASE`, `BRANCH` or `GROUP`.
    pub kind: UnitKind,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// `name` folded to lowercase ASCII (accents and đ removed) for search and ordering.
    pub name_search: String,
    /// The words of the folded name and of the code, each after a space (" chi hoi … hn lb bd
    /// 01 "): a search word matches where it starts one of them.
    pub search_words: String,
    /// Distance from the root (the root has depth 0).
    pub depth: i32,
    /// Its case officers (and those of the units below) close a report only with a
    /// supervisor's approval; inherited from any unit above that sets it.
    pub case_closure_approval: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// `ACTIVE`, or `MERGED` into `merged_into_id` (it then hangs below that unit, inert).
    pub status: UnitStatus,
    pub merged_into_id: Option<UnitId>,
    pub merged_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// Kinds of unit, from the root down (in this order). A child's kind is always further down
    /// than its parent's; levels may be skipped (since 2025 wards sit directly under the city).
    pub enum UnitKind {
        City = "CITY",
        District = "DISTRICT",
        Base = "BASE",
        Branch = "BRANCH",
        Group = "GROUP",
    }
}

crate::stored_enum! {
    /// Whether a unit is live.
    pub enum UnitStatus {
        Active = "ACTIVE",
        /// Merged into another unit: read-only history below it.
        Merged = "MERGED",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
