//! Campaigns (cuộc vận động), emulation movements (phong trào thi đua) and programmes: their
//! life cycle, who manages them and who sees them.
//!
//! - **Managers**: a `UNIT_OFFICER` or `UNIT_ADMIN` at or above the campaign's unit (a system
//!   administrator everywhere). They create a `DRAFT`, edit it, launch it (`ACTIVE`) and end it
//!   (`ENDED`). An ended campaign is history: it cannot be edited. The criteria (the ordered
//!   list pledges are reviewed against) change only while it is a draft, so a pledge is always
//!   reviewed against the criteria it was made for.
//! - **Visibility**: everyone sees the active and ended campaigns of the units at or above her
//!   active membership's branch and at or above each unit where she holds an officer role;
//!   officers (any role) also see every campaign of their reach, drafts included. Anything else
//!   is `NOT_FOUND`: a member of one district never learns of another district's campaigns.
//! - **Launching** is a conditional update from `DRAFT`, so of two simultaneous launches exactly
//!   one succeeds — and schedules at most one fan-out job, in its own transaction. A request
//!   never writes a notification per member.

mod list;

use crate::Call;
use crate::audit::{self, SubjectKind};
use crate::integrations::webhooks::{self, EventType};
use entities::ids::{CampaignId, UnitId};
use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use entities::{campaign, campaign_criterion as criterion};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    Set, TransactionTrait, sea_query::Expr,
};
use uuid::Uuid;

pub use list::{
    CampaignCursor, CampaignFilter, CampaignQuery, campaign_query, client_campaign_query, count_campaigns,
    list_campaigns, list_campaigns_with_pledges,
};

use crate::{
    auth::Viewer,
    authz::{self, Capability, Decision},
    db::stmt,
    domain::{fold_for_search, normalise_text, parse_line, parse_optional_url},
    error::{ApiError, ConflictKind, InputProblem},
    fanout::{self, FanoutKind},
    org::get_unit,
};

pub use entities::campaign::{BodyFormat, CampaignKind, CampaignStatus};

const MAX_TITLE: usize = 200;
const MAX_SUMMARY: usize = 1000;
const MAX_BODY: usize = 20_000;
const MAX_URL: usize = 500;
/// Most criteria a campaign has.
pub const MAX_CRITERIA: usize = 20;
const MAX_CRITERION: usize = 300;

/// What a manager writes about a campaign (create and edit take the whole of it).
#[derive(Clone, Debug)]
pub struct CampaignInput {
    pub kind: CampaignKind,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub body_format: BodyFormat,
    pub cover_image_url: Option<String>,
    pub term_start: NaiveDate,
    pub term_end: NaiveDate,
    /// In order; position 1 first.
    pub criteria: Vec<String>,
}

/// [`CampaignInput`] checked and normalised.
struct Checked {
    title: String,
    summary: String,
    cover_image_url: Option<String>,
    criteria: Vec<String>,
}

impl CampaignInput {
    fn check(&self) -> Result<Checked, ApiError> {
        let title = parse_line(&self.title, MAX_TITLE, "title")?;
        let summary = self.summary.trim().to_owned();
        if summary.chars().count() > MAX_SUMMARY {
            return Err(ApiError::bad_input("summary", InputProblem::TooLong));
        }
        if self.body.chars().count() > MAX_BODY {
            return Err(ApiError::bad_input("body", InputProblem::TooLong));
        }
        let cover_image_url =
            parse_optional_url(self.cover_image_url.as_deref(), MAX_URL, "cover_image_url")?;
        if self.term_end <= self.term_start {
            return Err(ApiError::bad_input("term_end", InputProblem::OutOfRange));
        }
        if self.criteria.len() > MAX_CRITERIA {
            return Err(ApiError::bad_input("criteria", InputProblem::TooMany));
        }
        let mut criteria = Vec::with_capacity(self.criteria.len());
        for raw in &self.criteria {
            let text = normalise_text(raw);
            match text.chars().count() {
                0 => return Err(ApiError::bad_input("criteria", InputProblem::Required)),
                n if n > MAX_CRITERION => {
                    return Err(ApiError::bad_input("criteria", InputProblem::TooLong));
                }
                _ => criteria.push(text),
            }
        }
        Ok(Checked { title, summary, cover_image_url, criteria })
    }
}

/// What the caller may do with a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    None,
    See,
    Manage,
}

#[derive(FromQueryResult)]
struct Seen {
    n: i64,
}

/// The rules of the module docs for one campaign: a few indexed lookups.
async fn access(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    c: &campaign::Model,
) -> Result<Access, ApiError> {
    match authz::decide(conn, viewer.person_id, Capability::ManageCampaigns, c.unit_id.into()).await? {
        Decision::Allowed { .. } => return Ok(Access::Manage),
        // Any officer role at or above the unit: the campaign is in her reach, drafts included.
        Decision::InReach | Decision::Merged => return Ok(Access::See),
        Decision::OutOfReach => {}
    }
    if c.status == CampaignStatus::Draft {
        return Ok(Access::None);
    }
    // Her branch, or a unit where she holds a role, is in the campaign unit's subtree.
    let seen = Seen::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM ( \
           SELECT 1 AS x FROM membership m JOIN org_unit_closure c ON c.descendant_id = m.branch_id \
             WHERE c.ancestor_id = ? AND m.person_id = ? AND m.status = 'ACTIVE' \
           UNION ALL SELECT 1 AS x FROM officer_role r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
             WHERE c.ancestor_id = ? AND r.person_id = ? AND r.revoked_at IS NULL \
         ) seen",
        [c.unit_id.into(), viewer.person_id.into(), c.unit_id.into(), viewer.person_id.into()],
    ))
    .one(conn)
    .await?;
    Ok(if seen.is_some_and(|s| s.n > 0) { Access::See } else { Access::None })
}

/// Whether the caller may see the campaign (see the module docs).
pub(crate) async fn can_see(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    c: &campaign::Model,
) -> Result<bool, ApiError> {
    Ok(access(conn, viewer, c).await? != Access::None)
}

/// A campaign the caller may see, else `NOT_FOUND`.
pub async fn get_campaign(call: Call<'_>, id: CampaignId) -> Result<campaign::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let c = campaign::Entity::find_by_id(id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    if can_see(&state.db, viewer, &c).await? { Ok(c) } else { Err(ApiError::NotFound) }
}

/// `NOT_FOUND` when the caller cannot see the campaign, `FORBIDDEN` when she sees it without
/// managing it.
async fn require_manager(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    c: &campaign::Model,
) -> Result<authz::ActingAs, ApiError> {
    if let Decision::Allowed { by, .. } =
        authz::decide(conn, viewer.person_id, Capability::ManageCampaigns, c.unit_id.into()).await?
    {
        return Ok(by);
    }
    match access(conn, viewer, c).await? {
        Access::None => Err(ApiError::NotFound),
        Access::See | Access::Manage => Err(ApiError::Forbidden),
    }
}

/// Reads the campaign under a row lock held until the transaction ends (PostgreSQL; SQLite's
/// single connection serialises transactions anyway).
async fn lock_campaign(txn: &impl ConnectionTrait, id: CampaignId) -> Result<campaign::Model, ApiError> {
    crate::db::lock_by_id::<campaign::Entity>(txn, id).await?.ok_or(ApiError::NotFound)
}

/// Writes the criteria of a campaign, positions 1..n.
async fn insert_criteria(
    txn: &impl ConnectionTrait,
    campaign_id: CampaignId,
    texts: &[String],
) -> Result<(), ApiError> {
    if texts.is_empty() {
        return Ok(());
    }
    let rows = texts.iter().zip(1..).map(|(text, position)| criterion::ActiveModel {
        id: Set(Uuid::now_v7()),
        campaign_id: Set(campaign_id),
        position: Set(position),
        text: Set(text.clone()),
    });
    criterion::Entity::insert_many(rows).exec_without_returning(txn).await?;
    Ok(())
}

/// Creates a draft campaign for `unit_id`'s subtree (a manager at or above the unit).
pub async fn create_campaign(
    call: Call<'_>,
    unit_id: UnitId,
    input: CampaignInput,
) -> Result<campaign::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::ManageCampaigns, unit_id).await?;
    let checked = input.check()?;
    let now = Utc::now();
    let txn = db.begin().await?;
    let row = campaign::ActiveModel {
        id: Set(CampaignId::new()),
        unit_id: Set(unit_id),
        kind: Set(input.kind),
        title_search: Set(fold_for_search(&checked.title)),
        title: Set(checked.title),
        summary: Set(checked.summary),
        body: Set(input.body),
        body_format: Set(input.body_format),
        cover_image_url: Set(checked.cover_image_url),
        term_start: Set(input.term_start),
        term_end: Set(input.term_end),
        status: Set(CampaignStatus::Draft),
        created_by: Set(viewer.person_id),
        launched_at: Set(None),
        ended_at: Set(None),
        listed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    insert_criteria(&txn, row.id, &checked.criteria).await?;
    let entry = audit::Entry::new(audit::Action::CampaignCreated, unit_id, SubjectKind::Campaign, row.id);
    let entry = audit_fields(entry, None, &row).set("criteria", criteria_text(&checked.criteria));
    audit::record(&txn, audit::Actor::new(viewer, acting), entry.set("status", row.status)).await?;
    txn.commit().await?;
    tracing::info!(event = "campaign_created", campaign_id = %row.id, unit_id = %unit_id, by = %viewer.person_id, "campaign created");
    Ok(row)
}

/// Edits a draft or active campaign (the whole input). The criteria can change only while it
/// is a draft (`CONFLICT` `WRONG_STATUS` otherwise, when they differ); an ended campaign
/// cannot be edited.
pub async fn update_campaign(
    call: Call<'_>,
    id: CampaignId,
    input: CampaignInput,
) -> Result<campaign::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let checked = input.check()?;
    let txn = state.db.begin().await?;
    // Locked, so a launch cannot slip in between the status check and the criteria change.
    let c = lock_campaign(&txn, id).await?;
    let acting = require_manager(&txn, viewer, &c).await?;
    if c.status == CampaignStatus::Ended {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let current: Vec<String> =
        criteria_of(&txn, &[id]).await?.remove(&id).unwrap_or_default().into_iter().map(|k| k.text).collect();
    if current != checked.criteria {
        if c.status != CampaignStatus::Draft {
            return Err(ApiError::Conflict(ConflictKind::WrongStatus));
        }
        criterion::Entity::delete_many().filter(criterion::Column::CampaignId.eq(id)).exec(&txn).await?;
        insert_criteria(&txn, id, &checked.criteria).await?;
    }
    let entry = audit::Entry::new(audit::Action::CampaignUpdated, c.unit_id, SubjectKind::Campaign, id)
        .change("criteria", criteria_text(&current), criteria_text(&checked.criteria));
    let before = c.clone();
    let mut row: campaign::ActiveModel = c.into();
    row.kind = Set(input.kind);
    row.title_search = Set(fold_for_search(&checked.title));
    row.title = Set(checked.title);
    row.summary = Set(checked.summary);
    row.body = Set(input.body);
    row.body_format = Set(input.body_format);
    row.cover_image_url = Set(checked.cover_image_url);
    row.term_start = Set(input.term_start);
    row.term_end = Set(input.term_end);
    row.updated_at = Set(Utc::now());
    let row = row.update(&txn).await?;
    audit::record(&txn, audit::Actor::new(viewer, acting), audit_fields(entry, Some(&before), &row)).await?;
    txn.commit().await?;
    tracing::info!(event = "campaign_updated", campaign_id = %id, by = %viewer.person_id, "campaign updated");
    Ok(row)
}

/// Moves a campaign from `from` to `to` if it is still in `from` (a conditional update: of two
/// concurrent calls exactly one changes the row); `CONFLICT` `WRONG_STATUS` otherwise.
async fn transition(
    txn: &impl ConnectionTrait,
    id: CampaignId,
    from: CampaignStatus,
    to: CampaignStatus,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let mut update = campaign::Entity::update_many()
        .col_expr(campaign::Column::Status, Expr::value(to.as_str()))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now));
    update = match to {
        CampaignStatus::Active => update
            .col_expr(campaign::Column::LaunchedAt, Expr::value(now))
            .col_expr(campaign::Column::ListedAt, Expr::value(now)),
        CampaignStatus::Ended => update.col_expr(campaign::Column::EndedAt, Expr::value(now)),
        CampaignStatus::Draft => update,
    };
    let changed = update
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::Status.eq(from.as_str()))
        .exec(txn)
        .await?
        .rows_affected;
    if changed == 0 {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    Ok(())
}

/// Launches a draft: it becomes visible to its subtree and moves to the top of the list. With
/// `notify_members`, a fan-out job is queued in the same transaction; the background worker
/// notifies the subtree's members in batches.
pub async fn launch_campaign(
    call: Call<'_>,
    id: CampaignId,
    notify_members: bool,
) -> Result<campaign::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    let c = campaign::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let acting = require_manager(&txn, viewer, &c).await?;
    transition(&txn, id, CampaignStatus::Draft, CampaignStatus::Active).await?;
    if notify_members {
        let params = serde_json::json!({ "campaign": c.title });
        fanout::schedule(&txn, FanoutKind::CampaignLaunched, id, c.unit_id, params).await?;
    }
    let row = campaign::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let queued = webhooks::emit(&txn, webhooks::campaign_event(EventType::CampaignLaunched, &row)).await?;
    let entry = audit::Entry::new(audit::Action::CampaignLaunched, row.unit_id, SubjectKind::Campaign, id)
        .change("status", c.status, row.status)
        .set("notifyMembers", notify_members);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    webhooks::announce(state, queued);
    tracing::info!(event = "campaign_launched", campaign_id = %id, notify = notify_members, by = %viewer.person_id, "campaign launched");
    Ok(row)
}

/// Ends an active campaign: no new pledges; pledges already submitted can still be reviewed.
pub async fn end_campaign(call: Call<'_>, id: CampaignId) -> Result<campaign::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    let c = campaign::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let acting = require_manager(&txn, viewer, &c).await?;
    transition(&txn, id, CampaignStatus::Active, CampaignStatus::Ended).await?;
    let row = campaign::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let queued = webhooks::emit(&txn, webhooks::campaign_event(EventType::CampaignEnded, &row)).await?;
    let entry = audit::Entry::new(audit::Action::CampaignEnded, row.unit_id, SubjectKind::Campaign, id)
        .change("status", c.status, row.status);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    webhooks::announce(state, queued);
    tracing::info!(event = "campaign_ended", campaign_id = %id, by = %viewer.person_id, "campaign ended");
    Ok(row)
}

/// The trail of the fields an officer edits: each that differs between `before` (none for a
/// new campaign) and `after`.
fn audit_fields(
    entry: audit::Entry,
    before: Option<&campaign::Model>,
    after: &campaign::Model,
) -> audit::Entry {
    entry
        .field("kind", before, after, |c| c.kind)
        .field("title", before, after, |c| c.title.clone())
        .field("summary", before, after, |c| c.summary.clone())
        .field("body", before, after, |c| c.body.clone())
        .field("bodyFormat", before, after, |c| c.body_format)
        .field("coverImageUrl", before, after, |c| c.cover_image_url.clone())
        .field("termStart", before, after, |c| c.term_start)
        .field("termEnd", before, after, |c| c.term_end)
}

/// Criteria as the trail writes them: one per line, numbered.
fn criteria_text(criteria: &[String]) -> Option<String> {
    (!criteria.is_empty())
        .then(|| criteria.iter().zip(1..).map(|(c, i)| format!("{i}. {c}")).collect::<Vec<_>>().join("\n"))
}

/// The criteria of each campaign, in order (for DataLoaders and reviews: one query).
pub async fn criteria_of(
    conn: &impl ConnectionTrait,
    campaign_ids: &[CampaignId],
) -> Result<HashMap<CampaignId, Vec<criterion::Model>>, ApiError> {
    let rows = criterion::Entity::find()
        .filter(criterion::Column::CampaignId.is_in(campaign_ids.iter().copied()))
        .order_by_asc(criterion::Column::CampaignId)
        .order_by_asc(criterion::Column::Position)
        .all(conn)
        .await?;
    let mut out: HashMap<CampaignId, Vec<criterion::Model>> = HashMap::new();
    for row in rows {
        out.entry(row.campaign_id).or_default().push(row);
    }
    Ok(out)
}

/// Campaigns by id (for DataLoaders; the caller has already been allowed to see what refers to
/// them).
pub async fn campaigns_by_ids(
    conn: &impl ConnectionTrait,
    ids: &[CampaignId],
) -> Result<HashMap<CampaignId, campaign::Model>, ApiError> {
    Ok(campaign::Entity::find()
        .filter(campaign::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect())
}
