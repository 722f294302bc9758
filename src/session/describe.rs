//! What a statement takes and returns, without running it: the parameter
//! types the planner infers for `$1, $2, ...` and the columns of its rows.
//! The wire protocol's Parse/Describe need this before Execute.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{SelectItem, Statement, TableObject};

use super::{Session, resolve_table};
use crate::error::{Error, ErrorKind, Result};
use crate::sql::Command;

/// A statement's parameters and result columns.
#[derive(Debug, Clone)]
pub struct Description {
    /// `$n`'s type at index n-1 (`None`: the planner cannot tell).
    pub params: Vec<Option<DataType>>,
    /// The columns of its rows; `None` for a statement that returns none.
    pub schema: Option<SchemaRef>,
}

impl Description {
    fn no_rows() -> Self {
        Self {
            params: Vec::new(),
            schema: None,
        }
    }
}

impl Session {
    /// Describe the one statement in `sql` (`None` for an empty one). More
    /// than one statement is an error, as in PostgreSQL's extended
    /// protocol. `params` are the bound values if known (Describe of a
    /// portal); time-travel bounds may need them.
    pub async fn describe(&self, sql: &str, params: &[ScalarValue]) -> Result<Option<Description>> {
        let mut commands = crate::sql::parse(sql)?;
        if commands.len() > 1 {
            return Err(Error::new(
                ErrorKind::Plan,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(mut command) = commands.pop() else {
            return Ok(None);
        };
        super::bind_table_function_args(&mut command, params);
        let _history = self.resolve_command_history(&mut command, params).await?;
        let description = match command {
            Command::DataFusion(statement) => {
                let mut statement = *statement;
                crate::pg_catalog::rewrite(&mut statement)?;
                let returns_rows = returns_rows(&statement);
                let plan = self.plan(statement).await?;
                Description {
                    params: param_types(&plan)?,
                    schema: returns_rows.then(|| Arc::new(plan.schema().as_arrow().clone())),
                }
            }
            Command::Insert(mut insert) => {
                let returning = insert.returning.take();
                let TableObject::TableName(name) = &insert.table else {
                    return Err(Error::not_supported("INSERT INTO a table function is not supported"));
                };
                let name = name.clone();
                let alias = insert.table_alias.as_ref().map(|a| a.alias.value.clone());
                let plan = self.dml_input(Statement::Insert(*insert)).await?;
                self.dml_description(&plan, returning, &name, alias).await?
            }
            Command::Update(mut statement) | Command::Delete(mut statement) => {
                let (name, alias, returning) = match statement.as_mut() {
                    Statement::Update(update) => match &update.table.relation {
                        datafusion::sql::sqlparser::ast::TableFactor::Table { name, alias, .. } => (
                            name.clone(),
                            alias.as_ref().map(|a| a.name.value.clone()),
                            update.returning.take(),
                        ),
                        _ => return Ok(Some(Description::no_rows())),
                    },
                    Statement::Delete(delete) => {
                        let tables = match &delete.from {
                            datafusion::sql::sqlparser::ast::FromTable::WithFromKeyword(t)
                            | datafusion::sql::sqlparser::ast::FromTable::WithoutKeyword(t) => t,
                        };
                        match tables.first().map(|t| &t.relation) {
                            Some(datafusion::sql::sqlparser::ast::TableFactor::Table { name, alias, .. }) => (
                                name.clone(),
                                alias.as_ref().map(|a| a.name.value.clone()),
                                delete.returning.take(),
                            ),
                            _ => return Ok(Some(Description::no_rows())),
                        }
                    }
                    _ => return Ok(Some(Description::no_rows())),
                };
                // UPDATE ... FROM is planned as a join at run time; its
                // parameters are typed then.
                let from = matches!(statement.as_ref(), Statement::Update(u) if u.from.is_some());
                if from {
                    Description {
                        params: Vec::new(),
                        schema: None,
                    }
                } else {
                    let plan = self.dml_input(*statement).await?;
                    self.dml_description(&plan, returning, &name, alias).await?
                }
            }
            Command::Describe(_) => Description {
                params: Vec::new(),
                schema: Some(Arc::new(super::ddl::describe_schema())),
            },
            // CREATE TABLE AS with parameters is typed at run time.
            _ => Description::no_rows(),
        };
        Ok(Some(description))
    }

    async fn plan(&self, statement: Statement) -> Result<LogicalPlan> {
        Ok(self
            .ctx
            .state()
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement)))
            .await?)
    }

    /// Parameters of a DML statement's input plan; its rows are those of
    /// RETURNING, computed over no rows of the table.
    async fn dml_description(
        &self,
        plan: &LogicalPlan,
        returning: Option<Vec<SelectItem>>,
        name: &datafusion::sql::sqlparser::ast::ObjectName,
        alias: Option<String>,
    ) -> Result<Description> {
        let params = param_types(plan)?;
        let schema = match returning {
            None => None,
            Some(items) => {
                let target = self.target_table(name).await?;
                let alias = alias.unwrap_or_else(|| resolve_table(name).map(|t| t.name).unwrap_or_default());
                let empty = RecordBatch::new_empty(target.user_schema().clone());
                let nulls: Vec<ScalarValue> = params
                    .iter()
                    .map(|t| {
                        t.as_ref()
                            .and_then(|t| ScalarValue::try_from(t).ok())
                            .unwrap_or(ScalarValue::Null)
                    })
                    .collect();
                let (schema, _) = crate::dml::returning(&items, &alias, empty, &nulls).await?;
                Some(schema)
            }
        };
        Ok(Description { params, schema })
    }
}

/// Whether a statement DataFusion runs returns rows (a query, EXPLAIN,
/// SHOW) rather than only a command tag.
fn returns_rows(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Query(_)
            | Statement::Explain { .. }
            | Statement::ExplainTable { .. }
            | Statement::ShowVariable { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowFunctions { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowSchemas { .. }
    )
}

/// `$1..$n`'s types, by position.
fn param_types(plan: &LogicalPlan) -> Result<Vec<Option<DataType>>> {
    let by_name = plan.get_parameter_types()?;
    let mut params: Vec<Option<DataType>> = Vec::new();
    for (name, data_type) in by_name {
        let Some(index) = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        if index == 0 {
            continue;
        }
        if params.len() < index {
            params.resize(index, None);
        }
        params[index - 1] = data_type;
    }
    Ok(params)
}
