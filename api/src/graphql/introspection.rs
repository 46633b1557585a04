//! Refuses introspection when it is turned off (production by default). async-graphql's own
//! switch answers `__schema` with `null` and no error, which reads like an empty schema; this
//! extension rejects such documents outright, before execution, with
//! `GRAPHQL_VALIDATION_FAILED`. `__typename` stays allowed: clients need it.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::errors::CODE_VALIDATION_FAILED;

pub struct NoIntrospection;

impl ExtensionFactory for NoIntrospection {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NoIntrospection)
    }
}

fn introspects(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => {
            let name = f.node.name.node.as_str();
            name == "__schema" || name == "__type" || introspects(&f.node.selection_set.node)
        }
        Selection::InlineFragment(i) => introspects(&i.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

#[async_trait::async_trait]
impl Extension for NoIntrospection {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let in_operations = doc.operations.iter().any(|(_, op)| introspects(&op.node.selection_set.node));
        let in_fragments = doc.fragments.values().any(|f| introspects(&f.node.selection_set.node));
        if in_operations || in_fragments {
            let mut err = ServerError::new("Introspection is disabled", None);
            err.extensions.get_or_insert_with(Default::default).set("code", CODE_VALIDATION_FAILED);
            return Err(err);
        }
        Ok(doc)
    }
}
