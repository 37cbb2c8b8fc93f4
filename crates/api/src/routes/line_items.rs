//! What quotes and orders share: line items in requests and answers, priced exactly.

use rapport_domain::Invalid;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::money::Money;
use rapport_domain::name::Title;
use rapport_domain::pricing::{Line, Percent, Quantity, Totals};
use rapport_domain::quote::MAX_LINES;
use rapport_domain::validation::{Errors, index, path};
use rapport_store::Conn;
use rapport_store::repos::products;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::money::MoneyBody;

/// A line in a request: a product of the catalog (its name, price in the document's currency
/// and tax rate are the defaults) or free text with a price.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// An active product.
    pub product_id: Option<Uuid>,
    /// Required without a product.
    #[schema(example = "Toner cartridge, black")]
    pub description: Option<String>,
    /// A positive decimal string, at most 4 decimals.
    #[schema(required = true, example = "3")]
    pub quantity: Option<String>,
    /// A decimal string in the document's currency. Required without a product.
    #[schema(example = "3.35")]
    pub unit_price: Option<String>,
    /// Percent off the line's subtotal, a decimal string; default `"0"`.
    #[schema(example = "5")]
    pub discount_percent: Option<String>,
    /// Percent, a decimal string; default the product's, else `"0"`.
    #[schema(example = "13")]
    pub tax_rate: Option<String>,
}

/// A priced line. Each amount is rounded half away from zero to the currency's minor units:
/// `subtotal = quantity × unit_price`, `discount` of the subtotal, `tax` of what remains,
/// `total = subtotal − discount + tax`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineItem {
    pub product_id: Option<Uuid>,
    pub description: String,
    #[schema(example = "3")]
    pub quantity: String,
    #[schema(example = "3.35")]
    pub unit_price: String,
    #[schema(example = "5")]
    pub discount_percent: String,
    #[schema(example = "13")]
    pub tax_rate: String,
    #[schema(example = "10.05")]
    pub subtotal: String,
    #[schema(example = "0.50")]
    pub discount: String,
    #[schema(example = "1.24")]
    pub tax: String,
    #[schema(example = "10.79")]
    pub total: String,
}

impl From<Line> for LineItem {
    fn from(l: Line) -> Self {
        LineItem {
            product_id: l.product_id,
            description: l.description,
            quantity: l.quantity.normalize().to_string(),
            unit_price: l.unit_price.to_string(),
            discount_percent: l.discount_percent.normalize().to_string(),
            tax_rate: l.tax_rate.normalize().to_string(),
            subtotal: l.subtotal.to_string(),
            discount: l.discount.to_string(),
            tax: l.tax.to_string(),
            total: l.total.to_string(),
        }
    }
}

/// A document's totals: the sums of its lines.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentTotals {
    pub subtotal: MoneyBody,
    pub discount: MoneyBody,
    pub tax: MoneyBody,
    pub total: MoneyBody,
}

impl From<Totals> for DocumentTotals {
    fn from(t: Totals) -> Self {
        DocumentTotals {
            subtotal: t.subtotal.into(),
            discount: t.discount.into(),
            tax: t.tax.into(),
            total: t.total.into(),
        }
    }
}

/// Prices the lines of a document in `currency`, each error at `lines[i].<field>`. At least
/// one line, at most [`MAX_LINES`].
///
/// # Errors
/// Database failures.
pub async fn price(
    db: &impl Conn,
    currency: Option<CurrencyCode>,
    inputs: &[LineInput],
    errors: &mut Errors,
) -> Result<Option<(Vec<Line>, Totals)>, ApiError> {
    if inputs.is_empty() {
        errors.add("lines", Invalid::Required);
    }
    if inputs.len() > MAX_LINES {
        errors.add("lines", Invalid::TooLong { max: MAX_LINES });
        return Ok(None);
    }
    // Every named product in one read.
    let ids: Vec<Uuid> = inputs.iter().filter_map(|l| l.product_id).collect();
    let catalog = if ids.is_empty() {
        Vec::new()
    } else {
        products::get_many(db, &ids).await?
    };
    let mut lines = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let at = index("lines", i);
        let field = |name: &str| path(&at, name);
        let product = match input.product_id {
            None => None,
            Some(id) => match catalog.iter().find(|p| p.id == id) {
                None => {
                    errors.add(field("product_id"), Invalid::UnknownReference);
                    None
                }
                Some(p) if !p.active => {
                    errors.add(field("product_id"), Invalid::NotAllowed);
                    Some(p)
                }
                Some(p) => Some(p),
            },
        };
        let description = match (&input.description, &product) {
            (Some(d), _) => errors.check(field("description"), Title::parse(d)),
            (None, Some(p)) => Some(p.name.clone()),
            (None, None) if input.product_id.is_some() => None,
            (None, None) => {
                errors.add(field("description"), Invalid::Required);
                None
            }
        };
        let quantity = errors.required(
            field("quantity"),
            input.quantity.as_deref(),
            Quantity::parse,
        );
        let unit_price = match (&input.unit_price, currency) {
            (_, None) => None,
            (Some(p), Some(c)) => errors.check(
                field("unit_price"),
                Money::parse_amount(p).and_then(|a| Money::new(a, c)),
            ),
            (None, Some(c)) => match &product {
                Some(p) => {
                    let price = p.price_in(c);
                    if price.is_none() {
                        errors.add(field("unit_price"), Invalid::Required);
                    }
                    price
                }
                None if input.product_id.is_some() => None,
                None => {
                    errors.add(field("unit_price"), Invalid::Required);
                    None
                }
            },
        };
        let discount = errors.check(
            field("discount_percent"),
            Percent::parse(input.discount_percent.as_deref().unwrap_or("0")),
        );
        let tax_rate = match (&input.tax_rate, &product) {
            (Some(t), _) => errors.check(field("tax_rate"), Percent::parse(t)),
            (None, Some(p)) => Some(p.tax_rate),
            (None, None) => Some(Percent::default()),
        };
        if let (Some(d), Some(q), Some(u), Some(dp), Some(t)) =
            (description, quantity, unit_price, discount, tax_rate)
            && let Some(line) = errors.check(
                field("total"),
                Line::priced(input.product_id, &d, q, u, dp, t),
            )
        {
            lines.push(line);
        }
    }
    let Some(currency) = currency else {
        return Ok(None);
    };
    if !errors.is_empty() {
        return Ok(None);
    }
    let Some(totals) = errors.check("lines", Totals::of(&lines, currency)) else {
        return Ok(None);
    };
    Ok(Some((lines, totals)))
}
