//! Saved template state: a versioned JSON document holding the live
//! templates and the keys seen, so a later run (or `--match-only`)
//! reproduces the same assignments and ids.

use crate::miner::{Miner, MinerConfig};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// The format tag written in every state file.
pub const STATE_FORMAT: &str = "logsieve-template-state";
/// The current version of the state format.
pub const STATE_VERSION: u32 = 1;

/// Why a state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The document is not valid JSON or misses fields.
    #[error("template state is not valid: {0} (was it written by logsieve?)")]
    Invalid(#[from] serde_json::Error),
    /// The document is of another kind or version.
    #[error("template state has format {format:?} version {version}; this logsieve reads {STATE_FORMAT:?} version {STATE_VERSION}")]
    Version {
        /// Format found.
        format: String,
        /// Version found.
        version: u32,
    },
    /// Reading or writing failed.
    #[error("template state I/O: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Serialize, Deserialize)]
struct SavedTemplate {
    tokens: Vec<String>,
    count: u64,
    example: String,
}

#[derive(Serialize, Deserialize)]
struct SavedState {
    format: String,
    version: u32,
    config: MinerConfig,
    templates: Vec<SavedTemplate>,
    /// `[key hash as 32 hex digits, template index]`.
    keys: Vec<(String, u32)>,
}

impl Miner {
    /// Writes the miner's state as JSON.
    pub fn save<W: Write>(&self, mut w: W) -> Result<(), StateError> {
        let (live, keys) = self.export();
        let doc = SavedState {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            config: self.config().clone(),
            templates: live
                .into_iter()
                .map(|(tokens, count, example)| SavedTemplate {
                    tokens,
                    count,
                    example,
                })
                .collect(),
            keys: keys.into_iter().map(|(k, c)| (format!("{k:032x}"), c)).collect(),
        };
        serde_json::to_writer(&mut w, &doc)?;
        w.write_all(b"\n")?;
        Ok(())
    }

    /// Reads a state written by [`Miner::save`].
    pub fn load<R: Read>(r: R) -> Result<Miner, StateError> {
        let doc: SavedState = serde_json::from_reader(r)?;
        if doc.format != STATE_FORMAT || doc.version != STATE_VERSION {
            return Err(StateError::Version {
                format: doc.format,
                version: doc.version,
            });
        }
        let mut keys = Vec::with_capacity(doc.keys.len());
        for (k, c) in doc.keys {
            let k = u128::from_str_radix(&k, 16)
                .map_err(|e| StateError::Invalid(serde::de::Error::custom(format!("bad key {k:?}: {e}"))))?;
            keys.push((k, c));
        }
        let templates = doc
            .templates
            .into_iter()
            .map(|t| (t.tokens, t.count, t.example))
            .collect();
        Ok(Miner::import(doc.config, templates, keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{mask_line, MaskedLine};

    #[test]
    fn round_trip_keeps_ids() {
        let lines = ["a b user=x 1", "a b user=y 2", "a b user=z 3", "b 4"];
        let mut m = Miner::new(MinerConfig { merge_threshold: 3 });
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
