//! Schema migrations (`Warehouse::migrate`, `thermocline --migrations DIR`)
//! and the transactional DDL they rest on: each migration commits whole or
//! not at all, is applied once, and may not change after it was applied.

use std::path::Path;
use std::process::{Command, Output};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use iceberg::{NamespaceIdent, TableIdent};
use thermocline::migrate::MigrationReport;
use thermocline::{CompactionMode, ErrorKind, Session, Warehouse, WarehouseConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn open(dir: &Path) -> thermocline::Result<Warehouse> {
    Warehouse::open(WarehouseConfig::new(dir.join("warehouse")).with_compaction(CompactionMode::Manual)).await
}

/// A migrations folder inside `dir` with the given files.
fn migrations(dir: &Path, files: &[(&str, &str)]) -> std::io::Result<std::path::PathBuf> {
    let folder = dir.join("migrations");
    std::fs::create_dir_all(&folder)?;
    for (name, sql) in files {
        std::fs::write(folder.join(name), sql)?;
    }
    Ok(folder)
}

async fn table_exists(wh: &Warehouse, namespace: &str, name: &str) -> thermocline::Result<bool> {
    let ident = TableIdent::from_strs([namespace, name])?;
    Ok(wh.catalog().table_exists(&ident).await?)
}

async fn schema_exists(wh: &Warehouse, name: &str) -> thermocline::Result<bool> {
    Ok(wh
        .catalog()
        .namespace_exists(&NamespaceIdent::new(name.to_string()))
        .await?)
}

/// The first column of a query, as i64s.
async fn ints(session: &Session, sql: &str) -> thermocline::Result<Vec<i64>> {
    let batches: Vec<RecordBatch> = session.query(sql).await?;
    let mut out = Vec::new();
    for batch in &batches {
        let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Int64)?;
        let column = column.as_primitive::<Int64Type>();
        out.extend((0..column.len()).map(|i| column.value(i)));
    }
    Ok(out)
}

async fn applied_versions(session: &Session) -> thermocline::Result<Vec<i64>> {
    ints(session, "SELECT version FROM thermocline_migrations ORDER BY version").await
}

fn files(report: &MigrationReport) -> Vec<&str> {
    report.applied.iter().map(|m| m.file.as_str()).collect()
}

const CREATE_USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_files_apply_once_in_numeric_version_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[
            ("1_create_users.sql", CREATE_USERS),
            // Numeric order: 2 before 10, though "10" < "2" as text.
            (
                "10_orders.sql",
                "CREATE TABLE orders AS SELECT id AS user_id, 0 AS total FROM users;",
            ),
            (
                "2_seed.sql",
                "-- two users\nINSERT INTO users VALUES (1, 'ann');\nINSERT INTO users VALUES (2, 'bob');\n",
            ),
            ("README.md", "not a migration"),
            ("notes.txt", "ignored"),
        ],
    )?;
    let wh = open(dir.path()).await?;
    let report = wh.migrate(&folder).await?;
    assert_eq!(files(&report), ["1_create_users.sql", "2_seed.sql", "10_orders.sql"]);
    assert_eq!(report.applied[1].statements, 2);
    assert_eq!(report.already_applied, 0);

    let session = wh.session();
    assert_eq!(applied_versions(&session).await?, [1, 2, 10]);
    assert_eq!(
        ints(&session, "SELECT user_id FROM orders ORDER BY user_id").await?,
        [1, 2]
    );
    // The checksum is the SHA-256 of the file's bytes (`sha256sum`).
    let checksums = session
        .query("SELECT checksum, name FROM thermocline_migrations WHERE version = 1")
        .await?;
    let text = arrow::util::pretty::pretty_format_batches(&checksums)?.to_string();
    assert!(
        text.contains("75b03a594e0b4b6e39302e3977ea994d83cc261727e6cad77357d97b2a6f046a")
            && text.contains("create_users"),
        "{text}"
    );
    assert_eq!(report.applied[0].checksum.len(), 64);

    // Nothing is pending any more: a second run (a restart) applies nothing.
    let again = wh.migrate(&folder).await?;
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.already_applied, 3);
    assert_eq!(ints(&session, "SELECT count(*) FROM users").await?, [2]);

    // A new file is applied on the next run, alone.
    std::fs::write(folder.join("11_more.sql"), "INSERT INTO users VALUES (3, 'cy')")?;
    let third = wh.migrate(&folder).await?;
    assert_eq!(files(&third), ["11_more.sql"]);
    assert_eq!(ints(&session, "SELECT count(*) FROM users").await?, [3]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_applied_file_is_an_error_and_nothing_is_applied() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[
            ("001_create_users.sql", CREATE_USERS),
            ("002_add_email.sql", "CREATE TABLE emails (user_id bigint, email text);"),
        ],
    )?;
    let wh = open(dir.path()).await?;
    wh.migrate(&folder).await?;
    std::fs::write(
        folder.join("002_add_email.sql"),
        "CREATE TABLE emails (user_id bigint, address text);",
    )?;
    std::fs::write(folder.join("003_later.sql"), "CREATE TABLE later (id int);")?;
    let err = wh.migrate(&folder).await.expect_err("a changed file must be refused");
    let text = err.to_string();
    assert!(
        text.contains("migration 002_add_email.sql was changed after it was applied (checksum"),
        "{text}"
    );
    assert!(!table_exists(&wh, "public", "later").await?, "003 must not run");
    assert_eq!(applied_versions(&wh.session()).await?, [1, 2]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_applied_migration_whose_file_is_gone_is_an_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[
            ("001_create_users.sql", CREATE_USERS),
            ("002_seed.sql", "INSERT INTO users VALUES (1, 'ann')"),
        ],
    )?;
    let wh = open(dir.path()).await?;
    wh.migrate(&folder).await?;
    std::fs::remove_file(folder.join("002_seed.sql"))?;
    let err = wh.migrate(&folder).await.expect_err("a missing file must be refused");
    let text = err.to_string();
    assert!(
        text.contains("version 2") && text.contains("seed") && text.contains("missing"),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn badly_named_files_and_duplicate_versions_are_errors_naming_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wh = open(dir.path()).await?;

    let folder = migrations(dir.path(), &[("001_ok.sql", CREATE_USERS), ("create_users.sql", "")])?;
    let err = wh.migrate(&folder).await.expect_err("bad name");
    assert!(err.to_string().contains("create_users.sql"), "{err}");
    assert!(err.to_string().contains("<version>_<name>.sql"), "{err}");
    assert!(!table_exists(&wh, "public", "users").await?, "nothing is applied");
    std::fs::remove_file(folder.join("create_users.sql"))?;

    std::fs::write(folder.join("1_again.sql"), "SELECT 1")?;
    let err = wh.migrate(&folder).await.expect_err("duplicate version");
    let text = err.to_string();
    assert!(text.contains("001_ok.sql") && text.contains("1_again.sql"), "{text}");
    assert!(!table_exists(&wh, "public", "users").await?, "nothing is applied");

    let err = wh
        .migrate(dir.path().join("no_such_folder"))
        .await
        .expect_err("missing folder");
    assert!(err.to_string().contains("no_such_folder"), "{err}");
    Ok(())
}

/// The heart of it: a migration that fails half-way leaves no table, no
/// rows and no tracking row, later files do not run, earlier ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_migration_rolls_back_entirely_and_stops() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[
            ("001_create_users.sql", CREATE_USERS),
            (
                "002_accounts.sql",
                "CREATE SCHEMA billing;\n\
                 CREATE TABLE billing.accounts (id int PRIMARY KEY, balance int NOT NULL);\n\
                 INSERT INTO billing.accounts VALUES (1, 10);\n\
                 INSERT INTO users VALUES (1, 'ann');\n\
                 INSERT INTO billing.accounts VALUES (2, NULL);\n",
            ),
            ("003_later.sql", "CREATE TABLE later (id int);"),
        ],
    )?;
    let wh = open(dir.path()).await?;
    let err = wh.migrate(&folder).await.expect_err("002 must fail");
    let text = err.to_string();
    assert!(text.contains("migration 002_accounts.sql failed"), "{text}");
    assert!(text.contains("statement 5") && text.contains("line 5"), "{text}");
    // The SQL error's kind (and so its SQLSTATE) is kept.
    assert_eq!(err.kind(), ErrorKind::Constraint, "{text}");

    let session = wh.session();
    assert_eq!(applied_versions(&session).await?, [1], "001 stays applied");
    assert!(!table_exists(&wh, "billing", "accounts").await?, "CREATE TABLE undone");
    assert!(!schema_exists(&wh, "billing").await?, "CREATE SCHEMA undone");
    assert_eq!(ints(&session, "SELECT count(*) FROM users").await?, [0], "DML undone");
    assert!(!table_exists(&wh, "public", "later").await?, "003 did not run");
    let hot_tables = wh.hot().tables()?;
    assert!(
        !hot_tables.iter().any(|t| t.name == "accounts"),
        "no WAL left: {hot_tables:?}"
    );

    // Fixed, it applies, and so does what came after it.
    std::fs::write(
        folder.join("002_accounts.sql"),
        "CREATE SCHEMA billing; CREATE TABLE billing.accounts (id int PRIMARY KEY, balance int NOT NULL);",
    )?;
    let report = wh.migrate(&folder).await?;
    assert_eq!(files(&report), ["002_accounts.sql", "003_later.sql"]);
    assert_eq!(applied_versions(&session).await?, [1, 2, 3]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_in_the_second_statement_leaves_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[(
            "001_users.sql",
            "CREATE TABLE users (id int);\n\nINSERT INTO users VALUES (1;\nCREATE TABLE other (id int);",
        )],
    )?;
    let wh = open(dir.path()).await?;
    let err = wh.migrate(&folder).await.expect_err("syntax error");
    let text = err.to_string();
    assert!(
        text.contains("001_users.sql") && text.contains("statement 2") && text.contains("line 3"),
        "{text}"
    );
    assert!(text.contains("syntax error"), "{text}");
    assert_eq!(err.kind(), ErrorKind::Plan);
    assert!(!table_exists(&wh, "public", "users").await?);
    assert!(!table_exists(&wh, "public", "other").await?);
    assert!(applied_versions(&wh.session()).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_control_inside_a_migration_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[
            ("001_users.sql", CREATE_USERS),
            ("002_own_txn.sql", "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;"),
        ],
    )?;
    let wh = open(dir.path()).await?;
    let err = wh.migrate(&folder).await.expect_err("BEGIN in a migration");
    let text = err.to_string();
    assert!(text.contains("002_own_txn.sql") && text.contains("BEGIN"), "{text}");
    // Refused before anything ran.
    assert!(!table_exists(&wh, "public", "users").await?);
    assert!(!table_exists(&wh, "public", "t").await?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_in_an_explicit_transaction_rolls_back() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wh = open(dir.path()).await?;
    let s = wh.session();
    s.execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)")
        .await?;
    s.execute(
        "BEGIN;
         CREATE SCHEMA staging;
         CREATE TABLE staging.t (id int PRIMARY KEY, v text);
         INSERT INTO staging.t VALUES (1, 'a');
         CREATE TABLE copy AS SELECT id FROM kept;
         INSERT INTO kept VALUES (3);",
    )
    .await?;
    // The transaction sees its own DDL and rows.
    assert_eq!(ints(&s, "SELECT count(*) FROM copy").await?, [2]);
    assert_eq!(ints(&s, "SELECT id FROM staging.t").await?, [1]);
    s.execute("ROLLBACK").await?;
    assert!(!table_exists(&wh, "staging", "t").await?);
    assert!(!table_exists(&wh, "public", "copy").await?);
    assert!(!schema_exists(&wh, "staging").await?);
    assert_eq!(
        ints(&s, "SELECT count(*) FROM kept").await?,
        [2],
        "committed rows untouched"
    );
    let hot = wh.hot().tables()?;
    assert!(
        hot.iter().all(|t| t.name == "kept"),
        "WALs of undone tables are gone: {hot:?}"
    );

    // The same names are free again, and COMMIT keeps them.
    s.execute(
        "BEGIN; CREATE SCHEMA staging; CREATE TABLE staging.t (id int); INSERT INTO staging.t VALUES (7); COMMIT",
    )
    .await?;
    assert_eq!(ints(&s, "SELECT id FROM staging.t").await?, [7]);

    // A failed transaction's COMMIT rolls back, DDL included.
    s.execute("BEGIN; CREATE TABLE doomed (id int PRIMARY KEY); INSERT INTO doomed VALUES (1)")
        .await?;
    assert!(s.execute("INSERT INTO doomed VALUES (1)").await.is_err());
    let out = s.execute("COMMIT").await?;
    assert_eq!(out[0].tag, "ROLLBACK");
    assert!(!table_exists(&wh, "public", "doomed").await?);
    Ok(())
}

/// An autocommit CTAS whose query fails after the table was made leaves no
/// table behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_table_as_leaves_no_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wh = open(dir.path()).await?;
    let s = wh.session();
    s.execute("CREATE TABLE src (v text); INSERT INTO src VALUES ('1'), ('x')")
        .await?;
    let err = s
        .execute("CREATE TABLE bad AS SELECT CAST(v AS int) AS n FROM src")
        .await
        .expect_err("'x' is not an int");
    assert!(!table_exists(&wh, "public", "bad").await?, "{err}");
    s.execute("CREATE TABLE bad AS SELECT CAST(v AS int) AS n FROM src WHERE v = '1'")
        .await?;
    assert_eq!(ints(&s, "SELECT n FROM bad").await?, [1]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_table_in_a_transaction_takes_effect_at_commit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wh = open(dir.path()).await?;
    let s = wh.session();
    s.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2); CHECKPOINT t; INSERT INTO t VALUES (3)")
        .await?;

    s.execute("BEGIN; DROP TABLE t").await?;
    // Deferred: until COMMIT the table is still there (for this session too).
    assert_eq!(ints(&s, "SELECT count(*) FROM t").await?, [3]);
    let err = s.execute("DROP TABLE t").await.expect_err("already dropped here");
    assert!(err.to_string().contains("does not exist"), "{err}");
    s.execute("ROLLBACK").await?;
    assert_eq!(ints(&s, "SELECT count(*) FROM t").await?, [3], "ROLLBACK keeps it");

    s.execute("BEGIN; DROP TABLE IF EXISTS t; DROP TABLE IF EXISTS t")
        .await?;
    let err = s
        .execute("CREATE TABLE t (id int)")
        .await
        .expect_err("same name in the same transaction");
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    s.execute("ROLLBACK").await?;

    s.execute("BEGIN; INSERT INTO t VALUES (4); DROP TABLE t; CREATE TABLE u (id int); COMMIT")
        .await?;
    assert!(!table_exists(&wh, "public", "t").await?);
    assert!(table_exists(&wh, "public", "u").await?);
    assert!(!wh.hot().tables()?.iter().any(|t| t.name == "t"));
    // The name is free after COMMIT.
    s.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (9)").await?;
    assert_eq!(ints(&s, "SELECT id FROM t").await?, [9]);
    Ok(())
}

/// A session that goes away mid-transaction undoes its DDL too: on a
/// multi-threaded runtime before the drop returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_session_undoes_its_ddl() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wh = open(dir.path()).await?;
    let s = wh.session();
    s.execute("BEGIN; CREATE TABLE orphan (id int); INSERT INTO orphan VALUES (1)")
        .await?;
    drop(s);
    assert!(!table_exists(&wh, "public", "orphan").await?);
    assert!(!wh.hot().tables()?.iter().any(|t| t.name == "orphan"));
    Ok(())
}

/// On a current-thread runtime the undo runs in the background, holding
/// the write lock: the next writer waits for it.
#[tokio::test]
async fn a_dropped_session_undoes_its_ddl_on_a_current_thread_runtime() -> TestResult {
    let dir = tempfile::tempdir()?;
    let wh = open(dir.path()).await?;
    let s = wh.session();
    s.execute("BEGIN; CREATE TABLE orphan (id int)").await?;
    drop(s);
    let other = wh.session();
    other.execute("BEGIN; CREATE TABLE after (id int); COMMIT").await?;
    assert!(!table_exists(&wh, "public", "orphan").await?);
    assert!(table_exists(&wh, "public", "after").await?);
    Ok(())
}

/// Run the binary against `dir/warehouse`.
fn cli(dir: &Path, args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_thermocline"))
        .arg("--warehouse")
        .arg(dir.join("warehouse"))
        .args(args)
        .env_remove("THERMOCLINE_WAREHOUSE")
        .env_remove("THERMOCLINE_SHARD")
        .env_remove("THERMOCLINE_MIGRATIONS")
        .env_remove("RUST_LOG")
        .output()
}

#[test]
fn the_cli_applies_migrations_before_the_command() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[
            ("001_create_users.sql", CREATE_USERS),
            ("002_seed.sql", "INSERT INTO users VALUES (1, 'ann'), (2, 'bob');"),
        ],
    )?;
    let folder = folder.to_str().ok_or("path")?;
    let out = cli(
        dir.path(),
        &[
            "sql",
            "--migrations",
            folder,
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM users",
        ],
    )?;
    let (stdout, stderr) = (String::from_utf8(out.stdout)?, String::from_utf8(out.stderr)?);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout, "n\n2\n", "rows only on stdout");
    assert!(
        stderr.contains("applied migration 001_create_users.sql") && stderr.contains("applied migration 002_seed.sql"),
        "{stderr}"
    );

    // A global option: before the subcommand too, and for other commands.
    let out = cli(dir.path(), &["--migrations", folder, "compact"])?;
    let stderr = String::from_utf8(out.stderr)?;
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("applied migration"), "nothing pending: {stderr}");
    Ok(())
}

#[test]
fn the_cli_stops_at_a_failing_migration_and_runs_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = migrations(
        dir.path(),
        &[
            ("001_create_users.sql", CREATE_USERS),
            (
                "002_bad.sql",
                "CREATE TABLE t (id int); INSERT INTO t VALUES ('not a number');",
            ),
        ],
    )?;
    let folder = folder.to_str().ok_or("path")?;
    let out = cli(
        dir.path(),
        &["sql", "--migrations", folder, "-c", "CREATE TABLE ran (id int)"],
    )?;
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("applied migration 001_create_users.sql"), "{stderr}");
    assert!(
        stderr.contains("migration 002_bad.sql failed at statement 2"),
        "{stderr}"
    );
    let out = cli(
        dir.path(),
        &[
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT table_name FROM information_schema.tables \
             WHERE table_catalog = 'thermocline' AND table_schema = 'public' ORDER BY 1",
        ],
    )?;
    let stdout = String::from_utf8(out.stdout)?;
    assert_eq!(
        stdout, "table_name\nthermocline_migrations\nusers\n",
        "no t, and the command did not run"
    );
    Ok(())
}

/// A one-shot `sql` that stops at an error inside a transaction exits with
/// the transaction rolled back, DDL included (the session is dropped
/// outside the async runtime).
#[test]
fn the_cli_rolls_back_ddl_of_a_transaction_it_stops_in() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = cli(
        dir.path(),
        &[
            "sql",
            "-c",
            "BEGIN; CREATE TABLE t (id int); INSERT INTO t VALUES (1); SELECT * FROM missing",
        ],
    )?;
    assert_eq!(out.status.code(), Some(1));
    let out = cli(
        dir.path(),
        &[
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_catalog = 'thermocline' AND table_name = 't'",
        ],
    )?;
    assert_eq!(String::from_utf8(out.stdout)?, "n\n0\n");
    Ok(())
}
