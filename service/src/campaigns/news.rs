//! News posts: an officer publishes a post to her unit's subtree; a person's feed shows the
//! published posts of the units at or above her branch and her role units, newest first.
//!
//! - **Who manages** a post (creates, edits, unpublishes and republishes it, and lists it in
//!   `posts` in every status): a `UNIT_OFFICER` or `UNIT_ADMIN` at or above its unit, or a
//!   `BRANCH_LEADER` at or above it when the unit is a branch (as for trainings).
//! - **Who reads** it: its managers always; while it is published, everyone whose feed includes
//!   its unit. Anyone else gets `NOT_FOUND`, so a district's posts are not advertised to another.
//! - **The feed** reads the newest page of each of the reader's few units by the index
//!   `ix_post_unit_feed (unit_id, status, published_at, id)` and merges them in one statement:
//!   a page costs the same whatever the city's history.
//! - Publishing notifies nobody (a post to a district would otherwise push to every member).

use crate::Call;
use crate::audit::{self, SubjectKind};
use crate::integrations::{self, ClientViewer, webhooks};
use chrono::{DateTime, Utc};
use entities::ids::{CampaignId, UnitId};
use entities::post;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    authz::{self, Capability},
    db::stmt,
    domain::{parse_line, parse_optional_url},
    error::{ApiError, ConflictKind, InputProblem},
    state::AppState,
    {org::get_unit, scope::ViewerScope},
};

pub use entities::post::PostStatus;

const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 20_000;
const MAX_URL: usize = 500;

/// What an officer writes about a post (create and edit take the whole of it).
#[derive(Clone, Debug)]
pub struct PostInput {
    pub title: String,
    /// Plain text or Markdown.
    pub body: String,
    pub cover_image_url: Option<String>,
    pub campaign_id: Option<CampaignId>,
}

/// [`PostInput`] checked and normalised.
struct Checked {
    title: String,
    body: String,
    cover_image_url: Option<String>,
}

impl PostInput {
    fn check(&self) -> Result<Checked, ApiError> {
        let title = parse_line(&self.title, MAX_TITLE, "title")?;
        // Line breaks are the Markdown's: only the ends are trimmed.
        let body = self.body.nfc().collect::<String>().trim().to_owned();
        match body.chars().count() {
            0 => return Err(ApiError::bad_input("body", InputProblem::Required)),
            n if n > MAX_BODY => return Err(ApiError::bad_input("body", InputProblem::TooLong)),
            _ => {}
        }
        let field = "cover_image_url";
        let cover_image_url = parse_optional_url(self.cover_image_url.as_deref(), MAX_URL, field)?;
        Ok(Checked { title, body, cover_image_url })
    }
}

/// The units a person's feed starts from: her active branch and the units of her roles.
const FEED_ROOTS: &str = "SELECT m.branch_id FROM membership m WHERE m.person_id = ? AND m.status = 'ACTIVE' \
     UNION SELECT r.unit_id FROM officer_role r WHERE r.person_id = ? AND r.revoked_at IS NULL";

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// Whether the viewer's feed includes `unit_id`.
async fn in_feed(conn: &impl ConnectionTrait, viewer: &Viewer, unit_id: UnitId) -> Result<bool, ApiError> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM org_unit_closure c WHERE c.ancestor_id = ? AND c.descendant_id IN ({FEED_ROOTS})"
    );
    let p = viewer.person_id;
    let seen = Count::find_by_statement(stmt(
        conn.get_database_backend(),
        &sql,
        [unit_id.into(), p.into(), p.into()],
    ))
    .one(conn)
    .await?;
    Ok(seen.is_some_and(|c| c.n > 0))
}

/// Whether the viewer may read the post (see the module docs).
async fn can_see(conn: &impl ConnectionTrait, viewer: &Viewer, p: &post::Model) -> Result<bool, ApiError> {
    if authz::may(conn, viewer, Capability::PublishNews, &get_unit(conn, p.unit_id).await?).await? {
        return Ok(true);
    }
    Ok(p.status == PostStatus::Published && in_feed(conn, viewer, p.unit_id).await?)
}

/// `NOT_FOUND` when the viewer cannot read the post, `FORBIDDEN` when she can but does not
/// manage it.
async fn require_manager(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    p: &post::Model,
) -> Result<authz::ActingAs, ApiError> {
    let unit = get_unit(conn, p.unit_id).await?;
    if let authz::Decision::Allowed { by, .. } =
        authz::decide(conn, viewer.person_id, Capability::PublishNews, (&unit).into()).await?
    {
        return Ok(by);
    }
    let readable = p.status == PostStatus::Published && in_feed(conn, viewer, p.unit_id).await?;
    Err(if readable { ApiError::Forbidden } else { ApiError::NotFound })
}

/// A linked campaign must exist and be visible at the post's unit: run by a unit at or above
/// it, or in the caller's reach. Anything else is one answer, so ids reveal nothing.
async fn check_campaign(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    unit_id: UnitId,
    campaign_id: CampaignId,
) -> Result<(), ApiError> {
    let sql = "SELECT COUNT(*) AS n FROM campaign k WHERE k.id = ? AND ( \
         k.unit_id IN (SELECT c.ancestor_id FROM org_unit_closure c WHERE c.descendant_id = ?) \
         OR k.unit_id IN (SELECT c.descendant_id FROM org_unit_closure c \
           JOIN officer_role r ON r.unit_id = c.ancestor_id WHERE r.person_id = ? AND r.revoked_at IS NULL) \
         OR EXISTS (SELECT 1 FROM person p WHERE p.id = ? AND p.is_system_admin = ?))";
    let p = viewer.person_id;
    let values: [Value; 5] = [campaign_id.into(), unit_id.into(), p.into(), p.into(), true.into()];
    let found = Count::find_by_statement(stmt(conn.get_database_backend(), sql, values)).one(conn).await?;
    if found.is_some_and(|c| c.n > 0) {
        Ok(())
    } else {
        Err(ApiError::bad_input("campaign_id", InputProblem::InvalidId))
    }
}

/// Reads a post the viewer may read, else `NOT_FOUND`.
pub async fn get_post(call: Call<'_>, id: Uuid) -> Result<post::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let p = post::Entity::find_by_id(id).one(&state.db).await?.ok_or(ApiError::NotFound)?;
    if can_see(&state.db, viewer, &p).await? { Ok(p) } else { Err(ApiError::NotFound) }
}

/// Publishes a post to `unit_id`'s subtree at once. Nobody is notified.
pub async fn create_post(call: Call<'_>, unit_id: UnitId, input: PostInput) -> Result<post::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::PublishNews, &unit).await?;
    let checked = input.check()?;
    if let Some(campaign) = input.campaign_id {
        check_campaign(db, viewer, unit_id, campaign).await?;
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let row = post::ActiveModel {
        id: Set(Uuid::now_v7()),
        unit_id: Set(unit_id),
        campaign_id: Set(input.campaign_id),
        title: Set(checked.title),
        body: Set(checked.body),
        cover_image_url: Set(checked.cover_image_url),
        status: Set(PostStatus::Published),
        published_at: Set(now),
        unpublished_at: Set(None),
        created_by: Set(viewer.person_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let queued = webhooks::emit(&txn, webhooks::post_event(&row)).await?;
    let entry = audit::Entry::new(audit::Action::PostCreated, unit_id, SubjectKind::Post, row.id);
    let entry = audit_fields(entry, None, &row).set("status", row.status);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    webhooks::announce(state, queued);
    tracing::info!(event = "post_published", post_id = %row.id, unit_id = %unit_id, by = %viewer.person_id, "post published");
    Ok(row)
}

/// Reads the post under a row lock held until the transaction ends (PostgreSQL; SQLite's
/// single connection serialises transactions anyway).
async fn lock_post(txn: &impl ConnectionTrait, id: Uuid) -> Result<post::Model, ApiError> {
    crate::db::lock_by_id::<post::Entity>(txn, id).await?.ok_or(ApiError::NotFound)
}

/// Replaces a post's title, body, cover and campaign link (in either status).
pub async fn update_post(call: Call<'_>, id: Uuid, input: PostInput) -> Result<post::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    let p = lock_post(&txn, id).await?;
    let acting = require_manager(&txn, viewer, &p).await?;
    let checked = input.check()?;
    if let Some(campaign) = input.campaign_id {
        check_campaign(&txn, viewer, p.unit_id, campaign).await?;
    }
    let before = p.clone();
    let mut row: post::ActiveModel = p.into();
    row.title = Set(checked.title);
    row.body = Set(checked.body);
    row.cover_image_url = Set(checked.cover_image_url);
    row.campaign_id = Set(input.campaign_id);
    row.updated_at = Set(Utc::now());
    let row = row.update(&txn).await?;
    let entry = audit::Entry::new(audit::Action::PostUpdated, row.unit_id, SubjectKind::Post, id);
    audit::record(&txn, audit::Actor::new(viewer, acting), audit_fields(entry, Some(&before), &row)).await?;
    txn.commit().await?;
    tracing::info!(event = "post_updated", post_id = %id, by = %viewer.person_id, "post updated");
    Ok(row)
}

/// Takes a published post down (`UNPUBLISHED`); `CONFLICT` (`WRONG_STATUS`) otherwise.
pub async fn unpublish_post(call: Call<'_>, id: Uuid) -> Result<post::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    set_status(state, viewer, id, PostStatus::Published, PostStatus::Unpublished).await
}

/// Puts an unpublished post back, at its original place in the feed (its `published_at` is
/// kept); `CONFLICT` (`WRONG_STATUS`) otherwise.
pub async fn republish_post(call: Call<'_>, id: Uuid) -> Result<post::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    set_status(state, viewer, id, PostStatus::Unpublished, PostStatus::Published).await
}

async fn set_status(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    from: PostStatus,
    to: PostStatus,
) -> Result<post::Model, ApiError> {
    let txn = state.db.begin().await?;
    let p = lock_post(&txn, id).await?;
    let acting = require_manager(&txn, viewer, &p).await?;
    if p.status != from {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let now = Utc::now();
    let mut row: post::ActiveModel = p.into();
    row.status = Set(to);
    row.unpublished_at = Set((to == PostStatus::Unpublished).then_some(now));
    row.updated_at = Set(now);
    let row = row.update(&txn).await?;
    let queued = match to {
        PostStatus::Published => webhooks::emit(&txn, webhooks::post_event(&row)).await?,
        _ => webhooks::Queued(false),
    };
    let action = match to {
        PostStatus::Published => audit::Action::PostRepublished,
        PostStatus::Unpublished => audit::Action::PostUnpublished,
    };
    let entry = audit::Entry::new(action, row.unit_id, SubjectKind::Post, id).change("status", from, to);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    webhooks::announce(state, queued);
    tracing::info!(event = "post_status_changed", post_id = %id, status = to.as_str(), by = %viewer.person_id, "post status changed");
    Ok(row)
}

/// The trail of the fields an officer edits: each that differs between `before` (none for a
/// new post) and `after`.
fn audit_fields(entry: audit::Entry, before: Option<&post::Model>, after: &post::Model) -> audit::Entry {
    entry
        .field("title", before, after, |p| p.title.clone())
        .field("body", before, after, |p| p.body.clone())
        .field("coverImageUrl", before, after, |p| p.cover_image_url.clone())
        .field("campaignId", before, after, |p| p.campaign_id.map(|c| c.uuid()))
}

// ---- the feed and the console's list ----

/// Position in a list ordered newest first: by publication, then id, both descending.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostCursor {
    pub published_at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page of the viewer's feed, newest first, and whether more follow. Each of her units
/// gives its newest `first + 1` posts after the cursor (an index range each); the union of those
/// few short lists is sorted and cut to the page.
pub async fn feed(
    conn: &impl ConnectionTrait,
    scope: &ViewerScope,
    first: u64,
    after: Option<&PostCursor>,
) -> Result<(Vec<post::Model>, bool), ApiError> {
    // The units at or above her branch and her role units.
    let units = scope.above_own();
    if units.is_empty() {
        return Ok((Vec::new(), false));
    }
    let backend = conn.get_database_backend();
    let limit = i64::try_from(first + 1).unwrap_or(i64::MAX);
    let after_sql = if after.is_some() { " AND (published_at, id) < (?, ?)" } else { "" };
    let sql = format!(
        "SELECT * FROM post WHERE unit_id = ? AND status = 'PUBLISHED'{after_sql} \
         ORDER BY published_at DESC, id DESC LIMIT ?"
    );
    let parts = units
        .iter()
        .map(|&unit| {
            let mut values: Vec<Value> = vec![unit.into()];
            if let Some(c) = after {
                values.extend([c.published_at.into(), c.id.into()]);
            }
            values.push(limit.into());
            stmt(backend, &sql, values)
        })
        .collect();
    let merged = crate::db::merge_ordered(backend, parts, "published_at DESC, id DESC", first + 1);
    let rows = post::Model::find_by_statement(merged).all(conn).await?;
    Ok(crate::db::split_page(rows, first))
}

/// Filters of the console's list.
#[derive(Clone, Debug, Default)]
pub struct PostFilter {
    /// Only posts of this unit or a unit below it.
    pub unit_id: Option<UnitId>,
    pub campaign_id: Option<CampaignId>,
    pub status: Option<PostStatus>,
}

/// The list condition, with the caller's reach resolved.
#[derive(Clone)]
pub struct PostQuery {
    condition: Condition,
}

/// The posts the viewer manages (see the module docs), with the filters: `filter.unit_id` must
/// be in her reach (`NOT_FOUND`, or `FORBIDDEN` with only other roles over it).
pub async fn post_query(call: Call<'_>, filter: PostFilter) -> Result<PostQuery, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    let reach = authz::reach(conn, viewer, Capability::PublishNews, filter.unit_id).await?;
    let mut condition = Condition::all().add(reach.condition(post::Column::UnitId));
    if let Some(campaign) = filter.campaign_id {
        condition = condition.add(post::Column::CampaignId.eq(campaign));
    }
    if let Some(status) = filter.status {
        condition = condition.add(post::Column::Status.eq(status.as_str()));
    }
    Ok(PostQuery { condition })
}

/// The posts an integration client may read: published posts of units in its subtree.
/// `filter.unit_id` must lie in the subtree (`NOT_FOUND`); a status other than published finds
/// nothing.
pub async fn client_post_query(
    call: Call<'_>,
    client: &ClientViewer,
    filter: PostFilter,
) -> Result<PostQuery, ApiError> {
    let conn = &call.state.db;
    let unit = match filter.unit_id {
        Some(unit) => {
            integrations::require_within(conn, client, unit).await?;
            unit
        }
        None => client.unit_id,
    };
    let mut condition = Condition::all()
        .add(post::Column::Status.eq(PostStatus::Published.as_str()))
        .add(post::Column::UnitId.in_subquery(authz::subtree_select(unit)));
    if let Some(campaign) = filter.campaign_id {
        condition = condition.add(post::Column::CampaignId.eq(campaign));
    }
    if let Some(status) = filter.status {
        condition = condition.add(post::Column::Status.eq(status.as_str()));
    }
    Ok(PostQuery { condition })
}

/// One page of the console's list, newest first.
pub async fn list_posts(
    conn: &impl ConnectionTrait,
    q: &PostQuery,
    first: u64,
    after: Option<&PostCursor>,
) -> Result<(Vec<post::Model>, bool), ApiError> {
    let mut query = post::Entity::find().filter(q.condition.clone());
    if let Some(c) = after {
        query = query.filter(Condition::any().add(post::Column::PublishedAt.lt(c.published_at)).add(
            Condition::all().add(post::Column::PublishedAt.eq(c.published_at)).add(post::Column::Id.lt(c.id)),
        ));
    }
    let rows = query
        .order_by_desc(post::Column::PublishedAt)
        .order_by_desc(post::Column::Id)
        .limit(first + 1)
        .all(conn)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

pub async fn count_posts(conn: &impl ConnectionTrait, q: &PostQuery) -> Result<u64, ApiError> {
    Ok(post::Entity::find().filter(q.condition.clone()).count(conn).await?)
}
