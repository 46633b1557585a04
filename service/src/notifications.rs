//! The notification inbox, shared by every area.
//!
//! A notification is stored as a kind and its parameters; its title and body are rendered in
//! the reader's language when read (and in the person's stored language when queued for push).
//! Texts are short and neutral: they name what happened, never sensitive content.
//!
//! Writers call [`enqueue`] inside their own transaction (so a notification exists exactly
//! when the change it reports does) and [`announce`] after commit, which publishes to the event
//! bus for `notificationAdded` subscribers on every instance.
//!
//! Readers only ever see their own notifications: every query below is filtered by the
//! caller's person id, and someone else's notification answers `NOT_FOUND` (or is silently
//! skipped when marking read), so ids reveal nothing. Device push tokens belong to one person at
//! a time; the outbox rows queued for a token go with it when it is unregistered or moves to
//! another person, so a device never receives pushes meant for its previous owner.

use crate::Call;
use entities::ids::PersonId;
use std::collections::HashMap;

use chrono::Utc;
use entities::{notification, notification_preference, push_outbox, push_token};
use futures_util::{Stream, StreamExt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait, sea_query::Expr,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    db::{repeat_list, stmt},
    error::{ApiError, InputProblem, Lang},
    identity::session_revoked_topic,
    state::AppState,
};

pub use entities::{
    notification::NotificationKind,
    notification_preference::{NotificationLevel, NotificationTopic},
};

/// A notification to create.
pub struct NewNotification {
    pub person_id: PersonId,
    pub kind: NotificationKind,
    pub params: Value,
    /// Global id of the object it is about.
    pub link: Option<String>,
    /// Part of the recipient's duties (a violence report to a case officer): delivered and
    /// pushed whatever her preferences say.
    pub duty: bool,
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
        Some(NotificationKind::TrainingCancelled) if vi => (
            "Lớp tập huấn đã bị hủy".into(),
            format!("Lớp \"{}\" mà bạn đăng ký đã bị hủy.", param(params, "training")),
        ),
        Some(NotificationKind::TrainingCancelled) => (
            "A training was cancelled".into(),
            format!("\"{}\", which you registered for, has been cancelled.", param(params, "training")),
        ),
        Some(NotificationKind::TrainingSeatConfirmed) if vi => (
            "Bạn đã có chỗ tham gia tập huấn".into(),
            format!("Đã có chỗ trống: bạn được xác nhận tham gia \"{}\".", param(params, "training")),
        ),
        Some(NotificationKind::TrainingSeatConfirmed) => (
            "You have a seat".into(),
            format!("A seat freed up: you are confirmed for \"{}\".", param(params, "training")),
        ),
        Some(NotificationKind::CampaignLaunched) if vi => (
            "Cuộc vận động mới".into(),
            format!("Hội phát động \"{}\". Mời bạn tham gia.", param(params, "campaign")),
        ),
        Some(NotificationKind::CampaignLaunched) => (
            "A new campaign".into(),
            format!(
                "The union has launched \"{}\". You are invited to take part.",
                param(params, "campaign")
            ),
        ),
        Some(NotificationKind::PledgeCertified) if vi => (
            "Đăng ký của bạn đã được công nhận".into(),
            format!("Đăng ký thực hiện \"{}\" của bạn đã được công nhận.", param(params, "campaign")),
        ),
        Some(NotificationKind::PledgeCertified) => (
            "Your pledge was certified".into(),
            format!("Your pledge to \"{}\" has been certified.", param(params, "campaign")),
        ),
        Some(NotificationKind::PledgeReturned) if vi => (
            "Đăng ký của bạn cần bổ sung".into(),
            format!("Đăng ký thực hiện \"{}\" được gửi lại để bổ sung.", param(params, "campaign")),
        ),
        Some(NotificationKind::PledgeReturned) => (
            "Your pledge was returned".into(),
            format!("Your pledge to \"{}\" was returned for changes.", param(params, "campaign")),
        ),
        // Neutral on purpose: a phone's lock screen may be read by the person she fears.
        Some(NotificationKind::ViolenceReportReceived) if vi => {
            ("Tin báo mới".into(), "Có một tin báo mới cần tiếp nhận.".into())
        }
        Some(NotificationKind::ViolenceReportReceived) => {
            ("New report".into(), "There is a new report to acknowledge.".into())
        }
        Some(NotificationKind::ViolenceReportEscalated) if vi => (
            "Tin báo chuyển lên".into(),
            "Có một tin báo chưa được tiếp nhận đã chuyển lên đơn vị bạn.".into(),
        ),
        Some(NotificationKind::ViolenceReportEscalated) => {
            ("Report escalated".into(), "An unacknowledged report was escalated to your unit.".into())
        }
        Some(NotificationKind::ViolenceReportAssigned) if vi => {
            ("Tin báo được giao".into(), "Bạn được giao xử lý một tin báo.".into())
        }
        Some(NotificationKind::ViolenceReportAssigned) => {
            ("Report assigned".into(), "A report was assigned to you.".into())
        }
        Some(NotificationKind::ViolenceReportUpdated) if vi => {
            ("Cập nhật mới".into(), "Có cập nhật mới.".into())
        }
        Some(NotificationKind::ViolenceReportUpdated) => {
            ("New update".into(), "There is a new update.".into())
        }
        Some(NotificationKind::ViolenceReportMessage) if vi => {
            ("Tin nhắn mới".into(), "Bạn có một tin nhắn mới.".into())
        }
        Some(NotificationKind::ViolenceReportMessage) => {
            ("New message".into(), "You have a new message.".into())
        }
        Some(NotificationKind::ViolenceReportUnassigned) if vi => {
            ("Tin báo trở lại hàng chờ".into(), "Một tin báo cần người xử lý mới.".into())
        }
        Some(NotificationKind::ViolenceReportUnassigned) => {
            ("Report back in the queue".into(), "A report needs a new officer.".into())
        }
        Some(NotificationKind::ViolenceReportTransferOffered) if vi => (
            "Tin báo được chuyển đến".into(),
            "Một đơn vị khác đề nghị chuyển một tin báo cho đơn vị bạn. Hãy nhận hoặc từ chối.".into(),
        ),
        Some(NotificationKind::ViolenceReportTransferOffered) => (
            "Report offered to your unit".into(),
            "Another unit asks your unit to take a report. Accept or decline it.".into(),
        ),
        Some(NotificationKind::ViolenceReportClosureRequested) if vi => {
            ("Đề nghị đóng tin báo".into(), "Một tin báo chờ bạn duyệt đóng.".into())
        }
        Some(NotificationKind::ViolenceReportClosureRequested) => {
            ("Closure to approve".into(), "A report waits for your approval to close.".into())
        }
        Some(NotificationKind::MembershipInvited) if vi => (
            "Lời mời vào Hội".into(),
            format!("{branch} mời bạn trở thành hội viên. Bạn có thể đồng ý hoặc từ chối."),
        ),
        Some(NotificationKind::MembershipInvited) => (
            "An invitation to join".into(),
            format!("{branch} invites you to become a member. You can accept or decline."),
        ),
        Some(NotificationKind::PasswordReset) if vi => (
            "Mật khẩu đã được đặt lại".into(),
            "Mật khẩu của bạn vừa được đặt lại bằng mã gửi tới số điện thoại; mọi phiên đăng nhập \
             cũ đã kết thúc. Nếu không phải bạn, hãy liên hệ Hội ngay."
                .into(),
        ),
        Some(NotificationKind::PasswordReset) => (
            "Your password was reset".into(),
            "Your password was just reset with a code sent to your phone, and every earlier \
             session ended. If this was not you, contact the union at once."
                .into(),
        ),
        Some(NotificationKind::PhoneChanged) if vi => (
            "Số điện thoại đã được đổi".into(),
            format!("Tài khoản của bạn giờ dùng số điện thoại có đuôi {}.", param(params, "ending")),
        ),
        Some(NotificationKind::PhoneChanged) => (
            "Your phone number changed".into(),
            format!("Your account now uses the phone number ending in {}.", param(params, "ending")),
        ),
        Some(NotificationKind::CommentReplied) if vi => {
            ("Có người trả lời bình luận của bạn".into(), "Bình luận của bạn có một trả lời mới.".into())
        }
        Some(NotificationKind::CommentReplied) => {
            ("A reply to your comment".into(), "Someone replied to your comment.".into())
        }
        Some(NotificationKind::ContentModerated) => {
            let story = param(params, "content") == "STORY";
            let decision = param(params, "decision");
            match (vi, story) {
                (true, _) => {
                    let what = if story { "Câu chuyện" } else { "Bình luận" };
                    let done = match decision {
                        "APPROVED" => "đã được duyệt và hiển thị",
                        "HIDDEN" => "đã bị ẩn",
                        _ => "đã bị xoá",
                    };
                    (
                        format!("{what} của bạn {done}"),
                        format!("{what} của bạn {done}. Xem lý do và quyền khiếu nại trong mục kiểm duyệt."),
                    )
                }
                (false, _) => {
                    let what = if story { "story" } else { "comment" };
                    let done = match decision {
                        "APPROVED" => "was approved and is shown",
                        "HIDDEN" => "was hidden",
                        _ => "was deleted",
                    };
                    (
                        format!("Your {what} {done}"),
                        format!("Your {what} {done}. See the reason and how to appeal under moderation."),
                    )
                }
            }
        }
        Some(NotificationKind::ModerationWarning) if vi => (
            "Nhắc nhở từ người kiểm duyệt".into(),
            "Nội dung bạn đăng vi phạm quy tắc cộng đồng. Vui lòng xem lý do và giữ không gian tôn trọng."
                .into(),
        ),
        Some(NotificationKind::ModerationWarning) => (
            "A warning from a moderator".into(),
            "Something you posted broke the community rules. See the reason, and keep the space respectful."
                .into(),
        ),
        Some(NotificationKind::AuthorMuted) if vi => (
            "Tạm dừng đăng bài".into(),
            format!(
                "Bạn tạm thời không thể bình luận, đăng câu chuyện hay tải ảnh đến hết ngày {}. Bạn vẫn đọc tin và gửi tin báo được.",
                param(params, "until")
            ),
        ),
        Some(NotificationKind::AuthorMuted) => (
            "Posting paused".into(),
            format!(
                "You cannot comment, post stories or upload photos until {}. You can still read and send reports.",
                param(params, "until")
            ),
        ),
        Some(NotificationKind::AppealDecided) => {
            let upheld = params.get("upheld").and_then(Value::as_bool).unwrap_or(false);
            match (vi, upheld) {
                (true, true) => (
                    "Khiếu nại được chấp nhận".into(),
                    "Khiếu nại của bạn được chấp nhận; nội dung đã được hiển thị lại.".into(),
                ),
                (true, false) => (
                    "Khiếu nại không được chấp nhận".into(),
                    "Khiếu nại của bạn đã được xem xét và quyết định được giữ nguyên.".into(),
                ),
                (false, true) => (
                    "Your appeal was upheld".into(),
                    "Your appeal was upheld; what you posted is shown again.".into(),
                ),
                (false, false) => (
                    "Your appeal was dismissed".into(),
                    "Your appeal was reviewed and the decision stands.".into(),
                ),
            }
        }
        Some(NotificationKind::RatingConfirmed) => {
            let (unit, year) =
                (param(params, "unit"), params.get("year").and_then(Value::as_i64).unwrap_or(0));
            let rating = param(params, "rating");
            if vi {
                let level = match rating {
                    "EXCELLENT" => "Hoàn thành xuất sắc nhiệm vụ",
                    "GOOD" => "Hoàn thành tốt nhiệm vụ",
                    "FAIR" => "Hoàn thành nhiệm vụ",
                    _ => "Không hoàn thành nhiệm vụ",
                };
                ("Kết quả xếp loại thi đua".into(), format!("{unit} được xếp loại năm {year}: {level}."))
            } else {
                let level = match rating {
                    "EXCELLENT" => "excellent",
                    "GOOD" => "good",
                    "FAIR" => "fair",
                    _ => "weak",
                };
                ("Rating confirmed".into(), format!("{unit} is rated {level} for {year}."))
            }
        }
        Some(NotificationKind::RatingReturned) => {
            let (unit, year) =
                (param(params, "unit"), params.get("year").and_then(Value::as_i64).unwrap_or(0));
            if vi {
                (
                    "Bản tự đánh giá cần bổ sung".into(),
                    format!("Bản tự đánh giá năm {year} của {unit} được trả lại để bổ sung. Xem lý do."),
                )
            } else {
                (
                    "Self-assessment sent back".into(),
                    format!(
                        "The {year} self-assessment of {unit} was sent back for changes. See the reason."
                    ),
                )
            }
        }
        Some(NotificationKind::AwardGranted) => {
            let (award, issuer) = (param(params, "award"), param(params, "issuer"));
            let year = params.get("year").and_then(Value::as_i64).unwrap_or(0);
            match (vi, params.get("unit").and_then(Value::as_str)) {
                (true, Some(unit)) => (
                    "Chúc mừng đơn vị được khen thưởng".into(),
                    format!("{unit} được tặng {award} của {issuer} năm {year}."),
                ),
                (true, None) => (
                    "Chúc mừng bạn được khen thưởng".into(),
                    format!("Bạn được tặng {award} của {issuer} năm {year}."),
                ),
                (false, Some(unit)) => (
                    "Your unit was commended".into(),
                    format!("{unit} receives the {award} of {issuer} for {year}."),
                ),
                (false, None) => {
                    ("You were commended".into(), format!("You receive the {award} of {issuer} for {year}."))
                }
            }
        }
        Some(NotificationKind::NominationDeclined) => {
            let (award, year) =
                (param(params, "award"), params.get("year").and_then(Value::as_i64).unwrap_or(0));
            if vi {
                (
                    "Đề nghị khen thưởng không được duyệt".into(),
                    format!("Đề nghị tặng {award} năm {year} không được duyệt. Xem lý do."),
                )
            } else {
                (
                    "Nomination declined".into(),
                    format!("The nomination for the {award} of {year} was declined. See the reason."),
                )
            }
        }
        None if vi => ("Thông báo mới".into(), "Bạn có một thông báo mới.".into()),
        None => ("New notification".into(), "You have a new notification.".into()),
    }
}

/// Values one statement may bind, below the lowest limit of the backends (SQLite 32,766,
/// PostgreSQL 65,535): multi-row inserts and `IN` lists are split to stay under it.
const MAX_BOUND_VALUES: usize = 30_000;
/// Values a notification row binds, and a push outbox row.
const NOTIFICATION_VALUES: usize = 7;
const OUTBOX_VALUES: usize = 11;

#[derive(FromQueryResult)]
struct Preference {
    person_id: PersonId,
    topic: NotificationTopic,
    level: NotificationLevel,
}

#[derive(FromQueryResult)]
struct Device {
    id: Uuid,
    person_id: PersonId,
    language: String,
}

/// The recipients' preferences that are not "everything" (a person has at most one per topic).
async fn preferences(
    txn: &impl ConnectionTrait,
    items: &[NewNotification],
) -> Result<HashMap<(PersonId, NotificationTopic), NotificationLevel>, ApiError> {
    let mut people: Vec<PersonId> =
        items.iter().filter(|i| !i.duty && i.kind.topic().is_some()).map(|i| i.person_id).collect();
    people.sort_unstable();
    people.dedup();
    let mut levels = HashMap::new();
    for chunk in people.chunks(MAX_BOUND_VALUES) {
        let sql = format!(
            "SELECT person_id, topic, level FROM notification_preference \
             WHERE level <> 'ALL' AND person_id IN ({})",
            repeat_list("?", chunk.len())
        );
        let rows = Preference::find_by_statement(stmt(
            txn.get_database_backend(),
            &sql,
            chunk.iter().map(|&p| p.into()),
        ))
        .all(txn)
        .await?;
        levels.extend(rows.into_iter().map(|p| ((p.person_id, p.topic), p.level)));
    }
    Ok(levels)
}

/// Creates notifications inside the caller's transaction and queues a push per registered
/// device (rendered in the person's language); returns the rows for [`announce`]. Each
/// recipient's preference for the kind's topic is honoured — `OFF` creates nothing, `INBOX` no
/// push — except for notices of her duties. However many (a fan-out batch has hundreds), in a
/// bounded number of statements: one read of the recipients' preferences (when a kind has a
/// topic), one multi-row insert of the notifications, one read of the recipients' devices with
/// their languages, one multi-row insert of the pushes — each split only where a statement
/// would bind more values than the backends allow.
pub async fn enqueue(
    txn: &impl ConnectionTrait,
    items: Vec<NewNotification>,
) -> Result<Vec<notification::Model>, ApiError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let levels = preferences(txn, &items).await?;
    let level = |item: &NewNotification| match item.kind.topic() {
        Some(topic) if !item.duty => {
            levels.get(&(item.person_id, topic)).copied().unwrap_or(NotificationLevel::All)
        }
        _ => NotificationLevel::All,
    };
    let now = Utc::now();
    let mut params = Vec::with_capacity(items.len());
    let mut created = Vec::with_capacity(items.len());
    let mut pushed = Vec::with_capacity(items.len());
    for item in items {
        let level = level(&item);
        if level == NotificationLevel::Off {
            continue;
        }
        pushed.push(level == NotificationLevel::All);
        created.push(notification::Model {
            id: Uuid::now_v7(),
            person_id: item.person_id,
            kind: item.kind.as_str().to_owned(),
            params: item.params.to_string(),
            link: item.link,
            created_at: now,
            read_at: None,
        });
        params.push(item.params);
    }
    if created.is_empty() {
        return Ok(created);
    }
    for chunk in created.chunks(MAX_BOUND_VALUES / NOTIFICATION_VALUES) {
        notification::Entity::insert_many(chunk.iter().cloned().map(notification::ActiveModel::from))
            .exec_without_returning(txn)
            .await?;
    }

    let mut people: Vec<PersonId> =
        created.iter().zip(&pushed).filter(|(_, push)| **push).map(|(n, _)| n.person_id).collect();
    people.sort_unstable();
    people.dedup();
    let mut devices: HashMap<PersonId, Vec<Device>> = HashMap::new();
    for chunk in people.chunks(MAX_BOUND_VALUES) {
        let sql = format!(
            "SELECT t.id AS id, t.person_id AS person_id, p.language AS language FROM push_token t \
             JOIN person p ON p.id = t.person_id WHERE t.person_id IN ({})",
            repeat_list("?", chunk.len())
        );
        let rows = Device::find_by_statement(stmt(
            txn.get_database_backend(),
            &sql,
            chunk.iter().map(|&p| p.into()),
        ))
        .all(txn)
        .await?;
        for d in rows {
            devices.entry(d.person_id).or_default().push(d);
        }
    }
    let mut pushes = Vec::new();
    for ((row, params), _) in created.iter().zip(&params).zip(&pushed).filter(|(_, push)| **push) {
        for device in devices.get(&row.person_id).into_iter().flatten() {
            let (title, body) = render(&row.kind, params, Lang::from_code(&device.language));
            pushes.push(push_outbox::ActiveModel {
                id: Set(Uuid::now_v7()),
                notification_id: Set(row.id),
                push_token_id: Set(device.id),
                title: Set(title),
                body: Set(body),
                status: Set("PENDING".to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                last_error: Set(None),
                created_at: Set(now),
                sent_at: Set(None),
            });
        }
    }
    for chunk in pushes.chunks(MAX_BOUND_VALUES / OUTBOX_VALUES) {
        push_outbox::Entity::insert_many(chunk.iter().cloned()).exec_without_returning(txn).await?;
    }
    Ok(created)
}

/// The event topic of a person's new notifications.
pub fn topic(person_id: PersonId) -> String {
    format!("notifications:{person_id}")
}

/// Tells live subscribers (on every instance) about committed notifications. Best-effort: the
/// inbox already holds them, so a failure is logged, not returned.
pub async fn announce(state: &AppState, rows: &[notification::Model]) {
    for row in rows {
        let payload = json!({ "id": row.id });
        if let Err(e) = state.events.publish(topic(row.person_id), payload).await {
            // The bus is down: the rest would fail too (the inbox has them all).
            tracing::warn!(error = ?e, "could not announce notifications");
            break;
        }
    }
}

/// Title and body of a stored notification in `lang`.
pub fn render_row(row: &notification::Model, lang: Lang) -> (String, String) {
    let params = serde_json::from_str(&row.params).unwrap_or(Value::Null);
    render(&row.kind, &params, lang)
}

// ---- the inbox ----

/// Most ids `markNotificationsRead` takes at once.
pub const MAX_MARK_READ: usize = 100;

fn inbox(viewer: &Viewer, unread_only: bool) -> Condition {
    let mut cond = Condition::all().add(notification::Column::PersonId.eq(viewer.person_id));
    if unread_only {
        cond = cond.add(notification::Column::ReadAt.is_null());
    }
    cond
}

/// A page of the caller's inbox, newest first, and whether more follow. Ids are UUIDv7, so
/// ordering and paging by id is ordering by creation (keyset on the `(person_id, id)` index).
pub async fn list(
    call: Call<'_>,
    unread_only: bool,
    first: u64,
    after: Option<Uuid>,
) -> Result<(Vec<notification::Model>, bool), ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    let mut q = notification::Entity::find().filter(inbox(viewer, unread_only));
    if let Some(after) = after {
        q = q.filter(notification::Column::Id.lt(after));
    }
    let rows = q.order_by_desc(notification::Column::Id).limit(first + 1).all(conn).await?;
    Ok(crate::db::split_page(rows, first))
}

/// How many notifications the caller has (only unread ones with `unread_only`).
pub async fn count(call: Call<'_>, unread_only: bool) -> Result<u64, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    Ok(notification::Entity::find().filter(inbox(viewer, unread_only)).count(conn).await?)
}

/// One of the caller's notifications; anyone else's is `NOT_FOUND`.
pub async fn get(call: Call<'_>, id: Uuid) -> Result<notification::Model, ApiError> {
    own(&call.state.db, call.viewer()?, id).await
}

/// One of `viewer`'s notifications (the stream reads each new one with it).
async fn own(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> Result<notification::Model, ApiError> {
    notification::Entity::find_by_id(id)
        .filter(notification::Column::PersonId.eq(viewer.person_id))
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Marks some of the caller's notifications read and returns how many changed. Ids of other
/// people's notifications, unknown ids and already-read ones are ignored.
pub async fn mark_read(call: Call<'_>, ids: &[Uuid]) -> Result<u64, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    if ids.len() > MAX_MARK_READ {
        return Err(ApiError::bad_input("ids", InputProblem::TooMany));
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let cond = inbox(viewer, true).add(notification::Column::Id.is_in(ids.iter().copied()));
    set_read(conn, cond).await
}

/// Marks every unread notification of the caller read; returns how many changed.
pub async fn mark_all_read(call: Call<'_>) -> Result<u64, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    set_read(conn, inbox(viewer, true)).await
}

async fn set_read(conn: &impl ConnectionTrait, cond: Condition) -> Result<u64, ApiError> {
    let res = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Utc::now()))
        .filter(cond)
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// The caller's new notifications as they are announced (on any instance), read back from the
/// database — an event only carries an id, so nothing is trusted from the bus. Events for a
/// missing row or another person are skipped. The stream ends when the caller's session is
/// revoked, so a signed-out device stops receiving at once.
pub fn added(state: &AppState, viewer: Viewer) -> impl Stream<Item = notification::Model> + Send + use<> {
    let db = state.db.clone();
    let revoked = state.events.subscribe(session_revoked_topic(viewer.session_id));
    state
        .events
        .subscribe(topic(viewer.person_id))
        .filter_map(move |payload| {
            let db = db.clone();
            async move {
                let id = payload.get("id")?.as_str()?.parse::<Uuid>().ok()?;
                // A database failure is logged where it turns into an `ApiError`.
                own(&db, &viewer, id).await.ok()
            }
        })
        .take_until(revoked.boxed().into_future())
}

// ---- device push tokens ----

/// Where a device push token comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushPlatform {
    Android,
    Ios,
    Web,
}

impl PushPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            PushPlatform::Android => "ANDROID",
            PushPlatform::Ios => "IOS",
            PushPlatform::Web => "WEB",
        }
    }
}

/// Longest token accepted (the column's size; FCM and APNs tokens are far shorter).
pub const MAX_PUSH_TOKEN_CHARS: usize = 512;

/// Tokens are opaque: kept exactly as sent, but never blank, oversized or with control
/// characters (which no provider issues).
fn check_token(token: &str) -> Result<(), ApiError> {
    if token.trim().is_empty() {
        return Err(ApiError::bad_input("token", InputProblem::Required));
    }
    if token.chars().count() > MAX_PUSH_TOKEN_CHARS {
        return Err(ApiError::bad_input("token", InputProblem::TooLong));
    }
    if token.chars().any(char::is_control) {
        return Err(ApiError::bad_input("token", InputProblem::InvalidFormat));
    }
    Ok(())
}

/// Registers the caller's device. A token held by another person moves to the caller (a
/// device changes hands): the old registration is deleted with its queued pushes.
pub async fn register_push_token(
    call: Call<'_>,
    token: &str,
    platform: PushPlatform,
) -> Result<(), ApiError> {
    let (db, viewer) = (&call.state.db, call.viewer()?);
    check_token(token)?;
    let txn = db.begin().await?;
    let existing = push_token::Entity::find().filter(push_token::Column::Token.eq(token)).one(&txn).await?;
    match existing {
        Some(row) if row.person_id == viewer.person_id => {
            if row.platform != platform.as_str() {
                let mut row: push_token::ActiveModel = row.into();
                row.platform = Set(platform.as_str().to_owned());
                row.update(&txn).await?;
            }
        }
        other => {
            if let Some(row) = other {
                // Cascades to the previous owner's outbox rows for this device.
                push_token::Entity::delete_by_id(row.id).exec(&txn).await?;
            }
            let row = push_token::ActiveModel {
                id: Set(Uuid::now_v7()),
                person_id: Set(viewer.person_id),
                token: Set(token.to_owned()),
                platform: Set(platform.as_str().to_owned()),
                created_at: Set(Utc::now()),
            };
            // Two registrations of one new token at the same moment: the last one wins.
            push_token::Entity::insert(row)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(push_token::Column::Token)
                        .update_columns([push_token::Column::PersonId, push_token::Column::Platform])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Removes one of the caller's device tokens (and the pushes still queued for it). Returns
/// whether the caller had it; someone else's token is left alone.
pub async fn unregister_push_token(call: Call<'_>, token: &str) -> Result<bool, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    check_token(token)?;
    let res = push_token::Entity::delete_many()
        .filter(push_token::Column::Token.eq(token))
        .filter(push_token::Column::PersonId.eq(viewer.person_id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected > 0)
}

// ---- preferences ----

/// The caller's level for every topic, in the topics' order (`ALL` where she chose nothing).
pub async fn preferences_of(call: Call<'_>) -> Result<Vec<(NotificationTopic, NotificationLevel)>, ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    let chosen: HashMap<NotificationTopic, NotificationLevel> = notification_preference::Entity::find()
        .filter(notification_preference::Column::PersonId.eq(viewer.person_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.topic, p.level))
        .collect();
    Ok(NotificationTopic::ALL
        .iter()
        .map(|&topic| (topic, chosen.get(&topic).copied().unwrap_or(NotificationLevel::All)))
        .collect())
}

/// Sets how much of `topic` reaches the caller. `ALL`, the default, keeps no row.
pub async fn set_preference(
    call: Call<'_>,
    topic: NotificationTopic,
    level: NotificationLevel,
) -> Result<(), ApiError> {
    let (conn, viewer) = (&call.state.db, call.viewer()?);
    let mine = notification_preference::Column::PersonId.eq(viewer.person_id);
    if level == NotificationLevel::All {
        notification_preference::Entity::delete_many()
            .filter(mine)
            .filter(notification_preference::Column::Topic.eq(topic))
            .exec(conn)
            .await?;
        return Ok(());
    }
    let row = notification_preference::ActiveModel {
        person_id: Set(viewer.person_id),
        topic: Set(topic),
        level: Set(level),
    };
    notification_preference::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                notification_preference::Column::PersonId,
                notification_preference::Column::Topic,
            ])
            .update_column(notification_preference::Column::Level)
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}
