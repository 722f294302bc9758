//! Facts about the machine and the run for the header of RESULTS.md.

use super::Suite;

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn command_version(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("unknown ({program} not found)"))
}

/// The versions of the Python peers, from the interpreter the suite uses.
pub fn python_versions() -> String {
    let python = super::tpch_engines::python();
    command_version(
        &python,
        &[
            "-c",
            "import duckdb, pyiceberg, sys; print(f'Python {sys.version.split()[0]}, duckdb {duckdb.__version__}, pyiceberg {pyiceberg.__version__}')",
        ],
    )
}

pub fn facts(suite: &Suite) -> Vec<(String, String)> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpu = super::harness::cpu_model();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown".into());
    vec![
        (
            "date (UTC)".into(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        ("cores / memory".into(), format!("{cores} / {memory}")),
        ("cpu".into(), cpu),
        ("rustc".into(), command_version("rustc", &["-V"])),
        (
            "thermocline".into(),
            format!(
                "{} ({}), DataFusion 54, arrow 58, iceberg-rust 0.10",
                env!("CARGO_PKG_VERSION"),
                command_version(
                    "git",
                    &["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"]
                )
            ),
        ),
        ("peers".into(), python_versions()),
        ("load average (start)".into(), load_average()),
        ("bench folder".into(), suite.base.dir.display().to_string()),
        ("TPC-H scale factor".into(), suite.sf.to_string()),
        (
            "threads per engine".into(),
            "2 (thermocline and DataFusion: target_partitions = 2 on 2 tokio workers; DuckDB: SET threads = 2)".into(),
        ),
        (
            "profile".into(),
            if cfg!(debug_assertions) {
                "debug (numbers are not meaningful)".into()
            } else {
                "release (bench profile)".into()
            },
        ),
    ]
}
