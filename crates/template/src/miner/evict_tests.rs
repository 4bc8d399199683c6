//! Tests of eviction ([`Miner::evict_to`]) and merge events
//! ([`Miner::take_merges`]), with an internal consistency checker.

use super::tests::find_slow;
use super::*;
use crate::mask::mask_line;

impl Miner {
    /// Every internal structure agrees with the templates: parents lead to
    /// live templates, the live count is right, the exact and pattern
    /// indices are what loading these templates would build, every
    /// template with variables is in its shape bucket once (buckets in
    /// creation order), every live template is in all its one-apart
    /// groups, and no index or cache slot names a template that is not
    /// there.
    pub(crate) fn check_invariants(&self) {
        let n = self.clusters.len();
        let mut live = 0;
        for (i, cl) in self.clusters.iter().enumerate() {
            assert!(
                (cl.parent as usize) < n,
                "template {i}: parent {} of {n}",
                cl.parent
            );
            let mut r = i as u32;
            for _ in 0..=n {
                if self.clusters[r as usize].parent == r {
                    break;
                }
                r = self.clusters[r as usize].parent;
            }
            assert_eq!(self.clusters[r as usize].parent, r, "template {i}: parent cycle");
            live += usize::from(cl.parent == i as u32);
            assert_eq!(*cl.text, cl.tokens.join(" "), "template {i}");
            assert_eq!(cl.id, TemplateId::of(&cl.text), "template {i}");
            let h: Vec<u64> = cl.tokens.iter().map(|t| token_hash(t)).collect();
            assert_eq!(cl.hashes, h, "template {i}");
            assert!(cl.last_seen <= self.tick, "template {i}");
        }
        assert_eq!(self.live, live, "live count");

        let mut exact = FxHashMap::default();
        let mut patterns = FxHashMap::default();
        for (c, cl) in self.clusters.iter().enumerate() {
            exact
                .entry(xxhash_rust::xxh3::xxh3_128(cl.text.as_bytes()))
                .or_insert(c as u32);
            patterns.insert(hash_tokens(cl.tokens.iter().map(|t| Some(&**t))), c as u32);
        }
        assert_eq!(self.exact, exact, "exact index");
        assert_eq!(self.patterns, patterns, "pattern index");

        let mut in_shapes = 0;
        for (si, shape) in self.shapes.iter().enumerate() {
            assert!(!shape.positions.is_empty(), "shape {si} has no variable");
            assert!(!shape.by_rest.is_empty(), "shape {si} holds no template");
            for list in shape.by_rest.values() {
                assert!(
                    list.windows(2).all(|w| w[0] < w[1]),
                    "shape {si}: {list:?} not in creation order"
                );
                for &c in list {
                    assert!((c as usize) < n, "shape {si} holds {c} of {n}");
                    let cl = &self.clusters[c as usize];
                    assert_eq!(cl.wild_positions(), shape.positions, "template {c} in shape {si}");
                }
                in_shapes += list.len();
            }
        }
        let with_vars = self
            .clusters
            .iter()
            .filter(|c| !c.wild_positions().is_empty())
            .count();
        assert_eq!(in_shapes, with_vars, "templates in shape buckets");
        for (&(len, _), &si) in &self.shapes_by_len {
            assert!(si < self.shapes.len());
            assert!(
                self.shape_lists.get(&len).is_some_and(|l| l.contains(&si)),
                "shape {si}"
            );
        }
        let listed: usize = self.shape_lists.values().map(Vec::len).sum();
        assert_eq!(listed, self.shapes.len(), "shape lists");
        // The lookup lists are what the shapes' templates make them: per
        // length, the shapes whose first token is a variable; per length
        // and constant first token, the shapes with such a template.
        let mut var0: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
        let mut open: FxHashMap<(u32, u64), Vec<usize>> = FxHashMap::default();
        for (si, shape) in self.shapes.iter().enumerate() {
            for list in shape.by_rest.values() {
                for &c in list {
                    let cl = &self.clusters[c as usize];
                    let n = cl.tokens.len() as u32;
                    let to = match shape.positions[0] {
                        0 => var0.entry(n).or_default(),
                        _ => open.entry((n, token_hash(&cl.tokens[0]))).or_default(),
                    };
                    if !to.contains(&si) {
                        to.push(si);
                    }
                }
            }
        }
        let sorted = |mut l: Vec<usize>| {
            l.sort_unstable();
            l
        };
        let have_var0: FxHashMap<u32, Vec<usize>> = self
            .shape_var0
            .iter()
            .map(|(&k, l)| (k, sorted(l.clone())))
            .collect();
        let have_open: FxHashMap<(u32, u64), Vec<usize>> = self
            .shape_open
            .iter()
            .map(|(&k, l)| (k, sorted(l.to_vec())))
            .collect();
        let var0: FxHashMap<_, _> = var0.into_iter().map(|(k, l)| (k, sorted(l))).collect();
        let open: FxHashMap<_, _> = open.into_iter().map(|(k, l)| (k, sorted(l))).collect();
        assert_eq!(have_var0, var0, "shapes by variable first token");
        assert_eq!(have_open, open, "shapes by first token");
        assert_eq!(self.shapes_by_len.len(), self.shapes.len(), "shape keys");

        for group in self.wild.values() {
            assert!(group.iter().all(|&c| (c as usize) < n), "group {group:?} of {n}");
        }
        for c in 0..n as u32 {
            // Tail templates never merge by position: they are in no group.
            if self.clusters[c as usize].parent != c || self.clusters[c as usize].tail {
                continue;
            }
            for p in 0..self.clusters[c as usize].tokens.len() {
                let g = self.wild.get(&self.wild_key(c, p));
                assert!(
                    g.is_some_and(|g| g.contains(&c)),
                    "template {c} missing from group {p}"
                );
            }
        }
        for c in self.cache.held() {
            assert!((c as usize) < n, "cache holds {c} of {n}");
        }
    }

    /// Heap bytes held by the templates and indices (capacities, not
    /// lengths), the cache excluded (it is allocated once).
    fn heap_estimate(&self) -> usize {
        use std::mem::size_of;
        let mut b = self.clusters.capacity() * size_of::<Cluster>();
        for cl in &self.clusters {
            b += cl.tokens.capacity() * size_of::<Box<str>>();
            b += cl.tokens.iter().map(|t| t.len()).sum::<usize>();
            b += cl.hashes.capacity() * 8 + cl.text.len() + cl.example.len();
        }
        b += (self.exact.capacity() + self.patterns.capacity()) * 20;
        b += self.wild.capacity() * 40;
        b += self.wild.values().map(|g| g.capacity() * 4).sum::<usize>();
        b += self.shapes.capacity() * size_of::<Shape>();
        for s in &self.shapes {
            b += s.by_rest.capacity() * 40 + s.by_rest.values().map(|l| l.capacity() * 4).sum::<usize>();
        }
        b += self.merges.capacity() * size_of::<TemplateMerge>();
        b
    }
}

fn config(cache_keys: usize) -> MinerConfig {
    MinerConfig {
        merge_threshold: 3,
        cache_keys,
    }
}

fn learn(m: &mut Miner, ml: &mut MaskedLine, line: &str) -> ClusterId {
    mask_line(line, ml);
    m.learn(ml, line)
}

fn lookup_text(m: &Miner, line: &str) -> Option<String> {
    let mut ml = MaskedLine::default();
    mask_line(line, &mut ml);
    m.lookup(&ml).map(|c| m.template_text(c).to_string())
}

/// The regression the brief names: evicting a template that others were
/// merged into takes them along, leaves no trace in any index, and a line
/// of theirs is learned again as a new template.
#[test]
fn evicting_a_template_others_merged_into_takes_them_along() {
    let mut m = Miner::new(config(DEFAULT_CACHE_KEYS));
    let mut ml = MaskedLine::default();
    for l in ["login user=alice ok", "login user=bob ok"] {
        learn(&mut m, &mut ml, l);
    }
    assert!(m.take_merges().is_empty());
    let c = learn(&mut m, &mut ml, "login user=carol ok");
    assert_eq!(m.template_text(c), "login user=<*> ok");
    let merged = m.template_id(c);
    // alice and bob had been handed out; carol's template never was.
    assert_eq!(
        m.take_merges(),
        [
            TemplateMerge {
                from: TemplateId::of("login user=alice ok"),
                into: merged
            },
            TemplateMerge {
                from: TemplateId::of("login user=bob ok"),
                into: merged
            },
        ]
    );
    assert!(m.take_merges().is_empty(), "taken once");
    let disk = learn(&mut m, &mut ml, "disk sda full");
    let disk_id = m.template_id(disk);
    assert_eq!(m.clusters.len(), 5);
    assert_eq!(m.live_count(), 2);
    let g = m.generation();

    assert!(m.evict_to(2).is_empty(), "nothing to do at the cap");
    assert_eq!(m.generation(), g);
    let ev = m.evict_to(1);
    assert_eq!(
        ev,
        [Evicted {
            template_id: merged,
            template: "login user=<*> ok".into(),
            count: 3,
            example: "login user=alice ok".into(),
            last_seen: 3,
            still_live: false,
        }]
    );
    assert_eq!(m.generation(), g + 1);
    assert_eq!(m.live_count(), 1);
    assert_eq!(m.clusters.len(), 1, "the merged-away templates went too");
    m.check_invariants();
    assert_eq!(m.exact.len(), 1);
    assert_eq!(m.patterns.len(), 1);
    assert!(m.shapes.is_empty() && m.shapes_by_len.is_empty() && m.shape_lists.is_empty());
    assert!(m.shape_var0.is_empty() && m.shape_open.is_empty());
    assert_eq!(
        m.cache.held().collect::<Vec<_>>(),
        [0],
        "only disk's key is cached"
    );
    assert_eq!(lookup_text(&m, "login user=bob ok"), None);
    assert_eq!(lookup_text(&m, "disk sda full").as_deref(), Some("disk sda full"));
    let again = learn(&mut m, &mut ml, "login user=bob ok");
    assert_eq!(m.template_text(again), "login user=bob ok", "learned afresh");
    let d = learn(&mut m, &mut ml, "disk sda full");
    assert_eq!(m.template_id(d), disk_id);
    assert_eq!(m.template_count(d), 2);
    assert_eq!(m.last_seen(d), m.tick());
    m.check_invariants();
}

/// A chain `a → b` then `b → c` over two calls is two merges.
#[test]
fn merge_chains_are_reported_link_by_link() {
    let mut m = Miner::new(config(DEFAULT_CACHE_KEYS));
    let mut ml = MaskedLine::default();
    for l in ["job alpha state new", "job beta state new", "job gamma state new"] {
        learn(&mut m, &mut ml, l);
    }
    let b = TemplateId::of("job <*> state new");
    let first = m.take_merges();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|x| x.into == b));
    learn(&mut m, &mut ml, "job 17 state old");
    assert!(m.take_merges().is_empty(), "two values at the last position");
    // The third value merges `b` and `job <*> state old`, both handed out;
    // the line's own template never was.
    let c = learn(&mut m, &mut ml, "job 18 state done");
    assert_eq!(m.template_text(c), "job <*> state <*>");
    let to = m.template_id(c);
    let mut got = m.take_merges();
    got.sort_by_key(|x| x.from);
    let mut want = vec![
        TemplateMerge { from: b, into: to },
        TemplateMerge {
            from: TemplateId::of("job <*> state old"),
            into: to,
        },
    ];
    want.sort_by_key(|x| x.from);
    assert_eq!(got, want);
    m.check_invariants();
}

/// The brief's bound: a million distinct templates, evicted to 1,000
/// after every batch of 1,000 lines, hold what a few thousand templates
/// hold (internal capacities, not time).
/// Appends `i` written in the letters g..z: a word masking keeps.
fn push_letters(i: u32, out: &mut String) {
    let mut x = i;
    loop {
        out.push((b'g' + (x % 20) as u8) as char);
        x /= 20;
        if x == 0 {
            break;
        }
    }
}

#[test]
fn churn_of_a_million_templates_stays_bounded() {
    let keep = 1000;
    let mut m = Miner::new(MinerConfig::default());
    let mut ml = MaskedLine::default();
    let mut line = String::new();
    let mut after_first = 0;
    let mut evicted = 0usize;
    for i in 0..1_000_000u32 {
        // Words of letters g..z: constants, never masked.
        line.clear();
        push_letters(i, &mut line);
        // Two words, each unique to the line, so that no two templates are
        // one position apart (lone words would all share one group).
        let w = line.clone();
        line.push_str("xq ");
        line.push_str(&w);
        line.push_str("qx");
        learn(&mut m, &mut ml, &line);
        if i % 1000 == 999 {
            evicted += m.evict_to(keep).len();
            assert_eq!(m.live_count(), keep.min(i as usize + 1));
            assert_eq!(m.clusters.len(), m.live_count(), "nothing merges here");
            if after_first == 0 && i >= 1999 {
                after_first = m.heap_estimate();
            }
        }
    }
    m.check_invariants();
    assert_eq!(
        evicted,
        1_000_000 - keep,
        "every template a new one, evicted once"
    );
    assert!(
        m.clusters.capacity() <= 4 * keep,
        "{} slots",
        m.clusters.capacity()
    );
    assert!(m.exact.capacity() <= 8 * keep && m.patterns.capacity() <= 8 * keep);
    assert!(m.wild.capacity() <= 8 * keep, "{} groups", m.wild.capacity());
    assert!(m.merges.capacity() == 0);
    assert!(m.cache.len() <= DEFAULT_CACHE_KEYS);
    let end = m.heap_estimate();
    assert!(
        end <= 2 * after_first,
        "{end} bytes now, {after_first} after the first evictions"
    );
    assert!(end < 1 << 20, "{end} bytes for {keep} templates");
}

/// The regression of issue #8's steady run: a miner held at a cap (as
/// `logsieve serve` holds each source: over the cap, evict an eighth) had
/// its templates' vector and index tables rebuilt from nothing by every
/// eviction and regrown by doubling before the next, so its memory swung
/// by the size of those tables again and again. Once warm, an eviction
/// cycle now leaves their allocations as they were.
#[test]
fn eviction_at_the_cap_regrew_the_templates_and_their_indexes_every_time() {
    let (cap, keep) = (2000usize, 1750usize);
    let mut m = Miner::new(MinerConfig::default());
    let mut ml = MaskedLine::default();
    let mut seen: Vec<[usize; 4]> = Vec::new();
    for i in 0..40_000u32 {
        // Two words unique to the line, letters only (never masked).
        let mut w = String::new();
        push_letters(i, &mut w);
        learn(&mut m, &mut ml, &format!("task {w}xq q{w} finished"));
        if m.live_count() > cap {
            let before = [
                m.clusters.capacity(),
                m.exact.capacity(),
                m.patterns.capacity(),
                m.wild.capacity(),
            ];
            assert_eq!(m.evict_to(keep).len(), cap + 1 - keep);
            let after = [
                m.clusters.capacity(),
                m.exact.capacity(),
                m.patterns.capacity(),
                m.wild.capacity(),
            ];
            assert_eq!(after, before, "eviction {} kept the allocations", seen.len());
            seen.push(after);
        }
    }
    m.check_invariants();
    assert!(seen.len() > 100, "{} evictions", seen.len());
    // After the first cycles nothing grows any more either.
    assert!(seen[3..].iter().all(|c| *c == seen[3]), "{:?}", &seen[..6]);
    assert!(seen[3][0] <= 2 * (cap + 1), "{} template slots", seen[3][0]);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Learn(String),
        Evict(usize),
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "a", "b", "c", "user", "ok", "(x)", "()", "k=v", "k=w", "<*>"
            ])
            .prop_map(str::to_string),
            "[a-d]{1,3}",
            "[0-9]{1,3}",
            "[a-c]=[0-9a-c]{1,2}",
        ]
    }

    fn line() -> impl Strategy<Value = String> {
        let fill = prop_oneof!["[a-e]{1,2}", "[0-9]{1,3}"];
        prop_oneof![
            prop::collection::vec(token(), 0..5).prop_map(|t| t.join(" ")),
            (0usize..3, fill.clone(), fill).prop_map(|(t, x, y)| match t {
                0 => format!("user {x} logged in from {y}"),
                1 => format!("connection {x} closed"),
                _ => format!("job {x} state {y} done"),
            }),
        ]
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                10 => line().prop_map(Op::Learn),
                1 => (0usize..6).prop_map(Op::Evict),
            ],
            1..160,
        )
    }

    fn live_ids(m: &Miner) -> Vec<(u32, TemplateId)> {
        (0..m.clusters.len() as u32)
            .filter(|&c| m.clusters[c as usize].parent == c)
            .map(|c| (c, m.clusters[c as usize].id))
            .collect()
    }

    fn reload(m: &Miner) -> Miner {
        let mut buf = Vec::new();
        m.save(&mut buf).expect("saved");
        Miner::load(&buf[..]).expect("loaded")
    }

    /// Runs `ops` on a miner with the default cache, checked step by step
    /// against: the same miner without a cache (the cache never changes a
    /// result, evictions included); the slow template search; the LRU
    /// order computed by brute force; the merges seen by comparing live
    /// templates before and after each line; and a miner loaded from a
    /// state of what each eviction kept (the miner left by `evict_to` is
    /// the one loading its templates gives).
    fn check(ops: &[Op]) {
        let mut m = Miner::new(config(DEFAULT_CACHE_KEYS));
        let mut m0 = Miner::new(config(0));
        let mut twin: Option<Miner> = None;
        let mut ml = MaskedLine::default();
        let mut seen: Vec<String> = Vec::new();
        let mut evicted = 0u64;
        for op in ops {
            match op {
                Op::Learn(l) => {
                    let before = live_ids(&m);
                    mask_line(l, &mut ml);
                    let c = m.learn(&ml, l);
                    let slow = find_slow(&m, &ml).expect("a learned line has a template");
                    assert_eq!(m.find(&ml), Some(slow), "line {l:?}");
                    assert_eq!(m.root(slow), c.0, "line {l:?}");
                    let id = m.template_id(c);
                    assert_eq!(m.last_seen(c), m.tick());
                    let c0 = m0.learn(&ml, l);
                    assert_eq!(m0.template_id(c0), id, "cache-free twin, line {l:?}");
                    if let Some(t) = twin.as_mut() {
                        let tc = t.learn(&ml, l);
                        assert_eq!(t.template_id(tc), id, "loaded twin, line {l:?}");
                    }
                    // Merges: every template live before that is not now.
                    let mut want: Vec<TemplateMerge> = before
                        .iter()
                        .filter(|(c, _)| m.clusters[*c as usize].parent != *c)
                        .map(|&(c, from)| TemplateMerge {
                            from,
                            into: m.clusters[m.root(c) as usize].id,
                        })
                        .filter(|x| x.from != x.into)
                        .collect();
                    want.sort_by_key(|x| (x.from, x.into));
                    want.dedup();
                    let mut got = m.take_merges();
                    assert_eq!(m0.take_merges(), got, "cache-free twin's merges");
                    if let Some(t) = twin.as_mut() {
                        assert_eq!(t.take_merges(), got, "loaded twin's merges");
                    }
                    let n = got.len();
                    got.sort_by_key(|x| (x.from, x.into));
                    got.dedup();
                    assert_eq!(got.len(), n, "a merge reported twice");
                    assert_eq!(got, want, "merges of line {l:?}");
                    seen.push(l.clone());
                }
                Op::Evict(k) => {
                    let k = *k;
                    let mut order: Vec<(u64, u32)> = live_ids(&m)
                        .iter()
                        .map(|&(c, _)| (m.clusters[c as usize].last_seen, c))
                        .collect();
                    order.sort_unstable();
                    let drop = order.len().saturating_sub(k);
                    let gone: Vec<u32> = order[..drop].iter().map(|&(_, c)| c).collect();
                    let mut want_ids: Vec<TemplateId> =
                        gone.iter().map(|&c| m.clusters[c as usize].id).collect();
                    want_ids.sort_unstable();
                    want_ids.dedup();
                    let mut want_kept: Vec<(TemplateId, u64, u64)> = order[drop..]
                        .iter()
                        .map(|&(_, c)| {
                            let cl = &m.clusters[c as usize];
                            (cl.id, cl.count, cl.last_seen)
                        })
                        .collect();
                    want_kept.sort_unstable();
                    let answers: Vec<Option<(u32, TemplateId)>> = seen
                        .iter()
                        .map(|l| {
                            mask_line(l, &mut ml);
                            m.lookup(&ml).map(|c| (c.0, m.template_id(c)))
                        })
                        .collect();
                    let total_before: u64 = order.iter().map(|&(_, c)| m.clusters[c as usize].count).sum();

                    let ev = m.evict_to(k);
                    evicted += ev.iter().map(|e| e.count).sum::<u64>();
                    assert_eq!(m0.evict_to(k), ev, "cache-free twin evicts the same");
                    let mut got_ids: Vec<TemplateId> = ev.iter().map(|e| e.template_id).collect();
                    got_ids.sort_unstable();
                    assert_eq!(got_ids, want_ids, "evicted by recency");
                    assert!(ev.windows(2).all(|w| w[0].last_seen <= w[1].last_seen));
                    assert!(m.live_count() <= k);
                    assert_eq!(m.live_count(), order.len() - drop);
                    m.check_invariants();
                    m0.check_invariants();
                    let mut kept: Vec<(TemplateId, u64, u64)> = live_ids(&m)
                        .iter()
                        .map(|&(c, _)| {
                            let cl = &m.clusters[c as usize];
                            (cl.id, cl.count, cl.last_seen)
                        })
                        .collect();
                    kept.sort_unstable();
                    assert_eq!(kept, want_kept, "kept templates keep count and recency");
                    let total_after: u64 =
                        kept.iter().map(|x| x.1).sum::<u64>() + ev.iter().map(|e| e.count).sum::<u64>();
                    assert_eq!(total_after, total_before, "every line counted once");
                    for e in &ev {
                        assert_eq!(e.still_live, kept.iter().any(|x| x.0 == e.template_id));
                        assert_eq!(TemplateId::of(&e.template), e.template_id);
                    }
                    // Lines keep their template unless it was evicted; the
                    // others go to the oldest kept template taking them.
                    for (l, before) in seen.iter().zip(&answers) {
                        mask_line(l, &mut ml);
                        let slow = find_slow(&m, &ml);
                        assert_eq!(m.find(&ml), slow, "line {l:?}");
                        let now = m.lookup(&ml).map(|c| m.template_id(c));
                        assert_eq!(now, slow.map(|c| m.template_id(ClusterId(c))));
                        if let Some((c, id)) = before {
                            if !gone.contains(c) {
                                assert_eq!(now, Some(*id), "kept template of {l:?}");
                            }
                        }
                    }
                    let t = reload(&m);
                    assert_eq!(t.summaries(), m.summaries());
                    assert_eq!(t.live_count(), m.live_count());
                    twin = Some(t);
                }
            }
        }
        m.check_invariants();
        assert_eq!(m.summaries(), m0.summaries());
        let counted: u64 = m.summaries().iter().map(|s| s.count).sum::<u64>() + evicted;
        assert_eq!(counted, seen.len() as u64, "every line counted once");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn evictions_keep_the_miner_consistent(ops in ops()) {
            check(&ops);
        }
    }

    /// Without `evict_to`, the new bookkeeping changes nothing: the same
    /// lines give the same templates and counts as a loaded copy.
    #[test]
    fn no_eviction_no_renumbering() {
        let lines = super::super::tests::random_word_lines(2_000, 9);
        let mut m = Miner::new(config(DEFAULT_CACHE_KEYS));
        let mut ml = MaskedLine::default();
        for l in &lines {
            learn(&mut m, &mut ml, l);
        }
        m.check_invariants();
        assert_eq!(m.generation(), 0);
        assert_eq!(m.tick(), lines.len() as u64);
        assert!(m.evict_to(usize::MAX).is_empty());
        let merges = m.take_merges();
        assert!(!merges.is_empty(), "random words merge");
        assert_eq!(reload(&m).summaries(), m.summaries());
    }
}
