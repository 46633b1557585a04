//! Integration clients as the admins see them (a system administrator, or a `UNIT_ADMIN` at the
//! root): register, list, add and revoke secrets, revoke. A secret's value appears only in the
//! answer of the mutation that makes it.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};
use entities::{
    ids::{ClientId, UnitId},
    integration_call, integration_change, integration_client, integration_secret,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::graphql::{
    ContextExt,
    connection::{build, page},
    errors::in_argument,
    identity::PersonRef,
    org::OrgUnit,
};
use service::{
    domain::{GlobalId, NodeKind},
    integrations::{
        Scope, ScopeSet, calls,
        clients::{self as svc, NewClient},
    },
};

/// What a client token may read; each is read-only and limited to the client's subtree.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "IntegrationScope", remote = "service::integrations::Scope")]
pub enum GqlScope {
    /// `units:read`: the unit tree.
    UnitsRead,
    /// `campaigns:read`: running and ended campaigns, public fields.
    CampaignsRead,
    /// `trainings:read`: published trainings with their seats left, never who registered.
    TrainingsRead,
    /// `news:read`: published posts.
    NewsRead,
    /// `statistics:read`: member, training and target aggregates, small counts suppressed.
    StatisticsRead,
}

/// What was done to a client.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "IntegrationClientAction", remote = "entities::integration_change::ClientChange")]
pub enum GqlChange {
    Registered,
    SecretAdded,
    SecretRevoked,
    Revoked,
    DocumentAdded,
    DocumentRemoved,
    WebhookAdded,
    WebhookDisabled,
    WebhookEnabled,
    WebhookRemoved,
    WebhookReplayed,
}

/// A partner system registered to read one subtree.
pub struct IntegrationClient(pub integration_client::Model);

#[Object]
impl IntegrationClient {
    async fn id(&self) -> ID {
        GlobalId::of(self.0.id).encode().into()
    }

    /// The OAuth `client_id` to send to `POST /oauth/token`.
    async fn client_id(&self) -> String {
        self.0.id.to_string()
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn contact(&self) -> &str {
        &self.0.contact
    }

    /// The root of the subtree it reads.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        Ok(crate::graphql::unit(ctx, self.0.unit_id).await?.map(OrgUnit))
    }

    async fn scopes(&self) -> Vec<GqlScope> {
        ScopeSet::parse(&self.0.scopes).unwrap_or_default().iter().map(Into::into).collect()
    }

    /// After this it gets no token.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, Some(self.0.created_by)).await
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    async fn revoked_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.0.revoked_by).await
    }

    /// When it last got a token.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    /// It may run only its trusted documents.
    async fn trusted_documents_only(&self) -> bool {
        self.0.trusted_documents_only
    }

    /// The documents it may run by their id, the oldest first.
    async fn trusted_documents(&self, ctx: &Context<'_>) -> Result<Vec<TrustedDocument>> {
        let rows = service::integrations::documents::documents_of(&ctx.state()?.db, self.0.id).await?;
        Ok(rows.into_iter().map(TrustedDocument).collect())
    }

    /// Its own cost bucket's capacity (null: the default).
    async fn bucket_capacity(&self) -> Option<i32> {
        self.0.bucket_capacity
    }

    /// Its own bucket's points restored a second (null: the default).
    async fn bucket_per_sec(&self) -> Option<i32> {
        self.0.bucket_per_sec
    }

    /// Its secrets, live and revoked, the oldest first (never their values).
    async fn secrets(&self, ctx: &Context<'_>) -> Result<Vec<IntegrationSecret>> {
        let rows = svc::secrets_of(&ctx.state()?.db, &[self.0.id]).await?;
        Ok(rows.into_iter().map(IntegrationSecret).collect())
    }

    /// Its calls, the newest first: every GraphQL request made with its tokens and every
    /// token issued to it.
    async fn calls(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, IntegrationCall>> {
        let page = page::<CallCursor>(first, after.as_deref())?;
        let (rows, has_next) =
            calls::calls_of(ctx.call()?, self.0.id, page.first, page.after.as_ref().map(|c| (c.at, c.id)))
                .await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |r| CallCursor { at: r.at, id: r.id },
            IntegrationCall,
        ))
    }

    /// Its totals over `[from, to)` (the last 30 days when not given).
    async fn usage(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<IntegrationUsage> {
        let to = to.unwrap_or_else(Utc::now);
        let from = from.unwrap_or(to - chrono::Duration::days(30));
        let u = calls::usage_of(ctx.call()?, self.0.id, from, to).await?;
        Ok(IntegrationUsage {
            from,
            to,
            calls: u.calls,
            points: u.points,
            errors: u.errors,
            rate_limited: u.rate_limited,
        })
    }

    /// Its webhook subscriptions, the oldest first.
    async fn webhook_subscriptions(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::webhooks::WebhookSubscription>> {
        let rows = service::integrations::webhooks::subscriptions_of(&ctx.state()?.db, &[self.0.id]).await?;
        Ok(rows.into_iter().map(super::webhooks::WebhookSubscription).collect())
    }

    /// Every change made to it, the oldest first.
    async fn changes(&self, ctx: &Context<'_>) -> Result<Vec<IntegrationClientChange>> {
        let rows = svc::changes_of(&ctx.state()?.db, &[self.0.id]).await?;
        Ok(rows.into_iter().map(IntegrationClientChange).collect())
    }
}

/// A client secret, without its value.
pub struct IntegrationSecret(pub integration_secret::Model);

#[Object]
impl IntegrationSecret {
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::IntegrationSecret, self.0.id).encode().into()
    }

    /// Its last four characters, to tell two secrets apart.
    async fn hint(&self) -> &str {
        &self.0.hint
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When a token was last issued against it.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    async fn active(&self) -> bool {
        self.0.revoked_at.is_none()
    }
}

/// One change to a client: who, what, when.
pub struct IntegrationClientChange(pub integration_change::Model);

#[Object]
impl IntegrationClientChange {
    async fn action(&self) -> GqlChange {
        self.0.action.into()
    }

    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, Some(self.0.actor_id)).await
    }

    /// The secret it was about, if one.
    async fn secret_id(&self) -> Option<ID> {
        self.0.secret_id.map(|id| GlobalId::new(NodeKind::IntegrationSecret, id).encode().into())
    }

    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A document a client may run by its id.
pub struct TrustedDocument(pub entities::trusted_document::Model);

#[Object]
impl TrustedDocument {
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::TrustedDocument, self.0.id).encode().into()
    }

    /// What the client sends: `{"documentId": "sha256:…"}` (or the hash alone in
    /// `extensions.persistedQuery.sha256Hash`).
    async fn document_id(&self) -> String {
        format!("sha256:{}", self.0.sha256)
    }

    async fn document(&self) -> &str {
        &self.0.document
    }

    async fn operation_name(&self) -> Option<&str> {
        self.0.operation_name.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One call of a client.
pub struct IntegrationCall(pub integration_call::Model);

#[Object]
impl IntegrationCall {
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The operation name, the trusted document's id, or `POST /oauth/token`.
    async fn operation(&self) -> &str {
        &self.0.operation
    }

    /// The points it cost.
    async fn cost(&self) -> i64 {
        self.0.cost
    }

    /// `OK`, or the code of its first error.
    async fn outcome(&self) -> &str {
        &self.0.outcome
    }

    /// The HTTP status answered.
    async fn status(&self) -> i32 {
        self.0.status
    }

    async fn duration_ms(&self) -> i32 {
        self.0.duration_ms
    }
}

/// A client's totals over a period.
#[derive(SimpleObject)]
pub struct IntegrationUsage {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    calls: i64,
    /// Cost points spent.
    points: i64,
    /// Calls that ended in an error.
    errors: i64,
    /// Calls refused for want of points.
    rate_limited: i64,
}

#[derive(Serialize, Deserialize)]
struct CallCursor {
    at: DateTime<Utc>,
    id: Uuid,
}

/// Position in the client list (the newest first).
#[derive(Serialize, Deserialize)]
struct ClientCursor {
    at: DateTime<Utc>,
    id: ClientId,
}

#[derive(Default)]
pub struct ClientQuery;

#[Object]
impl ClientQuery {
    /// The integration clients of the trees the caller manages, the newest first.
    async fn integration_clients(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, IntegrationClient>> {
        let page = page::<ClientCursor>(first, after.as_deref())?;
        let (rows, has_next) =
            svc::list_clients(ctx.call()?, page.first, page.after.as_ref().map(|c| (c.at, c.id))).await?;
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            async_graphql::connection::EmptyFields,
            |r| ClientCursor { at: r.created_at, id: r.id },
            IntegrationClient,
        ))
    }

    /// One integration client.
    async fn integration_client(&self, ctx: &Context<'_>, id: ID) -> Result<IntegrationClient> {
        let id = GlobalId::decode_id::<ClientId>(&id, "id")?;
        Ok(IntegrationClient(svc::get_client(ctx.call()?, id).await?))
    }
}

#[derive(InputObject)]
pub struct RegisterIntegrationClientInput {
    /// What the partner system is, e.g. "Sở Lao động – Thương binh và Xã hội: bảng số liệu".
    pub name: String,
    /// Who to call about it.
    pub contact: String,
    /// The root of the subtree it may read.
    pub unit_id: ID,
    pub scopes: Vec<GqlScope>,
    /// After this it gets no token; none: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its own cost bucket; none: the default (`APP_CLIENT_BUCKET_*`).
    pub bucket: Option<BucketInput>,
    /// It may run only the trusted documents registered for it (`addTrustedDocument`).
    #[graphql(default = false)]
    pub trusted_documents_only: bool,
}

/// A cost bucket: the points it holds, and the points restored each second.
#[derive(InputObject)]
pub struct BucketInput {
    pub capacity: i32,
    pub per_sec: i32,
}

/// A client just registered, with its first secret.
#[derive(SimpleObject)]
pub struct RegisteredIntegrationClient {
    client: IntegrationClient,
    /// The secret itself: shown this once, stored only as a hash. Give it to the partner.
    client_secret: String,
    secret: IntegrationSecret,
}

/// A secret just added, with its value.
#[derive(SimpleObject)]
pub struct IssuedIntegrationSecret {
    /// The secret itself: shown this once, stored only as a hash.
    client_secret: String,
    secret: IntegrationSecret,
}

#[derive(Default)]
pub struct ClientMutation;

#[Object]
impl ClientMutation {
    /// Registers an integration client (a system administrator or a `UNIT_ADMIN` at the root,
    /// from a stepped-up session) and issues its first secret.
    async fn register_integration_client(
        &self,
        ctx: &Context<'_>,
        input: RegisterIntegrationClientInput,
    ) -> Result<RegisteredIntegrationClient> {
        let unit_id = GlobalId::decode_id::<UnitId>(&input.unit_id, "input.unitId")?;
        let scopes: ScopeSet = input.scopes.into_iter().map(Scope::from).collect();
        let bucket = input.bucket.map(|b| service::config::Bucket {
            capacity: u32::try_from(b.capacity).unwrap_or(0),
            per_sec: u32::try_from(b.per_sec).unwrap_or(0),
        });
        let new = NewClient {
            name: input.name,
            contact: input.contact,
            unit_id,
            scopes,
            expires_at: input.expires_at,
            bucket,
            trusted_documents_only: input.trusted_documents_only,
        };
        let (client, issued) = svc::register_client(ctx.call()?, new).await.map_err(in_argument("input"))?;
        Ok(RegisteredIntegrationClient {
            client: IntegrationClient(client),
            client_secret: issued.secret.expose_secret().to_owned(),
            secret: IntegrationSecret(issued.row),
        })
    }

    /// Adds a secret to a client, to rotate without downtime: deploy the new one, then revoke
    /// the old. `CONFLICT` `TOO_MANY_SECRETS` while two are live.
    async fn add_integration_client_secret(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
    ) -> Result<IssuedIntegrationSecret> {
        let id = GlobalId::decode_id::<ClientId>(&client_id, "clientId")?;
        let issued = svc::add_secret(ctx.call()?, id).await?;
        Ok(IssuedIntegrationSecret {
            client_secret: issued.secret.expose_secret().to_owned(),
            secret: IntegrationSecret(issued.row),
        })
    }

    /// Revokes one secret: the tokens issued against it stop working at once.
    async fn revoke_integration_client_secret(
        &self,
        ctx: &Context<'_>,
        secret_id: ID,
    ) -> Result<IntegrationSecret> {
        let id: Uuid = GlobalId::decode_as(&secret_id, NodeKind::IntegrationSecret, "secretId")?;
        Ok(IntegrationSecret(svc::revoke_secret(ctx.call()?, id).await?))
    }

    /// Registers a document a client may run by its id (`sha256:` and the SHA-256 of the text
    /// as given); it must be one GraphQL document.
    async fn add_trusted_document(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
        document: String,
        operation_name: Option<String>,
    ) -> Result<TrustedDocument> {
        let id = GlobalId::decode_id::<ClientId>(&client_id, "clientId")?;
        if async_graphql::parser::parse_query(&document).is_err() {
            return Err(service::error::ApiError::bad_input(
                "document",
                service::error::InputProblem::InvalidFormat,
            )
            .into());
        }
        let row = service::integrations::documents::add_document(
            ctx.call()?,
            id,
            &document,
            operation_name.as_deref(),
        )
        .await
        .map_err(|e| match e {
            service::error::ApiError::BadInput { field: "operation_name", problem } => {
                service::error::ApiError::bad_input("operationName", problem)
            }
            other => other,
        })?;
        Ok(TrustedDocument(row))
    }

    /// Removes a trusted document: the client can no longer run it by its id.
    async fn remove_trusted_document(&self, ctx: &Context<'_>, id: ID) -> Result<TrustedDocument> {
        let id: Uuid = GlobalId::decode_as(&id, NodeKind::TrustedDocument, "id")?;
        Ok(TrustedDocument(service::integrations::documents::remove_document(ctx.call()?, id).await?))
    }

    /// Revokes a client and all its secrets.
    async fn revoke_integration_client(&self, ctx: &Context<'_>, client_id: ID) -> Result<IntegrationClient> {
        let id = GlobalId::decode_id::<ClientId>(&client_id, "clientId")?;
        Ok(IntegrationClient(svc::revoke_client(ctx.call()?, id).await?))
    }
}
