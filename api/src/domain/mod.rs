//! Domain newtypes that parse instead of validate: once a value has one of these types, it is
//! known to be well-formed, so the services never re-check it.

mod ids;
mod person;
mod text;

pub use ids::{GlobalId, NodeKind};
pub use person::{Email, Password, PersonName, PhoneNumber};
pub use text::{WordPrefix, fold_for_search, later_word_suffixes, like_contains_pattern, normalise_text};
