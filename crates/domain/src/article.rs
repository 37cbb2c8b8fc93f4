//! The knowledge base: solutions, FAQs, success cases, playbooks and policies, written in
//! Markdown, moved `draft → published → archived`, versioned once published, filed in a
//! tree of categories, found by search and suggested for tickets.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::markdown::Markdown;
use crate::name::{Name, Title};
use crate::search::{SearchDocument, spell};
use crate::tag::Tag;
use crate::validation::Invalid;

crate::string_enum! {
    /// What an article is.
    pub enum ArticleKind {
        Solution => "solution",
        Faq => "faq",
        SuccessCase => "success_case",
        Playbook => "playbook",
        Policy => "policy",
    }
}

crate::string_enum! {
    /// Who may read a published article: staff only, or anyone (the help center).
    pub enum Audience {
        Internal => "internal",
        Public => "public",
    }
}

crate::string_enum! {
    /// Where an article stands. Only `published` articles are read beyond their writers.
    pub enum ArticleStatus {
        Draft => "draft",
        Published => "published",
        Archived => "archived",
    }
}

impl ArticleStatus {
    /// The statuses an article may move to from this one.
    pub fn allowed_next(self) -> &'static [ArticleStatus] {
        use ArticleStatus::*;
        match self {
            Draft => &[Published],
            Published => &[Archived],
            Archived => &[Published],
        }
    }
}

/// A status move the workflow refuses, with the moves it allows from there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an article cannot move from {from} to {to}")]
pub struct ArticleMoveError {
    pub from: ArticleStatus,
    pub to: ArticleStatus,
    pub allowed: Vec<ArticleStatus>,
}

/// The last part of an article's public address: lower-case ASCII letters and digits joined
/// by single hyphens, 1 to [`Slug::MAX`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub const MAX: usize = 100;

    /// # Errors
    /// `Required` when empty, `TooLong` past [`Slug::MAX`], `InvalidSlug` otherwise.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        if input.is_empty() {
            return Err(Invalid::Required);
        }
        if input.len() > Self::MAX {
            return Err(Invalid::TooLong { max: Self::MAX });
        }
        let valid = input.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if valid {
            Ok(Slug(input.to_owned()))
        } else {
            Err(Invalid::InvalidSlug)
        }
    }

    /// A slug made from a title: its words lower-cased, Chinese characters spelled in pinyin
    /// (`打印机卡纸` → `dayinjikazhi`), other characters dropped; `article` when nothing is
    /// left.
    pub fn from_title(title: &str) -> Slug {
        let mut words: Vec<String> = Vec::new();
        let mut word = String::new();
        for c in title.chars() {
            if c.is_ascii_alphanumeric() {
                word.push(c.to_ascii_lowercase());
                continue;
            }
            let pinyin = spell(&c.to_string());
            if pinyin.is_empty() {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            } else {
                word.push_str(&pinyin);
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        let mut slug = String::new();
        for w in words {
            let sep = usize::from(!slug.is_empty());
            if slug.len() + sep + w.len() > Self::MAX {
                break;
            }
            if sep == 1 {
                slug.push('-');
            }
            slug.push_str(&w);
        }
        if slug.is_empty() {
            slug.push_str("article");
        }
        Slug(slug)
    }

    /// This slug with `-n` at its end, cut to fit: the next candidate when it is taken.
    pub fn numbered(&self, n: u32) -> Slug {
        let suffix = format!("-{n}");
        let keep = Self::MAX - suffix.len();
        let base = self.0[..self.0.len().min(keep)].trim_end_matches('-');
        Slug(format!("{base}{suffix}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language tag: a 2 or 3 letter language, then optional subtags (`en`, `zh-CN`,
/// `zh-Hant-TW`). Kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    /// # Errors
    /// `InvalidLanguage` when it is not such a tag.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let mut parts = input.split('-');
        let primary = parts.next().unwrap_or_default();
        let primary_ok =
            (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
        let rest_ok = parts
            .all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if primary_ok && rest_ok {
            Ok(Language(input.to_owned()))
        } else {
            Err(Invalid::InvalidLanguage)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category's name.
pub type CategoryName = Name<100>;

/// A node of the category tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleCategory {
    pub id: Uuid,
    pub name: CategoryName,
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// Would making `parent` the parent of `category` close a loop? `parent_of` answers each
/// category's parent, walking up from `parent`.
pub fn would_loop(category: Uuid, parent: Uuid, parent_of: impl Fn(Uuid) -> Option<Uuid>) -> bool {
    let mut seen = BTreeSet::new();
    let mut at = Some(parent);
    while let Some(node) = at {
        if node == category || !seen.insert(node) {
            return true;
        }
        at = parent_of(node);
    }
    false
}

/// A knowledge-base article.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: Uuid,
    pub slug: Slug,
    pub title: Title,
    pub body: Markdown,
    pub kind: ArticleKind,
    pub category_id: Option<Uuid>,
    pub tags: Vec<Tag>,
    pub language: Language,
    pub audience: Audience,
    pub status: ArticleStatus,
    /// The customer a success case tells of.
    pub customer_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub reviewer_id: Option<Uuid>,
    /// The number of its latest published version; 0 until it is first published.
    pub revision: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// One published version of an article's text, kept when a later edit replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleVersion {
    pub article_id: Uuid,
    pub number: i32,
    pub title: Title,
    pub body: Markdown,
    /// Who published this text.
    pub editor_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Article {
    /// Moves to `to` at `now`. Publishing stamps `published_at` (the first time) and clears
    /// `archived_at`; archiving stamps `archived_at`.
    ///
    /// # Errors
    /// [`ArticleMoveError`] with the moves allowed from the current status.
    pub fn move_to(
        &mut self,
        to: ArticleStatus,
        now: DateTime<Utc>,
    ) -> Result<(), ArticleMoveError> {
        let allowed = self.status.allowed_next();
        if !allowed.contains(&to) {
            return Err(ArticleMoveError {
                from: self.status,
                to,
                allowed: allowed.to_vec(),
            });
        }
        match to {
            ArticleStatus::Published => {
                self.published_at.get_or_insert(now);
                self.archived_at = None;
            }
            ArticleStatus::Archived => self.archived_at = Some(now),
            ArticleStatus::Draft => {}
        }
        self.status = to;
        Ok(())
    }

    /// The version to keep now, if any: a published article whose title or body differ from
    /// its `latest` version's (or that has none yet). Raises `revision`.
    pub fn new_version(
        &mut self,
        latest: Option<&ArticleVersion>,
        editor: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Option<ArticleVersion> {
        let same_text = latest.is_some_and(|v| v.title == self.title && v.body == self.body);
        if self.status != ArticleStatus::Published || same_text {
            return None;
        }
        self.revision += 1;
        Some(ArticleVersion {
            article_id: self.id,
            number: self.revision,
            title: self.title.clone(),
            body: self.body.clone(),
            editor_id: editor,
            created_at: now,
        })
    }

    /// What the article is found by: its title's terms alone (a match there ranks first),
    /// and every term of its title, tags and body.
    pub fn search_documents(&self) -> (SearchDocument, SearchDocument) {
        let mut title = SearchDocument::default();
        title.add_text(self.title.as_str());
        let mut all = title.clone();
        for tag in &self.tags {
            all.add_text(tag.as_str());
        }
        all.add_prose(self.body.as_str());
        (title, all)
    }

    /// Is it found by the same terms as `other` (the same title, tags and body)?
    pub fn found_as(&self, other: &Article) -> bool {
        (&self.title, &self.tags, &self.body) == (&other.title, &other.tags, &other.body)
    }

    /// Is it readable by callers who do not write the knowledge base?
    pub fn is_published(&self) -> bool {
        self.status == ArticleStatus::Published
    }
}

/// How well an article fits a ticket whose distinctive terms are `wanted`: three points a
/// term in its title, one a term elsewhere, one more for a solution. Zero: unrelated.
pub fn suggestion_score(
    wanted: &[String],
    kind: ArticleKind,
    title_terms: &BTreeSet<String>,
    terms: &BTreeSet<String>,
) -> u32 {
    let matched: u32 = wanted
        .iter()
        .map(|w| {
            if title_terms.contains(w) {
                3
            } else {
                u32::from(terms.contains(w))
            }
        })
        .sum();
    if matched > 0 && kind == ArticleKind::Solution {
        matched + 1
    } else {
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn article() -> Article {
        let now = at("2026-12-01T09:00:00Z");
        Article {
            id: Uuid::now_v7(),
            slug: Slug::parse("printer-jams").unwrap(),
            title: Title::parse("Printer jams").unwrap(),
            body: Markdown::parse("Open the tray.\n\nPull the paper out.").unwrap(),
            kind: ArticleKind::Solution,
            category_id: None,
            tags: vec![],
            language: Language::parse("en").unwrap(),
            audience: Audience::Internal,
            status: ArticleStatus::Draft,
            customer_id: None,
            author_id: None,
            reviewer_id: None,
            revision: 0,
            published_at: None,
            archived_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    #[test]
    fn slugs_are_lower_case_words_joined_by_hyphens() {
        assert!(Slug::parse("reset-your-password-2").is_ok());
        for bad in ["Reset", "a--b", "-a", "a-", "a b", "é"] {
            assert_eq!(Slug::parse(bad), Err(Invalid::InvalidSlug), "{bad}");
        }
        assert_eq!(Slug::parse(""), Err(Invalid::Required));
    }

    #[test]
    fn slugs_are_made_from_titles_in_both_scripts() {
        assert_eq!(
            Slug::from_title("Reset your password!").as_str(),
            "reset-your-password"
        );
        assert_eq!(
            Slug::from_title("打印机卡纸怎么办").as_str(),
            "dayinjikazhizenmeban"
        );
        assert_eq!(Slug::from_title("VPN 连不上").as_str(), "vpn-lianbushang");
        assert_eq!(Slug::from_title("？！").as_str(), "article");
        let long = Slug::from_title(&"word ".repeat(40));
        assert!(long.as_str().len() <= Slug::MAX && !long.as_str().ends_with('-'));
        let numbered = long.numbered(12);
        assert!(numbered.as_str().ends_with("-12") && numbered.as_str().len() <= Slug::MAX);
        assert!(Slug::parse(numbered.as_str()).is_ok());
    }

    #[test]
    fn languages_are_tags() {
        for good in ["en", "zh-CN", "zh-Hant-TW", "yue"] {
            assert!(Language::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "EN", "english", "zh_CN", "zh-", "e"] {
            assert_eq!(Language::parse(bad), Err(Invalid::InvalidLanguage), "{bad}");
        }
    }

    #[test]
    fn the_workflow_refuses_skipping_and_going_back_to_draft() {
        let now = at("2026-12-02T09:00:00Z");
        let mut a = article();
        let refused = a.move_to(ArticleStatus::Archived, now).unwrap_err();
        assert_eq!(refused.allowed, [ArticleStatus::Published]);
        a.move_to(ArticleStatus::Published, now).unwrap();
        assert_eq!(a.published_at, Some(now));
        a.move_to(ArticleStatus::Archived, now).unwrap();
        assert_eq!(a.archived_at, Some(now));
        assert!(a.move_to(ArticleStatus::Draft, now).is_err());
        let later = at("2026-12-03T09:00:00Z");
        a.move_to(ArticleStatus::Published, later).unwrap();
        assert_eq!(a.published_at, Some(now), "first published");
        assert_eq!(a.archived_at, None);
    }

    #[test]
    fn publishing_and_editing_published_text_make_versions() {
        let now = at("2026-12-02T09:00:00Z");
        let mut a = article();
        a.body = Markdown::parse("Edited while a draft").unwrap();
        assert_eq!(
            a.new_version(None, None, now),
            None,
            "drafts keep no versions"
        );

        a.move_to(ArticleStatus::Published, now).unwrap();
        let first = a.new_version(None, None, now).unwrap();
        assert_eq!((first.number, a.revision), (1, 1));

        a.tags = vec![Tag::parse("printers").unwrap()];
        assert_eq!(
            a.new_version(Some(&first), None, now),
            None,
            "the text is unchanged"
        );

        a.title = Title::parse("Printer jams: what to do").unwrap();
        let second = a.new_version(Some(&first), None, now).unwrap();
        assert_eq!(second.number, 2);
        assert_eq!(second.title.as_str(), "Printer jams: what to do");

        // Edited while archived: republishing keeps the new text as a version.
        a.move_to(ArticleStatus::Archived, now).unwrap();
        a.body = Markdown::parse("Call support.").unwrap();
        assert_eq!(a.new_version(Some(&second), None, now), None);
        a.move_to(ArticleStatus::Published, now).unwrap();
        assert_eq!(a.new_version(Some(&second), None, now).unwrap().number, 3);
    }

    #[test]
    fn loops_in_the_category_tree_are_found() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        // c under b under a.
        let parent_of = |id: Uuid| {
            if id == c {
                Some(b)
            } else if id == b {
                Some(a)
            } else {
                None
            }
        };
        assert!(would_loop(a, c, parent_of), "a under its own grandchild");
        assert!(would_loop(a, a, parent_of));
        assert!(!would_loop(c, a, parent_of));
    }

    #[test]
    fn suggestions_weigh_title_terms_above_body_terms() {
        let mut a = article();
        a.body = Markdown::parse("When the printer shows 错误代码 E5, open the tray.").unwrap();
        let (title, all) = a.search_documents();
        let set = |d: &SearchDocument| d.terms().map(str::to_owned).collect::<BTreeSet<_>>();
        let mut ticket = SearchDocument::default();
        ticket.add_prose("Printer error 错误 again");
        let wanted = ticket.distinctive_terms();
        assert!(wanted.contains(&"错误".to_owned()) && !wanted.contains(&"错".to_owned()));
        let score = suggestion_score(&wanted, ArticleKind::Solution, &set(&title), &set(&all));
        // printer in the title (3), 错误 in the body (1), a solution (1).
        assert_eq!(score, 5);
        assert_eq!(
            suggestion_score(
                &["nothing".into()],
                ArticleKind::Solution,
                &set(&title),
                &set(&all)
            ),
            0
        );
    }
}
