//! SeaORM entities, one module per table. No GraphQL here: the API crate maps these rows into
//! its own GraphQL types so the wire contract never follows a column rename by accident.
//!
//! A column that holds one of a fixed set of values is typed by its enum (declared with
//! [`stored_enum!`] beside the model): a row carries `PostStatus::Published`, not the text
//! `"PUBLISHED"`, and the service compares and writes enums, never strings. The column stays
//! text in the database (portable, and a new value needs no type migration).

/// An enum stored as text: each variant with its stored name. Derives sea-orm's
/// `DeriveActiveEnum` (so a model field can be of this type) and adds `ALL`, `as_str` (for
/// hand-written SQL) and `parse`.
#[macro_export]
macro_rules! stored_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        $vis enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

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
