//! `serve.toml`: who may call the service (tokens, JWT issuers) and where notifications go.
//! The shape of `[auth.agents]`, `[auth.approvers]`, `[auth.approver_roles]` and
//! `[notify.channels]` is the core contract (server/README.md); `[auth.admins]`, `[[auth.jwt]]`, `[notify.retry]`
//! and `[server]` extend it.
//!
//! Parsing refuses unknown keys and checks every value it can before the server starts, so a
//! typo is an error with its line and column, not a channel that silently never delivers.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Why `serve.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A TOML syntax or shape error (the message has the line and column).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What went wrong, and where.
        message: String,
    },
    /// A value that parses but cannot work.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The setting, as the file spells it.
        key: String,
        /// Why it cannot work.
        message: String,
    },
}

/// `serve.toml`: everything the service is configured with beside its command line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: the public URL, connection and header limits.
    #[serde(default)]
    pub server: ServerSection,
    /// `[auth]`: tokens, JWT issuers, approvers' roles.
    #[serde(default)]
    pub auth: AuthSection,
    /// `[notify]`: the channels notifications go to, and their retries.
    #[serde(default)]
    pub notify: NotifySection,
    /// `[decision_log]`: every decision as a JSON line (decision_log.rs); absent: none.
    #[serde(default)]
    pub decision_log: Option<DecisionLogSection>,
    /// `[evidence]`: the sources deferrals ask for facts, and the rounds' backoff.
    #[serde(default)]
    pub evidence: EvidenceSection,
    /// `[tracing]`: OpenTelemetry spans over OTLP (traces.rs); absent: only if the standard
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    #[serde(default)]
    pub tracing: Option<TracingSection>,
}

/// `[tracing]`: where spans are exported.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingSection {
    /// The OTLP/HTTP base URL (`http://127.0.0.1:4318`); spans go to `/v1/traces` under it.
    pub otlp_endpoint: String,
}

/// `[decision_log]`: where decision lines go and what is taken out of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionLogSection {
    /// A file (appended to), or `-` for standard output.
    pub path: String,
    /// Fields whose values are replaced by `[redacted]`, as dotted paths in the line
    /// (`params.card_number`).
    #[serde(default)]
    pub redact: Vec<String>,
    /// Lines waiting for the writer at most (default 10 000); past it, lines are dropped and
    /// counted (`aarm_decision_log_dropped_total`), never waited for.
    #[serde(default = "default_decision_log_queue")]
    pub queue: usize,
}

fn default_decision_log_queue() -> usize {
    10_000
}

/// `[server]`: settings that belong with the deployment rather than the command line.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// The address approvers reach the service at, for the links in notifications
    /// (`https://aarm.corp.com`); default: `http://` + the listen address.
    pub public_url: Option<String>,
    /// Connections open at once (default 1024); past it, new ones wait in the listen backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a connection may take to send a request head, an idle keep-alive connection
    /// included (default 10); then it is closed.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_s: u64,
    /// The largest request head, request line and headers (default 32 KiB): 431 beyond.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
}

impl Default for ServerSection {
    fn default() -> ServerSection {
        ServerSection {
            public_url: None,
            max_connections: default_max_connections(),
            header_read_timeout_s: default_header_read_timeout(),
            max_header_bytes: default_max_header_bytes(),
        }
    }
}

fn default_max_connections() -> usize {
    1024
}

fn default_header_read_timeout() -> u64 {
    10
}

fn default_max_header_bytes() -> usize {
    32 * 1024
}

/// `[auth]`: who a credential belongs to, and the roles approvers hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// token → agent identity: may call `/v1/decide` and read, provide evidence to and cancel
    /// its own cases.
    #[serde(default)]
    pub agents: BTreeMap<String, String>,
    /// token → approver identity: may approve or deny, as that identity only.
    #[serde(default)]
    pub approvers: BTreeMap<String, String>,
    /// approver identity → verified roles (`approvers 1 of role "R"`).
    #[serde(default)]
    pub approver_roles: BTreeMap<String, Vec<String>>,
    /// agent identity → verified roles: a request's `identity.roles` is filled with them, or
    /// must name only roles among them.
    #[serde(default)]
    pub agent_roles: BTreeMap<String, Vec<String>>,
    /// agent identity → the humans it may act for (`identity.human`); `["*"]`: anyone (a
    /// service agent). An agent not listed may name no human.
    #[serde(default)]
    pub agent_humans: BTreeMap<String, Vec<String>>,
    /// agent identity → the services it may act as (`identity.service`); `["*"]`: any. An
    /// agent not listed may name no service.
    #[serde(default)]
    pub agent_services: BTreeMap<String, Vec<String>>,
    /// token → operator identity: may read every case and receipt, cancel, and reload.
    #[serde(default)]
    pub admins: BTreeMap<String, String>,
    /// JWT issuers whose signed tokens are accepted besides the static tokens.
    #[serde(default)]
    pub jwt: Vec<JwtIssuer>,
    /// How long (seconds) an agent's credential vouches for a suspended action after the
    /// decision: a release later than this (or than a JWT's `exp`, if earlier) is
    /// `identity_invalid` until the agent presents a valid credential again
    /// (`POST /v1/cases/{id}/revalidate`). Absent: static tokens never expire, JWTs at `exp`.
    #[serde(default)]
    pub credential_max_age_s: Option<u64>,
}

/// Who a credential belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Asks for decisions; reads, provides evidence to and cancels its own cases.
    Agent,
    /// Approves or denies the cases it is an approver of; grants overrides.
    Approver,
    /// An operator: reads everything, reloads the bundle, reads the metrics.
    Admin,
}

impl Kind {
    /// The kind as the API and the logs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Agent => "agent",
            Kind::Approver => "approver",
            Kind::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "agent" => Some(Kind::Agent),
            "approver" => Some(Kind::Approver),
            "admin" => Some(Kind::Admin),
            _ => None,
        }
    }
}

/// One `[[auth.jwt]]` issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtIssuer {
    /// `iss` the tokens must carry.
    pub issuer: String,
    /// `aud` the tokens must carry, when set (a token without `aud` is then refused).
    pub audience: Option<String>,
    /// `HS256`, `HS384`, `HS512`, `RS256`, `RS384`, `RS512`, `PS256`, `ES256`, `ES384`, `EdDSA`.
    pub algorithm: String,
    /// The shared secret (HS*).
    pub secret: Option<String>,
    /// A PEM public key (RS*, PS*, ES*, EdDSA), inline ...
    pub public_key_pem: Option<String>,
    /// ... or in a file (relative to the config file).
    pub public_key_file: Option<String>,
    /// Every token of this issuer is of this kind ...
    pub kind: Option<Kind>,
    /// ... or the kind is this claim's value (`agent`, `approver`, `admin`).
    pub kind_claim: Option<String>,
    /// The claim naming the identity (default `sub`).
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// A claim holding the approver's or agent's roles (a list of strings), when the issuer
    /// asserts roles.
    pub roles_claim: Option<String>,
    /// A claim listing the humans an agent may act for (`"*"`: anyone), added to
    /// `[auth.agent_humans]`.
    pub humans_claim: Option<String>,
    /// A claim listing the services an agent may act as (`"*"`: any), added to
    /// `[auth.agent_services]`.
    pub services_claim: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, seconds (default 30).
    #[serde(default = "default_leeway")]
    pub leeway_s: u64,
}

fn default_subject_claim() -> String {
    "sub".to_string()
}

fn default_leeway() -> u64 {
    30
}

/// `[notify]`: the channels and how deliveries are retried.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    /// Channel names as policies write them in `notify` → where they deliver.
    #[serde(default)]
    pub channels: BTreeMap<String, Channel>,
    /// `[notify.retry]`: attempts and backoff of a delivery.
    #[serde(default)]
    pub retry: Retry,
}

/// Where a channel name delivers, by kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Channel {
    /// A JSON POST signed with HMAC-SHA256 (`X-Aarm-Signature`).
    Webhook {
        /// Where it is posted.
        url: String,
        /// The HMAC key; none: unsigned.
        secret: Option<String>,
    },
    /// A Slack-compatible incoming webhook.
    Slack {
        /// The webhook's URL.
        url: String,
    },
    /// E-mail over SMTP (`host:port`, plain SMTP to a relay).
    Email {
        /// The relay, `host:port`.
        smtp: String,
        /// The sender's address.
        from: String,
        /// Recipients; default: the address in the channel name (`email:approvals@corp.com`).
        #[serde(default)]
        to: Vec<String>,
    },
}

impl Channel {
    /// The channel's kind, as `serve.toml` and the metrics spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook { .. } => "webhook",
            Channel::Slack { .. } => "slack",
            Channel::Email { .. } => "email",
        }
    }
}

/// `[notify.retry]`: failed deliveries are retried with exponential backoff.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (default 8).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the second attempt (default 1000 ms); doubled each time.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff_ms: u64,
    /// The longest wait between attempts (default 300 000 ms).
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
    /// One attempt's time limit (default 10 000 ms).
    #[serde(default = "default_attempt_timeout")]
    pub timeout_ms: u64,
}

fn default_attempts() -> u32 {
    8
}
fn default_initial_backoff() -> u64 {
    1000
}
fn default_max_backoff() -> u64 {
    300_000
}
fn default_attempt_timeout() -> u64 {
    10_000
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            max_attempts: default_attempts(),
            initial_backoff_ms: default_initial_backoff(),
            max_backoff_ms: default_max_backoff(),
            timeout_ms: default_attempt_timeout(),
        }
    }
}

/// `[evidence]`: how the sources a policy names (`evidence X: T from "NAME"`) are asked for the
/// facts a deferral waits on (sources.rs).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSection {
    /// Source names as policies write them in `from "NAME"` → how to ask them.
    #[serde(default)]
    pub sources: BTreeMap<String, Source>,
    /// `[evidence.retry]`: the backoff between a deferral's rounds.
    #[serde(default)]
    pub retry: RoundRetry,
}

/// How an evidence source is asked, by kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A JSON POST of the facts wanted; the answer is a JSON object of fact values.
    Http {
        /// Where the facts are asked for.
        url: String,
        /// One try's time limit, the answer's body included (default 2000 ms).
        #[serde(default = "default_source_timeout")]
        timeout_ms: u64,
        /// Sent as `Authorization: Bearer <token>`.
        token: Option<String>,
        /// Extra request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// Asks the request's `identity.human` (the inbox, the notification channels): the answer,
    /// confirm or decline, is the fact's value. Only `Bool` facts; never asked in rounds.
    Confirm {},
}

impl Source {
    /// Whether rounds ask this source (a `confirm` source is answered by a person instead).
    pub fn asked_in_rounds(&self) -> bool {
        matches!(self, Source::Http { .. })
    }
}

fn default_source_timeout() -> u64 {
    2000
}

/// `[evidence.retry]`: the wait between rounds of a deferral, doubled after each round.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundRetry {
    /// The wait after the first round (default 1000 ms).
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff_ms: u64,
    /// The longest wait between rounds (default 60 000 ms).
    #[serde(default = "default_round_max_backoff")]
    pub max_backoff_ms: u64,
}

fn default_round_max_backoff() -> u64 {
    60_000
}

impl Default for RoundRetry {
    fn default() -> RoundRetry {
        RoundRetry { initial_backoff_ms: default_initial_backoff(), max_backoff_ms: default_round_max_backoff() }
    }
}

/// The longest time limit a source may be given: a round must not hold up the next for long.
pub const MAX_SOURCE_TIMEOUT_MS: u64 = 60_000;

impl EvidenceSection {
    fn check(&self) -> Result<(), (String, String)> {
        for (name, source) in &self.sources {
            let key = |field: &str| format!("evidence.sources.{name}.{field}");
            match source {
                Source::Http { url, timeout_ms, token, headers } => {
                    check_url(url).map_err(|m| (key("url"), m))?;
                    if *timeout_ms == 0 || *timeout_ms > MAX_SOURCE_TIMEOUT_MS {
                        return Err((key("timeout_ms"), format!("must be from 1 to {MAX_SOURCE_TIMEOUT_MS}")));
                    }
                    if token.as_deref().is_some_and(|t| t.trim().is_empty()) {
                        return Err((key("token"), "is empty".into()));
                    }
                    for (h, v) in headers {
                        let valid = reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_ok()
                            && reqwest::header::HeaderValue::from_str(v).is_ok();
                        if !valid {
                            return Err((key("headers"), format!("`{h}` is not a valid HTTP header name and value")));
                        }
                    }
                }
                Source::Confirm {} => {}
            }
        }
        let retry = &self.retry;
        if retry.initial_backoff_ms == 0 {
            return Err(("evidence.retry.initial_backoff_ms".into(), "must be more than 0".into()));
        }
        if retry.max_backoff_ms < retry.initial_backoff_ms {
            return Err(("evidence.retry.max_backoff_ms".into(), "must be at least initial_backoff_ms".into()));
        }
        Ok(())
    }
}

impl Config {
    /// Reads and checks a `serve.toml`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: shown.clone(), message: e.to_string() })?;
        let mut config = Config::parse(&text, &shown)?;
        // Key files are relative to the config file.
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        for (i, jwt) in config.auth.jwt.iter_mut().enumerate() {
            if let Some(file) = jwt.public_key_file.take() {
                let full = base.join(&file);
                let pem = std::fs::read_to_string(&full).map_err(|e| ConfigError::Invalid {
                    path: shown.clone(),
                    key: format!("auth.jwt[{i}].public_key_file"),
                    message: format!("cannot read {}: {e}", full.display()),
                })?;
                jwt.public_key_pem = Some(pem);
            }
        }
        Ok(config)
    }

    /// Parses and checks a config's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_string(), message: e.to_string() })?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { path: path.to_string(), key, message };
        let mut seen: HashMap<&str, &str> = HashMap::new();
        let tables = [
            ("auth.agents", &self.auth.agents),
            ("auth.approvers", &self.auth.approvers),
            ("auth.admins", &self.auth.admins),
        ];
        for (table, map) in tables {
            for (token, who) in map {
                if token.trim().is_empty() {
                    return Err(invalid(table.to_string(), "a token is empty".into()));
                }
                if who.trim().is_empty() {
                    return Err(invalid(format!("{table}.<token>"), "the identity is empty".into()));
                }
                // The token itself never appears in an error: it is a secret.
                if let Some(other) = seen.insert(token.as_str(), table) {
                    return Err(invalid(
                        table.to_string(),
                        format!("a token of `{who}` is also listed in `{other}`: one token, one identity"),
                    ));
                }
            }
        }
        let lists = [
            ("auth.approver_roles", &self.auth.approver_roles, "a role"),
            ("auth.agent_roles", &self.auth.agent_roles, "a role"),
            ("auth.agent_humans", &self.auth.agent_humans, "a human"),
            ("auth.agent_services", &self.auth.agent_services, "a service"),
        ];
        for (table, map, what) in lists {
            for (who, items) in map {
                if items.iter().any(|r| r.trim().is_empty()) {
                    return Err(invalid(format!("{table}.{who}"), format!("{what} is empty")));
                }
            }
        }
        for (i, jwt) in self.auth.jwt.iter().enumerate() {
            let key = |k: &str| format!("auth.jwt[{i}].{k}");
            if jwt.issuer.trim().is_empty() {
                return Err(invalid(key("issuer"), "the issuer is empty".into()));
            }
            let family = jwt_family(&jwt.algorithm).ok_or_else(|| {
                invalid(
                    key("algorithm"),
                    format!(
                        "unknown algorithm `{}`: use HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, \
                         ES256, ES384 or EdDSA",
                        jwt.algorithm
                    ),
                )
            })?;
            match family {
                JwtFamily::Hmac if jwt.secret.as_deref().is_none_or(str::is_empty) => {
                    return Err(invalid(key("secret"), format!("{} needs a `secret`", jwt.algorithm)))
                }
                JwtFamily::Hmac if jwt.public_key_pem.is_some() || jwt.public_key_file.is_some() => {
                    return Err(invalid(key("public_key_pem"), format!("{} uses a `secret`, not a key", jwt.algorithm)))
                }
                JwtFamily::PublicKey if jwt.public_key_pem.is_none() && jwt.public_key_file.is_none() => {
                    return Err(invalid(
                        key("public_key_pem"),
                        format!("{} needs `public_key_pem` or `public_key_file`", jwt.algorithm),
                    ))
                }
                JwtFamily::PublicKey if jwt.secret.is_some() => {
                    return Err(invalid(key("secret"), format!("{} uses a public key, not a `secret`", jwt.algorithm)))
                }
                _ => {}
            }
            if jwt.kind.is_none() == jwt.kind_claim.is_none() {
                return Err(invalid(
                    key("kind"),
                    "give exactly one of `kind` (agent, approver, admin) or `kind_claim`".into(),
                ));
            }
        }
        for (name, channel) in &self.notify.channels {
            let key = format!("notify.channels.\"{name}\"");
            match channel {
                Channel::Webhook { url, .. } | Channel::Slack { url } => check_url(url).map_err(|m| invalid(key, m))?,
                Channel::Email { smtp, from, to } => {
                    parse_host_port(smtp).map_err(|m| invalid(format!("{key}.smtp"), m))?;
                    check_mailbox(from).map_err(|m| invalid(format!("{key}.from"), m))?;
                    if to.is_empty() && email_of_channel(name).is_none() {
                        return Err(invalid(
                            format!("{key}.to"),
                            "no recipients: give `to = [...]` or name the channel `email:ADDRESS`".into(),
                        ));
                    }
                    for addr in to {
                        check_mailbox(addr).map_err(|m| invalid(format!("{key}.to"), m))?;
                    }
                }
            }
        }
        if let Some(t) = &self.tracing {
            let scheme = t.otlp_endpoint.split_once("://").map(|(s, rest)| (s, rest.is_empty()));
            if !matches!(scheme, Some(("http" | "https", false))) {
                return Err(invalid(
                    "tracing.otlp_endpoint".into(),
                    format!("`{}` is not an http(s) URL (e.g. `http://127.0.0.1:4318`)", t.otlp_endpoint),
                ));
            }
        }
        if let Some(log) = &self.decision_log {
            if log.path.trim().is_empty() {
                return Err(invalid("decision_log.path".into(), "give a file, or `-` for standard output".into()));
            }
            if log.queue == 0 {
                return Err(invalid("decision_log.queue".into(), "must be at least 1".into()));
            }
            if let Some(bad) = log.redact.iter().find(|p| p.split('.').any(|k| k.is_empty())) {
                return Err(invalid(
                    "decision_log.redact".into(),
                    format!("`{bad}` is not a dotted path of field names (e.g. `params.card_number`)"),
                ));
            }
        }
        let retry = &self.notify.retry;
        if retry.max_attempts == 0 {
            return Err(invalid("notify.retry.max_attempts".into(), "must be at least 1".into()));
        }
        if retry.timeout_ms == 0 {
            return Err(invalid("notify.retry.timeout_ms".into(), "must be more than 0".into()));
        }
        if self.server.max_connections == 0 {
            return Err(invalid("server.max_connections".into(), "must be at least 1".into()));
        }
        if self.server.header_read_timeout_s == 0 {
            return Err(invalid("server.header_read_timeout_s".into(), "must be at least 1 second".into()));
        }
        if self.server.max_header_bytes < 1024 {
            return Err(invalid("server.max_header_bytes".into(), "must be at least 1024".into()));
        }
        if let Some(url) = &self.server.public_url {
            check_url(url).map_err(|m| invalid("server.public_url".into(), m))?;
        }
        self.evidence.check().map_err(|(key, m)| invalid(key, m))?;
        Ok(())
    }

    /// Whether any credential at all is configured (without one every call is refused).
    pub fn has_credentials(&self) -> bool {
        !(self.auth.agents.is_empty()
            && self.auth.approvers.is_empty()
            && self.auth.admins.is_empty()
            && self.auth.jwt.is_empty())
    }
}

/// The kind of key a JWT algorithm verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtFamily {
    /// A shared secret (`HS*`).
    Hmac,
    /// A public key (`RS*`, `PS*`, `ES*`, `EdDSA`).
    PublicKey,
}

/// The family of a JWT algorithm name; `None` for one the service does not take.
pub fn jwt_family(algorithm: &str) -> Option<JwtFamily> {
    match algorithm {
        "HS256" | "HS384" | "HS512" => Some(JwtFamily::Hmac),
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "EdDSA" => {
            Some(JwtFamily::PublicKey)
        }
        _ => None,
    }
}

impl JwtIssuer {
    /// Who a token of this issuer belongs to: the issuer's fixed kind, or the one its `kind_claim`
    /// names.
    pub fn kind_of(&self, claims: &serde_json::Value) -> Option<Kind> {
        match (&self.kind, &self.kind_claim) {
            (Some(k), _) => Some(*k),
            (None, Some(claim)) => claims.get(claim).and_then(|v| v.as_str()).and_then(Kind::parse),
            (None, None) => None,
        }
    }
}

fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`{url}` is not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("`{url}` has no host"));
    }
    Ok(())
}

/// `host:port` → its parts.
pub fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s.rsplit_once(':').ok_or_else(|| format!("`{s}` is not `host:port`"))?;
    let port: u16 = port.parse().map_err(|_| format!("`{port}` in `{s}` is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    Ok((host.to_string(), port))
}

fn check_mailbox(s: &str) -> Result<(), String> {
    s.parse::<lettre::message::Mailbox>().map(|_| ()).map_err(|e| format!("`{s}` is not an e-mail address: {e}"))
}

/// `email:approvals@corp.com` → `approvals@corp.com`.
pub fn email_of_channel(name: &str) -> Option<&str> {
    name.strip_prefix("email:").filter(|a| a.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Config::parse(text, "serve.toml").unwrap_err().to_string()
    }

    #[test]
    fn the_design_example_parses() {
        let c = Config::parse(
            r#"
[auth.agents]
"agent-token-1" = "finance-agent"
[auth.approvers]
"tok-cfo" = "cfo@corp.com"
"tok-controller" = "controller@corp.com"
[auth.approver_roles]
"cfo@corp.com" = ["finance"]
[notify.channels]
"slack:#finance-approvals" = { kind = "slack", url = "https://hooks.example/x" }
"webhook:audit" = { kind = "webhook", url = "http://127.0.0.1:9000/hook", secret = "s" }
"email:approvals@corp.com" = { kind = "email", smtp = "127.0.0.1:2525", from = "aarm@corp.com" }
"#,
            "serve.toml",
        )
        .unwrap();
        assert_eq!(c.auth.agents["agent-token-1"], "finance-agent");
        assert_eq!(c.auth.approver_roles["cfo@corp.com"], ["finance"]);
        assert_eq!(c.notify.channels.len(), 3);
        assert_eq!(c.notify.channels["webhook:audit"].kind(), "webhook");
        assert_eq!(c.notify.retry.max_attempts, 8);
    }

    #[test]
    fn an_empty_grant_of_an_agent_is_refused_with_its_key() {
        let e = err("[auth.agent_humans]\n\"finance-agent\" = [\" \"]\n");
        assert!(e.contains("auth.agent_humans.finance-agent") && e.contains("a human is empty"), "{e}");
        let e = err("[auth.agent_roles]\n\"finance-agent\" = [\"\"]\n");
        assert!(e.contains("auth.agent_roles.finance-agent") && e.contains("a role is empty"), "{e}");
        let c = Config::parse("[auth.agent_services]\n\"gw\" = [\"*\"]\n", "serve.toml").unwrap();
        assert_eq!(c.auth.agent_services["gw"], ["*"]);
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        assert!(err("[auth.agent]\n\"t\" = \"a\"\n").contains("unknown field `agent`"), "{}", err("[auth.agent]\n"));
        let e = err("[notify.channels]\n\"x\" = { kind = \"pager\", url = \"http://h\" }\n");
        assert!(e.contains("pager") && e.contains("line 2"), "{e}");
        let e = err("[notify.channels]\n\"x\" = { kind = \"slack\", url = \"hooks.example\" }\n");
        assert!(e.contains("notify.channels.\"x\"") && e.contains("not an http"), "{e}");
        let e = err("[notify.channels]\n\"x\" = { kind = \"email\", smtp = \"localhost\", from = \"a@b.c\", to = [\"d@e.f\"] }\n");
        assert!(e.contains("host:port"), "{e}");
        let e = err("[notify.channels]\n\"mail\" = { kind = \"email\", smtp = \"h:25\", from = \"a@b.c\" }\n");
        assert!(e.contains("no recipients"), "{e}");
        let e = err("[auth.agents]\n\"same\" = \"a\"\n[auth.approvers]\n\"same\" = \"b\"\n");
        assert!(e.contains("also listed") && !e.contains("\"same\""), "{e}");
        let e = err("[[auth.jwt]]\nissuer = \"i\"\nalgorithm = \"HS256\"\nkind = \"agent\"\n");
        assert!(e.contains("needs a `secret`"), "{e}");
        let e = err("[[auth.jwt]]\nissuer = \"i\"\nalgorithm = \"none\"\nsecret = \"s\"\nkind = \"agent\"\n");
        assert!(e.contains("unknown algorithm"), "{e}");
        let e = err("[[auth.jwt]]\nissuer = \"i\"\nalgorithm = \"HS256\"\nsecret = \"s\"\n");
        assert!(e.contains("exactly one of `kind`"), "{e}");
        assert!(err("[notify.retry]\nmax_attempts = 0\n").contains("at least 1"));
    }

    #[test]
    fn a_tracing_endpoint_must_be_an_http_url() {
        let c = Config::parse("[tracing]\notlp_endpoint = \"http://127.0.0.1:4318\"\n", "t").unwrap();
        assert_eq!(c.tracing.unwrap().otlp_endpoint, "http://127.0.0.1:4318");
        assert!(Config::parse("", "t").unwrap().tracing.is_none());
        assert!(err("[tracing]\notlp_endpoint = \"127.0.0.1:4318\"\n").contains("tracing.otlp_endpoint"));
        assert!(err("[tracing]\notlp_endpoint = \"http://\"\n").contains("tracing.otlp_endpoint"));
        assert!(err("[tracing]\nendpoint = \"http://x\"\n").contains("endpoint"));
    }

    #[test]
    fn a_decision_log_redaction_that_names_no_field_is_refused() {
        let c = Config::parse("[decision_log]\npath = \"-\"\nredact = [\"params.card_number\"]\n", "t").unwrap();
        let log = c.decision_log.unwrap();
        assert_eq!((log.path.as_str(), log.queue), ("-", 10_000));
        assert!(err("[decision_log]\npath = \"-\"\nredact = [\"params..x\"]\n").contains("decision_log.redact"));
        assert!(err("[decision_log]\npath = \" \"\n").contains("decision_log.path"));
        assert!(err("[decision_log]\npath = \"-\"\nqueue = 0\n").contains("at least 1"));
        assert!(err("[decision_log]\npath = \"-\"\nredcat = []\n").contains("redcat"));
    }

    #[test]
    fn evidence_sources_are_checked_before_the_server_starts() {
        let ok = "[evidence.sources.maintenance_api]\nkind = \"http\"\nurl = \"http://127.0.0.1:9100/facts\"\ntoken = \"t\"\nheaders = { \"X-Team\" = \"sre\" }\n[evidence.retry]\ninitial_backoff_ms = 500\nmax_backoff_ms = 4000\n";
        let c = Config::parse(ok, "serve.toml").unwrap();
        assert!(matches!(c.evidence.sources.get("maintenance_api"), Some(Source::Http { timeout_ms: 2000, .. })));
        let e = err("[evidence.sources.m]\nkind = \"pager\"\nurl = \"http://h\"\n");
        assert!(e.contains("pager") && e.contains("line 2"), "{e}");
        let e = err("[evidence.sources.m]\nkind = \"http\"\nurl = \"h/facts\"\n");
        assert!(e.contains("evidence.sources.m.url") && e.contains("not an http"), "{e}");
        let e = err("[evidence.sources.m]\nkind = \"http\"\nurl = \"http://h\"\ntimeout_ms = 0\n");
        assert!(e.contains("evidence.sources.m.timeout_ms"), "{e}");
        let e =
            err("[evidence.sources.m]\nkind = \"http\"\nurl = \"http://h\"\nheaders = { \"bad header\" = \"x\" }\n");
        assert!(e.contains("evidence.sources.m.headers"), "{e}");
        let c = Config::parse("[evidence.sources.requester]\nkind = \"confirm\"\n", "serve.toml").unwrap();
        assert!(matches!(c.evidence.sources.get("requester"), Some(Source::Confirm {})));
        let e = err("[evidence.sources.requester]\nkind = \"confirm\"\nurl = \"http://h\"\n");
        assert!(e.contains("url"), "a confirm source asks no URL: {e}");
        let e = err("[evidence.retry]\ninitial_backoff_ms = 5000\nmax_backoff_ms = 1000\n");
        assert!(e.contains("evidence.retry.max_backoff_ms"), "{e}");
    }

    #[test]
    fn an_empty_config_has_no_credentials() {
        let c = Config::parse("", "serve.toml").unwrap();
        assert!(!c.has_credentials());
        assert!(c.notify.channels.is_empty());
    }
}
