//! GraphQL surface of trainings: publishing, discovery, registration and the waitlist,
//! check-in, the roster and statistics. The rules are in `service::trainings`.

use crate::graphql::errors::in_argument;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};
use entities::ids::{TrainingId, UnitId};
use entities::training;

use super::{
    ContextExt,
    connection::{build, page},
    org::OrgUnit,
};
use service::{
    domain::GlobalId,
    error::ApiError,
    trainings::{self as svc, RosterCursor, RosterFilter, TrainingInput},
};

mod checkin;
mod list;
mod registration;
mod stats;

pub use checkin::*;
pub use list::*;
pub use registration::*;
pub use stats::*;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TrainingCategory", remote = "service::trainings::Category")]
pub enum GqlCategory {
    Vocational,
    DigitalSkills,
    Legal,
    Health,
    Entrepreneurship,
    UnionWork,
    Other,
}

/// Who a training is for, within its unit's subtree.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TrainingAudience", remote = "service::trainings::Audience")]
pub enum GqlAudience {
    /// Members whose branch is in the subtree.
    Members,
    /// People holding an officer role in the subtree.
    Officers,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TrainingStatus", remote = "service::trainings::TrainingStatus")]
pub enum GqlTrainingStatus {
    /// Being prepared; only its managers see it.
    Draft,
    /// Open to its audience.
    Published,
    Cancelled,
    /// Over; seats nobody used were marked no-show.
    Completed,
}

fn training_id(id: &ID, field: &'static str) -> Result<TrainingId, ApiError> {
    GlobalId::decode_id::<TrainingId>(id, field)
}

/// A training. Visible to its audience and to officers over its unit; drafts to its managers.
pub struct Training(pub training::Model);

#[Object]
impl Training {
    pub async fn id(&self) -> ID {
        GlobalId::of(self.0.id).encode().into()
    }

    /// The organising unit; the audience is its subtree.
    async fn unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn category(&self) -> GqlCategory {
        self.0.category.into()
    }

    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }

    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }

    async fn place(&self) -> Option<&str> {
        self.0.place.as_deref()
    }

    async fn online_url(&self) -> Option<&str> {
        self.0.online_url.as_deref()
    }

    /// Seats; null for no limit.
    async fn capacity(&self) -> Option<i32> {
        self.0.capacity
    }

    /// Seats still free; null for no limit.
    async fn seats_left(&self) -> Option<i32> {
        svc::seats_left(&self.0)
    }

    async fn confirmed_count(&self) -> i32 {
        self.0.confirmed_count
    }

    async fn waitlist_count(&self) -> i32 {
        self.0.waitlist_count
    }

    /// Null: from publication.
    async fn registration_opens_at(&self) -> Option<DateTime<Utc>> {
        self.0.registration_opens_at
    }

    /// When registration closes (the start, unless set earlier).
    async fn registration_closes_at(&self) -> DateTime<Utc> {
        svc::registration_closes_at(&self.0)
    }

    /// Published and within its registration window now.
    async fn registration_open(&self) -> bool {
        svc::registration_refusal(&self.0, Utc::now()).is_none()
    }

    async fn audience(&self) -> GqlAudience {
        self.0.audience.into()
    }

    async fn status(&self) -> GqlTrainingStatus {
        self.0.status.into()
    }

    async fn cancel_reason(&self) -> Option<&str> {
        self.0.cancel_reason.as_deref()
    }

    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The caller's registration, if she has one (cancelled ones included).
    async fn my_registration(&self, ctx: &Context<'_>) -> Result<Option<TrainingRegistration>> {
        let Some(viewer) = ctx.auth()?.optional()? else { return Ok(None) };
        let loaders = ctx.loaders()?;
        let key = (viewer.person_id, self.0.id);
        let row = match loaders.registrations_ahead.take(&key) {
            Some(row) => row,
            None => loaders.registrations.load_one(key).await?,
        };
        Ok(row.map(TrainingRegistration))
    }

    /// Registrations in arrival order (managers of the training only).
    async fn roster(
        &self,
        ctx: &Context<'_>,
        status: Option<GqlRegistrationStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, TrainingRegistration, RosterFields>> {
        ctx.auth()?.require()?;
        let page = page::<RosterCursor>(first, after.as_deref())?;
        let filter = RosterFilter { status: status.map(Into::into) };
        // The managers' fields box their service calls: a field's future is as large as the
        // type's largest, and every field of every training of a page is moved into a box.
        let (rows, has_next) =
            Box::pin(svc::roster(ctx.call()?, &self.0, &filter, page.first, page.after.as_ref())).await?;
        ctx.loaders()?.people.feed_many(rows.iter().map(|(_, p)| (p.id, p.clone()))).await;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            RosterFields { training_id: self.0.id, filter },
            |(r, _)| RosterCursor { queue_no: r.queue_no },
            |(r, _)| TrainingRegistration(r),
        ))
    }

    /// Seats, the waitlist and attendance, in one statement (managers of the training only).
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
    ) -> Result<crate::graphql::campaigns::dashboard::TrainingDashboard> {
        ctx.auth()?.require()?;
        let figures = Box::pin(svc::training_dashboard(ctx.call()?, &self.0)).await?;
        Ok(crate::graphql::campaigns::dashboard::TrainingDashboard(figures))
    }

    /// The whole roster as CSV, UTF-8 with a byte-order mark (managers of the training only).
    async fn roster_csv(&self, ctx: &Context<'_>) -> Result<String> {
        ctx.auth()?.require()?;
        Ok(Box::pin(svc::roster_csv(ctx.call()?, &self.0)).await?)
    }
}

/// What an officer writes about a training (create and edit take the whole of it).
#[derive(InputObject)]
#[graphql(name = "TrainingInput")]
pub struct TrainingInputGql {
    /// 1–200 characters.
    pub title: String,
    /// Plain text, at most 5,000 characters.
    #[graphql(default)]
    pub description: String,
    pub category: GqlCategory,
    pub starts_at: DateTime<Utc>,
    /// After `startsAt`.
    pub ends_at: DateTime<Utc>,
    /// Where it happens; `place` or `onlineUrl` (or both) is required.
    pub place: Option<String>,
    /// An `http(s)://` link.
    pub online_url: Option<String>,
    /// Seats (1–100,000); null for no limit. Cannot go below the confirmed seats.
    pub capacity: Option<i32>,
    /// Null: registration opens at publication.
    pub registration_opens_at: Option<DateTime<Utc>>,
    /// Null: registration closes at the start. At most `endsAt`.
    pub registration_closes_at: Option<DateTime<Utc>>,
    #[graphql(default_with = "GqlAudience::Members")]
    pub audience: GqlAudience,
}

impl From<TrainingInputGql> for TrainingInput {
    fn from(i: TrainingInputGql) -> Self {
        TrainingInput {
            title: i.title,
            description: i.description,
            category: i.category.into(),
            starts_at: i.starts_at,
            ends_at: i.ends_at,
            place: i.place,
            online_url: i.online_url,
            capacity: i.capacity,
            registration_opens_at: i.registration_opens_at,
            registration_closes_at: i.registration_closes_at,
            audience: i.audience.into(),
        }
    }
}

#[derive(Default)]
pub struct TrainingManagementMutation;

#[Object]
impl TrainingManagementMutation {
    /// Creates a draft training for a unit's subtree (a `UNIT_OFFICER` at or above the unit, or
    /// a `BRANCH_LEADER` for a branch).
    async fn create_training(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        input: TrainingInputGql,
    ) -> Result<Training> {
        ctx.auth()?.require()?;
        let unit = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        Ok(Training(
            svc::create_training(ctx.call()?, unit, input.into()).await.map_err(in_argument("input"))?,
        ))
    }

    /// Edits a draft or published training; registrations are kept. `CONFLICT`
    /// (`CAPACITY_BELOW_CONFIRMED`) when the capacity would go below the confirmed seats; new
    /// seats go to the waitlist in order.
    async fn update_training(&self, ctx: &Context<'_>, id: ID, input: TrainingInputGql) -> Result<Training> {
        ctx.auth()?.require()?;
        Ok(Training(
            svc::update_training(ctx.call()?, training_id(&id, "id")?, input.into())
                .await
                .map_err(in_argument("input"))?,
        ))
    }

    /// Publishes a draft to its audience.
    async fn publish_training(&self, ctx: &Context<'_>, id: ID) -> Result<Training> {
        ctx.auth()?.require()?;
        Ok(Training(svc::publish_training(ctx.call()?, training_id(&id, "id")?).await?))
    }

    /// Cancels a training; everyone registered or waitlisted is notified.
    async fn cancel_training(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Training> {
        ctx.auth()?.require()?;
        Ok(Training(svc::cancel_training(ctx.call()?, training_id(&id, "id")?, &reason).await?))
    }

    /// Closes a training that has started: seats nobody checked in for become `NO_SHOW`.
    async fn complete_training(&self, ctx: &Context<'_>, id: ID) -> Result<Training> {
        ctx.auth()?.require()?;
        Ok(Training(svc::complete_training(ctx.call()?, training_id(&id, "id")?).await?))
    }
}

/// The training queries, one part per file.
#[derive(async_graphql::MergedObject, Default)]
pub struct TrainingQueryRoot(list::ListQuery, registration::RegistrationQuery, stats::StatsQuery);

/// The training mutations, one part per file.
#[derive(async_graphql::MergedObject, Default)]
pub struct TrainingMutation(
    TrainingManagementMutation,
    registration::RegistrationMutation,
    checkin::CheckInMutation,
);
