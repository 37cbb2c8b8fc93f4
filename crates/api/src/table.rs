//! Reports answer JSON, or CSV when the caller sends `Accept: text/csv`: a header row, then
//! one line per row, with the numbers of the JSON answer. A report says how it lays out as a
//! table by implementing [`Table`].

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::ApiError;

/// A report as rows of cells.
pub trait Table {
    /// The names of the columns.
    fn header(&self) -> Vec<&'static str>;
    /// The rows, in the JSON answer's order; each as long as the header.
    fn rows(&self) -> Vec<Vec<String>>;
}

/// A cell of an optional value: empty when there is none.
pub fn cell<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The weight `Accept` gives `media` (`type/subtype`): its own range's or a wildcard's, the
/// most specific one winning; 0 when nothing covers it.
fn weight(accept: &str, media: &str) -> f32 {
    let (kind, _) = media.split_once('/').unwrap_or((media, ""));
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let specificity = if name == media {
            3
        } else if name == format!("{kind}/*") {
            2
        } else if name == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or(0.0, |(_, q)| q)
}

/// Whether the caller asked for CSV: `text/csv` weighs more than JSON in its `Accept`.
pub(crate) fn wants_csv(req: &HttpRequest) -> bool {
    let accept: Vec<&str> = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .collect();
    let accept = accept.join(",");
    let csv = weight(&accept, "text/csv");
    csv > 0.0 && csv > weight(&accept, "application/json")
}

/// A text cell that a spreadsheet would run as a formula (`=HYPERLINK(…)`) is kept as text.
pub(crate) fn defused(cell: String) -> String {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
}

/// `report` as CSV, exactly as [`respond`] answers it (an emailed report's attachment).
///
/// # Errors
/// Writing the CSV failed (a bug).
pub fn csv(report: &impl Table) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(report.header())
        .map_err(|e| ApiError::internal("writing a CSV header", e))?;
    for row in report.rows() {
        out.write_record(row.into_iter().map(defused))
            .map_err(|e| ApiError::internal("writing a CSV row", e))?;
    }
    out.into_inner()
        .map_err(|e| ApiError::internal("finishing a CSV report", e))
}

/// `report` as JSON, or as the CSV file `name.csv` when the caller asked for CSV.
///
/// # Errors
/// Writing the CSV failed (a bug).
pub fn respond<T: Serialize + Table>(
    req: &HttpRequest,
    report: &T,
    name: &str,
) -> Result<HttpResponse, ApiError> {
    if !wants_csv(req) {
        return Ok(HttpResponse::Ok()
            .insert_header((header::VARY, "Accept"))
            .json(report));
    }
    let body = csv(report)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::VARY, "Accept"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_kept_as_text_and_numbers_as_numbers() {
        assert_eq!(defused("=1+1".into()), "'=1+1");
        assert_eq!(defused("@SUM(A1)".into()), "'@SUM(A1)");
        assert_eq!(defused("-12.5".into()), "-12.5");
        assert_eq!(defused("Proposal".into()), "Proposal");
    }

    #[test]
    fn csv_is_asked_for_by_accept() {
        let asks = |accept: &str| {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::ACCEPT, accept))
                .to_http_request();
            wants_csv(&req)
        };
        assert!(asks("text/csv"));
        assert!(asks("Text/CSV"));
        assert!(asks("text/csv, application/json;q=0.5"));
        assert!(asks("text/*"));
        assert!(
            !asks("application/json, text/csv;q=0.9"),
            "JSON weighs more"
        );
        assert!(!asks("text/csv;q=0"));
        assert!(!asks("text/csvx"));
        assert!(!asks("*/*"));
        let req = actix_web::test::TestRequest::default().to_http_request();
        assert!(!wants_csv(&req));
    }
}
