//! A warehouse: one folder holding the Iceberg catalog (`catalog.db`, the
//! JDBC-catalog schema pyiceberg reads), the data (`data/`, Iceberg tables of
//! Parquet), and the hot tier of each shard this process holds
//! (`hot/<shard>.db`): the home shard (`WarehouseConfig::shard`, where
//! unsharded tables are written) and the shards of sharded tables.
//!
//! Opening a warehouse finishes any compaction whose Iceberg commit landed
//! but whose WAL truncation did not (crash between the two).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures::StreamExt;

use datafusion::execution::object_store::ObjectStoreUrl;
use iceberg::table::Table;
use iceberg::{NamespaceIdent, TableIdent};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use thermocline_catalog::CommitCatalog;
use url::Url;

use crate::config::{CompactionMode, WarehouseConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{HotStore, HotStoreRef, Lsn, SqliteHotStore, TableName, WalWrite};
use crate::session::Session;
use crate::write::maintenance::maintain_table;
mod catalog;

use self::catalog::open_catalog;
use crate::write::{CompactionReport, MaintenanceOptions, MaintenanceReport, NoProgress, Progress, compact_table};

type AsyncLock = Arc<tokio::sync::Mutex<()>>;

/// How many shards compact at once in [`Warehouse::compact`].
const COMPACTION_PARALLELISM: usize = 8;

/// The default SQL schema (an Iceberg namespace).
pub const DEFAULT_NAMESPACE: &str = "public";
/// Catalog name inside `catalog.db` (pyiceberg: `SqlCatalog("thermocline", ...)`).
pub const CATALOG_NAME: &str = "thermocline";

/// Shared state behind every session and table provider of a warehouse.
#[derive(Debug)]
pub struct WarehouseInner {
    pub(crate) config: WarehouseConfig,
    pub(crate) catalog: Arc<dyn CommitCatalog>,
    /// The home shard's hot tier.
    pub(crate) hot: HotStoreRef,
    /// Shards other processes host (`None`: none).
    pub(crate) remote: Option<Arc<crate::shard::remote::RemoteShards>>,
    /// Every shard whose hot tier this process holds, opened on first use.
    shards: Mutex<HashMap<String, Arc<LocalShard>>>,
    /// Where table data lives (the warehouse's `data/` folder, or S3/R2).
    store: Arc<dyn ObjectStore>,
    store_url: ObjectStoreUrl,
    /// Local files, for tables whose location is a `file://` URL when the
    /// data lives elsewhere.
    local: Arc<dyn ObjectStore>,
    /// One compaction at a time per table and shard.
    compaction_locks: Mutex<HashMap<(TableName, String), AsyncLock>>,
    /// One Iceberg commit at a time per table from this process: shards
    /// compacting side by side write their files in parallel but would only
    /// make each other retry if they committed at once.
    commit_locks: Mutex<HashMap<TableName, AsyncLock>>,
    /// Tables altered by a transaction still open, and how many such
    /// transactions: see [`SchemaPin`].
    pinned_schemas: Mutex<HashMap<TableName, usize>>,
    compaction_signal: tokio::sync::Notify,
    /// Shared by every session: one file-metadata cache (Parquet footers and
    /// page indexes, read once per data file, not once per query) and one
    /// memory pool for the process.
    pub(crate) runtime_env: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
    /// Where table data lives, as Iceberg records it (for messages).
    data_url: Url,
    /// An offline warehouse's scratch folder, removed on drop.
    _scratch: Option<tempfile::TempDir>,
}

/// A shard whose hot tier lives in this process.
#[derive(Debug)]
pub(crate) struct LocalShard {
    pub(crate) hot: HotStoreRef,
    /// One writer at a time on the shard's hot tier.
    pub(crate) writer: Arc<tokio::sync::Mutex<()>>,
}

/// Held by a transaction that ran ALTER TABLE, until it has committed or
/// rolled back (and undone the change): compaction skips the table
/// meanwhile. Compaction writes Parquet with the current schema, so a
/// DROP COLUMN that is later rolled back would otherwise have lost the
/// column's values in the files it wrote.
#[derive(Debug)]
pub(crate) struct SchemaPin {
    warehouse: Arc<WarehouseInner>,
    table: TableName,
}

impl Drop for SchemaPin {
    fn drop(&mut self) {
        let mut pins = self.warehouse.pinned_schemas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = pins.get_mut(&self.table) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                pins.remove(&self.table);
            }
        }
    }
}

/// An open warehouse. Cheap to clone; sessions share it.
#[derive(Debug, Clone)]
pub struct Warehouse {
    inner: Arc<WarehouseInner>,
    /// Keeps the background compaction task alive; aborting it on last drop.
    _background: Option<Arc<BackgroundCompactor>>,
}

#[derive(Debug)]
struct BackgroundCompactor(tokio::task::JoinHandle<()>);

impl Drop for BackgroundCompactor {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Warehouse {
    /// Open (or create) the warehouse and recover from any interrupted
    /// compaction.
    ///
    /// Open it on the tokio runtime that will use it and keep that runtime
    /// alive as long as the warehouse: Iceberg I/O (manifest reads while
    /// planning) is spawned there, which lets every query share the tables
    /// already loaded. Background compaction runs there too.
    pub async fn open(config: WarehouseConfig) -> Result<Self> {
        config.validate()?;
        // An offline warehouse has no folder: its (empty, never written)
        // hot tier lives in a scratch folder removed with the warehouse.
        let scratch = match config.is_offline() {
            true => Some(
                tempfile::Builder::new()
                    .prefix("thermocline-offline-")
                    .tempdir()
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Config,
                            "cannot create a scratch folder for the offline warehouse",
                        )
                        .with_source(e)
                    })?,
            ),
            false => None,
        };
        let root = match &scratch {
            Some(dir) => dir.path().to_path_buf(),
            None => absolute(&config.root)?,
        };
        let data = match &config.data {
            Some(location) => crate::store::open(location, &config.storage)?,
            None => {
                let folder = root.join("data");
                std::fs::create_dir_all(&folder).map_err(|e| {
                    Error::new(ErrorKind::Config, "cannot create the warehouse folder")
                        .with_context("path", folder.display())
                        .with_source(e)
                })?;
                crate::store::open(&folder.to_string_lossy(), &config.storage)?
            }
        };
        let catalog = open_catalog(&config, scratch.is_some(), &root, &data)?;
        let public = NamespaceIdent::new(DEFAULT_NAMESPACE.to_string());
        if !config.read_only && !catalog.namespace_exists(&public).await? {
            match catalog.create_namespace(&public, HashMap::new()).await {
                Ok(_) => {}
                // Another process created it first.
                Err(e) if e.kind() == iceberg::ErrorKind::NamespaceAlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        let runtime_env = datafusion::execution::runtime_env::RuntimeEnvBuilder::new().build_arc()?;
        if data.store_url.as_str() != ObjectStoreUrl::local_filesystem().as_str() {
            let url: &Url = data.store_url.as_ref();
            runtime_env.register_object_store(url, data.store.clone());
        }
        let home = open_shard(&root, &config.shard, config.durability)?;
        let remote = (!config.remote_shards.is_empty()).then(|| {
            Arc::new(crate::shard::remote::RemoteShards::new(
                config.remote_shards.clone(),
                config.shard_timeout,
                config.shard_token.as_deref(),
            ))
        });
        let inner = Arc::new(WarehouseInner {
            data_url: data.url.clone(),
            _scratch: scratch,
            config: WarehouseConfig { root, ..config },
            catalog,
            hot: home.hot.clone(),
            remote,
            shards: Mutex::new(HashMap::from([(home.hot.shard().to_string(), Arc::new(home))])),
            store: data.store.clone(),
            store_url: data.store_url.clone(),
            local: Arc::new(LocalFileSystem::new()),
            compaction_locks: Mutex::new(HashMap::new()),
            commit_locks: Mutex::new(HashMap::new()),
            pinned_schemas: Mutex::new(HashMap::new()),
            compaction_signal: tokio::sync::Notify::new(),
            runtime_env,
        });
        inner.recover().await?;
        let compacts = inner.config.compaction == CompactionMode::Background && !inner.config.read_only;
        let background = compacts.then(|| {
            Arc::new(BackgroundCompactor(tokio::spawn(background_compaction(
                Arc::downgrade(&inner),
            ))))
        });
        Ok(Self {
            inner,
            _background: background,
        })
    }

    /// The Arrow Flight service that serves `hosted` shards to
    /// coordinators (see [`crate::shard::remote`]).
    pub fn shard_service(
        &self,
        hosted: std::collections::BTreeSet<String>,
    ) -> crate::shard::remote::server::ShardService {
        crate::shard::remote::server::ShardService::new(self.inner.clone(), hosted)
    }

    /// A new SQL session over this warehouse.
    pub fn session(&self) -> Session {
        Session::new(self.inner.clone())
    }

    pub fn config(&self) -> &WarehouseConfig {
        &self.inner.config
    }

    pub fn hot(&self) -> &dyn HotStore {
        self.inner.hot.as_ref()
    }

    /// The warehouse's Iceberg catalog; it also commits custom snapshots
    /// (copy-on-write deletes), see [`CommitCatalog`].
    pub fn catalog(&self) -> Arc<dyn CommitCatalog> {
        self.inner.catalog.clone()
    }

    /// Every table in every namespace.
    pub async fn tables(&self) -> Result<Vec<TableName>> {
        self.inner.tables().await
    }

    /// Compact one table, or every table with hot rows.
    pub async fn compact(&self, table: Option<&TableName>, progress: &dyn Progress) -> Result<Vec<CompactionReport>> {
        self.inner.compact(table, progress).await
    }

    /// Expire snapshots and delete orphan files in every table.
    pub async fn maintain(&self, options: &MaintenanceOptions) -> Result<Vec<MaintenanceReport>> {
        if !options.dry_run {
            self.inner.check_writable("maintenance")?;
        }
        let mut reports = Vec::new();
        for table in self.inner.tables().await? {
            reports.push(maintain_table(&self.inner, &table, options).await?);
        }
        Ok(reports)
    }
}

impl WarehouseInner {
    /// Refuse `what` (a statement tag: "INSERT", "CHECKPOINT") when the
    /// warehouse is read-only, saying why and how to write instead.
    pub(crate) fn check_writable(&self, what: &str) -> Result<()> {
        if !self.config.read_only {
            return Ok(());
        }
        let why = match self._scratch {
            Some(_) => format!(
                "warehouse {} is opened offline, read-only, with no hot tier; to write, open a warehouse folder that keeps its data and catalog there (--warehouse DIR --data {} --catalog bucket)",
                self.data_url, self.data_url
            ),
            None => "the warehouse is opened read-only".to_string(),
        };
        Err(Error::new(ErrorKind::ReadOnly, format!("cannot execute {what}: {why}")))
    }

    pub(crate) async fn load_table(&self, ident: &TableIdent) -> Result<Table> {
        self.catalog.load_table(ident).await.map_err(|e| {
            let kind = e.kind();
            let err = Error::from(e).with_context("table", format!("{}.{}", ident.namespace.join("."), ident.name));
            if kind == iceberg::ErrorKind::TableNotFound {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "relation \"{}.{}\" does not exist",
                        ident.namespace.join("."),
                        ident.name
                    ),
                )
            } else {
                err
            }
        })
    }

    /// The object store URL and path of an Iceberg file location.
    pub(crate) fn object_location(&self, location: &str) -> Result<(ObjectStoreUrl, object_store::path::Path)> {
        let url = Url::parse(location).map_err(|e| {
            Error::new(ErrorKind::Storage, "bad file location in table metadata")
                .with_context("location", location)
                .with_source(e)
        })?;
        let store_url = match url.scheme() {
            "file" => ObjectStoreUrl::local_filesystem(),
            "s3" | "s3a" => ObjectStoreUrl::parse(format!("s3://{}", url.host_str().unwrap_or_default()))?,
            other => {
                return Err(Error::new(
                    ErrorKind::NotSupported,
                    format!("{other}:// locations are not supported"),
                )
                .with_context("location", location));
            }
        };
        let path = object_store::path::Path::from_url_path(url.path()).map_err(|e| {
            Error::new(ErrorKind::Storage, "bad file location")
                .with_context("location", location)
                .with_source(e)
        })?;
        Ok((store_url, path))
    }

    /// The store behind an object store URL: the warehouse's data store, or
    /// the local filesystem.
    pub(crate) fn store_for(&self, url: &ObjectStoreUrl) -> Result<Arc<dyn ObjectStore>> {
        if url.as_str() == self.store_url.as_str() {
            Ok(self.store.clone())
        } else if url.as_str() == ObjectStoreUrl::local_filesystem().as_str() {
            Ok(self.local.clone())
        } else {
            Err(Error::new(
                ErrorKind::NotSupported,
                format!(
                    "no object store for {}: this warehouse's data is in {}",
                    url.as_str(),
                    self.store_url.as_str()
                ),
            ))
        }
    }

    /// The Iceberg location string of an object.
    pub(crate) fn location_of(&self, url: &ObjectStoreUrl, path: &object_store::path::Path) -> String {
        format!("{}{}", url.as_str(), path)
    }

    /// One compaction at a time per table and shard.
    pub(crate) fn compaction_lock(&self, table: &TableName, shard: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.compaction_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry((table.clone(), shard.to_string())).or_default().clone()
    }

    /// The lock this process's commits to `table` take (see `commit_locks`).
    pub(crate) fn commit_lock(&self, table: &TableName) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.commit_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(table.clone()).or_default().clone()
    }

    /// Every local shard's compaction lock on `table`, held: no compaction
    /// of the table runs until they are dropped (ALTER TABLE, DROP TABLE).
    pub(crate) async fn lock_compactions(&self, table: &TableName) -> Result<Vec<tokio::sync::OwnedMutexGuard<()>>> {
        let mut guards = Vec::new();
        for shard in self.local_shards()? {
            guards.push(self.compaction_lock(table, shard.hot.shard()).lock_owned().await);
        }
        Ok(guards)
    }

    /// The shard named `name`, opening its hot tier (`hot/<name>.db`) on
    /// first use.
    pub(crate) fn shard(&self, name: &str) -> Result<Arc<LocalShard>> {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shard) = shards.get(name) {
            return Ok(shard.clone());
        }
        crate::config::check_shard_name(name)?;
        if let Some(server) = self.config.remote_shards.get(name) {
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!("shard \"{name}\" is hosted by the shard server at {server}, not by this process"),
            ));
        }
        if self.config.hosted_shards.as_ref().is_some_and(|h| !h.contains(name)) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("shard \"{name}\" is not hosted by this server"),
            ));
        }
        let shard = Arc::new(open_shard(&self.config.root, name, self.config.durability)?);
        shards.insert(name.to_string(), shard.clone());
        Ok(shard)
    }

    /// The hot tier of shard `name`.
    pub(crate) fn hot_of(&self, name: &str) -> Result<HotStoreRef> {
        Ok(self.shard(name)?.hot.clone())
    }

    /// The shards this process holds, home shard first: the home shard,
    /// every shard of a sharded table found on disk (`hot/shard-<n>.db`)
    /// and any opened since. Another process's home shard in the same
    /// folder (`hot/<its name>.db`) is left to that process, and so are
    /// remote shards; a shard server holds only the shards it hosts.
    pub(crate) fn local_shards(&self) -> Result<Vec<Arc<LocalShard>>> {
        let mut names: Vec<String> = Vec::new();
        let dir = self.config.root.join("hot");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let file = entry.file_name();
                let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".db")) else {
                    continue;
                };
                if crate::shard::routing::is_shard_name(name) {
                    names.push(name.to_string());
                }
            }
        }
        names.extend(self.shards.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned());
        names.sort();
        names.dedup();
        names.retain(|n| {
            n != &self.config.shard
                && !self.config.remote_shards.contains_key(n)
                && self.config.hosted_shards.as_ref().is_none_or(|h| h.contains(n))
        });
        names.insert(0, self.config.shard.clone());
        names.iter().map(|n| self.shard(n)).collect()
    }

    /// Keep compaction away from `table` until the pin is dropped.
    pub(crate) fn pin_schema(self: &Arc<Self>, table: &TableName) -> SchemaPin {
        let mut pins = self.pinned_schemas.lock().unwrap_or_else(|p| p.into_inner());
        *pins.entry(table.clone()).or_default() += 1;
        SchemaPin {
            warehouse: self.clone(),
            table: table.clone(),
        }
    }

    /// Whether an open transaction altered `table`.
    pub(crate) fn schema_pinned(&self, table: &TableName) -> bool {
        let pins = self.pinned_schemas.lock().unwrap_or_else(|p| p.into_inner());
        pins.get(table).is_some_and(|n| *n > 0)
    }

    pub(crate) async fn tables(&self) -> Result<Vec<TableName>> {
        let mut out = Vec::new();
        for namespace in self.catalog.list_namespaces(None).await? {
            for table in self.catalog.list_tables(&namespace).await? {
                out.push(TableName::new(namespace.join("."), table.name));
            }
        }
        Ok(out)
    }

    /// Acknowledge writes to `shard` whose lsns were reserved from
    /// `first_lsn` (the caller holds the shard's write lock): durable in
    /// its hot tier on return.
    pub(crate) fn append_at(&self, shard: &str, first_lsn: Lsn, writes: &[WalWrite]) -> Result<()> {
        let hot = self.hot_of(shard)?;
        match hot.commit_at(first_lsn, writes) {
            // The table exists in the catalog but has no WAL here yet (made by
            // another process or engine, or a shard's first write): make it
            // and retry once.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                for write in writes {
                    hot.create_wal(&write.table)?;
                }
                hot.commit_at(first_lsn, writes).map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    /// After a commit to `shard`: wake the compactor, or compact inline
    /// when due.
    pub(crate) async fn after_append(&self, shard: &str, writes: &[WalWrite]) -> Result<()> {
        match self.config.compaction {
            CompactionMode::Manual => {}
            CompactionMode::Background => self.compaction_signal.notify_one(),
            CompactionMode::Inline => {
                let hot = self.hot_of(shard)?;
                let mut seen = std::collections::HashSet::new();
                for write in writes {
                    if seen.insert(&write.table) && self.due_for_compaction(&hot, &write.table)? {
                        compact_table(self, &hot, &write.table, &NoProgress).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Over the row threshold, or holding rows older than the interval.
    fn due_for_compaction(&self, hot: &HotStoreRef, table: &TableName) -> Result<bool> {
        let stats = hot.stats(table)?;
        if stats.rows == 0 {
            return Ok(false);
        }
        let tiering = &self.config.tiering;
        let age_limit = chrono::Utc::now().timestamp_micros() - tiering.flush_interval.as_micros() as i64;
        Ok(stats.rows >= tiering.flush_threshold || stats.oldest_commit_ts.is_some_and(|ts| ts < age_limit))
    }

    pub(crate) async fn compact(
        &self,
        table: Option<&TableName>,
        progress: &dyn Progress,
    ) -> Result<Vec<CompactionReport>> {
        self.check_writable("CHECKPOINT")?;
        let mut jobs = Vec::new();
        for shard in self.local_shards()? {
            let hot = shard.hot.clone();
            let tables = match table {
                Some(t) if hot.shard() == self.config.shard || hot.tables()?.contains(t) => vec![t.clone()],
                Some(_) => continue,
                None => hot.tables()?,
            };
            for table in tables {
                if hot.shard() == self.config.shard || hot.stats(&table)?.rows > 0 {
                    jobs.push((hot.clone(), table));
                }
            }
        }
        let results = if jobs.len() <= 1 {
            let mut results = Vec::new();
            for (hot, table) in &jobs {
                results.push(compact_table(self, hot, table, progress).await);
            }
            results
        } else {
            // Shards compact side by side, each committing its own
            // watermark; their commits race and retry (see
            // `WatermarkCommit`). Progress counts shards done.
            progress.begin(&format!("compacting {} shards", jobs.len()), jobs.len() as u64);
            let done = std::sync::atomic::AtomicU64::new(0);
            // Boxed as `dyn Future + Send`: a closure-built stream of these
            // trips the compiler's higher-ranked Send inference.
            type Job<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<CompactionReport>> + Send + 'a>>;
            let done = &done;
            let tasks: Vec<Job<'_>> = jobs
                .iter()
                .map(|(hot, table)| {
                    Box::pin(async move {
                        let report = compact_table(self, hot, table, &NoProgress)
                            .await
                            .map_err(|e| e.with_context("shard", hot.shard()));
                        progress.advance(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                        report
                    }) as Job<'_>
                })
                .collect();
            let results: Vec<Result<CompactionReport>> = futures::stream::iter(tasks)
                .buffer_unordered(COMPACTION_PARALLELISM)
                .collect()
                .await;
            progress.finish();
            results
        };
        let mut reports = Vec::new();
        for report in results {
            let report = report?;
            if report.rows > 0 || report.deleted > 0 || report.truncated > 0 {
                reports.push(report);
            }
        }
        reports.sort_by(|a, b| (&a.table, &a.shard).cmp(&(&b.table, &b.shard)));
        let mut committed: Vec<TableName> = jobs.into_iter().map(|(_, table)| table).collect();
        committed.sort();
        committed.dedup();
        self.merge_where_worth(&committed).await;
        Ok(reports)
    }

    /// After compaction: merge the small files of `tables` that have
    /// gathered enough new files since their last merge (see
    /// [`crate::write::merge`]). A failed merge changes nothing and is only
    /// logged: the compaction it follows has committed.
    pub(crate) async fn merge_where_worth(&self, tables: &[TableName]) {
        for name in tables {
            let Ok(ident) = TableIdent::from_strs([name.namespace.as_str(), name.name.as_str()]) else {
                continue;
            };
            let worth = match self.load_table(&ident).await {
                Ok(table) => crate::write::merge::worth_merging(&table),
                Err(_) => false,
            };
            if !worth {
                continue;
            }
            match crate::write::merge::merge_small_files(self, name).await {
                Ok(Some(r)) if !r.stale => tracing::info!(
                    "merged {} small files of {name} into {} ({} rows)",
                    r.files_removed,
                    r.files_added,
                    r.rows
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("merging small files of {name}: {e}"),
            }
        }
    }

    /// Delete compacted WAL entries older than `hot_retention` (they are only
    /// a cache once compacted; reads already skip them).
    fn expire_hot_cache(&self, hot: &HotStoreRef, table: &TableName) -> Result<u64> {
        let stats = hot.stats(table)?;
        let keep_since = chrono::Utc::now().timestamp_micros() - self.config.tiering.hot_retention.as_micros() as i64;
        hot.truncate(table, stats.local_watermark, keep_since)
    }

    /// Finish compactions that committed but did not truncate the WAL, in
    /// every shard of the folder.
    async fn recover(&self) -> Result<()> {
        for shard in self.local_shards()? {
            self.recover_shard(&shard.hot).await?;
        }
        Ok(())
    }

    async fn recover_shard(&self, hot: &HotStoreRef) -> Result<()> {
        let keep_since = chrono::Utc::now().timestamp_micros() - self.config.tiering.hot_retention.as_micros() as i64;
        for table in hot.tables()? {
            let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
            let loaded = match self.load_table(&ident).await {
                Ok(t) => t,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    // Dropped elsewhere: its hot rows have nowhere to go.
                    tracing::warn!("hot WAL of {table} has no table in the catalog; dropping it");
                    hot.drop_wal(&table)?;
                    continue;
                }
                Err(e) => {
                    // One broken table (a missing metadata file, say) must not
                    // keep the others from opening; its WAL stays intact and
                    // its queries report the error.
                    tracing::warn!("cannot recover {table}: {e}");
                    continue;
                }
            };
            let w = thermocline_catalog::watermark::watermark(loaded.metadata(), None, hot.shard());
            if w > 0 {
                hot.truncate(&table, w, keep_since)?;
            }
        }
        Ok(())
    }
}

/// Compacts tables that are due, when told of a write or once a second.
async fn background_compaction(warehouse: std::sync::Weak<WarehouseInner>) {
    loop {
        let Some(inner) = warehouse.upgrade() else {
            return;
        };
        let tick = tokio::time::sleep(std::time::Duration::from_secs(1));
        tokio::select! {
            _ = inner.compaction_signal.notified() => {}
            _ = tick => {}
        }
        let shards = match inner.local_shards() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("background compaction: {e}");
                continue;
            }
        };
        let mut compacted = Vec::new();
        for shard in shards {
            match compact_due(&inner, &shard.hot).await {
                Ok(tables) => compacted.extend(tables),
                Err(e) => tracing::warn!("background compaction of shard {}: {e}", shard.hot.shard()),
            }
        }
        compacted.sort();
        compacted.dedup();
        inner.merge_where_worth(&compacted).await;
    }
}

/// One shard's pass of the background compactor: compact each table that is
/// due, expire the compacted rows of the others. Returns the tables it
/// compacted rows of.
async fn compact_due(inner: &WarehouseInner, hot: &HotStoreRef) -> Result<Vec<TableName>> {
    let mut compacted = Vec::new();
    for table in hot.tables()? {
        match inner.due_for_compaction(hot, &table) {
            Ok(true) => match compact_table(inner, hot, &table, &NoProgress).await {
                Ok(report) if report.rows > 0 || report.deleted > 0 => compacted.push(table),
                Ok(_) => {}
                Err(e) => tracing::warn!("background compaction of {table} failed: {e}"),
            },
            Ok(false) => {
                if let Err(e) = inner.expire_hot_cache(hot, &table) {
                    tracing::warn!("expiring compacted rows of {table}: {e}");
                }
            }
            Err(e) => tracing::warn!("background compaction of {table}: {e}"),
        }
    }
    Ok(compacted)
}

fn open_shard(root: &Path, name: &str, durability: crate::config::Durability) -> Result<LocalShard> {
    let path = root.join("hot").join(format!("{name}.db"));
    Ok(LocalShard {
        hot: Arc::new(SqliteHotStore::open(&path, name, durability)?),
        writer: Arc::new(tokio::sync::Mutex::new(())),
    })
}

fn absolute(path: &Path) -> Result<std::path::PathBuf> {
    std::path::absolute(path).map_err(|e| {
        Error::new(ErrorKind::Config, "cannot resolve the warehouse path")
            .with_context("path", path.display())
            .with_source(e)
    })
}
