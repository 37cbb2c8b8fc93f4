//! The product catalog: read with `opportunities:read`, changed with `settings:write`.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::money::Money;
use rapport_domain::name::Title;
use rapport_domain::pricing::Percent;
use rapport_domain::product::{Product as DomainProduct, ProductCode, ProductDescription};
use rapport_domain::validation::{Errors, index};
use rapport_store::StoreError;
use rapport_store::repos::{self, products};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{OpportunitiesRead, SettingsWrite};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json, Query};
use crate::feed;
use crate::i18n::Text;
use crate::money::MoneyBody;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::respond;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_products)
        .service(create_product)
        .service(get_product)
        .service(update_product);
}

/// A product that can be quoted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    /// Unique regardless of case.
    #[schema(example = "TNR-100")]
    pub code: String,
    #[schema(example = "Toner cartridge, black")]
    pub name: String,
    pub description: Option<String>,
    /// At most one price per currency.
    pub prices: Vec<MoneyBody>,
    /// Percent, a decimal string: the tax rate its quote lines take by default.
    #[schema(example = "13")]
    pub tax_rate: String,
    /// Inactive products cannot be quoted.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainProduct> for Product {
    fn from(p: DomainProduct) -> Self {
        Product {
            id: p.id,
            code: p.code.as_str().to_owned(),
            name: p.name.into_string(),
            description: p.description.map(|d| d.into_string()),
            prices: p.prices.into_iter().map(MoneyBody::from).collect(),
            tax_rate: p.tax_rate.value().to_string(),
            active: p.active,
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }
}

crate::list_type!(ProductList, Product);

/// A new product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    #[schema(required = true, example = "TNR-100")]
    pub code: Option<String>,
    #[schema(required = true, example = "Toner cartridge, black")]
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub prices: Vec<MoneyBody>,
    /// Percent, 0–100; default `"0"`.
    #[schema(example = "13")]
    pub tax_rate: Option<String>,
    /// Default `true`.
    pub active: Option<bool>,
}

/// Changes to a product; `null` clears the description. `prices` replaces the list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProduct {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub code: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, nullable)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<MoneyBody>>)]
    pub prices: Patch<Vec<MoneyBody>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub tax_rate: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub active: Patch<bool>,
}

/// Filters of the product list, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListParams {
    pub active: Option<bool>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every product changed at or after this time, oldest change first,
    /// each at its latest version. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` you saw (keep the
    /// highest `version`). Products are never deleted (they are made inactive). Takes `active`.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

fn read_prices(prices: &[MoneyBody], errors: &mut Errors) -> Vec<Money> {
    let mut out: Vec<Money> = Vec::new();
    if prices.len() > 50 {
        errors.add("prices", Invalid::TooLong { max: 50 });
        return out;
    }
    for (i, p) in prices.iter().enumerate() {
        let field = index("prices", i);
        if let Some(m) = p.read(&field, errors) {
            if out.iter().any(|o| o.currency() == m.currency()) {
                errors.add(format!("{field}.currency"), Invalid::Duplicate);
            }
            out.push(m);
        }
    }
    out
}

fn code_taken(e: StoreError) -> ApiError {
    if e.is_conflict_on(products::CODE_TAKEN) {
        ApiError::conflict(
            ProblemCode::Duplicate,
            Text::new("Another product has this code.", "已有其他产品使用此编码。"),
        )
    } else {
        e.into()
    }
}

/// List products, newest first.
#[utoipa::path(
    tag = "sales",
    params(ProductListParams),
    responses((status = 200, body = ProductList)),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/products")]
async fn list_products(
    state: web::Data<AppState>,
    auth: Authorized<OpportunitiesRead>,
    params: Query<ProductListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = feed::sort_or(p.updated_since, "-created_at");
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let changes = p.updated_since.map(|since| feed::changes(&state, since));
    let db = state.list_reads(&auth);
    let page = products::list(db, p.active, changes, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(ProductList::from(Paged::from_page(
        page,
        sort,
        Product::from,
    ))))
}

/// Add a product to the catalog. Audited.
#[utoipa::path(
    tag = "sales",
    request_body = CreateProduct,
    responses(
        (status = 201, body = Product, headers(("Location" = String), ("ETag" = String))),
        (status = 409, description = "Another product has this code", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["settings:write"]))
)]
#[post("/products")]
async fn create_product(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    body: Json<CreateProduct>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let mut errors = Errors::default();
    let code = errors.required("code", body.code.as_deref(), ProductCode::parse);
    let name = errors.required("name", body.name.as_deref(), Title::parse);
    let description = errors.check_opt(
        "description",
        body.description.as_deref(),
        ProductDescription::parse,
    );
    let prices = read_prices(&body.prices, &mut errors);
    let tax_rate = errors.check(
        "tax_rate",
        Percent::parse(body.tax_rate.as_deref().unwrap_or("0")),
    );
    let (code, name, description, tax_rate) =
        errors.finish_with((|| Some((code?, name?, description?, tax_rate?)))())?;
    let now = state.clock.now();
    let product = DomainProduct {
        id: Uuid::now_v7(),
        code,
        name,
        description,
        prices,
        tax_rate,
        active: body.active.unwrap_or(true),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let tx = state.store.begin().await?;
    products::insert(&tx, &product).await.map_err(code_taken)?;
    let body = Product::from(product);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("product", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/products/{}", body.id),
    ))
}

/// Get a product.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Product, headers(("ETag" = String)))),
    security(("oauth2" = ["opportunities:read"]))
)]
#[get("/products/{id}")]
async fn get_product(
    state: web::Data<AppState>,
    _auth: Authorized<OpportunitiesRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = Product::from(products::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&p, p.version))
}

/// Change a product; `active: false` takes it out of new quotes (quotes made keep their
/// lines). Audited.
#[utoipa::path(
    tag = "sales",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateProduct,
    responses(
        (status = 200, body = Product, headers(("ETag" = String))),
        (status = 409, description = "Another product has this code", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["settings:write"]))
)]
#[patch("/products/{id}")]
async fn update_product(
    state: web::Data<AppState>,
    auth: Authorized<SettingsWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateProduct>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let before: DomainProduct = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut p = before.clone();
    let mut errors = Errors::default();
    body.code
        .required(&mut errors, "code", &mut p.code, ProductCode::parse);
    body.name
        .required(&mut errors, "name", &mut p.name, Title::parse);
    body.description.optional(
        &mut errors,
        "description",
        &mut p.description,
        ProductDescription::parse,
    );
    if let Some(prices) = body.prices.into_required(&mut errors, "prices") {
        p.prices = read_prices(&prices, &mut errors);
    }
    body.tax_rate
        .required(&mut errors, "tax_rate", &mut p.tax_rate, Percent::parse);
    if let Some(active) = body.active.into_required(&mut errors, "active") {
        p.active = active;
    }
    errors.finish()?;
    let saved = Product::from(
        repos::save(&tx, &p, state.clock.now())
            .await
            .map_err(code_taken)?,
    );
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("product", saved.id),
        "update",
        audit::changes(Some(&Product::from(before)), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}
