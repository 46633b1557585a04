//! Photos: what an upload may be (type by content, size, pixels), what comes back (upright, a
//! fresh JPEG without a byte of the original's metadata — GPS above all), thumbnails made in the
//! background, signed URLs that expire and cannot be altered, the sweep of photos nothing took,
//! and the S3 store against a local S3 server (moto).

use std::time::{Duration, Instant};

use chrono::Utc;
use entities::media;
use image::{ImageEncoder, codecs::jpeg::JpegEncoder, codecs::png::PngEncoder};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};
use service::media::{self as svc, Variant};

use crate::helpers::*;

const UPLOAD: &str =
    "mutation($file: Upload!) { uploadPhoto(file: $file) { id width height url thumbnailUrl createdAt } }";

/// Seconds of latitude in the fixture's GPS block (45.67″ as the rational 4567/100): a byte
/// pattern no re-encoded photo contains by chance.
const GPS_SECONDS: [u8; 8] = [0xd7, 0x11, 0, 0, 100, 0, 0, 0];

/// A TIFF block as cameras write in EXIF: orientation 6 (turn 90° clockwise to show) and a GPS
/// position (21°1′45.67″ N, 105°51′12.34″ E, a house in Hà Nội).
fn exif_with_gps() -> Vec<u8> {
    fn entry(t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32) {
        t.extend(tag.to_le_bytes());
        t.extend(kind.to_le_bytes());
        t.extend(count.to_le_bytes());
        t.extend(value.to_le_bytes());
    }
    const GPS_IFD: u32 = 8 + 2 + 2 * 12 + 4;
    const DATA: u32 = GPS_IFD + 2 + 4 * 12 + 4;
    let mut t = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes());
    t.extend(2u16.to_le_bytes());
    entry(&mut t, 0x0112, 3, 1, 6);
    entry(&mut t, 0x8825, 4, 1, GPS_IFD);
    t.extend(0u32.to_le_bytes());
    t.extend(4u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0"));
    entry(&mut t, 0x0002, 5, 3, DATA);
    entry(&mut t, 0x0003, 2, 2, u32::from_le_bytes(*b"E\0\0\0"));
    entry(&mut t, 0x0004, 5, 3, DATA + 24);
    t.extend(0u32.to_le_bytes());
    for (num, den) in [(21u32, 1u32), (1, 1), (4567, 100), (105, 1), (51, 1), (1234, 100)] {
        t.extend(num.to_le_bytes());
        t.extend(den.to_le_bytes());
    }
    t
}

/// A `width` × `height` JPEG (a gradient, so scaling and turning show), with `exif` if given.
fn jpeg(width: u32, height: u32, exif: Option<Vec<u8>>) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            pixels.extend([(x * 255 / width) as u8, (y * 255 / height) as u8, 128]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif).unwrap();
    }
    encoder.write_image(&pixels, width, height, image::ExtendedColorType::Rgb8).unwrap();
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let pixels = vec![90u8; (width * height * 4) as usize];
    PngEncoder::new(&mut out).write_image(&pixels, width, height, image::ExtendedColorType::Rgba8).unwrap();
    out
}

/// A PNG whose header declares `width` × `height` over a few bytes of data: a decompression
/// bomb's shape, refused before anything is decoded.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn upload(app: &TestApp, token: &str, bytes: Vec<u8>, name: &str, mime: &str) -> Gql {
    app.gql_upload(UPLOAD, json!({}), bytes, name, mime, Some(token)).await
}

async fn uploaded(app: &TestApp, token: &str, bytes: Vec<u8>) -> Value {
    upload(app, token, bytes, "IMG_0001.JPG", "image/jpeg").await.ok()["uploadPhoto"].clone()
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    let url = if url.starts_with('/') { app.url(url) } else { url.to_owned() };
    reqwest::get(url).await.unwrap()
}

async fn rows(app: &TestApp) -> Vec<media::Model> {
    media::Entity::find().all(&app.state.db).await.unwrap()
}

/// Files under the app's media directory.
fn stored_files(app: &TestApp) -> usize {
    let dir = std::path::Path::new(&app.vars["APP_MEDIA_DIR"]).join("photos");
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_with_gps_exif_comes_back_upright_without_any_metadata() {
    let app = spawn_app().await;
    let member = app.token(MEMBER).await;
    let original = jpeg(400, 300, Some(exif_with_gps()));
    assert!(contains(&original, b"Exif\0\0") && contains(&original, &GPS_SECONDS), "the fixture carries GPS");

    let photo = uploaded(&app, &member, original).await;
    // Stored upright: orientation 6 turns the 400 × 300 sensor image to 300 × 400.
    assert_eq!((photo["width"].as_i64(), photo["height"].as_i64()), (Some(300), Some(400)));
    let response = fetch(&app, photo["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let served = response.bytes().await.unwrap().to_vec();
    assert_eq!(&served[..3], &[0xff, 0xd8, 0xff], "a JPEG");
    // Not a byte of metadata: no EXIF block (APP1 marker), no GPS values, no XMP.
    assert!(!contains(&served, b"Exif"), "EXIF left in the photo");
    assert!(!contains(&served, &GPS_SECONDS), "GPS left in the photo");
    assert!(!contains(&served, &[0xff, 0xe1]), "an APP1 segment left in the photo");
    assert!(!contains(&served, b"http://ns.adobe.com/xap"), "XMP left in the photo");
    let decoded = image::load_from_memory(&served).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (300, 400));
    // The gradient ran left to right in the sensor image: upright, it runs top to bottom.
    let rgb = decoded.to_rgb8();
    assert!(rgb.get_pixel(150, 10)[0] + 100 < rgb.get_pixel(150, 390)[0], "turned the right way");

    // The row and the stored file hold the same.
    let row = rows(&app).await.remove(0);
    assert_eq!(row.size as usize, served.len());
    assert!(row.parent_id.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_fake_type_and_pixel_bombs_are_refused_and_leave_nothing() {
    let app = spawn_app_with(&[("APP_MEDIA_MAX_BYTES", "60000"), ("APP_MEDIA_MAX_PIXELS", "4000000")]).await;
    let member = app.token(MEMBER).await;
    let refusal = |r: Gql, reason: &str| {
        let r = r.expect_reason("BAD_USER_INPUT", reason);
        assert_eq!(r.field(), Some("file"));
    };
    // Larger than allowed (the check is on the bytes, before decoding).
    let big = jpeg(1200, 1200, None);
    assert!(big.len() > 60_000);
    refusal(upload(&app, &member, big, "big.jpg", "image/jpeg").await, "FILE_TOO_LARGE");
    // A name and a declared type do not make a photo.
    refusal(
        upload(&app, &member, b"#!/bin/sh\necho hi\n".to_vec(), "photo.jpg", "image/jpeg").await,
        "UNSUPPORTED_TYPE",
    );
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    refusal(upload(&app, &member, svg, "photo.png", "image/png").await, "UNSUPPORTED_TYPE");
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    refusal(upload(&app, &member, gif, "photo.jpg", "image/jpeg").await, "UNSUPPORTED_TYPE");
    // 50,000 × 50,000 declared in a file of a few dozen bytes.
    let bomb = png_declaring(50_000, 50_000);
    assert!(bomb.len() < 100);
    refusal(upload(&app, &member, bomb, "bomb.png", "image/png").await, "TOO_MANY_PIXELS");
    // A JPEG cut inside its header (one cut later decodes, grey below the cut, as in a browser).
    let mut cut = jpeg(200, 200, None);
    cut.truncate(24);
    refusal(upload(&app, &member, cut, "cut.jpg", "image/jpeg").await, "INVALID_FORMAT");
    assert!(rows(&app).await.is_empty());
    assert_eq!(stored_files(&app), 0);
    // Signed in only.
    app.gql_upload(UPLOAD, json!({}), png(4, 4), "a.png", "image/png", None)
        .await
        .expect_code("UNAUTHENTICATED");
    // And a transparent PNG is taken, laid on white.
    let photo = uploaded(&app, &member, png(40, 20)).await;
    assert_eq!((photo["width"].as_i64(), photo["height"].as_i64()), (Some(40), Some(20)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_photos_are_scaled_and_thumbnails_follow_in_the_background() {
    let app =
        spawn_app_with(&[("APP_MEDIA_MAX_EDGE", "800"), ("APP_MEDIA_POLL_INTERVAL_MS", "3600000")]).await;
    let member = app.token(MEMBER).await;
    let photo = uploaded(&app, &member, jpeg(1600, 1000, None)).await;
    assert_eq!((photo["width"].as_i64(), photo["height"].as_i64()), (Some(800), Some(500)));
    // The upload woke the worker: the thumbnail comes without waiting for a poll.
    eventually("a thumbnail", || async { rows(&app).await[0].thumbnail_at.is_some() }).await;
    let row = rows(&app).await.remove(0);
    let url = svc::url(&app.state, &row, Variant::Thumbnail).unwrap();
    let thumb = fetch(&app, &url).await.bytes().await.unwrap();
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 200));
    assert_eq!(stored_files(&app), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_url_cannot_be_altered_and_expires() {
    let app = spawn_app().await;
    let member = app.token(MEMBER).await;
    let first = uploaded(&app, &member, png(30, 30)).await;
    let second = uploaded(&app, &member, png(31, 31)).await;
    let url = first["url"].as_str().unwrap().to_owned();
    // No bearer token needed: the signature is the permission.
    assert_eq!(fetch(&app, &url).await.status(), 200);
    let other_id = svc_id(&second);
    let altered = [
        url.replace(&svc_id(&first), &other_id),
        url.replace("/full?", "/thumb?"),
        url.replace("&s=", "&s=A"),
        url.replacen("&e=", "&e=9", 1),
        url.split("&s=").next().unwrap().to_owned(),
        format!("/media/{}/full", svc_id(&first)),
    ];
    for bad in altered {
        assert_eq!(fetch(&app, &bad).await.status(), 404, "{bad}");
    }
    // A signature made for a moment past is refused, and so is one whose expiry was moved.
    let id: uuid::Uuid = svc_id(&first).parse().unwrap();
    let expires = Utc::now().timestamp() - 1;
    let expired = svc::signed_path(&app.state, id, Variant::Full, expires).unwrap();
    assert_eq!(fetch(&app, &expired).await.status(), 404);
    let moved = expired.replace(&format!("e={expires}"), &format!("e={}", expires + 120));
    assert_eq!(fetch(&app, &moved).await.status(), 404, "the signature covers the expiry");
    let later = svc::signed_path(&app.state, id, Variant::Full, expires + 120).unwrap();
    assert_eq!(fetch(&app, &later).await.status(), 200);
    // A key id the keyring does not hold.
    let unknown = later.replace("?k=1&", "?k=999&");
    assert_ne!(unknown, later);
    assert_eq!(fetch(&app, &unknown).await.status(), 404);
}

/// The UUID of a photo from its API answer.
fn svc_id(photo: &Value) -> String {
    uuid_of(photo["id"].as_str().unwrap()).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_nothing_took_are_bounded_and_swept_after_a_day() {
    let app = spawn_app_with(&[("APP_MEDIA_POLL_INTERVAL_MS", "3600000")]).await;
    let member = app.token(MEMBER).await;
    for _ in 0..svc::MAX_PENDING_PER_PERSON {
        uploaded(&app, &member, png(8, 8)).await;
    }
    upload(&app, &member, png(8, 8), "a.png", "image/png").await.expect_reason("BAD_USER_INPUT", "TOO_MANY");
    // Someone else is not held back by her uploads.
    uploaded(&app, &app.token(BD1_LEADER).await, png(8, 8)).await;
    eventually("every thumbnail", || async { rows(&app).await.iter().all(|r| r.thumbnail_at.is_some()) })
        .await;

    // A day later the worker deletes them, rows and bytes.
    for row in rows(&app).await {
        let mut row: media::ActiveModel = row.into();
        row.created_at = Set(Utc::now() - chrono::Duration::hours(25));
        row.update(&app.state.db).await.unwrap();
    }
    while svc::run_round(&app.state).await.unwrap() {}
    assert_eq!(media::Entity::find().count(&app.state.db).await.unwrap(), 0);
    assert_eq!(stored_files(&app), 0);
    uploaded(&app, &member, png(8, 8)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_bytes_are_gone_does_not_hold_up_the_thumbnails() {
    let app = spawn_app_with(&[("APP_MEDIA_POLL_INTERVAL_MS", "3600000")]).await;
    let member = app.token(MEMBER).await;
    // Stored on another instance's disk, say: the row is there, the bytes are not.
    let lost = uploaded(&app, &member, png(10, 10)).await;
    let id: uuid::Uuid = svc_id(&lost).parse().unwrap();
    std::fs::remove_file(std::path::Path::new(&app.vars["APP_MEDIA_DIR"]).join(Variant::Full.key(id)))
        .unwrap();
    let kept = uploaded(&app, &member, png(12, 12)).await;
    while svc::run_round(&app.state).await.unwrap() {}
    let rows = rows(&app).await;
    assert!(rows.iter().all(|r| r.thumbnail_at.is_some()), "the worker moved on: {rows:?}");
    assert!(!svc::run_round(&app.state).await.unwrap(), "and has nothing more to do");
    let kept_id: uuid::Uuid = svc_id(&kept).parse().unwrap();
    assert!(app.state.media.store.get(&Variant::Thumbnail.key(kept_id)).await.unwrap().is_some());
    assert_eq!(fetch(&app, lost["url"].as_str().unwrap()).await.status(), 404);
}

// ---- the S3 store, against moto ----

/// A local S3 server (moto, from PyPI) on a free port, stopped when dropped. `None` when moto is
/// not installed here, unless `TEST_REQUIRE_S3` says it must be (CI installs it).
struct Moto(std::process::Child, u16);

impl Moto {
    fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        match std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => Some(Moto(child, port)),
            Err(_) if std::env::var("TEST_REQUIRE_S3").is_ok() => panic!("moto_server is not installed"),
            Err(_) => {
                eprintln!("moto_server is not installed: the S3 store is not tested here");
                None
            }
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.1)
    }

    /// Waits until it answers, then creates `bucket`.
    async fn bucket(&self, bucket: &str) {
        service::sms::install_tls_provider();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(self.endpoint()).send().await.is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let status = client.put(format!("{}/{bucket}", self.endpoint())).send().await.unwrap().status();
        assert!(status.is_success(), "{status}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn s3_vars(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("APP_MEDIA_STORE", "s3".to_owned()),
        ("APP_MEDIA_S3_ENDPOINT", moto.endpoint()),
        ("APP_MEDIA_S3_BUCKET", "phunu-photos".to_owned()),
        ("APP_MEDIA_S3_ACCESS_KEY_ID", "test-access-key".to_owned()),
        ("APP_MEDIA_S3_SECRET_ACCESS_KEY", "test-secret-key".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_live_in_s3_compatible_storage_behind_presigned_urls() {
    let Some(moto) = Moto::start() else { return };
    moto.bucket("phunu-photos").await;
    let vars = s3_vars(&moto);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let member = app.token(MEMBER).await;
    let photo = uploaded(&app, &member, jpeg(64, 48, Some(exif_with_gps()))).await;
    let url = photo["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/phunu-photos/photos/", moto.endpoint())), "{url}");
    assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=600"), "{url}");
    let served = fetch(&app, url).await.bytes().await.unwrap();
    assert!(image::load_from_memory(&served).is_ok() && !contains(&served, &GPS_SECONDS));
    assert_eq!(stored_files(&app), 0, "nothing on the local disk");
    // Thumbnails go to the bucket too; deleting removes both objects.
    eventually("a thumbnail", || async { rows(&app).await[0].thumbnail_at.is_some() }).await;
    let id = rows(&app).await[0].id;
    let store = &app.state.media.store;
    assert!(store.get(&Variant::Thumbnail.key(id)).await.unwrap().is_some());
    svc::forget_bytes(&app.state, &[id]).await;
    assert!(store.get(&Variant::Full.key(id)).await.unwrap().is_none());
    assert!(store.get(&Variant::Thumbnail.key(id)).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_answers_unavailable_and_records_nothing() {
    // An S3 endpoint where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("APP_MEDIA_STORE", "s3"),
        ("APP_MEDIA_S3_ENDPOINT", &endpoint),
        ("APP_MEDIA_S3_BUCKET", "b"),
        ("APP_MEDIA_S3_ACCESS_KEY_ID", "k"),
        ("APP_MEDIA_S3_SECRET_ACCESS_KEY", "s"),
        ("APP_MEDIA_TIMEOUT_MS", "500"),
    ])
    .await;
    let member = app.token(MEMBER).await;
    let r = upload(&app, &member, png(8, 8), "a.png", "image/png").await;
    assert_eq!(r.status, 503);
    r.expect_code("UNAVAILABLE");
    assert!(rows(&app).await.is_empty());
}
