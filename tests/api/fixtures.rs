//! Test fixtures: the people and records tests build — numbered test people (phone and name),
//! members, officers, published trainings, launched campaigns and violence reports — made
//! through the API the way a client makes them.
//!
//! Every module numbers its people in a [`Series`] of its own, so no two modules hand out the
//! same phone number; inside a module, the n-th person always has the same phone and name.

#![allow(dead_code)]

use serde_json::{Value, json};

use crate::helpers::*;

/// Password of every test person the fixtures register.
pub const PASSWORD: &str = "sen-hong-2026";

/// A block of a million test phone numbers, `0{prefix}nnnnnn`: one per module.
///
/// Numbers typed literally by some tests stay outside these blocks: 0912, 0913 and 0987
/// (identity, roles, import, invitations, search) and 0966 1xxxxx / 0966 55xxxx (input, runtime).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Series(u32);

impl Series {
    /// Campaigns and pledges (`campaigns`).
    pub const CAMPAIGNS: Series = Series(966);
    /// Targets (`targets`).
    pub const TARGETS: Series = Series(967);
    /// News (`news`).
    pub const NEWS: Series = Series(968);
    /// Notification fan-out (`fanout`).
    pub const FANOUT: Series = Series(955);
    /// Violence reports: officers (`violence`).
    pub const VIOLENCE: Series = Series(970);
    /// Member statistics (`stats`).
    pub const STATS: Series = Series(976);
    /// Trainings (`trainings`).
    pub const TRAININGS: Series = Series(977);
    /// Membership (`membership`).
    pub const MEMBERSHIP: Series = Series(978);
    /// Accounts that exist before an officer enrols them (`invitations`).
    pub const INVITATIONS: Series = Series(980);
    /// Phone codes, recovery, sessions, deletion and export (`accounts`).
    pub const ACCOUNTS: Series = Series(981);
    /// Officers of the partner-integration tests (`integrations`).
    pub const INTEGRATIONS: Series = Series(982);
    /// Bulk decisions and the console (`bulk`).
    pub const CONSOLE: Series = Series(983);
    /// Push providers and notification preferences (`push`).
    pub const PUSH: Series = Series(984);
    /// Comments and reactions (`content`).
    pub const CONTENT: Series = Series(985);
    /// Members' stories (`stories`).
    pub const STORIES: Series = Series(986);
    /// Flags, automatic checks, settings and pre-moderation (`moderation`).
    pub const MODERATION: Series = Series(987);
    /// The queue, decisions, mutes and appeals (`moderation_queue`).
    pub const MODERATION_QUEUE: Series = Series(988);
    /// Ratings (`ratings`).
    pub const RATINGS: Series = Series(989);
    /// Commendations (`awards`).
    pub const AWARDS: Series = Series(990);
    /// Merging units (`merge`).
    pub const MERGE: Series = Series(991);

    /// Every named series (a test checks that they are distinct).
    pub const ALL: [Series; 20] = [
        Series::CAMPAIGNS,
        Series::TARGETS,
        Series::NEWS,
        Series::FANOUT,
        Series::VIOLENCE,
        Series::STATS,
        Series::TRAININGS,
        Series::MEMBERSHIP,
        Series::INVITATIONS,
        Series::ACCOUNTS,
        Series::INTEGRATIONS,
        Series::CONSOLE,
        Series::PUSH,
        Series::CONTENT,
        Series::STORIES,
        Series::MODERATION,
        Series::MODERATION_QUEUE,
        Series::RATINGS,
        Series::AWARDS,
        Series::MERGE,
    ];

    /// Training races: the k-th block of 0910…0919 (one per group of imported members).
    pub const fn races(k: u32) -> Series {
        assert!(k < 10, "race series 0..=9");
        Series(910 + k)
    }

    /// The n-th number as a person types it: `0977000012`.
    pub fn phone(self, n: u32) -> String {
        assert!(n < 1_000_000, "a series holds a million numbers");
        format!("0{}{n:06}", self.0)
    }

    /// The n-th number as the service stores it (E.164): `+84977000012`.
    pub fn stored_phone(self, n: u32) -> String {
        assert!(n < 1_000_000, "a series holds a million numbers");
        format!("+84{}{n:06}", self.0)
    }
}

const FAMILY: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const GIVEN: [&str; 16] = [
    "An", "Bình", "Chi", "Dung", "Hà", "Hoa", "Lan", "Mai", "Ngọc", "Oanh", "Phương", "Quyên", "Thảo",
    "Uyên", "Vân", "Yến",
];

/// The n-th test person's name: letters and spaces only, a different one for every n.
pub fn name(n: u32) -> String {
    let base = format!("{} Thị {}", FAMILY[n as usize % 8], GIVEN[(n as usize / 8) % 16]);
    if n < 128 { base } else { format!("{base} {}", word(n / 128)) }
}

/// A number spelled digit by digit in Vietnamese words (names take letters only): 12 → "Một Hai".
pub fn word(n: u32) -> String {
    const WORDS: [&str; 10] = ["Không", "Một", "Hai", "Ba", "Bốn", "Năm", "Sáu", "Bảy", "Tám", "Chín"];
    n.to_string().chars().map(|c| WORDS[c.to_digit(10).unwrap_or(0) as usize]).collect::<Vec<_>>().join(" ")
}

/// A registered person with no membership and no role.
#[derive(Clone, Debug)]
pub struct Person {
    /// Her access token.
    pub token: String,
    /// Her phone as stored (`+84…`).
    pub phone: String,
    /// Her global id.
    pub person_id: String,
}

/// An active member of a branch, with an account.
#[derive(Clone, Debug)]
pub struct Member {
    /// Her access token.
    pub token: String,
    /// Her phone as stored (`+84…`).
    pub phone: String,
    /// Her global id.
    pub person_id: String,
    /// Her membership's global id.
    pub membership_id: String,
}

/// A person holding an officer role at a unit.
#[derive(Clone, Debug)]
pub struct Officer {
    /// Her access token.
    pub token: String,
    /// Her phone as stored (`+84…`).
    pub phone: String,
    /// Her global id.
    pub person_id: String,
}

/// Registers the n-th person of `series` (typed phone, [`name`], [`PASSWORD`]).
pub async fn person(app: &TestApp, series: Series, n: u32) -> Person {
    let (token, _, person_id) = app.register(&series.phone(n), &name(n), PASSWORD).await;
    Person { token, phone: series.stored_phone(n), person_id }
}

/// Enrols `name` with `phone` in branch `code` as `officer`: the raw response (tests check refusals).
pub async fn try_enrol(
    app: &TestApp,
    officer: &str,
    name: &str,
    phone: &str,
    birth: Option<&str>,
    code: &str,
) -> Gql {
    const ENROL: &str = "mutation($i: EnrolMemberInput!) { enrolMember(input: $i) { status fullName phone birthDate membership { id memberNumber status fullName phone birthDate joinedAt branch { code } events { kind fromBranch { code } toBranch { code } toStatus actor { fullName } } } } }";
    let branch = app.unit_id(code).await;
    app.gql(
        ENROL,
        json!({ "i": { "fullName": name, "phone": phone, "birthDate": birth, "branchId": branch } }),
        Some(officer),
    )
    .await
}

/// Enrols the n-th person of `series` (not yet registered) in branch `code` as `officer`; her
/// membership's global id.
pub async fn enrol(app: &TestApp, officer: &str, series: Series, n: u32, code: &str) -> String {
    let data = try_enrol(app, officer, &name(n), &series.phone(n), None, code).await.ok();
    s(&data["enrolMember"]["membership"]["id"])
}

/// The n-th person of `series`, enrolled in branch `code` by `officer` and then registered.
pub async fn member(app: &TestApp, officer: &str, series: Series, n: u32, code: &str) -> Member {
    let membership_id = enrol(app, officer, series, n, code).await;
    let (token, _, person_id) = app.register(&series.phone(n), &name(n), PASSWORD).await;
    Member { token, phone: series.stored_phone(n), person_id, membership_id }
}

/// Members `ns` of `series` in branch `code` (enrolled by `officer`), in order.
pub async fn members(
    app: &TestApp,
    officer: &str,
    series: Series,
    ns: impl IntoIterator<Item = u32>,
    code: &str,
) -> Vec<Member> {
    let mut out = Vec::new();
    for n in ns {
        out.push(member(app, officer, series, n, code).await);
    }
    out
}

/// The access tokens of `members`, in order.
pub fn tokens(members: Vec<Member>) -> Vec<String> {
    members.into_iter().map(|m| m.token).collect()
}

/// The n-th person of `series` registers, asks to join branch `code`, and `decider` approves.
pub async fn joined(app: &TestApp, decider: &str, series: Series, n: u32, code: &str) -> Member {
    let p = person(app, series, n).await;
    join_branch(app, &p.token, decider, code, None).await;
    let me = app.gql("{ me { membership { id } } }", json!({}), Some(&p.token)).await.ok();
    let membership_id = s(&me["me"]["membership"]["id"]);
    Member { token: p.token, phone: p.phone, person_id: p.person_id, membership_id }
}

/// The person signed in as `token` asks to join branch `code` (with `note`), and `decider`
/// approves.
pub async fn join_branch(app: &TestApp, token: &str, decider: &str, code: &str, note: Option<&str>) {
    let branch = app.unit_id(code).await;
    let req = app
        .gql(
            "mutation($i: RequestMembershipInput!) { requestMembership(input: $i) { id } }",
            json!({ "i": { "branchId": branch, "note": note } }),
            Some(token),
        )
        .await
        .ok();
    let decided = app
        .gql(
            "mutation($id: ID!) { approveMembershipRequest(id: $id) { status } }",
            json!({ "id": req["requestMembership"]["id"] }),
            Some(decider),
        )
        .await
        .ok();
    assert_eq!(decided["approveMembershipRequest"]["status"], "APPROVED");
}

/// The fields of a role [`try_grant`] returns.
pub const ROLE_FIELDS: &str = "id role active grantedAt revokedAt unit { code } person { id phone } grantedBy { id fullName } revokedBy { id fullName }";

/// Grants `role` at unit `code` to the person with `phone`, as `by`: the raw response
/// ([`ROLE_FIELDS`]; tests check refusals).
pub async fn try_grant(app: &TestApp, by: &str, phone: &str, code: &str, role: &str) -> Gql {
    let q = format!(
        "mutation($i: AssignOfficerRoleInput!) {{ assignOfficerRole(input: $i) {{ {ROLE_FIELDS} }} }}"
    );
    let input = json!({ "phone": phone, "unitId": app.unit_id(code).await, "role": role });
    app.gql(&q, json!({ "i": input }), Some(by)).await
}

/// The n-th person of `series`, registered and given `role` at `code` by the city's admin.
pub async fn officer(app: &TestApp, series: Series, n: u32, code: &str, role: &str) -> Officer {
    let p = person(app, series, n).await;
    app.grant(&p.phone, code, role).await;
    Officer { token: p.token, phone: p.phone, person_id: p.person_id }
}

/// Creates a training at `code` from `input` as `token` and publishes it; its global id.
pub async fn published_training(app: &TestApp, token: &str, code: &str, input: Value) -> String {
    let unit = app.unit_id(code).await;
    let created = app
        .gql(
            "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id status } }",
            json!({ "u": unit, "i": input }),
            Some(token),
        )
        .await
        .ok();
    assert_eq!(created["createTraining"]["status"], "DRAFT");
    let id = s(&created["createTraining"]["id"]);
    let data = app
        .gql("mutation($id: ID!) { publishTraining(id: $id) { status } }", json!({ "id": id }), Some(token))
        .await
        .ok();
    assert_eq!(data["publishTraining"]["status"], "PUBLISHED");
    id
}

/// The fields [`launched_campaign`] returns.
pub const CAMPAIGN_FIELDS: &str = "id kind title summary body bodyFormat coverImageUrl termStart termEnd status \
    unit { code } criteria { id position text } launchedAt endedAt createdAt";

/// Creates a campaign at `code` from `input` as `token` and launches it (members not notified);
/// the campaign with [`CAMPAIGN_FIELDS`].
pub async fn launched_campaign(app: &TestApp, token: &str, code: &str, input: Value) -> Value {
    let unit = app.unit_id(code).await;
    let created = app
        .gql(
            "mutation($u: ID!, $i: CampaignInput!) { createCampaign(unitId: $u, input: $i) { id status } }",
            json!({ "u": unit, "i": input }),
            Some(token),
        )
        .await
        .ok();
    assert_eq!(created["createCampaign"]["status"], "DRAFT");
    let launch = format!(
        "mutation($id: ID!, $n: Boolean) {{ launchCampaign(id: $id, notifyMembers: $n) {{ {CAMPAIGN_FIELDS} }} }}"
    );
    let c = app
        .gql(&launch, json!({ "id": created["createCampaign"]["id"], "n": false }), Some(token))
        .await
        .ok()["launchCampaign"]
        .clone();
    assert_eq!(c["status"], "ACTIVE");
    c
}

/// A violence-report submission: a physical and psychological concern about the reporter
/// herself in the unit with global id `unit`, under a fresh idempotency key.
pub fn violence_input(unit: &str, urgent: bool, description: &str) -> Value {
    json!({
        "unitId": unit,
        "affected": "SELF",
        "ageGroup": "ADULT",
        "kinds": ["PHYSICAL", "PSYCHOLOGICAL"],
        "immediateDanger": urgent,
        "childrenInvolved": false,
        "description": description,
        "mayContact": true,
        "mayShareWithAuthorities": false,
        // Signed in, her consent to the sensitive data her report links to her (ignored when
        // anonymous).
        "sensitiveDataConsent": true,
        "idempotencyKey": format!("key-{}", uuid::Uuid::new_v4()),
    })
}

/// The violence-report submission, answering with the receipt.
pub const SUBMIT_VIOLENCE: &str = "mutation($i: ViolenceReportInput!) { submitViolenceReport(input: $i) { referenceCode pin status submittedAt } }";

/// Submits `input` (as `token`, or anonymously); the receipt (`referenceCode pin status
/// submittedAt`).
pub async fn submit_violence(app: &TestApp, input: &Value, token: Option<&str>) -> Value {
    app.gql(SUBMIT_VIOLENCE, json!({ "i": input }), token).await.ok()["submitViolenceReport"].clone()
}

/// Submits a violence report at unit `code` (as `token`, or anonymously); its receipt.
pub async fn violence_report(
    app: &TestApp,
    token: Option<&str>,
    code: &str,
    urgent: bool,
    description: &str,
) -> Value {
    let unit = app.unit_id(code).await;
    submit_violence(app, &violence_input(&unit, urgent, description), token).await
}

#[test]
fn series_do_not_overlap_and_names_are_distinct() {
    let mut prefixes: Vec<u32> = Series::ALL.iter().map(|s| s.0).collect();
    prefixes.extend((0..10).map(|k| Series::races(k).0));
    let count = prefixes.len();
    prefixes.sort_unstable();
    prefixes.dedup();
    assert_eq!(prefixes.len(), count, "two modules share a series");
    let names: std::collections::HashSet<String> = (0..5000).map(name).collect();
    assert_eq!(names.len(), 5000);
    assert!(names.iter().all(|n| n.chars().all(|c| c.is_alphabetic() || c == ' ')));
    assert_eq!(Series::TRAININGS.phone(12), "0977000012");
    assert_eq!(Series::TRAININGS.stored_phone(12), "+84977000012");
}
