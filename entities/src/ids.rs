//! Typed ids of the main records. A person's id is a [`PersonId`], a unit's a [`UnitId`]: a
//! function that takes both (`authz::roles_over(conn, person, unit)`) cannot be called with the
//! two swapped, and a column that references a record carries that record's id type.
//!
//! Each is a UUID underneath (stored as one, encoded the same in global ids and tokens); it is
//! built from a bare [`Uuid`] only where one crosses a boundary — a decoded global id, a token's
//! subject, a row of hand-written SQL — by naming the type: `PersonId(uuid)`. The ids of the
//! other records (sessions, notifications, pledges, posts, events, …) are plain UUIDs: nothing
//! passes two of them side by side.

use uuid::Uuid;

/// A typed record id: a UUID that only its record's columns and functions take.
macro_rules! record_id {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            sea_orm::DeriveValueType, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id (UUIDv7: ordered by creation, which keeps index inserts local).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID underneath (for a global id, a token or hand-written SQL).
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        /// Never a generated key (the derive of a primary key asks for it).
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

record_id! {
    /// A person (`person.id`): a member, an officer, a reporter.
    PersonId;
    /// A unit of the tree (`org_unit.id`): the city, a district, a ward, a branch.
    UnitId;
    /// A membership (`membership.id`).
    MembershipId;
    /// A training (`training.id`).
    TrainingId;
    /// A campaign (`campaign.id`).
    CampaignId;
    /// A domestic-violence report (`violence_report.id`).
    ReportId;
    /// An integration client, a partner system (`integration_client.id`; its OAuth `client_id`).
    ClientId;
}
