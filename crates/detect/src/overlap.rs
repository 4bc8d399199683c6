//! Every pattern occurrence in a text, as `AhoCorasick`'s overlapping
//! search reports it, by one loop over the concrete automaton.
//!
//! The prefilter asks each field value which of thousands of needles it
//! holds. Through `AhoCorasick::find_overlapping_iter` every byte costs a
//! call through the automaton's trait object and a round trip through an
//! `OverlappingState` in memory (some 20 instructions a byte, measured);
//! here the automaton's type is known, so its transition is inlined and
//! the state lives in a register. The walk is the one `aho-corasick`'s
//! own overlapping search does (same start state, same prefilter skips
//! from the start state, every pattern of a match state reported), and
//! the tests compare the two on generated needles and texts.

use aho_corasick::automaton::Automaton;
use aho_corasick::{dfa, nfa, Anchored, MatchKind, Span, StartKind};

/// An automaton over needles: a DFA, or for many needles a contiguous NFA
/// (a DFA over thousands of needles takes long to build and is too big
/// for the caches).
#[derive(Debug)]
pub(crate) enum Overlapping {
    Dfa(dfa::DFA, Anchored),
    Nfa(nfa::contiguous::NFA, Anchored),
}

/// Needle sets of this many or more get a contiguous NFA (measured faster
/// overall on the SigmaHQ Windows set).
const DFA_MAX: usize = 1000;

impl Overlapping {
    /// An automaton over `pats` (`None` when there are none); `anchored`:
    /// only occurrences starting at the start of the text are reported.
    pub(crate) fn new<P: AsRef<[u8]>>(pats: &[P], anchored: bool) -> Option<Overlapping> {
        if pats.is_empty() {
            return None;
        }
        let a = if anchored { Anchored::Yes } else { Anchored::No };
        Some(if pats.len() >= DFA_MAX {
            Overlapping::Nfa(big_nfa(pats), a)
        } else {
            let dfa = dfa::Builder::new()
                .match_kind(MatchKind::Standard)
                .start_kind(if anchored {
                    StartKind::Anchored
                } else {
                    StartKind::Unanchored
                })
                .build(pats)
                .expect("literal needles build an automaton");
            Overlapping::Dfa(dfa, a)
        })
    }

    /// Calls `hit(pattern, end)` for every occurrence of a pattern in
    /// `hay` (anchored: starting at 0), in the order of the overlapping
    /// search: by end, then as the match state lists them.
    #[inline]
    pub(crate) fn for_each(&self, hay: &[u8], hit: &mut dyn FnMut(usize, usize)) {
        match self {
            Overlapping::Dfa(a, anchored) => walk(a, *anchored, hay, hit),
            Overlapping::Nfa(a, anchored) => walk(a, *anchored, hay, hit),
        }
    }
}

/// States this close to the start are dense (a transition is one lookup,
/// not a search of the state's few transitions): the text's bytes spend
/// most of their time near the start (aho-corasick's default is 2).
const NFA_DENSE_DEPTH: usize = 4;

/// The contiguous NFA over many needles.
fn big_nfa<P: AsRef<[u8]>>(pats: &[P]) -> nfa::contiguous::NFA {
    nfa::contiguous::Builder::new()
        .match_kind(MatchKind::Standard)
        .dense_depth(NFA_DENSE_DEPTH)
        .build(pats)
        .expect("literal needles build an automaton")
}

/// `aho_corasick::automaton::try_find_overlapping_fwd`, every match at
/// once instead of one per call.
#[inline]
fn walk<A: Automaton>(aut: &A, anchored: Anchored, hay: &[u8], hit: &mut dyn FnMut(usize, usize)) {
    let Ok(mut sid) = aut.start_state(anchored) else {
        return;
    };
    let mut report = |sid, end| {
        for i in 0..aut.match_len(sid) {
            hit(aut.match_pattern(sid, i).as_usize(), end);
        }
    };
    // An empty pattern matches at the start.
    if aut.is_match(sid) {
        report(sid, 0);
    }
    // Searches with an anchor never use the prefilter (as in aho-corasick).
    let pre = match anchored {
        Anchored::No => aut.prefilter(),
        _ => None,
    };
    let mut at = 0;
    while at < hay.len() {
        sid = aut.next_state(anchored, sid, hay[at]);
        if aut.is_special(sid) {
            if aut.is_dead(sid) {
                return;
            } else if aut.is_match(sid) {
                report(sid, at + 1);
            } else if let Some(pre) = pre {
                // A start state (special only with a prefilter): skip to
                // where a match may start.
                match pre.find_in(hay, Span::from(at..hay.len())).into_option() {
                    None => return,
                    Some(i) if i > at => {
                        at = i;
                        continue;
                    }
                    Some(_) => {}
                }
            }
        }
        at += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::automaton::OverlappingState;
    use aho_corasick::{AhoCorasick, AhoCorasickKind, Input};
    use proptest::prelude::*;

    /// The slow twin: `AhoCorasick`'s own overlapping search over the same
    /// needles, built as the prefilter built them before.
    fn twin(pats: &[Vec<u8>], anchored: bool, kind: AhoCorasickKind, hay: &[u8]) -> Vec<(usize, usize)> {
        let ac = AhoCorasick::builder()
            .kind(Some(kind))
            .start_kind(if anchored {
                StartKind::Anchored
            } else {
                StartKind::Unanchored
            })
            .build(pats)
            .unwrap();
        let mut out = Vec::new();
        let input = Input::new(hay).anchored(if anchored { Anchored::Yes } else { Anchored::No });
        let mut state = OverlappingState::start();
        loop {
            ac.find_overlapping(input.clone(), &mut state);
            match state.get_match() {
                Some(m) => out.push((m.pattern().as_usize(), m.end())),
                None => break,
            }
        }
        out
    }

    fn fast(pats: &[Vec<u8>], anchored: bool, nfa: bool, hay: &[u8]) -> Vec<(usize, usize)> {
        let a = if anchored { Anchored::Yes } else { Anchored::No };
        let o = if nfa {
            Overlapping::Nfa(big_nfa(pats), a)
        } else {
            Overlapping::new(pats, anchored).unwrap()
        };
        let mut out = Vec::new();
        o.for_each(hay, &mut |p, e| out.push((p, e)));
        out
    }

    fn check(pats: &[Vec<u8>], hay: &[u8]) {
        for anchored in [false, true] {
            let dfa = fast(pats, anchored, false, hay);
            assert_eq!(
                dfa,
                twin(pats, anchored, AhoCorasickKind::DFA, hay),
                "{pats:?} {hay:?}"
            );
            let nfa = fast(pats, anchored, true, hay);
            assert_eq!(
                nfa,
                twin(pats, anchored, AhoCorasickKind::ContiguousNFA, hay),
                "{pats:?} {hay:?}"
            );
        }
    }

    #[test]
    fn reports_what_the_overlapping_search_reports() {
        let pats: Vec<Vec<u8>> = [
            "c:\\windows\\",
            "windows",
            "\\cmd.exe",
            "cmd",
            "md.e",
            "s",
            "ss",
            "",
        ]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
        for hay in [
            "",
            "c:\\windows\\system32\\cmd.exe /c whoami",
            "sss",
            "nothing here",
            "cmdcmd.exe",
        ] {
            check(&pats, hay.as_bytes());
            check(&pats[..5], hay.as_bytes());
            check(&pats[1..2], hay.as_bytes());
        }
        // Few needles: a prefilter (memchr, Teddy) skips between matches.
        for n in [1, 2, 3, 10, 70] {
            let pats: Vec<Vec<u8>> = (0..n).map(|i| format!("k{i}x").into_bytes()).collect();
            check(&pats, b"..k1x....k0xk2x k69x k1xk1x");
        }
    }

    /// A match state of an anchored automaton also lists the patterns
    /// that are suffixes of its path, which start after the text does:
    /// over `\é` and `é\é\` reversed (`endswith` literals), the text
    /// `ax\\é\` read backwards goes `\`, `é`, `\` along reversed
    /// `é\é\`, and that state lists reversed `\é`, found at 1..4 by the
    /// anchored search (aho-corasick's own, and the walk). The text ends
    /// with neither literal: an anchored hit is where a needle may lie (a
    /// candidate for the prefilter, never a match), and the field tests'
    /// `startswith`/`endswith` lists are looked up without automata
    /// (`dispatch::Ends`).
    #[test]
    fn an_anchored_match_state_lists_patterns_that_start_later() {
        let pats: Vec<Vec<u8>> = ["\\é", "é\\é\\"]
            .iter()
            .map(|p| p.bytes().rev().collect())
            .collect();
        let hay: Vec<u8> = "ax\\\\é\\".bytes().rev().collect();
        check(&pats, &hay);
        assert_eq!(fast(&pats, true, false, &hay), [(0, 4)]);
        assert!(!"ax\\\\é\\".ends_with("\\é") && !"ax\\\\é\\".ends_with("é\\é\\"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn generated_needles_and_texts(
            pats in proptest::collection::vec("[abc\\\\é]{1,4}", 1..12),
            hay in "[abcx\\\\é]{0,40}",
        ) {
            let pats: Vec<Vec<u8>> = pats.into_iter().map(String::into_bytes).collect();
            check(&pats, hay.as_bytes());
        }
    }
}
