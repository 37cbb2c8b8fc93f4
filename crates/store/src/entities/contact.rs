use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contacts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Uuid,
    pub first_name: String,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub emails: Json,
    pub phones: Json,
    pub preferred_channel: Option<String>,
    pub marketing_consent: Option<bool>,
    pub marketing_consent_at: Option<DateTimeUtc>,
    pub marketing_consent_source: Option<String>,
    pub birthday_month: Option<i16>,
    pub birthday_day: Option<i16>,
    pub birthday_year: Option<i16>,
    pub is_primary: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::customer::Entity",
        from = "Column::CustomerId",
        to = "super::customer::Column::Id"
    )]
    Customer,
}

impl Related<super::customer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Customer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
