//! An inbox notification: a kind and its parameters (rendered in the reader's language), a
//! link to the object, and whether it was read.

use crate::ids::PersonId;
use sea_orm::entity::prelude::*;

pub use crate::notification_preference::NotificationTopic;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub person_id: PersonId,
    pub kind: String,
    /// JSON object of the parameters the text is rendered from.
    pub params: String,
    /// Global id of the object the notification is about.
    pub link: Option<String>,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
}

crate::stored_enum! {
    /// What a notification is about. The column stays text: an inbox row of a newer
    /// version (a kind this one does not know) is shown with a generic text, not a failed read.
    pub enum NotificationKind {
        /// To a branch's leaders: someone asked to join. Params: `branch`.
        JoinRequested = "JOIN_REQUESTED",
        /// To the receiving branch's leaders: a member asked to transfer in. Params: `branch`.
        TransferRequested = "TRANSFER_REQUESTED",
        /// To the person: her request was approved. Params: `branch`.
        RequestApproved = "REQUEST_APPROVED",
        /// To the person: her request was rejected. Params: `branch`, `reason`.
        RequestRejected = "REQUEST_REJECTED",
        /// To everyone registered or waitlisted: the training is cancelled. Params: `training`.
        TrainingCancelled = "TRAINING_CANCELLED",
        /// To a waitlisted person: a seat freed up and is hers. Params: `training`.
        TrainingSeatConfirmed = "TRAINING_SEAT_CONFIRMED",
        /// To the members of a campaign's subtree, in batches by the fan-out worker: a campaign
        /// was launched. Params: `campaign`.
        CampaignLaunched = "CAMPAIGN_LAUNCHED",
        /// To the person: her pledge was certified. Params: `campaign`.
        PledgeCertified = "PLEDGE_CERTIFIED",
        /// To the person: her pledge was returned for changes. Params: `campaign`.
        PledgeReturned = "PLEDGE_RETURNED",
        /// To the case officers a violence report was routed to: a new report. No params: the
        /// texts of the violence-report kinds never carry anything about the report.
        ViolenceReportReceived = "VIOLENCE_REPORT_RECEIVED",
        /// To the case officers of the next unit up: an unacknowledged report escalated to them.
        ViolenceReportEscalated = "VIOLENCE_REPORT_ESCALATED",
        /// To a case officer: a report was assigned to her.
        ViolenceReportAssigned = "VIOLENCE_REPORT_ASSIGNED",
        /// To the case officers holding a report, or to its signed-in reporter: it changed.
        ViolenceReportUpdated = "VIOLENCE_REPORT_UPDATED",
        /// To a report's signed-in reporter: an officer wrote to her.
        ViolenceReportMessage = "VIOLENCE_REPORT_MESSAGE",
        /// To the case officers a report is routed to: its assigned officer's case role ended, and
        /// it is back in their queue.
        ViolenceReportUnassigned = "VIOLENCE_REPORT_UNASSIGNED",
        ViolenceReportTransferOffered = "VIOLENCE_REPORT_TRANSFER_OFFERED",
        ViolenceReportClosureRequested = "VIOLENCE_REPORT_CLOSURE_REQUESTED",
        /// To a person an officer enrolled who was already known to the service: an invitation to
        /// accept or decline. Params: `branch`.
        MembershipInvited = "MEMBERSHIP_INVITED",
        /// To the person: her password was reset with a code (every session ended).
        PasswordReset = "PASSWORD_RESET",
        /// To the person: her account's phone number changed. Params: `ending` (its last digits).
        PhoneChanged = "PHONE_CHANGED",
        /// To a comment's author: someone replied to it. No params (the link is the comment).
        CommentReplied = "COMMENT_REPLIED",
        /// To an author: a moderator decided about her comment or story (the link is the
        /// case). Params: `decision` (`APPROVED`, `HIDDEN`, `DELETED`), `content` (`COMMENT`,
        /// `STORY`).
        ContentModerated = "CONTENT_MODERATED",
        /// To an author: a moderator warned her about what she wrote (the link is the case).
        ModerationWarning = "MODERATION_WARNING",
        /// To an author: she may not write until a date. Params: `until` (a date, Hanoi time).
        AuthorMuted = "AUTHOR_MUTED",
        /// To an author: her appeal was decided (the link is the appeal). Params: `upheld`
        /// (`true` when the decision she appealed was undone).
        AppealDecided = "APPEAL_DECIDED",
        /// To whoever submitted a unit's rating: the level above confirmed it (the link is the
        /// rating). Params: `unit` (its name), `year`, `rating` (`EXCELLENT`…`WEAK`).
        RatingConfirmed = "RATING_CONFIRMED",
        /// To whoever submitted a unit's rating: the level above sent it back for changes (the
        /// link is the rating, where the reason is). Params: `unit`, `year`.
        RatingReturned = "RATING_RETURNED",
        /// To the person awarded, or the officers of the unit awarded: an award was granted (the
        /// link is the nomination). Params: `award` (the kind's name), `issuer`, `year`, and
        /// `unit` (its name) for a unit's.
        AwardGranted = "AWARD_GRANTED",
        /// To whoever nominated: the awarding level declined (the link is the nomination, with
        /// the reason). Params: `award`, `issuer`, `year`.
        NominationDeclined = "NOMINATION_DECLINED",
    }
}

impl NotificationKind {
    /// The topic a person's preferences put it under; `None`: always delivered (her account,
    /// her membership, an officer's work). A violence-report notice to a case officer is duty
    /// whatever its kind (`NewNotification::duty`), so only the reporter's side has a topic.
    pub fn topic(self) -> Option<NotificationTopic> {
        use NotificationKind as K;
        match self {
            K::CampaignLaunched | K::PledgeCertified | K::PledgeReturned => {
                Some(NotificationTopic::Campaigns)
            }
            K::TrainingCancelled | K::TrainingSeatConfirmed => Some(NotificationTopic::Trainings),
            K::CommentReplied => Some(NotificationTopic::Comments),
            K::ContentModerated | K::AppealDecided => Some(NotificationTopic::Moderation),
            K::ViolenceReportUpdated | K::ViolenceReportMessage => Some(NotificationTopic::ViolenceReports),
            K::JoinRequested
            | K::TransferRequested
            | K::RequestApproved
            | K::RequestRejected
            | K::ViolenceReportReceived
            | K::ViolenceReportEscalated
            | K::ViolenceReportAssigned
            | K::ViolenceReportUnassigned
            | K::ViolenceReportTransferOffered
            | K::ViolenceReportClosureRequested
            | K::MembershipInvited
            | K::PasswordReset
            | K::PhoneChanged
            | K::ModerationWarning
            | K::AuthorMuted
            | K::RatingConfirmed
            | K::RatingReturned
            | K::AwardGranted
            | K::NominationDeclined => None,
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
