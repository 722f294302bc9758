//! The PostgreSQL wire server (`thermocline serve`) against real clients,
//! all offline on loopback: psql, psycopg 3, node-postgres, tokio-postgres
//! (a 64-connection load test), raw malformed messages, and the server's
//! authentication, TLS and limits.
//!
//! Each test starts its own server (the real binary, port 0, a temporary
//! warehouse; [`server::Server`]), so they run in parallel. Clients that
//! are not installed skip their test with a message, or fail it under CI
//! ([`tools`]); scripts/setup.sh installs them all.

#[path = "pg_wire/auth.rs"]
mod auth;
#[path = "pg_wire/fuzz.rs"]
mod fuzz;
#[path = "pg_wire/limits.rs"]
mod limits;
#[path = "pg_wire/load.rs"]
mod load;
#[path = "pg_wire/node.rs"]
mod node;
#[path = "common/peers.rs"]
mod peers;
#[path = "pg_wire/psql.rs"]
mod psql;
#[path = "pg_wire/psycopg.rs"]
mod psycopg;
#[path = "pg_wire/server.rs"]
mod server;
#[path = "pg_wire/tools.rs"]
mod tools;
