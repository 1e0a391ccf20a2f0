//! The agent end to end: real model, Tantivy and Qdrant Edge over tests/fixtures/agent, the
//! three real domains, and a real local HTTP server speaking the OpenAI protocol in place of
//! the large model (the only stand-in: the model is a service on the internet).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::OnceCell;
use zhiku_agent::{Agent, AgentError, Answer, AnswerEvent, AnswerMode, AskRequest};
use zhiku_core::{Config, DomainRegistry, SearchFilter};
use zhiku_embed::Embedder;
use zhiku_index::{HybridRetriever, IndexSet};
use zhiku_ingest::{GeneralDomain, IngestOptions, Ingestor};
use zhiku_testkit::{FakeLlm, Reply};

struct Shared {
    _dir: tempfile::TempDir,
    config: Config,
    retriever: HybridRetriever,
    registry: Arc<DomainRegistry>,
}

static SHARED: OnceCell<Shared> = OnceCell::const_new();

fn fixtures() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../tests/fixtures/agent")
}

/// One index for all tests of this file (Qdrant Edge allows one owner per folder).
async fn shared() -> &'static Shared {
    SHARED
        .get_or_init(|| async {
            let dir = tempfile::tempdir().unwrap();
            let mut config = Config {
                data_dir: dir.path().join("data"),
                ..Default::default()
            };
            // Thresholds stay off here; the abstention test sets its own.
            config.agent.min_relevance = 0.0;
            config.agent.min_term_coverage = 0.0;
            let embedder = Arc::new(Embedder::load(&config.embedding).expect("make setup"));
            let indexes = IndexSet::open(&config.data_dir, &config).await.unwrap();
            let mut registry = DomainRegistry::new();
            registry
                .register(GeneralDomain)
                .register(zhiku_education::EducationDomain)
                .register(zhiku_medicine::MedicineDomain)
                .register(zhiku_culture::CultureDomain);
            let report = Ingestor {
                registry: &registry,
                indexes: &indexes,
                embedder: &embedder,
                config: &config.ingest,
            }
            .run(&[fixtures()], &IngestOptions::default())
            .await
            .unwrap();
            assert!(report.issues.is_empty(), "{:?}", report.issues);
            let retriever = HybridRetriever::new(indexes, embedder, config.retrieval.clone());
            Shared {
                _dir: dir,
                config,
                retriever,
                registry: Arc::new(registry),
            }
        })
        .await
}

/// An agent on the shared index, with the model at `server` (or none).
async fn agent(server: Option<&FakeLlm>, tweak: impl FnOnce(&mut Config)) -> Agent {
    let s = shared().await;
    let mut config = s.config.clone();
    if let Some(server) = server {
        config.llm.base_url = server.base_url();
        config.llm.model = "fake-model".into();
        config.llm.first_token_timeout_ms = 500;
        config.llm.total_timeout_ms = 5_000;
        config.llm.backoff_ms = 20;
        config.llm.max_retries = 1;
    }
    tweak(&mut config);
    Agent::new(s.retriever.clone(), s.registry.clone(), &config).unwrap()
}

fn ask(question: &str, domain: Option<&str>) -> AskRequest {
    AskRequest {
        question: question.into(),
        domain: domain.map(str::to_string),
        filter: SearchFilter::default(),
        ..AskRequest::default()
    }
}

async fn run(agent: &Agent, req: AskRequest) -> (Answer, Vec<AnswerEvent>) {
    let mut events = Vec::new();
    let answer = agent.ask(req, |e| events.push(e)).await.unwrap();
    (answer, events)
}

fn streamed_text(events: &[AnswerEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            AnswerEvent::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

const HEAVEN_Q: &str = "When was the Temple of Heaven built?";

#[tokio::test]
async fn a_streamed_model_answer_carries_checked_citations() {
    let server = FakeLlm::start(vec![Reply::Stream(vec![
        "It was built from 1406 to 1420 [".into(),
        "1]. Emperors prayed there at the winter solstice [1]".into(),
        ".".into(),
    ])])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, events) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    assert_eq!(a.mode, AnswerMode::Model);
    assert_eq!(
        a.text,
        "It was built from 1406 to 1420 [1]. Emperors prayed there at the winter solstice [1]."
    );
    assert_eq!(streamed_text(&events).trim(), a.text);
    assert!(matches!(
        events[0],
        AnswerEvent::Started {
            mode: AnswerMode::Model,
            ..
        }
    ));
    // The citation event follows the text that first cites it, and only cited sources come back.
    let first_citation = events
        .iter()
        .position(|e| matches!(e, AnswerEvent::Citation { .. }))
        .unwrap();
    assert!(streamed_text(&events[..first_citation]).contains("[1]"));
    assert_eq!(a.citations.len(), 1);
    assert_eq!(a.citations[0].doc_id, "agent-fx-temple-of-heaven");
    let c = &a.citations[0];
    let file = std::fs::read(fixtures().join("culture/articles/temple-of-heaven-en.md")).unwrap();
    assert!(c.span_in_file);
    assert!(String::from_utf8_lossy(&file[c.start..c.end]).contains("1406 to 1420"));
    // What was sent: the question, fenced passages, the domain's rules.
    let sent = server.received();
    assert_eq!(sent.len(), 1);
    let msgs = sent[0].messages();
    assert_eq!(msgs[0].0, "system");
    assert!(msgs[0].1.contains("phone"), "culture rules: {}", msgs[0].1);
    assert!(msgs
        .last()
        .unwrap()
        .1
        .ends_with(&format!("Question: {HEAVEN_Q}")));
    assert_eq!(sent[0].body["stream"], true);
}

#[tokio::test]
async fn a_whole_answer_when_streaming_is_off() {
    let server = FakeLlm::start(vec![Reply::Whole(
        "Start at 500 mg once daily [1] (strong recommendation, evidence A, Test Metformin Guideline 2025 test v2)."
            .into(),
    )])
    .await;
    let agent = agent(Some(&server), |c| c.llm.stream = false).await;
    let (a, _) = run(
        &agent,
        ask("What is the starting dose of metformin?", Some("medicine")),
    )
    .await;
    assert_eq!(server.received()[0].body["stream"], false);
    assert!(a.text.starts_with("Start at 500 mg"), "{}", a.text);
    let note = a.citations[0].note.as_deref().unwrap();
    assert!(
        note.contains("strength: strong") && note.contains("2025 test v2"),
        "{note}"
    );
}

#[tokio::test]
async fn rate_limited_then_answered() {
    let server = FakeLlm::start(vec![
        Reply::Status {
            code: 429,
            retry_after: Some("0".into()),
        },
        Reply::Text("Built 1406–1420 [1].".into()),
    ])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(&agent, ask(HEAVEN_Q, None)).await;
    assert_eq!(a.mode, AnswerMode::Model);
    assert_eq!(a.text, "Built 1406–1420 [1].");
    assert!(a.notices.is_empty(), "{:?}", a.notices);
    assert_eq!(server.received().len(), 2);
}

/// The model fails before any text: the answer is extractive and says why.
async fn falls_back(script: Vec<Reply>, expect_in_notice: &str) {
    let server = FakeLlm::start(script).await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    assert_eq!(a.mode, AnswerMode::Extractive, "{a:?}");
    assert!(!a.abstained);
    assert!(
        a.text.contains("1406") && a.text.contains("[1]"),
        "{}",
        a.text
    );
    assert!(!a.citations.is_empty());
    let notice = a.notices.join(" ");
    assert!(notice.contains("extractive"), "{notice}");
    assert!(notice.contains(expect_in_notice), "{notice}");
    assert!(notice.contains("unavailable"), "{notice}");
    assert!(!a.support.rejected);
}

/// What a small model writes: no marker anywhere. Supported sentences get the marker of
/// their passage, the unsupported one goes, and the notices say both.
#[tokio::test]
async fn an_answer_without_markers_gets_them_and_loses_what_no_passage_says() {
    let server = FakeLlm::start(vec![Reply::Stream(vec![
        "The Temple of Heaven in Beijing was built from 1406 to 1420. ".into(),
        "It was designed by Leonardo da Vinci in Florence. ".into(),
        "Emperors came every winter solstice to pray to Heaven for good harvests.".into(),
    ])])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, events) = run(&agent, ask(HEAVEN_Q, None)).await;
    assert_eq!(a.mode, AnswerMode::Model);
    assert!(!a.text.contains("Leonardo"), "{}", a.text);
    assert!(!streamed_text(&events).contains("Leonardo"), "never shown");
    assert!(
        a.text.contains("1420 [1].") && a.text.contains("harvests [1]."),
        "{}",
        a.text
    );
    assert_eq!(a.citations.len(), 1);
    assert_eq!(a.support.markers_added, 2);
    assert_eq!(a.support.removed, 1);
    assert_eq!(a.support.sentences, 3);
    let notice = a.notices.join(" ");
    assert!(
        notice.contains("2 sentence(s) the model left uncited"),
        "{notice}"
    );
    assert!(
        notice.contains("no source supports were removed: “It was designed by Leonardo"),
        "{notice}"
    );
}

/// Nothing the model wrote is in the passages: its answer is not shown, the extractive one
/// is, and the notice says the model's answer was rejected, not that the model was down.
#[tokio::test]
async fn an_answer_no_passage_supports_is_rejected_truthfully() {
    let server = FakeLlm::start(vec![Reply::Text(
        "牛顿第二定律指出物体的加速度与所受合力成正比。".into(),
    )])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    assert_eq!(a.mode, AnswerMode::Extractive);
    assert!(a.support.rejected);
    assert!(
        a.text.contains("1406") && !a.text.contains("牛顿"),
        "{}",
        a.text
    );
    let notice = a.notices.join(" ");
    assert!(
        notice.contains("none of its sentences is supported"),
        "{notice}"
    );
    assert!(!notice.contains("unavailable"), "{notice}");
}

/// A dose sentence the model left uncited is kept, citing the guideline that states it,
/// instead of being removed by the dose check for citing nothing.
#[tokio::test]
async fn an_uncited_dose_the_guideline_states_is_kept_and_cited() {
    let server = FakeLlm::start(vec![Reply::Text(
        "Start metformin at 500 mg once daily with the evening meal.".into(),
    )])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(
        &agent,
        ask("What is the starting dose of metformin?", Some("medicine")),
    )
    .await;
    assert_eq!(a.mode, AnswerMode::Model, "{:?}", a.notices);
    assert!(
        a.text.contains("500 mg once daily with the evening meal ["),
        "{}",
        a.text
    );
    assert_eq!(a.citations[0].doc_id, "agent-fx-metformin");
    assert_eq!(a.support.markers_added, 1);
}

#[tokio::test]
async fn server_errors_fall_back_to_extractive() {
    falls_back(
        vec![
            Reply::Status {
                code: 500,
                retry_after: None,
            },
            Reply::Status {
                code: 500,
                retry_after: None,
            },
        ],
        "HTTP 500",
    )
    .await;
}

#[tokio::test]
async fn a_stall_past_the_timeout_falls_back() {
    falls_back(
        vec![
            Reply::Stall(std::time::Duration::from_secs(20)),
            Reply::Stall(std::time::Duration::from_secs(20)),
        ],
        "first-token timeout",
    )
    .await;
}

#[tokio::test]
async fn empty_and_non_utf8_answers_fall_back() {
    falls_back(vec![Reply::Empty, Reply::Empty], "empty").await;
    falls_back(vec![Reply::BadUtf8, Reply::BadUtf8], "UTF-8").await;
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_keeps_what_was_shown() {
    let server = FakeLlm::start(vec![Reply::DropAfter(vec![
        "The temple was built ".into(),
        "from 1406 [1]".into(),
    ])])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, events) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    assert!(
        a.text.starts_with("The temple was built from 1406 [1]"),
        "{}",
        a.text
    );
    assert_eq!(streamed_text(&events).trim(), a.text);
    assert!(
        a.notices.iter().any(|n| n.contains("cut off")),
        "{:?}",
        a.notices
    );
    assert_eq!(
        server.received().len(),
        1,
        "no second request once text was shown"
    );
    assert_eq!(
        a.mode,
        AnswerMode::Extractive,
        "the rest is quoted from the sources"
    );
}

#[tokio::test]
async fn an_answer_cut_at_the_token_limit_says_so() {
    let server = FakeLlm::start(vec![Reply::Truncated(vec![
        "Built 1406–1420 [1]. Emperors prayed".into(),
    ])])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(&agent, ask(HEAVEN_Q, None)).await;
    assert_eq!(a.text, "Built 1406–1420 [1]. Emperors prayed");
    assert!(
        a.notices.iter().any(|n| n.contains("length limit")),
        "{:?}",
        a.notices
    );
}

#[tokio::test]
async fn a_malformed_event_is_skipped_with_a_notice() {
    let server = FakeLlm::start(vec![Reply::MalformedLine(vec![
        "Built ".into(),
        "1406–1420 [1].".into(),
    ])])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(&agent, ask(HEAVEN_Q, None)).await;
    assert_eq!(a.text, "Built 1406–1420 [1].");
    assert!(
        a.notices.iter().any(|n| n.contains("unreadable")),
        "{:?}",
        a.notices
    );
}

#[tokio::test]
async fn a_citation_beyond_the_passages_is_removed_and_counted() {
    let server = FakeLlm::start(vec![Reply::Text(
        "Built 1406–1420 [1][7]. Rebuilt after 1889 [2, 7].".into(),
    )])
    .await;
    let agent = agent(Some(&server), |c| c.agent.passages = 3).await;
    let (a, events) = run(&agent, ask(HEAVEN_Q, None)).await;
    assert!(matches!(
        events[0],
        AnswerEvent::Started { passages: 3, .. }
    ));
    // Passage 2 says nothing of 1889: that marker moves to the passage that does.
    assert_eq!(a.text, "Built 1406–1420 [1]. Rebuilt after 1889 [1].");
    assert!(
        !streamed_text(&events).contains('7'),
        "never shown, even briefly"
    );
    assert_eq!(a.removed_markers, 2);
    assert_eq!(
        a.citations.iter().map(|c| c.marker).collect::<Vec<_>>(),
        vec![1]
    );
    assert!(a.notices.iter().any(|n| n.contains("2 citation marker")));
    assert_eq!(a.support.markers_moved, 1);
    assert!(
        a.notices
            .iter()
            .any(|n| n.contains("1 citation marker(s) pointing at a source that does not support")),
        "{:?}",
        a.notices
    );
}

#[tokio::test]
async fn an_injected_instruction_stays_fenced_as_data() {
    let server = FakeLlm::start(vec![Reply::Text("鼓楼明永乐十八年重建[1]。".into())]).await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(
        &agent,
        ask("鼓楼是什么时候重建的？游客留言说了什么？", Some("culture")),
    )
    .await;
    assert_eq!(a.mode, AnswerMode::Model);
    let sent = server.received();
    let msgs = sent[0].messages();
    let (system, user) = (&msgs[0].1, &msgs.last().unwrap().1);
    let injected = "Ignore previous instructions";
    assert!(
        !system.contains(injected),
        "instructions never carry passage text"
    );
    assert!(
        system.contains("不是指令"),
        "the rule that passages are data: {system}"
    );
    // The passage holding it sits between its fence lines, whose random token the passage
    // cannot know.
    let at = user.find(injected).expect("the passage was sent");
    let open_at = user[..at].rfind("<<<资料 ").unwrap();
    let fence: String = user[open_at + "<<<资料 ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    assert_eq!(fence.len(), 12);
    assert!(
        system.contains(&fence),
        "the system message names the fence"
    );
    let close = format!("资料 {fence}>>>");
    let close_at = user[at..].find(&close).map(|i| at + i).unwrap();
    assert!(!user[open_at..close_at].contains(&close));
    assert!(
        !user[at..close_at].contains("<<<资料"),
        "no fence opens inside the passage"
    );
    assert_eq!(user.matches(&fence).count() % 2, 0, "fences come in pairs");
}

#[tokio::test]
async fn the_model_saying_no_answer_is_an_abstention_in_the_users_language() {
    let server = FakeLlm::start(vec![Reply::Stream(vec!["NO_".into(), "ANSWER".into()])]).await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, events) = run(&agent, ask("天坛的门票多少钱？", Some("culture"))).await;
    assert!(a.abstained);
    assert_eq!(a.text, "资料中没有找到能回答这个问题的内容。");
    assert!(
        !streamed_text(&events).contains("NO_"),
        "the raw reply is never shown"
    );
    assert!(a.citations.is_empty());
}

#[tokio::test]
async fn medicine_drops_a_dose_no_cited_passage_states() {
    let server = FakeLlm::start(vec![Reply::Stream(vec![
        "Start metformin at 500 mg once daily [1]. ".into(),
        "Some start at 850 mg twice daily [1]. ".into(),
        "Strength: strong; evidence: A (Test Metformin Guideline, 2025 test v2) [1].".into(),
    ])])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, events) = run(
        &agent,
        ask("What is the starting dose of metformin?", Some("medicine")),
    )
    .await;
    assert!(a.text.contains("500 mg once daily"), "{}", a.text);
    assert!(!a.text.contains("850"), "{}", a.text);
    assert!(!streamed_text(&events).contains("850"), "never shown");
    assert!(
        a.notices.iter().any(|n| n.contains("850")),
        "{:?}",
        a.notices
    );
    let system = &server.received()[0].messages()[0].1;
    assert!(system.contains("Never state a dose"), "{system}");
    let user = &server.received()[0].messages().last().unwrap().1.clone();
    assert!(
        user.contains("strength: strong; evidence: A"),
        "passage notes reach the model"
    );
}

#[tokio::test]
async fn education_answers_for_the_grade_asked() {
    let server = FakeLlm::start(vec![Reply::Text("a²+b²=c²[1]。".into())]).await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(&agent, ask("给八年级学生讲勾股定理", Some("education"))).await;
    let sent = server.received();
    let system = &sent[0].messages()[0].1;
    assert!(system.contains("初中生"), "{system}");
    assert_eq!(a.citations[0].doc_id, "agent-fx-pythagoras-junior");
    let msgs = sent[0].messages();
    let user = &msgs.last().unwrap().1;
    assert!(
        !user.contains("余弦定理"),
        "senior material is not offered to a grade-8 answer"
    );
}

#[tokio::test]
async fn a_follow_up_keeps_the_grade_its_conversation_named() {
    let agent = agent(None, |_| {}).await;
    let (a, _) = run(&agent, ask("给八年级学生讲勾股定理", Some("education"))).await;
    let mut follow = ask("它怎么证明？", Some("education"));
    follow.history = vec![a.turn("给八年级学生讲勾股定理")];
    let (b, _) = run(&agent, follow).await;
    assert!(!b.citations.is_empty(), "{b:?}");
    assert!(
        b.citations
            .iter()
            .all(|c| c.doc_id == "agent-fx-pythagoras-junior"),
        "junior material only: {:?}",
        b.citations
    );
}

#[tokio::test]
async fn culture_answers_stay_short() {
    let long: String = (0..12)
        .map(|_| "The Temple of Heaven in Beijing was built from 1406 to 1420 under the Yongle Emperor [1]. ")
        .collect();
    let server = FakeLlm::start(vec![Reply::Text(long)]).await;
    let agent = agent(Some(&server), |_| {}).await;
    let (a, _) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    assert!(a.text.chars().count() <= 360, "{}", a.text.len());
    assert!(
        a.text.ends_with("[1]."),
        "cut at a sentence end: {}",
        a.text
    );
    assert!(a.notices.iter().any(|n| n.contains("phone")));
    assert!(server.received()[0].body["max_tokens"].as_u64().unwrap() <= 424);
}

#[tokio::test]
async fn follow_ups_are_rewritten_by_the_model_and_remembered() {
    let server = FakeLlm::start(vec![
        Reply::Text("The Temple of Heaven was built 1406–1420 [1].".into()),
        Reply::Whole("When does the Temple of Heaven open and close?".into()),
        Reply::Text("The halls open at 8:00 and close at 17:00 [1].".into()),
    ])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (first, _) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    let mut follow = ask("And its opening hours?", Some("culture"));
    follow.history = vec![first.turn(HEAVEN_Q)];
    let (second, _) = run(&agent, follow).await;
    assert_eq!(
        second.query,
        "When does the Temple of Heaven open and close?"
    );
    assert!(second.text.contains("8:00"));
    let sent = server.received();
    let rewrite = &sent[1].messages()[0].1;
    assert!(rewrite.contains(HEAVEN_Q) && rewrite.contains("And its opening hours?"));
    // The answer request carries the earlier turn as history.
    let roles: Vec<String> = sent[2].messages().into_iter().map(|m| m.0).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
}

#[tokio::test]
async fn a_question_that_stands_on_its_own_is_not_sent_to_the_model_to_rewrite() {
    let server = FakeLlm::start(vec![
        Reply::Text("The Temple of Heaven was built 1406–1420 [1].".into()),
        Reply::Text("The Hall of Prayer burned down in 1889 [1].".into()),
    ])
    .await;
    let agent = agent(Some(&server), |_| {}).await;
    let (first, _) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    let switch = "When did the Hall of Prayer for Good Harvests burn down?";
    let mut follow = ask(switch, Some("culture"));
    follow.history = vec![first.turn(HEAVEN_Q)];
    let (second, _) = run(&agent, follow).await;
    assert_eq!(second.query, switch, "a topic switch is searched as asked");
    let sent = server.received();
    assert_eq!(
        sent.len(),
        2,
        "two answers and no rewrite call: {:?}",
        sent.iter().map(|r| r.messages()).collect::<Vec<_>>()
    );
    assert!(sent.iter().all(|r| r
        .messages()
        .iter()
        .all(|m| !m.1.contains("Rewrite the follow-up"))));
}

#[tokio::test]
async fn a_failing_rewrite_costs_one_try_then_the_rule() {
    let server = FakeLlm::start(vec![
        Reply::Text("Built 1406–1420 [1].".into()),
        Reply::Status {
            code: 503,
            retry_after: None,
        },
        Reply::Text("The halls open at 8:00 [1].".into()),
    ])
    .await;
    let agent = agent(Some(&server), |c| c.llm.max_retries = 3).await;
    let (first, _) = run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    let mut follow = ask("And its opening hours?", Some("culture"));
    follow.history = vec![first.turn(HEAVEN_Q)];
    let (second, _) = run(&agent, follow).await;
    // The rule substitutes the referent; it never glues the two questions.
    assert_eq!(second.query, "And Temple of Heaven's opening hours?");
    assert_eq!(second.mode, AnswerMode::Model);
    assert_eq!(server.received().len(), 3, "the rewrite was not retried");
}

#[tokio::test]
async fn extractive_by_default_with_a_rule_for_follow_ups() {
    let agent = agent(None, |_| {}).await;
    let q = "When did the Hall of Prayer for Good Harvests burn down?";
    let (a, events) = run(&agent, ask(q, Some("culture"))).await;
    assert_eq!(a.mode, AnswerMode::Extractive);
    assert!(
        matches!(events.iter().find(|e| matches!(e, AnswerEvent::Notice { .. })), Some(AnswerEvent::Notice { text }) if text.contains("Extractive answer"))
    );
    assert!(
        a.text.contains("1889 after a lightning strike"),
        "{}",
        a.text
    );
    assert!(a.text.chars().count() <= 360, "a phone screen: {}", a.text);
    let mut follow = ask("Who ordered it built?", Some("culture"));
    follow.history = vec![a.turn(q)];
    let (b, _) = run(&agent, follow).await;
    assert_eq!(
        b.query,
        "Who ordered Hall of Prayer for Good Harvests built?"
    );
    // A question that stands alone is searched as asked.
    let mut other = ask("鼓楼是什么时候重建的？", Some("culture"));
    other.history = vec![a.turn(q)];
    let (c, _) = run(&agent, other).await;
    assert_eq!(c.query, "鼓楼是什么时候重建的？");
    assert!(c.text.contains("1420"), "{}", c.text);
}

#[tokio::test]
async fn medicine_extractive_answers_state_strength_evidence_and_version() {
    let agent = agent(None, |_| {}).await;
    let (a, _) = run(
        &agent,
        ask("What is the starting dose of metformin?", Some("medicine")),
    )
    .await;
    assert!(a.text.contains("500 mg"), "{}", a.text);
    assert!(a.text.contains("strength: strong; evidence: A; guideline: Test Metformin Guideline, version 2025 test v2"), "{}", a.text);
}

#[tokio::test]
async fn below_the_relevance_threshold_nothing_is_asked_of_the_model() {
    let server = FakeLlm::start(vec![Reply::Text("made up".into())]).await;
    let strict = agent(Some(&server), |c| {
        c.agent.min_relevance = 0.90;
        c.agent.coverage_weight = 0.15;
        c.agent.min_term_coverage = 0.3;
    })
    .await;
    let (a, _) = run(
        &strict,
        ask(
            "How do quantum error-correcting codes protect qubits?",
            None,
        ),
    )
    .await;
    assert!(a.abstained);
    assert_eq!(
        a.text,
        "The sources do not contain an answer to this question."
    );
    assert!(server.received().is_empty());
    assert!(a.relevance.coverage < 0.3, "{:?}", a.relevance);
    // The same thresholds let an answerable question through.
    let server = FakeLlm::start(vec![Reply::Text("Built 1406–1420 [1].".into())]).await;
    let agent2 = agent(Some(&server), |c| {
        c.agent.min_relevance = 0.90;
        c.agent.coverage_weight = 0.15;
        c.agent.min_term_coverage = 0.3;
    })
    .await;
    let (b, _) = run(&agent2, ask(HEAVEN_Q, None)).await;
    assert!(!b.abstained, "{:?}", b.relevance);
}

#[tokio::test]
async fn the_prompt_fits_the_context_budget() {
    let server = FakeLlm::start(vec![Reply::Text("Built 1406–1420 [1].".into())]).await;
    let agent = agent(Some(&server), |c| {
        c.llm.context_tokens = 800;
        c.llm.max_answer_tokens = 200;
        c.agent.passages = 5;
    })
    .await;
    let (_, events) = run(&agent, ask(HEAVEN_Q, None)).await;
    assert!(matches!(
        events[0],
        AnswerEvent::Started { passages: 5, .. }
    ));
    let msgs = server.received()[0].messages();
    let sent: usize = msgs
        .iter()
        .map(|(_, c)| {
            c.chars()
                .map(|ch| if ch > '\u{2e80}' { 1.0 } else { 1.0 / 3.0 })
                .sum::<f64>() as usize
                + 8
        })
        .sum();
    assert!(sent <= 600, "estimated {sent} tokens");
    let fenced = msgs.last().unwrap().1.matches("<<<PASSAGE").count();
    assert!((1..5).contains(&fenced), "{fenced} passages kept");
}

#[tokio::test]
async fn prompts_are_read_from_the_folder_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../prompts");
    for rel in ["answer", ""] {
        std::fs::create_dir_all(dir.path().join(rel)).unwrap();
        for e in std::fs::read_dir(prompts.join(rel)).unwrap().flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), dir.path().join(rel).join(e.file_name())).unwrap();
            }
        }
    }
    let base = dir.path().join("answer/base.en.j2");
    let edited =
        std::fs::read_to_string(&base).unwrap() + "\n6. Sign every answer with EDITED-RULE-42.\n";
    std::fs::write(&base, edited).unwrap();
    let server = FakeLlm::start(vec![Reply::Text("Built 1406–1420 [1].".into())]).await;
    let folder = dir.path().to_path_buf();
    let agent = agent(Some(&server), |c| c.agent.prompts_dir = folder).await;
    assert!(matches!(
        agent.prompts().source(),
        zhiku_agent::PromptSource::Folder(_)
    ));
    run(&agent, ask(HEAVEN_Q, Some("culture"))).await;
    let system = &server.received()[0].messages()[0].1;
    assert!(system.contains("EDITED-RULE-42"), "{system}");
    assert!(
        system.contains("phone"),
        "the domain template still extends the edited base"
    );
    // A template that does not parse is reported when the agent starts, with its name.
    std::fs::write(dir.path().join("answer/general.en.j2"), "{% if %}").unwrap();
    let s = shared().await;
    let mut config = s.config.clone();
    config.agent.prompts_dir = dir.path().to_path_buf();
    let err = Agent::new(s.retriever.clone(), s.registry.clone(), &config)
        .err()
        .unwrap();
    assert!(err.to_string().contains("general.en.j2"), "{err}");
}

#[tokio::test]
async fn bad_requests_are_clear_errors() {
    let agent = agent(None, |_| {}).await;
    let cases: Vec<(AskRequest, &str)> = vec![
        (ask("   ", None), "empty"),
        (ask(&"问".repeat(100_000 / 3), None), "characters long"),
        (ask(HEAVEN_Q, Some("astrology")), "unknown domain"),
    ];
    for (req, expect) in cases {
        let err: AgentError = agent.ask(req, |_| {}).await.unwrap_err();
        assert!(err.is_caller_error(), "{err}");
        assert!(err.to_string().contains(expect), "{err}");
    }
}
