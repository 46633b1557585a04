//! The shape of a document, checked before anything walks it with its fragments expanded: how
//! deep its selections nest, fragment spreads and inline fragments counted (at most
//! [`MAX_NESTING`], the engine's own recursion limit: `GRAPHQL_PARSE_FAILED` past it, as the
//! engine answered), and how many selections it holds with every fragment expanded where it is
//! spread (at most [`MAX_SELECTIONS`], else `GRAPHQL_VALIDATION_FAILED`).
//!
//! Each fragment is measured once, so a document that spreads a fragment twice at each of forty
//! levels costs forty measurements, not 2⁴⁰; and the recursion stops at the nesting limit, so a
//! chain of thousands of fragments cannot exhaust the stack. Every later walk (depth, cost,
//! arguments, introspection, the engine's own) then has a bounded document to walk.

use std::collections::HashMap;

use async_graphql::{
    Name, Positioned, ServerError,
    parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet},
};
use service::error::Lang;

use super::errors::{CODE_PARSE_FAILED, CODE_VALIDATION_FAILED};

/// How deep selections may nest, fragment spreads and inline fragments counted.
pub const MAX_NESTING: usize = 32;
/// How many selections a document may hold, fragments expanded where spread.
pub const MAX_SELECTIONS: u64 = 10_000;

enum Refusal {
    TooDeep,
    TooLarge,
}

/// Refuses `doc` when it nests too deep or holds too much (see the module docs).
pub fn check(doc: &ExecutableDocument, lang: Lang) -> Result<(), ServerError> {
    let mut measure = Measure { fragments: &doc.fragments, memo: HashMap::new(), active: Vec::new() };
    let mut total = 0u64;
    let measured = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node))
        .try_for_each(|set| {
            total += measure.set(set, 0)?.0;
            if total > MAX_SELECTIONS { Err(Refusal::TooLarge) } else { Ok(()) }
        });
    let (code, message) = match measured {
        Ok(()) => return Ok(()),
        Err(Refusal::TooDeep) => (
            CODE_PARSE_FAILED,
            match lang {
                Lang::Vi => format!("Truy vấn lồng quá sâu (tối đa {MAX_NESTING} cấp, kể cả fragment)."),
                Lang::En => {
                    format!("The document nests too deep (at most {MAX_NESTING} levels, fragments included).")
                }
            },
        ),
        Err(Refusal::TooLarge) => (
            CODE_VALIDATION_FAILED,
            match lang {
                Lang::Vi => {
                    format!("Truy vấn quá lớn (tối đa {MAX_SELECTIONS} lựa chọn khi mở các fragment).")
                }
                Lang::En => format!(
                    "The document is too large (at most {MAX_SELECTIONS} selections, fragments expanded)."
                ),
            },
        ),
    };
    let mut err = ServerError::new(message, None);
    err.extensions.get_or_insert_with(Default::default).set("code", code);
    Err(err)
}

struct Measure<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Each fragment's size (fragments expanded) and nesting, once measured.
    memo: HashMap<&'a str, (u64, usize)>,
    /// The fragments being measured, so that an (invalid) cycle cannot loop.
    active: Vec<&'a str>,
}

impl<'a> Measure<'a> {
    /// The size and nesting of `set`, found at `level`.
    fn set(&mut self, set: &'a SelectionSet, level: usize) -> Result<(u64, usize), Refusal> {
        if level > MAX_NESTING {
            return Err(Refusal::TooDeep);
        }
        let (mut size, mut nesting) = (0u64, 0usize);
        for item in &set.items {
            let (inner, inner_nesting) = match &item.node {
                Selection::Field(f) => self.set(&f.node.selection_set.node, level + 1)?,
                Selection::InlineFragment(i) => self.set(&i.node.selection_set.node, level + 1)?,
                Selection::FragmentSpread(spread) => {
                    self.fragment(spread.node.fragment_name.node.as_str(), level + 1)?
                }
            };
            size = size.saturating_add(1 + inner);
            nesting = nesting.max(1 + inner_nesting);
            if size > MAX_SELECTIONS {
                return Err(Refusal::TooLarge);
            }
        }
        Ok((size, nesting))
    }

    fn fragment(&mut self, name: &'a str, level: usize) -> Result<(u64, usize), Refusal> {
        if let Some(&(size, nesting)) = self.memo.get(name) {
            return if level + nesting > MAX_NESTING { Err(Refusal::TooDeep) } else { Ok((size, nesting)) };
        }
        let Some(fragment) = self.fragments.get(name) else { return Ok((0, 0)) };
        if self.active.contains(&name) {
            return Ok((0, 0));
        }
        self.active.push(name);
        let measured = self.set(&fragment.node.selection_set.node, level);
        self.active.pop();
        let measured = measured?;
        self.memo.insert(name, measured);
        Ok(measured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn code(doc: &str) -> Option<String> {
        let err = check(&parse_query(doc).expect("parses"), Lang::En).err()?;
        match err.extensions?.get("code")? {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn fragments_spread_twice_at_every_level_are_measured_once() {
        // 2^40 selections once expanded, in under 2 KB: refused at once, not walked.
        let mut doc = String::from("{ ...F0 }");
        for i in 0..40 {
            doc.push_str(&format!(" fragment F{i} on Q {{ ...F{n} ...F{n} }}", n = i + 1));
        }
        doc.push_str(" fragment F40 on Q { a }");
        let started = std::time::Instant::now();
        assert_eq!(code(&doc).as_deref(), Some(CODE_PARSE_FAILED));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Twenty levels: not too deep, but a million selections.
        let mut doc = String::from("{ ...F0 }");
        for i in 0..20 {
            doc.push_str(&format!(" fragment F{i} on Q {{ ...F{n} ...F{n} }}", n = i + 1));
        }
        doc.push_str(" fragment F20 on Q { a }");
        assert_eq!(code(&doc).as_deref(), Some(CODE_VALIDATION_FAILED));
    }

    #[test]
    fn a_long_chain_of_fragments_stops_at_the_nesting_limit() {
        let mut doc = String::from("{ ...F0 }");
        for i in 0..5_000 {
            doc.push_str(&format!(" fragment F{i} on Q {{ ...F{} }}", i + 1));
        }
        doc.push_str(" fragment F5000 on Q { a }");
        assert_eq!(code(&doc).as_deref(), Some(CODE_PARSE_FAILED));
    }

    #[test]
    fn ordinary_documents_and_the_standard_introspection_query_pass() {
        assert_eq!(code("{ a { b { c } } d }"), None);
        assert_eq!(code("{ a { ...F ...F } } fragment F on A { b c }"), None);
        assert_eq!(code(include_str!("../../../tests/api/introspection/all-options.graphql")), None);
        // A cycle (refused later by validation) does not loop.
        assert_eq!(code("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }"), None);
    }
}
