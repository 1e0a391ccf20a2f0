//! Embedded backend: a persistent Qdrant Edge shard under the data directory. Edge is
//! synchronous; every call runs on tokio's blocking pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use qdrant_edge::external::uuid::Uuid;
use qdrant_edge::{CountRequest, FacetRequest, FacetValue, FieldIndexOperations, Modifier};
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfigBuilder, EdgeShard, EdgeSparseVectorParamsBuilder,
    EdgeVectorParamsBuilder, Filter, NamedQuery, Payload, PayloadFieldSchema, PayloadSchemaType,
    PointId, PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, ScoredPoint,
    ScrollRequest, SearchParams, SearchRequest, SparseVector, UpdateOperation, VectorInternal,
    VectorPersisted, VectorStructPersisted, WithPayloadInterface, WithVector,
};
use zhiku_core::{Chunk, SearchFilter};

use crate::sparse::{SparseTerms, SPARSE_NAME};
use crate::vector::{
    chunk_from_payload, filter_json, owner_vector, payload_json, VectorPoint, FACET_LIMIT,
    KEYWORD_FIELDS, OWNER_FIELD, OWNER_POINT, VECTOR_NAME,
};
use crate::IndexError;

/// Points per scroll page.
const SCROLL_PAGE: usize = 1_000;

pub struct EdgeStore {
    shard: Arc<EdgeShard>,
    path: PathBuf,
    /// Made with the sparse keyword vector (shards made before it existed are not).
    sparse: bool,
}

fn sparse_vector(terms: SparseTerms) -> Result<SparseVector, IndexError> {
    SparseVector::new(terms.indices, terms.values).map_err(verr)
}

fn chunks_of_points(points: Vec<ScoredPoint>) -> Result<Vec<(Chunk, f32)>, IndexError> {
    points
        .into_iter()
        .map(|p| {
            let payload = p.payload.map(|Payload(m)| serde_json::Value::Object(m));
            let chunk = chunk_from_payload(payload.unwrap_or_default())?;
            Ok((chunk, p.score))
        })
        .collect()
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
                .sparse_vector(
                    SPARSE_NAME,
                    EdgeSparseVectorParamsBuilder::new()
                        .modifier(Modifier::Idf)
                        .build(),
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
        let sparse = shard.config().sparse_vectors.contains_key(SPARSE_NAME);
        Ok(Self {
            shard: Arc::new(shard),
            path: dir.to_path_buf(),
            sparse,
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

    pub fn has_sparse(&self) -> bool {
        self.sparse
    }

    pub async fn upsert(&self, points: Vec<(VectorPoint, SparseTerms)>) -> Result<(), IndexError> {
        let mut list = Vec::with_capacity(points.len());
        for (p, terms) in points {
            let id = Uuid::parse_str(&p.chunk.id).map_err(verr)?;
            let mut named = HashMap::new();
            named.insert(VECTOR_NAME.to_string(), VectorPersisted::Dense(p.vector));
            // Qdrant refuses an empty sparse vector's search, not its storage; skip it anyway.
            if self.sparse && !terms.is_empty() {
                named.insert(
                    SPARSE_NAME.to_string(),
                    VectorPersisted::Sparse(sparse_vector(terms)?),
                );
            }
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
        let query = NamedQuery::new(VectorInternal::Dense(vector), VECTOR_NAME);
        let params = SearchParams {
            hnsw_ef: Some(hnsw_ef),
            ..Default::default()
        };
        self.nearest(query, Some(params), filter, k).await
    }

    /// Top-`k` chunks by the sparse keyword vector (BM25 with Qdrant's idf).
    pub async fn keyword_search(
        &self,
        terms: SparseTerms,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        let query = NamedQuery::new(VectorInternal::Sparse(sparse_vector(terms)?), SPARSE_NAME);
        self.nearest(query, None, filter, k).await
    }

    async fn nearest(
        &self,
        query: NamedQuery<VectorInternal>,
        params: Option<SearchParams>,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        let request = SearchRequest {
            query: QueryEnum::Nearest(query),
            filter: Some(edge_filter(filter)?),
            params,
            limit: k,
            offset: 0,
            with_payload: Some(WithPayloadInterface::Bool(true)),
            with_vector: None,
            score_threshold: None,
        };
        let points = self
            .blocking(move |shard| shard.search(request).map_err(verr))
            .await?;
        chunks_of_points(points)
    }

    /// Every chunk of one document that the filter lets through (in no particular order).
    pub async fn chunks_of(
        &self,
        doc_id: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<Chunk>, IndexError> {
        let mut json = filter_json(filter);
        let Some(must) = json.get_mut("must").and_then(|m| m.as_array_mut()) else {
            return Err(verr("a search filter without conditions"));
        };
        must.push(serde_json::json!({"key": "doc_id", "match": {"any": [doc_id]}}));
        let filter: Filter = serde_json::from_value(json).map_err(verr)?;
        let mut chunks = Vec::new();
        let mut offset = None;
        loop {
            let request = ScrollRequest {
                offset,
                limit: Some(SCROLL_PAGE),
                filter: Some(filter.clone()),
                with_payload: Some(WithPayloadInterface::Bool(true)),
                with_vector: WithVector::Bool(false),
                order_by: None,
            };
            let (records, next) = self
                .blocking(move |shard| shard.scroll(request).map_err(verr))
                .await?;
            for r in records {
                let payload = r.payload.map(|Payload(m)| serde_json::Value::Object(m));
                chunks.push(chunk_from_payload(payload.unwrap_or_default())?);
            }
            match next {
                Some(n) => offset = Some(n),
                None => return Ok(chunks),
            }
        }
    }

    /// How many chunks the filter lets through carry each value of the keyword field `key`.
    pub async fn facet(
        &self,
        key: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<(String, usize)>, IndexError> {
        let request = FacetRequest {
            key: key
                .parse()
                .map_err(|_| verr(format!("bad field name {key}")))?,
            limit: FACET_LIMIT,
            filter: Some(edge_filter(filter)?),
            exact: true,
        };
        let response = self
            .blocking(move |shard| shard.facet(request).map_err(verr))
            .await?;
        Ok(response
            .hits
            .into_iter()
            .filter_map(|h| match h.value {
                FacetValue::Keyword(v) => Some((v, h.count)),
                _ => None,
            })
            .collect())
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

    /// Dense vectors in an HNSW index (0 until an optimisation builds one). Edge reports
    /// every stored sparse vector as indexed too, so those are taken off.
    pub fn indexed_vectors(&self) -> Result<usize, IndexError> {
        let all = self.shard.info().indexed_vectors_count;
        if !self.sparse {
            return Ok(all);
        }
        let with_sparse: Filter =
            serde_json::from_value(serde_json::json!({"must": [{"has_vector": SPARSE_NAME}]}))
                .map_err(verr)?;
        let sparse = self
            .shard
            .count(CountRequest {
                filter: Some(with_sparse),
                exact: true,
            })
            .map_err(verr)?;
        Ok(all.saturating_sub(sparse))
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
