//! Bulk decisions: one call acting on many records (membership requests, pledges, check-ins,
//! violence reports), each item authorised and done on its own, as if sent alone, in its own
//! transaction: one item's refusal does not undo the others. The answer lists every item's
//! outcome in the order given.
//!
//! Items run one after another. Once the database is unavailable the remaining items are not
//! tried: they answer `UNAVAILABLE` too, and can be sent again.

use std::future::Future;

use crate::error::{ApiError, InputProblem};

/// The most items one bulk call takes.
pub const MAX_ITEMS: usize = 100;

/// At most [`MAX_ITEMS`] items (the API checks the list as sent, 1 to [`MAX_ITEMS`], with
/// [`check_size`]; the items left once malformed ids are set aside may be none, and the shared
/// arguments are still checked then).
pub fn check_max(len: usize, field: &'static str) -> Result<(), ApiError> {
    if len > MAX_ITEMS {
        return Err(ApiError::bad_input(field, InputProblem::TooMany));
    }
    Ok(())
}

/// Checks the size of a bulk call's list (`field`): 1 to [`MAX_ITEMS`] items.
pub fn check_size(len: usize, field: &'static str) -> Result<(), ApiError> {
    if len == 0 {
        return Err(ApiError::bad_input(field, InputProblem::Required));
    }
    if len > MAX_ITEMS {
        return Err(ApiError::bad_input(field, InputProblem::TooMany));
    }
    Ok(())
}

/// Runs `act` on every item in order; each outcome in the items' order.
pub async fn each<I, T, F, Fut>(items: &[I], mut act: F) -> Vec<Result<T, ApiError>>
where
    I: Copy,
    F: FnMut(I) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut out = Vec::with_capacity(items.len());
    let mut down: Option<ApiError> = None;
    for item in items {
        if let Some(err) = &down {
            out.push(Err(err.clone()));
            continue;
        }
        let outcome = act(*item).await;
        if let Err(err @ ApiError::Unavailable { .. }) = &outcome {
            down = Some(err.clone());
        }
        out.push(outcome);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_run_in_order_and_an_outage_stops_the_rest() {
        let items = [1, 2, 3, 4];
        let mut tried = Vec::new();
        let out = each(&items, |i| {
            tried.push(i);
            async move {
                match i {
                    2 => Err(ApiError::NotFound),
                    3 => Err(ApiError::Unavailable { retry_after_secs: 5 }),
                    _ => Ok(i * 10),
                }
            }
        })
        .await;
        assert_eq!(tried, [1, 2, 3]);
        let codes: Vec<&str> = out.iter().map(|o| o.as_ref().map_or_else(|e| e.code(), |_| "OK")).collect();
        assert_eq!(codes, ["OK", "NOT_FOUND", "UNAVAILABLE", "UNAVAILABLE"]);
        assert_eq!(check_size(0, "ids").err().and_then(|e| e.reason()), Some("REQUIRED"));
        assert_eq!(check_size(101, "ids").err().and_then(|e| e.reason()), Some("TOO_MANY"));
        assert!(check_size(100, "ids").is_ok());
    }
}
