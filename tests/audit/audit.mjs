// Runs every audit of graphql-http's server suite against a live server.
// Fails on any MUST ("error") and on any SHOULD ("warn"); MAY results ("notice") are listed.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}
const results = await auditServer({ url, fetchFn: fetch });
const by = (s) => results.filter((r) => r.status === s);
for (const r of results) {
  const reason = r.status === 'ok' ? '' : ` — ${r.reason}`;
  console.log(`${r.status.padEnd(6)} ${r.id} ${r.name}${reason}`);
}
console.log(`\n${results.length} audits: ${by('ok').length} ok, ${by('notice').length} notice (MAY), ${by('warn').length} warn (SHOULD), ${by('error').length} error (MUST)`);
process.exit(by('error').length + by('warn').length > 0 ? 1 : 0);
