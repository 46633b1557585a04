//! How an operation runs: [`Engine`] wraps the schema with what every document goes through —
//! parsed once per text ([`DocumentCache`]), checked (introspection, depth, an integration
//! client's surface, arguments, expensive fields, cost points; a document sent without
//! variables once per text, see `documents::Checked`), executed, and every error of the answer
//! given its code and language ([`errors::map_error`]).
//!
//! The schema registers no async-graphql extension on purpose (only [`RootFieldSpans`], and only
//! when traces are exported): with any extension registered,
//! the engine passes every field's resolution through the extension chain (a boxed future per
//! field and per extension, and the field's type names built as strings), which cost about a
//! quarter of a page of 100 units. The checks need the document, not the fields, so they run
//! here, before execution, and the errors are mapped after it.

use std::{
    any::TypeId,
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    Data, Name, Positioned, Request, Response, SchemaEnv, ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet},
    registry::{MetaTypeName, Registry},
};
use futures_util::{StreamExt, stream::BoxStream};
use service::{RequestMeta, auth::Auth, config::Settings, error::Lang, metrics::metrics, state::AppState};

use super::{
    AppSchema, depth,
    documents::{Checked, DocumentCache, Parsed},
    errors::{self, CODE_PARSE_FAILED},
    introspection, quota, shape,
};

/// The schema and the checks around it (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

struct Inner {
    schema: AppSchema,
    /// The schema's type registry, which the checks read.
    env: SchemaEnv,
    state: AppState,
    documents: DocumentCache,
    introspection: bool,
    depth_limit: usize,
    max_expensive_fields: usize,
    /// Traces are exported: operations get spans of their own.
    traced: bool,
}

/// Request data of an HTTP request: set when its answer may carry secrets — a mutation or a
/// subscription (the tokens, client secrets and codes the service mints come from mutations),
/// or a query that selects a violence report's fields or a secret (see [`SECRET_FIELDS`]). Such an answer is never compressed
/// (see `http::compression`). Sensitive until the engine has looked at the document (an
/// answer given back by an idempotency key never reaches it).
pub struct Disclosure(AtomicBool);

impl Default for Disclosure {
    fn default() -> Self {
        Self(AtomicBool::new(true))
    }
}

impl Disclosure {
    /// Whether the answer may carry secrets.
    pub fn sensitive(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the checks read of a request's data (set by the HTTP layer, or by the WebSocket for
/// its connection).
struct Caller<'a> {
    auth: Option<&'a Auth>,
    lang: Lang,
    /// The cost cell and the request's metadata: only HTTP requests are metered.
    metered: Option<(&'a Arc<quota::CostCell>, &'a RequestMeta)>,
    disclosure: Option<&'a Arc<Disclosure>>,
    /// The HTTP worker's state (its own Redis connection), when the request carries one.
    state: Option<&'a AppState>,
}

fn data_of<'a, T: 'static>(data: &'a Data, session: Option<&'a Data>) -> Option<&'a T> {
    let id = TypeId::of::<T>();
    data.get(&id).or_else(|| session?.get(&id)).and_then(|d| d.downcast_ref::<T>())
}

impl Engine {
    /// The schema `schema` with `settings`' limits; `state` is the schema's data.
    pub fn new(schema: AppSchema, state: AppState, settings: &Settings) -> Self {
        Self(Arc::new(Inner {
            env: registry_of(),
            schema,
            state,
            documents: DocumentCache::default(),
            introspection: settings.introspection,
            depth_limit: settings.query_depth_limit,
            max_expensive_fields: settings.query_max_expensive_fields,
            traced: settings.otlp.is_some(),
        }))
    }

    pub fn schema(&self) -> &AppSchema {
        &self.0.schema
    }

    /// Runs `request` (its data set): see the module docs. Counted in the process's metrics
    /// by operation name, type and outcome (see `service::metrics`).
    pub async fn execute(&self, mut request: Request) -> Response {
        let started = std::time::Instant::now();
        let lang = data_of::<Lang>(&request.data, None).copied().unwrap_or_default();
        let prepared = {
            let caller = Caller {
                auth: data_of::<Auth>(&request.data, None),
                lang,
                metered: data_of::<Arc<quota::CostCell>>(&request.data, None)
                    .zip(data_of::<RequestMeta>(&request.data, None)),
                disclosure: data_of::<Arc<Disclosure>>(&request.data, None),
                state: data_of::<AppState>(&request.data, None),
            };
            self.prepare(&request, &caller).await
        };
        let (name, kind, mut response) = match prepared {
            Ok(prepared) => {
                let (name, kind) = operation_of(&prepared.0, request.operation_name.as_deref());
                attach(&mut request, prepared);
                if kind == "query" {
                    request.data.insert(super::KnownUnits::default());
                }
                let run = self.0.schema.execute(request);
                let response = if self.0.traced {
                    let span = tracing::info_span!(
                        "graphql",
                        otel.name = %format_args!("{kind} {}", name.as_deref().unwrap_or("anonymous")),
                        graphql.operation.name = name.as_deref().unwrap_or(""),
                        graphql.operation.type = kind,
                    );
                    tracing::Instrument::instrument(run, span).await
                } else {
                    run.await
                };
                (name, kind, response)
            }
            // A refused document names no operation: its name is the sender's text.
            Err(err) => (None, "unknown", Response::from_errors(vec![err])),
        };
        let metrics = metrics();
        for err in &mut response.errors {
            errors::map_error(err, lang);
            let code = errors::error_code(err);
            metrics.errors.with_label_values(&[code.as_deref().unwrap_or("NONE")]).inc();
        }
        let outcome = response.errors.first().and_then(errors::error_code);
        metrics.record_operation(
            name.as_deref(),
            kind,
            outcome.as_deref().unwrap_or("OK"),
            started.elapsed(),
        );
        response
    }

    /// Runs a WebSocket operation (a subscription's stream, or one answer), its connection's
    /// data in `session`. Not metered: see `quota`.
    pub fn execute_stream(
        &self,
        request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let engine = self.clone();
        let session = session.unwrap_or_default();
        let lang = data_of::<Lang>(&request.data, Some(&session)).copied().unwrap_or_default();
        futures_util::stream::once(async move {
            let mut request = request;
            let prepared = {
                let caller = Caller {
                    auth: data_of::<Auth>(&request.data, Some(&session)),
                    lang,
                    metered: None,
                    disclosure: None,
                    state: None,
                };
                engine.prepare(&request, &caller).await
            };
            match prepared {
                Ok(prepared) => {
                    attach(&mut request, prepared);
                    engine.0.schema.execute_stream_with_session_data(request, session)
                }
                Err(err) => {
                    futures_util::stream::once(async move { Response::from_errors(vec![err]) }).boxed()
                }
            }
        })
        .flatten()
        .map(move |mut response| {
            for err in &mut response.errors {
                errors::map_error(err, lang);
            }
            response
        })
        .boxed()
    }

    /// The document of `request`, checked, and whether it is known to pass every validation
    /// rule that does not read the variables (see `documents`); an error (coded) when it does
    /// not parse or may not run.
    async fn prepare(
        &self,
        request: &Request,
        caller: &Caller<'_>,
    ) -> Result<(ExecutableDocument, bool), ServerError> {
        let inner = &self.0;
        let (query, variables) = (&request.query, &request.variables);
        let operation = request.operation_name.as_deref();
        let Parsed { doc, kept, validated, checked } =
            inner.documents.parse(query, operation).map_err(|mut err| {
                err.extensions.get_or_insert_with(Default::default).set("code", CODE_PARSE_FAILED);
                err
            })?;
        let (lang, registry) = (caller.lang, &inner.env.registry);
        // An integration client selects only what its scopes open (see `surface`).
        let surface = || match caller.auth {
            Some(Auth::Client(client)) => super::integrations::surface::check(&doc, registry, client, lang),
            _ => Ok(()),
        };
        // Sent without variables like before: the same answers (see `documents::Checked`).
        let checked = match checked.filter(|_| variables.is_empty()) {
            Some(checked) => {
                surface()?;
                checked
            }
            None => {
                self.check_shape(&doc, lang)?;
                surface()?;
                let checked = self.check_values(&doc, variables, lang)?;
                if kept && variables.is_empty() {
                    inner.documents.checked(query, checked);
                }
                checked
            }
        };
        if let Some(disclosure) = caller.disclosure {
            disclosure.0.store(checked.sensitive, Ordering::Relaxed);
        }
        // Last, once the document is known to be acceptable: its points (see `quota`).
        if let (Some((cell, meta)), Some(auth)) = (caller.metered, caller.auth) {
            let state = caller.state.unwrap_or(&inner.state);
            let call = quota::Metered { state, cell, auth, meta };
            quota::charge(call, checked.estimate, lang).await?;
        }
        // Validated once per kept text and operation name; an invalid document is left to the
        // engine, which reports why.
        if validated {
            return Ok((doc, true));
        }
        let passed = kept && async_graphql::check_document(registry, &doc, operation);
        if passed {
            inner.documents.validated(query, operation);
        }
        Ok((doc, passed))
    }

    /// The checks of the document's shape (see `shape`, `introspection`, `depth`).
    fn check_shape(&self, doc: &ExecutableDocument, lang: Lang) -> Result<(), ServerError> {
        let inner = &self.0;
        // First, so that every walk below (fragments expanded) is bounded.
        shape::check(doc, lang)?;
        if inner.introspection {
            introspection::check_depth(doc, lang)?;
        } else {
            introspection::refuse_when_off(doc, lang)?;
        }
        depth::check(doc, inner.depth_limit, lang)
    }

    /// The checks of its arguments (with `variables`) and cost; what they found when it passes.
    fn check_values(
        &self,
        doc: &ExecutableDocument,
        variables: &Variables,
        lang: Lang,
    ) -> Result<Checked, ServerError> {
        let (inner, registry) = (&self.0, &self.0.env.registry);
        super::arguments::check(doc, variables, registry, lang)?;
        super::cost::check(doc, variables, inner.max_expensive_fields, lang)?;
        Ok(Checked {
            sensitive: sensitive(doc, registry),
            estimate: super::cost::estimate(doc, variables, registry),
        })
    }
}

/// Gives `request` its prepared document, marked validated when it is known to be (see
/// `Engine::prepare`).
fn attach(request: &mut Request, (doc, validated): (ExecutableDocument, bool)) {
    request.set_parsed_query(doc);
    if validated {
        request.mark_document_validated();
    }
}

/// The name and type of the operation of `doc` that runs (the one named `wanted`, or the only
/// one).
fn operation_of(doc: &ExecutableDocument, wanted: Option<&str>) -> (Option<String>, &'static str) {
    let mut found =
        doc.operations.iter().filter(|(name, _)| wanted.is_none() || name.map(|n| n.as_str()) == wanted);
    let Some((name, op)) = found.next() else { return (wanted.map(str::to_owned), "unknown") };
    let kind = match op.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    (name.map(|n| n.to_string()), kind)
}

/// Whether an answer to `doc` may carry secrets (see [`Disclosure`]).
fn sensitive(doc: &ExecutableDocument, registry: &Registry) -> bool {
    let mut walker = Sealed { registry, fragments: &doc.fragments, expanding: Vec::new() };
    doc.operations.iter().any(|(_, op)| {
        op.node.ty != OperationType::Query
            || walker.selects(&op.node.selection_set.node, &registry.query_type)
    })
}

/// The violence area's types (what a report says, its people, its handling and its log), and the
/// secrets a query can return (a check-in code, the reference of a report consented to).
fn sealed_type(name: &str) -> bool {
    name.contains("Violence") || name.starts_with("Reporter") || name == "CheckInCode"
}

/// Fields that hold a secret whatever their type.
const SECRET_FIELDS: [&str; 12] = [
    "checkInCode",
    "reportReference",
    "referenceCode",
    "pin",
    "secret",
    "clientSecret",
    "recoveryCodes",
    "otpauthUri",
    "accessToken",
    "refreshToken",
    "deviceToken",
    "verificationToken",
];

struct Sealed<'a> {
    registry: &'a Registry,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// The fragments being expanded, so that an (invalid) cycle cannot loop.
    expanding: Vec<&'a str>,
}

impl<'a> Sealed<'a> {
    /// Whether `set`, selected on the type `on`, reaches a sealed type.
    fn selects(&mut self, set: &'a SelectionSet, on: &str) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => {
                let field =
                    self.registry.types.get(on).and_then(|t| t.field_by_name(f.node.name.node.as_str()));
                let Some(field) = field else { return false };
                let ty = MetaTypeName::concrete_typename(&field.ty);
                SECRET_FIELDS.contains(&f.node.name.node.as_str())
                    || sealed_type(ty)
                    || self.selects(&f.node.selection_set.node, ty)
            }
            Selection::InlineFragment(i) => {
                let on = i.node.type_condition.as_ref().map_or(on, |c| c.node.on.node.as_str());
                sealed_type(on) || self.selects(&i.node.selection_set.node, on)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                let Some(fragment) = self.fragments.get(name) else { return false };
                if self.expanding.contains(&name) {
                    return false;
                }
                let on = fragment.node.type_condition.node.on.node.as_str();
                self.expanding.push(name);
                let found = sealed_type(on) || self.selects(&fragment.node.selection_set.node, on);
                self.expanding.pop();
                found
            }
        })
    }
}

/// A span per root field when traces are exported: each is one call into the service (see
/// `telemetry`). Registered only then, since any extension wraps every field (see the module
/// docs); below the root it only passes the field on.
pub struct RootFieldSpans;

impl ExtensionFactory for RootFieldSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RootFieldSpans)
    }
}

#[async_trait::async_trait]
impl Extension for RootFieldSpans {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: async_graphql::extensions::ResolveInfo<'_>,
        next: async_graphql::extensions::NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        if info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        // The field's name only: its arguments may be secret.
        let span =
            tracing::info_span!("graphql.field", otel.name = %info.name, graphql.field.name = %info.name);
        tracing::Instrument::instrument(next.run(ctx, info), span).await
    }
}

/// The schema's type registry. async-graphql keeps it inside the schema and shows it only to
/// extensions; so a twin of the schema, built the same way with an extension that keeps it,
/// runs `{ __typename }` once.
fn registry_of() -> SchemaEnv {
    type Cell = Arc<std::sync::Mutex<Option<SchemaEnv>>>;
    struct Keep(Cell);
    impl ExtensionFactory for Keep {
        fn create(&self) -> Arc<dyn Extension> {
            Arc::new(Keep(self.0.clone()))
        }
    }
    #[async_trait::async_trait]
    impl Extension for Keep {
        async fn parse_query(
            &self,
            ctx: &ExtensionContext<'_>,
            query: &str,
            variables: &Variables,
            next: NextParseQuery<'_>,
        ) -> ServerResult<ExecutableDocument> {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(ctx.schema_env.clone());
            next.run(ctx, query, variables).await
        }
    }
    let cell = Cell::default();
    let twin = super::schema_builder().extension(Keep(cell.clone())).finish();
    // Nothing in `{ __typename }` waits.
    let _ = futures_util::FutureExt::now_or_never(twin.execute("{ __typename }"));
    let env = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
    env.unwrap_or_else(|| unreachable!("the schema runs its extensions' parse hook"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    /// The vendored async-graphql's patch (see `vendor/README.md`): a document passes
    /// `check_document` once, whatever its variables, and a request marked validated still
    /// has its variables' values checked against the arguments' types.
    #[tokio::test]
    async fn a_validated_document_still_has_its_variables_checked() {
        let (schema, env) = (crate::graphql::schema_builder().finish(), registry_of());
        let registry = &env.registry;
        let text = "query Type($n: String!) { __type(name: $n) { name } }";
        let doc = parse_query(text).expect("parses");
        assert!(async_graphql::check_document(registry, &doc, Some("Type")));
        for invalid in
            ["{ __type(name: 5) { name } }", "{ orgUnits { noSuchField } }", "query($x: Int) { me { id } }"]
        {
            assert!(!async_graphql::check_document(registry, &parse_query(invalid).expect("parses"), None));
        }

        let run = |n: serde_json::Value| {
            let variables = Variables::from_json(serde_json::json!({ "n": n }));
            let mut request = Request::new(text).operation_name("Type").variables(variables);
            request.set_parsed_query(doc.clone());
            request.mark_document_validated();
            schema.execute(request)
        };
        let ok = run(serde_json::json!("OrgUnit")).await;
        assert!(ok.errors.is_empty(), "{:?}", ok.errors);
        assert_eq!(ok.data.into_json().ok(), Some(serde_json::json!({ "__type": { "name": "OrgUnit" } })));
        let bad = run(serde_json::json!(5)).await;
        assert_eq!(bad.errors.len(), 1);
        assert!(bad.errors[0].path.is_empty(), "refused before any field ran");
        assert_eq!(bad.data, async_graphql::Value::Null);
    }

    #[test]
    fn answers_that_may_carry_secrets_are_told_apart() {
        let env = registry_of();
        let sensitive = |doc: &str| sensitive(&parse_query(doc).expect("parses"), &env.registry);
        assert!(!sensitive("{ me { fullName } orgUnits(first: 5) { edges { node { name } } } }"));
        assert!(!sensitive("query { myTrainingRegistrations { status } }"));
        // Every mutation, whatever it selects.
        assert!(sensitive("mutation { logout }"));
        // The violence area's types, directly, in fragments and inline fragments.
        assert!(sensitive("{ violenceReports(first: 5) { totalCount } }"));
        assert!(sensitive("{ ...V } fragment V on QueryRoot { violenceReports(first: 5) { totalCount } }"));
        // Secrets a query returns.
        assert!(sensitive("{ myTrainingRegistrations { checkInCode { code } } }"));
        assert!(sensitive("{ myConsents { reportReference } }"));
    }
}
