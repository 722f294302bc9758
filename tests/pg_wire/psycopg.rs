//! psycopg 3 against the server: each test runs one case of
//! tests/pg_clients/psycopg_cases.py (which asserts, and prints `ok CASE`)
//! against a server of its own.

use std::process::Command;

use crate::server::Server;
use crate::tools;

/// Run `case` against a fresh `trust` server.
fn case(case: &str) {
    let Some(python) = tools::python(&format!("psycopg {case}")) else {
        return;
    };
    let server = Server::start();
    run_case(&python, &server, case);
}

/// Run `case` against `server`, failing the test unless it printed `ok`.
pub fn run_case(python: &std::path::Path, server: &Server, case: &str) -> String {
    let mut command = Command::new(python);
    command
        .arg(tools::clients_dir().join("psycopg_cases.py"))
        .arg(case)
        .envs(server.pg_env())
        .env("PGTZ", "UTC");
    let outcome = tools::run(command, &format!("psycopg_{case}"), None, server.scratch());
    assert!(
        outcome.status.success() && outcome.stdout.contains(&format!("ok {case}")),
        "psycopg case {case} failed ({})\n--- stderr ---\n{}\n--- stdout ---\n{}\n--- server log (tail) ---\n{}",
        outcome.status,
        outcome.stderr,
        outcome.stdout,
        tail(&server.log(), 40)
    );
    outcome.stdout
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn psycopg_params_every_type() {
    case("params_every_type");
}

#[test]
fn psycopg_params_in_expressions() {
    case("params_in_expressions");
}

#[test]
fn psycopg_result_types() {
    case("result_types");
}

#[test]
fn psycopg_literal_types() {
    case("literal_types");
}

#[test]
fn psycopg_transactions() {
    case("transactions");
}

#[test]
fn psycopg_savepoints() {
    case("savepoints");
}

#[test]
fn psycopg_history_params() {
    case("history_params");
}

#[test]
fn psycopg_errors() {
    case("errors");
}

#[test]
fn psycopg_cast_errors() {
    case("cast_errors");
}

#[test]
fn psycopg_copy() {
    case("copy");
}

#[test]
fn psycopg_prepared_statements() {
    case("prepared");
}

#[test]
fn psycopg_executemany() {
    case("executemany");
}

#[test]
fn psycopg_fetch_many_rows() {
    case("fetch_many_rows");
}

#[test]
fn psycopg_cancel() {
    case("cancel");
}
