//! The fast evaluation path: logsource dispatch and field values resolved
//! once per event.
//!
//! - Every event path a rule or a logsource condition names is interned
//!   once at load; per event, a path is looked up in the event at most
//!   once, its text (and lowercased text) kept in one reused buffer, so
//!   a thousand rules reading `Image` cost one lookup and one lowercasing.
//! - Logsource conditions are grouped: rules with the same condition share
//!   one verdict per event (with the Windows mapping, one per
//!   (Channel, EventID) class), computed before any rule is looked at.
//!   Rules whose logsource does not hold are never candidates.
//!
//! [`rule_ok_fast`] gives the same answer as `detector::rule_ok` for a rule
//! whose logsource holds; tests compare the two on every bundled event.

use crate::event::{Event, FieldValue};
use crate::rule::{FieldMatch, Rule, Selection};
use crate::value::{Matcher, RefMode, StrPat};
use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::OnceLock;

/// A rule's field tests compiled: selection → AND-group → field (same
/// shapes as `Rule::selections`).
type RuleFields = Vec<Vec<Vec<CField>>>;

/// One field test: its candidate paths as interned ids, and when it holds
/// many `contains` values (any of which will do), one automaton over them
/// instead of one substring search per value.
#[derive(Debug)]
struct CField {
    pids: Box<[u32]>,
    /// What the field's values compile to for matching, built when the
    /// field is first tested: most fields of a big rule set never are on
    /// a given input, and building thousands of automata was a fifth of
    /// start-up.
    compiled: OnceLock<Compiled>,
}

/// A field test's values compiled (see [`compile`]).
#[derive(Debug)]
struct Compiled {
    /// (automaton over the case-insensitive `contains` literals, which are
    /// lowercase and matched against the lowercased value; the same for
    /// the cased ones against the value as is; lookups of the
    /// case-insensitive `startswith`, `endswith` and whole values).
    multi: Option<Box<Multi>>,
    /// Per value, per alternative: for a `contains` literal the automata
    /// do not stand for, its substring searcher, built once (not one
    /// `str::contains` set-up per test); `None` for other matchers.
    finders: Vec<Vec<Option<Finder<'static>>>>,
}

fn compile(f: &FieldMatch) -> Compiled {
    let multi = multi(f);
    let finders = f
        .values
        .iter()
        .enumerate()
        .map(|(i, alts)| {
            alts.iter()
                .enumerate()
                .map(|(j, m)| match m {
                    Matcher::Str {
                        pat: StrPat::Contains(p),
                        ..
                    } if !multi.as_ref().is_some_and(|mu| mu.covered[i][j]) => {
                        Some(Finder::new(p.as_bytes()).into_owned())
                    }
                    _ => None,
                })
                .collect()
        })
        .collect();
    Compiled { multi, finders }
}

#[derive(Debug)]
struct Multi {
    lower: Option<AhoCorasick>,
    cased: Option<AhoCorasick>,
    /// The case-insensitive `startswith` literals, the `endswith` ones
    /// and the whole-value ones, looked up by length and end word
    /// ([`Ends`]) instead of compared one by one.
    prefix: Option<Ends>,
    suffix: Option<Ends>,
    exact: Option<Ends>,
    /// Per value, per alternative: whether the automata stand for it.
    covered: Vec<Vec<bool>>,
}

/// Fewer `contains` values than this are searched one by one.
const MULTI_MIN: usize = 4;
/// Fewer `startswith` (`endswith`, whole) values than this are compared
/// one by one ([`Ends`] is built in one sort).
const ENDS_MIN: usize = 2;

/// Which of [`Multi`]'s automata a matcher would belong to.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Contains,
    Prefix,
    Suffix,
    Exact,
}

fn part(m: &Matcher) -> Option<Part> {
    match m {
        Matcher::Str {
            pat: StrPat::Contains(_),
            ..
        } => Some(Part::Contains),
        Matcher::Str {
            pat: StrPat::Prefix(_),
            cased: false,
        } => Some(Part::Prefix),
        Matcher::Str {
            pat: StrPat::Suffix(_),
            cased: false,
        } => Some(Part::Suffix),
        Matcher::Str {
            pat: StrPat::Exact(_),
            cased: false,
        } => Some(Part::Exact),
        _ => None,
    }
}

fn multi(f: &FieldMatch) -> Option<Box<Multi>> {
    if f.all {
        return None;
    }
    let count = |want: Part| {
        f.values
            .iter()
            .flatten()
            .filter(|m| part(m) == Some(want))
            .count()
    };
    let take = |want: Part| {
        count(want)
            >= match want {
                Part::Contains => MULTI_MIN,
                _ => ENDS_MIN,
            }
    };
    let (contains, prefixes, suffixes, exacts) = (
        take(Part::Contains),
        take(Part::Prefix),
        take(Part::Suffix),
        take(Part::Exact),
    );
    if !(contains || prefixes || suffixes || exacts) {
        return None;
    }
    let (mut lower, mut cased) = (Vec::new(), Vec::new());
    let (mut pre, mut suf, mut whole) = (Vec::new(), Vec::new(), Vec::new());
    let covered: Vec<Vec<bool>> = f
        .values
        .iter()
        .map(|alts| {
            alts.iter()
                .map(|m| match (m, part(m)) {
                    (
                        Matcher::Str {
                            pat: StrPat::Contains(p),
                            cased: c,
                        },
                        _,
                    ) if contains => {
                        if *c { &mut cased } else { &mut lower }.push(p.clone());
                        true
                    }
                    (
                        Matcher::Str {
                            pat: StrPat::Prefix(p),
                            ..
                        },
                        Some(Part::Prefix),
                    ) if prefixes => {
                        pre.push(p.as_bytes());
                        true
                    }
                    (
                        Matcher::Str {
                            pat: StrPat::Suffix(p),
                            ..
                        },
                        Some(Part::Suffix),
                    ) if suffixes => {
                        suf.push(p.as_bytes());
                        true
                    }
                    (
                        Matcher::Str {
                            pat: StrPat::Exact(p),
                            ..
                        },
                        Some(Part::Exact),
                    ) if exacts => {
                        whole.push(p.as_bytes());
                        true
                    }
                    _ => false,
                })
                .collect()
        })
        .collect();
    let build = |pats: &[String]| {
        (!pats.is_empty()).then(|| AhoCorasick::new(pats).expect("literal patterns build an automaton"))
    };
    Some(Box::new(Multi {
        lower: build(&lower),
        cased: build(&cased),
        prefix: (!pre.is_empty()).then(|| Ends::new(&pre, false)),
        suffix: (!suf.is_empty()).then(|| Ends::new(&suf, true)),
        exact: (!whole.is_empty()).then(|| Ends::new(&whole, false)),
        covered,
    }))
}

/// Literals one of which must start (or end, or be) a text: grouped by length,
/// and within a length sorted by the word of their (up to) eight bytes
/// nearest that end. A text is looked up once per length: its word there
/// found by binary search, then the literals with that word compared
/// whole. The same verdict as `starts_with` (`ends_with`) over every
/// literal; built in one sort (these are built when a rule field is first
/// tested, inside the run).
#[derive(Debug)]
pub(crate) struct Ends {
    /// At the end (`ends_with`), else at the start.
    suffix: bool,
    /// (length, word, literal), sorted.
    keys: Vec<(usize, u64, Box<[u8]>)>,
    /// Per distinct length, ascending: (length, its range in `keys`).
    lens: Vec<(usize, usize, usize)>,
}

/// Up to eight bytes as a little-endian word, zero-padded.
fn end_word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(w)
}

impl Ends {
    pub(crate) fn new(lits: &[&[u8]], suffix: bool) -> Ends {
        let mut keys: Vec<(usize, u64, Box<[u8]>)> = lits
            .iter()
            .map(|l| (l.len(), Ends::word(l, suffix), Box::from(*l)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut lens: Vec<(usize, usize, usize)> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match lens.last_mut() {
                Some(last) if last.0 == k.0 => last.2 = i + 1,
                _ => lens.push((k.0, i, i + 1)),
            }
        }
        Ends { suffix, keys, lens }
    }

    /// The word of the (up to) eight bytes of `part` nearest the end
    /// looked at.
    fn word(part: &[u8], suffix: bool) -> u64 {
        let k = part.len().min(8);
        end_word(if suffix {
            &part[part.len() - k..]
        } else {
            &part[..k]
        })
    }

    /// Whether some literal starts (ends) `text`.
    pub(crate) fn any(&self, text: &[u8]) -> bool {
        for &(m, a, b) in &self.lens {
            if m > text.len() {
                return false;
            }
            let part = if self.suffix {
                &text[text.len() - m..]
            } else {
                &text[..m]
            };
            if self.holds(part, a, b) {
                return true;
            }
        }
        false
    }

    /// Whether some literal is the whole `text`.
    pub(crate) fn whole(&self, text: &[u8]) -> bool {
        let i = self.lens.partition_point(|l| l.0 < text.len());
        self.lens
            .get(i)
            .is_some_and(|&(m, a, b)| m == text.len() && self.holds(text, a, b))
    }

    /// Whether `part` is one of the literals `keys[a..b]` (all as long).
    fn holds(&self, part: &[u8], a: usize, b: usize) -> bool {
        let w = Ends::word(part, self.suffix);
        let same = &self.keys[a..b];
        let mut i = same.partition_point(|k| k.1 < w);
        while let Some(k) = same.get(i).filter(|k| k.1 == w) {
            if *k.2 == *part {
                return true;
            }
            i += 1;
        }
        false
    }
}

/// One logsource condition: alternatives of (path id, lowercased values).
type Group = Vec<Vec<(u32, Vec<String>)>>;

/// What the fast path precomputes from the rules.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    paths: Vec<String>,
    /// Path hash ([`crate::tape::path_hash`]) → the ids of the paths
    /// without a `*` segment that have it: how a tape's members are
    /// matched to paths in one pass ([`Slots::resolve`]).
    by_hash: FxHashMap<u64, Vec<u32>>,
    /// Per path: whether it has a `*` segment (then it is looked up with
    /// `Event::get`, never by the index).
    starred: Vec<bool>,
    /// Per path without `*`: where its last `.`-separated key starts, and
    /// the id of the path before that key (`NO_PATH` for a one-key path;
    /// every such prefix is interned): how [`Slots::resolve`] checks a
    /// hash match with one key comparison.
    last_at: Vec<u32>,
    parent: Vec<u32>,
    /// Path → id (at load only).
    ids: FxHashMap<String, u32>,
    fields: Vec<RuleFields>,
    groups: Vec<Group>,
    /// The paths logsource conditions read (each once): an event's texts
    /// at these paths decide every group's verdict ([`Slots::group`]).
    ls_paths: Vec<u32>,
    /// Tells plans apart (a `Scratch` may serve several detectors): the
    /// verdicts `Slots` keeps per event class are a plan's.
    pub(crate) id: u64,
    /// Per rule: its logsource group.
    pub(crate) rule_group: Vec<u32>,
}

/// No event class decided yet ([`Slots::group`]).
const NO_CLASS: u32 = u32::MAX;
/// Event classes kept at most ([`Slots::event_class`]).
const MAX_CLASSES: usize = 1024;

/// No path: `Plan::parent` of a one-key path (a member at the top).
const NO_PATH: u32 = u32::MAX;
/// `Slots::entry_pid` of a member matched to no path: no path's parent,
/// so none of its members is matched either.
const UNMATCHED: u32 = u32::MAX - 1;

/// For a path with a `*` segment, the member before the first one, when
/// that member's own path has none (`A.B.*.C` → `A.B`): the value the
/// path's value lies in. `None` for a path without `*`, or starting with
/// one.
pub(crate) fn star_member(p: &str) -> Option<&str> {
    let i = p.find('*')?;
    p[..i].strip_suffix('.').filter(|pre| !pre.contains('*'))
}

fn intern(paths: &mut Vec<String>, ids: &mut FxHashMap<String, u32>, p: &str) -> u32 {
    if let Some(&i) = ids.get(p) {
        return i;
    }
    paths.push(p.to_string());
    ids.insert(p.to_string(), paths.len() as u32 - 1);
    paths.len() as u32 - 1
}

impl Plan {
    /// The plan of `rules`, with the paths in `extra` interned too (the
    /// event time's: read through [`Slots::value`] like a rule's field).
    pub(crate) fn new(rules: &[Rule], extra: &[&str]) -> Plan {
        let mut paths = Vec::new();
        let mut ids = FxHashMap::default();
        for p in extra {
            intern(&mut paths, &mut ids, p);
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of: FxHashMap<Vec<crate::mapping::Alternative>, u32> = FxHashMap::default();
        let mut rule_group = Vec::with_capacity(rules.len());
        let mut fields = Vec::with_capacity(rules.len());
        for r in rules {
            let g = match group_of.get(&r.logsource) {
                Some(&g) => g,
                None => {
                    let group: Group = r
                        .logsource
                        .iter()
                        .map(|alt| {
                            alt.iter()
                                .map(|(p, v)| (intern(&mut paths, &mut ids, p), v.clone()))
                                .collect()
                        })
                        .collect();
                    groups.push(group);
                    group_of.insert(r.logsource.clone(), groups.len() as u32 - 1);
                    groups.len() as u32 - 1
                }
            };
            rule_group.push(g);
            let rf: RuleFields = r
                .selections
                .iter()
                .map(|s| match s {
                    Selection::Fields(gs) => gs
                        .iter()
                        .map(|g| {
                            g.iter()
                                .map(|f| {
                                    // The paths a `fieldref` reads are
                                    // resolved per event like the rule's own.
                                    for m in f.values.iter().flatten() {
                                        if let Matcher::FieldRef { paths: refs, .. } = m {
                                            for p in refs {
                                                intern(&mut paths, &mut ids, p);
                                            }
                                        }
                                    }
                                    CField {
                                        pids: f
                                            .paths
                                            .iter()
                                            .map(|p| intern(&mut paths, &mut ids, p))
                                            .collect(),
                                        compiled: OnceLock::new(),
                                    }
                                })
                                .collect()
                        })
                        .collect(),
                    Selection::Keywords { .. } => Vec::new(),
                })
                .collect();
            fields.push(rf);
        }
        // A path with a `*` segment reaches nothing outside the member
        // before it (`A.B.*.C` lies in `A.B`): that member is interned too,
        // for the prefilter, which scans its whole value.
        for p in paths.clone() {
            if let Some(at) = star_member(&p) {
                intern(&mut paths, &mut ids, at);
            }
        }
        // Every path without `*` has its prefixes interned (`A.B.C`: `A`
        // and `A.B`), for `parent`.
        for p in paths.clone() {
            if !p.contains('*') {
                for (i, _) in p.match_indices('.') {
                    intern(&mut paths, &mut ids, &p[..i]);
                }
            }
        }
        let last_at: Vec<u32> = paths
            .iter()
            .map(|p| p.rfind('.').map_or(0, |i| i as u32 + 1))
            .collect();
        let parent: Vec<u32> = paths
            .iter()
            .map(|p| match p.rfind('.') {
                Some(i) if !p.contains('*') => ids[&p[..i]],
                _ => NO_PATH,
            })
            .collect();
        let mut by_hash: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        let starred: Vec<bool> = paths.iter().map(|p| p.contains('*')).collect();
        for (i, p) in paths.iter().enumerate() {
            if !starred[i] {
                by_hash
                    .entry(crate::tape::path_hash(p))
                    .or_default()
                    .push(i as u32);
            }
        }
        let mut ls_paths: Vec<u32> = groups.iter().flatten().flatten().map(|(p, _)| *p).collect();
        ls_paths.sort_unstable();
        ls_paths.dedup();
        static PLANS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Plan {
            ls_paths,
            id: PLANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            paths,
            by_hash,
            starred,
            last_at,
            parent,
            ids,
            fields,
            groups,
            rule_group,
        }
    }

    /// The id of an interned path: every path a rule field names, and for
    /// a path with a `*` segment its [`star_member`].
    pub(crate) fn id(&self, path: &str) -> Option<u32> {
        self.ids.get(path).copied()
    }

    /// How many paths are interned.
    pub(crate) fn n_paths(&self) -> usize {
        self.paths.len()
    }

    /// Distinct logsource conditions.
    pub(crate) fn groups(&self) -> usize {
        self.groups.len()
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Num(f64),
    Bool(bool),
}

/// A path's value in this event; text lies in `Slots::arena`.
#[derive(Debug, Clone, Copy, Default)]
enum Slot {
    #[default]
    Absent,
    Null,
    /// A list or an object: matched through the general path.
    List,
    Text {
        kind: Kind,
        orig: (u32, u32),
        low: (u32, u32),
    },
}

/// Per-thread, per-event memory of the fast path (inside `Scratch`).
#[derive(Debug, Default)]
pub(crate) struct Slots {
    stamp: u32,
    seen: Vec<u32>,
    slot: Vec<Slot>,
    arena: String,
    /// Another field's lowercased text (`fieldref`).
    other: String,
    /// Logsource verdicts by event class: events whose logsource paths
    /// hold the same texts (the class key) get the same verdict from every
    /// group, so each is decided once per class, not once per event.
    /// Per class, per group: 0 not decided yet, 1 no, 2 yes.
    classes: FxHashMap<Vec<u8>, u32>,
    class_state: Vec<Vec<u8>>,
    /// The plan the classes were decided for ([`Plan::id`]).
    class_plan: u64,
    /// This event's class (`NO_CLASS` until a verdict is asked for).
    class: u32,
    class_key: Vec<u8>,
    /// Whether this event's tape members were matched to paths
    /// ([`Slots::resolve`]): then a path without `*` whose `node_seen` is
    /// not this event's stamp is absent.
    resolved: bool,
    node_seen: Vec<u32>,
    node: Vec<u32>,
    /// The paths matched to a member this event, in index order, with
    /// the member's node.
    found: Vec<(u32, u32)>,
    /// Per index entry of this event's tape: the path matched to it, or
    /// `UNMATCHED`.
    entry_pid: Vec<u32>,
}

impl Slots {
    /// Starts a new event: forgets every resolved path and logsource
    /// verdict.
    pub(crate) fn begin(&mut self, plan: &Plan) {
        if self.seen.len() != plan.paths.len() {
            self.seen = vec![0; plan.paths.len()];
            self.slot = vec![Slot::Absent; plan.paths.len()];
            self.node_seen = vec![0; plan.paths.len()];
            self.node = vec![0; plan.paths.len()];
            self.stamp = 0;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.node_seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        self.resolved = false;
        self.found.clear();
        self.arena.clear();
        self.class = NO_CLASS;
        if self.class_plan != plan.id {
            self.classes.clear();
            self.class_state.clear();
            self.class_plan = plan.id;
        }
    }

    /// Matches every member of an indexed tape (no key with a `.`) to the
    /// plan's paths in one pass over the tape's index, by path hash: a
    /// path without `*` is then present exactly when a member was matched
    /// to it (`TapeEvent::get` finds the same member: the one whose dotted
    /// path it is), and [`Slots::get`] reads its node without searching.
    ///
    /// A hash match is checked exactly with one key comparison: the
    /// member's path is its parent's, `.`, its key (no key holds a `.` on
    /// an indexed tape), and its parent, which comes before it in the
    /// index, was matched to the path's prefix (interned for every path)
    /// exactly when the parent's path is that prefix.
    pub(crate) fn resolve(&mut self, t: &crate::TapeEvent<'_>, plan: &Plan) {
        if !t.indexed() {
            return;
        }
        let stamp = self.stamp;
        self.entry_pid.clear();
        t.members_by_hash(|h, e| {
            let mut got = UNMATCHED;
            if let Some(ids) = plan.by_hash.get(&h) {
                let (key, up) = t.entry_key_parent(e);
                let up = up.map_or(NO_PATH, |u| self.entry_pid[u as usize]);
                for &p in ids {
                    let i = p as usize;
                    if plan.parent[i] == up && &plan.paths[i].as_bytes()[plan.last_at[i] as usize..] == key {
                        debug_assert!(t.entry_at(e, &plan.paths[i]), "{}", plan.paths[i]);
                        self.node_seen[i] = stamp;
                        self.node[i] = t.entry_node(e);
                        self.found.push((p, t.entry_node(e)));
                        got = p;
                        break;
                    }
                }
            }
            self.entry_pid.push(got);
        });
        self.resolved = true;
    }

    /// The (path, node) pairs [`Slots::resolve`] matched this event (a
    /// path at most once), taken out; give them back with
    /// [`Slots::put_found`] (the buffer is reused).
    pub(crate) fn take_found(&mut self) -> Vec<(u32, u32)> {
        std::mem::take(&mut self.found)
    }

    /// Gives back what [`Slots::take_found`] took.
    pub(crate) fn put_found(&mut self, found: Vec<(u32, u32)>) {
        self.found = found;
    }

    /// The value of path `p` in `ev` (`Event::get`, through the resolved
    /// members when the event's tape was resolved).
    pub(crate) fn value<'e>(&self, ev: &'e dyn Event, plan: &Plan, p: u32) -> Option<FieldValue<'e>> {
        let i = p as usize;
        if self.resolved && !plan.starred[i] {
            match ev.as_tape() {
                Some(t) => (self.node_seen[i] == self.stamp).then(|| t.node_value(self.node[i])),
                None => ev.get(&plan.paths[i]),
            }
        } else {
            ev.get(&plan.paths[i])
        }
    }

    /// Whether logsource group `g` holds for the event: decided once per
    /// event class, when first asked (only groups with a candidate rule
    /// are), by [`Slots::group_verdict`].
    pub(crate) fn group(&mut self, ev: &dyn Event, plan: &Plan, g: u32) -> bool {
        if self.class == NO_CLASS {
            self.class = self.event_class(ev, plan);
        }
        let (c, g) = (self.class as usize, g as usize);
        match self.class_state[c][g] {
            0 => {
                let ok = self.group_verdict(ev, plan, g);
                self.class_state[c][g] = 1 + u8::from(ok);
                ok
            }
            st => {
                debug_assert_eq!(st == 2, self.group_verdict(ev, plan, g), "group {g}");
                st == 2
            }
        }
    }

    /// Whether logsource group `g` holds for the event, decided on its
    /// values (the slow twin of a verdict kept for the event's class).
    fn group_verdict(&mut self, ev: &dyn Event, plan: &Plan, g: usize) -> bool {
        plan.groups[g].is_empty()
            || plan.groups[g].iter().any(|alt| {
                alt.iter().all(|(p, values)| match self.get(ev, plan, *p) {
                    Slot::Text { low, .. } => values.iter().any(|v| v == self.text(low)),
                    _ => false,
                })
            })
    }

    /// The event's class: its lowercased texts at the logsource paths (a
    /// path without text, as [`Slots::group_verdict`] sees it, is told
    /// apart from every text), numbered in first-seen order.
    fn event_class(&mut self, ev: &dyn Event, plan: &Plan) -> u32 {
        let mut key = std::mem::take(&mut self.class_key);
        key.clear();
        for &p in &plan.ls_paths {
            match self.get(ev, plan, p) {
                Slot::Text { low, .. } => {
                    key.push(1);
                    key.extend_from_slice(&(low.1 - low.0).to_le_bytes());
                    key.extend_from_slice(self.text(low).as_bytes());
                }
                _ => key.push(0),
            }
        }
        let c = match self.classes.get(key.as_slice()) {
            Some(&c) => c,
            None => {
                // Bounded: many classes (values no logsource names, say
                // every event a new channel) start the table again.
                if self.classes.len() >= MAX_CLASSES {
                    self.classes.clear();
                    self.class_state.clear();
                }
                let c = self.class_state.len() as u32;
                self.class_state.push(vec![0; plan.groups.len()]);
                self.classes.insert(key.clone(), c);
                c
            }
        };
        self.class_key = key;
        c
    }

    /// How many event classes [`Slots::group`] keeps verdicts for.
    #[cfg(test)]
    pub(crate) fn classes(&self) -> usize {
        self.class_state.len()
    }

    fn text(&self, (a, b): (u32, u32)) -> &str {
        &self.arena[a as usize..b as usize]
    }

    /// A slot for the text at `arena[a..]` (just written), with its
    /// lowercased form (`value::lower`'s rule) after it when it differs.
    fn finish_text(&mut self, kind: Kind, a: usize) -> Slot {
        let b = self.arena.len();
        let low = if !self.arena[a..b].is_ascii() {
            let l = self.arena[a..b].to_lowercase();
            self.arena.push_str(&l);
            (b as u32, self.arena.len() as u32)
        } else if self.arena.as_bytes()[a..b].iter().any(u8::is_ascii_uppercase) {
            // Through `other` (free here): two copies, then one
            // vectorised lowercasing, not a push per byte.
            self.other.clear();
            self.other.push_str(&self.arena[a..b]);
            self.other.make_ascii_lowercase();
            self.arena.push_str(&self.other);
            (b as u32, self.arena.len() as u32)
        } else {
            (a as u32, b as u32)
        };
        Slot::Text {
            kind,
            orig: (a as u32, b as u32),
            low,
        }
    }

    fn get(&mut self, ev: &dyn Event, plan: &Plan, p: u32) -> Slot {
        let i = p as usize;
        if self.seen[i] == self.stamp {
            return self.slot[i];
        }
        let a = self.arena.len();
        let slot = match self.value(ev, plan, p) {
            None => Slot::Absent,
            Some(FieldValue::Null) => Slot::Null,
            Some(FieldValue::List(_)) => Slot::List,
            Some(FieldValue::Str(t)) => {
                self.arena.push_str(&t);
                self.finish_text(Kind::Str, a)
            }
            Some(FieldValue::Bool(b)) => {
                self.arena.push_str(if b { "true" } else { "false" });
                self.finish_text(Kind::Bool(b), a)
            }
            Some(FieldValue::Num(n)) => {
                // `format_num`, written into the arena.
                use std::fmt::Write as _;
                match crate::event::int_text(n, &mut itoa::Buffer::new()) {
                    Some(t) => self.arena.push_str(t),
                    None => {
                        let _ = write!(self.arena, "{n}");
                    }
                }
                self.finish_text(Kind::Num(n), a)
            }
        };
        self.seen[i] = self.stamp;
        self.slot[i] = slot;
        slot
    }
}

/// The first of `pids` present in `ev` (`get_first` over the same paths).
pub(crate) fn first_value<'e>(
    ev: &'e dyn Event,
    plan: &Plan,
    s: &Slots,
    pids: &[u32],
) -> Option<FieldValue<'e>> {
    pids.iter().find_map(|&p| s.value(ev, plan, p))
}

/// The path ids of rule `ri`'s field tests, in the shape of its
/// selections (selection → AND-group → field).
pub(crate) fn rule_pids(plan: &Plan, ri: usize) -> impl Iterator<Item = &[u32]> + '_ {
    plan.fields[ri].iter().flatten().flatten().map(|cf| &cf.pids[..])
}

/// Whether the rule's detection holds for `ev` (its logsource is the
/// caller's business: the dispatch). The same verdict as
/// `detector::rule_ok` gives for a rule whose logsource holds.
pub(crate) fn rule_ok_fast(ev: &dyn Event, plan: &Plan, ri: usize, r: &Rule, s: &mut Slots) -> bool {
    let fields = &plan.fields[ri];
    crate::detector::eval_once(r, &mut |i| match &r.selections[i] {
        Selection::Fields(groups) => groups
            .iter()
            .zip(&fields[i])
            .any(|(g, ids)| g.iter().zip(ids).all(|(f, cf)| field_ok_fast(ev, plan, f, cf, s))),
        Selection::Keywords { values, all } => crate::detector::keywords_ok(ev, values, *all),
    })
}

fn field_ok_fast(ev: &dyn Event, plan: &Plan, f: &FieldMatch, cf: &CField, s: &mut Slots) -> bool {
    // The first candidate path present wins (`get_first`).
    let slot = cf
        .pids
        .iter()
        .map(|&p| s.get(ev, plan, p))
        .find(|x| !matches!(x, Slot::Absent))
        .unwrap_or(Slot::Absent);
    let get = |paths: &[String]| {
        paths
            .iter()
            .find_map(|p| ev.get(p))
            .and_then(|v| v.as_text().map(|t| t.into_owned()))
    };
    let test = |one: &dyn Fn(&Vec<Matcher>) -> bool| {
        if f.all {
            f.values.iter().all(one)
        } else {
            f.values.iter().any(one)
        }
    };
    match slot {
        Slot::Absent => f.absent_ok,
        Slot::List => crate::detector::field_ok(ev, f),
        Slot::Null => {
            let v = FieldValue::Null;
            test(&|alts| alts.iter().any(|m| m.matches(Some(&v), &get)))
        }
        Slot::Text { kind, orig, low } => {
            let other = std::cell::RefCell::new(std::mem::take(&mut s.other));
            let (t, l) = (s.text(orig), s.text(low));
            // `Matcher::matches` for `fieldref`, without a String per test;
            // the other field's paths are interned, read like the rule's
            // own (`Event::get` for one that is not).
            let fieldref = |paths: &[String], mode: RefMode, cased: bool| {
                let Some(o) = paths.iter().find_map(|p| match plan.id(p) {
                    Some(id) => s.value(ev, plan, id),
                    None => ev.get(p),
                }) else {
                    return false;
                };
                let Some(o) = o.as_text() else { return false };
                let mut buf = other.borrow_mut();
                let (a, b): (&str, &str) = if cased {
                    (t, &o)
                } else {
                    buf.clear();
                    if o.is_ascii() {
                        buf.push_str(&o);
                        buf.make_ascii_lowercase();
                    } else {
                        buf.push_str(&o.to_lowercase());
                    }
                    (l, &buf)
                };
                match mode {
                    RefMode::Equal => a == b,
                    RefMode::Contains => a.contains(b),
                    RefMode::Prefix => a.starts_with(b),
                    RefMode::Suffix => a.ends_with(b),
                }
            };
            let v = match kind {
                Kind::Str => FieldValue::Str(Cow::Borrowed(t)),
                Kind::Num(n) => FieldValue::Num(n),
                Kind::Bool(b) => FieldValue::Bool(b),
            };
            // A `contains` literal with its searcher (the same verdict as
            // `StrPat::matches`: a UTF-8 needle found in UTF-8 text lies on
            // character boundaries), the rest as `Matcher::matches`.
            let one = |m: &Matcher, finder: &Option<Finder<'static>>| match (m, finder) {
                (Matcher::Str { cased, .. }, Some(fi)) => {
                    fi.find(if *cased { t } else { l }.as_bytes()).is_some()
                }
                (Matcher::Str { pat, cased }, None) => pat.matches(if *cased { t } else { l }),
                (Matcher::FieldRef { paths, mode, cased }, _) => fieldref(paths, *mode, *cased),
                _ => m.matches(Some(&v), &get),
            };
            let c = cf.compiled.get_or_init(|| compile(f));
            let any_alt = |(alts, fs): (&Vec<Matcher>, &Vec<Option<Finder<'static>>>)| {
                alts.iter().zip(fs).any(|(m, fi)| one(m, fi))
            };
            let ok = match &c.multi {
                // Any value will do (`multi` is never built for `all`):
                // one automaton pass for the `contains` values, one lookup
                // per length for the anchored ones, the others one by one.
                Some(mu) => {
                    mu.lower.as_ref().is_some_and(|a| a.is_match(l))
                        || mu.cased.as_ref().is_some_and(|a| a.is_match(t))
                        || mu.prefix.as_ref().is_some_and(|e| e.any(l.as_bytes()))
                        || mu.suffix.as_ref().is_some_and(|e| e.any(l.as_bytes()))
                        || mu.exact.as_ref().is_some_and(|e| e.whole(l.as_bytes()))
                        || f.values
                            .iter()
                            .zip(&mu.covered)
                            .zip(&c.finders)
                            .any(|((alts, cov), fs)| {
                                alts.iter()
                                    .zip(cov)
                                    .zip(fs)
                                    .any(|((m, &covered), fi)| !covered && one(m, fi))
                            })
                }
                None if f.all => f.values.iter().zip(&c.finders).all(any_alt),
                None => f.values.iter().zip(&c.finders).any(any_alt),
            };
            s.other = other.into_inner();
            ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ends;
    use proptest::prelude::*;

    /// The slow twin of [`Ends::any`] and [`Ends::whole`]: `starts_with`,
    /// `ends_with` and `==` over every literal.
    fn check(lits: &[String], text: &str) {
        let bytes: Vec<&[u8]> = lits.iter().map(|l| l.as_bytes()).collect();
        assert_eq!(
            Ends::new(&bytes, false).any(text.as_bytes()),
            lits.iter().any(|l| text.starts_with(l.as_str())),
            "prefixes {lits:?} {text:?}"
        );
        assert_eq!(
            Ends::new(&bytes, true).any(text.as_bytes()),
            lits.iter().any(|l| text.ends_with(l.as_str())),
            "suffixes {lits:?} {text:?}"
        );
        for suffix in [false, true] {
            assert_eq!(
                Ends::new(&bytes, suffix).whole(text.as_bytes()),
                lits.iter().any(|l| text == l),
                "whole {lits:?} {text:?}"
            );
        }
    }

    #[test]
    fn ends_are_starts_with_or_ends_with_any_literal() {
        let lits: Vec<String> = [
            "\\cmd.exe",
            "d.exe",
            "\\powershell.exe",
            "c:\\windows\\",
            "c:\\",
            "é\\é\\",
            "\\é",
            "0123456789abcdef",
            "1123456789abcdef",
        ]
        .iter()
        .map(|l| l.to_string())
        .collect();
        for text in [
            "",
            "c:\\windows\\system32\\cmd.exe",
            "c:\\x\\pwsh.exe",
            "cmd.exe",
            "d:\\powershell.exe",
            "c:",
            "ax\\\\é\\",
            "ax\\é",
            "x0123456789abcdef",
            "0123456789abcdefx",
            "2123456789abcdef",
        ] {
            check(&lits, text);
            check(&lits[..1], text);
        }
        check(&["".to_string()], "abc");
        check(&["".to_string()], "");
        check(&["a".to_string(), "a".to_string()], "a");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Literals of every length around the eight-byte word, sharing
        /// words and ends.
        #[test]
        fn ends_on_generated_literals_and_texts(
            lits in proptest::collection::vec("[ab\\\\é]{0,11}", 1..12),
            text in "[abx\\\\é]{0,14}",
        ) {
            check(&lits, &text);
        }
    }
}
