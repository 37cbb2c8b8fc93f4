use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub member_id: Uuid,
    pub token_hash: Option<String>,
    pub status: String,
    pub sent_at: Option<DateTimeUtc>,
    pub bounced_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    pub open_count: i32,
    pub clicked_at: Option<DateTimeUtc>,
    pub click_count: i32,
    pub unsubscribed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
