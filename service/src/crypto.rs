//! Encryption at rest for what a domestic-violence report says: every free-text and contact
//! value is sealed with XChaCha20-Poly1305 (an authenticated cipher with random 192-bit nonces)
//! under a key from configuration.
//!
//! - A sealed value starts with the id of its key, so keys rotate: new values are sealed with
//!   the current key, older ones still open with theirs as long as it is configured.
//! - A value is bound to where it belongs (its row and field, as associated data): copied to
//!   another row or field, it no longer opens.
//! - Keys never reach a log or a `Debug` output.
//!
//! Layout: `[version 1][key id, 2 bytes big-endian][nonce, 24 bytes][ciphertext and 16-byte tag]`.

use std::{collections::BTreeMap, fmt, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + 2 + NONCE_LEN;

/// What went wrong opening a sealed value. Carries no part of the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key {0}, which is not configured")]
    UnknownKey(u16),
    #[error("sealed value does not authenticate")]
    Forged,
    #[error("the operating system's random generator failed")]
    Random,
}

/// A problem with the configured keys (the message names the problem, never a key).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct KeyringError(pub String);

/// The configured keys: the current one seals, every one opens.
#[derive(Clone)]
pub struct Keyring {
    current: u16,
    ciphers: BTreeMap<u16, XChaCha20Poly1305>,
    /// For keyed digests ([`Keyring::digest`]), derived from each key.
    digest_keys: BTreeMap<u16, [u8; 32]>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("keys", &self.ciphers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Parses `id:base64key[,id:base64key…]`: 32-byte keys with ids from 1 to 65535; the first
    /// is the current one.
    pub fn parse(spec: &str) -> Result<Self, KeyringError> {
        let mut current = None;
        let mut ciphers = BTreeMap::new();
        let mut digest_keys = BTreeMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, key) = part
                .split_once(':')
                .ok_or_else(|| KeyringError("each key must be written id:base64".into()))?;
            let id: u16 = id
                .trim()
                .parse()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| KeyringError("a key id must be a number from 1 to 65535".into()))?;
            let bytes = STANDARD
                .decode(key.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| KeyringError(format!("key {id} must be 32 bytes in base64")))?;
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| KeyringError(format!("key {id} must be 32 bytes in base64")))?;
            if ciphers.insert(id, cipher).is_some() {
                return Err(KeyringError(format!("key id {id} is given twice")));
            }
            digest_keys.insert(id, derive(&bytes, b"phunu report digest v1"));
            current.get_or_insert(id);
        }
        let current = current.ok_or_else(|| KeyringError("no key given".into()))?;
        Ok(Self { current, ciphers, digest_keys })
    }

    /// A new random key as `1:base64`, for a development database.
    pub fn generate_spec() -> Result<String, CryptoError> {
        let mut key = [0u8; 32];
        fill_random(&mut key)?;
        Ok(format!("1:{}", STANDARD.encode(key)))
    }

    /// The keys kept in `path` (created, readable by its owner only, when missing): the
    /// development default, so reports stay readable across restarts of one checkout.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyringError> {
        let io = |e: std::io::Error| KeyringError(format!("development key file {}: {e}", path.display()));
        match std::fs::read_to_string(path) {
            Ok(spec) => Self::parse(&spec),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let spec = Self::generate_spec().map_err(|e| KeyringError(e.to_string()))?;
                write_private(path, &spec).map_err(io)?;
                Self::parse(&spec)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Whether the key `id` is configured (values sealed with it open).
    pub fn has_key(&self, id: u16) -> bool {
        self.ciphers.contains_key(&id)
    }

    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> u16 {
        self.current
    }

    /// Seals `plaintext` for the place named by `context` (e.g. the row id and field).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let cipher = &self.ciphers[&self.current];
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: context })
            // Encryption fails only for inputs of several gigabytes, far above any field limit.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&self.current.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < HEADER_LEN + 16 || sealed[0] != VERSION {
            return Err(CryptoError::Malformed);
        }
        let id = u16::from_be_bytes([sealed[1], sealed[2]]);
        let cipher = self.ciphers.get(&id).ok_or(CryptoError::UnknownKey(id))?;
        let nonce: [u8; NONCE_LEN] = sealed[3..HEADER_LEN].try_into().map_err(|_| CryptoError::Malformed)?;
        cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: &sealed[HEADER_LEN..], aad: context })
            .map_err(|_| CryptoError::Forged)
    }

    /// Seals a string.
    pub fn seal_str(&self, text: &str, context: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal(text.as_bytes(), context)
    }

    /// Opens a sealed string.
    pub fn open_str(&self, sealed: &[u8], context: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open(sealed, context)?).map_err(|_| CryptoError::Malformed)
    }

    /// A keyed digest (HMAC-SHA-256) of `data` under the current key: compares inputs without
    /// storing them, and without letting someone holding only the database confirm a guess.
    pub fn digest(&self, data: &[u8]) -> [u8; 32] {
        self.digest_with(self.current, data).unwrap_or_else(|| unreachable!())
    }

    /// The same under key `id` (the key of a value sealed earlier), if it is configured.
    pub fn digest_with(&self, id: u16, data: &[u8]) -> Option<[u8; 32]> {
        let key = self.digest_keys.get(&id)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        mac.update(data);
        Some(mac.finalize().into_bytes().into())
    }

    /// The id of the key a value was sealed with.
    pub fn key_id_of(sealed: &[u8]) -> Option<u16> {
        (sealed.len() >= HEADER_LEN && sealed[0] == VERSION)
            .then(|| u16::from_be_bytes([sealed[1], sealed[2]]))
    }
}

/// Whether `a` and `b` are equal, in time that tells nothing of where they differ (or of their
/// lengths): their digests are compared whole.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest;
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn derive(key: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(|_| CryptoError::Random)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn a_value_opens_only_where_it_was_sealed() {
        let ring = Keyring::parse(&format!("1:{}", key(7))).unwrap();
        let sealed = ring.seal_str("bí mật", b"report-1/description").unwrap();
        assert_eq!(ring.open_str(&sealed, b"report-1/description").unwrap(), "bí mật");
        assert!(!sealed.windows(6).any(|w| w == "bí mật".as_bytes()));
        assert_eq!(ring.open(&sealed, b"report-2/description"), Err(CryptoError::Forged));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(ring.open(&tampered, b"report-1/description"), Err(CryptoError::Forged));
        assert_eq!(ring.open(&sealed[..10], b"report-1/description"), Err(CryptoError::Malformed));
        // Two seals of one value differ (fresh nonces).
        assert_ne!(sealed, ring.seal_str("bí mật", b"report-1/description").unwrap());
    }

    #[test]
    fn keys_rotate_old_values_still_open() {
        let old = Keyring::parse(&format!("1:{}", key(1))).unwrap();
        let sealed = old.seal(b"x", b"c").unwrap();
        let rotated = Keyring::parse(&format!("2:{}, 1:{}", key(2), key(1))).unwrap();
        assert_eq!(rotated.current_key_id(), 2);
        assert_eq!(rotated.open(&sealed, b"c").unwrap(), b"x");
        assert_eq!(rotated.seal(b"y", b"c").unwrap()[1..3], 2u16.to_be_bytes());
        let without = Keyring::parse(&format!("2:{}", key(2))).unwrap();
        assert_eq!(without.open(&sealed, b"c"), Err(CryptoError::UnknownKey(1)));
    }

    #[test]
    fn bad_key_specs_are_refused_without_echoing_the_key() {
        for spec in ["", "1:short", "0:".to_owned().as_str(), "x:abc", "1:@@@"] {
            let err = Keyring::parse(spec).unwrap_err();
            assert!(!err.0.contains("short") && !err.0.contains("@@@"), "{}", err.0);
        }
        let twice = format!("1:{},1:{}", key(1), key(2));
        assert!(Keyring::parse(&twice).is_err());
        let ring = Keyring::parse(&format!("1:{}", key(9))).unwrap();
        assert!(!format!("{ring:?}").contains(&key(9)));
    }

    #[test]
    fn digests_depend_on_the_key_and_survive_rotation() {
        let a = Keyring::parse(&format!("1:{}", key(1))).unwrap();
        let b = Keyring::parse(&format!("1:{}", key(2))).unwrap();
        assert_eq!(a.digest(b"input"), a.digest(b"input"));
        assert_ne!(a.digest(b"input"), b.digest(b"input"));
        let sealed = a.seal(b"x", b"c").unwrap();
        let rotated = Keyring::parse(&format!("2:{}, 1:{}", key(2), key(1))).unwrap();
        let id = Keyring::key_id_of(&sealed).unwrap();
        assert_eq!(rotated.digest_with(id, b"input"), Some(a.digest(b"input")));
        assert_eq!(rotated.digest(b"input"), b.digest(b"input"));
    }

    #[test]
    fn the_development_key_file_is_created_once() {
        let path =
            std::env::temp_dir().join(format!("phunu-key-{}", uuid::Uuid::new_v4().simple())).join("key");
        let first = Keyring::load_or_create(&path).unwrap();
        let sealed = first.seal(b"x", b"c").unwrap();
        let again = Keyring::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed, b"c").unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
