//! Loading rules into one detector, the literal prefilter, evaluation, and
//! alerts.

use crate::condition::Cond;
use crate::dispatch::{rule_ok_fast, Plan, Slots};
use crate::event::{Event, FieldValue};
use crate::mapping::{Alternative, Mapping};
use crate::rule::{compile_doc, Correlation, FieldMatch, Filter, Parsed, Placeholders, Rule, Selection};
use crate::value::Matcher;
use crate::DetectError;
use aho_corasick::AhoCorasick;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A rule file (or document) that did not load, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// The file.
    pub file: String,
    /// The rule title, when it could be read.
    pub title: Option<String>,
    /// Why.
    pub reason: String,
}

/// An alert.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// Severity: the Sigma level.
    pub level: String,
    /// 1-based line of the triggering event in its input (for a
    /// correlation: the line that completed it).
    pub line: u64,
    /// The input.
    pub source: String,
    /// The event time, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The fields the rule looked at, with the event's values.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub matched: BTreeMap<String, String>,
    /// For a correlation: its type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
    /// For a correlation: the group-by values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<BTreeMap<String, String>>,
    /// For a correlation: the lines that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<u64>>,
}

/// A detection hit on one event, with what correlations need.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Index of the rule.
    pub rule: usize,
    /// Its alert (`None` when a correlation suppresses the rule's own alerts).
    pub alert: Option<Alert>,
    /// Event time in seconds (for correlations), when found.
    pub time: Option<f64>,
    /// The event time as written in the event.
    pub timestamp: Option<String>,
    /// Per correlation referencing the rule: (correlation index, group key
    /// values, counted value for value_count).
    pub corr: Vec<(usize, Vec<String>, Option<String>)>,
}

/// All loaded rules, compiled once into one matcher.
#[derive(Debug)]
pub struct Detector {
    rules: Vec<Rule>,
    correlations: Vec<Correlation>,
    /// For each rule: the correlations that reference it.
    referenced_by: Vec<Vec<usize>>,
    /// For each rule: whether its own alerts are suppressed.
    suppressed: Vec<bool>,
    /// Meta filters, and for each rule the filters that apply to it.
    filters: Vec<Filter>,
    filtered_by: Vec<Vec<usize>>,
    /// For each correlation: the correlations that refer to it (chains),
    /// whether its own alerts are suppressed, and all correlations with
    /// every one after those it refers to.
    corr_parents: Vec<Vec<usize>>,
    corr_suppressed: Vec<bool>,
    corr_order: Vec<usize>,
    rejections: Vec<Rejection>,
    mapping: Option<Mapping>,
    /// Automaton over every needle.
    prefilter: NeedleScan,
    /// Automaton over the needles of keyword searches alone (the only
    /// ones looked for in the whole event when it is prefiltered field by
    /// field).
    prefilter_any: NeedleScan,
    /// Needle index → rules it unlocks wherever it occurs (when the event
    /// is not prefiltered field by field).
    needle_rules: Vec<Vec<usize>>,
    /// Needle index → rules it unlocks wherever it occurs, for needles of
    /// keyword searches (field by field, only these need the whole event).
    needle_any: Vec<Vec<usize>>,
    /// (needle, field) → rules it unlocks when it occurs in that field's
    /// value.
    field_rules: rustc_hash::FxHashMap<(u32, u32), Vec<usize>>,
    /// Path hash → (path, field) for each candidate path of a field with
    /// needles (paths without `*`).
    path_fields: rustc_hash::FxHashMap<u64, Vec<(String, u32)>>,
    /// Paths before a `*` segment: an event holding one is prefiltered
    /// as a whole, not field by field.
    star_prefixes: Vec<String>,
    /// Some field path cannot be prefiltered field by field at all.
    star_anywhere: bool,
    /// Per logsource group: whether it has rules with keyword needles.
    group_any: Vec<bool>,
    /// Rules with no needle, by logsource group: evaluated whenever their
    /// group holds.
    always: Vec<Vec<usize>>,
    /// How many rules have no needle.
    unfiltered: usize,
    /// Logsource dispatch and interned field paths.
    plan: Plan,
    /// Whether any rule has needles (else every rule is a candidate).
    has_needles: bool,
    files: usize,
}

/// What rules are compiled with besides the mapping.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Values for `expand` placeholders.
    pub placeholders: Placeholders,
    /// Processing pipelines, applied to every rule and filter.
    pub pipelines: Vec<crate::pipeline::Pipeline>,
}

/// What the rule documents compiled to, before resolving references.
#[derive(Default)]
struct Loaded {
    rules: Vec<Rule>,
    correlations: Vec<Correlation>,
    filters: Vec<Filter>,
    rejections: Vec<Rejection>,
}

impl Loaded {
    /// Keeps one document's result: what it compiled to, or its rejection
    /// (from `file`, titled `title` when known).
    fn add(&mut self, parsed: Result<Parsed, String>, file: &str, title: Option<String>) {
        match parsed {
            Ok(Parsed::Rule(r)) => self.rules.push(*r),
            Ok(Parsed::Correlation(c)) => self.correlations.push(*c),
            Ok(Parsed::Filter(x)) => self.filters.push(*x),
            Err(reason) => self.rejections.push(Rejection {
                file: file.to_string(),
                title,
                reason,
            }),
        }
    }
}

fn yaml_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            yaml_files(&p, out)?;
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    } else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or folder",
        ));
    }
    Ok(())
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

/// Literals one of which every matching event must contain; `None`: no
/// such guarantee (the rule is always evaluated).
fn needles_matchers(alts: &[Matcher]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for m in alts {
        out.push(usable_needle(m)?);
    }
    Some(out)
}

/// The matcher's needle when the prefilter can look for it soundly. The
/// prefilter scans text ASCII case-insensitively, and the lowercased text
/// too when it is not ASCII. A non-ASCII needle is usable unless it holds
/// a sigma (the one letter whose lowercase depends on its neighbours), or
/// a cased pattern's non-ASCII letters change when lowercased (the raw
/// text holds them as written, the needle lowercased).
fn usable_needle(m: &Matcher) -> Option<String> {
    let n = m.needle()?;
    if n.is_ascii() {
        return Some(n);
    }
    if n.contains(['σ', 'ς']) {
        return None;
    }
    if let Matcher::Str { pat, cased: true } = m {
        let raw = pat.needle()?;
        if !raw
            .chars()
            .filter(|c| !c.is_ascii())
            .all(|c| c.to_lowercase().eq(std::iter::once(c)))
        {
            return None;
        }
    }
    Some(n)
}

fn needles_values(values: &[Vec<Matcher>], all: bool) -> Option<Vec<String>> {
    if all {
        values
            .iter()
            .filter_map(|v| needles_matchers(v))
            .max_by_key(|n| n.iter().map(String::len).min())
    } else {
        let mut out = Vec::new();
        for v in values {
            out.extend(needles_matchers(v)?);
        }
        Some(out)
    }
}

/// Where a needle must occur for its rule to match: in one field's value
/// (the field's candidate paths, the first present being the value), or
/// anywhere in the event (keywords).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Any,
    Field(Vec<String>),
}

/// Needles with where they must occur; one of them must, for the rule to
/// match.
type Needles = Vec<(String, Scope)>;

fn tagged(ns: Vec<String>, scope: &Scope) -> Needles {
    ns.into_iter().map(|n| (n, scope.clone())).collect()
}

fn best(cands: impl Iterator<Item = Option<Needles>>) -> Option<Needles> {
    cands.flatten().max_by_key(|n| {
        (
            n.iter().map(|x| x.0.len()).min().unwrap_or(0),
            usize::MAX - n.len(),
        )
    })
}

fn needles_sel(s: &Selection) -> Option<Needles> {
    match s {
        Selection::Keywords { values, all } => needles_values(values, *all).map(|ns| tagged(ns, &Scope::Any)),
        Selection::Fields(groups) => {
            let mut out = Vec::new();
            for g in groups {
                out.extend(best(g.iter().map(|f| {
                    needles_values(&f.values, f.all).map(|ns| tagged(ns, &Scope::Field(f.paths.clone())))
                }))?);
            }
            Some(out)
        }
    }
}

fn needles_cond(c: &Cond, sels: &[Selection]) -> Option<Needles> {
    match c {
        Cond::Sel(i) => needles_sel(&sels[*i]),
        Cond::And(v) => best(v.iter().map(|c| needles_cond(c, sels))),
        Cond::Or(v) => {
            let mut out = Vec::new();
            for c in v {
                out.extend(needles_cond(c, sels)?);
            }
            Some(out)
        }
        Cond::Not(_) => None,
    }
}

/// An automaton over needles: which of them occur in a text.
#[derive(Debug)]
struct NeedleScan {
    /// Over the needles of 2 bytes or more; its pattern `i` is needle
    /// `ac_needle[i]`.
    ac: Option<AhoCorasick>,
    ac_needle: Vec<usize>,
    /// 1-byte needles (".", "=", "m") occur many times in most events:
    /// as automaton patterns they would report match after match. They
    /// are looked up with memchr instead: (byte, needle).
    byte_needles: Vec<(u8, usize)>,
}

impl NeedleScan {
    /// An automaton over the needles `needles[i]` for which `keep(i)`.
    fn new(needles: &[String], keep: impl Fn(usize) -> bool) -> NeedleScan {
        let mut ac_needle = Vec::new();
        let mut ac_patterns: Vec<&str> = Vec::new();
        let mut byte_needles = Vec::new();
        for (i, n) in needles.iter().enumerate().filter(|(i, _)| keep(*i)) {
            match n.as_bytes() {
                [b] => byte_needles.push((*b, i)),
                _ => {
                    ac_needle.push(i);
                    ac_patterns.push(n);
                }
            }
        }
        let ac = (!ac_patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(&ac_patterns)
                .expect("literal needles build an automaton")
        });
        NeedleScan {
            ac,
            ac_needle,
            byte_needles,
        }
    }

    /// Calls `hit` with each needle occurring in `t` (possibly more than
    /// once): the automaton ASCII case-insensitively over the text as it
    /// is, and over its lowercased form when it is not ASCII (matching
    /// lowercases with Unicode rules: KELVIN SIGN → `k`, `É` → `é`).
    fn scan(&self, t: &str, hit: &mut dyn FnMut(usize)) {
        let mut one = |t: &str| {
            if let Some(ac) = &self.ac {
                for m in ac.find_overlapping_iter(t) {
                    hit(self.ac_needle[m.pattern().as_usize()]);
                }
            }
            for &(b, n) in &self.byte_needles {
                if memchr::memchr2(b, b.to_ascii_uppercase(), t.as_bytes()).is_some() {
                    hit(n);
                }
            }
        };
        one(t);
        if !t.is_ascii() {
            one(&t.to_lowercase());
        }
    }
}

/// Reusable per-thread memory for [`Detector::evaluate`].
#[derive(Debug, Default)]
pub struct Scratch {
    /// Per rule: the event number that last made it a candidate.
    mark: Vec<u32>,
    /// This event's number.
    stamp: u32,
    list: Vec<usize>,
    /// Field values and logsource verdicts of the current event.
    slots: Slots,
    /// The fields one member of the event stands for.
    here: Vec<u32>,
}

fn get_first<'e>(ev: &'e dyn Event, paths: &[String]) -> Option<FieldValue<'e>> {
    paths.iter().find_map(|p| ev.get(p))
}

fn logsource_ok(ev: &dyn Event, alts: &[Alternative]) -> bool {
    alts.is_empty()
        || alts.iter().any(|alt| {
            alt.iter().all(|(path, values)| {
                ev.get(path)
                    .and_then(|v| v.as_text().map(|t| t.to_lowercase()))
                    .is_some_and(|t| values.contains(&t))
            })
        })
}

pub(crate) fn field_ok(ev: &dyn Event, f: &FieldMatch) -> bool {
    let v = get_first(ev, &f.paths);
    if v.is_none() {
        return f.absent_ok;
    }
    // Lowercase the value once for every case-insensitive comparison.
    let text = v.as_ref().and_then(|v| v.as_text());
    let lower = text.as_ref().map(|t| crate::value::lower(t));
    let get = |paths: &[String]| get_first(ev, paths).and_then(|v| v.as_text().map(|t| t.into_owned()));
    let one = |alts: &Vec<Matcher>| {
        alts.iter().any(|m| match (m, &text, &lower) {
            (Matcher::Str { pat, cased }, Some(t), Some(l)) => pat.matches(if *cased { t } else { l }),
            _ => m.matches(v.as_ref(), &get),
        })
    };
    if f.all {
        f.values.iter().all(one)
    } else {
        f.values.iter().any(one)
    }
}

pub(crate) fn keywords_ok(ev: &dyn Event, values: &[Vec<Matcher>], all: bool) -> bool {
    let kw = ev.keyword_text();
    let test = |alts: &Vec<Matcher>| match &kw {
        Some(t) => {
            let v = FieldValue::Str(std::borrow::Cow::Borrowed(t));
            alts.iter().any(|m| m.matches(Some(&v), &|_| None))
        }
        None => {
            let mut hit = false;
            ev.for_each_text(&mut |t| {
                if !hit {
                    let v = FieldValue::Str(std::borrow::Cow::Borrowed(t));
                    hit = alts.iter().any(|m| m.matches(Some(&v), &|_| None));
                }
            });
            hit
        }
    };
    if all {
        values.iter().all(test)
    } else {
        values.iter().any(test)
    }
}

fn rule_ok(ev: &dyn Event, r: &Rule) -> bool {
    if !logsource_ok(ev, &r.logsource) {
        return false;
    }
    eval_once(r, &mut |i| match &r.selections[i] {
        Selection::Fields(groups) => groups.iter().any(|g| g.iter().all(|f| field_ok(ev, f))),
        Selection::Keywords { values, all } => keywords_ok(ev, values, *all),
    })
}

/// The rule's condition with `sel(i)` giving selection `i`, each selection
/// evaluated at most once (no allocation up to 64 selections).
pub(crate) fn eval_once(r: &Rule, sel: &mut dyn FnMut(usize) -> bool) -> bool {
    let mut small = [None; 64];
    let mut big = Vec::new();
    let cache: &mut [Option<bool>] = if r.selections.len() <= small.len() {
        &mut small[..]
    } else {
        big.resize(r.selections.len(), None);
        &mut big[..]
    };
    r.cond.eval(&mut |i| *cache[i].get_or_insert_with(|| sel(i)))
}

impl Detector {
    /// Loads every rule under `paths` (files, folders recursively; `.yml`
    /// and `.yaml`; multi-document files allowed). A bad rule is rejected
    /// with a reason and never stops the others.
    pub fn load(paths: &[PathBuf], mapping: Option<Mapping>) -> Result<Detector, DetectError> {
        Detector::load_with(paths, mapping, &LoadOptions::default())
    }

    /// [`Detector::load`] with values for `expand` placeholders (a rule
    /// using a placeholder that has none is rejected with that reason) and
    /// processing pipelines (applied to every rule before the mapping).
    pub fn load_with(
        paths: &[PathBuf],
        mapping: Option<Mapping>,
        options: &LoadOptions,
    ) -> Result<Detector, DetectError> {
        let mut files = Vec::new();
        for p in paths {
            yaml_files(p, &mut files).map_err(|e| DetectError::Io {
                path: p.clone(),
                source: e,
            })?;
        }
        let explicit: Vec<&PathBuf> = paths.iter().filter(|p| p.is_file()).collect();
        files.retain(|f| is_yaml(f) || explicit.contains(&f));
        let mut loaded = Loaded::default();
        for f in &files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) => {
                    loaded.add(Err(e.to_string()), &f.display().to_string(), None);
                    continue;
                }
            };
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let doc = match serde_yaml::Value::deserialize(doc) {
                    Ok(d) => d,
                    Err(e) => {
                        let at = e
                            .location()
                            .map(|l| format!(" at line {}, column {}", l.line(), l.column()));
                        let reason = format!("invalid YAML{}: {e}", at.unwrap_or_default());
                        loaded.add(Err(reason), &f.display().to_string(), None);
                        break;
                    }
                };
                if doc.is_null() {
                    continue;
                }
                let title = doc.get("title").and_then(|t| t.as_str()).map(str::to_string);
                let parsed = compile_doc(
                    &doc,
                    f,
                    mapping.as_ref(),
                    &options.placeholders,
                    &options.pipelines,
                );
                loaded.add(parsed, &f.display().to_string(), title);
            }
        }
        Ok(Detector::build(loaded, mapping, files.len()))
    }

    /// Compiles rules from YAML text (for tests and embedding).
    pub fn from_yaml(text: &str, mapping: Option<Mapping>) -> Result<Detector, DetectError> {
        Detector::from_yaml_with(text, mapping, &LoadOptions::default())
    }

    /// [`Detector::from_yaml`] with placeholders and pipelines.
    pub fn from_yaml_with(
        text: &str,
        mapping: Option<Mapping>,
        options: &LoadOptions,
    ) -> Result<Detector, DetectError> {
        let mut loaded = Loaded::default();
        let origin = Path::new("<text>");
        for doc in serde_yaml::Deserializer::from_str(text) {
            let doc = serde_yaml::Value::deserialize(doc).map_err(|e| DetectError::Yaml {
                path: origin.to_path_buf(),
                line: e.location().map(|l| l.line()),
                message: e.to_string(),
            })?;
            let parsed = compile_doc(
                &doc,
                origin,
                mapping.as_ref(),
                &options.placeholders,
                &options.pipelines,
            );
            loaded.add(parsed, "<text>", None);
        }
        Ok(Detector::build(loaded, mapping, 1))
    }

    fn build(loaded: Loaded, mapping: Option<Mapping>, files: usize) -> Detector {
        let Loaded {
            rules,
            correlations,
            filters,
            mut rejections,
        } = loaded;
        let chains = crate::correlation::resolve(&rules, correlations, &mut rejections);
        let (filters, filtered_by) = crate::correlation::resolve_filters(&rules, filters, &mut rejections);
        let crate::correlation::Chains {
            kept,
            referenced_by,
            suppressed,
            parents: corr_parents,
            corr_suppressed,
            order: corr_order,
        } = chains;
        // The prefilter: one automaton over every rule's needles.
        let mut needles: Vec<String> = Vec::new();
        let mut needle_rules: Vec<Vec<usize>> = Vec::new();
        let mut needle_any: Vec<Vec<usize>> = Vec::new();
        let mut field_rules: rustc_hash::FxHashMap<(u32, u32), Vec<usize>> = Default::default();
        let mut fields: rustc_hash::FxHashMap<Vec<String>, u32> = Default::default();
        let mut index: rustc_hash::FxHashMap<String, usize> = Default::default();
        let plan = Plan::new(&rules);
        let mut always = vec![Vec::new(); plan.groups()];
        let mut group_any = vec![false; plan.groups()];
        let mut unfiltered = 0;
        let push = |v: &mut Vec<usize>, ri: usize| {
            if v.last() != Some(&ri) {
                v.push(ri);
            }
        };
        for (ri, r) in rules.iter().enumerate() {
            match needles_cond(&r.cond, &r.selections) {
                Some(ns) if !ns.is_empty() => {
                    for (n, scope) in ns {
                        let k = *index.entry(n.clone()).or_insert_with(|| {
                            needles.push(n);
                            needle_rules.push(Vec::new());
                            needle_any.push(Vec::new());
                            needles.len() - 1
                        });
                        push(&mut needle_rules[k], ri);
                        match scope {
                            Scope::Any => {
                                push(&mut needle_any[k], ri);
                                group_any[plan.rule_group[ri] as usize] = true;
                            }
                            Scope::Field(paths) => {
                                let next = fields.len() as u32;
                                let f = *fields.entry(paths).or_insert(next);
                                push(field_rules.entry((k as u32, f)).or_default(), ri);
                            }
                        }
                    }
                }
                _ => {
                    always[plan.rule_group[ri] as usize].push(ri);
                    unfiltered += 1;
                }
            }
        }
        let prefilter = NeedleScan::new(&needles, |_| true);
        let prefilter_any = NeedleScan::new(&needles, |i| !needle_any[i].is_empty());
        // Field by field: which field each path of the event stands for.
        let mut path_fields: rustc_hash::FxHashMap<u64, Vec<(String, u32)>> = Default::default();
        let mut star_prefixes = Vec::new();
        let mut star_anywhere = false;
        for (paths, &f) in &fields {
            for p in paths {
                match p.find("*") {
                    None => path_fields
                        .entry(crate::tape::path_hash(p))
                        .or_default()
                        .push((p.clone(), f)),
                    // `A.B.*.C` reaches nothing unless `A.B` is there.
                    Some(i) => match p[..i].strip_suffix('.') {
                        Some(pre) if !pre.contains('*') => {
                            if !star_prefixes.iter().any(|x| x == pre) {
                                star_prefixes.push(pre.to_string());
                            }
                        }
                        _ => star_anywhere = true,
                    },
                }
            }
        }
        let has_needles = !needles.is_empty();
        Detector {
            needle_any,
            field_rules,
            path_fields,
            star_prefixes,
            star_anywhere,
            group_any,
            rules,
            correlations: kept,
            referenced_by,
            suppressed,
            filters,
            filtered_by,
            corr_parents,
            corr_suppressed,
            corr_order,
            rejections,
            mapping,
            prefilter,
            prefilter_any,
            has_needles,
            needle_rules,
            always,
            unfiltered,
            plan,
            files,
        }
    }

    /// Loaded detection rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether any loaded rule, filter or correlation can read what template
    /// mining adds to a text record's event (`template`, `template_id`,
    /// `params`): a field test on one of them, or a correlation grouping or
    /// counting by one. When none does, the text pipeline can skip mining:
    /// the same alerts come out. Keyword searches do not count: a text
    /// record's event always has `message`, which is what they search
    /// ([`keywords_ok`]), and the params are slices of it, so the
    /// prefilter's scan finds nothing in them that it does not find in the
    /// message.
    pub fn reads_templates(&self) -> bool {
        fn templated(name: &str) -> bool {
            matches!(name, "template" | "template_id" | "params")
                || name.starts_with("params.")
                || name.starts_with("params[")
        }
        fn rule_reads(r: &Rule) -> bool {
            r.selections.iter().any(|sel| match sel {
                Selection::Keywords { .. } => false,
                Selection::Fields(groups) => groups
                    .iter()
                    .flatten()
                    .any(|m| templated(&m.field) || m.paths.iter().any(|p| templated(p))),
            })
        }
        self.rules.iter().any(rule_reads)
            || self.filters.iter().any(|f| rule_reads(&f.body))
            || self.correlations.iter().any(|c| {
                c.group_by.iter().any(|g| templated(g))
                    || c.field.as_deref().is_some_and(templated)
                    || c.aliases.values().flat_map(|m| m.values()).any(|f| templated(f))
            })
    }

    /// Loaded correlation rules.
    pub fn correlations(&self) -> &[Correlation] {
        &self.correlations
    }

    /// Loaded meta filters.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// The correlations that refer to correlation `ci` (chains).
    pub fn correlation_parents(&self, ci: usize) -> &[usize] {
        &self.corr_parents[ci]
    }

    /// Whether correlation `ci`'s own alerts are suppressed (a correlation
    /// refers to it without `generate: true`).
    pub fn correlation_suppressed(&self, ci: usize) -> bool {
        self.corr_suppressed[ci]
    }

    /// Every correlation index, each after the correlations it refers to.
    pub fn correlation_order(&self) -> &[usize] {
        &self.corr_order
    }

    /// Whether a meta filter naming rule `ri` holds on `ev` (then the rule
    /// does not match it).
    fn filtered(&self, ev: &dyn Event, ri: usize) -> bool {
        self.filtered_by[ri]
            .iter()
            .any(|&f| rule_ok(ev, &self.filters[f].body))
    }

    /// Rules that did not load, with reasons.
    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    /// Rule files read.
    pub fn files_read(&self) -> usize {
        self.files
    }

    /// The mapping in force.
    pub fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    /// Rules that may match `ev`, in rule order in `s.list`: the rules
    /// whose logsource holds (the dispatch) and that the prefilter lets
    /// through. Every rule the prefilter leaves out has needles none of
    /// which occurs (ASCII case-insensitively, or in the lowercased text)
    /// where it must: in its field's value, or for keywords anywhere. An
    /// event decoded on a [`crate::JsonTape`] is scanned field by field
    /// (only the values of fields that rules need literals in); other
    /// events, or one whose paths are ambiguous, as a whole, a needle then
    /// counting wherever it occurs.
    fn candidates(&self, ev: &dyn Event, s: &mut Scratch) {
        s.list.clear();
        s.slots.begin(&self.plan);
        let rule_group = &self.plan.rule_group;
        let plan = &self.plan;
        if !self.has_needles {
            let slots = &mut s.slots;
            s.list
                .extend((0..self.rules.len()).filter(|&r| slots.group(ev, plan, rule_group[r])));
            return;
        }
        if s.mark.len() != self.rules.len() {
            s.mark = vec![0; self.rules.len()];
            s.stamp = 0;
        }
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.mark.iter_mut().for_each(|m| *m = 0);
            s.stamp = 1;
        }
        let Scratch {
            mark,
            stamp,
            list,
            here,
            slots,
        } = s;
        let stamp = *stamp;
        let by_field = ev.as_tape().filter(|t| {
            t.indexed() && !self.star_anywhere && self.star_prefixes.iter().all(|p| t.get(p).is_none())
        });
        let any = by_field.is_some()
            && (0..self.group_any.len() as u32)
                .any(|g| self.group_any[g as usize] && slots.group(ev, plan, g));
        // Rules a needle unlocks, if their logsource holds (the dispatch).
        let mut unlock = |rules: &[usize]| {
            for &r in rules {
                if mark[r] != stamp {
                    mark[r] = stamp;
                    if slots.group(ev, plan, rule_group[r]) {
                        list.push(r);
                    }
                }
            }
        };
        match by_field {
            None => ev.for_each_scan_text(&mut |text| {
                self.prefilter.scan(text, &mut |n| unlock(&self.needle_rules[n]))
            }),
            Some(t) => {
                if any {
                    ev.for_each_scan_text(&mut |text| {
                        self.prefilter_any
                            .scan(text, &mut |n| unlock(&self.needle_any[n]))
                    });
                }
                t.members_by_hash(&mut |h, e| {
                    let Some(paths) = self.path_fields.get(&h) else {
                        return;
                    };
                    here.clear();
                    here.extend(paths.iter().filter(|(p, _)| t.entry_at(e, p)).map(|&(_, f)| f));
                    if here.is_empty() {
                        return;
                    }
                    t.entry_texts(e, &mut |text| {
                        self.prefilter.scan(text, &mut |n| {
                            for &f in here.iter() {
                                if let Some(rules) = self.field_rules.get(&(n as u32, f)) {
                                    unlock(rules);
                                }
                            }
                        })
                    });
                });
            }
        }
        for (g, rules) in self.always.iter().enumerate() {
            if !rules.is_empty() && slots.group(ev, plan, g as u32) {
                list.extend_from_slice(rules);
            }
        }
        list.sort_unstable();
    }

    /// Indices of the rules that match `ev` (prefiltered).
    pub fn matching_rules(&self, ev: &dyn Event, s: &mut Scratch) -> Vec<usize> {
        self.candidates(ev, s);
        let Scratch { list, slots, .. } = s;
        list.iter()
            .copied()
            .filter(|&r| rule_ok_fast(ev, &self.plan, r, &self.rules[r], slots) && !self.filtered(ev, r))
            .collect()
    }

    /// Indices of the rules that match `ev`, evaluating every rule: the
    /// slow, obviously correct twin of [`Detector::matching_rules`].
    pub fn matching_rules_brute_force(&self, ev: &dyn Event) -> Vec<usize> {
        (0..self.rules.len())
            .filter(|&r| rule_ok(ev, &self.rules[r]) && !self.filtered(ev, r))
            .collect()
    }

    /// The event time in seconds, from the mapping's timestamp paths (or
    /// common names without a mapping).
    pub fn event_time(&self, ev: &dyn Event) -> Option<(f64, String)> {
        const DEFAULT: [&str; 4] = [
            "timestamp",
            "@timestamp",
            "time",
            "Event.System.TimeCreated.#attributes.SystemTime",
        ];
        let from = |p: &str| ev.get(p).and_then(|v| v.as_text().map(|t| t.into_owned()));
        let text = match &self.mapping {
            Some(m) if !m.timestamp_paths().is_empty() => m.timestamp_paths().iter().find_map(|p| from(p)),
            _ => DEFAULT.iter().find_map(|p| from(p)),
        }?;
        crate::time::parse_time(&text).map(|t| (t, text))
    }

    /// Evaluates one event: its hits, each with its alert (unless
    /// suppressed by a correlation) and what correlations need.
    pub fn evaluate(&self, ev: &dyn Event, line: u64, source: &str, s: &mut Scratch) -> Vec<Hit> {
        let matched = self.matching_rules(ev, s);
        if matched.is_empty() {
            return Vec::new();
        }
        let time = self.event_time(ev);
        matched
            .into_iter()
            .map(|ri| {
                let r = &self.rules[ri];
                let alert = (!self.suppressed[ri]).then(|| Alert {
                    rule_id: r.id.clone(),
                    title: r.title.clone(),
                    level: r.level.clone(),
                    line,
                    source: source.to_string(),
                    timestamp: time.as_ref().map(|t| t.1.clone()),
                    matched: self.matched_fields(ev, r),
                    correlation: None,
                    group: None,
                    lines: None,
                });
                let corr = self.referenced_by[ri]
                    .iter()
                    .map(|&ci| {
                        let c = &self.correlations[ci];
                        // Through the rule's pipeline renames, then the
                        // mapping, as its own fields are.
                        let fields = crate::pipeline::Fields {
                            mapping: self.mapping.as_ref(),
                            plan: &r.plan,
                        };
                        let field_text = |f: &str| {
                            let paths = fields.paths(f);
                            get_first(ev, &paths).and_then(|v| v.as_text().map(|t| t.into_owned()))
                        };
                        // A missing group-by field groups as "" (all such
                        // events together); a missing counted field counts
                        // as no value.
                        let key = c
                            .group_by
                            .iter()
                            .map(|g| {
                                field_text(c.group_field(g, &r.id, r.name.as_deref())).unwrap_or_default()
                            })
                            .collect();
                        let value = c.field.as_deref().and_then(field_text);
                        (ci, key, value)
                    })
                    .collect();
                Hit {
                    rule: ri,
                    alert,
                    time: time.as_ref().map(|t| t.0),
                    timestamp: time.as_ref().map(|t| t.1.clone()),
                    corr,
                }
            })
            .collect()
    }

    fn matched_fields(&self, ev: &dyn Event, r: &Rule) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for s in &r.selections {
            if let Selection::Fields(groups) = s {
                for f in groups.iter().flatten() {
                    if out.contains_key(&f.field) {
                        continue;
                    }
                    if let Some(v) = get_first(ev, &f.paths) {
                        let t = match &v {
                            FieldValue::List(items) => items
                                .iter()
                                .filter_map(|i| i.as_text().map(|t| t.into_owned()))
                                .collect::<Vec<_>>()
                                .join(", "),
                            other => other.as_text().map(|t| t.into_owned()).unwrap_or_default(),
                        };
                        out.insert(f.field.clone(), t);
                    }
                }
            }
        }
        out
    }
}

use serde::Deserialize as _;
impl Detector {
    /// The rules the prefilter lets through for `ev` (statistics).
    pub fn candidate_rules(&self, ev: &dyn Event, s: &mut Scratch) -> Vec<usize> {
        self.candidates(ev, s);
        s.list.clone()
    }

    /// Rules the prefilter cannot skip (no required literal).
    pub fn unfiltered_rules(&self) -> usize {
        self.unfiltered
    }
}
