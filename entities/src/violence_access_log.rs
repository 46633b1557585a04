//! Who read or changed a report, in which role, and when. Append-only: the database refuses
//! UPDATE and DELETE on this table.

use crate::ids::{PersonId, ReportId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "violence_access_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub report_id: ReportId,
    /// `None` for an anonymous reporter (who proved the PIN) or the system.
    pub person_id: Option<PersonId>,
    pub role: crate::violence_report_event::ActorRole,
    pub action: AccessAction,
    pub at: DateTimeUtc,
}

crate::stored_enum! {
    /// What an access-log row records.
    pub enum AccessAction {
        Submit = "SUBMIT",
        Read = "READ",
        ReadLog = "READ_LOG",
        Acknowledge = "ACKNOWLEDGE",
        Assign = "ASSIGN",
        Note = "NOTE",
        Message = "MESSAGE",
        Referral = "REFERRAL",
        ChangeStatus = "CHANGE_STATUS",
        Reopen = "REOPEN",
        Escalate = "ESCALATE",
        ReporterRead = "REPORTER_READ",
        AddInformation = "ADD_INFORMATION",
        Withdraw = "WITHDRAW",
        /// A transfer asked, accepted, declined or cancelled.
        Transfer = "TRANSFER",
        /// A closure asked, approved or rejected.
        Closure = "CLOSURE",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
