//! Moderation of members' comments and stories: flags, automatic checks, the moderators'
//! queue, decisions, mutes and appeals.
//!
//! - **Flags**: whoever may read a comment or story (not its author) flags it once, with a
//!   reason (`CONFLICT` `ALREADY_FLAGGED` the second time). The first flag opens a case; at the
//!   `flag_threshold`-th distinct flag the item is held (`PENDING`: only its author sees it)
//!   until a moderator decides. The threshold is the one set at the item's unit or the nearest
//!   unit above it (`setContentSettings`), else `APP_MODERATION_FLAG_THRESHOLD` (3). The count
//!   is one `UPDATE … flag_count + 1` on the item's row, so flags arriving together are counted
//!   one after another and exactly one of them holds the item.
//! - **Automatic checks** (`super::screen`): a comment, an edit or a story with a phone number,
//!   an ID number, an address or a word of our offensive-word list is held at once, with a case
//!   saying why. A branch with story pre-moderation holds every story of its members.
//! - **Who moderates**: `ModerateContent` over the case's unit — the branch leader for her
//!   branch's items, unit officers and admins at or above. The item's unit is the author's
//!   branch (or the post's or campaign's unit when she comments from outside it).
//! - **The queue**: open cases in the moderator's reach (or below a unit), oldest first,
//!   filtered by cause and kind, with `totalCount`; decided cases on request.
//! - **Decisions** (one at a time or in bulk, each item on its own): approve (published again,
//!   flags cleared), hide with a reason the author sees, delete (out of every list; the text is
//!   kept while it can be appealed); beside hiding or deleting, warn the author or mute her for
//!   1–365 days (she still reads, reacts, flags and reports violence; she cannot comment, post a
//!   story or upload a photo: `CONFLICT` `MUTED`). A case is decided once: of two moderators
//!   deciding together, one gets `CONFLICT` `ALREADY_DECIDED`.
//! - **Appeals**: the author appeals a decision against her once (`ALREADY_APPEALED` after),
//!   with a statement; the appeal is a case of the unit above the one that decided, and the
//!   moderator who made the decision cannot decide its appeal. Approving an appeal publishes the
//!   item again and lifts that decision's mute; hiding or deleting confirms it. An appeal's
//!   decision is final.
//! - **Trail and events**: every decision and settings change is an audit entry (area
//!   `MODERATION`); opening, appealing and deciding a case is a live event on the consoles of
//!   its unit and every unit above (`moderationQueueEvents`). The author is notified of
//!   decisions (topic `MODERATION`), of a warning and of a mute (always delivered).
//! - Nobody learns who flagged: flags are counted by reason only.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entities::{
    comment::{self, ContentStatus, TargetKind},
    content_flag::{self, FlagReason},
    content_settings,
    ids::{PersonId, UnitId},
    member_mute,
    moderation_case::{self as case, CaseStatus, ModerationCause, ModerationDecision, Sanction},
    org_unit, story,
};
use futures_util::StreamExt;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
    sea_query::{Expr, Func},
};
use serde_json::json;
use uuid::Uuid;

use super::{
    Target, comments,
    screen::{Hit, screen},
    stories,
};
use crate::{
    Call,
    audit::{self, Action as AuditAction, SubjectKind},
    auth::Viewer,
    authz::{self, Capability},
    bulk,
    db::stmt,
    domain::{GlobalId, NodeKind},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    notifications::{self, NewNotification, NotificationKind},
    state::AppState,
};

/// The longest reason a moderator writes, and the longest statement of an appeal.
pub const MAX_REASON: usize = 500;
pub const MAX_STATEMENT: usize = 1000;
/// The longest mute, in days.
pub const MAX_MUTE_DAYS: u32 = 365;
/// The highest flag threshold a unit may set.
pub const MAX_FLAG_THRESHOLD: u32 = 100;

// ---------------------------------------------------------------------------------------------
// Settings

/// The moderation settings in force at a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    pub flag_threshold: u32,
    pub story_premoderation: bool,
}

#[derive(FromQueryResult)]
struct SettingRow {
    flag_threshold: Option<i32>,
    story_premoderation: Option<bool>,
}

/// The settings in force at `unit`: each the value of the nearest unit at or above it that sets
/// one (one statement), else the default.
pub async fn effective(
    conn: &impl ConnectionTrait,
    state: &AppState,
    unit: UnitId,
) -> Result<Effective, ApiError> {
    let sql = "SELECT s.flag_threshold AS flag_threshold, s.story_premoderation AS story_premoderation \
               FROM content_settings s JOIN org_unit_closure c ON c.ancestor_id = s.unit_id \
               WHERE c.descendant_id = ? ORDER BY c.depth";
    let rows = SettingRow::find_by_statement(stmt(conn.get_database_backend(), sql, [unit.into()]))
        .all(conn)
        .await?;
    let threshold = rows.iter().find_map(|r| r.flag_threshold).and_then(|n| u32::try_from(n).ok());
    Ok(Effective {
        flag_threshold: threshold.unwrap_or(state.settings.moderation_flag_threshold).max(1),
        story_premoderation: rows.iter().find_map(|r| r.story_premoderation).unwrap_or(false),
    })
}

/// A change to one setting of a unit: keep it, clear it (inherit from above), or set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Change<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T: Copy> Change<T> {
    fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Change::Keep => current,
            Change::Clear => None,
            Change::Set(v) => Some(v),
        }
    }
}

/// Sets a unit's own moderation settings (`ModerateContent` over it); answers what is then in
/// force there.
pub async fn set_settings(
    call: Call<'_>,
    unit: UnitId,
    flag_threshold: Change<u32>,
    story_premoderation: Change<bool>,
) -> Result<Effective, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    if let Change::Set(n) = flag_threshold
        && !(1..=MAX_FLAG_THRESHOLD).contains(&n)
    {
        return Err(ApiError::bad_input("flag_threshold", InputProblem::OutOfRange));
    }
    let db = &state.db;
    let row = crate::org::get_unit(db, unit).await?;
    let acting = authz::require(db, viewer, Capability::ModerateContent, &row).await?;
    let txn = db.begin().await?;
    let before = content_settings::Entity::find_by_id(unit).one(&txn).await?;
    let threshold = flag_threshold
        .apply(before.as_ref().and_then(|b| b.flag_threshold).and_then(|n| u32::try_from(n).ok()));
    let premoderation = story_premoderation.apply(before.as_ref().and_then(|b| b.story_premoderation));
    let now = Utc::now();
    let sql = "INSERT INTO content_settings (unit_id, flag_threshold, story_premoderation, updated_at, updated_by) \
               VALUES (?, ?, ?, ?, ?) ON CONFLICT (unit_id) DO UPDATE SET \
               flag_threshold = excluded.flag_threshold, story_premoderation = excluded.story_premoderation, \
               updated_at = excluded.updated_at, updated_by = excluded.updated_by";
    let values = [
        unit.into(),
        threshold.map(|n| n as i32).into(),
        premoderation.into(),
        now.into(),
        viewer.person_id.into(),
    ];
    txn.execute_raw(stmt(txn.get_database_backend(), sql, values)).await?;
    let entry = audit::Entry::new(AuditAction::ContentSettingsSet, unit, SubjectKind::ContentSettings, unit)
        .change(
            "flagThreshold",
            before.as_ref().and_then(|b| b.flag_threshold).map(i64::from),
            threshold.map(i64::from),
        )
        .change("storyPremoderation", before.as_ref().and_then(|b| b.story_premoderation), premoderation);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    effective(db, state, unit).await
}

// ---------------------------------------------------------------------------------------------
// Mutes

/// Until when `person` may not write, if a mute holds now.
pub async fn muted_until(
    conn: &impl ConnectionTrait,
    person: PersonId,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    Ok(member_mute::Entity::find_by_id(person)
        .filter(member_mute::Column::Until.gt(Utc::now()))
        .one(conn)
        .await?
        .map(|m| m.until))
}

/// `CONFLICT` `MUTED` while a mute holds `person`: the gate of every write of member content.
pub(crate) async fn ensure_not_muted(conn: &impl ConnectionTrait, person: PersonId) -> Result<(), ApiError> {
    match muted_until(conn, person).await? {
        Some(_) => Err(ApiError::Conflict(ConflictKind::Muted)),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Opening cases

/// Why the automatic check holds a text, if it does.
pub(crate) fn check(text: &str) -> Option<ModerationCause> {
    screen(text).map(|hit| match hit {
        Hit::PersonalData => ModerationCause::PersonalData,
        Hit::OffensiveWords => ModerationCause::OffensiveWords,
    })
}

/// An item to moderate: a comment or a story.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub kind: TargetKind,
    pub id: Uuid,
    pub author: PersonId,
    pub unit: UnitId,
}

impl Item {
    pub fn comment(c: &comment::Model) -> Self {
        Item { kind: TargetKind::Comment, id: c.id, author: c.author_id, unit: c.unit_id }
    }

    pub fn story(s: &story::Model) -> Self {
        Item { kind: TargetKind::Story, id: s.id, author: s.author_id, unit: s.unit_id }
    }
}

/// A case opened, to announce after the commit.
#[derive(Clone, Copy, Debug)]
pub struct Opened {
    pub case_id: Uuid,
    pub unit: UnitId,
}

/// Opens a case on `item` for `cause`, inside the caller's transaction, unless one is open
/// already (one statement; the open case keeps its first cause).
pub(crate) async fn open_case(
    txn: &impl ConnectionTrait,
    item: Item,
    cause: ModerationCause,
) -> Result<Option<Opened>, ApiError> {
    #[derive(FromQueryResult)]
    struct Id {
        id: Uuid,
    }
    let id = Uuid::now_v7();
    let sql = "INSERT INTO moderation_case (id, content_kind, content_id, author_id, unit_id, cause, status, opened_at) \
               VALUES (?, ?, ?, ?, ?, ?, 'OPEN', ?) \
               ON CONFLICT (content_id) WHERE status = 'OPEN' DO NOTHING RETURNING id";
    let values = [
        id.into(),
        item.kind.as_str().into(),
        item.id.into(),
        item.author.into(),
        item.unit.into(),
        cause.as_str().into(),
        Utc::now().into(),
    ];
    let made = Id::find_by_statement(stmt(txn.get_database_backend(), sql, values)).one(txn).await?;
    Ok(made.map(|m| Opened { case_id: m.id, unit: item.unit }))
}

/// Closes the open case of an item its author deleted, inside her transaction (before the item
/// changes, so a moderator deciding at the same moment and she take the case row in one order).
pub(crate) async fn withdraw(
    txn: &impl ConnectionTrait,
    item: Uuid,
    author: PersonId,
) -> Result<(), ApiError> {
    case::Entity::update_many()
        .col_expr(case::Column::Status, Expr::value(CaseStatus::Decided))
        .col_expr(case::Column::Decision, Expr::value(ModerationDecision::Withdrawn))
        .col_expr(case::Column::DecidedBy, Expr::value(author))
        .col_expr(case::Column::DecidedAt, Expr::value(Utc::now()))
        .filter(case::Column::ContentId.eq(item))
        .filter(case::Column::AuthorId.eq(author))
        .filter(case::Column::Status.eq(CaseStatus::Open))
        .exec(txn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Flags

/// A comment or story, read for moderation.
#[derive(Clone, Debug)]
pub enum Content {
    Comment(comment::Model),
    Story(story::Model),
}

impl Content {
    fn item(&self) -> Item {
        match self {
            Content::Comment(c) => Item::comment(c),
            Content::Story(s) => Item::story(s),
        }
    }

    pub fn status(&self) -> ContentStatus {
        match self {
            Content::Comment(c) => c.status,
            Content::Story(s) => s.status,
        }
    }

    fn table(&self) -> &'static str {
        match self {
            Content::Comment(_) => "comment",
            Content::Story(_) => "story",
        }
    }
}

/// Flags a comment or story the caller may read (not her own) with a reason; holds it for a
/// moderator at the threshold. Returns its status after the flag.
pub async fn flag(call: Call<'_>, target: Target, reason: FlagReason) -> Result<ContentStatus, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let content = match target.kind {
        TargetKind::Comment => Content::Comment(comments::get(call, target.id).await?),
        TargetKind::Story => Content::Story(stories::get(call, target.id).await?),
        _ => return Err(ApiError::bad_input("content_id", InputProblem::InvalidKind)),
    };
    let item = content.item();
    if item.author == viewer.person_id {
        return Err(ApiError::Forbidden);
    }
    if content.status() == ContentStatus::Removed {
        return Err(ApiError::NotFound);
    }
    let db = &state.db;
    let threshold = effective(db, state, item.unit).await?.flag_threshold;
    let txn = db.begin().await?;
    let row = content_flag::ActiveModel::from(content_flag::Model {
        content_id: item.id,
        person_id: viewer.person_id,
        content_kind: item.kind,
        reason,
        created_at: Utc::now(),
    });
    content_flag::Entity::insert(row).exec_without_returning(&txn).await.map_err(|e| {
        if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::AlreadyFlagged) } else { e.into() }
    })?;
    // The case first, then the item: the order a moderator's decision takes them in, so the two
    // never wait for each other crosswise.
    let opened = open_case(&txn, item, ModerationCause::Flags).await?;
    #[derive(FromQueryResult)]
    struct Counted {
        flag_count: i32,
        status: ContentStatus,
    }
    // The row lock of this update orders flags arriving together: each reads the count and
    // status the one before it left.
    let sql = format!(
        "UPDATE {} SET flag_count = flag_count + 1 WHERE id = ? RETURNING flag_count, status",
        content.table()
    );
    let counted = Counted::find_by_statement(stmt(txn.get_database_backend(), &sql, [item.id.into()]))
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !matches!(counted.status, ContentStatus::Published | ContentStatus::Pending) {
        // Hidden or deleted since she read it: nothing left to flag (the transaction, and the
        // case it opened, are rolled back).
        return Err(ApiError::NotFound);
    }
    let mut status = counted.status;
    let mut held = false;
    if status == ContentStatus::Published && u32::try_from(counted.flag_count).unwrap_or(0) >= threshold {
        held = set_status(&txn, &content, ContentStatus::Published, ContentStatus::Pending, None).await?;
        if held {
            status = ContentStatus::Pending;
        }
    }
    txn.commit().await?;
    if let Some(o) = opened {
        publish(state, o.unit, o.case_id, "OPENED").await;
    } else if held && let Some(c) = open_case_of(db, item.id).await? {
        publish(state, c.unit_id, c.id, "HELD").await;
    }
    Ok(status)
}

/// The open case of an item, if any.
async fn open_case_of(conn: &impl ConnectionTrait, item: Uuid) -> Result<Option<case::Model>, ApiError> {
    Ok(case::Entity::find()
        .filter(case::Column::ContentId.eq(item))
        .filter(case::Column::Status.eq(CaseStatus::Open))
        .one(conn)
        .await?)
}

/// Moves an item from status `from` to `to` (with the moderator's note, or none), keeping the
/// counters of published comments right; `false` when it was no longer in `from`. Approving
/// clears its flags; a story published for the first time gets its `published_at`.
async fn set_status(
    txn: &impl ConnectionTrait,
    content: &Content,
    from: ContentStatus,
    to: ContentStatus,
    note: Option<&str>,
) -> Result<bool, ApiError> {
    let now = Utc::now();
    let changed = match content {
        Content::Comment(c) => {
            let mut q = comment::Entity::update_many()
                .col_expr(comment::Column::Status, Expr::value(to))
                .col_expr(comment::Column::ModerationNote, Expr::value(note.map(str::to_owned)));
            if to == ContentStatus::Published {
                q = q.col_expr(comment::Column::FlagCount, Expr::value(0));
            }
            let res = q
                .filter(comment::Column::Id.eq(c.id))
                .filter(comment::Column::Status.eq(from))
                .exec(txn)
                .await?;
            if res.rows_affected == 1 {
                let delta =
                    i64::from(to == ContentStatus::Published) - i64::from(from == ContentStatus::Published);
                comments::count_published(txn, c, delta).await?;
            }
            res.rows_affected == 1
        }
        Content::Story(s) => {
            let mut q = story::Entity::update_many()
                .col_expr(story::Column::Status, Expr::value(to))
                .col_expr(story::Column::ModerationNote, Expr::value(note.map(str::to_owned)))
                .col_expr(story::Column::UpdatedAt, Expr::value(now));
            if to == ContentStatus::Published {
                q = q.col_expr(story::Column::FlagCount, Expr::value(0));
                if s.published_at.is_none() {
                    q = q.col_expr(story::Column::PublishedAt, Expr::value(now));
                }
            }
            let res =
                q.filter(story::Column::Id.eq(s.id)).filter(story::Column::Status.eq(from)).exec(txn).await?;
            res.rows_affected == 1
        }
    };
    if changed && to == ContentStatus::Published {
        content_flag::Entity::delete_many()
            .filter(content_flag::Column::ContentId.eq(content.item().id))
            .exec(txn)
            .await?;
    }
    Ok(changed)
}

// ---------------------------------------------------------------------------------------------
// Decisions

/// What a moderator does with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Approve,
    Hide,
    Delete,
}

/// A decision, as sent: the action, the reason (required to hide or delete; the author sees
/// it), and what it does to the author.
#[derive(Clone, Debug)]
pub struct DecisionInput {
    pub action: Action,
    pub reason: Option<String>,
    pub warn: bool,
    pub mute_days: Option<u32>,
}

/// The decision checked: its reason composed and trimmed.
#[derive(Clone, Debug)]
struct Checked {
    action: Action,
    reason: Option<String>,
    sanction: Option<Sanction>,
    mute_days: Option<u32>,
}

fn check_decision(input: DecisionInput) -> Result<Checked, ApiError> {
    use unicode_normalization::UnicodeNormalization;
    let reason =
        input.reason.map(|r| r.nfc().collect::<String>().trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON) {
        return Err(ApiError::bad_input("reason", InputProblem::TooLong));
    }
    if input.action != Action::Approve && reason.is_none() {
        return Err(ApiError::bad_input("reason", InputProblem::Required));
    }
    if let Some(days) = input.mute_days
        && !(1..=MAX_MUTE_DAYS).contains(&days)
    {
        return Err(ApiError::bad_input("mute_days", InputProblem::OutOfRange));
    }
    let sanction = match (input.warn, input.mute_days) {
        (_, Some(_)) => Some(Sanction::Muted),
        (true, None) => Some(Sanction::Warned),
        (false, None) => None,
    };
    if input.action == Action::Approve && sanction.is_some() {
        let field = if input.mute_days.is_some() { "mute_days" } else { "warn" };
        return Err(ApiError::bad_input(field, InputProblem::Conflicting));
    }
    Ok(Checked { action: input.action, reason, sanction, mute_days: input.mute_days })
}

/// Decides cases, each on its own (see `crate::bulk`): one outcome per id, in order.
pub async fn decide(
    call: Call<'_>,
    ids: &[Uuid],
    input: DecisionInput,
) -> Result<Vec<Result<case::Model, ApiError>>, ApiError> {
    call.viewer()?;
    bulk::check_max(ids.len(), "case_ids")?;
    let decision = check_decision(input)?;
    Ok(bulk::each(ids, |id| decide_one(call, id, &decision)).await)
}

/// Reads a comment or story whatever its status.
async fn load(conn: &impl ConnectionTrait, kind: TargetKind, id: Uuid) -> Result<Content, ApiError> {
    let found = match kind {
        TargetKind::Comment => comment::Entity::find_by_id(id).one(conn).await?.map(Content::Comment),
        TargetKind::Story => story::Entity::find_by_id(id).one(conn).await?.map(Content::Story),
        _ => None,
    };
    found.ok_or(ApiError::NotFound)
}

async fn decide_one(call: Call<'_>, id: Uuid, d: &Checked) -> Result<case::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let row = case::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    let acting = authz::require(db, viewer, Capability::ModerateContent, row.unit_id)
        .await
        .map_err(authz::hide_forbidden)?;
    // Nobody moderates what she wrote herself.
    if row.author_id == viewer.person_id {
        return Err(ApiError::Forbidden);
    }
    if row.status != CaseStatus::Open {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    let appealed = match row.appeal_of {
        Some(of) => Some(case::Entity::find_by_id(of).one(db).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    if let Some(original) = &appealed {
        // A decision is reviewed by someone else.
        if original.decided_by == Some(viewer.person_id) {
            return Err(ApiError::Forbidden);
        }
        if d.sanction.is_some() {
            let field = if d.mute_days.is_some() { "mute_days" } else { "warn" };
            return Err(ApiError::bad_input(field, InputProblem::Conflicting));
        }
    }
    let now = Utc::now();
    let decision = match d.action {
        Action::Approve => ModerationDecision::Approved,
        Action::Hide => ModerationDecision::Hidden,
        Action::Delete => ModerationDecision::Deleted,
    };
    let txn = db.begin().await?;
    // The case row first: of two moderators (or a moderator and the author deleting the item),
    // one moves it out of OPEN and the other finds it decided.
    let res = case::Entity::update_many()
        .col_expr(case::Column::Status, Expr::value(CaseStatus::Decided))
        .col_expr(case::Column::Decision, Expr::value(decision))
        .col_expr(case::Column::Sanction, Expr::value(d.sanction))
        .col_expr(case::Column::MuteDays, Expr::value(d.mute_days.map(|n| n as i32)))
        .col_expr(case::Column::Reason, Expr::value(d.reason.clone()))
        .col_expr(case::Column::DecidedBy, Expr::value(viewer.person_id))
        .col_expr(case::Column::DecidedAt, Expr::value(now))
        .filter(case::Column::Id.eq(id))
        .filter(case::Column::Status.eq(CaseStatus::Open))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    let content = load(&txn, row.content_kind, row.content_id).await?;
    let before = content.status();
    let to = match d.action {
        Action::Approve => ContentStatus::Published,
        Action::Hide => ContentStatus::Hidden,
        Action::Delete => ContentStatus::Removed,
    };
    let restorable = appealed.as_ref().is_some_and(|o| o.decision == Some(ModerationDecision::Deleted));
    if before == ContentStatus::Removed && !restorable {
        // Its author deleted it (her deletion and this decision crossed): the case is closed as
        // withdrawn, and the item stays deleted.
        case::Entity::update_many()
            .col_expr(case::Column::Decision, Expr::value(ModerationDecision::Withdrawn))
            .col_expr(case::Column::Sanction, Expr::value(Option::<Sanction>::None))
            .col_expr(case::Column::MuteDays, Expr::value(Option::<i32>::None))
            .col_expr(case::Column::Reason, Expr::value(Option::<String>::None))
            .filter(case::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        publish(state, row.unit_id, id, "DECIDED").await;
        return case::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound);
    }
    // Approving what is still published clears its flags all the same. The item row is taken
    // conditionally: a flag holding it at this very moment makes this decision fail whole (the
    // case stays open) rather than decide on a status it no longer has.
    if !set_status(&txn, &content, before, to, d.reason.as_deref()).await? {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let mut notes = Vec::new();
    let link = Some(GlobalId::new(NodeKind::ModerationCase, id).encode());
    let author = row.author_id;
    let action = match (&appealed, d.action) {
        (Some(original), Action::Approve) => {
            member_mute::Entity::delete_many()
                .filter(member_mute::Column::CaseId.eq(original.id))
                .exec(&txn)
                .await?;
            AuditAction::AppealUpheld
        }
        (Some(_), _) => AuditAction::AppealDismissed,
        (None, Action::Approve) => AuditAction::ContentApproved,
        (None, Action::Hide) => AuditAction::ContentHidden,
        (None, Action::Delete) => AuditAction::ContentDeleted,
    };
    if appealed.is_some() {
        notes.push(NewNotification {
            person_id: author,
            kind: NotificationKind::AppealDecided,
            params: json!({ "upheld": d.action == Action::Approve }),
            link: link.clone(),
            duty: false,
        });
    } else if before != ContentStatus::Published || to != ContentStatus::Published {
        // An item approved while it stayed published (flags below the threshold) is no news to
        // its author.
        notes.push(NewNotification {
            person_id: author,
            kind: NotificationKind::ContentModerated,
            params: json!({ "decision": decision.as_str(), "content": row.content_kind.as_str() }),
            link: link.clone(),
            duty: false,
        });
    }
    let mut until = None;
    match d.sanction {
        Some(Sanction::Warned) => notes.push(NewNotification {
            person_id: author,
            kind: NotificationKind::ModerationWarning,
            params: json!({}),
            link: link.clone(),
            duty: false,
        }),
        Some(Sanction::Muted) => {
            let end = now + Duration::days(i64::from(d.mute_days.unwrap_or(1)));
            until = Some(end);
            mute(&txn, author, end, id, viewer.person_id).await?;
            notes.push(NewNotification {
                person_id: author,
                kind: NotificationKind::AuthorMuted,
                params: json!({ "until": crate::domain::hanoi_day(end).format("%d/%m/%Y").to_string() }),
                link,
                duty: false,
            });
        }
        None => {}
    }
    let entry = audit::Entry::new(action, row.unit_id, SubjectKind::ModerationCase, id)
        .set("contentKind", row.content_kind.as_str())
        .set("contentId", row.content_id.to_string())
        .change("status", before.as_str(), to.as_str())
        .set("reason", d.reason.as_deref())
        .set("sanction", d.sanction.map(|s| s.as_str()))
        .set("mutedUntil", until);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    let notes = notifications::enqueue(&txn, notes).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    publish(state, row.unit_id, id, "DECIDED").await;
    case::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)
}

/// Mutes `person` until `until` (a later mute than the one she has wins), inside the caller's
/// transaction.
async fn mute(
    txn: &impl ConnectionTrait,
    person: PersonId,
    until: DateTime<Utc>,
    case_id: Uuid,
    by: PersonId,
) -> Result<(), ApiError> {
    let sql = "INSERT INTO member_mute (person_id, until, case_id, muted_by, created_at) VALUES (?, ?, ?, ?, ?) \
               ON CONFLICT (person_id) DO UPDATE SET until = excluded.until, case_id = excluded.case_id, \
               muted_by = excluded.muted_by, created_at = excluded.created_at \
               WHERE member_mute.until < excluded.until";
    let values = [person.into(), until.into(), case_id.into(), by.into(), Utc::now().into()];
    txn.execute_raw(stmt(txn.get_database_backend(), sql, values)).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Appeals

/// The author appeals a decision against her (hidden, deleted, warned or muted), once: a case
/// for the moderators of the unit above the one that decided.
pub async fn appeal(call: Call<'_>, case_id: Uuid, statement: &str) -> Result<case::Model, ApiError> {
    use unicode_normalization::UnicodeNormalization;
    let (state, viewer) = (call.state, call.viewer()?);
    let statement = statement.nfc().collect::<String>().trim().to_owned();
    match statement.chars().count() {
        0 => return Err(ApiError::bad_input("statement", InputProblem::Required)),
        n if n > MAX_STATEMENT => return Err(ApiError::bad_input("statement", InputProblem::TooLong)),
        _ => {}
    }
    let db = &state.db;
    let original = case::Entity::find_by_id(case_id)
        .filter(case::Column::AuthorId.eq(viewer.person_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)?;
    let against_her =
        matches!(original.decision, Some(ModerationDecision::Hidden | ModerationDecision::Deleted))
            || original.sanction.is_some();
    if original.status != CaseStatus::Decided || original.cause == ModerationCause::Appeal || !against_her {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    // An item she deleted herself since (its text erased) is nothing to restore.
    let content = load(db, original.content_kind, original.content_id).await?;
    if content.status() == ContentStatus::Removed && original.decision != Some(ModerationDecision::Deleted) {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    let unit = org_unit::Entity::find_by_id(original.unit_id).one(db).await?.ok_or(ApiError::NotFound)?;
    let now = Utc::now();
    let row = case::Model {
        id: Uuid::now_v7(),
        content_kind: original.content_kind,
        content_id: original.content_id,
        author_id: original.author_id,
        unit_id: unit.parent_id.unwrap_or(unit.id),
        cause: ModerationCause::Appeal,
        status: CaseStatus::Open,
        decision: None,
        sanction: None,
        mute_days: None,
        reason: None,
        statement: Some(statement),
        appeal_of: Some(original.id),
        opened_at: now,
        decided_by: None,
        decided_at: None,
    };
    case::Entity::insert(case::ActiveModel::from(row.clone())).exec_without_returning(db).await.map_err(
        |e| {
            if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::AlreadyAppealed) } else { e.into() }
        },
    )?;
    publish(state, row.unit_id, row.id, "APPEALED").await;
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Reading cases

/// Which cases a queue lists.
#[derive(Clone, Copy, Debug, Default)]
pub struct QueueFilter {
    /// Cases placed in this unit's subtree (which must be in the moderator's reach).
    pub unit: Option<UnitId>,
    /// Open cases unless told otherwise.
    pub status: Option<CaseStatus>,
    pub cause: Option<ModerationCause>,
    pub kind: Option<TargetKind>,
}

/// Where a queue page starts: after the case `(opened_at, id)`.
pub type Cursor = (DateTime<Utc>, Uuid);

async fn queue_condition(call: Call<'_>, filter: &QueueFilter) -> Result<Condition, ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    let reach = authz::reach(db, viewer, Capability::ModerateContent, filter.unit).await?;
    if reach.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let mut cond = Condition::all()
        .add(reach.condition(case::Column::UnitId))
        .add(case::Column::Status.eq(filter.status.unwrap_or(CaseStatus::Open)));
    if let Some(cause) = filter.cause {
        cond = cond.add(case::Column::Cause.eq(cause));
    }
    if let Some(kind) = filter.kind {
        cond = cond.add(case::Column::ContentKind.eq(kind));
    }
    Ok(cond)
}

/// A page of the moderator's queue, oldest first.
pub async fn queue(
    call: Call<'_>,
    filter: QueueFilter,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<case::Model>, bool), ApiError> {
    let cond = queue_condition(call, &filter).await?;
    let mut q = case::Entity::find().filter(cond);
    if let Some((at, id)) = after {
        q = q.filter(crate::db::after_key(case::Column::OpenedAt, at, case::Column::Id, id));
    }
    let rows = q
        .order_by_asc(case::Column::OpenedAt)
        .order_by_asc(case::Column::Id)
        .limit(first + 1)
        .all(&call.state.db)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

/// How many cases the queue holds (`totalCount`).
pub async fn queue_count(call: Call<'_>, filter: QueueFilter) -> Result<u64, ApiError> {
    let cond = queue_condition(call, &filter).await?;
    Ok(case::Entity::find().filter(cond).count(&call.state.db).await?)
}

/// Whether the viewer may read a case: its author, or a moderator over its unit.
async fn can_read(conn: &impl ConnectionTrait, viewer: &Viewer, row: &case::Model) -> Result<bool, ApiError> {
    Ok(row.author_id == viewer.person_id
        || authz::may(conn, viewer, Capability::ModerateContent, row.unit_id).await?)
}

/// A case the caller may read, else `NOT_FOUND`.
pub async fn get(call: Call<'_>, id: Uuid) -> Result<case::Model, ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    let row = case::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    if can_read(db, viewer, &row).await? { Ok(row) } else { Err(ApiError::NotFound) }
}

/// The cases about the caller's own comments and stories (not those she withdrew by deleting
/// the item), newest first: what was decided and why, and whether she may still appeal.
pub async fn mine(
    call: Call<'_>,
    first: u64,
    after: Option<Cursor>,
) -> Result<(Vec<case::Model>, bool), ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    let mut q = case::Entity::find().filter(case::Column::AuthorId.eq(viewer.person_id)).filter(
        Condition::any()
            .add(case::Column::Decision.is_null())
            .add(case::Column::Decision.ne(ModerationDecision::Withdrawn)),
    );
    if let Some((at, id)) = after {
        q = q.filter(crate::db::before_key(case::Column::OpenedAt, at, case::Column::Id, id));
    }
    let rows = q
        .order_by_desc(case::Column::OpenedAt)
        .order_by_desc(case::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

/// The appeal of each decided case among `ids`, in one statement: `case → appeal`.
pub async fn appeals_of(conn: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, Uuid>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, Option<Uuid>)> = case::Entity::find()
        .select_only()
        .column(case::Column::Id)
        .column(case::Column::AppealOf)
        .filter(case::Column::AppealOf.is_in(ids.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(id, of)| of.map(|of| (of, id))).collect())
}

/// The flags on items, by reason, in one statement: `item → [(reason, count)]`.
pub async fn flags_of(
    conn: &impl ConnectionTrait,
    items: &[Uuid],
) -> Result<HashMap<Uuid, Vec<(FlagReason, i64)>>, ApiError> {
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, FlagReason, i64)> = content_flag::Entity::find()
        .select_only()
        .column(content_flag::Column::ContentId)
        .column(content_flag::Column::Reason)
        .column_as(Expr::expr(Func::count(Expr::col(content_flag::Column::PersonId))), "n")
        .filter(content_flag::Column::ContentId.is_in(items.iter().copied()))
        .group_by(content_flag::Column::ContentId)
        .group_by(content_flag::Column::Reason)
        .into_tuple()
        .all(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<(FlagReason, i64)>> = HashMap::new();
    for (item, reason, n) in rows {
        out.entry(item).or_default().push((reason, n));
    }
    for v in out.values_mut() {
        v.sort_by_key(|(r, _)| r.as_str());
    }
    Ok(out)
}

/// The items of cases, by kind, in one statement per kind.
pub async fn contents_of(
    conn: &impl ConnectionTrait,
    rows: &[case::Model],
) -> Result<HashMap<Uuid, Content>, ApiError> {
    let ids = |kind: TargetKind| -> Vec<Uuid> {
        rows.iter().filter(|r| r.content_kind == kind).map(|r| r.content_id).collect()
    };
    let mut out = HashMap::new();
    let (c, s) = (ids(TargetKind::Comment), ids(TargetKind::Story));
    if !c.is_empty() {
        for row in comment::Entity::find().filter(comment::Column::Id.is_in(c)).all(conn).await? {
            out.insert(row.id, Content::Comment(row));
        }
    }
    if !s.is_empty() {
        for row in story::Entity::find().filter(story::Column::Id.is_in(s)).all(conn).await? {
            out.insert(row.id, Content::Story(row));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Live events

/// The console topic of a unit's moderation queue.
pub fn queue_topic(unit: UnitId) -> String {
    format!("moderation:{unit}")
}

/// Tells the consoles of the case's unit and of every unit above it that something happened
/// to the case (its id and what, nothing it says). After commit; a lost event is logged.
pub async fn publish(state: &AppState, unit: UnitId, case_id: Uuid, what: &str) {
    let payload = json!({ "caseId": case_id, "event": what });
    crate::events::publish_up(state, [unit], queue_topic, payload, "moderation case").await;
}

/// A moderator's live queue: the events of the cases under her `ModerateContent` units (or under
/// `unit`, which must be in her reach), each re-checked against her current roles and read back
/// from the database. Ends when her session is revoked.
pub async fn queue_events(
    call: Call<'_>,
    unit: Option<UnitId>,
) -> Result<impl futures_util::Stream<Item = (String, case::Model)> + Send + use<>, ApiError> {
    let (state, viewer) = (call.state, *call.viewer()?);
    let units = match unit {
        Some(u) => {
            authz::require(&state.db, &viewer, Capability::ModerateContent, u).await?;
            vec![u]
        }
        None => authz::role_units(&state.db, viewer.person_id, Capability::ModerateContent).await?,
    };
    if units.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let db = state.db.clone();
    let key = |p: &serde_json::Value| {
        Some((p.get("caseId")?.as_str()?.to_owned(), p.get("event")?.as_str()?.to_owned()))
    };
    let events = crate::events::console_stream(
        &state.events,
        units.into_iter().map(queue_topic).collect(),
        viewer.session_id,
        key,
    );
    Ok(events.filter_map(move |payload| {
        let db = db.clone();
        async move {
            let id = payload.get("caseId")?.as_str()?.parse::<Uuid>().ok()?;
            let event = payload.get("event")?.as_str()?.to_owned();
            let row = case::Entity::find_by_id(id).one(&db).await.ok()??;
            if !authz::may(&db, &viewer, Capability::ModerateContent, row.unit_id).await.ok()? {
                return None;
            }
            Some((event, row))
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// Erasure

/// Takes a deleted account's flags, mute and appeal statements away, inside the erasure's
/// transaction (her items' cases stay, with their decisions, for the moderators' record).
pub(crate) async fn forget_person(txn: &impl ConnectionTrait, person: PersonId) -> Result<(), ApiError> {
    content_flag::Entity::delete_many().filter(content_flag::Column::PersonId.eq(person)).exec(txn).await?;
    member_mute::Entity::delete_many().filter(member_mute::Column::PersonId.eq(person)).exec(txn).await?;
    case::Entity::update_many()
        .col_expr(case::Column::Statement, Expr::value(Option::<String>::None))
        .filter(case::Column::AuthorId.eq(person))
        .exec(txn)
        .await?;
    withdraw_all(txn, person).await
}

/// Closes the open cases of every item of `person` (her account is going).
async fn withdraw_all(txn: &impl ConnectionTrait, person: PersonId) -> Result<(), ApiError> {
    case::Entity::update_many()
        .col_expr(case::Column::Status, Expr::value(CaseStatus::Decided))
        .col_expr(case::Column::Decision, Expr::value(ModerationDecision::Withdrawn))
        .col_expr(case::Column::DecidedAt, Expr::value(Utc::now()))
        .filter(case::Column::AuthorId.eq(person))
        .filter(case::Column::Status.eq(CaseStatus::Open))
        .exec(txn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(action: Action, reason: Option<&str>, warn: bool, mute_days: Option<u32>) -> DecisionInput {
        DecisionInput { action, reason: reason.map(str::to_owned), warn, mute_days }
    }

    fn field(r: Result<Checked, ApiError>) -> &'static str {
        match r {
            Err(ApiError::BadInput { field, .. }) => field,
            other => panic!("expected a bad input, got {other:?}"),
        }
    }

    #[test]
    fn decisions_are_checked_before_any_case_is_touched() {
        assert!(check_decision(input(Action::Approve, None, false, None)).is_ok());
        assert_eq!(field(check_decision(input(Action::Hide, None, false, None))), "reason");
        assert_eq!(field(check_decision(input(Action::Delete, Some("  "), false, None))), "reason");
        assert_eq!(field(check_decision(input(Action::Hide, Some(&"a".repeat(501)), false, None))), "reason");
        assert_eq!(field(check_decision(input(Action::Approve, None, true, None))), "warn");
        assert_eq!(field(check_decision(input(Action::Approve, None, false, Some(3)))), "mute_days");
        assert_eq!(field(check_decision(input(Action::Hide, Some("x"), false, Some(0)))), "mute_days");
        assert_eq!(field(check_decision(input(Action::Hide, Some("x"), false, Some(366)))), "mute_days");
        let muted = check_decision(input(Action::Hide, Some(" Lộ số điện thoại "), true, Some(7))).unwrap();
        assert_eq!(
            (muted.sanction, muted.reason.as_deref()),
            (Some(Sanction::Muted), Some("Lộ số điện thoại"))
        );
        let warned = check_decision(input(Action::Delete, Some("Xúc phạm"), true, None)).unwrap();
        assert_eq!(warned.sanction, Some(Sanction::Warned));
    }
}
