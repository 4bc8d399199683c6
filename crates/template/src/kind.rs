//! Variable detectors: what a variable is (integer, address, UUID, ...), and
//! which token parts count as variables at all.
//!
//! Every detector is a small hand-written scanner (no regex on the hot path).

use serde::{Deserialize, Serialize};

/// The type of a variable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VarKind {
    /// `42`, `-7`.
    Int,
    /// `0.25`, `1e-3`.
    Float,
    /// `0x1f`, `deadbeef0042`.
    Hex,
    /// `10.0.0.1`.
    Ipv4,
    /// `fe80::1`.
    Ipv6,
    /// `00:1a:2b:3c:4d:5e`.
    Mac,
    /// `38101a0b-2096-447d-96ea-a692162415ae`.
    Uuid,
    /// `/var/log/syslog`.
    Path,
    /// `https://host:8080/x`.
    Url,
    /// `bob@example.org`.
    Email,
    /// `2017-05-16`, `00:00:01`, `2017-05-16T00:00:00Z` (an ISO 8601
    /// date-time written as one token is one variable, hence one param).
    Timestamp,
    /// `15ms`, `2.5s`.
    Duration,
    /// `true`, `false`.
    Bool,
    /// `null`, and the default account names `root` and `admin` (the
    /// Loghub-2.0 "user string" convention).
    Null,
    /// A version: `2.36-9+deb12u10`, `1:2.3.4-5`, `v1.2.3`.
    Version,
    /// A host or domain name: `db-7.example.org`, `cdn.vendor.com`.
    Host,
    /// Anything else holding digits: `blk_-42`, `node-7`.
    Id,
    /// A word found variable by mining (its value changes across lines).
    Word,
}

impl VarKind {
    /// The lowercase name used in output (`int`, `ipv4`, `uuid`, ...).
    pub fn name(self) -> &'static str {
        match self {
            VarKind::Int => "int",
            VarKind::Float => "float",
            VarKind::Hex => "hex",
            VarKind::Ipv4 => "ipv4",
            VarKind::Ipv6 => "ipv6",
            VarKind::Mac => "mac",
            VarKind::Uuid => "uuid",
            VarKind::Path => "path",
            VarKind::Url => "url",
            VarKind::Email => "email",
            VarKind::Timestamp => "timestamp",
            VarKind::Duration => "duration",
            VarKind::Bool => "bool",
            VarKind::Null => "null",
            VarKind::Version => "version",
            VarKind::Host => "host",
            VarKind::Id => "id",
            VarKind::Word => "word",
        }
    }
}

/// Strips wrapping punctuation (brackets, quotes, trailing commas) so that
/// `[fe80::1]` or `"bob@x.org",` reveal their value.
pub fn strip_wrapping(bytes: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && matches!(bytes[s], b'(' | b'[' | b'{' | b'<' | b'"' | b'\'') {
        s += 1;
    }
    while e > s
        && matches!(
            bytes[e - 1],
            b')' | b']' | b'}' | b'>' | b'"' | b'\'' | b',' | b';' | b'.'
        )
    {
        e -= 1;
    }
    (s, e)
}

/// Values that are one variable although they hold delimiters (`:`, `-`,
/// `@`, `/`, `\`): UUIDs, MAC and IPv6 addresses, other colon-separated
/// hex bytes (WWNs, fingerprints), e-mail addresses, URLs that carry digits
/// (a URL without any is usually a constant link in a message), ISO 8601
/// date-times, versions and Windows paths.
pub fn is_whole_token_kind(s: &str) -> bool {
    is_delimited_kind(s) || is_numeric_kind(s) || is_windows_path(s)
}

/// The whole-token kinds that hold `:`, `-`, `@` or `/` between their
/// parts: UUIDs, MACs, hex byte runs, PCI addresses, IPv6, e-mails, URLs.
pub fn is_delimited_kind(s: &str) -> bool {
    is_delimited_kind_in(s, true, true)
}

/// [`is_delimited_kind`] for a masker that already knows whether `s` may
/// hold a `@` (`at`) or a `/` (`slash`): false for either skips the scan
/// for it and the kinds that need it (the answer is the same).
pub(crate) fn is_delimited_kind_in(s: &str, at: bool, slash: bool) -> bool {
    (s.len() == 36 && is_uuid(s))
        || (s.len() == 17 && is_mac(s))
        || is_hex_bytes(s)
        || is_pci_address(s)
        || is_ipv6(s)
        || (at && s.contains('@') && is_email(s))
        || (slash && s.contains('/') && is_url(s) && has_digit(s))
}

/// The whole-token kinds that start with a digit: ISO 8601 date-times and
/// versions.
pub fn is_numeric_kind(s: &str) -> bool {
    // Both have a `.` or a `-T…:` date: most numbers with punctuation
    // (`10:42`, `1,024`) are rejected by one look at the 5th byte or a scan.
    let b = s.as_bytes();
    (b.len() >= 16 && b[4] == b'-' && is_iso_datetime(s)) || (b.contains(&b'.') && is_version(s))
}

/// Four or more groups of two hex digits joined by `:` (`FF:F2:9F:15:…`):
/// MAC addresses of other lengths, WWNs, key fingerprints.
pub fn is_hex_bytes(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 11
        && b.len() % 3 == 2
        && b.chunks(3)
            .all(|c| c[0].is_ascii_hexdigit() && c[1].is_ascii_hexdigit() && (c.len() == 2 || c[2] == b':'))
}

/// A PCI address with its domain: `0000:00:1f.0` (domain, bus, device,
/// function).
pub fn is_pci_address(s: &str) -> bool {
    let b = s.as_bytes();
    let hex = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_hexdigit);
    b.len() == 12
        && hex(0..4)
        && b[4] == b':'
        && hex(5..7)
        && b[7] == b':'
        && hex(8..10)
        && b[10] == b'.'
        && (b'0'..=b'7').contains(&b[11])
}

/// An ISO 8601 date-time in one token: `2017-05-16T00:00:00Z`,
/// `2024-01-02T03:04:05.123+01:00` (date, `T`, time, optional fraction and
/// zone).
pub fn is_iso_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if b.len() < 16 || !(0..4).all(d) || b[4] != b'-' || !d(5) || !d(6) || b[7] != b'-' || !d(8) || !d(9) {
        return false;
    }
    if !matches!(b[10], b'T' | b't') || !d(11) || !d(12) || b[13] != b':' || !d(14) || !d(15) {
        return false;
    }
    b[16..]
        .iter()
        .all(|c| c.is_ascii_digit() || matches!(c, b':' | b'.' | b',' | b'+' | b'-' | b'Z' | b'z'))
}

/// A version: dotted numbers (at least one dot), an optional `epoch:` and
/// optional `v`, then release parts joined by `-`, `+`, `~` or `.`
/// (`2.6.5-1.358`, `2.36-9+deb12u10`, `1:252.38-1~deb12u1`, `v1.2.3-rc.1`).
/// A plain dotted number (`1.2.3`, `10.0.0.1`) is one too, but it was one
/// variable already; what this adds is that the release parts go with it.
pub fn is_version(s: &str) -> bool {
    let mut b = s.as_bytes();
    if let Some(colon) = b.iter().position(|&c| c == b':') {
        if colon == 0 || !b[..colon].iter().all(u8::is_ascii_digit) {
            return false;
        }
        b = &b[colon + 1..];
    }
    if b.first() == Some(&b'v') {
        b = &b[1..];
    }
    // Dotted numbers.
    let mut i = 0;
    let mut dots = 0;
    loop {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == st {
            return false;
        }
        if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            dots += 1;
            i += 1;
            continue;
        }
        break;
    }
    if dots == 0 {
        return false;
    }
    // Release parts: a separator, then letters and digits.
    while i < b.len() {
        if !matches!(b[i], b'-' | b'+' | b'~' | b'.') {
            return false;
        }
        i += 1;
        let st = i;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i == st {
            return false;
        }
    }
    true
}

/// A Windows path: a drive (`C:\…`), a UNC or device path (`\\server\…`,
/// `\\?\GLOBALROOT…`).
pub fn is_windows_path(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\')
        || (b.len() >= 3 && b[0] == b'\\' && b[1] == b'\\' && b[2] != b'\\')
}

/// Top-level domains that end a host name (`db-7.example.org`): the generic
/// ones, the private-use ones, and the country codes in wide use.
const TLDS: [&str; 34] = [
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "io",
    "info",
    "biz",
    "local",
    "internal",
    "lan",
    "localdomain",
    "home",
    "corp",
    "arpa",
    "us",
    "uk",
    "de",
    "fr",
    "jp",
    "cn",
    "ru",
    "br",
    "in",
    "au",
    "ca",
    "nl",
    "eu",
    "it",
    "es",
    "ch",
    "se",
];

/// A host or domain name: two or more labels of letters, digits and `-`,
/// the last one a top-level domain (`cdn.vendor.com`, `db-7.example.org`,
/// `MININT-X.fareast.corp.microsoft.com`). Java-style package names end in
/// a class name, not a TLD, and are not hosts.
pub fn is_fqdn(s: &str) -> bool {
    // Cheap rejections first: this runs on every dotted word.
    if !s.as_bytes().last().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let Some((_, last)) = s.rsplit_once('.') else {
        return false;
    };
    if !(2..=11).contains(&last.len()) {
        return false;
    }
    TLDS.iter().any(|t| last.eq_ignore_ascii_case(t))
        && s.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// A host name before `:port` or `/address` (`msra-sa-41:8030`,
/// `node-3.cluster/10.0.0.7`): a name with `-` or `.` between its parts
/// and at least one letter, not a source file (`Foo.java:42`).
pub fn is_host_before_port(s: &str) -> bool {
    const SOURCE: [&str; 12] = [
        "java", "scala", "kt", "py", "rb", "go", "rs", "c", "cc", "cpp", "h", "js",
    ];
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().any(u8::is_ascii_alphabetic) || !b.iter().any(|&c| c == b'-' || c == b'.') {
        return false;
    }
    if !b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return false;
    }
    if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    match s.rsplit_once('.') {
        Some((_, ext)) => !SOURCE.iter().any(|e| ext.eq_ignore_ascii_case(e)),
        None => true,
    }
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
}

/// The Loghub path rule, `^(/[^/]+)+$`, also with a trailing `/`
/// (`/var/www/html/`).
pub fn is_path(s: &str) -> bool {
    let t = s.strip_suffix('/').unwrap_or(s);
    let b = t.as_bytes();
    if b.len() < 2 || b[0] != b'/' {
        return false;
    }
    !t.contains("//")
}

/// English day and month names, abbreviated or not.
pub fn is_date_word(s: &str) -> bool {
    let b = s.as_bytes();
    let l = b.len();
    // Cheap rejections first: this runs on every token before a number.
    if !(3..=9).contains(&l)
        || !matches!(
            b[0] | 0x20,
            b'm' | b't' | b'w' | b'f' | b's' | b'j' | b'a' | b'o' | b'n' | b'd'
        )
    {
        return false;
    }
    let head = [b[0] | 0x20, b[1] | 0x20, b[2] | 0x20];
    const WORDS: [&[u8; 3]; 19] = [
        b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun", b"jan", b"feb", b"mar", b"apr", b"may",
        b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
    ];
    // `| 0x20` also folds some punctuation onto letters: the comparison
    // below is on the bytes as written, ASCII case aside.
    WORDS
        .iter()
        .any(|w| **w == head && b[..3].eq_ignore_ascii_case(&w[..]))
        && (l == 3
            || [
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday",
                "january",
                "february",
                "march",
                "april",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ]
            .iter()
            .any(|w| s.eq_ignore_ascii_case(w)))
}

/// Words that the annotation conventions always treat as variables: the
/// Loghub-2.0 "user strings" `null`, `root` and `admin`. (`none` and `nil`
/// are not among them: they are often the constant word of an event, as in
/// `Failed none for …`.)
fn is_null_like(s: &str) -> bool {
    ["null", "root", "admin"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

fn is_bool(s: &str) -> bool {
    s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")
}

/// Whether a piece of a compound (split at `.` and `-`) is a variable: it
/// holds digits and does not read as a name, or it is a boolean/null word.
///
/// A name starts with a letter, has at most three digits and no `_`
/// followed by a digit: `ext3`, `v2`, `e820`, `HttpServer2`, `tty1`. Long
/// hexadecimal strings are never names.
pub fn is_variable_piece(p: &str) -> bool {
    let b = p.as_bytes();
    is_variable_piece_with(b, b.iter().filter(|c| c.is_ascii_digit()).count())
}

/// [`is_variable_piece`] for a masker that counted the piece's digits
/// while splitting it (`digits` must be that count).
#[inline]
pub(crate) fn is_variable_piece_with(b: &[u8], digits: usize) -> bool {
    if digits == 0 {
        // A boolean or null word (`true`, `null`, `admin`): letters only.
        return (4..=5).contains(&b.len())
            && matches!(b[0] | 0x20, b't' | b'f' | b'n' | b'r' | b'a')
            && std::str::from_utf8(b).is_ok_and(|p| is_bool(p) || is_null_like(p));
    }
    let starts_alpha = b[0].is_ascii_alphabetic() || b[0] >= 0x80;
    if !starts_alpha || digits > 3 {
        return true;
    }
    let underscore_digit = b.iter().enumerate().any(|(i, &c)| {
        c == b'_'
            && b[i + 1..]
                .iter()
                .find(|&&n| n != b'-')
                .is_some_and(|n| n.is_ascii_digit())
    });
    let long_hex = b.len() >= 8 && b.iter().all(|c| c.is_ascii_hexdigit());
    underscore_digit || long_hex
}

fn is_hex_group(g: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&g.len()) && g.bytes().all(|c| c.is_ascii_hexdigit())
}

/// `8-4-4-4-12` hexadecimal groups.
pub fn is_uuid(s: &str) -> bool {
    if s.len() != 36 {
        return false;
    }
    let lens = [8, 4, 4, 4, 12];
    let mut n = 0;
    for (i, g) in s.split('-').enumerate() {
        if i >= 5 || !is_hex_group(g, lens[i], lens[i]) {
            return false;
        }
        n += 1;
    }
    n == 5
}

/// Six groups of two hex digits joined by `:` or `-`.
pub fn is_mac(s: &str) -> bool {
    if s.len() != 17 {
        return false;
    }
    let sep = s.as_bytes()[2];
    (sep == b':' || sep == b'-') && s.split(sep as char).filter(|g| is_hex_group(g, 2, 2)).count() == 6
}

/// IPv6: hex groups joined by `:`, either eight of them or shortened by `::`;
/// a trailing embedded IPv4 is accepted.
pub fn is_ipv6(s: &str) -> bool {
    // One pass: only hex digits, `:` and the `.` of an embedded IPv4 can
    // appear (any other byte would sit in a group that is neither), and
    // at most one `::`.
    let b = s.as_bytes();
    let (mut colons, mut doubles) = (0usize, 0usize);
    let mut prev_colon = false;
    for &c in b {
        if c == b':' {
            colons += 1;
            if prev_colon {
                doubles += 1;
            }
            prev_colon = !prev_colon;
        } else if c.is_ascii_hexdigit() || c == b'.' {
            prev_colon = false;
        } else {
            return false;
        }
    }
    if !(2..=7).contains(&colons) || s.len() < 3 || doubles > 1 {
        return false;
    }
    if doubles == 0 && colons < 6 {
        // Uncompressed, eight groups are needed (seven colons, or six
        // and an IPv4 last): `12:23:38` stops here, without the split.
        return false;
    }
    let compressed = doubles == 1;
    let last = colons;
    let mut ok_groups = 0;
    for (i, g) in s.split(':').enumerate() {
        if g.is_empty() {
            continue;
        }
        if i == last && is_ipv4(g) {
            ok_groups += 2;
            continue;
        }
        if !is_hex_group(g, 1, 4) {
            return false;
        }
        ok_groups += 1;
    }
    (compressed && ok_groups >= 1 && has_digit(s)) || (!compressed && ok_groups == 8)
}

/// Dotted quad.
pub fn is_ipv4(s: &str) -> bool {
    // `0.0.0.0` to `255.255.255.255`.
    if !(7..=15).contains(&s.len()) {
        return false;
    }
    let mut n = 0;
    for g in s.split('.') {
        if g.is_empty()
            || g.len() > 3
            || !g.bytes().all(|c| c.is_ascii_digit())
            || g.parse::<u16>().map_or(true, |v| v > 255)
        {
            return false;
        }
        n += 1;
    }
    n == 4
}

/// `local@domain.tld`.
pub fn is_email(s: &str) -> bool {
    if !s.as_bytes().contains(&b'@') {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._%+-".contains(&c))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

/// Where `://` starts in `s`, found byte by byte (cheaper than a
/// substring search for this short needle on short tokens).
pub fn scheme_sep(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(2)).find(|&i| b[i] == b':' && b[i + 1] == b'/' && b[i + 2] == b'/')
}

/// `scheme://rest`.
pub fn is_url(s: &str) -> bool {
    match scheme_sep(s) {
        Some(i) if i > 0 => {
            s[..i]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'.' || c == b'-')
                && s.len() > i + 3
        }
        _ => false,
    }
}

fn is_int(s: &str) -> bool {
    let d = s.strip_prefix('-').or_else(|| s.strip_prefix('+')).unwrap_or(s);
    !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())
}

fn is_float(s: &str) -> bool {
    let d = s.strip_prefix('-').or_else(|| s.strip_prefix('+')).unwrap_or(s);
    d.bytes().any(|c| c.is_ascii_digit()) && d.contains(['.', 'e', 'E']) && d.parse::<f64>().is_ok()
}

fn is_hex(s: &str) -> bool {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit());
    }
    s.len() >= 8 && s.bytes().all(|c| c.is_ascii_hexdigit()) && s.bytes().any(|c| c.is_ascii_alphabetic())
}

fn is_duration(s: &str) -> bool {
    let units = [
        "ns", "us", "µs", "ms", "s", "sec", "secs", "m", "min", "mins", "h", "hr", "d",
    ];
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    num_end > 0 && s[..num_end].bytes().any(|c| c.is_ascii_digit()) && units.contains(&&s[num_end..])
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits < 4 {
        return false;
    }
    let date =
        b.len() >= 8 && b[..4].iter().all(|c| c.is_ascii_digit()) && matches!(b[4], b'-' | b'/' | b'.');
    let time =
        b.len() >= 5 && b[..2].iter().all(|c| c.is_ascii_digit()) && b[2] == b':' && b[3].is_ascii_digit();
    (date || time) && b.iter().all(|c| c.is_ascii_digit() || b"-/.:TZ+, ".contains(c))
}

// Byte groups for `classify`'s one-pass summary: which groups a value
// holds tells which rules cannot take it (each rule accepts only bytes of
// certain groups), so those are skipped without their own scans.
const K_DIGIT: u32 = 1;
/// Hex letters other than `e`/`E`.
const K_HEX: u32 = 1 << 1;
/// `e`, `E` (hex, and a float's exponent).
const K_E: u32 = 1 << 2;
/// `x`, `X` (the `0x` of hex).
const K_X: u32 = 1 << 3;
/// `t`, `T`, `z`, `Z` (ISO 8601 date-times).
const K_TZ: u32 = 1 << 4;
/// Other ASCII letters.
const K_LETTER: u32 = 1 << 5;
const K_DOT: u32 = 1 << 6;
const K_COLON: u32 = 1 << 7;
const K_DASH: u32 = 1 << 8;
const K_SLASH: u32 = 1 << 9;
const K_AT: u32 = 1 << 10;
const K_BACKSLASH: u32 = 1 << 11;
const K_PLUS: u32 = 1 << 12;
const K_TILDE: u32 = 1 << 13;
/// `,` and space (a timestamp's).
const K_COMMA_SPACE: u32 = 1 << 14;
/// Bytes of 0x80 and above.
const K_HIGH: u32 = 1 << 15;
/// Everything else.
const K_OTHER: u32 = 1 << 16;

const K_LETTERS: u32 = K_HEX | K_E | K_X | K_TZ | K_LETTER;
const K_HEXDIGITS: u32 = K_DIGIT | K_HEX | K_E;

static KIND_GROUP: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'0'..=b'9' => K_DIGIT,
            b'e' | b'E' => K_E,
            b'a'..=b'f' | b'A'..=b'F' => K_HEX,
            b'x' | b'X' => K_X,
            b't' | b'T' | b'z' | b'Z' => K_TZ,
            b'a'..=b'z' | b'A'..=b'Z' => K_LETTER,
            b'.' => K_DOT,
            b':' => K_COLON,
            b'-' => K_DASH,
            b'/' => K_SLASH,
            b'@' => K_AT,
            b'\\' => K_BACKSLASH,
            b'+' => K_PLUS,
            b'~' => K_TILDE,
            b',' | b' ' => K_COMMA_SPACE,
            0x80..=0xff => K_HIGH,
            _ => K_OTHER,
        };
        b += 1;
    }
    t
};

/// Classifies one variable value.
///
/// One pass sums up which byte groups the value holds; a rule that cannot
/// accept one of them is skipped (it would say no), so the answer is
/// [`classify_by_rules`]'s, the slow twin the tests compare against.
pub fn classify(s: &str) -> VarKind {
    let b = s.as_bytes();
    let mut g = 0u32;
    for &c in b {
        g |= KIND_GROUP[c as usize];
    }
    // Whether every byte is in `allowed`.
    let only = |allowed: u32| g & !allowed == 0;
    let len = b.len();
    let digit = g & K_DIGIT != 0;
    if g == K_DIGIT {
        // Most values are plain numbers: `is_int` is the first rule to
        // take one (no boolean or null word has a digit).
        return VarKind::Int;
    }
    if (4..=5).contains(&len) && only(K_LETTERS) {
        if is_bool(s) {
            return VarKind::Bool;
        }
        if is_null_like(s) {
            return VarKind::Null;
        }
    }
    if only(K_DIGIT | K_PLUS | K_DASH) && is_int(s) {
        return VarKind::Int;
    }
    if g == K_DIGIT | K_DOT {
        // Digits and dots: one dot between digits is a decimal (an IPv4
        // address has three, and `f64` takes `1.5`), so skip the parse.
        let dot = b.iter().position(|&c| c == b'.').unwrap_or(0);
        if dot > 0 && dot + 1 < len && !b[dot + 1..].contains(&b'.') {
            return VarKind::Float;
        }
    }
    if only(K_DIGIT | K_DOT) && is_ipv4(s) {
        return VarKind::Ipv4;
    }
    if digit && only(K_DIGIT | K_DOT | K_E | K_PLUS | K_DASH) && is_float(s) {
        return VarKind::Float;
    }
    if only(K_HEXDIGITS | K_X) && is_hex(s) {
        return VarKind::Hex;
    }
    if len == 36 && only(K_HEXDIGITS | K_DASH) && is_uuid(s) {
        return VarKind::Uuid;
    }
    if len == 17 && only(K_HEXDIGITS | K_COLON | K_DASH) && is_mac(s) {
        return VarKind::Mac;
    }
    if only(K_HEXDIGITS | K_COLON) && is_hex_bytes(s) {
        return VarKind::Hex;
    }
    if g & K_COLON != 0 && only(K_HEXDIGITS | K_COLON | K_DOT) && is_ipv6(s) {
        return VarKind::Ipv6;
    }
    if g & K_AT != 0 && is_email(s) {
        return VarKind::Email;
    }
    if g & K_COLON != 0 && g & K_SLASH != 0 && is_url(s) {
        return VarKind::Url;
    }
    if (b.first() == Some(&b'/') && is_path(s)) || (len >= 3 && g & K_BACKSLASH != 0 && is_windows_path(s)) {
        return VarKind::Path;
    }
    if digit
        && only(K_DIGIT | K_DASH | K_SLASH | K_DOT | K_COLON | K_TZ | K_PLUS | K_COMMA_SPACE)
        && (is_timestamp(s) || is_iso_datetime(s))
    {
        return VarKind::Timestamp;
    }
    if digit && only(K_DIGIT | K_DOT | K_LETTERS | K_HIGH) && is_duration(s) {
        return VarKind::Duration;
    }
    if digit
        && matches!(b.first(), Some(b'0'..=b'9' | b'v'))
        && only(K_DIGIT | K_LETTERS | K_DOT | K_COLON | K_DASH | K_PLUS | K_TILDE)
        && is_version(s)
    {
        return VarKind::Version;
    }
    if g & K_DOT != 0 && only(K_DIGIT | K_LETTERS | K_DASH | K_DOT) && is_fqdn(s) {
        return VarKind::Host;
    }
    if digit {
        VarKind::Id
    } else {
        VarKind::Word
    }
}

/// [`classify`] without its shortcuts: each rule in order (its slow twin).
#[cfg_attr(not(test), allow(dead_code))]
fn classify_by_rules(s: &str) -> VarKind {
    if is_bool(s) {
        VarKind::Bool
    } else if is_null_like(s) {
        VarKind::Null
    } else if is_int(s) {
        VarKind::Int
    } else if is_ipv4(s) {
        VarKind::Ipv4
    } else if is_float(s) {
        VarKind::Float
    } else if is_hex(s) {
        VarKind::Hex
    } else if is_uuid(s) {
        VarKind::Uuid
    } else if is_mac(s) {
        VarKind::Mac
    } else if is_hex_bytes(s) {
        VarKind::Hex
    } else if is_ipv6(s) {
        VarKind::Ipv6
    } else if is_email(s) {
        VarKind::Email
    } else if is_url(s) {
        VarKind::Url
    } else if is_path(s) || is_windows_path(s) {
        VarKind::Path
    } else if is_timestamp(s) || is_iso_datetime(s) {
        VarKind::Timestamp
    } else if is_duration(s) {
        VarKind::Duration
    } else if is_version(s) {
        VarKind::Version
    } else if is_fqdn(s) {
        VarKind::Host
    } else if has_digit(s) {
        VarKind::Id
    } else {
        VarKind::Word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_without_a_double_colon_needs_eight_groups() {
        for (s, want) in [
            ("1:2:3:4:5:6:7:8", true),
            ("fe80:0:0:0:202:b3ff:fe1e:8329", true),
            ("0:0:0:0:0:ffff:10.0.0.1", true),
            ("1:2:3:4:5:6:7", false),
            ("a:b:c:d:e:f:1", false),
            ("12:23:38", false),
            ("1:2:3:4:5:1.2.3.4", false),
            ("fe80::1", true),
            ("::ffff:10.0.0.1", true),
        ] {
            assert_eq!(is_ipv6(s), want, "{s}");
            assert_eq!(is_delimited_kind_in(s, false, false), want, "{s}");
        }
        // The hints only skip scans: with them true, or false where the
        // byte is absent, the answer is the plain one.
        for s in [
            "user@example.com",
            "http://h/x1",
            "http://h/x",
            "a@b",
            "1:2:3:4:5:6:7:8",
        ] {
            assert_eq!(
                is_delimited_kind_in(s, s.contains('@'), s.contains('/')),
                is_delimited_kind(s),
                "{s}"
            );
        }
    }

    /// Values of every kind, and near misses: pieces joined at random.
    fn kind_soup() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            r"[0-9]{1,5}",
            r"[-+0-9a-fA-FxXeE.:/@\\~,_ tTzZvµé]{1,6}",
            r"[a-zA-Z]{1,6}",
            proptest::sample::select(vec![
                "true",
                "FALSE",
                "null",
                "Root",
                "admin",
                "0x",
                "1e-3",
                "inf",
                "NaN",
                "::",
                "://",
                "http",
                "C:\\",
                "\\\\",
                "/var",
                "2017-05-16",
                "T00:00:00Z",
                "+01:00",
                "ms",
                "µs",
                "secs",
                "v1.2",
                "1:2.3-4~x",
                "deb12u1",
                ".com",
                ".org",
                "db-7",
                "@example.org",
                "38101a0b-2096-447d-96ea-a692162415ae",
                "00:1a:2b:3c:4d:5e",
                "fe80::1",
                "10.0.0.1",
                "255.255.255.255",
                "FF:F2:9F:15",
            ])
            .prop_map(str::to_string),
        ];
        proptest::collection::vec(piece, 1..5).prop_map(|p| p.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn classify_shortcut_matches_the_rules(s in r"[0-9]{0,12}|[-+0-9a-fx.:]{0,10}") {
            proptest::prop_assert_eq!(classify(&s), classify_by_rules(&s), "{:?}", s);
        }

        /// The byte-group shortcuts skip only rules that would say no.
        #[test]
        fn classify_by_byte_groups_matches_the_rules(s in kind_soup()) {
            proptest::prop_assert_eq!(classify(&s), classify_by_rules(&s), "{:?}", s);
        }
    }

    #[test]
    fn classify_by_byte_groups_matches_the_rules_on_each_detector_case() {
        // Every kind reached through the shortcuts, and the bytes each
        // rule accepts at its edges.
        for s in [
            "42",
            "-7",
            "+7",
            "0.25",
            "1e-3",
            "-1.5E+3",
            "0x1F",
            "0X",
            "deadbeef0042",
            "deadbeef",
            "10.0.0.1",
            "256.1.1.1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "1:2:3:4:5:6:7:8",
            "00:1a:2b:3c:4d:5e",
            "00-1A-2B-3C-4D-5E",
            "38101a0b-2096-447d-96ea-a692162415ae",
            "FF:F2:9F:15:1F:72",
            "/var/log/syslog",
            "/",
            "C:\\x",
            "\\\\srv\\s",
            "https://h:8080/x",
            "a@b.org",
            "2017-05-16",
            "00:00:01",
            "2017-05-16T00:00:00Z",
            "2017/05/16 10:00:00,123",
            "15ms",
            "2.5s",
            "3µs",
            "10secs",
            "true",
            "False",
            "NULL",
            "root",
            "Admin",
            "2.36-9+deb12u10",
            "1:252.38-1~deb12u1",
            "v1.2.3-rc.1",
            "db-7.example.org",
            "cdn.vendor.COM",
            "blk_-42",
            "guest",
            "none",
            "",
            "é",
            "1é",
            "inf",
            "nan",
            "1inf",
            "1.5",
            "01.50",
            ".5",
            "5.",
            "1.2.3",
            "1..2",
            "127.0.0.1",
            "1234567890.123456789012345678901234567890",
        ] {
            assert_eq!(classify(s), classify_by_rules(s), "{s:?}");
        }
    }

    #[test]
    fn kind_names_are_plain_lowercase_words() {
        // `parse` writes them into JSON without escaping.
        use VarKind::*;
        for k in [
            Int, Float, Hex, Ipv4, Ipv6, Mac, Uuid, Path, Url, Email, Timestamp, Duration, Bool, Null,
            Version, Host, Id, Word,
        ] {
            let n = k.name();
            assert!(
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{n}"
            );
        }
    }

    #[test]
    fn each_detector() {
        let cases = [
            ("42", VarKind::Int),
            ("-7", VarKind::Int),
            ("0.25", VarKind::Float),
            ("1e-3", VarKind::Float),
            ("0x1F", VarKind::Hex),
            ("deadbeef0042", VarKind::Hex),
            ("10.0.0.1", VarKind::Ipv4),
            ("fe80::1ff:fe23:4567:890a", VarKind::Ipv6),
            ("2001:db8:0:0:0:0:2:1", VarKind::Ipv6),
            ("::ffff:10.0.0.1", VarKind::Ipv6),
            ("00:1a:2b:3c:4d:5e", VarKind::Mac),
            ("00-1A-2B-3C-4D-5E", VarKind::Mac),
            ("38101a0b-2096-447d-96ea-a692162415ae", VarKind::Uuid),
            ("/var/log/syslog", VarKind::Path),
            ("https://host:8080/x", VarKind::Url),
            ("bob.smith@example.org", VarKind::Email),
            ("2017-05-16", VarKind::Timestamp),
            ("00:00:01", VarKind::Timestamp),
            ("2017-05-16T00:00:00Z", VarKind::Timestamp),
            ("15ms", VarKind::Duration),
            ("2.5s", VarKind::Duration),
            ("true", VarKind::Bool),
            ("NULL", VarKind::Null),
            ("2024-01-02T03:04:05.123+01:00", VarKind::Timestamp),
            ("2.36-9+deb12u10", VarKind::Version),
            ("1:252.38-1~deb12u1", VarKind::Version),
            ("v1.2.3-rc.1", VarKind::Version),
            ("db-7.example.org", VarKind::Host),
            ("C:\\Windows\\Temp\\x.sqm", VarKind::Path),
            ("admin", VarKind::Null),
            ("blk_-42", VarKind::Id),
            ("guest", VarKind::Word),
            ("none", VarKind::Word),
        ];
        for (s, k) in cases {
            assert_eq!(classify(s), k, "{s}");
        }
    }

    #[test]
    fn negatives() {
        assert!(!is_ipv4("1.2.3"));
        assert!(!is_ipv4("1.2.3.256"));
        assert!(!is_ipv6("10:30:00"));
        assert!(!is_ipv6("std::vector"));
        assert!(!is_uuid("38101a0b-2096-447d-96ea"));
        assert!(!is_mac("00:1a:2b:3c:4d"));
        assert!(!is_email("a@b"));
        assert!(!is_url("://x"));
        assert!(!is_path("/"));
        assert!(is_path("/var/www/html/"));
        assert!(!is_path("//"));
        assert!(!is_path("a/b"));
        assert!(!is_version("1"));
        assert!(!is_version("2017-05-16"));
        assert!(!is_version("1.2.3-"));
        assert!(!is_version("10.0.0.1:80"));
        assert!(!is_iso_datetime("2017-05-16 00:00"));
        assert!(!is_fqdn("org.apache.hadoop.MRAppMaster"));
        assert!(!is_fqdn("rpc.statd"));
        assert!(!is_host_before_port("Foo.java"));
        assert!(!is_host_before_port("memory"));
        assert!(is_host_before_port("msra-sa-41"));
        assert!(!is_hex_bytes("00:1a:2b"));
        assert!(is_hex_bytes("FF:F2:9F:15:1F:72:00:0D:60:EA:E0:8D"));
        assert!(!is_windows_path("a:b"));
        assert!(is_pci_address("0000:00:1f.0"));
        assert!(!is_pci_address("07:07:00.1"));
        assert!(!is_pci_address("00:1f.0"));
    }

    #[test]
    fn names_are_not_variables() {
        for p in ["ext3", "v2", "e820", "HttpServer2", "tty1", "L3", "word"] {
            assert!(!is_variable_piece(p), "{p}");
        }
        for p in [
            "42",
            "blk_-42",
            "a692162415ae",
            "task_12",
            "0x1f",
            "false",
            "J1234",
        ] {
            assert!(is_variable_piece(p), "{p}");
        }
    }
}
