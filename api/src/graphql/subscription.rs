//! The subscription root (served over `/graphql/ws`; the token comes in `connection_init`).

use async_graphql::{Context, Enum, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;

use super::ContextExt;
use crate::service::identity::session_revoked_topic;

/// Why a session ended.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionRevokedReason {
    /// Signed out.
    Logout,
    /// The password was changed from another session.
    PasswordChanged,
    /// A refresh token was used twice: the session is presumed stolen.
    RefreshReuse,
}

/// The current session has ended; the app should return to its sign-in screen.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevokedEvent {
    pub reason: SessionRevokedReason,
    pub revoked_at: DateTime<Utc>,
}

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Fires once when the caller's session is revoked (from any device or API instance),
    /// then completes.
    async fn session_revoked(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SessionRevokedEvent> + use<>> {
        let viewer = ctx.auth()?.require()?;
        let events = ctx.state()?.events.subscribe(session_revoked_topic(viewer.session_id));
        Ok(events
            .filter_map(|payload| async move { serde_json::from_value::<SessionRevokedEvent>(payload).ok() })
            .take(1))
    }
}
