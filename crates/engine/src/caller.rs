//! Who is asking. A transport builds a [`Caller`] from its authentication (a key, a user, a
//! session, or nobody) and hands it to every engine operation; nothing in a request body can
//! change it.

pub use zhiku_core::Channel;
use zhiku_core::Classification;

/// An authenticated (or anonymous) caller and what it may do. Fields are private: the only
/// ways to make one are the constructors below, which transports call after authenticating.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    principal: String,
    channel: Channel,
    clearance: Classification,
    /// `None`: every domain.
    domains: Option<Vec<String>>,
    admin: bool,
}

impl Caller {
    /// Nobody in particular: `public` clearance, every domain, no administration.
    pub fn anonymous(channel: Channel) -> Self {
        Self {
            principal: "anonymous".into(),
            channel,
            clearance: Classification::Public,
            domains: None,
            admin: false,
        }
    }

    /// The operator at the terminal of the machine that holds the data: they could read the
    /// files anyway, so they choose their clearance and may ingest.
    pub fn operator(clearance: Classification) -> Self {
        Self {
            principal: "operator".into(),
            channel: Channel::Terminal,
            clearance,
            domains: None,
            admin: true,
        }
    }

    /// A caller proved by a credential (an API key, a user's session).
    pub fn authenticated(
        principal: impl Into<String>,
        channel: Channel,
        clearance: Classification,
        domains: Option<Vec<String>>,
        admin: bool,
    ) -> Self {
        Self {
            principal: principal.into(),
            channel,
            clearance,
            domains,
            admin,
        }
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    pub fn clearance(&self) -> Classification {
        self.clearance
    }

    pub fn is_anonymous(&self) -> bool {
        self.principal == "anonymous"
    }

    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// The domains this caller may use; `None`: all.
    pub fn domains(&self) -> Option<&[String]> {
        self.domains.as_deref()
    }

    pub fn may_use(&self, domain: &str) -> bool {
        self.domains
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|d| d == domain))
    }
}
