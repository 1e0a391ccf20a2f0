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
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, GeoPoint, GeoRadius, GetPointsBuilder,
    PointId, PointStruct, QueryPointsBuilder, SearchParamsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant};
use zhiku_core::{Chunk, SearchFilter};

use crate::vector::{
    chunk_from_payload, owner_vector, payload_json, VectorPoint, KEYWORD_FIELDS, OWNER_FIELD,
    OWNER_POINT, VECTOR_NAME,
};
use crate::IndexError;

/// Points per upsert request.
const UPSERT_BATCH: usize = 256;

pub struct ServerStore {
    client: Qdrant,
    collection: String,
    /// The collection did not exist and this connection made it.
    created: bool,
}

fn verr(what: impl std::fmt::Display, e: impl std::fmt::Display) -> IndexError {
    IndexError::Vector(format!("qdrant server: {what}: {e}"))
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
    /// `collection` with its payload indexes if it does not exist yet.
    pub async fn connect(
        url: &str,
        collection: &str,
        api_key: Option<String>,
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
        };
        store.created = store.ensure_collection().await?;
        Ok(store)
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Whether this connection created the collection.
    pub fn created(&self) -> bool {
        self.created
    }

    /// Creates the collection if needed (returning whether it did) and checks its shape.
    async fn ensure_collection(&self) -> Result<bool, IndexError> {
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
            let created = self
                .client
                .create_collection(CreateCollectionBuilder::new(name).vectors_config(vectors))
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
        let vectors = info
            .config
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config);
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

    pub async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), IndexError> {
        let mut list = Vec::with_capacity(points.len());
        for p in points {
            let payload = Payload::from(payload_json(&p.chunk)?);
            let vectors = HashMap::from([(VECTOR_NAME.to_string(), p.vector)]);
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
            .filter(server_filter(filter))
            .params(SearchParamsBuilder::default().hnsw_ef(hnsw_ef as u64))
            .limit(k as u64)
            .with_payload(true);
        let response = self
            .client
            .query(request)
            .await
            .map_err(|e| verr("vector search", e))?;
        response
            .result
            .into_iter()
            .map(|p| {
                let payload = serde_json::Value::from(Payload::from(p.payload));
                Ok((chunk_from_payload(payload)?, p.score))
            })
            .collect()
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
            .map_err(|e| verr("counting points", e))?;
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
