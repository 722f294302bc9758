//! The vectors of one function argument as flat `f32` values, whatever
//! the argument's type: a vector (read in place), a list of numbers
//! (converted once), or vector text (parsed once).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, ListArray};
use arrow::buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Float32Type};
use datafusion::common::{ScalarValue, exec_err, internal_err};
use datafusion::error::Result;
use datafusion::logical_expr::ColumnarValue;

use super::{MAX_DIMENSIONS, VectorError, item_field, text};

/// Where each row's elements are in [`Rows::values`].
#[derive(Debug)]
pub(crate) enum Layout {
    /// Row `i` is `values[i * dims..(i + 1) * dims]` (a `FixedSizeList`).
    Fixed(usize),
    /// Row `i` is `values[offsets[i]..offsets[i + 1]]`.
    Offsets(Vec<usize>),
}

/// The vectors of an array argument.
#[derive(Debug)]
pub(crate) struct Rows {
    pub values: ScalarBuffer<f32>,
    pub layout: Layout,
    pub nulls: Option<NullBuffer>,
    pub len: usize,
    /// Whether every element is known finite (text is checked as it is
    /// parsed; numbers are not until a cast asks).
    pub checked: bool,
}

impl Rows {
    /// Read an array of vectors. NULL elements and empty vectors in
    /// non-NULL rows are errors; a NULL row is a NULL vector.
    pub fn from_array(array: &ArrayRef) -> Result<Self> {
        let len = array.len();
        match array.data_type() {
            DataType::Null => Ok(Self {
                values: ScalarBuffer::from(Vec::new()),
                layout: Layout::Fixed(0),
                nulls: Some(NullBuffer::new_null(len)),
                len,
                checked: true,
            }),
            DataType::FixedSizeList(_, dims) => {
                let list = array.as_fixed_size_list();
                let dims = *dims as usize;
                let (values, element_nulls) = floats(list.values())?;
                let rows = Self {
                    values,
                    layout: Layout::Fixed(dims),
                    nulls: list.logical_nulls(),
                    len,
                    checked: false,
                };
                rows.check_elements(element_nulls.as_ref())?;
                Ok(rows)
            }
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let offsets = list.offsets().iter().map(|o| *o as usize).collect();
                Self::from_offsets(list.values(), offsets, list.logical_nulls(), len)
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                let offsets = list.offsets().iter().map(|o| *o as usize).collect();
                Self::from_offsets(list.values(), offsets, list.logical_nulls(), len)
            }
            DataType::Utf8 => Self::from_text(array.as_string::<i32>().iter(), len),
            DataType::LargeUtf8 => Self::from_text(array.as_string::<i64>().iter(), len),
            DataType::Utf8View => Self::from_text(array.as_string_view().iter(), len),
            DataType::Dictionary(_, value) => {
                let plain = arrow::compute::cast(array, value)?;
                Self::from_array(&plain)
            }
            other => exec_err!("expected a vector, not {other}"),
        }
    }

    fn from_offsets(elements: &ArrayRef, offsets: Vec<usize>, nulls: Option<NullBuffer>, len: usize) -> Result<Self> {
        let (values, element_nulls) = floats(elements)?;
        let rows = Self {
            values,
            layout: Layout::Offsets(offsets),
            nulls,
            len,
            checked: false,
        };
        rows.check_elements(element_nulls.as_ref())?;
        Ok(rows)
    }

    fn from_text<'a>(texts: impl Iterator<Item = Option<&'a str>>, len: usize) -> Result<Self> {
        let mut values = Vec::new();
        let mut offsets = Vec::with_capacity(len + 1);
        let mut valid = Vec::with_capacity(len);
        offsets.push(0);
        for text in texts {
            if let Some(text) = text {
                text::parse_into(text, &mut values)?;
            }
            valid.push(text.is_some());
            offsets.push(values.len());
        }
        let nulls = NullBuffer::from(valid);
        Ok(Self {
            values: ScalarBuffer::from(values),
            layout: Layout::Offsets(offsets),
            nulls: (nulls.null_count() > 0).then_some(nulls),
            len,
            checked: true,
        })
    }

    /// The bounds of row `i` in [`Self::values`].
    #[inline]
    fn bounds(&self, i: usize) -> (usize, usize) {
        match &self.layout {
            Layout::Fixed(dims) => (i * dims, (i + 1) * dims),
            Layout::Offsets(offsets) => (offsets[i], offsets[i + 1]),
        }
    }

    #[inline]
    pub fn is_null(&self, i: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(i))
    }

    /// Row `i`, or `None` when it is NULL.
    #[inline]
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        if self.is_null(i) {
            return None;
        }
        let (start, end) = self.bounds(i);
        Some(&self.values[start..end])
    }

    /// The non-NULL rows with their index.
    pub fn valid_rows(&self) -> impl Iterator<Item = (usize, &[f32])> + '_ {
        (0..self.len).filter_map(|i| self.row(i).map(|row| (i, row)))
    }

    /// Whether every row is NULL (so no dimension can be wrong).
    pub fn all_null(&self) -> bool {
        self.nulls
            .as_ref()
            .map_or(self.len == 0, |n| n.null_count() == self.len)
    }

    /// No NULL element and no empty vector in a non-NULL row.
    fn check_elements(&self, element_nulls: Option<&NullBuffer>) -> Result<()> {
        let element_nulls = element_nulls.filter(|n| n.null_count() > 0);
        let fixed_empty = matches!(self.layout, Layout::Fixed(0));
        if element_nulls.is_none() && matches!(self.layout, Layout::Fixed(_)) && !fixed_empty {
            return Ok(());
        }
        for i in 0..self.len {
            if self.is_null(i) {
                continue;
            }
            let (start, end) = self.bounds(i);
            if start == end {
                return Err(VectorError::data("vector must have at least 1 dimension").into());
            }
            if element_nulls.is_some_and(|n| n.slice(start, end - start).null_count() > 0) {
                return Err(VectorError::null_element().into());
            }
        }
        Ok(())
    }

    /// pgvector's checks of a vector built from numbers: finite elements,
    /// at most [`MAX_DIMENSIONS`].
    pub fn check_finite_and_size(&self) -> Result<()> {
        if let Layout::Fixed(dims) = self.layout
            && dims > MAX_DIMENSIONS
            && !self.all_null()
        {
            return Err(too_many_dimensions().into());
        }
        let need_finite = !self.checked;
        // Without NULL rows every value belongs to a row: one pass over the
        // buffer, which vectorizes.
        if self.nulls.is_none() && matches!(self.layout, Layout::Fixed(_)) {
            if need_finite && !self.values.iter().all(|v| v.is_finite()) {
                return Err(non_finite(&self.values).into());
            }
            return Ok(());
        }
        for (_, row) in self.valid_rows() {
            if row.len() > MAX_DIMENSIONS {
                return Err(too_many_dimensions().into());
            }
            if need_finite && !row.iter().all(|v| v.is_finite()) {
                return Err(non_finite(row).into());
            }
        }
        Ok(())
    }
}

fn too_many_dimensions() -> VectorError {
    VectorError::new(
        super::VectorErrorKind::TooManyDimensions,
        format!("vector cannot have more than {MAX_DIMENSIONS} dimensions"),
    )
}

/// The error for the first element of `values` that is not finite.
fn non_finite(values: &[f32]) -> VectorError {
    let bad = values.iter().copied().find(|v| !v.is_finite()).unwrap_or(f32::NAN);
    match text::check_element(bad, "") {
        Err(e) => e,
        Ok(()) => VectorError::data("NaN not allowed in vector"),
    }
}

/// The elements of a list as `f32`, with their nulls: a `Float32` array is
/// read in place; other numbers are cast (once per batch).
fn floats(elements: &ArrayRef) -> Result<(ScalarBuffer<f32>, Option<NullBuffer>)> {
    let elements = match elements.data_type() {
        DataType::Float32 => Arc::clone(elements),
        t if t.is_numeric() || t == &DataType::Null => arrow::compute::cast(elements, &DataType::Float32)?,
        other => return exec_err!("expected a vector, not a list of {other}"),
    };
    let floats = elements.as_primitive::<Float32Type>();
    Ok((floats.values().clone(), floats.nulls().cloned()))
}

/// One argument's vectors: the same vector for every row (a constant,
/// converted once), or one per row.
#[derive(Debug)]
pub(crate) enum Vectors {
    Constant(Option<Vec<f32>>),
    Column(Rows),
}

impl Vectors {
    pub fn of(value: &ColumnarValue) -> Result<Self> {
        match value {
            ColumnarValue::Scalar(scalar) => Ok(Self::Constant(constant(scalar)?)),
            ColumnarValue::Array(array) => Ok(Self::Column(Rows::from_array(array)?)),
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&[f32]> {
        match self {
            Self::Constant(vector) => vector.as_deref(),
            Self::Column(rows) => rows.row(i),
        }
    }

    pub fn nulls(&self) -> Option<&NullBuffer> {
        match self {
            Self::Constant(_) => None,
            Self::Column(rows) => rows.nulls.as_ref(),
        }
    }
}

/// The vector of a constant, or `None` for NULL.
fn constant(scalar: &ScalarValue) -> Result<Option<Vec<f32>>> {
    if scalar.is_null() {
        return Ok(None);
    }
    let rows = Rows::from_array(&scalar.to_array_of_size(1)?)?;
    Ok(rows.row(0).map(<[f32]>::to_vec))
}

/// An array of `rows` vectors of the Arrow type `data_type` (a vector type:
/// `FixedSizeList<Float32, n>` or `List<Float32>`), built row by row:
/// `push` appends row `i`'s elements or returns `false` for NULL.
pub(crate) fn build_vectors(
    data_type: &DataType,
    rows: usize,
    mut push: impl FnMut(usize, &mut Vec<f32>) -> Result<bool>,
) -> Result<ArrayRef> {
    let mut values = Vec::new();
    let mut valid = Vec::with_capacity(rows);
    match data_type {
        DataType::FixedSizeList(_, dims) => {
            let dims = *dims as usize;
            values.reserve(rows * dims);
            for i in 0..rows {
                let before = values.len();
                let present = push(i, &mut values)?;
                if !present {
                    values.resize(before + dims, 0.0);
                } else if values.len() - before != dims {
                    return Err(VectorError::dimensions(dims, values.len() - before).into());
                }
                valid.push(present);
            }
            let values = Arc::new(Float32Array::new(ScalarBuffer::from(values), None));
            Ok(Arc::new(FixedSizeListArray::try_new(
                item_field(),
                dims as i32,
                values,
                nulls_of(valid),
            )?))
        }
        DataType::List(_) => {
            let mut lengths = Vec::with_capacity(rows);
            for i in 0..rows {
                let before = values.len();
                valid.push(push(i, &mut values)?);
                lengths.push(values.len() - before);
            }
            let values = Arc::new(Float32Array::new(ScalarBuffer::from(values), None));
            Ok(Arc::new(ListArray::try_new(
                item_field(),
                OffsetBuffer::from_lengths(lengths),
                values,
                nulls_of(valid),
            )?))
        }
        other => internal_err!("not a vector type: {other}"),
    }
}

fn nulls_of(valid: Vec<bool>) -> Option<NullBuffer> {
    let nulls = NullBuffer::from(valid);
    (nulls.null_count() > 0).then_some(nulls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{FixedSizeListBuilder, Float64Builder, Int32Array, ListBuilder, StringArray};

    fn collect(rows: &Rows) -> Vec<Option<Vec<f32>>> {
        (0..rows.len).map(|i| rows.row(i).map(<[f32]>::to_vec)).collect()
    }

    #[test]
    fn reads_fixed_lists_in_place_after_a_slice() -> Result<()> {
        let values = Arc::new(Float32Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let list =
            FixedSizeListArray::try_new(item_field(), 2, values, Some(NullBuffer::from(vec![true, false, true])))?;
        let sliced: ArrayRef = Arc::new(list.slice(1, 2));
        let rows = Rows::from_array(&sliced)?;
        assert_eq!(collect(&rows), vec![None, Some(vec![5.0, 6.0])]);
        Ok(())
    }

    #[test]
    fn reads_lists_of_any_number_and_text() -> Result<()> {
        let mut builder = ListBuilder::new(Float64Builder::new());
        builder.append_value([Some(1.5), Some(2.0)]);
        builder.append_null();
        builder.append_value([Some(-3.0)]);
        let list: ArrayRef = Arc::new(builder.finish());
        assert_eq!(
            collect(&Rows::from_array(&list)?),
            vec![Some(vec![1.5, 2.0]), None, Some(vec![-3.0])]
        );
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some("[1, 2]"), None]));
        assert_eq!(collect(&Rows::from_array(&text)?), vec![Some(vec![1.0, 2.0]), None]);
        Ok(())
    }

    #[test]
    fn null_and_empty_elements_are_errors_only_in_non_null_rows() -> Result<()> {
        let mut builder = FixedSizeListBuilder::new(Float64Builder::new(), 2);
        builder.values().append_value(1.0);
        builder.values().append_null();
        builder.append(true);
        let with_null: ArrayRef = Arc::new(builder.finish());
        let error = Rows::from_array(&with_null).expect_err("null element");
        assert!(error.to_string().contains("vector must not contain nulls"), "{error}");

        let mut builder = FixedSizeListBuilder::new(Float64Builder::new(), 2);
        builder.values().append_null();
        builder.values().append_null();
        builder.append(false);
        let null_row: ArrayRef = Arc::new(builder.finish());
        assert_eq!(collect(&Rows::from_array(&null_row)?), vec![None]);

        let mut builder = ListBuilder::new(Float64Builder::new());
        builder.append_value(Vec::<Option<f64>>::new());
        let empty: ArrayRef = Arc::new(builder.finish());
        let error = Rows::from_array(&empty).expect_err("empty");
        assert!(
            error.to_string().contains("vector must have at least 1 dimension"),
            "{error}"
        );

        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        assert!(Rows::from_array(&ints).is_err());
        Ok(())
    }

    #[test]
    fn constants_convert_once() -> Result<()> {
        let text = Vectors::of(&ColumnarValue::Scalar(ScalarValue::Utf8(Some("[1,2,3]".into()))))?;
        assert_eq!(text.get(0), Some(&[1.0f32, 2.0, 3.0][..]));
        assert_eq!(text.get(99), Some(&[1.0f32, 2.0, 3.0][..]));
        let null = Vectors::of(&ColumnarValue::Scalar(ScalarValue::Utf8(None)))?;
        assert_eq!(null.get(0), None);
        Ok(())
    }
}
