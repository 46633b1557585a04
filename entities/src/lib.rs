//! SeaORM entities, one module per table. No GraphQL here: the API crate maps these rows into
//! its own GraphQL types so the wire contract never follows a column rename by accident.

pub mod auth_session;
pub mod branch_member_count;
pub mod branch_member_day;
pub mod campaign;
pub mod campaign_criterion;
pub mod counter;
pub mod fanout_job;
pub mod indicator;
pub mod known_device;
pub mod membership;
pub mod membership_event;
pub mod membership_invitation;
pub mod membership_request;
pub mod notification;
pub mod officer_role;
pub mod org_unit;
pub mod org_unit_closure;
pub mod person;
pub mod pledge;
pub mod population_figure;
pub mod post;
pub mod push_outbox;
pub mod push_token;
pub mod refresh_token;
pub mod reported_value;
pub mod target;
pub mod training;
pub mod training_registration;
pub mod unit_activity_day;
pub mod violence_access_log;
pub mod violence_report;
pub mod violence_report_event;
