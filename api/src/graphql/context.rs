//! The resolver toolbox: typed access to request and schema data, the caller's scope shared
//! across one request's lists, units through that scope or the loader, the one-password-check
//! guard.

use entities::ids::UnitId;
use service::Call;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::{Context, Lookahead, SelectionField, Value};
use entities::org_unit;
use service::{
    RequestMeta,
    auth::{Auth, Viewer},
    error::{ApiError, InputProblem},
    org::UnitCursor,
    scope::ViewerScope,
    state::AppState,
};

use super::{connection::page, loaders};

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
/// published — or from the units a list of this query read for its page ([`KnownUnits`]),
/// else through the units loader.
pub async fn unit(ctx: &Context<'_>, id: UnitId) -> Result<Option<org_unit::Model>, ApiError> {
    let scoped =
        ctx.data_opt::<ScopeCell>().and_then(|cell| cell.0.get()).and_then(|scope| scope.units.get(&id));
    if let Some(unit) = scoped {
        return Ok(Some(unit.clone()));
    }
    if let Some(unit) = ctx.data_opt::<KnownUnits>().and_then(|known| known.get(id)) {
        return Ok(Some(unit));
    }
    ctx.loaders()?.units.load_one(id).await
}

/// Request data of a query (never of a mutation, whose fields may change units one after
/// another): units a list read ahead for its page — each item's parent, and the first pages of
/// children the query asks for below it, one statement per level — so that those fields are
/// answered at once instead of each waiting for the loader's batch (a field ready at its first
/// poll costs the executor far less than one that waits).
#[derive(Default)]
pub struct KnownUnits {
    units: Mutex<HashMap<UnitId, org_unit::Model>>,
    children: Mutex<HashMap<(UnitId, u64), ReadAhead>>,
}

/// A page of units and whether more follow.
pub type UnitPage = (Vec<org_unit::Model>, bool);

/// A first page of children read ahead, and how many `children` fields of the document are
/// still to take it (aliases may ask for the same page).
struct ReadAhead {
    page: UnitPage,
    takers: usize,
}

impl KnownUnits {
    fn get(&self, id: UnitId) -> Option<org_unit::Model> {
        self.units.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// The first `size` children of `parent` if they were read ahead: the last field to take
    /// them takes them out, the others a copy (any further field goes to the loader).
    pub fn take_children(&self, parent: UnitId, size: u64) -> Option<UnitPage> {
        let mut map = self.children.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.get_mut(&(parent, size))?;
        if entry.takers > 1 {
            entry.takers -= 1;
            return Some(entry.page.clone());
        }
        map.remove(&(parent, size)).map(|read| read.page)
    }
}

/// When this query's page of `units` selects `edges.node.parent`: reads the parents it does
/// not know yet, in one statement (the one the loader would have run).
pub async fn know_parents(ctx: &Context<'_>, units: &[org_unit::Model]) -> Result<(), ApiError> {
    let Some(known) = ctx.data_opt::<KnownUnits>() else { return Ok(()) };
    if !ctx.look_ahead().field("edges").field("node").field("parent").exists() {
        return Ok(());
    }
    let scope = ctx.data_opt::<ScopeCell>().and_then(|cell| cell.0.get());
    let missing: Vec<UnitId> = {
        let map = known.units.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<UnitId> = units
            .iter()
            .filter_map(|u| u.parent_id)
            .filter(|p| !map.contains_key(p) && scope.is_none_or(|s| !s.units.contains_key(p)))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    if missing.is_empty() {
        return Ok(());
    }
    let found = service::org::units_by_ids(&ctx.state()?.db, &missing).await?;
    known.units.lock().unwrap_or_else(|p| p.into_inner()).extend(found);
    Ok(())
}

/// Reads ahead the first pages of children that `children` — a look-ahead at the `children`
/// field of each of `units` — asks for, and below them, level by level, the pages the document
/// asks for of their children: one statement per level and page size (what the children loader
/// would have run), however wide the tree. A page size out of range, or a page after a cursor,
/// is left to the field.
pub async fn know_children(
    ctx: &Context<'_>,
    children: Lookahead<'_>,
    units: impl Iterator<Item = UnitId>,
) -> Result<(), ApiError> {
    let Some(known) = ctx.data_opt::<KnownUnits>() else { return Ok(()) };
    let mut levels = vec![(children, units.collect::<Vec<UnitId>>())];
    while let Some((children, units)) = levels.pop() {
        for (size, fields) in first_pages(&children) {
            let missing: Vec<UnitId> = {
                let map = known.children.lock().unwrap_or_else(|p| p.into_inner());
                units.iter().copied().filter(|&u| !map.contains_key(&(u, size))).collect()
            };
            if missing.is_empty() {
                continue;
            }
            let found = service::org::first_children_of(&ctx.state()?.db, &missing, size).await?;
            let below: Vec<UnitId> = found.values().flat_map(|(rows, _)| rows.iter().map(|u| u.id)).collect();
            let takers = fields.len();
            known
                .children
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(found.into_iter().map(|(parent, page)| ((parent, size), ReadAhead { page, takers })));
            if let Ok(these) = Lookahead::try_from(fields.as_slice()) {
                levels.push((these.field("edges").field("node").field("children"), below));
            }
        }
    }
    Ok(())
}

/// The `children` fields of a look-ahead that ask for a first page, by page size.
fn first_pages<'a>(children: &Lookahead<'a>) -> Vec<(u64, Vec<SelectionField<'a>>)> {
    let mut sizes: Vec<(u64, Vec<SelectionField<'a>>)> = Vec::new();
    for field in children.selection_fields() {
        let Ok(arguments) = field.arguments() else { continue };
        let argument = |name: &str| arguments.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v);
        if argument("after").is_some_and(|after| *after != Value::Null) {
            continue;
        }
        let first = match argument("first") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_i64().and_then(|n| i32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => continue,
            },
            Some(_) => continue,
        };
        let Ok(page) = page::<UnitCursor>(first, None) else { continue };
        match sizes.iter_mut().find(|(size, _)| *size == page.first) {
            Some((_, fields)) => fields.push(field),
            None => sizes.push((page.first, vec![field])),
        }
    }
    sizes
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
