//! The people behind the web chat: their roles and what each role may read, signing in with a
//! local account, sessions, and users a school's reverse proxy has already authenticated.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use zhiku_core::Classification;
use zhiku_store::{user_principal, User};

use crate::{Caller, Channel, Engine, EngineError};

/// A web user's role: it sets their clearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Public material only.
    Student,
    /// Also `internal` material (answer keys, observation records).
    Teacher,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Student => "student",
            Self::Teacher => "teacher",
        }
    }

    pub fn clearance(self) -> Classification {
        match self {
            Self::Student => Classification::Public,
            Self::Teacher => Classification::Internal,
        }
    }
}

impl FromStr for Role {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "student" => Ok(Self::Student),
            "teacher" => Ok(Self::Teacher),
            other => Err(EngineError::UnknownRole(other.to_string())),
        }
    }
}

/// The `[web]` settings that name a role or an address, checked when the engine opens: a
/// server must not start and then treat a mistyped setting as something else at the first
/// request that needs it.
pub(crate) fn check_web_config(config: &zhiku_core::Config) -> Result<(), EngineError> {
    let web = &config.web;
    web.trusted_default_role.parse::<Role>().map_err(|_| {
        EngineError::NotConfigured(format!(
            "web.trusted_default_role = {:?} is not a role (student or teacher)",
            web.trusted_default_role
        ))
    })?;
    for proxy in &web.trusted_proxies {
        if proxy.trim().parse::<std::net::IpAddr>().is_err() {
            return Err(EngineError::NotConfigured(format!(
                "web.trusted_proxies: {proxy:?} is not an IP address (one address per entry, no ranges)"
            )));
        }
    }
    Ok(())
}

/// A signed-in (or proxy-authenticated) web user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebUser {
    pub name: String,
    pub role: Role,
}

impl WebUser {
    fn from_account(user: &User) -> Result<Self, EngineError> {
        Ok(Self {
            name: user.name.clone(),
            role: user.role.parse()?,
        })
    }
}

/// A user name: what people type, so letters of any script, digits and `._@-`, 1–64 of them.
fn check_name(name: &str) -> Result<(), EngineError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidAccount(format!(
            "user name {name:?}: use 1–64 letters, digits or . _ @ -"
        )))
    }
}

const MIN_PASSWORD_CHARS: usize = 8;

fn check_password(password: &str) -> Result<(), EngineError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(EngineError::InvalidAccount(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

impl Engine {
    /// The caller a web user's requests run as. Never an administrator: administration
    /// (ingest) takes an admin key, not a browser's cookie.
    pub fn web_caller(&self, user: &WebUser) -> Caller {
        let domains = &self.config().web.domains;
        Caller::authenticated(
            user_principal(&user.name),
            Channel::Web,
            user.role.clearance(),
            (!domains.is_empty()).then(|| domains.clone()),
            false,
        )
    }

    /// Adds a local account (`password: None`: it signs in only through the trusted proxy).
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<User, EngineError> {
        add_user(self.store(), name, role, password).await
    }

    /// Checks a name and password; returns the user and a session token (shown once).
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
    ) -> Result<(WebUser, String), EngineError> {
        let user = self
            .store()
            .check_password(name.trim(), password)
            .await?
            .ok_or(EngineError::BadCredentials)?;
        let user = WebUser::from_account(&user)?;
        let hours = self.config().web.session_hours.max(1);
        let token = self
            .store()
            .create_session(
                &user_principal(&user.name),
                user.role.clearance().as_str(),
                Duration::from_secs(hours * 3600),
            )
            .await?;
        Ok((user, token))
    }

    /// The user a session token belongs to, with their role as it is now (a removed account's
    /// sessions are gone with it).
    pub async fn session_user(&self, token: &str) -> Result<Option<WebUser>, EngineError> {
        let Some(session) = self.store().session(token).await? else {
            return Ok(None);
        };
        let Some(name) = session.principal.strip_prefix("user:") else {
            return Ok(None);
        };
        match self.store().user(name).await? {
            Some(user) => Ok(Some(WebUser::from_account(&user)?)),
            None => Ok(None),
        }
    }

    pub async fn sign_out(&self, token: &str) -> Result<(), EngineError> {
        Ok(self.store().end_session(token).await?)
    }

    /// A user the trusted reverse proxy vouches for: a local account's role, else
    /// `web.trusted_default_role`.
    pub async fn proxy_user(&self, name: &str) -> Result<WebUser, EngineError> {
        let name = name.trim();
        check_name(name)?;
        match self.store().user(name).await? {
            Some(user) => WebUser::from_account(&user),
            None => Ok(WebUser {
                name: name.to_string(),
                role: self.config().web.trusted_default_role.parse()?,
            }),
        }
    }
}

/// Adds a local account to a store (the CLI manages accounts without loading the model).
pub async fn add_user(
    store: &zhiku_store::Store,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> Result<User, EngineError> {
    check_name(name)?;
    if let Some(p) = password {
        check_password(p)?;
    }
    Ok(store.create_user(name, role.as_str(), password).await?)
}

/// Sets a local account's password (checked like a new one).
pub async fn set_password(
    store: &zhiku_store::Store,
    name: &str,
    password: &str,
) -> Result<bool, EngineError> {
    check_password(password)?;
    Ok(store.set_password(name, password).await?)
}
