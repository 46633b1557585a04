//! The notification inbox, shared by every area.
//!
//! A notification is stored as a kind and its parameters; its title and body are rendered in
//! the reader's language when read (and in the person's stored language when queued for push).
//! Texts are short and neutral: they name what happened, never sensitive content.
//!
//! Writers call [`enqueue`] inside their own transaction (so a notification exists exactly when
//! the change it reports does) and [`announce`] after commit, which publishes to the event bus
//! for `notificationAdded` subscribers on every instance.

use chrono::Utc;
use entities::{notification, person, push_outbox, push_token};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    error::{ApiError, Lang},
    state::AppState,
};

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// To a branch's leaders: someone asked to join. Params: `branch`.
    JoinRequested,
    /// To the receiving branch's leaders: a member asked to transfer in. Params: `branch`.
    TransferRequested,
    /// To the person: her request was approved. Params: `branch`.
    RequestApproved,
    /// To the person: her request was rejected. Params: `branch`, `reason`.
    RequestRejected,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 4] = [
        NotificationKind::JoinRequested,
        NotificationKind::TransferRequested,
        NotificationKind::RequestApproved,
        NotificationKind::RequestRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::JoinRequested => "JOIN_REQUESTED",
            NotificationKind::TransferRequested => "TRANSFER_REQUESTED",
            NotificationKind::RequestApproved => "REQUEST_APPROVED",
            NotificationKind::RequestRejected => "REQUEST_REJECTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A notification to create.
pub struct NewNotification {
    pub person_id: Uuid,
    pub kind: NotificationKind,
    pub params: Value,
    /// Global id of the object it is about.
    pub link: Option<String>,
}

fn param<'a>(params: &'a Value, key: &str) -> &'a str {
    params.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Title and body of a notification in `lang`.
pub fn render(kind: &str, params: &Value, lang: Lang) -> (String, String) {
    let branch = param(params, "branch");
    let vi = lang == Lang::Vi;
    match NotificationKind::parse(kind) {
        Some(NotificationKind::JoinRequested) if vi => {
            ("Đơn xin vào Hội mới".into(), format!("Có một đơn xin vào {branch} đang chờ duyệt."))
        }
        Some(NotificationKind::JoinRequested) => (
            "New membership request".into(),
            format!("A request to join {branch} is waiting for a decision."),
        ),
        Some(NotificationKind::TransferRequested) if vi => {
            ("Đơn chuyển sinh hoạt mới".into(), format!("Có một hội viên xin chuyển về {branch}."))
        }
        Some(NotificationKind::TransferRequested) => {
            ("New transfer request".into(), format!("A member asks to transfer to {branch}."))
        }
        Some(NotificationKind::RequestApproved) if vi => {
            ("Đơn của bạn đã được duyệt".into(), format!("Bạn đã là hội viên của {branch}."))
        }
        Some(NotificationKind::RequestApproved) => {
            ("Your request was approved".into(), format!("You are now a member of {branch}."))
        }
        Some(NotificationKind::RequestRejected) if vi => (
            "Đơn của bạn chưa được duyệt".into(),
            format!("Đơn vào {branch} chưa được chấp nhận. Lý do: {}", param(params, "reason")),
        ),
        Some(NotificationKind::RequestRejected) => (
            "Your request was not approved".into(),
            format!("Your request for {branch} was not accepted. Reason: {}", param(params, "reason")),
        ),
        None if vi => ("Thông báo mới".into(), "Bạn có một thông báo mới.".into()),
        None => ("New notification".into(), "You have a new notification.".into()),
    }
}

/// Creates notifications inside the caller's transaction and queues a push per registered
/// device (rendered in the person's language). Returns the rows for [`announce`].
pub async fn enqueue(
    txn: &impl ConnectionTrait,
    items: Vec<NewNotification>,
) -> Result<Vec<notification::Model>, ApiError> {
    let now = Utc::now();
    let mut created = Vec::with_capacity(items.len());
    for item in items {
        let row = notification::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(item.person_id),
            kind: Set(item.kind.as_str().to_owned()),
            params: Set(item.params.to_string()),
            link: Set(item.link),
            created_at: Set(now),
            read_at: Set(None),
        }
        .insert(txn)
        .await?;
        let tokens = push_token::Entity::find()
            .filter(push_token::Column::PersonId.eq(item.person_id))
            .all(txn)
            .await?;
        if !tokens.is_empty() {
            let lang = person::Entity::find_by_id(item.person_id)
                .one(txn)
                .await?
                .map_or(Lang::Vi, |p| Lang::from_code(&p.language));
            let (title, body) = render(&row.kind, &item.params, lang);
            for token in tokens {
                push_outbox::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    notification_id: Set(row.id),
                    push_token_id: Set(token.id),
                    title: Set(title.clone()),
                    body: Set(body.clone()),
                    status: Set("PENDING".to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    last_error: Set(None),
                    created_at: Set(now),
                    sent_at: Set(None),
                }
                .insert(txn)
                .await?;
            }
        }
        created.push(row);
    }
    Ok(created)
}

/// The event topic of a person's new notifications.
pub fn topic(person_id: Uuid) -> String {
    format!("notifications:{person_id}")
}

/// Tells live subscribers (on every instance) about committed notifications. Best-effort: the
/// inbox already holds them, so a failure is logged, not returned.
pub async fn announce(state: &AppState, rows: &[notification::Model]) {
    for row in rows {
        let payload = json!({ "id": row.id });
        if let Err(e) = state.events.publish(topic(row.person_id), payload).await {
            tracing::warn!(error = ?e, "could not announce a notification");
        }
    }
}
