#!/usr/bin/env bash
# Refreshes the GraphiQL page's third-party files from the npm registry: GraphiQL's browser
# build and stylesheet, and the React it runs on. The server embeds this folder in its binary
# (see api/src/http/graphiql.rs), so GraphiQL needs no CDN. Run it after changing a version
# below, then commit the files and SHA256SUMS (a test checks the embedded files against it).
set -euo pipefail
cd "$(dirname "$0")"
GRAPHIQL=4.0.3
REACT=18.3.1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm checks each package against the registry's integrity hash.
(cd "$tmp" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for pkg in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir "$tmp/$pkg" && tar xzf "$tmp/$pkg.tgz" -C "$tmp/$pkg"
done
cp "$tmp/graphiql-$GRAPHIQL/package/graphiql.min.js" graphiql.min.js
cp "$tmp/graphiql-$GRAPHIQL/package/graphiql.min.css" graphiql.min.css
cp "$tmp/react-$REACT/package/umd/react.production.min.js" react.production.min.js
cp "$tmp/react-dom-$REACT/package/umd/react-dom.production.min.js" react-dom.production.min.js
{
  echo "graphiql $GRAPHIQL (MIT)"; echo; cat "$tmp/graphiql-$GRAPHIQL/package/LICENSE"; echo
  echo "react and react-dom $REACT (MIT)"; echo; cat "$tmp/react-$REACT/package/LICENSE"
} > THIRD-PARTY-LICENSES
sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js > SHA256SUMS
echo "GraphiQL $GRAPHIQL and React $REACT vendored"
