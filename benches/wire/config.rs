//! What the command line and environment asked of the wire benchmark.

use std::time::Duration;

use super::harness::{self, R, fail};

#[derive(Debug, Clone)]
pub struct WireConfig {
    /// Warm-up and measured runs, `--quick`, the groups asked for and the
    /// bench folder, in the form the shared harness's `pair` takes.
    pub pair: harness::Config,
    /// Single-row INSERTs per run.
    pub inserts: u64,
    /// Rows of the table point SELECTs look up.
    pub point_rows: u64,
    /// How long each point-SELECT run issues queries.
    pub window: Duration,
    /// Rows of the analytic table.
    pub analytic_rows: u64,
}

impl WireConfig {
    pub fn from_env_and_args() -> R<Self> {
        // `--explain` is accepted and has nothing to show here.
        let harness::Args { quick, only, .. } = harness::Args::parse()?;
        let number = harness::env_number;
        let inserts = number("THERMOCLINE_BENCH_SINGLE_ROWS", if quick { 300 } else { 5_000 })?;
        let point_rows = number("THERMOCLINE_BENCH_POINT_ROWS", 100_000)?;
        let window_ms = number("THERMOCLINE_BENCH_WINDOW_MS", if quick { 500 } else { 2_000 })?;
        let analytic_rows = number("THERMOCLINE_BENCH_ROWS", if quick { 100_000 } else { 1_000_000 })?;
        let runs = number("THERMOCLINE_BENCH_RUNS", if quick { 3 } else { 5 })? as usize;
        if inserts == 0 || point_rows < 100 || window_ms == 0 || analytic_rows < 1000 || runs == 0 {
            return Err(fail(
                "THERMOCLINE_BENCH_SINGLE_ROWS, _WINDOW_MS and _RUNS must be >= 1, \
                 _POINT_ROWS >= 100 and _ROWS >= 1000",
            ));
        }
        let dir = harness::bench_dir();
        Ok(Self {
            pair: harness::Config {
                rows: analytic_rows,
                single_rows: inserts,
                warmup: 1,
                runs,
                quick,
                explain: false,
                only,
                dir,
            },
            inserts,
            point_rows,
            window: Duration::from_millis(window_ms),
            analytic_rows,
        })
    }

    pub fn wants(&self, group: &str) -> bool {
        self.pair.wants(group)
    }
}
