//! Domain newtypes that parse instead of validate: once a value has one of these types, it is
//! known to be well-formed, so the services never re-check it.

mod ids;
mod person;
mod text;
mod time;

pub use ids::{GlobalId, NodeKind};
pub use person::{Email, Password, PersonName, PhoneNumber, check_birth_date};
pub use text::{
    WordPrefix, fold_for_search, is_forbidden_char, is_invisible_letter, later_word_suffixes,
    like_contains_pattern, normalise_text, parse_line, parse_note, parse_optional_text, parse_optional_url,
    parse_reason,
};
pub use time::{hanoi_day, hanoi_day_start};

/// A closed set of values stored as their SCREAMING_SNAKE names: the enum, `ALL`, `as_str` and
/// `parse`.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    };
}
pub(crate) use stored_enum;
