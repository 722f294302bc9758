//! Arrow IPC encoding of WAL batches: one self-describing stream per entry,
//! LZ4-compressed so a Durable Object's 2 MB row limit holds more rows.

use std::io::Cursor;

use arrow::array::RecordBatch;
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

/// Decode a batch written by [`encode_batch`], keeping only `projection`.
pub fn decode_batch(bytes: &[u8], projection: Option<&[usize]>) -> Result<RecordBatch> {
    let corrupt = |e: arrow::error::ArrowError| Error::new(ErrorKind::HotStore, "corrupt WAL entry").with_source(e);
    let reader = StreamReader::try_new(Cursor::new(bytes), projection.map(|p| p.to_vec())).map_err(corrupt)?;
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
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
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
        assert_eq!(decode_batch(&bytes, None)?, batch);
        let projected = decode_batch(&bytes, Some(&[1]))?;
        assert_eq!(projected.num_columns(), 1);
        assert_eq!(projected.column(0), batch.column(1));
        Ok(())
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let err = decode_batch(b"not arrow at all", None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::HotStore);
    }
}
