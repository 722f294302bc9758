//! Tables: creating one, committing to it (the compare-and-swap of the
//! next version; see "Commits" in the [module docs](super)), renaming,
//! registering and dropping.

use iceberg::spec::{TableMetadata, TableMetadataBuilder};
use iceberg::table::Table;
use iceberg::{NamespaceIdent, TableCreation, TableIdent, TableRequirement, TableUpdate};

use super::BucketCatalog;
use super::versions::table_not_found;
use crate::error::{Error, ErrorKind, Result};

fn table_already_exists(name: &str) -> Error {
    Error::new(ErrorKind::TableAlreadyExists, "table already exists").with_context("table", name)
}

impl BucketCatalog {
    pub(super) async fn create(&self, ns: &NamespaceIdent, creation: TableCreation) -> Result<Table> {
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
        self.table_io().build(ident, metadata, t.version_location(1))
    }

    /// The one commit path, behind both `update_table` and `commit_table`:
    /// check `requirements` against the current version N, apply `updates`,
    /// create version N+1 (the compare-and-swap).
    pub(super) async fn commit(
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
        let metadata =
            crate::commit::apply_commit(current.metadata(), &old_location, &requirements, updates).map_err(at)?;
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
        self.table_io().build(ident.clone(), metadata, t.version_location(next))
    }

    pub(super) async fn rename(&self, src: &TableIdent, dest: &TableIdent) -> Result<()> {
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

    pub(super) async fn register(&self, ident: &TableIdent, metadata_location: String) -> Result<Table> {
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
        self.table_io().build(ident.clone(), metadata, t.version_location(1))
    }

    pub(super) async fn remove(&self, ident: &TableIdent) -> Result<()> {
        let t = self.table_paths(ident)?;
        if !self.delete_versions(&t).await? {
            return Err(table_not_found(&t.name));
        }
        Ok(())
    }
}
