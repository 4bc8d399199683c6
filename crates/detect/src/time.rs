//! Event timestamps to seconds: RFC 3339 / ISO 8601, `YYYY-MM-DD hh:mm:ss`,
//! syslog `Mmm dd hh:mm:ss` (no year: year 1970 is assumed, so only
//! differences are meaningful), access-log `10/Oct/2000:13:55:36 -0700`, and
//! epoch seconds or milliseconds.

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn month(s: &str) -> Option<i64> {
    const M: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let s = s.get(..3)?;
    M.iter()
        .position(|m| s.eq_ignore_ascii_case(m))
        .map(|i| i as i64 + 1)
}

/// `s.parse::<f64>().ok()`, with a fast path for what clocks hold:
/// digits, or digits `.` digits, 15 digits at most in all. Then the
/// digits as an integer `n` (below 2^53, so exact as an f64) over
/// `10^k` (`k` fraction digits, at most 15: exact too) is one IEEE
/// division of exact values, correctly rounded, which is the value the
/// correctly rounded `parse` gives (`tests::decimal_is_parse`). Anything
/// else is parsed by `parse`.
fn decimal(s: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = s.as_bytes();
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[..0]),
    };
    let dot = int.len() < b.len();
    if !int.is_empty()
        && (!dot || !frac.is_empty())
        && int.len() + frac.len() <= 15
        && int.iter().chain(frac).all(u8::is_ascii_digit)
    {
        let n = int
            .iter()
            .chain(frac)
            .fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        return Some(n as f64 / POW10[frac.len()]);
    }
    s.parse().ok()
}

/// `h:m[:s]` in seconds (the fields split as `splitn(3, ':')` splits
/// them, found by byte: `:` is ASCII).
fn hms(s: &str) -> Option<f64> {
    let colon = |t: &str| t.bytes().position(|c| c == b':');
    let i = colon(s)?;
    let (h, rest) = (&s[..i], &s[i + 1..]);
    let (m, sec) = match colon(rest) {
        Some(j) => (&rest[..j], &rest[j + 1..]),
        None => (rest, "0"),
    };
    let h: f64 = decimal(h)?;
    let m: f64 = decimal(m)?;
    // A decimal comma read as a point (no copy without one).
    let sec: f64 = match sec {
        t if t.bytes().any(|c| c == b',') => decimal(&t.replace(',', "."))?,
        t => decimal(t)?,
    };
    Some(h * 3600.0 + m * 60.0 + sec)
}

fn tz_offset(s: &str) -> Option<f64> {
    if s.is_empty() || s == "Z" || s == "z" {
        return Some(0.0);
    }
    let sign = if s.starts_with('-') { -1.0 } else { 1.0 };
    let d: String = s[1..].chars().filter(|c| c.is_ascii_digit()).collect();
    if d.len() != 4 {
        return None;
    }
    let h: f64 = d[..2].parse().ok()?;
    let m: f64 = d[2..].parse().ok()?;
    Some(sign * (h * 3600.0 + m * 60.0))
}

/// Seconds since the epoch (UTC) of a timestamp in one of the supported forms.
pub fn parse_time(s: &str) -> Option<f64> {
    match syslog_fixed(s.as_bytes()) {
        Some(t) => Some(t),
        None => parse_time_general(s),
    }
}

/// The fast path of [`parse_time`] for the commonest clock of text logs,
/// syslog's fixed 15 bytes `Mmm dd hh:mm:ss` (day space-padded or
/// two digits): the fields read at their places, no split, no search.
/// `None` for anything else, which [`parse_time_general`] (its slow
/// twin, `tests::syslog_fixed_is_the_general_parse`) then reads.
fn syslog_fixed(b: &[u8]) -> Option<f64> {
    let &[m0, m1, m2, b' ', d0, d1, b' ', h0, h1, b':', n0, n1, b':', s0, s1] = b else {
        return None;
    };
    let digit = |c: u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let mo = month_of([m0, m1, m2])?;
    let d = if d0 == b' ' { digit(d1)? } else { two(d0, d1)? };
    let (h, m, sec) = (two(h0, h1)?, two(n0, n1)?, two(s0, s1)?);
    Some(days_from_civil(1970, mo, d) as f64 * 86400.0 + (h * 3600 + m * 60 + sec) as f64)
}

/// A month's number from its first three letters, any case.
fn month_of(m: [u8; 3]) -> Option<i64> {
    const M: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
    ];
    let m = m.map(|c| c.to_ascii_lowercase());
    M.iter().position(|x| **x == m).map(|i| i as i64 + 1)
}

/// [`parse_time`] without its fast path: every supported form.
fn parse_time_general(s: &str) -> Option<f64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: f64 = s.parse().ok()?;
        return Some(if s.len() >= 13 { n / 1000.0 } else { n });
    }
    let b = s.as_bytes();
    // ISO: YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|±hh:mm]
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        let y: i64 = s[..4].parse().ok()?;
        let mo: i64 = s[5..7].parse().ok()?;
        let d: i64 = s[8..10].parse().ok()?;
        let mut secs = days_from_civil(y, mo, d) as f64 * 86400.0;
        if b.len() > 11 {
            let rest = &s[11..];
            // (By byte: the same index, these are ASCII.)
            let tz_at = rest
                .bytes()
                .position(|c| matches!(c, b'Z' | b'z' | b'+'))
                .or_else(|| rest.rfind('-'))
                .unwrap_or(rest.len());
            secs += hms(&rest[..tz_at])?;
            secs -= tz_offset(&rest[tz_at..])?;
        }
        return Some(secs);
    }
    // Access log: 10/Oct/2000:13:55:36 -0700
    if b.len() >= 20 && b[2] == b'/' && b[6] == b'/' {
        let d: i64 = s[..2].parse().ok()?;
        let mo = month(&s[3..6])?;
        let y: i64 = s[7..11].parse().ok()?;
        let (clock, tz) = s[12..].split_once(' ').unwrap_or((&s[12..], ""));
        return Some(days_from_civil(y, mo, d) as f64 * 86400.0 + hms(clock)? - tz_offset(tz)?);
    }
    // Syslog: Mmm dd hh:mm:ss
    let mut parts = s.split_whitespace();
    let mo = month(parts.next()?)?;
    let d: i64 = parts.next()?.parse().ok()?;
    let clock = parts.next()?;
    Some(days_from_civil(1970, mo, d) as f64 * 86400.0 + hms(clock)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_time("1970-01-02T00:00:00Z"), Some(86400.0));
        assert_eq!(parse_time("2025-10-26T23:20:06.5Z"), Some(1761520806.5));
        assert_eq!(parse_time("2025-10-26 23:20:06"), Some(1761520806.0));
        assert_eq!(
            parse_time("2025-10-26T23:20:06+01:00"),
            Some(1761520806.0 - 3600.0)
        );
        assert_eq!(parse_time("10/Oct/2000:13:55:36 -0700"), Some(971211336.0));
        assert_eq!(parse_time("Jan  2 00:00:10"), Some(86410.0));
        assert_eq!(parse_time("1761520806"), Some(1761520806.0));
        assert_eq!(parse_time("1761520806500"), Some(1761520806.5));
        assert_eq!(parse_time("not a time"), None);
        assert_eq!(parse_time("2025-10-26 23:20:06,25"), Some(1761520806.25));
        assert_eq!(
            parse_time("2026-01-01T00:00:00.0000001Z"),
            Some(1767225600.0000001)
        );
    }

    /// Syslog clocks and near misses: the fast path gives what the
    /// general parse gives, or leaves the text to it.
    #[test]
    fn syslog_fixed_is_the_general_parse() {
        for s in [
            "Jan  2 00:00:10",
            "Jan 02 00:00:10",
            "jan 02 00:00:10",
            "DEC 31 23:59:59",
            "Jul 72 31:09:92",
            "Feb 30 99:99:99",
            "Jun 00 00:00:00",
            "Jan 2  00:00:10",
            "Jan  2 0:00:10 ",
            "Jan +2 00:00:10",
            "Jan -2 00:00:10",
            "Jan 2x 00:00:10",
            "Jax 02 00:00:10",
            "Jan 02 00:00:1a",
            "Jan 02 00-00:10",
            "Jan\t02 00:00:10",
            "Jan 02 00:00:10.5",
            " Jan 02 00:00:10",
        ] {
            let fast = syslog_fixed(s.as_bytes());
            let slow = parse_time_general(s);
            if let Some(t) = fast {
                assert_eq!(Some(t.to_bits()), slow.map(f64::to_bits), "{s:?}");
            }
            assert_eq!(parse_time(s).map(f64::to_bits), slow.map(f64::to_bits), "{s:?}");
        }
        assert!(syslog_fixed(b"Jan  2 00:00:10").is_some());
        assert!(syslog_fixed(b"Jul 72 31:09:92").is_some());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        #[test]
        fn syslog_fixed_is_the_general_parse_on_generated_clocks(
            s in "(Jan|feb|MAR|Apr|Mai|Xyz|[a-zA-Z]{3})[ \t](( [0-9])|[0-9 +-]{2}) [0-9 +]{2}:[0-9:]{2}:[0-9.]{2}"
        ) {
            if let Some(t) = syslog_fixed(s.as_bytes()) {
                proptest::prop_assert_eq!(Some(t.to_bits()), parse_time_general(&s).map(f64::to_bits), "{:?}", s);
            }
            proptest::prop_assert_eq!(parse_time(&s).map(f64::to_bits), parse_time_general(&s).map(f64::to_bits));
        }
    }

    /// The slow twin of [`decimal`].
    fn decimal_slow(s: &str) -> Option<f64> {
        s.parse().ok()
    }

    #[test]
    fn decimal_is_parse() {
        for s in [
            "",
            ".",
            "0",
            "00",
            "5.",
            ".5",
            "59.999999999999",
            "123456789012345",
            "1234567890123456",
            "12345678.9012345",
            "1234567.89012345678",
            "0.1",
            "0.3",
            "9.999999999999999",
            "+1",
            "-1",
            "1e3",
            "1_0",
            "inf",
            "NaN",
            "١",
            "06.500",
        ] {
            assert_eq!(
                decimal(s).map(f64::to_bits),
                decimal_slow(s).map(f64::to_bits),
                "{s:?}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        #[test]
        fn decimal_is_parse_on_generated_text(s in "[0-9]{0,12}(\\.[0-9]{0,12})?|[0-9.,e+-]{0,8}") {
            proptest::prop_assert_eq!(decimal(&s).map(f64::to_bits), decimal_slow(&s).map(f64::to_bits), "{:?}", s);
        }

        #[test]
        fn hms_is_the_old_hms(s in "[0-9]{0,3}(:[0-9]{0,2}(:[0-9]{0,2}([.,:][0-9]{0,9})?)?)?|[0-9:.,]{0,10}") {
            let old = || -> Option<f64> {
                let mut it = s.splitn(3, ':');
                let h: f64 = it.next()?.parse().ok()?;
                let m: f64 = it.next()?.parse().ok()?;
                let sec: f64 = it.next().unwrap_or("0").replace(',', ".").parse().ok()?;
                Some(h * 3600.0 + m * 60.0 + sec)
            };
            proptest::prop_assert_eq!(hms(&s).map(f64::to_bits), old().map(f64::to_bits), "{}", s);
        }
    }
}
