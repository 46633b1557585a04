//! GraphQL errors: every error of a response gets its `extensions.code` and a message in the
//! caller's language.
//!
//! Resolvers convert a service [`ApiError`] with a bare `?` (async-graphql keeps it as the
//! error's source); once the operation ran, [`map_error`] rewrites every error of the response
//! (see `engine`): an `ApiError` gets its code, `field`, `reason` and message; an engine error
//! gets a code of its own; anything else is an internal error whose detail is logged and
//! replaced by a generic message, so SQL, paths and secrets never reach a client.

use async_graphql::{ErrorExtensionValues, ServerError, Value};
use service::error::{ApiError, Lang};

/// Sets `code` and the code's companions (`field`, `reason`, `retryAfter`) of an [`ApiError`];
/// a domain field is named by its argument path, under `argument` when the error is about a
/// field of that input object (see [`in_argument`]).
pub fn write_extensions(err: &ApiError, argument: Option<&str>, ext: &mut ErrorExtensionValues) {
    ext.set("code", err.code());
    match err {
        ApiError::BadInput { field, problem } => {
            ext.set("field", argument_path(field, argument));
            ext.set("reason", problem.code());
        }
        ApiError::Conflict(kind) => {
            ext.set("reason", kind.code());
            if *kind == service::error::ConflictKind::RequestInProgress {
                ext.set("retryAfter", 1);
            }
        }
        ApiError::RateLimited { retry_after_secs } | ApiError::Unavailable { retry_after_secs } => {
            ext.set("retryAfter", *retry_after_secs)
        }
        ApiError::MfaRequired | ApiError::StepUpRequired | ApiError::OtpRequired => {
            ext.set("reason", err.reason().unwrap_or_default())
        }
        ApiError::ScopeRequired(scope) => {
            ext.set("reason", err.reason().unwrap_or_default());
            ext.set("requiredScope", scope.as_str());
        }
        _ => {}
    }
}

/// The argument path of a domain field: the core names fields in the domain's words
/// (`cover_image_url`, `contact.safe_times`); the schema's are camelCase, and a field of an
/// input object sits under its argument (`input.coverImageUrl`, `input.contact.safeTimes`).
pub fn argument_path(field: &str, argument: Option<&str>) -> String {
    let mut path = String::with_capacity(field.len() + 8);
    if let Some(argument) = argument {
        path.push_str(argument);
        path.push('.');
    }
    let mut upper = false;
    for c in field.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                path.extend(c.to_uppercase());
                upper = false;
            }
            c => path.push(c),
        }
    }
    path
}

/// A service error about the input object passed as `argument` (see [`in_argument`]).
#[derive(Debug)]
pub struct InArgument {
    pub error: ApiError,
    pub argument: &'static str,
}

impl std::fmt::Display for InArgument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for InArgument {}

/// For resolvers that hand a service one input object: `.map_err(in_argument("input"))?` names
/// the service's domain fields by their path inside that argument.
pub fn in_argument(argument: &'static str) -> impl Fn(ApiError) -> InArgument {
    move |error| InArgument { error, argument }
}

/// Codes for errors raised by the GraphQL engine itself, not by a resolver.
pub const CODE_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
pub const CODE_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// Rewrites one error in place (see the module docs for the rules).
pub fn map_error(err: &mut ServerError, lang: Lang) {
    let api = match (err.source::<ApiError>(), err.source::<InArgument>()) {
        (Some(api), _) => Some((api, None)),
        (None, Some(at)) => Some((&at.error, Some(at.argument))),
        (None, None) => None,
    };
    if let Some((api, argument)) = api {
        let mut ext = ErrorExtensionValues::default();
        write_extensions(api, argument, &mut ext);
        err.message = api.message(lang);
        err.extensions = Some(ext);
        return;
    }
    let has_code = err.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
    if has_code {
        return;
    }
    if err.path.is_empty() {
        // Raised before execution (unknown operation name and the like): a bad request.
        err.extensions.get_or_insert_with(Default::default).set("code", CODE_VALIDATION_FAILED);
    } else if ["Invalid value for argument", "Failed to parse", "Expected input type"]
        .iter()
        .any(|prefix| err.message.starts_with(prefix))
    {
        // Argument coercion failures raised by the engine while resolving a field.
        err.extensions.get_or_insert_with(Default::default).set("code", "BAD_USER_INPUT");
    } else {
        tracing::error!(error = %err.message, path = ?err.path, "unmapped resolver error");
        err.message = ApiError::Internal.message(lang);
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", "INTERNAL");
        err.extensions = Some(ext);
    }
}

/// Extracts a string code from an error's extensions (used by the HTTP layer for status codes).
pub fn error_code(err: &ServerError) -> Option<String> {
    match err.extensions.as_ref()?.get("code")? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service::error::InputProblem;

    #[test]
    fn api_errors_keep_code_and_field_through_conversion() {
        let e: async_graphql::Error = ApiError::bad_input("phone", InputProblem::InvalidPhone).into();
        let mut server = e.into_server_error(Default::default());
        server.path = vec![async_graphql::PathSegment::Field("register".into())];
        map_error(&mut server, Lang::En);
        let ext = server.extensions.unwrap();
        assert_eq!(ext.get("code"), Some(&Value::from("BAD_USER_INPUT")));
        assert_eq!(ext.get("field"), Some(&Value::from("phone")));
        assert_eq!(server.message, "Not a valid Vietnamese mobile number.");
    }

    #[test]
    fn domain_fields_are_named_by_their_argument_path() {
        assert_eq!(argument_path("to_branch_id", None), "toBranchId");
        assert_eq!(argument_path("phone", None), "phone");
        assert_eq!(argument_path("contact.safe_times", Some("input")), "input.contact.safeTimes");
        let e: async_graphql::Error =
            in_argument("input")(ApiError::bad_input("cover_image_url", InputProblem::InvalidFormat)).into();
        let mut server = e.into_server_error(Default::default());
        server.path = vec![async_graphql::PathSegment::Field("createNewsPost".into())];
        map_error(&mut server, Lang::En);
        let ext = server.extensions.unwrap();
        assert_eq!(ext.get("code"), Some(&Value::from("BAD_USER_INPUT")));
        assert_eq!(ext.get("field"), Some(&Value::from("input.coverImageUrl")));
    }

    #[test]
    fn unknown_resolver_errors_are_masked_as_internal() {
        let e = async_graphql::Error::new("relation \"person\" does not exist at /srv/x.rs");
        let mut server = e.into_server_error(Default::default());
        server.path = vec![async_graphql::PathSegment::Field("me".into())];
        map_error(&mut server, Lang::En);
        assert_eq!(server.extensions.unwrap().get("code"), Some(&Value::from("INTERNAL")));
        assert!(!server.message.contains("person"));
    }
}
