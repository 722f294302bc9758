//! The rows the differential test writes: generators for the `ev` and
//! `dim` tables (NULLs, edge values, a few days of timestamps) and the
//! INSERT statements both engines run.

use std::fmt::Write as _;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

pub(super) const DAY_US: i64 = 86_400_000_000;
/// 2024-03-08, in days since the epoch: the centre of the generated data.
pub(super) const D0: i64 = 19_790;
/// Days of timestamps generated after D0.
pub(super) const DAYS: i64 = 8;

#[derive(Debug, Clone)]
pub(super) struct EvRow {
    pub(super) id: i64,
    pub(super) k: Option<i32>,
    pub(super) v: Option<i64>,
    pub(super) d: Option<f64>,
    pub(super) s: Option<String>,
    pub(super) b: Option<bool>,
    pub(super) dt: Option<i32>,
    pub(super) ts: Option<i64>,
}

#[derive(Debug, Clone)]
pub(super) struct DimRow {
    pub(super) id: i64,
    pub(super) k: Option<i32>,
    pub(super) name: Option<String>,
    pub(super) w: Option<f64>,
}

pub(super) const WORDS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "m", "mango", "zeta", "", "O'Brien", "it''s", "żółw", "日本", "a b", "Zulu",
];

pub(super) fn maybe<T>(rng: &mut StdRng, null_p: f64, f: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    if rng.random_bool(null_p) { None } else { Some(f(rng)) }
}

pub(super) fn gen_text(rng: &mut StdRng) -> String {
    if rng.random_bool(0.6) {
        return WORDS.choose(rng).map(|w| w.to_string()).unwrap_or_default();
    }
    let len = rng.random_range(0..10);
    (0..len)
        .map(|_| char::from(rng.random_range(b'0'..=b'z')))
        .filter(|c| *c != '\\')
        .collect()
}

pub(super) fn gen_k(rng: &mut StdRng) -> i32 {
    match rng.random_range(0..20) {
        0 => i32::MIN,
        1 => i32::MAX,
        2..=3 => rng.random_range(-5..0),
        4..=5 => rng.random::<i32>(),
        _ => rng.random_range(0..20),
    }
}

pub(super) fn gen_double(rng: &mut StdRng) -> f64 {
    match rng.random_range(0..10) {
        0 => 0.0,
        1 => f64::from(rng.random_range(-100..100)),
        2 => rng.random_range(-1.0..1.0) * 1e-7,
        _ => (rng.random_range(-1e6..1e6_f64) * 1000.0).round() / 1000.0,
    }
}

/// Timestamps cluster in D0..D0+DAYS with many exactly on (or a µs either
/// side of) midnight, the day-partition boundaries; a few are before 1970.
pub(super) fn gen_ts(rng: &mut StdRng) -> i64 {
    let midnight = (D0 + rng.random_range(0..=DAYS)) * DAY_US;
    match rng.random_range(0..20) {
        0..=1 => midnight,
        2 => midnight - 1,
        3 => midnight + 1,
        4 => rng.random_range(-2 * DAY_US..DAY_US),
        5 => -1,
        _ => rng.random_range(D0 * DAY_US..(D0 + DAYS) * DAY_US),
    }
}

pub(super) fn gen_date(rng: &mut StdRng) -> i32 {
    match rng.random_range(0..20) {
        0 => -1,
        1 => -365,
        _ => (D0 + rng.random_range(-3..10)) as i32,
    }
}

pub(super) fn gen_ev(rng: &mut StdRng, id: i64) -> EvRow {
    EvRow {
        id,
        k: maybe(rng, 0.1, gen_k),
        v: maybe(rng, 0.1, |r| r.random_range(-1_000_000_000_000..1_000_000_000_000)),
        d: maybe(rng, 0.1, gen_double),
        s: maybe(rng, 0.1, gen_text),
        b: maybe(rng, 0.15, |r| r.random_bool(0.5)),
        dt: maybe(rng, 0.1, gen_date),
        ts: maybe(rng, 0.1, gen_ts),
    }
}

pub(super) fn gen_dim(rng: &mut StdRng, id: i64) -> DimRow {
    DimRow {
        id,
        k: maybe(rng, 0.1, |r| r.random_range(-2..25)),
        name: maybe(rng, 0.1, |r| WORDS.choose(r).map(|w| w.to_string()).unwrap_or_default()),
        w: maybe(rng, 0.1, gen_double),
    }
}

pub(super) fn ts_text(us: i64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(us).expect("timestamp in range");
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn date_text(days: i64) -> String {
    let d = chrono::DateTime::from_timestamp(days * 86_400, 0).expect("date in range");
    d.format("%Y-%m-%d").to_string()
}

pub(super) fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub(super) fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> String) -> String {
    v.as_ref().map_or_else(|| "NULL".to_string(), f)
}

pub(super) fn ev_insert_sql(rows: &[EvRow]) -> String {
    let mut sql = String::from("INSERT INTO ev VALUES ");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(
            sql,
            "({}, {}, {}, {}, {}, {}, {}, {})",
            r.id,
            opt(&r.k, |k| k.to_string()),
            opt(&r.v, |v| v.to_string()),
            opt(&r.d, |d| format!("{d:?}")),
            opt(&r.s, |s| sql_text(s)),
            opt(&r.b, |b| b.to_string()),
            opt(&r.dt, |d| format!("DATE '{}'", date_text(i64::from(*d)))),
            opt(&r.ts, |t| sql_text(&ts_text(*t))),
        );
    }
    sql
}

pub(super) fn dim_insert_sql(rows: &[DimRow]) -> String {
    let mut sql = String::from("INSERT INTO dim VALUES ");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        let _ = write!(
            sql,
            "({}, {}, {}, {})",
            r.id,
            opt(&r.k, |k| k.to_string()),
            opt(&r.name, |s| sql_text(s)),
            opt(&r.w, |d| format!("{d:?}")),
        );
    }
    sql
}
