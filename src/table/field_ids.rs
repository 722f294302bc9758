//! Reading Parquet files by Iceberg field id.
//!
//! Iceberg tracks columns by field id, not by name: after
//! `ALTER TABLE ... RENAME COLUMN` old files hold the column under its old
//! name, and after `DROP COLUMN b` + `ADD COLUMN b` old files hold a
//! *different* column called `b`. DataFusion's Parquet scan matches table
//! columns to file columns by name, so [`FieldIdAdapterFactory`] plugs into
//! the scan (`FileScanConfigBuilder::with_expr_adapter`) and matches them by
//! the `PARQUET:field_id` that the Parquet reader puts in each Arrow field's
//! metadata. A file without any field ids is matched by name.
//!
//! # How
//! For each file, [`FieldIdAdapterFactory::create`] renames the file's fields
//! to the table names their ids match (a file field no table column claims
//! gets an unused name, so nothing matches it) and lets DataFusion's
//! [`DefaultPhysicalExprAdapter`] do the rest (casts for widened types,
//! NULL for columns the file does not have). The expressions that adapter
//! returns then have every `Column` renamed back to the file's REAL name at
//! its index: after the adapter, the Parquet opener looks columns up by name
//! in the file (projection mask, row filter, row-group statistics, page
//! index, bloom filters). With the table's names left in, a swap `a` <-> `b`
//! by renames would read, and prune with the statistics of, the wrong column.
//! Since every column then names the file column it reads, pruning for
//! renamed columns uses that column's own statistics and stays on.
//!
//! Top-level columns only: fields nested in structs are still matched by
//! name (by DataFusion's struct cast).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{exec_err, internal_err};
use datafusion::error::Result as DfResult;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr_adapter::{DefaultPhysicalExprAdapter, PhysicalExprAdapter, PhysicalExprAdapterFactory};

use crate::hot::FIELD_ID;

/// The field id in an Arrow field's metadata, as the Parquet reader sets it.
fn field_id(field: &Field) -> Option<i32> {
    field.metadata().get(FIELD_ID).and_then(|v| v.parse().ok())
}

/// Matches a scan's table columns to each file's columns by field id. Holds
/// the field id of each table column, by name.
#[derive(Debug, Clone, Default)]
pub struct FieldIdAdapterFactory {
    ids: HashMap<String, i32>,
}

impl FieldIdAdapterFactory {
    /// A factory for table columns with these `(name, field id)` pairs. A
    /// table column with no pair is matched by name, to a file column whose
    /// field id no table column has.
    pub fn new(ids: impl IntoIterator<Item = (String, i32)>) -> Self {
        Self {
            ids: ids.into_iter().collect(),
        }
    }

    /// A factory for the top-level columns of an Iceberg schema.
    pub fn from_iceberg(schema: &iceberg::spec::Schema) -> Self {
        Self::new(schema.as_struct().fields().iter().map(|f| (f.name.clone(), f.id)))
    }
}

impl PhysicalExprAdapterFactory for FieldIdAdapterFactory {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> DfResult<Arc<dyn PhysicalExprAdapter>> {
        let physical_ids: Vec<Option<i32>> = physical_file_schema.fields().iter().map(|f| field_id(f)).collect();
        if physical_ids.iter().all(Option::is_none) {
            // No field ids (e.g. written by an engine that does not set
            // them): names are all there is.
            return Ok(Arc::new(DefaultPhysicalExprAdapter::new(
                logical_file_schema,
                physical_file_schema,
            )));
        }

        let table_ids: HashSet<i32> = self.ids.values().copied().collect();
        let mut by_id: HashMap<i32, &str> = HashMap::new();
        for field in logical_file_schema.fields() {
            if let Some(id) = self.ids.get(field.name()) {
                by_id.insert(*id, field.name());
            }
        }
        // The table name each file column is read as, if any.
        let mut used: HashSet<&str> = HashSet::new();
        let mut matched: Vec<Option<&str>> = Vec::with_capacity(physical_ids.len());
        for id in &physical_ids {
            let name = id.and_then(|id| by_id.get(&id).copied()).filter(|n| used.insert(n));
            matched.push(name);
        }
        // Table columns without a field id: by name, to a file column whose
        // id (if any) is none of the table's.
        for (i, field) in physical_file_schema.fields().iter().enumerate() {
            if matched[i].is_some() || physical_ids[i].is_some_and(|id| table_ids.contains(&id)) {
                continue;
            }
            if let Ok(logical) = logical_file_schema.field_with_name(field.name())
                && !self.ids.contains_key(logical.name())
                && used.insert(logical.name())
            {
                matched[i] = Some(logical.name());
            }
        }

        let logical_names: HashSet<&str> = logical_file_schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut names: Vec<String> = Vec::with_capacity(matched.len());
        for (i, name) in matched.iter().enumerate() {
            names.push(match name {
                Some(name) => (*name).to_string(),
                None => {
                    // Unmatched (a dropped column, or one the table does
                    // not know): a name no table column has.
                    let mut name = match physical_ids[i] {
                        Some(id) => format!("__field_{id}"),
                        None => format!("__column_{i}"),
                    };
                    while logical_names.contains(name.as_str()) || names.contains(&name) {
                        name.push('_');
                    }
                    name
                }
            });
        }

        let physical_names: Vec<String> = physical_file_schema.fields().iter().map(|f| f.name().clone()).collect();
        if names == physical_names {
            return Ok(Arc::new(DefaultPhysicalExprAdapter::new(
                logical_file_schema,
                physical_file_schema,
            )));
        }
        let fields: Vec<FieldRef> = physical_file_schema
            .fields()
            .iter()
            .zip(&names)
            .map(|(f, name)| Arc::new(f.as_ref().clone().with_name(name)))
            .collect();
        let renamed = Arc::new(Schema::new_with_metadata(
            fields,
            physical_file_schema.metadata().clone(),
        ));
        // A name the file has twice cannot be told apart by the name-based
        // lookups after the adapter.
        let ambiguous = physical_names
            .iter()
            .map(|n| physical_names.iter().filter(|m| *m == n).count() > 1)
            .collect();
        Ok(Arc::new(FieldIdAdapter {
            inner: DefaultPhysicalExprAdapter::new(logical_file_schema, renamed.clone()),
            renamed,
            physical_names,
            ambiguous,
        }))
    }
}

/// Rewrites table expressions to one file's columns, matched by field id.
#[derive(Debug)]
struct FieldIdAdapter {
    /// The default adapter over the file schema renamed to table names.
    inner: DefaultPhysicalExprAdapter,
    /// The file schema, each field renamed to the table column it is.
    renamed: SchemaRef,
    /// The file's real field names, by index.
    physical_names: Vec<String>,
    /// Which file field names occur more than once in the file.
    ambiguous: Vec<bool>,
}

impl PhysicalExprAdapter for FieldIdAdapter {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> DfResult<Arc<dyn PhysicalExpr>> {
        let expr = self.inner.rewrite(expr)?;
        expr.transform_up(|e| {
            let Some(column) = e.downcast_ref::<Column>() else {
                return Ok(Transformed::no(e));
            };
            let index = column.index();
            let (Some(renamed), Some(real)) = (self.renamed.fields().get(index), self.physical_names.get(index)) else {
                return internal_err!("column {column} is outside the file schema");
            };
            if renamed.name() != column.name() {
                return internal_err!(
                    "column {column} does not match file column {index} (\"{}\")",
                    renamed.name()
                );
            }
            if self.ambiguous.get(index).copied().unwrap_or(true) {
                return exec_err!("the Parquet file has more than one column named \"{real}\"");
            }
            if real == column.name() {
                return Ok(Transformed::no(e));
            }
            Ok(Transformed::yes(
                Arc::new(Column::new(real, index)) as Arc<dyn PhysicalExpr>
            ))
        })
        .data()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use arrow::array::{ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::DataType;
    use arrow::util::display::array_value_to_string;
    use datafusion::common::config::TableParquetOptions;
    use datafusion::datasource::listing::PartitionedFile;
    use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
    use datafusion::datasource::source::DataSourceExec;
    use datafusion::execution::object_store::ObjectStoreUrl;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{binary, col, lit};
    use datafusion::physical_plan::filter::FilterExec;
    use datafusion::physical_plan::metrics::MetricValue;
    use datafusion::physical_plan::{ExecutionPlan, collect};
    use datafusion::prelude::SessionContext;
    use iceberg::spec::{NestedField, PrimitiveType, Type};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A file field with a field id.
    fn with_id(name: &str, id: i32, data_type: DataType) -> Field {
        Field::new(name, data_type, true).with_metadata([(FIELD_ID.to_string(), id.to_string())].into())
    }

    /// A table field (no metadata, as the provider's schema has).
    fn table(fields: &[(&str, DataType)]) -> SchemaRef {
        Arc::new(Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    fn ints(values: &[Option<i64>]) -> ArrayRef {
        Arc::new(Int64Array::from(values.to_vec()))
    }

    /// Write `columns` under `fields` to `dir/name`, `per_group` rows per
    /// row group; the file for a scan.
    fn write(dir: &Path, name: &str, fields: Vec<Field>, columns: Vec<ArrayRef>, per_group: usize) -> PartitionedFile {
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let path = dir.join(name);
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(per_group))
            .build();
        let mut writer = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        PartitionedFile::new(path.to_string_lossy().to_string(), size)
    }

    struct Scanned {
        /// Rows as strings, in scan order.
        rows: Vec<Vec<String>>,
        /// Row groups pruned by statistics.
        pruned_row_groups: usize,
    }

    /// Scan `files` as `logical` through the field-id adapter; with
    /// `predicate` (over `logical`), pruning and a filter on top.
    async fn scan(
        files: Vec<PartitionedFile>,
        logical: &SchemaRef,
        factory: FieldIdAdapterFactory,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        pushdown: bool,
    ) -> Scanned {
        let mut options = TableParquetOptions::default();
        options.global.pushdown_filters = pushdown;
        options.global.pruning = true;
        let mut source = ParquetSource::new(logical.clone())
            .with_table_parquet_options(options)
            .with_enable_page_index(true);
        if let Some(p) = &predicate {
            source = source.with_predicate(p.clone());
        }
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
            .with_file_groups(vec![FileGroup::new(files)])
            .with_expr_adapter(Some(Arc::new(factory)))
            .build();
        let exec: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        let plan: Arc<dyn ExecutionPlan> = match predicate {
            Some(p) => Arc::new(FilterExec::try_new(p, exec.clone()).unwrap()),
            None => exec.clone(),
        };
        let ctx = SessionContext::new();
        let batches = collect(plan, ctx.task_ctx()).await.unwrap();
        let mut rows = Vec::new();
        for batch in &batches {
            assert_eq!(batch.schema().fields().len(), logical.fields().len());
            for (f, l) in batch.schema().fields().iter().zip(logical.fields()) {
                assert_eq!(f.name(), l.name());
                assert_eq!(f.data_type(), l.data_type());
            }
            for r in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| match c.is_null(r) {
                            true => "NULL".to_string(),
                            false => array_value_to_string(c, r).unwrap(),
                        })
                        .collect(),
                );
            }
        }
        let mut pruned_row_groups = 0;
        for metric in exec.metrics().unwrap().iter() {
            if let MetricValue::PruningMetrics { name, pruning_metrics } = metric.value()
                && name == "row_groups_pruned_statistics"
            {
                pruned_row_groups += pruning_metrics.pruned();
            }
        }
        Scanned {
            rows,
            pruned_row_groups,
        }
    }

    fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
        expected
            .iter()
            .map(|r| r.iter().map(|v| v.to_string()).collect())
            .collect()
    }

    fn ids(pairs: &[(&str, i32)]) -> FieldIdAdapterFactory {
        FieldIdAdapterFactory::new(pairs.iter().map(|(n, i)| (n.to_string(), *i)))
    }

    /// `RENAME COLUMN a TO x` (and the column widened int -> long), columns
    /// in another order than the file's; a filter on the renamed column.
    #[tokio::test]
    async fn renamed_column_reads_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "old.parquet",
            vec![with_id("a", 1, DataType::Int32), with_id("s", 2, DataType::Utf8)],
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3, 4])),
                Arc::new(StringArray::from(vec!["p", "q", "r", "t"])),
            ],
            2,
        );
        let logical = table(&[("s", DataType::Utf8), ("x", DataType::Int64)]);
        let factory = ids(&[("s", 2), ("x", 1)]);
        let all = scan(vec![file.clone()], &logical, factory.clone(), None, false).await;
        assert_eq!(all.rows, rows(&[&["p", "1"], &["q", "2"], &["r", "3"], &["t", "4"]]));

        for pushdown in [false, true] {
            let predicate = binary(col("x", &logical).unwrap(), Operator::Gt, lit(2i64), &logical).unwrap();
            let some = scan(vec![file.clone()], &logical, factory.clone(), Some(predicate), pushdown).await;
            assert_eq!(some.rows, rows(&[&["r", "3"], &["t", "4"]]), "pushdown {pushdown}");
            assert_eq!(some.pruned_row_groups, 1, "pushdown {pushdown}");
        }
    }

    /// `DROP COLUMN b` then `ADD COLUMN b`: the old file's `b` is another
    /// column, so `b` is NULL there; the new file's `b` is read.
    #[tokio::test]
    async fn dropped_and_re_added_column_is_null_in_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = write(
            dir.path(),
            "old.parquet",
            vec![with_id("a", 1, DataType::Int64), with_id("b", 2, DataType::Int64)],
            vec![ints(&[Some(1), Some(2)]), ints(&[Some(100), Some(200)])],
            1,
        );
        let new = write(
            dir.path(),
            "new.parquet",
            vec![with_id("a", 1, DataType::Int64), with_id("b", 3, DataType::Utf8)],
            vec![ints(&[Some(3)]), Arc::new(StringArray::from(vec!["three"]))],
            1,
        );
        let logical = table(&[("a", DataType::Int64), ("b", DataType::Utf8)]);
        let factory = ids(&[("a", 1), ("b", 3)]);
        let all = scan(vec![old.clone(), new.clone()], &logical, factory.clone(), None, false).await;
        assert_eq!(all.rows, rows(&[&["1", "NULL"], &["2", "NULL"], &["3", "three"]]));

        // Old `b` (id 2) is not `b`: `b IS NOT NULL` keeps only the new row.
        for pushdown in [false, true] {
            let predicate = datafusion::physical_expr::expressions::is_not_null(col("b", &logical).unwrap()).unwrap();
            let some = scan(
                vec![old.clone(), new.clone()],
                &logical,
                factory.clone(),
                Some(predicate),
                pushdown,
            )
            .await;
            assert_eq!(some.rows, rows(&[&["3", "three"]]), "pushdown {pushdown}");
        }
    }

    /// `ADD COLUMN c`: NULL in files written before.
    #[tokio::test]
    async fn added_column_is_null() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "old.parquet",
            vec![with_id("a", 1, DataType::Int64)],
            vec![ints(&[Some(1), Some(2)])],
            10,
        );
        let logical = table(&[("a", DataType::Int64), ("c", DataType::Int64)]);
        let factory = ids(&[("a", 1), ("c", 2)]);
        let all = scan(vec![file.clone()], &logical, factory.clone(), None, false).await;
        assert_eq!(all.rows, rows(&[&["1", "NULL"], &["2", "NULL"]]));

        let predicate = binary(col("c", &logical).unwrap(), Operator::Gt, lit(0i64), &logical).unwrap();
        let none = scan(vec![file], &logical, factory, Some(predicate), true).await;
        assert!(none.rows.is_empty());
    }

    /// `a` and `b` swap names by three renames. Each row group has distinct
    /// min/max in both columns, so pruning `a` with the statistics of the
    /// file's `a` (which is now `b`) would drop every matching row.
    #[tokio::test]
    async fn swapped_columns_prune_with_their_own_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "old.parquet",
            vec![with_id("a", 1, DataType::Int64), with_id("b", 2, DataType::Int64)],
            vec![
                ints(&[Some(1), Some(2), Some(3), Some(4), Some(5), Some(6)]),
                ints(&[Some(60), Some(50), Some(40), Some(30), Some(20), Some(10)]),
            ],
            2,
        );
        // Table order (a, b), now a = id 2 and b = id 1.
        let logical = table(&[("a", DataType::Int64), ("b", DataType::Int64)]);
        let factory = ids(&[("a", 2), ("b", 1)]);
        let all = scan(vec![file.clone()], &logical, factory.clone(), None, false).await;
        assert_eq!(
            all.rows,
            rows(&[
                &["60", "1"],
                &["50", "2"],
                &["40", "3"],
                &["30", "4"],
                &["20", "5"],
                &["10", "6"]
            ])
        );

        for pushdown in [false, true] {
            // a > 35: rows of row groups 0 and 1; the file's `a` has max 6,
            // so its statistics would prune everything.
            let predicate = binary(col("a", &logical).unwrap(), Operator::Gt, lit(35i64), &logical).unwrap();
            let some = scan(vec![file.clone()], &logical, factory.clone(), Some(predicate), pushdown).await;
            assert_eq!(
                some.rows,
                rows(&[&["60", "1"], &["50", "2"], &["40", "3"]]),
                "pushdown {pushdown}"
            );
            assert_eq!(some.pruned_row_groups, 1, "pushdown {pushdown}");

            // b <= 2 on the other column: only row group 0 survives.
            let predicate = binary(col("b", &logical).unwrap(), Operator::LtEq, lit(2i64), &logical).unwrap();
            let some = scan(vec![file.clone()], &logical, factory.clone(), Some(predicate), pushdown).await;
            assert_eq!(some.rows, rows(&[&["60", "1"], &["50", "2"]]), "pushdown {pushdown}");
            assert_eq!(some.pruned_row_groups, 2, "pushdown {pushdown}");

            // Both, projected in the other order.
            let flipped = table(&[("b", DataType::Int64), ("a", DataType::Int64)]);
            let predicate = binary(
                binary(col("a", &flipped).unwrap(), Operator::Lt, lit(45i64), &flipped).unwrap(),
                Operator::And,
                binary(col("b", &flipped).unwrap(), Operator::Lt, lit(5i64), &flipped).unwrap(),
                &flipped,
            )
            .unwrap();
            let some = scan(vec![file.clone()], &flipped, factory.clone(), Some(predicate), pushdown).await;
            assert_eq!(some.rows, rows(&[&["3", "40"], &["4", "30"]]), "pushdown {pushdown}");
        }
    }

    /// A file without field ids is read by name.
    #[tokio::test]
    async fn file_without_field_ids_falls_back_to_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            dir.path(),
            "foreign.parquet",
            vec![
                Field::new("b", DataType::Int64, true),
                Field::new("a", DataType::Int64, true),
            ],
            vec![ints(&[Some(10), Some(20)]), ints(&[Some(1), Some(2)])],
            1,
        );
        let logical = table(&[("a", DataType::Int64), ("b", DataType::Int64), ("c", DataType::Utf8)]);
        let factory = ids(&[("a", 7), ("b", 8), ("c", 9)]);
        let all = scan(vec![file.clone()], &logical, factory.clone(), None, false).await;
        assert_eq!(all.rows, rows(&[&["1", "10", "NULL"], &["2", "20", "NULL"]]));

        let predicate = binary(col("b", &logical).unwrap(), Operator::Gt, lit(15i64), &logical).unwrap();
        let some = scan(vec![file], &logical, factory, Some(predicate), true).await;
        assert_eq!(some.rows, rows(&[&["2", "20", "NULL"]]));
        assert_eq!(some.pruned_row_groups, 1);
    }

    /// The rewritten expressions name the file's columns, at their index.
    #[test]
    fn rewritten_columns_carry_the_file_names() {
        let logical = table(&[
            ("a", DataType::Int64),
            ("b", DataType::Int64),
            ("gone", DataType::Int64),
        ]);
        let physical = Arc::new(Schema::new(vec![
            with_id("a", 1, DataType::Int64),
            with_id("b", 2, DataType::Int64),
            with_id("old", 5, DataType::Int64),
        ]));
        let adapter = ids(&[("a", 2), ("b", 1), ("gone", 3)])
            .create(logical.clone(), physical.clone())
            .unwrap();
        let rewritten = adapter.rewrite(col("a", &logical).unwrap()).unwrap();
        let columns = datafusion::physical_expr::utils::collect_columns(&rewritten);
        assert_eq!(columns.into_iter().collect::<Vec<_>>(), vec![Column::new("b", 1)]);
        let rewritten = adapter.rewrite(col("b", &logical).unwrap()).unwrap();
        let columns = datafusion::physical_expr::utils::collect_columns(&rewritten);
        assert_eq!(columns.into_iter().collect::<Vec<_>>(), vec![Column::new("a", 0)]);
        // Not in the file: a NULL literal, no column.
        let rewritten = adapter.rewrite(col("gone", &logical).unwrap()).unwrap();
        assert!(datafusion::physical_expr::utils::collect_columns(&rewritten).is_empty());
    }

    /// A file with the same name twice cannot be read by name after the
    /// adapter: an error, not a guess.
    #[test]
    fn duplicate_file_names_are_an_error() {
        let logical = table(&[("a", DataType::Int64), ("b", DataType::Int64)]);
        let physical = Arc::new(Schema::new(vec![
            with_id("a", 2, DataType::Int64),
            with_id("a", 1, DataType::Int64),
        ]));
        let adapter = ids(&[("a", 1), ("b", 2)]).create(logical.clone(), physical).unwrap();
        assert!(adapter.rewrite(col("a", &logical).unwrap()).is_err());
    }

    #[test]
    fn ids_from_iceberg_schema() {
        let schema = iceberg::spec::Schema::builder()
            .with_fields(vec![
                Arc::new(NestedField::optional(4, "x", Type::Primitive(PrimitiveType::Long))),
                Arc::new(NestedField::required(9, "_lsn", Type::Primitive(PrimitiveType::Long))),
            ])
            .build()
            .unwrap();
        let factory = FieldIdAdapterFactory::from_iceberg(&schema);
        assert_eq!(factory.ids.get("x"), Some(&4));
        assert_eq!(factory.ids.get("_lsn"), Some(&9));
    }
}
