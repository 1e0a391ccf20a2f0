//! Test-only stand-ins for services on the internet, as real local servers speaking the real
//! protocol: [`FakeLlm`] is an OpenAI-compatible chat-completions endpoint on a loopback
//! port whose replies are scripted one request at a time, failures included (429 with
//! `Retry-After`, 500, stalls, connections dropped mid-stream, malformed events, bytes that
//! are not UTF-8). It records every request so tests can check what was sent. [`FakeWeChat`]
//! is WeChat's server API as a mini-program backend calls it (`jscode2session`, the access
//! token, `msgSecCheck`), each outcome chosen by the code or text sent.
//!
//! It is written over raw TCP rather than an HTTP framework so that it can misbehave exactly
//! as a broken upstream does. Production code never depends on this crate. It also says which
//! real test database (PostgreSQL) the tests may use, if any: [`test_database_url`]; and it
//! runs a real Qdrant server, when one is built, and a PostgreSQL cluster of a test's own, for
//! tests that stop and restart them: [`QdrantServer`], [`PostgresServer`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

mod chunks;
pub mod clearance;
mod postgres;
mod qdrant;
mod wechat;
pub use chunks::{sample_chunk, sample_hit};
pub use postgres::{postgres_bin, PostgresServer};
pub use qdrant::{qdrant_bin, QdrantServer};
pub use wechat::{FakeWeChat, WeChatCall};

/// Everything written to it, kept in memory: a log writer (`tracing_subscriber`'s
/// `.with_writer(move || buffer.clone())`) whose text a test can search afterwards.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A normal streamed answer: one SSE chunk per piece, then `data: [DONE]`.
    Stream(Vec<String>),
    /// A normal whole answer (`"stream": false`).
    Whole(String),
    /// Whatever the request asks for: streamed or whole, with this text.
    Text(String),
    /// An error status with an OpenAI-style error body and an optional `Retry-After`.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// Stream headers, then silence for this long.
    Stall(Duration),
    /// Some chunks, then the connection is closed without the chunked terminator.
    DropAfter(Vec<String>),
    /// Some chunks, then silence for this long.
    StallAfter(Vec<String>, Duration),
    /// A reasoning model: `reasoning_content` pieces with `pause` before each, then the
    /// answer pieces.
    Reasoning {
        thinking: Vec<String>,
        pause: Duration,
        answer: Vec<String>,
    },
    /// A streamed answer with a line that is not a chat-completions chunk among the pieces.
    MalformedLine(Vec<String>),
    /// A streamed answer whose content bytes are not UTF-8.
    BadUtf8,
    /// A streamed answer with no content at all.
    Empty,
    /// A streamed answer that stops at the token limit (`finish_reason: length`).
    Truncated(Vec<String>),
    /// Whatever the request asks for (streamed or whole), repeating every message it was sent
    /// but the system prompt: a model that quotes all it was shown, so a test sees in the
    /// answer whatever reached it.
    Echo,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

impl Received {
    /// All message contents of a chat request, joined.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        (
                            m["role"].as_str().unwrap_or("").to_string(),
                            m["content"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    /// The reply once the script has run out, if any (else a 500 saying so).
    otherwise: Option<Reply>,
    received: Vec<Received>,
}

/// A scripted OpenAI-compatible server on 127.0.0.1. Stops when dropped.
pub struct FakeLlm {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeLlm {
    /// Starts the server; requests get the replies in order (a request beyond the script gets
    /// a 500 saying so).
    pub async fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            otherwise: None,
            received: Vec::new(),
        }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st).await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// The base URL to configure (`…/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    pub fn push(&self, reply: Reply) {
        self.state.lock().expect("state").script.push_back(reply);
    }

    /// Every request after the script gets `reply` (for tests that send many).
    pub fn otherwise(&self, reply: Reply) {
        self.state.lock().expect("state").otherwise = Some(reply);
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An OpenAI streaming chunk carrying `text`.
pub fn chunk(text: &str) -> String {
    let v = serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "model": "fake",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    });
    format!("data: {v}\n\n")
}

const FINAL: &str = "data: {\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

/// One HTTP/1.1 request as read off the socket.
pub(crate) struct RawRequest {
    pub method: String,
    /// The path with its query string.
    pub target: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

/// The next request on a connection; `None` when the client closed it.
pub(crate) async fn read_request(
    reader: &mut BufReader<TcpStream>,
) -> std::io::Result<Option<RawRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).await?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(RawRequest {
        method,
        target,
        authorization,
        body,
    }))
}

async fn serve(sock: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(sock);
    loop {
        let Some(RawRequest {
            target: path,
            authorization,
            body,
            ..
        }) = read_request(&mut reader).await?
        else {
            return Ok(());
        };
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let stream = body["stream"].as_bool().unwrap_or(false);
        let reply = {
            let mut st = state.lock().expect("state");
            let reply = st.script.pop_front().or_else(|| st.otherwise.clone());
            let reply = match reply {
                Some(Reply::Echo) => Some(Reply::Text(echo(&body))),
                r => r,
            };
            st.received.push(Received {
                path,
                authorization,
                body,
            });
            reply
        };
        let sock = reader.get_mut();
        let keep = respond(sock, reply, stream).await?;
        if !keep {
            return Ok(());
        }
    }
}

/// Writes one reply; false when the connection must close afterwards.
async fn respond(
    sock: &mut TcpStream,
    reply: Option<Reply>,
    stream: bool,
) -> std::io::Result<bool> {
    let reply = match reply {
        Some(Reply::Text(t)) if stream => Reply::Stream(split_pieces(&t)),
        Some(Reply::Text(t)) => Reply::Whole(t),
        Some(r) => r,
        None => {
            let body = r#"{"error":{"message":"the test script has no reply for this request","type":"server_error"}}"#;
            write_plain(sock, 500, &[], body).await?;
            return Ok(true);
        }
    };
    match reply {
        Reply::Stream(pieces) => {
            start_sse(sock).await?;
            for p in pieces {
                write_chunk(sock, chunk(&p).as_bytes()).await?;
            }
            write_chunk(sock, FINAL.as_bytes()).await?;
            end_chunks(sock).await?;
        }
        Reply::Whole(text) => {
            let v = serde_json::json!({
                "id": "chatcmpl-test", "object": "chat.completion", "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            });
            write_plain(sock, 200, &[], &v.to_string()).await?;
        }
        Reply::Status { code, retry_after } => {
            let body = format!(
                r#"{{"error":{{"message":"scripted failure {code}","type":"server_error","code":{code}}}}}"#
            );
            let headers: Vec<(&str, String)> = retry_after
                .map(|r| vec![("Retry-After", r)])
                .unwrap_or_default();
            write_plain(sock, code, &headers, &body).await?;
        }
        Reply::Stall(d) => {
            start_sse(sock).await?;
            tokio::time::sleep(d).await;
            return Ok(false);
        }
        Reply::DropAfter(pieces) => {
            start_sse(sock).await?;
            for p in pieces {
                write_chunk(sock, chunk(&p).as_bytes()).await?;
            }
            sock.flush().await?;
            // Give the client time to show what it got before the connection goes away.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return Ok(false);
        }
        Reply::Reasoning {
            thinking,
            pause,
            answer,
        } => {
            start_sse(sock).await?;
            for t in thinking {
                tokio::time::sleep(pause).await;
                let v = serde_json::json!({
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": null, "reasoning_content": t}, "finish_reason": null}]
                });
                write_chunk(sock, format!("data: {v}\n\n").as_bytes()).await?;
            }
            for p in answer {
                write_chunk(sock, chunk(&p).as_bytes()).await?;
            }
            write_chunk(sock, FINAL.as_bytes()).await?;
            end_chunks(sock).await?;
        }
        Reply::StallAfter(pieces, d) => {
            start_sse(sock).await?;
            for p in pieces {
                write_chunk(sock, chunk(&p).as_bytes()).await?;
            }
            tokio::time::sleep(d).await;
            return Ok(false);
        }
        Reply::MalformedLine(pieces) => {
            start_sse(sock).await?;
            for (i, p) in pieces.iter().enumerate() {
                if i == 1 {
                    write_chunk(sock, b"data: {\"choices\": [ this is not json\n\n").await?;
                }
                write_chunk(sock, chunk(p).as_bytes()).await?;
            }
            write_chunk(sock, FINAL.as_bytes()).await?;
            end_chunks(sock).await?;
        }
        Reply::BadUtf8 => {
            start_sse(sock).await?;
            let mut bad = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"".to_vec();
            bad.extend_from_slice(&[0xff, 0xfe, 0xc3]);
            bad.extend_from_slice(b"\"},\"finish_reason\":null}]}\n\n");
            write_chunk(sock, &bad).await?;
            write_chunk(sock, FINAL.as_bytes()).await?;
            end_chunks(sock).await?;
        }
        Reply::Truncated(pieces) => {
            start_sse(sock).await?;
            for p in pieces {
                write_chunk(sock, chunk(&p).as_bytes()).await?;
            }
            let end = "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n";
            write_chunk(sock, end.as_bytes()).await?;
            end_chunks(sock).await?;
        }
        Reply::Empty => {
            start_sse(sock).await?;
            write_chunk(sock, FINAL.as_bytes()).await?;
            end_chunks(sock).await?;
        }
        Reply::Text(_) | Reply::Echo => unreachable!("resolved above"),
    }
    Ok(true)
}

/// Every message of a chat request but the system prompt, one per line.
fn echo(body: &serde_json::Value) -> String {
    body["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| m["role"] != "system")
                .filter_map(|m| m["content"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Splits a text into a few streamed pieces at character boundaries.
fn split_pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(7).map(|c| c.iter().collect()).collect()
}

pub(crate) async fn write_plain(
    sock: &mut TcpStream,
    code: u16,
    headers: &[(&str, String)],
    body: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        reason(code),
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body.as_bytes()).await?;
    sock.flush().await
}

async fn start_sse(sock: &mut TcpStream) -> std::io::Result<()> {
    sock.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await?;
    sock.flush().await
}

async fn write_chunk(sock: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    sock.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    sock.write_all(data).await?;
    sock.write_all(b"\r\n").await?;
    sock.flush().await
}

async fn end_chunks(sock: &mut TcpStream) -> std::io::Result<()> {
    sock.write_all(b"0\r\n\r\n").await?;
    sock.flush().await
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// The PostgreSQL database the tests may use (`ZHIKU_TEST_DATABASE_URL`, which `make test`
/// sets to a throw-away cluster); without one, says that `test` is skipped and returns `None`.
pub fn test_database_url(test: &str) -> Option<String> {
    let url = std::env::var("ZHIKU_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if url.is_none() {
        eprintln!("SKIPPED {test}: ZHIKU_TEST_DATABASE_URL is not set (make test sets it)");
    }
    url
}

/// The configuration engine tests start from: the installed model (`make setup`), a data
/// directory under `dir`, no model API, and the abstention thresholds off — tests of access
/// and doors want every question answered.
pub fn engine_test_config(dir: &std::path::Path) -> zhiku_core::Config {
    let mut config = zhiku_core::Config::load(None).expect("configuration");
    config.data_dir = dir.join("data");
    config.ingest.corpus_root = dir.to_path_buf();
    config.llm = Default::default();
    config.agent.min_relevance = 0.0;
    config.agent.min_term_coverage = 0.0;
    config
}
