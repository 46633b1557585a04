//! Photos: upload, storage, thumbnails, and who may fetch them.
//!
//! - **Upload** (`uploadPhoto`, a multipart request): the file is checked and re-encoded by
//!   [`photo::process`] (type by content, size and pixel bounds, EXIF orientation applied, every
//!   byte of metadata left behind) on a blocking thread. Photos wait for memory, not for a slot:
//!   a photo reserves its megapixels from a budget (the largest photo allowed plus 24) before it
//!   is decoded, so concurrent uploads cannot hold more pixels than that at once (4 bytes
//!   each). Then the photo is stored, then recorded. A row exists only for bytes that are stored; bytes stored without a row (a
//!   crash between the two) are never served.
//! - **Thumbnails** are made by the media worker, in the background: a new photo is shown at
//!   full size until its thumbnail exists (`thumbnailUrl` is null until then).
//! - **Attachment**: a photo belongs to its uploader until a record takes it (a story); a photo
//!   nothing took within a day is deleted by the same worker, bytes and row.
//! - **Fetching**: a photo is seen through the record it is attached to (its owner always sees
//!   her own). The URLs the API hands out are short-lived (`APP_MEDIA_URL_TTL_SECS`): an S3
//!   store presigns its own; otherwise the service signs `/media/{id}/{variant}` with a key
//!   derived from the report keyring's digest key (the key id travels in the URL, so keys
//!   rotate), and that endpoint
//!   serves the bytes only while the signature holds. Whoever could not see the record never
//!   gets a URL.

pub mod photo;
pub mod store;

use std::{sync::Arc, time::Duration};

use base64::Engine;
use chrono::Utc;
use entities::{ids::PersonId, media};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::{
    Call,
    config::{MediaSettings, MediaStoreSettings},
    crypto::{Keyring, constant_time_eq},
    error::{ApiError, InputProblem},
    state::AppState,
    worker::PollingWorker,
};
pub use photo::{PhotoError, PhotoLimits};
use store::{FsStore, MediaStore, S3Store};

/// The `parent_kind` of a story's photos.
pub const PARENT_STORY: &str = "STORY";
/// Unattached photos one person may hold at once (uploads waiting for their story).
pub const MAX_PENDING_PER_PERSON: u64 = 20;
/// How long an unattached photo is kept.
const UNATTACHED_TTL: chrono::Duration = chrono::Duration::hours(24);
/// Photos a round of the worker handles.
const BATCH: u64 = 8;

/// Which form of a photo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Full,
    Thumbnail,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Full => "full",
            Variant::Thumbnail => "thumb",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "full" => Some(Variant::Full),
            "thumb" => Some(Variant::Thumbnail),
            _ => None,
        }
    }

    /// The store key of photo `id` in this form.
    pub fn key(self, id: Uuid) -> String {
        match self {
            Variant::Full => format!("photos/{id}.jpg"),
            Variant::Thumbnail => format!("photos/{id}-thumb.jpg"),
        }
    }
}

/// The media store, the limits, and the bound on the pixels being processed at once.
pub struct Media {
    pub store: Arc<dyn MediaStore>,
    limits: PhotoLimits,
    url_ttl: Duration,
    /// One permit per megapixel being decoded: photos wait for memory, not for a slot, so two
    /// 50-megapixel uploads cannot run beside many small ones.
    processing: Semaphore,
    processing_megapixels: u32,
    /// Notified when a photo was stored: wakes this instance's worker for its thumbnail.
    pub queued: Arc<tokio::sync::Notify>,
}

impl Media {
    /// The store the settings name (`APP_MEDIA_STORE`).
    pub fn from_settings(settings: &MediaSettings) -> Result<Self, store::StoreError> {
        let store: Arc<dyn MediaStore> = match &settings.store {
            MediaStoreSettings::Filesystem(dir) => Arc::new(FsStore::new(dir)),
            MediaStoreSettings::S3(config) => Arc::new(S3Store::new(config, settings.timeout)?),
        };
        Ok(Self::with_store(store, settings))
    }

    pub fn with_store(store: Arc<dyn MediaStore>, settings: &MediaSettings) -> Self {
        // Room for the largest photo allowed beside a phone photo or two.
        let budget =
            u32::try_from(settings.max_pixels.div_ceil(1_000_000)).unwrap_or(u32::MAX).saturating_add(24);
        Self {
            store,
            limits: PhotoLimits {
                max_bytes: settings.max_bytes,
                max_pixels: settings.max_pixels,
                max_edge: settings.max_edge,
            },
            url_ttl: settings.url_ttl,
            processing: Semaphore::new(budget as usize),
            processing_megapixels: budget,
            queued: Arc::default(),
        }
    }

    /// Waits until `pixels` may be decoded.
    async fn reserve(&self, pixels: u64) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        let megapixels = u32::try_from(pixels.div_ceil(1_000_000))
            .unwrap_or(u32::MAX)
            .clamp(1, self.processing_megapixels);
        self.processing.acquire_many(megapixels).await.map_err(|_| ApiError::Internal)
    }
}

fn photo_problem(e: PhotoError) -> ApiError {
    let problem = match e {
        PhotoError::TooLarge => InputProblem::FileTooLarge,
        PhotoError::TooManyPixels => InputProblem::TooManyPixels,
        PhotoError::UnsupportedType => InputProblem::UnsupportedType,
        PhotoError::Unreadable | PhotoError::Encode => InputProblem::InvalidFormat,
    };
    ApiError::bad_input("file", problem)
}

fn store_unavailable(e: &store::StoreError) -> ApiError {
    tracing::warn!(error = %e, "media store unavailable");
    ApiError::Unavailable { retry_after_secs: 5 }
}

/// Stores a photo the caller uploaded and returns its row (hers alone until a record takes it).
pub async fn upload_photo(call: Call<'_>, bytes: Vec<u8>) -> Result<media::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let media = &state.media;
    if bytes.len() > media.limits.max_bytes {
        return Err(photo_problem(PhotoError::TooLarge));
    }
    crate::content::moderation::ensure_not_muted(&state.db, viewer.person_id).await?;
    let pending = media::Entity::find()
        .filter(media::Column::OwnerId.eq(viewer.person_id))
        .filter(media::Column::ParentId.is_null())
        .count(&state.db)
        .await?;
    if pending >= MAX_PENDING_PER_PERSON {
        return Err(ApiError::bad_input("file", InputProblem::TooMany));
    }
    let (width, height) = photo::inspect(&bytes, media.limits).map_err(photo_problem)?;
    let processed = {
        let _permit = media.reserve(u64::from(width) * u64::from(height)).await?;
        let limits = media.limits;
        tokio::task::spawn_blocking(move || photo::process(&bytes, limits))
            .await
            .map_err(|_| ApiError::Internal)?
            .map_err(photo_problem)?
    };
    let id = Uuid::now_v7();
    let size = processed.jpeg.len() as i64;
    media
        .store
        .put(&Variant::Full.key(id), processed.jpeg, "image/jpeg")
        .await
        .map_err(|e| store_unavailable(&e))?;
    let row = media::Model {
        id,
        owner_id: viewer.person_id,
        width: processed.width as i32,
        height: processed.height as i32,
        size,
        thumbnail_at: None,
        parent_kind: None,
        parent_id: None,
        position: 0,
        created_at: Utc::now(),
    };
    if let Err(e) =
        media::Entity::insert(media::ActiveModel::from(row.clone())).exec_without_returning(&state.db).await
    {
        // Not recorded: the bytes must not linger.
        let _ = media.store.delete(&Variant::Full.key(id)).await;
        return Err(e.into());
    }
    media.queued.notify_one();
    Ok(row)
}

/// The caller's photos `ids`, unattached, in the order given: what a record may take. Anything
/// else (someone else's, attached already, unknown) is `BAD_USER_INPUT` on `field`.
pub async fn pending_of(
    conn: &impl ConnectionTrait,
    owner: PersonId,
    ids: &[Uuid],
    field: &'static str,
) -> Result<Vec<media::Model>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != ids.len() {
        return Err(ApiError::bad_input(field, InputProblem::InvalidId));
    }
    let rows = media::Entity::find()
        .filter(media::Column::Id.is_in(ids.iter().copied()))
        .filter(media::Column::OwnerId.eq(owner))
        .filter(media::Column::ParentId.is_null())
        .all(conn)
        .await?;
    if rows.len() != ids.len() {
        return Err(ApiError::bad_input(field, InputProblem::InvalidId));
    }
    let mut ordered = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(row) = rows.iter().find(|r| r.id == *id) {
            ordered.push(row.clone());
        }
    }
    Ok(ordered)
}

/// Attaches photos (from [`pending_of`]) to a record, in order, inside the caller's
/// transaction. Only photos still unattached move: two records cannot take one photo.
pub async fn attach(
    conn: &impl ConnectionTrait,
    photos: &[media::Model],
    kind: &str,
    parent: Uuid,
    field: &'static str,
) -> Result<(), ApiError> {
    for (position, photo) in photos.iter().enumerate() {
        let res = media::Entity::update_many()
            .col_expr(media::Column::ParentKind, Expr::value(kind))
            .col_expr(media::Column::ParentId, Expr::value(parent))
            .col_expr(media::Column::Position, Expr::value(position as i32))
            .filter(media::Column::Id.eq(photo.id))
            .filter(media::Column::ParentId.is_null())
            .exec(conn)
            .await?;
        if res.rows_affected != 1 {
            return Err(ApiError::bad_input(field, InputProblem::InvalidId));
        }
    }
    Ok(())
}

/// The photos of records, in order, in one statement.
pub async fn of_parents(
    conn: &impl ConnectionTrait,
    parents: &[Uuid],
) -> Result<Vec<media::Model>, ApiError> {
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    Ok(media::Entity::find()
        .filter(media::Column::ParentId.is_in(parents.iter().copied()))
        .order_by_asc(media::Column::ParentId)
        .order_by_asc(media::Column::Position)
        .all(conn)
        .await?)
}

/// Deletes the photos of a record: rows now, bytes after (a failed delete of bytes only leaves
/// bytes nobody can fetch).
pub async fn delete_of_parent(conn: &impl ConnectionTrait, parent: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let ids: Vec<Uuid> = media::Entity::find()
        .select_only()
        .column(media::Column::Id)
        .filter(media::Column::ParentId.eq(parent))
        .into_tuple()
        .all(conn)
        .await?;
    media::Entity::delete_many().filter(media::Column::ParentId.eq(parent)).exec(conn).await?;
    Ok(ids)
}

/// Removes stored bytes of deleted photos (after the deleting transaction committed).
pub async fn forget_bytes(state: &AppState, ids: &[Uuid]) {
    for &id in ids {
        for variant in [Variant::Full, Variant::Thumbnail] {
            if let Err(e) = state.media.store.delete(&variant.key(id)).await {
                tracing::warn!(error = %e, "could not delete a photo's bytes");
            }
        }
    }
}

// ---- URLs ----

/// The signature of a `/media` URL under key `key_id`: an HMAC-SHA256 with a key of its own,
/// derived from the keyring's digest key (so a signature is never a digest of another use).
fn url_signature(keys: &Keyring, key_id: u16, id: Uuid, variant: Variant, expires: i64) -> Option<[u8; 32]> {
    use hmac::{Hmac, Mac};
    let key = keys.digest_with(key_id, b"derive:media-url:v1")?;
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}:{}:{expires}", variant.as_str()).as_bytes());
    Some(mac.finalize().into_bytes().into())
}

/// A URL photo `row` can be fetched from for the next `APP_MEDIA_URL_TTL_SECS`, or `None` for a
/// thumbnail not made yet. Call it only for a viewer who may see the photo.
pub fn url(state: &AppState, row: &media::Model, variant: Variant) -> Option<String> {
    if variant == Variant::Thumbnail && row.thumbnail_at.is_none() {
        return None;
    }
    let media = &state.media;
    if let Some(url) = media.store.presigned_get(&variant.key(row.id), media.url_ttl) {
        return Some(url);
    }
    // Whole minutes, so the URLs of one photo are the same for a minute (the app's image cache
    // hits) and still expire within the TTL and a minute.
    let expires = (Utc::now().timestamp() + media.url_ttl.as_secs() as i64 + 59) / 60 * 60;
    signed_path(state, row.id, variant, expires)
}

/// The service-signed path of photo `id` in `variant`, valid until `expires` (Unix seconds),
/// under the current key. [`url`] is what the API hands out; tests also make expired ones.
pub fn signed_path(state: &AppState, id: Uuid, variant: Variant, expires: i64) -> Option<String> {
    let keys: &Keyring = &state.report_keys;
    let key_id = keys.current_key_id();
    let signature = url_signature(keys, key_id, id, variant, expires)?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature);
    Some(format!("/media/{id}/{}?k={key_id}&e={expires}&s={signature}", variant.as_str()))
}

/// Whether a `/media` URL's signature holds and has not expired.
pub fn verify(
    state: &AppState,
    id: Uuid,
    variant: Variant,
    key_id: u16,
    expires: i64,
    signature: &str,
) -> bool {
    if expires < Utc::now().timestamp() {
        return false;
    }
    let Ok(given) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature) else { return false };
    let Some(expected) = url_signature(&state.report_keys, key_id, id, variant, expires) else {
        return false;
    };
    constant_time_eq(&given, &expected)
}

/// The bytes of a photo for the `/media` endpoint (after [`verify`]); `None` when it is gone.
pub async fn bytes(state: &AppState, id: Uuid, variant: Variant) -> Result<Option<Vec<u8>>, ApiError> {
    let exists = media::Entity::find_by_id(id).count(&state.db).await? > 0;
    if !exists {
        return Ok(None);
    }
    state.media.store.get(&variant.key(id)).await.map_err(|e| store_unavailable(&e))
}

// ---- the worker ----

/// Spawns the media worker: thumbnails of new photos (woken at once by an upload on this
/// instance), and the sweep of photos no record took within a day.
pub fn spawn_worker(state: AppState, poll_interval: Duration) -> PollingWorker {
    let nudge = state.media.queued.clone();
    PollingWorker::spawn_nudged("media", poll_interval, nudge, move || {
        let state = state.clone();
        async move { run_round(&state).await }
    })
}

/// One round: up to a batch of thumbnails, and up to a batch of expired uploads. Whether more
/// is waiting. Two instances may make the same thumbnail at once: the same bytes under the same
/// key, so the waste is harmless and rare.
pub async fn run_round(state: &AppState) -> Result<bool, ApiError> {
    let due = media::Entity::find()
        .filter(media::Column::ThumbnailAt.is_null())
        .order_by_asc(media::Column::CreatedAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    for row in &due {
        make_thumbnail(state, row).await?;
    }
    let expired = media::Entity::find()
        .filter(media::Column::ParentId.is_null())
        .filter(media::Column::CreatedAt.lt(Utc::now() - UNATTACHED_TTL))
        .order_by_asc(media::Column::CreatedAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    for row in &expired {
        // Only if still unattached: a story may have taken it since.
        let res = media::Entity::delete_many()
            .filter(media::Column::Id.eq(row.id))
            .filter(media::Column::ParentId.is_null())
            .exec(&state.db)
            .await?;
        if res.rows_affected == 1 {
            forget_bytes(state, &[row.id]).await;
        }
    }
    Ok(due.len() as u64 == BATCH || expired.len() as u64 == BATCH)
}

async fn make_thumbnail(state: &AppState, row: &media::Model) -> Result<(), ApiError> {
    let media = &state.media;
    let Some(full) = media.store.get(&Variant::Full.key(row.id)).await.map_err(|e| store_unavailable(&e))?
    else {
        // Deleted meanwhile, or stored on another instance's disk (the `fs` store needs one
        // directory shared by every instance): never retried, or it would hold up the queue.
        tracing::warn!(media_id = %row.id, "a photo's bytes are missing; no thumbnail");
        return mark_thumbnail_done(state, row.id).await;
    };
    let thumb = {
        let pixels = u64::try_from(row.width).unwrap_or(0) * u64::try_from(row.height).unwrap_or(0);
        let _permit = media.reserve(pixels).await?;
        tokio::task::spawn_blocking(move || photo::thumbnail(&full)).await.map_err(|_| ApiError::Internal)?
    };
    match thumb {
        Ok(thumb) => {
            media
                .store
                .put(&Variant::Thumbnail.key(row.id), thumb.jpeg, "image/jpeg")
                .await
                .map_err(|e| store_unavailable(&e))?;
        }
        // Our own JPEG that does not decode: never retry it (it would block the queue).
        Err(e) => tracing::warn!(media_id = %row.id, error = %e, "no thumbnail for a photo"),
    }
    mark_thumbnail_done(state, row.id).await
}

async fn mark_thumbnail_done(state: &AppState, id: Uuid) -> Result<(), ApiError> {
    media::Entity::update_many()
        .col_expr(media::Column::ThumbnailAt, Expr::value(Utc::now()))
        .filter(media::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    Ok(())
}
