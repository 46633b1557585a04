use crate::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value, extensions::ResolveInfo,
    parser::types::Field,
};

/// PATCHED (phunu): lists at least this long are joined without `FuturesOrdered` (see below);
/// shorter ones keep `try_join_all`'s own small-list join.
const LONG_LIST: usize = 30;

/// Resolve an list by executing each of the items concurrently.
pub async fn resolve_list<'a, T: OutputType + 'a>(
    ctx: &ContextSelectionSet<'a>,
    field: &Positioned<Field>,
    iter: impl IntoIterator<Item = T>,
    len: Option<usize>,
) -> ServerResult<Value> {
    let extensions = &ctx.query_env.extensions;
    if !extensions.is_empty() {
        let mut futures = len.map(Vec::with_capacity).unwrap_or_default();
        for (idx, item) in iter.into_iter().enumerate() {
            futures.push({
                let ctx = ctx.clone();
                async move {
                    let ctx_idx = ctx.with_index(idx);
                    let extensions = &ctx.query_env.extensions;

                    let resolve_info = ResolveInfo {
                        path_node: ctx_idx.path_node.as_ref().unwrap(),
                        parent_type: &Vec::<T>::type_name(),
                        return_type: &T::qualified_type_name(),
                        name: field.node.name.node.as_str(),
                        alias: field.node.alias.as_ref().map(|alias| alias.node.as_str()),
                        is_for_introspection: ctx_idx.is_for_introspection,
                        field: &field.node,
                    };
                    let resolve_fut = async {
                        OutputType::resolve(&item, &ctx_idx, field)
                            .await
                            .map(Option::Some)
                            .map_err(|err| ctx_idx.set_error_path(err))
                    };
                    futures_util::pin_mut!(resolve_fut);
                    extensions
                        .resolve(resolve_info, &mut resolve_fut)
                        .await
                        .map(|value| value.expect("You definitely encountered a bug!"))
                }
            });
        }
        Ok(Value::List(
            futures_util::future::try_join_all(futures).await?,
        ))
    } else if len.is_some_and(|len| len >= LONG_LIST) {
        // PATCHED (phunu): `try_join_all` runs a list this long through `FuturesOrdered` (an
        // `Arc` task, atomics and a wake queue per item). Each item is polled once here
        // instead, in order; only the items that wait are joined, by index.
        let mut futures = Vec::with_capacity(len.unwrap_or_default());
        for (idx, item) in iter.into_iter().enumerate() {
            let ctx_idx = ctx.with_index(idx);
            futures.push(Box::pin(async move {
                OutputType::resolve(&item, &ctx_idx, field)
                    .await
                    .map_err(|err| ctx_idx.set_error_path(err))
            }));
        }
        let mut values = Vec::with_capacity(futures.len());
        let mut waiting = Vec::new();
        let mut failed = None;
        std::future::poll_fn(|cx| {
            for (idx, mut fut) in futures.drain(..).enumerate() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(Ok(value)) => values.push(value),
                    std::task::Poll::Ready(Err(err)) => {
                        failed = Some(err);
                        break;
                    }
                    std::task::Poll::Pending => {
                        values.push(Value::Null);
                        waiting.push(async move { (idx, fut.await) });
                    }
                }
            }
            std::task::Poll::Ready(())
        })
        .await;
        if let Some(err) = failed {
            return Err(err);
        }
        if !waiting.is_empty() {
            let mut set: futures_util::stream::FuturesUnordered<_> =
                waiting.into_iter().collect();
            while let Some((idx, value)) = futures_util::StreamExt::next(&mut set).await {
                values[idx] = value?;
            }
        }
        Ok(Value::List(values))
    } else {
        let mut futures = len.map(Vec::with_capacity).unwrap_or_default();
        for (idx, item) in iter.into_iter().enumerate() {
            let ctx_idx = ctx.with_index(idx);
            futures.push(async move {
                OutputType::resolve(&item, &ctx_idx, field)
                    .await
                    .map_err(|err| ctx_idx.set_error_path(err))
            });
        }
        Ok(Value::List(
            futures_util::future::try_join_all(futures).await?,
        ))
    }
}
