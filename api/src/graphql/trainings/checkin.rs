//! Checking people in by code or by hand (see `service::trainings::checkin`).

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::graphql::{
    ContextExt,
    bulk::{self, Outcome},
};
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
    trainings::{self as svc},
};

use super::*;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CheckInMethod", remote = "service::trainings::CheckInMethod")]
pub enum GqlCheckInMethod {
    /// By scanning the member's check-in code.
    Token,
    /// By hand, by an officer.
    Manual,
}

/// A code to show at the door (as a QR code); it expires, so the app asks for a fresh one.
#[derive(SimpleObject)]
pub struct CheckInCode {
    pub(super) code: String,
    pub(super) expires_at: DateTime<Utc>,
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

#[derive(Default)]
pub struct CheckInMutation;

#[Object]
impl CheckInMutation {
    /// Checks in the person whose check-in code was scanned (a manager of the training).
    /// `BAD_USER_INPUT` on `token` when it is forged (`INVALID_FORMAT`), expired (`EXPIRED`) or
    /// for another training (`OTHER_TRAINING`); `CONFLICT` (`NOT_CONFIRMED`) without a seat.
    async fn check_in(&self, ctx: &Context<'_>, training_id: ID, token: String) -> Result<CheckInResult> {
        ctx.auth()?.require()?;
        if token.len() > 200 {
            return Err(ApiError::bad_input("token", InputProblem::TooLong).into());
        }
        let id = self::training_id(&training_id, "trainingId")?;
        Ok(CheckInResult(svc::check_in(ctx.call()?, id, &token).await?))
    }

    /// Checks a registration in by hand (a manager of the training).
    async fn check_in_manually(&self, ctx: &Context<'_>, registration_id: ID) -> Result<CheckInResult> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&registration_id, NodeKind::TrainingRegistration, "registrationId")?;
        Ok(CheckInResult(svc::check_in_manually(ctx.call()?, id).await?))
    }

    /// Checks in many registrations by hand at once (1 to 100), each on its own as
    /// `checkInManually` would: one outcome per id, in order.
    async fn check_in_many_manually(
        &self,
        ctx: &Context<'_>,
        registration_ids: Vec<ID>,
    ) -> Result<Vec<Outcome<CheckInResult>>> {
        let call = ctx.call()?;
        let check_in = |ids: Vec<uuid::Uuid>| async move { svc::check_in_many_manually(call, &ids).await };
        let kind = NodeKind::TrainingRegistration;
        Ok(bulk::run(ctx, registration_ids, kind, "registration_ids", check_in, CheckInResult).await?)
    }
}
