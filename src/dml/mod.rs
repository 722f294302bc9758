//! INSERT, UPDATE and DELETE over tiered tables.
//!
//! The session plans which rows a statement writes with DataFusion (see
//! [`plan`] for UPDATE and DELETE) and hands them here. This module checks
//! them (NOT NULL, types, keys: [`keys`]), resolves `ON CONFLICT`, and stages
//! WAL entries in the session's transaction (see [`crate::transaction`]):
//!
//! | statement | WAL entries staged |
//! |---|---|
//! | INSERT | `Insert` (new versions) |
//! | DELETE | `Delete` (before-images + identity) |
//! | UPDATE, ON CONFLICT DO UPDATE | `Delete` (old versions, each naming its successor's lsn) then `Insert` |
//!
//! The caller has taken the shard's write lock before planning, so the rows
//! read and the keys checked cannot change before the transaction commits.
//! For a sharded table, INSERT takes the locks of the shards its rows go to
//! here, before checking keys (every key of a sharded table includes the
//! shard key, so a key lives in one shard and its lock covers the check),
//! and UPDATE and DELETE took every shard's lock before planning. Each row is
//! staged in the shard that owns it.

pub mod keys;
pub mod plan;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::{
    Assignment, AssignmentTarget, ConflictTarget, Expr as SqlExpr, Ident, OnConflict, OnConflictAction, SelectItem,
    visit_expressions_mut,
};

use crate::error::{Error, ErrorKind, Result};
use crate::hot::{Lsn, WalOp};
use crate::table::TieredTable;
use crate::table::constraints::Constraint;
use crate::table::hidden;
use crate::table::insert::validate_batch;
use crate::table::row_id::{self, DeletedRows};

/// What a statement wrote, for its command tag and RETURNING.
#[derive(Debug)]
pub struct Written {
    /// Rows the statement affected (PostgreSQL's count).
    pub count: u64,
    /// The rows RETURNING sees: new versions for INSERT and UPDATE, the
    /// deleted rows for DELETE. User columns only.
    pub rows: RecordBatch,
}

/// INSERT `rows` (user columns in table order), with an optional
/// `ON CONFLICT` clause. `params` bind `$n` inside `DO UPDATE`.
pub async fn insert(
    state: &SessionState,
    table: &TieredTable,
    rows: RecordBatch,
    on_conflict: Option<&OnConflict>,
    params: &[ScalarValue],
) -> Result<Written> {
    let rows = prepare(table, &rows)?;
    let txn = table.transaction().clone();
    let mut owners = table.shard_rows(&rows)?;
    // Rows of shards another server hosts are sent to it at COMMIT.
    let remote: std::collections::BTreeMap<String, Vec<u32>> = match &table.warehouse().remote {
        Some(remote) => {
            let names: Vec<String> = owners.keys().filter(|s| remote.contains(s)).cloned().collect();
            names.into_iter().filter_map(|s| owners.remove_entry(&s)).collect()
        }
        None => Default::default(),
    };
    if let (Some(shard), Some(_)) = (remote.keys().next(), on_conflict) {
        return Err(Error::not_supported(format!(
            "INSERT ... ON CONFLICT into shard \"{shard}\", which another server hosts"
        ))
        .with_context("table", table.name()));
    }
    let shards: Vec<String> = owners.keys().cloned().collect();
    txn.acquire_shards(table.warehouse(), &shards).await?;
    let Some(clause) = on_conflict else {
        let all: Vec<&Constraint> = table.constraints().iter().collect();
        keys::check_unique(state, table, &all, &rows, &DeletedRows::default()).await?;
        stage_rows(table, WalOp::Insert, &rows, &owners)?;
        for (shard, indices) in &remote {
            let part = arrow::compute::take_record_batch(&rows, &UInt32Array::from(indices.clone()))?;
            txn.stage_remote(shard, table.name(), part)?;
        }
        return Ok(Written {
            count: rows.num_rows() as u64,
            rows,
        });
    };
    match &clause.action {
        OnConflictAction::DoNothing => insert_or_skip(state, table, rows, clause).await,
        OnConflictAction::DoUpdate(update) => {
            let target = conflict_target(table, clause)?.ok_or_else(|| {
                Error::plan("ON CONFLICT DO UPDATE requires inference specification or constraint name")
                    .with_context("table", table.name())
            })?;
            upsert(
                state,
                table,
                rows,
                target,
                &update.assignments,
                update.selection.as_ref(),
                params,
            )
            .await
        }
    }
}

/// DELETE: `rows` are the deleted versions, user columns then `_lsn`,
/// `_shard`, `_commit_ts`.
pub async fn delete(table: &TieredTable, rows: RecordBatch) -> Result<Written> {
    let rows = distinct_versions(&rows)?;
    let users = table.user_schema().fields().len();
    let before = rows.project(&(0..users).collect::<Vec<_>>())?;
    let ids = rows.project(&[users, users + 1, users + 2])?;
    let new_lsn: Option<Lsn> = None;
    let entry = delete_entry(table, &before, &ids, new_lsn)?;
    // Each delete goes to the shard that owns the row.
    stage_rows(table, WalOp::Delete, &entry, &table.shard_rows(&before)?)?;
    Ok(Written {
        count: before.num_rows() as u64,
        rows: before,
    })
}

/// UPDATE: `rows` are the new versions (user columns), then `_lsn`,
/// `_shard`, `_commit_ts` of the version each replaces, then the old values.
pub async fn update(
    state: &SessionState,
    table: &TieredTable,
    rows: RecordBatch,
    assigned: &[String],
) -> Result<Written> {
    let rows = distinct_versions_at(&rows, table.user_schema().fields().len())?;
    let users = table.user_schema().fields().len();
    let new_rows = prepare(table, &rows.project(&(0..users).collect::<Vec<_>>())?)?;
    let ids = rows.project(&[users, users + 1, users + 2])?;
    let before = rows.project(&(users + 3..users + 3 + users).collect::<Vec<_>>())?;
    let before = RecordBatch::try_new(table.user_schema().clone(), before.columns().to_vec())?;
    let mut replaced = DeletedRows::default();
    for (shard, lsn) in keys::row_ids(&ids)? {
        replaced.insert(&shard, lsn);
    }
    // Only constraints on assigned columns can newly conflict.
    let touched: Vec<&Constraint> = table
        .constraints()
        .iter()
        .filter(|c| c.columns.iter().any(|k| assigned.contains(k)))
        .collect();
    keys::check_unique(state, table, &touched, &new_rows, &replaced).await?;
    stage_replacement(table, &before, &ids, &new_rows)?;
    Ok(Written {
        count: new_rows.num_rows() as u64,
        rows: new_rows,
    })
}

/// Check and normalise rows for the table: column count, types, NOT NULL,
/// and jsonb values parsed and stored in PostgreSQL's canonical text.
fn prepare(table: &TieredTable, rows: &RecordBatch) -> Result<RecordBatch> {
    let rows = validate_batch(table.name(), table.user_schema(), table.required(), rows)?;
    if !table.jsonb_columns().iter().any(|j| *j) {
        return Ok(rows);
    }
    let mut columns = rows.columns().to_vec();
    for (i, is_jsonb) in table.jsonb_columns().iter().enumerate() {
        if *is_jsonb {
            columns[i] = thermocline_udfs::json::normalize_jsonb(&columns[i]).map_err(|e| {
                Error::new(ErrorKind::InvalidText, e.to_string())
                    .with_context("table", table.name())
                    .with_context("column", rows.schema().field(i).name())
            })?;
        }
    }
    Ok(RecordBatch::try_new(rows.schema(), columns)?)
}

/// Stage the rows of `batch` (a WAL batch whose user columns come first),
/// each in the shard `owners` gives it.
fn stage_rows(
    table: &TieredTable,
    op: WalOp,
    batch: &RecordBatch,
    owners: &std::collections::BTreeMap<String, Vec<u32>>,
) -> Result<()> {
    let txn = table.transaction();
    for (shard, rows) in owners {
        let part = if rows.len() == batch.num_rows() {
            batch.clone()
        } else {
            arrow::compute::take_record_batch(batch, &UInt32Array::from(rows.clone()))?
        };
        txn.stage(shard, table.name(), op, table.wal_batch(part)?)?;
    }
    Ok(())
}

/// Stage `Delete(before, ids → successors)` then `Insert(new_rows)` in each
/// shard; row `i` of `new_rows` replaces row `i` of `before`, and rows of
/// `new_rows` past the end of `before` are new. A replacement stays in its
/// row's shard: changing the shard key to a value another shard owns is
/// refused.
fn stage_replacement(
    table: &TieredTable,
    before: &RecordBatch,
    ids: &RecordBatch,
    new_rows: &RecordBatch,
) -> Result<()> {
    let txn = table.transaction();
    let old_owners = table.shard_rows(before)?;
    let new_owners = table.shard_rows(new_rows)?;
    let mut old_shard = vec![""; before.num_rows()];
    for (shard, rows) in &old_owners {
        for r in rows {
            old_shard[*r as usize] = shard;
        }
    }
    for (shard, rows) in &new_owners {
        // Rows of one shard, replacements (ascending) before new rows.
        let replaced: Vec<u32> = rows
            .iter()
            .copied()
            .filter(|r| (*r as usize) < before.num_rows())
            .collect();
        if let Some(moved) = replaced.iter().find(|r| old_shard[**r as usize] != shard.as_str()) {
            let key = table.sharding().map(|s| s.key.clone()).unwrap_or_default();
            return Err(Error::not_supported(format!(
                "cannot change the shard key \"{key}\" of a row to a value owned by another shard ({} to {shard}): delete the row and insert it again",
                old_shard[*moved as usize]
            ))
            .with_context("table", table.name()));
        }
        let indices = UInt32Array::from(replaced.clone());
        let before_part = arrow::compute::take_record_batch(before, &indices)?;
        let ids_part = arrow::compute::take_record_batch(ids, &indices)?;
        let new_part = if rows.len() == new_rows.num_rows() {
            new_rows.clone()
        } else {
            arrow::compute::take_record_batch(new_rows, &UInt32Array::from(rows.clone()))?
        };
        // The insert entry follows the delete entry, so its first lsn is known.
        let successor = txn.next_lsn(shard)? + before_part.num_rows() as Lsn;
        let entry = delete_entry(table, &before_part, &ids_part, Some(successor))?;
        txn.stage(shard, table.name(), WalOp::Delete, table.wal_batch(entry)?)?;
        txn.stage(shard, table.name(), WalOp::Insert, table.wal_batch(new_part)?)?;
    }
    // Replaced rows whose new version went nowhere cannot happen (every
    // replaced row has a new version), but the count must say so.
    let staged: usize = new_owners.values().map(Vec::len).sum();
    if staged != new_rows.num_rows() {
        return Err(Error::internal("a replacement row has no shard"));
    }
    Ok(())
}

/// A `Delete` WAL batch: before-image, then `_row_shard`, `_row_lsn`,
/// `_new_lsn` (successor `first_new + i`, or NULL for a plain delete).
fn delete_entry(
    table: &TieredTable,
    before: &RecordBatch,
    ids: &RecordBatch,
    first_new: Option<Lsn>,
) -> Result<RecordBatch> {
    let n = before.num_rows();
    let mut fields: Vec<Arc<Field>> = table.user_schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(row_id::ROW_SHARD, DataType::Utf8, false)));
    fields.push(Arc::new(Field::new(row_id::ROW_LSN, DataType::Int64, false)));
    fields.push(Arc::new(Field::new(row_id::NEW_LSN, DataType::Int64, true)));
    fields.push(Arc::new(Field::new(
        row_id::ROW_COMMIT_TS,
        hidden::commit_ts_type(),
        true,
    )));
    let mut columns: Vec<ArrayRef> = before.columns().to_vec();
    columns.push(arrow::compute::cast(ids.column(1), &DataType::Utf8)?);
    columns.push(ids.column(0).clone());
    columns.push(Arc::new(match first_new {
        Some(first) => Int64Array::from_iter_values(first..first + n as Lsn),
        None => Int64Array::new_null(n),
    }));
    columns.push(arrow::compute::cast(ids.column(2), &hidden::commit_ts_type())?);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| {
        Error::internal("delete entry does not fit its schema")
            .with_context("table", table.name())
            .with_source(e)
    })
}

/// Rows of `batch` whose identity (`_lsn`, `_shard` at `ids`, `ids + 1`)
/// is first seen: UPDATE ... FROM can join one target row to several.
fn distinct_versions_at(batch: &RecordBatch, ids: usize) -> Result<RecordBatch> {
    let lsns = batch
        .column(ids)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| Error::internal("row lsn is not Int64"))?;
    let shards = arrow::compute::cast(batch.column(ids + 1), &DataType::Utf8)?;
    let shards = shards.as_string::<i32>();
    let mut seen = std::collections::HashSet::new();
    let mut keep = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        if lsns.is_null(r) {
            return Err(Error::not_supported(
                "rows written by another engine (no _lsn) cannot be updated or deleted yet",
            ));
        }
        if seen.insert((shards.value(r).to_string(), lsns.value(r))) {
            keep.push(r as u32);
        }
    }
    if keep.len() == batch.num_rows() {
        return Ok(batch.clone());
    }
    Ok(arrow::compute::take_record_batch(batch, &UInt32Array::from(keep))?)
}

fn distinct_versions(batch: &RecordBatch) -> Result<RecordBatch> {
    distinct_versions_at(batch, batch.num_columns() - 3)
}

/// The arbiter constraint of an ON CONFLICT clause, if it names one.
fn conflict_target<'a>(table: &'a TieredTable, clause: &OnConflict) -> Result<Option<&'a Constraint>> {
    match &clause.conflict_target {
        None => Ok(None),
        Some(ConflictTarget::Columns(columns)) => {
            let names: Vec<String> = columns.iter().map(ident_name).collect();
            keys::arbiter(table, &names).map(Some)
        }
        Some(ConflictTarget::OnConstraint(name)) => {
            let name = name.to_string().trim_matches('"').to_string();
            table
                .constraints()
                .iter()
                .find(|c| c.name == name)
                .map(Some)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "constraint \"{name}\" for table \"{}\" does not exist",
                            table.name().name
                        ),
                    )
                })
        }
    }
}

fn ident_name(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// `ON CONFLICT [target] DO NOTHING`: rows are taken in order; one whose
/// key (for the arbiter, or any constraint without a target) matches a live
/// row or an earlier row of the statement is skipped.
async fn insert_or_skip(
    state: &SessionState,
    table: &TieredTable,
    rows: RecordBatch,
    clause: &OnConflict,
) -> Result<Written> {
    let arbiters: Vec<&Constraint> = match conflict_target(table, clause)? {
        Some(c) => vec![c],
        None => table.constraints().iter().collect(),
    };
    let mut keep = vec![true; rows.num_rows()];
    for constraint in &arbiters {
        let key_columns = keys::KeyColumns::new(table, constraint)?;
        let existing = keys::lookup(state, table, &key_columns, &rows).await?;
        let (existing_keys, existing_valid) = key_columns.rows(&existing)?;
        let mut taken: std::collections::HashSet<Vec<u8>> =
            keys::key_index(&existing_keys, &existing_valid).into_keys().collect();
        let (proposed, valid) = key_columns.rows(&rows)?;
        for r in 0..rows.num_rows() {
            if keep[r] && valid[r] && !taken.insert(proposed.row(r).data().to_vec()) {
                keep[r] = false;
            }
        }
    }
    let kept = arrow::compute::filter_record_batch(&rows, &arrow::array::BooleanArray::from(keep))?;
    let others: Vec<&Constraint> = table
        .constraints()
        .iter()
        .filter(|c| !arbiters.iter().any(|a| a.name == c.name))
        .collect();
    keys::check_unique(state, table, &others, &kept, &DeletedRows::default()).await?;
    stage_rows(table, WalOp::Insert, &kept, &table.shard_rows(&kept)?)?;
    Ok(Written {
        count: kept.num_rows() as u64,
        rows: kept,
    })
}

/// Prefix of the columns holding the proposed row in the DO UPDATE scratch table.
const EXCLUDED: &str = "__excluded__";
const PAIR: &str = "__pair";

/// `ON CONFLICT (target) DO UPDATE SET ... [WHERE ...]`.
async fn upsert(
    state: &SessionState,
    table: &TieredTable,
    rows: RecordBatch,
    arbiter: &Constraint,
    assignments: &[Assignment],
    selection: Option<&SqlExpr>,
    params: &[ScalarValue],
) -> Result<Written> {
    let key_columns = keys::KeyColumns::new(table, arbiter)?;
    let (proposed, valid) = key_columns.rows(&rows)?;
    let mut seen = std::collections::HashSet::new();
    for (r, ok) in valid.iter().enumerate() {
        if *ok && !seen.insert(proposed.row(r).data()) {
            return Err(Error::new(
                ErrorKind::Cardinality,
                "ON CONFLICT DO UPDATE command cannot affect row a second time",
            )
            .with_context(
                "hint",
                "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.",
            )
            .with_context("table", table.name()));
        }
    }
    let existing = keys::lookup(state, table, &key_columns, &rows).await?;
    let (existing_keys, existing_valid) = key_columns.rows(&existing)?;
    let by_key = keys::key_index(&existing_keys, &existing_valid);
    // Pair each conflicting proposed row with the live row it hits.
    let (mut fresh, mut pair_existing, mut pair_proposed) = (Vec::new(), Vec::new(), Vec::new());
    for (r, ok) in valid.iter().enumerate() {
        match ok.then(|| by_key.get(proposed.row(r).data())).flatten() {
            Some(e) => {
                pair_existing.push(*e as u32);
                pair_proposed.push(r as u32);
            }
            None => fresh.push(r as u32),
        }
    }
    let fresh_rows = arrow::compute::take_record_batch(&rows, &UInt32Array::from(fresh))?;
    let users = table.user_schema().fields().len();
    let (updated, before, ids) = if pair_existing.is_empty() {
        let empty = RecordBatch::new_empty(table.user_schema().clone());
        (
            empty.clone(),
            empty,
            RecordBatch::new_empty(Arc::new(Schema::new(vec![
                Field::new(hidden::LSN, DataType::Int64, true),
                Field::new(hidden::SHARD, DataType::Utf8, true),
                Field::new(hidden::COMMIT_TS, hidden::commit_ts_type(), true),
            ]))),
        )
    } else {
        let old = arrow::compute::take_record_batch(&existing, &UInt32Array::from(pair_existing))?;
        let new = arrow::compute::take_record_batch(&rows, &UInt32Array::from(pair_proposed))?;
        let (values, chosen) = evaluate_do_update(table, &old, &new, assignments, selection, params).await?;
        let old = arrow::compute::take_record_batch(&old, &chosen)?;
        let before = old.project(&(0..users).collect::<Vec<_>>())?;
        let ids = old.project(&[users, users + 1, users + 2])?;
        (prepare(table, &values)?, before, ids)
    };
    let mut replaced = DeletedRows::default();
    for (shard, lsn) in keys::row_ids(&ids)? {
        replaced.insert(&shard, lsn);
    }
    // New versions first, then fresh rows: `stage_replacement` pairs row i
    // of the delete entry with row i of the insert entry.
    let inserted = arrow::compute::concat_batches(table.user_schema(), [&updated, &fresh_rows])?;
    let all: Vec<&Constraint> = table.constraints().iter().collect();
    keys::check_unique(state, table, &all, &inserted, &replaced).await?;
    stage_replacement(table, &before, &ids, &inserted)?;
    Ok(Written {
        count: inserted.num_rows() as u64,
        rows: inserted,
    })
}

/// Evaluate `SET` (and `WHERE`) of DO UPDATE for each (existing, proposed)
/// pair. Returns the new versions in table order and which pairs they come
/// from (pairs the WHERE rejects are left alone).
async fn evaluate_do_update(
    table: &TieredTable,
    existing: &RecordBatch,
    proposed: &RecordBatch,
    assignments: &[Assignment],
    selection: Option<&SqlExpr>,
    params: &[ScalarValue],
) -> Result<(RecordBatch, UInt32Array)> {
    let schema = table.user_schema();
    let users = schema.fields().len();
    // Scratch table: existing values under their own names, proposed values
    // as __excluded__<name>, and the pair number.
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = existing.columns()[..users].to_vec();
    for (i, f) in schema.fields().iter().enumerate() {
        fields.push(Field::new(
            format!("{EXCLUDED}{}", f.name()),
            f.data_type().clone(),
            true,
        ));
        columns.push(proposed.column(i).clone());
    }
    fields.push(Field::new(PAIR, DataType::UInt32, false));
    columns.push(Arc::new(UInt32Array::from_iter_values(0..existing.num_rows() as u32)));
    let scratch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;

    let target_names = [
        table.name().name.clone(),
        format!("{}.{}", table.name().namespace, table.name().name),
    ];
    let mut values: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
    for assignment in assignments {
        let AssignmentTarget::ColumnName(name) = &assignment.target else {
            return Err(Error::not_supported(
                "tuple assignments in ON CONFLICT DO UPDATE are not supported",
            ));
        };
        let column = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(ident_name)
            .unwrap_or_default();
        let index = schema.index_of(&column).map_err(|_| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "column \"{column}\" of relation \"{}\" does not exist",
                    table.name().name
                ),
            )
        })?;
        let mut expr = assignment.value.clone();
        rewrite_excluded(&mut expr, &target_names);
        values[index] = format!(
            "CAST({expr} AS {}) AS {}",
            sql_type(schema.field(index).data_type()),
            quote(&column)
        );
    }
    let filter = match selection {
        Some(s) => {
            let mut s = s.clone();
            rewrite_excluded(&mut s, &target_names);
            format!(" WHERE {s}")
        }
        None => String::new(),
    };
    let sql = format!("SELECT {}, {PAIR} FROM scratch{filter}", values.join(", "));
    let ctx = scratch_context();
    ctx.register_batch("scratch", scratch)?;
    let mut frame = ctx.sql(&sql).await?;
    if !params.is_empty() {
        frame = frame.with_param_values(params.to_vec())?;
    }
    let batches = frame.collect().await?;
    let out_schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::new(Schema::empty()));
    let result = arrow::compute::concat_batches(&out_schema, &batches)?;
    if result.num_columns() == 0 {
        return Ok((
            RecordBatch::new_empty(schema.clone()),
            UInt32Array::from(Vec::<u32>::new()),
        ));
    }
    let chosen = result
        .column(users)
        .as_primitive_opt::<arrow::datatypes::UInt32Type>()
        .ok_or_else(|| Error::internal("pair column lost its type"))?
        .clone();
    // Positional; `prepare` casts each column to the table's type.
    let values = result.project(&(0..users).collect::<Vec<_>>())?;
    Ok((values, chosen))
}

/// `excluded.col` → `__excluded__col`; `t.col` (the target) → `col`.
fn rewrite_excluded(expr: &mut SqlExpr, target_names: &[String]) {
    let _ = visit_expressions_mut(expr, |e| {
        if let SqlExpr::CompoundIdentifier(parts) = e
            && parts.len() >= 2
        {
            let qualifier: Vec<String> = parts[..parts.len() - 1].iter().map(ident_name).collect();
            let qualifier = qualifier.join(".");
            let column = ident_name(&parts[parts.len() - 1]);
            if qualifier == "excluded" {
                *e = SqlExpr::Identifier(Ident::with_quote('"', format!("{EXCLUDED}{column}")));
            } else if target_names.contains(&qualifier) {
                *e = SqlExpr::Identifier(Ident::with_quote('"', column));
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL type name DataFusion casts to for each column type we store.
pub fn sql_type(data_type: &DataType) -> String {
    match data_type {
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTEA".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        other => other.to_string(),
    }
}

/// A throwaway context with thermocline's SQL surface, for evaluating
/// expressions over in-memory rows (DO UPDATE, RETURNING).
pub fn scratch_context() -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .set_str("datafusion.sql_parser.dialect", "PostgreSQL");
    let ctx = SessionContext::new_with_config(config);
    thermocline_udfs::register_functions(&ctx);
    ctx
}

/// Evaluate a RETURNING list over the rows a statement wrote. `alias` is the
/// name the list may qualify columns with (the table or its alias).
pub async fn returning(
    items: &[SelectItem],
    alias: &str,
    rows: RecordBatch,
    params: &[ScalarValue],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let ctx = scratch_context();
    ctx.register_batch(alias, rows)?;
    let list: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    let sql = format!("SELECT {} FROM {}", list.join(", "), quote(alias));
    let mut frame = ctx.sql(&sql).await?;
    if !params.is_empty() {
        frame = frame.with_param_values(params.to_vec())?;
    }
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    Ok((schema, frame.collect().await?))
}
