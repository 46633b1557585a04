//! Vietnamese labels of the stored values exports show.

use entities::{
    membership::MemberStatus,
    membership_request::{RequestKind, RequestStatus},
    org_unit::UnitKind,
    pledge::{PledgeKind, PledgeStatus},
    training_registration::RegistrationStatus,
};

pub fn member_status(s: MemberStatus) -> &'static str {
    match s {
        MemberStatus::Active => "Đang sinh hoạt",
        MemberStatus::Suspended => "Tạm ngừng sinh hoạt",
        MemberStatus::Left => "Đã ra khỏi hội",
    }
}

pub fn request_status(s: RequestStatus) -> &'static str {
    match s {
        RequestStatus::Pending => "Chờ duyệt",
        RequestStatus::Approved => "Đã duyệt",
        RequestStatus::Rejected => "Từ chối",
        RequestStatus::Cancelled => "Đã huỷ",
    }
}

pub fn request_kind(k: RequestKind) -> &'static str {
    match k {
        RequestKind::Join => "Gia nhập",
        RequestKind::Transfer => "Chuyển sinh hoạt",
    }
}

pub fn pledge_status(s: PledgeStatus) -> &'static str {
    match s {
        PledgeStatus::Submitted => "Chờ xét duyệt",
        PledgeStatus::Certified => "Đã công nhận",
        PledgeStatus::Returned => "Trả lại để bổ sung",
    }
}

pub fn pledge_kind(k: PledgeKind) -> &'static str {
    match k {
        PledgeKind::Personal => "Cá nhân",
        PledgeKind::Household => "Hộ gia đình",
    }
}

pub fn registration_status(s: RegistrationStatus) -> &'static str {
    match s {
        RegistrationStatus::Confirmed => "Đã có chỗ",
        RegistrationStatus::Waitlisted => "Danh sách chờ",
        RegistrationStatus::Cancelled => "Đã huỷ",
        RegistrationStatus::Attended => "Có mặt",
        RegistrationStatus::NoShow => "Vắng mặt",
    }
}

pub fn unit_kind(k: UnitKind) -> &'static str {
    match k {
        UnitKind::City => "Thành phố",
        UnitKind::District => "Quận/huyện",
        UnitKind::Base => "Cơ sở",
        UnitKind::Branch => "Chi hội",
        UnitKind::Group => "Tổ phụ nữ",
    }
}
