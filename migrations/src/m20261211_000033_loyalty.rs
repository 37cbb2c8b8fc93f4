//! Loyalty: the program's settings (one row, seeded), one account per customer (its balance and
//! tier, made when its first ledger row is written) and the ledger, never updated (but for
//! erasure's blanking of reasons). One earning and one reversal per order (a named unique
//! index: a rerun of the earning job writes nothing).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::{fk, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The rates of the seeded program: one point per unit in CNY, USD and EUR.
const DEFAULT_RATES: &str = r#"[{"currency":"CNY","points_per_unit":"1"},{"currency":"USD","points_per_unit":"1"},{"currency":"EUR","points_per_unit":"1"}]"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use LoyaltyProgram as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid(P::Id).primary_key())
                    .col(json_binary(P::EarnRates))
                    .col(integer(P::ExpiryMonths))
                    .col(big_integer(P::SilverPoints))
                    .col(big_integer(P::GoldPoints))
                    .col(big_integer(P::PlatinumPoints))
                    .col(timestamp_with_time_zone(P::CreatedAt))
                    .col(timestamp_with_time_zone(P::UpdatedAt))
                    .col(integer(P::Version))
                    .to_owned(),
            )
            .await?;
        let rates = DEFAULT_RATES
            .parse::<sea_orm::JsonValue>()
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let now = chrono::Utc::now();
        let seed = Query::insert()
            .into_table(P::Table)
            .columns([
                P::Id,
                P::EarnRates,
                P::ExpiryMonths,
                P::SilverPoints,
                P::GoldPoints,
                P::PlatinumPoints,
                P::CreatedAt,
                P::UpdatedAt,
                P::Version,
            ])
            .values_panic([
                uuid::Uuid::nil().into(),
                rates.into(),
                24.into(),
                1000i64.into(),
                5000i64.into(),
                20000i64.into(),
                now.into(),
                now.into(),
                1.into(),
            ])
            .to_owned();
        manager.exec_stmt(seed).await?;

        use LoyaltyAccounts as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(uuid(A::Id).primary_key())
                    .col(big_integer(A::Balance))
                    .col(string_len(A::Tier, 16))
                    .col(timestamp_with_time_zone(A::CreatedAt))
                    .col(timestamp_with_time_zone(A::UpdatedAt))
                    .col(integer(A::Version))
                    .foreign_key(&mut fk(
                        "loyalty_accounts_id_fkey",
                        A::Table,
                        A::Id,
                        "customers",
                    ))
                    .to_owned(),
            )
            .await?;

        use LoyaltyTransactions as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(uuid(T::Id).primary_key())
                    .col(uuid(T::CustomerId))
                    .col(string_len(T::Kind, 16))
                    .col(big_integer(T::Points))
                    .col(uuid_null(T::OrderId))
                    .col(text_null(T::Reason))
                    .col(timestamp_with_time_zone_null(T::ExpiresAt))
                    .col(big_integer(T::BalanceAfter))
                    .col(string_len(T::ActorType, 16))
                    .col(uuid_null(T::ActorId))
                    .col(timestamp_with_time_zone(T::CreatedAt))
                    .foreign_key(&mut fk(
                        "loyalty_transactions_customer_id_fkey",
                        T::Table,
                        T::CustomerId,
                        "customers",
                    ))
                    .to_owned(),
            )
            .await?;
        // One earning and one reversal per order (rows without an order never collide:
        // NULLs are distinct on both databases).
        unique_index(
            manager,
            "loyalty_transactions_order_kind_key",
            T::Table,
            &[T::OrderId, T::Kind],
        )
        .await?;
        // A customer's ledger, newest first; its sums by kind and time.
        index(
            manager,
            "loyalty_transactions_customer_idx",
            T::Table,
            &[T::CustomerId, T::CreatedAt, T::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoyaltyTransactions::Table.into_iden(),
            LoyaltyAccounts::Table.into_iden(),
            LoyaltyProgram::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum LoyaltyProgram {
    Table,
    Id,
    EarnRates,
    ExpiryMonths,
    SilverPoints,
    GoldPoints,
    PlatinumPoints,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum LoyaltyAccounts {
    Table,
    Id,
    Balance,
    Tier,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum LoyaltyTransactions {
    Table,
    Id,
    CustomerId,
    Kind,
    Points,
    OrderId,
    Reason,
    ExpiresAt,
    BalanceAfter,
    ActorType,
    ActorId,
    CreatedAt,
}
