//! Who is calling: `Authorization: Bearer TOKEN` is a static token of `serve.toml` or a JWT
//! signed by a configured issuer. The result is a verified [`Principal`]; the handlers decide
//! what it may do (routes/api.rs), and the lifecycle records it (`identity_verified`).
//!
//! Static tokens are kept by their SHA-256 digest, so the lookup compares digests, never the
//! secret itself byte by byte, and a token never sits in a log or an error.

use crate::config::{jwt_family, AuthSection, JwtFamily, JwtIssuer, Kind};
use aarm_cases::lifecycle::identity::normalized;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::str::FromStr;

/// A caller whose credential verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: Kind,
    /// The identity the credential proves.
    pub id: String,
    /// Roles verified for an approver or agent (config `approver_roles` / `agent_roles`, or
    /// the JWT's roles claim).
    pub roles: Vec<String>,
    /// The humans an agent may act for (config `agent_humans`, or the JWT's humans claim);
    /// `*` is anyone.
    pub humans: Vec<String>,
    /// The services an agent may act as (config `agent_services`, or the JWT's services
    /// claim); `*` is any.
    pub services: Vec<String>,
    /// `bearer` or `jwt`: recorded with the approver's decision.
    pub method: &'static str,
    /// When the credential expires (a JWT's `exp`); `None` for a static token.
    pub valid_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no `Authorization: Bearer` credential")]
    Missing,
    #[error("the credential is not valid")]
    Invalid,
    #[error("the token is not valid: {0}")]
    Jwt(String),
}

struct Issuer {
    config: JwtIssuer,
    key: DecodingKey,
    algorithm: Algorithm,
}

pub struct Authenticator {
    tokens: HashMap<[u8; 32], (Kind, String)>,
    /// What `serve.toml` grants each identity, keyed by kind and normalized identity.
    grants: HashMap<(Kind, String), Grants>,
    issuers: Vec<Issuer>,
}

/// What a credential vouches for besides the identity: its roles and, for an agent, whom it
/// may act for.
#[derive(Debug, Clone, Default)]
struct Grants {
    roles: Vec<String>,
    humans: Vec<String>,
    services: Vec<String>,
}

/// Adds `items` to `list`, skipping those already in it.
fn add_new(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The strings of a JWT claim holding a list (absent or not a list: none).
fn claim_list(claims: &serde_json::Value, claim: Option<&String>) -> Vec<String> {
    claim
        .and_then(|c| claims.get(c))
        .and_then(|v| v.as_array())
        .map(|list| list.iter().filter_map(|r| r.as_str()).map(str::to_string).collect())
        .unwrap_or_default()
}

impl Grants {
    /// The grants of `serve.toml`, by kind and normalized identity.
    fn configured(auth: &AuthSection) -> HashMap<(Kind, String), Grants> {
        let mut grants: HashMap<(Kind, String), Grants> = HashMap::new();
        let mut add = |kind: Kind,
                       map: &std::collections::BTreeMap<String, Vec<String>>,
                       pick: fn(&mut Grants) -> &mut Vec<String>| {
            for (who, items) in map {
                let entry = grants.entry((kind, normalized(who).into_owned())).or_default();
                add_new(pick(entry), items.iter().cloned());
            }
        };
        add(Kind::Approver, &auth.approver_roles, |g| &mut g.roles);
        add(Kind::Agent, &auth.agent_roles, |g| &mut g.roles);
        add(Kind::Agent, &auth.agent_humans, |g| &mut g.humans);
        add(Kind::Agent, &auth.agent_services, |g| &mut g.services);
        grants
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("tokens", &self.tokens.len())
            .field("issuers", &self.issuers.len())
            .finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Authenticator {
    pub fn new(auth: &AuthSection) -> Result<Authenticator, String> {
        let mut tokens = HashMap::new();
        let tables = [(Kind::Agent, &auth.agents), (Kind::Approver, &auth.approvers), (Kind::Admin, &auth.admins)];
        for (kind, map) in tables {
            for (token, who) in map {
                tokens.insert(digest(token), (kind, who.clone()));
            }
        }
        let grants = Grants::configured(auth);
        let mut issuers = Vec::new();
        for (i, jwt) in auth.jwt.iter().enumerate() {
            let algorithm = Algorithm::from_str(&jwt.algorithm).map_err(|e| format!("auth.jwt[{i}].algorithm: {e}"))?;
            let key = match jwt_family(&jwt.algorithm) {
                Some(JwtFamily::Hmac) => DecodingKey::from_secret(jwt.secret.as_deref().unwrap_or("").as_bytes()),
                Some(JwtFamily::PublicKey) => {
                    let pem = jwt.public_key_pem.as_deref().unwrap_or("").as_bytes();
                    let key = match jwt.algorithm.as_str() {
                        "ES256" | "ES384" => DecodingKey::from_ec_pem(pem),
                        "EdDSA" => DecodingKey::from_ed_pem(pem),
                        _ => DecodingKey::from_rsa_pem(pem),
                    };
                    key.map_err(|e| format!("auth.jwt[{i}]: the public key does not load: {e}"))?
                }
                None => return Err(format!("auth.jwt[{i}].algorithm: unknown algorithm `{}`", jwt.algorithm)),
            };
            issuers.push(Issuer { config: jwt.clone(), key, algorithm });
        }
        Ok(Authenticator { tokens, grants, issuers })
    }

    /// What `serve.toml` grants `id` as a `kind`.
    fn granted(&self, kind: Kind, id: &str) -> Grants {
        self.grants.get(&(kind, normalized(id).into_owned())).cloned().unwrap_or_default()
    }

    /// Verifies the value of an `Authorization` header.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        if let Some((kind, id)) = self.tokens.get(&digest(token)) {
            let g = self.granted(*kind, id);
            return Ok(Principal {
                kind: *kind,
                id: id.clone(),
                roles: g.roles,
                humans: g.humans,
                services: g.services,
                method: "bearer",
                valid_until: None,
            });
        }
        if token.split('.').count() == 3 && !self.issuers.is_empty() {
            return self.jwt(token);
        }
        Err(AuthError::Invalid)
    }

    fn jwt(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Jwt(e.to_string()))?;
        let mut last = AuthError::Invalid;
        // Only the issuers using the token's algorithm can have signed it.
        for issuer in self.issuers.iter().filter(|i| i.algorithm == header.alg) {
            match self.verify_with(issuer, token) {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn verify_with(&self, issuer: &Issuer, token: &str) -> Result<Principal, AuthError> {
        let cfg = &issuer.config;
        let mut validation = Validation::new(issuer.algorithm);
        validation.set_issuer(&[cfg.issuer.as_str()]);
        validation.leeway = cfg.leeway_s;
        validation.validate_nbf = true;
        match &cfg.audience {
            // Required, not only checked when present: a token minted for another service (or
            // for none) must not open this one.
            Some(aud) => {
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                validation.set_audience(&[aud.as_str()]);
            }
            None => {
                validation.set_required_spec_claims(&["exp", "iss"]);
                validation.validate_aud = false;
            }
        }
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &issuer.key, &validation)
            .map_err(|e| AuthError::Jwt(e.to_string()))?;
        let claims = data.claims;
        let id = claims
            .get(&cfg.subject_claim)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AuthError::Jwt(format!("no `{}` claim", cfg.subject_claim)))?
            .to_string();
        let kind = cfg.kind_of(&claims).ok_or_else(|| AuthError::Jwt("the token names no valid kind".into()))?;
        // Config grants first, then what the issuer asserts.
        let mut g = self.granted(kind, &id);
        if kind != Kind::Admin {
            add_new(&mut g.roles, claim_list(&claims, cfg.roles_claim.as_ref()));
        }
        if kind == Kind::Agent {
            add_new(&mut g.humans, claim_list(&claims, cfg.humans_claim.as_ref()));
            add_new(&mut g.services, claim_list(&claims, cfg.services_claim.as_ref()));
        }
        // `exp` is required and verified above; a JWT's credential is valid until then.
        let valid_until = claims.get("exp").and_then(serde_json::Value::as_i64);
        Ok(Principal { kind, id, roles: g.roles, humans: g.humans, services: g.services, method: "jwt", valid_until })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use jsonwebtoken::{encode, EncodingKey, Header};

    const CONFIG: &str = r#"
[auth.agents]
"agent-token" = "finance-agent"
[auth.approvers]
"tok-cfo" = "cfo@corp.com"
[auth.approver_roles]
"cfo@corp.com" = ["finance"]
"lead@corp.com" = ["finance"]
[auth.agent_roles]
"finance-agent" = ["payments"]
[auth.agent_humans]
"finance-agent" = ["alice@corp.com"]
[auth.admins]
"tok-ops" = "ops@corp.com"
[[auth.jwt]]
issuer = "https://idp.corp.com"
audience = "aarm"
algorithm = "HS256"
secret = "a-very-secret-value"
kind_claim = "aarm_kind"
roles_claim = "groups"
humans_claim = "acts_for"
"#;

    fn auth() -> Authenticator {
        Authenticator::new(&Config::parse(CONFIG, "serve.toml").unwrap().auth).unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    fn jwt(claims: serde_json::Value, secret: &str) -> String {
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    #[test]
    fn static_tokens_map_to_their_identity_and_kind() {
        let a = auth();
        let p = a.authenticate(Some("Bearer tok-cfo")).unwrap();
        assert_eq!((p.kind, p.id.as_str(), p.method), (Kind::Approver, "cfo@corp.com", "bearer"));
        assert_eq!(p.roles, ["finance"]);
        assert_eq!(a.authenticate(Some("Bearer agent-token")).unwrap().kind, Kind::Agent);
        assert_eq!(a.authenticate(Some("Bearer tok-ops")).unwrap().kind, Kind::Admin);
        assert_eq!(a.authenticate(None), Err(AuthError::Missing));
        assert_eq!(a.authenticate(Some("Basic dG9rLWNmbw==")), Err(AuthError::Missing));
        assert_eq!(a.authenticate(Some("Bearer tok-cf")), Err(AuthError::Invalid));
        assert_eq!(a.authenticate(Some("Bearer ")), Err(AuthError::Missing));
    }

    #[test]
    fn jwts_verify_against_the_issuer() {
        let a = auth();
        let good = serde_json::json!({
            "iss": "https://idp.corp.com", "aud": "aarm", "sub": "lead@corp.com", "exp": now() + 600,
            "aarm_kind": "approver", "groups": ["treasury"],
        });
        let p = a.authenticate(Some(&format!("Bearer {}", jwt(good.clone(), "a-very-secret-value")))).unwrap();
        assert_eq!((p.kind, p.id.as_str(), p.method), (Kind::Approver, "lead@corp.com", "jwt"));
        assert_eq!(p.roles, ["finance", "treasury"], "config roles, then the token's");

        // Forged (another secret), expired, wrong issuer, wrong audience, no kind: refused.
        assert!(a.authenticate(Some(&format!("Bearer {}", jwt(good.clone(), "guess")))).is_err());
        let mut expired = good.clone();
        expired["exp"] = serde_json::json!(now() - 3600);
        assert!(a.authenticate(Some(&format!("Bearer {}", jwt(expired, "a-very-secret-value")))).is_err());
        let mut iss = good.clone();
        iss["iss"] = serde_json::json!("https://evil.example");
        assert!(a.authenticate(Some(&format!("Bearer {}", jwt(iss, "a-very-secret-value")))).is_err());
        let mut aud = good.clone();
        aud["aud"] = serde_json::json!("other");
        assert!(a.authenticate(Some(&format!("Bearer {}", jwt(aud, "a-very-secret-value")))).is_err());
        let mut kind = good.clone();
        kind["aarm_kind"] = serde_json::json!("root");
        assert!(a.authenticate(Some(&format!("Bearer {}", jwt(kind, "a-very-secret-value")))).is_err());
        // An unsigned token (`alg: none`) is never accepted.
        let body = jwt(good, "a-very-secret-value");
        let parts: Vec<&str> = body.split('.').collect();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
        assert!(a.authenticate(Some(&format!("Bearer {none}"))).is_err());
    }

    #[test]
    fn agents_get_their_configured_grants_then_the_tokens_claims() {
        let a = auth();
        let p = a.authenticate(Some("Bearer agent-token")).unwrap();
        assert_eq!(
            (p.roles.as_slice(), p.humans.as_slice()),
            (&["payments".to_string()][..], &["alice@corp.com".to_string()][..])
        );
        assert!(p.services.is_empty(), "nothing configured: no service");
        // An approver's roles are never an agent's (the tables are per kind).
        assert!(a.authenticate(Some("Bearer tok-cfo")).unwrap().humans.is_empty());
        let claims = serde_json::json!({
            "iss": "https://idp.corp.com", "aud": "aarm", "sub": "finance-agent", "exp": now() + 600,
            "aarm_kind": "agent", "groups": ["admin"], "acts_for": ["bob@corp.com", 7],
        });
        let p = a.authenticate(Some(&format!("Bearer {}", jwt(claims, "a-very-secret-value")))).unwrap();
        assert_eq!(p.roles, ["payments", "admin"]);
        assert_eq!(p.humans, ["alice@corp.com", "bob@corp.com"], "config, then the claim's strings");
        let admin = serde_json::json!({
            "iss": "https://idp.corp.com", "aud": "aarm", "sub": "ops@corp.com", "exp": now() + 600,
            "aarm_kind": "admin", "groups": ["admin"], "acts_for": ["*"],
        });
        let p = a.authenticate(Some(&format!("Bearer {}", jwt(admin, "a-very-secret-value")))).unwrap();
        assert!(p.roles.is_empty() && p.humans.is_empty(), "{p:?}");
    }

    #[test]
    fn eddsa_jwts_verify_against_a_pem_public_key() {
        use base64::Engine as _;
        let signing = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        // PKCS#8 (private) and SubjectPublicKeyInfo (public) DER of an Ed25519 key: fixed
        // prefixes, then the 32 key bytes (RFC 8410).
        let mut pkcs8 = hex::decode("302e020100300506032b657004220420").unwrap();
        pkcs8.extend_from_slice(&signing.to_bytes());
        let mut spki = hex::decode("302a300506032b6570032100").unwrap();
        spki.extend_from_slice(signing.verifying_key().as_bytes());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&spki)
        );
        let text = format!(
            "[[auth.jwt]]\nissuer = \"idp\"\nalgorithm = \"EdDSA\"\nkind = \"agent\"\npublic_key_pem = \"\"\"\n{pem}\"\"\"\n"
        );
        let a = Authenticator::new(&Config::parse(&text, "serve.toml").unwrap().auth).unwrap();
        let claims = serde_json::json!({ "iss": "idp", "sub": "gateway-7", "exp": now() + 60 });
        let token = encode(&Header::new(Algorithm::EdDSA), &claims, &EncodingKey::from_ed_der(&pkcs8)).unwrap();
        let p = a.authenticate(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!((p.kind, p.id.as_str(), p.method), (Kind::Agent, "gateway-7", "jwt"));
        // Signed by another key: refused.
        let other = ed25519_dalek::SigningKey::from_bytes(&[10u8; 32]);
        let mut pkcs8 = hex::decode("302e020100300506032b657004220420").unwrap();
        pkcs8.extend_from_slice(&other.to_bytes());
        let forged = encode(&Header::new(Algorithm::EdDSA), &claims, &EncodingKey::from_ed_der(&pkcs8)).unwrap();
        assert!(a.authenticate(Some(&format!("Bearer {forged}"))).is_err());
        // An HS256 token cannot pass for this issuer (algorithm confusion).
        let hs = jwt(claims, "anything");
        assert!(a.authenticate(Some(&format!("Bearer {hs}"))).is_err());
    }
}
