//! The automatic check of a text a member wants to publish (a comment, a story): a hit holds the
//! text for a moderator instead of publishing it. [`screen`] looks for personal data first, then
//! for offensive words. Both read the text composed (NFC), without the characters that show as
//! nothing (soft hyphen, zero-width spaces and joiners, word joiner, BOM); a *word* is a run of
//! letters and digits, and words are compared in lowercase.
//!
//! **Personal data**: what tells where a woman lives or how to reach her.
//!
//! - A phone number: a mobile, `0`, then 3, 5, 7, 8 or 9, then 8 digits (`0912345678`); a
//!   landline, `02` then 9 digits (Hanoi: `024 3825 1234`); either with `84` or `+84` instead of
//!   the `0` (`+84 912 345 678`). Letters may touch it (`sđt0912345678`).
//! - An ID number: 9 digits (old ID card, CMND) or 12 (citizen card, CCCD), with no letter
//!   touching either end (`AB123456789` is a code).
//! - Digits may be split into groups by one space, dot or dash, or by a closing parenthesis
//!   (`0912 345 678`, `0912.345.678`, `091-234-5678`, `(024) 3825 1234`). A number begins and
//!   ends at a group boundary, never inside a group: `1234567890123` holds none, while
//!   `0912345678-0987654321` and `tổ 5 0912 345 678` do.
//! - Amounts are skipped: digits followed by a currency (`đ`, `đồng`, `d`, `VNĐ`, `VND`, `₫`),
//!   and a number written in thousands (1 to 3 digits, then groups of 3 after dots) that ends in
//!   `.000` (`150.000.000`). Any other number written in thousands is read whole, never from a
//!   group inside it (`1.050.123.456` holds no ID).
//! - An address: its words in a row within one sentence (no `.`, `!`, `?`, `;` or line break
//!   between them), each with or without its accents (`so nha 12`, `ngo 12`) but never with other
//!   accents (`ngỏ`, `phở` are other words). A *number* here is a word that starts with a digit.
//!   - `số nhà` then a number (`số nhà 12`);
//!   - `ngõ`, `ngách`, `hẻm` or `kiệt`, maybe `số`, then a number (`ngõ 12`, `ngách 3/45`,
//!     `hẻm số 7`), unless `tuổi` or `tháng` follows the number (an age: `bé Kiệt 5 tuổi`);
//!   - `số`, a number, then `phố` or `đường` (`số 15 phố Huế`), unless `số` follows `phố`, `tổ`
//!     or `khu` (it numbers a residential group then: `tổ dân phố số 5`, `khu phố số 3`);
//!   - a house number (1 to 4 digits, maybe one letter: `15`, `15a`), `phố` or `đường`, then a
//!     name with a capital (`ở 8 đường Láng`), unless the number follows `số`, `tổ`, `khu`,
//!     `năm`, `tháng` or `ngày`, or comes right after `/`, `:`, `.`, `,` or `-` (a date, a time,
//!     an amount).
//!
//! So `tổ dân phố số 5`, `tổ 12`, `lớp 9`, `năm 2024`, `500.000 đồng`, `1.500.000đ`, `12/03/2026`,
//! `8:30`, numbers of up to 8 digits, `90%` and `120 hội viên` are not personal data.
//!
//! **Offensive words**: the entries of `offensive_vi.txt`, our own list, parsed once (its header
//! says how to add one).
//!
//! - A one-word entry matches a word exactly, accents included: `lồn` matches `Lồn` but not `lớn`,
//!   `lợn` or `lon` (a can), as a syllable stripped of its accents is often an ordinary word.
//!   Chat abbreviations are entries as typed (`dm`, `đm`, `vcl`).
//! - A phrase (two words or more) matches the same words in a row, whatever punctuation stands
//!   between them, each word as written in the list or with some of its accents left off:
//!   `địt mẹ` matches `Địt mẹ`, `dit me`, `DIT ME`, `đit me`; a word with other accents is another
//!   word (`dư mà` is not `đụ má`). As many members type without accents, a phrase is listed only
//!   if it stays unambiguous once every accent is dropped.

use std::{
    collections::{HashMap, HashSet},
    iter,
    ops::Range,
    sync::LazyLock,
};

use unicode_normalization::{IsNormalized, UnicodeNormalization, char::decompose_canonical, is_nfc_quick};

/// Why a text was held for a moderator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// A phone number, an ID-card number or a street address.
    PersonalData,
    /// A word or phrase of the offensive-word list.
    OffensiveWords,
}

/// What an automatic check finds in a text a member wants to publish (personal data first).
pub fn screen(text: &str) -> Option<Hit> {
    let text = Text::new(text);
    if text.has_phone_or_id() || text.has_address() {
        Some(Hit::PersonalData)
    } else if text.has_offensive_words() {
        Some(Hit::OffensiveWords)
    } else {
        None
    }
}

/// The offensive-word list, parsed on first use.
static LIST: LazyLock<List> = LazyLock::new(|| List::parse(include_str!("offensive_vi.txt")));

/// The entries of `offensive_vi.txt`, each as [`Text`] reads it (composed, lowercase words).
struct List {
    /// One-word entries.
    words: HashSet<String>,
    /// Phrases (their words), by the unaccented form of their first word.
    phrases: HashMap<String, Vec<Vec<String>>>,
}

impl List {
    fn parse(source: &str) -> Self {
        let mut words = HashSet::new();
        let mut phrases: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        for line in source.lines() {
            let entry = Text::new(line.split_once('#').map_or(line, |(entry, _comment)| entry));
            match entry.words.len() {
                0 => {}
                1 => {
                    words.insert(entry.lower(0).to_owned());
                }
                n => phrases
                    .entry(entry.folded(0).to_owned())
                    .or_default()
                    .push((0..n).map(|i| entry.lower(i).to_owned()).collect()),
            }
        }
        Self { words, phrases }
    }
}

/// Words that make a number an alley's.
const ALLEY: &[&str] = &["ngõ", "ngách", "hẻm", "kiệt"];
/// Words that make a number a street's.
const STREET: &[&str] = &["phố", "đường"];
/// Words after a number that make it an age.
const AGE: &[&str] = &["tuổi", "tháng"];
/// Words before `số` that it numbers (a residential group, not a house).
const GROUP: &[&str] = &["phố", "tổ", "khu"];
/// Words before a bare number that make it no house number (a group's, a date).
const NOT_HOUSE: &[&str] = &["số", "tổ", "khu", "năm", "tháng", "ngày"];

/// A text as the checks read it, cut into words once.
struct Text {
    /// The text composed, invisible characters dropped, case kept.
    nfc: String,
    /// The words lowercased, one after the other.
    lower: String,
    /// The lowercased words without their accents, one after the other (`đường` → `duong`).
    folded: String,
    words: Vec<Word>,
}

/// Where a word is in each form of a [`Text`].
struct Word {
    raw: Range<usize>,
    lower: Range<usize>,
    folded: Range<usize>,
}

impl Text {
    fn new(input: &str) -> Self {
        let visible = input.chars().filter(|&c| !is_invisible(c));
        // Most texts come composed already (see `comments::parse_body`): the quick check spares
        // composing them again.
        let nfc: String = match is_nfc_quick(visible.clone()) {
            IsNormalized::Yes => visible.collect(),
            _ => visible.nfc().collect(),
        };
        let mut lower = String::with_capacity(nfc.len());
        let mut folded = String::with_capacity(nfc.len());
        let mut words = Vec::new();
        let mut start = None;
        for (at, c) in nfc.char_indices().chain(iter::once((nfc.len(), ' '))) {
            match (c.is_alphanumeric(), start) {
                (true, None) => start = Some(at),
                (false, Some(from)) => {
                    start = None;
                    let lower_from = lower.len();
                    lower.extend(nfc[from..at].chars().flat_map(char::to_lowercase));
                    let folded_from = folded.len();
                    folded.extend(lower[lower_from..].chars().map(|c| parts(c).0));
                    words.push(Word {
                        raw: from..at,
                        lower: lower_from..lower.len(),
                        folded: folded_from..folded.len(),
                    });
                }
                _ => {}
            }
        }
        Self { nfc, lower, folded, words }
    }

    /// Word `i`, lowercased (empty past the end).
    fn lower(&self, i: usize) -> &str {
        self.words.get(i).map_or("", |w| &self.lower[w.lower.clone()])
    }

    /// Word `i`, lowercased, without its accents (empty past the end).
    fn folded(&self, i: usize) -> &str {
        self.words.get(i).map_or("", |w| &self.folded[w.folded.clone()])
    }

    /// What stands between word `i - 1` (or the start of the text) and word `i`.
    fn gap_before(&self, i: usize) -> &str {
        let end = self.words.get(i).map_or(self.nfc.len(), |w| w.raw.start);
        let start = i.checked_sub(1).and_then(|p| self.words.get(p)).map_or(0, |w| w.raw.end);
        self.nfc.get(start..end).unwrap_or("")
    }

    /// Whether word `i` exists and reads as one of `words` (see [`reads_as`]).
    fn reads(&self, i: usize, words: &[&str]) -> bool {
        i < self.words.len() && words.iter().any(|w| reads_as(self.lower(i), w))
    }

    /// Whether word `i` exists and is in the sentence of word `i - 1`.
    fn linked(&self, i: usize) -> bool {
        i < self.words.len() && !self.gap_before(i).contains(['.', '!', '?', ';', '\n', '\r'])
    }

    /// Whether word `i` starts with a digit.
    fn is_number(&self, i: usize) -> bool {
        self.lower(i).starts_with(|c: char| c.is_ascii_digit())
    }

    /// Whether word `i` is 1 to 4 digits, maybe followed by one letter.
    fn is_house_number(&self, i: usize) -> bool {
        let word = self.lower(i);
        let digits = word.bytes().take_while(u8::is_ascii_digit).count();
        (1..=4).contains(&digits) && word[digits..].chars().count() <= 1
    }

    /// Whether word `i` was written with a capital first letter.
    fn is_capitalised(&self, i: usize) -> bool {
        self.words.get(i).is_some_and(|w| self.nfc[w.raw.clone()].starts_with(char::is_uppercase))
    }

    /// Whether the text holds a phone or ID number (see the module doc).
    fn has_phone_or_id(&self) -> bool {
        let bytes = self.nfc.as_bytes();
        // The digit groups of the current chain: each one separator after the one before.
        let mut chain: Vec<Range<usize>> = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            if !bytes[at].is_ascii_digit() {
                at += 1;
                continue;
            }
            let start = at;
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            let joined = chain.last().is_some_and(|last| {
                matches!(bytes.get(last.end..start), Some(b" " | b"." | b"-" | b")" | b") "))
            });
            if !joined {
                if self.chain_has_phone_or_id(&chain) {
                    return true;
                }
                chain.clear();
            }
            chain.push(start..at);
        }
        self.chain_has_phone_or_id(&chain)
    }

    /// Whether a chain of digit groups holds a phone or ID number (see the module doc).
    fn chain_has_phone_or_id(&self, chain: &[Range<usize>]) -> bool {
        let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
            return false;
        };
        let (text, bytes) = (self.nfc.as_str(), self.nfc.as_bytes());
        if is_currency(&text[last.end..]) {
            return false;
        }
        let thousands = chain.len() > 1
            && (1..=3).contains(&first.len())
            && bytes[first.start] != b'0'
            && chain[1..].iter().all(|g| g.len() == 3 && bytes[g.start - 1] == b'.');
        if thousands && &text[last.clone()] == "000" {
            return false;
        }
        let letter_before = text[..first.start].chars().next_back().is_some_and(char::is_alphanumeric);
        let letter_after = text[last.end..].chars().next().is_some_and(char::is_alphanumeric);
        let starts = if thousands { 0..1 } else { 0..chain.len() };
        for i in starts {
            let mut digits = [0u8; 12];
            let mut len = 0;
            for (j, group) in chain.iter().enumerate().skip(i) {
                let Some(slot) = digits.get_mut(len..len + group.len()) else {
                    break;
                };
                slot.copy_from_slice(&bytes[group.clone()]);
                len += group.len();
                let is_last = j + 1 == chain.len();
                if thousands && !is_last {
                    continue;
                }
                let touches_letter = (i == 0 && letter_before) || (is_last && letter_after);
                if is_phone(&digits[..len]) || (!touches_letter && matches!(len, 9 | 12)) {
                    return true;
                }
            }
        }
        false
    }

    /// Whether the text holds an address (see the module doc).
    fn has_address(&self) -> bool {
        (0..self.words.len()).any(|i| self.address_at(i))
    }

    /// Whether an address starts at word `i`.
    fn address_at(&self, i: usize) -> bool {
        let (next, after) = (i + 1, i + 2);
        if self.reads(i, ALLEY) {
            // ngõ 12, ngách 3/45, hẻm số 7; not bé Kiệt 5 tuổi.
            let number = if self.linked(next) && self.reads(next, &["số"]) { after } else { next };
            return self.linked(number) && self.is_number(number) && !self.reads(number + 1, AGE);
        }
        if self.reads(i, &["số"]) {
            // số nhà 12
            if self.linked(next) && self.reads(next, &["nhà"]) && self.linked(after) && self.is_number(after)
            {
                return true;
            }
            // số 15 phố Huế; not tổ dân phố số 5 đường …
            let numbers_a_group = i > 0 && self.reads(i - 1, GROUP);
            return !numbers_a_group
                && self.linked(next)
                && self.is_number(next)
                && self.linked(after)
                && self.reads(after, STREET);
        }
        // 8 đường Láng; not khu phố số 3 đường …, năm 2024 Phố …, 12/3 Phố …
        self.is_house_number(i)
            && !self.gap_before(i).ends_with(['/', ':', '.', ',', '-'])
            && !(i > 0 && self.linked(i) && self.reads(i - 1, NOT_HOUSE))
            && self.linked(next)
            && self.reads(next, STREET)
            && self.linked(after)
            && self.is_capitalised(after)
    }

    /// Whether a word or phrase of the list is in the text.
    fn has_offensive_words(&self) -> bool {
        let list = &*LIST;
        (0..self.words.len()).any(|i| {
            list.words.contains(self.lower(i))
                || list.phrases.get(self.folded(i)).is_some_and(|phrases| {
                    phrases.iter().any(|phrase| {
                        phrase.iter().enumerate().all(|(k, word)| self.reads(i + k, &[word.as_str()]))
                    })
                })
        })
    }
}

/// Characters that show as nothing, and could hide inside a word or a number.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Whether `digits` are a phone number: `0` or `84`, then a mobile (3, 5, 7, 8 or 9 and 8 digits)
/// or a landline (2 and 9 digits).
fn is_phone(digits: &[u8]) -> bool {
    let national = match digits {
        [b'8', b'4', rest @ ..] | [b'0', rest @ ..] => rest,
        _ => return false,
    };
    match national {
        [b'3' | b'5' | b'7' | b'8' | b'9', ..] => national.len() == 9,
        [b'2', ..] => national.len() == 10,
        _ => false,
    }
}

/// Whether `after` (what follows some digits) starts with a currency: `đ`, `đồng`, `d`, `dong`,
/// `VNĐ`, `VND` or `₫`, maybe after spaces.
fn is_currency(after: &str) -> bool {
    let after = after.trim_start();
    let word: String =
        after.chars().take_while(|c| c.is_alphanumeric()).take(5).flat_map(char::to_lowercase).collect();
    after.starts_with('₫') || matches!(word.as_str(), "đ" | "đồng" | "d" | "dong" | "vnđ" | "vnd")
}

/// Whether `word` reads as `entry` (both lowercase, composed): each letter as in `entry`, or with
/// some of its marks left off (`dit`, `đit`, `địt` read as `địt`; `đít` does not).
fn reads_as(word: &str, entry: &str) -> bool {
    let (mut word, mut entry) = (word.chars(), entry.chars());
    loop {
        match (word.next(), entry.next()) {
            (None, None) => return true,
            (Some(w), Some(e)) if w == e || lacks_marks_of(w, e) => {}
            _ => return false,
        }
    }
}

/// Whether `letter` is `entry` with some of its marks left off (`o` or `ô` for `ồ`, `d` for `đ`).
fn lacks_marks_of(letter: char, entry: char) -> bool {
    if letter.is_ascii() && entry.is_ascii() {
        return false; // two different plain letters, the common case
    }
    let (base, marks) = parts(letter);
    let (entry_base, entry_marks) = parts(entry);
    base == entry_base && marks.iter().all(|m| *m == '\0' || entry_marks.contains(m))
}

/// A letter cut into its base letter and its marks (`ộ` → `o`, circumflex, dot below; `đ` → `d`,
/// stroke), the unused places `'\0'`. Vietnamese letters have two marks at most; past four, marks
/// are not kept.
fn parts(c: char) -> (char, [char; 4]) {
    const STROKE: char = '\u{335}';
    if c == 'đ' {
        return ('d', [STROKE, '\0', '\0', '\0']);
    }
    let (mut base, mut marks, mut n) = (c, ['\0'; 4], 0);
    decompose_canonical(c, |part| {
        if n == 0 {
            base = part;
        } else if let Some(mark) = marks.get_mut(n - 1) {
            *mark = part;
        }
        n += 1;
    });
    (base, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(texts: &[&str]) {
        for text in texts {
            assert_eq!(screen(text), None, "{text:?}");
        }
    }

    fn hits(hit: Hit, texts: &[&str]) {
        for text in texts {
            assert_eq!(screen(text), Some(hit), "{text:?}");
        }
    }

    #[test]
    fn phone_numbers_hit() {
        hits(
            Hit::PersonalData,
            &[
                "0912345678",
                "Gọi chị 0912 345 678 nhé",
                "SĐT: 0912.345.678",
                "091-234-5678",
                "0 9 1 2 3 4 5 6 7 8",
                "+84 912 345 678",
                "84912345678",
                "+84912345678",
                "(+84) 912 345 678",
                "0352 123 456",
                "0789.123.456",
                "sđt0912345678",
                "0912345678chị",
                "0912345678-0987654321",
                "tổ 5 0912 345 678",
                "Liên hệ 0912\u{200B}345678",
                "024 3825 1234",
                "02438251234",
                "(024) 3825 1234",
                "+84 24 3825 1234",
                "0236 3821 234",
            ],
        );
    }

    #[test]
    fn id_numbers_hit() {
        hits(
            Hit::PersonalData,
            &[
                "CMND 012345678",
                "số CMND: 123 456 789",
                "123.456.789",
                "CCCD 001234567890",
                "001 234 567 890",
                "0012.3456.7890",
                "001-234-567-890",
                "căn cước 001234567890.",
            ],
        );
    }

    #[test]
    fn addresses_hit() {
        hits(
            Hit::PersonalData,
            &[
                "Nhà em ở số nhà 12, ngõ Văn Chương",
                "số nhà 5B",
                "SỐ NHÀ 7",
                "so nha 12",
                "ngõ 12 Láng Hạ",
                "Ngõ 12",
                "ngo 12",
                "ngách 3/45",
                "ngach 3",
                "hẻm 7",
                "hem 7",
                "kiệt 5 Phan Đình Phùng",
                "ngõ số 8",
                "số 15 phố Huế",
                "số 8 đường Láng",
                "so 8 duong Lang",
                "Số 15, phố Huế",
                "nhà chị ở 15 phố Huế",
                "ở 8 đường Láng",
                "15a Phố Huế",
            ],
        );
    }

    #[test]
    fn numbers_that_are_not_personal_data_pass() {
        clean(&[
            "tổ dân phố số 5",
            "Chi hội tổ dân phố số 5",
            "tổ 12",
            "năm 2024",
            "lớp 9",
            "khu phố số 3",
            "khu phố số 3 đường Láng",
            "500.000 đồng",
            "1.500.000đ",
            "500.000.000 đồng",
            "Quỹ khuyến học có 150.000.000",
            "1.500.000.000 đồng",
            "1.050.123.456",
            "500 000 000 VNĐ",
            "300.000.000₫",
            "12/03/2026",
            "12-03-2026",
            "12.03.2026",
            "7",
            "42",
            "8:30",
            "1234",
            "12345678",
            "1234 5678",
            "1234567890123",
            "mã AB123456789",
            "123456789abc",
            "90% hộ gia đình",
            "120 hội viên",
            "0912345",
            "1912345678",
            "ngõ xóm sạch đẹp",
            "bé Kiệt 5 tuổi rất ngoan",
            "bé Kiệt 5 tháng tuổi",
            "lắp 3 đường dây nóng",
            "năm 2024 Phố Huế được lát đá",
            "ngày 12/3 Phố Huế cấm xe",
            "Tổ dân phố số 5. Đường Láng mở rộng",
            "số 5 phường Láng Thượng",
            "ngỏ 12 lời",
        ]);
    }

    #[test]
    fn ordinary_sentences_pass() {
        clean(&[
            "Chi hội tổ dân phố số 5 phường Láng Thượng tổ chức tập huấn lúc 8:30 ngày 12/03/2026 cho 120 \
             hội viên, kinh phí 1.500.000đ",
            "Con lợn đất lớn quá",
            "Em đi chợ mua lon sữa",
            "Cảm ơn chị, bài viết rất hay",
            "Cam on chi, bai viet rat hay",
            "Năm 2024 chi hội vận động 90% hộ gia đình phân loại rác tại nguồn.",
            "Cháu học lớp 9, được quỹ khuyến học trao 500.000 đồng.",
            "Khu phố số 3 và tổ 12 đã hoàn thành kế hoạch quý I.",
            "Mẹ may áo cho con, vải còn dư mà, chị cứ lấy.",
            "Mua ốc cho cả nhà ăn tối.",
            "Không còn một cắc nào, đi đâu cũng khó.",
            "Đồ cho bé đã gom đủ, con chó nhà em cũng ngoan.",
            "Buổi sinh hoạt đầu buổi sáng rất vui 😊👍🏻",
            "Chúc mừng 8/3! Chị em mình cùng đi bộ đồng hành 5 km nhé.",
        ]);
    }

    #[test]
    fn offensive_words_hit_as_written() {
        hits(
            Hit::OffensiveWords,
            &["đồ lồn", "LỒN", "cặc", "địt", "con đĩ", "đéo biết", "buồi", "Đụ", "điếm", "nứng quá"],
        );
        hits(
            Hit::OffensiveWords,
            &["lồn".nfd().collect::<String>().as_str(), "cặc".nfd().collect::<String>().as_str()],
        );
    }

    #[test]
    fn look_alike_words_pass() {
        clean(&["lớn", "lợn", "lon", "cắc", "đi", "dịt", "di", "dit", "con di", "deo", "buoi", "đít"]);
    }

    #[test]
    fn abbreviations_hit() {
        hits(
            Hit::OffensiveWords,
            &[
                "dm",
                "DM",
                "dmm",
                "đm",
                "ĐM",
                "vcl",
                "vkl",
                "clgt",
                "đcm",
                "dcm",
                "ditme",
                "vailon",
                "đẹp vcl!",
            ],
        );
    }

    #[test]
    fn phrases_hit_with_and_without_accents() {
        hits(
            Hit::OffensiveWords,
            &[
                "địt mẹ",
                "Địt mẹ mày",
                "dit me",
                "DIT ME",
                "đit me",
                "dit, me",
                "địt con mẹ",
                "dit con me",
                "đụ má",
                "du ma",
                "óc chó",
                "oc cho",
                "thằng óc chó",
                "vãi lồn",
                "VÃI LỒN",
                "vai lon",
                "vai ca lon",
                "be de",
            ],
        );
    }

    #[test]
    fn phrases_with_other_accents_pass() {
        clean(&["dư mà", "dù mà", "ốc cho", "đít mẹ", "vài lon bia", "vai lớn", "bể đê"]);
    }

    #[test]
    fn personal_data_comes_first() {
        assert_eq!(screen("dm gọi 0912345678"), Some(Hit::PersonalData));
        assert_eq!(screen("vcl số nhà 12"), Some(Hit::PersonalData));
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let digits = "7".repeat(2000);
        let spaced = "1 ".repeat(1000);
        let dotted = "123.".repeat(500);
        let odd = [
            "",
            " ",
            "...!?,;:",
            "😊👍🏻👩‍👩‍👧",
            "\u{301}\u{301}a\u{300}\u{323}\u{302}",
            "İSTANBUL ǅ ß ΐ 가각",
            "\u{200B}\u{FEFF}\u{AD}",
            "số",
            "số nhà",
            "ngõ số",
            "15 phố",
            "địt",
            "đ",
            "+",
            "0",
            &digits,
            &spaced,
            &dotted,
        ];
        for text in odd {
            let _ = screen(text);
            for (at, _) in text.char_indices().take(100) {
                let _ = screen(&text[at..]);
                let _ = screen(&text[..at]);
            }
        }
        assert_eq!(screen(&digits), None);
    }

    #[test]
    fn list_is_words_and_phrases() {
        let source = include_str!("offensive_vi.txt");
        let entries: Vec<&str> = source
            .lines()
            .map(|line| line.split_once('#').map_or(line, |(entry, _)| entry).trim())
            .filter(|entry| !entry.is_empty())
            .collect();
        assert_eq!(entries.len(), LIST.words.len() + LIST.phrases.values().map(Vec::len).sum::<usize>());
        for entry in entries {
            assert_eq!(entry, entry.nfc().collect::<String>(), "{entry:?} is not composed");
            assert!(
                entry.chars().all(|c| c == ' ' || (c.is_alphanumeric() && !c.is_uppercase())),
                "{entry:?}"
            );
            assert_eq!(screen(entry), Some(Hit::OffensiveWords), "{entry:?}");
        }
    }

    #[test]
    fn keywords_are_composed_lowercase() {
        for word in ALLEY.iter().chain(STREET).chain(AGE).chain(GROUP).chain(NOT_HOUSE).chain(&["số", "nhà"])
        {
            assert_eq!(*word, word.nfc().collect::<String>().to_lowercase());
        }
    }
}
