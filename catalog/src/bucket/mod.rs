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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use iceberg::io::FileIO;
use iceberg::spec::{TableMetadata, TableMetadataBuilder, TableMetadataRef};
use iceberg::table::Table;
use iceberg::{
    Catalog, Namespace, NamespaceIdent, Runtime, TableCommit, TableCreation, TableIdent, TableRequirement, TableUpdate,
};
use object_store::path::{Path, PathPart};
use object_store::{ListResult, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use url::Url;

use crate::commit::CommitCatalog;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::{file_io, object_path};

/// The object whose existence makes a folder a namespace.
const NAMESPACE_MARKER: &str = ".namespace.json";

/// A table's pointer folder, under its folder.
const METADATA_FOLDER: &str = "metadata";

/// The hint file of Iceberg's file-system tables.
const VERSION_HINT: &str = "version-hint.text";

/// How many metadata versions the cache keeps before it starts over.
const METADATA_CACHE_ENTRIES: usize = 256;

/// How many child folders a listing checks at once.
const CHECK_CONCURRENCY: usize = 16;

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
    metadata_cache: Mutex<HashMap<String, CachedVersion>>,
}

/// One cached metadata version and the tag of the object it was read from.
#[derive(Debug, Clone)]
struct CachedVersion {
    tag: String,
    table: CachedTable,
}

/// What the cache keeps for one version (as `SqliteCatalog` does): with a
/// fixed runtime ([`BucketCatalog::with_runtime`]) the whole [`Table`], whose
/// clones share one cache of parsed manifests; without one only the parsed
/// metadata, since a table spawns its I/O on the runtime it was built on.
#[derive(Debug, Clone)]
enum CachedTable {
    Table(Table),
    Metadata(Arc<TableMetadata>),
}

/// Where a namespace lives.
#[derive(Debug)]
struct NamespacePaths {
    /// Dotted, for messages.
    name: String,
    parts: Vec<String>,
    folder: Path,
    marker: Path,
}

/// Where a table lives.
#[derive(Debug)]
struct TablePaths {
    namespace: NamespacePaths,
    /// `ns.table`, for messages.
    name: String,
    /// `{root}/{ns}/{table}`: the default table location.
    location: String,
    /// The table's folder, where a namespace of the same name would put its
    /// marker.
    folder: Path,
    /// `{location}/metadata`, as a URL and as an object path.
    pointer_url: String,
    pointer: Path,
}

impl TablePaths {
    fn version_location(&self, version: u64) -> String {
        format!("{}/{}", self.pointer_url, version_file(version))
    }

    fn version_path(&self, version: u64) -> Path {
        self.pointer.clone().join(version_file(version).as_str())
    }

    fn hint_path(&self) -> Path {
        self.pointer.clone().join(VERSION_HINT)
    }
}

fn version_file(version: u64) -> String {
    format!("v{version}.metadata.json")
}

/// The version of a `v{N}.metadata.json` object (N ≥ 1, no sign, no leading
/// zero); `None` for anything else in the pointer folder (manifests, the
/// hint, gzipped `v{N}.gz.metadata.json`, other catalogs' names).
fn version_of(path: &Path) -> Option<u64> {
    let digits = path.filename()?.strip_prefix('v')?.strip_suffix(".metadata.json")?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The version a hint names; `None` if it names none.
fn parse_hint(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    text.parse::<u64>().ok().filter(|v| *v >= 1)
}

/// Identifies one object version, for the cache.
fn object_tag(meta: &ObjectMeta) -> String {
    match &meta.e_tag {
        Some(e_tag) => format!("{e_tag}/{}", meta.size),
        None => format!(
            "{}/{}",
            meta.last_modified.timestamp_nanos_opt().unwrap_or_default(),
            meta.size
        ),
    }
}

#[derive(Clone, Copy)]
enum NameKind {
    NamespacePart,
    Table,
}

/// A name must be one folder, stored verbatim: not empty, not hidden (the
/// marker starts with a dot), and free of what object paths escape (`/`,
/// `%`, `#`, `?`, control characters, ...), so listings give it back as it
/// was. Namespace parts also must not contain the `.` separator.
fn check_name(name: &str, kind: NameKind) -> Result<()> {
    let verbatim = PathPart::from(name).as_ref() == name;
    let dotted = matches!(kind, NameKind::NamespacePart) && name.contains('.');
    if name.is_empty() || name.starts_with('.') || dotted || !verbatim {
        let what = match kind {
            NameKind::NamespacePart => {
                "namespace parts must be non-empty, must not contain '.' and must not contain characters \
                 object paths escape ('/', '%', '#', '?', ...)"
            }
            NameKind::Table => {
                "table names must be non-empty, must not start with '.' and must not contain characters \
                 object paths escape ('/', '%', '#', '?', ...)"
            }
        };
        return Err(Error::new(ErrorKind::InvalidInput, what).with_context("name", name));
    }
    Ok(())
}

fn namespace_not_found(name: &str) -> Error {
    Error::new(ErrorKind::NamespaceNotFound, "namespace does not exist").with_context("namespace", name)
}

fn table_not_found(name: &str) -> Error {
    Error::new(ErrorKind::TableNotFound, "table does not exist").with_context("table", name)
}

fn table_already_exists(name: &str) -> Error {
    Error::new(ErrorKind::TableAlreadyExists, "table already exists").with_context("table", name)
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
            metadata_cache: Mutex::new(HashMap::new()),
        })
    }

    /// Runs table I/O on `runtime` instead of the caller's current tokio
    /// runtime. It also lets loads share one table per metadata version, and
    /// with it the parsed manifests (see [`CachedTable`]).
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

    fn runtime(&self) -> Result<Runtime> {
        match &self.runtime {
            Some(rt) => Ok(rt.clone()),
            None => Ok(Runtime::try_current()?),
        }
    }

    fn build_table(&self, ident: TableIdent, metadata: impl Into<TableMetadataRef>, location: String) -> Result<Table> {
        Ok(Table::builder()
            .identifier(ident)
            .metadata(metadata)
            .metadata_location(location)
            .file_io(self.file_io.clone())
            .runtime(self.runtime()?)
            .build()?)
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, CachedVersion>> {
        // The map holds no invariant a panic could break.
        self.metadata_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    // --- Names to objects ---

    /// `{root}/{segments...}`, each segment percent-encoded as a URL needs.
    fn url_of<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.root.clone();
        // Only cannot-be-a-base URLs have no segments, and `new` refuses them.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// The URL of an object path (for messages).
    fn location_of(&self, path: &Path) -> String {
        let mut url = self.root.clone();
        url.set_path(&format!("/{path}"));
        url.to_string()
    }

    fn namespace_paths(&self, ns: &NamespaceIdent) -> Result<NamespacePaths> {
        for part in ns.iter() {
            check_name(part, NameKind::NamespacePart)
                .map_err(|e| e.with_context("namespace", format!("{:?}", ns.as_ref())))?;
        }
        let parts: Vec<String> = ns.to_vec();
        let folder = object_path(&self.root, self.url_of(parts.iter().map(String::as_str)).as_str())?;
        let marker = folder.clone().join(NAMESPACE_MARKER);
        Ok(NamespacePaths {
            name: parts.join("."),
            parts,
            folder,
            marker,
        })
    }

    fn table_paths(&self, ident: &TableIdent) -> Result<TablePaths> {
        let namespace = self.namespace_paths(ident.namespace())?;
        let name = format!("{}.{}", namespace.name, ident.name());
        check_name(ident.name(), NameKind::Table).map_err(|e| e.with_context("table", name.as_str()))?;
        let segments = || namespace.parts.iter().map(String::as_str).chain([ident.name()]);
        let location = self.url_of(segments()).to_string();
        let pointer_url = self.url_of(segments().chain([METADATA_FOLDER])).to_string();
        let folder = object_path(&self.root, &location)?;
        let pointer = object_path(&self.root, &pointer_url)?;
        Ok(TablePaths {
            namespace,
            name,
            location,
            folder,
            pointer_url,
            pointer,
        })
    }

    // --- Object store calls, with the location in every error ---

    fn storage_error(&self, e: object_store::Error, path: &Path) -> Error {
        Error::from(e).with_context("location", self.location_of(path))
    }

    async fn head_object(&self, path: &Path) -> Result<Option<ObjectMeta>> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.storage_error(e, path)),
        }
    }

    async fn get_object(&self, path: &Path) -> Result<Option<(Bytes, ObjectMeta)>> {
        let got = match self.store.get(path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.storage_error(e, path)),
        };
        let meta = got.meta.clone();
        let bytes = got.bytes().await.map_err(|e| self.storage_error(e, path))?;
        Ok(Some((bytes, meta)))
    }

    /// Creates the object only if it does not exist: `false` if it did.
    async fn create_object(&self, path: &Path, bytes: Bytes) -> Result<bool> {
        let opts = PutOptions::from(PutMode::Create);
        match self.store.put_opts(path, PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(true),
            // S3-compatible stores answer a failed If-None-Match with 412.
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(false),
            Err(e @ object_store::Error::NotImplemented { .. }) => Err(Error::new(
                ErrorKind::NotSupported,
                "the object store cannot create an object only if it is absent (PutMode::Create), which this \
                 catalog's commits rely on; for S3 keep conditional put enabled",
            )
            .with_context("location", self.location_of(path))
            .with_source(e)),
            Err(e) => Err(self.storage_error(e, path)),
        }
    }

    async fn overwrite_object(&self, path: &Path, bytes: Bytes) -> Result<()> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.storage_error(e, path))
    }

    async fn delete_object(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.storage_error(e, path)),
        }
    }

    /// The objects and child folders directly in `folder` (none if missing).
    async fn list_folder(&self, folder: &Path) -> Result<ListResult> {
        self.store
            .list_with_delimiter(Some(folder))
            .await
            .map_err(|e| self.storage_error(e, folder))
    }

    // --- Versions ---

    /// The version the hint names, if any: a hint is only an optimization,
    /// so an unreadable one is ignored like a missing one.
    async fn read_hint(&self, t: &TablePaths) -> Option<u64> {
        match self.get_object(&t.hint_path()).await {
            Ok(Some((bytes, _))) => parse_hint(&bytes),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(table = %t.name, error = %e, "could not read the version hint; listing instead");
                None
            }
        }
    }

    /// Best effort: a load finds the newest version without the hint.
    async fn write_hint(&self, t: &TablePaths, version: u64) {
        let path = t.hint_path();
        if let Err(e) = self.overwrite_object(&path, Bytes::from(version.to_string())).await {
            tracing::warn!(table = %t.name, version, error = %e, "could not write the version hint");
        }
    }

    /// The current version of the table and its object; `None` if the table
    /// does not exist. See the module docs.
    async fn current_version(&self, t: &TablePaths) -> Result<Option<(u64, ObjectMeta)>> {
        if let Some(hint) = self.read_hint(t).await
            && let Some(meta) = self.head_object(&t.version_path(hint)).await?
        {
            return Ok(Some(self.probe_forward(t, hint, meta).await?));
        }
        // No hint, or one from before the table was dropped and recreated.
        let newest = self
            .list_folder(&t.pointer)
            .await?
            .objects
            .into_iter()
            .filter_map(|meta| version_of(&meta.location).map(|v| (v, meta)))
            .max_by_key(|(v, _)| *v);
        match newest {
            Some((version, meta)) => Ok(Some(self.probe_forward(t, version, meta).await?)),
            None => Ok(None),
        }
    }

    /// Follows `version` forward to the last version that exists.
    async fn probe_forward(&self, t: &TablePaths, mut version: u64, mut meta: ObjectMeta) -> Result<(u64, ObjectMeta)> {
        while let Some(next) = self.head_object(&t.version_path(version + 1)).await? {
            version += 1;
            meta = next;
        }
        Ok((version, meta))
    }

    /// Whether the table has a version (cheaper than finding the newest).
    async fn has_version(&self, t: &TablePaths) -> Result<bool> {
        if let Some(hint) = self.read_hint(t).await
            && self.head_object(&t.version_path(hint)).await?.is_some()
        {
            return Ok(true);
        }
        let listed = self.list_folder(&t.pointer).await?;
        Ok(listed.objects.iter().any(|meta| version_of(&meta.location).is_some()))
    }

    /// Writes `metadata` as `version` if that version does not exist yet:
    /// `false` if another writer created it first.
    async fn write_version(&self, t: &TablePaths, version: u64, metadata: &TableMetadata) -> Result<bool> {
        let bytes = Bytes::from(serde_json::to_vec(metadata).map_err(|e| {
            Error::new(ErrorKind::Unexpected, "could not serialize table metadata")
                .with_context("table", t.name.as_str())
                .with_source(e)
        })?);
        let path = t.version_path(version);
        if self.create_object(&path, bytes.clone()).await? {
            return Ok(true);
        }
        // Lost, unless the object is ours: a create whose answer was lost
        // and that was sent again finds its own object there.
        match self.get_object(&path).await {
            Ok(Some((existing, _))) if existing == bytes => Ok(true),
            Ok(_) => Ok(false),
            Err(e) => Err(Error::new(
                ErrorKind::Storage,
                "could not tell whether the metadata version was written by this commit or another",
            )
            .with_context("table", t.name.as_str())
            .with_context("metadata_location", t.version_location(version))
            .with_source(e)),
        }
    }

    /// Reads (or takes from the cache) one version of the table.
    async fn read_version(&self, ident: &TableIdent, t: &TablePaths, version: u64, meta: &ObjectMeta) -> Result<Table> {
        let location = t.version_location(version);
        let at = |e: Error| {
            e.with_context("table", t.name.as_str())
                .with_context("metadata_location", location.as_str())
        };
        let tag = object_tag(meta);
        let cached = self
            .cache()
            .get(&location)
            .filter(|c| c.tag == tag)
            .map(|c| c.table.clone());
        let (metadata, tag) = match cached {
            Some(CachedTable::Table(table)) => return Ok(table),
            Some(CachedTable::Metadata(metadata)) => (metadata, tag),
            None => {
                // Gone since it was found: the table was dropped meanwhile.
                let (bytes, meta) = self
                    .get_object(&t.version_path(version))
                    .await?
                    .ok_or_else(|| at(table_not_found(&t.name)))?;
                let metadata = self.parse_metadata(&location, &bytes).await.map_err(at)?;
                (Arc::new(metadata), object_tag(&meta))
            }
        };
        let table = self.build_table(ident.clone(), metadata, location.clone())?;
        let entry = match self.runtime {
            Some(_) => CachedTable::Table(table.clone()),
            None => CachedTable::Metadata(table.metadata_ref()),
        };
        let mut cache = self.cache();
        if let CachedTable::Table(_) = entry {
            // One loaded table per table (its newest version): each holds
            // its own cache of parsed manifests, which older versions would
            // keep alive for nothing.
            let folder = format!("{}/", t.pointer_url);
            cache.retain(|loc, cached| !(matches!(cached.table, CachedTable::Table(_)) && loc.starts_with(&folder)));
        }
        if cache.len() >= METADATA_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(location, CachedVersion { tag, table: entry });
        Ok(table)
    }

    async fn parse_metadata(&self, location: &str, bytes: &[u8]) -> Result<TableMetadata> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            // Gzipped by another writer: iceberg knows how to read that.
            return Ok(TableMetadata::read_from(&self.file_io, location).await?);
        }
        serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                ErrorKind::InvalidMetadata,
                "metadata file is not Iceberg table metadata JSON",
            )
            .with_source(e)
        })
    }

    /// Loads the table: the table, where it lives, and its current version.
    async fn load(&self, ident: &TableIdent) -> Result<(Table, TablePaths, u64)> {
        let t = self.table_paths(ident)?;
        let (version, meta) = self
            .current_version(&t)
            .await?
            .ok_or_else(|| table_not_found(&t.name))?;
        let table = self.read_version(ident, &t, version, &meta).await?;
        Ok((table, t, version))
    }

    /// Deletes the table's versions and hint; `false` if it had no version.
    /// Manifests and data stay (a purge deletes them).
    async fn delete_versions(&self, t: &TablePaths) -> Result<bool> {
        let mut versions: Vec<(u64, Path)> = self
            .list_folder(&t.pointer)
            .await?
            .objects
            .into_iter()
            .filter_map(|meta| version_of(&meta.location).map(|v| (v, meta.location)))
            .collect();
        if versions.is_empty() {
            return Ok(false);
        }
        // The hint first (without it a load lists the folder), then the
        // versions oldest first, so the table stays itself until it is gone.
        versions.sort();
        self.delete_object(&t.hint_path()).await?;
        for (_, path) in versions {
            self.delete_object(&path).await?;
        }
        Ok(true)
    }

    // --- Namespaces ---

    async fn require_namespace(&self, ns: &NamespacePaths) -> Result<()> {
        match self.head_object(&ns.marker).await? {
            Some(_) => Ok(()),
            None => Err(namespace_not_found(&ns.name)),
        }
    }

    /// A table folder must not be a namespace's too: purging the table
    /// would delete the namespace and everything in it.
    async fn refuse_namespace_folder(&self, t: &TablePaths) -> Result<()> {
        if self
            .head_object(&t.folder.clone().join(NAMESPACE_MARKER))
            .await?
            .is_some()
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a namespace of the same name uses this table's folder",
            )
            .with_context("table", t.name.as_str()));
        }
        Ok(())
    }

    /// The child folders of `folder` whose names are valid as `kind`.
    async fn child_names(&self, folder: &Path, kind: NameKind) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .list_folder(folder)
            .await?
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .filter(|name| check_name(name, kind).is_ok())
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// The direct child namespaces of `parts` (top-level ones for none).
    async fn child_namespaces(&self, parts: &[String], folder: &Path) -> Result<Vec<NamespaceIdent>> {
        let names = self.child_names(folder, NameKind::NamespacePart).await?;
        let found: Vec<Option<NamespaceIdent>> = stream::iter(names)
            .map(|name| async move {
                let ns = NamespaceIdent::from_vec(parts.iter().cloned().chain([name]).collect())?;
                let paths = self.namespace_paths(&ns)?;
                Ok::<_, Error>(self.head_object(&paths.marker).await?.map(|_| ns))
            })
            .buffered(CHECK_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// The tables directly in the namespace.
    async fn tables_in(&self, ns: &NamespaceIdent, paths: &NamespacePaths) -> Result<Vec<TableIdent>> {
        let names = self.child_names(&paths.folder, NameKind::Table).await?;
        let found: Vec<Option<TableIdent>> = stream::iter(names)
            .map(|name| async move {
                let ident = TableIdent::new(ns.clone(), name);
                let t = self.table_paths(&ident)?;
                Ok::<_, Error>(self.has_version(&t).await?.then_some(ident))
            })
            .buffered(CHECK_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn read_properties(&self, ns: &NamespacePaths) -> Result<HashMap<String, String>> {
        let (bytes, _) = self
            .get_object(&ns.marker)
            .await?
            .ok_or_else(|| namespace_not_found(&ns.name))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(
                ErrorKind::InvalidMetadata,
                "namespace marker is not a JSON object of string properties",
            )
            .with_context("namespace", ns.name.as_str())
            .with_context("location", self.location_of(&ns.marker))
            .with_source(e)
        })
    }

    fn properties_json(ns: &NamespacePaths, properties: &HashMap<String, String>) -> Result<Bytes> {
        // Sorted, so the marker is stable and readable.
        let sorted: BTreeMap<&String, &String> = properties.iter().collect();
        serde_json::to_vec_pretty(&sorted).map(Bytes::from).map_err(|e| {
            Error::new(ErrorKind::Unexpected, "could not serialize namespace properties")
                .with_context("namespace", ns.name.as_str())
                .with_source(e)
        })
    }

    async fn create_namespace_marker(&self, ns: &NamespaceIdent, properties: &HashMap<String, String>) -> Result<()> {
        let paths = self.namespace_paths(ns)?;
        if let Some(parent) = ns.parent() {
            self.require_namespace(&self.namespace_paths(&parent)?).await?;
            // Its folder must not be a table's (see `refuse_namespace_folder`).
            let last = paths.parts.last().cloned().unwrap_or_default();
            let clash = self.table_paths(&TableIdent::new(parent, last))?;
            if self.has_version(&clash).await? {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "a table of the same name uses this namespace's folder",
                )
                .with_context("namespace", paths.name.as_str()));
            }
        }
        let body = Self::properties_json(&paths, properties)?;
        if !self.create_object(&paths.marker, body).await? {
            return Err(
                Error::new(ErrorKind::NamespaceAlreadyExists, "namespace already exists")
                    .with_context("namespace", paths.name.as_str()),
            );
        }
        Ok(())
    }

    async fn drop_namespace_marker(&self, ns: &NamespaceIdent) -> Result<()> {
        let paths = self.namespace_paths(ns)?;
        self.require_namespace(&paths).await?;
        let children = self.child_namespaces(&paths.parts, &paths.folder).await?;
        let tables = self.tables_in(ns, &paths).await?;
        if !children.is_empty() || !tables.is_empty() {
            return Err(Error::new(
                ErrorKind::NamespaceNotEmpty,
                "namespace still holds tables or namespaces; drop them first",
            )
            .with_context("namespace", paths.name.as_str()));
        }
        self.delete_object(&paths.marker).await
    }

    // --- Tables ---

    async fn create(&self, ns: &NamespaceIdent, creation: TableCreation) -> Result<Table> {
        let ident = TableIdent::new(ns.clone(), creation.name.clone());
        let t = self.table_paths(&ident)?;
        let context = |e: Error| e.with_context("table", t.name.as_str());
        self.require_namespace(&t.namespace).await?;
        self.refuse_namespace_folder(&t).await?;
        // Checked before writing: a table whose v1 is gone (but not its
        // later versions) must not get a second v1.
        if self.has_version(&t).await? {
            return Err(table_already_exists(&t.name));
        }
        let location = match &creation.location {
            Some(loc) => loc.trim_end_matches('/').to_string(),
            None => t.location.clone(),
        };
        let creation = TableCreation {
            location: Some(location),
            ..creation
        };
        let metadata = TableMetadataBuilder::from_table_creation(creation)
            .and_then(|b| b.build())
            .map_err(|e| context(e.into()))?
            .metadata;
        if !self.write_version(&t, 1, &metadata).await? {
            return Err(table_already_exists(&t.name));
        }
        self.write_hint(&t, 1).await;
        self.build_table(ident, metadata, t.version_location(1))
    }

    /// The one commit path, behind both `update_table` and `commit_table`:
    /// check `requirements` against the current version N, apply `updates`,
    /// create version N+1 (the compare-and-swap).
    async fn commit(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> Result<Table> {
        let (current, t, version) = self.load(ident).await?;
        let old_location = t.version_location(version);
        let at = |e: Error| {
            e.with_context("table", t.name.as_str())
                .with_context("metadata_location", old_location.as_str())
        };
        // Checked here rather than left to `TableCommit::apply` so the
        // conflict can say which requirement failed.
        for requirement in &requirements {
            if let Err(e) = requirement.check(Some(current.metadata())) {
                // Iceberg marks requirement failures retryable: re-applying the
                // change on fresh metadata may succeed.
                return Err(at(Error::new(ErrorKind::CommitConflict, "commit requirement failed")
                    .with_retryable(true)
                    .with_context("requirement", format!("{requirement:?}"))
                    .with_source(e)));
            }
        }
        let mut builder = current.metadata().clone().into_builder(Some(old_location.clone()));
        for update in updates {
            builder = update.apply(builder).map_err(|e| at(e.into()))?;
        }
        let metadata = builder.build().map_err(|e| at(e.into()))?.metadata;
        let next = version + 1;
        if !self.write_version(&t, next, &metadata).await? {
            return Err(Error::new(
                ErrorKind::CommitConflict,
                "table was changed by another writer since it was loaded",
            )
            .with_retryable(true)
            .with_context("table", t.name.as_str())
            .with_context("expected_metadata_location", old_location.as_str()));
        }
        self.write_hint(&t, next).await;
        self.build_table(ident.clone(), metadata, t.version_location(next))
    }

    async fn rename(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
        let (table, from, version) = self.load(src).await?;
        let to = self.table_paths(dest)?;
        self.require_namespace(&to.namespace).await?;
        self.refuse_namespace_folder(&to).await?;
        if self.has_version(&to).await? {
            return Err(table_already_exists(&to.name));
        }
        if !self.write_version(&to, 1, table.metadata()).await? {
            return Err(table_already_exists(&to.name));
        }
        self.write_hint(&to, 1).await;
        // A commit to the source since it was loaded would be lost: undo.
        let now = self.current_version(&from).await?.map(|(v, _)| v);
        if now.is_some_and(|now| now != version) {
            if let Err(e) = self.delete_versions(&to).await {
                tracing::warn!(table = %to.name, error = %e, "could not undo a rename that lost a race");
            }
            return Err(Error::new(
                ErrorKind::CommitConflict,
                "table was changed by another writer during the rename",
            )
            .with_retryable(true)
            .with_context("table", from.name.as_str())
            .with_context("expected_metadata_location", from.version_location(version)));
        }
        self.delete_versions(&from).await?;
        Ok(())
    }

    async fn register(&self, ident: &TableIdent, metadata_location: String) -> Result<Table> {
        let t = self.table_paths(ident)?;
        self.require_namespace(&t.namespace).await?;
        self.refuse_namespace_folder(&t).await?;
        if self.has_version(&t).await? {
            return Err(table_already_exists(&t.name));
        }
        // Read first: registering what cannot be read makes a broken table.
        let metadata = TableMetadata::read_from(&self.file_io, &metadata_location)
            .await
            .map_err(|e| {
                Error::from(e)
                    .with_context("table", t.name.as_str())
                    .with_context("metadata_location", metadata_location.as_str())
            })?;
        if !self.write_version(&t, 1, &metadata).await? {
            return Err(table_already_exists(&t.name));
        }
        self.write_hint(&t, 1).await;
        self.build_table(ident.clone(), metadata, t.version_location(1))
    }

    async fn remove(&self, ident: &TableIdent) -> Result<()> {
        let t = self.table_paths(ident)?;
        if !self.delete_versions(&t).await? {
            return Err(table_not_found(&t.name));
        }
        Ok(())
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
