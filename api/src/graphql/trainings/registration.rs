//! Registrations, waitlists and rosters (see `service::trainings::registration`).

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entities::ids::TrainingId;
use entities::training_registration;

use crate::graphql::ContextExt;
use service::{
    domain::{GlobalId, NodeKind},
    error::ApiError,
    trainings::{self as svc, RegistrationStatus, RosterFilter},
};

use super::*;

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

/// Extra fields of a roster.
pub struct RosterFields {
    pub(super) training_id: TrainingId,
    pub(super) filter: RosterFilter,
}

#[Object]
impl RosterFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::roster_count(&ctx.state()?.db, self.training_id, &self.filter).await?)
    }
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

    async fn status(&self) -> GqlRegistrationStatus {
        self.0.status.into()
    }

    /// Arrival number within the training (the roster's order).
    async fn arrival_number(&self) -> i64 {
        self.0.queue_no
    }

    /// 1 for the first in line; null unless waitlisted.
    async fn waitlist_position(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        if self.0.status != RegistrationStatus::Waitlisted {
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

    async fn check_in_method(&self) -> Option<GqlCheckInMethod> {
        self.0.check_in_method.map(Into::into)
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

#[derive(Default)]
pub struct RegistrationQuery;

#[Object]
impl RegistrationQuery {
    /// The caller's registrations, newest first (at most 100).
    async fn my_training_registrations(&self, ctx: &Context<'_>) -> Result<Vec<TrainingRegistration>> {
        ctx.auth()?.require()?;
        Ok(svc::my_registrations(ctx.call()?).await?.into_iter().map(TrainingRegistration).collect())
    }
}

#[derive(Default)]
pub struct RegistrationMutation;

#[Object]
impl RegistrationMutation {
    /// Registers the caller: confirmed while seats remain, else waitlisted. Calling again
    /// returns the same registration. `CONFLICT` outside the registration window
    /// (`REGISTRATION_NOT_OPEN`, `REGISTRATION_CLOSED`) or when the training is not published;
    /// `NOT_FOUND` outside its audience.
    async fn register_for_training(
        &self,
        ctx: &Context<'_>,
        training_id: ID,
    ) -> Result<TrainingRegistration> {
        ctx.auth()?.require()?;
        let id = self::training_id(&training_id, "trainingId")?;
        Ok(TrainingRegistration(svc::register(ctx.call()?, id).await?))
    }

    /// Cancels the caller's registration; a freed seat goes to the first waitlisted person.
    async fn cancel_training_registration(
        &self,
        ctx: &Context<'_>,
        training_id: ID,
    ) -> Result<TrainingRegistration> {
        ctx.auth()?.require()?;
        let id = self::training_id(&training_id, "trainingId")?;
        Ok(TrainingRegistration(svc::cancel_registration(ctx.call()?, id).await?))
    }
}
