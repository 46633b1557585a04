//! A person's identifying inputs: phone number, full name, password, email.

use chrono::{NaiveDate, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{ApiError, InputProblem};

/// A Vietnamese mobile number in its one stored form, `+84` followed by nine digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts `0912 345 678`, `+84912345678`, `84912345678`, `(+84) 912-345-678`…
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_input(field, InputProblem::InvalidPhone);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ApiError::bad_input(field, InputProblem::Required));
        }
        if trimmed.len() > 32 {
            return Err(bad());
        }
        let mut digits = String::with_capacity(12);
        for (i, c) in trimmed.char_indices() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 || trimmed[..i].chars().all(|p| p == '(') => {}
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => return Err(bad()),
            }
        }
        let national = if let Some(rest) = digits.strip_prefix("84").filter(|r| r.len() == 9) {
            rest
        } else if let Some(rest) = digits.strip_prefix('0').filter(|r| r.len() == 9) {
            rest
        } else {
            return Err(bad());
        };
        // Mobile ranges since the 2018 renumbering: 03x, 05x, 07x, 08x, 09x.
        if !matches!(national.as_bytes().first(), Some(b'3' | b'5' | b'7' | b'8' | b'9')) {
            return Err(bad());
        }
        Ok(Self(format!("+84{national}")))
    }

    /// The stored form, `+84…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's full name: trimmed, single-spaced, 2–120 characters, letters and a few marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, ApiError> {
        let name = super::normalise_text(raw);
        if name.is_empty() {
            return Err(ApiError::bad_input(field, InputProblem::Required));
        }
        let len = name.chars().count();
        let letters_only = name.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '\'' | '-' | '.'));
        // At least two letters that show: a name of invisible fillers is no name.
        let visible =
            name.chars().filter(|c| c.is_alphabetic() && !super::text::is_invisible_letter(*c)).count();
        if !(2..=120).contains(&len) || !letters_only || visible < 2 {
            return Err(ApiError::bad_input(field, InputProblem::InvalidName));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that meets the minimum strength. Never printed: `Debug` is redacted.
pub struct Password(SecretString);

/// Passwords people pick first; refused whatever their length.
const COMMON_PASSWORDS: &[&str] = &[
    "password1",
    "password123",
    "matkhau123",
    "matkhau1",
    "12345678a",
    "abc12345",
    "abcd1234",
    "qwerty123",
    "iloveyou1",
    "a12345678",
    "123456789a",
    "admin123",
    "hanoi123",
    "vietnam123",
];

impl Password {
    /// Rules (NIST 800-63B spirit): 8–128 characters, at least one letter and one digit, not a
    /// well-known password, not built around the phone number.
    pub fn parse(
        raw: &SecretString,
        phone: Option<&PhoneNumber>,
        field: &'static str,
    ) -> Result<Self, ApiError> {
        let pw = raw.expose_secret();
        if pw.is_empty() {
            return Err(ApiError::bad_input(field, InputProblem::Required));
        }
        let len = pw.chars().count();
        if len > 128 {
            return Err(ApiError::bad_input(field, InputProblem::TooLong));
        }
        let weak = len < 8
            || !pw.chars().any(char::is_alphabetic)
            || !pw.chars().any(|c| c.is_ascii_digit())
            || COMMON_PASSWORDS.contains(&pw.to_lowercase().as_str())
            || phone.is_some_and(|p| pw.contains(&p.as_str()[3..]));
        if weak {
            return Err(ApiError::bad_input(field, InputProblem::WeakPassword));
        }
        Ok(Self(raw.clone()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An email address, lowercased; only the shape `local@domain.tld` is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, ApiError> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !email.chars().any(char::is_whitespace);
        if !valid {
            return Err(ApiError::bad_input(field, InputProblem::InvalidEmail));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a birth date: not in the future, not more than 120 years ago.
pub fn check_birth_date(birth: Option<NaiveDate>, field: &'static str) -> Result<(), ApiError> {
    if let Some(birth) = birth {
        let today = Utc::now().date_naive();
        let oldest = today.checked_sub_months(chrono::Months::new(12 * 120));
        if birth > today || oldest.is_some_and(|o| birth < o) {
            return Err(ApiError::bad_input(field, InputProblem::OutOfRange));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(s: &str) -> Result<String, ApiError> {
        PhoneNumber::parse(s, "phone").map(|p| p.as_str().to_owned())
    }

    #[test]
    fn phone_numbers_in_every_common_form_normalise_to_one() {
        for raw in
            ["0912345678", "+84912345678", "84912345678", "0912 345 678", "(+84) 912-345-678", "091.234.5678"]
        {
            assert_eq!(phone(raw).unwrap(), "+84912345678", "{raw}");
        }
        assert_eq!(phone("0387654321").unwrap(), "+84387654321");
    }

    #[test]
    fn non_mobile_or_malformed_numbers_are_refused() {
        for raw in
            ["", "091234567", "09123456789", "0212345678", "+1 912 345 678", "09l2345678", "0912+345678"]
        {
            assert!(phone(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(
            PersonName::parse("  Nguyễn   Thị  Hoa ", "full_name").unwrap().as_str(),
            "Nguyễn Thị Hoa"
        );
        assert!(PersonName::parse("A", "full_name").is_err());
        assert!(PersonName::parse("Hoa <script>", "full_name").is_err());
    }

    #[test]
    fn weak_passwords_are_refused() {
        let p = PhoneNumber::parse("0912345678", "phone").unwrap();
        let check = |s: &str| Password::parse(&SecretString::from(s), Some(&p), "password").is_ok();
        assert!(check("hoa-sen-2024"));
        assert!(!check("short1"));
        assert!(!check("onlyletters"));
        assert!(!check("1234567890"));
        assert!(!check("Matkhau123"));
        assert!(!check("a912345678"));
        assert!(!check(&"a1".repeat(65)));
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse(&SecretString::from("hoa-sen-2024"), None, "password").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" Hoa@Example.VN ", "email").unwrap().as_str(), "hoa@example.vn");
        assert!(Email::parse("hoa@", "email").is_err());
        assert!(Email::parse("hoa example@x.vn", "email").is_err());
    }
}
