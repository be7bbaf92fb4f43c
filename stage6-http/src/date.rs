//! The `Date` header: `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 "IMF-fixdate").
//!
//! Every response carries one, and formatting a date is not free, so [`DateCache`] formats it
//! at most once a second and hands out the cached 29 bytes otherwise. The calendar maths is
//! done here from seconds since 1970 (no time-zone database needed: the header is always GMT).

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate.
pub const DATE_LEN: usize = 29;

// ANCHOR: civil
/// Converts days since 1970-01-01 into (year, month 1-12, day 1-31) in the proleptic
/// Gregorian calendar.
///
/// The trick is to count years from 1 March, so the leap day is the *last* day of the
/// year and month lengths repeat in a 153-day pattern (31,30,31,30,31 for Mar-Jul and again
/// for Aug-Dec). The calendar repeats every 400 years ("era", 146097 days), so we find the
/// era, the day within it, the year within it (correcting for the 4/100/400 leap rules),
/// then the month from the 153-day pattern.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // 0..=146096
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0 = March .. 11 = February
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
// ANCHOR_END: civil

/// Formats `unix_seconds` as an IMF-fixdate. Times after year 9999 are clamped to its last
/// second (the format has four year digits).
pub fn imf_fixdate(unix_seconds: u64) -> [u8; DATE_LEN] {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let secs = unix_seconds.min(253_402_300_799); // 9999-12-31 23:59:59
    let days = (secs / 86_400) as i64;
    let second_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    // 1970-01-01 was a Thursday, hence the table starting at Thu.
    out[..3].copy_from_slice(WEEKDAYS[(days % 7) as usize]);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[month as usize - 1]);
    let year = year as u32;
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], (second_of_day / 3600) as u32);
    two_digits(&mut out[20..22], (second_of_day / 60 % 60) as u32);
    two_digits(&mut out[23..25], (second_of_day % 60) as u32);
    out
}

fn two_digits(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

// ANCHOR: cache
/// The current date, re-formatted only when the second changes. One per worker thread.
#[derive(Debug, Clone)]
pub struct DateCache {
    second: u64,
    text: [u8; DATE_LEN],
    formats: u64,
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache::new()
    }
}

impl DateCache {
    /// An empty cache; the first call formats.
    pub fn new() -> DateCache {
        DateCache { second: u64::MAX, text: [0; DATE_LEN], formats: 0 }
    }

    /// The date for `now` (times before 1970 count as 1970).
    pub fn at(&mut self, now: SystemTime) -> &[u8; DATE_LEN] {
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.text = imf_fixdate(second);
            self.formats += 1;
        }
        &self.text
    }

    /// The date for the current time.
    pub fn now(&mut self) -> &[u8; DATE_LEN] {
        self.at(SystemTime::now())
    }

    /// The last date formatted (the epoch before the first call to [`DateCache::at`]).
    pub fn current(&self) -> &[u8; DATE_LEN] {
        &self.text
    }

    /// How many times this cache has formatted a date (to show, and test, that it caches).
    pub fn formats(&self) -> u64 {
        self.formats
    }
}
// ANCHOR_END: cache

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn date(secs: u64) -> String {
        String::from_utf8(imf_fixdate(secs).to_vec()).unwrap()
    }

    #[test]
    fn known_dates() {
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"); // RFC 9110's example
        assert_eq!(date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT"); // 400-year leap day
        assert_eq!(date(1_709_164_800), "Thu, 29 Feb 2024 00:00:00 GMT");
        assert_eq!(date(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT");
        assert_eq!(date(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(date(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn civil_dates_around_leap_rules() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(59), (1970, 3, 1)); // 1970 is not a leap year
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(47_540), (2100, 2, 28)); // 2100 is not a leap year
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }

    #[test]
    fn consecutive_days_never_skip_or_repeat() {
        let mut previous = civil_from_days(-800_000);
        for days in -799_999..800_000 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let next_day = (y, m, d) == (py, pm, pd + 1);
            let next_month = (y, m, d) == (py, pm + 1, 1) && pd >= 28;
            let next_year = (y, m, d) == (py + 1, 1, 1) && (pm, pd) == (12, 31);
            assert!(next_day || next_month || next_year, "{previous:?} -> {:?}", (y, m, d));
            previous = (y, m, d);
        }
    }

    #[test]
    fn cache_formats_once_per_second() {
        let mut cache = DateCache::new();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(cache.at(t), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(cache.at(t + Duration::from_millis(999)), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(cache.formats(), 1);
        assert_eq!(cache.at(t + Duration::from_secs(1)), b"Sun, 06 Nov 1994 08:49:38 GMT");
        assert_eq!(cache.formats(), 2);
        assert_eq!(cache.at(UNIX_EPOCH - Duration::from_secs(5)), b"Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
