//! Where a warehouse's data lives: a local folder (the default), S3 or any
//! S3-compatible endpoint (MinIO, moto, Ceph), or Cloudflare R2.
//!
//! Locations are URLs:
//! - `file:///abs/folder` or a plain path;
//! - `s3://bucket/prefix`: credentials, region and endpoint from the usual
//!   AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`,
//!   and web-identity/container credentials), overridden by [`S3Config`];
//! - `r2://bucket/prefix`: R2's S3 API at
//!   `https://<account>.r2.cloudflarestorage.com`, the account from
//!   [`StorageConfig::r2_account_id`] (or `R2_ACCOUNT_ID`). Iceberg metadata
//!   records these objects as `s3://bucket/...`, the name every other
//!   engine (pyiceberg, DuckDB, Spark) reads them by.

use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreUrl;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use url::Url;

use crate::error::{Error, ErrorKind, Result};

/// Settings for S3 and S3-compatible stores; each one set here wins over
/// the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// e.g. `http://127.0.0.1:9000` for a local server.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Plain HTTP endpoints are refused unless allowed.
    pub allow_http: Option<bool>,
}

/// How to reach object stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConfig {
    pub s3: S3Config,
    /// The Cloudflare account of `r2://` locations.
    pub r2_account_id: Option<String>,
    /// An explicit R2 endpoint (overrides the one made from the account).
    pub r2_endpoint: Option<String>,
}

impl StorageConfig {
    /// The settings from `THERMOCLINE_S3_*` and `R2_*` variables; the AWS
    /// SDK's own variables are read when a store is built.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            s3: S3Config {
                endpoint: var("THERMOCLINE_S3_ENDPOINT"),
                region: var("THERMOCLINE_S3_REGION"),
                access_key_id: var("THERMOCLINE_S3_ACCESS_KEY_ID"),
                secret_access_key: var("THERMOCLINE_S3_SECRET_ACCESS_KEY"),
                session_token: None,
                allow_http: var("THERMOCLINE_S3_ALLOW_HTTP").map(|v| v == "true" || v == "1"),
            },
            r2_account_id: var("THERMOCLINE_R2_ACCOUNT_ID").or_else(|| var("R2_ACCOUNT_ID")),
            r2_endpoint: var("THERMOCLINE_R2_ENDPOINT"),
        }
    }
}

/// An opened data location.
#[derive(Debug, Clone)]
pub struct DataLocation {
    /// The location as Iceberg metadata records it (`file:///...` or
    /// `s3://bucket/prefix`), without a trailing slash.
    pub url: Url,
    /// The store, scoped to the bucket (or the whole filesystem for files).
    pub store: Arc<dyn ObjectStore>,
    /// DataFusion's name for the store (`s3://bucket/`, `file:///`).
    pub store_url: ObjectStoreUrl,
}

/// Open the object store behind `location` (see the module docs).
pub fn open(location: &str, config: &StorageConfig) -> Result<DataLocation> {
    let bad = |why: &str| {
        Error::new(ErrorKind::Config, format!("bad data location: {why}")).with_context("location", location)
    };
    if !location.contains("://") {
        let path = std::path::absolute(location).map_err(|e| bad("cannot resolve the path").with_source(e))?;
        let url = Url::from_directory_path(&path).map_err(|_| bad("not an absolute path"))?;
        return Ok(local(url));
    }
    let url = Url::parse(location).map_err(|e| bad("not a URL").with_source(e))?;
    match url.scheme() {
        "file" => Ok(local(url)),
        "s3" | "s3a" => s3(&url, None, config),
        "r2" => {
            let endpoint = match (&config.r2_endpoint, &config.r2_account_id) {
                (Some(endpoint), _) => endpoint.clone(),
                (None, Some(account)) => format!("https://{account}.r2.cloudflarestorage.com"),
                (None, None) => {
                    return Err(bad(
                        "r2:// needs the Cloudflare account: set R2_ACCOUNT_ID (or THERMOCLINE_R2_ENDPOINT)",
                    ));
                }
            };
            s3(&url, Some(endpoint), config)
        }
        other => Err(bad(&format!(
            "{other}:// is not supported: use a folder, file://, s3:// or r2://"
        ))),
    }
}

fn local(url: Url) -> DataLocation {
    DataLocation {
        url: trimmed(url),
        store: Arc::new(object_store::local::LocalFileSystem::new()),
        store_url: ObjectStoreUrl::local_filesystem(),
    }
}

/// An S3 store for `url`'s bucket; `r2_endpoint` makes it R2's.
fn s3(url: &Url, r2_endpoint: Option<String>, config: &StorageConfig) -> Result<DataLocation> {
    let bucket = url
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::new(ErrorKind::Config, "the location names no bucket").with_context("location", url))?
        .to_string();
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
    // The AWS SDK's name for the endpoint variable; object_store reads
    // AWS_ENDPOINT only.
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL")
        && !endpoint.is_empty()
    {
        builder = builder.with_endpoint(endpoint);
    }
    let s3 = &config.s3;
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(key) = &s3.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = &s3.session_token {
        builder = builder.with_token(token);
    }
    if let Some(allow) = s3.allow_http {
        builder = builder.with_allow_http(allow);
    }
    if let Some(endpoint) = r2_endpoint {
        // R2: one region, "auto"; path-style requests.
        builder = builder.with_endpoint(endpoint).with_region("auto");
    }
    let store = builder.build().map_err(|e| {
        Error::new(ErrorKind::Config, "cannot configure the S3 store")
            .with_context("location", url)
            .with_source(e)
    })?;
    let store_url = ObjectStoreUrl::parse(format!("s3://{bucket}"))
        .map_err(|e| Error::new(ErrorKind::Config, format!("bad bucket name: {e}")).with_context("location", url))?;
    let mut recorded = url.clone();
    if recorded.scheme() != "s3" {
        recorded = Url::parse(&format!("s3://{bucket}{}", url.path())).map_err(|e| {
            Error::new(ErrorKind::Config, "bad location")
                .with_context("location", url)
                .with_source(e)
        })?;
    }
    Ok(DataLocation {
        url: trimmed(recorded),
        store: Arc::new(store),
        store_url,
    })
}

/// Without a trailing slash: table locations are `{location}/{ns}/{table}`.
fn trimmed(url: Url) -> Url {
    let text = url.as_str().trim_end_matches('/').to_string();
    Url::parse(&text).unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r2_is_s3_with_the_account_endpoint() -> Result<()> {
        let config = StorageConfig {
            r2_account_id: Some("abc123".into()),
            s3: S3Config {
                access_key_id: Some("k".into()),
                secret_access_key: Some("s".into()),
                ..S3Config::default()
            },
            ..StorageConfig::default()
        };
        let location = open("r2://sales/lake/", &config)?;
        assert_eq!(location.url.as_str(), "s3://sales/lake");
        assert_eq!(location.store_url.as_str(), "s3://sales/");
        assert!(location.store.to_string().contains("sales"), "{}", location.store);
        Ok(())
    }

    #[test]
    fn bad_locations_say_why() {
        let e = open("r2://sales/x", &StorageConfig::default()).expect_err("no account");
        assert!(e.message().contains("R2_ACCOUNT_ID"), "{e}");
        let e = open("gs://bucket/x", &StorageConfig::default()).expect_err("gcs");
        assert!(e.message().contains("gs:// is not supported"), "{e}");
        let e = open("s3:///x", &StorageConfig::default()).expect_err("no bucket");
        assert!(e.message().contains("no bucket"), "{e}");
    }

    #[test]
    fn folders_are_file_urls() -> Result<()> {
        let location = open("/tmp/wh/data", &StorageConfig::default())?;
        assert_eq!(location.url.as_str(), "file:///tmp/wh/data");
        Ok(())
    }
}
