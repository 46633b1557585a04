//! GraphQL surface of accounts and sessions (including the `sessionRevoked` subscription).

use crate::graphql::errors::in_argument;
use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use entities::person;
use futures_util::{Stream, StreamExt};
use secrecy::SecretString;
use serde::Deserialize;

use super::{ContextExt, membership::Membership, org::OfficerRole, scalars::Date};
use service::{
    domain::GlobalId,
    identity::{self as svc, AuthPayload as Payload, RegisterInput as SvcRegister, session_revoked_topic},
};

/// A person with an account (or enrolled by an officer). Name and phone are shown to whoever
/// may see the person (herself, or an admin over a unit where she holds a role); her other
/// details and her roles only to herself.
pub struct Person(pub person::Model);

impl Person {
    fn is_viewer(&self, ctx: &Context<'_>) -> bool {
        ctx.auth().ok().and_then(|a| a.optional().ok().flatten()).is_some_and(|v| v.person_id == self.0.id)
    }
}

#[Object]
impl Person {
    pub async fn id(&self) -> ID {
        GlobalId::of(self.0.id).encode().into()
    }

    /// Normalised mobile number, `+84…`.
    async fn phone(&self) -> &str {
        &self.0.phone
    }

    async fn full_name(&self) -> &str {
        &self.0.full_name
    }

    /// Whether she proved she holds `phone` (a code sent to it by SMS).
    async fn phone_verified(&self) -> bool {
        self.0.phone_verified_at.is_some()
    }

    /// Only for the person herself.
    async fn birth_date(&self, ctx: &Context<'_>) -> Option<Date> {
        self.0.birth_date.filter(|_| self.is_viewer(ctx)).map(Date)
    }

    /// Only for the person herself.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.0.email.as_deref().filter(|_| self.is_viewer(ctx))
    }

    /// Only for the person herself.
    async fn gender(&self, ctx: &Context<'_>) -> Option<GqlGender> {
        if !self.is_viewer(ctx) {
            return None;
        }
        self.0.gender.map(Into::into)
    }

    /// Only for the person herself.
    async fn is_system_admin(&self, ctx: &Context<'_>) -> Option<bool> {
        self.is_viewer(ctx).then_some(self.0.is_system_admin)
    }

    /// Active officer roles; only for the person herself (admins list the roles of their units
    /// with `officerRoles`).
    async fn roles(&self, ctx: &Context<'_>) -> Result<Vec<OfficerRole>> {
        if !self.is_viewer(ctx) {
            return Ok(Vec::new());
        }
        let roles = ctx.loaders()?.roles_by_person.load_one(self.0.id).await?.unwrap_or_default();
        Ok(roles.into_iter().map(OfficerRole).collect())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Her current membership (or her latest, after leaving); only for the person herself.
    async fn membership(&self, ctx: &Context<'_>) -> Result<Option<Membership>> {
        if !self.is_viewer(ctx) {
            return Ok(None);
        }
        let m = service::membership::latest_membership(&ctx.state()?.db, self.0.id).await?;
        Ok(m.map(Membership))
    }
}

/// Who did something (granted a role…): a name only.
pub struct PersonRef(pub person::Model);

#[Object]
impl PersonRef {
    async fn id(&self) -> ID {
        GlobalId::of(self.0.id).encode().into()
    }

    async fn full_name(&self) -> &str {
        &self.0.full_name
    }
}

/// Tokens of a new or refreshed session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for `Authorization`, valid for `accessTokenExpiresAt`.
    access_token: String,
    access_token_expires_at: DateTime<Utc>,
    /// Opaque, single-use: exchange it with `refreshSession` for a new pair.
    refresh_token: String,
    refresh_token_expires_at: DateTime<Utc>,
    person: Person,
    /// This device's token, from `register` and `login` (`null` from `refreshSession`). Keep it
    /// on the device and send it with every later `login`: a login from a known device is not
    /// held back when strangers' wrong passwords have throttled the phone number.
    device_token: Option<String>,
}

impl From<Payload> for AuthPayload {
    fn from(p: Payload) -> Self {
        Self {
            access_token: p.access_token,
            access_token_expires_at: p.access_token_expires_at,
            refresh_token: p.refresh_token,
            refresh_token_expires_at: p.refresh_token_expires_at,
            person: Person(p.person),
            device_token: p.device_token,
        }
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    /// Vietnamese mobile number in any common form (`0912…`, `+84912…`, `84912…`).
    pub phone: String,
    pub full_name: String,
    /// At least 8 characters, with letters and digits.
    #[graphql(secret)]
    pub password: String,
    pub birth_date: Option<Date>,
    pub email: Option<String>,
    pub gender: Option<GqlGender>,
    /// From `verifyPhoneCode` with purpose `REGISTER` (or `CLAIM_RECORD`) for this phone:
    /// proof that she holds the number. Spent by this registration.
    #[graphql(secret)]
    pub verification_token: String,
}

/// What a phone code proves the number for.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PhoneCodePurpose", remote = "service::identity::phone::CodePurpose")]
pub enum GqlCodePurpose {
    /// A new account (signed out).
    Register,
    /// A new account that takes over the record her branch enrolled under this number (signed
    /// out); the same as `REGISTER` to the server, the text of the SMS says so.
    ClaimRecord,
    /// A forgotten password (signed out): a code goes only to a number with an account, while
    /// the answer is the same for any number.
    ResetPassword,
    /// The signed-in person's new number.
    ChangePhone,
    /// The signed-in person proving herself again before a sensitive action (her own number).
    StepUp,
}

/// A code is on its way.
#[derive(SimpleObject)]
pub struct PhoneCodeSent {
    /// Until when the code can be checked.
    expires_at: DateTime<Utc>,
    /// When another code to this number for this purpose may be asked.
    resend_after: DateTime<Utc>,
}

/// A verified phone code.
#[derive(SimpleObject)]
pub struct PhoneVerification {
    /// Give it to the action the code was asked for (`register`, `resetPassword`,
    /// `changePhone`, `stepUp`); it works once.
    verification_token: String,
    expires_at: DateTime<Utc>,
}

/// A person's gender (optional; training statistics count people without one apart).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Gender", remote = "service::identity::Gender")]
pub enum GqlGender {
    Female,
    Male,
    Other,
}

/// Changes to one's own profile: a field left out stays as it is; `null` clears it.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub gender: MaybeUndefined<GqlGender>,
    pub birth_date: MaybeUndefined<Date>,
    pub email: MaybeUndefined<String>,
}

fn change<T, U>(v: MaybeUndefined<T>, f: impl Fn(T) -> U) -> Option<Option<U>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(f(v))),
    }
}

#[derive(InputObject)]
pub struct LoginInput {
    pub phone: String,
    #[graphql(secret)]
    pub password: String,
    /// The `deviceToken` an earlier sign-in on this device answered, if any.
    #[graphql(secret)]
    pub device_token: Option<String>,
}

/// A new password for a forgotten one.
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// From `verifyPhoneCode` with purpose `RESET_PASSWORD`.
    #[graphql(secret)]
    pub verification_token: String,
    /// At least 8 characters, with letters and digits.
    #[graphql(secret)]
    pub new_password: String,
}

/// A new phone number for the account.
#[derive(InputObject)]
pub struct ChangePhoneInput {
    /// The account's password.
    #[graphql(secret)]
    pub password: String,
    /// From `verifyPhoneCode` with purpose `CHANGE_PHONE` for the new number, asked while
    /// signed in.
    #[graphql(secret)]
    pub verification_token: String,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    #[graphql(secret)]
    pub current_password: String,
    #[graphql(secret)]
    pub new_password: String,
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The signed-in person.
    async fn me(&self, ctx: &Context<'_>) -> Result<Person> {
        ctx.auth()?.require()?;
        Ok(Person(svc::me(ctx.call()?).await?))
    }
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Creates an account and signs in.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        ctx.claim_credential_check("register")?;
        let input = SvcRegister {
            phone: input.phone,
            full_name: input.full_name,
            password: SecretString::from(input.password),
            birth_date: input.birth_date.map(|d| d.0),
            email: input.email,
            gender: input.gender.map(Into::into),
            verification_token: SecretString::from(input.verification_token),
        };
        Ok(svc::register(ctx.call()?, input).await.map_err(in_argument("input"))?.into())
    }

    /// Sends a six-digit code by SMS to `phone`, valid a few minutes, for one purpose. Limited
    /// per number (a cooldown, a daily cap) and per client address.
    async fn request_phone_code(
        &self,
        ctx: &Context<'_>,
        phone: String,
        purpose: GqlCodePurpose,
    ) -> Result<PhoneCodeSent> {
        let sent = svc::phone::request_code(ctx.call()?, &phone, purpose.into()).await?;
        Ok(PhoneCodeSent { expires_at: sent.expires_at, resend_after: sent.resend_after })
    }

    /// Checks a code sent by `requestPhoneCode`: a verification token for that number and
    /// purpose. A code takes a few wrong guesses, then a new one must be asked for.
    async fn verify_phone_code(
        &self,
        ctx: &Context<'_>,
        phone: String,
        purpose: GqlCodePurpose,
        #[graphql(secret)] code: String,
    ) -> Result<PhoneVerification> {
        let verified =
            svc::phone::verify_code(ctx.call()?, &phone, purpose.into(), &SecretString::from(code)).await?;
        Ok(PhoneVerification { verification_token: verified.token, expires_at: verified.expires_at })
    }

    /// Signs in. Repeated failures for one phone number or client address are throttled.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        ctx.claim_credential_check("login")?;
        let password = SecretString::from(input.password);
        let device = input.device_token.map(SecretString::from);
        Ok(svc::login(ctx.call()?, &input.phone, &password, device.as_ref()).await?.into())
    }

    /// Exchanges a refresh token for a new pair. Reusing a token revokes its whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] refresh_token: String,
    ) -> Result<AuthPayload> {
        ctx.claim_credential_check("refreshSession")?;
        Ok(svc::refresh(ctx.call()?, &SecretString::from(refresh_token)).await?.into())
    }

    /// Updates the caller's optional profile fields (gender, birth date, email).
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> Result<Person> {
        ctx.auth()?.require()?;
        let update = svc::ProfileUpdate {
            gender: change(input.gender, Into::into),
            birth_date: change(input.birth_date, |d| d.0),
            email: change(input.email, |e| e),
        };
        Ok(Person(svc::update_profile(ctx.call()?, update).await.map_err(in_argument("input"))?))
    }

    /// Ends the current session; its access token stops working immediately.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        ctx.auth()?.require()?;
        svc::logout(ctx.call()?).await?;
        Ok(true)
    }

    /// Sets a new password with a code sent to the account's number: every session ends (their
    /// tokens stop working at once), remembered devices are forgotten, she is told in her inbox,
    /// and she is signed in anew.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> Result<AuthPayload> {
        ctx.claim_credential_check("resetPassword")?;
        let token = SecretString::from(input.verification_token);
        let password = SecretString::from(input.new_password);
        Ok(svc::recovery::reset_password(ctx.call()?, &token, &password)
            .await
            .map_err(in_argument("input"))?
            .into())
    }

    /// Moves the account to a new number, proved by a code sent to it; needs the password. The
    /// old number is told by SMS. `CONFLICT` `PHONE_TAKEN` when another record holds the number.
    async fn change_phone(&self, ctx: &Context<'_>, input: ChangePhoneInput) -> Result<Person> {
        ctx.claim_credential_check("changePhone")?;
        ctx.auth()?.require()?;
        let password = SecretString::from(input.password);
        let token = SecretString::from(input.verification_token);
        Ok(Person(
            svc::recovery::change_phone(ctx.call()?, &password, &token)
                .await
                .map_err(in_argument("input"))?,
        ))
    }

    /// Changes the password and signs out every other session.
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> Result<bool> {
        ctx.claim_credential_check("changePassword")?;
        ctx.auth()?.require()?;
        let current = SecretString::from(input.current_password);
        let new = SecretString::from(input.new_password);
        svc::change_password(ctx.call()?, &current, &new).await?;
        Ok(true)
    }
}

/// Why a session ended.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionRevokedReason {
    /// Signed out.
    Logout,
    /// The password was changed from another session.
    PasswordChanged,
    /// A refresh token was used twice: the session is presumed stolen.
    RefreshReuse,
    /// The password was reset with a code sent to the phone: every session ended.
    PasswordReset,
}

/// The current session has ended; the app should return to its sign-in screen.
#[derive(SimpleObject, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevokedEvent {
    pub reason: SessionRevokedReason,
    pub revoked_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct IdentitySubscription;

#[Subscription]
impl IdentitySubscription {
    /// Fires once when the caller's session is revoked (from any device or API instance),
    /// then completes.
    async fn session_revoked(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SessionRevokedEvent> + use<>> {
        let viewer = ctx.auth()?.require()?;
        let events = ctx.state()?.events.subscribe(session_revoked_topic(viewer.session_id));
        Ok(events
            .filter_map(|payload| async move { serde_json::from_value::<SessionRevokedEvent>(payload).ok() })
            .take(1))
    }
}
