//! Schema migrations: a folder of `<version>_<name>.sql` files (e.g.
//! `001_create_users.sql`), each applied once, in numeric version order,
//! and recorded in `public.thermocline_migrations` with the SHA-256 of its
//! bytes. [`Warehouse::migrate`] applies what is pending; the CLI's
//! `--migrations DIR` calls it when it opens the warehouse.
//!
//! What a run guarantees:
//! - **A migration commits whole or not at all.** It runs as one
//!   transaction: `BEGIN`, its statements, the tracking row, `COMMIT`. The
//!   first failing statement rolls it all back, DDL included (see
//!   [`crate::transaction`]), and the run stops there; the migrations before
//!   it stay applied.
//! - **At most once.** The tracking row commits with the migration, and
//!   `version` is the table's primary key: of two runs racing to apply the
//!   same version, one fails on the key and rolls back.
//! - **Applied migrations do not change.** Before anything runs, every
//!   applied version must still have its file, with the same checksum, and
//!   no pending file may sort below an applied one; otherwise nothing is
//!   applied.
//! - A file with BEGIN, COMMIT or ROLLBACK is refused before anything runs:
//!   it would split the migration into several transactions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ScalarValue;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::session::Session;
use crate::sql::{Command, StatementText};
use crate::warehouse::Warehouse;

/// The tracking table, in the default schema `public`.
pub const TRACKING_TABLE: &str = "thermocline_migrations";

const CREATE_TRACKING_TABLE: &str = "CREATE TABLE IF NOT EXISTS public.thermocline_migrations (
    version bigint PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL)";

/// One migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The file name's leading digits.
    pub version: i64,
    /// The file name between `<version>_` and `.sql`.
    pub name: String,
    /// The file name, as the user wrote it.
    pub file: String,
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub checksum: String,
    sql: String,
}

/// A migration this run applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: i64,
    pub name: String,
    pub file: String,
    pub checksum: String,
    /// How many statements it ran.
    pub statements: usize,
}

/// What [`Warehouse::migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Applied by this run, in order.
    pub applied: Vec<AppliedMigration>,
    /// Applied by earlier runs (and still unchanged).
    pub already_applied: usize,
}

impl Warehouse {
    /// Apply the pending migrations in `dir`, in version order; see the
    /// [module docs](crate::migrate).
    pub async fn migrate(&self, dir: impl AsRef<Path>) -> Result<MigrationReport> {
        self.migrate_with(dir, |_| {}).await
    }

    /// [`Self::migrate`], calling `on_applied` as each migration commits
    /// (so a caller can report those applied before one that fails).
    pub async fn migrate_with(
        &self,
        dir: impl AsRef<Path>,
        mut on_applied: impl FnMut(&AppliedMigration),
    ) -> Result<MigrationReport> {
        let dir = dir.as_ref();
        let migrations = discover(dir)?;
        let session = self.session();
        session.execute(CREATE_TRACKING_TABLE).await?;
        let recorded = recorded(&session).await?;
        let pending = pending(dir, &migrations, &recorded)?;
        let mut scripts = Vec::with_capacity(pending.len());
        for migration in &pending {
            scripts.push((migration, statements(migration)?));
        }
        let mut report = MigrationReport {
            applied: Vec::new(),
            already_applied: recorded.len(),
        };
        for (migration, statements) in scripts {
            let applied = apply(&session, migration, &statements).await?;
            on_applied(&applied);
            report.applied.push(applied);
        }
        Ok(report)
    }
}

/// Every `*.sql` file of `dir` as a migration, by version. Other files are
/// ignored; a `.sql` file not named `<version>_<name>.sql` and two files
/// with one version are errors.
pub fn discover(dir: &Path) -> Result<Vec<Migration>> {
    let folder_error = |e: std::io::Error| {
        Error::new(ErrorKind::Config, "cannot read the migrations folder")
            .with_context("path", dir.display())
            .with_source(e)
    };
    let mut migrations = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(folder_error)? {
        let path = entry.map_err(folder_error)?.path();
        let is_sql = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("sql"));
        if !is_sql || path.is_dir() {
            continue;
        }
        migrations.push(read_migration(&path)?);
    }
    migrations.sort_by_key(|m| m.version);
    for pair in migrations.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "migrations {} and {} have the same version {}",
                    pair[0].file, pair[1].file, pair[0].version
                ),
            )
            .with_context("path", dir.display()));
        }
    }
    Ok(migrations)
}

fn read_migration(path: &Path) -> Result<Migration> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (version, name) = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(version_and_name)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("migration file {file} is not named <version>_<name>.sql (e.g. 001_create_users.sql)"),
            )
            .with_context("path", path.display())
        })?;
    let bytes = std::fs::read(path).map_err(|e| {
        Error::new(ErrorKind::Config, format!("cannot read migration {file}"))
            .with_context("path", path.display())
            .with_source(e)
    })?;
    let checksum = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let sql = String::from_utf8(bytes).map_err(|_| {
        Error::new(ErrorKind::Config, format!("migration {file} is not UTF-8 text"))
            .with_context("path", path.display())
    })?;
    Ok(Migration {
        version,
        name,
        file,
        path: path.to_path_buf(),
        checksum,
        sql,
    })
}

/// `001_create_users` → (1, "create_users").
fn version_and_name(stem: &str) -> Option<(i64, String)> {
    let digits = stem.find(|c: char| !c.is_ascii_digit()).unwrap_or(stem.len());
    let name = stem[digits..].strip_prefix('_').filter(|n| !n.is_empty())?;
    let version = stem[..digits].parse().ok()?;
    Some((version, name.to_string()))
}

/// What the tracking table holds: version → (name, checksum).
async fn recorded(session: &Session) -> Result<BTreeMap<i64, (String, String)>> {
    let batches = session
        .query("SELECT version, name, checksum FROM public.thermocline_migrations")
        .await?;
    let mut recorded = BTreeMap::new();
    for batch in &batches {
        let version = arrow::compute::cast(batch.column(0), &DataType::Int64)?;
        let name = arrow::compute::cast(batch.column(1), &DataType::Utf8)?;
        let checksum = arrow::compute::cast(batch.column(2), &DataType::Utf8)?;
        let (version, name, checksum) = (
            version.as_primitive::<Int64Type>(),
            name.as_string::<i32>(),
            checksum.as_string::<i32>(),
        );
        for row in 0..batch.num_rows() {
            if version.is_null(row) {
                continue;
            }
            recorded.insert(
                version.value(row),
                (name.value(row).to_string(), checksum.value(row).to_string()),
            );
        }
    }
    Ok(recorded)
}

/// The migrations still to apply, after checking that the applied ones are
/// all there, unchanged, and older than every pending one.
fn pending<'a>(
    dir: &Path,
    migrations: &'a [Migration],
    recorded: &BTreeMap<i64, (String, String)>,
) -> Result<Vec<&'a Migration>> {
    for (version, (name, checksum)) in recorded {
        let Some(migration) = migrations.iter().find(|m| m.version == *version) else {
            return Err(Error::new(
                ErrorKind::Config,
                format!("migration version {version} ({name}) was applied, but its file is missing"),
            )
            .with_context("path", dir.display()));
        };
        if &migration.checksum != checksum {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "migration {} was changed after it was applied (checksum {checksum} when applied, {} now); \
                     undo a change with a new migration instead",
                    migration.file, migration.checksum
                ),
            )
            .with_context("path", migration.path.display()));
        }
    }
    let pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !recorded.contains_key(&m.version))
        .collect();
    if let (Some(first), Some((last, _))) = (pending.first(), recorded.last_key_value())
        && first.version < *last
    {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "migration {} has version {}, below the last applied version {last}: give it a higher version",
                first.file, first.version
            ),
        )
        .with_context("path", first.path.display()));
    }
    Ok(pending)
}

/// A migration's statements; BEGIN, COMMIT and ROLLBACK are refused (a
/// statement that does not parse is left to fail when it runs, inside the
/// migration's transaction).
fn statements(migration: &Migration) -> Result<Vec<StatementText<'_>>> {
    let statements = crate::sql::split(&migration.sql).map_err(|e| failed(migration, None, e))?;
    for (index, statement) in statements.iter().enumerate() {
        let Ok(commands) = crate::sql::parse(statement.text) else {
            continue;
        };
        let control = commands.iter().find_map(|c| match c {
            Command::Begin => Some("BEGIN"),
            Command::Commit => Some("COMMIT"),
            Command::Rollback => Some("ROLLBACK"),
            _ => None,
        });
        if let Some(control) = control {
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!(
                    "migration {} has {control} at statement {} (line {}): each migration already runs as one \
                     transaction, so it may not contain BEGIN, COMMIT or ROLLBACK",
                    migration.file,
                    index + 1,
                    statement.line
                ),
            )
            .with_context("path", migration.path.display()));
        }
    }
    Ok(statements)
}

/// BEGIN; the statements; the tracking row; COMMIT. Any failure rolls the
/// whole migration back.
async fn apply(session: &Session, migration: &Migration, statements: &[StatementText<'_>]) -> Result<AppliedMigration> {
    session.execute("BEGIN").await?;
    for (index, statement) in statements.iter().enumerate() {
        if let Err(e) = session.execute(statement.text).await {
            let e = failed(migration, Some((index + 1, statement.line)), e);
            return Err(roll_back(session, e).await);
        }
    }
    let record = session
        .execute_with_params(
            "INSERT INTO public.thermocline_migrations (version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, now())",
            vec![
                ScalarValue::Int64(Some(migration.version)),
                ScalarValue::Utf8(Some(migration.name.clone())),
                ScalarValue::Utf8(Some(migration.checksum.clone())),
            ],
        )
        .await;
    if let Err(e) = record {
        // A duplicate version: another run applied it meanwhile.
        let e = Error::new(
            e.kind(),
            format!(
                "migration {} could not be recorded as applied: {}",
                migration.file,
                e.message()
            ),
        );
        return Err(roll_back(session, e).await);
    }
    let committed = session
        .execute("COMMIT")
        .await
        .map_err(|e| failed(migration, None, e))?;
    if committed.first().map(|o| o.tag.as_str()) != Some("COMMIT") {
        return Err(Error::internal(format!(
            "migration {} was rolled back at COMMIT",
            migration.file
        )));
    }
    tracing::info!(file = %migration.file, "applied migration");
    Ok(AppliedMigration {
        version: migration.version,
        name: migration.name.clone(),
        file: migration.file.clone(),
        checksum: migration.checksum.clone(),
        statements: statements.len(),
    })
}

/// ROLLBACK after `error`; an undo that fails is added to the error.
async fn roll_back(session: &Session, error: Error) -> Error {
    match session.execute("ROLLBACK").await {
        Ok(_) => error,
        Err(undo) => error.with_context("rollback", undo),
    }
}

/// The SQL error, saying which migration and statement; its kind (and so
/// its SQLSTATE) and context are kept.
fn failed(migration: &Migration, at: Option<(usize, u64)>, e: Error) -> Error {
    let place = at.map_or(String::new(), |(number, line)| {
        format!(" at statement {number} (line {line})")
    });
    let mut error = Error::new(
        e.kind(),
        format!("migration {} failed{place}: {}", migration.file, e.message()),
    );
    for (key, value) in e.context() {
        error = error.with_context(key, value);
    }
    error.with_context("path", migration.path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_version_and_name() {
        assert_eq!(version_and_name("001_create_users"), Some((1, "create_users".into())));
        assert_eq!(
            version_and_name("20260122_add_email"),
            Some((20260122, "add_email".into()))
        );
        assert_eq!(version_and_name("create_users"), None);
        assert_eq!(version_and_name("001"), None);
        assert_eq!(version_and_name("001_"), None);
        assert_eq!(version_and_name("001-create"), None);
        assert_eq!(version_and_name("99999999999999999999_big"), None);
    }
}
