//! Loading rules into one detector, the literal prefilter, evaluation, and
//! alerts.

use crate::dispatch::{rule_ok_fast, Plan, Slots};
use crate::event::{Event, FieldValue};
use crate::mapping::{Alternative, Mapping};
use crate::prefilter::{PreScratch, Prefilter};
use crate::rule::{compile_doc, Correlation, FieldMatch, Filter, Parsed, Placeholders, Rule, Selection};
use crate::value::Matcher;
use crate::DetectError;
use crate::TimeText;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The rule's id. (Shared: every alert of a rule holds the same
    /// text, so raising one costs no copy of it.)
    pub rule_id: Arc<str>,
    /// The rule's title.
    pub title: Arc<str>,
    /// Severity: the Sigma level.
    pub level: Arc<str>,
    /// 1-based line of the triggering event in its input (for a
    /// correlation: the line that completed it).
    pub line: u64,
    /// The input (shared by the alerts of one input).
    pub source: Arc<str>,
    /// The event time, when known (as the event writes it: inline when
    /// short, so each hit costs no allocation for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimeText>,
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
    pub timestamp: Option<TimeText>,
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
    /// Which rules may match an event.
    prefilter: Prefilter,
    /// Logsource dispatch and interned field paths.
    plan: Plan,
    /// The event time's paths ([`Detector::time_paths`]), interned.
    time_pids: Vec<u32>,
    /// Each rule's id, title and level as its alerts hold them.
    alert_meta: Vec<AlertMeta>,
    files: usize,
}

/// A rule's id, title and level, shared by all of its alerts.
#[derive(Debug)]
struct AlertMeta {
    id: Arc<str>,
    title: Arc<str>,
    level: Arc<str>,
}

/// What rules are compiled with besides the mapping.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Values for `expand` placeholders.
    pub placeholders: Placeholders,
    /// Processing pipelines, applied to every rule and filter.
    pub pipelines: Vec<crate::pipeline::Pipeline>,
    /// Threads that read and compile rule files (0 or 1: the calling
    /// thread alone). The rules are the same for any value.
    pub threads: usize,
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

/// One rule document's result and title.
type Doc = (Result<Parsed, String>, Option<String>);

/// Reads and compiles one rule file: each document's result, in order (an
/// unreadable file or invalid YAML: a rejection, and nothing after it).
fn compile_file(f: &Path, mapping: Option<&Mapping>, options: &LoadOptions) -> Vec<Doc> {
    let text = match std::fs::read_to_string(f) {
        Ok(t) => t,
        Err(e) => return vec![(Err(e.to_string()), None)],
    };
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let doc = match serde_yaml::Value::deserialize(doc) {
            Ok(d) => d,
            Err(e) => {
                let at = e
                    .location()
                    .map(|l| format!(" at line {}, column {}", l.line(), l.column()));
                docs.push((Err(format!("invalid YAML{}: {e}", at.unwrap_or_default())), None));
                break;
            }
        };
        if doc.is_null() {
            continue;
        }
        let title = doc.get("title").and_then(|t| t.as_str()).map(str::to_string);
        let parsed = compile_doc(&doc, f, mapping, &options.placeholders, &options.pipelines);
        docs.push((parsed, title));
    }
    docs
}

/// [`compile_file`] for every file, on up to `options.threads` threads
/// (each takes the next file left); the results in file order, so the
/// rules are the same, in the same order, for any thread count.
fn compile_files(files: &[PathBuf], mapping: Option<&Mapping>, options: &LoadOptions) -> Vec<Vec<Doc>> {
    par_map(files, options.threads, |f| compile_file(f, mapping, options))
}

/// `items.iter().map(f).collect()` on up to `threads` threads (0 or 1: the
/// calling thread alone), each taking the next item as it is done with
/// one, so that a few costly items do not leave the others idle. The
/// results are in item order, the same for any thread count; a panic in
/// `f` goes on in the caller.
pub(crate) fn par_map<T: Sync, U: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, U)> = std::thread::scope(|sc| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            break;
                        };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, u)| u).collect()
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

/// Reusable per-thread memory for [`Detector::evaluate`].
#[derive(Debug, Default)]
pub struct Scratch {
    /// The prefilter's memory.
    pre: PreScratch,
    /// The candidate rules of the current event.
    list: Vec<usize>,
    /// The rules that matched the current event.
    matched: Vec<usize>,
    /// The last input named to [`Detector::evaluate`], as its alerts
    /// hold it (one copy per input, not one per alert).
    source: Option<Arc<str>>,
    /// The last event time read, as [`Detector::evaluate`] read it.
    last_time: Option<(f64, TimeText)>,
    /// Field values and logsource verdicts of the current event.
    slots: Slots,
}

impl Scratch {
    /// Scratch whose prefilter keeps what it found in up to `slots`
    /// (path, value) pairs seen before (rounded up to a power of two) and
    /// replays it when the pair comes again; 0 keeps none. The default
    /// keeps 2,048. What is kept never changes a result, only its cost.
    pub fn with_value_memo(slots: usize) -> Scratch {
        let mut s = Scratch::default();
        s.pre.memo = crate::valmemo::ValueMemo::with_slots(slots);
        s
    }
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
        let compiled = compile_files(&files, mapping.as_ref(), options);
        for (f, docs) in files.iter().zip(compiled) {
            let file = f.display().to_string();
            for (parsed, title) in docs {
                loaded.add(parsed, &file, title);
            }
        }
        Ok(Detector::build(loaded, mapping, files.len(), options.threads))
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
        Ok(Detector::build(loaded, mapping, 1, options.threads))
    }

    fn build(loaded: Loaded, mapping: Option<Mapping>, files: usize, threads: usize) -> Detector {
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
        let time_paths = Detector::time_paths(mapping.as_ref());
        let plan = Plan::new(&rules, &time_paths);
        let time_pids = time_paths
            .iter()
            .map(|p| plan.id(p).expect("the plan interns the time paths"))
            .collect();
        let prefilter = Prefilter::new(&rules, &plan, threads);
        let alert_meta = rules
            .iter()
            .map(|r| AlertMeta {
                id: Arc::from(r.id.as_str()),
                title: Arc::from(r.title.as_str()),
                level: Arc::from(r.level.as_str()),
            })
            .collect();
        Detector {
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
            plan,
            time_pids,
            alert_meta,
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

    /// Rules that may match `ev`, in rule order in `s.list` (see
    /// [`Prefilter::candidates`]).
    fn candidates(&self, ev: &dyn Event, s: &mut Scratch) {
        let Scratch { pre, list, slots, .. } = s;
        self.prefilter
            .candidates(ev, &self.plan, self.rules.len(), pre, slots, list);
    }

    /// Indices of the rules that match `ev` (prefiltered).
    pub fn matching_rules(&self, ev: &dyn Event, s: &mut Scratch) -> Vec<usize> {
        self.match_into(ev, s);
        s.matched.clone()
    }

    /// [`Detector::matching_rules`] into `s.matched` (no allocation once
    /// warm).
    fn match_into(&self, ev: &dyn Event, s: &mut Scratch) {
        self.candidates(ev, s);
        let Scratch {
            list, slots, matched, ..
        } = s;
        matched.clear();
        matched.extend(
            list.iter()
                .copied()
                .filter(|&r| rule_ok_fast(ev, &self.plan, r, &self.rules[r], slots) && !self.filtered(ev, r)),
        );
    }

    /// Indices of the rules that match `ev`, evaluating every rule: the
    /// slow, obviously correct twin of [`Detector::matching_rules`].
    pub fn matching_rules_brute_force(&self, ev: &dyn Event) -> Vec<usize> {
        (0..self.rules.len())
            .filter(|&r| rule_ok(ev, &self.rules[r]) && !self.filtered(ev, r))
            .collect()
    }

    /// The paths the event time is read from, first present first: the
    /// mapping's timestamp paths, or common names without them.
    fn time_paths(mapping: Option<&Mapping>) -> Vec<&str> {
        const DEFAULT: [&str; 4] = [
            "timestamp",
            "@timestamp",
            "time",
            "Event.System.TimeCreated.#attributes.SystemTime",
        ];
        match mapping {
            Some(m) if !m.timestamp_paths().is_empty() => {
                m.timestamp_paths().iter().map(String::as_str).collect()
            }
            _ => DEFAULT.to_vec(),
        }
    }

    /// The event time in seconds, from the mapping's timestamp paths (or
    /// common names without a mapping). The slow twin of the time
    /// [`Detector::evaluate`] reads through the event's resolved paths.
    pub fn event_time(&self, ev: &dyn Event) -> Option<(f64, String)> {
        let text = Detector::time_paths(self.mapping.as_ref())
            .iter()
            .find_map(|p| ev.get(p).and_then(|v| v.as_text().map(|t| t.into_owned())))?;
        crate::time::parse_time(&text).map(|t| (t, text))
    }

    /// [`Detector::event_time`] through the paths resolved for `ev` by
    /// [`Detector::matching_rules`] (no search of the event per path).
    /// The last event's time is kept in `last`, and given again (no
    /// parse, no copy) when this event's time is written the same way:
    /// logs write many lines a second.
    fn event_time_fast(
        &self,
        ev: &dyn Event,
        slots: &Slots,
        last: &mut Option<(f64, TimeText)>,
    ) -> Option<(f64, TimeText)> {
        // The first path with a text value decides (as in the twin).
        for &p in &self.time_pids {
            if let Some(text) = slots
                .value(ev, &self.plan, p)
                .as_ref()
                .and_then(FieldValue::as_text)
            {
                if let Some(l) = last.as_ref().filter(|l| l.1 == *text) {
                    return Some(l.clone());
                }
                let t = crate::time::parse_time(&text).map(|t| (t, TimeText::from(&*text)));
                if t.is_some() {
                    last.clone_from(&t);
                }
                return t;
            }
        }
        None
    }

    /// Evaluates one event: its hits, each with its alert (unless
    /// suppressed by a correlation) and what correlations need.
    pub fn evaluate(&self, ev: &dyn Event, line: u64, source: &str, s: &mut Scratch) -> Vec<Hit> {
        let mut out = Vec::new();
        self.evaluate_into(ev, line, source, s, &mut out);
        out
    }

    /// [`Detector::evaluate`] appending the hits to `out` (a vector the
    /// caller keeps for a batch of events); returns how many it added.
    pub fn evaluate_into(
        &self,
        ev: &dyn Event,
        line: u64,
        source: &str,
        s: &mut Scratch,
        out: &mut Vec<Hit>,
    ) -> usize {
        self.match_into(ev, s);
        if s.matched.is_empty() {
            return 0;
        }
        let time = self.event_time_fast(ev, &s.slots, &mut s.last_time);
        if s.source.as_deref() != Some(source) {
            s.source = Some(Arc::from(source));
        }
        let src = s.source.as_ref().expect("set above");
        let hits = s.matched.iter().map(|&ri| {
            let r = &self.rules[ri];
            let meta = &self.alert_meta[ri];
            let alert = (!self.suppressed[ri]).then(|| Alert {
                rule_id: meta.id.clone(),
                title: meta.title.clone(),
                level: meta.level.clone(),
                line,
                source: src.clone(),
                timestamp: time.as_ref().map(|t| t.1.clone()),
                matched: self.matched_fields(ev, ri, &s.slots),
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
                        .map(|g| field_text(c.group_field(g, &r.id, r.name.as_deref())).unwrap_or_default())
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
        });
        let before = out.len();
        out.extend(hits);
        out.len() - before
    }

    /// The fields rule `ri` looked at with the event's values (each
    /// field's first candidate path present), read through this event's
    /// resolved paths (`slots`, after [`Detector::matching_rules`]).
    fn matched_fields(
        &self,
        ev: &dyn Event,
        ri: usize,
        slots: &crate::dispatch::Slots,
    ) -> BTreeMap<String, String> {
        let r = &self.rules[ri];
        let mut out = BTreeMap::new();
        // The same fields in the same order as the plan's path ids.
        let mut pids = crate::dispatch::rule_pids(&self.plan, ri);
        for s in &r.selections {
            if let Selection::Fields(groups) = s {
                for f in groups.iter().flatten() {
                    let ids = pids.next().expect("the plan has every field test of the rule");
                    if out.contains_key(&f.field) {
                        continue;
                    }
                    if let Some(v) = crate::dispatch::first_value(ev, &self.plan, slots, ids) {
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
        self.prefilter.unfiltered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JsonEvent, JsonTape, Mapping};

    /// `par_map` is `map` in item order, for any thread count, with items
    /// of very different cost, fewer items than threads, and none.
    #[test]
    fn par_map_is_map_in_order_on_any_thread_count() {
        let items: Vec<u64> = (0..200).map(|i| (i * 7919) % 1000).collect();
        let slow = |&n: &u64| -> u64 { (0..n * 50).fold(n, |a, x| a.wrapping_mul(31).wrapping_add(x)) };
        let want: Vec<u64> = items.iter().map(slow).collect();
        for threads in [0, 1, 2, 3, 8, 500] {
            assert_eq!(par_map(&items, threads, slow), want, "threads {threads}");
            assert_eq!(
                par_map(&items[..2], threads, slow),
                want[..2],
                "threads {threads}"
            );
            assert!(par_map(&items[..0], threads, slow).is_empty());
        }
    }

    /// Logsource verdicts kept per event class ([`Slots::group`]) are the
    /// verdicts decided on each event: events of many classes, in turn,
    /// through one `Scratch`, on the tape and on serde_json's tree, give
    /// what evaluating every rule gives; and one `Scratch` serving two
    /// detectors keeps their classes apart.
    #[test]
    fn logsource_verdicts_by_event_class_equal_the_slow_twin() {
        let rules = r#"
title: Sysmon process
id: 00000000-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\cmd.exe'}
  condition: sel
---
title: File event
id: 00000000-0000-0000-0000-000000000002
logsource: {product: windows, category: file_event}
detection:
  sel: {TargetFilename|contains: 'temp'}
  condition: sel
---
title: Any Windows
id: 00000000-0000-0000-0000-000000000003
logsource: {product: windows}
detection:
  sel: {Image|contains: 'cmd'}
  condition: sel
---
title: Security
id: 00000000-0000-0000-0000-000000000004
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4688}
  condition: sel
"#;
        let d = Detector::from_yaml(rules, Mapping::builtin("windows")).unwrap();
        let other = Detector::from_yaml(&rules.replace("cmd", "pwsh"), Mapping::builtin("windows")).unwrap();
        let ev = |channel: &str, id: &str, data: &str| {
            format!(
                r#"{{"Event":{{"System":{{"Channel":{channel},"EventID":{id}}},"EventData":{{"Image":"C:\\x\\cmd.exe","NewProcessName":"C:\\x\\pwsh.exe","TargetFilename":"C:\\temp\\a"{data}}}}}}}"#
            )
        };
        let sysmon = "\"Microsoft-Windows-Sysmon/Operational\"";
        let lines = [
            ev(sysmon, "1", ""),
            ev(sysmon, "11", ""),
            ev("\"MICROSOFT-WINDOWS-SYSMON/OPERATIONAL\"", "1", ""),
            ev("\"Security\"", "4688", ""),
            ev("\"security\"", "\"4688\"", ""),
            ev(sysmon, "\"1\"", ""),
            ev("null", "1", ""),
            ev("[\"Security\"]", "4688", ""),
            ev(sysmon, "11.0", ""),
            ev("\"Application\"", "1", ""),
            ev(sysmon, "1", ",\"x\":1"),
        ];
        let mut s = Scratch::default();
        let mut tape = JsonTape::default();
        for round in 0..3 {
            for l in lines.iter().chain(lines.iter().rev()) {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                for det in [&d, &other] {
                    let slow = det.matching_rules_brute_force(&JsonEvent(&v));
                    assert_eq!(
                        det.matching_rules(&JsonEvent(&v), &mut s),
                        slow,
                        "{l} round {round}"
                    );
                    let t = tape.parse(l.as_bytes()).unwrap();
                    assert_eq!(det.matching_rules(&t, &mut s), slow, "{l} (tape) round {round}");
                }
            }
        }
        // The twin is not vacuous: rules of several logsources match.
        let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(d.matching_rules_brute_force(&JsonEvent(&v)), vec![0, 2]);
        let v: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
        assert_eq!(d.matching_rules_brute_force(&JsonEvent(&v)), vec![0, 2, 3]);
        // Each detector's turn starts its classes again; within one turn
        // of `d` the events fell into a few classes, not one per event.
        let t = tape.parse(lines[0].as_bytes()).unwrap();
        d.matching_rules(&t, &mut s);
        for l in &lines {
            d.matching_rules(&tape.parse(l.as_bytes()).unwrap(), &mut s);
        }
        assert!(s.slots.classes() <= 9, "{}", s.slots.classes());
    }

    /// One `Scratch` serving two detectors (as the service's per-thread
    /// scratch does across a rule reload): what the prefilter kept for one
    /// (the lists a value unlocked, the fields a flat event's names
    /// resolve to) is never used for the other.
    #[test]
    fn one_scratch_serving_two_detectors_keeps_their_prefilter_memos_apart() {
        let cmd = r#"
title: cmd
id: 00000000-0000-0000-0000-000000000011
logsource: {product: windows}
detection:
  sel: {Image|endswith: '\cmd.exe'}
  condition: sel
"#;
        // `Image` first in both, so that it has the same path number in
        // both: a (path, value) pair kept for `d` is one `other` meets.
        let pwsh = r#"
title: pwsh image
id: 00000000-0000-0000-0000-000000000013
logsource: {product: windows}
detection:
  sel: {Image|endswith: '\pwsh.exe'}
  condition: sel
---
title: pwsh command line
id: 00000000-0000-0000-0000-000000000012
logsource: {product: windows}
detection:
  sel: {CommandLine|contains: 'pwsh'}
  condition: sel
"#;
        let d = Detector::from_yaml(cmd, None).unwrap();
        let other = Detector::from_yaml(pwsh, None).unwrap();
        let lines = [
            r#"{"Image":"C:\\x\\cmd.exe","CommandLine":"pwsh -c x"}"#,
            r#"{"Image":"C:\\x\\pwsh.exe","CommandLine":"cmd /c x"}"#,
        ];
        let mut s = Scratch::default();
        let mut tape = JsonTape::default();
        let mut matched = 0;
        // Each detector three rounds in a row: the first fills the
        // memos, the others would replay them.
        for det in [&d, &other, &d, &other] {
            for round in 0..3 {
                for l in &lines {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    let slow = det.matching_rules_brute_force(&JsonEvent(&v));
                    matched += slow.len();
                    let t = tape.parse(l.as_bytes()).unwrap();
                    assert_eq!(det.matching_rules(&t, &mut s), slow, "{l} (tape) round {round}");
                    let mut flat = crate::FlatEvent::default();
                    for (k, x) in v.as_object().unwrap() {
                        flat.push(k, x.as_str().unwrap());
                    }
                    let slow = det.matching_rules_brute_force(&flat);
                    assert_eq!(
                        det.matching_rules(&flat, &mut s),
                        slow,
                        "{l} (flat) round {round}"
                    );
                }
            }
        }
        assert!(matched >= 12, "{matched}");
    }

    /// The time `evaluate` keeps from the event before is used only for
    /// the same text: each hit carries its own event's time, as the slow
    /// [`Detector::event_time`] reads it, whatever came before, and the
    /// input named with the call, also when it changes.
    #[test]
    fn hits_carry_their_own_events_time_and_input_when_times_repeat() {
        let any = r#"{title: any, id: 00000000-0000-0000-0000-000000000021,
  logsource: {product: linux}, detection: {keywords: ['sshd'], condition: keywords}}"#;
        let d = Detector::from_yaml(any, None).unwrap();
        let times = [
            "Jan  2 00:00:10",
            "Jan  2 00:00:10",
            "Jan  2 00:00:11",
            "Jan  2 00:00:10",
            "not a time",
            "not a time",
            "Jan  2 00:00:10",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "Jan  2 00:00:11",
        ];
        let mut s = Scratch::default();
        let mut hits = 0;
        for (i, t) in times.iter().enumerate() {
            let mut flat = crate::FlatEvent::default();
            flat.push("timestamp", t);
            flat.push("message", "sshd[1]: x");
            let source = if i % 3 == 0 { "a.log" } else { "b.log" };
            let want = d.event_time(&flat);
            for h in d.evaluate(&flat, i as u64, source, &mut s) {
                assert_eq!(h.time, want.as_ref().map(|w| w.0), "{i}: {t}");
                assert_eq!(
                    h.timestamp.as_deref(),
                    want.as_ref().map(|w| w.1.as_str()),
                    "{i}: {t}"
                );
                let a = h.alert.expect("not suppressed");
                assert_eq!(a.timestamp, h.timestamp);
                assert_eq!(
                    (&*a.source, &*a.rule_id, &*a.title),
                    (source, "00000000-0000-0000-0000-000000000021", "any")
                );
                hits += 1;
            }
        }
        assert_eq!(hits, times.len());
    }
}
