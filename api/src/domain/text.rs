//! Accent-insensitive text: Vietnamese names are folded to lowercase ASCII (đ → d) and stored
//! beside the original, so search and ordering use a plain indexed column on every backend.

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

/// Trims, collapses white space and composes (NFC) user-typed text, so one name typed on two
/// keyboards is stored once and its letters are letters.
pub fn normalise_text(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfc().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A `LIKE` pattern matching folded text that contains `query`, with `\` as the escape character.
pub fn like_contains_pattern(query: &str) -> String {
    let folded = fold_for_search(query);
    let mut out = String::with_capacity(folded.len() + 2);
    out.push('%');
    for c in folded.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
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
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_contains_pattern("Long Biên"), "%long bien%");
        assert_eq!(like_contains_pattern("50%_a"), "%50\\%\\_a%");
    }
}
