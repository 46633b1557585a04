//! What an integration client may select, field by field: the second gate of partner access
//! (the first is the service, where every entry point but the partners' asks for a person).
//!
//! Before a client's document runs, every field it selects — through fragments and aliases,
//! on every type it reaches — must be listed in [`SURFACE`] under a scope its token holds.
//! A field listed under other scopes answers `FORBIDDEN` with `extensions.requiredScope`; a
//! field not listed at all (a person's data, anything about violence, every mutation and
//! subscription) answers `FORBIDDEN`. Nothing runs then: the request is refused whole, with the
//! field's schema coordinate (`QueryRoot.members`) in `extensions.coordinate`. Introspection fields
//! (`__typename`, `__schema`, `__type`) are always allowed where introspection is on.

use std::collections::HashMap;

use async_graphql::{
    ErrorExtensionValues, Name, Positioned, ServerError,
    parser::types::{ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet},
    registry::{MetaTypeName, Registry},
};
use service::{
    error::{ApiError, Lang},
    integrations::{ClientViewer, Scope},
};

use crate::graphql::errors::write_extensions;

use Scope::{CampaignsRead as C, NewsRead as N, StatisticsRead as S, TrainingsRead as T, UnitsRead as U};

/// Every scope: the plumbing of lists (connections, edges, page info) and the few unit fields
/// that name where a campaign, training or post belongs.
const ANY: &[Scope] = &[U, C, T, N, S];

/// The fields a client may select, by `Type.field` coordinate, and the scopes that open each.
pub const SURFACE: &[(&str, &str, &[Scope])] = &[
    // Lists.
    ("PageInfo", "hasPreviousPage", ANY),
    ("PageInfo", "hasNextPage", ANY),
    ("PageInfo", "startCursor", ANY),
    ("PageInfo", "endCursor", ANY),
    // units:read — the tree, inside the client's subtree.
    ("QueryRoot", "orgUnit", &[U]),
    ("QueryRoot", "orgUnits", &[U]),
    ("OrgUnit", "id", ANY),
    ("OrgUnit", "code", ANY),
    ("OrgUnit", "name", ANY),
    ("OrgUnit", "kind", ANY),
    ("OrgUnit", "depth", ANY),
    ("OrgUnit", "parent", &[U]),
    ("OrgUnit", "ancestors", &[U]),
    ("OrgUnit", "children", &[U]),
    ("OrgUnit", "createdAt", &[U]),
    ("OrgUnit", "updatedAt", &[U]),
    ("OrgUnitConnection", "pageInfo", &[U]),
    ("OrgUnitConnection", "edges", &[U]),
    ("OrgUnitConnection", "nodes", &[U]),
    ("OrgUnitConnection", "totalCount", &[U]),
    ("OrgUnitEdge", "node", &[U]),
    ("OrgUnitEdge", "cursor", &[U]),
    // campaigns:read — launched campaigns, public fields (never pledges).
    ("QueryRoot", "campaigns", &[C]),
    ("Campaign", "id", &[C]),
    ("Campaign", "kind", &[C]),
    ("Campaign", "title", &[C]),
    ("Campaign", "summary", &[C]),
    ("Campaign", "body", &[C]),
    ("Campaign", "bodyFormat", &[C]),
    ("Campaign", "coverImageUrl", &[C]),
    ("Campaign", "termStart", &[C]),
    ("Campaign", "termEnd", &[C]),
    ("Campaign", "status", &[C]),
    ("Campaign", "unit", &[C]),
    ("Campaign", "criteria", &[C]),
    ("Campaign", "launchedAt", &[C]),
    ("Campaign", "endedAt", &[C]),
    ("Campaign", "createdAt", &[C]),
    ("CampaignCriterion", "id", &[C]),
    ("CampaignCriterion", "position", &[C]),
    ("CampaignCriterion", "text", &[C]),
    ("CampaignConnection", "pageInfo", &[C]),
    ("CampaignConnection", "edges", &[C]),
    ("CampaignConnection", "nodes", &[C]),
    ("CampaignConnection", "totalCount", &[C]),
    ("CampaignEdge", "node", &[C]),
    ("CampaignEdge", "cursor", &[C]),
    // trainings:read — published trainings for members and their seats left (never who
    // registered, how many are waiting, or the link sent to participants).
    ("QueryRoot", "trainings", &[T]),
    ("Training", "id", &[T]),
    ("Training", "unit", &[T]),
    ("Training", "title", &[T]),
    ("Training", "description", &[T]),
    ("Training", "category", &[T]),
    ("Training", "startsAt", &[T]),
    ("Training", "endsAt", &[T]),
    ("Training", "place", &[T]),
    ("Training", "capacity", &[T]),
    ("Training", "seatsLeft", &[T]),
    ("Training", "registrationOpensAt", &[T]),
    ("Training", "registrationClosesAt", &[T]),
    ("Training", "registrationOpen", &[T]),
    ("Training", "audience", &[T]),
    ("Training", "status", &[T]),
    ("Training", "cancelReason", &[T]),
    ("Training", "publishedAt", &[T]),
    ("Training", "createdAt", &[T]),
    ("TrainingConnection", "pageInfo", &[T]),
    ("TrainingConnection", "edges", &[T]),
    ("TrainingConnection", "nodes", &[T]),
    ("TrainingConnection", "totalCount", &[T]),
    ("TrainingEdge", "node", &[T]),
    ("TrainingEdge", "cursor", &[T]),
    // news:read — published posts.
    ("QueryRoot", "posts", &[N]),
    ("Post", "id", &[N]),
    ("Post", "unit", &[N]),
    ("Post", "campaignId", &[N]),
    ("Post", "title", &[N]),
    ("Post", "body", &[N]),
    ("Post", "coverImageUrl", &[N]),
    ("Post", "status", &[N]),
    ("Post", "publishedAt", &[N]),
    ("PostConnection", "pageInfo", &[N]),
    ("PostConnection", "edges", &[N]),
    ("PostConnection", "nodes", &[N]),
    ("PostConnection", "totalCount", &[N]),
    ("PostEdge", "node", &[N]),
    ("PostEdge", "cursor", &[N]),
    // statistics:read — public figures, small counts suppressed.
    ("QueryRoot", "publicStatistics", &[S]),
    ("PublicStatistics", "month", &[S]),
    ("PublicStatistics", "suppressionThreshold", &[S]),
    ("PublicStatistics", "total", &[S]),
    ("PublicStatistics", "children", &[S]),
    ("PublicUnitFigures", "unit", &[S]),
    ("PublicUnitFigures", "activeMembers", &[S]),
    ("PublicUnitFigures", "newMembers", &[S]),
    ("PublicUnitFigures", "leavers", &[S]),
    ("PublicUnitFigures", "trainingsHeld", &[S]),
    ("PublicUnitFigures", "attendances", &[S]),
    ("SuppressibleCount", "value", &[S]),
    ("SuppressibleCount", "suppressed", &[S]),
    // statistics:read — progress towards targets: targets as set, counted actuals coarse; an
    // indicator's public fields (not `unit`, which may lie above the client's subtree).
    ("PublicStatistics", "targetProgress", &[S]),
    ("PublicTargetProgress", "indicator", &[S]),
    ("PublicTargetProgress", "total", &[S]),
    ("PublicTargetProgress", "children", &[S]),
    ("PublicTargetRow", "unit", &[S]),
    ("PublicTargetRow", "target", &[S]),
    ("PublicTargetRow", "actual", &[S]),
    ("PublicTargetRow", "attainment", &[S]),
    ("PublicTargetRow", "reportingUnits", &[S]),
    ("SuppressibleAmount", "value", &[S]),
    ("SuppressibleAmount", "suppressed", &[S]),
    ("Indicator", "id", &[S]),
    ("Indicator", "code", &[S]),
    ("Indicator", "kind", &[S]),
    ("Indicator", "name", &[S]),
    ("Indicator", "unitOfMeasure", &[S]),
    ("Indicator", "aggregation", &[S]),
];

/// The surface as a map, built once.
fn surface() -> &'static HashMap<(&'static str, &'static str), &'static [Scope]> {
    static MAP: std::sync::OnceLock<HashMap<(&str, &str), &[Scope]>> = std::sync::OnceLock::new();
    MAP.get_or_init(|| SURFACE.iter().map(|&(t, f, scopes)| ((t, f), scopes)).collect())
}

/// Refuses `doc` when it selects a field the client may not (see the module docs).
pub fn check(
    doc: &ExecutableDocument,
    registry: &Registry,
    client: &ClientViewer,
    lang: Lang,
) -> Result<(), ServerError> {
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => registry.query_type.as_str(),
            OperationType::Mutation => registry.mutation_type.as_deref().unwrap_or("Mutation"),
            OperationType::Subscription => registry.subscription_type.as_deref().unwrap_or("Subscription"),
        };
        let mut walker = Walker { registry, fragments: &doc.fragments, client, expanding: Vec::new() };
        walker.walk(&op.node.selection_set.node, root).map_err(|(coordinate, err)| {
            let mut e = ServerError::new(err.message(lang), None);
            let mut ext = ErrorExtensionValues::default();
            write_extensions(&err, None, &mut ext);
            ext.set("coordinate", coordinate);
            e.extensions = Some(ext);
            e
        })?;
    }
    Ok(())
}

struct Walker<'a> {
    registry: &'a Registry,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    client: &'a ClientViewer,
    /// The fragments being expanded, so a (invalid) cycle cannot loop.
    expanding: Vec<&'a str>,
}

impl<'a> Walker<'a> {
    fn walk(&mut self, set: &'a SelectionSet, parent: &str) -> Result<(), (String, ApiError)> {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    // A field the schema does not have is left to validation, which names it.
                    let Some(meta) = self.registry.types.get(parent).and_then(|t| t.field_by_name(name))
                    else {
                        continue;
                    };
                    let coordinate = || format!("{parent}.{name}");
                    match surface().get(&(parent, name)) {
                        None => return Err((coordinate(), ApiError::Forbidden)),
                        Some(scopes) if !scopes.iter().any(|&s| self.client.scopes.contains(s)) => {
                            return Err((coordinate(), ApiError::ScopeRequired(scopes[0])));
                        }
                        Some(_) => {}
                    }
                    self.walk(&field.selection_set.node, MetaTypeName::concrete_typename(&meta.ty))?;
                }
                Selection::InlineFragment(fragment) => {
                    let on =
                        fragment.node.type_condition.as_ref().map_or(parent, |t| t.node.on.node.as_str());
                    self.walk(&fragment.node.selection_set.node, on)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.expanding.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(&spread.node.fragment_name.node) {
                        self.expanding.push(name);
                        self.walk(
                            &fragment.node.selection_set.node,
                            fragment.node.type_condition.node.on.node.as_str(),
                        )?;
                        self.expanding.pop();
                    }
                }
            }
        }
        Ok(())
    }
}
