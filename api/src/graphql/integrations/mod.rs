//! GraphQL surface of partner integrations: the admins' registry of clients and their secrets
//! (`clients`), and what a client's token may select (`surface`). Partners themselves call
//! `POST /oauth/token` and then read the public fields their scopes open.

pub mod clients;
pub mod surface;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct IntegrationQuery(clients::ClientQuery);

#[derive(MergedObject, Default)]
pub struct IntegrationMutation(clients::ClientMutation);
