//! The HTTP API over real loopback HTTP: `thermocline serve`'s HTTP listener
//! bound to port 0, driven with reqwest. Round trips with parameters of
//! every JSON kind, the JSON encoding of each type, the Arrow IPC answer,
//! auth, errors and their SQLSTATEs, and parallel writers and readers.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use thermocline::server::config::LogConfig;
use thermocline::server::{HttpConfig, LogFormat, Server, ServerConfig};
use thermocline::{CompactionMode, Warehouse, WarehouseConfig};

const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// A server over a warehouse in a temporary folder, stopped on drop.
struct TestServer {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
    warehouse: Arc<Warehouse>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<thermocline::Result<()>>>,
    _dir: tempfile::TempDir,
}

struct Options {
    token: Option<&'static str>,
    max_body_bytes: usize,
    lock_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            token: None,
            max_body_bytes: 1 << 20,
            lock_timeout: Duration::from_secs(30),
        }
    }
}

impl TestServer {
    async fn start(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let warehouse = Warehouse::open(
            WarehouseConfig::new(dir.path())
                .with_compaction(CompactionMode::Manual)
                .with_lock_timeout(options.lock_timeout),
        )
        .await
        .expect("open warehouse");
        let warehouse = Arc::new(warehouse);
        let config = ServerConfig {
            warehouse: None,
            log: LogConfig {
                level: "info".into(),
                format: LogFormat::Text,
            },
            pg: None,
            http: Some(HttpConfig {
                listen: "127.0.0.1:0".parse().expect("addr"),
                token: options.token.map(String::from),
                max_body_bytes: options.max_body_bytes,
            }),
            sharding: None,
        };
        let server = Server::bind(warehouse.clone(), &config).await.expect("bind");
        let addr = server.http_addr().expect("http listener");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            _ = stopped.await;
        }));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            token: options.token.map(String::from),
            warehouse,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    fn post_query(&self, body: Value) -> reqwest::RequestBuilder {
        let request = self.client.post(format!("{}/query", self.base)).json(&body);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `sql` with `params`; the status and the JSON body.
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("send")
    }

    async fn query(&self, sql: &str, params: Value) -> (StatusCode, Value) {
        let response = self
            .post_query(json!({"sql": sql, "params": params}))
            .send()
            .await
            .expect("send");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// `sql` that must succeed: its JSON answer.
    async fn ok(&self, sql: &str, params: Value) -> Value {
        let (status, body) = self.query(sql, params).await;
        assert_eq!(status, StatusCode::OK, "{sql}: {body}");
        body
    }

    /// `sql` that must fail with `status`: the `error` object.
    async fn fails(&self, sql: &str, status: StatusCode) -> Value {
        let (got, body) = self.query(sql, json!([])).await;
        assert_eq!(got, status, "{sql}: {body}");
        body["error"].clone()
    }

    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops")
                .expect("server task");
            result.expect("server ran without error");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            _ = stop.send(());
        }
    }
}

const CREATE_ALL_TYPES: &str = "CREATE TABLE everything (
    id bigint NOT NULL, small integer, amount numeric(10,2), ratio double precision, score real,
    name text, flag boolean, day date, at timestamp, at_tz timestamptz, raw bytea, doc jsonb)";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_trip_with_params_of_every_kind() {
    let server = TestServer::start(Options::default()).await;
    let created = server.ok(CREATE_ALL_TYPES, json!([])).await;
    assert_eq!(created["command"], "CREATE TABLE");
    assert_eq!(created["columns"], json!([]));
    assert_eq!(created["row_count"], 0);

    let inserted = server
        .ok(
            "INSERT INTO everything VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, decode($11, 'hex'), $12)",
            json!([
                1,
                7,
                12.5,
                0.25,
                1.5,
                "héllo \"quoted\"",
                true,
                "2026-01-02",
                "2026-01-02T10:00:00.5",
                "2026-01-02T10:00:00Z",
                "01abff",
                {"b": [1, 2], "a": null}
            ]),
        )
        .await;
    assert_eq!(inserted["command"], "INSERT 0 1");
    // NULL for every nullable column.
    server
        .ok(
            "INSERT INTO everything VALUES ($1, $2, $2, $2, $2, $2, $2, $2, $2, $2, $2, $2)",
            json!([2, null]),
        )
        .await;

    let body = server.ok("SELECT * FROM everything ORDER BY id", json!([])).await;
    let types: Vec<(&str, &str)> = body["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or("?"), c["type"].as_str().unwrap_or("?")))
        .collect();
    // `doc` (jsonb) is checked in `jsonb_table_columns_are_embedded_as_json`.
    assert_eq!(
        types[..11],
        [
            ("id", "int8"),
            ("small", "int4"),
            ("amount", "numeric"),
            ("ratio", "float8"),
            ("score", "float4"),
            ("name", "text"),
            ("flag", "bool"),
            ("day", "date"),
            ("at", "timestamp"),
            ("at_tz", "timestamptz"),
            ("raw", "bytea"),
        ]
    );
    assert_eq!(body["row_count"], 2);
    assert_eq!(body["command"], "SELECT 2");
    assert_eq!(
        Value::from(body["rows"][0].as_array().expect("row")[..11].to_vec()),
        json!([
            1,
            7,
            "12.50",
            0.25,
            1.5,
            "héllo \"quoted\"",
            true,
            "2026-01-02",
            "2026-01-02T10:00:00.500",
            "2026-01-02T10:00:00Z",
            "\\x01abff"
        ])
    );
    assert_eq!(
        body["rows"][1],
        json!([2, null, null, null, null, null, null, null, null, null, null, null])
    );
    // The object parameter became the jsonb document.
    let doc = server
        .ok(
            "SELECT doc -> 'b' AS b, doc ->> 'a' AS a FROM everything ORDER BY id",
            json!([]),
        )
        .await;
    assert_eq!(doc["columns"][0]["type"], "jsonb");
    assert_eq!(doc["rows"], json!([[[1, 2], null], [null, null]]));

    // Parameters in a WHERE clause: a bigint, a text, an array.
    let found = server
        .ok(
            "SELECT id FROM everything WHERE id = $1 AND name = $2 AND array_has($3, small)",
            json!([1, "héllo \"quoted\"", [5, 6, 7]]),
        )
        .await;
    assert_eq!(found["rows"], json!([[1]]));
    // A jsonb containment test against an object parameter.
    let contained = server
        .ok("SELECT id FROM everything WHERE doc @> $1::jsonb", json!([{"b": [2]}]))
        .await;
    assert_eq!(contained["rows"], json!([[1]]));
    server.shutdown().await;
}

/// A jsonb column read straight from a table is embedded as JSON: the
/// table's scan marks it (`thermocline.pg_type` = `jsonb`), and the mark
/// survives projection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonb_table_columns_are_embedded_as_json() {
    let server = TestServer::start(Options::default()).await;
    server.ok("CREATE TABLE j (id int, doc jsonb)", json!([])).await;
    server
        .ok(
            "INSERT INTO j VALUES (1, $1), (2, NULL)",
            json!([{"b": [1, 2], "a": "x"}]),
        )
        .await;
    let body = server.ok("SELECT doc FROM j ORDER BY id", json!([])).await;
    assert_eq!(body["columns"], json!([{"name": "doc", "type": "jsonb"}]));
    assert_eq!(body["rows"], json!([[{"a": "x", "b": [1, 2]}], [null]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_come_back_as_their_sql_types() {
    let server = TestServer::start(Options::default()).await;
    let body = server
        .ok(
            "SELECT $1 AS i, $2 AS t, $3 IS NULL AS n, $4 AS b, $5 AS f, $6 AS a, $7 AS o, $8 AS nested, $9 AS reals",
            json!([42, "x", null, false, 2.5, [1, 2, 3], {"a": 1}, [["a"], [], null], [1, 2.5]]),
        )
        .await;
    let types: Vec<&str> = body["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(types[..6], ["int8", "text", "bool", "bool", "float8", "_int8"]);
    assert_eq!(
        body["rows"][0],
        json!([
            42,
            "x",
            true,
            false,
            2.5,
            [1, 2, 3],
            "{\"a\":1}",
            [["a"], [], null],
            [1.0, 2.5]
        ])
    );
    assert_eq!(
        server.ok("SELECT cardinality($1) AS n", json!([[1, 2, 3]])).await["rows"],
        json!([[3]])
    );
    // No common element type: refused before anything runs.
    let (status, body) = server.query("SELECT $1", json!([[1, "a"]])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["sqlstate"], "22023");
    assert_eq!(body["error"]["context"]["param"], "$1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_encoding_of_each_type() {
    let server = TestServer::start(Options::default()).await;
    let body = server
        .ok(
            "SELECT 9007199254740991::bigint AS safe, 9007199254740993::bigint AS big, -9007199254740993::bigint AS neg,
                    CAST(1.10 AS numeric(5,2)) AS num, 'NaN'::double precision AS nan,
                    'Infinity'::double precision AS inf, CAST(0.1 AS real) AS r,
                    DATE '2026-03-04' AS d, TIMESTAMP '2026-03-04 05:06:07.123456' AS ts,
                    decode('00ff', 'hex') AS raw, make_array(1, 2, 3) AS ints, [1.0, 2.5] AS floats,
                    named_struct('a', 1, 'b', 'x') AS composite, NULL AS nothing",
            json!([]),
        )
        .await;
    assert_eq!(
        body["rows"][0],
        json!([
            9_007_199_254_740_991i64,
            "9007199254740993",
            "-9007199254740993",
            "1.10",
            "NaN",
            "Infinity",
            0.1,
            "2026-03-04",
            "2026-03-04T05:06:07.123456",
            "\\x00ff",
            [1, 2, 3],
            [1.0, 2.5],
            {"a": 1, "b": "x"},
            null
        ]),
        "{body}"
    );
    let types: Vec<&str> = body["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["type"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(types[..4], ["int8", "int8", "int8", "numeric"]);
    assert_eq!(types[7..12], ["date", "timestamp", "bytea", "_int8", "_float8"]);

    // jsonb values produced by the jsonb functions are embedded too.
    let json = server
        .ok(
            r#"SELECT '{"doc": {"k": [1, "two", null]}}'::jsonb -> 'doc' AS doc, '{"k": 1}'::jsonb ->> 'k' AS text_value"#,
            json!([]),
        )
        .await;
    assert_eq!(
        json["columns"],
        json!([{"name": "doc", "type": "jsonb"}, {"name": "text_value", "type": "text"}])
    );
    assert_eq!(json["rows"][0], json!([{"k": [1, "two", null]}, "1"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrow_stream_answer_decodes_to_the_same_values() {
    let server = TestServer::start(Options::default()).await;
    server.ok(CREATE_ALL_TYPES, json!([])).await;
    server
        .ok(
            "INSERT INTO everything VALUES
               (1, 7, 12.5, 0.25, 1.5, 'a', true, '2026-01-02', '2026-01-02T10:00:00', '2026-01-02T10:00:00Z', '\\x01', '{\"a\": 1}'),
               (9007199254740993, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
            json!([]),
        )
        .await;
    let sql = "SELECT * FROM everything ORDER BY id";
    let json_body = server.ok(sql, json!([])).await;

    let response = server
        .post_query(json!({"sql": sql}))
        .header(reqwest::header::ACCEPT, ARROW_STREAM)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[reqwest::header::CONTENT_TYPE], ARROW_STREAM);
    assert_eq!(response.headers()["x-thermocline-command"], "SELECT 2");
    let bytes = response.bytes().await.expect("body");
    let reader = arrow::ipc::reader::StreamReader::try_new(bytes.as_ref(), None).expect("an Arrow IPC stream");
    let schema = reader.schema();
    let batches: Vec<_> = reader.collect::<Result<_, _>>().expect("batches");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .expect("id is Int64")
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(ids, [1, 9_007_199_254_740_993]);
    // Encoding the decoded stream gives exactly the JSON answer.
    let rows = thermocline::server::json::rows(&schema, &batches).expect("encode");
    assert_eq!(Value::from(rows), json_body["rows"]);

    // A command gives a stream of the empty schema, its tag in the header.
    let response = server
        .post_query(json!({"sql": "INSERT INTO everything (id) VALUES (3)"}))
        .header(reqwest::header::ACCEPT, ARROW_STREAM)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-thermocline-command"], "INSERT 0 1");
    let bytes = response.bytes().await.expect("body");
    let reader = arrow::ipc::reader::StreamReader::try_new(bytes.as_ref(), None).expect("stream");
    assert!(reader.schema().fields().is_empty());
    assert_eq!(reader.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_guards_queries_but_not_health() {
    let server = TestServer::start(Options {
        token: Some("s3cret-token"),
        ..Options::default()
    })
    .await;
    let url = format!("{}/query", server.base);
    let body = json!({"sql": "SELECT 1 AS one"});

    let missing = server.client.post(&url).json(&body).send().await.expect("send");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()[reqwest::header::WWW_AUTHENTICATE], "Bearer");
    let error: Value = missing.json().await.expect("JSON error");
    assert_eq!(error["error"]["sqlstate"], "28000", "{error}");

    for wrong in ["s3cret-toke", "s3cret-token2", "", "S3CRET-TOKEN"] {
        let response = server
            .client
            .post(&url)
            .bearer_auth(wrong)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "token {wrong:?}");
        let error: Value = response.json().await.expect("JSON error");
        assert!(
            error["error"]["sqlstate"].as_str().is_some_and(|s| s.starts_with("28")),
            "{error}"
        );
    }
    let basic = server
        .client
        .post(&url)
        .basic_auth("user", Some("s3cret-token"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED, "only bearer tokens");

    let right = server.ok("SELECT 1 AS one", json!([])).await;
    assert_eq!(right["rows"], json!([[1]]));

    let health = server.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    let health: Value = health.json().await.expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["shard"], "local");
    assert!(health["hot_lsn"].is_i64(), "{health}");
    let root = server.warehouse.config().root.display().to_string();
    assert_eq!(health["warehouse"], root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_status_and_sqlstate() {
    let server = TestServer::start(Options {
        max_body_bytes: 4096,
        ..Options::default()
    })
    .await;
    let syntax = server.fails("SELEC 1", StatusCode::BAD_REQUEST).await;
    assert_eq!(syntax["sqlstate"], "42601", "{syntax}");
    assert!(syntax["message"].as_str().is_some_and(|m| !m.is_empty()));

    let missing = server.fails("SELECT * FROM nowhere", StatusCode::BAD_REQUEST).await;
    assert_eq!(missing["sqlstate"], "42P01", "{missing}");
    assert!(
        missing["message"].as_str().is_some_and(|m| m.contains("nowhere")),
        "{missing}"
    );

    server
        .ok("CREATE TABLE k (id int PRIMARY KEY, v text NOT NULL)", json!([]))
        .await;
    server.ok("INSERT INTO k VALUES (1, 'a')", json!([])).await;
    let duplicate = server
        .fails("INSERT INTO k VALUES (1, 'b')", StatusCode::CONFLICT)
        .await;
    assert_eq!(duplicate["sqlstate"], "23505", "{duplicate}");
    let not_null = server
        .fails("INSERT INTO k VALUES (2, NULL)", StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(not_null["sqlstate"], "23502", "{not_null}");
    let column = server.fails("SELECT nope FROM k", StatusCode::BAD_REQUEST).await;
    assert_eq!(column["sqlstate"], "42703", "{column}");

    let url = format!("{}/query", server.base);
    let send_raw = |body: &'static str, content_type: &'static str| {
        server
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    for bad in ["{\"sql\": ", "[1, 2]", "{\"query\": \"SELECT 1\"}", "{\"sql\": 1}", ""] {
        let response = send_raw(bad, "application/json").await.expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        let error: Value = response.json().await.expect("a JSON error, not plain text");
        assert_eq!(error["error"]["sqlstate"], "08P01", "{error}");
    }
    let form = send_raw("sql=SELECT+1", "application/x-www-form-urlencoded")
        .await
        .expect("send");
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let error: Value = form.json().await.expect("JSON error");
    assert!(error["error"]["message"].is_string());

    let huge = format!("SELECT '{}'", "x".repeat(8192));
    let (status, body) = server.query(&huge, json!([])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["sqlstate"], "54000");

    let unknown = server.get("/tables").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let error: Value = unknown.json().await.expect("JSON error");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/tables"))
    );
    let wrong_method = server.client.get(&url).send().await.expect("send");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);

    // The server still answers after all that.
    assert_eq!(
        server.ok("SELECT count(*) AS n FROM k", json!([])).await["rows"],
        json!([[1]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_its_own_session() {
    let server = TestServer::start(Options::default()).await;
    // Several statements: all run, the last one answers.
    let last = server
        .ok(
            "CREATE TABLE s (x int); INSERT INTO s VALUES (1), (2); SELECT sum(x) AS total FROM s",
            json!([]),
        )
        .await;
    assert_eq!(last["command"], "SELECT 1");
    assert_eq!(last["rows"], json!([[3]]));
    // A transaction left open is rolled back when the request ends.
    let open = server.ok("BEGIN; INSERT INTO s VALUES (100)", json!([])).await;
    assert_eq!(open["command"], "INSERT 0 1");
    let committed = server.ok("BEGIN; INSERT INTO s VALUES (10); COMMIT", json!([])).await;
    assert_eq!(committed["command"], "COMMIT");
    assert_eq!(
        server.ok("SELECT sum(x) AS total FROM s", json!([])).await["rows"],
        json!([[13]])
    );
    // A failing statement stops the request; the ones before it stay.
    let (status, body) = server
        .query(
            "INSERT INTO s VALUES (1000); SELECT * FROM missing; INSERT INTO s VALUES (5)",
            json!([]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        server.ok("SELECT sum(x) AS total FROM s", json!([])).await["rows"],
        json!([[1013]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_waits_too_long_gets_409() {
    let server = TestServer::start(Options {
        lock_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    server.ok("CREATE TABLE w (x int)", json!([])).await;
    // A session outside the API holds the shard's write lock.
    let holder = server.warehouse.session();
    holder
        .execute("BEGIN; INSERT INTO w VALUES (1)")
        .await
        .expect("hold the lock");
    let blocked = server.fails("INSERT INTO w VALUES (2)", StatusCode::CONFLICT).await;
    assert_eq!(blocked["sqlstate"], "55P03", "{blocked}");
    // Readers are not blocked.
    assert_eq!(
        server.ok("SELECT count(*) AS n FROM w", json!([])).await["rows"],
        json!([[0]])
    );
    holder.execute("COMMIT").await.expect("commit");
    server.ok("INSERT INTO w VALUES (2)", json!([])).await;
    assert_eq!(
        server.ok("SELECT count(*) AS n FROM w", json!([])).await["rows"],
        json!([[2]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_inserts_and_selects_all_succeed() {
    let server = Arc::new(TestServer::start(Options::default()).await);
    server.ok("CREATE TABLE c (writer int, n int)", json!([])).await;
    const REQUESTS: i64 = 32;
    const ROWS_PER_INSERT: i64 = 5;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let server = server.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                let body = server
                    .ok(
                        &format!(
                            "INSERT INTO c SELECT $1, value FROM generate_series(1, {ROWS_PER_INSERT}) AS g(value)"
                        ),
                        json!([i]),
                    )
                    .await;
                assert_eq!(body["command"], format!("INSERT 0 {ROWS_PER_INSERT}"));
                0
            } else {
                let body = server.ok("SELECT count(*) AS n FROM c", json!([])).await;
                let n = body["rows"][0][0].as_i64().expect("a count");
                assert!((0..=REQUESTS / 2 * ROWS_PER_INSERT).contains(&n), "{n}");
                // Each reader sees whole inserts only.
                assert_eq!(n % ROWS_PER_INSERT, 0, "{n}");
                1
            }
        });
    }
    let mut readers = 0;
    while let Some(done) = tasks.join_next().await {
        readers += done.expect("request task");
    }
    assert_eq!(readers, REQUESTS / 2);
    let total = server
        .ok(
            "SELECT count(*) AS n, count(DISTINCT writer) AS writers FROM c",
            json!([]),
        )
        .await;
    assert_eq!(total["rows"], json!([[REQUESTS / 2 * ROWS_PER_INSERT, REQUESTS / 2]]));
}
