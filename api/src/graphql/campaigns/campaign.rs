//! GraphQL surface of campaigns: the list, the `Campaign` type with its criteria and the
//! caller's pledges, and the managers' mutations. The rules are in `service::campaigns::campaign`.

use crate::graphql::errors::in_argument;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Datelike, Utc};
use entities::campaign;
use entities::ids::{CampaignId, UnitId};

use super::pledges::Pledge;
use crate::graphql::{
    ContextExt,
    connection::{build, page},
    loaders::nodes_select,
    org::OrgUnit,
    scalars::Date,
};
use service::{
    campaigns::campaign::{self as svc, CampaignCursor, CampaignFilter, CampaignInput, CampaignQuery},
    domain::GlobalId,
    domain::hanoi_day,
    error::{ApiError, InputProblem},
    integrations::Scope,
};

/// What sort of campaign it is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CampaignKind", remote = "service::campaigns::campaign::CampaignKind")]
pub enum GqlCampaignKind {
    /// Phong trào thi đua.
    EmulationMovement,
    /// Cuộc vận động.
    Campaign,
    Programme,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CampaignStatus", remote = "service::campaigns::campaign::CampaignStatus")]
pub enum GqlCampaignStatus {
    /// Being prepared; only officers with reach see it.
    Draft,
    /// Launched: open to pledges.
    Active,
    /// Over: no new pledges; it cannot be edited.
    Ended,
}

/// How a campaign's body is written (the client renders it).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CampaignBodyFormat", remote = "service::campaigns::campaign::BodyFormat")]
pub enum GqlBodyFormat {
    Plain,
    Markdown,
}

pub(crate) fn campaign_id(id: &ID, field: &'static str) -> Result<CampaignId, ApiError> {
    GlobalId::decode_id::<CampaignId>(id, field)
}

/// One criterion of a campaign, in its place. Its `id` is what a reviewer lists in `checks`.
#[derive(SimpleObject)]
pub struct CampaignCriterion {
    /// The criterion's id (not a global id: criteria are not nodes).
    id: ID,
    /// 1-based.
    position: i32,
    text: String,
}

/// A campaign, emulation movement or programme of a unit, for its subtree.
pub struct Campaign(pub campaign::Model);

#[Object]
impl Campaign {
    pub async fn id(&self) -> ID {
        GlobalId::of(self.0.id).encode().into()
    }

    /// Comments and reactions (`comments(targetId:)` lists the comments).
    async fn engagement(&self) -> crate::graphql::content::Engagement {
        crate::graphql::content::Engagement::of(self.0.id.uuid())
    }

    async fn kind(&self) -> GqlCampaignKind {
        self.0.kind.into()
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// Plain text or Markdown (`bodyFormat`), as written.
    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn body_format(&self) -> GqlBodyFormat {
        self.0.body_format.into()
    }

    async fn cover_image_url(&self) -> Option<&str> {
        self.0.cover_image_url.as_deref()
    }

    async fn term_start(&self) -> Date {
        Date(self.0.term_start)
    }

    async fn term_end(&self) -> Date {
        Date(self.0.term_end)
    }

    async fn status(&self) -> GqlCampaignStatus {
        self.0.status.into()
    }

    /// The owning unit; the campaign is for its subtree.
    async fn unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    /// The campaign's figures over `unitId`'s subtree (the campaign's own unit by default) and
    /// each direct child's: pledges by status, certified households against the unit's target
    /// for the campaign's term, and the launch notice's progress. For officers over the unit
    /// (`NOT_FOUND`/`FORBIDDEN` otherwise). A fixed number of statements whatever the tree.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        unit_id: Option<ID>,
    ) -> Result<super::dashboard::CampaignDashboard> {
        ctx.auth()?.require()?;
        let unit = unit_id.map(|u| GlobalId::decode_id::<UnitId>(&u, "unitId")).transpose()?;
        // Boxed, so that every field of every campaign of a page is not as large as this one.
        let d =
            Box::pin(service::campaigns::dashboard::campaign_dashboard(ctx.call()?, self.0.id, unit)).await?;
        Ok(super::dashboard::CampaignDashboard(d))
    }

    /// The criteria pledges are reviewed against, in order.
    async fn criteria(&self, ctx: &Context<'_>) -> Result<Vec<CampaignCriterion>> {
        let loaders = ctx.loaders()?;
        let rows = match loaders.criteria_ahead.take(&self.0.id) {
            Some(rows) => rows,
            None => loaders.campaign_criteria.load_one(self.0.id).await?.unwrap_or_default(),
        };
        Ok(rows
            .into_iter()
            .map(|k| CampaignCriterion { id: k.id.to_string().into(), position: k.position, text: k.text })
            .collect())
    }

    async fn launched_at(&self) -> Option<DateTime<Utc>> {
        self.0.launched_at
    }

    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The caller's pledges to this campaign for `year` (default: the current year in Hanoi):
    /// at most one personal and one household pledge.
    async fn my_pledges(&self, ctx: &Context<'_>, year: Option<i32>) -> Result<Vec<Pledge>> {
        let Some(viewer) = ctx.auth()?.optional()? else { return Ok(Vec::new()) };
        let year = year.unwrap_or_else(|| hanoi_day(Utc::now()).year());
        let loaders = ctx.loaders()?;
        let key = (viewer.person_id, self.0.id, year);
        let rows = match loaders.pledges_ahead.take(&key) {
            Some(rows) => rows,
            None => loaders.my_pledges.load_one(key).await?.unwrap_or_default(),
        };
        Ok(rows.into_iter().map(Pledge).collect())
    }
}

/// Extra fields of the campaign list.
pub struct CampaignListFields(CampaignQuery);

#[Object]
impl CampaignListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_campaigns(&ctx.state()?.db, &self.0).await?)
    }
}

#[derive(InputObject)]
pub struct CampaignFilterInput {
    /// Only campaigns in this status (`ACTIVE` unless given; `null` for every status).
    #[graphql(default_with = "Some(GqlCampaignStatus::Active)")]
    pub status: Option<GqlCampaignStatus>,
    pub kind: Option<GqlCampaignKind>,
    /// Only campaigns of this unit or a unit below it.
    pub unit_id: Option<ID>,
    /// Part of the title, accent-insensitive.
    pub search: Option<String>,
}

impl Default for CampaignFilterInput {
    fn default() -> Self {
        Self { status: Some(GqlCampaignStatus::Active), kind: None, unit_id: None, search: None }
    }
}

/// What a manager writes about a campaign (create and edit take the whole of it).
#[derive(InputObject)]
#[graphql(name = "CampaignInput")]
pub struct CampaignInputGql {
    pub kind: GqlCampaignKind,
    /// 1–200 characters.
    pub title: String,
    /// At most 1,000 characters.
    #[graphql(default)]
    pub summary: String,
    /// At most 20,000 characters, stored as written.
    #[graphql(default)]
    pub body: String,
    #[graphql(default_with = "GqlBodyFormat::Plain")]
    pub body_format: GqlBodyFormat,
    /// An `http(s)://` link, at most 500 characters.
    pub cover_image_url: Option<String>,
    pub term_start: Date,
    /// After `termStart`.
    pub term_end: Date,
    /// The criteria in order (at most 20, each 1–300 characters). They can change only while
    /// the campaign is a draft.
    #[graphql(default)]
    pub criteria: Vec<String>,
}

impl From<CampaignInputGql> for CampaignInput {
    fn from(i: CampaignInputGql) -> Self {
        CampaignInput {
            kind: i.kind.into(),
            title: i.title,
            summary: i.summary,
            body: i.body,
            body_format: i.body_format.into(),
            cover_image_url: i.cover_image_url,
            term_start: i.term_start.0,
            term_end: i.term_end.0,
            criteria: i.criteria,
        }
    }
}

/// Reads the criteria of a page's campaigns, when the query shows them: one statement for the
/// page. (Her pledges come with the page, see `campaigns`.)
async fn read_criteria_ahead(ctx: &Context<'_>, rows: &[campaign::Model]) -> Result<(), ApiError> {
    if rows.is_empty() || !nodes_select(ctx, "criteria") {
        return Ok(());
    }
    let (db, loaders) = (&ctx.state()?.db, ctx.loaders()?);
    let ids: Vec<CampaignId> = rows.iter().map(|c| c.id).collect();
    let mut found = svc::criteria_of(db, &ids).await?;
    loaders.criteria_ahead.put(ids.iter().map(|id| (*id, found.remove(id).unwrap_or_default())));
    Ok(())
}

#[derive(Default)]
pub struct CampaignQueryRoot;

#[Object]
impl CampaignQueryRoot {
    /// Campaigns the caller may see, newest first: the active (and ended) ones of her branch
    /// and every unit above it and above her role units; officers also every campaign of their
    /// reach, drafts included. Active ones only unless `filter.status` says otherwise.
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: CampaignFilterInput,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Campaign, CampaignListFields>> {
        let call = ctx.call()?;
        let client = call.client(Scope::CampaignsRead)?;
        let viewer = if client.is_some() { None } else { Some(call.viewer()?) };
        let state = ctx.state()?;
        let page = page::<CampaignCursor>(first, after.as_deref())?;
        if filter.search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(ApiError::bad_input("filter.search", InputProblem::TooLong).into());
        }
        let filter = CampaignFilter {
            status: filter.status.map(Into::into),
            kind: filter.kind.map(Into::into),
            unit_id: filter
                .unit_id
                .map(|u| GlobalId::decode_id::<UnitId>(&u, "filter.unitId"))
                .transpose()?,
            search: filter.search,
        };
        let q = match (client, viewer) {
            (Some(client), _) => svc::client_campaign_query(&state.db, client, filter).await?,
            (None, Some(viewer)) => {
                svc::campaign_query(&*crate::graphql::viewer_scope(ctx, viewer).await?, filter)
            }
            (None, None) => return Err(ApiError::Unauthenticated.into()),
        };
        let (first, after) = (page.first, page.after.as_ref());
        // Her pledges of this year to each, when the query shows them: read with the page, in
        // the same statement.
        let (rows, has_next) = match viewer.filter(|_| nodes_select(ctx, "myPledges")) {
            Some(viewer) => {
                let year = hanoi_day(Utc::now()).year();
                let (rows, has_next) =
                    svc::list_campaigns_with_pledges(&state.db, &q, first, after, (viewer.person_id, year))
                        .await?;
                let mut page = Vec::with_capacity(rows.len());
                ctx.loaders()?.pledges_ahead.put(rows.into_iter().map(|(c, pledges)| {
                    let key = (viewer.person_id, c.id, year);
                    page.push(c);
                    (key, pledges)
                }));
                (page, has_next)
            }
            None => svc::list_campaigns(&state.db, &q, first, after).await?,
        };
        if viewer.is_some() {
            read_criteria_ahead(ctx, &rows).await?;
        }
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            CampaignListFields(q),
            |c| CampaignCursor { listed_at: c.listed_at, id: c.id },
            Campaign,
        ))
    }
}

#[derive(Default)]
pub struct CampaignMutation;

#[Object]
impl CampaignMutation {
    /// Creates a draft campaign for a unit's subtree (a `UNIT_OFFICER` or `UNIT_ADMIN` at or
    /// above the unit).
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        input: CampaignInputGql,
    ) -> Result<Campaign> {
        ctx.auth()?.require()?;
        let unit = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        Ok(Campaign(
            svc::create_campaign(ctx.call()?, unit, input.into()).await.map_err(in_argument("input"))?,
        ))
    }

    /// Edits a draft or active campaign. `CONFLICT` `WRONG_STATUS` for an ended campaign, or
    /// when the criteria would change after the launch.
    async fn update_campaign(&self, ctx: &Context<'_>, id: ID, input: CampaignInputGql) -> Result<Campaign> {
        ctx.auth()?.require()?;
        Ok(Campaign(
            svc::update_campaign(ctx.call()?, campaign_id(&id, "id")?, input.into())
                .await
                .map_err(in_argument("input"))?,
        ))
    }

    /// Launches a draft (`CONFLICT` `WRONG_STATUS` otherwise). With `notifyMembers`, the
    /// subtree's members are notified in the background, in batches.
    async fn launch_campaign(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = false)] notify_members: bool,
    ) -> Result<Campaign> {
        ctx.auth()?.require()?;
        let id = campaign_id(&id, "id")?;
        Ok(Campaign(svc::launch_campaign(ctx.call()?, id, notify_members).await?))
    }

    /// Ends an active campaign (`CONFLICT` `WRONG_STATUS` otherwise).
    async fn end_campaign(&self, ctx: &Context<'_>, id: ID) -> Result<Campaign> {
        ctx.auth()?.require()?;
        Ok(Campaign(svc::end_campaign(ctx.call()?, campaign_id(&id, "id")?).await?))
    }
}
