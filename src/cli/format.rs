//! How the CLI prints a result set: an aligned table for people, CSV and
//! JSON for programs. Nulls are empty in the table and in CSV (as in psql
//! and PostgreSQL's `COPY ... CSV`) and `null` in JSON.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::util::display::FormatOptions;
use arrow::util::pretty::pretty_format_batches_with_options;

/// Timestamps as PostgreSQL prints them (`2025-06-01 12:00:00`), not ISO's
/// `T` form, in the formats people read. JSON keeps RFC 3339, which every
/// JSON consumer parses.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";
const TIMESTAMP_TZ_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f%:z";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table followed by `(N rows)`.
    Table,
    /// RFC 4180 CSV with a header line.
    Csv,
    /// One JSON array of row objects per statement, on one line.
    Json,
}

impl Format {
    /// Whether the output is meant for a program: then command tags and
    /// timings go to stderr, so stdout holds nothing but data.
    pub fn is_machine_readable(self) -> bool {
        !matches!(self, Format::Table)
    }
}

/// Write one statement's rows to `out` in `format`.
pub fn write_rows(
    out: &mut dyn Write,
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(), ArrowError> {
    match format {
        Format::Table => write_table(out, schema, batches),
        Format::Csv => write_csv(out, schema, batches),
        Format::Json => write_json(out, batches),
    }
}

fn write_table(out: &mut dyn Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<(), ArrowError> {
    let options = FormatOptions::new()
        .with_null("")
        .with_display_error(true)
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_timestamp_tz_format(Some(TIMESTAMP_TZ_FORMAT));
    // An empty result still shows its column names, as psql does.
    let empty;
    let batches = if batches.is_empty() {
        empty = [RecordBatch::new_empty(schema.clone())];
        &empty[..]
    } else {
        batches
    };
    let table = pretty_format_batches_with_options(batches, &options)?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let noun = if rows == 1 { "row" } else { "rows" };
    writeln!(out, "{table}\n({rows} {noun})\n")?;
    Ok(())
}

fn write_csv(out: &mut dyn Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<(), ArrowError> {
    let mut writer = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .with_null(String::new())
        .with_timestamp_format(TIMESTAMP_FORMAT.to_string())
        .with_timestamp_tz_format(TIMESTAMP_TZ_FORMAT.to_string())
        .build(out);
    // The header is written with the first batch; an empty result still
    // gets one.
    writer.write(&RecordBatch::new_empty(schema.clone()))?;
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(())
}

fn write_json(out: &mut dyn Write, batches: &[RecordBatch]) -> Result<(), ArrowError> {
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(&mut *out);
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    drop(writer);
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    use super::*;

    fn sample() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("amount", DataType::Float64, true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
                true,
            ),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from(vec![1, 2])),
            Arc::new(StringArray::from(vec![Some("a, \"b\""), None])),
            Arc::new(Float64Array::from(vec![Some(1.5), None])),
            Arc::new(TimestampMicrosecondArray::from(vec![Some(1_748_779_200_000_000), None]).with_timezone("+00:00")),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("valid batch");
        (schema, vec![batch])
    }

    fn render(format: Format, schema: &SchemaRef, batches: &[RecordBatch]) -> String {
        let mut out = Vec::new();
        write_rows(&mut out, format, schema, batches).expect("formats");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn table_shows_nulls_empty_and_counts_rows() {
        let (schema, batches) = sample();
        let text = render(Format::Table, &schema, &batches);
        let expected = "\
+----+--------+--------+---------------------------+
| id | name   | amount | ts                        |
+----+--------+--------+---------------------------+
| 1  | a, \"b\" | 1.5    | 2025-06-01 12:00:00+00:00 |
| 2  |        |        |                           |
+----+--------+--------+---------------------------+
(2 rows)

";
        assert_eq!(text, expected);
    }

    #[test]
    fn table_of_no_rows_keeps_the_header() {
        let (schema, _) = sample();
        let text = render(Format::Table, &schema, &[]);
        assert!(text.contains("| id | name | amount | ts |"), "{text}");
        assert!(text.ends_with("(0 rows)\n\n"), "{text}");
    }

    #[test]
    fn table_says_row_for_one() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![7])) as ArrayRef])
            .expect("valid batch");
        assert!(render(Format::Table, &schema, &[batch]).ends_with("(1 row)\n\n"));
    }

    #[test]
    fn csv_has_header_quotes_and_empty_nulls() {
        let (schema, batches) = sample();
        let text = render(Format::Csv, &schema, &batches);
        assert_eq!(
            text,
            "id,name,amount,ts\n1,\"a, \"\"b\"\"\",1.5,2025-06-01 12:00:00+00:00\n2,,,\n"
        );
    }

    #[test]
    fn csv_of_no_rows_is_the_header() {
        let (schema, _) = sample();
        assert_eq!(render(Format::Csv, &schema, &[]), "id,name,amount,ts\n");
    }

    #[test]
    fn json_is_one_array_with_explicit_nulls() {
        let (schema, batches) = sample();
        let text = render(Format::Json, &schema, &batches);
        assert!(text.ends_with("]\n") && text.lines().count() == 1, "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let rows = value.as_array().expect("an array");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["name"], "a, \"b\"");
        assert_eq!(rows[0]["amount"], 1.5);
        assert!(
            rows[0]["ts"]
                .as_str()
                .is_some_and(|ts| ts.starts_with("2025-06-01T12:00:00"))
        );
        assert!(rows[1]["name"].is_null() && rows[1].get("amount").is_some());
        assert!(rows[1]["ts"].is_null());
    }

    #[test]
    fn json_of_no_rows_is_an_empty_array() {
        let (schema, _) = sample();
        assert_eq!(render(Format::Json, &schema, &[]), "[]\n");
    }
}
