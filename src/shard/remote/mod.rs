//! Shards in other processes, over Arrow Flight.
//!
//! A *shard server* (`thermocline serve --flight-listen ADDR --host-shards
//! 0-49`) holds the hot tiers of some shards and compacts them into the
//! shared Iceberg tables. A *coordinator* (any process configured with
//! `--remote-shards 0-49=http://host:port,...`) plans queries over sharded
//! tables as usual, reading the cold tier itself and asking each remote
//! shard for its hot tail.
//!
//! # The remote cut
//! The coordinator loads snapshot `S` first, then asks each remote shard to
//! *open a cut* above `W(S, shard)` (action `open_cut`). The shard reads its
//! hot tier in one SQLite transaction and keeps the rows above the
//! watermark in memory under a cut id; it answers with the row count and
//! the row versions its tail deletes, which the coordinator hides from the
//! cold tier. If the shard has compacted past `W(S, shard)` since `S` was
//! loaded, the entries between are gone from its hot tier and it refuses
//! ([`CUT_EXPIRED`]); the coordinator reloads the snapshot (which now holds
//! those rows) and tries again. This is the local cut with its two reads in
//! the other order, which the refusal makes safe.
//!
//! # Plan fragments
//! Executing a scan sends each shard a *fragment* (`DoGet`): a DataFusion
//! physical plan, encoded with `datafusion-proto`, whose leaf is the cut
//! ([`exec::TailExec`]). By default the fragment is the bare tail (rows);
//! [`super::pushdown`] moves filters, projections, partial aggregates,
//! top-k sorts and limits into it, so shards send aggregates, not rows.
//!
//! # Writes
//! An INSERT's rows for a remote shard are sent with `DoPut` when the
//! statement commits; the shard appends them to its WAL in one SQLite
//! transaction under its write lock and acknowledges. Each shard's part is
//! atomic, as for local shards.
//!
//! # Who may call
//! A shard server given a token (`THERMOCLINE_SHARD_TOKEN`, the same on
//! every node) refuses calls without it (`authorization: Bearer <token>`);
//! without one it only listens on loopback.
//!
//! # Failures
//! Every call has a timeout (`--shard-timeout`). A shard that cannot be
//! reached, times out or fails gives an error naming it and its address
//! (SQLSTATE 08006). With `SET thermocline.partial_results = on`, a shard
//! that cannot open its cut is left out instead: the answer covers the
//! other shards, both tiers (the cold rows of a missing shard are dropped
//! too), and the session gets a warning naming the missing shards. A shard
//! that fails after its cut was opened always fails the query.

pub mod exec;
pub mod server;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{Action, FlightDescriptor, Ticket};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, Endpoint};

use crate::error::{Error, ErrorKind, Result};
use crate::hot::Lsn;

/// The action that opens a cut.
pub const OPEN_CUT: &str = "open_cut";
/// The action that drops a cut the coordinator no longer needs.
pub const CLOSE_CUT: &str = "close_cut";
/// The action that drops a table's WAL in every shard a server hosts.
pub const DROP_WAL: &str = "drop_wal";
/// How a shard says it compacted past the watermark it was asked for.
pub const CUT_EXPIRED: &str = "cut expired";

/// How long a coordinator waits to connect to a shard.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for [`crate::WarehouseConfig::shard_timeout`].
pub const DEFAULT_SHARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest message either side accepts (tonic's default is 4 MiB).
const MAX_MESSAGE: usize = 256 << 20;

/// `open_cut`: the rows of `table` in `shard` above `watermark`, with
/// `columns` (user columns by name, or `_lsn`/`_shard`/`_commit_ts`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenCut {
    pub namespace: String,
    pub table: String,
    pub shard: String,
    pub watermark: Lsn,
    pub columns: Vec<String>,
}

/// The answer to [`OpenCut`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CutOpened {
    /// Names the cut in later fragments.
    pub cut: u64,
    /// WAL entries read.
    pub entries: usize,
    /// Rows in the tail (deleted versions already left out).
    pub rows: usize,
    /// Row versions the tail deletes, by shard: hidden from the cold tier.
    pub deleted: Vec<(String, Vec<Lsn>)>,
}

/// `DoPut`'s descriptor: rows (user columns in table order) to append.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Append {
    pub namespace: String,
    pub table: String,
    pub shard: String,
}

/// The answer to [`Append`]: the lsns the rows got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Appended {
    pub first_lsn: Lsn,
    pub rows: u64,
}

/// Adds the shared token to every call a coordinator makes.
#[derive(Debug, Clone)]
pub struct AddToken(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl tonic::service::Interceptor for AddToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert("authorization", token.clone());
        }
        Ok(request)
    }
}

/// Refuses calls to a shard server that do not carry its token.
#[derive(Debug, Clone)]
pub struct CheckToken(Option<Vec<u8>>);

impl CheckToken {
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(|t| format!("Bearer {t}").into_bytes()))
    }
}

impl tonic::service::Interceptor for CheckToken {
    fn call(&mut self, request: tonic::Request<()>) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        // Every byte compared, whatever matches: no timing hint.
        let same =
            given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same {
            Ok(request)
        } else {
            Err(tonic::Status::unauthenticated(
                "a shard token is required (THERMOCLINE_SHARD_TOKEN)",
            ))
        }
    }
}

type Client = FlightServiceClient<tonic::service::interceptor::InterceptedService<Channel, AddToken>>;

/// The remote shards a coordinator knows, and a channel to each server.
#[derive(Debug)]
pub struct RemoteShards {
    /// Shard name → Flight URL of the server that hosts it.
    endpoints: BTreeMap<String, String>,
    timeout: Duration,
    token: AddToken,
    /// One channel per server (tonic multiplexes requests over it).
    channels: Mutex<HashMap<String, Channel>>,
}

impl RemoteShards {
    /// A token that is not valid header text is refused by the config
    /// check ([`crate::WarehouseConfig::validate`]) before this runs.
    pub fn new(endpoints: BTreeMap<String, String>, timeout: Duration, token: Option<&str>) -> Self {
        let token = token.and_then(|t| format!("Bearer {t}").parse().ok());
        Self {
            endpoints,
            timeout,
            token: AddToken(token),
            channels: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    pub fn contains(&self, shard: &str) -> bool {
        self.endpoints.contains_key(shard)
    }

    /// The Flight URL of the server hosting `shard`.
    pub fn endpoint(&self, shard: &str) -> Option<&str> {
        self.endpoints.get(shard).map(String::as_str)
    }

    fn client(&self, shard: &str) -> Result<Client> {
        let url = self
            .endpoint(shard)
            .ok_or_else(|| Error::internal(format!("shard {shard} is not remote")))?;
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = match channels.get(url) {
            Some(channel) => channel.clone(),
            None => {
                let channel = Endpoint::from_shared(url.to_string())
                    .map_err(|e| {
                        Error::new(ErrorKind::Config, format!("bad shard server address {url:?}: {e}"))
                            .with_context("shard", shard)
                    })?
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(self.timeout)
                    .connect_lazy();
                channels.insert(url.to_string(), channel.clone());
                channel
            }
        };
        Ok(FlightServiceClient::with_interceptor(channel, self.token.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE))
    }

    /// The error for a call to `shard` that failed with `status`.
    pub fn error(&self, shard: &str, status: &tonic::Status) -> Error {
        let url = self.endpoint(shard).unwrap_or("?");
        shard_error(shard, url, status)
    }

    /// `call` to `shard`, given at most the shard timeout; a failure or
    /// timeout is the error naming the shard and its server.
    async fn within<T>(
        &self,
        shard: &str,
        call: impl std::future::Future<Output = std::result::Result<T, tonic::Status>>,
    ) -> Result<T> {
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| tonic::Status::deadline_exceeded(format!("no answer within {:?}", self.timeout)))
            .and_then(|r| r)
            .map_err(|status| self.error(shard, &status))
    }

    /// Open `request`'s cut on its shard.
    pub async fn open_cut(&self, request: &OpenCut) -> Result<CutOpened> {
        let body = serde_json::to_vec(request).map_err(|e| Error::internal(format!("encoding open_cut: {e}")))?;
        let shard = request.shard.as_str();
        let mut client = self.client(shard)?;
        let call = async {
            let mut results = client.do_action(Action::new(OPEN_CUT, body)).await?.into_inner();
            results
                .message()
                .await?
                .ok_or_else(|| tonic::Status::internal("open_cut returned nothing"))
        };
        let result = self.within(shard, call).await?;
        serde_json::from_slice(&result.body).map_err(|e| {
            Error::new(ErrorKind::ShardUnavailable, format!("bad open_cut answer: {e}")).with_context("shard", shard)
        })
    }

    /// Drop `table`'s WAL on every server (DROP TABLE). Every server must
    /// answer: one that cannot keeps the table from being dropped.
    pub async fn drop_wal(&self, table: &crate::hot::TableName) -> Result<()> {
        let body = serde_json::to_vec(&(table.namespace.as_str(), table.name.as_str()))
            .map_err(|e| Error::internal(format!("encoding drop_wal: {e}")))?;
        // One shard per server names it.
        let mut servers: BTreeMap<&str, &str> = BTreeMap::new();
        for (shard, url) in &self.endpoints {
            servers.entry(url.as_str()).or_insert(shard.as_str());
        }
        for shard in servers.into_values() {
            let mut client = self.client(shard)?;
            let call = async {
                let mut results = client
                    .do_action(Action::new(DROP_WAL, body.clone()))
                    .await?
                    .into_inner();
                while results.message().await?.is_some() {}
                Ok::<_, tonic::Status>(())
            };
            self.within(shard, call).await?;
        }
        Ok(())
    }

    /// Drop a cut on its shard (best effort: cuts also expire by age).
    pub async fn close_cut(&self, shard: &str, cut: u64) {
        if let Ok(mut client) = self.client(shard) {
            let action = Action::new(CLOSE_CUT, cut.to_le_bytes().to_vec());
            let _ = tokio::time::timeout(self.timeout, client.do_action(action)).await;
        }
    }

    /// Run `fragment` over `cut` on `shard`: its batches, as they arrive.
    pub async fn execute(
        &self,
        shard: &str,
        cut: u64,
        fragment: Bytes,
    ) -> Result<impl futures::Stream<Item = std::result::Result<arrow_flight::FlightData, tonic::Status>> + use<>> {
        let mut ticket = Vec::with_capacity(8 + fragment.len());
        ticket.extend_from_slice(&cut.to_le_bytes());
        ticket.extend_from_slice(&fragment);
        let mut client = self.client(shard)?;
        let response = self.within(shard, client.do_get(Ticket::new(ticket))).await?;
        Ok(response.into_inner())
    }

    /// Append `batches` to `table`'s WAL in `shard`; returns what was
    /// acknowledged.
    pub async fn append(&self, request: &Append, batches: Vec<RecordBatch>) -> Result<Appended> {
        let shard = request.shard.as_str();
        let command = serde_json::to_vec(request).map_err(|e| Error::internal(format!("encoding append: {e}")))?;
        let data = FlightDataEncoderBuilder::new()
            .with_flight_descriptor(Some(FlightDescriptor::new_cmd(command)))
            .build(futures::stream::iter(batches.into_iter().map(Ok::<_, FlightError>)))
            .map(|r| r.map_err(|e| tonic::Status::internal(e.to_string())));
        // An error while encoding is sent to the server as the stream's end;
        // it refuses a short stream because the row count is in the command.
        let data = data.filter_map(|r| async move { r.ok() });
        let mut client = self.client(shard)?;
        let call = async {
            let mut results = client.do_put(data).await?.into_inner();
            results
                .message()
                .await?
                .ok_or_else(|| tonic::Status::internal("append returned nothing"))
        };
        let result = self.within(shard, call).await?;
        serde_json::from_slice(&result.app_metadata).map_err(|e| {
            Error::new(ErrorKind::ShardUnavailable, format!("bad append answer: {e}")).with_context("shard", shard)
        })
    }

    /// The record batches of a `DoGet` answer.
    pub fn decode(
        stream: impl futures::Stream<Item = std::result::Result<arrow_flight::FlightData, tonic::Status>> + Send + 'static,
    ) -> impl futures::Stream<Item = std::result::Result<(RecordBatch, usize), tonic::Status>> + Send + 'static {
        // Count the bytes of each message before decoding: what the shard
        // sent over the network.
        let counted = stream.map_err(|status| FlightError::Tonic(Box::new(status)));
        arrow_flight::decode::FlightDataDecoder::new(counted)
            .try_filter_map(|decoded| async move {
                let bytes = decoded.inner.data_body.len() + decoded.inner.data_header.len();
                Ok(match decoded.payload {
                    arrow_flight::decode::DecodedPayload::RecordBatch(batch) => Some((batch, bytes)),
                    _ => None,
                })
            })
            .map_err(|e| match e {
                FlightError::Tonic(status) => *status,
                other => tonic::Status::internal(other.to_string()),
            })
    }
}

/// The error for a call to `shard` at `url` that failed with `status`.
pub fn shard_error(shard: &str, url: &str, status: &tonic::Status) -> Error {
    let message = status.message();
    // An error the shard raised itself keeps its kind: its SQLSTATE leads
    // the message (see `server::status`).
    if let Some((code, text)) = message.strip_prefix("SQLSTATE ").and_then(|r| r.split_once(": "))
        && let Some(kind) = ErrorKind::from_sqlstate(code)
    {
        return Error::new(kind, format!("shard \"{shard}\": {text}"))
            .with_context("shard", shard)
            .with_context("server", url);
    }
    let (kind, what) = match status.code() {
        tonic::Code::FailedPrecondition if message.starts_with(CUT_EXPIRED) => {
            (ErrorKind::Catalog, "compacted past the cut")
        }
        tonic::Code::Unavailable => (ErrorKind::ShardUnavailable, "is unreachable"),
        tonic::Code::Unauthenticated => (ErrorKind::InsufficientPrivilege, "refused the shard token"),
        tonic::Code::DeadlineExceeded => (ErrorKind::ShardUnavailable, "did not answer in time"),
        tonic::Code::NotFound => (ErrorKind::NotFound, "refused"),
        tonic::Code::InvalidArgument => (ErrorKind::Plan, "refused"),
        _ => (ErrorKind::ShardUnavailable, "failed"),
    };
    let detail = message.lines().next().unwrap_or_default();
    Error::new(kind, format!("shard \"{shard}\" at {url} {what}: {detail}"))
        .with_context("shard", shard)
        .with_context("server", url)
}

/// Whether `error` is a shard's [`CUT_EXPIRED`] refusal.
pub fn is_cut_expired(error: &Error) -> bool {
    error.kind() == ErrorKind::Catalog && error.message().contains("compacted past the cut")
}

/// Parse a set of shards: `0-49`, `shard-3`, `7`, comma-separated.
pub fn parse_shard_set(text: &str) -> Result<BTreeSet<String>> {
    let mut shards = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || {
            Error::new(
                ErrorKind::Config,
                format!("bad shard list item {part:?}: expected N, N-M or shard-N"),
            )
        };
        let part = part.strip_prefix("shard-").unwrap_or(part);
        match part.split_once('-') {
            Some((from, to)) => {
                let from: u32 = from.trim().parse().map_err(|_| bad())?;
                let to: u32 = to.trim().parse().map_err(|_| bad())?;
                if from > to || to >= crate::shard::routing::MAX_SHARDS {
                    return Err(bad());
                }
                shards.extend((from..=to).map(crate::shard::shard_name));
            }
            None => {
                let n: u32 = part.parse().map_err(|_| bad())?;
                if n >= crate::shard::routing::MAX_SHARDS {
                    return Err(bad());
                }
                shards.insert(crate::shard::shard_name(n));
            }
        }
    }
    if shards.is_empty() {
        return Err(Error::new(ErrorKind::Config, "the shard list is empty"));
    }
    Ok(shards)
}

/// Parse where remote shards are: `0-49=http://10.0.0.1:7001;50-99=http://10.0.0.2:7001`
/// (`;` or whitespace between servers; each set as in [`parse_shard_set`]).
pub fn parse_shard_map(text: &str) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for item in text.split([';', ' ', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let (set, url) = item.split_once('=').ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("bad remote shard item {item:?}: expected SHARDS=URL, e.g. 0-49=http://127.0.0.1:7001"),
            )
        })?;
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("remote shard server {url:?}: expected an http:// or https:// URL"),
            ));
        }
        for shard in parse_shard_set(set)? {
            if let Some(previous) = map.insert(shard.clone(), url.to_string())
                && previous != url
            {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("shard {shard} is given two servers: {previous} and {url}"),
                ));
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_sets_and_maps_parse() {
        let set = parse_shard_set("0-2, shard-7,9").unwrap();
        assert_eq!(
            set.into_iter().collect::<Vec<_>>(),
            ["shard-0", "shard-1", "shard-2", "shard-7", "shard-9"]
        );
        assert!(parse_shard_set("3-1").is_err());
        assert!(parse_shard_set("x").is_err());
        assert!(parse_shard_set("").is_err());

        let map = parse_shard_map("0-1=http://a:1; 2=http://b:2").unwrap();
        assert_eq!(map["shard-0"], "http://a:1");
        assert_eq!(map["shard-2"], "http://b:2");
        let e = parse_shard_map("0-1=http://a:1;1=http://b:2").unwrap_err();
        assert!(e.message().contains("two servers"), "{e}");
        assert!(parse_shard_map("0=ftp://x").is_err());
        assert!(parse_shard_map("0").is_err());
    }
}
