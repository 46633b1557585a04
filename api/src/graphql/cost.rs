//! The work a document can ask for beyond what its complexity counts: fields whose cost grows
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
    parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
};
use async_graphql_value::ConstValue;

use service::error::Lang;

use super::errors::CODE_VALIDATION_FAILED;

/// Fields that aggregate over a whole subtree, whatever their arguments.
const AGGREGATES: [&str; 5] =
    ["totalCount", "memberStatistics", "trainingStatistics", "targetProgress", "violenceReportCounts"];

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
