//! The vector side: one interface, two backends. Embedded Qdrant Edge (in process, under the
//! data directory) by default; a Qdrant server or cluster through `qdrant-client` when a URL
//! is configured. Both store the same point ids (the chunk ids) and the same payload (the
//! chunk as JSON plus `tags` and `geo`), and apply the same filters.

use zhiku_core::{Chunk, SearchFilter};

use crate::edge::EdgeStore;
use crate::qdrant_server::ServerStore;
use crate::sparse::{SparseEncoder, SparseTerms};
use crate::IndexError;

/// A chunk with its embedding, ready to store.
#[derive(Debug, Clone)]
pub struct VectorPoint {
    pub chunk: Chunk,
    pub vector: Vec<f32>,
}

/// Name of the dense vector in both backends.
pub const VECTOR_NAME: &str = "dense";

/// Distinct values a facet returns: above any metadata field's in practice.
pub const FACET_LIMIT: usize = 100_000;

/// Payload fields with a keyword index (plus `geo` with a geo index).
pub const KEYWORD_FIELDS: [&str; 4] = ["doc_id", "domain", "classification", "tags"];

/// The point that marks a collection as the vectors of one data directory (payload
/// [`OWNER_FIELD`] = the directory's id). It has no `classification`, so no search filter
/// matches it, and counts leave it out.
pub const OWNER_POINT: uuid::Uuid =
    uuid::Uuid::from_u128(0x5a68_696b_7500_4000_8000_6f77_6e65_7200);
pub const OWNER_FIELD: &str = "zhiku_owner";

/// The owner point's vector (both backends require one): any unit vector.
pub fn owner_vector() -> Vec<f32> {
    vec![1.0 / (zhiku_embed::DIMENSION as f32).sqrt(); zhiku_embed::DIMENSION]
}

pub enum VectorStore {
    Edge(EdgeStore),
    Server(ServerStore),
}

impl VectorStore {
    pub async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), IndexError> {
        if points.is_empty() {
            return Ok(());
        }
        // The sparse keyword vector of every chunk, whichever keyword leg is configured: a
        // store is then ready for either, and jieba costs little beside the embedding. A
        // store made before sparse vectors existed cannot hold them: skip the work.
        let sparse = self.has_sparse();
        let with_terms = tokio::task::spawn_blocking(move || {
            let encoder = SparseEncoder::default();
            points
                .into_iter()
                .map(|p| {
                    let terms = if sparse {
                        encoder.document(&p.chunk)
                    } else {
                        SparseTerms::default()
                    };
                    (p, terms)
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| IndexError::Vector(format!("keyword vector task failed: {e}")))?;
        match self {
            Self::Edge(s) => s.upsert(with_terms).await,
            Self::Server(s) => s.upsert(with_terms).await,
        }
    }

    /// Whether the store holds sparse keyword vectors (stores made before they existed do not).
    pub fn has_sparse(&self) -> bool {
        match self {
            Self::Edge(s) => s.has_sparse(),
            Self::Server(s) => s.has_sparse(),
        }
    }

    /// BM25 top-`k` chunks by the sparse keyword vectors, best first.
    pub async fn keyword_search(
        &self,
        query: &str,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        if !self.has_sparse() {
            return Err(IndexError::Vector(format!(
                "{} has no keyword vectors (it was made before they existed): ingest into a new data \
                 directory or collection, or set retrieval.keyword = \"tantivy\"",
                self.describe()
            )));
        }
        let terms = SparseEncoder::default().query(query);
        if terms.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        match self {
            Self::Edge(s) => s.keyword_search(terms, filter, k).await,
            Self::Server(s) => s.keyword_search(terms, filter, k).await,
        }
    }

    /// Every chunk of one document that the filter lets through, in reading order.
    pub async fn chunks_of(
        &self,
        doc_id: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<Chunk>, IndexError> {
        let mut chunks = match self {
            Self::Edge(s) => s.chunks_of(doc_id, filter).await?,
            Self::Server(s) => s.chunks_of(doc_id, filter).await?,
        };
        chunks.sort_by_key(|c| (c.start, c.ordinal));
        Ok(chunks)
    }

    /// The values of one metadata key among the chunks the filter lets through, with how
    /// many chunks carry each, most common first (as [`crate::KeywordIndex::tag_values`]).
    pub async fn tag_values(
        &self,
        key: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<(String, usize)>, IndexError> {
        let all = match self {
            Self::Edge(s) => s.facet("tags", filter).await?,
            Self::Server(s) => s.facet("tags", filter).await?,
        };
        let prefix = format!("{key}=");
        let mut counted: Vec<(String, usize)> = all
            .into_iter()
            .filter_map(|(tag, n)| Some((tag.strip_prefix(&prefix)?.to_string(), n)))
            .filter(|(_, n)| *n > 0)
            .collect();
        counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(counted)
    }

    pub async fn delete_docs(&self, doc_ids: &[String]) -> Result<(), IndexError> {
        if doc_ids.is_empty() {
            return Ok(());
        }
        match self {
            Self::Edge(s) => s.delete_docs(doc_ids).await,
            Self::Server(s) => s.delete_docs(doc_ids).await,
        }
    }

    /// Top-`k` chunks by cosine similarity, best first.
    pub async fn search(
        &self,
        vector: Vec<f32>,
        filter: &SearchFilter,
        k: usize,
        hnsw_ef: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        match self {
            Self::Edge(s) => s.search(vector, filter, k, hnsw_ef).await,
            Self::Server(s) => s.search(vector, filter, k, hnsw_ef).await,
        }
    }

    /// Marks the store as the vectors of the data directory `owner`, or refuses it when it is
    /// already marked as another's. An unmarked store (new, or written before marks existed)
    /// is claimed.
    pub async fn claim(&self, owner: &str) -> Result<(), IndexError> {
        let found = match self {
            Self::Edge(s) => s.owner().await?,
            Self::Server(s) => s.owner().await?,
        };
        match found {
            Some(o) if o == owner => Ok(()),
            Some(o) => Err(IndexError::Foreign {
                store: self.describe(),
                owner: o,
                ours: owner.to_string(),
                dir: Default::default(),
            }),
            None => {
                match self {
                    Self::Edge(s) => s.set_owner(owner).await?,
                    Self::Server(s) => s.set_owner(owner).await?,
                }
                self.flush().await
            }
        }
    }

    /// Removes a scratch store's server collection (an embedded shard goes with its folder).
    pub async fn destroy(&self) -> Result<(), IndexError> {
        match self {
            Self::Edge(_) => Ok(()),
            Self::Server(s) => s.drop_collection().await,
        }
    }

    /// Which store this is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Edge(s) => format!("the vector shard at {}", s.path().display()),
            Self::Server(s) => format!("the Qdrant collection {:?}", s.collection()),
        }
    }

    /// Chunk points stored (the owner mark is not counted).
    pub async fn count(&self) -> Result<u64, IndexError> {
        match self {
            Self::Edge(s) => s.count().await,
            Self::Server(s) => s.count().await,
        }
    }

    /// Makes writes durable (edge: flush WAL and segments; server: writes already wait).
    pub async fn flush(&self) -> Result<(), IndexError> {
        match self {
            Self::Edge(s) => s.flush().await,
            Self::Server(_) => Ok(()),
        }
    }

    /// Builds the HNSW index after an ingest job (the embedded shard does no background
    /// indexing; a server does its own).
    pub async fn optimize(&self) -> Result<(), IndexError> {
        match self {
            Self::Edge(s) => s.optimize().await,
            Self::Server(_) => Ok(()),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Edge(_) => "qdrant-edge (embedded)",
            Self::Server(_) => "qdrant server",
        }
    }
}

/// The payload stored with a point: the chunk itself, plus filter helpers.
pub fn payload_json(
    chunk: &Chunk,
) -> Result<serde_json::Map<String, serde_json::Value>, IndexError> {
    let mut map = match serde_json::to_value(chunk) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => {
            return Err(IndexError::Corrupt(
                "chunk did not serialise to an object".into(),
            ))
        }
    };
    map.insert("tags".into(), serde_json::json!(chunk.tags()));
    if let Some((lat, lon)) = chunk.location {
        map.insert("geo".into(), serde_json::json!({"lat": lat, "lon": lon}));
    }
    Ok(map)
}

pub fn chunk_from_payload(payload: serde_json::Value) -> Result<Chunk, IndexError> {
    serde_json::from_value(payload).map_err(|e| IndexError::Corrupt(format!("payload: {e}")))
}

/// The filter in Qdrant's JSON filter language, shared by both backends.
pub fn filter_json(filter: &SearchFilter) -> serde_json::Value {
    let mut must = vec![serde_json::json!({
        "key": "classification", "match": {"any": filter.classification_levels()}
    })];
    if !filter.domains.is_empty() {
        must.push(serde_json::json!({"key": "domain", "match": {"any": filter.domains}}));
    }
    for group in filter.tag_groups() {
        must.push(serde_json::json!({"key": "tags", "match": {"any": group}}));
    }
    if let Some(g) = filter.geo {
        must.push(serde_json::json!({
            "key": "geo",
            "geo_radius": {"center": {"lat": g.lat, "lon": g.lon}, "radius": g.radius_m}
        }));
    }
    serde_json::json!({ "must": must })
}
