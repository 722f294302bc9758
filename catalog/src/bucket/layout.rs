//! Names to objects: where a namespace and a table live under the catalog
//! root (the layout of the [module docs](super)), and which names map onto
//! exactly one folder.

use iceberg::{NamespaceIdent, TableIdent};
use object_store::path::{Path, PathPart};
use url::Url;

use super::BucketCatalog;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::object_path;

/// The object whose existence makes a folder a namespace.
pub(super) const NAMESPACE_MARKER: &str = ".namespace.json";

/// A table's pointer folder, under its folder.
const METADATA_FOLDER: &str = "metadata";

/// The hint file of Iceberg's file-system tables (see `versions`).
const VERSION_HINT: &str = "version-hint.text";

/// Where a namespace lives.
#[derive(Debug)]
pub(super) struct NamespacePaths {
    /// Dotted, for messages.
    pub(super) name: String,
    pub(super) parts: Vec<String>,
    pub(super) folder: Path,
    pub(super) marker: Path,
}

/// Where a table lives.
#[derive(Debug)]
pub(super) struct TablePaths {
    pub(super) namespace: NamespacePaths,
    /// `ns.table`, for messages.
    pub(super) name: String,
    /// `{root}/{ns}/{table}`: the default table location.
    pub(super) location: String,
    /// The table's folder, where a namespace of the same name would put its
    /// marker.
    pub(super) folder: Path,
    /// `{location}/metadata`, as a URL and as an object path.
    pub(super) pointer_url: String,
    pub(super) pointer: Path,
}

impl TablePaths {
    pub(super) fn version_location(&self, version: u64) -> String {
        format!("{}/{}", self.pointer_url, version_file(version))
    }

    pub(super) fn version_path(&self, version: u64) -> Path {
        self.pointer.clone().join(version_file(version).as_str())
    }

    pub(super) fn hint_path(&self) -> Path {
        self.pointer.clone().join(VERSION_HINT)
    }
}

fn version_file(version: u64) -> String {
    format!("v{version}.metadata.json")
}

/// The version of a `v{N}.metadata.json` object (N ≥ 1, no sign, no leading
/// zero); `None` for anything else in the pointer folder (manifests, the
/// hint, gzipped `v{N}.gz.metadata.json`, other catalogs' names).
pub(super) fn version_of(path: &Path) -> Option<u64> {
    let digits = path.filename()?.strip_prefix('v')?.strip_suffix(".metadata.json")?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(Clone, Copy)]
pub(super) enum NameKind {
    NamespacePart,
    Table,
}

/// A name must be one folder, stored verbatim: not empty, not hidden (the
/// marker starts with a dot), and free of what object paths escape (`/`,
/// `%`, `#`, `?`, control characters, ...), so listings give it back as it
/// was. Namespace parts also must not contain the `.` separator.
pub(super) fn check_name(name: &str, kind: NameKind) -> Result<()> {
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

impl BucketCatalog {
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
    pub(super) fn location_of(&self, path: &Path) -> String {
        let mut url = self.root.clone();
        url.set_path(&format!("/{path}"));
        url.to_string()
    }

    pub(super) fn namespace_paths(&self, ns: &NamespaceIdent) -> Result<NamespacePaths> {
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

    pub(super) fn table_paths(&self, ident: &TableIdent) -> Result<TablePaths> {
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
}
