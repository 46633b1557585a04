//! One criterion of a campaign (e.g. one of the "5 no's and 3 cleans"), in its place in the
//! campaign's ordered list. Pledges are reviewed against these.

use crate::ids::CampaignId;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_criterion")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub campaign_id: CampaignId,
    /// 1-based place in the list.
    pub position: i32,
    pub text: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
