//! The WeChat mini-program's backend over real HTTP, against a real local stand-in for
//! WeChat's server API (`zhiku_testkit::FakeWeChat`) and the sample culture corpus: login with
//! every `code2Session` outcome (errors, a timeout, malformed replies), session tokens, short
//! answers (whole and streamed, Chinese and English, follow-ups), sights nearby, one sight in
//! full, a day's route, preferences, deletion, the content check, and logs with nothing that
//! identifies a tourist.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Value};
use zhiku_engine::Engine;
use zhiku_testkit::{FakeWeChat, LogBuffer};

use common::{assert_error, client, config, for_the_binary, start};

const SECRET_VAR: &str = "ZHIKU_TEST_MP_SECRET";
const SECRET: &str = "app-secret-for-tests";

struct Mp {
    url: String,
    engine: Arc<Engine>,
    wechat: Arc<FakeWeChat>,
    /// The same corpus behind `content_check = "required"`.
    strict_url: String,
    logs: LogBuffer,
}

fn corpora() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../corpora")
}

fn mp() -> &'static Mp {
    static SHARED: OnceLock<Mp> = OnceLock::new();
    SHARED.get_or_init(|| {
        // The logs of the whole binary, at the level `zhiku serve` logs by default.
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_writer(move || writer.clone())
                .finish(),
        );
        // SAFETY: set once, before any engine reads it, in a test binary of its own.
        unsafe { std::env::set_var(SECRET_VAR, SECRET) };
        for_the_binary(move |_| async move {
            let wechat = Arc::new(FakeWeChat::start("wx-test-app", SECRET).await);
            let root = tempfile::tempdir().unwrap().keep();
            let mut cfg = config(&root);
            cfg.ingest.corpus_root = corpora();
            cfg.mini_program.appid = "wx-test-app".into();
            cfg.mini_program.secret_env = SECRET_VAR.into();
            cfg.mini_program.api_base = wechat.base_url();
            cfg.mini_program.timeout_ms = 1_500;
            let strict_root = tempfile::tempdir().unwrap().keep();
            let mut strict = cfg.clone();
            strict.data_dir = strict_root.join("data");
            strict.mini_program.content_check = zhiku_core::ContentCheck::Required;
            let running = start(cfg, Some(&corpora().join("culture"))).await;
            // The strict server needs only a few sights: its questions are about the check.
            let sights = strict_root.join("culture");
            std::fs::create_dir_all(&sights).unwrap();
            let lines = std::fs::read_to_string(corpora().join("culture/sites.jsonl")).unwrap();
            std::fs::write(
                sights.join("sites.jsonl"),
                lines.lines().take(3).collect::<Vec<_>>().join("\n"),
            )
            .unwrap();
            strict.ingest.corpus_root = strict_root.clone();
            let strict_running = start(strict, Some(&sights)).await;
            let shared = Mp {
                url: running.url.clone(),
                engine: Arc::clone(&running.engine),
                wechat,
                strict_url: strict_running.url.clone(),
                logs,
            };
            // The strict server lives as long as the shared one.
            std::mem::forget(strict_running);
            (shared, running)
        })
    })
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    call(
        reqwest::Method::POST,
        &format!("{}{path}", mp().url),
        token,
        Some(body),
    )
    .await
}

async fn get(path: &str, token: Option<&str>) -> (u16, Value) {
    call(
        reqwest::Method::GET,
        &format!("{}{path}", mp().url),
        token,
        None,
    )
    .await
}

/// A fresh tourist's token (each test logs in users of its own).
async fn login(name: &str) -> String {
    let (status, body) = post(
        "/api/mp/v1/login",
        None,
        json!({"code": format!("ok-{name}")}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn login_maps_every_code2session_outcome() {
    let (status, body) = post("/api/mp/v1/login", None, json!({"code": "ok-ann"})).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("zmp_") && token.len() > 40, "{body}");
    let hours = body["expires_in"].as_i64().unwrap() / 3600;
    assert!((71..=72).contains(&hours), "{body}");
    let text = body.to_string();
    assert!(
        !text.contains("sk-ann") && !text.contains("o-ann"),
        "{text}"
    );
    // WeChat was asked as its API documents.
    let call = mp()
        .wechat
        .calls()
        .into_iter()
        .find(|c| c.query.iter().any(|(k, v)| k == "js_code" && v == "ok-ann"))
        .unwrap();
    assert_eq!(call.method, "GET");
    assert_eq!(call.path, "/sns/jscode2session");
    for (k, v) in [
        ("appid", "wx-test-app"),
        ("secret", SECRET),
        ("grant_type", "authorization_code"),
    ] {
        assert!(
            call.query.contains(&(k.to_string(), v.to_string())),
            "{call:?}"
        );
    }
    for (code, status, want) in [
        ("bad-1", 401, "invalid_code"),
        ("freq-1", 429, "login_too_frequent"),
        ("blocked-1", 403, "user_blocked"),
        ("busy-1", 503, "wechat_busy"),
        ("slow-1", 504, "wechat_timeout"),
        ("garbled-1", 502, "wechat_bad_reply"),
        ("empty-1", 502, "wechat_bad_reply"),
        ("http500-1", 502, "wechat_bad_reply"),
    ] {
        let (s, body) = post("/api/mp/v1/login", None, json!({"code": code})).await;
        assert_error(s, &body, status, want);
        assert!(!body.to_string().contains(SECRET), "{body}");
    }
    let (s, body) = post("/api/mp/v1/login", None, json!({"code": "  "})).await;
    assert_eq!(s, 400, "{body}");
    let (s, body) = post(
        "/api/mp/v1/login",
        None,
        json!({"code": "ok-x", "openid": "o-x"}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
}

#[tokio::test]
async fn every_other_route_needs_a_live_session() {
    let routes = [
        (
            reqwest::Method::POST,
            "/api/mp/v1/ask",
            Some(json!({"question": "故宫什么时候开门？"})),
        ),
        (
            reqwest::Method::GET,
            "/api/mp/v1/spots/nearby?lat=39.91&lng=116.39",
            None,
        ),
        (
            reqwest::Method::GET,
            "/api/mp/v1/spots/forbidden-city",
            None,
        ),
        (
            reqwest::Method::POST,
            "/api/mp/v1/route",
            Some(
                json!({"lat": 39.91, "lng": 116.39, "start_time": "2026-12-08T09:00", "hours": 4}),
            ),
        ),
        (reqwest::Method::GET, "/api/mp/v1/preferences", None),
        (reqwest::Method::DELETE, "/api/mp/v1/me", None),
    ];
    // An expired session: made directly in the store with no time to live.
    let expired = mp()
        .engine
        .store()
        .start_mp_session("someone", "o-someone", "sk", std::time::Duration::ZERO)
        .await
        .unwrap()
        .0;
    for (method, path, body) in routes {
        let url = format!("{}{path}", mp().url);
        let (s, b) = call(method.clone(), &url, None, body.clone()).await;
        assert_error(s, &b, 401, "missing_session");
        for token in ["zmp_unknown", expired.as_str()] {
            let (s, b) = call(method.clone(), &url, Some(token), body.clone()).await;
            assert_error(s, &b, 401, "session_expired");
        }
    }
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn answers_fit_a_phone_in_the_questions_language_and_follow_up() {
    let token = login("bo").await;
    let (s, zh) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "故宫是哪一年建成的？"}),
    )
    .await;
    assert_eq!(s, 200, "{zh}");
    assert_eq!(zh["lang"], "zh");
    let text = zh["answer"].as_str().unwrap();
    assert!(has_cjk(text), "{zh}");
    assert!(
        zhiku_agent::display_width(text) <= 360,
        "{} columns: {text}",
        zhiku_agent::display_width(text)
    );
    let sources = zh["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{zh}");
    assert!(
        sources.iter().any(|s| s["site_id"] == "forbidden-city"),
        "{zh}"
    );
    for s in sources {
        assert!(
            s["marker"].as_u64().is_some() && s["path"].as_str().is_some(),
            "{s}"
        );
    }
    // A follow-up in the same conversation.
    let id = zh["conversation_id"].as_str().unwrap().to_string();
    let (s, next) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "门票多少钱？", "conversation_id": id}),
    )
    .await;
    assert_eq!(s, 200, "{next}");
    assert_eq!(next["conversation_id"], id.as_str());
    assert_eq!(next["turn"], 2);
    // The follow-up is about the Forbidden City's tickets, in a phone's width (360 columns:
    // 180 Chinese characters) once the markers are taken out, without the record's title line.
    let reply = next["answer"].as_str().unwrap();
    let plain: String = reply
        .split('[')
        .map(|p| p.split_once(']').map_or(p, |(_, rest)| rest))
        .collect();
    assert!(
        zhiku_agent::display_width(&plain) <= 360,
        "{} columns: {reply}",
        zhiku_agent::display_width(&plain)
    );
    assert!(
        !reply.contains("故宫（故宫博物院） /") && !reply.contains("**"),
        "{reply}"
    );
    assert!(
        reply.contains("60")
            && next["sources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["site_id"] == "forbidden-city"),
        "{next}"
    );
    // Another tourist cannot continue it.
    let other = login("bo-other").await;
    let (s, body) = post(
        "/api/mp/v1/ask",
        Some(&other),
        json!({"question": "门票多少钱？", "conversation_id": id}),
    )
    .await;
    assert_error(s, &body, 404, "conversation_not_found");

    let (s, en) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "When is the Temple of Heaven open?"}),
    )
    .await;
    assert_eq!(s, 200, "{en}");
    assert_eq!(en["lang"], "en");
    let text = en["answer"].as_str().unwrap();
    assert!(zhiku_agent::display_width(text) <= 360, "{text}");
    // Plain text a mini-program can show: no Markdown, no bilingual field labels.
    for debris in ["**", "##", "地点 Site", "| "] {
        assert!(!text.contains(debris), "{debris:?} in {text}");
    }
    assert!(!has_cjk(text), "one language: {text}");
    assert!(
        en["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["site_id"] == "temple-of-heaven"),
        "{en}"
    );
}

/// The events of a server-sent stream: (event, data).
fn sse_events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_string());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            Some((name?, serde_json::from_str(&data).ok()?))
        })
        .collect()
}

#[tokio::test]
async fn answers_stream_as_server_sent_events() {
    let token = login("cy").await;
    for (body, accept) in [
        (json!({"question": "颐和园在哪里？", "stream": true}), None),
        (
            json!({"question": "What is the Summer Palace?"}),
            Some("text/event-stream"),
        ),
    ] {
        let mut req = client()
            .post(format!("{}/api/mp/v1/ask", mp().url))
            .bearer_auth(&token)
            .json(&body);
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let events = sse_events(&r.text().await.unwrap());
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"started"), "{names:?}");
        assert_eq!(names.last(), Some(&"done"), "{names:?}");
        let streamed: String = events
            .iter()
            .filter(|(n, _)| n == "text")
            .map(|(_, d)| d["text"].as_str().unwrap())
            .collect();
        let done = &events.last().unwrap().1;
        assert_eq!(done["answer"].as_str().unwrap(), streamed, "{done}");
        assert!(zhiku_agent::display_width(&streamed) <= 360);
        assert!(
            done["sources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["site_id"] == "summer-palace"),
            "{done}"
        );
    }
}

#[tokio::test]
async fn the_content_check_refuses_risky_text_and_its_failure_follows_the_configuration() {
    let token = login("dee").await;
    let (s, body) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "RISKY 故宫在哪里？"}),
    )
    .await;
    assert_error(s, &body, 422, "content_rejected");
    // msgSecCheck version 2 got the text, with the tourist's openid.
    let check = mp()
        .wechat
        .calls()
        .into_iter()
        .find(|c| {
            c.path == "/wxa/msg_sec_check"
                && c.body["content"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("RISKY"))
        })
        .unwrap();
    assert_eq!(check.method, "POST");
    assert_eq!(check.body["openid"], "o-dee");
    assert_eq!(check.body["version"], 2);
    // Identifiers are removed before the text leaves for WeChat.
    let (s, _) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "我的手机 13812345678，故宫几点开门？"}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(mp()
        .wechat
        .calls()
        .iter()
        .all(|c| !c.body.to_string().contains("13812345678")));
    // Review passes; a failing check is answered with a notice (advisory, the default).
    let (s, body) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "REVIEW 故宫在哪里？"}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "CHECKFAIL 故宫在哪里？"}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let notices = body["notices"].to_string();
    assert!(notices.contains("内容安全检查暂不可用"), "{body}");
    // Another process took a new access token: the stale one is refused, fetched again, and
    // the question is checked and answered without a notice about the check.
    let r = client()
        .get(format!(
            "{}/cgi-bin/token?grant_type=client_credential&appid=wx-test-app&secret={SECRET}",
            mp().wechat.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, body) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "故宫在哪里？"}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        !body["notices"].to_string().contains("内容安全检查"),
        "{body}"
    );
    // content_check = "required": a failing check refuses; a passing one answers.
    let url = format!("{}/api/mp/v1/login", mp().strict_url);
    let (s, login) = call(
        reqwest::Method::POST,
        &url,
        None,
        Some(json!({"code": "ok-strict"})),
    )
    .await;
    assert_eq!(s, 200, "{login}");
    let strict = login["token"].as_str().unwrap();
    let ask = format!("{}/api/mp/v1/ask", mp().strict_url);
    let (s, body) = call(
        reqwest::Method::POST,
        &ask,
        Some(strict),
        Some(json!({"question": "CHECKFAIL 故宫在哪里？"})),
    )
    .await;
    assert_error(s, &body, 503, "content_check_unavailable");
    let (s, body) = call(
        reqwest::Method::POST,
        &ask,
        Some(strict),
        Some(json!({"question": "CHECKSLOW 故宫在哪里？"})),
    )
    .await;
    assert_error(s, &body, 503, "content_check_unavailable");
    let (s, body) = call(
        reqwest::Method::POST,
        &ask,
        Some(strict),
        Some(json!({"question": "故宫在哪里？"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn sights_nearby_are_sorted_by_distance_with_what_a_visitor_needs() {
    let token = login("eve").await;
    // Tiananmen.
    let (s, body) = get(
        "/api/mp/v1/spots/nearby?lat=39.9087&lng=116.3975&radius_m=3000&limit=8",
        Some(&token),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let spots = body["spots"].as_array().unwrap();
    assert!(spots.len() >= 4 && spots.len() <= 8, "{body}");
    let distances: Vec<f64> = spots
        .iter()
        .map(|s| s["distance_m"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(distances.iter().all(|d| *d <= 3000.0));
    assert_eq!(spots[0]["id"], "tiananmen");
    for s in spots {
        for field in [
            "name",
            "name_zh",
            "name_en",
            "category",
            "era",
            "opening_hours",
            "tickets",
        ] {
            assert!(
                s[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field}: {s}"
            );
        }
        assert!(has_cjk(s["name"].as_str().unwrap()), "{s}");
    }
    let (s, body) = get(
        "/api/mp/v1/spots/nearby?lat=39.9087&lng=116.3975&radius_m=8000&category=museum&lang=en",
        Some(&token),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let museums = body["spots"].as_array().unwrap();
    assert!(!museums.is_empty(), "{body}");
    for m in museums {
        assert_eq!(m["category"], "museum", "{m}");
        assert!(!has_cjk(m["name"].as_str().unwrap()), "{m}");
    }
    for bad in [
        "lat=abc&lng=116.3",
        "lat=39.9&lng=116.3&radius_m=0",
        "lat=95&lng=116.3",
        "lat=39.9&lng=116.3&lang=fr",
    ] {
        let (s, body) = get(&format!("/api/mp/v1/spots/nearby?{bad}"), Some(&token)).await;
        assert_eq!(s, 400, "{bad}: {body}");
        assert!(body["error"]["code"].as_str().is_some(), "{body}");
    }
}

#[tokio::test]
async fn a_sight_in_full_with_the_articles_that_mention_it_and_nothing_above_public() {
    let token = login("fay").await;
    let (s, body) = get("/api/mp/v1/spots/forbidden-city?lang=en", Some(&token)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["id"], "forbidden-city");
    assert_eq!(body["name"], "Forbidden City (Palace Museum)");
    assert!(body["text"].as_str().unwrap().contains("961"), "{body}");
    assert_eq!(body["unesco"], true);
    assert_eq!(body["hours"]["closed_on"], json!(["Monday"]));
    let mentions = body["mentions"].as_array().unwrap();
    let ids: Vec<&str> = mentions
        .iter()
        .map(|m| m["doc_id"].as_str().unwrap())
        .collect();
    assert!(!mentions.is_empty(), "{body}");
    for m in mentions {
        let excerpt = m["excerpt"].as_str().unwrap();
        assert!(
            ["故宫", "Forbidden City", "Palace Museum"]
                .iter()
                .any(|n| excerpt.contains(n)),
            "{m}"
        );
        assert_eq!(m["kind"], "article", "{m}");
    }
    // The internal guides' briefing names the Forbidden City too, but a tourist may not read it.
    assert!(
        ids.iter()
            .all(|id| !id.contains("internal") && !id.contains("restricted")),
        "{ids:?}"
    );
    let (s, body) = get("/api/mp/v1/spots/no-such-place", Some(&token)).await;
    assert_error(s, &body, 404, "document_not_found");
    // A poem is not a sight.
    let (s, body) = get("/api/mp/v1/spots/poem-jing-ye-si", Some(&token)).await;
    assert_error(s, &body, 404, "document_not_found");
}

/// Sights whose record says they close on Mondays.
fn closed_on_mondays() -> Vec<String> {
    std::fs::read_to_string(corpora().join("culture/sites.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["opening_hours"].as_str().unwrap().contains("on Mondays"))
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

fn minutes(hhmm: &Value) -> u32 {
    let (h, m) = hhmm.as_str().unwrap().split_once(':').unwrap();
    h.parse::<u32>().unwrap() * 60 + m.parse::<u32>().unwrap()
}

fn check_route(plan: &Value, start: u32, budget_min: u32) {
    let stops = plan["stops"].as_array().unwrap();
    let mut clock = start;
    for s in stops {
        let (arrive, begin, leave) = (
            minutes(&s["arrive"]),
            minutes(&s["start"]),
            minutes(&s["leave"]),
        );
        assert!(
            arrive >= clock
                && begin >= arrive
                && leave == begin + s["visit_min"].as_u64().unwrap() as u32,
            "{s}"
        );
        if let Some(h) = s["hours_today"].as_str() {
            let (open, close) = h.split_once('–').unwrap();
            assert!(
                begin >= minutes(&json!(open)) && leave <= minutes(&json!(close)),
                "{s}"
            );
        }
        let reason = s["reason"].as_str().unwrap();
        let quote = s["source"]["text"].as_str().unwrap();
        assert!(!quote.is_empty() && reason.contains(quote), "{s}");
        clock = leave;
    }
    assert!(clock <= start + budget_min, "{plan}");
    assert_eq!(
        plan["used_min"].as_u64().unwrap() as u32,
        clock - start,
        "{plan}"
    );
    assert!(clock - start <= budget_min, "{plan}");
}

#[tokio::test]
async fn a_days_route_keeps_to_opening_days_hours_and_the_budget_and_is_deterministic() {
    let token = login("gus").await;
    let monday = json!({"lat": 39.9087, "lng": 116.3975, "start_time": "2026-12-07T09:00", "hours": 6, "interests": ["history", "museum"], "lang": "en"});
    let (s, plan) = post("/api/mp/v1/route", Some(&token), monday.clone()).await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["weekday"], "Monday");
    let stops = plan["stops"].as_array().unwrap();
    assert!(stops.len() >= 2, "{plan}");
    let closed = closed_on_mondays();
    for s in stops {
        let id = s["place"]["id"].as_str().unwrap();
        assert!(
            !closed.iter().any(|c| c == id),
            "{id} is closed on Mondays: {plan}"
        );
        assert!(!has_cjk(&s["reason"].as_str().unwrap()[..12]), "{s}");
    }
    assert!(
        plan["not_proposed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "forbidden-city" && n["reason"]["reason"] == "closed_that_day"),
        "{plan}"
    );
    check_route(&plan, 9 * 60, 360);
    // The same request, the same route.
    let (_, again) = post("/api/mp/v1/route", Some(&token), monday).await;
    assert_eq!(plan, again);
    // On a Tuesday the museums are open, and a history lover is sent to one.
    let tuesday = json!({"lat": 39.9087, "lng": 116.3975, "start_time": "2026-12-08T09:00", "hours": 6, "interests": ["history", "museum"], "lang": "en"});
    let (s, plan) = post("/api/mp/v1/route", Some(&token), tuesday).await;
    assert_eq!(s, 200, "{plan}");
    check_route(&plan, 9 * 60, 360);
    let ids: Vec<&str> = plan["stops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["place"]["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.iter().any(|id| closed.iter().any(|c| c == id)),
        "{ids:?}"
    );
    // A short budget holds; a start with an offset is converted to Beijing time (01:00Z = 09:00).
    let (s, plan) = post("/api/mp/v1/route", Some(&token), json!({"lat": 39.9087, "lng": 116.3975, "start_time": "2026-12-08T01:00:00Z", "hours": 1.5, "interests": ["园林"], "lang": "zh"})).await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["start"], "09:00");
    check_route(&plan, 9 * 60, 90);
    assert!(plan["used_min"].as_u64().unwrap() <= 90, "{plan}");
    for s in plan["stops"].as_array().unwrap() {
        assert!(has_cjk(s["reason"].as_str().unwrap()), "{s}");
    }
    // Late in the evening little is open, and the route says so rather than inventing.
    let (s, plan) = post("/api/mp/v1/route", Some(&token), json!({"lat": 39.9087, "lng": 116.3975, "start_time": "2026-12-08T20:30", "hours": 2, "lang": "en"})).await;
    assert_eq!(s, 200, "{plan}");
    check_route(&plan, 20 * 60 + 30, 120);
    for bad in [
        json!({"lat": 39.9, "lng": 116.4, "start_time": "tomorrow", "hours": 3}),
        json!({"lat": 39.9, "lng": 116.4, "start_time": "2026-12-08T09:00", "hours": 0}),
    ] {
        let (s, body) = post("/api/mp/v1/route", Some(&token), bad).await;
        assert_eq!(s, 400, "{body}");
    }
}

#[tokio::test]
async fn preferences_are_kept_per_tourist_and_used_when_a_request_is_silent() {
    let token = login("hal").await;
    let (s, body) = get("/api/mp/v1/preferences", Some(&token)).await;
    assert_eq!(
        (s, body.clone()),
        (200, json!({"lang": null, "interests": []})),
        "{body}"
    );
    let (s, body) = call(
        reqwest::Method::PUT,
        &format!("{}/api/mp/v1/preferences", mp().url),
        Some(&token),
        Some(json!({"lang": "en", "interests": ["garden"]})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (_, body) = get("/api/mp/v1/preferences", Some(&token)).await;
    assert_eq!(body, json!({"lang": "en", "interests": ["garden"]}));
    // Another tourist's are their own.
    let other = login("hal-other").await;
    let (_, body) = get("/api/mp/v1/preferences", Some(&other)).await;
    assert_eq!(body["lang"], Value::Null);
    // Used when the request does not say.
    let (_, body) = get(
        "/api/mp/v1/spots/nearby?lat=39.9087&lng=116.3975&limit=3",
        Some(&token),
    )
    .await;
    assert!(
        !has_cjk(body["spots"][0]["name"].as_str().unwrap()),
        "{body}"
    );
    let (_, plan) = post(
        "/api/mp/v1/route",
        Some(&token),
        json!({"lat": 39.99, "lng": 116.27, "start_time": "2026-12-08T09:00", "hours": 4}),
    )
    .await;
    assert!(
        plan["stops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["matched_interest"] == "garden"),
        "{plan}"
    );
    // A login keeps them.
    let again = login("hal").await;
    let (_, body) = get("/api/mp/v1/preferences", Some(&again)).await;
    assert_eq!(body["lang"], "en");
    for bad in [json!({"lang": "fr"}), json!({"interests": vec!["x"; 11]})] {
        let (s, body) = call(
            reqwest::Method::PUT,
            &format!("{}/api/mp/v1/preferences", mp().url),
            Some(&token),
            Some(bad),
        )
        .await;
        assert_eq!(s, 400, "{body}");
    }
    let (s, _) = call(
        reqwest::Method::PUT,
        &format!("{}/api/mp/v1/preferences", mp().url),
        Some(&token),
        Some(json!({"clearance": "restricted"})),
    )
    .await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn a_tourist_can_delete_everything_kept_about_them() {
    let token = login("ida").await;
    let second = login("ida").await;
    let _ = call(
        reqwest::Method::PUT,
        &format!("{}/api/mp/v1/preferences", mp().url),
        Some(&token),
        Some(json!({"lang": "zh", "interests": ["历史"]})),
    )
    .await;
    let (_, answer) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "天坛是做什么用的？"}),
    )
    .await;
    let conversation = answer["conversation_id"].as_str().unwrap().to_string();
    let tourist = mp().engine.tourist(&token).await.unwrap().unwrap();
    let (s, body) = call(
        reqwest::Method::DELETE,
        &format!("{}/api/mp/v1/me", mp().url),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body,
        json!({"sessions": 2, "conversations": 1, "preferences": true})
    );
    for t in [&token, &second] {
        let (s, body) = get("/api/mp/v1/preferences", Some(t)).await;
        assert_error(s, &body, 401, "session_expired");
    }
    assert!(mp()
        .engine
        .conversation(&tourist.caller, &conversation)
        .await
        .is_err());
    // Logging in again starts from nothing.
    let fresh = login("ida").await;
    let (_, body) = get("/api/mp/v1/preferences", Some(&fresh)).await;
    assert_eq!(body, json!({"lang": null, "interests": []}));
}

#[tokio::test]
async fn nothing_identifying_reaches_the_logs() {
    let token = login("jo-logcheck").await;
    let question = "颐和园的长廊有多长？";
    let (s, _) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": question}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post(
        "/api/mp/v1/ask",
        Some(&token),
        json!({"question": "CHECKFAIL 颐和园几点关门？"}),
    )
    .await;
    assert_eq!(s, 200);
    let _ = post(
        "/api/mp/v1/route",
        Some(&token),
        json!({"lat": 39.99, "lng": 116.27, "start_time": "2026-12-08T09:00", "hours": 3}),
    )
    .await;
    let (s, _) = post(
        "/api/mp/v1/login",
        None,
        json!({"code": "busy-jo-logcheck"}),
    )
    .await;
    assert_eq!(s, 503);
    let _ = call(
        reqwest::Method::DELETE,
        &format!("{}/api/mp/v1/me", mp().url),
        Some(&token),
        None,
    )
    .await;
    let logs = mp().logs.text();
    // The logs were captured (the requests above were served and logged)…
    assert!(
        logs.contains("/api/mp/v1/ask") && logs.contains("served"),
        "{logs}"
    );
    assert!(logs.contains("content check failed"), "{logs}");
    // …and hold no openid, session key, token, secret, question or login code.
    for secret in [
        "o-jo-logcheck",
        "sk-jo-logcheck",
        token.as_str(),
        SECRET,
        question,
        "颐和园几点关门",
        "busy-jo-logcheck",
    ] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs");
    }
}
