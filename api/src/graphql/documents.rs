//! Persisted documents (see [`Persisted`]) and parsed documents, kept by their text. The apps send the same few documents again and again
//! (the member app's home screen on every launch), with what changes in the variables; parsing
//! one costs more than copying the parsed tree, so each text is parsed once — and validated
//! once per operation name: a kept document remembers the operation names it passed every
//! validation rule for (`async_graphql::check_document`, which checks arguments as far as the
//! text writes them), and such a request has only its variables' values checked again (see
//! `vendor/README.md`). What the engine's own checks found for a document sent without
//! variables (it passed them; whether its answer may carry secrets; its cost) is kept too
//! ([`Checked`]): the next such request skips them.
//!
//! Bounded (least recently used out) and limited to short documents. A document holding a
//! string literal is never kept: apps pass such values (a password, a PIN) as variables, and a
//! literal one must not outlive its request in memory.

use std::sync::{Mutex, PoisonError};

use async_graphql::{
    ServerError,
    parser::{parse_query, types::ExecutableDocument},
};
use lru::LruCache;

/// How many documents are kept.
const CAPACITY: usize = 256;
/// Longer documents are parsed every time.
const MAX_LEN: usize = 8 * 1024;
/// Operation names remembered as validated per document (a document names a few at most).
const MAX_VALIDATED: usize = 8;

pub struct DocumentCache(Mutex<LruCache<String, Kept>>);

struct Kept {
    doc: ExecutableDocument,
    /// The operation names (`None`: the request named none) the document passed validation for.
    validated: Vec<Option<String>>,
    /// What the engine's own checks found when the document came without variables.
    checked: Option<Checked>,
}

/// What the engine's checks that read only the document and its variables (`shape`,
/// `introspection`, `depth`, `arguments`, `cost`) found for a document sent without variables:
/// it passed them, and these are their answers. They are the same for the next such request,
/// so they are kept with the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Its answer may carry secrets (see `engine::Disclosure`).
    pub sensitive: bool,
    pub estimate: super::cost::Estimate,
}

/// A request's parsed document, and what the cache knows of it.
pub struct Parsed {
    pub doc: ExecutableDocument,
    /// The document is kept (so its validation can be remembered).
    pub kept: bool,
    /// It passed every validation rule before, for this operation name.
    pub validated: bool,
    /// What the engine's checks found for it without variables, if it was sent so before.
    pub checked: Option<Checked>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self(Mutex::new(LruCache::new(CAPACITY.try_into().unwrap_or(std::num::NonZeroUsize::MIN))))
    }
}

impl DocumentCache {
    /// The parsed document of `text`, for the operation `operation`: a copy of the one kept
    /// when the text was seen before, else parsed now (and kept, see the module docs).
    pub fn parse(&self, text: &str, operation: Option<&str>) -> Result<Parsed, ServerError> {
        let keep = text.len() <= MAX_LEN && !text.contains('"');
        if keep && let Some(kept) = self.lock().get(text) {
            let validated = kept.validated.iter().any(|name| name.as_deref() == operation);
            return Ok(Parsed { doc: kept.doc.clone(), kept: true, validated, checked: kept.checked });
        }
        let doc = parse_query(text)?;
        if keep {
            self.lock().put(text.to_owned(), Kept { doc: doc.clone(), validated: Vec::new(), checked: None });
        }
        Ok(Parsed { doc, kept: keep, validated: false, checked: None })
    }

    /// Keeps what the engine's checks found for the kept document `text` sent without
    /// variables.
    pub fn checked(&self, text: &str, checked: Checked) {
        if let Some(kept) = self.lock().get_mut(text) {
            kept.checked = Some(checked);
        }
    }

    /// Remembers that the kept document `text` passed validation for `operation`.
    pub fn validated(&self, text: &str, operation: Option<&str>) {
        if let Some(kept) = self.lock().get_mut(text)
            && kept.validated.len() < MAX_VALIDATED
            && !kept.validated.iter().any(|name| name.as_deref() == operation)
        {
            kept.validated.push(operation.map(str::to_owned));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Kept>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many documents are kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Documents sent by their hash, for the first-party apps: the manifest of the apps' own
/// documents (`APP_TRUSTED_DOCUMENTS_MANIFEST`; with `APP_TRUSTED_DOCUMENTS_ONLY` nothing else
/// runs), and automatic persisted queries — the app sends a document's hash alone, and its text
/// only when told `PERSISTED_QUERY_NOT_FOUND`; the text is then kept by its hash (bounded, per
/// instance) so the next launch sends the hash alone again.
pub struct Persisted {
    manifest: std::collections::HashMap<String, String>,
    only: bool,
    automatic: Mutex<LruCache<String, String>>,
}

/// How many automatically persisted documents an instance keeps.
const AUTOMATIC_CAPACITY: usize = 2048;

impl Persisted {
    /// Reads the manifest (a JSON object of hash → document; a `sha256:` prefix on the keys is
    /// accepted). Every key must be its document's SHA-256.
    pub fn load(path: Option<&std::path::Path>, only: bool) -> Result<Self, String> {
        let mut manifest = std::collections::HashMap::new();
        if let Some(path) = path {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let entries: std::collections::HashMap<String, String> =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            for (key, document) in entries {
                let hash = key.strip_prefix("sha256:").unwrap_or(&key).to_ascii_lowercase();
                if service::integrations::documents::hash(&document) != hash {
                    return Err(format!("{}: {key} is not the SHA-256 of its document", path.display()));
                }
                manifest.insert(hash, document);
            }
        }
        Ok(Self {
            manifest,
            only,
            automatic: Mutex::new(LruCache::new(
                AUTOMATIC_CAPACITY.try_into().unwrap_or(std::num::NonZeroUsize::MIN),
            )),
        })
    }

    /// Only the manifest's documents run.
    pub fn only(&self) -> bool {
        self.only
    }

    /// The document with this hash: the manifest's, or one persisted automatically (not when
    /// only the manifest runs).
    pub fn get(&self, hash: &str) -> Option<String> {
        if let Some(d) = self.manifest.get(hash) {
            return Some(d.clone());
        }
        if self.only {
            return None;
        }
        self.automatic.lock().unwrap_or_else(PoisonError::into_inner).get(hash).cloned()
    }

    /// Whether `text` may run as sent: always, unless only the manifest runs.
    pub fn allows_text(&self, text: &str) -> bool {
        !self.only || self.manifest.contains_key(&service::integrations::documents::hash(text))
    }

    /// Keeps a document sent with its hash (the hash checked by the caller).
    pub fn remember(&self, hash: String, text: &str) {
        if !self.only && !self.manifest.contains_key(&hash) {
            self.automatic.lock().unwrap_or_else(PoisonError::into_inner).put(hash, text.to_owned());
        }
    }
}

impl Default for Persisted {
    fn default() -> Self {
        // No manifest cannot fail to load.
        Self::load(None, false).unwrap_or_else(|_| unreachable!())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_literals_are_never_kept() {
        let cache = DocumentCache::default();
        let operations = |p: Parsed| p.doc.operations.iter().count();
        assert_eq!(cache.parse("query { me { fullName } }", None).map(operations).ok(), Some(1));
        assert_eq!(cache.parse("query { me { fullName } }", None).map(operations).ok(), Some(1));
        assert_eq!(cache.len(), 1);

        let secret = r#"mutation { login(phone: "0900000001", password: "x") { accessToken } }"#;
        assert!(cache.parse(secret, None).is_ok_and(|p| !p.kept));
        assert!(cache.parse("query { me {", None).is_err());
        let long = format!("query {{ me {{ {} }} }}", "fullName ".repeat(MAX_LEN / 9 + 1));
        assert!(cache.parse(&long, None).is_ok_and(|p| !p.kept));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn validation_is_remembered_per_text_and_operation_name() {
        let cache = DocumentCache::default();
        let text = "query A { me { fullName } } query B { me { id } }";
        let validated = |op| cache.parse(text, op).map(|p| p.validated).ok();
        assert_eq!(validated(Some("A")), Some(false));
        cache.validated(text, Some("A"));
        assert_eq!(validated(Some("A")), Some(true));
        assert_eq!(validated(Some("B")), Some(false));
        assert_eq!(validated(None), Some(false));
        // A text that is not kept is never marked.
        let secret = r#"query { search(text: "Lan") { id } }"#;
        cache.validated(secret, None);
        assert_eq!(cache.parse(secret, None).map(|p| p.validated).ok(), Some(false));
    }

    #[test]
    fn what_the_checks_found_is_kept_with_the_text() {
        let cache = DocumentCache::default();
        let text = "{ me { fullName } }";
        let checked = |text| cache.parse(text, None).ok().and_then(|p| p.checked);
        assert_eq!(checked(text), None);
        let found =
            Checked { sensitive: false, estimate: super::super::cost::Estimate { points: 2, aggregates: 0 } };
        cache.checked(text, found);
        assert_eq!(checked(text), Some(found));
        assert_eq!(checked("{ me { id } }"), None);
        let secret = r#"query { search(text: "Lan") { id } }"#;
        cache.checked(secret, found);
        assert_eq!(checked(secret), None);
    }
}
