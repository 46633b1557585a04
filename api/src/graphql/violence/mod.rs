//! Domestic-violence concerns over GraphQL (see `service::violence` for the rules).
//!
//! The types here render views the service has already shaped for their reader (see
//! `service::violence::officer` and `service::violence::reporter`): what a report says is
//! opened, withheld and de-identified there, never in a resolver. Every argument carrying it is
//! marked `secret` (async-graphql keeps such values out of its logging and tracing of
//! requests), and no error names a value, only a field.
//!
//! Three views of a report: [`ViolenceReportSummary`] (the queue: nothing anyone wrote),
//! [`ViolenceReport`] (the details, for case officers; each read logged) and
//! [`MyViolenceReport`] (the reporter's: its public steps, officers named by role).

use async_graphql::{Enum, ID};
use entities::ids::ReportId;
use service::{domain::GlobalId, error::ApiError};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceAffected", remote = "service::violence::Affected")]
pub enum GqlAffected {
    /// The reporter herself.
    #[graphql(name = "SELF")]
    OneSelf,
    FamilyMember,
    Neighbour,
    Child,
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceAgeGroup", remote = "service::violence::AgeGroup")]
pub enum GqlAgeGroup {
    /// Under 16.
    Child,
    /// 16 to 30.
    Youth,
    /// 31 to 59.
    Adult,
    /// 60 and over.
    Elderly,
    Unknown,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceKind", remote = "service::violence::ViolenceKind")]
pub enum GqlViolenceKind {
    Physical,
    Psychological,
    Sexual,
    Economic,
    Neglect,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "SafeContactChannel", remote = "service::violence::ContactChannel")]
pub enum GqlContactChannel {
    Call,
    Sms,
    /// Only through the app (messages on the report).
    InApp,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceReportStatus", remote = "service::violence::ReportStatus")]
pub enum GqlReportStatus {
    Submitted,
    Acknowledged,
    InProgress,
    Referred,
    Resolved,
    Closed,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceCloseReason", remote = "service::violence::CloseReason")]
pub enum GqlCloseReason {
    Resolved,
    Unfounded,
    Duplicate,
    Withdrawn,
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ReferralAgency", remote = "service::violence::Agency")]
pub enum GqlAgency {
    Police,
    /// The commune (ward) People's Committee.
    CommuneCommittee,
    HealthFacility,
    LegalAid,
    Shelter,
    Other,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceReportStepKind", remote = "service::violence::EventKind")]
pub enum GqlEventKind {
    Submitted,
    Acknowledged,
    /// Internal.
    Assigned,
    /// Internal.
    Note,
    /// From an officer to the reporter.
    Message,
    Referral,
    StatusChanged,
    Reopened,
    /// Internal: moved up the tree unacknowledged.
    Escalated,
    /// From the reporter.
    InformationAdded,
    Withdrawn,
    /// Internal: the assigned officer's case role ended; the report is back in the queue.
    Unassigned,
    /// Internal: offered to another unit's case officers (`unit`); it stays with the sender
    /// until they answer.
    TransferRequested,
    /// Internal: the receiving unit (`unit`) took the case; `assignee` is who accepted.
    TransferAccepted,
    /// Internal: the receiving unit declined (the reason is `text`).
    TransferDeclined,
    /// Internal: the sender took the request back.
    TransferCancelled,
    /// Internal: closing asked of a supervisor (`closeReason`, and why in `text`).
    ClosureRequested,
    /// A supervisor approved: the report is closed.
    ClosureApproved,
    /// Internal: a supervisor sent it back open (the reason is `text`).
    ClosureRejected,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceActorRole", remote = "service::violence::ActorRole")]
pub enum GqlActorRole {
    Reporter,
    CaseOfficer,
    System,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ViolenceAccessAction", remote = "service::violence::AccessAction")]
pub enum GqlAccessAction {
    Submit,
    Read,
    ReadLog,
    Acknowledge,
    Assign,
    Note,
    Message,
    Referral,
    ChangeStatus,
    Reopen,
    Escalate,
    ReporterRead,
    AddInformation,
    Withdraw,
    /// A transfer asked, accepted, declined or cancelled.
    Transfer,
    /// A closure asked, approved or rejected.
    Closure,
}

fn report_id(id: &ID, field: &'static str) -> Result<ReportId, ApiError> {
    GlobalId::decode_id::<ReportId>(id, field)
}

fn report_gid(id: ReportId) -> ID {
    GlobalId::of(id).encode().into()
}

mod officer;
mod queue;
mod reporter;
mod submit;
mod workflow;

pub use officer::{ViolenceAccessLogEntry, ViolenceReport, ViolenceReportStep};
pub use queue::{ViolenceReportSummary, ViolenceSubscription};
pub use reporter::MyViolenceReport;

/// The violence queries, one part per file.
#[derive(async_graphql::MergedObject, Default)]
pub struct ViolenceQuery(
    queue::QueueQuery,
    officer::OfficerQuery,
    queue::CountsQuery,
    reporter::ReporterQuery,
);

/// The violence mutations, one part per file.
#[derive(async_graphql::MergedObject, Default)]
pub struct ViolenceMutation(submit::SubmitMutation, workflow::WorkflowMutation, reporter::ReporterMutation);
