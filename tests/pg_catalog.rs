//! Clients' introspection, replayed: the queries psql 15 sends for `\dt`,
//! `\d t`, `\dn`, `\l` and `\d` (captured with `psql -E` against PostgreSQL
//! 15, tests/pg_catalog/psql_*.sql), pgjdbc's `DatabaseMetaData` queries and
//! psycopg's `TypeInfo.fetch`, run through a session over a table like the
//! one they were captured on. Each answer is checked against what
//! PostgreSQL answered for that table.

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use thermocline::{Session, StatementOutput, Warehouse, WarehouseConfig};

/// The table the psql queries were captured on, as PostgreSQL's `\d` shows it.
const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name varchar NOT NULL, email text UNIQUE, \
                     score numeric(10,2), meta jsonb, age smallint, created timestamptz)";

/// The OID psql read from its first query and pasted into the others.
const CAPTURED_OID: &str = "'16384'";

async fn warehouse() -> thermocline::Result<(tempfile::TempDir, Warehouse)> {
    let dir = tempfile::tempdir()?;
    let wh = Warehouse::open(WarehouseConfig::new(dir.path())).await?;
    Ok((dir, wh))
}

/// Rows as text, NULL as "NULL".
fn rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formattable"))
            .collect();
        for r in 0..batch.num_rows() {
            out.push(formatters.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    out
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/pg_catalog/{name}.sql", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixture's statements, each run on its own so a failure names it.
async fn replay(session: &Session, name: &str, oid: Option<&str>) -> Vec<StatementOutput> {
    let mut text = fixture(name);
    if let Some(oid) = oid {
        text = text.replace(CAPTURED_OID, &format!("'{oid}'"));
    }
    let mut outputs = Vec::new();
    for statement in thermocline::sql::split(&text).expect("splits") {
        match session.execute(statement.text).await {
            Ok(mut out) => outputs.append(&mut out),
            Err(e) => panic!("{name}, statement at line {}: {e}\n{}", statement.line, statement.text),
        }
    }
    outputs
}

fn column(output: &StatementOutput, name: &str) -> Vec<String> {
    let index = output
        .schema
        .index_of(name)
        .unwrap_or_else(|_| panic!("no column {name} in {:?}", output.schema));
    rows(&output.batches).into_iter().map(|r| r[index].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_describe_commands() -> thermocline::Result<()> {
    let (_dir, wh) = warehouse().await?;
    let s = wh.session();
    s.execute(USERS).await?;
    s.execute("CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int)")
        .await?;

    // \dt and \d: the table, not the catalogs, and not a table outside the
    // search path (PostgreSQL hides analytics.events too).
    for name in ["psql_dt", "psql_d", "psql_dt_plus"] {
        let out = replay(&s, name, None).await;
        let listed = rows(&out[0].batches);
        assert_eq!(
            listed.iter().map(|r| r[..4].to_vec()).collect::<Vec<_>>(),
            vec![vec!["public", "users", "table", "thermocline"]],
            "{name}"
        );
    }

    // \dn: user schemas only.
    let out = replay(&s, "psql_dn", None).await;
    assert_eq!(column(&out[0], "Name"), vec!["analytics", "public"]);

    // \l: this database, UTF8.
    let out = replay(&s, "psql_list_databases", None).await;
    let databases = rows(&out[0].batches);
    assert_eq!(databases.len(), 1);
    assert_eq!(databases[0][..3], ["thermocline", "thermocline", "UTF8"]);

    // \d users: the OID lookup, then the queries that use it.
    for name in ["psql_describe", "psql_describe_plus"] {
        let first = fixture(name);
        let lookup = thermocline::sql::split(&first).expect("splits")[0].text.to_string();
        let found = s.execute(&lookup).await?;
        let found = rows(&found[0].batches);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert_eq!(found[0][1..], ["public", "users"]);
        let oid = found[0][0].clone();

        let out = replay(&s, name, Some(&oid)).await;
        assert_eq!(out.len(), 9, "{name}: every query answered");
        let table = rows(&out[1].batches);
        assert_eq!(table.len(), 1);
        assert_eq!(&table[0][1..3], ["r", "true"], "{name}: a table with indexes");

        let columns = rows(&out[2].batches);
        let shown: Vec<(&str, &str, &str)> = columns
            .iter()
            .map(|r| (r[0].as_str(), r[1].as_str(), r[3].as_str()))
            .collect();
        // What PostgreSQL 15 showed for the same CREATE TABLE.
        assert_eq!(
            shown,
            vec![
                ("id", "bigint", "true"),
                ("name", "character varying", "true"),
                ("email", "text", "false"),
                ("score", "numeric(10,2)", "false"),
                ("meta", "jsonb", "false"),
                ("age", "smallint", "false"),
                ("created", "timestamp with time zone", "false"),
            ],
            "{name}"
        );

        let indexes = rows(&out[3].batches);
        assert_eq!(indexes.len(), 2, "{name}: {indexes:?}");
        assert_eq!(indexes[0][0], "users_pkey");
        assert_eq!(indexes[0][1..3], ["true", "true"]);
        assert_eq!(
            indexes[0][5],
            "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)"
        );
        assert_eq!(indexes[0][6..8], ["PRIMARY KEY (id)", "p"]);
        assert_eq!(indexes[1][0], "users_email_key");
        assert_eq!(indexes[1][1..3], ["false", "true"]);
        assert_eq!(indexes[1][6..8], ["UNIQUE (email)", "u"]);

        // Policies, statistics, publications, inheritance: none.
        for (i, output) in out.iter().enumerate().skip(4) {
            assert_eq!(output.row_count(), 0, "{name}: query {i}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgjdbc_database_metadata() -> thermocline::Result<()> {
    let (_dir, wh) = warehouse().await?;
    let s = wh.session();
    s.execute(USERS).await?;
    let out = replay(&s, "pgjdbc_metadata", None).await;

    let schemas = column(&out[0], "table_schem");
    assert!(schemas.contains(&"public".to_string()), "{schemas:?}");
    assert!(schemas.contains(&"pg_catalog".to_string()), "{schemas:?}");

    let tables = rows(&out[1].batches);
    assert_eq!(tables.len(), 1, "{tables:?}");
    assert_eq!(tables[0][..4], ["NULL", "public", "users", "TABLE"]);

    let columns = &out[2];
    assert_eq!(
        column(columns, "attname"),
        ["id", "name", "email", "score", "meta", "age", "created"]
    );
    // pgjdbc maps these OIDs to java.sql.Types; jsonb must be jsonb (3802).
    assert_eq!(
        column(columns, "atttypid"),
        ["20", "1043", "25", "1700", "3802", "21", "1184"]
    );
    assert_eq!(
        column(columns, "attnotnull"),
        ["true", "true", "false", "false", "false", "false", "false"]
    );
    assert_eq!(column(columns, "attnum"), ["1", "2", "3", "4", "5", "6", "7"]);
    // numeric(10,2)'s typmod, as PostgreSQL stores it.
    assert_eq!(column(columns, "atttypmod")[3], (((10 << 16) | 2) + 4).to_string());

    let keys = rows(&out[3].batches);
    assert_eq!(keys, vec![vec!["NULL", "public", "users", "id", "1", "users_pkey"]]);

    let best = rows(&out[4].batches);
    assert_eq!(best, vec![vec!["id", "20", "-1"]]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_finds_the_vector_type() -> thermocline::Result<()> {
    let (_dir, wh) = warehouse().await?;
    let s = wh.session();
    let out = replay(&s, "psycopg_typeinfo", None).await;
    assert_eq!(
        rows(&out[0].batches),
        vec![vec!["vector", "16385", "16390", "vector", ","]]
    );
    // A type that does not exist: no row, not an error.
    let none = s
        .query("SELECT oid FROM pg_type t WHERE t.oid = to_regtype('no_such_type')")
        .await?;
    assert!(rows(&none).is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_drivers_set_and_show() -> thermocline::Result<()> {
    let (_dir, wh) = warehouse().await?;
    let s = wh.session();
    // pgjdbc, psycopg, node-postgres and DBeaver send these.
    s.execute(
        "SET extra_float_digits = 3; SET application_name = 'PostgreSQL JDBC Driver'; \
         SET DateStyle = ISO, MDY; SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    )
    .await?;
    let shown = s.execute("SHOW application_name").await?;
    assert_eq!(shown[0].schema.field(0).name(), "application_name");
    assert_eq!(rows(&shown[0].batches), vec![vec!["PostgreSQL JDBC Driver"]]);
    let shown = s.query("SHOW TRANSACTION ISOLATION LEVEL").await?;
    assert_eq!(rows(&shown), vec![vec!["serializable"]]);
    let values = s
        .query(
            "SELECT current_setting('extra_float_digits'), current_setting('datestyle'), \
             current_setting('server_version_num'), current_setting('nope', true)",
        )
        .await?;
    assert_eq!(rows(&values), vec![vec!["3", "ISO, MDY", "150000", "NULL"]]);
    let err = s
        .execute("SELECT current_setting('no_such_setting')")
        .await
        .expect_err("unknown setting");
    assert!(
        err.to_string().contains("unrecognized configuration parameter"),
        "{err}"
    );

    let info = s
        .query(
            "SELECT version(), current_database(), current_schema(), current_user, session_user, \
             pg_catalog.pg_backend_pid() > 0, has_table_privilege('users', 'SELECT')",
        )
        .await?;
    let info = &rows(&info)[0];
    assert!(info[0].starts_with("PostgreSQL 15"), "{info:?}");
    assert_eq!(
        info[1..],
        ["thermocline", "public", "thermocline", "thermocline", "true", "true"]
    );

    // Settings are per session.
    let other = wh.session();
    let shown = other.query("SHOW application_name").await?;
    assert_eq!(rows(&shown), vec![vec![""]]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogs_are_read_when_queried() -> thermocline::Result<()> {
    let (_dir, wh) = warehouse().await?;
    let s = wh.session();
    let count = "SELECT count(*) FROM pg_class WHERE relkind = 'r'";
    assert_eq!(rows(&s.query(count).await?), vec![vec!["0"]]);
    s.execute("CREATE TABLE t (a int NOT NULL, j jsonb)").await?;
    assert_eq!(rows(&s.query(count).await?), vec![vec!["1"]]);

    // Same OID everywhere, and from ::regclass.
    let joined = s
        .query(
            "SELECT a.attname, t.typname, a.attnotnull FROM pg_attribute a \
             JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = 't'::regclass AND a.attnum > 0 ORDER BY a.attnum",
        )
        .await?;
    assert_eq!(
        rows(&joined),
        vec![vec!["a", "int4", "true"], vec!["j", "jsonb", "false"]]
    );
    let named = s
        .query("SELECT c.oid::regclass::text, c.relnamespace::regnamespace::text FROM pg_class c WHERE c.relname = 't'")
        .await?;
    assert_eq!(rows(&named), vec![vec!["t", "public"]]);

    s.execute("DROP TABLE t").await?;
    assert_eq!(rows(&s.query(count).await?), vec![vec!["0"]]);
    Ok(())
}
