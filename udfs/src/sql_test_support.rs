//! Helpers shared by the crate's end-to-end SQL tests (`json` and
//! `vector`): a PostgreSQL-dialect session with thermocline's functions,
//! and answers rendered as text.

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A session that parses PostgreSQL and has every function of the crate.
pub fn pg_session() -> SessionContext {
    let config = SessionConfig::new()
        .set_str("datafusion.sql_parser.dialect", "PostgreSQL")
        .with_target_partitions(2);
    let ctx = SessionContext::new_with_config(config);
    crate::register_functions(&ctx);
    ctx
}

/// Each row as its cells joined by `|`, NULL as `NULL`.
pub async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
    render(ctx.sql(sql).await?.collect().await?)
}

pub fn render(batches: Vec<RecordBatch>) -> Result<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters.iter().map(|f| f.value(row).to_string()).collect();
            out.push(cells.join("|"));
        }
    }
    Ok(out)
}
