//! `thermocline compact` and `thermocline maintain`: the warehouse's
//! housekeeping, run by hand or from cron.

use std::time::Duration;

use thermocline::hot::TableName;
use thermocline::write::{CompactionReport, MaintenanceOptions, MaintenanceReport};
use thermocline::{Error, Result, Warehouse};

use super::progress::BarProgress;

/// `ns.name` or `name` (in `public`).
pub fn parse_table_name(text: &str) -> Result<TableName> {
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [name] if !name.is_empty() => Ok(TableName::new(thermocline::warehouse::DEFAULT_NAMESPACE, *name)),
        [namespace, name] if !namespace.is_empty() && !name.is_empty() => Ok(TableName::new(*namespace, *name)),
        _ => Err(Error::plan(format!(
            "table name \"{text}\" must be NAME or SCHEMA.NAME"
        ))),
    }
}

/// Compact one table (or every table with hot rows) and print a line per
/// table.
pub async fn compact(wh: &Warehouse, table: Option<&TableName>) -> Result<Vec<CompactionReport>> {
    let progress = BarProgress::new();
    let reports = wh.compact(table, &progress).await?;
    drop(progress);
    if reports.is_empty() {
        println!("nothing to compact: no hot rows");
    }
    for report in &reports {
        println!("{}", compaction_summary(report));
    }
    Ok(reports)
}

/// One line: rows, files, bytes, snapshot, watermark, speed.
pub fn compaction_summary(r: &CompactionReport) -> String {
    let snapshot = r.snapshot_id.map_or_else(|| "none".to_string(), |id| id.to_string());
    // A sharded table compacts shard by shard: say which.
    let table = match thermocline::shard::routing::is_shard_name(&r.shard) {
        true => format!("{} ({})", r.table, r.shard),
        false => r.table.clone(),
    };
    let mut line = format!(
        "{table}: {} rows → {} files ({}), snapshot {snapshot}, watermark {}, {:.2} s, {} rows/s",
        r.rows,
        r.files,
        human_bytes(r.bytes),
        r.watermark,
        r.elapsed.as_secs_f64(),
        rate(r.rows, r.elapsed),
    );
    if r.superseded {
        line.push_str(" (another compactor of this shard committed these rows first)");
    }
    line
}

/// Expire snapshots and delete orphan files; print what was (or, with
/// `dry_run`, would be) removed.
pub async fn maintain(wh: &Warehouse, options: &MaintenanceOptions) -> Result<Vec<MaintenanceReport>> {
    let reports = wh.maintain(options).await?;
    if reports.is_empty() {
        println!("no tables");
    }
    for report in &reports {
        print!("{}", maintenance_summary(report, options.dry_run));
    }
    Ok(reports)
}

pub fn maintenance_summary(r: &MaintenanceReport, dry_run: bool) -> String {
    let (expired, deleted) = if dry_run {
        ("would expire", "would delete")
    } else {
        ("expired", "deleted")
    };
    let merged = match r.files_merged {
        0 => String::new(),
        n => format!("merged {n} small files into {}, ", r.files_written),
    };
    let mut text = format!(
        "{}: {merged}{expired} {} snapshot{}, {deleted} {} orphan file{}\n",
        r.table,
        r.snapshots_expired,
        plural(r.snapshots_expired),
        r.orphans_deleted.len(),
        plural(r.orphans_deleted.len()),
    );
    for file in &r.orphans_deleted {
        text.push_str(&format!("  {file}\n"));
    }
    text
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub fn rate(rows: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { (rows as f64 / secs) as u64 } else { 0 }
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_default_to_public() -> Result<()> {
        assert_eq!(parse_table_name("events")?, TableName::new("public", "events"));
        assert_eq!(parse_table_name("sales.orders")?, TableName::new("sales", "orders"));
        assert!(parse_table_name("a.b.c").is_err());
        assert!(parse_table_name(".x").is_err());
        Ok(())
    }

    #[test]
    fn summaries_say_what_happened() {
        let report = CompactionReport {
            table: "public.events".into(),
            rows: 2_000,
            files: 3,
            bytes: 3 * 1024 * 1024,
            snapshot_id: Some(42),
            watermark: 7,
            elapsed: Duration::from_millis(500),
            ..Default::default()
        };
        assert_eq!(
            compaction_summary(&report),
            "public.events: 2000 rows → 3 files (3.0 MiB), snapshot 42, watermark 7, 0.50 s, 4000 rows/s"
        );
        let sharded = CompactionReport {
            shard: "shard-3".into(),
            ..report.clone()
        };
        assert!(compaction_summary(&sharded).starts_with("public.events (shard-3): 2000 rows"));
        let maintenance = MaintenanceReport {
            table: "public.events".into(),
            snapshots_expired: 1,
            orphans_deleted: vec!["file:///w/data/x.parquet".into()],
            ..Default::default()
        };
        assert_eq!(
            maintenance_summary(&maintenance, true),
            "public.events: would expire 1 snapshot, would delete 1 orphan file\n  file:///w/data/x.parquet\n"
        );
        let merged = MaintenanceReport {
            files_merged: 12,
            files_written: 1,
            ..maintenance
        };
        assert!(
            maintenance_summary(&merged, false).starts_with("public.events: merged 12 small files into 1, expired")
        );
        assert_eq!(human_bytes(512), "512 B");
    }
}
