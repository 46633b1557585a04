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
//! without another statement.

use entities::ids::{PersonId, UnitId};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::org_unit::{self, UnitKind};
use sea_orm::{Condition, ConnectionTrait, FromQueryResult, sea_query::Expr};

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
    pub roles: Vec<HeldRole>,
    /// The units at or above her branch (her branch included).
    pub above_branch: Vec<UnitId>,
    /// The units at or above the units of her roles (those included).
    pub above_roles: Vec<UnitId>,
    /// The rows of the units of `above_branch` and `above_roles`, by id.
    pub units: HashMap<UnitId, org_unit::Model>,
}

/// One row of the standing statement: a fact of kind `k`, with the unit's row for the units
/// above her branch (`B`) and her role units (`S`).
#[derive(FromQueryResult)]
struct Fact {
    k: String,
    unit_id: UnitId,
    role: String,
    at_root: i32,
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
}

impl Fact {
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
        })
    }
}

/// The unit columns of a fact that carries none.
const NO_UNIT: &str = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL";
/// The unit columns of a fact about unit `u`.
const UNIT: &str = "u.parent_id AS parent_id, u.kind AS kind, u.code AS code, u.name AS name, \
    u.name_search AS name_search, u.search_words AS search_words, u.depth AS depth, \
    u.case_closure_approval AS case_closure_approval, u.created_at AS created_at, u.updated_at AS updated_at";

impl ViewerScope {
    /// Reads the caller's standing in one statement.
    pub async fn load(conn: &impl ConnectionTrait, viewer: &Viewer) -> Result<Self, ApiError> {
        let p = viewer.person_id;
        // The unit rows come first: PostgreSQL types a UNION's columns from left to right, and
        // the untyped NULLs of the other facts then take the unit columns' types.
        let sql = format!(
            "SELECT 'B' AS k, c.ancestor_id AS unit_id, '' AS role, 0 AS at_root, {UNIT} \
               FROM org_unit_closure c \
               JOIN membership m ON m.branch_id = c.descendant_id \
               JOIN org_unit u ON u.id = c.ancestor_id \
               WHERE m.person_id = ? AND m.status = 'ACTIVE' \
             UNION ALL SELECT DISTINCT 'S', c.ancestor_id, '', 0, {UNIT} FROM org_unit_closure c \
               JOIN officer_role r ON r.unit_id = c.descendant_id \
               JOIN org_unit u ON u.id = c.ancestor_id \
               WHERE r.person_id = ? AND r.revoked_at IS NULL \
             UNION ALL SELECT 'A', p.id, '', 0, {NO_UNIT} FROM person p \
               WHERE p.id = ? AND p.is_system_admin \
             UNION ALL SELECT 'M', m.branch_id, '', 0, {NO_UNIT} FROM membership m \
               WHERE m.person_id = ? AND m.status = 'ACTIVE' \
             UNION ALL SELECT 'R', r.unit_id, r.role, CASE WHEN u.parent_id IS NULL THEN 1 ELSE 0 END, {NO_UNIT} \
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
            roles: Vec::new(),
            above_branch: Vec::new(),
            above_roles: Vec::new(),
            units: HashMap::new(),
        };
        for f in facts {
            match f.k.as_str() {
                "A" => scope.is_system_admin = true,
                "M" => scope.branch_id = Some(f.unit_id),
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
