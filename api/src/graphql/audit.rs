//! The audit trail of officer actions (`auditTrail`): what every officer of a subtree did,
//! newest first, for its admins. See `service::audit`.

use async_graphql::{Context, Enum, ID, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};
use entities::ids::{PersonId, UnitId};
use service::audit::{self, Change, Cursor, Event, Filter, SubjectKind};
use service::domain::{GlobalId, NodeKind};

use crate::graphql::{
    ContextExt,
    connection::{build, page},
    identity::PersonRef,
    org::OrgUnit,
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AuditArea", remote = "service::audit::Area")]
pub enum GqlArea {
    /// Units created, renamed, moved, merged.
    Structure,
    /// Officer roles granted and revoked.
    Roles,
    /// Join and transfer decisions, enrolments, suspensions, population figures.
    Membership,
    /// Member imports (one entry per branch written to).
    Imports,
    Trainings,
    /// Campaigns and pledge reviews.
    Campaigns,
    /// Indicators, targets and reported values.
    Targets,
    /// News posts: published, edited, taken down, put back.
    News,
    /// Integration clients, their secrets, trusted documents and webhooks.
    Integrations,
    /// Moderation decisions on members' comments and stories, appeals, moderation settings.
    Moderation,
    /// Units' yearly ratings: criteria set, self-assessments submitted, ratings sent back or
    /// confirmed.
    Ratings,
    /// Kinds of award, nominations, approvals and declines.
    Awards,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AuditRole", remote = "service::audit::AuditRole")]
pub enum GqlRole {
    BranchLeader,
    UnitOfficer,
    CaseOfficer,
    UnitAdmin,
    /// A system administrator's right, not an officer role.
    SystemAdmin,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AuditAction", remote = "service::audit::Action")]
pub enum GqlAction {
    UnitCreated,
    UnitRenamed,
    UnitMoved,
    /// A unit merged into another (`mergedIntoId`); the subject is the unit merged.
    UnitMerged,
    /// Whether closing a report needs a supervisor's approval in the unit's subtree.
    CaseClosureApprovalSet,
    RoleAssigned,
    RoleRevoked,
    RequestApproved,
    RequestRejected,
    MemberEnrolled,
    /// `enrolMember` with a number the service knew: she was invited.
    MemberInvited,
    MembershipSuspended,
    MembershipReinstated,
    PopulationSet,
    MembersImported,
    TrainingCreated,
    TrainingUpdated,
    TrainingPublished,
    TrainingCancelled,
    TrainingCompleted,
    /// A check-in, by code or by hand (`method`).
    CheckedIn,
    CampaignCreated,
    CampaignUpdated,
    CampaignLaunched,
    CampaignEnded,
    PledgeCertified,
    PledgeReturned,
    IndicatorCreated,
    TargetSet,
    ValueReported,
    PostCreated,
    PostUpdated,
    PostUnpublished,
    PostRepublished,
    ClientRegistered,
    ClientSecretAdded,
    ClientSecretRevoked,
    ClientRevoked,
    TrustedDocumentAdded,
    TrustedDocumentRemoved,
    WebhookCreated,
    WebhookDisabled,
    WebhookEnabled,
    WebhookDeleted,
    WebhookReplayed,
    ContentApproved,
    ContentHidden,
    ContentDeleted,
    /// An appeal approved: the decision appealed undone.
    AppealUpheld,
    /// An appeal refused: the decision appealed stands.
    AppealDismissed,
    ContentSettingsSet,
    /// The criteria of a year for the units below a unit (the subject is that unit).
    RatingCriteriaSet,
    RatingSubmitted,
    /// A submitted rating sent back to its unit with a reason.
    RatingReturned,
    RatingConfirmed,
    AwardKindCreated,
    /// A kind of award switched on or off.
    AwardKindUpdated,
    NominationMade,
    AwardApproved,
    NominationDeclined,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AuditSubjectKind", remote = "service::audit::SubjectKind")]
pub enum GqlSubjectKind {
    Unit,
    OfficerRole,
    MembershipRequest,
    Membership,
    Person,
    PopulationFigure,
    /// One member import (its entries share the id).
    Import,
    Training,
    Registration,
    Campaign,
    Pledge,
    Indicator,
    Target,
    ReportedValue,
    Post,
    IntegrationClient,
    IntegrationSecret,
    TrustedDocument,
    WebhookSubscription,
    WebhookDelivery,
    ModerationCase,
    /// A unit's moderation settings (the id is the unit's).
    ContentSettings,
    UnitRating,
    /// The rating criteria a unit set for the units below it (the id is the unit's).
    RatingCriteria,
    AwardKind,
    AwardNomination,
}

/// The node kind of a subject, for those that are nodes.
fn node_kind(kind: SubjectKind) -> Option<NodeKind> {
    use SubjectKind as S;
    Some(match kind {
        S::Unit => NodeKind::OrgUnit,
        S::OfficerRole => NodeKind::OfficerRole,
        S::MembershipRequest => NodeKind::MembershipRequest,
        S::Membership => NodeKind::Membership,
        S::Person => NodeKind::Person,
        S::Training => NodeKind::Training,
        S::Registration => NodeKind::TrainingRegistration,
        S::Campaign => NodeKind::Campaign,
        S::Pledge => NodeKind::Pledge,
        S::Indicator => NodeKind::Indicator,
        S::Post => NodeKind::Post,
        S::IntegrationClient => NodeKind::IntegrationClient,
        S::IntegrationSecret => NodeKind::IntegrationSecret,
        S::TrustedDocument => NodeKind::TrustedDocument,
        S::WebhookSubscription => NodeKind::WebhookSubscription,
        S::WebhookDelivery => NodeKind::WebhookDelivery,
        S::ModerationCase => NodeKind::ModerationCase,
        S::ContentSettings => NodeKind::OrgUnit,
        S::UnitRating => NodeKind::UnitRating,
        S::RatingCriteria => NodeKind::OrgUnit,
        S::AwardKind => NodeKind::AwardKind,
        S::AwardNomination => NodeKind::AwardNomination,
        S::PopulationFigure | S::Import | S::Target | S::ReportedValue => return None,
    })
}

/// One field an action changed. Values are text: enums by their names, times in RFC 3339
/// (UTC), ids as UUIDs; `null` for no value.
pub struct AuditChange(Change);

#[Object]
impl AuditChange {
    async fn field(&self) -> &str {
        &self.0.field
    }

    async fn before(&self) -> Option<&str> {
        self.0.before.as_deref()
    }

    async fn after(&self) -> Option<&str> {
        self.0.after.as_deref()
    }
}

/// One officer action.
pub struct AuditEvent(Event);

#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// Who acted.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, Some(self.0.actor_id)).await
    }

    /// The role that allowed the action.
    async fn actor_role(&self) -> GqlRole {
        self.0.actor_role.into()
    }

    async fn area(&self) -> GqlArea {
        self.0.area.into()
    }

    async fn action(&self) -> GqlAction {
        self.0.action.into()
    }

    /// The unit the action was over.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        Ok(crate::graphql::unit(ctx, self.0.unit_id).await?.map(OrgUnit))
    }

    async fn subject_kind(&self) -> GqlSubjectKind {
        self.0.subject_kind.into()
    }

    /// The record acted on: its global id for the kinds that are nodes (`node(id:)` reads it,
    /// for whoever may see it), the bare UUID for `POPULATION_FIGURE`, `IMPORT`, `TARGET` and
    /// `REPORTED_VALUE`.
    async fn subject_id(&self) -> Option<ID> {
        let id = self.0.subject_id?;
        Some(ID(match node_kind(self.0.subject_kind) {
            Some(kind) => GlobalId::new(kind, id).encode(),
            None => id.to_string(),
        }))
    }

    /// The fields the action changed, before and after (a new record: `before` is null).
    async fn changes(&self) -> Vec<AuditChange> {
        self.0.changes.iter().cloned().map(AuditChange).collect()
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The officer actions over a unit's subtree, newest first: for a `UNIT_ADMIN` at or above
    /// the unit, or a system administrator (`FORBIDDEN` for other officers over it, `NOT_FOUND`
    /// for anyone else). Narrowed by who acted, the area, and a time range (`since` inclusive,
    /// `until` exclusive). Entries are never changed or removed. Violence reports are not
    /// here: each has its own access log (`violenceReportAccessLog`).
    #[allow(clippy::too_many_arguments)] // the filters of one list, each optional
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        actor_id: Option<ID>,
        area: Option<GqlArea>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEvent>> {
        ctx.auth()?.require()?;
        let page = page::<Cursor>(first, after.as_deref())?;
        let filter = Filter {
            unit_id: GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?,
            actor_id: actor_id.map(|a| GlobalId::decode_id::<PersonId>(&a, "actorId")).transpose()?,
            area: area.map(Into::into),
            since,
            until,
        };
        let (rows, has_next) = audit::page(ctx.call()?, &filter, page.first, page.after.as_ref()).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |e| Cursor { at: e.at, id: e.id },
            AuditEvent,
        ))
    }
}
