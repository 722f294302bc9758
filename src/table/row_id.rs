//! Row identity: every row version a shard writes has a unique
//! `(shard, lsn)`, carried in the hidden columns `_shard` and `_lsn` from the
//! WAL into Parquet. UPDATE and DELETE name the versions they replace by it,
//! on tables with and without keys alike:
//!
//! - a DELETE appends a `Delete` WAL entry whose rows are the deleted
//!   versions (their user columns, the before-image CDC needs) plus
//!   [`ROW_SHARD`] and [`ROW_LSN`];
//! - an UPDATE appends such a `Delete` entry and an `Insert` entry with the
//!   new versions ([`NEW_LSN`] on each deleted row points at its successor).
//!
//! Until compaction, reads hide deleted versions with a [`DeletedRows`]
//! filter (merge-on-read). Compaction drops hot rows deleted before they
//! reached Iceberg and rewrites the Parquet files holding the others
//! (copy-on-write), in the same commit that moves the watermark.

use std::collections::{HashMap, HashSet};

use arrow::array::{Array, AsArray, BooleanArray, BooleanBufferBuilder, Int64Array};
use arrow::datatypes::Int64Type;

use crate::error::{Error, Result};
use crate::hot::{Lsn, WalEntry, WalOp};

/// Column of a `Delete` WAL entry: the lsn of the version deleted.
pub const ROW_LSN: &str = "_row_lsn";
/// Column of a `Delete` WAL entry: the shard that wrote the version deleted.
pub const ROW_SHARD: &str = "_row_shard";
/// Column of a `Delete` WAL entry: the commit time of the version deleted
/// (what time travel needs to know when it began to exist).
pub const ROW_COMMIT_TS: &str = "_row_commit_ts";
/// Column of a `Delete` WAL entry: for an UPDATE, the lsn of the version that
/// replaces the deleted one (in the same commit); NULL for a DELETE.
pub const NEW_LSN: &str = "_new_lsn";

/// The row versions deleted above a cut, by shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletedRows {
    by_shard: HashMap<String, HashSet<Lsn>>,
    /// Shards left out of a partial answer: every version of theirs is
    /// dropped (see [`crate::shard::remote`]).
    missing: HashSet<String>,
}

impl DeletedRows {
    pub fn insert(&mut self, shard: &str, lsn: Lsn) {
        match self.by_shard.get_mut(shard) {
            Some(set) => {
                set.insert(lsn);
            }
            None => {
                self.by_shard.insert(shard.to_string(), HashSet::from([lsn]));
            }
        }
    }

    pub fn contains(&self, shard: &str, lsn: Lsn) -> bool {
        self.by_shard.get(shard).is_some_and(|s| s.contains(&lsn)) || self.missing.contains(shard)
    }

    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.by_shard.values().all(HashSet::is_empty)
    }

    /// Drop every version of `shard`: it is missing from a partial answer.
    pub fn drop_shard(&mut self, shard: &str) {
        self.missing.insert(shard.to_string());
    }

    /// The deleted versions as lists, to send to another process.
    pub fn to_lists(&self) -> Vec<(String, Vec<Lsn>)> {
        let mut lists: Vec<(String, Vec<Lsn>)> = self
            .by_shard
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(shard, lsns)| {
                let mut lsns: Vec<Lsn> = lsns.iter().copied().collect();
                lsns.sort_unstable();
                (shard.clone(), lsns)
            })
            .collect();
        lists.sort();
        lists
    }

    pub fn len(&self) -> usize {
        self.by_shard.values().map(HashSet::len).sum()
    }

    /// Shards with deleted versions.
    pub fn shards(&self) -> impl Iterator<Item = &str> {
        self.by_shard
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(k, _)| k.as_str())
    }

    /// The deleted lsns of one shard.
    pub fn lsns(&self, shard: &str) -> impl Iterator<Item = Lsn> + '_ {
        self.by_shard.get(shard).into_iter().flat_map(|s| s.iter().copied())
    }

    pub fn extend(&mut self, other: &DeletedRows) {
        for (shard, lsns) in &other.by_shard {
            for lsn in lsns {
                self.insert(shard, *lsn);
            }
        }
        self.missing.extend(other.missing.iter().cloned());
    }

    /// The versions deleted by `Delete` entries' rows above `watermark`
    /// (rows at or below it are already applied in Iceberg).
    pub fn above(entries: &[WalEntry], watermark: Lsn) -> Result<Self> {
        let mut deleted = Self::default();
        for entry in entries
            .iter()
            .filter(|e| e.op == WalOp::Delete && e.last_lsn > watermark)
        {
            let skip = (watermark + 1 - entry.first_lsn).max(0) as usize;
            deleted.add_delete_batch(&entry.batch.slice(skip, entry.batch.num_rows() - skip))?;
        }
        Ok(deleted)
    }

    /// Record every row of a `Delete` WAL batch.
    pub fn add_delete_batch(&mut self, batch: &arrow::array::RecordBatch) -> Result<()> {
        let (shards, lsns) = id_columns(batch, ROW_SHARD, ROW_LSN)?;
        for i in 0..batch.num_rows() {
            if shards.is_valid(i) && lsns.is_valid(i) {
                self.insert(shards.value(i), lsns.value(i));
            }
        }
        Ok(())
    }

    /// Which rows of a batch with `_shard`/`_lsn` columns (named by the
    /// arguments) survive: false for deleted versions. Rows without an
    /// identity (NULL lsn: written by another engine) always survive.
    pub fn keep_mask(&self, shards: &dyn Array, lsns: &dyn Array) -> Result<BooleanArray> {
        let lsns = lsns
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| Error::internal("row lsn column is not Int64"))?;
        let shard_values = string_values(shards)?;
        let mut keep = BooleanBufferBuilder::new(lsns.len());
        for i in 0..lsns.len() {
            let deleted = lsns.is_valid(i)
                && match &shard_values {
                    ShardValues::Strings(s) => s.is_valid(i) && self.contains(s.value(i), lsns.value(i)),
                    ShardValues::Views(s) => s.is_valid(i) && self.contains(s.value(i), lsns.value(i)),
                };
            keep.append(!deleted);
        }
        Ok(BooleanArray::new(keep.finish(), None))
    }

    /// [`Self::keep_mask`] for rows of one shard with lsns `first..first+n`.
    pub fn keep_mask_range(&self, shard: &str, first: Lsn, n: usize) -> Option<BooleanArray> {
        let set = self.by_shard.get(shard)?;
        if set.is_empty() {
            return None;
        }
        Some(BooleanArray::from_iter(
            (first..first + n as Lsn).map(|lsn| Some(!set.contains(&lsn))),
        ))
    }
}

enum ShardValues<'a> {
    Strings(&'a arrow::array::StringArray),
    Views(&'a arrow::array::StringViewArray),
}

fn string_values(array: &dyn Array) -> Result<ShardValues<'_>> {
    if let Some(s) = array.as_string_opt::<i32>() {
        return Ok(ShardValues::Strings(s));
    }
    if let Some(s) = array.as_string_view_opt() {
        return Ok(ShardValues::Views(s));
    }
    Err(Error::internal(format!(
        "row shard column is {}, not a string",
        array.data_type()
    )))
}

fn id_columns<'a>(
    batch: &'a arrow::array::RecordBatch,
    shard: &str,
    lsn: &str,
) -> Result<(&'a arrow::array::StringArray, &'a Int64Array)> {
    let missing = |name: &str| Error::internal(format!("WAL delete entry has no {name} column"));
    let shards = batch
        .column_by_name(shard)
        .ok_or_else(|| missing(shard))?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::internal("row shard column is not Utf8"))?;
    let lsns = batch
        .column_by_name(lsn)
        .ok_or_else(|| missing(lsn))?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| Error::internal("row lsn column is not Int64"))?;
    Ok((shards, lsns))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::StringArray;

    use super::*;

    #[test]
    fn mask_hides_only_deleted_versions_of_the_right_shard() -> Result<()> {
        let mut deleted = DeletedRows::default();
        deleted.insert("a", 2);
        deleted.insert("b", 3);
        let shards = StringArray::from(vec![Some("a"), Some("a"), Some("a"), None]);
        let lsns = Int64Array::from(vec![Some(1), Some(2), Some(3), Some(2)]);
        let mask = deleted.keep_mask(&shards, &lsns)?;
        assert_eq!(mask, BooleanArray::from(vec![true, false, true, true]));
        let range = deleted.keep_mask_range("b", 2, 3).map(Arc::new);
        assert_eq!(range.as_deref(), Some(&BooleanArray::from(vec![true, false, true])));
        assert!(deleted.keep_mask_range("c", 1, 3).is_none());
        Ok(())
    }
}
