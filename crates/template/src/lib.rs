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
//! - Matching a known line is one hash probe: its cost does not grow with
//!   the number of templates.
//! - Mining is deterministic: the same lines in the same order give the same
//!   templates. Masking is a pure function of the line, so it can run on any
//!   thread; only [`Miner::learn`] is sequential.
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

mod id;
pub mod kind;
mod mask;
mod miner;
mod state;

pub use id::TemplateId;
pub use kind::VarKind;
pub use mask::{mask_line, var_kinds, MaskedLine, MaskedToken, Span, VAR};
pub use miner::{ClusterId, Miner, MinerConfig, TemplateSummary};
pub use state::{StateError, STATE_FORMAT, STATE_VERSION};
