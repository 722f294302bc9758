//! PostgreSQL `jsonb`: its operators, functions and aggregates, and the
//! canonical text form every jsonb value is stored and printed in.
//!
//! thermocline stores a `jsonb` column as text (Iceberg `string`, Arrow
//! `Utf8`) holding the value's canonical jsonb text (see [`value`]), so
//! readers that know nothing of jsonb (pyiceberg, DuckDB, Spark) still see
//! valid JSON, and text comparison of two canonical values is jsonb
//! equality for most values (numbers are the exception: `1.0` and `1` are
//! equal jsonb but different text).
//!
//! What this module adds to a session ([`register`]):
//! - functions, under PostgreSQL's names and semantics (`json_*` aliases
//!   where PostgreSQL has a `json_*` twin): see [`functions`], [`build`],
//!   [`aggregate`];
//! - the operators `->`, `->>`, `#>`, `#>>`, `@>`, `<@`, `?`, `?|`, `?&`,
//!   `#-`, and, between values known to be jsonb, `||` and `-`: an
//!   [`ExprPlanner`](datafusion::logical_expr::planner::ExprPlanner) maps
//!   each onto the function PostgreSQL implements it with (see [`planner`]);
//! - the types `jsonb` and `json` in casts (`'{"a": 1}'::jsonb`): a
//!   [`TypePlanner`](datafusion::logical_expr::planner::TypePlanner) makes
//!   them `Utf8` marked with Arrow's canonical `arrow.json` extension type,
//!   and the cast itself parses and canonicalises the text.
//!
//! Every function is `Immutable`, so filters such as
//! `doc->>'kind' = 'click'` are pushed into the table scans and evaluated
//! there, over hot and cold rows alike.
//!
//! [`normalize_jsonb`] is the insert path's half: it turns the text of a
//! column being written into canonical jsonb text, or reports the first row
//! that is not JSON.
//!
//! Not supported (yet): set-returning functions (`jsonb_each`,
//! `jsonb_array_elements`, `jsonb_object_keys`, ...: DataFusion's table
//! functions take constants only, so they could not read a column),
//! jsonpath (`@?`, `@@`, `jsonb_path_query`), `ORDER BY` inside
//! `jsonb_agg`, jsonb ordering (`<`, `>` compare the text), and `||` / `-`
//! on a jsonb *column* without a cast (see [`planner`]).

pub mod aggregate;
mod args;
pub mod build;
pub mod edit;
pub mod functions;
pub mod planner;
#[cfg(test)]
mod sql_tests;
pub mod value;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, GenericStringBuilder, OffsetSizeTrait, StringViewBuilder};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

/// The Arrow field metadata key naming a field's extension type.
pub const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";
/// The Arrow field metadata key holding an extension type's parameters.
pub const EXTENSION_METADATA_KEY: &str = "ARROW:extension:metadata";
/// Arrow's canonical extension type for JSON text in a string column; the
/// marker of a jsonb-typed value in a plan.
pub const JSON_EXTENSION_NAME: &str = "arrow.json";

/// What kind of jsonb error, and so its SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Text that is not JSON (`22P02`, invalid_text_representation).
    Syntax,
    /// Other text that does not read as what it must be: a malformed
    /// `text[]` literal, a path element that is not an integer where an
    /// array is (`22P02`).
    InvalidText,
    /// A valid value the operation does not apply to: the array length of
    /// an object, a path set in a scalar (`22023`, invalid_parameter_value).
    InvalidParameter,
    /// NULL where a key or a path element must be (`22004`,
    /// null_value_not_allowed).
    NullValue,
}

/// An error of a jsonb function or of reading jsonb text, worded as
/// PostgreSQL words it, with PostgreSQL's SQLSTATE ([`JsonError::sqlstate`]).
///
/// It travels through DataFusion as `DataFusionError::External`, so the
/// engine can find it (walking `source()`) and report its SQLSTATE.
///
/// A syntax error prints as PostgreSQL's message, `invalid input syntax for
/// type json`, then the row when there is one (counted from 1, as a user
/// counts the rows of a `VALUES` list), then PostgreSQL's DETAIL line.
/// Other errors print their message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub kind: JsonErrorKind,
    /// The row of the array (0-based) the error is about, when known.
    pub row: Option<usize>,
    /// For a syntax error PostgreSQL's DETAIL line, e.g. `Token "tru" is
    /// invalid.`; else the whole message.
    pub detail: String,
}

impl JsonError {
    pub fn new(kind: JsonErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            row: None,
            detail: detail.into(),
        }
    }

    /// Text that is not JSON; `detail` says why.
    pub fn syntax(detail: impl Into<String>) -> Self {
        Self::new(JsonErrorKind::Syntax, detail)
    }

    /// The same error, located at `row` of an array.
    pub fn at_row(self, row: usize) -> Self {
        Self { row: Some(row), ..self }
    }

    /// PostgreSQL's SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self.kind {
            JsonErrorKind::Syntax | JsonErrorKind::InvalidText => "22P02",
            JsonErrorKind::InvalidParameter => "22023",
            JsonErrorKind::NullValue => "22004",
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == JsonErrorKind::Syntax {
            f.write_str("invalid input syntax for type json")?;
            if let Some(row) = self.row {
                write!(f, " (row {})", row + 1)?;
            }
            write!(f, ": {}", self.detail)
        } else {
            f.write_str(&self.detail)?;
            match self.row {
                Some(row) => write!(f, " (row {})", row + 1),
                None => Ok(()),
            }
        }
    }
}

impl std::error::Error for JsonError {}

impl From<JsonError> for DataFusionError {
    fn from(e: JsonError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// The [`JsonError`] in an error's `source()` chain, if any. DataFusion may
/// wrap it (in `Context` when constant folding, in an Arrow error when a
/// Parquet row filter raised it), so the engine looks for it this way to
/// report its SQLSTATE.
pub fn find_json_error<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e JsonError> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(json) = e.downcast_ref::<JsonError>() {
            return Some(json);
        }
        current = e.source();
    }
    None
}

/// `Err` of a [`JsonErrorKind::InvalidText`] error.
pub(crate) fn invalid_text<T>(message: impl Into<String>) -> datafusion::error::Result<T> {
    Err(JsonError::new(JsonErrorKind::InvalidText, message).into())
}

/// `Err` of a [`JsonErrorKind::InvalidParameter`] error.
pub(crate) fn invalid_parameter<T>(message: impl Into<String>) -> datafusion::error::Result<T> {
    Err(JsonError::new(JsonErrorKind::InvalidParameter, message).into())
}

/// `Err` of a [`JsonErrorKind::NullValue`] error.
pub(crate) fn null_value<T>(message: impl Into<String>) -> datafusion::error::Result<T> {
    Err(JsonError::new(JsonErrorKind::NullValue, message).into())
}

/// Parse every non-null value of a string column and re-serialise it in
/// canonical jsonb text (see [`value`]); the insert path calls this on each
/// jsonb column before the rows are written.
///
/// Accepts `Utf8`, `LargeUtf8` and `Utf8View` and returns the same type.
/// The first value that is not JSON fails the whole array with a
/// [`JsonError`] naming its row.
pub fn normalize_jsonb(array: &ArrayRef) -> Result<ArrayRef, JsonError> {
    match array.data_type() {
        DataType::Utf8 => normalize_offsets::<i32>(array),
        DataType::LargeUtf8 => normalize_offsets::<i64>(array),
        DataType::Utf8View => {
            let strings = array.as_string_view();
            let mut builder = StringViewBuilder::with_capacity(strings.len());
            let mut scratch = String::new();
            for (row, text) in strings.iter().enumerate() {
                match text {
                    Some(text) => builder.append_value(canonical_into(text, row, &mut scratch)?),
                    None => builder.append_null(),
                }
            }
            Ok(Arc::new(builder.finish()))
        }
        other => Err(JsonError::syntax(format!("a jsonb column must hold text, not {other}"))),
    }
}

fn normalize_offsets<O: OffsetSizeTrait>(array: &ArrayRef) -> Result<ArrayRef, JsonError> {
    let strings = array.as_string::<O>();
    let mut builder = GenericStringBuilder::<O>::with_capacity(strings.len(), strings.value_data().len());
    let mut scratch = String::new();
    for (row, text) in strings.iter().enumerate() {
        match text {
            Some(text) => builder.append_value(canonical_into(text, row, &mut scratch)?),
            None => builder.append_null(),
        }
    }
    Ok(Arc::new(builder.finish()))
}

/// The canonical text of `text`, written into `scratch`.
fn canonical_into<'s>(text: &str, row: usize, scratch: &'s mut String) -> Result<&'s str, JsonError> {
    let value = value::parse(text).map_err(|e| e.at_row(row))?;
    scratch.clear();
    value.write_canonical(scratch);
    Ok(scratch.as_str())
}

/// The metadata that marks a field as jsonb (Arrow's `arrow.json`).
pub fn jsonb_metadata() -> HashMap<String, String> {
    HashMap::from([
        (EXTENSION_NAME_KEY.to_string(), JSON_EXTENSION_NAME.to_string()),
        (EXTENSION_METADATA_KEY.to_string(), String::new()),
    ])
}

/// A nullable `Utf8` field named `name`, marked as jsonb.
pub fn jsonb_field(name: &str) -> FieldRef {
    Arc::new(Field::new(name, DataType::Utf8, true).with_metadata(jsonb_metadata()))
}

/// Whether a field is marked as jsonb.
pub fn is_jsonb_field(field: &Field) -> bool {
    field.metadata().get(EXTENSION_NAME_KEY).map(String::as_str) == Some(JSON_EXTENSION_NAME)
}

/// Every jsonb scalar function.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    let mut all = functions::all();
    all.extend(build::all());
    all
}

/// Every jsonb aggregate function.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    aggregate::all()
}

/// Register the jsonb functions, aggregates, operators and casts on a
/// session.
///
/// The type planner is a single slot on DataFusion's session state that a
/// `SessionContext` offers no setter for, so the state is rebuilt around it
/// (keeping every other part and the session id); a type planner already
/// installed keeps first say over the types it knows.
pub fn register(ctx: &SessionContext) {
    use datafusion::execution::SessionStateBuilder;
    use datafusion::logical_expr::registry::FunctionRegistry as _;

    for function in scalar_functions() {
        ctx.register_udf(function);
    }
    for function in aggregate_functions() {
        ctx.register_udaf(function);
    }
    let state = ctx.state_ref();
    let mut state = state.write();
    let session_id = state.session_id().to_string();
    let mut builder = SessionStateBuilder::new_from_existing(state.clone()).with_session_id(session_id);
    let fallback = builder.type_planner().take();
    *state = builder
        .with_type_planner(Arc::new(planner::JsonbTypePlanner::new(fallback)))
        .build();
    // Registering on a SessionState cannot fail (it only appends to a
    // list); the Result belongs to the FunctionRegistry trait.
    let _ = state.register_expr_planner(Arc::new(planner::JsonbOperatorPlanner::new()));
    let _ = state.register_function_rewrite(Arc::new(planner::JsonbCastRewrite::new()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{LargeStringArray, StringArray, StringViewArray};

    #[test]
    fn normalizes_every_string_type() -> Result<(), JsonError> {
        let input: ArrayRef = Arc::new(StringArray::from(vec![
            Some(r#"{"b":1.50,"a":1e2}"#),
            None,
            Some("[ ]"),
        ]));
        let out = normalize_jsonb(&input)?;
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), r#"{"a": 100, "b": 1.50}"#);
        assert!(out.is_null(1));
        assert_eq!(out.value(2), "[]");

        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![r#"{"x":[1,2]}"#]));
        assert_eq!(normalize_jsonb(&large)?.as_string::<i64>().value(0), r#"{"x": [1, 2]}"#);

        let view: ArrayRef = Arc::new(StringViewArray::from(vec![r#"{"bb":1,"a":2}"#]));
        assert_eq!(
            normalize_jsonb(&view)?.as_string_view().value(0),
            r#"{"a": 2, "bb": 1}"#
        );
        Ok(())
    }

    #[test]
    fn bad_input_names_the_row() {
        let input: ArrayRef = Arc::new(StringArray::from(vec![Some("{}"), None, Some("{\"a\":}")]));
        let err = normalize_jsonb(&input).expect_err("row 3 is not JSON");
        assert_eq!(err.row, Some(2));
        assert_eq!(
            err.to_string(),
            "invalid input syntax for type json (row 3): Expected JSON value, but found \"}\"."
        );
        let ints: ArrayRef = Arc::new(arrow::array::Int32Array::from(vec![1]));
        assert!(normalize_jsonb(&ints).is_err());
    }

    #[test]
    fn errors_carry_postgres_sqlstates_through_wrapping() {
        let syntax = JsonError::syntax("Token \"x\" is invalid.");
        assert_eq!(syntax.sqlstate(), "22P02");
        let path = JsonError::new(JsonErrorKind::InvalidParameter, "cannot set path in scalar");
        assert_eq!(path.to_string(), "cannot set path in scalar");
        assert_eq!(path.sqlstate(), "22023");
        assert_eq!(JsonError::new(JsonErrorKind::NullValue, "x").sqlstate(), "22004");

        // As DataFusion hands it back from a Parquet row filter.
        let inner: DataFusionError = syntax.clone().into();
        let wrapped = DataFusionError::Context(
            "scan".to_string(),
            Box::new(DataFusionError::ArrowError(
                Box::new(arrow::error::ArrowError::ExternalError(Box::new(inner))),
                None,
            )),
        );
        assert_eq!(find_json_error(&wrapped), Some(&syntax));
        assert_eq!(find_json_error(&DataFusionError::Plan("other".into())), None);
    }

    #[test]
    fn jsonb_fields_are_marked() {
        assert!(is_jsonb_field(&jsonb_field("doc")));
        assert!(!is_jsonb_field(&Field::new("doc", DataType::Utf8, true)));
    }
}
