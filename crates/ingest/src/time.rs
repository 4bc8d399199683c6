//! Calendar arithmetic and RFC 3339 timestamps, without a time crate.

/// Days from 1970-01-01 to the proleptic Gregorian date `y-m-d` (m 1..=12, d 1..=31).
/// Howard Hinnant's `days_from_civil`; exact for any `i64` year in range.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil year of a Unix time in milliseconds.
pub(crate) fn year_of_ms(ms: i64) -> i64 {
    let days = ms.div_euclid(86_400_000);
    // Inverse of days_from_civil, year only.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Milliseconds since the epoch of a date and time of day (already validated).
pub(crate) fn to_ms(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> i64 {
    let days = days_from_civil(y, mo, d);
    days * 86_400_000 + i64::from(h * 3_600_000 + mi * 60_000 + s * 1000 + ms)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:34:56.789+02:00`, `Z` or offset, optional
/// fraction of any length, `t`/space separator accepted) into milliseconds since the epoch.
/// On failure says what is wrong at which byte.
pub fn parse_rfc3339_ms(s: &[u8]) -> Result<i64, (usize, &'static str)> {
    let y = digits(s, 0, 4).ok_or((0, "expected a 4-digit year"))?;
    if s.get(4) != Some(&b'-') {
        return Err((4, "expected '-' after the year"));
    }
    let mo = digits(s, 5, 2)
        .filter(|m| (1..=12).contains(m))
        .ok_or((5, "expected a month 01-12"))?;
    if s.get(7) != Some(&b'-') {
        return Err((7, "expected '-' after the month"));
    }
    let y = i64::from(y);
    let d = digits(s, 8, 2)
        .filter(|&d| d >= 1 && d <= days_in_month(y, mo))
        .ok_or((8, "expected a day that exists in that month"))?;
    if !matches!(s.get(10), Some(b'T' | b't' | b' ')) {
        return Err((10, "expected 'T' between date and time"));
    }
    let h = digits(s, 11, 2)
        .filter(|&h| h < 24)
        .ok_or((11, "expected an hour 00-23"))?;
    if s.get(13) != Some(&b':') {
        return Err((13, "expected ':' after the hour"));
    }
    let mi = digits(s, 14, 2)
        .filter(|&m| m < 60)
        .ok_or((14, "expected minutes 00-59"))?;
    if s.get(16) != Some(&b':') {
        return Err((16, "expected ':' after the minutes"));
    }
    // 60 is a leap second: counted as 59.999.
    let sec = digits(s, 17, 2)
        .filter(|&x| x <= 60)
        .ok_or((17, "expected seconds 00-60"))?;
    let mut i = 19;
    let mut frac_ms = 0u32;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = s.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 3 {
                frac_ms = frac_ms * 10 + u32::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return Err((i, "expected digits after '.'"));
        }
        for _ in (i - start)..3 {
            frac_ms *= 10;
        }
    }
    let (sec, frac_ms) = if sec == 60 { (59, 999) } else { (sec, frac_ms) };
    let offset_min: i64 = match s.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(s, i + 1, 2)
                .filter(|&h| h < 24)
                .ok_or((i + 1, "expected offset hours 00-23"))?;
            if s.get(i + 3) != Some(&b':') {
                return Err((i + 3, "expected ':' in the UTC offset"));
            }
            let om = digits(s, i + 4, 2)
                .filter(|&m| m < 60)
                .ok_or((i + 4, "expected offset minutes 00-59"))?;
            i += 6;
            let v = i64::from(oh * 60 + om);
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return Err((i, "expected 'Z' or a UTC offset like +02:00")),
    };
    if i != s.len() {
        return Err((i, "unexpected bytes after the timestamp"));
    }
    Ok(to_ms(y, mo, d, h, mi, sec, frac_ms) - offset_min * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_rfc3339_ms(b"1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339_ms(b"2023-11-14T22:13:20.123Z"),
            Ok(1_700_000_000_123)
        );
        assert_eq!(
            parse_rfc3339_ms(b"2023-11-15T00:13:20.1234567+02:00"),
            Ok(1_700_000_000_123)
        );
        assert_eq!(parse_rfc3339_ms(b"1969-12-31T23:59:59.5Z"), Ok(-500));
        assert_eq!(year_of_ms(1_700_000_000_000), 2023);
        assert_eq!(year_of_ms(-1), 1969);
    }

    #[test]
    fn rejects_with_offsets() {
        assert_eq!(
            parse_rfc3339_ms(b"2023-02-29T00:00:00Z"),
            Err((8, "expected a day that exists in that month"))
        );
        assert_eq!(
            parse_rfc3339_ms(b"2023-01-01T00:00:00"),
            Err((19, "expected 'Z' or a UTC offset like +02:00"))
        );
        assert_eq!(
            parse_rfc3339_ms(b"2023-01-01T00:00:00Zx"),
            Err((20, "unexpected bytes after the timestamp"))
        );
        assert_eq!(parse_rfc3339_ms(b"abc"), Err((0, "expected a 4-digit year")));
        assert_eq!(parse_rfc3339_ms(b""), Err((0, "expected a 4-digit year")));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = parse_rfc3339_ms(&s);
        }

        #[test]
        fn year_round_trips(y in -5000i64..5000, m in 1u32..=12, d in 1u32..=28) {
            let ms = days_from_civil(y, m, d) * 86_400_000 + 3_600_000;
            proptest::prop_assert_eq!(year_of_ms(ms), y);
        }
    }
}
