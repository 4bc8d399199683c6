//! Hand-written parsers for the presets (no regex: one pass over the line).

use crate::ParsedHeader;

pub(crate) const SYSLOG_FIELDS: &[&str] = &["priority", "timestamp", "host", "app", "pid"];
pub(crate) const RFC5424_FIELDS: &[&str] = &[
    "priority",
    "version",
    "timestamp",
    "host",
    "app",
    "procid",
    "msgid",
    "structured_data",
];
pub(crate) const COMBINED_FIELDS: &[&str] = &[
    "client_ip",
    "ident",
    "user",
    "timestamp",
    "method",
    "uri",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
];

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn digits(b: &[u8], i: usize, min: usize, max: usize) -> Option<usize> {
    let mut n = 0;
    while n < max && b.get(i + n).is_some_and(u8::is_ascii_digit) {
        n += 1;
    }
    (n >= min).then_some(i + n)
}

fn byte(b: &[u8], i: usize, c: u8) -> Option<usize> {
    (b.get(i) == Some(&c)).then_some(i + 1)
}

/// `hh:mm:ss[.frac]` at `i`; returns the end.
fn clock(b: &[u8], i: usize) -> Option<usize> {
    let i = digits(b, i, 2, 2)?;
    let i = byte(b, i, b':')?;
    let i = digits(b, i, 2, 2)?;
    let i = byte(b, i, b':')?;
    let i = digits(b, i, 2, 2)?;
    if b.get(i) == Some(&b'.') || b.get(i) == Some(&b',') {
        if let Some(j) = digits(b, i + 1, 1, 9) {
            return Some(j);
        }
    }
    Some(i)
}

/// BSD timestamp `Mmm dd hh:mm:ss` (day may be space-padded); returns the length.
pub(crate) fn bsd_timestamp(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let m = b.get(..3)?;
    if !MONTHS.iter().any(|mm| &mm[..] == m) {
        return None;
    }
    let mut i = byte(b, 3, b' ')?;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let i = digits(b, i, 1, 2)?;
    let i = byte(b, i, b' ')?;
    clock(b, i)
}

/// RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.frac][Z|±HH:MM]`); returns the length.
pub(crate) fn rfc3339_timestamp(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let i = digits(b, 0, 4, 4)?;
    let i = byte(b, i, b'-')?;
    let i = digits(b, i, 2, 2)?;
    let i = byte(b, i, b'-')?;
    let i = digits(b, i, 2, 2)?;
    let i = match b.get(i) {
        Some(b'T' | b't') => i + 1,
        _ => return None,
    };
    let i = clock(b, i)?;
    match b.get(i) {
        Some(b'Z' | b'z') => Some(i + 1),
        Some(b'+' | b'-') => {
            let j = digits(b, i + 1, 2, 2)?;
            let j = byte(b, j, b':')?;
            digits(b, j, 2, 2)
        }
        _ => Some(i),
    }
}

/// `<digits>` at the start (1 to 3 digits); returns (digits, end).
fn pri(b: &[u8]) -> Option<(usize, usize)> {
    let i = byte(b, 0, b'<')?;
    let j = digits(b, i, 1, 3)?;
    let k = byte(b, j, b'>')?;
    Some((j, k))
}

fn token_end(b: &[u8], i: usize) -> usize {
    memchr::memchr(b' ', &b[i..]).map_or(b.len(), |n| i + n)
}

fn set(out: &mut ParsedHeader, k: usize, v: &str) {
    out.values[k].push_str(v);
}

/// RFC 3164 syslog: `[<PRI>]TIMESTAMP HOST [APP[[PID]]: ]MSG`.
pub(crate) fn syslog(line: &str, out: &mut ParsedHeader) -> bool {
    let b = line.as_bytes();
    let mut p = 0;
    let mut pri_span = None;
    if let Some((d, end)) = pri(b) {
        pri_span = Some((1, d));
        p = end;
    }
    let ts_len = bsd_timestamp(&line[p..]).or_else(|| rfc3339_timestamp(&line[p..]));
    let Some(ts_len) = ts_len else { return false };
    let ts = (p, p + ts_len);
    p += ts_len;
    if b.get(p) != Some(&b' ') {
        return false;
    }
    while b.get(p) == Some(&b' ') {
        p += 1;
    }
    let host_end = token_end(b, p);
    if host_end == p {
        return false;
    }
    let host = (p, host_end);
    p = host_end;
    if b.get(p) == Some(&b' ') {
        p += 1;
    }
    // Tag: APP[PID]: or APP:
    let mut app = (p, p);
    let mut pid = (p, p);
    let mut content_start = p;
    let app_end = p + b[p..]
        .iter()
        .position(|&c| c == b' ' || c == b'[' || c == b':')
        .unwrap_or(b.len() - p);
    if app_end > p {
        let mut q = app_end;
        let mut pid_span = (q, q);
        let mut ok = true;
        if b.get(q) == Some(&b'[') {
            match b[q + 1..].iter().position(|&c| c == b']' || c == b' ') {
                Some(n) if b[q + 1 + n] == b']' && n > 0 => {
                    pid_span = (q + 1, q + 1 + n);
                    q = q + 1 + n + 1;
                }
                _ => ok = false,
            }
        }
        if ok && b.get(q) == Some(&b':') && matches!(b.get(q + 1), None | Some(b' ')) {
            app = (p, app_end);
            pid = pid_span;
            content_start = (q + 2).min(b.len());
        }
    }
    if let Some((s, e)) = pri_span {
        set(out, 0, &line[s..e]);
    }
    set(out, 1, &line[ts.0..ts.1]);
    set(out, 2, &line[host.0..host.1]);
    set(out, 3, &line[app.0..app.1]);
    set(out, 4, &line[pid.0..pid.1]);
    out.content.push_str(&line[content_start..]);
    true
}

/// RFC 5424: `<PRI>VERSION SP TS SP HOST SP APP SP PROCID SP MSGID SP SD [SP MSG]`.
pub(crate) fn rfc5424(line: &str, out: &mut ParsedHeader) -> bool {
    let b = line.as_bytes();
    let Some((d, mut p)) = pri(b) else { return false };
    let pri_span = (1, d);
    let Some(v_end) = digits(b, p, 1, 2) else {
        return false;
    };
    if b[p] == b'0' {
        return false;
    }
    let mut spans = [(0usize, 0usize); 8];
    spans[0] = pri_span;
    spans[1] = (p, v_end);
    p = v_end;
    for (k, span) in spans.iter_mut().enumerate().take(7).skip(2) {
        if b.get(p) != Some(&b' ') {
            return false;
        }
        p += 1;
        let e = token_end(b, p);
        if e == p {
            return false;
        }
        if k == 2 && &line[p..e] != "-" && rfc3339_timestamp(&line[p..e]) != Some(e - p) {
            return false;
        }
        *span = (p, e);
        p = e;
    }
    if b.get(p) != Some(&b' ') {
        return false;
    }
    p += 1;
    // STRUCTURED-DATA: `-` or one or more `[...]` with quoted, escaped params.
    let sd_start = p;
    if b.get(p) == Some(&b'-') {
        p += 1;
    } else {
        if b.get(p) != Some(&b'[') {
            return false;
        }
        while b.get(p) == Some(&b'[') {
            p += 1;
            let mut in_quote = false;
            loop {
                match b.get(p) {
                    None => return false,
                    Some(b'\\') if in_quote => p += 2,
                    Some(b'"') => {
                        in_quote = !in_quote;
                        p += 1;
                    }
                    Some(b']') if !in_quote => {
                        p += 1;
                        break;
                    }
                    Some(_) => p += 1,
                }
            }
        }
    }
    spans[7] = (sd_start, p);
    let msg = match b.get(p) {
        None => "",
        Some(b' ') => {
            let m = &line[p + 1..];
            let m = m.strip_prefix('\u{FEFF}').unwrap_or(m);
            if m == "-" {
                ""
            } else {
                m
            }
        }
        Some(_) => return false,
    };
    for (k, (s, e)) in spans.iter().enumerate() {
        set(out, k, &line[*s..*e]);
    }
    out.content.push_str(msg);
    true
}

/// Apache/Nginx combined (or common) log format.
pub(crate) fn combined(line: &str, out: &mut ParsedHeader) -> bool {
    let b = line.as_bytes();
    let mut sp = [(0usize, 0usize); 13];
    let mut p = 0;
    // client_ip, ident, user
    for span in sp.iter_mut().take(3) {
        let e = token_end(b, p);
        if e == p || b.get(e) != Some(&b' ') {
            return false;
        }
        *span = (p, e);
        p = e + 1;
    }
    // [timestamp]
    if b.get(p) != Some(&b'[') {
        return false;
    }
    let Some(close) = memchr::memchr(b']', &b[p..]) else {
        return false;
    };
    sp[3] = (p + 1, p + close);
    p += close + 1;
    // "request"
    let Some(q) = quoted(b, p + 1).filter(|_| b.get(p) == Some(&b' ')) else {
        return false;
    };
    let req = q.0;
    p = q.1;
    // status, bytes
    if b.get(p) != Some(&b' ') {
        return false;
    }
    let Some(st_end) = digits(b, p + 1, 3, 3) else {
        return false;
    };
    sp[9] = (p + 1, st_end);
    p = st_end;
    if b.get(p) != Some(&b' ') {
        return false;
    }
    let by_end = if b.get(p + 1) == Some(&b'-') {
        p + 2
    } else {
        match digits(b, p + 1, 1, 20) {
            Some(e) => e,
            None => return false,
        }
    };
    sp[10] = (p + 1, by_end);
    p = by_end;
    match b.get(p) {
        None => {}
        Some(b' ') => {
            // "referer" "user_agent", then anything (extra nginx fields).
            let Some((r, e)) = quoted(b, p + 1) else {
                return false;
            };
            sp[11] = r;
            p = e;
            if b.get(p) != Some(&b' ') {
                return false;
            }
            let Some((u, _)) = quoted(b, p + 1) else {
                return false;
            };
            sp[12] = u;
        }
        Some(_) => return false,
    }
    // Request line: METHOD URI [PROTOCOL]
    let r = &line[req.0..req.1];
    let mut parts = r.split(' ');
    let (m, u, pr) = (parts.next(), parts.next(), parts.next());
    if parts.next().is_none() {
        if let (Some(m), Some(u)) = (m, u) {
            if !m.is_empty() && !u.is_empty() {
                let base = req.0;
                sp[4] = (base, base + m.len());
                let us = base + m.len() + 1;
                sp[5] = (us, us + u.len());
                match u.find('?') {
                    Some(qi) => {
                        sp[6] = (us, us + qi);
                        sp[7] = (us + qi + 1, us + u.len());
                    }
                    None => sp[6] = sp[5],
                }
                if let Some(pr) = pr {
                    let ps = us + u.len() + 1;
                    sp[8] = (ps, ps + pr.len());
                }
            }
        }
    }
    for (k, (s, e)) in sp.iter().enumerate() {
        set(out, k, &line[*s..*e]);
    }
    out.content.push_str(r);
    true
}

/// A `"..."` string starting at `i` (backslash escapes skipped, kept raw):
/// returns (inner span, end after the closing quote).
fn quoted(b: &[u8], i: usize) -> Option<((usize, usize), usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut p = i + 1;
    loop {
        match b.get(p)? {
            b'\\' => p += 2,
            b'"' => return Some(((i + 1, p), p + 1)),
            _ => p += 1,
        }
    }
}

/// JSON lines: content is the message field, every other scalar leaf goes to
/// `extra` with dotted names.
pub(crate) fn json(line: &str, message_field: Option<&str>, out: &mut ParsedHeader) -> bool {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(line) else {
        return false;
    };
    let msg_key: Option<&str> = match message_field {
        Some(f) => Some(f),
        None => ["message", "msg", "log"]
            .into_iter()
            .find(|k| map.contains_key(*k)),
    };
    let mut found = false;
    let mut name = String::new();
    for (k, v) in &map {
        name.clear();
        name.push_str(k);
        flatten(&mut name, v, msg_key, &mut found, out);
    }
    if !found {
        // No message field: keep the whole line as content (never lose text).
        out.content.push_str(line);
    }
    true
}

fn flatten(
    name: &mut String,
    v: &serde_json::Value,
    msg_key: Option<&str>,
    found: &mut bool,
    out: &mut ParsedHeader,
) {
    use serde_json::Value;
    if !*found && msg_key == Some(name.as_str()) {
        *found = true;
        match v {
            Value::String(s) => out.content.push_str(s),
            Value::Null => {}
            other => out.content.push_str(&other.to_string()),
        }
        return;
    }
    match v {
        Value::Object(m) if !m.is_empty() => {
            let len = name.len();
            for (k, v) in m {
                name.truncate(len);
                name.push('.');
                name.push_str(k);
                flatten(name, v, msg_key, found, out);
            }
            name.truncate(len);
        }
        Value::String(s) => out.extra.push((name.clone(), s.clone())),
        Value::Null => out.extra.push((name.clone(), String::new())),
        other => out.extra.push((name.clone(), other.to_string())),
    }
}
