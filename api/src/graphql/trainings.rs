//! GraphQL surface of trainings: publishing, discovery, registration and the waitlist,
//! check-in, the roster and statistics. The rules are in `service::trainings`.

use crate::graphql::errors::in_argument;
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};
use entities::{training, training_registration};
use uuid::Uuid;

use super::{
    ContextExt,
    connection::{build, page},
    loaders::nodes_select,
    org::OrgUnit,
    scalars::Date,
    stored,
};
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
    trainings::{
        self as svc, RegistrationStatus, RosterCursor, RosterFilter, TrainingCursor, TrainingFigures,
        TrainingFilter, TrainingInput, TrainingQuery, TrainingStatus,
    },
};

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

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "TrainingRegistrationStatus", remote = "service::trainings::RegistrationStatus")]
pub enum GqlRegistrationStatus {
    /// Has a seat.
    Confirmed,
    /// Waiting for a seat, in arrival order (`waitlistPosition`).
    Waitlisted,
    Cancelled,
    /// Checked in.
    Attended,
    /// Had a seat but was not checked in by the end.
    NoShow,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CheckInMethod", remote = "service::trainings::CheckInMethod")]
pub enum GqlCheckInMethod {
    /// By scanning the member's check-in code.
    Token,
    /// By hand, by an officer.
    Manual,
}

fn training_id(id: &ID, field: &'static str) -> Result<Uuid, ApiError> {
    GlobalId::decode_as(id, NodeKind::Training, field)
}

/// A training. Visible to its audience and to officers over its unit; drafts to its managers.
pub struct Training(pub training::Model);

#[Object]
impl Training {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Training, self.0.id).encode().into()
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

    async fn category(&self) -> Result<GqlCategory> {
        Ok(stored(svc::Category::parse(&self.0.category), "training category")?.into())
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

    async fn audience(&self) -> Result<GqlAudience> {
        Ok(stored(svc::Audience::parse(&self.0.audience), "training audience")?.into())
    }

    async fn status(&self) -> Result<GqlTrainingStatus> {
        Ok(stored(TrainingStatus::parse(&self.0.status), "training status")?.into())
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
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
    async fn roster(
        &self,
        ctx: &Context<'_>,
        status: Option<GqlRegistrationStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, TrainingRegistration, RosterFields>> {
        let viewer = ctx.auth()?.require()?;
        let state = ctx.state()?;
        let page = page::<RosterCursor>(first, after.as_deref())?;
        let filter = RosterFilter { status: status.map(Into::into) };
        let (rows, has_next) =
            svc::roster(state, viewer, &self.0, &filter, page.first, page.after.as_ref()).await?;
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

    /// The whole roster as CSV, UTF-8 with a byte-order mark (managers of the training only).
    async fn roster_csv(&self, ctx: &Context<'_>) -> Result<String> {
        let viewer = ctx.auth()?.require()?;
        Ok(svc::roster_csv(ctx.state()?, viewer, &self.0).await?)
    }
}

/// Extra fields of a roster.
pub struct RosterFields {
    training_id: Uuid,
    filter: RosterFilter,
}

#[Object]
impl RosterFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::roster_count(&ctx.state()?.db, self.training_id, &self.filter).await?)
    }
}

/// A code to show at the door (as a QR code); it expires, so the app asks for a fresh one.
#[derive(SimpleObject)]
pub struct CheckInCode {
    code: String,
    expires_at: DateTime<Utc>,
}

/// A person's registration for a training. Visible to herself and to the training's managers.
pub struct TrainingRegistration(pub training_registration::Model);

#[Object]
impl TrainingRegistration {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::TrainingRegistration, self.0.id).encode().into()
    }

    async fn training(&self, ctx: &Context<'_>) -> Result<Training> {
        Ok(Training(ctx.loaders()?.trainings.load_one(self.0.training_id).await?.ok_or(ApiError::NotFound)?))
    }

    async fn full_name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(ctx.loaders()?.people.load_one(self.0.person_id).await?.ok_or(ApiError::NotFound)?.full_name)
    }

    async fn phone(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(ctx.loaders()?.people.load_one(self.0.person_id).await?.ok_or(ApiError::NotFound)?.phone)
    }

    async fn status(&self) -> Result<GqlRegistrationStatus> {
        Ok(stored(RegistrationStatus::parse(&self.0.status), "registration status")?.into())
    }

    /// Arrival number within the training (the roster's order).
    async fn arrival_number(&self) -> i64 {
        self.0.queue_no
    }

    /// 1 for the first in line; null unless waitlisted.
    async fn waitlist_position(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        if self.0.status != RegistrationStatus::Waitlisted.as_str() {
            return Ok(None);
        }
        Ok(ctx.loaders()?.waitlist_positions.load_one(self.0.id).await?)
    }

    async fn registered_at(&self) -> DateTime<Utc> {
        self.0.registered_at
    }

    /// When she got her seat (at registration, or on promotion from the waitlist).
    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.0.confirmed_at
    }

    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancelled_at
    }

    async fn attended_at(&self) -> Option<DateTime<Utc>> {
        self.0.attended_at
    }

    async fn check_in_method(&self) -> Result<Option<GqlCheckInMethod>> {
        self.0
            .check_in_method
            .as_deref()
            .map(|m| Ok(stored(svc::CheckInMethod::parse(m), "check-in method")?.into()))
            .transpose()
    }

    /// Her check-in code: only for herself, with a seat, while the training is published.
    async fn check_in_code(&self, ctx: &Context<'_>) -> Result<Option<CheckInCode>> {
        let Some(viewer) = ctx.auth()?.optional()? else { return Ok(None) };
        if viewer.person_id != self.0.person_id {
            return Ok(None);
        }
        let Some(t) = ctx.loaders()?.trainings.load_one(self.0.training_id).await? else { return Ok(None) };
        Ok(svc::issue_check_in_token(ctx.state()?, viewer, &self.0, &t)
            .map(|(code, expires_at)| CheckInCode { code, expires_at }))
    }
}

/// The result of a check-in.
pub struct CheckInResult(svc::CheckIn);

#[Object]
impl CheckInResult {
    async fn registration(&self) -> TrainingRegistration {
        TrainingRegistration(self.0.registration.clone())
    }

    /// She had been checked in before: nothing changed.
    async fn already_checked_in(&self) -> bool {
        self.0.already_checked_in
    }
}

/// Training figures of a unit's whole subtree for a period.
pub struct TrainingStatistics {
    unit: Option<entities::org_unit::Model>,
    figures: TrainingFigures,
}

#[Object]
impl TrainingStatistics {
    /// The unit (null in a per-category entry).
    async fn unit(&self) -> Option<OrgUnit> {
        self.unit.clone().map(OrgUnit)
    }

    /// Trainings held (published or completed) that started in the period.
    async fn trainings(&self) -> i64 {
        self.figures.trainings
    }

    /// Registrations of those trainings, cancelled ones excepted.
    async fn registrations(&self) -> i64 {
        self.figures.registrations
    }

    /// Check-ins.
    async fn attendances(&self) -> i64 {
        self.figures.attendances
    }

    /// Distinct people checked in at least once.
    async fn people_trained(&self) -> i64 {
        self.figures.people_trained
    }

    async fn women(&self) -> i64 {
        self.figures.women
    }

    async fn men(&self) -> i64 {
        self.figures.men
    }

    /// People trained whose profile gives no gender.
    async fn gender_unknown(&self) -> i64 {
        self.figures.gender_unknown
    }

    /// Women ÷ people trained whose gender is known (null when none is).
    async fn women_share(&self) -> Option<f64> {
        self.figures.women_share()
    }
}

/// A category's training figures.
#[derive(SimpleObject)]
pub struct TrainingCategoryStatistics {
    category: GqlCategory,
    figures: TrainingStatistics,
}

/// A unit's training figures, each direct child's, and the unit's by category.
pub struct TrainingStatisticsReport(svc::TrainingStats);

#[Object]
impl TrainingStatisticsReport {
    async fn total(&self) -> TrainingStatistics {
        TrainingStatistics { unit: Some(self.0.unit.clone()), figures: self.0.total.clone() }
    }

    /// One entry per direct child, by name.
    async fn children(&self) -> Vec<TrainingStatistics> {
        self.0
            .children
            .iter()
            .map(|(u, f)| TrainingStatistics { unit: Some(u.clone()), figures: f.clone() })
            .collect()
    }

    /// The unit's figures per category (every category, zeros included).
    async fn by_category(&self) -> Vec<TrainingCategoryStatistics> {
        self.0
            .by_category
            .iter()
            .map(|c| TrainingCategoryStatistics {
                category: c.category.into(),
                figures: TrainingStatistics { unit: None, figures: c.figures.clone() },
            })
            .collect()
    }
}

/// Extra fields of the training list.
pub struct TrainingListFields(TrainingQuery);

#[Object]
impl TrainingListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_trainings(&ctx.state()?.db, &self.0).await?)
    }
}

#[derive(InputObject)]
pub struct TrainingFilterInput {
    /// Only trainings not over yet and neither cancelled nor completed (the default).
    #[graphql(default = true)]
    pub upcoming: bool,
    pub category: Option<GqlCategory>,
    /// Only trainings organised by this unit or a unit below it.
    pub unit_id: Option<ID>,
    /// Part of the title, accent-insensitive.
    pub search: Option<String>,
    pub status: Option<GqlTrainingStatus>,
}

impl Default for TrainingFilterInput {
    fn default() -> Self {
        Self { upcoming: true, category: None, unit_id: None, search: None, status: None }
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
pub struct TrainingQueryRoot;

#[Object]
impl TrainingQueryRoot {
    /// Trainings the caller may see, soonest first: those open to her (her branch's and every
    /// ancestor's; officer trainings too for officers), those of her reach, drafts she manages.
    #[graphql(complexity = "super::connection::page_complexity(first, child_complexity)")]
    async fn trainings(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: TrainingFilterInput,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Training, TrainingListFields>> {
        let viewer = ctx.auth()?.require()?;
        let state = ctx.state()?;
        let page = page::<TrainingCursor>(first, after.as_deref())?;
        if filter.search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(ApiError::bad_input("filter.search", InputProblem::TooLong).into());
        }
        let filter = TrainingFilter {
            upcoming: filter.upcoming,
            category: filter.category.map(Into::into),
            unit_id: filter
                .unit_id
                .map(|u| GlobalId::decode_as(&u, NodeKind::OrgUnit, "filter.unitId"))
                .transpose()?,
            search: filter.search,
            status: filter.status.map(Into::into),
        };
        let q = svc::training_query(&*super::viewer_scope(ctx, viewer).await?, filter);
        let (rows, has_next) = svc::list_trainings(&state.db, &q, page.first, page.after.as_ref()).await?;
        // Her registrations for the page, when the query shows them: one statement, at once.
        if !rows.is_empty() && nodes_select(ctx, "myRegistration") {
            let ids: Vec<Uuid> = rows.iter().map(|t| t.id).collect();
            let mut found = svc::registrations_of(&state.db, viewer.person_id, &ids).await?;
            let ahead = ids.into_iter().map(|id| ((viewer.person_id, id), found.remove(&id)));
            ctx.loaders()?.registrations_ahead.put(ahead);
        }
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            TrainingListFields(q),
            |t| TrainingCursor { starts_at: t.starts_at, id: t.id },
            Training,
        ))
    }

    /// The caller's registrations, newest first (at most 100).
    async fn my_training_registrations(&self, ctx: &Context<'_>) -> Result<Vec<TrainingRegistration>> {
        let viewer = ctx.auth()?.require()?;
        Ok(svc::my_registrations(&ctx.state()?.db, viewer)
            .await?
            .into_iter()
            .map(TrainingRegistration)
            .collect())
    }

    /// Training statistics of a unit in reach (any officer role over it) for the days `from` to
    /// `to` inclusive (Asia/Ho_Chi_Minh), by the start of each training.
    async fn training_statistics(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        from: Date,
        to: Date,
    ) -> Result<TrainingStatisticsReport> {
        let viewer = ctx.auth()?.require()?;
        let unit = GlobalId::decode_as(&unit_id, NodeKind::OrgUnit, "unitId")?;
        Ok(TrainingStatisticsReport(
            svc::training_statistics(ctx.state()?, viewer, unit, from.0, to.0).await?,
        ))
    }
}

#[derive(Default)]
pub struct TrainingMutation;

#[Object]
impl TrainingMutation {
    /// Creates a draft training for a unit's subtree (a `UNIT_OFFICER` at or above the unit, or
    /// a `BRANCH_LEADER` for a branch).
    async fn create_training(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        input: TrainingInputGql,
    ) -> Result<Training> {
        let viewer = ctx.auth()?.require()?;
        let unit = GlobalId::decode_as(&unit_id, NodeKind::OrgUnit, "unitId")?;
        Ok(Training(
            svc::create_training(ctx.state()?, viewer, unit, input.into())
                .await
                .map_err(in_argument("input"))?,
        ))
    }

    /// Edits a draft or published training; registrations are kept. `CONFLICT`
    /// (`CAPACITY_BELOW_CONFIRMED`) when the capacity would go below the confirmed seats; new
    /// seats go to the waitlist in order.
    async fn update_training(&self, ctx: &Context<'_>, id: ID, input: TrainingInputGql) -> Result<Training> {
        let viewer = ctx.auth()?.require()?;
        Ok(Training(
            svc::update_training(ctx.state()?, viewer, training_id(&id, "id")?, input.into())
                .await
                .map_err(in_argument("input"))?,
        ))
    }

    /// Publishes a draft to its audience.
    async fn publish_training(&self, ctx: &Context<'_>, id: ID) -> Result<Training> {
        let viewer = ctx.auth()?.require()?;
        Ok(Training(svc::publish_training(ctx.state()?, viewer, training_id(&id, "id")?).await?))
    }

    /// Cancels a training; everyone registered or waitlisted is notified.
    async fn cancel_training(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Training> {
        let viewer = ctx.auth()?.require()?;
        Ok(Training(svc::cancel_training(ctx.state()?, viewer, training_id(&id, "id")?, &reason).await?))
    }

    /// Closes a training that has started: seats nobody checked in for become `NO_SHOW`.
    async fn complete_training(&self, ctx: &Context<'_>, id: ID) -> Result<Training> {
        let viewer = ctx.auth()?.require()?;
        Ok(Training(svc::complete_training(ctx.state()?, viewer, training_id(&id, "id")?).await?))
    }

    /// Registers the caller: confirmed while seats remain, else waitlisted. Calling again
    /// returns the same registration. `CONFLICT` outside the registration window
    /// (`REGISTRATION_NOT_OPEN`, `REGISTRATION_CLOSED`) or when the training is not published;
    /// `NOT_FOUND` outside its audience.
    async fn register_for_training(
        &self,
        ctx: &Context<'_>,
        training_id: ID,
    ) -> Result<TrainingRegistration> {
        let viewer = ctx.auth()?.require()?;
        let id = self::training_id(&training_id, "trainingId")?;
        Ok(TrainingRegistration(svc::register(ctx.state()?, viewer, id).await?))
    }

    /// Cancels the caller's registration; a freed seat goes to the first waitlisted person.
    async fn cancel_training_registration(
        &self,
        ctx: &Context<'_>,
        training_id: ID,
    ) -> Result<TrainingRegistration> {
        let viewer = ctx.auth()?.require()?;
        let id = self::training_id(&training_id, "trainingId")?;
        Ok(TrainingRegistration(svc::cancel_registration(ctx.state()?, viewer, id).await?))
    }

    /// Checks in the person whose check-in code was scanned (a manager of the training).
    /// `BAD_USER_INPUT` on `token` when it is forged (`INVALID_FORMAT`), expired (`EXPIRED`) or
    /// for another training (`OTHER_TRAINING`); `CONFLICT` (`NOT_CONFIRMED`) without a seat.
    async fn check_in(&self, ctx: &Context<'_>, training_id: ID, token: String) -> Result<CheckInResult> {
        let viewer = ctx.auth()?.require()?;
        if token.len() > 200 {
            return Err(ApiError::bad_input("token", InputProblem::TooLong).into());
        }
        let id = self::training_id(&training_id, "trainingId")?;
        Ok(CheckInResult(svc::check_in(ctx.state()?, viewer, id, &token).await?))
    }

    /// Checks a registration in by hand (a manager of the training).
    async fn check_in_manually(&self, ctx: &Context<'_>, registration_id: ID) -> Result<CheckInResult> {
        let viewer = ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&registration_id, NodeKind::TrainingRegistration, "registrationId")?;
        Ok(CheckInResult(svc::check_in_manually(ctx.state()?, viewer, id).await?))
    }
}
