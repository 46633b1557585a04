//! The resolver toolbox: typed access to request and schema data, the caller's scope shared
//! across one request's lists, units through that scope or the loader, the one-password-check
//! guard.

use entities::ids::UnitId;
use service::Call;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Context;
use entities::org_unit;
use service::{
    RequestMeta,
    auth::{Auth, Viewer},
    error::{ApiError, InputProblem},
    scope::ViewerScope,
    state::AppState,
};

use super::loaders;

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
pub async fn unit(ctx: &Context<'_>, id: UnitId) -> Result<Option<org_unit::Model>, ApiError> {
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
    /// The context a service entry point takes: the state, the request's credentials and facts.
    fn call(&self) -> Result<Call<'_>, ApiError> {
        Ok(Call { state: self.state()?, auth: self.auth()?, meta: self.meta()? })
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
