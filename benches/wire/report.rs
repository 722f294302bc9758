//! How the wire benchmark writes its figures. Ratios always read
//! "thermocline relative to PostgreSQL" and say whether they compare
//! throughput (higher is better for thermocline) or time (lower is better).

use std::time::Duration;

/// thermocline's throughput / PostgreSQL's.
pub fn throughput_ratio(ours: f64, peer: f64) -> String {
    format!("{:.3}× PG throughput", ours / peer.max(1e-12))
}

/// thermocline's time / PostgreSQL's.
pub fn time_ratio(ours: Duration, peer: Duration) -> String {
    format!("{:.2}× PG time", ours.as_secs_f64() / peer.as_secs_f64().max(1e-12))
}

/// Queries per second from the time of one query.
pub fn qps(per_query: Duration) -> String {
    let q = 1.0 / per_query.as_secs_f64().max(1e-12);
    if q >= 1e3 {
        format!("{:.1}k q/s", q / 1e3)
    } else {
        format!("{q:.0} q/s")
    }
}

/// A short duration in µs (or ms above 10 ms).
pub fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 10_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}
