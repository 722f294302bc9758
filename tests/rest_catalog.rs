//! A warehouse whose Iceberg catalog is a REST catalog: here another
//! warehouse's `thermocline serve --iceberg-rest-listen` (a real process on
//! loopback, over its SQLite catalog). Creates, compactions and
//! copy-on-write commits go through REST; the serving warehouse, a reopened
//! client and pyiceberg's own RestCatalog all see the same table.

mod common;
#[path = "common/peers.rs"]
mod peers;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{Row, rows};
use thermocline::config::Durability;
use thermocline::{CatalogKind, CompactionMode, ErrorKind, Warehouse, WarehouseConfig};

const TOKEN: &str = "rest-secret";

const QUERIES: [&str; 3] = [
    "SELECT count(*), sum(v), min(id), max(id) FROM ev",
    "SELECT day, count(*), sum(v) FROM ev GROUP BY day ORDER BY day",
    "SELECT id, note FROM ev WHERE id IN (10, 11, 12, 20, 5001) ORDER BY id",
];

/// `thermocline serve` over `dir` with the Iceberg REST catalog on, killed
/// when dropped.
struct CatalogServer {
    child: Child,
    uri: String,
}

impl CatalogServer {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_thermocline"))
            .arg("--warehouse")
            .arg(dir)
            .args(["serve", "--iceberg-rest-listen", "127.0.0.1:0"])
            .env("THERMOCLINE_PG_LISTEN", "127.0.0.1:0")
            .env("THERMOCLINE_PG_AUTH", "trust")
            .env("THERMOCLINE_LOG", "warn")
            .env("THERMOCLINE_ICEBERG_REST_TOKEN", TOKEN)
            .env_remove("THERMOCLINE_CATALOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start thermocline serve");
        let stdout = child.stdout.take().expect("server stdout");
        let mut lines = BufReader::new(stdout).lines();
        let uri = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("thermocline serve exited before listening"))
                .expect("server stdout");
            if let Some(uri) = line.strip_prefix("iceberg rest catalog listening on ") {
                break uri.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, uri }
    }
}

impl Drop for CatalogServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_config(root: &Path, data: &Path, uri: &str, token: &str) -> WarehouseConfig {
    WarehouseConfig::new(root)
        .with_data(data.to_string_lossy(), Default::default())
        .with_catalog(CatalogKind::Rest {
            uri: uri.to_string(),
            properties: BTreeMap::from([("token".to_string(), token.to_string())]),
        })
        .with_compaction(CompactionMode::Manual)
        .with_durability(Durability::Normal)
        .with_target_partitions(2)
}

async fn answers(wh: &Warehouse) -> Vec<Vec<Row>> {
    let s = wh.session();
    let mut out = Vec::new();
    for q in QUERIES {
        out.push(rows(&s.query(q).await.unwrap_or_else(|e| panic!("{q}: {e}"))));
    }
    out
}

fn assert_same(what: &str, a: &[Vec<Row>], b: &[Vec<Row>]) {
    for ((q, x), y) in QUERIES.iter().zip(a).zip(b) {
        let equal = x.len() == y.len() && x.iter().zip(y).all(|(r, s)| r.iter().zip(s).all(|(p, q)| p.matches(q)));
        assert!(equal, "{what}: {q}\n  expected: {x:?}\n  got:      {y:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warehouse_commits_through_a_rest_catalog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let served = dir.path().join("served");
    // The serving warehouse exists before its server starts.
    drop(
        Warehouse::open(WarehouseConfig::new(&served).with_compaction(CompactionMode::Manual))
            .await
            .expect("create the served warehouse"),
    );
    let server = CatalogServer::start(&served);
    let client_root = dir.path().join("client");
    let data = served.join("data");

    let client = Warehouse::open(client_config(&client_root, &data, &server.uri, TOKEN))
        .await
        .expect("open through the REST catalog");
    let s = client.session();
    for sql in [
        "CREATE TABLE ev (id bigint PRIMARY KEY, day date NOT NULL, v double precision, note text) PARTITION BY (day)",
        "INSERT INTO ev SELECT n, DATE '2026-03-01' + CAST(n % 3 AS int), n * 1.5, 'row ' || n FROM generate_series(1, 3000) AS g(n)",
        "CHECKPOINT",
        // Copy-on-write: a commit that removes files, through REST.
        "UPDATE ev SET note = 'updated', v = 0 WHERE id % 10 = 0",
        "DELETE FROM ev WHERE id % 11 = 0",
        "INSERT INTO ev VALUES (5001, DATE '2026-03-09', 7, 'late')",
        "CHECKPOINT",
    ] {
        s.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let expected = answers(&client).await;
    assert!(
        expected[2].len() == 4,
        "ids 10, 20 updated, 11 deleted: {:?}",
        expected[2]
    );
    drop(s);
    drop(client);

    // Reopened, the client reads everything back through the catalog.
    let client = Warehouse::open(client_config(&client_root, &data, &server.uri, TOKEN))
        .await
        .expect("reopen");
    assert_same("reopened client", &expected, &answers(&client).await);
    drop(client);

    // A wrong token is refused, saying so.
    let other_root = dir.path().join("other");
    let e = Warehouse::open(client_config(&other_root, &data, &server.uri, "wrong"))
        .await
        .expect_err("wrong token");
    assert!(e.to_string().contains("401"), "{e}");
    // The client folder remembers its catalog.
    let e = Warehouse::open(WarehouseConfig::new(&client_root))
        .await
        .expect_err("open the client folder with catalog.db");
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains(&server.uri), "{e}");

    // pyiceberg's RestCatalog reads the table through the same server.
    if let Some(python) = peers::python("a_warehouse_commits_through_a_rest_catalog") {
        let script = r#"
import sys
from pyiceberg.catalog.rest import RestCatalog
catalog = RestCatalog("thermocline", uri=sys.argv[1], token=sys.argv[2])
table = catalog.load_table("public.ev").scan(selected_fields=("id", "v")).to_arrow()
print(table.num_rows, sum(table.column("v").to_pylist()))
"#;
        let output = Command::new(&python)
            .args(["-c", script, &server.uri, TOKEN])
            .output()
            .expect("run pyiceberg");
        assert!(
            output.status.success(),
            "pyiceberg: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed = String::from_utf8_lossy(&output.stdout);
        let mut fields = printed.split_whitespace();
        let count: i64 = fields.next().and_then(|f| f.parse().ok()).expect("count");
        let sum: f64 = fields.next().and_then(|f| f.parse().ok()).expect("sum");
        assert!(
            expected[0][0][0].matches(&common::Cell::Int(count))
                && expected[0][0][1].matches(&common::Cell::Float(sum)),
            "pyiceberg read {count} rows summing to {sum}; we read {:?}",
            expected[0][0]
        );
    }

    // The table lives in the serving warehouse's own catalog.
    drop(server);
    let served = Warehouse::open(WarehouseConfig::new(&served).with_compaction(CompactionMode::Manual))
        .await
        .expect("open the served warehouse");
    assert_same("the serving warehouse", &expected, &answers(&served).await);
}
