//! How a catalog builds its tables ([`TableIo`]), and what it keeps of the
//! tables it has loaded ([`TableCache`]), so that loading an unchanged table
//! neither reads nor parses its metadata again. `SqliteCatalog`,
//! `BucketCatalog` and `RestCatalog` share both.
//!
//! # What a load guarantees
//!
//! A load returns the table as of the metadata the catalog *currently* points
//! at. The cache never decides that: the catalog resolves its pointer (the
//! SQLite row, the newest `v{N}.metadata.json` in the bucket, the REST
//! server's reply) on every load, and only then asks the cache for what it
//! keeps under a key naming that metadata. An entry is used only while its
//! *stamp* still matches, which is how each catalog says when the same key
//! can name other metadata:
//! - `SqliteCatalog` keys by metadata location with no stamp: a commit writes
//!   a new metadata file and never rewrites one (it still checks that the
//!   file exists before using an entry: a deleted metadata file is a broken
//!   table, not a cache hit);
//! - `BucketCatalog` keys by metadata location stamped with the object's tag
//!   (ETag or modification time, and size): a dropped and recreated table
//!   writes a new `v1.metadata.json` where the old one was;
//! - `RestCatalog` keys by table, stamped with the metadata location, and
//!   also compares the metadata the server returned.
//!
//! # Sharing one table across loads
//!
//! With a fixed runtime (the catalogs' `with_runtime`) the cache keeps whole
//! [`Table`]s and loads of the same metadata return clones of one table,
//! which share iceberg's per-table object cache: a snapshot's manifest list
//! and manifests are read and parsed once, not on every query. Without one, a
//! load builds its table on the caller's current runtime: a table spawns its
//! I/O on the runtime it was built with, and the caller's runtime (a test's,
//! a short-lived one's) may be gone before the cache is, so only the parsed
//! metadata is kept.
//!
//! Only the newest table of each identifier is kept whole: each holds its own
//! cache of parsed manifests, which older versions would keep alive for
//! nothing. Past [`CACHE_ENTRIES`] entries the cache starts over.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use iceberg::io::FileIO;
use iceberg::spec::{TableMetadata, TableMetadataRef};
use iceberg::table::Table;
use iceberg::{Runtime, TableIdent};

use crate::error::Result;

/// How many entries a cache keeps before it starts over.
const CACHE_ENTRIES: usize = 256;

/// The FileIO and runtime a catalog's tables run on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableIo<'a> {
    file_io: &'a FileIO,
    /// The catalog's fixed runtime; `None` runs on the caller's.
    runtime: Option<&'a Runtime>,
}

impl<'a> TableIo<'a> {
    pub(crate) fn new(file_io: &'a FileIO, runtime: Option<&'a Runtime>) -> Self {
        Self { file_io, runtime }
    }

    /// Whether loads may share one [`Table`]: only with a fixed runtime (see
    /// the module docs).
    pub(crate) fn shares_tables(&self) -> bool {
        self.runtime.is_some()
    }

    /// The table `ident` as of `metadata`, read from `location`.
    pub(crate) fn build(
        &self,
        ident: TableIdent,
        metadata: impl Into<TableMetadataRef>,
        location: String,
    ) -> Result<Table> {
        let runtime = match self.runtime {
            Some(rt) => rt.clone(),
            None => Runtime::try_current()?,
        };
        Ok(Table::builder()
            .identifier(ident)
            .metadata(metadata)
            .metadata_location(location)
            .file_io(self.file_io.clone())
            .runtime(runtime)
            .build()?)
    }
}

/// Loaded tables by key `K`, each used only while its stamp `S` matches; see
/// the module docs.
#[derive(Debug)]
pub(crate) struct TableCache<K, S = ()> {
    entries: Mutex<HashMap<K, Entry<S>>>,
    /// Whether parsed metadata is kept when tables are not shared.
    keeps_metadata: bool,
}

#[derive(Debug, Clone)]
struct Entry<S> {
    stamp: S,
    kept: Kept,
}

/// What the cache keeps for one key.
#[derive(Debug, Clone)]
enum Kept {
    /// With a fixed runtime: the table, whose clones share its object cache.
    Table(Table),
    /// Without one: the parsed metadata.
    Metadata(TableMetadataRef),
}

impl<K: Eq + Hash, S: PartialEq> TableCache<K, S> {
    /// A cache that keeps whole tables with a fixed runtime and the parsed
    /// metadata without one.
    pub(crate) fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            keeps_metadata: true,
        }
    }

    /// A cache that keeps whole tables with a fixed runtime and nothing
    /// without one: for a catalog whose loads come with the metadata already
    /// parsed (REST), where there is no parse to save.
    pub(crate) fn tables_only() -> Self {
        Self {
            keeps_metadata: false,
            ..Self::new()
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Entry<S>>> {
        // The map holds no invariant a panic could break.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &K, stamp: &S) -> Option<Kept> {
        self.lock()
            .get(key)
            .filter(|entry| entry.stamp == *stamp)
            .map(|entry| entry.kept.clone())
    }

    /// The table kept whole under `key` with `stamp`, if any.
    pub(crate) fn table(&self, key: &K, stamp: &S) -> Option<Table> {
        match self.get(key, stamp)? {
            Kept::Table(table) => Some(table),
            Kept::Metadata(_) => None,
        }
    }

    /// Whether anything is kept under `key`, whatever its stamp.
    pub(crate) fn contains(&self, key: &K) -> bool {
        self.lock().contains_key(key)
    }

    /// Forgets what is kept under `key`.
    pub(crate) fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    /// Keeps `table` under `key` with `stamp`: the table itself if `io`
    /// shares tables, else its parsed metadata (or nothing, for
    /// [`TableCache::tables_only`]).
    pub(crate) fn keep(&self, io: TableIo<'_>, key: K, stamp: S, table: &Table) {
        let kept = if io.shares_tables() {
            Kept::Table(table.clone())
        } else if self.keeps_metadata {
            Kept::Metadata(table.metadata_ref())
        } else {
            return;
        };
        let mut entries = self.lock();
        if let Kept::Table(_) = kept {
            // One table per identifier, its newest version (see the module docs).
            entries.retain(|_, entry| !matches!(&entry.kept, Kept::Table(t) if t.identifier() == table.identifier()));
        }
        if entries.len() >= CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(key, Entry { stamp, kept });
    }
}

impl<S: PartialEq> TableCache<String, S> {
    /// Loads `ident` from the metadata at `location`, the cache's key: from
    /// what is kept there with `stamp` if anything is, else from `read`, which
    /// returns the metadata with the stamp to keep it under. Keeps the result.
    pub(crate) async fn load<F, Fut>(
        &self,
        io: TableIo<'_>,
        ident: &TableIdent,
        location: &str,
        stamp: S,
        read: F,
    ) -> Result<Table>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(TableMetadata, S)>>,
    {
        let key = location.to_string();
        let (metadata, stamp) = match self.get(&key, &stamp) {
            // A renamed table's metadata file, loaded under its new name.
            Some(Kept::Table(table)) if table.identifier() == ident => return Ok(table),
            Some(Kept::Table(table)) => (table.metadata_ref(), stamp),
            Some(Kept::Metadata(metadata)) => (metadata, stamp),
            None => {
                let (metadata, stamp) = read().await?;
                (Arc::new(metadata), stamp)
            }
        };
        let table = io.build(ident.clone(), metadata, location.to_string())?;
        self.keep(io, key, stamp, &table);
        Ok(table)
    }
}
