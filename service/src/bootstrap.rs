//! `api bootstrap`: the first start of a deployment without demo data. Creates the root unit
//! (the city union) and the first system administrator, who then builds the tree and appoints
//! officers through the API. Idempotent: an existing city is kept, an existing person with that
//! phone is made administrator (her password is set only if she has none).

use chrono::Utc;
use entities::{org_unit, person};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait, sea_query::Expr,
};
use secrecy::SecretString;

use crate::{
    auth,
    domain::{Password, PersonName, PhoneNumber},
    error::ApiError,
    identity::new_account,
    org::{UnitKind, insert_unit},
    state::AppState,
};

/// What to create, from `APP_BOOTSTRAP_*` variables.
pub struct Bootstrap {
    pub phone: String,
    pub full_name: String,
    pub password: SecretString,
    pub city_code: String,
    pub city_name: String,
}

impl Bootstrap {
    /// Reads `APP_BOOTSTRAP_PHONE`, `APP_BOOTSTRAP_NAME`, `APP_BOOTSTRAP_PASSWORD` (required)
    /// and `APP_BOOTSTRAP_CITY_CODE`, `APP_BOOTSTRAP_CITY_NAME` (defaults: Hà Nội).
    pub fn from_env() -> Result<Self, String> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let required = |k: &str| get(k).ok_or_else(|| format!("{k} must be set"));
        Ok(Self {
            phone: required("APP_BOOTSTRAP_PHONE")?,
            full_name: required("APP_BOOTSTRAP_NAME")?,
            password: SecretString::from(required("APP_BOOTSTRAP_PASSWORD")?),
            city_code: get("APP_BOOTSTRAP_CITY_CODE").unwrap_or_else(|| "HN".to_owned()),
            city_name: get("APP_BOOTSTRAP_CITY_NAME")
                .unwrap_or_else(|| "Hội LHPN Thành phố Hà Nội".to_owned()),
        })
    }
}

/// Creates what is missing; returns a line describing what was done.
pub async fn run(state: &AppState, b: Bootstrap) -> Result<String, ApiError> {
    let phone = PhoneNumber::parse(&b.phone, "APP_BOOTSTRAP_PHONE")?;
    let name = PersonName::parse(&b.full_name, "APP_BOOTSTRAP_NAME")?;
    let password = Password::parse(&b.password, Some(&phone), "APP_BOOTSTRAP_PASSWORD")?;
    let hash = auth::hash_password(password.expose().to_owned()).await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let city_exists =
        org_unit::Entity::find().filter(org_unit::Column::ParentId.is_null()).one(&txn).await?.is_some();
    if !city_exists {
        insert_unit(&txn, None, UnitKind::City, &b.city_code.to_ascii_uppercase(), &b.city_name).await?;
    }
    let existing = person::Entity::find().filter(person::Column::Phone.eq(phone.as_str())).one(&txn).await?;
    match existing {
        Some(p) => {
            person::Entity::update_many()
                .col_expr(person::Column::IsSystemAdmin, Expr::value(true))
                .col_expr(person::Column::PasswordHash, Expr::value(p.password_hash.clone().unwrap_or(hash)))
                .col_expr(person::Column::UpdatedAt, Expr::value(now))
                .filter(person::Column::Id.eq(p.id))
                .exec(&txn)
                .await?;
        }
        None => {
            person::ActiveModel { is_system_admin: Set(true), ..new_account(&phone, &name, hash, now) }
                .insert(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(format!(
        "system administrator {} ready; root unit {}",
        phone.as_str(),
        if city_exists { "already present" } else { "created" }
    ))
}
