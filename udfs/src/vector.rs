//! pgvector's `vector` type: its casts, functions and distance operators.
//!
//! A `vector(n)` is an Arrow `FixedSizeList<Float32, n>` (item field
//! `item`) whose field carries the metadata [`PG_TYPE_KEY`] = `vector`
//! ([`vector_field`]); so it is stored as Iceberg `fixed list<float>` and
//! readers that know nothing of pgvector still see the numbers. Elements
//! are never NULL (the Arrow type would allow it; every input rejects it)
//! and always finite when they came through a cast ([`vector_in`]).
//!
//! What this module adds to a session ([`register`]):
//! - the type `vector(n)` / `vector` in casts and DDL, through a
//!   [`TypePlanner`](datafusion::logical_expr::planner::TypePlanner)
//!   chained onto the one installed before (see [`planner`]);
//! - casts to a vector (from pgvector's text form `'[1,2,3]'`, or from a
//!   list of numbers) as `vector_in(x, n)`, and from a vector to text as
//!   `vector_out(v)`;
//! - the functions `l2_distance`, `cosine_distance`, `inner_product`,
//!   `vector_negative_inner_product`, `l1_distance`, `vector_dims`,
//!   `vector_norm`, `l2_normalize` (see [`functions`]), over the kernels in
//!   [`kernels`];
//! - the operators `<->` (L2), `<=>` (cosine, when an operand is a vector;
//!   otherwise it stays `IS NOT DISTINCT FROM`) and
//!   `OPERATOR(vector_negative_inner_product)`, which is what the engine
//!   rewrites pgvector's `<#>` to (sqlparser cannot tokenize `<#>`).
//!
//! Every vector argument may be a vector of any numeric element type, a
//! list of numbers, or text in vector form: text is how a `$1` of unknown
//! type arrives over the wire, and `ORDER BY embedding <-> $1` is the
//! query this module exists for. A constant argument is converted once per
//! batch, not per row, and a `FixedSizeList<Float32>` column is read in
//! place from its flat values buffer.

pub mod functions;
pub mod kernels;
pub mod planner;
mod rows;
#[cfg(test)]
mod sql_tests;
pub mod text;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

pub use text::{format_vector, parse as parse_vector};

/// The Arrow field metadata key naming a column's PostgreSQL type; the
/// same string as the engine's `sql::pg_types::PG_TYPE_KEY`, repeated here
/// because this crate cannot depend on the engine.
pub const PG_TYPE_KEY: &str = "thermocline.pg_type";
/// The value of [`PG_TYPE_KEY`] on a vector field.
pub const VECTOR_TYPE_NAME: &str = "vector";
/// pgvector's limit on dimensions.
pub const MAX_DIMENSIONS: usize = 16_000;

/// What kind of vector error, and so its SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VectorErrorKind {
    /// Text that is not a vector (`22P02`, invalid_text_representation).
    Syntax,
    /// A vector that is not what it must be: wrong dimensions, none, NaN
    /// or infinite elements (`22000`, data_exception, as pgvector).
    Data,
    /// An element too large for `real` (`22003`, numeric_value_out_of_range).
    OutOfRange,
    /// A NULL element (`22004`, null_value_not_allowed).
    NullElement,
    /// More than [`MAX_DIMENSIONS`] (`54000`, program_limit_exceeded).
    TooManyDimensions,
}

/// An error of a vector function or cast, worded as pgvector words it,
/// with pgvector's SQLSTATE ([`VectorError::sqlstate`]).
///
/// It travels through DataFusion as `DataFusionError::External`, so the
/// engine can find it ([`find_vector_error`]) and report its SQLSTATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorError {
    pub kind: VectorErrorKind,
    pub message: String,
}

impl VectorError {
    pub fn new(kind: VectorErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// `text` is not a vector.
    pub fn syntax(text: &str) -> Self {
        Self::new(
            VectorErrorKind::Syntax,
            format!("invalid input syntax for type vector: \"{text}\""),
        )
    }

    /// A [`VectorErrorKind::Data`] error.
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(VectorErrorKind::Data, message)
    }

    /// A vector of `actual` dimensions where `expected` are needed.
    pub fn dimensions(expected: usize, actual: usize) -> Self {
        Self::data(format!("expected {expected} dimensions, not {actual}"))
    }

    /// A NULL element.
    pub fn null_element() -> Self {
        Self::new(VectorErrorKind::NullElement, "vector must not contain nulls")
    }

    /// pgvector's SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self.kind {
            VectorErrorKind::Syntax => "22P02",
            VectorErrorKind::Data => "22000",
            VectorErrorKind::OutOfRange => "22003",
            VectorErrorKind::NullElement => "22004",
            VectorErrorKind::TooManyDimensions => "54000",
        }
    }
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for VectorError {}

impl From<VectorError> for DataFusionError {
    fn from(e: VectorError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// The [`VectorError`] in an error's `source()` chain, if any (DataFusion
/// may wrap it, in `Context` when constant folding, for one).
pub fn find_vector_error<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e VectorError> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(vector) = e.downcast_ref::<VectorError>() {
            return Some(vector);
        }
        current = e.source();
    }
    None
}

/// The metadata that marks a field as a vector.
pub fn vector_metadata() -> HashMap<String, String> {
    HashMap::from([(PG_TYPE_KEY.to_string(), VECTOR_TYPE_NAME.to_string())])
}

/// The element field of every vector: `item`, `Float32`, nullable (as
/// Arrow's list fields are by default, so vectors built elsewhere have the
/// same type; NULL elements are rejected by the functions, not the type).
pub fn item_field() -> FieldRef {
    Arc::new(Field::new_list_field(DataType::Float32, true))
}

/// The Arrow type of `vector(dims)`, or of an unsized `vector`.
pub fn vector_type(dims: Option<i32>) -> DataType {
    match dims {
        Some(dims) => DataType::FixedSizeList(item_field(), dims),
        None => DataType::List(item_field()),
    }
}

/// A nullable field named `name` of type `vector(dims)`: a
/// `FixedSizeList<Float32, dims>`, or a `List<Float32>` when `dims` is
/// `None` (an unsized `vector`, as in `'[1,2,3]'::vector`), marked with
/// [`PG_TYPE_KEY`] = `vector`.
pub fn vector_field(name: &str, dims: Option<i32>) -> Field {
    Field::new(name, vector_type(dims), true).with_metadata(vector_metadata())
}

/// The dimensions of a vector type: `n` of `FixedSizeList<Float32, n>`;
/// `None` for any other type.
pub fn vector_dims_of(data_type: &DataType) -> Option<i32> {
    match data_type {
        DataType::FixedSizeList(item, dims) if item.data_type() == &DataType::Float32 => Some(*dims),
        _ => None,
    }
}

/// Whether a field is marked as a vector.
pub fn is_vector_field(field: &Field) -> bool {
    field.metadata().get(PG_TYPE_KEY).map(String::as_str) == Some(VECTOR_TYPE_NAME)
}

/// Every vector scalar function.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    functions::all()
}

/// Register the vector functions, operators, type and casts on a session.
///
/// As [`super::json::register`], the type planner slot is filled by
/// rebuilding the session state; the planner installed before (jsonb's)
/// keeps first say over the types it knows.
pub fn register(ctx: &SessionContext) {
    use datafusion::execution::SessionStateBuilder;
    use datafusion::logical_expr::registry::FunctionRegistry as _;

    let state = ctx.state_ref();
    let mut state = state.write();
    let session_id = state.session_id().to_string();
    let mut builder = SessionStateBuilder::new_from_existing(state.clone()).with_session_id(session_id);
    let fallback = builder.type_planner().take();
    *state = builder
        .with_type_planner(Arc::new(planner::VectorTypePlanner::new(fallback)))
        .build();
    // DataFusion has its own `inner_product` (alias `dot_product`) and
    // `cosine_distance` over arrays. Ours replace them, aliases included:
    // a function left behind under an alias would take its name back the
    // next time the state is rebuilt (as above), since rebuilding
    // re-registers every function in no fixed order. Registering on a
    // SessionState cannot fail (it only edits maps and lists); the Result
    // belongs to the FunctionRegistry trait.
    for function in scalar_functions() {
        for name in std::iter::once(function.name()).chain(function.aliases().iter().map(String::as_str)) {
            let _ = state.deregister_udf(name);
        }
        let _ = state.register_udf(Arc::new(function));
    }
    let _ = state.register_expr_planner(Arc::new(planner::VectorOperatorPlanner::new()));
    let _ = state.register_function_rewrite(Arc::new(planner::VectorCastRewrite::new()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_carry_the_type_and_the_marker() {
        let sized = vector_field("embedding", Some(3));
        assert!(is_vector_field(&sized));
        assert_eq!(
            sized.metadata().get("thermocline.pg_type").map(String::as_str),
            Some("vector")
        );
        assert_eq!(vector_dims_of(sized.data_type()), Some(3));
        let DataType::FixedSizeList(item, 3) = sized.data_type() else {
            panic!("{}", sized.data_type());
        };
        assert_eq!((item.name().as_str(), item.data_type()), ("item", &DataType::Float32));

        let unsized_ = vector_field("v", None);
        assert!(is_vector_field(&unsized_));
        assert_eq!(vector_dims_of(unsized_.data_type()), None);
        assert!(matches!(unsized_.data_type(), DataType::List(_)));

        assert!(!is_vector_field(&Field::new("v", DataType::Utf8, true)));
        assert_eq!(
            vector_dims_of(&DataType::FixedSizeList(
                Arc::new(Field::new_list_field(DataType::Float64, true)),
                3
            )),
            None
        );
    }

    #[test]
    fn errors_carry_pgvector_sqlstates_through_wrapping() {
        let error = VectorError::dimensions(3, 2);
        assert_eq!(error.to_string(), "expected 3 dimensions, not 2");
        assert_eq!(error.sqlstate(), "22000");
        assert_eq!(VectorError::syntax("[1").sqlstate(), "22P02");
        assert_eq!(VectorError::null_element().sqlstate(), "22004");
        let wrapped = DataFusionError::Context("simplify".into(), Box::new(error.clone().into()));
        assert_eq!(find_vector_error(&wrapped), Some(&error));
        assert_eq!(find_vector_error(&DataFusionError::Plan("x".into())), None);
    }
}
