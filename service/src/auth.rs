//! Authentication: password hashing, access tokens, and turning a bearer token into a [`Viewer`].
//!
//! Access tokens are HS256 JWTs whose algorithm is pinned and whose `iss`, `aud`, `exp` and `typ`
//! are all checked, and one issued in the future (beyond the clock leeway) is refused; they carry
//! the session id (`sid`). A session revoked by logout, password change or refresh-token reuse
//! is revoked in the database (the record) and flagged in the cache (the fast path), so its
//! tokens stop working at once; when the cache cannot vouch for its flags (an outage, or Redis
//! restarted empty) the session is looked up in the database instead — a missing flag is never
//! taken for "not revoked" then. Refresh tokens are opaque random strings; only their SHA-256
//! is stored.
//!
//! Integration clients get access tokens of their own type (RFC 9068: header `typ: at+jwt`,
//! `client_id`, `scope`), signed under a key of their own derived from the secret: a person's
//! token never verifies as a client's, nor a client's as a person's. A client token names the
//! secret it was issued against; revoking that secret or the client flags it like a session.

use entities::ids::{ClientId, PersonId, UnitId};
use std::{sync::OnceLock, time::Duration};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::Mac;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use sea_orm::DatabaseConnection;

use crate::{
    cache::{Cache, Revocation},
    config::Settings,
    error::{ApiError, InputProblem},
    integrations::{ClientViewer, ScopeSet},
};

/// The signed-in caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub person_id: PersonId,
    pub session_id: Uuid,
}

/// What the request's credentials amount to. A token that is present but invalid is kept apart
/// from no token at all, so that a public query still works while `me` says `UNAUTHENTICATED` —
/// and so that an expired token never turns a signed-in action into an anonymous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Anonymous,
    Rejected,
    Signed(Viewer),
    /// Signed in with a password only, while a role she holds needs a second factor
    /// (`APP_MFA_REQUIRED_ROLES`): until she enrols or proves it (`identity::mfa`), every
    /// request but those answers `FORBIDDEN` `MFA_REQUIRED`.
    Pending(Viewer),
    /// An integration client's token: never a person, so everything that needs one answers
    /// `FORBIDDEN` (see `integrations`).
    Client(ClientViewer),
}

impl Auth {
    /// The viewer, or `UNAUTHENTICATED` (`FORBIDDEN` `MFA_REQUIRED` while the second factor is
    /// owed).
    pub fn require(&self) -> Result<&Viewer, ApiError> {
        match self {
            Auth::Signed(v) => Ok(v),
            Auth::Pending(_) => Err(ApiError::MfaRequired),
            Auth::Client(_) => Err(ApiError::Forbidden),
            Auth::Anonymous | Auth::Rejected => Err(ApiError::Unauthenticated),
        }
    }

    /// The viewer, even while her second factor is owed: only for what she needs to provide
    /// it (enrolling, stepping up) and to see or end her session.
    pub fn require_before_mfa(&self) -> Result<&Viewer, ApiError> {
        match self {
            Auth::Signed(v) | Auth::Pending(v) => Ok(v),
            Auth::Client(_) => Err(ApiError::Forbidden),
            Auth::Anonymous | Auth::Rejected => Err(ApiError::Unauthenticated),
        }
    }

    /// The viewer, or `None` for a request without credentials; `UNAUTHENTICATED` for one whose
    /// token is invalid, expired or revoked (the client refreshes it and sends the request
    /// again, rather than having it taken as anonymous).
    pub fn optional(&self) -> Result<Option<&Viewer>, ApiError> {
        match self {
            Auth::Signed(v) => Ok(Some(v)),
            Auth::Pending(_) => Err(ApiError::MfaRequired),
            // A client is not "no one": what anyone may read, it reads through a `Reader`.
            Auth::Client(_) => Err(ApiError::Forbidden),
            Auth::Anonymous => Ok(None),
            Auth::Rejected => Err(ApiError::Unauthenticated),
        }
    }
}

/// What an access token says beyond whose session it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenFlags {
    /// The session proved a second factor.
    pub mfa: bool,
    /// A second factor is owed (see [`Auth::Pending`]).
    pub pending: bool,
}

const ACCESS_TYPE: &str = "access";
/// The JOSE `typ` of a client access token (RFC 9068 §2.1).
const CLIENT_TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: PersonId,
    sid: Uuid,
    iat: i64,
    exp: i64,
    jti: Uuid,
    typ: String,
    /// The session proved a second factor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    mfa: bool,
    /// A second factor is owed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pend: bool,
}

/// The claims of a client access token (RFC 9068 §2.2), with the client's subtree and the
/// secret the token was issued against.
#[derive(Debug, Serialize, Deserialize)]
struct ClientClaims {
    iss: String,
    aud: String,
    /// The client id (a client acting for itself is its own subject).
    sub: String,
    client_id: ClientId,
    iat: i64,
    exp: i64,
    jti: Uuid,
    scope: String,
    unit: UnitId,
    sec: Uuid,
    /// Its own cost bucket: capacity and points restored a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    qb: Option<(u32, u32)>,
    /// It may run only its trusted documents.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    tdo: bool,
}

/// Keys and rules for access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// MAC key of check-in codes, derived from the secret (never the secret itself).
    check_in_key: [u8; 32],
    check_in_ttl: Duration,
    /// MAC key of phone verification tokens.
    verification_key: [u8; 32],
    /// HMAC key of stored phone codes.
    phone_code_key: [u8; 32],
    /// HMAC key of stored recovery codes.
    recovery_key: [u8; 32],
    /// HMAC key deriving a refresh token's successor (see [`Self::successor`]).
    successor_key: [u8; 32],
    pub refresh_reuse_grace: Duration,
    client_encoding: EncodingKey,
    client_decoding: DecodingKey,
    pub client_token_ttl: Duration,
}

type HmacSha256 = hmac::Hmac<Sha256>;

/// Layout of the short MAC'd tokens (check-in codes, phone verification tokens): version, a
/// record id, expiry (Unix seconds, big-endian), and the first 128 bits of an HMAC-SHA256 over
/// those under the token kind's own key — so a token of one kind is never valid as another.
const MAC_TOKEN_VERSION: u8 = 1;
const MAC_TOKEN_PAYLOAD: usize = 1 + 16 + 8;
const MAC_TOKEN_TAG: usize = 16;

fn hmac_with(key: &[u8; 32]) -> HmacSha256 {
    // HMAC takes a key of any length.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

fn mac_token(key: &[u8; 32], id: Uuid, exp: DateTime<Utc>) -> String {
    let mut token = Vec::with_capacity(MAC_TOKEN_PAYLOAD + MAC_TOKEN_TAG);
    token.push(MAC_TOKEN_VERSION);
    token.extend_from_slice(id.as_bytes());
    token.extend_from_slice(&u64::try_from(exp.timestamp()).unwrap_or(0).to_be_bytes());
    let mut mac = hmac_with(key);
    mac.update(&token);
    let tag = mac.finalize().into_bytes();
    token.extend_from_slice(&tag[..MAC_TOKEN_TAG]);
    URL_SAFE_NO_PAD.encode(token)
}

fn open_mac_token(key: &[u8; 32], token: &str, now: DateTime<Utc>) -> Result<Uuid, InputProblem> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim().as_bytes()).map_err(|_| InputProblem::InvalidFormat)?;
    if bytes.len() != MAC_TOKEN_PAYLOAD + MAC_TOKEN_TAG || bytes[0] != MAC_TOKEN_VERSION {
        return Err(InputProblem::InvalidFormat);
    }
    let (payload, tag) = bytes.split_at(MAC_TOKEN_PAYLOAD);
    let mut mac = hmac_with(key);
    mac.update(payload);
    mac.verify_truncated_left(tag).map_err(|_| InputProblem::InvalidFormat)?;
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&payload[17..]);
    if u64::try_from(now.timestamp()).unwrap_or(0) > u64::from_be_bytes(exp) {
        return Err(InputProblem::Expired);
    }
    Uuid::from_slice(&payload[1..17]).map_err(|_| InputProblem::InvalidFormat)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TokenKeys {
    pub fn new(settings: &Settings) -> Self {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&[&settings.jwt_issuer]);
        validation.set_audience(&[&settings.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let client_key = derive_key(secret, b"phunu client access token v1");
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            access_ttl: settings.access_token_ttl,
            refresh_ttl: settings.refresh_token_ttl,
            check_in_key: derive_key(secret, b"phunu check-in code v1"),
            check_in_ttl: settings.check_in_token_ttl,
            verification_key: derive_key(secret, b"phunu phone verification v1"),
            phone_code_key: derive_key(secret, b"phunu phone code v1"),
            successor_key: derive_key(secret, b"phunu refresh successor v1"),
            recovery_key: derive_key(secret, b"phunu recovery code v1"),
            refresh_reuse_grace: settings.refresh_reuse_grace,
            client_encoding: EncodingKey::from_secret(&client_key),
            client_decoding: DecodingKey::from_secret(&client_key),
            client_token_ttl: settings.integrations.token_ttl,
        }
    }

    /// A check-in code for a registration (a QR payload of 55 characters) and its expiry. It can
    /// be neither forged nor edited into another registration's code without the secret.
    pub fn issue_check_in(&self, registration_id: Uuid, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        let exp = now + self.check_in_ttl;
        (mac_token(&self.check_in_key, registration_id, exp), exp)
    }

    /// The registration a check-in code names: `INVALID_FORMAT` when it is malformed or its MAC
    /// does not match (compared in constant time), `EXPIRED` after its expiry.
    pub fn verify_check_in(&self, code: &str, now: DateTime<Utc>) -> Result<Uuid, InputProblem> {
        open_mac_token(&self.check_in_key, code, now)
    }

    /// A phone verification token: names the verified code (its row) until `exp`.
    pub fn issue_verification(&self, code_id: Uuid, exp: DateTime<Utc>) -> String {
        mac_token(&self.verification_key, code_id, exp)
    }

    /// The code a verification token names (see [`Self::verify_check_in`] for the errors).
    pub fn verify_verification(&self, token: &str, now: DateTime<Utc>) -> Result<Uuid, InputProblem> {
        open_mac_token(&self.verification_key, token, now)
    }

    /// The stored form of a one-time phone code: HMAC-SHA256 (hex) of its row id and the code,
    /// under a key derived from the secret (a million codes are no work to hash without it).
    pub fn phone_code_hash(&self, code_id: Uuid, code: &str) -> String {
        hex(&self.phone_code_mac(code_id, code).finalize().into_bytes())
    }

    /// Whether `code` is the phone code stored as `stored` ([`Self::phone_code_hash`]), compared
    /// in constant time.
    pub fn phone_code_matches(&self, code_id: Uuid, code: &str, stored: &str) -> bool {
        let Ok(expected) = data_encoding::HEXLOWER.decode(stored.as_bytes()) else { return false };
        self.phone_code_mac(code_id, code).verify_slice(&expected).is_ok()
    }

    fn phone_code_mac(&self, code_id: Uuid, code: &str) -> HmacSha256 {
        let mut mac = hmac_with(&self.phone_code_key);
        mac.update(code_id.as_bytes());
        mac.update(code.as_bytes());
        mac
    }

    /// The stored form of a second factor's recovery code (typed in any case, with or without
    /// its dash or spaces): HMAC-SHA256 (hex) under a key of its own.
    pub fn recovery_code_hash(&self, code: &str) -> String {
        let normal: String =
            code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
        let mut mac = hmac_with(&self.recovery_key);
        mac.update(normal.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Issues an access token for a session; returns it with its expiry.
    pub fn issue_access(
        &self,
        person_id: PersonId,
        session_id: Uuid,
        flags: TokenFlags,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        self.issue_access_at(person_id, session_id, flags, Utc::now(), Uuid::new_v4())
    }

    /// The access token issued at `at` with id `jti`: the same arguments give the same token
    /// (HS256 over the same claims), which is how a retried refresh gets the same pair again.
    pub fn issue_access_at(
        &self,
        person_id: PersonId,
        session_id: Uuid,
        flags: TokenFlags,
        at: DateTime<Utc>,
        jti: Uuid,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let iat = at.timestamp();
        let exp = iat + self.access_ttl.as_secs() as i64;
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: person_id,
            sid: session_id,
            iat,
            exp,
            jti,
            typ: ACCESS_TYPE.to_owned(),
            mfa: flags.mfa,
            pend: flags.pending,
        };
        let token =
            jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &self.encoding)
                .map_err(|e| ApiError::internal(format_args!("jwt encode: {e}")))?;
        let expires = DateTime::from_timestamp(exp, 0).unwrap_or(at);
        Ok((token, expires))
    }

    /// The refresh token that follows `token` in its family, and the id of the access token
    /// issued with it: derived from `token` under a server key, so a retry of the same refresh
    /// can answer the same pair without either being stored.
    pub fn successor(&self, token: &str) -> (String, Uuid) {
        let mut mac = hmac_with(&self.successor_key);
        mac.update(token.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut jti = [0u8; 16];
        jti.copy_from_slice(&digest[..16]);
        let jti = uuid::Builder::from_random_bytes(jti).into_uuid();
        let mut mac = hmac_with(&self.successor_key);
        mac.update(b"refresh:");
        mac.update(token.as_bytes());
        (format!("rt_{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())), jti)
    }

    /// Checks signature, algorithm, issuer, audience, expiry, issue time and type; `None` when
    /// any fails. A token issued later than now (beyond the leeway) comes from a skewed clock or
    /// a forger's, and is refused like an expired one.
    fn verify_access(&self, token: &str) -> Option<(Viewer, TokenFlags)> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        let issued_in_future = data.claims.iat > Utc::now().timestamp() + LEEWAY_SECS as i64;
        let c = data.claims;
        (c.typ == ACCESS_TYPE && !issued_in_future).then_some((
            Viewer { person_id: c.sub, session_id: c.sid },
            TokenFlags { mfa: c.mfa, pending: c.pend },
        ))
    }

    /// An access token for a client, lasting the client token lifetime but never past
    /// `not_after` (the client's expiry); returns it with its lifetime in seconds.
    pub fn issue_client_access(
        &self,
        client: &ClientViewer,
        now: DateTime<Utc>,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<(String, u64), ApiError> {
        let iat = now.timestamp();
        let mut exp = iat + self.client_token_ttl.as_secs() as i64;
        if let Some(end) = not_after {
            exp = exp.min(end.timestamp());
        }
        let claims = ClientClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: client.client_id.to_string(),
            client_id: client.client_id,
            iat,
            exp,
            jti: Uuid::new_v4(),
            scope: client.scopes.to_oauth(),
            unit: client.unit_id,
            sec: client.secret_id,
            qb: client.bucket.map(|b| (b.capacity, b.per_sec)),
            tdo: client.trusted_documents_only,
        };
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some(CLIENT_TOKEN_TYPE.to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &self.client_encoding)
            .map_err(|e| ApiError::internal(format_args!("jwt encode: {e}")))?;
        Ok((token, u64::try_from(exp - iat).unwrap_or(0)))
    }

    /// The client a client access token names, when its signature (under the client key),
    /// type, issuer, audience, expiry and issue time all check out.
    fn verify_client_access(&self, token: &str) -> Option<ClientViewer> {
        let data =
            jsonwebtoken::decode::<ClientClaims>(token, &self.client_decoding, &self.validation).ok()?;
        let c = data.claims;
        let typed = data.header.typ.as_deref() == Some(CLIENT_TOKEN_TYPE);
        let issued_in_future = c.iat > Utc::now().timestamp() + LEEWAY_SECS as i64;
        (typed && !issued_in_future && c.sub == c.client_id.to_string()).then(|| ClientViewer {
            client_id: c.client_id,
            secret_id: c.sec,
            unit_id: c.unit,
            scopes: ScopeSet::parse(&c.scope).unwrap_or_default(),
            bucket: c.qb.map(|(capacity, per_sec)| crate::config::Bucket { capacity, per_sec }),
            trusted_documents_only: c.tdo,
        })
    }

    /// How long a revoked session must stay flagged: until its last access token has expired.
    pub fn revocation_ttl(&self) -> Duration {
        self.access_ttl + Duration::from_secs(LEEWAY_SECS + 1)
    }
}

/// A key for one purpose, derived from the server secret with HMAC-SHA256 (the label names the
/// purpose), so a code of one kind can never be valid as another.
fn derive_key(secret: &[u8], label: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// The cache key that marks a session as revoked.
pub fn revoked_session_key(session_id: Uuid) -> String {
    format!("revoked-session:{session_id}")
}

/// The cache key that marks a client secret (and the tokens issued against it) as revoked.
pub fn revoked_client_secret_key(secret_id: Uuid) -> String {
    format!("revoked-client-secret:{secret_id}")
}

/// Resolves an `Authorization` header value (or a WebSocket init token) to an [`Auth`]. The
/// revocation flag is read from the cache; when the cache cannot vouch for it, the session is
/// read from the database. `UNAVAILABLE` when neither can answer (never a valid token taken
/// for a revoked one, nor a revoked one for a valid one).
pub async fn authenticate(
    keys: &TokenKeys,
    cache: &Cache,
    db: &DatabaseConnection,
    header: Option<&str>,
) -> Result<Auth, ApiError> {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(Auth::Anonymous);
    };
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => header,
    };
    let is_client_token =
        jsonwebtoken::decode_header(token).is_ok_and(|h| h.typ.as_deref() == Some(CLIENT_TOKEN_TYPE));
    if is_client_token {
        return authenticate_client(keys, cache, db, token).await;
    }
    let Some((viewer, flags)) = keys.verify_access(token) else {
        return Ok(Auth::Rejected);
    };
    let revoked = match cache.revocation(&revoked_session_key(viewer.session_id)).await {
        Revocation::Revoked => true,
        Revocation::NotRevoked => false,
        Revocation::Unknown => session_revoked_in_db(db, viewer.session_id).await?,
    };
    Ok(match (revoked, flags.pending) {
        (true, _) => Auth::Rejected,
        (false, true) => Auth::Pending(viewer),
        (false, false) => Auth::Signed(viewer),
    })
}

async fn authenticate_client(
    keys: &TokenKeys,
    cache: &Cache,
    db: &DatabaseConnection,
    token: &str,
) -> Result<Auth, ApiError> {
    let Some(client) = keys.verify_client_access(token) else {
        return Ok(Auth::Rejected);
    };
    let revoked = match cache.revocation(&revoked_client_secret_key(client.secret_id)).await {
        Revocation::Revoked => true,
        Revocation::NotRevoked => false,
        Revocation::Unknown => {
            crate::integrations::clients::secret_revoked_in_db(db, client.secret_id).await?
        }
    };
    Ok(if revoked { Auth::Rejected } else { Auth::Client(client) })
}

/// Whether the database says the session ended (or does not know it).
async fn session_revoked_in_db(db: &DatabaseConnection, session_id: Uuid) -> Result<bool, ApiError> {
    use sea_orm::{EntityTrait, QuerySelect};
    let revoked_at: Option<Option<DateTime<Utc>>> = entities::auth_session::Entity::find_by_id(session_id)
        .select_only()
        .column(entities::auth_session::Column::RevokedAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(!matches!(revoked_at, Some(None)))
}

/// A new opaque refresh token (256 random bits) and the hash under which it is stored.
pub fn new_refresh_token() -> Result<(String, String), ApiError> {
    new_opaque_token("rt_")
}

/// A new opaque device token (256 random bits, see `identity`) and the hash under
/// which it is stored.
pub fn new_device_token() -> Result<(String, String), ApiError> {
    new_opaque_token("dt_")
}

/// A new integration client secret (256 random bits) and the hash under which it is stored.
pub fn new_client_secret() -> Result<(String, String), ApiError> {
    new_opaque_token("pns_")
}

fn new_opaque_token(prefix: &str) -> Result<(String, String), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format_args!("rng: {e}")))?;
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_refresh_token(&token);
    Ok((token, hash))
}

/// SHA-256 (hex) of a refresh (or device) token. A fast hash is right here: the token has 256
/// bits of entropy, so there is nothing to brute-force.
pub fn hash_refresh_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
fn hasher() -> Result<Argon2<'static>, ApiError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| ApiError::internal(format_args!("argon2: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Password hashes running at once. Each takes 19 MiB and a core for tens of milliseconds, so
/// without a bound a burst of logins could exhaust memory; beyond it callers queue briefly and
/// then get `RATE_LIMITED`.
fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cpus * 2)
    })
}

async fn with_hashing_permit<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = tokio::time::timeout(std::time::Duration::from_secs(10), hashing_permits().acquire())
        .await
        .map_err(|_| ApiError::RateLimited { retry_after_secs: 1 })?
        .map_err(|_| ApiError::internal("hashing semaphore closed"))?;
    let result =
        tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(format_args!("join: {e}")))?;
    drop(permit);
    result
}

/// Hashes a password on the blocking pool (it takes tens of milliseconds by design).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    with_hashing_permit(move || {
        let hash = hasher()?
            .hash_password(password.as_bytes())
            .map_err(|e| ApiError::internal(format_args!("argon2: {e}")))?;
        Ok(hash.to_string())
    })
    .await
}

/// Verifies a password against a stored hash, or against a dummy hash when there is none, so
/// that an unknown phone number takes as long to refuse as a wrong password.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    with_hashing_permit(move || {
        let hasher = hasher()?;
        let known = stored.is_some();
        let hash = match stored {
            Some(h) => h,
            None => dummy_hash(&hasher)?.to_owned(),
        };
        let ok = hasher.verify_password(password.as_bytes(), hash.as_str()).is_ok();
        Ok(ok && known)
    })
    .await
}

fn dummy_hash(hasher: &Argon2<'static>) -> Result<&'static str, ApiError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hasher
        .hash_password(b"timing-equaliser")
        .map_err(|e| ApiError::internal(format_args!("argon2: {e}")))?
        .to_string();
    Ok(DUMMY.get_or_init(|| h))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&Settings::from_vars(&HashMap::new()).unwrap())
    }

    #[tokio::test]
    async fn access_tokens_round_trip_and_tampering_is_rejected() {
        let keys = keys();
        let cache = Cache::memory();
        // The in-process cache always vouches for its flags: the database is never asked.
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let (person, sid) = (PersonId(Uuid::new_v4()), Uuid::new_v4());
        let (token, _) = keys.issue_access(person, sid, TokenFlags::default()).unwrap();
        let bearer = format!("Bearer {token}");
        assert_eq!(
            authenticate(&keys, &cache, &db, Some(&bearer)).await.unwrap(),
            Auth::Signed(Viewer { person_id: person, session_id: sid })
        );
        let mut tampered = token.clone();
        tampered.pop();
        assert_eq!(authenticate(&keys, &cache, &db, Some(&tampered)).await.unwrap(), Auth::Rejected);
        assert_eq!(authenticate(&keys, &cache, &db, None).await.unwrap(), Auth::Anonymous);
        cache.set_flags(&[revoked_session_key(sid)], Duration::from_secs(5)).await.unwrap();
        assert_eq!(authenticate(&keys, &cache, &db, Some(&bearer)).await.unwrap(), Auth::Rejected);
    }

    #[tokio::test]
    async fn a_token_issued_in_the_future_is_refused() {
        let keys = keys();
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let forge = |iat: i64| {
            let claims = AccessClaims {
                iss: keys.issuer.clone(),
                aud: keys.audience.clone(),
                sub: PersonId(Uuid::new_v4()),
                sid: Uuid::new_v4(),
                iat,
                exp: iat + 900,
                jti: Uuid::new_v4(),
                typ: ACCESS_TYPE.to_owned(),
                mfa: false,
                pend: false,
            };
            jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &keys.encoding)
                .unwrap()
        };
        let now = Utc::now().timestamp();
        let future = forge(now + 120);
        let auth = authenticate(&keys, &Cache::memory(), &db, Some(&future)).await.unwrap();
        assert_eq!(auth, Auth::Rejected);
        assert_eq!(auth.optional().unwrap_err().code(), "UNAUTHENTICATED");
        // Within the leeway of a slightly fast clock it is still accepted.
        let close = forge(now + 2);
        assert!(matches!(
            authenticate(&keys, &Cache::memory(), &db, Some(&close)).await.unwrap(),
            Auth::Signed(_)
        ));
    }

    #[tokio::test]
    async fn a_person_token_never_passes_for_a_client_token_nor_the_reverse() {
        let keys = keys();
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let cache = Cache::memory();
        let client = ClientViewer {
            client_id: ClientId(Uuid::new_v4()),
            secret_id: Uuid::new_v4(),
            unit_id: UnitId(Uuid::new_v4()),
            scopes: ScopeSet::parse("units:read").unwrap(),
            bucket: None,
            trusted_documents_only: false,
        };
        let (token, _) = keys.issue_client_access(&client, Utc::now(), None).unwrap();
        assert_eq!(authenticate(&keys, &cache, &db, Some(&token)).await.unwrap(), Auth::Client(client));

        // A client's claims signed under the person key, typed as a client token: refused.
        let now = Utc::now().timestamp();
        let client_claims = ClientClaims {
            iss: keys.issuer.clone(),
            aud: keys.audience.clone(),
            sub: client.client_id.to_string(),
            client_id: client.client_id,
            iat: now,
            exp: now + 600,
            jti: Uuid::new_v4(),
            scope: "units:read".into(),
            unit: client.unit_id,
            sec: client.secret_id,
            qb: None,
            tdo: false,
        };
        let mut typed = Header::new(jsonwebtoken::Algorithm::HS256);
        typed.typ = Some(CLIENT_TOKEN_TYPE.to_owned());
        let forged = jsonwebtoken::encode(&typed, &client_claims, &keys.encoding).unwrap();
        assert_eq!(authenticate(&keys, &cache, &db, Some(&forged)).await.unwrap(), Auth::Rejected);
        // Signed under the client key but typed as a plain JWT: not taken for a person's.
        let untyped = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &client_claims,
            &keys.client_encoding,
        )
        .unwrap();
        assert_eq!(authenticate(&keys, &cache, &db, Some(&untyped)).await.unwrap(), Auth::Rejected);
        // A person's claims under the client key, typed as a client token: refused.
        let person_claims = AccessClaims {
            iss: keys.issuer.clone(),
            aud: keys.audience.clone(),
            sub: PersonId(Uuid::new_v4()),
            sid: Uuid::new_v4(),
            iat: now,
            exp: now + 600,
            jti: Uuid::new_v4(),
            typ: ACCESS_TYPE.to_owned(),
            mfa: false,
            pend: false,
        };
        let forged = jsonwebtoken::encode(&typed, &person_claims, &keys.client_encoding).unwrap();
        assert_eq!(authenticate(&keys, &cache, &db, Some(&forged)).await.unwrap(), Auth::Rejected);
        // A client token revoked by its secret.
        cache
            .set_flags(&[revoked_client_secret_key(client.secret_id)], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(authenticate(&keys, &cache, &db, Some(&token)).await.unwrap(), Auth::Rejected);
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("hoa-sen-2024".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("hoa-sen-2024".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("hoa-sen-2025".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("timing-equaliser".into(), None).await.unwrap());
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh_token().unwrap();
        let (b, _) = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(ha.len(), 64);
        assert!(!ha.contains(&a));
        assert_eq!(hash_refresh_token(&a), ha);
    }
}
