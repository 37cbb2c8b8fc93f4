use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "survey_invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub survey_id: Uuid,
    pub contact_id: Uuid,
    pub customer_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub origin: String,
    pub trigger_id: Option<Uuid>,
    pub trigger_key: Option<String>,
    pub status: String,
    pub token_hash: String,
    pub token_sealed: Option<String>,
    pub expires_at: DateTimeUtc,
    pub opened_at: Option<DateTimeUtc>,
    pub answered_at: Option<DateTimeUtc>,
    pub emailed_at: Option<DateTimeUtc>,
    pub follow_up_ticket_id: Option<Uuid>,
    pub answers: Option<Json>,
    pub agent_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub channel: Option<String>,
    pub category: Option<String>,
    pub grade: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
