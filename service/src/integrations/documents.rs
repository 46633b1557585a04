//! Trusted documents of integration clients: an admin who manages a client registers the
//! operations it runs (the text, kept as given; its SHA-256 is the id the client sends), and may
//! set the client to run nothing else. The API layer looks a document up by the client and the
//! hash on each request that names one (one indexed statement).

use crate::audit;
use chrono::Utc;
use entities::ids::UnitId;
use entities::{ids::ClientId, trusted_document as document};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    Call,
    domain::parse_line,
    error::{ApiError, ConflictKind, InputProblem, is_unique_violation},
};

/// The largest document registered.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// SHA-256 of a document's text, lowercase hex: its id.
pub fn hash(text: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(text.as_bytes()))
}

/// Registers `text` (already checked to be one GraphQL document by the caller) for a client.
pub async fn add_document(
    call: Call<'_>,
    client: ClientId,
    text: &str,
    operation_name: Option<&str>,
) -> Result<document::Model, ApiError> {
    let (owner, actor) = super::clients::managed_client(call, client).await?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_input("document", InputProblem::Required));
    }
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(ApiError::bad_input("document", InputProblem::TooLong));
    }
    let operation_name = operation_name.map(|n| parse_line(n, 120, "operation_name")).transpose()?;
    let now = Utc::now();
    let txn = call.state.db.begin().await?;
    let row = document::ActiveModel {
        id: Set(Uuid::now_v7()),
        client_id: Set(client),
        sha256: Set(hash(text)),
        document: Set(text.to_owned()),
        operation_name: Set(operation_name),
        created_by: Set(actor.person_id),
        created_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { ApiError::Conflict(ConflictKind::DocumentKnown) } else { e.into() }
    })?;
    let entry = document_entry(audit::Action::TrustedDocumentAdded, owner.unit_id, &row);
    super::clients::record(&txn, client, actor, None, now, entry).await?;
    txn.commit().await?;
    Ok(row)
}

/// Removes a trusted document.
pub async fn remove_document(call: Call<'_>, id: Uuid) -> Result<document::Model, ApiError> {
    let row = document::Entity::find_by_id(id).one(&call.state.db).await?.ok_or(ApiError::NotFound)?;
    let (owner, actor) = super::clients::managed_client(call, row.client_id).await?;
    let txn = call.state.db.begin().await?;
    document::Entity::delete_by_id(id).exec(&txn).await?;
    let entry = document_entry(audit::Action::TrustedDocumentRemoved, owner.unit_id, &row);
    super::clients::record(&txn, row.client_id, actor, None, Utc::now(), entry).await?;
    txn.commit().await?;
    Ok(row)
}

/// The trail of a trusted document: its hash and operation name (the document itself is on
/// the client's list while it is registered).
fn document_entry(action: audit::Action, unit_id: UnitId, row: &document::Model) -> audit::Entry {
    audit::Entry::new(action, unit_id, audit::SubjectKind::TrustedDocument, row.id)
        .set("sha256", &row.sha256)
        .set("operationName", &row.operation_name)
}

/// A client's trusted documents, the oldest first.
pub async fn documents_of(
    conn: &impl ConnectionTrait,
    client: ClientId,
) -> Result<Vec<document::Model>, ApiError> {
    Ok(document::Entity::find()
        .filter(document::Column::ClientId.eq(client))
        .order_by_asc(document::Column::CreatedAt)
        .all(conn)
        .await?)
}

/// The text of a client's trusted document with this hash.
pub async fn lookup(
    conn: &impl ConnectionTrait,
    client: ClientId,
    sha256: &str,
) -> Result<Option<String>, ApiError> {
    Ok(document::Entity::find()
        .select_only()
        .column(document::Column::Document)
        .filter(document::Column::ClientId.eq(client))
        .filter(document::Column::Sha256.eq(sha256))
        .into_tuple()
        .one(conn)
        .await?)
}
