//! Opaque Relay global ids: `base64url("<Type>:<uuid>")`. Clients must treat them as opaque; the
//! type prefix lets `node(id:)` dispatch and lets every argument refuse an id of the wrong type.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entities::ids::{CampaignId, ClientId, MembershipId, PersonId, ReportId, TrainingId, UnitId};
use uuid::Uuid;

use crate::error::{ApiError, InputProblem};

/// The object types that implement `Node`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    OrgUnit,
    Person,
    OfficerRole,
    Membership,
    MembershipRequest,
    MembershipInvitation,
    Notification,
    Training,
    TrainingRegistration,
    Campaign,
    Pledge,
    Indicator,
    Post,
    ViolenceReport,
    /// A sign-in session (one of her devices).
    Session,
    /// A consent she gave (read through `myConsents`).
    Consent,
    /// An integration client (read through `integrationClient`).
    IntegrationClient,
    /// A secret of an integration client.
    IntegrationSecret,
    /// A trusted document of an integration client.
    TrustedDocument,
    /// A webhook subscription of an integration client.
    WebhookSubscription,
    /// One event to post to one webhook subscription.
    WebhookDelivery,
    /// An uploaded photo.
    Photo,
    /// A comment (or a reply) on a post, a campaign or a story.
    Comment,
    /// A member's story.
    Story,
    /// An item in the moderators' queue (or an appeal).
    ModerationCase,
    /// A unit's rating for a year.
    UnitRating,
    /// A kind of award a unit grants.
    AwardKind,
    /// A unit or person proposed for an award (an award once approved).
    AwardNomination,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::OrgUnit => "OrgUnit",
            NodeKind::Person => "Person",
            NodeKind::OfficerRole => "OfficerRole",
            NodeKind::Membership => "Membership",
            NodeKind::MembershipRequest => "MembershipRequest",
            NodeKind::MembershipInvitation => "MembershipInvitation",
            NodeKind::Notification => "Notification",
            NodeKind::Photo => "Photo",
            NodeKind::Comment => "Comment",
            NodeKind::Story => "Story",
            NodeKind::ModerationCase => "ModerationCase",
            NodeKind::UnitRating => "UnitRating",
            NodeKind::AwardKind => "AwardKind",
            NodeKind::AwardNomination => "AwardNomination",
            NodeKind::Training => "Training",
            NodeKind::TrainingRegistration => "TrainingRegistration",
            NodeKind::Campaign => "Campaign",
            NodeKind::Pledge => "Pledge",
            NodeKind::Indicator => "Indicator",
            NodeKind::Post => "Post",
            NodeKind::ViolenceReport => "ViolenceReport",
            NodeKind::Session => "Session",
            NodeKind::Consent => "Consent",
            NodeKind::IntegrationClient => "IntegrationClient",
            NodeKind::IntegrationSecret => "IntegrationSecret",
            NodeKind::TrustedDocument => "TrustedDocument",
            NodeKind::WebhookSubscription => "WebhookSubscription",
            NodeKind::WebhookDelivery => "WebhookDelivery",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            NodeKind::OrgUnit,
            NodeKind::Person,
            NodeKind::OfficerRole,
            NodeKind::Membership,
            NodeKind::MembershipRequest,
            NodeKind::MembershipInvitation,
            NodeKind::Notification,
            NodeKind::Training,
            NodeKind::TrainingRegistration,
            NodeKind::Campaign,
            NodeKind::Pledge,
            NodeKind::Indicator,
            NodeKind::Post,
            NodeKind::ViolenceReport,
            NodeKind::Session,
            NodeKind::Consent,
            NodeKind::IntegrationClient,
            NodeKind::IntegrationSecret,
            NodeKind::TrustedDocument,
            NodeKind::WebhookSubscription,
            NodeKind::WebhookDelivery,
            NodeKind::Photo,
            NodeKind::Comment,
            NodeKind::Story,
            NodeKind::ModerationCase,
            NodeKind::UnitRating,
            NodeKind::AwardKind,
            NodeKind::AwardNomination,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

/// A typed record id (see `entities::ids`) and the node type its global id names.
pub trait NodeId: Copy + Into<Uuid> {
    const KIND: NodeKind;
    fn from_uuid(id: Uuid) -> Self;
}

macro_rules! node_ids {
    ($($id:ident => $kind:ident),+ $(,)?) => {$(
        impl NodeId for $id {
            const KIND: NodeKind = NodeKind::$kind;
            fn from_uuid(id: Uuid) -> Self {
                $id(id)
            }
        }
    )+};
}

node_ids! {
    UnitId => OrgUnit,
    PersonId => Person,
    MembershipId => Membership,
    TrainingId => Training,
    CampaignId => Campaign,
    ReportId => ViolenceReport,
    ClientId => IntegrationClient,
}

/// A decoded global id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub id: Uuid,
}

impl GlobalId {
    /// `id` is a typed record id or a bare UUID.
    pub fn new(kind: NodeKind, id: impl Into<Uuid>) -> Self {
        Self { kind, id: id.into() }
    }

    pub fn encode(self) -> String {
        // Written on the stack, encoded into the one string returned (a page encodes hundreds).
        let name = self.kind.name().as_bytes();
        let mut raw = [0u8; 64];
        raw[..name.len()].copy_from_slice(name);
        raw[name.len()] = b':';
        let uuid_len = self.id.hyphenated().encode_lower(&mut raw[name.len() + 1..]).len();
        URL_SAFE_NO_PAD.encode(&raw[..name.len() + 1 + uuid_len])
    }

    /// Decodes any global id; `field` names the argument in the error.
    pub fn decode(raw: &str, field: &'static str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_input(field, InputProblem::InvalidId);
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim().as_bytes()).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (kind, id) = text.split_once(':').ok_or_else(bad)?;
        Ok(Self {
            kind: NodeKind::from_name(kind).ok_or_else(bad)?,
            id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }

    /// The global id of a typed record id.
    pub fn of<T: NodeId>(id: T) -> Self {
        Self::new(T::KIND, id)
    }

    /// Decodes the global id of a typed record: `BAD_USER_INPUT` on `field` when it is not
    /// one, or one of another type.
    pub fn decode_id<T: NodeId>(raw: &str, field: &'static str) -> Result<T, ApiError> {
        Self::decode_as(raw, T::KIND, field).map(T::from_uuid)
    }

    /// Decodes a global id that must be of `kind`.
    pub fn decode_as(raw: &str, kind: NodeKind, field: &'static str) -> Result<Uuid, ApiError> {
        let gid = Self::decode(raw, field)?;
        if gid.kind != kind {
            return Err(ApiError::bad_input(field, InputProblem::InvalidId));
        }
        Ok(gid.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_wrong_types() {
        let id = Uuid::now_v7();
        let raw = GlobalId::new(NodeKind::OrgUnit, id).encode();
        assert_eq!(GlobalId::decode_as(&raw, NodeKind::OrgUnit, "id").unwrap(), id);
        assert!(GlobalId::decode_as(&raw, NodeKind::Person, "id").is_err());
        assert!(GlobalId::decode("not-an-id", "id").is_err());
        assert!(GlobalId::decode(&URL_SAFE_NO_PAD.encode("Secret:1"), "id").is_err());
    }
}
