//! The log of integration clients' calls: every GraphQL request made with a client token, and
//! every token issued, is recorded (client, operation or document id, cost, outcome, HTTP
//! status, time, duration) and readable by the admins who manage the client, one call at a
//! time or as totals over a period. Recording happens after the answer is sent, off the
//! request's path; a record that cannot be written is logged as a warning (the call itself was
//! answered already).

use chrono::{DateTime, Utc};
use entities::{ids::ClientId, integration_call as call};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::Expr,
};
use uuid::Uuid;

use crate::{Call, error::ApiError, state::AppState};

/// What is recorded of one call.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub client_id: ClientId,
    pub operation: String,
    pub cost: u64,
    pub outcome: String,
    pub status: u16,
    pub duration_ms: u64,
}

/// Records a call, in the background.
pub fn record(state: &AppState, record: CallRecord) {
    let state = state.clone();
    let at = state.clock.now();
    // Background work: its statement is not the request's (see `state::DbStats`).
    tokio::spawn(crate::state::background(async move {
        let row = call::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(record.client_id),
            at: Set(at),
            operation: Set(record.operation.chars().take(200).collect()),
            cost: Set(i64::try_from(record.cost).unwrap_or(i64::MAX)),
            outcome: Set(record.outcome.chars().take(40).collect()),
            status: Set(i32::from(record.status)),
            duration_ms: Set(i32::try_from(record.duration_ms).unwrap_or(i32::MAX)),
        };
        if let Err(e) = row.insert(&state.db).await {
            tracing::warn!(error = %e, client = %record.client_id, "integration call not recorded");
        }
    }));
}

/// A client's calls, the newest first, for an admin who manages it.
pub async fn calls_of(
    call_ctx: Call<'_>,
    client: ClientId,
    first: u64,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> Result<(Vec<call::Model>, bool), ApiError> {
    super::clients::get_client(call_ctx, client).await?;
    let mut query = call::Entity::find().filter(call::Column::ClientId.eq(client));
    if let Some((at, id)) = after {
        query = query.filter(crate::db::before_key(call::Column::At, at, call::Column::Id, id));
    }
    let rows = query
        .order_by_desc(call::Column::At)
        .order_by_desc(call::Column::Id)
        .limit(first + 1)
        .all(&call_ctx.state.db)
        .await?;
    Ok(crate::db::split_page(rows, first))
}

/// A client's totals over `[from, to)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct Usage {
    pub calls: i64,
    pub points: i64,
    /// Calls that ended in an error.
    pub errors: i64,
    /// Calls refused for want of points.
    pub rate_limited: i64,
}

/// A client's totals over `[from, to)`, for an admin who manages it: one statement.
pub async fn usage_of(
    call_ctx: Call<'_>,
    client: ClientId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Usage, ApiError> {
    super::clients::get_client(call_ctx, client).await?;
    let usage = call::Entity::find()
        .select_only()
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "calls")
        .column_as(Expr::cust("CAST(COALESCE(SUM(cost), 0) AS BIGINT)"), "points")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(CASE WHEN outcome <> 'OK' THEN 1 ELSE 0 END), 0) AS BIGINT)"),
            "errors",
        )
        .column_as(
            Expr::cust(
                "CAST(COALESCE(SUM(CASE WHEN outcome = 'RATE_LIMITED' THEN 1 ELSE 0 END), 0) AS BIGINT)",
            ),
            "rate_limited",
        )
        .filter(call::Column::ClientId.eq(client))
        .filter(call::Column::At.gte(from))
        .filter(call::Column::At.lt(to))
        .into_model::<Usage>()
        .one(&call_ctx.state.db)
        .await?;
    Ok(usage.unwrap_or_default())
}
