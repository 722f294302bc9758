//! Warehouse configuration: where it is, which shard this process is, and
//! the tiering knobs (names follow the seeds' `tiering` options).

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
pub use crate::hot::Durability;

/// When hot rows move to Iceberg, and what compaction writes.
#[derive(Debug, Clone)]
pub struct TieringConfig {
    /// Compact a table once this many rows are hot.
    pub flush_threshold: u64,
    /// Compact a table whose oldest hot row is older than this.
    pub flush_interval: Duration,
    /// Compacted rows may stay in SQLite this long (a cache for recent-row
    /// lookups); reads still take them from Iceberg.
    pub hot_retention: Duration,
    /// Target size of each Parquet file compaction writes.
    pub target_file_size: u64,
}

impl Default for TieringConfig {
    fn default() -> Self {
        Self {
            flush_threshold: 1000,
            flush_interval: Duration::from_secs(60),
            hot_retention: Duration::from_secs(300),
            target_file_size: 128 * 1024 * 1024,
        }
    }
}

/// How compaction is triggered in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactionMode {
    /// A background task compacts on threshold and interval (servers, REPL).
    Background,
    /// Thresholds are checked after each write and compaction runs inline
    /// before the statement returns (one-shot CLI commands, tests).
    Inline,
    /// Only CHECKPOINT and `thermocline compact` compact.
    Manual,
}

/// Where a warehouse keeps its Iceberg catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CatalogKind {
    /// `catalog.db` in the warehouse folder, in the JDBC-catalog schema
    /// pyiceberg's `SqlCatalog` opens.
    #[default]
    Sqlite,
    /// Beside the table data (`s3://bucket/prefix`, `r2://...`, the `data/`
    /// folder), in Iceberg's file-system layout (see
    /// [`thermocline_catalog::BucketCatalog`]): the bucket alone is then a
    /// warehouse, which `thermocline sql --warehouse s3://bucket/prefix`,
    /// DuckDB's `iceberg_scan` and pyiceberg's `StaticTable` read with no
    /// other service.
    Bucket,
    /// An Iceberg REST catalog at `uri` (R2 Data Catalog, Polaris,
    /// Lakekeeper, another warehouse's `thermocline serve
    /// --iceberg-rest-listen`), with the client `properties` of
    /// [`thermocline_catalog::rest`] (`token`, `credential`, `warehouse`).
    Rest {
        uri: String,
        properties: std::collections::BTreeMap<String, String>,
    },
}

impl CatalogKind {
    /// What the warehouse folder records about its catalog, to refuse a
    /// later open with another one (`None` for `catalog.db`, which is its
    /// own record).
    pub(crate) fn record(&self) -> Option<String> {
        match self {
            CatalogKind::Sqlite => None,
            CatalogKind::Bucket => Some("bucket".to_string()),
            CatalogKind::Rest { uri, .. } => Some(format!("rest {uri}")),
        }
    }
}

impl std::str::FromStr for CatalogKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(Self::Rest {
                uri: s.to_string(),
                properties: Default::default(),
            });
        }
        match s.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Self::Sqlite),
            "bucket" => Ok(Self::Bucket),
            other => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "unknown catalog \"{other}\": use sqlite (catalog.db in the warehouse folder), bucket (beside the data) or the http(s):// URI of an Iceberg REST catalog"
                ),
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WarehouseConfig {
    /// The warehouse folder: `catalog.db`, `hot/`, `data/`. Empty for an
    /// offline warehouse ([`Self::offline`]), which gets a scratch folder.
    pub root: PathBuf,
    /// Where the Iceberg catalog lives.
    pub catalog: CatalogKind,
    /// Refuse every write: statements that change data or tables fail
    /// with SQLSTATE 25006, and nothing compacts.
    pub read_only: bool,
    /// Where table data lives, when not in `root/data`: `s3://bucket/prefix`,
    /// `r2://bucket/prefix` or another folder (see [`crate::store`]).
    pub data: Option<String>,
    /// How to reach S3 and R2.
    pub storage: crate::store::StorageConfig,
    /// Folders whose files queries may read as tables (`FROM 'x.parquet'`,
    /// see [`crate::url_table`]); none by default.
    pub file_roots: Vec<PathBuf>,
    /// This process's home shard: the hot tier of unsharded tables and its
    /// watermark key.
    pub shard: String,
    /// The sharding new tables get when they have the key column and their
    /// CREATE TABLE names none (see [`crate::shard`]).
    pub sharding: Option<crate::shard::Sharding>,
    pub tiering: TieringConfig,
    pub durability: Durability,
    pub compaction: CompactionMode,
    /// DataFusion's target partitions (defaults to the number of cores).
    pub target_partitions: Option<usize>,
    /// How long a write waits for the shard's write lock, held by another
    /// session's open transaction, before failing with SQLSTATE 55P03.
    pub lock_timeout: Duration,
    /// Shards other processes host: shard name → Flight URL of their
    /// server (see [`crate::shard::remote`]). Never read or written here.
    pub remote_shards: std::collections::BTreeMap<String, String>,
    /// The shards this process hosts besides its home shard, when it is a
    /// shard server (`None`: every `shard-N` in the warehouse folder).
    pub hosted_shards: Option<std::collections::BTreeSet<String>>,
    /// How long a call to a remote shard may take.
    pub shard_timeout: Duration,
    /// The secret coordinators and shard servers share (sent as a bearer
    /// token on every Flight call).
    pub shard_token: Option<String>,
}

impl WarehouseConfig {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            catalog: CatalogKind::Sqlite,
            read_only: false,
            data: None,
            storage: crate::store::StorageConfig::default(),
            file_roots: Vec::new(),
            shard: "local".to_string(),
            sharding: None,
            tiering: TieringConfig::default(),
            durability: Durability::Full,
            compaction: CompactionMode::Inline,
            target_partitions: None,
            lock_timeout: Duration::from_secs(30),
            remote_shards: Default::default(),
            hosted_shards: None,
            shard_timeout: crate::shard::remote::DEFAULT_SHARD_TIMEOUT,
            shard_token: None,
        }
    }

    /// An offline warehouse: the Iceberg tables a bucket (or folder) at
    /// `location` holds in its own catalog ([`CatalogKind::Bucket`]),
    /// queried read-only with no hot tier. Batch jobs over R2 use this:
    /// `thermocline sql --warehouse r2://bucket/lake`.
    pub fn offline(location: impl Into<String>, storage: crate::store::StorageConfig) -> Self {
        Self {
            catalog: CatalogKind::Bucket,
            read_only: true,
            compaction: CompactionMode::Manual,
            ..Self::new(PathBuf::new()).with_data(location, storage)
        }
    }

    /// Keep the Iceberg catalog in `catalog`.
    pub fn with_catalog(mut self, catalog: CatalogKind) -> Self {
        self.catalog = catalog;
        self
    }

    /// Refuse every write (see [`Self::read_only`]).
    pub fn with_read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        if read_only {
            self.compaction = CompactionMode::Manual;
        }
        self
    }

    /// Send (and, as a shard server, require) this token on Flight calls.
    pub fn with_shard_token(mut self, token: impl Into<String>) -> Self {
        self.shard_token = Some(token.into());
        self
    }

    /// Read `shards` (name → Flight URL) from the servers hosting them.
    pub fn with_remote_shards(mut self, shards: std::collections::BTreeMap<String, String>) -> Self {
        self.remote_shards = shards;
        self
    }

    /// Host only `shards` (and the home shard): a shard server's set.
    pub fn with_hosted_shards(mut self, shards: std::collections::BTreeSet<String>) -> Self {
        self.hosted_shards = Some(shards);
        self
    }

    pub fn with_shard_timeout(mut self, timeout: Duration) -> Self {
        self.shard_timeout = timeout;
        self
    }

    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    pub fn with_shard(mut self, shard: impl Into<String>) -> Self {
        self.shard = shard.into();
        self
    }

    /// Keep table data at `location` (`s3://bucket/prefix`, `r2://...`, a
    /// folder) instead of the warehouse folder's `data/`.
    pub fn with_data(mut self, location: impl Into<String>, storage: crate::store::StorageConfig) -> Self {
        self.data = Some(location.into());
        self.storage = storage;
        self
    }

    /// Let queries read files under `roots` as tables.
    pub fn with_file_roots(mut self, roots: Vec<PathBuf>) -> Self {
        self.file_roots = roots;
        self
    }

    /// Shard new tables that have `sharding.key` this way by default.
    pub fn with_sharding(mut self, sharding: crate::shard::Sharding) -> Self {
        self.sharding = Some(sharding);
        self
    }

    pub fn with_tiering(mut self, tiering: TieringConfig) -> Self {
        self.tiering = tiering;
        self
    }

    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    pub fn with_compaction(mut self, mode: CompactionMode) -> Self {
        self.compaction = mode;
        self
    }

    pub fn with_target_partitions(mut self, n: usize) -> Self {
        self.target_partitions = Some(n);
        self
    }

    /// A warehouse given as a folder path or a `file://` URL, or an
    /// offline one ([`Self::offline`]) given as `s3://bucket/prefix` or
    /// `r2://bucket/prefix`, reached with `storage`.
    pub fn from_location(location: &str, storage: crate::store::StorageConfig) -> Result<Self> {
        if let Some(rest) = location.strip_prefix("file://") {
            return Ok(Self::new(rest));
        }
        match location.split_once("://") {
            None => Ok(Self::new(location)),
            Some(("s3" | "s3a" | "r2", _)) => Ok(Self::offline(location, storage)),
            Some((scheme, _)) => Err(Error::new(
                ErrorKind::Config,
                format!("warehouse {location}: {scheme}:// is not supported; use a folder, file://, s3:// or r2://"),
            )),
        }
    }

    /// Whether this is an offline warehouse (no folder of its own).
    pub fn is_offline(&self) -> bool {
        self.root.as_os_str().is_empty()
    }

    pub fn validate(&self) -> Result<()> {
        check_shard_name(&self.shard)?;
        if let Some(token) = &self.shard_token
            && (token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::new(
                ErrorKind::Config,
                "the shard token must be non-empty printable ASCII without spaces",
            ));
        }
        if let Some(shard) = self
            .hosted_shards
            .iter()
            .flatten()
            .chain(std::iter::once(&self.shard))
            .find(|s| self.remote_shards.contains_key(*s))
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!("shard {shard} is both hosted here and remote"),
            ));
        }
        if self.is_offline() && !self.read_only {
            return Err(Error::new(
                ErrorKind::Config,
                "a warehouse without a folder has no hot tier to write to: open it read-only, or give a folder and keep the data and catalog in the bucket (--data s3://... --catalog bucket)",
            ));
        }
        if self.is_offline() && self.data.is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                "a warehouse without a folder needs a data location",
            ));
        }
        if self.tiering.flush_threshold == 0 {
            return Err(Error::new(ErrorKind::Config, "flush_threshold must be at least 1"));
        }
        Ok(())
    }
}

/// A shard name is also a file name and a watermark key: non-empty ASCII
/// letters, digits, `-` or `_`.
pub fn check_shard_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Error::new(
            ErrorKind::Config,
            format!("shard name {name:?} must be 1 to 64 ASCII letters, digits, - or _"),
        ));
    }
    Ok(())
}

/// Parse a size: plain bytes, or with a unit `KB`/`MB`/`GB` (powers of 1000)
/// or `KiB`/`MiB`/`GiB` (powers of 1024), case-insensitive.
pub fn parse_size(text: &str) -> Result<u64> {
    let trimmed = text.trim();
    let (number, unit) = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .map_or((trimmed, ""), |i| trimmed.split_at(i));
    let bad = || {
        Error::new(
            ErrorKind::Config,
            format!("bad size {text:?}: expected e.g. 134217728, 128MiB, 64MB"),
        )
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    let size = n.checked_mul(multiplier).ok_or_else(bad)?;
    if size == 0 {
        return Err(bad());
    }
    Ok(size)
}

/// Parse `90s`, `5m`, `2h`, `7d` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = number.parse().map_err(|_| {
        Error::new(
            ErrorKind::Config,
            format!("bad duration {text:?}: expected e.g. 90s, 5m, 2h, 7d"),
        )
    })?;
    if unit == "ms" {
        return Ok(Duration::from_millis(n));
    }
    let seconds = match unit {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(Error::new(
                ErrorKind::Config,
                format!("bad duration unit {unit:?} in {text:?}: use ms, s, m, h or d"),
            ));
        }
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() -> Result<()> {
        assert_eq!(parse_duration("90")?, Duration::from_secs(90));
        assert_eq!(parse_duration("5m")?, Duration::from_secs(300));
        assert_eq!(parse_duration("7d")?, Duration::from_secs(7 * 86_400));
        assert!(parse_duration("5 parsecs").is_err());
        Ok(())
    }

    #[test]
    fn catalogs_by_name_or_uri() -> Result<()> {
        assert_eq!("SQLite".parse::<CatalogKind>()?, CatalogKind::Sqlite);
        assert_eq!("bucket".parse::<CatalogKind>()?, CatalogKind::Bucket);
        let rest: CatalogKind = "https://catalog.cloudflarestorage.com/acct/lake".parse()?;
        assert!(matches!(&rest, CatalogKind::Rest { uri, .. } if uri.ends_with("/acct/lake")));
        assert_eq!(
            rest.record().as_deref(),
            Some("rest https://catalog.cloudflarestorage.com/acct/lake")
        );
        let e = "glue".parse::<CatalogKind>().expect_err("unknown");
        assert!(e.to_string().contains("REST"), "{e}");
        // Offline warehouses come from bucket URLs and cannot be written.
        let offline = WarehouseConfig::from_location("r2://lake/wh", Default::default())?;
        assert!(offline.is_offline() && offline.read_only && offline.catalog == CatalogKind::Bucket);
        assert!(offline.clone().with_read_only(false).validate().is_err());
        assert!(WarehouseConfig::from_location("gs://x/y", Default::default()).is_err());
        Ok(())
    }

    #[test]
    fn sizes() -> Result<()> {
        assert_eq!(parse_size("134217728")?, 128 << 20);
        assert_eq!(parse_size("128MiB")?, 128 << 20);
        assert_eq!(parse_size("64 mb")?, 64_000_000);
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        Ok(())
    }
}
