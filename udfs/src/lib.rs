//! SQL functions for thermocline. Compiles for wasm32 as well as native: no
//! tokio, no iceberg, only DataFusion's function traits.
//!
//! Everything is registered through one [`register_functions`] call, so the
//! native session, the Durable Object and tests see the same SQL surface.

pub mod json;
pub mod transforms;
pub mod vector;

#[cfg(test)]
mod sql_test_support;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

use transforms::{IcebergBucket, IcebergTime, IcebergTruncate, TimeUnitTransform};

/// Every scalar function thermocline adds to DataFusion's.
pub fn functions() -> Vec<ScalarUDF> {
    let mut all = vec![
        ScalarUDF::new_from_impl(IcebergBucket::default()),
        ScalarUDF::new_from_impl(IcebergTruncate::default()),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Year)),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Month)),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Day)),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Hour)),
    ];
    all.extend(vector::scalar_functions());
    all
}

/// Register thermocline's SQL functions on a session: the functions above,
/// PostgreSQL's jsonb functions, aggregates, operators and casts
/// ([`json::register`]), and pgvector's type, operators and casts
/// ([`vector::register`]).
pub fn register_functions(ctx: &SessionContext) {
    for function in functions() {
        ctx.register_udf(function);
    }
    json::register(ctx);
    vector::register(ctx);
}
