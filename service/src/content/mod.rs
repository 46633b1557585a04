//! Member content: members' stories, and comments and reactions on what members can see (news
//! posts, campaigns, stories, and comments themselves), with their counters.
//!
//! - **Who may comment or react**: whoever may see the target — a post through
//!   `news::get_post`, a campaign through `campaign::get_campaign`, a story through
//!   `stories::get` (their rules, so a district's
//!   post is neither readable nor commentable from another district), a comment through the
//!   target it belongs to. Anything else is `NOT_FOUND`. A post taken down, a campaign not
//!   launched or ended, takes no new comments (`CONFLICT` `WRONG_STATUS`).
//! - **Counters** (`engagement`: published comments, each reaction) change in the transaction of
//!   the write that changes them, so lists read them without counting rows, and they are exact
//!   whatever runs at the same time.
//! - **Moderation** ([`moderation`]): flags, the automatic check of every text at write time
//!   ([`screen`]), the moderators' queue, decisions, mutes and appeals. Writers call
//!   `moderation::ensure_not_muted` first and `moderation::check` on the text; a held item is
//!   stored `PENDING`, with a case, and counted nowhere until approved.

pub mod comments;
pub mod moderation;
pub mod reactions;
pub mod screen;
pub mod stories;

use entities::{
    campaign::CampaignStatus,
    comment::{self, ContentStatus, TargetKind},
    ids::{CampaignId, PersonId, UnitId},
    post::PostStatus,
};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult};
use uuid::Uuid;

use crate::{
    Call,
    campaigns::{campaign, news},
    db::stmt,
    error::ApiError,
};

/// What a comment or reaction is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub id: Uuid,
}

/// A target the caller may see: its unit, and whether it takes new comments.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen {
    pub unit_id: UnitId,
    pub open: bool,
}

/// The target, if the caller may see it; `NOT_FOUND` otherwise (whether it exists or not).
pub(crate) async fn see(call: Call<'_>, target: Target) -> Result<Seen, ApiError> {
    match target.kind {
        TargetKind::Post => {
            let p = news::get_post(call, target.id).await?;
            Ok(Seen { unit_id: p.unit_id, open: p.status == PostStatus::Published })
        }
        TargetKind::Campaign => {
            let c = campaign::get_campaign(call, CampaignId(target.id)).await?;
            Ok(Seen { unit_id: c.unit_id, open: c.status == CampaignStatus::Active })
        }
        TargetKind::Story => stories::seen(call, target.id).await,
        TargetKind::Comment => {
            let viewer = call.viewer()?;
            let c = comment::Entity::find_by_id(target.id)
                .one(&call.state.db)
                .await?
                .ok_or(ApiError::NotFound)?;
            if !comments::visible_to(&c, viewer.person_id) {
                return Err(ApiError::NotFound);
            }
            let parent = Box::pin(see(call, Target { kind: c.target_kind, id: c.target_id })).await?;
            Ok(Seen { unit_id: c.unit_id, open: parent.open && c.status == ContentStatus::Published })
        }
    }
}

#[derive(FromQueryResult)]
struct Branch {
    branch_id: UnitId,
}

/// Whose moderators answer for what `person` writes about a target of `unit`: her branch when
/// it is in the unit's subtree (a member commenting on her district's post), else the unit.
pub(crate) async fn moderating_unit(
    conn: &impl ConnectionTrait,
    person: PersonId,
    unit: UnitId,
) -> Result<UnitId, ApiError> {
    let sql = "SELECT m.branch_id AS branch_id FROM membership m \
               JOIN org_unit_closure c ON c.descendant_id = m.branch_id AND c.ancestor_id = ? \
               WHERE m.person_id = ? AND m.status = 'ACTIVE'";
    let branch =
        Branch::find_by_statement(stmt(conn.get_database_backend(), sql, [unit.into(), person.into()]))
            .one(conn)
            .await?;
    Ok(branch.map_or(unit, |b| b.branch_id))
}

/// Counter names of `engagement`.
pub const COMMENTS: &str = "COMMENTS";

/// Adds `delta` to a target's counter, inside the caller's transaction (one statement; the row
/// is made on first use).
pub(crate) async fn bump(
    conn: &impl ConnectionTrait,
    target: Uuid,
    counter: &str,
    delta: i64,
) -> Result<(), ApiError> {
    if delta == 0 {
        return Ok(());
    }
    let sql = "INSERT INTO engagement (target_id, counter, value) VALUES (?, ?, ?) \
               ON CONFLICT (target_id, counter) DO UPDATE SET value = engagement.value + excluded.value";
    conn.execute_raw(stmt(conn.get_database_backend(), sql, [target.into(), counter.into(), delta.into()]))
        .await?;
    Ok(())
}

/// The counters of targets, in one statement: `(target, counter) → value`.
pub async fn counters_of(
    conn: &impl ConnectionTrait,
    targets: &[Uuid],
) -> Result<std::collections::HashMap<(Uuid, String), i64>, ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    if targets.is_empty() {
        return Ok(Default::default());
    }
    let rows = entities::engagement::Entity::find()
        .filter(entities::engagement::Column::TargetId.is_in(targets.iter().copied()))
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| ((r.target_id, r.counter), r.value)).collect())
}

/// Takes a deleted account's comments (their text erased, out of the counts) and reactions (out
/// of the counts) away, inside the erasure's transaction.
pub(crate) async fn forget_person(txn: &impl ConnectionTrait, person: PersonId) -> Result<(), ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
    // Her cases first (withdrawn), then her items: the order a moderator's decision takes.
    moderation::forget_person(txn, person).await?;
    // What a moderator deleted keeps its text only while it may be appealed: not past her.
    comment::Entity::update_many()
        .col_expr(comment::Column::Body, Expr::value(""))
        .col_expr(comment::Column::ModerationNote, Expr::value(Option::<String>::None))
        .filter(comment::Column::AuthorId.eq(person))
        .filter(comment::Column::Status.eq(ContentStatus::Removed))
        .exec(txn)
        .await?;
    let written = comment::Entity::find()
        .filter(comment::Column::AuthorId.eq(person))
        .filter(comment::Column::Status.ne(ContentStatus::Removed))
        .all(txn)
        .await?;
    for c in &written {
        comments::remove(txn, c).await?;
    }
    // Deleted and read in one statement: a reaction switched meanwhile is counted by what was
    // deleted, never twice.
    #[derive(FromQueryResult)]
    struct Gone {
        target_id: Uuid,
        kind: String,
    }
    let sql = "DELETE FROM reaction WHERE person_id = ? RETURNING target_id, kind";
    let gone =
        Gone::find_by_statement(stmt(txn.get_database_backend(), sql, [person.into()])).all(txn).await?;
    for r in &gone {
        bump(txn, r.target_id, &r.kind, -1).await?;
    }
    Ok(())
}
