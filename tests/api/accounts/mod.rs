//! Accounts a person can trust: phone codes, recovery, sessions and devices, MFA, deletion,
//! export and consent.

mod consent;
mod deletion;
pub(crate) mod gateway;
mod hygiene;
mod mfa;
mod phone;
mod recovery;
mod sessions;
