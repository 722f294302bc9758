//! TPC-H data for the suite: generated offline with the `tpchgen` crate
//! (the generator behind `tpchgen-cli`, byte-for-byte dbgen's data), written
//! once as plain Parquet that DuckDB and bare DataFusion read, and loaded
//! into a thermocline warehouse with 10% of orders and lineitem hot.
//!
//! Orders and lineitem are generated in [`PARTS`] parts of contiguous order
//! keys; the last part (the newest 10% of orders with their line items) is
//! the hot tier, the first nine are compacted into Iceberg.

use std::fmt::{Display, Write as _};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use arrow::array::{
    ArrayRef, Date32Builder, Decimal128Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use thermocline::Session;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator, PartSuppGenerator,
    RegionGenerator, SupplierGenerator,
};

use super::data::Loader;
use super::harness::{R, fail};

/// Orders and lineitem are generated in this many parts; the last is hot.
pub const PARTS: i32 = 10;
/// Rows per Arrow batch (and per INSERT statement when loading thermocline).
const BATCH: usize = 50_000;
/// Bump when the files' layout changes, so cached data is regenerated.
const LAYOUT: &str = "tpchgen-4 parquet snappy rg=122880 v1";

/// The eight tables in load order, with thermocline's DDL.
pub const TABLES: [(&str, &str); 8] = [
    (
        "region",
        "(r_regionkey bigint NOT NULL, r_name text NOT NULL, r_comment text NOT NULL)",
    ),
    (
        "nation",
        "(n_nationkey bigint NOT NULL, n_name text NOT NULL, n_regionkey bigint NOT NULL, n_comment text NOT NULL)",
    ),
    (
        "supplier",
        "(s_suppkey bigint NOT NULL, s_name text NOT NULL, s_address text NOT NULL, s_nationkey bigint NOT NULL, \
         s_phone text NOT NULL, s_acctbal decimal(15,2) NOT NULL, s_comment text NOT NULL)",
    ),
    (
        "customer",
        "(c_custkey bigint NOT NULL, c_name text NOT NULL, c_address text NOT NULL, c_nationkey bigint NOT NULL, \
         c_phone text NOT NULL, c_acctbal decimal(15,2) NOT NULL, c_mktsegment text NOT NULL, c_comment text NOT NULL)",
    ),
    (
        "part",
        "(p_partkey bigint NOT NULL, p_name text NOT NULL, p_mfgr text NOT NULL, p_brand text NOT NULL, \
         p_type text NOT NULL, p_size int NOT NULL, p_container text NOT NULL, p_retailprice decimal(15,2) NOT NULL, \
         p_comment text NOT NULL)",
    ),
    (
        "partsupp",
        "(ps_partkey bigint NOT NULL, ps_suppkey bigint NOT NULL, ps_availqty int NOT NULL, \
         ps_supplycost decimal(15,2) NOT NULL, ps_comment text NOT NULL)",
    ),
    (
        "orders",
        "(o_orderkey bigint NOT NULL, o_custkey bigint NOT NULL, o_orderstatus text NOT NULL, \
         o_totalprice decimal(15,2) NOT NULL, o_orderdate date NOT NULL, o_orderpriority text NOT NULL, \
         o_clerk text NOT NULL, o_shippriority int NOT NULL, o_comment text NOT NULL) PARTITION BY (year(o_orderdate))",
    ),
    (
        "lineitem",
        "(l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL, l_linenumber int NOT NULL, \
         l_quantity decimal(15,2) NOT NULL, l_extendedprice decimal(15,2) NOT NULL, l_discount decimal(15,2) NOT NULL, \
         l_tax decimal(15,2) NOT NULL, l_returnflag text NOT NULL, l_linestatus text NOT NULL, \
         l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL, \
         l_shipinstruct text NOT NULL, l_shipmode text NOT NULL, l_comment text NOT NULL) \
         PARTITION BY (year(l_shipdate))",
    ),
];

/// Whether `table` is split into a cold 90% and a hot 10%.
pub fn is_tiered(table: &str) -> bool {
    matches!(table, "orders" | "lineitem")
}

/// One column of a batch under construction.
enum Column {
    I64(Int64Builder),
    I32(Int32Builder),
    Money(Decimal128Builder),
    Date(Date32Builder),
    Text(StringBuilder),
}

/// A batch under construction: one builder per column.
struct Builder {
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
}

impl Builder {
    fn new(fields: &[(&str, DataType)]) -> Self {
        let schema = Arc::new(Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), false))
                .collect::<Vec<_>>(),
        ));
        let columns = fields
            .iter()
            .map(|(_, t)| match t {
                DataType::Int64 => Column::I64(Int64Builder::new()),
                DataType::Int32 => Column::I32(Int32Builder::new()),
                DataType::Date32 => Column::Date(Date32Builder::new()),
                DataType::Decimal128(..) => Column::Money(Decimal128Builder::new()),
                _ => Column::Text(StringBuilder::new()),
            })
            .collect();
        Self {
            schema,
            columns,
            rows: 0,
        }
    }

    fn finish(&mut self) -> R<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| -> R<ArrayRef> {
                Ok(match c {
                    Column::I64(b) => Arc::new(b.finish()),
                    Column::I32(b) => Arc::new(b.finish()),
                    Column::Date(b) => Arc::new(b.finish()),
                    Column::Money(b) => Arc::new(b.finish().with_precision_and_scale(15, 2)?),
                    Column::Text(b) => Arc::new(b.finish()),
                })
            })
            .collect::<R<_>>()?;
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// Appends one row's values, column by column, in schema order.
struct Row<'a> {
    columns: std::slice::IterMut<'a, Column>,
}

impl Row<'_> {
    fn column(&mut self) -> &mut Column {
        // The generators below fill exactly the columns their schema declares.
        self.columns.next().expect("a value for every column")
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        if let Column::I64(b) = self.column() {
            b.append_value(v)
        }
        self
    }
    fn i32(&mut self, v: i32) -> &mut Self {
        if let Column::I32(b) = self.column() {
            b.append_value(v)
        }
        self
    }
    /// A decimal(15,2) from hundredths.
    fn money(&mut self, cents: i64) -> &mut Self {
        if let Column::Money(b) = self.column() {
            b.append_value(cents as i128)
        }
        self
    }
    fn date(&mut self, days_since_epoch: i32) -> &mut Self {
        if let Column::Date(b) = self.column() {
            b.append_value(days_since_epoch)
        }
        self
    }
    fn text(&mut self, v: impl Display) -> &mut Self {
        if let Column::Text(b) = self.column() {
            let _ = write!(b, "{v}");
            b.append_value("");
        }
        self
    }
}

/// Builds batches of [`BATCH`] rows from a generator and hands each to `sink`.
fn generate<T>(
    fields: &[(&str, DataType)],
    rows: impl Iterator<Item = T>,
    fill: impl Fn(&mut Row<'_>, &T),
    mut sink: impl FnMut(RecordBatch) -> R<()>,
) -> R<()> {
    let mut builder = Builder::new(fields);
    for item in rows {
        fill(
            &mut Row {
                columns: builder.columns.iter_mut(),
            },
            &item,
        );
        builder.rows += 1;
        if builder.rows == BATCH {
            sink(builder.finish()?)?;
        }
    }
    if builder.rows > 0 {
        sink(builder.finish()?)?;
    }
    Ok(())
}

use DataType::{Date32 as DATE, Int32 as INT, Int64 as BIGINT, Utf8 as TEXT};
const MONEY: DataType = DataType::Decimal128(15, 2);

/// Generate part `part` of `parts` of `table` at scale factor `sf`.
fn generate_table(table: &str, sf: f64, part: i32, parts: i32, sink: impl FnMut(RecordBatch) -> R<()>) -> R<()> {
    match table {
        "region" => generate(
            &[("r_regionkey", BIGINT), ("r_name", TEXT), ("r_comment", TEXT)],
            RegionGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.r_regionkey).text(x.r_name).text(x.r_comment);
            },
            sink,
        ),
        "nation" => generate(
            &[
                ("n_nationkey", BIGINT),
                ("n_name", TEXT),
                ("n_regionkey", BIGINT),
                ("n_comment", TEXT),
            ],
            NationGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.n_nationkey).text(x.n_name).i64(x.n_regionkey).text(x.n_comment);
            },
            sink,
        ),
        "supplier" => generate(
            &[
                ("s_suppkey", BIGINT),
                ("s_name", TEXT),
                ("s_address", TEXT),
                ("s_nationkey", BIGINT),
                ("s_phone", TEXT),
                ("s_acctbal", MONEY),
                ("s_comment", TEXT),
            ],
            SupplierGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.s_suppkey)
                    .text(x.s_name)
                    .text(&x.s_address)
                    .i64(x.s_nationkey)
                    .text(&x.s_phone)
                    .money(x.s_acctbal.0)
                    .text(&x.s_comment);
            },
            sink,
        ),
        "customer" => generate(
            &[
                ("c_custkey", BIGINT),
                ("c_name", TEXT),
                ("c_address", TEXT),
                ("c_nationkey", BIGINT),
                ("c_phone", TEXT),
                ("c_acctbal", MONEY),
                ("c_mktsegment", TEXT),
                ("c_comment", TEXT),
            ],
            CustomerGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.c_custkey)
                    .text(x.c_name)
                    .text(&x.c_address)
                    .i64(x.c_nationkey)
                    .text(&x.c_phone)
                    .money(x.c_acctbal.0)
                    .text(x.c_mktsegment)
                    .text(x.c_comment);
            },
            sink,
        ),
        "part" => generate(
            &[
                ("p_partkey", BIGINT),
                ("p_name", TEXT),
                ("p_mfgr", TEXT),
                ("p_brand", TEXT),
                ("p_type", TEXT),
                ("p_size", INT),
                ("p_container", TEXT),
                ("p_retailprice", MONEY),
                ("p_comment", TEXT),
            ],
            PartGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.p_partkey)
                    .text(&x.p_name)
                    .text(x.p_mfgr)
                    .text(x.p_brand)
                    .text(x.p_type)
                    .i32(x.p_size)
                    .text(x.p_container)
                    .money(x.p_retailprice.0)
                    .text(x.p_comment);
            },
            sink,
        ),
        "partsupp" => generate(
            &[
                ("ps_partkey", BIGINT),
                ("ps_suppkey", BIGINT),
                ("ps_availqty", INT),
                ("ps_supplycost", MONEY),
                ("ps_comment", TEXT),
            ],
            PartSuppGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.ps_partkey)
                    .i64(x.ps_suppkey)
                    .i32(x.ps_availqty)
                    .money(x.ps_supplycost.0)
                    .text(x.ps_comment);
            },
            sink,
        ),
        "orders" => generate(
            &[
                ("o_orderkey", BIGINT),
                ("o_custkey", BIGINT),
                ("o_orderstatus", TEXT),
                ("o_totalprice", MONEY),
                ("o_orderdate", DATE),
                ("o_orderpriority", TEXT),
                ("o_clerk", TEXT),
                ("o_shippriority", INT),
                ("o_comment", TEXT),
            ],
            OrderGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.o_orderkey)
                    .i64(x.o_custkey)
                    .text(x.o_orderstatus)
                    .money(x.o_totalprice.0)
                    .date(x.o_orderdate.to_unix_epoch())
                    .text(x.o_orderpriority)
                    .text(x.o_clerk)
                    .i32(x.o_shippriority)
                    .text(x.o_comment);
            },
            sink,
        ),
        "lineitem" => generate(
            &[
                ("l_orderkey", BIGINT),
                ("l_partkey", BIGINT),
                ("l_suppkey", BIGINT),
                ("l_linenumber", INT),
                ("l_quantity", MONEY),
                ("l_extendedprice", MONEY),
                ("l_discount", MONEY),
                ("l_tax", MONEY),
                ("l_returnflag", TEXT),
                ("l_linestatus", TEXT),
                ("l_shipdate", DATE),
                ("l_commitdate", DATE),
                ("l_receiptdate", DATE),
                ("l_shipinstruct", TEXT),
                ("l_shipmode", TEXT),
                ("l_comment", TEXT),
            ],
            LineItemGenerator::new(sf, part, parts).iter(),
            |r, x| {
                r.i64(x.l_orderkey)
                    .i64(x.l_partkey)
                    .i64(x.l_suppkey)
                    .i32(x.l_linenumber)
                    .money(x.l_quantity * 100)
                    .money(x.l_extendedprice.0)
                    .money(x.l_discount.0)
                    .money(x.l_tax.0)
                    .text(x.l_returnflag)
                    .text(x.l_linestatus)
                    .date(x.l_shipdate.to_unix_epoch())
                    .date(x.l_commitdate.to_unix_epoch())
                    .date(x.l_receiptdate.to_unix_epoch())
                    .text(x.l_shipinstruct)
                    .text(x.l_shipmode)
                    .text(x.l_comment);
            },
            sink,
        ),
        other => Err(fail(format!("no TPC-H table {other}"))),
    }
}

/// The plain Parquet data set of one scale factor: `<dir>/<table>/part-NN.parquet`.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub dir: PathBuf,
    pub rows: u64,
}

impl Dataset {
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.dir.join(table)
    }

    /// The files of `table`: (part number, path), in part order.
    pub fn files(&self, table: &str) -> R<Vec<(i32, PathBuf)>> {
        let mut out = Vec::new();
        for part in 1..=parts_of(table) {
            let path = self.table_dir(table).join(format!("part-{part:02}.parquet"));
            if !path.exists() {
                return Err(fail(format!("{} is missing: regenerate the data", path.display())));
            }
            out.push((part, path));
        }
        Ok(out)
    }
}

fn parts_of(table: &str) -> i32 {
    if is_tiered(table) { PARTS } else { 1 }
}

/// Generate the data set for `sf` under `root`, or reuse it when a previous
/// run finished the same layout (the marker file records it).
pub fn dataset(root: &Path, sf: f64) -> R<Dataset> {
    let dir = root.join(format!("tpch-sf{sf}"));
    let marker = dir.join("COMPLETE");
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let Some(rows) = text.strip_prefix(LAYOUT).and_then(|r| r.trim().parse().ok())
    {
        println!("TPC-H SF{sf}: reusing {} ({rows} rows)", dir.display());
        return Ok(Dataset { dir, rows });
    }
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let jobs: Vec<(&str, i32)> = TABLES
        .iter()
        .rev()
        .flat_map(|(t, _)| (1..=parts_of(t)).map(move |p| (*t, p)))
        .collect();
    let queue = Mutex::new(jobs.into_iter());
    let rows = Mutex::new(0u64);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(4);
    let result: R<()> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> R<()> {
                    loop {
                        let job = queue.lock().map_err(|_| fail("generator queue poisoned"))?.next();
                        let Some((table, part)) = job else { return Ok(()) };
                        let n = write_part(&dir, sf, table, part)?;
                        *rows.lock().map_err(|_| fail("row count poisoned"))? += n;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| fail("a TPC-H generator thread panicked"))??;
        }
        Ok(())
    });
    result?;
    let rows = rows.into_inner().map_err(|_| fail("row count poisoned"))?;
    std::fs::write(&marker, format!("{LAYOUT} {rows}"))?;
    println!(
        "TPC-H SF{sf}: generated {rows} rows as Parquet in {:.1} s under {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(Dataset { dir, rows })
}

/// Write one part of one table as a Parquet file; returns its rows.
fn write_part(dir: &Path, sf: f64, table: &str, part: i32) -> R<u64> {
    let folder = dir.join(table);
    std::fs::create_dir_all(&folder)?;
    let path = folder.join(format!("part-{part:02}.parquet"));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(122_880))
        .build();
    let mut writer: Option<ArrowWriter<File>> = None;
    let mut rows = 0u64;
    generate_table(table, sf, part, parts_of(table), |batch| {
        rows += batch.num_rows() as u64;
        if writer.is_none() {
            writer = Some(ArrowWriter::try_new(
                File::create(&path)?,
                batch.schema(),
                Some(props.clone()),
            )?);
        }
        if let Some(w) = writer.as_mut() {
            w.write(&batch)?;
        }
        Ok(())
    })?;
    match writer {
        Some(w) => {
            w.close()?;
        }
        None => return Err(fail(format!("TPC-H {table} part {part} generated no rows"))),
    }
    Ok(rows)
}

/// Read one Parquet file as batches of [`BATCH`] rows.
pub fn read_file(path: &Path) -> R<Vec<RecordBatch>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?
        .with_batch_size(BATCH)
        .build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// What loading thermocline took.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub rows: u64,
    pub hot_rows: u64,
    pub insert_secs: f64,
    pub checkpoint_secs: f64,
}

/// Create the eight tables in `session`'s warehouse and load them: every
/// part but the last of orders/lineitem, and all of the other tables, then
/// `CHECKPOINT` (into Iceberg); then the last part, which stays hot.
pub async fn load_thermocline(session: &Session, data: &Dataset) -> R<LoadReport> {
    let loader = Loader::new(session)?;
    let mut report = LoadReport {
        rows: 0,
        hot_rows: 0,
        insert_secs: 0.0,
        checkpoint_secs: 0.0,
    };
    for (table, columns) in TABLES {
        session.execute(&format!("CREATE TABLE {table} {columns}")).await?;
        let files = data.files(table)?;
        let hot_part = is_tiered(table).then_some(PARTS);
        for (part, path) in &files {
            if Some(*part) == hot_part {
                continue;
            }
            let t = Instant::now();
            report.rows += loader.insert_all(session, table, &read_file(path)?).await?;
            report.insert_secs += t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        session.execute(&format!("CHECKPOINT {table}")).await?;
        report.checkpoint_secs += t.elapsed().as_secs_f64();
        if let Some(hot) = hot_part
            && let Some((_, path)) = files.iter().find(|(p, _)| *p == hot)
        {
            let t = Instant::now();
            let n = loader.insert_all(session, table, &read_file(path)?).await?;
            report.insert_secs += t.elapsed().as_secs_f64();
            report.rows += n;
            report.hot_rows += n;
        }
        println!("  loaded {table}");
    }
    Ok(report)
}
