//! GraphQL surface of photos: `uploadPhoto` (a multipart request, the GraphQL multipart request
//! spec's `Upload`) and the `Photo` type. A photo is shown through the record it belongs to (a
//! story); `uploadPhoto` answers its owner with the photo she can then attach. Rules in
//! `service::media`.

use async_graphql::{Context, ID, Object, Result, Upload};
use chrono::{DateTime, Utc};
use entities::media;

use super::ContextExt;
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
    media::{self as svc, Variant},
};

/// A photo: re-encoded, without any of the uploaded file's metadata. Its URLs are short-lived
/// (`APP_MEDIA_URL_TTL_SECS`): fetch them again with the record when they expire.
pub struct Photo(pub media::Model);

#[Object]
impl Photo {
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Photo, self.0.id).encode().into()
    }

    /// Pixels, as stored (at most `APP_MEDIA_MAX_EDGE` on the long edge).
    async fn width(&self) -> i32 {
        self.0.width
    }

    async fn height(&self) -> i32 {
        self.0.height
    }

    /// The photo (JPEG), for a few minutes.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        svc::url(ctx.state()?, &self.0, Variant::Full).ok_or_else(|| ApiError::Internal.into())
    }

    /// A small version (320 pixels on the long edge), made in the background: null for the
    /// first moments after an upload (show `url` meanwhile).
    async fn thumbnail_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(svc::url(ctx.state()?, &self.0, Variant::Thumbnail))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct MediaMutation;

#[Object]
impl MediaMutation {
    /// Uploads a photo (JPEG, PNG or WebP, told by its content; at most `APP_MEDIA_MAX_BYTES`
    /// and `APP_MEDIA_MAX_PIXELS`). It is re-encoded without its metadata (no place, no camera)
    /// and stays the caller's own until a story takes it; one nothing took within a day is
    /// deleted. At most 20 wait at once.
    async fn upload_photo(&self, ctx: &Context<'_>, file: Upload) -> Result<Photo> {
        ctx.auth()?.require()?;
        let upload = file.value(ctx).map_err(|_| ApiError::bad_input("file", InputProblem::Required))?;
        let row = svc::upload_photo(ctx.call()?, upload.content.to_vec()).await?;
        Ok(Photo(row))
    }
}
