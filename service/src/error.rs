//! The one error type of the service: every failure a client can see is an [`ApiError`] with a
//! stable code (`code()`), its companions (the field and reason of a bad input, the reason of a
//! conflict, the seconds to wait) and a message in the caller's language (`message()`). The
//! API layer turns it into its wire format (GraphQL errors with `extensions.code`); anything that
//! is not an `ApiError` is an internal error there, logged and never shown.

use std::fmt;

use sea_orm::{DbErr, SqlErr};

/// The language of messages, from `Accept-Language` (Vietnamese unless English is asked for).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// `vi` or `en`, as stored on a person.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The stored code back (Vietnamese for anything unknown).
    pub fn from_code(code: &str) -> Self {
        if code == "en" { Lang::En } else { Lang::Vi }
    }

    /// Picks the first supported language of an `Accept-Language` header.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else { return Lang::Vi };
        for part in header.split(',') {
            let tag = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if tag == "en" || tag.starts_with("en-") {
                return Lang::En;
            }
            if tag == "vi" || tag.starts_with("vi-") {
                return Lang::Vi;
            }
        }
        Lang::Vi
    }
}

/// What went wrong with one input field; the message key is translated at the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputProblem {
    Required,
    InvalidPhone,
    InvalidName,
    WeakPassword,
    TooLong,
    /// Shorter than allowed.
    TooShort,
    InvalidFormat,
    InvalidId,
    OutOfRange,
    InvalidKind,
    WouldCreateCycle,
    InvalidEmail,
    WrongPassword,
    /// The root of the tree cannot be moved.
    IsRoot,
    /// A second password check (login, register…) in one request.
    OnePerRequest,
    /// A list argument has more items than allowed.
    TooMany,
    /// Alternative arguments (e.g. `file` or `csv`): exactly one must be given.
    ExactlyOne,
    /// An imported file lacks a required column.
    MissingColumn,
    /// A time-limited code (a check-in code) is past its expiry.
    Expired,
    /// A genuine check-in code, of a registration for another training.
    OtherTraining,
    /// A unit named as a share of a target is not a direct child of the target's unit.
    NotAChild,
    /// A pledge cannot be certified while a criterion of its campaign is not checked as met.
    CriteriaNotMet,
    /// Text with a character no one types (NUL or another control character, a bidirectional
    /// override), see `domain::text::is_forbidden_char`.
    InvalidCharacters,
    /// A one-time phone code that is not the one sent.
    WrongCode,
    /// A one-time phone code took its last wrong guess: ask for a new one.
    TooManyAttempts,
    /// A single-use token (a phone verification) was spent already.
    AlreadyUsed,
    /// A step-up code goes to one's own number only.
    NotYourNumber,
    /// A new phone number that is the current one.
    SameNumber,
    /// The version of a text (the privacy notice) that is no longer the one in force.
    Outdated,
    /// A webhook target that is not `https://` or not at a public address.
    NotPublicTarget,
    /// Something an integration client may have only with a scope it does not hold.
    ScopeNotGranted,
    /// An uploaded file larger than allowed.
    FileTooLarge,
    /// An image with more pixels than allowed (however small its file).
    TooManyPixels,
    /// A file whose content is not of a type taken here (told by its bytes, not its name).
    UnsupportedType,
    /// A value that cannot go with the others sent (a sanction on an approval).
    Conflicting,
}

impl InputProblem {
    pub fn message(self, lang: Lang) -> &'static str {
        use InputProblem::*;
        match (self, lang) {
            (Required, Lang::Vi) => "Trường này là bắt buộc.",
            (Required, Lang::En) => "This field is required.",
            (InvalidPhone, Lang::Vi) => "Số điện thoại di động Việt Nam không hợp lệ.",
            (InvalidPhone, Lang::En) => "Not a valid Vietnamese mobile number.",
            (InvalidName, Lang::Vi) => "Họ tên phải dài 2–120 ký tự và chỉ gồm chữ cái.",
            (InvalidName, Lang::En) => "A full name is 2–120 characters of letters.",
            (WeakPassword, Lang::Vi) => {
                "Mật khẩu cần ít nhất 8 ký tự, gồm cả chữ và số, và không quá dễ đoán."
            }
            (WeakPassword, Lang::En) => {
                "A password needs at least 8 characters with letters and digits, and must not be easy to guess."
            }
            (TooLong, Lang::Vi) => "Giá trị quá dài.",
            (TooLong, Lang::En) => "The value is too long.",
            (TooShort, Lang::Vi) => "Giá trị quá ngắn.",
            (TooShort, Lang::En) => "The value is too short.",
            (InvalidFormat, Lang::Vi) => "Giá trị không đúng định dạng.",
            (InvalidFormat, Lang::En) => "The value is not in the expected format.",
            (InvalidId, Lang::Vi) => "Mã định danh không hợp lệ.",
            (InvalidId, Lang::En) => "Not a valid id for this field.",
            (OutOfRange, Lang::Vi) => "Giá trị nằm ngoài khoảng cho phép.",
            (OutOfRange, Lang::En) => "The value is out of the allowed range.",
            (InvalidKind, Lang::Vi) => "Loại đơn vị không phù hợp với vị trí trong cây tổ chức.",
            (InvalidKind, Lang::En) => "This kind of unit cannot be placed there in the tree.",
            (WouldCreateCycle, Lang::Vi) => "Không thể chuyển một đơn vị vào bên trong chính nó.",
            (WouldCreateCycle, Lang::En) => "A unit cannot be moved inside its own subtree.",
            (InvalidEmail, Lang::Vi) => "Địa chỉ email không hợp lệ.",
            (InvalidEmail, Lang::En) => "Not a valid email address.",
            (WrongPassword, Lang::Vi) => "Mật khẩu hiện tại không đúng.",
            (WrongPassword, Lang::En) => "The current password is wrong.",
            (IsRoot, Lang::Vi) => "Không thể chuyển đơn vị gốc.",
            (IsRoot, Lang::En) => "The root unit cannot be moved.",
            (OnePerRequest, Lang::Vi) => "Mỗi yêu cầu chỉ được thực hiện một thao tác đăng nhập.",
            (OnePerRequest, Lang::En) => "Only one sign-in action is allowed per request.",
            (TooMany, Lang::Vi) => "Danh sách có quá nhiều mục.",
            (TooMany, Lang::En) => "The list has too many items.",
            (ExactlyOne, Lang::Vi) => "Cần cung cấp đúng một trong các tham số thay thế nhau.",
            (ExactlyOne, Lang::En) => "Give exactly one of the alternative arguments.",
            (MissingColumn, Lang::Vi) => "Tệp thiếu cột bắt buộc (họ và tên, số điện thoại, mã chi hội).",
            (MissingColumn, Lang::En) => "The file lacks a required column (full name, phone, branch code).",
            (Expired, Lang::Vi) => "Mã đã hết hạn. Hãy lấy mã mới trên ứng dụng.",
            (Expired, Lang::En) => "The code has expired. Get a fresh one in the app.",
            (OtherTraining, Lang::Vi) => "Mã này thuộc một lớp tập huấn khác.",
            (OtherTraining, Lang::En) => "This code belongs to another training.",
            (NotAChild, Lang::Vi) => "Đơn vị này không phải đơn vị trực thuộc trực tiếp.",
            (NotAChild, Lang::En) => "This unit is not a direct child of the unit.",
            (CriteriaNotMet, Lang::Vi) => "Chưa đạt đủ các tiêu chí để công nhận.",
            (CriteriaNotMet, Lang::En) => "Not every criterion is met, so it cannot be certified.",
            (InvalidCharacters, Lang::Vi) => {
                "Nội dung có ký tự không hợp lệ (ký tự điều khiển hoặc ký tự đảo chiều)."
            }
            (InvalidCharacters, Lang::En) => {
                "The text has characters that are not allowed (control or direction-changing characters)."
            }
            (WrongCode, Lang::Vi) => "Mã xác minh không đúng.",
            (WrongCode, Lang::En) => "The verification code is wrong.",
            (TooManyAttempts, Lang::Vi) => "Đã nhập sai quá nhiều lần. Hãy lấy mã mới.",
            (TooManyAttempts, Lang::En) => "Too many wrong codes. Ask for a new one.",
            (AlreadyUsed, Lang::Vi) => "Mã xác minh này đã được dùng.",
            (AlreadyUsed, Lang::En) => "This verification has been used already.",
            (NotYourNumber, Lang::Vi) => "Mã chỉ được gửi tới số điện thoại của tài khoản.",
            (NotYourNumber, Lang::En) => "The code can only go to the account's own number.",
            (SameNumber, Lang::Vi) => "Số mới trùng với số hiện tại.",
            (SameNumber, Lang::En) => "The new number is the current one.",
            (Outdated, Lang::Vi) => {
                "Văn bản này đã có phiên bản mới. Hãy đọc và đồng ý với phiên bản hiện hành."
            }
            (Outdated, Lang::En) => "There is a newer version of this text. Read and accept the current one.",
            (NotPublicTarget, Lang::Vi) => {
                "Địa chỉ nhận phải là https:// và trỏ tới địa chỉ công khai trên Internet."
            }
            (NotPublicTarget, Lang::En) => "The target must be https:// at a public internet address.",
            (ScopeNotGranted, Lang::Vi) => "Ứng dụng tích hợp không có phạm vi (scope) cần cho việc này.",
            (ScopeNotGranted, Lang::En) => "The integration client does not hold the scope this needs.",
            (FileTooLarge, Lang::Vi) => "Tệp lớn hơn mức cho phép.",
            (FileTooLarge, Lang::En) => "The file is larger than allowed.",
            (TooManyPixels, Lang::Vi) => "Ảnh có kích thước (số điểm ảnh) lớn hơn mức cho phép.",
            (TooManyPixels, Lang::En) => "The image has more pixels than allowed.",
            (UnsupportedType, Lang::Vi) => "Chỉ nhận ảnh JPEG, PNG hoặc WebP.",
            (UnsupportedType, Lang::En) => "Only JPEG, PNG or WebP images are accepted.",
            (Conflicting, Lang::Vi) => "Giá trị này không dùng được cùng các lựa chọn khác.",
            (Conflicting, Lang::En) => "This value cannot be used with the other choices sent.",
        }
    }

    /// The stable `extensions.reason` of a `BAD_USER_INPUT`.
    pub fn code(self) -> &'static str {
        use InputProblem::*;
        match self {
            Required => "REQUIRED",
            InvalidPhone => "INVALID_PHONE",
            InvalidName => "INVALID_NAME",
            WeakPassword => "WEAK_PASSWORD",
            TooLong => "TOO_LONG",
            TooShort => "TOO_SHORT",
            InvalidFormat => "INVALID_FORMAT",
            InvalidId => "INVALID_ID",
            OutOfRange => "OUT_OF_RANGE",
            InvalidKind => "INVALID_KIND",
            WouldCreateCycle => "WOULD_CREATE_CYCLE",
            InvalidEmail => "INVALID_EMAIL",
            WrongPassword => "WRONG_PASSWORD",
            IsRoot => "IS_ROOT",
            OnePerRequest => "ONE_PER_REQUEST",
            TooMany => "TOO_MANY",
            ExactlyOne => "EXACTLY_ONE",
            MissingColumn => "MISSING_COLUMN",
            Expired => "EXPIRED",
            OtherTraining => "OTHER_TRAINING",
            NotAChild => "NOT_A_CHILD",
            CriteriaNotMet => "CRITERIA_NOT_MET",
            InvalidCharacters => "INVALID_CHARACTERS",
            WrongCode => "WRONG_CODE",
            TooManyAttempts => "TOO_MANY_ATTEMPTS",
            AlreadyUsed => "ALREADY_USED",
            NotYourNumber => "NOT_YOUR_NUMBER",
            SameNumber => "SAME_NUMBER",
            Outdated => "OUTDATED",
            NotPublicTarget => "NOT_PUBLIC_TARGET",
            ScopeNotGranted => "SCOPE_NOT_GRANTED",
            FileTooLarge => "FILE_TOO_LARGE",
            TooManyPixels => "TOO_MANY_PIXELS",
            UnsupportedType => "UNSUPPORTED_TYPE",
            Conflicting => "CONFLICTING",
        }
    }
}

/// Why a request conflicts with the current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictKind {
    PhoneTaken,
    CodeTaken,
    RoleAlreadyHeld,
    AlreadyRevoked,
    AlreadyMember,
    RequestPending,
    AlreadyDecided,
    NotAMember,
    WrongStatus,
    /// The training's registration window has not opened yet.
    RegistrationNotOpen,
    /// The training's registration window has closed.
    RegistrationClosed,
    /// A training's capacity cannot go below its confirmed seats.
    CapacityBelowConfirmed,
    /// Only a confirmed registration can be checked in.
    NotConfirmed,
    /// The training has not started yet.
    NotStartedYet,
    /// A pledge for this person or household, campaign and year exists already.
    AlreadyPledged,
    /// An idempotency key (a request's, or a violence report's) was already used for a
    /// different request.
    IdempotencyKeyReused,
    /// A second factor is on already (replace it from a stepped-up session).
    AlreadyEnrolled,
    /// A consent the account cannot exist without (the privacy notice): delete the account
    /// instead.
    NeededForAccount,
    /// An integration client holds two live secrets already: revoke one first.
    TooManySecrets,
    /// The document is registered for the client already.
    DocumentKnown,
    /// An integration client has as many webhook subscriptions as allowed: delete one first.
    TooManyWebhooks,
    /// A request with this idempotency key is still running: send it again shortly
    /// (`extensions.retryAfter`).
    RequestInProgress,
    /// Closing a report of this unit needs a supervisor's approval: ask for it
    /// (`requestViolenceReportClosure`).
    ClosureApprovalRequired,
    /// A comment can be edited only for a while after it was written.
    EditWindowClosed,
    /// The caller flagged this comment or story already.
    AlreadyFlagged,
    /// A moderator muted the caller: she may read, react, flag and report, but not write
    /// comments or stories or upload photos until the date `myMutedUntil` gives.
    Muted,
    /// A decision can be appealed once.
    AlreadyAppealed,
    /// The unit above has set no rating criteria for the year: a rating cannot be submitted.
    NoCriteria,
    /// A unit below has submitted a rating against these criteria: they are fixed for the year.
    CriteriaInUse,
    /// The unit or person is proposed for (or has) this award for the year already.
    AlreadyNominated,
    /// The unit was merged into another (`OrgUnit.mergedInto`): its history is read, nothing
    /// new is done there.
    UnitMerged,
}

impl ConflictKind {
    /// The stable `extensions.reason` of a `CONFLICT`.
    pub fn code(self) -> &'static str {
        use ConflictKind::*;
        match self {
            PhoneTaken => "PHONE_TAKEN",
            CodeTaken => "CODE_TAKEN",
            RoleAlreadyHeld => "ROLE_ALREADY_HELD",
            AlreadyRevoked => "ALREADY_REVOKED",
            AlreadyMember => "ALREADY_MEMBER",
            RequestPending => "REQUEST_PENDING",
            AlreadyDecided => "ALREADY_DECIDED",
            ClosureApprovalRequired => "CLOSURE_APPROVAL_REQUIRED",
            EditWindowClosed => "EDIT_WINDOW_CLOSED",
            AlreadyFlagged => "ALREADY_FLAGGED",
            Muted => "MUTED",
            AlreadyAppealed => "ALREADY_APPEALED",
            NoCriteria => "NO_CRITERIA",
            CriteriaInUse => "CRITERIA_IN_USE",
            AlreadyNominated => "ALREADY_NOMINATED",
            UnitMerged => "UNIT_MERGED",
            NotAMember => "NOT_A_MEMBER",
            WrongStatus => "WRONG_STATUS",
            RegistrationNotOpen => "REGISTRATION_NOT_OPEN",
            RegistrationClosed => "REGISTRATION_CLOSED",
            CapacityBelowConfirmed => "CAPACITY_BELOW_CONFIRMED",
            NotConfirmed => "NOT_CONFIRMED",
            NotStartedYet => "NOT_STARTED_YET",
            AlreadyPledged => "ALREADY_PLEDGED",
            IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            NeededForAccount => "NEEDED_FOR_ACCOUNT",
            AlreadyEnrolled => "ALREADY_ENROLLED",
            TooManySecrets => "TOO_MANY_SECRETS",
            DocumentKnown => "DOCUMENT_KNOWN",
            TooManyWebhooks => "TOO_MANY_WEBHOOKS",
            RequestInProgress => "REQUEST_IN_PROGRESS",
        }
    }
}

/// Every error a client can receive.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("wrong credentials")]
    BadCredentials,
    #[error("forbidden")]
    Forbidden,
    /// A role she holds needs a second factor this session has not proved (`FORBIDDEN`,
    /// reason `MFA_REQUIRED`): enrol or step up.
    #[error("second factor required")]
    MfaRequired,
    /// A sensitive action needs a recent step-up in this session (`FORBIDDEN`, reason
    /// `STEP_UP_REQUIRED`).
    #[error("step-up required")]
    StepUpRequired,
    /// The password was right and the account has a second factor: send the code with it
    /// (`UNAUTHENTICATED`, reason `OTP_REQUIRED`).
    #[error("one-time code required")]
    OtpRequired,
    /// A client token without the scope the field needs (`FORBIDDEN`, reason `SCOPE_REQUIRED`,
    /// with `requiredScope`). Anything a client can never reach is plain `FORBIDDEN`.
    #[error("scope {} required", .0.as_str())]
    ScopeRequired(crate::integrations::Scope),
    /// A document sent by its id that is not known (send its text with the id, or register it).
    #[error("persisted query not found")]
    PersistedQueryNotFound,
    /// A document sent as text by a caller who may run only trusted documents.
    #[error("persisted query required")]
    PersistedQueryNotAllowed,
    #[error("not found")]
    NotFound,
    #[error("bad input in {field}: {problem:?}")]
    BadInput { field: &'static str, problem: InputProblem },
    #[error("conflict: {0:?}")]
    Conflict(ConflictKind),
    #[error("rate limited for {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    /// The database or the cache cannot serve the request right now (down, unreachable, out of
    /// connections or disk). Nothing was done; the same request may be sent again after
    /// `retry_after_secs` (HTTP 503).
    #[error("unavailable; retry in {retry_after_secs}s")]
    Unavailable { retry_after_secs: u64 },
    /// The detail is logged where the error is created and never shown.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn bad_input(field: &'static str, problem: InputProblem) -> Self {
        ApiError::BadInput { field, problem }
    }

    /// Logs `detail` (never shown to the client) and returns [`ApiError::Internal`].
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        ApiError::Internal
    }

    /// The stable `extensions.reason` of the errors that carry one besides `BAD_USER_INPUT` and
    /// `CONFLICT`.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            ApiError::MfaRequired => Some("MFA_REQUIRED"),
            ApiError::StepUpRequired => Some("STEP_UP_REQUIRED"),
            ApiError::OtpRequired => Some("OTP_REQUIRED"),
            ApiError::ScopeRequired(_) => Some("SCOPE_REQUIRED"),
            ApiError::BadInput { problem, .. } => Some(problem.code()),
            ApiError::Conflict(kind) => Some(kind.code()),
            _ => None,
        }
    }

    /// The scope a client token lacked (`extensions.requiredScope`).
    pub fn required_scope(&self) -> Option<&'static str> {
        match self {
            ApiError::ScopeRequired(scope) => Some(scope.as_str()),
            _ => None,
        }
    }

    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated | ApiError::BadCredentials | ApiError::OtpRequired => "UNAUTHENTICATED",
            ApiError::Forbidden
            | ApiError::MfaRequired
            | ApiError::StepUpRequired
            | ApiError::ScopeRequired(_) => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ApiError::PersistedQueryNotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
            ApiError::BadInput { .. } => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Unavailable { .. } => "UNAVAILABLE",
            ApiError::Internal => "INTERNAL",
        }
    }

    /// The message shown to the client, in its language.
    pub fn message(&self, lang: Lang) -> String {
        let vi = lang == Lang::Vi;
        let s = match self {
            ApiError::Unauthenticated if vi => {
                "Bạn cần đăng nhập (phiên đăng nhập không hợp lệ hoặc đã hết hạn)."
            }
            ApiError::Unauthenticated => "You need to sign in (the session is missing, invalid or expired).",
            ApiError::BadCredentials if vi => "Số điện thoại hoặc mật khẩu không đúng.",
            ApiError::BadCredentials => "Wrong phone number or password.",
            ApiError::Forbidden if vi => "Bạn không có quyền thực hiện thao tác này.",
            ApiError::Forbidden => "You are not allowed to do this.",
            ApiError::MfaRequired if vi => {
                "Vai trò của bạn cần xác thực hai lớp: hãy bật ứng dụng xác thực hoặc nhập mã của nó."
            }
            ApiError::MfaRequired => {
                "Your role needs two-step verification: set up an authenticator or enter its code."
            }
            ApiError::StepUpRequired if vi => "Thao tác này cần xác nhận lại: hãy nhập mã xác thực.",
            ApiError::StepUpRequired => {
                "This action needs you to confirm it again: enter a verification code."
            }
            ApiError::OtpRequired if vi => "Hãy nhập mã từ ứng dụng xác thực.",
            ApiError::OtpRequired => "Enter the code from your authenticator app.",
            ApiError::ScopeRequired(_) if vi => "Mã truy cập không có phạm vi (scope) cần cho trường này.",
            ApiError::ScopeRequired(_) => "The access token lacks the scope this field needs.",
            ApiError::PersistedQueryNotFound if vi => {
                "Không có truy vấn với mã này: hãy gửi kèm văn bản truy vấn, hoặc đăng ký nó."
            }
            ApiError::PersistedQueryNotFound => {
                "No document has this id: send its text with it, or register it."
            }
            ApiError::PersistedQueryNotAllowed if vi => {
                "Chỉ được gửi các truy vấn đã đăng ký, theo mã của chúng."
            }
            ApiError::PersistedQueryNotAllowed => "Only registered documents may run, sent by their id.",
            ApiError::NotFound if vi => "Không tìm thấy.",
            ApiError::NotFound => "Not found.",
            ApiError::BadInput { problem, .. } => problem.message(lang),
            ApiError::Conflict(kind) => conflict_message(*kind, lang),
            ApiError::RateLimited { retry_after_secs } => {
                return if vi {
                    format!("Bạn đã thử quá nhiều lần. Vui lòng thử lại sau {retry_after_secs} giây.")
                } else {
                    format!("Too many attempts. Try again in {retry_after_secs} seconds.")
                };
            }
            ApiError::Unavailable { retry_after_secs } => {
                return if vi {
                    format!("Hệ thống đang tạm gián đoạn. Vui lòng thử lại sau {retry_after_secs} giây.")
                } else {
                    format!("The service is briefly unavailable. Try again in {retry_after_secs} seconds.")
                };
            }
            ApiError::Internal if vi => "Đã có lỗi xảy ra. Vui lòng thử lại sau.",
            ApiError::Internal => "Something went wrong. Please try again later.",
        };
        s.to_owned()
    }
}

fn conflict_message(kind: ConflictKind, lang: Lang) -> &'static str {
    match (kind, lang) {
        (ConflictKind::PhoneTaken, Lang::Vi) => "Số điện thoại này đã được đăng ký.",
        (ConflictKind::PhoneTaken, Lang::En) => "This phone number is already registered.",
        (ConflictKind::CodeTaken, Lang::Vi) => "Mã đơn vị này đã được dùng.",
        (ConflictKind::CodeTaken, Lang::En) => "This unit code is already in use.",
        (ConflictKind::RoleAlreadyHeld, Lang::Vi) => "Người này đã giữ vai trò này tại đơn vị.",
        (ConflictKind::RoleAlreadyHeld, Lang::En) => "This person already holds this role at the unit.",
        (ConflictKind::AlreadyRevoked, Lang::Vi) => "Vai trò này đã bị thu hồi.",
        (ConflictKind::AlreadyRevoked, Lang::En) => "This role has already been revoked.",
        (ConflictKind::AlreadyMember, Lang::Vi) => "Người này đã là hội viên.",
        (ConflictKind::AlreadyMember, Lang::En) => "This person is already a member.",
        (ConflictKind::RequestPending, Lang::Vi) => "Đã có một đơn đang chờ duyệt.",
        (ConflictKind::RequestPending, Lang::En) => "There is already a request waiting for a decision.",
        (ConflictKind::ClosureApprovalRequired, Lang::Vi) => {
            "Đóng tin báo của đơn vị này cần cấp trên duyệt: hãy gửi đề nghị đóng."
        }
        (ConflictKind::ClosureApprovalRequired, Lang::En) => {
            "Closing a report of this unit needs a supervisor's approval: request the closure."
        }
        (ConflictKind::EditWindowClosed, Lang::Vi) => "Đã quá thời gian được sửa bình luận.",
        (ConflictKind::EditWindowClosed, Lang::En) => "The time to edit this comment has passed.",
        (ConflictKind::AlreadyFlagged, Lang::Vi) => "Bạn đã báo cáo nội dung này rồi.",
        (ConflictKind::AlreadyFlagged, Lang::En) => "You have flagged this already.",
        (ConflictKind::Muted, Lang::Vi) => "Bạn đang bị tạm dừng đăng bài và bình luận.",
        (ConflictKind::Muted, Lang::En) => "You may not post or comment for now.",
        (ConflictKind::AlreadyAppealed, Lang::Vi) => "Quyết định này đã được khiếu nại.",
        (ConflictKind::AlreadyAppealed, Lang::En) => "This decision was appealed already.",
        (ConflictKind::UnitMerged, Lang::Vi) => "Đơn vị này đã được sáp nhập vào đơn vị khác.",
        (ConflictKind::UnitMerged, Lang::En) => "This unit was merged into another.",
        (ConflictKind::AlreadyNominated, Lang::Vi) => "Đã có đề nghị khen thưởng này cho năm này.",
        (ConflictKind::AlreadyNominated, Lang::En) => {
            "This award has been proposed for them this year already."
        }
        (ConflictKind::NoCriteria, Lang::Vi) => "Cấp trên chưa ban hành tiêu chí xếp loại cho năm này.",
        (ConflictKind::NoCriteria, Lang::En) => "The level above has set no rating criteria for this year.",
        (ConflictKind::CriteriaInUse, Lang::Vi) => {
            "Đã có đơn vị nộp bản tự đánh giá theo các tiêu chí này: không thể thay đổi."
        }
        (ConflictKind::CriteriaInUse, Lang::En) => {
            "A unit has submitted a rating against these criteria: they can no longer change."
        }
        (ConflictKind::AlreadyDecided, Lang::Vi) => "Đơn này đã được xử lý.",
        (ConflictKind::AlreadyDecided, Lang::En) => "This request has already been decided.",
        (ConflictKind::NotAMember, Lang::Vi) => "Bạn chưa là hội viên đang sinh hoạt.",
        (ConflictKind::NotAMember, Lang::En) => "There is no active membership for this.",
        (ConflictKind::WrongStatus, Lang::Vi) => "Trạng thái hiện tại không cho phép thao tác này.",
        (ConflictKind::WrongStatus, Lang::En) => "The current status does not allow this.",
        (ConflictKind::RegistrationNotOpen, Lang::Vi) => "Chưa đến thời gian đăng ký.",
        (ConflictKind::RegistrationNotOpen, Lang::En) => "Registration has not opened yet.",
        (ConflictKind::RegistrationClosed, Lang::Vi) => "Đã hết thời gian đăng ký.",
        (ConflictKind::RegistrationClosed, Lang::En) => "Registration has closed.",
        (ConflictKind::CapacityBelowConfirmed, Lang::Vi) => {
            "Số chỗ không thể ít hơn số người đã được xác nhận."
        }
        (ConflictKind::CapacityBelowConfirmed, Lang::En) => {
            "The capacity cannot be lower than the number of confirmed seats."
        }
        (ConflictKind::NotConfirmed, Lang::Vi) => "Người này chưa có chỗ chính thức (đang chờ hoặc đã hủy).",
        (ConflictKind::NotConfirmed, Lang::En) => {
            "This person has no confirmed seat (waitlisted or cancelled)."
        }
        (ConflictKind::NotStartedYet, Lang::Vi) => "Lớp tập huấn chưa bắt đầu.",
        (ConflictKind::NotStartedYet, Lang::En) => "The training has not started yet.",
        (ConflictKind::AlreadyPledged, Lang::Vi) => "Đã có đăng ký cam kết cho năm này.",
        (ConflictKind::AlreadyPledged, Lang::En) => "There is already a pledge for this year.",
        (ConflictKind::IdempotencyKeyReused, Lang::Vi) => {
            "Khoá gửi lại này đã được dùng cho một yêu cầu khác. Hãy dùng khoá mới cho yêu cầu mới."
        }
        (ConflictKind::IdempotencyKeyReused, Lang::En) => {
            "This idempotency key was already used for a different request. Use a new key for a new request."
        }
        (ConflictKind::AlreadyEnrolled, Lang::Vi) => {
            "Xác thực hai lớp đã được bật. Để thay thiết bị, hãy xác nhận lại trước."
        }
        (ConflictKind::AlreadyEnrolled, Lang::En) => {
            "Two-step verification is on already. To move it to a new device, confirm it is you first."
        }
        (ConflictKind::NeededForAccount, Lang::Vi) => {
            "Tài khoản không thể tồn tại nếu thiếu đồng ý này. Để rút lại, hãy xoá tài khoản."
        }
        (ConflictKind::NeededForAccount, Lang::En) => {
            "The account cannot exist without this consent. To withdraw it, delete the account."
        }
        (ConflictKind::TooManySecrets, Lang::Vi) => {
            "Ứng dụng tích hợp đã có hai khoá bí mật đang dùng. Hãy thu hồi một khoá trước."
        }
        (ConflictKind::TooManySecrets, Lang::En) => {
            "The client holds two live secrets already. Revoke one first."
        }
        (ConflictKind::DocumentKnown, Lang::Vi) => "Văn bản truy vấn này đã được đăng ký cho ứng dụng.",
        (ConflictKind::DocumentKnown, Lang::En) => "This document is registered for the client already.",
        (ConflictKind::TooManyWebhooks, Lang::Vi) => {
            "Ứng dụng tích hợp đã có đủ số đăng ký webhook cho phép. Hãy xoá một đăng ký trước."
        }
        (ConflictKind::TooManyWebhooks, Lang::En) => {
            "The client has as many webhook subscriptions as allowed. Delete one first."
        }
        (ConflictKind::RequestInProgress, Lang::Vi) => {
            "Yêu cầu với khoá này vẫn đang được xử lý. Hãy gửi lại sau giây lát."
        }
        (ConflictKind::RequestInProgress, Lang::En) => {
            "A request with this key is still being processed. Send it again in a moment."
        }
    }
}

/// How long a client should wait before retrying after the database failed.
const DB_RETRY_AFTER_SECS: u64 = 5;

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            ApiError::Unavailable { retry_after_secs: DB_RETRY_AFTER_SECS }
        } else {
            ApiError::internal(err)
        }
    }
}

/// True when the database failed for a reason of its own, not of the statement: no connection
/// (down, unreachable, pool exhausted), shut down or restarting, out of disk or memory,
/// read-only, busy. The same request can succeed later, so the client is told to retry.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error as Sqlx};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => {
            let Some(code) = db.code() else { return false };
            if db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
                // SQLite's extended result codes; the primary code is the low byte: BUSY 5,
                // LOCKED 6, READONLY 8, IOERR 10, FULL 13, CANTOPEN 14.
                code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
            } else {
                // PostgreSQL SQLSTATEs: connection exceptions (08), insufficient resources such
                // as a full disk (53), operator intervention such as a shutdown (57P) or a
                // statement over `statement_timeout` (57014), a read-only transaction (25006),
                // a transaction that lost a race (deadlock 40P01, serialization 40001): the
                // same request sent again succeeds.
                code.starts_with("08")
                    || code == "40P01"
                    || code == "40001"
                    || code.starts_with("53")
                    || code.starts_with("57P")
                    || code == "57014"
                    || code == "25006"
            }
        }
        _ => false,
    }
}

/// True when the database refused a write because of a unique constraint.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_english_only_when_asked() {
        assert_eq!(Lang::from_accept_language(None), Lang::Vi);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("vi-VN,en;q=0.5")), Lang::Vi);
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Vi);
    }
}
