//! What an agent's request may say about whom it acts for. `identity.roles`, `identity.human`
//! and `identity.service` are read by policies (`"admin" in identity.roles`, `self_approval`,
//! the inbox), so they are believed only as far as the agent's credential vouches for them
//! ([`Principal`]: `[auth.agent_roles]`, `[auth.agent_humans]`, `[auth.agent_services]`, or
//! the JWT's claims). Anything more is refused at the door with 403, before anything is decided
//! or recorded, as `agent_mismatch` is.

use crate::auth::Principal;
use crate::error::ApiError;
use aarm_cases::lifecycle::identity::same_identity;
use serde_json::{Map, Value};

/// The value in `[auth.agent_humans]` / `[auth.agent_services]` (or a JWT claim) that lets an
/// agent name anyone: it must be written out, never implied.
pub const ANYONE: &str = "*";

/// Checks the request's identity against the caller's credential; fills `roles` when absent.
pub fn bind_claims(identity: &mut Map<String, Value>, p: &Principal) -> Result<(), ApiError> {
    bind_roles(identity, p)?;
    check_acting_for(identity, p, Field::Human)?;
    check_acting_for(identity, p, Field::Service)
}

/// `identity.roles`: absent, the verified roles; present, only roles among them (an agent may
/// claim fewer, for least privilege). A value that is not a list is left for the engine to
/// refuse as `input.invalid`.
fn bind_roles(identity: &mut Map<String, Value>, p: &Principal) -> Result<(), ApiError> {
    match identity.get("roles") {
        None | Some(Value::Null) => {
            let verified = p.roles.iter().cloned().map(Value::String).collect();
            identity.insert("roles".into(), Value::Array(verified));
            Ok(())
        }
        Some(Value::Array(claimed)) => {
            let not_held = claimed.iter().filter_map(Value::as_str).find(|r| !p.roles.iter().any(|h| h == r));
            match not_held {
                None => Ok(()),
                Some(role) => Err(ApiError::forbidden(
                    "roles_not_held",
                    format!(
                        "the request claims role `{role}`, which the credential of `{}` does not hold \
                         (held: [{}]); help: send identity.roles without it (or omit identity.roles to \
                         get the verified ones), or grant it under [auth.agent_roles] in serve.toml or \
                         in the JWT's roles claim",
                        p.id,
                        p.roles.join(", ")
                    ),
                )),
            }
        }
        Some(_) => Ok(()),
    }
}

/// The two fields naming whom an agent acts for.
#[derive(Debug, Clone, Copy)]
enum Field {
    Human,
    Service,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Field::Human => "human",
            Field::Service => "service",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Field::Human => "human_not_allowed",
            Field::Service => "service_not_allowed",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Field::Human => "[auth.agent_humans]",
            Field::Service => "[auth.agent_services]",
        }
    }

    fn claim(self) -> &'static str {
        match self {
            Field::Human => "humans_claim",
            Field::Service => "services_claim",
        }
    }

    fn allowed(self, p: &Principal) -> &[String] {
        match self {
            Field::Human => &p.humans,
            Field::Service => &p.services,
        }
    }
}

/// `identity.human` / `identity.service`: absent or empty, nothing to check; otherwise one the
/// credential names (compared in the lifecycle's normal form, [`same_identity`]), or anyone when
/// it says `*`. A value that is not a string is left for the engine to refuse.
fn check_acting_for(identity: &Map<String, Value>, p: &Principal, field: Field) -> Result<(), ApiError> {
    let Some(Value::String(named)) = identity.get(field.key()) else { return Ok(()) };
    if named.is_empty() {
        return Ok(());
    }
    let allowed = field.allowed(p);
    if allowed.iter().any(|a| a == ANYONE || same_identity(a, named)) {
        return Ok(());
    }
    Err(ApiError::forbidden(
        field.reason(),
        format!(
            "the request names {} `{named}`, whom the credential of `{}` may not act for; help: list it for \
             this agent under {} in serve.toml (`\"{}\" = [\"{named}\"]`, or `[\"*\"]` for an agent that may \
             act for anyone), or in the JWT claim set as `{}`",
            field.key(),
            p.id,
            field.table(),
            p.id,
            field.claim()
        ),
    ))
}
