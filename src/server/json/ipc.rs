//! The Arrow IPC stream answer, for `Accept: application/vnd.apache.arrow.stream`:
//! the result's batches with their values untouched.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use arrow::ipc::writer::StreamWriter;

/// The media type of an Arrow IPC stream answer.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// `batches` as an Arrow IPC stream (`schema` first; a statement without
/// rows is a stream of the empty schema and no batches).
pub fn arrow_stream(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    // The batches' own schema when there are any: the IPC writer wants
    // every batch to match the schema it wrote first.
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::new(schema.clone()));
    let mut writer = StreamWriter::try_new(Vec::new(), &schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_stream_of_a_command_is_an_empty_schema() {
        let bytes = arrow_stream(&Schema::empty(), &[]).expect("stream");
        let reader = arrow::ipc::reader::StreamReader::try_new(bytes.as_slice(), None).expect("reader");
        assert!(reader.schema().fields().is_empty());
        assert_eq!(reader.count(), 0);
    }
}
