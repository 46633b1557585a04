//! Every argument of a request checked against its declared type once, before anything runs —
//! whether written in the document or passed in `variables`, whichever operation or field. A
//! value that does not fit is `BAD_USER_INPUT` with the argument's path as `field`
//! (`input.birthDate`) and a `reason`, never with the value in the message: `REQUIRED` (a
//! missing non-null value), `INVALID_FORMAT` (a wrong type, a malformed `Date`/`DateTime`, a
//! value outside an enum, an unknown input field), `OUT_OF_RANGE` (an `Int` beyond 32 bits),
//! and `INVALID_CHARACTERS` for text holding a character no one types
//! ([`service::domain::is_forbidden_char`]) — the same on both backends, so PostgreSQL never sees
//! a NUL. The engine's own coercion would answer these without a field, and echo the value.

use std::collections::HashMap;

use async_graphql::{
    ErrorExtensionValues, Name, Positioned, ServerError, Variables,
    parser::types::{ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet},
    registry::{MetaType, MetaTypeName, Registry},
};
use async_graphql_value::ConstValue;

use service::{
    domain::is_forbidden_char,
    error::{InputProblem, Lang},
};

/// The first argument of `doc` (with `variables`) that does not fit its type, as an error.
pub fn check(
    doc: &ExecutableDocument,
    variables: &Variables,
    registry: &Registry,
    lang: Lang,
) -> Result<(), ServerError> {
    for (_, op) in doc.operations.iter() {
        // A variable the request leaves out takes its default from the document; one with
        // neither is left to the engine (an argument default may apply).
        let defaults: HashMap<Name, ConstValue> = op
            .node
            .variable_definitions
            .iter()
            .filter_map(|def| {
                Some((def.node.name.node.clone(), def.node.default_value.as_ref()?.node.clone()))
            })
            .collect();
        let mut walker = Walker {
            registry,
            variables,
            defaults: &defaults,
            fragments: &doc.fragments,
            expanding: Vec::new(),
        };
        let root = match op.node.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        if let Some(root) = root {
            walker
                .walk(&op.node.selection_set.node, root)
                .map_err(|(field, problem)| error(field, problem, lang))?;
        }
    }
    Ok(())
}

fn error(field: String, problem: InputProblem, lang: Lang) -> ServerError {
    let mut err = ServerError::new(problem.message(lang), None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", "BAD_USER_INPUT");
    ext.set("field", field);
    ext.set("reason", problem.code());
    err.extensions = Some(ext);
    err
}

type Problem = (String, InputProblem);

struct Walker<'a, 'v> {
    registry: &'a Registry,
    variables: &'a Variables,
    defaults: &'v HashMap<Name, ConstValue>,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// The fragments being expanded, so a (invalid) cycle cannot loop.
    expanding: Vec<&'a str>,
}

impl<'a> Walker<'a, '_> {
    /// The selections of `set` on the type named `parent`. Unknown fields and types are left to
    /// validation, which reports them.
    fn walk(&mut self, set: &'a SelectionSet, parent: &str) -> Result<(), Problem> {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let Some(meta) = self
                        .registry
                        .types
                        .get(parent)
                        .and_then(|t| t.field_by_name(name))
                        .filter(|_| !name.starts_with("__"))
                    else {
                        continue;
                    };
                    for (arg, value) in &field.arguments {
                        let Some(declared) = meta.args.get(arg.node.as_str()) else { continue };
                        // A missing variable anywhere in the value leaves it to the engine.
                        let value = value.node.clone().into_const_with(|var| {
                            self.variables.get(&var).or_else(|| self.defaults.get(&var)).cloned().ok_or(())
                        });
                        let Ok(value) = value else { continue };
                        self.value(&value, &declared.ty, arg.node.as_str())?;
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

    /// `value` against the type written `ty` (`Date!`, `[ID!]`…), at `path`.
    fn value(&self, value: &ConstValue, ty: &str, path: &str) -> Result<(), Problem> {
        let fail = |problem| Err((path.to_owned(), problem));
        match MetaTypeName::create(ty) {
            MetaTypeName::NonNull(inner) => match value {
                ConstValue::Null => fail(InputProblem::Required),
                _ => self.value(value, inner, path),
            },
            MetaTypeName::List(inner) => match value {
                ConstValue::Null => Ok(()),
                ConstValue::List(items) => items.iter().try_for_each(|item| self.value(item, inner, path)),
                // A single value is a list of one.
                single => self.value(single, inner, path),
            },
            MetaTypeName::Named(_) if matches!(value, ConstValue::Null) => Ok(()),
            MetaTypeName::Named(name) => match self.registry.types.get(name) {
                Some(MetaType::Scalar { .. }) => scalar(name, value).map_or(Ok(()), fail),
                Some(MetaType::Enum { enum_values, .. }) => {
                    let known = match value {
                        ConstValue::Enum(v) => enum_values.contains_key(v.as_str()),
                        ConstValue::String(v) => enum_values.contains_key(v.as_str()),
                        _ => false,
                    };
                    if known { Ok(()) } else { fail(InputProblem::InvalidFormat) }
                }
                Some(MetaType::InputObject { input_fields, .. }) => {
                    let ConstValue::Object(given) = value else { return fail(InputProblem::InvalidFormat) };
                    for (key, field_value) in given {
                        let inner = format!("{path}.{}", key.as_str());
                        match input_fields.get(key.as_str()) {
                            Some(declared) => self.value(field_value, &declared.ty, &inner)?,
                            None => return Err((inner, InputProblem::InvalidFormat)),
                        }
                    }
                    for (key, declared) in input_fields {
                        let required = declared.ty.ends_with('!') && declared.default_value.is_none();
                        if required && !given.contains_key(key.as_str()) {
                            return Err((format!("{path}.{key}"), InputProblem::Required));
                        }
                    }
                    Ok(())
                }
                _ => Ok(()),
            },
        }
    }
}

/// What async-graphql writes into `variables` where a multipart request's file goes, followed by
/// the file's index.
pub const UPLOAD_MARKER: &str = "#__graphql_file__:";

/// What is wrong with `value` as the scalar `name`, if anything. Scalars this server does not
/// define the parsing of are left to the engine (their text still passes the character rule).
fn scalar(name: &str, value: &ConstValue) -> Option<InputProblem> {
    let text = |s: &str| s.chars().any(is_forbidden_char).then_some(InputProblem::InvalidCharacters);
    match (name, value) {
        ("String", ConstValue::String(s)) | ("ID", ConstValue::String(s)) => text(s),
        ("ID", ConstValue::Number(n)) if n.is_i64() || n.is_u64() => None,
        ("Int", ConstValue::Number(n)) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => None,
            _ if n.is_f64() => Some(InputProblem::InvalidFormat),
            _ => Some(InputProblem::OutOfRange),
        },
        ("Float", ConstValue::Number(_)) | ("Boolean", ConstValue::Boolean(_)) => None,
        ("Date", ConstValue::String(s)) => {
            crate::graphql::scalars::parse_date(s).is_none().then_some(InputProblem::InvalidFormat)
        }
        // What the engine's DateTime takes (RFC 3339, or the same with a space); anything else
        // fails there, with the value in the message.
        ("DateTime", ConstValue::String(s)) => {
            s.parse::<chrono::DateTime<chrono::FixedOffset>>().is_err().then_some(InputProblem::InvalidFormat)
        }
        // A multipart request puts a marker where the file goes (the HTTP layer checks that it
        // names a file the request carries).
        ("Upload", ConstValue::String(s)) => s
            .strip_prefix(UPLOAD_MARKER)
            .is_none_or(|n| n.parse::<usize>().is_err())
            .then_some(InputProblem::InvalidFormat),
        ("String" | "ID" | "Int" | "Float" | "Boolean" | "Date" | "DateTime" | "Upload", _) => {
            Some(InputProblem::InvalidFormat)
        }
        (_, ConstValue::String(s)) => text(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_checked_without_the_engine() {
        let s = |v: &str| ConstValue::String(v.to_owned());
        assert_eq!(scalar("Date", &s("2026-12-03")), None);
        assert_eq!(scalar("Date", &s("0000-00-00")), Some(InputProblem::InvalidFormat));
        assert_eq!(scalar("DateTime", &s("2026-12-03T07:00:00Z")), None);
        assert_eq!(scalar("DateTime", &s("hôm qua")), Some(InputProblem::InvalidFormat));
        assert_eq!(scalar("Int", &ConstValue::from(7)), None);
        assert_eq!(scalar("Int", &ConstValue::from(99_999_999_999i64)), Some(InputProblem::OutOfRange));
        assert_eq!(scalar("Int", &s("abc")), Some(InputProblem::InvalidFormat));
        assert_eq!(scalar("String", &s("Dòng 1\n\tDòng 2")), None);
        assert_eq!(scalar("String", &s("a\u{0}b")), Some(InputProblem::InvalidCharacters));
        assert_eq!(scalar("String", &s("a\u{202E}b")), Some(InputProblem::InvalidCharacters));
        assert_eq!(scalar("Upload", &s("C:\\\\secret.txt")), Some(InputProblem::InvalidFormat));
        assert_eq!(scalar("Upload", &s("#__graphql_file__:0")), None);
    }
}
