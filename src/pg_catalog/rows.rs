//! Catalog rows as loosely typed values, turned into a `RecordBatch` of the
//! table's declared column types. The catalogs are small and declared in
//! one place each ([`super::tables`]); this keeps each declaration a list of
//! columns and a list of rows.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float32Builder, Int16Builder, Int32Builder, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::Result;

/// A catalog column's type. `Oid` is Int64: PostgreSQL's unsigned 32-bit
/// OIDs fit, and comparisons with integer literals need no cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Oid,
    Int2,
    Int4,
    Int8,
    Float4,
    Bool,
    /// `name`, `text` and `"char"` alike.
    Text,
    Int2Array,
    OidArray,
    TextArray,
}

impl Ty {
    fn data_type(self) -> DataType {
        let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
        match self {
            Ty::Oid | Ty::Int8 => DataType::Int64,
            Ty::Int2 => DataType::Int16,
            Ty::Int4 => DataType::Int32,
            Ty::Float4 => DataType::Float32,
            Ty::Bool => DataType::Boolean,
            Ty::Text => DataType::Utf8,
            Ty::Int2Array => list(DataType::Int16),
            Ty::OidArray => list(DataType::Int64),
            Ty::TextArray => list(DataType::Utf8),
        }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    I(i64),
    F(f32),
    B(bool),
    S(String),
    Ints(Vec<i64>),
    Texts(Vec<String>),
}

impl From<&str> for V {
    fn from(s: &str) -> Self {
        V::S(s.to_string())
    }
}
impl From<String> for V {
    fn from(s: String) -> Self {
        V::S(s)
    }
}
impl From<i64> for V {
    fn from(i: i64) -> Self {
        V::I(i)
    }
}
impl From<bool> for V {
    fn from(b: bool) -> Self {
        V::B(b)
    }
}

pub fn schema(columns: &[(&str, Ty)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, ty)| Field::new(*name, ty.data_type(), true))
            .collect::<Vec<_>>(),
    ))
}

/// The batch of `rows` under `columns`. A cell of the wrong kind is NULL:
/// the declarations are ours, and a catalog query is better served by a
/// NULL than by an error.
pub fn batch(columns: &[(&str, Ty)], rows: &[Vec<V>]) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| column(*ty, rows.iter().map(|r| r.get(i).unwrap_or(&V::Null))))
        .collect();
    Ok(RecordBatch::try_new(schema(columns), arrays)?)
}

fn column<'a>(ty: Ty, cells: impl Iterator<Item = &'a V>) -> ArrayRef {
    match ty {
        Ty::Oid | Ty::Int8 => {
            let mut b = Int64Builder::new();
            cells.for_each(|v| b.append_option(int(v)));
            Arc::new(b.finish())
        }
        Ty::Int4 => {
            let mut b = Int32Builder::new();
            cells.for_each(|v| b.append_option(int(v).and_then(|i| i32::try_from(i).ok())));
            Arc::new(b.finish())
        }
        Ty::Int2 => {
            let mut b = Int16Builder::new();
            cells.for_each(|v| b.append_option(int(v).and_then(|i| i16::try_from(i).ok())));
            Arc::new(b.finish())
        }
        Ty::Float4 => {
            let mut b = Float32Builder::new();
            cells.for_each(|v| {
                b.append_option(match v {
                    V::F(f) => Some(*f),
                    V::I(i) => Some(*i as f32),
                    _ => None,
                })
            });
            Arc::new(b.finish())
        }
        Ty::Bool => {
            let mut b = BooleanBuilder::new();
            cells.for_each(|v| {
                b.append_option(match v {
                    V::B(b) => Some(*b),
                    _ => None,
                })
            });
            Arc::new(b.finish())
        }
        Ty::Text => {
            let mut b = StringBuilder::new();
            cells.for_each(|v| {
                b.append_option(match v {
                    V::S(s) => Some(s.as_str()),
                    _ => None,
                })
            });
            Arc::new(b.finish())
        }
        Ty::Int2Array => {
            let mut b = ListBuilder::new(Int16Builder::new());
            for v in cells {
                match v {
                    V::Ints(items) => {
                        items
                            .iter()
                            .for_each(|i| b.values().append_option(i16::try_from(*i).ok()));
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
        Ty::OidArray => {
            let mut b = ListBuilder::new(Int64Builder::new());
            for v in cells {
                match v {
                    V::Ints(items) => {
                        items.iter().for_each(|i| b.values().append_value(*i));
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
        Ty::TextArray => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for v in cells {
                match v {
                    V::Texts(items) => {
                        items.iter().for_each(|s| b.values().append_value(s));
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
    }
}

fn int(v: &V) -> Option<i64> {
    match v {
        V::I(i) => Some(*i),
        _ => None,
    }
}
