//! PostgreSQL run-time settings (`SET application_name = ...`, `SHOW
//! search_path`, `current_setting('server_version_num')`).
//!
//! Drivers set and read a handful of these at start-up and fail if the
//! server refuses. They live in the session's DataFusion config as the
//! extension [`PgSettings`] (prefix `pg`): `SET x = v` is rewritten to
//! `SET pg.x = v`, so DataFusion's own SET stores it per session, and the
//! functions reading it get it with the rest of the config. None of them
//! changes how queries run, except `TimeZone`, which stays DataFusion's.

use std::any::Any;
use std::collections::BTreeMap;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ConfigOptions, ExtensionOptions};
use datafusion::error::Result as DfResult;

/// What `server_version` reports: clients gate features on it.
pub const SERVER_VERSION: &str = "15.0";
pub const SERVER_VERSION_NUM: &str = "150000";

/// Settings with the values a fresh PostgreSQL 15 session reports.
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "on"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("lc_messages", "C"),
    ("lc_monetary", "C"),
    ("lc_numeric", "C"),
    ("lc_time", "C"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", SERVER_VERSION),
    ("server_version_num", SERVER_VERSION_NUM),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
    ("bytea_output", "hex"),
    ("lock_timeout", "0"),
    ("idle_in_transaction_session_timeout", "0"),
    ("session_authorization", super::directory::OWNER_NAME),
    ("block_size", "8192"),
    ("geqo", "on"),
    ("jit", "off"),
    ("work_mem", "4MB"),
    ("max_connections", "100"),
    // Remote shards that cannot be reached are left out of the answer,
    // with a warning, instead of failing it.
    (crate::table::provider::PARTIAL_RESULTS, "off"),
    // Filters, partial aggregates and top-k run on remote shards.
    (crate::shard::pushdown::SHARD_PUSHDOWN, "on"),
];

/// The settings a session changed with SET.
#[derive(Debug, Clone, Default)]
pub struct PgSettings {
    values: BTreeMap<String, String>,
}

impl ConfigExtension for PgSettings {
    const PREFIX: &'static str = "pg";
}

impl ExtensionOptions for PgSettings {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> DfResult<()> {
        self.values.insert(key.to_ascii_lowercase(), value.to_string());
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        self.values
            .iter()
            .map(|(k, v)| ConfigEntry {
                key: format!("{}.{k}", Self::PREFIX),
                value: Some(v.clone()),
                description: "PostgreSQL setting",
            })
            .collect()
    }
}

/// The canonical name of a setting: lower case, PostgreSQL's aliases folded.
pub fn canonical(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    match name.as_str() {
        "transaction isolation level" | "transaction_isolation_level" => "transaction_isolation".into(),
        "time zone" | "time_zone" => "timezone".into(),
        "session authorization" => "session_authorization".into(),
        _ => name,
    }
}

/// A setting's value in a session whose config is `config`; `None` for a
/// parameter PostgreSQL would not recognise.
pub fn get(config: &ConfigOptions, name: &str) -> Option<String> {
    let name = canonical(name);
    if name == "timezone" {
        return Some(config.execution.time_zone.clone().unwrap_or_else(|| "UTC".to_string()));
    }
    if let Some(value) = config.extensions.get::<PgSettings>().and_then(|s| s.values.get(&name)) {
        return Some(value.clone());
    }
    DEFAULTS.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

/// Every setting with its current value, for `pg_settings`.
pub fn all(config: &ConfigOptions) -> Vec<(String, String)> {
    let mut names: Vec<String> = DEFAULTS.iter().map(|(k, _)| k.to_string()).collect();
    names.push("timezone".to_string());
    if let Some(settings) = config.extensions.get::<PgSettings>() {
        names.extend(settings.values.keys().cloned());
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|n| get(config, &n).map(|v| (n, v)))
        .collect()
}
