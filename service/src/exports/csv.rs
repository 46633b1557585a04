//! CSV (RFC 4180) as spreadsheets read it: UTF-8 with a byte-order mark, CRLF line ends, a
//! field quoted when it holds a comma, a quote or a line break, and text that would start a
//! formula defused with a leading `'`.

use super::{Cell, date, hanoi_time};

/// The byte-order mark that tells Excel the file is UTF-8.
pub const BOM: &str = "\u{feff}";

/// Free text for a spreadsheet: a leading `=`, `+`, `-`, `@`, tab or carriage return would
/// start a formula (or a DDE call), so it is prefixed with `'`.
pub fn defuse(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}").into() } else { s.into() }
}

fn push_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// Appends one record.
pub fn push_row(out: &mut String, cells: &[Cell]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Empty => {}
            Cell::Text(s) => push_field(out, &defuse(s)),
            Cell::Plain(s) => push_field(out, s),
            Cell::Int(n) => out.push_str(&n.to_string()),
            Cell::Number(x) => out.push_str(&x.to_string()),
            Cell::Date(d) => out.push_str(&date(*d)),
            Cell::Time(t) => out.push_str(&hanoi_time(*t)),
        }
    }
    out.push_str("\r\n");
}

/// The header record (headers are ours: never defused, never quoted but as needed).
pub fn push_headers(out: &mut String, headers: &[&str]) {
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, h);
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn cells_are_quoted_defused_and_in_hanoi_time() {
        let mut out = String::new();
        push_row(
            &mut out,
            &[
                Cell::text("=HYPERLINK(\"x\")"),
                Cell::text("Lê, Thị \"Hoa\""),
                Cell::text("-1"),
                Cell::Int(7),
                Cell::Empty,
                Cell::Date(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()),
                Cell::Time(Utc.with_ymd_and_hms(2026, 12, 6, 2, 30, 59).unwrap()),
                Cell::plain("+84977000001"),
            ],
        );
        assert_eq!(
            out,
            "\"'=HYPERLINK(\"\"x\"\")\",\"Lê, Thị \"\"Hoa\"\"\",'-1,7,,06/12/2026,06/12/2026 09:30,+84977000001\r\n"
        );
    }
}
