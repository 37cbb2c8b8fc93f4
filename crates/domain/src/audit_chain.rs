//! The tamper-evident audit trail: each sealed event carries a SHA-256 hash chained to the one
//! sealed before it, so that an event changed, removed or reordered after sealing breaks the
//! chain from there on, and [`Verifier`] names the first broken link.
//!
//! A link hashes the previous link, the event's place (`seq`), a digest of its fields and a
//! digest of its `changes`, kept apart: erasure scrubs personal values from `changes`, and the
//! chain stays verifiable because the stored digest of the original changes is kept while the
//! event is marked erased (its other fields are still checked).

use serde_json::Value;

use crate::audit::AuditEvent;
use crate::digest::sha256_hex;

/// The link before the first: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The digest of an event's fields but its changes: who did what to which record, when and
/// from where, as a JSON array in a fixed order.
pub fn content_digest(event: &AuditEvent) -> String {
    let fields = serde_json::json!([
        event.id,
        event
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        event.actor.kind(),
        event.actor.id(),
        event.entity_type,
        event.entity_id,
        event.customer_id,
        event.action,
        event.request_id,
        event.ip,
    ]);
    sha256_hex(&fields.to_string())
}

/// The digest of an event's changes, with object keys sorted: the same for the same JSON
/// whatever order a database keeps its keys in.
pub fn changes_digest(changes: &Value) -> String {
    let mut text = String::new();
    canonical(changes, &mut text);
    sha256_hex(&text)
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The link of the event sealed at `seq` after the link `previous`.
pub fn link(previous: &str, seq: i64, content: &str, changes: &str) -> String {
    sha256_hex(&format!("{previous}\n{seq}\n{content}\n{changes}"))
}

/// One sealed place of the chain as stored: the event (`None` when its row is gone), whether
/// erasure scrubbed its changes, and what sealing recorded.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub seq: i64,
    pub event_id: uuid::Uuid,
    pub event: Option<AuditEvent>,
    pub erased: bool,
    pub changes_digest: String,
    pub hash: String,
}

crate::string_enum! {
    /// Why a link is broken.
    pub enum Broken {
        /// A sealed place is missing (a seal or its event was deleted).
        Missing => "missing",
        /// The event's fields, or its stored hash, differ from what was sealed.
        Content => "content",
        /// The event's changes differ from what was sealed (and erasure did not scrub them).
        Changes => "changes",
        /// The chain's end is not the head that sealing recorded.
        Head => "head",
    }
}

/// The first broken link: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub event_id: Option<uuid::Uuid>,
    pub reason: Broken,
}

/// Walks the chain in `seq` order, one sealed place at a time.
#[derive(Debug)]
pub struct Verifier {
    seq: i64,
    hash: String,
    erased: u64,
    broken: Option<BrokenLink>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            seq: 0,
            hash: GENESIS.to_owned(),
            erased: 0,
            broken: None,
        }
    }
}

impl Verifier {
    /// Checks the next sealed place; after the first broken link, the rest is not checked.
    pub fn check(&mut self, sealed: &Sealed) {
        if self.broken.is_some() {
            return;
        }
        let fail = |reason| {
            Some(BrokenLink {
                seq: sealed.seq,
                event_id: Some(sealed.event_id),
                reason,
            })
        };
        self.broken = if sealed.seq != self.seq + 1 {
            Some(BrokenLink {
                seq: self.seq + 1,
                event_id: None,
                reason: Broken::Missing,
            })
        } else if let Some(event) = &sealed.event {
            let content = content_digest(event);
            if !sealed.erased && changes_digest(&event.changes) != sealed.changes_digest {
                fail(Broken::Changes)
            } else if link(&self.hash, sealed.seq, &content, &sealed.changes_digest) != sealed.hash
            {
                fail(Broken::Content)
            } else {
                None
            }
        } else {
            fail(Broken::Missing)
        };
        if self.broken.is_none() {
            self.seq = sealed.seq;
            self.hash.clone_from(&sealed.hash);
            self.erased += u64::from(sealed.erased);
        }
    }

    /// Compares the walked chain's end with the head sealing recorded: a shorter chain lost
    /// its last places.
    pub fn finish(mut self, head_seq: i64, head_hash: &str) -> Verification {
        if self.broken.is_none() && (self.seq != head_seq || self.hash != head_hash) {
            self.broken = Some(BrokenLink {
                seq: self.seq + 1,
                event_id: None,
                reason: if self.seq < head_seq {
                    Broken::Missing
                } else {
                    Broken::Head
                },
            });
        }
        Verification {
            sealed: self.seq,
            erased: self.erased,
            first_broken: self.broken,
        }
    }
}

/// What a walk of the whole chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Places checked up to the first broken one.
    pub sealed: i64,
    /// Events among them whose changes erasure scrubbed.
    pub erased: u64,
    pub first_broken: Option<BrokenLink>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::identity::Actor;

    fn event(n: u128) -> AuditEvent {
        AuditEvent {
            id: uuid::Uuid::from_u128(n),
            occurred_at: chrono::Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap(),
            actor: Actor::System,
            entity_type: "customer".into(),
            entity_id: uuid::Uuid::from_u128(1000 + n),
            customer_id: None,
            action: "create".into(),
            request_id: None,
            ip: None,
            changes: json!({"name": {"after": format!("Customer {n}")}, "a": 1}),
        }
    }

    /// Seals `events` as the store does.
    fn seal(events: &[AuditEvent]) -> Vec<Sealed> {
        let mut previous = GENESIS.to_owned();
        let mut sealed = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let seq = i as i64 + 1;
            let changes = changes_digest(&event.changes);
            let hash = link(&previous, seq, &content_digest(event), &changes);
            previous.clone_from(&hash);
            sealed.push(Sealed {
                seq,
                event_id: event.id,
                event: Some(event.clone()),
                erased: false,
                changes_digest: changes,
                hash,
            });
        }
        sealed
    }

    fn verify(chain: &[Sealed], head: (i64, &str)) -> Verification {
        let mut verifier = Verifier::default();
        for sealed in chain {
            verifier.check(sealed);
        }
        verifier.finish(head.0, head.1)
    }

    fn head(chain: &[Sealed]) -> (i64, String) {
        chain
            .last()
            .map_or((0, GENESIS.to_owned()), |s| (s.seq, s.hash.clone()))
    }

    fn broken_at(chain: &[Sealed], head: (i64, &str)) -> Option<(i64, Broken)> {
        verify(chain, head).first_broken.map(|b| (b.seq, b.reason))
    }

    #[test]
    fn a_sound_chain_verifies() {
        let chain = seal(&(1..=5).map(event).collect::<Vec<_>>());
        let (seq, hash) = head(&chain);
        let found = verify(&chain, (seq, &hash));
        assert_eq!(found.first_broken, None);
        assert_eq!(found.sealed, 5);
        assert_eq!(verify(&[], (0, GENESIS)).first_broken, None);
    }

    #[test]
    fn names_the_first_broken_link_and_why() {
        let chain = seal(&(1..=5).map(event).collect::<Vec<_>>());
        let (seq, hash) = head(&chain);
        let head = (seq, hash.as_str());

        let mut changed = chain.clone();
        changed[2].event.as_mut().unwrap().action = "delete".into();
        assert_eq!(broken_at(&changed, head), Some((3, Broken::Content)));

        let mut rewritten = chain.clone();
        rewritten[1].event.as_mut().unwrap().changes = json!({"name": {"after": "Someone"}});
        assert_eq!(broken_at(&rewritten, head), Some((2, Broken::Changes)));

        let mut removed = chain.clone();
        removed.remove(3);
        assert_eq!(broken_at(&removed, head), Some((4, Broken::Missing)));

        let mut gone = chain.clone();
        gone[0].event = None;
        assert_eq!(broken_at(&gone, head), Some((1, Broken::Missing)));

        let mut rehashed = chain.clone();
        rehashed[4].hash = GENESIS.to_owned();
        assert_eq!(broken_at(&rehashed, head), Some((5, Broken::Content)));

        assert_eq!(broken_at(&chain[..4], head), Some((5, Broken::Missing)));
        assert_eq!(broken_at(&chain, (5, GENESIS)), Some((6, Broken::Head)));
    }

    #[test]
    fn erased_changes_keep_the_chain_sound() {
        let mut chain = seal(&(1..=3).map(event).collect::<Vec<_>>());
        let (seq, hash) = head(&chain);
        chain[1].event.as_mut().unwrap().changes = json!({"name": {"after": null}});
        chain[1].erased = true;
        let found = verify(&chain, (seq, &hash));
        assert_eq!(found.first_broken, None);
        assert_eq!(found.erased, 1);
        // Erasure does not cover the other fields.
        chain[1].event.as_mut().unwrap().entity_type = "contact".into();
        assert_eq!(broken_at(&chain, (seq, &hash)), Some((2, Broken::Content)));
    }

    #[test]
    fn changes_digests_ignore_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [2, {"q": 1, "p": 2}]}, "a": "é"}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a": "é", "b": {"x": [2, {"p": 2, "q": 1}], "y": 1}}"#)
                .unwrap();
        assert_eq!(changes_digest(&a), changes_digest(&b));
        assert_ne!(changes_digest(&a), changes_digest(&json!({"a": "e"})));
    }
}
