//! The table's side of remote shards (see [`crate::shard::remote`]): a
//! shard server reading one shard's tail for a coordinator's cut, and a
//! coordinator opening cuts on the shard servers over the snapshot it read.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{FieldRef, SchemaRef};

use super::{TieredTable, hot_rows};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{HotSnapshot, Lsn};
use crate::shard::remote::exec::RemoteCut;
use crate::shard::remote::{CutOpened, OpenCut, RemoteShards};
use crate::table::row_id::DeletedRows;

/// One shard's tail as a remote coordinator's cut asked for it (see
/// [`TieredTable::shard_tail`]).
#[derive(Debug)]
pub struct ShardTailRows {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// WAL entries read.
    pub entries: usize,
    /// Versions the tail deletes, by shard.
    pub deleted: Vec<(String, Vec<Lsn>)>,
}

/// The setting that turns an unreachable remote shard into a warning and
/// a partial answer (`SET thermocline.partial_results = on`).
pub const PARTIAL_RESULTS: &str = "thermocline.partial_results";

/// How many remote shards are asked to open their cuts at once.
const REMOTE_CUTS_AT_ONCE: usize = 32;

impl TieredTable {
    /// One shard's tail for a remote coordinator's cut (see
    /// [`crate::shard::remote`]): the rows of `shard` above `watermark`, as
    /// `columns` (names in [`Self::with_row_ids`]'s schema), and the versions
    /// the tail deletes. Refused with [`crate::shard::remote::CUT_EXPIRED`]
    /// when the shard has compacted past `watermark`: the entries between
    /// are gone from its hot tier.
    pub fn shard_tail(&self, shard: &str, watermark: Lsn, columns: &[String]) -> Result<ShardTailRows> {
        let full = self.with_row_ids();
        let projection = columns
            .iter()
            .map(|c| {
                full.schema.index_of(c).map_err(|_| {
                    Error::new(ErrorKind::UndefinedColumn, format!("column \"{c}\" does not exist"))
                        .with_context("table", &self.name)
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let users = self.user_schema.fields().len();
        let wanted: Vec<FieldRef> = projection
            .iter()
            .filter(|i| **i < users)
            .map(|i| self.wal_fields[*i].clone())
            .collect();
        let hot = match self.warehouse.hot_of(shard)?.read(&self.name, None, Some(&wanted)) {
            Ok(hot) => hot,
            Err(e) if e.kind() == ErrorKind::NotFound => HotSnapshot::default(),
            Err(e) => return Err(e.with_context("shard", shard)),
        };
        if hot.local_watermark > watermark {
            return Err(Error::new(
                ErrorKind::Catalog,
                format!(
                    "{}: shard {shard} compacted through lsn {}, past the watermark {watermark} asked for",
                    crate::shard::remote::CUT_EXPIRED,
                    hot.local_watermark
                ),
            ));
        }
        let deleted = DeletedRows::above(&hot.entries, watermark)?;
        let schema = Arc::new(full.schema.project(&projection)?);
        let entries = hot.entries.len();
        let batches = hot_rows(hot, watermark, shard, users, &projection, &schema, &deleted)?;
        Ok(ShardTailRows {
            schema,
            batches,
            entries,
            deleted: deleted.to_lists(),
        })
    }

    /// Open a cut on each of `shards` (remote) over the snapshot of
    /// `table`; when one has compacted past its watermark, reload the table
    /// and start over (a few times). Shards that cannot open their cut fail
    /// the scan, or with `partial` are returned as missing.
    pub(super) async fn open_remote_cuts(
        &self,
        remote: &Arc<RemoteShards>,
        shards: &[String],
        columns: &[String],
        mut table: iceberg::table::Table,
        partial: bool,
    ) -> Result<(iceberg::table::Table, Vec<(RemoteCut, CutOpened)>, Vec<String>)> {
        use futures::StreamExt;
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let requests: Vec<OpenCut> = shards
                .iter()
                .map(|shard| OpenCut {
                    namespace: self.name.namespace.clone(),
                    table: self.name.name.clone(),
                    shard: shard.clone(),
                    watermark: thermocline_catalog::watermark::watermark(table.metadata(), None, shard),
                    columns: columns.to_vec(),
                })
                .collect();
            let answers: Vec<(OpenCut, Result<CutOpened>)> = futures::stream::iter(requests)
                .map(|request| async move {
                    let answer = remote.open_cut(&request).await;
                    (request, answer)
                })
                .buffered(REMOTE_CUTS_AT_ONCE)
                .collect()
                .await;
            let expired = answers
                .iter()
                .any(|(_, a)| a.as_ref().is_err_and(crate::shard::remote::is_cut_expired));
            let mut opened = Vec::new();
            let mut missing = Vec::new();
            let mut failure = None;
            for (request, answer) in answers {
                match answer {
                    Ok(cut) => opened.push((
                        RemoteCut {
                            shard: request.shard,
                            cut: cut.cut,
                            watermark: request.watermark,
                            rows: cut.rows,
                        },
                        cut,
                    )),
                    Err(e) if crate::shard::remote::is_cut_expired(&e) => {}
                    Err(e) if partial && e.kind() == ErrorKind::ShardUnavailable => {
                        tracing::warn!(shard = %request.shard, "left out of a partial answer: {e}");
                        missing.push(request.shard);
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            if failure.is_some() || expired {
                for (cut, _) in &opened {
                    remote.close_cut(&cut.shard, cut.cut).await;
                }
            }
            if let Some(e) = failure {
                return Err(e.with_context("table", &self.name));
            }
            if !expired {
                return Ok((table, opened, missing));
            }
            if attempt < ATTEMPTS {
                // The shard's compaction committed a newer snapshot that
                // holds the rows it no longer has.
                table = self.warehouse.load_table(&self.ident).await?;
            }
        }
        Err(Error::new(
            ErrorKind::Catalog,
            format!("remote shards kept compacting past the snapshot read, {ATTEMPTS} times: try again"),
        )
        .with_context("table", &self.name))
    }
}
