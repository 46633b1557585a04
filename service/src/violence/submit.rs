//! Submitting a report, signed in or anonymously.
//!
//! - **Idempotent.** The client sends a key it generated; the report keeps the key's SHA-256
//!   and a keyed digest of the input. A retry with the same key and input returns the same
//!   report (and, for an anonymous reporter, the same PIN: it is derived from the key, which
//!   only the client holds); the same key with another input is `CONFLICT`
//!   `IDEMPOTENCY_KEY_REUSED`. Concurrent retries race on the key's unique index: one insert
//!   wins, the others read the winner.
//! - **Rate-limited** per account and per client address; retries of one key count once.
//! - **Routed** to the case officers of the place's unit, or of its nearest ancestor that has
//!   any (the root when none has), who are notified in the same transaction.

use crate::Call;
use chrono::{DateTime, Duration, Utc};
use entities::ids::{PersonId, ReportId, UnitId};
use entities::{consent::ConsentKind, org_unit, violence_report as report};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    AccessAction, ActorRole, Affected, AgeGroup, ContactChannel, EventKind, MAX_ADDRESS, MAX_DESCRIPTION,
    MAX_SAFE_TIMES, NewEvent, ReportStatus, ViolenceKind, add_event, case_officers_at, log_access,
    nearest_with_case_officers, notify, publish_console_event, seal,
};
use crate::{
    auth::{Viewer, hash_password},
    crypto::Keyring,
    domain::PhoneNumber,
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    state::AppState,
    {
        RequestMeta,
        notifications::{NotificationKind, announce},
    },
};

/// Safe contact details, all optional.
#[derive(Clone, Debug, Default)]
pub struct SafeContactInput {
    pub phone: Option<String>,
    pub safe_times: Option<String>,
    pub channel: Option<ContactChannel>,
}

/// What a reporter submits.
#[derive(Clone)]
pub struct ReportInput {
    pub unit_id: UnitId,
    pub affected: Affected,
    pub age_group: AgeGroup,
    pub kinds: Vec<ViolenceKind>,
    pub immediate_danger: bool,
    pub children_involved: bool,
    pub description: String,
    pub address: Option<String>,
    pub contact: Option<SafeContactInput>,
    pub may_contact: bool,
    pub may_share: bool,
    /// A signed-in reporter's explicit consent to the processing of the sensitive data her
    /// report links to her account (required signed in; anonymous reports link to no one).
    pub sensitive_data_consent: bool,
    pub idempotency_key: String,
}

/// Never prints what the reporter wrote.
impl std::fmt::Debug for ReportInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportInput").field("unit_id", &self.unit_id).finish_non_exhaustive()
    }
}

/// What the reporter gets back.
pub struct Receipt {
    pub id: ReportId,
    /// What she quotes to follow it.
    pub reference_code: String,
    /// The PIN of an anonymous report (shown once; a retry of the same submission shows it
    /// again).
    pub pin: Option<String>,
    pub status: ReportStatus,
    pub submitted_at: DateTime<Utc>,
}

impl Receipt {
    fn of(report: &report::Model, pin: Option<String>) -> Result<Self, ApiError> {
        Ok(Receipt {
            id: report.id,
            reference_code: report.reference_code.clone(),
            pin,
            status: report.status,
            submitted_at: report.submitted_at,
        })
    }
}

/// The input, checked and normalised.
struct Parsed {
    kinds: Vec<ViolenceKind>,
    description: String,
    address: Option<String>,
    contact: Option<serde_json::Value>,
}

/// Keeps line breaks (a description is prose), trims, composes accents; `None` when empty.
pub fn prose(raw: &str, max: usize, field: &'static str) -> Result<Option<String>, ApiError> {
    use unicode_normalization::UnicodeNormalization;
    let text: String = raw.trim().nfc().collect();
    match text.chars().count() {
        0 => Ok(None),
        n if n > max => Err(ApiError::bad_input(field, InputProblem::TooLong)),
        _ => Ok(Some(text)),
    }
}

/// A required piece of prose (a note, a message…).
pub fn required_prose(raw: &str, max: usize, field: &'static str) -> Result<String, ApiError> {
    prose(raw, max, field)?.ok_or(ApiError::bad_input(field, InputProblem::Required))
}

fn parse(input: &ReportInput) -> Result<Parsed, ApiError> {
    let key = &input.idempotency_key;
    if !(16..=200).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_input("idempotency_key", InputProblem::InvalidFormat));
    }
    let mut kinds: Vec<ViolenceKind> =
        ViolenceKind::ALL.iter().copied().filter(|k| input.kinds.contains(k)).collect();
    kinds.dedup();
    if kinds.is_empty() {
        return Err(ApiError::bad_input("kinds", InputProblem::Required));
    }
    let description = required_prose(&input.description, MAX_DESCRIPTION, "description")?;
    let address = prose(input.address.as_deref().unwrap_or(""), MAX_ADDRESS, "address")?;
    let contact = match &input.contact {
        None => None,
        Some(c) => {
            let phone = c
                .phone
                .as_deref()
                .filter(|p| !p.trim().is_empty())
                .map(|p| PhoneNumber::parse(p, "contact.phone"))
                .transpose()?;
            let safe_times =
                prose(c.safe_times.as_deref().unwrap_or(""), MAX_SAFE_TIMES, "contact.safe_times")?;
            if phone.is_none() && safe_times.is_none() && c.channel.is_none() {
                None
            } else {
                Some(json!({
                    "phone": phone.as_ref().map(|p| p.as_str()),
                    "safeTimes": safe_times,
                    "channel": c.channel.map(|ch| ch.as_str()),
                }))
            }
        }
    };
    Ok(Parsed { kinds, description, address, contact })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What tells a retry from another submission under the same key: everything submitted, and
/// by whom (a keyed digest: the database alone cannot confirm a guess of the text).
fn input_digest(
    keys: &Keyring,
    key_id: u16,
    input: &ReportInput,
    parsed: &Parsed,
    reporter: Option<PersonId>,
) -> String {
    let canonical = json!({
        "reporter": reporter,
        "unit": input.unit_id,
        "affected": input.affected.as_str(),
        "ageGroup": input.age_group.as_str(),
        "kinds": parsed.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "immediateDanger": input.immediate_danger,
        "childrenInvolved": input.children_involved,
        "description": parsed.description,
        "address": parsed.address,
        "contact": parsed.contact,
        "mayContact": input.may_contact,
        "mayShare": input.may_share,
    });
    hex(&keys.digest_with(key_id, canonical.to_string().as_bytes()).unwrap_or_default())
}

/// The PIN of an anonymous report: 8 digits derived from the client's key and the report, so
/// a retry shows the same PIN without the server keeping it.
fn derive_pin(keys: &Keyring, key_id: u16, idempotency_key: &str, report_id: ReportId) -> String {
    let mut data = b"pin\0".to_vec();
    data.extend_from_slice(idempotency_key.as_bytes());
    data.extend_from_slice(report_id.0.as_bytes());
    let digest = keys.digest_with(key_id, &data).unwrap_or_default();
    let n = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default()) % 100_000_000;
    format!("{n:08}")
}

/// Characters of a reference code: no 0/O, 1/I/L, so it survives being read aloud.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fn reference_code() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format_args!("rng: {e}")))?;
    let code: String =
        bytes.iter().map(|b| CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()] as char).collect();
    Ok(format!("BL-{code}"))
}

/// When a report not yet acknowledged escalates.
pub fn escalation_deadline(state: &AppState, urgent: bool, from: DateTime<Utc>) -> DateTime<Utc> {
    let after = if urgent {
        state.settings.report_escalate_urgent_after
    } else {
        state.settings.report_escalate_after
    };
    from + Duration::from_std(after).unwrap_or(Duration::hours(24))
}

/// How long a key's retries count as one submission for the rate limits.
const KEY_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
const LIMIT_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

async fn check_limits(state: &AppState, viewer: Option<&Viewer>, meta: &RequestMeta) -> Result<(), ApiError> {
    let s = &state.settings;
    // The account first: an attempt it refuses does not use up the address's allowance.
    let mut checks = Vec::new();
    if let Some(v) = viewer {
        checks.push((format!("vr:acct:{}", v.person_id), s.report_max_per_account));
    }
    checks.push((format!("vr:addr:{}", meta.client_addr), s.report_max_per_address));
    let mut counted: Vec<String> = Vec::new();
    for (key, max) in checks {
        let hit = state.cache.hit(&key, LIMIT_WINDOW).await?;
        if hit.count > u64::from(max) {
            // A refused attempt uses up no allowance: take back what it counted.
            state.cache.undo_hit(&key).await.ok();
            for earlier in &counted {
                state.cache.undo_hit(earlier).await.ok();
            }
            return Err(ApiError::RateLimited { retry_after_secs: hit.resets_in.as_secs().max(1) });
        }
        counted.push(key);
    }
    Ok(())
}

/// The report a key already made, as a receipt — or `CONFLICT` if the input differs. The
/// digest and the PIN are derived with the key the report was sealed with, so a retry after a
/// key rotation is still recognised and shows the same PIN.
fn replay(
    keys: &Keyring,
    existing: report::Model,
    input: &ReportInput,
    parsed: &Parsed,
    reporter: Option<PersonId>,
) -> Result<Receipt, ApiError> {
    let key_id = Keyring::key_id_of(&existing.description).unwrap_or(keys.current_key_id());
    if existing.input_digest != input_digest(keys, key_id, input, parsed, reporter) {
        return Err(ApiError::Conflict(ConflictKind::IdempotencyKeyReused));
    }
    let pin =
        existing.pin_hash.is_some().then(|| derive_pin(keys, key_id, &input.idempotency_key, existing.id));
    Receipt::of(&existing, pin)
}

async fn by_key(state: &AppState, key_hash: &str) -> Result<Option<report::Model>, ApiError> {
    Ok(report::Entity::find().filter(report::Column::IdempotencyKey.eq(key_hash)).one(&state.db).await?)
}

/// Submits a report (see the module docs).
pub async fn submit(call: Call<'_>, input: ReportInput) -> Result<Receipt, ApiError> {
    let (state, viewer, meta) = (call.state, call.optional_viewer()?, call.meta);
    let keys = &state.report_keys;
    let parsed = parse(&input)?;
    let reporter = viewer.map(|v| v.person_id);
    if reporter.is_some() && !input.sensitive_data_consent {
        return Err(ApiError::bad_input("sensitive_data_consent", InputProblem::Required));
    }
    let key_hash = hex(&Sha256::digest(input.idempotency_key.as_bytes()));
    let digest = input_digest(keys, keys.current_key_id(), &input, &parsed, reporter);
    if let Some(existing) = by_key(state, &key_hash).await? {
        return replay(keys, existing, &input, &parsed, reporter);
    }

    // The first attempt with a key counts against the limits; its retries do not.
    let key_slot = format!("vr:key:{key_hash}");
    if state.cache.hit(&key_slot, KEY_WINDOW).await?.count == 1
        && let Err(e) = check_limits(state, viewer, meta).await
    {
        state.cache.undo_hit(&key_slot).await.ok();
        return Err(e);
    }

    let mut place = org_unit::Entity::find_by_id(input.unit_id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::bad_input("unit_id", InputProblem::InvalidId))?;
    // A place merged into another (an old ward an app still lists) is now that unit: a report
    // is never refused for it.
    while let Some(into) = place.merged_into_id {
        place = crate::org::get_unit(&state.db, into).await?;
    }
    if !matches!(place.kind.as_str(), "BASE" | "BRANCH" | "GROUP") {
        return Err(ApiError::bad_input("unit_id", InputProblem::InvalidKind));
    }
    let routed = match nearest_with_case_officers(&state.db, place.id, false).await? {
        Some(unit) => unit,
        None => crate::org::root_of(&state.db, place.id).await?,
    };
    // The id comes first: the PIN is derived from it.
    let id = ReportId::new();
    let pin = reporter.is_none().then(|| derive_pin(keys, keys.current_key_id(), &input.idempotency_key, id));
    let pin_hash = match &pin {
        Some(pin) => Some(hash_password(pin.clone()).await?),
        None => None,
    };

    let urgent = input.immediate_danger;
    let now = Utc::now();
    let description = seal(keys, &parsed.description, id, "description")?;
    let address = parsed.address.as_deref().map(|a| seal(keys, a, id, "address")).transpose()?;
    let contact = parsed.contact.as_ref().map(|c| seal(keys, &c.to_string(), id, "contact")).transpose()?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let row = report::ActiveModel {
            id: Set(id),
            reference_code: Set(reference_code()?),
            unit_id: Set(place.id),
            routed_unit_id: Set(routed),
            handling_unit_id: Set(place.id),
            transfer_to_unit_id: Set(None),
            transfer_requested_by: Set(None),
            transfer_requested_at: Set(None),
            closure_requested_by: Set(None),
            closure_requested_at: Set(None),
            closure_requested_reason: Set(None),
            reporter_id: Set(reporter),
            pin_hash: Set(pin_hash.clone()),
            pin_failures: Set(0),
            pin_locked_at: Set(None),
            affected: Set(input.affected),
            age_group: Set(input.age_group),
            kinds: Set(parsed.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")),
            immediate_danger: Set(input.immediate_danger),
            children_involved: Set(input.children_involved),
            urgent: Set(urgent),
            description: Set(description.clone()),
            address: Set(address.clone()),
            contact: Set(contact.clone()),
            may_contact: Set(input.may_contact),
            may_share: Set(input.may_share),
            status: Set(ReportStatus::Submitted),
            close_reason: Set(None),
            assigned_to: Set(None),
            version: Set(0),
            escalation_level: Set(0),
            escalate_at: Set(Some(escalation_deadline(state, urgent, now))),
            idempotency_key: Set(key_hash.clone()),
            input_digest: Set(digest.clone()),
            submitted_at: Set(now),
            acknowledged_at: Set(None),
            closed_at: Set(None),
            updated_at: Set(now),
        };
        let txn = state.db.begin().await?;
        let saved = match row.insert(&txn).await {
            Ok(saved) => saved,
            Err(e) if is_unique_violation(&e) => {
                txn.rollback().await.ok();
                // A concurrent retry won the key: answer with its report.
                if let Some(existing) = by_key(state, &key_hash).await? {
                    return replay(keys, existing, &input, &parsed, reporter);
                }
                // Otherwise the reference code collided (one in billions): draw another.
                if attempt < 3 {
                    continue;
                }
                return Err(ApiError::internal(e));
            }
            Err(e) => return Err(e.into()),
        };
        add_event(&txn, keys, id, NewEvent::new(EventKind::Submitted, reporter, ActorRole::Reporter), now)
            .await?;
        log_access(&txn, id, reporter, ActorRole::Reporter, AccessAction::Submit, now).await?;
        if let Some(person) = reporter {
            let version = &state.settings.sensitive_data_notice_version;
            crate::identity::consent::record(&txn, person, ConsentKind::SensitiveData, version, Some(id))
                .await?;
        }
        let officers = case_officers_at(&txn, routed).await?;
        let notes = notify(&txn, &officers, NotificationKind::ViolenceReportReceived, id).await?;
        txn.commit().await?;
        announce(state, &notes).await;
        publish_console_event(state, &saved, "SUBMITTED").await;
        return Receipt::of(&saved, pin);
    }
}
