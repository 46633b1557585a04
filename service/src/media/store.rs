//! Where photo bytes live, behind one interface: the local filesystem (the default, under
//! `APP_MEDIA_DIR`) or S3-compatible object storage (`APP_MEDIA_STORE=s3`: AWS S3, MinIO,
//! Viettel or VNPT object storage…), signed with `rusty-s3` and sent over the service's own HTTP
//! client.
//!
//! Keys are made by the service (`photos/<uuid>.jpg`), never from user input. A write is
//! durable when it returns: the filesystem store writes a temporary file, syncs it and renames
//! it into place (a crash leaves either nothing or the whole file); S3 answers a `PUT` once it
//! has stored the object.

use std::{path::PathBuf, time::Duration};

use secrecy::{ExposeSecret, SecretString};

/// A store failure. Says what failed, never a key's secret or a signed URL.
#[derive(Debug, thiserror::Error)]
#[error("media store: {0}")]
pub struct StoreError(pub String);

/// Reads and writes objects by key.
#[async_trait::async_trait]
pub trait MediaStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), StoreError>;
    /// `None` when there is no such object.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Removing a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// A URL the object can be fetched from directly for `ttl`, where the store can sign one
    /// (S3); `None`: the service serves it itself (`/media/…`, signed by the service).
    fn presigned_get(&self, key: &str, ttl: Duration) -> Option<String>;
}

/// Objects as files under a directory.
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        // Keys are ours, but a path must never leave the root whatever it is given.
        if key.is_empty() || key.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(StoreError("invalid key".into()));
        }
        Ok(self.root.join(key))
    }
}

fn io(what: &str, e: &std::io::Error) -> StoreError {
    StoreError(format!("{what}: {}", e.kind()))
}

#[async_trait::async_trait]
impl MediaStore for FsStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let dir = path.parent().ok_or_else(|| StoreError("invalid key".into()))?;
            std::fs::create_dir_all(dir).map_err(|e| io("creating the directory", &e))?;
            let tmp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
            let written = (|| {
                let mut file = std::fs::File::create(&tmp)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                // The rename is durable once the directory is.
                std::fs::File::open(dir)?.sync_all()
            })();
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(io("writing", &e));
            }
            Ok(())
        })
        .await
        .map_err(|_| StoreError("the writer stopped".into()))?
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("deleting", &e)),
        }
    }

    fn presigned_get(&self, _key: &str, _ttl: Duration) -> Option<String> {
        None
    }
}

/// Where an S3-compatible store is and how to sign for it.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `https://s3.ap-southeast-1.amazonaws.com`, or a MinIO/provider endpoint.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Bucket in the path (`endpoint/bucket/key`, what MinIO and most providers want) rather
    /// than in the host name.
    pub path_style: bool,
}

/// Objects in an S3 bucket. Each request is signed (SigV4) for a minute and sent with the
/// service's HTTP client; reads for clients are presigned GET URLs.
pub struct S3Store {
    bucket: rusty_s3::Bucket,
    credentials: rusty_s3::Credentials,
    client: reqwest::Client,
}

/// How long the signature of the service's own requests is valid.
const REQUEST_SIGNATURE: Duration = Duration::from_secs(60);

impl S3Store {
    pub fn new(config: &S3Config, timeout: Duration) -> Result<Self, StoreError> {
        let endpoint = config.endpoint.parse().map_err(|_| StoreError("the endpoint is not a URL".into()))?;
        let style =
            if config.path_style { rusty_s3::UrlStyle::Path } else { rusty_s3::UrlStyle::VirtualHost };
        let bucket = rusty_s3::Bucket::new(endpoint, style, config.bucket.clone(), config.region.clone())
            .map_err(|_| StoreError("the endpoint or bucket is invalid".into()))?;
        let credentials = rusty_s3::Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.expose_secret().to_owned(),
        );
        crate::sms::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| StoreError("the HTTP client could not be built".into()))?;
        Ok(Self { bucket, credentials, client })
    }

    fn failed(what: &str, err: &reqwest::Error) -> StoreError {
        let why = if err.is_timeout() { "timed out" } else { "request failed" };
        StoreError(format!("{what} {why}"))
    }
}

#[async_trait::async_trait]
impl MediaStore for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        use rusty_s3::S3Action;
        let url = self.bucket.put_object(Some(&self.credentials), key).sign(REQUEST_SIGNATURE);
        let response = self
            .client
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes)
            .send()
            .await
            .map_err(|e| Self::failed("PUT", &e))?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            status => Err(StoreError(format!("PUT answered {status}"))),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        use rusty_s3::S3Action;
        let url = self.bucket.get_object(Some(&self.credentials), key).sign(REQUEST_SIGNATURE);
        let response = self.client.get(url).send().await.map_err(|e| Self::failed("GET", &e))?;
        match response.status().as_u16() {
            200 => Ok(Some(response.bytes().await.map_err(|e| Self::failed("GET", &e))?.to_vec())),
            404 => Ok(None),
            status => Err(StoreError(format!("GET answered {status}"))),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        use rusty_s3::S3Action;
        let url = self.bucket.delete_object(Some(&self.credentials), key).sign(REQUEST_SIGNATURE);
        let response = self.client.delete(url).send().await.map_err(|e| Self::failed("DELETE", &e))?;
        match response.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(StoreError(format!("DELETE answered {status}"))),
        }
    }

    fn presigned_get(&self, key: &str, ttl: Duration) -> Option<String> {
        use rusty_s3::S3Action;
        Some(self.bucket.get_object(Some(&self.credentials), key).sign(ttl).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_filesystem_store_keeps_keys_inside_its_root() {
        let root = std::env::temp_dir().join(format!("phunu-store-{}", uuid::Uuid::new_v4().simple()));
        let store = FsStore::new(&root);
        store.put("photos/a.jpg", b"abc".to_vec(), "image/jpeg").await.unwrap();
        assert_eq!(store.get("photos/a.jpg").await.unwrap().as_deref(), Some(&b"abc"[..]));
        assert_eq!(store.get("photos/missing.jpg").await.unwrap(), None);
        store.delete("photos/a.jpg").await.unwrap();
        store.delete("photos/a.jpg").await.unwrap();
        assert_eq!(store.get("photos/a.jpg").await.unwrap(), None);
        for bad in ["../etc/passwd", "photos/../../x", "", "/abs", "photos//x"] {
            assert!(store.put(bad, vec![1], "image/jpeg").await.is_err(), "{bad}");
        }
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(root.join("photos")).unwrap().collect();
        assert!(left.is_empty());
        std::fs::remove_dir_all(root).unwrap();
    }
}
