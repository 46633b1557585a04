//! Lists of trainings: what each caller may see (see `service::trainings::list`).

use async_graphql::{Context, ID, InputObject, Object, Result, connection::Connection};
use entities::ids::UnitId;

use crate::graphql::{
    ContextExt,
    connection::{build, page},
    loaders::nodes_select,
};
use service::{
    domain::GlobalId,
    error::{ApiError, InputProblem},
    integrations::Scope,
    trainings::{self as svc, TrainingCursor, TrainingFilter, TrainingQuery},
};

use super::*;

/// Extra fields of the training list.
pub struct TrainingListFields(TrainingQuery);

#[Object]
impl TrainingListFields {
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(svc::count_trainings(&ctx.state()?.db, &self.0).await?)
    }
}

#[derive(InputObject)]
pub struct TrainingFilterInput {
    /// Only trainings not over yet and neither cancelled nor completed (the default).
    #[graphql(default = true)]
    pub upcoming: bool,
    pub category: Option<GqlCategory>,
    /// Only trainings organised by this unit or a unit below it.
    pub unit_id: Option<ID>,
    /// Part of the title, accent-insensitive.
    pub search: Option<String>,
    pub status: Option<GqlTrainingStatus>,
}

impl Default for TrainingFilterInput {
    fn default() -> Self {
        Self { upcoming: true, category: None, unit_id: None, search: None, status: None }
    }
}

#[derive(Default)]
pub struct ListQuery;

#[Object]
impl ListQuery {
    /// Trainings the caller may see, soonest first: those open to her (her branch's and every
    /// ancestor's; officer trainings too for officers), those of her reach, drafts she manages.
    async fn trainings(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: TrainingFilterInput,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Training, TrainingListFields>> {
        let call = ctx.call()?;
        let client = call.client(Scope::TrainingsRead)?;
        let viewer = if client.is_some() { None } else { Some(call.viewer()?) };
        let state = ctx.state()?;
        let page = page::<TrainingCursor>(first, after.as_deref())?;
        if filter.search.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(ApiError::bad_input("filter.search", InputProblem::TooLong).into());
        }
        let filter = TrainingFilter {
            upcoming: filter.upcoming,
            category: filter.category.map(Into::into),
            unit_id: filter
                .unit_id
                .map(|u| GlobalId::decode_id::<UnitId>(&u, "filter.unitId"))
                .transpose()?,
            search: filter.search,
            status: filter.status.map(Into::into),
        };
        let q = match (client, viewer) {
            (Some(client), _) => svc::client_training_query(&state.db, client, filter).await?,
            (None, Some(viewer)) => {
                svc::training_query(&*crate::graphql::viewer_scope(ctx, viewer).await?, filter)
            }
            (None, None) => return Err(ApiError::Unauthenticated.into()),
        };
        let (first, after) = (page.first, page.after.as_ref());
        // Her registration for each, when the query shows it: read with the page, in the same
        // statement.
        let (rows, has_next) = match viewer.filter(|_| nodes_select(ctx, "myRegistration")) {
            Some(viewer) => {
                let (rows, has_next) =
                    svc::list_trainings_with_registration(&state.db, &q, first, after, viewer.person_id)
                        .await?;
                let mut page = Vec::with_capacity(rows.len());
                ctx.loaders()?.registrations_ahead.put(rows.into_iter().map(|(t, reg)| {
                    let key = (viewer.person_id, t.id);
                    page.push(t);
                    (key, reg)
                }));
                (page, has_next)
            }
            None => svc::list_trainings(&state.db, &q, first, after).await?,
        };
        Ok(build(
            rows,
            has_next,
            page.after.is_some(),
            TrainingListFields(q),
            |t| TrainingCursor { starts_at: t.starts_at, id: t.id },
            Training,
        ))
    }
}
