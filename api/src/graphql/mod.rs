//! The GraphQL schema: thin resolvers per area, merged into one schema run by the [`Engine`]
//! that [`build_engine`] makes.
//!
//! Resolvers parse arguments into domain types, call the service, and map the result. Request
//! data (set by the HTTP layer for each request): [`Auth`], [`Lang`], [`RequestMeta`],
//! [`loaders::Loaders`] and [`CredentialGuard`]; schema data: [`AppState`].

pub mod arguments;
pub mod audit;
pub mod awards;
pub mod bulk;
pub mod campaigns;
pub mod connection;
pub mod content;
mod context;
pub mod cost;
mod depth;
pub mod documents;
pub mod engine;
pub mod errors;
pub mod identity;
pub mod integrations;
mod introspection;
pub mod loaders;
pub mod media;
pub mod membership;
pub mod moderation;
pub mod node;
pub mod notifications;
pub mod org;
pub mod quota;
pub mod ratings;
pub mod scalars;
mod shape;
pub mod statistics;
pub mod trainings;
pub mod violence;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
pub use context::{
    ContextExt, CredentialGuard, KnownUnits, ScopeCell, know_children, know_parents, unit, viewer_scope,
};
pub use engine::Engine;
use service::{config::Settings, state::AppState};

/// The query root.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    node::NodeQuery,
    identity::IdentityQuery,
    org::OrgQuery,
    membership::MembershipQuery,
    statistics::StatisticsQuery,
    notifications::NotificationQuery,
    content::ContentQuery,
    moderation::ModerationQuery,
    trainings::TrainingQueryRoot,
    campaigns::campaign::CampaignQueryRoot,
    campaigns::pledges::PledgeQueryRoot,
    campaigns::targets::TargetQuery,
    campaigns::news::NewsQuery,
    ratings::RatingQuery,
    awards::AwardQuery,
    violence::ViolenceQuery,
    integrations::IntegrationQuery,
    audit::AuditQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    identity::IdentityMutation,
    org::OrgMutation,
    membership::MembershipMutation,
    statistics::StatisticsMutation,
    notifications::NotificationMutation,
    media::MediaMutation,
    content::ContentMutation,
    moderation::ModerationMutation,
    trainings::TrainingMutation,
    campaigns::campaign::CampaignMutation,
    campaigns::pledges::PledgeMutation,
    campaigns::targets::TargetMutation,
    campaigns::news::NewsMutation,
    ratings::RatingMutation,
    awards::AwardMutation,
    violence::ViolenceMutation,
    integrations::IntegrationMutation,
);

/// The subscription root (served over `/graphql/ws`; the token comes in `connection_init`).
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    identity::IdentitySubscription,
    notifications::NotificationSubscription,
    violence::ViolenceSubscription,
    moderation::ModerationSubscription,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema without any data: enough for the SDL.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot::default(), MutationRoot::default(), SubscriptionRoot::default())
}

/// The schema the server runs, with its limits and shared state, inside the [`Engine`] that
/// checks every document and maps every error (the depth limit is the engine's: see `depth`).
pub fn build_engine(state: AppState, settings: &Settings) -> Engine {
    let mut builder = schema_builder().limit_recursive_depth(32).limit_directives(16).data(state.clone());
    if !settings.introspection {
        // "Did you mean …?" would name the fields introspection hides.
        builder = builder.disable_introspection().disable_suggestions();
    }
    if settings.otlp.is_some() {
        builder = builder.extension(engine::RootFieldSpans);
    }
    Engine::new(builder.finish(), state, settings)
}

/// The SDL exported to `schema.graphql` (`cargo run -p api -- export-schema`).
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}
