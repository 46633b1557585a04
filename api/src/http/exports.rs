//! `GET /exports/{name}.{csv|xlsx}`: the console's downloads (see `service::exports`), with the
//! officer's bearer token in `Authorization` and the list's filters as URL parameters:
//!
//! | name | parameters |
//! |---|---|
//! | `members` | `unitId`, `status`, `search`, `phone`, `joinedFrom`, `joinedBefore`, `order` |
//! | `membership-requests` | `unitId`, `status`, `submittedFrom`, `submittedBefore`, `order` |
//! | `pledges` | `unitId`, `campaignId`, `status` (`SUBMITTED` unless given; `ANY`), `order` |
//! | `target-progress` | `unitId`, `year` or `fromYear` and `toYear`, `indicators` (ids or codes, comma-separated) |
//! | `member-statistics` | `unitId`, `from`, `to` (dates) |
//! | `training-roster` | `trainingId`, `status` |
//!
//! The caller's reach is checked before the first byte: a refusal is a JSON error like the
//! API's (`{"errors": [{"message", "extensions": {"code", …}}]}`) with its HTTP status (400,
//! 401, 403, 404, 429, 503). Then the file streams as it is made. One export at a time per
//! person.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use serde_json::json;

use entities::ids::{TrainingId, UnitId};
use service::{
    Call,
    auth::{self, Auth},
    campaigns::{pledges::ReviewFilter, targets},
    db::TimeOrder,
    domain::GlobalId,
    error::{ApiError, InputProblem, Lang},
    exports::{self, Format, sources},
    membership::{MemberFilter, MemberSort, MemberStatus, RequestFilter, RequestStatus},
    state::{AppState, InFlightSlot},
    trainings::{RegistrationStatus, RosterFilter},
};

use super::request_meta;
use crate::graphql::errors::write_extensions;

/// Exports one person may run at once.
const AT_ONCE: u32 = 1;

/// The URL parameters.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.trim().is_empty())
    }

    fn unit(&self, name: &'static str) -> Result<Option<UnitId>, ApiError> {
        self.get(name).map(|v| GlobalId::decode_id::<UnitId>(v, name)).transpose()
    }

    fn required_unit(&self, name: &'static str) -> Result<UnitId, ApiError> {
        self.unit(name)?.ok_or(ApiError::bad_input(name, InputProblem::Required))
    }

    fn time(&self, name: &'static str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::bad_input(name, InputProblem::InvalidFormat))
            })
            .transpose()
    }

    fn date(&self, name: &'static str) -> Result<NaiveDate, ApiError> {
        let raw = self.get(name).ok_or(ApiError::bad_input(name, InputProblem::Required))?;
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| ApiError::bad_input(name, InputProblem::InvalidFormat))
    }

    fn year(&self, name: &'static str) -> Result<Option<i32>, ApiError> {
        self.get(name)
            .map(|v| v.parse().map_err(|_| ApiError::bad_input(name, InputProblem::InvalidFormat)))
            .transpose()
    }

    /// A stored enum value by its name (`ACTIVE`).
    fn value<T>(&self, name: &'static str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| parse(v).ok_or(ApiError::bad_input(name, InputProblem::InvalidKind)))
            .transpose()
    }

    fn queue_order(&self) -> Result<TimeOrder, ApiError> {
        Ok(self
            .value("order", |v| match v {
                "OLDEST_FIRST" => Some(TimeOrder::OldestFirst),
                "NEWEST_FIRST" => Some(TimeOrder::NewestFirst),
                _ => None,
            })?
            .unwrap_or_default())
    }
}

/// `GET /exports/{file}`.
pub async fn export(req: HttpRequest, file: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    let (lang, meta) = request_meta(&req, &state.settings);
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let auth = match auth::authenticate(&state.tokens, &state.cache, &state.db, header).await {
        Ok(auth) => auth,
        Err(err) => return refused(lang, &err),
    };
    let Ok(params) = web::Query::<Vec<(String, String)>>::from_query(req.query_string()) else {
        return refused(lang, &ApiError::bad_input("query", InputProblem::InvalidFormat));
    };
    let call = Call { state: &state, auth: &auth, meta: &meta };
    let Auth::Signed(viewer) = auth else {
        return refused(lang, &call.viewer().err().unwrap_or(ApiError::Unauthenticated));
    };
    let Some(slot) = state.in_flight.enter(format!("export:{}", viewer.person_id), AT_ONCE) else {
        return refused(lang, &ApiError::RateLimited { retry_after_secs: 5 });
    };
    let Some((name, format)) = file.rsplit_once('.').and_then(|(n, ext)| Some((n, Format::parse(ext)?)))
    else {
        return refused(lang, &ApiError::NotFound);
    };
    match start(call, name, format, &Params(params.into_inner()), slot).await {
        Ok((stem, chunks)) => {
            let today = service::domain::hanoi_day(state.clock.now());
            let filename = format!("{stem}-{}.{}", today.format("%Y-%m-%d"), format.extension());
            let body = tokio_stream(chunks).map(move |chunk| {
                chunk.map(actix_web::web::Bytes::from).map_err(|e| {
                    tracing::warn!(
                        code = e.code(),
                        "an export failed after it started; the download is cut short"
                    );
                    actix_web::error::ErrorInternalServerError(e.code())
                })
            });
            HttpResponse::Ok()
                .content_type(format.content_type())
                .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .streaming(body)
        }
        Err(err) => refused(lang, &err),
    }
}

/// The receiver as a stream.
fn tokio_stream(mut chunks: exports::Chunks) -> impl futures_util::Stream<Item = Result<Vec<u8>, ApiError>> {
    futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx))
}

/// Checks the caller's reach and starts the export: its file name's stem and its chunks. The
/// caller's slot is held until the export's tasks end, even when the client goes away first.
async fn start(
    call: Call<'_>,
    name: &str,
    format: Format,
    p: &Params,
    slot: InFlightSlot,
) -> Result<(String, exports::Chunks), ApiError> {
    fn go<S: sources::Source + 'static>(
        format: Format,
        source: S,
        slot: InFlightSlot,
    ) -> (String, exports::Chunks) {
        let stem = source.layout().file_stem;
        (stem, exports::stream(format, source, slot))
    }
    Ok(match name {
        "members" => {
            let filter = MemberFilter {
                unit_id: p.unit("unitId")?,
                search: p.get("search").map(str::to_owned),
                phone: p.get("phone").map(str::to_owned),
                status: p.value("status", MemberStatus::parse)?,
                joined_from: p.time("joinedFrom")?,
                joined_to: p.time("joinedBefore")?,
                sort: p
                    .value("order", |v| match v {
                        "NAME" => Some(MemberSort::Name),
                        "MEMBER_NUMBER" => Some(MemberSort::MemberNumber),
                        "JOINED_NEWEST" => Some(MemberSort::JoinedNewest),
                        "JOINED_OLDEST" => Some(MemberSort::JoinedOldest),
                        _ => None,
                    })?
                    .unwrap_or_default(),
            };
            if filter.search.as_ref().is_some_and(|s| s.chars().count() > 100) {
                return Err(ApiError::bad_input("search", InputProblem::TooLong));
            }
            go(format, sources::members(call, filter).await?, slot)
        }
        "membership-requests" => {
            let filter = RequestFilter {
                unit_id: p.unit("unitId")?,
                status: p.value("status", RequestStatus::parse)?,
                submitted_from: p.time("submittedFrom")?,
                submitted_to: p.time("submittedBefore")?,
                order: p.queue_order()?,
            };
            go(format, sources::requests(call, filter).await?, slot)
        }
        "pledges" => {
            let filter = ReviewFilter {
                unit_id: p.unit("unitId")?,
                campaign_id: p
                    .get("campaignId")
                    .map(|c| GlobalId::decode_id::<entities::ids::CampaignId>(c, "campaignId"))
                    .transpose()?,
                // As the queue: `SUBMITTED` unless asked; `ANY` for every status.
                status: match p.get("status") {
                    None => Some(service::campaigns::pledges::PledgeStatus::Submitted),
                    Some("ANY") => None,
                    Some(_) => p.value("status", service::campaigns::pledges::PledgeStatus::parse)?,
                },
                order: p.queue_order()?,
            };
            go(format, sources::pledges(call, filter).await?, slot)
        }
        "target-progress" => {
            let unit = p.required_unit("unitId")?;
            let period =
                targets::Period::parse(p.year("year")?, p.year("fromYear")?, p.year("toYear")?, "year")?;
            let mut asked = Vec::new();
            for raw in
                p.get("indicators").unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty())
            {
                if asked.len() == targets::MAX_ASKED {
                    return Err(ApiError::bad_input("indicators", InputProblem::TooMany));
                }
                asked.push(targets::indicator_ref(call, raw, "indicators").await?);
            }
            go(format, sources::target_progress(call, unit, period, &asked).await?, slot)
        }
        "member-statistics" => {
            let unit = p.required_unit("unitId")?;
            go(format, sources::member_statistics(call, unit, p.date("from")?, p.date("to")?).await?, slot)
        }
        "training-roster" => {
            let raw = p.get("trainingId").ok_or(ApiError::bad_input("trainingId", InputProblem::Required))?;
            let training = GlobalId::decode_id::<TrainingId>(raw, "trainingId")?;
            let filter = RosterFilter { status: p.value("status", RegistrationStatus::parse)? };
            go(format, sources::roster(call, training, filter).await?, slot)
        }
        _ => return Err(ApiError::NotFound),
    })
}

/// A refusal before the file starts: the error as the API codes it, with its HTTP status.
fn refused(lang: Lang, err: &ApiError) -> HttpResponse {
    let status = match err {
        ApiError::BadInput { .. } => StatusCode::BAD_REQUEST,
        ApiError::Unauthenticated | ApiError::BadCredentials | ApiError::OtpRequired => {
            StatusCode::UNAUTHORIZED
        }
        ApiError::Forbidden
        | ApiError::MfaRequired
        | ApiError::StepUpRequired
        | ApiError::ScopeRequired(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound | ApiError::PersistedQueryNotFound => StatusCode::NOT_FOUND,
        ApiError::Conflict(_) | ApiError::PersistedQueryNotAllowed => StatusCode::CONFLICT,
        ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut ext = async_graphql::ErrorExtensionValues::default();
    write_extensions(err, None, &mut ext);
    let mut resp = HttpResponse::build(status);
    if let ApiError::RateLimited { retry_after_secs } | ApiError::Unavailable { retry_after_secs } = err {
        resp.insert_header((header::RETRY_AFTER, *retry_after_secs));
    }
    resp.insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "errors": [{ "message": err.message(lang), "extensions": ext }] }))
}
