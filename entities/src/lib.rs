//! SeaORM entities, one module per table. No GraphQL here: the API crate maps these rows into
//! its own GraphQL types so the wire contract never follows a column rename by accident.

pub mod auth_session;
pub mod officer_role;
pub mod org_unit;
pub mod org_unit_closure;
pub mod person;
pub mod refresh_token;

pub mod prelude {
    pub use super::auth_session::Entity as AuthSession;
    pub use super::officer_role::Entity as OfficerRole;
    pub use super::org_unit::Entity as OrgUnit;
    pub use super::org_unit_closure::Entity as OrgUnitClosure;
    pub use super::person::Entity as Person;
    pub use super::refresh_token::Entity as RefreshToken;
}
