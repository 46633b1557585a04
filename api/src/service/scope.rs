//! Who the caller is, for the lists that show each person what concerns her (trainings,
//! campaigns, the news feed): whether she is a system administrator, the branch of her active
//! membership, and the units where she holds officer roles (and whether one is the root).
//!
//! With them, the units at or above her branch and her role units — where what concerns her
//! is published — so the lists filter by a few constant unit ids. Read with one statement and
//! kept for the request, so the member app's home screen — which
//! asks for several such lists at once — does not read the same facts once per list.

use sea_orm::{Condition, ConnectionTrait, FromQueryResult, sea_query::Expr};
use uuid::Uuid;

use crate::{auth::Viewer, authz::Role, db::stmt, error::ApiError};

/// An active officer role of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldRole {
    pub role: Role,
    pub unit_id: Uuid,
    /// Held at the root of the tree (its reach is everything).
    pub at_root: bool,
}

/// The caller's standing, as of the start of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerScope {
    pub person_id: Uuid,
    pub is_system_admin: bool,
    /// The branch of her `ACTIVE` membership (none while suspended or not a member).
    pub branch_id: Option<Uuid>,
    pub roles: Vec<HeldRole>,
    /// The units at or above her branch (her branch included).
    pub above_branch: Vec<Uuid>,
    /// The units at or above the units of her roles (those included).
    pub above_roles: Vec<Uuid>,
}

#[derive(FromQueryResult)]
struct Fact {
    k: String,
    unit_id: Uuid,
    role: String,
    at_root: i32,
}

impl ViewerScope {
    /// Reads the caller's standing in one statement.
    pub async fn load(conn: &impl ConnectionTrait, viewer: &Viewer) -> Result<Self, ApiError> {
        let p = viewer.person_id;
        let facts = Fact::find_by_statement(stmt(
            conn.get_database_backend(),
            "SELECT 'A' AS k, p.id AS unit_id, '' AS role, 0 AS at_root FROM person p \
               WHERE p.id = ? AND p.is_system_admin \
             UNION ALL SELECT 'M', m.branch_id, '', 0 FROM membership m \
               WHERE m.person_id = ? AND m.status = 'ACTIVE' \
             UNION ALL SELECT 'R', r.unit_id, r.role, CASE WHEN u.parent_id IS NULL THEN 1 ELSE 0 END \
               FROM officer_role r JOIN org_unit u ON u.id = r.unit_id \
               WHERE r.person_id = ? AND r.revoked_at IS NULL \
             UNION ALL SELECT 'B', c.ancestor_id, '', 0 FROM org_unit_closure c \
               JOIN membership m ON m.branch_id = c.descendant_id \
               WHERE m.person_id = ? AND m.status = 'ACTIVE' \
             UNION ALL SELECT DISTINCT 'S', c.ancestor_id, '', 0 FROM org_unit_closure c \
               JOIN officer_role r ON r.unit_id = c.descendant_id \
               WHERE r.person_id = ? AND r.revoked_at IS NULL",
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
        };
        for f in facts {
            match f.k.as_str() {
                "A" => scope.is_system_admin = true,
                "M" => scope.branch_id = Some(f.unit_id),
                "B" => scope.above_branch.push(f.unit_id),
                "S" => scope.above_roles.push(f.unit_id),
                _ => {
                    if let Some(role) = Role::parse(&f.role) {
                        scope.roles.push(HeldRole { role, unit_id: f.unit_id, at_root: f.at_root != 0 });
                    }
                }
            }
        }
        Ok(scope)
    }

    /// The units where she holds any of `roles` (each once).
    pub fn units_with(&self, roles: &[Role]) -> Vec<Uuid> {
        let mut units: Vec<Uuid> =
            self.roles.iter().filter(|r| roles.contains(&r.role)).map(|r| r.unit_id).collect();
        units.sort_unstable();
        units.dedup();
        units
    }

    /// Whether one of `roles` held at the root gives her the whole tree.
    pub fn holds_at_root(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| r.at_root && roles.contains(&r.role))
    }

    /// The units at or above her branch and her role units: what concerns her is published
    /// at these (each once).
    pub fn above_own(&self) -> Vec<Uuid> {
        let mut units = self.above_branch.clone();
        units.extend(&self.above_roles);
        units.sort_unstable();
        units.dedup();
        units
    }

    /// The reach of `roles` as subtree roots: `None` for everything (a system administrator,
    /// or such a role at the root), else the units where she holds them (possibly none).
    pub fn reach(&self, roles: &[Role]) -> Option<Vec<Uuid>> {
        if self.is_system_admin || self.holds_at_root(roles) { None } else { Some(self.units_with(roles)) }
    }
}

/// A condition every row meets (an empty `Condition` would be dropped from an `any`).
pub fn everything() -> Condition {
    Condition::all().add(Expr::cust("1 = 1"))
}
