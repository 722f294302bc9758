//! Shards in other processes: two real `thermocline serve` shard servers on
//! loopback, each hosting half of a sharded table's shards, and a
//! coordinator (this test) that writes through them and fans queries out
//! over Arrow Flight. Answers are compared with plain DataFusion over the
//! same rows; then a server is killed before and during a query, and
//! restarted.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::{Row, rows};
use datafusion::prelude::SessionContext;
use thermocline::{CompactionMode, ErrorKind, Warehouse, WarehouseConfig};

/// A shard server process, killed when dropped.
struct ShardServer {
    child: Child,
    port: u16,
}

impl ShardServer {
    fn start(dir: &Path, name: &str, shards: &str, port: u16) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_thermocline"))
            .args(["--warehouse"])
            .arg(dir)
            .args(["--shard", name, "serve", "--flight-listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--host-shards", shards])
            .env("THERMOCLINE_PG_LISTEN", "127.0.0.1:0")
            .env("THERMOCLINE_PG_AUTH", "trust")
            .env("THERMOCLINE_LOG", "warn")
            .env("THERMOCLINE_SHARD_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a shard server");
        let stdout = child.stdout.take().expect("server stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("shard server {name} exited before listening"))
                .expect("server stdout");
            if let Some(addr) = line.strip_prefix("flight listening on ") {
                break addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
            }
        };
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ShardServer {
    fn drop(&mut self) {
        self.kill();
    }
}

const SHARDS: u32 = 4;
/// The secret the coordinator and the servers share.
const TOKEN: &str = "s3cret-shard-token";
const TENANTS: i32 = 40;

/// Rows `(tenant, v, note)` of batch `b`.
fn batch_rows(b: i64, n: i64) -> Vec<(i32, i64, String)> {
    (0..n)
        .map(|i| {
            let x = b * 1000 + i;
            let tenant = ((x * 7919) % TENANTS as i64) as i32;
            (tenant, (x * 104_729) % 10_007 - 5000, format!("n{}", x % 13))
        })
        .collect()
}

fn values(rows: &[(i32, i64, String)]) -> String {
    rows.iter()
        .map(|(t, v, n)| format!("({t}, {v}, '{n}')"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Plain DataFusion over `model`: the reference answers.
async fn reference(model: &[(i32, i64, String)], sql: &str) -> Vec<Row> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("tenant", DataType::Int32, true),
        Field::new("v", DataType::Int64, true),
        Field::new("note", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from_iter_values(model.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(model.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(model.iter().map(|r| r.2.as_str()))),
        ],
    )
    .expect("reference batch");
    let ctx = SessionContext::new();
    let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).expect("mem table");
    ctx.register_table("ev", Arc::new(table)).expect("register");
    let batches = ctx.sql(sql).await.expect(sql).collect().await.expect(sql);
    rows(&batches)
}

const QUERIES: &[&str] = &[
    "SELECT count(*) FROM ev",
    "SELECT tenant, count(*), sum(v), min(v), max(v), avg(v) FROM ev GROUP BY tenant ORDER BY tenant",
    "SELECT note, count(*), sum(v) FROM ev WHERE v > 0 GROUP BY note ORDER BY note",
    "SELECT tenant, v, note FROM ev ORDER BY v DESC, tenant, note LIMIT 7",
    "SELECT count(*), sum(v) FROM ev WHERE tenant = 3",
    "SELECT count(DISTINCT note), count(DISTINCT tenant) FROM ev",
    "SELECT tenant, sum(v) AS s FROM ev GROUP BY tenant HAVING sum(v) > 0 ORDER BY s DESC, tenant LIMIT 5",
];

async fn check_all(session: &thermocline::Session, model: &[(i32, i64, String)], when: &str) {
    for sql in QUERIES {
        let got = rows(
            &session
                .query(sql)
                .await
                .unwrap_or_else(|e| panic!("{when}: {sql}: {e}")),
        );
        let want = reference(model, sql).await;
        assert_eq!(got.len(), want.len(), "{when}: {sql}: row counts differ");
        for (g, w) in got.iter().zip(&want) {
            assert!(
                g.iter().zip(w).all(|(a, b)| a.matches(b)),
                "{when}: {sql}: got {g:?}, want {w:?}"
            );
        }
    }
}

async fn explain(session: &thermocline::Session, sql: &str) -> String {
    let batches = session.query(&format!("EXPLAIN {sql}")).await.expect("explain");
    rows(&batches)
        .into_iter()
        .map(|r| format!("{}", r[1]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn coordinator_config(dir: &Path, remote: &BTreeMap<String, String>) -> WarehouseConfig {
    WarehouseConfig::new(dir)
        .with_shard("coordinator")
        .with_compaction(CompactionMode::Manual)
        .with_remote_shards(remote.clone())
        .with_shard_timeout(Duration::from_secs(10))
        .with_shard_token(TOKEN)
}

#[test]
fn coordinator_fans_out_to_shard_servers_and_survives_one_going_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = common::runtime();
    // The table first, so the servers find it.
    runtime.block_on(async {
        let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_shard("setup"))
            .await
            .expect("open");
        wh.session()
            .execute(&format!(
                "CREATE TABLE ev (tenant int, v bigint, note text) WITH (shard_key = 'tenant', shards = {SHARDS})"
            ))
            .await
            .expect("create");
    });
    let mut a = ShardServer::start(dir.path(), "node-a", "0-1", 0);
    let b = ShardServer::start(dir.path(), "node-b", "2-3", 0);
    let remote: BTreeMap<String, String> = [
        ("shard-0", a.url()),
        ("shard-1", a.url()),
        ("shard-2", b.url()),
        ("shard-3", b.url()),
    ]
    .into_iter()
    .map(|(s, u)| (s.to_string(), u))
    .collect();

    runtime.block_on(async {
        let wh = Warehouse::open(coordinator_config(dir.path(), &remote))
            .await
            .expect("open the coordinator");
        let session = wh.session();
        // A coordinator without the servers' token is turned away.
        {
            let mut config = coordinator_config(dir.path(), &remote).with_shard("intruder");
            config.shard_token = Some("wrong".into());
            let intruder = Warehouse::open(config).await.expect("open");
            let e = intruder
                .session()
                .query("SELECT count(*) FROM ev WHERE v > 0")
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InsufficientPrivilege, "{e}");
            assert!(e.message().contains("shard token"), "{e}");
        }
        let mut model = Vec::new();
        // Enough rows that the servers' background compaction (1000 hot
        // rows per shard) moves some into Iceberg while we go on.
        for b in 0..8 {
            let rows = batch_rows(b, 600);
            session
                .execute(&format!("INSERT INTO ev VALUES {}", values(&rows)))
                .await
                .expect("insert through the coordinator");
            model.extend(rows);
            if b % 3 == 2 {
                check_all(&session, &model, &format!("after batch {b}")).await;
            }
        }
        check_all(&session, &model, "after all inserts").await;

        // Nothing of it is in this process's hot tier: the rows went to the
        // servers, which compact them into the shared table.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let explained = explain(&session, "SELECT count(*) FROM ev WHERE v > 0").await;
            if explained.contains("files_planned=") && !explained.contains("files_planned=0") {
                break;
            }
            assert!(Instant::now() < deadline, "the servers never compacted:\n{explained}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        check_all(&session, &model, "after the servers compacted").await;
        // The same answers when the shards send rows instead.
        session
            .execute("SET thermocline.shard_pushdown = off")
            .await
            .expect("set");
        check_all(&session, &model, "shards sending rows").await;
        let plan = explain(&session, QUERIES[1]).await;
        assert!(
            plan.contains("RemoteShardScan") && !plan.contains("runs on shards"),
            "{plan}"
        );
        session
            .execute("SET thermocline.shard_pushdown = on")
            .await
            .expect("set");

        // Shards send partial aggregates, not rows.
        let plan = explain(&session, QUERIES[1]).await;
        assert!(plan.contains("RemoteShardScan"), "{plan}");
        assert!(plan.contains("runs on shards=[AggregateExec: mode=Partial"), "{plan}");
        assert!(plan.contains("remote_shards=4"), "{plan}");
        // A filter fixing the key asks one server only.
        let plan = explain(&session, QUERIES[4]).await;
        assert!(plan.contains("shards=1 of 4 (shard key fixed by the filter)"), "{plan}");

        // What remote shards cannot do yet is refused, saying why.
        let e = session
            .execute("UPDATE ev SET v = 0 WHERE tenant = 1")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotSupported, "{e}");
        session.execute("BEGIN").await.expect("begin");
        let e = session.execute("INSERT INTO ev VALUES (1, 1, 'x')").await.unwrap_err();
        assert!(e.message().contains("inside a transaction block"), "{e}");
        session.execute("ROLLBACK").await.expect("rollback");

        // A server killed between planning and execution: the query fails
        // naming its shard and server.
        let plan = session
            .context()
            .sql("SELECT tenant, sum(v) FROM ev GROUP BY tenant")
            .await
            .expect("plan")
            .create_physical_plan()
            .await
            .expect("physical plan");
        a.kill();
        let e = datafusion::physical_plan::collect(plan, session.context().task_ctx())
            .await
            .expect_err("a killed shard fails the query");
        let e = thermocline::Error::from(e);
        assert_eq!(e.kind(), ErrorKind::ShardUnavailable, "{e}");
        assert!(
            e.to_string().contains("shard-0") || e.to_string().contains("shard-1"),
            "{e}"
        );

        // A server down before the query: the error names it.
        let e = session.query("SELECT count(*) FROM ev WHERE v > 0").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ShardUnavailable, "{e}");
        assert!(e.to_string().contains(&format!("127.0.0.1:{}", a.port)), "{e}");
        assert_eq!(e.kind().sqlstate(), "08006");

        // Asked for, a partial answer: the other server's shards, both
        // tiers, and a warning naming the missing shards.
        session
            .execute("SET thermocline.partial_results = on")
            .await
            .expect("set");
        let shard_of = |tenant: i32| {
            let sharding = thermocline::shard::Sharding::parse("tenant", &SHARDS.to_string(), "consistent", None)
                .expect("sharding");
            sharding
                .owner_of(&datafusion::common::ScalarValue::Int32(Some(tenant)))
                .expect("owner")
        };
        let surviving: Vec<(i32, i64, String)> = model.iter().filter(|r| shard_of(r.0) >= 2).cloned().collect();
        assert!(!surviving.is_empty() && surviving.len() < model.len());
        let _ = session.take_warnings();
        check_all(&session, &surviving, "partial, server a down").await;
        let warnings = session.take_warnings();
        assert!(warnings.iter().any(|w| w.contains("shard-0, shard-1")), "{warnings:?}");
        session
            .execute("SET thermocline.partial_results = off")
            .await
            .expect("set");

        // Restarted on the same port, the server has every acknowledged row.
        let restarted = ShardServer::start(dir.path(), "node-a", "0-1", a.port);
        check_all(&session, &model, "after the restart").await;
        drop(restarted);
    });
    drop(b);
}
