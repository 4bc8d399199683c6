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

fn hms(s: &str) -> Option<f64> {
    let mut it = s.splitn(3, ':');
    let h: f64 = it.next()?.parse().ok()?;
    let m: f64 = it.next()?.parse().ok()?;
    let sec: f64 = it.next().unwrap_or("0").replace(',', ".").parse().ok()?;
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
            let tz_at = rest
                .find(['Z', 'z', '+'])
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
    }
}
