//! Saved template state: a versioned JSON document holding every template
//! (the live ones with their counts and examples, the merged-away ones with
//! the live template they ended in, in creation order: what matching needs
//! to give each line the template the mining run gave it), the miner
//! config, and a [`StateContext`] saying how lines were split into header
//! and content. Its size grows with the templates, never with the lines:
//! line keys are not saved (the hot-key cache starts empty and refills).
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
        let other = br#"{"format":"x","version":9,"config":{"merge_threshold":3},"templates":[],"keys":[]}"#;
        assert!(matches!(Miner::load(&other[..]), Err(StateError::Version { .. })));
    }
}
