//! A table's metadata versions: finding the current one (the hint, then
//! probing forward; see "Loads" in the [module docs](super)), reading one
//! through the cache, creating the next one, deleting them all.

use bytes::Bytes;
use iceberg::TableIdent;
use iceberg::spec::TableMetadata;
use iceberg::table::Table;
use object_store::ObjectMeta;
use object_store::path::Path;

use super::BucketCatalog;
use super::layout::{TablePaths, version_of};
use super::objects::object_tag;
use crate::error::{Error, ErrorKind, Result};

/// The version a hint names; `None` if it names none.
pub(super) fn parse_hint(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    text.parse::<u64>().ok().filter(|v| *v >= 1)
}

pub(super) fn table_not_found(name: &str) -> Error {
    Error::new(ErrorKind::TableNotFound, "table does not exist").with_context("table", name)
}

impl BucketCatalog {
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
    pub(super) async fn write_hint(&self, t: &TablePaths, version: u64) {
        let path = t.hint_path();
        if let Err(e) = self.overwrite_object(&path, Bytes::from(version.to_string())).await {
            tracing::warn!(table = %t.name, version, error = %e, "could not write the version hint");
        }
    }

    /// The current version of the table and its object; `None` if the table
    /// does not exist. See the module docs.
    pub(super) async fn current_version(&self, t: &TablePaths) -> Result<Option<(u64, ObjectMeta)>> {
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
    pub(super) async fn has_version(&self, t: &TablePaths) -> Result<bool> {
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
    pub(super) async fn write_version(&self, t: &TablePaths, version: u64, metadata: &TableMetadata) -> Result<bool> {
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

    /// Reads (or takes from the cache) one version of the table, whose
    /// object `meta` describes.
    async fn read_version(&self, ident: &TableIdent, t: &TablePaths, version: u64, meta: &ObjectMeta) -> Result<Table> {
        let location = t.version_location(version);
        let read = || async {
            let at = |e: Error| {
                e.with_context("table", t.name.as_str())
                    .with_context("metadata_location", location.as_str())
            };
            // Gone since it was found: the table was dropped meanwhile.
            let (bytes, meta) = self
                .get_object(&t.version_path(version))
                .await?
                .ok_or_else(|| at(table_not_found(&t.name)))?;
            let metadata = self.parse_metadata(&location, &bytes).await.map_err(at)?;
            Ok((metadata, object_tag(&meta)))
        };
        self.tables
            .load(self.table_io(), ident, &location, object_tag(meta), read)
            .await
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
    pub(super) async fn load(&self, ident: &TableIdent) -> Result<(Table, TablePaths, u64)> {
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
    pub(super) async fn delete_versions(&self, t: &TablePaths) -> Result<bool> {
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
}
