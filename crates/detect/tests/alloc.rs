//! No allocation per event on the hot path: once the reused buffers have
//! grown, decoding a Windows event into the flat table and running every
//! Windows rule on it allocates nothing unless a rule matches (an alert
//! owns its strings).

// Counting allocations needs a global allocator, an `unsafe` trait; this
// one only counts and forwards every call to the system allocator.
#![allow(unsafe_code)]

use logsieve_detect::{Detector, JsonTape, Mapping, Scratch};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn no_allocation_per_event_without_a_match() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let d = Detector::load(&[root.join("sigma-rules/windows")], Mapping::builtin("windows")).unwrap();
    // The regression events, made harmless: every EventData string
    // replaced by benign text (the System part, and so the dispatch and
    // the fields read, stay those of real events).
    let mut lines = Vec::new();
    for e in std::fs::read_dir(root.join("sigma-regression")).unwrap() {
        let p = e.unwrap().path().join("event.json");
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            let mut v = v.unwrap();
            if let Some(data) = v["Event"]["EventData"].as_object_mut() {
                for (k, x) in data.iter_mut() {
                    if x.is_string() {
                        *x = format!("C:\\Program Files\\Vendor\\{}.exe", k.to_lowercase()).into();
                    }
                }
            }
            lines.push(serde_json::to_string(&v).unwrap());
        }
    }
    assert_eq!(lines.len(), 25);
    let mut tape = JsonTape::default();
    let mut s = Scratch::default();
    let run = |tape: &mut JsonTape, s: &mut Scratch| {
        for (i, l) in lines.iter().enumerate() {
            let ev = tape.parse(l.as_bytes()).expect("decoded");
            let hits = d.evaluate(&ev, i as u64 + 1, "t", s);
            assert!(
                hits.is_empty(),
                "{l} matched {:?}",
                hits[0].alert.as_ref().map(|a| &a.title)
            );
        }
    };
    // Warm up: the reused buffers grow to their size.
    run(&mut tape, &mut s);
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..10 {
        run(&mut tape, &mut s);
    }
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(n, 0, "{n} allocations over 250 events");
}
