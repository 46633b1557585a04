//! Trainings under contention, check-in codes and statistics: the 500-for-50 registration race,
//! promotion order under concurrent cancellations, idempotent retries, check-in codes (forgery,
//! expiry, reuse at another training, double scans) and the attendance statistics.
//!
//! The race tests create their members in bulk through `importMembers` and mint access tokens
//! with the server's keys (an access token is accepted on its signature and the revocation
//! list; no session row is read), so only the registrations themselves are raced over HTTP.

use entities::ids::{PersonId, TrainingId};
use std::{
    collections::{HashMap, HashSet},
    time::Instant,
};

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, future::join_all, stream};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{Series, published_training};
use crate::helpers::*;

const CREATE: &str =
    "mutation($u: ID!, $i: TrainingInput!) { createTraining(unitId: $u, input: $i) { id status } }";
const PUBLISH: &str = "mutation($id: ID!) { publishTraining(id: $id) { id status } }";
const REGISTER: &str = "mutation($t: ID!) { registerForTraining(trainingId: $t) { \
    id status arrivalNumber waitlistPosition } }";
const CANCEL: &str =
    "mutation($t: ID!) { cancelTrainingRegistration(trainingId: $t) { id status arrivalNumber } }";
const COUNTS: &str = "query($id: ID!) { node(id: $id) { ... on Training { \
    capacity confirmedCount waitlistCount seatsLeft } } }";
const ROSTER: &str = "query($id: ID!, $after: String) { node(id: $id) { ... on Training { \
    roster(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } \
    nodes { id status arrivalNumber waitlistPosition phone checkInCode { code } } } } } }";
const MY_REGISTRATION: &str = "query($id: ID!) { node(id: $id) { ... on Training { \
    myRegistration { id status waitlistPosition checkInCode { code expiresAt } } } } }";
const MY_REGISTRATIONS: &str =
    "{ myTrainingRegistrations { id status training { id } checkInCode { code expiresAt } } }";
const CHECK_IN: &str = "mutation($t: ID!, $c: String!) { checkIn(trainingId: $t, token: $c) { \
    alreadyCheckedIn registration { id status attendedAt checkInMethod } } }";
const CHECK_IN_MANUALLY: &str = "mutation($r: ID!) { checkInManually(registrationId: $r) { \
    alreadyCheckedIn registration { id status attendedAt checkInMethod } } }";
const REGISTRATION_NODE: &str = "query($id: ID!) { node(id: $id) { ... on TrainingRegistration { \
    id status phone checkInCode { code } } } }";
const STATS: &str = "query($u: ID!, $f: Date!, $t: Date!) { trainingStatistics(unitId: $u, from: $f, to: $t) { \
    total { unit { code } trainings registrations attendances peopleTrained women men genderUnknown womenShare } \
    children { unit { code } trainings registrations attendances peopleTrained } \
    byCategory { category figures { trainings registrations attendances peopleTrained } } } }";

/// Requests in flight at once in the races.
const IN_FLIGHT: usize = 100;

// ---- helpers ----

async fn spawn() -> TestApp {
    spawn_app_with(&[("APP_REGISTER_MAX_PER_ADDRESS", "100000")]).await
}

/// A member with a bearer token.
#[derive(Clone, Debug)]
struct Member {
    id: PersonId,
    phone: String,
    token: String,
}

/// Imports `n` members of `branch` (numbered in [`Series::races`]`(series)`) through `importMembers` and mints each an
/// access token with the server's keys.
async fn members(app: &TestApp, importer: &str, branch: &str, series: u32, n: usize) -> Vec<Member> {
    let mut csv = String::from("name,phone,branch\n");
    for i in 0..n {
        csv.push_str(&format!(
            "Nguyễn Thị Học Viên,{},{branch}\n",
            Series::races(series).stored_phone(i as u32)
        ));
    }
    let report = app
        .gql(
            "mutation($csv: String) { importMembers(csv: $csv) { imported rejected { line reason } } }",
            json!({ "csv": csv }),
            Some(importer),
        )
        .await
        .ok();
    assert_eq!(report["importMembers"]["imported"], n as u64, "{report}");
    let phones: Vec<String> = (0..n).map(|i| Series::races(series).stored_phone(i as u32)).collect();
    let people = entities::person::Entity::find()
        .filter(entities::person::Column::Phone.is_in(phones.clone()))
        .all(&app.state.db)
        .await
        .unwrap();
    let by_phone: HashMap<String, PersonId> = people.into_iter().map(|p| (p.phone, p.id)).collect();
    phones
        .into_iter()
        .map(|phone| {
            let id = by_phone[&phone];
            let token = app.state.tokens.issue_access(id, Uuid::new_v4(), Default::default()).unwrap().0;
            Member { id, phone, token }
        })
        .collect()
}

/// The races' usual training: in a week, with `category` and `capacity`.
fn course(category: &str, capacity: Option<i32>) -> Value {
    training_input("Lớp tập huấn kỹ năng", category, capacity, Duration::days(7))
}

/// Creates a draft training; returns its id.
async fn draft(app: &TestApp, token: &str, unit: &str, category: &str, capacity: Option<i32>) -> String {
    let input = course(category, capacity);
    let data = app.gql(CREATE, json!({ "u": app.unit_id(unit).await, "i": input }), Some(token)).await.ok();
    s(&data["createTraining"]["id"])
}

fn training_input(title: &str, category: &str, capacity: Option<i32>, starts_in: Duration) -> Value {
    let starts = Utc::now() + starts_in;
    json!({
        "title": title,
        "description": "Lớp tập huấn cho hội viên.",
        "category": category,
        "startsAt": starts.to_rfc3339(),
        "endsAt": (starts + Duration::hours(3)).to_rfc3339(),
        "place": "Nhà văn hoá phường",
        "capacity": capacity,
    })
}

async fn register(app: &TestApp, token: &str, training: &str) -> Gql {
    app.gql(REGISTER, json!({ "t": training }), Some(token)).await
}

async fn registered(app: &TestApp, token: &str, training: &str) -> Value {
    register(app, token, training).await.ok()["registerForTraining"].clone()
}

/// (capacity, confirmedCount, waitlistCount, seatsLeft) as a manager reads them.
async fn counts(app: &TestApp, token: &str, training: &str) -> (Value, i64, i64, Value) {
    let data = app.gql(COUNTS, json!({ "id": training }), Some(token)).await.ok();
    let t = &data["node"];
    (
        t["capacity"].clone(),
        t["confirmedCount"].as_i64().unwrap(),
        t["waitlistCount"].as_i64().unwrap(),
        t["seatsLeft"].clone(),
    )
}

/// The whole roster, page by page, as a manager reads it.
async fn roster(app: &TestApp, token: &str, training: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.gql(ROSTER, json!({ "id": training, "after": after }), Some(token)).await.ok();
        let conn = &data["node"]["roster"];
        out.extend(conn["nodes"].as_array().unwrap().iter().cloned());
        if conn["pageInfo"]["hasNextPage"] != true {
            assert_eq!(conn["totalCount"], out.len() as u64);
            return out;
        }
        after = Some(s(&conn["pageInfo"]["endCursor"]));
    }
}

/// Registration rows of a training, straight from the database.
async fn rows(app: &TestApp, training: &str) -> Vec<entities::training_registration::Model> {
    entities::training_registration::Entity::find()
        .filter(entities::training_registration::Column::TrainingId.eq(uuid_of(training)))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// People who received a `TRAINING_SEAT_CONFIRMED` notification, with how many each.
async fn seat_notifications(app: &TestApp) -> HashMap<PersonId, usize> {
    let notes = entities::notification::Entity::find()
        .filter(entities::notification::Column::Kind.eq("TRAINING_SEAT_CONFIRMED"))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut out = HashMap::new();
    for n in notes {
        *out.entry(n.person_id).or_insert(0) += 1;
    }
    out
}

/// Runs `f` for every item, at most [`IN_FLIGHT`] at once; results in completion order.
async fn race<T, F, Fut, R>(items: impl IntoIterator<Item = T>, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    stream::iter(items.into_iter().map(f)).buffer_unordered(IN_FLIGHT).collect().await
}

fn status_count(list: &[Value], status: &str) -> usize {
    list.iter().filter(|r| r["status"] == status).count()
}

// ---- capacity ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_simultaneous_registrations_fill_fifty_seats_in_arrival_order() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB", course("VOCATIONAL", Some(50))).await;
    let people = members(&app, &officer, "HN-LB-BD-01", 2, 500).await;

    let started = Instant::now();
    let results = race(people.iter(), |p| {
        let (app, training) = (&app, &training);
        async move { (p.phone.clone(), register(app, &p.token, training).await) }
    })
    .await;
    let elapsed = started.elapsed();
    let answers: Vec<(String, Value)> =
        results.into_iter().map(|(phone, r)| (phone, r.ok()["registerForTraining"].clone())).collect();
    let confirmed: Vec<&Value> =
        answers.iter().map(|(_, a)| a).filter(|a| a["status"] == "CONFIRMED").collect();
    let waitlisted: Vec<&Value> =
        answers.iter().map(|(_, a)| a).filter(|a| a["status"] == "WAITLISTED").collect();
    eprintln!(
        "[{}] 500 registrations for 50 seats in {elapsed:?}: {} confirmed, {} waitlisted",
        backend(),
        confirmed.len(),
        waitlisted.len()
    );
    assert_eq!((confirmed.len(), waitlisted.len()), (50, 450));

    // The answers: arrival numbers 1..=500 once each, seats to the first 50, and the waitlist
    // position each was told is final (nobody ahead left).
    let mut arrivals: Vec<i64> = answers.iter().map(|(_, a)| a["arrivalNumber"].as_i64().unwrap()).collect();
    arrivals.sort_unstable();
    assert_eq!(arrivals, (1..=500).collect::<Vec<_>>());
    let last_confirmed = confirmed.iter().map(|a| a["arrivalNumber"].as_i64().unwrap()).max().unwrap();
    let first_waiting = waitlisted.iter().map(|a| a["arrivalNumber"].as_i64().unwrap()).min().unwrap();
    assert!(last_confirmed < first_waiting, "{last_confirmed} ≥ {first_waiting}");
    assert!(confirmed.iter().all(|a| a["waitlistPosition"].is_null()));
    for a in &waitlisted {
        assert_eq!(a["waitlistPosition"].as_i64().unwrap(), a["arrivalNumber"].as_i64().unwrap() - 50, "{a}");
    }

    // The training's counters.
    assert_eq!(counts(&app, &officer, &training).await, (json!(50), 50, 450, json!(0)));

    // The roster, as the officer reads it.
    let list = roster(&app, &officer, &training).await;
    assert_eq!(list.len(), 500);
    assert_eq!((status_count(&list, "CONFIRMED"), status_count(&list, "WAITLISTED")), (50, 450));
    let mut positions: Vec<i64> = list
        .iter()
        .filter(|r| r["status"] == "WAITLISTED")
        .map(|r| r["waitlistPosition"].as_i64().unwrap())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=450).collect::<Vec<_>>());
    for (i, r) in list.iter().enumerate() {
        let arrival = r["arrivalNumber"].as_i64().unwrap();
        assert_eq!(arrival, i as i64 + 1, "roster in arrival order");
        assert_eq!(r["status"], if arrival <= 50 { "CONFIRMED" } else { "WAITLISTED" }, "{r}");
    }
    // Each person's roster entry is the one she was answered.
    let told: HashMap<&str, (&Value, &Value)> =
        answers.iter().map(|(p, a)| (p.as_str(), (&a["status"], &a["arrivalNumber"]))).collect();
    for r in &list {
        assert_eq!(told[s(&r["phone"]).as_str()], (&r["status"], &r["arrivalNumber"]), "{r}");
    }

    // The rows themselves: one per person.
    let stored = rows(&app, &training).await;
    assert_eq!(stored.len(), 500);
    assert_eq!(stored.iter().map(|r| r.person_id).collect::<HashSet<_>>().len(), 500);
    assert_eq!(stored.iter().filter(|r| r.status.as_str() == "CONFIRMED").count(), 50);
    assert!(stored.iter().filter(|r| r.status.as_str() == "CONFIRMED").all(|r| r.confirmed_at.is_some()));
    assert!(stored.iter().filter(|r| r.status.as_str() == "WAITLISTED").all(|r| r.confirmed_at.is_none()));
    let t = entities::training::Entity::find_by_id(id_of::<TrainingId>(&training))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((t.confirmed_count, t.waitlist_count, t.next_queue_no), (50, 450, 501));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_cancellations_promote_the_first_waitlisted_in_arrival_order() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB", course("LEGAL", Some(20))).await;
    let people = members(&app, &officer, "HN-LB-BD-02", 3, 60).await;
    let (first, newcomers) = people.split_at(50);

    // 50 register at once: 20 seats, 30 waiting.
    for r in race(first.iter(), |p| register(&app, &p.token, &training)).await {
        r.ok();
    }
    assert_eq!(counts(&app, &officer, &training).await, (json!(20), 20, 30, json!(0)));
    let by_phone: HashMap<&str, &Member> = people.iter().map(|p| (p.phone.as_str(), p)).collect();
    let list = roster(&app, &officer, &training).await;
    let seated: Vec<&Member> = list
        .iter()
        .filter(|r| r["status"] == "CONFIRMED")
        .map(|r| by_phone[s(&r["phone"]).as_str()])
        .collect();
    // In arrival order (the roster's order).
    let waiting: Vec<&Member> = list
        .iter()
        .filter(|r| r["status"] == "WAITLISTED")
        .map(|r| by_phone[s(&r["phone"]).as_str()])
        .collect();
    assert_eq!((seated.len(), waiting.len()), (20, 30));
    assert!(seat_notifications(&app).await.is_empty());

    // Round 1, all at once: 10 seated people cancel, the last 3 in the queue give up, and 10
    // newcomers register.
    let leaving: Vec<&Member> = seated[..10].to_vec();
    let giving_up: Vec<&Member> = waiting[27..].to_vec();
    let jobs: Vec<(bool, &Member)> = leaving
        .iter()
        .chain(&giving_up)
        .map(|p| (true, *p))
        .chain(newcomers.iter().map(|p| (false, p)))
        .collect();
    let results = race(jobs, |(cancel, p)| {
        let (app, training) = (&app, &training);
        async move {
            if cancel {
                app.gql(CANCEL, json!({ "t": training }), Some(&p.token)).await.ok()["cancelTrainingRegistration"]
                    .clone()
            } else {
                registered(app, &p.token, training).await
            }
        }
    })
    .await;
    assert_eq!(results.iter().filter(|r| r["status"] == "CANCELLED").count(), 13);
    // Seats never free up while people wait: every newcomer queues, after everyone before her.
    let new_arrivals: Vec<&Value> = results.iter().filter(|r| r["status"] != "CANCELLED").collect();
    assert_eq!(new_arrivals.len(), 10);
    assert!(new_arrivals.iter().all(|r| r["status"] == "WAITLISTED"), "{new_arrivals:?}");
    let mut numbers: Vec<i64> = new_arrivals.iter().map(|r| r["arrivalNumber"].as_i64().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (51..=60).collect::<Vec<_>>());

    // Exactly the first 10 in line were promoted, and only they were notified.
    let promoted: HashSet<PersonId> = waiting[..10].iter().map(|p| p.id).collect();
    assert_eq!(counts(&app, &officer, &training).await, (json!(20), 20, 27, json!(0)));
    let stored = rows(&app, &training).await;
    let now_seated: HashSet<PersonId> =
        stored.iter().filter(|r| r.status.as_str() == "CONFIRMED").map(|r| r.person_id).collect();
    let expected: HashSet<PersonId> =
        seated[10..].iter().map(|p| p.id).chain(promoted.iter().copied()).collect();
    assert_eq!(now_seated, expected);
    let notified = seat_notifications(&app).await;
    assert_eq!(notified.keys().copied().collect::<HashSet<_>>(), promoted);
    assert!(notified.values().all(|&n| n == 1), "{notified:?}");

    // The queue now: the 17 left of the first 50 in their order, then the newcomers; positions
    // 1..=27 with no gap.
    let list = roster(&app, &officer, &training).await;
    let queue: Vec<(i64, i64)> = list
        .iter()
        .filter(|r| r["status"] == "WAITLISTED")
        .map(|r| (r["arrivalNumber"].as_i64().unwrap(), r["waitlistPosition"].as_i64().unwrap()))
        .collect();
    assert_eq!(queue.iter().map(|q| q.1).collect::<Vec<_>>(), (1..=27).collect::<Vec<_>>());
    let queued_people: Vec<PersonId> = list
        .iter()
        .filter(|r| r["status"] == "WAITLISTED")
        .map(|r| by_phone[s(&r["phone"]).as_str()].id)
        .collect();
    assert_eq!(&queued_people[..17], &waiting[10..27].iter().map(|p| p.id).collect::<Vec<_>>()[..]);

    // Round 2: every seated person cancels at once (20 seats, 27 waiting): the next 20 in line
    // are promoted, 7 still wait.
    let seated_now: Vec<&Member> = people.iter().filter(|p| now_seated.contains(&p.id)).collect();
    for r in race(seated_now, |p| app.gql(CANCEL, json!({ "t": training }), Some(&p.token))).await {
        assert_eq!(r.ok()["cancelTrainingRegistration"]["status"], "CANCELLED");
    }
    assert_eq!(counts(&app, &officer, &training).await, (json!(20), 20, 7, json!(0)));
    let second: HashSet<PersonId> = queued_people[..20].iter().copied().collect();
    let stored = rows(&app, &training).await;
    let seated_after: HashSet<PersonId> =
        stored.iter().filter(|r| r.status.as_str() == "CONFIRMED").map(|r| r.person_id).collect();
    assert_eq!(seated_after, second);
    let notified = seat_notifications(&app).await;
    assert_eq!(notified.keys().copied().collect::<HashSet<_>>(), promoted.union(&second).copied().collect());
    assert!(notified.values().all(|&n| n == 1), "{notified:?}");

    // Round 3: more seats free up than people wait: everyone waiting gets in, seats stay free.
    let third: Vec<&Member> = people.iter().filter(|p| second.contains(&p.id)).take(10).collect();
    for r in race(third, |p| app.gql(CANCEL, json!({ "t": training }), Some(&p.token))).await {
        r.ok();
    }
    assert_eq!(counts(&app, &officer, &training).await, (json!(20), 17, 0, json!(3)));
    let stored = rows(&app, &training).await;
    assert_eq!(stored.iter().filter(|r| r.status.as_str() == "CONFIRMED").count(), 17);
    assert_eq!(stored.iter().filter(|r| r.status.as_str() == "WAITLISTED").count(), 0);
    assert_eq!(seat_notifications(&app).await.len(), 37);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raising_the_capacity_during_a_rush_promotes_the_first_waitlisted() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB", course("HEALTH", Some(5))).await;
    let people = members(&app, &officer, "HN-LB-BD-04", 4, 25).await;
    let (first, rush) = people.split_at(10);
    for r in race(first.iter(), |p| register(&app, &p.token, &training)).await {
        r.ok();
    }
    let by_phone: HashMap<&str, &Member> = people.iter().map(|p| (p.phone.as_str(), p)).collect();
    let waiting: Vec<PersonId> = roster(&app, &officer, &training)
        .await
        .iter()
        .filter(|r| r["status"] == "WAITLISTED")
        .map(|r| by_phone[s(&r["phone"]).as_str()].id)
        .collect();
    assert_eq!(waiting.len(), 5);

    // The officer raises the capacity to 8 while 15 more people register.
    let update = "mutation($id: ID!, $i: TrainingInput!) { updateTraining(id: $id, input: $i) { \
        capacity confirmedCount waitlistCount } }";
    let raise = |capacity: Option<i32>| {
        let input = training_input("Lớp tập huấn kỹ năng", "HEALTH", capacity, Duration::days(7));
        app.gql(update, json!({ "id": training, "i": input }), Some(&officer))
    };
    let jobs: Vec<Option<&Member>> = std::iter::once(None).chain(rush.iter().map(Some)).collect();
    let results = race(jobs, |p| {
        let (app, training, raise) = (&app, &training, &raise);
        async move {
            match p {
                None => raise(Some(8)).await.ok(),
                Some(p) => register(app, &p.token, training).await.ok(),
            }
        }
    })
    .await;
    let arrivals: Vec<&Value> = results.iter().filter_map(|r| r.get("registerForTraining")).collect();
    assert_eq!(arrivals.len(), 15);
    assert!(arrivals.iter().all(|a| a["status"] == "WAITLISTED"), "seats go to those waiting: {arrivals:?}");
    assert_eq!(counts(&app, &officer, &training).await, (json!(8), 8, 17, json!(0)));
    let promoted: HashSet<PersonId> = waiting[..3].iter().copied().collect();
    let seated: HashSet<PersonId> = rows(&app, &training)
        .await
        .iter()
        .filter(|r| r.status.as_str() == "CONFIRMED")
        .map(|r| r.person_id)
        .collect();
    assert!(promoted.is_subset(&seated) && seated.len() == 8);
    assert!(seated.iter().all(|p| promoted.contains(p) || first.iter().any(|f| f.id == *p)));
    let notified = seat_notifications(&app).await;
    assert_eq!(notified.keys().copied().collect::<HashSet<_>>(), promoted);

    // No limit any more: everyone waiting gets a seat, once.
    let data = raise(None).await.ok();
    assert_eq!(data["updateTraining"]["confirmedCount"], 25);
    assert_eq!(data["updateTraining"]["waitlistCount"], 0);
    assert_eq!(counts(&app, &officer, &training).await, (Value::Null, 25, 0, Value::Null));
    let notified = seat_notifications(&app).await;
    assert_eq!(notified.len(), 20);
    assert!(notified.values().all(|&n| n == 1));
}

/// Checks the seat invariants of a training against its rows: counters match, capacity holds,
/// no seat while someone waits, and every seat went to someone who arrived before everyone
/// still waiting (no one was skipped); the waitlist positions are 1..=n in arrival order.
async fn check_seat_invariants(app: &TestApp, officer: &str, training: &str, capacity: i64) {
    let stored = rows(app, training).await;
    let confirmed: Vec<_> = stored.iter().filter(|r| r.status.as_str() == "CONFIRMED").collect();
    let waiting: Vec<_> = stored.iter().filter(|r| r.status.as_str() == "WAITLISTED").collect();
    let (_, confirmed_count, waitlist_count, _) = counts(app, officer, training).await;
    assert_eq!((confirmed_count, waitlist_count), (confirmed.len() as i64, waiting.len() as i64));
    assert!(confirmed_count <= capacity);
    if waitlist_count > 0 {
        assert_eq!(confirmed_count, capacity, "a free seat while people wait");
    }
    if let (Some(last_seated), Some(first_waiting)) =
        (confirmed.iter().map(|r| r.queue_no).max(), waiting.iter().map(|r| r.queue_no).min())
    {
        assert!(
            last_seated < first_waiting,
            "arrival {first_waiting} waits behind seated {last_seated}: {:#?}",
            stored
                .iter()
                .filter(|r| r.queue_no == first_waiting || r.queue_no == last_seated)
                .collect::<Vec<_>>()
        );
    }
    let notified = seat_notifications(app).await;
    for r in &confirmed {
        if r.confirmed_at.is_some_and(|c| c > r.registered_at) {
            assert!(notified.contains_key(&r.person_id), "promoted without notice: {r:?}");
        }
    }
    let list = roster(app, officer, training).await;
    let queue: Vec<i64> = list
        .iter()
        .filter(|r| r["status"] == "WAITLISTED")
        .map(|r| r["waitlistPosition"].as_i64().unwrap())
        .collect();
    assert_eq!(queue, (1..=waiting.len() as i64).collect::<Vec<_>>());
    let mut numbers: Vec<i64> = stored.iter().map(|r| r.queue_no).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), stored.len(), "arrival numbers are unique");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_registrations_and_cancellations_keeps_the_queue_fair() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB", course("UNION_WORK", Some(10))).await;
    let people = members(&app, &officer, "HN-LB-BD-02", 5, 40).await;
    // A fixed pseudo-random schedule (the interleaving is what varies from run to run).
    let mut seed: u64 = 0x5eed_2026;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    for round in 0..5 {
        let mut jobs: Vec<(bool, &Member)> = Vec::new();
        for p in &people {
            match next() % 5 {
                // Register (a retry, for some).
                0 | 1 => jobs.push((true, p)),
                2 => jobs.push((false, p)),
                // Both at once.
                3 => jobs.extend([(true, p), (false, p)]),
                _ => {}
            }
        }
        if round == 0 {
            jobs.retain(|(register, _)| *register);
        }
        let n = jobs.len();
        for (register, r) in race(jobs, |(register, p)| {
            let (app, training) = (&app, &training);
            async move {
                let q = if register { REGISTER } else { CANCEL };
                (register, app.gql(q, json!({ "t": training }), Some(&p.token)).await)
            }
        })
        .await
        {
            // Cancelling what was never there is the only refusal.
            if r.has_errors() {
                assert!(!register && r.code() == Some("NOT_FOUND"), "{}", r.body);
            }
        }
        let (_, c, w, _) = counts(&app, &officer, &training).await;
        eprintln!("[{}] round {round}: {n} requests → {c} confirmed, {w} waiting", backend());
        check_seat_invariants(&app, &officer, &training, 10).await;
    }
}

// ---- idempotent retries ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_simultaneous_retries_by_one_person_make_one_registration() {
    let app = spawn().await;
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB-BD", course("HEALTH", Some(2))).await;
    let people = members(&app, &officer, "HN-LB-BD-03", 4, 4).await;
    let (p, q, r, late) = (&people[0], &people[1], &people[2], &people[3]);

    // A seat: ten identical requests at once, one registration.
    let answers: Vec<Value> = join_all((0..10).map(|_| registered(&app, &p.token, &training))).await;
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0]["status"], "CONFIRMED");
    assert_eq!(answers[0]["arrivalNumber"], 1);
    assert_eq!(counts(&app, &officer, &training).await, (json!(2), 1, 0, json!(1)));
    assert_eq!(rows(&app, &training).await.len(), 1);

    // The arrival counter moved by one: the next person is number 2 (and takes the last seat).
    let second = registered(&app, &q.token, &training).await;
    assert_eq!((second["status"].clone(), second["arrivalNumber"].clone()), (json!("CONFIRMED"), json!(2)));

    // A place in the queue: the same.
    let answers: Vec<Value> = join_all((0..10).map(|_| registered(&app, &r.token, &training))).await;
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(
        (
            answers[0]["status"].clone(),
            answers[0]["arrivalNumber"].clone(),
            answers[0]["waitlistPosition"].clone()
        ),
        (json!("WAITLISTED"), json!(3), json!(1))
    );
    assert_eq!(counts(&app, &officer, &training).await, (json!(2), 2, 1, json!(0)));
    assert_eq!(rows(&app, &training).await.len(), 3);

    // Ten cancellations at once free one seat, promote one person, notify her once.
    let cancelled: Vec<Value> =
        join_all((0..10).map(|_| app.gql(CANCEL, json!({ "t": training }), Some(&q.token))))
            .await
            .into_iter()
            .map(|g| g.ok()["cancelTrainingRegistration"].clone())
            .collect();
    assert!(cancelled.iter().all(|c| c["status"] == "CANCELLED" && c["id"] == second["id"]), "{cancelled:?}");
    assert_eq!(counts(&app, &officer, &training).await, (json!(2), 2, 0, json!(0)));
    assert_eq!(seat_notifications(&app).await, HashMap::from([(r.id, 1)]));

    // Registering again after cancelling, ten times at once: her row is reused, she queues once
    // with a new arrival number.
    let again: Vec<Value> = join_all((0..10).map(|_| registered(&app, &q.token, &training))).await;
    assert!(again.iter().all(|a| a == &again[0]), "{again:?}");
    assert_eq!(again[0]["id"], second["id"]);
    assert_eq!(
        (again[0]["status"].clone(), again[0]["arrivalNumber"].clone(), again[0]["waitlistPosition"].clone()),
        (json!("WAITLISTED"), json!(4), json!(1))
    );
    assert_eq!(counts(&app, &officer, &training).await, (json!(2), 2, 1, json!(0)));
    assert_eq!(registered(&app, &late.token, &training).await["arrivalNumber"], 5);
    let stored = rows(&app, &training).await;
    assert_eq!(stored.len(), 4);
    assert_eq!(stored.iter().map(|r| r.person_id).collect::<HashSet<_>>().len(), 4);
}

// ---- check-in ----

/// A registration's code as its holder reads it (`None` when there is none).
async fn my_code(app: &TestApp, token: &str, training: &str) -> Option<(String, DateTime<Utc>)> {
    let data = app.gql(MY_REGISTRATION, json!({ "id": training }), Some(token)).await.ok();
    let code = &data["node"]["myRegistration"]["checkInCode"];
    if code.is_null() {
        return None;
    }
    Some((s(&code["code"]), s(&code["expiresAt"]).parse().expect("expiresAt")))
}

/// Moves the app's clock a week on: the trainings these tests make start in a week, and
/// check-in opens only shortly before the start (`APP_CHECK_IN_OPENS_BEFORE_SECS`).
fn a_week_on(app: &TestApp) {
    app.state.clock.advance(Duration::days(7));
}

async fn check_in(app: &TestApp, token: &str, training: &str, code: &str) -> Gql {
    app.gql(CHECK_IN, json!({ "t": training, "c": code }), Some(token)).await
}

#[track_caller]
fn expect_token_problem(g: Gql, reason: &str) {
    let g = g.expect_reason("BAD_USER_INPUT", reason);
    assert_eq!(g.field(), Some("token"), "{}", g.body);
}

/// `code` with byte `i` of its decoded form changed.
fn tampered(code: &str, i: usize, f: impl Fn(u8) -> u8) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = b64.decode(code).expect("code is base64url");
    bytes[i] = f(bytes[i]);
    b64.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_in_codes_are_for_seated_holders_and_cannot_be_forged_expired_or_moved() {
    let app = spawn().await;
    a_week_on(&app);
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB", course("DIGITAL_SKILLS", Some(1))).await;
    let other = published_training(&app, &officer, "HN-LB", course("DIGITAL_SKILLS", None)).await;
    let people = members(&app, &officer, "HN-LB-BD-01", 5, 3).await;
    let (seated, waiting, third) = (&people[0], &people[1], &people[2]);

    let mine = registered(&app, &seated.token, &training).await;
    let queued = registered(&app, &waiting.token, &training).await;
    assert_eq!((mine["status"].as_str(), queued["status"].as_str()), (Some("CONFIRMED"), Some("WAITLISTED")));
    let other_reg = registered(&app, &third.token, &other).await;

    // The seated holder sees a short-lived code; the waitlisted person none.
    let before = Utc::now();
    let (code, expires) = my_code(&app, &seated.token, &training).await.expect("a code for a seat");
    assert!(
        expires > before + Duration::seconds(290) && expires <= Utc::now() + Duration::seconds(301),
        "{expires}"
    );
    assert_eq!(code.len(), 55);
    assert_eq!(my_code(&app, &waiting.token, &training).await, None);
    let list = app.gql(MY_REGISTRATIONS, json!({}), Some(&seated.token)).await.ok();
    let listed = &list["myTrainingRegistrations"][0];
    assert_eq!((listed["id"].clone(), listed["status"].clone()), (mine["id"].clone(), json!("CONFIRMED")));
    assert!(listed["checkInCode"]["code"].is_string());
    let list = app.gql(MY_REGISTRATIONS, json!({}), Some(&waiting.token)).await.ok();
    assert!(list["myTrainingRegistrations"][0]["checkInCode"].is_null());

    // Nobody else sees it: not the officer on the roster, nor through the registration's node.
    let list = roster(&app, &officer, &training).await;
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|r| r["checkInCode"].is_null()), "{list:?}");
    let node = app.gql(REGISTRATION_NODE, json!({ "id": mine["id"] }), Some(&officer)).await.ok();
    assert_eq!(node["node"]["status"], "CONFIRMED");
    assert!(node["node"]["checkInCode"].is_null());

    // Members cannot check anybody in, not even themselves with their own code.
    for who in [&seated.token, &waiting.token] {
        let g = check_in(&app, who, &training, &code).await;
        assert!(matches!(g.code(), Some("FORBIDDEN" | "NOT_FOUND")), "{}", g.body);
        let g = app.gql(CHECK_IN_MANUALLY, json!({ "r": mine["id"] }), Some(who)).await;
        assert!(matches!(g.code(), Some("FORBIDDEN" | "NOT_FOUND")), "{}", g.body);
    }
    let outsider = app.token(MEMBER).await;
    let g = check_in(&app, &outsider, &training, &code).await;
    assert!(matches!(g.code(), Some("FORBIDDEN" | "NOT_FOUND")), "{}", g.body);
    // Nor can they use the mutation to learn whether a code is genuine or still valid: the
    // answer is the same whatever the code.
    let (stale, _) =
        app.state.tokens.issue_check_in(uuid_of(&s(&mine["id"])), Utc::now() - Duration::hours(1));
    for who in [&seated.token, &outsider] {
        for c in [code.as_str(), "not-a-check-in-code", &stale, &tampered(&code, 40, |b| b ^ 1)] {
            let g = check_in(&app, who, &training, c).await;
            assert!(matches!(g.code(), Some("FORBIDDEN" | "NOT_FOUND")), "{}", g.body);
        }
    }
    check_in(&app, &app.token(BD1_LEADER).await, &training, &code).await.expect_code("NOT_FOUND");

    // Forgeries: a flipped MAC byte, another registration's id, a later expiry, another
    // version, a code MACed with another secret, a truncated code, garbage.
    let reg_uuid = uuid_of(&s(&mine["id"]));
    let mut vars = app.vars.clone();
    assert_eq!(vars["APP_JWT_SECRET"], TEST_JWT_SECRET);
    vars.insert("APP_JWT_SECRET".into(), "another-secret-0123456789abcdef0123456789abcdef".into());
    let foreign = service::auth::TokenKeys::new(&service::config::Settings::from_vars(&vars).unwrap());
    let forged = [
        tampered(&code, 40, |b| b ^ 0x01),
        tampered(&code, 25, |b| b ^ 0x80),
        tampered(&code, 16, |b| b ^ 0x01),
        tampered(&code, 24, |b| b.wrapping_add(60)),
        tampered(&code, 0, |_| 2),
        foreign.issue_check_in(reg_uuid, Utc::now()).0,
        code[..54].to_owned(),
        format!("{code}A"),
        "not-a-check-in-code".to_owned(),
        "=".repeat(55),
        String::new(),
    ];
    for f in &forged {
        expect_token_problem(check_in(&app, &officer, &training, f).await, "INVALID_FORMAT");
    }
    check_in(&app, &officer, &training, &"A".repeat(201)).await.expect_code("BAD_USER_INPUT");

    // A genuine code past its expiry: one made with the server's key derivation (from the
    // configured secret) for a moment an hour ago.
    let mut vars = app.vars.clone();
    vars.insert("APP_JWT_SECRET".into(), TEST_JWT_SECRET.into());
    let ours = service::auth::TokenKeys::new(&service::config::Settings::from_vars(&vars).unwrap());
    let (expired, at) = ours.issue_check_in(reg_uuid, Utc::now() - Duration::hours(1));
    assert!(at < Utc::now());
    expect_token_problem(check_in(&app, &officer, &training, &expired).await, "EXPIRED");
    // The same key, a fresh expiry: the derivation is the server's (this one would work).
    let (fresh, _) = ours.issue_check_in(uuid_of(&s(&other_reg["id"])), Utc::now());
    // A genuine code of this training, scanned at another one.
    expect_token_problem(check_in(&app, &officer, &other, &code).await, "OTHER_TRAINING");
    expect_token_problem(check_in(&app, &officer, &training, &fresh).await, "OTHER_TRAINING");

    // Without a seat there is nothing to check in.
    check_in_manually_expect(&app, &officer, &queued["id"]).await.expect_reason("CONFLICT", "NOT_CONFIRMED");
    let (queued_code, _) = app.state.tokens.issue_check_in(uuid_of(&s(&queued["id"])), Utc::now());
    check_in(&app, &officer, &training, &queued_code).await.expect_reason("CONFLICT", "NOT_CONFIRMED");

    // Nothing of the above changed anything.
    let stored = rows(&app, &training).await;
    assert!(stored.iter().all(|r| r.attended_at.is_none() && r.check_in_method.is_none()), "{stored:?}");
    assert_eq!(counts(&app, &officer, &training).await, (json!(1), 1, 1, json!(0)));

    // The officer scans the genuine code: attended, by token.
    let done = check_in(&app, &officer, &training, &code).await.ok()["checkIn"].clone();
    assert_eq!(done["alreadyCheckedIn"], false);
    let r = &done["registration"];
    assert_eq!(
        (r["id"].clone(), r["status"].clone(), r["checkInMethod"].clone()),
        (mine["id"].clone(), json!("ATTENDED"), json!("TOKEN"))
    );
    let attended_at = s(&r["attendedAt"]);
    let row_before = rows(&app, &training).await.into_iter().find(|r| r.id == reg_uuid).unwrap();
    assert_eq!(row_before.checked_in_by, Some(id_of::<PersonId>(&app.person_id(LB_OFFICER).await)));

    // A second scan says so and changes nothing.
    let again = check_in(&app, &officer, &training, &code).await.ok()["checkIn"].clone();
    assert_eq!(again["alreadyCheckedIn"], true);
    assert_eq!(again["registration"]["attendedAt"], json!(attended_at));
    assert_eq!(again["registration"]["checkInMethod"], "TOKEN");
    let row_after = rows(&app, &training).await.into_iter().find(|r| r.id == reg_uuid).unwrap();
    assert_eq!(row_after, row_before);
    // Checked in: no code any more; the seat stays taken.
    assert_eq!(my_code(&app, &seated.token, &training).await, None);
    assert_eq!(counts(&app, &officer, &training).await, (json!(1), 1, 1, json!(0)));

    // By hand, for a manager: attended, manually; a second time says already checked in.
    let manual =
        check_in_manually_expect(&app, &officer, &other_reg["id"]).await.ok()["checkInManually"].clone();
    assert_eq!(manual["alreadyCheckedIn"], false);
    assert_eq!(
        (manual["registration"]["status"].clone(), manual["registration"]["checkInMethod"].clone()),
        (json!("ATTENDED"), json!("MANUAL"))
    );
    let twice =
        check_in_manually_expect(&app, &officer, &other_reg["id"]).await.ok()["checkInManually"].clone();
    assert_eq!(twice["alreadyCheckedIn"], true);
    assert_eq!(twice["registration"]["attendedAt"], manual["registration"]["attendedAt"]);

    // No code ever reaches the logs.
    let logs = captured_logs();
    for c in [&code, &expired, &fresh, &queued_code] {
        assert!(!logs.contains(c.as_str()), "a check-in code was logged");
    }
    for f in &forged[..6] {
        assert!(!logs.contains(f.as_str()), "a submitted code was logged");
    }
}

async fn check_in_manually_expect(app: &TestApp, token: &str, registration: &Value) -> Gql {
    app.gql(CHECK_IN_MANUALLY, json!({ "r": registration }), Some(token)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_code_expires_after_the_configured_lifetime_and_dies_with_the_seat() {
    let app = spawn_app_with(&[("APP_CHECK_IN_TOKEN_TTL_SECS", "1")]).await;
    a_week_on(&app);
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB", course("ENTREPRENEURSHIP", Some(1))).await;
    let people = members(&app, &officer, "HN-LB-BD-01", 6, 2).await;
    let (first, second) = (&people[0], &people[1]);
    let first_reg = uuid_of(&s(&registered(&app, &first.token, &training).await["id"]));
    let second_reg = uuid_of(&s(&registered(&app, &second.token, &training).await["id"]));

    let before = Utc::now();
    let (code, expires) = my_code(&app, &first.token, &training).await.expect("code");
    assert!(expires <= Utc::now() + Duration::seconds(2) && expires >= before, "{expires}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    expect_token_problem(check_in(&app, &officer, &training, &code).await, "EXPIRED");

    // An unexpired code is worth nothing once she gives up her seat. (Codes issued with the
    // server's keys for a later moment, so this part does not race the one-second lifetime.)
    assert!(my_code(&app, &first.token, &training).await.is_some());
    let later = Utc::now() + Duration::hours(1);
    let (fresh, _) = app.state.tokens.issue_check_in(first_reg, later);
    app.gql(CANCEL, json!({ "t": training }), Some(&first.token)).await.ok();
    check_in(&app, &officer, &training, &fresh).await.expect_reason("CONFLICT", "NOT_CONFIRMED");
    assert_eq!(my_code(&app, &first.token, &training).await, None);

    // The promoted person now has a code; once the training is cancelled, nobody has one.
    assert!(my_code(&app, &second.token, &training).await.is_some(), "promoted, so a code");
    let promoted = app.state.tokens.issue_check_in(second_reg, later);
    app.gql(
        "mutation($id: ID!) { cancelTraining(id: $id, reason: \"Giảng viên bị ốm\") { status } }",
        json!({ "id": training }),
        Some(&officer),
    )
    .await
    .ok();
    assert_eq!(my_code(&app, &second.token, &training).await, None);
    let list = app.gql(MY_REGISTRATIONS, json!({}), Some(&second.token)).await.ok();
    assert!(list["myTrainingRegistrations"][0]["checkInCode"].is_null());
    check_in(&app, &officer, &training, &promoted.0).await.expect_reason("CONFLICT", "WRONG_STATUS");
    assert!(!captured_logs().contains(&code) && !captured_logs().contains(&promoted.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_simultaneous_scans_of_one_code_record_one_attendance() {
    let app = spawn().await;
    a_week_on(&app);
    let officer = app.token(LB_OFFICER).await;
    let leader = app.token(BD1_LEADER).await;
    // A branch training: its leader manages it too.
    let training = published_training(&app, &leader, "HN-LB-BD-01", course("UNION_WORK", Some(5))).await;
    let people = members(&app, &officer, "HN-LB-BD-01", 7, 1).await;
    let mine = registered(&app, &people[0].token, &training).await;
    let (code, _) = my_code(&app, &people[0].token, &training).await.expect("code");

    let scans: Vec<Value> = join_all((0..10).map(|i| {
        let scanner = if i % 2 == 0 { &officer } else { &leader };
        check_in(&app, scanner, &training, &code)
    }))
    .await
    .into_iter()
    .map(|g| g.ok()["checkIn"].clone())
    .collect();
    let first: Vec<&Value> = scans.iter().filter(|s| s["alreadyCheckedIn"] == false).collect();
    assert_eq!(first.len(), 1, "{scans:?}");
    let at = &first[0]["registration"]["attendedAt"];
    assert!(
        scans.iter().all(|s| s["registration"]["attendedAt"] == *at && s["registration"]["id"] == mine["id"])
    );
    let stored = rows(&app, &training).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].status.as_str(), stored[0].check_in_method.map(|m| m.as_str())),
        ("ATTENDED", Some("TOKEN"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scan_and_a_cancellation_at_the_same_moment_have_one_winner() {
    let app = spawn().await;
    a_week_on(&app);
    let officer = app.token(LB_OFFICER).await;
    let training = published_training(&app, &officer, "HN-LB", course("VOCATIONAL", Some(10))).await;
    let people = members(&app, &officer, "HN-LB-BD-01", 8, 15).await;
    for p in &people {
        registered(&app, &p.token, &training).await;
    }
    let (seated, waiting) = people.split_at(10);
    let mut codes = Vec::new();
    for p in seated {
        codes.push(my_code(&app, &p.token, &training).await.expect("a seat, so a code").0);
    }

    // Each seated person cancels while the officer scans her code.
    // Her cancellation leaves 0–135 ms after the scan, so that either may win.
    let outcomes = join_all(seated.iter().zip(&codes).enumerate().map(|(i, (p, code))| {
        let (app, officer, training) = (&app, &officer, &training);
        async move {
            let late = std::time::Duration::from_millis(15 * i as u64);
            let (cancel, scan) = futures_util::join!(
                async {
                    tokio::time::sleep(late).await;
                    app.gql(CANCEL, json!({ "t": training }), Some(&p.token)).await
                },
                check_in(app, officer, training, code)
            );
            match (cancel.has_errors(), scan.has_errors()) {
                (false, true) => {
                    scan.expect_reason("CONFLICT", "NOT_CONFIRMED");
                    false
                }
                (true, false) => {
                    cancel.expect_reason("CONFLICT", "WRONG_STATUS");
                    assert_eq!(scan.ok()["checkIn"]["alreadyCheckedIn"], false);
                    true
                }
                _ => panic!("both or neither won: {} / {}", cancel.body, scan.body),
            }
        }
    }))
    .await;
    let attended = outcomes.iter().filter(|&&a| a).count();
    let left = 10 - attended;
    let promoted = left.min(5);
    eprintln!("[{}] {attended} checked in, {left} cancelled first", backend());

    let stored = rows(&app, &training).await;
    let count = |status: &str| stored.iter().filter(|r| r.status.as_str() == status).count();
    assert_eq!(
        (count("ATTENDED"), count("CANCELLED"), count("CONFIRMED"), count("WAITLISTED")),
        (attended, left, promoted, 5 - promoted)
    );
    // An attended registration keeps its seat; the freed ones went to the first in line.
    let (_, confirmed, waitlisted, _) = counts(&app, &officer, &training).await;
    assert_eq!((confirmed, waitlisted), ((attended + promoted) as i64, (5 - promoted) as i64));
    let first_in_line: HashSet<PersonId> = waiting[..promoted].iter().map(|p| p.id).collect();
    assert_eq!(seat_notifications(&app).await.keys().copied().collect::<HashSet<_>>(), first_in_line);
}

// ---- statistics ----

fn hanoi_today() -> chrono::NaiveDate {
    (Utc::now() + Duration::hours(7)).date_naive()
}

async fn stats(
    app: &TestApp,
    token: &str,
    unit: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Gql {
    app.gql(
        STATS,
        json!({ "u": app.unit_id(unit).await, "f": from.to_string(), "t": to.to_string() }),
        Some(token),
    )
    .await
}

fn child<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["children"].as_array().unwrap().iter().find(|c| c["unit"]["code"] == code).unwrap()
}

fn category<'a>(report: &'a Value, cat: &str) -> &'a Value {
    &report["byCategory"].as_array().unwrap().iter().find(|c| c["category"] == cat).unwrap()["figures"]
}

/// (trainings, registrations, attendances, peopleTrained) of a figures object.
fn four(f: &Value) -> (i64, i64, i64, i64) {
    let n = |k: &str| f[k].as_i64().unwrap_or_else(|| panic!("{k} in {f}"));
    (n("trainings"), n("registrations"), n("attendances"), n("peopleTrained"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_attendance_of_held_trainings_by_unit_child_category_and_gender() {
    let app = spawn().await;
    a_week_on(&app);
    let officer = app.token(LB_OFFICER).await;
    let sysadmin = app.token(SYSADMIN).await;
    let city_admin = app.token(CITY_ADMIN).await;

    // People: three women of a Bồ Đề branch, two women and a man of a Gia Thụy branch, a woman
    // of Hàng Bạc (Hoàn Kiếm), and an officer of Long Biên without a gender on her profile.
    let bd = members(&app, &sysadmin, "HN-LB-BD-01", 8, 3).await;
    let gt = members(&app, &sysadmin, "HN-LB-GT-01", 9, 3).await;
    let hk = members(&app, &sysadmin, "HN-HK-HB-01", 1, 1).await;
    let man = &gt[2];
    entities::person::Entity::update_many()
        .col_expr(entities::person::Column::Gender, Expr::value("MALE"))
        .filter(entities::person::Column::Id.eq(man.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    let (unknown, _, _) = app.register("0917555001", "Đỗ Thị Chưa Rõ", "sen-hong-2026").await;
    app.gql(
        "mutation($i: AssignOfficerRoleInput!) { assignOfficerRole(input: $i) { id } }",
        json!({ "i": { "phone": "0917555001", "unitId": app.unit_id("HN-LB").await, "role": "CASE_OFFICER" } }),
        Some(&city_admin),
    )
    .await
    .ok();
    let gender: Option<&str> = entities::person::Entity::find()
        .filter(entities::person::Column::Phone.eq("+84917555001"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .gender
        .map(|g| g.as_str());
    assert_eq!(gender, None, "an account made by registering has no gender");

    // T1, Bồ Đề, vocational: 4 register, 1 cancels; 2 attend (a woman, the unknown).
    let t1 = published_training(&app, &officer, "HN-LB-BD", course("VOCATIONAL", None)).await;
    let a1 = registered(&app, &bd[0].token, &t1).await;
    registered(&app, &bd[1].token, &t1).await;
    registered(&app, &bd[2].token, &t1).await;
    app.gql(CANCEL, json!({ "t": t1 }), Some(&bd[2].token)).await.ok();
    let u1 = registered(&app, &unknown, &t1).await;
    // T2, Gia Thụy, digital skills: 4 register; 3 attend (a woman, the man, the unknown again).
    let t2 = published_training(&app, &officer, "HN-LB-GT", course("DIGITAL_SKILLS", None)).await;
    let g1 = registered(&app, &gt[0].token, &t2).await;
    registered(&app, &gt[1].token, &t2).await;
    let m2 = registered(&app, &man.token, &t2).await;
    let u2 = registered(&app, &unknown, &t2).await;
    for r in [&a1, &u1, &g1, &m2, &u2] {
        check_in_manually_expect(&app, &officer, &r["id"]).await.ok();
    }
    // T3, Bồ Đề, legal: one attendance, then the training is cancelled — not held.
    let t3 = published_training(&app, &officer, "HN-LB-BD", course("LEGAL", None)).await;
    let a3 = registered(&app, &bd[1].token, &t3).await;
    check_in_manually_expect(&app, &officer, &a3["id"]).await.ok();
    app.gql(
        "mutation($id: ID!) { cancelTraining(id: $id, reason: \"Trùng lịch họp\") { status } }",
        json!({ "id": t3 }),
        Some(&officer),
    )
    .await
    .ok();
    // T4, a draft of the district: not held.
    draft(&app, &officer, "HN-LB", "HEALTH", Some(10)).await;
    // T6, Ngọc Lâm, other: started two hours ago; one attends, one does not, then it is
    // completed (held: counted, the no-show as a registration).
    let nl = members(&app, &sysadmin, "HN-LB-NL-01", 7, 2).await;
    let mut input = training_input("Lớp đang diễn ra", "OTHER", None, Duration::hours(-2));
    input["endsAt"] = json!((Utc::now() + Duration::hours(2)).to_rfc3339());
    input["registrationClosesAt"] = input["endsAt"].clone();
    let created =
        app.gql(CREATE, json!({ "u": app.unit_id("HN-LB-NL").await, "i": input }), Some(&officer)).await;
    let t6 = s(&created.ok()["createTraining"]["id"]);
    app.gql(PUBLISH, json!({ "id": t6 }), Some(&officer)).await.ok();
    let n1 = registered(&app, &nl[0].token, &t6).await;
    registered(&app, &nl[1].token, &t6).await;
    check_in_manually_expect(&app, &officer, &n1["id"]).await.ok();
    let done = app
        .gql(
            "mutation($id: ID!) { completeTraining(id: $id) { status } }",
            json!({ "id": t6 }),
            Some(&officer),
        )
        .await
        .ok();
    assert_eq!(done["completeTraining"]["status"], "COMPLETED");
    assert_eq!(
        rows(&app, &t6).await.iter().map(|r| r.status.as_str()).collect::<HashSet<_>>(),
        HashSet::from(["ATTENDED", "NO_SHOW"])
    );
    // T5, Hàng Bạc (another district), health: one attendance.
    let t5 = published_training(&app, &sysadmin, "HN-HK-HB", course("HEALTH", None)).await;
    let h1 = registered(&app, &hk[0].token, &t5).await;
    check_in_manually_expect(&app, &sysadmin, &h1["id"]).await.ok();

    // From yesterday (T6 started two hours ago, possibly before a Hanoi midnight) to two weeks on.
    let (from, to) = (hanoi_today() - Duration::days(1), hanoi_today() + Duration::days(14));

    // Long Biên: T1, T2 and T6; the unknown person counts once although she attended twice.
    let data = stats(&app, &officer, "HN-LB", from, to).await.ok();
    let report = &data["trainingStatistics"];
    let total = &report["total"];
    assert_eq!(total["unit"]["code"], "HN-LB");
    assert_eq!(four(total), (3, 9, 6, 5), "{total}");
    assert_eq!(
        (total["women"].clone(), total["men"].clone(), total["genderUnknown"].clone()),
        (json!(3), json!(1), json!(1))
    );
    assert!((total["womenShare"].as_f64().unwrap() - 0.75).abs() < 1e-9, "{total}");
    let codes: Vec<&str> =
        report["children"].as_array().unwrap().iter().map(|c| c["unit"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 5, "{codes:?}");
    assert_eq!(four(child(report, "HN-LB-BD")), (1, 3, 2, 2));
    assert_eq!(four(child(report, "HN-LB-GT")), (1, 4, 3, 3));
    assert_eq!(four(child(report, "HN-LB-NL")), (1, 2, 1, 1));
    for quiet in ["HN-LB-DG", "HN-LB-PD"] {
        assert_eq!(four(child(report, quiet)), (0, 0, 0, 0), "{quiet}");
    }
    assert_eq!(report["byCategory"].as_array().unwrap().len(), 7);
    assert_eq!(four(category(report, "VOCATIONAL")), (1, 3, 2, 2));
    assert_eq!(four(category(report, "DIGITAL_SKILLS")), (1, 4, 3, 3));
    assert_eq!(four(category(report, "OTHER")), (1, 2, 1, 1));
    for quiet in ["LEGAL", "HEALTH", "ENTREPRENEURSHIP", "UNION_WORK"] {
        assert_eq!(four(category(report, quiet)), (0, 0, 0, 0), "{quiet}");
    }

    // The city: T5 as well.
    let data = stats(&app, &city_admin, "HN", from, to).await.ok();
    let report = &data["trainingStatistics"];
    let total = &report["total"];
    assert_eq!(four(total), (4, 10, 7, 6), "{total}");
    assert_eq!(
        (total["women"].clone(), total["men"].clone(), total["genderUnknown"].clone()),
        (json!(4), json!(1), json!(1))
    );
    assert!((total["womenShare"].as_f64().unwrap() - 0.8).abs() < 1e-9, "{total}");
    assert_eq!(four(child(report, "HN-LB")), (3, 9, 6, 5));
    assert_eq!(four(child(report, "HN-HK")), (1, 1, 1, 1));
    assert_eq!(four(child(report, "HN-BD")), (0, 0, 0, 0));
    assert_eq!(four(category(report, "HEALTH")), (1, 1, 1, 1));

    // A ward: only its own training; a branch below it: none organised there.
    let data = stats(&app, &officer, "HN-LB-GT", from, to).await.ok();
    let total = &data["trainingStatistics"]["total"];
    assert_eq!(four(total), (1, 4, 3, 3));
    assert_eq!(
        (total["women"].clone(), total["men"].clone(), total["genderUnknown"].clone()),
        (json!(1), json!(1), json!(1))
    );
    assert!((total["womenShare"].as_f64().unwrap() - 0.5).abs() < 1e-9);

    // A period without trainings: zeros, and no share.
    let data =
        stats(&app, &officer, "HN-LB", from + Duration::days(30), from + Duration::days(60)).await.ok();
    let total = &data["trainingStatistics"]["total"];
    assert_eq!(four(total), (0, 0, 0, 0));
    assert_eq!((total["women"].clone(), total["genderUnknown"].clone()), (json!(0), json!(0)));
    assert!(total["womenShare"].is_null(), "{total}");
    let data = stats(&app, &officer, "HN-LB", from - Duration::days(30), from - Duration::days(2)).await.ok();
    assert_eq!(four(&data["trainingStatistics"]["total"]), (0, 0, 0, 0));
    // The exact day of the trainings is enough.
    let day = (Utc::now() + Duration::days(7) + Duration::hours(7)).date_naive();
    let data = stats(&app, &officer, "HN-LB", day, day).await.ok();
    assert_eq!(four(&data["trainingStatistics"]["total"]), (2, 7, 5, 4));

    // Out of reach: an officer of another district, a member; a reversed period.
    app.register("0917555002", "Vũ Thị Hoàn Kiếm", "sen-hong-2026").await;
    app.gql(
        "mutation($i: AssignOfficerRoleInput!) { assignOfficerRole(input: $i) { id } }",
        json!({ "i": { "phone": "0917555002", "unitId": app.unit_id("HN-HK").await, "role": "UNIT_OFFICER" } }),
        Some(&city_admin),
    )
    .await
    .ok();
    let hk_officer = app.login("0917555002", "sen-hong-2026").await.0;
    stats(&app, &hk_officer, "HN-LB", from, to).await.expect_code("NOT_FOUND");
    assert_eq!(
        four(&stats(&app, &hk_officer, "HN-HK", from, to).await.ok()["trainingStatistics"]["total"]),
        (1, 1, 1, 1)
    );
    let g = stats(&app, &bd[0].token, "HN-LB-BD", from, to).await;
    assert!(matches!(g.code(), Some("NOT_FOUND" | "FORBIDDEN")), "{}", g.body);
    let g = stats(&app, &officer, "HN-LB", to, from).await.expect_code("BAD_USER_INPUT");
    assert_eq!(g.field(), Some("to"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_another_gender_as_known_not_unknown() {
    let app = spawn_app().await;
    a_week_on(&app);
    let officer = app.token(LB_OFFICER).await;
    let people = members(&app, &officer, "HN-LB-PD-01", 3, 3).await;
    for (p, gender) in people.iter().zip([Some("FEMALE"), Some("OTHER"), None]) {
        entities::person::Entity::update_many()
            .col_expr(entities::person::Column::Gender, Expr::value(gender))
            .filter(entities::person::Column::Id.eq(p.id))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let training = published_training(&app, &officer, "HN-LB-PD", course("LEGAL", None)).await;
    for p in &people {
        let r = registered(&app, &p.token, &training).await;
        check_in_manually_expect(&app, &officer, &r["id"]).await.ok();
    }
    let data =
        stats(&app, &officer, "HN-LB-PD", hanoi_today(), hanoi_today() + Duration::days(14)).await.ok();
    let total = &data["trainingStatistics"]["total"];
    assert_eq!(four(total), (1, 3, 3, 3));
    // The profile of the second gives a gender, neither FEMALE nor MALE: known, not unknown.
    assert_eq!(
        (total["women"].clone(), total["men"].clone(), total["genderUnknown"].clone()),
        (json!(1), json!(0), json!(1)),
        "{total}"
    );
    assert!((total["womenShare"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_periods_are_hanoi_days() {
    let app = spawn_app().await;
    let officer = app.token(LB_OFFICER).await;
    // Day D in Hanoi (UTC+7) runs from D-1 17:00 UTC to D 17:00 UTC.
    let d = Utc::now().date_naive() + Duration::days(20);
    let at = |h: u32, m: u32| d.and_hms_opt(h, m, 0).unwrap().and_utc();
    for (start, category) in
        [(at(16, 59), "LEGAL"), (at(17, 0), "HEALTH"), (at(0, 0) - Duration::hours(7), "LEGAL")]
    {
        let mut input = training_input("Lớp theo giờ Hà Nội", category, None, Duration::days(1));
        input["startsAt"] = json!(start.to_rfc3339());
        input["endsAt"] = json!((start + Duration::hours(1)).to_rfc3339());
        let created =
            app.gql(CREATE, json!({ "u": app.unit_id("HN-LB-DG").await, "i": input }), Some(&officer)).await;
        let id = s(&created.ok()["createTraining"]["id"]);
        app.gql(PUBLISH, json!({ "id": id }), Some(&officer)).await.ok();
    }
    let count = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let (app, officer) = (&app, &officer);
        async move {
            let data = stats(app, officer, "HN-LB", from, to).await.ok();
            let r = &data["trainingStatistics"];
            (
                r["total"]["trainings"].as_i64().unwrap(),
                category(r, "LEGAL")["trainings"].as_i64().unwrap(),
                category(r, "HEALTH")["trainings"].as_i64().unwrap(),
            )
        }
    };
    let day = Duration::days(1);
    // 16:59 UTC on D and 17:00 UTC on D-1 are both on Hanoi day D; 17:00 UTC on D is D+1.
    assert_eq!(count(d, d).await, (2, 2, 0));
    assert_eq!(count(d + day, d + day).await, (1, 0, 1));
    assert_eq!(count(d - day, d - day).await, (0, 0, 0));
    assert_eq!(count(d - day, d + day).await, (3, 2, 1));
}
