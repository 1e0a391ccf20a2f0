//! Embedded backend: a persistent Qdrant Edge shard under the data directory. Edge is
//! synchronous; every call runs on tokio's blocking pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use qdrant_edge::external::uuid::Uuid;
use qdrant_edge::{CountRequest, FieldIndexOperations};
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfigBuilder, EdgeShard, EdgeVectorParamsBuilder, Filter,
    NamedQuery, Payload, PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStructPersisted, QueryEnum, SearchParams, SearchRequest, UpdateOperation,
    VectorInternal, VectorPersisted, VectorStructPersisted, WithPayloadInterface,
};
use zhiku_core::{Chunk, SearchFilter};

use crate::vector::{
    chunk_from_payload, filter_json, owner_vector, payload_json, VectorPoint, KEYWORD_FIELDS,
    OWNER_FIELD, OWNER_POINT, VECTOR_NAME,
};
use crate::IndexError;

pub struct EdgeStore {
    shard: Arc<EdgeShard>,
    path: PathBuf,
}

fn verr(e: impl std::fmt::Display) -> IndexError {
    IndexError::Vector(e.to_string())
}

fn edge_filter(filter: &SearchFilter) -> Result<Filter, IndexError> {
    serde_json::from_value(filter_json(filter)).map_err(verr)
}

impl EdgeStore {
    /// Opens the shard in `dir`, creating it (with its payload indexes) if there is none.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(|e| verr(format!("{}: {e}", dir.display())))?;
        let exists = dir.join("edge_config.json").is_file();
        let busy = |e: qdrant_edge::OperationError| {
            let msg = e.to_string();
            if msg.contains("WouldBlock") {
                IndexError::Busy(dir.to_path_buf())
            } else {
                verr(format!("{}: {msg}", dir.display()))
            }
        };
        let shard = if exists {
            EdgeShard::load(dir, None).map_err(busy)?
        } else {
            let config = EdgeConfigBuilder::new()
                .vector(
                    VECTOR_NAME,
                    EdgeVectorParamsBuilder::new(zhiku_embed::DIMENSION, Distance::Cosine).build(),
                )
                .build();
            let shard = EdgeShard::new(dir, config).map_err(busy)?;
            let mut fields: Vec<(&str, PayloadSchemaType)> = KEYWORD_FIELDS
                .iter()
                .map(|f| (*f, PayloadSchemaType::Keyword))
                .collect();
            fields.push(("geo", PayloadSchemaType::Geo));
            for (name, ty) in fields {
                let op = UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                    CreateIndex {
                        field_name: name
                            .parse()
                            .map_err(|_| verr(format!("bad field name {name}")))?,
                        field_schema: Some(PayloadFieldSchema::FieldType(ty)),
                    },
                ));
                shard.update(op).map_err(verr)?;
            }
            shard
        };
        Ok(Self {
            shard: Arc::new(shard),
            path: dir.to_path_buf(),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> Result<T, IndexError> + Send + 'static,
    ) -> Result<T, IndexError> {
        let shard = Arc::clone(&self.shard);
        tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(|e| verr(format!("edge task failed: {e}")))?
    }

    pub async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), IndexError> {
        let mut list = Vec::with_capacity(points.len());
        for p in points {
            let id = Uuid::parse_str(&p.chunk.id).map_err(verr)?;
            let mut named = HashMap::new();
            named.insert(VECTOR_NAME.to_string(), VectorPersisted::Dense(p.vector));
            list.push(PointStructPersisted {
                id: PointId::Uuid(id),
                vector: VectorStructPersisted::Named(named),
                payload: Some(Payload(payload_json(&p.chunk)?)),
            });
        }
        self.blocking(move |shard| {
            let op = UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                PointInsertOperations::PointsList(list),
            ));
            shard.update(op).map_err(verr)
        })
        .await
    }

    pub async fn delete_docs(&self, doc_ids: &[String]) -> Result<(), IndexError> {
        let filter: Filter = serde_json::from_value(serde_json::json!({
            "must": [{"key": "doc_id", "match": {"any": doc_ids}}]
        }))
        .map_err(verr)?;
        self.blocking(move |shard| {
            shard
                .update(UpdateOperation::PointOperation(
                    PointOperations::DeletePointsByFilter(filter),
                ))
                .map_err(verr)
        })
        .await
    }

    pub async fn search(
        &self,
        vector: Vec<f32>,
        filter: &SearchFilter,
        k: usize,
        hnsw_ef: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        let request = SearchRequest {
            query: QueryEnum::Nearest(NamedQuery::new(VectorInternal::Dense(vector), VECTOR_NAME)),
            filter: Some(edge_filter(filter)?),
            params: Some(SearchParams {
                hnsw_ef: Some(hnsw_ef),
                ..Default::default()
            }),
            limit: k,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: None,
            score_threshold: None,
        };
        let points = self
            .blocking(move |shard| shard.search(request).map_err(verr))
            .await?;
        points
            .into_iter()
            .map(|p| {
                let payload = p.payload.map(|Payload(m)| serde_json::Value::Object(m));
                let chunk = chunk_from_payload(payload.unwrap_or_default())?;
                Ok((chunk, p.score))
            })
            .collect()
    }

    pub async fn count(&self) -> Result<u64, IndexError> {
        let not_owner: Filter = serde_json::from_value(serde_json::json!({
            "must_not": [{"has_id": [OWNER_POINT.to_string()]}]
        }))
        .map_err(verr)?;
        self.blocking(|shard| {
            let n = shard
                .count(CountRequest {
                    filter: Some(not_owner),
                    exact: true,
                })
                .map_err(verr)?;
            Ok(n as u64)
        })
        .await
    }

    /// The data directory id the shard is marked with, if any.
    pub async fn owner(&self) -> Result<Option<String>, IndexError> {
        let records = self
            .blocking(|shard| {
                shard
                    .retrieve(
                        &[PointId::Uuid(OWNER_POINT)],
                        Some(WithPayloadInterface::Bool(true)),
                        None,
                    )
                    .map_err(verr)
            })
            .await?;
        Ok(records
            .into_iter()
            .filter_map(|r| r.payload)
            .find_map(|Payload(m)| m.get(OWNER_FIELD)?.as_str().map(str::to_string)))
    }

    pub async fn set_owner(&self, owner: &str) -> Result<(), IndexError> {
        let mut named = HashMap::new();
        named.insert(
            VECTOR_NAME.to_string(),
            VectorPersisted::Dense(owner_vector()),
        );
        let mut payload = serde_json::Map::new();
        payload.insert(OWNER_FIELD.into(), owner.into());
        let point = PointStructPersisted {
            id: PointId::Uuid(OWNER_POINT),
            vector: VectorStructPersisted::Named(named),
            payload: Some(Payload(payload)),
        };
        self.blocking(move |shard| {
            let op = UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                PointInsertOperations::PointsList(vec![point]),
            ));
            shard.update(op).map_err(verr)
        })
        .await
    }

    /// HNSW-indexed vectors (0 until an optimisation builds the index).
    pub fn indexed_vectors(&self) -> usize {
        self.shard.info().indexed_vectors_count
    }

    pub async fn flush(&self) -> Result<(), IndexError> {
        self.blocking(|shard| {
            shard.flush();
            Ok(())
        })
        .await
    }

    pub async fn optimize(&self) -> Result<(), IndexError> {
        self.blocking(|shard| shard.optimize().map(|_| ()).map_err(verr))
            .await
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
