//! The core crate stays free of the web framework and of GraphQL, so its rules can serve any
//! surface (a worker, an export, a second API) and the compiler keeps the layers apart.

#[test]
fn the_core_crate_depends_on_no_web_framework_and_no_graphql() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/service/Cargo.toml")).unwrap();
    let dependencies = manifest.split("[dependencies]").nth(1).expect("a [dependencies] table");
    let dependencies = dependencies.split("\n[").next().unwrap_or("");
    let names: Vec<&str> = dependencies
        .lines()
        .filter_map(|l| l.split('=').next())
        .map(|n| n.trim().trim_end_matches(".workspace"))
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .collect();
    assert!(names.contains(&"sea-orm"), "read the real table: {names:?}");
    for name in &names {
        assert!(
            !name.contains("actix") && !name.contains("graphql") && *name != "api",
            "service depends on {name}"
        );
    }
}

/// The `.rs` files under `dir`, with their text.
fn sources(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// Errors from the core name the domain field (`cover_image_url`); only the GraphQL layer knows
/// that it arrived as `input.coverImageUrl`. A GraphQL path written in a service — an
/// argument prefix or a camelCase field name — fails here.
#[test]
fn the_core_names_domain_fields_not_graphql_argument_paths() {
    let mut files = Vec::new();
    sources(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/service/src")), &mut files);
    assert!(files.len() > 30, "read the real tree");
    let calls = ["bad_input(\"", "field: \"", "::parse(", "parse_line(", "prose(", "check_birth_date("];
    let mut found = Vec::new();
    for (path, text) in &files {
        for (n, line) in text.lines().enumerate() {
            for prefix in ["\"input.", "\"filter."] {
                if line.contains(prefix) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
            // A camelCase literal given as a field to the error constructors and parsers.
            for call in calls {
                for (at, _) in line.match_indices(call) {
                    let rest = &line[at + call.len()..];
                    let literal =
                        rest.split('"').find(|s| !s.is_empty() && !s.contains(['(', ' ', ',', '&']));
                    if let Some(name) = literal.filter(|s| {
                        s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                            && s.chars().any(|c| c.is_ascii_uppercase())
                            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                    }) {
                        found.push(format!("{}:{}: {name}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "GraphQL argument paths in the core:\n{}", found.join("\n"));
}

/// Every entry point of the core takes the caller in one shape: a `Call` first (the state, the
/// request's credentials and facts). Only the policy itself (`authz`, `scope`) and helpers
/// private to the crate, which run inside a caller's transaction, take a viewer beside a
/// connection (list queries built from the caller's `ViewerScope`, read once per request, take
/// that). A public service function that takes a `Viewer` or `RequestMeta` fails here.
#[test]
fn service_entry_points_take_one_call_context() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/service/src"));
    let mut files = Vec::new();
    sources(root, &mut files);
    let mut entry_points = 0;
    let mut found = Vec::new();
    for (path, text) in &files {
        let policy = path.starts_with(root.join("authz")) || path.ends_with("scope.rs");
        for (at, _) in text.match_indices("pub async fn ") {
            let signature = &text[at..text[at..].find('{').map_or(text.len(), |end| at + end)];
            if signature.contains("call: Call<'_>") {
                entry_points += 1;
            }
            let takes_caller = signature
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|word| word == "Viewer" || word == "RequestMeta");
            if takes_caller && !policy {
                found.push(format!("{}: {}", path.display(), signature.lines().next().unwrap_or("")));
            }
        }
    }
    assert!(entry_points > 80, "read the real tree: {entry_points} entry points");
    assert!(
        found.is_empty(),
        "public service functions taking the caller apart from a Call:\n{}",
        found.join("\n")
    );
}
