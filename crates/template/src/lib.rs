//! Template mining for logsieve: turns the content of a log line into a
//! template with typed variables (`Deleting block <*> file <*>` plus
//! `["blk_-42", "/data/1"]`).
//!
//! The flow for one line is [`mask_line`] (tokenize, detect variables, hash
//! the masked tokens into a key) then [`Miner::learn`] (online mining) or
//! [`Miner::lookup`] (read-only matching). Key invariants:
//!
//! - One default configuration ([`MinerConfig::default`]) serves every log;
//!   no rule here knows any particular log.
//! - A line gets the oldest template (live or merged away) that takes it,
//!   followed to the live template it was merged into; a line no template
//!   takes starts a new one. Once a key has a template, its answer never
//!   changes, so [`Miner::lookup`] after mining agrees with learning.
//!   Only [`Miner::evict_to`] removes templates (least recently used first,
//!   with those merged into them); the miner left is the one a state of the
//!   templates kept would load into, and the rule holds over those.
//! - [`ClusterId`]s are valid until the next `evict_to` that evicts
//!   something; [`TemplateId`]s are stable. Merges of templates already
//!   handed out are queued for [`Miner::take_merges`].
//! - Memory grows with the number of templates, never with the number of
//!   distinct lines: a bounded hot-key cache
//!   ([`MinerConfig::cache_keys`]) makes a repeated line one hash probe,
//!   and a miss is a search of the template indices (one probe per
//!   variable layout of that length), not of the templates. The template
//!   a line gets never depends on what the cache holds. A long-lived miner
//!   bounds its templates with [`Miner::evict_to`].
//! - The saved state ([`Miner::save_with_context`]) holds the templates,
//!   never the keys, and records the header setting and miner config it
//!   was made with ([`Miner::load_checked`] refuses a mismatch).
//! - Mining is deterministic: the same lines in the same order give the same
//!   templates. Masking is a pure function of the line, so it can run on any
//!   thread; only [`Miner::learn`] is sequential. The token memo a
//!   [`MaskedLine`] keeps (tokens that needed the general rules, replayed
//!   when they come again) changes the cost, never the result.
//! - A template's [`TemplateId`] is derived from its text.
//!
//! ```
//! use logsieve_template::{mask_line, MaskedLine, Miner, MinerConfig};
//! let mut miner = Miner::new(MinerConfig::default());
//! let mut line = MaskedLine::default();
//! let content = "PacketResponder 1 for block blk_38865049064139660 terminating";
//! mask_line(content, &mut line);
//! let t = miner.learn(&line, content);
//! assert_eq!(miner.template_text(t), "PacketResponder <*> for block <*> terminating");
//! let mut params = Vec::new();
//! miner.params(t, content, &line, &mut params);
//! assert_eq!(params[1].of(content), "blk_38865049064139660");
//! ```
#![deny(missing_docs)]

mod cache;
mod id;
pub mod kind;
mod mask;
mod miner;
mod state;

pub use id::TemplateId;
pub use kind::VarKind;
pub use mask::{mask_line, rebuild_masked, var_kinds, MaskedLine, MaskedToken, Span, VAR};
pub use miner::{ClusterId, Evicted, Miner, MinerConfig, TemplateMerge, TemplateSummary, DEFAULT_CACHE_KEYS};
pub use state::{StateContext, StateError, STATE_FORMAT, STATE_VERSION};
