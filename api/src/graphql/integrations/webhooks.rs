//! Webhook subscriptions of integration clients, as the admins who manage a client see them:
//! subscribe a URL to event types (the signing secret appears only in that answer), disable,
//! enable, delete, read each delivery's attempts and replay one.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};
use entities::{ids::ClientId, webhook_delivery as wd, webhook_event as we, webhook_subscription as ws};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::graphql::{
    ContextExt,
    connection::{build, page},
    errors::in_argument,
    identity::PersonRef,
};
use service::{
    domain::{GlobalId, NodeKind},
    integrations::webhooks::{self as svc, EventType},
};

/// What a subscription may be told about; each needs the client to hold the scope that reads
/// its subject.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "WebhookEventType", remote = "service::integrations::webhooks::EventType")]
pub enum GqlEventType {
    /// `campaign.launched` (`campaigns:read`).
    CampaignLaunched,
    /// `campaign.ended` (`campaigns:read`).
    CampaignEnded,
    /// `training.published`: a training for members (`trainings:read`).
    TrainingPublished,
    /// `training.cancelled`: a published training for members (`trainings:read`).
    TrainingCancelled,
    /// `post.published`: a post published or put back (`news:read`).
    PostPublished,
    /// `target.progress_changed`: a target set or a reported value reported
    /// (`statistics:read`).
    TargetProgressChanged,
}

/// Whether a subscription receives events.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "WebhookSubscriptionStatus", remote = "service::integrations::webhooks::SubscriptionStatus")]
pub enum GqlSubscriptionStatus {
    Active,
    /// Nothing is queued for it; what was queued waits until it is enabled.
    Disabled,
}

/// Why a subscription was disabled.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "WebhookDisabledReason", remote = "service::integrations::webhooks::DisabledReason")]
pub enum GqlDisabledReason {
    /// `APP_WEBHOOK_DISABLE_AFTER_FAILURES` failed attempts in a row.
    Failing,
    /// The receiver answered 410 Gone.
    Gone,
    /// An admin disabled it.
    ByAdmin,
}

/// Where a delivery stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "WebhookDeliveryStatus", remote = "service::integrations::webhooks::DeliveryStatus")]
pub enum GqlDeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Gave up after its last attempt (`APP_WEBHOOK_MAX_ATTEMPTS`, or 410 Gone).
    Failed,
}

/// A URL of an integration client told about events of its subtree.
pub struct WebhookSubscription(pub ws::Model);

#[Object]
impl WebhookSubscription {
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::WebhookSubscription, self.0.id).encode().into()
    }

    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn event_types(&self) -> Vec<GqlEventType> {
        svc::event_types(&self.0).into_iter().map(GqlEventType::from).collect()
    }

    async fn status(&self) -> GqlSubscriptionStatus {
        self.0.status.into()
    }

    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at
    }

    async fn disabled_reason(&self) -> Option<GqlDisabledReason> {
        self.0.disabled_reason.map(Into::into)
    }

    /// Failed attempts since the last delivered one.
    async fn consecutive_failures(&self) -> i32 {
        self.0.failures
    }

    async fn last_success_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_success_at
    }

    async fn last_failure_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_failure_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, Some(self.0.created_by)).await
    }

    /// Its deliveries, the newest first, optionally of one status.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        status: Option<GqlDeliveryStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookDelivery>> {
        let page = page::<DeliveryCursor>(first, after.as_deref())?;
        let (rows, has_next) = svc::deliveries_of(
            ctx.call()?,
            self.0.id,
            status.map(Into::into),
            page.first,
            page.after.as_ref().map(|c| (c.at, c.id)),
        )
        .await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |(d, _)| DeliveryCursor { at: d.created_at, id: d.id },
            |(d, e)| WebhookDelivery(d, e),
        ))
    }
}

/// One event posted (or to be posted) to one subscription.
pub struct WebhookDelivery(pub wd::Model, pub we::Model);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::WebhookDelivery, self.0.id).encode().into()
    }

    /// The event's id: the `webhook-id` header of every attempt, replays included.
    async fn event_id(&self) -> String {
        self.1.id.to_string()
    }

    async fn event_type(&self) -> Option<GqlEventType> {
        EventType::parse(&self.1.event_type).map(Into::into)
    }

    /// The body posted (JSON: `type`, `timestamp`, `data`).
    async fn body(&self) -> &str {
        &self.1.payload
    }

    async fn occurred_at(&self) -> DateTime<Utc> {
        self.1.occurred_at
    }

    async fn status(&self) -> GqlDeliveryStatus {
        self.0.status.into()
    }

    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When the next attempt is due (while `PENDING`).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == svc::DeliveryStatus::Pending).then_some(self.0.next_attempt_at)
    }

    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at
    }

    /// The HTTP status the receiver last answered; none when it did not answer.
    async fn last_response_status(&self) -> Option<i32> {
        self.0.last_status
    }

    /// What went wrong last, a code: `HTTP_STATUS` (see `lastResponseStatus`), `TIMEOUT`,
    /// `CONNECTION_FAILED`, `REQUEST_FAILED`, `TARGET_NOT_ALLOWED` (the URL is no longer allowed
    /// as written), `TARGET_NOT_PUBLIC` (its name resolves to an address that is not public),
    /// `SECRET_UNAVAILABLE` (the key that sealed its secret is not configured).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

/// Position in a delivery list (the newest first).
#[derive(Serialize, Deserialize)]
struct DeliveryCursor {
    at: DateTime<Utc>,
    id: Uuid,
}

#[derive(InputObject)]
pub struct CreateWebhookSubscriptionInput {
    pub client_id: ID,
    /// Where to post: `https://` at a public address (`http://` and private addresses only
    /// where `APP_WEBHOOK_ALLOW_PRIVATE_TARGETS` is on, never in production).
    pub url: String,
    pub event_types: Vec<GqlEventType>,
}

/// A subscription just made, with its signing secret.
#[derive(SimpleObject)]
pub struct CreatedWebhookSubscription {
    subscription: WebhookSubscription,
    /// The signing secret (`whsec_…`): shown this once. Give it to the partner with the URL.
    secret: String,
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Subscribes a client's URL to event types of its subtree (its managers, from a stepped-up
    /// session). `BAD_USER_INPUT` `NOT_PUBLIC_TARGET` for a URL that is not `https://` at a
    /// public address, `SCOPE_NOT_GRANTED` for an event type the client's scopes do not read;
    /// `CONFLICT` `TOO_MANY_WEBHOOKS` beyond ten.
    async fn create_webhook_subscription(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookSubscriptionInput,
    ) -> Result<CreatedWebhookSubscription> {
        let client_id = GlobalId::decode_id::<ClientId>(&input.client_id, "input.clientId")?;
        let new = svc::NewSubscription {
            client_id,
            url: input.url,
            event_types: input.event_types.into_iter().map(EventType::from).collect(),
        };
        let created = svc::create_subscription(ctx.call()?, new).await.map_err(in_argument("input"))?;
        Ok(CreatedWebhookSubscription {
            subscription: WebhookSubscription(created.row),
            secret: created.secret.expose_secret().to_owned(),
        })
    }

    /// Stops a subscription: nothing more is queued for it; what is queued waits.
    async fn disable_webhook_subscription(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookSubscription> {
        let id: Uuid = GlobalId::decode_as(&id, NodeKind::WebhookSubscription, "id")?;
        Ok(WebhookSubscription(svc::set_enabled(ctx.call()?, id, false).await?))
    }

    /// Starts a disabled subscription again: its count of failures starts over and what waited
    /// goes out (replay the deliveries that failed meanwhile with `replayWebhookDelivery`).
    async fn enable_webhook_subscription(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookSubscription> {
        let id: Uuid = GlobalId::decode_as(&id, NodeKind::WebhookSubscription, "id")?;
        Ok(WebhookSubscription(svc::set_enabled(ctx.call()?, id, true).await?))
    }

    /// Deletes a subscription and its deliveries.
    async fn delete_webhook_subscription(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookSubscription> {
        let id: Uuid = GlobalId::decode_as(&id, NodeKind::WebhookSubscription, "id")?;
        Ok(WebhookSubscription(svc::delete_subscription(ctx.call()?, id).await?))
    }

    /// Sends a delivered or failed delivery again, at once, with the same event id and a fresh
    /// count of attempts. `CONFLICT` `WRONG_STATUS` while it is pending or its subscription is
    /// disabled.
    async fn replay_webhook_delivery(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookDelivery> {
        let id: Uuid = GlobalId::decode_as(&id, NodeKind::WebhookDelivery, "id")?;
        let (d, e) = svc::replay_delivery(ctx.call()?, id).await?;
        Ok(WebhookDelivery(d, e))
    }
}
