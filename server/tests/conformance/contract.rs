//! The policy and approval contract's rows that the service shows (docs/conformance.md, "The
//! policy and approval contract").

use crate::common::Deployment;
use serde_json::json;

const POLICY: &str = r#"
policy ops version "1"
tool delete_database { name: String }
rule no_delete on delete_database { deny reason "db.delete" "Deleting a database is denied" }
override on delete_database by role "incident-commander" for 1h requires reason, ticket notify "webhook:audit"
"#;

/// An override is a new decision, linked to the denial, by a named authority, with its reason,
/// scope and duration; the denial's record and receipt stay as they were; the channels the
/// declaration names are told, and told again when a review flags it.
#[tokio::test]
async fn c5_overrides_are_new_decisions_linked_to_the_denial() {
    let mut d = Deployment::start_with("c5-override", POLICY, |_| {}).await;
    d.reconfigure(|config| {
        config.replace(
            "\"sre-lead@corp.com\" = [\"sre\"]",
            "\"sre-lead@corp.com\" = [\"sre\"]\n\"cfo@corp.com\" = [\"incident-commander\"]",
        )
    })
    .await;

    let denial = d.decide(json!({ "action": { "tool": "delete_database", "params": { "name": "orders" } } })).await;
    assert_eq!(denial["decision"], "deny");
    let id = denial["decision_id"].as_str().unwrap();
    let path = format!("/v1/decisions/{id}/override");
    let statements = json!({ "reason": "restore from backup", "ticket": "INC-4711" });
    let (status, body) = d.post(&path, "tok-controller", statements.clone()).await;
    assert_eq!((status, body["reason"].as_str()), (403, Some("not_an_overrider")), "{body}");

    let (status, o) = d.post(&path, "tok-cfo", statements.clone()).await;
    assert_eq!(status, 200, "{o}");
    assert_eq!((o["decision"].as_str(), o["overrides"].as_str()), (Some("allow"), Some(id)));
    assert_eq!(o["authority"], json!({ "by": "cfo@corp.com", "role": "incident-commander", "statements": statements }));
    assert_eq!(o["scope"], denial["scope"]);
    assert!(o["expires_at"].is_string());

    let chain = d.verified_chain().await;
    let denied = chain.iter().find(|r| r.hash == denial["receipt"].as_str().unwrap()).expect("the denial's receipt");
    assert_eq!((denied.body.event.as_str(), denied.body.decision.as_str()), ("decide", "deny"), "unchanged");
    let granted = chain.iter().find(|r| r.body.event == "override").expect("the override's receipt");
    assert_eq!(
        (granted.hash.as_str(), granted.body.detail["overrides"].as_str()),
        (o["receipt"].as_str().unwrap(), Some(id))
    );

    let told = d.receiver.wait_for("/hook", 1).await[0].json();
    assert_eq!(
        (told["event"].as_str(), &told["override"]["override_id"]),
        (Some("override_granted"), &o["decision_id"])
    );
    assert_eq!(told["override"]["authority"], o["authority"]);
    let oid = o["decision_id"].as_str().unwrap();
    let (status, _) = d.post(&format!("/v1/reviews/{oid}"), "tok-security", json!({ "verdict": "flag" })).await;
    assert_eq!(status, 200);
    let flagged = d.receiver.wait_for("/hook", 2).await[1].json();
    assert_eq!(
        (flagged["event"].as_str(), &flagged["override"]["review"]["reviewer"]),
        (Some("override_flagged"), &json!("security@corp.com"))
    );
}
