//! The knowledge base: a tree of categories, articles with their tags and published
//! versions, their links to tickets, and their search terms (SQLite FTS5 `article_search`,
//! PostgreSQL `article_terms` with GIN indexes), a title's terms apart so that a match there
//! ranks first.

use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ArticleCategories as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(uuid(C::Id).primary_key())
                    .col(string_len(C::Name, 100))
                    .col(uuid_null(C::ParentId))
                    .col(timestamp_with_time_zone(C::CreatedAt))
                    .col(timestamp_with_time_zone(C::UpdatedAt))
                    .col(integer(C::Version))
                    .foreign_key(&mut fk(
                        "article_categories_parent_id_fkey",
                        C::Table,
                        C::ParentId,
                        "article_categories",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "article_categories_parent_idx",
            C::Table,
            &[C::ParentId],
        )
        .await?;

        use Articles as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(uuid(A::Id).primary_key())
                    .col(string_len(A::Slug, 100))
                    .col(string_len(A::Title, 200))
                    .col(text(A::Body))
                    .col(text(A::BodyHtml))
                    .col(string_len(A::Kind, 32))
                    .col(uuid_null(A::CategoryId))
                    .col(json_binary(A::Tags))
                    .col(string_len(A::Language, 35))
                    .col(string_len(A::Audience, 16))
                    .col(string_len(A::Status, 16))
                    .col(uuid_null(A::CustomerId))
                    .col(uuid_null(A::AuthorId))
                    .col(uuid_null(A::ReviewerId))
                    .col(integer(A::Revision))
                    .col(timestamp_with_time_zone_null(A::PublishedAt))
                    .col(timestamp_with_time_zone_null(A::ArchivedAt))
                    .col(big_integer_null(A::SearchRowid))
                    .col(timestamp_with_time_zone(A::CreatedAt))
                    .col(timestamp_with_time_zone(A::UpdatedAt))
                    .col(integer(A::Version))
                    .foreign_key(&mut fk(
                        "articles_category_id_fkey",
                        A::Table,
                        A::CategoryId,
                        "article_categories",
                    ))
                    .foreign_key(&mut fk(
                        "articles_customer_id_fkey",
                        A::Table,
                        A::CustomerId,
                        "customers",
                    ))
                    .foreign_key(&mut fk(
                        "articles_reviewer_id_fkey",
                        A::Table,
                        A::ReviewerId,
                        "users",
                    ))
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "articles_slug_key", A::Table, &[A::Slug]).await?;
        unique_index(
            manager,
            "articles_search_rowid_key",
            A::Table,
            &[A::SearchRowid],
        )
        .await?;
        index(
            manager,
            "articles_created_idx",
            A::Table,
            &[A::CreatedAt, A::Id],
        )
        .await?;
        index(manager, "articles_category_idx", A::Table, &[A::CategoryId]).await?;
        index(manager, "articles_customer_idx", A::Table, &[A::CustomerId]).await?;

        use ArticleTags as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(uuid(T::ArticleId))
                    .col(string_len(T::Tag, 50))
                    .primary_key(Index::create().col(T::Tag).col(T::ArticleId))
                    .foreign_key(&mut fk(
                        "article_tags_article_id_fkey",
                        T::Table,
                        T::ArticleId,
                        "articles",
                    ))
                    .to_owned(),
            )
            .await?;

        use ArticleVersions as V;
        manager
            .create_table(
                Table::create()
                    .table(V::Table)
                    .col(uuid(V::ArticleId))
                    .col(integer(V::Number))
                    .col(string_len(V::Title, 200))
                    .col(text(V::Body))
                    .col(text(V::BodyHtml))
                    .col(uuid_null(V::EditorId))
                    .col(timestamp_with_time_zone(V::CreatedAt))
                    .primary_key(Index::create().col(V::ArticleId).col(V::Number))
                    .foreign_key(&mut fk(
                        "article_versions_article_id_fkey",
                        V::Table,
                        V::ArticleId,
                        "articles",
                    ))
                    .to_owned(),
            )
            .await?;

        use TicketArticles as L;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .col(uuid(L::TicketId))
                    .col(uuid(L::ArticleId))
                    .col(uuid_null(L::LinkedBy))
                    .col(timestamp_with_time_zone(L::LinkedAt))
                    .col(timestamp_with_time_zone_null(L::UsedAt))
                    .primary_key(Index::create().col(L::TicketId).col(L::ArticleId))
                    .foreign_key(&mut fk(
                        "ticket_articles_ticket_id_fkey",
                        L::Table,
                        L::TicketId,
                        "tickets",
                    ))
                    .foreign_key(&mut fk(
                        "ticket_articles_article_id_fkey",
                        L::Table,
                        L::ArticleId,
                        "articles",
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ticket_articles_article_idx",
            L::Table,
            &[L::ArticleId],
        )
        .await?;

        let db = manager.get_connection();
        let search: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Postgres => &[
                "CREATE TABLE article_terms (\
                    seq BIGSERIAL PRIMARY KEY, \
                    article_id UUID NOT NULL UNIQUE REFERENCES articles (id), \
                    title TSVECTOR NOT NULL, \
                    terms TSVECTOR NOT NULL)",
                "CREATE INDEX article_terms_title_idx ON article_terms USING GIN (title) \
                    WITH (fastupdate = off)",
                "CREATE INDEX article_terms_terms_idx ON article_terms USING GIN (terms) \
                    WITH (fastupdate = off)",
            ],
            _ => &[
                "CREATE VIRTUAL TABLE article_search USING fts5(title, terms, \
                 tokenize = \"unicode61 remove_diacritics 2 tokenchars '@.+-_'\", prefix = '1 2 3')",
            ],
        };
        for sql in search {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let search = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "DROP TABLE article_terms",
            _ => "DROP TABLE article_search",
        };
        manager.get_connection().execute_unprepared(search).await?;
        for table in [
            TicketArticles::Table.into_iden(),
            ArticleVersions::Table.into_iden(),
            ArticleTags::Table.into_iden(),
            Articles::Table.into_iden(),
            ArticleCategories::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ArticleCategories {
    Table,
    Id,
    Name,
    ParentId,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Articles {
    Table,
    Id,
    Slug,
    Title,
    Body,
    /// The body's sanitized HTML, rendered when it was written.
    BodyHtml,
    Kind,
    CategoryId,
    Tags,
    Language,
    Audience,
    Status,
    CustomerId,
    AuthorId,
    ReviewerId,
    Revision,
    PublishedAt,
    ArchivedAt,
    /// The article's entry in the search table (its FTS5 rowid, or `article_terms.seq`).
    SearchRowid,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum ArticleTags {
    Table,
    ArticleId,
    Tag,
}

#[derive(DeriveIden, Clone, Copy)]
enum ArticleVersions {
    Table,
    ArticleId,
    Number,
    Title,
    Body,
    BodyHtml,
    EditorId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TicketArticles {
    Table,
    TicketId,
    ArticleId,
    LinkedBy,
    LinkedAt,
    UsedAt,
}
