//! The server's limits: `max_connections` (53300), `statement_timeout`
//! (57014), `idle_in_transaction_timeout` (FATAL 25P03, the transaction
//! rolled back), each with the session or server usable after it.

use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::server::Server;

/// A cross join DataFusion cannot shortcut: minutes unless stopped.
const LONG_QUERY: &str = "SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.value + b.value = 3";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A client and the task driving its connection (its result: how the
/// connection ended).
async fn connect(
    server: &Server,
) -> Result<(Client, tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>), tokio_postgres::Error> {
    let (client, connection) = server.tokio_config().connect(NoTls).await?;
    Ok((client, tokio::spawn(connection)))
}

#[test]
fn max_connections_refuses_with_53300() {
    let server = Server::builder().pg("max_connections = 2").start();
    runtime().block_on(async {
        let (first, _) = connect(&server).await.expect("first connection");
        let (second, _) = connect(&server).await.expect("second connection");
        let refused = match connect(&server).await {
            Ok(_) => panic!("a third connection was accepted with max_connections = 2"),
            Err(e) => e,
        };
        let db = refused
            .as_db_error()
            .unwrap_or_else(|| panic!("no ErrorResponse: {refused:?}"));
        assert_eq!(db.code(), &SqlState::TOO_MANY_CONNECTIONS, "{db:?}");
        assert_eq!(db.message(), "sorry, too many clients already");
        // The two admitted ones are unaffected.
        for client in [&first, &second] {
            let row = client.query_one("SELECT 7", &[]).await.expect("query");
            assert_eq!(row.get::<_, i64>(0), 7);
        }
        // A closed connection frees its slot (soon: the server notices
        // the close asynchronously).
        drop(second);
        let deadline = Instant::now() + Duration::from_secs(10);
        let third = loop {
            match connect(&server).await {
                Ok((client, _)) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the slot of a closed connection was not freed: {e:?}"),
            }
        };
        assert_eq!(
            third.query_one("SELECT 8", &[]).await.expect("query").get::<_, i64>(0),
            8
        );
    });
}

#[test]
fn statement_timeout_cancels_with_57014() {
    let server = Server::builder().pg("statement_timeout = \"1s\"").start();
    runtime().block_on(async {
        let (client, _) = connect(&server).await.expect("connect");
        let started = Instant::now();
        let e = client
            .query(LONG_QUERY, &[])
            .await
            .expect_err("the long query was not stopped");
        let db = e.as_db_error().unwrap_or_else(|| panic!("no ErrorResponse: {e:?}"));
        assert_eq!(db.code(), &SqlState::QUERY_CANCELED, "{db:?}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "stopped after {:?}",
            started.elapsed()
        );
        let row = client
            .query_one("SELECT 1 + 2", &[])
            .await
            .expect("usable after the timeout");
        assert_eq!(row.get::<_, i64>(0), 3);
    });
}

#[test]
fn cancel_request_stops_a_long_query() {
    let server = Server::start();
    runtime().block_on(async {
        let (client, _) = connect(&server).await.expect("connect");
        let token = client.cancel_token();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            token.cancel_query(NoTls).await
        });
        let started = Instant::now();
        let e = client
            .query(LONG_QUERY, &[])
            .await
            .expect_err("the long query was not cancelled");
        canceller.await.expect("canceller").expect("send the cancel request");
        let db = e.as_db_error().unwrap_or_else(|| panic!("no ErrorResponse: {e:?}"));
        assert_eq!(db.code(), &SqlState::QUERY_CANCELED, "{db:?}");
        println!("cancel: the query stopped after {:?}", started.elapsed());
        let row = client
            .query_one("SELECT 2 + 2", &[])
            .await
            .expect("usable after the cancel");
        assert_eq!(row.get::<_, i64>(0), 4);
    });
}

#[test]
fn idle_in_transaction_timeout_closes_and_rolls_back() {
    let server = Server::builder().pg("idle_in_transaction_timeout = \"1s\"").start();
    runtime().block_on(async {
        let (setup, _) = connect(&server).await.expect("connect");
        setup
            .batch_execute("CREATE TABLE pending (id bigint PRIMARY KEY)")
            .await
            .expect("create");

        let (idle, idle_connection) = connect(&server).await.expect("connect");
        idle.batch_execute("BEGIN; INSERT INTO pending VALUES (1), (2), (3)")
            .await
            .expect("a transaction with writes");
        // Idle outside a transaction: never closed.
        let (resting, _) = connect(&server).await.expect("connect");

        tokio::time::sleep(Duration::from_millis(3_000)).await;

        let e = idle
            .batch_execute("COMMIT")
            .await
            .expect_err("the idle transaction's session was not closed");
        assert!(e.is_closed() || e.as_db_error().is_some(), "{e:?}");
        let ended = tokio::time::timeout(Duration::from_secs(5), idle_connection)
            .await
            .expect("the connection ended")
            .expect("connection task");
        let fatal = ended.expect_err("the server closed the connection with an error");
        let db = fatal
            .as_db_error()
            .unwrap_or_else(|| panic!("no ErrorResponse: {fatal:?}"));
        assert_eq!(db.code(), &SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT, "{db:?}");
        assert_eq!(db.severity(), "FATAL");

        let row = setup
            .query_one("SELECT count(*) FROM pending", &[])
            .await
            .expect("count");
        assert_eq!(row.get::<_, i64>(0), 0, "the closed session's writes were rolled back");
        let row = resting
            .query_one("SELECT 5", &[])
            .await
            .expect("an idle session outside a transaction");
        assert_eq!(row.get::<_, i64>(0), 5);
        // The table takes new writes (no lock left behind).
        setup
            .execute("INSERT INTO pending VALUES (1)", &[])
            .await
            .expect("insert after the rollback");
    });
}
