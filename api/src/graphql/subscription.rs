//! The subscription root (served over `/graphql/ws`).

use async_graphql::{Context, Result, Subscription};
use futures_util::Stream;

use super::ContextExt;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Placeholder until the event bus lands.
    async fn ping(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = bool>> {
        ctx.auth()?.require()?;
        Ok(futures_util::stream::once(async { true }))
    }
}
