//! Arrow IPC encoding of WAL batches: one self-describing stream per entry,
//! LZ4-compressed so a Durable Object's 2 MB row limit holds more rows.

use std::io::Cursor;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use arrow::ipc::CompressionType;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};

use crate::error::{Error, ErrorKind, Result};

/// Encode one batch as an Arrow IPC stream.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>> {
    let options = IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME))?;
    let mut buf = Vec::with_capacity(batch.get_array_memory_size() / 2 + 256);
    {
        let mut writer = StreamWriter::try_new_with_options(&mut buf, &batch.schema(), options)?;
        writer.write(batch)?;
        writer.finish()?;
    }
    Ok(buf)
}

/// Arrow field metadata key holding a column's Iceberg field id (the key
/// Parquet uses too).
pub const FIELD_ID: &str = "PARQUET:field_id";

fn field_id(field: &Field) -> Option<i32> {
    field.metadata().get(FIELD_ID).and_then(|v| v.parse().ok())
}

/// Decode a batch written by [`encode_batch`], then [`map_batch`] it.
pub fn decode_batch(bytes: &[u8], wanted: Option<&[FieldRef]>, keep_unmatched: bool) -> Result<RecordBatch> {
    map_batch(&read_all(bytes)?, wanted, keep_unmatched)
}

/// A decoded entry under the columns a reader wants.
///
/// With `wanted`, the result has exactly those columns, in that order and
/// under those names, whatever schema the entry was written with: each
/// wanted field is found in the entry by its field id ([`FIELD_ID`]), or by
/// name when the entry carries no field ids. That is how the WAL follows
/// `ALTER TABLE`: a renamed column keeps its values, a column added later
/// reads as NULL, a dropped one is skipped. Stored columns without a field
/// id that no wanted field matched (a `Delete` entry's identity columns) are
/// kept after the wanted ones when `keep_unmatched` is set. Columns are
/// shared with `stored`, not copied.
pub fn map_batch(stored: &RecordBatch, wanted: Option<&[FieldRef]>, keep_unmatched: bool) -> Result<RecordBatch> {
    match wanted {
        None => Ok(stored.clone()),
        Some(wanted) => ColumnMap::new(&stored.schema(), wanted, keep_unmatched).apply(stored),
    }
}

/// How the columns of entries written with one schema become the wanted
/// ones (see [`map_batch`]). Worked out once per stored schema, then applied
/// to every entry that has it.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// Per output column: the stored column it comes from, or none (NULLs).
    sources: Vec<Option<usize>>,
    schema: SchemaRef,
}

impl ColumnMap {
    pub fn new(stored: &Schema, wanted: &[FieldRef], keep_unmatched: bool) -> Self {
        let by_id = stored.fields().iter().any(|f| field_id(f).is_some());
        let mut sources = Vec::with_capacity(wanted.len());
        let mut fields: Vec<FieldRef> = Vec::with_capacity(wanted.len());
        for field in wanted {
            let source = match (by_id, field_id(field)) {
                (true, Some(id)) => stored.fields().iter().position(|f| field_id(f) == Some(id)),
                _ => stored.index_of(field.name()).ok(),
            };
            sources.push(source);
            fields.push(Arc::new(field.as_ref().clone().with_nullable(true)));
        }
        if keep_unmatched {
            for (i, f) in stored.fields().iter().enumerate() {
                if field_id(f).is_none() && !sources.contains(&Some(i)) {
                    sources.push(Some(i));
                    fields.push(f.clone());
                }
            }
        }
        Self {
            sources,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    /// `stored` (written with the schema this map was made for) under the
    /// wanted columns. Columns are shared with `stored`, not copied.
    pub fn apply(&self, stored: &RecordBatch) -> Result<RecordBatch> {
        let n = stored.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.sources.len());
        for (field, source) in self.schema.fields().iter().zip(&self.sources) {
            columns.push(match source {
                Some(i) => {
                    let column = stored.column(*i);
                    if column.data_type() == field.data_type() {
                        column.clone()
                    } else {
                        arrow::compute::cast(column, field.data_type())?
                    }
                }
                None => new_null_array(field.data_type(), n),
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &options,
        )?)
    }
}

fn read_all(bytes: &[u8]) -> Result<RecordBatch> {
    let corrupt = |e: arrow::error::ArrowError| Error::new(ErrorKind::HotStore, "corrupt WAL entry").with_source(e);
    let reader = StreamReader::try_new(Cursor::new(bytes), None).map_err(corrupt)?;
    let schema = reader.schema();
    let mut batches = Vec::with_capacity(1);
    for batch in reader {
        batches.push(batch.map_err(corrupt)?);
    }
    match batches.len() {
        1 => batches.pop().ok_or_else(|| Error::internal("batch vanished")),
        _ => Ok(arrow::compute::concat_batches(&schema, &batches)?),
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn round_trip_with_projection() -> Result<()> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
            ],
        )?;
        let bytes = encode_batch(&batch)?;
        assert_eq!(decode_batch(&bytes, None, false)?, batch);
        let wanted = [Arc::new(Field::new("name", DataType::Utf8, true))];
        let projected = decode_batch(&bytes, Some(&wanted), false)?;
        assert_eq!(projected.num_columns(), 1);
        assert_eq!(projected.column(0), batch.column(1));
        Ok(())
    }

    fn with_id(name: &str, data_type: DataType, id: i32) -> FieldRef {
        Arc::new(Field::new(name, data_type, true).with_metadata([(FIELD_ID.to_string(), id.to_string())].into()))
    }

    /// An entry written before RENAME, DROP and ADD COLUMN reads under the
    /// current schema: by field id, NULL for the new column, identity
    /// columns (no id) kept after the wanted ones.
    #[test]
    fn entries_follow_schema_evolution_by_field_id() -> Result<()> {
        let stored = Arc::new(Schema::new(vec![
            with_id("id", DataType::Int64, 1),
            with_id("name", DataType::Utf8, 2),
            with_id("gone", DataType::Int64, 3),
            Arc::new(Field::new("_row_lsn", DataType::Int64, true)),
        ]));
        let batch = RecordBatch::try_new(
            stored,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(Int64Array::from(vec![7, 8])),
                Arc::new(Int64Array::from(vec![10, 11])),
            ],
        )?;
        let bytes = encode_batch(&batch)?;
        // `name` renamed to `label`; `gone` dropped; `name` re-added as id 4.
        let current = [
            with_id("label", DataType::Utf8, 2),
            with_id("id", DataType::Int64, 1),
            with_id("name", DataType::Utf8, 4),
        ];
        let read = decode_batch(&bytes, Some(&current), true)?;
        assert_eq!(read.schema().fields().len(), 4);
        assert_eq!(read.schema().field(0).name(), "label");
        assert_eq!(
            read.column(0).as_ref(),
            &StringArray::from(vec!["a", "b"]) as &dyn Array
        );
        assert_eq!(read.column(1).as_ref(), &Int64Array::from(vec![1, 2]) as &dyn Array);
        assert_eq!(read.column(2).null_count(), 2);
        assert_eq!(read.schema().field(3).name(), "_row_lsn");
        let plain = decode_batch(&bytes, Some(&current), false)?;
        assert_eq!(plain.num_columns(), 3);
        Ok(())
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let err = decode_batch(b"not arrow at all", None, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::HotStore);
    }
}
