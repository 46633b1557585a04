//! GraphQL surface of news posts: publishing, the member's feed and the console's list. The
//! rules are in `service::campaigns::news`.

use crate::graphql::errors::in_argument;
use async_graphql::{
    Context, Enum, ID, InputObject, Object, OutputType, Result,
    connection::{Connection, ConnectionNameType, DefaultEdgeName, Edge, EmptyFields},
};
use chrono::{DateTime, Utc};
use entities::ids::{CampaignId, UnitId};
use entities::post;
use uuid::Uuid;

use crate::graphql::{
    ContextExt,
    campaigns::campaign::Campaign,
    connection::{build, encode_cursor, page},
    org::OrgUnit,
};
use service::{
    campaigns::{
        campaign::CampaignStatus,
        news::{self as svc, PostCursor, PostFilter, PostInput, PostQuery},
    },
    domain::{GlobalId, NodeKind},
    error::ApiError,
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PostStatus", remote = "service::campaigns::news::PostStatus")]
pub enum GqlPostStatus {
    /// In the feed of its unit's subtree.
    Published,
    /// Taken down; only its managers see it.
    Unpublished,
}

fn post_id(id: &ID, field: &'static str) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::Post, field)
}

/// A news post of a unit to its subtree. Visible to its managers, and while published to
/// everyone whose feed includes its unit.
pub struct Post(pub post::Model);

#[Object]
impl Post {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Post, self.0.id).encode().into()
    }

    /// Comments and reactions (`comments(targetId:)` lists the comments).
    async fn engagement(&self) -> crate::graphql::content::Engagement {
        crate::graphql::content::Engagement::of(self.0.id)
    }

    /// The publishing unit; the post is for its subtree.
    async fn unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    /// The campaign the post is about (global id of a `Campaign`), if any.
    async fn campaign_id(&self) -> Option<ID> {
        self.0.campaign_id.map(|c| GlobalId::of(c).encode().into())
    }

    /// The campaign the post is about, when the post's readers may see it: launched (active or
    /// ended) and run by the post's unit or a unit above it. Null otherwise (use `campaignId`).
    async fn campaign(&self, ctx: &Context<'_>) -> Result<Option<Campaign>> {
        let Some(id) = self.0.campaign_id else { return Ok(None) };
        let loaders = ctx.loaders()?;
        let Some(c) = loaders.campaigns.load_one(id).await? else { return Ok(None) };
        if c.status == CampaignStatus::Draft {
            return Ok(None);
        }
        let above = c.unit_id == self.0.unit_id
            || loaders
                .ancestors
                .load_one(self.0.unit_id)
                .await?
                .is_some_and(|units| units.iter().any(|u| u.id == c.unit_id));
        Ok(above.then_some(Campaign(c)))
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Plain text or Markdown.
    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn cover_image_url(&self) -> Option<&str> {
        self.0.cover_image_url.as_deref()
    }

    async fn status(&self) -> GqlPostStatus {
        self.0.status.into()
    }

    /// When it was first published (kept when it is republished): the feed's order.
    async fn published_at(&self) -> DateTime<Utc> {
        self.0.published_at
    }

    /// When it was taken down; null while published.
    async fn unpublished_at(&self) -> Option<DateTime<Utc>> {
        self.0.unpublished_at
    }
}

/// Extra fields of the console's post list.
pub struct PostListFields(PostQuery);

#[Object]
impl PostListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_posts(&ctx.state()?.db, &self.0).await?)
    }
}

#[derive(InputObject, Default)]
pub struct PostFilterInput {
    /// Only posts of this unit or a unit below it (which must be in the caller's reach).
    pub unit_id: Option<ID>,
    pub campaign_id: Option<ID>,
    pub status: Option<GqlPostStatus>,
}

/// What an officer writes about a post (create and edit take the whole of it).
#[derive(InputObject)]
#[graphql(name = "PostInput")]
pub struct PostInputGql {
    /// 1–200 characters.
    pub title: String,
    /// Plain text or Markdown, 1–20,000 characters.
    pub body: String,
    /// An `http(s)://` link, at most 500 characters.
    pub cover_image_url: Option<String>,
    /// A campaign run by the post's unit or a unit above it, or in the caller's reach.
    pub campaign_id: Option<ID>,
}

impl PostInputGql {
    fn parse(self) -> Result<PostInput, ApiError> {
        let campaign_id = self
            .campaign_id
            .map(|c| GlobalId::decode_id::<CampaignId>(&c, "input.campaignId"))
            .transpose()?;
        Ok(PostInput {
            title: self.title,
            body: self.body,
            cover_image_url: self.cover_image_url,
            campaign_id,
        })
    }
}

#[derive(Default)]
pub struct NewsQuery;

#[Object]
impl NewsQuery {
    /// The caller's news feed, newest first: published posts of her branch and every unit
    /// above it, and of every unit at or above one where she holds an officer role.
    async fn feed(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<FeedConnection> {
        let viewer = ctx.auth()?.require()?;
        let page = page::<PostCursor>(first, after.as_deref())?;
        let scope = crate::graphql::viewer_scope(ctx, viewer).await?;
        let (rows, has_next) = svc::feed(&ctx.state()?.db, &scope, page.first, page.after.as_ref()).await?;
        let mut conn = FeedConnection::new(page.after.is_some(), has_next);
        conn.edges = rows.into_iter().map(|p| Edge::new(encode_cursor(&cursor(&p)), Post(p))).collect();
        Ok(conn)
    }

    /// Posts the caller manages (officers and admins of their reach, branch leaders of their
    /// branch), in every status, newest first.
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: PostFilterInput,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Post, PostListFields>> {
        let call = ctx.call()?;
        let client = call.client(service::integrations::Scope::NewsRead)?;
        if client.is_none() {
            call.viewer()?;
        }
        let state = ctx.state()?;
        let page = page::<PostCursor>(first, after.as_deref())?;
        let filter = PostFilter {
            unit_id: filter
                .unit_id
                .map(|u| GlobalId::decode_id::<UnitId>(&u, "filter.unitId"))
                .transpose()?,
            campaign_id: filter
                .campaign_id
                .map(|c| GlobalId::decode_id::<CampaignId>(&c, "filter.campaignId"))
                .transpose()?,
            status: filter.status.map(Into::into),
        };
        let q = match client {
            Some(client) => svc::client_post_query(call, client, filter).await?,
            None => svc::post_query(call, filter).await?,
        };
        let (rows, has_next) = svc::list_posts(&state.db, &q, page.first, page.after.as_ref()).await?;
        Ok(build(rows, has_next, page.after.is_some(), PostListFields(q), cursor, Post))
    }
}

/// The feed's page: posts like the console's list (`PostEdge`), without a total.
type FeedConnection = Connection<String, Post, EmptyFields, EmptyFields, FeedConnectionName, DefaultEdgeName>;

/// Names the feed's connection type `FeedConnection` (the console's is `PostConnection`).
pub struct FeedConnectionName;

impl ConnectionNameType for FeedConnectionName {
    fn type_name<T: OutputType>() -> String {
        "FeedConnection".to_owned()
    }
}

fn cursor(p: &post::Model) -> PostCursor {
    PostCursor { published_at: p.published_at, id: p.id }
}

#[derive(Default)]
pub struct NewsMutation;

#[Object]
impl NewsMutation {
    /// Publishes a post to a unit's subtree at once (a `UNIT_OFFICER` or `UNIT_ADMIN` at or
    /// above the unit, or a `BRANCH_LEADER` for a branch). Nobody is notified.
    async fn create_post(&self, ctx: &Context<'_>, unit_id: ID, input: PostInputGql) -> Result<Post> {
        ctx.auth()?.require()?;
        let unit = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        Ok(Post(svc::create_post(ctx.call()?, unit, input.parse()?).await.map_err(in_argument("input"))?))
    }

    /// Replaces a post's title, body, cover image and campaign link.
    async fn update_post(&self, ctx: &Context<'_>, id: ID, input: PostInputGql) -> Result<Post> {
        ctx.auth()?.require()?;
        Ok(Post(
            svc::update_post(ctx.call()?, post_id(&id, "id")?, input.parse()?)
                .await
                .map_err(in_argument("input"))?,
        ))
    }

    /// Takes a published post out of the feed. `CONFLICT` (`WRONG_STATUS`) unless published.
    async fn unpublish_post(&self, ctx: &Context<'_>, id: ID) -> Result<Post> {
        ctx.auth()?.require()?;
        Ok(Post(svc::unpublish_post(ctx.call()?, post_id(&id, "id")?).await?))
    }

    /// Puts an unpublished post back at its original place in the feed. `CONFLICT`
    /// (`WRONG_STATUS`) unless unpublished.
    async fn republish_post(&self, ctx: &Context<'_>, id: ID) -> Result<Post> {
        ctx.auth()?.require()?;
        Ok(Post(svc::republish_post(ctx.call()?, post_id(&id, "id")?).await?))
    }
}
