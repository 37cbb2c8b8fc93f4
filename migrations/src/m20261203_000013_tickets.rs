//! Service tickets and their comments (public replies and internal notes).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_identity::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn to(table: &str) -> (Alias, Alias) {
    (Alias::new(table), Alias::new("id"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let references = |name: &str, column: Tickets, table: &str| {
            let (table, id) = to(table);
            ForeignKey::create()
                .name(name)
                .from(Tickets::Table, column)
                .to(table, id)
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .col(uuid(Tickets::Id).primary_key())
                    .col(uuid(Tickets::CustomerId))
                    .col(uuid_null(Tickets::ContactId))
                    .col(string_len(Tickets::Subject, 200))
                    .col(text_null(Tickets::Description))
                    .col(string_len(Tickets::Channel, 32))
                    .col(string_len(Tickets::Category, 32))
                    .col(string_len(Tickets::Priority, 16))
                    .col(string_len(Tickets::Status, 16))
                    .col(uuid_null(Tickets::AssigneeId))
                    .col(uuid_null(Tickets::TeamId))
                    .col(json_binary(Tickets::Tags))
                    .col(timestamp_with_time_zone_null(Tickets::FirstRespondedAt))
                    .col(timestamp_with_time_zone_null(Tickets::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Tickets::ClosedAt))
                    .col(uuid_null(Tickets::CreatedBy))
                    .col(timestamp_with_time_zone(Tickets::CreatedAt))
                    .col(timestamp_with_time_zone(Tickets::UpdatedAt))
                    .col(integer(Tickets::Version))
                    .foreign_key(&mut references(
                        "tickets_customer_id_fkey",
                        Tickets::CustomerId,
                        "customers",
                    ))
                    .foreign_key(&mut references(
                        "tickets_contact_id_fkey",
                        Tickets::ContactId,
                        "contacts",
                    ))
                    .foreign_key(&mut references(
                        "tickets_assignee_id_fkey",
                        Tickets::AssigneeId,
                        "users",
                    ))
                    .foreign_key(&mut references(
                        "tickets_team_id_fkey",
                        Tickets::TeamId,
                        "teams",
                    ))
                    .to_owned(),
            )
            .await?;
        // Lists: newest first, alone or by status, team, assignee or customer.
        index(
            manager,
            "tickets_created_idx",
            Tickets::Table,
            &[Tickets::CreatedAt, Tickets::Id],
        )
        .await?;
        for (name, column) in [
            ("tickets_status_idx", Tickets::Status),
            ("tickets_team_idx", Tickets::TeamId),
            ("tickets_assignee_idx", Tickets::AssigneeId),
            ("tickets_customer_idx", Tickets::CustomerId),
        ] {
            let columns = [column, Tickets::CreatedAt, Tickets::Id];
            index(manager, name, Tickets::Table, &columns).await?;
        }
        let (tickets, tickets_id) = to("tickets");
        manager
            .create_table(
                Table::create()
                    .table(TicketComments::Table)
                    .col(uuid(TicketComments::Id).primary_key())
                    .col(uuid(TicketComments::TicketId))
                    .col(text(TicketComments::Body))
                    .col(boolean(TicketComments::Public))
                    .col(uuid_null(TicketComments::AuthorId))
                    .col(timestamp_with_time_zone(TicketComments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("ticket_comments_ticket_id_fkey")
                            .from(TicketComments::Table, TicketComments::TicketId)
                            .to(tickets, tickets_id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ticket_comments_ticket_idx",
            TicketComments::Table,
            &[TicketComments::TicketId, TicketComments::Id],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TicketComments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Tickets::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    Id,
    CustomerId,
    ContactId,
    Subject,
    Description,
    Channel,
    Category,
    Priority,
    Status,
    AssigneeId,
    TeamId,
    Tags,
    FirstRespondedAt,
    ResolvedAt,
    ClosedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum TicketComments {
    Table,
    Id,
    TicketId,
    Body,
    Public,
    AuthorId,
    CreatedAt,
}
