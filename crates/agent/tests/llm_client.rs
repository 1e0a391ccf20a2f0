//! The chat-completions client against a real local HTTP server speaking the OpenAI
//! protocol, with scripted failures.

use std::time::{Duration, Instant};

use zhiku_agent::llm::{ChatClient, ChatMessage, LlmError};
use zhiku_core::LlmConfig;
use zhiku_testkit::{FakeLlm, Reply};

fn config(server: &FakeLlm) -> LlmConfig {
    LlmConfig {
        base_url: server.base_url(),
        model: "fake-model".into(),
        connect_timeout_ms: 1_000,
        first_token_timeout_ms: 400,
        total_timeout_ms: 5_000,
        max_retries: 2,
        backoff_ms: 20,
        ..LlmConfig::default()
    }
}

fn question() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("Answer from the passages."),
        ChatMessage::user("故宫建于哪一年？"),
    ]
}

async fn run(
    client: &ChatClient,
    stream: bool,
) -> (Result<zhiku_agent::llm::Completion, LlmError>, Vec<String>) {
    let mut deltas = Vec::new();
    let r = client
        .chat(&question(), stream, 256, |d| deltas.push(d.to_string()))
        .await;
    (r, deltas)
}

#[tokio::test]
async fn normal_stream_arrives_in_pieces() {
    let server = FakeLlm::start(vec![Reply::Stream(vec![
        "故宫".into(),
        "始建于".into(),
        "1406年[1]。".into(),
    ])])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, deltas) = run(&client, true).await;
    let c = r.unwrap();
    assert_eq!(c.text, "故宫始建于1406年[1]。");
    assert_eq!(deltas, vec!["故宫", "始建于", "1406年[1]。"]);
    assert_eq!(c.attempts, 1);
    let sent = &server.received()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.body["model"], "fake-model");
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["max_tokens"], 256);
    assert_eq!(sent.messages()[1].1, "故宫建于哪一年？");
    assert_eq!(sent.authorization, None, "no key configured, no header");
}

#[tokio::test]
async fn whole_answer_without_streaming() {
    let server = FakeLlm::start(vec![Reply::Whole("Built in 1406 [1].".into())]).await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, deltas) = run(&client, false).await;
    assert_eq!(r.unwrap().text, "Built in 1406 [1].");
    assert_eq!(deltas, vec!["Built in 1406 [1]."]);
    assert_eq!(server.received()[0].body["stream"], false);
}

#[tokio::test]
async fn the_key_comes_from_the_named_environment_variable() {
    let server = FakeLlm::start(vec![Reply::Text("ok".into())]).await;
    let mut cfg = config(&server);
    cfg.api_key_env = "ZHIKU_TEST_KEY_THAT_IS_NOT_SET".into();
    let err = ChatClient::new(&cfg).unwrap_err();
    assert!(
        err.to_string().contains("ZHIKU_TEST_KEY_THAT_IS_NOT_SET"),
        "{err}"
    );
    // Set for this process only; no other test reads this variable.
    std::env::set_var("ZHIKU_TEST_KEY_SET", "sk-test-123");
    cfg.api_key_env = "ZHIKU_TEST_KEY_SET".into();
    let client = ChatClient::new(&cfg).unwrap();
    assert!(
        !format!("{client:?}").contains("sk-test-123"),
        "the key never reaches Debug output"
    );
    run(&client, true).await.0.unwrap();
    assert_eq!(
        server.received()[0].authorization.as_deref(),
        Some("Bearer sk-test-123")
    );
}

#[tokio::test]
async fn rate_limited_then_success_waits_for_retry_after() {
    let server = FakeLlm::start(vec![
        Reply::Status {
            code: 429,
            retry_after: Some("1".into()),
        },
        Reply::Text("第二次成功[1]。".into()),
    ])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let t = Instant::now();
    let (r, _) = run(&client, true).await;
    let c = r.unwrap();
    assert_eq!(c.text, "第二次成功[1]。");
    assert_eq!(c.attempts, 2);
    assert_eq!(server.received().len(), 2);
    // Retry-After: 1 is honoured over the 20 ms backoff (a lower bound, not a timing claim).
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let server = FakeLlm::start(vec![
        Reply::Status {
            code: 500,
            retry_after: None,
        },
        Reply::Status {
            code: 502,
            retry_after: None,
        },
        Reply::Status {
            code: 503,
            retry_after: None,
        },
    ])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, deltas) = run(&client, true).await;
    match r.unwrap_err() {
        LlmError::Status {
            status, message, ..
        } => {
            assert_eq!(status, 503);
            assert!(message.contains("scripted failure"), "{message}");
        }
        e => panic!("unexpected {e}"),
    }
    assert_eq!(server.received().len(), 3, "one try plus max_retries = 2");
    assert!(deltas.is_empty());
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = FakeLlm::start(vec![Reply::Status {
        code: 401,
        retry_after: None,
    }])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, _) = run(&client, true).await;
    assert!(matches!(r, Err(LlmError::Status { status: 401, .. })));
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_stall_past_the_first_token_timeout_is_retried_then_reported() {
    let server = FakeLlm::start(vec![
        Reply::Stall(Duration::from_secs(30)),
        Reply::Stall(Duration::from_secs(30)),
    ])
    .await;
    let mut cfg = config(&server);
    cfg.max_retries = 1;
    let client = ChatClient::new(&cfg).unwrap();
    let (r, deltas) = run(&client, true).await;
    assert!(matches!(r, Err(LlmError::FirstTokenTimeout(400))), "{r:?}");
    assert_eq!(server.received().len(), 2);
    assert!(deltas.is_empty());
}

#[tokio::test]
async fn a_connection_dropped_mid_stream_is_not_retried() {
    let server = FakeLlm::start(vec![
        Reply::DropAfter(vec!["故宫".into(), "始建".into()]),
        Reply::Text("never sent".into()),
    ])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, deltas) = run(&client, true).await;
    assert!(matches!(r, Err(LlmError::Interrupted(_))), "{r:?}");
    assert_eq!(deltas, vec!["故宫", "始建"], "what was shown stays shown");
    assert_eq!(
        server.received().len(),
        1,
        "tokens had reached the user: no second answer"
    );
}

#[tokio::test]
async fn a_stream_that_goes_silent_mid_answer_is_cut_not_retried() {
    let server = FakeLlm::start(vec![
        Reply::StallAfter(vec!["故宫".into()], Duration::from_secs(30)),
        Reply::Text("never sent".into()),
    ])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, deltas) = run(&client, true).await;
    match r {
        Err(LlmError::Interrupted(m)) => assert!(m.contains("no data for 400 ms"), "{m}"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(deltas, vec!["故宫"]);
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_reasoning_model_thinking_longer_than_the_first_token_timeout_is_waited_for() {
    let server = FakeLlm::start(vec![Reply::Reasoning {
        thinking: vec!["Let me".into(), " look at".into(), " passage 1.".into()],
        pause: Duration::from_millis(250),
        answer: vec!["Built in 1406 [1].".into()],
    }])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, deltas) = run(&client, true).await;
    assert_eq!(r.unwrap().text, "Built in 1406 [1].");
    assert_eq!(
        deltas,
        vec!["Built in 1406 [1]."],
        "the thinking is not the answer"
    );
}

#[tokio::test]
async fn a_server_that_ignores_stream_true_is_read_whole() {
    let server = FakeLlm::start(vec![Reply::Whole("Built in 1406 [1].".into())]).await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, _) = run(&client, true).await;
    assert_eq!(r.unwrap().text, "Built in 1406 [1].");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn a_malformed_event_is_skipped_and_counted() {
    let server = FakeLlm::start(vec![Reply::MalformedLine(vec![
        "Built ".into(),
        "in 1406 [1].".into(),
    ])])
    .await;
    let client = ChatClient::new(&config(&server)).unwrap();
    let (r, _) = run(&client, true).await;
    let c = r.unwrap();
    assert_eq!(c.text, "Built in 1406 [1].");
    assert_eq!(c.malformed_events, 1);
}

#[tokio::test]
async fn empty_and_non_utf8_answers_are_errors() {
    let server = FakeLlm::start(vec![Reply::Empty, Reply::BadUtf8]).await;
    let mut cfg = config(&server);
    cfg.max_retries = 0;
    let client = ChatClient::new(&cfg).unwrap();
    assert!(matches!(run(&client, true).await.0, Err(LlmError::Empty)));
    assert!(matches!(
        run(&client, true).await.0,
        Err(LlmError::InvalidUtf8)
    ));
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let cfg = LlmConfig {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        model: "m".into(),
        max_retries: 1,
        backoff_ms: 10,
        ..LlmConfig::default()
    };
    let client = ChatClient::new(&cfg).unwrap();
    let (r, _) = run(&client, true).await;
    assert!(matches!(r, Err(LlmError::Connect(_))), "{r:?}");
}
