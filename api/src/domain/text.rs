//! Accent-insensitive text: Vietnamese names are folded to lowercase ASCII (đ → d) and stored
//! beside the original, so search and ordering use a plain indexed column on every backend.

/// Folds `s` for search: accents removed, đ/Đ → d, lowercase, runs of whitespace collapsed.
pub fn fold_for_search(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_ascii_lowercase();
    ascii.split_whitespace().collect::<Vec<_>>().join(" ")
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
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_contains_pattern("Long Biên"), "%long bien%");
        assert_eq!(like_contains_pattern("50%_a"), "%50\\%\\_a%");
    }
}
