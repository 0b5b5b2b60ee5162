//! What the lifecycle asks of the host about identities: approvers' verified roles, and whether
//! a captured identity may still act when its approval finally arrives.

/// The host's identity service. The defaults suit tests and hosts without one: no roles beyond
/// those an event carries, and identities that never expire.
pub trait IdentityVerifier {
    /// Roles the host has verified for `who`, in addition to those an approval event carries.
    fn roles(&self, _who: &str) -> Vec<String> {
        Vec::new()
    }

    /// How long (seconds) the captured identity stays valid after submission; `None`: no limit.
    fn validity_s(&self, _identity: &serde_json::Value) -> Option<i64> {
        None
    }

    /// Asked before releasing an action whose approval took longer than the identity's
    /// validity: may the captured identity still act at `now`?
    fn revalidate(&self, _identity: &serde_json::Value, _now: i64) -> bool {
        false
    }
}

/// The one form in which identities are compared (approver lists, the requester, duplicate
/// approvals and denials, escalation targets, the service's callers). An e-mail-like identity
/// (one containing `@`) is case-insensitive as a whole — `Ana@Corp.Example` and
/// `ana@corp.example` are one person, since mail systems and identity providers treat them so —
/// and is lowercased (Unicode lowercase); any other identity (an agent name, a service account)
/// is compared exactly as written.
pub fn normalized(id: &str) -> std::borrow::Cow<'_, str> {
    if id.contains('@') && id.chars().any(char::is_uppercase) {
        std::borrow::Cow::Owned(id.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(id)
    }
}

/// Whether two identities name the same person or agent ([`normalized`]).
pub fn same_identity(a: &str, b: &str) -> bool {
    normalized(a) == normalized(b)
}

/// No identity service: no extra roles, identities never expire.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIdentityService;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_like_identities_compare_case_insensitively_others_exactly() {
        assert!(same_identity("Ana@Corp.Example", "ana@corp.example"));
        assert!(same_identity("ÉLODIE@corp.example", "élodie@corp.example"));
        assert!(!same_identity("ana@corp.example", "ana@corp.example.org"));
        assert!(!same_identity("Finance-Agent", "finance-agent"));
        assert!(same_identity("finance-agent", "finance-agent"));
    }
}

impl IdentityVerifier for NoIdentityService {}

/// An event's actor as the host authenticated them (a server's bearer token or JWT), recorded in
/// the case and in the event's receipt as `identity_verified`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifiedActor {
    /// The identity the credential proves (`cfo@corp.com`, `finance-agent`).
    pub id: String,
    /// How it was proved: `bearer`, `jwt`, ...
    pub method: String,
}

impl VerifiedActor {
    /// Marks what the event `event` (by this actor, at `now`) added: its receipts, and the
    /// approval or denial it recorded.
    pub(crate) fn annotate(&self, transition: &mut super::machine::Transition, event: &str, now: i64) {
        let actor = serde_json::json!({ "id": self.id, "method": self.method });
        for r in transition.receipts.iter_mut().filter(|r| r.event == event) {
            if let Some(detail) = r.detail.as_object_mut() {
                detail.insert("identity_verified".into(), serde_json::Value::Bool(true));
                detail.insert("verified_actor".into(), actor.clone());
            }
        }
        let case = &mut transition.case;
        if let Some(a) = case.approvals.iter_mut().rev().find(|a| same_identity(&a.by, &self.id) && a.at == now) {
            a.verified_by = Some(self.method.clone());
        }
        if let Some(d) = case.denials.iter_mut().rev().find(|d| same_identity(&d.by, &self.id) && d.at == now) {
            d.verified_by = Some(self.method.clone());
        }
    }
}
