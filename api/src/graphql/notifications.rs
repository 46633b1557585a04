//! GraphQL surface of the notification inbox: `Notification`, the inbox queries, marking read,
//! the live `notificationAdded` subscription and device push tokens. Everything here needs a
//! signed-in caller and only ever shows her own notifications (rules in
//! `service::notifications`). Titles and bodies are rendered in the request's (or the
//! WebSocket connection's) language.

use async_graphql::{Context, Enum, ID, Object, Result, Subscription, connection::Connection};
use chrono::{DateTime, Utc};
use entities::notification;
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{
    ContextExt,
    connection::{build, page},
};
use service::{
    domain::{GlobalId, NodeKind},
    error::Lang,
    notifications::{self as svc, NotificationKind, NotificationLevel, NotificationTopic, PushPlatform},
};

/// What a notification is about.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "NotificationKind")]
pub enum GqlNotificationKind {
    /// To a branch's leaders: someone asked to join.
    JoinRequested,
    /// To the receiving branch's leaders: a member asked to transfer in.
    TransferRequested,
    /// To the person: her request was approved.
    RequestApproved,
    /// To the person: her request was rejected.
    RequestRejected,
    /// To everyone registered or waitlisted: the training was cancelled.
    TrainingCancelled,
    /// To a waitlisted person: a seat freed up and is now hers.
    TrainingSeatConfirmed,
    /// To the members of a campaign's subtree: a campaign was launched.
    CampaignLaunched,
    /// To the person: her pledge was certified.
    PledgeCertified,
    /// To the person: her pledge was returned for changes (see its review comment).
    PledgeReturned,
    /// To case officers: a new violence report to acknowledge (the text says nothing of it).
    ViolenceReportReceived,
    /// To case officers: an unacknowledged report escalated to their unit.
    ViolenceReportEscalated,
    /// To a case officer: a report was assigned to her.
    ViolenceReportAssigned,
    /// To case officers or the signed-in reporter: a report changed.
    ViolenceReportUpdated,
    /// To a report's signed-in reporter: an officer wrote to her.
    ViolenceReportMessage,
    /// To case officers: a report's assigned officer lost her case role; it needs a new one.
    ViolenceReportUnassigned,
    /// To case officers: another unit asks theirs to take a report (accept or decline it).
    ViolenceReportTransferOffered,
    /// To supervising case officers: a report waits for their approval to close.
    ViolenceReportClosureRequested,
    /// To a person an officer enrolled who already had an account or a record: an invitation
    /// to accept or decline (`myMembershipInvitations`).
    MembershipInvited,
    /// To the person: her password was reset with a phone code; every earlier session ended.
    PasswordReset,
    /// To the person: her account's phone number changed.
    PhoneChanged,
    /// To a comment's author: someone replied to it (`link` is the comment).
    CommentReplied,
    /// To an author: a moderator approved, hid or deleted her comment or story (`link` is the
    /// case, where the reason is and from where she may appeal).
    ContentModerated,
    /// To an author: a moderator warned her (`link` is the case).
    ModerationWarning,
    /// To an author: she may not write for a while (`link` is the case; see `myMutedUntil`).
    AuthorMuted,
    /// To an author: her appeal was decided (`link` is the appeal).
    AppealDecided,
    /// To whoever submitted a unit's rating: the level above confirmed it (`link` is the
    /// rating).
    RatingConfirmed,
    /// To whoever submitted a unit's rating: it was sent back for changes (`link` is the
    /// rating).
    RatingReturned,
    /// To the person awarded, or the officers of the unit awarded (`link` is the award).
    AwardGranted,
    /// To whoever nominated: the nomination was declined (`link` is it, with the reason).
    NominationDeclined,
    /// A kind this server version does not know yet (during a rolling upgrade); show the
    /// title and body as they are.
    Other,
}

impl From<NotificationKind> for GqlNotificationKind {
    fn from(k: NotificationKind) -> Self {
        match k {
            NotificationKind::JoinRequested => GqlNotificationKind::JoinRequested,
            NotificationKind::TransferRequested => GqlNotificationKind::TransferRequested,
            NotificationKind::RequestApproved => GqlNotificationKind::RequestApproved,
            NotificationKind::RequestRejected => GqlNotificationKind::RequestRejected,
            NotificationKind::TrainingCancelled => GqlNotificationKind::TrainingCancelled,
            NotificationKind::TrainingSeatConfirmed => GqlNotificationKind::TrainingSeatConfirmed,
            NotificationKind::CampaignLaunched => GqlNotificationKind::CampaignLaunched,
            NotificationKind::PledgeCertified => GqlNotificationKind::PledgeCertified,
            NotificationKind::PledgeReturned => GqlNotificationKind::PledgeReturned,
            NotificationKind::ViolenceReportReceived => GqlNotificationKind::ViolenceReportReceived,
            NotificationKind::ViolenceReportEscalated => GqlNotificationKind::ViolenceReportEscalated,
            NotificationKind::ViolenceReportAssigned => GqlNotificationKind::ViolenceReportAssigned,
            NotificationKind::ViolenceReportUpdated => GqlNotificationKind::ViolenceReportUpdated,
            NotificationKind::ViolenceReportMessage => GqlNotificationKind::ViolenceReportMessage,
            NotificationKind::ViolenceReportUnassigned => GqlNotificationKind::ViolenceReportUnassigned,
            NotificationKind::ViolenceReportTransferOffered => {
                GqlNotificationKind::ViolenceReportTransferOffered
            }
            NotificationKind::ViolenceReportClosureRequested => {
                GqlNotificationKind::ViolenceReportClosureRequested
            }
            NotificationKind::MembershipInvited => GqlNotificationKind::MembershipInvited,
            NotificationKind::PasswordReset => GqlNotificationKind::PasswordReset,
            NotificationKind::PhoneChanged => GqlNotificationKind::PhoneChanged,
            NotificationKind::CommentReplied => GqlNotificationKind::CommentReplied,
            NotificationKind::ContentModerated => GqlNotificationKind::ContentModerated,
            NotificationKind::ModerationWarning => GqlNotificationKind::ModerationWarning,
            NotificationKind::AuthorMuted => GqlNotificationKind::AuthorMuted,
            NotificationKind::AppealDecided => GqlNotificationKind::AppealDecided,
            NotificationKind::RatingConfirmed => GqlNotificationKind::RatingConfirmed,
            NotificationKind::RatingReturned => GqlNotificationKind::RatingReturned,
            NotificationKind::AwardGranted => GqlNotificationKind::AwardGranted,
            NotificationKind::NominationDeclined => GqlNotificationKind::NominationDeclined,
        }
    }
}

/// The platform of a device push token.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "PushPlatform")]
pub enum GqlPushPlatform {
    Android,
    Ios,
    Web,
}

impl From<GqlPushPlatform> for PushPlatform {
    fn from(p: GqlPushPlatform) -> Self {
        match p {
            GqlPushPlatform::Android => PushPlatform::Android,
            GqlPushPlatform::Ios => PushPlatform::Ios,
            GqlPushPlatform::Web => PushPlatform::Web,
        }
    }
}

/// What a group of notifications is about, as a person chooses what to hear. Account and
/// membership notices and the notices of an officer's duties (violence reports to case
/// officers) have no topic: they always arrive.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "NotificationTopic", remote = "NotificationTopic")]
pub enum GqlNotificationTopic {
    /// Campaigns launched in her units; her pledges certified or returned.
    Campaigns,
    /// Trainings she registered for: a cancellation, a seat confirmed from the waitlist.
    Trainings,
    /// Replies and reactions to what she wrote.
    Comments,
    /// Decisions on her content and, for moderators, new items in their queue.
    Moderation,
    /// Her own violence reports (texts are always neutral): keep them in the inbox only if
    /// someone else reads her phone's lock screen.
    ViolenceReports,
}

/// How much of a topic reaches the person.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "NotificationLevel", remote = "NotificationLevel")]
pub enum GqlNotificationLevel {
    /// The inbox and a push to her devices (the default).
    All,
    /// The inbox only, no push.
    Inbox,
    /// Nothing.
    Off,
}

/// The caller's choice for one topic.
#[derive(async_graphql::SimpleObject)]
pub struct NotificationPreference {
    pub topic: GqlNotificationTopic,
    pub level: GqlNotificationLevel,
}

impl From<(NotificationTopic, NotificationLevel)> for NotificationPreference {
    fn from((topic, level): (NotificationTopic, NotificationLevel)) -> Self {
        Self { topic: topic.into(), level: level.into() }
    }
}

/// The language titles and bodies are rendered in (Vietnamese unless the request asks for
/// English).
fn lang(ctx: &Context<'_>) -> Lang {
    ctx.data_opt::<Lang>().copied().unwrap_or_default()
}

/// A notification in the caller's inbox. Texts are short and neutral; `link` points at the
/// object it is about.
pub struct Notification(pub notification::Model);

#[Object]
impl Notification {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Notification, self.0.id).encode().into()
    }

    async fn kind(&self) -> GqlNotificationKind {
        NotificationKind::parse(&self.0.kind).map_or(GqlNotificationKind::Other, Into::into)
    }

    /// In the caller's language.
    async fn title(&self, ctx: &Context<'_>) -> String {
        svc::render_row(&self.0, lang(ctx)).0
    }

    /// In the caller's language.
    async fn body(&self, ctx: &Context<'_>) -> String {
        svc::render_row(&self.0, lang(ctx)).1
    }

    /// Global id of the object the notification is about (use it with `node(id:)`).
    async fn link(&self) -> Option<&str> {
        self.0.link.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn read(&self) -> bool {
        self.0.read_at.is_some()
    }

    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
}

/// Extra fields of the inbox list.
pub struct NotificationListFields {
    unread_only: bool,
}

#[Object]
impl NotificationListFields {
    /// Number of notifications matching the list's filter (one extra query, only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count(ctx.call()?, self.unread_only).await?)
    }
}

pub type NotificationConnection = Connection<String, Notification, NotificationListFields>;

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The caller's inbox, newest first.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)", desc = "Only notifications not read yet.")]
        unread_only: Option<bool>,
    ) -> Result<NotificationConnection> {
        ctx.auth()?.require()?;
        let unread_only = unread_only.unwrap_or(false);
        let page = page::<Uuid>(first, after.as_deref())?;
        let (rows, has_next) = svc::list(ctx.call()?, unread_only, page.first, page.after).await?;
        let fields = NotificationListFields { unread_only };
        Ok(build(rows, has_next, page.after.is_some(), fields, |n| n.id, Notification))
    }

    /// How many of the caller's notifications are not read yet.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> Result<u64> {
        ctx.auth()?.require()?;
        Ok(svc::count(ctx.call()?, true).await?)
    }

    /// The caller's level for every topic (`ALL` where she chose nothing).
    async fn notification_preferences(&self, ctx: &Context<'_>) -> Result<Vec<NotificationPreference>> {
        ctx.auth()?.require()?;
        Ok(svc::preferences_of(ctx.call()?).await?.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks some of the caller's notifications read (at most 100 ids; ids that are not hers
    /// are ignored). Returns how many changed.
    async fn mark_notifications_read(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<u64> {
        ctx.auth()?.require()?;
        let ids = ids
            .iter()
            .map(|id| GlobalId::decode_as(id, NodeKind::Notification, "ids"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(svc::mark_read(ctx.call()?, &ids).await?)
    }

    /// Marks every notification of the caller read. Returns how many changed.
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>) -> Result<u64> {
        ctx.auth()?.require()?;
        Ok(svc::mark_all_read(ctx.call()?).await?)
    }

    /// Registers this device for push notifications (1–512 characters). A token registered by
    /// another account moves to the caller: the device changed hands.
    async fn register_push_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] token: String,
        platform: GqlPushPlatform,
    ) -> Result<bool> {
        ctx.auth()?.require()?;
        svc::register_push_token(ctx.call()?, &token, platform.into()).await?;
        Ok(true)
    }

    /// Sets how much of a topic reaches the caller: `OFF` creates no notification, `INBOX` no
    /// push. Returns the choice as stored.
    async fn set_notification_preference(
        &self,
        ctx: &Context<'_>,
        topic: GqlNotificationTopic,
        level: GqlNotificationLevel,
    ) -> Result<NotificationPreference> {
        ctx.auth()?.require()?;
        svc::set_preference(ctx.call()?, topic.into(), level.into()).await?;
        Ok(NotificationPreference { topic, level })
    }

    /// Stops pushes to this device. Returns whether the caller had registered the token.
    async fn unregister_push_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] token: String,
    ) -> Result<bool> {
        ctx.auth()?.require()?;
        Ok(svc::unregister_push_token(ctx.call()?, &token).await?)
    }
}

#[derive(Default)]
pub struct NotificationSubscription;

#[Subscription]
impl NotificationSubscription {
    /// The caller's new notifications, live (whichever API instance created them). Ends when
    /// the session is revoked.
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Notification> + use<>> {
        let viewer = *ctx.auth()?.require()?;
        Ok(svc::added(ctx.state()?, viewer).map(Notification))
    }
}
