//! Ingest never removes, duplicates or keeps stale what it was not asked to: `--prune` removes
//! exactly the documents whose files are gone, one corpus has one identity however its path
//! is spelled, and another embedding model re-embeds. Real model, Tantivy and Qdrant Edge.

mod common;

use std::path::{Path, PathBuf};

use common::Env;
use zhiku_ingest::{IngestError, IngestOptions};

/// Markdown notes without an `id`: their ids are their source names.
fn write_notes(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for name in names {
        std::fs::write(
            dir.join(format!("{name}.md")),
            format!(
                "---\ntitle: Note {name}\n---\n# Note {name}\n\nThis note about {name} says something \
                 of its own. 这是关于{name}的笔记。\n"
            ),
        )
        .unwrap();
    }
}

fn sources(env: &Env) -> Vec<String> {
    env.manifest()
        .documents
        .values()
        .map(|e| e.source.clone())
        .collect()
}

fn prune() -> IngestOptions {
    IngestOptions {
        prune: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_spares_folders_that_merely_share_a_prefix() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    write_notes(&root.join("corpora"), &["a", "b", "c"]);
    write_notes(&root.join("corpora-old"), &["d"]);
    write_notes(&root.join("corpora2"), &["e", "f"]);
    let env = Env::new(&root.join("data")).await;
    let all = [
        root.join("corpora"),
        root.join("corpora-old"),
        root.join("corpora2"),
    ];
    assert_eq!(env.ingest(&all, false).await.written, 6);

    std::fs::remove_file(root.join("corpora/b.md")).unwrap();
    let report = env.ingest(&[root.join("corpora")], true).await;
    assert_eq!(report.removed, 1, "{report:?}");
    let left = sources(&env);
    assert_eq!(
        left,
        vec![
            "corpora-old/d.md",
            "corpora/a.md",
            "corpora/c.md",
            "corpora2/e.md",
            "corpora2/f.md"
        ],
        "only corpora/b.md is gone"
    );
    env.assert_indexes_agree().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_documents_whose_files_exist_but_failed_to_load() {
    let work = tempfile::tempdir().unwrap();
    let corpus = work.path().join("corpus");
    write_notes(&corpus, &["a", "b", "c", "d", "e", "f", "g", "h"]);
    std::fs::write(
        corpus.join("records.jsonl"),
        "{\"id\": \"r1\", \"text\": \"first record 第一条\"}\n{\"id\": \"r2\", \"text\": \"second record 第二条\"}\n",
    )
    .unwrap();
    let env = Env::new(&work.path().join("data")).await;
    let roots = [corpus.clone()];
    assert_eq!(env.ingest(&roots, false).await.written, 10);

    // One note's front matter breaks, one record line breaks: both files still exist.
    std::fs::write(corpus.join("b.md"), "---\ntitle: [unclosed\n---\n# B\n").unwrap();
    std::fs::write(
        corpus.join("records.jsonl"),
        "{\"id\": \"r1\", \"text\": \"first record 第一条\"}\n{\"id\": \"r2\", \"text\": \n",
    )
    .unwrap();
    let report = env.try_ingest(&roots, &prune()).await.unwrap();
    assert_eq!(report.removed, 0, "{report:?}");
    assert_eq!(report.issues.len(), 2, "{:?}", report.issues);
    let notices = report.notices.join("\n");
    assert!(
        notices.contains("corpus/b.md: kept 1") && notices.contains("corpus/records.jsonl: kept 1"),
        "{notices}"
    );
    let manifest = env.manifest();
    assert!(manifest.documents.contains_key("corpus/b.md"));
    assert!(manifest.documents.contains_key("r2"));

    // Under --strict a run with problems prunes nothing, even what is really gone.
    std::fs::remove_file(corpus.join("a.md")).unwrap();
    let strict = IngestOptions {
        strict: true,
        ..prune()
    };
    let report = env.try_ingest(&roots, &strict).await.unwrap();
    assert_eq!(report.removed, 0);
    assert!(report.notices.iter().any(|n| n.contains("nothing pruned")));
    assert!(env.manifest().documents.contains_key("corpus/a.md"));

    // Without --strict the gone file goes; the failed ones stay.
    let report = env.try_ingest(&roots, &prune()).await.unwrap();
    assert_eq!(report.removed, 1);
    let manifest = env.manifest();
    assert!(!manifest.documents.contains_key("corpus/a.md"));
    assert!(
        manifest.documents.contains_key("corpus/b.md") && manifest.documents.contains_key("r2")
    );

    // A record deleted from a file that loads cleanly is gone.
    std::fs::write(
        corpus.join("records.jsonl"),
        "{\"id\": \"r1\", \"text\": \"first record 第一条\"}\n",
    )
    .unwrap();
    let report = env.try_ingest(&roots, &prune()).await.unwrap();
    assert_eq!(report.removed, 1);
    assert!(!env.manifest().documents.contains_key("r2"));
    env.assert_indexes_agree().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_of_a_large_share_asks_for_yes_and_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let corpus = work.path().join("corpus");
    write_notes(&corpus, &["a", "b", "c", "d"]);
    let env = Env::new(&work.path().join("data")).await;
    let roots = [corpus.clone()];
    env.ingest(&roots, false).await;
    let before = env.counts().await;

    // Half the files vanish (an unmounted folder looks like this) and one changes.
    std::fs::remove_file(corpus.join("a.md")).unwrap();
    std::fs::remove_file(corpus.join("b.md")).unwrap();
    write_notes(&corpus, &["c"]);
    std::fs::write(corpus.join("d.md"), "# D\n\nChanged text 改过的内容。\n").unwrap();
    match env.try_ingest(&roots, &prune()).await {
        Err(e @ IngestError::PruneTooLarge { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("remove 2 of the 4") && msg.contains("--yes"),
                "{msg}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(env.counts().await, before, "nothing was written or removed");
    assert_eq!(env.manifest().documents.len(), 4);

    let yes = IngestOptions {
        yes: true,
        ..prune()
    };
    let report = env.try_ingest(&roots, &yes).await.unwrap();
    assert_eq!((report.removed, report.written), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_corpus_reached_by_several_spellings_is_indexed_once() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path();
    write_notes(&root.join("corpus/sub"), &["a", "b"]);
    write_notes(&root.join("corpus"), &["c"]);
    std::os::unix::fs::symlink(root.join("corpus"), root.join("link")).unwrap();
    let env = Env::new(&root.join("data")).await;
    let first = env.ingest(&[root.join("corpus")], false).await;
    assert_eq!(first.written, 3);
    let ids: Vec<String> = env.manifest().documents.keys().cloned().collect();
    assert_eq!(
        ids,
        vec!["corpus/c.md", "corpus/sub/a.md", "corpus/sub/b.md"]
    );

    let spellings: [PathBuf; 4] = [
        root.join("./corpus"),
        root.join("data/../corpus"),
        root.join("corpus/"),
        root.join("link"),
    ];
    for spelling in spellings {
        let again = env.ingest(std::slice::from_ref(&spelling), true).await;
        assert_eq!(
            (again.written, again.unchanged, again.removed),
            (0, 3, 0),
            "{spelling:?}"
        );
    }
    // A sub-folder named on its own is the same documents too.
    let sub = env.ingest(&[root.join("link/sub")], true).await;
    assert_eq!((sub.written, sub.unchanged, sub.removed), (0, 2, 0));
    assert_eq!(env.manifest().documents.len(), 3);
    env.assert_indexes_agree().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_embedding_model_re_embeds_every_document() {
    let work = tempfile::tempdir().unwrap();
    let corpus = work.path().join("corpus");
    write_notes(&corpus, &["a", "b", "c"]);
    let data = work.path().join("data");
    let roots = [corpus.clone()];
    {
        let env = Env::new(&data).await;
        assert_eq!(env.ingest(&roots, false).await.written, 3);
        assert_eq!(env.ingest(&roots, false).await.unchanged, 3);
    }
    // The same files but one tokenizer setting: another model as far as stored vectors go.
    let mut config = zhiku_core::Config {
        data_dir: data.clone(),
        ..Default::default()
    };
    let original = config.embedding.model_dir.clone();
    let other = work.path().join("other-model");
    std::fs::create_dir_all(&other).unwrap();
    for entry in std::fs::read_dir(&original).unwrap().flatten() {
        let name = entry.file_name();
        if name == "tokenizer_config.json" {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(other.join(&name), format!("{text}\n")).unwrap();
        } else {
            std::os::unix::fs::symlink(entry.path(), other.join(&name)).unwrap();
        }
    }
    config.embedding.model_dir = other;
    let env = Env::with_config(config).await;
    let report = env.ingest(&roots, false).await;
    assert_eq!((report.written, report.unchanged), (3, 0), "{report:?}");
    assert_eq!(report.embedded as usize, report.chunks_written);
}
