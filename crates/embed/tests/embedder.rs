//! Runs the real converted model through fastembed and ONNX Runtime.

use zhiku_core::{EmbeddingConfig, EmbeddingWeights};
use zhiku_embed::{EmbedError, Embedder, DIMENSION};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn matches_reference_vectors_from_the_conversion() {
    let embedder =
        Embedder::load(&EmbeddingConfig::default()).expect("model installed by make setup");
    // The checkout the test runs in (cargo sets this for every test process), not the one it
    // was compiled in: a shared target folder may hold a binary built from another clone.
    let root =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = std::path::Path::new(&root).join("../../deploy/models/reference_vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = reference["items"].as_array().expect("list");
    assert!(items.len() >= 4);
    for item in items {
        let text = item["text"].as_str().unwrap().to_string();
        let expected: Vec<f32> = item["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let got = embedder
            .embed_raw(std::slice::from_ref(&text))
            .unwrap()
            .remove(0);
        assert_eq!(got.len(), DIMENSION);
        let c = cosine(&got, &expected);
        assert!(c >= 0.999, "{text}: cosine {c}");
    }
}

#[test]
fn passages_keep_input_order_and_queries_find_their_passage() {
    let embedder = Embedder::load(&EmbeddingConfig::default()).unwrap();
    let passages = [
        "北京故宫始建于明永乐四年（1406年），是明清两代的皇家宫殿。",
        "Photosynthesis converts light energy into chemical energy stored in glucose.",
        "天坛是明清两代皇帝祭天、祈谷的场所。",
    ];
    let v = embedder.embed_passages(&passages).unwrap();
    let q = embedder.embed_query("故宫是什么时候建的？").unwrap();
    let scores: Vec<f32> = v.iter().map(|p| cosine(p, &q)).collect();
    assert!(scores[0] > scores[1] && scores[0] > scores[2], "{scores:?}");
    let q = embedder
        .embed_query("How do plants make glucose from light?")
        .unwrap();
    let scores: Vec<f32> = v.iter().map(|p| cosine(p, &q)).collect();
    assert!(scores[1] > scores[0] && scores[1] > scores[2], "{scores:?}");
    assert_eq!(embedder.embedded_count(), 5);
    assert!(embedder.count_tokens("passage: 北京故宫") >= 3);
}

#[test]
fn int8_weights_are_a_different_model_close_to_the_float_one() {
    let float = Embedder::load(&EmbeddingConfig::default()).unwrap();
    let int8 = Embedder::load(&EmbeddingConfig {
        weights: EmbeddingWeights::Int8,
        ..Default::default()
    })
    .expect("model-int8.onnx installed by make setup");
    // Stored vectors of one must not be taken for the other's.
    assert_ne!(float.fingerprint(), int8.fingerprint());
    let texts = [
        "北京故宫始建于明永乐四年（1406年），是明清两代的皇家宫殿。",
        "Photosynthesis converts light energy into chemical energy stored in glucose.",
    ];
    let (a, b) = (
        float.embed_passages(&texts).unwrap(),
        int8.embed_passages(&texts).unwrap(),
    );
    for (x, y) in a.iter().zip(&b) {
        let c = cosine(x, y);
        assert!((0.98..0.99999).contains(&c), "int8 vs float cosine {c}");
    }
    let q = int8.embed_query("故宫是什么时候建的？").unwrap();
    assert!(cosine(&q, &b[0]) > cosine(&q, &b[1]));
}

#[test]
fn missing_files_are_clear_errors_not_panics() {
    let cfg = EmbeddingConfig {
        onnxruntime: "/nonexistent/libonnxruntime.so".into(),
        ..Default::default()
    };
    let err = Embedder::load(&cfg).unwrap_err();
    assert!(matches!(err, EmbedError::RuntimeMissing(_)));
    assert!(err.to_string().contains("make setup"), "{err}");

    let cfg = EmbeddingConfig {
        model_dir: "/nonexistent/model".into(),
        ..Default::default()
    };
    let int8 = EmbeddingConfig {
        weights: EmbeddingWeights::Int8,
        ..cfg.clone()
    };
    let err = Embedder::load(&int8).unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::ModelMissing {
                file: "model-int8.onnx",
                ..
            }
        ),
        "{err}"
    );
    let err = Embedder::load(&cfg).unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::ModelMissing {
                file: "model.onnx",
                ..
            }
        ),
        "{err}"
    );
}
