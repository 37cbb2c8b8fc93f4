//! Free-text search terms, shared by what is indexed and what is asked, so the two always
//! agree. The database's own text search (SQLite FTS5, PostgreSQL `tsvector`) stores and
//! matches the terms; this module decides what they are and how well each kind of match
//! ranks.
//!
//! - Words are lower-cased; a query word matches any indexed word it starts (`acm` finds
//!   `Acme`).
//! - Chinese, Japanese and Korean text has no spaces between words, so it is indexed as every
//!   single character and every pair of neighbours: `张` or `科技` finds `深圳张氏科技有限公司`.
//! - Chinese characters are also indexed by pinyin: from each character on, the full pinyin
//!   and the initials of the rest of the name (`zhangshikeji…`, `zskj…`), with the readings
//!   names use of a polyphonic character (`chongqing`, `zhongqing`), so `zhangshi`,
//!   `zhang shi keji` and `szzs` all find it.
//! - A person's names are indexed in both orders without a space too (`王伟`, `伟王`,
//!   `johnsmith`).
//! - Words of four letters or more are indexed by their inner parts (`wind` finds
//!   `Northwind`), and phones by their last digits (`8000`, a 尾号, finds `+8613800138000`).
//! - Emails are indexed whole, by local part and by domain; phones by their E.164 digits and
//!   their national digits, so a number typed any way finds its stored form.
//!
//! Pinyin, inner parts and phone tails are kept apart from the plain terms by a marker (`_p`,
//! `_i`, `_t`) that no typed word can start with, so each kind of match can be asked for, and
//! ranked, on its own.

use std::collections::{BTreeMap, BTreeSet};

use pinyin::ToPinyin;

use crate::email::Email;
use crate::phone::{Phone, Region};

/// Marks a pinyin term: full pinyin or initials from one character of a name on.
const PINYIN: &str = "_p";
/// Marks an inner part of a word: the word from its second letter on, or later.
const INFIX: &str = "_i";
/// Marks a phone's national digits reversed, so that a tail is a prefix.
const TAIL: &str = "_t";
/// Longest pinyin term, in letters: long enough to tell names apart, short enough that the
/// index does not hold every name's whole spelling from every character on.
const PINYIN_LEN: usize = 16;
/// Longest inner-part term, in characters.
const INFIX_LEN: usize = 12;
/// Shortest inner part indexed, and shortest typed word looked up by inner part.
const INFIX_MIN: usize = 3;
/// Shortest phone tail looked up.
const TAIL_MIN: usize = 4;
/// Syllables from a start spelled with every combination of their readings, and indexed on
/// their own.
const PINYIN_WINDOW: usize = 4;
/// Combinations of readings spelled per start.
const MAX_SPELLINGS: usize = 4;

/// How well a record matches a query, best first. A record ranks by the best kind of match
/// through which every word of the query is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rank {
    /// A whole email, phone or registration number.
    Identifier = 0,
    /// Whole words, Chinese characters and pairs.
    Word = 1,
    /// The start of a word.
    Prefix = 2,
    /// Pinyin of a Chinese name.
    Pinyin = 3,
    /// The inside of a word, or the last digits of a phone.
    Fragment = 4,
}

impl Rank {
    pub const ALL: [Rank; 5] = [
        Rank::Identifier,
        Rank::Word,
        Rank::Prefix,
        Rank::Pinyin,
        Rank::Fragment,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(n: u8) -> Option<Rank> {
        Rank::ALL.get(usize::from(n)).copied()
    }
}

/// The terms a record is found by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchDocument {
    terms: BTreeSet<String>,
}

impl SearchDocument {
    /// Adds the words, inner parts, CJK n-grams and pinyin of a name or other text.
    pub fn add_text(&mut self, text: &str) {
        for run in runs(&text.to_lowercase()) {
            match run {
                Run::Word(word) => {
                    self.add_infixes(&word);
                    self.terms.insert(word);
                }
                Run::Cjk(chars) => self.add_cjk(&chars),
            }
        }
    }

    /// Adds running text (an article's body): its words, and its CJK characters and pairs.
    /// No pinyin or inner parts: those find names as users half-remember them, and a long
    /// text would multiply its terms by them.
    pub fn add_prose(&mut self, text: &str) {
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

    /// The terms that tell texts apart, for finding related texts: words of three letters or
    /// more and CJK pairs (single characters and short words are in nearly every text).
    pub fn distinctive_terms(&self) -> Vec<String> {
        self.terms()
            .filter(|t| !t.starts_with('_'))
            .filter(|t| {
                let chars: Vec<char> = t.chars().collect();
                if chars.iter().any(|c| is_cjk(*c)) {
                    chars.len() == 2
                } else {
                    chars.len() >= 3 && !STOP_WORDS.contains(t)
                }
            })
            .map(str::to_owned)
            .collect()
    }

    /// Adds a person's names, and both names together in either order without a space
    /// (`王伟` and `伟王`, `johnsmith` and `smithjohn`).
    pub fn add_person(&mut self, first: &str, last: Option<&str>) {
        self.add_text(first);
        let Some(last) = last else {
            return;
        };
        self.add_text(last);
        let squeeze = |s: &str| -> String { s.split_whitespace().collect() };
        let (first, last) = (squeeze(first), squeeze(last));
        for joined in [format!("{last}{first}"), format!("{first}{last}")] {
            for run in runs(&joined.to_lowercase()) {
                match run {
                    Run::Word(word) => {
                        self.terms.insert(word);
                    }
                    Run::Cjk(chars) => self.add_cjk(&chars),
                }
            }
        }
    }

    /// Adds an email whole, its local part, its domain, the words of its local part and the
    /// inner parts of its domain's names.
    pub fn add_email(&mut self, email: &Email) {
        let address = email.as_str();
        self.terms.insert(address.to_owned());
        if let Some((local, domain)) = address.split_once('@') {
            self.terms.insert(local.to_owned());
            self.terms.insert(domain.to_owned());
            self.add_text(local);
            let labels: Vec<&str> = domain.split('.').collect();
            for label in labels.iter().take(labels.len().saturating_sub(1)) {
                self.add_infixes(label);
            }
        }
    }

    /// Adds a phone's E.164 digits, national digits, and its tail (national digits reversed).
    pub fn add_phone(&mut self, phone: &Phone) {
        self.terms.insert(phone.digits().to_owned());
        self.terms.insert(phone.national_digits().to_owned());
        self.terms.insert(tail_term(phone.national_digits()));
    }

    /// Adds an identifier (a registration number) as one term.
    pub fn add_identifier(&mut self, id: &str) {
        let id = id.to_lowercase();
        if !id.is_empty() {
            self.terms.insert(id);
        }
    }

    /// Single characters, neighbouring pairs, and the pinyin of the Chinese characters.
    fn add_cjk(&mut self, chars: &[char]) {
        for c in chars {
            self.terms.insert(c.to_string());
        }
        for pair in chars.windows(2) {
            self.terms.insert(pair.iter().collect());
        }
        // Kana and hangul have no pinyin: each run of Chinese characters is spelled alone.
        for han in chars.split(|c| c.to_pinyin().is_none()) {
            self.add_pinyin(han);
        }
    }

    /// From each character on: the full pinyin and the initials of the rest, and of its
    /// first one to [`PINYIN_WINDOW`] syllables on their own (`zhang`, `zhangshi`, `zs`, `zsk`).
    /// Whole syllables and initials, as users type them, then match a term exactly, which
    /// the index reads lazily however many names share it (`gongsi`); only a cut syllable
    /// (`gongs`) needs a prefix match. The first syllables from there are spelled with every
    /// combination of their common readings (up to [`MAX_SPELLINGS`]), the rest with the
    /// most common one: what a user types starts somewhere in the name and rarely runs
    /// longer than that.
    fn add_pinyin(&mut self, han: &[char]) {
        let readings: Vec<Vec<&'static str>> = han.iter().map(|c| readings_of(*c)).collect();
        for start in 0..readings.len() {
            let end = (start + PINYIN_WINDOW).min(readings.len());
            let rest = readings[end..].iter().map(|r| r[0]);
            for head in spellings(&readings[start..end]) {
                let spelling: Vec<&str> = head.into_iter().chain(rest.clone()).collect();
                let initials: String = spelling.iter().filter_map(|s| s.chars().next()).collect();
                let mut texts = vec![spelling.concat(), initials.clone()];
                for syllables in 1..=spelling.len().min(PINYIN_WINDOW) {
                    texts.push(spelling[..syllables].concat());
                    if syllables >= 2 {
                        texts.push(initials[..syllables].to_owned());
                    }
                }
                for text in texts {
                    self.terms
                        .insert(format!("{PINYIN}{}", truncate(&text, PINYIN_LEN)));
                }
            }
        }
    }

    /// Adds the parts of a word from its second character on, of at least three characters.
    fn add_infixes(&mut self, word: &str) {
        if word.chars().all(|c| c.is_ascii_digit()) {
            return;
        }
        let starts: Vec<usize> = word.char_indices().map(|(i, _)| i).collect();
        let len = starts.len();
        for (n, start) in starts.iter().enumerate().skip(1) {
            if len - n < INFIX_MIN {
                break;
            }
            self.terms
                .insert(format!("{INFIX}{}", truncate(&word[*start..], INFIX_LEN)));
        }
    }

    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(String::as_str)
    }

    /// The terms separated by spaces (the text handed to SQLite's FTS5).
    pub fn joined(&self) -> String {
        self.terms().collect::<Vec<_>>().join(" ")
    }

    /// How well this document matches `query`, as the database will match it; `None` when
    /// it does not.
    pub fn rank(&self, query: &SearchQuery) -> Option<Rank> {
        let finds = |m: &Match| self.terms().any(|term| m.finds(term));
        query
            .terms
            .iter()
            .map(|t| t.any_of.iter().filter(|m| finds(m)).map(|m| m.rank).min())
            .try_fold(Rank::Identifier, |worst, best| best.map(|b| worst.max(b)))
    }
}

/// English words too common to relate two texts.
const STOP_WORDS: &[&str] = &[
    "and", "are", "but", "can", "for", "from", "had", "has", "have", "how", "not", "our", "the",
    "this", "that", "was", "were", "what", "when", "which", "with", "you", "your",
];

/// The pinyin of the Chinese characters in `text`, each by its most common reading, without
/// tones or spaces (`张氏` → `zhangshi`); other characters are left out.
pub fn spell(text: &str) -> String {
    text.chars()
        .filter_map(|c| c.to_pinyin())
        .map(|p| p.plain())
        .collect()
}

/// The readings of a Chinese character: the most common first, then, for a character of
/// [`POLYPHONES`], the others that names use.
fn readings_of(c: char) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = c.to_pinyin().map(|p| p.plain()).into_iter().collect();
    if let Ok(i) = POLYPHONES.binary_search_by_key(&c, |(ch, _)| *ch) {
        for reading in POLYPHONES[i].1 {
            if !out.contains(reading) {
                out.push(reading);
            }
        }
    }
    out
}

/// Characters read more than one way in the names of companies, places and people (重庆
/// chongqing, 银行 yinhang, 曾 zeng, 单 shan), with the readings those names use, sorted by
/// character. A dictionary lists other readings for many more characters (限 wen, 有 wei),
/// but hardly any name uses them; indexing them all would triple the pinyin terms.
const POLYPHONES: &[(char, &[&str])] = &[
    ('乐', &["le", "yue"]),
    ('乘', &["cheng", "sheng"]),
    ('仇', &["chou", "qiu"]),
    ('会', &["hui", "kuai"]),
    ('传', &["chuan", "zhuan"]),
    ('便', &["bian", "pian"]),
    ('六', &["liu", "lu"]),
    ('区', &["qu", "ou"]),
    ('单', &["dan", "shan", "chan"]),
    ('厦', &["xia", "sha"]),
    ('参', &["can", "shen"]),
    ('召', &["zhao", "shao"]),
    ('合', &["he", "ge"]),
    ('员', &["yuan", "yun"]),
    ('地', &["di", "de"]),
    ('大', &["da", "dai"]),
    ('尉', &["wei", "yu"]),
    ('差', &["cha", "chai"]),
    ('广', &["guang", "an"]),
    ('强', &["qiang", "jiang"]),
    ('晟', &["sheng", "cheng"]),
    ('曾', &["zeng", "ceng"]),
    ('朝', &["chao", "zhao"]),
    ('朴', &["piao", "pu", "po"]),
    ('柏', &["bai", "bo"]),
    ('查', &["cha", "zha"]),
    ('校', &["xiao", "jiao"]),
    ('番', &["fan", "pan"]),
    ('盛', &["sheng", "cheng"]),
    ('省', &["sheng", "xing"]),
    ('石', &["shi", "dan"]),
    ('种', &["zhong", "chong"]),
    ('秘', &["mi", "bi"]),
    ('系', &["xi", "ji"]),
    ('缪', &["miao", "mou", "miu"]),
    ('翟', &["zhai", "di"]),
    ('莞', &["guan", "wan"]),
    ('薄', &["bo", "bao"]),
    ('藏', &["cang", "zang"]),
    ('蚌', &["bang", "beng"]),
    ('行', &["xing", "hang"]),
    ('覃', &["qin", "tan"]),
    ('角', &["jiao", "jue"]),
    ('解', &["jie", "xie"]),
    ('调', &["diao", "tiao"]),
    ('贾', &["jia", "gu"]),
    ('还', &["hai", "huan"]),
    ('都', &["du", "dou"]),
    ('重', &["zhong", "chong"]),
    ('長', &["chang", "zhang"]),
    ('长', &["chang", "zhang"]),
    ('阿', &["a", "e"]),
];

/// The ways a few characters can be read: every combination of their readings, the most
/// common first; once [`MAX_SPELLINGS`] would be passed, the remaining characters keep
/// their most common reading.
fn spellings(readings: &[Vec<&'static str>]) -> Vec<Vec<&'static str>> {
    let mut all: Vec<Vec<&'static str>> = vec![Vec::new()];
    for choices in readings {
        let choices = if all.len() * choices.len() <= MAX_SPELLINGS {
            choices.as_slice()
        } else {
            &choices[..1]
        };
        all = all
            .iter()
            .flat_map(|prefix| {
                choices.iter().map(move |c| {
                    let mut next = prefix.clone();
                    next.push(*c);
                    next
                })
            })
            .collect();
    }
    all
}

/// At most `max` characters of `text`.
fn truncate(text: &str, max: usize) -> &str {
    text.char_indices()
        .nth(max)
        .map_or(text, |(i, _)| &text[..i])
}

/// The tail term of a number: its digits reversed, so that any tail is a prefix of it.
fn tail_term(digits: &str) -> String {
    format!("{TAIL}{}", digits.chars().rev().collect::<String>())
}

/// One way a query term matches: exactly, or as the start of an indexed term; and how well
/// a record found this way ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub text: String,
    pub prefix: bool,
    pub rank: Rank,
}

impl Match {
    /// Whether it finds the indexed term `term`.
    fn finds(&self, term: &str) -> bool {
        if self.prefix {
            term.starts_with(&self.text)
        } else {
            term == self.text
        }
    }

    fn new(text: impl Into<String>, prefix: bool, rank: Rank) -> Match {
        Match {
            text: text.into(),
            prefix,
            rank,
        }
    }
}

/// One term of a query: it matches when any of its alternatives does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    pub any_of: Vec<Match>,
}

/// A parsed `q`: every term must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: Vec<QueryTerm>,
}

/// The records of one rank: those that match `matching` and not `excluding` (the query cut
/// to the ranks above).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub rank: Rank,
    pub matching: SearchQuery,
    pub excluding: Option<SearchQuery>,
}

impl Tier {
    /// As an FTS5 `MATCH` expression.
    pub fn to_fts5(&self) -> String {
        match &self.excluding {
            Some(ex) => format!("({}) NOT ({})", self.matching.to_fts5(), ex.to_fts5()),
            None => self.matching.to_fts5(),
        }
    }

    /// As a PostgreSQL `tsquery`.
    pub fn to_tsquery(&self) -> String {
        match &self.excluding {
            Some(ex) => format!("({}) & !({})", self.matching.to_tsquery(), ex.to_tsquery()),
            None => self.matching.to_tsquery(),
        }
    }
}

impl SearchQuery {
    /// Reads what a user typed. `None` when it holds nothing to search for.
    pub fn parse(q: &str, region: Region) -> Option<SearchQuery> {
        let q = q.trim();
        let mut terms = Vec::new();
        if let Some(digits) = phone_digits(q) {
            // A whole number matches exactly: its E.164 form in the default region, or the
            // digits as typed (a national number of another region). Exact terms also let
            // PostgreSQL estimate how few rows match. A number too short to be whole is
            // matched as the start of one, or as the tail (尾号) of one.
            let any_of = match Phone::parse(q, region) {
                Ok(phone) => {
                    let mut exact = vec![Match::new(phone.digits(), false, Rank::Identifier)];
                    if phone.digits() != digits {
                        exact.push(Match::new(digits.clone(), false, Rank::Identifier));
                    }
                    exact
                }
                Err(_) => vec![
                    Match::new(digits.clone(), true, Rank::Prefix),
                    Match::new(tail_term(&digits), true, Rank::Fragment),
                ],
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

    /// Texts holding any of `terms` exactly: what finds texts related to another one (its
    /// [`SearchDocument::distinctive_terms`]), not what a user typed. `None` without terms.
    pub fn any_of(terms: &[String]) -> Option<SearchQuery> {
        let any_of: Vec<Match> = terms
            .iter()
            .map(|t| Match::new(t.as_str(), false, Rank::Word))
            .collect();
        (!any_of.is_empty()).then(|| SearchQuery {
            terms: vec![QueryTerm { any_of }],
        })
    }

    /// The query when it is one word that could be a whole identifier (a registration
    /// number: letters and digits, at least eight, a digit among them), lower-cased.
    pub fn whole_identifier(&self) -> Option<&str> {
        let [term] = self.terms.as_slice() else {
            return None;
        };
        let word = term.any_of.iter().find(|m| m.rank == Rank::Word)?;
        let text = word.text.as_str();
        (text.len() >= 8
            && text.chars().all(|c| c.is_ascii_alphanumeric())
            && text.chars().any(|c| c.is_ascii_digit()))
        .then_some(text)
    }

    /// Lets the query's single term also match `text` exactly, as an identifier (the keyed
    /// hash that an encrypted identifier is indexed by).
    pub fn or_exact(&mut self, text: String) {
        if let [term] = self.terms.as_mut_slice() {
            term.any_of.push(Match::new(text, false, Rank::Identifier));
        }
    }

    /// The query cut to the alternatives that rank `rank` or better; `None` when a term has
    /// none.
    fn up_to(&self, rank: Rank) -> Option<SearchQuery> {
        let terms = self
            .terms
            .iter()
            .map(|t| {
                let any_of: Vec<Match> = t
                    .any_of
                    .iter()
                    .filter(|m| m.rank <= rank)
                    .cloned()
                    .collect();
                (!any_of.is_empty()).then_some(QueryTerm { any_of })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(SearchQuery { terms })
    }

    /// The query split by rank, best first, from `from` on: each record matching the query
    /// is in exactly one tier. Ranks that nothing could match are left out.
    pub fn tiers(&self, from: Rank) -> Vec<Tier> {
        let mut tiers = Vec::new();
        let mut above: Option<SearchQuery> = None;
        for rank in Rank::ALL {
            let Some(matching) = self.up_to(rank) else {
                continue;
            };
            if above.as_ref() == Some(&matching) {
                continue;
            }
            if rank >= from {
                tiers.push(Tier {
                    rank,
                    matching: matching.beyond(above.as_ref()),
                    excluding: above.clone(),
                });
            }
            above = Some(matching);
        }
        tiers
    }

    /// A one-word query without the alternatives `above` asks for: a record matching those
    /// is excluded from the tier anyway, and leaving them out spares the index a walk through
    /// all their matches only to exclude each (`"grou"*` in the pinyin tier of `grou`). With
    /// several words a record may match one word through `above` and another only here, so
    /// the query stays whole.
    fn beyond(&self, above: Option<&SearchQuery>) -> SearchQuery {
        match (self.terms.as_slice(), above.map(|a| a.terms.as_slice())) {
            ([term], Some([asked])) => SearchQuery {
                terms: vec![QueryTerm {
                    any_of: term
                        .any_of
                        .iter()
                        .filter(|m| !asked.any_of.contains(m))
                        .cloned()
                        .collect(),
                }],
            },
            _ => self.clone(),
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

    /// Joins the terms with `and` and each term's alternatives with `or`; an exact
    /// alternative is left out where the same text is also asked for as a prefix.
    fn render(&self, and: &str, or: &str, one: impl Fn(&Match) -> String) -> String {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let mut seen = BTreeSet::new();
                let needed: Vec<String> = t
                    .any_of
                    .iter()
                    .filter(|m| m.prefix || !t.any_of.iter().any(|p| p.prefix && p.text == m.text))
                    .filter(|m| seen.insert((m.text.as_str(), m.prefix)))
                    .map(&one)
                    .collect();
                match needed.as_slice() {
                    [single] => single.clone(),
                    many => format!("({})", many.join(or)),
                }
            })
            .collect();
        parts.join(and)
    }
}

/// How common the most common indexed terms are: the share of records holding each
/// (PostgreSQL keeps it in its statistics of the index). A search reads a rank's matches by
/// walking the newest entries when they are dense, and through the index when they are few;
/// this tells which.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermShares {
    shares: BTreeMap<String, f64>,
    /// How many records the shares are of.
    records: f64,
}

impl TermShares {
    pub fn new(shares: impl IntoIterator<Item = (String, f64)>, records: f64) -> TermShares {
        TermShares {
            shares: shares.into_iter().collect(),
            records,
        }
    }

    /// How many records the shares are of.
    pub fn records(&self) -> f64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }

    /// About what share of records fall in `tier`. For one word, the common terms that the
    /// ranks above ask for are left out (`harbour` itself from the prefix rank of
    /// `harbour`); with several words a record may match one word above and another only
    /// here, so the tier counts as its whole query.
    pub fn of_tier(&self, tier: &Tier) -> f64 {
        let excluded = tier.excluding.as_ref().map(|e| e.terms.as_slice());
        let ([term], Some([above])) = (tier.matching.terms.as_slice(), excluded) else {
            return self.of(&tier.matching);
        };
        let mut seen = BTreeSet::new();
        term.any_of
            .iter()
            .flat_map(|m| self.matched(m))
            .filter(|(t, _)| !above.any_of.iter().any(|m| m.finds(t)) && seen.insert(*t))
            .fold(0.0, |sum, (_, share)| sum + share)
    }

    /// About what share of records match `query`: a word's alternatives add up, the query's
    /// words hold together no more often than the rarest. A term that is not among the
    /// common ones counts as none: it is rarer than any of them.
    pub fn of(&self, query: &SearchQuery) -> f64 {
        query
            .terms
            .iter()
            .map(|t| {
                // Not `sum()`: an empty one is -0.0.
                t.any_of
                    .iter()
                    .flat_map(|m| self.matched(m))
                    .fold(0.0, |sum, (_, share)| sum + share)
            })
            .fold(1.0, f64::min)
    }

    /// The common terms `m` finds, with their shares.
    fn matched<'a>(&'a self, m: &'a Match) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        use std::ops::Bound;
        self.shares
            .range::<str, _>((Bound::Included(m.text.as_str()), Bound::Unbounded))
            .take_while(move |(term, _)| m.finds(term))
            .map(|(term, share)| (term.as_str(), *share))
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
        let rank = if whole {
            Rank::Identifier
        } else {
            Rank::Prefix
        };
        terms.push(QueryTerm {
            any_of: vec![Match::new(trimmed, !whole, rank)],
        });
        return;
    }
    for run in runs(trimmed) {
        match run {
            Run::Word(word) => terms.push(word_term(word)),
            Run::Cjk(chars) if chars.len() == 1 => terms.push(QueryTerm {
                any_of: vec![Match::new(chars[0].to_string(), false, Rank::Word)],
            }),
            Run::Cjk(chars) => {
                for pair in chars.windows(2) {
                    terms.push(QueryTerm {
                        any_of: vec![Match::new(
                            pair.iter().collect::<String>(),
                            false,
                            Rank::Word,
                        )],
                    });
                }
            }
        }
    }
}

/// A typed word: whole, as a start, as pinyin (letters only), as the inside of a word (three
/// characters or more) and as a phone's tail (four digits or more).
fn word_term(word: String) -> QueryTerm {
    let chars = word.chars().count();
    let digits = word.chars().all(|c| c.is_ascii_digit());
    let mut any_of = vec![
        Match::new(word.clone(), false, Rank::Word),
        Match::new(word.clone(), true, Rank::Prefix),
    ];
    if chars >= 2 && word.chars().all(|c| c.is_ascii_lowercase()) {
        // Whole syllables or initials match exactly; a cut one only as a prefix, ranked
        // with the fragments (a prefix shared by most names costs the most to look up).
        if chars <= PINYIN_LEN {
            any_of.push(Match::new(format!("{PINYIN}{word}"), false, Rank::Pinyin));
        }
        let text = format!("{PINYIN}{}", truncate(&word, PINYIN_LEN));
        any_of.push(Match::new(text, true, Rank::Fragment));
    }
    if chars >= INFIX_MIN && !digits {
        let text = format!("{INFIX}{}", truncate(&word, INFIX_LEN));
        any_of.push(Match::new(text, true, Rank::Fragment));
    }
    if chars >= TAIL_MIN && digits {
        any_of.push(Match::new(tail_term(&word), true, Rank::Fragment));
    }
    QueryTerm { any_of }
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

    /// How well `q` matches the document, the way the database will match it.
    fn rank(d: &SearchDocument, q: &str) -> Option<Rank> {
        d.rank(&SearchQuery::parse(q, region("CN")).unwrap())
    }

    fn finds(d: &SearchDocument, q: &str) -> bool {
        rank(d, q).is_some()
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
        assert!(!finds(&d, "bmh"));
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
        assert_eq!(
            q.to_fts5(),
            r#"("91350100m000100y43"* OR "_i91350100m000"* OR "bx00ff")"#
        );
        for not_one in ["acme corp", "acme", "科技", "1234567"] {
            let q = SearchQuery::parse(not_one, region("CN")).unwrap();
            assert_eq!(q.whole_identifier(), None, "{not_one}");
        }
    }

    #[test]
    fn queries_render_for_both_databases() {
        let q = SearchQuery::parse("acme 科技 o'neil", region("US")).unwrap();
        let prefixes = q.up_to(Rank::Prefix).unwrap();
        assert_eq!(
            prefixes.to_fts5(),
            r#""acme"* AND "科技" AND "o"* AND "neil"*"#
        );
        assert_eq!(
            prefixes.to_tsquery(),
            "'acme':* & '科技' & 'o':* & 'neil':*"
        );
        assert_eq!(
            q.to_tsquery(),
            "('acme':* | '_pacme':* | '_iacme':*) & '科技' & 'o':* & ('neil':* | '_pneil':* | '_ineil':*)"
        );
        let quote = SearchQuery {
            terms: vec![QueryTerm {
                any_of: vec![Match::new("a'b\"c", false, Rank::Word)],
            }],
        };
        assert_eq!(quote.to_fts5(), r#""a'b""c""#);
        assert_eq!(quote.to_tsquery(), "'a''b\"c'");
        let phone = SearchQuery::parse("(415) 555-2671", region("US")).unwrap();
        assert_eq!(phone.to_fts5(), r#"("14155552671" OR "4155552671")"#);
        assert_eq!(phone.to_tsquery(), "('14155552671' | '4155552671')");
        let partial = SearchQuery::parse("415 555", region("US")).unwrap();
        assert_eq!(partial.to_tsquery(), "('415555':* | '_t555514':*)");
        let email = SearchQuery::parse("Li.Lei@Example.cn", region("US")).unwrap();
        assert_eq!(email.to_tsquery(), "'li.lei@example.cn'");
        let part = SearchQuery::parse("li.lei@exa", region("US")).unwrap();
        assert_eq!(part.to_tsquery(), "'li.lei@exa':*");
        assert!(SearchQuery::parse("  ", region("US")).is_none());
        assert!(SearchQuery::parse("!!!", region("US")).is_none());
    }

    #[test]
    fn chinese_names_are_found_by_pinyin_and_initials() {
        let d = doc("深圳张氏科技有限公司");
        for typed in [
            "shenzhen",
            "zhangshi",
            "zhang shi keji",
            "zskj",
            "szzs",
            "sz zhang",
            "深圳zhang",
            "ZhangShi",
            "keji",
        ] {
            assert_eq!(rank(&d, typed), Some(Rank::Pinyin), "{typed}");
        }
        // A cut syllable, or more syllables than are indexed on their own, by prefix.
        for typed in ["zhangsh", "shenzhenzhangshikeji"] {
            assert_eq!(rank(&d, typed), Some(Rank::Fragment), "{typed}");
        }
        assert!(!finds(&d, "beijing"));
        assert!(!finds(&d, "zhangsan"));
        assert!(!finds(&d, "bjzs"));
    }

    #[test]
    fn polyphones_are_sorted_for_lookup() {
        assert!(POLYPHONES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn spelling_uses_the_most_common_reading() {
        assert_eq!(spell("深圳张氏 Ltd"), "shenzhenzhangshi");
    }

    #[test]
    fn polyphonic_characters_are_found_by_their_common_readings() {
        // 重 reads zhong (heavy) or chong (again); 行 hang (firm) or xing (go).
        let d = doc("重庆银行");
        for typed in ["chongqing", "zhongqing", "yinhang", "yinxing", "cqyh"] {
            assert!(finds(&d, typed), "{typed}");
        }
        let surname = doc("单伟");
        assert!(finds(&surname, "shanwei") && finds(&surname, "danwei"));
    }

    #[test]
    fn names_are_found_in_either_order_without_a_space() {
        let mut d = SearchDocument::default();
        d.add_person("伟", Some("王"));
        d.add_person("John", Some("Smith"));
        for typed in [
            "王伟",
            "伟王",
            "王 伟",
            "wangwei",
            "weiwang",
            "johnsmith",
            "smithjohn",
            "smith john",
        ] {
            assert!(finds(&d, typed), "{typed}");
        }
        assert!(!finds(&d, "王五"));
    }

    #[test]
    fn inner_parts_of_words_and_email_domains_are_found() {
        let d = doc("Northwind Traders");
        assert_eq!(rank(&d, "wind"), Some(Rank::Fragment));
        assert_eq!(rank(&d, "rade"), Some(Rank::Fragment));
        assert!(
            !finds(&d, "wi"),
            "two letters are too few for an inside match"
        );
        assert!(!finds(&d, "windy"));
        let mut e = SearchDocument::default();
        e.add_email(&Email::parse("sales@northwind.com").unwrap());
        assert_eq!(rank(&e, "wind"), Some(Rank::Fragment));
        assert_eq!(rank(&e, "ales"), Some(Rank::Fragment));
    }

    #[test]
    fn phones_are_found_by_their_last_digits() {
        let mut d = SearchDocument::default();
        d.add_phone(&Phone::parse("138 0013 8000", region("CN")).unwrap());
        assert_eq!(rank(&d, "8000"), Some(Rank::Fragment));
        assert_eq!(rank(&d, "138000"), Some(Rank::Fragment));
        assert_eq!(rank(&d, "0013 8000"), Some(Rank::Fragment));
        assert_eq!(rank(&d, "13800138000"), Some(Rank::Identifier));
        // A whole number is looked up whole only: one exact term, one query.
        let whole = SearchQuery::parse("13800138000", region("CN")).unwrap();
        assert_eq!(whole.tiers(Rank::Identifier).len(), 1);
        assert!(!finds(&d, "800"), "three digits are too few");
        assert!(!finds(&d, "9000"));
    }

    #[test]
    fn ranks_run_from_identifiers_to_fragments() {
        let mut d = SearchDocument::default();
        d.add_text("Acme 深圳张氏");
        d.add_email(&Email::parse("info@acme.cn").unwrap());
        assert_eq!(rank(&d, "info@acme.cn"), Some(Rank::Identifier));
        assert_eq!(rank(&d, "acme"), Some(Rank::Word));
        assert_eq!(rank(&d, "深圳"), Some(Rank::Word));
        assert_eq!(rank(&d, "acm"), Some(Rank::Prefix));
        assert_eq!(rank(&d, "zhang"), Some(Rank::Pinyin));
        assert_eq!(rank(&d, "cme"), Some(Rank::Fragment));
        // A record ranks by its worst word.
        assert_eq!(rank(&d, "acme zhang"), Some(Rank::Pinyin));
    }

    #[test]
    fn tiers_split_the_query_without_overlap() {
        let q = SearchQuery::parse("wind", region("US")).unwrap();
        let tiers = q.tiers(Rank::Identifier);
        let ranks: Vec<Rank> = tiers.iter().map(|t| t.rank).collect();
        assert_eq!(
            ranks,
            [Rank::Word, Rank::Prefix, Rank::Pinyin, Rank::Fragment]
        );
        assert_eq!(tiers[0].to_fts5(), r#""wind""#);
        assert_eq!(tiers[1].to_fts5(), r#"("wind"*) NOT ("wind")"#);
        assert_eq!(
            tiers[3].to_tsquery(),
            "(('_pwind':* | '_iwind':*)) & !(('wind':* | '_pwind'))"
        );
        // Several words keep every alternative: `acme` may match as a word, `zhang` as pinyin.
        let two = SearchQuery::parse("acme zhang", region("US")).unwrap();
        let pinyin = two.tiers(Rank::Pinyin);
        assert_eq!(pinyin[0].matching, two.up_to(Rank::Pinyin).unwrap());
        assert_eq!(q.tiers(Rank::Pinyin).len(), 2);
        // A document falls in the tier of its rank and in no other.
        let d = doc("Northwind");
        for tier in &tiers {
            let inside = d.rank(&tier.matching).is_some()
                && tier
                    .excluding
                    .as_ref()
                    .is_none_or(|ex| d.rank(ex).is_none());
            assert_eq!(inside, tier.rank == Rank::Fragment, "{:?}", tier.rank);
        }
    }

    #[test]
    fn term_shares_estimate_what_share_of_records_a_query_matches() {
        let shares = TermShares::new(
            [
                ("wind".to_owned(), 0.01),
                ("windows".to_owned(), 0.02),
                ("_iwind".to_owned(), 0.03),
                ("科技".to_owned(), 0.2),
                ("深圳".to_owned(), 0.05),
            ],
            1_000.0,
        );
        let q = |text: &str| SearchQuery::parse(text, region("CN")).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // A prefix adds up the common terms it starts; an exact word is its own share.
        let tiers = q("wind").tiers(Rank::Identifier);
        assert!(close(shares.of(&tiers[0].matching), 0.01));
        assert!(close(shares.of(&tiers[1].matching), 0.03));
        assert!(close(shares.of(&tiers[3].matching), 0.03));
        // Words that must all match hold together no more often than the rarest (`圳科` is
        // not common).
        assert!(close(shares.of(&q("深圳 科技")), 0.05));
        assert!(close(shares.of(&q("深圳科技")), 0.0));
        // A rank leaves out what the ranks above ask for: `wind` itself from its prefix
        // rank, `wind`'s starts from its inner parts.
        assert!(close(shares.of_tier(&tiers[1]), 0.02));
        assert!(close(shares.of_tier(&tiers[3]), 0.03));
        // A term that is not among the common ones is rarer than all of them.
        assert!(close(shares.of(&q("8000")), 0.0));
        assert!(close(TermShares::default().of(&q("科技")), 0.0));
        // No common term is none at all, not less (a page over -0.0 is -inf entries).
        assert!(shares.of(&q("8000")).is_sign_positive());
        assert!(
            shares
                .of_tier(&q("8000").tiers(Rank::Identifier)[0])
                .is_sign_positive()
        );
    }
}
