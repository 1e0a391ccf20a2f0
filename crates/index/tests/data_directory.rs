//! A data directory owns its vectors: its manifest claims exactly what its indexes hold, so a
//! vector store marked as another directory's is refused, on both backends, and a directory
//! never silently moves to another server collection.

mod common;

use std::path::Path;

use zhiku_core::Config;
use zhiku_index::{IndexError, IndexSet};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn refused(result: Result<IndexSet, IndexError>) -> String {
    match result {
        Ok(_) => panic!("the data directory was opened"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_shard_taken_from_another_data_directory_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    let config = Config::default();
    drop(IndexSet::open(&a, &config).await.expect("new directory a"));
    drop(IndexSet::open(&b, &config).await.expect("new directory b"));

    std::fs::remove_dir_all(b.join("vectors")).unwrap();
    copy_dir(&a.join("vectors"), &b.join("vectors"));
    let err = refused(IndexSet::open(&b, &config).await);
    assert!(err.contains("belongs to another data directory"), "{err}");

    // Its owner still opens it, and the mark is not counted as a chunk.
    let own = IndexSet::open(&a, &config).await.expect("owner reopens");
    assert_eq!(own.vectors.count().await.unwrap(), 0);
    // A whole directory copied (a backup restored) is the same directory.
    drop(own);
    let restored = work.path().join("restored");
    copy_dir(&a, &restored);
    IndexSet::open(&restored, &config)
        .await
        .expect("a copy of the whole directory opens");

    // An embedded directory is not silently switched to a server (its vectors are here).
    let mut server = config.clone();
    server.qdrant.url = "http://127.0.0.1:9".into();
    let err = refused(IndexSet::open(&a, &server).await);
    assert!(err.contains("embedded store under it"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_collection_belongs_to_one_data_directory() {
    let Some(url) = common::qdrant_url("server collection ownership") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.qdrant.url = url;
    config.qdrant.api_key_env = "ZHIKU_TEST_QDRANT_API_KEY".into();
    config.qdrant.collection = format!("zhiku_owner_test_{}", std::process::id());
    let a = IndexSet::open(&work.path().join("a"), &config)
        .await
        .expect("a claims a new collection");
    let err = refused(IndexSet::open(&work.path().join("b"), &config).await);
    let mut other = config.clone();
    other.qdrant.collection.push_str("_other");
    let moved = refused(IndexSet::open(&work.path().join("a"), &other).await);
    let embedded = refused(IndexSet::open(&work.path().join("a"), &Config::default()).await);
    let dropped = a.vectors.destroy().await;
    assert!(
        embedded.contains("no qdrant.url is configured"),
        "{embedded}"
    );
    assert!(err.contains("belongs to another data directory"), "{err}");
    assert!(moved.contains("the configuration names"), "{moved}");
    dropped.expect("drop the test collection");
}
