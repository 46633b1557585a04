//! GraphiQL (`APP_GRAPHIQL`, on in development), served whole from the binary: the page, its
//! start-up script, and GraphiQL's and React's browser builds vendored in `api/assets/graphiql`
//! (`vendor.sh` there pulls them from the npm registry). Nothing loads from a CDN, so the page
//! works on a closed network, and no third-party origin runs script next to officers' tokens.
//!
//! The page is sent with a content security policy ([`CSP`]) that lets it load script and
//! styles from this origin only, talk to this origin only (`/graphql` and `/graphql/ws`), and
//! not be framed. The files are compressed once per coding on first use (see `compression`).

use std::sync::OnceLock;

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use service::state::AppState;

use super::compression::{self, Coding};

/// The page's content security policy. GraphiQL's stylesheet embeds its fonts and icons as
/// `data:` URLs; its editor sets element styles from script, which `style-src` does not govern.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

const PAGE: Asset = asset!("index.html", "text/html; charset=utf-8");

const FILES: [Asset; 6] = [
    asset!("init.js", "text/javascript; charset=utf-8"),
    asset!("page.css", "text/css; charset=utf-8"),
    asset!("graphiql.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql.min.css", "text/css; charset=utf-8"),
    asset!("react.production.min.js", "text/javascript; charset=utf-8"),
    asset!("react-dom.production.min.js", "text/javascript; charset=utf-8"),
];

/// Each file in each coding, made on first use.
static PACKED: [[OnceLock<Option<Vec<u8>>>; 3]; 6] = [const { [const { OnceLock::new() }; 3] }; 6];

fn coding_index(coding: Coding) -> usize {
    match coding {
        Coding::Zstd => 0,
        Coding::Brotli => 1,
        Coding::Gzip => 2,
    }
}

/// `asset` for `req`: compressed when the client takes a coding of ours.
fn serve(
    req: &HttpRequest,
    asset: &Asset,
    packed: Option<&'static [OnceLock<Option<Vec<u8>>>; 3]>,
) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    resp.content_type(asset.content_type)
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    let accept = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    if let (Some(coding), Some(packed)) = (compression::negotiate(accept), packed) {
        let bytes =
            packed[coding_index(coding)].get_or_init(|| compression::compress(coding, asset.bytes).ok());
        if let Some(bytes) = bytes {
            return resp.insert_header((header::CONTENT_ENCODING, coding.token())).body(bytes.as_slice());
        }
    }
    resp.body(asset.bytes)
}

/// The page (`GET /graphql` from a browser).
pub fn page(req: &HttpRequest) -> HttpResponse {
    let mut resp = serve(req, &PAGE, None);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(CSP));
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    resp
}

/// `GET /graphiql/{file}`: the page's files (404 when GraphiQL is off).
pub async fn file(req: HttpRequest, name: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let found = FILES.iter().position(|a| a.name == name.as_str());
    match found {
        Some(i) if state.settings.graphiql => {
            let mut resp = serve(&req, &FILES[i], Some(&PACKED[i]));
            // Cached for a day; a new version of the files comes with a new binary.
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("public, max-age=86400"));
            resp
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_embedded_files_are_the_vendored_ones() {
        let sums = include_str!("../../assets/graphiql/SHA256SUMS");
        let mut checked = 0;
        for line in sums.lines() {
            let (hash, name) = line.split_once("  ").unwrap_or_default();
            let asset = FILES.iter().find(|a| a.name == name);
            let Some(asset) = asset else { panic!("{name} is listed in SHA256SUMS but not served") };
            let digest: String = Sha256::digest(asset.bytes).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(digest, hash, "{name}");
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    #[test]
    fn the_page_loads_only_from_this_origin() {
        let page = std::str::from_utf8(PAGE.bytes).unwrap_or_default();
        for attr in ["src=\"", "href=\""] {
            for (i, _) in page.match_indices(attr) {
                let url = &page[i + attr.len()..];
                assert!(url.starts_with("/graphiql/"), "{}", &url[..url.find('"').unwrap_or(url.len())]);
                let name = &url["/graphiql/".len()..url.find('"').unwrap_or(url.len())];
                assert!(FILES.iter().any(|a| a.name == name), "{name} is not served");
            }
        }
        assert!(!page.contains("<script>") && !page.contains("<style"), "inline script or style");
    }
}
