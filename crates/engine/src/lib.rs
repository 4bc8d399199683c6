//! The logsieve pipeline: source → framing → header → template → sink, in
//! batches across threads.
//!
//! A reader thread frames bytes into numbered [`LineBatch`]es and sends
//! them through a bounded channel; at most a fixed number of batches per
//! thread exist at once (backpressure: memory stays bounded whatever the
//! input size). Workers do the per-line work (decode, header, masking,
//! matching, rendering) on batches as they come; the calling thread takes
//! the results back in input order for the sequential step (learning,
//! writing), so output is byte-identical for any thread count. Mining new
//! templates is the one sequential step, and it sees lines in input order.
//!
//! Files are processed in two passes (mine everything, then report every
//! line with the final templates), streams in one (each line reported with
//! the template known when it arrived). Pass one keeps what it masked (keys
//! and variable spans, up to a memory budget) so that pass two rebuilds
//! those lines instead of masking them again; the output is the same.
//!
//! Invariant: every framed line is accounted for: it is written to the
//! output, flagged or not, and counted in [`Stats`].

mod batch;
mod memo;
mod pipeline;
mod record;
mod stream;

pub use batch::BatchScratch;
pub use pipeline::{
    Engine, EngineError, Latency, NoObserver, Observer, Options, OutputFormat, ProgressFn, RecordView,
};
pub use record::{LineFlags, Stats};
pub use stream::{Opener, StreamControl, StreamInput, StreamOutcome};

pub use logsieve_framing::LineBatch;
