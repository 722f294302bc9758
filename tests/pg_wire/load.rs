//! 64 concurrent connections (tokio-postgres) on loopback, each running a
//! fixed mix of inserts and queries: no errors, every row there at the
//! end, and each worker always sees its own committed writes. Bounded by
//! operation count; the latencies are printed, not asserted.

use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use crate::server::Server;

const CONNECTIONS: i64 = 64;
/// Operations per connection: half inserts, half queries.
const OPERATIONS: i64 = 16;

#[test]
fn load_64_connections_mixed_inserts_and_queries() {
    let server = Server::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (latencies, errors) = runtime.block_on(async {
        let (client, connection) = server.tokio_config().connect(NoTls).await.expect("connect");
        tokio::spawn(connection);
        client
            .batch_execute("CREATE TABLE load (id bigint PRIMARY KEY, worker bigint NOT NULL, payload text)")
            .await
            .expect("create table");

        let mut workers = tokio::task::JoinSet::new();
        for worker in 0..CONNECTIONS {
            let config = server.tokio_config();
            workers.spawn(async move { run_worker(config, worker).await });
        }
        let mut latencies = Vec::new();
        let mut errors = Vec::new();
        while let Some(joined) = workers.join_next().await {
            let (mut worker_latencies, mut worker_errors) = joined.expect("worker task");
            latencies.append(&mut worker_latencies);
            errors.append(&mut worker_errors);
        }

        let row = client
            .query_one("SELECT count(*), count(DISTINCT worker) FROM load", &[])
            .await
            .expect("final count");
        let inserts = OPERATIONS / 2;
        let (count, workers): (i64, i64) = (row.get(0), row.get(1));
        assert_eq!(count, CONNECTIONS * inserts, "rows after the load");
        assert_eq!(workers, CONNECTIONS, "every worker's rows");
        (latencies, errors)
    });
    assert!(
        errors.is_empty(),
        "{} of the operations failed:\n{}",
        errors.len(),
        errors.join("\n")
    );

    let mut sorted = latencies;
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "load: {} connections x {} operations: p50 {:?}, p99 {:?}, max {:?}",
        CONNECTIONS,
        OPERATIONS,
        at(0.50),
        at(0.99),
        sorted.last().copied().unwrap_or_default()
    );
}

/// One connection's share: insert, count its own rows, insert, read one
/// back. Returns each operation's latency and the failures.
async fn run_worker(config: tokio_postgres::Config, worker: i64) -> (Vec<Duration>, Vec<String>) {
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    let client = match config.connect(NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => return (latencies, vec![format!("worker {worker}: connect: {e:?}")]),
    };
    let mut inserted = 0i64;
    for op in 0..OPERATIONS {
        let id = worker * 1_000 + op;
        let started = Instant::now();
        let outcome = match op % 4 {
            0 | 2 => client
                .execute(
                    "INSERT INTO load (id, worker, payload) VALUES ($1, $2, $3)",
                    &[&id, &worker, &format!("worker {worker} op {op}")],
                )
                .await
                .map(|n| {
                    inserted += 1;
                    (n == 1).then_some(()).ok_or(format!("inserted {n} rows"))
                }),
            1 => client
                .query_one("SELECT count(*) FROM load WHERE worker = $1", &[&worker])
                .await
                .map(|row| {
                    let seen: i64 = row.get(0);
                    (seen == inserted)
                        .then_some(())
                        .ok_or(format!("sees {seen} of its {inserted} committed rows"))
                }),
            _ => client
                .query_one("SELECT payload FROM load WHERE id = $1", &[&(id - 1)])
                .await
                .map(|row| {
                    let payload: String = row.get(0);
                    (payload == format!("worker {worker} op {}", op - 1))
                        .then_some(())
                        .ok_or(format!("read back {payload:?}"))
                }),
        };
        latencies.push(started.elapsed());
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(wrong)) => errors.push(format!("worker {worker} op {op}: {wrong}")),
            Err(e) => errors.push(format!("worker {worker} op {op}: {e:?}")),
        }
    }
    (latencies, errors)
}
