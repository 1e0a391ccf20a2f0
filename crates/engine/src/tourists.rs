//! The tourists of the WeChat mini-program: a WeChat login turned into Zhiku's own session,
//! the caller a session stands for, their preferences, the content check their text goes
//! through, and deleting everything kept about them.
//!
//! The openid is kept in clear only in a live session (`msgSecCheck` needs it); everywhere
//! else a tourist is a salted hash of it. WeChat's `session_key` never leaves the store.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zhiku_core::{Classification, ContentCheck};
use zhiku_wechat::{Verdict, WeChat, WeChatError};

use crate::{Caller, Channel, Engine, EngineError};

/// A tourist behind a live session token.
#[derive(Debug, Clone)]
pub struct Tourist {
    pub caller: Caller,
    pub expires_at_ms: i64,
    user_hash: String,
    openid: String,
}

/// What a tourist told us to remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    /// `zh` or `en`.
    pub lang: Option<String>,
    /// e.g. `["history", "园林"]`.
    pub interests: Vec<String>,
}

impl Preferences {
    /// Checks and tidies what a request sent: a known language, at most 10 short interests.
    pub fn checked(mut self) -> Result<Self, EngineError> {
        if let Some(l) = &self.lang {
            let l = l.trim().to_ascii_lowercase();
            if l != "zh" && l != "en" {
                return Err(invalid("lang must be \"zh\" or \"en\""));
            }
            self.lang = Some(l);
        }
        self.interests = self
            .interests
            .iter()
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect();
        if self.interests.len() > 10 || self.interests.iter().any(|i| i.chars().count() > 40) {
            return Err(invalid(
                "at most 10 interests of at most 40 characters each",
            ));
        }
        Ok(self)
    }
}

fn invalid(message: &str) -> EngineError {
    EngineError::Invalid(zhiku_core::CoreError::InvalidQuery(message.into()))
}

/// A new session.
#[derive(Debug, Clone, Serialize)]
pub struct MiniProgramLogin {
    pub token: String,
    pub expires_at_ms: i64,
    pub preferences: Preferences,
}

/// What the content check said of a text that may be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentChecked {
    Passed,
    /// WeChat suggested a human review; the text is answered.
    Review,
    /// Checking is off.
    Skipped,
    /// The check failed and `content_check = "advisory"` lets the text through.
    Unchecked(String),
}

pub(crate) fn wechat_client(config: &zhiku_core::Config) -> Option<WeChat> {
    let mp = &config.mini_program;
    if !mp.enabled() {
        return None;
    }
    match WeChat::from_env(
        &mp.api_base,
        &mp.appid,
        &mp.secret_env,
        Duration::from_millis(mp.timeout_ms),
    ) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("the mini-program door cannot sign anyone in: {e}");
            None
        }
    }
}

impl Engine {
    fn wechat(&self) -> Result<&WeChat, EngineError> {
        let mp = &self.config().mini_program;
        if !mp.enabled() {
            return Err(EngineError::NotConfigured(
                "the mini-program door is off: set mini_program.appid".into(),
            ));
        }
        self.wechat
            .as_ref()
            .ok_or_else(|| WeChatError::NoSecret(mp.secret_env.clone()).into())
    }

    async fn user_hash(&self, openid: &str) -> Result<String, EngineError> {
        use sha2::Digest;
        let salt = self
            .store
            .setting_or_insert("mini_program_openid_salt", || {
                format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                )
            })
            .await?;
        let mut h = sha2::Sha256::new();
        h.update(salt.as_bytes());
        h.update(b"\0");
        h.update(openid.as_bytes());
        Ok(hex::encode(h.finalize()))
    }

    /// Exchanges a `wx.login` code at WeChat for the user, and starts a session.
    pub async fn mini_program_login(&self, code: &str) -> Result<MiniProgramLogin, EngineError> {
        let code = code.trim();
        if code.is_empty() || code.len() > 256 || !code.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid(
                "code must be the code wx.login gave (1–256 visible ASCII characters)",
            ));
        }
        let login = self.wechat()?.code_to_session(code).await?;
        let user_hash = self.user_hash(&login.openid).await?;
        let ttl = Duration::from_secs(self.config().mini_program.session_hours * 3_600);
        let (token, expires_at_ms) = self
            .store
            .start_mp_session(&user_hash, &login.openid, &login.session_key, ttl)
            .await?;
        let preferences = self.stored_preferences(&user_hash).await?;
        Ok(MiniProgramLogin {
            token,
            expires_at_ms,
            preferences,
        })
    }

    /// The tourist a session token stands for, if it is live.
    pub async fn tourist(&self, token: &str) -> Result<Option<Tourist>, EngineError> {
        let Some(s) = self.store.mp_session(token).await? else {
            return Ok(None);
        };
        let domains = self.config().mini_program.domains.clone();
        Ok(Some(Tourist {
            caller: Caller::authenticated(
                format!("mp:{}", s.user_hash),
                Channel::MiniProgram,
                Classification::Public,
                Some(domains),
                false,
            ),
            expires_at_ms: s.expires_at_ms,
            user_hash: s.user_hash,
            openid: s.openid,
        }))
    }

    async fn stored_preferences(&self, user_hash: &str) -> Result<Preferences, EngineError> {
        Ok(self
            .store
            .mp_preferences(user_hash)
            .await?
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }

    pub async fn preferences(&self, tourist: &Tourist) -> Result<Preferences, EngineError> {
        self.stored_preferences(&tourist.user_hash).await
    }

    pub async fn set_preferences(
        &self,
        tourist: &Tourist,
        preferences: Preferences,
    ) -> Result<Preferences, EngineError> {
        let mut p = preferences.checked()?;
        // Free text that is stored: no identifiers in it, as in every other stored text.
        for interest in &mut p.interests {
            *interest = self.redact(interest).text;
        }
        let json = serde_json::to_string(&p).map_err(|e| invalid(&e.to_string()))?;
        self.store
            .set_mp_preferences(&tourist.user_hash, &json)
            .await?;
        Ok(p)
    }

    /// Deletes the tourist's sessions, preferences and conversations.
    pub async fn forget_tourist(
        &self,
        tourist: &Tourist,
    ) -> Result<zhiku_store::MpDeleted, EngineError> {
        Ok(self
            .store
            .delete_mp_user(&tourist.user_hash, tourist.caller.principal())
            .await?)
    }

    /// Runs `text` through WeChat's `msgSecCheck` as `mini_program.content_check` says: risky
    /// text is refused; a failing check refuses only when the check is `required`.
    pub async fn check_content(
        &self,
        tourist: &Tourist,
        text: &str,
    ) -> Result<ContentChecked, EngineError> {
        let mode = self.config().mini_program.content_check;
        if mode == ContentCheck::Off {
            return Ok(ContentChecked::Skipped);
        }
        let verdict = match self.wechat() {
            Ok(w) => w
                .check_text(&tourist.openid, text)
                .await
                .map_err(EngineError::from),
            Err(e) => Err(e),
        };
        match (verdict, mode) {
            (Ok(Verdict::Pass), _) => Ok(ContentChecked::Passed),
            (Ok(Verdict::Review), _) => Ok(ContentChecked::Review),
            (Ok(Verdict::Risky { .. }), _) => Err(EngineError::ContentRejected),
            (Err(e), ContentCheck::Required) => Err(EngineError::ContentCheckFailed(e.to_string())),
            (Err(e), _) => {
                tracing::warn!("content check failed; answering anyway (advisory): {e}");
                Ok(ContentChecked::Unchecked(e.to_string()))
            }
        }
    }
}
