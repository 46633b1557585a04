//! Short-lived shared state: failure counters for throttling and revoked-session flags.
//!
//! With `REDIS_URL` set the state lives in Redis and is shared by every API instance; without it
//! it lives in this process (the single-instance SQLite set-up). Keys carry the configured
//! prefix, so deployments and test runs sharing one Redis never see each other's keys.
//!
//! Redis is a cache, never the record: every call is bounded by `APP_REDIS_TIMEOUT_MS`, and an
//! error or a timeout answers `UNAVAILABLE` (retryable) to a throttled action — it fails closed,
//! fast, before any password is hashed. Revocation flags can be lost (Redis restarted empty, a
//! flag that could not be written during an outage), so the cache says whether it can be
//! trusted: [`Cache::revocation`] answers [`Revocation::Unknown`] after any error or when the
//! marker written after the last restoration is gone, and the caller then asks the database
//! (see `auth::authenticate`). The revocation guard (`identity::spawn_revocation_guard`)
//! re-flags the recently revoked sessions from the database and only then trusts the cache
//! again; while trusting, it flags every round the sessions any instance revoked since.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use redis::aio::ConnectionManager;

use crate::error::ApiError;

/// A fixed-window counter: how many hits so far and how long until the window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    pub count: u64,
    pub resets_in: Duration,
}

/// Redis or in-process storage (see module docs). Cheap to clone.
#[derive(Clone)]
pub enum Cache {
    Memory(Arc<MemoryStore>),
    Redis(Arc<RedisStore>),
}

/// What the cache knows of a session's revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    NotRevoked,
    /// The cache cannot be trusted to hold every flag (an error, or it lost its data): ask the
    /// database.
    Unknown,
}

/// The Redis side of [`Cache`]: an auto-reconnecting connection, and what every connection of
/// this instance shares ([`RedisShared`]).
pub struct RedisStore {
    conn: ConnectionManager,
    shared: Arc<RedisShared>,
}

/// What the Redis connections of one instance share (each HTTP worker has one of its own, see
/// [`Cache::on_connection`]): the key prefix, the bound on each call, whether the revocation
/// flags can be trusted, and the points owed back to buckets.
struct RedisShared {
    prefix: String,
    timeout: Duration,
    /// Revocation flags are complete (restored since the last error or data loss).
    trusted: AtomicBool,
    /// Bumped by every error, so a restoration that raced with one does not trust the cache.
    epoch: AtomicU64,
    /// Points owed back to buckets (see [`Cache::give_back_later`]): key → (capacity, rate,
    /// points).
    owed: Mutex<HashMap<String, (u32, u32, f64)>>,
}

/// The key written (without expiry) after the revocation flags were restored: when Redis comes
/// back empty it is gone, and "no flag" no longer means "not revoked".
const RESTORED_MARKER: &str = "revocations-restored";

/// Waited before answering again after Redis failed (the `retryAfter` of `UNAVAILABLE`).
const RETRY_AFTER_SECS: u64 = 5;

/// Increments a counter, starting its window on the first hit; returns the count and the
/// remaining time in milliseconds, atomically.
const HIT_SCRIPT: &str = r"
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
";

/// Decrements a counter that exists and is positive, keeping its expiry.
const UNDO_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECRBY', KEYS[1], math.min(n, tonumber(ARGV[1]))) end
return 0
";

/// A token bucket (`quota`): refilled at `ARGV[2]` points a second up to `ARGV[1]`, by Redis's
/// own clock (every instance shares it); takes `ARGV[3]` points when that many are there (a
/// negative amount gives points back, never past the capacity). Answers whether it took them
/// and what is left.
const BUCKET_SCRIPT: &str = r"
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'a', 't')
local avail = tonumber(v[1])
local at = tonumber(v[2])
if avail == nil or at == nil then avail = cap; at = now end
avail = math.min(cap, avail + math.max(0, now - at) * rate / 1000)
local ok = 0
if cost <= avail or cost < 0 then
  avail = math.min(cap, avail - cost)
  ok = 1
end
redis.call('HSET', KEYS[1], 'a', tostring(avail), 't', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - avail) * 1000 / rate) + 1000)
return {ok, tostring(avail)}
";

/// Buckets paid back per pipeline (see [`Cache::settle_owed`]).
const REFUNDS_PER_ROUND_TRIP: usize = 500;
/// Buckets owed points at most at once (see `RedisStore::owe`).
const MAX_OWED: usize = 100_000;

/// The bucket script, hashed once (`EVALSHA` by its hash, loaded when Redis lacks it).
fn bucket_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(BUCKET_SCRIPT))
}

impl Cache {
    pub fn memory() -> Self {
        Cache::Memory(Arc::new(MemoryStore::default()))
    }

    /// State in Redis, through a shared (auto-reconnecting) connection; every call gives up
    /// after `timeout`. Not trusted for revocations until [`Cache::mark_restored`].
    pub fn redis(conn: ConnectionManager, prefix: &str, timeout: Duration) -> Self {
        Cache::Redis(Arc::new(RedisStore {
            conn,
            shared: Arc::new(RedisShared {
                prefix: prefix.to_owned(),
                timeout,
                trusted: AtomicBool::new(false),
                epoch: AtomicU64::new(0),
                owed: Mutex::default(),
            }),
        }))
    }

    /// The same cache through another connection: trust, epoch and owed points stay shared.
    /// An HTTP worker opens one of its own on its own runtime, so that its calls are read by
    /// its thread instead of waking the thread that opened the shared one (in process: `self`).
    pub fn on_connection(&self, conn: ConnectionManager) -> Self {
        match self {
            Cache::Memory(_) => self.clone(),
            Cache::Redis(r) => Cache::Redis(Arc::new(RedisStore { conn, shared: r.shared.clone() })),
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Cache::Redis(_))
    }

    /// Counts one hit on `key` in a window of `window`.
    pub async fn hit(&self, key: &str, window: Duration) -> Result<Counter, ApiError> {
        self.hit_by(key, window, 1).await
    }

    /// Counts `n` hits (at least one) on `key` at once, e.g. the rows of an imported file.
    pub async fn hit_by(&self, key: &str, window: Duration, n: u64) -> Result<Counter, ApiError> {
        let n = n.max(1);
        match self {
            Cache::Memory(store) => Ok(store.hit(key, window, n)),
            Cache::Redis(r) => {
                let script = redis::Script::new(HIT_SCRIPT);
                let mut invocation = script.key(r.key(key));
                invocation.arg(window.as_millis() as u64).arg(n);
                let (count, ttl_ms): (u64, i64) =
                    r.bounded(invocation.invoke_async(&mut r.conn.clone())).await?;
                Ok(Counter { count, resets_in: Duration::from_millis(ttl_ms.max(0) as u64) })
            }
        }
    }

    /// Takes `cost` points from the token bucket `key` (capacity `capacity`, refilled at
    /// `per_sec` points a second), or gives them back when negative; `(taken, left)`.
    pub async fn take_points(
        &self,
        key: &str,
        capacity: u32,
        per_sec: u32,
        cost: f64,
    ) -> Result<(bool, f64), ApiError> {
        let (capacity, per_sec) = (f64::from(capacity), f64::from(per_sec.max(1)));
        match self {
            Cache::Memory(store) => Ok(store.take_points(key, capacity, per_sec, cost)),
            Cache::Redis(r) => {
                // Points this instance owes the bucket go back with this call.
                let owed = r.shared.owed.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
                let net = cost - owed.map_or(0.0, |(_, _, points)| points);
                let mut invocation = bucket_script().key(r.key(key));
                invocation.arg(capacity).arg(per_sec).arg(net);
                let (ok, left) =
                    r.bounded(invocation.invoke_async::<(i64, String)>(&mut r.conn.clone())).await?;
                let (ok, mut left) = (ok == 1, left.parse().unwrap_or(0.0));
                // Refused, the script changed nothing: what was owed stays owed (and is there).
                if !ok && let Some(owed) = owed {
                    r.owe(key, owed);
                    left = (left + owed.2).min(capacity);
                }
                // On an error nothing is owed any more: the call may have reached Redis, and a
                // refund is given at most once.
                Ok((ok, left))
            }
        }
    }

    /// Gives `points` back to the bucket `key` without waiting for it: in process at once; on
    /// Redis with this instance's next call on that bucket, or within a second by
    /// [`Cache::settle_owed`] (one round trip for every bucket owed), so that a request's refund
    /// costs it no round trip of its own.
    pub fn give_back_later(&self, key: &str, capacity: u32, per_sec: u32, points: f64) {
        match self {
            Cache::Memory(store) => {
                store.take_points(key, f64::from(capacity), f64::from(per_sec.max(1)), -points);
            }
            Cache::Redis(r) => r.owe(key, (capacity, per_sec, points)),
        }
    }

    /// Pays back every bucket owed points (see [`Cache::give_back_later`]), in pipelines of
    /// [`REFUNDS_PER_ROUND_TRIP`]. A refund is given at most once: one that fails with its
    /// pipeline is dropped (the caller loses those points; the service never gives twice).
    /// Answers whether anything was owed.
    pub async fn settle_owed(&self) -> Result<bool, ApiError> {
        let Cache::Redis(r) = self else { return Ok(false) };
        let owed: Vec<(String, (u32, u32, f64))> =
            r.shared.owed.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        if owed.is_empty() {
            return Ok(false);
        }
        for chunk in owed.chunks(REFUNDS_PER_ROUND_TRIP) {
            let mut pipe = redis::pipe();
            // Loaded first (a no-op when Redis has it), so a restarted Redis takes the hashes.
            pipe.cmd("SCRIPT").arg("LOAD").arg(BUCKET_SCRIPT).ignore();
            for (key, (capacity, per_sec, points)) in chunk {
                pipe.cmd("EVALSHA")
                    .arg(bucket_script().get_hash())
                    .arg(1)
                    .arg(r.key(key))
                    .arg(f64::from(*capacity))
                    .arg(f64::from((*per_sec).max(1)))
                    .arg(-points)
                    .ignore();
            }
            if let Err(e) = r.bounded(pipe.query_async::<()>(&mut r.conn.clone())).await {
                tracing::warn!(dropped = chunk.len(), "unused cost points could not be given back");
                return Err(e);
            }
        }
        Ok(true)
    }

    /// The current value of a counter, if its window is still open.
    pub async fn peek(&self, key: &str) -> Result<Option<Counter>, ApiError> {
        match self {
            Cache::Memory(store) => Ok(store.peek(key)),
            Cache::Redis(r) => {
                let key = r.key(key);
                let (count, ttl_ms): (Option<u64>, i64) = r
                    .bounded(
                        redis::pipe()
                            .cmd("GET")
                            .arg(&key)
                            .cmd("PTTL")
                            .arg(&key)
                            .query_async(&mut r.conn.clone()),
                    )
                    .await?;
                Ok(count
                    .filter(|_| ttl_ms > 0)
                    .map(|count| Counter { count, resets_in: Duration::from_millis(ttl_ms as u64) }))
            }
        }
    }

    /// Takes back one hit of a counter (never below zero), e.g. when an attempt turned out fine.
    pub async fn undo_hit(&self, key: &str) -> Result<(), ApiError> {
        self.undo_hits(key, 1).await
    }

    /// Spends `n` of a budget of `max` per `window` on `key`, counted before the work it guards;
    /// past the budget the hits are taken back (a refused request uses up nothing) and the answer
    /// is `RATE_LIMITED` with the seconds until the window ends.
    pub async fn spend(&self, key: &str, window: Duration, n: u64, max: u32) -> Result<(), ApiError> {
        let c = self.hit_by(key, window, n).await?;
        if c.count > u64::from(max) {
            self.undo_hits(key, n).await?;
            return Err(ApiError::RateLimited { retry_after_secs: c.resets_in.as_secs().max(1) });
        }
        Ok(())
    }

    /// Takes back `n` hits of [`Cache::hit_by`] (never below zero), keeping the expiry.
    pub async fn undo_hits(&self, key: &str, n: u64) -> Result<(), ApiError> {
        match self {
            Cache::Memory(store) => {
                store.undo(key, n);
                Ok(())
            }
            Cache::Redis(r) => {
                let script = redis::Script::new(UNDO_SCRIPT);
                let mut invocation = script.key(r.key(key));
                invocation.arg(n);
                r.bounded(invocation.invoke_async::<i64>(&mut r.conn.clone())).await.map(|_| ())
            }
        }
    }

    /// Removes a key.
    pub async fn clear(&self, key: &str) -> Result<(), ApiError> {
        match self {
            Cache::Memory(store) => {
                store.remove(key);
                Ok(())
            }
            Cache::Redis(r) => {
                r.bounded(redis::cmd("DEL").arg(r.key(key)).query_async::<()>(&mut r.conn.clone())).await
            }
        }
    }

    /// Sets many flags that disappear after `ttl`, in one round trip.
    pub async fn set_flags(&self, keys: &[String], ttl: Duration) -> Result<(), ApiError> {
        match self {
            Cache::Memory(store) => {
                keys.iter().for_each(|key| store.set(key, 1, ttl));
                Ok(())
            }
            Cache::Redis(r) => {
                if keys.is_empty() {
                    return Ok(());
                }
                let mut pipe = redis::pipe();
                for key in keys {
                    pipe.cmd("SET")
                        .arg(r.key(key))
                        .arg(1)
                        .arg("PX")
                        .arg(ttl.as_millis().max(1) as u64)
                        .ignore();
                }
                r.bounded(pipe.query_async::<()>(&mut r.conn.clone())).await
            }
        }
    }

    /// Whether the revocation flag `key` (set by [`Cache::set_flag`]) is up — or
    /// [`Revocation::Unknown`] when the answer cannot be trusted (see module docs). One round
    /// trip: the flag and the restoration marker are read together.
    pub async fn revocation(&self, key: &str) -> Revocation {
        match self {
            Cache::Memory(store) => {
                if store.peek(key).is_some() {
                    Revocation::Revoked
                } else {
                    Revocation::NotRevoked
                }
            }
            // Distrusted: the database answers (the guard restores the flags meanwhile), and a
            // request does not wait on a Redis that is failing.
            Cache::Redis(r) if !r.shared.trusted.load(Ordering::Acquire) => Revocation::Unknown,
            Cache::Redis(r) => {
                let mut cmd = redis::cmd("MGET");
                cmd.arg(r.key(key)).arg(r.key(RESTORED_MARKER));
                match r.bounded(cmd.query_async::<(Option<u8>, Option<u8>)>(&mut r.conn.clone())).await {
                    Ok((Some(_), _)) => Revocation::Revoked,
                    Ok((None, Some(_))) if r.shared.trusted.load(Ordering::Acquire) => Revocation::NotRevoked,
                    Ok((None, None)) => {
                        // Redis lost its data (restarted empty, flushed): flags may be missing.
                        r.distrust("the revocation marker is gone");
                        Revocation::Unknown
                    }
                    Ok((None, Some(_))) | Err(_) => Revocation::Unknown,
                }
            }
        }
    }

    /// Whether the revocation flags are known to be complete (always, in process).
    pub fn trusted(&self) -> bool {
        match self {
            Cache::Memory(_) => true,
            Cache::Redis(r) => r.shared.trusted.load(Ordering::Acquire),
        }
    }

    /// A token to pass to [`Cache::mark_restored`]: taken before the flags are read from the
    /// database, so an error in between keeps the cache distrusted.
    pub fn epoch(&self) -> u64 {
        match self {
            Cache::Memory(_) => 0,
            Cache::Redis(r) => r.shared.epoch.load(Ordering::Acquire),
        }
    }

    /// The revocation flags were all written again (from the database, read after `epoch` was
    /// taken): writes the marker and trusts the cache, unless an error happened meanwhile.
    pub async fn mark_restored(&self, epoch: u64) -> Result<bool, ApiError> {
        let Cache::Redis(r) = self else { return Ok(true) };
        if r.shared.epoch.load(Ordering::Acquire) != epoch {
            return Ok(false);
        }
        let mut cmd = redis::cmd("SET");
        cmd.arg(r.key(RESTORED_MARKER)).arg(1);
        r.bounded(cmd.query_async::<()>(&mut r.conn.clone())).await?;
        // An error between the check and the write distrusted the cache again: keep it so.
        let unchanged = r.shared.epoch.load(Ordering::Acquire) == epoch;
        if unchanged {
            r.shared.trusted.store(true, Ordering::Release);
        }
        Ok(unchanged)
    }

    /// Stops trusting the revocation flags (e.g. one could not be written) until the guard
    /// restores them.
    pub fn distrust(&self, why: &str) {
        if let Cache::Redis(r) = self {
            r.distrust(why);
        }
    }

    /// Readiness: Redis answers PING (always ready in process).
    pub async fn ping(&self) -> Result<(), ApiError> {
        match self {
            Cache::Memory(_) => Ok(()),
            Cache::Redis(r) => {
                r.bounded(redis::cmd("PING").query_async::<String>(&mut r.conn.clone())).await.map(|_| ())
            }
        }
    }
}

impl RedisStore {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.shared.prefix)
    }

    /// Notes points owed to a bucket (at most [`MAX_OWED`] buckets: past that, a refund is
    /// dropped rather than let the map grow while Redis is away).
    fn owe(&self, key: &str, (capacity, per_sec, points): (u32, u32, f64)) {
        let mut owed = self.shared.owed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = owed.get_mut(key) {
            o.2 += points;
        } else if owed.len() < MAX_OWED {
            owed.insert(key.to_owned(), (capacity, per_sec, points));
        }
    }

    /// Runs one Redis call within the timeout. Any failure distrusts the revocation flags and
    /// answers `UNAVAILABLE`: the caller fails closed, and fast.
    async fn bounded<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T, ApiError> {
        let failure = match tokio::time::timeout(self.shared.timeout, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => {
                crate::metrics::metrics().redis_errors.with_label_values(&["error"]).inc();
                format!("{:?}", e.kind())
            }
            Err(_) => {
                crate::metrics::metrics().redis_errors.with_label_values(&["timeout"]).inc();
                "timed out".to_owned()
            }
        };
        self.distrust(&failure);
        Err(ApiError::Unavailable { retry_after_secs: RETRY_AFTER_SECS })
    }

    fn distrust(&self, why: &str) {
        self.shared.epoch.fetch_add(1, Ordering::AcqRel);
        if self.shared.trusted.swap(false, Ordering::AcqRel) {
            tracing::warn!(reason = why, "redis: revocation flags not trusted until restored");
        }
    }
}

/// The in-process store: expiring integers behind a mutex, swept as it grows.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (u64, Instant)>>,
    last_sweep: Mutex<Option<Instant>>,
    /// Token buckets: points left and when they were counted.
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (u64, Instant)>) -> R) -> R {
        // A poisoned lock only means another thread panicked mid-update of a counter map;
        // the map itself is still usable.
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 50_000 {
            // Sweep expired entries at most every ten seconds, so a full map costs one scan per
            // sweep, not one per call.
            let now = Instant::now();
            let mut last = self.last_sweep.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_none_or(|t| now.duration_since(t) > Duration::from_secs(10)) {
                map.retain(|_, (_, exp)| *exp > now);
                *last = Some(now);
            }
        }
        f(&mut map)
    }

    fn hit(&self, key: &str, window: Duration, n: u64) -> Counter {
        let now = Instant::now();
        self.with(|map| {
            let entry = map.entry(key.to_owned()).or_insert((0, now + window));
            if entry.1 <= now {
                *entry = (0, now + window);
            }
            entry.0 += n;
            Counter { count: entry.0, resets_in: entry.1 - now }
        })
    }

    fn peek(&self, key: &str) -> Option<Counter> {
        let now = Instant::now();
        self.with(|map| {
            map.get(key)
                .filter(|(_, exp)| *exp > now)
                .map(|(count, exp)| Counter { count: *count, resets_in: *exp - now })
        })
    }

    fn undo(&self, key: &str, n: u64) {
        let now = Instant::now();
        self.with(|map| {
            if let Some(entry) = map.get_mut(key).filter(|(_, exp)| *exp > now) {
                entry.0 = entry.0.saturating_sub(n);
            }
        });
    }

    fn set(&self, key: &str, value: u64, ttl: Duration) {
        let exp = Instant::now() + ttl;
        self.with(|map| map.insert(key.to_owned(), (value, exp)));
    }

    fn remove(&self, key: &str) {
        self.with(|map| map.remove(key));
    }

    fn take_points(&self, key: &str, capacity: f64, per_sec: f64, cost: f64) -> (bool, f64) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 50_000 {
            // A bucket refilled to the top is the same as none.
            buckets
                .retain(|_, (left, at)| *left + now.duration_since(*at).as_secs_f64() * per_sec < capacity);
        }
        let (left, at) = buckets.entry(key.to_owned()).or_insert((capacity, now));
        let mut points = (*left + now.duration_since(*at).as_secs_f64() * per_sec).min(capacity);
        let taken = cost <= points || cost < 0.0;
        if taken {
            points = (points - cost).min(capacity);
        }
        *left = points;
        *at = now;
        (taken, points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_counter_counts_within_a_window_and_resets_after() {
        let cache = Cache::memory();
        let w = Duration::from_millis(50);
        assert_eq!(cache.hit("k", w).await.unwrap().count, 1);
        assert_eq!(cache.hit("k", w).await.unwrap().count, 2);
        assert_eq!(cache.peek("k").await.unwrap().unwrap().count, 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(cache.peek("k").await.unwrap().is_none());
        assert_eq!(cache.hit("k", w).await.unwrap().count, 1);
    }

    #[tokio::test]
    async fn a_bucket_gives_what_it_holds_refills_and_takes_points_back() {
        let cache = Cache::memory();
        assert!(cache.take_points("b", 100, 1000, 60.0).await.unwrap().0);
        let (taken, left) = cache.take_points("b", 100, 1000, 60.0).await.unwrap();
        assert!(!taken && left < 60.0, "{left}");
        let (_, left) = cache.take_points("b", 100, 1000, -50.0).await.unwrap();
        assert!((90.0..=100.0).contains(&left), "{left}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(cache.take_points("b", 100, 1000, 100.0).await.unwrap(), (true, 0.0));
    }

    #[tokio::test]
    async fn memory_flags_expire() {
        let cache = Cache::memory();
        cache.set_flags(&["f".to_owned()], Duration::from_millis(30)).await.unwrap();
        assert_eq!(cache.revocation("f").await, Revocation::Revoked);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(cache.revocation("f").await, Revocation::NotRevoked);
        assert!(cache.trusted());
    }
}
