//! The customer list: filters, free-text search, sorts and keyset pages.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};
use rapport_domain::customer::read_external_ids;
use rapport_domain::enums::{
    Channel, CustomerKind, Grade, Industry, LifecycleStage, SizeBand, Source,
};
use rapport_domain::search::SearchQuery;
use rapport_domain::tag::Tag;
use rapport_domain::validation::Errors;
use rapport_domain::{Invalid, ValidationErrors};
use rapport_store::SortDir;
use rapport_store::repos::customers::{self, CustomerFilter, CustomerSort};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::types::{Customer, CustomerList};
use crate::auth::Authorized;
use crate::auth::scopes::CustomersRead;
use crate::error::ApiError;
use crate::extract::Query;
use crate::feed;
use crate::pagination::{Paged, page_params};
use crate::state::AppState;

/// What a customer list (or export) holds: filters and free-text search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilterParams {
    /// Free text: name, contact names (in either order, with or without a space), emails,
    /// phones (typed any way, or their last 4+ digits) and registration number. Words match
    /// by prefix, and from 3 letters inside a word; Chinese matches any character or pair of
    /// characters, and its pinyin (`zhangshi`, initials `zskj`, mixed `深圳zhang`).
    pub q: Option<String>,
    #[param(schema_with = crate::schemas::customer_kind)]
    pub kind: Option<String>,
    #[param(schema_with = crate::schemas::industry)]
    pub industry: Option<String>,
    #[param(schema_with = crate::schemas::size_band)]
    pub size: Option<String>,
    #[param(schema_with = crate::schemas::grade)]
    pub grade: Option<String>,
    #[param(schema_with = crate::schemas::lifecycle_stage)]
    pub lifecycle_stage: Option<String>,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tag: Option<String>,
    /// `<system>:<id>`: the live customer holding this id in an integrator's system
    /// (`external_ids`).
    #[param(example = "erp:C-1001")]
    pub external_id: Option<String>,
    #[param(schema_with = crate::schemas::source)]
    pub source: Option<String>,
    /// Leads of this marketing campaign.
    pub campaign_id: Option<Uuid>,
    #[param(schema_with = crate::schemas::channel)]
    pub channel: Option<String>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// `true`: only leads whose first-contact due time has passed without a contact.
    pub first_contact_overdue: Option<bool>,
    /// `false`: never contacted (no call, meeting, visit, email or chat recorded); `true`:
    /// contacted at least once. With `lifecycle_stage=lead`, the leads never followed up.
    pub contacted: Option<bool>,
    /// Inactive: no activity for this many days (1 to 3650), counting a customer without any
    /// activity from its creation.
    #[param(minimum = 1, maximum = 3650, example = 90)]
    pub inactive_days: Option<i64>,
    /// `true`: list deleted customers (to restore them); needs `customers:delete`.
    pub deleted: Option<bool>,
}

/// The names of [`CustomerFilterParams`]' fields (a body that holds them, as
/// `POST /v1/campaigns/{id}/members/from-filter` does, refuses other names).
pub(crate) const FILTERS: &[&str] = &[
    "q",
    "kind",
    "industry",
    "size",
    "grade",
    "lifecycle_stage",
    "owner_id",
    "team_id",
    "tag",
    "external_id",
    "source",
    "campaign_id",
    "channel",
    "created_after",
    "created_before",
    "updated_after",
    "updated_before",
    "first_contact_overdue",
    "contacted",
    "inactive_days",
    "deleted",
];

/// The order and page of the customer list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerPageParams {
    /// One of [`SORTS`]; described in `schemas` (`CustomerSort`).
    #[param(schema_with = crate::schemas::customer_sort)]
    pub sort: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every customer changed at or after this time, deleted ones included
    /// (their `deleted_at` set: tombstones), oldest change first, each at its latest version.
    /// Changes show once they are 5 seconds old, so that a write still committing is never
    /// passed over. Walk the pages with `cursor`; at the end, ask again with the last
    /// `updated_at` you saw (its records come again: keep the highest `version`). Takes the
    /// list's filters, not `q`, `sort` (other than `updated_at`) or `deleted`.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// Refuses, with 400, what a change feed cannot take: a search, another order, `deleted`.
fn check_feed(filters: &CustomerFilterParams, sort: Option<&str>) -> Result<(), ApiError> {
    let mut errors = Errors::default();
    if searching(filters) {
        errors.add("q", Invalid::NotAllowed);
    }
    feed::check_sort(sort, &mut errors);
    if filters.deleted.is_some() {
        errors.add("deleted", Invalid::NotAllowed);
    }
    errors.finish().map_err(ApiError::BadParameters)
}

/// Turns `filter` into the change feed since `since`: live and deleted customers changed
/// since then and settled.
fn into_feed(state: &AppState, since: DateTime<Utc>, filter: &mut CustomerFilter) {
    filter.with_deleted = true;
    let (since, settled) = feed::window(state, since);
    filter.updated_from = Some(filter.updated_from.map_or(since, |from| from.max(since)));
    filter.updated_to = Some(filter.updated_to.map_or(settled, |to| to.min(settled)));
}

/// The orders of the customer list (`schemas::customer_sort` in the document).
pub(crate) const SORTS: &[&str] = &[
    "name",
    "-name",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "last_activity_at",
    "-last_activity_at",
];

/// The sort of a list; with `q` and no `sort`, relevance.
pub(crate) fn parse_sort(
    sort: Option<&str>,
    searching: bool,
) -> Result<(CustomerSort, SortDir, &'static str), ApiError> {
    if sort.is_none() && searching {
        return Ok((CustomerSort::SearchOrder, SortDir::Desc, "search"));
    }
    let name = sort.unwrap_or("-created_at");
    let Some(canonical) = SORTS.iter().find(|s| **s == name) else {
        return Err(ApiError::BadParameters(ValidationErrors::single(
            "sort",
            Invalid::NotOneOf { allowed: SORTS },
        )));
    };
    let (dir, field) = match canonical.strip_prefix('-') {
        Some(field) => (SortDir::Desc, field),
        None => (SortDir::Asc, *canonical),
    };
    let sort = match field {
        "name" => CustomerSort::Name,
        "updated_at" => CustomerSort::UpdatedAt,
        "last_activity_at" => CustomerSort::LastActivityAt,
        _ => CustomerSort::CreatedAt,
    };
    Ok((sort, dir, canonical))
}

fn param<T>(
    errors: &mut Errors,
    name: &str,
    value: Option<&str>,
    parse: fn(&str) -> Result<T, Invalid>,
) -> Option<T> {
    errors.check_opt(name, value, parse).flatten()
}

/// The key of an external id written `<system>:<id>`, checked as `external_ids` are.
fn external_id_key(raw: &str) -> Result<String, Invalid> {
    let (system, id) = raw.split_once(':').ok_or(Invalid::InvalidType)?;
    let ids = BTreeMap::from([(system.to_owned(), id.to_owned())]);
    read_external_ids(&ids, &mut Errors::default())
        .and_then(|ids| ids.into_iter().next())
        .map(|(system, id)| customers::external_id_key(&system, &id))
        .ok_or(Invalid::InvalidType)
}

/// The filter `p` asks for, checked: 400 naming each bad parameter, 403 for deleted
/// customers without `customers:delete`. `None` when `q` holds nothing searchable (only
/// punctuation): nothing matches.
pub(crate) fn customer_filter(
    state: &AppState,
    auth: &crate::auth::Caller,
    p: CustomerFilterParams,
) -> Result<Option<CustomerFilter>, ApiError> {
    let mut errors = Errors::default();
    let mut filter = CustomerFilter {
        kind: param(&mut errors, "kind", p.kind.as_deref(), CustomerKind::parse),
        industry: param(
            &mut errors,
            "industry",
            p.industry.as_deref(),
            Industry::parse,
        ),
        size: param(&mut errors, "size", p.size.as_deref(), SizeBand::parse),
        grade: param(&mut errors, "grade", p.grade.as_deref(), Grade::parse),
        lifecycle_stage: param(
            &mut errors,
            "lifecycle_stage",
            p.lifecycle_stage.as_deref(),
            LifecycleStage::parse,
        ),
        owner_id: p.owner_id,
        team_id: p.team_id,
        tag: param(&mut errors, "tag", p.tag.as_deref(), Tag::parse).map(Tag::into_string),
        external_id: param(
            &mut errors,
            "external_id",
            p.external_id.as_deref(),
            external_id_key,
        ),
        source: param(&mut errors, "source", p.source.as_deref(), Source::parse),
        campaign_id: p.campaign_id,
        channel: param(&mut errors, "channel", p.channel.as_deref(), Channel::parse),
        created_from: p.created_after,
        created_to: p.created_before,
        updated_from: p.updated_after,
        updated_to: p.updated_before,
        first_contact_overdue_at: p
            .first_contact_overdue
            .unwrap_or(false)
            .then(|| state.clock.now()),
        contacted: p.contacted,
        inactive_since: errors
            .check_opt(
                "inactive_days",
                p.inactive_days,
                |days| match u16::try_from(days) {
                    Ok(days @ 1..=3650) => Ok(state.clock.now() - Duration::days(days.into())),
                    _ => Err(Invalid::OutOfRange { min: 1, max: 3650 }),
                },
            )
            .flatten(),
        search: None,
        deleted: p.deleted.unwrap_or(false),
        with_deleted: false,
    };
    errors.finish().map_err(ApiError::BadParameters)?;
    if filter.deleted {
        auth.require(rapport_domain::auth::Scope::CustomersDelete)?;
    }
    if let Some(q) = p.q.as_deref().filter(|q| !q.trim().is_empty()) {
        let Some(mut query) = SearchQuery::parse(q, state.settings.default_region) else {
            return Ok(None);
        };
        // Registration numbers are stored encrypted and indexed by a keyed hash: a whole one
        // typed in `q` is looked up by its hash too.
        if let Some(id) = query.whole_identifier() {
            let blinded = rapport_store::crypto::blind(&id.to_uppercase())?;
            query.or_exact(blinded);
        }
        filter.search = Some(query);
    }
    Ok(Some(filter))
}

/// Whether `p` searches (`q` with more than spaces): the list is then ordered by relevance.
pub(crate) fn searching(p: &CustomerFilterParams) -> bool {
    p.q.as_deref().is_some_and(|q| !q.trim().is_empty())
}

/// List customers.
///
/// A sales rep sees the customers it owns, a sales manager its team's, other roles all.
#[utoipa::path(
    tag = "customers",
    params(CustomerFilterParams, CustomerPageParams),
    responses((status = 200, body = CustomerList)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers")]
pub async fn list_customers(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    filters: Query<CustomerFilterParams>,
    page: Query<CustomerPageParams>,
) -> Result<HttpResponse, ApiError> {
    let (f, p) = (filters.into_inner()?, page.into_inner()?);
    let (sort, dir, sort_name) = match p.updated_since {
        Some(_) => {
            check_feed(&f, p.sort.as_deref())?;
            (CustomerSort::UpdatedAt, SortDir::Asc, feed::SORT)
        }
        None => parse_sort(p.sort.as_deref(), searching(&f))?,
    };
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort_name)?;
    let Some(mut filter) = customer_filter(&state, &auth, f)? else {
        return Ok(HttpResponse::Ok().json(CustomerList {
            data: Vec::new(),
            next_cursor: None,
        }));
    };
    if let Some(since) = p.updated_since {
        into_feed(&state, since, &mut filter);
    }
    let page = customers::list(
        state.list_reads(&auth),
        auth.visibility(),
        &filter,
        sort,
        dir,
        cursor,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(CustomerList::from(Paged::from_page(
        page,
        sort_name,
        Customer::from,
    ))))
}
