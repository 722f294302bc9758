//! The `thermocline` binary end to end: each test runs it against its own
//! temporary warehouse and checks what a user (or a script) sees.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Run `thermocline --warehouse <dir> <args>` with `stdin` as its input.
fn run_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Result<Output, Box<dyn std::error::Error>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_thermocline"))
        .arg("--warehouse")
        .arg(dir)
        .args(args)
        .env_remove("THERMOCLINE_WAREHOUSE")
        .env_remove("THERMOCLINE_SHARD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn run(dir: &Path, args: &[&str]) -> Result<Output, Box<dyn std::error::Error>> {
    run_with_stdin(dir, args, "")
}

/// Run and require success; returns (stdout, stderr).
fn ok(dir: &Path, args: &[&str]) -> Result<(String, String), Box<dyn std::error::Error>> {
    let out = run(dir, args)?;
    let (stdout, stderr) = (String::from_utf8(out.stdout)?, String::from_utf8(out.stderr)?);
    assert!(
        out.status.success(),
        "thermocline {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    Ok((stdout, stderr))
}

const CREATE: &str = "CREATE TABLE t (id int NOT NULL, name text, amount double precision)";
const INSERT: &str = "INSERT INTO t VALUES (1, 'a', 1.5), (2, NULL, NULL), (3, 'c, d', 3.25)";
const SELECT: &str = "SELECT * FROM t ORDER BY id";
const EXPECTED_CSV: &str = "id,name,amount\n1,a,1.5\n2,,\n3,\"c, d\",3.25\n";

#[test]
fn csv_output_is_exact_and_tags_go_to_stderr() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (stdout, stderr) = ok(
        dir.path(),
        &["sql", "--format", "csv", "-c", CREATE, "-c", INSERT, "-c", SELECT],
    )?;
    assert_eq!(stdout, EXPECTED_CSV);
    assert_eq!(stderr, "CREATE TABLE\nINSERT 0 3\n");
    Ok(())
}

#[test]
fn table_output_prints_tags_rows_and_timing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let sql = format!("{CREATE}; {INSERT}; SELECT count(*) AS n FROM t");
    let (stdout, _) = ok(dir.path(), &["sql", "--timing", "-c", &sql])?;
    assert!(stdout.starts_with("CREATE TABLE\nTime: "), "{stdout}");
    assert!(stdout.contains("INSERT 0 3\nTime: "), "{stdout}");
    assert!(stdout.contains("| n |\n+---+\n| 3 |\n+---+\n(1 row)\n"), "{stdout}");
    assert_eq!(stdout.matches("Time: ").count(), 3, "{stdout}");
    assert!(
        stdout
            .lines()
            .filter(|l| l.starts_with("Time: "))
            .all(|l| l.ends_with(" ms")),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn files_run_in_order_with_commands() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("load.sql");
    std::fs::write(
        &file,
        format!("-- a comment; not a statement\n{CREATE};\n\n{INSERT}\n  ; /* ; */\nSELECT 'x;y' AS s"),
    )?;
    let file = file.to_string_lossy().to_string();
    let (stdout, stderr) = ok(
        dir.path().join("wh").as_path(),
        &["sql", "--format", "csv", "-f", &file, "-c", SELECT],
    )?;
    assert_eq!(stdout, format!("s\nx;y\n{EXPECTED_CSV}"));
    assert_eq!(stderr, "CREATE TABLE\nINSERT 0 3\n");
    Ok(())
}

#[test]
fn sql_from_stdin_runs_as_a_script() -> TestResult {
    let dir = tempfile::tempdir()?;
    let script = format!("{CREATE};\n{INSERT};\n{SELECT};\n");
    let out = run_with_stdin(dir.path(), &["sql", "--format", "csv"], &script)?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout)?, EXPECTED_CSV);
    Ok(())
}

#[test]
fn an_error_stops_the_run_and_exits_1() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = run(
        dir.path(),
        &["sql", "-c", "SELECT * FROM nope", "-c", "SELECT 41 + 1 AS answer"],
    )?;
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("ERROR:  "), "{stderr}");
    assert!(stderr.contains("nope"), "the error names the table: {stderr}");
    assert!(
        stderr.lines().nth(1).is_some_and(|l| l.starts_with("SQLSTATE ")),
        "{stderr}"
    );
    assert!(
        !String::from_utf8(out.stdout)?.contains("42"),
        "statements after the error must not run"
    );

    // In a file, the error says where.
    let file = dir.path().join("bad.sql");
    std::fs::write(&file, "SELECT 1;\n\nSELECT * FROM\n  nope;\nSELECT 2;\n")?;
    let out = run(dir.path(), &["sql", "-f", &file.to_string_lossy()])?;
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("thermocline:{}:3: ERROR:  ", file.display())),
        "{stderr}"
    );

    // A syntax error too, and a missing file.
    let out = run(dir.path(), &["sql", "-c", "SELEC 1"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)?.starts_with("ERROR:  "));
    let out = run(
        dir.path(),
        &["sql", "-f", &dir.path().join("missing.sql").to_string_lossy()],
    )?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)?.contains("missing.sql"));
    Ok(())
}

#[test]
fn compact_moves_rows_and_queries_see_the_same_rows() -> TestResult {
    let dir = tempfile::tempdir()?;
    let create = "CREATE TABLE ev (ts timestamptz NOT NULL, tenant int NOT NULL, v text) \
                  PARTITION BY (day(ts), bucket(4, tenant))";
    let insert = "INSERT INTO ev VALUES ('2025-06-01T10:00:00Z', 1, 'a'), ('2025-06-02T11:00:00Z', 2, NULL), \
                  ('2025-06-02T12:30:00Z', 3, 'c')";
    let select = "SELECT * FROM ev ORDER BY ts";
    let (before, _) = ok(
        dir.path(),
        &["sql", "--format", "csv", "-c", create, "-c", insert, "-c", select],
    )?;
    assert_eq!(
        before,
        "ts,tenant,v\n2025-06-01 10:00:00+00:00,1,a\n2025-06-02 11:00:00+00:00,2,\n2025-06-02 12:30:00+00:00,3,c\n"
    );

    let (summary, _) = ok(dir.path(), &["compact", "--table", "ev"])?;
    assert!(summary.starts_with("public.ev: 3 rows → "), "{summary}");
    assert!(summary.contains("snapshot ") && summary.contains("rows/s"), "{summary}");

    let (after, _) = ok(dir.path(), &["sql", "--format", "csv", "-c", select])?;
    assert_eq!(after, before);
    // The rows are in Iceberg now: nothing is hot.
    let (again, _) = ok(dir.path(), &["compact"])?;
    assert_eq!(again, "nothing to compact: no hot rows\n");

    let (maintained, _) = ok(dir.path(), &["maintain", "--dry-run"])?;
    assert!(
        maintained.starts_with("public.ev: would expire 0 snapshots"),
        "{maintained}"
    );
    Ok(())
}

#[test]
fn json_output_parses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (stdout, _) = ok(
        dir.path(),
        &[
            "sql",
            "--format",
            "json",
            "-c",
            CREATE,
            "-c",
            INSERT,
            "-c",
            SELECT,
            "-c",
            "SELECT 1 AS one",
        ],
    )?;
    let arrays: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .collect::<Result<_, _>>()?;
    assert_eq!(arrays.len(), 2, "one array per statement with rows: {stdout}");
    assert_eq!(
        arrays[0],
        serde_json::json!([
            {"id": 1, "name": "a", "amount": 1.5},
            {"id": 2, "name": null, "amount": null},
            {"id": 3, "name": "c, d", "amount": 3.25}
        ])
    );
    assert_eq!(arrays[1], serde_json::json!([{"one": 1}]));
    Ok(())
}

#[test]
fn bad_usage_is_rejected_before_touching_the_warehouse() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = run(dir.path(), &["sql", "--format", "xml", "-c", "SELECT 1"])?;
    assert_eq!(out.status.code(), Some(2));
    let out = run(dir.path(), &["demo", "--rows", "10", "--hot-rows", "20"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)?.contains("--hot-rows"));
    Ok(())
}

/// `thermocline changes`: the events as JSON lines, resumable with
/// `--since`; `--follow` prints events other processes commit later, across
/// a compaction.
#[test]
fn changes_prints_events_and_follows_new_ones() -> TestResult {
    use std::io::BufRead;
    let dir = tempfile::tempdir()?;
    ok(
        dir.path(),
        &[
            "sql",
            "-c",
            "CREATE TABLE acct (id int PRIMARY KEY, owner text)",
            "-c",
            "INSERT INTO acct VALUES (1, 'ann'), (2, 'bob')",
            "-c",
            "UPDATE acct SET owner = 'ANN' WHERE id = 1",
        ],
    )?;
    let (stdout, _) = ok(dir.path(), &["changes", "acct"])?;
    let events: Vec<serde_json::Value> = stdout.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let ops: Vec<&str> = events.iter().filter_map(|e| e["op"].as_str()).collect();
    assert_eq!(ops, ["c", "c", "u"], "{stdout}");
    assert_eq!(events[2]["before"]["owner"], "ann");
    assert_eq!(events[2]["after"]["owner"], "ANN");
    assert_eq!(events[2]["key"]["id"], 1);
    assert_eq!(events[2]["table"], "public.acct");
    let last = events[2]["lsn"].as_i64().ok_or("lsn is not a number")?;

    let (stdout, _) = ok(dir.path(), &["changes", "acct", "--since", &last.to_string()])?;
    assert_eq!(stdout, "", "nothing after the last event");

    let mut follower = Command::new(env!("CARGO_BIN_EXE_thermocline"))
        .arg("--warehouse")
        .arg(dir.path())
        .args([
            "changes",
            "acct",
            "--since",
            &last.to_string(),
            "--follow",
            "--interval",
            "50ms",
        ])
        .env_remove("THERMOCLINE_WAREHOUSE")
        .env_remove("THERMOCLINE_SHARD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = follower.stdout.take().ok_or("no stdout")?;
    ok(
        dir.path(),
        &[
            "sql",
            "-c",
            "DELETE FROM acct WHERE id = 2",
            "-c",
            "CHECKPOINT",
            "-c",
            "INSERT INTO acct VALUES (3, 'cyd')",
        ],
    )?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let Some(line) = lines.next() else { break };
        let event: serde_json::Value = serde_json::from_str(&line?)?;
        seen.push((
            event["op"].as_str().unwrap_or_default().to_string(),
            event["lsn"].as_i64(),
        ));
    }
    follower.kill()?;
    follower.wait()?;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, "d");
    assert_eq!(seen[1].0, "c");
    assert!(seen[0].1 < seen[1].1 && seen[0].1 > Some(last), "{seen:?}");
    Ok(())
}
