//! Every route of `zhiku serve` over real HTTP: operations, the JSON API, the OpenAI-compatible
//! endpoint (with a real OpenAI client library), administration; clearance that cannot be
//! widened, conversations that cannot be crossed, bad requests of every kind, ingest while
//! serving, a failing model, graceful shutdown, and both databases.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zhiku_testkit::{FakeLlm, Reply};

use common::{answer_with, assert_error, client, config, doc_ids, shared, start, write_corpus};

async fn post(url: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = client().post(url).json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = client().get(url);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_text(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn levels(hits: &Value) -> Vec<String> {
    hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["chunk"]["classification"].as_str().unwrap().to_string())
        .collect()
}

/// Whether a text cites a passage with an `[n]` marker.
fn has_marker(text: &str) -> bool {
    text.split('[').skip(1).any(|rest| {
        rest.split_once(']')
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

const PUMP_Q: &str = "胰岛素泵故障 内部处置 流程代号";

#[tokio::test]
async fn operations_health_readiness_metrics_openapi_and_request_ids() {
    let s = shared();
    let (st, body) = get(&format!("{}/healthz", s.url), None).await;
    assert_eq!((st, body["status"].as_str()), (200, Some("ok")));
    let (st, ready) = get(&format!("{}/readyz", s.url), None).await;
    assert_eq!(st, 200, "{ready}");
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["database"]["detail"], "sqlite");
    assert_eq!(ready["llm_configured"], false, "says extractive");
    // Whether the indexes answer, never how much they hold (it would count what an anonymous
    // caller may not see).
    assert_eq!(ready["indexes"]["detail"], "open", "{ready}");

    // A request id on every response: the client's if sane, else a new one.
    let r = client()
        .get(format!("{}/healthz", s.url))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-42");
    let r = client()
        .get(format!("{}/no/such", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_such_route");
    let r = client()
        .delete(format!("{}/v1/search", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);

    post(
        &format!("{}/v1/search", s.url),
        None,
        json!({"query": "勾股定理"}),
    )
    .await;
    post(
        &format!("{}/v1/ask", s.url),
        None,
        json!({"question": "勾股定理是什么", "remember": false}),
    )
    .await;
    let metrics = get_text(&format!("{}/metrics", s.url)).await;
    for name in [
        "zhiku_http_requests_total{route=\"/v1/search\",status=\"200\"}",
        "zhiku_http_request_duration_seconds_bucket",
        "zhiku_retrieval_duration_seconds_bucket{door=\"search\"",
        "zhiku_answer_duration_seconds_bucket{mode=\"extractive\"",
        "zhiku_answer_first_text_seconds",
        "zhiku_abstentions_total",
        "zhiku_model_fallbacks_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    let (st, doc) = get(&format!("{}/openapi.json", s.url), None).await;
    assert_eq!(st, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/models",
        "/v1/chat/completions",
        "/v1/search",
        "/v1/ask",
        "/v1/near",
        "/v1/stats",
        "/v1/conversations/{id}",
        "/v1/conversations/{id}/feedback",
        "/admin/ingest",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} not documented");
    }
    // Generated from the types: the search body's fields, and no clearance among them.
    let search = &doc["components"]["schemas"]["SearchBody"]["properties"];
    assert!(
        search.get("query").is_some() && search.get("filters").is_some(),
        "{search}"
    );
    assert!(search.get("clearance").is_none());
}

#[tokio::test]
async fn clearance_comes_from_the_key_and_a_body_cannot_widen_it() {
    let s = shared();
    let url = format!("{}/v1/search", s.url);
    let q = json!({"query": PUMP_Q, "k": 10});
    let (st, anon) = post(&url, None, q.clone()).await;
    assert_eq!(st, 200, "{anon}");
    assert!(
        levels(&anon).iter().all(|l| l == "public"),
        "{:?}",
        levels(&anon)
    );
    let (_, nurse) = post(&url, Some(&s.nurse), q.clone()).await;
    assert!(
        doc_ids(&nurse).contains(&"fx-pump-internal".to_string()),
        "{:?}",
        doc_ids(&nurse)
    );
    assert!(!doc_ids(&nurse).contains(&"fx-pump-restricted".to_string()));
    let (_, doctor) = post(&url, Some(&s.doctor), q.clone()).await;
    assert!(
        doc_ids(&doctor).contains(&"fx-pump-restricted".to_string()),
        "{:?}",
        doc_ids(&doctor)
    );

    // Asking for more in the body is an error, never a wider search.
    for body in [
        json!({"query": PUMP_Q, "clearance": "restricted"}),
        json!({"query": PUMP_Q, "filter": {"clearance": "restricted"}}),
    ] {
        let (st, err) = post(&url, None, body).await;
        assert_error(st, &err, 422, "invalid_body");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("unknown field"),
            "{err}"
        );
    }
    let (st, err) = post(
        &url,
        None,
        json!({"query": PUMP_Q, "filters": {"classification": "restricted"}}),
    )
    .await;
    assert_error(st, &err, 400, "unknown_filter_key");
    // The nurse's key holds medicine only: asking for culture is refused, not widened.
    let (st, err) = post(
        &url,
        Some(&s.nurse),
        json!({"query": "天坛", "domains": ["culture"]}),
    )
    .await;
    assert_error(st, &err, 403, "forbidden");
    let (_, only) = post(
        &url,
        Some(&s.nurse),
        json!({"query": "天坛 Temple of Heaven", "k": 10}),
    )
    .await;
    assert!(
        only["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["chunk"]["domain"] == "medicine"),
        "{only}"
    );

    // The same through the OpenAI door and the ask route: no restricted passage is cited.
    let (st, chat) = post(
        &format!("{}/v1/chat/completions", s.url),
        None,
        json!({"model": "zhiku", "messages": [{"role": "user", "content": PUMP_Q}], "clearance": "restricted"}),
    )
    .await;
    assert_eq!(st, 200, "{chat}");
    let cited: Vec<&str> = chat["zhiku"]["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["doc_id"].as_str().unwrap())
        .collect();
    assert!(!cited.iter().any(|d| d.starts_with("fx-pump")), "{cited:?}");
    let content = chat["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        !content.contains("ZK-RESTRICTED") && !content.contains("ZK-INTERNAL"),
        "{content}"
    );
    let (st, err) = post(
        &format!("{}/v1/ask", s.url),
        None,
        json!({"question": PUMP_Q, "clearance": "restricted"}),
    )
    .await;
    assert_error(st, &err, 422, "invalid_body");
    let (st, a) = post(
        &format!("{}/v1/ask", s.url),
        Some(&s.doctor),
        json!({"question": PUMP_Q, "domain": "medicine", "remember": false}),
    )
    .await;
    assert_eq!(st, 200, "{a}");
    assert!(
        a["text"].as_str().unwrap().contains("ZK-RESTRICTED-7"),
        "{a}"
    );
}

#[tokio::test]
async fn conversations_belong_to_their_caller_and_clinical_text_is_not_stored() {
    let s = shared();
    let ask = format!("{}/v1/ask", s.url);
    let (st, first) = post(
        &ask,
        Some(&s.doctor),
        json!({"question": "天坛是什么时候建成的？", "domain": "culture"}),
    )
    .await;
    assert_eq!(st, 200, "{first}");
    let id = first["conversation_id"].as_str().unwrap().to_string();
    let (st, follow) = post(
        &ask,
        Some(&s.doctor),
        json!({"question": "它有多大？", "domain": "culture", "conversation_id": id}),
    )
    .await;
    assert_eq!(st, 200, "{follow}");
    assert_ne!(
        follow["query"], "它有多大？",
        "the follow-up was read with its history: {follow}"
    );
    let conv = format!("{}/v1/conversations/{id}", s.url);
    let (st, mine) = get(&conv, Some(&s.doctor)).await;
    assert_eq!(st, 200, "{mine}");
    assert_eq!(mine["turns"].as_array().unwrap().len(), 2);
    assert_eq!(mine["turns"][0]["question"], "天坛是什么时候建成的？");

    // Anyone else: "not found", exactly as for an id that never existed.
    for key in [Some(s.nurse.as_str()), None] {
        let (st, err) = get(&conv, key).await;
        assert_error(st, &err, 404, "conversation_not_found");
        let (st, err) = post(
            &ask,
            key,
            json!({"question": "它有多大？", "conversation_id": id}),
        )
        .await;
        assert_error(st, &err, 404, "conversation_not_found");
        let (st, err) = post(
            &format!("{conv}/feedback"),
            key,
            json!({"seq": 1, "rating": 1}),
        )
        .await;
        assert_error(st, &err, 404, "conversation_not_found");
    }
    let (st, fb) = post(
        &format!("{conv}/feedback"),
        Some(&s.doctor),
        json!({"seq": 1, "rating": 1, "comment": "有用"}),
    )
    .await;
    assert_eq!(st, 200, "{fb}");
    let (st, err) = post(
        &format!("{conv}/feedback"),
        Some(&s.doctor),
        json!({"seq": 1, "rating": 5}),
    )
    .await;
    assert_error(st, &err, 400, "invalid_query");

    // A clinical question is answered, and its turn kept without its texts.
    let (st, med) = post(
        &ask,
        Some(&s.doctor),
        json!({"question": "What is the starting dose of metformin?", "domain": "medicine"}),
    )
    .await;
    assert_eq!(st, 200, "{med}");
    let (_, kept) = get(
        &format!(
            "{}/v1/conversations/{}",
            s.url,
            med["conversation_id"].as_str().unwrap()
        ),
        Some(&s.doctor),
    )
    .await;
    assert_eq!(kept["turns"][0]["question"], Value::Null, "{kept}");
    assert_eq!(kept["turns"][0]["answer"], Value::Null, "{kept}");
    assert_eq!(kept["turns"][0]["domain"], "medicine");
}

#[tokio::test]
async fn a_conversation_never_shows_text_above_the_present_clearance() {
    let s = shared();
    let engine = s.engine.clone();
    // The same principal, first with restricted clearance, then with public (a key whose
    // clearance was lowered): the restricted turn is withheld and not used as history.
    let (view, answer) = s
        .runtime
        .spawn(async move {
            use zhiku_engine::{AskInput, Caller, Channel, Classification, History};
            let high = Caller::authenticated(
                "user:lowered",
                Channel::Web,
                Classification::Restricted,
                None,
                false,
            );
            let low = Caller::authenticated(
                "user:lowered",
                Channel::Web,
                Classification::Public,
                None,
                false,
            );
            let first = engine
                .ask(
                    engine
                        .prepare(
                            &high,
                            AskInput {
                                question: PUMP_Q.into(),
                                history: History::Stored(None),
                                ..Default::default()
                            },
                        )
                        .await
                        .unwrap(),
                    |_| {},
                )
                .await
                .unwrap();
            let id = first.conversation_id.clone().unwrap();
            assert!(first.text.contains("ZK-"), "{}", first.text);
            let view = engine.conversation(&low, &id).await.unwrap();
            let second = engine
                .ask(
                    engine
                        .prepare(
                            &low,
                            AskInput {
                                question: "那后来呢？".into(),
                                history: History::Stored(Some(id)),
                                ..Default::default()
                            },
                        )
                        .await
                        .unwrap(),
                    |_| {},
                )
                .await
                .unwrap();
            (view, second)
        })
        .await
        .unwrap();
    assert!(
        view.turns[0].withheld && view.turns[0].question.is_none(),
        "{view:?}"
    );
    assert!(
        !answer.query.contains("胰岛素"),
        "the withheld turn was not history: {}",
        answer.query
    );
    assert!(!answer.text.contains("ZK-RESTRICTED"), "{}", answer.text);
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_hurt_nobody() {
    let s = shared();
    let search = format!("{}/v1/search", s.url);
    let raw = |body: &'static str, ctype: &'static str| {
        let search = search.clone();
        async move {
            let r = client()
                .post(&search)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            (st, r.json::<Value>().await.unwrap())
        }
    };
    let (st, b) = raw("{\"query\": ", "application/json").await;
    assert_error(st, &b, 400, "malformed_json");
    let (st, b) = raw("{\"query\": 42}", "application/json").await;
    assert_error(st, &b, 422, "invalid_body");
    let (st, b) = raw("{\"k\": 3}", "application/json").await;
    assert_error(st, &b, 422, "invalid_body");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("query"),
        "{b}"
    );
    let (st, b) = raw("query=x", "application/x-www-form-urlencoded").await;
    assert_error(st, &b, 415, "unsupported_media_type");
    let (st, b) = post(
        &search,
        None,
        json!({"query": "x", "domains": ["astrology"]}),
    )
    .await;
    assert_error(st, &b, 400, "unknown_domain");
    let (st, b) = post(&search, None, json!({"query": "   "})).await;
    assert_error(st, &b, 400, "invalid_query");
    let (st, b) = post(&search, None, json!({"query": "问".repeat(2_001)})).await;
    assert_error(st, &b, 400, "invalid_query");
    let (st, b) = post(&search, None, json!({"query": "x", "mode": "magic"})).await;
    assert_error(st, &b, 400, "invalid_mode");
    let (st, b) = post(
        &search,
        None,
        json!({"query": "x", "near": {"lat": 91.0, "lon": 0.0}}),
    )
    .await;
    assert_error(st, &b, 400, "invalid_filter");
    let (st, b) = post(&search, None, json!({"query": "x".repeat(70_000)})).await;
    assert_error(st, &b, 413, "body_too_large");
    let (st, b) = post(
        &format!("{}/v1/ask", s.url),
        None,
        json!({"question": "x", "conversation_id": "no-such"}),
    )
    .await;
    assert_error(st, &b, 404, "conversation_not_found");
    let (st, b) = get(&format!("{}/v1/near?lat=abc&lon=1", s.url), None).await;
    assert_error(st, &b, 400, "invalid_query_string");
    let (st, b) = get(&format!("{}/v1/models", s.url), Some("zk_not_a_key")).await;
    assert_error(st, &b, 401, "invalid_credentials");
    // An empty bearer token (an OpenAI client with its key left blank) is anonymous.
    let r = client()
        .get(format!("{}/v1/models", s.url))
        .header("authorization", "Bearer ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .get(format!("{}/v1/models", s.url))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let chat = format!("{}/v1/chat/completions", s.url);
    let (st, b) = post(
        &chat,
        None,
        json!({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_error(st, &b, 404, "model_not_found");
    let (st, b) = post(&chat, None, json!({"model": "zhiku", "messages": []})).await;
    assert_error(st, &b, 400, "no_question");
    let (st, b) = post(
        &chat,
        None,
        json!({"model": "zhiku", "messages": [{"role": "assistant", "content": "hi"}]}),
    )
    .await;
    assert_error(st, &b, 400, "no_question");
    let many: Vec<Value> = (0..65)
        .map(|_| json!({"role": "user", "content": "hi"}))
        .collect();
    let (st, b) = post(&chat, None, json!({"model": "zhiku", "messages": many})).await;
    assert_error(st, &b, 400, "too_many_messages");

    // A body that never ends: 408 after server.body_timeout_ms (1 s here), while a neighbour
    // is served normally meanwhile.
    let addr = s.url.trim_start_matches("http://").to_string();
    let slow = tokio::spawn(async move {
        let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
        sock.write_all(b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":").await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), sock.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    });
    let (st, ok) = post(&search, None, json!({"query": "勾股定理"})).await;
    assert_eq!(st, 200, "{ok}");
    let reply = slow.await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("body_timeout"), "{reply}");
    let (st, _) = get(&format!("{}/healthz", s.url), None).await;
    assert_eq!(st, 200, "the server is still up");
}

#[tokio::test]
async fn an_openai_client_lists_models_and_gets_answers_whole_and_streamed() {
    use async_openai::config::OpenAIConfig;
    use async_openai::types::{
        ChatCompletionRequestAssistantMessageArgs, ChatCompletionRequestUserMessageArgs,
        CreateChatCompletionRequestArgs,
    };
    let s = shared();
    let openai = async_openai::Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{}/v1", s.url))
            .with_api_key("unused"),
    );
    // (a key that is not ours is refused; this client sends one, so use the doctor's)
    let openai_doctor = async_openai::Client::with_config(
        OpenAIConfig::new()
            .with_api_base(format!("{}/v1", s.url))
            .with_api_key(s.doctor.clone()),
    );
    assert!(
        openai.models().list().await.is_err(),
        "an unknown key is refused"
    );
    let models = openai_doctor.models().list().await.unwrap();
    let ids: Vec<String> = models.data.iter().map(|m| m.id.clone()).collect();
    assert_eq!(
        ids,
        [
            "zhiku",
            "zhiku-education",
            "zhiku-medicine",
            "zhiku-culture"
        ]
    );

    let request = CreateChatCompletionRequestArgs::default()
        .model("zhiku-education")
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("勾股定理的内容是什么？")
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap();
    let whole = openai_doctor.chat().create(request.clone()).await.unwrap();
    let text = whole.choices[0].message.content.clone().unwrap();
    assert!(has_marker(&text) && text.contains("a²+b²=c²"), "{text}");
    assert!(
        text.contains("抽取式"),
        "the extractive notice is visible in the text: {text}"
    );

    let mut stream = openai_doctor.chat().create_stream(request).await.unwrap();
    let mut streamed = String::new();
    let mut pieces = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(c) = &chunk.choices[0].delta.content {
            streamed.push_str(c);
            pieces += 1;
        }
    }
    assert!(pieces > 2, "streamed in pieces");
    assert_eq!(streamed.trim(), text.trim(), "streamed and whole agree");

    // History is the conversation: an earlier exchange makes the follow-up searchable.
    let follow = CreateChatCompletionRequestArgs::default()
        .model("zhiku-education")
        .messages([
            ChatCompletionRequestUserMessageArgs::default()
                .content("勾股定理的内容是什么？")
                .build()
                .unwrap()
                .into(),
            ChatCompletionRequestAssistantMessageArgs::default()
                .content(text.clone())
                .build()
                .unwrap()
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content("它怎么证明？")
                .build()
                .unwrap()
                .into(),
        ])
        .build()
        .unwrap();
    let answer = openai_doctor.chat().create(follow).await.unwrap();
    assert!(has_marker(
        answer.choices[0].message.content.as_deref().unwrap_or("")
    ));

    // The sources travel in the final chunk's `zhiku` field; the stream ends with [DONE].
    let raw = client()
        .post(format!("{}/v1/chat/completions", s.url))
        .json(&json!({"model": "zhiku", "stream": true, "messages": [{"role": "user", "content": "When was the Temple of Heaven built?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-type"], "text/event-stream");
    let body = raw.text().await.unwrap();
    let data: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let last: Value = serde_json::from_str(data[data.len() - 2]).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(
        !last["zhiku"]["citations"].as_array().unwrap().is_empty(),
        "{last}"
    );
}

#[tokio::test]
async fn ask_streams_events_and_spots_near_a_point_are_nearest_first() {
    let s = shared();
    let r = client()
        .post(format!("{}/v1/ask", s.url))
        .json(&json!({"question": "勾股定理的内容是什么？", "domain": "education", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"started"), "{body}");
    assert_eq!(events.last(), Some(&"done"), "{body}");
    assert!(
        events.contains(&"text") && events.contains(&"citation"),
        "{events:?}"
    );

    let (st, near) = get(
        &format!(
            "{}/v1/near?lat=39.9163&lon=116.3972&radius_m=3000&k=5",
            s.url
        ),
        None,
    )
    .await;
    assert_eq!(st, 200, "{near}");
    let spots = near["spots"].as_array().unwrap();
    assert!(!spots.is_empty(), "{near}");
    let d: Vec<f64> = spots
        .iter()
        .map(|s| s["distance_m"].as_f64().unwrap())
        .collect();
    assert!(
        d.windows(2).all(|w| w[0] <= w[1]) && d.iter().all(|x| *x <= 3000.0),
        "{d:?}"
    );
    let (st, stats) = get(&format!("{}/v1/stats", s.url), None).await;
    assert_eq!(st, 200);
    assert!(stats["documents"].as_u64().unwrap() >= 6, "{stats}");
}

#[tokio::test]
async fn documents_are_added_while_serving_and_searches_go_on() {
    let s = shared();
    let ingest = format!("{}/admin/ingest", s.url);
    let new_dir = s.root.join("later/culture");
    std::fs::create_dir_all(&new_dir).unwrap();
    std::fs::write(
        new_dir.join("drum-tower.md"),
        "---\nid: fx-drum-tower-later\ntitle: 钟鼓楼新展\n---\n# 钟鼓楼新展\n\n钟鼓楼推出夜间击鼓表演，代号 ZK-LATER-9，每晚七点开始。\n",
    )
    .unwrap();
    let body = json!({"paths": [new_dir.parent().unwrap()]});
    let (st, err) = post(&ingest, None, body.clone()).await;
    assert_error(st, &err, 401, "missing_credentials");
    let (st, err) = post(&ingest, Some(&s.doctor), body.clone()).await;
    assert_error(st, &err, 403, "forbidden");
    let (st, err) = post(
        &ingest,
        Some(&s.admin),
        json!({"paths": ["/no/such/folder"]}),
    )
    .await;
    assert_error(st, &err, 400, "no_such_path");

    // Searches keep being answered while the ingest runs.
    let url = s.url.clone();
    let searching = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            let (st, _) = post(&format!("{url}/v1/search"), None, json!({"query": "天坛"})).await;
            statuses.push(st);
        }
        statuses
    });
    let (st, report) = post(&ingest, Some(&s.admin), body).await;
    assert_eq!(st, 200, "{report}");
    assert_eq!(report["written"], 1, "{report}");
    assert!(searching.await.unwrap().iter().all(|s| *s == 200));
    let (_, hits) = post(
        &format!("{}/v1/search", s.url),
        None,
        json!({"query": "夜间击鼓表演 ZK-LATER-9"}),
    )
    .await;
    assert_eq!(
        doc_ids(&hits).first().map(String::as_str),
        Some("fx-drum-tower-later"),
        "{hits}"
    );

    // An upload: kept under the data directory, ingested into the named domain.
    let form = reqwest::multipart::Form::new().text("domain", "education").part(
        "file",
        reqwest::multipart::Part::bytes(
            "---\nid: fx-upload\ntitle: 上传的讲义\n---\n# 圆的面积\n\n圆的面积公式是 S=πr²，代号 ZK-UPLOAD-3。\n".as_bytes().to_vec(),
        )
        .file_name("../../circle.md"),
    );
    let r = client()
        .post(&ingest)
        .bearer_auth(&s.admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let report: Value = r.json().await.unwrap();
    assert_eq!(st, 200, "{report}");
    assert_eq!(report["written"], 1, "{report}");
    assert!(
        s.engine
            .data_dir()
            .join("uploads/education/circle.md")
            .is_file(),
        "no path escape"
    );
    let (_, hits) = post(
        &format!("{}/v1/search", s.url),
        None,
        json!({"query": "圆的面积公式 ZK-UPLOAD-3", "domains": ["education"]}),
    )
    .await;
    assert_eq!(
        doc_ids(&hits).first().map(String::as_str),
        Some("fx-upload"),
        "{hits}"
    );
}

#[tokio::test]
async fn a_failing_model_degrades_visibly_busy_slots_get_429_and_shutdown_lets_streams_finish() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);
    let llm = FakeLlm::start(vec![
        Reply::Status {
            code: 500,
            retry_after: None,
        },
        Reply::StallAfter(
            vec!["Start metformin at 500 mg once daily [1].".into()],
            Duration::from_millis(1500),
        ),
        Reply::Text("Start metformin at 500 mg once daily [1].".into()),
    ])
    .await;
    let mut cfg = config(root.path());
    answer_with(&mut cfg, &llm);
    cfg.llm.first_token_timeout_ms = 10_000;
    cfg.server.max_concurrent_answers = 1;
    cfg.server.queue_timeout_ms = 100;
    cfg.server.anonymous = false;
    let running = start(cfg, Some(&corpus)).await;
    let (_, key) = running
        .engine
        .store()
        .create_key(&zhiku_engine::NewKey {
            name: "tester".into(),
            channel: zhiku_core::Channel::Api,
            clearance: zhiku_core::Classification::Public,
            domains: None,
            admin: false,
            ..Default::default()
        })
        .await
        .unwrap();
    let key = key.as_str();
    let (_, ready) = get(&format!("{}/readyz", running.url), None).await;
    assert_eq!(
        (
            ready["llm_configured"].as_bool(),
            ready["llm_model"].as_str()
        ),
        (Some(true), Some("fake"))
    );

    // The model fails: an extractive answer, saying why, in the text and in the notices.
    let chat = format!("{}/v1/chat/completions", running.url);
    // Anonymous access is off here: no key, no answer.
    let (st, err) = post(
        &chat,
        None,
        json!({"model": "zhiku", "messages": [{"role": "user", "content": "metformin"}]}),
    )
    .await;
    assert_error(st, &err, 401, "missing_credentials");
    let (st, a) = post(&chat, Some(key), json!({"model": "zhiku-medicine", "messages": [{"role": "user", "content": "What is the starting dose of metformin?"}]})).await;
    assert_eq!(st, 200, "{a}");
    assert_eq!(a["zhiku"]["mode"], "extractive");
    assert!(!a["zhiku"]["notices"].as_array().unwrap().is_empty());
    let metrics = get_text(&format!("{}/metrics", running.url)).await;
    assert!(
        metrics.contains("zhiku_model_fallbacks_total 1"),
        "{metrics}"
    );

    // A slow streamed answer holds the only slot: a second question gets 429 with Retry-After.
    let slow = client()
        .post(&chat)
        .bearer_auth(key)
        .json(&json!({"model": "zhiku-medicine", "stream": true, "messages": [{"role": "user", "content": "What is the starting dose of metformin?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(slow.status(), 200);
    let r = client()
        .post(&chat)
        .bearer_auth(key)
        .json(&json!({"model": "zhiku", "messages": [{"role": "user", "content": "metformin"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "busy");

    // Shutdown now: the stream in flight still finishes, ending with [DONE].
    let stopping = tokio::spawn(running.stop());
    let body = slow.text().await.unwrap();
    assert!(
        body.contains("500 mg") && body.trim_end().ends_with("data: [DONE]"),
        "{body}"
    );
    stopping.await.unwrap();
}

#[tokio::test]
async fn conversations_live_in_postgresql_when_configured() {
    let Some(url) =
        zhiku_testkit::test_database_url("conversations_live_in_postgresql_when_configured")
    else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    write_corpus(&corpus);
    let mut cfg = config(root.path());
    cfg.database.url = url;
    let running = start(cfg, Some(&corpus)).await;
    let (_, ready) = get(&format!("{}/readyz", running.url), None).await;
    assert_eq!(ready["database"]["detail"], "postgres", "{ready}");
    let (_, secret) = running
        .engine
        .store()
        .create_key(&zhiku_engine::NewKey {
            name: "pg-user".into(),
            channel: zhiku_core::Channel::Api,
            clearance: zhiku_core::Classification::Public,
            domains: None,
            admin: false,
            ..Default::default()
        })
        .await
        .unwrap();
    let (st, a) = post(
        &format!("{}/v1/ask", running.url),
        Some(&secret),
        json!({"question": "勾股定理的内容是什么？"}),
    )
    .await;
    assert_eq!(st, 200, "{a}");
    let id = a["conversation_id"].as_str().unwrap();
    let (st, conv) = get(
        &format!("{}/v1/conversations/{id}", running.url),
        Some(&secret),
    )
    .await;
    assert_eq!(st, 200, "{conv}");
    assert_eq!(conv["turns"][0]["question"], "勾股定理的内容是什么？");
    let (st, _) = get(&format!("{}/v1/conversations/{id}", running.url), None).await;
    assert_eq!(st, 404);
    running.stop().await;
}
