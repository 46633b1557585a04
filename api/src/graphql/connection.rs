//! Cursor connections: `first` (default 20, at most 100) and an opaque `after` cursor, which is
//! base64url JSON of the list's sort key so that paging is by keyset, never by offset.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{ObjectType, OutputType};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use service::error::{ApiError, InputProblem};

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 100;

/// Parsed paging arguments.
pub struct Page<C> {
    pub first: u64,
    pub after: Option<C>,
}

/// Parses `first`/`after`; out-of-range sizes and foreign cursors are `BAD_USER_INPUT`.
pub fn page<C: DeserializeOwned>(first: Option<i32>, after: Option<&str>) -> Result<Page<C>, ApiError> {
    let first = match first {
        None => DEFAULT_PAGE,
        Some(n) if n >= 0 && (n as u64) <= MAX_PAGE => n as u64,
        Some(_) => return Err(ApiError::bad_input("first", InputProblem::OutOfRange)),
    };
    let after = after.map(decode_cursor).transpose()?;
    Ok(Page { first, after })
}

pub fn encode_cursor<C: Serialize>(c: &C) -> String {
    // Serialising plain keys (strings, ids) cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

fn decode_cursor<C: DeserializeOwned>(raw: &str) -> Result<C, ApiError> {
    let bad = || ApiError::bad_input("after", InputProblem::InvalidFormat);
    let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// Builds a connection page from rows: `key` gives each row's cursor, `node` its GraphQL node.
pub fn build<R, C, N, F>(
    rows: Vec<R>,
    has_next: bool,
    had_cursor: bool,
    fields: F,
    key: impl Fn(&R) -> C,
    node: impl Fn(R) -> N,
) -> Connection<String, N, F>
where
    C: Serialize,
    N: OutputType,
    F: ObjectType,
    String: CursorType,
{
    let mut conn = Connection::with_additional_fields(had_cursor, has_next, fields);
    conn.edges = rows.into_iter().map(|r| Edge::new(encode_cursor(&key(&r)), node(r))).collect();
    conn
}

/// Which end of a queue comes first.
#[derive(async_graphql::Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[graphql(name = "QueueOrder")]
pub enum GqlQueueOrder {
    /// The oldest first: the order work is done in.
    #[default]
    OldestFirst,
    NewestFirst,
}

impl From<GqlQueueOrder> for service::db::TimeOrder {
    fn from(o: GqlQueueOrder) -> Self {
        match o {
            GqlQueueOrder::OldestFirst => Self::OldestFirst,
            GqlQueueOrder::NewestFirst => Self::NewestFirst,
        }
    }
}
