use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "articles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub title: String,
    pub body: String,
    pub body_html: String,
    pub kind: String,
    pub category_id: Option<Uuid>,
    pub tags: Json,
    pub language: String,
    pub audience: String,
    pub status: String,
    pub customer_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub reviewer_id: Option<Uuid>,
    pub revision: i32,
    pub published_at: Option<DateTimeUtc>,
    pub archived_at: Option<DateTimeUtc>,
    /// Kept beside the record: its entry in the search table.
    pub search_rowid: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
