//! The WeChat server API, as far as a mini-program backend needs it: exchanging a login code
//! for the user's `openid` and `session_key` (`jscode2session`), and checking a user's text
//! (`msgSecCheck`, with the access token it needs, fetched and cached here).
//!
//! Every WeChat failure is an error variant a caller can act on; none carries the AppSecret,
//! an access token or a `session_key` (request URLs are stripped from transport errors,
//! because they hold the secret).

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum WeChatError {
    #[error("WeChat refused the login code: invalid, expired or already used (40029)")]
    InvalidCode,
    #[error("WeChat says logins are too frequent for this user (45011)")]
    TooFrequent,
    #[error("WeChat has blocked this user's login (40226)")]
    Blocked,
    #[error("WeChat is busy (-1)")]
    Busy,
    #[error("WeChat error {code}: {message}")]
    Other { code: i64, message: String },
    #[error("WeChat did not answer within {0} ms")]
    Timeout(u64),
    #[error("cannot reach WeChat: {0}")]
    Unreachable(String),
    #[error("WeChat's reply is not what its API documents: {0}")]
    Malformed(String),
    #[error("the mini-program's AppSecret is missing: set the environment variable {0}")]
    NoSecret(String),
}

impl WeChatError {
    fn from_code(code: i64, message: &str) -> Self {
        match code {
            40029 => Self::InvalidCode,
            45011 => Self::TooFrequent,
            40226 => Self::Blocked,
            -1 => Self::Busy,
            _ => Self::Other {
                code,
                message: message.chars().take(200).collect(),
            },
        }
    }
}

/// What `jscode2session` gives for a login. `session_key` is never printed.
pub struct WxLogin {
    pub openid: String,
    pub session_key: String,
    pub unionid: Option<String>,
}

impl fmt::Debug for WxLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WxLogin").finish_non_exhaustive()
    }
}

/// `msgSecCheck`'s verdict on a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Not clearly risky; WeChat suggests a human look at it.
    Review,
    Risky {
        label: Option<i64>,
    },
}

/// A mini-program's credentials and where WeChat's API is.
pub struct WeChat {
    http: reqwest::Client,
    base: String,
    appid: String,
    secret: String,
    timeout: Duration,
    token: Mutex<Option<(String, Instant)>>,
}

impl fmt::Debug for WeChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeChat")
            .field("base", &self.base)
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
    result: Option<CheckResult>,
}

#[derive(Deserialize)]
struct CheckResult {
    suggest: String,
    label: Option<i64>,
}

impl WeChat {
    pub fn new(
        base: &str,
        appid: &str,
        secret: &str,
        timeout: Duration,
    ) -> Result<Self, WeChatError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| WeChatError::Unreachable(e.without_url().to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            appid: appid.to_string(),
            secret: secret.to_string(),
            timeout,
            token: Mutex::new(None),
        })
    }

    /// The secret read from the environment variable `var`.
    pub fn from_env(
        base: &str,
        appid: &str,
        var: &str,
        timeout: Duration,
    ) -> Result<Self, WeChatError> {
        let secret = std::env::var(var)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| WeChatError::NoSecret(var.to_string()))?;
        Self::new(base, appid, secret.trim(), timeout)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, WeChatError> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        if !status.is_success() {
            return Err(WeChatError::Malformed(format!("HTTP status {status}")));
        }
        serde_json::from_slice(&body)
            .map_err(|e| WeChatError::Malformed(format!("not the JSON expected: {e}")))
    }

    fn transport(&self, e: reqwest::Error) -> WeChatError {
        if e.is_timeout() {
            WeChatError::Timeout(self.timeout.as_millis() as u64)
        } else {
            WeChatError::Unreachable(e.without_url().to_string())
        }
    }

    /// `GET /sns/jscode2session`: the user behind a `wx.login` code.
    pub async fn code_to_session(&self, code: &str) -> Result<WxLogin, WeChatError> {
        let reply = self
            .send(
                self.http
                    .get(format!("{}/sns/jscode2session", self.base))
                    .query(&[
                        ("appid", self.appid.as_str()),
                        ("secret", self.secret.as_str()),
                        ("js_code", code),
                        ("grant_type", "authorization_code"),
                    ]),
            )
            .await?;
        if reply.errcode != 0 {
            return Err(WeChatError::from_code(reply.errcode, &reply.errmsg));
        }
        match (reply.openid, reply.session_key) {
            (Some(openid), Some(session_key)) if !openid.is_empty() && !session_key.is_empty() => {
                Ok(WxLogin {
                    openid,
                    session_key,
                    unionid: reply.unionid.filter(|u| !u.is_empty()),
                })
            }
            _ => Err(WeChatError::Malformed(
                "no openid or session_key in a successful reply".into(),
            )),
        }
    }

    /// The access token, from the cache while it has five minutes left.
    async fn access_token(&self, refresh: bool) -> Result<String, WeChatError> {
        let mut cached = self.token.lock().await;
        if let (false, Some((token, until))) = (refresh, cached.as_ref()) {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let reply = self
            .send(
                self.http
                    .get(format!("{}/cgi-bin/token", self.base))
                    .query(&[
                        ("grant_type", "client_credential"),
                        ("appid", self.appid.as_str()),
                        ("secret", self.secret.as_str()),
                    ]),
            )
            .await?;
        if reply.errcode != 0 {
            return Err(WeChatError::from_code(reply.errcode, &reply.errmsg));
        }
        let token = reply
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| WeChatError::Malformed("no access_token".into()))?;
        let life = reply
            .expires_in
            .unwrap_or(7_200)
            .saturating_sub(300)
            .max(60);
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(life)));
        Ok(token)
    }

    /// `POST /wxa/msg_sec_check` (version 2) on a user's text. An expired access token is
    /// fetched again once.
    pub async fn check_text(&self, openid: &str, content: &str) -> Result<Verdict, WeChatError> {
        let body = serde_json::json!({
            "content": content, "version": 2, "scene": 2, "openid": openid,
        });
        for refresh in [false, true] {
            let token = self.access_token(refresh).await?;
            let reply = self
                .send(
                    self.http
                        .post(format!("{}/wxa/msg_sec_check", self.base))
                        .query(&[("access_token", token.as_str())])
                        .json(&body),
                )
                .await?;
            match reply.errcode {
                0 => {}
                // The access token expired or was replaced by another process's fetch.
                40001 | 42001 if !refresh => continue,
                // Version 1's answer for risky content.
                87014 => return Ok(Verdict::Risky { label: None }),
                code => return Err(WeChatError::from_code(code, &reply.errmsg)),
            }
            let result = reply
                .result
                .ok_or_else(|| WeChatError::Malformed("no result in msgSecCheck's reply".into()))?;
            return match result.suggest.as_str() {
                "pass" => Ok(Verdict::Pass),
                "review" => Ok(Verdict::Review),
                "risky" => Ok(Verdict::Risky {
                    label: result.label,
                }),
                other => Err(WeChatError::Malformed(format!("unknown suggest {other:?}"))),
            };
        }
        Err(WeChatError::Malformed(
            "the access token was refused twice".into(),
        ))
    }
}
