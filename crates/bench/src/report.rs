//! Medians, p99s, the targets, and the Markdown table.

use std::time::Duration;

use crate::measure::Timings;

/// The deep page may take this many times page 1's median.
pub const DEEP_PAGE_RATIO: f64 = 1.5;
/// Every search's p99 stays under this.
pub const SEARCH_P99_MS: f64 = 50.0;

/// The value at quantile `q` (nearest rank) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub backend: &'static str,
    pub customers: u64,
    pub operation: String,
    pub median_ms: f64,
    pub p99_ms: f64,
    pub median_rows: f64,
    pub slowest: String,
    /// The target this row is held to, and whether it holds.
    pub target: Option<(String, bool)>,
}

impl Row {
    pub fn new(backend: &'static str, customers: u64, operation: String, t: &Timings) -> Row {
        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        let mut times: Vec<f64> = t.times.iter().map(ms).collect();
        times.sort_by(f64::total_cmp);
        let mut rows: Vec<f64> = t.rows.iter().map(|&r| r as f64).collect();
        rows.sort_by(f64::total_cmp);
        Row {
            backend,
            customers,
            operation,
            median_ms: quantile(&times, 0.5),
            p99_ms: quantile(&times, 0.99),
            median_rows: quantile(&rows, 0.5),
            slowest: t.slowest.clone(),
            target: None,
        }
    }

    /// Holds the deep page to `DEEP_PAGE_RATIO` × page 1's median.
    pub fn deep_page_target(mut self, first_page_median_ms: f64) -> Row {
        let ratio = self.median_ms / first_page_median_ms;
        let ok = ratio <= DEEP_PAGE_RATIO;
        self.target = Some((
            format!("median {ratio:.2} × page 1 (≤ {DEEP_PAGE_RATIO})"),
            ok,
        ));
        self
    }

    /// Holds a search's p99 under `SEARCH_P99_MS`.
    pub fn search_target(mut self) -> Row {
        let ok = self.p99_ms < SEARCH_P99_MS;
        self.target = Some((format!("p99 < {SEARCH_P99_MS} ms"), ok));
        self
    }

    pub fn missed(&self) -> bool {
        matches!(self.target, Some((_, false)))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "backend": self.backend,
            "customers": self.customers,
            "operation": self.operation,
            "median_ms": self.median_ms,
            "p99_ms": self.p99_ms,
            "median_rows": self.median_rows,
            "slowest": self.slowest,
            "target": self.target.as_ref().map(|(t, _)| t),
            "target_met": self.target.as_ref().map(|(_, ok)| ok),
        })
    }
}

/// `1000000` → `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Markdown table, then the slowest call of each operation and every missed target.
pub fn print(rows: &[Row]) {
    println!();
    println!("| backend | customers | operation | median ms | p99 ms | rows | target |");
    println!("|---|---:|---|---:|---:|---:|---|");
    for r in rows {
        let target = match &r.target {
            Some((what, true)) => format!("OK: {what}"),
            Some((what, false)) => format!("**MISSED**: {what}"),
            None => String::new(),
        };
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {} | {} |",
            r.backend,
            thousands(r.customers),
            r.operation,
            r.median_ms,
            r.p99_ms,
            r.median_rows,
            target
        );
    }
    println!();
    println!("Slowest call of each operation:");
    for r in rows {
        println!("  {} / {}: {}", r.backend, r.operation, r.slowest);
    }
    println!();
    let missed: Vec<&Row> = rows.iter().filter(|r| r.missed()).collect();
    if missed.is_empty() {
        println!("All targets met.");
    } else {
        println!(
            "################################################################################"
        );
        for r in missed {
            let what = r.target.as_ref().map_or("", |(t, _)| t.as_str());
            println!(
                "##  MISSED: {} / {}: {what} (median {:.2} ms, p99 {:.2} ms)",
                r.backend, r.operation, r.median_ms, r.p99_ms
            );
        }
        println!(
            "################################################################################"
        );
    }
    if rows.iter().any(|r| r.customers < 1_000_000) {
        println!("(The targets are set for 1,000,000 customers; this run seeded fewer.)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 100.0);
        assert_eq!(quantile(&v, 0.99), 198.0);
        assert_eq!(quantile(&[3.0], 0.99), 3.0);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(thousands(999), "999");
    }
}
