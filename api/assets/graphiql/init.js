// Starts GraphiQL on this server's endpoints: queries and mutations over POST /graphql,
// subscriptions over /graphql/ws (graphql-transport-ws). Sign in with the `login` mutation,
// then put {"Authorization": "Bearer <accessToken>"} in the Headers tab.
(function () {
  var ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql/ws";
  var fetcher = GraphiQL.createFetcher({ url: "/graphql", subscriptionUrl: ws });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }));
})();
