//! The object store calls of `BucketCatalog`, each naming the object's
//! location in its errors.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ListResult, ObjectMeta, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::BucketCatalog;
use crate::error::{Error, ErrorKind, Result};

/// Identifies one object version, for the cache.
pub(super) fn object_tag(meta: &ObjectMeta) -> String {
    match &meta.e_tag {
        Some(e_tag) => format!("{e_tag}/{}", meta.size),
        None => format!(
            "{}/{}",
            meta.last_modified.timestamp_nanos_opt().unwrap_or_default(),
            meta.size
        ),
    }
}

impl BucketCatalog {
    fn storage_error(&self, e: object_store::Error, path: &Path) -> Error {
        Error::from(e).with_context("location", self.location_of(path))
    }

    pub(super) async fn head_object(&self, path: &Path) -> Result<Option<ObjectMeta>> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.storage_error(e, path)),
        }
    }

    pub(super) async fn get_object(&self, path: &Path) -> Result<Option<(Bytes, ObjectMeta)>> {
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
    pub(super) async fn create_object(&self, path: &Path, bytes: Bytes) -> Result<bool> {
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

    pub(super) async fn overwrite_object(&self, path: &Path, bytes: Bytes) -> Result<()> {
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.storage_error(e, path))
    }

    pub(super) async fn delete_object(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.storage_error(e, path)),
        }
    }

    /// The objects and child folders directly in `folder` (none if missing).
    pub(super) async fn list_folder(&self, folder: &Path) -> Result<ListResult> {
        self.store
            .list_with_delimiter(Some(folder))
            .await
            .map_err(|e| self.storage_error(e, folder))
    }
}
