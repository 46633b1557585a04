//! The capability table: which officer roles let a person do what, over which units. Every
//! role rule of the service is a row here; the checks in [`super`] read it, and nothing else
//! names a role to decide access.
//!
//! A role held at a unit reaches that unit and its whole subtree. Each grant says where the
//! role must sit relative to the unit acted on:
//!
//! | Capability              | `BRANCH_LEADER`   | `UNIT_OFFICER` | `CASE_OFFICER` | `UNIT_ADMIN`    | system admin |
//! |-------------------------|-------------------|----------------|----------------|-----------------|--------------|
//! | `ViewUnit`              | at or above       | at or above    | at or above    | at or above     | yes          |
//! | `ManageMembers`         | at or above       | at or above    | —              | at or above     | yes          |
//! | `ReviewPledges`         | at or above       | at or above    | —              | at or above     | yes          |
//! | `SetPopulation`         | —                 | at or above    | —              | at or above     | yes          |
//! | `ManageTrainings`       | of a branch       | at or above    | —              | —               | yes          |
//! | `PublishNews`           | of a branch       | at or above    | —              | at or above     | yes          |
//! | `ManageCampaigns`       | —                 | at or above    | —              | at or above     | yes          |
//! | `SetTargets`            | —                 | at or above    | —              | at or above     | yes          |
//! | `ReportIndicators`      | of a branch       | at or above    | —              | at or above     | yes          |
//! | `HandleViolenceReports` | —                 | —              | at or above    | —               | **no**       |
//! | `ManageStructure`       | —                 | —              | —              | at or above     | yes          |
//! | `AssignRoles`           | —                 | —              | —              | at or above     | yes          |
//! | `AssignAdmins`          | —                 | —              | —              | strictly above  | yes          |
//! | `ManageIntegrations`    | —                 | —              | —              | at the root     | yes          |
//! | `ViewAuditTrail`        | —                 | —              | —              | at or above     | yes          |
//! | `ModerateContent`       | at or above       | at or above    | —              | at or above     | yes          |
//! | `SubmitRating`          | of a branch       | at or above    | —              | at or above     | yes          |
//! | `ReviewRatings`         | —                 | strictly above | —              | strictly above  | yes          |
//! | `NominateAwards`        | of a branch       | at or above    | —              | at or above     | yes          |
//! | `DecideAwards`          | —                 | at or above    | —              | at or above     | yes          |
//!
//! "Of a branch": held at or above the unit, and the unit acted on is a branch (a branch leader
//! runs her branch's trainings, posts and reported figures, not those of the groups below it).
//!
//! Decided cases, where the areas had drifted apart before this table:
//!
//! - **A unit admin publishes news but does not run trainings.** News announces what the unit
//!   does, structure changes included, and admins have always published it; a training is
//!   programme work (registrations, waitlists, rosters, check-in of named people) that belongs to
//!   the unit's officers and branch leaders. Both behaviours were already pinned by tests; the
//!   table now says so instead of two `manages_unit` helpers disagreeing silently.
//! - **A branch leader's managing rights stop at branches** for trainings, news and reported
//!   figures (each area checked the unit's kind by hand, identically); her member-management and
//!   pledge-review rights are the member managers' and reach her whole subtree, as before.
//! - **Setting population figures is an officer's or admin's act**, not a branch leader's: the
//!   figure is the denominator of the attraction rate a leader is measured by.
//! - **Reading violence reports is never a system administrator's right.** Only case officers
//!   with jurisdiction read a report (see `docs/features/violence.md`); an administrator sees the
//!   counts (`ViewUnit`) like any other officer over the unit.
//! - **Granting `UNIT_ADMIN` needs an admin strictly above** the unit, so nobody mints a peer of
//!   her own level; every other role is granted by an admin at or above.
//! - **Integration clients are the city's business.** A partner system reads whatever subtree
//!   it is given, so only an admin at the root (or a system administrator) registers one: the
//!   check is made over the root of the tree (`integrations::clients`).
//! - **Moderation is the member managers' work.** A branch leader keeps her branch's
//!   conversation respectful (she knows its members); unit officers and admins above do it for
//!   their subtree and hear the appeals of the levels below. Case officers do not moderate:
//!   their role is the violence reports.
//! - **A unit rates itself; the level above decides.** Its officers (a branch leader for her
//!   branch) write the self-assessment and propose a rating; officers and admins strictly above
//!   confirm it, and nobody confirms a rating she submitted herself (`service::ratings`). The
//!   criteria the units below are assessed against are set by whoever sets their targets
//!   (`SetTargets` over the unit that sets them).
//! - **Awards are proposed from below and decided at their level.** A unit's officers (a branch
//!   leader for her branch and its members) nominate; the officers and admins of the unit whose
//!   award it is define its kinds and decide, and nobody decides a nomination she made
//!   (`service::awards`).
//! - **The audit trail is the admins' oversight.** An admin reads what every officer of her
//!   subtree did (`service::audit`); officers are not each other's auditors, and a case
//!   officer's report work is in each report's own access log, not here.

use super::Role;

/// Something an officer does over a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capability {
    /// See a unit's figures and lists: member and training statistics, target progress, report
    /// counts, a unit as the filter of a console list. Any officer role.
    ViewUnit,
    /// Enrol, import, approve, suspend, move and search the members of the unit's branches.
    ManageMembers,
    /// Certify or reject members' pledges to campaigns.
    ReviewPledges,
    /// Enter the number of adult women living in the unit's area.
    SetPopulation,
    /// Create, publish, cancel trainings; see their drafts, registrations and rosters; check in.
    ManageTrainings,
    /// Create, edit, publish and unpublish news posts.
    PublishNews,
    /// Create, edit, launch and end campaigns.
    ManageCampaigns,
    /// Set the targets of the units below.
    SetTargets,
    /// Report the unit's own figure for a reported indicator.
    ReportIndicators,
    /// Read and work domestic-violence reports placed in the unit.
    HandleViolenceReports,
    /// Create, rename and move units.
    ManageStructure,
    /// Grant and revoke every role but `UNIT_ADMIN`; list a unit's roles.
    AssignRoles,
    /// Grant and revoke `UNIT_ADMIN`.
    AssignAdmins,
    /// Register integration clients and manage their secrets (asked over the root unit).
    ManageIntegrations,
    /// Read the audit trail of the officer actions over the unit's subtree.
    ViewAuditTrail,
    /// Work the moderation queue of members' comments and stories placed in the unit (and
    /// set its moderation settings).
    ModerateContent,
    /// Write a unit's self-assessment for its yearly rating and submit it.
    SubmitRating,
    /// Confirm (or send back) the ratings the units below submit.
    ReviewRatings,
    /// Nominate the unit, the units below it and their people for awards.
    NominateAwards,
    /// Define the unit's kinds of award and approve or decline nominations for them.
    DecideAwards,
}

/// Where a granting role must be held relative to the unit acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// At the unit or any ancestor.
    AtOrAbove,
    /// At the unit or any ancestor, when the unit acted on is a branch.
    AtOrAboveBranch,
    /// At a strict ancestor of the unit.
    StrictlyAbove,
}

/// One cell of the table: `role` grants the capability when held in `position`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub position: Position,
}

const fn at(role: Role) -> Grant {
    Grant { role, position: Position::AtOrAbove }
}

const fn of_branch(role: Role) -> Grant {
    Grant { role, position: Position::AtOrAboveBranch }
}

const fn above(role: Role) -> Grant {
    Grant { role, position: Position::StrictlyAbove }
}

impl Capability {
    pub const ALL: [Capability; 20] = [
        Capability::ViewUnit,
        Capability::ManageMembers,
        Capability::ReviewPledges,
        Capability::SetPopulation,
        Capability::ManageTrainings,
        Capability::PublishNews,
        Capability::ManageCampaigns,
        Capability::SetTargets,
        Capability::ReportIndicators,
        Capability::HandleViolenceReports,
        Capability::ManageStructure,
        Capability::AssignRoles,
        Capability::AssignAdmins,
        Capability::ManageIntegrations,
        Capability::ViewAuditTrail,
        Capability::ModerateContent,
        Capability::SubmitRating,
        Capability::ReviewRatings,
        Capability::NominateAwards,
        Capability::DecideAwards,
    ];

    /// The table: the roles that grant the capability, and where.
    pub const fn grants(self) -> &'static [Grant] {
        use Role::*;
        match self {
            Capability::ViewUnit => {
                const { &[at(BranchLeader), at(UnitOfficer), at(CaseOfficer), at(UnitAdmin)] }
            }
            Capability::ManageMembers | Capability::ReviewPledges | Capability::ModerateContent => {
                const { &[at(BranchLeader), at(UnitOfficer), at(UnitAdmin)] }
            }
            Capability::SetPopulation
            | Capability::ManageCampaigns
            | Capability::SetTargets
            | Capability::DecideAwards => const { &[at(UnitOfficer), at(UnitAdmin)] },
            Capability::ManageTrainings => const { &[of_branch(BranchLeader), at(UnitOfficer)] },
            Capability::PublishNews
            | Capability::ReportIndicators
            | Capability::SubmitRating
            | Capability::NominateAwards => {
                const { &[of_branch(BranchLeader), at(UnitOfficer), at(UnitAdmin)] }
            }
            Capability::HandleViolenceReports => const { &[at(CaseOfficer)] },
            Capability::ManageStructure
            | Capability::AssignRoles
            | Capability::ManageIntegrations
            | Capability::ViewAuditTrail => const { &[at(UnitAdmin)] },
            Capability::AssignAdmins => const { &[above(UnitAdmin)] },
            Capability::ReviewRatings => const { &[above(UnitOfficer), above(UnitAdmin)] },
        }
    }

    /// Whether the capability is still exercised over a unit merged into another: reading, and
    /// finishing what its history holds — a violence report that reached it (it is never left
    /// unhandled) and a rating it submitted before the merge. Anything else is refused there.
    pub const fn allowed_when_merged(self) -> bool {
        matches!(
            self,
            Capability::ViewUnit
                | Capability::ViewAuditTrail
                | Capability::HandleViolenceReports
                | Capability::ReviewRatings
        )
    }

    /// Whether a system administrator has the capability over every unit.
    pub const fn system_admin(self) -> bool {
        !matches!(self, Capability::HandleViolenceReports)
    }

    /// The roles that grant the capability anywhere (for statements that filter role rows).
    pub fn roles(self) -> impl Iterator<Item = Role> {
        self.grants().iter().map(|g| g.role)
    }

    /// Whether `role` grants the capability (in some position).
    pub fn granted_by(self, role: Role) -> bool {
        self.roles().any(|r| r == role)
    }

    /// The capability needed to grant or revoke `role`.
    pub fn to_assign(role: Role) -> Capability {
        if role == Role::UnitAdmin { Capability::AssignAdmins } else { Capability::AssignRoles }
    }
}
