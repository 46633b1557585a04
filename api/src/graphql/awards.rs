//! GraphQL surface of commendations: kinds of award, nominations and decisions, the awards on a
//! unit's page and a member's profile, and the year's figures. Rules in `service::awards`.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, connection::Connection};
use chrono::{DateTime, Utc};
use entities::award_kind::{self, Recipients};
use entities::award_nomination::{self as nomination, NominationStatus};
use entities::ids::{PersonId, UnitId};
use uuid::Uuid;

use super::{
    ContextExt,
    connection::{build, page},
    errors::in_argument,
    identity::PersonRef,
    org::OrgUnit,
    scalars::Date,
};
use service::{
    awards::{self as svc, Decision, Nominee},
    domain::{GlobalId, NodeKind},
    error::{ApiError, InputProblem},
};

/// Who a kind of award is for.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AwardRecipients", remote = "Recipients")]
pub enum GqlRecipients {
    /// Units (tập thể).
    Collective,
    /// People (cá nhân).
    Individual,
    Both,
}

/// Where a nomination stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "NominationStatus", remote = "NominationStatus")]
pub enum GqlStatus {
    /// Waiting for the awarding level.
    Proposed,
    /// Granted: an award, with its decision.
    Approved,
    Declined,
}

/// A kind of award a unit grants (a district's Giấy khen, the city's Bằng khen, the central
/// union's Bằng khen the city records).
pub struct AwardKind(pub award_kind::Model);

#[Object]
impl AwardKind {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::AwardKind, self.0.id).encode().into()
    }

    /// The unit whose officers decide it.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        Ok(super::unit(ctx, self.0.unit_id).await?.map(OrgUnit))
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Who grants it, as the certificate says.
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }

    async fn recipients(&self) -> GqlRecipients {
        self.0.recipients.into()
    }

    /// Whether it takes nominations.
    async fn active(&self) -> bool {
        self.0.active
    }
}

async fn kind_of(ctx: &Context<'_>, id: Uuid) -> Result<AwardKind> {
    Ok(AwardKind(ctx.loaders()?.award_kinds.load_one(id).await?.ok_or(ApiError::NotFound)?))
}

/// An award granted: what a unit's page and a member's profile show.
pub struct Award(pub nomination::Model);

#[Object]
impl Award {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::AwardNomination, self.0.id).encode().into()
    }

    async fn kind(&self, ctx: &Context<'_>) -> Result<AwardKind> {
        kind_of(ctx, self.0.kind_id).await
    }

    /// The year whose work it recognises.
    async fn year(&self) -> i32 {
        self.0.year
    }

    /// The number of the decision granting it.
    async fn decision_number(&self) -> Option<&str> {
        self.0.decision_number.as_deref()
    }

    async fn decision_date(&self) -> Option<Date> {
        self.0.decision_date.map(Date)
    }

    /// Why it was granted (empty once the awardee deleted her account).
    async fn citation(&self) -> &str {
        &self.0.citation
    }
}

/// A unit or a person proposed for an award, and what the awarding level decided. Officers over
/// the unit that proposed it read it.
pub struct AwardNomination(pub nomination::Model);

#[Object]
impl AwardNomination {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::AwardNomination, self.0.id).encode().into()
    }

    async fn kind(&self, ctx: &Context<'_>) -> Result<AwardKind> {
        kind_of(ctx, self.0.kind_id).await
    }

    async fn year(&self) -> i32 {
        self.0.year
    }

    /// The unit that proposed it.
    async fn nominating_unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        Ok(super::unit(ctx, self.0.nominating_unit_id).await?.map(OrgUnit))
    }

    /// The unit nominated (a collective award); null for a person.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<OrgUnit>> {
        match self.0.unit_id {
            Some(id) => Ok(super::unit(ctx, id).await?.map(OrgUnit)),
            None => Ok(None),
        }
    }

    /// The person nominated (an individual award); null for a unit.
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.0.person_id).await
    }

    async fn citation(&self) -> &str {
        &self.0.citation
    }

    async fn status(&self) -> GqlStatus {
        self.0.status.into()
    }

    async fn decision_number(&self) -> Option<&str> {
        self.0.decision_number.as_deref()
    }

    async fn decision_date(&self) -> Option<Date> {
        self.0.decision_date.map(Date)
    }

    /// Why it was declined.
    async fn decline_reason(&self) -> Option<&str> {
        self.0.decline_reason.as_deref()
    }

    async fn nominated_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, Some(self.0.nominated_by)).await
    }

    async fn nominated_at(&self) -> DateTime<Utc> {
        self.0.nominated_at
    }

    async fn decided_by(&self, ctx: &Context<'_>) -> Result<Option<PersonRef>> {
        PersonRef::load(ctx, self.0.decided_by).await
    }

    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
}

/// The awards of one kind in a year's figures.
pub struct AwardKindFigures(svc::KindFigures);

#[Object]
impl AwardKindFigures {
    async fn kind(&self) -> AwardKind {
        AwardKind(self.0.kind.clone())
    }

    /// Units awarded.
    async fn collective(&self) -> i64 {
        self.0.collective
    }

    /// People awarded.
    async fn individual(&self) -> i64 {
        self.0.individual
    }

    /// Of the people, women.
    async fn women(&self) -> i64 {
        self.0.women
    }
}

/// A year's awards to the units and people of a subtree.
pub struct AwardStatistics(svc::Statistics);

#[Object]
impl AwardStatistics {
    /// By kind: the highest level's first, then by name.
    async fn kinds(&self) -> Vec<AwardKindFigures> {
        self.0.kinds.iter().cloned().map(AwardKindFigures).collect()
    }

    async fn collective(&self) -> i64 {
        self.0.collective()
    }

    async fn individual(&self) -> i64 {
        self.0.individual()
    }

    async fn women(&self) -> i64 {
        self.0.women()
    }

    /// Women among the people awarded (0.75 = 75%); null when nobody was.
    async fn women_share(&self) -> Option<f64> {
        self.0.women_share()
    }
}

/// Extra fields of the list of nominations.
pub struct NominationListFields {
    filter: svc::Filter,
}

#[Object]
impl NominationListFields {
    /// Nominations matching the filter (one more statement, only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count(&ctx.state()?.db, self.filter).await?)
    }
}

/// A kind of award to define.
#[derive(InputObject)]
pub struct AwardKindInput {
    /// 1–300 characters, e.g. "Giấy khen".
    pub name: String,
    /// Who grants it, as the certificate says: 1–300 characters.
    pub issuer: String,
    pub recipients: GqlRecipients,
}

/// A nomination: `unitId` (a collective award) or `personId` (an individual one).
#[derive(InputObject)]
pub struct NominationInput {
    pub kind_id: ID,
    /// The year whose work it recognises (2000 to this year).
    pub year: i32,
    /// The unit proposing it: the caller's.
    pub nominating_unit_id: ID,
    pub unit_id: Option<ID>,
    pub person_id: Option<ID>,
    /// Why: 1–2,000 characters.
    pub citation: String,
}

/// The awards on a unit's page and a member's profile.
pub(super) async fn unit_awards(ctx: &Context<'_>, unit: UnitId, year: Option<i32>) -> Result<Vec<Award>> {
    let all = ctx.loaders()?.unit_awards.load_one(unit).await?.unwrap_or_default();
    Ok(all.into_iter().filter(|a| year.is_none_or(|y| a.year == y)).map(Award).collect())
}

/// A member's awards, for whoever may read her membership (batched over a page of members).
pub(super) async fn person_awards(ctx: &Context<'_>, person: PersonId) -> Result<Vec<Award>> {
    let all = ctx.loaders()?.person_awards.load_one(person).await?.unwrap_or_default();
    Ok(all.into_iter().map(Award).collect())
}

#[derive(Default)]
pub struct AwardQuery;

#[Object]
impl AwardQuery {
    /// The kinds of award usable at a unit (any officer over it): its own and those of every
    /// unit above it, the highest level's first; inactive ones too when `all`.
    async fn award_kinds(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        #[graphql(default)] all: bool,
    ) -> Result<Vec<AwardKind>> {
        ctx.auth()?.require()?;
        let unit: UnitId = GlobalId::decode_id(&unit_id, "unitId")?;
        Ok(svc::kinds_at(ctx.call()?, unit, all).await?.into_iter().map(AwardKind).collect())
    }

    /// The nominations made by a unit and the units below it (any officer over it), oldest
    /// first; by year, status and kind when given.
    #[allow(clippy::too_many_arguments)]
    async fn award_nominations(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        year: Option<i32>,
        status: Option<GqlStatus>,
        kind_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AwardNomination, NominationListFields>> {
        ctx.auth()?.require()?;
        let filter = svc::Filter {
            unit_id: GlobalId::decode_id(&unit_id, "unitId")?,
            year,
            status: status.map(Into::into),
            kind_id: kind_id.map(|k| GlobalId::decode_as(&k, NodeKind::AwardKind, "kindId")).transpose()?,
        };
        let page = page::<svc::Cursor>(first, after.as_deref())?;
        let had_cursor = page.after.is_some();
        let (rows, has_next) = svc::list(ctx.call()?, filter, page.first, page.after).await?;
        Ok(build(
            rows.into_iter().map(AwardNomination).collect(),
            has_next,
            had_cursor,
            NominationListFields { filter },
            |n| svc::Cursor { at: n.0.nominated_at, id: n.0.id },
            |n| n,
        ))
    }

    /// The year's awards to a unit's subtree (any officer over it): by kind, collective and
    /// individual, and the share of women among the people.
    async fn award_statistics(&self, ctx: &Context<'_>, unit_id: ID, year: i32) -> Result<AwardStatistics> {
        ctx.auth()?.require()?;
        let unit: UnitId = GlobalId::decode_id(&unit_id, "unitId")?;
        Ok(AwardStatistics(svc::statistics(ctx.call()?, unit, year).await?))
    }

    /// The caller's own awards, newest decision first.
    async fn my_awards(&self, ctx: &Context<'_>) -> Result<Vec<Award>> {
        let viewer = ctx.auth()?.require()?;
        person_awards(ctx, viewer.person_id).await
    }
}

#[derive(Default)]
pub struct AwardMutation;

#[Object]
impl AwardMutation {
    /// Defines a kind of award decided at a unit (its officers and admins).
    async fn create_award_kind(
        &self,
        ctx: &Context<'_>,
        unit_id: ID,
        input: AwardKindInput,
    ) -> Result<AwardKind> {
        ctx.auth()?.require()?;
        let unit: UnitId = GlobalId::decode_id(&unit_id, "unitId")?;
        let input =
            svc::KindInput { name: input.name, issuer: input.issuer, recipients: input.recipients.into() };
        Ok(AwardKind(svc::create_kind(ctx.call()?, unit, input).await.map_err(in_argument("input"))?))
    }

    /// Takes nominations for a kind, or stops; those made stay and can still be decided.
    async fn set_award_kind_active(&self, ctx: &Context<'_>, kind_id: ID, active: bool) -> Result<AwardKind> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&kind_id, NodeKind::AwardKind, "kindId")?;
        Ok(AwardKind(svc::set_kind_active(ctx.call()?, id, active).await?))
    }

    /// Nominates a unit of the caller's subtree, or one of its people, for an award usable there.
    async fn nominate_for_award(&self, ctx: &Context<'_>, input: NominationInput) -> Result<AwardNomination> {
        ctx.auth()?.require()?;
        let field = |f: &'static str| {
            move |e: ApiError| {
                in_argument("input")(match e {
                    ApiError::BadInput { problem, .. } => ApiError::bad_input(f, problem),
                    other => other,
                })
            }
        };
        let nominee = match (&input.unit_id, &input.person_id) {
            (Some(unit), None) => {
                Nominee::Unit(GlobalId::decode_id(unit, "unit_id").map_err(field("unit_id"))?)
            }
            (None, Some(person)) => {
                Nominee::Person(GlobalId::decode_id(person, "person_id").map_err(field("person_id"))?)
            }
            _ => {
                return Err(
                    in_argument("input")(ApiError::bad_input("unit_id", InputProblem::ExactlyOne)).into()
                );
            }
        };
        let nomination = svc::NominationInput {
            kind_id: GlobalId::decode_as(&input.kind_id, NodeKind::AwardKind, "kind_id")
                .map_err(field("kind_id"))?,
            year: input.year,
            nominating_unit_id: GlobalId::decode_id(&input.nominating_unit_id, "nominating_unit_id")
                .map_err(field("nominating_unit_id"))?,
            nominee,
            citation: input.citation,
        };
        Ok(AwardNomination(svc::nominate(ctx.call()?, nomination).await.map_err(in_argument("input"))?))
    }

    /// Approves a proposed nomination with the decision's number (1–50 characters) and date
    /// (from 1 January of its year to today): the kind's deciders, not the nominator.
    async fn approve_nomination(
        &self,
        ctx: &Context<'_>,
        nomination_id: ID,
        decision_number: String,
        decision_date: Date,
    ) -> Result<AwardNomination> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&nomination_id, NodeKind::AwardNomination, "nominationId")?;
        let decision = Decision::Approve { decision_number, decision_date: decision_date.0 };
        Ok(AwardNomination(svc::decide(ctx.call()?, id, decision).await?))
    }

    /// Declines a proposed nomination with a reason (1–1,000 characters) the nominator reads.
    async fn decline_nomination(
        &self,
        ctx: &Context<'_>,
        nomination_id: ID,
        reason: String,
    ) -> Result<AwardNomination> {
        ctx.auth()?.require()?;
        let id = GlobalId::decode_as(&nomination_id, NodeKind::AwardNomination, "nominationId")?;
        Ok(AwardNomination(svc::decide(ctx.call()?, id, Decision::Decline { reason }).await?))
    }
}
