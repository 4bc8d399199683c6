//! Reading Sigma rule files and compiling detections into matchers.

use crate::condition::{parse_condition, Cond};
use crate::mapping::{Alternative, Logsource, Mapping};
use crate::pipeline::{Fields, Pipeline};
use crate::value::{
    b64, b64_offsets, compile_glob, parse_wildcards, utf16, windash, CmpOp, GlobTok, Matcher, RefMode,
};
use serde_yaml::Value;
use std::path::Path;

/// One field test: a Sigma field, its candidate event paths and values.
#[derive(Debug, Clone)]
pub struct FieldMatch {
    /// The Sigma field name as written in the rule.
    pub field: String,
    /// Event paths tried in order.
    pub paths: Vec<String>,
    /// One entry per rule value; each holds alternatives (from transforms).
    pub values: Vec<Vec<Matcher>>,
    /// `all`: every value must match (else any).
    pub all: bool,
    /// The verdict when the event lacks the field (precomputed: only
    /// `null` and `exists: false` values accept an absent field).
    pub absent_ok: bool,
}

/// A detection identifier's body.
#[derive(Debug, Clone)]
pub enum Selection {
    /// OR of AND-groups of field tests.
    Fields(Vec<Vec<FieldMatch>>),
    /// Keyword search over the event's message text.
    Keywords {
        /// One entry per keyword (alternatives inside).
        values: Vec<Vec<Matcher>>,
        /// Every keyword must be present.
        all: bool,
    },
}

/// A compiled detection rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `id` (or the file path when absent).
    pub id: String,
    /// `name`, used by correlations to refer to the rule.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level` (severity); `informational` when absent.
    pub level: String,
    /// The file it came from.
    pub file: String,
    /// Detection identifiers in file order.
    pub names: Vec<String>,
    /// Their bodies.
    pub selections: Vec<Selection>,
    /// The condition.
    pub cond: Cond,
    /// Logsource conditions (OR of alternatives; empty: none).
    pub logsource: Vec<Alternative>,
    /// How the pipelines rename this rule's fields (correlations read
    /// their group-by fields from its events the same way).
    pub(crate) plan: crate::pipeline::Plan,
}

/// A correlation rule (Sigma v2).
#[derive(Debug, Clone)]
pub struct Correlation {
    /// `id`.
    pub id: String,
    /// `name`, used by other correlations to refer to this one.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level`.
    pub level: String,
    /// The file it came from.
    pub file: String,
    /// `event_count`, `value_count`, `temporal` or `temporal_ordered`.
    pub kind: CorrelationKind,
    /// Referenced rules (ids or names), resolved later.
    pub rules: Vec<String>,
    /// Group-by Sigma fields.
    pub group_by: Vec<String>,
    /// Window length in seconds.
    pub timespan: f64,
    /// Threshold (event_count/value_count): every comparison must hold
    /// (`gt: 10` and `lte: 100` together give a range).
    pub threshold: Vec<(ThresholdOp, f64)>,
    /// `aliases`: alias name → (rule id or name → that rule's field). A
    /// group-by name that is an alias reads each rule's own field.
    pub aliases: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// The counted field (value_count) or the field whose values are
    /// summed, averaged, … (value_sum, value_avg, value_median,
    /// value_percentile).
    pub field: Option<String>,
    /// value_percentile: which percentile (0 to 100).
    pub percentile: Option<f64>,
    /// Whether referenced rules still raise their own alerts.
    pub generate: bool,
}

/// A correlation threshold comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdOp {
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `eq`.
    Eq,
}

impl ThresholdOp {
    /// Whether `n` compared with `t` holds.
    pub fn holds(self, n: f64, t: f64) -> bool {
        match self {
            ThresholdOp::Gt => n > t,
            ThresholdOp::Gte => n >= t,
            ThresholdOp::Lt => n < t,
            ThresholdOp::Lte => n <= t,
            ThresholdOp::Eq => n == t,
        }
    }
}

impl Correlation {
    /// Whether the threshold can only be decided when the window ends
    /// (`lt`, `lte`, `eq`: a later event could still break it), rather than
    /// as soon as it is met (`gt`, `gte` only).
    pub fn decided_at_window_end(&self) -> bool {
        // A sum, average, median or percentile can go down as well as up
        // with the next value: it is only known when the window ends.
        self.kind.is_metric()
            || self
                .threshold
                .iter()
                .any(|(op, _)| !matches!(op, ThresholdOp::Gt | ThresholdOp::Gte))
    }

    /// The event field that feeds group-by key `g` for rule `rule` (by id
    /// or name), following `aliases`.
    pub fn group_field<'a>(&'a self, g: &'a str, rule_id: &str, rule_name: Option<&str>) -> &'a str {
        self.aliases
            .get(g)
            .and_then(|m| m.get(rule_id).or_else(|| rule_name.and_then(|n| m.get(n))))
            .map_or(g, String::as_str)
    }
}

/// The correlation types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorrelationKind {
    /// Count events per group.
    EventCount,
    /// Count distinct values of a field per group.
    ValueCount,
    /// All referenced rules within the window, any order.
    Temporal,
    /// All referenced rules within the window, in the listed order.
    TemporalOrdered,
    /// The sum of a numeric field's values per group.
    ValueSum,
    /// Their mean.
    ValueAvg,
    /// Their median.
    ValueMedian,
    /// Their `percentile`-th percentile (linear between closest ranks).
    ValuePercentile,
}

impl CorrelationKind {
    /// The Sigma name.
    pub fn name(self) -> &'static str {
        match self {
            CorrelationKind::EventCount => "event_count",
            CorrelationKind::ValueCount => "value_count",
            CorrelationKind::Temporal => "temporal",
            CorrelationKind::TemporalOrdered => "temporal_ordered",
            CorrelationKind::ValueSum => "value_sum",
            CorrelationKind::ValueAvg => "value_avg",
            CorrelationKind::ValueMedian => "value_median",
            CorrelationKind::ValuePercentile => "value_percentile",
        }
    }

    /// Whether the condition compares a statistic of a field's values
    /// (value_sum, value_avg, value_median, value_percentile).
    pub fn is_metric(self) -> bool {
        matches!(
            self,
            CorrelationKind::ValueSum
                | CorrelationKind::ValueAvg
                | CorrelationKind::ValueMedian
                | CorrelationKind::ValuePercentile
        )
    }
}

/// A Sigma meta filter: when its condition holds on an event, the rules it
/// names do not match that event (`rule and not filter`).
#[derive(Debug, Clone)]
pub struct Filter {
    /// `id` (or the file path when absent).
    pub id: String,
    /// `title`.
    pub title: String,
    /// The file it came from.
    pub file: String,
    /// The rules it applies to (ids or names), resolved at load.
    pub rules: Vec<String>,
    /// Its selections and condition, compiled like a rule's detection
    /// (with its own logsource conditions).
    pub body: Rule,
}

/// Values for `%name%` placeholders (the `expand` modifier), by name
/// without the `%`.
pub type Placeholders = std::collections::BTreeMap<String, Vec<String>>;

/// What a rule file held.
#[derive(Debug)]
pub enum Parsed {
    /// A detection rule.
    Rule(Box<Rule>),
    /// A correlation rule.
    Correlation(Box<Correlation>),
    /// A meta filter.
    Filter(Box<Filter>),
}

/// The text of a scalar (numbers and booleans as written).
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get_str(doc: &Value, key: &str) -> Option<String> {
    doc.get(key).and_then(text)
}

/// Parses `5m`, `1h`, `30s`, `2d`, `1w` into seconds.
pub fn parse_timespan(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("bad timespan {s:?}"))?;
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 604800.0,
        "M" => 2_592_000.0,
        "y" => 31_536_000.0,
        _ => return Err(format!("bad timespan unit in {s:?} (use s, m, h, d, w)")),
    };
    Ok(n * mult)
}

#[derive(Default)]
struct Mods {
    pos: Option<&'static str>,
    all: bool,
    cased: bool,
    re: Option<String>,
    cidr: bool,
    exists: bool,
    cmp: Option<CmpOp>,
    fieldref: bool,
    expand: bool,
    transforms: Vec<&'static str>,
}

fn parse_mods(mods: &[&str]) -> Result<Mods, String> {
    let mut m = Mods::default();
    for &x in mods {
        match x {
            "contains" => m.pos = Some("contains"),
            "startswith" => m.pos = Some("startswith"),
            "endswith" => m.pos = Some("endswith"),
            "all" => m.all = true,
            "cased" => m.cased = true,
            "re" => m.re = Some(String::new()),
            "i" | "m" | "s" => match &mut m.re {
                Some(f) => f.push_str(x),
                None => return Err(format!("modifier `{x}` is only valid after `re`")),
            },
            "cidr" => m.cidr = true,
            "exists" => m.exists = true,
            "lt" => m.cmp = Some(CmpOp::Lt),
            "lte" => m.cmp = Some(CmpOp::Lte),
            "gt" => m.cmp = Some(CmpOp::Gt),
            "gte" => m.cmp = Some(CmpOp::Gte),
            "fieldref" => m.fieldref = true,
            "expand" => m.expand = true,
            "base64" => m.transforms.push("base64"),
            "base64offset" => m.transforms.push("base64offset"),
            "utf16le" | "wide" => m.transforms.push("utf16le"),
            "utf16be" => m.transforms.push("utf16be"),
            "utf16" => m.transforms.push("utf16"),
            "windash" => m.transforms.push("windash"),
            other => return Err(format!("unsupported modifier `{other}`")),
        }
    }
    Ok(m)
}

fn string_matchers(value: &str, m: &Mods) -> Vec<Matcher> {
    let literal = m.transforms.iter().any(|t| *t != "windash");
    let mut variants: Vec<Vec<u8>> = vec![value.as_bytes().to_vec()];
    for t in &m.transforms {
        variants = variants
            .into_iter()
            .flat_map(|v| -> Vec<Vec<u8>> {
                match *t {
                    "base64" => vec![b64(&v).into_bytes()],
                    "base64offset" => b64_offsets(&v).into_iter().map(String::into_bytes).collect(),
                    "utf16le" => vec![utf16(&v, false)],
                    "utf16be" => vec![utf16(&v, true)],
                    "utf16" => {
                        let mut b = vec![0xff, 0xfe];
                        b.extend(utf16(&v, false));
                        vec![b]
                    }
                    "windash" => windash(&String::from_utf8_lossy(&v))
                        .into_iter()
                        .map(String::into_bytes)
                        .collect(),
                    _ => vec![v],
                }
            })
            .collect();
    }
    variants
        .into_iter()
        .map(|v| {
            let s = match String::from_utf8(v) {
                Ok(s) => s,
                Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
            };
            let mut toks = if literal {
                vec![GlobTok::Lit(s)]
            } else {
                parse_wildcards(&s)
            };
            toks.retain(|t| !matches!(t, GlobTok::Lit(l) if l.is_empty()));
            match m.pos {
                Some("contains") => {
                    toks.insert(0, GlobTok::Star);
                    toks.push(GlobTok::Star);
                }
                Some("startswith") => toks.push(GlobTok::Star),
                Some("endswith") => toks.insert(0, GlobTok::Star),
                _ => {}
            }
            toks.dedup_by(|a, b| *a == GlobTok::Star && *b == GlobTok::Star);
            Matcher::Str {
                pat: compile_glob(toks, m.cased),
                cased: m.cased,
            }
        })
        .collect()
}

fn value_matchers(v: &Value, m: &Mods, fx: &Fields<'_>) -> Result<Vec<Matcher>, String> {
    if matches!(v, Value::Null) {
        return Ok(vec![Matcher::Null]);
    }
    if m.exists {
        return match v {
            Value::Bool(b) => Ok(vec![Matcher::Exists(*b)]),
            _ => Err("`exists` needs true or false".into()),
        };
    }
    let t = text(v).ok_or_else(|| format!("value {v:?} is not a scalar"))?;
    if let Some(op) = m.cmp {
        let n: f64 = t
            .parse()
            .map_err(|_| format!("`{t}` is not a number for a comparison"))?;
        return Ok(vec![Matcher::Num(op, n)]);
    }
    if m.cidr {
        let net = t
            .parse::<ipnet::IpNet>()
            .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| format!("`{t}` is not a CIDR network"))?;
        return Ok(vec![Matcher::Cidr(net)]);
    }
    if let Some(flags) = &m.re {
        let pattern = if flags.is_empty() {
            t.clone()
        } else {
            format!("(?{flags}){t}")
        };
        let re = regex::Regex::new(&pattern).map_err(|e| format!("regex `{t}` is not supported: {e}"))?;
        return Ok(vec![Matcher::Re(re)]);
    }
    if m.fieldref {
        if let Some(why) = fx.missing(&t) {
            return Err(why);
        }
        let paths = fx.paths(&t);
        let mode = match m.pos {
            Some("contains") => RefMode::Contains,
            Some("startswith") => RefMode::Prefix,
            Some("endswith") => RefMode::Suffix,
            _ => RefMode::Equal,
        };
        return Ok(vec![Matcher::FieldRef {
            paths,
            mode,
            cased: m.cased,
        }]);
    }
    Ok(string_matchers(&t, m))
}

/// The text of a scalar or of each scalar in a list (`rules:`,
/// `group-by:`); absent: none.
fn texts(v: Option<&Value>) -> Vec<String> {
    v.map(values_of)
        .unwrap_or_default()
        .into_iter()
        .filter_map(text)
        .collect()
}

fn values_of(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(s) => s.iter().collect(),
        other => vec![other],
    }
}

/// The `%name%` placeholders in `t`, in order.
fn placeholders_in(t: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(a) = rest.find('%') {
        let after = &rest[a + 1..];
        match after.find('%') {
            Some(b) if b > 0 && !after[..b].contains(char::is_whitespace) => {
                out.push(&after[..b]);
                rest = &after[b + 1..];
            }
            Some(b) => rest = &after[b..],
            None => break,
        }
    }
    out
}

/// `expand`: each `%name%` in `v` replaced by each of its values (every
/// combination when there are several). A placeholder without values
/// rejects the rule: running it with an empty list would silently match
/// nothing (or, under `not`, everything).
fn expand_value(v: &Value, ph: &Placeholders) -> Result<Vec<Value>, String> {
    let t = text(v).ok_or_else(|| format!("`expand` value {v:?} is not a scalar"))?;
    let mut out = vec![t.clone()];
    for name in placeholders_in(&t) {
        let values = match ph.get(name) {
            None => {
                return Err(format!(
                    "placeholder `%{name}%` has no value (give it in a --placeholders file)"
                ))
            }
            Some(v) if v.is_empty() => {
                return Err(format!("placeholder `%{name}%` has an empty list of values"))
            }
            Some(v) => v,
        };
        let pat = format!("%{name}%");
        let pat = pat.as_str();
        out = out
            .iter()
            .flat_map(|o| values.iter().map(move |x| o.replacen(pat, x, 1)))
            .collect();
    }
    Ok(out.into_iter().map(Value::String).collect())
}

fn field_match(key: &str, v: &Value, fx: &Fields<'_>, ph: &Placeholders) -> Result<FieldMatch, String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default().to_string();
    let mods: Vec<&str> = parts.collect();
    let m = parse_mods(&mods)?;
    let expanded: Vec<Value> = if m.expand {
        let mut all = Vec::new();
        for x in values_of(v) {
            all.extend(expand_value(x, ph)?);
        }
        all
    } else {
        Vec::new()
    };
    let raw: Vec<&Value> = if m.expand {
        expanded.iter().collect()
    } else {
        values_of(v)
    };
    let mut values = Vec::new();
    for x in raw {
        values.push(value_matchers(x, &m, fx)?);
    }
    if values.is_empty() {
        return Err(format!("field `{key}` has an empty value list"));
    }
    if let Some(why) = fx.missing(&field) {
        return Err(why);
    }
    let paths = fx.paths(&field);
    let absent = |alts: &Vec<Matcher>| alts.iter().any(|x| x.matches(None, &|_| None));
    let absent_ok = if m.all {
        values.iter().all(absent)
    } else {
        values.iter().any(absent)
    };
    Ok(FieldMatch {
        field,
        paths,
        values,
        all: m.all,
        absent_ok,
    })
}

fn keywords(v: &Value, mods: &[&str]) -> Result<Selection, String> {
    let mut m = parse_mods(mods)?;
    if m.pos.is_none() {
        m.pos = Some("contains");
    }
    let mut values = Vec::new();
    for x in values_of(v) {
        let t = text(x).ok_or_else(|| "keyword is not a scalar".to_string())?;
        values.push(string_matchers(&t, &m));
    }
    Ok(Selection::Keywords { values, all: m.all })
}

fn selection(v: &Value, fx: &Fields<'_>, ph: &Placeholders) -> Result<Selection, String> {
    match v {
        Value::Mapping(map) => {
            // A map whose only key is `|mods` is a keyword list with modifiers.
            if map.len() == 1 {
                if let Some((Value::String(k), val)) = map.iter().next() {
                    if k.is_empty() || k.starts_with('|') {
                        let mods: Vec<&str> = k.split('|').filter(|s| !s.is_empty()).collect();
                        return keywords(val, &mods);
                    }
                }
            }
            let mut group = Vec::new();
            for (k, val) in map {
                let k = text(k).ok_or("non-text field name")?;
                group.push(field_match(&k, val, fx, ph)?);
            }
            Ok(Selection::Fields(vec![group]))
        }
        Value::Sequence(items) if items.iter().all(|i| matches!(i, Value::Mapping(_))) => {
            let mut groups = Vec::new();
            for i in items {
                match selection(i, fx, ph)? {
                    Selection::Fields(g) => groups.extend(g),
                    Selection::Keywords { .. } => return Err("keyword map inside a list of maps".into()),
                }
            }
            Ok(Selection::Fields(groups))
        }
        Value::Sequence(items) if items.iter().all(|i| text(i).is_some()) => keywords(v, &[]),
        Value::String(_) | Value::Number(_) => keywords(v, &[]),
        _ => Err("a detection must be a map, a list of maps or a list of keywords".into()),
    }
}

pub(crate) fn logsource_of(doc: &Value) -> Logsource {
    let ls = doc.get("logsource");
    let g = |k: &str| ls.and_then(|l| l.get(k)).and_then(text);
    Logsource {
        product: g("product"),
        category: g("category"),
        service: g("service"),
    }
}

/// Compiles one YAML document into a rule, correlation or filter.
pub fn compile_doc(
    doc: &Value,
    file: &Path,
    mapping: Option<&Mapping>,
    ph: &Placeholders,
    pipelines: &[Pipeline],
) -> Result<Parsed, String> {
    let file_s = file.display().to_string();
    let id = get_str(doc, "id").unwrap_or_else(|| file_s.clone());
    let title = get_str(doc, "title").ok_or("missing `title`")?;
    let level = get_str(doc, "level")
        .unwrap_or_else(|| "informational".into())
        .to_lowercase();
    if get_str(doc, "action").is_some() {
        return Err("multi-document rule collections (`action:`) are not supported".into());
    }
    if let Some(c) = doc.get("correlation") {
        let kind = match get_str(c, "type").as_deref() {
            Some("event_count") => CorrelationKind::EventCount,
            Some("value_count") => CorrelationKind::ValueCount,
            Some("temporal") => CorrelationKind::Temporal,
            Some("temporal_ordered") => CorrelationKind::TemporalOrdered,
            Some("value_sum") => CorrelationKind::ValueSum,
            Some("value_avg") => CorrelationKind::ValueAvg,
            Some("value_median") => CorrelationKind::ValueMedian,
            Some("value_percentile") => CorrelationKind::ValuePercentile,
            other => return Err(format!("unsupported correlation type {other:?}")),
        };
        let rules = texts(c.get("rules"));
        if rules.is_empty() {
            return Err("correlation without `rules`".into());
        }
        let group_by = texts(c.get("group-by"));
        let timespan = parse_timespan(&get_str(c, "timespan").ok_or("correlation without `timespan`")?)?;
        let mut threshold = Vec::new();
        let mut field = None;
        let mut percentile = None;
        match c.get("condition") {
            None => {}
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let k = text(k).unwrap_or_default();
                    let op = match k.as_str() {
                        "field" => {
                            field = text(v);
                            continue;
                        }
                        "percentile" if kind == CorrelationKind::ValuePercentile => {
                            let p: f64 = text(v)
                                .and_then(|t| t.parse().ok())
                                .filter(|p| (0.0..=100.0).contains(p))
                                .ok_or("`percentile` must be a number from 0 to 100")?;
                            percentile = Some(p);
                            continue;
                        }
                        "gt" => ThresholdOp::Gt,
                        "gte" => ThresholdOp::Gte,
                        "lt" => ThresholdOp::Lt,
                        "lte" => ThresholdOp::Lte,
                        "eq" => ThresholdOp::Eq,
                        other => return Err(format!("unsupported correlation condition key `{other}`")),
                    };
                    let n: f64 = text(v)
                        .and_then(|t| t.parse().ok())
                        .ok_or("threshold is not a number")?;
                    threshold.push((op, n));
                }
            }
            Some(_) => return Err("correlation condition must be a map".into()),
        }
        match kind {
            CorrelationKind::EventCount | CorrelationKind::ValueCount => {
                if threshold.is_empty() {
                    return Err("event_count/value_count need a condition (gt, gte, lt, lte or eq)".into());
                }
                if kind == CorrelationKind::ValueCount && field.is_none() {
                    return Err("value_count needs `condition.field`".into());
                }
            }
            CorrelationKind::ValueSum
            | CorrelationKind::ValueAvg
            | CorrelationKind::ValueMedian
            | CorrelationKind::ValuePercentile => {
                if threshold.is_empty() {
                    return Err(format!(
                        "{} needs a condition (gt, gte, lt, lte or eq)",
                        kind.name()
                    ));
                }
                if field.is_none() {
                    return Err(format!("{} needs `condition.field`", kind.name()));
                }
                if kind == CorrelationKind::ValuePercentile && percentile.is_none() {
                    return Err("value_percentile needs `condition.percentile` (0 to 100)".into());
                }
            }
            // `temporal` may carry a minimum number of distinct referenced
            // rules (default: all of them); `lt`/`eq` make no sense there.
            CorrelationKind::Temporal => {
                if threshold
                    .iter()
                    .any(|(op, _)| !matches!(op, ThresholdOp::Gt | ThresholdOp::Gte))
                {
                    return Err("temporal condition supports only gt/gte (distinct rules seen)".into());
                }
            }
            // `temporal_ordered` means every rule in order; a condition that
            // asks for anything else is not supported.
            CorrelationKind::TemporalOrdered => {
                if threshold.iter().any(|&(op, n)| !op.holds(rules.len() as f64, n)) {
                    return Err(
                        "temporal_ordered condition other than \"all referenced rules\" is not supported"
                            .into(),
                    );
                }
            }
        }
        let mut aliases = std::collections::BTreeMap::new();
        match c.get("aliases") {
            None | Some(Value::Null) => {}
            Some(Value::Mapping(m)) => {
                for (alias, per_rule) in m {
                    let alias = text(alias).ok_or("alias name is not text")?;
                    let Value::Mapping(per_rule) = per_rule else {
                        return Err(format!("alias `{alias}` must map rule names to fields"));
                    };
                    let mut fields = std::collections::BTreeMap::new();
                    for (r, f) in per_rule {
                        let (Some(r), Some(f)) = (text(r), text(f)) else {
                            return Err(format!("alias `{alias}` must map rule names to fields"));
                        };
                        fields.insert(r, f);
                    }
                    aliases.insert(alias, fields);
                }
            }
            Some(_) => return Err("correlation `aliases` must be a map".into()),
        }
        let generate = doc
            .get("generate")
            .or_else(|| c.get("generate"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        return Ok(Parsed::Correlation(Box::new(Correlation {
            id,
            name: get_str(doc, "name"),
            title,
            level,
            file: file_s,
            kind,
            rules,
            group_by,
            timespan,
            threshold,
            aliases,
            field,
            percentile,
            generate,
        })));
    }
    if let Some(f) = doc.get("filter") {
        let Value::Mapping(fm) = f else {
            return Err("`filter` must be a map".into());
        };
        let rules = texts(fm.get("rules"));
        if rules.is_empty() {
            return Err("filter without `rules` (the rules it applies to)".into());
        }
        // The filter's body is compiled like a rule's detection (the
        // pipelines included).
        let mut det = fm.clone();
        det.remove("rules");
        let mut as_rule = doc.clone();
        if let Value::Mapping(m) = &mut as_rule {
            m.insert(Value::from("detection"), Value::Mapping(det));
        }
        let (doc, plan, ph) = crate::pipeline::apply(pipelines, &as_rule, ph)?;
        let fx = Fields { mapping, plan: &plan };
        let det = doc.get("detection").ok_or("missing `detection`")?;
        let mut body = detection_rule(&doc, det, &fx, &ph)?;
        (body.id, body.title, body.level, body.file) = (id.clone(), title.clone(), level, file_s.clone());
        return Ok(Parsed::Filter(Box::new(Filter {
            id,
            title,
            file: file_s,
            rules,
            body,
        })));
    }
    let (doc, plan, ph) = crate::pipeline::apply(pipelines, doc, ph)?;
    let fx = Fields { mapping, plan: &plan };
    let det = doc.get("detection").ok_or("missing `detection`")?;
    let mut rule = detection_rule(&doc, det, &fx, &ph)?;
    (rule.id, rule.title, rule.level, rule.file) = (id, title, level, file_s);
    Ok(Parsed::Rule(Box::new(rule)))
}

/// The rule whose detection section is `det` (a rule's `detection`, or a
/// filter's `filter` without `rules`), with `doc`'s id, title, level and
/// logsource.
fn detection_rule(doc: &Value, det: &Value, fx: &Fields<'_>, ph: &Placeholders) -> Result<Rule, String> {
    // The logsource first: a rule for other logs is "not covered", whatever
    // its fields.
    let logsource = match fx.mapping {
        Some(m) => m.logsource(&logsource_of(doc))?,
        None => Vec::new(),
    };
    let Value::Mapping(det) = det else {
        return Err("`detection` must be a map".into());
    };
    let mut names = Vec::new();
    let mut selections = Vec::new();
    let mut condition = None;
    for (k, v) in det {
        let k = text(k).ok_or("non-text detection identifier")?;
        if k == "condition" {
            condition = Some(v.clone());
            continue;
        }
        if k == "timeframe" {
            return Err("`timeframe` aggregations are not supported (use a correlation rule)".into());
        }
        let sel = selection(v, fx, ph).map_err(|e| format!("detection `{k}`: {e}"))?;
        names.push(k);
        selections.push(sel);
    }
    let cond = match condition {
        Some(Value::String(s)) => parse_condition(&s, &names)?,
        Some(Value::Sequence(list)) => {
            let mut alts = Vec::new();
            for c in list {
                let s = text(&c).ok_or("condition list holds a non-string")?;
                alts.push(parse_condition(&s, &names)?);
            }
            Cond::Or(alts)
        }
        _ => return Err("missing or invalid `condition`".into()),
    };
    Ok(Rule {
        id: String::new(),
        name: get_str(doc, "name"),
        title: String::new(),
        level: String::new(),
        file: String::new(),
        names,
        selections,
        cond,
        logsource,
        plan: fx.plan.clone(),
    })
}

/// Placeholder values for `expand` from YAML text: a map from placeholder
/// name (with or without the surrounding `%`) to a value or a list of
/// values. `origin` names the text in errors.
pub fn placeholders_from_yaml(yaml: &str, origin: &str) -> Result<Placeholders, crate::DetectError> {
    let bad = |message: String| crate::DetectError::Mapping {
        origin: format!("placeholders {origin}"),
        message,
    };
    let doc: Value = serde_yaml::from_str(yaml).map_err(|e| bad(e.to_string()))?;
    let mut out = Placeholders::new();
    let map = match doc {
        Value::Null => return Ok(out),
        Value::Mapping(m) => m,
        _ => return Err(bad("must be a map from placeholder name to values".into())),
    };
    for (k, v) in map {
        let name = text(&k).ok_or_else(|| bad("a placeholder name is not text".into()))?;
        let name = name.trim_matches('%').to_string();
        if name.is_empty() {
            return Err(bad("an empty placeholder name".into()));
        }
        let values: Vec<String> = match &v {
            Value::Sequence(s) => s
                .iter()
                .map(|x| text(x).ok_or_else(|| bad(format!("placeholder `{name}`: a value is not a scalar"))))
                .collect::<Result<_, _>>()?,
            other => {
                vec![text(other)
                    .ok_or_else(|| bad(format!("placeholder `{name}`: a value is not a scalar")))?]
            }
        };
        out.insert(name, values);
    }
    Ok(out)
}

#[cfg(test)]
mod placeholder_tests {
    use super::placeholders_from_yaml;

    #[test]
    fn placeholder_files_read_names_with_or_without_percent() {
        let p = placeholders_from_yaml("'%servers%': [dc1, dc2]\nshares: admin$\nports: 445\n", "t").unwrap();
        assert_eq!(p["servers"], ["dc1", "dc2"]);
        assert_eq!(p["shares"], ["admin$"]);
        assert_eq!(p["ports"], ["445"]);
    }

    #[test]
    fn bad_placeholder_files_say_what_is_wrong() {
        let e = placeholders_from_yaml("- a\n- b\n", "p.yml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("placeholders p.yml") && e.contains("must be a map"),
            "{e}"
        );
        let e = placeholders_from_yaml("x: {a: 1}\n", "p.yml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("placeholder `x`: a value is not a scalar"), "{e}");
        let e = placeholders_from_yaml("x: [\n", "p.yml").unwrap_err().to_string();
        assert!(e.contains("placeholders p.yml"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    ":", "-", "[", "]", "{", "}", "%", "\n", " ", "a", "'", "\"", "#", "&", "*", "!", "|", ">",
                ]),
                0..24,
            )
        ) {
            let _ = placeholders_from_yaml(&parts.concat(), "fuzz");
        }
    }
}
