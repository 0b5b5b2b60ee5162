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
/// approvals and denials, escalation targets, the service's callers):
///
/// 1. Unicode compatibility normalization (NFKC): a full-width `＠` or `Ａ` is `@` or `A`, a
///    no-break space is a space, a ligature is its letters — what a reader sees as one name is
///    one name;
/// 2. invisible characters (Unicode's format and control categories: zero-width spaces and
///    joiners, byte-order marks, bidirectional overrides, soft hyphens) are dropped;
/// 3. white space at either end is trimmed;
/// 4. an e-mail-like identity (one containing `@`) is lowercased as a whole (Unicode lowercase:
///    `Ana@Corp.Example` and `ana@corp.example` are one person, since mail systems and identity
///    providers treat them so); any other identity (an agent name, a service account) keeps its
///    case.
///
/// Two spellings that differ only in these ways name one person, so none of them escapes
/// `self_approval` or counts twice towards a quorum. A server refuses them at the door instead
/// ([`check`]); the normalization keeps every other path (the CLI, stored cases, bundles) safe.
pub fn normalized(id: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    let plain = |c: char| c.is_ascii_graphic() && !c.is_ascii_uppercase();
    // Most identities need nothing: printable ASCII, no upper case, nothing to trim.
    if id.chars().all(plain) {
        return std::borrow::Cow::Borrowed(id);
    }
    let visible: String = id.nfkc().filter(|c| !invisible(*c)).collect();
    let trimmed = visible.trim();
    if trimmed.contains('@') {
        std::borrow::Cow::Owned(trimmed.to_lowercase())
    } else {
        std::borrow::Cow::Owned(trimmed.to_string())
    }
}

/// Whether two identities name the same person or agent ([`normalized`]).
pub fn same_identity(a: &str, b: &str) -> bool {
    normalized(a) == normalized(b)
}

/// A character that takes no room on screen: Unicode's format (`Cf`: zero-width space and
/// joiners, BOM, bidirectional controls, soft hyphen) and control (`Cc`) categories.
fn invisible(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory};
    matches!(get_general_category(c), GeneralCategory::Format | GeneralCategory::Control)
}

/// Why an identity is refused where it enters a service ([`check`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityRefused {
    /// White space at its start or end (the identity as sent).
    #[error("`{0}` has white space at its start or end")]
    Padded(String),
    #[error("`{id}` holds an invisible character (U+{code:04X})")]
    /// An invisible character (format or control), which would make two identities look alike.
    Invisible {
        /// The identity as sent.
        id: String,
        /// The character's code point.
        code: u32,
    },
    /// White space other than U+0020 (a tab, a no-break space) inside it (the identity as sent).
    #[error("`{0}` holds white space other than a plain space")]
    OddSpace(String),
    #[error("`{id}` is not in Unicode normal form (NFKC): it reads as `{normal}`")]
    /// A spelling that Unicode normalization (NFKC) changes, so that it would match another one.
    NotNormal {
        /// The identity as sent.
        id: String,
        /// Its NFKC form: how it would compare.
        normal: String,
    },
}

/// Refuses an identity that only a mistake or a spoof would send: white space at either end,
/// an invisible character, white space other than U+0020, or a spelling that Unicode
/// normalization (NFKC) changes (full-width letters or `＠`, ligatures). Such an identity would
/// compare equal to another spelling ([`normalized`]) while being recorded as sent; refused, the
/// caller learns to send the identity as its identity provider spells it. Upper case is
/// accepted: e-mail-like identities compare case-insensitively by design.
pub fn check(id: &str) -> Result<(), IdentityRefused> {
    use unicode_normalization::UnicodeNormalization;
    if id.trim() != id {
        return Err(IdentityRefused::Padded(id.to_string()));
    }
    if let Some(c) = id.chars().find(|c| invisible(*c)) {
        return Err(IdentityRefused::Invisible { id: id.to_string(), code: u32::from(c) });
    }
    if id.chars().any(|c| c.is_whitespace() && c != ' ') {
        return Err(IdentityRefused::OddSpace(id.to_string()));
    }
    let normal: String = id.nfkc().collect();
    if normal != id {
        return Err(IdentityRefused::NotNormal { id: id.to_string(), normal });
    }
    Ok(())
}

/// No identity service: no extra roles, identities never expire.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIdentityService;

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
    /// Marks a receipt's `detail` as the record of an event by this authenticated actor.
    pub(crate) fn vouch(&self, detail: &mut serde_json::Value) {
        if let Some(detail) = detail.as_object_mut() {
            detail.insert("identity_verified".into(), serde_json::Value::Bool(true));
            detail.insert("verified_actor".into(), serde_json::json!({ "id": self.id, "method": self.method }));
        }
    }
}

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

    /// Spellings of `ana@corp.example` that a reader cannot tell apart from it, or that only
    /// differ by what the normalization removes: each is the same person.
    const SPOOFS: [&str; 9] = [
        "ana@corp.example ",
        " ana@corp.example",
        "ana@corp.example\u{a0}",
        "ana@corp.example\t",
        "ana\u{200b}@corp.example",
        "\u{feff}ana@corp.example",
        "ana\u{ff20}corp.example",
        "\u{ff41}na@corp.example",
        "ANA@CORP.EXAMPLE\u{202e}",
    ];

    #[test]
    fn padded_invisible_and_full_width_spellings_are_one_identity() {
        for spoof in SPOOFS {
            assert!(same_identity(spoof, "ana@corp.example"), "{spoof:?}");
            assert!(check(spoof).is_err(), "{spoof:?} is refused at the door");
        }
        assert!(!same_identity("ana@corp.example", "ana.b@corp.example"));
        assert!(!same_identity("an a@corp.example", "ana@corp.example"), "inner spaces are kept");
        assert!(same_identity(" finance-agent\u{200d}", "finance-agent"));
        assert!(!same_identity(" Finance-Agent", "finance-agent"), "other identities keep their case");
    }

    #[test]
    fn the_door_accepts_identities_as_providers_spell_them() {
        for ok in ["ana@corp.example", "Ana@Corp.Example", "élodie@corp.example", "finance-agent", "svc payments", ""]
        {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
    }

    proptest::proptest! {
        /// The normal form is a fixed point, and comparing through it is an equivalence.
        #[test]
        fn normalizing_twice_changes_nothing(id in "\\PC{0,12}[@]?\\PC{0,12}") {
            let once = normalized(&id).into_owned();
            proptest::prop_assert_eq!(normalized(&once).into_owned(), once.clone());
            proptest::prop_assert!(same_identity(&id, &once));
        }
    }
}
