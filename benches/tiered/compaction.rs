//! Benchmark 3: compaction rows/s (hot WAL → Parquet → one Iceberg commit),
//! beside the floor of writing the same rows with arrow-rs's ArrowWriter
//! alone, and insert-to-Iceberg freshness.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use iceberg::TableIdent;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use thermocline::hot::TableName;
use thermocline::write::NoProgress;
use thermocline::{CompactionMode, TieringConfig, Warehouse, WarehouseConfig};

use super::data::{self, Loader};
use super::harness::{self, Config, Outcome, R, Stats, Table, fail, ms, rate, rows_per_sec};

/// What one compaction run saw, beyond its time.
#[derive(Debug, Default, Clone)]
struct RunInfo {
    files: usize,
    bytes: u64,
    wal_read: Duration,
}

pub async fn compaction(cfg: &Config, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.rows;
    println!("\n## 3a. Compaction: {n} hot rows → Parquet (zstd, sorted, page stats) → one Iceberg commit");
    println!("timed: wh.compact(table) alone (rows were loaded before the clock starts)");
    println!(
        "peer (floor): arrow-rs ArrowWriter writing the same rows + hidden columns, same sort and writer settings, from memory"
    );
    let batches = data::batches(0, n, n)?;
    let mut t = Table::new(&[
        "layout",
        "engine",
        "median",
        "min",
        "rows/s (median)",
        "files",
        "MB",
        "WAL read+decode",
    ]);
    for partitioned in [true, false] {
        let layout = if partitioned {
            "day(ts), 30 days"
        } else {
            "unpartitioned"
        };
        let mut info = RunInfo::default();
        let mut peer_info = RunInfo::default();
        let (ours, peer) = harness::pair(
            cfg,
            async || {
                let dir = cfg.tempdir("bench-compact-")?;
                let wh = data::open_warehouse(dir.path()).await?;
                let s = wh.session();
                s.execute(&data::create_sql("c", partitioned)).await?;
                Loader::new(&s)?.insert_all(&s, "c", &batches).await?;
                let table = TableName::new("public", "c");
                // A breakdown, not part of the figure: what reading the WAL costs.
                let start = Instant::now();
                let hot = wh.hot().read(&table, None, None)?;
                info.wal_read = start.elapsed();
                if hot.row_count() as u64 != n {
                    return Err(fail(format!("hot tier holds {} rows, expected {n}", hot.row_count())));
                }
                drop(hot);
                let start = Instant::now();
                let reports = wh.compact(Some(&table), &NoProgress).await?;
                let elapsed = start.elapsed();
                let rows: u64 = reports.iter().map(|r| r.rows).sum();
                if rows != n {
                    return Err(fail(format!("compaction moved {rows} rows, expected {n}")));
                }
                info.files = reports.iter().map(|r| r.files).sum();
                info.bytes = reports.iter().map(|r| r.bytes).sum();
                Ok(elapsed)
            },
            async || {
                let dir = cfg.tempdir("bench-compact-peer-")?;
                let start = Instant::now();
                let (files, bytes) = arrow_writer_floor(dir.path(), &batches, partitioned)?;
                let elapsed = start.elapsed();
                peer_info.files = files;
                peer_info.bytes = bytes;
                Ok(elapsed)
            },
        )
        .await?;
        let mb = |b: u64| format!("{:.1}", b as f64 / 1e6);
        t.row(vec![
            layout.into(),
            "thermocline".into(),
            ms(ours.median()),
            ms(ours.min()),
            rate(n, ours.median()),
            info.files.to_string(),
            mb(info.bytes),
            ms(info.wal_read),
        ]);
        t.row(vec![
            layout.into(),
            "ArrowWriter floor".into(),
            ms(peer.median()),
            ms(peer.min()),
            rate(n, peer.median()),
            peer_info.files.to_string(),
            mb(peer_info.bytes),
            "-".into(),
        ]);
        let ours_rate = rows_per_sec(n, ours.median());
        out.push(Outcome {
            name: format!("compaction, {layout}"),
            ours: rate(n, ours.median()),
            peer: format!("{} (ArrowWriter floor)", rate(n, peer.median())),
            ratio: format!("{:.2}x", ours_rate / rows_per_sec(n, peer.median())),
            goal: "≥ 1M rows/s".into(),
            met: Some(ours_rate >= 1e6),
        });
    }
    print!("{}", t.render());
    Ok(())
}

/// Write `batches` plus thermocline's hidden columns the way compaction
/// does (sorted by ts then lsn; one file per day when partitioned; zstd(3),
/// page statistics, 256k-row row groups). Returns files and bytes.
fn arrow_writer_floor(dir: &std::path::Path, batches: &[RecordBatch], partitioned: bool) -> R<(usize, u64)> {
    let user = concat_batches(&data::schema(), batches)?;
    let n = user.num_rows();
    let mut fields: Vec<Field> = data::schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("_lsn", DataType::Int64, false));
    fields.push(Field::new(
        "_commit_ts",
        DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        false,
    ));
    fields.push(Field::new("_shard", DataType::Utf8, false));
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<ArrayRef> = user.columns().to_vec();
    columns.push(Arc::new(Int64Array::from_iter_values(1..=n as i64)));
    columns.push(Arc::new(
        TimestampMicrosecondArray::from(vec![data::BASE_TS; n]).with_timezone("+00:00"),
    ));
    columns.push(Arc::new(StringArray::from(vec!["local"; n])));
    let all = RecordBatch::try_new(schema.clone(), columns)?;
    let sort_keys: Vec<SortColumn> = if partitioned { vec!["ts", "_lsn"] } else { vec!["_lsn"] }
        .into_iter()
        .map(|name| -> R<SortColumn> {
            let values = all
                .column_by_name(name)
                .ok_or_else(|| fail(format!("no column {name}")))?;
            Ok(SortColumn {
                values: values.clone(),
                options: None,
            })
        })
        .collect::<R<_>>()?;
    let sorted = take_record_batch(&all, &lexsort_to_indices(&sort_keys, None)?)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    // Day boundaries: rows are sorted by ts, so each day is one slice.
    let mut parts = Vec::new();
    if partitioned {
        let ts = sorted
            .column(1)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| fail("ts type"))?;
        let values = ts.values();
        let mut start = 0;
        while start < n {
            let day_end = (values[start].div_euclid(data::DAY_US) + 1) * data::DAY_US;
            let end = start + values[start..].partition_point(|v| *v < day_end);
            parts.push(sorted.slice(start, end - start));
            start = end;
        }
    } else {
        parts.push(sorted);
    }
    let mut bytes = 0;
    for (i, part) in parts.iter().enumerate() {
        let path = dir.join(format!("part-{i:03}.parquet"));
        let file = std::fs::File::create(&path)?;
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props.clone()))?;
        writer.write(part)?;
        writer.close()?;
        bytes += std::fs::metadata(&path)?.len();
    }
    Ok((parts.len(), bytes))
}

fn total_records(table: &iceberg::table::Table) -> u64 {
    table
        .metadata()
        .current_snapshot()
        .and_then(|s| {
            s.summary()
                .additional_properties
                .get("total-records")
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Insert-to-Iceberg freshness: from an INSERT's acknowledgement until a
/// commit holding its rows is in the catalog (what pyiceberg would load).
pub async fn freshness(cfg: &Config, out: &mut Vec<Outcome>) -> R<()> {
    let iterations = if cfg.quick { 5 } else { 20 };
    println!(
        "\n## 3b. Freshness: INSERT acknowledged → rows in a committed Iceberg snapshot ({iterations} samples each)"
    );
    println!(
        "explicit: INSERT, then CHECKPOINT t (timed from the INSERT's return to CHECKPOINT's return), then the catalog is"
    );
    println!(
        "          re-loaded (as pyiceberg would) to check the snapshot's total-records includes the rows (untimed)"
    );
    println!(
        "background: CompactionMode::Background, flush_threshold = 1; timed from the INSERT's return until a catalog"
    );
    println!("          load_table shows the rows (polled every 2 ms)");
    let mut t = Table::new(&["mode", "rows per INSERT", "p50", "p90", "max", "INSERT ack p50"]);
    let ident = TableIdent::from_strs(["public", "f"])?;
    for mode in ["explicit CHECKPOINT", "background"] {
        for size in [1usize, 100, 1000] {
            let dir = cfg.tempdir("bench-fresh-")?;
            let wh = if mode == "background" {
                let config = WarehouseConfig::new(dir.path())
                    .with_compaction(CompactionMode::Background)
                    .with_target_partitions(2)
                    .with_tiering(TieringConfig {
                        flush_threshold: 1,
                        ..TieringConfig::default()
                    });
                Warehouse::open(config).await?
            } else {
                data::open_warehouse(dir.path()).await?
            };
            let s = wh.session();
            s.execute(&data::create_sql("f", true)).await?;
            let loader = Loader::new(&s)?;
            let (mut fresh, mut acks) = (Stats::default(), Stats::default());
            let mut total = 0u64;
            for i in 0..iterations as u64 {
                let batch = data::batch(i * size as u64, size, (iterations * size) as u64)?;
                let start = Instant::now();
                loader.insert(&s, "f", &batch).await?;
                let acked = Instant::now();
                acks.samples.push(acked - start);
                total += size as u64;
                if mode == "background" {
                    let deadline = acked + Duration::from_secs(30);
                    loop {
                        if total_records(&wh.catalog().load_table(&ident).await?) >= total {
                            break;
                        }
                        if Instant::now() > deadline {
                            return Err(fail("background compaction did not commit the rows within 30 s"));
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    fresh.samples.push(acked.elapsed());
                } else {
                    s.execute("CHECKPOINT f").await?;
                    fresh.samples.push(acked.elapsed());
                    let seen = total_records(&wh.catalog().load_table(&ident).await?);
                    if seen != total {
                        return Err(fail(format!(
                            "after CHECKPOINT the snapshot holds {seen} rows, expected {total}"
                        )));
                    }
                }
            }
            t.row(vec![
                mode.into(),
                size.to_string(),
                ms(fresh.quantile(0.5)),
                ms(fresh.quantile(0.9)),
                ms(fresh.max()),
                ms(acks.quantile(0.5)),
            ]);
            if size == 100 {
                out.push(Outcome {
                    name: format!("freshness p50, {mode}, 100-row INSERTs"),
                    ours: ms(fresh.quantile(0.5)),
                    peer: "-".into(),
                    ratio: "-".into(),
                    goal: "report (no goal)".into(),
                    met: None,
                });
            }
        }
    }
    print!("{}", t.render());
    Ok(())
}
