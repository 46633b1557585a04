//! Invitations to join a branch, for people an officer enrolled (see
//! `service::membership::invitations`).

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entities::membership_invitation;

use crate::graphql::{ContextExt, identity::PersonRef, org::OrgUnit};
use service::{
    domain::{GlobalId, NodeKind},
    error::ApiError,
    membership::{self as svc},
};

use super::*;

/// Status of a membership invitation.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipInvitationStatus", remote = "service::membership::InvitationStatus")]
pub enum GqlInvitationStatus {
    /// Waiting for her answer.
    Pending,
    Accepted,
    Declined,
    /// She became a member otherwise (another invitation accepted, a request approved).
    Cancelled,
    /// Not answered within 30 days.
    Expired,
}

/// An invitation to join a branch, sent when an officer enrolled the caller's phone number.
/// Only she sees it.
pub struct MembershipInvitation(pub membership_invitation::Model);

#[Object]
impl MembershipInvitation {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::MembershipInvitation, self.0.id).encode().into()
    }

    async fn status(&self) -> GqlInvitationStatus {
        svc::invitation_status(&self.0, Utc::now()).into()
    }

    /// The branch she is invited to.
    async fn branch(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(load_unit(ctx, Some(self.0.branch_id)).await?.ok_or(ApiError::NotFound)?)
    }

    /// The officer who sent it.
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<PersonRef> {
        Ok(PersonRef(load_person(ctx, self.0.invited_by).await?))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Past this, it can no longer be accepted.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.responded_at
    }
}

#[derive(Default)]
pub struct InvitationsQuery;

#[Object]
impl InvitationsQuery {
    /// The caller's membership invitations, newest first (at most 50).
    async fn my_membership_invitations(&self, ctx: &Context<'_>) -> Result<Vec<MembershipInvitation>> {
        let viewer = ctx.auth()?.require()?;
        Ok(svc::my_invitations(&ctx.state()?.db, viewer.person_id)
            .await?
            .into_iter()
            .map(MembershipInvitation)
            .collect())
    }
}

#[derive(Default)]
pub struct InvitationsMutation;

#[Object]
impl InvitationsMutation {
    /// Accepts or declines one of the caller's open invitations. Accepting makes her an active
    /// member of the branch, or moves her active membership there. `CONFLICT` `WRONG_STATUS`
    /// when it is no longer open, `ALREADY_MEMBER` when she is a member of that branch.
    async fn respond_to_membership_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        accept: bool,
    ) -> Result<MembershipInvitation> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::MembershipInvitation, "id")?;
        Ok(MembershipInvitation(svc::respond_to_invitation(ctx.call()?, id, accept).await?))
    }
}
