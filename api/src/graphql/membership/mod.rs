//! GraphQL surface of membership: requests and their decision, the member's own membership and
//! history, officer actions, and the member directory.

use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use entities::ids::{MembershipId, PersonId, UnitId};
use entities::{membership, membership_event, person};

use super::{ContextExt, identity::PersonRef, org::OrgUnit, scalars::Date};
use service::{domain::GlobalId, error::ApiError, membership::MemberStatus};

mod directory;
mod import;
mod invitations;
mod lifecycle;
mod requests;

pub use directory::*;
pub use import::*;
pub use invitations::*;
pub use lifecycle::*;
pub use requests::*;

/// Status of a membership.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipStatus", remote = "service::membership::MemberStatus")]
pub enum GqlMemberStatus {
    Active,
    Suspended,
    Left,
}

/// What happened to a membership.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MembershipEventKind", remote = "service::membership::EventKind")]
pub enum GqlEventKind {
    Joined,
    Enrolled,
    Imported,
    Transferred,
    Suspended,
    Reinstated,
    Left,
}

async fn load_unit(ctx: &Context<'_>, id: Option<UnitId>) -> Result<Option<OrgUnit>> {
    let Some(id) = id else { return Ok(None) };
    Ok(crate::graphql::unit(ctx, id).await?.map(OrgUnit))
}

async fn load_person(ctx: &Context<'_>, id: PersonId) -> Result<person::Model> {
    Ok(ctx.loaders()?.people.load_one(id).await?.ok_or(ApiError::NotFound)?)
}

/// A membership of the union. Visible to the member herself and to member managers (branch
/// leaders, unit officers and admins) over its branch.
pub struct Membership(pub membership::Model);

#[Object]
impl Membership {
    pub async fn id(&self) -> ID {
        GlobalId::of(self.0.id).encode().into()
    }

    /// Citywide unique, e.g. `HN0000123`.
    async fn member_number(&self) -> &str {
        &self.0.member_number
    }

    async fn status(&self) -> GqlMemberStatus {
        self.0.status.into()
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.joined_at
    }

    async fn left_at(&self) -> Option<DateTime<Utc>> {
        self.0.left_at
    }

    async fn branch(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        // Her own active branch is in her scope, with its ancestors: the home screen's lists
        // read it anyway, so it costs no statement of its own (nor does its parent).
        if let Some(viewer) = ctx.auth()?.optional()?
            && viewer.person_id == self.0.person_id
            && self.0.status == MemberStatus::Active
        {
            crate::graphql::viewer_scope(ctx, viewer).await?;
        }
        Ok(load_unit(ctx, Some(self.0.branch_id)).await?.ok_or(ApiError::NotFound)?)
    }

    async fn full_name(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(load_person(ctx, self.0.person_id).await?.full_name)
    }

    /// The member's phone: for herself and member managers only, who alone can see a membership.
    async fn phone(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(load_person(ctx, self.0.person_id).await?.phone)
    }

    async fn birth_date(&self, ctx: &Context<'_>) -> Result<Option<Date>> {
        Ok(load_person(ctx, self.0.person_id).await?.birth_date.map(Date))
    }

    /// She deleted her account: the membership stays (it counts), with no name or number.
    async fn account_deleted(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(load_person(ctx, self.0.person_id).await?.deleted_at.is_some())
    }

    /// Whether the member proved she holds this number (a code sent to it by SMS); `false` for
    /// a record an officer made that nobody has claimed with a code.
    async fn phone_verified(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(load_person(ctx, self.0.person_id).await?.phone_verified_at.is_some())
    }

    /// The member's awards, newest decision first (her own, and her member managers').
    async fn awards(&self, ctx: &Context<'_>) -> Result<Vec<crate::graphql::awards::Award>> {
        crate::graphql::awards::person_awards(ctx, self.0.person_id).await
    }

    /// Every change, oldest first.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<MembershipEvent>> {
        let events = ctx.loaders()?.membership_events.load_one(self.0.id).await?.unwrap_or_default();
        Ok(events.into_iter().map(MembershipEvent).collect())
    }
}

/// One change of a membership: who, when, from → to.
pub struct MembershipEvent(pub membership_event::Model);

#[Object]
impl MembershipEvent {
    async fn kind(&self) -> GqlEventKind {
        self.0.kind.into()
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    #[allow(clippy::wrong_self_convention)] // a GraphQL field named fromBranch, not a conversion
    async fn from_branch(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        load_unit(ctx, self.0.from_branch_id).await
    }

    async fn to_branch(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        load_unit(ctx, self.0.to_branch_id).await
    }

    #[allow(clippy::wrong_self_convention)] // a GraphQL field, not a conversion
    async fn from_status(&self) -> Option<GqlMemberStatus> {
        self.0.from_status.map(Into::into)
    }

    async fn to_status(&self) -> Option<GqlMemberStatus> {
        self.0.to_status.map(Into::into)
    }

    /// The officer who acted; null when the member acted herself.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        Ok(Some(PersonRef(load_person(ctx, id).await?)))
    }

    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
}

fn unit_arg(id: Option<ID>, field: &'static str) -> Result<Option<UnitId>, ApiError> {
    id.map(|u| GlobalId::decode_id::<UnitId>(&u, field)).transpose()
}

fn membership_id(id: &ID) -> Result<MembershipId, ApiError> {
    GlobalId::decode_id::<MembershipId>(id, "id")
}

/// The membership queries, one part per file.
#[derive(async_graphql::MergedObject, Default)]
pub struct MembershipQuery(requests::RequestsQuery, invitations::InvitationsQuery, directory::DirectoryQuery);

/// The membership mutations, one part per file.
#[derive(async_graphql::MergedObject, Default)]
pub struct MembershipMutation(
    requests::RequestsMutation,
    lifecycle::LifecycleMutation,
    invitations::InvitationsMutation,
    import::ImportMutation,
);
