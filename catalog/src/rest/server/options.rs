//! [`ServerOptions`]: how the REST catalog server presents itself (prefix,
//! warehouse, config defaults, page size) and whom it lets in (a bearer
//! token, OAuth2 client credentials).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use percent_encoding::utf8_percent_encode;

use crate::rest::PATH_SEGMENT;

/// How the server presents itself and whom it lets in. Build with
/// [`ServerOptions::new`] and the `with_*` setters.
#[derive(Clone)]
pub struct ServerOptions {
    /// Escaped, without leading or trailing slashes.
    pub(super) prefix: Option<String>,
    pub(super) warehouse: Option<String>,
    pub(super) defaults: HashMap<String, String>,
    pub(super) token: Option<String>,
    pub(super) client: Option<(String, String)>,
    pub(super) token_ttl: Duration,
    pub(super) page_size: Option<usize>,
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the token or the secret.
        f.debug_struct("ServerOptions")
            .field("prefix", &self.prefix)
            .field("warehouse", &self.warehouse)
            .field("defaults", &self.defaults)
            .field("bearer_token", &self.token.is_some())
            .field("client_id", &self.client.as_ref().map(|(id, _)| id))
            .field("token_ttl", &self.token_ttl)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            prefix: None,
            warehouse: None,
            defaults: HashMap::new(),
            token: None,
            client: None,
            token_ttl: Duration::from_secs(3600),
            page_size: None,
        }
    }
}

impl ServerOptions {
    /// No prefix, no authentication, no page limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves the catalog under `/v1/{prefix}/...` and tells clients so in
    /// `/v1/config`'s overrides. Each `/`-separated part is escaped.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        let escaped: Vec<String> = prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
            .collect();
        self.prefix = (!escaped.is_empty()).then(|| escaped.join("/"));
        self
    }

    /// Refuses `/v1/config?warehouse=...` naming another warehouse (400).
    pub fn with_warehouse(mut self, warehouse: impl Into<String>) -> Self {
        self.warehouse = Some(warehouse.into());
        self
    }

    /// Adds a `/v1/config` default (a property clients may override).
    pub fn with_default(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.defaults.insert(key.into(), value.into());
        self
    }

    /// Requires `Authorization: Bearer {token}` (or an issued token).
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Serves `POST /v1/oauth/tokens` for these client credentials and
    /// requires a token it issued (or the bearer token) on every request.
    pub fn with_client_credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client = Some((client_id.into(), secret.into()));
        self
    }

    /// How long an issued token is accepted (default one hour).
    pub fn with_token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Returns at most `size` items per page to clients that paginate.
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = (size > 0).then_some(size);
        self
    }

    pub(super) fn requires_auth(&self) -> bool {
        self.token.is_some() || self.client.is_some()
    }
}
