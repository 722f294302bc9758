//! The benchmark's tables and their rows, the same DDL and bytes for both
//! engines. Amounts are multiples of 0.25, so sums are exact in any order
//! and answers compare exactly.

use std::fmt::Write as _;

/// The key-value table of single-row inserts and point selects.
pub fn kv_ddl(table: &str) -> String {
    format!("CREATE TABLE {table} (id bigint PRIMARY KEY, name text, amount double precision)")
}

/// Row `id` of a key-value table.
pub fn kv_row(id: u64) -> (i64, String, f64) {
    (id as i64, format!("name-{id}"), amount(id))
}

/// Row `id` of a key-value table as a COPY text line.
pub fn kv_line(id: u64, buf: &mut String) {
    let (id, name, amount) = kv_row(id);
    let _ = writeln!(buf, "{id}\t{name}\t{amount}");
}

pub const EVENTS_DDL: &str =
    "CREATE TABLE events (id bigint, ts timestamp, category text, tenant int, amount double precision)";

/// Distinct categories of the events table.
pub const CATEGORIES: u64 = 16;
/// Days the events span, in ascending `ts` from 2024-01-01.
pub const DAYS: u64 = 30;

/// Event `i` of `n` as a COPY text line.
pub fn event_line(i: u64, n: u64, buf: &mut String) {
    let h = mix(i);
    let seconds = i * DAYS * 86_400 / n;
    let ts = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t + chrono::Duration::seconds(seconds as i64))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let category = h % CATEGORIES;
    let tenant = (h >> 8) % 100;
    let _ = writeln!(buf, "{i}\t{ts}\tcat-{category:02}\t{tenant}\t{}", amount(h >> 16));
}

fn amount(x: u64) -> f64 {
    (mix(x) % 4000) as f64 * 0.25
}

/// splitmix64: cheap, well-spread, deterministic.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
