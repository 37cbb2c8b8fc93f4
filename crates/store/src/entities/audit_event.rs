use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub occurred_at: DateTimeUtc,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub customer_id: Option<Uuid>,
    pub action: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub changes: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
