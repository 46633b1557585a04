//! The Phụ nữ Thủ đô member platform API: a GraphQL service over actix-web.
//!
//! Layout: `graphql/` (thin resolvers) → `service/` (rules, one module per area) → `entities`
//! (tables). `auth` turns a bearer token into a viewer, `authz` holds every policy check,
//! `domain` the parsed input types, `error` the one error type and its codes.

pub mod auth;
pub mod authz;
pub mod bootstrap;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod fanout;
pub mod graphql;
pub mod http;
pub mod push;
pub mod seed;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod worker;
