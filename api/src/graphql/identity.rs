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

use super::{ContextExt, ScopeCell, membership::Membership, org::OfficerRole, scalars::Date, viewer_scope};
use async_graphql::parser::types::OperationType;
use service::{
    domain::{GlobalId, NodeKind},
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

    /// The version of the privacy notice she last accepted; only for the person herself (the
    /// app asks again when it is not `privacyNotice.version`).
    async fn privacy_notice_version(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if !self.is_viewer(ctx) {
            return Ok(None);
        }
        Ok(svc::consent::accepted_notice(&ctx.state()?.db, self.0.id).await?)
    }

    /// Two-step verification (an authenticator app) is on; only for the person herself.
    async fn totp_enabled(&self, ctx: &Context<'_>) -> Option<bool> {
        self.is_viewer(ctx).then_some(self.0.totp_enabled_at.is_some())
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
        let db = &ctx.state()?.db;
        // A query over HTTP reads her standing once for the request (the home screen's lists
        // need it), and that carries her current membership. A mutation may have changed it
        // since; the WebSocket keeps no standing.
        let query = ctx.query_env.operation.node.ty == OperationType::Query;
        if query
            && ctx.data_opt::<ScopeCell>().is_some()
            && let Some(viewer) = ctx.auth()?.optional()?
        {
            let scope = viewer_scope(ctx, viewer).await?;
            let m = match &scope.membership {
                Some(current) => Some(current.clone()),
                None => service::membership::last_membership(db, self.0.id).await?,
            };
            return Ok(m.map(Membership));
        }
        let m = service::membership::latest_membership(db, self.0.id).await?;
        Ok(m.map(Membership))
    }
}

/// Who did something (granted a role…): a name only.
pub struct PersonRef(pub person::Model);

impl PersonRef {
    /// The person `id` through the request's DataLoader (batched with the rest of the page);
    /// `None` for no id or an erased record.
    pub async fn load(ctx: &Context<'_>, id: Option<entities::ids::PersonId>) -> Result<Option<PersonRef>> {
        let Some(id) = id else { return Ok(None) };
        Ok(ctx.loaders()?.people.load_one(id).await?.map(PersonRef))
    }
}

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
    /// What the device is, shown in `mySessions`.
    pub device: Option<DeviceInput>,
    /// The version of the privacy notice she was shown and accepted (`privacyNotice.version`);
    /// `OUTDATED` when it is not the one in force.
    pub privacy_notice_version: String,
}

/// The privacy notice in force, and the version of the sensitive-data consent text.
#[derive(SimpleObject)]
pub struct PrivacyNotice {
    version: String,
    url: Option<String>,
    /// The version of the text a signed-in reporter consents to with a violence report.
    sensitive_data_notice_version: String,
}

/// What she consented to.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ConsentKind", remote = "entities::consent::ConsentKind")]
pub enum GqlConsentKind {
    /// The privacy notice (her account's personal data).
    PrivacyNotice,
    /// Sensitive data with a violence report she submitted signed in.
    SensitiveData,
}

/// A consent she gave, with the version of the text and when; withdrawn ones stay listed.
pub struct Consent(pub entities::consent::Model);

#[Object]
impl Consent {
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Consent, self.0.id).encode().into()
    }

    async fn kind(&self) -> GqlConsentKind {
        self.0.kind.into()
    }

    async fn version(&self) -> &str {
        &self.0.version
    }

    async fn given_at(&self) -> DateTime<Utc> {
        self.0.given_at
    }

    async fn withdrawn_at(&self) -> Option<DateTime<Utc>> {
        self.0.withdrawn_at
    }

    /// The reference code of the report a sensitive-data consent was given with (while the
    /// report is still linked to her).
    async fn report_reference(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let Some(report) = self.0.report_id.filter(|_| self.0.withdrawn_at.is_none()) else {
            return Ok(None);
        };
        Ok(service::violence::reporter::reference_of(&ctx.state()?.db, report, self.0.person_id).await?)
    }
}

/// A secret to put in an authenticator app (shown once; confirm it with a first code).
#[derive(SimpleObject)]
pub struct TotpEnrolment {
    /// Base32, for typing it in.
    secret: String,
    /// `otpauth://totp/…`, for a QR code.
    otpauth_uri: String,
}

/// Two-step verification is on.
#[derive(SimpleObject)]
pub struct TotpEnabled {
    /// Ten single-use codes for a lost phone: shown only now.
    recovery_codes: Vec<String>,
    /// This session's new access token (it has now proved the second factor).
    access_token: String,
    access_token_expires_at: DateTime<Utc>,
}

/// Proof for a step-up: `code` (an authenticator code or a recovery code) with two-step
/// verification on, else `verificationToken` (of a `STEP_UP` code sent to her phone).
#[derive(InputObject)]
pub struct StepUpInput {
    #[graphql(secret)]
    pub code: Option<String>,
    #[graphql(secret)]
    pub verification_token: Option<String>,
}

/// A session that stepped up.
#[derive(SimpleObject)]
pub struct SteppedUp {
    /// The sensitive actions work until then.
    until: DateTime<Utc>,
    /// This session's new access token.
    access_token: String,
    access_token_expires_at: DateTime<Utc>,
}

/// Her data, as one JSON document (`data`; its `format` names the layout's version).
#[derive(SimpleObject)]
pub struct MyDataExport {
    generated_at: DateTime<Utc>,
    data: async_graphql::Json<serde_json::Value>,
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
    /// What the device is, shown in `mySessions`.
    pub device: Option<DeviceInput>,
    /// With two-step verification on: the code of her authenticator, or one of her recovery
    /// codes. Without it, an account with it answers `UNAUTHENTICATED` `OTP_REQUIRED` (the
    /// password was right: ask for the code and send both again).
    #[graphql(secret)]
    pub otp: Option<String>,
}

/// What the app says about the device it signs in from (shown in `mySessions`).
#[derive(InputObject, Default)]
pub struct DeviceInput {
    /// A name she recognises, e.g. "iPhone của Lan" (at most 64 characters).
    pub label: Option<String>,
    pub platform: Option<GqlDevicePlatform>,
}

/// The service's form of an optional [`DeviceInput`].
fn device(d: Option<DeviceInput>) -> svc::DeviceInput {
    let d = d.unwrap_or_default();
    svc::DeviceInput { label: d.label, platform: d.platform.map(Into::into) }
}

/// The kind of device a session signed in from.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "DevicePlatform", remote = "entities::auth_session::DevicePlatform")]
pub enum GqlDevicePlatform {
    Android,
    Ios,
    Web,
    Other,
}

/// A sign-in session: one of her devices.
pub struct Session {
    pub session: entities::auth_session::Model,
    /// Whether it is the session of the request.
    pub current: bool,
}

#[Object]
impl Session {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Session, self.session.id).encode().into()
    }

    /// What the app called the device when it signed in.
    async fn device_label(&self) -> Option<&str> {
        self.session.device_label.as_deref()
    }

    async fn platform(&self) -> Option<GqlDevicePlatform> {
        self.session.platform.map(Into::into)
    }

    /// The browser or app that signed in (its user agent), shortened.
    async fn user_agent(&self) -> Option<&str> {
        self.session.user_agent.as_deref()
    }

    /// A coarse place (a city or a country) from the address it signed in from; `null` when
    /// the server has no GeoIP database.
    async fn place(&self) -> Option<&str> {
        self.session.place.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.session.created_at
    }

    /// Its last refresh (an app refreshes about every 15 minutes while in use).
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.session.last_used_at
    }

    /// This is the session of the request.
    async fn current(&self) -> bool {
        self.current
    }
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
    /// What the device is, shown in `mySessions`.
    pub device: Option<DeviceInput>,
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
    /// The signed-in person (also while a second factor is owed).
    async fn me(&self, ctx: &Context<'_>) -> Result<Person> {
        ctx.auth()?.require_before_mfa()?;
        Ok(Person(svc::me(ctx.call()?).await?))
    }

    /// The privacy notice in force (the app shows it at sign-up and when a new version is out).
    async fn privacy_notice(&self, ctx: &Context<'_>) -> Result<PrivacyNotice> {
        let state = ctx.state()?;
        let notice = svc::consent::current_notice(state);
        Ok(PrivacyNotice {
            version: notice.version.to_owned(),
            url: notice.url.map(str::to_owned),
            sensitive_data_notice_version: state.settings.sensitive_data_notice_version.clone(),
        })
    }

    /// Her consents, newest first, withdrawn ones included.
    async fn my_consents(&self, ctx: &Context<'_>) -> Result<Vec<Consent>> {
        ctx.auth()?.require()?;
        Ok(svc::consent::my_consents(ctx.call()?).await?.into_iter().map(Consent).collect())
    }

    /// Her sessions that can still be used, the most recently used first (at most 200).
    async fn my_sessions(&self, ctx: &Context<'_>) -> Result<Vec<Session>> {
        let viewer = ctx.auth()?.require()?;
        let sessions = svc::sessions::my_sessions(ctx.call()?).await?;
        Ok(sessions.into_iter().map(|s| Session { current: s.id == viewer.session_id, session: s }).collect())
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
            device: device(input.device),
            privacy_notice_version: input.privacy_notice_version,
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
        let input = svc::LoginInput {
            phone: input.phone,
            password: SecretString::from(input.password),
            device_token: input.device_token.map(SecretString::from),
            device: device(input.device),
            otp: input.otp.map(SecretString::from),
        };
        Ok(svc::login(ctx.call()?, input).await.map_err(in_argument("input"))?.into())
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

    /// Ends one of her sessions (signs a device out); its tokens stop working at once.
    /// `NOT_FOUND` for a session that is not hers or has ended.
    async fn end_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::Session, "id")?;
        svc::sessions::end_session(ctx.call()?, id).await?;
        Ok(true)
    }

    /// Ends every one of her sessions, this one included: how many ended.
    async fn sign_out_everywhere(&self, ctx: &Context<'_>) -> Result<i32> {
        ctx.auth()?.require()?;
        let n = svc::sessions::sign_out_everywhere(ctx.call()?).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    /// Accepts the privacy notice in force (`privacyNotice.version`) after a new version came
    /// out; `OUTDATED` for another version.
    async fn accept_privacy_notice(&self, ctx: &Context<'_>, version: String) -> Result<bool> {
        ctx.auth()?.require()?;
        svc::consent::accept_notice(ctx.call()?, &version).await?;
        Ok(true)
    }

    /// Withdraws a consent. A sensitive-data consent: the report stays with the case officers
    /// (it may be evidence) but is no longer linked to her account or contact, and she no longer
    /// follows it in the app. The privacy notice cannot be withdrawn while the account exists
    /// (`CONFLICT` `NEEDED_FOR_ACCOUNT`: delete the account instead).
    async fn withdraw_consent(&self, ctx: &Context<'_>, id: ID) -> Result<Consent> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::Consent, "id")?;
        Ok(Consent(svc::consent::withdraw(ctx.call()?, id).await?))
    }

    /// Starts two-step verification: a secret for her authenticator app. A second factor
    /// already on is replaced only from a session that stepped up (`CONFLICT` `ALREADY_ENROLLED`).
    async fn start_totp_enrolment(&self, ctx: &Context<'_>) -> Result<TotpEnrolment> {
        ctx.auth()?.require_before_mfa()?;
        let e = svc::mfa::start_enrolment(ctx.call()?).await?;
        Ok(TotpEnrolment { secret: e.secret, otpauth_uri: e.uri })
    }

    /// Turns two-step verification on with a first code from the authenticator: her recovery
    /// codes, and a new access token for this session.
    async fn confirm_totp_enrolment(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] code: String,
    ) -> Result<TotpEnabled> {
        ctx.claim_credential_check("confirmTotpEnrolment")?;
        ctx.auth()?.require_before_mfa()?;
        let e = svc::mfa::confirm_enrolment(ctx.call()?, &SecretString::from(code)).await?;
        Ok(TotpEnabled {
            recovery_codes: e.recovery_codes,
            access_token: e.access_token,
            access_token_expires_at: e.access_token_expires_at,
        })
    }

    /// Proves it is her again, for the most sensitive actions (a report's access log, granting
    /// or ending roles) for a few minutes; with an authenticator code this also gives a session
    /// that owed a second factor its full rights. Throttled like a password.
    async fn step_up(&self, ctx: &Context<'_>, input: StepUpInput) -> Result<SteppedUp> {
        ctx.claim_credential_check("stepUp")?;
        ctx.auth()?.require_before_mfa()?;
        let proof = match (input.code, input.verification_token) {
            (Some(code), None) => svc::mfa::StepUpProof::SecondFactor(SecretString::from(code)),
            (None, Some(token)) => svc::mfa::StepUpProof::Phone(SecretString::from(token)),
            _ => {
                return Err(service::error::ApiError::bad_input(
                    "input",
                    service::error::InputProblem::ExactlyOne,
                )
                .into());
            }
        };
        let s = svc::mfa::step_up(ctx.call()?, proof).await.map_err(in_argument("input"))?;
        Ok(SteppedUp {
            until: s.until,
            access_token: s.access_token,
            access_token_expires_at: s.access_token_expires_at,
        })
    }

    /// Deletes her account, after her password: every session ends at once; her name, number,
    /// birth date, email, devices and notifications are erased; her memberships, registrations
    /// and pledges stay as anonymous rows (every figure stays right); reports she made stay
    /// with the case officers, no longer linked to her. It cannot be undone.
    async fn delete_my_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] password: String,
    ) -> Result<bool> {
        ctx.claim_credential_check("deleteMyAccount")?;
        ctx.auth()?.require()?;
        svc::erasure::delete_my_account(ctx.call()?, &SecretString::from(password)).await?;
        Ok(true)
    }

    /// Everything the service holds about her, as one JSON document (profile, memberships and
    /// their history, registrations and attendance, pledges, notifications, her reports as she
    /// follows them, consents, sessions, roles). A few per day (`RATE_LIMITED` past them).
    async fn export_my_data(&self, ctx: &Context<'_>) -> Result<MyDataExport> {
        ctx.auth()?.require()?;
        let data = svc::export::export_my_data(ctx.call()?).await?;
        Ok(MyDataExport { generated_at: Utc::now(), data: async_graphql::Json(data) })
    }

    /// Ends the current session; its access token stops working immediately.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        ctx.auth()?.require_before_mfa()?;
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
        Ok(svc::recovery::reset_password(ctx.call()?, &token, &password, device(input.device))
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
    /// Ended from a session (`endSession`).
    Ended,
    /// `signOutEverywhere`.
    SignedOutEverywhere,
    /// The account was deleted.
    AccountDeleted,
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
