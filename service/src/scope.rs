//! Who the caller is, for the lists that show each person what concerns her (trainings,
//! campaigns, the news feed): whether she is a system administrator, the branch of her active
//! membership, and the units where she holds officer roles (and whether one is the root).
//!
//! With them, the units at or above her branch and her role units — where what concerns her
//! is published — so the lists filter by a few constant unit ids. Read with one statement and
//! kept for the request, so the member app's home screen — which
//! asks for several such lists at once — does not read the same facts once per list.
//!
//! The same statement returns those units' rows: almost everything a member is shown was
//! published at one of them, so the lists show a row's unit (and her branch and its parent)
//! without another statement; and her current membership's row, so that her own `membership`
//! needs none either.

use entities::ids::{MembershipId, PersonId, UnitId};
use entities::membership::{self, MemberStatus};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::org_unit::{self, UnitKind};
use sea_orm::{Condition, ConnectionTrait, DbErr, FromQueryResult, QueryResult, sea_query::Expr};

use crate::{
    auth::Viewer,
    authz::{Capability, Reach, Role},
    db::stmt,
    error::ApiError,
};

/// An active officer role of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldRole {
    pub role: Role,
    pub unit_id: UnitId,
    /// Held at the root of the tree (its reach is everything).
    pub at_root: bool,
}

/// The caller's standing, as of the start of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerScope {
    pub person_id: PersonId,
    pub is_system_admin: bool,
    /// The branch of her `ACTIVE` membership (none while suspended or not a member).
    pub branch_id: Option<UnitId>,
    /// Her current membership (`ACTIVE` or `SUSPENDED`), if she has one.
    pub membership: Option<membership::Model>,
    pub roles: Vec<HeldRole>,
    /// The units at or above her branch (her branch included).
    pub above_branch: Vec<UnitId>,
    /// The units at or above the units of her roles (those included).
    pub above_roles: Vec<UnitId>,
    /// The rows of the units of `above_branch` and `above_roles`, by id.
    pub units: HashMap<UnitId, org_unit::Model>,
}

/// One row of the standing statement: a fact of kind `k`, with the unit's row for the units
/// above her branch (`B`) and her role units (`S`), and the membership's row for her current
/// membership (`M`). Its fields are the statement's columns, in order.
struct Fact {
    k: String,
    unit_id: UnitId,
    role: String,
    at_root: i32,
    membership_id: Option<MembershipId>,
    member_number: Option<String>,
    member_status: Option<MemberStatus>,
    joined_at: Option<DateTime<Utc>>,
    left_at: Option<DateTime<Utc>>,
    member_created_at: Option<DateTime<Utc>>,
    member_updated_at: Option<DateTime<Utc>>,
    member_name_search: Option<String>,
    parent_id: Option<UnitId>,
    kind: Option<UnitKind>,
    code: Option<String>,
    name: Option<String>,
    name_search: Option<String>,
    search_words: Option<String>,
    depth: Option<i32>,
    case_closure_approval: Option<bool>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    unit_status: Option<entities::org_unit::UnitStatus>,
    merged_into_id: Option<UnitId>,
    merged_at: Option<DateTime<Utc>>,
}

/// Read by position, in the statement's column order: a member's standing is a good part of the
/// rows her requests read, and by name each column cost a hash lookup (and each NULL an
/// error message built and dropped).
impl FromQueryResult for Fact {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Ok(Fact {
            k: row.try_get_by_index(0)?,
            unit_id: row.try_get_by_index(1)?,
            role: row.try_get_by_index(2)?,
            at_root: row.try_get_by_index(3)?,
            membership_id: row.try_get_by_index(4)?,
            member_number: row.try_get_by_index(5)?,
            member_status: row.try_get_by_index(6)?,
            joined_at: row.try_get_by_index(7)?,
            left_at: row.try_get_by_index(8)?,
            member_created_at: row.try_get_by_index(9)?,
            member_updated_at: row.try_get_by_index(10)?,
            member_name_search: row.try_get_by_index(11)?,
            parent_id: row.try_get_by_index(12)?,
            kind: row.try_get_by_index(13)?,
            code: row.try_get_by_index(14)?,
            name: row.try_get_by_index(15)?,
            name_search: row.try_get_by_index(16)?,
            search_words: row.try_get_by_index(17)?,
            depth: row.try_get_by_index(18)?,
            case_closure_approval: row.try_get_by_index(19)?,
            created_at: row.try_get_by_index(20)?,
            updated_at: row.try_get_by_index(21)?,
            unit_status: row.try_get_by_index(22)?,
            merged_into_id: row.try_get_by_index(23)?,
            merged_at: row.try_get_by_index(24)?,
        })
    }
}

impl Fact {
    /// The membership's row of `person`, on the row that carries one.
    fn membership(&self, person: PersonId) -> Option<membership::Model> {
        Some(membership::Model {
            id: self.membership_id?,
            person_id: person,
            branch_id: self.unit_id,
            member_number: self.member_number.clone()?,
            status: self.member_status?,
            joined_at: self.joined_at?,
            left_at: self.left_at,
            created_at: self.member_created_at?,
            updated_at: self.member_updated_at?,
            name_search: self.member_name_search.clone()?,
        })
    }

    /// The unit's row, on the rows that carry one.
    fn unit(self) -> Option<org_unit::Model> {
        Some(org_unit::Model {
            id: self.unit_id,
            parent_id: self.parent_id,
            kind: self.kind?,
            code: self.code?,
            name: self.name?,
            name_search: self.name_search?,
            search_words: self.search_words?,
            depth: self.depth?,
            case_closure_approval: self.case_closure_approval?,
            created_at: self.created_at?,
            updated_at: self.updated_at?,
            status: self.unit_status?,
            merged_into_id: self.merged_into_id,
            merged_at: self.merged_at,
        })
    }
}

/// The unit columns of a fact that carries none.
const NO_UNIT: &str = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";
/// The same, named: the first fact of the statement names the columns of every row.
const NO_UNIT_NAMED: &str = "NULL AS parent_id, NULL AS kind, NULL AS code, NULL AS name, \
    NULL AS name_search, NULL AS search_words, NULL AS depth, NULL AS case_closure_approval, \
    NULL AS created_at, NULL AS updated_at, NULL AS unit_status, NULL AS merged_into_id, NULL AS merged_at";
/// The membership columns of a fact that carries none.
const NO_MEMBERSHIP: &str = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";
/// The membership columns of the fact about membership `m`.
const MEMBERSHIP: &str = "m.id AS membership_id, m.member_number AS member_number,     m.status AS member_status, m.joined_at AS joined_at, m.left_at AS left_at,     m.created_at AS member_created_at, m.updated_at AS member_updated_at,     m.name_search AS member_name_search";
/// The unit columns of a fact about unit `u`.
const UNIT: &str = "u.parent_id AS parent_id, u.kind AS kind, u.code AS code, u.name AS name, \
    u.name_search AS name_search, u.search_words AS search_words, u.depth AS depth, \
    u.case_closure_approval AS case_closure_approval, u.created_at AS created_at, u.updated_at AS updated_at, \
    u.status AS unit_status, u.merged_into_id AS merged_into_id, u.merged_at AS merged_at";

impl ViewerScope {
    /// Reads the caller's standing in one statement.
    pub async fn load(conn: &impl ConnectionTrait, viewer: &Viewer) -> Result<Self, ApiError> {
        let p = viewer.person_id;
        // The columns are `Fact`'s fields, in order (it reads them by position). The first fact
        // names the columns of every row. PostgreSQL types a UNION's columns pair
        // by pair from the left: the membership fact (its unit columns NULL) comes first and the
        // first unit fact (its membership columns NULL) second, so every column has its type
        // before the untyped NULLs of the others (which must not sit under a DISTINCT, which
        // would type them as text: the role units are made distinct in a subquery).
        let sql = format!(
            "SELECT 'M' AS k, m.branch_id AS unit_id, '' AS role, 0 AS at_root, {MEMBERSHIP}, {NO_UNIT_NAMED} \
               FROM membership m WHERE m.person_id = ? AND m.status IN ('ACTIVE', 'SUSPENDED') \
             UNION ALL SELECT 'B', c.ancestor_id, '', 0, {NO_MEMBERSHIP}, {UNIT} \
               FROM org_unit_closure c \
               JOIN membership m ON m.branch_id = c.descendant_id \
               JOIN org_unit u ON u.id = c.ancestor_id \
               WHERE m.person_id = ? AND m.status = 'ACTIVE' \
             UNION ALL SELECT 'S', s.ancestor_id, '', 0, {NO_MEMBERSHIP}, {UNIT} \
               FROM (SELECT DISTINCT c.ancestor_id FROM org_unit_closure c \
                 JOIN officer_role r ON r.unit_id = c.descendant_id \
                 WHERE r.person_id = ? AND r.revoked_at IS NULL) s \
               JOIN org_unit u ON u.id = s.ancestor_id \
             UNION ALL SELECT 'A', p.id, '', 0, {NO_MEMBERSHIP}, {NO_UNIT} FROM person p \
               WHERE p.id = ? AND p.is_system_admin \
             UNION ALL SELECT 'R', r.unit_id, r.role, CASE WHEN u.parent_id IS NULL THEN 1 ELSE 0 END, \
               {NO_MEMBERSHIP}, {NO_UNIT} \
               FROM officer_role r JOIN org_unit u ON u.id = r.unit_id \
               WHERE r.person_id = ? AND r.revoked_at IS NULL"
        );
        let facts = Fact::find_by_statement(stmt(
            conn.get_database_backend(),
            &sql,
            [p.into(), p.into(), p.into(), p.into(), p.into()],
        ))
        .all(conn)
        .await?;
        let mut scope = ViewerScope {
            person_id: p,
            is_system_admin: false,
            branch_id: None,
            membership: None,
            roles: Vec::new(),
            above_branch: Vec::new(),
            above_roles: Vec::new(),
            units: HashMap::new(),
        };
        for f in facts {
            match f.k.as_str() {
                "A" => scope.is_system_admin = true,
                "M" => {
                    let current = f.membership(p);
                    if current.as_ref().is_some_and(|m| m.status == MemberStatus::Active) {
                        scope.branch_id = Some(f.unit_id);
                    }
                    scope.membership = current;
                }
                "B" | "S" => {
                    if f.k == "B" {
                        scope.above_branch.push(f.unit_id);
                    } else {
                        scope.above_roles.push(f.unit_id);
                    }
                    if let Some(unit) = f.unit() {
                        scope.units.insert(unit.id, unit);
                    }
                }
                _ => {
                    if let Some(role) = Role::parse(&f.role) {
                        scope.roles.push(HeldRole { role, unit_id: f.unit_id, at_root: f.at_root != 0 });
                    }
                }
            }
        }
        Ok(scope)
    }

    /// The units at or above her branch and her role units: what concerns her is published
    /// at these (each once).
    pub fn above_own(&self) -> Vec<UnitId> {
        let mut units = self.above_branch.clone();
        units.extend(&self.above_roles);
        units.sort_unstable();
        units.dedup();
        units
    }

    /// The units she may do `capability` over (see [`crate::authz::reach`], which reads the same from
    /// the database).
    pub fn reach(&self, capability: Capability) -> Reach {
        if self.is_system_admin && capability.system_admin() {
            return Reach { everything: true, ..Reach::default() };
        }
        Reach::from_roles(capability, self.roles.iter().map(|r| (r.role, r.unit_id, r.at_root)))
    }
}

/// A condition every row meets (an empty `Condition` would be dropped from an `any`).
pub fn everything() -> Condition {
    Condition::all().add(Expr::cust("1 = 1"))
}
