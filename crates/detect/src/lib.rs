//! Detection for logsieve: Sigma rules (and Sigma v2 correlation rules)
//! compiled once into one matcher and run over events, raising alerts with
//! the rule's level as severity.
//!
//! Key invariants:
//! - A rule either loads or is rejected with a stated reason
//!   ([`Detector::rejections`]); anything unsupported (a modifier, a regex
//!   feature, an aggregation) rejects that rule, never silently matches or
//!   misses. A bad rule never stops the others from loading.
//! - The fast path never changes a result: rules are dispatched on their
//!   logsource (a group's condition decided once per event), and the
//!   Aho-Corasick prefilter only skips rules that cannot match: every rule
//!   it skips needs a literal that its field's value (or, for keywords and
//!   events not on a [`JsonTape`], the event) does not contain. Tests
//!   compare it with evaluating every rule with its logsource
//!   ([`Detector::matching_rules_brute_force`]).
//! - [`TapeEvent`] (a JSON line decoded into reused buffers, no
//!   allocation per event) answers exactly what [`JsonEvent`] answers for
//!   the same JSON; a line it does not take on is left to `serde_json`.
//! - Matching is case-insensitive unless `cased`; `re` is case-sensitive
//!   unless `re|i`.
//! - Keyword searches look at the event's `message`, else `raw` (else
//!   every text value); field names go through the [`Mapping`] when one is
//!   given (candidate paths, first present wins), and a rule whose
//!   logsource the mapping cannot express is rejected.
//! - Sigma meta filters only take matches away (`rule and not filter`), so
//!   the prefilter stays sound; [`Pipeline`]s (pySigma processing
//!   pipelines) act when rules are compiled, and one the engine cannot
//!   honour fails to load with the reason instead of applying in part.
//! - Correlations run on event time in input order ([`Correlator::feed`]);
//!   their state is bounded ([`correlation::MAX_GROUPS`] groups per
//!   correlation, evictions counted), and windows decided at window end
//!   (`lt`/`lte`/`eq`, and the value_sum/avg/median/percentile metrics)
//!   are settled by [`Correlator::flush`] at the end of the stream; a
//!   chained correlation is fed the alerts of the correlations it names.
//!
//! ```
//! use logsieve_detect::{Detector, FlatEvent, Scratch};
//! let d = Detector::from_yaml(r#"
//! title: Root login
//! id: 11111111-2222-3333-4444-555555555555
//! level: high
//! logsource: {product: linux}
//! detection:
//!   keywords: ['session opened for user root']
//!   condition: keywords
//! "#, None).unwrap();
//! let mut ev = FlatEvent::default();
//! ev.push("message", "pam_unix(su:session): session opened for user root by (uid=0)");
//! let hits = d.evaluate(&ev, 7, "auth.log", &mut Scratch::default());
//! assert_eq!(&*hits[0].alert.as_ref().unwrap().level, "high");
//! assert_eq!(hits[0].alert.as_ref().unwrap().line, 7);
//! ```
#![deny(missing_docs)]

#[cfg(test)]
mod tests {
    /// The detector is shared between threads (each with its own Scratch).
    #[test]
    fn detector_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Detector>();
    }
}

mod alert_json;
mod condition;
pub mod correlation;
mod detector;
mod dispatch;
mod event;
mod mapping;
mod normalize;
mod overlap;
mod pipeline;
mod prefilter;
mod rule;
mod tape;
mod time;
mod time_text;
mod valmemo;
pub mod value;

pub use alert_json::JsonPrefix;
pub use condition::{parse_condition, Cond};
pub use correlation::Correlator;
pub use detector::{Alert, Detector, Hit, LoadOptions, Rejection, Scratch};
pub use event::{format_num, Event, FieldValue, FlatEvent, JsonEvent};
pub use mapping::{Logsource, Mapping};
pub use normalize::add_spaceless_keys;
pub use pipeline::Pipeline;
pub use rule::{placeholders_from_yaml, Correlation, CorrelationKind, Filter, Placeholders, Rule, Selection};
pub use tape::{JsonTape, TapeEvent};
pub use time::parse_time;
pub use time_text::TimeText;

use std::path::PathBuf;

/// Why rules or a mapping could not be loaded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DetectError {
    /// A path could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Invalid YAML.
    #[error("{path}{}: invalid YAML: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The line, when known.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// An invalid mapping.
    #[error("mapping {origin}: {message}")]
    Mapping {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
}
