//! CSV import of members: "the usual spreadsheet export" in, a per-row report out.
//!
//! Input: UTF-8 with or without BOM, `,` or `;` (detected from the header line; a tab too),
//! RFC 4180 quoting, CRLF or LF. Headers are matched accent- and case-insensitively, in
//! Vietnamese or English; unknown columns (e.g. `STT`) are ignored.
//!
//! Invariants:
//! - all or nothing: the valid rows are written in one transaction, or none is;
//! - a re-import is idempotent: a row whose person is already a current member of the same
//!   branch counts as `unchanged` (no new person, number, membership or event);
//! - a branch outside the importer's reach answers exactly like an unknown code, so codes
//!   outside reach are not revealed;
//! - consent, as for direct enrolment: only numbers new to the service become members here; a
//!   known number (an account, an earlier record, a member of a branch outside the reach) is
//!   invited, and the report says only `invited` for it — never her name, account or membership
//!   elsewhere (`MEMBER_ELSEWHERE` only for a branch in the importer's reach);
//! - a dry run does not tell new numbers from known ones (it would be a lookup that leaves no
//!   trace); a real import does, as `enrolMember` does, with its writes and notifications;
//! - imports and dry runs are counted per officer before anything is looked up (runs per hour,
//!   rows per day);
//! - the work is bulk: reads are `IN (…)` queries of at most [`IN_CHUNK`] values, writes are
//!   multi-row inserts within the bind-parameter limits, and the per-branch counters change once
//!   per branch — a 50,000-row file is a few hundred statements, not a few hundred thousand.

use crate::Call;
use crate::audit;
use entities::ids::{MembershipId, PersonId, UnitId};
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use entities::{membership, membership_event, org_unit, person};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set, TransactionTrait, Value,
    sea_query::OnConflict,
};
use uuid::Uuid;

use super::{EventKind, MemberStatus, format_member_number, invite, reserve_member_numbers};
use crate::{
    auth::Viewer,
    authz::{self, Capability},
    db,
    domain::{PersonName, PhoneNumber, check_birth_date, fold_for_search, hanoi_day},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    {identity::new_person, notifications, org::UnitKind},
};

/// Most data rows one file may hold.
pub const MAX_IMPORT_ROWS: usize = 100_000;
/// Values per `IN (…)` list.
const IN_CHUNK: usize = 1000;
/// Bind parameters per statement: under SQLite's 32,766 (PostgreSQL allows 65,535).
const MAX_PARAMS: usize = 30_000;
/// Rows per multi-row insert (fewer when a row has many columns).
const MAX_INSERT_ROWS: usize = 1000;
/// An offending value is echoed in the report up to this many characters.
const MAX_VALUE_CHARS: usize = 100;
/// The field named by a file-level error (the resolver renames it for pasted text).
pub const IMPORT_FIELD: &str = "file";

/// Why a row was not imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    InvalidName,
    InvalidPhone,
    InvalidBirthDate,
    /// No such code, not a branch, or outside the importer's reach (not distinguished).
    UnknownBranch,
    /// The same phone number is on an earlier line (that line is the one considered).
    DuplicateInFile,
    /// She is a current member of another branch in the importer's reach (a transfer is the way
    /// to move her). A member of a branch outside the reach is invited like any known number.
    MemberElsewhere,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidName => "INVALID_NAME",
            RejectReason::InvalidPhone => "INVALID_PHONE",
            RejectReason::InvalidBirthDate => "INVALID_BIRTH_DATE",
            RejectReason::UnknownBranch => "UNKNOWN_BRANCH",
            RejectReason::DuplicateInFile => "DUPLICATE_IN_FILE",
            RejectReason::MemberElsewhere => "MEMBER_ELSEWHERE",
        }
    }
}

/// One rejected row: its line in the file (the header is line 1), why, and the offending value
/// (never the whole row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRejection {
    pub line: u64,
    pub reason: RejectReason,
    pub value: Option<String>,
}

/// What an import did (or, in a dry run, would do). `total_rows` = `imported` + `invited` +
/// `unchanged` + rejected rows; blank rows are not counted.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub total_rows: u64,
    pub imported: u64,
    /// Lines whose number the service already knew: she was (or would be) invited, and becomes
    /// a member when she accepts. In line order.
    pub invited_lines: Vec<u64>,
    pub unchanged: u64,
    /// In line order.
    pub rejected: Vec<ImportRejection>,
    pub dry_run: bool,
}

/// Imports members from a CSV file for branches in the caller's reach (a member manager
/// somewhere). Rows with numbers new to the service become active members (`IMPORTED` event,
/// actor = the importer); rows with known numbers become invitations (see
/// [`super::invitations`]); all in one transaction. `dry_run` reports without writing. Each
/// officer may run `APP_IMPORT_MAX_PER_OFFICER` imports an hour and have
/// `APP_IMPORT_ROWS_MAX_PER_OFFICER` rows checked a day, dry runs included, counted before
/// anything is looked up.
pub async fn import_members(
    call: Call<'_>,
    csv_bytes: &[u8],
    dry_run: bool,
) -> Result<ImportReport, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let started = std::time::Instant::now();
    let db = &state.db;
    let acting = authz::require_somewhere(db, viewer, Capability::ManageMembers).await?;
    let admin = authz::is_system_admin(db, viewer.person_id).await?;
    let parsed = parse_csv(csv_bytes)?;
    let s = &state.settings;
    let runs = format!("import:officer:{}", viewer.person_id);
    state.cache.spend(&runs, std::time::Duration::from_secs(3600), 1, s.import_max_per_officer).await?;
    let rows = format!("import-rows:officer:{}", viewer.person_id);
    let day = std::time::Duration::from_secs(24 * 3600);
    if let Err(e) = state.cache.spend(&rows, day, parsed.total_rows, s.import_rows_max_per_officer).await {
        // A run refused for its rows is not a run.
        state.cache.undo_hit(&runs).await?;
        return Err(e);
    }

    let report = if dry_run {
        let plan = plan(db, viewer, admin, parsed).await?;
        plan.report(true)
    } else {
        let txn = db.begin().await?;
        // Reserving nothing still locks the counter row until commit: every writer of new
        // memberships (approval, enrolment, accepting an invitation, another import) waits
        // here, so no membership read as absent below appears before this transaction ends.
        // (A move between branches takes no number; a member read as current stays one.)
        reserve_member_numbers(&txn, 0).await?;
        let plan = plan(&txn, viewer, admin, parsed).await?;
        apply(&txn, viewer.person_id, &plan.to_import).await?;
        let invitations: Vec<(PersonId, UnitId)> =
            plan.to_invite.iter().map(|i| (i.person_id, i.branch_id)).collect();
        let notes = invite(&txn, viewer.person_id, &invitations).await?;
        audit::record_all(&txn, audit::Actor::new(viewer, acting), plan.audit_entries()).await?;
        txn.commit().await?;
        notifications::announce(state, &notes).await;
        plan.report(false)
    };
    tracing::info!(
        total_rows = report.total_rows,
        imported = report.imported,
        invited = report.invited_lines.len(),
        unchanged = report.unchanged,
        rejected = report.rejected.len(),
        dry_run,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "member import"
    );
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// Parsing

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Column {
    FullName,
    Phone,
    BirthDate,
    BranchCode,
}

/// Accepted headers, folded (see [`header_key`]).
const HEADERS: &[(&str, Column)] = &[
    ("ho va ten", Column::FullName),
    ("ho ten", Column::FullName),
    ("full name", Column::FullName),
    ("name", Column::FullName),
    ("so dien thoai", Column::Phone),
    ("dien thoai", Column::Phone),
    ("sdt", Column::Phone),
    ("phone", Column::Phone),
    ("phone number", Column::Phone),
    ("ngay sinh", Column::BirthDate),
    ("birth date", Column::BirthDate),
    ("date of birth", Column::BirthDate),
    ("ma chi hoi", Column::BranchCode),
    ("chi hoi", Column::BranchCode),
    ("branch code", Column::BranchCode),
    ("branch", Column::BranchCode),
];

/// A header folded for matching: accents and case gone, anything in brackets (`(*)`,
/// `(dd/mm/yyyy)`) dropped, punctuation turned into spaces.
fn header_key(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0usize;
    for c in fold_for_search(raw).chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The delimiter of the header line: the most frequent of `;`, `,` and tab outside quotes
/// (a comma when there is none, e.g. a one-column file).
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let (mut commas, mut semicolons, mut tabs, mut quoted) = (0, 0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            '\t' if !quoted => tabs += 1,
            _ => {}
        }
    }
    if tabs > commas && tabs > semicolons {
        b'\t'
    } else if semicolons > commas {
        b';'
    } else {
        b','
    }
}

fn all_digits(s: &str, len: std::ops::RangeInclusive<usize>) -> Option<u32> {
    (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `dd/mm/yyyy`, `d/m/yyyy` or `yyyy-mm-dd`.
fn parse_date(raw: &str) -> Option<NaiveDate> {
    let day_first = raw.contains('/');
    let parts: Vec<&str> = raw.split(if day_first { '/' } else { '-' }).collect();
    let [a, b, c] = parts[..] else { return None };
    let (y, m, d) = if day_first {
        (all_digits(c, 4..=4)?, all_digits(b, 1..=2)?, all_digits(a, 1..=2)?)
    } else {
        (all_digits(a, 4..=4)?, all_digits(b, 1..=2)?, all_digits(c, 1..=2)?)
    };
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// The offending value as echoed in the report: trimmed, bounded, absent when empty.
fn echo(raw: &str) -> Option<String> {
    let v = raw.trim();
    (!v.is_empty()).then(|| v.chars().take(MAX_VALUE_CHARS).collect())
}

/// A row whose fields are well-formed; the database decides the rest.
struct Candidate {
    line: u64,
    name: PersonName,
    phone: PhoneNumber,
    birth_date: Option<NaiveDate>,
    /// Uppercased, as codes are stored.
    branch_code: String,
}

struct Parsed {
    total_rows: u64,
    candidates: Vec<Candidate>,
    rejected: Vec<ImportRejection>,
}

fn file_error(problem: InputProblem) -> ApiError {
    ApiError::bad_input(IMPORT_FIELD, problem)
}

/// Reads the file into candidates and rejections (the field checks, and duplicates in file).
fn parse_csv(bytes: &[u8]) -> Result<Parsed, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| file_error(InputProblem::InvalidFormat))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(file_error(InputProblem::Required));
    }
    // The csv reader counts a CRLF record's line before consuming its `\n`, one short: with LF
    // only, positions are the file's line numbers.
    let text: std::borrow::Cow<'_, str> =
        if text.contains('\r') { text.replace("\r\n", "\n").into() } else { text.into() };
    let text = text.as_ref();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(text))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|_| file_error(InputProblem::InvalidFormat))?;
    let mut columns: HashMap<Column, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let key = header_key(h);
        if let Some(&(_, col)) = HEADERS.iter().find(|(name, _)| *name == key) {
            columns.entry(col).or_insert(i);
        }
    }
    let (Some(&name_col), Some(&phone_col), Some(&branch_col)) =
        (columns.get(&Column::FullName), columns.get(&Column::Phone), columns.get(&Column::BranchCode))
    else {
        return Err(file_error(InputProblem::MissingColumn));
    };
    let birth_col = columns.get(&Column::BirthDate).copied();

    let mut parsed = Parsed { total_rows: 0, candidates: Vec::new(), rejected: Vec::new() };
    let mut seen_phones: HashSet<String> = HashSet::new();
    for record in reader.records() {
        let record = record.map_err(|_| file_error(InputProblem::InvalidFormat))?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        parsed.total_rows += 1;
        if parsed.total_rows > MAX_IMPORT_ROWS as u64 {
            return Err(file_error(InputProblem::TooMany));
        }
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("");
        let (raw_name, raw_phone, raw_birth) =
            (field(name_col), field(phone_col), birth_col.map(field).unwrap_or(""));
        let name = PersonName::parse(raw_name, "full_name");
        let phone = PhoneNumber::parse(raw_phone, "phone");
        // The first line with a phone number stands, whatever becomes of it; later ones are
        // duplicates.
        let duplicate = phone.as_ref().is_ok_and(|p| !seen_phones.insert(p.as_str().to_owned()));
        let birth_date = match raw_birth.trim() {
            "" => Ok(None),
            s => {
                parse_date(s).filter(|d| check_birth_date(Some(*d), "birth_date").is_ok()).map(Some).ok_or(())
            }
        };
        let reject = |reason, value: &str| ImportRejection { line, reason, value: echo(value) };
        let candidate = match (name, phone, birth_date) {
            (Err(_), _, _) => Err(reject(RejectReason::InvalidName, raw_name)),
            (_, Err(_), _) => Err(reject(RejectReason::InvalidPhone, raw_phone)),
            (_, _, Err(())) => Err(reject(RejectReason::InvalidBirthDate, raw_birth)),
            (Ok(_), Ok(phone), Ok(_)) if duplicate => Err(ImportRejection {
                line,
                reason: RejectReason::DuplicateInFile,
                value: echo(phone.as_str()),
            }),
            (Ok(name), Ok(phone), Ok(birth_date)) => Ok(Candidate {
                line,
                name,
                phone,
                birth_date,
                branch_code: field(branch_col).trim().to_ascii_uppercase(),
            }),
        };
        match candidate {
            Ok(c) => parsed.candidates.push(c),
            Err(r) => parsed.rejected.push(r),
        }
    }
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------------
// Planning: what the database says about each candidate

/// A row to write: a new person and her membership of `branch_id`.
struct Planned {
    candidate: Candidate,
    branch_id: UnitId,
}

/// A row whose person the service knows: an invitation to `branch_id`.
struct Invitee {
    line: u64,
    person_id: PersonId,
    branch_id: UnitId,
}

struct Plan {
    total_rows: u64,
    unchanged: u64,
    rejected: Vec<ImportRejection>,
    to_import: Vec<Planned>,
    to_invite: Vec<Invitee>,
}

impl Plan {
    /// The audit trail of an import: one entry per branch it wrote to, with how many members
    /// were imported there and how many invited, under one import id. Names and numbers stay
    /// out (the memberships' own events name who).
    fn audit_entries(&self) -> Vec<audit::Entry> {
        let mut per_branch: std::collections::BTreeMap<UnitId, (u64, u64)> = Default::default();
        for p in &self.to_import {
            per_branch.entry(p.branch_id).or_default().0 += 1;
        }
        for i in &self.to_invite {
            per_branch.entry(i.branch_id).or_default().1 += 1;
        }
        let import_id = Uuid::now_v7();
        per_branch
            .into_iter()
            .map(|(branch, (imported, invited))| {
                audit::Entry::new(
                    audit::Action::MembersImported,
                    branch,
                    audit::SubjectKind::Import,
                    import_id,
                )
                .set("imported", imported)
                .set("invited", invited)
            })
            .collect()
    }

    /// The report. A dry run does not tell new numbers from known ones: it writes nothing and
    /// notifies nobody, so the split would make it a silent lookup of who is known; its
    /// `imported` counts the rows that would be imported or invited.
    fn report(mut self, dry_run: bool) -> ImportReport {
        self.rejected.sort_by_key(|r| r.line);
        let (imported, invited_lines) = if dry_run {
            ((self.to_import.len() + self.to_invite.len()) as u64, Vec::new())
        } else {
            let mut lines: Vec<u64> = self.to_invite.iter().map(|i| i.line).collect();
            lines.sort_unstable();
            (self.to_import.len() as u64, lines)
        };
        ImportReport {
            total_rows: self.total_rows,
            imported,
            invited_lines,
            unchanged: self.unchanged,
            rejected: self.rejected,
            dry_run,
        }
    }
}

/// Classifies the candidates with a few chunked queries: unknown branches; known numbers that
/// are current members of the same branch (unchanged), of another branch in reach (rejected),
/// or anything else (invited: a member outside the reach looks like any known number); and new
/// numbers to import.
async fn plan(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    admin: bool,
    parsed: Parsed,
) -> Result<Plan, ApiError> {
    let Parsed { total_rows, candidates, mut rejected } = parsed;
    let codes: Vec<String> =
        candidates.iter().map(|c| c.branch_code.clone()).collect::<HashSet<_>>().into_iter().collect();
    let branches = branches_in_reach(conn, viewer, admin, &codes).await?;

    let mut located = Vec::with_capacity(candidates.len());
    for c in candidates {
        match branches.get(&c.branch_code) {
            Some(&branch_id) => located.push((c, branch_id)),
            None => rejected.push(ImportRejection {
                line: c.line,
                reason: RejectReason::UnknownBranch,
                value: echo(&c.branch_code),
            }),
        }
    }
    let phones: Vec<String> = located.iter().map(|(c, _)| c.phone.as_str().to_owned()).collect();
    let people = people_by_phone(conn, &phones).await?;
    let person_ids: Vec<PersonId> = people.values().copied().collect();
    let current = current_branches(conn, &person_ids).await?;

    let elsewhere: Vec<UnitId> = current.values().copied().collect::<HashSet<_>>().into_iter().collect();
    let managed = units_in_reach(conn, viewer, admin, &elsewhere).await?;

    let mut plan = Plan { total_rows, unchanged: 0, rejected, to_import: Vec::new(), to_invite: Vec::new() };
    for (candidate, branch_id) in located {
        let Some(&person_id) = people.get(candidate.phone.as_str()) else {
            plan.to_import.push(Planned { candidate, branch_id });
            continue;
        };
        match current.get(&person_id) {
            Some(&b) if b == branch_id => plan.unchanged += 1,
            Some(b) if managed.contains(b) => plan.rejected.push(ImportRejection {
                line: candidate.line,
                reason: RejectReason::MemberElsewhere,
                value: echo(candidate.phone.as_str()),
            }),
            _ => plan.to_invite.push(Invitee { line: candidate.line, person_id, branch_id }),
        }
    }
    Ok(plan)
}

/// Code → id of the live `BRANCH` units among `codes` that the viewer manages.
async fn branches_in_reach(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    admin: bool,
    codes: &[String],
) -> Result<HashMap<String, UnitId>, ApiError> {
    let mut found = HashMap::new();
    for chunk in codes.chunks(IN_CHUNK) {
        let mut q = org_unit::Entity::find()
            .select_only()
            .column(org_unit::Column::Code)
            .column(org_unit::Column::Id)
            .filter(org_unit::Column::Code.is_in(chunk.iter().cloned()))
            .filter(org_unit::Column::Kind.eq(UnitKind::Branch.as_str()))
            // A merged branch takes no one (its row is unknown to the import); the live ones
            // are held against a merge until the import commits (see `org::lock_active`).
            .filter(org_unit::Column::Status.eq(org_unit::UnitStatus::Active.as_str()));
        if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
            q = q.lock(sea_orm::sea_query::LockType::KeyShare);
        }
        if !admin {
            q = q.filter(
                org_unit::Column::Id
                    .in_subquery(authz::reach_select(viewer.person_id, Capability::ManageMembers)),
            );
        }
        found.extend(q.into_tuple::<(String, UnitId)>().all(conn).await?);
    }
    Ok(found)
}

/// Those of `units` the viewer manages members of.
async fn units_in_reach(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    admin: bool,
    units: &[UnitId],
) -> Result<HashSet<UnitId>, ApiError> {
    if admin {
        return Ok(units.iter().copied().collect());
    }
    let mut found = HashSet::new();
    for chunk in units.chunks(IN_CHUNK) {
        let ids: Vec<UnitId> = org_unit::Entity::find()
            .select_only()
            .column(org_unit::Column::Id)
            .filter(org_unit::Column::Id.is_in(chunk.iter().copied()))
            .filter(
                org_unit::Column::Id
                    .in_subquery(authz::reach_select(viewer.person_id, Capability::ManageMembers)),
            )
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(ids);
    }
    Ok(found)
}

/// Phone → id of the people with these phone numbers.
async fn people_by_phone(
    conn: &impl ConnectionTrait,
    phones: &[String],
) -> Result<HashMap<String, PersonId>, ApiError> {
    let mut found = HashMap::new();
    for chunk in phones.chunks(IN_CHUNK) {
        let rows: Vec<(String, PersonId)> = person::Entity::find()
            .select_only()
            .column(person::Column::Phone)
            .column(person::Column::Id)
            .filter(person::Column::Phone.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// Person → branch of her current (active or suspended) membership.
async fn current_branches(
    conn: &impl ConnectionTrait,
    person_ids: &[PersonId],
) -> Result<HashMap<PersonId, UnitId>, ApiError> {
    let mut found = HashMap::new();
    for chunk in person_ids.chunks(IN_CHUNK) {
        let rows: Vec<(PersonId, UnitId)> = membership::Entity::find()
            .select_only()
            .column(membership::Column::PersonId)
            .column(membership::Column::BranchId)
            .filter(membership::Column::PersonId.is_in(chunk.iter().copied()))
            .filter(
                membership::Column::Status
                    .is_in([MemberStatus::Active.as_str(), MemberStatus::Suspended.as_str()]),
            )
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Rows per insert for a table with `columns` columns.
fn rows_per_insert(columns: usize) -> usize {
    (MAX_PARAMS / columns.max(1)).clamp(1, MAX_INSERT_ROWS)
}

/// Writes the planned rows in the caller's transaction: people, memberships with consecutive
/// numbers, events, counters.
async fn apply(txn: &impl ConnectionTrait, actor: PersonId, rows: &[Planned]) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let person_ids = create_people(txn, rows, now).await?;
    let first_number = reserve_member_numbers(txn, rows.len() as i64).await?;

    let memberships: Vec<membership::ActiveModel> = rows
        .iter()
        .zip(&person_ids)
        .zip(first_number..)
        .map(|((row, &person_id), number)| membership::ActiveModel {
            id: Set(MembershipId::new()),
            person_id: Set(person_id),
            name_search: Set(fold_for_search(row.candidate.name.as_str())),
            branch_id: Set(row.branch_id),
            member_number: Set(format_member_number(number)),
            status: Set(MemberStatus::Active),
            joined_at: Set(now),
            left_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();
    let events: Vec<membership_event::ActiveModel> = memberships
        .iter()
        .zip(rows)
        .map(|(m, row)| membership_event::ActiveModel {
            id: Set(Uuid::now_v7()),
            membership_id: m.id.clone(),
            person_id: m.person_id.clone(),
            kind: Set(EventKind::Imported),
            from_branch_id: Set(None),
            to_branch_id: Set(Some(row.branch_id)),
            from_status: Set(None),
            to_status: Set(Some(MemberStatus::Active)),
            actor_id: Set(Some(actor)),
            reason: Set(None),
            created_at: Set(now),
        })
        .collect();
    for chunk in memberships.chunks(rows_per_insert(10)) {
        membership::Entity::insert_many(chunk.iter().cloned()).exec_without_returning(txn).await.map_err(
            // Only a concurrent writer that skipped the counter lock could get here first.
            |e| {
                if is_unique_violation(&e) {
                    ApiError::Conflict(ConflictKind::AlreadyMember)
                } else {
                    e.into()
                }
            },
        )?;
    }
    for chunk in events.chunks(rows_per_insert(11)) {
        membership_event::Entity::insert_many(chunk.iter().cloned()).exec_without_returning(txn).await?;
    }
    let names: Vec<(MembershipId, String)> = memberships
        .iter()
        .filter_map(|m| Some((*m.id.try_as_ref()?, m.name_search.try_as_ref()?.clone())))
        .collect();
    for chunk in names.chunks(IN_CHUNK) {
        let chunk: Vec<(MembershipId, &str)> = chunk.iter().map(|(id, name)| (*id, name.as_str())).collect();
        super::insert_name_keys(txn, &chunk).await?;
    }

    let mut per_branch: HashMap<UnitId, i64> = HashMap::new();
    for row in rows {
        *per_branch.entry(row.branch_id).or_default() += 1;
    }
    let per_branch: Vec<(UnitId, i64)> = per_branch.into_iter().collect();
    bump_counters(txn, &per_branch, hanoi_day(now)).await
}

/// Creates the people the file introduces (without an account, language `vi`); returns their
/// ids, in order.
async fn create_people(
    txn: &impl ConnectionTrait,
    rows: &[Planned],
    now: DateTime<Utc>,
) -> Result<Vec<PersonId>, ApiError> {
    let ids: Vec<PersonId> = rows.iter().map(|_| PersonId::new()).collect();
    let new_people: Vec<person::ActiveModel> = rows
        .iter()
        .zip(&ids)
        .map(|(row, &id)| {
            let c = &row.candidate;
            person::ActiveModel {
                id: Set(id),
                birth_date: Set(c.birth_date),
                gender: Set(Some(entities::person::Gender::Female)),
                ..new_person(&c.phone, &c.name, now)
            }
        })
        .collect();
    for chunk in new_people.chunks(rows_per_insert(14)) {
        let inserted = person::Entity::insert_many(chunk.iter().cloned())
            .on_conflict(OnConflict::column(person::Column::Phone).do_nothing().to_owned())
            .exec_without_returning(txn)
            .await?;
        if inserted < chunk.len() as u64 {
            // Someone registered with one of these numbers at this very moment: she is now a
            // known number, to be invited, not made a member. Nothing is written; a retry
            // plans it so.
            return Err(ApiError::Unavailable { retry_after_secs: 1 });
        }
    }
    Ok(ids)
}

/// Adds the new members to `branch_member_count` and `branch_member_day`, and rolls them up to
/// the units containing the branches: multi-row upserts per chunk, never one statement per row.
async fn bump_counters(
    txn: &impl ConnectionTrait,
    per_branch: &[(UnitId, i64)],
    day: NaiveDate,
) -> Result<(), ApiError> {
    for chunk in per_branch.chunks(IN_CHUNK) {
        let values: Vec<Value> = chunk.iter().flat_map(|&(b, n)| [b.into(), n.into()]).collect();
        let sql = format!(
            "INSERT INTO branch_member_count (branch_id, active) VALUES {} \
             ON CONFLICT (branch_id) DO UPDATE SET active = branch_member_count.active + excluded.active",
            db::repeat_list("(?, ?)", chunk.len())
        );
        db::execute(txn, &sql, values).await?;

        let values: Vec<Value> = chunk.iter().flat_map(|&(b, n)| [b.into(), day.into(), n.into()]).collect();
        let sql = format!(
            "INSERT INTO branch_member_day (branch_id, day, joined, \"left\") VALUES {} \
             ON CONFLICT (branch_id, day) DO UPDATE SET joined = branch_member_day.joined + excluded.joined",
            db::repeat_list("(?, ?, ?, 0)", chunk.len())
        );
        db::execute(txn, &sql, values).await?;
    }
    super::roll_up_active(txn, per_branch).await?;
    let days: Vec<(UnitId, i64, i64)> = per_branch.iter().map(|&(b, n)| (b, n, 0)).collect();
    super::roll_up_days(txn, day, &days).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_whatever_the_accents_case_and_decorations() {
        assert_eq!(header_key("Họ và tên"), "ho va ten");
        assert_eq!(header_key("SĐT"), "sdt");
        assert_eq!(header_key(" Số điện thoại (*) "), "so dien thoai");
        assert_eq!(header_key("Ngày sinh (dd/mm/yyyy)"), "ngay sinh");
        assert_eq!(header_key("Date_of_birth"), "date of birth");
        assert_eq!(header_key("MÃ CHI HỘI"), "ma chi hoi");
    }

    #[test]
    fn the_delimiter_comes_from_the_header_line() {
        assert_eq!(detect_delimiter("Họ tên;SĐT;Chi hội\r\na,b;c;d"), b';');
        assert_eq!(detect_delimiter("name,phone,branch\n"), b',');
        assert_eq!(detect_delimiter("\"Tên; đầy đủ\",phone,branch"), b',');
        assert_eq!(detect_delimiter("name\tphone\tbranch"), b'\t');
    }

    #[test]
    fn dates_in_the_three_formats() {
        let d = NaiveDate::from_ymd_opt(1985, 3, 7).unwrap();
        assert_eq!(parse_date("07/03/1985"), Some(d));
        assert_eq!(parse_date("7/3/1985"), Some(d));
        assert_eq!(parse_date("1985-03-07"), Some(d));
        for bad in ["1985/03/07", "07-03-1985", "31/02/1985", "7/3/85", "+7/3/1985", "", "07/03/1985/1"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_rows_get_their_line_and_reason() {
        let csv = "\u{feff}Họ và tên;Số điện thoại;Ngày sinh;Mã chi hội\r\n\
                   Nguyễn Thị A;0912000001;01/02/1990;hn-lb-bd-01\r\n\
                   ;0912000002;;HN-LB-BD-01\r\n\
                   Trần Thị B;12345;;HN-LB-BD-01\r\n\
                   ;;;\r\n\
                   Lê Thị C;0912000003;31/02/1990;HN-LB-BD-01\r\n\
                   Phạm Thị D;+84 912 000 001;;HN-LB-BD-01\r\n";
        let parsed = parse_csv(csv.as_bytes()).unwrap();
        assert_eq!(parsed.total_rows, 5);
        assert_eq!(parsed.candidates.len(), 1);
        assert_eq!(parsed.candidates[0].branch_code, "HN-LB-BD-01");
        let got: Vec<(u64, RejectReason)> = parsed.rejected.iter().map(|r| (r.line, r.reason)).collect();
        assert_eq!(
            got,
            [
                (3, RejectReason::InvalidName),
                (4, RejectReason::InvalidPhone),
                (6, RejectReason::InvalidBirthDate),
                (7, RejectReason::DuplicateInFile),
            ]
        );
        assert_eq!(parsed.rejected[1].value.as_deref(), Some("12345"));
    }

    #[test]
    fn files_without_the_required_columns_are_refused() {
        let err = parse_csv(b"name,phone\nA B,0912000001\n").err().unwrap();
        assert!(matches!(err, ApiError::BadInput { field: "file", problem: InputProblem::MissingColumn }));
        assert!(parse_csv(b"").is_err());
        assert!(parse_csv(b"\xff\xfeN\0").is_err());
    }

    #[test]
    fn inserts_stay_within_the_parameter_limits() {
        assert_eq!(rows_per_insert(14), 1000);
        assert!(rows_per_insert(60) * 60 <= MAX_PARAMS);
    }
}
