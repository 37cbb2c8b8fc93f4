//! Knowledge-base articles: the records, their tags and search terms, their published
//! versions, and their links to tickets.
//!
//! Search matches the terms of `rapport_domain::search` as customers' search does (SQLite
//! FTS5 `article_search`, PostgreSQL `article_terms`), each rank of the query in turn, and
//! within a rank the articles matched in their title first, then the others, newest first.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use rapport_domain::article::{
    Article, ArticleKind, ArticleStatus, ArticleVersion, Audience, Language, Slug,
};
use rapport_domain::markdown::Markdown;
use rapport_domain::name::Title;
use rapport_domain::search::{Rank, SearchDocument, SearchQuery};
use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use uuid::Uuid;

use crate::entities::article::{self, Column, Entity};
use crate::entities::{article_version, ticket_article};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, parse_column};
use crate::{Conn, StoreError};

/// The unique index on slugs: a slug taken by another article.
pub const SLUG_TAKEN: &str = "articles_slug_key";

fn to_domain(m: article::Model) -> Result<Article, StoreError> {
    Ok(Article {
        id: m.id,
        slug: parse_column("articles.slug", &m.slug, Slug::parse)?,
        title: parse_column("articles.title", &m.title, Title::parse)?,
        body: parse_column("articles.body", &m.body, |b| {
            Markdown::stored(b, m.body_html.clone())
        })?,
        kind: parse_column("articles.kind", &m.kind, ArticleKind::parse)?,
        category_id: m.category_id,
        tags: serde_json::from_value(m.tags).map_err(|e| corrupt("articles.tags", e))?,
        language: parse_column("articles.language", &m.language, Language::parse)?,
        audience: parse_column("articles.audience", &m.audience, Audience::parse)?,
        status: parse_column("articles.status", &m.status, ArticleStatus::parse)?,
        customer_id: m.customer_id,
        author_id: m.author_id,
        reviewer_id: m.reviewer_id,
        revision: m.revision,
        published_at: m.published_at,
        archived_at: m.archived_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(a: &Article) -> article::ActiveModel {
    article::ActiveModel {
        id: Set(a.id),
        slug: Set(a.slug.as_str().to_owned()),
        title: Set(a.title.to_string()),
        body: Set(a.body.as_str().to_owned()),
        body_html: Set(a.body.html().to_owned()),
        kind: Set(a.kind.as_str().to_owned()),
        category_id: Set(a.category_id),
        tags: Set(serde_json::Value::from(
            a.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        )),
        language: Set(a.language.as_str().to_owned()),
        audience: Set(a.audience.as_str().to_owned()),
        status: Set(a.status.as_str().to_owned()),
        customer_id: Set(a.customer_id),
        author_id: Set(a.author_id),
        reviewer_id: Set(a.reviewer_id),
        revision: Set(a.revision),
        published_at: Set(a.published_at),
        archived_at: Set(a.archived_at),
        // Written by `index` only.
        search_rowid: NotSet,
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
        version: Set(a.version),
    }
}

record!(Article, Entity, to_active: |a| Ok(to_active(a)), from_model: to_domain);

/// Inserts an article and what it is found by.
///
/// # Errors
/// [`SLUG_TAKEN`] as a conflict; database failures.
pub async fn insert(db: &impl Conn, article: &Article) -> Result<(), StoreError> {
    let mut row = to_active(article);
    row.search_rowid = Set(None);
    Entity::insert(row).exec_without_returning(db).await?;
    insert_tags(db, article).await?;
    write_terms(db, article, None).await
}

/// Writes what an article is found by (its tags and search terms) after a change of them.
///
/// # Errors
/// Database failures.
pub async fn index(db: &impl Conn, article: &Article) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let sql = |sqlite: &'static str, postgres: &'static str| match backend {
        DatabaseBackend::Postgres => postgres,
        _ => sqlite,
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        sql(
            "DELETE FROM article_tags WHERE article_id = ?",
            "DELETE FROM article_tags WHERE article_id = $1",
        ),
        [article.id.into()],
    ))
    .await?;
    insert_tags(db, article).await?;
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            sql(
                "SELECT search_rowid FROM articles WHERE id = ?",
                "SELECT search_rowid FROM articles WHERE id = $1",
            ),
            [article.id.into()],
        ))
        .await?;
    let entry: Option<i64> =
        row.and_then(|r| r.try_get::<Option<i64>>("", "search_rowid").ok().flatten());
    write_terms(db, article, entry).await
}

/// The article's tags, in one statement.
async fn insert_tags(db: &impl Conn, article: &Article) -> Result<(), StoreError> {
    if article.tags.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("article_tags"))
        .columns([Alias::new("article_id"), Alias::new("tag")]);
    for tag in &article.tags {
        insert.values_panic([article.id.into(), tag.as_str().into()]);
    }
    db.execute(db.get_database_backend().build(&insert)).await?;
    Ok(())
}

/// Writes the article's search terms: over its `entry` in the search table, or as a new
/// entry, numbered in `articles.search_rowid`.
async fn write_terms(
    db: &impl Conn,
    article: &Article,
    entry: Option<i64>,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let sql = |sqlite: &'static str, postgres: &'static str| match backend {
        DatabaseBackend::Postgres => postgres,
        _ => sqlite,
    };
    let (title, all) = article.search_documents();
    let (title, all) = (title.joined(), all.joined());
    if let Some(entry) = entry {
        let update = sql(
            "UPDATE article_search SET title = ?, terms = ? WHERE rowid = ?",
            "UPDATE article_terms SET title = array_to_tsvector(string_to_array($1, ' ')), \
             terms = array_to_tsvector(string_to_array($2, ' ')) WHERE seq = $3",
        );
        db.execute(Statement::from_sql_and_values(
            backend,
            update,
            [title.into(), all.into(), entry.into()],
        ))
        .await?;
        return Ok(());
    }
    let inserted = match backend {
        DatabaseBackend::Postgres => {
            db.query_one(Statement::from_sql_and_values(
                backend,
                "INSERT INTO article_terms (article_id, title, terms) VALUES ($1, \
                 array_to_tsvector(string_to_array($2, ' ')), array_to_tsvector(string_to_array($3, ' '))) \
                 RETURNING seq AS entry",
                [article.id.into(), title.into(), all.into()],
            ))
            .await?
        }
        _ => {
            // FTS5 tables answer no RETURNING: the rowid is the connection's last one.
            db.execute(Statement::from_sql_and_values(
                backend,
                "INSERT INTO article_search (title, terms) VALUES (?, ?)",
                [title.into(), all.into()],
            ))
            .await?;
            db.query_one(Statement::from_string(
                backend,
                "SELECT last_insert_rowid() AS entry",
            ))
            .await?
        }
    };
    let entry: i64 = inserted.ok_or(StoreError::NotFound)?.try_get("", "entry")?;
    db.execute(Statement::from_sql_and_values(
        backend,
        sql(
            "UPDATE articles SET search_rowid = ? WHERE id = ?",
            "UPDATE articles SET search_rowid = $1 WHERE id = $2",
        ),
        [entry.into(), article.id.into()],
    ))
    .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such article.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Article, StoreError> {
    record::get(db, id).await
}

/// The article with this slug.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn by_slug(db: &impl Conn, slug: &Slug) -> Result<Article, StoreError> {
    let model = Entity::find()
        .filter(Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    to_domain(model)
}

/// Is `slug` another article's than `except`?
///
/// # Errors
/// Database failures.
pub async fn slug_taken(db: &impl Conn, slug: &Slug, except: Uuid) -> Result<bool, StoreError> {
    let found = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Slug.eq(slug.as_str()))
        .filter(Column::Id.ne(except))
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Filters of the article list.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    pub status: Option<ArticleStatus>,
    pub kind: Option<ArticleKind>,
    pub audience: Option<Audience>,
    /// A category and the categories below it.
    pub category_ids: Option<Vec<Uuid>>,
    pub tag: Option<String>,
    pub language: Option<String>,
    pub customer_id: Option<Uuid>,
    /// The change feed: records changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

impl ArticleFilter {
    fn condition(&self) -> sea_orm::Condition {
        let mut c = sea_orm::Condition::all();
        if let Some(status) = self.status {
            c = c.add(Column::Status.eq(status.as_str()));
        }
        if let Some(kind) = self.kind {
            c = c.add(Column::Kind.eq(kind.as_str()));
        }
        if let Some(audience) = self.audience {
            c = c.add(Column::Audience.eq(audience.as_str()));
        }
        if let Some(ids) = &self.category_ids {
            c = c.add(Column::CategoryId.is_in(ids.iter().copied()));
        }
        if let Some(tag) = &self.tag {
            let tagged = Query::select()
                .column(Alias::new("article_id"))
                .from(Alias::new("article_tags"))
                .and_where(Expr::col(Alias::new("tag")).eq(tag.clone()))
                .to_owned();
            c = c.add(Column::Id.in_subquery(tagged));
        }
        if let Some(language) = &self.language {
            c = c.add(Column::Language.eq(language.clone()));
        }
        if let Some(id) = self.customer_id {
            c = c.add(Column::CustomerId.eq(id));
        }
        c
    }
}

/// Articles newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    filter: &ArticleFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Article>, StoreError> {
    let select = Entity::find().filter(filter.condition());
    let own = (Column::CreatedAt, SortDir::Desc);
    let select = list_order(
        select,
        filter.changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |a| {
        list_cursor(
            filter.changes,
            a.updated_at,
            SortValue::Time(a.created_at),
            a.id,
        )
    })
}

/// Where a match was found: the title ranks above the rest of the article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Title,
    Elsewhere,
}

/// The position of a group of matches in the result: by rank, then title before elsewhere.
fn group(rank: Rank, place: Place) -> u8 {
    rank.number() * 2 + u8::from(place == Place::Elsewhere)
}

/// Articles matching `query`, best first: by rank (`rapport_domain::search::Rank`), then
/// matched in the title before matched elsewhere, then newest first. The cursor holds the
/// group and the search entry the page stopped at.
///
/// # Errors
/// Database failures.
pub async fn search(
    db: &impl Conn,
    filter: &ArticleFilter,
    query: &SearchQuery,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Article>, StoreError> {
    let (from, after_entry) = match after.map(|c| c.value) {
        Some(SortValue::Ranked(group, entry)) => (group, Some(entry)),
        _ => (0, None),
    };
    let mut found: Vec<(Article, u8, i64)> = Vec::new();
    'tiers: for tier in query.tiers(Rank::Identifier) {
        for place in [Place::Title, Place::Elsewhere] {
            let g = group(tier.rank, place);
            if g < from {
                continue;
            }
            let before = after_entry.filter(|_| g == from).unwrap_or(i64::MAX);
            let matches = match db.get_database_backend() {
                DatabaseBackend::Postgres => {
                    let (all, title) = (tier.to_tsquery(), tier.matching.to_tsquery());
                    let title_test = "title @@ CAST($2 AS tsquery)";
                    let place_test = match place {
                        Place::Title => title_test.to_owned(),
                        Place::Elsewhere => format!("NOT ({title_test})"),
                    };
                    Expr::cust_with_values(
                        format!(
                            "articles.search_rowid IN (SELECT seq FROM article_terms \
                             WHERE terms @@ CAST($1 AS tsquery) AND {place_test})"
                        ),
                        [all, title],
                    )
                }
                _ => {
                    let title = format!("{{title}} : ({})", tier.matching.to_fts5());
                    let expression = match place {
                        Place::Title => format!("({}) AND {title}", tier.to_fts5()),
                        Place::Elsewhere => format!("({}) NOT {title}", tier.to_fts5()),
                    };
                    Expr::cust_with_values(
                        "articles.search_rowid IN (SELECT rowid FROM article_search \
                         WHERE article_search MATCH ?)",
                        [expression],
                    )
                }
            };
            let wanted = limit + 1 - found.len() as u64;
            for (article, entry) in entries(db, filter, matches, before, wanted).await? {
                found.push((article, g, entry));
            }
            if found.len() as u64 > limit {
                break 'tiers;
            }
        }
    }
    let page = Page::from_rows(found, limit, |(a, g, entry)| Cursor {
        value: SortValue::Ranked(*g, *entry),
        id: a.id,
    });
    Ok(page.map(|(a, _, _)| a))
}

/// Up to `limit` articles passing `filter` and `matches`, search entries before `before`,
/// newest entry first.
async fn entries(
    db: &impl Conn,
    filter: &ArticleFilter,
    matches: SimpleExpr,
    before: i64,
    limit: u64,
) -> Result<Vec<(Article, i64)>, StoreError> {
    let rows = Entity::find()
        .filter(filter.condition())
        .filter(matches)
        .filter(Column::SearchRowid.lt(before))
        .order_by_desc(Column::SearchRowid)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|m| {
            let entry = m.search_rowid.unwrap_or_default();
            Ok((to_domain(m)?, entry))
        })
        .collect()
}

/// An article that holds some of the wanted terms, with its terms.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub article: Article,
    pub title_terms: BTreeSet<String>,
    pub terms: BTreeSet<String>,
}

#[derive(FromQueryResult)]
struct TermsRow {
    entry: i64,
    title: String,
    terms: String,
}

/// Up to `limit` articles passing `filter` that hold any of `terms`, newest first, with their
/// own terms, for scoring.
///
/// # Errors
/// Database failures.
pub async fn holding_any(
    db: &impl Conn,
    filter: &ArticleFilter,
    terms: &[String],
    limit: u64,
) -> Result<Vec<Candidate>, StoreError> {
    let Some(query) = SearchQuery::any_of(terms) else {
        return Ok(Vec::new());
    };
    let backend = db.get_database_backend();
    let (matches, read_terms) = match backend {
        DatabaseBackend::Postgres => (
            Expr::cust_with_values(
                "articles.search_rowid IN (SELECT seq FROM article_terms \
                 WHERE terms @@ CAST($1 AS tsquery))",
                [query.to_tsquery()],
            ),
            "SELECT seq AS entry, array_to_string(tsvector_to_array(title), ' ') AS title, \
             array_to_string(tsvector_to_array(terms), ' ') AS terms \
             FROM article_terms WHERE seq = ANY($1)",
        ),
        _ => (
            Expr::cust_with_values(
                "articles.search_rowid IN (SELECT rowid FROM article_search \
                 WHERE article_search MATCH ?)",
                [query.to_fts5()],
            ),
            "SELECT rowid AS entry, title, terms FROM article_search WHERE rowid IN (SELECT value FROM json_each(?))",
        ),
    };
    let found = entries(db, filter, matches, i64::MAX, limit).await?;
    let ids: Vec<i64> = found.iter().map(|(_, e)| *e).collect();
    let values: sea_orm::Value = match backend {
        DatabaseBackend::Postgres => ids.clone().into(),
        _ => serde_json::to_string(&ids).unwrap_or_default().into(),
    };
    let rows = TermsRow::find_by_statement(Statement::from_sql_and_values(
        backend,
        read_terms,
        [values],
    ))
    .all(db)
    .await?;
    let mut by_entry: HashMap<i64, TermsRow> = rows.into_iter().map(|r| (r.entry, r)).collect();
    let split = |text: &str| {
        text.split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Ok(found
        .into_iter()
        .filter_map(|(article, entry)| {
            let row = by_entry.remove(&entry)?;
            Some(Candidate {
                article,
                title_terms: split(&row.title),
                terms: split(&row.terms),
            })
        })
        .collect())
}

/// The distinctive terms of a text, to find articles about the same thing.
pub fn wanted_terms(texts: &[&str]) -> Vec<String> {
    let mut doc = SearchDocument::default();
    for text in texts {
        doc.add_prose(text);
    }
    doc.distinctive_terms()
}

fn version_to_domain(m: article_version::Model) -> Result<ArticleVersion, StoreError> {
    Ok(ArticleVersion {
        article_id: m.article_id,
        number: m.number,
        title: parse_column("article_versions.title", &m.title, Title::parse)?,
        body: parse_column("article_versions.body", &m.body, |b| {
            Markdown::stored(b, m.body_html.clone())
        })?,
        editor_id: m.editor_id,
        created_at: m.created_at,
    })
}

/// # Errors
/// Database failures.
pub async fn insert_version(db: &impl Conn, v: &ArticleVersion) -> Result<(), StoreError> {
    article_version::Entity::insert(article_version::ActiveModel {
        article_id: Set(v.article_id),
        number: Set(v.number),
        title: Set(v.title.to_string()),
        body: Set(v.body.as_str().to_owned()),
        body_html: Set(v.body.html().to_owned()),
        editor_id: Set(v.editor_id),
        created_at: Set(v.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// An article's versions, newest first.
///
/// # Errors
/// Database failures.
pub async fn versions(db: &impl Conn, article: Uuid) -> Result<Vec<ArticleVersion>, StoreError> {
    article_version::Entity::find()
        .filter(article_version::Column::ArticleId.eq(article))
        .order_by_desc(article_version::Column::Number)
        .all(db)
        .await?
        .into_iter()
        .map(version_to_domain)
        .collect()
}

/// One version of an article.
///
/// # Errors
/// `NotFound` when there is no such version.
pub async fn version(
    db: &impl Conn,
    article: Uuid,
    number: i32,
) -> Result<ArticleVersion, StoreError> {
    let model = article_version::Entity::find_by_id((article, number))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    version_to_domain(model)
}

/// A ticket's link to an article.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub ticket_id: Uuid,
    pub article_id: Uuid,
    pub linked_by: Option<Uuid>,
    pub linked_at: DateTime<Utc>,
    /// When the ticket was resolved with the article linked.
    pub used_at: Option<DateTime<Utc>>,
}

fn link_to_domain(m: ticket_article::Model) -> Link {
    Link {
        ticket_id: m.ticket_id,
        article_id: m.article_id,
        linked_by: m.linked_by,
        linked_at: m.linked_at,
        used_at: m.used_at,
    }
}

/// Links a ticket to an article; `false` when they were linked already.
///
/// # Errors
/// Database failures.
pub async fn link(db: &impl Conn, link: &Link) -> Result<bool, StoreError> {
    let inserted = ticket_article::Entity::insert(ticket_article::ActiveModel {
        ticket_id: Set(link.ticket_id),
        article_id: Set(link.article_id),
        linked_by: Set(link.linked_by),
        linked_at: Set(link.linked_at),
        used_at: Set(link.used_at),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            ticket_article::Column::TicketId,
            ticket_article::Column::ArticleId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

/// A ticket's link to an article.
///
/// # Errors
/// `NotFound` when they are not linked.
pub async fn get_link(db: &impl Conn, ticket: Uuid, article: Uuid) -> Result<Link, StoreError> {
    ticket_article::Entity::find_by_id((ticket, article))
        .one(db)
        .await?
        .map(link_to_domain)
        .ok_or(StoreError::NotFound)
}

/// Removes a ticket's link to an article.
///
/// # Errors
/// `NotFound` when they were not linked.
pub async fn unlink(db: &impl Conn, ticket: Uuid, article: Uuid) -> Result<(), StoreError> {
    let deleted = ticket_article::Entity::delete_by_id((ticket, article))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A ticket's links with their articles, oldest link first.
///
/// # Errors
/// Database failures.
pub async fn links_of(db: &impl Conn, ticket: Uuid) -> Result<Vec<(Link, Article)>, StoreError> {
    let links: Vec<Link> = ticket_article::Entity::find()
        .filter(ticket_article::Column::TicketId.eq(ticket))
        .order_by_asc(ticket_article::Column::LinkedAt)
        .all(db)
        .await?
        .into_iter()
        .map(link_to_domain)
        .collect();
    let ids: Vec<Uuid> = links.iter().map(|l| l.article_id).collect();
    let mut articles: HashMap<Uuid, Article> = Entity::find()
        .filter(Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|m| to_domain(m).map(|a| (a.id, a)))
        .collect::<Result<_, _>>()?;
    Ok(links
        .into_iter()
        .filter_map(|l| articles.remove(&l.article_id).map(|a| (l, a)))
        .collect())
}

/// A ticket was resolved at `now`: each article linked to it counts one use (once per
/// ticket, however often it is resolved).
///
/// # Errors
/// Database failures.
pub async fn record_uses(
    db: &impl Conn,
    ticket: Uuid,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    ticket_article::Entity::update_many()
        .col_expr(ticket_article::Column::UsedAt, Expr::value(now))
        .filter(ticket_article::Column::TicketId.eq(ticket))
        .filter(ticket_article::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// How many tickets each of `articles` helped resolve.
///
/// # Errors
/// Database failures.
pub async fn uses(db: &impl Conn, articles: &[Uuid]) -> Result<HashMap<Uuid, i64>, StoreError> {
    if articles.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64)> = ticket_article::Entity::find()
        .select_only()
        .column(ticket_article::Column::ArticleId)
        .column_as(ticket_article::Column::TicketId.count(), "uses")
        .filter(ticket_article::Column::ArticleId.is_in(articles.iter().copied()))
        .filter(ticket_article::Column::UsedAt.is_not_null())
        .group_by(ticket_article::Column::ArticleId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}
