//! GraphQL surface of campaigns and targets: campaigns, pledges, targets and the news feed.
//! The rules are in `service::campaigns`.

pub mod campaign;
pub mod dashboard;
pub mod news;
pub mod pledges;
pub mod targets;
