//! Syslog: RFC 5424 and RFC 3164 messages, and RFC 6587 framing for TCP.
//!
//! [`parse`] picks the format per message: `<PRI>1 ` starts RFC 5424 (strict: a malformed
//! header or structured data is an error with its byte offset); anything else is RFC 3164,
//! parsed leniently as rsyslog does (PRI optional, defaulting to user.notice; timestamp
//! `Mmm dd hh:mm:ss` or RFC 3339, optional; hostname optional; `TAG[PID]:` optional). A UDP
//! datagram is one message. The message body keeps its bytes (invalid UTF-8 allowed); header
//! and structured-data values are decoded lossily.
//!
//! [`SyslogFramer`] splits a TCP byte stream into messages, per frame either octet-counted
//! (`LEN SP MSG`, a frame starting with a digit) or non-transparent (terminated by LF or NUL,
//! a trailing CR dropped, empty frames skipped).

use crate::time::{days_in_month, to_ms, year_of_ms};
use crate::{Entry, IngestError, Result};

/// Facility names by code (RFC 5424 table 1, names as rsyslog writes them).
pub const FACILITY_NAMES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];

/// Severity names by code.
pub const SEVERITY_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// A parsed syslog message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syslog {
    /// Facility code, 0..=23.
    pub facility: u8,
    /// Severity code, 0..=7.
    pub severity: u8,
    /// Timestamp in ms since the epoch, when the message has one.
    pub timestamp_ms: Option<i64>,
    /// HOSTNAME.
    pub hostname: Option<String>,
    /// APP-NAME (RFC 5424) or TAG (RFC 3164).
    pub app_name: Option<String>,
    /// PROCID, or the `[PID]` of an RFC 3164 tag.
    pub procid: Option<String>,
    /// MSGID (RFC 5424 only).
    pub msgid: Option<String>,
    /// Structured data flattened as (`sd-id.param-name`, value), in order.
    pub structured_data: Vec<(String, String)>,
    /// The message body, BOM removed.
    pub msg: Vec<u8>,
    /// True for RFC 5424, false for RFC 3164 / unstructured.
    pub rfc5424: bool,
}

impl Syslog {
    /// The entry for the engine: `line` = msg, `source` = app name, fields `facility`,
    /// `severity` (names), `hostname`, `app_name`, `procid`, `msgid` (when set), then the
    /// structured data.
    pub fn into_entry(self) -> Entry {
        let mut fields = Vec::with_capacity(6 + self.structured_data.len());
        fields.push((
            "facility".to_string(),
            FACILITY_NAMES[usize::from(self.facility % 24)].to_string(),
        ));
        fields.push((
            "severity".to_string(),
            SEVERITY_NAMES[usize::from(self.severity % 8)].to_string(),
        ));
        for (k, v) in [
            ("hostname", &self.hostname),
            ("app_name", &self.app_name),
            ("procid", &self.procid),
            ("msgid", &self.msgid),
        ] {
            if let Some(v) = v {
                fields.push((k.to_string(), v.clone()));
            }
        }
        fields.extend(self.structured_data);
        Entry {
            line: self.msg,
            timestamp_ms: self.timestamp_ms,
            source: self.app_name,
            fields,
            truncated: false,
        }
    }
}

/// Parses one syslog message (a UDP datagram or a frame), dating RFC 3164 timestamps (which
/// have no year) with the current clock. See [`parse_at`].
pub fn parse(msg: &[u8]) -> Result<Syslog> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    parse_at(msg, now)
}

/// [`parse`] with `now_ms` as the clock: an RFC 3164 timestamp gets `now`'s year, or the year
/// before when that would put it more than a day in the future (December logs read in January).
pub fn parse_at(msg: &[u8], now_ms: i64) -> Result<Syslog> {
    // rsyslog ends UDP datagrams and octet-counted frames with LF (counted in the octets).
    let msg = msg.strip_suffix(b"\n").unwrap_or(msg);
    let msg = msg.strip_suffix(b"\r").unwrap_or(msg);
    let mut c = Cur { b: msg, i: 0 };
    let (facility, severity, had_pri) = match c.peek() {
        Some(b'<') => {
            let (f, s) = c.pri()?;
            (f, s, true)
        }
        _ => (1, 5, false),
    };
    if had_pri && c.b.get(c.i..c.i + 2) == Some(b"1 ") {
        c.i += 2;
        return parse_5424(c, facility, severity);
    }
    Ok(parse_3164(c, facility, severity, now_ms))
}

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn err(&self, at: usize, reason: impl Into<String>) -> IngestError {
        IngestError::Syslog {
            offset: at,
            reason: reason.into(),
        }
    }
    fn pri(&mut self) -> Result<(u8, u8)> {
        // At '<'.
        self.i += 1;
        let start = self.i;
        let mut v: u32 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            v = v * 10 + u32::from(d - b'0');
            self.i += 1;
            if self.i - start > 3 {
                return Err(self.err(start, "PRI has more than 3 digits"));
            }
        }
        if self.i == start {
            return Err(self.err(start, "expected PRI digits after '<'"));
        }
        if self.peek() != Some(b'>') {
            return Err(self.err(self.i, "expected '>' to close the PRI"));
        }
        if v > 191 {
            return Err(self.err(start, format!("PRI {v} is above 191")));
        }
        self.i += 1;
        Ok(((v / 8) as u8, (v % 8) as u8))
    }
    /// A space-terminated header token; `-` is `None`.
    fn token(&mut self, what: &str) -> Result<Option<String>> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b' ' {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err(start, format!("expected {what}")));
        }
        let tok = &self.b[start..self.i];
        self.sp(what)?;
        Ok((tok != b"-").then(|| String::from_utf8_lossy(tok).into_owned()))
    }
    fn sp(&mut self, after: &str) -> Result<()> {
        match self.peek() {
            Some(b' ') => {
                self.i += 1;
                Ok(())
            }
            None => Err(self.err(self.i, format!("message ends after {after}"))),
            Some(_) => Err(self.err(self.i, format!("expected a space after {after}"))),
        }
    }
}

fn parse_5424(mut c: Cur<'_>, facility: u8, severity: u8) -> Result<Syslog> {
    let ts_at = c.i;
    let ts = c.token("TIMESTAMP")?;
    let timestamp_ms = match ts {
        None => None,
        Some(t) => Some(crate::parse_rfc3339_ms(t.as_bytes()).map_err(|(at, why)| c.err(ts_at + at, why))?),
    };
    let hostname = c.token("HOSTNAME")?;
    let app_name = c.token("APP-NAME")?;
    let procid = c.token("PROCID")?;
    let msgid = c.token("MSGID")?;
    let mut sd = Vec::new();
    match c.peek() {
        Some(b'-') => c.i += 1,
        Some(b'[') => {
            while c.peek() == Some(b'[') {
                sd_element(&mut c, &mut sd)?;
            }
        }
        None => return Err(c.err(c.i, "message ends before STRUCTURED-DATA")),
        Some(_) => return Err(c.err(c.i, "expected STRUCTURED-DATA ('-' or '[')")),
    }
    let msg = match c.peek() {
        None => &[][..],
        Some(b' ') => {
            let m = &c.b[c.i + 1..];
            m.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(m)
        }
        Some(_) => return Err(c.err(c.i, "expected a space after STRUCTURED-DATA")),
    };
    Ok(Syslog {
        facility,
        severity,
        timestamp_ms,
        hostname,
        app_name,
        procid,
        msgid,
        structured_data: sd,
        msg: msg.to_vec(),
        rfc5424: true,
    })
}

fn sd_name(c: &mut Cur<'_>, what: &str) -> Result<String> {
    let start = c.i;
    while let Some(x) = c.peek() {
        if x == b'=' || x == b' ' || x == b']' || x == b'"' || !(33..=126).contains(&x) {
            break;
        }
        c.i += 1;
    }
    if c.i == start {
        return Err(c.err(start, format!("expected {what}")));
    }
    Ok(String::from_utf8_lossy(&c.b[start..c.i]).into_owned())
}

fn sd_element(c: &mut Cur<'_>, out: &mut Vec<(String, String)>) -> Result<()> {
    let open = c.i;
    c.i += 1; // '['
    let id = sd_name(c, "an SD-ID after '['")?;
    loop {
        match c.peek() {
            Some(b']') => {
                c.i += 1;
                return Ok(());
            }
            Some(b' ') => c.i += 1,
            None => return Err(c.err(open, "structured data element is not closed by ']'")),
            Some(_) => return Err(c.err(c.i, "expected ' ' or ']' in structured data")),
        }
        let name = sd_name(c, "a PARAM-NAME")?;
        if c.peek() != Some(b'=') {
            return Err(c.err(c.i, "expected '=' after PARAM-NAME"));
        }
        c.i += 1;
        if c.peek() != Some(b'"') {
            return Err(c.err(c.i, "expected '\"' to open PARAM-VALUE"));
        }
        let vstart = c.i;
        c.i += 1;
        let mut v = Vec::new();
        loop {
            match c.peek() {
                None => return Err(c.err(vstart, "PARAM-VALUE is not closed by '\"'")),
                Some(b'"') => {
                    c.i += 1;
                    break;
                }
                Some(b'\\') => {
                    // RFC 5424: only \" \\ \] are escapes; a backslash before anything else
                    // is kept as is.
                    match c.b.get(c.i + 1) {
                        Some(&e @ (b'"' | b'\\' | b']')) => {
                            v.push(e);
                            c.i += 2;
                        }
                        _ => {
                            v.push(b'\\');
                            c.i += 1;
                        }
                    }
                }
                Some(x) => {
                    v.push(x);
                    c.i += 1;
                }
            }
        }
        out.push((format!("{id}.{name}"), String::from_utf8_lossy(&v).into_owned()));
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Mmm dd hh:mm:ss` (day space- or zero-padded) at `b`: (month, day, h, m, s).
fn bsd_time(b: &[u8]) -> Option<(u32, u32, u32, u32, u32)> {
    let b = b.get(..15)?;
    let mon = MONTHS.iter().position(|m| b[..3].eq_ignore_ascii_case(&m[..]))? as u32 + 1;
    if b[3] != b' ' || b[6] != b' ' || b[9] != b':' || b[12] != b':' {
        return None;
    }
    let d1 = if b[4] == b' ' { 0 } else { dig(b[4])? };
    let day = d1 * 10 + dig(b[5])?;
    let h = dig(b[7])? * 10 + dig(b[8])?;
    let mi = dig(b[10])? * 10 + dig(b[11])?;
    let s = dig(b[13])? * 10 + dig(b[14])?;
    ((1..=31).contains(&day) && h < 24 && mi < 60 && s < 61).then_some((mon, day, h, mi, s))
}

fn dig(c: u8) -> Option<u32> {
    c.is_ascii_digit().then(|| u32::from(c - b'0'))
}

fn parse_3164(mut c: Cur<'_>, facility: u8, severity: u8, now_ms: i64) -> Syslog {
    let mut timestamp_ms = None;
    let mut had_time = false;
    let rest = &c.b[c.i..];
    if let Some((mon, day, h, mi, s)) = bsd_time(rest) {
        let s = s.min(59);
        let year = year_of_ms(now_ms);
        let at = |y: i64| (day <= days_in_month(y, mon)).then(|| to_ms(y, mon, day, h, mi, s, 0));
        let mut ts = at(year);
        if ts.is_none_or(|t| t > now_ms.saturating_add(86_400_000)) {
            ts = at(year - 1).or(ts);
        }
        timestamp_ms = ts;
        had_time = true;
        c.i += 15;
    } else if rest.first().is_some_and(u8::is_ascii_digit) {
        // RFC 3339 timestamps in a BSD-style message (rsyslog's high-precision format).
        let end = rest.iter().position(|&x| x == b' ').unwrap_or(rest.len());
        if let Ok(t) = crate::parse_rfc3339_ms(&rest[..end]) {
            timestamp_ms = Some(t);
            had_time = true;
            c.i += end;
        }
    }
    if had_time {
        while c.peek() == Some(b' ') {
            c.i += 1;
        }
    }
    let mut hostname = None;
    let mut app_name = None;
    let mut procid = None;
    // HOST, unless the next token is already the tag (ends in ':' or has '['): rsyslog's rule.
    let tok_end = |from: usize| {
        c.b[from..]
            .iter()
            .position(|&x| x == b' ')
            .map_or(c.b.len(), |p| from + p)
    };
    if had_time {
        let end = tok_end(c.i);
        let tok = &c.b[c.i..end];
        let is_tag = tok.ends_with(b":") || tok.contains(&b'[');
        if !tok.is_empty() && !is_tag && end < c.b.len() {
            hostname = Some(String::from_utf8_lossy(tok).into_owned());
            c.i = end + 1;
        }
    }
    // TAG[PID]: — only taken when followed by ':' (so plain text is not mistaken for a tag).
    let end = tok_end(c.i);
    let tok = &c.b[c.i..end];
    if let Some(tag) = tok.strip_suffix(b":") {
        let (name, pid) = match tag.iter().position(|&x| x == b'[') {
            Some(p) if tag.ends_with(b"]") => (&tag[..p], Some(&tag[p + 1..tag.len() - 1])),
            _ => (tag, None),
        };
        if !name.is_empty() {
            app_name = Some(String::from_utf8_lossy(name).into_owned());
            procid = pid
                .filter(|p| !p.is_empty())
                .map(|p| String::from_utf8_lossy(p).into_owned());
            c.i = (end + 1).min(c.b.len());
        }
    }
    Syslog {
        facility,
        severity,
        timestamp_ms,
        hostname,
        app_name,
        procid,
        msgid: None,
        structured_data: Vec::new(),
        msg: c.b[c.i..].to_vec(),
        rfc5424: false,
    }
}

// ------------------------------------------------------------------ framing

/// Incremental RFC 6587 framer for one TCP connection.
///
/// Feed it with [`push`](Self::push) and drain it with [`next_frame`](Self::next_frame)
/// until that returns `None`; at EOF call [`finish`](Self::finish). Frames are borrowed from
/// its buffer (no allocation per frame). Memory stays below `max_frame` plus one pushed chunk
/// when the caller drains after each push.
///
/// Errors:
/// * a frame over `max_frame` bytes gives one [`IngestError::FrameTooLarge`] and is skipped
///   without being buffered; the framer resynchronises by itself: exactly, for an
///   octet-counted frame (the error comes at once, then the announced byte count is skipped),
///   or at the next LF/NUL for a non-transparent one (the error comes when that terminator, or
///   EOF, arrives, with the frame's full length). The connection may stay open.
/// * an octet count that lies (digits not followed by a space, more than 10 digits, zero or a
///   leading zero, the stream ending inside the count) gives
///   [`IngestError::OctetCount`] and the framer is closed: every later call returns `None`.
///   The caller must close the connection ([`IngestError::is_fatal_for_connection`]).
///
/// ```
/// use logsieve_ingest::{syslog, SyslogFramer};
/// let mut f = SyslogFramer::new(64 * 1024);
/// let mut lines = Vec::new();
/// for chunk in [&b"17 <13>1 - h a - -"[..], b" -<13>Oct 11 22:14:15 h tag: hi\n<13>last"] {
///     f.push(chunk); // what one read() returned
///     while let Some(frame) = f.next_frame() {
///         let frame = frame.expect("framing error: close if is_fatal_for_connection()");
///         lines.push(syslog::parse(frame).unwrap().into_entry().line);
///     }
/// }
/// if let Some(Ok(frame)) = f.finish() {
///     lines.push(syslog::parse(frame).unwrap().into_entry().line);
/// }
/// assert_eq!(lines, [b"".to_vec(), b"hi".to_vec(), b"last".to_vec()]);
/// ```
#[derive(Debug)]
pub struct SyslogFramer {
    buf: Vec<u8>,
    start: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    max_frame: usize,
    /// Bytes still to skip of an oversized octet-counted frame.
    skip_counted: usize,
    /// Skipping an oversized non-transparent frame up to its terminator: bytes skipped so far.
    skip_to_lf: Option<usize>,
    /// Bytes after `start` already searched for LF/NUL (so trickled input is not rescanned).
    scanned: usize,
    closed: bool,
}

/// Octet counts have at most this many digits (10 digits > 4 GB, beyond any limit).
const MAX_COUNT_DIGITS: usize = 10;

impl SyslogFramer {
    /// A framer refusing frames longer than `max_frame` bytes (at least 1).
    pub fn new(max_frame: usize) -> Self {
        SyslogFramer {
            buf: Vec::new(),
            start: 0,
            base: 0,
            max_frame: max_frame.max(1),
            skip_counted: 0,
            skip_to_lf: None,
            scanned: 0,
            closed: false,
        }
    }

    /// True once an octet-count error closed the framer.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Appends received bytes. Frames returned earlier are invalidated.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.closed {
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, an error, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8]>> {
        match self.next_range(false)? {
            Ok((s, e)) => Some(Ok(&self.buf[s..e])),
            Err(e) => Some(Err(e)),
        }
    }

    /// At EOF: the last frame if the stream ended without a terminator (non-transparent
    /// framing), an [`IngestError::TruncatedFrame`] if it ended inside an octet-counted frame,
    /// else `None`. Call [`next_frame`](Self::next_frame) until `None` first.
    pub fn finish(&mut self) -> Option<Result<&[u8]>> {
        match self.next_range(true)? {
            Ok((s, e)) => Some(Ok(&self.buf[s..e])),
            Err(e) => Some(Err(e)),
        }
    }

    fn next_range(&mut self, eof: bool) -> Option<Result<(usize, usize)>> {
        loop {
            if self.closed {
                return None;
            }
            if self.skip_counted > 0 {
                let n = self.skip_counted.min(self.buf.len() - self.start);
                self.skip_counted -= n;
                self.start += n;
                if self.skip_counted > 0 {
                    return None;
                }
            }
            let avail = &self.buf[self.start..];
            if let Some(skipped) = self.skip_to_lf {
                match memchr::memchr2(b'\n', 0, avail) {
                    Some(p) => {
                        self.skip_to_lf = None;
                        self.start += p + 1;
                        return Some(Err(IngestError::FrameTooLarge {
                            len: skipped + p,
                            max: self.max_frame,
                        }));
                    }
                    None => {
                        self.skip_to_lf = Some(skipped + avail.len());
                        self.start = self.buf.len();
                        if eof {
                            self.skip_to_lf = None;
                            return Some(Err(IngestError::FrameTooLarge {
                                len: skipped + avail.len(),
                                max: self.max_frame,
                            }));
                        }
                        return None;
                    }
                }
            }
            let first = *avail.first()?;
            let at = self.base + self.start as u64;
            if first.is_ascii_digit() {
                // Octet counting: LEN SP MSG.
                let digits = avail
                    .iter()
                    .take(MAX_COUNT_DIGITS + 1)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits > MAX_COUNT_DIGITS {
                    return Some(Err(self.fatal(at, format!("more than {MAX_COUNT_DIGITS} digits"))));
                }
                let Some(&after) = avail.get(digits) else {
                    if eof {
                        return Some(Err(
                            self.fatal(at, "the stream ends inside the octet count".to_string())
                        ));
                    }
                    return None;
                };
                let count_text = String::from_utf8_lossy(&avail[..digits]).into_owned();
                if after != b' ' {
                    return Some(Err(self.fatal(
                        at,
                        format!(
                            "\"{count_text}\" is followed by {} instead of a space",
                            crate::clip_bytes(&[after]).escape_debug()
                        ),
                    )));
                }
                let count: u64 = count_text.parse().unwrap_or(u64::MAX);
                if count == 0 || avail[0] == b'0' {
                    return Some(Err(self.fatal(
                        at,
                        format!("octet count \"{count_text}\" is zero or has a leading zero"),
                    )));
                }
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                if count > self.max_frame {
                    self.start += digits + 1;
                    self.skip_counted = count;
                    return Some(Err(IngestError::FrameTooLarge {
                        len: count,
                        max: self.max_frame,
                    }));
                }
                let s = self.start + digits + 1;
                if self.buf.len() - s >= count {
                    self.start = s + count;
                    return Some(Ok((s, s + count)));
                }
                if eof {
                    let got = self.buf.len() - s;
                    self.start = self.buf.len();
                    self.closed = true;
                    return Some(Err(IngestError::TruncatedFrame {
                        offset: at,
                        got,
                        want: count,
                    }));
                }
                return None;
            }
            // Non-transparent: up to LF or NUL.
            let found =
                memchr::memchr2(b'\n', 0, &avail[self.scanned.min(avail.len())..]).map(|p| p + self.scanned);
            self.scanned = if found.is_some() { 0 } else { avail.len() };
            match found {
                Some(p) if p > self.max_frame => {
                    self.start += p + 1;
                    return Some(Err(IngestError::FrameTooLarge {
                        len: p,
                        max: self.max_frame,
                    }));
                }
                Some(p) => {
                    let s = self.start;
                    self.start += p + 1;
                    let mut e = s + p;
                    if e > s && self.buf[e - 1] == b'\r' {
                        e -= 1;
                    }
                    if e == s {
                        continue;
                    }
                    return Some(Ok((s, e)));
                }
                None if avail.len() > self.max_frame => {
                    // Skipped without keeping the bytes; the error comes with the terminator
                    // (or EOF), when the frame's full length is known.
                    self.skip_to_lf = Some(0);
                    self.scanned = 0;
                    continue;
                }
                None if eof => {
                    self.scanned = 0;
                    let s = self.start;
                    self.start = self.buf.len();
                    let mut e = self.buf.len();
                    if self.buf[e - 1] == b'\r' {
                        e -= 1;
                    }
                    return (e > s).then_some(Ok((s, e)));
                }
                None => return None,
            }
        }
    }

    fn fatal(&mut self, offset: u64, reason: String) -> IngestError {
        self.closed = true;
        self.buf = Vec::new();
        self.start = 0;
        IngestError::OctetCount { offset, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 2023-11-14T22:13:20Z
    const NOW: i64 = 1_700_000_000_000;

    fn p(s: &[u8]) -> Syslog {
        parse_at(s, NOW).unwrap()
    }

    #[test]
    fn rfc5424_full() {
        let m = p(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\\\"x\\]\\\\y\\z\"] \xEF\xBB\xBFAn application event log entry...");
        assert_eq!((m.facility, m.severity), (20, 5));
        assert_eq!(m.timestamp_ms, Some(1_065_910_455_003));
        assert_eq!(m.hostname.as_deref(), Some("mymachine.example.com"));
        assert_eq!(m.app_name.as_deref(), Some("evntslog"));
        assert_eq!(m.procid, None);
        assert_eq!(m.msgid.as_deref(), Some("ID47"));
        assert_eq!(
            m.structured_data,
            vec![
                ("exampleSDID@32473.iut".to_string(), "3".to_string()),
                (
                    "exampleSDID@32473.eventSource".to_string(),
                    "Application".to_string()
                ),
                ("exampleSDID@32473.eventID".to_string(), "1011".to_string()),
                (
                    "examplePriority@32473.class".to_string(),
                    "high\"x]\\y\\z".to_string()
                ),
            ]
        );
        assert_eq!(m.msg, b"An application event log entry...");
        assert!(m.rfc5424);
        let e = m.into_entry();
        assert_eq!(e.source.as_deref(), Some("evntslog"));
        assert_eq!(e.fields[0], ("facility".to_string(), "local4".to_string()));
        assert_eq!(e.fields[1], ("severity".to_string(), "notice".to_string()));
        assert_eq!(
            e.fields[2],
            ("hostname".to_string(), "mymachine.example.com".to_string())
        );
    }

    #[test]
    fn rfc5424_nil_and_no_msg() {
        let m = p(b"<34>1 - - - - - -");
        assert_eq!((m.facility, m.severity), (4, 2));
        assert_eq!((m.timestamp_ms, m.hostname, m.app_name), (None, None, None));
        assert!(m.msg.is_empty());
        let m = p(b"<13>1 2023-11-14T23:13:20+01:00 h app 123 - - bytes \xff ok");
        assert_eq!(m.timestamp_ms, Some(NOW));
        assert_eq!(m.procid.as_deref(), Some("123"));
        assert_eq!(m.msg, b"bytes \xff ok");
    }

    #[test]
    fn rfc5424_errors_have_offsets() {
        let e = |s: &[u8]| parse_at(s, NOW).unwrap_err().to_string();
        assert_eq!(
            e(b"<13>1 2023-13-01T00:00:00Z h a p m - x"),
            "bad syslog message at byte 11: expected a month 01-12"
        );
        assert_eq!(
            e(b"<13>1 - h a p m [id x=\"1\" x"),
            "bad syslog message at byte 27: expected '=' after PARAM-NAME"
        );
        assert_eq!(
            e(b"<13>1 - h a p m [id x=\"1"),
            "bad syslog message at byte 22: PARAM-VALUE is not closed by '\"'"
        );
        assert_eq!(
            e(b"<13>1 - h a p m [id"),
            "bad syslog message at byte 16: structured data element is not closed by ']'"
        );
        assert_eq!(
            e(b"<13>1 - h a"),
            "bad syslog message at byte 11: message ends after APP-NAME"
        );
        assert_eq!(
            e(b"<13>1 - h a p m x"),
            "bad syslog message at byte 16: expected STRUCTURED-DATA ('-' or '[')"
        );
        assert_eq!(e(b"<192>x"), "bad syslog message at byte 1: PRI 192 is above 191");
        assert_eq!(
            e(b"<1234>x"),
            "bad syslog message at byte 1: PRI has more than 3 digits"
        );
        assert_eq!(
            e(b"<13"),
            "bad syslog message at byte 3: expected '>' to close the PRI"
        );
    }

    #[test]
    fn rfc3164_variants() {
        let m = p(b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8");
        assert_eq!((m.facility, m.severity), (4, 2));
        assert_eq!(m.timestamp_ms, Some(to_ms(2023, 10, 11, 22, 14, 15, 0)));
        assert_eq!(m.hostname.as_deref(), Some("mymachine"));
        assert_eq!(m.app_name.as_deref(), Some("su"));
        assert_eq!(m.procid.as_deref(), Some("123"));
        assert_eq!(m.msg, b"'su root' failed for lonvick on /dev/pts/8");
        assert!(!m.rfc5424);
        // Missing host.
        let m = p(b"<13>Nov  3 01:02:03 sshd[9]: Accepted");
        assert_eq!(m.hostname, None);
        assert_eq!(m.app_name.as_deref(), Some("sshd"));
        assert_eq!(m.timestamp_ms, Some(to_ms(2023, 11, 3, 1, 2, 3, 0)));
        // December read in mid-November is last year's; missing PRI is user.notice.
        let m = p(b"Dec 31 23:59:59 host kernel: oops");
        assert_eq!(m.timestamp_ms, Some(to_ms(2022, 12, 31, 23, 59, 59, 0)));
        assert_eq!((m.facility, m.severity), (1, 5));
        assert_eq!(m.hostname.as_deref(), Some("host"));
        assert_eq!(m.app_name.as_deref(), Some("kernel"));
        assert_eq!(m.msg, b"oops");
        // No header at all: the whole thing is the message.
        let m = p(b"<13>just some text");
        assert_eq!((m.hostname, m.app_name, m.timestamp_ms), (None, None, None));
        assert_eq!(m.msg, b"just some text");
        // RFC 3339 timestamp, tag without pid, invalid UTF-8 body.
        let m = p(b"<14>2023-11-14T22:13:20Z web nginx: GET \xff");
        assert_eq!(m.timestamp_ms, Some(NOW));
        assert_eq!(m.hostname.as_deref(), Some("web"));
        assert_eq!(m.app_name.as_deref(), Some("nginx"));
        assert_eq!(m.msg, b"GET \xff");
        // Feb 29 in a non-leap year falls back to the previous leap year only if it exists.
        let m = parse_at(b"<13>Feb 29 00:00:00 h t: x", NOW).unwrap();
        assert_eq!(m.timestamp_ms, None);
        assert_eq!(
            (m.hostname.as_deref(), m.app_name.as_deref()),
            (Some("h"), Some("t"))
        );
        assert_eq!(m.msg, b"x");
        assert!(p(b"").msg.is_empty());
    }

    fn frames(f: &mut SyslogFramer) -> Vec<std::result::Result<Vec<u8>, String>> {
        let mut out = Vec::new();
        while let Some(r) = f.next_frame() {
            out.push(r.map(<[u8]>::to_vec).map_err(|e| e.to_string()));
        }
        out
    }

    fn all(chunks: &[&[u8]], max: usize) -> Vec<std::result::Result<Vec<u8>, String>> {
        let mut f = SyslogFramer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c);
            out.extend(frames(&mut f));
        }
        if let Some(r) = f.finish() {
            out.push(r.map(<[u8]>::to_vec).map_err(|e| e.to_string()));
        }
        out
    }

    fn ok(s: &[u8]) -> std::result::Result<Vec<u8>, String> {
        Ok(s.to_vec())
    }

    #[test]
    fn framing_mixed() {
        let got = all(
            &[
                b"11 <13>1 - - -\n<13>lf frame\r\n\n",
                b"\x00<13>nul\x005 hello<13>last",
            ],
            100,
        );
        assert_eq!(
            got,
            vec![
                ok(b"<13>1 - - -"),
                ok(b"<13>lf frame"),
                ok(b"<13>nul"),
                ok(b"hello"),
                ok(b"<13>last")
            ]
        );
    }

    #[test]
    fn framing_errors() {
        // A 10 MB LF-terminated frame with a 64 KiB limit: one error, then resync at the LF.
        let big = vec![b'a'; 10 << 20];
        let mut f = SyslogFramer::new(64 << 10);
        let mut out = Vec::new();
        f.push(b"<13>before\n");
        out.extend(frames(&mut f));
        for c in big.chunks(64 << 10) {
            f.push(c);
            out.extend(frames(&mut f));
            assert!(f.buf.len() <= 2 * (64 << 10) + 16);
        }
        f.push(b"\n<13>after\n");
        out.extend(frames(&mut f));
        assert_eq!(
            out,
            vec![
                ok(b"<13>before"),
                Err("frame of 10485760 bytes exceeds the limit of 65536".to_string()),
                ok(b"<13>after")
            ]
        );
        // An octet-counted 10 MB frame: exact skip.
        let mut f = SyslogFramer::new(64 << 10);
        let mut out = Vec::new();
        f.push(format!("{} ", big.len()).as_bytes());
        for c in big.chunks(1 << 20) {
            f.push(c);
            out.extend(frames(&mut f));
        }
        f.push(b"3 abc");
        out.extend(frames(&mut f));
        assert_eq!(
            out,
            vec![
                Err("frame of 10485760 bytes exceeds the limit of 65536".to_string()),
                ok(b"abc")
            ]
        );
        assert!(f.finish().is_none());
        // Counts that lie close the framer.
        let lie = |s: &[u8]| {
            let mut f = SyslogFramer::new(1000);
            f.push(s);
            let r = frames(&mut f);
            assert!(f.is_closed());
            f.push(b"5 hello");
            assert!(f.next_frame().is_none());
            r
        };
        assert_eq!(
            lie(b"12x <13>hello"),
            vec![Err("bad octet count at stream byte 0: \"12\" is followed by x instead of a space; closing the connection".to_string())]
        );
        assert_eq!(
            lie(b"5 hello12345678901 x"),
            vec![
                ok(b"hello"),
                Err(
                    "bad octet count at stream byte 7: more than 10 digits; closing the connection"
                        .to_string()
                )
            ]
        );
        assert_eq!(
            lie(b"0 x"),
            vec![Err("bad octet count at stream byte 0: octet count \"0\" is zero or has a leading zero; closing the connection".to_string())]
        );
        assert_eq!(
            lie(b"2024-01-01 plain line\n"),
            vec![Err("bad octet count at stream byte 0: \"2024\" is followed by - instead of a space; closing the connection".to_string())]
        );
        // EOF inside a counted frame.
        assert_eq!(
            all(&[b"10 abc"], 100),
            vec![Err(
                "connection closed inside an octet-counted frame at stream byte 0: got 3 of 10 bytes"
                    .to_string()
            )]
        );
    }

    fn arb_stream() -> impl Strategy<Value = Vec<u8>> {
        let frame = prop_oneof![
            "[a-z<>0-9 ]{1,20}".prop_map(|s| {
                let mut v = format!("{} ", s.len()).into_bytes();
                v.extend(s.as_bytes());
                v
            }),
            "<[a-z0-9 \r]{0,20}".prop_map(|s| format!("{s}\n").into_bytes()),
            "[a-z][a-z ]{0,20}".prop_map(|s| format!("{s}\0").into_bytes()),
            Just(b"\n".to_vec()),
        ];
        proptest::collection::vec(frame, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_frames(stream in arb_stream(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6), max in 5usize..30) {
            let whole = all(&[&stream], max);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut last = 0;
            for p in points {
                chunks.push(&stream[last..p]);
                last = p;
            }
            chunks.push(&stream[last..]);
            prop_assert_eq!(all(&chunks, max), whole.clone());
            let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
            prop_assert_eq!(all(&bytewise, max), whole);
        }

        #[test]
        fn framer_no_panic(stream in proptest::collection::vec(any::<u8>(), 0..200), max in 1usize..50) {
            let _ = all(&[&stream], max);
        }

        #[test]
        fn parse_no_panic(msg in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_at(&msg, NOW);
        }

        #[test]
        fn parse_no_panic_near_valid(msg in "<[0-9]{1,3}>(1 )?[A-Za-z0-9 :\\[\\]=\"\\\\.-]{0,60}") {
            let _ = parse_at(msg.as_bytes(), NOW);
        }
    }
}
