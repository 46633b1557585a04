//! Black-box tests of the whole service, driven over HTTP and WebSocket like a real client.
//!
//! Backends: SQLite with the in-process cache by default; PostgreSQL and Redis when
//! `TEST_DATABASE_URL=postgres://…` and `TEST_REDIS_URL=redis://…` are set. Every test gets its
//! own database (a temporary SQLite file, or a fresh PostgreSQL schema) and its own Redis key
//! prefix, so tests run in parallel without seeing each other.

mod fixtures;
mod helpers;

mod accounts;
mod audit;
mod authz;
mod awards;
mod bulk;
mod campaigns;
mod content;
mod cost;
mod dashboards;
mod docs;
mod exports;
mod fanout;
mod faults;
mod home;
mod http;
mod idempotency;
mod identity;
mod import;
mod input;
mod integrations;
mod introspection;
mod invitations;
mod layering;
mod lookups;
mod media;
mod membership;
mod merge;
mod moderation;
mod moderation_queue;
mod news;
mod notifications;
mod org;
mod pool;
mod push;
mod ratings;
mod roles;
mod runtime;
mod schema;
mod search;
mod serving;
mod stats;
mod stories;
mod targets;
mod training_races;
mod trainings;
mod violence;
mod ws;
