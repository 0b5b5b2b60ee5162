//! The lifecycle's view of approvers' roles: the roles `serve.toml` assigns, plus the roles a
//! JWT asserted the last time that approver authenticated. Approve and deny events carry the
//! caller's verified roles; these are what the runtime asks besides
//! ([`IdentityVerifier::roles`]), keyed by normalized identity.

use aarm_cases::lifecycle::identity::{normalized, IdentityVerifier};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

#[derive(Debug, Default)]
pub struct Roles {
    configured: BTreeMap<String, Vec<String>>,
    asserted: RwLock<HashMap<String, Vec<String>>>,
}

impl Roles {
    /// Identities are keyed in their normalized form ([`normalized`]), as the lifecycle compares
    /// them.
    pub fn new(configured: BTreeMap<String, Vec<String>>) -> Roles {
        let mut by_identity: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (who, roles) in configured {
            by_identity.entry(normalized(&who).into_owned()).or_default().extend(roles);
        }
        Roles { configured: by_identity, asserted: RwLock::new(HashMap::new()) }
    }

    /// An approver authenticated with these verified roles.
    pub fn saw(&self, who: &str, roles: &[String]) {
        let who = normalized(who);
        if let Ok(mut map) = self.asserted.write() {
            if map.get(who.as_ref()).map(Vec::as_slice) != Some(roles) {
                map.insert(who.into_owned(), roles.to_vec());
            }
        }
    }

    pub fn of(&self, who: &str) -> Vec<String> {
        let who = normalized(who);
        let mut roles = self.configured.get(who.as_ref()).cloned().unwrap_or_default();
        if let Ok(map) = self.asserted.read() {
            for r in map.get(who.as_ref()).into_iter().flatten() {
                if !roles.contains(r) {
                    roles.push(r.clone());
                }
            }
        }
        roles
    }
}

/// [`Roles`] shared between the server and the lifecycle it owns.
pub struct SharedRoles(pub Arc<Roles>);

impl IdentityVerifier for SharedRoles {
    fn roles(&self, who: &str) -> Vec<String> {
        self.0.of(who)
    }
}
