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

/// No identity service: no extra roles, identities never expire.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIdentityService;

impl IdentityVerifier for NoIdentityService {}
