//! The members of a campaign: contacts of customers, added one by one, in batches, or by the
//! customer list's filters. A contact without marketing consent (none recorded, or withdrawn)
//! is never added: it is answered as skipped, with the reason. Members are listed, read and
//! changed through their customer's view (`access::of_customer`); each added, changed or
//! removed member is one audit event of its customer.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::campaign::{Member as DomainMember, MemberStatus, SkipReason};
use rapport_domain::contact::{Contact, MarketingConsent};
use rapport_domain::enums::ConsentSource;
use rapport_domain::validation::{Errors, index, path};
use rapport_domain::{Invalid, ValidationErrors};
use rapport_store::repos::campaigns::{self, MemberFilter};
use rapport_store::repos::customers::{self as customer_repo};
use rapport_store::repos::{self, Lock, contacts};
use rapport_store::{StoreError, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{check_open, existing};
use crate::audit::{self, Origin};
use crate::auth::scopes::{CampaignsRead, CampaignsWrite};
use crate::auth::{Authorized, Caller};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param};
use crate::feed;
use crate::pagination::{Paged, page_params};
use crate::respond;
use crate::routes::customers::access;
use crate::routes::customers::list::{
    CustomerFilterParams, FILTERS, customer_filter, parse_sort, searching,
};
use crate::routes::customers::types::Contact as ContactBody;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    // `/members/batch` and `/members/from-filter` before `/members/{member_id}`.
    cfg.service(list_members)
        .service(add_members_batch)
        .service(add_members_by_filter)
        .service(add_member)
        .service(update_member)
        .service(delete_member);
}

/// The most items a batch takes.
const MAX_BATCH: usize = 1000;
/// The most customers a filter may match.
pub const MAX_FILTERED: usize = 10_000;
/// The most added members and skipped items an answer lists (its counts are exact).
const LISTED: usize = 1000;
/// Customers read per page while walking a filter's matches.
const FILTER_PAGE: u64 = 500;

/// A contact taking part in a campaign.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Uuid,
    #[schema(schema_with = crate::schemas::member_status)]
    pub status: String,
    pub added_at: DateTime<Utc>,
    /// When it first moved to `responded`, `attended` or `converted`.
    pub responded_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainMember> for Member {
    fn from(m: DomainMember) -> Self {
        Member {
            id: m.id,
            campaign_id: m.campaign_id,
            customer_id: m.customer_id,
            contact_id: m.contact_id,
            status: m.status.as_str().to_owned(),
            added_at: m.added_at,
            responded_at: m.responded_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }
}

crate::list_type!(MemberList, Member);

/// Whom to add: one contact (`contact_id`), or a customer's contacts that hold marketing
/// consent (`customer_id`). Exactly one of the two.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub contact_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
}

/// Up to 1,000 contacts or customers to add, in one transaction.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    #[schema(required = true)]
    pub items: Option<Vec<AddMember>>,
}

/// Adds the contacts, with marketing consent, of every customer the filters match in the
/// caller's view (at most 10,000 customers).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembersByFilter {
    /// The filters of `GET /v1/customers` (`q`, `lifecycle_stage`, `grade`, `industry`,
    /// `tag`, `owner_id`, …) as a JSON object, without `deleted`: deleted customers are
    /// never added.
    #[schema(required = true, value_type = Object, example = json!({"lifecycle_stage": "lead", "tag": "2026-expo"}))]
    pub filter: Option<Map<String, Value>>,
}

/// A contact or customer that was not added.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Skipped {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    #[schema(schema_with = crate::schemas::member_skip_reason)]
    pub reason: String,
}

/// How many were added, and skipped for each reason.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AddCounts {
    pub added: u64,
    pub no_marketing_consent: u64,
    pub already_member: u64,
    pub no_contacts: u64,
    pub not_found: u64,
}

/// What an add did: the members added and what was skipped (each listed up to 1,000), and
/// the exact counts.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AddedMembers {
    pub added: Vec<Member>,
    pub skipped: Vec<Skipped>,
    pub counts: AddCounts,
}

/// A member's new status; `unsubscribed` also withdraws the contact's marketing consent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    #[schema(required = true, schema_with = crate::schemas::member_status)]
    pub status: Option<String>,
}

/// Filters of a campaign's member list, the latest added first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemberListParams {
    #[param(schema_with = crate::schemas::member_status)]
    pub status: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every member changed at or after this time, oldest change first,
    /// each at its latest version. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` you saw (keep the
    /// highest `version`). Takes `status`.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// Adds members in one transaction, recording one audit event per member added.
struct Adding<'a> {
    tx: &'a Tx,
    state: &'a AppState,
    origin: &'a Origin,
    campaign_id: Uuid,
    now: DateTime<Utc>,
    out: AddedMembers,
}

impl Adding<'_> {
    fn skip(&mut self, contact_id: Option<Uuid>, customer_id: Option<Uuid>, reason: SkipReason) {
        let counts = &mut self.out.counts;
        match reason {
            SkipReason::NoMarketingConsent => counts.no_marketing_consent += 1,
            SkipReason::AlreadyMember => counts.already_member += 1,
            SkipReason::NoContacts => counts.no_contacts += 1,
            SkipReason::NotFound => counts.not_found += 1,
        }
        if self.out.skipped.len() < LISTED {
            self.out.skipped.push(Skipped {
                contact_id,
                customer_id,
                reason: reason.as_str().to_owned(),
            });
        }
    }

    async fn contact(&mut self, c: &Contact) -> Result<(), ApiError> {
        if !c.has_marketing_consent() {
            self.skip(
                Some(c.id),
                Some(c.customer_id),
                SkipReason::NoMarketingConsent,
            );
            return Ok(());
        }
        let member = DomainMember::new(self.campaign_id, c.customer_id, c.id, self.now);
        if !campaigns::add_member(self.tx, &member).await? {
            self.skip(Some(c.id), Some(c.customer_id), SkipReason::AlreadyMember);
            return Ok(());
        }
        let body = Member::from(member);
        audit::record(
            self.tx,
            self.state,
            self.origin,
            audit::Subject::of_customer("campaign_member", body.id, Some(body.customer_id)),
            "create",
            audit::changes(None, Some(&body)),
        )
        .await?;
        self.out.counts.added += 1;
        if self.out.added.len() < LISTED {
            self.out.added.push(body);
        }
        Ok(())
    }

    async fn customer(&mut self, customer_id: Uuid, contacts: &[Contact]) -> Result<(), ApiError> {
        if contacts.is_empty() {
            self.skip(None, Some(customer_id), SkipReason::NoContacts);
        }
        for c in contacts {
            self.contact(c).await?;
        }
        Ok(())
    }

    /// One item: 404 when it names nothing the caller sees.
    async fn item(&mut self, caller: &Caller, item: &AddMember) -> Result<(), ApiError> {
        match (item.contact_id, item.customer_id) {
            (Some(contact_id), _) => {
                let c: Contact = access::of_customer(self.tx, caller, contact_id, Lock::No).await?;
                self.contact(&c).await
            }
            (None, Some(customer_id)) => {
                let (customer, contacts) =
                    access::visible_with_contacts(self.tx, caller, customer_id).await?;
                self.customer(customer.id, &contacts).await
            }
            (None, None) => Err(ApiError::NotFound),
        }
    }

    fn answer(self) -> HttpResponse {
        if self.out.counts.added > 0 {
            HttpResponse::Created().json(self.out)
        } else {
            HttpResponse::Ok().json(self.out)
        }
    }
}

/// Exactly one of `contact_id` and `customer_id`, at `at`.
fn check_item(item: &AddMember, at: &str, errors: &mut Errors) {
    match (item.contact_id, item.customer_id) {
        (Some(_), Some(_)) => errors.add(path(at, "customer_id"), Invalid::NotAllowed),
        (None, None) => errors.add(path(at, "contact_id"), Invalid::Required),
        _ => {}
    }
}

/// The campaign `id`, locked so that members are added to a campaign that stays open.
async fn open_campaign(tx: &Tx, id: Uuid) -> Result<Uuid, ApiError> {
    let campaign: rapport_domain::campaign::Campaign = match repos::fetch(tx, id, Lock::Share).await
    {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound),
        Err(e) => return Err(e.into()),
    };
    check_open(&campaign)?;
    Ok(campaign.id)
}

/// List a campaign's members whose customer the caller sees, the latest added first; or
/// their change feed.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), MemberListParams),
    responses((status = 200, body = MemberList)),
    security(("oauth2" = ["campaigns:read"]))
)]
#[get("/campaigns/{id}/members")]
async fn list_members(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsRead>,
    id: web::Path<Uuid>,
    params: Query<MemberListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-added_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let filter = MemberFilter {
        status: code_param("status", p.status.as_deref(), MemberStatus::parse)?,
        changes: p.updated_since.map(|since| feed::changes(&state, since)),
    };
    let campaign = existing(state.store.conn(), id.into_inner()).await?;
    let page = campaigns::list_members(
        state.list_reads(&auth),
        campaign.id,
        auth.visibility(),
        &filter,
        cursor,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MemberList::from(Paged::from_page(page, sort, Member::from))))
}

/// Add a contact (`contact_id`) or a customer's contacts (`customer_id`) to a campaign.
/// Contacts without marketing consent, and members already, are skipped with the reason;
/// 201 when one was added, else 200. 404 for a contact or customer the caller does not see;
/// 409 when the campaign is completed or cancelled. Audited per member.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path)),
    request_body = AddMember,
    responses(
        (status = 201, description = "Added at least one", body = AddedMembers),
        (status = 200, description = "Added none: every contact skipped", body = AddedMembers)
    ),
    security(("oauth2" = ["campaigns:write"]))
)]
#[post("/campaigns/{id}/members")]
async fn add_member(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    id: web::Path<Uuid>,
    body: Json<AddMember>,
) -> Result<HttpResponse, ApiError> {
    let item = body.into_inner()?;
    existing(state.store.conn(), *id).await?;
    let mut errors = Errors::default();
    check_item(&item, "", &mut errors);
    errors.finish()?;
    let tx = state.store.begin().await?;
    let campaign_id = open_campaign(&tx, id.into_inner()).await?;
    let mut adding = Adding {
        tx: &tx,
        state: &state,
        origin: &auth.origin,
        campaign_id,
        now: state.clock.now(),
        out: AddedMembers::default(),
    };
    adding.item(&auth, &item).await?;
    let out = adding.answer();
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(out)
}

/// Add up to 1,000 contacts or customers to a campaign in one transaction, as
/// `POST /v1/campaigns/{id}/members` does each; one the caller does not see is skipped as
/// `not_found`. Audited per member.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path)),
    request_body = AddMembers,
    responses(
        (status = 201, description = "Added at least one", body = AddedMembers),
        (status = 200, description = "Added none", body = AddedMembers)
    ),
    security(("oauth2" = ["campaigns:write"]))
)]
#[post("/campaigns/{id}/members/batch")]
async fn add_members_batch(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    id: web::Path<Uuid>,
    body: Json<AddMembers>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    existing(state.store.conn(), *id).await?;
    let mut errors = Errors::default();
    let items = match body.items {
        Some(items) if items.is_empty() => {
            errors.add("items", Invalid::TooShort { min: 1 });
            items
        }
        Some(items) => items,
        None => {
            errors.add("items", Invalid::Required);
            Vec::new()
        }
    };
    if items.len() > MAX_BATCH {
        errors.add("items", Invalid::TooLong { max: MAX_BATCH });
    }
    for (i, item) in items.iter().enumerate() {
        check_item(item, &index("items", i), &mut errors);
    }
    errors.finish()?;
    let tx = state.store.begin().await?;
    let campaign_id = open_campaign(&tx, id.into_inner()).await?;
    let mut adding = Adding {
        tx: &tx,
        state: &state,
        origin: &auth.origin,
        campaign_id,
        now: state.clock.now(),
        out: AddedMembers::default(),
    };
    for item in &items {
        match adding.item(&auth, item).await {
            Ok(()) => {}
            Err(ApiError::NotFound) => {
                adding.skip(item.contact_id, item.customer_id, SkipReason::NotFound);
            }
            Err(e) => return Err(e),
        }
    }
    let out = adding.answer();
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(out)
}

/// The customer list's filters from a JSON object: 422 naming `filter.<name>` for an unknown
/// name, a value of the wrong type, `deleted`, or a value the list refuses.
fn read_filter(
    map: Map<String, Value>,
    errors: &mut Errors,
) -> Result<CustomerFilterParams, ApiError> {
    let mut params = Map::new();
    for (name, value) in map {
        let at = path("filter", &name);
        if name == "deleted" {
            errors.add(at, Invalid::NotAllowed);
            continue;
        }
        if !FILTERS.contains(&name.as_str()) {
            errors.add(at, Invalid::UnknownField);
            continue;
        }
        if value.is_null() {
            continue;
        }
        let one = Map::from_iter([(name.clone(), value.clone())]);
        if serde_json::from_value::<CustomerFilterParams>(Value::Object(one)).is_err() {
            errors.add(at, Invalid::InvalidType);
            continue;
        }
        params.insert(name, value);
    }
    serde_json::from_value(Value::Object(params))
        .map_err(|_| ApiError::Validation(ValidationErrors::single("filter", Invalid::InvalidType)))
}

/// Add the contacts with marketing consent of every customer the filters match (the filters
/// of `GET /v1/customers`, at most 10,000 customers, in the caller's view) in one
/// transaction. The answer lists up to 1,000 added members and skipped items; its counts
/// are exact. Audited per member.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path)),
    request_body = AddMembersByFilter,
    responses(
        (status = 201, description = "Added at least one", body = AddedMembers),
        (status = 200, description = "Added none", body = AddedMembers)
    ),
    security(("oauth2" = ["campaigns:write"]))
)]
#[post("/campaigns/{id}/members/from-filter")]
async fn add_members_by_filter(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    id: web::Path<Uuid>,
    body: Json<AddMembersByFilter>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    existing(state.store.conn(), *id).await?;
    let Some(map) = body.filter else {
        return Err(ApiError::Validation(ValidationErrors::single(
            "filter",
            Invalid::Required,
        )));
    };
    let mut errors = Errors::default();
    let params = read_filter(map, &mut errors)?;
    let (sort, dir, _) = parse_sort(None, searching(&params))?;
    let filter = match customer_filter(&state, &auth, params) {
        Ok(filter) => filter,
        // The list's parameters are this body's fields.
        Err(ApiError::BadParameters(refused)) => {
            for f in refused.into_errors() {
                errors.add(path("filter", &f.field), f.invalid);
            }
            None
        }
        Err(other) => return Err(other),
    };
    errors.finish()?;
    let tx = state.store.begin().await?;
    let campaign_id = open_campaign(&tx, id.into_inner()).await?;
    let mut adding = Adding {
        tx: &tx,
        state: &state,
        origin: &auth.origin,
        campaign_id,
        now: state.clock.now(),
        out: AddedMembers::default(),
    };
    if let Some(filter) = filter {
        let (visibility, mut cursor, mut matched) = (auth.visibility(), None, 0usize);
        loop {
            let page =
                customer_repo::list(&tx, visibility, &filter, sort, dir, cursor, FILTER_PAGE)
                    .await?;
            matched += page.items.len();
            if matched > MAX_FILTERED {
                return Err(ApiError::Validation(ValidationErrors::single(
                    "filter",
                    Invalid::TooLong { max: MAX_FILTERED },
                )));
            }
            let ids: Vec<Uuid> = page.items.iter().map(|c| c.id).collect();
            let mut by_customer = contacts::of_customers(&tx, &ids).await?;
            for id in ids {
                let contacts = by_customer.remove(&id).unwrap_or_default();
                adding.customer(id, &contacts).await?;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let out = adding.answer();
    audit::commit(tx, &state, &auth.origin).await?;
    Ok(out)
}

/// The member `member_id` of campaign `id` whose customer the caller sees, read to change.
async fn member_to_change(
    tx: &Tx,
    caller: &Caller,
    campaign_id: Uuid,
    member_id: Uuid,
) -> Result<DomainMember, ApiError> {
    let member: DomainMember = access::of_customer(tx, caller, member_id, Lock::ForUpdate).await?;
    if member.campaign_id != campaign_id {
        return Err(ApiError::NotFound);
    }
    Ok(member)
}

/// Move a member to another status. `responded_at` is set at its first response
/// (`responded`, `attended`, `converted`); `unsubscribed` withdraws the contact's marketing
/// consent (source `unsubscribe`, audited on the contact). Audited.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), ("member_id" = Uuid, Path), IfMatchParam),
    request_body = UpdateMember,
    responses((status = 200, body = Member, headers(("ETag" = String)))),
    security(("oauth2" = ["campaigns:write"]))
)]
#[patch("/campaigns/{id}/members/{member_id}")]
async fn update_member(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    path_ids: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
    body: Json<UpdateMember>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let (campaign_id, member_id) = path_ids.into_inner();
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before = member_to_change(&tx, &auth, campaign_id, member_id).await?;
    if_match.check(before.version)?;
    let mut errors = Errors::default();
    let status = errors.required("status", body.status.as_deref(), MemberStatus::parse);
    let status = errors.finish_with(status)?;
    let mut m = before.clone();
    m.move_to(status, now);
    let saved = Member::from(repos::save(&tx, &m, now).await?);
    if status == MemberStatus::Unsubscribed && before.status != MemberStatus::Unsubscribed {
        withdraw_consent(&tx, &state, &auth.origin, before.contact_id, now).await?;
    }
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("campaign_member", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&Member::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Withdraws a contact's marketing consent as of `now` (an unsubscribe), audited on the
/// contact; nothing when it is withdrawn already.
///
/// # Errors
/// Database failures.
pub async fn withdraw_consent(
    tx: &Tx,
    state: &AppState,
    origin: &Origin,
    contact_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let before: Contact = repos::get_locked(tx, contact_id).await?;
    if before
        .marketing_consent
        .is_some_and(|consent| !consent.granted)
    {
        return Ok(());
    }
    let mut c = before.clone();
    c.marketing_consent = Some(MarketingConsent {
        granted: false,
        at: now,
        source: ConsentSource::Unsubscribe,
    });
    let saved = repos::save(tx, &c, now).await?;
    let (before, saved) = (ContactBody::from(before), ContactBody::from(saved));
    audit::record(
        tx,
        state,
        origin,
        audit::Subject::of_customer("contact", saved.id, Some(saved.customer_id)),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await
}

/// Remove a member from a campaign. Audited.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), ("member_id" = Uuid, Path), IfMatchParam),
    responses((status = 204, description = "Removed")),
    security(("oauth2" = ["campaigns:write"]))
)]
#[delete("/campaigns/{id}/members/{member_id}")]
async fn delete_member(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    path_ids: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (campaign_id, member_id) = path_ids.into_inner();
    let tx = state.store.begin().await?;
    let member = member_to_change(&tx, &auth, campaign_id, member_id).await?;
    if_match.check(member.version)?;
    campaigns::delete_member(&tx, member.id).await?;
    let before = Member::from(member);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("campaign_member", before.id, Some(before.customer_id)),
        "delete",
        audit::changes(Some(&before), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
