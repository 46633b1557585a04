//! One step on a report's timeline. `public` steps are shown to the reporter (with the actor as
//! a role, never a name); notes and escalations are internal. Free text is sealed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "violence_report_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub report_id: Uuid,
    pub kind: String,
    pub public: bool,
    /// The officer or signed-in reporter; `None` for an anonymous reporter or the system.
    pub actor_id: Option<Uuid>,
    /// `REPORTER`, `CASE_OFFICER` or `SYSTEM`.
    pub actor_role: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub close_reason: Option<String>,
    /// Sealed: a note, a message, added information, a reason or a referral's outcome.
    pub body: Option<Vec<u8>>,
    pub agency: Option<String>,
    pub referred_on: Option<Date>,
    /// For an escalation, the unit it moved to.
    pub unit_id: Option<Uuid>,
    /// For an assignment, the officer assigned.
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
