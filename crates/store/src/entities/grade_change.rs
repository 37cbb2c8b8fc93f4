use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "grade_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Uuid,
    pub from_grade: Option<String>,
    pub to_grade: String,
    pub recency: Option<i16>,
    pub frequency: Option<i16>,
    pub monetary: Option<i16>,
    pub changed_at: DateTimeUtc,
    pub changed_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
