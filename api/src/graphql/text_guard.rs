//! Every text argument of a request, checked once against the domain's character rule
//! ([`crate::domain::is_forbidden_char`]) before anything runs: NUL, other control characters
//! and bidirectional overrides are `BAD_USER_INPUT` with `reason` `INVALID_CHARACTERS` and the
//! argument's path as `field` (`input.title`), whichever operation, field or backend — so no
//! resolver can forget it and PostgreSQL never sees a NUL. Line breaks and tabs pass here;
//! single-line fields fold them into spaces when they parse.

use async_graphql::{
    ErrorExtensionValues, ServerError, Variables,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use async_graphql_value::{ConstValue, Value};

use crate::{
    domain::is_forbidden_char,
    error::{InputProblem, Lang},
};

/// The first text argument of `doc` (with `variables`) that holds a forbidden character, as a
/// `BAD_USER_INPUT` error naming its path.
pub fn check(doc: &ExecutableDocument, variables: &Variables, lang: Lang) -> Result<(), ServerError> {
    let mut found = None;
    for (_, op) in doc.operations.iter() {
        walk_selection_set(&op.node.selection_set.node, variables, &mut found);
    }
    for fragment in doc.fragments.values() {
        walk_selection_set(&fragment.node.selection_set.node, variables, &mut found);
    }
    match found {
        None => Ok(()),
        Some(field) => {
            let problem = InputProblem::InvalidCharacters;
            let mut err = ServerError::new(problem.message(lang), None);
            let mut ext = ErrorExtensionValues::default();
            ext.set("code", "BAD_USER_INPUT");
            ext.set("field", field);
            ext.set("reason", problem.code());
            err.extensions = Some(ext);
            Err(err)
        }
    }
}

fn walk_selection_set(set: &SelectionSet, variables: &Variables, found: &mut Option<String>) {
    for item in &set.items {
        if found.is_some() {
            return;
        }
        match &item.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    if let Some(path) = bad_value(&value.node, name.node.as_str(), variables) {
                        *found = Some(path);
                        return;
                    }
                }
                walk_selection_set(&field.node.selection_set.node, variables, found);
            }
            Selection::InlineFragment(fragment) => {
                walk_selection_set(&fragment.node.selection_set.node, variables, found);
            }
            // Fragment definitions are walked on their own.
            Selection::FragmentSpread(_) => {}
        }
    }
}

fn bad_text(s: &str) -> bool {
    s.chars().any(is_forbidden_char)
}

/// The path below `path` of the first bad string in an argument value written in the document.
fn bad_value(value: &Value, path: &str, variables: &Variables) -> Option<String> {
    match value {
        Value::String(s) if bad_text(s) => Some(path.to_owned()),
        Value::Enum(name) if bad_text(name.as_str()) => Some(path.to_owned()),
        Value::Variable(name) => variables.get(name).and_then(|v| bad_const(v, path)),
        Value::List(items) => items.iter().find_map(|v| bad_value(v, path, variables)),
        Value::Object(fields) => {
            fields.iter().find_map(|(k, v)| bad_value(v, &format!("{path}.{}", k.as_str()), variables))
        }
        _ => None,
    }
}

/// The same for a variable's value.
fn bad_const(value: &ConstValue, path: &str) -> Option<String> {
    match value {
        ConstValue::String(s) if bad_text(s) => Some(path.to_owned()),
        ConstValue::Enum(name) if bad_text(name.as_str()) => Some(path.to_owned()),
        ConstValue::List(items) => items.iter().find_map(|v| bad_const(v, path)),
        ConstValue::Object(fields) => {
            fields.iter().find_map(|(k, v)| bad_const(v, &format!("{path}.{}", k.as_str())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_bad(query: &str, vars: serde_json::Value) -> Option<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let vars = Variables::from_json(vars);
        check(&doc, &vars, Lang::En).err().map(|e| {
            let ext = e.extensions.unwrap();
            match ext.get("field") {
                Some(ConstValue::String(s)) => s.clone(),
                other => panic!("no field: {other:?}"),
            }
        })
    }

    #[test]
    fn forbidden_characters_are_found_with_their_argument_path() {
        let q = "mutation($i: TrainingInput!) { createTraining(input: $i) { id } }";
        assert_eq!(
            first_bad(q, serde_json::json!({ "i": { "title": "Lớp\u{0}học" } })).as_deref(),
            Some("input.title")
        );
        assert_eq!(
            first_bad(q, serde_json::json!({ "i": { "tags": ["ok", "a\u{202E}b"] } })).as_deref(),
            Some("input.tags")
        );
        // Line breaks and tabs are text.
        assert_eq!(first_bad(q, serde_json::json!({ "i": { "description": "Dòng 1\n\tDòng 2\r\n" } })), None);
        // Literals in the document, nested fields and fragments too.
        assert_eq!(
            first_bad("{ me { memberships(note: \"x\\u0007\") { id } } }", serde_json::json!({})).as_deref(),
            Some("note")
        );
        assert_eq!(
            first_bad(
                "query { ...F } fragment F on Query { members(filter: { search: \"\\u2066x\" }) { totalCount } }",
                serde_json::json!({})
            )
            .as_deref(),
            Some("filter.search")
        );
    }
}
