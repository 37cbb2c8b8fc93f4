//! Free-text search terms, shared by what is indexed and what is asked, so the two always
//! agree. The database's own text search (SQLite FTS5, PostgreSQL `tsvector`) stores and
//! matches the terms; this module decides what they are.
//!
//! - Words are lower-cased; a query word matches any indexed word it starts (`acm` finds
//!   `Acme`).
//! - Chinese, Japanese and Korean text has no spaces between words, so it is indexed as every
//!   single character and every pair of neighbours: `张` or `科技` finds `深圳张氏科技有限公司`.
//! - Emails are indexed whole, by local part and by domain; phones by their E.164 digits and
//!   their national digits, so a number typed any way finds its stored form.

use std::collections::BTreeSet;

use crate::email::Email;
use crate::phone::{Phone, Region};

/// The terms a record is found by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchDocument {
    terms: BTreeSet<String>,
}

impl SearchDocument {
    /// Adds the words and CJK n-grams of a name or other text.
    pub fn add_text(&mut self, text: &str) {
        for run in runs(&text.to_lowercase()) {
            match run {
                Run::Word(word) => {
                    self.terms.insert(word);
                }
                Run::Cjk(chars) => {
                    for c in &chars {
                        self.terms.insert(c.to_string());
                    }
                    for pair in chars.windows(2) {
                        self.terms.insert(pair.iter().collect());
                    }
                }
            }
        }
    }

    /// Adds an email whole, its local part, its domain, and the words of its local part.
    pub fn add_email(&mut self, email: &Email) {
        let address = email.as_str();
        self.terms.insert(address.to_owned());
        if let Some((local, domain)) = address.split_once('@') {
            self.terms.insert(local.to_owned());
            self.terms.insert(domain.to_owned());
            self.add_text(local);
        }
    }

    /// Adds a phone's E.164 digits and national digits.
    pub fn add_phone(&mut self, phone: &Phone) {
        self.terms.insert(phone.digits().to_owned());
        self.terms.insert(phone.national_digits().to_owned());
    }

    /// Adds an identifier (a registration number) as one term.
    pub fn add_identifier(&mut self, id: &str) {
        let id = id.to_lowercase();
        if !id.is_empty() {
            self.terms.insert(id);
        }
    }

    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(String::as_str)
    }

    /// The terms separated by spaces (the text handed to SQLite's FTS5).
    pub fn joined(&self) -> String {
        self.terms().collect::<Vec<_>>().join(" ")
    }
}

/// One way a query term matches: exactly, or as the start of an indexed term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub text: String,
    pub prefix: bool,
}

/// One term of a query: it matches when any of its alternatives does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    pub any_of: Vec<Match>,
}

impl QueryTerm {
    fn one(text: impl Into<String>, prefix: bool) -> QueryTerm {
        QueryTerm {
            any_of: vec![Match {
                text: text.into(),
                prefix,
            }],
        }
    }
}

/// A parsed `q`: every term must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: Vec<QueryTerm>,
}

impl SearchQuery {
    /// Reads what a user typed. `None` when it holds nothing to search for.
    pub fn parse(q: &str, region: Region) -> Option<SearchQuery> {
        let q = q.trim();
        let mut terms = Vec::new();
        if let Some(digits) = phone_digits(q) {
            // A whole number matches exactly: its E.164 form in the default region, or the
            // digits as typed (a national number of another region). Only a number too short
            // to be whole is matched as the start of one. Exact terms also let PostgreSQL
            // estimate how few rows match.
            let any_of = match Phone::parse(q, region) {
                Ok(phone) => {
                    let mut exact = vec![Match {
                        text: phone.digits().to_owned(),
                        prefix: false,
                    }];
                    if phone.digits() != digits {
                        exact.push(Match {
                            text: digits,
                            prefix: false,
                        });
                    }
                    exact
                }
                Err(_) => vec![Match {
                    text: digits,
                    prefix: true,
                }],
            };
            terms.push(QueryTerm { any_of });
        } else {
            for chunk in q.split_whitespace() {
                query_chunk(&chunk.to_lowercase(), &mut terms);
            }
        }
        terms.dedup();
        (!terms.is_empty()).then_some(SearchQuery { terms })
    }

    /// The query when it is one word that could be a whole identifier (a registration
    /// number: letters and digits, at least eight, a digit among them), lower-cased.
    pub fn whole_identifier(&self) -> Option<&str> {
        let [term] = self.terms.as_slice() else {
            return None;
        };
        let [only] = term.any_of.as_slice() else {
            return None;
        };
        let text = only.text.as_str();
        (text.len() >= 8
            && text.chars().all(|c| c.is_ascii_alphanumeric())
            && text.chars().any(|c| c.is_ascii_digit()))
        .then_some(text)
    }

    /// Lets the query's single term also match `text` exactly (the keyed hash that an
    /// encrypted identifier is indexed by).
    pub fn or_exact(&mut self, text: String) {
        if let [term] = self.terms.as_mut_slice() {
            term.any_of.push(Match {
                text,
                prefix: false,
            });
        }
    }

    /// As an FTS5 `MATCH` expression: `"acme"* AND "科技" AND ("a" OR "b"*)`.
    pub fn to_fts5(&self) -> String {
        self.render(" AND ", " OR ", |m| {
            let quoted = format!("\"{}\"", m.text.replace('"', "\"\""));
            if m.prefix {
                format!("{quoted}*")
            } else {
                quoted
            }
        })
    }

    /// As a PostgreSQL `tsquery`: `'acme':* & '科技' & ('a' | 'b':*)`.
    pub fn to_tsquery(&self) -> String {
        self.render(" & ", " | ", |m| {
            let quoted = format!("'{}'", m.text.replace('\\', "\\\\").replace('\'', "''"));
            if m.prefix {
                format!("{quoted}:*")
            } else {
                quoted
            }
        })
    }

    fn render(&self, and: &str, or: &str, one: impl Fn(&Match) -> String) -> String {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| match t.any_of.as_slice() {
                [single] => one(single),
                many => format!("({})", many.iter().map(&one).collect::<Vec<_>>().join(or)),
            })
            .collect();
        parts.join(and)
    }
}

/// The digits of `q` when it looks like a phone number: only digits, spaces and `+-().`,
/// with at least five digits.
fn phone_digits(q: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    (q.chars().all(allowed) && digits.len() >= 5).then_some(digits)
}

/// Terms of one whitespace-free chunk of a query.
fn query_chunk(chunk: &str, terms: &mut Vec<QueryTerm>) {
    let trimmed = chunk.trim_matches(|c: char| !c.is_alphanumeric());
    // Emails and dotted names (`li.lei`, `example.cn`) are indexed whole.
    if trimmed.contains('@') || (trimmed.contains('.') && !trimmed.chars().any(is_cjk)) {
        // A whole email address is one exact term; a part of one, the start of one.
        let whole = Email::parse(trimmed).is_ok_and(|e| e.as_str() == trimmed);
        terms.push(QueryTerm::one(trimmed, !whole));
        return;
    }
    for run in runs(trimmed) {
        match run {
            Run::Word(word) => terms.push(QueryTerm::one(word, true)),
            Run::Cjk(chars) if chars.len() == 1 => {
                terms.push(QueryTerm::one(chars[0].to_string(), false))
            }
            Run::Cjk(chars) => {
                for pair in chars.windows(2) {
                    terms.push(QueryTerm::one(pair.iter().collect::<String>(), false));
                }
            }
        }
    }
}

enum Run {
    Word(String),
    Cjk(Vec<char>),
}

/// Splits text into words (letters and digits) and CJK runs; everything else separates.
fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk = Vec::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            cjk.push(c);
        } else {
            if !cjk.is_empty() {
                out.push(Run::Cjk(std::mem::take(&mut cjk)));
            }
            if c.is_alphanumeric() {
                word.push(c);
            } else if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
        }
    }
    if !word.is_empty() {
        out.push(Run::Word(word));
    }
    if !cjk.is_empty() {
        out.push(Run::Cjk(cjk));
    }
    out
}

/// Han, kana and hangul: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F) // CJK extensions B–F, compatibility supplement
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Region {
        Region::parse(code).unwrap()
    }

    fn doc(name: &str) -> SearchDocument {
        let mut d = SearchDocument::default();
        d.add_text(name);
        d
    }

    /// Does `q` match the document the way the database will match it?
    fn finds(d: &SearchDocument, q: &str) -> bool {
        let query = SearchQuery::parse(q, region("CN")).unwrap();
        query.terms.iter().all(|t| {
            t.any_of.iter().any(|m| {
                d.terms().any(|term| {
                    if m.prefix {
                        term.starts_with(&m.text)
                    } else {
                        term == m.text
                    }
                })
            })
        })
    }

    #[test]
    fn chinese_names_are_found_by_any_character_or_pair() {
        let d = doc("深圳张氏科技有限公司");
        assert!(finds(&d, "张"));
        assert!(finds(&d, "科技"));
        assert!(finds(&d, "张氏科技"));
        assert!(finds(&d, "深圳 科技"));
        assert!(!finds(&d, "北京"));
        assert!(!finds(&d, "技科"), "pairs keep their order");
    }

    #[test]
    fn words_match_by_prefix_in_any_case() {
        let d = doc("Acme Robotics GmbH");
        assert!(finds(&d, "acme"));
        assert!(finds(&d, "ROBO"));
        assert!(finds(&d, "acm rob"));
        assert!(!finds(&d, "cme"));
    }

    #[test]
    fn mixed_scripts() {
        let d = doc("ACME科技(深圳)");
        assert!(finds(&d, "acme"));
        assert!(finds(&d, "科技"));
        assert!(finds(&d, "深圳"));
    }

    #[test]
    fn emails_are_found_whole_or_by_part() {
        let mut d = SearchDocument::default();
        d.add_email(&Email::parse("Li.Lei@Example.CN").unwrap());
        assert!(finds(&d, "li.lei@example.cn"));
        assert!(finds(&d, "LI.LEI@"));
        assert!(finds(&d, "example.cn"));
        assert!(finds(&d, "lei"));
        assert!(!finds(&d, "other@example.cn"));
    }

    #[test]
    fn phones_are_found_however_they_are_typed() {
        let mut d = SearchDocument::default();
        d.add_phone(&Phone::parse("138 0013 8000", region("CN")).unwrap());
        for typed in [
            "+86 138 0013 8000",
            "13800138000",
            "138-0013-8000",
            "(138) 0013 8000",
            "1380013",
        ] {
            assert!(finds(&d, typed), "{typed}");
        }
        assert!(!finds(&d, "13900139000"));
        // A national number of another region is found by its digits.
        let mut us = SearchDocument::default();
        us.add_phone(&Phone::parse("+1 415 555 2671", region("US")).unwrap());
        assert!(finds(&us, "(415) 555-2671"));
    }

    #[test]
    fn registration_numbers_are_one_term() {
        let mut d = SearchDocument::default();
        d.add_identifier("91350100M000100Y43");
        assert!(finds(&d, "91350100m000100y43"));
        assert!(finds(&d, "91350100M"));
    }

    #[test]
    fn a_whole_identifier_can_also_match_its_keyed_hash() {
        let mut q = SearchQuery::parse("91350100M000100Y43", region("CN")).unwrap();
        assert_eq!(q.whole_identifier(), Some("91350100m000100y43"));
        q.or_exact("bx00ff".into());
        assert_eq!(q.to_fts5(), r#"("91350100m000100y43"* OR "bx00ff")"#);
        for not_one in ["acme corp", "acme", "科技", "1234567"] {
            let q = SearchQuery::parse(not_one, region("CN")).unwrap();
            assert_eq!(q.whole_identifier(), None, "{not_one}");
        }
    }

    #[test]
    fn queries_render_for_both_databases() {
        let q = SearchQuery::parse("acme 科技 o'neil", region("US")).unwrap();
        assert_eq!(q.to_fts5(), r#""acme"* AND "科技" AND "o"* AND "neil"*"#);
        assert_eq!(q.to_tsquery(), "'acme':* & '科技' & 'o':* & 'neil':*");
        let quote = SearchQuery {
            terms: vec![QueryTerm::one("a'b\"c", false)],
        };
        assert_eq!(quote.to_fts5(), r#""a'b""c""#);
        assert_eq!(quote.to_tsquery(), "'a''b\"c'");
        let phone = SearchQuery::parse("(415) 555-2671", region("US")).unwrap();
        assert_eq!(phone.to_fts5(), r#"("14155552671" OR "4155552671")"#);
        assert_eq!(phone.to_tsquery(), "('14155552671' | '4155552671')");
        let partial = SearchQuery::parse("415 555", region("US")).unwrap();
        assert_eq!(partial.to_tsquery(), "'415555':*");
        let email = SearchQuery::parse("Li.Lei@Example.cn", region("US")).unwrap();
        assert_eq!(email.to_tsquery(), "'li.lei@example.cn'");
        let part = SearchQuery::parse("li.lei@exa", region("US")).unwrap();
        assert_eq!(part.to_tsquery(), "'li.lei@exa':*");
        assert!(SearchQuery::parse("  ", region("US")).is_none());
        assert!(SearchQuery::parse("!!!", region("US")).is_none());
    }
}
