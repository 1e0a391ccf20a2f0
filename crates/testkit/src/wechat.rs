//! WeChat's server API on a loopback port, as a mini-program backend calls it. What it answers
//! is chosen by what is sent, so that concurrent tests do not share a script:
//!
//! - `GET /sns/jscode2session`: the code `ok-<name>` logs in the user with openid `o-<name>`
//!   (session key `sk-<name>-never-shown`); `bad-…` gets `40029`, `freq-…` `45011`, `blocked-…`
//!   `40226`, `busy-…` `-1`, `slow-…` no answer for 10 s, `garbled-…` a body that is not
//!   JSON, `empty-…` `{}`, `http500-…` a 500. A wrong appid or secret gets `40125`.
//! - `GET /cgi-bin/token`: an access token, a new one per call (`expires_in` 7200).
//! - `POST /wxa/msg_sec_check`: the current token only (else `40001`); text containing
//!   `RISKY` is `risky`, `REVIEW` is `review`, `CHECKFAIL` gets errcode `-1`, `CHECKSLOW` no
//!   answer for 10 s; anything else `pass`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};

use crate::{read_request, write_plain, RawRequest};

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct WeChatCall {
    pub method: String,
    pub path: String,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct State {
    calls: Vec<WeChatCall>,
    tokens_issued: u32,
}

pub struct FakeWeChat {
    addr: std::net::SocketAddr,
    appid: String,
    secret: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeWeChat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeWeChat {
    pub async fn start(appid: &str, secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let (st, id, sec) = (state.clone(), appid.to_string(), secret.to_string());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (st, id, sec) = (st.clone(), id.clone(), sec.clone());
                tokio::spawn(async move {
                    let _ = serve(sock, st, &id, &sec).await;
                });
            }
        });
        Self {
            addr,
            appid: appid.into(),
            secret: secret.into(),
            state,
            task,
        }
    }

    /// What to configure as `mini_program.api_base`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn appid(&self) -> &str {
        &self.appid
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn calls(&self) -> Vec<WeChatCall> {
        self.state.lock().expect("state").calls.clone()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    (path.to_string(), query)
}

async fn serve(
    sock: TcpStream,
    state: Arc<Mutex<State>>,
    appid: &str,
    secret: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    while let Some(RawRequest {
        method,
        target,
        body,
        ..
    }) = read_request(&mut reader).await?
    {
        let (path, query) = split_target(&target);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let param = |k: &str| {
            query
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let credentials_ok = param("appid") == appid && param("secret") == secret;
        let reply: Option<(u16, String)> = {
            let mut st = state.lock().expect("state");
            st.calls.push(WeChatCall {
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                body: body.clone(),
            });
            match path.as_str() {
                "/sns/jscode2session"
                    if !credentials_ok || param("grant_type") != "authorization_code" =>
                {
                    Some((
                        200,
                        r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#.into(),
                    ))
                }
                "/sns/jscode2session" => login_reply(&param("js_code")),
                "/cgi-bin/token" if !credentials_ok => Some((
                    200,
                    r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#.into(),
                )),
                "/cgi-bin/token" => {
                    st.tokens_issued += 1;
                    Some((
                        200,
                        format!(
                            r#"{{"access_token":"AT-{}","expires_in":7200}}"#,
                            st.tokens_issued
                        ),
                    ))
                }
                "/wxa/msg_sec_check" => {
                    let current = format!("AT-{}", st.tokens_issued);
                    if param("access_token") != current || st.tokens_issued == 0 {
                        Some((200, r#"{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}"#.into()))
                    } else {
                        check_reply(body["content"].as_str().unwrap_or(""))
                    }
                }
                _ => Some((
                    404,
                    r#"{"errcode":-1,"errmsg":"no such API in the fake"}"#.into(),
                )),
            }
        };
        let sock = reader.get_mut();
        match reply {
            Some((status, text)) => write_plain(sock, status, &[], &text).await?,
            // A stall: nothing is sent while the client waits.
            None => {
                tokio::time::sleep(Duration::from_secs(10)).await;
                return Ok(());
            }
        }
    }
    Ok(())
}

fn login_reply(code: &str) -> Option<(u16, String)> {
    let (kind, name) = code.split_once('-').unwrap_or((code, ""));
    let errcode =
        |code: i64, msg: &str| Some((200, format!(r#"{{"errcode":{code},"errmsg":"{msg}"}}"#)));
    match kind {
        "ok" => Some((
            200,
            serde_json::json!({"openid": format!("o-{name}"), "session_key": format!("sk-{name}-never-shown")}).to_string(),
        )),
        "bad" => errcode(40029, "invalid code"),
        "freq" => errcode(45011, "api minute-quota reach limit mustslower retry next minute"),
        "blocked" => errcode(40226, "invalid user: high risk user"),
        "busy" => errcode(-1, "system error"),
        "slow" => None,
        "garbled" => Some((200, "<html>upstream gateway</html>".into())),
        "empty" => Some((200, "{}".into())),
        "http500" => Some((500, "Internal Server Error".into())),
        _ => errcode(40029, "invalid code"),
    }
}

fn check_reply(content: &str) -> Option<(u16, String)> {
    let suggest = |s: &str, label: u32| {
        Some((
            200,
            format!(
                r#"{{"errcode":0,"errmsg":"ok","result":{{"suggest":"{s}","label":{label}}},"detail":[],"trace_id":"fake"}}"#
            ),
        ))
    };
    if content.contains("CHECKSLOW") {
        None
    } else if content.contains("CHECKFAIL") {
        Some((200, r#"{"errcode":-1,"errmsg":"system error"}"#.into()))
    } else if content.contains("RISKY") {
        suggest("risky", 20001)
    } else if content.contains("REVIEW") {
        suggest("review", 20002)
    } else {
        suggest("pass", 100)
    }
}
