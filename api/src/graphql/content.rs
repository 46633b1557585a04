//! GraphQL surface of member content: stories, comments (one level of replies) and reactions on
//! news posts, campaigns, stories and comments, and the counters shown with them (`engagement` on
//! `Post`, `Campaign`, `Story` and `Comment`, batched per page). Rules in `service::content`.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};
use entities::{
    comment::{self, ContentStatus, TargetKind},
    reaction::ReactionKind,
    story,
};
use uuid::Uuid;

use super::{
    ContextExt,
    connection::{build, page},
};
use service::{
    content::{
        COMMENTS, Target,
        comments::{self, Cursor},
        reactions, stories,
    },
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
};

/// The reactions on offer.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ReactionKind", remote = "ReactionKind")]
pub enum GqlReactionKind {
    /// Thích.
    Like,
    /// Yêu thích.
    Love,
    /// Thương thương: care, support.
    Care,
    /// Hoan nghênh: applause.
    Clap,
}

/// Where a member's comment stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ContentStatus", remote = "ContentStatus")]
pub enum GqlContentStatus {
    /// Seen by everyone who sees what it is about.
    Published,
    /// Waiting for a moderator: only its author sees it.
    Pending,
    /// Hidden by a moderator (see `moderationNote`): only its author sees it.
    Hidden,
    /// Deleted; shown as an empty placeholder while it has replies.
    Removed,
}

/// The target of a comment or a reaction: a `Post`, a `Campaign` or a `Comment` id.
fn target(id: &ID, field: &'static str) -> Result<Target, ApiError> {
    let gid = GlobalId::decode(id, field)?;
    let kind = match gid.kind {
        NodeKind::Post => TargetKind::Post,
        NodeKind::Campaign => TargetKind::Campaign,
        NodeKind::Comment => TargetKind::Comment,
        NodeKind::Story => TargetKind::Story,
        _ => return Err(ApiError::bad_input(field, InputProblem::InvalidId)),
    };
    Ok(Target { kind, id: gid.id })
}

fn node_kind(kind: TargetKind) -> NodeKind {
    match kind {
        TargetKind::Post => NodeKind::Post,
        TargetKind::Campaign => NodeKind::Campaign,
        TargetKind::Comment => NodeKind::Comment,
        TargetKind::Story => NodeKind::Story,
    }
}

/// How many of each reaction.
#[derive(SimpleObject)]
pub struct ReactionCount {
    pub kind: GqlReactionKind,
    pub count: i64,
}

/// What members did with something: published comments, reactions, the caller's own.
pub struct Engagement {
    target: Uuid,
}

impl Engagement {
    pub fn of(target: impl Into<Uuid>) -> Self {
        Self { target: target.into() }
    }
}

#[Object]
impl Engagement {
    /// Published comments and replies on a post, campaign or story; a comment's published
    /// replies.
    async fn comment_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let counters = ctx.loaders()?.engagement.load_one(self.target).await?.unwrap_or_default();
        Ok(counters.get(COMMENTS).copied().unwrap_or(0).max(0))
    }

    /// Every reaction kind, in order, with its count.
    async fn reactions(&self, ctx: &Context<'_>) -> Result<Vec<ReactionCount>> {
        let counters = ctx.loaders()?.engagement.load_one(self.target).await?.unwrap_or_default();
        Ok(ReactionKind::ALL
            .iter()
            .map(|&k| ReactionCount {
                kind: k.into(),
                count: counters.get(k.as_str()).copied().unwrap_or(0).max(0),
            })
            .collect())
    }

    /// The caller's reaction, if any.
    async fn my_reaction(&self, ctx: &Context<'_>) -> Result<Option<GqlReactionKind>> {
        let viewer = ctx.auth()?.require()?;
        Ok(ctx.loaders()?.my_reactions.load_one((viewer.person_id, self.target)).await?.map(Into::into))
    }
}

/// A target's reactions after a change.
pub struct ReactionSummary(reactions::Summary);

#[Object]
impl ReactionSummary {
    async fn reactions(&self) -> Vec<ReactionCount> {
        self.0.counts.iter().map(|&(kind, count)| ReactionCount { kind: kind.into(), count }).collect()
    }

    async fn my_reaction(&self) -> Option<GqlReactionKind> {
        self.0.mine.map(Into::into)
    }
}

/// What an author without a name to show is called (a deleted comment, an erased account).
const NO_NAME: &str = "Hội viên";

/// Her given name (the last word of her name): how other members see an author.
async fn display_name(ctx: &Context<'_>, person: entities::ids::PersonId) -> Result<String> {
    let person = ctx.loaders()?.people.load_one(person).await?;
    Ok(person
        .and_then(|p| p.full_name.split_whitespace().last().map(str::to_owned))
        .unwrap_or_else(|| NO_NAME.to_owned()))
}

/// Who wrote a comment, as other members see her: her given name (the last word of her name).
#[derive(SimpleObject)]
pub struct CommentAuthor {
    pub display_name: String,
}

/// A comment, or a reply to one.
pub struct Comment(pub comment::Model);

#[Object]
impl Comment {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Comment, self.0.id).encode().into()
    }

    /// What it is about: a `Post`, a `Campaign` (or a `Story`) id.
    async fn target_id(&self) -> ID {
        GlobalId::new(node_kind(self.0.target_kind), self.0.target_id).encode().into()
    }

    /// The comment it answers (replies only).
    async fn parent_id(&self) -> Option<ID> {
        self.0.parent_id.map(|p| GlobalId::new(NodeKind::Comment, p).encode().into())
    }

    /// Who wrote it (nobody's name once it is deleted).
    async fn author(&self, ctx: &Context<'_>) -> Result<CommentAuthor> {
        if self.0.status == ContentStatus::Removed {
            return Ok(CommentAuthor { display_name: NO_NAME.to_owned() });
        }
        Ok(CommentAuthor { display_name: display_name(ctx, self.0.author_id).await? })
    }

    /// Whether the caller wrote it.
    async fn mine(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.auth()?.require()?.person_id == self.0.author_id)
    }

    /// Its text; null once deleted.
    async fn body(&self) -> Option<&str> {
        (self.0.status != ContentStatus::Removed).then_some(self.0.body.as_str())
    }

    async fn status(&self) -> GqlContentStatus {
        self.0.status.into()
    }

    /// Why a moderator held, hid or removed it: shown to its author only.
    async fn moderation_note(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let mine = ctx.auth()?.require()?.person_id == self.0.author_id;
        Ok(self.0.moderation_note.as_deref().filter(|_| mine))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }

    /// Until when its author may edit it (null for anyone else, and once deleted).
    async fn editable_until(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        let mine = ctx.auth()?.require()?.person_id == self.0.author_id;
        let window =
            chrono::Duration::from_std(ctx.state()?.settings.comment_edit_window).unwrap_or_default();
        Ok((mine && self.0.status != ContentStatus::Removed).then(|| self.0.created_at + window))
    }

    /// Published replies (top-level comments; read them with `commentReplies`).
    async fn reply_count(&self) -> i32 {
        self.0.reply_count.max(0)
    }

    async fn engagement(&self) -> Engagement {
        Engagement::of(self.0.id)
    }
}

/// Extra fields of a comment list.
pub struct CommentListFields {
    target: Target,
}

#[Object]
impl CommentListFields {
    /// Top-level comments the caller may read (one extra query, only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(comments::count(ctx.call()?, self.target).await?)
    }
}

pub type CommentConnection = Connection<String, Comment, CommentListFields>;

#[derive(Default)]
pub struct ContentQuery;

#[Object]
impl ContentQuery {
    /// Stories, newest first: her branch's for a member (without `unitId`), a unit's subtree
    /// for its officers.
    async fn stories(
        &self,
        ctx: &Context<'_>,
        unit_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Story>> {
        ctx.auth()?.require()?;
        let unit = unit_id.map(|u| GlobalId::decode_id(&u, "unitId")).transpose()?;
        let page = page::<stories::Cursor>(first, after.as_deref())?;
        let (rows, has_next) = stories::list(ctx.call()?, unit, page.first, page.after).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |s| (s.published_at.unwrap_or(s.created_at), s.id),
            Story,
        ))
    }

    /// The caller's own stories (published, held or hidden), newest first.
    async fn my_stories(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Story>> {
        ctx.auth()?.require()?;
        let page = page::<stories::Cursor>(first, after.as_deref())?;
        let (rows, has_next) = stories::mine(ctx.call()?, page.first, page.after).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |s| (s.created_at, s.id),
            Story,
        ))
    }

    /// The top-level comments on a post, a campaign or a story the caller may see, oldest first.
    async fn comments(
        &self,
        ctx: &Context<'_>,
        target_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CommentConnection> {
        ctx.auth()?.require()?;
        let target = target(&target_id, "targetId")?;
        let page = page::<Cursor>(first, after.as_deref())?;
        let (rows, has_next) = comments::list(ctx.call()?, target, page.first, page.after).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            CommentListFields { target },
            |c| (c.created_at, c.id),
            Comment,
        ))
    }

    /// The replies to a comment, oldest first.
    async fn comment_replies(
        &self,
        ctx: &Context<'_>,
        comment_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CommentConnection> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&comment_id, NodeKind::Comment, "commentId")?;
        let page = page::<Cursor>(first, after.as_deref())?;
        let (rows, has_next) = comments::replies(ctx.call()?, id, page.first, page.after).await?;
        let fields = CommentListFields { target: Target { kind: TargetKind::Comment, id } };
        Ok(build(rows, has_next, page.after.is_some(), fields, |c| (c.created_at, c.id), Comment))
    }
}

#[derive(Default)]
pub struct ContentMutation;

#[Object]
impl ContentMutation {
    /// Posts a story to the caller's branch (an active member): 1–2,000 characters, up to four
    /// of her uploaded photos (`uploadPhoto`), maybe about a running campaign she sees.
    async fn post_story(&self, ctx: &Context<'_>, input: StoryInput) -> Result<Story> {
        ctx.auth()?.require()?;
        let photo_ids = input
            .photo_ids
            .unwrap_or_default()
            .iter()
            .map(|p| GlobalId::decode_as(p, NodeKind::Photo, "input.photoIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let campaign_id =
            input.campaign_id.map(|c| GlobalId::decode_id(&c, "input.campaignId")).transpose()?;
        let row = stories::post_story(
            ctx.call()?,
            stories::StoryInput { body: input.body, photo_ids, campaign_id },
        )
        .await
        .map_err(|e| match e {
            ApiError::BadInput { field: "photo_ids", problem } => {
                ApiError::bad_input("input.photoIds", problem)
            }
            ApiError::BadInput { field: "campaign_id", problem } => {
                ApiError::bad_input("input.campaignId", problem)
            }
            ApiError::BadInput { field: "body", problem } => ApiError::bad_input("input.body", problem),
            other => other,
        })?;
        Ok(Story(row))
    }

    /// Deletes the caller's story, with its photos.
    async fn delete_story(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::Story, "id")?;
        stories::delete_story(ctx.call()?, id).await?;
        Ok(true)
    }

    /// Comments on a post, a campaign or a story the caller may see (1–2,000 characters); with
    /// `parentId`, replies to one of its top-level comments (whose author is notified).
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        target_id: ID,
        parent_id: Option<ID>,
        body: String,
    ) -> Result<Comment> {
        ctx.auth()?.require()?;
        let target = target(&target_id, "targetId")?;
        let parent = parent_id.map(|p| GlobalId::decode_as(&p, NodeKind::Comment, "parentId")).transpose()?;
        Ok(Comment(comments::add_comment(ctx.call()?, target, parent, &body).await?))
    }

    /// Changes the text of the caller's comment, within `APP_COMMENT_EDIT_WINDOW_SECS` of
    /// writing it.
    async fn edit_comment(&self, ctx: &Context<'_>, id: ID, body: String) -> Result<Comment> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::Comment, "id")?;
        Ok(Comment(comments::edit_comment(ctx.call()?, id, &body).await?))
    }

    /// Deletes the caller's comment (its text is erased).
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::Comment, "id")?;
        comments::delete_comment(ctx.call()?, id).await?;
        Ok(true)
    }

    /// Sets the caller's reaction to a post, a campaign or a comment she may see (replacing
    /// another kind).
    async fn react(
        &self,
        ctx: &Context<'_>,
        target_id: ID,
        kind: GqlReactionKind,
    ) -> Result<ReactionSummary> {
        ctx.auth()?.require()?;
        let target = target(&target_id, "targetId")?;
        Ok(ReactionSummary(reactions::react(ctx.call()?, target, kind.into()).await?))
    }

    /// Takes the caller's reaction back.
    async fn unreact(&self, ctx: &Context<'_>, target_id: ID) -> Result<ReactionSummary> {
        ctx.auth()?.require()?;
        let target = target(&target_id, "targetId")?;
        Ok(ReactionSummary(reactions::unreact(ctx.call()?, target).await?))
    }
}

/// What a member writes in a story.
#[derive(async_graphql::InputObject)]
pub struct StoryInput {
    /// 1–2,000 characters.
    pub body: String,
    /// Up to four of her photos from `uploadPhoto`, in order.
    pub photo_ids: Option<Vec<ID>>,
    /// A running campaign she sees that the story is about.
    pub campaign_id: Option<ID>,
}

/// A member's story, posted to her branch.
pub struct Story(pub story::Model);

#[Object]
impl Story {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Story, self.0.id).encode().into()
    }

    async fn author(&self, ctx: &Context<'_>) -> Result<CommentAuthor> {
        Ok(CommentAuthor { display_name: display_name(ctx, self.0.author_id).await? })
    }

    /// Whether the caller wrote it.
    async fn mine(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.auth()?.require()?.person_id == self.0.author_id)
    }

    /// Her branch.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<super::org::OrgUnit>> {
        Ok(ctx.loaders()?.units.load_one(self.0.unit_id).await?.map(super::org::OrgUnit))
    }

    /// The campaign it is about, as an id (read it with `node`).
    async fn campaign_id(&self) -> Option<ID> {
        self.0.campaign_id.map(|c| GlobalId::of(c).encode().into())
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn status(&self) -> GqlContentStatus {
        self.0.status.into()
    }

    /// Why a moderator held or hid it: shown to its author only.
    async fn moderation_note(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let mine = ctx.auth()?.require()?.person_id == self.0.author_id;
        Ok(self.0.moderation_note.as_deref().filter(|_| mine))
    }

    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Its photos, in order (their URLs last a few minutes).
    async fn photos(&self, ctx: &Context<'_>) -> Result<Vec<super::media::Photo>> {
        let photos = ctx.loaders()?.photos.load_one(self.0.id).await?.unwrap_or_default();
        Ok(photos.into_iter().map(super::media::Photo).collect())
    }

    async fn engagement(&self) -> Engagement {
        Engagement::of(self.0.id)
    }
}
