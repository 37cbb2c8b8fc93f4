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

/// Whether the caller asked for CSV.
fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| media.trim().starts_with("text/csv"))
}

/// A text cell that a spreadsheet would run as a formula (`=HYPERLINK(…)`) is kept as text.
fn defused(cell: String) -> String {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if formula && cell.parse::<f64>().is_err() {
        format!("'{cell}")
    } else {
        cell
    }
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
        return Ok(HttpResponse::Ok().json(report));
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(report.header())
        .map_err(|e| ApiError::internal("writing a CSV header", e))?;
    for row in report.rows() {
        out.write_record(row.into_iter().map(defused))
            .map_err(|e| ApiError::internal("writing a CSV row", e))?;
    }
    let body = out
        .into_inner()
        .map_err(|e| ApiError::internal("finishing a CSV report", e))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
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
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::ACCEPT, "application/json, text/csv;q=0.9"))
            .to_http_request();
        assert!(wants_csv(&req));
        let req = actix_web::test::TestRequest::default().to_http_request();
        assert!(!wants_csv(&req));
    }
}
