//! The Relay `Node` interface and `node(id:)`. Each type answers with the same rules as its own
//! query: units are public, a person is visible to herself, a role to its holder and to admins
//! over its unit, a notification to its owner, a membership or request to the member and to
//! member managers over its branch, a training to its audience and officers over its unit, a
//! training registration to its person and the training's managers, a campaign to those its
//! list shows it to, a pledge to its person and the member managers over its branch, a post to
//! its managers and (while published) to people whose feed includes its unit, an indicator to
//! officers (a reported one to those at, above or below the unit that defined it), a session to
//! its owner while it lasts, a unit's rating to the officers over the unit, a kind of award to
//! officers at, above or below its unit, a nomination to officers over the unit that made it
//! (and to its awardee once approved); anything
//! else is `NOT_FOUND`.

use async_graphql::{Context, ID, Interface, Object, Result};
use entities::ids::{CampaignId, MembershipId, PersonId, TrainingId, UnitId};

use super::{
    ContextExt,
    campaigns::{campaign::Campaign, news::Post, pledges::Pledge, targets::Indicator},
    identity::{Person, Session},
    membership::{Membership, MembershipInvitation, MembershipRequest},
    notifications::Notification,
    org::{OfficerRole, OrgUnit},
    trainings::{Training, TrainingRegistration},
};
use service::{
    domain::{GlobalId, NodeKind},
    error::ApiError,
    {
        campaigns::{self, news, targets},
        identity, membership, notifications, org, roles, trainings,
    },
};

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    OrgUnit(OrgUnit),
    Person(Person),
    OfficerRole(OfficerRole),
    Notification(Notification),
    Membership(Membership),
    MembershipRequest(MembershipRequest),
    MembershipInvitation(MembershipInvitation),
    Training(Training),
    TrainingRegistration(TrainingRegistration),
    Post(Post),
    Indicator(Indicator),
    Campaign(Campaign),
    Pledge(Pledge),
    Session(Session),
    Comment(super::content::Comment),
    Story(super::content::Story),
    ModerationCase(super::moderation::ModerationCase),
    UnitRating(super::ratings::UnitRating),
    AwardKind(super::awards::AwardKind),
    AwardNomination(super::awards::AwardNomination),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Node> {
        let gid = GlobalId::decode(&id, "id")?;
        let state = ctx.state()?;
        Ok(match gid.kind {
            NodeKind::OrgUnit => Node::OrgUnit(OrgUnit(org::get_unit(&state.db, UnitId(gid.id)).await?)),
            NodeKind::Person => {
                let viewer = ctx.auth()?.require()?;
                if viewer.person_id != PersonId(gid.id) {
                    return Err(ApiError::NotFound.into());
                }
                Node::Person(Person(identity::me(ctx.call()?).await?))
            }
            NodeKind::Membership => {
                ctx.auth()?.require()?;
                Node::Membership(Membership(
                    membership::get_membership(ctx.call()?, MembershipId(gid.id)).await?,
                ))
            }
            NodeKind::MembershipRequest => {
                ctx.auth()?.require()?;
                Node::MembershipRequest(MembershipRequest(
                    membership::get_request(ctx.call()?, gid.id).await?,
                ))
            }
            NodeKind::MembershipInvitation => {
                ctx.auth()?.require()?;
                Node::MembershipInvitation(MembershipInvitation(
                    membership::get_invitation(ctx.call()?, gid.id).await?,
                ))
            }
            NodeKind::OfficerRole => {
                ctx.auth()?.require()?;
                Node::OfficerRole(OfficerRole(roles::get_role(ctx.call()?, gid.id).await?))
            }
            NodeKind::Notification => {
                ctx.auth()?.require()?;
                Node::Notification(Notification(notifications::get(ctx.call()?, gid.id).await?))
            }
            NodeKind::Training => {
                ctx.auth()?.require()?;
                Node::Training(Training(trainings::get_training(ctx.call()?, TrainingId(gid.id)).await?))
            }
            NodeKind::TrainingRegistration => {
                ctx.auth()?.require()?;
                Node::TrainingRegistration(TrainingRegistration(
                    trainings::get_registration(ctx.call()?, gid.id).await?,
                ))
            }
            // A report opens only through `violenceReport`, whose every read is logged; a consent
            // is read in `myConsents`, an integration client through `integrationClient`, a photo
            // through the record it belongs to.
            NodeKind::ViolenceReport
            | NodeKind::Photo
            | NodeKind::Consent
            | NodeKind::IntegrationClient
            | NodeKind::IntegrationSecret
            | NodeKind::TrustedDocument
            | NodeKind::WebhookSubscription
            | NodeKind::WebhookDelivery => return Err(ApiError::NotFound.into()),
            NodeKind::Story => {
                ctx.auth()?.require()?;
                Node::Story(super::content::Story(service::content::stories::get(ctx.call()?, gid.id).await?))
            }
            NodeKind::ModerationCase => {
                ctx.auth()?.require()?;
                let row = service::content::moderation::get(ctx.call()?, gid.id).await?;
                Node::ModerationCase(super::moderation::ModerationCase::load(ctx, row).await?)
            }
            NodeKind::UnitRating => {
                ctx.auth()?.require()?;
                let row = service::ratings::get(ctx.call()?, gid.id).await?;
                Node::UnitRating(super::ratings::UnitRating::load(ctx, row).await?)
            }
            NodeKind::AwardKind => {
                ctx.auth()?.require()?;
                Node::AwardKind(super::awards::AwardKind(
                    service::awards::get_kind(ctx.call()?, gid.id).await?,
                ))
            }
            NodeKind::AwardNomination => {
                ctx.auth()?.require()?;
                Node::AwardNomination(super::awards::AwardNomination(
                    service::awards::get(ctx.call()?, gid.id).await?,
                ))
            }
            NodeKind::Comment => {
                ctx.auth()?.require()?;
                Node::Comment(super::content::Comment(
                    service::content::comments::get(ctx.call()?, gid.id).await?,
                ))
            }
            NodeKind::Post => {
                ctx.auth()?.require()?;
                Node::Post(Post(news::get_post(ctx.call()?, gid.id).await?))
            }
            NodeKind::Indicator => {
                ctx.auth()?.require()?;
                Node::Indicator(Indicator(targets::get_indicator(ctx.call()?, gid.id).await?))
            }
            NodeKind::Campaign => {
                ctx.auth()?.require()?;
                Node::Campaign(Campaign(
                    campaigns::campaign::get_campaign(ctx.call()?, CampaignId(gid.id)).await?,
                ))
            }
            NodeKind::Session => {
                let viewer = ctx.auth()?.require()?;
                let session = identity::sessions::get_session(ctx.call()?, gid.id).await?;
                Node::Session(Session { current: session.id == viewer.session_id, session })
            }
            NodeKind::Pledge => {
                ctx.auth()?.require()?;
                Node::Pledge(Pledge(campaigns::pledges::get_pledge(ctx.call()?, gid.id).await?))
            }
        })
    }
}
