//! Hostile text in any argument: NUL and other control characters, bidirectional overrides,
//! names of invisible letters. One rule for every field, the same answer on both backends:
//! `BAD_USER_INPUT` with the argument's path, and nothing written.

use serde_json::json;

use crate::helpers::*;

const REGISTER: &str = "mutation($i: RegisterInput!) { register(input: $i) { accessToken } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_and_direction_characters_are_bad_input_on_every_backend() {
    let app = spawn_app().await;
    let people_before = count_people(&app).await;
    for name in ["Lan\u{0}Anh", "Lan\u{7}Anh", "Lan \u{202E}hnA", "Lan\u{2066}Anh", "Lan\u{1B}[31m"] {
        let res = app
            .gql(
                REGISTER,
                json!({ "i": { "phone": "0966100001", "fullName": name, "password": "sen-hong-2026", "verificationToken": "x", "privacyNoticeVersion": "2026-12" } }),
                None,
            )
            .await;
        assert_eq!(
            (res.code(), res.field(), res.reason()),
            (Some("BAD_USER_INPUT"), Some("input.fullName"), Some("INVALID_CHARACTERS")),
            "{name:?}: {}",
            res.body
        );
    }
    assert_eq!(count_people(&app).await, people_before, "nothing written");

    // An officer's multi-line text keeps its line breaks and tabs, but not a NUL.
    let officer = app.token(BD1_LEADER).await;
    let branch = app.unit_id("HN-LB-BD-01").await;
    let q = "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { description } }";
    let training = |description: &str| {
        json!({ "u": branch, "i": {
            "title": "Kỹ năng làm mẹ", "description": description, "category": "HEALTH",
            "startsAt": "2031-05-01T01:00:00Z", "endsAt": "2031-05-01T03:00:00Z", "capacity": 30,
            "place": "Nhà văn hóa tổ 5" } })
    };
    let res = app.gql(q, training("Buổi 1\n\tChuẩn bị\u{0}"), Some(&officer)).await;
    assert_eq!(
        (res.field(), res.reason()),
        (Some("input.description"), Some("INVALID_CHARACTERS")),
        "{}",
        res.body
    );
    let ok = app.gql(q, training("Buổi 1\n\tChuẩn bị"), Some(&officer)).await.ok();
    assert_eq!(ok["createTraining"]["description"], "Buổi 1\n\tChuẩn bị");

    // Written in the document, in a nested field's argument: the same.
    let res = app.gql("{ orgUnits(search: \"b\\u0000\") { totalCount } }", json!({}), None).await;
    assert_eq!((res.code(), res.field()), (Some("BAD_USER_INPUT"), Some("search")), "{}", res.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_of_invisible_letters_is_no_name() {
    let app = spawn_app().await;
    for name in ["\u{3164}\u{3164}\u{3164}", "\u{115F}\u{1160}", "A\u{3164}"] {
        let res = app
            .gql(
                REGISTER,
                json!({ "i": { "phone": "0966100002", "fullName": name, "password": "sen-hong-2026", "verificationToken": "x", "privacyNoticeVersion": "2026-12" } }),
                None,
            )
            .await;
        assert_eq!(
            (res.field(), res.reason()),
            (Some("input.fullName"), Some("INVALID_NAME")),
            "{name:?}: {}",
            res.body
        );
    }
}

async fn count_people(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entities::person::Entity::find().count(&app.state.db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_the_wrong_type_names_its_field_and_never_echoes_it() {
    let app = spawn_app().await;
    let check = |res: Gql, field: &str, reason: &str, secret: &str| {
        assert_eq!(
            (res.code(), res.field(), res.reason()),
            (Some("BAD_USER_INPUT"), Some(field), Some(reason)),
            "{}",
            res.body
        );
        assert!(!res.body.to_string().contains(secret), "the value is echoed: {}", res.body);
    };
    let input = json!({ "phone": "0966100003", "fullName": "Lan Anh", "password": "sen-hong-2026", "birthDate": "0000-00-00", "verificationToken": "x", "privacyNoticeVersion": "2026-12" });
    check(
        app.gql(REGISTER, json!({ "i": input }), None).await,
        "input.birthDate",
        "INVALID_FORMAT",
        "0000-00-00",
    );
    let literal = "mutation { register(input: {phone: \"0966100003\", fullName: \"Lan Anh\", password: \"sen-hong-2026\", birthDate: \"1999-02-31\", verificationToken: \"x\", privacyNoticeVersion: \"2026-12\"}) { accessToken } }";
    check(app.gql(literal, json!({}), None).await, "input.birthDate", "INVALID_FORMAT", "1999-02-31");
    let q = "query($f: Int) { orgUnits(first: $f) { totalCount } }";
    // Validated and checked once for its text when sent without variables (see
    // `graphql::documents`), the document still has every request's variables checked.
    assert_eq!(app.gql(q, json!({}), None).await.code(), None);
    assert_eq!(app.gql(q, json!({}), None).await.code(), None);
    assert_eq!(app.gql(q, json!({ "f": 5 }), None).await.code(), None);
    check(app.gql(q, json!({ "f": 99_999_999_999i64 }), None).await, "first", "OUT_OF_RANGE", "99999999999");
    check(app.gql(q, json!({ "f": "abc-secret" }), None).await, "first", "INVALID_FORMAT", "abc-secret");
    let q = "query($k: OrgUnitKind) { orgUnits(kind: $k) { totalCount } }";
    check(app.gql(q, json!({ "k": "SECRET_VALUE" }), None).await, "kind", "INVALID_FORMAT", "SECRET_VALUE");
    check(
        app.gql("{ orgUnits(kind: SECRET_VALUE) { totalCount } }", json!({}), None).await,
        "kind",
        "INVALID_FORMAT",
        "SECRET_VALUE",
    );
    // A missing required field and an unknown one are named too.
    let partial = json!({ "phone": "0966100003", "password": "sen-hong-2026" });
    check(
        app.gql(REGISTER, json!({ "i": partial }), None).await,
        "input.fullName",
        "REQUIRED",
        "sen-hong-2026",
    );
    let extra = json!({ "phone": "0966100003", "fullName": "Lan Anh", "password": "sen-hong-2026", "isSystemAdmin": true });
    check(
        app.gql(REGISTER, json!({ "i": extra }), None).await,
        "input.isSystemAdmin",
        "INVALID_FORMAT",
        "sen-hong-2026",
    );
    // An upload argument given text instead of a file.
    let leader = app.token(BD1_LEADER).await;
    let res = app
        .gql(
            "mutation($f: Upload) { importMembers(file: $f) { totalRows } }",
            json!({ "f": "C:/private/danh-sach.csv" }),
            Some(&leader),
        )
        .await;
    check(res, "file", "INVALID_FORMAT", "danh-sach");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_are_checked_and_honoured_and_file_markers_need_a_file() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    let unit = app.unit_id("HN-LB").await;
    // A document default is checked like a value…
    let res = app
        .gql("query($s: String = \"b\\u0000\") { orgUnits(search: $s) { totalCount } }", json!({}), None)
        .await;
    assert_eq!((res.field(), res.reason()), (Some("search"), Some("INVALID_CHARACTERS")), "{}", res.body);
    // …and a variable left out falls back on the document's or the argument's default.
    let q = "query($f: MemberFilterInput = {unitId: null}) { members(filter: $f, first: 1) { totalCount } }";
    app.gql(q, json!({}), Some(&officer)).await.ok();
    // A far-off year is a bad date, not a crash.
    let res = app
        .gql(
            "query($u: ID!) { violenceReportCounts(unitId: $u, submittedOn: {from: \"-262144-01-01\"}) { total } }",
            json!({ "u": unit }),
            Some(&officer),
        )
        .await;
    assert_eq!(
        (res.field(), res.reason()),
        (Some("submittedOn.from"), Some("INVALID_FORMAT")),
        "{}",
        res.body
    );
    // A file marker in a request that carries no file is refused before anything runs.
    let leader = app.token(BD1_LEADER).await;
    let res = app
        .gql(
            "mutation($f: Upload) { importMembers(file: $f) { totalRows } }",
            json!({ "f": "#__graphql_file__:0" }),
            Some(&leader),
        )
        .await;
    assert_eq!((res.status, res.code()), (400, Some("BAD_REQUEST")), "{}", res.body);
}
