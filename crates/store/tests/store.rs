//! The store against real databases: SQLite always; PostgreSQL when `ZHIKU_TEST_DATABASE_URL`
//! names one (`.ci/run` starts a throw-away cluster), else that half says it is skipped.

use zhiku_store::{Store, StoredTurn};

fn turn(question: Option<&str>, level: &str) -> StoredTurn {
    StoredTurn {
        seq: 0,
        question: question.map(str::to_string),
        standalone: question.map(str::to_string),
        answer: question.map(|q| format!("answer to {q}")),
        level: level.into(),
        domain: Some("culture".into()),
        mode: "extractive".into(),
        abstained: false,
        created_at_ms: 0,
    }
}

/// Exercises every call; owners are unique per run, since a PostgreSQL test database outlives it.
async fn exercise(store: &Store) -> String {
    store.ping().await.unwrap();
    let run = uuid_like();
    let (alice, bob) = (format!("alice-{run}"), format!("bob-{run}"));
    let a = store.create_conversation(&alice, "web").await.unwrap();
    let b = store.create_conversation(&bob, "web").await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(
        store.conversation(&a.id).await.unwrap().unwrap().owner,
        alice
    );
    assert!(store.conversation("no-such-id").await.unwrap().is_none());
    for i in 0..4 {
        let q = format!("问题 {i}");
        let seq = store
            .append_turn(&a.id, &turn(Some(&q), "public"))
            .await
            .unwrap();
        assert_eq!(seq, i + 1);
    }
    store
        .append_turn(&a.id, &turn(None, "restricted"))
        .await
        .unwrap();
    let last3 = store.turns(&a.id, 3).await.unwrap();
    assert_eq!(last3.len(), 3);
    assert_eq!(last3[0].question.as_deref(), Some("问题 2"), "oldest first");
    assert_eq!(last3[2].question, None, "a text not stored stays absent");
    assert_eq!(last3[2].level, "restricted");
    assert!(store.turns(&b.id, 10).await.unwrap().is_empty());
    // Concurrent appends to one conversation each get their own number.
    let (tx, ty) = (turn(Some("x"), "public"), turn(Some("y"), "public"));
    let (x, y) = tokio::join!(store.append_turn(&b.id, &tx), store.append_turn(&b.id, &ty));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_ne!(x, y);
    let mine = store.conversations_of(&alice, 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    store
        .add_feedback(&a.id, 1, &alice, 1, Some("好"))
        .await
        .unwrap();
    assert!(
        store
            .add_feedback("no-such-id", 1, &alice, 1, None)
            .await
            .is_err(),
        "feedback on a missing conversation is refused by the foreign key"
    );
    store
        .audit(&alice, "web", "ask", "domain=culture")
        .await
        .unwrap();
    let trail = store.audit_trail(50).await.unwrap();
    assert!(trail.iter().any(|t| t.0 == alice && t.2 == "ask"));
    // Keys: only a digest is kept; a revoked key no longer authenticates.
    let (key, secret) = store
        .create_key(
            &format!("nurse-{run}"),
            "clinical",
            "internal",
            Some(&["medicine".to_string()]),
            false,
        )
        .await
        .unwrap();
    let found = store.find_key(&secret).await.unwrap().unwrap();
    assert_eq!(
        found.domains.as_deref(),
        Some(&["medicine".to_string()][..])
    );
    assert_eq!(found.clearance, "internal");
    assert!(store.find_key("zk_wrong").await.unwrap().is_none());
    assert!(store.revoke_key(&key.id).await.unwrap());
    assert!(store.find_key(&secret).await.unwrap().is_none());
    alice
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn sqlite_store_keeps_conversations_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zhiku.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    let alice = exercise(&store).await;
    let id = store.conversations_of(&alice, 1).await.unwrap()[0]
        .id
        .clone();
    store.close().await;
    let again = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(
        again.turns(&id, 100).await.unwrap().len(),
        5,
        "migrations ran once"
    );
}

#[tokio::test]
async fn postgres_store() {
    let Some(url) = zhiku_testkit::test_database_url("postgres_store") else {
        return;
    };
    let store = Store::connect(&url).await.unwrap();
    exercise(&store).await;
    // Opening again does not re-run the migrations.
    Store::connect(&url).await.unwrap();
}

#[tokio::test]
async fn unsupported_urls_say_so() {
    let err = Store::connect("mysql://x").await.err().unwrap().to_string();
    assert!(err.contains("neither sqlite"), "{err}");
}
