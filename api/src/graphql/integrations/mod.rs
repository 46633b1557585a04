//! GraphQL surface of partner integrations: the admins' registry of clients and their secrets
//! (`clients`), their webhook subscriptions (`webhooks`), the public statistics partners read (`statistics`), and what a client's token
//! may select (`surface`). Partners themselves call
//! `POST /oauth/token` and then read the public fields their scopes open.

pub mod clients;
pub mod statistics;
pub mod surface;
pub mod webhooks;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct IntegrationQuery(clients::ClientQuery, statistics::PublicStatisticsQuery);

#[derive(MergedObject, Default)]
pub struct IntegrationMutation(clients::ClientMutation, webhooks::WebhookMutation);
