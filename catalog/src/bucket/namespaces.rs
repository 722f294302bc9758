//! Namespaces: the marker objects that make them exist and hold their
//! properties, and listing the namespaces and tables in a folder.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use iceberg::{NamespaceIdent, TableIdent};
use object_store::path::Path;

use super::BucketCatalog;
use super::layout::{NAMESPACE_MARKER, NameKind, NamespacePaths, TablePaths, check_name};
use crate::error::{Error, ErrorKind, Result};

/// How many child folders a listing checks at once.
const CHECK_CONCURRENCY: usize = 16;

fn namespace_not_found(name: &str) -> Error {
    Error::new(ErrorKind::NamespaceNotFound, "namespace does not exist").with_context("namespace", name)
}

impl BucketCatalog {
    pub(super) async fn require_namespace(&self, ns: &NamespacePaths) -> Result<()> {
        match self.head_object(&ns.marker).await? {
            Some(_) => Ok(()),
            None => Err(namespace_not_found(&ns.name)),
        }
    }

    /// A table folder must not be a namespace's too: purging the table
    /// would delete the namespace and everything in it.
    pub(super) async fn refuse_namespace_folder(&self, t: &TablePaths) -> Result<()> {
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
    pub(super) async fn child_namespaces(&self, parts: &[String], folder: &Path) -> Result<Vec<NamespaceIdent>> {
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
    pub(super) async fn tables_in(&self, ns: &NamespaceIdent, paths: &NamespacePaths) -> Result<Vec<TableIdent>> {
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

    pub(super) async fn read_properties(&self, ns: &NamespacePaths) -> Result<HashMap<String, String>> {
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

    pub(super) fn properties_json(ns: &NamespacePaths, properties: &HashMap<String, String>) -> Result<Bytes> {
        // Sorted, so the marker is stable and readable.
        let sorted: BTreeMap<&String, &String> = properties.iter().collect();
        serde_json::to_vec_pretty(&sorted).map(Bytes::from).map_err(|e| {
            Error::new(ErrorKind::Unexpected, "could not serialize namespace properties")
                .with_context("namespace", ns.name.as_str())
                .with_source(e)
        })
    }

    pub(super) async fn create_namespace_marker(
        &self,
        ns: &NamespaceIdent,
        properties: &HashMap<String, String>,
    ) -> Result<()> {
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

    pub(super) async fn drop_namespace_marker(&self, ns: &NamespaceIdent) -> Result<()> {
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
}
