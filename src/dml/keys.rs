//! PRIMARY KEY and UNIQUE enforcement across both tiers.
//!
//! A key check is a lookup through the table's own scan, so it gets what
//! every query gets: the consistent cut (hot rows, the transaction's staged
//! rows, deleted versions hidden) and cold-side pruning. The lookup pushes
//! the candidate keys down as an IN list (or a min..max range for large
//! batches): Iceberg prunes partitions and files by column metrics, and the
//! Parquet scan prunes row groups by statistics and by the bloom filters
//! compaction writes for key columns. Rows that come back are then matched
//! exactly here, so the pushed filter only has to be a superset.
//!
//! The caller holds the shard's write lock (see [`crate::transaction`]), so
//! what a check sees stays true until the transaction commits.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableProvider;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, col, lit};

use crate::error::{Error, ErrorKind, Result};
use crate::table::constraints::Constraint;
use crate::table::row_id::DeletedRows;
use crate::table::{TieredTable, hidden};

/// Above this many distinct values a key column is pushed down as a range.
const MAX_IN_LIST: usize = 256;

/// The key columns of one constraint, as comparable byte rows.
pub struct KeyColumns<'a> {
    pub constraint: &'a Constraint,
    indices: Vec<usize>,
    converter: RowConverter,
}

impl<'a> KeyColumns<'a> {
    pub fn new(table: &TieredTable, constraint: &'a Constraint) -> Result<Self> {
        let schema = table.user_schema();
        let indices = constraint
            .columns
            .iter()
            .map(|c| {
                schema.index_of(c).map_err(|_| {
                    Error::new(
                        ErrorKind::Storage,
                        format!(
                            "constraint \"{}\" names a column \"{c}\" the table does not have",
                            constraint.name
                        ),
                    )
                    .with_context("table", table.name())
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let fields = indices
            .iter()
            .map(|i| SortField::new(schema.field(*i).data_type().clone()))
            .collect();
        Ok(Self {
            constraint,
            indices,
            converter: RowConverter::new(fields)?,
        })
    }

    /// The key of each row of `batch` (user columns first), and whether it
    /// takes part in the constraint: a key with a NULL never conflicts.
    pub fn rows(&self, batch: &RecordBatch) -> Result<(Rows, Vec<bool>)> {
        let columns: Vec<ArrayRef> = self.indices.iter().map(|i| batch.column(*i).clone()).collect();
        let valid = (0..batch.num_rows())
            .map(|r| columns.iter().all(|c| c.is_valid(r)))
            .collect();
        Ok((self.converter.convert_columns(&columns)?, valid))
    }

    /// PostgreSQL's error for a duplicate key, with its DETAIL line.
    pub fn violation(&self, batch: &RecordBatch, row: usize) -> Error {
        let values: Vec<String> = self
            .indices
            .iter()
            .map(|i| {
                ScalarValue::try_from_array(batch.column(*i), row)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|_| "?".to_string())
            })
            .collect();
        Error::new(
            ErrorKind::UniqueViolation,
            format!(
                "duplicate key value violates unique constraint \"{}\"",
                self.constraint.name
            ),
        )
        .with_context(
            "detail",
            format!(
                "Key ({})=({}) already exists.",
                self.constraint.columns.join(", "),
                values.join(", ")
            ),
        )
    }
}

/// Live rows of `table` whose key for `keys.constraint` equals the key of
/// some row of `candidates`. Returns the user columns followed by `_lsn` and
/// `_shard`.
pub async fn lookup(
    state: &SessionState,
    table: &TieredTable,
    keys: &KeyColumns<'_>,
    candidates: &RecordBatch,
) -> Result<RecordBatch> {
    let with_ids = table.with_row_ids();
    let schema = with_ids.schema();
    let (rows, valid) = keys.rows(candidates)?;
    let wanted: std::collections::HashSet<OwnedRow> = (0..rows.num_rows())
        .filter(|r| valid[*r])
        .map(|r| rows.row(r).owned())
        .collect();
    if wanted.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let mut filters = Vec::with_capacity(keys.indices.len());
    for (position, index) in keys.indices.iter().enumerate() {
        let column = candidates.column(*index);
        filters.push(pushdown_filter(&keys.constraint.columns[position], column, &valid)?);
    }
    let plan = with_ids.scan(state, None, &filters, None).await?;
    let batches = datafusion::physical_plan::collect(plan, state.task_ctx()).await?;
    let mut matched = Vec::with_capacity(batches.len());
    for batch in batches {
        let (found, _) = keys.rows(&batch)?;
        let mask: arrow::array::BooleanArray = (0..batch.num_rows())
            .map(|r| Some(wanted.contains(&found.row(r).owned())))
            .collect();
        matched.push(arrow::compute::filter_record_batch(&batch, &mask)?);
    }
    Ok(arrow::compute::concat_batches(&schema, &matched)?)
}

/// `col IN (values)` for few distinct values, `col BETWEEN min AND max`
/// otherwise. Only a superset of the keys: the caller matches exactly.
fn pushdown_filter(name: &str, column: &ArrayRef, valid: &[bool]) -> Result<Expr> {
    let mut distinct: Vec<ScalarValue> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (row, ok) in valid.iter().enumerate() {
        if !ok {
            continue;
        }
        let value = ScalarValue::try_from_array(column, row)?;
        if seen.insert(value.clone()) {
            distinct.push(value);
        }
    }
    let column_expr = col(format!("\"{}\"", name.replace('"', "\"\"")));
    if distinct.len() <= MAX_IN_LIST {
        return Ok(column_expr.in_list(distinct.into_iter().map(lit).collect(), false));
    }
    let mut min = distinct[0].clone();
    let mut max = distinct[0].clone();
    for value in &distinct[1..] {
        if value.partial_cmp(&min) == Some(std::cmp::Ordering::Less) {
            min = value.clone();
        }
        if value.partial_cmp(&max) == Some(std::cmp::Ordering::Greater) {
            max = value.clone();
        }
    }
    Ok(column_expr.between(lit(min), lit(max)))
}

/// The `(shard, lsn)` of each row of a lookup result.
pub fn row_ids(batch: &RecordBatch) -> Result<Vec<(String, i64)>> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| Error::internal(format!("row identity column {name} is missing")))
    };
    let lsns = column(hidden::LSN)?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| Error::internal("row lsn is not Int64"))?;
    let shards = column(hidden::SHARD)?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::internal("row shard is not Utf8"))?;
    Ok((0..batch.num_rows())
        .map(|r| (shards.value(r).to_string(), lsns.value(r)))
        .collect())
}

/// Check every constraint in `constraints` for `new_rows` (user columns):
/// no two new rows share a key, and no live row outside `replaced` (the
/// versions this statement deletes) has one of their keys.
pub async fn check_unique(
    state: &SessionState,
    table: &TieredTable,
    constraints: &[&Constraint],
    new_rows: &RecordBatch,
    replaced: &DeletedRows,
) -> Result<()> {
    if new_rows.num_rows() == 0 {
        return Ok(());
    }
    for constraint in constraints {
        let keys = KeyColumns::new(table, constraint)?;
        let (rows, valid) = keys.rows(new_rows)?;
        let mut seen: HashMap<&[u8], usize> = HashMap::with_capacity(rows.num_rows());
        for (r, ok) in valid.iter().enumerate() {
            if *ok && seen.insert(rows.row(r).data(), r).is_some() {
                return Err(keys.violation(new_rows, r).with_context("table", table.name()));
            }
        }
        let existing = lookup(state, table, &keys, new_rows).await?;
        let ids = row_ids(&existing)?;
        if let Some(row) = ids.iter().position(|(shard, lsn)| !replaced.contains(shard, *lsn)) {
            return Err(keys.violation(&existing, row).with_context("table", table.name()));
        }
    }
    Ok(())
}

/// The constraint an `ON CONFLICT (cols)` names: the one whose columns are
/// exactly `columns`, in any order.
pub fn arbiter<'a>(table: &'a TieredTable, columns: &[String]) -> Result<&'a Constraint> {
    let mut wanted: Vec<&String> = columns.iter().collect();
    wanted.sort();
    table
        .constraints()
        .iter()
        .find(|c| {
            let mut have: Vec<&String> = c.columns.iter().collect();
            have.sort();
            have == wanted
        })
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Plan,
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
            .with_context("table", table.name())
        })
}

/// Index of each row's key, for pairing proposed rows with existing ones.
pub fn key_index(rows: &Rows, valid: &[bool]) -> HashMap<Vec<u8>, usize> {
    (0..rows.num_rows())
        .filter(|r| valid[*r])
        .map(|r| (rows.row(r).data().to_vec(), r))
        .collect()
}
