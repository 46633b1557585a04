//! GraphQL over HTTP, following the GraphQL-over-HTTP specification.
//!
//! - `POST /graphql` takes `application/json` with `query`, `operationName`, `variables`,
//!   `extensions`, or `multipart/form-data` following the GraphQL multipart request spec (a file
//!   upload: `operations`, `map`, one file); `GET /graphql` takes the same as URL parameters and
//!   runs queries only (a mutation answers 405), or serves GraphiQL to a browser in development.
//! - Each body kind has its own size limit (`APP_MAX_BODY_BYTES` for JSON,
//!   `APP_MAX_UPLOAD_BYTES` for multipart); a body over it answers 413 and is not read further.
//!   Uploads are held in memory (async-graphql's `tempfile` feature is off). A cross-site form
//!   can post multipart without a preflight, but credentials travel only in the
//!   `Authorization` header, which such a form cannot set.
//! - The response media type follows `Accept`: `application/graphql-response+json` gets the
//!   spec's status codes (400 when the request or document is invalid, with no `data` entry);
//!   `application/json` (or no `Accept`) always gets 200 for a well-formed request.
//! - Malformed HTTP requests (no or wrong `Content-Type`, bad JSON, wrong parameter types,
//!   batches) answer 4xx with an error coded `BAD_REQUEST`, whatever the media type.
//! - Batching is off, which also keeps a single request from carrying many logins.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use async_graphql::{
    ParseRequestError, Request, Variables,
    http::{MultipartOptions, receive_body},
    parser::{parse_query, types::OperationType},
};
use serde_json::{Map, Value, json};

use super::{compression, idempotency, request_meta};
use service::error::{ApiError, InputProblem, Lang};

use crate::graphql::{
    CredentialGuard, Engine, ScopeCell,
    documents::Persisted,
    engine::Disclosure,
    errors::{error_code, write_extensions},
    loaders::Loaders,
    quota::{self, CostCell},
};
use service::{auth, state::AppState};

/// The response media type chosen from `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Media {
    GraphqlResponseJson,
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the best acceptable media type; `None` when the client accepts neither.
fn negotiate(req: &HttpRequest) -> Option<Media> {
    let Some(accept) = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    let mut ranges: Vec<(f32, &str)> = accept
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';');
            let media = it.next()?.trim();
            let q = it
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some((q, media))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.into_iter().find_map(|(_, media)| match media.to_ascii_lowercase().as_str() {
        "application/graphql-response+json" => Some(Media::GraphqlResponseJson),
        "application/json" | "application/*" | "*/*" => Some(Media::Json),
        _ => None,
    })
}

/// Why an HTTP request is not a well-formed GraphQL request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Problem {
    NotAcceptable,
    NoContentType,
    WrongContentType,
    InvalidJson,
    NotAnObject,
    NoQuery,
    QueryNotString,
    OperationNameNotString,
    VariablesNotObject,
    ExtensionsNotObject,
    MalformedUrl,
    MutationOverGet,
    TooLarge,
    UnreadableBody,
    MalformedMultipart,
    TooManyFiles,
}

impl Problem {
    fn status(self) -> StatusCode {
        match self {
            Problem::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Problem::NoContentType | Problem::WrongContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::MutationOverGet => StatusCode::METHOD_NOT_ALLOWED,
            Problem::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(self, lang: Lang) -> &'static str {
        let (vi, en) = match self {
            Problem::NotAcceptable => (
                "Chỉ trả lời application/graphql-response+json hoặc application/json.",
                "Accept application/graphql-response+json or application/json.",
            ),
            Problem::NoContentType => (
                "Cần có Content-Type application/json (hoặc multipart/form-data khi gửi tệp).",
                "Content-Type application/json (or multipart/form-data for a file) is required.",
            ),
            Problem::WrongContentType => (
                "Content-Type phải là application/json; charset=utf-8 (hoặc multipart/form-data khi gửi tệp).",
                "Content-Type must be application/json; charset=utf-8 (or multipart/form-data for a file).",
            ),
            Problem::InvalidJson => ("Nội dung không phải JSON hợp lệ.", "The body is not valid JSON."),
            Problem::NotAnObject => (
                "Nội dung phải là một đối tượng JSON (không hỗ trợ gửi theo lô).",
                "The body must be a JSON object (batching is not supported).",
            ),
            Problem::NoQuery => ("Thiếu tham số query.", "The query parameter is required."),
            Problem::QueryNotString => {
                ("Tham số query phải là chuỗi.", "The query parameter must be a string.")
            }
            Problem::OperationNameNotString => {
                ("Tham số operationName phải là chuỗi.", "The operationName parameter must be a string.")
            }
            Problem::VariablesNotObject => (
                "Tham số variables phải là đối tượng JSON.",
                "The variables parameter must be a JSON object.",
            ),
            Problem::ExtensionsNotObject => (
                "Tham số extensions phải là đối tượng JSON.",
                "The extensions parameter must be a JSON object.",
            ),
            Problem::MalformedUrl => ("Tham số trên URL không hợp lệ.", "Malformed URL parameters."),
            Problem::MutationOverGet => (
                "Chỉ gửi truy vấn (query) bằng GET; hãy dùng POST.",
                "Only queries can be sent with GET; use POST.",
            ),
            Problem::TooLarge => ("Nội dung yêu cầu quá lớn.", "The request body is too large."),
            Problem::UnreadableBody => {
                ("Không đọc được nội dung yêu cầu.", "The request body could not be read.")
            }
            Problem::MalformedMultipart => (
                "Yêu cầu multipart không hợp lệ (cần các phần operations, map và tệp).",
                "Malformed multipart request (operations, map and the file are expected).",
            ),
            Problem::TooManyFiles => {
                ("Mỗi yêu cầu chỉ gửi được một tệp.", "Only one file can be sent per request.")
            }
        };
        if lang == Lang::En { en } else { vi }
    }
}

/// A 4xx answer to a request that is not a well-formed GraphQL request (code `BAD_REQUEST`).
fn refuse(req: &HttpRequest, media: Media, problem: Problem) -> HttpResponse {
    let lang =
        Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let mut resp = HttpResponse::build(problem.status());
    if problem == Problem::MutationOverGet {
        resp.insert_header((header::ALLOW, "POST"));
    }
    resp.content_type(media.content_type()).json(
        json!({ "errors": [{ "message": problem.message(lang), "extensions": { "code": "BAD_REQUEST" } }] }),
    )
}

/// The parameters of a GraphQL request, checked for type. The document is its text, or its id
/// (`documentId: "sha256:…"`, or `extensions.persistedQuery.sha256Hash`), or both.
struct Params {
    query: Option<String>,
    document_id: Option<String>,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn params_from_json(body: Value) -> Result<Params, Problem> {
    let Value::Object(mut map) = body else {
        return Err(Problem::NotAnObject);
    };
    let query = match map.remove("query") {
        Some(Value::String(q)) => Some(q),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Problem::QueryNotString),
    };
    let document_id = match map.remove("documentId") {
        Some(Value::String(d)) => Some(d),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Problem::QueryNotString),
    };
    let operation_name = match map.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Problem::OperationNameNotString),
    };
    let object = |v: Option<Value>, err: Problem| match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(err),
    };
    Params {
        query,
        document_id,
        operation_name,
        variables: object(map.remove("variables"), Problem::VariablesNotObject)?,
        extensions: object(map.remove("extensions"), Problem::ExtensionsNotObject)?,
    }
    .named()
}

/// Reads the whole body, refusing it as soon as it is known to exceed `limit` (from
/// `Content-Length`, or while reading).
async fn read_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<web::Bytes, Problem> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Problem::TooLarge);
    }
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_)) => Err(Problem::UnreadableBody),
        Err(_) => Err(Problem::TooLarge),
    }
}

/// A multipart request (GraphQL multipart request spec) into a single request with its upload.
async fn request_from_multipart(
    content_type: &str,
    body: &[u8],
    max_upload_bytes: usize,
) -> Result<Request, Problem> {
    let opts = MultipartOptions::default().max_num_files(1).max_file_size(max_upload_bytes);
    let request = receive_body(Some(content_type), body, opts).await.map_err(|e| match e {
        ParseRequestError::PayloadTooLarge => Problem::TooLarge,
        ParseRequestError::UnsupportedBatch => Problem::NotAnObject,
        ParseRequestError::InvalidRequest(_) => Problem::InvalidJson,
        _ => Problem::MalformedMultipart,
    })?;
    if request.uploads.len() > 1 {
        return Err(Problem::TooManyFiles);
    }
    Ok(request)
}

/// `POST /graphql`.
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    engine: web::Data<Engine>,
    state: web::Data<AppState>,
    persisted: web::Data<Persisted>,
) -> HttpResponse {
    let Some(media) = negotiate(&req) else { return refuse(&req, Media::Json, Problem::NotAcceptable) };
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return refuse(&req, media, Problem::NoContentType);
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let settings = &state.settings;
    if essence == "multipart/form-data" {
        let request = match read_body(&req, payload, settings.max_upload_bytes).await {
            Ok(body) => request_from_multipart(content_type, &body, settings.max_upload_bytes).await,
            Err(problem) => Err(problem),
        };
        let request = match request {
            Ok(request) => request,
            Err(problem) => return refuse(&req, media, problem),
        };
        let auth = match authenticate(&req, media, &state).await {
            Ok(auth) => auth,
            Err(resp) => return resp,
        };
        if let Err(err) = text_allowed(&auth, &persisted, &request.query) {
            return document_refused(&req, media, &err);
        }
        return execute(&req, media, request, auth, None, &engine, &state).await;
    }
    let charset_ok = parts
        .filter_map(|p| p.trim().to_ascii_lowercase().strip_prefix("charset=").map(str::to_owned))
        .all(|c| c.trim_matches('"') == "utf-8");
    if essence != "application/json" || !charset_ok {
        return refuse(&req, media, Problem::WrongContentType);
    }
    let params = match read_body(&req, payload, settings.max_body_bytes).await {
        Ok(body) => serde_json::from_slice::<Value>(&body)
            .map_err(|_| Problem::InvalidJson)
            .and_then(params_from_json),
        Err(problem) => Err(problem),
    };
    match params {
        Ok(params) => run(&req, media, params, &engine, &state, &persisted).await,
        Err(problem) => refuse(&req, media, problem),
    }
}

/// `GET /graphql`: GraphiQL for a browser (development), otherwise a query from URL parameters.
pub async fn get(
    req: HttpRequest,
    engine: web::Data<Engine>,
    state: web::Data<AppState>,
    persisted: web::Data<Persisted>,
) -> HttpResponse {
    let Ok(query) = web::Query::<Vec<(String, String)>>::from_query(req.query_string()) else {
        return refuse(&req, Media::Json, Problem::MalformedUrl);
    };
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && param("query").is_none() && state.settings.graphiql {
        return super::graphiql::page(&req);
    }
    let Some(media) = negotiate(&req) else { return refuse(&req, Media::Json, Problem::NotAcceptable) };
    match params_from_url(&param) {
        Ok(params) => run(&req, media, params, &engine, &state, &persisted).await,
        Err(problem) => refuse(&req, media, problem),
    }
}

/// Authenticates the request, resolves a document sent by id, and runs it.
async fn run(
    req: &HttpRequest,
    media: Media,
    mut params: Params,
    engine: &Engine,
    state: &AppState,
    persisted: &Persisted,
) -> HttpResponse {
    let auth = match authenticate(req, media, state).await {
        Ok(auth) => auth,
        Err(resp) => return resp,
    };
    let hash = params.hash();
    match resolve(&auth, state, persisted, params.query.as_deref(), hash.as_deref()).await {
        Ok(Some(text)) => params.query = Some(text),
        Ok(None) => {}
        Err(err) => return document_refused(req, media, &err),
    }
    // A document sent by id over GET must be a query too.
    if req.method() == actix_web::http::Method::GET
        && let Some(doc) = params.query.as_deref().and_then(|q| parse_query(q).ok())
        && doc.operations.iter().any(|(_, op)| op.node.ty != OperationType::Query)
    {
        return refuse(req, media, Problem::MutationOverGet);
    }
    let document_id = hash.map(|h| format!("sha256:{h}"));
    execute(req, media, params.into_request(), auth, document_id, engine, state).await
}

/// The text of a document sent by id, when the request did not carry it; `None` when the
/// request's text is to run as sent. An integration client runs its trusted documents (and
/// only those, when so registered); anyone else the apps' manifest, or a document persisted
/// automatically (see [`Persisted`]).
async fn resolve(
    auth: &auth::Auth,
    state: &AppState,
    persisted: &Persisted,
    text: Option<&str>,
    hash: Option<&str>,
) -> Result<Option<String>, ApiError> {
    use service::integrations::documents;
    let Some(hash) = hash else {
        // By text only.
        text_allowed(auth, persisted, text.unwrap_or_default())?;
        return Ok(None);
    };
    if let Some(text) = text {
        // Both: the text must be the one the hash names.
        if documents::hash(text) != hash {
            return Err(ApiError::bad_input(
                "extensions.persistedQuery.sha256Hash",
                InputProblem::InvalidFormat,
            ));
        }
    }
    match auth {
        auth::Auth::Client(client) => match documents::lookup(&state.db, client.client_id, hash).await? {
            Some(known) => Ok(Some(known)),
            None => Err(ApiError::PersistedQueryNotFound),
        },
        _ => match (persisted.get(hash), text) {
            (Some(known), _) => Ok(Some(known)),
            (None, Some(text)) if !persisted.only() => {
                persisted.remember(hash.to_owned(), text);
                Ok(None)
            }
            (None, Some(_)) => Err(ApiError::PersistedQueryNotAllowed),
            (None, None) => Err(ApiError::PersistedQueryNotFound),
        },
    }
}

/// Whether a document sent as text may run: not for a client registered to run trusted
/// documents only, nor (with `APP_TRUSTED_DOCUMENTS_ONLY`) for anyone else unless it is in the
/// manifest.
fn text_allowed(auth: &auth::Auth, persisted: &Persisted, text: &str) -> Result<(), ApiError> {
    let allowed = match auth {
        auth::Auth::Client(client) => !client.trusted_documents_only,
        _ => persisted.allows_text(text),
    };
    if allowed { Ok(()) } else { Err(ApiError::PersistedQueryNotAllowed) }
}

/// The answer to a document that may not run or is not known: a request error (400 with
/// `application/graphql-response+json`, else 200), coded.
fn document_refused(req: &HttpRequest, media: Media, err: &ApiError) -> HttpResponse {
    let lang =
        Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let status = if media == Media::GraphqlResponseJson { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    error_response(HttpResponse::build(status), None, media, lang, err)
}

/// The request's credentials; a 503 (or 500) answer when they cannot be checked now.
async fn authenticate(req: &HttpRequest, media: Media, state: &AppState) -> Result<auth::Auth, HttpResponse> {
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match auth::authenticate(&state.tokens, &state.cache, &state.db, header).await {
        Ok(auth) => Ok(auth),
        Err(err) => {
            let (lang, _) = request_meta(req, &state.settings);
            Err(unavailable(media, lang, &err))
        }
    }
}

/// The parameters of a GET request; a mutation (or subscription) is refused before it runs,
/// since a GET must be safe.
fn params_from_url(param: &impl Fn(&str) -> Option<String>) -> Result<Params, Problem> {
    let json_param = |name: &str, problem: Problem| match param(name) {
        None => Ok(None),
        Some(raw) => match serde_json::from_str::<Value>(&raw) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            Ok(Value::Null) => Ok(None),
            _ => Err(problem),
        },
    };
    let query = param("query");
    let operation_name = param("operationName").filter(|s| !s.is_empty());
    if let Some(doc) = query.as_deref().and_then(|q| parse_query(q).ok()) {
        let op_type = doc.operations.iter().find_map(|(name, op)| {
            let matches = match (&operation_name, name) {
                (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
                (None, _) => true,
                (Some(_), None) => false,
            };
            matches.then_some(op.node.ty)
        });
        if op_type.is_some_and(|t| t != OperationType::Query) {
            return Err(Problem::MutationOverGet);
        }
    }
    Params {
        query,
        document_id: param("documentId"),
        operation_name,
        variables: json_param("variables", Problem::VariablesNotObject)?,
        extensions: json_param("extensions", Problem::ExtensionsNotObject)?,
    }
    .named()
}

impl Params {
    /// The parameters, when they name a document (by text or id).
    fn named(self) -> Result<Self, Problem> {
        if self.query.is_none() && self.hash().is_none() {
            return Err(Problem::NoQuery);
        }
        Ok(self)
    }

    /// The document's SHA-256 (lowercase hex), when it was sent by id: `documentId:
    /// "sha256:<hex>"` (GraphQL over HTTP's trusted documents) or Apollo's
    /// `extensions.persistedQuery.sha256Hash`.
    fn hash(&self) -> Option<String> {
        let apollo = || {
            self.extensions.as_ref()?.get("persistedQuery")?.get("sha256Hash")?.as_str().map(str::to_owned)
        };
        let raw = match &self.document_id {
            Some(id) => id.strip_prefix("sha256:").map(str::to_owned).unwrap_or_else(|| id.clone()),
            None => apollo()?,
        };
        Some(raw.to_ascii_lowercase())
    }

    fn into_request(self) -> Request {
        let mut request = Request::new(self.query.unwrap_or_default());
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(vars) = self.variables {
            request = request.variables(Variables::from_json(Value::Object(vars)));
        }
        if let Some(ext) = self.extensions {
            request.extensions = async_graphql::Extensions(
                ext.into_iter()
                    .filter_map(|(k, v)| async_graphql::Value::from_json(v).ok().map(|v| (k, v)))
                    .collect(),
            );
        }
        request
    }
}

#[allow(clippy::too_many_arguments)] // the request's parts, resolved by the callers
async fn execute(
    req: &HttpRequest,
    media: Media,
    request: Request,
    auth: auth::Auth,
    document_id: Option<String>,
    engine: &Engine,
    state: &AppState,
) -> HttpResponse {
    let (lang, meta) = request_meta(req, &state.settings);
    // A file reference must name a file this request carries (the engine would index past its
    // uploads otherwise).
    if request.variables.values().any(|v| names_missing_file(v, request.uploads.len())) {
        return refuse(req, media, Problem::MalformedMultipart);
    }
    // One caller's requests in flight are bounded, so she cannot starve everyone else's.
    let (caller, limit) = match &auth {
        auth::Auth::Signed(v) | auth::Auth::Pending(v) => {
            (format!("p:{}", v.person_id), state.settings.max_in_flight_per_caller)
        }
        auth::Auth::Client(c) => (format!("c:{}", c.client_id), state.settings.max_in_flight_per_caller),
        _ => (format!("a:{}", meta.client_addr), state.settings.max_in_flight_per_address),
    };
    let Some(_slot) = state.in_flight.enter(caller, limit) else {
        return too_many_in_flight(media, lang);
    };
    let mut request = request;
    // An integration client's calls are recorded (see `service::integrations::calls`).
    let client_call = match &auth {
        auth::Auth::Client(c) => Some((
            c.client_id,
            document_id.unwrap_or_else(|| operation_of(&mut request)),
            std::time::Instant::now(),
        )),
        _ => None,
    };
    let cost = std::sync::Arc::new(CostCell::default());
    let disclosure = std::sync::Arc::new(Disclosure::default());
    let request = request
        .data(cost.clone())
        .data(disclosure.clone())
        .data(auth)
        .data(lang)
        .data(meta.clone())
        .data(Loaders::new(&state.db))
        // This worker's state (its own pool and Redis connection) before the schema's.
        .data(state.clone())
        .data(ScopeCell::default())
        .data(CredentialGuard::default());
    // A mutation sent with an idempotency key runs once per caller and key.
    let key = req.headers().get(idempotency::HEADER).map(|v| String::from_utf8_lossy(v.as_bytes()));
    let (response, replayed) =
        match idempotency::execute(engine, state, auth, &meta, key.as_deref(), request).await {
            Ok(outcome) => (outcome.response, outcome.replayed),
            Err(err) => return key_refused(media, lang, &err),
        };

    // A request error (unparsable or invalid document, unknown operation…) fails before any
    // field runs: no data at all and errors without a path.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let settled = quota::settle(state, &cost, &response.data, !request_error);
    let mut extensions = response.extensions;
    if let Some(settled) = &settled {
        extensions.insert("cost".into(), settled.extension.clone());
    }
    // Written straight from the response (no intermediate JSON tree).
    let body = Body {
        data: (!request_error).then_some(&response.data),
        errors: &response.errors,
        extensions: &extensions,
    };
    // A database or cache outage is the server's, whatever the media type: 503 with
    // `Retry-After`, so clients and proxies retry instead of showing a failure.
    let retry_after = retry_after_of(&response.errors, "UNAVAILABLE");
    // A bucket without the points the query asks for: 429, with when to come back.
    let rate_limited = if request_error { retry_after_of(&response.errors, "RATE_LIMITED") } else { None };
    let status = if retry_after.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else if rate_limited.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else if request_error && media == Media::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if let Some((client_id, operation, started)) = client_call {
        let outcome = response.errors.first().and_then(error_code).unwrap_or_else(|| "OK".to_owned());
        let cost = settled.as_ref().map_or(0, |s| s.actual);
        service::integrations::calls::record(
            state,
            service::integrations::calls::CallRecord {
                client_id,
                operation,
                cost,
                outcome,
                status: status.as_u16(),
                duration_ms: started.elapsed().as_millis() as u64,
            },
        );
    }
    let mut resp = HttpResponse::build(status);
    if let Some(secs) = retry_after.flatten().or(rate_limited.flatten()) {
        resp.insert_header((header::RETRY_AFTER, secs));
    }
    if replayed {
        resp.insert_header((idempotency::REPLAYED_HEADER, "true"));
    }
    for (name, value) in settled.and_then(|s| s.headers).into_iter().flatten() {
        resp.insert_header((name, value));
    }
    let mut body = match serde_json::to_vec(&body) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a response could not be written");
            return error_response(
                HttpResponse::InternalServerError(),
                None,
                media,
                lang,
                &ApiError::Internal,
            );
        }
    };
    let accept_encoding = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    if let Some(coding) = compression::negotiate(accept_encoding)
        && body.len() >= compression::MIN_BYTES
        && !disclosure.sensitive()
    {
        match compression::compress(coding, &body) {
            Ok(packed) => {
                body = packed;
                resp.insert_header((header::CONTENT_ENCODING, coding.token()));
            }
            Err(e) => tracing::warn!(error = %e, "an answer could not be compressed; it goes as it is"),
        }
    }
    resp.content_type(media.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept, Accept-Encoding, Accept-Language, Authorization"))
        .body(body)
}

/// A GraphQL response as it is written: `data` unless the request failed before execution,
/// `errors` and `extensions` when there are any.
#[derive(serde::Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// `Some` when an error has `code`, with its `extensions.retryAfter` if it gives one.
fn retry_after_of(errors: &[async_graphql::ServerError], code: &str) -> Option<Option<u64>> {
    errors.iter().find_map(|e| {
        (error_code(e).as_deref() == Some(code)).then(|| match e.extensions.as_ref()?.get("retryAfter")? {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        })
    })
}

/// What a request runs, for the call log: its operation name, or `(anonymous)`.
fn operation_of(request: &mut Request) -> String {
    if let Some(name) = &request.operation_name {
        return name.clone();
    }
    let named = request.parsed_query().ok().and_then(|doc| {
        let mut names = doc.operations.iter().map(|(name, _)| name.map(|n| n.to_string()));
        let only = names.next().flatten();
        names.next().is_none().then_some(only).flatten()
    });
    named.unwrap_or_else(|| "(anonymous)".to_owned())
}

/// Whether `value` holds a file marker whose index is not one of the request's `uploads`.
fn names_missing_file(value: &async_graphql::Value, uploads: usize) -> bool {
    use async_graphql::Value as V;
    match value {
        V::String(s) => s
            .strip_prefix(crate::graphql::arguments::UPLOAD_MARKER)
            .is_some_and(|n| n.parse::<usize>().map_or(true, |i| i >= uploads)),
        V::List(items) => items.iter().any(|v| names_missing_file(v, uploads)),
        V::Object(fields) => fields.values().any(|v| names_missing_file(v, uploads)),
        _ => false,
    }
}

/// The answer to a mutation whose idempotency key stopped it before it ran: malformed (400
/// with `application/graphql-response+json`), reused for another request or still in use by
/// one (409, with `Retry-After` for the latter), or not checkable now (503). With
/// `application/json`, 200 unless the service is unavailable.
fn key_refused(media: Media, lang: Lang, err: &ApiError) -> HttpResponse {
    let retry_after = match err {
        ApiError::Unavailable { retry_after_secs } => Some(*retry_after_secs),
        ApiError::Conflict(service::error::ConflictKind::RequestInProgress) => Some(1),
        _ => None,
    };
    let status = match err {
        ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ if media == Media::Json => StatusCode::OK,
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    error_response(HttpResponse::build(status), retry_after, media, lang, err)
}

/// 429 for a caller who has too many requests running already.
fn too_many_in_flight(media: Media, lang: Lang) -> HttpResponse {
    let err = ApiError::RateLimited { retry_after_secs: 1 };
    error_response(HttpResponse::TooManyRequests(), Some(1), media, lang, &err)
}

/// The answer to a request that could not start (its credentials could not be checked): 503
/// with `Retry-After` when the database or cache is down, 500 for anything else.
fn unavailable(media: Media, lang: Lang, err: &ApiError) -> HttpResponse {
    match err {
        ApiError::Unavailable { retry_after_secs } => {
            error_response(HttpResponse::ServiceUnavailable(), Some(*retry_after_secs), media, lang, err)
        }
        _ => error_response(HttpResponse::InternalServerError(), None, media, lang, err),
    }
}

/// A response carrying `err` alone, coded like a resolver's error.
fn error_response(
    mut resp: actix_web::HttpResponseBuilder,
    retry_after: Option<u64>,
    media: Media,
    lang: Lang,
    err: &ApiError,
) -> HttpResponse {
    let mut ext = async_graphql::ErrorExtensionValues::default();
    write_extensions(err, None, &mut ext);
    if let Some(secs) = retry_after {
        resp.insert_header((header::RETRY_AFTER, secs));
    }
    resp.content_type(media.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "errors": [{ "message": err.message(lang), "extensions": ext }] }))
}
