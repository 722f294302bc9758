//! psql 15 against the server: scripts in tests/pg_clients/psql_*.sql, run
//! as pg_regress runs its tests (`psql -X -a -q`, errors interleaved), and
//! compared with the recorded `.out` next to them. `THERMOCLINE_BLESS=1`
//! rewrites the `.out` files from what psql printed; review the diff.

use std::process::Command;

use crate::server::Server;
use crate::tools;

/// Run `tests/pg_clients/<name>.sql` through psql and compare its output
/// with `<name>.out`. Files the script reads (`\copy`) are written to the
/// scratch folder first, which is psql's working directory.
fn check_script(name: &str, files: &[(&str, &str)]) -> Option<Server> {
    let psql = tools::psql(name)?;
    let server = Server::start();
    for (file, contents) in files {
        std::fs::write(server.scratch().join(file), contents).expect("write a file for \\copy");
    }
    let script = tools::clients_dir().join(format!("{name}.sql"));
    let mut command = Command::new(psql);
    command
        .args(["-X", "-a", "-q", "-v", "ON_ERROR_STOP=0", "-d"])
        .arg(server.conninfo())
        .current_dir(server.scratch())
        .env("PGTZ", "UTC")
        .env("PGCLIENTENCODING", "UTF8");
    let outcome = tools::run_merged(command, name, Some(&script), server.scratch());
    let expected_path = tools::clients_dir().join(format!("{name}.out"));
    if std::env::var_os("THERMOCLINE_BLESS").is_some() {
        std::fs::write(&expected_path, &outcome.stdout).expect("write the .out file");
    }
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e} (THERMOCLINE_BLESS=1 records it)", expected_path.display()));
    if outcome.stdout != expected {
        let diff = line_diff(&expected, &outcome.stdout);
        panic!(
            "{name}: psql's output differs from {} (- expected, + got):\n{diff}\n--- server log ---\n{}",
            expected_path.display(),
            server.log()
        );
    }
    assert!(outcome.status.success(), "{name}: psql exited {}", outcome.status);
    Some(server)
}

/// The lines that differ, with their line numbers (enough to read a
/// failure without a diff tool).
fn line_diff(expected: &str, got: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let got: Vec<&str> = got.lines().collect();
    let mut out = String::new();
    for i in 0..expected.len().max(got.len()) {
        let (e, g) = (expected.get(i), got.get(i));
        if e != g {
            if let Some(e) = e {
                out.push_str(&format!("{:>4} - {e}\n", i + 1));
            }
            if let Some(g) = g {
                out.push_str(&format!("{:>4} + {g}\n", i + 1));
            }
        }
    }
    out
}

#[test]
fn psql_types() {
    check_script("psql_types", &[]);
}

#[test]
fn psql_errors() {
    check_script("psql_errors", &[]);
}

#[test]
fn psql_transactions() {
    check_script("psql_transactions", &[]);
}

#[test]
fn psql_copy() {
    let files = [
        (
            "more_items.csv",
            "100,from file,10.00,2024-03-03\n101,\"file, quoted\",,\n",
        ),
        ("more_items.txt", "102\ttext file\t\\N\t2024-04-04\n"),
    ];
    let Some(server) = check_script("psql_copy", &files) else {
        return;
    };
    // What \copy ... TO wrote on the client's side.
    let csv = std::fs::read_to_string(server.scratch().join("exported.csv")).expect("exported.csv");
    assert_eq!(csv, "100,from file\n101,\"file, quoted\"\n102,text file\n");
    let text = std::fs::read_to_string(server.scratch().join("exported.txt")).expect("exported.txt");
    assert_eq!(text.lines().count(), 10, "{text}");
    assert!(text.contains("2\ttab\\there\t\\N\t\\N\n"), "{text}");
    assert!(text.contains("3\tback\\\\slash\t0.50\t2024-12-31\n"), "{text}");
}

/// Several statements in one `-c` go as one simple Query: psql shows the
/// last result; several `-c` run in order.
#[test]
fn psql_multiple_statements_in_one_command() {
    let Some(psql) = tools::psql("psql_multiple_statements_in_one_command") else {
        return;
    };
    let server = Server::start();
    let mut command = Command::new(&psql);
    command
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(server.conninfo())
        .args([
            "-c",
            "CREATE TABLE m (id int, s text); INSERT INTO m VALUES (1, 'a'), (2, 'b'); \
             INSERT INTO m VALUES (3, 'c'); SELECT count(*) FROM m",
        ])
        .args(["-c", "SELECT s FROM m ORDER BY id DESC"]);
    let out = tools::run(command, "multi", None, server.scratch()).success("psql -c");
    assert_eq!(out.stdout, "CREATE TABLE\nINSERT 0 2\nINSERT 0 1\n3\nc\nb\na\n");

    // An error in the middle of a multi-statement query stops it there,
    // and the statements before it are rolled back: the query is one
    // implicit transaction, as in PostgreSQL.
    let mut command = Command::new(&psql);
    command
        .args(["-X", "-A", "-t", "-v", "VERBOSITY=verbose", "-d"])
        .arg(server.conninfo())
        .args([
            "-c",
            "INSERT INTO m VALUES (4, 'd'); SELECT * FROM nope; INSERT INTO m VALUES (5, 'e')",
        ])
        .args(["-c", "SELECT count(*) FROM m"]);
    let out = tools::run(command, "multi-error", None, server.scratch());
    assert!(out.stderr.contains("ERROR:  42P01"), "{out:?}");
    assert_eq!(
        out.stdout.lines().last(),
        Some("3"),
        "the implicit transaction is rolled back: {out:?}"
    );
}
