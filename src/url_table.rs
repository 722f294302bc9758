//! Files as tables: `SELECT ... FROM 's3://bucket/sales/2026/*.parquet'`,
//! `'r2://...'`, `'data/events.csv'`, `'logs/*.json'`, joinable with the
//! warehouse's own tables.
//!
//! A quoted name that no table has is read as a location: the format comes
//! from the file extension (Parquet, CSV with a header row, newline-delimited
//! JSON, Arrow IPC), the schema from the files, and globs select several
//! files. Buckets are reached with the warehouse's storage settings (see
//! [`crate::store`]), each store built once per warehouse.
//!
//! Local files are confined to the warehouse's file roots
//! ([`crate::WarehouseConfig::file_roots`]): a path is resolved (symlinks and
//! `..` included) before it is checked, so no spelling reaches outside them.
//! With no roots, local files cannot be read at all: what a server wants.

use std::path::{Component, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{TableProvider, UrlTableFactory};
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableConfigExt, ListingTableUrl};
use datafusion::error::Result as DfResult;
use datafusion::execution::session_state::SessionStateBuilder;
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::warehouse::WarehouseInner;

/// File extensions read as tables.
const EXTENSIONS: [&str; 6] = [".parquet", ".csv", ".json", ".ndjson", ".jsonl", ".arrow"];

/// The [`UrlTableFactory`] behind a session's catalog.
#[derive(Debug)]
pub struct UrlTables {
    warehouse: Arc<WarehouseInner>,
}

impl UrlTables {
    pub fn new(warehouse: Arc<WarehouseInner>) -> Self {
        Self { warehouse }
    }

    /// The listing URL for `name`, or `None` when it is not a location.
    fn resolve(&self, name: &str) -> Result<Option<String>> {
        let lower = name.to_ascii_lowercase();
        if let Some(scheme) = ["s3://", "s3a://", "r2://"].iter().find(|s| lower.starts_with(**s)) {
            return self.remote(name, scheme).map(Some);
        }
        if lower.contains("://") && !lower.starts_with("file://") {
            return Err(Error::not_supported(format!(
                "cannot read {name:?}: only local paths, file://, s3:// and r2:// locations can be queried as tables"
            )));
        }
        let path = if lower.starts_with("file://") {
            &name["file://".len()..]
        } else {
            name
        };
        let looks_like_files =
            path.contains('/') || path.contains('*') || EXTENSIONS.iter().any(|e| lower.ends_with(e));
        if !looks_like_files {
            return Ok(None);
        }
        self.local(name, path).map(Some)
    }

    /// An `s3://`/`r2://` location: make sure the bucket's store is
    /// registered, and name it by `s3://` (r2 is an alias).
    fn remote(&self, name: &str, scheme: &str) -> Result<String> {
        let url = Url::parse(name)
            .map_err(|e| Error::new(ErrorKind::Plan, format!("{name:?} is not a valid URL")).with_source(e))?;
        let bucket = url.host_str().unwrap_or_default();
        let location = crate::store::open(&format!("{scheme}{bucket}"), &self.warehouse.config.storage)?;
        let registered = self.warehouse.runtime_env.object_store(&location.store_url).is_ok();
        if !registered {
            let store_url: &Url = location.store_url.as_ref();
            self.warehouse
                .runtime_env
                .register_object_store(store_url, location.store.clone());
        }
        // `bucket/key...`, named by s3:// like the store it is registered as.
        Ok(format!("s3://{}", &name[scheme.len()..]))
    }

    /// A local path (with or without globs), checked against the roots.
    fn local(&self, name: &str, path: &str) -> Result<String> {
        let roots = &self.warehouse.config.file_roots;
        if roots.is_empty() {
            return Err(Error::new(
                ErrorKind::InsufficientPrivilege,
                format!(
                    "cannot read {name:?}: reading local files is off here; allow folders with THERMOCLINE_FILE_ROOTS"
                ),
            ));
        }
        let absolute = std::path::absolute(path)
            .map_err(|e| Error::new(ErrorKind::Plan, format!("cannot resolve the path {name:?}")).with_source(e))?;
        // The part before the first glob is a real path: resolve it; the
        // glob part may not climb out with `..`.
        let mut prefix = PathBuf::new();
        let mut pattern = PathBuf::new();
        for component in absolute.components() {
            let text = component.as_os_str().to_string_lossy();
            if !pattern.as_os_str().is_empty() || text.contains(['*', '?', '[']) {
                if component == Component::ParentDir {
                    return Err(Error::new(
                        ErrorKind::InsufficientPrivilege,
                        format!("cannot read {name:?}: `..` after a glob"),
                    ));
                }
                pattern.push(component);
            } else {
                prefix.push(component);
            }
        }
        let resolved = prefix.canonicalize().map_err(|e| {
            Error::new(ErrorKind::NotFound, format!("cannot read {name:?}: {e}")).with_context("path", prefix.display())
        })?;
        let allowed = roots
            .iter()
            .filter_map(|root| root.canonicalize().ok())
            .any(|root| resolved.starts_with(root));
        if !allowed {
            return Err(Error::new(
                ErrorKind::InsufficientPrivilege,
                format!("cannot read {name:?}: it is outside the allowed file roots"),
            )
            .with_context("roots", display_roots(roots)));
        }
        let full = if pattern.as_os_str().is_empty() {
            resolved
        } else {
            resolved.join(pattern)
        };
        let mut text = full.to_string_lossy().into_owned();
        // A folder lists its files.
        if full.is_dir() && !text.ends_with('/') {
            text.push('/');
        }
        Ok(text)
    }
}

fn display_roots(roots: &[PathBuf]) -> String {
    roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl UrlTableFactory for UrlTables {
    async fn try_new(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let Some(location) = self.resolve(name)? else {
            return Ok(None);
        };
        let url = listing_url(&location)?;
        // Inference only needs the stores and the default formats.
        let state = SessionStateBuilder::new()
            .with_runtime_env(self.warehouse.runtime_env.clone())
            .with_default_features()
            .build();
        let config = ListingTableConfig::new(url).infer_options(&state).await.map_err(|e| {
            Error::new(
                ErrorKind::NotFound,
                format!("cannot read {name:?}: no Parquet, CSV, JSON or Arrow files there ({e})"),
            )
        })?;
        let config = config
            .infer_schema(&state)
            .await
            .map_err(|e| Error::new(ErrorKind::Storage, format!("cannot read the schema of {name:?}: {e}")))?;
        Ok(Some(Arc::new(ListingTable::try_new(config)?)))
    }
}

/// DataFusion's listing URL for `location`. It reads globs in local paths
/// only, so a URL's glob is split off here: `s3://b/sales/*.parquet` lists
/// `s3://b/sales/` and keeps what matches `*.parquet`.
fn listing_url(location: &str) -> DfResult<ListingTableUrl> {
    let glob_at = location.find(['*', '?', '[']);
    match glob_at {
        Some(at) if location.contains("://") => {
            let split = location[..at].rfind('/').map_or(0, |i| i + 1);
            let (base, pattern) = location.split_at(split);
            let url = Url::parse(base)
                .map_err(|e| Error::new(ErrorKind::Plan, format!("{location:?} is not a valid URL")).with_source(e))?;
            let pattern = glob::Pattern::new(pattern)
                .map_err(|e| Error::new(ErrorKind::Plan, format!("bad glob in {location:?}: {e}")))?;
            ListingTableUrl::try_new(url, Some(pattern))
        }
        _ => ListingTableUrl::parse(location),
    }
}
