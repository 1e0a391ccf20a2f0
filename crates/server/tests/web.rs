//! The web chat's side of the server, over real HTTP: the page and its assets, signing in
//! with local accounts (cookie sessions), users behind a trusted proxy, clearance by role,
//! documents with the cited span, facets, and a user's conversation list.

mod common;

use common::assert_error;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, COOKIE, SET_COOKIE};
use serde_json::{json, Value};
use zhiku_engine::Role;

struct Web {
    url: String,
    http: reqwest::Client,
}

impl Web {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: Option<&str>,
        headers: HeaderMap,
        body: Option<Value>,
    ) -> (u16, HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .headers(headers);
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, headers, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> (u16, Value) {
        let (s, _, b) = self
            .call(reqwest::Method::GET, path, cookie, HeaderMap::new(), None)
            .await;
        (s, b)
    }

    async fn post(&self, path: &str, cookie: Option<&str>, body: Value) -> (u16, Value) {
        let (s, _, b) = self
            .call(
                reqwest::Method::POST,
                path,
                cookie,
                HeaderMap::new(),
                Some(body),
            )
            .await;
        (s, b)
    }

    /// The status of a request with a session cookie.
    async fn status(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
        body: Option<Value>,
    ) -> u16 {
        self.call(method, path, Some(cookie), HeaderMap::new(), body)
            .await
            .0
    }

    /// Signs in; returns the `Cookie` header value to send back.
    async fn sign_in(&self, name: &str, password: &str) -> String {
        let (status, headers, body) = self
            .call(
                reqwest::Method::POST,
                "/auth/login",
                None,
                HeaderMap::new(),
                Some(json!({"name": name, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let set = headers[SET_COOKIE].to_str().unwrap().to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(set.contains("Path=/"), "{set}");
        set.split(';').next().unwrap().to_string()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

#[tokio::test]
async fn students_and_teachers_sign_in_and_see_what_their_role_allows() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus");
    common::write_corpus(&corpus);
    let mut config = common::config(root.path());
    config.web.trusted_user_header = "X-Remote-User".into();
    config.web.trusted_proxies = vec!["127.0.0.1".into()];
    let running = common::start(config, Some(&corpus)).await;
    let engine = &running.engine;
    engine
        .add_user("alice", Role::Student, Some("alice-password"))
        .await
        .unwrap();
    engine
        .add_user("bob", Role::Teacher, Some("bob-password"))
        .await
        .unwrap();
    assert!(
        engine
            .add_user("carol", Role::Student, Some("short"))
            .await
            .is_err(),
        "a password under 8 characters is refused"
    );
    let web = Web {
        url: running.url.clone(),
        http: client(),
    };

    // The page: HTML with a strict policy, compressed when asked; unknown assets are JSON 404s.
    let mut gzip = HeaderMap::new();
    gzip.insert("accept-encoding", HeaderValue::from_static("gzip"));
    let r = web
        .http
        .get(format!("{}/", web.url))
        .headers(gzip)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let (status, body) = web.get("/assets/no-such.js", None).await;
    assert_error(status, &body, 404, "not_found");

    // Signing in.
    let (status, body) = web
        .post(
            "/auth/login",
            None,
            json!({"name": "alice", "password": "wrong-password"}),
        )
        .await;
    assert_error(status, &body, 401, "bad_credentials");
    let (status, body) = web
        .post(
            "/auth/login",
            None,
            json!({"name": "nobody", "password": "alice-password"}),
        )
        .await;
    assert_error(status, &body, 401, "bad_credentials");
    let alice = web.sign_in("alice", "alice-password").await;
    let bob = web.sign_in("bob", "bob-password").await;
    let (_, me) = web.get("/auth/me", Some(&alice)).await;
    assert_eq!(me["user"], json!({"name": "alice", "role": "student"}));
    assert_eq!(me["clearance"], "public");
    let (_, me) = web.get("/auth/me", None).await;
    assert_eq!(me["user"], Value::Null);

    // The role sets the clearance, on the server.
    let search = json!({"query": "胰岛素泵 交接 ZK-INTERNAL-4", "k": 10});
    let (_, hits) = web.post("/v1/search", Some(&alice), search.clone()).await;
    let ids = common::doc_ids;
    assert!(!ids(&hits).contains(&"fx-pump-internal".to_string()));
    let (_, hits) = web.post("/v1/search", Some(&bob), search).await;
    assert!(ids(&hits).contains(&"fx-pump-internal".to_string()));
    assert!(!ids(&hits).contains(&"fx-pump-restricted".to_string()));
    let (status, _) = web
        .get("/v1/documents/fx-pump-internal", Some(&alice))
        .await;
    assert_eq!(
        status, 404,
        "above the student's clearance: as if it did not exist"
    );

    // A document with a cited chunk marked: the mark is exactly the cited bytes of the file.
    let (_, hits) = web
        .post(
            "/v1/search",
            Some(&bob),
            json!({"query": "胰岛素泵 储药器余量", "k": 1}),
        )
        .await;
    let hit = &hits["hits"][0]["chunk"];
    let chunk_id = hit["id"].as_str().unwrap();
    let (status, doc) = web
        .get(
            &format!("/v1/documents/fx-pump-internal?chunk={chunk_id}&context=40"),
            Some(&bob),
        )
        .await;
    assert_eq!(status, 200, "{doc}");
    let file = std::fs::read(corpus.join("medicine/protocols/insulin-pump-internal.md")).unwrap();
    let (start, end) = (
        doc["start"].as_u64().unwrap() as usize,
        doc["end"].as_u64().unwrap() as usize,
    );
    assert!(doc["span_in_file"].as_bool().unwrap());
    assert_eq!(doc["cited"].as_str().unwrap().as_bytes(), &file[start..end]);
    assert_eq!(doc["metadata"]["department"], "endocrinology");
    let (_, whole) = web
        .get(
            &format!("/v1/documents/fx-pump-internal?chunk={chunk_id}"),
            Some(&bob),
        )
        .await;
    let joined = format!(
        "{}{}{}",
        whole["before"].as_str().unwrap(),
        whole["cited"].as_str().unwrap(),
        whole["after"].as_str().unwrap()
    );
    assert!(joined.contains("ZK-INTERNAL-4") && whole["more_after"] == false);
    let (status, body) = web
        .get(
            "/v1/documents/fx-pump-internal?chunk=no-such-chunk",
            Some(&bob),
        )
        .await;
    assert_error(status, &body, 404, "document_not_found");

    // The pickers' values come from the index, within the caller's clearance.
    let (_, domains) = web.get("/v1/domains", Some(&alice)).await;
    let education = domains["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "education")
        .unwrap();
    assert_eq!(education["facets"]["subject"][0]["value"], "math");
    assert_eq!(education["facets"]["grade_band"][0]["value"], "junior");

    // Conversations: listed, renamed, deleted by their owner only.
    let (status, answer) = web
        .post(
            "/v1/ask",
            Some(&alice),
            json!({"question": "勾股定理怎样用拼图验证？", "domain": "education"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["conversation_id"].as_str().unwrap().to_string();
    assert_eq!(answer["turn"], 1);
    let (_, list) = web.get("/v1/conversations", Some(&alice)).await;
    assert_eq!(
        list["conversations"][0]["first_question"],
        "勾股定理怎样用拼图验证？"
    );
    let (_, list) = web.get("/v1/conversations", Some(&bob)).await;
    assert_eq!(list["conversations"], json!([]));
    let path = format!("/v1/conversations/{id}");
    let patch = reqwest::Method::PATCH;
    let renamed = |title: &str| Some(json!({ "title": title }));
    assert_eq!(
        web.status(patch.clone(), &path, &bob, renamed("不是我的"))
            .await,
        404
    );
    assert_eq!(
        web.status(patch, &path, &alice, renamed("勾股定理")).await,
        204
    );
    let (_, view) = web
        .get(&format!("/v1/conversations/{id}"), Some(&alice))
        .await;
    assert_eq!(view["title"], "勾股定理");
    assert!(
        !view["turns"][0]["citations"].as_array().unwrap().is_empty(),
        "{view}"
    );
    assert_eq!(
        web.status(reqwest::Method::DELETE, &path, &bob, None).await,
        404
    );
    assert_eq!(
        web.status(reqwest::Method::DELETE, &path, &alice, None)
            .await,
        204
    );
    assert_eq!(
        web.get(&format!("/v1/conversations/{id}"), Some(&alice))
            .await
            .0,
        404
    );
    let (status, body) = web.get("/v1/conversations", None).await;
    assert_error(status, &body, 403, "forbidden");

    // The trusted proxy's header: believed from 127.0.0.1 only.
    let mut proxied = HeaderMap::new();
    proxied.insert("x-remote-user", HeaderValue::from_static("dora"));
    let (status, _, me) = web
        .call(
            reqwest::Method::GET,
            "/auth/me",
            None,
            proxied.clone(),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["user"], json!({"name": "dora", "role": "student"}));
    let mut as_bob = HeaderMap::new();
    as_bob.insert("x-remote-user", HeaderValue::from_static("bob"));
    let (_, _, me) = web
        .call(reqwest::Method::GET, "/auth/me", None, as_bob, None)
        .await;
    assert_eq!(me["user"]["role"], "teacher", "a local account's role wins");
    let elsewhere = Web {
        url: web.url.clone(),
        http: reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .build()
            .unwrap(),
    };
    let (status, _, body) = elsewhere
        .call(reqwest::Method::GET, "/auth/me", None, proxied, None)
        .await;
    assert_error(status, &body, 401, "untrusted_proxy_header");

    // Signing out ends the session: the old cookie is refused, not taken for a guest.
    let (status, headers, _) = web
        .call(
            reqwest::Method::POST,
            "/auth/logout",
            Some(&alice),
            HeaderMap::new(),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert!(headers[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let (status, body) = web.get("/v1/conversations", Some(&alice)).await;
    assert_error(status, &body, 401, "session_expired");
    running.stop().await;
}

/// Guessing passwords from one address is slowed: beyond `web.login_rate` a sign-in is a 429
/// with `Retry-After`, even with the right password; another address is not affected.
#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let root = tempfile::tempdir().unwrap();
    let mut cfg = common::config(root.path());
    cfg.web.login_rate = "3/min".into();
    let running = common::start(cfg, None).await;
    running
        .engine
        .add_user("carol", Role::Teacher, Some("right horse battery"))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let login = |password: &'static str| {
        http.post(format!("{}/auth/login", running.url))
            .json(&json!({"name": "carol", "password": password}))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(login("wrong").await.unwrap().status().as_u16(), 401);
    }
    let r = login("right horse battery").await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let body: Value = r.json().await.unwrap();
    assert_error(429, &body, 429, "rate_limited");
    let elsewhere = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap()
        .post(format!("{}/auth/login", running.url))
        .json(&json!({"name": "carol", "password": "right horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status().as_u16(), 200, "another address signs in");
    running.stop().await;
}
