//! GraphQL surface of moderation: flags, the moderators' queue and decisions, appeals, mutes,
//! a unit's moderation settings, and the queue's live events. Rules in
//! `service::content::moderation`.

use std::collections::HashMap;

use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, OutputType, Result, SimpleObject, Subscription,
    connection::{Connection, ConnectionNameType, DefaultEdgeName, Edge, EmptyFields},
};
use chrono::{DateTime, Utc};
use entities::{
    comment::TargetKind,
    content_flag::FlagReason,
    ids::UnitId,
    moderation_case::{self as case, CaseStatus, ModerationCause, ModerationDecision, Sanction},
};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{
    ContextExt,
    bulk::{self, Outcome},
    connection::{build, encode_cursor, page},
    content::{Comment, GqlContentStatus, Story},
    org::OrgUnit,
};
use service::{
    content::{
        Target,
        moderation::{self as svc, Action, Change, Content, DecisionInput, QueueFilter},
    },
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
};

/// Why someone flags a comment or story.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "FlagReason", remote = "FlagReason")]
pub enum GqlFlagReason {
    Spam,
    /// Insulting, vulgar or hateful.
    Offensive,
    /// It shows someone's phone number, ID number or address.
    PersonalData,
    /// It could put someone in danger or spread harmful advice.
    Harmful,
    Other,
}

/// Why an item is in the moderation queue.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ModerationCause", remote = "ModerationCause")]
pub enum GqlCause {
    /// Members flagged it (held once the unit's threshold of distinct flags is reached).
    Flags,
    /// The automatic check found a phone number, an ID number or an address: held.
    PersonalData,
    /// The automatic check found a word of the offensive-word list: held.
    OffensiveWords,
    /// Its branch checks members' stories before they are published: held.
    Premoderation,
    /// Its author appeals a decision (`appealOf`).
    Appeal,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ModerationCaseStatus", remote = "CaseStatus")]
pub enum GqlCaseStatus {
    /// Waiting for a moderator.
    Open,
    Decided,
}

/// What became of a case's item.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ModerationDecision", remote = "ModerationDecision")]
pub enum GqlDecision {
    /// Published (again), flags cleared; on an appeal, the decision appealed undone.
    Approved,
    /// Hidden from everyone but its author, who sees the reason.
    Hidden,
    /// Deleted; its author sees the reason.
    Deleted,
    /// Its author deleted it before a moderator decided.
    Withdrawn,
}

/// What a decision did to the author, beside the item.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ModerationSanction", remote = "Sanction")]
pub enum GqlSanction {
    Warned,
    /// She may not comment, post stories or upload photos for `muteDays` days.
    Muted,
}

/// What a case is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ModeratedContentKind")]
pub enum GqlContentKind {
    Comment,
    Story,
}

impl From<GqlContentKind> for TargetKind {
    fn from(k: GqlContentKind) -> Self {
        match k {
            GqlContentKind::Comment => TargetKind::Comment,
            GqlContentKind::Story => TargetKind::Story,
        }
    }
}

/// What a moderator does with the item.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ModerationAction")]
pub enum GqlAction {
    /// Publish it (again), clearing its flags. On an appeal: uphold it (and lift its mute).
    Approve,
    /// Hide it, with a reason its author sees. On an appeal: dismiss it, the item hidden.
    Hide,
    /// Delete it, with a reason its author sees. On an appeal: dismiss it, the item deleted.
    Delete,
}

/// A moderator's decision.
#[derive(InputObject)]
#[graphql(name = "ModerationDecisionInput")]
pub struct DecisionArg {
    pub action: GqlAction,
    /// Why (required to hide or delete; up to 500 characters): its author reads it.
    pub reason: Option<String>,
    /// Warn the author too (hide or delete only).
    #[graphql(default)]
    pub warn_author: bool,
    /// Mute the author for 1–365 days too (hide or delete only).
    pub mute_days: Option<i32>,
}

/// How many flags of one reason an item has.
#[derive(SimpleObject)]
pub struct FlagCount {
    pub reason: GqlFlagReason,
    pub count: i64,
}

/// What a case's fields read: fetched ahead for a page, else on demand.
#[derive(Clone, Default)]
struct Ahead {
    content: Option<Content>,
    flags: Vec<(FlagReason, i64)>,
    appeal: Option<Uuid>,
}

/// An item in the moderation queue, or an appeal. Its moderators see everything here; its
/// author sees it too (never who flagged).
pub struct ModerationCase {
    row: case::Model,
    /// Read once per case: by the page that lists it, else by its first field that needs it.
    ahead: tokio::sync::OnceCell<Ahead>,
}

impl ModerationCase {
    /// A case whose fields read what they need when asked.
    pub fn bare(row: case::Model) -> Self {
        Self { row, ahead: tokio::sync::OnceCell::new() }
    }

    /// A case with what its fields read, fetched now.
    pub async fn load(ctx: &Context<'_>, row: case::Model) -> Result<Self, ApiError> {
        let mut cases = Self::load_all(ctx, vec![row]).await?;
        cases.pop().ok_or(ApiError::NotFound)
    }

    /// Cases with what their fields read, in at most four statements whatever their number
    /// (comments, stories, flags, appeals). An appeal and its decision share their item.
    async fn load_all(ctx: &Context<'_>, rows: Vec<case::Model>) -> Result<Vec<Self>, ApiError> {
        let db = &ctx.state().map_err(|_| ApiError::Internal)?.db;
        let contents = svc::contents_of(db, &rows).await?;
        let items: Vec<Uuid> = rows.iter().map(|r| r.content_id).collect();
        let flags = svc::flags_of(db, &items).await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let appeals = svc::appeals_of(db, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let ahead = Ahead {
                    content: contents.get(&row.content_id).cloned(),
                    flags: flags.get(&row.content_id).cloned().unwrap_or_default(),
                    appeal: appeals.get(&row.id).copied(),
                };
                Self { row, ahead: tokio::sync::OnceCell::new_with(Some(ahead)) }
            })
            .collect())
    }

    async fn ahead(&self, ctx: &Context<'_>) -> Result<&Ahead, ApiError> {
        self.ahead
            .get_or_try_init(|| async {
                let mut one = Self::load_all(ctx, vec![self.row.clone()]).await?;
                Ok(one.pop().and_then(|c| c.ahead.into_inner()).unwrap_or_default())
            })
            .await
    }

    fn mine(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.auth()?.require()?.person_id == self.row.author_id)
    }
}

#[Object]
impl ModerationCase {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::ModerationCase, self.row.id).encode().into()
    }

    async fn content_kind(&self) -> GqlContentKind {
        match self.row.content_kind {
            TargetKind::Story => GqlContentKind::Story,
            _ => GqlContentKind::Comment,
        }
    }

    /// The comment, for a case about one (as its moderators see it, whatever its status).
    async fn comment(&self, ctx: &Context<'_>) -> Result<Option<Comment>> {
        Ok(match self.ahead(ctx).await?.content.clone() {
            Some(Content::Comment(c)) => Some(Comment(c)),
            _ => None,
        })
    }

    /// The story, for a case about one (as its moderators see it, whatever its status).
    async fn story(&self, ctx: &Context<'_>) -> Result<Option<Story>> {
        Ok(match self.ahead(ctx).await?.content.clone() {
            Some(Content::Story(s)) => Some(Story(s)),
            _ => None,
        })
    }

    /// The item's text (kept while a deletion can be appealed; null once its author deleted
    /// it or her account).
    async fn text(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let text = match self.ahead(ctx).await?.content.clone() {
            Some(Content::Comment(c)) => c.body,
            Some(Content::Story(s)) => s.body,
            None => String::new(),
        };
        Ok(Some(text).filter(|t| !t.is_empty()))
    }

    /// Where the item stands now.
    async fn content_status(&self, ctx: &Context<'_>) -> Result<Option<GqlContentStatus>> {
        Ok(self.ahead(ctx).await?.content.as_ref().map(|c| c.status().into()))
    }

    /// The unit whose moderators decide it: the item's, or the one above for an appeal.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        Ok(ctx.loaders()?.units.load_one(self.row.unit_id).await?.map(OrgUnit))
    }

    async fn cause(&self) -> GqlCause {
        self.row.cause.into()
    }

    async fn status(&self) -> GqlCaseStatus {
        self.row.status.into()
    }

    /// The item's flags by reason (never who flagged).
    async fn flags(&self, ctx: &Context<'_>) -> Result<Vec<FlagCount>> {
        Ok(self
            .ahead(ctx)
            .await?
            .flags
            .iter()
            .map(|&(reason, count)| FlagCount { reason: reason.into(), count })
            .collect())
    }

    async fn opened_at(&self) -> DateTime<Utc> {
        self.row.opened_at
    }

    async fn decision(&self) -> Option<GqlDecision> {
        self.row.decision.map(Into::into)
    }

    async fn sanction(&self) -> Option<GqlSanction> {
        self.row.sanction.map(Into::into)
    }

    async fn mute_days(&self) -> Option<i32> {
        self.row.mute_days
    }

    /// The moderator's reason.
    async fn reason(&self) -> Option<&str> {
        self.row.reason.as_deref()
    }

    /// The author's statement, for an appeal.
    async fn statement(&self) -> Option<&str> {
        self.row.statement.as_deref()
    }

    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.row.decided_at
    }

    /// The decision this case appeals.
    async fn appeal_of(&self, ctx: &Context<'_>) -> Result<Option<ModerationCase>> {
        let Some(of) = self.row.appeal_of else { return Ok(None) };
        Ok(Some(ModerationCase::load(ctx, svc::get(ctx.call()?, of).await?).await?))
    }

    /// The appeal of this decision, once made.
    async fn appeal(&self, ctx: &Context<'_>) -> Result<Option<ModerationCase>> {
        let Some(id) = self.ahead(ctx).await?.appeal else { return Ok(None) };
        // The appeal sits a level up: a branch leader who decided sees that one exists
        // (`canAppeal`), not the appeal itself.
        match svc::get(ctx.call()?, id).await {
            Ok(row) => Ok(Some(ModerationCase::load(ctx, row).await?)),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the caller, its author, may still appeal it: decided against her, not an
    /// appeal itself, and not appealed yet.
    async fn can_appeal(&self, ctx: &Context<'_>) -> Result<bool> {
        let against_her =
            matches!(self.row.decision, Some(ModerationDecision::Hidden | ModerationDecision::Deleted))
                || self.row.sanction.is_some();
        Ok(self.mine(ctx)?
            && against_her
            && self.row.status == CaseStatus::Decided
            && self.row.cause != ModerationCause::Appeal
            && self.ahead(ctx).await?.appeal.is_none())
    }
}

/// Extra fields of the queue.
pub struct ModerationQueueFields {
    filter: QueueFilter,
}

#[Object]
impl ModerationQueueFields {
    /// Cases matching the filter (one more statement, only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::queue_count(ctx.call()?, self.filter).await?)
    }
}

/// The moderation settings in force at a unit (its own, else the nearest set above it, else
/// the service's default).
#[derive(SimpleObject)]
pub struct ContentSettings {
    /// Distinct flags that hide an item pending review.
    pub flag_threshold: i32,
    /// Whether members' stories wait for a moderator before anyone else sees them.
    pub story_premoderation: bool,
}

impl From<svc::Effective> for ContentSettings {
    fn from(e: svc::Effective) -> Self {
        Self { flag_threshold: e.flag_threshold as i32, story_premoderation: e.story_premoderation }
    }
}

/// A change to a unit's own moderation settings: a field left out is kept, `null` clears it
/// (the unit then follows the units above).
#[derive(InputObject)]
pub struct ContentSettingsInput {
    /// 1–100.
    pub flag_threshold: MaybeUndefined<i32>,
    pub story_premoderation: MaybeUndefined<bool>,
}

fn change<T, U>(v: MaybeUndefined<T>, f: impl FnOnce(T) -> U) -> Change<U> {
    match v {
        MaybeUndefined::Undefined => Change::Keep,
        MaybeUndefined::Null => Change::Clear,
        MaybeUndefined::Value(v) => Change::Set(f(v)),
    }
}

fn unit_arg(id: Option<ID>) -> Result<Option<UnitId>, ApiError> {
    id.map(|u| GlobalId::decode_id::<UnitId>(&u, "unitId")).transpose()
}

/// The author's cases, newest first (`MyModerationCaseConnection`; the queue's is
/// `ModerationCaseConnection`, with a total).
type MyCasesConnection =
    Connection<String, ModerationCase, EmptyFields, EmptyFields, MyCasesName, DefaultEdgeName>;

pub struct MyCasesName;

impl ConnectionNameType for MyCasesName {
    fn type_name<T: OutputType>() -> String {
        "MyModerationCaseConnection".to_owned()
    }
}

#[derive(Default)]
pub struct ModerationQuery;

#[Object]
impl ModerationQuery {
    /// The moderator's queue (`ModerateContent`): cases placed in her reach, or below `unitId`,
    /// oldest first; open ones unless `status` says otherwise.
    #[allow(clippy::too_many_arguments)]
    async fn moderation_queue(
        &self,
        ctx: &Context<'_>,
        unit_id: Option<ID>,
        status: Option<GqlCaseStatus>,
        cause: Option<GqlCause>,
        content_kind: Option<GqlContentKind>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ModerationCase, ModerationQueueFields>> {
        ctx.auth()?.require()?;
        let filter = QueueFilter {
            unit: unit_arg(unit_id)?,
            status: status.map(Into::into),
            cause: cause.map(Into::into),
            kind: content_kind.map(Into::into),
        };
        let page = page::<svc::Cursor>(first, after.as_deref())?;
        let (rows, has_next) = svc::queue(ctx.call()?, filter, page.first, page.after).await?;
        let keys: HashMap<Uuid, (DateTime<Utc>, Uuid)> =
            rows.iter().map(|r| (r.id, (r.opened_at, r.id))).collect();
        let cases = ModerationCase::load_all(ctx, rows).await?;
        Ok(build(
            cases,
            has_next,
            page.after.is_some(),
            ModerationQueueFields { filter },
            |c| keys[&c.row.id],
            |c| c,
        ))
    }

    /// The cases about the caller's own comments and stories, newest first: what was decided,
    /// why, and whether she may appeal.
    async fn my_moderation_cases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<MyCasesConnection> {
        ctx.auth()?.require()?;
        let page = page::<svc::Cursor>(first, after.as_deref())?;
        let (rows, has_next) = svc::mine(ctx.call()?, page.first, page.after).await?;
        let cases = ModerationCase::load_all(ctx, rows).await?;
        let mut conn = MyCasesConnection::new(page.after.is_some(), has_next);
        conn.edges =
            cases.into_iter().map(|c| Edge::new(encode_cursor(&(c.row.opened_at, c.row.id)), c)).collect();
        Ok(conn)
    }

    /// Until when the caller may not comment, post stories or upload photos; null when she may.
    async fn my_muted_until(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        let viewer = ctx.auth()?.require()?;
        Ok(svc::muted_until(&ctx.state()?.db, viewer.person_id).await?)
    }

    /// The moderation settings in force at a unit (`ModerateContent` over it).
    async fn content_settings(&self, ctx: &Context<'_>, unit_id: ID) -> Result<ContentSettings> {
        let viewer = ctx.auth()?.require()?;
        let unit: UnitId = GlobalId::decode_id(&unit_id, "unitId")?;
        let state = ctx.state()?;
        let row = service::org::get_unit(&state.db, unit).await?;
        service::authz::require(&state.db, viewer, service::authz::Capability::ModerateContent, &row).await?;
        Ok(svc::effective(&state.db, state, unit).await?.into())
    }
}

#[derive(Default)]
pub struct ModerationMutation;

#[Object]
impl ModerationMutation {
    /// Flags a comment or story the caller may read (not her own), once, with a reason. At the
    /// unit's threshold of distinct flags it is held for a moderator. Answers its status now.
    async fn flag_content(
        &self,
        ctx: &Context<'_>,
        content_id: ID,
        reason: GqlFlagReason,
    ) -> Result<GqlContentStatus> {
        ctx.auth()?.require()?;
        let gid = GlobalId::decode(&content_id, "contentId")?;
        let kind = match gid.kind {
            NodeKind::Comment => TargetKind::Comment,
            NodeKind::Story => TargetKind::Story,
            _ => return Err(ApiError::bad_input("contentId", InputProblem::InvalidKind).into()),
        };
        Ok(svc::flag(ctx.call()?, Target { kind, id: gid.id }, reason.into()).await?.into())
    }

    /// Decides cases of the queue (1 to 100, each on its own, as if sent alone): approve, hide
    /// or delete, maybe warning or muting the author.
    async fn decide_moderation(
        &self,
        ctx: &Context<'_>,
        case_ids: Vec<ID>,
        decision: DecisionArg,
    ) -> Result<Vec<Outcome<ModerationCase>>> {
        let call = ctx.call()?;
        let mute_days = match decision.mute_days {
            Some(n) => Some(
                u32::try_from(n)
                    .map_err(|_| ApiError::bad_input("decision.muteDays", InputProblem::OutOfRange))?,
            ),
            None => None,
        };
        let input = DecisionInput {
            action: match decision.action {
                GqlAction::Approve => Action::Approve,
                GqlAction::Hide => Action::Hide,
                GqlAction::Delete => Action::Delete,
            },
            reason: decision.reason,
            warn: decision.warn_author,
            mute_days,
        };
        let act = |ids: Vec<Uuid>| async move {
            svc::decide(call, &ids, input).await.map_err(|e| match e {
                ApiError::BadInput { field: "reason", problem } => {
                    ApiError::bad_input("decision.reason", problem)
                }
                ApiError::BadInput { field: "mute_days", problem } => {
                    ApiError::bad_input("decision.muteDays", problem)
                }
                ApiError::BadInput { field: "warn", problem } => {
                    ApiError::bad_input("decision.warnAuthor", problem)
                }
                other => other,
            })
        };
        Ok(bulk::run(ctx, case_ids, NodeKind::ModerationCase, "caseIds", act, ModerationCase::bare).await?)
    }

    /// Appeals a decision against the caller's comment or story (hidden, deleted, a warning or a
    /// mute), once, with a statement (1–1,000 characters): the moderators of the unit above
    /// decide it.
    async fn appeal_moderation(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        statement: String,
    ) -> Result<ModerationCase> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&case_id, NodeKind::ModerationCase, "caseId")?;
        let row = svc::appeal(ctx.call()?, id, &statement).await?;
        Ok(ModerationCase::load(ctx, row).await?)
    }

    /// Sets a unit's own moderation settings (`ModerateContent` over it); answers what is then
    /// in force there.
    async fn set_content_settings(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        input: ContentSettingsInput,
    ) -> Result<ContentSettings> {
        ctx.auth()?.require()?;
        let unit: UnitId = GlobalId::decode_id(&unit_id, "unitId")?;
        let threshold = match input.flag_threshold {
            MaybeUndefined::Value(n) if n < 1 => {
                return Err(ApiError::bad_input("input.flagThreshold", InputProblem::OutOfRange).into());
            }
            other => change(other, |n| n as u32),
        };
        let premoderation = change(input.story_premoderation, |b| b);
        let set =
            svc::set_settings(ctx.call()?, unit, threshold, premoderation).await.map_err(|e| match e {
                ApiError::BadInput { field: "flag_threshold", problem } => {
                    ApiError::bad_input("input.flagThreshold", problem)
                }
                other => other,
            })?;
        Ok(set.into())
    }
}

/// Something that happened to a case, for a moderator's console.
pub struct ModerationQueueEvent {
    event: String,
    case: case::Model,
}

#[Object]
impl ModerationQueueEvent {
    /// `OPENED`, `HELD` (flags reached the threshold), `APPEALED` or `DECIDED`.
    async fn event(&self) -> &str {
        &self.event
    }

    async fn case(&self, ctx: &Context<'_>) -> Result<ModerationCase> {
        Ok(ModerationCase::load(ctx, self.case.clone()).await?)
    }
}

#[derive(Default)]
pub struct ModerationSubscription;

#[Subscription]
impl ModerationSubscription {
    /// Live events of the moderation queue in the caller's reach (or under `unitId`): a case
    /// opened, an item held by flags, an appeal, a decision. Each event is checked against her
    /// current roles before it is sent. Ends when the session is revoked.
    async fn moderation_queue_events(
        &self,
        ctx: &Context<'_>,
        unit_id: Option<ID>,
    ) -> Result<impl Stream<Item = ModerationQueueEvent> + use<>> {
        ctx.auth()?.require()?;
        let unit = unit_arg(unit_id)?;
        let stream = svc::queue_events(ctx.call()?, unit).await?;
        Ok(stream.map(|(event, case)| ModerationQueueEvent { event, case }))
    }
}
