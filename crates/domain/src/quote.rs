//! Quotes and orders: documents with numbered, priced line items. A quote moves
//! `draft → sent → accepted | rejected | expired` and is edited only as a draft; an order is a
//! recorded purchase, `confirmed → fulfilled | cancelled`.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::currency::CurrencyCode;
use crate::name::Name;
use crate::pricing::{Line, Totals};

/// Notes printed on a quote or an order.
pub type DocumentNotes = Name<5000>;

/// The most lines a document holds.
pub const MAX_LINES: usize = 200;

crate::string_enum! {
    /// Where a quote stands.
    pub enum QuoteStatus {
        Draft => "draft",
        Sent => "sent",
        Accepted => "accepted",
        Rejected => "rejected",
        Expired => "expired",
    }
}

crate::string_enum! {
    /// Where an order stands.
    pub enum OrderStatus {
        Confirmed => "confirmed",
        Fulfilled => "fulfilled",
        Cancelled => "cancelled",
    }
}

/// A status move the workflow does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot move from `{from}` to `{to}`")]
pub struct StatusRefusal<S: std::fmt::Display + std::fmt::Debug + 'static> {
    pub from: S,
    pub to: S,
    pub allowed: &'static [S],
}

impl QuoteStatus {
    /// The statuses a client may move a quote to from this one (`expired` is the clock's).
    pub fn allowed_next(self) -> &'static [QuoteStatus] {
        use QuoteStatus::*;
        match self {
            Draft => &[Sent],
            Sent => &[Accepted, Rejected],
            Accepted | Rejected | Expired => &[],
        }
    }
}

impl OrderStatus {
    pub fn allowed_next(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Confirmed => &[Fulfilled, Cancelled],
            Fulfilled | Cancelled => &[],
        }
    }
}

/// A document's number: a prefix, the year and a sequence without gaps per prefix and year
/// (`Q-2026-000123`).
pub fn document_number(prefix: &str, year: i32, sequence: i64) -> String {
    format!("{prefix}-{year}-{sequence:06}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub id: Uuid,
    pub number: String,
    pub opportunity_id: Uuid,
    pub customer_id: Uuid,
    pub currency: CurrencyCode,
    pub status: QuoteStatus,
    /// The last day it can be accepted.
    pub valid_until: NaiveDate,
    pub lines: Vec<Line>,
    pub totals: Totals,
    pub notes: Option<DocumentNotes>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was accepted, rejected or expired.
    pub decided_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Quote {
    /// Has it passed its validity while waiting for an answer?
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.status == QuoteStatus::Sent && now.date_naive() > self.valid_until
    }

    /// The quote as of `now`: a sent quote past its validity is expired since the end of its
    /// last day (what the scheduled check records, seen before it runs).
    pub fn as_of(mut self, now: DateTime<Utc>) -> Quote {
        if self.is_overdue(now) {
            self.status = QuoteStatus::Expired;
            self.decided_at = self
                .valid_until
                .succ_opt()
                .and_then(|day| day.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc());
        }
        self
    }

    /// Moves the quote to `to` at `now`.
    ///
    /// # Errors
    /// [`StatusRefusal`] when the workflow does not allow it (a sent quote past its validity
    /// is expired and cannot be accepted).
    pub fn move_to(
        &mut self,
        to: QuoteStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StatusRefusal<QuoteStatus>> {
        let from = if self.is_overdue(now) {
            QuoteStatus::Expired
        } else {
            self.status
        };
        if !from.allowed_next().contains(&to) {
            return Err(StatusRefusal {
                from,
                to,
                allowed: from.allowed_next(),
            });
        }
        self.status = to;
        match to {
            QuoteStatus::Sent => self.sent_at = Some(now),
            _ => self.decided_at = Some(now),
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    pub number: String,
    pub customer_id: Uuid,
    pub opportunity_id: Option<Uuid>,
    /// The accepted quote it was made from.
    pub quote_id: Option<Uuid>,
    pub currency: CurrencyCode,
    pub status: OrderStatus,
    pub lines: Vec<Line>,
    pub totals: Totals,
    pub notes: Option<DocumentNotes>,
    pub ordered_at: DateTime<Utc>,
    pub fulfilled_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Order {
    /// # Errors
    /// [`StatusRefusal`] when the workflow does not allow it.
    pub fn move_to(
        &mut self,
        to: OrderStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StatusRefusal<OrderStatus>> {
        if !self.status.allowed_next().contains(&to) {
            return Err(StatusRefusal {
                from: self.status,
                to,
                allowed: self.status.allowed_next(),
            });
        }
        self.status = to;
        match to {
            OrderStatus::Fulfilled => self.fulfilled_at = Some(now),
            OrderStatus::Cancelled => self.cancelled_at = Some(now),
            OrderStatus::Confirmed => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    fn quote(valid_until: NaiveDate) -> Quote {
        let cny = CurrencyCode::parse("CNY").unwrap();
        let zero = Money::parse("0", "CNY").unwrap();
        let now = Utc::now();
        Quote {
            id: Uuid::now_v7(),
            number: document_number("Q", 2026, 1),
            opportunity_id: Uuid::now_v7(),
            customer_id: Uuid::now_v7(),
            currency: cny,
            status: QuoteStatus::Draft,
            valid_until,
            lines: Vec::new(),
            totals: Totals {
                subtotal: zero,
                discount: zero,
                tax: zero,
                total: zero,
            },
            notes: None,
            sent_at: None,
            decided_at: None,
            created_by: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(document_number("Q", 2026, 123), "Q-2026-000123");
        assert_eq!(document_number("O", 2027, 1_234_567), "O-2027-1234567");
    }

    #[test]
    fn a_quote_is_sent_then_decided() {
        let now = Utc::now();
        let mut q = quote(now.date_naive());
        let e = q.move_to(QuoteStatus::Accepted, now).unwrap_err();
        assert_eq!(e.allowed, [QuoteStatus::Sent]);
        q.move_to(QuoteStatus::Sent, now).unwrap();
        q.move_to(QuoteStatus::Accepted, now).unwrap();
        assert!(q.move_to(QuoteStatus::Rejected, now).is_err());
    }

    #[test]
    fn a_sent_quote_expires_after_its_last_day() {
        let now = Utc::now();
        let mut q = quote(now.date_naive());
        q.move_to(QuoteStatus::Sent, now).unwrap();
        assert_eq!(q.clone().as_of(now).status, QuoteStatus::Sent);
        let tomorrow = now + chrono::Duration::days(1);
        assert_eq!(q.clone().as_of(tomorrow).status, QuoteStatus::Expired);
        let e = q.move_to(QuoteStatus::Accepted, tomorrow).unwrap_err();
        assert_eq!(e.from, QuoteStatus::Expired);
    }
}
