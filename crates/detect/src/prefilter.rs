//! The literal prefilter: which rules may match an event.
//!
//! Every rule gets, where its condition allows, up to four clauses of
//! needles: each clause a set of literals one of which any event the rule
//! matches must hold, each where it must lie (in one field's value, at its
//! start, at its end, as the whole of it, or anywhere in the event for
//! keywords). Each field of a selection, each selection of `all of`, each
//! value of `contains|all` gives a clause. A rule is a candidate only
//! when its most selective clause has a needle found (the needle lists
//! name the rules of which it is that clause) and then each of its other
//! clauses has one (checked at the end, from which lists and needles were
//! found). Rules without needles are always evaluated (when their
//! logsource holds).
//!
//! - Events on a [`crate::JsonTape`] are prefiltered field by field: each
//!   member whose path a rule field names is lowercased once and looked up
//!   in that field's own tables: an anchored automaton for the whole-value
//!   and prefix needles, one over the reversed value for suffixes, an
//!   unanchored one for the rest, memchr for 1-byte needles. A field's
//!   tables hold only the needles of rules that read the field, so a value
//!   is never searched for another field's literals.
//! - Flat events are prefiltered field by field too: each field's value
//!   as matching reads it (first candidate path present, resolved once
//!   per list of field names), keywords in the keyword text. So are other
//!   events (a tape whose paths are ambiguous, JSON values) when few
//!   fields have needles (through `Event::get`); with many fields they are
//!   scanned as a whole by one automaton over every needle, a needle
//!   counting wherever it occurs (built on first use).
//!
//! Soundness: a needle is taken from a matcher only when every value the
//! matcher accepts holds it where its kind says, after lowercasing
//! (`usable_needle`; regexes give the literals every match starts with,
//! or holds by their structure: [`required`]); a clause is taken only
//! from a part of the condition every match satisfies (`and`, never
//! `not`; an `or` gives one clause, the union of its branches' best).

use crate::condition::Cond;
use crate::dispatch::{Plan, Slots};
use crate::event::{Event, FieldValue, FlatEvent};
use crate::overlap::Overlapping;
use crate::rule::{Rule, Selection};
use crate::valmemo::{ValueMemo, MAX_TEXT};
use crate::value::{Matcher, StrPat};
use aho_corasick::AhoCorasick;
use logsieve_memo::Probe;
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

/// Where in a field's (lowercased) text a needle must lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// The whole text.
    Exact,
    /// At its start.
    Prefix,
    /// At its end.
    Suffix,
    /// Anywhere.
    Contains,
}

/// A lowercased literal and where it must lie.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Needle {
    text: String,
    kind: Kind,
}

/// The matcher's needle text when the prefilter can look for it soundly
/// (it looks at lowercased text, [`push_lowered`]). A non-ASCII needle is usable unless it holds a sigma
/// (the one letter whose lowercase depends on its neighbours), or a cased
/// pattern's non-ASCII letters change when lowercased (the raw text holds
/// them as written, the needle lowercased).
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

/// Literals one of which every match of `re` holds, lowercased as the
/// prefilter lowercases text: the better of the regex's prefix literals
/// ([`regex_prefixes`]) and the literals its structure requires
/// ([`required`]). (`regex_syntax` parses the pattern as `regex` does:
/// the modifiers' flags are in the pattern.)
fn regex_needles(re: &regex::Regex) -> Option<Vec<String>> {
    let hir = regex_syntax::Parser::new().parse(re.as_str()).ok()?;
    [regex_prefixes(&hir), required(&hir)]
        .into_iter()
        .flatten()
        .filter(|v| !v.is_empty() && v.iter().all(|t| !t.is_empty()))
        .max_by_key(|v| literal_score(v))
}

/// How selective a set of literals looks: its shortest, then fewer.
fn literal_score(v: &[String]) -> (usize, usize) {
    (v.iter().map(|t| t.len()).min().unwrap_or(0), usize::MAX - v.len())
}

/// The regex's prefix literals when they are a finite set of non-empty
/// ASCII strings.
fn regex_prefixes(hir: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let lits = seq.literals()?;
    if lits.is_empty() {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for l in lits {
        let b = l.as_bytes();
        if b.is_empty() || !b.is_ascii() {
            return None;
        }
        let s = String::from_utf8(b.to_ascii_lowercase()).ok()?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Some(out)
}

/// At most this many literals stand for an alternation.
const MAX_ALTERNATES: usize = 16;

/// The one ASCII character every character of `chars` lowercases to
/// (one character each, as [`push_lowered`] maps it), if there is one:
/// wherever the regex matches one of them, the lowercased text holds it.
fn one_lower(chars: impl Iterator<Item = char>) -> Option<u8> {
    let mut one = None;
    for c in chars {
        let mut low = c.to_lowercase();
        let (Some(l), None) = (low.next(), low.next()) else {
            return None;
        };
        if !l.is_ascii() || one.is_some_and(|o| o != l) {
            return None;
        }
        one = Some(l);
    }
    one.map(|c| c as u8)
}

/// The ASCII character a one-character piece of a regex always is after
/// lowercasing (a literal character, or a class such as `[sS]` that
/// `(?i)` makes); `None` for anything else.
fn unit(h: &regex_syntax::hir::Hir) -> Option<u8> {
    use regex_syntax::hir::{Class, HirKind};
    const MAX_CLASS: usize = 8;
    match h.kind() {
        HirKind::Literal(l) => {
            let t = std::str::from_utf8(&l.0).ok()?;
            let mut cs = t.chars();
            let (Some(c), None) = (cs.next(), cs.next()) else {
                return None;
            };
            one_lower(std::iter::once(c))
        }
        HirKind::Class(class) => {
            // At most `MAX_CLASS` characters are looked at (a bigger class
            // is no unit).
            let chars: Vec<char> = match class {
                Class::Unicode(c) => c
                    .ranges()
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .take(MAX_CLASS + 1)
                    .collect(),
                // A byte beyond ASCII is no character of its own.
                Class::Bytes(c) if c.ranges().iter().all(|r| r.end().is_ascii()) => c
                    .ranges()
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .map(char::from)
                    .take(MAX_CLASS + 1)
                    .collect(),
                Class::Bytes(_) => return None,
            };
            (chars.len() <= MAX_CLASS).then(|| one_lower(chars.into_iter()))?
        }
        _ => None,
    }
}

/// Literals one of which every match of `h` holds (lowercased), from the
/// regex's structure: in a concatenation, each run of single characters
/// is such a literal, and so is what any one part requires; an
/// alternation requires one of what each branch requires; a repetition
/// at least once what its body requires. The most selective set is kept
/// (longest shortest literal, then fewest).
fn required(h: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::HirKind;
    let better = |a: Option<Vec<String>>, b: Option<Vec<String>>| match (a, b) {
        (Some(a), Some(b)) => Some(if literal_score(&b) > literal_score(&a) {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    };
    match h.kind() {
        HirKind::Literal(_) | HirKind::Concat(_) => {
            // Flatten into pieces: a literal is one piece per character.
            let mut pieces: Vec<Result<u8, &regex_syntax::hir::Hir>> = Vec::new();
            fn push<'h>(
                p: &'h regex_syntax::hir::Hir,
                pieces: &mut Vec<Result<u8, &'h regex_syntax::hir::Hir>>,
            ) {
                match p.kind() {
                    HirKind::Literal(l) => match std::str::from_utf8(&l.0) {
                        Ok(t) => {
                            for c in t.chars() {
                                pieces.push(one_lower(std::iter::once(c)).ok_or(p));
                            }
                        }
                        Err(_) => pieces.push(Err(p)),
                    },
                    _ => pieces.push(unit(p).ok_or(p)),
                }
            }
            match h.kind() {
                HirKind::Concat(parts) => parts.iter().for_each(|p| push(p, &mut pieces)),
                _ => push(h, &mut pieces),
            }
            let mut best: Option<Vec<String>> = None;
            let mut run = String::new();
            for p in pieces.iter().map(Some).chain(std::iter::once(None)) {
                match p {
                    Some(Ok(c)) => run.push(*c as char),
                    other => {
                        if !run.is_empty() {
                            best = better(best, Some(vec![std::mem::take(&mut run)]));
                        }
                        // A literal's other characters are not a part of
                        // their own.
                        if let Some(Err(sub)) = other {
                            if !matches!(sub.kind(), HirKind::Literal(_)) {
                                best = better(best, required(sub));
                            }
                        }
                    }
                }
            }
            best
        }
        HirKind::Alternation(branches) => {
            let mut out: Vec<String> = Vec::new();
            for b in branches {
                for t in required(b)? {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
            (out.len() <= MAX_ALTERNATES).then_some(out)
        }
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Class(_) => unit(h).map(|c| vec![(c as char).to_string()]),
        _ => None,
    }
}

/// Needles one of which every value accepted by one of `alts` holds;
/// `None`: no such guarantee.
fn needles_matchers(alts: &[Matcher]) -> Option<Vec<Needle>> {
    let mut out = Vec::new();
    for m in alts {
        match m {
            Matcher::Re(re) => out.extend(regex_needles(re)?.into_iter().map(|text| Needle {
                text,
                kind: Kind::Contains,
            })),
            Matcher::Str { pat, .. } => {
                let kind = match pat {
                    StrPat::Exact(_) => Kind::Exact,
                    StrPat::Prefix(_) => Kind::Prefix,
                    StrPat::Suffix(_) => Kind::Suffix,
                    StrPat::Contains(_) | StrPat::Glob(_) => Kind::Contains,
                };
                out.push(Needle {
                    text: usable_needle(m)?,
                    kind,
                });
            }
            _ => return None,
        }
    }
    Some(out)
}

fn shortest(ns: &[Needle]) -> Option<usize> {
    ns.iter().map(|n| n.text.len()).min()
}

fn needles_values(values: &[Vec<Matcher>], all: bool) -> Option<Vec<Needle>> {
    if all {
        values
            .iter()
            .filter_map(|v| needles_matchers(v))
            .max_by_key(|n| shortest(n))
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
/// match (a clause).
type Needles = Vec<(Needle, Scope)>;

/// Clauses every match of a rule satisfies, each on its own: a rule is a
/// candidate only when each of its clauses has a needle where it must
/// lie. (`all of selection_*`, a selection's fields, `contains|all`
/// values: each gives a clause.)
type Clauses = Vec<Needles>;

/// At most this many clauses per rule are kept (the most selective by
/// [`score`]): each needle a clause adds is scanned for in every event
/// that has its field.
const MAX_CLAUSES: usize = 4;

fn tagged(ns: Vec<Needle>, scope: &Scope) -> Needles {
    ns.into_iter().map(|n| (n, scope.clone())).collect()
}

/// How selective a clause looks: its shortest needle, then fewer needles.
fn score(n: &Needles) -> (usize, usize) {
    (
        n.iter().map(|x| x.0.text.len()).min().unwrap_or(0),
        usize::MAX - n.len(),
    )
}

/// The most selective clause of `c`.
fn best(c: Clauses) -> Option<Needles> {
    c.into_iter().max_by_key(score)
}

/// Clauses of a disjunction: one, the union of each branch's best clause
/// (`None` when a branch has none: it may match anything).
fn any_of(branches: impl Iterator<Item = Option<Clauses>>) -> Option<Clauses> {
    let mut out = Vec::new();
    for b in branches {
        out.extend(best(b?)?);
    }
    Some(vec![out])
}

/// A field test's clauses: with `all`, one per value that has needles;
/// else one, over every value (`None` when a value has none).
fn field_clauses(f: &crate::rule::FieldMatch) -> Option<Clauses> {
    let scope = Scope::Field(f.paths.clone());
    let c: Clauses = if f.all {
        f.values
            .iter()
            .filter_map(|v| needles_matchers(v))
            .map(|ns| tagged(ns, &scope))
            .collect()
    } else {
        vec![tagged(needles_values(&f.values, false)?, &scope)]
    };
    (!c.is_empty()).then_some(c)
}

fn needles_sel(s: &Selection) -> Option<Clauses> {
    match s {
        // A keyword may lie anywhere in the event's text.
        Selection::Keywords { values, all } => needles_values(values, *all).map(|ns| {
            let ns = ns
                .into_iter()
                .map(|n| Needle {
                    kind: Kind::Contains,
                    ..n
                })
                .collect();
            vec![tagged(ns, &Scope::Any)]
        }),
        // One group: each of its fields must match, so each field's
        // clauses hold. Several groups: any one of them.
        Selection::Fields(groups) => {
            let group = |g: &Vec<crate::rule::FieldMatch>| -> Option<Clauses> {
                let c: Clauses = g.iter().filter_map(field_clauses).flatten().collect();
                (!c.is_empty()).then_some(c)
            };
            match groups.as_slice() {
                [g] => group(g),
                _ => any_of(groups.iter().map(group)),
            }
        }
    }
}

fn needles_cond(c: &Cond, sels: &[Selection]) -> Option<Clauses> {
    match c {
        Cond::Sel(i) => needles_sel(&sels[*i]),
        Cond::And(v) => {
            let c: Clauses = v.iter().filter_map(|c| needles_cond(c, sels)).flatten().collect();
            (!c.is_empty()).then_some(c)
        }
        Cond::Or(v) => any_of(v.iter().map(|c| needles_cond(c, sels))),
        Cond::Not(_) => None,
    }
}

/// A rule's clauses, at most [`MAX_CLAUSES`] (the most selective, the
/// same clause once); `None`: the rule has no needle and is always a
/// candidate when its logsource holds.
fn rule_clauses(r: &Rule) -> Option<Clauses> {
    let mut c = needles_cond(&r.cond, &r.selections)?;
    c.retain(|n| !n.is_empty());
    c.sort_by_key(|n| std::cmp::Reverse(score(n)));
    let mut out: Clauses = Vec::new();
    for n in c {
        if out.len() < MAX_CLAUSES && !out.contains(&n) {
            out.push(n);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// An automaton over needles: which of them occur in a lowercased text
/// (the whole-event and keyword scans).
#[derive(Debug)]
struct NeedleScan {
    /// Over the needles of 2 bytes or more; its pattern `i` is needle
    /// `ac_needle[i]`.
    ac: Option<Overlapping>,
    ac_needle: Vec<usize>,
    /// For a few needles: the same automaton with leftmost semantics,
    /// which can skip through text with a vectorised search (the
    /// overlapping one cannot); asked first whether any needle occurs.
    quick: Option<AhoCorasick>,
    /// 1-byte needles (".", "=", "m") occur many times in most events:
    /// as automaton patterns they would report match after match. They
    /// are looked up with memchr instead: (byte, needle).
    byte_needles: Vec<(u8, usize)>,
}

/// Needle sets up to this size get a `quick` automaton.
const QUICK_MAX: usize = 64;

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
        let quick = (!ac_patterns.is_empty() && ac_patterns.len() <= QUICK_MAX).then(|| {
            AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(&ac_patterns)
                .expect("literal needles build an automaton")
        });
        NeedleScan {
            ac: Overlapping::new(&ac_patterns, false),
            ac_needle,
            quick,
            byte_needles,
        }
    }

    /// Calls `hit` with each needle occurring in `low`, a lowercased text
    /// (possibly more than once).
    fn scan(&self, low: &str, hit: &mut dyn FnMut(usize)) {
        if let Some(ac) = self
            .ac
            .as_ref()
            .filter(|_| self.quick.as_ref().is_none_or(|q| q.is_match(low)))
        {
            ac.for_each(low.as_bytes(), &mut |p, _| hit(self.ac_needle[p]));
        }
        for &(b, n) in &self.byte_needles {
            if memchr::memchr(b, low.as_bytes()).is_some() {
                hit(n);
            }
        }
    }

    /// [`NeedleScan::scan`] over every text of `ev`, lowercased and joined
    /// (into `joined`, one line each) so that the automaton runs once: a
    /// needle found across two texts is a false candidate, never a miss.
    fn scan_event(&self, ev: &dyn Event, joined: &mut String, hit: &mut dyn FnMut(usize)) {
        joined_texts(ev, joined);
        self.scan(joined, hit);
    }
}

/// Events not on a tape are prefiltered field by field (one `Event::get`
/// per candidate path) when there are at most this many fields with
/// needles.
const BY_GET_MAX: usize = 64;

/// Calls `f` with each text of `v` (a list's items, nested lists too).
fn value_texts(v: &FieldValue<'_>, f: &mut dyn FnMut(&str)) {
    match v {
        FieldValue::List(items) => items.iter().for_each(|i| value_texts(i, f)),
        FieldValue::Null => {}
        other => {
            if let Some(t) = other.as_text() {
                f(&t)
            }
        }
    }
}

/// No list.
const NONE: u32 = u32::MAX;

/// One field's needles, looked for in its lowercased value; each hit is
/// the index of a rule list.
#[derive(Debug, Default)]
struct FieldScan {
    /// Anchored at the start: prefix and whole-value needles; per pattern
    /// (list when it starts the text, list when it is the whole text).
    start: Option<Overlapping>,
    start_to: Vec<(u32, u32)>,
    /// Anchored at the start of the reversed text: suffix needles
    /// reversed.
    end: Option<Overlapping>,
    end_to: Vec<u32>,
    /// Unanchored: `contains` needles of 2 bytes or more.
    within: Option<Overlapping>,
    within_to: Vec<u32>,
    /// 1-byte `contains` needles.
    bytes: Vec<(u8, u32)>,
}

impl FieldScan {
    /// From (needle, list) pairs.
    fn new(needles: &[(Needle, u32)]) -> FieldScan {
        let mut s = FieldScan::default();
        let mut start: Vec<&str> = Vec::new();
        let mut start_at: FxHashMap<&str, usize> = FxHashMap::default();
        let mut end: Vec<Vec<u8>> = Vec::new();
        let mut within: Vec<&str> = Vec::new();
        for (n, list) in needles {
            let t = n.text.as_str();
            match n.kind {
                Kind::Exact | Kind::Prefix => {
                    let i = *start_at.entry(t).or_insert_with(|| {
                        start.push(t);
                        s.start_to.push((NONE, NONE));
                        start.len() - 1
                    });
                    match n.kind {
                        Kind::Exact => s.start_to[i].1 = *list,
                        _ => s.start_to[i].0 = *list,
                    }
                }
                Kind::Suffix => {
                    end.push(t.bytes().rev().collect());
                    s.end_to.push(*list);
                }
                Kind::Contains => match t.as_bytes() {
                    [b] => s.bytes.push((*b, *list)),
                    _ => {
                        within.push(t);
                        s.within_to.push(*list);
                    }
                },
            }
        }
        s.start = Overlapping::new(&start, true);
        s.end = Overlapping::new(&end, true);
        s.within = Overlapping::new(&within, false);
        s
    }

    /// Calls `hit` with the list of each needle `low` (a lowercased text)
    /// holds where it must (possibly more than once); `rev` is scratch.
    fn scan(&self, low: &str, rev: &mut Vec<u8>, hit: &mut dyn FnMut(u32)) {
        let b = low.as_bytes();
        if let Some(ac) = &self.start {
            ac.for_each(b, &mut |p, end| {
                let (pre, whole) = self.start_to[p];
                if pre != NONE {
                    hit(pre);
                }
                if whole != NONE && end == b.len() {
                    hit(whole);
                }
            });
        }
        if let Some(ac) = &self.end {
            rev.clear();
            rev.extend(b.iter().rev());
            ac.for_each(rev, &mut |p, _| hit(self.end_to[p]));
        }
        if let Some(ac) = &self.within {
            ac.for_each(b, &mut |p, _| hit(self.within_to[p]));
        }
        for &(c, l) in &self.bytes {
            if memchr::memchr(c, b).is_some() {
                hit(l);
            }
        }
    }
}

/// Appends `t` lowercased as `value::lower` does, except that `Σ` always
/// becomes `σ`: no needle holds a sigma, so no needle's matches differ.
/// (A needle found in `value::lower`'s text of a value is found here, and
/// where it lies there: lowercasing maps each character on its own but
/// for `Σ`.)
fn push_lowered(buf: &mut String, t: &str) {
    if t.is_ascii() {
        let at = buf.len();
        buf.push_str(t);
        buf[at..].make_ascii_lowercase();
        return;
    }
    let mut rest = t;
    loop {
        let ascii = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
        let at = buf.len();
        buf.push_str(&rest[..ascii]);
        buf[at..].make_ascii_lowercase();
        let mut chars = rest[ascii..].chars();
        match chars.next() {
            None => return,
            Some(c) => buf.extend(c.to_lowercase()),
        }
        rest = chars.as_str();
    }
}

/// Every text of `ev` lowercased ([`push_lowered`]), one line each, into
/// `joined`. ASCII texts are copied as they are and the whole buffer is
/// lowercased at the end, in one pass (ASCII lowercasing leaves the
/// already lowercased non-ASCII texts as they are).
fn joined_texts(ev: &dyn Event, joined: &mut String) {
    joined.clear();
    let add = |joined: &mut String, t: &str| {
        if t.is_ascii() {
            joined.push_str(t);
        } else {
            push_lowered(joined, t);
        }
        joined.push('\n');
    };
    // The tape's texts are the same; its walk is inlined.
    match ev.as_tape() {
        Some(tape) => tape.scan_texts(|t| add(joined, t)),
        None => ev.for_each_scan_text(&mut |t| add(joined, t)),
    }
    joined.make_ascii_lowercase();
}

/// `t` lowercased ([`push_lowered`]), into `buf` when it changes.
fn lowered<'a>(t: &'a str, buf: &'a mut String) -> &'a str {
    if t.is_ascii() && !t.bytes().any(|b| b.is_ascii_uppercase()) {
        return t;
    }
    buf.clear();
    push_lowered(buf, t);
    buf
}

/// The prefilter's tables, built once from the rules.
#[derive(Debug)]
pub(crate) struct Prefilter {
    /// Every needle's text, with the rules whose first clause it satisfies
    /// wherever it occurs (the whole-event scan), and that scan's
    /// automaton, built when first needed.
    needles: Vec<String>,
    needle_rules: Vec<Vec<usize>>,
    whole: OnceLock<NeedleScan>,
    /// Keyword needles: the only ones looked for in the whole event when
    /// it is prefiltered field by field; an automaton per logsource group
    /// with keyword rules, over their needles.
    any: Vec<(u32, NeedleScan)>,
    needle_any: Vec<Vec<usize>>,
    /// Per needle: whether it is a keyword needle (of any clause).
    keyword: Vec<bool>,
    /// Over every keyword needle (built when first needed).
    all_any: OnceLock<NeedleScan>,
    /// Per field (a rule field's candidate paths): its tables.
    fields: Vec<FieldScan>,
    /// The rules whose first clause each field needle satisfies.
    lists: Vec<Vec<usize>>,
    /// Per rule: its other clauses, each checked once the first has let
    /// the rule through (a needle in each: [`Sat`]).
    more: Vec<Box<[Box<[Sat]>]>>,
    /// Per field: its candidate paths.
    field_paths: Vec<Vec<String>>,
    /// Events not on a tape are prefiltered field by field through
    /// `Event::get` (few fields), or scanned as a whole (many); flat
    /// events always field by field (their fields are resolved once per
    /// list of names, [`FlatFields`], whatever the rules' fields).
    by_get: bool,
    /// Per interned path (the plan's ids): the fields with needles it is
    /// a candidate path of; a path with a `*` segment stands here by the
    /// member before it (its value lies in that member's value,
    /// [`crate::dispatch::star_member`]).
    pid_fields: Vec<Vec<u32>>,
    /// Some field path starts with `*`: no tape is prefiltered field by
    /// field.
    star_anywhere: bool,
    /// Rules with no needle, by logsource group: evaluated whenever their
    /// group holds.
    always: Vec<Vec<usize>>,
    /// How many rules have no needle.
    pub(crate) unfiltered: usize,
    /// Whether any rule has needles (else every rule is a candidate).
    has_needles: bool,
}

/// Per-thread memory of the prefilter (inside `Scratch`).
#[derive(Debug, Default)]
pub(crate) struct PreScratch {
    /// Per rule: the event number that last made it a candidate.
    mark: Vec<u32>,
    /// Per field needle list and per needle: the event number that last
    /// found it (for the rules' other clauses).
    list_seen: Vec<u32>,
    needle_seen: Vec<u32>,
    /// This event's number.
    stamp: u32,
    /// A value lowercased, and reversed.
    low: String,
    /// The event's texts joined.
    joined: String,
    rev: Vec<u8>,
    /// Lists unlocked by (path, text) pairs seen before.
    pub(crate) memo: ValueMemo,
    /// The lists one scan unlocked, for the memo.
    hits: Vec<u32>,
    /// Flat events' rule fields, resolved for the last list of names.
    flat: FlatFields,
    /// The plan (detector) `memo` and `flat` were filled for: both hold
    /// its field and list numbers, so another detector starts them anew.
    plan: u64,
}

/// One needle of a rule's clause after the first: its field list
/// ([`NONE`] for a keyword needle) and its number among all needles.
/// Found when its list was found (an event prefiltered field by field;
/// keywords: when the needle was), or when the needle was anywhere (an
/// event scanned as a whole).
#[derive(Debug, Clone, Copy)]
struct Sat {
    list: u32,
    needle: u32,
}

/// A rule field no path of which a flat event has.
const ABSENT: u32 = u32::MAX;
/// A rule field read from the template's params (`FlatEvent::get`'s
/// `params`).
const PARAMS: u32 = u32::MAX - 1;

/// Per rule field, what [`FlatEvent::get`] gives for its first path
/// present (as `Event::get` over the paths in order): the index of the
/// event's field of that name (its first), [`PARAMS`], or [`ABSENT`]. It
/// depends only on the event's field names, so it is kept for the last
/// list of names and computed again only when the names change (the text
/// pipeline sends the same names line after line).
#[derive(Debug, Default)]
struct FlatFields {
    /// The names it was resolved for, joined, and where each ends.
    names: String,
    ends: Vec<usize>,
    /// Whether `at` holds a resolution.
    valid: bool,
    /// (rule field, event field or [`PARAMS`]) for the rule fields the
    /// event has ([`ABSENT`] ones left out: most rule fields are absent
    /// from any one kind of event), in rule field order.
    at: Vec<(u32, u32)>,
}

impl FlatFields {
    /// The resolution for `ev`'s field names.
    fn resolve(&mut self, ev: &FlatEvent<'_>, field_paths: &[Vec<String>]) -> &[(u32, u32)] {
        if !(self.valid && self.same_names(ev)) {
            self.names.clear();
            self.ends.clear();
            for (k, _) in &ev.fields {
                self.names.push_str(k);
                self.ends.push(self.names.len());
            }
            self.at.clear();
            self.at
                .extend(field_paths.iter().enumerate().filter_map(|(f, paths)| {
                    let at = paths
                        .iter()
                        .find_map(|p| {
                            if p == "params" {
                                Some(PARAMS)
                            } else {
                                ev.fields.iter().position(|(k, _)| k == p).map(|i| i as u32)
                            }
                        })
                        .unwrap_or(ABSENT);
                    (at != ABSENT).then_some((f as u32, at))
                }));
            self.valid = true;
        }
        &self.at
    }

    fn same_names(&self, ev: &FlatEvent<'_>) -> bool {
        if self.ends.len() != ev.fields.len() {
            return false;
        }
        let mut start = 0;
        for ((k, _), &end) in ev.fields.iter().zip(&self.ends) {
            if &self.names[start..end] != *k {
                return false;
            }
            start = end;
        }
        true
    }
}

impl Prefilter {
    /// The tables for `rules`; the field scans (an automaton each) are
    /// built on up to `threads` threads, the same for any count.
    pub(crate) fn new(rules: &[Rule], plan: &Plan, threads: usize) -> Prefilter {
        let mut needles: Vec<String> = Vec::new();
        let mut needle_rules: Vec<Vec<usize>> = Vec::new();
        let mut needle_any: Vec<Vec<usize>> = Vec::new();
        // Per needle: the logsource groups of rules with it as a keyword
        // needle (any clause).
        let mut needle_kw_groups: Vec<Vec<u32>> = Vec::new();
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        let mut fields: FxHashMap<Vec<String>, u32> = FxHashMap::default();
        // Per field: (needle, list); and (field, needle) → list.
        let mut field_needles: Vec<Vec<(Needle, u32)>> = Vec::new();
        let mut list_of: FxHashMap<(u32, Needle), u32> = FxHashMap::default();
        let mut lists: Vec<Vec<usize>> = Vec::new();
        let mut more: Vec<Box<[Box<[Sat]>]>> = Vec::with_capacity(rules.len());
        let mut always = vec![Vec::new(); plan.groups()];
        let mut unfiltered = 0;
        let push = |v: &mut Vec<usize>, ri: usize| {
            if v.last() != Some(&ri) {
                v.push(ri);
            }
        };
        for (ri, r) in rules.iter().enumerate() {
            let mut rest: Vec<Box<[Sat]>> = Vec::new();
            match rule_clauses(r) {
                Some(clauses) => {
                    for (ci, ns) in clauses.into_iter().enumerate() {
                        let first = ci == 0;
                        let mut sats = Vec::new();
                        for (n, scope) in ns {
                            let k = *index.entry(n.text.clone()).or_insert_with(|| {
                                needles.push(n.text.clone());
                                needle_rules.push(Vec::new());
                                needle_any.push(Vec::new());
                                needle_kw_groups.push(Vec::new());
                                needles.len() - 1
                            });
                            if first {
                                push(&mut needle_rules[k], ri);
                            }
                            match scope {
                                Scope::Any => {
                                    if first {
                                        push(&mut needle_any[k], ri);
                                    }
                                    let g = plan.rule_group[ri];
                                    if !needle_kw_groups[k].contains(&g) {
                                        needle_kw_groups[k].push(g);
                                    }
                                    sats.push(Sat {
                                        list: NONE,
                                        needle: k as u32,
                                    });
                                }
                                Scope::Field(paths) => {
                                    let next = fields.len() as u32;
                                    let f = *fields.entry(paths).or_insert(next);
                                    if f == next {
                                        field_needles.push(Vec::new());
                                    }
                                    let l = *list_of.entry((f, n.clone())).or_insert_with(|| {
                                        lists.push(Vec::new());
                                        field_needles[f as usize].push((n, lists.len() as u32 - 1));
                                        lists.len() as u32 - 1
                                    });
                                    if first {
                                        push(&mut lists[l as usize], ri);
                                    }
                                    sats.push(Sat {
                                        list: l,
                                        needle: k as u32,
                                    });
                                }
                            }
                        }
                        if !first {
                            rest.push(sats.into());
                        }
                    }
                }
                None => {
                    always[plan.rule_group[ri] as usize].push(ri);
                    unfiltered += 1;
                }
            }
            more.push(rest.into());
        }
        // Per logsource group with keyword rules: an automaton over their
        // keyword needles alone (small: one pass with a fast skip).
        let mut group_kw: Vec<Vec<bool>> = Vec::new();
        let mut kw_group: Vec<Option<usize>> = vec![None; plan.groups()];
        for (k, gs) in needle_kw_groups.iter().enumerate() {
            for &g in gs {
                let g = g as usize;
                let i = *kw_group[g].get_or_insert_with(|| {
                    group_kw.push(vec![false; needles.len()]);
                    group_kw.len() - 1
                });
                group_kw[i][k] = true;
            }
        }
        let any: Vec<(u32, NeedleScan)> = kw_group
            .iter()
            .enumerate()
            .filter_map(|(g, i)| i.map(|i| (g as u32, NeedleScan::new(&needles, |k| group_kw[i][k]))))
            .collect();
        let mut pid_fields: Vec<Vec<u32>> = vec![Vec::new(); plan.n_paths()];
        let mut star_anywhere = false;
        let mut by_id: Vec<(&Vec<String>, u32)> = fields.iter().map(|(p, &f)| (p, f)).collect();
        by_id.sort_by_key(|x| x.1);
        for (paths, f) in by_id {
            for p in paths {
                // `A.B.*.C` reaches nothing outside `A.B`'s value.
                let at = if p.contains('*') {
                    match crate::dispatch::star_member(p) {
                        Some(pre) => pre,
                        None => {
                            star_anywhere = true;
                            continue;
                        }
                    }
                } else {
                    p.as_str()
                };
                let id = plan
                    .id(at)
                    .expect("the plan interns every rule field path and star member");
                let e = &mut pid_fields[id as usize];
                if !e.contains(&f) {
                    e.push(f);
                }
            }
        }
        let has_needles = !needles.is_empty();
        let mut field_paths = vec![Vec::new(); fields.len()];
        for (paths, &f) in &fields {
            field_paths[f as usize] = paths.clone();
        }
        Prefilter {
            by_get: field_paths.len() <= BY_GET_MAX,
            field_paths,
            fields: crate::detector::par_map(&field_needles, threads, |ns| FieldScan::new(ns)),
            lists,
            more,
            keyword: needle_kw_groups.iter().map(|g| !g.is_empty()).collect(),
            needles,
            needle_rules,
            whole: OnceLock::new(),
            any,
            needle_any,
            all_any: OnceLock::new(),
            pid_fields,
            star_anywhere,
            always,
            unfiltered,
            has_needles,
        }
    }

    fn all_any(&self) -> &NeedleScan {
        self.all_any
            .get_or_init(|| NeedleScan::new(&self.needles, |i| self.keyword[i]))
    }

    fn whole(&self) -> &NeedleScan {
        self.whole
            .get_or_init(|| NeedleScan::new(&self.needles, |_| true))
    }

    /// Rules that may match `ev`, in rule order in `list`: the rules
    /// whose logsource holds (the dispatch) and that the prefilter lets
    /// through. Every rule left out has needles none of which lies where
    /// it must: in its field's value (an event on a [`crate::JsonTape`],
    /// field by field), or anywhere in the event (keywords; and every
    /// needle for other events, or a tape whose paths are ambiguous).
    pub(crate) fn candidates(
        &self,
        ev: &dyn Event,
        plan: &Plan,
        rules: usize,
        s: &mut PreScratch,
        slots: &mut Slots,
        list: &mut Vec<usize>,
    ) {
        list.clear();
        slots.begin(plan);
        if let Some(t) = ev.as_tape() {
            slots.resolve(t, plan);
        }
        let rule_group = &plan.rule_group;
        if !self.has_needles {
            list.extend((0..rules).filter(|&r| slots.group(ev, plan, rule_group[r])));
            return;
        }
        if s.mark.len() != rules {
            s.mark = vec![0; rules];
            s.stamp = 0;
        }
        if s.list_seen.len() != self.lists.len() || s.needle_seen.len() != self.needles.len() {
            s.list_seen = vec![0; self.lists.len()];
            s.needle_seen = vec![0; self.needles.len()];
            s.mark.iter_mut().for_each(|m| *m = 0);
            s.stamp = 0;
        }
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.mark.iter_mut().for_each(|m| *m = 0);
            s.list_seen.iter_mut().for_each(|m| *m = 0);
            s.needle_seen.iter_mut().for_each(|m| *m = 0);
            s.stamp = 1;
        }
        if s.plan != plan.id {
            s.memo.clear();
            s.flat.valid = false;
            s.plan = plan.id;
        }
        let PreScratch {
            mark,
            list_seen,
            needle_seen,
            stamp,
            low,
            rev,
            joined,
            memo,
            hits,
            flat,
            ..
        } = s;
        let stamp = *stamp;
        let by_field = ev.as_tape().filter(|t| t.indexed() && !self.star_anywhere);
        let mut any = [None; 4];
        let mut n_any = 0;
        if by_field.is_some() {
            for (g, scan) in &self.any {
                if slots.group(ev, plan, *g) {
                    if n_any == any.len() {
                        // Many groups: one scan over all keyword needles.
                        n_any = usize::MAX;
                        break;
                    }
                    any[n_any] = Some(scan);
                    n_any += 1;
                }
            }
        }
        // The members matched to paths, with their nodes (taken out of
        // `slots`, which `unlock` asks for logsource verdicts).
        let found = slots.take_found();
        // Rules whose first clause a needle satisfies, if their logsource
        // holds (the dispatch); their other clauses are checked at the end.
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
        // A field needle list found, a needle found.
        let mut list_hit = |x: u32, unlock: &mut dyn FnMut(&[usize])| {
            list_seen[x as usize] = stamp;
            unlock(&self.lists[x as usize]);
        };
        let mut needle_hit = |n: usize, rules: &[usize], unlock: &mut dyn FnMut(&[usize])| {
            needle_seen[n] = stamp;
            unlock(rules);
        };
        let by_get = self.by_get || ev.as_flat().is_some();
        match by_field {
            // Few fields (or a flat event): each one's value (the first
            // candidate path present, as matching takes it) searched for
            // its own needles, and keywords in the keyword text (or every
            // text without one).
            None if by_get => {
                if !self.any.is_empty() {
                    let kw = self.all_any();
                    match ev.keyword_text() {
                        Some(t) => kw.scan(lowered(&t, low), &mut |n| {
                            needle_hit(n, &self.needle_any[n], &mut unlock)
                        }),
                        None => kw.scan_event(ev, joined, &mut |n| {
                            needle_hit(n, &self.needle_any[n], &mut unlock)
                        }),
                    }
                }
                let mut scan = |f: usize, text: &str| {
                    let l = lowered(text, low);
                    self.fields[f].scan(l, rev, &mut |x| list_hit(x, &mut unlock));
                };
                if let Some(fe) = ev.as_flat() {
                    // Which field each rule field reads depends only on
                    // the event's field names: resolved once per list of
                    // names (`FlatFields`), not by one `get` per path.
                    for &(f, at) in flat.resolve(fe, &self.field_paths) {
                        match at {
                            PARAMS => fe.params.iter().for_each(|p| scan(f as usize, p)),
                            i => scan(f as usize, fe.fields[i as usize].1),
                        }
                    }
                } else {
                    for (f, paths) in self.field_paths.iter().enumerate() {
                        if let Some(v) = paths.iter().find_map(|p| ev.get(p)) {
                            value_texts(&v, &mut |text| scan(f, text));
                        }
                    }
                }
            }
            None => {
                let whole = self.whole();
                whole.scan_event(ev, joined, &mut |n| {
                    needle_hit(n, &self.needle_rules[n], &mut unlock)
                })
            }
            Some(t) => {
                if n_any == usize::MAX {
                    self.all_any().scan_event(ev, joined, &mut |n| {
                        needle_hit(n, &self.needle_any[n], &mut unlock)
                    });
                } else if n_any > 0 {
                    joined_texts(ev, joined);
                    for scan in any.iter().flatten() {
                        scan.scan(joined, &mut |n| needle_hit(n, &self.needle_any[n], &mut unlock));
                    }
                }
                // The members `Slots::resolve` matched to paths (one pass
                // over the tape's index, shared with matching), each
                // scanned for the needles of the fields it stands for.
                for &(p, node) in &found {
                    let here = &self.pid_fields[p as usize];
                    if here.is_empty() {
                        continue;
                    }
                    t.node_texts(node, |text| {
                        // A (path, text) pair seen before unlocks what its
                        // scans unlocked then (`valmemo`).
                        let tb = text.as_bytes();
                        let mut keep = None;
                        if memo.is_on() && tb.len() <= MAX_TEXT {
                            let h = ValueMemo::hash(p, tb);
                            match memo.lookup(p, tb, h) {
                                Probe::Kept(i) => {
                                    for &x in memo.hits(i) {
                                        list_hit(x, &mut unlock);
                                    }
                                    return;
                                }
                                Probe::SeenOnce(i) => keep = Some((i, h)),
                                Probe::New(i) => memo.mark(i, h),
                            }
                        }
                        let l = lowered(text, low);
                        hits.clear();
                        for &f in here {
                            self.fields[f as usize].scan(l, rev, &mut |x| {
                                hits.push(x);
                                list_hit(x, &mut unlock);
                            });
                        }
                        if let Some((i, h)) = keep {
                            // A list found twice is replayed once.
                            hits.sort_unstable();
                            hits.dedup();
                            memo.record(i, p, tb, h, hits);
                        }
                    });
                }
            }
        }
        slots.put_found(found);
        // The rules' other clauses: each must have had a needle found.
        let whole_scan = by_field.is_none() && !by_get;
        list.retain(|&r| {
            self.more[r].iter().all(|clause| {
                clause.iter().any(|sat| {
                    if sat.list == NONE || whole_scan {
                        needle_seen[sat.needle as usize] == stamp
                    } else {
                        list_seen[sat.list as usize] == stamp
                    }
                })
            })
        });
        for (g, rules) in self.always.iter().enumerate() {
            if !rules.is_empty() && slots.group(ev, plan, g as u32) {
                list.extend_from_slice(rules);
            }
        }
        list.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::{push_lowered, regex_needles};
    use proptest::prelude::*;

    fn needles(re: &str) -> Option<Vec<String>> {
        regex_needles(&regex::Regex::new(re).unwrap())
    }

    /// The slow twin of the soundness claim: wherever `re` matches `text`,
    /// the lowercased text holds one of the needles.
    fn sound(re: &str, text: &str) -> Result<(), TestCaseError> {
        let r = regex::Regex::new(re).unwrap();
        if let (Some(ns), true) = (regex_needles(&r), r.is_match(text)) {
            let mut low = String::new();
            push_lowered(&mut low, text);
            prop_assert!(
                ns.iter().any(|n| low.contains(n.as_str())),
                "{re:?} matches {text:?} but {low:?} holds none of {ns:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn required_literals_of_sigma_regexes() {
        // Inner literals, not only prefixes.
        assert_eq!(needles(r"\w+`(?:\w+|-|.)`[\w+|\s]"), Some(vec!["`".to_string()]));
        assert_eq!(
            needles(r#"(?i)\.exe[\"\']?\s+[^\"]{0,64}werfaultsecure\.exe[\"\']?\s+\d{2,10}"#),
            // `s` is not a needle letter under `(?i)`: `ſ` matches it and
            // lowercases to itself.
            Some(vec!["ecure.exe".to_string()])
        );
        // An alternation inside: one of its branches' literals.
        assert_eq!(
            needles(r"(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&.*"),
            Some(vec![
                "environment".to_string(),
                "invoke".to_string(),
                "input".to_string()
            ])
        );
        assert_eq!(needles(r"(?i)\bs\b.*&&"), Some(vec!["&&".to_string()]));
        // `(?i)k` matches the Kelvin sign, which lowercases to `k`.
        assert_eq!(needles(r"(?i)kk"), Some(vec!["kk".to_string()]));
        // Nothing required: no needle.
        assert_eq!(needles(r"\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}"), None);
        assert_eq!(needles(r"(?:abc)?d*"), None);
        assert_eq!(needles(r"abc|\d"), None);
    }

    #[test]
    fn required_literals_hold_on_case_folded_texts() {
        for (re, text) in [
            (r"(?i)werfaultsecure\.exe", "WERFAULTſECURE.EXE"),
            (r"(?i)kk", "\u{212A}K"),
            (r"(?i)invoke-expression", "INVOKE-EXPRESSION"),
            (r"İstanbul", "İstanbul"),
            (r"(?i)straße", "STRASSE"),
        ] {
            sound(re, text).unwrap();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Generated regexes over a few letters (cased and `(?i)`), with
        /// classes, alternations, repetitions and groups, on generated
        /// texts with the letters' case foldings: a match always leaves a
        /// needle in the lowercased text.
        #[test]
        fn required_literals_are_in_every_match(
            flags in proptest::sample::select(vec!["", "(?i)"]),
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "b", "s", "k", "ab", "sk", "[aA]", "[ab]", "\\.", "x+", "(?:ab|ba)",
                    "(?:s|k)", "(?:ab)?", "b*", "(?:ks){1,2}", "\\w", ".", "(?:a|b|)",
                ]),
                1..6,
            ),
            text in "[abskABSKſ\u{212A}. x]{0,16}",
        ) {
            let re = format!("{flags}{}", parts.concat());
            sound(&re, &text)?;
        }
    }
}
