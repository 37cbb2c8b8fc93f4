use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub sort_name: String,
    pub name_key: String,
    pub kind: String,
    pub industry: Option<String>,
    pub size: Option<String>,
    pub grade: String,
    pub grade_locked: bool,
    pub lifecycle_stage: String,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tags: Json,
    pub source: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub channel: Option<String>,
    pub website: Option<String>,
    pub registration_number: Option<String>,
    pub country: Option<String>,
    pub addresses: Json,
    pub external_ids: Json,
    pub description: Option<String>,
    pub first_contact_due_at: Option<DateTimeUtc>,
    pub first_contacted_at: Option<DateTimeUtc>,
    pub last_activity_at: Option<DateTimeUtc>,
    pub last_activity_sort: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub merged_into_id: Option<Uuid>,
    pub erased_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
    /// SQLite: the rowid of the customer's row in the FTS5 table (PostgreSQL: unused).
    pub search_rowid: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::contact::Entity")]
    Contacts,
}

impl Related<super::contact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Contacts.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
