//! How far a session's running statement has read the cold tier: files and
//! bytes planned by its scans, and what their Parquet readers have fetched
//! so far. The CLI draws it as a progress bar for long scans.
//!
//! Bytes are counted where the readers fetch them ([`CountingStore`] wraps
//! the scan's object store), so footers served from the metadata cache and
//! row groups pruned by statistics are never counted: a scan can finish
//! below 100%.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Counters of one session's scans; reset at the start of each statement.
#[derive(Debug, Default)]
pub struct ScanProgress {
    files_planned: AtomicU64,
    bytes_planned: AtomicU64,
    bytes_read: AtomicU64,
    files_read: Mutex<HashSet<Path>>,
}

/// A reading of [`ScanProgress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanCounts {
    pub files_planned: u64,
    /// Files a reader has fetched from (started or done).
    pub files_read: u64,
    pub bytes_planned: u64,
    pub bytes_read: u64,
}

impl ScanProgress {
    pub fn reset(&self) {
        self.files_planned.store(0, Ordering::Relaxed);
        self.bytes_planned.store(0, Ordering::Relaxed);
        self.bytes_read.store(0, Ordering::Relaxed);
        self.files_read.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// A scan planned `files` Parquet files of `bytes` bytes in all.
    pub fn planned(&self, files: u64, bytes: u64) {
        self.files_planned.fetch_add(files, Ordering::Relaxed);
        self.bytes_planned.fetch_add(bytes, Ordering::Relaxed);
    }

    fn read(&self, location: &Path, bytes: u64) {
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
        let mut files = self.files_read.lock().unwrap_or_else(|p| p.into_inner());
        if !files.contains(location) {
            files.insert(location.clone());
        }
    }

    pub fn counts(&self) -> ScanCounts {
        ScanCounts {
            files_planned: self.files_planned.load(Ordering::Relaxed),
            files_read: self.files_read.lock().unwrap_or_else(|p| p.into_inner()).len() as u64,
            bytes_planned: self.bytes_planned.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
        }
    }
}

/// An object store that counts what is read through it into a
/// [`ScanProgress`]; everything else passes straight through.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    progress: Arc<ScanProgress>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ObjectStore>, progress: Arc<ScanProgress>) -> Self {
        Self { inner, progress }
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let result = self.inner.get_opts(location, options).await?;
        if !result.range.is_empty() {
            self.progress.read(location, result.range.end - result.range.start);
        }
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let result = self.inner.get_ranges(location, ranges).await?;
        self.progress
            .read(location, result.iter().map(|b| b.len() as u64).sum());
        Ok(result)
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use object_store::ObjectStoreExt;

    use super::*;

    #[tokio::test]
    async fn reads_are_counted_by_file_and_byte() {
        let inner: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let progress = Arc::new(ScanProgress::default());
        let store = CountingStore::new(inner.clone(), progress.clone());
        let a = Path::from("a.parquet");
        let b = Path::from("b.parquet");
        store.put(&a, vec![0u8; 100].into()).await.unwrap();
        store.put(&b, vec![0u8; 50].into()).await.unwrap();
        progress.planned(2, 150);
        assert_eq!(progress.counts().bytes_read, 0, "writes are not reads");
        store.get_range(&a, 10..30).await.unwrap();
        store.get_ranges(&a, &[0..5, 90..100]).await.unwrap();
        store.get(&b).await.unwrap();
        let counts = progress.counts();
        assert_eq!(counts.bytes_read, 20 + 15 + 50);
        assert_eq!(counts.files_read, 2);
        assert_eq!((counts.files_planned, counts.bytes_planned), (2, 150));
        progress.reset();
        assert_eq!(progress.counts(), ScanCounts::default());
    }
}
