//! Server backend: a Qdrant server or cluster through `qdrant-client` (gRPC).
//!
//! Stores exactly what the embedded backend stores: point id = chunk id (a UUID), one named
//! dense vector ([`VECTOR_NAME`]), payload = [`payload_json`]; and applies the same filter as
//! [`filter_json`](crate::vector::filter_json). Every write waits until it is applied, so reads
//! see it at once. All failures become [`IndexError::Vector`] saying what failed.

use std::collections::HashMap;
use std::time::Duration;

use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::{
    facet_value, Condition, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FacetCountsBuilder,
    FieldType, Filter, GeoPoint, GeoRadius, GetPointsBuilder, Modifier, NamedVectors, PointId,
    PointStruct, Query, QueryPointsBuilder, ScoredPoint, ScrollPointsBuilder, SearchParamsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Vector,
    VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use zhiku_core::{Chunk, QdrantConfig, SearchFilter};

use crate::sparse::{SparseTerms, SPARSE_NAME};
use crate::vector::{
    chunk_from_payload, owner_vector, payload_json, VectorPoint, KEYWORD_FIELDS, OWNER_FIELD,
    OWNER_POINT, VECTOR_NAME,
};
use crate::IndexError;

/// Points per upsert request.
const UPSERT_BATCH: usize = 256;
/// Points per scroll page.
const SCROLL_PAGE: u32 = 1_000;

/// How a new collection is laid out on a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionLayout {
    pub shard_number: u32,
    pub replication_factor: u32,
    pub write_consistency_factor: u32,
}

impl Default for CollectionLayout {
    fn default() -> Self {
        Self::from(&QdrantConfig::default())
    }
}

impl From<&QdrantConfig> for CollectionLayout {
    fn from(q: &QdrantConfig) -> Self {
        Self {
            shard_number: q.shard_number,
            replication_factor: q.replication_factor,
            write_consistency_factor: q.write_consistency_factor,
        }
    }
}

pub struct ServerStore {
    client: Qdrant,
    collection: String,
    /// The collection did not exist and this connection made it.
    created: bool,
    /// The collection has the sparse keyword vector (ones made before it existed do not).
    sparse: bool,
    /// The collection's layout as the server reports it.
    layout: CollectionLayout,
}

fn scored_chunks(points: Vec<ScoredPoint>) -> Result<Vec<(Chunk, f32)>, IndexError> {
    points
        .into_iter()
        .map(|p| {
            let payload = serde_json::Value::from(Payload::from(p.payload));
            Ok((chunk_from_payload(payload)?, p.score))
        })
        .collect()
}

fn verr(what: impl std::fmt::Display, e: impl std::fmt::Display) -> IndexError {
    IndexError::Vector(format!("qdrant server: {what}: {e}"))
}

/// A failed call to the server: `Unreachable` when the server could not be reached, did not
/// answer in time or shed the load, else a plain vector-store error.
fn call_err(what: impl std::fmt::Display, e: QdrantError) -> IndexError {
    use tonic::Code;
    let unreachable = match &e {
        QdrantError::ResourceExhaustedError { .. } => true,
        QdrantError::ResponseError { status } => match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => true,
            // qdrant-client's channel pool reports a refused connection as Internal
            // ("Failed to connect to …", channel_pool.rs).
            Code::Internal => status.message().starts_with("Failed to connect"),
            _ => false,
        },
        _ => false,
    };
    if unreachable {
        IndexError::Unreachable(format!("qdrant server: {what}: {e}"))
    } else {
        verr(what, e)
    }
}

/// The search filter in qdrant-client types; same conditions as `vector::filter_json`.
fn server_filter(filter: &SearchFilter) -> Filter {
    let levels: Vec<String> = filter
        .classification_levels()
        .iter()
        .map(|l| l.to_string())
        .collect();
    // Always pass lists: `Condition::matches` with a single String containing whitespace
    // would silently become a full-text match.
    let mut must = vec![Condition::matches("classification", levels)];
    if !filter.domains.is_empty() {
        must.push(Condition::matches("domain", filter.domains.clone()));
    }
    for group in filter.tag_groups() {
        must.push(Condition::matches("tags", group));
    }
    if let Some(g) = filter.geo {
        must.push(Condition::geo_radius(
            "geo",
            GeoRadius {
                center: Some(GeoPoint {
                    lat: g.lat,
                    lon: g.lon,
                }),
                radius: g.radius_m as f32,
            },
        ));
    }
    Filter::must(must)
}

impl ServerStore {
    /// Connects to `url` (gRPC, usually port 6334), logs the server version, and creates
    /// `collection` (laid out as `layout`) with its payload indexes if it does not exist yet.
    pub async fn connect(
        url: &str,
        collection: &str,
        api_key: Option<String>,
        layout: CollectionLayout,
    ) -> Result<Self, IndexError> {
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .timeout(Duration::from_secs(60))
            .skip_compatibility_check()
            .build()
            .map_err(|e| verr(format!("bad server url {url:?}"), e))?;
        let health = client.health_check().await.map_err(|e| {
            verr(
                format!("health check of {url} (is it the gRPC port, usually 6334?)"),
                e,
            )
        })?;
        tracing::info!(url, version = %health.version, collection, "connected to qdrant server");
        let mut store = Self {
            client,
            collection: collection.to_string(),
            created: false,
            sparse: false,
            layout,
        };
        store.created = store.ensure_collection(layout).await?;
        Ok(store)
    }

    pub fn has_sparse(&self) -> bool {
        self.sparse
    }

    /// The collection's shards, replicas and write consistency as the server reports them.
    pub fn layout(&self) -> CollectionLayout {
        self.layout
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Whether this connection created the collection.
    pub fn created(&self) -> bool {
        self.created
    }

    /// Creates the collection if needed (returning whether it did) and checks its shape.
    async fn ensure_collection(&mut self, layout: CollectionLayout) -> Result<bool, IndexError> {
        let name = &self.collection;
        let exists = self
            .client
            .collection_exists(name)
            .await
            .map_err(|e| verr(format!("checking collection {name}"), e))?;
        if !exists {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(
                VECTOR_NAME,
                VectorParamsBuilder::new(zhiku_embed::DIMENSION as u64, Distance::Cosine),
            );
            let mut sparse = SparseVectorsConfigBuilder::default();
            sparse.add_named_vector_params(
                SPARSE_NAME,
                SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
            );
            let created = self
                .client
                .create_collection(
                    CreateCollectionBuilder::new(name)
                        .vectors_config(vectors)
                        .sparse_vectors_config(sparse)
                        .shard_number(layout.shard_number)
                        .replication_factor(layout.replication_factor)
                        .write_consistency_factor(layout.write_consistency_factor),
                )
                .await;
            // Another process may have created it meanwhile; then just check it below.
            if let Err(e) = created {
                if !self.client.collection_exists(name).await.unwrap_or(false) {
                    return Err(verr(format!("creating collection {name}"), e));
                }
            }
            tracing::info!(collection = %name, "created qdrant collection");
        }

        let info = self
            .client
            .collection_info(name)
            .await
            .map_err(|e| verr(format!("reading collection {name}"), e))?
            .result
            .ok_or_else(|| verr(format!("reading collection {name}"), "empty answer"))?;
        let params = info.config.as_ref().and_then(|c| c.params.clone());
        self.sparse = params
            .as_ref()
            .and_then(|p| p.sparse_vectors_config.as_ref())
            .is_some_and(|s| s.map.contains_key(SPARSE_NAME));
        if let Some(p) = &params {
            self.layout = CollectionLayout {
                shard_number: p.shard_number,
                replication_factor: p.replication_factor.unwrap_or(1),
                write_consistency_factor: p.write_consistency_factor.unwrap_or(1),
            };
            if exists && self.layout != layout {
                // Shards and replicas are fixed when a collection is made; say so rather than
                // pretend the configuration took effect.
                tracing::warn!(
                    collection = %name,
                    actual = ?self.layout,
                    configured = ?layout,
                    "the collection keeps the layout it was made with (see docs/scaling.md to change it)"
                );
            }
        }
        let vectors = params.and_then(|p| p.vectors_config).and_then(|v| v.config);
        let dense = match vectors {
            Some(VectorsConfigKind::ParamsMap(m)) => m.map.get(VECTOR_NAME).cloned(),
            _ => None,
        };
        let Some(dense) = dense else {
            return Err(verr(
                format!("collection {name}"),
                format!("has no named vector {VECTOR_NAME:?}; it was not made by zhiku (use another collection name)"),
            ));
        };
        if dense.size != zhiku_embed::DIMENSION as u64 || dense.distance != Distance::Cosine as i32
        {
            return Err(verr(
                format!("collection {name}"),
                format!(
                    "vector {VECTOR_NAME:?} has size {} and distance {:?}, but zhiku needs {} and Cosine \
                     (a different embedding model? use another collection name or re-create it)",
                    dense.size,
                    Distance::try_from(dense.distance).unwrap_or(Distance::UnknownDistance),
                    zhiku_embed::DIMENSION
                ),
            ));
        }

        // Payload indexes: all of them on a new collection, any missing ones on an old one.
        let wanted = KEYWORD_FIELDS
            .iter()
            .map(|f| (*f, FieldType::Keyword))
            .chain([("geo", FieldType::Geo)]);
        for (field, ty) in wanted {
            if info.payload_schema.contains_key(field) {
                continue;
            }
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(name, field, ty).wait(true),
                )
                .await
                .map_err(|e| verr(format!("creating payload index {field} on {name}"), e))?;
        }
        Ok(!exists)
    }

    pub async fn upsert(&self, points: Vec<(VectorPoint, SparseTerms)>) -> Result<(), IndexError> {
        let mut list = Vec::with_capacity(points.len());
        for (p, terms) in points {
            let payload = Payload::from(payload_json(&p.chunk)?);
            let mut vectors =
                NamedVectors::default().add_vector(VECTOR_NAME, Vector::new_dense(p.vector));
            if self.sparse && !terms.is_empty() {
                vectors = vectors
                    .add_vector(SPARSE_NAME, Vector::new_sparse(terms.indices, terms.values));
            }
            list.push(PointStruct::new(p.chunk.id, vectors, payload));
        }
        let total = list.len();
        let mut done = 0;
        while !list.is_empty() {
            let rest = list.split_off(list.len().min(UPSERT_BATCH));
            let batch = std::mem::replace(&mut list, rest);
            let n = batch.len();
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.collection, batch).wait(true))
                .await
                .map_err(|e| {
                    verr(
                        format!("upserting points {done}..{} of {total}", done + n),
                        e,
                    )
                })?;
            done += n;
        }
        Ok(())
    }

    pub async fn delete_docs(&self, doc_ids: &[String]) -> Result<(), IndexError> {
        let filter = Filter::must([Condition::matches("doc_id", doc_ids.to_vec())]);
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(|e| {
                verr(
                    format!("deleting the points of {} documents", doc_ids.len()),
                    e,
                )
            })?;
        Ok(())
    }

    pub async fn search(
        &self,
        vector: Vec<f32>,
        filter: &SearchFilter,
        k: usize,
        hnsw_ef: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let request = QueryPointsBuilder::new(&self.collection)
            .query(vector)
            .using(VECTOR_NAME)
            .params(SearchParamsBuilder::default().hnsw_ef(hnsw_ef as u64));
        self.nearest(request, filter, k, "vector search").await
    }

    /// Top-`k` chunks by the sparse keyword vector (BM25 with Qdrant's idf).
    pub async fn keyword_search(
        &self,
        terms: SparseTerms,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        let sparse = VectorInput::new_sparse(terms.indices, terms.values);
        let request = QueryPointsBuilder::new(&self.collection)
            .query(Query::new_nearest(sparse))
            .using(SPARSE_NAME);
        self.nearest(request, filter, k, "keyword search").await
    }

    async fn nearest(
        &self,
        request: QueryPointsBuilder,
        filter: &SearchFilter,
        k: usize,
        what: &str,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        let request = request
            .filter(server_filter(filter))
            .limit(k as u64)
            .with_payload(true);
        let response = self
            .client
            .query(request)
            .await
            .map_err(|e| call_err(what, e))?;
        scored_chunks(response.result)
    }

    /// Every chunk of one document that the filter lets through (in no particular order).
    pub async fn chunks_of(
        &self,
        doc_id: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<Chunk>, IndexError> {
        let mut filter = server_filter(filter);
        filter
            .must
            .push(Condition::matches("doc_id", vec![doc_id.to_string()]));
        let mut chunks = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .filter(filter.clone())
                .limit(SCROLL_PAGE)
                .with_payload(true);
            if let Some(o) = offset.take() {
                request = request.offset(o);
            }
            let response = self
                .client
                .scroll(request)
                .await
                .map_err(|e| call_err(format!("reading the chunks of {doc_id}"), e))?;
            for p in response.result {
                let payload = serde_json::Value::from(Payload::from(p.payload));
                chunks.push(chunk_from_payload(payload)?);
            }
            match response.next_page_offset {
                Some(next) => offset = Some(next),
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
        let response = self
            .client
            .facet(
                FacetCountsBuilder::new(&self.collection, key)
                    .filter(server_filter(filter))
                    .limit(crate::vector::FACET_LIMIT as u64)
                    .exact(true),
            )
            .await
            .map_err(|e| call_err(format!("counting the values of {key}"), e))?;
        Ok(response
            .hits
            .into_iter()
            .filter_map(|h| match h.value?.variant? {
                facet_value::Variant::StringValue(v) => Some((v, h.count as usize)),
                _ => None,
            })
            .collect())
    }

    /// The data directory id the collection is marked with, if any.
    pub async fn owner(&self) -> Result<Option<String>, IndexError> {
        let response = self
            .client
            .get_points(
                GetPointsBuilder::new(
                    &self.collection,
                    vec![PointId::from(OWNER_POINT.to_string())],
                )
                .with_payload(true),
            )
            .await
            .map_err(|e| verr("reading the owner mark", e))?;
        Ok(response.result.into_iter().find_map(|p| {
            let payload = serde_json::Value::from(Payload::from(p.payload));
            payload.get(OWNER_FIELD)?.as_str().map(str::to_string)
        }))
    }

    pub async fn set_owner(&self, owner: &str) -> Result<(), IndexError> {
        let vectors = HashMap::from([(VECTOR_NAME.to_string(), owner_vector())]);
        let payload = Payload::from(serde_json::Map::from_iter([(
            OWNER_FIELD.to_string(),
            serde_json::Value::from(owner),
        )]));
        let point = PointStruct::new(OWNER_POINT.to_string(), vectors, payload);
        self.client
            .upsert_points(UpsertPointsBuilder::new(&self.collection, vec![point]).wait(true))
            .await
            .map_err(|e| verr("writing the owner mark", e))?;
        Ok(())
    }

    pub async fn count(&self) -> Result<u64, IndexError> {
        let not_owner =
            Filter::must_not([Condition::has_id([PointId::from(OWNER_POINT.to_string())])]);
        let response = self
            .client
            .count(
                CountPointsBuilder::new(&self.collection)
                    .filter(not_owner)
                    .exact(true),
            )
            .await
            .map_err(|e| call_err("counting points", e))?;
        response
            .result
            .map(|r| r.count)
            .ok_or_else(|| verr("counting points", "empty answer"))
    }

    /// Deletes the whole collection (used by tests to clean up after themselves).
    pub async fn drop_collection(&self) -> Result<(), IndexError> {
        self.client
            .delete_collection(&self.collection)
            .await
            .map_err(|e| verr(format!("deleting collection {}", self.collection), e))?;
        Ok(())
    }
}
