//! Registering integration clients and managing their secrets: a system administrator or a
//! `UNIT_ADMIN` at the root ([`Capability::ManageIntegrations`]), from a stepped-up session for
//! what hands out access (registering, adding a secret). A secret is shown once, in the answer
//! that creates it, and stored only as its SHA-256; a client holds at most [`MAX_LIVE_SECRETS`]
//! live secrets, so a partner deploys the new one before the old is revoked. Every change is
//! recorded in `integration_change` in the transaction that makes it. Revoking a secret or a
//! client ends the tokens issued against it at once: revoked in the database (the record),
//! flagged in the cache (the fast path), as sessions are.

use chrono::{DateTime, Utc};
use entities::{
    ids::{ClientId, PersonId, UnitId},
    integration_change::{self, ClientChange},
    integration_client as client, integration_secret as secret,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use secrecy::SecretString;
use uuid::Uuid;

use super::ScopeSet;
use crate::audit::{self, SubjectKind as Kind};
use crate::{
    Call, auth,
    authz::{self, Capability},
    domain::parse_line,
    error::{ApiError, ConflictKind, InputProblem},
    org,
};

/// Live secrets a client may hold at once: the one in use and its successor.
pub const MAX_LIVE_SECRETS: u64 = 2;

/// What the admin registers.
pub struct NewClient {
    pub name: String,
    pub contact: String,
    pub unit_id: UnitId,
    pub scopes: ScopeSet,
    pub expires_at: Option<DateTime<Utc>>,
    /// Its own cost bucket; none: `APP_CLIENT_BUCKET_*`.
    pub bucket: Option<crate::config::Bucket>,
    /// It may run only the trusted documents registered for it.
    pub trusted_documents_only: bool,
}

/// A secret just made: its row, and the secret itself (shown this once).
pub struct IssuedSecret {
    pub row: secret::Model,
    pub secret: SecretString,
}

/// Succeeds, with who acts in which role, when the viewer may manage the clients of `unit`'s
/// tree (asked over its root).
async fn require_manager(call: Call<'_>, unit: UnitId) -> Result<audit::Actor, ApiError> {
    let viewer = call.viewer()?;
    let db = &call.state.db;
    let root = org::root_of(db, unit).await?;
    let acting = authz::require(db, viewer, Capability::ManageIntegrations, root).await?;
    Ok(audit::Actor::new(viewer, acting))
}

/// The roots whose clients the viewer manages; `None` for all of them (a system
/// administrator). `NOT_FOUND`/`FORBIDDEN` when she manages none.
async fn managed_roots(call: Call<'_>) -> Result<Option<Vec<UnitId>>, ApiError> {
    let viewer = call.viewer()?;
    let db = &call.state.db;
    if authz::is_system_admin(db, viewer.person_id).await? {
        return Ok(None);
    }
    let held = authz::role_units(db, viewer.person_id, Capability::ManageIntegrations).await?;
    let roots: Vec<UnitId> = entities::org_unit::Entity::find()
        .select_only()
        .column(entities::org_unit::Column::Id)
        .filter(entities::org_unit::Column::Id.is_in(held))
        .filter(entities::org_unit::Column::ParentId.is_null())
        .into_tuple()
        .all(db)
        .await?;
    if roots.is_empty() {
        authz::require_somewhere(db, viewer, Capability::ManageIntegrations).await?;
        return Err(ApiError::Forbidden);
    }
    Ok(Some(roots))
}

/// Registers a client and its first secret.
pub async fn register_client(
    call: Call<'_>,
    input: NewClient,
) -> Result<(client::Model, IssuedSecret), ApiError> {
    org::get_unit(&call.state.db, input.unit_id)
        .await
        .map_err(|_| ApiError::bad_input("unit_id", InputProblem::InvalidId))?;
    let actor = require_manager(call, input.unit_id).await?;
    crate::identity::mfa::require_step_up(call).await?;
    let name = parse_line(&input.name, 120, "name")?;
    let contact = parse_line(&input.contact, 200, "contact")?;
    if input.scopes.is_empty() {
        return Err(ApiError::bad_input("scopes", InputProblem::Required));
    }
    let now = call.state.clock.now();
    if input.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_input("expires_at", InputProblem::OutOfRange));
    }
    if let Some(b) = input.bucket {
        if !(1..=1_000_000).contains(&b.capacity) {
            return Err(ApiError::bad_input("bucket.capacity", InputProblem::OutOfRange));
        }
        if !(1..=b.capacity).contains(&b.per_sec) {
            return Err(ApiError::bad_input("bucket.per_sec", InputProblem::OutOfRange));
        }
    }
    let txn = call.state.db.begin().await?;
    let row = client::ActiveModel {
        id: Set(ClientId::new()),
        name: Set(name),
        contact: Set(contact),
        unit_id: Set(input.unit_id),
        scopes: Set(input.scopes.to_oauth()),
        expires_at: Set(input.expires_at),
        created_by: Set(actor.person_id),
        created_at: Set(now),
        revoked_at: Set(None),
        revoked_by: Set(None),
        last_used_at: Set(None),
        bucket_capacity: Set(input.bucket.map(|b| b.capacity as i32)),
        bucket_per_sec: Set(input.bucket.map(|b| b.per_sec as i32)),
        trusted_documents_only: Set(input.trusted_documents_only),
    }
    .insert(&txn)
    .await?;
    let registered =
        audit::Entry::new(audit::Action::ClientRegistered, row.unit_id, Kind::IntegrationClient, row.id)
            .set("name", &row.name)
            .set("contact", &row.contact)
            .set("scopes", &row.scopes)
            .set("expiresAt", row.expires_at)
            .set("bucketCapacity", row.bucket_capacity)
            .set("bucketPerSec", row.bucket_per_sec)
            .set("trustedDocumentsOnly", row.trusted_documents_only);
    record(&txn, row.id, actor, None, now, registered).await?;
    let issued = insert_secret(&txn, row.id, actor.person_id, now).await?;
    let added = secret_entry(audit::Action::ClientSecretAdded, row.unit_id, &issued.row);
    record(&txn, row.id, actor, Some(issued.row.id), now, added).await?;
    txn.commit().await?;
    tracing::info!(event = "integration_client_registered", client = %row.id, "integration client registered");
    Ok((row, issued))
}

/// Adds a secret to a live client (for rotation): `CONFLICT` `TOO_MANY_SECRETS` while it holds
/// two live ones already.
pub async fn add_secret(call: Call<'_>, client_id: ClientId) -> Result<IssuedSecret, ApiError> {
    let unit = unit_of(call, client_id).await?;
    let actor = require_manager(call, unit).await.map_err(authz::hide_forbidden)?;
    crate::identity::mfa::require_step_up(call).await?;
    let now = call.state.clock.now();
    let txn = call.state.db.begin().await?;
    // The client row is locked (PostgreSQL; SQLite has one writer), so two requests at once
    // cannot both add a second secret.
    let row = live_client(&txn, client_id).await?;
    let live = secret::Entity::find()
        .filter(secret::Column::ClientId.eq(row.id))
        .filter(secret::Column::RevokedAt.is_null())
        .count(&txn)
        .await?;
    if live >= MAX_LIVE_SECRETS {
        return Err(ApiError::Conflict(ConflictKind::TooManySecrets));
    }
    let issued = insert_secret(&txn, row.id, actor.person_id, now).await?;
    let added = secret_entry(audit::Action::ClientSecretAdded, row.unit_id, &issued.row);
    record(&txn, row.id, actor, Some(issued.row.id), now, added).await?;
    txn.commit().await?;
    Ok(issued)
}

/// Revokes one secret; the tokens issued against it stop working at once.
pub async fn revoke_secret(call: Call<'_>, secret_id: Uuid) -> Result<secret::Model, ApiError> {
    let row = secret::Entity::find_by_id(secret_id).one(&call.state.db).await?.ok_or(ApiError::NotFound)?;
    let unit = unit_of(call, row.client_id).await?;
    let actor = require_manager(call, unit).await.map_err(authz::hide_forbidden)?;
    let now = call.state.clock.now();
    let txn = call.state.db.begin().await?;
    if row.revoked_at.is_some() {
        return Err(ApiError::Conflict(ConflictKind::AlreadyRevoked));
    }
    let done = secret::Entity::update_many()
        .col_expr(secret::Column::RevokedAt, now.into())
        .col_expr(secret::Column::RevokedBy, actor.person_id.into())
        .filter(secret::Column::Id.eq(secret_id))
        .filter(secret::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyRevoked));
    }
    let revoked = secret_entry(audit::Action::ClientSecretRevoked, unit, &row).set("revokedAt", now);
    record(&txn, row.client_id, actor, Some(secret_id), now, revoked).await?;
    txn.commit().await?;
    flag_revoked(call, &[secret_id]).await;
    Ok(secret::Model { revoked_at: Some(now), revoked_by: Some(actor.person_id), ..row })
}

/// Revokes a client and every secret it holds.
pub async fn revoke_client(call: Call<'_>, client_id: ClientId) -> Result<client::Model, ApiError> {
    let unit = unit_of(call, client_id).await?;
    let actor = require_manager(call, unit).await.map_err(authz::hide_forbidden)?;
    let now = call.state.clock.now();
    let txn = call.state.db.begin().await?;
    let row = client::Entity::find_by_id(client_id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let done = client::Entity::update_many()
        .col_expr(client::Column::RevokedAt, now.into())
        .col_expr(client::Column::RevokedBy, actor.person_id.into())
        .filter(client::Column::Id.eq(client_id))
        .filter(client::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyRevoked));
    }
    let secrets: Vec<Uuid> = secret::Entity::find()
        .select_only()
        .column(secret::Column::Id)
        .filter(secret::Column::ClientId.eq(client_id))
        .filter(secret::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&txn)
        .await?;
    secret::Entity::update_many()
        .col_expr(secret::Column::RevokedAt, now.into())
        .col_expr(secret::Column::RevokedBy, actor.person_id.into())
        .filter(secret::Column::ClientId.eq(client_id))
        .filter(secret::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    let revoked =
        audit::Entry::new(audit::Action::ClientRevoked, row.unit_id, Kind::IntegrationClient, client_id)
            .set("revokedAt", now)
            .set("secretsRevoked", secrets.len() as u64);
    record(&txn, client_id, actor, None, now, revoked).await?;
    txn.commit().await?;
    flag_revoked(call, &secrets).await;
    tracing::info!(event = "integration_client_revoked", client = %client_id, "integration client revoked");
    Ok(client::Model { revoked_at: Some(now), revoked_by: Some(actor.person_id), ..row })
}

/// Flags revoked secrets in the cache for as long as a token issued against them may live.
/// The database holds the revocation already: if the cache fails, requests fall back to it
/// (the cache then cannot vouch for its flags, see `cache`).
async fn flag_revoked(call: Call<'_>, secrets: &[Uuid]) {
    if secrets.is_empty() {
        return;
    }
    let keys: Vec<String> = secrets.iter().map(|&s| auth::revoked_client_secret_key(s)).collect();
    let ttl = call.state.tokens.client_token_ttl + std::time::Duration::from_secs(10);
    if let Err(e) = call.state.cache.set_flags(&keys, ttl).await {
        tracing::warn!(error = %e, "revoked client secrets could not be flagged in the cache");
        call.state.cache.distrust("client secret revocation not flagged");
    }
}

/// The registered clients, the newest first, for a manager.
pub async fn list_clients(
    call: Call<'_>,
    first: u64,
    after: Option<(DateTime<Utc>, ClientId)>,
) -> Result<(Vec<client::Model>, bool), ApiError> {
    let roots = managed_roots(call).await?;
    let mut query = client::Entity::find();
    if let Some(roots) = roots {
        query = query.filter(client::Column::UnitId.in_subquery(authz::subtrees_select(roots)));
    }
    if let Some((at, id)) = after {
        query = query.filter(crate::db::before_key(client::Column::CreatedAt, at, client::Column::Id, id));
    }
    let rows = query
        .order_by_desc(client::Column::CreatedAt)
        .order_by_desc(client::Column::Id)
        .limit(first + 1)
        .all(&call.state.db)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

/// One client, for a manager.
pub async fn get_client(call: Call<'_>, id: ClientId) -> Result<client::Model, ApiError> {
    Ok(managed_client(call, id).await?.0)
}

/// One client and who acts on it in which role, for a manager (`NOT_FOUND` for anyone else).
pub(crate) async fn managed_client(
    call: Call<'_>,
    id: ClientId,
) -> Result<(client::Model, audit::Actor), ApiError> {
    let row = client::Entity::find_by_id(id).one(&call.state.db).await?.ok_or(ApiError::NotFound)?;
    let actor = require_manager(call, row.unit_id).await.map_err(authz::hide_forbidden)?;
    Ok((row, actor))
}

/// The unit a client reads, or `NOT_FOUND`.
async fn unit_of(call: Call<'_>, id: ClientId) -> Result<UnitId, ApiError> {
    client::Entity::find_by_id(id)
        .select_only()
        .column(client::Column::UnitId)
        .into_tuple()
        .one(&call.state.db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The secrets of clients (live and revoked), oldest first, in one statement.
pub async fn secrets_of(
    conn: &impl ConnectionTrait,
    clients: &[ClientId],
) -> Result<Vec<secret::Model>, ApiError> {
    Ok(secret::Entity::find()
        .filter(secret::Column::ClientId.is_in(clients.iter().copied()))
        .order_by_asc(secret::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// The changes made to clients, oldest first, in one statement.
pub async fn changes_of(
    conn: &impl ConnectionTrait,
    clients: &[ClientId],
) -> Result<Vec<integration_change::Model>, ApiError> {
    Ok(integration_change::Entity::find()
        .filter(integration_change::Column::ClientId.is_in(clients.iter().copied()))
        .order_by_asc(integration_change::Column::At)
        .order_by_asc(integration_change::Column::Id)
        .all(conn)
        .await?)
}

/// A client that is neither revoked nor past its expiry, or `NOT_FOUND` / `CONFLICT`.
pub(crate) async fn live_client(
    conn: &impl ConnectionTrait,
    id: ClientId,
) -> Result<client::Model, ApiError> {
    let mut query = client::Entity::find_by_id(id);
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    let row = query.one(conn).await?.ok_or(ApiError::NotFound)?;
    if row.revoked_at.is_some() {
        return Err(ApiError::Conflict(ConflictKind::AlreadyRevoked));
    }
    Ok(row)
}

async fn insert_secret(
    conn: &impl ConnectionTrait,
    client_id: ClientId,
    by: PersonId,
    now: DateTime<Utc>,
) -> Result<IssuedSecret, ApiError> {
    let (secret, hash) = auth::new_client_secret()?;
    let hint: String = secret.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let row = secret::ActiveModel {
        id: Set(Uuid::now_v7()),
        client_id: Set(client_id),
        secret_hash: Set(hash),
        hint: Set(hint),
        created_by: Set(by),
        created_at: Set(now),
        revoked_at: Set(None),
        revoked_by: Set(None),
        last_used_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(IssuedSecret { row, secret: SecretString::from(secret) })
}

pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    client_id: ClientId,
    actor: audit::Actor,
    secret_id: Option<Uuid>,
    at: DateTime<Utc>,
    entry: audit::Entry,
) -> Result<(), ApiError> {
    use audit::Action as A;
    let action = match entry.action() {
        A::ClientRegistered => ClientChange::Registered,
        A::ClientSecretAdded => ClientChange::SecretAdded,
        A::ClientSecretRevoked => ClientChange::SecretRevoked,
        A::ClientRevoked => ClientChange::Revoked,
        A::TrustedDocumentAdded => ClientChange::DocumentAdded,
        A::TrustedDocumentRemoved => ClientChange::DocumentRemoved,
        A::WebhookCreated => ClientChange::WebhookAdded,
        A::WebhookDisabled => ClientChange::WebhookDisabled,
        A::WebhookEnabled => ClientChange::WebhookEnabled,
        A::WebhookDeleted => ClientChange::WebhookRemoved,
        A::WebhookReplayed => ClientChange::WebhookReplayed,
        other => return Err(ApiError::internal(format!("{other} is not a change of a client"))),
    };
    integration_change::ActiveModel {
        id: Set(Uuid::now_v7()),
        client_id: Set(client_id),
        actor_id: Set(actor.person_id),
        action: Set(action),
        secret_id: Set(secret_id),
        at: Set(at),
    }
    .insert(conn)
    .await?;
    audit::record(conn, actor, entry).await?;
    Ok(())
}

/// The trail of a change to one secret: its id and hint (the last characters shown on the
/// console anyway), never the secret or its hash.
fn secret_entry(action: audit::Action, unit_id: UnitId, row: &secret::Model) -> audit::Entry {
    audit::Entry::new(action, unit_id, Kind::IntegrationSecret, row.id).set("hint", &row.hint)
}

/// Whether the database says a client secret (or its client) was revoked, or does not know it.
pub async fn secret_revoked_in_db(conn: &impl ConnectionTrait, secret_id: Uuid) -> Result<bool, ApiError> {
    let row: Option<(Option<DateTime<Utc>>, ClientId)> = secret::Entity::find_by_id(secret_id)
        .select_only()
        .column(secret::Column::RevokedAt)
        .column(secret::Column::ClientId)
        .into_tuple()
        .one(conn)
        .await?;
    let Some((None, client_id)) = row else { return Ok(true) };
    let client_revoked: Option<Option<DateTime<Utc>>> = client::Entity::find_by_id(client_id)
        .select_only()
        .column(client::Column::RevokedAt)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(!matches!(client_revoked, Some(None)))
}
