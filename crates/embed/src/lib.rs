//! Text embeddings for Zhiku: multilingual-e5-small through fastembed and a dynamically
//! loaded ONNX Runtime, both installed offline by `deploy/models/fetch.sh`.
//!
//! This crate turns text into unit vectors and counts model tokens (for chunk sizing). It
//! adds e5's `query: ` / `passage: ` prefixes and length-sorts batches (padding costs 2x).
//! It knows nothing of chunks, indexes or documents.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use zhiku_core::EmbeddingConfig;

/// Vector size of multilingual-e5-small.
pub const DIMENSION: usize = 384;

const FIX_HINT: &str =
    "run `make setup` (or `bash deploy/models/fetch.sh ~/.cache/zhiku`) to install it";

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("ONNX Runtime library not found at {0}; {FIX_HINT}, or set ZHIKU_ORT_LIB")]
    RuntimeMissing(PathBuf),
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("embedding model folder {dir} is missing {file}; {FIX_HINT}, or set ZHIKU_MODEL_DIR")]
    ModelMissing { dir: PathBuf, file: &'static str },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("embedding model error: {0}")]
    Model(String),
}

/// The files read from the model folder beside the ONNX file of `embedding.weights`.
const TOKENIZER_FILES: [&str; 4] = [
    "tokenizer.json",
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
];

/// Loads ONNX Runtime once per process. ort panics when it cannot find the library, so the
/// path is checked here first and every failure becomes an [`EmbedError`].
fn init_runtime(lib: &Path) -> Result<(), EmbedError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    if !lib.is_file() {
        return Err(EmbedError::RuntimeMissing(lib.to_path_buf()));
    }
    INIT.get_or_init(|| {
        // Loading the library is all that is needed; ort creates its environment lazily.
        ort::init_from(lib).map(|_| ()).map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|message| EmbedError::RuntimeLoad {
        path: lib.to_path_buf(),
        message,
    })
}

/// The embedding model, ready to use. `embed` calls are serialised (ONNX Runtime already uses
/// every core for one batch).
pub struct Embedder {
    model: Mutex<TextEmbedding>,
    /// A copy of the model's tokenizer without truncation or padding, for counting tokens.
    counter: tokenizers::Tokenizer,
    batch_size: usize,
    /// Texts embedded since start-up (a test reads it to prove that nothing was re-embedded).
    embedded: AtomicU64,
    /// Identifies the model files (see [`fingerprint`]).
    fingerprint: String,
}

/// Bytes of `model.onnx` sampled by [`fingerprint`]: 64 windows of 4 KiB.
const SAMPLES: usize = 64;
const SAMPLE_BYTES: usize = 4096;

/// A short hash identifying the model: every tokenizer file whole, and the ONNX file's length
/// and 64 windows spread over it (hashing all 450 MB would add a second to every command;
/// two different weight files agree on 256 KiB of sampled weights only by accident).
/// Stored vectors are only valid for the model that made them, so ingest hashes this in.
fn fingerprint(files: &[Vec<u8>]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (i, bytes) in files.iter().enumerate() {
        h.update((bytes.len() as u64).to_le_bytes());
        if i == 0 && bytes.len() > SAMPLES * SAMPLE_BYTES {
            let step = (bytes.len() - SAMPLE_BYTES) / (SAMPLES - 1);
            for s in 0..SAMPLES {
                h.update(&bytes[s * step..s * step + SAMPLE_BYTES]);
            }
        } else {
            h.update(bytes);
        }
    }
    hex::encode(&h.finalize()[..8])
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl Embedder {
    pub fn load(cfg: &EmbeddingConfig) -> Result<Self, EmbedError> {
        init_runtime(&cfg.onnxruntime)?;
        let dir = &cfg.model_dir;
        let mut bytes = Vec::with_capacity(1 + TOKENIZER_FILES.len());
        for file in std::iter::once(cfg.weights.onnx_file()).chain(TOKENIZER_FILES) {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(EmbedError::ModelMissing {
                    dir: dir.clone(),
                    file,
                });
            }
            bytes.push(std::fs::read(&path).map_err(|source| EmbedError::Read { path, source })?);
        }
        let fingerprint = fingerprint(&bytes);
        let mut it = bytes.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let onnx = next();
        let tokenizer_files = TokenizerFiles {
            tokenizer_file: next(),
            config_file: next(),
            special_tokens_map_file: next(),
            tokenizer_config_file: next(),
        };
        let model =
            UserDefinedEmbeddingModel::new(onnx, tokenizer_files).with_pooling(Pooling::Mean);
        let mut options = InitOptionsUserDefined::new().with_max_length(cfg.max_length);
        if cfg.threads > 0 {
            options.intra_threads = Some(cfg.threads);
        }
        let model = TextEmbedding::try_new_from_user_defined(model, options)
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        let mut counter = model.tokenizer.clone();
        counter.with_padding(None);
        counter
            .with_truncation(None)
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        Ok(Self {
            model: Mutex::new(model),
            counter,
            batch_size: cfg.batch_size,
            embedded: AtomicU64::new(0),
            fingerprint,
        })
    }

    /// Identifies the model files: a different model (or a changed tokenizer) gives another.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The tokenizer, without special tokens, truncation or padding: what chunk sizes count.
    pub fn tokenizer(&self) -> &tokenizers::Tokenizer {
        &self.counter
    }

    pub fn count_tokens(&self, text: &str) -> usize {
        self.counter
            .encode(text, false)
            .map(|e| e.len())
            .unwrap_or_else(|_| text.chars().count())
    }

    pub fn embedded_count(&self) -> u64 {
        self.embedded.load(Ordering::Relaxed)
    }

    pub fn embed_query(&self, query: &str) -> Result<Vec<f32>, EmbedError> {
        let mut v = self.embed_raw(&[format!("query: {query}")])?;
        v.pop()
            .ok_or_else(|| EmbedError::Model("no vector returned".into()))
    }

    /// Embeds passages (the caller gives the text; `passage: ` is added here), returning
    /// vectors in input order. Texts are sorted by length internally so that each batch pads
    /// little.
    pub fn embed_passages<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].as_ref().len());
        let sorted: Vec<String> = order
            .iter()
            .map(|&i| format!("passage: {}", texts[i].as_ref()))
            .collect();
        let vectors = self.embed_raw(&sorted)?;
        let mut out = vec![Vec::new(); texts.len()];
        for (v, &i) in vectors.into_iter().zip(&order) {
            out[i] = v;
        }
        Ok(out)
    }

    /// Embeds texts exactly as given (prefixes included), in batches of `batch_size`.
    pub fn embed_raw(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut model = self
            .model
            .lock()
            .map_err(|_| EmbedError::Model("embedding model lock poisoned".into()))?;
        let out = model
            .embed(texts, Some(self.batch_size))
            .map_err(|e| EmbedError::Model(e.to_string()))?;
        self.embedded
            .fetch_add(texts.len() as u64, Ordering::Relaxed);
        if out.len() != texts.len() || out.iter().any(|v| v.len() != DIMENSION) {
            return Err(EmbedError::Model(format!(
                "model returned {} vectors for {} texts (expected {DIMENSION} dimensions)",
                out.len(),
                texts.len()
            )));
        }
        Ok(out)
    }
}
