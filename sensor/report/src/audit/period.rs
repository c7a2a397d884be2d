//! Report periods and times: what the command line accepts, and how reports write times.
//!
//! # Contract
//! - [`parse_time`] accepts an RFC 3339 timestamp with an offset (`2025-03-01T08:00:00Z`,
//!   `2025-03-01T09:00:00+01:00`) or a bare date `YYYY-MM-DD`, read as midnight UTC. A
//!   timestamp without an offset is refused (its time zone would be a guess).
//! - [`Period::last_complete`] gives the last whole day, week (Monday 00:00 UTC to the next
//!   Monday) or calendar month before `now_us`, in UTC, as `[from_us, to_us)`; a period
//!   that ends exactly at `now_us` counts as complete.
//! - [`rfc3339`] writes a time as RFC 3339 UTC; a time outside what RFC 3339 can write
//!   (years 0000…9999) is clamped to the nearest end, never a panic.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Microseconds in a day (UTC days have no leap seconds).
pub(crate) const DAY_US: i64 = 86_400_000_000;
/// Microseconds in an hour.
pub(crate) const HOUR_US: i64 = 3_600_000_000;

/// 0000-01-01T00:00:00Z, the earliest time RFC 3339 can write, µs since the epoch.
const EARLIEST_US: i64 = -62_167_219_200_000_000;

/// `us` (µs since the epoch) as a timestamp, clamped into what RFC 3339 can write (years
/// 0000 to 9999).
pub(crate) fn timestamp(us: i64) -> Timestamp {
    match Timestamp::from_microsecond(us.max(EARLIEST_US)) {
        Ok(t) => t,
        Err(_) => Timestamp::MAX,
    }
}

/// `us` as RFC 3339 UTC with six fraction digits (`2025-03-01T08:00:00.000000Z`), clamped.
pub fn rfc3339(us: i64) -> String {
    format!("{:.6}", timestamp(us))
}

/// `us` as RFC 3339 UTC to the second (`2025-03-01T08:00:00Z`), for people to read; clamped.
pub fn rfc3339_seconds(us: i64) -> String {
    format!("{:.0}", timestamp(us))
}

/// `us` as `YYYY-MM-DD HH:MM` UTC, for chart labels and tables; clamped.
pub(crate) fn short(us: i64) -> String {
    timestamp(us).strftime("%Y-%m-%d %H:%M").to_string()
}

/// The UTC calendar date `us` falls on; clamped.
fn date_of(us: i64) -> Date {
    timestamp(us).to_zoned_datetime(TimeZone::UTC).date()
}

/// Midnight UTC at the start of `d`, µs since the epoch; `None` past the calendar's ends.
fn midnight(d: Date) -> Option<i64> {
    d.to_zoned_datetime(TimeZone::UTC).ok().map(|z| z.timestamp().as_microsecond())
}

/// A time for the command line, in µs since the epoch: an RFC 3339 timestamp with an offset,
/// or a date `YYYY-MM-DD` (midnight UTC). Err says what was expected.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let is_date = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if is_date {
        let d: Date = t.parse().map_err(|e| format!("{s:?}: not a valid date: {e}"))?;
        return midnight(d).ok_or_else(|| format!("{s:?}: date out of range"));
    }
    let has_time = t.contains(['T', 't', ' ']);
    if !has_time {
        return Err(format!("{s:?}: expected an RFC 3339 time (2025-03-01T08:00:00Z) or a date (2025-03-01)"));
    }
    let ts: Timestamp = t.parse().map_err(|e| {
        format!("{s:?}: expected an RFC 3339 time with an offset (2025-03-01T08:00:00Z) or a date (2025-03-01): {e}")
    })?;
    Ok(ts.as_microsecond())
}

/// A report period the command line names: `--period daily|weekly|monthly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One UTC day, midnight to midnight.
    Daily,
    /// One week, Monday 00:00 UTC to the next Monday 00:00 UTC.
    Weekly,
    /// One calendar month in UTC, the 1st 00:00 to the next month's 1st 00:00.
    Monthly,
}

impl Period {
    /// `daily`, `weekly` or `monthly` (any case). Err names the accepted words.
    pub fn parse(s: &str) -> Result<Period, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" | "day" => Ok(Period::Daily),
            "weekly" | "week" => Ok(Period::Weekly),
            "monthly" | "month" => Ok(Period::Monthly),
            _ => Err(format!("{s:?}: not a period (expected daily, weekly or monthly)")),
        }
    }

    /// `daily`, `weekly` or `monthly`.
    pub fn name(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
        }
    }

    /// The last complete period before `now_us`, as `(from_us, to_us)` (`to` exclusive), in
    /// UTC. A `now_us` beyond the calendar's range is clamped first.
    pub fn last_complete(self, now_us: i64) -> (i64, i64) {
        let today = date_of(now_us);
        let to_date = match self {
            Period::Daily => today,
            Period::Weekly => {
                let back = i64::from(today.weekday().to_monday_zero_offset());
                today.checked_sub(jiff::Span::new().days(back)).unwrap_or(today)
            }
            Period::Monthly => today.first_of_month(),
        };
        let from_date = match self {
            Period::Daily => to_date.yesterday().ok(),
            Period::Weekly => to_date.checked_sub(jiff::Span::new().days(7)).ok(),
            Period::Monthly => to_date.yesterday().ok().map(|d| d.first_of_month()),
        };
        let to = midnight(to_date).unwrap_or(now_us);
        let from = from_date.and_then(midnight).unwrap_or(Timestamp::MIN.as_microsecond()).min(to);
        (from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        parse_time(s).unwrap()
    }

    #[test]
    fn parses_rfc3339_and_dates() {
        assert_eq!(t("1970-01-01T00:00:00Z"), 0);
        assert_eq!(t("1970-01-01"), 0);
        assert_eq!(t("1970-01-02"), DAY_US);
        assert_eq!(t("2025-03-01T09:00:00+01:00"), t("2025-03-01T08:00:00Z"));
        assert_eq!(t("2025-03-01T08:00:00.5Z") - t("2025-03-01T08:00:00Z"), 500_000);
        assert_eq!(t(" 2024-02-29 "), t("2024-02-29T00:00:00Z"));
        assert_eq!(t("1969-12-31"), -DAY_US);
    }

    #[test]
    fn refuses_bad_times() {
        for bad in [
            "",
            "yesterday",
            "2025-02-29",
            "2025-13-01",
            "2025-3-1",
            "2025-03-01T08:00:00",
            "2025-03-01T25:00:00Z",
            "12345",
            "2025-03-01Z",
        ] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad:?}: {e}");
        }
    }

    #[test]
    fn period_words() {
        assert_eq!(Period::parse("daily"), Ok(Period::Daily));
        assert_eq!(Period::parse("Weekly"), Ok(Period::Weekly));
        assert_eq!(Period::parse("monthly"), Ok(Period::Monthly));
        assert!(Period::parse("hourly").unwrap_err().contains("daily, weekly or monthly"));
    }

    #[test]
    fn daily_is_yesterday() {
        let now = t("2025-03-01T08:30:00Z");
        assert_eq!(Period::Daily.last_complete(now), (t("2025-02-28"), t("2025-03-01")));
        // At midnight exactly, the day just ended is complete.
        assert_eq!(Period::Daily.last_complete(t("2025-03-01")), (t("2025-02-28"), t("2025-03-01")));
        // One microsecond before midnight, it is not.
        assert_eq!(Period::Daily.last_complete(t("2025-03-01") - 1), (t("2025-02-27"), t("2025-02-28")));
        // Before the epoch.
        assert_eq!(Period::Daily.last_complete(t("1969-12-31T12:00:00Z")), (t("1969-12-30"), t("1969-12-31")));
    }

    #[test]
    fn weeks_start_monday() {
        // 2025-03-05 is a Wednesday; the last whole week is Mon 2025-02-24 .. Mon 2025-03-03.
        let wed = t("2025-03-05T12:00:00Z");
        assert_eq!(Period::Weekly.last_complete(wed), (t("2025-02-24"), t("2025-03-03")));
        // Sunday late still belongs to the running week.
        let sun = t("2025-03-09T23:59:59Z");
        assert_eq!(Period::Weekly.last_complete(sun), (t("2025-02-24"), t("2025-03-03")));
        // Monday 00:00 closes the week before.
        assert_eq!(Period::Weekly.last_complete(t("2025-03-10")), (t("2025-03-03"), t("2025-03-10")));
        // A week across a year end and a leap day.
        assert_eq!(Period::Weekly.last_complete(t("2025-01-01")), (t("2024-12-23"), t("2024-12-30")));
        assert_eq!(Period::Weekly.last_complete(t("2024-03-04T01:00:00Z")), (t("2024-02-26"), t("2024-03-04")));
        // The epoch was a Thursday.
        assert_eq!(Period::Weekly.last_complete(0), (t("1969-12-22"), t("1969-12-29")));
    }

    #[test]
    fn months_follow_the_calendar() {
        // Leap February.
        let (f, to) = Period::Monthly.last_complete(t("2024-03-15T10:00:00Z"));
        assert_eq!((f, to), (t("2024-02-01"), t("2024-03-01")));
        assert_eq!(to - f, 29 * DAY_US);
        // Common February.
        let (f, to) = Period::Monthly.last_complete(t("2025-03-01"));
        assert_eq!((f, to), (t("2025-02-01"), t("2025-03-01")));
        assert_eq!(to - f, 28 * DAY_US);
        // 1900 is not a leap year, 2000 is.
        let (f, to) = Period::Monthly.last_complete(t("1900-03-02"));
        assert_eq!(to - f, 28 * DAY_US);
        let (f, to) = Period::Monthly.last_complete(t("2000-03-31T23:59:59Z"));
        assert_eq!(to - f, 29 * DAY_US);
        // Across the year end; 31-day months.
        assert_eq!(Period::Monthly.last_complete(t("2025-01-31")), (t("2024-12-01"), t("2025-01-01")));
        let (f, to) = Period::Monthly.last_complete(t("2025-08-01"));
        assert_eq!(to - f, 31 * DAY_US);
        let (f, to) = Period::Monthly.last_complete(t("2025-07-01"));
        assert_eq!(to - f, 30 * DAY_US);
    }

    #[test]
    fn extreme_times_clamp() {
        for now in [i64::MIN, i64::MAX, 0, -1] {
            for p in [Period::Daily, Period::Weekly, Period::Monthly] {
                let (f, to) = p.last_complete(now);
                assert!(f <= to, "{p:?} {now}");
            }
        }
        assert!(rfc3339(i64::MAX).starts_with("9999-12-3"), "{}", rfc3339(i64::MAX));
        assert_eq!(rfc3339(i64::MIN), "0000-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(EARLIEST_US - 1), "0000-01-01T00:00:00.000000Z");
        assert_eq!(parse_time("0000-01-01").unwrap(), EARLIEST_US);
        assert_eq!(rfc3339(1_500_000), "1970-01-01T00:00:01.500000Z");
        assert_eq!(rfc3339_seconds(1_500_000), "1970-01-01T00:00:01Z");
    }
}
