//! Events as detection sees them: field lookup by dotted path, and the text
//! that keyword searches look at.

use std::borrow::Cow;

/// One field value of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Str(Cow<'a, str>),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// Present but null.
    Null,
    /// A list (any element may match).
    List(Vec<FieldValue<'a>>),
}

impl FieldValue<'_> {
    /// The value as text, as Sigma compares it (numbers in decimal, `true`).
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            FieldValue::Str(s) => Some(Cow::Borrowed(s)),
            FieldValue::Num(n) => Some(Cow::Owned(format_num(*n))),
            FieldValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            FieldValue::Null | FieldValue::List(_) => None,
        }
    }

    /// The value as a number, if it is one or is numeric text.
    pub fn as_num(&self) -> Option<f64> {
        match self {
            FieldValue::Num(n) => Some(*n),
            FieldValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Decimal text of a number without a trailing `.0` for integers.
pub fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// [`format_num`]'s text for an integral `n` (the common case: event ids,
/// process ids...), written in `buf` without the formatting machinery;
/// `None` for the others.
pub(crate) fn int_text(n: f64, buf: &mut itoa::Buffer) -> Option<&str> {
    (n.fract() == 0.0 && n.abs() < 1e15).then(|| buf.format(n as i64))
}

/// What detection needs from an event.
pub trait Event {
    /// The value at a dotted path (`Event.EventData.Image`), if present.
    fn get(&self, path: &str) -> Option<FieldValue<'_>>;
    /// Calls `f` with every text value of the event (for keyword searches
    /// and the prefilter).
    fn for_each_text(&self, f: &mut dyn FnMut(&str));
    /// Calls `f` with text that holds every text value of the event (for the
    /// prefilter: every needle occurring in any value must occur in some
    /// text passed here). Defaults to [`Event::for_each_text`]; a cheaper
    /// override may skip values that lie inside another one.
    fn for_each_scan_text(&self, f: &mut dyn FnMut(&str)) {
        self.for_each_text(f)
    }
    /// The text keyword searches look at first: the message, else the raw
    /// line; `None` means "every text value".
    fn keyword_text(&self) -> Option<Cow<'_, str>>;
    /// The event as a [`crate::TapeEvent`], when it is one (the detector
    /// then prefilters field by field).
    #[doc(hidden)]
    fn as_tape(&self) -> Option<&crate::TapeEvent<'_>> {
        None
    }

    /// The event as a [`FlatEvent`], when it is one (the prefilter then
    /// resolves the fields it reads once per list of field names).
    #[doc(hidden)]
    fn as_flat(&self) -> Option<&FlatEvent<'_>> {
        None
    }
}

/// A JSON event; nested objects are addressed by dotted paths. A key that
/// itself contains dots is found too (the longest matching key wins).
#[derive(Debug, Clone)]
pub struct JsonEvent<'a>(pub &'a serde_json::Value);

fn json_field(v: &serde_json::Value) -> FieldValue<'_> {
    match v {
        serde_json::Value::String(s) => FieldValue::Str(Cow::Borrowed(s)),
        serde_json::Value::Number(n) => FieldValue::Num(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::Bool(b) => FieldValue::Bool(*b),
        serde_json::Value::Null => FieldValue::Null,
        serde_json::Value::Array(a) => FieldValue::List(a.iter().map(json_field).collect()),
        // evtx-to-JSON tools write an XML element with attributes as
        // `{"#attributes": {..}, "#text": value}` (e.g. `EventID` with
        // `Qualifiers`, unnamed `Data`): its value is the text.
        serde_json::Value::Object(o) => match o.get("#text") {
            Some(t) => json_field(t),
            // Any other object matches through its leaf values: the
            // prefilter scans exactly those leaves, so it stays sound
            // (a serialised object would hold escapes no leaf has).
            None => FieldValue::List(o.values().map(json_field).collect()),
        },
    }
}

fn lookup<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(path) {
        return Some(x);
    }
    // Try the longest prefix that is a key, then descend. A `*` segment
    // stands for any one key (first match wins): `Event.UserData.*.Param`
    // reaches UserData's single wrapper element, whatever its name.
    let mut cut = path.len();
    while let Some(i) = path[..cut].rfind('.') {
        let (head, rest) = (&path[..i], &path[i + 1..]);
        if head == "*" {
            if let Some(found) = obj.values().find_map(|x| lookup(x, rest)) {
                return Some(found);
            }
        } else if let Some(x) = obj.get(head) {
            if let Some(found) = lookup(x, rest) {
                return Some(found);
            }
        }
        cut = i;
    }
    None
}

fn walk_text(v: &serde_json::Value, f: &mut dyn FnMut(&str)) {
    match v {
        serde_json::Value::String(s) => f(s),
        // The same text that matching sees (`FieldValue::as_text`), so the
        // prefilter and the matchers never disagree on a number.
        serde_json::Value::Number(n) => f(&format_num(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::Bool(b) => f(if *b { "true" } else { "false" }),
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk_text(x, f)),
        serde_json::Value::Object(o) => o.values().for_each(|x| walk_text(x, f)),
        serde_json::Value::Null => {}
    }
}

/// Appends every leaf's text to `out`, each followed by a newline.
fn join_text(v: &serde_json::Value, out: &mut String) {
    use std::fmt::Write as _;
    match v {
        serde_json::Value::String(s) => out.push_str(s),
        serde_json::Value::Number(n) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            if n.fract() == 0.0 && n.abs() < 1e15 {
                let _ = write!(out, "{}", n as i64);
            } else {
                let _ = write!(out, "{n}");
            }
        }
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Array(a) => return a.iter().for_each(|x| join_text(x, out)),
        serde_json::Value::Object(o) => return o.values().for_each(|x| join_text(x, out)),
        serde_json::Value::Null => return,
    }
    out.push('\n');
}

impl Event for JsonEvent<'_> {
    fn get(&self, path: &str) -> Option<FieldValue<'_>> {
        lookup(self.0, path).map(json_field)
    }
    fn for_each_text(&self, f: &mut dyn FnMut(&str)) {
        walk_text(self.0, f)
    }
    fn for_each_scan_text(&self, f: &mut dyn FnMut(&str)) {
        // One scan over all leaves joined by newlines instead of one per
        // leaf: every needle in a leaf is in the joined text (a needle
        // spanning two leaves only adds a candidate, never loses one).
        let mut all = String::with_capacity(1024);
        join_text(self.0, &mut all);
        f(&all)
    }
    fn keyword_text(&self) -> Option<Cow<'_, str>> {
        ["message", "msg", "log", "raw"]
            .iter()
            .find_map(|k| self.0.get(*k).and_then(|v| v.as_str()).map(Cow::Borrowed))
    }
}

/// A flat event of named text fields (what the text-log pipeline builds:
/// header fields, `message`, `raw`, `template`, `template_id`, `params`).
#[derive(Debug, Clone, Default)]
pub struct FlatEvent<'a> {
    /// Field name and value pairs.
    pub fields: Vec<(&'a str, &'a str)>,
    /// `params`: the template's variable values.
    pub params: Vec<&'a str>,
}

impl<'a> FlatEvent<'a> {
    /// The event of one text record, as the CLI and the service both build
    /// it: its header `fields`, then `extra` (labels or attributes a
    /// shipper sent with the line), `message` (with `content`, Loghub's
    /// word, as an alias), `raw`, `template`, `template_id` and `params`.
    /// A name given twice resolves to its first value.
    #[allow(clippy::too_many_arguments)]
    pub fn of_record(
        fields: &[(&'a str, &'a str)],
        extra: impl IntoIterator<Item = (&'a str, &'a str)>,
        content: &'a str,
        raw: &'a str,
        template: Option<&'a str>,
        template_id: Option<&'a str>,
        params: &[&'a str],
    ) -> FlatEvent<'a> {
        let mut ev = FlatEvent::default();
        ev.fields.extend_from_slice(fields);
        ev.fields.extend(extra);
        ev.push("message", content);
        ev.push("content", content);
        ev.push("raw", raw);
        if let Some(t) = template {
            ev.push("template", t);
        }
        if let Some(t) = template_id {
            ev.push("template_id", t);
        }
        ev.params = params.to_vec();
        ev
    }

    /// Adds a field.
    pub fn push(&mut self, name: &'a str, value: &'a str) {
        self.fields.push((name, value));
    }
}

impl Event for FlatEvent<'_> {
    fn as_flat(&self) -> Option<&FlatEvent<'_>> {
        Some(self)
    }
    fn get(&self, path: &str) -> Option<FieldValue<'_>> {
        if path == "params" {
            return Some(FieldValue::List(
                self.params
                    .iter()
                    .map(|p| FieldValue::Str(Cow::Borrowed(*p)))
                    .collect(),
            ));
        }
        self.fields
            .iter()
            .find(|(k, _)| *k == path)
            .map(|(_, v)| FieldValue::Str(Cow::Borrowed(*v)))
    }
    fn for_each_text(&self, f: &mut dyn FnMut(&str)) {
        for (_, v) in &self.fields {
            f(v);
        }
        for p in &self.params {
            f(p);
        }
    }
    fn for_each_scan_text(&self, f: &mut dyn FnMut(&str)) {
        // In the text pipeline the header fields, `message` and the params
        // are slices of `raw`: scanning a value that lies inside another
        // scanned value (by address) finds nothing new, so skip it.
        let range = |s: &str| {
            let a = s.as_ptr() as usize;
            (a, a + s.len())
        };
        let all: Vec<(usize, usize)> = self
            .fields
            .iter()
            .map(|(_, v)| range(v))
            .chain(self.params.iter().map(|p| range(p)))
            .collect();
        for (i, &(a, b)) in all.iter().enumerate() {
            // Inside another value: a strictly larger one, or an identical
            // range seen earlier.
            let inside = all
                .iter()
                .enumerate()
                .any(|(j, &(c, d))| j != i && c <= a && b <= d && ((d - c) > (b - a) || j < i));
            if !inside {
                let s = if i < self.fields.len() {
                    self.fields[i].1
                } else {
                    self.params[i - self.fields.len()]
                };
                f(s);
            }
        }
    }
    fn keyword_text(&self) -> Option<Cow<'_, str>> {
        ["message", "raw"].iter().find_map(|k| {
            self.fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| Cow::Borrowed(*v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_and_dotted_keys() {
        let v: serde_json::Value =
            serde_json::json!({"Event": {"System": {"EventID": 1}, "EventData": {"a.b": "x"}}, "k.l": 2});
        let e = JsonEvent(&v);
        assert_eq!(e.get("Event.System.EventID"), Some(FieldValue::Num(1.0)));
        assert_eq!(e.get("Event.EventData.a.b"), Some(FieldValue::Str("x".into())));
        assert_eq!(e.get("k.l"), Some(FieldValue::Num(2.0)));
        assert_eq!(e.get("Event.Nope"), None);
    }

    #[test]
    fn evtx_text_nodes_wildcard_segments_and_objects() {
        let v = serde_json::json!({"Event": {
            "System": {"EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045}},
            "EventData": {"Data": {"#text": ["a", "HostApplication=powershell.exe"]}},
            "UserData": {"LogFileCleared": {"SubjectUserName": "bob"}}}});
        let e = JsonEvent(&v);
        assert_eq!(e.get("Event.System.EventID"), Some(FieldValue::Num(7045.0)));
        assert!(matches!(e.get("Event.EventData.Data"), Some(FieldValue::List(l)) if l.len() == 2));
        assert_eq!(
            e.get("Event.UserData.*.SubjectUserName"),
            Some(FieldValue::Str("bob".into()))
        );
        // An object without `#text` is the list of its leaf values.
        assert!(matches!(e.get("Event.UserData"), Some(FieldValue::List(_))));
    }

    #[test]
    fn scan_text_skips_slices_of_other_values() {
        let raw = "Jun 14 15:16:01 combo sshd[1]: hello world";
        let mut e = FlatEvent::default();
        e.push("host", &raw[16..21]);
        e.push("message", &raw[31..]);
        e.push("raw", raw);
        e.push("raw_again", raw);
        e.push("other", "separate text");
        e.params = vec![&raw[37..]];
        let mut seen = Vec::new();
        e.for_each_scan_text(&mut |t| seen.push(t.to_string()));
        assert_eq!(seen, [raw, "separate text"]);
    }

    /// `int_text` against its slow twin, `format_num`.
    #[test]
    fn int_text_is_format_num_for_integers() {
        let mut buf = itoa::Buffer::new();
        let mut ints = 0;
        let mut vals = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -2.5,
            1e15,
            -1e15,
            1e15 - 1.0,
            1e300,
            f64::NAN,
            f64::INFINITY,
        ];
        vals.extend((0..64).map(|i| (1u64 << i) as f64));
        vals.extend((0..64).map(|i| -((1u64 << i) as f64) - 1.0));
        vals.extend((0..2000).map(|i| i as f64 * 7919.0 - 5e6));
        for n in vals {
            match int_text(n, &mut buf) {
                Some(t) => {
                    assert_eq!(t, format_num(n), "{n}");
                    ints += 1;
                }
                None => assert!(n.fract() != 0.0 || n.abs() >= 1e15 || n.is_nan(), "{n}"),
            }
        }
        assert!(ints > 2000);
    }

    #[test]
    fn flat_event() {
        let mut e = FlatEvent::default();
        e.push("message", "hello");
        e.params = vec!["1"];
        assert_eq!(e.keyword_text().as_deref(), Some("hello"));
        assert!(matches!(e.get("params"), Some(FieldValue::List(_))));
    }
}
