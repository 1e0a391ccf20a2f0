//! The access rules at the engine, without HTTP or a model: a document at every
//! classification in every domain, and callers of every clearance, allowed every domain or
//! one, asking through every operation that returns text — search, prepare and ask (the
//! answer and its citations), a document, the cited sources, a stored conversation reopened
//! after the caller's clearance was lowered. A document's marker comes back exactly when the
//! caller may read it, so the matrix cannot pass by returning nothing; a request can narrow
//! the scope and never widen it. (`crates/server/tests/clearance_matrix.rs` checks the same
//! promise end to end through every door, with a model.)

use zhiku_engine::{
    AskInput, Caller, Channel, Classification, Engine, ErrorKind, History, IngestOptions,
    Narrowing, RetrievalMode,
};
use zhiku_testkit::clearance::{doc_id, handle, marker, write_corpus, DOMAINS};
use zhiku_testkit::engine_test_config;

/// Who asks: every clearance through the API, and a key limited to one domain.
fn callers() -> Vec<(String, Caller)> {
    let mut out: Vec<(String, Caller)> = Classification::ALL
        .into_iter()
        .map(|c| {
            let who = format!("key at {}", c.as_str());
            let caller =
                Caller::authenticated(format!("key:{}", c.as_str()), Channel::Api, c, None, false);
            (who, caller)
        })
        .collect();
    out.push((
        "education-only key at restricted".into(),
        Caller::authenticated(
            "key:education-only",
            Channel::Api,
            Classification::Restricted,
            Some(vec!["education".into()]),
            false,
        ),
    ));
    out.push((
        "clinical key at internal, medicine only".into(),
        Caller::authenticated(
            "key:clinical",
            Channel::Clinical,
            Classification::Internal,
            Some(vec!["medicine".into()]),
            false,
        ),
    ));
    out.push((
        "operator at internal".into(),
        Caller::operator(Classification::Internal),
    ));
    out.push((
        "anonymous web guest".into(),
        Caller::anonymous(Channel::Web),
    ));
    out
}

/// Whether `caller` may read the document of `domain` at `level`.
fn may_read(caller: &Caller, domain: &str, level: Classification) -> bool {
    level <= caller.clearance() && caller.may_use(domain)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_returns_text_exactly_as_the_callers_clearance_and_domains_allow() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    write_corpus(&corpus);
    let engine = Engine::open(engine_test_config(dir.path()))
        .await
        .expect("engine opens (make setup)");
    let report = engine
        .ingest(
            &Caller::operator(Classification::Restricted),
            &[corpus],
            &IngestOptions::default(),
        )
        .await
        .unwrap();
    assert!(report.issues.is_empty(), "{:?}", report.issues);

    let mut wrong = Vec::new();
    let mut leaked_answers = Vec::new();
    let mut returned = 0;
    for (who, caller) in callers() {
        for (d, domain) in DOMAINS.iter().enumerate() {
            for level in Classification::ALL {
                let code = handle(d, level);
                let secret = marker(d, level);
                let id = doc_id(domain, level);
                let allowed = may_read(&caller, domain, level);
                let mut check = |what: &str, text: String| {
                    let has = text.contains(&secret);
                    returned += usize::from(has);
                    if has != allowed {
                        wrong.push(format!(
                            "{who}, {what} for {id}: {}",
                            if has { "leaked" } else { "missing" }
                        ));
                    }
                };

                // Search, over every domain the caller has.
                let hits = engine
                    .search(
                        &caller,
                        &code,
                        &Narrowing::default(),
                        5,
                        RetrievalMode::Hybrid,
                    )
                    .await
                    .unwrap()
                    .hits;
                let texts: Vec<&str> = hits.iter().map(|h| h.chunk.text.as_str()).collect();
                check("search", texts.join("\n"));

                // Ask in that domain: refused before answering when the domain is not the
                // caller's; otherwise the citations and the text.
                let input = AskInput {
                    question: format!("核对代号 {code} 的记录说了什么？"),
                    domain: Some(domain.to_string()),
                    narrowing: Narrowing::default(),
                    history: History::None,
                };
                match engine.prepare(&caller, input).await {
                    Err(e) if !caller.may_use(domain) => {
                        assert_eq!(e.kind(), ErrorKind::Forbidden, "{who}: {e}");
                    }
                    Err(e) => panic!("{who} asking in {domain}: {e}"),
                    Ok(prepared) => {
                        let answer = engine.ask(prepared, |_| {}).await.unwrap();
                        let sources = engine.cited_sources(&caller, &answer).await.unwrap();
                        let quoted: Vec<&str> =
                            sources.iter().flatten().map(|c| c.text.as_str()).collect();
                        check("ask's sources", quoted.join("\n"));
                        let json = serde_json::to_string(&answer).unwrap();
                        if !allowed && (json.contains(&secret) || json.contains(&id)) {
                            leaked_answers.push(format!("{who}, ask's answer for {id}"));
                        }
                    }
                }

                // The document itself: "not found" when the caller may not read it.
                match engine.document(&caller, &id, None, None).await {
                    Ok(view) => check("document", serde_json::to_string(&view).unwrap()),
                    Err(e) => {
                        assert_eq!(e.kind(), ErrorKind::NotFound, "{who}, {id}: {e}");
                        check("document", String::new());
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(leaked_answers.is_empty(), "{leaked_answers:#?}");
    assert!(returned > 30, "only {returned} markers came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_narrows_the_scope_and_never_widens_it() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(engine_test_config(dir.path()))
        .await
        .expect("engine opens (make setup)");
    let education_only = Caller::authenticated(
        "key:education-only",
        Channel::Api,
        Classification::Internal,
        Some(vec!["education".into()]),
        false,
    );
    // Naming a domain the key does not have is refused, not ignored.
    let widen = Narrowing {
        domains: vec!["medicine".into()],
        ..Narrowing::default()
    };
    let e = engine.scope(&education_only, &widen).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden, "{e}");
    // An unknown domain is a bad request.
    let unknown = Narrowing {
        domains: vec!["astrology".into()],
        ..Narrowing::default()
    };
    assert_eq!(
        engine.scope(&education_only, &unknown).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    // No narrowing: the key's own domains and clearance, never more.
    let filter = engine
        .scope(&education_only, &Narrowing::default())
        .unwrap();
    assert_eq!(filter.domains, ["education"]);
    assert_eq!(filter.clearance, Classification::Internal);
    // A conversation belongs to its caller: another key cannot continue it.
    let owner = Caller::authenticated(
        "key:owner",
        Channel::Api,
        Classification::Public,
        None,
        false,
    );
    let first = engine
        .prepare(
            &owner,
            AskInput {
                question: "什么是等差数列？".into(),
                history: History::Stored(None),
                ..AskInput::default()
            },
        )
        .await
        .unwrap();
    let answer = engine.ask(first, |_| {}).await.unwrap();
    let id = answer.conversation_id.expect("a new conversation");
    let other = Caller::authenticated(
        "key:other",
        Channel::Api,
        Classification::Restricted,
        None,
        false,
    );
    let e = engine
        .prepare(
            &other,
            AskInput {
                question: "那公差呢？".into(),
                history: History::Stored(Some(id.clone())),
                ..AskInput::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(
        engine.conversation(&other, &id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}
