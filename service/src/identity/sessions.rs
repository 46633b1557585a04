//! A person's sessions as her devices: what the app called the device at sign-in, its platform,
//! when it signed in and was last used (its last refresh), a coarse place; she lists them, ends
//! one, or signs out everywhere. Ending a session works as logout does: revoked in the database,
//! flagged in the cache, its live subscriptions told.

use chrono::{DateTime, Utc};
use entities::auth_session::{self, DevicePlatform};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{flag_revoked, revoke_sessions};
use crate::{Call, domain::parse_line, error::ApiError, state::AppState};

/// What the app says about the device it signs in from.
#[derive(Clone, Debug, Default)]
pub struct DeviceInput {
    /// A label such as "iPhone của Lan" (at most 64 characters).
    pub label: Option<String>,
    pub platform: Option<DevicePlatform>,
}

/// [`DeviceInput`], checked.
#[derive(Clone, Debug, Default)]
pub struct DeviceInfo {
    pub label: Option<String>,
    pub platform: Option<DevicePlatform>,
}

impl DeviceInfo {
    pub fn parse(input: DeviceInput) -> Result<Self, ApiError> {
        let label = match input.label.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(parse_line(raw, 64, "device.label")?),
        };
        Ok(Self { label, platform: input.platform })
    }
}

/// The caller's sessions that can still be used (not revoked, refreshed within the refresh
/// token's lifetime), the most recently used first.
pub async fn my_sessions(call: Call<'_>) -> Result<Vec<auth_session::Model>, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    Ok(auth_session::Entity::find()
        .filter(auth_session::Column::PersonId.eq(viewer.person_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .filter(auth_session::Column::LastUsedAt.gt(live_since(state)))
        .order_by_desc(auth_session::Column::LastUsedAt)
        .order_by_desc(auth_session::Column::Id)
        .limit(200)
        .all(&state.db)
        .await?)
}

/// One of the caller's live sessions; `NOT_FOUND` for anyone else's.
pub async fn get_session(call: Call<'_>, id: Uuid) -> Result<auth_session::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    auth_session::Entity::find_by_id(id)
        .filter(auth_session::Column::PersonId.eq(viewer.person_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Ends one of the caller's sessions (another device's, or this one); `NOT_FOUND` for a session
/// that is not hers or has ended.
pub async fn end_session(call: Call<'_>, id: Uuid) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let found: Option<Uuid> = auth_session::Entity::find_by_id(id)
        .select_only()
        .column(auth_session::Column::Id)
        .filter(auth_session::Column::PersonId.eq(viewer.person_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .into_tuple()
        .one(&state.db)
        .await?;
    let Some(id) = found else { return Err(ApiError::NotFound) };
    revoke_sessions(&state.db, &[id], "ENDED").await?;
    flag_revoked(state, &[id], "ENDED").await
}

/// Ends every session of the caller, this one included; how many ended.
pub async fn sign_out_everywhere(call: Call<'_>) -> Result<usize, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let ids: Vec<Uuid> = auth_session::Entity::find()
        .select_only()
        .column(auth_session::Column::Id)
        .filter(auth_session::Column::PersonId.eq(viewer.person_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&state.db)
        .await?;
    revoke_sessions(&state.db, &ids, "SIGNED_OUT_EVERYWHERE").await?;
    flag_revoked(state, &ids, "SIGNED_OUT_EVERYWHERE").await?;
    tracing::info!(event = "signed_out_everywhere", person_id = %viewer.person_id, sessions = ids.len(), "signed out everywhere");
    Ok(ids.len())
}

/// Sessions not refreshed since then can no longer be: their refresh tokens expired.
fn live_since(state: &AppState) -> DateTime<Utc> {
    Utc::now() - state.tokens.refresh_ttl
}

/// A coarse place for a client address — "Hanoi, Vietnam", or the country alone — from the
/// GeoIP database (`APP_GEOIP_DB`); none without one (the service ships none), for an address it
/// does not know, or one that is not an IP address.
pub(crate) fn place_of(state: &AppState, client_addr: &str) -> Option<String> {
    let reader = state.geoip.as_ref()?;
    let ip: std::net::IpAddr = client_addr.parse().ok()?;
    let found = reader.lookup(ip).ok()?;
    let record: maxminddb::geoip2::City<'_> = found.decode().ok()??;
    let country = record.country.names.english;
    let place = match (record.city.names.english, country) {
        (Some(city), Some(country)) => format!("{city}, {country}"),
        (None, Some(country)) => country.to_owned(),
        (Some(city), None) => city.to_owned(),
        (None, None) => return None,
    };
    Some(place.chars().take(64).collect())
}
