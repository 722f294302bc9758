//! Which Iceberg catalog a warehouse opens, and the record in its folder
//! that keeps a later open from using another one.

use std::path::Path;
use std::sync::Arc;

use thermocline_catalog::sql::SqliteCatalog;
use thermocline_catalog::{BucketCatalog, CommitCatalog, RestCatalog};

use super::CATALOG_NAME;
use crate::config::{CatalogKind, WarehouseConfig};
use crate::error::{Error, ErrorKind, Result};

/// The file in a warehouse folder whose catalog is not its `catalog.db`,
/// naming which (`bucket`, `rest <uri>`): a later open that expects another
/// catalog refuses rather than showing other tables.
const CATALOG_MARKER: &str = "catalog-location";

/// The catalog `config` asks for, checked against the one the folder was
/// made with. Table I/O runs on the runtime the warehouse was opened on, so
/// the catalog can share loaded tables (and their parsed manifests) across
/// queries instead of re-reading them for each one.
pub(super) fn open_catalog(
    config: &WarehouseConfig,
    offline: bool,
    root: &Path,
    data: &crate::store::DataLocation,
) -> Result<Arc<dyn CommitCatalog>> {
    let runtime = iceberg::Runtime::try_current()?;
    if !offline {
        check_catalog_record(&config.catalog, root)?;
    }
    Ok(match &config.catalog {
        CatalogKind::Sqlite => {
            // No trailing slash: table locations are `{warehouse}/{namespace}/{table}`.
            let file_io = thermocline_catalog::storage::file_io(data.store.clone(), &data.url);
            let catalog = SqliteCatalog::open_named(&root.join("catalog.db"), CATALOG_NAME, data.url.clone(), file_io)?;
            Arc::new(catalog.with_runtime(runtime))
        }
        CatalogKind::Bucket => {
            let catalog = BucketCatalog::new(data.store.clone(), data.url.clone(), CATALOG_NAME)?;
            Arc::new(catalog.with_runtime(runtime))
        }
        CatalogKind::Rest { uri, properties } => {
            let properties = properties.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let catalog = RestCatalog::new(data.store.clone(), data.url.clone(), uri, properties)
                .map_err(|e| Error::from(e).with_context("catalog", uri))?;
            Arc::new(catalog.with_runtime(runtime))
        }
    })
}

/// Refuse to open a folder with another catalog than it was made with;
/// record the catalog of a new folder.
fn check_catalog_record(catalog: &CatalogKind, root: &Path) -> Result<()> {
    let marker = root.join(CATALOG_MARKER);
    let sqlite = root.join("catalog.db");
    let recorded = std::fs::read_to_string(&marker).ok().map(|r| r.trim().to_string());
    let mismatch =
        |message: String| Err(Error::new(ErrorKind::Config, message).with_context("warehouse", root.display()));
    let option = |record: &str| match record.strip_prefix("rest ") {
        Some(uri) => format!("--catalog {uri}"),
        None => format!("--catalog {record}"),
    };
    match (catalog.record(), recorded) {
        (None, None) => Ok(()),
        (None, Some(record)) => mismatch(format!(
            "this warehouse keeps its Iceberg catalog elsewhere ({record}): open it with {}",
            option(&record)
        )),
        (Some(_), _) if sqlite.exists() => mismatch(format!(
            "this warehouse keeps its Iceberg catalog in {}: open it without --catalog",
            sqlite.display()
        )),
        (Some(wanted), Some(record)) if wanted != record => mismatch(format!(
            "this warehouse keeps its Iceberg catalog elsewhere ({record}): open it with {}",
            option(&record)
        )),
        (Some(_), Some(_)) => Ok(()),
        (Some(wanted), None) => std::fs::create_dir_all(root)
            .and_then(|()| std::fs::write(&marker, format!("{wanted}\n")))
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot write to the warehouse folder")
                    .with_context("path", marker.display())
                    .with_source(e)
            }),
    }
}
