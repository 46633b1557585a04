//! Demo content on top of the demo tree and accounts, so the member app has something to show:
//! a member of branch HN-LB-BD-01, the city's emulation movement and its two campaigns (with the
//! "5 no's and 3 cleans" criteria), news posts at several levels (one in another district, which
//! she must not see), upcoming trainings, this year's household-certification targets of the
//! city, split among the districts and, for Long Biên, among its wards, and the ratings and
//! awards of [`super::ratings`].
//!
//! Loaded once, in one transaction, keyed on the demo member's membership; development only
//! (`APP_SEED_DEMO_CONTENT`, on by default wherever the demo data is).

use chrono::{Datelike, Duration, NaiveDate, Utc};
use entities::ids::{CampaignId, TrainingId, UnitId};
use entities::{campaign, campaign_criterion, membership, org_unit, person, post, target, training};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use uuid::Uuid;

use crate::{
    campaigns::{
        campaign::{BodyFormat, CampaignKind, CampaignStatus},
        news::PostStatus,
    },
    domain::fold_for_search,
    error::ApiError,
    membership::{EventKind, activate},
    state::AppState,
    trainings::{Audience, Category, TrainingStatus},
};

/// The computed indicator "households certified" (a fixed id, see the targets migration).
const HOUSEHOLDS_CERTIFIED: Uuid = Uuid::from_u128(3);

/// The demo member (also listed in `DEMO_ACCOUNTS`).
pub const MEMBER_PHONE: &str = "+84900000007";
/// Her branch.
pub const MEMBER_BRANCH: &str = "HN-LB-BD-01";

/// The 5 "no's" and 3 "cleans" of the campaign "Xây dựng gia đình 5 không, 3 sạch".
const FIVE_NO_THREE_CLEAN: [&str; 8] = [
    "Không đói nghèo",
    "Không vi phạm pháp luật và tệ nạn xã hội",
    "Không có bạo lực gia đình",
    "Không sinh con thứ ba trở lên",
    "Không có trẻ suy dinh dưỡng và bỏ học",
    "Sạch nhà",
    "Sạch bếp",
    "Sạch ngõ",
];

/// Loads the demo content unless it is there already. Returns whether it was loaded now.
pub async fn load_demo_content(state: &AppState) -> Result<bool, ApiError> {
    let db = &state.db;
    let Some(member) = person::Entity::find().filter(person::Column::Phone.eq(MEMBER_PHONE)).one(db).await?
    else {
        return Ok(false);
    };
    if membership::Entity::find().filter(membership::Column::PersonId.eq(member.id)).one(db).await?.is_some()
    {
        return Ok(false);
    }
    let unit = |code: &'static str| async move {
        org_unit::Entity::find()
            .filter(org_unit::Column::Code.eq(code))
            .one(db)
            .await?
            .ok_or_else(|| ApiError::internal(format_args!("demo unit {code} is missing")))
    };
    let (city, lb, bd, branch, hk) = (
        unit("HN").await?,
        unit("HN-LB").await?,
        unit("HN-LB-BD").await?,
        unit(MEMBER_BRANCH).await?,
        unit("HN-HK").await?,
    );
    let account = |phone: &'static str| async move {
        person::Entity::find()
            .filter(person::Column::Phone.eq(phone))
            .one(db)
            .await?
            .ok_or_else(|| ApiError::internal(format_args!("demo account {phone} is missing")))
    };
    let author = account("+84900000002").await?;
    let officers = super::ratings::Officers {
        district: account("+84900000003").await?.id,
        ward: account("+84900000009").await?.id,
        city: author.id,
        leader: account("+84900000005").await?.id,
        member: member.id,
    };
    let now = Utc::now();
    let year = crate::domain::hanoi_day(now).year();
    let term = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();

    let txn = db.begin().await?;
    activate(&txn, &member, branch.id, None, EventKind::Enrolled, None).await.map(|_| ())?;

    let new_campaign = |kind: CampaignKind, title: &str, summary: &str, body: &str, minutes_ago: i64| {
        let at = now - Duration::minutes(minutes_ago);
        campaign::ActiveModel {
            id: Set(CampaignId::new()),
            unit_id: Set(city.id),
            kind: Set(kind),
            title_search: Set(fold_for_search(title)),
            title: Set(title.to_owned()),
            summary: Set(summary.to_owned()),
            body: Set(body.to_owned()),
            body_format: Set(BodyFormat::Markdown),
            cover_image_url: Set(None),
            term_start: Set(term(2021, 1, 1)),
            // The 2021–2026 term, stretched to this year so the demo stays pledgeable.
            term_end: Set(term(year.max(2026), 12, 31)),
            status: Set(CampaignStatus::Active),
            created_by: Set(author.id),
            launched_at: Set(Some(at)),
            ended_at: Set(None),
            listed_at: Set(at),
            created_at: Set(at),
            updated_at: Set(at),
        }
    };
    new_campaign(
        CampaignKind::EmulationMovement,
        "Xây dựng người phụ nữ Thủ đô “Trung thành – Sáng tạo – Đảm đang – Thanh lịch”",
        "Phong trào thi đua của Hội LHPN Hà Nội nhiệm kỳ 2021–2026.",
        "Mỗi hội viên **học tập, lao động sáng tạo**, xây dựng gia đình hạnh phúc và góp phần xây dựng Thủ đô văn hiến, văn minh, hiện đại.",
        30,
    )
    .insert(&txn)
    .await?;
    let five_no = new_campaign(
        CampaignKind::Campaign,
        "Xây dựng gia đình 5 không, 3 sạch",
        "Cuộc vận động gắn với xây dựng nông thôn mới và đô thị văn minh.",
        "Hộ gia đình đăng ký thực hiện đủ **5 không** và **3 sạch**; chi hội xét công nhận hằng năm.",
        20,
    )
    .insert(&txn)
    .await?;
    for (i, text) in FIVE_NO_THREE_CLEAN.iter().enumerate() {
        campaign_criterion::ActiveModel {
            id: Set(Uuid::now_v7()),
            campaign_id: Set(five_no.id),
            position: Set(i as i32 + 1),
            text: Set((*text).to_owned()),
        }
        .insert(&txn)
        .await?;
    }
    new_campaign(
        CampaignKind::Campaign,
        "Phụ nữ Thủ đô ứng xử đẹp",
        "Ứng xử văn minh, thanh lịch trong gia đình, nơi làm việc và nơi công cộng.",
        "Thực hiện Bộ Quy tắc ứng xử nơi công cộng của Thành phố; nêu gương trong gia đình và cộng đồng.",
        10,
    )
    .insert(&txn)
    .await?;

    let posts: [(&org_unit::Model, Option<CampaignId>, &str, &str); 4] = [
        (
            &city,
            Some(five_no.id),
            "Phát động cuộc vận động “Xây dựng gia đình 5 không, 3 sạch” năm nay",
            "Các chi hội tổ chức cho hội viên đăng ký và xét công nhận hộ đạt chuẩn cuối năm.",
        ),
        (&lb, None, "Long Biên: tập huấn kỹ năng số cho hội viên", "Đăng ký qua ứng dụng, mục Tập huấn."),
        (&bd, None, "Phường Bồ Đề ra mắt mô hình “Địa chỉ tin cậy”", "Nơi hỗ trợ phụ nữ và trẻ em khi cần."),
        (
            &hk,
            None,
            "Hoàn Kiếm: ngày hội phụ nữ khởi nghiệp",
            "Gian hàng sản phẩm của hội viên quận Hoàn Kiếm.",
        ),
    ];
    for (i, (unit, campaign_id, title, body)) in posts.into_iter().enumerate() {
        let at = now - Duration::hours(24 - i as i64);
        post::ActiveModel {
            id: Set(Uuid::now_v7()),
            unit_id: Set(unit.id),
            campaign_id: Set(campaign_id),
            title: Set(title.to_owned()),
            body: Set(body.to_owned()),
            cover_image_url: Set(None),
            status: Set(PostStatus::Published),
            published_at: Set(at),
            unpublished_at: Set(None),
            created_by: Set(author.id),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await?;
    }

    // (unit, title, category, days from now, seats, place, online link)
    type DemoTraining<'a> =
        (&'a org_unit::Model, &'a str, Category, i64, Option<i32>, Option<&'a str>, Option<&'a str>);
    let trainings: [DemoTraining; 3] = [
        (
            &bd,
            "Kỹ năng số cơ bản cho hội viên",
            Category::DigitalSkills,
            7,
            Some(30),
            Some("Nhà văn hoá phường Bồ Đề"),
            None,
        ),
        (
            &lb,
            "Khởi nghiệp với sản phẩm OCOP",
            Category::Entrepreneurship,
            14,
            Some(50),
            Some("Trung tâm Văn hoá quận Long Biên"),
            None,
        ),
        (
            &city,
            "Pháp luật về phòng, chống bạo lực gia đình",
            Category::Legal,
            21,
            None,
            None,
            Some("https://meet.example.vn/pcbldg"),
        ),
    ];
    for (unit, title, category, days, capacity, place, online) in trainings {
        let starts = now + Duration::days(days);
        training::ActiveModel {
            id: Set(TrainingId::new()),
            unit_id: Set(unit.id),
            title_search: Set(fold_for_search(title)),
            title: Set(title.to_owned()),
            description: Set("Mang theo giấy tờ tùy thân.".to_owned()),
            category: Set(category),
            starts_at: Set(starts),
            ends_at: Set(starts + Duration::hours(3)),
            place: Set(place.map(str::to_owned)),
            online_url: Set(online.map(str::to_owned)),
            capacity: Set(capacity),
            registration_opens_at: Set(None),
            registration_closes_at: Set(None),
            audience: Set(Audience::Members),
            status: Set(TrainingStatus::Published),
            confirmed_count: Set(0),
            waitlist_count: Set(0),
            next_queue_no: Set(1),
            cancel_reason: Set(None),
            created_by: Set(author.id),
            published_at: Set(Some(now)),
            cancelled_at: Set(None),
            completed_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }

    // This year's households to certify: the city's figure, each district's share, and Long
    // Biên's split among its wards.
    let set = |unit_id: UnitId, value: f64, assigned: bool| target::ActiveModel {
        id: Set(Uuid::now_v7()),
        indicator_id: Set(HOUSEHOLDS_CERTIFIED),
        unit_id: Set(unit_id),
        from_year: Set(year),
        to_year: Set(year),
        value: Set(value),
        assigned_by_parent: Set(assigned),
        set_by: Set(author.id),
        set_at: Set(now),
    };
    set(city.id, 1200.0, false).insert(&txn).await?;
    let children_of =
        |parent: UnitId| org_unit::Entity::find().filter(org_unit::Column::ParentId.eq(parent)).all(&txn);
    for district in children_of(city.id).await? {
        set(district.id, 200.0, true).insert(&txn).await?;
    }
    for ward in children_of(lb.id).await? {
        set(ward.id, 40.0, true).insert(&txn).await?;
    }
    super::ratings::load(&txn, &lb, year, &officers, now).await?;
    super::ratings::load_awards(&txn, &city, &lb, year, &officers, now).await?;
    txn.commit().await?;
    Ok(true)
}
