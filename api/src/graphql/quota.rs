//! Every HTTP request pays for what it asks in cost points (see `cost`) from a token bucket
//! shared by all instances (Redis; in process without it): an integration client's (its own
//! size, or `APP_CLIENT_BUCKET_*`), a signed-in person's (`APP_PERSON_BUCKET_*`, larger), or
//! one per client address for requests without credentials (`APP_ANONYMOUS_BUCKET_*`).
//!
//! Before a query runs, its requested cost is taken from the bucket; a bucket without that
//! many points answers `RATE_LIMITED` with `retryAfter` (HTTP 429) and nothing runs. After it
//! ran, what it did not use goes back (requested − actual): on Redis with the instance's next
//! call on that bucket, or within a second for all buckets at once, so a request pays one round
//! trip for its cost, not two. A refund is given at most once: one caught in a Redis failure is
//! dropped (the caller loses those points, never the service). Every response says so in
//! `extensions.cost` — `requestedQueryCost`, `actualQueryCost`, `throttleStatus
//! {maximumAvailable, currentlyAvailable, restoreRate}` — and in the `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset` headers. When the bucket cannot be reached (a
//! Redis outage) the request runs unmetered: metering is not worth an outage of the API; with
//! `APP_QUOTA_BUCKETS=false` every request does (the per-query maximum still holds).
//! Subscriptions (over the WebSocket) are not metered.

use std::sync::Mutex;

use async_graphql::{ErrorExtensionValues, ServerError, Value};
use service::{
    auth::Auth,
    config::Bucket,
    error::{ApiError, Lang},
    state::AppState,
};

use super::{cost, errors::write_extensions};

/// Request data of an HTTP request: what it was charged, for the response (see the module
/// docs). Absent on the WebSocket.
#[derive(Default)]
pub struct CostCell(Mutex<Option<Charge>>);

/// What a request was charged.
#[derive(Clone, Debug)]
pub struct Charge {
    pub requested: u64,
    pub aggregates: u64,
    /// The bucket and what was left in it (none when it could not be reached).
    pub bucket: Option<(String, Bucket, f64)>,
}

/// The cost of a response: the extension and the headers.
pub struct Settled {
    pub extension: Value,
    /// The actual cost.
    pub actual: u64,
    pub headers: Option<[(&'static str, String); 3]>,
}

/// The bucket of the caller: its key and size.
fn bucket_of(state: &AppState, auth: &Auth, addr: &str) -> (String, Bucket) {
    let quota = &state.settings.quota;
    match auth {
        Auth::Client(c) => (format!("bucket:c:{}", c.client_id), c.bucket.unwrap_or(quota.client)),
        Auth::Signed(v) | Auth::Pending(v) => (format!("bucket:p:{}", v.person_id), quota.person),
        Auth::Anonymous | Auth::Rejected => (format!("bucket:a:{addr}"), quota.anonymous),
    }
}

/// What metering reads of an HTTP request.
pub struct Metered<'a> {
    pub state: &'a AppState,
    pub cell: &'a CostCell,
    pub auth: &'a Auth,
    pub meta: &'a service::RequestMeta,
}

/// Refuses a document whose `estimate` is over the per-query maximum, and takes its cost from the
/// caller's bucket (`RATE_LIMITED` when it lacks the points).
pub async fn charge(call: Metered<'_>, estimate: cost::Estimate, lang: Lang) -> Result<(), ServerError> {
    let Metered { state, cell, auth, meta } = call;
    let max = u64::from(state.settings.quota.max_query_cost);
    if estimate.points > max {
        let mut err = ServerError::new(
            match lang {
                Lang::Vi => format!("Truy vấn quá tốn kém ({} điểm, tối đa {max}).", estimate.points),
                Lang::En => format!("The query costs too much ({} points, at most {max}).", estimate.points),
            },
            None,
        );
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", super::errors::CODE_VALIDATION_FAILED);
        ext.set("reason", "MAX_COST_EXCEEDED");
        ext.set("cost", cost_value(estimate.points, None, None));
        ext.set("maximumQueryCost", max);
        err.extensions = Some(ext);
        return Err(err);
    }
    let (key, size) = bucket_of(state, auth, &meta.client_addr);
    let taken = if state.settings.quota.buckets {
        Some(state.cache.take_points(&key, size.capacity, size.per_sec, estimate.points as f64).await)
    } else {
        None
    };
    let bucket = match taken {
        None => None,
        Some(taken) => match taken {
            Ok((true, left)) => Some((key, size, left)),
            Ok((false, left)) => {
                let missing = estimate.points as f64 - left;
                let retry_after_secs = (missing / f64::from(size.per_sec.max(1))).ceil().max(1.0) as u64;
                let charge =
                    Charge { requested: estimate.points, aggregates: 0, bucket: Some((key, size, left)) };
                *cell.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(charge);
                let api = ApiError::RateLimited { retry_after_secs };
                let mut err = ServerError::new(api.message(lang), None);
                let mut ext = ErrorExtensionValues::default();
                write_extensions(&api, None, &mut ext);
                ext.set("cost", cost_value(estimate.points, None, Some((size, left))));
                err.extensions = Some(ext);
                return Err(err);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cost bucket unreachable; the request runs unmetered");
                None
            }
        },
    };
    *cell.0.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(Charge { requested: estimate.points, aggregates: estimate.aggregates, bucket });
    Ok(())
}

/// After the request ran: gives back what it did not use and says what it cost.
pub fn settle(state: &AppState, cell: &CostCell, data: &Value, ran: bool) -> Option<Settled> {
    let charge = cell.0.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    // A request refused before it ran used nothing (and was charged nothing, when refused for
    // want of points).
    let actual = if ran { cost::returned(data, charge.aggregates).min(charge.requested) } else { 0 };
    let mut bucket = charge.bucket.clone();
    if let Some((key, size, left)) = &mut bucket
        && ran
    {
        let refund = charge.requested - actual;
        if refund > 0 {
            // Given back without a round trip of its own (see `Cache::give_back_later`); what
            // the bucket holds then is known here.
            state.cache.give_back_later(key, size.capacity, size.per_sec, refund as f64);
            *left = (*left + refund as f64).min(f64::from(size.capacity));
        }
    }
    let status = bucket.as_ref().map(|(_, size, left)| (*size, *left));
    let headers = status.map(|(size, left)| {
        let reset = ((f64::from(size.capacity) - left) / f64::from(size.per_sec.max(1))).ceil().max(0.0);
        [
            ("ratelimit-limit", size.capacity.to_string()),
            ("ratelimit-remaining", (left.floor().max(0.0) as u64).to_string()),
            ("ratelimit-reset", (reset as u64).to_string()),
        ]
    });
    Some(Settled { extension: cost_value(charge.requested, Some(actual), status), actual, headers })
}

/// `extensions.cost`.
fn cost_value(requested: u64, actual: Option<u64>, status: Option<(Bucket, f64)>) -> Value {
    let mut cost = async_graphql::indexmap::IndexMap::new();
    cost.insert(async_graphql::Name::new("requestedQueryCost"), Value::from(requested));
    if let Some(actual) = actual {
        cost.insert(async_graphql::Name::new("actualQueryCost"), Value::from(actual));
    }
    if let Some((size, left)) = status {
        let mut throttle = async_graphql::indexmap::IndexMap::new();
        throttle.insert(async_graphql::Name::new("maximumAvailable"), Value::from(size.capacity));
        throttle.insert(
            async_graphql::Name::new("currentlyAvailable"),
            Value::from(left.floor().max(0.0) as u64),
        );
        throttle.insert(async_graphql::Name::new("restoreRate"), Value::from(size.per_sec));
        cost.insert(async_graphql::Name::new("throttleStatus"), Value::Object(throttle));
    }
    Value::Object(cost)
}
