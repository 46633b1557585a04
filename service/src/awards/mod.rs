//! Commendations (khen thưởng): the kinds of award each level grants, nominations of units and
//! people, the awarding level's decision, and the year's figures.
//!
//! - **Kinds.** The officers who decide a unit's awards (`DecideAwards`: `UNIT_OFFICER` or
//!   `UNIT_ADMIN` at or above it) define its kinds — a district its Giấy khen, the city its
//!   Bằng khen and the central union's, which it records — for collectives, individuals or
//!   both, and stop taking nominations for one (`active`). A kind is usable at its unit and
//!   every unit below it.
//! - **Nominations.** A unit's officers, or its branch leader for a branch (`NominateAwards`),
//!   propose a unit of their subtree (the unit itself included) or a person of it — an active
//!   member of one of its branches, or an officer holding a role in it — for a kind usable there,
//!   for a year that has begun, with a citation. At most one live nomination (proposed or
//!   approved) per kind, year and nominee (`CONFLICT` `ALREADY_NOMINATED`).
//! - **Decisions.** The kind's deciders approve a nomination with the decision's number and date
//!   (from 1 January of its year to today) or decline it with a reason; nobody decides a
//!   nomination she made (`FORBIDDEN`). One conditional `UPDATE … WHERE status = 'PROPOSED'`,
//!   so of two deciders at once exactly one does (`CONFLICT` `ALREADY_DECIDED`). An approval
//!   tells the awardee (the person, or the officers of the unit); a decline tells the nominator.
//! - **Reading.** Approved awards of a unit are public, as on its page ([`of_units`]); a person's
//!   are hers ([`of_people`]) and her member managers'. Officers over a unit read the
//!   nominations its subtree made ([`list`]) and the year's figures ([`statistics`]): by kind,
//!   collective and individual, and the share of women among the individuals.
//!
//! Audit area `AWARDS`: kinds created and switched, nominations made, approved and declined.

mod list;

use chrono::{Datelike, NaiveDate, Utc};
use entities::award_kind::{self, Recipients};
use entities::award_nomination::{self as nomination, NominationStatus};
use entities::ids::{PersonId, UnitId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Set,
    TransactionTrait, sea_query::Expr,
};
use serde_json::json;
use uuid::Uuid;

pub use list::{
    Cursor, Filter, KindFigures, Statistics, count, kinds_at, kinds_by_ids, list, of_people, of_units,
    statistics,
};

use crate::{
    Call, audit,
    authz::{self, Capability},
    db::stmt,
    domain::{GlobalId, NodeKind, hanoi_day, normalise_multiline, parse_line},
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
    notifications::{self, NewNotification, NotificationKind},
    org::get_unit,
};

/// The first year a nomination may be for.
pub const MIN_YEAR: i32 = 2000;
/// The longest name or issuer of a kind.
pub const MAX_NAME: usize = 300;
/// The longest citation.
pub const MAX_CITATION: usize = 2000;
/// The longest decision number.
pub const MAX_DECISION_NUMBER: usize = 50;
/// The longest reason of a decline.
pub const MAX_REASON: usize = 1000;

/// A kind of award to define.
#[derive(Clone, Debug)]
pub struct KindInput {
    pub name: String,
    pub issuer: String,
    pub recipients: Recipients,
}

/// Defines a kind of award decided at `unit_id` (`DecideAwards` over it).
pub async fn create_kind(
    call: Call<'_>,
    unit_id: UnitId,
    input: KindInput,
) -> Result<award_kind::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let unit = get_unit(db, unit_id).await?;
    let acting = authz::require(db, viewer, Capability::DecideAwards, &unit).await?;
    let name = parse_line(&input.name, MAX_NAME, "name")?;
    let issuer = parse_line(&input.issuer, MAX_NAME, "issuer")?;
    let txn = db.begin().await?;
    let row = award_kind::ActiveModel {
        id: Set(Uuid::now_v7()),
        unit_id: Set(unit.id),
        name: Set(name),
        issuer: Set(issuer),
        recipients: Set(input.recipients),
        active: Set(true),
        created_by: Set(viewer.person_id),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await?;
    let entry =
        audit::Entry::new(audit::Action::AwardKindCreated, unit.id, audit::SubjectKind::AwardKind, row.id)
            .set("name", &row.name)
            .set("issuer", &row.issuer)
            .set("recipients", row.recipients);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    Ok(row)
}

/// Takes nominations for a kind again, or stops (`DecideAwards` over its unit). Nominations
/// already made stay and can still be decided.
pub async fn set_kind_active(call: Call<'_>, id: Uuid, active: bool) -> Result<award_kind::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let kind = award_kind::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    let acting = authz::require(db, viewer, Capability::DecideAwards, kind.unit_id).await?;
    if kind.active == active {
        return Ok(kind);
    }
    let txn = db.begin().await?;
    let mut row: award_kind::ActiveModel = kind.clone().into();
    row.active = Set(active);
    let saved = row.update(&txn).await?;
    let entry =
        audit::Entry::new(audit::Action::AwardKindUpdated, kind.unit_id, audit::SubjectKind::AwardKind, id)
            .change("active", kind.active, saved.active);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    Ok(saved)
}

/// A kind, for any officer over its unit or below it (those it is usable for); `NOT_FOUND`
/// otherwise.
pub async fn get_kind(call: Call<'_>, id: Uuid) -> Result<award_kind::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let kind = award_kind::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    if authz::may(db, viewer, Capability::ViewUnit, kind.unit_id).await?
        || holds_role_below(db, viewer.person_id, kind.unit_id).await?
    {
        Ok(kind)
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// Whether `person` holds a role at a unit below `unit`.
async fn holds_role_below(
    conn: &impl ConnectionTrait,
    person: PersonId,
    unit: UnitId,
) -> Result<bool, ApiError> {
    let found = Count::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM officer_role r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
         WHERE c.ancestor_id = ? AND r.person_id = ? AND r.revoked_at IS NULL",
        [unit.into(), person.into()],
    ))
    .one(conn)
    .await?;
    Ok(found.is_some_and(|c| c.n > 0))
}

/// Whether `descendant` is `ancestor` or below it.
async fn at_or_below(
    conn: &impl ConnectionTrait,
    ancestor: UnitId,
    descendant: UnitId,
) -> Result<bool, ApiError> {
    use entities::org_unit_closure as c;
    Ok(c::Entity::find()
        .filter(c::Column::AncestorId.eq(ancestor))
        .filter(c::Column::DescendantId.eq(descendant))
        .one(conn)
        .await?
        .is_some())
}

/// Whether `person` belongs to the subtree of `unit`: an active member of one of its branches,
/// or holding a role at one of its units.
async fn person_within(
    conn: &impl ConnectionTrait,
    unit: UnitId,
    person: PersonId,
) -> Result<bool, ApiError> {
    let found = Count::find_by_statement(stmt(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM ( \
           SELECT 1 AS x FROM membership m JOIN org_unit_closure c ON c.descendant_id = m.branch_id \
             WHERE c.ancestor_id = ? AND m.person_id = ? AND m.status = ? \
           UNION ALL SELECT 1 AS x FROM officer_role r JOIN org_unit_closure c ON c.descendant_id = r.unit_id \
             WHERE c.ancestor_id = ? AND r.person_id = ? AND r.revoked_at IS NULL \
         ) within",
        [
            unit.into(),
            person.into(),
            entities::membership::MemberStatus::Active.as_str().into(),
            unit.into(),
            person.into(),
        ],
    ))
    .one(conn)
    .await?;
    Ok(found.is_some_and(|c| c.n > 0))
}

/// Who is nominated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nominee {
    /// A unit: a collective award.
    Unit(UnitId),
    /// A person: an individual award.
    Person(PersonId),
}

/// A nomination to make.
#[derive(Clone, Debug)]
pub struct NominationInput {
    pub kind_id: Uuid,
    pub year: i32,
    /// The unit proposing it (the caller's).
    pub nominating_unit_id: UnitId,
    pub nominee: Nominee,
    /// 1–2,000 characters, line breaks kept.
    pub citation: String,
}

/// The current year in Hanoi.
fn this_year() -> i32 {
    hanoi_day(Utc::now()).year()
}

/// Nominates a unit or a person for an award (see the module docs for the rules).
pub async fn nominate(call: Call<'_>, input: NominationInput) -> Result<nomination::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let nominating = get_unit(db, input.nominating_unit_id).await?;
    let acting = authz::require(db, viewer, Capability::NominateAwards, &nominating).await?;
    let kind = award_kind::Entity::find_by_id(input.kind_id).one(db).await?.ok_or(ApiError::NotFound)?;
    if !at_or_below(db, kind.unit_id, nominating.id).await? {
        return Err(ApiError::NotFound);
    }
    if !kind.active {
        return Err(ApiError::Conflict(ConflictKind::WrongStatus));
    }
    if !(MIN_YEAR..=this_year()).contains(&input.year) {
        return Err(ApiError::bad_input("year", InputProblem::OutOfRange));
    }
    let citation = normalise_multiline(&input.citation);
    match citation.chars().count() {
        0 => return Err(ApiError::bad_input("citation", InputProblem::Required)),
        n if n > MAX_CITATION => return Err(ApiError::bad_input("citation", InputProblem::TooLong)),
        _ => {}
    }
    let (unit_id, person_id) = match input.nominee {
        Nominee::Unit(unit) => {
            if !kind.recipients.admits(true) {
                return Err(ApiError::bad_input("unit_id", InputProblem::InvalidKind));
            }
            if !at_or_below(db, nominating.id, unit).await? {
                return Err(ApiError::NotFound);
            }
            // A merged unit is history below the one it was merged into: that one is nominated.
            if get_unit(db, unit).await?.status != crate::org::UnitStatus::Active {
                return Err(ApiError::Conflict(ConflictKind::UnitMerged));
            }
            (Some(unit), None)
        }
        Nominee::Person(person) => {
            if !kind.recipients.admits(false) {
                return Err(ApiError::bad_input("person_id", InputProblem::InvalidKind));
            }
            if !person_within(db, nominating.id, person).await? {
                return Err(ApiError::NotFound);
            }
            (None, Some(person))
        }
    };
    let txn = db.begin().await?;
    let inserted = nomination::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind_id: Set(kind.id),
        year: Set(input.year),
        nominating_unit_id: Set(nominating.id),
        unit_id: Set(unit_id),
        person_id: Set(person_id),
        citation: Set(citation),
        status: Set(NominationStatus::Proposed),
        decision_number: Set(None),
        decision_date: Set(None),
        decline_reason: Set(None),
        nominated_by: Set(viewer.person_id),
        nominated_at: Set(Utc::now()),
        decided_by: Set(None),
        decided_at: Set(None),
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Err(ApiError::Conflict(ConflictKind::AlreadyNominated)),
        Err(e) => return Err(e.into()),
    };
    let entry = audit::Entry::new(
        audit::Action::NominationMade,
        nominating.id,
        audit::SubjectKind::AwardNomination,
        row.id,
    )
    .set("kindId", kind.id)
    .set("year", row.year)
    .set("unitId", row.unit_id)
    .set("personId", row.person_id);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    tracing::info!(event = "award_nominated", nomination_id = %row.id, kind_id = %kind.id, "nomination made");
    Ok(row)
}

/// A nomination, for officers over the unit that made it (and the deciders above it), and for
/// the person it names once approved; `NOT_FOUND` for anyone else.
pub async fn get(call: Call<'_>, id: Uuid) -> Result<nomination::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let row = nomination::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    if row.person_id == Some(viewer.person_id) && row.status == NominationStatus::Approved {
        return Ok(row);
    }
    authz::require(db, viewer, Capability::ViewUnit, row.nominating_unit_id)
        .await
        .map_err(authz::hide_forbidden)?;
    Ok(row)
}

/// What the awarding level decides.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Granted by the decision numbered so, of that date.
    Approve { decision_number: String, decision_date: NaiveDate },
    /// Refused, with a reason the nominator reads.
    Decline { reason: String },
}

/// Approves or declines a proposed nomination (`DecideAwards` over its kind's unit; not one
/// the caller made). See the module docs.
pub async fn decide(call: Call<'_>, id: Uuid, decision: Decision) -> Result<nomination::Model, ApiError> {
    let (state, viewer) = (call.state, call.viewer()?);
    let db = &state.db;
    let row = nomination::Entity::find_by_id(id).one(db).await?.ok_or(ApiError::NotFound)?;
    let kind = award_kind::Entity::find_by_id(row.kind_id).one(db).await?.ok_or(ApiError::NotFound)?;
    let acting =
        match authz::decide(db, viewer.person_id, Capability::DecideAwards, kind.unit_id.into()).await? {
            authz::Decision::Allowed { by, .. } => by,
            authz::Decision::InReach => return Err(ApiError::Forbidden),
            authz::Decision::Merged => return Err(ApiError::Conflict(ConflictKind::UnitMerged)),
            // Officers of the unit that made it read it, but do not decide it.
            authz::Decision::OutOfReach => {
                return Err(if authz::may(db, viewer, Capability::ViewUnit, row.nominating_unit_id).await? {
                    ApiError::Forbidden
                } else {
                    ApiError::NotFound
                });
            }
        };
    // Nobody decides what she proposed, nor her own award.
    if row.nominated_by == viewer.person_id || row.person_id == Some(viewer.person_id) {
        return Err(ApiError::Forbidden);
    }
    let (status, number, date, reason) = match decision {
        Decision::Approve { decision_number, decision_date } => {
            let number = parse_line(&decision_number, MAX_DECISION_NUMBER, "decision_number")?;
            let earliest = NaiveDate::from_ymd_opt(row.year, 1, 1).unwrap_or(NaiveDate::MIN);
            if decision_date < earliest || decision_date > hanoi_day(Utc::now()) {
                return Err(ApiError::bad_input("decision_date", InputProblem::OutOfRange));
            }
            (NominationStatus::Approved, Some(number), Some(decision_date), None)
        }
        Decision::Decline { reason } => {
            let reason = normalise_multiline(&reason);
            match reason.chars().count() {
                0 => return Err(ApiError::bad_input("reason", InputProblem::Required)),
                n if n > MAX_REASON => return Err(ApiError::bad_input("reason", InputProblem::TooLong)),
                _ => {}
            }
            (NominationStatus::Declined, None, None, Some(reason))
        }
    };
    if row.status != NominationStatus::Proposed {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let won = nomination::Entity::update_many()
        .col_expr(nomination::Column::Status, Expr::value(status.as_str()))
        .col_expr(nomination::Column::DecisionNumber, Expr::value(number))
        .col_expr(nomination::Column::DecisionDate, Expr::value(date))
        .col_expr(nomination::Column::DeclineReason, Expr::value(reason))
        .col_expr(nomination::Column::DecidedBy, Expr::value(viewer.person_id))
        .col_expr(nomination::Column::DecidedAt, Expr::value(now))
        .filter(nomination::Column::Id.eq(id))
        .filter(nomination::Column::Status.eq(NominationStatus::Proposed.as_str()))
        .exec(&txn)
        .await?
        .rows_affected;
    if won == 0 {
        return Err(ApiError::Conflict(ConflictKind::AlreadyDecided));
    }
    let saved = nomination::Entity::find_by_id(id).one(&txn).await?.ok_or(ApiError::NotFound)?;
    let link = Some(GlobalId::new(NodeKind::AwardNomination, id).encode());
    let mut params = json!({ "award": kind.name, "issuer": kind.issuer, "year": saved.year });
    let (people, notice) = match (saved.status, saved.unit_id, saved.person_id) {
        (NominationStatus::Approved, _, Some(person)) => (vec![person], NotificationKind::AwardGranted),
        (NominationStatus::Approved, Some(unit), None) => {
            // A unit's award: its officers (its branch leader for a branch) hear of it.
            let unit_row = get_unit(&txn, unit).await?;
            params["unit"] = json!(unit_row.name);
            let mut people = authz::holders_at(&txn, unit, Capability::NominateAwards).await?;
            people.retain(|p| *p != viewer.person_id);
            (people, NotificationKind::AwardGranted)
        }
        _ => (vec![saved.nominated_by], NotificationKind::NominationDeclined),
    };
    let notes = notifications::enqueue(
        &txn,
        people
            .into_iter()
            .map(|person_id| NewNotification {
                person_id,
                kind: notice,
                params: params.clone(),
                link: link.clone(),
                duty: false,
            })
            .collect(),
    )
    .await?;
    let action = match saved.status {
        NominationStatus::Approved => audit::Action::AwardApproved,
        _ => audit::Action::NominationDeclined,
    };
    let entry = audit::Entry::new(action, kind.unit_id, audit::SubjectKind::AwardNomination, id)
        .change("status", row.status, saved.status)
        .set("decisionNumber", &saved.decision_number)
        .set("decisionDate", saved.decision_date)
        .set("declineReason", &saved.decline_reason);
    audit::record(&txn, audit::Actor::new(viewer, acting), entry).await?;
    txn.commit().await?;
    notifications::announce(state, &notes).await;
    tracing::info!(event = "nomination_decided", nomination_id = %id, status = saved.status.as_str(), "nomination decided");
    Ok(saved)
}

/// Account erasure: her proposed nominations go, and the citations of her decided ones (they
/// stay, anonymous, in the year's figures).
pub async fn forget_person(txn: &impl ConnectionTrait, person: PersonId) -> Result<(), ApiError> {
    nomination::Entity::delete_many()
        .filter(nomination::Column::PersonId.eq(person))
        .filter(nomination::Column::Status.eq(NominationStatus::Proposed.as_str()))
        .exec(txn)
        .await?;
    nomination::Entity::update_many()
        .col_expr(nomination::Column::Citation, Expr::value(""))
        .filter(nomination::Column::PersonId.eq(person))
        .exec(txn)
        .await?;
    Ok(())
}
