use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "automation_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub rule_id: Uuid,
    pub fire_key: String,
    pub trigger: String,
    pub record_type: Option<String>,
    pub record_id: Option<Uuid>,
    pub chain: Json,
    pub status: String,
    pub reason: Option<String>,
    pub outcomes: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
