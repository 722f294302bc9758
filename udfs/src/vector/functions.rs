//! pgvector's functions: the distances, `vector_dims`, `vector_norm`,
//! `l2_normalize`, and the casts `vector_in` / `vector_out`.
//!
//! Each vector argument may be a `FixedSizeList` or a `List` of any
//! numbers, vector text, or NULL (an untyped `$1` before it is bound), as
//! a column or a constant on either side. The signatures are
//! user-defined so DataFusion never coerces one of these into another: a
//! type that is none of them is a planning error naming the function.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, StringBuilder, new_null_array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{ScalarValue, internal_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::rows::{Layout, Rows, Vectors, build_vectors};
use super::{MAX_DIMENSIONS, VectorError, item_field, kernels, text, vector_field};

/// Which function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorFunctionKind {
    /// `l2_distance(a, b)`, `<->`.
    L2Distance,
    /// `cosine_distance(a, b)`, `<=>`.
    CosineDistance,
    /// `inner_product(a, b)`.
    InnerProduct,
    /// `vector_negative_inner_product(a, b)`, `<#>`.
    NegativeInnerProduct,
    /// `l1_distance(a, b)`, `<+>`.
    L1Distance,
    /// `vector_dims(a)`.
    Dims,
    /// `vector_norm(a)`.
    Norm,
    /// `l2_normalize(a)`.
    L2Normalize,
    /// `vector_in(x, dims)`: the cast to `vector(dims)` (`-1`: unsized).
    In,
    /// `vector_out(v)`: the cast to text.
    Out,
}

impl VectorFunctionKind {
    pub const ALL: [Self; 10] = [
        Self::L2Distance,
        Self::CosineDistance,
        Self::InnerProduct,
        Self::NegativeInnerProduct,
        Self::L1Distance,
        Self::Dims,
        Self::Norm,
        Self::L2Normalize,
        Self::In,
        Self::Out,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::L2Distance => "l2_distance",
            Self::CosineDistance => "cosine_distance",
            Self::InnerProduct => "inner_product",
            Self::NegativeInnerProduct => "vector_negative_inner_product",
            Self::L1Distance => "l1_distance",
            Self::Dims => "vector_dims",
            Self::Norm => "vector_norm",
            Self::L2Normalize => "l2_normalize",
            Self::In => "vector_in",
            Self::Out => "vector_out",
        }
    }

    fn is_distance(self) -> bool {
        matches!(
            self,
            Self::L2Distance
                | Self::CosineDistance
                | Self::InnerProduct
                | Self::NegativeInnerProduct
                | Self::L1Distance
        )
    }
}

/// One of pgvector's functions (see [`VectorFunctionKind`]).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct VectorFunction {
    kind: VectorFunctionKind,
    aliases: Vec<String>,
    signature: Signature,
}

impl VectorFunction {
    pub fn new(kind: VectorFunctionKind) -> Self {
        // DataFusion's own `inner_product` answers to `dot_product` too;
        // ours takes both names (see `super::register`).
        let aliases = match kind {
            VectorFunctionKind::InnerProduct => vec!["dot_product".to_string()],
            _ => Vec::new(),
        };
        Self {
            kind,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    pub fn kind(&self) -> VectorFunctionKind {
        self.kind
    }
}

/// Every vector function.
pub fn all() -> Vec<ScalarUDF> {
    VectorFunctionKind::ALL
        .into_iter()
        .map(|kind| ScalarUDF::new_from_impl(VectorFunction::new(kind)))
        .collect()
}

/// A function as a `ScalarUDF`.
pub fn udf(kind: VectorFunctionKind) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(VectorFunction::new(kind)))
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Whether a type can hold vectors: a list of numbers or vector text (or
/// NULL, or a dictionary of text); the type to pass it on as.
fn vector_argument(t: &DataType) -> Option<DataType> {
    match t {
        DataType::Null => Some(DataType::Null),
        t if is_text(t) => Some(t.clone()),
        DataType::Dictionary(_, value) if is_text(value) => Some(value.as_ref().clone()),
        DataType::FixedSizeList(item, _) | DataType::List(item) | DataType::LargeList(item)
            if item.data_type().is_numeric() || item.data_type() == &DataType::Null =>
        {
            Some(t.clone())
        }
        _ => None,
    }
}

impl ScalarUDFImpl for VectorFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        let expected = match self.kind {
            kind if kind.is_distance() => 2,
            VectorFunctionKind::In => 2,
            _ => 1,
        };
        if arg_types.len() != expected {
            return plan_err!("{name} takes {expected} argument(s), got {}", arg_types.len());
        }
        let mut coerced = Vec::with_capacity(expected);
        for (i, t) in arg_types.iter().enumerate() {
            if self.kind == VectorFunctionKind::In && i == 1 {
                if !t.is_integer() {
                    return plan_err!("{name}: the dimensions must be an integer, not {t}");
                }
                coerced.push(t.clone());
                continue;
            }
            match vector_argument(t) {
                Some(t) => coerced.push(t),
                None if self.kind == VectorFunctionKind::In => {
                    return plan_err!("cannot cast type {t} to vector");
                }
                None => return plan_err!("{name}: expected a vector, not {t}"),
            }
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            VectorFunctionKind::Dims => DataType::Int32,
            VectorFunctionKind::Out => DataType::Utf8,
            VectorFunctionKind::L2Normalize => normalized_type(arg_types.first()),
            VectorFunctionKind::In => {
                return internal_err!("vector_in types its result in return_field_from_args");
            }
            _ => DataType::Float64,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        let name = self.name();
        let field = match self.kind {
            VectorFunctionKind::In => {
                let dims = match args.scalar_arguments.get(1) {
                    Some(Some(value)) => match value.cast_to(&DataType::Int64)? {
                        ScalarValue::Int64(Some(dims)) => dims,
                        _ => return plan_err!("vector_in: the dimensions must not be NULL"),
                    },
                    _ => return plan_err!("vector_in: the dimensions must be a constant"),
                };
                vector_field(name, checked_dims(dims)?)
            }
            VectorFunctionKind::L2Normalize => {
                let dims = match args.arg_fields.first().map(|f| f.data_type()) {
                    Some(DataType::FixedSizeList(_, dims)) => Some(*dims),
                    _ => None,
                };
                vector_field(name, dims)
            }
            _ => {
                let types: Vec<DataType> = args.arg_fields.iter().map(|f| f.data_type().clone()).collect();
                Field::new(name, self.return_type(&types)?, true)
            }
        };
        Ok(Arc::new(field))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        match self.kind {
            VectorFunctionKind::L2Distance => distance(&args.args, rows, kernels::l2_distance),
            VectorFunctionKind::CosineDistance => distance(&args.args, rows, kernels::cosine_distance),
            VectorFunctionKind::InnerProduct => distance(&args.args, rows, kernels::inner_product),
            VectorFunctionKind::NegativeInnerProduct => distance(&args.args, rows, kernels::negative_inner_product),
            VectorFunctionKind::L1Distance => distance(&args.args, rows, kernels::l1_distance),
            VectorFunctionKind::Dims => unary(&args.args, |rows| {
                let dims = (0..rows.len).map(|i| rows.row(i).map_or(0, |r| r.len() as i32));
                Ok(Arc::new(Int32Array::new(dims.collect(), rows.nulls.clone())))
            }),
            VectorFunctionKind::Norm => unary(&args.args, |rows| {
                let norms = (0..rows.len).map(|i| rows.row(i).map_or(0.0, kernels::norm));
                Ok(Arc::new(Float64Array::new(norms.collect(), rows.nulls.clone())))
            }),
            VectorFunctionKind::L2Normalize => {
                let output = args.return_field.data_type().clone();
                unary(&args.args, |rows| l2_normalize(rows, &output))
            }
            VectorFunctionKind::In => {
                let output = args.return_field.data_type().clone();
                let Some(input) = args.args.first() else {
                    return internal_err!("vector_in takes 2 arguments");
                };
                unary(std::slice::from_ref(input), |rows| vector_in(rows, &output))
            }
            VectorFunctionKind::Out => unary(&args.args, |rows| {
                let mut builder = StringBuilder::with_capacity(rows.len, rows.values.len() * 8);
                let mut scratch = String::new();
                for i in 0..rows.len {
                    match rows.row(i) {
                        Some(row) => {
                            scratch.clear();
                            text::write_vector(row, &mut scratch);
                            builder.append_value(&scratch);
                        }
                        None => builder.append_null(),
                    }
                }
                Ok(Arc::new(builder.finish()))
            }),
        }
    }
}

/// `-1` (unsized) or `1..=16000` as the Arrow type wants it.
pub(crate) fn checked_dims(dims: i64) -> Result<Option<i32>> {
    match dims {
        -1 => Ok(None),
        1..=16_000 => Ok(Some(dims as i32)),
        other => plan_err!("dimensions for type vector must be between 1 and {MAX_DIMENSIONS}, not {other}"),
    }
}

/// `l2_normalize` keeps a vector's dimensions in its type.
fn normalized_type(input: Option<&DataType>) -> DataType {
    match input {
        Some(DataType::FixedSizeList(_, dims)) => DataType::FixedSizeList(item_field(), *dims),
        _ => DataType::List(item_field()),
    }
}

/// Apply `f` to the vectors of a one-vector function's argument: a
/// constant gives a constant.
fn unary(args: &[ColumnarValue], f: impl FnOnce(&Rows) -> Result<ArrayRef>) -> Result<ColumnarValue> {
    let [arg] = args else {
        return internal_err!("expected 1 argument, got {}", args.len());
    };
    match arg {
        ColumnarValue::Array(array) => Ok(ColumnarValue::Array(f(&Rows::from_array(array)?)?)),
        ColumnarValue::Scalar(scalar) => {
            let out = f(&Rows::from_array(&scalar.to_array_of_size(1)?)?)?;
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        }
    }
}

/// `kernel(a, b)` for each row, NULL when either is NULL. The first
/// argument's dimensions are the expected ones.
fn distance<K: Fn(&[f32], &[f32]) -> f64>(args: &[ColumnarValue], rows: usize, kernel: K) -> Result<ColumnarValue> {
    let [left, right] = args else {
        return internal_err!("expected 2 arguments, got {}", args.len());
    };
    let (left, right) = (Vectors::of(left)?, Vectors::of(right)?);
    match (&left, &right) {
        (Vectors::Constant(a), Vectors::Constant(b)) => {
            let value = match (a, b) {
                (Some(a), Some(b)) => Some(checked(a, b, &kernel)?),
                _ => None,
            };
            return Ok(ColumnarValue::Scalar(ScalarValue::Float64(value)));
        }
        (Vectors::Constant(None), _) | (_, Vectors::Constant(None)) => {
            return Ok(ColumnarValue::Array(new_null_array(&DataType::Float64, rows)));
        }
        _ => {}
    }
    let nulls = NullBuffer::union(left.nulls(), right.nulls());
    let values = match (&left, &right) {
        // The common case, `ORDER BY embedding <-> $1`: a vector column
        // against one query vector. One dimension check, then the kernel
        // over consecutive rows of the flat buffer. (Rows under a NULL
        // are computed too: cheaper than a branch, and masked by `nulls`.)
        (Vectors::Column(column), Vectors::Constant(Some(query))) => {
            fixed_against(column, query, |row| kernel(row, query), VectorError::dimensions)?
        }
        (Vectors::Constant(Some(query)), Vectors::Column(column)) => fixed_against(
            column,
            query,
            |row| kernel(query, row),
            |d, q| VectorError::dimensions(q, d),
        )?,
        _ => None,
    };
    let values = match values {
        Some(values) => values,
        None => {
            let mut values = Vec::with_capacity(rows);
            for i in 0..rows {
                values.push(match (left.get(i), right.get(i)) {
                    (Some(a), Some(b)) => checked(a, b, &kernel)?,
                    _ => 0.0,
                });
            }
            values
        }
    };
    if values.len() != rows {
        return internal_err!("computed {} distances for {rows} rows", values.len());
    }
    Ok(ColumnarValue::Array(Arc::new(Float64Array::new(values.into(), nulls))))
}

/// `kernel(a, b)` once the dimensions agree.
fn checked(a: &[f32], b: &[f32], kernel: impl Fn(&[f32], &[f32]) -> f64) -> Result<f64> {
    if a.len() != b.len() {
        return Err(VectorError::dimensions(a.len(), b.len()).into());
    }
    Ok(kernel(a, b))
}

/// The distances of a fixed-size column to one vector, or `None` when the
/// column is not fixed-size (the caller's general loop handles it).
/// `mismatch(column dims, query dims)` is the error for differing
/// dimensions, raised only if some row is not NULL.
fn fixed_against(
    column: &Rows,
    query: &[f32],
    distance: impl Fn(&[f32]) -> f64,
    mismatch: impl Fn(usize, usize) -> VectorError,
) -> Result<Option<Vec<f64>>> {
    let Layout::Fixed(dims) = column.layout else {
        return Ok(None);
    };
    if dims == 0 || column.all_null() {
        return Ok(Some(vec![0.0; column.len]));
    }
    if dims != query.len() {
        return Err(mismatch(dims, query.len()).into());
    }
    let values = &column.values[..column.len * dims];
    Ok(Some(values.chunks_exact(dims).map(distance).collect()))
}

/// pgvector's `l2_normalize`: each element over the norm (computed in
/// `f64`); a zero vector stays zero.
fn l2_normalize(rows: &Rows, output: &DataType) -> Result<ArrayRef> {
    build_vectors(output, rows.len, |i, out| {
        let Some(row) = rows.row(i) else {
            return Ok(false);
        };
        let norm = kernels::norm(row);
        if norm > 0.0 {
            for x in row {
                let scaled = (*x as f64 / norm) as f32;
                if scaled.is_infinite() {
                    return Err(
                        VectorError::new(super::VectorErrorKind::OutOfRange, "value out of range: overflow").into(),
                    );
                }
                out.push(scaled);
            }
        } else {
            out.extend_from_slice(row);
        }
        Ok(true)
    })
}

/// The cast to `output` (`vector(n)` or an unsized `vector`): checks the
/// elements and the dimensions; reuses the values buffer when it can.
fn vector_in(rows: &Rows, output: &DataType) -> Result<ArrayRef> {
    rows.check_finite_and_size()?;
    let expected = match output {
        DataType::FixedSizeList(_, dims) => Some(*dims as usize),
        _ => None,
    };
    if let (Some(expected), Layout::Fixed(dims)) = (expected, &rows.layout) {
        if rows.all_null() {
            return Ok(new_null_array(output, rows.len));
        }
        if *dims != expected {
            return Err(VectorError::dimensions(expected, *dims).into());
        }
        let values = Arc::new(arrow::array::Float32Array::new(
            rows.values.slice(0, rows.len * expected),
            None,
        ));
        return Ok(Arc::new(arrow::array::FixedSizeListArray::try_new(
            item_field(),
            expected as i32,
            values,
            rows.nulls.clone(),
        )?));
    }
    build_vectors(output, rows.len, |i, out| {
        let Some(row) = rows.row(i) else {
            return Ok(false);
        };
        if let Some(expected) = expected
            && row.len() != expected
        {
            return Err(VectorError::dimensions(expected, row.len()).into());
        }
        out.extend_from_slice(row);
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, FixedSizeListArray, Float32Array, StringArray};
    use arrow::datatypes::Float64Type;
    use datafusion::config::ConfigOptions;

    fn vectors(rows: &[Option<[f32; 3]>]) -> ArrayRef {
        let values: Vec<f32> = rows.iter().flat_map(|r| r.unwrap_or([0.0; 3])).collect();
        let nulls = NullBuffer::from(rows.iter().map(Option::is_some).collect::<Vec<_>>());
        Arc::new(FixedSizeListArray::new(
            item_field(),
            3,
            Arc::new(Float32Array::from(values)),
            Some(nulls),
        ))
    }

    fn text(s: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.to_string())))
    }

    fn call(kind: VectorFunctionKind, args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let function = VectorFunction::new(kind);
        let arg_fields: Vec<FieldRef> = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
            .collect();
        let scalars: Vec<Option<ScalarValue>> = args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => Some(s.clone()),
                ColumnarValue::Array(_) => None,
            })
            .collect();
        let scalar_refs: Vec<Option<&ScalarValue>> = scalars.iter().map(Option::as_ref).collect();
        let return_field = function.return_field_from_args(ReturnFieldArgs {
            arg_fields: &arg_fields,
            scalar_arguments: &scalar_refs,
        })?;
        let number_rows = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            })
            .unwrap_or(1);
        function.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows,
            return_field,
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    fn floats(value: ColumnarValue) -> Vec<Option<f64>> {
        let array = value.to_array(1).expect("array");
        array.as_primitive::<Float64Type>().iter().collect()
    }

    #[test]
    fn distances_of_a_column_to_a_constant_on_either_side() -> Result<()> {
        let column = vectors(&[Some([1.0, 2.0, 3.0]), None, Some([4.0, 5.0, 6.0])]);
        for (left, right) in [
            (ColumnarValue::Array(Arc::clone(&column)), text("[4,5,6]")),
            (text("[4,5,6]"), ColumnarValue::Array(Arc::clone(&column))),
        ] {
            let out = call(VectorFunctionKind::L2Distance, vec![left.clone(), right.clone()])?;
            assert_eq!(floats(out), vec![Some(27f64.sqrt()), None, Some(0.0)]);
            let out = call(VectorFunctionKind::InnerProduct, vec![left.clone(), right.clone()])?;
            assert_eq!(floats(out), vec![Some(32.0), None, Some(77.0)]);
            let out = call(VectorFunctionKind::NegativeInnerProduct, vec![left, right])?;
            assert_eq!(floats(out), vec![Some(-32.0), None, Some(-77.0)]);
        }
        Ok(())
    }

    #[test]
    fn two_columns_and_two_constants() -> Result<()> {
        let a = vectors(&[Some([1.0, 0.0, 0.0]), Some([1.0, 1.0, 0.0]), None]);
        let b = vectors(&[Some([0.0, 1.0, 0.0]), Some([2.0, 2.0, 0.0]), Some([1.0, 1.0, 1.0])]);
        let out = call(
            VectorFunctionKind::CosineDistance,
            vec![ColumnarValue::Array(a), ColumnarValue::Array(b)],
        )?;
        let got = floats(out);
        assert_eq!(got[0], Some(1.0));
        assert!(got[1].is_some_and(|d| d.abs() < 1e-7), "{got:?}");
        assert_eq!(got[2], None);

        let out = call(VectorFunctionKind::L1Distance, vec![text("[1,2,3]"), text("[4,5,7]")])?;
        assert!(matches!(out, ColumnarValue::Scalar(ScalarValue::Float64(Some(10.0)))));
        let out = call(
            VectorFunctionKind::L1Distance,
            vec![text("[1,2,3]"), ColumnarValue::Scalar(ScalarValue::Null)],
        )?;
        assert!(matches!(out, ColumnarValue::Scalar(ScalarValue::Float64(None))));
        Ok(())
    }

    #[test]
    fn dimensions_must_agree_and_the_first_argument_sets_them() -> Result<()> {
        let column = vectors(&[Some([1.0, 2.0, 3.0])]);
        let error = call(
            VectorFunctionKind::L2Distance,
            vec![ColumnarValue::Array(Arc::clone(&column)), text("[1,2]")],
        )
        .expect_err("3 vs 2");
        assert_eq!(error.to_string(), "External error: expected 3 dimensions, not 2");
        let error = call(
            VectorFunctionKind::L2Distance,
            vec![text("[1,2]"), ColumnarValue::Array(column)],
        )
        .expect_err("2 vs 3");
        assert!(error.to_string().ends_with("expected 2 dimensions, not 3"), "{error}");
        // No error when every row is NULL.
        let nulls = vectors(&[None, None]);
        let out = call(
            VectorFunctionKind::L2Distance,
            vec![ColumnarValue::Array(nulls), text("[1,2]")],
        )?;
        assert_eq!(floats(out), vec![None, None]);
        Ok(())
    }

    #[test]
    fn dims_norm_normalize_and_text() -> Result<()> {
        let column = vectors(&[Some([3.0, 4.0, 0.0]), None, Some([0.0, 0.0, 0.0])]);
        let dims = call(
            VectorFunctionKind::Dims,
            vec![ColumnarValue::Array(Arc::clone(&column))],
        )?
        .to_array(3)?;
        assert_eq!(
            dims.as_primitive::<arrow::datatypes::Int32Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(3), None, Some(3)]
        );
        let norms = call(
            VectorFunctionKind::Norm,
            vec![ColumnarValue::Array(Arc::clone(&column))],
        )?;
        assert_eq!(floats(norms), vec![Some(5.0), None, Some(0.0)]);

        let normalized = call(
            VectorFunctionKind::L2Normalize,
            vec![ColumnarValue::Array(Arc::clone(&column))],
        )?;
        let normalized = normalized.to_array(3)?;
        assert_eq!(normalized.data_type(), &DataType::FixedSizeList(item_field(), 3));
        let text_out = call(VectorFunctionKind::Out, vec![ColumnarValue::Array(normalized)])?.to_array(3)?;
        assert_eq!(
            text_out.as_string::<i32>().iter().collect::<Vec<_>>(),
            vec![Some("[0.6,0.8,0]"), None, Some("[0,0,0]")]
        );
        Ok(())
    }

    #[test]
    fn vector_in_checks_and_types() -> Result<()> {
        let strings: ArrayRef = Arc::new(StringArray::from(vec![Some("[1,2,3]"), None]));
        let dims3 = ColumnarValue::Scalar(ScalarValue::Int64(Some(3)));
        let out = call(
            VectorFunctionKind::In,
            vec![ColumnarValue::Array(Arc::clone(&strings)), dims3.clone()],
        )?;
        let out = out.to_array(2)?;
        assert_eq!(out.data_type(), &DataType::FixedSizeList(item_field(), 3));
        assert_eq!(out.null_count(), 1);

        let dims2 = ColumnarValue::Scalar(ScalarValue::Int64(Some(2)));
        let error = call(VectorFunctionKind::In, vec![ColumnarValue::Array(strings), dims2]).expect_err("3 vs 2");
        assert!(error.to_string().ends_with("expected 2 dimensions, not 3"), "{error}");

        let unsized_ = ColumnarValue::Scalar(ScalarValue::Int64(Some(-1)));
        let out = call(VectorFunctionKind::In, vec![text("[1.5, 2]"), unsized_.clone()])?;
        let ColumnarValue::Scalar(ScalarValue::List(list)) = out else {
            panic!("expected a list scalar");
        };
        assert_eq!(
            list.value(0).as_primitive::<arrow::datatypes::Float32Type>().values(),
            &[1.5, 2.0]
        );

        let nan = ScalarValue::List(ScalarValue::new_list_nullable(
            &[ScalarValue::Float64(Some(1.0)), ScalarValue::Float64(Some(f64::NAN))],
            &DataType::Float64,
        ));
        let error = call(VectorFunctionKind::In, vec![ColumnarValue::Scalar(nan), unsized_]).expect_err("NaN");
        assert!(error.to_string().ends_with("NaN not allowed in vector"), "{error}");

        let zero = ColumnarValue::Scalar(ScalarValue::Int64(Some(0)));
        let error = call(VectorFunctionKind::In, vec![text("[1]"), zero]).expect_err("0 dims");
        assert!(
            error
                .to_string()
                .contains("dimensions for type vector must be between 1 and 16000, not 0"),
            "{error}"
        );
        Ok(())
    }

    #[test]
    fn signatures_reject_what_is_not_a_vector() {
        let l2 = VectorFunction::new(VectorFunctionKind::L2Distance);
        let error = l2
            .coerce_types(&[DataType::Int64, DataType::Utf8])
            .expect_err("not a vector");
        assert!(
            error.to_string().contains("l2_distance: expected a vector, not Int64"),
            "{error}"
        );
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        let fixed = DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float64, true)), 2);
        for t in [list, fixed, DataType::Utf8View, DataType::Null] {
            assert_eq!(l2.coerce_types(&[t.clone(), t.clone()]).ok(), Some(vec![t.clone(), t]));
        }
        let strings = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        assert!(l2.coerce_types(&[strings, DataType::Utf8]).is_err());
        assert!(l2.coerce_types(&[DataType::Utf8]).is_err());
    }
}
