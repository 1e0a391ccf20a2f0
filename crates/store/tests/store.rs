//! The store against real databases: SQLite always; PostgreSQL when `ZHIKU_TEST_DATABASE_URL`
//! names one (`.ci/run` starts a throw-away cluster), else that half says it is skipped.

use zhiku_store::{NewKey, Store, StoredTurn};

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
async fn exercise(store: &Store, url: &str) -> String {
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
    audit_chain_detects_changes_and_removals(store, url).await;
    // Keys: only a digest is kept; a revoked key no longer authenticates.
    let (key, secret) = store
        .create_key(&NewKey {
            name: format!("nurse-{run}"),
            channel: zhiku_core::Channel::Clinical,
            clearance: zhiku_core::Classification::Internal,
            domains: Some(vec!["medicine".to_string()]),
            rate: Some((120, 60_000)),
            expires_at_ms: Some(4_102_444_800_000),
            doors: vec!["api".into(), "openai".into()],
            ..NewKey::default()
        })
        .await
        .unwrap();
    let found = store.find_key(&secret).await.unwrap().unwrap();
    assert_eq!(
        found.domains.as_deref(),
        Some(&["medicine".to_string()][..])
    );
    // Stored and read back as their types.
    assert_eq!(found.channel, zhiku_core::Channel::Clinical);
    assert_eq!(found.clearance, zhiku_core::Classification::Internal);
    assert_eq!(found.doors, ["api", "openai"]);
    assert_eq!(found.rate, Some((120, 60_000)));
    assert!(!found.expired_at(0) && found.expired_at(4_102_444_800_000));
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
    let alice = exercise(&store, &format!("sqlite://{}", path.display())).await;
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
    exercise(&store, &url).await;
    // Opening again does not re-run the migrations.
    Store::connect(&url).await.unwrap();
}

#[tokio::test]
async fn unsupported_urls_say_so() {
    let err = Store::connect("mysql://x").await.err().unwrap().to_string();
    assert!(err.contains("neither sqlite"), "{err}");
}

/// Records chain: the trail verifies; a changed record, then a removed one, break it there.
/// (The database is shared by the runs of this test, so positions are taken from this run.)
async fn audit_chain_detects_changes_and_removals(store: &Store, url: &str) {
    // Tampering goes round the store, as an intruder with database access would.
    let db = sqlx::AnyPool::connect(url).await.unwrap();
    let tamper = |sql: String| {
        let db = db.clone();
        async move {
            sqlx::query(&sql).execute(&db).await.unwrap();
        }
    };
    let mut rows = Vec::new();
    for i in 0..3 {
        rows.push(
            store
                .append_audit(&format!(r#"{{"n":{i}}}"#))
                .await
                .unwrap(),
        );
    }
    assert_eq!(rows[1].previous_hash, rows[0].hash);
    assert_eq!(rows[2].seq, rows[1].seq + 1);
    let n = store
        .verify_audit()
        .await
        .unwrap()
        .expect("an untouched chain holds");
    assert!(n >= 3);
    assert!(
        store
            .setting_or_insert("s", || "first".into())
            .await
            .unwrap()
            == store
                .setting_or_insert("s", || "second".into())
                .await
                .unwrap(),
        "a setting is made once"
    );
    // Replays: a token id is accepted once per issuer.
    let id = uuid::Uuid::new_v4().to_string();
    assert!(store
        .use_token("emr", &id, 4_102_444_800_000)
        .await
        .unwrap());
    assert!(!store
        .use_token("emr", &id, 4_102_444_800_000)
        .await
        .unwrap());
    assert!(store
        .use_token("other-emr", &id, 4_102_444_800_000)
        .await
        .unwrap());

    tamper(format!(
        r#"UPDATE audit_events SET record = '{{"n":9}}' WHERE seq = {}"#,
        rows[1].seq
    ))
    .await;
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, rows[1].seq, "{broken:?}");
    assert!(broken.reason.contains("changed"), "{broken:?}");
    tamper(format!(
        "UPDATE audit_events SET record = '{}' WHERE seq = {}",
        rows[1].record, rows[1].seq
    ))
    .await;
    assert!(store.verify_audit().await.unwrap().is_ok(), "restored");
    tamper(format!(
        "DELETE FROM audit_events WHERE seq = {}",
        rows[1].seq
    ))
    .await;
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.seq, rows[2].seq, "{broken:?}");
    assert!(broken.reason.contains("missing"), "{broken:?}");
    // Put it back, so that other runs on this database see a whole chain.
    tamper(format!(
        "INSERT INTO audit_events (seq, recorded_at, previous_hash, hash, record) \
             VALUES ({}, {}, '{}', '{}', '{}')",
        rows[1].seq, rows[1].recorded_at_ms, rows[1].previous_hash, rows[1].hash, rows[1].record
    ))
    .await;
    assert!(store.verify_audit().await.unwrap().is_ok());
}

/// Writers that read before they write (the audit chain, turn numbering) interleaved with
/// plain writes on one SQLite file: every write succeeds, none fails with "database is
/// locked", and the chain still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_writers_racing_each_other_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        Store::open_sqlite(&dir.path().join("zhiku.db"))
            .await
            .unwrap(),
    );
    let conversation = store.create_conversation("racer", "web").await.unwrap();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        let id = conversation.id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                if worker % 2 == 0 {
                    store
                        .append_audit(&format!(r#"{{"worker":{worker},"i":{i}}}"#))
                        .await
                        .map(|_| ())
                } else {
                    store
                        .append_turn(&id, &turn(Some(&format!("q{worker}-{i}")), "public"))
                        .await
                        .map(|_| ())
                }
                .unwrap_or_else(|e| panic!("worker {worker}, write {i}: {e}"));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.verify_audit().await.unwrap().ok(), Some(100));
    assert_eq!(
        store.turns(&conversation.id, 1000).await.unwrap().len(),
        100
    );
}
