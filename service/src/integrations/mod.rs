//! Partner integrations: the systems of city departments, partner programmes and dashboards
//! that read public data and aggregates of one unit's subtree with credentials of their own.
//!
//! - [`clients`]: a system administrator (or a `UNIT_ADMIN` at the root) registers a client —
//!   its subtree, its scopes, an optional expiry — and manages its secrets (shown once, stored
//!   as SHA-256, at most two live so it rotates without downtime); every change is recorded.
//! - [`calls`]: the log of every client call (what, cost, outcome), with per-client totals.
//! - [`documents`]: the trusted documents (persisted queries) registered for a client.
//! - [`statistics`]: the public statistics partners read — member and training figures of a
//!   month, progress towards targets — small counts suppressed.
//! - [`token`]: the OAuth 2.0 client-credentials grant behind `POST /oauth/token`, throttled
//!   like logins, issuing access tokens of their own type (see `auth`).
//!
//! A client is never a person: every service entry point that asks for a viewer refuses it
//! (`FORBIDDEN`, see [`crate::Call::viewer`]), so a client reaches only the entry points that
//! ask [`crate::Call::client`] with the scope they need — deny by default. Those answer public
//! fields of its subtree only ([`require_within`]); no personal data, nothing about violence,
//! no mutation. The API layer adds a second, independent gate: a client's document may select
//! only the fields its scopes open (`api::graphql::integrations::surface`).

pub mod calls;
pub mod clients;
pub mod documents;
pub mod statistics;
pub mod token;
pub mod webhooks;

use entities::ids::{ClientId, UnitId};
use uuid::Uuid;

use crate::error::ApiError;

/// What a client token lets its holder read. Each is read-only and limited to the client's
/// subtree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// The unit tree: names, codes, kinds, parents and children.
    UnitsRead,
    /// Campaigns that are running or ended: their public fields.
    CampaignsRead,
    /// Published trainings and their seats left (never who registered).
    TrainingsRead,
    /// Published news posts.
    NewsRead,
    /// Member, training and target aggregates, small counts suppressed.
    StatisticsRead,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::UnitsRead,
        Scope::CampaignsRead,
        Scope::TrainingsRead,
        Scope::NewsRead,
        Scope::StatisticsRead,
    ];

    /// The OAuth scope token, e.g. `units:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::UnitsRead => "units:read",
            Scope::CampaignsRead => "campaigns:read",
            Scope::TrainingsRead => "trainings:read",
            Scope::NewsRead => "news:read",
            Scope::StatisticsRead => "statistics:read",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u8);

impl ScopeSet {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every scope of `other` is in this set.
    pub fn covers(self, other: ScopeSet) -> bool {
        other.0 & !self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |&s| self.contains(s))
    }

    /// A space-separated list of OAuth scope tokens (RFC 6749 §3.3); `None` when one is not a
    /// known scope. Repeated tokens count once.
    pub fn parse(list: &str) -> Option<Self> {
        list.split(' ')
            .filter(|t| !t.is_empty())
            .map(Scope::parse)
            .try_fold(ScopeSet::default(), |set, s| s.map(|s| set.with(s)))
    }

    #[must_use]
    pub fn with(self, scope: Scope) -> Self {
        ScopeSet(self.0 | scope.bit())
    }

    /// The wire form: the scope tokens in a fixed order, space-separated.
    pub fn to_oauth(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(ScopeSet::default(), ScopeSet::with)
    }
}

/// The caller of a request made with a client's access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientViewer {
    pub client_id: ClientId,
    /// The secret the token was issued against (revoking it ends the token).
    pub secret_id: Uuid,
    /// The root of the subtree it may read.
    pub unit_id: UnitId,
    /// The token's scopes (the client's, or fewer when it asked for fewer).
    pub scopes: ScopeSet,
    /// Its own cost bucket, when it was registered with one.
    pub bucket: Option<crate::config::Bucket>,
    /// It may run only its trusted documents.
    pub trusted_documents_only: bool,
}

impl ClientViewer {
    /// Succeeds when the token carries `scope`; `FORBIDDEN` with `requiredScope` otherwise.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) { Ok(()) } else { Err(ApiError::ScopeRequired(scope)) }
    }
}

/// Succeeds when `unit` lies in the client's subtree; `NOT_FOUND` otherwise (what lies outside
/// is not there for it).
pub async fn require_within(
    conn: &impl sea_orm::ConnectionTrait,
    client: &ClientViewer,
    unit: UnitId,
) -> Result<(), ApiError> {
    use entities::org_unit_closure as c;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let inside = c::Entity::find()
        .filter(c::Column::AncestorId.eq(client.unit_id))
        .filter(c::Column::DescendantId.eq(unit))
        .count(conn)
        .await?;
    if inside == 0 { Err(ApiError::NotFound) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_lists_parse_in_any_order_and_print_in_one() {
        let set = ScopeSet::parse("statistics:read  units:read units:read").unwrap();
        assert_eq!(set.to_oauth(), "units:read statistics:read");
        assert!(set.contains(Scope::UnitsRead) && !set.contains(Scope::NewsRead));
        assert!(ScopeSet::parse("units:read members:read").is_none());
        assert!(ScopeSet::parse("").unwrap().is_empty());
        assert!(set.covers(ScopeSet::parse("units:read").unwrap()));
        assert!(!set.covers(ScopeSet::parse("news:read").unwrap()));
    }
}
