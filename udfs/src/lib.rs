//! SQL functions for thermocline. Compiles for wasm32 as well as native: no
//! tokio, no iceberg, only DataFusion's function traits.
//!
//! Everything is registered through one [`register_functions`] call, so the
//! native session, the Durable Object and tests see the same SQL surface.

pub mod json;
pub mod transforms;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

use transforms::{IcebergBucket, IcebergTime, IcebergTruncate, TimeUnitTransform};

/// Every scalar function thermocline adds to DataFusion's.
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(IcebergBucket::default()),
        ScalarUDF::new_from_impl(IcebergTruncate::default()),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Year)),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Month)),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Day)),
        ScalarUDF::new_from_impl(IcebergTime::new(TimeUnitTransform::Hour)),
    ]
}

/// Register thermocline's SQL functions on a session: the functions above,
/// and PostgreSQL's jsonb functions, aggregates, operators and casts
/// ([`json::register`]).
pub fn register_functions(ctx: &SessionContext) {
    for function in functions() {
        ctx.register_udf(function);
    }
    json::register(ctx);
}
