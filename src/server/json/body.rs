//! The bodies of `POST /query` (the request and its JSON answer), of every
//! error answer and of `GET /health`.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rows;
use crate::sql::pg_types;

/// `POST /query`'s body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One statement or several separated by `;`.
    pub sql: String,
    /// Values of `$1, $2, ...` (see [`param_values`](super::param_values)).
    #[serde(default)]
    pub params: Vec<Value>,
}

/// One result column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Column {
    pub name: String,
    /// The PostgreSQL type name (`int8`, `timestamptz`, `jsonb`, `_text`).
    #[serde(rename = "type")]
    pub type_name: String,
}

/// `POST /query`'s JSON answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct QueryResponse {
    pub columns: Vec<Column>,
    /// One array per row, values in column order.
    pub rows: Vec<Vec<Value>>,
    /// The number of `rows`.
    pub row_count: usize,
    /// PostgreSQL's command tag: `SELECT 3`, `INSERT 0 5`, `CREATE TABLE`.
    pub command: String,
}

impl QueryResponse {
    /// The answer for one statement's output. `schema` names and types the
    /// columns (it carries the field metadata that marks `jsonb`); the
    /// batches supply the values.
    pub fn new(command: impl Into<String>, schema: &Schema, batches: &[RecordBatch]) -> Result<Self, ArrowError> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column {
                name: f.name().clone(),
                type_name: pg_types::for_field(f).name.to_string(),
            })
            .collect();
        let rows = rows(schema, batches)?;
        Ok(Self {
            columns,
            row_count: rows.len(),
            rows,
            command: command.into(),
        })
    }
}

/// Every error answer: `{"error": {"message", "sqlstate", "context"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorBody {
    pub message: String,
    /// PostgreSQL's five-character SQLSTATE (`42P01`, `23505`, `55P03`).
    pub sqlstate: String,
    /// Where it happened: `table`, `column`, `file`, `lsn`, `param`...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
}

impl ErrorResponse {
    pub fn new(sqlstate: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorBody {
                message: message.into(),
                sqlstate: sqlstate.into(),
                context: BTreeMap::new(),
            },
        }
    }

    pub fn with_context(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.error.context.insert(key.into(), value.to_string());
        self
    }
}

/// The health answer of `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HealthResponse {
    /// `ok`, or `unavailable` when the hot tier cannot be read.
    pub status: String,
    /// The warehouse folder.
    pub warehouse: String,
    /// This process's shard.
    pub shard: String,
    /// The last lsn committed to the shard's hot tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_lsn: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_refuse_unknown_fields() {
        let ok: QueryRequest = serde_json::from_str(r#"{"sql": "SELECT 1"}"#).expect("no params");
        assert!(ok.params.is_empty());
        assert!(serde_json::from_str::<QueryRequest>(r#"{"sql": "SELECT $1", "param": [1]}"#).is_err());
    }
}
