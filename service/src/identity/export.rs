//! "Download my data" (Law 91/2025's right of access): one JSON document with everything the
//! service holds about the caller — her profile; memberships with their history, requests and
//! invitations; training registrations and attendance; pledges; notifications (as she reads
//! them); her violence reports as she follows them (public steps, officers named by role only);
//! consents; sessions; officer roles; the devices registered for push (platform and date, never
//! the token). Limited per person per day (`APP_EXPORT_MAX_PER_DAY`); a bounded number of
//! statements (one or two per section), whatever she holds.

use std::collections::HashMap;

use chrono::Utc;
use entities::{
    auth_session, campaign, consent, ids::UnitId, membership, membership_event, membership_invitation,
    membership_request, notification, officer_role, org_unit, pledge, push_token, training,
    training_registration,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::me;
use crate::{Call, error::ApiError, notifications::render_row, violence::reporter};

const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// The most reports, notifications or sessions one export lists (far above what one person has).
const MAX_ITEMS: u64 = 10_000;

/// The caller's data, as one JSON document (see module docs).
pub async fn export_my_data(call: Call<'_>) -> Result<Value, ApiError> {
    let (state, viewer, meta) = (call.state, call.viewer()?, call.meta);
    state
        .cache
        .spend(&format!("export:{}", viewer.person_id), DAY, 1, state.settings.export_max_per_day)
        .await?;
    let db = &state.db;
    let person = me(call).await?;
    let pid = person.id;

    let memberships = membership::Entity::find()
        .filter(membership::Column::PersonId.eq(pid))
        .order_by_asc(membership::Column::JoinedAt)
        .all(db)
        .await?;
    let events = membership_event::Entity::find()
        .filter(membership_event::Column::PersonId.eq(pid))
        .order_by_asc(membership_event::Column::CreatedAt)
        .all(db)
        .await?;
    let requests = membership_request::Entity::find()
        .filter(membership_request::Column::PersonId.eq(pid))
        .order_by_asc(membership_request::Column::CreatedAt)
        .all(db)
        .await?;
    let invitations = membership_invitation::Entity::find()
        .filter(membership_invitation::Column::PersonId.eq(pid))
        .order_by_asc(membership_invitation::Column::CreatedAt)
        .all(db)
        .await?;
    let registrations = training_registration::Entity::find()
        .filter(training_registration::Column::PersonId.eq(pid))
        .order_by_asc(training_registration::Column::RegisteredAt)
        .all(db)
        .await?;
    let trainings: HashMap<_, _> = training::Entity::find()
        .filter(training::Column::Id.is_in(registrations.iter().map(|r| r.training_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let pledges = pledge::Entity::find()
        .filter(pledge::Column::PersonId.eq(pid))
        .order_by_asc(pledge::Column::SubmittedAt)
        .all(db)
        .await?;
    let campaigns: HashMap<_, _> = campaign::Entity::find()
        .filter(campaign::Column::Id.is_in(pledges.iter().map(|p| p.campaign_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let roles = officer_role::Entity::find()
        .filter(officer_role::Column::PersonId.eq(pid))
        .order_by_asc(officer_role::Column::GrantedAt)
        .all(db)
        .await?;
    let mut unit_ids: Vec<UnitId> = memberships.iter().map(|m| m.branch_id).collect();
    unit_ids.extend(requests.iter().map(|r| r.branch_id));
    unit_ids.extend(invitations.iter().map(|i| i.branch_id));
    unit_ids.extend(events.iter().flat_map(|e| [e.from_branch_id, e.to_branch_id]).flatten());
    unit_ids.extend(trainings.values().map(|t| t.unit_id));
    unit_ids.extend(roles.iter().map(|r| r.unit_id));
    let units = units(db, unit_ids).await?;
    let unit = |id: Option<UnitId>| {
        id.and_then(|id| units.get(&id)).map(|u| json!({ "code": u.code, "name": u.name }))
    };

    let notifications = notification::Entity::find()
        .filter(notification::Column::PersonId.eq(pid))
        .order_by_desc(notification::Column::CreatedAt)
        .all(db)
        .await?;
    let consents = consent::Entity::find()
        .filter(consent::Column::PersonId.eq(pid))
        .order_by_asc(consent::Column::GivenAt)
        .all(db)
        .await?;
    let sessions = auth_session::Entity::find()
        .filter(auth_session::Column::PersonId.eq(pid))
        .order_by_desc(auth_session::Column::CreatedAt)
        .all(db)
        .await?;
    let devices = push_token::Entity::find().filter(push_token::Column::PersonId.eq(pid)).all(db).await?;
    let (reports, _) = reporter::my_reports(call, MAX_ITEMS, None).await?;

    tracing::info!(event = "data_exported", person_id = %pid, "personal data exported");
    Ok(json!({
        "format": "phunu-thudo-personal-data/1",
        "generatedAt": Utc::now(),
        "profile": {
            "id": pid,
            "phone": person.phone,
            "phoneVerifiedAt": person.phone_verified_at,
            "fullName": person.full_name,
            "birthDate": person.birth_date,
            "email": person.email,
            "gender": person.gender.map(|g| g.as_str()),
            "language": person.language,
            "registeredAt": person.registered_at,
            "passwordChangedAt": person.password_changed_at,
            "createdAt": person.created_at,
        },
        "memberships": memberships.iter().map(|m| json!({
            "memberNumber": m.member_number,
            "branch": unit(Some(m.branch_id)),
            "status": m.status.as_str(),
            "joinedAt": m.joined_at,
            "leftAt": m.left_at,
            "events": events.iter().filter(|e| e.membership_id == m.id).map(|e| json!({
                "kind": e.kind.as_str(),
                "at": e.created_at,
                "fromBranch": unit(e.from_branch_id),
                "toBranch": unit(e.to_branch_id),
                "fromStatus": e.from_status.map(|s| s.as_str()),
                "toStatus": e.to_status.map(|s| s.as_str()),
                "reason": e.reason,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "membershipRequests": requests.iter().map(|r| json!({
            "kind": r.kind.as_str(),
            "branch": unit(Some(r.branch_id)),
            "fromBranch": unit(r.from_branch_id),
            "status": r.status.as_str(),
            "note": r.note,
            "decisionReason": r.decision_reason,
            "createdAt": r.created_at,
            "decidedAt": r.decided_at,
        })).collect::<Vec<_>>(),
        "membershipInvitations": invitations.iter().map(|i| json!({
            "branch": unit(Some(i.branch_id)),
            "status": i.status.as_str(),
            "createdAt": i.created_at,
            "expiresAt": i.expires_at,
            "respondedAt": i.responded_at,
        })).collect::<Vec<_>>(),
        "trainingRegistrations": registrations.iter().map(|r| {
            let t = trainings.get(&r.training_id);
            json!({
                "training": t.map(|t| json!({
                    "title": t.title,
                    "startsAt": t.starts_at,
                    "endsAt": t.ends_at,
                    "place": t.place,
                    "unit": unit(Some(t.unit_id)),
                })),
                "status": r.status.as_str(),
                "registeredAt": r.registered_at,
                "confirmedAt": r.confirmed_at,
                "cancelledAt": r.cancelled_at,
                "attendedAt": r.attended_at,
            })
        }).collect::<Vec<_>>(),
        "pledges": pledges.iter().map(|p| json!({
            "campaign": campaigns.get(&p.campaign_id).map(|c| c.title.clone()),
            "kind": p.kind.as_str(),
            "householdLabel": p.household_label,
            "householdSize": p.household_size,
            "year": p.year,
            "status": p.status.as_str(),
            "note": p.note,
            "reviewComment": p.review_comment,
            "submittedAt": p.submitted_at,
            "reviewedAt": p.reviewed_at,
        })).collect::<Vec<_>>(),
        "notifications": notifications.iter().map(|n| {
            let (title, body) = render_row(n, meta.lang);
            json!({ "kind": n.kind, "title": title, "body": body, "createdAt": n.created_at, "readAt": n.read_at })
        }).collect::<Vec<_>>(),
        "violenceReports": reports.iter().map(|r| json!({
            "referenceCode": r.reference_code,
            "status": r.status.as_str(),
            "closeReason": r.close_reason.map(|c| c.as_str()),
            "submittedAt": r.submitted_at,
            "updatedAt": r.updated_at,
            "timeline": r.timeline.iter().map(|s| json!({
                "kind": s.kind.as_str(),
                "at": s.at,
                "by": s.actor_role.as_str(),
                "toStatus": s.to_status.map(|t| t.as_str()),
                "closeReason": s.close_reason.map(|c| c.as_str()),
                "text": s.text,
                "agency": s.agency.map(|a| a.as_str()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "consents": consents.iter().map(|c| json!({
            "kind": c.kind.as_str(),
            "version": c.version,
            "givenAt": c.given_at,
            "withdrawnAt": c.withdrawn_at,
        })).collect::<Vec<_>>(),
        "sessions": sessions.iter().map(|s| json!({
            "deviceLabel": s.device_label,
            "platform": s.platform.map(|p| p.as_str()),
            "userAgent": s.user_agent,
            "place": s.place,
            "createdAt": s.created_at,
            "lastUsedAt": s.last_used_at,
            "endedAt": s.revoked_at,
            "endedBecause": s.revoked_reason,
        })).collect::<Vec<_>>(),
        "officerRoles": roles.iter().map(|r| json!({
            "role": r.role.as_str(),
            "unit": unit(Some(r.unit_id)),
            "grantedAt": r.granted_at,
            "endedAt": r.revoked_at,
        })).collect::<Vec<_>>(),
        "pushDevices": devices.iter().map(|d| json!({ "platform": d.platform, "registeredAt": d.created_at })).collect::<Vec<_>>(),
    }))
}

async fn units(
    conn: &impl ConnectionTrait,
    mut ids: Vec<UnitId>,
) -> Result<HashMap<UnitId, org_unit::Model>, ApiError> {
    ids.sort_unstable();
    ids.dedup();
    Ok(org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}
