//! Officer actions on memberships: enrolling, suspending, reinstating; leaving (see
//! `service::membership::lifecycle`).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use entities::ids::UnitId;

use crate::graphql::{ContextExt, scalars::Date};
use service::{
    domain::GlobalId,
    membership::{self as svc, Enrolment, EnrolmentOutcome, EnrolmentResult},
};

use super::*;

/// What `enrolMember` did.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum EnrolmentStatus {
    /// The number was new: she is an active member now (`membership`), and claims her record
    /// when she registers with this number.
    Enrolled,
    /// The number belongs to someone the service knows: she was invited, and becomes a member
    /// when she accepts. Nothing about her is told.
    Invited,
}

/// The answer to `enrolMember`: what the officer typed (normalised), and the outcome.
pub struct EnrolMemberPayload(EnrolmentResult);

#[Object]
impl EnrolMemberPayload {
    async fn status(&self) -> EnrolmentStatus {
        match self.0.outcome {
            EnrolmentOutcome::Enrolled(_) => EnrolmentStatus::Enrolled,
            EnrolmentOutcome::Invited => EnrolmentStatus::Invited,
        }
    }

    /// The name as typed.
    async fn full_name(&self) -> &str {
        self.0.full_name.as_str()
    }

    /// The number as typed, in E.164.
    async fn phone(&self) -> &str {
        self.0.phone.as_str()
    }

    /// The birth date as typed.
    async fn birth_date(&self) -> Option<Date> {
        self.0.birth_date.map(Date)
    }

    /// The new membership, when `ENROLLED`.
    async fn membership(&self) -> Option<Membership> {
        match &self.0.outcome {
            EnrolmentOutcome::Enrolled(m) => Some(Membership(m.clone())),
            EnrolmentOutcome::Invited => None,
        }
    }
}

#[derive(InputObject)]
pub struct EnrolMemberInput {
    pub full_name: String,
    pub phone: String,
    pub birth_date: Option<Date>,
    pub branch_id: ID,
}

#[derive(Default)]
pub struct LifecycleMutation;

#[Object]
impl LifecycleMutation {
    /// Leaves the union.
    async fn leave_union(&self, ctx: &Context<'_>, reason: String) -> Result<Membership> {
        ctx.auth()?.require()?;
        Ok(Membership(svc::leave_union(ctx.call()?, &reason).await?))
    }

    /// Suspends an active membership (a member manager over its branch).
    async fn suspend_membership(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Membership> {
        ctx.auth()?.require()?;
        Ok(Membership(svc::set_suspended(ctx.call()?, membership_id(&id)?, true, &reason).await?))
    }

    /// Reinstates a suspended membership.
    async fn reinstate_membership(&self, ctx: &Context<'_>, id: ID, reason: String) -> Result<Membership> {
        ctx.auth()?.require()?;
        Ok(Membership(svc::set_suspended(ctx.call()?, membership_id(&id)?, false, &reason).await?))
    }

    /// Enrols a person directly (a member manager over the branch). A number new to the service
    /// becomes an active member at once, who claims the record when she registers with it; a
    /// number the service knows gets an invitation she accepts or declines. The answer repeats
    /// what was typed, never what is stored. `CONFLICT` `ALREADY_MEMBER` only for a member of a
    /// branch in the caller's reach; `RATE_LIMITED` past the hourly enrolments per officer.
    async fn enrol_member(&self, ctx: &Context<'_>, input: EnrolMemberInput) -> Result<EnrolMemberPayload> {
        ctx.auth()?.require()?;
        let enrolment = Enrolment {
            full_name: input.full_name,
            phone: input.phone,
            birth_date: input.birth_date.map(|d| d.0),
            branch_id: GlobalId::decode_id::<UnitId>(&input.branch_id, "branchId")?,
        };
        Ok(EnrolMemberPayload(svc::enrol_member(ctx.call()?, enrolment).await?))
    }
}
