//! Accounts and sessions: register (with a phone verified by SMS, see [`phone`]), login
//! (throttled), refresh with rotation and reuse detection, logout, password change.
//!
//! Invariants: a refresh token is used at most once (`used_at` is set by a conditional update, so
//! of two concurrent refreshes exactly one wins); presenting a used token revokes the session
//! (the whole token family); a session is revoked in the database first (so its refresh token
//! dies whatever the cache's state) and then flagged in the cache before the call returns, so
//! its access tokens stop working at once. A flag that cannot be written (Redis down) does not
//! fail the call: the cache is distrusted instead, access tokens are then checked against the
//! database, and the revocation guard re-flags every recently revoked session once Redis
//! answers again.

pub mod consent;
pub mod erasure;
pub mod export;
pub mod mfa;
pub mod phone;
pub mod recovery;
pub mod sessions;

pub use sessions::{DeviceInfo, DeviceInput};

use crate::Call;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use entities::ids::PersonId;
use entities::{auth_session, known_device, person, refresh_token};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait, sea_query::Expr,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::RequestMeta;
use crate::{
    auth::{self, revoked_session_key},
    domain::{Email, Password, PersonName, PhoneNumber, fold_for_search},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    state::AppState,
};

/// Tokens handed to a client after login, registration or refresh.
pub struct AuthPayload {
    pub access_token: String,
    pub access_token_expires_at: chrono::DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: chrono::DateTime<Utc>,
    pub person: person::Model,
    /// This device's token (login and registration): sent back with later logins, it lets her
    /// in even while strangers' failures hold her phone number back (see [`Attempt`]).
    pub device_token: Option<String>,
}

pub use entities::person::Gender;

/// Raw registration input, parsed here.
pub struct RegisterInput {
    pub phone: String,
    pub full_name: String,
    pub password: SecretString,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<String>,
    pub gender: Option<Gender>,
    /// From `verifyPhoneCode` (purpose `REGISTER` or `CLAIM_RECORD`) for this phone.
    pub verification_token: SecretString,
    pub device: DeviceInput,
    /// The version of the privacy notice she accepted (must be the one in force).
    pub privacy_notice_version: String,
}

/// Raw login input, parsed here.
pub struct LoginInput {
    pub phone: String,
    pub password: SecretString,
    /// The device token an earlier sign-in on this device answered.
    pub device_token: Option<SecretString>,
    pub device: DeviceInput,
    /// With a second factor on: a TOTP code or a recovery code.
    pub otp: Option<SecretString>,
}

/// Changes to the caller's own profile: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Default)]
pub struct ProfileUpdate {
    pub gender: Option<Option<Gender>>,
    pub birth_date: Option<Option<NaiveDate>>,
    pub email: Option<Option<String>>,
}

/// Updates the caller's optional profile fields.
pub async fn update_profile(call: Call<'_>, update: ProfileUpdate) -> Result<person::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    if let Some(birth) = update.birth_date {
        crate::domain::check_birth_date(birth, "birth_date")?;
    }
    let email = match update.email {
        Some(Some(e)) => Some(Some(Email::parse(&e, "email")?.as_str().to_owned())),
        Some(None) => Some(None),
        None => None,
    };
    let mut query =
        person::Entity::update_many().col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(g) = update.gender {
        query = query.col_expr(person::Column::Gender, Expr::value(g.map(|g| g.as_str().to_owned())));
    }
    if let Some(b) = update.birth_date {
        query = query.col_expr(person::Column::BirthDate, Expr::value(b));
    }
    if let Some(e) = email {
        query = query.col_expr(person::Column::Email, Expr::value(e));
    }
    query.filter(person::Column::Id.eq(viewer.person_id)).exec(&state.db).await?;
    me(call).await
}

/// Creates an account (or claims the record an officer enrolled under this phone) and signs in.
/// The phone must have been proved with a code (the verification token is spent here, once):
/// without it, whoever typed a member's number first would take over her record.
pub async fn register(call: Call<'_>, input: RegisterInput) -> Result<AuthPayload, ApiError> {
    let (state, meta) = (call.state, call.meta);
    let phone = PhoneNumber::parse(&input.phone, "phone")?;
    let name = PersonName::parse(&input.full_name, "full_name")?;
    let password = Password::parse(&input.password, Some(&phone), "password")?;
    let email = input.email.as_deref().map(|e| Email::parse(e, "email")).transpose()?;
    crate::domain::check_birth_date(input.birth_date, "birth_date")?;
    let device = DeviceInfo::parse(input.device)?;
    consent::check_notice(state, &input.privacy_notice_version, "privacy_notice_version")?;
    let code_id = phone::check_token(state, &input.verification_token, "verification_token")?;
    // Registration hashes a password and creates an account: limit it per client address.
    let key = format!("register:addr:{}", meta.client_addr);
    state
        .cache
        .spend(&key, std::time::Duration::from_secs(3600), 1, state.settings.register_max_per_address)
        .await?;
    let hash = auth::hash_password(password.expose().to_owned()).await?;

    let now = Utc::now();
    let txn = state.db.begin().await?;
    let proven = phone::spend(
        &txn,
        code_id,
        &[phone::CodePurpose::Register, phone::CodePurpose::ClaimRecord],
        None,
        "verification_token",
    )
    .await?;
    if proven != phone {
        return Err(ApiError::bad_input("verification_token", InputProblem::NotYourNumber));
    }
    let existing = person::Entity::find().filter(person::Column::Phone.eq(phone.as_str())).one(&txn).await?;
    let person = match existing {
        Some(p) if p.password_hash.is_some() => return Err(ApiError::Conflict(ConflictKind::PhoneTaken)),
        // Enrolled by an officer before she had an account: the account joins that record.
        Some(p) => {
            // Conditional on there being no password yet, so two simultaneous claims of one
            // enrolled record cannot both succeed.
            let claimed = person::Entity::update_many()
                .col_expr(person::Column::PasswordHash, Expr::value(hash))
                .col_expr(person::Column::RegisteredAt, Expr::value(now))
                .col_expr(person::Column::PhoneVerifiedAt, Expr::value(now))
                .col_expr(person::Column::PasswordChangedAt, Expr::value(now))
                .col_expr(person::Column::UpdatedAt, Expr::value(now))
                .col_expr(
                    person::Column::Email,
                    Expr::value(email.as_ref().map(|e| e.as_str().to_owned()).or(p.email.clone())),
                )
                .col_expr(person::Column::BirthDate, Expr::value(input.birth_date.or(p.birth_date)))
                .col_expr(person::Column::Gender, Expr::value(input.gender.or(p.gender)))
                .col_expr(person::Column::Language, Expr::value(meta.lang.code()))
                .filter(person::Column::Id.eq(p.id))
                .filter(person::Column::PasswordHash.is_null())
                .exec(&txn)
                .await?
                .rows_affected;
            if claimed == 0 {
                return Err(ApiError::Conflict(ConflictKind::PhoneTaken));
            }
            person::Entity::find_by_id(p.id).one(&txn).await?.ok_or(ApiError::NotFound)?
        }
        None => person::ActiveModel {
            birth_date: Set(input.birth_date),
            gender: Set(input.gender),
            email: Set(email.map(|e| e.as_str().to_owned())),
            language: Set(meta.lang.code().to_owned()),
            phone_verified_at: Set(Some(now)),
            ..new_account(&phone, &name, hash, now)
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::PhoneTaken) } else { e.into() }
        })?,
    };
    consent::record(
        &txn,
        person.id,
        entities::consent::ConsentKind::PrivacyNotice,
        &state.settings.privacy_notice_version,
        None,
    )
    .await?;
    let mut payload = start_session(state, &txn, person, meta, &device, false).await?;
    payload.device_token = Some(remember_device(&txn, payload.person.id).await?);
    txn.commit().await?;
    Ok(payload)
}

/// A password attempt, counted *before* the password is checked, so that guesses sent in
/// parallel cannot all slip past the limit while the first ones are still being hashed.
///
/// Three counters: the phone from this address (low limit), the phone from all addresses
/// together (distributed guessing), and the address. The all-addresses one is filled by anyone
/// who types her number, so it does not hold back a login from one of her known devices (one
/// that presents a device token issued to her at an earlier sign-in): strangers cannot lock a
/// woman out of her account, and guessing from elsewhere is still bounded.
struct Attempt {
    /// The failure counters of (phone, address), phone, address, and the known device if any.
    keys: Vec<String>,
}

impl Attempt {
    /// Counts the attempt; `RATE_LIMITED` when one of the counters is over its limit. The phone
    /// is limited per address (so a stranger cannot lock a woman out from elsewhere at the
    /// low limit) and, higher, across all addresses (against distributed guessing). From a known
    /// device the all-addresses counter is still counted but not enforced; the device has a
    /// counter of its own at the per-address limit instead, so a copied device token buys no
    /// more guesses than an address has.
    async fn begin(
        state: &AppState,
        phone: &PhoneNumber,
        meta: &RequestMeta,
        device: Option<Uuid>,
    ) -> Result<Self, ApiError> {
        let s = &state.settings;
        let mut keys = vec![
            format!("login-fail:pair:{}:{}", phone.as_str(), meta.client_addr),
            format!("login-fail:phone:{}", phone.as_str()),
            format!("login-fail:addr:{}", meta.client_addr),
        ];
        let mut limits = vec![
            s.login_max_failures_per_phone,
            s.login_max_failures_per_phone_total,
            s.login_max_failures_per_address,
        ];
        if let Some(device) = device {
            keys.push(format!("login-fail:device:{device}"));
            limits.push(s.login_max_failures_per_phone);
        }
        let mut retry = None;
        for (i, (key, max)) in keys.iter().zip(limits).enumerate() {
            let c = state.cache.hit(key, s.login_failure_window).await?;
            let all_addresses = i == 1;
            if c.count > u64::from(max) && !(all_addresses && device.is_some()) {
                retry = retry.max(Some(c.resets_in.as_secs().max(1)));
            }
        }
        match retry {
            Some(retry_after_secs) => Err(ApiError::RateLimited { retry_after_secs }),
            None => Ok(Self { keys }),
        }
    }

    /// The password was right: it was not a failure, and the phone's counters start over. If
    /// the cache fails now, the counters stay a little high (safe), and the right password
    /// still signs her in.
    async fn succeeded(self, state: &AppState) {
        let cleared = async {
            for (i, key) in self.keys.iter().enumerate() {
                // The address counter only takes back this attempt; the others start over.
                if i == 2 { state.cache.undo_hit(key).await? } else { state.cache.clear(key).await? }
            }
            Ok::<(), ApiError>(())
        };
        if cleared.await.is_err() {
            tracing::warn!("login counters could not be reset after a right password");
        }
    }
}

/// Signs in with phone and password (and this device's token, when it has one).
pub async fn login(call: Call<'_>, input: LoginInput) -> Result<AuthPayload, ApiError> {
    let (state, meta) = (call.state, call.meta);
    let phone = PhoneNumber::parse(&input.phone, "phone")?;
    let password = &input.password;
    let device_token = input.device_token.as_ref();
    if password.expose_secret().is_empty() {
        return Err(ApiError::bad_input("password", InputProblem::Required));
    }
    let about = DeviceInfo::parse(input.device)?;
    let person =
        person::Entity::find().filter(person::Column::Phone.eq(phone.as_str())).one(&state.db).await?;
    let device = match (&person, device_token) {
        (Some(p), Some(token)) => known_device(&state.db, p.id, token).await?,
        _ => None,
    };
    let attempt = Attempt::begin(state, &phone, meta, device).await?;
    let stored = person.as_ref().and_then(|p| p.password_hash.clone());
    let ok = auth::verify_password(password.expose_secret().to_owned(), stored).await?;
    let Some(person) = person.filter(|_| ok) else {
        tracing::info!(event = "login_failed", "failed login");
        return Err(ApiError::BadCredentials);
    };
    // With a second factor on, the password alone is not enough; the attempt stays counted
    // until the code is right too (so knowing the password buys no more code guesses).
    let mfa = person.totp_enabled_at.is_some();
    if mfa {
        let Some(otp) = input.otp.as_ref() else { return Err(ApiError::OtpRequired) };
        if !mfa::check_second_factor(state, &person, otp.expose_secret()).await? {
            tracing::info!(event = "login_failed", "wrong second factor");
            return Err(ApiError::bad_input("otp", InputProblem::WrongCode));
        }
    }
    attempt.succeeded(state).await;
    let txn = state.db.begin().await?;
    let mut payload = start_session(state, &txn, person, meta, &about, mfa).await?;
    payload.device_token = Some(match (device, device_token) {
        (Some(id), Some(token)) => {
            known_device::Entity::update_many()
                .col_expr(known_device::Column::LastUsedAt, Expr::value(Utc::now()))
                .filter(known_device::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            token.expose_secret().to_owned()
        }
        _ => remember_device(&txn, payload.person.id).await?,
    });
    txn.commit().await?;
    tracing::info!(event = "login", person_id = %payload.person.id, "signed in");
    Ok(payload)
}

/// Devices remembered per person; the least recently used go first.
const MAX_DEVICES: usize = 20;

/// The id of `person`'s known device with this token, if it is one.
async fn known_device(
    conn: &impl ConnectionTrait,
    person: PersonId,
    token: &SecretString,
) -> Result<Option<Uuid>, ApiError> {
    Ok(known_device::Entity::find()
        .select_only()
        .column(known_device::Column::Id)
        .filter(known_device::Column::TokenHash.eq(auth::hash_refresh_token(token.expose_secret())))
        .filter(known_device::Column::PersonId.eq(person))
        .into_tuple()
        .one(conn)
        .await?)
}

/// Remembers a new device of `person` (keeping her [`MAX_DEVICES`] most recent) and answers its
/// token.
async fn remember_device(conn: &impl ConnectionTrait, person: PersonId) -> Result<String, ApiError> {
    let (token, hash) = auth::new_device_token()?;
    let now = Utc::now();
    known_device::ActiveModel {
        id: Set(Uuid::now_v7()),
        person_id: Set(person),
        token_hash: Set(hash),
        created_at: Set(now),
        last_used_at: Set(now),
    }
    .insert(conn)
    .await?;
    // At most MAX_DEVICES + 1 rows: this one was just added to a list kept at the maximum.
    let ids: Vec<Uuid> = known_device::Entity::find()
        .select_only()
        .column(known_device::Column::Id)
        .filter(known_device::Column::PersonId.eq(person))
        .order_by_desc(known_device::Column::LastUsedAt)
        .order_by_desc(known_device::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let stale: Vec<Uuid> = ids.into_iter().skip(MAX_DEVICES).collect();
    if !stale.is_empty() {
        known_device::Entity::delete_many().filter(known_device::Column::Id.is_in(stale)).exec(conn).await?;
    }
    Ok(token)
}

/// Creates a session (for the device the app described) and its first refresh token inside
/// `txn`.
async fn start_session(
    state: &AppState,
    txn: &impl ConnectionTrait,
    person: person::Model,
    meta: &RequestMeta,
    device: &DeviceInfo,
    mfa: bool,
) -> Result<AuthPayload, ApiError> {
    let now = Utc::now();
    let session_id = Uuid::now_v7();
    let proved = mfa.then_some(now);
    auth_session::ActiveModel {
        id: Set(session_id),
        person_id: Set(person.id),
        created_at: Set(now),
        last_used_at: Set(now),
        revoked_at: Set(None),
        revoked_reason: Set(None),
        user_agent: Set(meta.user_agent.as_ref().map(|ua| ua.chars().take(255).collect())),
        device_label: Set(device.label.clone()),
        platform: Set(device.platform),
        place: Set(sessions::place_of(state, &meta.client_addr)),
        mfa_at: Set(proved),
        stepped_up_at: Set(proved),
    }
    .insert(txn)
    .await?;
    let (refresh, refresh_hash) = auth::new_refresh_token()?;
    let flags = mfa::token_flags(txn, &state.settings, person.id, mfa).await?;
    let (access, access_expires) = state.tokens.issue_access(person.id, session_id, flags)?;
    store_refresh(state, txn, session_id, refresh_hash, now).await.map(|refresh_expires| AuthPayload {
        access_token: access,
        access_token_expires_at: access_expires,
        refresh_token: refresh,
        refresh_token_expires_at: refresh_expires,
        person,
        device_token: None,
    })
}

/// Stores a refresh token of the session by its hash; answers its expiry.
async fn store_refresh(
    state: &AppState,
    txn: &impl ConnectionTrait,
    session_id: Uuid,
    hash: String,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let expires_at = now + state.tokens.refresh_ttl;
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        session_id: Set(session_id),
        token_hash: Set(hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        used_by: Set(None),
    }
    .insert(txn)
    .await?;
    Ok(expires_at)
}

/// Who is refreshing: a digest of the client address and user agent (a retry of a refresh is
/// recognised by it).
fn client_digest(meta: &RequestMeta) -> String {
    auth::hash_refresh_token(&format!("{}|{}", meta.client_addr, meta.user_agent.as_deref().unwrap_or("")))
}

/// Exchanges a refresh token for a new pair. The new pair is derived from the token (see
/// `TokenKeys::successor`), so the same refresh retried within the grace window by the same
/// client answers the same pair again — a flaky network does not sign her out. Any other second
/// use (later, by another client, or after the new pair was itself used) revokes the session.
pub async fn refresh(call: Call<'_>, token: &SecretString) -> Result<AuthPayload, ApiError> {
    let (state, meta) = (call.state, call.meta);
    let hash = auth::hash_refresh_token(token.expose_secret());
    let client = client_digest(meta);
    // Microseconds, as the database keeps them: a retry reads back exactly what was answered.
    let now = Utc::now().trunc_subsecs(6);
    let txn = state.db.begin().await?;
    let Some(stored) =
        refresh_token::Entity::find().filter(refresh_token::Column::TokenHash.eq(hash)).one(&txn).await?
    else {
        return Err(ApiError::Unauthenticated);
    };
    let Some(session) = auth_session::Entity::find_by_id(stored.session_id).one(&txn).await? else {
        return Err(ApiError::Unauthenticated);
    };
    if session.revoked_at.is_some() || stored.expires_at <= now {
        return Err(ApiError::Unauthenticated);
    }
    let Some(person) = person::Entity::find_by_id(session.person_id).one(&txn).await? else {
        return Err(ApiError::Unauthenticated);
    };
    let flags = mfa::token_flags(&txn, &state.settings, person.id, session.mfa_at.is_some()).await?;
    let (successor, jti) = state.tokens.successor(token.expose_secret());
    let successor_hash = auth::hash_refresh_token(&successor);
    // The conditional update is the single point of truth: of two concurrent uses of one token
    // exactly one sets `used_at`; the other is a retry or a reuse.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .col_expr(refresh_token::Column::UsedBy, Expr::value(client.clone()))
        .filter(refresh_token::Column::Id.eq(stored.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed == 0 {
        if let Some(again) = retried(state, &txn, stored.id, &successor_hash, &client, now).await? {
            let (access, access_expires) =
                state.tokens.issue_access_at(person.id, session.id, flags, again.used_at, jti)?;
            txn.commit().await?;
            tracing::info!(event = "refresh_retried", session_id = %session.id, "refresh retried within the grace window");
            return Ok(AuthPayload {
                access_token: access,
                access_token_expires_at: access_expires,
                refresh_token: successor,
                refresh_token_expires_at: again.successor_expires_at,
                person,
                device_token: None,
            });
        }
        revoke_sessions(&txn, &[session.id], "REFRESH_REUSE").await?;
        txn.commit().await?;
        flag_revoked(state, &[session.id], "REFRESH_REUSE").await?;
        tracing::warn!(event = "refresh_token_reuse", session_id = %session.id, "refresh token reused; session revoked");
        return Err(ApiError::Unauthenticated);
    }
    auth_session::Entity::update_many()
        .col_expr(auth_session::Column::LastUsedAt, Expr::value(now))
        .filter(auth_session::Column::Id.eq(session.id))
        .exec(&txn)
        .await?;
    let refresh_expires = store_refresh(state, &txn, session.id, successor_hash, now).await?;
    let (access, access_expires) = state.tokens.issue_access_at(person.id, session.id, flags, now, jti)?;
    txn.commit().await?;
    Ok(AuthPayload {
        access_token: access,
        access_token_expires_at: access_expires,
        refresh_token: successor,
        refresh_token_expires_at: refresh_expires,
        person,
        device_token: None,
    })
}

/// A used refresh token presented again: the retry it may be.
struct Retry {
    /// When the token was used (the new pair's issue time).
    used_at: DateTime<Utc>,
    successor_expires_at: DateTime<Utc>,
}

/// Whether the second use of token `id` is a retry: within the grace window of its use, by the
/// same client, while the pair it gave has not been used yet.
async fn retried(
    state: &AppState,
    txn: &impl ConnectionTrait,
    id: Uuid,
    successor_hash: &str,
    client: &str,
    now: DateTime<Utc>,
) -> Result<Option<Retry>, ApiError> {
    let grace = state.tokens.refresh_reuse_grace;
    if grace.is_zero() {
        return Ok(None);
    }
    let Some(used) = refresh_token::Entity::find_by_id(id).one(txn).await? else { return Ok(None) };
    let (Some(used_at), Some(used_by)) = (used.used_at, used.used_by) else { return Ok(None) };
    if used_by != client || now - used_at > chrono::Duration::from_std(grace).unwrap_or_default() {
        return Ok(None);
    }
    let successor = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(successor_hash))
        .filter(refresh_token::Column::UsedAt.is_null())
        .one(txn)
        .await?;
    Ok(successor.map(|s| Retry { used_at, successor_expires_at: s.expires_at }))
}

/// Ends the caller's session; its access token stops working immediately.
pub async fn logout(call: Call<'_>) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer_before_mfa()?);
    revoke_sessions(&state.db, &[viewer.session_id], "LOGOUT").await?;
    flag_revoked(state, &[viewer.session_id], "LOGOUT").await
}

/// Changes the caller's password and revokes every other session of hers.
pub async fn change_password(
    call: Call<'_>,
    current: &SecretString,
    new: &SecretString,
) -> Result<(), ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let person = me(call).await?;
    let phone = PhoneNumber::parse(&person.phone, "phone")?;
    let new = Password::parse(new, Some(&phone), "new_password")?;
    verify_own_password(call, &person, current, "current_password").await?;
    let hash = auth::hash_password(new.expose().to_owned()).await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let mut am: person::ActiveModel = person.into();
    am.password_hash = Set(Some(hash));
    am.password_changed_at = Set(Some(now));
    am.updated_at = Set(now);
    am.update(&txn).await?;
    let others: Vec<Uuid> = auth_session::Entity::find()
        .select_only()
        .column(auth_session::Column::Id)
        .filter(auth_session::Column::PersonId.eq(viewer.person_id))
        .filter(auth_session::Column::Id.ne(viewer.session_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .into_tuple()
        .all(&txn)
        .await?;
    revoke_sessions(&txn, &others, "PASSWORD_CHANGED").await?;
    // A new password forgets her devices: a copied device token must not outlive it.
    known_device::Entity::delete_many()
        .filter(known_device::Column::PersonId.eq(viewer.person_id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    flag_revoked(state, &others, "PASSWORD_CHANGED").await
}

/// Checks the caller's own password before an action that needs it (`WRONG_PASSWORD` on
/// `field`). A session is no proof that whoever holds it knows the password: guesses are counted
/// and throttled like a login's.
async fn verify_own_password(
    call: Call<'_>,
    person: &person::Model,
    password: &SecretString,
    field: &'static str,
) -> Result<(), ApiError> {
    if password.expose_secret().is_empty() {
        return Err(ApiError::bad_input(field, InputProblem::Required));
    }
    let phone = PhoneNumber::parse(&person.phone, "phone")?;
    let attempt = Attempt::begin(call.state, &phone, call.meta, None).await?;
    if !auth::verify_password(password.expose_secret().to_owned(), person.password_hash.clone()).await? {
        return Err(ApiError::bad_input(field, InputProblem::WrongPassword));
    }
    attempt.succeeded(call.state).await;
    Ok(())
}

/// The caller's own record (also while her second factor is owed: the app shows who is signed
/// in while she enrols).
pub async fn me(call: Call<'_>) -> Result<person::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer_before_mfa()?);
    person::Entity::find_by_id(viewer.person_id).one(&state.db).await?.ok_or(ApiError::Unauthenticated)
}

async fn revoke_sessions(conn: &impl ConnectionTrait, ids: &[Uuid], reason: &str) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    auth_session::Entity::update_many()
        .col_expr(auth_session::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(auth_session::Column::RevokedReason, Expr::value(reason))
        .filter(auth_session::Column::Id.is_in(ids.iter().copied()))
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Flags sessions (already revoked in the database) as revoked, so their access tokens stop
/// working, and tells their live subscriptions (`sessionRevoked`). Never fails: flags that
/// cannot be written leave the cache distrusted (see module docs), and a lost event only delays
/// the close of a socket to its next check.
async fn flag_revoked(state: &AppState, ids: &[Uuid], reason: &str) -> Result<(), ApiError> {
    let keys: Vec<String> = ids.iter().map(|id| revoked_session_key(*id)).collect();
    if state.cache.set_flags(&keys, state.tokens.revocation_ttl()).await.is_err() {
        state.cache.distrust("revocation flags could not be written");
    }
    for id in ids {
        let payload = serde_json::json!({ "reason": reason, "revokedAt": Utc::now() });
        if state.events.publish(session_revoked_topic(*id), payload).await.is_err() {
            // The bus is down: the others would wait for it too.
            break;
        }
    }
    Ok(())
}

/// The event topic of a session's revocation.
pub fn session_revoked_topic(session_id: Uuid) -> String {
    format!("session-revoked:{session_id}")
}

/// Re-flags sessions revoked recently enough that their access tokens may still be unexpired —
/// after a restart of an in-process cache, a Redis that lost its data, or an outage during which
/// a flag could not be written — and then trusts the cache again (unless it failed meanwhile).
pub async fn restore_revocations(state: &AppState) -> Result<usize, ApiError> {
    let epoch = state.cache.epoch();
    let restored = reflag_revoked_since(state, Utc::now() - state.tokens.revocation_ttl()).await?;
    if state.cache.mark_restored(epoch).await? {
        tracing::info!(sessions = restored, "revocation flags restored");
    }
    Ok(restored)
}

/// Flags every session revoked after `since` (an indexed read, one pipelined write).
async fn reflag_revoked_since(state: &AppState, since: DateTime<Utc>) -> Result<usize, ApiError> {
    let ids: Vec<Uuid> = auth_session::Entity::find()
        .select_only()
        .column(auth_session::Column::Id)
        .filter(auth_session::Column::RevokedAt.gt(since))
        .into_tuple()
        .all(&state.db)
        .await?;
    let keys: Vec<String> = ids.iter().map(|id| revoked_session_key(*id)).collect();
    state.cache.set_flags(&keys, state.tokens.revocation_ttl()).await?;
    Ok(ids.len())
}

/// How often the revocation guard runs.
const GUARD_POLL: std::time::Duration = std::time::Duration::from_millis(500);
/// How far back each sweep looks before the previous one began: covers commits that were in
/// flight then and clocks of other instances that run behind.
const SWEEP_OVERLAP: chrono::Duration = chrono::Duration::seconds(10);

/// Keeps the revocation flags complete (Redis only). Every round it flags the sessions revoked
/// since the last round, whichever instance revoked them — so a flag that one instance could not
/// write (a timeout, a partition of that instance alone, a crash between the database and the
/// flag) is written by the others within a round. When the cache is distrusted (an error, or
/// Redis came back empty) it restores every recent revocation and trusts the cache again.
pub fn spawn_revocation_guard(state: AppState) -> Option<crate::worker::PollingWorker> {
    if !state.cache.is_redis() {
        return None;
    }
    let last_sweep = std::sync::Arc::new(std::sync::Mutex::new(None::<DateTime<Utc>>));
    Some(crate::worker::PollingWorker::spawn("revocation-guard", GUARD_POLL, move || {
        let (state, last_sweep) = (state.clone(), last_sweep.clone());
        async move {
            let started = Utc::now();
            let previous = *last_sweep.lock().unwrap_or_else(|p| p.into_inner());
            let done = match previous {
                Some(at) if state.cache.trusted() => reflag_revoked_since(&state, at - SWEEP_OVERLAP).await,
                _ => restore_revocations(&state).await,
            };
            match done {
                Ok(_) => *last_sweep.lock().unwrap_or_else(|p| p.into_inner()) = Some(started),
                // Redis or the database is down: tried again next round (the outage itself is
                // logged where it is met), no need to say so twice a second.
                Err(e) => tracing::debug!(error = %e, "revocation guard: round failed"),
            }
            Ok::<bool, ApiError>(false)
        }
    }))
}

/// People by id (for DataLoaders).
pub async fn people_by_ids(
    conn: &impl ConnectionTrait,
    ids: &[PersonId],
) -> Result<std::collections::HashMap<PersonId, person::Model>, ApiError> {
    Ok(person::Entity::find()
        .filter(person::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect())
}

/// A new person row without an account: phone, name (and its folded form for search),
/// Vietnamese, nothing optional. Callers set what differs with struct update syntax.
pub fn new_person(phone: &PhoneNumber, name: &PersonName, now: chrono::DateTime<Utc>) -> person::ActiveModel {
    person::ActiveModel {
        id: Set(PersonId::new()),
        phone: Set(phone.as_str().to_owned()),
        full_name: Set(name.as_str().to_owned()),
        name_search: Set(fold_for_search(name.as_str())),
        password_hash: Set(None),
        birth_date: Set(None),
        email: Set(None),
        is_system_admin: Set(false),
        language: Set("vi".to_owned()),
        gender: Set(None),
        registered_at: Set(None),
        phone_verified_at: Set(None),
        password_changed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
    }
}

/// A new person row with an account (her password hash), registered `now`.
pub fn new_account(
    phone: &PhoneNumber,
    name: &PersonName,
    hash: String,
    now: chrono::DateTime<Utc>,
) -> person::ActiveModel {
    person::ActiveModel {
        password_hash: Set(Some(hash)),
        registered_at: Set(Some(now)),
        password_changed_at: Set(Some(now)),
        ..new_person(phone, name, now)
    }
}
