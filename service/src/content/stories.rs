//! Stories: a member posts a short text with up to four photos to her branch, maybe about a
//! campaign (evidence of a pledge, of "ứng xử đẹp").
//!
//! - **Who posts**: an active member, to her own branch; the photos are hers, uploaded and not
//!   yet taken by another story (`uploadPhoto`); a campaign she names must be one she sees and
//!   that is running.
//! - **Who reads**: while published, the active members of the branch and the officers of the
//!   branch and every unit above it (any officer role there: `ViewUnit`), as news is read down
//!   the tree; the author always reads her own. Anyone else gets `NOT_FOUND`.
//! - **Lists** (`stories(unitId)`): a branch's stories for its members (her own branch by
//!   default), a unit's subtree for its officers; newest first, keyset-paged on
//!   `(published_at, id)` by `ix_story_unit_feed`. Photos, authors and counters of a page are
//!   read in one statement each.
//! - **Held**: a story the automatic check holds, or any story of a branch with pre-moderation
//!   (`content_settings.story_premoderation` at the branch or above), is stored `PENDING` with a
//!   moderation case and no `published_at` until approved. A muted member posts none.
//! - **Deleting**: the author deletes her story at any time; its text and photos (rows now,
//!   bytes after the commit) are gone, and it leaves every list.

use chrono::{DateTime, Utc};
use entities::{
    campaign::CampaignStatus,
    comment::ContentStatus,
    ids::{CampaignId, PersonId, UnitId},
    membership::{self, MemberStatus},
    moderation_case::ModerationCause,
    story,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{comments::parse_body, moderation};
use crate::{
    Call,
    auth::Viewer,
    authz::{self, Capability},
    campaigns::campaign,
    error::{ApiError, InputProblem},
    media,
    org::get_unit,
};

/// Photos one story may carry.
pub const MAX_PHOTOS: usize = 4;

/// What a member writes.
pub struct StoryInput {
    pub body: String,
    pub photo_ids: Vec<Uuid>,
    pub campaign_id: Option<CampaignId>,
}

/// The caller's active branch, or `FORBIDDEN` (stories are a member's).
async fn branch_of(conn: &impl ConnectionTrait, person: PersonId) -> Result<UnitId, ApiError> {
    membership::Entity::find()
        .filter(membership::Column::PersonId.eq(person))
        .filter(membership::Column::Status.eq(MemberStatus::Active))
        .one(conn)
        .await?
        .map(|m| m.branch_id)
        .ok_or(ApiError::Forbidden)
}

/// Posts a story to the caller's branch.
pub async fn post_story(call: Call<'_>, input: StoryInput) -> Result<story::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let body = parse_body(&input.body)?;
    if input.photo_ids.len() > MAX_PHOTOS {
        return Err(ApiError::bad_input("photo_ids", InputProblem::TooMany));
    }
    let db = &state.db;
    let branch = branch_of(db, viewer.person_id).await?;
    moderation::ensure_not_muted(db, viewer.person_id).await?;
    if let Some(id) = input.campaign_id {
        let c = campaign::get_campaign(call, id)
            .await
            .map_err(|_| ApiError::bad_input("campaign_id", InputProblem::InvalidId))?;
        if c.status != CampaignStatus::Active {
            return Err(ApiError::bad_input("campaign_id", InputProblem::InvalidId));
        }
    }
    // Held for a moderator when the automatic check finds something, or when the branch has
    // its members' stories checked first.
    let held = match moderation::check(&body) {
        Some(cause) => Some(cause),
        None => moderation::effective(db, state, branch)
            .await?
            .story_premoderation
            .then_some(ModerationCause::Premoderation),
    };
    let now = Utc::now();
    let row = story::Model {
        id: Uuid::now_v7(),
        unit_id: branch,
        author_id: viewer.person_id,
        campaign_id: input.campaign_id,
        body,
        status: if held.is_some() { ContentStatus::Pending } else { ContentStatus::Published },
        moderation_note: None,
        flag_count: 0,
        published_at: if held.is_some() { None } else { Some(now) },
        created_at: now,
        updated_at: now,
    };
    let txn = db.begin().await?;
    let photos = media::pending_of(&txn, viewer.person_id, &input.photo_ids, "photo_ids").await?;
    story::Entity::insert(story::ActiveModel::from(row.clone())).exec_without_returning(&txn).await?;
    media::attach(&txn, &photos, media::PARENT_STORY, row.id, "photo_ids").await?;
    let opened = match held {
        Some(cause) => moderation::open_case(&txn, moderation::Item::story(&row), cause).await?,
        None => None,
    };
    txn.commit().await?;
    if let Some(o) = opened {
        moderation::publish(state, o.unit, o.case_id, "OPENED").await;
    }
    Ok(row)
}

/// Whether `viewer` may read story `s`.
pub(crate) async fn can_read(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    s: &story::Model,
) -> Result<bool, ApiError> {
    if s.author_id == viewer.person_id && s.status != ContentStatus::Removed {
        return Ok(true);
    }
    if s.status != ContentStatus::Published {
        return Ok(false);
    }
    let member = membership::Entity::find()
        .filter(membership::Column::PersonId.eq(viewer.person_id))
        .filter(membership::Column::BranchId.eq(s.unit_id))
        .filter(membership::Column::Status.eq(MemberStatus::Active))
        .one(conn)
        .await?
        .is_some();
    Ok(member || authz::may(conn, viewer, Capability::ViewUnit, s.unit_id).await?)
}

/// A story the caller may read, else `NOT_FOUND`.
pub async fn get(call: Call<'_>, id: Uuid) -> Result<story::Model, ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    let s = story::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    if can_read(db, viewer, &s).await? { Ok(s) } else { Err(ApiError::NotFound) }
}

/// Deletes the caller's story: its text and photos go, and it leaves every list.
pub async fn delete_story(call: Call<'_>, id: Uuid) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    moderation::withdraw(&txn, id, viewer.person_id).await?;
    let res = story::Entity::update_many()
        .col_expr(story::Column::Status, Expr::value(ContentStatus::Removed))
        .col_expr(story::Column::Body, Expr::value(""))
        .col_expr(story::Column::ModerationNote, Expr::value(Option::<String>::None))
        .col_expr(story::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(story::Column::Id.eq(id))
        .filter(story::Column::AuthorId.eq(viewer.person_id))
        .filter(story::Column::Status.ne(ContentStatus::Removed))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(ApiError::NotFound);
    }
    let photos = media::delete_of_parent(&txn, id).await?;
    txn.commit().await?;
    media::forget_bytes(state, &photos).await;
    Ok(())
}

/// Where a page of stories starts: after the story `(published_at, id)` (newest first).
pub type Cursor = (DateTime<Utc>, Uuid);

/// A page of stories, newest first: a branch's for its members (her own branch when `unit` is
/// `None`), a unit's subtree for officers who may see it.
pub async fn list(
    call: Call<'_>,
    unit: Option<UnitId>,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<story::Model>, bool), ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    let own_branch = branch_of(db, viewer.person_id).await.ok();
    let unit = match (unit, own_branch) {
        (Some(u), _) => u,
        (None, Some(b)) => b,
        (None, None) => return Err(ApiError::bad_input("unit_id", InputProblem::Required)),
    };
    let whole_subtree = if own_branch == Some(unit) {
        false
    } else {
        let u = get_unit(db, unit).await?;
        authz::require(db, viewer, Capability::ViewUnit, &u).await?;
        true
    };
    let mut q = story::Entity::find().filter(story::Column::Status.eq(ContentStatus::Published));
    q = if whole_subtree {
        q.filter(
            story::Column::UnitId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(entities::org_unit_closure::Column::DescendantId)
                    .from(entities::org_unit_closure::Entity)
                    .and_where(entities::org_unit_closure::Column::AncestorId.eq(unit))
                    .to_owned(),
            ),
        )
    } else {
        q.filter(story::Column::UnitId.eq(unit))
    };
    if let Some((at, id)) = after {
        q = q.filter(crate::db::before_key(story::Column::PublishedAt, at, story::Column::Id, id));
    }
    let rows = q
        .order_by_desc(story::Column::PublishedAt)
        .order_by_desc(story::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

/// The caller's own stories (every status but deleted), newest first.
pub async fn mine(
    call: Call<'_>,
    first: u64,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> Result<(Vec<story::Model>, bool), ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    let mut q = story::Entity::find()
        .filter(story::Column::AuthorId.eq(viewer.person_id))
        .filter(story::Column::Status.ne(ContentStatus::Removed));
    if let Some((at, id)) = after {
        q = q.filter(crate::db::before_key(story::Column::CreatedAt, at, story::Column::Id, id));
    }
    let rows = q
        .order_by_desc(story::Column::CreatedAt)
        .order_by_desc(story::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

/// The target of comments and reactions on a story: its unit, and whether it takes new ones.
pub(crate) async fn seen(call: Call<'_>, id: Uuid) -> Result<super::Seen, ApiError> {
    let s = get(call, id).await?;
    Ok(super::Seen { unit_id: s.unit_id, open: s.status == ContentStatus::Published })
}

/// Takes a deleted account's stories away (text erased, photos deleted), inside the erasure's
/// transaction; returns the photos whose bytes to delete after the commit.
pub(crate) async fn forget_person(
    txn: &impl ConnectionTrait,
    person: PersonId,
) -> Result<Vec<Uuid>, ApiError> {
    let ids: Vec<Uuid> = story::Entity::find()
        .select_only()
        .column(story::Column::Id)
        .filter(story::Column::AuthorId.eq(person))
        .into_tuple()
        .all(txn)
        .await?;
    story::Entity::update_many()
        .col_expr(story::Column::Status, Expr::value(ContentStatus::Removed))
        .col_expr(story::Column::Body, Expr::value(""))
        .col_expr(story::Column::ModerationNote, Expr::value(Option::<String>::None))
        .col_expr(story::Column::CampaignId, Expr::value(Option::<Uuid>::None))
        .filter(story::Column::AuthorId.eq(person))
        .exec(txn)
        .await?;
    let mut photos = Vec::new();
    for id in ids {
        photos.extend(media::delete_of_parent(txn, id).await?);
    }
    // Photos she uploaded that no story took.
    let pending: Vec<Uuid> = entities::media::Entity::find()
        .select_only()
        .column(entities::media::Column::Id)
        .filter(entities::media::Column::OwnerId.eq(person))
        .filter(entities::media::Column::ParentId.is_null())
        .into_tuple()
        .all(txn)
        .await?;
    entities::media::Entity::delete_many()
        .filter(entities::media::Column::Id.is_in(pending.clone()))
        .exec(txn)
        .await?;
    photos.extend(pending);
    Ok(photos)
}
