//! GraphQL over HTTP, following the GraphQL-over-HTTP specification.
//!
//! - `POST /graphql` takes `application/json` with `query`, `operationName`, `variables`,
//!   `extensions`; `GET /graphql` takes the same as URL parameters and runs queries only (a
//!   mutation answers 405), or serves GraphiQL to a browser in development.
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
    Request, Variables,
    http::GraphiQLSource,
    parser::{parse_query, types::OperationType},
};
use serde_json::{Map, Value, json};

use super::request_meta;
use crate::{
    auth,
    graphql::{AppSchema, CredentialGuard, loaders::Loaders},
    state::AppState,
};

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

/// A 4xx answer to a request that is not a well-formed GraphQL request.
fn bad_request(media: Media, status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(media.content_type())
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] }))
}

fn not_acceptable() -> HttpResponse {
    HttpResponse::NotAcceptable()
        .content_type("application/json; charset=utf-8")
        .json(json!({ "errors": [{ "message": "Accept application/graphql-response+json or application/json", "extensions": { "code": "BAD_REQUEST" } }] }))
}

/// The parameters of a GraphQL request, checked for type.
struct Params {
    query: String,
    operation_name: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
}

fn params_from_json(body: Value) -> Result<Params, &'static str> {
    let Value::Object(mut map) = body else {
        return Err("The body must be a JSON object (batching is not supported)");
    };
    let query = match map.remove("query") {
        Some(Value::String(q)) => q,
        None | Some(Value::Null) => return Err("The query parameter is required"),
        Some(_) => return Err("The query parameter must be a string"),
    };
    let operation_name = match map.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("The operationName parameter must be a string"),
    };
    let object = |v: Option<Value>, err: &'static str| match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(err),
    };
    Ok(Params {
        query,
        operation_name,
        variables: object(map.remove("variables"), "The variables parameter must be an object")?,
        extensions: object(map.remove("extensions"), "The extensions parameter must be an object")?,
    })
}

/// `POST /graphql`.
pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    schema: web::Data<AppSchema>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(media) = negotiate(&req) else { return not_acceptable() };
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let Some(content_type) = content_type else {
        return bad_request(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type application/json is required",
        );
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset_ok = parts
        .filter_map(|p| p.trim().to_ascii_lowercase().strip_prefix("charset=").map(str::to_owned))
        .all(|c| c.trim_matches('"') == "utf-8");
    if essence != "application/json" || !charset_ok {
        return bad_request(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json; charset=utf-8",
        );
    }
    let params = match serde_json::from_slice::<Value>(&body) {
        Err(_) => return bad_request(media, StatusCode::BAD_REQUEST, "The body is not valid JSON"),
        Ok(v) => match params_from_json(v) {
            Ok(p) => p,
            Err(msg) => return bad_request(media, StatusCode::BAD_REQUEST, msg),
        },
    };
    execute(&req, media, params, &schema, &state).await
}

/// `GET /graphql`: GraphiQL for a browser (development), otherwise a query from URL parameters.
pub async fn get(req: HttpRequest, schema: web::Data<AppSchema>, state: web::Data<AppState>) -> HttpResponse {
    let query: Vec<(String, String)> =
        match web::Query::<Vec<(String, String)>>::from_query(req.query_string()) {
            Ok(q) => q.into_inner(),
            Err(_) => return bad_request(Media::Json, StatusCode::BAD_REQUEST, "Malformed URL parameters"),
        };
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && param("query").is_none() && state.settings.graphiql {
        let page = GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").finish();
        return HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page);
    }
    let Some(media) = negotiate(&req) else { return not_acceptable() };
    let json_param = |name: &str| -> Result<Option<Map<String, Value>>, &'static str> {
        match param(name) {
            None => Ok(None),
            Some(raw) => match serde_json::from_str::<Value>(&raw) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                Ok(Value::Null) => Ok(None),
                _ => Err("URL parameters variables and extensions must be JSON objects"),
            },
        }
    };
    let Some(query_text) = param("query") else {
        return bad_request(media, StatusCode::BAD_REQUEST, "The query parameter is required");
    };
    let operation_name = param("operationName").filter(|s| !s.is_empty());
    // Only queries may run over GET (a GET must be safe): refuse mutations before executing.
    if let Ok(doc) = parse_query(&query_text) {
        let op_type = doc.operations.iter().find_map(|(name, op)| {
            let matches = match (&operation_name, name) {
                (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
                (None, _) => true,
                (Some(_), None) => false,
            };
            matches.then_some(op.node.ty)
        });
        if op_type.is_some_and(|t| t != OperationType::Query) {
            return HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, "POST"))
                .content_type(media.content_type())
                .json(json!({ "errors": [{ "message": "Only queries can be sent with GET; use POST", "extensions": { "code": "BAD_REQUEST" } }] }));
        }
    }
    let params = match (json_param("variables"), json_param("extensions")) {
        (Ok(variables), Ok(extensions)) => {
            Params { query: query_text, operation_name, variables, extensions }
        }
        (Err(msg), _) | (_, Err(msg)) => return bad_request(media, StatusCode::BAD_REQUEST, msg),
    };
    execute(&req, media, params, &schema, &state).await
}

async fn execute(
    req: &HttpRequest,
    media: Media,
    params: Params,
    schema: &AppSchema,
    state: &AppState,
) -> HttpResponse {
    let (lang, meta) = request_meta(req, &state.settings);
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let auth = auth::authenticate(&state.tokens, &state.cache, header).await;
    let mut request = Request::new(params.query)
        .data(auth)
        .data(lang)
        .data(meta)
        .data(Loaders::new(&state.db))
        .data(CredentialGuard::default());
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        request = request.variables(Variables::from_json(Value::Object(vars)));
    }
    if let Some(ext) = params.extensions {
        request.extensions = async_graphql::Extensions(
            ext.into_iter()
                .filter_map(|(k, v)| async_graphql::Value::from_json(v).ok().map(|v| (k, v)))
                .collect(),
        );
    }
    let response = schema.execute(request).await;

    // A request error (unparsable or invalid document, unknown operation…) fails before any
    // field runs: no data at all and errors without a path.
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let mut body = Map::new();
    if !request_error {
        body.insert("data".into(), serde_json::to_value(&response.data).unwrap_or(Value::Null));
    }
    if !response.errors.is_empty() {
        body.insert("errors".into(), serde_json::to_value(&response.errors).unwrap_or(Value::Null));
    }
    if !response.extensions.is_empty() {
        body.insert("extensions".into(), serde_json::to_value(&response.extensions).unwrap_or(Value::Null));
    }
    let status = if request_error && media == Media::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status)
        .content_type(media.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept, Accept-Language, Authorization"))
        .json(Value::Object(body))
}
