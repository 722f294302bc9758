//! PRIMARY KEY and UNIQUE constraints.
//!
//! Iceberg has no unique constraints, so they live in the table property
//! [`CONSTRAINTS`] as JSON; the primary key is also the schema's
//! `identifier-field-ids`, which other Iceberg engines understand (pyiceberg's
//! upsert uses it). The write path enforces them across both tiers (see
//! `crate::dml::keys`); compaction writes Parquet bloom filters for their
//! columns so a key lookup in the cold tier reads little.

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// Table property holding the constraints, a JSON array of [`Constraint`].
pub const CONSTRAINTS: &str = "thermocline.constraints";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstraintKind {
    #[serde(rename = "primary key")]
    PrimaryKey,
    #[serde(rename = "unique")]
    Unique,
}

/// One PRIMARY KEY or UNIQUE constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    /// PostgreSQL's name: `<table>_pkey`, `<table>_<cols>_key`, or the
    /// user's `CONSTRAINT name`. Error messages quote it.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ConstraintKind,
    pub columns: Vec<String>,
}

impl Constraint {
    /// PostgreSQL's default name for a constraint on `table`.
    pub fn default_name(table: &str, kind: ConstraintKind, columns: &[String]) -> String {
        match kind {
            ConstraintKind::PrimaryKey => format!("{table}_pkey"),
            ConstraintKind::Unique => format!("{table}_{}_key", columns.join("_")),
        }
    }
}

/// The constraints of a table, from its properties. A table without the
/// property has none; a malformed one is an error (writing without its
/// constraints would silently admit duplicates).
pub fn from_properties(properties: &std::collections::HashMap<String, String>) -> Result<Vec<Constraint>> {
    match properties.get(CONSTRAINTS) {
        None => Ok(Vec::new()),
        Some(raw) => serde_json::from_str(raw).map_err(|e| {
            Error::new(ErrorKind::Storage, "malformed table constraints")
                .with_context("property", CONSTRAINTS)
                .with_source(e)
        }),
    }
}

pub fn to_property(constraints: &[Constraint]) -> Result<String> {
    serde_json::to_string(constraints).map_err(|e| Error::internal("cannot serialise table constraints").with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_the_documented_shape() -> Result<()> {
        let c = vec![
            Constraint {
                name: "users_pkey".into(),
                kind: ConstraintKind::PrimaryKey,
                columns: vec!["id".into()],
            },
            Constraint {
                name: "users_email_key".into(),
                kind: ConstraintKind::Unique,
                columns: vec!["email".into()],
            },
        ];
        let text = to_property(&c)?;
        assert_eq!(
            text,
            r#"[{"name":"users_pkey","type":"primary key","columns":["id"]},{"name":"users_email_key","type":"unique","columns":["email"]}]"#
        );
        let props = std::collections::HashMap::from([(CONSTRAINTS.to_string(), text)]);
        assert_eq!(from_properties(&props)?, c);
        Ok(())
    }
}
