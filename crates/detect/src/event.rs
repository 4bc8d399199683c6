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

/// What detection needs from an event.
pub trait Event {
    /// The value at a dotted path (`Event.EventData.Image`), if present.
    fn get(&self, path: &str) -> Option<FieldValue<'_>>;
    /// Calls `f` with every text value of the event (for keyword searches
    /// and the prefilter).
    fn for_each_text(&self, f: &mut dyn FnMut(&str));
    /// The text keyword searches look at first: the message, else the raw
    /// line; `None` means "every text value".
    fn keyword_text(&self) -> Option<Cow<'_, str>>;
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
        serde_json::Value::Object(_) => FieldValue::Str(Cow::Owned(v.to_string())),
    }
}

fn lookup<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(path) {
        return Some(x);
    }
    // Try the longest prefix that is a key, then descend.
    let mut cut = path.len();
    while let Some(i) = path[..cut].rfind('.') {
        if let Some(x) = obj.get(&path[..i]) {
            if let Some(found) = lookup(x, &path[i + 1..]) {
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
        serde_json::Value::Number(n) => f(&n.to_string()),
        serde_json::Value::Bool(b) => f(if *b { "true" } else { "false" }),
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk_text(x, f)),
        serde_json::Value::Object(o) => o.values().for_each(|x| walk_text(x, f)),
        serde_json::Value::Null => {}
    }
}

impl Event for JsonEvent<'_> {
    fn get(&self, path: &str) -> Option<FieldValue<'_>> {
        lookup(self.0, path).map(json_field)
    }
    fn for_each_text(&self, f: &mut dyn FnMut(&str)) {
        walk_text(self.0, f)
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
    /// Adds a field.
    pub fn push(&mut self, name: &'a str, value: &'a str) {
        self.fields.push((name, value));
    }
}

impl Event for FlatEvent<'_> {
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
    fn flat_event() {
        let mut e = FlatEvent::default();
        e.push("message", "hello");
        e.params = vec!["1"];
        assert_eq!(e.keyword_text().as_deref(), Some("hello"));
        assert!(matches!(e.get("params"), Some(FieldValue::List(_))));
    }
}
