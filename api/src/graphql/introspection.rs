//! Introspection: refused outright when it is turned off (production by default), and held to
//! its own depth rule when it is on.
//!
//! - **Off.** async-graphql's own switch answers `__schema` with `null` and no error, which reads
//!   like an empty schema; [`refuse_when_off`] rejects such documents before execution, with
//!   `GRAPHQL_VALIDATION_FAILED`. `__typename` stays allowed: clients need it.
//! - **On.** The standard introspection query (graphql-js's `getIntrospectionQuery()`, which
//!   GraphiQL, Apollo, Relay, GraphQL Codegen, Postman and Insomnia send) nests `ofType` nine
//!   levels deep, past the depth limit of ordinary queries; so the fields under `__schema` and
//!   `__type` do not count towards that limit (see `depth`). What bounds them instead is
//!   graphql-js's own rule (`MaxIntrospectionDepthRule`): at most two of the list fields
//!   `fields`, `interfaces`, `possibleTypes` and `inputFields` nested in one another — each
//!   multiplies the answer by the schema's size — and at most [`MAX_LISTS`] list fields in all
//!   (`types`, `fields`, `args`, `inputFields`, `interfaces`, `enumValues`, `possibleTypes`,
//!   `directives`, fragments expanded where spread; the standard query has 9), so that aliases
//!   cannot multiply a large answer; and the nesting limit of every document (see `shape`).

use std::collections::HashMap;

use async_graphql::{
    Name, Positioned, ServerError,
    parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
};
use service::error::Lang;

use super::errors::CODE_VALIDATION_FAILED;

/// The fields that introspect the schema.
pub fn is_introspection_field(name: &str) -> bool {
    name == "__schema" || name == "__type"
}

/// How many of the introspection list fields may nest (graphql-js `MAX_LISTS_DEPTH`): a third
/// one is refused.
const MAX_LISTS_DEPTH: usize = 3;

/// How many list fields an introspecting document may select in all.
pub const MAX_LISTS: usize = 16;

fn is_list_field(name: &str) -> bool {
    matches!(
        name,
        "types"
            | "fields"
            | "args"
            | "inputFields"
            | "interfaces"
            | "enumValues"
            | "possibleTypes"
            | "directives"
    )
}

fn validation_error(message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    err.extensions.get_or_insert_with(Default::default).set("code", CODE_VALIDATION_FAILED);
    err
}

/// Refuses a document that introspects the schema, when introspection is off.
pub fn refuse_when_off(doc: &ExecutableDocument, lang: Lang) -> Result<(), ServerError> {
    let in_operations = doc.operations.iter().any(|(_, op)| introspects(&op.node.selection_set.node));
    let in_fragments = doc.fragments.values().any(|f| introspects(&f.node.selection_set.node));
    if in_operations || in_fragments {
        return Err(validation_error(match lang {
            Lang::Vi => "Chức năng tự mô tả lược đồ (introspection) đã tắt.".to_owned(),
            Lang::En => "Introspection is disabled.".to_owned(),
        }));
    }
    Ok(())
}

fn introspects(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => {
            is_introspection_field(f.node.name.node.as_str()) || introspects(&f.node.selection_set.node)
        }
        Selection::InlineFragment(i) => introspects(&i.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

/// Refuses introspection that nests the list fields too deep (see the module docs).
pub fn check_depth(doc: &ExecutableDocument, lang: Lang) -> Result<(), ServerError> {
    let mut walker = Walker { fragments: &doc.fragments, expanding: Vec::new(), lists: 0 };
    let too_deep = doc.operations.iter().any(|(_, op)| walker.find_roots(&op.node.selection_set.node))
        || doc.fragments.values().any(|f| walker.find_roots(&f.node.selection_set.node));
    if walker.lists > MAX_LISTS {
        return Err(validation_error(match lang {
            Lang::Vi => format!("Truy vấn tự mô tả lược đồ chọn quá nhiều danh sách (tối đa {MAX_LISTS})."),
            Lang::En => format!("Introspection selects too many lists (at most {MAX_LISTS})."),
        }));
    }
    if too_deep {
        return Err(validation_error(match lang {
            Lang::Vi => "Truy vấn tự mô tả lược đồ lồng quá sâu.".to_owned(),
            Lang::En => "Maximum introspection depth exceeded.".to_owned(),
        }));
    }
    Ok(())
}

struct Walker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// The fragments being expanded, so that an (invalid) cycle cannot loop.
    expanding: Vec<&'a str>,
    /// The list fields selected under `__schema` and `__type`, fragments expanded.
    lists: usize,
}

impl<'a> Walker<'a> {
    /// Whether a `__schema` or `__type` field in `set` nests the list fields too deep.
    fn find_roots(&mut self, set: &'a SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) if is_introspection_field(f.node.name.node.as_str()) => {
                self.lists_too_deep(&f.node.selection_set.node, 0)
            }
            Selection::Field(f) => self.find_roots(&f.node.selection_set.node),
            Selection::InlineFragment(i) => self.find_roots(&i.node.selection_set.node),
            // Fragments are walked on their own (see `check_depth`).
            Selection::FragmentSpread(_) => false,
        })
    }

    fn lists_too_deep(&mut self, set: &'a SelectionSet, depth: usize) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                self.lists += usize::from(is_list_field(name));
                let depth = depth
                    + usize::from(matches!(name, "fields" | "interfaces" | "possibleTypes" | "inputFields"));
                depth >= MAX_LISTS_DEPTH || self.lists_too_deep(&f.node.selection_set.node, depth)
            }
            Selection::InlineFragment(i) => self.lists_too_deep(&i.node.selection_set.node, depth),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                let Some(fragment) = self.fragments.get(name) else { return false };
                if self.expanding.contains(&name) {
                    return false;
                }
                self.expanding.push(name);
                let deep = self.lists_too_deep(&fragment.node.selection_set.node, depth);
                self.expanding.pop();
                deep
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn depth_ok(doc: &str) -> bool {
        check_depth(&parse_query(doc).expect("parses"), Lang::En).is_ok()
    }

    #[test]
    fn two_nested_list_fields_pass_and_a_third_is_refused() {
        assert!(depth_ok("{ __schema { types { fields { type { fields { name } } } } } }"));
        assert!(!depth_ok(
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
        ));
        assert!(!depth_ok(
            "{ __type(name: \"Query\") { fields { type { interfaces { possibleTypes { name } } } } } }"
        ));
        // Through fragments, cycles included (the engine refuses those afterwards).
        assert!(!depth_ok(
            "{ __schema { types { ...F } } } fragment F on __Type { fields { type { ...G } } } \
             fragment G on __Type { inputFields { type { possibleTypes { name } } } }"
        ));
        assert!(depth_ok("{ __schema { types { ...F } } } fragment F on __Type { name ...F }"));
        // Ordinary fields named like them are not introspection.
        assert!(depth_ok("{ a { fields { fields { fields { name } } } } }"));
    }

    #[test]
    fn aliases_cannot_multiply_the_answer() {
        assert!(depth_ok(include_str!("../../../tests/api/introspection/all-options.graphql")));
        let aliased: String = (0..20).map(|i| format!("t{i}: types {{ name }} ")).collect();
        assert!(!depth_ok(&format!("{{ __schema {{ {aliased} }} }}")));
    }

    #[test]
    fn introspection_is_found_anywhere_when_off() {
        let refused = |doc: &str| refuse_when_off(&parse_query(doc).expect("parses"), Lang::En).is_err();
        assert!(refused("{ __schema { queryType { name } } }"));
        assert!(refused("{ me { ... on Person { x: __type(name: \"A\") { name } } } }"));
        assert!(refused("query { ...F } fragment F on Query { __type(name: \"A\") { name } }"));
        assert!(!refused("{ __typename me { __typename } }"));
    }
}
