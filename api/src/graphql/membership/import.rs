//! Importing a member list from CSV (see `service::membership::import`).

use async_graphql::{Context, Enum, Object, Result, Upload};

use crate::graphql::ContextExt;
use service::{
    error::{ApiError, InputProblem},
    membership::{self as svc},
};

/// Why an imported row was rejected.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "MemberImportRejectionReason", remote = "service::membership::RejectReason")]
pub enum GqlRejectReason {
    /// The full name is missing or not 2–120 letters.
    InvalidName,
    /// Not a Vietnamese mobile number.
    InvalidPhone,
    /// Not `dd/mm/yyyy`, `d/m/yyyy` or `yyyy-mm-dd`, in the future, or over 120 years ago.
    InvalidBirthDate,
    /// No branch with this code in your reach.
    UnknownBranch,
    /// The same phone number is on an earlier line, which is the one considered.
    DuplicateInFile,
    /// A current member of another branch in your reach (a transfer moves her). A member of a
    /// branch outside your reach is invited like any known number.
    MemberElsewhere,
}

/// The outcome of a member import.
pub struct MemberImportReport(svc::ImportReport);

#[Object]
impl MemberImportReport {
    /// Data rows in the file (blank rows are not counted).
    async fn total_rows(&self) -> u64 {
        self.0.total_rows
    }

    /// Rows that became new memberships. In a dry run: rows that would be imported or invited
    /// (a dry run does not tell new numbers from known ones).
    async fn imported(&self) -> u64 {
        self.0.imported
    }

    /// Rows whose number the service already knew: an invitation was sent, and she becomes a
    /// member when she accepts. Always 0 in a dry run.
    async fn invited(&self) -> u64 {
        self.0.invited_lines.len() as u64
    }

    /// The lines (the header is line 1) of the `invited` rows, in order.
    async fn invited_lines(&self) -> &[u64] {
        &self.0.invited_lines
    }

    /// Rows whose person is already a member of that branch: nothing to do.
    async fn unchanged(&self) -> u64 {
        self.0.unchanged
    }

    /// Rejected rows, in line order.
    async fn rejected(&self) -> Vec<MemberImportRejection> {
        self.0.rejected.iter().cloned().map(MemberImportRejection).collect()
    }

    /// True when nothing was written.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }
}

/// One rejected row of an import.
pub struct MemberImportRejection(svc::ImportRejection);

#[Object]
impl MemberImportRejection {
    /// The line in the file (the header is line 1).
    async fn line(&self) -> u64 {
        self.0.line
    }

    async fn reason(&self) -> GqlRejectReason {
        self.0.reason.into()
    }

    /// The offending value (at most 100 characters), when there is one.
    async fn value(&self) -> Option<&str> {
        self.0.value.as_deref()
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports members from a CSV file (the usual spreadsheet export) for branches in the
    /// caller's reach (a member manager). Give exactly one of `file` (a multipart upload) or
    /// `csv` (the text, for small files pasted in GraphiQL). Valid rows are applied in one
    /// transaction; the report gives each rejected row's line and reason. `dryRun` only reports.
    async fn import_members(
        &self,
        ctx: &Context<'_>,
        file: Option<Upload>,
        #[graphql(secret)] csv: Option<String>,
        #[graphql(default_with = "Some(false)")] dry_run: Option<bool>,
    ) -> Result<MemberImportReport> {
        ctx.auth()?.require()?;
        let dry_run = dry_run.unwrap_or(false);
        let report = match (file, csv) {
            (Some(file), None) => {
                let upload =
                    file.value(ctx).map_err(|_| ApiError::bad_input("file", InputProblem::Required))?;
                svc::import_members(ctx.call()?, &upload.content, dry_run).await?
            }
            (None, Some(csv)) => {
                svc::import_members(ctx.call()?, csv.as_bytes(), dry_run).await.map_err(|e| match e {
                    // The file-level error names the argument the text came in.
                    ApiError::BadInput { field: svc::IMPORT_FIELD, problem } => {
                        ApiError::bad_input("csv", problem)
                    }
                    other => other,
                })?
            }
            (Some(_), Some(_)) => return Err(ApiError::bad_input("csv", InputProblem::ExactlyOne).into()),
            (None, None) => return Err(ApiError::bad_input("file", InputProblem::ExactlyOne).into()),
        };
        Ok(MemberImportReport(report))
    }
}
