//! [`RestCatalog`]: an [`iceberg::Catalog`] and [`CommitCatalog`] that
//! speaks the Iceberg REST catalog protocol, with table files read and
//! written through thermocline's own object store.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use iceberg::io::FileIO;
use iceberg::spec::{FormatVersion, TableMetadata};
use iceberg::table::Table;
use iceberg::{
    Catalog, Namespace, NamespaceIdent, Runtime, TableCommit, TableCreation, TableIdent, TableRequirement, TableUpdate,
};
use object_store::ObjectStore;
use percent_encoding::utf8_percent_encode;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;
use url::Url;

use super::PATH_SEGMENT;
use super::http::{Body, Expect, Transport, join};
use super::wire::{
    CatalogConfig, CommitTableRequest, CommitTableResponse, CreateNamespaceRequest, CreateTableRequest,
    ListNamespacesResponse, ListTablesResponse, LoadTableResult, NamespaceResponse, RegisterTableRequest,
    RenameTableRequest, UpdateNamespacePropertiesRequest,
};
use crate::commit::CommitCatalog;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::file_io;
use crate::table_cache::{TableCache, TableIo};

/// The spec's default namespace separator in paths: the 0x1F unit
/// separator, escaped.
const DEFAULT_SEPARATOR: &str = "%1F";

/// An Iceberg REST catalog client; see the [module docs](super).
pub struct RestCatalog {
    /// The catalog URI, without a trailing slash.
    uri: Url,
    properties: HashMap<String, String>,
    transport: Transport,
    /// `/v1/config`, fetched on the first call.
    config: OnceCell<Resolved>,
    root: Url,
    file_io: FileIO,
    runtime: Option<Runtime>,
    /// With a fixed runtime, the last loaded table per identifier, stamped
    /// with its metadata location and reused while the server returns the
    /// same metadata (its clones share the parsed manifests); nothing
    /// without one. See [`crate::table_cache`].
    tables: TableCache<TableIdent, String>,
}

impl fmt::Debug for RestCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Property values can be secrets (`token`, `credential`): keys only.
        let mut keys: Vec<&String> = self.properties.keys().collect();
        keys.sort();
        f.debug_struct("RestCatalog")
            .field("uri", &self.uri.as_str())
            .field("root", &self.root.as_str())
            .field("property_keys", &keys)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// What `/v1/config` settled.
#[derive(Debug)]
struct Resolved {
    /// `{uri}/v1` or `{uri}/v1/{prefix}`.
    base: Url,
    /// The namespace separator as it appears in a path (escaped).
    separator: String,
    page_size: Option<u32>,
    /// `None` when the server does not list its endpoints.
    endpoints: Option<HashSet<String>>,
}

impl Resolved {
    fn url(&self, segments: &[&str]) -> Url {
        join(&self.base, &segments.join("/"))
    }

    /// Whether the server offers `endpoint` (`"HEAD /v1/{prefix}/..."`);
    /// a server that lists none is assumed to offer it.
    fn offers(&self, endpoint: &str) -> bool {
        self.endpoints.as_ref().is_none_or(|e| e.contains(endpoint))
    }

    /// A namespace as one path segment: each part escaped, joined by the
    /// separator.
    fn namespace(&self, ns: &NamespaceIdent) -> Result<String> {
        let refuse = |why: &str| {
            Error::new(ErrorKind::InvalidInput, format!("namespace parts {why}"))
                .with_context("namespace", format!("{:?}", ns.as_ref()))
        };
        if ns.is_empty() || ns.iter().any(|p| p.is_empty()) {
            return Err(refuse("must be non-empty"));
        }
        if ns.iter().any(|p| p.contains('\u{1f}')) {
            return Err(refuse("must not contain the 0x1F unit separator"));
        }
        let segment = ns
            .iter()
            .map(|p| utf8_percent_encode(p, PATH_SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join(&self.separator);
        segment_ok(segment, || refuse("must not be '.' or '..'"))
    }

    fn table(&self, ident: &TableIdent) -> Result<(String, String)> {
        let refuse = || {
            Error::new(
                ErrorKind::InvalidInput,
                "table names must be non-empty and not '.' or '..'",
            )
            .with_context("table", ident.to_string())
        };
        if ident.name().is_empty() {
            return Err(refuse());
        }
        let name = segment_ok(utf8_percent_encode(ident.name(), PATH_SEGMENT).to_string(), refuse)?;
        Ok((self.namespace(ident.namespace())?, name))
    }
}

/// URLs collapse `.` and `..` segments (escaped or not), so such a name
/// would address another resource.
fn segment_ok(segment: String, refuse: impl FnOnce() -> Error) -> Result<String> {
    if segment == "." || segment == ".." {
        return Err(refuse());
    }
    Ok(segment)
}

fn to_json(value: &impl Serialize, what: &str) -> Result<Body> {
    serde_json::to_vec(value)
        .map(|v| Body::Json(Bytes::from(v)))
        .map_err(|e| Error::new(ErrorKind::Unexpected, format!("could not serialize the {what}")).with_source(e))
}

impl RestCatalog {
    /// A client of the REST catalog at `uri` (`https://host/path`: the
    /// endpoints are `{uri}/v1/...`), configured by `properties` (see the
    /// [module docs](super) for the keys). Table metadata and data files go
    /// through [`crate::storage::file_io`] over `store`, which is scoped to
    /// `root` as [`crate::storage`] describes; tables the server places
    /// outside `root` cannot be read. Nothing is sent until the first call,
    /// which fetches `/v1/config`.
    pub fn new(store: Arc<dyn ObjectStore>, root: Url, uri: &str, properties: HashMap<String, String>) -> Result<Self> {
        let refuse =
            |why: &str| Error::new(ErrorKind::InvalidInput, format!("REST catalog URI {why}")).with_context("uri", uri);
        let mut parsed = Url::parse(uri).map_err(|e| refuse("is not a URL").with_source(e))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refuse("must be http:// or https://"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(refuse("must not have a query or a fragment"));
        }
        let trimmed = parsed.path().trim_end_matches('/').to_string();
        parsed.set_path(&trimmed);
        let transport = Transport::new(&parsed, &properties)?;
        let file_io = file_io(store, &root);
        Ok(Self {
            uri: parsed,
            properties,
            transport,
            config: OnceCell::new(),
            root,
            file_io,
            runtime: None,
            tables: TableCache::tables_only(),
        })
    }

    /// Runs table I/O on `runtime` instead of the caller's current tokio
    /// runtime. It also lets loads of an unchanged table share one [`Table`],
    /// and with it the parsed manifests.
    pub fn with_runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Gives each request `timeout` (default 60 s) to complete, connection
    /// included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.transport.set_timeout(timeout);
        self
    }

    /// The catalog URI, without a trailing slash.
    pub fn uri(&self) -> &Url {
        &self.uri
    }

    /// The FileIO tables of this catalog use.
    pub fn file_io(&self) -> &FileIO {
        &self.file_io
    }

    /// The URL endpoints are under: `{uri}/v1` plus the `prefix` the server
    /// configured. Fetches `/v1/config` if no call has yet.
    pub async fn base_url(&self) -> Result<Url> {
        Ok(self.resolved().await?.base.clone())
    }

    #[cfg(test)]
    pub(super) fn transport(&self) -> &Transport {
        &self.transport
    }

    fn table_io(&self) -> TableIo<'_> {
        TableIo::new(&self.file_io, self.runtime.as_ref())
    }

    async fn resolved(&self) -> Result<&Resolved> {
        self.config.get_or_try_init(|| self.fetch_config()).await
    }

    /// `GET /v1/config?warehouse=...`; the merged properties are the
    /// server's defaults, then ours, then the server's overrides (the order
    /// the Java and Python clients use).
    async fn fetch_config(&self) -> Result<Resolved> {
        let mut url = join(&self.uri, "v1/config");
        if let Some(warehouse) = self.properties.get(super::WAREHOUSE) {
            url.query_pairs_mut().append_pair("warehouse", warehouse);
        }
        let reply = self.transport.send(Method::GET, url, None).await?.ok(Expect::SERVICE)?;
        let config: CatalogConfig = reply.json("catalog config")?;
        let mut merged = config.defaults;
        merged.extend(self.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged.extend(config.overrides);
        let mut base = join(&self.uri, "v1");
        if let Some(prefix) = merged
            .get(super::PREFIX)
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
        {
            // The prefix is a path fragment as the server wrote it (already
            // escaped), as in the Java and Python clients.
            base = join(&base, prefix);
        }
        let page_size = match merged.get(super::PAGE_SIZE) {
            Some(size) => Some(size.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    "REST catalog page size must be a positive integer",
                )
                .with_context("property", super::PAGE_SIZE)
                .with_context("value", size.as_str())
            })?),
            None => None,
        };
        let separator = merged
            .get(super::NAMESPACE_SEPARATOR)
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| DEFAULT_SEPARATOR.to_string());
        Ok(Resolved {
            base,
            separator,
            page_size,
            endpoints: config.endpoints.map(|e| e.into_iter().collect()),
        })
    }

    async fn get<T: DeserializeOwned>(&self, url: Url, expect: Expect, what: &str) -> Result<T> {
        self.transport
            .send(Method::GET, url, None)
            .await?
            .ok(expect)?
            .json(what)
    }

    async fn post<T: DeserializeOwned>(&self, url: Url, body: Body, expect: Expect, what: &str) -> Result<T> {
        self.transport
            .send(Method::POST, url, Some(body))
            .await?
            .ok(expect)?
            .json(what)
    }

    /// A request whose reply body does not matter (204s).
    async fn call(&self, method: Method, url: Url, body: Option<Body>, expect: Expect) -> Result<()> {
        self.transport.send(method, url, body).await?.ok(expect)?;
        Ok(())
    }

    /// Every item of a paginated list: the first request sends an empty
    /// `pageToken` (the spec's "I can paginate"), each next one the
    /// server's `next-page-token`, until there is none.
    async fn list_all<R, T>(
        &self,
        url: Url,
        expect: Expect,
        what: &str,
        split: fn(R) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>>
    where
        R: DeserializeOwned,
    {
        let page_size = self.resolved().await?.page_size;
        let mut items = Vec::new();
        let mut token = String::new();
        let mut seen = HashSet::new();
        loop {
            let mut page_url = url.clone();
            {
                let mut query = page_url.query_pairs_mut();
                query.append_pair("pageToken", &token);
                if let Some(size) = page_size {
                    query.append_pair("pageSize", &size.to_string());
                }
            }
            let (page, next) = split(self.get(page_url, expect, what).await?);
            items.extend(page);
            match next.filter(|t| !t.is_empty()) {
                None => return Ok(items),
                Some(next) if !seen.insert(next.clone()) => {
                    return Err(Error::new(
                        ErrorKind::Catalog,
                        "REST catalog returned a page token it had already returned; the listing would not end",
                    )
                    .with_context("request", url.as_str())
                    .with_context("page_token", next));
                }
                Some(next) => token = next,
            }
        }
    }

    /// `HEAD url` (2xx: exists, 404: does not); `GET` where the server does
    /// not offer the `HEAD` endpoint or answers it 405/501.
    async fn exists(&self, url: Url, endpoint: &str, expect: Expect) -> Result<bool> {
        if self.resolved().await?.offers(endpoint) {
            let reply = self.transport.send(Method::HEAD, url.clone(), None).await?;
            match reply.status.as_u16() {
                200..=299 => return Ok(true),
                404 => return Ok(false),
                405 | 501 => {}
                _ => return Err(reply.error(expect)),
            }
        }
        let reply = self.transport.send(Method::GET, url, None).await?;
        match reply.status.as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(reply.error(expect)),
        }
    }

    // --- Namespaces ---

    async fn namespaces(&self, parent: Option<&NamespaceIdent>) -> Result<Vec<NamespaceIdent>> {
        let resolved = self.resolved().await?;
        let mut url = resolved.url(&["namespaces"]);
        if let Some(parent) = parent {
            // The parent as it would appear in a path, then query-escaped
            // (what the Java and Python clients send).
            url.query_pairs_mut()
                .append_pair("parent", &resolved.namespace(parent)?);
        }
        self.list_all(url, Expect::NAMESPACE, "namespace list", |r: ListNamespacesResponse| {
            (r.namespaces, r.next_page_token)
        })
        .await
    }

    async fn namespace_url(&self, ns: &NamespaceIdent, rest: &[&str]) -> Result<Url> {
        let resolved = self.resolved().await?;
        let segment = resolved.namespace(ns)?;
        let segments: Vec<&str> = ["namespaces", segment.as_str()]
            .into_iter()
            .chain(rest.iter().copied())
            .collect();
        Ok(resolved.url(&segments))
    }

    async fn properties_of(&self, ns: &NamespaceIdent) -> Result<HashMap<String, String>> {
        let url = self.namespace_url(ns, &[]).await?;
        let response: NamespaceResponse = self.get(url, Expect::NAMESPACE, "namespace").await?;
        Ok(response.properties.unwrap_or_default())
    }

    async fn create_ns(&self, ns: &NamespaceIdent, properties: HashMap<String, String>) -> Result<Namespace> {
        let resolved = self.resolved().await?;
        // Validated here so a bad name fails as it does on the path endpoints.
        resolved.namespace(ns)?;
        let url = resolved.url(&["namespaces"]);
        let request = CreateNamespaceRequest {
            namespace: ns.clone(),
            properties: properties.clone(),
        };
        let body = to_json(&request, "create-namespace request")?;
        let response: NamespaceResponse = self.post(url, body, Expect::NAMESPACE, "namespace").await?;
        Ok(Namespace::with_properties(
            ns.clone(),
            response.properties.unwrap_or(properties),
        ))
    }

    /// Replaces all properties: the spec only offers updates and removals,
    /// so the current properties are read first (two requests, not atomic).
    async fn replace_properties(&self, ns: &NamespaceIdent, properties: HashMap<String, String>) -> Result<()> {
        let current = self.properties_of(ns).await?;
        let removals: Vec<String> = current
            .keys()
            .filter(|k| !properties.contains_key(*k))
            .cloned()
            .collect();
        if removals.is_empty() && properties.is_empty() {
            return Ok(());
        }
        let request = UpdateNamespacePropertiesRequest {
            removals,
            updates: properties,
        };
        let url = self.namespace_url(ns, &["properties"]).await?;
        let body = to_json(&request, "update-namespace-properties request")?;
        self.call(Method::POST, url, Some(body), Expect::NAMESPACE).await
    }

    // --- Tables ---

    async fn table_url(&self, ident: &TableIdent) -> Result<Url> {
        let resolved = self.resolved().await?;
        let (ns, name) = resolved.table(ident)?;
        Ok(resolved.url(&["namespaces", &ns, "tables", &name]))
    }

    async fn tables_in(&self, ns: &NamespaceIdent) -> Result<Vec<TableIdent>> {
        let url = self.namespace_url(ns, &["tables"]).await?;
        self.list_all(url, Expect::NAMESPACE, "table list", |r: ListTablesResponse| {
            (r.identifiers, r.next_page_token)
        })
        .await
    }

    /// The table a reply describes, reusing the cached one (fixed runtime
    /// only) if the server returned exactly its metadata again.
    fn table(&self, ident: TableIdent, metadata: TableMetadata, location: Option<String>) -> Result<Table> {
        let location = location.ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidMetadata,
                "REST catalog returned a table without a metadata-location",
            )
            .with_context("table", ident.to_string())
        })?;
        if let Some(cached) = self.tables.table(&ident, &location)
            && cached.metadata() == &metadata
        {
            return Ok(cached);
        }
        let table = self.table_io().build(ident.clone(), metadata, location.clone())?;
        self.tables.keep(self.table_io(), ident, location, &table);
        Ok(table)
    }

    async fn create(&self, ns: &NamespaceIdent, creation: TableCreation) -> Result<Table> {
        let ident = TableIdent::new(ns.clone(), creation.name.clone());
        let mut properties = creation.properties;
        // The spec's request has no format version: the reserved table
        // property carries it.
        if creation.format_version != FormatVersion::V2 {
            properties.insert(
                "format-version".to_string(),
                (creation.format_version as u8).to_string(),
            );
        }
        let request = CreateTableRequest {
            name: creation.name,
            location: creation.location,
            schema: creation.schema,
            partition_spec: creation.partition_spec,
            write_order: creation.sort_order,
            stage_create: false,
            properties,
        };
        let url = self.namespace_url(ns, &["tables"]).await?;
        let body = to_json(&request, "create-table request")?;
        let result: LoadTableResult = self.post(url, body, Expect::NEW_TABLE, "load-table result").await?;
        self.table(ident, result.metadata, result.metadata_location)
    }

    async fn load(&self, ident: &TableIdent) -> Result<Table> {
        let url = self.table_url(ident).await?;
        let result: LoadTableResult = self.get(url, Expect::TABLE, "load-table result").await?;
        self.table(ident.clone(), result.metadata, result.metadata_location)
    }

    async fn drop(&self, ident: &TableIdent, purge: bool) -> Result<()> {
        let mut url = self.table_url(ident).await?;
        url.query_pairs_mut()
            .append_pair("purgeRequested", if purge { "true" } else { "false" });
        self.call(Method::DELETE, url, None, Expect::TABLE).await?;
        self.tables.remove(ident);
        Ok(())
    }

    async fn rename(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        let resolved = self.resolved().await?;
        resolved.table(src)?;
        resolved.table(dest)?;
        let request = RenameTableRequest {
            source: src.clone(),
            destination: dest.clone(),
        };
        let url = resolved.url(&["tables", "rename"]);
        let body = to_json(&request, "rename-table request")?;
        self.call(Method::POST, url, Some(body), Expect::TABLE).await?;
        self.tables.remove(src);
        Ok(())
    }

    async fn register(&self, ident: &TableIdent, metadata_location: String) -> Result<Table> {
        self.resolved().await?.table(ident)?;
        let request = RegisterTableRequest {
            name: ident.name().to_string(),
            metadata_location,
            overwrite: false,
        };
        let url = self.namespace_url(ident.namespace(), &["register"]).await?;
        let body = to_json(&request, "register-table request")?;
        let result: LoadTableResult = self.post(url, body, Expect::NEW_TABLE, "load-table result").await?;
        self.table(ident.clone(), result.metadata, result.metadata_location)
    }

    /// The one commit path, behind both `update_table` and `commit_table`:
    /// the server checks the requirements and swaps the metadata; a 409 is a
    /// retryable [`ErrorKind::CommitConflict`] that committed nothing.
    async fn commit(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<Table> {
        let request = CommitTableRequest {
            identifier: Some(ident.clone()),
            requirements,
            updates,
        };
        let url = self.table_url(ident).await?;
        let body = to_json(&request, "commit-table request")?;
        let response: CommitTableResponse = self
            .post(url, body, Expect::COMMIT, "commit-table response")
            .await
            .map_err(|e| e.with_context("table", ident.to_string()))?;
        self.table(ident.clone(), response.metadata, Some(response.metadata_location))
    }
}

#[async_trait]
impl Catalog for RestCatalog {
    async fn list_namespaces(&self, parent: Option<&NamespaceIdent>) -> iceberg::Result<Vec<NamespaceIdent>> {
        Ok(self.namespaces(parent).await?)
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        Ok(self.create_ns(namespace, properties).await?)
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        let properties = self.properties_of(namespace).await?;
        Ok(Namespace::with_properties(namespace.clone(), properties))
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        let url = self.namespace_url(namespace, &[]).await?;
        Ok(self
            .exists(url, "HEAD /v1/{prefix}/namespaces/{namespace}", Expect::NAMESPACE)
            .await?)
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        Ok(self.replace_properties(namespace, properties).await?)
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<()> {
        let url = self.namespace_url(namespace, &[]).await?;
        Ok(self.call(Method::DELETE, url, None, Expect::DROP_NAMESPACE).await?)
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        Ok(self.tables_in(namespace).await?)
    }

    async fn create_table(&self, namespace: &NamespaceIdent, creation: TableCreation) -> iceberg::Result<Table> {
        Ok(self.create(namespace, creation).await?)
    }

    async fn load_table(&self, table: &TableIdent) -> iceberg::Result<Table> {
        Ok(self.load(table).await?)
    }

    async fn drop_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        Ok(self.drop(table, false).await?)
    }

    /// Asks the server to drop the table and delete its files
    /// (`purgeRequested=true`).
    async fn purge_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        Ok(self.drop(table, true).await?)
    }

    async fn table_exists(&self, table: &TableIdent) -> iceberg::Result<bool> {
        let url = self.table_url(table).await?;
        Ok(self
            .exists(
                url,
                "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
                Expect::TABLE,
            )
            .await?)
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> iceberg::Result<()> {
        Ok(self.rename(src, dest).await?)
    }

    async fn register_table(&self, table: &TableIdent, metadata_location: String) -> iceberg::Result<Table> {
        Ok(self.register(table, metadata_location).await?)
    }

    async fn update_table(&self, mut commit: TableCommit) -> iceberg::Result<Table> {
        let ident = commit.identifier().clone();
        let requirements = commit.take_requirements();
        let updates = commit.take_updates();
        Ok(self.commit(&ident, requirements, updates).await?)
    }
}

#[async_trait]
impl CommitCatalog for RestCatalog {
    async fn commit_table(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> iceberg::Result<Table> {
        Ok(self.commit(ident, requirements, updates).await?)
    }
}
