//! The answers of bulk decisions (see `service::bulk`): one [`Outcome`] per id sent, in the
//! order sent, each `ok` with the record as it now stands, or with the error the item would
//! have got alone. A malformed id is that item's `BAD_USER_INPUT`; an empty or oversized list,
//! or a bad shared argument, refuses the whole call before any item runs.

use std::future::Future;

use async_graphql::{Context, ID, OutputType, SimpleObject};
use service::{
    domain::{GlobalId, NodeKind},
    error::{ApiError, Lang},
};
use uuid::Uuid;

use super::{
    ContextExt, campaigns::pledges::Pledge, errors::argument_path, membership::MembershipRequest,
    moderation::ModerationCase, trainings::CheckInResult, violence::ViolenceReport,
};

/// Why one item of a bulk decision was not done: what the same call for that item alone would
/// have answered.
#[derive(SimpleObject)]
pub struct ItemError {
    /// `extensions.code` of that answer.
    pub code: String,
    /// `extensions.reason`, where the code has one.
    pub reason: Option<String>,
    /// The argument at fault, for `BAD_USER_INPUT`.
    pub field: Option<String>,
    /// The message, in the caller's language.
    pub message: String,
}

impl ItemError {
    fn of(err: &ApiError, lang: Lang) -> Self {
        let field = match err {
            ApiError::BadInput { field, .. } => Some(argument_path(field, None)),
            _ => None,
        };
        Self {
            code: err.code().to_owned(),
            reason: err.reason().map(str::to_owned),
            field,
            message: err.message(lang),
        }
    }
}

/// One item of a bulk decision.
#[derive(SimpleObject)]
#[graphql(concrete(name = "MembershipRequestOutcome", params(MembershipRequest)))]
#[graphql(concrete(name = "PledgeOutcome", params(Pledge)))]
#[graphql(concrete(name = "CheckInOutcome", params(CheckInResult)))]
#[graphql(concrete(name = "ViolenceReportOutcome", params(ViolenceReport)))]
#[graphql(concrete(name = "ModerationCaseOutcome", params(ModerationCase)))]
pub struct Outcome<T: OutputType> {
    /// The id as sent.
    pub id: ID,
    /// Whether it was done.
    pub ok: bool,
    /// Why not.
    pub error: Option<ItemError>,
    /// The record as it now stands, when done.
    pub item: Option<T>,
}

/// Runs a bulk decision over `ids` (global ids of `kind`, the argument `field`): `act` gets the
/// well-formed ones, in order, and answers one outcome for each; `wrap` makes each done record
/// its GraphQL type.
pub async fn run<T, U, F, Fut>(
    ctx: &Context<'_>,
    ids: Vec<ID>,
    kind: NodeKind,
    field: &'static str,
    act: F,
    wrap: impl Fn(T) -> U,
) -> Result<Vec<Outcome<U>>, ApiError>
where
    U: OutputType,
    F: FnOnce(Vec<Uuid>) -> Fut,
    Fut: Future<Output = Result<Vec<Result<T, ApiError>>, ApiError>>,
{
    ctx.auth()?.require()?;
    service::bulk::check_size(ids.len(), field)?;
    let decoded: Vec<Result<Uuid, ApiError>> =
        ids.iter().map(|id| GlobalId::decode_as(id, kind, field)).collect();
    let valid: Vec<Uuid> = decoded.iter().filter_map(|d| d.as_ref().ok().copied()).collect();
    // Called even when no id was well-formed: the shared arguments are checked all the same.
    let mut done = act(valid).await?.into_iter();
    let lang = ctx.get::<Lang>().copied().unwrap_or_default();
    Ok(ids
        .into_iter()
        .zip(decoded)
        .map(|(id, decoded)| {
            let outcome = decoded.and_then(|_| done.next().unwrap_or(Err(ApiError::Internal)));
            match outcome {
                Ok(record) => Outcome { id, ok: true, error: None, item: Some(wrap(record)) },
                Err(err) => Outcome { id, ok: false, error: Some(ItemError::of(&err, lang)), item: None },
            }
        })
        .collect())
}
