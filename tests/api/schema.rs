//! `schema.graphql` must match the code.

#[test]
fn schema_graphql_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    let current = api::graphql::sdl();
    assert!(
        on_disk == current,
        "schema.graphql is stale: run `cargo run -p api -- export-schema > schema.graphql`"
    );
}
