//! The core of the Phụ nữ Thủ đô member platform: the rules of every area, authorisation, the
//! workers, crypto, cache and events, and the database helpers. No web framework and no GraphQL
//! here (the `api` crate is the HTTP and GraphQL surface over it); `cargo tree -p service` shows
//! neither actix nor async-graphql.
//!
//! Layout: the areas (`identity`, `org`, `roles`, `membership`, `trainings`, `campaigns`,
//! `content`, `violence`, `notifications`, `integrations`, `scope`) hold the rules, one module per
//! area (`media` and `push` deliver photos and pushes); every entry point takes one [`Call`]
//! (the state, who is calling, from where) first, checks permission, then does the work, in one
//! transaction when it writes more than one row (helpers that run inside a caller's transaction
//! take that connection instead). `auth` turns a bearer token into a viewer,
//! `authz` holds the policy checks, `domain` the parsed input types, `error` the one error type
//! and its codes, `entities` (a crate of its own) the tables.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod bootstrap;
pub mod bulk;
pub mod cache;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod exports;
pub mod fanout;
pub mod idempotency;
pub mod media;
pub mod metrics;
pub mod push;
pub mod seed;
pub mod sms;
pub mod state;
pub mod suppression;
pub mod worker;

pub mod awards;
pub mod campaigns;
pub mod content;
pub mod identity;
pub mod integrations;
pub mod membership;
pub mod notifications;
pub mod org;
pub mod ratings;
pub mod roles;
pub mod scope;
pub mod trainings;
pub mod violence;

/// Facts about the HTTP request that rules depend on (throttling, session records).
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    /// The client address used for throttling (the peer, or `X-Forwarded-For` when trusted).
    pub client_addr: String,
    pub user_agent: Option<String>,
    /// The language of the request (from `Accept-Language`).
    pub lang: crate::error::Lang,
}

/// The one context a service entry point takes: the shared state, who is calling and the facts
/// of the request. The API layer builds it once per request (`ContextExt::call`); a test or a
/// worker builds it directly. It is `Copy`: pass it by value.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub state: &'a state::AppState,
    pub auth: &'a auth::Auth,
    pub meta: &'a RequestMeta,
}

impl<'a> Call<'a> {
    /// The signed-in caller, or `UNAUTHENTICATED`.
    pub fn viewer(&self) -> Result<&'a auth::Viewer, error::ApiError> {
        self.auth.require()
    }

    /// The signed-in caller even while her second factor is owed (see
    /// [`auth::Auth::require_before_mfa`]).
    pub fn viewer_before_mfa(&self) -> Result<&'a auth::Viewer, error::ApiError> {
        self.auth.require_before_mfa()
    }

    /// The signed-in caller; `None` without credentials, `UNAUTHENTICATED` with credentials
    /// that are no longer valid (see [`auth::Auth::optional`]).
    pub fn optional_viewer(&self) -> Result<Option<&'a auth::Viewer>, error::ApiError> {
        self.auth.optional()
    }

    /// The client calling an entry point that partners may call with `scope`: `Some` for a
    /// client holding it, `FORBIDDEN` (with `requiredScope`) for a client without it, `None`
    /// for anyone else (who is then checked as a person would be). Only entry points open to
    /// partners ask: every other one asks for a viewer, which a client is not.
    pub fn client(
        &self,
        scope: integrations::Scope,
    ) -> Result<Option<&'a integrations::ClientViewer>, error::ApiError> {
        match self.auth {
            auth::Auth::Client(client) => client.require(scope).map(|()| Some(client)),
            _ => Ok(None),
        }
    }
}
