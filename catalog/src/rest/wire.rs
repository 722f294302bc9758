//! The Iceberg REST catalog's request and response bodies, as the OpenAPI
//! spec (`open-api/rest-catalog-open-api.yaml`) names them, shared by the
//! client and the server so both speak exactly one dialect.
//!
//! Table metadata, schemas, partition specs, sort orders, requirements and
//! updates are iceberg's own types: their serde form *is* the spec's. Fields
//! the spec lets a server leave out or send as `null` default to empty here,
//! so a terse server is not an error.

use std::collections::HashMap;

use iceberg::spec::{Schema, SortOrder, TableMetadata, UnboundPartitionSpec};
use iceberg::{NamespaceIdent, TableIdent, TableRequirement, TableUpdate};
use serde::{Deserialize, Deserializer, Serialize};

/// `type` values of the spec's error model (Java's exception names, which
/// every server and client in the ecosystem keys on).
pub mod error_type {
    pub const NO_SUCH_NAMESPACE: &str = "NoSuchNamespaceException";
    pub const NO_SUCH_TABLE: &str = "NoSuchTableException";
    pub const ALREADY_EXISTS: &str = "AlreadyExistsException";
    pub const NAMESPACE_NOT_EMPTY: &str = "NamespaceNotEmptyException";
    pub const COMMIT_FAILED: &str = "CommitFailedException";
    pub const BAD_REQUEST: &str = "BadRequestException";
    pub const NOT_AUTHORIZED: &str = "NotAuthorizedException";
    pub const UNSUPPORTED: &str = "UnsupportedOperationException";
    pub const UNPROCESSABLE: &str = "UnprocessableEntityException";
    pub const NOT_FOUND: &str = "NotFoundException";
    pub const INTERNAL: &str = "InternalServerError";
}

/// `null` reads as the type's default (the spec marks many maps nullable).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `GET /v1/config`: `defaults` sit under the client's own properties,
/// `overrides` over them.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CatalogConfig {
    #[serde(default, deserialize_with = "null_as_default")]
    pub defaults: HashMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub overrides: HashMap<String, String>,
    /// `"METHOD /v1/{prefix}/..."` for every endpoint the server offers;
    /// absent from servers older than the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<String>>,
}

/// Every error response: `{"error": {...}}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorModel,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorModel {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Vec<String>>,
}

/// OAuth2 token response (RFC 6749 §5.1, snake_case as OAuth has it).
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<String>,
}

/// OAuth2 error response (RFC 6749 §5.2): the token endpoint's error body,
/// which is not the spec's `ErrorResponse`.
#[derive(Debug, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateNamespaceRequest {
    pub namespace: NamespaceIdent,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: HashMap<String, String>,
}

/// `CreateNamespaceResponse` and `GetNamespaceResponse`, which agree.
#[derive(Debug, Serialize, Deserialize)]
pub struct NamespaceResponse {
    pub namespace: NamespaceIdent,
    /// `None` when the server stores no properties (the spec allows it).
    #[serde(default)]
    pub properties: Option<HashMap<String, String>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListNamespacesResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespaces: Vec<NamespaceIdent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UpdateNamespacePropertiesRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    pub removals: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub updates: HashMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UpdateNamespacePropertiesResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub updated: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub removed: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub missing: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListTablesResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub identifiers: Vec<TableIdent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CreateTableRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub schema: Schema,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_spec: Option<UnboundPartitionSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_order: Option<SortOrder>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub stage_create: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: HashMap<String, String>,
}

/// `LoadTableResult`: what create, load and register return.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LoadTableResult {
    /// Absent only for staged creates, which this crate does not make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_location: Option<String>,
    pub metadata: TableMetadata,
    /// Per-table settings (FileIO credentials, ...). Tables of a
    /// [`super::RestCatalog`] use its own object store and ignore them.
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: HashMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CommitTableRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<TableIdent>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub requirements: Vec<TableRequirement>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub updates: Vec<TableUpdate>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CommitTableResponse {
    pub metadata_location: String,
    pub metadata: TableMetadata,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RenameTableRequest {
    pub source: TableIdent,
    pub destination: TableIdent,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RegisterTableRequest {
    pub name: String,
    pub metadata_location: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub overwrite: bool,
}
