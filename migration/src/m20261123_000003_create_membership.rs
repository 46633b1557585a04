//! Membership: memberships, join/transfer requests, the event history, citywide member numbers,
//! per-branch counters for statistics, and population figures for the attraction rate.

use sea_orm_migration::prelude::*;

use crate::util::{fk, index, raw, string, string_null, ts, ts_null, uuid, uuid_null, uuid_pk};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Person {
    Table,
    Language,
    Gender,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgUnit {
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
enum Membership {
    Table,
    Id,
    PersonId,
    BranchId,
    MemberNumber,
    Status,
    JoinedAt,
    LeftAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MembershipRequest {
    Table,
    Id,
    PersonId,
    Kind,
    BranchId,
    FromBranchId,
    Status,
    Note,
    DecisionReason,
    DecidedBy,
    DecidedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MembershipEvent {
    Table,
    Id,
    MembershipId,
    PersonId,
    Kind,
    FromBranchId,
    ToBranchId,
    FromStatus,
    ToStatus,
    ActorId,
    Reason,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Counter {
    Table,
    Name,
    NextValue,
}

#[derive(DeriveIden, Clone, Copy)]
enum BranchMemberCount {
    Table,
    BranchId,
    Active,
}

#[derive(DeriveIden, Clone, Copy)]
enum BranchMemberDay {
    Table,
    BranchId,
    Day,
    Joined,
    Left,
}

#[derive(DeriveIden, Clone, Copy)]
enum PopulationFigure {
    Table,
    Id,
    UnitId,
    Year,
    AdultWomen,
    EnteredBy,
    EnteredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The language notifications are written in (push texts are rendered when queued), and
        // the optional gender used by training statistics.
        manager
            .alter_table(
                Table::alter()
                    .table(Person::Table)
                    .add_column(ColumnDef::new(Person::Language).string_len(8).not_null().default("vi"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Person::Table)
                    .add_column(ColumnDef::new(Person::Gender).string_len(16).null())
                    .to_owned(),
            )
            .await?;

        use Membership as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(uuid_pk(M::Id))
                    .col(uuid(M::PersonId))
                    .col(uuid(M::BranchId))
                    .col(string(M::MemberNumber, 16).unique_key())
                    .col(string(M::Status, 16))
                    .col(ts(M::JoinedAt))
                    .col(ts_null(M::LeftAt))
                    .col(ts(M::CreatedAt))
                    .col(ts(M::UpdatedAt))
                    .foreign_key(&mut fk("fk_membership_person", M::Table, M::PersonId, Alias::new("person")))
                    .foreign_key(&mut fk("fk_membership_branch", M::Table, M::BranchId, OrgUnit::Table))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_membership_branch_status", M::Table, &[M::BranchId, M::Status]).await?;
        index(manager, "ix_membership_person", M::Table, &[M::PersonId]).await?;
        // At most one current (active or suspended) membership per person, even under races.
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_membership_current ON membership (person_id) \
             WHERE status IN ('ACTIVE', 'SUSPENDED')",
        )
        .await?;

        use MembershipRequest as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(uuid_pk(R::Id))
                    .col(uuid(R::PersonId))
                    .col(string(R::Kind, 16))
                    .col(uuid(R::BranchId))
                    .col(uuid_null(R::FromBranchId))
                    .col(string(R::Status, 16))
                    .col(string_null(R::Note, 500))
                    .col(string_null(R::DecisionReason, 500))
                    .col(uuid_null(R::DecidedBy))
                    .col(ts_null(R::DecidedAt))
                    .col(ts(R::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_membership_request_person",
                        R::Table,
                        R::PersonId,
                        Alias::new("person"),
                    ))
                    .foreign_key(&mut fk(
                        "fk_membership_request_branch",
                        R::Table,
                        R::BranchId,
                        OrgUnit::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_membership_request_queue", R::Table, &[R::Status, R::CreatedAt, R::Id]).await?;
        index(manager, "ix_membership_request_branch", R::Table, &[R::BranchId, R::Status]).await?;
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_membership_request_pending ON membership_request (person_id) \
             WHERE status = 'PENDING'",
        )
        .await?;

        use MembershipEvent as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(uuid_pk(E::Id))
                    .col(uuid(E::MembershipId))
                    .col(uuid(E::PersonId))
                    .col(string(E::Kind, 16))
                    .col(uuid_null(E::FromBranchId))
                    .col(uuid_null(E::ToBranchId))
                    .col(string_null(E::FromStatus, 16))
                    .col(string_null(E::ToStatus, 16))
                    .col(uuid_null(E::ActorId))
                    .col(string_null(E::Reason, 500))
                    .col(ts(E::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_membership_event_membership",
                        E::Table,
                        E::MembershipId,
                        M::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_membership_event_membership", E::Table, &[E::MembershipId, E::CreatedAt]).await?;

        manager
            .create_table(
                Table::create()
                    .table(Counter::Table)
                    .col(ColumnDef::new(Counter::Name).string_len(32).not_null().primary_key())
                    .col(ColumnDef::new(Counter::NextValue).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        raw(manager, "INSERT INTO counter (name, next_value) VALUES ('member_number', 1)").await?;

        manager
            .create_table(
                Table::create()
                    .table(BranchMemberCount::Table)
                    .col(ColumnDef::new(BranchMemberCount::BranchId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(BranchMemberCount::Active).big_integer().not_null().default(0))
                    .foreign_key(&mut fk(
                        "fk_branch_member_count_branch",
                        BranchMemberCount::Table,
                        BranchMemberCount::BranchId,
                        OrgUnit::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BranchMemberDay::Table)
                    .col(ColumnDef::new(BranchMemberDay::BranchId).uuid().not_null())
                    .col(ColumnDef::new(BranchMemberDay::Day).date().not_null())
                    .col(ColumnDef::new(BranchMemberDay::Joined).big_integer().not_null().default(0))
                    .col(ColumnDef::new(BranchMemberDay::Left).big_integer().not_null().default(0))
                    .primary_key(Index::create().col(BranchMemberDay::BranchId).col(BranchMemberDay::Day))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_branch_member_day_day", BranchMemberDay::Table, &[BranchMemberDay::Day]).await?;

        use PopulationFigure as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid_pk(P::Id))
                    .col(uuid(P::UnitId))
                    .col(ColumnDef::new(P::Year).integer().not_null())
                    .col(ColumnDef::new(P::AdultWomen).big_integer().not_null())
                    .col(uuid(P::EnteredBy))
                    .col(ts(P::EnteredAt))
                    .foreign_key(&mut fk("fk_population_figure_unit", P::Table, P::UnitId, OrgUnit::Table))
                    .to_owned(),
            )
            .await?;
        raw(
            manager,
            "CREATE UNIQUE INDEX ux_population_figure_unit_year ON population_figure (unit_id, year)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "population_figure",
            "branch_member_day",
            "branch_member_count",
            "counter",
            "membership_event",
            "membership_request",
            "membership",
        ] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
