//! Authentication and TLS: SCRAM-SHA-256 with the right and a wrong
//! password (psql, psycopg, tokio-postgres for the SQLSTATE), TLS with a
//! self-signed certificate (sslmode=require), `tls_required` refusing a
//! plain client, and `trust` refused off loopback at start-up.

use std::path::Path;
use std::process::Command;

use tokio_postgres::error::SqlState;

use crate::psycopg::run_case;
use crate::server::{PASSWORD, Server};
use crate::tools;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The SQLSTATE tokio-postgres reports for a refused connection.
fn refused_code(config: &tokio_postgres::Config) -> (SqlState, String) {
    runtime().block_on(async {
        match config.connect(tokio_postgres::NoTls).await {
            Ok(_) => panic!("the connection was accepted"),
            Err(e) => match e.as_db_error() {
                Some(db) => (db.code().clone(), db.message().to_string()),
                None => panic!("refused without an ErrorResponse: {e:?}"),
            },
        }
    })
}

fn psql_command(psql: &Path, server: &Server, conninfo: &str) -> Command {
    let mut command = Command::new(psql);
    command
        .args(["-X", "-A", "-t", "-d"])
        .arg(conninfo)
        .envs(server.pg_env().into_iter().filter(|(k, _)| *k != "PGPASSWORD"));
    command
}

#[test]
fn scram_right_and_wrong_password() {
    let server = Server::builder().password().start();

    // PostgreSQL's message names the user; the checks of it are collected
    // so one wrong message does not hide the other clients' results.
    let mut wrong_messages = Vec::new();
    let expected = "password authentication failed for user \"thermocline\"";

    // tokio-postgres: the SQLSTATE of a wrong password and of an unknown user.
    let mut config = server.tokio_config();
    config.password("wrong");
    let (code, message) = refused_code(&config);
    assert_eq!(code, SqlState::INVALID_PASSWORD, "{message}");
    if message.to_lowercase() != expected {
        wrong_messages.push(format!("tokio-postgres: {message:?}"));
    }
    let mut config = server.tokio_config();
    config.user("mallory");
    let (code, message) = refused_code(&config);
    assert_eq!(
        code,
        SqlState::INVALID_PASSWORD,
        "an unknown user looks like a wrong password: {message}"
    );
    runtime().block_on(async {
        let (client, connection) = server
            .tokio_config()
            .connect(tokio_postgres::NoTls)
            .await
            .expect("SCRAM login");
        tokio::spawn(connection);
        let row = client.query_one("SELECT 1 + 1", &[]).await.expect("query");
        assert_eq!(row.get::<_, i64>(0), 2);
    });

    if let Some(psql) = tools::psql("scram_right_and_wrong_password (psql)") {
        let conninfo = server.conninfo();
        let mut right = psql_command(&psql, &server, &conninfo);
        right.env("PGPASSWORD", PASSWORD).args(["-c", "SELECT 'in'"]);
        let out = tools::run(right, "psql-right", None, server.scratch()).success("psql with the password");
        assert_eq!(out.stdout, "in\n");
        let wrong_conninfo = conninfo.replace(PASSWORD, "wrong");
        let mut wrong = psql_command(&psql, &server, &wrong_conninfo);
        wrong.args(["-c", "SELECT 'in'"]);
        let out = tools::run(wrong, "psql-wrong", None, server.scratch());
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains("FATAL:"), "{out:?}");
        if !out.stderr.to_lowercase().contains(expected) {
            wrong_messages.push(format!("psql: {:?}", out.stderr.trim()));
        }
    }

    if let Some(python) = tools::python("scram_right_and_wrong_password (psycopg)") {
        let out = run_case(&python, &server, "login");
        assert!(out.contains("used_password=True"), "{out}");
        let wrong = Server::builder().password().start();
        // The same server settings, a client with the wrong password.
        let mut command = Command::new(&python);
        command
            .arg(tools::clients_dir().join("psycopg_cases.py"))
            .arg("wrong_password")
            .envs(wrong.pg_env())
            .env("PGPASSWORD", "wrong");
        let out = tools::run(command, "psycopg_wrong_password", None, wrong.scratch());
        if !out.status.success() {
            wrong_messages.push(format!("psycopg: {}", out.stderr.trim()));
        }
    }
    assert!(
        wrong_messages.is_empty(),
        "a wrong password must fail with {expected:?}:\n{}",
        wrong_messages.join("\n")
    );
}

/// A server with a self-signed certificate (and SCRAM, so psql and
/// psycopg use channel binding over TLS).
fn tls_server(test: &str, required: bool) -> Option<(Server, tempfile::TempDir)> {
    let openssl = tools::openssl(test)?;
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = tools::self_signed_certificate(&openssl, certs.path());
    let builder = Server::builder()
        .password()
        .pg(format!("tls_cert = {:?}", cert.display().to_string()))
        .pg(format!("tls_key = {:?}", key.display().to_string()))
        .pg(format!("tls_required = {required}"));
    Some((builder.start(), certs))
}

#[test]
fn tls_with_a_self_signed_certificate() {
    let Some((server, _certs)) = tls_server("tls_with_a_self_signed_certificate", false) else {
        return;
    };
    if let Some(psql) = tools::psql("tls_with_a_self_signed_certificate (psql)") {
        let conninfo = format!("{} sslmode=require", server.conninfo());
        let mut command = psql_command(&psql, &server, &conninfo);
        command.args(["-c", "SELECT 'secure'", "-c", "\\conninfo"]);
        let out = tools::run(command, "psql-tls", None, server.scratch()).success("psql sslmode=require");
        assert!(out.stdout.starts_with("secure\n"), "{out:?}");
        assert!(out.stdout.contains("SSL connection (protocol: TLSv1."), "{out:?}");
    }
    if let Some(python) = tools::python("tls_with_a_self_signed_certificate (psycopg)") {
        let mut command = Command::new(&python);
        command
            .arg(tools::clients_dir().join("psycopg_cases.py"))
            .arg("login")
            .envs(server.pg_env())
            .env("PGSSLMODE", "require");
        let out = tools::run(command, "psycopg-tls", None, server.scratch()).success("psycopg sslmode=require");
        assert!(out.stdout.contains("ssl=True"), "{out:?}");
        // TLS is offered, not required: a plain client still gets in.
        let mut command = Command::new(&python);
        command
            .arg(tools::clients_dir().join("psycopg_cases.py"))
            .arg("login")
            .envs(server.pg_env())
            .env("PGSSLMODE", "disable");
        let out = tools::run(command, "psycopg-plain", None, server.scratch()).success("psycopg sslmode=disable");
        assert!(out.stdout.contains("ssl=False"), "{out:?}");
    }
}

#[test]
fn tls_required_refuses_a_plain_client() {
    let Some((server, _certs)) = tls_server("tls_required_refuses_a_plain_client", true) else {
        return;
    };
    let (code, message) = refused_code(&server.tokio_config());
    assert_eq!(code, SqlState::INVALID_AUTHORIZATION_SPECIFICATION, "{message}");
    if let Some(psql) = tools::psql("tls_required_refuses_a_plain_client (psql)") {
        let plain = format!("{} sslmode=disable", server.conninfo());
        let mut command = psql_command(&psql, &server, &plain);
        command.args(["-c", "SELECT 1"]);
        let out = tools::run(command, "psql-plain", None, server.scratch());
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains("requires TLS"), "{out:?}");
        let secure = format!("{} sslmode=require", server.conninfo());
        let mut command = psql_command(&psql, &server, &secure);
        command.args(["-c", "SELECT 'secure'"]);
        let out = tools::run(command, "psql-secure", None, server.scratch()).success("psql sslmode=require");
        assert_eq!(out.stdout, "secure\n");
    }
}

#[test]
fn trust_off_loopback_is_refused_at_startup() {
    let (status, stderr) = Server::builder().listen("0.0.0.0:0").start_and_fail();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 with auth = \"trust\""),
        "{stderr}"
    );
    // With a password the same address is allowed (not started here: the
    // test only ever listens on loopback).
}
