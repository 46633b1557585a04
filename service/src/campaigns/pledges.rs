//! Pledges to campaigns and their review (certification against the campaign's criteria).
//!
//! - **Who pledges**: an active member whose branch is in the campaign unit's subtree, to an
//!   active campaign, for a year of its term; for herself (`PERSONAL`) or for her household
//!   (`HOUSEHOLD`, with a label and a number of people). One pledge per person, campaign, year
//!   and kind, and one per household (her branch and the folded label), campaign and year: the
//!   unique indexes `ux_pledge_person` and `ux_pledge_household` keep this under concurrency,
//!   and a refused insert answers `CONFLICT` `ALREADY_PLEDGED`.
//! - **Who reviews**: member managers (`BRANCH_LEADER`, `UNIT_OFFICER`, `UNIT_ADMIN`) at or above
//!   the pledge's branch, never the pledge's owner. A review is a conditional update from
//!   `SUBMITTED`, so of two reviewers deciding at the same moment exactly one wins; certifying
//!   a household pledge counts it in `unit_activity_day` in the same transaction.
//! - **Who sees a pledge**: its owner and the reviewers in reach; anyone else gets `NOT_FOUND`.

mod list;

use crate::Call;
use crate::audit;
use chrono::{Datelike, Utc};
use entities::ids::{CampaignId, UnitId};
use entities::{campaign, org_unit_closure as closure, pledge};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::Expr,
};
use uuid::Uuid;

pub use list::{
    MyPledgeCursor, QueueCursor, ReviewFilter, ReviewQuery, count_my_pledges, count_review_queue, my_pledges,
    pledges_of, review_query, review_queue,
};

use super::{
    activity::{self, Metric},
    campaign::{CampaignStatus, can_see, criteria_of},
};
use crate::{
    auth::Viewer,
    authz::{self, Capability},
    domain::hanoi_day,
    domain::{GlobalId, NodeKind, fold_for_search, normalise_text, parse_optional_text},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    {
        membership::{MemberStatus, current_membership},
        notifications::{self, NewNotification, NotificationKind},
    },
};

pub use entities::pledge::{PledgeKind, PledgeStatus};

const MAX_LABEL: usize = 200;
const MAX_HOUSEHOLD: i32 = 50;
const MAX_NOTE: usize = 1000;
const MAX_COMMENT: usize = 1000;
/// Most ids a review's `checks` may list (a campaign has at most 20 criteria).
const MAX_CHECKS: usize = 50;

/// A new pledge.
#[derive(Clone, Debug)]
pub struct PledgeInput {
    pub kind: PledgeKind,
    pub year: i32,
    pub details: PledgeDetails,
}

/// What the member writes about her pledge (and may change when it is returned to her).
#[derive(Clone, Debug, Default)]
pub struct PledgeDetails {
    pub household_label: Option<String>,
    pub household_size: Option<i32>,
    pub note: Option<String>,
}

/// [`PledgeDetails`] checked against the pledge's kind.
struct Checked {
    household: Option<(String, String, i32)>,
    note: Option<String>,
}

impl PledgeDetails {
    fn check(&self, kind: PledgeKind) -> Result<Checked, ApiError> {
        let label = self.household_label.as_deref().map(normalise_text).filter(|s| !s.is_empty());
        let household = match kind {
            PledgeKind::Personal => {
                if label.is_some() {
                    return Err(ApiError::bad_input("household_label", InputProblem::OutOfRange));
                }
                if self.household_size.is_some() {
                    return Err(ApiError::bad_input("household_size", InputProblem::OutOfRange));
                }
                None
            }
            PledgeKind::Household => {
                let label = label.ok_or(ApiError::bad_input("household_label", InputProblem::Required))?;
                if label.chars().count() > MAX_LABEL {
                    return Err(ApiError::bad_input("household_label", InputProblem::TooLong));
                }
                let size = self
                    .household_size
                    .ok_or(ApiError::bad_input("household_size", InputProblem::Required))?;
                if !(1..=MAX_HOUSEHOLD).contains(&size) {
                    return Err(ApiError::bad_input("household_size", InputProblem::OutOfRange));
                }
                let key = fold_for_search(&label);
                Some((label, key, size))
            }
        };
        let note = parse_optional_text(self.note.as_deref(), MAX_NOTE, "note")?;
        Ok(Checked { household, note })
    }
}

/// Whether `unit_id` is `ancestor` or below it.
async fn is_within(conn: &impl ConnectionTrait, unit_id: UnitId, ancestor: UnitId) -> Result<bool, ApiError> {
    Ok(closure::Entity::find()
        .filter(closure::Column::AncestorId.eq(ancestor))
        .filter(closure::Column::DescendantId.eq(unit_id))
        .one(conn)
        .await?
        .is_some())
}

/// A pledge of the same person and kind, or of the same household, for the campaign and year.
async fn duplicate_exists(conn: &impl ConnectionTrait, p: &pledge::Model) -> Result<bool, ApiError> {
    let mut same = sea_orm::Condition::any().add(
        sea_orm::Condition::all()
            .add(pledge::Column::PersonId.eq(p.person_id))
            .add(pledge::Column::Kind.eq(p.kind.as_str())),
    );
    if let Some(key) = &p.household_key {
        same = same.add(
            sea_orm::Condition::all()
                .add(pledge::Column::BranchId.eq(p.branch_id))
                .add(pledge::Column::HouseholdKey.eq(key.as_str())),
        );
    }
    Ok(pledge::Entity::find()
        .filter(pledge::Column::CampaignId.eq(p.campaign_id))
        .filter(pledge::Column::Year.eq(p.year))
        .filter(pledge::Column::Id.ne(p.id))
        .filter(same)
        .one(conn)
        .await?
        .is_some())
}

/// A unique-index refusal is the duplicate the module docs forbid.
fn pledged(e: sea_orm::DbErr) -> ApiError {
    if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::AlreadyPledged) } else { e.into() }
}

/// Submits the caller's pledge (see the module docs). `CONFLICT` `NOT_A_MEMBER` without an
/// active membership, `NOT_FOUND` when her branch is outside the campaign's subtree, `CONFLICT`
/// `WRONG_STATUS` unless the campaign is active, `ALREADY_PLEDGED` for a duplicate.
pub async fn submit_pledge(
    call: Call<'_>,
    campaign_id: CampaignId,
    input: PledgeInput,
) -> Result<pledge::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let checked = input.details.check(input.kind)?;
    let db = &state.db;
    let member = current_membership(db, viewer.person_id)
        .await?
        .filter(|m| m.status == MemberStatus::Active)
        .ok_or(ApiError::Conflict(ConflictKind::NotAMember))?;
    let c = campaign::Entity::find_by_id(campaign_id).one(db).await?.ok_or(ApiError::NotFound)?;
    if !is_within(db, member.branch_id, c.unit_id).await? {
        return Err(ApiError::NotFound);
    }
    if c.status != CampaignStatus::Active {
        // A draft is not shown to members: not found, unless she sees it as an officer.
        let hidden = c.status == CampaignStatus::Draft && !can_see(db, viewer, &c).await?;
        return Err(if hidden { ApiError::NotFound } else { ApiError::Conflict(ConflictKind::WrongStatus) });
    }
    if !(c.term_start.year()..=c.term_end.year()).contains(&input.year) {
        return Err(ApiError::bad_input("year", InputProblem::OutOfRange));
    }
    let now = Utc::now();
    let (label, key, size) =
        checked.household.map_or((None, None, None), |(l, k, s)| (Some(l), Some(k), Some(s)));
    let row = pledge::Model {
        id: Uuid::now_v7(),
        campaign_id,
        person_id: viewer.person_id,
        branch_id: member.branch_id,
        kind: input.kind,
        household_label: label,
        household_key: key,
        household_size: size,
        year: input.year,
        status: PledgeStatus::Submitted,
        note: checked.note,
        checks: None,
        review_comment: None,
        reviewed_by: None,
        reviewed_at: None,
        submitted_at: now,
        created_at: now,
        updated_at: now,
    };
    // A clean answer for the common case; the unique indexes settle simultaneous submissions.
    if duplicate_exists(db, &row).await? {
        return Err(ApiError::Conflict(ConflictKind::AlreadyPledged));
    }
    // Every column written (a model converts to "unchanged" values).
    let saved = pledge::ActiveModel::from(row).reset_all().insert(db).await.map_err(pledged)?;
    tracing::info!(event = "pledge_submitted", pledge_id = %saved.id, campaign_id = %campaign_id, kind = %saved.kind, year = saved.year, "pledge submitted");
    Ok(saved)
}

/// Succeeds for a reviewer of the pledge: `FORBIDDEN` for its owner, `NOT_FOUND` for anyone
/// else out of reach (or in reach without a member-manager role: she may not see it).
async fn require_reviewer(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    p: &pledge::Model,
) -> Result<authz::ActingAs, ApiError> {
    if p.person_id == viewer.person_id {
        return Err(ApiError::Forbidden);
    }
    authz::require(conn, viewer, Capability::ReviewPledges, p.branch_id).await.map_err(authz::hide_forbidden)
}

/// A pledge the caller may see (its owner or a reviewer in reach), else `NOT_FOUND`.
pub async fn get_pledge(call: Call<'_>, id: Uuid) -> Result<pledge::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let p = pledge::Entity::find_by_id(id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    if p.person_id != viewer.person_id {
        require_reviewer(&state.db, viewer, &p).await?;
    }
    Ok(p)
}

/// The owner edits a returned pledge (kind and year stay) and submits it again.
pub async fn resubmit_pledge(
    call: Call<'_>,
    id: Uuid,
    details: PledgeDetails,
) -> Result<pledge::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let p = pledge::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    if p.person_id != viewer.person_id {
        // A reviewer sees it but may not edit it; anyone else does not see it.
        require_reviewer(db, viewer, &p).await?;
        return Err(ApiError::Forbidden);
    }
    let checked = details.check(p.kind)?;
    if p.status != PledgeStatus::Returned {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let c = campaign::Entity::find_by_id(p.campaign_id).one(db).await?.ok_or(ApiError::NotFound)?;
    if c.status != CampaignStatus::Active {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let (label, key, size) =
        checked.household.map_or((None, None, None), |(l, k, s)| (Some(l), Some(k), Some(s)));
    let probe = pledge::Model { household_key: key.clone(), ..p.clone() };
    if duplicate_exists(db, &probe).await? {
        return Err(ApiError::Conflict(ConflictKind::AlreadyPledged));
    }
    let now = Utc::now();
    let changed = pledge::Entity::update_many()
        .col_expr(pledge::Column::Status, Expr::value(PledgeStatus::Submitted.as_str()))
        .col_expr(pledge::Column::HouseholdLabel, Expr::value(label))
        .col_expr(pledge::Column::HouseholdKey, Expr::value(key))
        .col_expr(pledge::Column::HouseholdSize, Expr::value(size))
        .col_expr(pledge::Column::Note, Expr::value(checked.note))
        .col_expr(pledge::Column::SubmittedAt, Expr::value(now))
        .col_expr(pledge::Column::UpdatedAt, Expr::value(now))
        .filter(pledge::Column::Id.eq(id))
        .filter(pledge::Column::Status.eq(PledgeStatus::Returned.as_str()))
        .exec(db)
        .await
        .map_err(pledged)?
        .rows_affected;
    if changed == 0 {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    tracing::info!(event = "pledge_resubmitted", pledge_id = %id, "pledge resubmitted");
    pledge::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)
}

/// A reviewer's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Every criterion is met.
    Certify,
    /// Back to the member for changes, with a comment.
    Return,
}

/// Reviews a submitted pledge: `checks` are the raw ids of the criteria found met. Certifying
/// needs every criterion of the campaign checked (`BAD_USER_INPUT` `checks` `CRITERIA_NOT_MET`);
/// an id that is not one of its criteria is `INVALID_ID`; a returned pledge needs a comment.
/// A pledge already decided answers `CONFLICT` `ALREADY_DECIDED`. The member is notified.
pub async fn review_pledge(
    call: Call<'_>,
    id: Uuid,
    decision: Decision,
    checks: Checks<'_>,
    comment: Option<&str>,
) -> Result<pledge::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let comment = parse_review_comment(decision, comment)?;
    if let Checks::Listed(listed) = checks
        && listed.len() > MAX_CHECKS
    {
        return Err(ApiError::bad_input("checks", InputProblem::TooMany));
    }
    let db = &state.db;
    let p = pledge::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    let acting = require_reviewer(db, viewer, &p).await?;
    if p.status != PledgeStatus::Submitted {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    let criteria = criteria_of(db, &[p.campaign_id]).await?.remove(&p.campaign_id).unwrap_or_default();
    let met = match checks {
        Checks::All => criteria.iter().map(|k| k.id).collect(),
        Checks::Listed(listed) => {
            let mut met = Vec::with_capacity(listed.len());
            for raw in listed {
                let id = Uuid::parse_str(raw.trim())
                    .map_err(|_| ApiError::bad_input("checks", InputProblem::InvalidId))?;
                if !criteria.iter().any(|k| k.id == id) {
                    return Err(ApiError::bad_input("checks", InputProblem::InvalidId));
                }
                met.push(id);
            }
            met
        }
    };
    if decision == Decision::Certify && criteria.iter().any(|k| !met.contains(&k.id)) {
        return Err(ApiError::bad_input("checks", InputProblem::CriteriaNotMet));
    }
    // Stored in the campaign's order, each once.
    let met: Vec<String> =
        criteria.iter().filter(|k| met.contains(&k.id)).map(|k| k.id.to_string()).collect();
    let c = campaign::Entity::find_by_id(p.campaign_id).one(db).await?.ok_or(ApiError::NotFound)?;

    let now = Utc::now();
    let status = match decision {
        Decision::Certify => PledgeStatus::Certified,
        Decision::Return => PledgeStatus::Returned,
    };
    let txn = db.begin().await?;
    let won = pledge::Entity::update_many()
        .col_expr(pledge::Column::Status, Expr::value(status.as_str()))
        .col_expr(pledge::Column::Checks, Expr::value(serde_json::json!(met).to_string()))
        .col_expr(pledge::Column::ReviewComment, Expr::value(comment))
        .col_expr(pledge::Column::ReviewedBy, Expr::value(viewer.person_id))
        .col_expr(pledge::Column::ReviewedAt, Expr::value(now))
        .col_expr(pledge::Column::UpdatedAt, Expr::value(now))
        .filter(pledge::Column::Id.eq(id))
        .filter(pledge::Column::Status.eq(PledgeStatus::Submitted.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if won == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    if decision == Decision::Certify && p.kind == PledgeKind::Household {
        activity::record(&txn, p.branch_id, Metric::HouseholdsCertified, hanoi_day(now), 1).await?;
    }
    let kind = match decision {
        Decision::Certify => NotificationKind::PledgeCertified,
        Decision::Return => NotificationKind::PledgeReturned,
    };
    let notes = notifications::enqueue(
        &txn,
        vec![NewNotification {
            person_id: p.person_id,
            kind,
            params: serde_json::json!({ "campaign": c.title }),
            link: Some(GlobalId::new(NodeKind::Pledge, id).encode()),
            duty: false,
        }],
    )
    .await?;
    let row = pledge::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let action = match decision {
        Decision::Certify => audit::Action::PledgeCertified,
        Decision::Return => audit::Action::PledgeReturned,
    };
    let entry = audit::Entry::new(action, p.branch_id, audit::SubjectKind::Pledge, id)
        .change("status", p.status, row.status)
        .change("checks", &p.checks, &row.checks)
        .change("reviewComment", &p.review_comment, &row.review_comment);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    tracing::info!(event = "pledge_reviewed", pledge_id = %id, status = status.as_str(), by = %viewer.person_id, "pledge reviewed");
    Ok(row)
}

/// The criteria a reviewer found met.
#[derive(Clone, Copy, Debug)]
pub enum Checks<'a> {
    /// The raw ids of the criteria checked.
    Listed(&'a [String]),
    /// Every criterion of the pledge's campaign (certifying many at once).
    All,
}

/// A review's comment: optional when certifying, required (1–1,000 characters) when returning.
fn parse_review_comment(decision: Decision, comment: Option<&str>) -> Result<Option<String>, ApiError> {
    let comment = parse_optional_text(comment, MAX_COMMENT, "comment")?;
    if decision == Decision::Return && comment.is_none() {
        return Err(ApiError::bad_input("comment", InputProblem::Required));
    }
    Ok(comment)
}

/// Reviews many submitted pledges alike (see [`crate::bulk`]): certifying checks every
/// criterion of each pledge's campaign; returning keeps none checked. Each pledge is reviewed
/// as [`review_pledge`] would, on its own.
pub async fn review_pledges(
    call: Call<'_>,
    ids: &[Uuid],
    decision: Decision,
    comment: Option<&str>,
) -> Result<Vec<Result<pledge::Model, ApiError>>, ApiError> {
    call.viewer()?;
    crate::bulk::check_max(ids.len(), "ids")?;
    parse_review_comment(decision, comment)?;
    let checks = match decision {
        Decision::Certify => Checks::All,
        Decision::Return => Checks::Listed(&[]),
    };
    Ok(crate::bulk::each(ids, |id| review_pledge(call, id, decision, checks, comment)).await)
}

/// The criterion ids stored in a reviewed pledge's `checks`.
pub fn checks_of(p: &pledge::Model) -> Vec<String> {
    p.checks.as_deref().and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or_default()
}
