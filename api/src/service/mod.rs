//! The rules of each domain area. Every function takes the caller and the state, checks
//! permission first, then does the work, in one transaction when it writes more than one row.

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
