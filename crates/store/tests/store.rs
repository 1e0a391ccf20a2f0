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
        sources: question.map(|_| r#"{"citations":[]}"#.to_string()),
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
    assert_eq!(last3[0].sources.as_deref(), Some(r#"{"citations":[]}"#));
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
    accounts(store, &run).await;
    conversations_are_listed_renamed_and_deleted(store, &alice, &a.id, &run).await;
    alice
}

/// Passwords are checked against Argon2 hashes; sessions open by token, end at sign-out, at a
/// new password and with the account.
async fn accounts(store: &Store, run: &str) {
    let name = format!("学生-{run}");
    let user = store
        .create_user(&name, "student", Some("正确的密码 pw"))
        .await
        .unwrap();
    assert!(user.has_password);
    assert!(matches!(
        store.create_user(&name, "teacher", None).await,
        Err(zhiku_store::StoreError::Exists(_))
    ));
    assert_eq!(
        store
            .check_password(&name, "正确的密码 pw")
            .await
            .unwrap()
            .map(|u| u.role),
        Some("student".to_string())
    );
    assert!(store
        .check_password(&name, "wrong")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .check_password("nobody-here", "正确的密码 pw")
        .await
        .unwrap()
        .is_none());
    let proxy_only = store
        .create_user(&format!("proxy-{run}"), "teacher", None)
        .await
        .unwrap();
    assert!(!proxy_only.has_password);
    assert!(store
        .check_password(&proxy_only.name, "")
        .await
        .unwrap()
        .is_none());
    let principal = zhiku_store::user_principal(&name);
    let hour = std::time::Duration::from_secs(3600);
    let token = store
        .create_session(&principal, "public", hour)
        .await
        .unwrap();
    assert_eq!(
        store.session(&token).await.unwrap().unwrap().principal,
        principal
    );
    assert!(store.session("zs_forged").await.unwrap().is_none());
    let expired = store
        .create_session(&principal, "public", std::time::Duration::ZERO)
        .await
        .unwrap();
    assert!(store.session(&expired).await.unwrap().is_none());
    store.end_session(&token).await.unwrap();
    assert!(store.session(&token).await.unwrap().is_none());
    let again = store
        .create_session(&principal, "public", hour)
        .await
        .unwrap();
    assert!(store.set_password(&name, "新密码").await.unwrap());
    assert!(
        store.session(&again).await.unwrap().is_none(),
        "a new password signs the account out"
    );
    assert!(store
        .check_password(&name, "新密码")
        .await
        .unwrap()
        .is_some());
    assert!(store.set_role(&name, "teacher").await.unwrap());
    let last = store
        .create_session(&principal, "internal", hour)
        .await
        .unwrap();
    assert!(store.remove_user(&name).await.unwrap());
    assert!(store.session(&last).await.unwrap().is_none());
    assert!(store.user(&name).await.unwrap().is_none());
    assert!(store
        .users()
        .await
        .unwrap()
        .iter()
        .any(|u| u.name == proxy_only.name));
}

async fn conversations_are_listed_renamed_and_deleted(
    store: &Store,
    alice: &str,
    rated: &str,
    run: &str,
) {
    let listed = store.conversations_of(alice, 10).await.unwrap();
    let first = listed.iter().find(|c| c.conversation.id == rated).unwrap();
    assert_eq!(first.first_question.as_deref(), Some("问题 0"));
    assert_eq!(first.turns, 5);
    assert!(store
        .rename_conversation(rated, Some("勾股定理"))
        .await
        .unwrap());
    assert_eq!(
        store
            .conversation(rated)
            .await
            .unwrap()
            .unwrap()
            .title
            .as_deref(),
        Some("勾股定理")
    );
    let exported = store.feedback_since(0).await.unwrap();
    let mine: Vec<_> = exported.iter().filter(|f| f.principal == alice).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].question.as_deref(), Some("问题 0"));
    // Deleting takes the turns and their feedback with it, and nothing else.
    let doomed = store.create_conversation(alice, "web").await.unwrap();
    store
        .append_turn(&doomed.id, &turn(Some("删掉我"), "public"))
        .await
        .unwrap();
    store
        .add_feedback(&doomed.id, 1, alice, -1, None)
        .await
        .unwrap();
    let other = store
        .create_conversation(&format!("carol-{run}"), "web")
        .await
        .unwrap();
    store
        .append_turn(&other.id, &turn(Some("别人的"), "public"))
        .await
        .unwrap();
    assert!(store.delete_conversation(&doomed.id).await.unwrap());
    assert!(store.conversation(&doomed.id).await.unwrap().is_none());
    assert!(store.turns(&doomed.id, 10).await.unwrap().is_empty());
    assert!(!store
        .feedback_since(0)
        .await
        .unwrap()
        .iter()
        .any(|f| f.conversation_id == doomed.id));
    assert_eq!(store.turns(&other.id, 10).await.unwrap().len(), 1);
    assert_eq!(store.turns(rated, 10).await.unwrap().len(), 5);
    assert!(!store.delete_conversation(&doomed.id).await.unwrap());
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
        .conversation
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
