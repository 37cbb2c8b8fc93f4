//! Duplicates: the candidate groups, and merging records into one.

use actix_web::{HttpResponse, get, post, web};
use rapport_domain::Invalid;
use rapport_domain::auth::Scope;
use rapport_domain::customer::Customer as DomainCustomer;
use rapport_domain::validation::{Errors, index};
use rapport_store::repos::customers::{self, DuplicateGroup as StoreGroup};
use rapport_store::repos::{self, contacts, tasks};
use rapport_store::{Cursor, SortValue};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::access;
use super::types::Customer;
use super::write::reindex;
use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CustomersRead, CustomersWrite};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::pagination::{Paged, page_params};
use crate::references;
use crate::state::AppState;

/// Customers that are probably one and the same.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateGroup {
    /// What they share: `email`, `phone`, `registration_number`, or `name` (equal once case,
    /// spacing, punctuation and legal-form words like "Co., Ltd." or "有限公司" are set aside).
    #[schema(example = "email")]
    pub reason: String,
    /// The shared value (for names, the normalized name).
    #[schema(example = "li.lei@example.cn")]
    pub value: String,
    pub customers: Vec<Customer>,
}

crate::list_type!(DuplicateGroupList, DuplicateGroup);

/// Paging of the duplicate groups.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuplicateParams {
    /// Groups per page, 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The cursor of a group list: its (reason, value), joined by a unit separator.
fn group_cursor(group: &StoreGroup) -> Cursor {
    Cursor {
        value: SortValue::Text(format!("{}\u{1f}{}", group.reason, group.value)),
        id: Uuid::nil(),
    }
}

/// List candidate duplicate groups among the customers the caller can see.
#[utoipa::path(
    tag = "customers",
    params(DuplicateParams),
    responses((status = 200, body = DuplicateGroupList)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers/duplicates")]
pub async fn list_duplicates(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    params: Query<DuplicateParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), "duplicates")?;
    let after = cursor.and_then(|c| match c.value {
        SortValue::Text(t) => t
            .split_once('\u{1f}')
            .map(|(r, v)| (r.to_owned(), v.to_owned())),
        _ => None,
    });
    let db = state.list_reads(&auth);
    let mut groups = customers::duplicate_groups(db, auth.visibility(), after, limit + 1).await?;
    let more = groups.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    groups.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if more {
        groups.last().map(group_cursor)
    } else {
        None
    };
    let mut data = Vec::with_capacity(groups.len());
    for group in groups {
        let mut members = customers::get_many(db, &group.customer_ids).await?;
        members.sort_by_key(|c| c.created_at);
        data.push(DuplicateGroup {
            reason: group.reason,
            value: group.value,
            customers: members.into_iter().map(Customer::from).collect(),
        });
    }
    let page = rapport_store::Page { items: data, next };
    Ok(
        HttpResponse::Ok().json(DuplicateGroupList::from(Paged::from_page(
            page,
            "duplicates",
            |g| g,
        ))),
    )
}

/// Which customers to merge into the one of the path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// One or more customers (up to 50) to merge into this one.
    #[schema(required = true)]
    pub duplicate_ids: Option<Vec<Uuid>>,
}

/// `?dry_run=true` answers what the merge would do, changing nothing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MergeParams {
    pub dry_run: Option<bool>,
}

/// How many records a merge moves onto the survivor.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovedRecords {
    pub contacts: u64,
    pub activities: u64,
    pub tasks: u64,
    pub stage_changes: u64,
    pub tickets: u64,
    pub opportunities: u64,
    pub quotes: u64,
    pub orders: u64,
    pub survey_invitations: u64,
    /// The grades the value grading (or a hand) gave them, with their history.
    pub grade_changes: u64,
}

/// The outcome (or, with `dry_run`, the preview) of a merge.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeResult {
    /// The surviving customer with its values after the merge: its own, with empty fields
    /// filled from the duplicates, and tags, addresses and external ids united.
    pub survivor: Customer,
    /// The merged customers: soft-deleted, with `merged_into_id` set.
    pub merged_ids: Vec<Uuid>,
    pub moved: MovedRecords,
    pub dry_run: bool,
}

/// Merge duplicates into a customer.
///
/// In one transaction: moves the duplicates' contacts, activities, tasks, stage changes,
/// tickets, opportunities, quotes, orders and survey invitations onto
/// this customer, fills its empty fields from them, and soft-deletes them (`merged_into_id`).
/// Any number of duplicates at once. `dry_run=true` answers the outcome without changing
/// anything.
///
/// A merge retires the duplicates for good, so it needs `customers:delete` besides
/// `customers:write`; a dry run needs only `customers:write`.
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path), MergeParams, IfMatchParam),
    request_body = MergeRequest,
    responses((status = 200, body = MergeResult)),
    security(("oauth2" = ["customers:write", "customers:delete"]))
)]
#[post("/customers/{id}/merge")]
pub async fn merge_customers(
    state: web::Data<AppState>,
    auth: Authorized<CustomersWrite>,
    id: web::Path<Uuid>,
    params: Query<MergeParams>,
    if_match: IfMatch,
    body: Json<MergeRequest>,
) -> Result<HttpResponse, ApiError> {
    let dry_run = params.into_inner()?.dry_run.unwrap_or(false);
    if !dry_run {
        auth.require(Scope::CustomersDelete)?;
    }
    let body = body.into_inner()?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let id = id.into_inner();
    // Every customer of the merge is locked in id order before any is read: two merges that
    // name the same customers (A into B, B into A) then queue instead of deadlocking.
    let mut named: Vec<Uuid> = body
        .duplicate_ids
        .iter()
        .flatten()
        .take(50)
        .copied()
        .collect();
    named.push(id);
    repos::lock_all::<DomainCustomer>(&tx, &named).await?;
    let survivor = access::visible(&tx, &auth, id).await?;
    if_match.check(survivor.version)?;
    let duplicates = load_duplicates(&tx, &auth, &survivor, body.duplicate_ids).await?;
    let duplicate_ids: Vec<Uuid> = duplicates.iter().map(|d| d.id).collect();
    let merged = survivor.merged_with(&duplicates);
    let moved = customers::move_children(&tx, &duplicate_ids, survivor.id, dry_run, now).await?;
    let moved = MovedRecords {
        contacts: moved.contacts,
        activities: moved.activities,
        tasks: moved.tasks,
        stage_changes: moved.stage_changes,
        tickets: moved.tickets,
        opportunities: moved.opportunities,
        quotes: moved.quotes,
        orders: moved.orders,
        survey_invitations: moved.survey_invitations,
        grade_changes: moved.grade_changes,
    };
    if dry_run {
        // What the survivor would look like; the transaction is dropped, nothing is kept.
        let mut contacts = contacts::of_customer(&tx, survivor.id).await?;
        for dup in &duplicates {
            contacts.extend(
                contacts::of_customer(&tx, dup.id)
                    .await?
                    .into_iter()
                    .map(|c| rapport_domain::contact::Contact {
                        customer_id: survivor.id,
                        is_primary: false,
                        ..c
                    }),
            );
        }
        let result = MergeResult {
            survivor: Customer::with_contacts(merged, contacts),
            merged_ids: duplicate_ids,
            moved,
            dry_run,
        };
        return Ok(HttpResponse::Ok().json(result));
    }
    let saved = repos::save(&tx, &merged, now).await?;
    // A duplicate that was contacted makes the survivor contacted: its follow-ups are done.
    if saved.first_contacted_at.is_some() {
        tasks::complete_lead_follow_ups(&tx, saved.id, now).await?;
    }
    for dup in duplicates {
        let gone = DomainCustomer {
            deleted_at: Some(now),
            merged_into_id: Some(saved.id),
            ..dup
        };
        let gone = repos::save(&tx, &gone, now).await?;
        reindex(&tx, &gone).await?;
    }
    let contacts = reindex(&tx, &saved).await?;
    let mut changes = audit::changes(
        Some(&Customer::from(survivor)),
        Some(&Customer::from(saved.clone())),
    );
    if let Some(map) = changes.as_object_mut() {
        map.insert("merged_ids".into(), json!(duplicate_ids));
        map.insert(
            "moved".into(),
            serde_json::to_value(&moved).unwrap_or_default(),
        );
    }
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::customer(saved.id),
        "merge",
        changes,
    )
    .await?;
    let result = MergeResult {
        survivor: Customer::with_contacts(saved, contacts),
        merged_ids: duplicate_ids,
        moved,
        dry_run,
    };
    Ok(HttpResponse::Ok().json(result))
}

/// The duplicates named in the body: each a live customer the caller sees, other than the
/// survivor, named once.
async fn load_duplicates(
    db: &impl rapport_store::Conn,
    caller: &crate::auth::Caller,
    survivor: &DomainCustomer,
    ids: Option<Vec<Uuid>>,
) -> Result<Vec<DomainCustomer>, ApiError> {
    let mut errors = Errors::default();
    let ids = ids.unwrap_or_default();
    if ids.is_empty() {
        errors.add("duplicate_ids", Invalid::Required);
    }
    if ids.len() > 50 {
        errors.add("duplicate_ids", Invalid::TooLong { max: 50 });
    }
    let mut found = Vec::new();
    for (i, id) in ids.iter().enumerate().take(50) {
        let field = index("duplicate_ids", i);
        if *id == survivor.id {
            errors.add(field, Invalid::NotAllowed);
        } else if ids[..i].contains(id) {
            errors.add(field, Invalid::Duplicate);
        } else {
            // Locked already, with the survivor, by `repos::lock_all`.
            let visible = access::visible(db, caller, *id).await;
            found.extend(references::known(&field, visible, &mut errors)?);
        }
    }
    errors.finish()?;
    Ok(found)
}
