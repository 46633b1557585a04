//! Comments: one level of threading, an edit window, deletion by the author, keyset pages.
//!
//! - A comment is on a target the author may see (see the module above); a reply names a
//!   published top-level comment of the same target (`parentId`), and replies have no replies.
//! - Its text: 1–2,000 characters, composed (NFC) and trimmed; line breaks are kept.
//! - Its author may edit it within `APP_COMMENT_EDIT_WINDOW_SECS` (15 minutes) of writing it
//!   (`CONFLICT` `EDIT_WINDOW_CLOSED` after), and delete it at any time: its text is erased and
//!   it leaves every list and count (a deleted top-level comment with replies stays as an empty
//!   placeholder, so the thread still reads).
//! - Everyone who sees the target sees its published comments; the author also sees her own
//!   that a moderator holds or hid, with the note the moderator wrote.
//! - Lists are oldest first, keyset-paged on `(created_at, id)` by the index
//!   `ix_comment_thread (target_id, parent_id, created_at, id)`: a page costs the same at the
//!   ten-thousandth comment as at the first. The target's counter of published comments (and a
//!   top-level comment's `reply_count`) change with every write that changes them.
//! - A reply notifies the author of the comment it answers (topic `COMMENTS`), not herself.
//! - A muted author writes and edits nothing (`CONFLICT` `MUTED`); a text the automatic check
//!   holds is stored `PENDING` with a moderation case (an edit too), in no count and notifying
//!   no one until a moderator approves it; deleting a comment withdraws its open case.

use chrono::{DateTime, Utc};
use entities::{
    comment::{self, ContentStatus, TargetKind},
    ids::PersonId,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde_json::json;
use uuid::Uuid;

use super::{
    COMMENTS, Target, bump, moderating_unit,
    moderation::{self, Item},
    see,
};
use crate::{
    Call,
    domain::{GlobalId, NodeKind},
    error::{ApiError, ConflictKind, InputProblem},
    notifications::{self, NewNotification, NotificationKind},
};

/// The longest comment, in characters.
pub const MAX_BODY: usize = 2000;

/// A comment's text: composed, trimmed, 1 to [`MAX_BODY`] characters, line breaks kept (runs of
/// blank lines folded to one).
pub fn parse_body(raw: &str) -> Result<String, ApiError> {
    let body = crate::domain::normalise_multiline(raw);
    match body.chars().count() {
        0 => Err(ApiError::bad_input("body", InputProblem::Required)),
        n if n > MAX_BODY => Err(ApiError::bad_input("body", InputProblem::TooLong)),
        _ => Ok(body),
    }
}

/// Whether `person` may read comment `c` (given she sees its target).
pub fn visible_to(c: &comment::Model, person: PersonId) -> bool {
    match c.status {
        ContentStatus::Published => true,
        ContentStatus::Pending | ContentStatus::Hidden => c.author_id == person,
        ContentStatus::Removed => c.reply_count > 0,
    }
}

/// Writes a comment (or, with `parent`, a reply).
pub async fn add_comment(
    call: Call<'_>,
    target: Target,
    parent: Option<Uuid>,
    body: &str,
) -> Result<comment::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let body = parse_body(body)?;
    if target.kind == TargetKind::Comment {
        return Err(ApiError::bad_input("target_id", InputProblem::InvalidKind));
    }
    let seen = see(call, target).await?;
    if !seen.open {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let db = &state.db;
    moderation::ensure_not_muted(db, viewer.person_id).await?;
    let held = moderation::check(&body);
    let parent = match parent {
        None => None,
        Some(id) => {
            let p = comment::Entity::find_by_id(id).one(db).await?;
            match p {
                Some(p)
                    if p.target_id == target.id
                        && p.parent_id.is_none()
                        && p.status == ContentStatus::Published =>
                {
                    Some(p)
                }
                _ => return Err(ApiError::bad_input("parent_id", InputProblem::InvalidId)),
            }
        }
    };
    let unit_id = moderating_unit(db, viewer.person_id, seen.unit_id).await?;
    let now = Utc::now();
    let row = comment::Model {
        id: Uuid::now_v7(),
        target_kind: target.kind,
        target_id: target.id,
        parent_id: parent.as_ref().map(|p| p.id),
        author_id: viewer.person_id,
        unit_id,
        body,
        status: if held.is_some() { ContentStatus::Pending } else { ContentStatus::Published },
        moderation_note: None,
        flag_count: 0,
        reply_count: 0,
        created_at: now,
        edited_at: None,
    };
    let txn = db.begin().await?;
    if let Some(cause) = held {
        // Held for a moderator: in no count, and nobody is told, until it is approved.
        comment::Entity::insert(comment::ActiveModel::from(row.clone())).exec_without_returning(&txn).await?;
        let opened = moderation::open_case(&txn, Item::comment(&row), cause).await?;
        txn.commit().await?;
        if let Some(o) = opened {
            moderation::publish(state, o.unit, o.case_id, "OPENED").await;
        }
        return Ok(row);
    }
    if let Some(p) = &parent {
        // Counted on the parent first, only while it is still published: this takes its row
        // lock, so a reply and the parent's deletion happen one after the other, and a reply
        // never lands under a deleted comment.
        let res = comment::Entity::update_many()
            .col_expr(comment::Column::ReplyCount, Expr::col(comment::Column::ReplyCount).add(1))
            .filter(comment::Column::Id.eq(p.id))
            .filter(comment::Column::Status.eq(ContentStatus::Published))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            return Err(ApiError::bad_input("parent_id", InputProblem::InvalidId));
        }
        bump(&txn, p.id, COMMENTS, 1).await?;
    }
    comment::Entity::insert(comment::ActiveModel::from(row.clone())).exec_without_returning(&txn).await?;
    bump(&txn, target.id, COMMENTS, 1).await?;
    let mut notes = Vec::new();
    if let Some(p) = &parent
        && p.author_id != viewer.person_id
    {
        notes = notifications::enqueue(
            &txn,
            vec![NewNotification {
                person_id: p.author_id,
                kind: NotificationKind::CommentReplied,
                params: json!({}),
                link: Some(GlobalId::new(NodeKind::Comment, p.id).encode()),
                duty: false,
            }],
        )
        .await?;
    }
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    Ok(row)
}

/// The caller's own comment, if it is not deleted; `NOT_FOUND` otherwise.
async fn own(conn: &impl ConnectionTrait, person: PersonId, id: Uuid) -> Result<comment::Model, ApiError> {
    comment::Entity::find_by_id(id)
        .filter(comment::Column::AuthorId.eq(person))
        .filter(comment::Column::Status.ne(ContentStatus::Removed))
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Changes the text of the caller's comment, within the edit window. A published comment
/// whose new text the automatic check holds goes back to the moderators.
pub async fn edit_comment(call: Call<'_>, id: Uuid, body: &str) -> Result<comment::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let body = parse_body(body)?;
    let db = &state.db;
    moderation::ensure_not_muted(db, viewer.person_id).await?;
    let mut row = own(db, viewer.person_id, id).await?;
    let now = Utc::now();
    let window = chrono::Duration::from_std(state.settings.comment_edit_window).unwrap_or_default();
    if now - row.created_at > window {
        return Err(ApiError::Conflict(ConflictKind::EditWindowClosed));
    }
    let held = moderation::check(&body).filter(|_| row.status == ContentStatus::Published);
    let txn = db.begin().await?;
    // The case before the item, the order a moderator's decision takes them in.
    let opened = match held {
        Some(cause) => {
            let pending = comment::Model { status: ContentStatus::Pending, ..row.clone() };
            moderation::open_case(&txn, Item::comment(&pending), cause).await?
        }
        None => None,
    };
    let mut q = comment::Entity::update_many()
        .col_expr(comment::Column::Body, Expr::value(body.clone()))
        .col_expr(comment::Column::EditedAt, Expr::value(now));
    if held.is_some() {
        q = q.col_expr(comment::Column::Status, Expr::value(ContentStatus::Pending));
    }
    let res = q
        .filter(comment::Column::Id.eq(id))
        .filter(comment::Column::Status.eq(row.status))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(ApiError::NotFound);
    }
    if held.is_some() {
        count_published(&txn, &row, -1).await?;
        row.status = ContentStatus::Pending;
    }
    txn.commit().await?;
    if let Some(o) = opened {
        moderation::publish(state, o.unit, o.case_id, "OPENED").await;
    }
    row.body = body;
    row.edited_at = Some(now);
    Ok(row)
}

/// Deletes the caller's comment: its text is erased and it leaves the counts. Returns whether
/// it changed (a second delete answers `NOT_FOUND`).
pub async fn delete_comment(call: Call<'_>, id: Uuid) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let txn = state.db.begin().await?;
    moderation::withdraw(&txn, id, viewer.person_id).await?;
    let row = own(&txn, viewer.person_id, id).await?;
    remove(&txn, &row).await?;
    txn.commit().await?;
    Ok(())
}

/// Marks a comment removed and takes it out of the counts, inside the caller's transaction.
/// Only the writer that moves it out of its status changes the counts (two deletes at once
/// count once).
pub(crate) async fn remove(txn: &impl ConnectionTrait, row: &comment::Model) -> Result<(), ApiError> {
    let res = comment::Entity::update_many()
        .col_expr(comment::Column::Status, Expr::value(ContentStatus::Removed))
        .col_expr(comment::Column::Body, Expr::value(""))
        .col_expr(comment::Column::ModerationNote, Expr::value(Option::<String>::None))
        .filter(comment::Column::Id.eq(row.id))
        .filter(comment::Column::Status.eq(row.status))
        .exec(txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(ApiError::NotFound);
    }
    if row.status == ContentStatus::Published {
        count_published(txn, row, -1).await?;
    }
    Ok(())
}

/// Adds `delta` to the published-comment counters `row` is part of — its target's, and its
/// parent's replies — inside the caller's transaction (a comment published or unpublished).
pub(crate) async fn count_published(
    txn: &impl ConnectionTrait,
    row: &comment::Model,
    delta: i64,
) -> Result<(), ApiError> {
    if delta == 0 {
        return Ok(());
    }
    // The parent first, then the target: the order `add_comment` takes them in.
    if let Some(parent) = row.parent_id {
        let mut q = comment::Entity::update_many()
            .col_expr(comment::Column::ReplyCount, Expr::col(comment::Column::ReplyCount).add(delta))
            .filter(comment::Column::Id.eq(parent));
        if delta > 0 {
            // A reply is published only under a published comment, as `add_comment` rules.
            q = q.filter(comment::Column::Status.eq(ContentStatus::Published));
        }
        if q.exec(txn).await?.rows_affected == 0 && delta > 0 {
            return Err(ApiError::Conflict(ConflictKind::WrongStatus));
        }
        bump(txn, parent, COMMENTS, delta).await?;
    }
    bump(txn, row.target_id, COMMENTS, delta).await
}

/// Where a page of comments starts: after the comment `(created_at, id)`.
pub type Cursor = (DateTime<Utc>, Uuid);

/// What the caller may read of a thread: published comments, placeholders of deleted ones that
/// have replies, and her own held or hidden ones.
fn readable(person: PersonId) -> Condition {
    Condition::any()
        .add(comment::Column::Status.eq(ContentStatus::Published))
        .add(
            Condition::all()
                .add(comment::Column::Status.eq(ContentStatus::Removed))
                .add(comment::Column::ReplyCount.gt(0)),
        )
        .add(
            Condition::all()
                .add(comment::Column::AuthorId.eq(person))
                .add(comment::Column::Status.is_in([ContentStatus::Pending, ContentStatus::Hidden])),
        )
}

async fn page(
    conn: &impl ConnectionTrait,
    thread: Condition,
    person: PersonId,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<comment::Model>, bool), ApiError> {
    let mut q = comment::Entity::find().filter(thread).filter(readable(person));
    if let Some((at, id)) = after {
        q = q.filter(crate::db::after_key(comment::Column::CreatedAt, at, comment::Column::Id, id));
    }
    let rows = q
        .order_by_asc(comment::Column::CreatedAt)
        .order_by_asc(comment::Column::Id)
        .limit(first + 1)
        .all(conn)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

fn top_level(target: Uuid) -> Condition {
    Condition::all().add(comment::Column::TargetId.eq(target)).add(comment::Column::ParentId.is_null())
}

/// A page of a target's top-level comments, oldest first.
pub async fn list(
    call: Call<'_>,
    target: Target,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<comment::Model>, bool), ApiError> {
    let viewer = call.viewer()?;
    see(call, target).await?;
    page(&call.state.db, top_level(target.id), viewer.person_id, first, after).await
}

/// How many comments of a thread the caller may read: a target's top-level ones, or a
/// comment's replies (`target` a comment).
pub async fn count(call: Call<'_>, target: Target) -> Result<u64, ApiError> {
    let viewer = call.viewer()?;
    let thread = if target.kind == TargetKind::Comment {
        Condition::all().add(comment::Column::ParentId.eq(target.id))
    } else {
        top_level(target.id)
    };
    Ok(comment::Entity::find()
        .filter(thread)
        .filter(readable(viewer.person_id))
        .count(&call.state.db)
        .await?)
}

/// A page of a comment's replies, oldest first.
pub async fn replies(
    call: Call<'_>,
    comment_id: Uuid,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<comment::Model>, bool), ApiError> {
    let viewer = call.viewer()?;
    see(call, Target { kind: TargetKind::Comment, id: comment_id }).await?;
    let thread = Condition::all().add(comment::Column::ParentId.eq(comment_id));
    page(&call.state.db, thread, viewer.person_id, first, after).await
}

/// One comment the caller may read (for `node(id:)`).
pub async fn get(call: Call<'_>, id: Uuid) -> Result<comment::Model, ApiError> {
    see(call, Target { kind: TargetKind::Comment, id }).await?;
    comment::Entity::find_by_id(id).one(&call.state.db).await?.ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_their_lines_and_lose_the_rest() {
        assert_eq!(
            parse_body("  Chị em mình\n\n\n\ncùng làm nhé  \n").unwrap(),
            "Chị em mình\n\ncùng làm nhé"
        );
        // Composed: "ệ" typed as e + two combining marks is stored as one letter.
        assert_eq!(parse_body("Vi\u{0065}\u{0323}\u{0302}t").unwrap(), "Việt");
        assert!(parse_body(" \n \t").is_err());
        assert!(parse_body(&"a".repeat(MAX_BODY)).is_ok());
        assert!(parse_body(&"a".repeat(MAX_BODY + 1)).is_err());
    }
}
