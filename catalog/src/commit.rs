//! [`CommitCatalog`]: commit a table change given as raw Iceberg
//! requirements and updates — the shape of the REST catalog's
//! `CommitTableRequest`.
//!
//! iceberg 0.10 builds a `TableCommit` only inside its own `Transaction`,
//! and the only snapshot action a `Transaction` offers is a fast append.
//! Copy-on-write deletes need a snapshot that *removes* data files (see
//! [`crate::watermark`](mod@crate::watermark)), which thermocline therefore produces itself and
//! commits through this trait. Every catalog thermocline writes through
//! implements it; a read-only consumer can keep using plain [`Catalog`].

use async_trait::async_trait;
use iceberg::spec::TableMetadata;
use iceberg::table::Table;
use iceberg::{Catalog, TableIdent, TableRequirement, TableUpdate};

use crate::error::{Error, ErrorKind, Result};

/// A [`Catalog`] that commits arbitrary requirements and updates.
///
/// # What an implementation must guarantee
///
/// The same as `Catalog::update_table`, which the watermark rule rests on
/// (see [`crate::watermark`](mod@crate::watermark)):
/// 1. **Requirements are checked against the metadata the updates are
///    applied to**, and the new metadata becomes current only if the table's
///    metadata pointer still names that metadata when it is swapped
///    (compare-and-swap). A failed requirement or a lost swap is an error of
///    kind [`iceberg::ErrorKind::CatalogCommitConflicts`] and changes
///    nothing.
/// 2. **Atomic visibility**: all updates become current at once or none do.
/// 3. **Linearizable loads**: `load_table` after a successful commit returns
///    that commit or a later one.
/// 4. Snapshot summary properties are stored and returned unchanged.
///
/// Updates are applied in order, exactly as `TableUpdate::apply` defines
/// them; an update the metadata builder rejects (e.g. a snapshot ref naming
/// an unknown snapshot) fails the commit without changing the table.
#[async_trait]
pub trait CommitCatalog: Catalog {
    /// Commits `updates` to `ident` if every one of `requirements` holds,
    /// returning the table as of the new metadata.
    async fn commit_table(
        &self,
        ident: &TableIdent,
        requirements: Vec<TableRequirement>,
        updates: Vec<TableUpdate>,
    ) -> iceberg::Result<Table>;
}

/// The metadata a commit of `requirements` and `updates` makes of
/// `current` (read from `current_location`), for catalogs that apply
/// commits themselves. A failed requirement is a retryable
/// [`ErrorKind::CommitConflict`] naming the requirement (checked here
/// rather than left to `TableCommit::apply` so the conflict can say which).
pub(crate) fn apply_commit(
    current: &TableMetadata,
    current_location: &str,
    requirements: &[TableRequirement],
    updates: Vec<TableUpdate>,
) -> Result<TableMetadata> {
    for requirement in requirements {
        if let Err(e) = requirement.check(Some(current)) {
            // Iceberg marks requirement failures retryable: re-applying the
            // change on fresh metadata may succeed.
            return Err(Error::new(ErrorKind::CommitConflict, "commit requirement failed")
                .with_retryable(true)
                .with_context("requirement", format!("{requirement:?}"))
                .with_source(e));
        }
    }
    let mut builder = current.clone().into_builder(Some(current_location.to_string()));
    for update in updates {
        builder = update.apply(builder)?;
    }
    Ok(builder.build()?.metadata)
}
