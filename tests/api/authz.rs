//! The capability table, walked whole: every capability, for every role, held at a unit and
//! asked about that unit, the one above it, one below it and one outside its subtree — and a
//! system administrator with no role. Each answer is written out here by hand, so a change to
//! the table in `service::authz` fails this test until the change is made here too, on purpose.
//!
//! The list filters are checked against the same answers: the units `authz::reach` and
//! `ViewerScope::reach` put in reach are exactly those the single-unit check allows.

use chrono::Utc;
use entities::ids::{PersonId, UnitId};
use entities::{officer_role, org_unit, person};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use service::{
    auth::Viewer,
    authz::{self, Capability, Decision, Role},
    scope::ViewerScope,
};
use uuid::Uuid;

use crate::helpers::*;

/// `Y` allowed, `F` forbidden (some other role over the unit), `N` not found (no role over it),
/// for the units at, above, below and outside the role's unit, in that order. A branch leader
/// holds her role at a branch (below it: a group), every other role at a ward (below it: a
/// branch).
const EXPECTED: &[(Capability, [&str; 4], &str)] = {
    use Capability::*;
    //                      BRANCH_LEADER UNIT_OFFICER CASE_OFFICER UNIT_ADMIN  system admin
    &[
        (ViewUnit, ["YNYN", "YNYN", "YNYN", "YNYN"], "YYYY"),
        (ManageMembers, ["YNYN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (ReviewPledges, ["YNYN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (SetPopulation, ["FNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (ManageTrainings, ["YNFN", "YNYN", "FNFN", "FNFN"], "YYYY"),
        (PublishNews, ["YNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (ManageCampaigns, ["FNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (SetTargets, ["FNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (ReportIndicators, ["YNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (HandleViolenceReports, ["FNFN", "FNFN", "YNYN", "FNFN"], "NNNN"),
        (ManageStructure, ["FNFN", "FNFN", "FNFN", "YNYN"], "YYYY"),
        (AssignRoles, ["FNFN", "FNFN", "FNFN", "YNYN"], "YYYY"),
        (AssignAdmins, ["FNFN", "FNFN", "FNFN", "FNYN"], "YYYY"),
        (ManageIntegrations, ["FNFN", "FNFN", "FNFN", "YNYN"], "YYYY"),
        (ViewAuditTrail, ["FNFN", "FNFN", "FNFN", "YNYN"], "YYYY"),
        (ModerateContent, ["YNYN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (SubmitRating, ["YNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (ReviewRatings, ["FNFN", "FNYN", "FNFN", "FNYN"], "YYYY"),
        (NominateAwards, ["YNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
        (DecideAwards, ["FNFN", "YNYN", "FNFN", "YNYN"], "YYYY"),
    ]
};

const ROLES: [Role; 4] = [Role::BranchLeader, Role::UnitOfficer, Role::CaseOfficer, Role::UnitAdmin];

fn letter(d: Decision) -> char {
    match d {
        Decision::Allowed { .. } => 'Y',
        Decision::InReach => 'F',
        Decision::OutOfReach => 'N',
        Decision::Merged => 'M',
    }
}

async fn unit(app: &TestApp, code: &str) -> UnitId {
    org_unit::Entity::find()
        .filter(org_unit::Column::Code.eq(code))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no unit {code}"))
        .id
}

/// A new person, a system administrator or not, with `role` at `unit` when given.
async fn person_with(app: &TestApp, n: u32, admin: bool, role: Option<(Role, UnitId)>) -> Viewer {
    let now = Utc::now();
    let id = PersonId::new();
    let phone = service::domain::PhoneNumber::parse(&format!("+8498877{n:04}"), "phone").unwrap();
    let name = service::domain::PersonName::parse(&crate::fixtures::name(n), "full_name").unwrap();
    person::ActiveModel {
        id: Set(id),
        is_system_admin: Set(admin),
        ..service::identity::new_person(&phone, &name, now)
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    if let Some((role, unit_id)) = role {
        officer_role::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(id),
            unit_id: Set(unit_id),
            role: Set(role),
            granted_by: Set(None),
            granted_at: Set(now),
            revoked_by: Set(None),
            revoked_at: Set(None),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    Viewer { person_id: id, session_id: Uuid::now_v7() }
}

/// Which of `units` the list filters put in her reach, as `Y`/`N` per unit: from the database
/// ([`authz::reach`]) and from her standing read once ([`ViewerScope::reach`]).
async fn reached(
    app: &TestApp,
    viewer: &Viewer,
    capability: Capability,
    units: &[UnitId; 4],
) -> (String, String) {
    let db = &app.state.db;
    let in_reach = |reach: authz::Reach| async move {
        let found: Vec<UnitId> = org_unit::Entity::find()
            .select_only()
            .column(org_unit::Column::Id)
            .filter(reach.condition(org_unit::Column::Id))
            .filter(org_unit::Column::Id.is_in(units.iter().copied()))
            .into_tuple()
            .all(db)
            .await
            .unwrap();
        units.iter().map(|u| if found.contains(u) { 'Y' } else { 'N' }).collect::<String>()
    };
    let from_db = in_reach(authz::reach(db, viewer, capability, None).await.unwrap()).await;
    let scope = ViewerScope::load(db, viewer).await.unwrap();
    let from_scope = in_reach(scope.reach(capability)).await;
    (from_db, from_scope)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capability_for_every_role_at_above_below_and_outside_its_unit() {
    let app = spawn_app().await;
    let db = &app.state.db;
    // [at, above, below, outside] for a role held at a branch, and at a ward.
    let at_branch = [
        unit(&app, "HN-LB-BD-01").await,
        unit(&app, "HN-LB-BD").await,
        unit(&app, "HN-LB-BD-01-T1").await,
        unit(&app, "HN-LB-BD-02").await,
    ];
    let at_ward = [
        unit(&app, "HN-LB-BD").await,
        unit(&app, "HN-LB").await,
        unit(&app, "HN-LB-BD-01").await,
        unit(&app, "HN-LB-GT").await,
    ];
    assert_eq!(EXPECTED.len(), Capability::ALL.len(), "every capability has its row");

    let mut people = Vec::new();
    for (i, role) in ROLES.into_iter().enumerate() {
        let units = if role == Role::BranchLeader { at_branch } else { at_ward };
        people.push((person_with(&app, i as u32, false, Some((role, units[0]))).await, units));
    }
    let admin = person_with(&app, 9, true, None).await;

    for &(capability, by_role, by_admin) in EXPECTED {
        for ((viewer, units), (role, expected)) in people.iter().zip(ROLES.into_iter().zip(by_role)) {
            let mut got = String::new();
            for unit in units {
                got.push(letter(
                    authz::decide(db, viewer.person_id, capability, (*unit).into()).await.unwrap(),
                ));
            }
            assert_eq!(got, expected, "{capability:?} for {role:?} at/above/below/outside");
            // The lists reach exactly the units the check allows.
            let allowed: String = expected.chars().map(|c| if c == 'Y' { 'Y' } else { 'N' }).collect();
            let (from_db, from_scope) = reached(&app, viewer, capability, units).await;
            assert_eq!(from_db, allowed, "authz::reach of {capability:?} for {role:?}");
            assert_eq!(from_scope, allowed, "ViewerScope::reach of {capability:?} for {role:?}");
        }
        let mut got = String::new();
        for unit in at_ward {
            got.push(letter(authz::decide(db, admin.person_id, capability, unit.into()).await.unwrap()));
        }
        assert_eq!(got, by_admin, "{capability:?} for a system administrator");
        let (from_db, from_scope) = reached(&app, &admin, capability, &at_ward).await;
        let allowed: String = by_admin.chars().map(|c| if c == 'Y' { 'Y' } else { 'N' }).collect();
        assert_eq!(
            (from_db.as_str(), from_scope.as_str()),
            (allowed.as_str(), allowed.as_str()),
            "{capability:?} lists of a system administrator"
        );
    }
}

/// A unit admin sets the targets of the units below hers from above (`above`), and her own
/// unit's only from within; the flag is what the targets area reads. The answer names the role
/// that allowed it (what the audit trail records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_answer_says_whether_the_role_sits_above_the_unit() {
    let app = spawn_app().await;
    let db = &app.state.db;
    let (ward, branch) = (unit(&app, "HN-LB-BD").await, unit(&app, "HN-LB-BD-01").await);
    let officer = person_with(&app, 1, false, Some((Role::UnitOfficer, ward))).await;
    let admin = person_with(&app, 2, true, None).await;
    let decide = |p: PersonId, u: UnitId| authz::decide(db, p, Capability::SetTargets, u.into());
    let (officer_role, system) = (authz::ActingAs::UnitOfficer, authz::ActingAs::SystemAdmin);
    assert_eq!(
        decide(officer.person_id, ward).await.unwrap(),
        Decision::Allowed { above: false, by: officer_role }
    );
    assert_eq!(
        decide(officer.person_id, branch).await.unwrap(),
        Decision::Allowed { above: true, by: officer_role }
    );
    assert_eq!(decide(admin.person_id, ward).await.unwrap(), Decision::Allowed { above: true, by: system });
}
