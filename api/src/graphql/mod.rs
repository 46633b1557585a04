//! The GraphQL schema: thin resolvers per area, merged into one schema by [`build_schema`].
//!
//! Resolvers parse arguments into domain types, call the service, and map the result. Request
//! data (set by the HTTP layer for each request): [`Auth`], [`Lang`], [`RequestMeta`],
//! [`loaders::Loaders`] and [`CredentialGuard`]; schema data: [`AppState`].

pub mod arguments;
pub mod campaigns;
pub mod connection;
pub mod cost;
pub mod documents;
pub mod errors;
pub mod identity;
mod introspection;
pub mod loaders;
pub mod membership;
pub mod node;
pub mod notifications;
pub mod org;
pub mod scalars;
pub mod statistics;
pub mod trainings;
pub mod violence;

use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::{Context, MergedObject, MergedSubscription, Schema, SchemaBuilder};
use entities::org_unit;
use uuid::Uuid;

use service::{
    auth::{Auth, Viewer},
    config::Settings,
    error::{ApiError, InputProblem},
    state::AppState,
    {RequestMeta, scope::ViewerScope},
};

/// The query root.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    node::NodeQuery,
    identity::IdentityQuery,
    org::OrgQuery,
    membership::MembershipQuery,
    statistics::StatisticsQuery,
    notifications::NotificationQuery,
    trainings::TrainingQueryRoot,
    campaigns::campaign::CampaignQueryRoot,
    campaigns::pledges::PledgeQueryRoot,
    campaigns::targets::TargetQuery,
    campaigns::news::NewsQuery,
    violence::ViolenceQuery,
);

/// The mutation root.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    identity::IdentityMutation,
    org::OrgMutation,
    membership::MembershipMutation,
    statistics::StatisticsMutation,
    notifications::NotificationMutation,
    trainings::TrainingMutation,
    campaigns::campaign::CampaignMutation,
    campaigns::pledges::PledgeMutation,
    campaigns::targets::TargetMutation,
    campaigns::news::NewsMutation,
    violence::ViolenceMutation,
);

/// The subscription root (served over `/graphql/ws`; the token comes in `connection_init`).
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    identity::IdentitySubscription,
    notifications::NotificationSubscription,
    violence::ViolenceSubscription,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema without any data: enough for the SDL.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot::default(), MutationRoot::default(), SubscriptionRoot::default())
        .extension(errors::ErrorMapping)
}

/// The schema the server runs, with its limits and shared state.
pub fn build_schema(state: AppState, settings: &Settings) -> AppSchema {
    let mut builder = schema_builder()
        .limit_depth(settings.query_depth_limit)
        .limit_complexity(settings.query_complexity_limit)
        .limit_recursive_depth(32)
        .limit_directives(16)
        .data(state);
    if !settings.introspection {
        // "Did you mean …?" would name the fields introspection hides.
        builder =
            builder.disable_introspection().disable_suggestions().extension(introspection::NoIntrospection);
    }
    builder.finish()
}

/// The SDL exported to `schema.graphql` (`cargo run -p api -- export-schema`).
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// Request data: the caller's [`ViewerScope`], read at most once per HTTP request and shared
/// by every list that depends on it (a home screen asks for several). Not set on the
/// WebSocket, whose connection outlives role changes: there each list reads it afresh.
#[derive(Default)]
pub struct ScopeCell(tokio::sync::OnceCell<ViewerScope>);

/// The caller's [`ViewerScope`], from this request's [`ScopeCell`] when there is one.
pub async fn viewer_scope<'a>(
    ctx: &Context<'a>,
    viewer: &Viewer,
) -> Result<std::borrow::Cow<'a, ViewerScope>, ApiError> {
    let state = ctx.state()?;
    match ctx.data_opt::<ScopeCell>() {
        Some(cell) => {
            let scope = cell.0.get_or_try_init(|| ViewerScope::load(&state.db, viewer)).await?;
            Ok(std::borrow::Cow::Borrowed(scope))
        }
        None => Ok(std::borrow::Cow::Owned(ViewerScope::load(&state.db, viewer).await?)),
    }
}

/// A unit by id: from the caller's [`ViewerScope`] when this request has read it — her branch
/// and its ancestors, her role units and theirs, where almost everything a member is shown was
/// published — else through the units loader.
pub async fn unit(ctx: &Context<'_>, id: Uuid) -> Result<Option<org_unit::Model>, ApiError> {
    let scoped =
        ctx.data_opt::<ScopeCell>().and_then(|cell| cell.0.get()).and_then(|scope| scope.units.get(&id));
    match scoped {
        Some(unit) => Ok(Some(unit.clone())),
        None => Ok(ctx.loaders()?.units.load_one(id).await?),
    }
}

/// Request data that lets one request run at most one password check: aliases cannot turn one
/// HTTP request into a burst of login attempts (or of argon2 work).
#[derive(Default)]
pub struct CredentialGuard(AtomicBool);

/// Shortcuts to typed context data; a missing entry is a wiring bug, reported as `INTERNAL`.
/// A stored enum value parsed back; a value this version does not know is an internal error.
pub(crate) fn stored<T>(parsed: Option<T>, what: &str) -> Result<T, ApiError> {
    parsed.ok_or_else(|| ApiError::internal(format_args!("unknown {what} in database")))
}

pub trait ContextExt {
    fn get<T: Send + Sync + 'static>(&self) -> Result<&T, ApiError>;
    fn state(&self) -> Result<&AppState, ApiError> {
        self.get::<AppState>()
    }
    fn auth(&self) -> Result<&Auth, ApiError> {
        self.get::<Auth>()
    }
    fn meta(&self) -> Result<&RequestMeta, ApiError> {
        self.get::<RequestMeta>()
    }
    fn loaders(&self) -> Result<&loaders::Loaders, ApiError> {
        self.get::<loaders::Loaders>()
    }
    /// Claims this request's single password check (see [`CredentialGuard`]).
    fn claim_credential_check(&self, field: &'static str) -> Result<(), ApiError> {
        if self.get::<CredentialGuard>()?.0.swap(true, Ordering::SeqCst) {
            return Err(ApiError::bad_input(field, InputProblem::OnePerRequest));
        }
        Ok(())
    }
}

impl ContextExt for Context<'_> {
    fn get<T: Send + Sync + 'static>(&self) -> Result<&T, ApiError> {
        self.data_opt::<T>().ok_or_else(|| {
            ApiError::internal(format_args!("missing context data {}", std::any::type_name::<T>()))
        })
    }
}
