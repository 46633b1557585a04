//! Demo ratings and awards: last year's ratings, confirmed, for Long Biên's wards and Bồ Đề's
//! branches, against the criteria their parents set; this year's criteria for the wards (so Bồ
//! Đề's officer can write this year's); the target "90% of bases rated good or better" for Long
//! Biên, last year and this year; the city's and Long Biên's kinds of award, last year's awards
//! (the city's Bằng khen to Bồ Đề, Long Biên's Giấy khen to branch 01, its leader and the demo
//! member) and a nomination waiting. Part of the demo content's transaction.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entities::award_kind::{self, Recipients};
use entities::award_nomination::{self as nomination, NominationStatus};
use entities::ids::{PersonId, UnitId};
use entities::org_unit::{self, UnitKind};
use entities::unit_rating::{RatingLevel, RatingStatus};
use entities::{rating_criterion, target, unit_rating, unit_rating_score};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::campaigns::targets::BASES_RATED_GOOD;
use crate::error::ApiError;

/// What a district asks of its wards (and a ward of its branches): title, most points.
const CRITERIA: [(&str, i32); 4] = [
    ("Công tác tuyên truyền, giáo dục hội viên, phụ nữ", 25),
    ("Phát triển và quản lý hội viên", 25),
    ("Thực hiện phong trào thi đua và các cuộc vận động", 30),
    ("Công tác tổ chức, xây dựng Hội vững mạnh", 20),
];

/// Last year's confirmed ratings of Long Biên's wards, by ward code (four of five good or
/// better).
const WARDS: [(&str, RatingLevel); 5] = [
    ("HN-LB-BD", RatingLevel::Excellent),
    ("HN-LB-GT", RatingLevel::Good),
    ("HN-LB-NL", RatingLevel::Good),
    ("HN-LB-DG", RatingLevel::Fair),
    ("HN-LB-PD", RatingLevel::Good),
];

/// Last year's confirmed ratings of Bồ Đề's branches.
const BRANCHES: [(&str, RatingLevel); 4] = [
    ("HN-LB-BD-01", RatingLevel::Excellent),
    ("HN-LB-BD-02", RatingLevel::Good),
    ("HN-LB-BD-03", RatingLevel::Good),
    ("HN-LB-BD-04", RatingLevel::Fair),
];

/// Who acted in the demo ratings and awards.
pub(super) struct Officers {
    /// Long Biên's officer: sets the wards' criteria, confirms their ratings.
    pub district: PersonId,
    /// Bồ Đề's officer: writes its rating and its branches'.
    pub ward: PersonId,
    /// The city's admin: confirms what the district officer wrote.
    pub city: PersonId,
    /// Branch 01's leader and the demo member: commended.
    pub leader: PersonId,
    pub member: PersonId,
}

/// Points out of `max` that go with `level`.
fn points(level: RatingLevel, max: i32) -> i32 {
    let share = match level {
        RatingLevel::Excellent => 95,
        RatingLevel::Good => 85,
        RatingLevel::Fair => 70,
        RatingLevel::Weak => 45,
    };
    max * share / 100
}

async fn criteria(
    conn: &impl ConnectionTrait,
    unit: UnitId,
    year: i32,
    by: PersonId,
    at: DateTime<Utc>,
) -> Result<Vec<rating_criterion::Model>, ApiError> {
    let mut out = Vec::new();
    for (position, (title, max)) in CRITERIA.iter().enumerate() {
        let row = rating_criterion::ActiveModel {
            id: Set(Uuid::now_v7()),
            unit_id: Set(unit),
            year: Set(year),
            position: Set(position as i32),
            title: Set((*title).to_owned()),
            description: Set(None),
            max_score: Set(*max),
            created_by: Set(by),
            created_at: Set(at),
        }
        .insert(conn)
        .await?;
        out.push(row);
    }
    Ok(out)
}

/// A confirmed rating of `unit` for `year`, with points on every criterion.
#[allow(clippy::too_many_arguments)]
async fn confirmed(
    conn: &impl ConnectionTrait,
    unit: &org_unit::Model,
    year: i32,
    level: RatingLevel,
    criteria: &[rating_criterion::Model],
    submitted_by: PersonId,
    confirmed_by: PersonId,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let id = Uuid::now_v7();
    unit_rating::ActiveModel {
        id: Set(id),
        unit_id: Set(unit.id),
        unit_kind: Set(unit.kind),
        criteria_unit_id: Set(criteria.first().map_or(unit.id, |c| c.unit_id)),
        year: Set(year),
        status: Set(RatingStatus::Confirmed),
        proposed: Set(Some(level)),
        self_assessment: Set(Some(format!("{} hoàn thành các chỉ tiêu năm {year}.", unit.name))),
        rating: Set(Some(level)),
        change_reason: Set(None),
        return_reason: Set(None),
        created_by: Set(submitted_by),
        created_at: Set(at),
        updated_at: Set(at + Duration::days(10)),
        submitted_by: Set(Some(submitted_by)),
        submitted_at: Set(Some(at)),
        confirmed_by: Set(Some(confirmed_by)),
        confirmed_at: Set(Some(at + Duration::days(10))),
    }
    .insert(conn)
    .await?;
    for c in criteria {
        unit_rating_score::ActiveModel {
            rating_id: Set(id),
            criterion_id: Set(c.id),
            score: Set(points(level, c.max_score)),
            evidence: Set(Some("Báo cáo tổng kết năm".to_owned())),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// Loads the demo ratings for `year` (this year) and the year before.
pub(super) async fn load(
    conn: &impl ConnectionTrait,
    lb: &org_unit::Model,
    year: i32,
    who: &Officers,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let last = year - 1;
    // Rated at the turn of the year.
    let at = NaiveDate::from_ymd_opt(year, 1, 10)
        .and_then(|d| d.and_hms_opt(2, 0, 0))
        .map_or(now, |t| t.and_utc());
    let wards = org_unit::Entity::find()
        .filter(org_unit::Column::ParentId.eq(lb.id))
        .filter(org_unit::Column::Kind.eq(UnitKind::Base.as_str()))
        .order_by_asc(org_unit::Column::Code)
        .all(conn)
        .await?;
    let for_wards = criteria(conn, lb.id, last, who.district, at).await?;
    criteria(conn, lb.id, year, who.district, now).await?;
    for ward in &wards {
        let Some((_, level)) = WARDS.iter().find(|(code, _)| *code == ward.code) else { continue };
        // Bồ Đề's officer wrote her ward's; the district's officer the others' (on paper), which
        // the city confirmed.
        let (by, confirmer) =
            if ward.code == "HN-LB-BD" { (who.ward, who.district) } else { (who.district, who.city) };
        confirmed(conn, ward, last, *level, &for_wards, by, confirmer, at).await?;
    }
    if let Some(bd) = wards.iter().find(|w| w.code == "HN-LB-BD") {
        let for_branches = criteria(conn, bd.id, last, who.ward, at).await?;
        let branches =
            org_unit::Entity::find().filter(org_unit::Column::ParentId.eq(bd.id)).all(conn).await?;
        for branch in &branches {
            let Some((_, level)) = BRANCHES.iter().find(|(code, _)| *code == branch.code) else { continue };
            confirmed(conn, branch, last, *level, &for_branches, who.ward, who.district, at).await?;
        }
    }
    // 90% of Long Biên's wards rated good or better, last year and this year, each ward held to
    // the same.
    for y in [last, year] {
        let set = |unit_id: UnitId, assigned: bool| target::ActiveModel {
            id: Set(Uuid::now_v7()),
            indicator_id: Set(BASES_RATED_GOOD),
            unit_id: Set(unit_id),
            from_year: Set(y),
            to_year: Set(y),
            value: Set(90.0),
            assigned_by_parent: Set(assigned),
            set_by: Set(who.district),
            set_at: Set(now),
        };
        set(lb.id, false).insert(conn).await?;
        for ward in &wards {
            set(ward.id, true).insert(conn).await?;
        }
    }
    Ok(())
}

async fn award_kind(
    conn: &impl ConnectionTrait,
    unit: UnitId,
    name: &str,
    issuer: &str,
    recipients: Recipients,
    by: PersonId,
    at: DateTime<Utc>,
) -> Result<award_kind::Model, ApiError> {
    Ok(award_kind::ActiveModel {
        id: Set(Uuid::now_v7()),
        unit_id: Set(unit),
        name: Set(name.to_owned()),
        issuer: Set(issuer.to_owned()),
        recipients: Set(recipients),
        active: Set(true),
        created_by: Set(by),
        created_at: Set(at),
    }
    .insert(conn)
    .await?)
}

/// One nomination; approved (with its decision) when `decision` is given.
#[allow(clippy::too_many_arguments)]
async fn nomination(
    conn: &impl ConnectionTrait,
    kind: &award_kind::Model,
    year: i32,
    from: UnitId,
    nominee: (Option<UnitId>, Option<PersonId>),
    citation: &str,
    by: PersonId,
    decision: Option<(&str, NaiveDate, PersonId)>,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    nomination::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind_id: Set(kind.id),
        year: Set(year),
        nominating_unit_id: Set(from),
        unit_id: Set(nominee.0),
        person_id: Set(nominee.1),
        citation: Set(citation.to_owned()),
        status: Set(if decision.is_some() { NominationStatus::Approved } else { NominationStatus::Proposed }),
        decision_number: Set(decision.map(|d| d.0.to_owned())),
        decision_date: Set(decision.map(|d| d.1)),
        decline_reason: Set(None),
        nominated_by: Set(by),
        nominated_at: Set(at),
        decided_by: Set(decision.map(|d| d.2)),
        decided_at: Set(decision.map(|_| at + Duration::days(14))),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The kinds of award of the city and of Long Biên, last year's awards and one nomination
/// waiting.
pub(super) async fn load_awards(
    conn: &impl ConnectionTrait,
    city: &org_unit::Model,
    lb: &org_unit::Model,
    year: i32,
    who: &Officers,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let last = year - 1;
    let code = |c: &str| {
        let c = c.to_owned();
        async move {
            org_unit::Entity::find()
                .filter(org_unit::Column::Code.eq(c.clone()))
                .one(conn)
                .await?
                .ok_or_else(|| ApiError::internal(format_args!("demo unit {c} is missing")))
        }
    };
    let (bd, bd1, bd2) = (code("HN-LB-BD").await?, code("HN-LB-BD-01").await?, code("HN-LB-BD-02").await?);
    let at =
        NaiveDate::from_ymd_opt(year, 1, 5).and_then(|d| d.and_hms_opt(2, 0, 0)).map_or(now, |t| t.and_utc());
    let decided = NaiveDate::from_ymd_opt(year, 1, 20).unwrap_or_default();
    // The central union's, which the city records when the decision comes back.
    award_kind(
        conn,
        city.id,
        "Bằng khen",
        "Ban Chấp hành Trung ương Hội LHPN Việt Nam",
        Recipients::Both,
        who.city,
        at,
    )
    .await?;
    let city_kind = award_kind(
        conn,
        city.id,
        "Bằng khen",
        "Ban Chấp hành Hội LHPN Thành phố Hà Nội",
        Recipients::Both,
        who.city,
        at,
    )
    .await?;
    let giay = award_kind(
        conn,
        lb.id,
        "Giấy khen",
        "Ban Thường vụ Hội LHPN quận Long Biên",
        Recipients::Both,
        who.district,
        at,
    )
    .await?;
    let approved = |by: PersonId| Some(("12/QĐ-HPN", decided, by));
    let list = [
        (
            &city_kind,
            lb.id,
            (Some(bd.id), None),
            "Hoàn thành xuất sắc nhiệm vụ công tác Hội và phong trào phụ nữ năm liền.",
            who.district,
            Some(("45/QĐ-HPNTP", decided, who.city)),
        ),
        (
            &giay,
            bd.id,
            (Some(bd1.id), None),
            "Chi hội dẫn đầu phong trào xây dựng gia đình 5 không, 3 sạch.",
            who.ward,
            approved(who.district),
        ),
        (
            &giay,
            bd.id,
            (None, Some(who.leader)),
            "Chi hội trưởng tiêu biểu, phát triển 25 hội viên mới.",
            who.ward,
            approved(who.district),
        ),
        (
            &giay,
            bd1.id,
            (None, Some(who.member)),
            "Hội viên tích cực tham gia các hoạt động của chi hội.",
            who.leader,
            approved(who.district),
        ),
        // Waiting for the district.
        (&giay, bd.id, (Some(bd2.id), None), "Chi hội có nhiều mô hình sinh kế cho phụ nữ.", who.ward, None),
    ];
    for (kind, from, nominee, citation, by, decision) in list {
        nomination(conn, kind, last, from, nominee, citation, by, decision, at).await?;
    }
    Ok(())
}
