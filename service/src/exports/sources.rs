//! What each export holds: a [`Source`] of rows, built for a caller (who must be allowed to
//! see the list, checked when it is built) and read page by page.

use std::{collections::HashMap, future::Future};

use chrono::NaiveDate;
use entities::{
    ids::{PersonId, TrainingId, UnitId},
    membership_request, org_unit, person, pledge, training_registration as reg,
};

use super::{Cell, Layout, PAGE, labels};
use crate::{
    Call, RequestMeta,
    auth::Auth,
    campaigns::{
        pledges::{self, QueueCursor, ReviewFilter, ReviewQuery},
        targets::{self, Period},
    },
    error::ApiError,
    identity::people_by_ids,
    membership::{self, MemberCursor, MemberFilter, MemberQuery, RequestFilter, RequestQuery},
    org::units_by_ids,
    state::AppState,
    trainings::{self, RosterCursor, RosterFilter},
};

/// Rows of an export, a page at a time.
pub trait Source: Send {
    /// The sheet's name, file name and headers.
    fn layout(&self) -> Layout;

    /// The next page of rows; `None` once every row was given.
    fn next(&mut self) -> impl Future<Output = Result<Option<Vec<Vec<Cell>>>, ApiError>> + Send;
}

/// The caller, kept for the pages read after the response started.
#[derive(Clone)]
struct Caller {
    state: AppState,
    auth: Auth,
    meta: RequestMeta,
}

impl Caller {
    fn of(call: Call<'_>) -> Self {
        Self { state: call.state.clone(), auth: *call.auth, meta: call.meta.clone() }
    }

    fn call(&self) -> Call<'_> {
        Call { state: &self.state, auth: &self.auth, meta: &self.meta }
    }
}

/// Rows computed at once (small reports: target progress, statistics).
pub struct Rows {
    layout: Layout,
    rows: Option<Vec<Vec<Cell>>>,
}

impl Source for Rows {
    fn layout(&self) -> Layout {
        self.layout.clone()
    }

    async fn next(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ApiError> {
        Ok(self.rows.take())
    }
}

async fn units_of(
    state: &AppState,
    ids: impl Iterator<Item = UnitId>,
) -> Result<HashMap<UnitId, org_unit::Model>, ApiError> {
    let mut ids: Vec<UnitId> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    units_by_ids(&state.db, &ids).await
}

async fn people_of(
    state: &AppState,
    ids: impl Iterator<Item = PersonId>,
) -> Result<HashMap<PersonId, person::Model>, ApiError> {
    let mut ids: Vec<PersonId> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    people_by_ids(&state.db, &ids).await
}

fn unit_cells(units: &HashMap<UnitId, org_unit::Model>, id: UnitId) -> [Cell; 2] {
    match units.get(&id) {
        Some(u) => [Cell::text(&u.name), Cell::plain(&u.code)],
        None => [Cell::Empty, Cell::Empty],
    }
}

fn person_cells(people: &HashMap<PersonId, person::Model>, id: PersonId) -> [Cell; 2] {
    match people.get(&id) {
        Some(p) => [Cell::text(&p.full_name), Cell::plain(&p.phone)],
        None => [Cell::Empty, Cell::Empty],
    }
}

// ---- the member directory ----

/// The member directory of the caller's reach, as `members(filter, order)` lists it.
pub struct Members {
    caller: Caller,
    query: MemberQuery,
    after: Option<MemberCursor>,
    done: bool,
}

/// The directory export (member managers; the same reach and filters as `members`).
pub async fn members(call: Call<'_>, filter: MemberFilter) -> Result<Members, ApiError> {
    let query = membership::member_query(call, filter).await?;
    Ok(Members { caller: Caller::of(call), query, after: None, done: false })
}

impl Source for Members {
    fn layout(&self) -> Layout {
        Layout {
            sheet: "Hội viên",
            file_stem: "hoi-vien".into(),
            headers: &[
                "Số thẻ hội viên",
                "Họ và tên",
                "Số điện thoại",
                "Ngày sinh",
                "Chi hội",
                "Mã chi hội",
                "Trạng thái",
                "Ngày vào hội",
            ],
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let state = &self.caller.state;
        let (rows, more) =
            membership::list_members(&state.db, &self.query, PAGE, self.after.as_ref()).await?;
        self.done = !more;
        let sort = self.query.sort();
        self.after = rows.last().map(|(m, _)| MemberCursor::of(sort, m));
        let units = units_of(state, rows.iter().map(|(m, _)| m.branch_id)).await?;
        Ok(Some(
            rows.into_iter()
                .map(|(m, p)| {
                    let [branch, code] = unit_cells(&units, m.branch_id);
                    vec![
                        Cell::plain(m.member_number),
                        Cell::text(p.full_name),
                        Cell::plain(p.phone),
                        p.birth_date.map_or(Cell::Empty, Cell::Date),
                        branch,
                        code,
                        Cell::plain(labels::member_status(m.status)),
                        Cell::Time(m.joined_at),
                    ]
                })
                .collect(),
        ))
    }
}

// ---- membership requests ----

/// Membership requests of the caller's reach, as `membershipRequests(filter, order)` lists them.
pub struct Requests {
    caller: Caller,
    query: RequestQuery,
    after: Option<uuid::Uuid>,
    done: bool,
}

/// The request export (member managers).
pub async fn requests(call: Call<'_>, filter: RequestFilter) -> Result<Requests, ApiError> {
    let query = membership::request_query(call, filter).await?;
    Ok(Requests { caller: Caller::of(call), query, after: None, done: false })
}

impl Source for Requests {
    fn layout(&self) -> Layout {
        Layout {
            sheet: "Đơn xin vào hội",
            file_stem: "don-xin-vao-hoi".into(),
            headers: &[
                "Ngày gửi",
                "Họ và tên",
                "Số điện thoại",
                "Loại đơn",
                "Chi hội",
                "Mã chi hội",
                "Trạng thái",
                "Lời nhắn",
                "Ngày quyết định",
                "Lý do",
            ],
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let state = &self.caller.state;
        let (rows, more) = membership::list_requests(&state.db, &self.query, PAGE, self.after).await?;
        self.done = !more;
        self.after = rows.last().map(|r| r.id);
        let units = units_of(state, rows.iter().map(|r| r.branch_id)).await?;
        let people = people_of(state, rows.iter().map(|r| r.person_id)).await?;
        Ok(Some(
            rows.into_iter()
                .map(|r: membership_request::Model| {
                    let [name, phone] = person_cells(&people, r.person_id);
                    let [branch, code] = unit_cells(&units, r.branch_id);
                    vec![
                        Cell::Time(r.created_at),
                        name,
                        phone,
                        Cell::plain(labels::request_kind(r.kind)),
                        branch,
                        code,
                        Cell::plain(labels::request_status(r.status)),
                        Cell::opt_text(r.note),
                        Cell::opt_time(r.decided_at),
                        Cell::opt_text(r.decision_reason),
                    ]
                })
                .collect(),
        ))
    }
}

// ---- the pledge queue ----

/// Pledges of the caller's reach, as `pledgeReviewQueue(filter, order)` lists them.
pub struct Pledges {
    caller: Caller,
    query: ReviewQuery,
    after: Option<QueueCursor>,
    done: bool,
}

/// The pledge export (member managers).
pub async fn pledges(call: Call<'_>, filter: ReviewFilter) -> Result<Pledges, ApiError> {
    let query = pledges::review_query(call, filter).await?;
    Ok(Pledges { caller: Caller::of(call), query, after: None, done: false })
}

impl Source for Pledges {
    fn layout(&self) -> Layout {
        Layout {
            sheet: "Đăng ký cam kết",
            file_stem: "dang-ky-cam-ket".into(),
            headers: &[
                "Ngày gửi",
                "Cuộc vận động",
                "Họ và tên",
                "Số điện thoại",
                "Chi hội",
                "Mã chi hội",
                "Loại",
                "Hộ gia đình",
                "Số người",
                "Năm",
                "Trạng thái",
                "Ngày xét duyệt",
                "Nhận xét",
            ],
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let state = &self.caller.state;
        let (rows, more) = pledges::review_queue(&state.db, &self.query, PAGE, self.after.as_ref()).await?;
        self.done = !more;
        self.after = rows.last().map(|p| QueueCursor { submitted_at: p.submitted_at, id: p.id });
        let units = units_of(state, rows.iter().map(|p| p.branch_id)).await?;
        let people = people_of(state, rows.iter().map(|p| p.person_id)).await?;
        let mut campaign_ids: Vec<_> = rows.iter().map(|p| p.campaign_id).collect();
        campaign_ids.sort_unstable();
        campaign_ids.dedup();
        let campaigns = crate::campaigns::campaign::campaigns_by_ids(&state.db, &campaign_ids).await?;
        Ok(Some(
            rows.into_iter()
                .map(|p: pledge::Model| {
                    let [name, phone] = person_cells(&people, p.person_id);
                    let [branch, code] = unit_cells(&units, p.branch_id);
                    vec![
                        Cell::Time(p.submitted_at),
                        campaigns.get(&p.campaign_id).map_or(Cell::Empty, |c| Cell::text(&c.title)),
                        name,
                        phone,
                        branch,
                        code,
                        Cell::plain(labels::pledge_kind(p.kind)),
                        Cell::opt_text(p.household_label),
                        p.household_size.map_or(Cell::Empty, |n| Cell::Int(n.into())),
                        Cell::Int(p.year.into()),
                        Cell::plain(labels::pledge_status(p.status)),
                        Cell::opt_time(p.reviewed_at),
                        Cell::opt_text(p.review_comment),
                    ]
                })
                .collect(),
        ))
    }
}

// ---- a training's roster ----

/// A training's roster in arrival order, as `training.roster` lists it.
pub struct Roster {
    caller: Caller,
    training: entities::training::Model,
    filter: RosterFilter,
    after: Option<RosterCursor>,
    waiting: i64,
    done: bool,
}

/// The roster export (the training's managers).
pub async fn roster(
    call: Call<'_>,
    training_id: TrainingId,
    filter: RosterFilter,
) -> Result<Roster, ApiError> {
    let training = trainings::get_training(call, training_id).await?;
    trainings::require_roster_access(call, &training).await?;
    Ok(Roster { caller: Caller::of(call), training, filter, after: None, waiting: 0, done: false })
}

impl Source for Roster {
    fn layout(&self) -> Layout {
        Layout {
            sheet: "Danh sách",
            file_stem: "danh-sach-lop".into(),
            headers: &[
                "STT",
                "Họ và tên",
                "Số điện thoại",
                "Trạng thái",
                "Vị trí chờ",
                "Đăng ký lúc",
                "Có mặt lúc",
            ],
        }
    }

    async fn next(&mut self) -> Result<Option<Vec<Vec<Cell>>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let (rows, more) =
            trainings::roster(self.caller.call(), &self.training, &self.filter, PAGE, self.after.as_ref())
                .await?;
        self.done = !more;
        self.after = rows.last().map(|(r, _)| RosterCursor { queue_no: r.queue_no });
        let mut out = Vec::with_capacity(rows.len());
        for (r, p) in rows {
            let position = if r.status == reg::RegistrationStatus::Waitlisted {
                self.waiting += 1;
                Cell::Int(self.waiting)
            } else {
                Cell::Empty
            };
            out.push(vec![
                Cell::Int(r.queue_no),
                Cell::text(p.full_name),
                Cell::plain(p.phone),
                Cell::plain(labels::registration_status(r.status)),
                position,
                Cell::Time(r.registered_at),
                Cell::opt_time(r.attended_at),
            ]);
        }
        Ok(Some(out))
    }
}

// ---- target progress and statistics (small: computed at once) ----

/// Target progress of a unit and its children (any officer role over the unit), one row per
/// indicator and unit: the unit's own first, then its children's.
pub async fn target_progress(
    call: Call<'_>,
    unit: UnitId,
    period: Period,
    asked: &[uuid::Uuid],
) -> Result<Rows, ApiError> {
    let progress = targets::target_progress(call, unit, period, asked).await?;
    let mut rows = Vec::new();
    for p in progress {
        for (row, own) in std::iter::once((&p.total, true)).chain(p.children.iter().map(|c| (c, false))) {
            rows.push(vec![
                Cell::text(&p.indicator.name),
                p.indicator.code.clone().map_or(Cell::Empty, Cell::Plain),
                Cell::text(&row.unit.name),
                Cell::plain(&row.unit.code),
                Cell::plain(if own { "Đơn vị" } else { "Đơn vị trực thuộc" }),
                row.target.map_or(Cell::Empty, Cell::Number),
                Cell::Number(row.actual),
                row.attainment().map_or(Cell::Empty, |a| Cell::Number((a * 1000.0).round() / 10.0)),
                Cell::text(&p.indicator.unit_of_measure),
            ]);
        }
    }
    let period_name = if period.from_year == period.to_year {
        period.from_year.to_string()
    } else {
        format!("{}-{}", period.from_year, period.to_year)
    };
    Ok(Rows {
        layout: Layout {
            sheet: "Tiến độ chỉ tiêu",
            file_stem: format!("tien-do-chi-tieu-{period_name}"),
            headers: &[
                "Chỉ tiêu",
                "Mã chỉ tiêu",
                "Đơn vị",
                "Mã đơn vị",
                "Cấp",
                "Chỉ tiêu giao",
                "Thực hiện",
                "Tỷ lệ hoàn thành (%)",
                "Đơn vị tính",
            ],
        },
        rows: Some(rows),
    })
}

/// Member statistics of a unit and its children over the Hanoi days `from..=to` (any officer
/// role over the unit), as `memberStatistics` answers.
pub async fn member_statistics(
    call: Call<'_>,
    unit: UnitId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Rows, ApiError> {
    let report = membership::member_statistics(call, unit, from, to).await?;
    let rows = std::iter::once(&report.total)
        .chain(report.children.iter())
        .map(|s| {
            vec![
                Cell::text(&s.unit.name),
                Cell::plain(&s.unit.code),
                Cell::plain(labels::unit_kind(s.unit.kind)),
                Cell::Int(s.active_members),
                Cell::Int(s.new_members),
                Cell::Int(s.leavers),
                s.adult_women.map_or(Cell::Empty, Cell::Int),
                s.attraction_rate().map_or(Cell::Empty, |r| Cell::Number((r * 1000.0).round() / 10.0)),
            ]
        })
        .collect();
    Ok(Rows {
        layout: Layout {
            sheet: "Thống kê hội viên",
            file_stem: format!("thong-ke-hoi-vien-{}-{}", from.format("%Y%m%d"), to.format("%Y%m%d")),
            headers: &[
                "Đơn vị",
                "Mã đơn vị",
                "Cấp",
                "Hội viên đang sinh hoạt",
                "Kết nạp mới",
                "Ra khỏi hội",
                "Phụ nữ từ 18 tuổi",
                "Tỷ lệ thu hút (%)",
            ],
        },
        rows: Some(rows),
    })
}
