use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "surveys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub title: String,
    pub language: String,
    pub questions: Json,
    pub revision: i32,
    pub previous_id: Option<Uuid>,
    pub superseded_by_id: Option<Uuid>,
    pub expires_in_days: i64,
    pub quiet_days: i64,
    pub follow_up_csat_at_most: Option<i64>,
    pub follow_up_nps_at_most: Option<i64>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
