//! Idempotent mutations (see `service::idempotency` for the rules): a mutation sent with an
//! `Idempotency-Key` header over HTTP, or with `extensions.idempotencyKey` in a WebSocket
//! operation's payload, runs once per caller and key; a retry gets the first response back,
//! marked `extensions.idempotentReplayed` (and, over HTTP, the header `Idempotent-Replayed`).
//! Queries ignore the key.
//!
//! The operation runs on a task of its own: a client that gives up (a phone that lost the
//! network) does not stop it, so its result is stored for the retry that follows.

use std::{any::TypeId, sync::Arc};

use async_graphql::{
    Data, Executor, Request, Response, ServerError, Value,
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::types::OperationType,
};
use sha2::{Digest, Sha256};

use crate::graphql::{Engine, errors::write_extensions};
use service::{
    Call, RequestMeta,
    auth::Auth,
    error::{ApiError, Lang},
    idempotency::{self, Begin},
    state::AppState,
};

/// The header carrying the key.
pub const HEADER: &str = "idempotency-key";
/// The header marking a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Where a WebSocket operation carries its key.
const EXTENSION: &str = "idempotencyKey";

/// Whether the operation `request` runs is a mutation (a document that does not parse is not:
/// the engine reports it).
pub fn is_mutation(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else { return false };
    let ty = match name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op.node.ty),
        None => {
            let mut ops = doc.operations.iter();
            let first = ops.next().map(|(_, op)| op.node.ty);
            if ops.next().is_some() { None } else { first }
        }
    };
    ty == Some(OperationType::Mutation)
}

/// What makes two requests the same: the document's text, the operation, the variables (keys
/// sorted, so their order does not matter) and each file's name, type and content.
pub fn identity(request: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(request.query.len() + 256);
    out.extend_from_slice(request.query.as_bytes());
    out.push(0);
    out.extend_from_slice(request.operation_name.as_deref().unwrap_or_default().as_bytes());
    out.push(0);
    // serde_json's map is ordered by key: the same variables give the same bytes.
    let variables = serde_json::to_value(&request.variables).unwrap_or_default();
    out.extend_from_slice(&serde_json::to_vec(&variables).unwrap_or_default());
    for upload in &request.uploads {
        out.push(0);
        out.extend_from_slice(upload.filename.as_bytes());
        out.push(0);
        out.extend_from_slice(upload.content_type.as_deref().unwrap_or_default().as_bytes());
        out.push(0);
        out.extend_from_slice(&Sha256::digest(&upload.content));
    }
    out
}

/// A response, and whether it is a stored one given back.
pub struct Outcome {
    pub response: Response,
    pub replayed: bool,
}

/// Runs `request` (its data set) once per caller and `key`; a request without a key, or not
/// a mutation, just runs. An error from the key itself (malformed, reused, in progress,
/// storage down) comes back as `Err`, before anything ran.
pub async fn execute(
    engine: &Engine,
    state: &AppState,
    auth: Auth,
    meta: &RequestMeta,
    key: Option<&str>,
    mut request: Request,
) -> Result<Outcome, ApiError> {
    let Some(key) = key.filter(|_| is_mutation(&mut request)) else {
        return Ok(Outcome { response: engine.execute(request).await, replayed: false });
    };
    let call = Call { state, auth: &auth, meta };
    let claim = match idempotency::begin(call, key, &identity(&request)).await? {
        None => return Ok(Outcome { response: engine.execute(request).await, replayed: false }),
        Some(Begin::Replay(stored)) => {
            let mut response: Response = serde_json::from_slice(&stored)
                .map_err(|e| ApiError::internal(format_args!("a stored response does not read back: {e}")))?;
            response.extensions.insert("idempotentReplayed".into(), Value::Boolean(true));
            return Ok(Outcome { response, replayed: true });
        }
        Some(Begin::Run(claim)) => claim,
    };
    let (engine, state, meta) = (engine.clone(), state.clone(), meta.clone());
    let task = tokio::spawn(async move {
        let call = Call { state: &state, auth: &auth, meta: &meta };
        // The lease is renewed while the operation runs, however long it takes.
        let run = engine.execute(request);
        tokio::pin!(run);
        let mut renewals = tokio::time::interval(idempotency::RENEW_EVERY);
        renewals.tick().await;
        let response = loop {
            tokio::select! {
                response = &mut run => break response,
                _ = renewals.tick() => {
                    if let Err(e) = idempotency::renew(call, &claim).await {
                        tracing::warn!(code = e.code(), "an idempotency key's lease could not be renewed");
                    }
                }
            }
        };
        let kept = if worth_keeping(&response) {
            // Data and errors; the extensions (cost) are the request's own.
            let stored = serde_json::json!({ "data": &response.data, "errors": &response.errors });
            match serde_json::to_vec(&stored) {
                Ok(bytes) => finish(call, claim, &bytes).await,
                Err(e) => Err(ApiError::internal(format_args!("storing a response: {e}"))),
            }
        } else {
            idempotency::release(call, claim).await
        };
        // The operation's own response stands; a retry finds the key again once its lease
        // runs out.
        if let Err(e) = kept {
            tracing::warn!(code = e.code(), "the response to an idempotent request could not be kept");
        }
        response
    });
    match task.await {
        Ok(response) => Ok(Outcome { response, replayed: false }),
        Err(e) => Err(ApiError::internal(format_args!("an idempotent request's task failed: {e}"))),
    }
}

/// Stores the response, trying again a few times if the database fails just then: the
/// operation has acted, and a retry must not run it again.
async fn finish(call: Call<'_>, claim: idempotency::Claim, bytes: &[u8]) -> Result<(), ApiError> {
    let mut pause = std::time::Duration::from_millis(100);
    for _ in 0..4 {
        match idempotency::finish(call, claim.clone(), bytes).await {
            Err(ApiError::Unavailable { .. }) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    idempotency::finish(call, claim, bytes).await
}

/// Whether a response is kept for retries: unless the operation never ran (a request error)
/// or did nothing and may succeed when sent again (no field gave data, every error is on a
/// root field — a failure below one means its resolver returned, so the operation acted — and
/// one says the service was unavailable, the caller was throttled, or her credentials or
/// step-up must be renewed).
fn worth_keeping(response: &Response) -> bool {
    let request_error = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    if request_error {
        return false;
    }
    let acted = match &response.data {
        Value::Object(fields) => fields.values().any(|v| *v != Value::Null),
        _ => false,
    } || response.errors.iter().any(|e| e.path.len() > 1);
    let transient = |e: &ServerError| {
        matches!(
            crate::graphql::errors::error_code(e).as_deref(),
            Some("UNAVAILABLE" | "RATE_LIMITED" | "INTERNAL" | "UNAUTHENTICATED" | "FORBIDDEN")
        )
    };
    acted || !response.errors.iter().any(transient)
}

/// The schema as the WebSocket runs it: mutations carrying `extensions.idempotencyKey` go
/// through [`execute`]; everything else straight to the schema.
#[derive(Clone)]
pub struct WsExecutor {
    pub engine: Engine,
    pub state: Arc<AppState>,
}

impl Executor for WsExecutor {
    async fn execute(&self, request: Request) -> Response {
        self.engine.execute(request).await
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let key = match request.extensions.get(EXTENSION) {
            Some(Value::String(key)) => Some(key.clone()),
            Some(_) => Some(String::new()),
            None => None,
        };
        let Some(key) = key.filter(|_| is_mutation(&mut request)) else {
            return self.engine.execute_stream(request, session_data);
        };
        let data = session_data.unwrap_or_default();
        let get = |id: TypeId| data.get(&id);
        let auth = get(TypeId::of::<Auth>())
            .and_then(|d| d.downcast_ref::<Auth>())
            .copied()
            .unwrap_or(Auth::Anonymous);
        let meta = get(TypeId::of::<RequestMeta>())
            .and_then(|d| d.downcast_ref::<RequestMeta>())
            .cloned()
            .unwrap_or_default();
        let lang =
            get(TypeId::of::<Lang>()).and_then(|d| d.downcast_ref::<Lang>()).copied().unwrap_or_default();
        let (engine, state) = (self.engine.clone(), self.state.clone());
        stream::once(async move {
            // The session's data, as the schema would give it to the operation.
            let request = request
                .data(auth)
                .data(meta.clone())
                .data(lang)
                .data(crate::graphql::loaders::Loaders::new(&state.db))
                .data(crate::graphql::CredentialGuard::default());
            match execute(&engine, &state, auth, &meta, Some(&key), request).await {
                Ok(outcome) => outcome.response,
                Err(err) => error_response(&err, lang),
            }
        })
        .boxed()
    }
}

/// A response carrying `err` alone.
pub fn error_response(err: &ApiError, lang: Lang) -> Response {
    let mut error = ServerError::new(err.message(lang), None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    write_extensions(err, None, &mut ext);
    error.extensions = Some(ext);
    Response::from_errors(vec![error])
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{ErrorExtensionValues, PathSegment};

    fn error(code: &str, path: &[&str]) -> ServerError {
        let mut e = ServerError::new("x", None);
        e.path = path.iter().map(|p| PathSegment::Field((*p).to_owned())).collect();
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", code);
        e.extensions = Some(ext);
        e
    }

    #[test]
    fn a_response_is_kept_unless_the_operation_did_nothing_and_may_yet_succeed() {
        let keep = |errors: Vec<ServerError>| worth_keeping(&Response::from_errors(errors));
        // The document never ran.
        assert!(!keep(vec![error("GRAPHQL_VALIDATION_FAILED", &[])]));
        // The mutation itself failed for a reason that may pass: free the key.
        assert!(!keep(vec![error("UNAVAILABLE", &["createTraining"])]));
        assert!(!keep(vec![error("FORBIDDEN", &["createTraining"])]));
        // It committed, then a field of its answer failed (a non-null field nulls the whole
        // data): it acted, so the answer is kept.
        assert!(keep(vec![error("UNAVAILABLE", &["createTraining", "unit"])]));
        // A business answer is final.
        assert!(keep(vec![error("CONFLICT", &["approveMembershipRequest"])]));
    }
}
