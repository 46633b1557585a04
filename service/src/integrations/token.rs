//! The OAuth 2.0 client-credentials grant (RFC 6749 §4.4): a client presents its id and a live
//! secret and gets an access token for its scopes, or fewer when it asks for fewer.
//!
//! Wrong secrets are throttled like logins: each attempt is counted before it is answered (per
//! client id from all addresses, and per address), so guesses sent in parallel cannot slip past
//! the limit; a right secret clears the client's counter, and an attempt the database could not
//! check (`503`) is taken back, so a client retrying through an outage is not locked out. An unknown client,
//! a wrong or revoked secret, a revoked or expired client all answer the same
//! `invalid_client`, so the answer tells a guesser nothing about which it was.

use chrono::{DateTime, Utc};
use entities::{ids::ClientId, integration_client as client, integration_secret as secret};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{ClientViewer, ScopeSet};
use crate::{Call, RequestMeta, auth, error::ApiError, state::AppState};

/// What the client sends.
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: SecretString,
    /// The scopes it asks for (space-separated); all of its own when absent.
    pub scope: Option<String>,
}

/// The token issued.
pub struct IssuedToken {
    pub client_id: ClientId,
    pub access_token: SecretString,
    pub expires_in: u64,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// Why the grant was refused, as RFC 6749 §5.2 names it (besides the server's own failures).
#[derive(Debug)]
pub enum GrantError {
    /// Unknown client, wrong or revoked secret, revoked or expired client.
    InvalidClient,
    /// A scope that is unknown or not the client's.
    InvalidScope,
    /// Too many wrong secrets for this client or from this address.
    RateLimited { retry_after_secs: u64 },
    /// The database or cache failed (`UNAVAILABLE`, `INTERNAL`).
    Server(ApiError),
}

impl From<ApiError> for GrantError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::RateLimited { retry_after_secs } => GrantError::RateLimited { retry_after_secs },
            other => GrantError::Server(other),
        }
    }
}

/// Issues a token for the client credentials, or says why not.
pub async fn client_credentials(call: Call<'_>, creds: ClientCredentials) -> Result<IssuedToken, GrantError> {
    let (state, meta) = (call.state, call.meta);
    let client_id = Uuid::parse_str(creds.client_id.trim()).ok().map(ClientId);
    let now = state.clock.now();
    let attempt = Attempt::begin(state, meta, client_id).await?;
    let found = match client_id {
        Some(id) => match live_secret(state, id, &creds, now).await {
            Ok(found) => found,
            Err(e) => {
                // An outage (503): the attempt could not be checked, so it was no wrong secret —
                // a client retrying through an outage is not locked out after it.
                attempt.unchecked(state).await;
                return Err(e.into());
            }
        },
        None => None,
    };
    let (Some(client_id), Some((secret, client))) = (client_id, found) else {
        return Err(GrantError::InvalidClient);
    };
    attempt.succeeded(state).await;
    let own = ScopeSet::parse(&client.scopes).unwrap_or_default();
    let scopes = match creds.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => own,
        Some(asked) => match ScopeSet::parse(asked) {
            Some(asked) if own.covers(asked) && !asked.is_empty() => asked,
            _ => return Err(GrantError::InvalidScope),
        },
    };
    touch(state, &client, secret.id, now).await?;
    let bucket = match (client.bucket_capacity, client.bucket_per_sec) {
        (Some(capacity), Some(per_sec)) => Some(crate::config::Bucket {
            capacity: u32::try_from(capacity).unwrap_or(1),
            per_sec: u32::try_from(per_sec).unwrap_or(1),
        }),
        _ => None,
    };
    let viewer = ClientViewer {
        client_id,
        secret_id: secret.id,
        unit_id: client.unit_id,
        scopes,
        bucket,
        trusted_documents_only: client.trusted_documents_only,
    };
    let (token, expires_in) = state.tokens.issue_client_access(&viewer, now, client.expires_at)?;
    tracing::info!(event = "client_token_issued", client = %client_id, "client token issued");
    Ok(IssuedToken {
        client_id,
        access_token: SecretString::from(token),
        expires_in,
        scope: scopes.to_oauth(),
    })
}

/// The live secret `creds` names and its live client, if they exist.
async fn live_secret(
    state: &AppState,
    client_id: ClientId,
    creds: &ClientCredentials,
    now: DateTime<Utc>,
) -> Result<Option<(secret::Model, client::Model)>, ApiError> {
    let hash = auth::hash_refresh_token(creds.secret.expose_secret());
    let secret = secret::Entity::find()
        .filter(secret::Column::SecretHash.eq(hash))
        .filter(secret::Column::ClientId.eq(client_id))
        .filter(secret::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?;
    let Some(secret) = secret else { return Ok(None) };
    let client = client::Entity::find_by_id(client_id).one(&state.db).await?;
    Ok(client
        .filter(|c| c.revoked_at.is_none() && c.expires_at.is_none_or(|at| at > now))
        .map(|c| (secret, c)))
}

/// Records when the client and its secret were last used (at most once a minute each, so a
/// client fetching tokens in a loop does not write on every one).
async fn touch(
    state: &AppState,
    client: &client::Model,
    secret_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let stale = now - chrono::Duration::minutes(1);
    if client.last_used_at.is_none_or(|at| at < stale) {
        client::Entity::update_many()
            .col_expr(client::Column::LastUsedAt, now.into())
            .filter(client::Column::Id.eq(client.id))
            .exec(&state.db)
            .await?;
    }
    secret::Entity::update_many()
        .col_expr(secret::Column::LastUsedAt, now.into())
        .filter(secret::Column::Id.eq(secret_id))
        .filter(
            sea_orm::Condition::any()
                .add(secret::Column::LastUsedAt.is_null())
                .add(secret::Column::LastUsedAt.lt(stale)),
        )
        .exec(&state.db)
        .await?;
    Ok(())
}

/// A secret attempt, counted before the secret is checked (see the module docs).
struct Attempt {
    client_key: Option<String>,
    address_key: String,
}

impl Attempt {
    async fn begin(state: &AppState, meta: &RequestMeta, client: Option<ClientId>) -> Result<Self, ApiError> {
        let s = &state.settings;
        let window = s.login_failure_window;
        let address_key = format!("client-fail:addr:{}", meta.client_addr);
        let client_key = client.map(|c| format!("client-fail:client:{c}"));
        let mut retry = None;
        let by_address = state.cache.hit(&address_key, window).await?;
        if by_address.count > u64::from(s.login_max_failures_per_address) {
            retry = Some(by_address.resets_in.as_secs().max(1));
        }
        if let Some(key) = &client_key {
            let by_client = state.cache.hit(key, window).await?;
            if by_client.count > u64::from(s.integrations.max_failures_per_client) {
                retry = retry.max(Some(by_client.resets_in.as_secs().max(1)));
            }
        }
        match retry {
            Some(retry_after_secs) => Err(ApiError::RateLimited { retry_after_secs }),
            None => Ok(Self { client_key, address_key }),
        }
    }

    /// The secret could not be checked (the database failed): both counters take the attempt
    /// back. A cache failure now leaves them a little high (safe).
    async fn unchecked(self, state: &AppState) {
        self.give_back(state, false).await;
    }

    /// The secret was right: the client's counter starts over and the address gets its
    /// attempt back. A cache failure now leaves the counters a little high (safe).
    async fn succeeded(self, state: &AppState) {
        self.give_back(state, true).await;
    }

    /// The address takes the attempt back; the client's counter too, or starts over (`clear`).
    async fn give_back(self, state: &AppState, clear: bool) {
        let done = async {
            match &self.client_key {
                Some(key) if clear => state.cache.clear(key).await?,
                Some(key) => state.cache.undo_hit(key).await?,
                None => {}
            }
            state.cache.undo_hit(&self.address_key).await
        };
        if done.await.is_err() {
            tracing::warn!("client secret counters could not take an attempt back");
        }
    }
}
