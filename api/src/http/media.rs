//! `GET /media/{id}/{full|thumb}?k=&e=&s=`: a photo's bytes, for whoever holds a URL the API
//! signed for her (see `service::media`): no bearer token is needed — an `<img>` cannot send
//! one — but the URL expires within `APP_MEDIA_URL_TTL_SECS` (and a minute), and the API hands
//! URLs only to viewers who may see the photo's record. A wrong, altered or expired signature,
//! an unknown photo and a deleted one all answer a bare 404.

use actix_web::{HttpResponse, http::header, web};
use uuid::Uuid;

use service::{
    media::{self, Variant},
    state::AppState,
};

/// The URL's signature; each part optional here so that a URL missing one answers 404 like
/// any other wrong URL.
#[derive(serde::Deserialize)]
pub struct Signature {
    k: Option<String>,
    e: Option<String>,
    s: Option<String>,
}

pub async fn photo(
    path: web::Path<(String, String)>,
    query: web::Query<Signature>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (id, variant) = path.into_inner();
    let (Ok(id), Some(variant)) = (id.parse::<Uuid>(), Variant::parse(&variant)) else {
        return HttpResponse::NotFound().finish();
    };
    let k = query.k.as_deref().and_then(|k| k.parse::<u16>().ok());
    let e = query.e.as_deref().and_then(|e| e.parse::<i64>().ok());
    let (Some(k), Some(e), Some(s)) = (k, e, query.s.as_deref()) else {
        return HttpResponse::NotFound().finish();
    };
    if !media::verify(&state, id, variant, k, e, s) {
        return HttpResponse::NotFound().finish();
    }
    match media::bytes(&state, id, variant).await {
        Ok(Some(bytes)) => HttpResponse::Ok()
            .content_type("image/jpeg")
            .insert_header((
                header::CACHE_CONTROL,
                format!("private, max-age={}", state.settings.media.url_ttl.as_secs()),
            ))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::CONTENT_DISPOSITION, "inline"))
            .body(bytes),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(_) => HttpResponse::ServiceUnavailable().insert_header((header::RETRY_AFTER, "5")).finish(),
    }
}
