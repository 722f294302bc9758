//! A small benchmark harness: warm-up runs, measured runs, median and min,
//! ours and the peer's runs interleaved so both see the same machine load
//! (the bench machine is shared with builds).

use std::fmt::Write as _;
use std::time::Duration;

/// Every error a benchmark can hit, with its own message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type R<T> = Result<T, BoxError>;

/// Fail a benchmark with a message (answers differ, a count is wrong...).
pub fn fail(message: impl Into<String>) -> BoxError {
    message.into().into()
}

/// What the command line and environment asked for.
#[derive(Debug, Clone)]
pub struct Config {
    /// Rows for batched inserts, compaction and scans.
    pub rows: u64,
    /// Rows for single-row inserts (each its own fsync'd transaction).
    pub single_rows: u64,
    pub warmup: usize,
    pub runs: usize,
    pub quick: bool,
    /// Print EXPLAIN ANALYZE of every scan query.
    pub explain: bool,
    /// Only run benchmark groups whose name contains one of these.
    pub only: Vec<String>,
    /// Where warehouses and peer databases are made.
    pub dir: std::path::PathBuf,
}

/// The command line every bench takes: `--quick`, `--explain`, and the
/// names of the groups to run.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub quick: bool,
    pub explain: bool,
    pub only: Vec<String>,
}

impl Args {
    pub fn parse() -> R<Self> {
        let mut args = Args::default();
        for arg in std::env::args().skip(1) {
            match arg.as_str() {
                "--quick" => args.quick = true,
                "--explain" => args.explain = true,
                // cargo bench passes --bench to harness = false targets.
                "--bench" => {}
                a if a.starts_with("--") => return Err(fail(format!("unknown option {a}; see benches/README.md"))),
                a => args.only.push(a.to_string()),
            }
        }
        Ok(args)
    }
}

/// The number in environment variable `name` (`_` separators allowed), or
/// `default` when it is unset.
pub fn env_number(name: &str, default: u64) -> R<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .map_err(|e| fail(format!("{name}={v:?} is not a number: {e}"))),
        Err(_) => Ok(default),
    }
}

/// Where warehouses and peer databases are made: `THERMOCLINE_BENCH_DIR`,
/// else the system's temporary folder.
pub fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("THERMOCLINE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

impl Config {
    pub fn from_env_and_args() -> R<Self> {
        let Args { quick, explain, only } = Args::parse()?;
        let number = env_number;
        let rows = number("THERMOCLINE_BENCH_ROWS", if quick { 50_000 } else { 1_000_000 })?;
        let single_rows = number("THERMOCLINE_BENCH_SINGLE_ROWS", if quick { 100 } else { 2_000 })?;
        let runs = number("THERMOCLINE_BENCH_RUNS", if quick { 3 } else { 5 })? as usize;
        if rows < 1000 || single_rows == 0 || runs == 0 {
            return Err(fail(
                "THERMOCLINE_BENCH_ROWS must be >= 1000, SINGLE_ROWS and RUNS >= 1",
            ));
        }
        let dir = bench_dir();
        Ok(Self {
            rows,
            single_rows,
            warmup: 1,
            runs,
            quick,
            explain,
            only,
            dir,
        })
    }

    pub fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| group.contains(o.as_str()))
    }

    pub fn tempdir(&self, prefix: &str) -> R<tempfile::TempDir> {
        std::fs::create_dir_all(&self.dir)?;
        Ok(tempfile::Builder::new().prefix(prefix).tempdir_in(&self.dir)?)
    }
}

/// Measured durations of one benchmark.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub samples: Vec<Duration>,
}

impl Stats {
    pub fn median(&self) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        match s.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2,
        }
    }

    pub fn min(&self) -> Duration {
        self.samples.iter().min().copied().unwrap_or_default()
    }

    /// Quantile `q` in 0..=1 (nearest rank).
    pub fn quantile(&self, q: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort();
        if s.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
        s[rank - 1]
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().max().copied().unwrap_or_default()
    }
}

/// Run `ours` and `peer` alternately: `warmup` unmeasured rounds, then `runs`
/// measured ones. Each closure does its own set-up and returns the time of
/// the part being measured.
pub async fn pair(
    cfg: &Config,
    mut ours: impl AsyncFnMut() -> R<Duration>,
    mut peer: impl AsyncFnMut() -> R<Duration>,
) -> R<(Stats, Stats)> {
    for _ in 0..cfg.warmup {
        ours().await?;
        peer().await?;
    }
    let (mut a, mut b) = (Stats::default(), Stats::default());
    for _ in 0..cfg.runs {
        a.samples.push(ours().await?);
        b.samples.push(peer().await?);
    }
    Ok((a, b))
}

pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{:.0} µs", ms * 1e3)
    }
}

/// Rows per second as `1.23M/s` or `456k/s`.
pub fn rate(rows: u64, d: Duration) -> String {
    let r = rows as f64 / d.as_secs_f64().max(1e-12);
    if r >= 1e6 {
        format!("{:.2}M rows/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}k rows/s", r / 1e3)
    } else {
        format!("{r:.0} rows/s")
    }
}

pub fn rows_per_sec(rows: u64, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64().max(1e-12)
}

/// A plain text table with aligned columns.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
                .collect();
            let _ = writeln!(out, "| {} |", parts.join(" | "));
        };
        line(&mut out, &self.header);
        let _ = writeln!(
            out,
            "|{}|",
            widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("|")
        );
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }
}

/// The CPU's model name from /proc/cpuinfo.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The summary table of `outcomes`: one row per figure with its goal.
pub fn outcome_table(outcomes: &[Outcome]) -> String {
    let mut t = Table::new(&["benchmark", "thermocline", "peer", "ratio", "goal", "verdict"]);
    for o in outcomes {
        t.row(vec![
            o.name.clone(),
            o.ours.clone(),
            o.peer.clone(),
            o.ratio.clone(),
            o.goal.clone(),
            o.verdict().into(),
        ]);
    }
    t.render()
}

/// One line of the final summary.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub ours: String,
    pub peer: String,
    pub ratio: String,
    pub goal: String,
    /// None: no goal for this figure.
    pub met: Option<bool>,
}

impl Outcome {
    pub fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "-",
        }
    }
}
