//! What the virtual users record: every answer's latency and status, per kind of request, and
//! the first few failures in full.

use std::time::Duration;

use serde_json::{Value, json};

/// The kinds of request of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    GetCustomer,
    ListCustomers,
    Search,
    CreateCustomer,
    PatchCustomer,
    CreateActivity,
    CreateTask,
    ListTasks,
    ListTickets,
    CreateTicket,
    Report,
    Login,
    Refresh,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::GetCustomer,
        Kind::ListCustomers,
        Kind::Search,
        Kind::CreateCustomer,
        Kind::PatchCustomer,
        Kind::CreateActivity,
        Kind::CreateTask,
        Kind::ListTasks,
        Kind::ListTickets,
        Kind::CreateTicket,
        Kind::Report,
        Kind::Login,
        Kind::Refresh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::GetCustomer => "get customer",
            Kind::ListCustomers => "list customers",
            Kind::Search => "search (q)",
            Kind::CreateCustomer => "create customer",
            Kind::PatchCustomer => "PATCH customer (If-Match)",
            Kind::CreateActivity => "create activity",
            Kind::CreateTask => "create task",
            Kind::ListTasks => "list my tasks",
            Kind::ListTickets => "list tickets",
            Kind::CreateTicket => "create ticket",
            Kind::Report => "report",
            Kind::Login => "sign in (password)",
            Kind::Refresh => "refresh token",
        }
    }
}

/// How a request ended.
pub enum Outcome {
    /// An answer, read to its last byte.
    Answered(u16),
    /// No answer: refused connection, reset, timeout.
    Transport,
}

/// One failed request, kept to be reported as it was.
#[derive(Debug, Clone)]
pub struct Failure {
    pub at: Duration,
    pub request: String,
    pub status: Option<u16>,
    pub body: String,
}

/// The answers of one kind.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Of every answer (not of transport errors), in microseconds.
    latencies_us: Vec<u32>,
    client_errors: u64,
    server_errors: u64,
    transport_errors: u64,
}

/// Failures kept in full per virtual user (the rest are only counted).
const KEPT_FAILURES: usize = 10;

/// What one virtual user (or, merged, all of them) recorded.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    tallies: [Tally; Kind::ALL.len()],
    pub failures: Vec<Failure>,
}

impl Stats {
    pub fn record(&mut self, kind: Kind, elapsed: Duration, outcome: &Outcome) {
        let tally = &mut self.tallies[kind as usize];
        match *outcome {
            Outcome::Answered(status) => {
                tally
                    .latencies_us
                    .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                match status {
                    400..=499 => tally.client_errors += 1,
                    500.. => tally.server_errors += 1,
                    _ => {}
                }
            }
            Outcome::Transport => tally.transport_errors += 1,
        }
    }

    pub fn keep_failure(&mut self, failure: Failure) {
        if self.failures.len() < KEPT_FAILURES {
            self.failures.push(failure);
        }
    }

    pub fn merge(&mut self, other: Stats) {
        for (mine, theirs) in self.tallies.iter_mut().zip(other.tallies) {
            mine.latencies_us.extend(theirs.latencies_us);
            mine.client_errors += theirs.client_errors;
            mine.server_errors += theirs.server_errors;
            mine.transport_errors += theirs.transport_errors;
        }
        self.failures.extend(other.failures);
        self.failures.sort_by_key(|f| f.at);
    }

    /// The summary of each kind that was sent, then of all of them together (`None` as kind).
    pub fn summaries(&self) -> Vec<(Option<Kind>, Summary)> {
        let mut rows: Vec<(Option<Kind>, Summary)> = Kind::ALL
            .iter()
            .map(|&kind| (Some(kind), Summary::of(&self.tallies[kind as usize])))
            .filter(|(_, s)| s.requests > 0)
            .collect();
        let mut all = Tally::default();
        for tally in &self.tallies {
            all.latencies_us.extend_from_slice(&tally.latencies_us);
            all.client_errors += tally.client_errors;
            all.server_errors += tally.server_errors;
            all.transport_errors += tally.transport_errors;
        }
        rows.push((None, Summary::of(&all)));
        rows
    }
}

/// Counts and latency percentiles of a set of requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    fn of(tally: &Tally) -> Summary {
        let mut sorted = tally.latencies_us.clone();
        sorted.sort_unstable();
        let ms = |p: f64| percentile(&sorted, p) as f64 / 1e3;
        Summary {
            requests: sorted.len() as u64 + tally.transport_errors,
            client_errors: tally.client_errors,
            server_errors: tally.server_errors,
            transport_errors: tally.transport_errors,
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: ms(1.0),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "4xx": self.client_errors,
            "5xx": self.server_errors,
            "transport_errors": self.transport_errors,
        })
    }
}

/// The nearest-rank percentile of sorted values (0 when there are none).
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&values, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.99), 0);
    }

    #[test]
    fn merged_stats_count_every_outcome() {
        let mut a = Stats::default();
        a.record(
            Kind::Search,
            Duration::from_millis(3),
            &Outcome::Answered(200),
        );
        let mut b = Stats::default();
        b.record(
            Kind::Search,
            Duration::from_millis(9),
            &Outcome::Answered(503),
        );
        b.record(Kind::Login, Duration::ZERO, &Outcome::Transport);
        a.merge(b);
        let rows = a.summaries();
        let (_, search) = rows[0];
        assert_eq!((search.requests, search.server_errors), (2, 1));
        assert_eq!(search.max_ms, 9.0);
        let (kind, all) = rows[rows.len() - 1];
        assert!(kind.is_none());
        assert_eq!((all.requests, all.transport_errors), (3, 1));
    }
}
