//! GraphQL surface of the unit tree and of officer roles.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};
use entities::ids::{PersonId, UnitId};
use entities::{officer_role, org_unit};
use uuid::Uuid;

use super::{
    ContextExt, KnownUnits,
    connection::{build, page},
    identity::{Person, PersonRef},
    know_children, know_parents,
};
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
    {
        org::{self as svc, UnitCursor, UnitFilter},
        roles::{self, Grantee, RoleFilter},
    },
};

/// Kind of a unit of the union, from the city down to a group.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OrgUnitKind", remote = "service::org::UnitKind")]
pub enum GqlUnitKind {
    City,
    District,
    Base,
    Branch,
    Group,
}

/// An officer role; held at a unit, it covers the unit's whole subtree.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OfficerRoleKind", remote = "service::authz::Role")]
pub enum GqlRole {
    /// Chi hội trưởng: leads a branch.
    BranchLeader,
    /// Cán bộ Hội of a base, district or the city.
    UnitOfficer,
    /// Handles domestic-violence reports.
    CaseOfficer,
    /// Manages the structure and officer assignments.
    UnitAdmin,
}

/// A unit of the union's tree.
pub struct OrgUnit(pub org_unit::Model);

/// Extra fields of a unit list.
pub struct UnitListFields(UnitFilter);

#[Object]
impl UnitListFields {
    /// Number of units matching the filter (one extra query, only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_units(&ctx.state()?.db, &self.0).await?)
    }
}

pub type OrgUnitConnection = Connection<String, OrgUnit, UnitListFields>;

fn unit_page(
    rows: Vec<org_unit::Model>,
    has_next: bool,
    had_cursor: bool,
    filter: UnitFilter,
) -> OrgUnitConnection {
    build(rows, has_next, had_cursor, UnitListFields(filter), UnitCursor::of, OrgUnit)
}

#[Object]
impl OrgUnit {
    pub async fn id(&self) -> ID {
        GlobalId::of(self.0.id).encode().into()
    }

    /// Stable code, e.g. `HN-LB`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn kind(&self) -> GqlUnitKind {
        self.0.kind.into()
    }

    /// Distance from the root (the city is 0).
    async fn depth(&self) -> i32 {
        self.0.depth
    }

    /// Whether this unit itself requires a supervisor's approval before its case officers (and
    /// those of the units below) close a violence report. A unit above that requires it
    /// requires it here too.
    async fn case_closure_approval(&self) -> bool {
        self.0.case_closure_approval
    }

    /// The parent (for an integration client, only inside its subtree).
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        let Some(pid) = self.0.parent_id else { return Ok(None) };
        let top = client_top_depth(ctx).await?;
        if top.is_some_and(|top| self.0.depth <= top) {
            return Ok(None);
        }
        Ok(crate::graphql::unit(ctx, pid).await?.map(OrgUnit))
    }

    /// Every ancestor, the root first and the parent last (for an integration client, only
    /// those inside its subtree).
    async fn ancestors(&self, ctx: &Context<'_>) -> Result<Vec<OrgUnit>> {
        let list = ctx.loaders()?.ancestors.load_one(self.0.id).await?.unwrap_or_default();
        let top = client_top_depth(ctx).await?;
        Ok(list.into_iter().filter(|u| top.is_none_or(|top| u.depth >= top)).map(OrgUnit).collect())
    }

    /// Direct children, by name.
    async fn children(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<OrgUnitConnection> {
        // Boxed: every field of every unit of a page is a future as large as the largest one's
        // (this one, about 2 KB unboxed), moved whole into its own box.
        Box::pin(async move {
            let page = page::<UnitCursor>(first, after.as_deref())?;
            let filter = UnitFilter { parent_id: Some(self.0.id), ..Default::default() };
            let known = || ctx.data_opt::<KnownUnits>().and_then(|k| k.take_children(self.0.id, page.first));
            let (rows, has_next) = match &page.after {
                None if let Some(read_ahead) = known() => read_ahead,
                // The first page of many units' children is batched into one query.
                None => ctx.loaders()?.children.load_one((self.0.id, page.first)).await?.unwrap_or_default(),
                Some(after) => svc::list_units(&ctx.state()?.db, &filter, page.first, Some(after)).await?,
            };
            let below = ctx.look_ahead().field("edges").field("node").field("children");
            know_children(ctx, below, rows.iter().map(|u| u.id)).await?;
            Ok(unit_page(rows, has_next, page.after.is_some(), filter))
        })
        .await
    }

    /// The awards the unit received (public, as on its page), newest decision first; of one
    /// year when given.
    async fn awards(&self, ctx: &Context<'_>, year: Option<i32>) -> Result<Vec<super::awards::Award>> {
        super::awards::unit_awards(ctx, self.0.id, year).await
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// `ACTIVE`, or `MERGED` into `mergedInto` (then read-only history below that unit).
    async fn status(&self) -> GqlUnitStatus {
        self.0.status.into()
    }

    /// The unit it was merged into.
    async fn merged_into(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        match self.0.merged_into_id {
            Some(id) => Ok(crate::graphql::unit(ctx, id).await?.map(OrgUnit)),
            None => Ok(None),
        }
    }

    async fn merged_at(&self) -> Option<DateTime<Utc>> {
        self.0.merged_at
    }
}

/// Whether a unit is live.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "OrgUnitStatus", remote = "service::org::UnitStatus")]
pub enum GqlUnitStatus {
    Active,
    /// Merged into another unit (`mergedInto`): its code still resolves and its history is
    /// read; nothing new is done there (`CONFLICT` `UNIT_MERGED`).
    Merged,
}

/// What `mergeOrgUnits` did.
pub struct MergeResult(svc::merge::Merged);

#[Object]
impl MergeResult {
    /// The unit merged into.
    async fn into(&self) -> OrgUnit {
        OrgUnit(self.0.into.clone())
    }

    /// The units merged, now `MERGED`, in the order given.
    async fn sources(&self) -> Vec<OrgUnit> {
        self.0.sources.iter().cloned().map(OrgUnit).collect()
    }

    /// Child units moved below the target.
    async fn children_moved(&self) -> u64 {
        self.0.moved.children
    }

    /// Memberships moved (each with a `TRANSFERRED` event).
    async fn memberships_moved(&self) -> u64 {
        self.0.moved.memberships
    }

    /// Pending join and transfer requests moved.
    async fn requests_moved(&self) -> u64 {
        self.0.moved.requests
    }

    /// Officer roles ended at a source and granted again at the target.
    async fn roles_moved(&self) -> u64 {
        self.0.moved.roles_moved
    }

    /// Officer roles ended (asked for, or held at the target already).
    async fn roles_ended(&self) -> u64 {
        self.0.moved.roles_ended
    }

    async fn trainings_moved(&self) -> u64 {
        self.0.moved.trainings
    }

    async fn campaigns_moved(&self) -> u64 {
        self.0.moved.campaigns
    }

    async fn posts_moved(&self) -> u64 {
        self.0.moved.posts
    }

    /// Violence reports placed at a source (their routing and handling follow too).
    async fn violence_reports_moved(&self) -> u64 {
        self.0.moved.violence_reports
    }
}

/// The assignment of an officer role to a person at a unit, with its history.
pub struct OfficerRole(pub officer_role::Model);

/// Extra fields of a role list.
pub struct RoleListFields(RoleFilter);

#[Object]
impl RoleListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(roles::count_roles(&ctx.state()?.db, &self.0).await?)
    }
}

pub type OfficerRoleConnection = Connection<String, OfficerRole, RoleListFields>;

#[Object]
impl OfficerRole {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::OfficerRole, self.0.id).encode().into()
    }

    async fn role(&self) -> Result<GqlRole> {
        Ok(Some(self.0.role).ok_or_else(|| ApiError::internal("unknown role in database"))?.into())
    }

    async fn unit(&self, ctx: &Context<'_>) -> Result<OrgUnit> {
        Ok(OrgUnit(crate::graphql::unit(ctx, self.0.unit_id).await?.ok_or(ApiError::NotFound)?))
    }

    async fn person(&self, ctx: &Context<'_>) -> Result<Person> {
        Ok(Person(ctx.loaders()?.people.load_one(self.0.person_id).await?.ok_or(ApiError::NotFound)?))
    }

    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.granted_at
    }

    async fn granted_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.0.granted_by).await
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    async fn revoked_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.0.revoked_by).await
    }

    async fn active(&self) -> bool {
        self.0.revoked_at.is_none()
    }
}

/// The depth of an integration client's subtree root (what it reads starts there); `None` for
/// anyone else. The units it is shown all lie in that subtree, so an ancestor is inside it
/// exactly when it is no higher than the root.
async fn client_top_depth(ctx: &Context<'_>) -> Result<Option<i32>> {
    let service::auth::Auth::Client(client) = ctx.auth()? else { return Ok(None) };
    let root = crate::graphql::unit(ctx, client.unit_id).await?;
    Ok(Some(root.map_or(i32::MAX, |u| u.depth)))
}

#[derive(Default)]
pub struct OrgQuery;

#[Object]
impl OrgQuery {
    /// One unit, by its id or by its code (`HN-LB-BD-01`; exactly one of them). Units are
    /// public: anyone can browse the tree.
    async fn org_unit(&self, ctx: &Context<'_>, id: Option<ID>, code: Option<String>) -> Result<OrgUnit> {
        let unit = match (id, code) {
            (Some(id), None) => {
                svc::read_unit(ctx.call()?, GlobalId::decode_id::<UnitId>(&id, "id")?).await?
            }
            (None, Some(code)) if code.chars().count() > 64 => {
                return Err(ApiError::bad_input("code", InputProblem::TooLong).into());
            }
            (None, Some(code)) => svc::read_unit_by_code(ctx.call()?, &code).await?,
            _ => return Err(ApiError::bad_input("id", InputProblem::ExactlyOne).into()),
        };
        know_children(ctx, ctx.look_ahead().field("children"), std::iter::once(unit.id)).await?;
        Ok(OrgUnit(unit))
    }

    /// Units by words of their name or code, in any order and without accents (`bo de so 1`,
    /// `long bien`, `HN-LB-BD-01`): every word typed must start a word of the name or the
    /// code. Ordered by name.
    #[allow(clippy::too_many_arguments)] // the arguments are the public API
    async fn org_units(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only direct children of this unit.")] parent_id: Option<ID>,
        #[graphql(desc = "Only units anywhere below this unit.")] under_id: Option<ID>,
        kind: Option<GqlUnitKind>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<OrgUnitConnection> {
        let page = page::<UnitCursor>(first, after.as_deref())?;
        if search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(ApiError::bad_input("search", InputProblem::TooLong).into());
        }
        let filter = UnitFilter {
            parent_id: parent_id.map(|p| GlobalId::decode_id::<UnitId>(&p, "parentId")).transpose()?,
            under_id: under_id.map(|p| GlobalId::decode_id::<UnitId>(&p, "underId")).transpose()?,
            kind: kind.map(Into::into),
            search,
            within: None,
        };
        let filter = svc::unit_filter_for(ctx.call()?, filter).await?;
        let (rows, has_next) =
            svc::list_units(&ctx.state()?.db, &filter, page.first, page.after.as_ref()).await?;
        know_parents(ctx, &rows).await?;
        let below = ctx.look_ahead().field("edges").field("node").field("children");
        know_children(ctx, below, rows.iter().map(|u| u.id)).await?;
        Ok(unit_page(rows, has_next, page.after.is_some(), filter))
    }

    /// Officer role assignments at a unit (and, by default, below it), for a `UNIT_ADMIN` over it.
    async fn officer_roles(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        #[graphql(default = true)] include_subtree: bool,
        #[graphql(default = true)] active_only: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<OfficerRoleConnection> {
        ctx.auth()?.require()?;
        let page = page::<Uuid>(first, after.as_deref())?;
        let filter = RoleFilter {
            unit_id: GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?,
            include_subtree,
            active_only,
        };
        let (rows, has_next) = roles::list_roles(ctx.call()?, &filter, page.first, page.after).await?;
        Ok(build(rows, has_next, page.after.is_some(), RoleListFields(filter), |r| r.id, OfficerRole))
    }
}

#[derive(InputObject)]
pub struct CreateOrgUnitInput {
    /// The parent; omitted only for a new root (system administrators).
    pub parent_id: Option<ID>,
    pub kind: GqlUnitKind,
    /// Stable code: 2–32 of A–Z, 0–9, `-`, `_` (stored uppercase, unique).
    pub code: String,
    pub name: String,
}

#[derive(InputObject)]
pub struct RenameOrgUnitInput {
    pub id: ID,
    pub name: String,
}

#[derive(InputObject)]
pub struct MoveOrgUnitInput {
    pub id: ID,
    pub new_parent_id: ID,
}

#[derive(InputObject)]
pub struct AssignOfficerRoleInput {
    /// The person, by id…
    pub person_id: Option<ID>,
    /// …or by phone number (exactly one of the two).
    pub phone: Option<String>,
    pub unit_id: ID,
    pub role: GqlRole,
}

#[derive(Default)]
pub struct OrgMutation;

#[Object]
impl OrgMutation {
    /// Creates a unit under a parent (a `UNIT_ADMIN` over the parent).
    async fn create_org_unit(&self, ctx: &Context<'_>, input: CreateOrgUnitInput) -> Result<OrgUnit> {
        ctx.auth()?.require()?;
        let parent_id = input.parent_id.map(|p| GlobalId::decode_id::<UnitId>(&p, "parentId")).transpose()?;
        let new = svc::NewUnit { parent_id, kind: input.kind.into(), code: input.code, name: input.name };
        Ok(OrgUnit(svc::create_unit(ctx.call()?, new).await?))
    }

    /// Renames a unit (a `UNIT_ADMIN` over it).
    async fn rename_org_unit(&self, ctx: &Context<'_>, input: RenameOrgUnitInput) -> Result<OrgUnit> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_id::<UnitId>(&input.id, "id")?;
        Ok(OrgUnit(svc::rename_unit(ctx.call()?, id, &input.name).await?))
    }

    /// Turns the supervisor's approval for closing violence reports on or off for a unit and the
    /// units below it (a `UNIT_ADMIN` over it).
    async fn set_case_closure_approval(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        required: bool,
    ) -> Result<OrgUnit> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_id::<UnitId>(&unit_id, "unitId")?;
        Ok(OrgUnit(svc::set_case_closure_approval(ctx.call()?, id, required).await?))
    }

    /// Moves a unit and its whole subtree under another parent, in one transaction.
    async fn move_org_unit(&self, ctx: &Context<'_>, input: MoveOrgUnitInput) -> Result<OrgUnit> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_id::<UnitId>(&input.id, "id")?;
        let new_parent = GlobalId::decode_id::<UnitId>(&input.new_parent_id, "newParentId")?;
        Ok(OrgUnit(svc::move_unit(ctx.call()?, id, new_parent).await?))
    }

    /// Merges units into another of the same kind, in one transaction (a `UNIT_ADMIN` over all
    /// of them and over each source's parent): children, members, requests, roles (ended
    /// instead of moved for `endRoleIds`), trainings, campaigns, posts, reports and counters
    /// move to `intoId`; each source stays, `MERGED`, below it, with its history. See
    /// `docs/features/structure.md`.
    async fn merge_org_units(
        &self,
        ctx: &Context<'_>,
        source_ids: Vec<ID>,
        into_id: ID,
        #[graphql(default)] end_role_ids: Vec<ID>,
    ) -> Result<MergeResult> {
        ctx.auth()?.require()?;
        let sources = source_ids
            .iter()
            .map(|id| GlobalId::decode_id::<UnitId>(id, "sourceIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let into = GlobalId::decode_id::<UnitId>(&into_id, "intoId")?;
        let end_roles = end_role_ids
            .iter()
            .map(|id| GlobalId::decode_as(id, NodeKind::OfficerRole, "endRoleIds"))
            .collect::<Result<Vec<_>, _>>()?;
        let merged = svc::merge::merge_units(ctx.call()?, &sources, into, &end_roles).await?;
        Ok(MergeResult(merged))
    }

    /// Grants an officer role at a unit (a `UNIT_ADMIN` above; see `OfficerRoleKind`).
    async fn assign_officer_role(
        &self,
        ctx: &Context<'_>,
        input: AssignOfficerRoleInput,
    ) -> Result<OfficerRole> {
        ctx.auth()?.require()?;
        let grantee = match (input.person_id, input.phone) {
            (Some(id), None) => Grantee::PersonId(GlobalId::decode_id::<PersonId>(&id, "personId")?),
            (None, Some(phone)) => Grantee::Phone(phone),
            _ => return Err(ApiError::bad_input("personId", InputProblem::Required).into()),
        };
        let unit_id = GlobalId::decode_id::<UnitId>(&input.unit_id, "unitId")?;
        Ok(OfficerRole(roles::assign_role(ctx.call()?, grantee, unit_id, input.role.into()).await?))
    }

    /// Revokes an officer role assignment; the record stays, with who revoked it and when.
    async fn revoke_officer_role(&self, ctx: &Context<'_>, id: ID) -> Result<OfficerRole> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&id, NodeKind::OfficerRole, "id")?;
        Ok(OfficerRole(roles::revoke_role(ctx.call()?, id).await?))
    }
}
