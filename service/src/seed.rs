//! Demo data for development: the city union, a few real districts and their real wards,
//! generated branches and groups, and one account per role. Loaded once (keyed on the city's
//! code, inside one transaction), so a restart neither duplicates nor loses anything.

use chrono::Utc;
use entities::{officer_role, org_unit, person};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use uuid::Uuid;

mod content;
mod ratings;

pub use content::load_demo_content;

use crate::{
    auth,
    authz::Role,
    domain::{PersonName, PhoneNumber},
    error::{ApiError, ConflictKind},
    state::AppState,
    {
        identity::new_account,
        org::{UnitKind, insert_unit},
    },
};

/// The city's code: its presence means the demo data is loaded.
const CITY_CODE: &str = "HN";

/// Shared by every demo account; printed at start-up. Development only.
pub const DEMO_PASSWORD: &str = "phunu-demo-2026";

/// One demo account, as printed at start-up.
pub struct DemoAccount {
    pub phone: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    pub unit_code: Option<&'static str>,
}

/// (phone, full name, role, unit code): one account per role.
pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        phone: "+84900000001", name: "Quản Trị Hệ Thống", role: "SYSTEM_ADMIN", unit_code: None
    },
    DemoAccount {
        phone: "+84900000002",
        name: "Nguyễn Thị Quản Trị",
        role: "UNIT_ADMIN",
        unit_code: Some("HN"),
    },
    DemoAccount {
        phone: "+84900000003",
        name: "Trần Thị Cán Bộ",
        role: "UNIT_OFFICER",
        unit_code: Some("HN-LB"),
    },
    DemoAccount {
        phone: "+84900000004",
        name: "Lê Thị Hỗ Trợ",
        role: "CASE_OFFICER",
        unit_code: Some("HN-LB-BD"),
    },
    DemoAccount {
        phone: "+84900000005",
        name: "Phạm Thị Chi Hội",
        role: "BRANCH_LEADER",
        unit_code: Some("HN-LB-BD-01"),
    },
    DemoAccount { phone: "+84900000006", name: "Hoàng Thị Hội Viên", role: "MEMBER", unit_code: None },
    // Above the ward's case officer: where an unacknowledged report escalates.
    DemoAccount {
        phone: "+84900000008",
        name: "Vũ Thị Bảo Vệ",
        role: "CASE_OFFICER",
        unit_code: Some("HN-LB"),
    },
    // The ward's officer: she writes Bồ Đề's yearly rating, which Long Biên confirms.
    DemoAccount {
        phone: "+84900000009",
        name: "Ngô Thị Phường",
        role: "UNIT_OFFICER",
        unit_code: Some("HN-LB-BD"),
    },
    // A member of a branch when the demo content is loaded (`APP_SEED_DEMO_CONTENT`).
    DemoAccount {
        phone: content::MEMBER_PHONE,
        name: "Đỗ Thị Thu Hà",
        role: "MEMBER",
        unit_code: Some(content::MEMBER_BRANCH),
    },
];

/// (code, district name, [(code, ward name)]).
type District = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

const DISTRICTS: &[District] = &[
    (
        "HK",
        "Quận Hoàn Kiếm",
        &[
            ("HB", "Phường Hàng Bạc"),
            ("HT", "Phường Hàng Trống"),
            ("TT", "Phường Tràng Tiền"),
            ("PT", "Phường Phúc Tân"),
        ],
    ),
    (
        "BD",
        "Quận Ba Đình",
        &[
            ("DB", "Phường Điện Biên"),
            ("KM", "Phường Kim Mã"),
            ("NH", "Phường Ngọc Hà"),
            ("QT", "Phường Quán Thánh"),
        ],
    ),
    (
        "DD",
        "Quận Đống Đa",
        &[
            ("VM", "Phường Văn Miếu"),
            ("QTG", "Phường Quốc Tử Giám"),
            ("LH", "Phường Láng Hạ"),
            ("KT", "Phường Khâm Thiên"),
        ],
    ),
    (
        "LB",
        "Quận Long Biên",
        &[
            ("BD", "Phường Bồ Đề"),
            ("GT", "Phường Gia Thụy"),
            ("NL", "Phường Ngọc Lâm"),
            ("DG", "Phường Đức Giang"),
            ("PD", "Phường Phúc Đồng"),
        ],
    ),
    (
        "CG",
        "Quận Cầu Giấy",
        &[
            ("DV", "Phường Dịch Vọng"),
            ("ND", "Phường Nghĩa Đô"),
            ("QH", "Phường Quan Hoa"),
            ("YH", "Phường Yên Hòa"),
        ],
    ),
    (
        "TTR",
        "Huyện Thanh Trì",
        &[
            ("VD", "Thị trấn Văn Điển"),
            ("TTO", "Xã Tả Thanh Oai"),
            ("THI", "Xã Tam Hiệp"),
            ("VQ", "Xã Vĩnh Quỳnh"),
        ],
    ),
];

const BRANCHES_PER_WARD: usize = 4;

/// Loads the demo data unless it is already there. Returns whether it was loaded now.
pub async fn load_demo_data(state: &AppState) -> Result<bool, ApiError> {
    let exists =
        org_unit::Entity::find().filter(org_unit::Column::Code.eq(CITY_CODE)).one(&state.db).await?.is_some();
    if exists {
        return Ok(false);
    }
    // Hash before the transaction: SQLite has a single connection and hashing takes a while.
    let hash = auth::hash_password(DEMO_PASSWORD.to_owned()).await?;
    let txn = state.db.begin().await?;
    let city = match insert_unit(&txn, None, UnitKind::City, CITY_CODE, "Hội LHPN Thành phố Hà Nội").await
    {
        // Another instance starting at the same moment loaded it first.
        Err(ApiError::Conflict(ConflictKind::CodeTaken)) => return Ok(false),
        other => other?,
    };
    let mut units = vec![city.clone()];
    for (dcode, dname, wards) in DISTRICTS {
        let district =
            insert_unit(&txn, Some(&city), UnitKind::District, &format!("HN-{dcode}"), dname).await?;
        for (wcode, wname) in *wards {
            let ward_code = format!("HN-{dcode}-{wcode}");
            let ward = insert_unit(&txn, Some(&district), UnitKind::Base, &ward_code, wname).await?;
            let ward_short = wname.split_once(' ').map_or(*wname, |(_, rest)| rest);
            let ward_short = ward_short.strip_prefix("trấn ").unwrap_or(ward_short);
            for n in 1..=BRANCHES_PER_WARD {
                let branch_name = format!("Chi hội Tổ dân phố số {n} – {ward_short}");
                let branch = insert_unit(
                    &txn,
                    Some(&ward),
                    UnitKind::Branch,
                    &format!("{ward_code}-{n:02}"),
                    &branch_name,
                )
                .await?;
                if n == 1 {
                    insert_unit(
                        &txn,
                        Some(&branch),
                        UnitKind::Group,
                        &format!("{ward_code}-{n:02}-T1"),
                        &format!("Tổ phụ nữ số 1 – {ward_short}"),
                    )
                    .await?;
                }
                units.push(branch);
            }
            units.push(ward);
        }
        units.push(district);
    }

    let now = Utc::now();
    for account in DEMO_ACCOUNTS {
        let phone = PhoneNumber::parse(account.phone, "phone")?;
        let name = PersonName::parse(account.name, "full_name")?;
        let person = person::ActiveModel {
            is_system_admin: Set(account.role == "SYSTEM_ADMIN"),
            gender: Set(Some(entities::person::Gender::Female)),
            // The demo numbers stand for phones that proved themselves.
            phone_verified_at: Set(Some(now)),
            ..new_account(&phone, &name, hash.clone(), now)
        }
        .insert(&txn)
        .await?;
        let (Some(role), Some(code)) = (Role::parse(account.role), account.unit_code) else { continue };
        let Some(unit) = units.iter().find(|u| u.code == code) else { continue };
        officer_role::ActiveModel {
            id: Set(Uuid::now_v7()),
            person_id: Set(person.id),
            unit_id: Set(unit.id),
            role: Set(role),
            granted_by: Set(None),
            granted_at: Set(now),
            revoked_by: Set(None),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// The demo accounts in the database that still sign in with the public demo password (their
/// phone numbers): production refuses to start while there is one.
pub async fn demo_accounts_present(state: &AppState) -> Result<Vec<&'static str>, ApiError> {
    Ok(demo_accounts_with_public_password(state).await?.into_iter().map(|(phone, _)| phone).collect())
}

async fn demo_accounts_with_public_password(
    state: &AppState,
) -> Result<Vec<(&'static str, person::Model)>, ApiError> {
    let rows = person::Entity::find()
        .filter(person::Column::Phone.is_in(DEMO_ACCOUNTS.iter().map(|a| a.phone)))
        .filter(person::Column::PasswordHash.is_not_null())
        .all(&state.db)
        .await?;
    let mut found = Vec::new();
    for row in rows {
        let Some(account) = DEMO_ACCOUNTS.iter().find(|a| a.phone == row.phone) else { continue };
        if auth::verify_password(DEMO_PASSWORD.to_owned(), row.password_hash.clone()).await? {
            found.push((account.phone, row));
        }
    }
    Ok(found)
}

/// Deletes the demo accounts that still have the public demo password, as a person deletes her
/// account (`identity::erasure`): their sessions end, their roles end, and what they did stays
/// anonymous. The demo units and content stay (rename or move them through the API). Answers
/// the phone numbers removed. (`api remove-demo-accounts`.)
pub async fn remove_demo_accounts(state: &AppState) -> Result<Vec<&'static str>, ApiError> {
    let mut removed = Vec::new();
    for (phone, person) in demo_accounts_with_public_password(state).await? {
        crate::identity::erasure::erase(state, person).await?;
        removed.push(phone);
    }
    Ok(removed)
}
