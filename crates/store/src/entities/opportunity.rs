use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "opportunities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub title: String,
    pub source: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub expected_close_date: Option<Date>,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub status: String,
    pub probability: i32,
    pub probability_overridden: bool,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub next_step: Option<String>,
    pub tags: Json,
    pub lost_reason: Option<String>,
    pub lost_note: Option<String>,
    pub closed_at: Option<DateTimeUtc>,
    pub stage_entered_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
