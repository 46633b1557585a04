//! Short-lived shared state: failure counters for throttling and revoked-session flags.
//!
//! With `REDIS_URL` set the state lives in Redis and is shared by every API instance; without it
//! it lives in this process (the single-instance SQLite set-up). Keys carry the configured
//! prefix, so deployments and test runs sharing one Redis never see each other's keys. Redis
//! errors fail closed: the caller gets `INTERNAL`, never a silently skipped check.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
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
    Redis { conn: ConnectionManager, prefix: String },
}

/// Increments a counter, starting its window on the first hit; returns the count and the
/// remaining time in milliseconds, atomically.
const HIT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
";

/// Decrements a counter that exists and is positive, keeping its expiry.
const UNDO_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
";

impl Cache {
    pub fn memory() -> Self {
        Cache::Memory(Arc::new(MemoryStore::default()))
    }

    /// State in Redis, through a shared (auto-reconnecting) connection.
    pub fn redis(conn: ConnectionManager, prefix: &str) -> Self {
        Cache::Redis { conn, prefix: prefix.to_owned() }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Cache::Redis { .. })
    }

    /// Counts one hit on `key` in a window of `window`.
    pub async fn hit(&self, key: &str, window: Duration) -> Result<Counter, ApiError> {
        match self {
            Cache::Memory(store) => Ok(store.hit(key, window)),
            Cache::Redis { conn, prefix } => {
                let (count, ttl_ms): (u64, i64) = redis::Script::new(HIT_SCRIPT)
                    .key(format!("{prefix}{key}"))
                    .arg(window.as_millis() as u64)
                    .invoke_async(&mut conn.clone())
                    .await
                    .map_err(redis_error)?;
                Ok(Counter { count, resets_in: Duration::from_millis(ttl_ms.max(0) as u64) })
            }
        }
    }

    /// The current value of a counter, if its window is still open.
    pub async fn peek(&self, key: &str) -> Result<Option<Counter>, ApiError> {
        match self {
            Cache::Memory(store) => Ok(store.peek(key)),
            Cache::Redis { conn, prefix } => {
                let key = format!("{prefix}{key}");
                let (count, ttl_ms): (Option<u64>, i64) = redis::pipe()
                    .cmd("GET")
                    .arg(&key)
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(redis_error)?;
                Ok(count
                    .filter(|_| ttl_ms > 0)
                    .map(|count| Counter { count, resets_in: Duration::from_millis(ttl_ms as u64) }))
            }
        }
    }

    /// Takes back one hit of a counter (never below zero), e.g. when an attempt turned out fine.
    pub async fn undo_hit(&self, key: &str) -> Result<(), ApiError> {
        match self {
            Cache::Memory(store) => {
                store.undo(key);
                Ok(())
            }
            Cache::Redis { conn, prefix } => redis::Script::new(UNDO_SCRIPT)
                .key(format!("{prefix}{key}"))
                .invoke_async::<i64>(&mut conn.clone())
                .await
                .map(|_| ())
                .map_err(redis_error),
        }
    }

    /// Removes a key.
    pub async fn clear(&self, key: &str) -> Result<(), ApiError> {
        match self {
            Cache::Memory(store) => {
                store.remove(key);
                Ok(())
            }
            Cache::Redis { conn, prefix } => redis::cmd("DEL")
                .arg(format!("{prefix}{key}"))
                .query_async::<()>(&mut conn.clone())
                .await
                .map_err(redis_error),
        }
    }

    /// Sets a flag that disappears after `ttl`.
    pub async fn set_flag(&self, key: &str, ttl: Duration) -> Result<(), ApiError> {
        match self {
            Cache::Memory(store) => {
                store.set(key, 1, ttl);
                Ok(())
            }
            Cache::Redis { conn, prefix } => redis::cmd("SET")
                .arg(format!("{prefix}{key}"))
                .arg(1)
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64)
                .query_async::<()>(&mut conn.clone())
                .await
                .map_err(redis_error),
        }
    }

    /// Whether a flag set by [`Cache::set_flag`] is still up.
    pub async fn has_flag(&self, key: &str) -> Result<bool, ApiError> {
        match self {
            Cache::Memory(store) => Ok(store.peek(key).is_some()),
            Cache::Redis { conn, prefix } => redis::cmd("EXISTS")
                .arg(format!("{prefix}{key}"))
                .query_async::<bool>(&mut conn.clone())
                .await
                .map_err(redis_error),
        }
    }

    /// Readiness: Redis answers PING (always ready in process).
    pub async fn ping(&self) -> Result<(), ApiError> {
        match self {
            Cache::Memory(_) => Ok(()),
            Cache::Redis { conn, .. } => redis::cmd("PING")
                .query_async::<String>(&mut conn.clone())
                .await
                .map(|_| ())
                .map_err(redis_error),
        }
    }
}

fn redis_error(err: redis::RedisError) -> ApiError {
    ApiError::internal(format_args!("redis: {:?}", err.kind()))
}

/// The in-process store: expiring integers behind a mutex, swept as it grows.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (u64, Instant)>>,
    last_sweep: Mutex<Option<Instant>>,
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

    fn hit(&self, key: &str, window: Duration) -> Counter {
        let now = Instant::now();
        self.with(|map| {
            let entry = map.entry(key.to_owned()).or_insert((0, now + window));
            if entry.1 <= now {
                *entry = (0, now + window);
            }
            entry.0 += 1;
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

    fn undo(&self, key: &str) {
        let now = Instant::now();
        self.with(|map| {
            if let Some(entry) = map.get_mut(key).filter(|(_, exp)| *exp > now) {
                entry.0 = entry.0.saturating_sub(1);
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
    async fn memory_flags_expire() {
        let cache = Cache::memory();
        cache.set_flag("f", Duration::from_millis(30)).await.unwrap();
        assert!(cache.has_flag("f").await.unwrap());
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(!cache.has_flag("f").await.unwrap());
    }
}
