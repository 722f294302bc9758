//! The Parquet data files thermocline writes into Iceberg. Compaction and
//! copy-on-write rewrites share this one setup, so a rewritten file reads,
//! prunes and compresses exactly like a compacted one:
//!
//! - zstd level 3: most of zstd's ratio at a fraction of its top levels' cost;
//! - page-level statistics, so readers can prune pages as well as row groups;
//! - small data pages (at most [`PAGE_ROWS`] rows, [`PAGE_BYTES`] bytes):
//!   a point lookup decompresses and decodes whole pages, so a page of
//!   20k rows (parquet's default) made a key lookup decode 20k values of
//!   every column;
//! - dictionaries of at most [`DICTIONARY_BYTES`]: a reader decompresses a
//!   column's whole dictionary page before any of its data pages, so a
//!   point lookup paid for parquet's default 1 MiB dictionary on every
//!   high-cardinality column (those overflow it and fall back to plain
//!   encoding anyway). Key columns, unique by definition, get none;
//! - row groups of at most [`ROW_GROUP_ROWS`] rows;
//! - a bloom filter on every column named by a PRIMARY KEY or UNIQUE
//!   constraint (the table property `thermocline.constraints`): a key lookup
//!   in the cold tier — the uniqueness check on insert, a point query — skips
//!   row groups whose min/max cannot rule the key out (keys are rarely the
//!   sort order, so min/max alone prune little);
//! - files roll over at the target size: the table's
//!   `write.target-file-size-bytes`, else the warehouse default.

use iceberg::spec::DataFileFormat;
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::sql::ddl::props;
use crate::table::constraints;

/// Rows per Parquet row group: small enough for row-group pruning to bite
/// on sorted data, large enough to keep column chunks efficient.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Rows per data page at most. A point lookup that the page index narrows
/// to one page decodes this many values per column; analytic scans barely
/// notice (page headers are a few bytes, zstd keeps its context).
pub const PAGE_ROWS: usize = 4096;

/// Bytes per data page at most, before compression: wide values (text,
/// vectors) reach it before [`PAGE_ROWS`].
pub const PAGE_BYTES: usize = 64 * 1024;

/// Bytes of dictionary per column chunk at most; a column with more
/// distinct values than fit continues in plain encoding.
pub const DICTIONARY_BYTES: usize = 64 * 1024;

/// False-positive rate of the key columns' bloom filters: a 1% chance of
/// reading a row group in vain, for a filter of roughly ten bits per
/// distinct key.
const BLOOM_FILTER_FPP: f64 = 0.01;

/// Builds one data-file writer per partition; see [`data_file_writers`].
pub type DataFileWriters =
    DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;

/// Writers of `table`'s data files, in its data folder, named
/// `{file_prefix}-{n}-{uuid}.parquet`, rolling over at
/// [`target_file_size`]. Build one per partition with
/// `IcebergWriterBuilder::build(partition_key)`.
pub fn data_file_writers(table: &Table, file_prefix: &str, default_target_file_size: u64) -> Result<DataFileWriters> {
    let metadata = table.metadata();
    let file_names = DefaultFileNameGenerator::new(
        file_prefix.to_string(),
        Some(uuid::Uuid::now_v7().simple().to_string()),
        DataFileFormat::Parquet,
    );
    let rolling = RollingFileWriterBuilder::new(
        ParquetWriterBuilder::new(writer_properties(table)?, metadata.current_schema().clone()),
        target_file_size(table, default_target_file_size),
        table.file_io().clone(),
        DefaultLocationGenerator::new(metadata)?,
        file_names,
    );
    Ok(DataFileWriterBuilder::new(rolling))
}

/// The Parquet writer properties of `table`'s data files; see the module docs.
pub fn writer_properties(table: &Table) -> Result<WriterProperties> {
    let zstd = ZstdLevel::try_new(3).map_err(|e| Error::internal("zstd level").with_source(e))?;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(zstd))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_data_page_size_limit(PAGE_BYTES)
        .set_dictionary_page_size_limit(DICTIONARY_BYTES)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for key in key_columns(table) {
        let path = ColumnPath::new(vec![key.column]);
        // A column that is a key by itself is all distinct values: a
        // dictionary would only overflow. The bloom filter is sized for a
        // full row group; parquet folds each filter down to the distinct
        // values the row group really holds before writing it.
        if key.unique_alone {
            builder = builder.set_column_dictionary_enabled(path.clone(), false);
        }
        builder = builder
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), BLOOM_FILTER_FPP)
            .set_column_bloom_filter_ndv(path, ROW_GROUP_ROWS as u64);
    }
    Ok(builder.build())
}

/// A column named by a PRIMARY KEY or UNIQUE constraint.
pub struct KeyColumn {
    pub column: String,
    /// Some constraint is this column alone, so its values are distinct.
    pub unique_alone: bool,
}

/// Columns of `table` named by a PRIMARY KEY or UNIQUE constraint that the
/// current schema has, once each: they get a bloom filter.
///
/// Lenient on purpose: the filters only speed reads up, so a malformed
/// property (another engine's edit) or a constraint naming a column that is
/// gone is a warning and no filter, never a failed write.
pub fn key_columns(table: &Table) -> Vec<KeyColumn> {
    let metadata = table.metadata();
    let constraints = match constraints::from_properties(metadata.properties()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(
                "table {}: no bloom filters, {} is malformed: {e}",
                table.identifier(),
                constraints::CONSTRAINTS
            );
            return Vec::new();
        }
    };
    let schema = metadata.current_schema();
    let mut columns: Vec<KeyColumn> = Vec::new();
    for constraint in &constraints {
        let alone = constraint.columns.len() == 1;
        for column in &constraint.columns {
            if let Some(known) = columns.iter_mut().find(|k| &k.column == column) {
                known.unique_alone |= alone;
                continue;
            }
            if schema.field_by_name(column).is_none() {
                tracing::warn!(
                    "table {}: constraint column \"{column}\" is not in the schema; no bloom filter for it",
                    table.identifier()
                );
                continue;
            }
            columns.push(KeyColumn {
                column: column.clone(),
                unique_alone: alone,
            });
        }
    }
    columns
}

/// The size at which a data file rolls over: the table's
/// `write.target-file-size-bytes` (CREATE TABLE validated and normalised it
/// to bytes), else `default`; a value another engine wrote badly falls back
/// to `default` with a warning.
pub fn target_file_size(table: &Table, default: u64) -> usize {
    let size = match table.metadata().properties().get(props::TARGET_FILE_SIZE) {
        None => default,
        Some(v) => crate::config::parse_size(v).unwrap_or_else(|e| {
            tracing::warn!(
                "table {}: ignoring {}: {e}",
                table.identifier(),
                props::TARGET_FILE_SIZE
            );
            default
        }),
    };
    usize::try_from(size).unwrap_or(usize::MAX)
}
