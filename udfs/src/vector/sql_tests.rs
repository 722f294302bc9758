//! End-to-end: SQL text through DataFusion's PostgreSQL-dialect parser,
//! the operator and type planners, the cast rewrite and the functions, on
//! a plain `SessionContext` with an in-memory table of `vector(3)` rows.

use std::sync::Arc;

use arrow::array::{FixedSizeListArray, Float32Array, Int32Array, RecordBatch};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use crate::sql_test_support::{pg_session, render, rows};

use super::{item_field, kernels, vector_field};

/// `items`: id and a `vector(3)`, with one NULL vector.
const ITEMS: &[(i32, Option<[f32; 3]>)] = &[
    (1, Some([1.0, 0.0, 0.0])),
    (2, Some([0.0, 1.0, 0.0])),
    (3, Some([1.0, 1.0, 0.0])),
    (4, None),
    (5, Some([0.5, 0.5, 0.5])),
    (6, Some([3.0, 4.0, 0.0])),
];

fn vector_column(dims: i32, rows: &[Option<Vec<f32>>]) -> FixedSizeListArray {
    let values: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.clone().unwrap_or_else(|| vec![0.0; dims as usize]))
        .collect();
    let nulls = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
    FixedSizeListArray::new(item_field(), dims, Arc::new(Float32Array::from(values)), Some(nulls))
}

fn context() -> Result<SessionContext> {
    let ctx = pg_session();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        vector_field("embedding", Some(3)),
    ]));
    let ids = Int32Array::from_iter_values(ITEMS.iter().map(|(id, _)| *id));
    let vectors: Vec<Option<Vec<f32>>> = ITEMS.iter().map(|(_, v)| v.map(|v| v.to_vec())).collect();
    let batch = RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(vector_column(3, &vectors))])?;
    ctx.register_batch("items", batch)?;
    Ok(ctx)
}

/// The error of a statement, whether planning or running it fails.
async fn error(ctx: &SessionContext, sql: &str) -> String {
    let result = match ctx.sql(sql).await {
        Ok(frame) => frame.collect().await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => panic!("expected an error from {sql}"),
        Err(e) => e.to_string(),
    }
}

async fn assert_error(ctx: &SessionContext, sql: &str, expected: &str) {
    let message = error(ctx, sql).await;
    assert!(
        message.contains(expected),
        "{sql}: expected {expected:?}, got {message:?}"
    );
}

#[tokio::test]
async fn casts_read_and_print_pgvector_text() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT '[1,2,3]'::vector(3)::text, CAST(' [1.5, -2e3,3 ] ' AS vector)::text, \
             ARRAY[1,2,3]::vector(3)::text, ARRAY[1.0,2.5]::vector::text, CAST(NULL AS vector(3))::text, \
             '[0.1,-0.001,1e6]'::vector::varchar"
        )
        .await?,
        vec!["[1,2,3]|[1.5,-2000,3]|[1,2,3]|[1,2.5]|NULL|[0.1,-0.001,1e+06]"]
    );
    // A cast to vector(3) is a FixedSizeList<Float32, 3>; a bare vector a list.
    // (Marked once analyzed: before, DataFusion gives a cast its source's
    // field metadata.)
    let frame = ctx
        .sql("SELECT '[1,2,3]'::vector(3) AS v, '[1,2]'::vector AS u")
        .await?;
    let schema = frame.clone().into_optimized_plan()?.schema().clone();
    assert_eq!(super::vector_dims_of(schema.field(0).data_type()), Some(3));
    assert!(super::is_vector_field(schema.field(0)));
    assert!(matches!(schema.field(1).data_type(), DataType::List(_)));
    assert_eq!(render(frame.collect().await?)?, vec!["[1.0, 2.0, 3.0]|[1.0, 2.0]"]);
    // Columns print as pgvector text too, and cast to real[] as DataFusion does.
    assert_eq!(
        rows(
            &ctx,
            "SELECT id, embedding::text AS t, embedding::real[] AS a FROM items WHERE id IN (5, 4) ORDER BY id"
        )
        .await?,
        vec!["4|NULL|NULL", "5|[0.5,0.5,0.5]|[0.5, 0.5, 0.5]"]
    );
    Ok(())
}

#[tokio::test]
async fn functions_on_constants_give_known_values() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT l2_distance('[1,2,3]', '[4,5,6]') = sqrt(27), cosine_distance('[1,0]', '[0,1]'), \
             inner_product('[1,2,3]', '[4,5,6]'), vector_negative_inner_product('[1,2,3]', '[4,5,6]'), \
             l1_distance('[1,2,3]', '[4,5,7]'), vector_dims('[1,2,3]'), vector_norm('[3,4]'), \
             l2_normalize('[3,4]')::text, l2_normalize('[0,0]'::vector(2))::text, \
             isnan(cosine_distance('[0,0]', '[1,1]'))"
        )
        .await?,
        vec!["true|1.0|32.0|-32.0|10.0|3|5.0|[0.6,0.8]|[0,0]|true"]
    );
    // Lists of any numbers, and vectors of other element types, are vectors.
    assert_eq!(
        rows(
            &ctx,
            "SELECT inner_product(ARRAY[1,2,3], ARRAY[4.0,5.0,6.0]), vector_dims(ARRAY[1,2]::vector(2)), \
             l2_distance(ARRAY[0,0]::vector, '[3,4]')"
        )
        .await?,
        vec!["32.0|2|5.0"]
    );
    Ok(())
}

#[tokio::test]
async fn functions_on_columns_and_nulls() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT id, l2_distance(embedding, '[1,0,0]'), inner_product('[1,2,3]', embedding), \
             l1_distance(embedding, embedding), vector_dims(embedding), vector_norm(embedding), \
             l2_normalize(embedding)::text, cosine_distance(embedding, NULL) \
             FROM items WHERE id IN (1, 4, 6) ORDER BY id"
        )
        .await?,
        vec![
            "1|0.0|1.0|0.0|3|1.0|[1,0,0]|NULL",
            "4|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
            "6|4.47213595499958|11.0|0.0|3|5.0|[0.6,0.8,0]|NULL",
        ]
    );
    assert_eq!(
        rows(
            &ctx,
            "SELECT l2_distance(NULL, '[1]'), vector_dims(NULL), vector_out(NULL)"
        )
        .await?,
        vec!["NULL|NULL|NULL"]
    );
    Ok(())
}

#[tokio::test]
async fn operators_plan_as_pgvector_defines_them() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT '[1,2,3]' <-> '[4,5,6]' = sqrt(27), '[1,0]' <=> '[0,1]', \
             '[1,2,3]' OPERATOR(vector_negative_inner_product) '[4,5,6]', \
             '[1,2,3]'::vector(3) OPERATOR(l1_distance) '[4,5,7]'"
        )
        .await?,
        vec!["true|1.0|-32.0|10.0"]
    );
    assert_eq!(
        rows(
            &ctx,
            "SELECT id, embedding <-> '[0,0,0]', embedding <=> '[1,0,0]', embedding OPERATOR(vector_negative_inner_product) '[1,1,1]' \
             FROM items WHERE id IN (1, 6) ORDER BY id"
        )
        .await?,
        vec!["1|1.0|0.0|-1.0", "6|5.0|0.4|-7.0"]
    );
    // pgvector's own spelling of the negative inner product.
    assert_eq!(
        rows(
            &ctx,
            "SELECT id, embedding <#> '[1,1,1]', '[1,2,3]'<#>'[4,5,6]' FROM items WHERE id IN (1, 6) ORDER BY embedding <#> '[1,1,1]'"
        )
        .await?,
        vec!["6|-7.0|-32.0", "1|-1.0|-32.0"]
    );
    // `<=>` between non-vectors is still IS NOT DISTINCT FROM.
    assert_eq!(
        rows(
            &ctx,
            "SELECT 1 <=> 1, 1 <=> 2, NULL <=> NULL, 'a' <=> 'a', id <=> 1 FROM items WHERE id = 1"
        )
        .await?,
        vec!["true|false|true|true|true"]
    );
    // jsonb operators and casts keep working beside the vector ones.
    assert_eq!(
        rows(
            &ctx,
            "SELECT '{\"a\": [1]}'::jsonb #> '{a,0}', '{\"a\": 2}'::jsonb ->> 'a'"
        )
        .await?,
        vec!["1|2"]
    );
    Ok(())
}

#[tokio::test]
async fn order_by_distance_limit_is_nearest_neighbours() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT id FROM items ORDER BY embedding <-> '[1,0.9,0.2]' LIMIT 3"
        )
        .await?,
        vec!["3", "5", "1"]
    );

    // A larger table, every operator, against a brute-force sort.
    let mut state = 0x1234_5678_9abc_def1_u64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    };
    let dims = 24;
    let vectors: Vec<Vec<f32>> = (0..300).map(|_| (0..dims).map(|_| random()).collect()).collect();
    let query: Vec<f32> = (0..dims).map(|_| random()).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        vector_field("v", Some(dims)),
    ]));
    let rows_in: Vec<Option<Vec<f32>>> = vectors.iter().cloned().map(Some).collect();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(0..vectors.len() as i32)),
            Arc::new(vector_column(dims, &rows_in)),
        ],
    )?;
    ctx.register_batch("many", batch)?;
    let literal = super::format_vector(&query);
    type Kernel = fn(&[f32], &[f32]) -> f64;
    let kernels: [(&str, Kernel); 4] = [
        ("<->", kernels::l2_distance),
        ("<=>", kernels::cosine_distance),
        (
            "OPERATOR(vector_negative_inner_product)",
            kernels::negative_inner_product,
        ),
        ("OPERATOR(l1_distance)", kernels::l1_distance),
    ];
    for (op, kernel) in kernels {
        let mut expected: Vec<(f64, usize)> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (kernel(v, &query), i))
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let expected: Vec<String> = expected.iter().take(10).map(|(_, i)| i.to_string()).collect();
        let sql = format!("SELECT id FROM many ORDER BY v {op} '{literal}', id LIMIT 10");
        assert_eq!(rows(&ctx, &sql).await?, expected, "{op}");
    }
    Ok(())
}

#[tokio::test]
async fn a_text_parameter_is_the_query_vector() -> Result<()> {
    let ctx = context()?;
    for sql in [
        "SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 3",
        "SELECT id FROM items ORDER BY l2_distance(embedding, $1) LIMIT 3",
    ] {
        let frame = ctx
            .sql(sql)
            .await?
            .with_param_values(vec![ScalarValue::Utf8(Some("[1,0.9,0.2]".into()))])?;
        assert_eq!(render(frame.collect().await?)?, vec!["3", "5", "1"], "{sql}");
    }
    let frame = ctx
        .sql("SELECT id FROM items WHERE embedding <=> $1 < 0.001")
        .await?
        .with_param_values(vec![ScalarValue::Utf8(Some("[2,2,0]".into()))])?;
    assert_eq!(render(frame.collect().await?)?, vec!["3"]);
    Ok(())
}

#[tokio::test]
async fn errors_say_what_is_wrong() -> Result<()> {
    let ctx = context()?;
    assert_error(&ctx, "SELECT ARRAY[1,2]::vector(3)", "expected 3 dimensions, not 2").await;
    assert_error(&ctx, "SELECT '[1,2]'::vector(3)", "expected 3 dimensions, not 2").await;
    assert_error(
        &ctx,
        "SELECT '[1,2'::vector",
        "invalid input syntax for type vector: \"[1,2\"",
    )
    .await;
    assert_error(&ctx, "SELECT '[]'::vector", "vector must have at least 1 dimension").await;
    assert_error(&ctx, "SELECT '[1,NaN]'::vector", "NaN not allowed in vector").await;
    assert_error(
        &ctx,
        "SELECT '[1,Infinity]'::vector",
        "infinite value not allowed in vector",
    )
    .await;
    assert_error(&ctx, "SELECT ARRAY[1, NULL]::vector", "vector must not contain nulls").await;
    assert_error(
        &ctx,
        "SELECT '[1]'::vector(0)",
        "dimensions for type vector must be between 1 and 16000, not 0",
    )
    .await;
    assert_error(
        &ctx,
        "SELECT CAST('[1]' AS vector(16001))",
        "dimensions for type vector must be between 1 and 16000, not 16001",
    )
    .await;
    assert_error(
        &ctx,
        "SELECT embedding <-> '[1,2]' FROM items",
        "expected 3 dimensions, not 2",
    )
    .await;
    assert_error(
        &ctx,
        "SELECT '[1,2]' <-> embedding FROM items",
        "expected 2 dimensions, not 3",
    )
    .await;
    assert_error(
        &ctx,
        "SELECT l2_distance(1, '[1]')",
        "l2_distance: expected a vector, not Int64",
    )
    .await;
    assert_error(&ctx, "SELECT 1 <-> 2", "l2_distance: expected a vector, not Int64").await;
    assert_error(
        &ctx,
        "SELECT embedding <-> 'oops' FROM items",
        "invalid input syntax for type vector: \"oops\"",
    )
    .await;
    Ok(())
}

#[tokio::test]
async fn ours_replace_datafusions_array_functions_even_after_a_rebuild() -> Result<()> {
    let ctx = context()?;
    // Registering again rebuilds the session state, which re-registers
    // every function in no fixed order: DataFusion's `inner_product` must
    // not come back through its `dot_product` alias.
    for _ in 0..3 {
        crate::register_functions(&ctx);
        assert_eq!(
            rows(
                &ctx,
                "SELECT inner_product('[1,2,3]', '[4,5,6]'), dot_product('[1,2,3]', '[4,5,6]'), \
                 cosine_distance('[1,0]', '[0,1]'), '[1,2]'::vector(2) <-> '[1,2]'"
            )
            .await?,
            vec!["32.0|32.0|1.0|0.0"]
        );
    }
    Ok(())
}
