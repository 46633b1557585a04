//! What a document costs.
//!
//! **Points** ([`estimate`], [`returned`]): every object a response holds costs one point — each
//! edge, each node, each nested object — and every aggregate field ([`AGGREGATES`]) ten more;
//! scalars are free, each mutation costs ten. Before a query runs its *requested* cost is
//! estimated from the document: a connection returns `first` items (20 when not given, at most
//! 100), a plain list is counted as 10 items (a unit's `ancestors` as 6), and what a list
//! selects is multiplied by its size, level by level (as GitHub and Shopify count). A request over `APP_QUERY_MAX_COST`
//! (2000 by default) is refused before it runs. After it ran, its *actual* cost counts the
//! objects really returned; the difference goes back to the caller's bucket (see `quota`).
//! Real screens fit easily: a page of 100 units costs about 200 points (about 900 with each
//! one's parent and ancestors), twenty districts with twenty wards each about 900, while
//! `first: 100` on three nested lists asks for a million.
//!
//! **Expensive fields**: the work a document can ask for beyond what its points count: fields whose cost grows
//! with the data rather than with the page — `totalCount` (it counts every matching row), the
//! statistics and counts over a subtree (see [`AGGREGATES`]), and any field searched by a
//! `search` argument (directly or in its `filter`, written in the document or in a variable). One request may select
//! at most `APP_QUERY_MAX_EXPENSIVE_FIELDS` of them, every alias and every use of a fragment
//! counted, or it is refused before it runs (`GRAPHQL_VALIDATION_FAILED`): a thousand aliases of
//! `members(filter: {search: "thị"}, first: 0) { totalCount }` cost nothing to send and seconds
//! of database time each.

use std::collections::HashMap;

use async_graphql::{
    ErrorExtensionValues, Name, Positioned, ServerError, Variables,
    parser::types::{ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet},
    registry::{MetaType, MetaTypeName, Registry},
};
use async_graphql_value::ConstValue;

use service::error::Lang;

use super::errors::CODE_VALIDATION_FAILED;

/// Fields that aggregate over a whole subtree, whatever their arguments.
const AGGREGATES: [&str; 5] =
    ["totalCount", "memberStatistics", "trainingStatistics", "targetProgress", "violenceReportCounts"];

/// Points of each aggregate field, beyond the objects it returns.
pub const AGGREGATE_POINTS: u64 = 10;
/// Points of each mutation.
const MUTATION_POINTS: u64 = 10;
/// Items a plain list (not a connection) is counted as, unless [`list_items`] knows better.
const LIST_ITEMS: u64 = 10;

/// Items a plain list field holds at most, where the schema bounds it.
fn list_items(field: &str) -> u64 {
    match field {
        // A unit's ancestors: the tree is a handful of levels deep (city, district, ward,
        // branch, group).
        "ancestors" => 6,
        _ => LIST_ITEMS,
    }
}

/// The requested cost of a document, and how many aggregate fields it selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    pub points: u64,
    pub aggregates: u64,
}

/// The requested cost of `doc` (the costliest of its operations: one of them runs).
pub fn estimate(doc: &ExecutableDocument, variables: &Variables, registry: &Registry) -> Estimate {
    let mut worst = Estimate::default();
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        let Some(root) = root else { continue };
        let mut walker =
            PointWalker { registry, variables, fragments: &doc.fragments, path: Vec::new(), aggregates: 0 };
        let mut points = walker.walk(&op.node.selection_set.node, root, 1, None);
        if op.node.ty == OperationType::Mutation {
            points = points.saturating_add(MUTATION_POINTS * op.node.selection_set.node.items.len() as u64);
        }
        let e = Estimate { points, aggregates: walker.aggregates };
        if e.points > worst.points {
            worst = e;
        }
    }
    worst
}

/// The points a response's data actually cost: its objects, and the aggregates selected.
pub fn returned(data: &async_graphql::Value, aggregates: u64) -> u64 {
    fn objects(v: &async_graphql::Value) -> u64 {
        match v {
            async_graphql::Value::Object(fields) => 1 + fields.values().map(objects).sum::<u64>(),
            async_graphql::Value::List(items) => items.iter().map(objects).sum(),
            _ => 0,
        }
    }
    // The data object itself is the root, not an object returned.
    objects(data).saturating_sub(1).saturating_add(aggregates * AGGREGATE_POINTS)
}

struct PointWalker<'a> {
    registry: &'a Registry,
    variables: &'a Variables,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    path: Vec<&'a str>,
    aggregates: u64,
}

impl<'a> PointWalker<'a> {
    /// The points of `set` on type `parent`, each object counted `times` times; `page` is the
    /// size of the connection `parent` is (its `edges` and `nodes` hold that many).
    fn walk(&mut self, set: &'a SelectionSet, parent: &str, times: u64, page: Option<u64>) -> u64 {
        let mut points: u64 = 0;
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    let Some(meta) = self.registry.types.get(parent).and_then(|t| t.field_by_name(name))
                    else {
                        continue;
                    };
                    if AGGREGATES.contains(&name) {
                        self.aggregates = self.aggregates.saturating_add(times);
                        points = points.saturating_add(times.saturating_mul(AGGREGATE_POINTS));
                    }
                    let named = MetaTypeName::concrete_typename(&meta.ty);
                    let composite = matches!(
                        self.registry.types.get(named),
                        Some(MetaType::Object { .. } | MetaType::Interface { .. } | MetaType::Union { .. })
                    );
                    if !composite {
                        continue;
                    }
                    let first = self.first(field);
                    let items = if !meta.ty.contains('[') {
                        1
                    } else if page.is_some() && (name == "edges" || name == "nodes") {
                        page.unwrap_or(LIST_ITEMS)
                    } else {
                        first.unwrap_or_else(|| list_items(name))
                    };
                    let count = times.saturating_mul(items);
                    let inner_page = named.ends_with("Connection").then(|| first.unwrap_or(20));
                    points = points.saturating_add(count).saturating_add(self.walk(
                        &field.selection_set.node,
                        named,
                        count,
                        inner_page,
                    ));
                }
                Selection::InlineFragment(fragment) => {
                    let on =
                        fragment.node.type_condition.as_ref().map_or(parent, |t| t.node.on.node.as_str());
                    points =
                        points.saturating_add(self.walk(&fragment.node.selection_set.node, on, times, page));
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.path.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(&spread.node.fragment_name.node) {
                        self.path.push(name);
                        let on = fragment.node.type_condition.node.on.node.as_str();
                        points = points.saturating_add(self.walk(
                            &fragment.node.selection_set.node,
                            on,
                            times,
                            page,
                        ));
                        self.path.pop();
                    }
                }
            }
        }
        points
    }

    /// The field's `first` argument (from the document or a variable), within 0..=100.
    fn first(&self, field: &async_graphql::parser::types::Field) -> Option<u64> {
        let (_, value) = field.arguments.iter().find(|(n, _)| n.node.as_str() == "first")?;
        let value = value.node.clone().into_const_with(|var| {
            Ok::<_, std::convert::Infallible>(self.variables.get(&var).cloned().unwrap_or(ConstValue::Null))
        });
        match value {
            Ok(ConstValue::Number(n)) => n.as_u64().map(|n| n.min(100)),
            _ => None,
        }
    }
}

/// Refuses `doc` when it selects more than `max` expensive fields.
pub fn check(
    doc: &ExecutableDocument,
    variables: &Variables,
    max: usize,
    lang: Lang,
) -> Result<(), ServerError> {
    let mut counter = Counter { fragments: &doc.fragments, variables, max, count: 0, path: Vec::new() };
    for (_, op) in doc.operations.iter() {
        counter.walk(&op.node.selection_set.node);
    }
    if counter.count <= max {
        return Ok(());
    }
    let message = match lang {
        Lang::Vi => format!("Truy vấn có quá nhiều trường tốn kém (tối đa {max}: totalCount, tìm kiếm)."),
        Lang::En => {
            format!("The query selects too many costly fields (at most {max}: totalCount, searches).")
        }
    };
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", CODE_VALIDATION_FAILED);
    err.extensions = Some(ext);
    Err(err)
}

struct Counter<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a Variables,
    max: usize,
    count: usize,
    /// The fragments being expanded, so a (invalid) cycle cannot loop.
    path: Vec<&'a str>,
}

impl<'a> Counter<'a> {
    fn walk(&mut self, set: &'a SelectionSet) {
        for item in &set.items {
            // Past the limit the answer is known; a huge document is not walked to its end.
            if self.count > self.max {
                return;
            }
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let searched = field.arguments.iter().any(|(name, value)| {
                        // A variable left out (or with a default only) is no search to count.
                        let value = value.node.clone().into_const_with(|var| {
                            Ok::<_, std::convert::Infallible>(
                                self.variables.get(&var).cloned().unwrap_or(ConstValue::Null),
                            )
                        });
                        value.is_ok_and(|v| has_search(name.node.as_str(), &v))
                    });
                    if AGGREGATES.contains(&field.name.node.as_str()) || searched {
                        self.count += 1;
                    }
                    self.walk(&field.selection_set.node);
                }
                Selection::InlineFragment(fragment) => self.walk(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.path.contains(&name) {
                        continue;
                    }
                    if let Some(fragment) = self.fragments.get(&spread.node.fragment_name.node) {
                        self.path.push(name);
                        self.walk(&fragment.node.selection_set.node);
                        self.path.pop();
                    }
                }
            }
        }
    }
}

/// Whether an argument is a non-null `search`, or an object holding one.
fn has_search(name: &str, value: &ConstValue) -> bool {
    match value {
        ConstValue::Null => false,
        _ if name == "search" => true,
        ConstValue::Object(fields) => fields.iter().any(|(k, v)| has_search(k.as_str(), v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(query: &str) -> u64 {
        estimate(&async_graphql::parser::parse_query(query).unwrap(), &Variables::default(), &registry())
            .points
    }

    /// The types as the schema registers them (the schema keeps its registry private).
    fn registry() -> Registry {
        let mut registry = Registry {
            query_type: "QueryRoot".into(),
            mutation_type: Some("MutationRoot".into()),
            subscription_type: Some("SubscriptionRoot".into()),
            ..Registry::default()
        };
        <crate::graphql::QueryRoot as async_graphql::OutputType>::create_type_info(&mut registry);
        <crate::graphql::MutationRoot as async_graphql::OutputType>::create_type_info(&mut registry);
        registry
    }

    #[test]
    fn points_count_the_objects_a_query_can_return() {
        // 100 edges and 100 nodes, and the connection itself.
        assert_eq!(points("{ orgUnits(first: 100) { edges { node { id name } } } }"), 201);
        // Twenty districts with twenty wards each: a console screen fits easily.
        let nested = points(
            "{ orgUnits(first: 20) { edges { node { name children(first: 20) { edges { node { name } } } } } } }",
        );
        assert!(nested < 2000 && nested > 800, "{nested}");
        // Three nested lists of 100 ask for a million objects.
        let huge = points(
            "{ orgUnits(first: 100) { edges { node { children(first: 100) { edges { node { children(first: 100) { edges { node { id } } } } } } } } } }",
        );
        assert!(huge > 1_000_000, "{huge}");
        // A page of 100 units with their parents and ancestors: a console list.
        assert_eq!(
            points("{ orgUnits(first: 100) { edges { node { parent { code } ancestors { code } } } } }"),
            901
        );
        // An aggregate costs ten more; scalars are free.
        assert_eq!(points("{ orgUnits(first: 0) { totalCount } }"), 11);
    }

    fn cost(query: &str) -> Result<(), ServerError> {
        let vars = Variables::from_json(serde_json::json!({ "f": { "search": "thị" } }));
        check(&async_graphql::parser::parse_query(query).unwrap(), &vars, 3, Lang::En)
    }

    #[test]
    fn aliases_and_fragment_uses_all_count() {
        assert!(cost("{ a: members(filter: {search: \"x\"}, first: 0) { totalCount } }").is_ok());
        let aliases = "{ a: members(first: 0) { totalCount } b: members(first: 0) { totalCount } \
                       c: members(first: 0) { totalCount } d: members(first: 0) { totalCount } }";
        assert!(cost(aliases).is_err());
        let spread = "{ a: orgUnits { ...F } b: orgUnits { ...F } } fragment F on OrgUnitConnection { totalCount n: totalCount }";
        assert!(cost(spread).is_err());
        // A null search costs nothing extra; a cyclic fragment does not loop.
        assert!(cost("{ members(filter: {search: null}) { edges { node { id } } } }").is_ok());
        assert!(cost("{ ...A } fragment A on Query { ...A }").is_ok());
        // A search passed in a variable counts too.
        let vars = "query($f: MemberFilterInput) { a: members(filter: $f) { edges { node { id } } } \
                    b: members(filter: $f) { edges { node { id } } } c: members(filter: $f) { edges { node { id } } } \
                    d: members(filter: $f) { edges { node { id } } } }";
        assert!(cost(vars).is_err());
    }
}
