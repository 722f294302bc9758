//! The differential test's history checks: `FOR SYSTEM_TIME AS OF` at
//! remembered instants, and rebuilding the table from its change events.

use std::time::Duration;

use rand::Rng;

use super::common::{Cell, Row, rows};
use super::{Run, diff, q, sqlite_rows};

const ACCT_ROWS: &str = "SELECT id, k, v, s FROM acct ORDER BY id";

impl Run {
    /// Remember this instant and what `acct` holds now. Every commit so far
    /// has a commit time at or before it, every later one after it.
    pub(super) fn remember_now(&mut self) {
        let now = chrono::Utc::now().timestamp_micros();
        std::thread::sleep(Duration::from_millis(2));
        let rows = sqlite_rows(&self.lite, ACCT_ROWS);
        self.past.push((now, rows));
    }

    /// `acct FOR SYSTEM_TIME AS OF` a few remembered instants equals what
    /// SQLite held then, whatever was compacted or rewritten since.
    pub(super) async fn compare_past(&mut self, step: usize) -> Result<(), String> {
        let picks: Vec<usize> = match self.past.len() {
            0 => return Ok(()),
            n => (0..3).map(|_| self.rng.random_range(0..n)).collect(),
        };
        for i in picks {
            let (at, expected) = &self.past[i];
            let at = chrono::DateTime::from_timestamp_micros(*at).ok_or("bad instant")?;
            let sql = format!(
                "SELECT id, k, v, s FROM acct FOR SYSTEM_TIME AS OF '{}' ORDER BY id",
                at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
            let ours = match self.session.query(&sql).await {
                Ok(batches) => rows(&batches),
                Err(e) => {
                    return Err(self.failure(step, &q("as of", &sql, ACCT_ROWS), &format!("thermocline failed: {e}")));
                }
            };
            if let Some(d) = diff(&ours, expected) {
                return Err(self.failure(step, &q("as of", &sql, ACCT_ROWS), &d));
            }
        }
        Ok(())
    }

    /// Replaying every change event of `acct` in lsn order rebuilds exactly
    /// what SQLite holds.
    pub(super) async fn compare_replay(&mut self, step: usize) -> Result<(), String> {
        let sql = "SELECT op, key->>'id', after->>'k', after->>'v', after->>'s' \
                   FROM thermocline_changes('acct', 0) ORDER BY lsn";
        let query = q("cdc replay", sql, ACCT_ROWS);
        let events = match self.session.query(sql).await {
            Ok(batches) => rows(&batches),
            Err(e) => return Err(self.failure(step, &query, &format!("thermocline failed: {e}"))),
        };
        let mut state: std::collections::BTreeMap<i64, Row> = std::collections::BTreeMap::new();
        let int = |c: &Cell| match c {
            Cell::Text(t) => t.parse::<i64>().map(Cell::Int).unwrap_or(Cell::Null),
            _ => Cell::Null,
        };
        for event in events {
            let Cell::Text(op) = &event[0] else {
                return Err(self.failure(step, &query, "an event without op"));
            };
            let Cell::Int(id) = int(&event[1]) else {
                return Err(self.failure(step, &query, "an event without key"));
            };
            match op.as_str() {
                "c" | "u" => {
                    state.insert(
                        id,
                        vec![Cell::Int(id), int(&event[2]), int(&event[3]), event[4].clone()],
                    );
                }
                "d" => {
                    state.remove(&id);
                }
                other => return Err(self.failure(step, &query, &format!("unknown op {other}"))),
            }
        }
        // A consumer resuming from any position sees exactly the events
        // after it (the since condition prunes inside each scan).
        let all = "SELECT lsn, op, key, before, after FROM thermocline_changes('acct', 0) ORDER BY lsn";
        let every = match self.session.query(all).await {
            Ok(batches) => rows(&batches),
            Err(e) => return Err(self.failure(step, &query, &format!("thermocline failed: {e}"))),
        };
        if !every.is_empty() {
            let Cell::Int(position) = every[self.rng.random_range(0..every.len())][0] else {
                return Err(self.failure(step, &query, "an event without lsn"));
            };
            let resumed =
                format!("SELECT lsn, op, key, before, after FROM thermocline_changes('acct', {position}) ORDER BY lsn");
            let tail = match self.session.query(&resumed).await {
                Ok(batches) => rows(&batches),
                Err(e) => return Err(self.failure(step, &query, &format!("thermocline failed: {e}"))),
            };
            let expected: Vec<Row> = every
                .iter()
                .filter(|r| matches!(r[0], Cell::Int(lsn) if lsn > position))
                .cloned()
                .collect();
            if let Some(d) = diff(&tail, &expected) {
                return Err(self.failure(step, &q("cdc resume", &resumed, all), &d));
            }
        }
        let replayed: Vec<Row> = state.into_values().collect();
        let expected = sqlite_rows(&self.lite, ACCT_ROWS);
        match diff(&replayed, &expected) {
            Some(d) => Err(self.failure(step, &query, &d)),
            None => Ok(()),
        }
    }
}
