//! Campaigns and targets: campaigns with their criteria, pledges and their certification,
//! targets per indicator, unit and period with their roll-up, and the news feed.

pub mod activity;
pub mod campaign;
pub mod dashboard;
pub mod news;
pub mod pledges;
pub mod targets;
