//! [`SqliteCatalog`]: an [`iceberg::Catalog`] kept in a SQLite file in the
//! JDBC-catalog schema (see [`db`]), thermocline's default catalog.
//!
//! A commit is: load the current metadata, apply the commit's requirements and
//! updates to it, write the new metadata file, then compare-and-swap the
//! table's metadata pointer in SQLite. The swap is the commit point: it is
//! atomic, and it fails (a *retryable* conflict) if any other writer, in this
//! process or another, moved the pointer since we loaded it. The new metadata
//! file is deleted when the swap loses, so a lost race leaves no garbage.
//! `Catalog::update_table` and [`CommitCatalog::commit_table`] share that one
//! path.

mod db;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{
    Catalog, MetadataLocation, Namespace, NamespaceIdent, Runtime, TableCommit, TableCreation, TableIdent,
    TableRequirement, TableUpdate,
};
use url::Url;

use self::db::{Db, EXISTS_PROPERTY, namespace_not_found, table_not_found};
use crate::commit::CommitCatalog;
use crate::error::{Error, ErrorKind, Result};
use crate::table_cache::{TableCache, TableIo};

/// The `catalog_name` our rows carry unless told otherwise.
pub const DEFAULT_CATALOG_NAME: &str = "thermocline";

/// Namespace property that overrides where its tables are placed (as in
/// iceberg's memory and SQL catalogs).
const LOCATION_PROPERTY: &str = "location";

/// An Iceberg catalog in a SQLite file; see the module docs.
#[derive(Debug)]
pub struct SqliteCatalog {
    db: Db,
    warehouse: Url,
    file_io: FileIO,
    runtime: Option<Runtime>,
    /// Loaded tables by metadata location. A metadata file is never
    /// rewritten (each commit writes a new one), so an entry can never go
    /// stale; the catalog row still decides which location is current on
    /// every load. See [`crate::table_cache`].
    tables: TableCache<String>,
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog in `db_path`, named
    /// [`DEFAULT_CATALOG_NAME`]. New tables go under `warehouse`; every
    /// metadata and data file is read and written through `file_io`.
    pub fn open(db_path: &Path, warehouse: Url, file_io: FileIO) -> Result<Self> {
        Self::open_named(db_path, DEFAULT_CATALOG_NAME, warehouse, file_io)
    }

    /// Like [`SqliteCatalog::open`] for another `catalog_name`: one SQLite
    /// file can hold several catalogs, as with pyiceberg and Java.
    pub fn open_named(db_path: &Path, name: &str, warehouse: Url, file_io: FileIO) -> Result<Self> {
        Ok(Self {
            db: Db::open(db_path, name.to_string())?,
            warehouse,
            file_io,
            runtime: None,
            tables: TableCache::new(),
        })
    }

    /// Runs table I/O on `runtime` instead of the caller's current tokio
    /// runtime. It also lets loads share one table per metadata version, and
    /// with it the parsed manifests.
    pub fn with_runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The catalog name keying this catalog's rows.
    pub fn name(&self) -> &str {
        self.db.catalog()
    }

    /// Where new tables are placed.
    pub fn warehouse(&self) -> &Url {
        &self.warehouse
    }

    /// The FileIO tables of this catalog use.
    pub fn file_io(&self) -> &FileIO {
        &self.file_io
    }

    fn table_io(&self) -> TableIo<'_> {
        TableIo::new(&self.file_io, self.runtime.as_ref())
    }

    async fn read_table(&self, ident: &TableIdent, location: String) -> Result<Table> {
        // The parse is what the cache saves; the file must still be there
        // (a deleted metadata file is a broken table, not a cache hit).
        if self.tables.contains(&location) && !self.file_io.exists(&location).await.unwrap_or(false) {
            self.tables.remove(&location);
        }
        let read = || async {
            let metadata = TableMetadata::read_from(&self.file_io, &location).await.map_err(|e| {
                Error::from(e)
                    .with_context("table", ident.to_string())
                    .with_context("metadata_location", location.as_str())
            })?;
            Ok((metadata, ()))
        };
        self.tables.load(self.table_io(), ident, &location, (), read).await
    }

    /// Loads the table and returns it with the pointer it was loaded from.
    async fn load(&self, ident: &TableIdent) -> Result<(Table, String)> {
        let ns = dotted(ident.namespace())?;
        let location = self
            .db
            .metadata_location(&ns, ident.name())?
            .ok_or_else(|| table_not_found(&ns, ident.name()))?;
        let table = self.read_table(ident, location.clone()).await?;
        Ok((table, location))
    }

    fn default_table_location(&self, ns: &NamespaceIdent, props: &HashMap<String, String>, name: &str) -> String {
        let base = match props.get(LOCATION_PROPERTY) {
            Some(loc) => loc.trim_end_matches('/').to_string(),
            None => format!("{}/{}", self.warehouse.as_str().trim_end_matches('/'), ns.join("/")),
        };
        format!("{base}/{name}")
    }

    async fn create(&self, ns: &NamespaceIdent, creation: TableCreation) -> Result<Table> {
        let ns_str = dotted(ns)?;
        let ident = TableIdent::new(ns.clone(), creation.name.clone());
        let context = |e: Error| e.with_context("table", ident.to_string());
        if !self.db.namespace_exists(&ns_str)? {
            return Err(namespace_not_found(&ns_str));
        }
        // Checked before writing any file so the common error leaves no orphan;
        // `insert_table` checks again under the write lock.
        if self.db.metadata_location(&ns_str, &ident.name)?.is_some() {
            return Err(context(Error::new(
                ErrorKind::TableAlreadyExists,
                "table already exists",
            )));
        }
        let location = match &creation.location {
            Some(loc) => loc.trim_end_matches('/').to_string(),
            None => {
                let props = self.db.namespace_properties(&ns_str)?;
                self.default_table_location(ns, &props, &ident.name)
            }
        };
        let creation = TableCreation {
            location: Some(location.clone()),
            ..creation
        };
        let metadata = TableMetadataBuilder::from_table_creation(creation)
            .and_then(|b| b.build())
            .map_err(|e| context(e.into()))?
            .metadata;
        let metadata_location = MetadataLocation::new_with_metadata(&location, &metadata);
        metadata
            .write_to(&self.file_io, &metadata_location)
            .await
            .map_err(|e| context(e.into()))?;
        let metadata_location = metadata_location.to_string();
        if let Err(e) = self.db.insert_table(&ns_str, &ident.name, &metadata_location) {
            self.discard(&metadata_location).await;
            return Err(e);
        }
        self.table_io().build(ident, metadata, metadata_location)
    }

    /// The one commit path, behind both `update_table` and `commit_table`:
    /// check `requirements` against the current metadata, apply `updates`
    /// to it, write the new metadata file, swap the pointer.
    async fn commit(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<Table> {
        let ns = dotted(ident.namespace())?;
        let (current, old_location) = self.load(ident).await?;
        let at = |e: Error| {
            e.with_context("table", ident.to_string())
                .with_context("metadata_location", old_location.as_str())
        };
        let metadata =
            crate::commit::apply_commit(current.metadata(), &old_location, &requirements, updates).map_err(at)?;
        let new_location = MetadataLocation::from_str(&old_location)
            .map_err(|e| at(e.into()))?
            .with_next_version()
            .with_new_metadata(&metadata);
        metadata
            .write_to(&self.file_io, &new_location)
            .await
            .map_err(|e| Error::from(e).with_context("table", ident.to_string()))?;
        let new_location = new_location.to_string();
        let swapped = self
            .db
            .swap_metadata_location(&ns, ident.name(), &old_location, &new_location);
        match swapped {
            Ok(true) => self.table_io().build(ident.clone(), metadata, new_location),
            Ok(false) => {
                self.discard(&new_location).await;
                Err(Error::new(
                    ErrorKind::CommitConflict,
                    "table was changed by another writer since it was loaded",
                )
                .with_retryable(true)
                .with_context("table", ident.to_string())
                .with_context("expected_metadata_location", old_location))
            }
            Err(e) => {
                // The swap's outcome is unknown only if SQLite failed after
                // committing, which it does not: a failed UPDATE changed nothing.
                self.discard(&new_location).await;
                Err(e.with_context("table", ident.to_string()))
            }
        }
    }

    /// Best-effort removal of a metadata file that never became current.
    async fn discard(&self, location: &str) {
        if let Err(e) = self.file_io.delete(location).await {
            tracing::warn!(%location, error = %e, "could not delete unused metadata file");
        }
    }
}

/// The dotted namespace string of the JDBC schema. A part containing `.`
/// would read back as two parts, so it is refused.
fn dotted(ns: &NamespaceIdent) -> Result<String> {
    if ns.iter().any(|part| part.contains('.') || part.is_empty()) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "namespace parts must be non-empty and must not contain '.'",
        )
        .with_context("namespace", format!("{:?}", ns.as_ref())));
    }
    Ok(ns.join("."))
}

fn undotted(ns: &str) -> Result<NamespaceIdent> {
    Ok(NamespaceIdent::from_strs(ns.split('.'))?)
}

fn user_properties(mut props: HashMap<String, String>) -> HashMap<String, String> {
    // The marker row is how a property-less namespace exists, not a property.
    props.remove(EXISTS_PROPERTY);
    props
}

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn list_namespaces(&self, parent: Option<&NamespaceIdent>) -> iceberg::Result<Vec<NamespaceIdent>> {
        let parent_str = parent.map(dotted).transpose()?;
        if let Some(p) = &parent_str
            && !self.db.namespace_exists(p)?
        {
            return Err(namespace_not_found(p).into());
        }
        let depth = parent.map_or(0, |p| p.len()) + 1;
        // Direct children only: truncate deeper namespaces to their ancestor.
        let children: BTreeSet<String> = self
            .db
            .namespaces_under(parent_str.as_deref())?
            .into_iter()
            .map(|ns| ns.split('.').take(depth).collect::<Vec<_>>().join("."))
            .collect();
        Ok(children.iter().map(|ns| undotted(ns)).collect::<Result<Vec<_>>>()?)
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        self.db.create_namespace(&dotted(namespace)?, &properties)?;
        Ok(Namespace::with_properties(namespace.clone(), properties))
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        let ns = dotted(namespace)?;
        if !self.db.namespace_exists(&ns)? {
            return Err(namespace_not_found(&ns).into());
        }
        let props = user_properties(self.db.namespace_properties(&ns)?);
        Ok(Namespace::with_properties(namespace.clone(), props))
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        Ok(self.db.namespace_exists(&dotted(namespace)?)?)
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        Ok(self.db.replace_properties(&dotted(namespace)?, &properties)?)
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<()> {
        Ok(self.db.drop_namespace(&dotted(namespace)?)?)
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        let ns = dotted(namespace)?;
        if !self.db.namespace_exists(&ns)? {
            return Err(namespace_not_found(&ns).into());
        }
        Ok(self
            .db
            .list_tables(&ns)?
            .into_iter()
            .map(|name| TableIdent::new(namespace.clone(), name))
            .collect())
    }

    async fn create_table(&self, namespace: &NamespaceIdent, creation: TableCreation) -> iceberg::Result<Table> {
        Ok(self.create(namespace, creation).await?)
    }

    async fn load_table(&self, table: &TableIdent) -> iceberg::Result<Table> {
        Ok(self.load(table).await?.0)
    }

    async fn drop_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        let ns = dotted(table.namespace())?;
        if !self.db.delete_table(&ns, table.name())? {
            return Err(table_not_found(&ns, table.name()).into());
        }
        Ok(())
    }

    async fn purge_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        let (loaded, _) = self.load(table).await?;
        self.drop_table(table).await?;
        // Files referenced from outside the table's folder (registered
        // tables) first, then everything under the folder.
        iceberg::drop_table_data(&loaded).await?;
        self.file_io
            .delete_prefix(loaded.metadata().location())
            .await
            .map_err(|e| Error::from(e).with_context("table", table.to_string()))?;
        Ok(())
    }

    async fn table_exists(&self, table: &TableIdent) -> iceberg::Result<bool> {
        let ns = dotted(table.namespace())?;
        Ok(self.db.metadata_location(&ns, table.name())?.is_some())
    }

    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> iceberg::Result<()> {
        let (src_ns, dst_ns) = (dotted(src.namespace())?, dotted(dest.namespace())?);
        Ok(self.db.rename_table((&src_ns, src.name()), (&dst_ns, dest.name()))?)
    }

    async fn register_table(&self, table: &TableIdent, metadata_location: String) -> iceberg::Result<Table> {
        let ns = dotted(table.namespace())?;
        // Read first: registering a pointer to nothing would make a table that
        // cannot be loaded.
        let loaded = self.read_table(table, metadata_location.clone()).await?;
        self.db.insert_table(&ns, table.name(), &metadata_location)?;
        Ok(loaded)
    }

    async fn update_table(&self, mut commit: TableCommit) -> iceberg::Result<Table> {
        let ident = commit.identifier().clone();
        let requirements = commit.take_requirements();
        let updates = commit.take_updates();
        Ok(self.commit(&ident, requirements, updates).await?)
    }
}

#[async_trait]
impl CommitCatalog for SqliteCatalog {
    async fn commit_table(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> iceberg::Result<Table> {
        Ok(self.commit(ident, requirements, updates).await?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
