//! The Iceberg REST catalog protocol, both sides: [`RestCatalog`], a client
//! (for R2 Data Catalog, Polaris, Lakekeeper, Nessie, ... or our own
//! server), and [`server::router`], a server over any [`CommitCatalog`].
//!
//! # The client
//!
//! [`RestCatalog`] implements [`iceberg::Catalog`] and [`CommitCatalog`] by
//! calling the spec's endpoints with `reqwest`. Its first call fetches
//! `GET {uri}/v1/config?warehouse=...`; the server's `defaults`, then the
//! caller's properties, then the server's `overrides` make up its
//! configuration, and a `prefix` there moves every endpoint under
//! `{uri}/v1/{prefix}/`.
//!
//! Properties it reads:
//! - `warehouse`: sent to `/v1/config` (R2 Data Catalog's
//!   `{account}_{bucket}`, Polaris' catalog name);
//! - `token`: a bearer token sent with every request (R2 Data Catalog's API
//!   token);
//! - `credential` (`client_id:client_secret`, or a bare secret), `scope`
//!   (default `PRINCIPAL_ROLE:ALL`), `oauth2-server-uri` (default
//!   `{uri}/v1/oauth/tokens`): the OAuth2 client-credentials grant, whose
//!   token is cached and fetched again, once, when the server answers 401;
//! - `prefix`, `rest-page-size` (sent as `pageSize`), `namespace-separator`
//!   (escaped, default `%1F`): usually set by the server's config;
//! - `header.{Name}`: an extra header on every request.
//!
//! What it guarantees:
//! - `Catalog::update_table` and [`CommitCatalog::commit_table`] are one
//!   `POST .../tables/{t}` carrying the requirements and updates as given;
//!   the server checks and swaps. A 409 is a *retryable*
//!   [`ErrorKind::CommitConflict`](crate::ErrorKind::CommitConflict) (iceberg's
//!   `CatalogCommitConflicts`): nothing was committed. A 5xx or a timeout on a
//!   commit is *not* retryable: the commit may have landed, and retrying a
//!   fast append would append twice.
//! - 404s are `NamespaceNotFound` / `TableNotFound` (by the error's `type`
//!   when the server sends one), 409s on creates `...AlreadyExists`; every
//!   error names the request (method and URL), the HTTP status and the
//!   server's own `type` and `message`.
//! - Tables read and write metadata and data through thermocline's object
//!   store ([`crate::storage::file_io`]), never through credentials the
//!   server hands out.
//! - Namespace parts and table names are escaped in paths; multi-level
//!   namespaces are joined by the 0x1F unit separator.
//!
//! Not atomic: `Catalog::update_namespace` replaces all properties, which
//! the spec cannot say in one request, so it reads them and then sends the
//! updates and removals.
//!
//! # The server
//!
//! See [`server`]: the same endpoints over any [`CommitCatalog`], with the
//! spec's status codes and error bodies, optional bearer-token and OAuth2
//! client-credentials authentication, and pagination.

mod client;
mod http;
pub mod server;
mod wire;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

pub use client::RestCatalog;
pub use http::{DEFAULT_SCOPE, DEFAULT_TIMEOUT};
pub use server::{ServerOptions, router};

#[cfg(doc)]
use crate::commit::CommitCatalog;

/// Property: the warehouse sent to `/v1/config`.
pub const WAREHOUSE: &str = "warehouse";
/// Property: a static bearer token.
pub const TOKEN: &str = "token";
/// Property: OAuth2 client credentials, `client_id:client_secret`.
pub const CREDENTIAL: &str = "credential";
/// Property: the OAuth2 scope.
pub const SCOPE: &str = "scope";
/// Property: the OAuth2 token endpoint.
pub const OAUTH2_SERVER_URI: &str = "oauth2-server-uri";
/// Property (usually from `/v1/config`): the path prefix of the endpoints.
pub const PREFIX: &str = "prefix";
/// Property: the page size list requests ask for.
pub const PAGE_SIZE: &str = "rest-page-size";
/// Property (usually from `/v1/config`): the escaped namespace separator.
pub const NAMESPACE_SEPARATOR: &str = "namespace-separator";
/// Property prefix: `header.X-Foo = bar` sends `X-Foo: bar`.
pub const HEADER_PREFIX: &str = "header.";

/// Path segments keep only RFC 3986's unreserved characters, as Python's
/// `quote(part, safe="")` does in pyiceberg.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
