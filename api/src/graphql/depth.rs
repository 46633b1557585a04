//! The depth limit of ordinary queries (`APP_QUERY_DEPTH_LIMIT`, 12 by default), counted as
//! async-graphql counts it: every field is one level, leaves included, and a fragment counts
//! where it is spread. `__schema` and `__type` count as one level: what nests below them is
//! bounded by introspection's own rule (see `introspection`), so that the standard
//! introspection query runs where introspection is on.

use std::collections::HashMap;

use async_graphql::{
    Name, Positioned, ServerError,
    parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
};
use service::error::Lang;

use super::{errors::CODE_VALIDATION_FAILED, introspection::is_introspection_field};

/// Refuses `doc` when one of its operations nests fields deeper than `limit`.
pub fn check(doc: &ExecutableDocument, limit: usize, lang: Lang) -> Result<(), ServerError> {
    let mut walker = Walker { fragments: &doc.fragments, expanding: Vec::new(), limit };
    if doc.operations.iter().all(|(_, op)| walker.within(&op.node.selection_set.node, 0)) {
        return Ok(());
    }
    let mut err = ServerError::new(
        match lang {
            Lang::Vi => format!("Truy vấn lồng quá sâu (tối đa {limit} cấp)."),
            Lang::En => format!("Query is nested too deep (at most {limit} levels)."),
        },
        None,
    );
    err.extensions.get_or_insert_with(Default::default).set("code", CODE_VALIDATION_FAILED);
    Err(err)
}

struct Walker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// The fragments being expanded, so that an (invalid) cycle cannot loop.
    expanding: Vec<&'a str>,
    limit: usize,
}

impl<'a> Walker<'a> {
    /// Whether the fields of `set`, at `depth` below the operation, stay within the limit.
    fn within(&mut self, set: &'a SelectionSet, depth: usize) -> bool {
        set.items.iter().all(|item| match &item.node {
            Selection::Field(f) => {
                let depth = depth + 1;
                depth <= self.limit
                    && (is_introspection_field(f.node.name.node.as_str())
                        || self.within(&f.node.selection_set.node, depth))
            }
            Selection::InlineFragment(i) => self.within(&i.node.selection_set.node, depth),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                let Some(fragment) = self.fragments.get(name) else { return true };
                if self.expanding.contains(&name) {
                    return true;
                }
                self.expanding.push(name);
                let within = self.within(&fragment.node.selection_set.node, depth);
                self.expanding.pop();
                within
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn within(doc: &str, limit: usize) -> bool {
        check(&parse_query(doc).expect("parses"), limit, Lang::En).is_ok()
    }

    #[test]
    fn every_field_is_a_level_and_fragments_count_where_spread() {
        assert!(within("{ a { b { c } } }", 3));
        assert!(!within("{ a { b { c } } }", 2));
        assert!(!within("{ a { ...F } } fragment F on A { b { c } }", 2));
        assert!(!within("{ a { ... on A { b { c } } } }", 2));
        // A cycle (refused later by validation) does not loop.
        assert!(within("{ a { ...F } } fragment F on A { b ...F }", 3));
        // The second operation is checked too.
        assert!(!within("query A { a } query B { a { b { c } } }", 2));
    }

    #[test]
    fn introspection_counts_one_level() {
        assert!(within("{ __schema { types { fields { type { ofType { ofType { name } } } } } } }", 2));
        assert!(!within("{ __schema { types { name } } }", 0));
        assert!(!within("{ a { b { c } } __schema { types { name } } }", 2));
    }
}
