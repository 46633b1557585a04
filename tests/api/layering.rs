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
