//! Email campaigns: the message each consenting member is sent, and how it is rendered.
//!
//! A campaign's body is text as the marketer typed it (line breaks matter). Each message is
//! sent twice over in one email: a text part (merge values as they are) and an HTML part (the
//! whole text HTML-escaped, line breaks as `<br>`, merge values escaped too). Every `http://`
//! or `https://` link written in the body (never one a merge value brings in) becomes a tracked
//! link, `n` being its index among the body's links; the HTML part also carries an open pixel
//! and both end with the unsubscribe link.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::campaign::{BodyTemplate, MergeField, Segment};

/// The job that creates the messages of an email campaign (`{"campaign_id": "…"}`), keyed
/// `campaigns.send:<campaign_id>`.
pub const SEND_JOB: &str = "campaigns.send";
/// The job that sends one message (`{"message_id": "…"}`), keyed
/// `campaigns.email:<message_id>`.
pub const EMAIL_JOB: &str = "campaigns.email";

crate::string_enum! {
    /// Where a campaign message stands.
    pub enum MessageStatus {
        /// Created, waiting for its turn at the configured rate.
        Queued => "queued",
        /// The SMTP server took it.
        Sent => "sent",
        /// The SMTP server refused it for good (a 5xx reply).
        Bounced => "bounced",
    }
}

/// The email of one member of an email campaign (one per member and campaign), and what
/// became of it. It holds no address: the contact is read when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignMessage {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub member_id: Uuid,
    pub status: MessageStatus,
    pub sent_at: Option<DateTime<Utc>>,
    pub bounced_at: Option<DateTime<Utc>>,
    /// The first open (the pixel loaded, or a link clicked).
    pub opened_at: Option<DateTime<Utc>>,
    pub open_count: i32,
    pub clicked_at: Option<DateTime<Utc>>,
    pub click_count: i32,
    pub unsubscribed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CampaignMessage {
    /// A new message, queued at `now`.
    pub fn new(campaign_id: Uuid, member_id: Uuid, now: DateTime<Utc>) -> Self {
        CampaignMessage {
            id: Uuid::now_v7(),
            campaign_id,
            member_id,
            status: MessageStatus::Queued,
            sent_at: None,
            bounced_at: None,
            opened_at: None,
            open_count: 0,
            clicked_at: None,
            click_count: 0,
            unsubscribed_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// What a campaign's messages came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailCounts {
    pub messages: u64,
    pub queued: u64,
    pub sent: u64,
    pub bounced: u64,
    /// Messages opened at least once.
    pub opened: u64,
    /// Messages with at least one click.
    pub clicked: u64,
    pub unsubscribed: u64,
    /// Every open and every click.
    pub opens: u64,
    pub clicks: u64,
}

impl EmailCounts {
    /// Opened messages per sent message, percent with 1 decimal, as the reports' rates
    /// (`None` before any is sent).
    pub fn open_rate(&self) -> Option<f64> {
        per_sent(self.opened, self.sent)
    }

    /// Clicked messages per sent message, percent with 1 decimal.
    pub fn click_rate(&self) -> Option<f64> {
        per_sent(self.clicked, self.sent)
    }
}

/// `part` per `sent` message, percent with 1 decimal; `None` before any is sent.
pub fn per_sent(part: u64, sent: u64) -> Option<f64> {
    (sent > 0).then(|| crate::report::ratio(i64::try_from(part).unwrap_or(i64::MAX), sent, 100, 1))
}

/// Where a link ends: at white space or at a character that cannot end a link in text.
fn link_end(rest: &str) -> usize {
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
        .unwrap_or(rest.len());
    // Punctuation after a link belongs to the sentence.
    rest[..end]
        .trim_end_matches(['.', ',', ';', ':', '!', '?', ')'])
        .len()
}

/// A piece of a body's text: text, or a link it names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Link(&'a str),
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let start = [rest.find("http://"), rest.find("https://")]
            .into_iter()
            .flatten()
            .min();
        let Some(start) = start else { break };
        let len = link_end(&rest[start..]);
        let scheme = if rest[start..].starts_with("https://") {
            8
        } else {
            7
        };
        if len <= scheme {
            // A scheme with nothing after it is no link.
            out.push(Piece::Text(&rest[..start + scheme]));
            rest = &rest[start + scheme..];
            continue;
        }
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        out.push(Piece::Link(&rest[start..start + len]));
        rest = &rest[start + len..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The links written in a body, in order: the `n`-th is what `click/{n}` redirects to.
pub fn links(body: &BodyTemplate) -> Vec<String> {
    body.segments()
        .iter()
        .filter_map(|s| match s {
            Segment::Text(t) => Some(t),
            Segment::Field(_) => None,
        })
        .flat_map(|t| pieces(t))
        .filter_map(|p| match p {
            Piece::Link(l) => Some(l.to_owned()),
            Piece::Text(_) => None,
        })
        .collect()
}

/// `text` HTML-escaped (for text and attribute values alike).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with its line breaks as `<br>` (the HTML part of a plain text email).
pub fn html_text(text: &str) -> String {
    escape_html(text)
        .replace("\r\n", "\n")
        .replace('\n', "<br>\n")
}

/// The public links of one message.
pub trait Tracking {
    /// Where the `n`-th link of the body goes through.
    fn click_url(&self, n: usize) -> String;
    fn open_url(&self) -> String;
    fn unsubscribe_url(&self) -> String;
}

/// A message's parts, rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub html: String,
}

/// The text and HTML parts of a body: `value` gives each merge field's value (the
/// unsubscribe link is `tracking`'s), links go through `tracking`, the HTML part carries the
/// open pixel, and both end with the unsubscribe link.
pub fn render(
    body: &BodyTemplate,
    tracking: &impl Tracking,
    mut value: impl FnMut(MergeField) -> String,
) -> Rendered {
    let unsubscribe = tracking.unsubscribe_url();
    let mut text = String::new();
    let mut html = String::from("<!DOCTYPE html>\n<html><body>\n<p>");
    let mut n = 0usize;
    for segment in body.segments() {
        match segment {
            Segment::Text(t) => {
                for piece in pieces(t) {
                    match piece {
                        Piece::Text(t) => {
                            text.push_str(t);
                            html.push_str(&html_text(t));
                        }
                        Piece::Link(original) => {
                            let url = tracking.click_url(n);
                            n += 1;
                            text.push_str(&url);
                            html.push_str(&format!(
                                "<a href=\"{}\">{}</a>",
                                escape_html(&url),
                                escape_html(original)
                            ));
                        }
                    }
                }
            }
            Segment::Field(MergeField::UnsubscribeUrl) => {
                text.push_str(&unsubscribe);
                let url = escape_html(&unsubscribe);
                html.push_str(&format!("<a href=\"{url}\">{url}</a>"));
            }
            Segment::Field(f) => {
                let v = value(*f);
                html.push_str(&html_text(&v));
                text.push_str(&v);
            }
        }
    }
    text.push_str(&format!("\n\n--\nUnsubscribe: {unsubscribe}\n"));
    let url = escape_html(&unsubscribe);
    html.push_str(&format!(
        "</p>\n<p><a href=\"{url}\">Unsubscribe</a></p>\n\
         <img src=\"{}\" width=\"1\" height=\"1\" alt=\"\">\n</body></html>\n",
        escape_html(&tracking.open_url())
    ));
    Rendered { text, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Links;

    impl Tracking for Links {
        fn click_url(&self, n: usize) -> String {
            format!("https://t.example/c/{n}")
        }
        fn open_url(&self) -> String {
            "https://t.example/o.gif".into()
        }
        fn unsubscribe_url(&self) -> String {
            "https://t.example/u?a=1&b=2".into()
        }
    }

    fn values(f: MergeField) -> String {
        match f {
            MergeField::ContactFirstName => "<b>Li</b>".into(),
            MergeField::ContactLastName => "O'Neil".into(),
            MergeField::CustomerName => "A & B".into(),
            MergeField::UnsubscribeUrl => unreachable!("the renderer gives it"),
        }
    }

    #[test]
    fn links_are_found_in_the_written_text_only() {
        let body = BodyTemplate::parse(
            "See https://a.example/x?y=1, and (http://b.example/).\n\
             {{contact.first_name}} https:// is no link; \"https://c.example\"",
        )
        .unwrap();
        assert_eq!(
            links(&body),
            [
                "https://a.example/x?y=1",
                "http://b.example/",
                "https://c.example"
            ]
        );
    }

    #[test]
    fn merge_values_are_escaped_in_html_and_plain_in_text() {
        let body = BodyTemplate::parse(
            "Hello {{contact.first_name}} {{contact.last_name}} of {{ customer.name }},\n\
             read https://a.example/news <now>.\nLeave: {{unsubscribe_url}}",
        )
        .unwrap();
        let r = render(&body, &Links, values);
        assert!(
            r.text.contains("Hello <b>Li</b> O'Neil of A & B,"),
            "{}",
            r.text
        );
        assert!(r.text.contains("read https://t.example/c/0 <now>."));
        assert!(!r.text.contains("a.example"));
        assert!(r.text.contains("Leave: https://t.example/u?a=1&b=2"));
        assert!(
            r.html
                .contains("Hello &lt;b&gt;Li&lt;/b&gt; O&#39;Neil of A &amp; B,<br>"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<b>"));
        assert!(r.html.contains(
            "read <a href=\"https://t.example/c/0\">https://a.example/news</a> &lt;now&gt;."
        ));
        assert!(r.html.contains("<img src=\"https://t.example/o.gif\""));
        assert!(r.html.contains("href=\"https://t.example/u?a=1&amp;b=2\""));
    }

    #[test]
    fn a_link_brought_by_a_merge_value_is_not_tracked() {
        let body = BodyTemplate::parse("Hi {{customer.name}} https://a.example").unwrap();
        let r = render(&body, &Links, |_| "https://evil.example".into());
        assert!(
            r.text
                .contains("Hi https://evil.example https://t.example/c/0")
        );
        assert_eq!(links(&body), ["https://a.example"]);
    }

    #[test]
    fn rates_are_per_sent_message() {
        let c = EmailCounts {
            sent: 4,
            opened: 2,
            clicked: 1,
            ..EmailCounts::default()
        };
        assert_eq!(c.open_rate(), Some(50.0));
        assert_eq!(c.click_rate(), Some(25.0));
        assert_eq!(EmailCounts::default().open_rate(), None);
    }
}
