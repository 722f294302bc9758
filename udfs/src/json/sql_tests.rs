//! End-to-end: SQL text through DataFusion's PostgreSQL-dialect parser,
//! the operator and type planners, the cast rewrite and the functions, on
//! a plain `SessionContext` (thermocline's own tables are tested by
//! `tests/slt/json.slt`).

use std::sync::Arc;

use arrow::array::{Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use crate::sql_test_support::{pg_session, render, rows};

const DOCS: &[Option<&str>] = &[
    Some(r#"{"n": 5, "kind": "click", "tags": ["a", "b"]}"#),
    Some(r#"{"n": 2, "kind": "view"}"#),
    Some("[10, 20, 30]"),
    None,
];

fn context() -> Result<SessionContext> {
    let ctx = pg_session();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("doc", DataType::Utf8, true),
    ]));
    let ids = Int32Array::from_iter_values(1..=DOCS.len() as i32);
    let batch = RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(StringArray::from(DOCS.to_vec()))])?;
    ctx.register_batch("ev", batch)?;
    Ok(ctx)
}

#[tokio::test]
async fn operators_parse_and_plan_in_the_postgres_dialect() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT id, doc->'kind', doc->>'kind', doc->-1, doc->>-3, doc#>>'{tags,1}', doc ? 'n', \
             doc ?| array['x', 'tags'], doc ?& '{n,kind}', doc @> '{\"n\": 5}', '[20]' <@ doc \
             FROM ev ORDER BY id"
        )
        .await?,
        vec![
            r#"1|"click"|click|NULL|NULL|b|true|true|true|true|false"#,
            r#"2|"view"|view|NULL|NULL|NULL|true|false|true|false|false"#,
            "3|NULL|NULL|30|10|NULL|false|false|false|false|true",
            "4|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
        ]
    );
    Ok(())
}

#[tokio::test]
async fn placeholders_bind_operator_operands() -> Result<()> {
    let ctx = context()?;
    let frame = ctx
        .sql("SELECT id FROM ev WHERE doc->>$1 = $2 ORDER BY id")
        .await?
        .with_param_values(vec![
            ScalarValue::Utf8(Some("kind".into())),
            ScalarValue::Utf8(Some("view".into())),
        ])?;
    assert_eq!(render(frame.collect().await?)?, vec!["2"]);
    Ok(())
}

#[tokio::test]
async fn text_operators_keep_their_meaning() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(&ctx, "SELECT 'a' || 'b', doc || '!' FROM ev WHERE id = 2").await?,
        vec![r#"ab|{"n": 2, "kind": "view"}!"#]
    );
    assert_eq!(
        rows(&ctx, "SELECT ARRAY[1, 2] @> ARRAY[1], ARRAY[1] <@ ARRAY[2], 5 - 2").await?,
        vec!["true|false|3"]
    );
    Ok(())
}

#[tokio::test]
async fn casts_to_jsonb_parse_and_canonicalise() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            r#"SELECT '{"b": 1e1, "a": [1.50]}'::jsonb, CAST('[ ]' AS json), NULL::jsonb"#
        )
        .await?,
        vec![r#"{"a": [1.50], "b": 10}|[]|NULL"#]
    );
    let err = ctx.sql("SELECT '{\"a\" 1}'::jsonb").await;
    let err = match err {
        Ok(frame) => frame.collect().await.expect_err("not JSON"),
        Err(e) => e,
    };
    assert!(
        err.to_string()
            .contains(r#"invalid input syntax for type json: Expected ":", but found "1"."#),
        "{err}"
    );
    // A jsonb value embeds as JSON, text as a string.
    assert_eq!(
        rows(
            &ctx,
            "SELECT jsonb_build_object('j', doc::jsonb, 't', doc, 'k', doc->'kind') FROM ev WHERE id = 2"
        )
        .await?,
        vec![r#"{"j": {"n": 2, "kind": "view"}, "k": "view", "t": "{\"n\": 2, \"kind\": \"view\"}"}"#]
    );
    Ok(())
}

#[tokio::test]
async fn concat_and_minus_on_known_jsonb() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT doc::jsonb || '{\"x\": 1}', doc::jsonb - 'n', (doc->'tags') - -1, doc::jsonb #- '{tags,0}' \
             FROM ev WHERE id = 1"
        )
        .await?,
        vec![
            r#"{"n": 5, "x": 1, "kind": "click", "tags": ["a", "b"]}|{"kind": "click", "tags": ["a", "b"]}|["a"]|{"n": 5, "kind": "click", "tags": ["b"]}"#
        ]
    );
    Ok(())
}

#[tokio::test]
async fn jsonb_results_mix_with_text_in_union_case_and_coalesce() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT coalesce(doc->'kind', '\"none\"'), CASE WHEN id = 1 THEN doc->'n' ELSE 'x' END FROM ev ORDER BY id"
        )
        .await?,
        vec![r#""click"|5"#, r#""view"|x"#, r#""none"|x"#, r#""none"|x"#]
    );
    let mut union = rows(&ctx, "SELECT doc->'kind' FROM ev WHERE id = 1 UNION ALL SELECT 'plain'").await?;
    union.sort();
    assert_eq!(union, vec![r#""click""#, "plain"]);
    Ok(())
}

#[tokio::test]
async fn aggregates_group_and_merge_across_partitions() -> Result<()> {
    let ctx = context()?;
    assert_eq!(
        rows(
            &ctx,
            "SELECT jsonb_typeof(doc) AS t, jsonb_array_length(jsonb_agg(id)), jsonb_object_agg(id::text, doc->'n') \
             FROM ev GROUP BY 1 ORDER BY 1 NULLS LAST"
        )
        .await?,
        vec![
            r#"array|1|{"3": null}"#,
            r#"object|2|{"1": 5, "2": 2}"#,
            r#"NULL|1|{"4": null}"#
        ]
    );
    Ok(())
}

#[tokio::test]
async fn registering_twice_is_harmless() -> Result<()> {
    let ctx = context()?;
    crate::register_functions(&ctx);
    assert_eq!(
        rows(&ctx, "SELECT '{\"a\": [1]}'::jsonb #> '{a,0}', 'x' || 'y'").await?,
        vec!["1|xy"]
    );
    Ok(())
}
