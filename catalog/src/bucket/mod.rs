//! [`BucketCatalog`]: an Iceberg catalog kept entirely in an object store
//! (S3, R2, a local folder, memory), with no database and no server.
//!
//! # Layout
//!
//! Under the catalog root (`s3://bucket/prefix`, `file:///dir`, ...):
//! - namespace `a` (nested: `a.b`) is the folder `{root}/a` (`{root}/a/b`); it
//!   exists iff its marker object `.namespace.json` does, which holds the
//!   namespace properties as a JSON object of strings;
//! - table `t` of namespace `a` keeps its metadata versions in the *pointer
//!   folder* `{root}/a/t/metadata/` as `v1.metadata.json`, `v2.metadata.json`,
//!   ... — Iceberg's file-system ("Hadoop") table layout, which DuckDB's
//!   `iceberg_scan('{root}/a/t')` and pyiceberg's `StaticTable` read — plus
//!   `version-hint.text`, the number of a recent version. The table exists
//!   iff one `v{N}.metadata.json` does. Its default location is `{root}/a/t`
//!   (a creation with an explicit location keeps it, and the pointer folder
//!   stays where it is).
//!
//! # Commits
//!
//! A commit loads the current version N, checks the requirements against it,
//! applies the updates, and writes `v{N+1}.metadata.json` with a conditional
//! create (`PutMode::Create`: the write fails if the object exists). That
//! create is the compare-and-swap and the commit point: of the writers that
//! loaded N, in this process or any other, exactly one creates `v{N+1}`; the
//! others get a *retryable* conflict and have written nothing. The hint is
//! rewritten afterwards, best effort. `Catalog::update_table` and
//! [`CommitCatalog::commit_table`] share that one path.
//!
//! The store must support conditional creates: `LocalFileSystem` and
//! `InMemory` do, and so does S3 (and R2) with object_store's default
//! `S3ConditionalPut::ETagMatch`; a store that does not is refused at the
//! first write with a `NotSupported` error rather than committing unsafely.
//!
//! # Loads
//!
//! A load reads the hint, checks that the hinted version exists, and probes
//! forward (`v{h+1}`, `v{h+2}`, ...) until a version is missing: the last one
//! found is current. Without a usable hint it lists the pointer folder and
//! probes forward from the highest version. Versions are created in order
//! and never rewritten, so a load that starts after a commit returned sees
//! that commit or a later one, whatever the hint says.
//!
//! # What is not atomic
//!
//! An object store has no multi-object transaction, so operations touching
//! several objects are ordered to be safe but can interleave with others:
//! - `rename_table` writes the destination's `v1`, then deletes the source's
//!   versions. A commit to the source that lands in between is lost with
//!   the source; one seen before the delete makes the rename undo itself and
//!   fail with a retryable conflict.
//! - `drop_table` deletes the versions oldest first; a commit landing during
//!   the drop survives it (the table then still exists).
//! - Namespace checks (parent exists, namespace empty) and the marker write
//!   are separate requests, as are `update_namespace`'s check and overwrite.

mod layout;
mod namespaces;
mod objects;
mod tables;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use iceberg::io::FileIO;
use iceberg::table::Table;
use iceberg::{
    Catalog, Namespace, NamespaceIdent, Runtime, TableCommit, TableCreation, TableIdent, TableRequirement, TableUpdate,
};
use object_store::ObjectStore;
use url::Url;

#[cfg(test)]
use self::{layout::version_of, versions::parse_hint};
use crate::commit::CommitCatalog;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::{file_io, object_path};
use crate::table_cache::{TableCache, TableIo};

/// An Iceberg catalog kept in an object store; see the module docs.
#[derive(Debug)]
pub struct BucketCatalog {
    store: Arc<dyn ObjectStore>,
    /// Without a trailing slash.
    root: Url,
    name: String,
    file_io: FileIO,
    runtime: Option<Runtime>,
    /// Loaded versions by metadata location, as in `SqliteCatalog`, with one
    /// difference: `v1.metadata.json` of a dropped and recreated table is a
    /// new object at an old location, so an entry is used only while the
    /// object's tag (e_tag, or modification time, and size) is unchanged.
    /// See [`crate::table_cache`].
    tables: TableCache<String, String>,
}

impl BucketCatalog {
    /// A catalog over `store` rooted at `root` (`s3://bucket/prefix`,
    /// `file:///dir`, `memory://bucket/prefix`; a trailing slash is ignored),
    /// the URL the store is scoped to as [`crate::storage`] describes.
    /// Metadata and data files go through [`crate::storage::file_io`] over
    /// the same store. Nothing is read or written until the first call.
    pub fn new(store: Arc<dyn ObjectStore>, root: Url, name: &str) -> Result<Self> {
        let refuse = |why: &str, root: &Url| {
            Error::new(ErrorKind::InvalidInput, format!("catalog root {why}")).with_context("location", root.as_str())
        };
        if root.cannot_be_a_base() {
            return Err(refuse(
                "must be a hierarchical URL such as s3://bucket/prefix or file:///dir",
                &root,
            ));
        }
        if root.query().is_some() || root.fragment().is_some() {
            return Err(refuse("must not have a query or a fragment", &root));
        }
        let mut root = root;
        if let Ok(mut segments) = root.path_segments_mut() {
            segments.pop_if_empty();
        }
        // The store must be able to address the root itself.
        object_path(&root, root.as_str())?;
        let file_io = file_io(store.clone(), &root);
        Ok(Self {
            store,
            root,
            name: name.to_string(),
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

    /// The catalog's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The root URL, without a trailing slash.
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The FileIO tables of this catalog use.
    pub fn file_io(&self) -> &FileIO {
        &self.file_io
    }

    fn table_io(&self) -> TableIo<'_> {
        TableIo::new(&self.file_io, self.runtime.as_ref())
    }
}

#[async_trait]
impl Catalog for BucketCatalog {
    async fn list_namespaces(&self, parent: Option<&NamespaceIdent>) -> iceberg::Result<Vec<NamespaceIdent>> {
        let found = match parent {
            Some(parent) => {
                let paths = self.namespace_paths(parent)?;
                self.require_namespace(&paths).await?;
                self.child_namespaces(&paths.parts, &paths.folder).await?
            }
            None => {
                let folder = object_path(&self.root, self.root.as_str())?;
                self.child_namespaces(&[], &folder).await?
            }
        };
        Ok(found)
    }

    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        self.create_namespace_marker(namespace, &properties).await?;
        Ok(Namespace::with_properties(namespace.clone(), properties))
    }

    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        let paths = self.namespace_paths(namespace)?;
        let properties = self.read_properties(&paths).await?;
        Ok(Namespace::with_properties(namespace.clone(), properties))
    }

    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        let paths = self.namespace_paths(namespace)?;
        Ok(self.head_object(&paths.marker).await?.is_some())
    }

    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        let paths = self.namespace_paths(namespace)?;
        self.require_namespace(&paths).await?;
        let body = Self::properties_json(&paths, &properties)?;
        Ok(self.overwrite_object(&paths.marker, body).await?)
    }

    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<()> {
        Ok(self.drop_namespace_marker(namespace).await?)
    }

    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        let paths = self.namespace_paths(namespace)?;
        self.require_namespace(&paths).await?;
        Ok(self.tables_in(namespace, &paths).await?)
    }

    async fn create_table(&self, namespace: &NamespaceIdent, creation: TableCreation) -> iceberg::Result<Table> {
        Ok(self.create(namespace, creation).await?)
    }

    async fn load_table(&self, table: &TableIdent) -> iceberg::Result<Table> {
        Ok(self.load(table).await?.0)
    }

    async fn drop_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        Ok(self.remove(table).await?)
    }

    async fn purge_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        let (loaded, _, _) = self.load(table).await?;
        self.remove(table).await?;
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
        let t = self.table_paths(table)?;
        Ok(self.has_version(&t).await?)
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
impl CommitCatalog for BucketCatalog {
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
