//! SeaORM entities, one module per table. No GraphQL here: the API crate maps these rows into
//! its own GraphQL types so the wire contract never follows a column rename by accident.
//!
//! A column that holds one of a fixed set of values is typed by its enum (declared with
//! [`stored_enum!`] beside the model): a row carries `PostStatus::Published`, not the text
//! `"PUBLISHED"`, and the service compares and writes enums, never strings. The column stays
//! text in the database (portable, and a new value needs no type migration).

/// An enum stored as text: each variant with its stored name. Derives sea-orm's
/// `DeriveValueType` in its string-enum form (so a model field can be of this type, read and
/// written through `FromStr`/`Display`) and adds `ALL`, `as_str` (for hand-written SQL) and
/// `parse`. Variants order as declared. Not `DeriveActiveEnum`: it names an internal enum after each stored value, and the
/// stored value `SELF` (a violence report's "who is affected") is a keyword there.
#[macro_export]
macro_rules! stored_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, sea_orm::DeriveValueType)]
        #[sea_orm(value_type = "String")]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
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

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or($crate::UnknownValue(stringify!($name)))
            }
        }

        /// Never a generated key (the derive of a composite key asks for it).
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A stored text that is none of its enum's values (the database holds something the code does
/// not know: a failed read, never a panic).
#[derive(Debug)]
pub struct UnknownValue(pub &'static str);

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an unknown {} in the database", self.0)
    }
}

impl std::error::Error for UnknownValue {}

pub mod audit_event;
pub mod auth_session;
pub mod award_kind;
pub mod award_nomination;
pub mod branch_member_count;
pub mod branch_member_day;
pub mod campaign;
pub mod campaign_criterion;
pub mod comment;
pub mod consent;
pub mod content_flag;
pub mod content_settings;
pub mod counter;
pub mod engagement;
pub mod fanout_job;
pub mod idempotency_key;
pub mod ids;
pub mod indicator;
pub mod integration_call;
pub mod integration_change;
pub mod integration_client;
pub mod integration_secret;
pub mod known_device;
pub mod media;
pub mod member_mute;
pub mod membership;
pub mod membership_event;
pub mod membership_invitation;
pub mod membership_request;
pub mod moderation_case;
pub mod notification;
pub mod notification_preference;
pub mod officer_role;
pub mod org_unit;
pub mod org_unit_closure;
pub mod person;
pub mod phone_code;
pub mod pledge;
pub mod population_figure;
pub mod post;
pub mod push_outbox;
pub mod push_token;
pub mod rating_criterion;
pub mod reaction;
pub mod recovery_code;
pub mod refresh_token;
pub mod reported_value;
pub mod sms_outbox;
pub mod story;
pub mod target;
pub mod training;
pub mod training_registration;
pub mod trusted_document;
pub mod unit_activity_day;
pub mod unit_rating;
pub mod unit_rating_score;
pub mod violence_access_log;
pub mod violence_report;
pub mod violence_report_event;
pub mod webhook_delivery;
pub mod webhook_event;
pub mod webhook_subscription;
