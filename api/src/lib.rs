//! The Phụ nữ Thủ đô member platform API: the HTTP and GraphQL surface over the `service` crate
//! (the rules, authorisation, workers; see its docs).
//!
//! Layout: `http/` (GraphQL over HTTP and WebSocket, health) → `graphql/` (thin resolvers and the
//! GraphQL types, error mapping) → `service` (the rules, one module per area) → `entities`
//! (tables). `startup` builds and runs the application.

pub mod graphql;
pub mod http;
pub mod startup;
pub mod telemetry;
