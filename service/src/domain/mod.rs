//! Domain newtypes that parse instead of validate: once a value has one of these types, it is
//! known to be well-formed, so the services never re-check it.

mod ids;
mod person;
mod text;
mod time;

pub use ids::{GlobalId, NodeId, NodeKind};
pub use person::{Email, Password, PersonName, PhoneNumber, check_birth_date};
pub use text::{
    WordPrefix, fold_for_search, is_forbidden_char, is_invisible_letter, later_word_suffixes,
    like_contains_pattern, normalise_multiline, normalise_text, parse_line, parse_note, parse_optional_text,
    parse_optional_url, parse_reason, unit_search_words, word_start_patterns,
};
pub use time::{HANOI_OFFSET, hanoi_day, hanoi_day_start};
