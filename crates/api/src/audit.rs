//! Recording writes in the audit trail, on the request's transaction.

use rapport_domain::audit::AuditEvent;
use rapport_store::{Tx, repos};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::net::IpAddr;

use uuid::Uuid;

use actix_web::{HttpMessage, HttpRequest};
use rapport_domain::identity::Actor;

use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::middleware::request_id::RequestId;
use crate::state::AppState;

/// Who wrote, and from which request: what every audit event records besides the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub ip: Option<IpAddr>,
}

impl Origin {
    /// The origin of `req`, made by `actor`, from the client's address (the TCP peer's, or
    /// what trusted proxies forwarded).
    pub fn of_request(req: &HttpRequest, actor: Actor) -> Origin {
        Origin {
            actor,
            request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
            ip: client_ip(req),
        }
    }
}

/// Fields that change on every write and say nothing about it.
const NOISE: [&str; 2] = ["updated_at", "version"];
/// Fields kept encrypted at rest: the trail says that they changed, not to what.
const ENCRYPTED: [&str; 1] = ["registration_number"];
const ENCRYPTED_VALUE: &str = "[encrypted]";

/// `{"field": {"before": …, "after": …}}` for every top-level field that differs. Give the API
/// representations: they hold no secrets.
pub fn changes<T: Serialize>(before: Option<&T>, after: Option<&T>) -> Value {
    let as_map = |v: Option<&T>| match v.map(serde_json::to_value) {
        Some(Ok(Value::Object(map))) => map,
        _ => Map::new(),
    };
    let (before, after) = (as_map(before), as_map(after));
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut diff = Map::new();
    for key in keys {
        if NOISE.contains(&key.as_str()) {
            continue;
        }
        let (b, a) = (before.get(key), after.get(key));
        if b != a {
            let shown = |v: Option<&Value>| match v {
                Some(v) if !v.is_null() && ENCRYPTED.contains(&key.as_str()) => {
                    Value::from(ENCRYPTED_VALUE)
                }
                other => other.cloned().unwrap_or(Value::Null),
            };
            diff.insert(
                key.clone(),
                json!({ "before": shown(b), "after": shown(a) }),
            );
        }
    }
    Value::Object(diff)
}

/// The record an event is about, and the customer it belongs to (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    pub kind: &'static str,
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
}

impl Subject {
    /// A record outside any customer (a user, a team, a client).
    pub fn new(kind: &'static str, id: Uuid) -> Subject {
        Subject {
            kind,
            id,
            customer_id: None,
        }
    }

    /// A customer.
    pub fn customer(id: Uuid) -> Subject {
        Subject {
            kind: "customer",
            id,
            customer_id: Some(id),
        }
    }

    /// A record that belongs to a customer (a contact, an activity, a task).
    pub fn of_customer(kind: &'static str, id: Uuid, customer_id: Option<Uuid>) -> Subject {
        Subject {
            kind,
            id,
            customer_id,
        }
    }
}

/// Records one audit event. Call it on the transaction of the write it describes.
///
/// # Errors
/// Database failures.
pub async fn record(
    db: &Tx,
    state: &AppState,
    origin: &Origin,
    subject: Subject,
    action: &str,
    changes: Value,
) -> Result<(), ApiError> {
    repos::audit::record(db, event(state, origin, subject, action, changes)).await?;
    Ok(())
}

/// The audit event of a write made now by `origin`, for a caller that records it through the
/// store itself (on a transaction it manages with store errors).
pub fn event(
    state: &AppState,
    origin: &Origin,
    subject: Subject,
    action: &str,
    changes: Value,
) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: state.clock.now(),
        actor: origin.actor,
        entity_type: subject.kind.to_owned(),
        entity_id: subject.id,
        customer_id: subject.customer_id,
        action: action.to_owned(),
        request_id: origin.request_id.clone(),
        ip: origin.ip.map(|ip| ip.to_string()),
        changes,
    }
}

/// Records the event of a write and commits the write's transaction: the last step of a
/// handler that writes.
///
/// # Errors
/// Database failures; nothing is written then.
pub async fn record_and_commit(
    tx: Tx,
    state: &AppState,
    origin: &Origin,
    subject: Subject,
    action: &str,
    changes: Value,
) -> Result<(), ApiError> {
    // A change to a user or a client can end its tokens: forget what was cached of them.
    let ends_tokens = matches!(subject.kind, "user" | "client");
    record(&tx, state, origin, subject, action, changes).await?;
    commit(tx, state, origin).await?;
    if ends_tokens {
        state.token_checks.forget_all();
    }
    Ok(())
}

/// Commits a write whose audit events are recorded (with [`record`]): for a handler that
/// writes several records, each with its event.
///
/// # Errors
/// Database failures; nothing is written then.
pub async fn commit(tx: Tx, state: &AppState, origin: &Origin) -> Result<(), ApiError> {
    rapport_store::commit(tx).await?;
    // The caller's next lists read the primary, where its change already is.
    if let (Some(writers), Actor::User(id) | Actor::Client(id)) =
        (&state.recent_writers, origin.actor)
    {
        writers.wrote(id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Rec {
        name: &'static str,
        role: &'static str,
        version: i32,
    }

    #[test]
    fn lists_only_changed_fields() {
        let before = Rec {
            name: "Li",
            role: "sales_rep",
            version: 1,
        };
        let after = Rec {
            name: "Li",
            role: "sales_manager",
            version: 2,
        };
        assert_eq!(
            changes(Some(&before), Some(&after)),
            json!({"role": {"before": "sales_rep", "after": "sales_manager"}})
        );
    }

    #[test]
    fn creation_lists_every_field() {
        let after = Rec {
            name: "Li",
            role: "admin",
            version: 1,
        };
        let diff = changes(None, Some(&after));
        assert_eq!(diff["name"], json!({"before": null, "after": "Li"}));
        assert!(diff.get("version").is_none());
    }
}
