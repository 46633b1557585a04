//! Hanoi's calendar: business days are days in Asia/Ho_Chi_Minh (UTC+7, no daylight saving).

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

/// Hanoi's offset from UTC, all year.
pub const HANOI_OFFSET: Duration = Duration::hours(7);

/// The calendar day of an instant in Hanoi.
pub fn hanoi_day(at: DateTime<Utc>) -> NaiveDate {
    (at + HANOI_OFFSET).date_naive()
}

/// The instant a Hanoi day begins.
pub fn hanoi_day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc() - HANOI_OFFSET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_days_are_hanoi_days() {
        let late_utc = DateTime::parse_from_rfc3339("2026-03-31T18:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(hanoi_day(late_utc), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
    }

    #[test]
    fn a_hanoi_day_runs_from_17_00_utc_the_day_before() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let start = hanoi_day_start(day);
        assert_eq!(start.to_rfc3339(), "2026-12-02T17:00:00+00:00");
        assert_eq!(hanoi_day(start), day);
        assert_eq!(hanoi_day(start - Duration::seconds(1)), day.pred_opt().unwrap());
    }
}
