//! Accent-insensitive text: Vietnamese names are folded to lowercase ASCII (đ → d) and stored
//! beside the original, so search and ordering use a plain indexed column on every backend.

use crate::error::{ApiError, InputProblem};

/// Longest folded text kept (the indexed columns hold 120 characters; transliteration can make
/// a name longer than it was).
const MAX_FOLDED: usize = 120;

/// Folds `s` for search: accents removed, đ/Đ → d, lowercase, runs of whitespace collapsed,
/// at most 120 characters.
pub fn fold_for_search(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_ascii_lowercase();
    let mut folded = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
    folded.truncate(MAX_FOLDED);
    folded
}

/// Whether `c` is a character no one types into a form: NUL and every other control character
/// but tab, line feed and carriage return, and the bidirectional embeddings, overrides and
/// isolates (U+202A–U+202E, U+2066–U+2069) that make text display as something it is not.
/// PostgreSQL refuses NUL in text outright; the others deceive whoever reads the text later.
/// Every text argument of the API is checked against this at the boundary (see
/// `graphql::arguments`), so both backends answer the same `BAD_USER_INPUT`.
pub fn is_forbidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Composes (NFC) user-typed text of several lines and tidies it: trailing white space of each
/// line and of the whole removed, runs of blank lines folded to one; line breaks kept.
pub fn normalise_multiline(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let composed: String = raw.nfc().collect();
    let mut lines: Vec<&str> = Vec::new();
    for line in composed.lines().map(str::trim_end) {
        if line.trim().is_empty() && lines.last().is_some_and(|l| l.trim().is_empty()) {
            continue;
        }
        lines.push(line);
    }
    lines.join("\n").trim().to_owned()
}

/// Letters that display as nothing (the Hangul fillers), which a name must not be made of.
pub fn is_invisible_letter(c: char) -> bool {
    matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
}

/// Trims, collapses white space and composes (NFC) user-typed text, so one name typed on two
/// keyboards is stored once and its letters are letters.
pub fn normalise_text(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfc().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The words of a folded text: its runs of letters and digits ("Bồ Đề – số 1" → `bo`, `de`, `so`,
/// `1`).
fn folded_words(s: &str) -> impl Iterator<Item = String> {
    fold_for_search(s)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter()
}

/// What a unit is found by (`org_unit.search_words`): the words of its name and of its code,
/// each after a space, with a space at the end — " chi hoi to dan pho so 1 bo de hn lb bd 01 ".
pub fn unit_search_words(name: &str, code: &str) -> String {
    let mut out = String::from(" ");
    for word in folded_words(name).chain(folded_words(code)) {
        out.push_str(&word);
        out.push(' ');
    }
    out
}

/// `LIKE` patterns over [`unit_search_words`], one per word of `query`: a unit matches when
/// every word typed starts one of its words, in any order ("bo de so 1", "to dan pho so 1 bo
/// de" and "HN-LB-BD-01" all find "Chi hội Tổ dân phố số 1 – Bồ Đề"). Words are letters and
/// digits only, so nothing needs escaping.
pub fn word_start_patterns(query: &str) -> Vec<String> {
    folded_words(query).map(|w| format!("% {w}%")).collect()
}

/// A `LIKE` pattern matching folded text that contains `query`, with `\` as the escape character.
pub fn like_contains_pattern(query: &str) -> String {
    format!("%{}%", like_escape(&fold_for_search(query)))
}

/// A name search by word prefix: a name matches when one of its words starts with the folded
/// query and the name goes on as typed from there. "thi l" and "lan" find "Nguyễn Thị Lan";
/// "guyen" does not (it starts no word). Names, and their later-word keys
/// ([`later_word_suffixes`]), that start with the query form the range `low..high`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WordPrefix {
    pub low: String,
    pub high: String,
}

impl WordPrefix {
    /// `None` when nothing searchable is left after folding.
    pub fn parse(query: &str) -> Option<Self> {
        let low = fold_for_search(query);
        let mut high = low.clone();
        let last = high.pop()?;
        // Folded text is ASCII, so the next code point sorts after every continuation.
        high.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
        Some(Self { low, high })
    }

    /// A `LIKE` pattern (escape `\`) for names that start with the query.
    pub fn starts_pattern(&self) -> String {
        format!("{}%", like_escape(&self.low))
    }

    /// A `LIKE` pattern (escape `\`) for names with a later word that starts with the query.
    pub fn later_word_pattern(&self) -> String {
        format!("% {}%", like_escape(&self.low))
    }
}

/// The parts of a folded name that start at its second, third… word: the keys by which
/// [`WordPrefix`] finds a name by a word other than its first.
pub fn later_word_suffixes(folded: &str) -> impl Iterator<Item = &str> {
    folded.match_indices(' ').map(move |(i, _)| &folded[i + 1..]).filter(|s| !s.is_empty())
}

/// A required one-line text (a title): normalised ([`normalise_text`]), 1 to `max` characters;
/// `BAD_USER_INPUT` on `field` (`REQUIRED`, `TOO_LONG`) otherwise.
pub fn parse_line(raw: &str, max: usize, field: &'static str) -> Result<String, ApiError> {
    let line = normalise_text(raw);
    match line.chars().count() {
        0 => Err(ApiError::bad_input(field, InputProblem::Required)),
        n if n > max => Err(ApiError::bad_input(field, InputProblem::TooLong)),
        _ => Ok(line),
    }
}

/// An optional free text (a note, a comment; line breaks kept): trimmed, at most `max`
/// characters; `None` when absent or blank, `TOO_LONG` on `field` when longer.
/// A free-text reason: trimmed, 1–500 characters.
pub fn parse_reason(raw: &str, field: &'static str) -> Result<String, ApiError> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err(ApiError::bad_input(field, InputProblem::Required));
    }
    if reason.chars().count() > 500 {
        return Err(ApiError::bad_input(field, InputProblem::TooLong));
    }
    Ok(reason.to_owned())
}

/// An optional note: trimmed, at most 500 characters, empty → none.
pub fn parse_note(raw: Option<&str>, field: &'static str) -> Result<Option<String>, ApiError> {
    parse_optional_text(raw, 500, field)
}

pub fn parse_optional_text(
    raw: Option<&str>,
    max: usize,
    field: &'static str,
) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => Err(ApiError::bad_input(field, InputProblem::TooLong)),
        other => Ok(other.map(str::to_owned)),
    }
}

/// An optional `http(s)://` link (a cover image, an online meeting): trimmed, at most `max`
/// characters, with something after the scheme and no white space or control characters.
/// `None` when absent or blank; `BAD_USER_INPUT` on `field` otherwise.
pub fn parse_optional_url(
    raw: Option<&str>,
    max: usize,
    field: &'static str,
) -> Result<Option<String>, ApiError> {
    let Some(url) = raw.map(str::trim).filter(|u| !u.is_empty()) else { return Ok(None) };
    if url.chars().count() > max {
        return Err(ApiError::bad_input(field, InputProblem::TooLong));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    if rest.is_none_or(str::is_empty) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::bad_input(field, InputProblem::InvalidFormat));
    }
    Ok(Some(url.to_owned()))
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese_accents_and_d_with_stroke() {
        assert_eq!(fold_for_search("Long Biên"), "long bien");
        assert_eq!(fold_for_search("  Thanh   Trì "), "thanh tri");
        assert_eq!(fold_for_search("Đống Đa"), "dong da");
        assert_eq!(fold_for_search("Phường Hoàn Kiếm"), "phuong hoan kiem");
        assert_eq!(fold_for_search("ĐỨC GIANG"), "duc giang");
    }

    #[test]
    fn decomposed_text_is_composed_and_folding_is_bounded() {
        assert_eq!(normalise_text("Nguye\u{302}\u{303}n  Thi\u{323}"), "Nguyễn Thị");
        assert_eq!(fold_for_search(&"ß".repeat(100)).len(), MAX_FOLDED);
    }

    #[test]
    fn a_word_prefix_is_a_range_and_two_patterns() {
        let p = WordPrefix::parse("  Thị  L ").expect("searchable");
        assert_eq!((p.low.as_str(), p.high.as_str()), ("thi l", "thi m"));
        assert_eq!(p.starts_pattern(), "thi l%");
        assert_eq!(p.later_word_pattern(), "% thi l%");
        assert_eq!(WordPrefix::parse("50%").expect("searchable").starts_pattern(), "50\\%%");
        assert!(WordPrefix::parse(" \t ").is_none());
        for name in ["thi l", "thi lan", "thi l~"] {
            assert!(p.low.as_str() <= name && name < p.high.as_str(), "{name}");
        }
        assert!("thi m" >= p.high.as_str() && "thi k" < p.low.as_str());
    }

    #[test]
    fn every_word_after_the_first_starts_a_key() {
        assert_eq!(later_word_suffixes("nguyen thi lan").collect::<Vec<_>>(), ["thi lan", "lan"]);
        assert_eq!(later_word_suffixes("lan").count(), 0);
    }

    #[test]
    fn a_line_is_normalised_required_and_bounded() {
        assert_eq!(parse_line("  Tập   huấn ", 10, "t").unwrap(), "Tập huấn");
        assert!(parse_line(" \n ", 10, "t").is_err());
        assert!(parse_line("abcdefghijk", 10, "t").is_err());
    }

    #[test]
    fn urls_need_an_http_scheme_and_no_spaces() {
        assert_eq!(
            parse_optional_url(Some(" https://a.vn/x.png "), 50, "u").unwrap().as_deref(),
            Some("https://a.vn/x.png")
        );
        assert_eq!(parse_optional_url(Some("  "), 50, "u").unwrap(), None);
        assert_eq!(parse_optional_url(None, 50, "u").unwrap(), None);
        for bad in ["ftp://a.vn", "https://", "http://a b", "javascript:alert(1)", "https://a\u{7}"] {
            assert!(parse_optional_url(Some(bad), 50, "u").is_err(), "{bad}");
        }
        assert!(parse_optional_url(Some(&format!("https://{}", "a".repeat(60))), 50, "u").is_err());
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_contains_pattern("Long Biên"), "%long bien%");
        assert_eq!(like_contains_pattern("50%_a"), "%50\\%\\_a%");
    }
}
