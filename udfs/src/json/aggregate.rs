//! `jsonb_agg(x)` and `jsonb_object_agg(k, v)` (aliases `json_agg`,
//! `json_object_agg`).
//!
//! Values convert as `to_jsonb` converts them (see [`super::build`]).
//! Partial results travel between aggregation stages as canonical jsonb
//! text: `jsonb_agg` merges them by concatenation, `jsonb_object_agg`
//! parses its (keys, values) arrays back.
//!
//! Not supported: `ORDER BY` and `DISTINCT` inside the call (a plan error
//! says so). Elements come in the order the rows reach the aggregate, which
//! across partitions is unspecified, as in PostgreSQL without `ORDER BY`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{ScalarValue, internal_err, not_impl_err};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use super::build::to_value;
use super::value::{Value, key_order, write_string};
use super::{invalid_parameter, is_jsonb_field, jsonb_field, null_value};

/// The aggregates of this module.
pub fn all() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::new_from_impl(JsonbAgg::new(Kind::Array)),
        AggregateUDF::new_from_impl(JsonbAgg::new(Kind::Object)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `jsonb_agg(x)`: a JSON array of the values.
    Array,
    /// `jsonb_object_agg(k, v)`: a JSON object; of equal keys the last wins.
    Object,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonbAgg {
    kind: Kind,
    aliases: Vec<String>,
    signature: Signature,
}

impl JsonbAgg {
    pub fn new(kind: Kind) -> Self {
        let (arity, alias) = match kind {
            Kind::Array => (1, "json_agg"),
            Kind::Object => (2, "json_object_agg"),
        };
        Self {
            kind,
            aliases: vec![alias.to_string()],
            signature: Signature::any(arity, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for JsonbAgg {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Array => "jsonb_agg",
            Kind::Object => "jsonb_object_agg",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field(&self, _arg_fields: &[FieldRef]) -> Result<FieldRef> {
        Ok(jsonb_field(self.name()))
    }

    /// No rows, no result: NULL, as in PostgreSQL.
    fn is_nullable(&self) -> bool {
        true
    }

    fn state_fields(&self, args: StateFieldsArgs<'_>) -> Result<Vec<FieldRef>> {
        let field = |suffix: &str| Arc::new(Field::new(format!("{}[{suffix}]", args.name), DataType::Utf8, true));
        Ok(match self.kind {
            // The elements so far, as canonical jsonb joined by ", ".
            Kind::Array => vec![field("elements")],
            // Keys and canonical values so far, each as a JSON array.
            Kind::Object => vec![field("keys"), field("values")],
        })
    }

    fn accumulator(&self, args: AccumulatorArgs<'_>) -> Result<Box<dyn Accumulator>> {
        if !args.order_bys.is_empty() {
            return not_impl_err!("{}(... ORDER BY ...) is not supported", self.name());
        }
        if args.is_distinct {
            return not_impl_err!("{}(DISTINCT ...) is not supported", self.name());
        }
        let jsonb: Vec<bool> = args.expr_fields.iter().map(|f| is_jsonb_field(f)).collect();
        Ok(match self.kind {
            Kind::Array => Box::new(ArrayAccumulator {
                jsonb: jsonb.first().copied().unwrap_or(false),
                elements: String::new(),
                any: false,
            }),
            Kind::Object => Box::new(ObjectAccumulator {
                value_jsonb: jsonb.get(1).copied().unwrap_or(false),
                members: Vec::new(),
            }),
        })
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }
}

/// `jsonb_agg`'s state: the canonical text of the elements so far.
#[derive(Debug)]
struct ArrayAccumulator {
    jsonb: bool,
    /// Elements joined by `", "`.
    elements: String,
    /// Whether any row was aggregated (an empty `elements` could be either).
    any: bool,
}

impl ArrayAccumulator {
    fn separate(&mut self) {
        if self.any {
            self.elements.push_str(", ");
        }
        self.any = true;
    }
}

impl Accumulator for ArrayAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(values) = values.first() else {
            return internal_err!("jsonb_agg takes 1 argument");
        };
        for row in 0..values.len() {
            // NULL rows are aggregated as JSON null, as in PostgreSQL.
            let value = to_value(values.as_ref(), row, self.jsonb)?;
            self.separate();
            value.write_canonical(&mut self.elements);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return internal_err!("jsonb_agg: missing state");
        };
        for partial in states.as_string::<i32>().iter().flatten() {
            self.separate();
            self.elements.push_str(partial);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(self.any.then(|| self.elements.clone()))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(self.any.then(|| format!("[{}]", self.elements))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.elements.capacity()
    }
}

/// `jsonb_object_agg`'s state: keys and canonical values in arrival order.
#[derive(Debug)]
struct ObjectAccumulator {
    value_jsonb: bool,
    members: Vec<(String, String)>,
}

impl Accumulator for ObjectAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [keys, values] = values else {
            return internal_err!("jsonb_object_agg takes 2 arguments");
        };
        for row in 0..keys.len() {
            let key = match to_value(keys.as_ref(), row, false)? {
                Value::String(s) | Value::Number(s) => s.into_owned(),
                Value::Bool(b) => b.to_string(),
                Value::Null => return null_value("field name must not be null"),
                Value::Array(_) | Value::Object(_) => {
                    return invalid_parameter("key value must be scalar, not array, composite, or json");
                }
            };
            let value = to_value(values.as_ref(), row, self.value_jsonb)?.to_canonical();
            self.members.push((key, value));
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [keys, values] = states else {
            return internal_err!("jsonb_object_agg: missing state");
        };
        let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
        for row in 0..keys.len() {
            if keys.is_null(row) || values.is_null(row) {
                continue;
            }
            let keys = super::value::parse(keys.value(row))?;
            let values = super::value::parse(values.value(row))?;
            let (Value::Array(keys), Value::Array(values)) = (keys, values) else {
                return internal_err!("jsonb_object_agg: corrupt partial state");
            };
            for (key, value) in keys.iter().zip(&values) {
                let Value::String(key) = key else {
                    return internal_err!("jsonb_object_agg: corrupt partial state");
                };
                self.members.push((key.to_string(), value.to_canonical()));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        if self.members.is_empty() {
            return Ok(vec![ScalarValue::Utf8(None), ScalarValue::Utf8(None)]);
        }
        let mut keys = String::from("[");
        let mut values = String::from("[");
        for (i, (key, value)) in self.members.iter().enumerate() {
            if i > 0 {
                keys.push_str(", ");
                values.push_str(", ");
            }
            write_string(key, &mut keys);
            values.push_str(value);
        }
        keys.push(']');
        values.push(']');
        Ok(vec![ScalarValue::Utf8(Some(keys)), ScalarValue::Utf8(Some(values))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.members.is_empty() {
            return Ok(ScalarValue::Utf8(None));
        }
        // jsonb key order; a stable sort keeps equal keys in arrival order,
        // and the last of them wins.
        let mut order: Vec<usize> = (0..self.members.len()).collect();
        order.sort_by(|a, b| key_order(&self.members[*a].0, &self.members[*b].0));
        let mut out = String::from("{");
        let mut i = 0;
        while i < order.len() {
            let mut last = i;
            while last + 1 < order.len() && self.members[order[last + 1]].0 == self.members[order[i]].0 {
                last += 1;
            }
            let (key, value) = &self.members[order[last]];
            if out.len() > 1 {
                out.push_str(", ");
            }
            write_string(key, &mut out);
            out.push_str(": ");
            out.push_str(value);
            i = last + 1;
        }
        out.push('}');
        Ok(ScalarValue::Utf8(Some(out)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.members.capacity() * std::mem::size_of::<(String, String)>()
            + self
                .members
                .iter()
                .map(|(k, v)| k.capacity() + v.capacity())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, StringArray};

    use super::*;

    fn array_acc() -> ArrayAccumulator {
        ArrayAccumulator {
            jsonb: false,
            elements: String::new(),
            any: false,
        }
    }

    fn object_acc() -> ObjectAccumulator {
        ObjectAccumulator {
            value_jsonb: false,
            members: Vec::new(),
        }
    }

    #[test]
    fn jsonb_agg_collects_values_and_merges_states() -> Result<()> {
        let mut a = array_acc();
        assert_eq!(a.evaluate()?, ScalarValue::Utf8(None));
        a.update_batch(&[Arc::new(Int32Array::from(vec![Some(1), None]))])?;
        let mut b = array_acc();
        b.update_batch(&[Arc::new(StringArray::from(vec!["x"]))])?;
        let state = b.state()?[0].to_array()?;
        a.merge_batch(&[state])?;
        let mut empty = array_acc();
        a.merge_batch(&[empty.state()?[0].to_array()?])?;
        assert_eq!(a.evaluate()?, ScalarValue::Utf8(Some(r#"[1, null, "x"]"#.into())));
        Ok(())
    }

    #[test]
    fn jsonb_object_agg_sorts_keys_and_keeps_the_last() -> Result<()> {
        let mut a = object_acc();
        a.update_batch(&[
            Arc::new(StringArray::from(vec!["bb", "a", "bb"])),
            Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
        ])?;
        let mut b = object_acc();
        b.update_batch(&[
            Arc::new(StringArray::from(vec!["c\"q"])),
            Arc::new(StringArray::from(vec!["v"])),
        ])?;
        let state: Vec<ArrayRef> = b.state()?.iter().map(|s| s.to_array()).collect::<Result<_>>()?;
        a.merge_batch(&state)?;
        assert_eq!(
            a.evaluate()?,
            ScalarValue::Utf8(Some(r#"{"a": null, "bb": 3, "c\"q": "v"}"#.into()))
        );
        let err = a
            .update_batch(&[
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(Int32Array::from(vec![1])),
            ])
            .expect_err("null key");
        assert!(err.to_string().contains("field name must not be null"));
        assert_eq!(object_acc().evaluate()?, ScalarValue::Utf8(None));
        Ok(())
    }
}
