//! Iceberg's [`Storage`] over an [`ObjectStore`], so table metadata, manifests
//! and Parquet files go through the same store (local folder, S3, R2, memory)
//! and the same credentials as the rest of thermocline.
//!
//! Locations are URLs under one *root*:
//! - `file:///abs/dir/...` — the store is a `LocalFileSystem` rooted at `/`
//!   (`LocalFileSystem::new()`), so the object path is the absolute path;
//! - `s3://bucket/key`, `memory://authority/key` — the store is scoped to the
//!   bucket (authority), so the object path is the key.
//!
//! A location with another scheme or bucket than the root, or outside the
//! root's path, is refused with an error naming the location: a store handle
//! can only see its own bucket, and silently reading a same-named key from it
//! would be worse than failing.

use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use iceberg::io::{
    FileIO, FileIOBuilder, FileMetadata, FileRead, FileWrite, InputFile, OutputFile, Storage, StorageConfig,
    StorageFactory,
};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, ErrorKind, Result};

/// A [`FileIO`] whose every read and write goes through `store`.
///
/// `root` is the URL the store is scoped to (see the module docs); only
/// locations under it are accepted.
pub fn file_io(store: Arc<dyn ObjectStore>, root: &Url) -> FileIO {
    FileIOBuilder::new(Arc::new(ObjectStoreStorageFactory::new(store, root.clone()))).build()
}

/// The store thermocline uses by default for a root URL: the local
/// filesystem for `file://`, a fresh in-memory store for `memory://`.
/// Cloud schemes need credentials and are built by the caller.
pub fn default_store(root: &Url) -> Result<Arc<dyn ObjectStore>> {
    match root.scheme() {
        "file" => Ok(Arc::new(object_store::local::LocalFileSystem::new())),
        "memory" => Ok(Arc::new(object_store::memory::InMemory::new())),
        other => Err(Error::new(
            ErrorKind::Storage,
            format!("no default object store for scheme '{other}': build one and pass it in"),
        )
        .with_context("location", root.as_str())),
    }
}

/// Maps location URLs under `root` onto object paths of the store.
#[derive(Debug, Clone)]
struct Resolver {
    store: Arc<dyn ObjectStore>,
    root: Url,
}

impl Resolver {
    fn object_path(&self, location: &str) -> Result<Path> {
        object_path(&self.root, location)
    }
}

/// The object path of `location` in a store scoped to `root`.
pub(crate) fn object_path(root: &Url, location: &str) -> Result<Path> {
    let outside = |why: &str| {
        Error::new(
            ErrorKind::Storage,
            format!("location is outside the storage root: {why}"),
        )
        .with_context("location", location)
        .with_context("root", root.as_str())
    };
    // Bare absolute paths are local files: accept them as `file://` URLs.
    let url = if location.starts_with('/') {
        Url::from_file_path(location).map_err(|()| outside("not a valid absolute path"))?
    } else {
        Url::parse(location).map_err(|e| {
            Error::new(ErrorKind::Storage, "location is not a valid URL")
                .with_context("location", location)
                .with_source(e)
        })?
    };
    if url.scheme() != root.scheme() {
        return Err(outside("scheme differs"));
    }
    // A file:// store sees the whole filesystem; any other store one bucket.
    if url.scheme() != "file" && url.host_str() != root.host_str() {
        return Err(outside("bucket differs"));
    }
    let root_path = root.path().trim_end_matches('/');
    let path = url.path();
    let under_root = path == root_path
        || root_path.is_empty()
        || path.strip_prefix(root_path).is_some_and(|rest| rest.starts_with('/'));
    if !under_root {
        return Err(outside("path is not under the root"));
    }
    Path::from_url_path(path).map_err(|e| {
        Error::new(ErrorKind::Storage, "location is not a valid object path")
            .with_context("location", location)
            .with_source(e)
    })
}

fn missing_store(root: &str) -> Error {
    Error::new(
        ErrorKind::Storage,
        "object store handle missing: ObjectStoreStorage was deserialized, and the store \
         handle is not serializable; build the FileIO with storage::file_io(store, root)",
    )
    .with_context("root", root)
}

fn parse_root(root: &str) -> Result<Url> {
    Url::parse(root).map_err(|e| {
        Error::new(ErrorKind::Storage, "storage root is not a valid URL")
            .with_context("root", root)
            .with_source(e)
    })
}

/// Adds the location to a storage error so the user sees which file failed.
fn at(location: &str) -> impl FnOnce(object_store::Error) -> iceberg::Error + '_ {
    move |e| Error::from(e).with_context("location", location).into()
}

/// [`StorageFactory`] handing out [`ObjectStoreStorage`] over one store.
///
/// Serializable (iceberg's factories are `typetag`), but the store handle is
/// not: a deserialized factory refuses to build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectStoreStorageFactory {
    root: String,
    #[serde(skip)]
    store: Option<Arc<dyn ObjectStore>>,
}

impl ObjectStoreStorageFactory {
    /// A factory for locations under `root` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, root: Url) -> Self {
        Self {
            root: root.to_string(),
            store: Some(store),
        }
    }
}

#[typetag::serde]
impl StorageFactory for ObjectStoreStorageFactory {
    fn build(&self, _config: &StorageConfig) -> iceberg::Result<Arc<dyn Storage>> {
        // Credentials live in the store itself, so the config has nothing for us.
        let store = self.store.clone().ok_or_else(|| missing_store(&self.root))?;
        let root = parse_root(&self.root)?;
        Ok(Arc::new(ObjectStoreStorage {
            root: self.root.clone(),
            resolver: Some(Resolver { store, root }),
        }))
    }
}

/// Iceberg [`Storage`] over an [`ObjectStore`]; see the module docs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectStoreStorage {
    root: String,
    #[serde(skip)]
    resolver: Option<Resolver>,
}

impl ObjectStoreStorage {
    /// Storage for locations under `root` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, root: Url) -> Self {
        Self {
            root: root.to_string(),
            resolver: Some(Resolver { store, root }),
        }
    }

    fn resolve(&self, location: &str) -> iceberg::Result<(Arc<dyn ObjectStore>, Path)> {
        let resolver = self.resolver.as_ref().ok_or_else(|| missing_store(&self.root))?;
        Ok((resolver.store.clone(), resolver.object_path(location)?))
    }
}

#[async_trait]
#[typetag::serde]
impl Storage for ObjectStoreStorage {
    async fn exists(&self, path: &str) -> iceberg::Result<bool> {
        let (store, object) = self.resolve(path)?;
        match store.head(&object).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(at(path)(e)),
        }
    }

    async fn metadata(&self, path: &str) -> iceberg::Result<FileMetadata> {
        let (store, object) = self.resolve(path)?;
        let meta = store.head(&object).await.map_err(at(path))?;
        Ok(FileMetadata { size: meta.size })
    }

    async fn read(&self, path: &str) -> iceberg::Result<Bytes> {
        let (store, object) = self.resolve(path)?;
        let got = store.get(&object).await.map_err(at(path))?;
        got.bytes().await.map_err(at(path))
    }

    async fn reader(&self, path: &str) -> iceberg::Result<Box<dyn FileRead>> {
        let (store, object) = self.resolve(path)?;
        Ok(Box::new(ObjectRead {
            store,
            object,
            location: path.to_string(),
        }))
    }

    async fn write(&self, path: &str, bs: Bytes) -> iceberg::Result<()> {
        let (store, object) = self.resolve(path)?;
        store.put(&object, bs.into()).await.map_err(at(path))?;
        Ok(())
    }

    async fn writer(&self, path: &str) -> iceberg::Result<Box<dyn FileWrite>> {
        let (store, object) = self.resolve(path)?;
        Ok(Box::new(ObjectWrite {
            inner: BufWriter::new(store, object),
            location: path.to_string(),
            closed: false,
        }))
    }

    async fn delete(&self, path: &str) -> iceberg::Result<()> {
        let (store, object) = self.resolve(path)?;
        // Deleting a missing file is not an error (iceberg's OutputFile::delete contract).
        match store.delete(&object).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(at(path)(e)),
        }
    }

    async fn delete_prefix(&self, path: &str) -> iceberg::Result<()> {
        let (store, prefix) = self.resolve(path)?;
        // `list` matches whole path segments, so "t" never deletes "t2/...".
        let listed = store.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        store
            .delete_stream(listed)
            .try_for_each(|_| async { Ok(()) })
            .await
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(()),
                e => Err(at(path)(e)),
            })
    }

    async fn delete_stream(&self, mut paths: BoxStream<'static, String>) -> iceberg::Result<()> {
        while let Some(path) = paths.next().await {
            self.delete(&path).await?;
        }
        Ok(())
    }

    fn new_input(&self, path: &str) -> iceberg::Result<InputFile> {
        // Resolve now so a bad location fails where it is named, not on first read.
        self.resolve(path)?;
        Ok(InputFile::new(Arc::new(self.clone()), path.to_string()))
    }

    fn new_output(&self, path: &str) -> iceberg::Result<OutputFile> {
        self.resolve(path)?;
        Ok(OutputFile::new(Arc::new(self.clone()), path.to_string()))
    }
}

/// Range reads of one object.
struct ObjectRead {
    store: Arc<dyn ObjectStore>,
    object: Path,
    location: String,
}

#[async_trait]
impl FileRead for ObjectRead {
    async fn read(&self, range: Range<u64>) -> iceberg::Result<Bytes> {
        self.store
            .get_range(&self.object, range)
            .await
            .map_err(at(&self.location))
    }
}

/// Streaming writes: `BufWriter` does a single `put` for small files and a
/// multipart upload once the buffer fills, so large Parquet files never sit
/// whole in memory. Nothing is visible until `close`.
struct ObjectWrite {
    inner: BufWriter,
    location: String,
    closed: bool,
}

#[async_trait]
impl FileWrite for ObjectWrite {
    async fn write(&mut self, bs: Bytes) -> iceberg::Result<()> {
        if self.closed {
            return Err(closed_error(&self.location));
        }
        self.inner.put(bs).await.map_err(at(&self.location))
    }

    async fn close(&mut self) -> iceberg::Result<()> {
        if self.closed {
            return Err(closed_error(&self.location));
        }
        self.closed = true;
        let inner = &mut self.inner;
        futures::future::poll_fn(|cx| tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut *inner), cx))
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Storage, "failed to finish writing object")
                    .with_context("location", self.location.as_str())
                    .with_source(e)
                    .into()
            })
    }
}

fn closed_error(location: &str) -> iceberg::Error {
    Error::new(ErrorKind::Storage, "file writer already closed")
        .with_context("location", location)
        .into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;

    use super::*;

    fn local() -> (tempfile::TempDir, Url, FileIO) {
        let dir = tempfile::tempdir().unwrap();
        let root = Url::from_directory_path(dir.path()).unwrap();
        let io = file_io(Arc::new(LocalFileSystem::new()), &root);
        (dir, root, io)
    }

    fn memory() -> (Url, FileIO) {
        let root = Url::parse("memory://wh/root/").unwrap();
        (root.clone(), file_io(Arc::new(InMemory::new()), &root))
    }

    async fn round_trip(root: &Url, io: &FileIO) {
        let loc = root.join("ns/t/metadata/a.json").unwrap().to_string();
        assert!(!io.exists(&loc).await.unwrap());
        io.new_output(&loc)
            .unwrap()
            .write(Bytes::from_static(b"hello world"))
            .await
            .unwrap();
        assert!(io.exists(&loc).await.unwrap());
        let input = io.new_input(&loc).unwrap();
        assert_eq!(input.metadata().await.unwrap().size, 11);
        assert_eq!(&input.read().await.unwrap()[..], b"hello world");
        let reader = input.reader().await.unwrap();
        assert_eq!(&reader.read(6..11).await.unwrap()[..], b"world");

        // Streaming writer: invisible until closed, then whole.
        let big = root.join("ns/t/data/b.bin").unwrap().to_string();
        let mut w = io.new_output(&big).unwrap().writer().await.unwrap();
        for i in 0..100u8 {
            w.write(Bytes::from(vec![i; 1000])).await.unwrap();
        }
        w.close().await.unwrap();
        assert!(w.close().await.is_err(), "double close must fail");
        let bytes = io.new_input(&big).unwrap().read().await.unwrap();
        assert_eq!(bytes.len(), 100_000);
        assert_eq!(bytes[99_999], 99);

        // Missing files are named in the error.
        let missing = root.join("ns/t/metadata/nope.json").unwrap().to_string();
        let err = io.new_input(&missing).unwrap().read().await.unwrap_err();
        assert!(err.to_string().contains("nope.json"), "{err}");

        // delete is idempotent; delete_prefix removes the subtree and only it.
        let sibling = root.join("ns/t2/x").unwrap().to_string();
        io.new_output(&sibling)
            .unwrap()
            .write(Bytes::from_static(b"x"))
            .await
            .unwrap();
        io.delete(&missing).await.unwrap();
        io.delete_prefix(root.join("ns/t").unwrap().as_str()).await.unwrap();
        assert!(!io.exists(&loc).await.unwrap());
        assert!(!io.exists(&big).await.unwrap());
        assert!(io.exists(&sibling).await.unwrap());
        io.delete_stream(futures::stream::iter(vec![sibling.clone()]))
            .await
            .unwrap();
        assert!(!io.exists(&sibling).await.unwrap());
    }

    #[tokio::test]
    async fn local_filesystem_round_trip() {
        let (_dir, root, io) = local();
        round_trip(&root, &io).await;
    }

    #[tokio::test]
    async fn in_memory_round_trip() {
        let (root, io) = memory();
        round_trip(&root, &io).await;
    }

    #[tokio::test]
    async fn locations_outside_the_root_are_refused_by_name() {
        let (root, io) = memory();
        for bad in [
            "memory://other/root/x",
            "s3://wh/root/x",
            "memory://wh/rootless/x",
            "not a url",
        ] {
            let err = io.new_input(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
        assert!(io.new_input(root.join("a/b").unwrap().as_str()).is_ok());
    }

    #[test]
    fn object_paths_strip_scheme_and_bucket() {
        let s3 = Url::parse("s3://bucket/wh").unwrap();
        assert_eq!(object_path(&s3, "s3://bucket/wh/ns/t").unwrap().as_ref(), "wh/ns/t");
        let file = Url::parse("file:///tmp/wh/").unwrap();
        assert_eq!(
            object_path(&file, "file:///tmp/wh/a%20b/c").unwrap().as_ref(),
            "tmp/wh/a b/c"
        );
        assert_eq!(object_path(&file, "/tmp/wh/x").unwrap().as_ref(), "tmp/wh/x");
    }

    #[tokio::test]
    async fn deserialized_storage_refuses_with_a_clear_error() {
        let root = Url::parse("memory://wh/").unwrap();
        let storage: Box<dyn Storage> = Box::new(ObjectStoreStorage::new(Arc::new(InMemory::new()), root.clone()));
        let json = serde_json::to_string(&storage).unwrap();
        let back: Box<dyn Storage> = serde_json::from_str(&json).unwrap();
        let err = back.read("memory://wh/x").await.unwrap_err();
        assert!(err.to_string().contains("store handle missing"), "{err}");

        let factory: Box<dyn StorageFactory> =
            Box::new(ObjectStoreStorageFactory::new(Arc::new(InMemory::new()), root));
        let json = serde_json::to_string(&factory).unwrap();
        let back: Box<dyn StorageFactory> = serde_json::from_str(&json).unwrap();
        assert!(back.build(&StorageConfig::new()).is_err());
    }
}
