//! Sales: pipelines and their stages (with the default pipeline), opportunities and their stage
//! history, products, quotes, orders, and the gapless numbers of quotes and orders.
//!
//! Money is kept in minor units (`*_minor`, BIGINT) beside its currency, so that sums in SQL
//! are exact on both databases.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        pipelines(manager).await?;
        opportunities(manager).await?;
        products(manager).await?;
        documents(manager, Documents::Quotes).await?;
        documents(manager, Documents::Orders).await?;
        manager
            .create_table(
                Table::create()
                    .table(DocumentNumbers::Table)
                    .col(string_len(DocumentNumbers::Prefix, 8))
                    .col(integer(DocumentNumbers::Year))
                    .col(big_integer(DocumentNumbers::Last))
                    .primary_key(
                        Index::create()
                            .col(DocumentNumbers::Prefix)
                            .col(DocumentNumbers::Year),
                    )
                    .to_owned(),
            )
            .await?;
        seed_default_pipeline(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "document_numbers",
            "orders",
            "quotes",
            "products",
            "opportunity_stage_moves",
            "opportunities",
            "pipeline_stages",
            "pipelines",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn pipelines(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Pipelines::Table)
                .col(uuid(Pipelines::Id).primary_key())
                .col(string_len(Pipelines::Name, 200))
                .col(boolean(Pipelines::IsDefault))
                .col(timestamp_with_time_zone(Pipelines::CreatedAt))
                .col(timestamp_with_time_zone(Pipelines::UpdatedAt))
                .col(integer(Pipelines::Version))
                .to_owned(),
        )
        .await?;
    // One default pipeline at most, even when two changes race to make one.
    manager
        .get_connection()
        .execute_unprepared(
            "CREATE UNIQUE INDEX pipelines_default_key ON pipelines (is_default) WHERE is_default",
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(PipelineStages::Table)
                .col(uuid(PipelineStages::Id).primary_key())
                .col(uuid(PipelineStages::PipelineId))
                .col(integer(PipelineStages::Position))
                .col(string_len(PipelineStages::Name, 200))
                .col(integer(PipelineStages::Probability))
                .col(string_len(PipelineStages::Kind, 8))
                .foreign_key(&mut fk(
                    "pipeline_stages_pipeline_id_fkey",
                    PipelineStages::Table,
                    PipelineStages::PipelineId,
                    "pipelines",
                ))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "pipeline_stages_pipeline_idx",
        PipelineStages::Table,
        &[PipelineStages::PipelineId, PipelineStages::Position],
    )
    .await
}

async fn opportunities(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use Opportunities as O;
    manager
        .create_table(
            Table::create()
                .table(O::Table)
                .col(uuid(O::Id).primary_key())
                .col(uuid(O::CustomerId))
                .col(uuid_null(O::ContactId))
                .col(string_len(O::Title, 200))
                .col(string_len_null(O::Source, 32))
                .col(uuid_null(O::CampaignId))
                .col(big_integer_null(O::AmountMinor))
                .col(string_len_null(O::Currency, 3))
                .col(date_null(O::ExpectedCloseDate))
                .col(uuid(O::PipelineId))
                .col(uuid(O::StageId))
                .col(string_len(O::Status, 8))
                .col(integer(O::Probability))
                .col(boolean(O::ProbabilityOverridden))
                .col(uuid_null(O::OwnerId))
                .col(uuid_null(O::TeamId))
                .col(text_null(O::NextStep))
                .col(json_binary(O::Tags))
                .col(string_len_null(O::LostReason, 32))
                .col(text_null(O::LostNote))
                .col(timestamp_with_time_zone_null(O::ClosedAt))
                .col(timestamp_with_time_zone(O::StageEnteredAt))
                .col(uuid_null(O::CreatedBy))
                .col(timestamp_with_time_zone(O::CreatedAt))
                .col(timestamp_with_time_zone(O::UpdatedAt))
                .col(integer(O::Version))
                .foreign_key(&mut fk(
                    "opportunities_customer_id_fkey",
                    O::Table,
                    O::CustomerId,
                    "customers",
                ))
                .foreign_key(&mut fk(
                    "opportunities_contact_id_fkey",
                    O::Table,
                    O::ContactId,
                    "contacts",
                ))
                .foreign_key(&mut fk(
                    "opportunities_pipeline_id_fkey",
                    O::Table,
                    O::PipelineId,
                    "pipelines",
                ))
                .foreign_key(&mut fk(
                    "opportunities_stage_id_fkey",
                    O::Table,
                    O::StageId,
                    "pipeline_stages",
                ))
                .foreign_key(&mut fk(
                    "opportunities_owner_id_fkey",
                    O::Table,
                    O::OwnerId,
                    "users",
                ))
                .foreign_key(&mut fk(
                    "opportunities_team_id_fkey",
                    O::Table,
                    O::TeamId,
                    "teams",
                ))
                .to_owned(),
        )
        .await?;
    // Lists by each sort (with the id as tie-breaker), by customer, stage, owner and team; the
    // forecast, wins and stage checks by pipeline and status.
    for (name, columns) in [
        ("opportunities_created_idx", vec![O::CreatedAt, O::Id]),
        ("opportunities_updated_idx", vec![O::UpdatedAt, O::Id]),
        ("opportunities_close_idx", vec![O::ExpectedCloseDate, O::Id]),
        ("opportunities_amount_idx", vec![O::AmountMinor, O::Id]),
        (
            "opportunities_customer_idx",
            vec![O::CustomerId, O::CreatedAt, O::Id],
        ),
        (
            "opportunities_stage_idx",
            vec![O::StageId, O::CreatedAt, O::Id],
        ),
        (
            "opportunities_owner_idx",
            vec![O::OwnerId, O::CreatedAt, O::Id],
        ),
        (
            "opportunities_team_idx",
            vec![O::TeamId, O::CreatedAt, O::Id],
        ),
        (
            "opportunities_pipeline_idx",
            vec![O::PipelineId, O::Status, O::StageId],
        ),
    ] {
        index(manager, name, O::Table, &columns).await?;
    }
    use OpportunityStageMoves as M;
    manager
        .create_table(
            Table::create()
                .table(M::Table)
                .col(uuid(M::Id).primary_key())
                .col(uuid(M::OpportunityId))
                .col(uuid_null(M::FromStageId))
                .col(uuid(M::ToStageId))
                .col(uuid_null(M::ChangedBy))
                .col(timestamp_with_time_zone(M::ChangedAt))
                .col(big_integer_null(M::SecondsInPrevious))
                .foreign_key(&mut fk(
                    "opportunity_stage_moves_opportunity_id_fkey",
                    M::Table,
                    M::OpportunityId,
                    "opportunities",
                ))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "opportunity_stage_moves_opportunity_idx",
        M::Table,
        &[M::OpportunityId, M::Id],
    )
    .await
}

async fn products(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use Products as P;
    manager
        .create_table(
            Table::create()
                .table(P::Table)
                .col(uuid(P::Id).primary_key())
                .col(string_len(P::Code, 64))
                .col(string_len(P::CodeKey, 64))
                .col(string_len(P::Name, 200))
                .col(text_null(P::Description))
                .col(json_binary(P::Prices))
                .col(string_len(P::TaxRate, 16))
                .col(boolean(P::Active))
                .col(timestamp_with_time_zone(P::CreatedAt))
                .col(timestamp_with_time_zone(P::UpdatedAt))
                .col(integer(P::Version))
                .to_owned(),
        )
        .await?;
    unique_index(manager, "products_code_key", P::Table, &[P::CodeKey]).await?;
    index(
        manager,
        "products_created_idx",
        P::Table,
        &[P::CreatedAt, P::Id],
    )
    .await
}

/// Quotes and orders share their shape: a number, a customer, lines and totals.
async fn documents(manager: &SchemaManager<'_>, table: Documents) -> Result<(), DbErr> {
    use Documents as D;
    let name = match table {
        D::Quotes => "quotes",
        _ => "orders",
    };
    let mut create = Table::create();
    create
        .table(table)
        .col(uuid(D::Id).primary_key())
        .col(string_len(D::Number, 32))
        .col(uuid(D::CustomerId))
        .col(string_len(D::Currency, 3))
        .col(string_len(D::Status, 16))
        .col(json_binary(D::Lines))
        .col(big_integer(D::SubtotalMinor))
        .col(big_integer(D::DiscountMinor))
        .col(big_integer(D::TaxMinor))
        .col(big_integer(D::TotalMinor))
        .col(text_null(D::Notes))
        .col(uuid_null(D::CreatedBy))
        .col(timestamp_with_time_zone(D::CreatedAt))
        .col(timestamp_with_time_zone(D::UpdatedAt))
        .col(integer(D::Version))
        .foreign_key(&mut fk(
            &format!("{name}_customer_id_fkey"),
            table,
            D::CustomerId,
            "customers",
        ));
    if let D::Quotes = table {
        create
            .col(uuid(D::OpportunityId))
            .col(date(D::ValidUntil))
            .col(timestamp_with_time_zone_null(D::SentAt))
            .col(timestamp_with_time_zone_null(D::DecidedAt))
            .foreign_key(&mut fk(
                "quotes_opportunity_id_fkey",
                table,
                D::OpportunityId,
                "opportunities",
            ));
    } else {
        create
            .col(uuid_null(D::OpportunityId))
            .col(uuid_null(D::QuoteId))
            .col(timestamp_with_time_zone(D::OrderedAt))
            .col(timestamp_with_time_zone_null(D::FulfilledAt))
            .col(timestamp_with_time_zone_null(D::CancelledAt))
            .foreign_key(&mut fk(
                "orders_opportunity_id_fkey",
                table,
                D::OpportunityId,
                "opportunities",
            ))
            .foreign_key(&mut fk("orders_quote_id_fkey", table, D::QuoteId, "quotes"));
    }
    manager.create_table(create.to_owned()).await?;
    unique_index(manager, &format!("{name}_number_key"), table, &[D::Number]).await?;
    index(
        manager,
        &format!("{name}_created_idx"),
        table,
        &[D::CreatedAt, D::Id],
    )
    .await?;
    index(
        manager,
        &format!("{name}_customer_idx"),
        table,
        &[D::CustomerId, D::CreatedAt, D::Id],
    )
    .await?;
    index(
        manager,
        &format!("{name}_opportunity_idx"),
        table,
        &[D::OpportunityId],
    )
    .await?;
    if let D::Quotes = table {
        // The expiry check: sent quotes by their last day.
        index(
            manager,
            "quotes_status_idx",
            table,
            &[D::Status, D::ValidUntil],
        )
        .await
    } else {
        // One order per accepted quote.
        unique_index(manager, "orders_quote_id_key", table, &[D::QuoteId]).await
    }
}

async fn seed_default_pipeline(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    let pipeline = uuid::Uuid::now_v7();
    manager
        .exec_stmt(
            Query::insert()
                .into_table(Pipelines::Table)
                .columns([
                    Pipelines::Id,
                    Pipelines::Name,
                    Pipelines::IsDefault,
                    Pipelines::CreatedAt,
                    Pipelines::UpdatedAt,
                    Pipelines::Version,
                ])
                .values_panic([
                    pipeline.into(),
                    "Sales".into(),
                    true.into(),
                    now.into(),
                    now.into(),
                    1.into(),
                ])
                .to_owned(),
        )
        .await?;
    let stages = [
        ("Qualification", 10, "open"),
        ("Needs analysis", 25, "open"),
        ("Proposal", 50, "open"),
        ("Negotiation", 75, "open"),
        ("Won", 100, "won"),
        ("Lost", 0, "lost"),
    ];
    for (position, (name, probability, kind)) in (0..).zip(stages) {
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(PipelineStages::Table)
                    .columns([
                        PipelineStages::Id,
                        PipelineStages::PipelineId,
                        PipelineStages::Position,
                        PipelineStages::Name,
                        PipelineStages::Probability,
                        PipelineStages::Kind,
                    ])
                    .values_panic([
                        uuid::Uuid::now_v7().into(),
                        pipeline.into(),
                        position.into(),
                        name.into(),
                        probability.into(),
                        kind.into(),
                    ])
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[derive(DeriveIden, Clone, Copy)]
enum Pipelines {
    Table,
    Id,
    Name,
    IsDefault,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum PipelineStages {
    Table,
    Id,
    PipelineId,
    Position,
    Name,
    Probability,
    Kind,
}

#[derive(DeriveIden, Clone, Copy)]
enum Opportunities {
    Table,
    Id,
    CustomerId,
    ContactId,
    Title,
    Source,
    CampaignId,
    AmountMinor,
    Currency,
    ExpectedCloseDate,
    PipelineId,
    StageId,
    Status,
    Probability,
    ProbabilityOverridden,
    OwnerId,
    TeamId,
    NextStep,
    Tags,
    LostReason,
    LostNote,
    ClosedAt,
    StageEnteredAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum OpportunityStageMoves {
    Table,
    Id,
    OpportunityId,
    FromStageId,
    ToStageId,
    ChangedBy,
    ChangedAt,
    SecondsInPrevious,
}

#[derive(DeriveIden, Clone, Copy)]
enum Products {
    Table,
    Id,
    Code,
    CodeKey,
    Name,
    Description,
    Prices,
    TaxRate,
    Active,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum Documents {
    #[sea_orm(iden = "quotes")]
    Quotes,
    #[sea_orm(iden = "orders")]
    Orders,
    Id,
    Number,
    CustomerId,
    OpportunityId,
    QuoteId,
    Currency,
    Status,
    ValidUntil,
    Lines,
    SubtotalMinor,
    DiscountMinor,
    TaxMinor,
    TotalMinor,
    Notes,
    SentAt,
    DecidedAt,
    OrderedAt,
    FulfilledAt,
    CancelledAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum DocumentNumbers {
    Table,
    Prefix,
    Year,
    Last,
}
