//! The shard server: the Flight service a process hosting shards runs
//! (`thermocline serve --flight-listen ADDR --host-shards 0-49`). See the
//! module docs of [`super`] for the protocol.

use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo, HandshakeRequest, HandshakeResponse,
    PollInfo, PutResult, SchemaResult, Ticket,
};
use futures::{Stream, StreamExt, TryStreamExt};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status, Streaming};

use super::exec::FragmentCodec;
use super::{Append, Appended, CLOSE_CUT, CUT_EXPIRED, CutOpened, DROP_WAL, MAX_MESSAGE, OPEN_CUT, OpenCut};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{TableName, WalOp};
use crate::session::Session;
use crate::table::TieredTable;
use crate::transaction::TransactionState;
use crate::warehouse::WarehouseInner;

/// A cut unused this long is dropped (a coordinator that planned a query
/// and never ran it, or went away).
const CUT_TTL: Duration = Duration::from_secs(600);

type BoxStream<T> = Pin<Box<dyn Stream<Item = std::result::Result<T, Status>> + Send + 'static>>;

/// An opened cut: the tail's rows, kept until closed or expired.
struct OpenTail {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    used: Instant,
}

/// Serves the shards this process hosts.
pub struct ShardService {
    warehouse: Arc<WarehouseInner>,
    hosted: BTreeSet<String>,
    /// Functions and settings fragments are decoded and run with.
    session: Session,
    cuts: Mutex<HashMap<u64, OpenTail>>,
    next_cut: AtomicU64,
}

impl ShardService {
    pub(crate) fn new(warehouse: Arc<WarehouseInner>, hosted: BTreeSet<String>) -> Self {
        let session = Session::new(warehouse.clone());
        Self {
            warehouse,
            hosted,
            session,
            cuts: Mutex::new(HashMap::new()),
            // Ids from different runs of the server differ, so a restarted
            // server never mistakes an old ticket for one of its own cuts.
            next_cut: AtomicU64::new(rand::random::<u64>() >> 16),
        }
    }

    /// Refuse to serve off loopback without the warehouse's shard token.
    pub fn check_listen(&self, addr: std::net::SocketAddr) -> Result<()> {
        if self.warehouse.config.shard_token.is_none() && !addr.ip().is_loopback() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the shard server at {addr} needs a token (THERMOCLINE_SHARD_TOKEN) off loopback"),
            ));
        }
        Ok(())
    }

    /// Serve on `listener` until `shutdown` completes (see
    /// [`Self::check_listen`]); calls without the token are refused.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<()> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Config, format!("shard server address: {e}")))?;
        self.check_listen(addr)?;
        let check = super::CheckToken::new(self.warehouse.config.shard_token.as_deref());
        let service = FlightServiceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let service = tonic::service::interceptor::InterceptedService::new(service, check);
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), shutdown)
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("shard server stopped: {e}")))
    }

    fn check_hosted(&self, shard: &str) -> Result<()> {
        if self.hosted.contains(shard) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::NotFound,
            format!("shard \"{shard}\" is not hosted by this server"),
        ))
    }

    async fn table(&self, namespace: &str, table: &str) -> Result<TieredTable> {
        let name = TableName::new(namespace, table);
        let ident = iceberg::TableIdent::from_strs([namespace, table])?;
        let loaded = self.warehouse.load_table(&ident).await?;
        TieredTable::try_new(name, loaded.metadata(), self.warehouse.clone(), TransactionState::new())
    }

    async fn open_cut(&self, request: OpenCut) -> Result<CutOpened> {
        self.check_hosted(&request.shard)?;
        let table = self.table(&request.namespace, &request.table).await?;
        let tail = table.shard_tail(&request.shard, request.watermark, &request.columns)?;
        let cut = self.next_cut.fetch_add(1, Ordering::Relaxed);
        let rows = tail.batches.iter().map(|b| b.num_rows()).sum();
        let mut cuts = self.cuts.lock().unwrap_or_else(|p| p.into_inner());
        cuts.retain(|_, c| c.used.elapsed() < CUT_TTL);
        cuts.insert(
            cut,
            OpenTail {
                schema: tail.schema,
                batches: tail.batches,
                used: Instant::now(),
            },
        );
        Ok(CutOpened {
            cut,
            entries: tail.entries,
            rows,
            deleted: tail.deleted,
        })
    }

    fn close_cut(&self, cut: u64) {
        self.cuts.lock().unwrap_or_else(|p| p.into_inner()).remove(&cut);
    }

    /// Append rows sent by a coordinator, in one commit under the shard's
    /// write lock.
    async fn append(&self, request: Append, batches: Vec<RecordBatch>) -> Result<Appended> {
        self.check_hosted(&request.shard)?;
        let table = self.table(&request.namespace, &request.table).await?;
        let schema = table.user_schema().clone();
        let mut rows = Vec::with_capacity(batches.len());
        for batch in &batches {
            let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            rows.push(
                RecordBatch::try_new_with_options(schema.clone(), batch.columns().to_vec(), &options).map_err(|e| {
                    Error::new(ErrorKind::Type, format!("rows do not match the table's columns: {e}"))
                        .with_context("table", table.name())
                })?,
            );
        }
        let batch = arrow::compute::concat_batches(&schema, &rows)?;
        if batch.num_rows() == 0 {
            return Ok(Appended { first_lsn: 0, rows: 0 });
        }
        // Rows the coordinator routed elsewhere would be lost to reads.
        if let Some(wrong) = table.shard_rows(&batch)?.keys().find(|s| **s != request.shard) {
            return Err(Error::new(
                ErrorKind::Plan,
                format!("rows sent to shard \"{}\" belong to shard \"{wrong}\"", request.shard),
            )
            .with_context("table", table.name()));
        }
        let txn = TransactionState::new();
        txn.acquire_shards(&self.warehouse, std::slice::from_ref(&request.shard))
            .await?;
        let first_lsn = txn.stage(
            &request.shard,
            table.name(),
            WalOp::Insert,
            table.wal_batch(batch.clone())?,
        )?;
        txn.commit(&self.warehouse).await?;
        Ok(Appended {
            first_lsn,
            rows: batch.num_rows() as u64,
        })
    }
}

/// How an error crosses to the coordinator: the SQLSTATE leads the
/// message, so [`super::shard_error`] gives it back its kind.
fn status(error: Error) -> Status {
    let text = format!("SQLSTATE {}: {error}", error.kind().sqlstate());
    match error.kind() {
        ErrorKind::Catalog if error.message().starts_with(CUT_EXPIRED) => Status::failed_precondition(error.message()),
        ErrorKind::NotFound => Status::not_found(text),
        ErrorKind::Internal | ErrorKind::Storage | ErrorKind::HotStore => Status::internal(text),
        _ => Status::aborted(text),
    }
}

#[tonic::async_trait]
impl FlightService for ShardService {
    type HandshakeStream = BoxStream<HandshakeResponse>;
    type ListFlightsStream = BoxStream<FlightInfo>;
    type DoGetStream = BoxStream<FlightData>;
    type DoPutStream = BoxStream<PutResult>;
    type DoExchangeStream = BoxStream<FlightData>;
    type DoActionStream = BoxStream<arrow_flight::Result>;
    type ListActionsStream = BoxStream<ActionType>;

    async fn do_action(&self, request: Request<Action>) -> std::result::Result<Response<Self::DoActionStream>, Status> {
        let action = request.into_inner();
        match action.r#type.as_str() {
            OPEN_CUT => {
                let open: OpenCut = serde_json::from_slice(&action.body)
                    .map_err(|e| Status::invalid_argument(format!("bad open_cut request: {e}")))?;
                let opened = self.open_cut(open).await.map_err(status)?;
                let body = serde_json::to_vec(&opened).map_err(|e| Status::internal(e.to_string()))?;
                let result = arrow_flight::Result { body: body.into() };
                Ok(Response::new(futures::stream::iter([Ok(result)]).boxed()))
            }
            DROP_WAL => {
                let (namespace, table): (String, String) = serde_json::from_slice(&action.body)
                    .map_err(|e| Status::invalid_argument(format!("bad drop_wal request: {e}")))?;
                let table = TableName::new(namespace, table);
                let shards = self.warehouse.local_shards().map_err(status)?;
                for shard in shards {
                    shard.hot.drop_wal(&table).map_err(status)?;
                }
                Ok(Response::new(futures::stream::empty().boxed()))
            }
            CLOSE_CUT => {
                let id: [u8; 8] = action
                    .body
                    .as_ref()
                    .try_into()
                    .map_err(|_| Status::invalid_argument("bad cut id"))?;
                self.close_cut(u64::from_le_bytes(id));
                Ok(Response::new(futures::stream::empty().boxed()))
            }
            other => Err(Status::unimplemented(format!("unknown action {other:?}"))),
        }
    }

    async fn do_get(&self, request: Request<Ticket>) -> std::result::Result<Response<Self::DoGetStream>, Status> {
        let ticket = request.into_inner().ticket;
        let Some((id, fragment)) = ticket.split_first_chunk::<8>() else {
            return Err(Status::invalid_argument("bad ticket"));
        };
        let id = u64::from_le_bytes(*id);
        let (schema, batches) = {
            let mut cuts = self.cuts.lock().unwrap_or_else(|p| p.into_inner());
            let cut = cuts.get_mut(&id).ok_or_else(|| {
                Status::not_found(format!(
                    "cut {id} is not open on this server (expired, or the server restarted)"
                ))
            })?;
            cut.used = Instant::now();
            (cut.schema.clone(), cut.batches.clone())
        };
        let ctx = self.session.context().task_ctx();
        let plan = FragmentCodec::over(schema, batches)
            .decode(fragment, &ctx)
            .map_err(|e| Status::invalid_argument(format!("bad fragment: {e}")))?;
        let stream = datafusion::physical_plan::execute_stream(plan, ctx).map_err(|e| status(e.into()))?;
        let data = FlightDataEncoderBuilder::new()
            .build(stream.map_err(|e| FlightError::ExternalError(Box::new(e))))
            .map_err(Status::from);
        Ok(Response::new(data.boxed()))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> std::result::Result<Response<Self::DoPutStream>, Status> {
        let mut input = request.into_inner();
        let first = input
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("an append without data"))?;
        let descriptor = first
            .flight_descriptor
            .clone()
            .ok_or_else(|| Status::invalid_argument("an append without a descriptor"))?;
        let append: Append = serde_json::from_slice(&descriptor.cmd)
            .map_err(|e| Status::invalid_argument(format!("bad append request: {e}")))?;
        let data = futures::stream::once(async move { Ok(first) })
            .chain(input)
            .map_err(|s| FlightError::Tonic(Box::new(s)));
        let batches: Vec<RecordBatch> = arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(data)
            .try_collect()
            .await
            .map_err(Status::from)?;
        let appended = self.append(append, batches).await.map_err(status)?;
        let metadata = serde_json::to_vec(&appended).map_err(|e| Status::internal(e.to_string()))?;
        let result = PutResult {
            app_metadata: metadata.into(),
        };
        Ok(Response::new(futures::stream::iter([Ok(result)]).boxed()))
    }

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> std::result::Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented("handshake"))
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> std::result::Result<Response<Self::ListFlightsStream>, Status> {
        Err(Status::unimplemented("list_flights"))
    }

    async fn get_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> std::result::Result<Response<FlightInfo>, Status> {
        Err(Status::unimplemented("get_flight_info"))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> std::result::Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented("poll_flight_info"))
    }

    async fn get_schema(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> std::result::Result<Response<SchemaResult>, Status> {
        Err(Status::unimplemented("get_schema"))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> std::result::Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented("do_exchange"))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> std::result::Result<Response<Self::ListActionsStream>, Status> {
        let actions = [
            ActionType {
                r#type: OPEN_CUT.to_string(),
                description: "read a shard's hot rows above a watermark, for later fragments".to_string(),
            },
            ActionType {
                r#type: DROP_WAL.to_string(),
                description: "drop a table's WAL in every hosted shard".to_string(),
            },
            ActionType {
                r#type: CLOSE_CUT.to_string(),
                description: "drop an opened cut".to_string(),
            },
        ];
        Ok(Response::new(futures::stream::iter(actions.map(Ok)).boxed()))
    }
}
