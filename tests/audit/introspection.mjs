// The standard introspection query, as graphql-js produces it (the documents GraphiQL, Apollo,
// Relay, GraphQL Codegen, Postman and Insomnia send).
//
//   node introspection.mjs write DIR   writes them to DIR (the fixtures of tests/api/introspection.rs)
//   node introspection.mjs URL         sends each to a live server and builds the schema from the answer
import { writeFileSync } from "node:fs";
import { buildClientSchema, getIntrospectionQuery, printSchema, version } from "graphql";

const documents = {
  // What most tools send.
  "default": getIntrospectionQuery(),
  // Every option graphql-js 16 has, on.
  "all-options": getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true,
  }),
};

const [target, dir] = process.argv.slice(2);
if (target === "write") {
  for (const [name, text] of Object.entries(documents)) {
    writeFileSync(`${dir}/${name}.graphql`, `# graphql-js ${version}: getIntrospectionQuery(${name === "default" ? "" : "every option"})\n${text}`);
  }
} else {
  for (const [name, query] of Object.entries(documents)) {
    const resp = await fetch(target, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
      body: JSON.stringify({ query, operationName: "IntrospectionQuery" }),
    });
    const body = await resp.json();
    if (resp.status !== 200 || body.errors) {
      console.error(`${name}: ${resp.status} ${JSON.stringify(body.errors ?? body)}`);
      process.exit(1);
    }
    const sdl = printSchema(buildClientSchema(body.data));
    console.log(`${name}: ${sdl.length} characters of SDL built from the answer`);
  }
}
