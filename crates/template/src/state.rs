//! Saved template state: a versioned JSON document holding every template
//! (the live ones with their counts and examples, the merged-away ones with
//! the live template they ended in, in creation order: what matching needs
//! to give each line the template the mining run gave it), the miner
//! config, and a [`StateContext`] saying how lines were split into header
//! and content. Its size grows with the templates, never with the lines:
//! line keys are not saved (the hot-key cache starts empty and refills).
//!
//! Recency is not saved either: a loaded miner's tick starts at 0 and every
//! loaded template counts as last seen at 0, so [`Miner::evict_to`] on it
//! drops the templates not used since loading first, oldest created first.
//! Merges queued for [`Miner::take_merges`] are not saved (take them
//! before saving). A miner after `evict_to` saves only what it kept.
//!
//! Version 1 documents (which also held every key seen) are still read:
//! their templates are kept and their keys ignored, since lines are
//! matched through the template indices; as they record no header setting,
//! [`Miner::load_checked`] only takes them with `force`.

use crate::miner::{Miner, MinerConfig};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// The format tag written in every state file.
pub const STATE_FORMAT: &str = "logsieve-template-state";
/// The current version of the state format (version 1 is still read).
pub const STATE_VERSION: u32 = 2;

/// What a state was made under, beside the miner config: recorded by
/// [`Miner::save_with_context`] and compared by [`Miner::load_checked`],
/// since a state made under another header setting matches no line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateContext {
    /// How lines were split into header and content, free-form; the CLI
    /// writes `format:<format string>`, `preset:<name>` or `whole-line`.
    /// Empty: not recorded ([`Miner::save`]).
    pub header: String,
}

impl StateContext {
    /// A context with this header setting.
    pub fn new(header: impl Into<String>) -> StateContext {
        StateContext {
            header: header.into(),
        }
    }
}

/// Why a state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The document is not valid JSON or misses fields.
    #[error("template state is not valid: {0} (was it written by logsieve?)")]
    Invalid(#[from] serde_json::Error),
    /// The document is of another kind or version.
    #[error("template state has format {format:?} version {version}; this logsieve reads {STATE_FORMAT:?} versions 1 to {STATE_VERSION}")]
    Version {
        /// Format found.
        format: String,
        /// Version found.
        version: u32,
    },
    /// The state was made under another header setting or miner config
    /// than the one asked for.
    #[error("template state was made with {saved}, but this run has {now}; lines would not match its templates (pass --force to use it anyway, with its miner config)")]
    Mismatch {
        /// The setting as saved (`header "..."`, `merge_threshold 8`).
        saved: String,
        /// The same setting in this run.
        now: String,
    },
    /// Reading or writing failed.
    #[error("template state I/O: {0}")]
    Io(#[from] std::io::Error),
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
struct SavedTemplate {
    tokens: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    count: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    example: String,
    /// For a template merged away: the index of the live one it ended in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    into: Option<u32>,
}

#[derive(Serialize)]
struct SavedState<'a> {
    format: &'a str,
    version: u32,
    context: &'a StateContext,
    config: &'a MinerConfig,
    templates: Vec<SavedTemplate>,
}

/// Any version, read leniently so that the version is checked before the
/// rest (a version 1 `keys` list is skipped unread).
#[derive(Deserialize)]
struct LoadedState {
    format: String,
    version: u32,
    #[serde(default)]
    context: Option<StateContext>,
    #[serde(default)]
    config: Option<MinerConfig>,
    #[serde(default)]
    templates: Option<Vec<SavedTemplate>>,
}

fn invalid(msg: impl std::fmt::Display) -> StateError {
    StateError::Invalid(serde::de::Error::custom(msg))
}

fn missing(field: &str) -> StateError {
    invalid(format_args!("missing field `{field}`"))
}

impl Miner {
    /// Writes the miner's state as JSON with an empty (unrecorded)
    /// context; see [`Miner::save_with_context`].
    pub fn save<W: Write>(&self, w: W) -> Result<(), StateError> {
        self.save_with_context(w, &StateContext::default())
    }

    /// Writes the miner's state as JSON, recording `context` and the
    /// miner config.
    pub fn save_with_context<W: Write>(&self, mut w: W, context: &StateContext) -> Result<(), StateError> {
        let doc = SavedState {
            format: STATE_FORMAT,
            version: STATE_VERSION,
            context,
            config: self.config(),
            templates: self
                .export()
                .into_iter()
                .map(|(tokens, count, example, into)| SavedTemplate {
                    tokens,
                    count,
                    example,
                    into,
                })
                .collect(),
        };
        serde_json::to_writer(&mut w, &doc)?;
        w.write_all(b"\n")?;
        Ok(())
    }

    /// Reads a state written by [`Miner::save`] or
    /// [`Miner::save_with_context`] (or a version 1 state), with the miner
    /// config it holds, checking nothing about how it was made.
    pub fn load<R: Read>(r: R) -> Result<Miner, StateError> {
        let (_, config, templates) = read(r)?;
        Miner::import(config, templates).map_err(invalid)
    }

    /// Reads a state and checks that it was made under `expected` and with
    /// the mining settings of `config` (its `merge_threshold`; the cache
    /// capacity changes no result and is not compared). A difference is a
    /// [`StateError::Mismatch`] naming the setting, unless `force`: then
    /// the state is used with its own miner config. A version 1 state
    /// records no header setting, so it is a mismatch unless `force`. The
    /// miner returned has the cache capacity of `config`.
    pub fn load_checked<R: Read>(
        r: R,
        expected: &StateContext,
        config: &MinerConfig,
        force: bool,
    ) -> Result<Miner, StateError> {
        let (context, saved, templates) = read(r)?;
        if !force {
            let saved_header = match &context {
                Some(c) => format!("header {:?}", c.header),
                None => "header unknown (a version 1 state records none)".to_string(),
            };
            if context.as_ref() != Some(expected) {
                return Err(StateError::Mismatch {
                    saved: saved_header,
                    now: format!("header {:?}", expected.header),
                });
            }
            if saved.merge_threshold != config.merge_threshold {
                return Err(StateError::Mismatch {
                    saved: format!("merge_threshold {}", saved.merge_threshold),
                    now: format!("merge_threshold {}", config.merge_threshold),
                });
            }
        }
        let config = MinerConfig {
            cache_keys: config.cache_keys,
            ..saved
        };
        Miner::import(config, templates).map_err(invalid)
    }
}

type Read3 = (Option<StateContext>, MinerConfig, Vec<crate::miner::SavedCluster>);

/// Parses any version; the context is `None` for version 1.
fn read<R: Read>(r: R) -> Result<Read3, StateError> {
    let doc: LoadedState = serde_json::from_reader(r)?;
    if doc.format != STATE_FORMAT || !(1..=STATE_VERSION).contains(&doc.version) {
        return Err(StateError::Version {
            format: doc.format,
            version: doc.version,
        });
    }
    let config = doc.config.ok_or_else(|| missing("config"))?;
    let templates = doc.templates.ok_or_else(|| missing("templates"))?;
    let context = match doc.version {
        1 => None,
        _ => Some(doc.context.ok_or_else(|| missing("context"))?),
    };
    let templates = templates
        .into_iter()
        .map(|t| {
            (
                t.tokens,
                t.count,
                t.example,
                if doc.version == 1 { None } else { t.into },
            )
        })
        .collect();
    Ok((context, config, templates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{mask_line, MaskedLine};
    use crate::miner::tests::random_word_lines;
    use crate::TemplateId;

    fn learn_all(m: &mut Miner, lines: &[String]) -> Vec<TemplateId> {
        let mut ml = MaskedLine::default();
        let ids: Vec<_> = lines
            .iter()
            .map(|l| {
                mask_line(l, &mut ml);
                m.learn(&ml, l)
            })
            .collect();
        m.finalize();
        ids.into_iter().map(|c| m.template_id(c)).collect()
    }

    fn lookup_all(m: &Miner, lines: &[String]) -> Vec<Option<TemplateId>> {
        let mut ml = MaskedLine::default();
        lines
            .iter()
            .map(|l| {
                mask_line(l, &mut ml);
                m.lookup(&ml).map(|c| m.template_id(c))
            })
            .collect()
    }

    fn saved(m: &Miner, header: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        m.save_with_context(&mut buf, &StateContext::new(header)).unwrap();
        buf
    }

    /// The bug: the state saved every key seen (195 MB for 3 templates).
    #[test]
    fn state_size_grows_with_templates_not_lines() {
        let lines = random_word_lines(200_000, 7);
        let mut m = Miner::new(MinerConfig::default());
        let ids = learn_all(&mut m, &lines);
        let buf = saved(&m, "whole-line");
        assert!(buf.len() < 1 << 20, "state of {} bytes", buf.len());
        let text = std::str::from_utf8(&buf).unwrap();
        assert!(!text.contains("\"keys\""));
        let m2 = Miner::load_checked(
            &buf[..],
            &StateContext::new("whole-line"),
            &MinerConfig::default(),
            false,
        )
        .unwrap();
        let back = lookup_all(&m2, &lines);
        assert!(back.iter().zip(&ids).all(|(b, i)| *b == Some(*i)), "ids kept");
        assert_eq!(m2.summaries(), m.summaries());
    }

    #[test]
    fn loaded_state_learns_on_as_the_original_would() {
        // Merged-away templates are saved too, so a loaded miner assigns
        // new lines as the miner that saved it would.
        // `p x q r` founds a template that merges into `p <*> q r` after
        // `<*> x <*> r` appeared: the line keeps going to the merge, not to
        // the older live template that also takes it.
        let mut first = random_word_lines(3_000, 1);
        first.extend(["p x q r", "5 x 6 r", "p y q r", "p z q r"].map(String::from));
        let mut then = random_word_lines(3_000, 2);
        then.extend(["p x q r", "9 x 9 r"].map(String::from));
        let config = MinerConfig {
            merge_threshold: 3,
            ..MinerConfig::default()
        };
        let mut m = Miner::new(config.clone());
        learn_all(&mut m, &first);
        let mut m2 = Miner::load(&saved(&m, "")[..]).unwrap();
        assert_eq!(m2.config(), &config);
        let ids = learn_all(&mut m, &then);
        assert_eq!(learn_all(&mut m2, &then), ids);
        assert_eq!(m2.summaries(), m.summaries());
        let mut ml = MaskedLine::default();
        mask_line("p x q r", &mut ml);
        let c = m.lookup(&ml).unwrap();
        assert_eq!(m.template_text(c), "p <*> q r");
        assert_eq!(ids[then.len() - 2], m.template_id(c));
    }

    /// The bug: a state reused under another `--format` silently matched
    /// no line.
    #[test]
    fn state_made_under_another_header_is_refused() {
        let lines = random_word_lines(500, 3);
        let config = MinerConfig {
            merge_threshold: 3,
            ..MinerConfig::default()
        };
        let mut m = Miner::new(config.clone());
        let ids = learn_all(&mut m, &lines);
        let buf = saved(&m, "format:<Date> <Content>");
        let other = StateContext::new("preset:syslog");
        let err = Miner::load_checked(&buf[..], &other, &config, false).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StateError::Mismatch { .. }));
        assert!(
            msg.contains("header \"format:<Date> <Content>\"") && msg.contains("preset:syslog"),
            "{msg}"
        );
        assert!(msg.contains("--force"), "{msg}");
        let forced = Miner::load_checked(&buf[..], &other, &config, true).unwrap();
        assert_eq!(
            lookup_all(&forced, &lines),
            ids.iter().map(|&i| Some(i)).collect::<Vec<_>>()
        );

        // Another merge threshold is a mismatch too; forced, the file's wins.
        let same = StateContext::new("format:<Date> <Content>");
        let now = MinerConfig {
            merge_threshold: 8,
            cache_keys: 16,
        };
        let err = Miner::load_checked(&buf[..], &same, &now, false).unwrap_err();
        assert!(
            err.to_string().contains("merge_threshold 3") && err.to_string().contains("merge_threshold 8")
        );
        let forced = Miner::load_checked(&buf[..], &same, &now, true).unwrap();
        assert_eq!(
            forced.config(),
            &MinerConfig {
                merge_threshold: 3,
                cache_keys: 16
            }
        );
        // The cache capacity changes no result, so it is not compared.
        let small = MinerConfig {
            cache_keys: 1,
            ..config
        };
        let m2 = Miner::load_checked(&buf[..], &same, &small, false).unwrap();
        assert_eq!(m2.config(), &small);
    }

    #[test]
    fn version_1_state_is_read_without_its_keys() {
        let v1 = br#"{"format":"logsieve-template-state","version":1,"config":{"merge_threshold":3},
            "templates":[{"tokens":["open","port","<*>"],"count":2,"example":"open port 22"},
                         {"tokens":["close"],"count":1,"example":"close"}],
            "keys":[["0000000000000000000000000000002a",0]]}"#;
        let m = Miner::load(&v1[..]).unwrap();
        assert_eq!(m.config().cache_keys, crate::DEFAULT_CACHE_KEYS);
        let lines: Vec<String> = ["open port 80", "close", "other"].map(String::from).to_vec();
        let got: Vec<Option<String>> = {
            let mut ml = MaskedLine::default();
            lines
                .iter()
                .map(|l| {
                    mask_line(l, &mut ml);
                    m.lookup(&ml).map(|c| m.template_text(c).to_string())
                })
                .collect()
        };
        assert_eq!(got, [Some("open port <*>".into()), Some("close".into()), None]);
        let ctx = StateContext::new("whole-line");
        let cfg = MinerConfig {
            merge_threshold: 3,
            ..MinerConfig::default()
        };
        let err = Miner::load_checked(&v1[..], &ctx, &cfg, false).unwrap_err();
        assert!(err.to_string().contains("version 1"), "{err}");
        assert!(Miner::load_checked(&v1[..], &ctx, &cfg, true).is_ok());
    }

    #[test]
    fn round_trip_keeps_ids() {
        let lines = ["a b user=x 1", "a b user=y 2", "a b user=z 3", "b 4"];
        let mut m = Miner::new(MinerConfig {
            merge_threshold: 3,
            ..MinerConfig::default()
        });
        let mut ml = MaskedLine::default();
        let mut ids = Vec::new();
        for l in lines {
            mask_line(l, &mut ml);
            ids.push(m.learn(&ml, l));
        }
        m.finalize();
        let mut buf = Vec::new();
        m.save(&mut buf).unwrap();
        let m2 = Miner::load(&buf[..]).unwrap();
        for (l, id) in lines.iter().zip(ids) {
            mask_line(l, &mut ml);
            let c = m2.lookup(&ml).expect("known line");
            assert_eq!(m2.template_id(c), m.template_id(id));
        }
        mask_line("a b user=w 9", &mut ml);
        assert!(m2.lookup(&ml).is_some(), "matched by the variable position");
        mask_line("never seen", &mut ml);
        assert!(m2.lookup(&ml).is_none());
    }

    #[test]
    fn bad_state_is_an_error() {
        assert!(matches!(Miner::load(&b"{}"[..]), Err(StateError::Invalid(_))));
        let no_context = br#"{"format":"logsieve-template-state","version":2,"config":{"merge_threshold":3},"templates":[]}"#;
        assert!(matches!(
            Miner::load(&no_context[..]),
            Err(StateError::Invalid(_))
        ));
        // A merged-away template must point at a live one.
        let bad_into = br#"{"format":"logsieve-template-state","version":2,"context":{"header":""},
            "config":{"merge_threshold":3},"templates":[{"tokens":["a"],"into":1},{"tokens":["b"],"into":0}]}"#;
        let err = Miner::load(&bad_into[..]).unwrap_err();
        assert!(matches!(err, StateError::Invalid(_)), "{err}");
        let other = br#"{"format":"x","version":9,"config":{"merge_threshold":3},"templates":[],"keys":[]}"#;
        assert!(matches!(Miner::load(&other[..]), Err(StateError::Version { .. })));
    }
}
