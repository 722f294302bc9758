//! node-postgres (npm `pg`, pinned in tests/pg_clients/node) against the
//! server: tests/pg_clients/node/wire.js asserts and prints `ok node`.

use std::process::Command;

use crate::server::Server;
use crate::tools;

#[test]
fn node_postgres_params_transactions_errors() {
    let Some((node, modules)) = tools::node("node_postgres_params_transactions_errors") else {
        return;
    };
    for server in [Server::start(), Server::builder().password().start()] {
        let mut command = Command::new(&node);
        command
            .arg(tools::clients_dir().join("node").join("wire.js"))
            .envs(server.pg_env())
            .env("NODE_PATH", &modules);
        let outcome = tools::run(command, "node", None, server.scratch());
        assert!(
            outcome.status.success() && outcome.stdout.contains("ok node"),
            "node wire.js failed ({})\n--- stderr ---\n{}\n--- stdout ---\n{}",
            outcome.status,
            outcome.stderr,
            outcome.stdout
        );
    }
}
