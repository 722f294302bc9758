//! The HTTP API's shapes, free of any network stack: the request and
//! response bodies, Arrow rows as JSON, JSON parameters as
//! [`ScalarValue`]s, and the Arrow IPC stream answer. The HTTP server
//! ([`super::http`]) and, later, the Durable Object (wasm32) both serve these
//! shapes, so this module uses only arrow, serde/serde_json,
//! `datafusion::common::ScalarValue` and the arrow-only type map of
//! [`crate::sql::pg_types`] — nothing that needs tokio or sockets.
//!
//! # Request
//!
//! ```json
//! {"sql": "SELECT * FROM t WHERE id = $1 AND tags @> $2", "params": [7, {"a": 1}]}
//! ```
//!
//! `params` bind `$1, $2, ...` ([`param_values`]):
//!
//! | JSON                         | parameter                                        |
//! |------------------------------|--------------------------------------------------|
//! | `null`                       | untyped NULL (takes the type its place needs)    |
//! | `true` / `false`             | `boolean`                                        |
//! | integer                      | `bigint` (`numeric` above `i64::MAX`)            |
//! | other number                 | `double precision`                               |
//! | string                       | `text` (cast by the planner: dates, timestamps…) |
//! | object                       | `text` holding the object's JSON (for `jsonb`)   |
//! | array                        | a SQL array of the elements' common type         |
//!
//! An array is a SQL array, never JSON text: `[1, 2.5]` is `float8[]`,
//! `[[1], [2, 3]]` is `bigint[][]`, `["a", null]` is `text[]`. Elements of
//! no common type (`[1, "a"]`) are refused; pass a JSON array meant for a
//! `jsonb` column as a string (`"[1, \"a\"]"`).
//!
//! # Response
//!
//! ```json
//! {"columns": [{"name": "id", "type": "int8"}], "rows": [[1], [2]], "row_count": 2, "command": "SELECT 2"}
//! ```
//!
//! `type` is the PostgreSQL type name the wire protocol reports for the
//! column. Rows are arrays in column order. `row_count` counts `rows`; a
//! statement without rows (INSERT without RETURNING, CREATE TABLE) has no
//! columns and no rows, and its count is in `command`, PostgreSQL's command
//! tag (`INSERT 0 5`). Values ([`rows`]):
//!
//! - integers are numbers, except `bigint`/unsigned values beyond ±(2^53−1),
//!   which JavaScript cannot hold exactly: those are strings;
//! - floats are numbers; NaN and infinities are the strings `"NaN"`,
//!   `"Infinity"`, `"-Infinity"` (PostgreSQL's spelling);
//! - `numeric` is a string with all its digits (`"12.50"`): exact;
//! - `date` is `"YYYY-MM-DD"`; `timestamp` is ISO-8601 without an offset
//!   (`"2026-01-02T10:00:00.5"`); `timestamptz` is ISO-8601 in UTC with `Z`;
//! - `bytea` is PostgreSQL's hex text, `"\\x0102ff"`;
//! - arrays and vectors are JSON arrays, composite values (structs, maps)
//!   are objects; `jsonb` is embedded as JSON, not as a string;
//! - anything else is the text Arrow displays for it (time, interval).
//!
//! With `Accept: application/vnd.apache.arrow.stream` the same result is an
//! Arrow IPC stream instead ([`arrow_stream`]), values untouched.
//!
//! # Parts
//!
//! - [`body`]: the request, response, error and health bodies.
//! - [`params`]: JSON `params` as [`ScalarValue`]s.
//! - [`values`]: Arrow rows as JSON values.
//! - [`ipc`]: the Arrow IPC stream answer.
//! - [`status`]: the HTTP status for an error's SQLSTATE.
//!
//! [`ScalarValue`]: datafusion::common::ScalarValue

mod body;
mod ipc;
mod params;
mod status;
mod values;

pub use body::{Column, ErrorBody, ErrorResponse, HealthResponse, QueryRequest, QueryResponse};
pub use ipc::{ARROW_STREAM, arrow_stream};
pub use params::{ParamError, param_values};
pub use status::http_status;
pub use values::{MAX_SAFE_INTEGER, rows, values};
