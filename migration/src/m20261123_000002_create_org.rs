//! The unit tree (with its closure table) and officer role assignments.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OrgUnit {
    Table,
    Id,
    ParentId,
    Kind,
    Code,
    Name,
    NameSearch,
    Depth,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgUnitClosure {
    Table,
    AncestorId,
    DescendantId,
    Depth,
}

#[derive(DeriveIden)]
enum OfficerRole {
    Table,
    Id,
    PersonId,
    UnitId,
    Role,
    GrantedBy,
    GrantedAt,
    RevokedBy,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Person {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgUnit::Table)
                    .col(ColumnDef::new(OrgUnit::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(OrgUnit::ParentId).uuid().null())
                    .col(ColumnDef::new(OrgUnit::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(OrgUnit::Code).string_len(32).not_null().unique_key())
                    .col(ColumnDef::new(OrgUnit::Name).string_len(200).not_null())
                    .col(ColumnDef::new(OrgUnit::NameSearch).string_len(200).not_null())
                    .col(ColumnDef::new(OrgUnit::Depth).integer().not_null())
                    .col(ColumnDef::new(OrgUnit::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(OrgUnit::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_org_unit_parent")
                            .from(OrgUnit::Table, OrgUnit::ParentId)
                            .to(OrgUnit::Table, OrgUnit::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Children of a unit in display order, and name search / ordering across the tree.
        manager
            .create_index(
                Index::create()
                    .name("ix_org_unit_parent_name")
                    .table(OrgUnit::Table)
                    .col(OrgUnit::ParentId)
                    .col(OrgUnit::NameSearch)
                    .col(OrgUnit::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_org_unit_name_search")
                    .table(OrgUnit::Table)
                    .col(OrgUnit::NameSearch)
                    .col(OrgUnit::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrgUnitClosure::Table)
                    .col(ColumnDef::new(OrgUnitClosure::AncestorId).uuid().not_null())
                    .col(ColumnDef::new(OrgUnitClosure::DescendantId).uuid().not_null())
                    .col(ColumnDef::new(OrgUnitClosure::Depth).integer().not_null())
                    .primary_key(
                        Index::create().col(OrgUnitClosure::AncestorId).col(OrgUnitClosure::DescendantId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_org_unit_closure_ancestor")
                            .from(OrgUnitClosure::Table, OrgUnitClosure::AncestorId)
                            .to(OrgUnit::Table, OrgUnit::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_org_unit_closure_descendant")
                            .from(OrgUnitClosure::Table, OrgUnitClosure::DescendantId)
                            .to(OrgUnit::Table, OrgUnit::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // "Ancestors of X" (authorisation, breadcrumbs) reads this index.
        manager
            .create_index(
                Index::create()
                    .name("ix_org_unit_closure_descendant")
                    .table(OrgUnitClosure::Table)
                    .col(OrgUnitClosure::DescendantId)
                    .col(OrgUnitClosure::Depth)
                    .col(OrgUnitClosure::AncestorId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OfficerRole::Table)
                    .col(ColumnDef::new(OfficerRole::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(OfficerRole::PersonId).uuid().not_null())
                    .col(ColumnDef::new(OfficerRole::UnitId).uuid().not_null())
                    .col(ColumnDef::new(OfficerRole::Role).string_len(24).not_null())
                    .col(ColumnDef::new(OfficerRole::GrantedBy).uuid().null())
                    .col(ColumnDef::new(OfficerRole::GrantedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(OfficerRole::RevokedBy).uuid().null())
                    .col(ColumnDef::new(OfficerRole::RevokedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_officer_role_person")
                            .from(OfficerRole::Table, OfficerRole::PersonId)
                            .to(Person::Table, Person::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_officer_role_unit")
                            .from(OfficerRole::Table, OfficerRole::UnitId)
                            .to(OrgUnit::Table, OrgUnit::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_officer_role_person")
                    .table(OfficerRole::Table)
                    .col(OfficerRole::PersonId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_officer_role_unit")
                    .table(OfficerRole::Table)
                    .col(OfficerRole::UnitId)
                    .to_owned(),
            )
            .await?;
        // A person holds a given role at a given unit at most once at a time; the partial index
        // has the same syntax on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_officer_role_active ON officer_role (person_id, unit_id, role) \
                 WHERE revoked_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OfficerRole::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OrgUnitClosure::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(OrgUnit::Table).to_owned()).await
    }
}
