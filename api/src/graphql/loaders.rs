//! Per-request DataLoaders for relation fields, so a list page issues a bounded number of
//! queries whatever its size. A fresh set is made for every request (for every connection on the
//! WebSocket): nothing is shared across callers with different rights. Only the people loader
//! caches, within its request, so a list that already read the people can prime it.
//!
//! The member app's lists (campaigns, trainings) read their rows' personal fields ahead, in one
//! statement per field for the whole page, when the query asks for them ([`Ahead`]): those fields
//! then answer at once, without a loader's batching delay.

use entities::ids::{CampaignId, MembershipId, PersonId, TrainingId, UnitId};
use std::{collections::HashMap, hash::Hash, sync::Mutex};

use async_graphql::{
    Context,
    dataloader::{DataLoader, HashMapCache, Loader},
};
use entities::{officer_role, org_unit, person};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use service::{
    error::ApiError,
    {identity, org, roles},
};

/// All loaders of one request.
pub struct Loaders {
    pub units: DataLoader<UnitLoader>,
    pub ancestors: DataLoader<AncestorsLoader>,
    pub children: DataLoader<ChildrenLoader>,
    /// Cached for the request, so lists that already hold the people can prime it.
    pub people: DataLoader<PersonLoader, HashMapCache>,
    pub roles_by_person: DataLoader<RolesByPersonLoader>,
    pub membership_events: DataLoader<MembershipEventsLoader>,
    pub trainings: DataLoader<TrainingLoader>,
    /// A person's registration for a training, keyed by (person, training).
    pub registrations: DataLoader<RegistrationLoader>,
    pub waitlist_positions: DataLoader<WaitlistPositionLoader>,
    pub campaigns: DataLoader<CampaignLoader>,
    /// A campaign's criteria, in order.
    pub campaign_criteria: DataLoader<CampaignCriteriaLoader>,
    /// A person's pledges to a campaign for a year, keyed by (person, campaign, year).
    pub my_pledges: DataLoader<PledgeLoader>,
    /// Criteria read ahead by the campaign list.
    pub criteria_ahead: Ahead<CampaignId, Vec<entities::campaign_criterion::Model>>,
    /// The caller's pledges read ahead by the campaign list.
    pub pledges_ahead: Ahead<(PersonId, CampaignId, i32), Vec<entities::pledge::Model>>,
    /// The caller's registrations read ahead by the training list (`None`: she has none).
    pub registrations_ahead: Ahead<(PersonId, TrainingId), Option<entities::training_registration::Model>>,
    /// A target's counters (comments, each reaction), keyed by target.
    pub engagement: DataLoader<EngagementLoader>,
    /// A person's reaction to a target, keyed by (person, target).
    pub my_reactions: DataLoader<MyReactionLoader>,
    /// A record's photos (a story's), in order, keyed by the record.
    pub photos: DataLoader<PhotoLoader>,
    /// A unit's approved awards, newest decision first.
    pub unit_awards: DataLoader<UnitAwardsLoader>,
    /// Kinds of award by id.
    pub award_kinds: DataLoader<AwardKindLoader>,
    /// A person's awards, newest decision first.
    pub person_awards: DataLoader<PersonAwardsLoader>,
}

/// Values a list read ahead for the fields of its rows. Each is taken by the first field that
/// asks for it, so it answers one field of one row once; anything else goes through the loaders
/// (and a mutation, which lists nothing, never sees a value read before it).
pub struct Ahead<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Ahead<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K: Eq + Hash, V> Ahead<K, V> {
    pub fn put(&self, values: impl IntoIterator<Item = (K, V)>) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(values);
    }

    pub fn take(&self, key: &K) -> Option<V> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key)
    }
}

/// Whether the nodes of the connection being resolved select `field` (through `edges { node }`
/// or `nodes`), and only without arguments: what a list can read ahead for all its rows.
pub fn nodes_select(ctx: &Context<'_>, field: &str) -> bool {
    let ahead = ctx.look_ahead();
    let selections = [ahead.field("edges").field("node").field(field), ahead.field("nodes").field(field)];
    let fields: Vec<_> = selections.iter().flat_map(|s| s.selection_fields()).collect();
    !fields.is_empty() && fields.iter().all(|f| f.arguments().is_ok_and(|a| a.is_empty()))
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        // Batches run in their own task; they keep the request's span (and so its request id).
        let spawn = |f| {
            tokio::spawn(tracing::Instrument::instrument(f, tracing::Span::current()));
        };
        Self {
            units: DataLoader::new(UnitLoader(db.clone()), spawn),
            ancestors: DataLoader::new(AncestorsLoader(db.clone()), spawn),
            children: DataLoader::new(ChildrenLoader(db.clone()), spawn),
            people: DataLoader::with_cache(PersonLoader(db.clone()), spawn, HashMapCache::default()),
            roles_by_person: DataLoader::new(RolesByPersonLoader(db.clone()), spawn),
            membership_events: DataLoader::new(MembershipEventsLoader(db.clone()), spawn),
            trainings: DataLoader::new(TrainingLoader(db.clone()), spawn),
            registrations: DataLoader::new(RegistrationLoader(db.clone()), spawn),
            waitlist_positions: DataLoader::new(WaitlistPositionLoader(db.clone()), spawn),
            campaigns: DataLoader::new(CampaignLoader(db.clone()), spawn),
            campaign_criteria: DataLoader::new(CampaignCriteriaLoader(db.clone()), spawn),
            my_pledges: DataLoader::new(PledgeLoader(db.clone()), spawn),
            criteria_ahead: Ahead::default(),
            pledges_ahead: Ahead::default(),
            registrations_ahead: Ahead::default(),
            engagement: DataLoader::new(EngagementLoader(db.clone()), spawn),
            my_reactions: DataLoader::new(MyReactionLoader(db.clone()), spawn),
            photos: DataLoader::new(PhotoLoader(db.clone()), spawn),
            unit_awards: DataLoader::new(UnitAwardsLoader(db.clone()), spawn),
            award_kinds: DataLoader::new(AwardKindLoader(db.clone()), spawn),
            person_awards: DataLoader::new(PersonAwardsLoader(db.clone()), spawn),
        }
    }
}

pub struct UnitLoader(DatabaseConnection);

impl Loader<UnitId> for UnitLoader {
    type Value = org_unit::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[UnitId]) -> Result<HashMap<UnitId, Self::Value>, Self::Error> {
        org::units_by_ids(&self.0, keys).await
    }
}

/// Ancestors of a unit, root first.
pub struct AncestorsLoader(DatabaseConnection);

impl Loader<UnitId> for AncestorsLoader {
    type Value = Vec<org_unit::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[UnitId]) -> Result<HashMap<UnitId, Self::Value>, Self::Error> {
        org::ancestors_of(&self.0, keys).await
    }
}

/// The first page of a unit's children, keyed by (parent, page size).
pub struct ChildrenLoader(DatabaseConnection);

impl Loader<(UnitId, u64)> for ChildrenLoader {
    type Value = (Vec<org_unit::Model>, bool);
    type Error = ApiError;

    async fn load(&self, keys: &[(UnitId, u64)]) -> Result<HashMap<(UnitId, u64), Self::Value>, Self::Error> {
        let mut by_size: HashMap<u64, Vec<UnitId>> = HashMap::new();
        for &(parent, size) in keys {
            by_size.entry(size).or_default().push(parent);
        }
        let mut out = HashMap::new();
        for (size, parents) in by_size {
            for (parent, page) in org::first_children_of(&self.0, &parents, size).await? {
                out.insert((parent, size), page);
            }
        }
        Ok(out)
    }
}

pub struct PersonLoader(DatabaseConnection);

impl Loader<PersonId> for PersonLoader {
    type Value = person::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[PersonId]) -> Result<HashMap<PersonId, Self::Value>, Self::Error> {
        identity::people_by_ids(&self.0, keys).await
    }
}

/// Active officer roles of a person.
pub struct RolesByPersonLoader(DatabaseConnection);

impl Loader<PersonId> for RolesByPersonLoader {
    type Value = Vec<officer_role::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[PersonId]) -> Result<HashMap<PersonId, Self::Value>, Self::Error> {
        roles::active_roles_of(&self.0, keys).await
    }
}

/// Events of a membership, oldest first.
pub struct MembershipEventsLoader(DatabaseConnection);

impl Loader<MembershipId> for MembershipEventsLoader {
    type Value = Vec<entities::membership_event::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[MembershipId]) -> Result<HashMap<MembershipId, Self::Value>, Self::Error> {
        service::membership::events_of(&self.0, keys).await
    }
}

pub struct TrainingLoader(DatabaseConnection);

impl Loader<TrainingId> for TrainingLoader {
    type Value = entities::training::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[TrainingId]) -> Result<HashMap<TrainingId, Self::Value>, Self::Error> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let rows = entities::training::Entity::find()
            .filter(entities::training::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await?;
        Ok(rows.into_iter().map(|t| (t.id, t)).collect())
    }
}

pub struct RegistrationLoader(DatabaseConnection);

impl Loader<(PersonId, TrainingId)> for RegistrationLoader {
    type Value = entities::training_registration::Model;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(PersonId, TrainingId)],
    ) -> Result<HashMap<(PersonId, TrainingId), Self::Value>, Self::Error> {
        let mut by_person: HashMap<PersonId, Vec<TrainingId>> = HashMap::new();
        for &(person, training) in keys {
            by_person.entry(person).or_default().push(training);
        }
        let mut out = HashMap::new();
        for (person, trainings) in by_person {
            for (training, r) in service::trainings::registrations_of(&self.0, person, &trainings).await? {
                out.insert((person, training), r);
            }
        }
        Ok(out)
    }
}

/// 1-based position of a waitlisted registration.
pub struct WaitlistPositionLoader(DatabaseConnection);

impl Loader<Uuid> for WaitlistPositionLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        service::trainings::waitlist_positions(&self.0, keys).await
    }
}

pub struct CampaignLoader(DatabaseConnection);

impl Loader<CampaignId> for CampaignLoader {
    type Value = entities::campaign::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[CampaignId]) -> Result<HashMap<CampaignId, Self::Value>, Self::Error> {
        service::campaigns::campaign::campaigns_by_ids(&self.0, keys).await
    }
}

pub struct CampaignCriteriaLoader(DatabaseConnection);

impl Loader<CampaignId> for CampaignCriteriaLoader {
    type Value = Vec<entities::campaign_criterion::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[CampaignId]) -> Result<HashMap<CampaignId, Self::Value>, Self::Error> {
        service::campaigns::campaign::criteria_of(&self.0, keys).await
    }
}

pub struct PledgeLoader(DatabaseConnection);

impl Loader<(PersonId, CampaignId, i32)> for PledgeLoader {
    type Value = Vec<entities::pledge::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(PersonId, CampaignId, i32)],
    ) -> Result<HashMap<(PersonId, CampaignId, i32), Self::Value>, Self::Error> {
        service::campaigns::pledges::pledges_of(&self.0, keys).await
    }
}

/// The counters of targets (`content::counters_of`): one statement for a page.
pub struct EngagementLoader(DatabaseConnection);

impl Loader<Uuid> for EngagementLoader {
    type Value = HashMap<String, i64>;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut out: HashMap<Uuid, Self::Value> = HashMap::new();
        for ((target, counter), value) in service::content::counters_of(&self.0, keys).await? {
            out.entry(target).or_default().insert(counter, value);
        }
        Ok(out)
    }
}

/// People's reactions to targets: one statement per person asking (in practice one a page).
pub struct MyReactionLoader(DatabaseConnection);

impl Loader<(PersonId, Uuid)> for MyReactionLoader {
    type Value = entities::reaction::ReactionKind;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(PersonId, Uuid)],
    ) -> Result<HashMap<(PersonId, Uuid), Self::Value>, Self::Error> {
        let mut by_person: HashMap<PersonId, Vec<Uuid>> = HashMap::new();
        for &(person, target) in keys {
            by_person.entry(person).or_default().push(target);
        }
        let mut out = HashMap::new();
        for (person, targets) in by_person {
            for (target, kind) in service::content::reactions::mine_of(&self.0, &targets, person).await? {
                out.insert((person, target), kind);
            }
        }
        Ok(out)
    }
}

/// The photos of records, in order: one statement for a page.
pub struct PhotoLoader(DatabaseConnection);

impl Loader<Uuid> for PhotoLoader {
    type Value = Vec<entities::media::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut out: HashMap<Uuid, Self::Value> = HashMap::new();
        for photo in service::media::of_parents(&self.0, keys).await? {
            if let Some(parent) = photo.parent_id {
                out.entry(parent).or_default().push(photo);
            }
        }
        Ok(out)
    }
}

pub struct UnitAwardsLoader(DatabaseConnection);

impl Loader<UnitId> for UnitAwardsLoader {
    type Value = Vec<entities::award_nomination::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[UnitId]) -> Result<HashMap<UnitId, Self::Value>, Self::Error> {
        let mut out: HashMap<UnitId, Self::Value> = HashMap::new();
        for award in service::awards::of_units(&self.0, keys, None).await? {
            if let Some(unit) = award.unit_id {
                out.entry(unit).or_default().push(award);
            }
        }
        Ok(out)
    }
}

pub struct AwardKindLoader(DatabaseConnection);

impl Loader<Uuid> for AwardKindLoader {
    type Value = entities::award_kind::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        Ok(service::awards::kinds_by_ids(&self.0, keys).await?.into_iter().map(|k| (k.id, k)).collect())
    }
}

pub struct PersonAwardsLoader(DatabaseConnection);

impl Loader<PersonId> for PersonAwardsLoader {
    type Value = Vec<entities::award_nomination::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[PersonId]) -> Result<HashMap<PersonId, Self::Value>, Self::Error> {
        let mut out: HashMap<PersonId, Self::Value> = HashMap::new();
        for award in service::awards::of_people(&self.0, keys).await? {
            if let Some(person) = award.person_id {
                out.entry(person).or_default().push(award);
            }
        }
        Ok(out)
    }
}
