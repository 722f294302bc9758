//! The SQL partition-transform functions of `thermocline-udfs` (wasm-safe,
//! our own code) must give exactly the partition values the iceberg crate
//! computes when compaction partitions files. Checked on random values,
//! negatives and epoch boundaries included.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use iceberg::spec::Transform;
use iceberg::transform::create_transform_function;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn sample(rng: &mut StdRng, n: usize) -> Vec<ArrayRef> {
    let longs: Vec<i64> = (0..n)
        .map(|i| match i % 4 {
            0 => rng.random_range(-1_000_000..1_000_000),
            1 => rng.random(),
            2 => -(i as i64),
            _ => i as i64,
        })
        .collect();
    let micros: Vec<i64> = (0..n)
        .map(|_| rng.random_range(-5_000_000_000_000_000i64..5_000_000_000_000_000))
        .collect();
    let days: Vec<i32> = (0..n).map(|_| rng.random_range(-800_000..800_000)).collect();
    let strings: Vec<String> = (0..n)
        .map(|i| {
            let len = rng.random_range(0..12);
            (0..len)
                .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
                .collect::<String>()
                + if i % 7 == 0 { "é漢" } else { "" }
        })
        .collect();
    let decimals: Vec<i128> = (0..n)
        .map(|_| rng.random_range(-10_000_000_000i128..10_000_000_000))
        .collect();
    vec![
        Arc::new(Int32Array::from_iter_values(longs.iter().map(|v| *v as i32))),
        Arc::new(Int64Array::from(longs)),
        Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("+00:00")),
        Arc::new(Date32Array::from(days)),
        Arc::new(StringArray::from_iter_values(strings)),
        Arc::new(
            Decimal128Array::from(decimals)
                .with_precision_and_scale(18, 2)
                .expect("valid decimal type"),
        ),
    ]
}

#[tokio::test]
async fn sql_transforms_equal_iceberg_transforms() -> datafusion::error::Result<()> {
    let seed: u64 = std::env::var("THERMOCLINE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = StdRng::seed_from_u64(seed);
    let columns = sample(&mut rng, 2_000);
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int32, false),
        Field::new("l", DataType::Int64, false),
        Field::new("ts", columns[2].data_type().clone(), false),
        Field::new("d", DataType::Date32, false),
        Field::new("s", DataType::Utf8, false),
        Field::new("dec", columns[5].data_type().clone(), false),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), columns.clone())?;
    let ctx = SessionContext::new();
    thermocline_udfs::register_functions(&ctx);
    ctx.register_table("v", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;

    let cases: Vec<(&str, Transform, usize)> = vec![
        ("iceberg_bucket(16, i)", Transform::Bucket(16), 0),
        ("iceberg_bucket(7, l)", Transform::Bucket(7), 1),
        ("iceberg_bucket(32, ts)", Transform::Bucket(32), 2),
        ("iceberg_bucket(3, d)", Transform::Bucket(3), 3),
        ("iceberg_bucket(16, s)", Transform::Bucket(16), 4),
        ("iceberg_bucket(16, dec)", Transform::Bucket(16), 5),
        ("iceberg_truncate(10, i)", Transform::Truncate(10), 0),
        ("iceberg_truncate(1000, l)", Transform::Truncate(1000), 1),
        ("iceberg_truncate(3, s)", Transform::Truncate(3), 4),
        ("iceberg_year(ts)", Transform::Year, 2),
        ("iceberg_month(ts)", Transform::Month, 2),
        ("iceberg_day(ts)", Transform::Day, 2),
        ("iceberg_hour(ts)", Transform::Hour, 2),
        ("iceberg_year(d)", Transform::Year, 3),
        ("iceberg_month(d)", Transform::Month, 3),
        ("iceberg_day(d)", Transform::Day, 3),
    ];
    for (sql_expr, transform, column) in cases {
        let ours = ctx
            .sql(&format!("SELECT {sql_expr} AS p FROM v"))
            .await?
            .collect()
            .await?;
        let ours = arrow::compute::concat(&ours.iter().map(|b| b.column(0).as_ref()).collect::<Vec<_>>())?;
        let function = create_transform_function(&transform)
            .map_err(|e| datafusion::error::DataFusionError::External(e.into()))?;
        let theirs = function
            .transform(columns[column].clone())
            .map_err(|e| datafusion::error::DataFusionError::External(e.into()))?;
        // The iceberg crate returns dates for day(ts); compare as integers.
        let theirs = if theirs.data_type() == ours.data_type() {
            theirs
        } else {
            arrow::compute::cast(&theirs, ours.data_type())?
        };
        assert_eq!(ours.len(), theirs.len());
        for row in 0..ours.len() {
            assert_eq!(
                ours.slice(row, 1).as_ref(),
                theirs.slice(row, 1).as_ref(),
                "{sql_expr} differs from iceberg's {transform} at row {row} (seed {seed})"
            );
        }
    }
    Ok(())
}
