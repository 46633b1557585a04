//! The audit trail: one row per officer action, append-only (the database refuses UPDATE and
//! DELETE). `changes` is a JSON array of `{"field", "before", "after"}` with text or null values,
//! written by `service::audit`, which never puts a sealed value there.

use crate::ids::{PersonId, UnitId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: DateTimeUtc,
    pub actor_id: PersonId,
    /// The role the action was allowed by.
    pub actor_role: AuditRole,
    pub area: AuditArea,
    pub action: AuditAction,
    /// The unit the action was over (what a subtree query filters on).
    pub unit_id: UnitId,
    pub subject_kind: SubjectKind,
    pub subject_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub changes: String,
}

crate::stored_enum! {
    /// The role an action was allowed by: an officer role, or a system administrator's right.
    pub enum AuditRole {
        BranchLeader = "BRANCH_LEADER",
        UnitOfficer = "UNIT_OFFICER",
        CaseOfficer = "CASE_OFFICER",
        UnitAdmin = "UNIT_ADMIN",
        SystemAdmin = "SYSTEM_ADMIN",
    }
}

crate::stored_enum! {
    /// The area an action belongs to.
    pub enum AuditArea {
        Structure = "STRUCTURE",
        Roles = "ROLES",
        Membership = "MEMBERSHIP",
        Imports = "IMPORTS",
        Trainings = "TRAININGS",
        Campaigns = "CAMPAIGNS",
        Targets = "TARGETS",
        News = "NEWS",
        Integrations = "INTEGRATIONS",
        Moderation = "MODERATION",
        Ratings = "RATINGS",
        Awards = "AWARDS",
    }
}

crate::stored_enum! {
    /// What was done.
    pub enum AuditAction {
        UnitCreated = "UNIT_CREATED",
        UnitRenamed = "UNIT_RENAMED",
        UnitMoved = "UNIT_MOVED",
        UnitMerged = "UNIT_MERGED",
        CaseClosureApprovalSet = "CASE_CLOSURE_APPROVAL_SET",
        RoleAssigned = "ROLE_ASSIGNED",
        RoleRevoked = "ROLE_REVOKED",
        RequestApproved = "REQUEST_APPROVED",
        RequestRejected = "REQUEST_REJECTED",
        MemberEnrolled = "MEMBER_ENROLLED",
        MemberInvited = "MEMBER_INVITED",
        MembershipSuspended = "MEMBERSHIP_SUSPENDED",
        MembershipReinstated = "MEMBERSHIP_REINSTATED",
        PopulationSet = "POPULATION_SET",
        MembersImported = "MEMBERS_IMPORTED",
        TrainingCreated = "TRAINING_CREATED",
        TrainingUpdated = "TRAINING_UPDATED",
        TrainingPublished = "TRAINING_PUBLISHED",
        TrainingCancelled = "TRAINING_CANCELLED",
        TrainingCompleted = "TRAINING_COMPLETED",
        CheckedIn = "CHECKED_IN",
        CampaignCreated = "CAMPAIGN_CREATED",
        CampaignUpdated = "CAMPAIGN_UPDATED",
        CampaignLaunched = "CAMPAIGN_LAUNCHED",
        CampaignEnded = "CAMPAIGN_ENDED",
        PledgeCertified = "PLEDGE_CERTIFIED",
        PledgeReturned = "PLEDGE_RETURNED",
        IndicatorCreated = "INDICATOR_CREATED",
        TargetSet = "TARGET_SET",
        ValueReported = "VALUE_REPORTED",
        PostCreated = "POST_CREATED",
        PostUpdated = "POST_UPDATED",
        PostUnpublished = "POST_UNPUBLISHED",
        PostRepublished = "POST_REPUBLISHED",
        ClientRegistered = "CLIENT_REGISTERED",
        ClientSecretAdded = "CLIENT_SECRET_ADDED",
        ClientSecretRevoked = "CLIENT_SECRET_REVOKED",
        ClientRevoked = "CLIENT_REVOKED",
        TrustedDocumentAdded = "TRUSTED_DOCUMENT_ADDED",
        TrustedDocumentRemoved = "TRUSTED_DOCUMENT_REMOVED",
        WebhookCreated = "WEBHOOK_CREATED",
        WebhookDisabled = "WEBHOOK_DISABLED",
        WebhookEnabled = "WEBHOOK_ENABLED",
        WebhookDeleted = "WEBHOOK_DELETED",
        WebhookReplayed = "WEBHOOK_REPLAYED",
        ContentApproved = "CONTENT_APPROVED",
        ContentHidden = "CONTENT_HIDDEN",
        ContentDeleted = "CONTENT_DELETED",
        AppealUpheld = "APPEAL_UPHELD",
        AppealDismissed = "APPEAL_DISMISSED",
        ContentSettingsSet = "CONTENT_SETTINGS_SET",
        RatingCriteriaSet = "RATING_CRITERIA_SET",
        RatingSubmitted = "RATING_SUBMITTED",
        RatingReturned = "RATING_RETURNED",
        RatingConfirmed = "RATING_CONFIRMED",
        AwardKindCreated = "AWARD_KIND_CREATED",
        AwardKindUpdated = "AWARD_KIND_UPDATED",
        NominationMade = "NOMINATION_MADE",
        AwardApproved = "AWARD_APPROVED",
        NominationDeclined = "NOMINATION_DECLINED",
    }
}

impl AuditAction {
    /// The area the action belongs to.
    pub fn area(self) -> AuditArea {
        use AuditAction::*;
        match self {
            UnitCreated | UnitRenamed | UnitMoved | UnitMerged | CaseClosureApprovalSet => {
                AuditArea::Structure
            }
            RoleAssigned | RoleRevoked => AuditArea::Roles,
            RequestApproved | RequestRejected | MemberEnrolled | MemberInvited | MembershipSuspended
            | MembershipReinstated | PopulationSet => AuditArea::Membership,
            MembersImported => AuditArea::Imports,
            TrainingCreated | TrainingUpdated | TrainingPublished | TrainingCancelled | TrainingCompleted
            | CheckedIn => AuditArea::Trainings,
            CampaignCreated | CampaignUpdated | CampaignLaunched | CampaignEnded | PledgeCertified
            | PledgeReturned => AuditArea::Campaigns,
            IndicatorCreated | TargetSet | ValueReported => AuditArea::Targets,
            PostCreated | PostUpdated | PostUnpublished | PostRepublished => AuditArea::News,
            ClientRegistered
            | ClientSecretAdded
            | ClientSecretRevoked
            | ClientRevoked
            | TrustedDocumentAdded
            | TrustedDocumentRemoved
            | WebhookCreated
            | WebhookDisabled
            | WebhookEnabled
            | WebhookDeleted
            | WebhookReplayed => AuditArea::Integrations,
            ContentApproved | ContentHidden | ContentDeleted | AppealUpheld | AppealDismissed
            | ContentSettingsSet => AuditArea::Moderation,
            RatingCriteriaSet | RatingSubmitted | RatingReturned | RatingConfirmed => AuditArea::Ratings,
            AwardKindCreated | AwardKindUpdated | NominationMade | AwardApproved | NominationDeclined => {
                AuditArea::Awards
            }
        }
    }
}

crate::stored_enum! {
    /// The kind of record an action was on.
    pub enum SubjectKind {
        Unit = "UNIT",
        OfficerRole = "OFFICER_ROLE",
        MembershipRequest = "MEMBERSHIP_REQUEST",
        Membership = "MEMBERSHIP",
        Person = "PERSON",
        PopulationFigure = "POPULATION_FIGURE",
        Import = "IMPORT",
        Training = "TRAINING",
        Registration = "REGISTRATION",
        Campaign = "CAMPAIGN",
        Pledge = "PLEDGE",
        Indicator = "INDICATOR",
        Target = "TARGET",
        ReportedValue = "REPORTED_VALUE",
        Post = "POST",
        IntegrationClient = "INTEGRATION_CLIENT",
        IntegrationSecret = "INTEGRATION_SECRET",
        TrustedDocument = "TRUSTED_DOCUMENT",
        WebhookSubscription = "WEBHOOK_SUBSCRIPTION",
        WebhookDelivery = "WEBHOOK_DELIVERY",
        ModerationCase = "MODERATION_CASE",
        ContentSettings = "CONTENT_SETTINGS",
        UnitRating = "UNIT_RATING",
        RatingCriteria = "RATING_CRITERIA",
        AwardKind = "AWARD_KIND",
        AwardNomination = "AWARD_NOMINATION",
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<crate::officer_role::Role> for AuditRole {
    fn from(role: crate::officer_role::Role) -> Self {
        use crate::officer_role::Role;
        match role {
            Role::BranchLeader => AuditRole::BranchLeader,
            Role::UnitOfficer => AuditRole::UnitOfficer,
            Role::CaseOfficer => AuditRole::CaseOfficer,
            Role::UnitAdmin => AuditRole::UnitAdmin,
        }
    }
}
