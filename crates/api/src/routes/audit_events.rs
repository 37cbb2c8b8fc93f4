//! The audit trail, for `audit:read`.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use rapport_domain::audit as domain;
use rapport_store::repos::audit::{self, AuditFilter};
use rapport_store::repos::audit_chain;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::auth::Authorized;
use crate::auth::scopes::AuditRead;
use crate::error::ApiError;
use crate::extract::Query;
use crate::pagination::{Paged, page_params};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_events).service(verify_audit_chain);
}

/// One recorded write.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `client`, `system` or `automation_rule` (a rule's action).
    #[schema(example = "user")]
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    #[schema(example = "customer")]
    pub entity_type: String,
    pub entity_id: Uuid,
    /// The customer the event concerns (for its contacts, activities and tasks too).
    pub customer_id: Option<Uuid>,
    /// `create`, `update`, `delete`, `restore`, `merge`, `erase`, `sign_in`, …
    #[schema(example = "update")]
    pub action: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    /// `{"field": {"before": …, "after": …}}` for the fields that changed. Never secrets.
    #[schema(value_type = Object, example = json!({"grade": {"before": "standard", "after": "vip"}}))]
    pub changes: serde_json::Value,
}

crate::list_type!(AuditEventList, AuditEvent);

impl From<domain::AuditEvent> for AuditEvent {
    fn from(e: domain::AuditEvent) -> Self {
        AuditEvent {
            id: e.id,
            occurred_at: e.occurred_at,
            actor_type: e.actor.kind().to_owned(),
            actor_id: e.actor.id(),
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            customer_id: e.customer_id,
            action: e.action,
            request_id: e.request_id,
            ip: e.ip,
            changes: e.changes,
        }
    }
}

/// Filters of the audit trail, combined with AND.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    /// `customer`, `contact`, `user`, …
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    /// Events about a customer and its contacts, activities and tasks.
    pub customer_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    /// Events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events before this time.
    pub to: Option<DateTime<Utc>>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List audit events, newest first.
#[utoipa::path(
    tag = "audit",
    params(AuditListParams),
    responses((status = 200, body = AuditEventList)),
    security(("oauth2" = ["audit:read"]))
)]
#[get("/audit-events")]
async fn list_audit_events(
    state: web::Data<AppState>,
    auth: Authorized<AuditRead>,
    params: Query<AuditListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), "-occurred_at")?;
    let filter = AuditFilter {
        entity_type: p.entity_type,
        entity_id: p.entity_id,
        customer_id: p.customer_id,
        actor_id: p.actor_id,
        action: p.action,
        from: p.from,
        to: p.to,
    };
    let page = audit::list(state.list_reads(&auth), &filter, cursor, limit).await?;
    let list = AuditEventList::from(Paged::from_page(page, "-occurred_at", AuditEvent::from));
    Ok(HttpResponse::Ok().json(list))
}

/// What a walk of the audit chain found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainVerification {
    /// No broken link: every sealed event is as it was sealed, in its place.
    pub valid: bool,
    /// Events sealed into the chain and checked (up to the first broken link).
    pub sealed: i64,
    /// Events written but not sealed when the walk began: the `audit.seal` job chains them
    /// within a minute. When 0, every event written before this request is within `head_seq`.
    pub unsealed: u64,
    /// Sealed events whose changes erasure scrubbed: their other fields are still checked.
    pub erased: u64,
    /// The chain's recorded head: its last place and link (a SHA-256, hex).
    pub head_seq: i64,
    pub head_hash: String,
    /// The first broken link, or `null`.
    pub first_broken: Option<BrokenLink>,
}

/// Where and why the chain breaks.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenLink {
    /// The place in the chain.
    pub seq: i64,
    /// The event sealed there, when its seal is still there.
    pub event_id: Option<Uuid>,
    #[schema(schema_with = crate::schemas::audit_chain_break)]
    pub reason: String,
}

/// Verify the audit trail's hash chain.
///
/// Each event is sealed into a SHA-256 chain within a minute of its write, in commit order; an
/// event changed, deleted or reordered since breaks the chain there. This walks the whole
/// chain (its cost grows with the trail) and names the first broken link. `rapport
/// audit-verify` does the same from the command line.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, body = ChainVerification)),
    security(("oauth2" = ["audit:read"]))
)]
#[get("/audit-events/verify")]
async fn verify_audit_chain(
    state: web::Data<AppState>,
    _auth: Authorized<AuditRead>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    // Counted before the head is read: a seal committed in between then only makes the head
    // longer, and `unsealed: 0` means every event so far is within `head_seq`.
    let unsealed = audit_chain::unsealed_count(db).await?;
    let head = audit_chain::head(db).await?;
    let found = audit_chain::verify(db, &head).await?;
    Ok(HttpResponse::Ok().json(ChainVerification {
        valid: found.first_broken.is_none(),
        sealed: found.sealed,
        unsealed,
        erased: found.erased,
        head_seq: head.seq,
        head_hash: head.hash,
        first_broken: found.first_broken.map(|b| BrokenLink {
            seq: b.seq,
            event_id: b.event_id,
            reason: b.reason.as_str().to_owned(),
        }),
    }))
}
