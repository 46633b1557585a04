//! The core of the Phụ nữ Thủ đô member platform: the rules of every area, authorisation, the
//! workers, crypto, cache and events, and the database helpers. No web framework and no GraphQL
//! here (the `api` crate is the HTTP and GraphQL surface over it); `cargo tree -p service` shows
//! neither actix nor async-graphql.
//!
//! Layout: the areas (`identity`, `org`, `roles`, `membership`, `trainings`, `campaigns`,
//! `violence`, `notifications`, `scope`) hold the rules, one module per area; every function
//! takes the state and the caller, checks permission first, then does the work, in one
//! transaction when it writes more than one row. `auth` turns a bearer token into a viewer,
//! `authz` holds the policy checks, `domain` the parsed input types, `error` the one error type
//! and its codes, `entities` (a crate of its own) the tables.

pub mod auth;
pub mod authz;
pub mod bootstrap;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod fanout;
pub mod push;
pub mod seed;
pub mod state;
pub mod worker;

pub mod campaigns;
pub mod identity;
pub mod membership;
pub mod notifications;
pub mod org;
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
