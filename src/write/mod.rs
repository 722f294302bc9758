//! The write path after the acknowledgement: compaction of hot rows into
//! Iceberg, recovery of a compaction cut short, and warehouse maintenance.

pub mod compaction;
pub mod files;
pub mod maintenance;
pub mod merge;
pub mod rewrite;

pub use compaction::{CompactionReport, compact_table};
pub use maintenance::{MaintenanceOptions, MaintenanceReport};
pub use merge::MergeReport;

/// Progress of long work (compaction, loads), shown by the CLI.
pub trait Progress: Send + Sync {
    fn begin(&self, _what: &str, _total: u64) {}
    fn advance(&self, _done: u64) {}
    fn finish(&self) {}
}

/// Progress that nobody watches.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
